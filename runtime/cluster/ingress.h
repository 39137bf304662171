/* ingress.h: where the coordinator's sequencer takes requests from (DESIGN
 * 4.3, 4.4): an ordered source of client requests, each with a position
 * (its transaction id is a pure function of it: here the position itself),
 * read in batches and acknowledged by batch once finished.
 *
 * The interface is a small vtable so that other sources plug in without
 * touching the sequencer: today the in-memory ingress fed by the HTTP
 * gateway and the native protocol (sf_ingress_memory_new); later the
 * embedded durable log (append = group-committed write) and Kafka (append
 * is done by producers elsewhere; take polls the topic).
 *
 *   append     add a request at the end; returns its position
 *   available  requests appended and not yet taken
 *   oldest     arrival time of the first request not yet taken
 *   take       the next requests in position order (they stay valid until
 *              acknowledged)
 *   ack        every request with a position below `upto` is finished (its
 *              reply went out): the source may forget it
 *
 * Requests are msgpack request maps (gateway.h's shape). Each carries where
 * its reply goes (sf_reply_to), which only means something to the process
 * that accepted it. Single-threaded. */
#ifndef SF_RUNTIME_INGRESS_H
#define SF_RUNTIME_INGRESS_H

#include <stddef.h>
#include <stdint.h>

enum sf_reply_kind {
    SF_REPLY_NONE = 0,    /* nobody waits (replayed, or the client left) */
    SF_REPLY_GATEWAY = 1, /* a = gateway token */
    SF_REPLY_NATIVE = 2,  /* a = native client id, b = correlation number */
};

typedef struct sf_reply_to {
    int kind;
    uint64_t a, b;
} sf_reply_to;

typedef struct sf_ingress_entry {
    uint64_t pos;          /* 1, 2, 3, ... */
    const char *req;       /* msgpack request map, valid until acknowledged */
    size_t len;
    sf_reply_to to;
    uint64_t arrival_ns;   /* uv_hrtime() at arrival */
} sf_ingress_entry;

typedef struct sf_ingress sf_ingress;

typedef struct sf_ingress_ops {
    int (*append)(sf_ingress *in, const char *req, size_t len, const sf_reply_to *to,
                  uint64_t arrival_ns, uint64_t *pos, char *err, size_t errlen);
    size_t (*available)(const sf_ingress *in);
    int (*oldest)(const sf_ingress *in, uint64_t *arrival_ns);
    size_t (*take)(sf_ingress *in, size_t max, sf_ingress_entry *out);
    void (*ack)(sf_ingress *in, uint64_t upto);
    void (*free)(sf_ingress *in);
    int (*room)(const sf_ingress *in, size_t len);
} sf_ingress_ops;

struct sf_ingress {
    const sf_ingress_ops *ops;
};

/* What append returns besides 0. */
#define SF_INGRESS_EREFUSED (-1) /* never acceptable (empty, over max_request) */
#define SF_INGRESS_EFULL (-2)    /* no room now (pending count or bytes at their
                                  * bound): the client may retry later */

/* Returns 0 with *pos, or SF_INGRESS_EREFUSED / SF_INGRESS_EFULL with a
 * message. */
static inline int sf_ingress_append(sf_ingress *in, const char *req, size_t len,
                                    const sf_reply_to *to, uint64_t arrival_ns, uint64_t *pos,
                                    char *err, size_t errlen)
{
    return in->ops->append(in, req, len, to, arrival_ns, pos, err, errlen);
}
static inline size_t sf_ingress_available(const sf_ingress *in) { return in->ops->available(in); }
/* Whether an append of len bytes would be taken now: 0, or what append
 * would return (SF_INGRESS_EFULL, SF_INGRESS_EREFUSED). Lets a server
 * refuse before it decodes a request it cannot take. */
static inline int sf_ingress_room(const sf_ingress *in, size_t len) { return in->ops->room(in, len); }
/* 1 and *arrival_ns when a request is available, else 0. */
static inline int sf_ingress_oldest(const sf_ingress *in, uint64_t *arrival_ns)
{
    return in->ops->oldest(in, arrival_ns);
}
/* Copies up to max entries into out; returns how many. */
static inline size_t sf_ingress_take(sf_ingress *in, size_t max, sf_ingress_entry *out)
{
    return in->ops->take(in, max, out);
}
static inline void sf_ingress_ack(sf_ingress *in, uint64_t upto) { in->ops->ack(in, upto); }
static inline void sf_ingress_free(sf_ingress *in)
{
    if (in)
        in->ops->free(in);
}

/* The in-memory ingress, bounded: at most max_pending requests appended and
 * not yet acknowledged (0 = 1,000,000) holding at most max_bytes bytes
 * together (0 = SF_INGRESS_DEFAULT_MAX_BYTES), each at most max_request
 * bytes (0 = 16 MiB). An append past either bound fails with
 * SF_INGRESS_EFULL (nothing is queued); room comes back as requests are
 * acknowledged. Positions start at 1. */
#define SF_INGRESS_DEFAULT_MAX_BYTES ((size_t)256 << 20)
sf_ingress *sf_ingress_memory_new(size_t max_pending, size_t max_bytes, size_t max_request);
/* Requests appended and not yet acknowledged, and their bytes. */
void sf_ingress_memory_usage(const sf_ingress *in, size_t *count, size_t *bytes);
/* The next append gets position pos (a replay of the durable log, whose
 * positions may have gaps). Returns 0, or -1 when pos is below the next
 * position already. */
int sf_ingress_memory_set_next(sf_ingress *in, uint64_t pos);

#endif
