/* mpread.h: a small bounds-checked msgpack item reader shared by the value
 * codecs (json.c, pycodec.c). It reads one item header at a time; str, bin
 * and ext items carry a pointer to their payload (checked to lie inside the
 * buffer), arrays and maps their element count (checked to be plausible: at
 * least one byte per element remains). Header-only so the hot decoders can
 * inline it. Also the two helpers the encoders use to write a header once
 * the size of what follows is known. Internal to runtime/. */
#ifndef SF_RUNTIME_MPREAD_H
#define SF_RUNTIME_MPREAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stateflow/sf_buf.h"

enum sf_mp_kind {
    SF_MP_NIL,
    SF_MP_BOOL,
    SF_MP_INT,    /* any integer that fits in int64: v.i */
    SF_MP_UINT,   /* uint64 above INT64_MAX: v.u */
    SF_MP_FLOAT,  /* float32 or float64, widened: v.f */
    SF_MP_STR,    /* data, n */
    SF_MP_BIN,    /* data, n */
    SF_MP_ARRAY,  /* n elements follow */
    SF_MP_MAP,    /* n key/value pairs follow */
    SF_MP_EXT,    /* ext_type, data, n */
};

/* sf_mp_read results besides 0 */
#define SF_MP_ETRUNC (-1) /* the buffer ends inside the item */
#define SF_MP_EBAD (-2)   /* the byte 0xc1, never used by msgpack */

typedef struct sf_mp_item {
    int kind;
    int8_t ext_type;
    uint32_t n;
    const char *data;
    union {
        int b;
        int64_t i;
        uint64_t u;
        double f;
    } v;
} sf_mp_item;

static inline uint16_t sf_mp_be16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t sf_mp_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t sf_mp_be64(const unsigned char *p)
{
    return ((uint64_t)sf_mp_be32(p) << 32) | sf_mp_be32(p + 4);
}

/* Read the item header at buf[*pos]; on success *pos moves past the header
 * and, for str/bin/ext, past the payload too. */
static inline int sf_mp_read(const char *buf, size_t len, size_t *pos, sf_mp_item *it)
{
    const unsigned char *p = (const unsigned char *)buf + *pos;
    size_t avail = len - *pos;
    if (avail < 1)
        return SF_MP_ETRUNC;
    unsigned c = p[0];
    size_t hl = 1;      /* header length */
    size_t body = 0;    /* payload length for str/bin/ext */
    it->n = 0;
    it->data = NULL;
    if (c <= 0x7f) {
        it->kind = SF_MP_INT;
        it->v.i = (int64_t)c;
    } else if (c <= 0x8f) {
        it->kind = SF_MP_MAP;
        it->n = c & 0x0f;
    } else if (c <= 0x9f) {
        it->kind = SF_MP_ARRAY;
        it->n = c & 0x0f;
    } else if (c <= 0xbf) {
        it->kind = SF_MP_STR;
        body = c & 0x1f;
    } else if (c >= 0xe0) {
        it->kind = SF_MP_INT;
        it->v.i = (int64_t)(int8_t)c;
    } else {
        /* 0xc0 .. 0xdf: fixed headers with a size or value after them */
        static const unsigned char extra[32] = {
            /* c0 nil */ 0, /* c1 */ 0, /* c2 c3 bool */ 0, 0,
            /* c4-c6 bin8/16/32 */ 1, 2, 4,
            /* c7-c9 ext8/16/32 */ 2, 3, 5,
            /* ca cb float */ 4, 8,
            /* cc-cf uint */ 1, 2, 4, 8,
            /* d0-d3 int */ 1, 2, 4, 8,
            /* d4-d8 fixext */ 1, 1, 1, 1, 1,
            /* d9-db str */ 1, 2, 4,
            /* dc dd array */ 2, 4,
            /* de df map */ 2, 4,
        };
        if (c == 0xc1)
            return SF_MP_EBAD;
        hl = 1 + (size_t)extra[c - 0xc0];
        if (avail < hl)
            return SF_MP_ETRUNC;
        const unsigned char *q = p + 1;
        switch (c) {
        case 0xc0: it->kind = SF_MP_NIL; break;
        case 0xc2: it->kind = SF_MP_BOOL; it->v.b = 0; break;
        case 0xc3: it->kind = SF_MP_BOOL; it->v.b = 1; break;
        case 0xc4: it->kind = SF_MP_BIN; body = q[0]; break;
        case 0xc5: it->kind = SF_MP_BIN; body = sf_mp_be16(q); break;
        case 0xc6: it->kind = SF_MP_BIN; body = sf_mp_be32(q); break;
        case 0xc7: it->kind = SF_MP_EXT; body = q[0]; it->ext_type = (int8_t)q[1]; break;
        case 0xc8: it->kind = SF_MP_EXT; body = sf_mp_be16(q); it->ext_type = (int8_t)q[2]; break;
        case 0xc9: it->kind = SF_MP_EXT; body = sf_mp_be32(q); it->ext_type = (int8_t)q[4]; break;
        case 0xca: {
            uint32_t u = sf_mp_be32(q);
            float f;
            memcpy(&f, &u, 4);
            it->kind = SF_MP_FLOAT;
            it->v.f = (double)f;
            break;
        }
        case 0xcb: {
            uint64_t u = sf_mp_be64(q);
            double d;
            memcpy(&d, &u, 8);
            it->kind = SF_MP_FLOAT;
            it->v.f = d;
            break;
        }
        case 0xcc: it->kind = SF_MP_INT; it->v.i = q[0]; break;
        case 0xcd: it->kind = SF_MP_INT; it->v.i = sf_mp_be16(q); break;
        case 0xce: it->kind = SF_MP_INT; it->v.i = sf_mp_be32(q); break;
        case 0xcf: {
            uint64_t u = sf_mp_be64(q);
            if (u > (uint64_t)INT64_MAX) {
                it->kind = SF_MP_UINT;
                it->v.u = u;
            } else {
                it->kind = SF_MP_INT;
                it->v.i = (int64_t)u;
            }
            break;
        }
        case 0xd0: it->kind = SF_MP_INT; it->v.i = (int8_t)q[0]; break;
        case 0xd1: it->kind = SF_MP_INT; it->v.i = (int16_t)sf_mp_be16(q); break;
        case 0xd2: it->kind = SF_MP_INT; it->v.i = (int32_t)sf_mp_be32(q); break;
        case 0xd3: it->kind = SF_MP_INT; it->v.i = (int64_t)sf_mp_be64(q); break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            it->kind = SF_MP_EXT;
            it->ext_type = (int8_t)q[0];
            body = (size_t)1 << (c - 0xd4);
            break;
        case 0xd9: it->kind = SF_MP_STR; body = q[0]; break;
        case 0xda: it->kind = SF_MP_STR; body = sf_mp_be16(q); break;
        case 0xdb: it->kind = SF_MP_STR; body = sf_mp_be32(q); break;
        case 0xdc: it->kind = SF_MP_ARRAY; it->n = sf_mp_be16(q); break;
        case 0xdd: it->kind = SF_MP_ARRAY; it->n = sf_mp_be32(q); break;
        case 0xde: it->kind = SF_MP_MAP; it->n = sf_mp_be16(q); break;
        case 0xdf: it->kind = SF_MP_MAP; it->n = sf_mp_be32(q); break;
        default: return SF_MP_EBAD;
        }
    }
    switch (it->kind) {
    case SF_MP_STR:
    case SF_MP_BIN:
    case SF_MP_EXT:
        if (avail - hl < body)
            return SF_MP_ETRUNC;
        it->data = (const char *)p + hl;
        it->n = (uint32_t)body;
        *pos += hl + body;
        return 0;
    case SF_MP_ARRAY:
        if (avail - hl < (size_t)it->n)
            return SF_MP_ETRUNC;
        break;
    case SF_MP_MAP:
        if ((avail - hl) / 2 < (size_t)it->n)
            return SF_MP_ETRUNC;
        break;
    default:
        break;
    }
    *pos += hl;
    return 0;
}

/* Change the gap out[at .. at+oldl) to newl bytes, moving what follows. */
/* Whether the item it (a string) is exactly the C string s. */
static inline int sf_mp_str_is(const sf_mp_item *it, const char *s)
{
    size_t n = strlen(s);
    return it->kind == SF_MP_STR && it->n == n && memcmp(it->data, s, n) == 0;
}

static inline void sf_mp_resize_gap(sf_buf *out, size_t at, size_t oldl, size_t newl)
{
    if (newl == oldl)
        return;
    if (newl > oldl)
        sf_buf_reserve(out, newl - oldl);
    memmove(out->data + at + newl, out->data + at + oldl, out->len - at - oldl);
    out->len = out->len - oldl + newl;
    out->data[out->len] = '\0';
}

/* Write into h (6 bytes) the shortest ext header for a payload of n bytes,
 * as msgpack-c's msgpack_pack_ext does (fixext for 1, 2, 4, 8, 16). Returns
 * the header's length. */
static inline size_t sf_mp_ext_header(unsigned char *h, size_t n, int8_t type)
{
    switch (n) {
    case 1: h[0] = 0xd4; h[1] = (unsigned char)type; return 2;
    case 2: h[0] = 0xd5; h[1] = (unsigned char)type; return 2;
    case 4: h[0] = 0xd6; h[1] = (unsigned char)type; return 2;
    case 8: h[0] = 0xd7; h[1] = (unsigned char)type; return 2;
    case 16: h[0] = 0xd8; h[1] = (unsigned char)type; return 2;
    default: break;
    }
    if (n <= 0xff) {
        h[0] = 0xc7;
        h[1] = (unsigned char)n;
        h[2] = (unsigned char)type;
        return 3;
    }
    if (n <= 0xffff) {
        h[0] = 0xc8;
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        h[3] = (unsigned char)type;
        return 4;
    }
    h[0] = 0xc9;
    h[1] = (unsigned char)(n >> 24);
    h[2] = (unsigned char)(n >> 16);
    h[3] = (unsigned char)(n >> 8);
    h[4] = (unsigned char)n;
    h[5] = (unsigned char)type;
    return 6;
}

/* Replace the placeholder of oldl bytes at hpos by the ext header for the
 * payload that follows it up to the end of out. */
static inline void sf_mp_patch_ext_header(sf_buf *out, size_t hpos, size_t oldl, int8_t type)
{
    unsigned char h[6];
    size_t hl = sf_mp_ext_header(h, out->len - hpos - oldl, type);
    sf_mp_resize_gap(out, hpos, oldl, hl);
    memcpy(out->data + hpos, h, hl);
}

/* Whether s[0..n) is the canonical decimal text of an integer ("-?[1-9][0-9]*"
 * or "0") of at most SF_VALUE_MAX_INT_DIGITS digits: the payload of an
 * SF_EXT_BIGINT (sf_value.h), written as a JSON number by json.c. */
static inline int sf_mp_int_text_ok(const char *s, size_t n, size_t max_digits)
{
    size_t i = n > 0 && s[0] == '-';
    if (i == n || n - i > max_digits || (s[i] == '0' && n - i > 1))
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

#endif
