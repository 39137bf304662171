/* coord_sequencer.c: the coordinator's sequencer. Intake: the gateways'
 * submit callbacks append requests to the ingress. Batch formation: when
 * no batch runs, the next one opens with the conflict-aborted transactions
 * of the last (their priority kept) and takes requests from the ingress up
 * to the batch size and SF_BATCH_MAX_BYTES; it waits up to --batch-ms after
 * its oldest request for more when it is not full. A transaction's id is
 * its ingress position; its home worker follows from its target's
 * partition (sf_cluster_home_partition). Each worker then gets the BATCH
 * frames of the transactions it is home to (after the batch was made
 * durable, coord_durable.c; a replay forms the logged batches through the
 * same path). The ingress is bounded (count
 * and bytes): past a bound a request is refused as Overloaded, never
 * queued. */
#include <string.h>

#include "coord_internal.h"
#include "request.h"
#include "stateflow/sf_util.h"

#define BATCH_FRAME_SOFT_MAX (8u << 20) /* split BATCH frames above this */

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
        coord_frame_begin(&c->out, &pk, 3, SF_FRAME_BATCH);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, count);
        sf_buf_append(&c->out, items->data, items->len);
        if (coord_frame_end(c, 0) < 0 || coord_send_worker(c, wi) < 0)
            return -1;
    } while (i < c->ntxns);
    return 0;
}

void coord_start_batch(sf_coordinator *c, size_t want, int replay)
{
    txn_reserve(c, c->nreruns + want);
    c->ntxns = 0;
    sf_buf_reset(&c->arena);
    /* conflict-aborted transactions of the last batch open this one */
    for (size_t i = 0; i < c->nreruns; i++)
        c->txns[c->ntxns++] = c->reruns[i];
    size_t nreruns = c->nreruns;
    c->nreruns = 0;
    if (!c->take_buf)
        c->take_buf = sf_xrealloc(NULL, sizeof(sf_ingress_entry));
    size_t bytes = 0;
    for (size_t i = 0; i < c->ntxns; i++)
        bytes += c->txns[i].e.len;
    /* one at a time, so a batch of large requests stops at the byte cap */
    while (want > 0 && (replay || bytes < SF_BATCH_MAX_BYTES) && sf_ingress_take(c->ingress, 1, c->take_buf) == 1) {
        ctxn *t = &c->txns[c->ntxns++];
        memset(t, 0, sizeof(*t));
        t->e = c->take_buf[0];
        bytes += t->e.len;
        want--;
    }
    if (c->ntxns == 0) {
        if (replay)
            coord_maybe_start_batch(c); /* an empty logged batch: the next one */
        return;
    }
    c->batch_id++;
    /* durable before it runs: no reply can leave before its request is */
    if (c->dlog && !replay && coord_durable_log_batch(c, nreruns) < 0) {
        coord_maybe_start_batch(c);
        return;
    }
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
    coord_progress(c);
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

void coord_on_timer(uv_timer_t *t)
{
    sf_coordinator *c = t->data;
    coord_maybe_start_batch(c);
}

void coord_maybe_start_batch(sf_coordinator *c)
{
    if (c->phase == PH_RECOVERING && c->stage == ST_IDLE) {
        coord_durable_replay_next(c);
        return;
    }
    if (c->phase != PH_SERVING || c->stage != ST_IDLE)
        return;
    if (c->backoff_until) {
        uint64_t now = uv_hrtime();
        if (now < c->backoff_until) {
            uint64_t ms = (c->backoff_until - now + 999999) / 1000000;
            uv_timer_start(&c->timer, coord_on_timer, ms ? ms : 1, 0);
            return;
        }
        c->backoff_until = 0;
    }
    size_t avail = sf_ingress_available(c->ingress);
    if (c->nreruns == 0 && avail == 0)
        return;
    if (c->nreruns == 0 && avail < c->admit && c->batch_ns > 0) {
        uint64_t oldest = 0;
        sf_ingress_oldest(c->ingress, &oldest);
        uint64_t now = uv_hrtime();
        if (now - oldest < c->batch_ns) {
            uint64_t ms = (c->batch_ns - (now - oldest) + 999999) / 1000000;
            uv_timer_start(&c->timer, coord_on_timer, ms ? ms : 1, 0);
            return;
        }
    }
    uv_timer_stop(&c->timer);
    coord_start_batch(c, c->admit > c->nreruns ? c->admit - c->nreruns : 0, 0);
}

/* ---- the batch limit ---- */

/* Conflict aborts cost a batch their execution and commit nothing: under
 * skewed keys a full batch of 1,000 transfers commits about as many as one
 * of 50 (the hot keys allow one writer each per batch) and takes far
 * longer. So the number of transactions per batch adapts between
 * ADMIT_MIN and --batch-size: 3/4 of the last batch after one where more
 * than ABORT_HIGH of the transactions conflict-aborted, x 5/4 after one
 * that was full and under ABORT_LOW. Uniform loads stay at --batch-size
 * (about 10% conflict aborts at 1,000 over 10,000 keys). What does not fit
 * waits in the ingress, which is bounded: overload is answered there. */
#define ADMIT_MIN 16u
#define ABORT_HIGH 0.5
#define ABORT_LOW 0.3

void coord_batch_feedback(sf_coordinator *c, size_t ntxns, size_t nreruns)
{
    if (ntxns < ADMIT_MIN)
        return;
    double ratio = (double)nreruns / (double)ntxns;
    uint32_t a = c->admit;
    if (ratio > ABORT_HIGH)
        a = (uint32_t)(ntxns < a ? ntxns : a) * 3 / 4;
    else if (ratio < ABORT_LOW && ntxns >= a)
        a = a + (a + 3) / 4;
    if (a < ADMIT_MIN)
        a = ADMIT_MIN;
    if (a > c->batch_size)
        a = c->batch_size;
    if (a != c->admit) {
        c->admit = a;
        sf_metric_set(c->m_admit, (double)a);
    }
}

/* ---- intake ---- */

/* The submit contract of request.h: OK (answered later, exactly once),
 * OVERLOADED (the ingress is at a bound: nothing queued, the front end
 * answers Overloaded now) or UNAVAILABLE. Never queues without bound. */
static int submit(sf_coordinator *c, const char *req, size_t len, const sf_reply_to *to)
{
    if (c->phase != PH_SERVING) {
        sf_metric_inc(c->sm.rejected_unavailable);
        return SF_SUBMIT_UNAVAILABLE;
    }
    if (coord_idem_submit(c, req, len, to))
        return SF_SUBMIT_OK; /* a retry: answered, or waits for the first one */
    char err[128];
    uint64_t pos;
    int rc = sf_ingress_append(c->ingress, req, len, to, uv_hrtime(), &pos, err, sizeof err);
    if (rc != 0) {
        sf_ingress_entry x = {0, req, len, *to, 0};
        coord_idem_forget(c, &x, rc == SF_INGRESS_EFULL ? "Overloaded" : "Unavailable",
                          rc == SF_INGRESS_EFULL ? "the service is overloaded: retry later" : err);
    }
    if (rc == SF_INGRESS_EFULL) {
        sf_metric_inc(c->sm.rejected_overloaded);
        return SF_SUBMIT_OVERLOADED;
    }
    if (rc != 0) {
        sf_metric_inc(c->sm.rejected_unavailable);
        return SF_SUBMIT_UNAVAILABLE;
    }
    coord_maybe_start_batch(c);
    return SF_SUBMIT_OK;
}

int coord_gw_submit(void *ud, const char *req, size_t len, uint64_t token)
{
    sf_reply_to to = {SF_REPLY_GATEWAY, token, 0};
    return submit(ud, req, len, &to);
}

int coord_native_room(void *ud, size_t len)
{
    sf_coordinator *c = ud;
    if (c->phase != PH_SERVING) {
        sf_metric_inc(c->sm.rejected_unavailable);
        return SF_SUBMIT_UNAVAILABLE;
    }
    if (sf_ingress_room(c->ingress, len) == SF_INGRESS_EFULL) {
        sf_metric_inc(c->sm.rejected_overloaded);
        return SF_SUBMIT_OVERLOADED;
    }
    return SF_SUBMIT_OK; /* a request append refuses for good is answered by submit */
}

int coord_native_submit(void *ud, const char *req, size_t len, int op, uint64_t client, uint64_t corr)
{
    sf_coordinator *c = ud;
    /* native.c decoded the request already and passes its op */
    sf_metric_inc(op == SF_OP_CREATE ? c->sm.requests_create
                  : op == SF_OP_CALL ? c->sm.requests_call
                                     : c->sm.requests_get);
    sf_reply_to to = {SF_REPLY_NATIVE, client, corr};
    return submit(c, req, len, &to);
}
