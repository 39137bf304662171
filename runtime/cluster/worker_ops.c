/* worker_ops.c: client operations of the stateflowd worker run in steps
 * (docs/runtime.md "Client operations across workers"): a request of BATCH
 * at its home worker, its reference checks handed from owner to owner
 * (CHECK), events that continue on the owner of their next target (EVENT),
 * a create's new instance moved to the owner of its key (INSTALL), and the
 * DONE that ends a transaction where it finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"
#include "gateway.h"
#include "json.h"
#include "request.h"
#include "stateflow/sf_util.h"
#include "stateflow/sf_value.h"

/* ---- DONE ------------------------------------------------------------------- */

static void send_done(sf_worker *w, wtxn *t, int outcome, const char *value, size_t vlen,
                      const char *etype, const char *emsg)
{
    if (t->done) {
        wk_log(w, "transaction %llu finished twice here", (unsigned long long)t->txid);
        return;
    }
    /* in the fallback: outcome 2 when its footprint here changed */
    if (outcome != 2 && wk_fb_leave(w, t) < 0)
        outcome = 2;
    t->done = 1;
    msgpack_packer pk;
    wk_begin(w, &pk, 5, SF_FRAME_DONE);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_uint64(&pk, t->txid);
    msgpack_pack_int(&pk, outcome);
    if (outcome == 0) {
        sf_pack_bin(&pk, value, vlen);
    } else if (outcome == 2) {
        sf_pack_bin(&pk, "", 0);
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
        wk_log(w, "cannot send DONE to the coordinator (error %d)", rc);
        wk_fail(w, 1);
        return;
    }
    wk_fb_ended(w, t, outcome);
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

/* Its execution leaves this worker: in the fallback, a changed footprint
 * ends it here (outcome 2, the next batch). Returns 0, or -1 then. */
static int leave_ok(sf_worker *w, wtxn *t)
{
    if (wk_fb_leave(w, t) == 0)
        return 0;
    send_done(w, t, 2, NULL, 0, NULL, NULL);
    return -1;
}

static void send_check(sf_worker *w, uint32_t to, wtxn *t, const char *req, size_t reqlen,
                       const char *refs, size_t refslen, uint32_t next)
{
    if (leave_ok(w, t) < 0)
        return;
    msgpack_packer pk;
    wk_begin(w, &pk, 6, SF_FRAME_CHECK);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_uint64(&pk, t->txid);
    sf_pack_bin(&pk, req, reqlen);
    sf_pack_bin(&pk, refs, refslen);
    msgpack_pack_uint32(&pk, next);
    char err[160];
    if (sf_frame_end(&w->out, 0, err, sizeof err) != 0) {
        sf_buf_reset(&w->out);
        done_error(w, t, "RuntimeError", "the request is too large to send to another worker");
        return;
    }
    wk_peer_send(w, to);
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
        uint32_t owner = wk_owner_of(w, wk_ename(w, e), key, keylen);
        if (owner != w->id) {
            send_check(w, owner, t, req, reqlen, refs, refslen, i);
            return;
        }
        sf_tx_instance(&t->tx, e, key, keylen); /* a read of the instance */
        if (!sf_store_contains(&w->store, (uint32_t)e, key, keylen)) {
            sf_buf msg;
            sf_buf_init(&msg);
            sf_buf_printf(&msg, "%s ", wk_ename(w, e));
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
    put_ref(&w->result, wk_ename(w, e), key, keylen);
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
    uint32_t owner = wk_owner_of(w, wk_ename(w, e), w->key.data, w->key.len);
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
    } else if (leave_ok(w, t) == 0) {
        msgpack_packer pk;
        wk_begin(w, &pk, 7, SF_FRAME_INSTALL);
        msgpack_pack_uint64(&pk, w->batch);
        msgpack_pack_uint64(&pk, t->txid);
        sf_pack_cstr(&pk, wk_ename(w, e));
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
        else
            wk_peer_send(w, owner);
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
    if (st == 1 && w->fb_active && wk_fb_leave(w, t) < 0) {
        sf_event_clear(&w->ev);
        send_done(w, t, 2, NULL, 0, NULL, NULL);
        return;
    }
    if (st == 1) {
        sf_buf *eb = &w->tmp;
        sf_buf_reset(eb);
        char err[512];
        const sf_txinst *ti = &t->tx.insts[w->ev.inst];
        uint32_t owner = wk_owner_of(w, wk_ename(w, ti->entity), sf_tx_key(&t->tx, w->ev.inst), ti->key_len);
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
        wk_begin(w, &pk, 3, SF_FRAME_EVENT);
        msgpack_pack_uint64(&pk, w->batch);
        sf_pack_bin(&pk, eb->data, eb->len);
        char ferr[160];
        if (sf_frame_end(&w->out, 0, ferr, sizeof ferr) != 0) {
            done_error(w, t, "RuntimeError", "the call's frame is too large to send to another worker");
            return;
        }
        wk_peer_send(w, owner);
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

void wk_on_batch(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        wk_malformed(w, "BATCH");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t three;
        uint64_t txid, pos;
        const char *req;
        size_t len;
        if (sf_rd_array(r, &three) < 0 || three != 3 || sf_rd_uint(r, &txid) < 0 ||
            sf_rd_uint(r, &pos) < 0 || sf_rd_bin(r, &req, &len) < 0) {
            wk_malformed(w, "BATCH");
            return;
        }
        wtxn *t = wk_txn_get(w, txid);
        /* kept for the fallback phase */
        sf_buf_reset(&t->req);
        sf_buf_append(&t->req, req, len);
        start_request(w, t, req, len);
        if (w->stopping)
            return;
    }
}

/* EVENT, CHECK and INSTALL from worker peer (the batch id already read). A
 * frame that does not parse stops the worker, like one from the
 * coordinator: the peers are trusted and cannot disagree with us. */
void wk_on_peer_op(sf_worker *w, int peer, int type, sf_rd *r)
{
    uint64_t txid;
    char err[512];
    const char *rest = r->d + r->pos;
    size_t restlen = r->len - r->pos;
    if (w->executed && !w->fb_active) {
        /* a fallback step or release from a peer that got DECIDE first */
        int32_t hdr[2] = {type, peer};
        uint64_t n = restlen;
        sf_buf_append(&w->fb_early, hdr, sizeof hdr);
        sf_buf_append(&w->fb_early, &n, sizeof n);
        sf_buf_append(&w->fb_early, rest, restlen);
        return;
    }
    if (type == SF_FRAME_EVENT) {
        const char *ev;
        size_t evlen;
        if (sf_rd_bin(r, &ev, &evlen) < 0) {
            wk_log(w, "malformed EVENT from worker %d", peer);
            wk_fail(w, 1);
            return;
        }
        /* the txid is the event's second item */
        sf_rd er;
        sf_rd_init(&er, ev, evlen);
        uint32_t n;
        uint64_t ver;
        if (sf_rd_array(&er, &n) < 0 || n < 2 || sf_rd_uint(&er, &ver) < 0 || sf_rd_uint(&er, &txid) < 0) {
            wk_log(w, "malformed event from worker %d", peer);
            wk_fail(w, 1);
            return;
        }
        wtxn *t = wk_txn_get(w, txid);
        if (!wk_fb_admit(w, t, type, peer, rest, restlen))
            return;
        if (sf_event_decode(w->ex, &t->tx, ev, evlen, &w->ev, err, sizeof err) < 0) {
            wk_log(w, "bad event from worker %d: %s", peer, err);
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
            wk_log(w, "malformed CHECK from worker %d", peer);
            wk_fail(w, 1);
            return;
        }
        wtxn *t = wk_txn_get(w, txid);
        if (wk_fb_admit(w, t, type, peer, rest, restlen))
            check_refs(w, t, req, reqlen, refs, refslen, (uint32_t)next);
        return;
    }
    if (type == SF_FRAME_INSTALL) {
        const char *name, *key, *state = NULL;
        size_t namelen, keylen, statelen = 0;
        if (sf_rd_uint(r, &txid) < 0 || sf_rd_str(r, &name, &namelen) < 0 ||
            sf_rd_bin(r, &key, &keylen) < 0) {
            wk_log(w, "malformed INSTALL from worker %d", peer);
            wk_fail(w, 1);
            return;
        }
        if (!sf_rd_nil(r) && sf_rd_bin(r, &state, &statelen) < 0) {
            wk_log(w, "malformed INSTALL from worker %d", peer);
            wk_fail(w, 1);
            return;
        }
        if (!wk_fb_admit(w, wk_txn_get(w, txid), type, peer, rest, restlen))
            return;
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
                wk_log(w, "malformed INSTALL from worker %d", peer);
                wk_fail(w, 1);
                return;
            }
            sf_buf_append(&et, a, an);
            sf_buf_append(&em, m, mn);
            has_err = 1;
        }
        wtxn *t = wk_txn_get(w, txid);
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
    if (type == SF_FRAME_RELEASE) {
        wk_on_release(w, r);
        return;
    }
    wk_log(w, "unexpected frame %d from worker %d", type, peer);
    wk_fail(w, 1);
}

/* ---- the fallback phase ------------------------------------------------------ */

void wk_fb_start(sf_worker *w, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n && !w->stopping; i++) {
        wtxn *t = wk_txn_find(w, ids[i]);
        if (!t || !t->req.len)
            continue; /* not its home */
        /* the bytes move out: a parked step copies them */
        sf_buf req = t->req;
        sf_buf_init(&t->req);
        if (wk_fb_admit(w, t, -1, 0, req.data, req.len))
            start_request(w, t, req.data, req.len);
        sf_buf_free(&req);
    }
    sf_buf early = w->fb_early;
    sf_buf_init(&w->fb_early);
    size_t p = 0;
    while (!w->stopping && p + 2 * sizeof(int32_t) + sizeof(uint64_t) <= early.len) {
        int32_t hdr[2];
        uint64_t len;
        memcpy(hdr, early.data + p, sizeof hdr);
        memcpy(&len, early.data + p + sizeof hdr, sizeof len);
        p += sizeof hdr + sizeof len;
        sf_rd r;
        sf_rd_init(&r, early.data + p, (size_t)len);
        p += (size_t)len;
        wk_on_peer_op(w, hdr[1], hdr[0], &r);
    }
    sf_buf_free(&early);
    wk_fb_pump(w);
}

void wk_run_parked(sf_worker *w, wtxn *t)
{
    if (t->dtype == 0)
        return;
    int type = t->dtype, peer = t->dpeer;
    t->dtype = 0;
    /* the bytes move out: the step may reuse nothing of t's */
    sf_buf b = t->dbytes;
    sf_buf_init(&t->dbytes);
    if (type == -1)
        start_request(w, t, b.data, b.len);
    else {
        sf_rd r;
        sf_rd_init(&r, b.data, b.len);
        wk_on_peer_op(w, peer, type, &r);
    }
    if (!t->dbytes.data)
        t->dbytes = b; /* keep the memory */
    else
        sf_buf_free(&b);
}
