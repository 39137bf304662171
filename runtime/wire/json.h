/* json.h: JSON text <-> msgpack, with StateFlow's value mapping (DESIGN 4.5):
 * {"$ref": [entity, key]} <-> reference ext, {"$bytes": "<base64>"} <-> bin;
 * tuples and sets become arrays on the way out. Strict RFC 8259 parsing
 * (UTF-8 checked, \u escapes with surrogate pairs), integers that fit in
 * int64 stay integers, others become floats only if written with a fraction
 * or exponent (an integer literal beyond 64 bits is an error), depth limited
 * to SF_VALUE_MAX_DEPTH. Used by sfrun, the HTTP gateway and the clients.
 * Pure C: no Python involved.
 *
 * Details of the mapping:
 * - An object whose FIRST member is "$ref" is a reference and must be
 *   exactly {"$ref": [entity, key]} (entity a non-empty string); likewise
 *   {"$bytes": "<base64>"} (standard alphabet, padding optional). "$ref" or
 *   "$bytes" as a later member is an ordinary key.
 * - Depth: every array and object is one level, a {"$ref": ...} object one
 *   level in all (its inner array is not counted), as in pycodec.h, so a
 *   value that fits one codec fits the other.
 * - Numbers: "-0" is the integer 0, "-0.0" the float -0.0; a literal beyond
 *   the double range is an error; underflow gives 0.0.
 * - Duplicate object keys are kept in order (the Python decoder keeps the
 *   last).
 * - Writing: compact (no spaces). Floats are printed shortest-round-trip and
 *   always with a '.' or an exponent. NaN and infinities have no JSON form
 *   and are written as null. Integers above INT64_MAX (uint64 msgpack) are
 *   written as they are, although the parser refuses them. Tuples and sets
 *   are arrays; bin is {"$bytes": ...}. A non-string map key is written as
 *   its JSON text inside a string ({"1": ..}, {"[1,\"a\"]": ..}); a
 *   non-string key nested inside such a key is refused (each level would
 *   double the escaping; Python cannot make one). Strings must be valid
 *   UTF-8. Unknown ext types are errors. */
#ifndef SF_RUNTIME_JSON_H
#define SF_RUNTIME_JSON_H

#include <stddef.h>

#include "stateflow/sf_buf.h"

/* Parse one JSON value from text[0..len) (surrounding whitespace allowed) and
 * append its msgpack encoding to out. Returns 0, or -1 with a message
 * ("line 1, column 17: expected ':'") in err. */
int sf_json_to_msgpack(const char *text, size_t len, sf_buf *out, char *err, size_t errlen);

/* Append the JSON text of one msgpack value from data[0..len) to out.
 * Returns 0, or -1 with a message in err. Map keys that are not strings are
 * written as their JSON text inside a string. */
int sf_msgpack_to_json(const char *data, size_t len, sf_buf *out, char *err, size_t errlen);

/* Extended parse. flags: */
#define SF_JSON_PLAIN 1u    /* recovery mode: no $ref/$bytes mapping, integer
                             * literals beyond 64 bits and numbers beyond the
                             * double range become floats (the latter
                             * +-inf), nesting allowed up to
                             * SF_JSON_PLAIN_MAX_DEPTH. Accepts every
                             * RFC 8259 text short of absurd nesting; used to
                             * pull the id out of a request that failed the
                             * strict parse. */
#define SF_JSON_ENVELOPE 2u /* the top-level array or object does not count
                             * towards the nesting limit (a request object,
                             * an argument list): the values inside it get
                             * the same limit as top-level values. */
#define SF_JSON_PLAIN_MAX_DEPTH 512
int sf_json_to_msgpack_ex(const char *text, size_t len, unsigned flags, sf_buf *out, char *err,
                          size_t errlen);

/* The length of the first msgpack value in data[0..len), its structure
 * checked (lengths, nesting up to SF_VALUE_MAX_DEPTH, no 0xc1; contents of
 * str and ext payloads are not inspected). Returns 0, or -1 with a message. */
int sf_msgpack_value_len(const char *data, size_t len, size_t *vlen, char *err, size_t errlen);

/* Append s[0..n) as a JSON string literal (quotes included); invalid UTF-8
 * is replaced by U+FFFD. For messages and names. */
void sf_json_put_string(sf_buf *out, const char *s, size_t n);

/* Append d as the shortest JSON number that reads back as the same double,
 * always with a '.' or an exponent ("1.0", "-0.0", "1e+16"). NaN and
 * infinities have no JSON form: they are written as null. */
void sf_json_put_double(sf_buf *out, double d);

/* Base64 (RFC 4648 standard alphabet). Encoding writes padding; decoding
 * accepts text with or without padding, rejects any other character (no
 * whitespace) and returns 0, or -1 on malformed input (out unchanged). */
void sf_base64_encode(sf_buf *out, const void *data, size_t n);
int sf_base64_decode(sf_buf *out, const char *text, size_t n);

#endif
