/* coord_internal.h: what the coordinator's files share (coordinator.h is
 * the public side): the coordinator's state and the functions each file
 * offers the others.
 *
 *   coordinator.c      setup and shutdown, the log, failure (broken), health,
 *                      dispatch of the frames from the workers
 *   coord_members.c    membership: joins, the partition map, READY, workers
 *                      leaving, and sending frames to a worker
 *   coord_sequencer.c  intake (submit from the gateways) and batch formation
 *   coord_rounds.c     the Aria rounds of a batch (DONE, EXECUTED, FLAGS,
 *                      DECIDE, COMMITTED), its fallback phase (FALLBACK,
 *                      DONE, RELEASE, COMMITTED) and its end
 *   coord_reply.c      reply routing to the gateway or the native clients
 *   coord_commitlog.c  the commit log
 *   coord_idem.c       idempotent retries: the id -> reply table
 *   coord_durable.c    durability: the durable log (docs/durability.md),
 *                      group commit per batch, recovery by replay
 *
 * Single-threaded, on the loop. Not a public header. */
#ifndef SF_RUNTIME_COORD_INTERNAL_H
#define SF_RUNTIME_COORD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>
#include <uv.h>

#include "cluster.h"
#include "coordinator.h"
#include "gateway.h"
#include "ingress.h"
#include "metrics.h"
#include "native.h"
#include "net.h"

/* PH_RECOVERING: every worker is ready and the batches of the durable log
 * are being re-executed (coord_durable.c); no request is taken yet. */
enum coord_phase { PH_JOINING, PH_SERVING, PH_BROKEN, PH_CLOSING, PH_RECOVERING };
enum coord_stage { ST_IDLE, ST_EXEC, ST_FLAGS, ST_COMMIT, ST_FALLBACK, ST_FBEND };

typedef struct cworker {
    sf_conn *conn;
    char addr[300];
    int joined, ready, flags_in, committed_in;
} cworker;

typedef struct clink {
    sf_coordinator *c;
    int slot;              /* worker slot, -1 while not admitted */
} clink;

typedef struct ctxn {
    sf_ingress_entry e;    /* e.pos is the txid */
    int op;
    uint32_t home;
    int done, outcome;     /* outcome: 0 ok, 1 logic abort */
    unsigned flags;
    int err_from;          /* worker whose FAILED error is kept, -1 */
    size_t reply_off, reply_len; /* in arena: the value, or an error map */
    int decision;
    uint32_t runs;         /* batches it ran in (1 + conflict aborts) */
    int fb;                /* 1: re-executing in the fallback phase, 2: its DONE came */
    int fb_commit;         /* committed in the fallback phase (after the Aria commits) */
} ctxn;

struct sf_coordinator {
    sf_coordinator_config cfg;
    uv_loop_t *loop;
    sf_net *net;
    sf_listener *listener;
    sf_gateway *gw;
    sf_native *native;
    sf_metrics *metrics;
    sf_stateflow_metrics sm;
    sf_metric *m_workers, *m_pending;
    char *app;
    size_t app_len;
    uint32_t nworkers, P, batch_size;
    uint32_t admit;            /* transactions per batch now, <= batch_size (coord_sequencer.c) */
    sf_metric *m_admit;
    uint64_t batch_ns;
    cworker *workers;
    uint32_t njoined, nready;
    uint32_t *owners;
    int map_sent;
    int phase;
    char why[256];
    sf_ingress *ingress;
    uv_timer_t timer;
    int timer_init;
    uv_timer_t watch;          /* the batch-progress watchdog (coord_rounds.c) */
    int watch_init;
    uint64_t batch_timeout_ns;
    FILE *clog;
    int http_port, native_port;

    /* the batch */
    uint64_t batch_id;
    int stage;
    ctxn *txns;
    size_t ntxns, cap;
    size_t ndone;
    uint32_t nflags, ncommitted;
    size_t fb_pending;         /* fallback transactions without their DONE yet */
    size_t naria_aborts;       /* conflict aborts of the Aria phase */
    uint64_t progress_ns;      /* uv_hrtime() of the batch's start or last round frame */
    sf_buf arena;
    ctxn *reruns;
    size_t nreruns, rcap;
    sf_ingress_entry *take_buf;

    sf_buf out, tmp, tmp2;
    uint64_t clog_batch;       /* the last batch in the commit log (a replay skips up to it) */

    /* durability (coord_durable.c) */
    struct sf_durlog *dlog;    /* NULL: --durability off */
    struct sf_durlog_iter *replay_it;
    int replay_pending;        /* the log holds batches to replay once the workers are ready */
    sf_buf rq;                 /* replay: requests read since the last BATCH record */
    size_t *rq_off, *rq_len, nrq, rq_cap;
    sf_buf peek;               /* replay: a record read ahead */
    uint32_t peek_type;
    int have_peek;
    uint64_t *forced;          /* replay: positions logged TimeLimitExceeded in this batch */
    size_t nforced, forced_cap;
    uint64_t replayed, replay_t0;
    unsigned failed_recoveries; /* cluster failures in a row before serving */
    uint64_t backoff_until;    /* uv_hrtime(): no batch before (a failed group commit) */
    sf_buf dbuf;
    sf_metric *m_log_bytes, *m_log_syncs, *m_log_errors, *m_log_sync_s;
    struct coord_idem *idem;   /* coord_idem.c */
    sf_metric *m_idem_hits;
    uint64_t *order_ids;
    unsigned *order_flags;
    size_t *order, order_cap;
};

/* ---- coordinator.c ---- */
void coord_log(sf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A failure the coordinator cannot repair: logged, the service unavailable
 * from now on, everything waiting answered Unavailable. */
void coord_broken(sf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Answer everything in flight or waiting with Unavailable. */
void coord_fail_pending(sf_coordinator *c, const char *msg);
/* A new empty ingress with the configured bounds. */
sf_ingress *coord_new_ingress(const sf_coordinator *c);
/* A frame from a worker (sf_conn_callbacks.on_frame; ud is its clink). */
void coord_on_worker_frame(sf_conn *conn, int type, const char *payload, size_t len, void *ud);

/* ---- coord_members.c ---- */
extern const sf_conn_callbacks coord_worker_cbs;
/* Start a frame [type, ...] of n items in b. */
void coord_frame_begin(sf_buf *b, msgpack_packer *pk, uint32_t n, int type);
/* Close the frame in c->out begun at offset at; -1 (broken) when too large. */
int coord_frame_end(sf_coordinator *c, size_t at);
/* Send the frame(s) in c->out to worker i; -1 (broken) on failure. */
int coord_send_worker(sf_coordinator *c, uint32_t i);
void coord_on_ready(sf_coordinator *c, uint32_t wi);
/* The service takes requests now: the "coordinator ready" line, on_ready,
 * the first batch. */
void coord_members_announce_ready(sf_coordinator *c);

/* ---- coord_sequencer.c ---- */
/* Start the next batch when the loop is idle and one is due. */
void coord_maybe_start_batch(sf_coordinator *c);
int coord_gw_submit(void *ud, const char *req, size_t len, uint64_t token);
int coord_native_submit(void *ud, const char *req, size_t len, int op, uint64_t client, uint64_t corr);
/* Whether the ingress could take a native request of len bytes now (an
 * sf_submit_result): lets the native server refuse before decoding. */
int coord_native_room(void *ud, size_t len);
void coord_on_timer(uv_timer_t *t);
/* A batch of ntxns ended with nreruns conflict aborts: adapt the batch limit. */
void coord_batch_feedback(sf_coordinator *c, size_t ntxns, size_t nreruns);

/* ---- coord_rounds.c ---- */
void coord_on_done(sf_coordinator *c, uint32_t wi, sf_rd *r);
void coord_on_flags(sf_coordinator *c, uint32_t wi, sf_rd *r);
void coord_on_committed(sf_coordinator *c, uint32_t wi, sf_rd *r);
/* The batch made progress now (it started, or a frame of its rounds came). */
void coord_progress(sf_coordinator *c);
/* How long the running batch has made no progress (ns); 0 when idle. */
uint64_t coord_stalled_ns(const sf_coordinator *c, uint64_t now);
/* Start the watchdog that breaks the service when a batch stalls for the
 * batch timeout. */
void coord_watch_start(sf_coordinator *c);
/* Workers the running batch waits for, as "0, 2" into buf. */
void coord_waiting_for(const sf_coordinator *c, char *buf, size_t len);

/* ---- coord_reply.c ---- */
/* The id of a request map (msgpack span): id and idlen as decoded (NULL, 0
 * when it does not decode); nonzero when it has a non-empty id. */
int coord_request_id(const char *req, size_t len, const char **id, size_t *idlen);
void coord_reply_ok(sf_coordinator *c, const sf_ingress_entry *e, const char *value, size_t len);
void coord_reply_error(sf_coordinator *c, const sf_ingress_entry *e, const char *type, const char *msg);
/* An error map (msgpack {"type","message"}), e.g. from the arena. */
void coord_reply_error_map(sf_coordinator *c, const sf_ingress_entry *e, const char *map, size_t len);

/* ---- coord_durable.c ---- */
/* Open the log under cfg.data_dir (when durability is on); notes whether
 * there is something to replay. Returns 0, or -1 with a message. */
int coord_durable_open(sf_coordinator *c, char *err, size_t errlen);
void coord_durable_close(sf_coordinator *c);
void coord_durable_free(sf_coordinator *c);
/* Every worker is ready: replay the log (PH_RECOVERING) or serve. */
void coord_durable_on_cluster_ready(sf_coordinator *c);
/* PH_RECOVERING and idle: start the next logged batch, or finish the
 * recovery when the log is exhausted. */
void coord_durable_replay_next(sf_coordinator *c);
/* The batch's membership (txns[0..nreruns) reruns, the rest new) is formed:
 * append its requests and membership and group-commit. Returns 0, or -1
 * when the sync failed (the batch was answered Unavailable and dropped). */
int coord_durable_log_batch(sf_coordinator *c, size_t nreruns);
/* Replay: force the logged time-dependent outcomes before EXECUTED. */
void coord_durable_force_outcomes(sf_coordinator *c);
/* The batch is decided: log its time-dependent outcomes (TimeLimitExceeded
 * aborts) and sync them before any reply. Returns 0, or -1 (broken). */
int coord_durable_log_outcomes(sf_coordinator *c);
/* The coordinator lost its cluster (a worker died, a batch stalled):
 * with durability on, answer what waits Unavailable, drop the workers and
 * wait for a new cluster, which recovers from the log. Returns 1 when it
 * restarts, 0 when it cannot (durability off). */
int coord_durable_restart(sf_coordinator *c);
/* "on, log DIR (N records)" or "off (in memory: nothing survives a restart)". */
void coord_durable_describe(const sf_coordinator *c, char *buf, size_t len);

/* ---- coord_sequencer.c (replay) ---- */
/* Form and send a batch: the reruns in c->reruns, then up to want requests
 * from the ingress (replay: exactly want, no byte cap). */
void coord_start_batch(sf_coordinator *c, size_t want, int replay);

/* ---- coord_idem.c ---- */
typedef struct coord_idem coord_idem;
/* A request arrives: 1 when its id was seen (answered now with the first
 * reply, or attached to the request in flight): do not queue it; 0 to go
 * on (its id, if any, is now pending). */
int coord_idem_submit(sf_coordinator *c, const char *req, size_t len, const sf_reply_to *to);
/* The request's reply is final (committed or logic-aborted): remember it,
 * answer the retries waiting for it. */
void coord_idem_done(sf_coordinator *c, const sf_ingress_entry *req, int is_err, const char *reply, size_t len);
/* The request was answered without running (not durable): forget its id,
 * answer its waiting retries the same way. */
void coord_idem_forget(sf_coordinator *c, const sf_ingress_entry *req, const char *type, const char *msg);
/* Every pending id: forgotten, its waiting retries answered Unavailable. */
void coord_idem_forget_pending(sf_coordinator *c, const char *msg);
/* Everything forgotten (a restart rebuilds the table by replay). */
void coord_idem_clear(sf_coordinator *c, const char *msg);
void coord_idem_free(sf_coordinator *c);

/* ---- coord_commitlog.c ---- */
/* Open cfg.commit_log (when set). Returns 0, or -1 with a message. */
int coord_commitlog_open(sf_coordinator *c, char *err, size_t errlen);
/* One line per committed transaction of the batch, in serial order. */
void coord_commitlog_write(sf_coordinator *c);
void coord_commitlog_close(sf_coordinator *c);

#endif
