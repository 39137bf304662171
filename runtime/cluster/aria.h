/* aria.h: the pure decision logic of Aria-style deterministic batches
 * (docs/runtime.md "Transactions"), no I/O, no Python:
 *
 * - the reservation table a worker fills after a batch executed: for every
 *   instance it owns, the smallest transaction id that wrote it and the
 *   smallest that read it;
 * - the per-access flags WAW / RAW / WAR derived from it;
 * - the coordinator's decision from the ORed flags: commit, rerun in the
 *   next batch (conflict abort), or logic abort; whether a worker's own
 *   flags still allow a commit (the one commit rule of the runtime);
 * - the serial order equivalent to a batch's committed transactions (with
 *   deterministic reordering it is not the id order).
 *
 * Instances are identified by (entity index, msgpack key bytes) with the
 * caller's 64-bit hash of them (sf_store_hash). */
#ifndef SF_RUNTIME_ARIA_H
#define SF_RUNTIME_ARIA_H

#include <stddef.h>
#include <stdint.h>

#include "stateflow/sf_buf.h"

/* Flag bits (FLAGS frames; the coordinator ORs a transaction's flags over
 * the workers). */
enum {
    SF_ARIA_WAW = 1,    /* wrote an instance a smaller id also wrote */
    SF_ARIA_RAW = 2,    /* read an instance a smaller id wrote */
    SF_ARIA_WAR = 4,    /* wrote an instance a smaller id read */
    SF_ARIA_FAILED = 8, /* its writes could not be encoded: a logic abort
                         * detected at the end of execution */
};

#define SF_ARIA_NONE UINT64_MAX

typedef struct sf_aria_slot {
    uint64_t hash;
    uint64_t min_w, min_r; /* SF_ARIA_NONE when nobody */
    size_t key_off;
    uint32_t key_len;
    uint32_t entity;       /* UINT32_MAX: empty slot */
} sf_aria_slot;

typedef struct sf_aria_table {
    sf_aria_slot *slots;
    size_t cap, count;     /* cap: power of two */
    sf_buf keys;
} sf_aria_table;

void sf_aria_init(sf_aria_table *t);
/* Forget every reservation (memory kept for the next batch). */
void sf_aria_clear(sf_aria_table *t);
void sf_aria_free(sf_aria_table *t);

/* Reserve (entity, key) for txid: a read, or a write (write = 1). Keeps the
 * smallest id of each kind. */
void sf_aria_reserve(sf_aria_table *t, uint32_t entity, uint64_t hash, const char *key,
                     size_t keylen, uint64_t txid, int write);
/* The smallest reader / writer of (entity, key), SF_ARIA_NONE if none. */
uint64_t sf_aria_min_reader(const sf_aria_table *t, uint32_t entity, uint64_t hash,
                            const char *key, size_t keylen);
uint64_t sf_aria_min_writer(const sf_aria_table *t, uint32_t entity, uint64_t hash,
                            const char *key, size_t keylen);
/* Flags of one access by txid once every reservation is in: a read gives
 * RAW when a smaller id wrote the instance; a write gives WAW when a smaller
 * id wrote it and WAR when a smaller id read it. */
unsigned sf_aria_flags(const sf_aria_table *t, uint32_t entity, uint64_t hash, const char *key,
                       size_t keylen, uint64_t txid, int write);

enum sf_aria_decision {
    SF_ARIA_COMMIT = 0,      /* apply its writes, send its reply */
    SF_ARIA_RERUN = 1,       /* conflict abort: rerun at the head of the next batch */
    SF_ARIA_LOGIC_ABORT = 2, /* roll back, send its error */
};

/* The decision for a transaction with the ORed flags. logic_abort: it ended
 * with an error (DONE outcome 1, or SF_ARIA_FAILED). An ok transaction
 * commits unless WAW, or RAW and WAR together (deterministic reordering).
 * A logic abort is reported unless it read something a smaller id wrote
 * (RAW): its error may come from a stale read, so it reruns instead. A
 * transaction that wrote nothing never has WAW or WAR, so read-only
 * requests never abort. */
int sf_aria_decide(unsigned flags, int logic_abort);

/* Whether a transaction can still commit, from part of its flags (one
 * worker's, before the coordinator ORs them) and whether it ended with an
 * error: sf_aria_decide(flags, logic_abort) == SF_ARIA_COMMIT. More flags
 * only add reasons not to commit, so a 0 here is final: a worker encodes
 * the write set of a transaction only when this is 1, and applies it on
 * DECIDE only when it is still 1. */
int sf_aria_may_commit(unsigned flags, int logic_abort);

/* An equivalent serial order of the committed transactions of one batch
 * (txids[i] with ORed flags[i], i < n, all committed): order[] receives a
 * permutation of 0..n-1. Transactions with RAW come first in DEcreasing id
 * order (each read the state before the smaller writers it conflicts with),
 * then those with neither flag in increasing order, then those with WAR in
 * increasing order (each wrote after a smaller reader). */
void sf_aria_serial_order(const uint64_t *txids, const unsigned *flags, size_t n, size_t *order);

#endif
