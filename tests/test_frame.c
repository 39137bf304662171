/* test_frame.c: runtime/wire/frame.c: building frames with sf_frame_begin/end,
 * the payload check (array, positive type, well-formed msgpack, depth,
 * trailing bytes), and the incremental decoder fed in every split, one byte
 * at a time, zero-copy; bad lengths reported before the payload arrives;
 * failure is sticky; the handshake-size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "frame.h"

/* ---- helpers ------------------------------------------------------------ */

/* Three frames back to back: [10, "hello"], [11, 7, [1, 2, {"k": nil}]],
 * [4]. */
static void build_stream(sf_buf *b)
{
    char err[128];
    msgpack_packer pk;
    sf_frame_packer_init(&pk, b);

    size_t at = sf_frame_begin(b);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 10);
    msgpack_pack_str_with_body(&pk, "hello", 5);
    assert_int_equal(sf_frame_end(b, at, err, sizeof err), 0);

    at = sf_frame_begin(b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 11);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_nil(&pk);
    assert_int_equal(sf_frame_end(b, at, err, sizeof err), 0);

    static const char ping[] = {(char)0x91, 4};
    assert_int_equal(sf_frame_append(b, ping, sizeof ping, err, sizeof err), 0);
}

static const int stream_types[] = {10, 11, 4};

/* Drain d, checking the frames against the stream's types; returns the
 * number of frames seen so far (start counts earlier ones). */
static int drain(sf_frame_decoder *d, int start)
{
    sf_frame f;
    int r, n = start;
    while ((r = sf_frame_decoder_next(d, &f)) == 1) {
        assert_true(n < 3);
        assert_int_equal(f.type, stream_types[n]);
        assert_int_equal(sf_frame_check(f.payload, f.len, NULL, NULL, 0), 0);
        if (n == 0)
            assert_memory_equal(f.payload, "\x92\x0a\xa5hello", 8);
        n++;
    }
    assert_int_equal(r, 0);
    return n;
}

static int check(const char *p, size_t n, int *type, char *err, size_t errlen)
{
    return sf_frame_check(p, n, type, err, errlen);
}

#define CHECK_BAD(lit, needle)                                                                                         \
    do {                                                                                                               \
        char e_[160] = "";                                                                                             \
        assert_int_equal(check(lit, sizeof(lit) - 1, NULL, e_, sizeof e_), -1);                                        \
        if (!strstr(e_, needle))                                                                                       \
            fail_msg("error '%s' does not mention '%s'", e_, needle);                                                  \
    } while (0)

/* ---- encoding ------------------------------------------------------------ */

static void test_encode(void **state)
{
    sf_buf b;
    sf_buf_init(&b);
    build_stream(&b);
    /* length prefix of the first frame: [10, "hello"] is 8 bytes */
    assert_memory_equal(b.data, "\0\0\0\x08\x92\x0a\xa5hello", 12);
    assert_int_equal(b.len, 12 + 4 + 10 + 4 + 2);

    char err[128] = "";
    size_t len = b.len;
    size_t at = sf_frame_begin(&b);
    assert_int_equal(sf_frame_end(&b, at, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(b.len, len); /* truncated back */
    assert_int_equal(sf_frame_append(&b, "x", 0, err, sizeof err), -1);
    assert_int_equal(sf_frame_end(&b, b.len + 1, err, sizeof err), -1);
    sf_buf_free(&b);
}

static void test_encode_too_big(void **state)
{
    sf_buf b;
    sf_buf_init(&b);
    char err[128] = "";
    size_t at = sf_frame_begin(&b);
    sf_buf_reserve(&b, SF_FRAME_MAX + 1);
    memset(b.data + b.len, 0, SF_FRAME_MAX + 1);
    b.len += SF_FRAME_MAX + 1;
    assert_int_equal(sf_frame_end(&b, at, err, sizeof err), -1);
    assert_non_null(strstr(err, "limit"));
    assert_int_equal(b.len, 0);
    /* exactly the limit is fine */
    at = sf_frame_begin(&b);
    b.len += SF_FRAME_MAX;
    assert_int_equal(sf_frame_end(&b, at, err, sizeof err), 0);
    assert_memory_equal(b.data, "\x01\x00\x00\x00", 4);
    sf_buf_free(&b);
}

/* ---- payload check ------------------------------------------------------- */

static void test_check(void **state)
{
    int type = 0;
    char err[160];
    assert_int_equal(check("\x91\x0a", 2, &type, err, sizeof err), 0);
    assert_int_equal(type, 10);
    assert_int_equal(check("\x92\xcc\xc8\xc0", 4, &type, err, sizeof err), 0); /* [200, nil] */
    assert_int_equal(type, 200);
    assert_int_equal(check("\x92\xce\x7f\xff\xff\xff\x90", 7, &type, err, sizeof err), 0);
    assert_int_equal(type, INT32_MAX);
    /* map values and nested empties */
    assert_int_equal(check("\x93\x0b\x81\x01\x90\x80", 6, &type, err, sizeof err), 0);

    CHECK_BAD("", "empty");
    CHECK_BAD("\x0a", "not a msgpack array");
    CHECK_BAD("\x81\x0a\x01", "not a msgpack array");
    CHECK_BAD("\x90", "empty array");
    CHECK_BAD("\x91\x00", "positive");
    CHECK_BAD("\x91\xff", "positive");                 /* -1 */
    CHECK_BAD("\x91\xa1x", "positive");                /* "x" */
    CHECK_BAD("\x91\xce\x80\x00\x00\x00", "positive"); /* 2^31 */
    CHECK_BAD("\x91\xc0", "positive");
    CHECK_BAD("\x93\x0a\x01", "truncated");
    CHECK_BAD("\x92\x0a\xa5hel", "truncated");
    CHECK_BAD("\x92\x0a\xc1", "invalid msgpack byte 0xc1");
    CHECK_BAD("\x91\x0a\x00", "trailing");
    CHECK_BAD("\x92\x0a\x82\x01\x02\x03", "truncated"); /* map missing a value */
    CHECK_BAD("\x92\x0a\xdd\xff\xff\xff\xff", "truncated");
}

static void test_check_depth(void **state)
{
    /* [10, [[[...]]]] with the frame array at depth 1 */
    char buf[200];
    for (int depth = SF_FRAME_MAX_DEPTH - 1; depth <= SF_FRAME_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        buf[n++] = (char)0x92;
        buf[n++] = 10;
        for (int i = 1; i < depth; i++)
            buf[n++] = (char)0x91;
        buf[n++] = 1; /* innermost element */
        char err[160] = "";
        int r = check(buf, n, NULL, err, sizeof err);
        /* depth arrays: the frame array plus depth-1 nested ones */
        if (depth <= SF_FRAME_MAX_DEPTH) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -1);
            assert_non_null(strstr(err, "deeper"));
        }
    }
}

/* ---- decoder ------------------------------------------------------------- */

static void test_decode_whole(void **state)
{
    sf_buf b;
    sf_buf_init(&b);
    build_stream(&b);
    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    sf_frame f;
    assert_int_equal(sf_frame_decoder_next(&d, &f), 0);
    sf_frame_decoder_feed(&d, b.data, b.len);
    assert_int_equal(drain(&d, 0), 3);
    assert_int_equal(sf_frame_decoder_pending(&d), 0);
    assert_string_equal(sf_frame_decoder_error(&d), "");
    sf_frame_decoder_free(&d);
    sf_buf_free(&b);
}

static void test_decode_every_split(void **state)
{
    sf_buf b;
    sf_buf_init(&b);
    build_stream(&b);
    for (size_t i = 0; i <= b.len; i++) {
        for (size_t j = i; j <= b.len; j++) {
            sf_frame_decoder d;
            sf_frame_decoder_init(&d);
            int n = 0;
            sf_frame_decoder_feed(&d, b.data, i);
            n = drain(&d, n);
            sf_frame_decoder_feed(&d, b.data + i, j - i);
            n = drain(&d, n);
            sf_frame_decoder_feed(&d, b.data + j, b.len - j);
            n = drain(&d, n);
            assert_int_equal(n, 3);
            sf_frame_decoder_free(&d);
        }
    }
    sf_buf_free(&b);
}

static void test_decode_bytewise_zero_copy(void **state)
{
    sf_buf b;
    sf_buf_init(&b);
    build_stream(&b);
    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    int n = 0;
    for (size_t i = 0; i < b.len; i++) {
        size_t avail = 0;
        char *p = sf_frame_decoder_reserve(&d, 1, &avail);
        assert_true(avail >= 1);
        *p = b.data[i];
        sf_frame_decoder_wrote(&d, 1);
        n = drain(&d, n);
    }
    assert_int_equal(n, 3);
    sf_frame_decoder_free(&d);
    sf_buf_free(&b);
}

static void test_decode_large(void **state)
{
    /* a 3 MiB bin in one frame, arriving in 64 KiB pieces */
    size_t blen = 3u << 20;
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    size_t at = sf_frame_begin(&b);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 12);
    msgpack_pack_bin(&pk, blen);
    sf_buf_reserve(&b, blen);
    for (size_t i = 0; i < blen; i++)
        b.data[b.len + i] = (char)(i * 7);
    b.len += blen;
    char err[128];
    assert_int_equal(sf_frame_end(&b, at, err, sizeof err), 0);
    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    sf_frame f;
    int got = 0;
    for (size_t off = 0; off < b.len; off += 65536) {
        size_t k = b.len - off < 65536 ? b.len - off : 65536;
        sf_frame_decoder_feed(&d, b.data + off, k);
        int r = sf_frame_decoder_next(&d, &f);
        assert_int_equal(r, off + k == b.len ? 1 : 0);
        got += r;
    }
    assert_int_equal(got, 1);
    assert_int_equal(f.type, 12);
    assert_int_equal(f.len, b.len - 4);
    assert_memory_equal(f.payload, b.data + 4, f.len);
    /* the buffer is released once empty and large */
    size_t avail;
    sf_frame_decoder_reserve(&d, 16, &avail);
    assert_true(d.buf.cap < (1u << 20));
    sf_frame_decoder_free(&d);
    sf_buf_free(&b);
}

static void expect_fail(const char *bytes, size_t n, size_t limit, const char *needle)
{
    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    if (limit)
        sf_frame_decoder_set_limit(&d, limit);
    sf_frame f;
    sf_frame_decoder_feed(&d, bytes, n);
    assert_int_equal(sf_frame_decoder_next(&d, &f), -1);
    if (!strstr(sf_frame_decoder_error(&d), needle))
        fail_msg("error '%s' does not mention '%s'", sf_frame_decoder_error(&d), needle);
    /* sticky, even after good bytes */
    sf_frame_decoder_feed(&d, "\0\0\0\x02\x91\x0a", 6);
    assert_int_equal(sf_frame_decoder_next(&d, &f), -1);
    sf_frame_decoder_free(&d);
}

static void test_decode_errors(void **state)
{
    expect_fail("\0\0\0\0", 4, 0, "length 0");
    /* over the limit: reported from the header alone */
    expect_fail("\x01\x00\x00\x01", 4, 0, "over the 16777216 byte limit");
    expect_fail("\xff\xff\xff\xff", 4, 0, "limit");
    expect_fail("\0\0\x10\x01", 4, 4096, "over the 4096 byte limit");
    /* HTTP on the port */
    expect_fail("GET / HTTP/1.1\r\n", 16, 4096, "limit");
    expect_fail("\0\0\0\x01\x0a", 5, 0, "not a msgpack array");
    expect_fail("\0\0\0\x02\x91\x00", 6, 0, "positive");
    expect_fail("\0\0\0\x03\x91\x0a\xc0", 7, 0, "trailing");
    expect_fail("\0\0\0\x02\x92\x0a", 6, 0, "truncated");

    /* exactly the limit: waits for the payload */
    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    sf_frame f;
    sf_frame_decoder_feed(&d, "\x01\x00\x00\x00", 4);
    assert_int_equal(sf_frame_decoder_next(&d, &f), 0);
    assert_int_equal(sf_frame_decoder_pending(&d), 4);
    sf_frame_decoder_free(&d);

    /* limits are clamped to SF_FRAME_MAX */
    sf_frame_decoder_init(&d);
    sf_frame_decoder_set_limit(&d, (size_t)SF_FRAME_MAX * 4);
    assert_int_equal(d.limit, SF_FRAME_MAX);
    sf_frame_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_encode_too_big),
        cmocka_unit_test(test_check),        cmocka_unit_test(test_check_depth),
        cmocka_unit_test(test_decode_whole), cmocka_unit_test(test_decode_every_split),
        cmocka_unit_test(test_decode_bytewise_zero_copy), cmocka_unit_test(test_decode_large),
        cmocka_unit_test(test_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
