/* test_json.c: runtime/wire/json.c and runtime/wire/request.c: JSON -> msgpack ->
 * JSON round trips, the exact msgpack produced, escapes, unicode, surrogate
 * pairs, invalid UTF-8, numbers, the $ref/$bytes mapping, depth and error
 * positions, msgpack -> JSON for every type (including malformed input),
 * shortest float printing, base64, request parsing and reply formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "json.h"
#include "request.h"
#include "stateflow/sf_value.h"

/* ---- helpers ------------------------------------------------------------ */

/* JSON text -> msgpack -> JSON text must give `expect`. */
static void rt(const char *json, const char *expect)
{
    sf_buf mp, out;
    char err[256] = "";
    sf_buf_init(&mp);
    sf_buf_init(&out);
    int rc = sf_json_to_msgpack(json, strlen(json), &mp, err, sizeof err);
    if (rc != 0)
        fail_msg("parse of %s failed: %s", json, err);
    rc = sf_msgpack_to_json(mp.data, mp.len, &out, err, sizeof err);
    if (rc != 0)
        fail_msg("write of %s failed: %s", json, err);
    assert_string_equal(out.data, expect);
    /* and the output parses back to the same msgpack */
    sf_buf mp2;
    sf_buf_init(&mp2);
    assert_int_equal(sf_json_to_msgpack(out.data, out.len, &mp2, err, sizeof err), 0);
    assert_int_equal(mp2.len, mp.len);
    assert_memory_equal(mp2.data, mp.data, mp.len);
    sf_buf_free(&mp2);
    sf_buf_free(&mp);
    sf_buf_free(&out);
}

/* JSON text must give exactly these msgpack bytes. */
static void to_mp(const char *json, const char *bytes, size_t n)
{
    sf_buf mp;
    char err[256] = "";
    sf_buf_init(&mp);
    if (sf_json_to_msgpack(json, strlen(json), &mp, err, sizeof err) != 0)
        fail_msg("parse of %s failed: %s", json, err);
    if (mp.len != n || memcmp(mp.data, bytes, n) != 0) {
        fprintf(stderr, "got:");
        for (size_t i = 0; i < mp.len; i++)
            fprintf(stderr, " %02x", (unsigned char)mp.data[i]);
        fprintf(stderr, "\n");
        fail_msg("wrong msgpack for %s", json);
    }
    sf_buf_free(&mp);
}

/* JSON text (with explicit length) must fail with a message containing
 * `msg`; the output buffer keeps what it held. */
static void bad_n(const char *json, size_t len, const char *msg)
{
    sf_buf mp;
    char err[256] = "";
    sf_buf_init(&mp);
    sf_buf_puts(&mp, "keep");
    if (sf_json_to_msgpack(json, len, &mp, err, sizeof err) == 0)
        fail_msg("parse of %s should have failed", json);
    if (!strstr(err, msg))
        fail_msg("error for %s: '%s' does not contain '%s'", json, err, msg);
    assert_int_equal(mp.len, 4);
    assert_string_equal(mp.data, "keep");
    sf_buf_free(&mp);
}

static void bad(const char *json, const char *msg) { bad_n(json, strlen(json), msg); }

/* msgpack bytes -> JSON must give `expect`. */
static void mp_to(const char *bytes, size_t n, const char *expect)
{
    sf_buf out;
    char err[256] = "";
    sf_buf_init(&out);
    if (sf_msgpack_to_json(bytes, n, &out, err, sizeof err) != 0)
        fail_msg("write failed: %s (expected %s)", err, expect);
    assert_string_equal(out.data, expect);
    sf_buf_free(&out);
}

static void mp_bad(const char *bytes, size_t n, const char *msg)
{
    sf_buf out;
    char err[256] = "";
    sf_buf_init(&out);
    sf_buf_puts(&out, "keep");
    if (sf_msgpack_to_json(bytes, n, &out, err, sizeof err) == 0)
        fail_msg("write should have failed (got %s)", out.data);
    if (!strstr(err, msg))
        fail_msg("error '%s' does not contain '%s'", err, msg);
    assert_string_equal(out.data, "keep");
    sf_buf_free(&out);
}

#define MP(s) s, sizeof(s) - 1

/* ---- JSON -> msgpack ---------------------------------------------------- */

static void test_round_trips(void **state)
{
    (void)state;
    rt("null", "null");
    rt(" true ", "true");
    rt("\n\tfalse\r\n", "false");
    rt("[]", "[]");
    rt("{}", "{}");
    rt("{\"a\": [1, 2.5, \"x\", true, false, null], \"b\": {}}", "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{}}");
    rt("[[[[]]], {\"k\": {\"k\": [{}]}}]", "[[[[]]],{\"k\":{\"k\":[{}]}}]");
    rt("{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}"); /* duplicates are kept in order */
    rt("\"\"", "\"\"");
    rt("{\"$ref\": [\"Item\", \"apple\"]}", "{\"$ref\":[\"Item\",\"apple\"]}");
    rt("{\"$ref\": [\"User\", [1, {\"$ref\": [\"A\", 2]}]]}", "{\"$ref\":[\"User\",[1,{\"$ref\":[\"A\",2]}]]}");
    rt("{\"$bytes\": \"aGVsbG8=\"}", "{\"$bytes\":\"aGVsbG8=\"}");
    rt("{\"$bytes\": \"\"}", "{\"$bytes\":\"\"}");
    rt("{\"x\": {\"$bytes\": \"AAEC/w==\"}, \"$ref\": 1}", "{\"x\":{\"$bytes\":\"AAEC/w==\"},\"$ref\":1}");
}

static void test_exact_msgpack(void **state)
{
    (void)state;
    to_mp("1", MP("\x01"));
    to_mp("-1", MP("\xff"));
    to_mp("-33", MP("\xd0\xdf"));
    to_mp("200", MP("\xcc\xc8"));
    to_mp("-0", MP("\x00"));
    to_mp("9223372036854775807", MP("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"));
    to_mp("-9223372036854775808", MP("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"));
    to_mp("1.0", MP("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"));
    to_mp("-0.0", MP("\xcb\x80\x00\x00\x00\x00\x00\x00\x00"));
    to_mp("1e0", MP("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"));
    to_mp("[]", MP("\x90"));
    to_mp("{}", MP("\x80"));
    to_mp("[1,2]", MP("\x92\x01\x02"));
    to_mp("{\"a\":null}", MP("\x81\xa1\x61\xc0"));
    to_mp("\"\\u0000\"", MP("\xa1\x00"));
    /* $ref: ext 3 around [entity, key] (payload 12 bytes -> ext8) */
    to_mp("{\"$ref\":[\"Item\",\"apple\"]}", MP("\xc7\x0c\x03\x92\xa4Item\xa5\x61pple"));
    /* payload of 4 bytes -> fixext4, like msgpack-c's packer */
    to_mp("{\"$ref\":[\"A\",1]}", MP("\xd6\x03\x92\xa1\x41\x01"));
    to_mp("{\"$bytes\":\"aGk=\"}", MP("\xc4\x02hi"));

    /* headers widen exactly at the msgpack boundaries */
    char text[200000];
    sf_buf mp;
    char err[128];
    struct {
        size_t n;
        unsigned char h0;
        size_t hl;
    } arr[] = {{15, 0x9f, 1}, {16, 0xdc, 3}, {65535, 0xdc, 3}, {65536, 0xdd, 5}};
    for (size_t t = 0; t < sizeof arr / sizeof arr[0]; t++) {
        size_t k = 0;
        text[k++] = '[';
        for (size_t i = 0; i < arr[t].n; i++) {
            if (i)
                text[k++] = ',';
            text[k++] = '0';
        }
        text[k++] = ']';
        sf_buf_init(&mp);
        assert_int_equal(sf_json_to_msgpack(text, k, &mp, err, sizeof err), 0);
        assert_int_equal((unsigned char)mp.data[0], arr[t].h0);
        assert_int_equal(mp.len, arr[t].hl + arr[t].n);
        sf_buf_free(&mp);
    }
    struct {
        size_t n;
        unsigned char h0;
        size_t hl;
    } str[] = {{31, 0xbf, 1}, {32, 0xd9, 2}, {255, 0xd9, 2}, {256, 0xda, 3}, {65536, 0xdb, 5}};
    for (size_t t = 0; t < sizeof str / sizeof str[0]; t++) {
        size_t k = 0;
        text[k++] = '"';
        memset(text + k, 'x', str[t].n);
        k += str[t].n;
        text[k++] = '"';
        sf_buf_init(&mp);
        assert_int_equal(sf_json_to_msgpack(text, k, &mp, err, sizeof err), 0);
        assert_int_equal((unsigned char)mp.data[0], str[t].h0);
        assert_int_equal(mp.len, str[t].hl + str[t].n);
        sf_buf_free(&mp);
    }
    /* a map with 16 members, nested strings being widened inside it */
    size_t k = 0;
    text[k++] = '{';
    for (int i = 0; i < 16; i++) {
        k += (size_t)sprintf(text + k, "%s\"k%02d\":\"%040d\"", i ? "," : "", i, i);
    }
    text[k++] = '}';
    sf_buf_init(&mp);
    assert_int_equal(sf_json_to_msgpack(text, k, &mp, err, sizeof err), 0);
    assert_int_equal((unsigned char)mp.data[0], 0xde);
    sf_buf out;
    sf_buf_init(&out);
    assert_int_equal(sf_msgpack_to_json(mp.data, mp.len, &out, err, sizeof err), 0);
    assert_int_equal(out.len, k);
    assert_memory_equal(out.data, text, k);
    sf_buf_free(&out);
    sf_buf_free(&mp);
}

static void test_strings(void **state)
{
    (void)state;
    to_mp("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"", MP("\xa9\"\\/\b\f\n\r\tA"));
    rt("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
    /* UTF-8 passes through; \u escapes become UTF-8 */
    rt("\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
    to_mp("\"\\u00e9\"", MP("\xa2\xc3\xa9"));
    to_mp("\"\\u20AC\"", MP("\xa3\xe2\x82\xac"));
    to_mp("\"\\ud83d\\ude00\"", MP("\xa4\xf0\x9f\x98\x80"));
    to_mp("\"\\uDBFF\\uDFFF\"", MP("\xa4\xf4\x8f\xbf\xbf"));
    rt("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    rt("\"\xe2\x80\xa8\"", "\"\xe2\x80\xa8\""); /* U+2028 as is */

    bad("\"\\ud83d\"", "line 1, column 2: unpaired surrogate in \\u escape");
    bad("\"\\ud83dx\"", "unpaired surrogate");
    bad("\"\\ud83d\\u0041\"", "unpaired surrogate");
    bad("\"\\ude00\"", "unpaired surrogate");
    bad("\"\\u12\"", "invalid \\u escape");
    bad("\"\\u12G4\"", "invalid \\u escape");
    bad("\"\\x\"", "line 1, column 2: invalid escape in string");
    bad("\"\\'\"", "invalid escape");
    bad("\"abc", "line 1, column 1: unterminated string");
    bad("\"abc\\", "unterminated string");
    bad("\"a\x01\"", "line 1, column 3: unescaped control character in string");
    bad("\"a\tb\"", "unescaped control character");
    bad("\"a\nb\"", "unescaped control character");
    bad_n("\"a\0b\"", 5, "unescaped control character");
    /* invalid UTF-8: bad continuation, overlong, encoded surrogate, above
     * U+10FFFF, truncated sequence, stray continuation byte */
    bad("\"\xc3(\"", "line 1, column 2: invalid UTF-8 in string");
    bad("\"\xc0\xaf\"", "invalid UTF-8");
    bad("\"\xe0\x80\xaf\"", "invalid UTF-8");
    bad("\"\xed\xa0\x80\"", "invalid UTF-8");
    bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
    bad("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    bad("\"\xe2\x82\"", "invalid UTF-8");
    bad("\"\x80\"", "invalid UTF-8");
    bad("\"\xff\"", "invalid UTF-8");
    /* columns count characters, not bytes */
    bad("[\"\xc3\xa9\xc3\xa9\", x]", "line 1, column 8: unexpected character 'x'");
}

static void test_numbers(void **state)
{
    (void)state;
    rt("0", "0");
    rt("-0", "0");
    rt("-0.0", "-0.0");
    rt("0.0", "0.0");
    rt("1.5", "1.5");
    rt("100.0", "100.0");
    rt("1e2", "100.0");
    rt("1E+2", "100.0");
    rt("2.5e-3", "0.0025");
    rt("1.5e-7", "1.5e-07");
    rt("0.1", "0.1");
    rt("1e16", "1e+16");
    rt("1e22", "1e+22");
    rt("1.7976931348623157e308", "1.7976931348623157e+308");
    rt("5e-324", "5e-324");
    rt("0.30000000000000004", "0.30000000000000004");
    rt("123456789012345678901234567890.0", "1.2345678901234568e+29");
    rt("9223372036854775807", "9223372036854775807");
    rt("-9223372036854775808", "-9223372036854775808");
    rt("[1e-400]", "[0.0]"); /* underflow is zero, as in every parser */

    bad("9223372036854775808", "line 1, column 1: integer out of range (more than 64 bits)");
    bad("-9223372036854775809", "integer out of range");
    bad("[1, 123456789012345678901234567890]", "line 1, column 5: integer out of range");
    bad("1e400", "number out of range");
    bad("-1e400", "number out of range");
    bad("01", "invalid number (leading zero)");
    bad("-01", "leading zero");
    bad("1.", "invalid number (expected a digit after '.')");
    bad("1.e5", "expected a digit after '.'");
    bad(".5", "unexpected character '.'");
    bad("-", "invalid number");
    bad("-x", "invalid number");
    bad("+1", "unexpected character '+'");
    bad("1e", "expected a digit in the exponent");
    bad("1e+", "expected a digit in the exponent");
    bad("NaN", "unexpected character 'N'");
    bad("Infinity", "unexpected character 'I'");
    bad("0x10", "unexpected data after the JSON value");
    bad("1 2", "line 1, column 3: unexpected data after the JSON value");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    bad("", "line 1, column 1: unexpected end of input");
    bad("   ", "line 1, column 4: unexpected end of input");
    bad("{\"a\" 1}", "line 1, column 6: expected ':'");
    bad("{\"a\":1 \"b\":2}", "line 1, column 8: expected ',' or '}'");
    bad("{1:2}", "line 1, column 2: expected a string key");
    bad("{\"a\":1,}", "line 1, column 8: expected a string key");
    bad("[1,]", "line 1, column 4: unexpected character ']'");
    bad("[1 2]", "line 1, column 4: expected ',' or ']'");
    bad("[1,\n  2,\n  x]", "line 3, column 3: unexpected character 'x'");
    bad("[", "unexpected end of input");
    bad("[1", "unexpected end of input (expected ',' or ']')");
    bad("{\"a\":", "unexpected end of input");
    bad("{", "unexpected end of input");
    bad("tru", "invalid literal (expected true)");
    bad("nul", "invalid literal (expected null)");
    bad("falsy", "invalid literal (expected false)");
    bad("truex", "unexpected data after the JSON value");
    bad("\xef\xbb\xbf{}", "unexpected byte 0xef");
    bad("[1]]", "unexpected data");
    bad("'a'", "unexpected character");
    bad("[1,\x01]", "line 1, column 4: unexpected byte 0x01");
    bad_n("[1]\0", 4, "unexpected data");
}

static void test_ref_bytes_errors(void **state)
{
    (void)state;
    bad("{\"$ref\": 1}", "bad $ref: expected [entity, key]");
    bad("{\"$ref\": [\"Item\"]}", "bad $ref: expected [entity, key]");
    bad("{\"$ref\": [\"Item\", 1, 2]}", "bad $ref: expected [entity, key]");
    bad("{\"$ref\": []}", "bad $ref: the entity name must be a string");
    bad("{\"$ref\": [1, 2]}", "bad $ref: the entity name must be a string");
    bad("{\"$ref\": [\"\", 2]}", "bad $ref: empty entity name");
    bad("{\"$ref\": [\"A\", 1], \"x\": 2}", "has no other members");
    bad("{\"$ref\" [\"A\", 1]}", "expected ':'");
    bad("{\"$ref\": [\"A\", 1]", "unexpected end of input");
    bad("{\"$bytes\": 1}", "bad $bytes: expected a base64 string");
    bad("{\"$bytes\": \"a\"}", "line 1, column 12: bad $bytes: invalid base64");
    bad("{\"$bytes\": \"a!==\"}", "invalid base64");
    bad("{\"$bytes\": \"aGk=\", \"y\": 1}", "has no other members");
    /* \u escapes inside the special key still name it */
    rt("{\"\\u0024ref\": [\"A\", 1]}", "{\"$ref\":[\"A\",1]}");
    /* base64 without padding is accepted */
    to_mp("{\"$bytes\":\"aGk\"}", MP("\xc4\x02hi"));
    /* big decoded payloads widen the bin header */
    sf_buf b64, json, mp;
    char err[128];
    sf_buf_init(&b64);
    sf_buf_init(&json);
    sf_buf_init(&mp);
    char raw[70000];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (char)(i * 7);
    sf_base64_encode(&b64, raw, sizeof raw);
    sf_buf_printf(&json, "{\"$bytes\":\"%s\"}", b64.data);
    assert_int_equal(sf_json_to_msgpack(json.data, json.len, &mp, err, sizeof err), 0);
    assert_int_equal((unsigned char)mp.data[0], 0xc6);
    assert_int_equal(mp.len, 5 + sizeof raw);
    assert_memory_equal(mp.data + 5, raw, sizeof raw);
    sf_buf_free(&b64);
    sf_buf_free(&json);
    sf_buf_free(&mp);
    /* a $bytes of 20 decoded bytes (str header 1 byte, bin header 2) */
    to_mp("{\"$bytes\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}", MP("\xc4\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"));
}

static void test_depth(void **state)
{
    (void)state;
    char text[400];
    sf_buf mp, out;
    char err[128];
    for (int depth = 63; depth <= 66; depth++) {
        size_t k = 0;
        for (int i = 0; i < depth; i++)
            text[k++] = '[';
        for (int i = 0; i < depth; i++)
            text[k++] = ']';
        sf_buf_init(&mp);
        int rc = sf_json_to_msgpack(text, k, &mp, err, sizeof err);
        if (depth <= SF_VALUE_MAX_DEPTH) {
            assert_int_equal(rc, 0);
            sf_buf_init(&out);
            assert_int_equal(sf_msgpack_to_json(mp.data, mp.len, &out, err, sizeof err), 0);
            assert_int_equal(out.len, k);
            sf_buf_free(&out);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "line 1, column 65: nested too deeply (limit 64)"));
        }
        /* an envelope does not count */
        sf_buf_reset(&mp);
        rc = sf_json_to_msgpack_ex(text, k, SF_JSON_ENVELOPE, &mp, err, sizeof err);
        assert_int_equal(rc, depth <= SF_VALUE_MAX_DEPTH + 1 ? 0 : -1);
        sf_buf_free(&mp);
    }
    /* objects count the same; $ref counts as one level around its key */
    size_t k = 0;
    for (int i = 0; i < 63; i++)
        k += (size_t)sprintf(text + k, "[");
    k += (size_t)sprintf(text + k, "{\"$ref\":[\"A\",1]}");
    for (int i = 0; i < 63; i++)
        text[k++] = ']';
    sf_buf_init(&mp);
    assert_int_equal(sf_json_to_msgpack(text, k, &mp, err, sizeof err), 0);
    sf_buf_free(&mp);
    k = 0;
    for (int i = 0; i < 64; i++)
        k += (size_t)sprintf(text + k, "[");
    k += (size_t)sprintf(text + k, "{\"$ref\":[\"A\",1]}");
    for (int i = 0; i < 64; i++)
        text[k++] = ']';
    bad_n(text, k, "nested too deeply");
    /* plain mode allows deep nesting */
    char deep[1000];
    for (int i = 0; i < 500; i++) {
        deep[i] = '[';
        deep[999 - i] = ']';
    }
    sf_buf_init(&mp);
    assert_int_equal(sf_json_to_msgpack_ex(deep, 1000, SF_JSON_PLAIN, &mp, err, sizeof err), 0);
    sf_buf_free(&mp);
}

static void test_plain_mode(void **state)
{
    (void)state;
    sf_buf mp, out;
    char err[128];
    sf_buf_init(&mp);
    sf_buf_init(&out);
    const char *t = "{\"$ref\": 1, \"big\": 123456789012345678901234567890, \"huge\": 1e999}";
    assert_int_equal(sf_json_to_msgpack_ex(t, strlen(t), SF_JSON_PLAIN, &mp, err, sizeof err), 0);
    assert_int_equal(sf_msgpack_to_json(mp.data, mp.len, &out, err, sizeof err), 0);
    assert_string_equal(out.data, "{\"$ref\":1,\"big\":1.2345678901234568e+29,\"huge\":null}");
    sf_buf_free(&mp);
    sf_buf_free(&out);
}

/* ---- msgpack -> JSON ---------------------------------------------------- */

static void test_msgpack_to_json(void **state)
{
    (void)state;
    mp_to(MP("\xc0"), "null");
    mp_to(MP("\x7f"), "127");
    mp_to(MP("\xe0"), "-32");
    mp_to(MP("\xcc\xff"), "255");
    mp_to(MP("\xcd\xff\xff"), "65535");
    mp_to(MP("\xce\xff\xff\xff\xff"), "4294967295");
    mp_to(MP("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "18446744073709551615");
    mp_to(MP("\xd0\x80"), "-128");
    mp_to(MP("\xd1\x80\x00"), "-32768");
    mp_to(MP("\xd2\x80\x00\x00\x00"), "-2147483648");
    mp_to(MP("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), "-9223372036854775808");
    mp_to(MP("\xca\x3f\xc0\x00\x00"), "1.5");                         /* float32 */
    mp_to(MP("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"), "null");         /* NaN */
    mp_to(MP("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"), "null");         /* +inf */
    mp_to(MP("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00"), "null");         /* -inf */
    mp_to(MP("\xc4\x03\x00\x01\x02"), "{\"$bytes\":\"AAEC\"}");
    mp_to(MP("\xc5\x00\x01\xff"), "{\"$bytes\":\"/w==\"}");
    mp_to(MP("\xd9\x01x"), "\"x\"");
    mp_to(MP("\xda\x00\x01x"), "\"x\"");
    mp_to(MP("\xdb\x00\x00\x00\x01x"), "\"x\"");
    mp_to(MP("\xdc\x00\x01\xc3"), "[true]");
    mp_to(MP("\xdd\x00\x00\x00\x01\xc2"), "[false]");
    mp_to(MP("\xde\x00\x01\xa1k\x01"), "{\"k\":1}");
    /* tuple and set ext become arrays */
    mp_to(MP("\xd5\x01\x91\x01"), "[1]");
    mp_to(MP("\xc7\x03\x01\x92\x01\x02"), "[1,2]");
    mp_to(MP("\xd4\x02\x90"), "[]");
    mp_to(MP("\xc7\x04\x02\x93\x01\x02\x03"), "[1,2,3]");
    mp_to(MP("\xc8\x00\x03\x02\x92\x01\x02"), "[1,2]");
    /* reference */
    mp_to(MP("\xc7\x05\x03\x92\xa1U\xa1k"), "{\"$ref\":[\"U\",\"k\"]}");
    /* non-string keys: their JSON text as a string */
    mp_to(MP("\x81\x01\xa1\x61"), "{\"1\":\"a\"}");
    mp_to(MP("\x81\xc0\x01"), "{\"null\":1}");
    mp_to(MP("\x81\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x01"), "{\"1.5\":1}");
    mp_to(MP("\x81\xd6\x01\x92\x01\xa1\x61\x02"), "{\"[1,\\\"a\\\"]\":2}");
    mp_to(MP("\x81\xc7\x05\x03\x92\xa1U\xa1k\xc3"), "{\"{\\\"$ref\\\":[\\\"U\\\",\\\"k\\\"]}\":true}");
    /* a map as a key, with string keys: fine; with a non-string key: no */
    mp_to(MP("\x81\x81\xa1\x61\x01\x02"), "{\"{\\\"a\\\":1}\":2}");
    mp_bad(MP("\x81\x81\x81\x01\x01\x01\x02"), "non-string map key inside a map key at offset 2");
    mp_bad(MP("\x81\x91\x81\x01\x01\x02"), "non-string map key inside a map key");
    /* control characters are escaped */
    mp_to(MP("\xa3\x01\x1f\x22"), "\"\\u0001\\u001f\\\"\"");
}

static void test_msgpack_errors(void **state)
{
    (void)state;
    mp_bad(MP(""), "truncated value at offset 0");
    mp_bad(MP("\xc1"), "invalid byte 0xc1 at offset 0");
    mp_bad(MP("\x92\x01"), "truncated value at offset 0");
    mp_bad(MP("\x91\xc1"), "invalid byte 0xc1 at offset 1");
    mp_bad(MP("\x01\x02"), "trailing bytes after the value at offset 1");
    mp_bad(MP("\xa3xy"), "truncated");
    mp_bad(MP("\xcd\x01"), "truncated");
    mp_bad(MP("\xdd\xff\xff\xff\xff"), "truncated"); /* no huge allocation */
    mp_bad(MP("\xdf\xff\xff\xff\xff"), "truncated");
    mp_bad(MP("\xa2\xc3\x28"), "invalid UTF-8 in str at offset 0");
    mp_bad(MP("\x81\xa2\xc3\x28\x01"), "invalid UTF-8 in str at offset 1");
    mp_bad(MP("\xd4\x2a\x00"), "unknown extension type 42 at offset 0");
    mp_bad(MP("\xd4\x01\x01"), "payload is not an array");
    mp_bad(MP("\xd5\x01\x90\x01"), "trailing bytes in payload");
    mp_bad(MP("\xd5\x01\x91\xc1"), "invalid byte 0xc1");
    mp_bad(MP("\xd5\x01\x92\x01"), "truncated"); /* the array runs past its payload */
    mp_bad(MP("\xd5\x03\x92\x01"), "truncated");
    mp_bad(MP("\xd6\x03\x92\x01\x02\xc0"), "bad reference");        /* entity not a str */
    mp_bad(MP("\xd5\x03\x91\xa0"), "bad reference");                /* 1 element */
    mp_bad(MP("\xc7\x03\x03\x92\xa0\x01"), "bad reference");        /* empty entity */
    mp_bad(MP("\xc7\x05\x03\x93\xa1U\x01\x02"), "bad reference");   /* 3 elements */
    mp_bad(MP("\xc7\x04\x03\x92\xa1\xff\x01"), "invalid UTF-8 in reference");
    /* depth: 64 levels ok, 65 too deep; ext counts as one */
    char b[80];
    for (int d = 64; d <= 65; d++) {
        memset(b, 0x91, (size_t)d - 1);
        b[d - 1] = (char)0x90;
        sf_buf out;
        char err[128] = "";
        sf_buf_init(&out);
        int rc = sf_msgpack_to_json(b, (size_t)d, &out, err, sizeof err);
        if (d == 64) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "nested too deeply (limit 64) at offset 64"));
        }
        size_t vlen;
        rc = sf_msgpack_value_len(b, (size_t)d, &vlen, err, sizeof err);
        assert_int_equal(rc, d == 64 ? 0 : -1);
        sf_buf_free(&out);
    }
}

static void test_value_len(void **state)
{
    (void)state;
    size_t n = 0;
    char err[128];
    assert_int_equal(sf_msgpack_value_len(MP("\x92\x01\x81\xa1k\xc0\xff\xff"), &n, err, sizeof err), 0);
    assert_int_equal(n, 6);
    assert_int_equal(sf_msgpack_value_len(MP("\xd5\x01\x91\x01\x05"), &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(sf_msgpack_value_len(MP("\x92\x01"), &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
}

/* ---- text helpers ------------------------------------------------------- */

static void test_double_printing(void **state)
{
    (void)state;
    struct {
        double d;
        const char *s;
    } cases[] = {
        {0.0, "0.0"},          {-0.0, "-0.0"},       {1.0, "1.0"},         {-1.5, "-1.5"},
        {0.1, "0.1"},          {1.0 / 3, "0.3333333333333333"},            {2.0 / 3, "0.6666666666666666"},
        {1e16, "1e+16"},       {1e15, "1e+15"},      {123456.0, "123456.0"}, {1e-5, "1e-05"},
        {5e-324, "5e-324"},    {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.1 + 0.2, "0.30000000000000004"},
        {NAN, "null"},         {INFINITY, "null"},   {-INFINITY, "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sf_buf b;
        sf_buf_init(&b);
        sf_json_put_double(&b, cases[i].d);
        assert_string_equal(b.data, cases[i].s);
        sf_buf_free(&b);
    }
    /* every double reads back exactly, and is a float in JSON */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        sf_buf b;
        sf_buf_init(&b);
        sf_json_put_double(&b, d);
        assert_true(strtod(b.data, NULL) == d);
        assert_true(strchr(b.data, '.') || strchr(b.data, 'e'));
        sf_buf_free(&b);
    }
}

static void test_base64(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        sf_buf b;
        sf_buf_init(&b);
        sf_base64_encode(&b, plain[i], strlen(plain[i]));
        assert_string_equal(b.data ? b.data : "", enc[i]);
        sf_buf_reset(&b);
        assert_int_equal(sf_base64_decode(&b, enc[i], strlen(enc[i])), 0);
        assert_int_equal(b.len, strlen(plain[i]));
        assert_memory_equal(b.data ? b.data : "", plain[i], b.len);
        sf_buf_free(&b);
    }
    const char *invalid[] = {"Z", "Zg=", "Zg===", "Zm9v!", "Zg==Zg==", "Zm9vY", "=", "==", "Zm 9v", "Zm9v\n"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        sf_buf b;
        sf_buf_init(&b);
        sf_buf_puts(&b, "x");
        assert_int_equal(sf_base64_decode(&b, invalid[i], strlen(invalid[i])), -1);
        assert_string_equal(b.data, "x");
        sf_buf_free(&b);
    }
    /* every byte value */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    sf_buf e, d;
    sf_buf_init(&e);
    sf_buf_init(&d);
    sf_base64_encode(&e, all, sizeof all);
    assert_int_equal(sf_base64_decode(&d, e.data, e.len), 0);
    assert_int_equal(d.len, 256);
    assert_memory_equal(d.data, all, 256);
    sf_buf_free(&e);
    sf_buf_free(&d);
}

static void test_put_string(void **state)
{
    (void)state;
    sf_buf b;
    sf_buf_init(&b);
    sf_json_put_string(&b, "a\"b\\c\nd\x01\xc3\xa9\xff", 11);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\xef\xbf\xbd\"");
    sf_buf_free(&b);
}

/* ---- requests ----------------------------------------------------------- */

static void req_ok(const char *text, sf_request *r)
{
    char err[256] = "";
    if (sf_request_parse_json(text, strlen(text), r, err, sizeof err) != 0)
        fail_msg("request %s failed: %s", text, err);
}

/* The request fails with a message containing msg; id_json is the
 * recovered id (or NULL). */
static void req_bad(const char *text, const char *msg, const char *id)
{
    sf_request r;
    char err[256] = "";
    if (sf_request_parse_json(text, strlen(text), &r, err, sizeof err) == 0)
        fail_msg("request %s should have failed", text);
    if (!strstr(err, msg))
        fail_msg("error for %s: '%s' does not contain '%s'", text, err, msg);
    if (id) {
        if (!r.id_json)
            fail_msg("id not recovered from %s", text);
        assert_string_equal(r.id_json, id);
    } else {
        assert_null(r.id_json);
    }
    assert_null(r.entity);
    assert_null(r.method);
    sf_request_free(&r);
}

static void test_request_parse(void **state)
{
    (void)state;
    sf_request r;
    req_ok("{\"id\": \"r1\", \"op\": \"create\", \"entity\": \"User\", \"args\": [\"alice\"]}", &r);
    assert_string_equal(r.id_json, "\"r1\"");
    assert_int_equal(r.op, SF_OP_CREATE);
    assert_string_equal(r.entity, "User");
    assert_null(r.method);
    assert_int_equal(r.key.len, 0);
    assert_int_equal(r.args.len, 7);
    assert_memory_equal(r.args.data, "\x91\xa5\x61lice", 7);
    sf_request_free(&r);

    req_ok("{\"id\": \"r2\", \"op\": \"call\", \"entity\": \"User\", \"key\": \"alice\", \"method\": \"buy_item\", "
           "\"args\": [2, {\"$ref\": [\"Item\", \"apple\"]}]}",
           &r);
    assert_string_equal(r.id_json, "\"r2\"");
    assert_int_equal(r.op, SF_OP_CALL);
    assert_string_equal(r.entity, "User");
    assert_string_equal(r.method, "buy_item");
    assert_int_equal(r.key.len, 6);
    assert_memory_equal(r.key.data, "\xa5\x61lice", 6);
    const char args[] = "\x92\x02\xc7\x0c\x03\x92\xa4Item\xa5\x61pple";
    assert_int_equal(r.args.len, sizeof args - 1);
    assert_memory_equal(r.args.data, args, sizeof args - 1);
    sf_request_free(&r);

    req_ok("{\"id\": \"r3\", \"op\": \"get\", \"entity\": \"User\", \"key\": \"alice\"}", &r);
    assert_int_equal(r.op, SF_OP_GET);
    assert_null(r.method);
    assert_int_equal(r.args.len, 1);
    assert_memory_equal(r.args.data, "\x90", 1);
    sf_request_free(&r);

    /* no id; numeric id; key of any type; args default to [] */
    req_ok("{\"op\":\"call\",\"entity\":\"E\",\"key\":[1,\"a\"],\"method\":\"m\"}", &r);
    assert_null(r.id_json);
    assert_memory_equal(r.key.data, "\x92\x01\xa1\x61", 4);
    assert_memory_equal(r.args.data, "\x90", 1);
    sf_request_free(&r);
    req_ok("{\"id\": 17, \"op\":\"get\",\"entity\":\"E\",\"key\":null}", &r);
    assert_string_equal(r.id_json, "17");
    assert_int_equal(r.key.len, 1);
    sf_request_free(&r);
    req_ok("{\"id\": \"a\\u00e9\\n\", \"op\":\"get\",\"entity\":\"E\",\"key\":1}", &r);
    assert_string_equal(r.id_json, "\"a\xc3\xa9\\n\"");
    sf_request_free(&r);
    req_ok("{\"id\": 2.50, \"op\":\"get\",\"entity\":\"E\",\"key\":1}", &r);
    assert_string_equal(r.id_json, "2.5");
    sf_request_free(&r);
    /* member order does not matter; args nested to the value limit */
    char deep[400];
    size_t k = (size_t)sprintf(deep, "{\"args\":[");
    for (int i = 0; i < 63; i++)
        deep[k++] = '[';
    for (int i = 0; i < 63; i++)
        deep[k++] = ']';
    k += (size_t)sprintf(deep + k, "],\"entity\":\"E\",\"op\":\"create\",\"id\":\"d\"}");
    req_ok(deep, &r);
    assert_int_equal(r.op, SF_OP_CREATE);
    sf_request_free(&r);
}

static void test_request_errors(void **state)
{
    (void)state;
    req_bad("[1]", "a request must be a JSON object", NULL);
    req_bad("\"x\"", "a request must be a JSON object", NULL);
    req_bad("{\"id\":\"r1\",", "line 1, column 12: unexpected end of input", NULL);
    req_bad("", "unexpected end of input", NULL);
    req_bad("{\"id\":\"r1\",\"op\":\"remove\",\"entity\":\"E\"}",
            "unknown op \"remove\" (expected create, call, get or delete)", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"delete\",\"entity\":\"E\"}", "missing \"key\"", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"delete\",\"entity\":\"E\",\"key\":1,\"args\":[]}",
            "\"args\" is not allowed with op delete", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":5,\"entity\":\"E\"}", "\"op\" must be a string", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"entity\":\"E\"}", "missing \"op\"", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\"}", "missing \"entity\"", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":3}", "\"entity\" must be a string", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"\"}", "\"entity\" must not be empty", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"A\\u0000B\"}", "must not contain NUL", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"call\",\"entity\":\"E\",\"method\":\"m\"}",
            "missing \"key\" (required with op call)", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"get\",\"entity\":\"E\"}", "missing \"key\" (required with op get)", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"E\",\"key\":1}", "\"key\" is not allowed with op create",
            "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"call\",\"entity\":\"E\",\"key\":1}", "missing \"method\"", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"call\",\"entity\":\"E\",\"key\":1,\"method\":[]}", "\"method\" must be a string",
            "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"get\",\"entity\":\"E\",\"key\":1,\"method\":\"m\"}",
            "\"method\" is not allowed with op get", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"get\",\"entity\":\"E\",\"key\":1,\"args\":[]}", "\"args\" is not allowed with op get",
            "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"E\",\"args\":{\"a\":1}}", "\"args\" must be an array",
            "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"E\",\"args\":{\"$ref\":[\"A\",1]}}",
            "\"args\" must be an array", "\"r1\"");
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"E\",\"arg\":[]}", "unknown member \"arg\" in request",
            "\"r1\"");
    req_bad("{\"op\":\"create\",\"entity\":\"E\",\"entity\":\"F\",\"id\":\"r1\"}", "duplicate member \"entity\"",
            "\"r1\"");
    /* the id is recovered when a value is bad but the JSON is valid, wherever
     * the id sits */
    req_bad("{\"id\":\"r9\",\"op\":\"call\",\"entity\":\"U\",\"key\":\"a\",\"method\":\"m\",\"args\":[{\"$ref\":1}]}",
            "bad $ref", "\"r9\"");
    req_bad("{\"op\":\"call\",\"entity\":\"U\",\"key\":\"a\",\"method\":\"m\",\"args\":[{\"$ref\":[1,2]}],\"id\":\"late\"}",
            "bad $ref", "\"late\"");
    req_bad("{\"args\":[99999999999999999999999],\"id\":7,\"op\":\"create\",\"entity\":\"E\"}",
            "integer out of range", "7");
    req_bad("{\"args\":[{\"$bytes\":\"!\"}],\"id\":\"b\",\"op\":\"create\",\"entity\":\"E\"}", "invalid base64", "\"b\"");
    /* ... but not from invalid JSON or a bad id */
    req_bad("{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"E\",\"args\":[1,]}", "unexpected character ']'", NULL);
    req_bad("{\"id\":{\"x\":1},\"op\":\"create\",\"entity\":\"E\"}", "\"id\" must be a string or a number", NULL);
    req_bad("{\"id\":null,\"op\":\"create\",\"entity\":\"E\"}", "\"id\" must be a string or a number", NULL);
    char longid[600];
    size_t k = (size_t)sprintf(longid, "{\"id\":\"");
    memset(longid + k, 'x', 300);
    k += 300;
    sprintf(longid + k, "\",\"op\":\"create\",\"entity\":\"E\"}");
    req_bad(longid, "\"id\" too long", NULL);
    /* too deep args */
    char deep[400];
    k = (size_t)sprintf(deep, "{\"id\":\"d\",\"args\":[");
    for (int i = 0; i < 64; i++)
        deep[k++] = '[';
    for (int i = 0; i < 64; i++)
        deep[k++] = ']';
    k += (size_t)sprintf(deep + k, "],\"entity\":\"E\",\"op\":\"create\"}");
    req_bad(deep, "nested too deeply (limit 64)", "\"d\"");
}

static void test_replies(void **state)
{
    (void)state;
    sf_buf out;
    sf_buf_init(&out);
    assert_int_equal(sf_reply_ok_json(&out, "\"r2\"", "\xc3", 1), 0);
    assert_string_equal(out.data, "{\"id\":\"r2\",\"ok\":true}");
    sf_buf_reset(&out);
    assert_int_equal(sf_reply_ok_json(&out, NULL, "\xc7\x0c\x03\x92\xa4User\xa5\x61lice", 15), 0);
    assert_string_equal(out.data, "{\"ok\":{\"$ref\":[\"User\",\"alice\"]}}");
    sf_buf_reset(&out);
    assert_int_equal(sf_reply_ok_json(&out, "17", "\x82\xa1x\x01\xa1y\x92\xc0\xcb\x3f\xf8\0\0\0\0\0\0", 17), 0);
    assert_string_equal(out.data, "{\"id\":17,\"ok\":{\"x\":1,\"y\":[null,1.5]}}");
    sf_buf_reset(&out);
    sf_reply_error_json(&out, "\"r2\"", "ValueError", "bad \"x\"\n\x01");
    assert_string_equal(out.data,
                        "{\"id\":\"r2\",\"error\":{\"type\":\"ValueError\",\"message\":\"bad \\\"x\\\"\\n\\u0001\"}}");
    sf_buf_reset(&out);
    sf_reply_error_json(&out, NULL, "NotFound", "no User 'bob'");
    assert_string_equal(out.data, "{\"error\":{\"type\":\"NotFound\",\"message\":\"no User 'bob'\"}}");
    /* an unconvertible value becomes an error reply; appended after what
     * the buffer held */
    sf_buf_reset(&out);
    sf_buf_puts(&out, "prev\n");
    assert_int_equal(sf_reply_ok_json(&out, "\"r\"", "\xc1", 1), -1);
    assert_non_null(strstr(out.data, "prev\n{\"id\":\"r\",\"error\":{\"type\":\"InternalError\",\"message\":\"cannot write"));
    sf_buf_free(&out);

    /* a parsed id is echoed exactly */
    sf_request r;
    char err[128];
    const char *t = "{\"id\": \"q\\\"1\", \"op\": \"nope\"}";
    assert_int_equal(sf_request_parse_json(t, strlen(t), &r, err, sizeof err), -1);
    sf_buf_init(&out);
    sf_reply_error_json(&out, r.id_json, "BadRequest", err);
    assert_string_equal(out.data, "{\"id\":\"q\\\"1\",\"error\":{\"type\":\"BadRequest\",\"message\":\"unknown op \\\"nope\\\" "
                                  "(expected create, call, get or delete)\"}}");
    sf_buf_free(&out);
    sf_request_free(&r);
    assert_string_equal(sf_request_op_name(SF_OP_CALL), "call");
    assert_string_equal(sf_request_op_name(99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),      cmocka_unit_test(test_exact_msgpack),
        cmocka_unit_test(test_strings),          cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_syntax_errors),    cmocka_unit_test(test_ref_bytes_errors),
        cmocka_unit_test(test_depth),            cmocka_unit_test(test_plain_mode),
        cmocka_unit_test(test_msgpack_to_json),  cmocka_unit_test(test_msgpack_errors),
        cmocka_unit_test(test_value_len),        cmocka_unit_test(test_double_printing),
        cmocka_unit_test(test_base64),           cmocka_unit_test(test_put_string),
        cmocka_unit_test(test_request_parse),    cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
