/* store.c: the in-memory state store (see store.h): an open-addressing hash
 * table over (entity, key bytes) with each entry's key and value in one
 * malloc'd block. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stateflow/sf_util.h"

struct sf_store_slot {
    uint64_t hash;
    char *mem;       /* key bytes then value bytes; NULL: empty slot */
    size_t keylen;
    size_t vallen;
    size_t memcap;
    uint64_t version;
    uint32_t entity;
};

#define MIN_CAP 16

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t sf_store_hash(uint32_t entity, const char *key, size_t keylen)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)entity << 32) ^ (uint64_t)keylen;
    while (keylen >= 8) {
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        p += 8;
        keylen -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < keylen; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0x100000001b3ULL;
    return mix(h);
}

uint64_t sf_partition_hash(const char *entity, const char *key, size_t keylen)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)entity; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= 0; /* the separator byte */
    h *= 0x100000001b3ULL;
    const unsigned char *k = (const unsigned char *)key;
    for (size_t i = 0; i < keylen; i++) {
        h ^= k[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sf_store_init(sf_store *s)
{
    memset(s, 0, sizeof(*s));
}

void sf_store_clear(sf_store *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i].mem);
        s->slots[i].mem = NULL;
    }
    s->count = 0;
}

void sf_store_free(sf_store *s)
{
    sf_store_clear(s);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

size_t sf_store_count(const sf_store *s) { return s->count; }

/* Slot index of (hash, entity, key), or the empty slot where it would go. */
static size_t find(const sf_store *s, uint64_t hash, uint32_t entity, const char *key,
                   size_t keylen)
{
    size_t mask = s->cap - 1, i = (size_t)hash & mask;
    for (;;) {
        const sf_store_slot *sl = &s->slots[i];
        if (!sl->mem)
            return i;
        if (sl->hash == hash && sl->entity == entity && sl->keylen == keylen &&
            memcmp(sl->mem, key, keylen) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static void fill_item(const sf_store_slot *sl, sf_store_item *item)
{
    if (!item)
        return;
    item->entity = sl->entity;
    item->key = sl->mem;
    item->keylen = sl->keylen;
    item->val = sl->mem + sl->keylen;
    item->vallen = sl->vallen;
    item->version = sl->version;
}

int sf_store_get_h(const sf_store *s, uint64_t hash, uint32_t entity, const char *key,
                   size_t keylen, sf_store_item *item)
{
    if (s->count == 0)
        return 0;
    const sf_store_slot *sl = &s->slots[find(s, hash, entity, key, keylen)];
    if (!sl->mem)
        return 0;
    fill_item(sl, item);
    return 1;
}

int sf_store_get(const sf_store *s, uint32_t entity, const char *key, size_t keylen,
                 sf_store_item *item)
{
    return sf_store_get_h(s, sf_store_hash(entity, key, keylen), entity, key, keylen, item);
}

int sf_store_contains(const sf_store *s, uint32_t entity, const char *key, size_t keylen)
{
    return sf_store_get(s, entity, key, keylen, NULL);
}

static void grow(sf_store *s)
{
    size_t ncap = s->cap ? s->cap * 2 : MIN_CAP;
    sf_store_slot *old = s->slots;
    size_t ocap = s->cap;
    s->slots = sf_xmalloc(ncap * sizeof(sf_store_slot));
    memset(s->slots, 0, ncap * sizeof(sf_store_slot));
    s->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].mem)
            continue;
        size_t j = (size_t)old[i].hash & (ncap - 1);
        while (s->slots[j].mem)
            j = (j + 1) & (ncap - 1);
        s->slots[j] = old[i];
    }
    free(old);
}

uint64_t sf_store_put_h(sf_store *s, uint64_t hash, uint32_t entity, const char *key,
                        size_t keylen, const char *val, size_t vallen)
{
    sf_store_slot *sl = s->cap ? &s->slots[find(s, hash, entity, key, keylen)] : NULL;
    /* A new entry keeps the load factor at or below 3/4. */
    if (!sl || (!sl->mem && (s->count + 1) * 4 > s->cap * 3)) {
        grow(s);
        sl = &s->slots[find(s, hash, entity, key, keylen)];
    }
    size_t need = keylen + vallen;
    if (!sl->mem) {
        sl->memcap = need;
        sl->mem = sf_xmalloc(need);
        memcpy(sl->mem, key, keylen);
        sl->hash = hash;
        sl->entity = entity;
        sl->keylen = keylen;
        s->count++;
    } else if (need > sl->memcap || need * 2 < sl->memcap) {
        /* Reallocate when too small, or when far too big (state shrank). */
        char *m = sf_xmalloc(need);
        memcpy(m, sl->mem, keylen);
        free(sl->mem);
        sl->mem = m;
        sl->memcap = need;
    }
    memmove(sl->mem + keylen, val, vallen);
    sl->vallen = vallen;
    sl->version = ++s->version;
    return sl->version;
}

uint64_t sf_store_put(sf_store *s, uint32_t entity, const char *key, size_t keylen,
                      const char *val, size_t vallen)
{
    return sf_store_put_h(s, sf_store_hash(entity, key, keylen), entity, key, keylen, val,
                          vallen);
}

int sf_store_delete(sf_store *s, uint32_t entity, const char *key, size_t keylen)
{
    if (s->count == 0)
        return 0;
    uint64_t hash = sf_store_hash(entity, key, keylen);
    size_t mask = s->cap - 1, i = find(s, hash, entity, key, keylen);
    if (!s->slots[i].mem)
        return 0;
    free(s->slots[i].mem);
    s->slots[i].mem = NULL;
    s->count--;
    /* Backward-shift: move later members of the probe run into the hole when
     * their home slot is at or before it (cyclically). */
    size_t hole = i, j = (i + 1) & mask;
    while (s->slots[j].mem) {
        size_t home = (size_t)s->slots[j].hash & mask;
        /* distance from home to j vs from home to hole */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->slots[hole] = s->slots[j];
            s->slots[j].mem = NULL;
            hole = j;
        }
        j = (j + 1) & mask;
    }
    return 1;
}

int sf_store_next(const sf_store *s, size_t *cursor, sf_store_item *item)
{
    while (*cursor < s->cap) {
        const sf_store_slot *sl = &s->slots[(*cursor)++];
        if (sl->mem) {
            fill_item(sl, item);
            return 1;
        }
    }
    return 0;
}
