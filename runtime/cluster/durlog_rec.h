/* durlog_rec.h: the payloads of the coordinator's durable-log records
 * other than requests (docs/durability.md "Records"): fixed little-endian
 * layouts, each starting with a layout version byte (1), encoded into an
 * sf_buf and decoded with every length and count checked (the log's
 * checksum guards against the disk, these checks against a bug or a
 * record of another layout).
 *
 *   SF_DURLOG_BATCH       batch membership: which new request positions a
 *                         batch took and which reruns it carries, in order
 *   SF_DURLOG_OUTCOME     an outcome that depends on time (a
 *                         TimeLimitExceeded abort) and so cannot be
 *                         recomputed by a replay
 *   SF_DURLOG_BATCH_TIME  the wall-clock time stamp of a batch
 *
 * A SF_DURLOG_REQUEST payload is the request's msgpack map as accepted and
 * needs no codec here. Decoders return 0, or -1 and a message. */
#ifndef SF_RUNTIME_DURLOG_REC_H
#define SF_RUNTIME_DURLOG_REC_H

#include <stddef.h>
#include <stdint.h>

#include "stateflow/sf_buf.h"

#define SF_DURLOG_REC_LAYOUT 1
#define SF_DURLOG_RERUNS_MAX (1u << 24) /* per batch record */

/* [u8 1][u64 batch_id][u64 first_pos][u32 count][u32 nreruns][u64 rerun]*
 * The batch runs the reruns (positions of requests of earlier batches, in
 * this order) and then the count new requests at positions first_pos,
 * first_pos + 1, ... */
typedef struct sf_durlog_batch {
    uint64_t batch_id;
    uint64_t first_pos;
    uint32_t count;
    uint32_t nreruns;
    uint64_t *reruns; /* decode allocates (free with sf_durlog_batch_free) */
} sf_durlog_batch;

void sf_durlog_batch_encode(const sf_durlog_batch *b, sf_buf *out);
int sf_durlog_batch_decode(const void *p, size_t len, sf_durlog_batch *b, char *err, size_t errlen);
void sf_durlog_batch_free(sf_durlog_batch *b);

enum sf_durlog_outcome_kind {
    SF_DURLOG_TIME_LIMIT = 1, /* TimeLimitExceeded: the transaction aborts */
};

/* [u8 1][u64 batch_id][u64 position][u32 kind] */
typedef struct sf_durlog_outcome {
    uint64_t batch_id;
    uint64_t position;
    uint32_t kind;
} sf_durlog_outcome;

void sf_durlog_outcome_encode(const sf_durlog_outcome *o, sf_buf *out);
int sf_durlog_outcome_decode(const void *p, size_t len, sf_durlog_outcome *o, char *err, size_t errlen);

/* [u8 1][u64 batch_id][i64 unix_ns] */
typedef struct sf_durlog_batch_time {
    uint64_t batch_id;
    int64_t unix_ns; /* nanoseconds since the Unix epoch */
} sf_durlog_batch_time;

void sf_durlog_batch_time_encode(const sf_durlog_batch_time *t, sf_buf *out);
int sf_durlog_batch_time_decode(const void *p, size_t len, sf_durlog_batch_time *t, char *err, size_t errlen);

#endif
