/* store.h: the in-memory state store of one runtime process.
 *
 * Maps (entity index, key bytes) to the committed state of one entity
 * instance. Key bytes are the msgpack encoding of the instance's key
 * (__key__()), state is the msgpack map of the instance's attributes; the
 * store treats both as opaque bytes and keeps its own copies. Open addressing
 * with linear probing and backward-shift deletion; every write stamps the
 * entry with a store-wide, increasing version (incremental snapshots copy
 * only entries newer than the last snapshot's version). Pure C, no Python.
 */
#ifndef SF_RUNTIME_STORE_H
#define SF_RUNTIME_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_store_slot sf_store_slot;

typedef struct sf_store {
    sf_store_slot *slots;
    size_t cap;      /* power of two (0 before the first write) */
    size_t count;
    uint64_t version; /* version of the last write */
} sf_store;

/* One entry as seen by readers; pointers stay valid until the next write,
 * delete or clear of the store. */
typedef struct sf_store_item {
    uint32_t entity;
    const char *key;
    size_t keylen;
    const char *val;
    size_t vallen;
    uint64_t version;
} sf_store_item;

void sf_store_init(sf_store *s);
void sf_store_free(sf_store *s);
void sf_store_clear(sf_store *s);
size_t sf_store_count(const sf_store *s);

/* The 64-bit hash of (entity index, key) the store's table uses (fast
 * word-at-a-time mixing); stable across processes and runs. */
uint64_t sf_store_hash(uint32_t entity, const char *key, size_t keylen);

/* The partition hash of docs/runtime.md: FNV-1a 64 over the entity NAME, a
 * 0 byte, and the msgpack bytes of the key. Partition = hash mod P. It does
 * not depend on the order of entities in the IR. */
uint64_t sf_partition_hash(const char *entity, const char *key, size_t keylen);

/* Returns 1 and fills *item when present, 0 when absent. */
int sf_store_get(const sf_store *s, uint32_t entity, const char *key, size_t keylen,
                 sf_store_item *item);
/* Same with the hash precomputed by sf_store_hash. */
int sf_store_get_h(const sf_store *s, uint64_t hash, uint32_t entity, const char *key,
                   size_t keylen, sf_store_item *item);
int sf_store_contains(const sf_store *s, uint32_t entity, const char *key, size_t keylen);

/* Insert or replace; copies key and value. Returns the new version. */
uint64_t sf_store_put(sf_store *s, uint32_t entity, const char *key, size_t keylen,
                      const char *val, size_t vallen);
uint64_t sf_store_put_h(sf_store *s, uint64_t hash, uint32_t entity, const char *key,
                        size_t keylen, const char *val, size_t vallen);
/* Returns 1 when an entry was removed, 0 when absent. */
int sf_store_delete(sf_store *s, uint32_t entity, const char *key, size_t keylen);

/* Iteration in slot order. Start with *cursor = 0; returns 1 and fills item
 * while entries remain, then 0. The store must not change during a walk. */
int sf_store_next(const sf_store *s, size_t *cursor, sf_store_item *item);

#endif
