/* fuzz_json.c: libFuzzer target for the JSON side of the value codecs
 * (runtime/wire/json.c, runtime/wire/request.c). Any input must parse or say why;
 * whatever parses must write back as JSON that parses to the very same
 * msgpack; the request parser must accept or say why, and its results must
 * format as replies.
 *
 * Run: build-fuzz/fuzz/fuzz_json -dict=tests/fuzz/json.dict tests/fuzz/corpus_json */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reply (ok with the msgpack value, or error with message) must succeed
 * and be one valid JSON value. */
static void check_reply(const char *id_json, const char *mp, size_t len, const char *message)
{
    sf_buf reply, parsed;
    char err[512];
    sf_buf_init(&reply);
    sf_buf_init(&parsed);
    if (message)
        sf_reply_error_json(&reply, id_json, "BadRequest", message);
    else if (sf_reply_ok_json(&reply, id_json, mp, len) != 0)
        abort();
    if (sf_json_to_msgpack_ex(reply.data, reply.len, SF_JSON_PLAIN, &parsed, err, sizeof err) != 0) {
        fprintf(stderr, "reply is not JSON: %s\n%s\n", err, reply.data);
        abort();
    }
    sf_buf_free(&reply);
    sf_buf_free(&parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[512];
    sf_buf mp, js, mp2;
    sf_buf_init(&mp);
    sf_buf_init(&js);
    sf_buf_init(&mp2);

    err[0] = '\0';
    if (sf_json_to_msgpack(text, size, &mp, err, sizeof err) == 0) {
        size_t vlen = 0;
        if (sf_msgpack_value_len(mp.data, mp.len, &vlen, err, sizeof err) != 0 || vlen != mp.len)
            abort();
        if (sf_msgpack_to_json(mp.data, mp.len, &js, err, sizeof err) != 0) {
            fprintf(stderr, "parsed JSON does not write back: %s\n", err);
            abort();
        }
        if (sf_json_to_msgpack(js.data, js.len, &mp2, err, sizeof err) != 0) {
            fprintf(stderr, "written JSON does not parse: %s\n%s\n", err, js.data);
            abort();
        }
        if (mp2.len != mp.len || memcmp(mp.data, mp2.data, mp.len) != 0) {
            fprintf(stderr, "round trip changed the value: %s\n", js.data);
            abort();
        }
    } else if (err[0] == '\0') {
        abort(); /* every failure says why */
    }

    /* the lenient mode accepts at least what the strict one does */
    sf_buf_reset(&mp2);
    if (mp.len && sf_json_to_msgpack_ex(text, size, SF_JSON_PLAIN, &mp2, err, sizeof err) != 0)
        abort();

    sf_request r;
    err[0] = '\0';
    if (sf_request_parse_json(text, size, &r, err, sizeof err) == 0) {
        if (!r.entity || !r.args.len || (r.op == SF_OP_CALL) != (r.method != NULL))
            abort();
        check_reply(r.id_json, r.args.data, r.args.len, NULL);
        if (r.key.len)
            check_reply(r.id_json, r.key.data, r.key.len, NULL);
    } else {
        if (err[0] == '\0' || r.entity || r.method)
            abort();
        check_reply(r.id_json, NULL, 0, err);
    }
    sf_request_free(&r);
    sf_buf_free(&mp);
    sf_buf_free(&js);
    sf_buf_free(&mp2);
    return 0;
}
