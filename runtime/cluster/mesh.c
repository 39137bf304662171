/* mesh.c: the stateflowd worker's full mesh (docs/runtime.md "Cluster"):
 * the partition map (which worker owns an instance), the connections to the
 * other workers (worker i connects to every j < i and introduces itself with
 * PEER; the others connect to it), their frames' first checks before the
 * operations run (worker_ops.c), sending to a peer, and a peer connection
 * that closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"
#include "stateflow/sf_util.h"

/* ---- partitions --------------------------------------------------------------- */

uint32_t wk_owner_of(const sf_worker *w, const char *entity, const char *key, size_t keylen)
{
    return w->owners[sf_cluster_partition(entity, key, keylen, w->P)];
}

int wk_is_local(void *arg, int entity, const char *key, size_t keylen)
{
    sf_worker *w = arg;
    return wk_owner_of(w, w->app->entities[entity].ir->name, key, keylen) == w->id;
}

const char *wk_ename(const sf_worker *w, int e) { return w->app->entities[e].ir->name; }

/* ---- peers ------------------------------------------------------------------ */

static const sf_conn_callbacks peer_cbs;

static void set_peer(sf_worker *w, uint32_t id, sf_conn *c)
{
    wlink *l = sf_conn_data(c);
    if (id >= w->nworkers || id == w->id || w->peers[id]) {
        wk_log(w, "unexpected peer %u from %s, closing", id, sf_conn_peer(c));
        /* not a peer: its close is no lost worker (on_peer_close) */
        l->peer = -1;
        sf_conn_close(c, "unexpected peer");
        return;
    }
    w->peers[id] = c;
    w->npeers++;
    l->peer = (int)id;
    wk_check_ready(w);
}

int wk_mesh_connect(sf_worker *w, sf_rd *r)
{
    uint32_t nw = w->nworkers;
    /* connect to every peer with a smaller id; the others connect to us */
    for (uint32_t i = 0; i < nw; i++) {
        const char *addr;
        size_t alen;
        if (sf_rd_str(r, &addr, &alen) < 0) {
            wk_malformed(w, "MAP");
            return -1;
        }
        if (i >= w->id)
            continue;
        char a[300], host[256], err[256];
        int port;
        snprintf(a, sizeof a, "%.*s", (int)(alen < 299 ? alen : 299), addr);
        if (sf_parse_hostport(a, host, sizeof host, &port, err, sizeof err) < 0) {
            wk_log(w, "peer %u: %s", i, err);
            wk_fail(w, 1);
            return -1;
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
            wk_log(w, "cannot connect to worker %u at %s: %s", i, a, err);
            wk_fail(w, 1);
            return -1;
        }
    }
    /* an early claim is checked as a late one is (on_peer_frame): the
     * peers with a smaller id are the ones this worker connects to */
    for (size_t k = 0; k < w->nearly; k++) {
        uint32_t id = (uint32_t)w->early_id[k];
        if (id <= w->id) {
            wk_log(w, "peer %s claims id %u, closing", sf_conn_peer(w->early[k]), id);
            ((wlink *)sf_conn_data(w->early[k]))->peer = -1;
            sf_conn_close(w->early[k], "bad peer id");
            continue;
        }
        set_peer(w, id, w->early[k]);
    }
    w->nearly = 0;
    return 0;
}

int wk_peer_send(sf_worker *w, uint32_t to)
{
    sf_conn *c = to < w->nworkers && to != w->id ? w->peers[to] : NULL;
    if (!c) {
        sf_buf_reset(&w->out);
        if (w->lost_peer == (int)to)
            wk_report_failure(w, "cannot send to worker %u: %s", to, w->lost);
        else
            wk_report_failure(w, "cannot send to worker %u: no connection to it", to);
        return -1;
    }
    int rc = sf_conn_send_buf(c, &w->out);
    if (rc != 0) {
        sf_buf_reset(&w->out);
        wk_report_failure(w, "cannot send to worker %u (%s): %s", to, sf_conn_peer(c),
                          rc == SF_NET_EFULL    ? "its queue is full"
                          : rc == SF_NET_ECLOSED ? "its connection is closing"
                                                 : "the frame is too large");
        return -1;
    }
    return 0;
}

/* ---- connections ------------------------------------------------------------- */

static void on_peer_frame(sf_conn *c, int type, const char *payload, size_t len, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
    if (w->stopping)
        return;
    sf_rd rd, *r = &rd;
    sf_rd_init(r, payload, len);
    uint32_t n;
    uint64_t t;
    if (sf_rd_array(r, &n) < 0 || sf_rd_uint(r, &t) < 0) {
        wk_log(w, "malformed frame from %s", sf_conn_peer(c));
        return;
    }
    if (type == SF_FRAME_PEER) {
        uint64_t id;
        if (l->kind != LINK_PEER_IN || l->peer >= 0 || sf_rd_uint(r, &id) < 0 || id >= SF_MAX_WORKERS) {
            wk_log(w, "bad PEER frame from %s, closing", sf_conn_peer(c));
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
            wk_log(w, "peer %s claims id %llu, closing", sf_conn_peer(c), (unsigned long long)id);
            sf_conn_close(c, "bad peer id");
            return;
        }
        set_peer(w, (uint32_t)id, c);
        return;
    }
    if (l->peer < 0 || !w->ex || !w->have_map) {
        wk_log(w, "frame %d from an unidentified peer %s, closing", type, sf_conn_peer(c));
        sf_conn_close(c, "unidentified");
        return;
    }
    uint64_t b;
    if (sf_rd_uint(r, &b) < 0 || !wk_batch_ok(w, b)) {
        wk_log(w, "frame %d from worker %d for an unexpected batch", type, l->peer);
        wk_fail(w, 1);
        return;
    }
    wk_on_peer_op(w, l->peer, type, r);
    wk_fb_pump(w);
}

/* A peer's connection closed and the coordinator's did not follow within
 * the grace period: before the cluster formed the worker gives up (the
 * coordinator sees it leave); once it runs this is a detected failure. */
static void on_grace(uv_timer_t *t)
{
    sf_worker *w = t->data;
    if (w->stopping)
        return;
    if (!w->ready_sent) {
        wk_log(w, "%s; stopping", w->lost);
        wk_fail(w, 1);
        return;
    }
    wk_report_failure(w, "%s", w->lost);
}

static void on_peer_close(sf_conn *c, const char *reason, void *ud)
{
    wlink *l = ud;
    sf_worker *w = l->w;
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
         * (a send to the peer meanwhile is one at once, wk_peer_send). */
        snprintf(w->lost, sizeof w->lost, "connection to worker %d lost (%s)", peer, reason);
        w->lost_peer = peer;
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
        wk_begin(w, &pk, 2, SF_FRAME_PEER);
        msgpack_pack_uint32(&pk, w->id);
        if (wk_send_out(w, c) == 0)
            set_peer(w, (uint32_t)l->peer, c);
    }
}

static const sf_conn_callbacks peer_cbs = {on_peer_open, on_peer_frame, on_peer_close};

static void on_accept(sf_conn *c, void *ud)
{
    sf_worker *w = ud;
    wlink *l = sf_xrealloc(NULL, sizeof(wlink));
    l->w = w;
    l->kind = LINK_PEER_IN;
    l->peer = -1;
    sf_conn_set_data(c, l);
    if (w->stopping || strcmp(sf_conn_role(c), "worker") != 0) {
        wk_log(w, "%s connected with role '%s', closing", sf_conn_peer(c), sf_conn_role(c));
        sf_conn_close(c, "not a worker");
    }
}

static const sf_conn_callbacks accept_cbs = {on_accept, on_peer_frame, on_peer_close};

int wk_mesh_listen(sf_worker *w, char *err, size_t errlen)
{
    uv_timer_init(w->loop, &w->grace);
    w->grace.data = w;
    w->grace_init = 1;
    if (sf_net_listen(w->net, w->listen_host, w->cfg.listen_port, &accept_cbs, w, &w->listener, err,
                      errlen) < 0)
        return -1;
    w->listen_port = sf_listener_port(w->listener);
    return 0;
}

void wk_mesh_stop(sf_worker *w)
{
    if (w->grace_init) {
        w->grace_init = 0;
        uv_close((uv_handle_t *)&w->grace, NULL);
    }
}
