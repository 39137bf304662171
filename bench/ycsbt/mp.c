/* mp.c: the msgpack item reader of mp.h. */
#include "mp.h"

#include <string.h>

#define MP_MAX_DEPTH 64

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int yc_mp_read(const char *buf, size_t len, size_t *pos, yc_mp_item *it)
{
    if (*pos >= len)
        return -1;
    const unsigned char *p = (const unsigned char *)buf + *pos;
    size_t avail = len - *pos;
    unsigned c = p[0];
    size_t hl = 1, body = 0;
    memset(it, 0, sizeof(*it));
    if (c <= 0x7f) {
        it->kind = YC_MP_INT;
        it->i = c;
    } else if (c <= 0x8f) {
        it->kind = YC_MP_MAP;
        it->n = c & 0x0f;
    } else if (c <= 0x9f) {
        it->kind = YC_MP_ARRAY;
        it->n = c & 0x0f;
    } else if (c <= 0xbf) {
        it->kind = YC_MP_STR;
        body = c & 0x1f;
    } else if (c >= 0xe0) {
        it->kind = YC_MP_INT;
        it->i = (int8_t)c;
    } else {
        int w;
        switch (c) {
        case 0xc0: it->kind = YC_MP_NIL; break;
        case 0xc2: case 0xc3: it->kind = YC_MP_BOOL; it->i = c == 0xc3; break;
        case 0xc4: case 0xc5: case 0xc6:
            w = 1 << (c - 0xc4);
            if (avail < 1u + (size_t)w)
                return -1;
            it->kind = YC_MP_BIN;
            body = (size_t)be(p + 1, w);
            hl = 1 + (size_t)w;
            break;
        case 0xc7: case 0xc8: case 0xc9:
            w = 1 << (c - 0xc7);
            if (avail < 2u + (size_t)w)
                return -1;
            it->kind = YC_MP_EXT;
            body = (size_t)be(p + 1, w);
            hl = 2 + (size_t)w;
            break;
        case 0xca: case 0xcb:
            w = c == 0xca ? 4 : 8;
            if (avail < 1u + (size_t)w)
                return -1;
            it->kind = YC_MP_FLOAT;
            hl = 1 + (size_t)w;
            break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            w = 1 << (c - 0xcc);
            if (avail < 1u + (size_t)w)
                return -1;
            uint64_t u = be(p + 1, w);
            it->kind = YC_MP_INT;
            it->i = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
            hl = 1 + (size_t)w;
            break;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            w = 1 << (c - 0xd0);
            if (avail < 1u + (size_t)w)
                return -1;
            uint64_t u = be(p + 1, w);
            int shift = 64 - 8 * w;
            it->kind = YC_MP_INT;
            it->i = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
            hl = 1 + (size_t)w;
            break;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            it->kind = YC_MP_EXT;
            body = (size_t)1 << (c - 0xd4);
            hl = 2;
            break;
        case 0xd9: case 0xda: case 0xdb:
            w = 1 << (c - 0xd9);
            if (avail < 1u + (size_t)w)
                return -1;
            it->kind = YC_MP_STR;
            body = (size_t)be(p + 1, w);
            hl = 1 + (size_t)w;
            break;
        case 0xdc: case 0xdd: case 0xde: case 0xdf:
            w = (c == 0xdc || c == 0xde) ? 2 : 4;
            if (avail < 1u + (size_t)w)
                return -1;
            it->kind = c <= 0xdd ? YC_MP_ARRAY : YC_MP_MAP;
            it->n = (uint32_t)be(p + 1, w);
            hl = 1 + (size_t)w;
            break;
        default: /* 0xc1 */
            return -1;
        }
    }
    if (avail < hl || avail - hl < body)
        return -1;
    if (it->kind == YC_MP_STR || it->kind == YC_MP_BIN || it->kind == YC_MP_EXT) {
        it->data = (const char *)p + hl;
        it->n = (uint32_t)body;
    }
    *pos += hl + body;
    return 0;
}

static int skip(const char *buf, size_t len, size_t *pos, int depth)
{
    yc_mp_item it;
    if (yc_mp_read(buf, len, pos, &it) < 0)
        return -1;
    if (it.kind != YC_MP_ARRAY && it.kind != YC_MP_MAP)
        return 0;
    if (depth >= MP_MAX_DEPTH)
        return -1;
    uint64_t items = it.kind == YC_MP_MAP ? 2ull * it.n : it.n;
    if (items > len - *pos) /* every element takes a byte at least */
        return -1;
    for (uint64_t i = 0; i < items; i++)
        if (skip(buf, len, pos, depth + 1) < 0)
            return -1;
    return 0;
}

int yc_mp_skip(const char *buf, size_t len, size_t *pos) { return skip(buf, len, pos, 0); }
