/* durlog_rec.c: encoders and checked decoders of the coordinator's
 * durable-log record payloads (see durlog_rec.h). */
#include "durlog_rec.h"

#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_util.h"

static void put_u8(sf_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    sf_buf_append(b, &c, 1);
}

static void put_u32(sf_buf *b, uint32_t v)
{
    unsigned char p[4];
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    sf_buf_append(b, p, 4);
}

static void put_u64(sf_buf *b, uint64_t v)
{
    unsigned char p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    sf_buf_append(b, p, 8);
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The layout byte and the exact length. */
static int check(const unsigned char *p, size_t len, size_t want, const char *what, char *err, size_t errlen)
{
    if (len < 1 || p[0] != SF_DURLOG_REC_LAYOUT) {
        sf_set_err(err, errlen, "%s record: unknown layout %d", what, len ? p[0] : -1);
        return -1;
    }
    if (len != want) {
        sf_set_err(err, errlen, "%s record: %zu bytes, expected %zu", what, len, want);
        return -1;
    }
    return 0;
}

void sf_durlog_batch_encode(const sf_durlog_batch *b, sf_buf *out)
{
    put_u8(out, SF_DURLOG_REC_LAYOUT);
    put_u64(out, b->batch_id);
    put_u64(out, b->first_pos);
    put_u32(out, b->count);
    put_u32(out, b->nreruns);
    for (uint32_t i = 0; i < b->nreruns; i++)
        put_u64(out, b->reruns[i]);
}

int sf_durlog_batch_decode(const void *data, size_t len, sf_durlog_batch *b, char *err, size_t errlen)
{
    const unsigned char *p = data;
    memset(b, 0, sizeof *b);
    if (check(p, len, len < 25 ? 25 : len, "batch", err, errlen) < 0)
        return -1;
    uint32_t n = get_u32(p + 21);
    if (n > SF_DURLOG_RERUNS_MAX || len != 25 + 8 * (size_t)n) {
        sf_set_err(err, errlen, "batch record: %zu bytes do not hold %u reruns", len, n);
        return -1;
    }
    b->batch_id = get_u64(p + 1);
    b->first_pos = get_u64(p + 9);
    b->count = get_u32(p + 17);
    b->nreruns = n;
    if (n) {
        b->reruns = sf_xmalloc(n * sizeof *b->reruns);
        for (uint32_t i = 0; i < n; i++)
            b->reruns[i] = get_u64(p + 25 + 8 * (size_t)i);
    }
    return 0;
}

void sf_durlog_batch_free(sf_durlog_batch *b)
{
    free(b->reruns);
    b->reruns = NULL;
    b->nreruns = 0;
}

void sf_durlog_outcome_encode(const sf_durlog_outcome *o, sf_buf *out)
{
    put_u8(out, SF_DURLOG_REC_LAYOUT);
    put_u64(out, o->batch_id);
    put_u64(out, o->position);
    put_u32(out, o->kind);
}

int sf_durlog_outcome_decode(const void *data, size_t len, sf_durlog_outcome *o, char *err, size_t errlen)
{
    const unsigned char *p = data;
    memset(o, 0, sizeof *o);
    if (check(p, len, 21, "outcome", err, errlen) < 0)
        return -1;
    uint32_t kind = get_u32(p + 17);
    if (kind != SF_DURLOG_TIME_LIMIT) {
        sf_set_err(err, errlen, "outcome record: unknown kind %u", kind);
        return -1;
    }
    o->batch_id = get_u64(p + 1);
    o->position = get_u64(p + 9);
    o->kind = kind;
    return 0;
}

void sf_durlog_batch_time_encode(const sf_durlog_batch_time *t, sf_buf *out)
{
    put_u8(out, SF_DURLOG_REC_LAYOUT);
    put_u64(out, t->batch_id);
    put_u64(out, (uint64_t)t->unix_ns);
}

int sf_durlog_batch_time_decode(const void *data, size_t len, sf_durlog_batch_time *t, char *err, size_t errlen)
{
    const unsigned char *p = data;
    memset(t, 0, sizeof *t);
    if (check(p, len, 17, "batch time", err, errlen) < 0)
        return -1;
    t->batch_id = get_u64(p + 1);
    uint64_t u = get_u64(p + 9);
    memcpy(&t->unix_ns, &u, sizeof u); /* two's complement, no overflow */
    return 0;
}
