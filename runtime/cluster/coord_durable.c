/* coord_durable.c: the coordinator's durability (DESIGN 4.4,
 * docs/durability.md). The durable log (durlog.h) under --data's log/ is
 * the replayable ingress:
 *
 *   - live: when a batch is formed, its new requests (SF_DURLOG_REQUEST,
 *     in position order) and its membership (SF_DURLOG_BATCH: batch id,
 *     first position and count of the new requests, the reruns in order)
 *     are appended and group-committed with one sf_durlog_sync before the
 *     batch is sent to any worker, so no reply leaves before its request is
 *     durable. A failed sync (ENOSPC, EIO) answers the batch Unavailable,
 *     drops its records and holds batches back briefly; nothing synced
 *     before is touched, and batches go on once a sync succeeds again.
 *     After the decisions, the TimeLimitExceeded aborts of the batch
 *     (SF_DURLOG_OUTCOME) are appended and synced before any reply.
 *   - replay: a coordinator whose log holds batches waits for its workers,
 *     then re-executes every logged batch with exactly its logged
 *     membership (PH_RECOVERING: requests are refused Unavailable
 *     meanwhile), forcing the logged time-dependent outcomes, sending no
 *     reply (replayed requests have nobody waiting), then serves. Execution
 *     is deterministic given the batch, so the workers end with the state
 *     they had. Without snapshots the replay starts at the log's first
 *     record.
 *   - restart: a lost worker or a stalled batch, which without durability
 *     makes the service unavailable for good, drops the cluster instead:
 *     everything waiting is answered Unavailable, the workers'
 *     connections close (they exit), and the coordinator waits for a new
 *     cluster (stateflowd --local restarts its worker processes), which
 *     then recovers by replay. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aria.h"
#include "coord_internal.h"
#include "durlog.h"
#include "durlog_rec.h"
#include "stateflow/sf_util.h"

#define BACKOFF_MS 100 /* after a failed group commit */
#define RECOVERY_TRIES 5 /* cluster failures in a row before serving again */

static const double SYNC_BOUNDS[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1};

int coord_durable_open(sf_coordinator *c, char *err, size_t errlen)
{
    sf_buf_init(&c->rq);
    sf_buf_init(&c->peek);
    sf_buf_init(&c->dbuf);
    if (!c->cfg.durable)
        return 0;
    if (!c->cfg.data_dir)
        return (sf_set_err(err, errlen, "durability is on but no data directory was given"), -1);
    char dir[4200];
    if (snprintf(dir, sizeof dir, "%s/log", c->cfg.data_dir) >= (int)sizeof dir)
        return (sf_set_err(err, errlen, "data directory path too long"), -1);
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    sf_durlog_report rep;
    char e2[512];
    if (sf_durlog_open(dir, &o, &c->dlog, &rep, e2, sizeof e2) < 0) {
        c->dlog = NULL;
        return (sf_set_err(err, errlen, "durable log %s: %s", dir, e2), -1);
    }
    if (rep.cut)
        coord_log(c, "durable log %s: cut a torn tail: %s (%s, offset %llu, LSN %llu, %llu bytes)", dir,
                  rep.cut_reason, rep.cut_segment, (unsigned long long)rep.cut_offset,
                  (unsigned long long)rep.cut_lsn, (unsigned long long)rep.cut_bytes);
    c->replay_pending = sf_durlog_durable_lsn(c->dlog) > sf_durlog_first_lsn(c->dlog);
    c->m_log_bytes = sf_metrics_counter(c->metrics, "stateflow_log_bytes_total",
                                        "Bytes of records made durable in the log.", NULL);
    c->m_log_syncs = sf_metrics_counter(c->metrics, "stateflow_log_syncs_total",
                                        "Group commits (one fdatasync each) of the log.", NULL);
    c->m_log_errors = sf_metrics_counter(c->metrics, "stateflow_log_sync_errors_total",
                                         "Group commits that failed (their batch answered Unavailable).", NULL);
    c->m_log_sync_s = sf_metrics_histogram(c->metrics, "stateflow_log_sync_seconds",
                                           "Duration of one group commit of the log.", SYNC_BOUNDS,
                                           sizeof SYNC_BOUNDS / sizeof SYNC_BOUNDS[0], NULL);
    return 0;
}

void coord_durable_describe(const sf_coordinator *c, char *buf, size_t len)
{
    if (!c->dlog)
        snprintf(buf, len, "off (in memory: nothing survives a restart)");
    else
        snprintf(buf, len, "on, log %s/log (%llu records)", c->cfg.data_dir,
                 (unsigned long long)(sf_durlog_durable_lsn(c->dlog) - sf_durlog_first_lsn(c->dlog)));
}

static void replay_reset(sf_coordinator *c)
{
    if (c->replay_it) {
        sf_durlog_iter_close(c->replay_it);
        c->replay_it = NULL;
    }
    c->nrq = 0;
    sf_buf_reset(&c->rq);
    c->have_peek = 0;
    c->nforced = 0;
}

void coord_durable_close(sf_coordinator *c)
{
    replay_reset(c);
    if (c->dlog) {
        sf_durlog_close(c->dlog);
        c->dlog = NULL;
    }
}

void coord_durable_free(sf_coordinator *c)
{
    coord_durable_close(c);
    sf_buf_free(&c->rq);
    sf_buf_free(&c->peek);
    sf_buf_free(&c->dbuf);
    free(c->rq_off);
    free(c->rq_len);
    free(c->forced);
}

/* ---- live: group commit ---- */

static int sync_log(sf_coordinator *c, char *err, size_t errlen)
{
    sf_durlog_stats before, after;
    sf_durlog_get_stats(c->dlog, &before);
    uint64_t t0 = uv_hrtime();
    int rc = sf_durlog_sync(c->dlog, err, errlen);
    if (rc < 0) {
        sf_metric_inc(c->m_log_errors);
        return rc;
    }
    sf_durlog_get_stats(c->dlog, &after);
    sf_metric_inc(c->m_log_syncs);
    sf_metric_add(c->m_log_bytes, (double)(after.bytes_synced - before.bytes_synced));
    sf_metric_observe(c->m_log_sync_s, (double)(uv_hrtime() - t0) / 1e9);
    return 0;
}

int coord_durable_log_batch(sf_coordinator *c, size_t nreruns)
{
    char err[512];
    size_t nnew = c->ntxns - nreruns;
    int rc = 0;
    for (size_t i = nreruns; i < c->ntxns && rc == 0; i++) {
        const ctxn *t = &c->txns[i];
        if (i > nreruns && t->e.pos != c->txns[i - 1].e.pos + 1) {
            sf_set_err(err, sizeof err, "positions of batch %llu are not consecutive",
                       (unsigned long long)c->batch_id);
            rc = -EINVAL;
            break;
        }
        uint64_t lsn;
        rc = sf_durlog_append(c->dlog, SF_DURLOG_REQUEST, t->e.req, t->e.len, &lsn, err, sizeof err);
    }
    if (rc == 0) {
        uint64_t *rr = sf_xrealloc(NULL, (nreruns ? nreruns : 1) * sizeof(uint64_t));
        for (size_t i = 0; i < nreruns; i++)
            rr[i] = c->txns[i].e.pos;
        sf_durlog_batch b = {c->batch_id, nnew ? c->txns[nreruns].e.pos : 0, (uint32_t)nnew,
                             (uint32_t)nreruns, rr};
        sf_buf_reset(&c->dbuf);
        sf_durlog_batch_encode(&b, &c->dbuf);
        free(rr);
        uint64_t lsn;
        rc = sf_durlog_append(c->dlog, SF_DURLOG_BATCH, c->dbuf.data, c->dbuf.len, &lsn, err, sizeof err);
    }
    if (rc == 0)
        rc = sync_log(c, err, sizeof err);
    if (rc == 0)
        return 0;
    /* nothing of this batch is durable: drop its records, answer it */
    sf_durlog_discard(c->dlog);
    coord_log(c, "durable log: batch %llu not logged (%s); its %zu request%s answered Unavailable",
              (unsigned long long)c->batch_id, err, c->ntxns, c->ntxns == 1 ? "" : "s");
    char msg[600];
    snprintf(msg, sizeof msg, "the durable log cannot be written: %s", err);
    for (size_t i = 0; i < c->ntxns; i++) {
        coord_reply_error(c, &c->txns[i].e, "Unavailable", msg);
        coord_idem_forget(c, &c->txns[i].e, "Unavailable", msg);
    }
    c->ntxns = 0;
    c->batch_id--; /* the workers expect consecutive ids, and so does the log */
    sf_ingress_ack(c->ingress, UINT64_MAX);
    sf_metric_set(c->m_pending, (double)sf_ingress_available(c->ingress));
    c->backoff_until = uv_hrtime() + (uint64_t)BACKOFF_MS * 1000000u;
    return -1;
}

static int is_time_limit(const sf_coordinator *c, const ctxn *t)
{
    const char *ty, *m;
    size_t tl, ml;
    if (sf_error_map_read(c->arena.data + t->reply_off, t->reply_len, &ty, &tl, &m, &ml) < 0)
        return 0;
    return tl == 17 && memcmp(ty, "TimeLimitExceeded", 17) == 0;
}

int coord_durable_log_outcomes(sf_coordinator *c)
{
    if (!c->dlog || c->phase != PH_SERVING)
        return 0;
    char err[512];
    int n = 0, rc = 0;
    for (size_t i = 0; i < c->ntxns && rc == 0; i++) {
        const ctxn *t = &c->txns[i];
        if (t->decision != SF_ARIA_LOGIC_ABORT || !is_time_limit(c, t))
            continue;
        sf_durlog_outcome o = {c->batch_id, t->e.pos, SF_DURLOG_TIME_LIMIT};
        sf_buf_reset(&c->dbuf);
        sf_durlog_outcome_encode(&o, &c->dbuf);
        uint64_t lsn;
        rc = sf_durlog_append(c->dlog, SF_DURLOG_OUTCOME, c->dbuf.data, c->dbuf.len, &lsn, err, sizeof err);
        n++;
    }
    if (n == 0)
        return 0;
    if (rc == 0)
        rc = sync_log(c, err, sizeof err);
    if (rc == 0)
        return 0;
    /* the batch committed with outcomes a replay could not reproduce:
     * recover from what is durable */
    sf_durlog_discard(c->dlog);
    coord_broken(c, "durable log: the outcomes of batch %llu cannot be written: %s",
                 (unsigned long long)c->batch_id, err);
    return -1;
}

/* ---- replay ---- */

static void finish_recovery(sf_coordinator *c)
{
    replay_reset(c);
    c->failed_recoveries = 0;
    c->replay_pending = 0;
    c->phase = PH_SERVING;
    coord_log(c, "recovered: %llu batch%s replayed from the durable log in %llu ms",
              (unsigned long long)c->replayed, c->replayed == 1 ? "" : "es",
              (unsigned long long)((uv_hrtime() - c->replay_t0) / 1000000));
    coord_members_announce_ready(c);
}

static void replay_fail(sf_coordinator *c, const char *what, const char *err)
{
    replay_reset(c);
    c->phase = PH_SERVING;
    c->replay_pending = 0;
    /* a log that cannot be replayed is not retried in a loop */
    sf_durlog *log = c->dlog;
    c->dlog = NULL;
    coord_broken(c, "durable log: replay failed at batch %llu: %s%s%s", (unsigned long long)c->batch_id,
                 what, err ? ": " : "", err ? err : "");
    c->dlog = log;
}

void coord_durable_on_cluster_ready(sf_coordinator *c)
{
    if (!c->dlog || !c->replay_pending) {
        c->failed_recoveries = 0;
        c->phase = PH_SERVING;
        coord_members_announce_ready(c);
        return;
    }
    char err[512];
    if (sf_durlog_iter_init(c->dlog, sf_durlog_first_lsn(c->dlog), &c->replay_it, err, sizeof err) < 0) {
        c->replay_it = NULL;
        replay_fail(c, "cannot read the log", err);
        return;
    }
    c->phase = PH_RECOVERING;
    c->replayed = 0;
    c->replay_t0 = uv_hrtime();
    coord_log(c, "recovering: replaying the durable log (LSN %llu to %llu) on %u worker%s",
              (unsigned long long)sf_durlog_first_lsn(c->dlog),
              (unsigned long long)sf_durlog_durable_lsn(c->dlog) - 1, c->nworkers,
              c->nworkers == 1 ? "" : "s");
    coord_durable_replay_next(c);
}

/* The next record: the one read ahead, else from the iterator (copied into
 * c->peek either way). 1, 0 at the end, -1 on error. */
static int next_record(sf_coordinator *c, uint32_t *type, const char **data, size_t *len, char *err,
                       size_t errlen)
{
    if (c->have_peek) {
        c->have_peek = 0;
        *type = c->peek_type;
        *data = c->peek.data;
        *len = c->peek.len;
        return 1;
    }
    sf_durlog_rec r;
    int rc = sf_durlog_iter_next(c->replay_it, &r, err, errlen);
    if (rc <= 0)
        return rc < 0 ? -1 : 0;
    sf_buf_reset(&c->peek);
    sf_buf_append(&c->peek, r.data, r.len);
    c->peek_type = r.type;
    *type = r.type;
    *data = c->peek.data;
    *len = c->peek.len;
    return 1;
}

void coord_durable_replay_next(sf_coordinator *c)
{
    char err[512];
    uint32_t type;
    const char *data;
    size_t len;
    int rc;
    for (;;) {
        rc = next_record(c, &type, &data, &len, err, sizeof err);
        if (rc < 0)
            { replay_fail(c, "reading the log", err); return; }
        if (rc == 0) {
            finish_recovery(c);
            return;
        }
        if (type == SF_DURLOG_REQUEST) {
            if (c->nrq == c->rq_cap) {
                c->rq_cap = c->rq_cap ? c->rq_cap * 2 : 1024;
                c->rq_off = sf_xrealloc(c->rq_off, c->rq_cap * sizeof(size_t));
                c->rq_len = sf_xrealloc(c->rq_len, c->rq_cap * sizeof(size_t));
            }
            c->rq_off[c->nrq] = c->rq.len;
            c->rq_len[c->nrq] = len;
            c->nrq++;
            sf_buf_append(&c->rq, data, len);
            continue;
        }
        if (type == SF_DURLOG_BATCH)
            break;
        /* an outcome or time stamp outside its batch: nothing to do */
    }
    sf_durlog_batch b;
    if (sf_durlog_batch_decode(data, len, &b, err, sizeof err) < 0)
        { replay_fail(c, "a malformed batch record", err); return; }
    if (c->nrq > b.count) {
        /* requests of a group commit torn by a crash (the valid records
         * before the torn one are kept, its batch record was not): never
         * executed, never answered */
        size_t drop = c->nrq - b.count;
        coord_log(c, "replay: %zu request%s logged before batch %llu belong to no batch (a torn group "
                     "commit); skipped", drop, drop == 1 ? "" : "s", (unsigned long long)b.batch_id);
        memmove(c->rq_off, c->rq_off + drop, b.count * sizeof(size_t));
        memmove(c->rq_len, c->rq_len + drop, b.count * sizeof(size_t));
        c->nrq = b.count;
    }
    if (b.count != c->nrq) {
        snprintf(err, sizeof err, "batch %llu names %u requests, the log holds %zu before it",
                 (unsigned long long)b.batch_id, b.count, c->nrq);
        sf_durlog_batch_free(&b);
        { replay_fail(c, "inconsistent log", err); return; }
    }
    /* the new requests, at their logged positions */
    if (b.count && sf_ingress_memory_set_next(c->ingress, b.first_pos) < 0) {
        sf_durlog_batch_free(&b);
        { replay_fail(c, "positions go backwards", NULL); return; }
    }
    for (size_t i = 0; i < c->nrq; i++) {
        sf_reply_to none = {SF_REPLY_NONE, 0, 0};
        uint64_t pos;
        /* its id is pending from now on: a retry that arrives after the
         * recovery while it still waits to rerun must not run it again */
        (void)coord_idem_submit(c, c->rq.data + c->rq_off[i], c->rq_len[i], &none);
        if (sf_ingress_append(c->ingress, c->rq.data + c->rq_off[i], c->rq_len[i], &none, uv_hrtime(), &pos,
                              err, sizeof err) != 0) {
            sf_durlog_batch_free(&b);
            { replay_fail(c, "the ingress refused a logged request", err); return; }
        }
    }
    c->nrq = 0;
    sf_buf_reset(&c->rq);
    /* the reruns: the logged ones, which the replay computed too (a batch
     * whose group commit failed dropped its reruns, so the log may name
     * fewer than were computed) */
    size_t k = 0, j = 0;
    for (uint32_t i = 0; i < b.nreruns; i++) {
        while (j < c->nreruns && c->reruns[j].e.pos != b.reruns[i])
            j++;
        if (j == c->nreruns) {
            snprintf(err, sizeof err, "batch %llu reruns transaction %llu, which the replay committed",
                     (unsigned long long)b.batch_id, (unsigned long long)b.reruns[i]);
            sf_durlog_batch_free(&b);
            { replay_fail(c, "the replay diverged", err); return; }
        }
        c->reruns[k++] = c->reruns[j++];
    }
    c->nreruns = k;
    /* the outcomes logged after it */
    c->nforced = 0;
    for (;;) {
        rc = next_record(c, &type, &data, &len, err, sizeof err);
        if (rc < 0) {
            sf_durlog_batch_free(&b);
            { replay_fail(c, "reading the log", err); return; }
        }
        if (rc == 0)
            break;
        if (type == SF_DURLOG_OUTCOME) {
            sf_durlog_outcome o;
            if (sf_durlog_outcome_decode(data, len, &o, err, sizeof err) == 0 && o.batch_id == b.batch_id &&
                o.kind == SF_DURLOG_TIME_LIMIT) {
                if (c->nforced == c->forced_cap) {
                    c->forced_cap = c->forced_cap ? c->forced_cap * 2 : 16;
                    c->forced = sf_xrealloc(c->forced, c->forced_cap * sizeof(uint64_t));
                }
                c->forced[c->nforced++] = o.position;
            }
            continue;
        }
        if (type == SF_DURLOG_BATCH_TIME)
            continue;
        c->have_peek = 1; /* the next batch's first record, already in c->peek */
        break;
    }
    c->batch_id = b.batch_id - 1;
    uint32_t count = b.count;
    sf_durlog_batch_free(&b);
    c->replayed++;
    coord_start_batch(c, count, 1);
}

void coord_durable_force_outcomes(sf_coordinator *c)
{
    if (c->phase != PH_RECOVERING)
        return;
    for (size_t f = 0; f < c->nforced; f++)
        for (size_t i = 0; i < c->ntxns; i++) {
            ctxn *t = &c->txns[i];
            if (t->e.pos != c->forced[f])
                continue;
            if (!t->outcome || !is_time_limit(c, t)) {
                sf_buf_reset(&c->tmp);
                msgpack_packer pk;
                sf_frame_packer_init(&pk, &c->tmp);
                sf_pack_error(&pk, "TimeLimitExceeded", "the method ran longer than the time limit");
                t->reply_off = c->arena.len;
                t->reply_len = c->tmp.len;
                sf_buf_append(&c->arena, c->tmp.data, c->tmp.len);
                t->outcome = 1;
            }
        }
}

/* ---- restart ---- */

int coord_durable_restart(sf_coordinator *c)
{
    if (!c->dlog || c->phase == PH_CLOSING)
        return 0;
    /* a cluster that fails again before it served (say a worker that
     * crashes replaying some batch) is not restarted for ever */
    if (c->phase == PH_RECOVERING || c->phase == PH_JOINING) {
        if (++c->failed_recoveries > RECOVERY_TRIES) {
            coord_log(c, "recovery failed %u times in a row: giving up", RECOVERY_TRIES);
            return 0;
        }
    } else
        c->failed_recoveries = 0;
    coord_log(c, "%s; recovering: dropping the cluster, waiting for %u worker%s to join, then replaying "
                 "the durable log", c->why, c->nworkers, c->nworkers == 1 ? "" : "s");
    coord_fail_pending(c, c->why);
    coord_idem_clear(c, c->why); /* rebuilt by the replay */
    replay_reset(c);
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_conn *conn = c->workers[w].conn;
        if (!conn)
            continue;
        clink *l = sf_conn_data(conn);
        if (l)
            l->slot = -1;
        sf_conn_close(conn, "the coordinator is recovering");
    }
    memset(c->workers, 0, c->nworkers * sizeof(cworker));
    c->njoined = c->nready = 0;
    c->map_sent = 0;
    sf_metric_set(c->m_workers, 0);
    sf_ingress_free(c->ingress);
    c->ingress = coord_new_ingress(c);
    c->batch_id = 0;
    c->stage = ST_IDLE;
    c->ntxns = c->nreruns = 0;
    c->admit = c->batch_size;
    sf_metric_set(c->m_admit, (double)c->admit);
    c->replay_pending = sf_durlog_durable_lsn(c->dlog) > sf_durlog_first_lsn(c->dlog);
    c->phase = PH_JOINING;
    return 1;
}
