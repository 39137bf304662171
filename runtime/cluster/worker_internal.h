/* worker_internal.h: what the files of the stateflowd worker share (not part
 * of worker.h's interface): the worker's state, its links and the
 * transactions of the batch, and the functions each file offers the others.
 *
 *   worker.c        the coordinator link, the application and the executor,
 *                   dispatch of the coordinator's frames, the lifecycle
 *   mesh.c          the partition map, the peer connections (full mesh),
 *                   sending to a peer
 *   worker_ops.c    client operations run in steps: checks, references,
 *                   events, creates, and their DONE
 *   worker_batch.c  the per-batch transaction table and the Aria end of a
 *                   batch: reservations, flags, encoded write sets, commit
 *   worker_fallback.c  the fallback phase of a batch: lock queues over the
 *                   recorded footprints, parked steps, RELEASE
 *
 * Internal functions carry the prefix wk_. */
#ifndef SF_RUNTIME_WORKER_INTERNAL_H
#define SF_RUNTIME_WORKER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "aria.h"
#include "cluster.h"
#include "executor.h"
#include "net.h"
#include "pycodec.h"
#include "pyrt.h"
#include "store.h"
#include "worker.h"
#include "stateflow/sf_buf.h"
#include "stateflow/sf_ir.h"

/* ---- state ---------------------------------------------------------------- */

enum wk_link_kind { LINK_COORD, LINK_PEER_OUT, LINK_PEER_IN };

typedef struct wlink {
    sf_worker *w;
    int kind;
    int peer;            /* worker id of a peer link, -1 until known */
} wlink;

typedef struct wtxn {
    uint64_t txid;
    sf_tx tx;
    int created;         /* home of a create: the instance under construction, else -1 */
    int logic;           /* logic abort (EXECUTED) */
    int done;            /* this worker sent its DONE */
    unsigned flags;
    sf_buf writes;       /* encoded write set (records, see worker_batch.c) */
    sf_buf err_type, err_msg; /* SF_ARIA_FAILED */
    /* the fallback phase (worker_fallback.c) */
    int fb;              /* 0 not in it, 1 re-executing, 2 resolved (RELEASE) */
    uint32_t *fp;        /* lock queues of its recorded footprint here */
    uint32_t nfp, fpcap;
    uint32_t fb_wait;    /* queues of fp where it is not the head yet */
    int dtype, dpeer;    /* its parked step: 0 none, -1 the request, else a peer frame */
    sf_buf req;          /* at its home: the request (msgpack), for the fallback */
    sf_buf dbytes;
} wtxn;

/* One lock queue of the fallback: an instance this worker owns and the
 * fallback transactions that touched it in their first execution, in id
 * order (nodes linked from head). */
typedef struct wk_fbq {
    uint64_t hash;
    uint32_t entity, key_len;
    size_t key_off;
    uint32_t head, tail; /* node indices, UINT32_MAX when empty */
} wk_fbq;

typedef struct wk_fbnode {
    wtxn *t;
    uint32_t next;
} wk_fbnode;

/* Wall-clock bound on the user code of one event: a method stuck in a plain
 * Python loop fails with TimeLimitExceeded (a logic abort) instead of
 * stalling its batch forever. */
#define SF_WORKER_TIME_LIMIT_MS 10000

struct sf_worker {
    sf_worker_config cfg;
    sf_watchdog *watchdog;
    uv_loop_t *loop;
    sf_net *net;
    sf_listener *listener;
    sf_conn *coord;
    char listen_host[256];
    int listen_port;
    int stopping, stop_reported, status;
    int joined;          /* the coordinator accepted us */
    uv_timer_t grace;    /* a peer was lost: a failure unless the coordinator goes first */
    int grace_init, grace_armed;
    char lost[200];      /* why the first lost peer's connection closed */
    int lost_peer;       /* that peer's id, -1 */
    int failed;          /* a failure was reported (FAILED), once */

    /* membership */
    int have_map;
    uint32_t id, nworkers, P;
    uint32_t *owners;
    sf_conn **peers;     /* by worker id */
    uint32_t npeers;     /* connected peers */
    int ready_sent;
    sf_conn **early;     /* accepted peers identified before MAP */
    int *early_id;
    size_t nearly;

    /* application */
    sf_ir *ir;
    int py_started, codec_ok;
    sf_pycodec codec;
    sf_pyapp *app;
    sf_executor *ex;
    sf_store store;

    /* the batch */
    uint64_t batch, last_done;
    int batch_open;
    int executed;         /* EXECUTED came: a peer's step now belongs to the fallback */
    sf_buf fb_early;      /* fallback frames from peers that overtook our DECIDE */
    wtxn **txns;          /* pool; [0, ntx) in use */
    size_t ntx, cap;
    int32_t *index;       /* txid -> position in txns, open addressing */
    size_t icap;
    sf_aria_table aria;

    /* the fallback phase of the batch (worker_fallback.c) */
    int fb_active;
    size_t fb_total, fb_resolved;
    uint64_t fb_waits;    /* steps parked behind a lock this batch */
    wk_fbq *fbq;
    size_t nfbq, fbqcap;
    int32_t *fbidx;       /* open addressing over fbq by hash */
    size_t fbicap;
    wk_fbnode *fbn;
    size_t nfbn, fbncap;
    sf_buf fbkeys;
    wtxn **fbrun;         /* transactions whose parked step may run now */
    size_t nfbrun, fbruncap;
    int fb_pumping;

    /* scratch */
    sf_event ev;
    sf_buf out, tmp, refs, key, state, result;
};

/* ---- worker.c -------------------------------------------------------------- */

void wk_log(sf_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stop the worker: close every connection, report on_stop (status 0: the
 * coordinator is gone; 1: a fatal error). */
void wk_fail(sf_worker *w, int status);
/* Start a frame of n items of the given type in w->out. */
void wk_begin(sf_worker *w, msgpack_packer *pk, uint32_t n, int type);
/* Finish the frame begun at 0 in w->out and send it on c (the coordinator,
 * or a peer link before it is registered). A send that fails stops the
 * worker. Returns 0, or -1. */
int wk_send_out(sf_worker *w, sf_conn *c);
/* A frame from the coordinator that does not parse: the cluster cannot
 * agree with this worker any more, so it leaves. */
void wk_malformed(sf_worker *w, const char *frame);
/* Send READY once the application, the map and every peer are there. */
void wk_check_ready(sf_worker *w);
/* A failure this worker detected and cannot repair (a dead or missing
 * peer): logged and reported to the coordinator in a FAILED frame naming
 * what failed, the first time only; the worker keeps running (the
 * coordinator decides what the cluster does). Uses w->out. */
void wk_report_failure(sf_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- mesh.c --------------------------------------------------------------- */

/* The worker that owns instance (entity, key) (the partition map). */
uint32_t wk_owner_of(const sf_worker *w, const char *entity, const char *key, size_t keylen);
/* The executor's locality callback: (entity index, key) lives here. */
int wk_is_local(void *arg, int entity, const char *key, size_t keylen);
const char *wk_ename(const sf_worker *w, int e);
/* Start listening for the other workers. Returns 0, or -1 with a message. */
int wk_mesh_listen(sf_worker *w, char *err, size_t errlen);
/* MAP arrived (w->id, w->nworkers, w->peers set): read the array of worker
 * addresses from r, connect to every worker with a smaller id and adopt the
 * peers that connected early. Returns 0, or -1 (the worker stopped). */
int wk_mesh_connect(sf_worker *w, sf_rd *r);
/* Send the frame ended in w->out to worker `to`. A peer without a
 * connection (it closed) or a send that fails is a detected failure
 * (wk_report_failure); returns 0, or -1 then. */
int wk_peer_send(sf_worker *w, uint32_t to);
/* Stop the mesh's timer (the worker is stopping). */
void wk_mesh_stop(sf_worker *w);

/* ---- worker_ops.c ------------------------------------------------------------ */

/* BATCH: the requests whose home is this worker. */
void wk_on_batch(sf_worker *w, sf_rd *r);
/* EVENT, CHECK, INSTALL from worker `peer` (batch id already read). */
void wk_on_peer_op(sf_worker *w, int peer, int type, sf_rd *r);

/* ---- worker_batch.c ------------------------------------------------------- */

/* The transaction txid of the batch, NULL when it did not touch this worker. */
wtxn *wk_txn_find(sf_worker *w, uint64_t txid);
/* The transaction txid of the batch, added when new. */
wtxn *wk_txn_get(sf_worker *w, uint64_t txid);
/* A frame for batch b arrived: it must be the batch in progress or the next
 * one (a peer may be ahead of the coordinator's BATCH to us). Opens it. */
int wk_batch_ok(sf_worker *w, uint64_t b);
/* EXECUTED: reservations, flags, write sets; sends FLAGS. */
void wk_on_executed(sf_worker *w, sf_rd *r);
/* DECIDE: applies the committed write sets; sends COMMITTED. */
void wk_on_decide(sf_worker *w, sf_rd *r);
/* Release the transaction table. */
void wk_batch_free(sf_worker *w);
/* Encode t's writes here into t->writes. Returns 0, or -1 (cannot be
 * stored; t->writes empty, the error in t->tx). */
int wk_encode_writes(sf_worker *w, wtxn *t);
/* Apply t->writes to the store. */
void wk_apply_writes(sf_worker *w, const wtxn *t);
/* The batch ended here: forget its transactions, send COMMITTED. */
void wk_batch_end(sf_worker *w);

/* ---- worker_ops.c (fallback) ------------------------------------------------ */

/* The fallback phase begins here (after wk_fb_begin): re-execute the
 * conflict-aborted requests whose home is this worker, then the peers'
 * fallback frames that came before DECIDE. */
void wk_fb_start(sf_worker *w, const uint64_t *ids, size_t n);
/* Run t's parked step (its locks are all granted now). */
void wk_run_parked(sf_worker *w, wtxn *t);

/* ---- worker_fallback.c ---------------------------------------------------- */

/* DECIDE named the conflict-aborted transactions (ids ascending): build
 * the lock queues from their footprints here and reset them for their
 * re-execution. */
void wk_fb_begin(sf_worker *w, const uint64_t *ids, size_t n);
/* A step of t arrived (type: -1 the request, else a peer frame; bytes the
 * frame after its batch id). Returns 1 when it may run now, 0 when it was
 * parked until t holds every lock of its footprint here. */
int wk_fb_admit(sf_worker *w, wtxn *t, int type, int peer, const char *bytes, size_t len);
/* t's execution leaves this worker (a DONE, an EVENT, a CHECK, an INSTALL):
 * every instance it touched here must be in its recorded footprint, and its
 * writes here are encoded now. Returns 0, or -1: its footprint changed (or
 * a state cannot be stored), so it goes to the next batch. */
int wk_fb_leave(sf_worker *w, wtxn *t);
/* RELEASE from the peer where they ended: [[txid, outcome], ...]: apply
 * (outcome 0), release, run what may run; the last one ends the batch here
 * (COMMITTED). */
void wk_on_release(sf_worker *w, sf_rd *r);
/* t ended here with its DONE (outcome 0 commit, 1 logic abort, 2 next
 * batch): release it here and send RELEASE to every peer. What may run now
 * runs at the next wk_fb_pump. */
void wk_fb_ended(sf_worker *w, wtxn *t, int outcome);
/* Run what the releases let run (end of a frame's handling). */
void wk_fb_pump(sf_worker *w);
void wk_fb_free(sf_worker *w);

#endif
