/* json.c: JSON text <-> msgpack with StateFlow's value mapping (json.h),
 * plus the small text helpers around it (JSON string escaping, shortest
 * float printing, base64). The parser writes msgpack directly while it
 * reads (no intermediate tree): container and string headers are written as
 * one placeholder byte and widened in place when the final count needs
 * more. Pure C, no Python. */
#include "json.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpread.h"
#include "stateflow/sf_value.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_util.h"

/* Largest JSON text accepted: values can shrink a lot on the way to msgpack
 * (whitespace, base64), so this is a multiple of the value limit; the
 * msgpack output itself is held to SF_VALUE_MAX_BYTES. */
#define SF_JSON_MAX_TEXT ((size_t)SF_VALUE_MAX_BYTES * 4)

/* ------------------------------------------------------------------ */
/* shared helpers                                                      */



static void put_utf8(sf_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sf_buf_append(out, b, n);
}

/* The C library's decimal point (strtod and printf follow LC_NUMERIC). */
static char decimal_point(void)
{
    const char *dp = localeconv()->decimal_point;
    return (dp && dp[0] && !dp[1]) ? dp[0] : '.';
}

/* Write s[0..n) as a JSON string literal. strict: invalid UTF-8 is an error
 * (returns -1, out partly written); otherwise replaced by U+FFFD. */
static int put_json_string(sf_buf *out, const char *str, size_t n, int strict)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    sf_buf_reserve(out, n + 2);
    sf_buf_putc(out, '"');
    while (i < n) {
        size_t run = i;
        while (i < n) {
            unsigned c = s[i];
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                i++;
                continue;
            }
            if (c >= 0x80) {
                size_t k = sf_utf8_seq(s + i, n - i);
                if (k) {
                    i += k;
                    continue;
                }
            }
            break;
        }
        if (i > run)
            sf_buf_append(out, s + run, i - run);
        if (i >= n)
            break;
        unsigned c = s[i];
        if (c >= 0x80) {
            if (strict)
                return -1;
            sf_buf_append(out, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
            break;
        }
        sf_buf_append(out, e, el);
        i++;
    }
    sf_buf_putc(out, '"');
    return 0;
}

void sf_json_put_string(sf_buf *out, const char *s, size_t n) { (void)put_json_string(out, s, n, 0); }

void sf_json_put_double(sf_buf *out, double d)
{
    if (!isfinite(d)) {
        sf_buf_puts(out, "null");
        return;
    }
    /* If any precision up to 15 digits reads back exactly, %.15g (which
     * drops trailing zeros) already is the shortest such form, because a
     * normal double has more than 15 significant digits; otherwise 16, then
     * 17 (always exact). Subnormals have fewer digits: search from 1. */
    char b[40];
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15;; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, d);
        if (prec >= 17 || strtod(b, NULL) == d)
            break;
    }
    char dp = decimal_point();
    int has_mark = 0;
    for (char *q = b; *q; q++) {
        if (*q == dp)
            *q = '.';
        if (*q == '.' || *q == 'e')
            has_mark = 1;
    }
    sf_buf_puts(out, b);
    if (!has_mark)
        sf_buf_puts(out, ".0");
}

/* ------------------------------------------------------------------ */
/* base64                                                              */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

void sf_base64_encode(sf_buf *out, const void *data, size_t n)
{
    const unsigned char *s = data;
    sf_buf_reserve(out, (n + 2) / 3 * 4);
    sf_buf_append(out, "", 0); /* NUL-terminated even when n == 0 */
    size_t i = 0;
    char q[4];
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
        q[0] = b64_alphabet[v >> 18];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = b64_alphabet[(v >> 6) & 63];
        q[3] = b64_alphabet[v & 63];
        sf_buf_append(out, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        q[0] = b64_alphabet[v >> 18];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = (i + 1 < n) ? b64_alphabet[(v >> 6) & 63] : '=';
        q[3] = '=';
        sf_buf_append(out, q, 4);
    }
}

/* Decode in[0..n) into dst, which may be in itself (the write position never
 * passes the read position). Returns the decoded length or -1. */
static long b64_decode_raw(const unsigned char *in, size_t n, unsigned char *dst)
{
    size_t pad = 0;
    if (n >= 1 && in[n - 1] == '=') {
        pad = 1;
        if (n >= 2 && in[n - 2] == '=')
            pad = 2;
    }
    size_t m = n - pad;
    if (m % 4 == 1)
        return -1;
    if (pad && (n % 4 != 0 || (m % 4) + pad != 4))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < m; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

int sf_base64_decode(sf_buf *out, const char *text, size_t n)
{
    size_t start = out->len;
    sf_buf_reserve(out, n);
    long d = b64_decode_raw((const unsigned char *)text, n, (unsigned char *)out->data + start);
    if (d < 0) {
        out->data[start] = '\0';
        return -1;
    }
    out->len = start + (size_t)d;
    out->data[out->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* msgpack header patching                                             */

enum { HDR_ARRAY, HDR_MAP, HDR_STR, HDR_BIN };

/* msgpack-c's packer writing into a header's few bytes */
typedef struct hdr_out {
    unsigned char *h;
    size_t n;
} hdr_out;

static int hdr_write(void *data, const char *p, size_t n)
{
    hdr_out *o = data;
    memcpy(o->h + o->n, p, n);
    o->n += n;
    return 0;
}

/* The header msgpack-c writes for an array, map, str or bin of n items or
 * bytes (at most 5 bytes) into h; returns its length. */
static size_t make_header(unsigned char *h, int kind, size_t n)
{
    hdr_out o = {h, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, hdr_write);
    switch (kind) {
    case HDR_ARRAY: msgpack_pack_array(&pk, n); break;
    case HDR_MAP: msgpack_pack_map(&pk, n); break;
    case HDR_STR: msgpack_pack_str(&pk, n); break;
    default: msgpack_pack_bin(&pk, n); break;
    }
    return o.n;
}

/* Replace the placeholder of oldl bytes at hpos by the header for n. Returns
 * the header's length. */
static size_t patch_header(sf_buf *out, size_t hpos, size_t oldl, int kind, size_t n)
{
    unsigned char h[5];
    size_t hl = make_header(h, kind, n);
    sf_mp_resize_gap(out, hpos, oldl, hl);
    memcpy(out->data + hpos, h, hl);
    return hl;
}

/* ------------------------------------------------------------------ */
/* JSON -> msgpack                                                     */

typedef struct jp {
    const char *s;
    size_t len, pos;
    sf_buf *out;
    size_t start; /* out->len when parsing began */
    msgpack_packer pk;
    unsigned flags;
    int max_depth;
    char *err;
    size_t errlen;
} jp;

static int jp_fail(jp *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jp_fail(jp *p, size_t at, const char *fmt, ...)
{
    if (!p->err || !p->errlen)
        return -1;
    if (at > p->len)
        at = p->len;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xc0) != 0x80) {
            col++;
        }
    }
    int k = snprintf(p->err, p->errlen, "line %zu, column %zu: ", line, col);
    if (k >= 0 && (size_t)k < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int jp_unexpected(jp *p)
{
    if (p->pos >= p->len)
        return jp_fail(p, p->pos, "unexpected end of input");
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c > 0x20 && c < 0x7f)
        return jp_fail(p, p->pos, "unexpected character '%c'", c);
    return jp_fail(p, p->pos, "unexpected byte 0x%02x", c);
}

static void jp_ws(jp *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int jp_expect(jp *p, char c, const char *what)
{
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return 0;
    }
    if (p->pos >= p->len)
        return jp_fail(p, p->pos, "unexpected end of input (expected %s)", what);
    return jp_fail(p, p->pos, "expected %s", what);
}

static int jp_check_size(jp *p)
{
    if (p->out->len - p->start > SF_VALUE_MAX_BYTES)
        return jp_fail(p, p->pos, "value too large (more than %u bytes as msgpack)", SF_VALUE_MAX_BYTES);
    return 0;
}

static int hex4(const char *s, uint32_t *v)
{
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        r <<= 4;
        if (c >= '0' && c <= '9')
            r |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            r |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            r |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *v = r;
    return 0;
}

/* At a '"': write the decoded string as msgpack str. coff and clen (optional)
 * receive where its content lies in out. */
static int jp_string(jp *p, size_t *coff, size_t *clen)
{
    sf_buf *out = p->out;
    const unsigned char *s = (const unsigned char *)p->s;
    size_t open = p->pos;
    size_t hpos = out->len;
    sf_buf_putc(out, 0); /* header placeholder */
    p->pos++;
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned c = s[p->pos];
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                p->pos++;
                continue;
            }
            if (c >= 0x80) {
                size_t k = sf_utf8_seq(s + p->pos, p->len - p->pos);
                if (k) {
                    p->pos += k;
                    continue;
                }
            }
            break;
        }
        if (p->pos > run)
            sf_buf_append(out, s + run, p->pos - run);
        if (p->pos >= p->len)
            return jp_fail(p, open, "unterminated string");
        unsigned c = s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c >= 0x80)
            return jp_fail(p, p->pos, "invalid UTF-8 in string");
        if (c < 0x20)
            return jp_fail(p, p->pos, "unescaped control character in string");
        /* backslash */
        size_t esc = p->pos;
        if (p->pos + 1 >= p->len)
            return jp_fail(p, open, "unterminated string");
        char e = (char)s[p->pos + 1];
        p->pos += 2;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (p->len - p->pos < 4 || hex4(p->s + p->pos, &cp) < 0)
                return jp_fail(p, esc, "invalid \\u escape (expected 4 hex digits)");
            p->pos += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return jp_fail(p, esc, "unpaired surrogate in \\u escape");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return jp_fail(p, esc, "unpaired surrogate in \\u escape");
            }
            put_utf8(out, cp);
            continue;
        }
        default:
            return jp_fail(p, esc, "invalid escape in string");
        }
        sf_buf_putc(out, ch);
    }
    size_t n = out->len - hpos - 1;
    if (n > 0xffffffffu)
        return jp_fail(p, open, "string too long");
    size_t hl = patch_header(out, hpos, 1, HDR_STR, n);
    if (coff)
        *coff = hpos + hl;
    if (clen)
        *clen = n;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int jp_number(jp *p)
{
    const char *s = p->s;
    size_t start = p->pos;
    int neg = 0;
    if (s[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(s[p->pos]))
        return jp_fail(p, start, "invalid number");
    size_t int_start = p->pos;
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(s[p->pos]))
            return jp_fail(p, start, "invalid number (leading zero)");
    } else {
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
    }
    size_t int_end = p->pos;
    int is_float = 0;
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return jp_fail(p, start, "invalid number (expected a digit after '.')");
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
        is_float = 1;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return jp_fail(p, start, "invalid number (expected a digit in the exponent)");
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
        is_float = 1;
    }
    if (!is_float) {
        uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int overflow = 0;
        for (size_t i = int_start; i < int_end; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (v > (limit - d) / 10) {
                overflow = 1;
                break;
            }
            v = v * 10 + d;
        }
        if (!overflow) {
            int64_t iv = neg ? (int64_t)(0 - v) : (int64_t)v;
            if (neg && v == (uint64_t)INT64_MAX + 1)
                iv = INT64_MIN;
            msgpack_pack_int64(&p->pk, iv);
            return 0;
        }
        if (!(p->flags & SF_JSON_PLAIN))
            return jp_fail(p, start, "integer out of range (more than 64 bits)");
    }
    size_t n = p->pos - start;
    char small[64];
    char *b = n < sizeof small ? small : malloc(n + 1);
    if (!b)
        return jp_fail(p, start, "out of memory");
    memcpy(b, s + start, n);
    b[n] = '\0';
    char dp = decimal_point();
    if (dp != '.') {
        for (size_t i = 0; i < n; i++)
            if (b[i] == '.')
                b[i] = dp;
    }
    char *end = NULL;
    double d = strtod(b, &end);
    int consumed = end == b + n;
    if (b != small)
        free(b);
    if (!consumed)
        return jp_fail(p, start, "invalid number");
    if (!isfinite(d) && !(p->flags & SF_JSON_PLAIN))
        return jp_fail(p, start, "number out of range");
    msgpack_pack_double(&p->pk, d);
    return 0;
}

static int jp_value(jp *p, int depth);

static int jp_depth_check(jp *p, int depth)
{
    if (depth >= p->max_depth)
        return jp_fail(p, p->pos, "nested too deeply (limit %d)", p->max_depth);
    return 0;
}

static int jp_array(jp *p, int depth)
{
    if (jp_depth_check(p, depth) < 0)
        return -1;
    p->pos++;
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        msgpack_pack_array(&p->pk, 0);
        return 0;
    }
    size_t hpos = p->out->len;
    sf_buf_putc(p->out, 0);
    size_t n = 0;
    for (;;) {
        if (jp_value(p, depth + 1) < 0)
            return -1;
        n++;
        if (jp_check_size(p) < 0)
            return -1;
        jp_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        if (p->pos >= p->len)
            return jp_fail(p, p->pos, "unexpected end of input (expected ',' or ']')");
        return jp_fail(p, p->pos, "expected ',' or ']'");
    }
    patch_header(p->out, hpos, 1, HDR_ARRAY, n);
    return 0;
}

/* After the key "$ref" (already consumed): ': [entity, key] }' */
static int jp_ref(jp *p, int depth, size_t hpos)
{
    if (jp_expect(p, ':', "':'") < 0)
        return -1;
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '[')
        return jp_fail(p, p->pos, "bad $ref: expected [entity, key]");
    p->pos++;
    sf_buf_append(p->out, "\0\0\0", 3); /* ext8 header placeholder */
    msgpack_pack_array(&p->pk, 2);
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return jp_fail(p, p->pos, "bad $ref: the entity name must be a string");
    size_t eoff, elen;
    if (jp_string(p, &eoff, &elen) < 0)
        return -1;
    if (elen == 0)
        return jp_fail(p, p->pos, "bad $ref: empty entity name");
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ',')
        return jp_fail(p, p->pos, "bad $ref: expected [entity, key]");
    p->pos++;
    if (jp_value(p, depth + 1) < 0)
        return -1;
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ']')
        return jp_fail(p, p->pos, "bad $ref: expected [entity, key]");
    p->pos++;
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',')
        return jp_fail(p, p->pos, "bad $ref: a {\"$ref\": ...} object has no other members");
    if (jp_expect(p, '}', "'}'") < 0)
        return -1;
    sf_mp_patch_ext_header(p->out, hpos, 3, SF_EXT_REF);
    return 0;
}

/* After the key "$bytes": ': "<base64>" }' */
static int jp_bytes(jp *p, size_t hpos)
{
    if (jp_expect(p, ':', "':'") < 0)
        return -1;
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return jp_fail(p, p->pos, "bad $bytes: expected a base64 string");
    size_t at = p->pos, coff, clen;
    if (jp_string(p, &coff, &clen) < 0)
        return -1;
    sf_buf *out = p->out;
    unsigned char *c = (unsigned char *)out->data + coff;
    long d = b64_decode_raw(c, clen, c);
    if (d < 0)
        return jp_fail(p, at, "bad $bytes: invalid base64");
    /* the decoded bytes sit at coff; the bin header goes at hpos */
    unsigned char h[5];
    size_t hl = make_header(h, HDR_BIN, (size_t)d);
    out->len = coff + (size_t)d;
    sf_mp_resize_gap(out, hpos, coff - hpos, hl);
    memcpy(out->data + hpos, h, hl);
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',')
        return jp_fail(p, p->pos, "bad $bytes: a {\"$bytes\": ...} object has no other members");
    return jp_expect(p, '}', "'}'");
}

static int jp_object(jp *p, int depth)
{
    if (jp_depth_check(p, depth) < 0)
        return -1;
    p->pos++;
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        msgpack_pack_map(&p->pk, 0);
        return 0;
    }
    size_t hpos = p->out->len;
    sf_buf_putc(p->out, 0);
    size_t n = 0;
    for (;;) {
        jp_ws(p);
        if (p->pos >= p->len)
            return jp_fail(p, p->pos, "unexpected end of input (expected a string key)");
        if (p->s[p->pos] != '"')
            return jp_fail(p, p->pos, "expected a string key");
        size_t koff, klen;
        if (jp_string(p, &koff, &klen) < 0)
            return -1;
        if (n == 0 && !(p->flags & SF_JSON_PLAIN)) {
            const char *k = p->out->data + koff;
            if (klen == 4 && memcmp(k, "$ref", 4) == 0) {
                p->out->len = hpos;
                return jp_ref(p, depth, hpos);
            }
            if (klen == 6 && memcmp(k, "$bytes", 6) == 0) {
                p->out->len = hpos;
                return jp_bytes(p, hpos);
            }
        }
        if (jp_expect(p, ':', "':'") < 0)
            return -1;
        if (jp_value(p, depth + 1) < 0)
            return -1;
        n++;
        if (jp_check_size(p) < 0)
            return -1;
        jp_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        if (p->pos >= p->len)
            return jp_fail(p, p->pos, "unexpected end of input (expected ',' or '}')");
        return jp_fail(p, p->pos, "expected ',' or '}'");
    }
    patch_header(p->out, hpos, 1, HDR_MAP, n);
    return 0;
}

static int jp_literal(jp *p, const char *word, size_t n)
{
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return 0;
    }
    return jp_fail(p, p->pos, "invalid literal (expected %s)", word);
}

static int jp_value(jp *p, int depth)
{
    jp_ws(p);
    if (p->pos >= p->len)
        return jp_fail(p, p->pos, "unexpected end of input (expected a value)");
    switch (p->s[p->pos]) {
    case '{':
        return jp_object(p, depth);
    case '[':
        return jp_array(p, depth);
    case '"':
        return jp_string(p, NULL, NULL);
    case 't':
        if (jp_literal(p, "true", 4) < 0)
            return -1;
        msgpack_pack_true(&p->pk);
        return 0;
    case 'f':
        if (jp_literal(p, "false", 5) < 0)
            return -1;
        msgpack_pack_false(&p->pk);
        return 0;
    case 'n':
        if (jp_literal(p, "null", 4) < 0)
            return -1;
        msgpack_pack_nil(&p->pk);
        return 0;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return jp_number(p);
    default:
        return jp_unexpected(p);
    }
}

int sf_json_to_msgpack_ex(const char *text, size_t len, unsigned flags, sf_buf *out, char *err,
                          size_t errlen)
{
    if (len > SF_JSON_MAX_TEXT) {
        sf_set_err(err, errlen, "JSON text too large (%zu bytes, limit %zu)", len, SF_JSON_MAX_TEXT);
        return -1;
    }
    jp p;
    memset(&p, 0, sizeof p);
    p.s = text ? text : "";
    p.len = text ? len : 0;
    p.out = out;
    p.start = out->len;
    p.flags = flags;
    p.max_depth = (flags & SF_JSON_PLAIN) ? SF_JSON_PLAIN_MAX_DEPTH : SF_VALUE_MAX_DEPTH;
    p.err = err;
    p.errlen = errlen;
    sf_buf_packer_init(&p.pk, out);
    int rc = jp_value(&p, (flags & SF_JSON_ENVELOPE) ? -1 : 0);
    if (rc == 0) {
        jp_ws(&p);
        if (p.pos < p.len)
            rc = jp_fail(&p, p.pos, "unexpected data after the JSON value");
    }
    if (rc == 0)
        rc = jp_check_size(&p);
    if (rc < 0) {
        out->len = p.start;
        if (out->data)
            out->data[out->len] = '\0';
    }
    return rc;
}

int sf_json_to_msgpack(const char *text, size_t len, sf_buf *out, char *err, size_t errlen)
{
    return sf_json_to_msgpack_ex(text, len, 0, out, err, errlen);
}

/* ------------------------------------------------------------------ */
/* msgpack -> JSON                                                     */

typedef struct jw {
    const char *buf;
    size_t len, pos;
    int in_key; /* writing a non-string map key (as text inside a string) */
    sf_buf *out;
    char *err;
    size_t errlen;
} jw;

static int jw_read(jw *w, sf_mp_item *it)
{
    size_t at = w->pos;
    int rc = sf_mp_read(w->buf, w->len, &w->pos, it);
    if (rc == SF_MP_ETRUNC) {
        sf_set_err(w->err, w->errlen, "msgpack: truncated value at offset %zu", at);
        return -1;
    }
    if (rc == SF_MP_EBAD) {
        sf_set_err(w->err, w->errlen, "msgpack: invalid byte 0x%02x at offset %zu",
                (unsigned char)w->buf[at], at);
        return -1;
    }
    return 0;
}

static int jw_depth(jw *w, int depth, size_t at)
{
    if (depth >= SF_VALUE_MAX_DEPTH) {
        sf_set_err(w->err, w->errlen, "msgpack: nested too deeply (limit %d) at offset %zu",
                SF_VALUE_MAX_DEPTH, at);
        return -1;
    }
    return 0;
}

static int jw_value(jw *w, int depth);

static void put_u64(sf_buf *out, int neg, uint64_t v)
{
    char b[24];
    size_t i = sizeof b;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        b[--i] = '-';
    sf_buf_append(out, b + i, sizeof b - i);
}

/* Narrow the reader to an ext payload, which must hold exactly one array;
 * its element count goes to *count (the caller reads the elements, then
 * calls jw_leave_payload). */
static int jw_enter_payload(jw *w, const sf_mp_item *it, size_t *saved_len, size_t *saved_pos,
                            uint32_t *count, size_t at)
{
    *saved_len = w->len;
    *saved_pos = w->pos;
    w->pos = (size_t)(it->data - w->buf);
    w->len = w->pos + it->n;
    sf_mp_item a;
    if (jw_read(w, &a) < 0)
        return -1;
    if (a.kind != SF_MP_ARRAY) {
        sf_set_err(w->err, w->errlen, "msgpack: extension type %d at offset %zu: payload is not an array",
                it->ext_type, at);
        return -1;
    }
    *count = a.n;
    return 0;
}

static int jw_leave_payload(jw *w, const sf_mp_item *it, size_t saved_len, size_t saved_pos, size_t at)
{
    if (w->pos != w->len) {
        sf_set_err(w->err, w->errlen, "msgpack: extension type %d at offset %zu: trailing bytes in payload",
                it->ext_type, at);
        return -1;
    }
    w->len = saved_len;
    w->pos = saved_pos;
    return 0;
}

/* ---- values beyond JSON (docs/ir.md "Value encoding"): the JSON forms
 * Python gives them (isoformat, str(Decimal), the Enum's value, the fields of
 * a dataclass as an object, bytes as {"$bytes"}, an int beyond 64 bits as a
 * number). Only the shape is checked here; the Python decoder checks more. */

static int jw_bad_ext(jw *w, const sf_mp_item *it, size_t at)
{
    sf_set_err(w->err, w->errlen, "msgpack: extension type %d at offset %zu: malformed payload", it->ext_type, at);
    return -1;
}

/* n ints from the payload into v. */
static int jw_ints(jw *w, const sf_mp_item *it, size_t at, int64_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        sf_mp_item x;
        if (jw_read(w, &x) < 0)
            return -1;
        if (x.kind != SF_MP_INT)
            return jw_bad_ext(w, it, at);
        v[i] = x.v.i;
    }
    return 0;
}

/* The tz elements (kind, offset, name or key), written as Python's
 * isoformat writes the UTC offset (nothing when there is none). */
static int jw_tz(jw *w, const sf_mp_item *it, size_t at, char *b, size_t bn)
{
    sf_mp_item kind, off, extra;
    b[0] = '\0';
    if (jw_read(w, &kind) < 0 || jw_read(w, &off) < 0 || jw_read(w, &extra) < 0)
        return -1;
    if (kind.kind != SF_MP_INT || (off.kind != SF_MP_INT && off.kind != SF_MP_NIL) ||
        (extra.kind != SF_MP_STR && extra.kind != SF_MP_NIL))
        return jw_bad_ext(w, it, at);
    if (off.kind == SF_MP_NIL)
        return 0;
    int64_t us = off.v.i;
    if (us <= -86400000000LL || us >= 86400000000LL)
        return jw_bad_ext(w, it, at);
    char sign = us < 0 ? '-' : '+';
    if (us < 0)
        us = -us;
    int64_t s = us / 1000000, f = us % 1000000;
    int n = snprintf(b, bn, "%c%02d:%02d", sign, (int)(s / 3600), (int)(s / 60 % 60));
    if (s % 60 || f)
        n += snprintf(b + n, bn - (size_t)n, ":%02d", (int)(s % 60));
    if (f)
        snprintf(b + n, bn - (size_t)n, ".%06d", (int)f);
    return 0;
}

/* timedelta(days, seconds, us), normalised, as an ISO 8601 duration:
 * "P1DT2H3M4.5S", "-PT1S", "PT0S". */
static int jw_timedelta(jw *w, const sf_mp_item *it, size_t at, uint32_t n)
{
    int64_t v[3];
    if (n != 3)
        return jw_bad_ext(w, it, at);
    if (jw_ints(w, it, at, v, 3) < 0)
        return -1;
    if (v[1] < 0 || v[1] >= 86400 || v[2] < 0 || v[2] >= 1000000 || v[0] < -999999999 || v[0] > 999999999)
        return jw_bad_ext(w, it, at);
    int neg = v[0] < 0;
    int64_t days = v[0], rem = v[1] * 1000000 + v[2]; /* total = days * D + rem */
    if (neg) {
        days = -days - 1;
        rem = 86400000000LL - rem;
        if (rem == 86400000000LL) {
            days++;
            rem = 0;
        }
    }
    char b[96];
    int k = snprintf(b, sizeof b, "%sP", neg ? "-" : "");
    if (days)
        k += snprintf(b + k, sizeof b - (size_t)k, "%lldD", (long long)days);
    if (rem || !days) {
        int64_t s = rem / 1000000, f = rem % 1000000;
        k += snprintf(b + k, sizeof b - (size_t)k, "T");
        if (s / 3600)
            k += snprintf(b + k, sizeof b - (size_t)k, "%dH", (int)(s / 3600));
        if (s / 60 % 60)
            k += snprintf(b + k, sizeof b - (size_t)k, "%dM", (int)(s / 60 % 60));
        if (s % 60 || f || !rem) {
            k += snprintf(b + k, sizeof b - (size_t)k, "%d", (int)(s % 60));
            if (f) {
                char fr[8];
                snprintf(fr, sizeof fr, "%06d", (int)f);
                int e = 6;
                while (fr[e - 1] == '0')
                    e--;
                k += snprintf(b + k, sizeof b - (size_t)k, ".%.*s", e, fr);
            }
            k += snprintf(b + k, sizeof b - (size_t)k, "S");
        }
    }
    sf_buf_putc(w->out, '"');
    sf_buf_append(w->out, b, (size_t)k);
    sf_buf_putc(w->out, '"');
    return 0;
}

/* date, time and datetime as Python's isoformat(). */
static int jw_datetime(jw *w, const sf_mp_item *it, size_t at, uint32_t n)
{
    int type = it->ext_type;
    uint32_t base = type == SF_EXT_DATE ? 3 : type == SF_EXT_TIME ? 5 : 8;
    if (n != base && (type == SF_EXT_DATE || n != base + 3))
        return jw_bad_ext(w, it, at);
    int64_t v[8];
    if (jw_ints(w, it, at, v, (int)base) < 0)
        return -1;
    char tz[48] = "";
    if (n > base && jw_tz(w, it, at, tz, sizeof tz) < 0)
        return -1;
    for (uint32_t i = 0; i < base; i++)
        if (v[i] < 0 || v[i] > 999999)
            return jw_bad_ext(w, it, at);
    char b[128];
    int k = 0;
    const int64_t *t = v;
    if (type != SF_EXT_TIME) {
        k = snprintf(b, sizeof b, "%04d-%02d-%02d", (int)v[0], (int)v[1], (int)v[2]);
        t = v + 3;
        if (type == SF_EXT_DATETIME)
            b[k++] = 'T';
    }
    if (type != SF_EXT_DATE) {
        k += snprintf(b + k, sizeof b - (size_t)k, "%02d:%02d:%02d", (int)t[0], (int)t[1], (int)t[2]);
        if (t[3])
            k += snprintf(b + k, sizeof b - (size_t)k, ".%06d", (int)t[3]);
        k += snprintf(b + k, sizeof b - (size_t)k, "%s", tz);
    }
    sf_buf_putc(w->out, '"');
    sf_buf_append(w->out, b, (size_t)k);
    sf_buf_putc(w->out, '"');
    return 0;
}

static int jw_rich(jw *w, const sf_mp_item *it, int depth, size_t at, uint32_t n)
{
    sf_mp_item x;
    switch (it->ext_type) {
    case SF_EXT_BIGINT:
        if (n != 1)
            return jw_bad_ext(w, it, at);
        if (jw_read(w, &x) < 0)
            return -1;
        if (x.kind != SF_MP_STR || !sf_mp_int_text_ok(x.data, x.n, SF_VALUE_MAX_INT_DIGITS))
            return jw_bad_ext(w, it, at);
        sf_buf_append(w->out, x.data, x.n);
        return 0;
    case SF_EXT_BYTEARRAY:
    case SF_EXT_DECIMAL:
        /* the bin ({"$bytes"}) or the str itself */
        if (n != 1)
            return jw_bad_ext(w, it, at);
        return jw_value(w, depth + 1);
    case SF_EXT_DATE:
    case SF_EXT_TIME:
    case SF_EXT_DATETIME:
        return jw_datetime(w, it, at, n);
    case SF_EXT_TIMEDELTA:
        return jw_timedelta(w, it, at, n);
    case SF_EXT_ENUM:
    case SF_EXT_DATACLASS:
        /* [class, name, value] -> the value; [class, fields] -> the fields */
        if (n != (it->ext_type == SF_EXT_ENUM ? 3u : 2u))
            return jw_bad_ext(w, it, at);
        for (uint32_t i = 0; i + 1 < n; i++) {
            if (jw_read(w, &x) < 0)
                return -1;
            if (x.kind != SF_MP_STR && !(i == 1 && x.kind == SF_MP_NIL)) /* a nameless Flag */
                return jw_bad_ext(w, it, at);
        }
        return jw_value(w, depth + 1);
    default:
        return jw_bad_ext(w, it, at);
    }
}

static int jw_ext(jw *w, const sf_mp_item *it, int depth, size_t at)
{
    size_t sl, sp;
    uint32_t n;
    if (it->ext_type < SF_EXT_TUPLE || it->ext_type > SF_EXT_LAST) {
        sf_set_err(w->err, w->errlen, "msgpack: unknown extension type %d at offset %zu", it->ext_type, at);
        return -1;
    }
    if (jw_depth(w, depth, at) < 0)
        return -1;
    if (jw_enter_payload(w, it, &sl, &sp, &n, at) < 0)
        return -1;
    if (it->ext_type == SF_EXT_REF) {
        sf_mp_item e;
        if (n != 2 || jw_read(w, &e) < 0 || e.kind != SF_MP_STR || e.n == 0) {
            sf_set_err(w->err, w->errlen, "msgpack: bad reference at offset %zu (expected [entity, key])", at);
            return -1;
        }
        sf_buf_puts(w->out, "{\"$ref\":[");
        if (put_json_string(w->out, e.data, e.n, 1) < 0) {
            sf_set_err(w->err, w->errlen, "msgpack: invalid UTF-8 in reference at offset %zu", at);
            return -1;
        }
        sf_buf_putc(w->out, ',');
        if (jw_value(w, depth + 1) < 0)
            return -1;
        sf_buf_puts(w->out, "]}");
    } else if (it->ext_type >= SF_EXT_BIGINT) {
        if (jw_rich(w, it, depth, at, n) < 0)
            return -1;
    } else {
        sf_buf_putc(w->out, '[');
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sf_buf_putc(w->out, ',');
            if (jw_value(w, depth + 1) < 0)
                return -1;
        }
        sf_buf_putc(w->out, ']');
    }
    return jw_leave_payload(w, it, sl, sp, at);
}

static int jw_value(jw *w, int depth)
{
    size_t at = w->pos;
    sf_mp_item it;
    if (jw_read(w, &it) < 0)
        return -1;
    sf_buf *out = w->out;
    switch (it.kind) {
    case SF_MP_NIL:
        sf_buf_puts(out, "null");
        return 0;
    case SF_MP_BOOL:
        sf_buf_puts(out, it.v.b ? "true" : "false");
        return 0;
    case SF_MP_INT:
        put_u64(out, it.v.i < 0, it.v.i < 0 ? 0 - (uint64_t)it.v.i : (uint64_t)it.v.i);
        return 0;
    case SF_MP_UINT:
        put_u64(out, 0, it.v.u);
        return 0;
    case SF_MP_FLOAT:
        sf_json_put_double(out, it.v.f);
        return 0;
    case SF_MP_STR:
        if (put_json_string(out, it.data, it.n, 1) < 0) {
            sf_set_err(w->err, w->errlen, "msgpack: invalid UTF-8 in str at offset %zu", at);
            return -1;
        }
        return 0;
    case SF_MP_BIN:
        sf_buf_puts(out, "{\"$bytes\":\"");
        sf_base64_encode(out, it.data, it.n);
        sf_buf_puts(out, "\"}");
        return 0;
    case SF_MP_ARRAY:
        if (jw_depth(w, depth, at) < 0)
            return -1;
        sf_buf_putc(out, '[');
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                sf_buf_putc(out, ',');
            if (jw_value(w, depth + 1) < 0)
                return -1;
        }
        sf_buf_putc(out, ']');
        return 0;
    case SF_MP_MAP:
        if (jw_depth(w, depth, at) < 0)
            return -1;
        sf_buf_putc(out, '{');
        for (uint32_t i = 0; i < it.n; i++) {
            if (i)
                sf_buf_putc(out, ',');
            size_t kat = w->pos;
            if (kat < w->len && (((unsigned char)w->buf[kat] & 0xe0) == 0xa0 ||
                                 ((unsigned char)w->buf[kat] >= 0xd9 && (unsigned char)w->buf[kat] <= 0xdb))) {
                if (jw_value(w, depth + 1) < 0)
                    return -1;
            } else {
                /* a non-string key: its JSON text, as a string. Keys like
                 * that inside such a key would be escaped once more per
                 * level (exponential growth); Python cannot make them
                 * (a dict is never a key), so they are refused. */
                if (w->in_key) {
                    sf_set_err(w->err, w->errlen,
                            "msgpack: non-string map key inside a map key at offset %zu (no JSON form)", kat);
                    return -1;
                }
                sf_buf key;
                sf_buf_init(&key);
                w->out = &key;
                w->in_key = 1;
                int rc = jw_value(w, depth + 1);
                w->in_key = 0;
                w->out = out;
                if (rc == 0)
                    put_json_string(out, key.data, key.len, 0);
                sf_buf_free(&key);
                if (rc < 0)
                    return -1;
            }
            sf_buf_putc(out, ':');
            if (jw_value(w, depth + 1) < 0)
                return -1;
        }
        sf_buf_putc(out, '}');
        return 0;
    case SF_MP_EXT:
        return jw_ext(w, &it, depth, at);
    default:
        sf_set_err(w->err, w->errlen, "msgpack: unexpected item at offset %zu", at);
        return -1;
    }
}

int sf_msgpack_to_json(const char *data, size_t len, sf_buf *out, char *err, size_t errlen)
{
    if (len > SF_VALUE_MAX_BYTES) {
        sf_set_err(err, errlen, "msgpack: value too large (%zu bytes, limit %u)", len, SF_VALUE_MAX_BYTES);
        return -1;
    }
    size_t start = out->len;
    jw w = {.buf = data, .len = data ? len : 0, .pos = 0, .out = out, .err = err, .errlen = errlen};
    int rc = jw_value(&w, 0);
    if (rc == 0 && w.pos != w.len) {
        sf_set_err(err, errlen, "msgpack: trailing bytes after the value at offset %zu", w.pos);
        rc = -1;
    }
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* msgpack structure check                                             */

static int mp_skip(jw *w, int depth)
{
    size_t at = w->pos;
    sf_mp_item it;
    if (jw_read(w, &it) < 0)
        return -1;
    if (it.kind == SF_MP_ARRAY || it.kind == SF_MP_MAP) {
        if (jw_depth(w, depth, at) < 0)
            return -1;
        uint64_t n = it.kind == SF_MP_MAP ? 2 * (uint64_t)it.n : it.n;
        for (uint64_t i = 0; i < n; i++)
            if (mp_skip(w, depth + 1) < 0)
                return -1;
    }
    return 0;
}

int sf_msgpack_value_len(const char *data, size_t len, size_t *vlen, char *err, size_t errlen)
{
    jw w = {.buf = data, .len = data ? len : 0, .pos = 0, .out = NULL, .err = err, .errlen = errlen};
    if (mp_skip(&w, 0) < 0)
        return -1;
    *vlen = w.pos;
    return 0;
}
