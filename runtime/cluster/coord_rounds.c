/* coord_rounds.c: the coordinator's side of the Aria rounds of a batch
 * (DESIGN 4.3, aria.h). Each round is a barrier over the workers: every
 * transaction's DONE (its reply or error) -> EXECUTED to all (the logic
 * aborts); every worker's FLAGS (WAW/RAW/WAR, ORed) -> DECIDE to all (commit
 * and conflict-abort lists, sf_aria_decide; the workers start the fallback
 * phase of the conflict aborts at once: each one's DONE comes, its locks
 * released worker to worker); every worker's COMMITTED (and every fallback
 * DONE) -> the batch ends: the commit log, the replies of committed
 * and logic-aborted transactions, the ones whose footprint changed in the
 * fallback kept to open the next batch, the ingress acknowledged up to the
 * first of them.
 * No barrier waits forever: a watchdog breaks the service when the running
 * batch has had no frame of its rounds for the batch timeout (a worker
 * stopped, hung, or one that lost a peer without saying so). */
#include <stdio.h>
#include <string.h>

#include "aria.h"
#include "coord_internal.h"
#include "stateflow/sf_util.h"

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
    coord_durable_force_outcomes(c);
    uint32_t nlogic = 0;
    for (size_t i = 0; i < c->ntxns; i++)
        if (c->txns[i].outcome)
            nlogic++;
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        coord_frame_begin(&c->out, &pk, 3, SF_FRAME_EXECUTED);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, nlogic);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].outcome)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        if (coord_frame_end(c, 0) < 0 || coord_send_worker(c, w) < 0)
            return;
    }
}

static void send_decide(sf_coordinator *c)
{
    c->stage = ST_COMMIT;
    c->ncommitted = 0;
    c->fb_pending = 0;
    uint32_t ncommit = 0, nrerun = 0;
    for (size_t i = 0; i < c->ntxns; i++) {
        ctxn *t = &c->txns[i];
        t->fb = t->fb_commit = 0;
        t->decision = sf_aria_decide(t->flags, t->outcome);
        if (t->decision == SF_ARIA_COMMIT)
            ncommit++;
        else if (t->decision == SF_ARIA_RERUN)
            nrerun++;
    }
    c->naria_aborts = nrerun;
    if (nrerun > 0) {
        /* the workers start the fallback phase at DECIDE */
        c->stage = ST_FALLBACK;
        c->fb_pending = nrerun;
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].decision == SF_ARIA_RERUN)
                c->txns[i].fb = 1;
    }
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        coord_frame_begin(&c->out, &pk, 4, SF_FRAME_DECIDE);
        msgpack_pack_uint64(&pk, c->batch_id);
        msgpack_pack_array(&pk, ncommit);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].decision == SF_ARIA_COMMIT)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        msgpack_pack_array(&pk, nrerun);
        for (size_t i = 0; i < c->ntxns; i++)
            if (c->txns[i].decision == SF_ARIA_RERUN)
                msgpack_pack_uint64(&pk, c->txns[i].e.pos);
        if (coord_frame_end(c, 0) < 0 || coord_send_worker(c, w) < 0)
            return;
    }
}

static void finish_batch(sf_coordinator *c)
{
    if (coord_durable_log_outcomes(c) < 0)
        return;
    coord_commitlog_write(c);
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
            coord_reply_ok(c, &t->e, r, t->reply_len);
            coord_idem_done(c, &t->e, 0, r, t->reply_len);
        } else if (t->decision == SF_ARIA_LOGIC_ABORT) {
            logic++;
            coord_reply_error_map(c, &t->e, r, t->reply_len);
            coord_idem_done(c, &t->e, 1, r, t->reply_len);
        } else
            c->reruns[c->nreruns++] = *t;
    }
    sf_metric_add(c->sm.commits, (double)commits);
    sf_metric_add(c->sm.aborts_logic, (double)logic);
    sf_metric_add(c->sm.aborts_conflict, (double)c->naria_aborts);
    sf_metric_add(c->sm.phase_aria, (double)c->ntxns);
    sf_metric_add(c->sm.phase_fallback, (double)c->naria_aborts);
    sf_metric_add(c->sm.reruns, (double)c->nreruns);
    sf_ingress_ack(c->ingress, c->nreruns ? c->reruns[0].e.pos : UINT64_MAX);
    coord_batch_feedback(c, c->ntxns, c->nreruns);
    c->ntxns = 0;
    c->stage = ST_IDLE;
    coord_maybe_start_batch(c);
}

/* ---- the fallback phase ------------------------------------------------------ */

/* A fallback transaction ended (the worker where it ended releases its
 * locks everywhere, worker to worker). */
static void fallback_done(sf_coordinator *c, ctxn *t, int outcome)
{
    t->fb = 2;
    if (outcome == 0) {
        t->decision = SF_ARIA_COMMIT;
        t->fb_commit = 1;
    } else if (outcome == 1)
        t->decision = SF_ARIA_LOGIC_ABORT;
    else
        t->decision = SF_ARIA_RERUN;
    if (--c->fb_pending > 0)
        return;
    c->stage = ST_FBEND;
    /* a worker's COMMITTED may overtake the DONE another sent */
    if (c->ncommitted == c->nworkers)
        finish_batch(c);
}

void coord_on_done(sf_coordinator *c, uint32_t wi, sf_rd *r)
{
    uint64_t txid, outcome;
    const char *reply;
    size_t len;
    int fb = c->stage == ST_FALLBACK;
    if (sf_rd_uint(r, &txid) < 0 || sf_rd_uint(r, &outcome) < 0 || outcome > (fb ? 2u : 1u) ||
        sf_rd_bin(r, &reply, &len) < 0) {
        coord_broken(c, "malformed DONE from worker %u", wi);
        return;
    }
    ctxn *t = find_txn(c, txid);
    if (fb) {
        if (!t || t->fb != 1) {
            coord_broken(c, "worker %u finished transaction %llu, which is not in the fallback", wi,
                         (unsigned long long)txid);
            return;
        }
        coord_progress(c);
        t->outcome = outcome == 1;
        t->reply_off = c->arena.len;
        t->reply_len = len;
        sf_buf_append(&c->arena, reply, len);
        fallback_done(c, t, (int)outcome);
        return;
    }
    if (!t || t->done) {
        coord_broken(c, "worker %u finished transaction %llu %s", wi, (unsigned long long)txid,
                     t ? "twice" : "which is not in the batch");
        return;
    }
    coord_progress(c);
    t->done = 1;
    t->outcome = (int)outcome;
    t->reply_off = c->arena.len;
    t->reply_len = len;
    sf_buf_append(&c->arena, reply, len);
    if (++c->ndone == c->ntxns)
        send_executed(c);
}

void coord_on_flags(sf_coordinator *c, uint32_t wi, sf_rd *r)
{
    uint32_t n;
    if (c->workers[wi].flags_in || sf_rd_array(r, &n) < 0) {
        coord_broken(c, "unexpected FLAGS from worker %u", wi);
        return;
    }
    c->workers[wi].flags_in = 1;
    coord_progress(c);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m;
        uint64_t txid, f;
        if (sf_rd_array(r, &m) < 0 || (m != 2 && m != 4) || sf_rd_uint(r, &txid) < 0 ||
            sf_rd_uint(r, &f) < 0) {
            coord_broken(c, "malformed FLAGS from worker %u", wi);
            return;
        }
        ctxn *t = find_txn(c, txid);
        if (!t) {
            coord_broken(c, "FLAGS from worker %u name an unknown transaction", wi);
            return;
        }
        t->flags |= (unsigned)f;
        if (m == 4) {
            const char *ty, *ms;
            size_t tl, ml;
            if (sf_rd_str(r, &ty, &tl) < 0 || sf_rd_str(r, &ms, &ml) < 0) {
                coord_broken(c, "malformed FLAGS from worker %u", wi);
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

void coord_on_committed(sf_coordinator *c, uint32_t wi, sf_rd *r)
{
    if ((c->stage != ST_COMMIT && c->stage != ST_FALLBACK && c->stage != ST_FBEND) ||
        c->workers[wi].committed_in) {
        coord_broken(c, "COMMITTED from worker %u out of turn", wi);
        return;
    }
    uint64_t waits;
    if (sf_rd_uint(r, &waits) == 0)
        sf_metric_add(c->sm.lock_waits, (double)waits);
    c->workers[wi].committed_in = 1;
    coord_progress(c);
    if (++c->ncommitted < c->nworkers)
        return;
    if (c->stage != ST_FALLBACK)
        finish_batch(c);
}

/* ---- progress --------------------------------------------------------------- */

void coord_progress(sf_coordinator *c) { c->progress_ns = uv_hrtime(); }

uint64_t coord_stalled_ns(const sf_coordinator *c, uint64_t now)
{
    if (c->stage == ST_IDLE || now < c->progress_ns)
        return 0;
    return now - c->progress_ns;
}

void coord_waiting_for(const sf_coordinator *c, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t w = 0; w < c->nworkers && at + 16 < len; w++) {
        int waiting = 0;
        if (c->stage == ST_EXEC) {
            for (size_t i = 0; i < c->ntxns && !waiting; i++)
                waiting = !c->txns[i].done && c->txns[i].home == w;
        } else if (c->stage == ST_FALLBACK) {
            for (size_t i = 0; i < c->ntxns && !waiting; i++)
                waiting = c->txns[i].fb == 1 && c->txns[i].home == w;
        } else if (c->stage == ST_FLAGS)
            waiting = !c->workers[w].flags_in;
        else if (c->stage == ST_COMMIT || c->stage == ST_FBEND)
            waiting = !c->workers[w].committed_in;
        if (waiting)
            at += (size_t)snprintf(buf + at, len - at, "%s%u", at ? ", " : "", w);
    }
}

static const char *stage_name(int stage)
{
    switch (stage) {
    case ST_EXEC: return "DONE";
    case ST_FLAGS: return "FLAGS";
    case ST_COMMIT: return "COMMITTED";
    case ST_FALLBACK: return "DONE (fallback)";
    case ST_FBEND: return "COMMITTED (fallback)";
    default: return "nothing";
    }
}

static void on_watch(uv_timer_t *t)
{
    sf_coordinator *c = t->data;
    if (c->phase != PH_SERVING && c->phase != PH_RECOVERING)
        return;
    uint64_t stalled = coord_stalled_ns(c, uv_hrtime());
    if (stalled < c->batch_timeout_ns)
        return;
    char who[200];
    coord_waiting_for(c, who, sizeof who);
    coord_broken(c, "batch %llu made no progress for %llu ms (waiting for %s from worker%s %s)",
                 (unsigned long long)c->batch_id, (unsigned long long)(stalled / 1000000),
                 stage_name(c->stage), strchr(who, ',') ? "s" : "", who[0] ? who : "?");
}

void coord_watch_start(sf_coordinator *c)
{
    uint64_t ms = c->batch_timeout_ns / 1000000 / 4;
    if (ms > 250)
        ms = 250;
    if (ms < 5)
        ms = 5;
    uv_timer_start(&c->watch, on_watch, ms, ms);
}
