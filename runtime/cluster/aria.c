/* aria.c: reservations, conflict flags, decisions and the equivalent serial
 * order of Aria-style batches (aria.h). Open addressing with linear probing;
 * keys live in one buffer that is reset per batch. */
#include "aria.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stateflow/sf_util.h"

#define EMPTY UINT32_MAX

void sf_aria_init(sf_aria_table *t)
{
    memset(t, 0, sizeof(*t));
    sf_buf_init(&t->keys);
}

void sf_aria_clear(sf_aria_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        t->slots[i].entity = EMPTY;
    t->count = 0;
    sf_buf_reset(&t->keys);
}

void sf_aria_free(sf_aria_table *t)
{
    free(t->slots);
    sf_buf_free(&t->keys);
    memset(t, 0, sizeof(*t));
}

static int slot_is(const sf_aria_table *t, const sf_aria_slot *s, uint32_t entity, uint64_t hash,
                   const char *key, size_t keylen)
{
    return s->hash == hash && s->entity == entity && s->key_len == keylen &&
           memcmp(t->keys.data + s->key_off, key, keylen) == 0;
}

static sf_aria_slot *lookup(const sf_aria_table *t, uint32_t entity, uint64_t hash, const char *key,
                            size_t keylen)
{
    if (t->count == 0)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        sf_aria_slot *s = &t->slots[i];
        if (s->entity == EMPTY)
            return NULL;
        if (slot_is(t, s, entity, hash, key, keylen))
            return s;
    }
}

static void grow(sf_aria_table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 256;
    sf_aria_slot *ns = sf_xcalloc(ncap, sizeof(sf_aria_slot));
    for (size_t i = 0; i < ncap; i++)
        ns[i].entity = EMPTY;
    for (size_t i = 0; i < t->cap; i++) {
        sf_aria_slot *s = &t->slots[i];
        if (s->entity == EMPTY)
            continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].entity != EMPTY)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
}

void sf_aria_reserve(sf_aria_table *t, uint32_t entity, uint64_t hash, const char *key,
                     size_t keylen, uint64_t txid, int write)
{
    sf_aria_slot *s = lookup(t, entity, hash, key, keylen);
    if (!s) {
        if ((t->count + 1) * 2 > t->cap)
            grow(t);
        size_t mask = t->cap - 1, i = (size_t)hash & mask;
        while (t->slots[i].entity != EMPTY)
            i = (i + 1) & mask;
        s = &t->slots[i];
        s->entity = entity;
        s->hash = hash;
        s->key_off = t->keys.len;
        s->key_len = (uint32_t)keylen;
        s->min_w = s->min_r = SF_ARIA_NONE;
        sf_buf_append(&t->keys, key, keylen);
        t->count++;
    }
    if (write) {
        if (txid < s->min_w)
            s->min_w = txid;
    } else if (txid < s->min_r)
        s->min_r = txid;
}

uint64_t sf_aria_min_reader(const sf_aria_table *t, uint32_t entity, uint64_t hash,
                            const char *key, size_t keylen)
{
    const sf_aria_slot *s = lookup(t, entity, hash, key, keylen);
    return s ? s->min_r : SF_ARIA_NONE;
}

uint64_t sf_aria_min_writer(const sf_aria_table *t, uint32_t entity, uint64_t hash,
                            const char *key, size_t keylen)
{
    const sf_aria_slot *s = lookup(t, entity, hash, key, keylen);
    return s ? s->min_w : SF_ARIA_NONE;
}

unsigned sf_aria_flags(const sf_aria_table *t, uint32_t entity, uint64_t hash, const char *key,
                       size_t keylen, uint64_t txid, int write)
{
    const sf_aria_slot *s = lookup(t, entity, hash, key, keylen);
    if (!s)
        return 0;
    unsigned f = 0;
    if (write) {
        if (s->min_w < txid)
            f |= SF_ARIA_WAW;
        if (s->min_r < txid)
            f |= SF_ARIA_WAR;
    } else if (s->min_w < txid)
        f |= SF_ARIA_RAW;
    return f;
}

int sf_aria_decide(unsigned flags, int logic_abort)
{
    if (logic_abort || (flags & SF_ARIA_FAILED))
        return (flags & SF_ARIA_RAW) ? SF_ARIA_RERUN : SF_ARIA_LOGIC_ABORT;
    if (flags & SF_ARIA_WAW)
        return SF_ARIA_RERUN;
    if ((flags & SF_ARIA_RAW) && (flags & SF_ARIA_WAR))
        return SF_ARIA_RERUN;
    return SF_ARIA_COMMIT;
}

int sf_aria_may_commit(unsigned flags, int logic_abort)
{
    return sf_aria_decide(flags, logic_abort) == SF_ARIA_COMMIT;
}

/* Group of a committed transaction in the serial order. */
static int group(unsigned f)
{
    if (f & SF_ARIA_RAW)
        return 0;
    if (f & SF_ARIA_WAR)
        return 2;
    return 1;
}

typedef struct ord_ctx {
    const uint64_t *txids;
    const unsigned *flags;
} ord_ctx;

static int before(const ord_ctx *c, size_t a, size_t b)
{
    int ga = group(c->flags[a]), gb = group(c->flags[b]);
    if (ga != gb)
        return ga < gb;
    if (ga == 0)
        return c->txids[a] > c->txids[b];
    return c->txids[a] < c->txids[b];
}

void sf_aria_serial_order(const uint64_t *txids, const unsigned *flags, size_t n, size_t *order)
{
    ord_ctx c = {txids, flags};
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* Insertion sort on runs that are mostly sorted already (batches arrive
     * in id order; only the RAW group is reversed), then fine for the
     * sizes of a batch; fall back to a merge for large n. */
    if (n <= 64) {
        for (size_t i = 1; i < n; i++) {
            size_t v = order[i], j = i;
            while (j > 0 && before(&c, v, order[j - 1])) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        return;
    }
    size_t *tmp = sf_xcalloc(n, sizeof(size_t));
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = before(&c, order[j], order[i]) ? order[j++] : order[i++];
            while (i < mid)
                tmp[k++] = order[i++];
            while (j < hi)
                tmp[k++] = order[j++];
        }
        memcpy(order, tmp, n * sizeof(size_t));
    }
    free(tmp);
}
