/* frame.c: the wire frame (see frame.h): encoder helpers, the structural
 * payload check built on mpread.h, and the incremental decoder. */
#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpread.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_util.h"

/* Decoder buffers above this size are released when they become empty, so
 * one large frame does not pin its memory for the life of a connection. */
#define SF_FRAME_SHRINK_ABOVE (1u << 20)



static void put_be32(char *p, uint32_t v)
{
    unsigned char *q = (unsigned char *)p;
    q[0] = (unsigned char)(v >> 24);
    q[1] = (unsigned char)(v >> 16);
    q[2] = (unsigned char)(v >> 8);
    q[3] = (unsigned char)v;
}

/* ---- encoding ---- */

size_t sf_frame_begin(sf_buf *b)
{
    size_t at = b->len;
    static const char zero[SF_FRAME_HDR] = {0};
    sf_buf_append(b, zero, SF_FRAME_HDR);
    return at;
}

int sf_frame_end(sf_buf *b, size_t start, char *err, size_t errlen)
{
    if (start > b->len || b->len - start < SF_FRAME_HDR) {
        sf_set_err(err, errlen, "frame start %zu is not a begun frame", start);
        return -1;
    }
    size_t n = b->len - start - SF_FRAME_HDR;
    if (n == 0 || n > SF_FRAME_MAX) {
        if (n == 0)
            sf_set_err(err, errlen, "empty frame payload");
        else
            sf_set_err(err, errlen, "frame payload of %zu bytes is over the %u byte limit", n, SF_FRAME_MAX);
        b->len = start;
        if (b->data)
            b->data[b->len] = '\0';
        return -1;
    }
    put_be32(b->data + start, (uint32_t)n);
    return 0;
}

void sf_frame_packer_init(msgpack_packer *pk, sf_buf *b) { sf_buf_packer_init(pk, b); }

int sf_frame_append(sf_buf *b, const void *payload, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > SF_FRAME_MAX) {
        if (len == 0)
            sf_set_err(err, errlen, "empty frame payload");
        else
            sf_set_err(err, errlen, "frame payload of %zu bytes is over the %u byte limit", len, SF_FRAME_MAX);
        return -1;
    }
    size_t at = sf_frame_begin(b);
    sf_buf_append(b, payload, len);
    put_be32(b->data + at, (uint32_t)len);
    return 0;
}

/* ---- checking ---- */

static int read_item(const char *p, size_t len, size_t *pos, sf_mp_item *it, char *err, size_t errlen)
{
    int r = sf_mp_read(p, len, pos, it);
    if (r == SF_MP_ETRUNC) {
        sf_set_err(err, errlen, "truncated msgpack at byte %zu", *pos);
        return -1;
    }
    if (r != 0) {
        sf_set_err(err, errlen, "invalid msgpack byte 0x%02x at byte %zu", (unsigned char)p[*pos], *pos);
        return -1;
    }
    return 0;
}

int sf_frame_check(const char *p, size_t len, int *type, char *err, size_t errlen)
{
    size_t pos = 0;
    sf_mp_item it;
    if (len == 0) {
        sf_set_err(err, errlen, "empty payload");
        return -1;
    }
    if (read_item(p, len, &pos, &it, err, errlen) != 0)
        return -1;
    if (it.kind != SF_MP_ARRAY) {
        sf_set_err(err, errlen, "payload is not a msgpack array");
        return -1;
    }
    if (it.n == 0) {
        sf_set_err(err, errlen, "payload is an empty array");
        return -1;
    }
    /* remaining items of each open container; [0] is the frame array */
    uint64_t left[SF_FRAME_MAX_DEPTH];
    int depth = 1;
    left[0] = it.n - 1;
    if (read_item(p, len, &pos, &it, err, errlen) != 0)
        return -1;
    if (it.kind != SF_MP_INT || it.v.i < 1 || it.v.i > INT32_MAX) {
        sf_set_err(err, errlen, "frame type is not a positive integer");
        return -1;
    }
    int t = (int)it.v.i;
    while (depth > 0) {
        if (left[depth - 1] == 0) {
            depth--;
            continue;
        }
        left[depth - 1]--;
        if (read_item(p, len, &pos, &it, err, errlen) != 0)
            return -1;
        uint64_t n = 0;
        if (it.kind == SF_MP_ARRAY)
            n = it.n;
        else if (it.kind == SF_MP_MAP)
            n = (uint64_t)it.n * 2;
        else
            continue;
        if (n == 0)
            continue;
        if (depth == SF_FRAME_MAX_DEPTH) {
            sf_set_err(err, errlen, "msgpack nested deeper than %d", SF_FRAME_MAX_DEPTH);
            return -1;
        }
        left[depth++] = n;
    }
    if (pos != len) {
        sf_set_err(err, errlen, "%zu trailing bytes after the msgpack array", len - pos);
        return -1;
    }
    if (type)
        *type = t;
    return 0;
}

/* ---- decoding ---- */

void sf_frame_decoder_init(sf_frame_decoder *d)
{
    memset(d, 0, sizeof(*d));
    sf_buf_init(&d->buf);
    d->limit = SF_FRAME_MAX;
}

void sf_frame_decoder_free(sf_frame_decoder *d)
{
    sf_buf_free(&d->buf);
    d->off = 0;
}

void sf_frame_decoder_set_limit(sf_frame_decoder *d, size_t limit)
{
    d->limit = limit > SF_FRAME_MAX ? SF_FRAME_MAX : limit;
}

char *sf_frame_decoder_reserve(sf_frame_decoder *d, size_t want, size_t *avail)
{
    sf_buf *b = &d->buf;
    if (d->off > 0) {
        /* drop consumed bytes; payload pointers handed out become invalid */
        size_t keep = b->len - d->off;
        if (keep == 0 && b->cap > SF_FRAME_SHRINK_ABOVE)
            sf_buf_free(b);
        else if (keep > 0)
            memmove(b->data, b->data + d->off, keep);
        b->len = keep;
        d->off = 0;
    }
    if (want == 0)
        want = 1;
    sf_buf_reserve(b, want);
    *avail = b->cap - b->len - 1; /* keep room for sf_buf's NUL */
    return b->data + b->len;
}

void sf_frame_decoder_wrote(sf_frame_decoder *d, size_t n)
{
    sf_buf *b = &d->buf;
    if (!b->data)
        return;
    if (n > b->cap - b->len - 1)
        n = b->cap - b->len - 1; /* never trust a caller past the room given */
    b->len += n;
    b->data[b->len] = '\0';
}

void sf_frame_decoder_feed(sf_frame_decoder *d, const void *data, size_t n)
{
    if (n == 0)
        return;
    size_t avail;
    char *p = sf_frame_decoder_reserve(d, n, &avail);
    memcpy(p, data, n);
    sf_frame_decoder_wrote(d, n);
}

static int fail(sf_frame_decoder *d)
{
    d->failed = 1;
    return -1;
}

int sf_frame_decoder_next(sf_frame_decoder *d, sf_frame *f)
{
    if (d->failed)
        return -1;
    size_t avail = d->buf.len - d->off;
    if (avail < SF_FRAME_HDR)
        return 0;
    const char *h = d->buf.data + d->off;
    uint32_t n = sf_mp_be32((const unsigned char *)h);
    if (n == 0) {
        snprintf(d->err, sizeof d->err, "frame length 0");
        return fail(d);
    }
    if (n > d->limit) {
        snprintf(d->err, sizeof d->err, "frame length %u over the %zu byte limit", n, d->limit);
        return fail(d);
    }
    if (avail - SF_FRAME_HDR < n)
        return 0;
    char msg[120];
    int type;
    if (sf_frame_check(h + SF_FRAME_HDR, n, &type, msg, sizeof msg) != 0) {
        snprintf(d->err, sizeof d->err, "bad frame payload: %s", msg);
        return fail(d);
    }
    f->type = type;
    f->payload = h + SF_FRAME_HDR;
    f->len = n;
    d->off += SF_FRAME_HDR + n;
    return 1;
}

const char *sf_frame_decoder_error(const sf_frame_decoder *d) { return d->failed ? d->err : ""; }

size_t sf_frame_decoder_pending(const sf_frame_decoder *d) { return d->buf.len - d->off; }
