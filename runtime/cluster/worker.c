/* worker.c: the stateflowd worker (worker.h, docs/runtime.md): its link to
 * the coordinator, the application and the executor (APP), the partition map
 * (MAP), the dispatch of the coordinator's frames to the other files of the
 * worker (worker_internal.h), and its lifecycle (start, stop, free). The
 * mesh of peers is mesh.c's, client operations in steps worker_ops.c's, the
 * batch's transactions and the Aria end of a batch worker_batch.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"
#include "stateflow/sf_util.h"

/* ---- log ------------------------------------------------------------------- */

void wk_log(sf_worker *w, const char *fmt, ...)
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

static void net_log(void *ud, const char *line) { wk_log((sf_worker *)ud, "%s", line); }

/* ---- sending ---------------------------------------------------------------- */

int wk_send_out(sf_worker *w, sf_conn *c)
{
    char err[160];
    if (sf_frame_end(&w->out, 0, err, sizeof err) != 0) {
        wk_log(w, "cannot send a frame: %s", err);
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
        wk_log(w, "cannot send to %s (error %d)", sf_conn_peer(c), rc);
        wk_fail(w, 1);
        return -1;
    }
    return 0;
}

void wk_begin(sf_worker *w, msgpack_packer *pk, uint32_t n, int type)
{
    sf_buf_reset(&w->out);
    sf_frame_begin(&w->out);
    sf_frame_packer_init(pk, &w->out);
    msgpack_pack_array(pk, n);
    msgpack_pack_int(pk, type);
}

void wk_malformed(sf_worker *w, const char *frame)
{
    wk_log(w, "malformed %s", frame);
    wk_fail(w, 1);
}

void wk_report_failure(sf_worker *w, const char *fmt, ...)
{
    if (w->stopping || w->failed)
        return;
    w->failed = 1;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!w->coord) {
        wk_log(w, "failure: %s (no coordinator to report it to)", why);
        return;
    }
    wk_log(w, "failure: %s; reporting it to the coordinator (FAILED)", why);
    msgpack_packer pk;
    wk_begin(w, &pk, 2, SF_FRAME_FAILED);
    sf_pack_cstr(&pk, why);
    wk_send_out(w, w->coord);
}

/* ---- the application and the map --------------------------------------------- */

static int load_app(sf_worker *w, const char *sfir, size_t len)
{
    char err[1024];
    if (w->ir) {
        wk_log(w, "the application was sent twice");
        return -1;
    }
    w->ir = sf_ir_decode(sfir, len, err, sizeof err);
    if (!w->ir) {
        wk_log(w, "cannot read the application: %s", err);
        return -1;
    }
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0) {
        wk_log(w, "cannot start Python: %s", err);
        return -1;
    }
    w->py_started = 1;
    if (sf_pycodec_init(&w->codec) < 0) {
        sf_pyrt_error_string(err, sizeof err);
        wk_log(w, "codec: %s", err);
        return -1;
    }
    w->codec_ok = 1;
    w->app = sf_pyapp_load(w->ir, err, sizeof err);
    if (!w->app) {
        wk_log(w, "cannot load the application: %s", err);
        return -1;
    }
    w->ex = sf_executor_new(w->app, &w->codec, &w->store, err, sizeof err);
    if (!w->ex) {
        wk_log(w, "%s", err);
        return -1;
    }
    w->watchdog = sf_watchdog_start(SF_WORKER_TIME_LIMIT_MS, err, sizeof err);
    if (!w->watchdog) {
        wk_log(w, "%s", err);
        return -1;
    }
    sf_executor_set_watchdog(w->ex, w->watchdog);
    return 0;
}

void wk_check_ready(sf_worker *w)
{
    if (w->ready_sent || !w->have_map || !w->ex || w->npeers + 1 < w->nworkers)
        return;
    w->ready_sent = 1;
    msgpack_packer pk;
    wk_begin(w, &pk, 1, SF_FRAME_READY);
    wk_send_out(w, w->coord);
}

static void on_map(sf_worker *w, sf_rd *r)
{
    uint64_t id, P;
    uint32_t np, nw;
    if (w->have_map) {
        wk_log(w, "membership changes are not supported; ignoring a new MAP");
        return;
    }
    if (sf_rd_uint(r, &id) < 0 || sf_rd_uint(r, &P) < 0 || P == 0 || P > SF_MAX_PARTITIONS ||
        sf_rd_array(r, &np) < 0 || np != P) {
        wk_malformed(w, "MAP");
        return;
    }
    uint32_t *owners = sf_xrealloc(NULL, P * sizeof(uint32_t));
    for (uint32_t i = 0; i < np; i++) {
        uint64_t o;
        if (sf_rd_uint(r, &o) < 0 || o >= SF_MAX_WORKERS) {
            free(owners);
            wk_malformed(w, "MAP");
            return;
        }
        owners[i] = (uint32_t)o;
    }
    if (sf_rd_array(r, &nw) < 0 || nw == 0 || nw > SF_MAX_WORKERS || id >= nw) {
        free(owners);
        wk_malformed(w, "MAP");
        return;
    }
    for (uint32_t i = 0; i < np; i++)
        if (owners[i] >= nw) {
            free(owners);
            wk_malformed(w, "MAP");
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
        sf_executor_set_locality(w->ex, wk_is_local, w);
    if (wk_mesh_connect(w, r) < 0)
        return;
    wk_check_ready(w);
}

static void on_coord_frame(sf_worker *w, int type, sf_rd *r)
{
    if (type == SF_FRAME_APP) {
        const char *p;
        size_t n;
        if (sf_rd_bin(r, &p, &n) < 0 || load_app(w, p, n) < 0) {
            wk_fail(w, 1);
            return;
        }
        if (w->have_map)
            sf_executor_set_locality(w->ex, wk_is_local, w);
        wk_check_ready(w);
        return;
    }
    if (type == SF_FRAME_MAP) {
        on_map(w, r);
        return;
    }
    if (!w->ex || !w->have_map) {
        wk_log(w, "frame %d before the application and the map", type);
        wk_fail(w, 1);
        return;
    }
    uint64_t b;
    if (sf_rd_uint(r, &b) < 0 || !wk_batch_ok(w, b)) {
        wk_log(w, "frame %d for an unexpected batch", type);
        wk_fail(w, 1);
        return;
    }
    switch (type) {
    case SF_FRAME_BATCH: wk_on_batch(w, r); break;
    case SF_FRAME_EXECUTED: wk_on_executed(w, r); break;
    case SF_FRAME_DECIDE: wk_on_decide(w, r); break;
    default:
        wk_log(w, "unexpected frame %d from the coordinator", type);
        wk_fail(w, 1);
    }
}

/* ---- the coordinator's connection ------------------------------------------- */

static void on_coord_frame_cb(sf_conn *c, int type, const char *payload, size_t len, void *ud)
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
        wk_log(w, "malformed frame from %s", sf_conn_peer(c));
        return;
    }
    on_coord_frame(w, type, &r);
}

static void on_coord_close(sf_conn *c, const char *reason, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
    (void)c;
    w->coord = NULL;
    free(l);
    if (!w->joined) {
        wk_log(w, "could not join the coordinator: %s", reason);
        wk_fail(w, 1);
        return;
    }
    if (!w->stopping && !w->have_map) {
        wk_log(w, "the coordinator closed the connection before the cluster formed (%s)", reason);
        wk_fail(w, 1);
        return;
    }
    if (!w->stopping)
        wk_log(w, "coordinator connection closed (%s); stopping", reason);
    wk_fail(w, 0);
}

static void on_coord_open(sf_conn *c, void *ud)
{
    wlink *l = ud;
    l->w->joined = 1;
    wk_log(l->w, "joined the coordinator at %s", sf_conn_peer(c));
}

static const sf_conn_callbacks coord_cbs = {on_coord_open, on_coord_frame_cb, on_coord_close};

/* ---- lifecycle ---------------------------------------------------------------- */

void wk_fail(sf_worker *w, int status)
{
    if (status > w->status)
        w->status = status;
    if (!w->stopping) {
        w->stopping = 1;
        w->listener = NULL;
        sf_net_close_all(w->net);
    }
    wk_mesh_stop(w);
    if (!w->stop_reported && w->cfg.on_stop) {
        w->stop_reported = 1;
        w->cfg.on_stop(w->cfg.ud, w->status);
    }
}

void sf_worker_stop(sf_worker *w)
{
    if (w)
        wk_fail(w, 0);
}

int sf_worker_start(const sf_worker_config *cfg, sf_worker **out, char *err, size_t errlen)
{
    *out = NULL;
    sf_worker *w = sf_xrealloc(NULL, sizeof(*w));
    memset(w, 0, sizeof(*w));
    w->cfg = *cfg;
    w->loop = cfg->loop;
    w->lost_peer = -1;
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
    if (wk_mesh_listen(w, err, errlen) < 0) {
        w->stop_reported = 1;
        wk_fail(w, 1);
        return -1;
    }
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
        wk_fail(w, 1);
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
    wk_batch_free(w);
    wk_fb_free(w);
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
