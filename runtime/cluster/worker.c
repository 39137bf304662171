/* worker.c: the stateflowd worker (worker.h, docs/runtime.md): its
 * connections (coordinator, full mesh of peers), the application and the
 * executor, the transactions of the current batch (one sf_tx per txid that
 * touched this worker), client operations in steps (checks, references,
 * events, creates), and the Aria end of a batch (reservations, flags,
 * encoded write sets, commit). */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "aria.h"
#include "cluster.h"
#include "executor.h"
#include "gateway.h"
#include "json.h"
#include "net.h"
#include "pycodec.h"
#include "pyrt.h"
#include "request.h"
#include "store.h"
#include "stateflow/sf_ir.h"
#include "stateflow/sf_value.h"
#include "stateflow/sf_util.h"

/* ---- state ---------------------------------------------------------------- */

enum link_kind { LINK_COORD, LINK_PEER_OUT, LINK_PEER_IN };

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
    sf_buf writes;       /* encoded write set (records, see put_write) */
    sf_buf err_type, err_msg; /* SF_ARIA_FAILED */
} wtxn;

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
    uv_timer_t grace;    /* a peer was lost: stop unless the coordinator goes first */
    int grace_init, grace_armed;
    char lost[200];

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
    wtxn **txns;          /* pool; [0, ntx) in use */
    size_t ntx, cap;
    int32_t *index;       /* txid -> position in txns, open addressing */
    size_t icap;
    sf_aria_table aria;

    /* scratch */
    sf_event ev;
    sf_buf out, tmp, refs, key, state, result;
};

static void wlog(sf_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(sf_worker *w, const char *fmt, ...)
{
    char line[1024];
    int n = w->have_map ? snprintf(line, sizeof line, "worker %u: ", w->id)
                        : snprintf(line, sizeof line, "worker: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (w->cfg.log)
        w->cfg.log(w->cfg.ud, line);
    else
        fprintf(stderr, "stateflowd: %s\n", line);
}

static void net_log(void *ud, const char *line) { wlog((sf_worker *)ud, "%s", line); }

static void worker_fail(sf_worker *w, int status);

/* ---- sending ---------------------------------------------------------------- */

/* Finish the frame begun at 0 in w->out and send it on c. */
static int send_out(sf_worker *w, sf_conn *c)
{
    char err[160];
    if (sf_frame_end(&w->out, 0, err, sizeof err) != 0) {
        wlog(w, "cannot send a frame: %s", err);
        sf_buf_reset(&w->out);
        return -1;
    }
    if (!c) {
        sf_buf_reset(&w->out);
        return -1;
    }
    int rc = sf_conn_send_buf(c, &w->out);
    if (rc != 0) {
        sf_buf_reset(&w->out);
        wlog(w, "cannot send to %s (error %d)", sf_conn_peer(c), rc);
        worker_fail(w, 1);
        return -1;
    }
    return 0;
}

static void begin(sf_worker *w, msgpack_packer *pk, uint32_t n, int type)
{
    sf_buf_reset(&w->out);
    sf_frame_begin(&w->out);
    sf_frame_packer_init(pk, &w->out);
    msgpack_pack_array(pk, n);
    msgpack_pack_int(pk, type);
}

/* ---- partitions --------------------------------------------------------------- */

static uint32_t owner_of(const sf_worker *w, const char *entity, const char *key, size_t keylen)
{
    return w->owners[sf_cluster_partition(entity, key, keylen, w->P)];
}

static int is_local(void *arg, int entity, const char *key, size_t keylen)
{
    sf_worker *w = arg;
    return owner_of(w, w->app->entities[entity].ir->name, key, keylen) == w->id;
}

static const char *ename(const sf_worker *w, int e) { return w->app->entities[e].ir->name; }

/* ---- transactions of the batch ----------------------------------------------- */

static void index_rebuild(sf_worker *w, size_t cap)
{
    w->index = sf_xrealloc(w->index, cap * sizeof(int32_t));
    w->icap = cap;
    for (size_t i = 0; i < cap; i++)
        w->index[i] = -1;
    for (size_t k = 0; k < w->ntx; k++) {
        size_t i = (size_t)(w->txns[k]->txid * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
        while (w->index[i] >= 0)
            i = (i + 1) & (cap - 1);
        w->index[i] = (int32_t)k;
    }
}

static wtxn *txn_find(sf_worker *w, uint64_t txid)
{
    if (!w->icap)
        return NULL;
    for (size_t i = (size_t)(txid * 0x9E3779B97F4A7C15ull >> 20) & (w->icap - 1);;
         i = (i + 1) & (w->icap - 1)) {
        int32_t k = w->index[i];
        if (k < 0)
            return NULL;
        if (w->txns[k]->txid == txid)
            return w->txns[k];
    }
}

static wtxn *txn_get(sf_worker *w, uint64_t txid)
{
    wtxn *t = txn_find(w, txid);
    if (t)
        return t;
    if (w->ntx == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        w->txns = sf_xrealloc(w->txns, ncap * sizeof(wtxn *));
        for (size_t k = w->cap; k < ncap; k++) {
            wtxn *n = sf_xrealloc(NULL, sizeof(wtxn));
            memset(n, 0, sizeof(*n));
            sf_tx_init(&n->tx);
            sf_buf_init(&n->writes);
            sf_buf_init(&n->err_type);
            sf_buf_init(&n->err_msg);
            w->txns[k] = n;
        }
        w->cap = ncap;
    }
    t = w->txns[w->ntx++];
    t->txid = txid;
    sf_tx_reset(&t->tx, txid);
    t->created = -1;
    t->logic = t->done = 0;
    t->flags = 0;
    sf_buf_reset(&t->writes);
    sf_buf_reset(&t->err_type);
    sf_buf_reset(&t->err_msg);
    if (w->ntx * 2 > w->icap)
        index_rebuild(w, w->icap ? w->icap * 2 : 256);
    else {
        size_t i = (size_t)(txid * 0x9E3779B97F4A7C15ull >> 20) & (w->icap - 1);
        while (w->index[i] >= 0)
            i = (i + 1) & (w->icap - 1);
        w->index[i] = (int32_t)(w->ntx - 1);
    }
    return t;
}

static void batch_reset(sf_worker *w)
{
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        sf_tx_reset(&t->tx, 0);
        sf_buf_reset(&t->writes);
    }
    w->ntx = 0;
    for (size_t i = 0; i < w->icap; i++)
        w->index[i] = -1;
    w->batch_open = 0;
}

/* A frame for batch b arrived: it must be the batch in progress or the next
 * one (a peer may be ahead of the coordinator's BATCH to us). */
static int batch_ok(sf_worker *w, uint64_t b)
{
    if (w->batch_open)
        return b == w->batch;
    if (b != w->last_done + 1)
        return 0;
    w->batch = b;
    w->batch_open = 1;
    return 1;
}

/* ---- DONE ------------------------------------------------------------------- */

static void send_done(sf_worker *w, wtxn *t, int outcome, const char *value, size_t vlen,
                      const char *etype, const char *emsg)
{
    if (t->done) {
        wlog(w, "transaction %llu finished twice here", (unsigned long long)t->txid);
        return;
    }
    t->done = 1;
    msgpack_packer pk;
    begin(w, &pk, 5, SF_FRAME_DONE);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_uint64(&pk, t->txid);
    msgpack_pack_int(&pk, outcome);
    if (outcome == 0) {
        sf_pack_bin(&pk, value, vlen);
    } else {
        sf_buf *tmp = &w->tmp;
        sf_buf_reset(tmp);
        msgpack_packer ep;
        sf_frame_packer_init(&ep, tmp);
        const char *msg = emsg ? emsg : "";
        char cut[1024];
        if (strlen(msg) > SF_FRAME_MAX / 2) {
            snprintf(cut, sizeof cut, "%.1000s...", msg);
            msg = cut;
        }
        sf_pack_error(&ep, etype && *etype ? etype : "InternalError", msg);
        sf_pack_bin(&pk, tmp->data, tmp->len);
    }
    char err[160];
    if (sf_frame_end(&w->out, 0, err, sizeof err) != 0) {
        /* The reply does not fit in a frame. */
        t->done = 0;
        if (outcome == 0)
            send_done(w, t, 1, NULL, 0, "TypeError", "return value: too large to send");
        else
            send_done(w, t, 1, NULL, 0, etype, "(error message too large to send)");
        return;
    }
    int rc = sf_conn_send_buf(w->coord, &w->out);
    if (rc != 0) {
        sf_buf_reset(&w->out);
        wlog(w, "cannot send DONE to the coordinator (error %d)", rc);
        worker_fail(w, 1);
    }
}

static void done_error(sf_worker *w, wtxn *t, const char *type, const char *msg)
{
    send_done(w, t, 1, NULL, 0, type, msg);
}

static void done_tx_error(sf_worker *w, wtxn *t)
{
    const char *type = t->tx.err_type.len ? t->tx.err_type.data : "InternalError";
    const char *msg = t->tx.err_type.len ? (t->tx.err_msg.data ? t->tx.err_msg.data : "")
                                         : "unknown error";
    /* the strings live in t->tx; copy before anything reuses them */
    sf_buf a, b;
    sf_buf_init(&a);
    sf_buf_init(&b);
    sf_buf_puts(&a, type);
    sf_buf_puts(&b, msg);
    done_error(w, t, a.data, b.data);
    sf_buf_free(&a);
    sf_buf_free(&b);
}

/* ---- client operations in steps ------------------------------------------- */

static int op_from_request(const char *req, size_t len, sf_reqmap *gr, sf_exec_op *op,
                           char *err, size_t errlen)
{
    if (sf_reqmap_decode(req, len, gr, err, errlen) < 0)
        return -1;
    op->op = gr->op;
    op->entity = gr->entity;
    op->entity_len = gr->entity_len;
    op->key = gr->key;
    op->key_len = gr->key_len;
    op->method = gr->method;
    op->method_len = gr->method_len;
    op->args = gr->args;
    op->args_len = gr->args_len;
    return 0;
}

/* The worker where a request starts and runs (sf_cluster_home_partition). */
static uint32_t home_of(const sf_worker *w, const sf_reqmap *gr, uint64_t txid)
{
    return w->owners[sf_cluster_home_partition(gr, txid, w->P)];
}

static void run_event(sf_worker *w, wtxn *t);
static void create_finish(sf_worker *w, wtxn *t);

static void run_op(sf_worker *w, wtxn *t, const sf_exec_op *op, PyObject *args)
{
    int created;
    int st = sf_exec_op_start(w->ex, &t->tx, op, args, &w->ev, &created);
    Py_DECREF(args);
    if (st < 0) {
        done_tx_error(w, t);
        return;
    }
    t->created = created;
    if (st == 1)
        create_finish(w, t);
    else
        run_event(w, t);
}

/* Checks done (references included): run the operation here (its home). */
static void run_request(sf_worker *w, wtxn *t, const char *req, size_t len)
{
    sf_reqmap gr;
    sf_exec_op op;
    char err[256];
    if (op_from_request(req, len, &gr, &op, err, sizeof err) < 0) {
        done_error(w, t, "BadRequest", err);
        return;
    }
    PyObject *args;
    if (sf_exec_op_check(w->ex, &t->tx, &op, &args) < 0) {
        done_tx_error(w, t);
        return;
    }
    run_op(w, t, &op, args);
}

static void send_check(sf_worker *w, uint32_t to, wtxn *t, const char *req, size_t reqlen,
                       const char *refs, size_t refslen, uint32_t next)
{
    msgpack_packer pk;
    begin(w, &pk, 6, SF_FRAME_CHECK);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_uint64(&pk, t->txid);
    sf_pack_bin(&pk, req, reqlen);
    sf_pack_bin(&pk, refs, refslen);
    msgpack_pack_uint32(&pk, next);
    send_out(w, w->peers[to]);
}

/* Check references refs[next..] (msgpack array of [entity, key]) that live
 * here, in order; hand over to the owner of the first one that does not,
 * or to the home when all are checked. */
static void check_refs(sf_worker *w, wtxn *t, const char *req, size_t reqlen, const char *refs,
                       size_t refslen, uint32_t next)
{
    sf_rd r;
    sf_rd_init(&r, refs, refslen);
    uint32_t n;
    if (sf_rd_array(&r, &n) < 0 || next > n) {
        done_error(w, t, "InternalError", "malformed reference list");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two;
        const char *name, *key;
        size_t namelen, keylen;
        if (sf_rd_array(&r, &two) < 0 || two != 2 || sf_rd_str(&r, &name, &namelen) < 0 ||
            sf_rd_value(&r, &key, &keylen) < 0) {
            done_error(w, t, "InternalError", "malformed reference list");
            return;
        }
        if (i < next)
            continue;
        int e = sf_pyapp_entity_index(w->app, name, namelen);
        if (e < 0) {
            sf_buf *m = &w->tmp;
            sf_buf_reset(m);
            sf_buf_puts(m, "unknown entity '");
            sf_buf_append(m, name, namelen);
            sf_buf_puts(m, "'");
            sf_buf msg;
            sf_buf_init(&msg);
            sf_buf_append(&msg, m->data, m->len);
            done_error(w, t, "NotFound", msg.data);
            sf_buf_free(&msg);
            return;
        }
        uint32_t owner = owner_of(w, ename(w, e), key, keylen);
        if (owner != w->id) {
            send_check(w, owner, t, req, reqlen, refs, refslen, i);
            return;
        }
        sf_tx_instance(&t->tx, e, key, keylen); /* a read of the instance */
        if (!sf_store_contains(&w->store, (uint32_t)e, key, keylen)) {
            sf_buf msg;
            sf_buf_init(&msg);
            sf_buf_printf(&msg, "%s ", ename(w, e));
            char err[64];
            if (sf_msgpack_to_json(key, keylen, &msg, err, sizeof err) < 0)
                sf_buf_puts(&msg, "?");
            sf_buf_puts(&msg, " not found");
            done_error(w, t, "NotFound", msg.data);
            sf_buf_free(&msg);
            return;
        }
    }
    sf_reqmap gr;
    char err[256];
    if (sf_reqmap_decode(req, reqlen, &gr, err, sizeof err) < 0) {
        done_error(w, t, "BadRequest", err);
        return;
    }
    uint32_t home = home_of(w, &gr, t->txid);
    if (home != w->id) {
        send_check(w, home, t, req, reqlen, refs, refslen, n);
        return;
    }
    run_request(w, t, req, reqlen);
}

/* A request of BATCH: this worker is its home. */
static void start_request(sf_worker *w, wtxn *t, const char *req, size_t len)
{
    sf_reqmap gr;
    sf_exec_op op;
    char err[256];
    if (op_from_request(req, len, &gr, &op, err, sizeof err) < 0) {
        done_error(w, t, "BadRequest", err);
        return;
    }
    if (op.op == SF_OP_GET) {
        const char *et, *em;
        sf_buf_reset(&w->result);
        int rc = sf_exec_op_run(w->ex, &op, &w->result, &et, &em);
        int e = sf_pyapp_entity_index(w->app, op.entity, op.entity_len);
        if (e >= 0 && op.key && op.key_len)
            sf_tx_instance(&t->tx, e, op.key, op.key_len); /* a read */
        if (rc == 0)
            send_done(w, t, 0, w->result.data, w->result.len, NULL, NULL);
        else
            done_error(w, t, et, em);
        return;
    }
    PyObject *args;
    if (sf_exec_op_check(w->ex, &t->tx, &op, &args) < 0) {
        done_tx_error(w, t);
        return;
    }
    sf_buf_reset(&w->refs);
    if (sf_exec_arg_refs(w->ex, &t->tx, args, &w->refs) < 0) {
        Py_DECREF(args);
        done_tx_error(w, t);
        return;
    }
    if (w->refs.len == 1 && (unsigned char)w->refs.data[0] == 0x90) {
        run_op(w, t, &op, args);
        return;
    }
    Py_DECREF(args);
    sf_buf refs;
    sf_buf_init(&refs);
    sf_buf_append(&refs, w->refs.data, w->refs.len);
    check_refs(w, t, req, len, refs.data, refs.len, 0);
    sf_buf_free(&refs);
}

/* The msgpack of the reference ext [entity, key]. */
static void put_ref(sf_buf *out, const char *entity, const char *key, size_t keylen)
{
    sf_buf body;
    sf_buf_init(&body);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &body);
    msgpack_pack_array(&pk, 2);
    sf_pack_cstr(&pk, entity);
    sf_buf_append(&body, key, keylen);
    sf_frame_packer_init(&pk, out);
    msgpack_pack_ext(&pk, body.len, SF_EXT_REF);
    msgpack_pack_ext_body(&pk, body.data, body.len);
    sf_buf_free(&body);
}

/* At the owner of (e, key): the created instance arrives. */
static void install(sf_worker *w, wtxn *t, int e, const char *key, size_t keylen, const char *state,
                    size_t statelen, const char *etype, const char *emsg)
{
    if (sf_tx_install(w->ex, &t->tx, e, key, keylen, etype ? NULL : state, statelen) < 0) {
        done_tx_error(w, t);
        return;
    }
    if (etype) {
        done_error(w, t, etype, emsg);
        return;
    }
    sf_buf_reset(&w->result);
    put_ref(&w->result, ename(w, e), key, keylen);
    send_done(w, t, 0, w->result.data, w->result.len, NULL, NULL);
}

/* __init__ ran at the home: move the new instance to the owner of its key. */
static void create_finish(sf_worker *w, wtxn *t)
{
    int j = t->created;
    t->created = -1;
    int e = t->tx.insts[j].entity;
    sf_buf_reset(&w->key);
    sf_buf_reset(&w->state);
    int rc = sf_exec_create_take(w->ex, &t->tx, j, &w->key, &w->state);
    if (rc < 0) {
        done_tx_error(w, t);
        return;
    }
    sf_buf etype, emsg;
    sf_buf_init(&etype);
    sf_buf_init(&emsg);
    if (rc == 1) {
        sf_buf_puts(&etype, t->tx.err_type.len ? t->tx.err_type.data : "TypeError");
        sf_buf_puts(&emsg, t->tx.err_msg.len ? t->tx.err_msg.data : "");
    }
    uint32_t owner = owner_of(w, ename(w, e), w->key.data, w->key.len);
    if (owner == w->id) {
        sf_buf key, state;
        sf_buf_init(&key);
        sf_buf_init(&state);
        sf_buf_append(&key, w->key.data, w->key.len);
        sf_buf_append(&state, w->state.data, w->state.len);
        install(w, t, e, key.data, key.len, state.data, state.len, rc == 1 ? etype.data : NULL,
                emsg.data);
        sf_buf_free(&key);
        sf_buf_free(&state);
    } else {
        msgpack_packer pk;
        begin(w, &pk, 7, SF_FRAME_INSTALL);
        msgpack_pack_uint64(&pk, w->batch);
        msgpack_pack_uint64(&pk, t->txid);
        sf_pack_cstr(&pk, ename(w, e));
        sf_pack_bin(&pk, w->key.data, w->key.len);
        if (rc == 1) {
            msgpack_pack_nil(&pk);
            msgpack_pack_array(&pk, 2);
            sf_pack_cstr(&pk, etype.data ? etype.data : "TypeError");
            sf_pack_cstr(&pk, emsg.data ? emsg.data : "");
        } else {
            sf_pack_bin(&pk, w->state.data, w->state.len);
            msgpack_pack_nil(&pk);
        }
        char err[160];
        if (sf_frame_end(&w->out, 0, err, sizeof err) != 0)
            done_error(w, t, "TypeError", "the new instance's state is too large to send");
        else if (sf_conn_send_buf(w->peers[owner], &w->out) != 0) {
            sf_buf_reset(&w->out);
            worker_fail(w, 1);
        }
    }
    sf_buf_free(&etype);
    sf_buf_free(&emsg);
}

/* Run w->ev in t until it returns, fails or leaves this worker. */
static void run_event(sf_worker *w, wtxn *t)
{
    PyObject *res = NULL;
    int st = sf_exec_event(w->ex, &t->tx, &w->ev, &res);
    if (st < 0) {
        done_tx_error(w, t);
        return;
    }
    if (st == 1) {
        sf_buf *eb = &w->tmp;
        sf_buf_reset(eb);
        char err[512];
        const sf_txinst *ti = &t->tx.insts[w->ev.inst];
        uint32_t owner = owner_of(w, ename(w, ti->entity), sf_tx_key(&t->tx, w->ev.inst), ti->key_len);
        int rc = sf_event_encode(w->ex, &t->tx, &w->ev, eb, err, sizeof err);
        sf_event_clear(&w->ev);
        if (rc < 0) {
            if (t->created >= 0)
                done_error(w, t, "Unavailable",
                           "a constructor that calls an instance on another worker is not supported yet");
            else
                done_error(w, t, "TypeError", err);
            return;
        }
        msgpack_packer pk;
        begin(w, &pk, 3, SF_FRAME_EVENT);
        msgpack_pack_uint64(&pk, w->batch);
        sf_pack_bin(&pk, eb->data, eb->len);
        char ferr[160];
        if (sf_frame_end(&w->out, 0, ferr, sizeof ferr) != 0) {
            done_error(w, t, "RuntimeError", "the call's frame is too large to send to another worker");
            return;
        }
        if (sf_conn_send_buf(w->peers[owner], &w->out) != 0) {
            sf_buf_reset(&w->out);
            worker_fail(w, 1);
        }
        return;
    }
    if (t->created >= 0) {
        Py_XDECREF(res);
        create_finish(w, t);
        return;
    }
    sf_buf_reset(&w->result);
    char err[512];
    int rc = sf_pycodec_encode(&w->codec, res, "return value", &w->result, err, sizeof err);
    Py_XDECREF(res);
    if (rc < 0) {
        done_error(w, t, "TypeError", err);
        return;
    }
    send_done(w, t, 0, w->result.data, w->result.len, NULL, NULL);
}

/* ---- the end of a batch ------------------------------------------------------- */

typedef struct wrec {
    uint32_t entity;
    uint32_t keylen;
    uint32_t statelen;
    uint64_t hash;
} wrec;

static void put_write(void *arg, const sf_txinst *inst, const char *key, size_t keylen,
                      const char *state, size_t statelen)
{
    sf_buf *b = arg;
    wrec r = {(uint32_t)inst->entity, (uint32_t)keylen, (uint32_t)statelen, inst->hash};
    sf_buf_append(b, &r, sizeof r);
    sf_buf_append(b, key, keylen);
    sf_buf_append(b, state, statelen);
}

static void apply_writes(sf_worker *w, const wtxn *t)
{
    size_t p = 0;
    while (p + sizeof(wrec) <= t->writes.len) {
        wrec r;
        memcpy(&r, t->writes.data + p, sizeof r);
        p += sizeof r;
        const char *key = t->writes.data + p;
        const char *state = key + r.keylen;
        p += (size_t)r.keylen + r.statelen;
        sf_store_put_h(&w->store, r.hash, r.entity, key, r.keylen, state, r.statelen);
    }
}

static int inst_written(const sf_txinst *ti)
{
    return (ti->flags & (SF_TXI_WRITTEN | SF_TXI_CREATED)) && (ti->flags & SF_TXI_LOADED);
}

/* A frame from the coordinator that does not parse: the cluster cannot
 * agree with this worker any more, so it leaves. */
static void malformed(sf_worker *w, const char *frame)
{
    wlog(w, "malformed %s", frame);
    worker_fail(w, 1);
}

static void on_executed(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        malformed(w, "EXECUTED");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t txid;
        if (sf_rd_uint(r, &txid) < 0) {
            malformed(w, "EXECUTED");
            return;
        }
        wtxn *t = txn_find(w, txid);
        if (t)
            t->logic = 1;
    }
    /* reservations of the instances this worker owns */
    sf_aria_clear(&w->aria);
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        for (int j = 0; j < t->tx.ninsts; j++) {
            const sf_txinst *ti = &t->tx.insts[j];
            if ((ti->flags & SF_TXI_PENDING) || !is_local(w, ti->entity, sf_tx_key(&t->tx, j), ti->key_len))
                continue;
            sf_aria_reserve(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j), ti->key_len,
                            t->txid, 0);
            if (!t->logic && inst_written(ti))
                sf_aria_reserve(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                                ti->key_len, t->txid, 1);
        }
    }
    /* flags, and the write sets of the transactions that may commit */
    size_t nflagged = 0;
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        unsigned f = 0;
        for (int j = 0; j < t->tx.ninsts; j++) {
            const sf_txinst *ti = &t->tx.insts[j];
            if ((ti->flags & SF_TXI_PENDING) || !is_local(w, ti->entity, sf_tx_key(&t->tx, j), ti->key_len))
                continue;
            f |= sf_aria_flags(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                               ti->key_len, t->txid, 0);
            if (!t->logic && inst_written(ti))
                f |= sf_aria_flags(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                                   ti->key_len, t->txid, 1);
        }
        if (!t->logic && !(f & SF_ARIA_WAW) && !((f & SF_ARIA_RAW) && (f & SF_ARIA_WAR))) {
            sf_buf_reset(&t->writes);
            if (sf_tx_encode_writes(w->ex, &t->tx, put_write, &t->writes) < 0) {
                f |= SF_ARIA_FAILED;
                sf_buf_reset(&t->err_type);
                sf_buf_reset(&t->err_msg);
                sf_buf_puts(&t->err_type, t->tx.err_type.len ? t->tx.err_type.data : "InternalError");
                sf_buf_printf(&t->err_msg, "%.4000s", t->tx.err_msg.data ? t->tx.err_msg.data : "");
                sf_buf_reset(&t->writes);
            }
        }
        t->flags = f;
        if (f)
            nflagged++;
    }
    msgpack_packer pk;
    begin(w, &pk, 3, SF_FRAME_FLAGS);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_array(&pk, (uint32_t)nflagged);
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        if (!t->flags)
            continue;
        int failed = (t->flags & SF_ARIA_FAILED) != 0;
        msgpack_pack_array(&pk, failed ? 4 : 2);
        msgpack_pack_uint64(&pk, t->txid);
        msgpack_pack_unsigned_int(&pk, t->flags);
        if (failed) {
            sf_pack_cstr(&pk, t->err_type.data);
            sf_pack_cstr(&pk, t->err_msg.data ? t->err_msg.data : "");
        }
    }
    send_out(w, w->coord);
}

static void on_decide(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        malformed(w, "DECIDE");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t txid;
        if (sf_rd_uint(r, &txid) < 0) {
            malformed(w, "DECIDE");
            return;
        }
        wtxn *t = txn_find(w, txid);
        if (t && !t->logic && !(t->flags & SF_ARIA_FAILED))
            apply_writes(w, t);
    }
    uint64_t b = w->batch;
    batch_reset(w);
    w->last_done = b;
    msgpack_packer pk;
    begin(w, &pk, 2, SF_FRAME_COMMITTED);
    msgpack_pack_uint64(&pk, b);
    send_out(w, w->coord);
}

/* ---- frames ------------------------------------------------------------------- */

static int load_app(sf_worker *w, const char *sfir, size_t len)
{
    char err[1024];
    if (w->ir) {
        wlog(w, "the application was sent twice");
        return -1;
    }
    w->ir = sf_ir_decode(sfir, len, err, sizeof err);
    if (!w->ir) {
        wlog(w, "cannot read the application: %s", err);
        return -1;
    }
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0) {
        wlog(w, "cannot start Python: %s", err);
        return -1;
    }
    w->py_started = 1;
    if (sf_pycodec_init(&w->codec) < 0) {
        sf_pyrt_error_string(err, sizeof err);
        wlog(w, "codec: %s", err);
        return -1;
    }
    w->codec_ok = 1;
    w->app = sf_pyapp_load(w->ir, err, sizeof err);
    if (!w->app) {
        wlog(w, "cannot load the application: %s", err);
        return -1;
    }
    w->ex = sf_executor_new(w->app, &w->codec, &w->store, err, sizeof err);
    if (!w->ex) {
        wlog(w, "%s", err);
        return -1;
    }
    w->watchdog = sf_watchdog_start(SF_WORKER_TIME_LIMIT_MS, err, sizeof err);
    if (!w->watchdog) {
        wlog(w, "%s", err);
        return -1;
    }
    sf_executor_set_watchdog(w->ex, w->watchdog);
    return 0;
}

static void check_ready(sf_worker *w)
{
    if (w->ready_sent || !w->have_map || !w->ex || w->npeers + 1 < w->nworkers)
        return;
    w->ready_sent = 1;
    msgpack_packer pk;
    begin(w, &pk, 1, SF_FRAME_READY);
    send_out(w, w->coord);
}

static void set_peer(sf_worker *w, uint32_t id, sf_conn *c)
{
    if (id >= w->nworkers || id == w->id || w->peers[id]) {
        wlog(w, "unexpected peer %u from %s, closing", id, sf_conn_peer(c));
        sf_conn_close(c, "unexpected peer");
        return;
    }
    w->peers[id] = c;
    w->npeers++;
    wlink *l = sf_conn_data(c);
    l->peer = (int)id;
    check_ready(w);
}

static const sf_conn_callbacks peer_cbs;

static void on_map(sf_worker *w, sf_rd *r)
{
    uint64_t id, P;
    uint32_t np, nw;
    if (w->have_map) {
        wlog(w, "membership changes are not supported; ignoring a new MAP");
        return;
    }
    if (sf_rd_uint(r, &id) < 0 || sf_rd_uint(r, &P) < 0 || P == 0 || P > SF_MAX_PARTITIONS ||
        sf_rd_array(r, &np) < 0 || np != P) {
        malformed(w, "MAP");
        return;
    }
    uint32_t *owners = sf_xrealloc(NULL, P * sizeof(uint32_t));
    for (uint32_t i = 0; i < np; i++) {
        uint64_t o;
        if (sf_rd_uint(r, &o) < 0 || o >= SF_MAX_WORKERS) {
            free(owners);
            malformed(w, "MAP");
            return;
        }
        owners[i] = (uint32_t)o;
    }
    if (sf_rd_array(r, &nw) < 0 || nw == 0 || nw > SF_MAX_WORKERS || id >= nw) {
        free(owners);
        malformed(w, "MAP");
        return;
    }
    for (uint32_t i = 0; i < np; i++)
        if (owners[i] >= nw) {
            free(owners);
            malformed(w, "MAP");
            return;
        }
    w->owners = owners;
    w->P = (uint32_t)P;
    w->id = (uint32_t)id;
    w->nworkers = nw;
    w->peers = sf_xrealloc(NULL, nw * sizeof(sf_conn *));
    memset(w->peers, 0, nw * sizeof(sf_conn *));
    w->have_map = 1;
    if (w->ex)
        sf_executor_set_locality(w->ex, is_local, w);
    /* connect to every peer with a smaller id; the others connect to us */
    for (uint32_t i = 0; i < nw; i++) {
        const char *addr;
        size_t alen;
        if (sf_rd_str(r, &addr, &alen) < 0) {
            malformed(w, "MAP");
            return;
        }
        if (i >= w->id)
            continue;
        char a[300], host[256], err[256];
        int port;
        snprintf(a, sizeof a, "%.*s", (int)(alen < 299 ? alen : 299), addr);
        if (sf_parse_hostport(a, host, sizeof host, &port, err, sizeof err) < 0) {
            wlog(w, "peer %u: %s", i, err);
            worker_fail(w, 1);
            return;
        }
        wlink *l = sf_xrealloc(NULL, sizeof(wlink));
        l->w = w;
        l->kind = LINK_PEER_OUT;
        l->peer = (int)i;
        char me[300];
        snprintf(me, sizeof me, "%s:%d", w->listen_host, w->listen_port);
        sf_conn *c;
        if (sf_net_connect(w->net, host, port, "worker", me, &peer_cbs, l, &c, err, sizeof err) < 0) {
            free(l);
            wlog(w, "cannot connect to worker %u at %s: %s", i, a, err);
            worker_fail(w, 1);
            return;
        }
    }
    for (size_t k = 0; k < w->nearly; k++)
        set_peer(w, (uint32_t)w->early_id[k], w->early[k]);
    w->nearly = 0;
    check_ready(w);
}

static void on_batch(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        malformed(w, "BATCH");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t three;
        uint64_t txid, pos;
        const char *req;
        size_t len;
        if (sf_rd_array(r, &three) < 0 || three != 3 || sf_rd_uint(r, &txid) < 0 ||
            sf_rd_uint(r, &pos) < 0 || sf_rd_bin(r, &req, &len) < 0) {
            malformed(w, "BATCH");
            return;
        }
        wtxn *t = txn_get(w, txid);
        /* the request bytes live in the frame; nothing keeps them */
        start_request(w, t, req, len);
        if (w->stopping)
            return;
    }
}

static void on_coord_frame(sf_worker *w, int type, sf_rd *r)
{
    if (type == SF_FRAME_APP) {
        const char *p;
        size_t n;
        if (sf_rd_bin(r, &p, &n) < 0 || load_app(w, p, n) < 0) {
            worker_fail(w, 1);
            return;
        }
        if (w->have_map)
            sf_executor_set_locality(w->ex, is_local, w);
        check_ready(w);
        return;
    }
    if (type == SF_FRAME_MAP) {
        on_map(w, r);
        return;
    }
    if (!w->ex || !w->have_map) {
        wlog(w, "frame %d before the application and the map", type);
        worker_fail(w, 1);
        return;
    }
    uint64_t b;
    if (sf_rd_uint(r, &b) < 0 || !batch_ok(w, b)) {
        wlog(w, "frame %d for an unexpected batch", type);
        worker_fail(w, 1);
        return;
    }
    switch (type) {
    case SF_FRAME_BATCH: on_batch(w, r); break;
    case SF_FRAME_EXECUTED: on_executed(w, r); break;
    case SF_FRAME_DECIDE: on_decide(w, r); break;
    default:
        wlog(w, "unexpected frame %d from the coordinator", type);
        worker_fail(w, 1);
    }
}

static void on_peer_frame(sf_worker *w, sf_conn *c, int type, sf_rd *r)
{
    wlink *l = sf_conn_data(c);
    if (type == SF_FRAME_PEER) {
        uint64_t id;
        if (l->kind != LINK_PEER_IN || l->peer >= 0 || sf_rd_uint(r, &id) < 0 || id >= SF_MAX_WORKERS) {
            wlog(w, "bad PEER frame from %s, closing", sf_conn_peer(c));
            sf_conn_close(c, "bad PEER");
            return;
        }
        if (!w->have_map) {
            l->peer = (int)id;
            w->early = sf_xrealloc(w->early, (w->nearly + 1) * sizeof(sf_conn *));
            w->early_id = sf_xrealloc(w->early_id, (w->nearly + 1) * sizeof(int));
            w->early[w->nearly] = c;
            w->early_id[w->nearly++] = (int)id;
            return;
        }
        if (id <= w->id) {
            wlog(w, "peer %s claims id %llu, closing", sf_conn_peer(c), (unsigned long long)id);
            sf_conn_close(c, "bad peer id");
            return;
        }
        set_peer(w, (uint32_t)id, c);
        return;
    }
    if (l->peer < 0 || !w->ex || !w->have_map) {
        wlog(w, "frame %d from an unidentified peer %s, closing", type, sf_conn_peer(c));
        sf_conn_close(c, "unidentified");
        return;
    }
    uint64_t b, txid;
    if (sf_rd_uint(r, &b) < 0 || !batch_ok(w, b)) {
        wlog(w, "frame %d from worker %d for an unexpected batch", type, l->peer);
        worker_fail(w, 1);
        return;
    }
    char err[512];
    if (type == SF_FRAME_EVENT) {
        const char *ev;
        size_t evlen;
        if (sf_rd_bin(r, &ev, &evlen) < 0) {
            wlog(w, "malformed EVENT from worker %d", l->peer);
            worker_fail(w, 1);
            return;
        }
        /* the txid is the event's second item */
        sf_rd er;
        sf_rd_init(&er, ev, evlen);
        uint32_t n;
        uint64_t ver;
        if (sf_rd_array(&er, &n) < 0 || n < 2 || sf_rd_uint(&er, &ver) < 0 || sf_rd_uint(&er, &txid) < 0) {
            wlog(w, "malformed event from worker %d", l->peer);
            worker_fail(w, 1);
            return;
        }
        wtxn *t = txn_get(w, txid);
        if (sf_event_decode(w->ex, &t->tx, ev, evlen, &w->ev, err, sizeof err) < 0) {
            wlog(w, "bad event from worker %d: %s", l->peer, err);
            done_error(w, t, "InternalError", err);
            return;
        }
        run_event(w, t);
        return;
    }
    if (type == SF_FRAME_CHECK) {
        const char *req, *refs;
        size_t reqlen, refslen;
        uint64_t next;
        if (sf_rd_uint(r, &txid) < 0 || sf_rd_bin(r, &req, &reqlen) < 0 ||
            sf_rd_bin(r, &refs, &refslen) < 0 || sf_rd_uint(r, &next) < 0 || next > UINT32_MAX) {
            wlog(w, "malformed CHECK from worker %d", l->peer);
            worker_fail(w, 1);
            return;
        }
        check_refs(w, txn_get(w, txid), req, reqlen, refs, refslen, (uint32_t)next);
        return;
    }
    if (type == SF_FRAME_INSTALL) {
        const char *name, *key, *state = NULL;
        size_t namelen, keylen, statelen = 0;
        if (sf_rd_uint(r, &txid) < 0 || sf_rd_str(r, &name, &namelen) < 0 ||
            sf_rd_bin(r, &key, &keylen) < 0) {
            wlog(w, "malformed INSTALL from worker %d", l->peer);
            worker_fail(w, 1);
            return;
        }
        if (!sf_rd_nil(r) && sf_rd_bin(r, &state, &statelen) < 0) {
            wlog(w, "malformed INSTALL from worker %d", l->peer);
            worker_fail(w, 1);
            return;
        }
        sf_buf et, em;
        sf_buf_init(&et);
        sf_buf_init(&em);
        int has_err = 0;
        if (!sf_rd_nil(r)) {
            uint32_t two;
            const char *a, *m;
            size_t an, mn;
            if (sf_rd_array(r, &two) < 0 || two != 2 || sf_rd_str(r, &a, &an) < 0 ||
                sf_rd_str(r, &m, &mn) < 0) {
                wlog(w, "malformed INSTALL from worker %d", l->peer);
                worker_fail(w, 1);
                return;
            }
            sf_buf_append(&et, a, an);
            sf_buf_append(&em, m, mn);
            has_err = 1;
        }
        wtxn *t = txn_get(w, txid);
        int e = sf_pyapp_entity_index(w->app, name, namelen);
        if (e < 0)
            done_error(w, t, "InternalError", "INSTALL names an unknown entity");
        else if (!state && !has_err)
            done_error(w, t, "InternalError", "INSTALL without a state");
        else
            install(w, t, e, key, keylen, state, statelen, has_err ? et.data : NULL, em.data);
        sf_buf_free(&et);
        sf_buf_free(&em);
        return;
    }
    wlog(w, "unexpected frame %d from worker %d", type, l->peer);
    worker_fail(w, 1);
}

/* ---- connections ------------------------------------------------------------- */

static void on_frame(sf_conn *c, int type, const char *payload, size_t len, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
    if (w->stopping)
        return;
    sf_rd r;
    sf_rd_init(&r, payload, len);
    uint32_t n;
    uint64_t t;
    if (sf_rd_array(&r, &n) < 0 || sf_rd_uint(&r, &t) < 0) {
        wlog(w, "malformed frame from %s", sf_conn_peer(c));
        return;
    }
    if (l->kind == LINK_COORD)
        on_coord_frame(w, type, &r);
    else
        on_peer_frame(w, c, type, &r);
}

static void on_grace(uv_timer_t *t)
{
    sf_worker *w = t->data;
    if (w->stopping)
        return;
    wlog(w, "%s; stopping", w->lost);
    worker_fail(w, 1);
}

static void on_close(sf_conn *c, const char *reason, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
    if (l->kind == LINK_COORD) {
        w->coord = NULL;
        free(l);
        if (!w->joined) {
            wlog(w, "could not join the coordinator: %s", reason);
            worker_fail(w, 1);
            return;
        }
        if (!w->stopping && !w->have_map) {
            wlog(w, "the coordinator closed the connection before the cluster formed (%s)", reason);
            worker_fail(w, 1);
            return;
        }
        if (!w->stopping)
            wlog(w, "coordinator connection closed (%s); stopping", reason);
        worker_fail(w, 0);
        return;
    }
    if (l->peer >= 0 && w->peers && (uint32_t)l->peer < w->nworkers && w->peers[l->peer] == c) {
        w->peers[l->peer] = NULL;
        w->npeers--;
    }
    for (size_t k = 0; k < w->nearly; k++)
        if (w->early[k] == c) {
            w->early[k] = w->early[w->nearly - 1];
            w->early_id[k] = w->early_id[w->nearly - 1];
            w->nearly--;
            break;
        }
    int was_peer = l->peer >= 0;
    int peer = l->peer;
    free(l);
    if (!w->stopping && was_peer && !w->grace_armed) {
        /* At shutdown the other workers may leave before the coordinator's
         * close reaches us: give it a moment before calling this a failure
         * (the coordinator must learn of it, so we do stop then). */
        snprintf(w->lost, sizeof w->lost, "connection to worker %d lost (%s)", peer, reason);
        w->grace_armed = 1;
        uv_timer_start(&w->grace, on_grace, 1000, 0);
    }
}

static void on_peer_open(sf_conn *c, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
    if (l->kind == LINK_PEER_OUT) {
        msgpack_packer pk;
        begin(w, &pk, 2, SF_FRAME_PEER);
        msgpack_pack_uint32(&pk, w->id);
        if (send_out(w, c) == 0)
            set_peer(w, (uint32_t)l->peer, c);
    }
}

static const sf_conn_callbacks peer_cbs = {on_peer_open, on_frame, on_close};

static void on_accept(sf_conn *c, void *ud)
{
    sf_worker *w = ud;
    wlink *l = sf_xrealloc(NULL, sizeof(wlink));
    l->w = w;
    l->kind = LINK_PEER_IN;
    l->peer = -1;
    sf_conn_set_data(c, l);
    if (w->stopping || strcmp(sf_conn_role(c), "worker") != 0) {
        wlog(w, "%s connected with role '%s', closing", sf_conn_peer(c), sf_conn_role(c));
        sf_conn_close(c, "not a worker");
    }
}

static const sf_conn_callbacks accept_cbs = {on_accept, on_frame, on_close};

static void on_coord_open(sf_conn *c, void *ud)
{
    wlink *l = ud;
    l->w->joined = 1;
    wlog(l->w, "joined the coordinator at %s", sf_conn_peer(c));
}

static const sf_conn_callbacks coord_cbs = {on_coord_open, on_frame, on_close};

/* ---- lifecycle ---------------------------------------------------------------- */

static void worker_fail(sf_worker *w, int status)
{
    if (status > w->status)
        w->status = status;
    if (!w->stopping) {
        w->stopping = 1;
        w->listener = NULL;
        sf_net_close_all(w->net);
    }
    if (w->grace_init) {
        w->grace_init = 0;
        uv_close((uv_handle_t *)&w->grace, NULL);
    }
    if (!w->stop_reported && w->cfg.on_stop) {
        w->stop_reported = 1;
        w->cfg.on_stop(w->cfg.ud, w->status);
    }
}

void sf_worker_stop(sf_worker *w)
{
    if (w)
        worker_fail(w, 0);
}

int sf_worker_start(const sf_worker_config *cfg, sf_worker **out, char *err, size_t errlen)
{
    *out = NULL;
    sf_worker *w = sf_xrealloc(NULL, sizeof(*w));
    memset(w, 0, sizeof(*w));
    w->cfg = *cfg;
    w->loop = cfg->loop;
    sf_store_init(&w->store);
    sf_aria_init(&w->aria);
    sf_event_init(&w->ev);
    sf_buf_init(&w->out);
    sf_buf_init(&w->tmp);
    sf_buf_init(&w->refs);
    sf_buf_init(&w->key);
    sf_buf_init(&w->state);
    sf_buf_init(&w->result);
    snprintf(w->listen_host, sizeof w->listen_host, "%s", cfg->listen_host ? cfg->listen_host : "127.0.0.1");
    sf_net_config nc = {0};
    nc.loop = cfg->loop;
    nc.token = cfg->token;
    nc.token_len = cfg->token_len;
    nc.log = net_log;
    nc.idle_timeout_ms = SF_CLUSTER_IDLE_MS;
    nc.max_queued = SF_CLUSTER_MAX_QUEUED;
    nc.log_ud = w;
    if (sf_net_new(&nc, &w->net, err, errlen) < 0) {
        free(w);
        return -1;
    }
    *out = w;
    uv_timer_init(w->loop, &w->grace);
    w->grace.data = w;
    w->grace_init = 1;
    if (sf_net_listen(w->net, w->listen_host, cfg->listen_port, &accept_cbs, w, &w->listener, err,
                      errlen) < 0) {
        w->stop_reported = 1;
        worker_fail(w, 1);
        return -1;
    }
    w->listen_port = sf_listener_port(w->listener);
    char me[300];
    snprintf(me, sizeof me, "%s:%d", w->listen_host, w->listen_port);
    wlink *l = sf_xrealloc(NULL, sizeof(wlink));
    l->w = w;
    l->kind = LINK_COORD;
    l->peer = -1;
    if (sf_net_connect(w->net, cfg->join_host, cfg->join_port, "worker", me, &coord_cbs, l, &w->coord,
                       err, errlen) < 0) {
        free(l);
        w->stop_reported = 1;
        worker_fail(w, 1);
        return -1;
    }
    return 0;
}

int sf_worker_free(sf_worker *w)
{
    if (!w)
        return 0;
    if (sf_net_free(w->net) < 0)
        return -1;
    for (size_t k = 0; k < w->cap; k++) {
        sf_tx_free(&w->txns[k]->tx);
        sf_buf_free(&w->txns[k]->writes);
        sf_buf_free(&w->txns[k]->err_type);
        sf_buf_free(&w->txns[k]->err_msg);
        free(w->txns[k]);
    }
    free(w->txns);
    free(w->index);
    sf_event_free(&w->ev);
    sf_executor_free(w->ex);
    sf_watchdog_stop(w->watchdog);
    sf_pyapp_free(w->app);
    sf_store_free(&w->store);
    if (w->codec_ok)
        sf_pycodec_fini(&w->codec);
    if (w->py_started)
        sf_pyrt_stop();
    sf_ir_free(w->ir);
    sf_aria_free(&w->aria);
    free(w->owners);
    free(w->peers);
    free(w->early);
    free(w->early_id);
    sf_buf_free(&w->out);
    sf_buf_free(&w->tmp);
    sf_buf_free(&w->refs);
    sf_buf_free(&w->key);
    sf_buf_free(&w->state);
    sf_buf_free(&w->result);
    free(w);
    return 0;
}
