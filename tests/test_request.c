/* test_request.c: keys are compared as values (runtime/wire/request.c,
 * sf_msgpack_canonical and sf_reqmap_canonical): the same key written with
 * different msgpack encodings (str8 vs fixstr, integer widths, float32 vs
 * float64, ext header forms, set element order) comes out as the same
 * bytes, and so goes to the same home partition (sf_cluster_home_partition)
 * and finds the same instance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "cluster.h"
#include "json.h"
#include "request.h"
#include "stateflow/sf_pack.h"

/* hex text ("cc 05") to bytes */
static size_t unhex(const char *h, char *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int v;
        if (*h >= '0' && *h <= '9')
            v = *h - '0';
        else if (*h >= 'a' && *h <= 'f')
            v = *h - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (char)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static void canon_hex(const char *in, sf_buf *out)
{
    char b[256], err[200];
    size_t n = unhex(in, b);
    sf_buf_reset(out);
    if (sf_msgpack_canonical(b, n, out, err, sizeof err) != 0)
        fail_msg("%s: %s", in, err);
}

/* Every encoding in a group has the same canonical form, equal to the
 * first one's (which is what msgpack-c writes). */
static void test_canonical_forms(void **state)
{
    (void)state;
    static const char *const groups[][6] = {
        {"a2 61 62", "d9 02 61 62", "da 00 02 61 62", "db 00 00 00 02 61 62", NULL},  /* "ab" */
        {"05", "cc 05", "cd 00 05", "ce 00 00 00 05", "cf 00 00 00 00 00 00 00 05", NULL},
        {"05", "d0 05", "d1 00 05", "d2 00 00 00 05", "d3 00 00 00 00 00 00 00 05", NULL},
        {"cc c8", "cd 00 c8", "d1 00 c8", "d3 00 00 00 00 00 00 00 c8", NULL}, /* 200 */
        {"ff", "d0 ff", "d1 ff ff", "d2 ff ff ff ff", "d3 ff ff ff ff ff ff ff ff", NULL}, /* -1 */
        {"cb 3f f8 00 00 00 00 00 00", "ca 3f c0 00 00", NULL},                          /* 1.5 */
        {"c4 01 78", "c5 00 01 78", "c6 00 00 00 01 78", NULL},                           /* b"x" */
        {"92 01 a1 61", "dc 00 02 cc 01 d9 01 61", "dd 00 00 00 02 d0 01 a1 61", NULL},   /* [1,"a"] */
        {"81 a1 6b 01", "de 00 01 d9 01 6b cd 00 01", NULL},                              /* {"k":1} */
        /* a tuple (1, "a"): a 4-byte payload is a fixext 4 */
        {"d6 01 92 01 a1 61", "c7 04 01 92 01 a1 61", "c7 07 01 92 cd 00 01 d9 01 61",
         "c8 00 04 01 92 01 a1 61", NULL},
        /* a frozenset {2, 1}: sorted, duplicates dropped */
        {"d6 02 93 01 02 03", "c7 04 02 93 03 02 01", "c7 06 02 94 cc 02 01 03 02", NULL},
    };
    sf_buf a, b;
    sf_buf_init(&a);
    sf_buf_init(&b);
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        canon_hex(groups[g][0], &a);
        char first[256];
        size_t fn = unhex(groups[g][0], first);
        if (a.len != fn || memcmp(a.data, first, fn) != 0)
            fail_msg("group %zu: %s is not canonical itself", g, groups[g][0]);
        for (size_t i = 1; groups[g][i]; i++) {
            canon_hex(groups[g][i], &b);
            if (b.len != a.len || memcmp(a.data, b.data, a.len) != 0)
                fail_msg("group %zu: %s does not map to %s", g, groups[g][i], groups[g][0]);
        }
    }
    /* different types stay different */
    canon_hex("01", &a);
    canon_hex("cb 3f f0 00 00 00 00 00 00", &b);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* malformed values are refused */
    char err[200];
    sf_buf_reset(&a);
    assert_int_equal(sf_msgpack_canonical("\xd9\x05" "ab", 4, &a, err, sizeof err), -1);
    assert_int_equal(sf_msgpack_canonical("\x01\x02", 2, &a, err, sizeof err), -1);
    assert_int_equal(sf_msgpack_canonical("\xc1", 1, &a, err, sizeof err), -1);
    assert_int_equal(sf_msgpack_canonical("\xd4\x01\x05", 3, &a, err, sizeof err), -1); /* tuple, no array */
    assert_int_equal(a.len, 0);
    sf_buf_free(&a);
    sf_buf_free(&b);
}

/* What msgpack-c writes for a reference ["Item", key] (as pycodec does). */
static void pack_ref(sf_buf *out, const char *key_hex)
{
    char k[64];
    size_t kn = unhex(key_hex, k);
    sf_buf payload;
    sf_buf_init(&payload);
    msgpack_packer pk;
    sf_buf_packer_init(&pk, &payload);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "Item", 4);
    sf_buf_append(&payload, k, kn);
    sf_buf_packer_init(&pk, out);
    msgpack_pack_ext(&pk, payload.len, 3);
    msgpack_pack_ext_body(&pk, payload.data, payload.len);
    sf_buf_free(&payload);
}

static void test_ref_key(void **state)
{
    (void)state;
    sf_buf a, b, c;
    sf_buf_init(&a);
    sf_buf_init(&b);
    sf_buf_init(&c);
    pack_ref(&a, "07");
    pack_ref(&b, "d3 00 00 00 00 00 00 00 07");
    char err[200];
    assert_int_equal(sf_msgpack_canonical(b.data, b.len, &c, err, sizeof err), 0);
    assert_int_equal(c.len, a.len);
    assert_memory_equal(c.data, a.data, a.len);
    /* the JSON form gives the same bytes */
    sf_buf_reset(&b);
    assert_int_equal(sf_json_to_msgpack("{\"$ref\":[\"Item\",7]}", 19, &b, err, sizeof err), 0);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(b.data, a.data, a.len);
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_buf_free(&c);
}

/* A request map as a native client might write it: key and args given. */
static void reqmap(sf_buf *out, const char *key_hex, const char *args_hex)
{
    char k[64], a[128];
    size_t kn = unhex(key_hex, k), an = args_hex ? unhex(args_hex, a) : 0;
    sf_buf_reset(out);
    sf_reqmap_encode(out, "\xa2r1", 3, args_hex ? SF_OP_CALL : SF_OP_GET, "Account", 7, k, kn,
                     args_hex ? "m" : NULL, args_hex ? 1 : 0, args_hex ? a : NULL, an);
}

static void test_same_home_partition(void **state)
{
    (void)state;
    static const char *const keys[][5] = {
        {"a5 61 6c 69 63 65", "d9 05 61 6c 69 63 65", "da 00 05 61 6c 69 63 65", NULL}, /* "alice" */
        {"cd 30 39", "ce 00 00 30 39", "d2 00 00 30 39", "cf 00 00 00 00 00 00 30 39", NULL}, /* 12345 */
        {"d1 cf c7", "d2 ff ff cf c7", "d3 ff ff ff ff ff ff cf c7", NULL},                  /* -12345 */
    };
    sf_buf m, canon, first;
    sf_buf_init(&m);
    sf_buf_init(&canon);
    sf_buf_init(&first);
    char err[200];
    for (size_t g = 0; g < sizeof keys / sizeof keys[0]; g++) {
        uint32_t home[8];
        for (size_t i = 0; keys[g][i]; i++) {
            reqmap(&m, keys[g][i], NULL);
            sf_buf_reset(&canon);
            if (sf_reqmap_canonical(m.data, m.len, &canon, err, sizeof err) != 0)
                fail_msg("%s: %s", keys[g][i], err);
            sf_reqmap r;
            assert_int_equal(sf_reqmap_decode(canon.data, canon.len, &r, err, sizeof err), 0);
            assert_int_equal(r.op, SF_OP_GET);
            assert_int_equal(r.id_len, 3);
            if (i == 0) {
                sf_buf_reset(&first);
                sf_buf_append(&first, r.key, r.key_len);
            } else {
                assert_int_equal(r.key_len, first.len);
                assert_memory_equal(r.key, first.data, first.len);
            }
            for (uint32_t P = 1; P <= 8; P++) {
                uint32_t h = sf_cluster_home_partition(&r, 0, P);
                if (i == 0)
                    home[P - 1] = h;
                else
                    assert_int_equal(h, home[P - 1]);
            }
        }
    }
    /* a reference inside the arguments gets its key canonical too */
    sf_buf ra, rb;
    sf_buf_init(&ra);
    sf_buf_init(&rb);
    sf_buf_putc(&ra, (char)0x91);
    pack_ref(&ra, "07");
    sf_buf_putc(&rb, (char)0x91);
    pack_ref(&rb, "ce 00 00 00 07");
    char hx[128];
    size_t o = 0;
    for (size_t i = 0; i < rb.len; i++)
        o += (size_t)snprintf(hx + o, sizeof hx - o, "%02x", (unsigned char)rb.data[i]);
    reqmap(&m, "a1 78", hx);
    sf_buf_reset(&canon);
    assert_int_equal(sf_reqmap_canonical(m.data, m.len, &canon, err, sizeof err), 0);
    sf_reqmap r;
    assert_int_equal(sf_reqmap_decode(canon.data, canon.len, &r, err, sizeof err), 0);
    assert_int_equal(r.args_len, ra.len);
    assert_memory_equal(r.args, ra.data, ra.len);
    /* a malformed key is a BadRequest message */
    reqmap(&m, "d4 01 05", NULL);
    sf_buf_reset(&canon);
    assert_int_equal(sf_reqmap_canonical(m.data, m.len, &canon, err, sizeof err), -1);
    assert_non_null(strstr(err, "key"));
    sf_buf_free(&ra);
    sf_buf_free(&rb);
    sf_buf_free(&m);
    sf_buf_free(&canon);
    sf_buf_free(&first);
}

/* The JSON request path gives the same key bytes as a canonical msgpack one. */
static void test_json_key_is_canonical(void **state)
{
    (void)state;
    sf_request q;
    char err[200];
    const char *t = "{\"op\":\"get\",\"entity\":\"Account\",\"key\":12345}";
    assert_int_equal(sf_request_parse_json(t, strlen(t), &q, err, sizeof err), 0);
    assert_int_equal(q.key.len, 3);
    assert_memory_equal(q.key.data, "\xcd\x30\x39", 3);
    sf_request_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_ref_key),
        cmocka_unit_test(test_same_home_partition),
        cmocka_unit_test(test_json_key_is_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
