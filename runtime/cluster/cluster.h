/* cluster.h: what the coordinator and the workers of stateflowd share
 * (docs/runtime.md): the frame types stateflowd adds to frame.h's list,
 * defaults and limits, the partition function, "host:port" parsing, and a few
 * helpers to write and read the frames' msgpack with bounds checks. Pure C,
 * no libuv, no Python. */
#ifndef SF_RUNTIME_CLUSTER_H
#define SF_RUNTIME_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "frame.h"
#include "mpread.h"
#include "stateflow/sf_buf.h"

/* Frame types of stateflowd besides frame.h's (docs/runtime.md). Payloads
 * that hold msgpack documents of their own (requests, events, replies,
 * states) carry them as bin, so their nesting does not count against the
 * frame's depth limit. */
enum {
    SF_FRAME_APP = 18,     /* coordinator -> worker: [18, sfir (bin)], before MAP */
    SF_FRAME_READY = 19,   /* worker -> coordinator: [19], connected to every peer */
    SF_FRAME_PEER = 22,    /* first frame on a worker-to-worker connection: [22, worker id] */
    SF_FRAME_CHECK = 23,   /* [23, batch, txid, request (bin), refs (bin), next ref] */
    SF_FRAME_INSTALL = 24, /* [24, batch, txid, entity, key (bin), state (bin) | nil,
                            *  error [type, message] | nil] */
    SF_FRAME_FAILED = 25,  /* worker -> coordinator: [25, reason (str)]: this worker
                            * detected a failure it cannot repair (a peer's connection
                            * closed, a send to a peer failed or had no connection) */
    /* 26 is retired (an early fallback frame); do not reuse it. */
    SF_FRAME_RELEASE = 27,  /* worker -> worker: [27, batch, [[txid, outcome], ...]]: fallback
                             * transactions that ended at the sender (0 commit, 1 logic abort,
                             * 2 next batch) */
};

#define SF_DEFAULT_PARTITIONS 64
#define SF_MAX_PARTITIONS 65536
#define SF_MAX_WORKERS 1024
#define SF_DEFAULT_BATCH_SIZE 1000
#define SF_MAX_BATCH_SIZE 100000
#define SF_DEFAULT_BATCH_MS 2
/* A cluster peer silent this long is dropped. Longer than the transport's
 * 5 s default: a worker runs user code on its loop thread and cannot answer
 * heartbeats meanwhile. */
#define SF_CLUSTER_IDLE_MS 30000
/* Unsent bytes per cluster connection before sends fail (a batch's replies
 * may be large; the peers are trusted). */
#define SF_CLUSTER_MAX_QUEUED ((size_t)512 << 20)
/* A batch stops taking requests once they add up to this many bytes. */
#define SF_BATCH_MAX_BYTES ((size_t)16 << 20)

/* Partition of an instance: sf_partition_hash (store.h) mod P. */
uint32_t sf_cluster_partition(const char *entity, const char *key, size_t keylen, uint32_t P);

struct sf_reqmap;
/* The partition where a request starts and runs, the one rule the
 * coordinator and the workers share: the partition of its target instance,
 * or for a create (no key yet) and a request without a key, partition
 * pos mod P, where pos is the request's position in the log (its txid).
 * The caller maps the partition to a worker through its partition map. */
uint32_t sf_cluster_home_partition(const struct sf_reqmap *r, uint64_t pos, uint32_t P);

/* Parse "HOST:PORT" ("[v6]:PORT" too) into host (NUL-terminated) and port
 * (0..65535). Returns 0, or -1 with a message. */
int sf_parse_hostport(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen);

/* ---- writing: msgpack-c packer onto an sf_buf (sf_frame_packer_init) ---- */
void sf_pack_str(msgpack_packer *pk, const char *s, size_t n);
void sf_pack_cstr(msgpack_packer *pk, const char *s);
void sf_pack_bin(msgpack_packer *pk, const void *p, size_t n);
/* Append already-encoded msgpack bytes as they are. */
void sf_pack_raw(sf_buf *b, const void *p, size_t n);
/* An error map {"type": t, "message": m}. */
void sf_pack_error(msgpack_packer *pk, const char *type, const char *msg);

/* ---- reading a frame's payload ---- */
typedef struct sf_rd {
    const char *d;
    size_t len, pos;
} sf_rd;

static inline void sf_rd_init(sf_rd *r, const char *d, size_t len)
{
    r->d = d;
    r->len = len;
    r->pos = 0;
}
/* Each returns 0, or -1 when the next item is missing or of another kind. */
int sf_rd_array(sf_rd *r, uint32_t *n);
int sf_rd_uint(sf_rd *r, uint64_t *v);
int sf_rd_str(sf_rd *r, const char **s, size_t *n);
int sf_rd_bin(sf_rd *r, const char **p, size_t *n);
/* nil: returns 1 (and skips it), 0 when the next item is not nil. */
int sf_rd_nil(sf_rd *r);
/* The span of the next value, whatever it is (structure checked). */
int sf_rd_value(sf_rd *r, const char **p, size_t *n);

/* The members "type" and "message" of an error map (msgpack); pointers into
 * it. Returns 0, or -1 when it is not such a map. */
int sf_error_map_read(const char *map, size_t len, const char **type, size_t *tlen,
                      const char **msg, size_t *mlen);

#endif
