/* coordinator.c: the stateflowd coordinator (coordinator.h): setup and
 * shutdown (the application, the commit log, the cluster listener, the
 * HTTP gateway and the native protocol), the log, failure (a failure it
 * cannot repair makes the service Unavailable and answers everything
 * waiting), /healthz, and the dispatch of the workers' frames to
 * membership (coord_members.c) and the rounds (coord_rounds.c). The
 * sequencer is coord_sequencer.c, replies coord_reply.c, the commit log
 * coord_commitlog.c (coord_internal.h lists who owns what). */
#include "coordinator.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "stateflow/sf_ir.h"
#include "stateflow/sf_util.h"

void coord_log(sf_coordinator *c, const char *fmt, ...)
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

static void net_log(void *ud, const char *line) { coord_log((sf_coordinator *)ud, "cluster: %s", line); }
static void gw_log(void *ud, const char *line) { coord_log((sf_coordinator *)ud, "http: %s", line); }
static void native_log(void *ud, const char *line) { coord_log((sf_coordinator *)ud, "%s", line); }

/* ---- failure ---------------------------------------------------------------- */

void coord_fail_pending(sf_coordinator *c, const char *msg)
{
    for (size_t i = 0; i < c->ntxns; i++)
        coord_reply_error(c, &c->txns[i].e, "Unavailable", msg);
    c->ntxns = 0;
    for (size_t i = 0; i < c->nreruns; i++)
        coord_reply_error(c, &c->reruns[i].e, "Unavailable", msg);
    c->nreruns = 0;
    sf_ingress_entry e;
    while (sf_ingress_take(c->ingress, 1, &e) == 1) {
        coord_reply_error(c, &e, "Unavailable", msg);
        sf_ingress_ack(c->ingress, e.pos + 1);
    }
    sf_ingress_ack(c->ingress, UINT64_MAX);
    coord_idem_forget_pending(c, msg);
    c->stage = ST_IDLE;
    sf_metric_set(c->m_pending, 0);
}

void coord_broken(sf_coordinator *c, const char *fmt, ...)
{
    if (c->phase == PH_BROKEN || c->phase == PH_CLOSING)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    if (coord_durable_restart(c))
        return;
    coord_log(c, "%s; the service is unavailable from now on (restart to recover)", c->why);
    c->phase = PH_BROKEN;
    coord_fail_pending(c, c->why);
}

/* ---- frames from workers ---------------------------------------------------- */

void coord_on_worker_frame(sf_conn *conn, int type, const char *payload, size_t len, void *ud)
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
        coord_broken(c, "malformed frame from worker %u", wi);
        return;
    }
    if (type == SF_FRAME_READY) {
        coord_on_ready(c, wi);
        return;
    }
    if (type == SF_FRAME_FAILED) {
        const char *why;
        size_t wl;
        if (sf_rd_str(&r, &why, &wl) < 0) {
            why = "(no reason given)";
            wl = strlen(why);
        }
        if (wl > 200)
            wl = 200;
        coord_broken(c, "worker %u (%s) reported a failure: %.*s", wi, c->workers[wi].addr, (int)wl, why);
        return;
    }
    if (sf_rd_uint(&r, &b) < 0 || b != c->batch_id || c->stage == ST_IDLE) {
        coord_broken(c, "frame %d from worker %u for batch %llu (current %llu)", type, wi,
                     (unsigned long long)b, (unsigned long long)c->batch_id);
        return;
    }
    switch (type) {
    case SF_FRAME_DONE:
        if (c->stage != ST_EXEC && c->stage != ST_FALLBACK) {
            coord_broken(c, "DONE from worker %u after the batch executed", wi);
            return;
        }
        coord_on_done(c, wi, &r);
        break;
    case SF_FRAME_FLAGS:
        if (c->stage != ST_FLAGS) {
            coord_broken(c, "FLAGS from worker %u out of turn", wi);
            return;
        }
        coord_on_flags(c, wi, &r);
        break;
    case SF_FRAME_COMMITTED:
        coord_on_committed(c, wi, &r);
        break;
    default:
        coord_broken(c, "unexpected frame %d from worker %u", type, wi);
    }
}

/* ---- health ------------------------------------------------------------------ */
static int gw_healthy(void *ud, char *why, size_t whylen)
{
    sf_coordinator *c = ud;
    switch (c->phase) {
    case PH_SERVING: {
        /* healthy means progress: idle, or the running batch moved lately */
        uint64_t stalled = coord_stalled_ns(c, uv_hrtime());
        if (stalled <= (uint64_t)SF_HEALTH_STALL_MS * 1000000u) {
            snprintf(why, whylen, "durability %s", c->dlog ? "on" : "off (in memory: nothing survives a restart)");
            return 1;
        }
        char who[200];
        coord_waiting_for(c, who, sizeof who);
        snprintf(why, whylen, "batch %llu has made no progress for %llu ms (waiting for worker%s %s)",
                 (unsigned long long)c->batch_id, (unsigned long long)(stalled / 1000000),
                 strchr(who, ',') ? "s" : "", who[0] ? who : "?");
        return 0;
    }
    case PH_JOINING:
        snprintf(why, whylen, "waiting for workers (%u of %u ready)", c->nready, c->nworkers);
        return 0;
    case PH_RECOVERING:
        snprintf(why, whylen, "recovering: replaying the durable log (batch %llu, %llu replayed)",
                 (unsigned long long)c->batch_id, (unsigned long long)c->replayed);
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

sf_ingress *coord_new_ingress(const sf_coordinator *c)
{
    size_t max_pending = c->cfg.max_pending ? c->cfg.max_pending : (size_t)c->batch_size * 10u;
    return sf_ingress_memory_new(max_pending, c->cfg.max_pending_bytes, 0);
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
    c->cfg.data_dir = xstrdup(cfg->data_dir);
    c->cfg.token = NULL;
    c->loop = cfg->loop;
    c->nworkers = cfg->workers ? cfg->workers : 1;
    c->P = cfg->partitions ? cfg->partitions : SF_DEFAULT_PARTITIONS;
    c->batch_size = cfg->batch_size ? cfg->batch_size : SF_DEFAULT_BATCH_SIZE;
    c->admit = c->batch_size;
    c->batch_ns = (uint64_t)(cfg->batch_ms < 0 ? SF_DEFAULT_BATCH_MS : cfg->batch_ms) * 1000000u;
    c->batch_timeout_ns =
        (uint64_t)(cfg->batch_timeout_ms ? cfg->batch_timeout_ms : SF_DEFAULT_BATCH_TIMEOUT_MS) * 1000000u;
    c->phase = PH_JOINING;
    sf_buf_init(&c->arena);
    sf_buf_init(&c->out);
    sf_buf_init(&c->tmp);
    sf_buf_init(&c->tmp2);
    c->workers = sf_xrealloc(NULL, c->nworkers * sizeof(cworker));
    memset(c->workers, 0, c->nworkers * sizeof(cworker));
    c->ingress = coord_new_ingress(c);
    c->metrics = sf_metrics_new();
    sf_metrics_stateflow(c->metrics, &c->sm);
    c->m_workers = sf_metrics_gauge(c->metrics, "stateflow_workers", "Workers connected and ready.", NULL);
    c->m_pending = sf_metrics_gauge(c->metrics, "stateflow_ingress_pending",
                                    "Requests waiting for a batch.", NULL);
    c->m_admit = sf_metrics_gauge(c->metrics, "stateflow_batch_limit",
                                  "Transactions a batch takes at most now (adapts to conflict aborts, "
                                  "up to --batch-size).", NULL);
    sf_metric_set(c->m_admit, (double)c->admit);
    c->m_idem_hits = sf_metrics_counter(c->metrics, "stateflow_idempotent_retries_total",
                                        "Requests whose id was seen before: answered with the first reply.", NULL);
    uv_timer_init(c->loop, &c->timer);
    c->timer.data = c;
    c->timer_init = 1;
    uv_timer_init(c->loop, &c->watch);
    c->watch.data = c;
    c->watch_init = 1;
    coord_watch_start(c);
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
    if (coord_commitlog_open(c, err, errlen) < 0)
        goto fail;
    if (coord_durable_open(c, err, errlen) < 0)
        goto fail;

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
    if (sf_net_listen(c->net, cfg->listen_host, cfg->listen_port, &coord_worker_cbs, c, &c->listener, err,
                      errlen) < 0)
        goto fail;
    if (cfg->http_host) {
        sf_gateway_ops ops = {coord_gw_submit, gw_healthy, gw_metrics, gw_log};
        if (sf_gateway_start(c->loop, cfg->http_host, cfg->http_port, &ops, c, &c->gw, err, errlen) < 0) {
            c->gw = NULL;
            goto fail;
        }
        c->http_port = sf_gateway_port(c->gw);
    }
    if (cfg->native_host) {
        sf_native_ops nops = {coord_native_submit, native_log, coord_native_room};
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
void sf_coordinator_durability(const sf_coordinator *c, char *buf, size_t len)
{
    coord_durable_describe(c, buf, len);
    if (c->replay_pending) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "; replayed once the workers are ready");
    }
}
int sf_coordinator_native_port(const sf_coordinator *c) { return c->native_port; }

void sf_coordinator_shutdown(sf_coordinator *c)
{
    if (!c || c->phase == PH_CLOSING)
        return;
    if (c->phase == PH_SERVING || c->phase == PH_JOINING || c->phase == PH_RECOVERING)
        coord_fail_pending(c, "the service is shutting down");
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
    if (c->watch_init) {
        uv_timer_stop(&c->watch);
        uv_close((uv_handle_t *)&c->watch, NULL);
        c->watch_init = 0;
    }
    coord_commitlog_close(c);
    coord_durable_close(c);
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
    free((char *)c->cfg.data_dir);
    coord_durable_free(c);
    coord_idem_free(c);
    free(c);
    return 0;
}
