/* coordinator.c: the stateflowd coordinator (coordinator.h): worker
 * membership and the partition map, request intake from the HTTP gateway
 * and the native protocol into the ingress, the sequencer, the Aria rounds
 * of each batch, replies, reruns, the commit log and metrics. */
#include "coordinator.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "aria.h"
#include "cluster.h"
#include "gateway.h"
#include "ingress.h"
#include "json.h"
#include "metrics.h"
#include "native.h"
#include "net.h"
#include "request.h"
#include "stateflow/sf_ir.h"
#include "stateflow/sf_util.h"

#define BATCH_FRAME_SOFT_MAX (8u << 20) /* split BATCH frames above this */

enum phase { PH_JOINING, PH_SERVING, PH_BROKEN, PH_CLOSING };
enum stage { ST_IDLE, ST_EXEC, ST_FLAGS, ST_COMMIT };

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
    FILE *clog;
    int http_port, native_port;

    /* the batch */
    uint64_t batch_id;
    int stage;
    ctxn *txns;
    size_t ntxns, cap;
    size_t ndone;
    uint32_t nflags, ncommitted;
    sf_buf arena;
    ctxn *reruns;
    size_t nreruns, rcap;
    sf_ingress_entry *take_buf;

    sf_buf out, tmp, tmp2;
    uint64_t *order_ids;
    unsigned *order_flags;
    size_t *order, order_cap;
};

static void clog_line(sf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clog_line(sf_coordinator *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->cfg.log)
        c->cfg.log(c->cfg.ud, line);
    else
        fprintf(stderr, "stateflowd: %s\n", line);
}

static void net_log(void *ud, const char *line) { clog_line((sf_coordinator *)ud, "cluster: %s", line); }
static void gw_log(void *ud, const char *line) { clog_line((sf_coordinator *)ud, "http: %s", line); }
static void native_log(void *ud, const char *line) { clog_line((sf_coordinator *)ud, "%s", line); }

static void broken(sf_coordinator *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void maybe_start_batch(sf_coordinator *c);

/* ---- replies ---------------------------------------------------------------- */

/* The id of a request map (msgpack span), for native replies. */
static void request_id(const sf_ingress_entry *e, const char **id, size_t *idlen)
{
    sf_reqmap gr;
    *id = NULL;
    *idlen = 0;
    if (sf_reqmap_decode(e->req, e->len, &gr, NULL, 0) == 0) {
        *id = gr.id;
        *idlen = gr.id_len;
    }
}

static void native_latency(sf_coordinator *c, const sf_ingress_entry *e)
{
    sf_metric_observe(c->sm.latency, (double)(uv_hrtime() - e->arrival_ns) / 1e9);
}

static void reply_ok(sf_coordinator *c, const sf_ingress_entry *e, const char *value, size_t len)
{
    if (e->to.kind == SF_REPLY_GATEWAY && c->gw)
        sf_gateway_reply_ok(c->gw, e->to.a, value, len);
    else if (e->to.kind == SF_REPLY_NATIVE && c->native) {
        const char *id;
        size_t idlen;
        request_id(e, &id, &idlen);
        native_latency(c, e);
        sf_native_reply_ok(c->native, e->to.a, e->to.b, id, idlen, value, len);
    }
}

static void reply_error(sf_coordinator *c, const sf_ingress_entry *e, const char *type,
                        const char *msg)
{
    if (e->to.kind == SF_REPLY_GATEWAY && c->gw)
        sf_gateway_reply_error(c->gw, e->to.a, type, msg);
    else if (e->to.kind == SF_REPLY_NATIVE && c->native) {
        const char *id;
        size_t idlen;
        request_id(e, &id, &idlen);
        native_latency(c, e);
        sf_native_reply_error(c->native, e->to.a, e->to.b, id, idlen, type, msg);
    }
}

/* An error map from the arena. */
static void reply_error_map(sf_coordinator *c, const sf_ingress_entry *e, const char *map, size_t len)
{
    const char *t, *m;
    size_t tl, ml;
    if (sf_error_map_read(map, len, &t, &tl, &m, &ml) < 0) {
        reply_error(c, e, "InternalError", "malformed error from a worker");
        return;
    }
    sf_buf_reset(&c->tmp);
    sf_buf_append(&c->tmp, t, tl);
    sf_buf_reset(&c->tmp2);
    if (m)
        sf_buf_append(&c->tmp2, m, ml);
    else
        sf_buf_puts(&c->tmp2, "");
    reply_error(c, e, c->tmp.data, c->tmp2.data);
}

/* ---- sending to workers ------------------------------------------------------- */

static void begin(sf_buf *b, msgpack_packer *pk, uint32_t n, int type)
{
    sf_frame_begin(b);
    sf_frame_packer_init(pk, b);
    msgpack_pack_array(pk, n);
    msgpack_pack_int(pk, type);
}

/* Send the frame(s) in c->out to worker i. */
static int send_worker(sf_coordinator *c, uint32_t i)
{
    cworker *w = &c->workers[i];
    if (!w->conn) {
        sf_buf_reset(&c->out);
        return -1;
    }
    int rc = sf_conn_send_buf(w->conn, &c->out);
    if (rc != 0) {
        sf_buf_reset(&c->out);
        if (rc == SF_NET_ECLOSED)
            broken(c, "worker %u (%s) disconnected", i, w->addr);
        else
            broken(c, "cannot send to worker %u (%s): %s", i, w->addr,
                   rc == SF_NET_EFULL ? "its queue is full" : "frame too large");
        return -1;
    }
    return 0;
}

static int end_frame(sf_coordinator *c, size_t at)
{
    char err[160];
    if (sf_frame_end(&c->out, at, err, sizeof err) != 0) {
        broken(c, "frame too large: %s", err);
        return -1;
    }
    return 0;
}

/* ---- failure ---------------------------------------------------------------- */

/* Answer everything in flight or waiting with Unavailable. */
static void fail_pending(sf_coordinator *c, const char *msg)
{
    for (size_t i = 0; i < c->ntxns; i++)
        reply_error(c, &c->txns[i].e, "Unavailable", msg);
    c->ntxns = 0;
    for (size_t i = 0; i < c->nreruns; i++)
        reply_error(c, &c->reruns[i].e, "Unavailable", msg);
    c->nreruns = 0;
    sf_ingress_entry e;
    while (sf_ingress_take(c->ingress, 1, &e) == 1) {
        reply_error(c, &e, "Unavailable", msg);
        sf_ingress_ack(c->ingress, e.pos + 1);
    }
    sf_ingress_ack(c->ingress, UINT64_MAX);
    c->stage = ST_IDLE;
    sf_metric_set(c->m_pending, 0);
}

static void broken(sf_coordinator *c, const char *fmt, ...)
{
    if (c->phase == PH_BROKEN || c->phase == PH_CLOSING)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    clog_line(c, "%s; the service is unavailable from now on (restart to recover)", c->why);
    c->phase = PH_BROKEN;
    fail_pending(c, c->why);
}

/* ---- the batch ------------------------------------------------------------------ */

static uint32_t home_of(sf_coordinator *c, const sf_ingress_entry *e, int *op)
{
    sf_reqmap gr;
    if (sf_reqmap_decode(e->req, e->len, &gr, NULL, 0) < 0) {
        *op = 0;
        return c->owners[e->pos % c->P];
    }
    *op = gr.op;
    return c->owners[sf_cluster_home_partition(&gr, e->pos, c->P)];
}

static void txn_reserve(sf_coordinator *c, size_t n)
{
    if (n > c->cap) {
        c->cap = n;
        c->txns = sf_xrealloc(c->txns, c->cap * sizeof(ctxn));
    }
}

/* Send the BATCH frames of worker wi (at least one, split when large). */
static int send_batch_to(sf_coordinator *c, uint32_t wi)
{
    sf_buf *items = &c->tmp;
    size_t i = 0;
    do {
        sf_buf_reset(items);
        msgpack_packer ip;
        sf_frame_packer_init(&ip, items);
        uint32_t count = 0;
        for (; i < c->ntxns && items->len < BATCH_FRAME_SOFT_MAX; i++) {
            ctxn *t = &c->txns[i];
            if (t->home != wi)
                continue;
            msgpack_pack_array(&ip, 3);
            msgpack_pack_uint64(&ip, t->e.pos);
            msgpack_pack_uint64(&ip, t->e.pos);
            sf_pack_bin(&ip, t->e.req, t->e.len);
            count++;
        }
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        begin(&c->out, &pk, 3, SF_FRAME_BATCH);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, count);
        sf_buf_append(&c->out, items->data, items->len);
        if (end_frame(c, 0) < 0 || send_worker(c, wi) < 0)
            return -1;
    } while (i < c->ntxns);
    return 0;
}

static void start_batch(sf_coordinator *c)
{
    size_t room = c->batch_size;
    txn_reserve(c, c->nreruns + room);
    c->ntxns = 0;
    sf_buf_reset(&c->arena);
    /* conflict-aborted transactions of the last batch open this one */
    for (size_t i = 0; i < c->nreruns; i++)
        c->txns[c->ntxns++] = c->reruns[i];
    c->nreruns = 0;
    size_t want = room > c->ntxns ? room - c->ntxns : 0;
    if (!c->take_buf)
        c->take_buf = sf_xrealloc(NULL, sizeof(sf_ingress_entry));
    size_t bytes = 0;
    for (size_t i = 0; i < c->ntxns; i++)
        bytes += c->txns[i].e.len;
    /* one at a time, so a batch of large requests stops at the byte cap */
    while (want > 0 && bytes < SF_BATCH_MAX_BYTES && sf_ingress_take(c->ingress, 1, c->take_buf) == 1) {
        ctxn *t = &c->txns[c->ntxns++];
        memset(t, 0, sizeof(*t));
        t->e = c->take_buf[0];
        bytes += t->e.len;
        want--;
    }
    if (c->ntxns == 0)
        return;
    c->batch_id++;
    for (size_t i = 0; i < c->ntxns; i++) {
        ctxn *t = &c->txns[i];
        t->home = home_of(c, &t->e, &t->op);
        t->done = t->outcome = 0;
        t->flags = 0;
        t->err_from = -1;
        t->reply_off = t->reply_len = 0;
        t->decision = 0;
        t->runs++;
    }
    c->stage = ST_EXEC;
    c->ndone = 0;
    c->nflags = c->ncommitted = 0;
    for (uint32_t w = 0; w < c->nworkers; w++)
        c->workers[w].flags_in = c->workers[w].committed_in = 0;
    sf_metric_inc(c->sm.batches);
    sf_metric_observe(c->sm.batch_size, (double)c->ntxns);
    sf_metric_set(c->m_pending, (double)sf_ingress_available(c->ingress));
    for (uint32_t w = 0; w < c->nworkers; w++)
        if (send_batch_to(c, w) < 0)
            return;
}

static void on_timer(uv_timer_t *t)
{
    sf_coordinator *c = t->data;
    maybe_start_batch(c);
}

static void maybe_start_batch(sf_coordinator *c)
{
    if (c->phase != PH_SERVING || c->stage != ST_IDLE)
        return;
    size_t avail = sf_ingress_available(c->ingress);
    if (c->nreruns == 0 && avail == 0)
        return;
    if (c->nreruns == 0 && avail < c->batch_size && c->batch_ns > 0) {
        uint64_t oldest = 0;
        sf_ingress_oldest(c->ingress, &oldest);
        uint64_t now = uv_hrtime();
        if (now - oldest < c->batch_ns) {
            uint64_t ms = (c->batch_ns - (now - oldest) + 999999) / 1000000;
            uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
            return;
        }
    }
    uv_timer_stop(&c->timer);
    start_batch(c);
}

static ctxn *find_txn(sf_coordinator *c, uint64_t txid)
{
    size_t lo = 0, hi = c->ntxns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->txns[mid].e.pos < txid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->ntxns && c->txns[lo].e.pos == txid ? &c->txns[lo] : NULL;
}

static void send_executed(sf_coordinator *c)
{
    c->stage = ST_FLAGS;
    uint32_t nlogic = 0;
    for (size_t i = 0; i < c->ntxns; i++)
        if (c->txns[i].outcome)
            nlogic++;
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        begin(&c->out, &pk, 3, SF_FRAME_EXECUTED);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, nlogic);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].outcome)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        if (end_frame(c, 0) < 0 || send_worker(c, w) < 0)
            return;
    }
}

static void send_decide(sf_coordinator *c)
{
    c->stage = ST_COMMIT;
    uint32_t ncommit = 0, nrerun = 0;
    for (size_t i = 0; i < c->ntxns; i++) {
        ctxn *t = &c->txns[i];
        t->decision = sf_aria_decide(t->flags, t->outcome);
        if (t->decision == SF_ARIA_COMMIT)
            ncommit++;
        else if (t->decision == SF_ARIA_RERUN)
            nrerun++;
    }
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        begin(&c->out, &pk, 4, SF_FRAME_DECIDE);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, ncommit);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].decision == SF_ARIA_COMMIT)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        msgpack_pack_array(&pk, nrerun);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].decision == SF_ARIA_RERUN)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        if (end_frame(c, 0) < 0 || send_worker(c, w) < 0)
            return;
    }
}

static void write_commit_log(sf_coordinator *c)
{
    size_t n = 0;
    if (c->ntxns > c->order_cap) {
        c->order_cap = c->ntxns;
        c->order_ids = sf_xrealloc(c->order_ids, c->order_cap * sizeof(uint64_t));
        c->order_flags = sf_xrealloc(c->order_flags, c->order_cap * sizeof(unsigned));
        c->order = sf_xrealloc(c->order, c->order_cap * sizeof(size_t));
    }
    size_t *idx = sf_xrealloc(NULL, (c->ntxns ? c->ntxns : 1) * sizeof(size_t));
    for (size_t i = 0; i < c->ntxns; i++)
        if (c->txns[i].decision == SF_ARIA_COMMIT) {
            c->order_ids[n] = c->txns[i].e.pos;
            c->order_flags[n] = c->txns[i].flags;
            idx[n] = i;
            n++;
        }
    sf_aria_serial_order(c->order_ids, c->order_flags, n, c->order);
    for (size_t k = 0; k < n; k++) {
        const ctxn *t = &c->txns[idx[c->order[k]]];
        sf_buf_reset(&c->tmp);
        sf_buf_printf(&c->tmp, "{\"batch\":%llu,\"txid\":%llu,\"runs\":%u,\"request\":",
                      (unsigned long long)c->batch_id, (unsigned long long)t->e.pos, t->runs);
        char err[128];
        if (sf_msgpack_to_json(t->e.req, t->e.len, &c->tmp, err, sizeof err) < 0)
            sf_buf_puts(&c->tmp, "null");
        sf_buf_puts(&c->tmp, "}\n");
        fwrite(c->tmp.data, 1, c->tmp.len, c->clog);
    }
    fflush(c->clog);
    free(idx);
}

static void finish_batch(sf_coordinator *c)
{
    if (c->clog)
        write_commit_log(c);
    size_t commits = 0, logic = 0;
    if (c->nreruns + c->ntxns > c->rcap) {
        c->rcap = c->nreruns + c->ntxns;
        c->reruns = sf_xrealloc(c->reruns, c->rcap * sizeof(ctxn));
    }
    c->nreruns = 0;
    for (size_t i = 0; i < c->ntxns; i++) {
        ctxn *t = &c->txns[i];
        const char *r = c->arena.data + t->reply_off;
        if (t->decision == SF_ARIA_COMMIT) {
            commits++;
            reply_ok(c, &t->e, r, t->reply_len);
        } else if (t->decision == SF_ARIA_LOGIC_ABORT) {
            logic++;
            reply_error_map(c, &t->e, r, t->reply_len);
        } else
            c->reruns[c->nreruns++] = *t;
    }
    sf_metric_add(c->sm.commits, (double)commits);
    sf_metric_add(c->sm.aborts_logic, (double)logic);
    sf_metric_add(c->sm.aborts_conflict, (double)c->nreruns);
    sf_ingress_ack(c->ingress, c->nreruns ? c->reruns[0].e.pos : UINT64_MAX);
    c->ntxns = 0;
    c->stage = ST_IDLE;
    maybe_start_batch(c);
}

/* ---- frames from workers ---------------------------------------------------- */

static void on_done(sf_coordinator *c, uint32_t wi, sf_rd *r)
{
    uint64_t txid, outcome;
    const char *reply;
    size_t len;
    if (sf_rd_uint(r, &txid) < 0 || sf_rd_uint(r, &outcome) < 0 || outcome > 1 ||
        sf_rd_bin(r, &reply, &len) < 0) {
        broken(c, "malformed DONE from worker %u", wi);
        return;
    }
    ctxn *t = find_txn(c, txid);
    if (!t || t->done) {
        broken(c, "worker %u finished transaction %llu %s", wi, (unsigned long long)txid,
               t ? "twice" : "which is not in the batch");
        return;
    }
    t->done = 1;
    t->outcome = (int)outcome;
    t->reply_off = c->arena.len;
    t->reply_len = len;
    sf_buf_append(&c->arena, reply, len);
    if (++c->ndone == c->ntxns)
        send_executed(c);
}

static void on_flags(sf_coordinator *c, uint32_t wi, sf_rd *r)
{
    uint32_t n;
    if (c->workers[wi].flags_in || sf_rd_array(r, &n) < 0) {
        broken(c, "unexpected FLAGS from worker %u", wi);
        return;
    }
    c->workers[wi].flags_in = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m;
        uint64_t txid, f;
        if (sf_rd_array(r, &m) < 0 || (m != 2 && m != 4) || sf_rd_uint(r, &txid) < 0 ||
            sf_rd_uint(r, &f) < 0) {
            broken(c, "malformed FLAGS from worker %u", wi);
            return;
        }
        ctxn *t = find_txn(c, txid);
        if (!t) {
            broken(c, "FLAGS from worker %u name an unknown transaction", wi);
            return;
        }
        t->flags |= (unsigned)f;
        if (m == 4) {
            const char *ty, *ms;
            size_t tl, ml;
            if (sf_rd_str(r, &ty, &tl) < 0 || sf_rd_str(r, &ms, &ml) < 0) {
                broken(c, "malformed FLAGS from worker %u", wi);
                return;
            }
            if (t->outcome == 0 || (t->err_from >= 0 && (uint32_t)t->err_from > wi)) {
                /* the error of the worker with the smallest id wins */
                sf_buf_reset(&c->tmp);
                msgpack_packer pk;
                sf_frame_packer_init(&pk, &c->tmp);
                msgpack_pack_map(&pk, 2);
                sf_pack_cstr(&pk, "type");
                sf_pack_str(&pk, ty, tl);
                sf_pack_cstr(&pk, "message");
                sf_pack_str(&pk, ms, ml);
                t->reply_off = c->arena.len;
                t->reply_len = c->tmp.len;
                sf_buf_append(&c->arena, c->tmp.data, c->tmp.len);
                t->outcome = 1;
                t->err_from = (int)wi;
            }
        }
    }
    if (++c->nflags == c->nworkers)
        send_decide(c);
}

static void send_map(sf_coordinator *c)
{
    c->owners = sf_xrealloc(c->owners, c->P * sizeof(uint32_t));
    for (uint32_t p = 0; p < c->P; p++)
        c->owners[p] = p % c->nworkers;
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        begin(&c->out, &pk, 5, SF_FRAME_MAP);
        msgpack_pack_uint32(&pk, w);
        msgpack_pack_uint32(&pk, c->P);
        msgpack_pack_array(&pk, c->P);
        for (uint32_t p = 0; p < c->P; p++)
            msgpack_pack_uint32(&pk, c->owners[p]);
        msgpack_pack_array(&pk, c->nworkers);
        for (uint32_t i = 0; i < c->nworkers; i++)
            sf_pack_cstr(&pk, c->workers[i].addr);
        if (end_frame(c, 0) < 0 || send_worker(c, w) < 0)
            return;
    }
    c->map_sent = 1;
}

static void on_ready(sf_coordinator *c, uint32_t wi)
{
    if (c->workers[wi].ready || !c->map_sent) {
        broken(c, "unexpected READY from worker %u", wi);
        return;
    }
    c->workers[wi].ready = 1;
    c->nready++;
    sf_metric_set(c->m_workers, (double)c->nready);
    if (c->nready == c->nworkers && c->phase == PH_JOINING) {
        c->phase = PH_SERVING;
        clog_line(c, "coordinator ready: %u worker%s, %u partitions, cluster=%s:%d http=%s%s%d native=%s%s%d",
                  c->nworkers, c->nworkers == 1 ? "" : "s", c->P,
                  c->cfg.listen_host, sf_listener_port(c->listener),
                  c->gw ? c->cfg.http_host : "off", c->gw ? ":" : "", c->gw ? c->http_port : 0,
                  c->native ? c->cfg.native_host : "off", c->native ? ":" : "",
                  c->native ? c->native_port : 0);
        if (c->cfg.on_ready)
            c->cfg.on_ready(c->cfg.ud);
        maybe_start_batch(c);
    }
}

static void on_worker_frame(sf_conn *conn, int type, const char *payload, size_t len, void *ud)
{
    clink *l = ud;
    sf_coordinator *c = l->c;
    (void)conn;
    if (l->slot < 0 || c->phase == PH_CLOSING || c->phase == PH_BROKEN)
        return;
    uint32_t wi = (uint32_t)l->slot;
    sf_rd r;
    sf_rd_init(&r, payload, len);
    uint32_t n;
    uint64_t t, b;
    if (sf_rd_array(&r, &n) < 0 || sf_rd_uint(&r, &t) < 0) {
        broken(c, "malformed frame from worker %u", wi);
        return;
    }
    if (type == SF_FRAME_READY) {
        on_ready(c, wi);
        return;
    }
    if (sf_rd_uint(&r, &b) < 0 || b != c->batch_id || c->stage == ST_IDLE) {
        broken(c, "frame %d from worker %u for batch %llu (current %llu)", type, wi,
               (unsigned long long)b, (unsigned long long)c->batch_id);
        return;
    }
    switch (type) {
    case SF_FRAME_DONE:
        if (c->stage != ST_EXEC) {
            broken(c, "DONE from worker %u after the batch executed", wi);
            return;
        }
        on_done(c, wi, &r);
        break;
    case SF_FRAME_FLAGS:
        if (c->stage != ST_FLAGS) {
            broken(c, "FLAGS from worker %u out of turn", wi);
            return;
        }
        on_flags(c, wi, &r);
        break;
    case SF_FRAME_COMMITTED:
        if (c->stage != ST_COMMIT || c->workers[wi].committed_in) {
            broken(c, "COMMITTED from worker %u out of turn", wi);
            return;
        }
        c->workers[wi].committed_in = 1;
        if (++c->ncommitted == c->nworkers)
            finish_batch(c);
        break;
    default:
        broken(c, "unexpected frame %d from worker %u", type, wi);
    }
}

static void on_worker_close(sf_conn *conn, const char *reason, void *ud)
{
    clink *l = ud;
    sf_coordinator *c = l->c;
    (void)conn;
    int slot = l->slot;
    free(l);
    if (slot < 0)
        return;
    cworker *w = &c->workers[slot];
    w->conn = NULL;
    if (c->phase == PH_CLOSING)
        return;
    if (w->ready) {
        w->ready = 0;
        c->nready--;
        sf_metric_set(c->m_workers, (double)c->nready);
    }
    if (c->phase == PH_JOINING && !c->map_sent) {
        clog_line(c, "worker %d (%s) left before the cluster formed (%s)", slot, w->addr, reason);
        w->joined = 0;
        c->njoined--;
        return;
    }
    broken(c, "worker %d (%s) disconnected: %s", slot, w->addr, reason);
}

static void on_worker_open(sf_conn *conn, void *ud)
{
    sf_coordinator *c = ud;
    clink *l = sf_xrealloc(NULL, sizeof(clink));
    l->c = c;
    l->slot = -1;
    sf_conn_set_data(conn, l);
    if (strcmp(sf_conn_role(conn), "worker") != 0) {
        clog_line(c, "%s connected to the cluster port with role '%s', closing", sf_conn_peer(conn),
                  sf_conn_role(conn));
        sf_conn_close(conn, "not a worker");
        return;
    }
    if (c->phase != PH_JOINING || c->njoined >= c->nworkers) {
        clog_line(c, "worker %s refused: the cluster is %s", sf_conn_peer(conn),
                  c->phase == PH_JOINING ? "complete" : "already running");
        sf_conn_close(conn, "cluster complete");
        return;
    }
    uint32_t slot = 0;
    while (c->workers[slot].joined)
        slot++;
    cworker *w = &c->workers[slot];
    memset(w, 0, sizeof(*w));
    w->joined = 1;
    w->conn = conn;
    l->slot = (int)slot;
    c->njoined++;
    /* the address the other workers use; a wildcard becomes the address we see */
    char host[256], err[128];
    int port;
    const char *adv = sf_conn_peer_listen(conn);
    if (sf_parse_hostport(adv, host, sizeof host, &port, err, sizeof err) < 0) {
        clog_line(c, "worker %s sent a bad listen address '%s', closing", sf_conn_peer(conn), adv);
        sf_conn_close(conn, "bad listen address");
        return;
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        char peer[256];
        snprintf(peer, sizeof peer, "%s", sf_conn_peer(conn));
        char *colon = strrchr(peer, ':');
        if (colon)
            *colon = '\0';
        snprintf(w->addr, sizeof w->addr, "%s:%d", peer, port);
    } else
        snprintf(w->addr, sizeof w->addr, "%s", adv);
    clog_line(c, "worker %u joined from %s (listening on %s)", slot, sf_conn_peer(conn), w->addr);
    sf_buf_reset(&c->out);
    msgpack_packer pk;
    begin(&c->out, &pk, 2, SF_FRAME_APP);
    sf_pack_bin(&pk, c->app, c->app_len);
    if (end_frame(c, 0) < 0 || send_worker(c, slot) < 0)
        return;
    if (c->njoined == c->nworkers)
        send_map(c);
}

static const sf_conn_callbacks worker_cbs = {on_worker_open, on_worker_frame, on_worker_close};

/* ---- clients ---------------------------------------------------------------- */

static int submit(sf_coordinator *c, const char *req, size_t len, const sf_reply_to *to)
{
    if (c->phase != PH_SERVING)
        return -1;
    char err[128];
    uint64_t pos;
    if (sf_ingress_append(c->ingress, req, len, to, uv_hrtime(), &pos, err, sizeof err) < 0)
        return -1;
    maybe_start_batch(c);
    return 0;
}

static int gw_submit(void *ud, const char *req, size_t len, uint64_t token)
{
    sf_reply_to to = {SF_REPLY_GATEWAY, token, 0};
    return submit(ud, req, len, &to);
}

static int native_submit(void *ud, const char *req, size_t len, uint64_t client, uint64_t corr)
{
    sf_coordinator *c = ud;
    sf_reqmap gr;
    if (sf_reqmap_decode(req, len, &gr, NULL, 0) == 0)
        sf_metric_inc(gr.op == SF_OP_CREATE ? c->sm.requests_create
                      : gr.op == SF_OP_CALL ? c->sm.requests_call
                                            : c->sm.requests_get);
    sf_reply_to to = {SF_REPLY_NATIVE, client, corr};
    return submit(c, req, len, &to);
}

static int gw_healthy(void *ud, char *why, size_t whylen)
{
    sf_coordinator *c = ud;
    switch (c->phase) {
    case PH_SERVING: return 1;
    case PH_JOINING:
        snprintf(why, whylen, "waiting for workers (%u of %u ready)", c->nready, c->nworkers);
        return 0;
    case PH_BROKEN: snprintf(why, whylen, "%s", c->why); return 0;
    default: snprintf(why, whylen, "shutting down"); return 0;
    }
}

static sf_metrics *gw_metrics(void *ud) { return ((sf_coordinator *)ud)->metrics; }

/* ---- lifecycle --------------------------------------------------------------- */

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return (sf_set_err(err, errlen, "%s: %s", path, strerror(errno)), -1);
    sf_buf b;
    sf_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sf_buf_append(&b, chunk, n);
        if (b.len > SF_FRAME_MAX - 1024) {
            fclose(f);
            sf_buf_free(&b);
            return (sf_set_err(err, errlen, "%s: larger than a frame (16 MiB)", path), -1);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sf_buf_free(&b);
        return (sf_set_err(err, errlen, "%s: read error", path), -1);
    }
    *data = sf_buf_steal(&b, len);
    return 0;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = sf_xrealloc(NULL, n);
    memcpy(p, s, n);
    return p;
}

int sf_coordinator_start(const sf_coordinator_config *cfg, sf_coordinator **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (!cfg->loop || !cfg->app_path || !cfg->listen_host)
        return (sf_set_err(err, errlen, "coordinator: loop, application and listen address are required"), -1);
    sf_coordinator *c = sf_xrealloc(NULL, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    c->cfg.app_path = xstrdup(cfg->app_path);
    c->cfg.listen_host = xstrdup(cfg->listen_host);
    c->cfg.http_host = xstrdup(cfg->http_host);
    c->cfg.native_host = xstrdup(cfg->native_host);
    c->cfg.commit_log = xstrdup(cfg->commit_log);
    c->cfg.token = NULL;
    c->loop = cfg->loop;
    c->nworkers = cfg->workers ? cfg->workers : 1;
    c->P = cfg->partitions ? cfg->partitions : SF_DEFAULT_PARTITIONS;
    c->batch_size = cfg->batch_size ? cfg->batch_size : SF_DEFAULT_BATCH_SIZE;
    c->batch_ns = (uint64_t)(cfg->batch_ms < 0 ? SF_DEFAULT_BATCH_MS : cfg->batch_ms) * 1000000u;
    c->phase = PH_JOINING;
    sf_buf_init(&c->arena);
    sf_buf_init(&c->out);
    sf_buf_init(&c->tmp);
    sf_buf_init(&c->tmp2);
    c->workers = sf_xrealloc(NULL, c->nworkers * sizeof(cworker));
    memset(c->workers, 0, c->nworkers * sizeof(cworker));
    c->ingress = sf_ingress_memory_new(0, 0);
    c->metrics = sf_metrics_new();
    sf_metrics_stateflow(c->metrics, &c->sm);
    c->m_workers = sf_metrics_gauge(c->metrics, "stateflow_workers", "Workers connected and ready.", NULL);
    c->m_pending = sf_metrics_gauge(c->metrics, "stateflow_ingress_pending",
                                    "Requests waiting for a batch.", NULL);
    uv_timer_init(c->loop, &c->timer);
    c->timer.data = c;
    c->timer_init = 1;
    *out = c;

    if (c->nworkers > SF_MAX_WORKERS || c->P > SF_MAX_PARTITIONS || c->batch_size > SF_MAX_BATCH_SIZE) {
        sf_set_err(err, errlen, "too many workers (max %d), partitions (max %d) or a batch too large (max %d)",
                SF_MAX_WORKERS, SF_MAX_PARTITIONS, SF_MAX_BATCH_SIZE);
        goto fail;
    }
    if (read_file(cfg->app_path, &c->app, &c->app_len, err, errlen) < 0)
        goto fail;
    {
        char e2[512];
        sf_ir *ir = sf_ir_decode(c->app, c->app_len, e2, sizeof e2);
        if (!ir) {
            sf_set_err(err, errlen, "%s: %s", cfg->app_path, e2);
            goto fail;
        }
        sf_ir_free(ir);
    }
    if (cfg->commit_log) {
        c->clog = fopen(cfg->commit_log, "w");
        if (!c->clog) {
            sf_set_err(err, errlen, "commit log %s: %s", cfg->commit_log, strerror(errno));
            goto fail;
        }
    }
    sf_net_config nc = {0};
    nc.loop = c->loop;
    nc.token = cfg->token;
    nc.token_len = cfg->token_len;
    nc.log = net_log;
    nc.idle_timeout_ms = SF_CLUSTER_IDLE_MS;
    nc.max_queued = SF_CLUSTER_MAX_QUEUED;
    nc.log_ud = c;
    if (sf_net_new(&nc, &c->net, err, errlen) < 0)
        goto fail;
    if (sf_net_listen(c->net, cfg->listen_host, cfg->listen_port, &worker_cbs, c, &c->listener, err,
                      errlen) < 0)
        goto fail;
    if (cfg->http_host) {
        sf_gateway_ops ops = {gw_submit, gw_healthy, gw_metrics, gw_log};
        if (sf_gateway_start(c->loop, cfg->http_host, cfg->http_port, &ops, c, &c->gw, err, errlen) < 0) {
            c->gw = NULL;
            goto fail;
        }
        c->http_port = sf_gateway_port(c->gw);
    }
    if (cfg->native_host) {
        sf_native_ops nops = {native_submit, native_log};
        if (sf_native_start(c->loop, cfg->native_host, cfg->native_port, cfg->token, cfg->token_len,
                            &nops, c, &c->native, err, errlen) < 0)
            goto fail;
        c->native_port = sf_native_port(c->native);
    }
    return 0;
fail:
    sf_coordinator_shutdown(c);
    return -1;
}

int sf_coordinator_cluster_port(const sf_coordinator *c)
{
    return c->listener ? sf_listener_port(c->listener) : 0;
}
int sf_coordinator_http_port(const sf_coordinator *c) { return c->http_port; }
int sf_coordinator_native_port(const sf_coordinator *c) { return c->native_port; }

void sf_coordinator_shutdown(sf_coordinator *c)
{
    if (!c || c->phase == PH_CLOSING)
        return;
    if (c->phase == PH_SERVING || c->phase == PH_JOINING)
        fail_pending(c, "the service is shutting down");
    c->phase = PH_CLOSING;
    if (c->gw) {
        sf_gateway_close(c->gw);
        c->gw = NULL;
    }
    if (c->native)
        sf_native_close(c->native);
    if (c->net) {
        c->listener = NULL;
        sf_net_close_all(c->net);
    }
    if (c->timer_init) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, NULL);
        c->timer_init = 0;
    }
    if (c->clog) {
        fclose(c->clog);
        c->clog = NULL;
    }
}

int sf_coordinator_free(sf_coordinator *c)
{
    if (!c)
        return 0;
    if (c->native && sf_native_free(c->native) < 0)
        return -1;
    c->native = NULL;
    if (c->net && sf_net_free(c->net) < 0)
        return -1;
    c->net = NULL;
    sf_ingress_free(c->ingress);
    sf_metrics_free(c->metrics);
    free(c->app);
    free(c->workers);
    free(c->owners);
    free(c->txns);
    free(c->reruns);
    free(c->take_buf);
    free(c->order_ids);
    free(c->order_flags);
    free(c->order);
    sf_buf_free(&c->arena);
    sf_buf_free(&c->out);
    sf_buf_free(&c->tmp);
    sf_buf_free(&c->tmp2);
    free((char *)c->cfg.app_path);
    free((char *)c->cfg.listen_host);
    free((char *)c->cfg.http_host);
    free((char *)c->cfg.native_host);
    free((char *)c->cfg.commit_log);
    free(c);
    return 0;
}
