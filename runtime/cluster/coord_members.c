/* coord_members.c: the coordinator's membership. Workers connect to the
 * cluster port (role "worker", the cluster token checked by net.c) and take
 * a free slot while the cluster forms; each gets the application (APP);
 * when the expected number has joined, every worker gets the partition map
 * and the addresses of its peers (MAP) and answers READY once connected to
 * all of them; the last READY starts the service (after a replay of the
 * durable log, coord_durable.c). A worker that leaves before the map went
 * out frees its slot; one that leaves later breaks the cluster (with
 * durability on, the coordinator then waits for a new one and recovers). Also the one path that sends frames
 * to a worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "stateflow/sf_util.h"

void coord_frame_begin(sf_buf *b, msgpack_packer *pk, uint32_t n, int type)
{
    sf_frame_begin(b);
    sf_frame_packer_init(pk, b);
    msgpack_pack_array(pk, n);
    msgpack_pack_int(pk, type);
}

int coord_send_worker(sf_coordinator *c, uint32_t i)
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
            coord_broken(c, "worker %u (%s) disconnected", i, w->addr);
        else
            coord_broken(c, "cannot send to worker %u (%s): %s", i, w->addr,
                         rc == SF_NET_EFULL ? "its queue is full" : "frame too large");
        return -1;
    }
    return 0;
}

int coord_frame_end(sf_coordinator *c, size_t at)
{
    char err[160];
    if (sf_frame_end(&c->out, at, err, sizeof err) != 0) {
        coord_broken(c, "frame too large: %s", err);
        return -1;
    }
    return 0;
}

static void send_map(sf_coordinator *c)
{
    c->owners = sf_xrealloc(c->owners, c->P * sizeof(uint32_t));
    for (uint32_t p = 0; p < c->P; p++)
        c->owners[p] = p % c->nworkers;
    for (uint32_t w = 0; w < c->nworkers; w++) {
        sf_buf_reset(&c->out);
        msgpack_packer pk;
        coord_frame_begin(&c->out, &pk, 5, SF_FRAME_MAP);
        msgpack_pack_uint32(&pk, w);
        msgpack_pack_uint32(&pk, c->P);
        msgpack_pack_array(&pk, c->P);
        for (uint32_t p = 0; p < c->P; p++)
            msgpack_pack_uint32(&pk, c->owners[p]);
        msgpack_pack_array(&pk, c->nworkers);
        for (uint32_t i = 0; i < c->nworkers; i++)
            sf_pack_cstr(&pk, c->workers[i].addr);
        if (coord_frame_end(c, 0) < 0 || coord_send_worker(c, w) < 0)
            return;
    }
    c->map_sent = 1;
}

void coord_on_ready(sf_coordinator *c, uint32_t wi)
{
    if (c->workers[wi].ready || !c->map_sent) {
        coord_broken(c, "unexpected READY from worker %u", wi);
        return;
    }
    c->workers[wi].ready = 1;
    c->nready++;
    sf_metric_set(c->m_workers, (double)c->nready);
    if (c->nready == c->nworkers && c->phase == PH_JOINING)
        coord_durable_on_cluster_ready(c);
}

void coord_members_announce_ready(sf_coordinator *c)
{
    char dur[300];
    coord_durable_describe(c, dur, sizeof dur);
    char http[300] = "off", native[300] = "off";
    if (c->gw)
        snprintf(http, sizeof http, "%s:%d", c->cfg.http_host, c->http_port);
    if (c->native)
        snprintf(native, sizeof native, "%s:%d", c->cfg.native_host, c->native_port);
    coord_log(c, "coordinator ready: %u worker%s, %u partitions, cluster=%s:%d http=%s native=%s, "
                 "durability %s",
              c->nworkers, c->nworkers == 1 ? "" : "s", c->P,
              c->cfg.listen_host, sf_listener_port(c->listener), http, native, dur);
    if (c->cfg.on_ready)
        c->cfg.on_ready(c->cfg.ud);
    coord_maybe_start_batch(c);
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
        coord_log(c, "worker %d (%s) left before the cluster formed (%s)", slot, w->addr, reason);
        w->joined = 0;
        c->njoined--;
        return;
    }
    coord_broken(c, "worker %d (%s) disconnected: %s", slot, w->addr, reason);
}

static void on_worker_open(sf_conn *conn, void *ud)
{
    sf_coordinator *c = ud;
    clink *l = sf_xrealloc(NULL, sizeof(clink));
    l->c = c;
    l->slot = -1;
    sf_conn_set_data(conn, l);
    if (strcmp(sf_conn_role(conn), "worker") != 0) {
        coord_log(c, "%s connected to the cluster port with role '%s', closing", sf_conn_peer(conn),
                  sf_conn_role(conn));
        sf_conn_close(conn, "not a worker");
        return;
    }
    if (c->phase != PH_JOINING || c->njoined >= c->nworkers) {
        coord_log(c, "worker %s refused: the cluster is %s", sf_conn_peer(conn),
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
        coord_log(c, "worker %s sent a bad listen address '%s', closing", sf_conn_peer(conn), adv);
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
    coord_log(c, "worker %u joined from %s (listening on %s)", slot, sf_conn_peer(conn), w->addr);
    sf_buf_reset(&c->out);
    msgpack_packer pk;
    coord_frame_begin(&c->out, &pk, 2, SF_FRAME_APP);
    sf_pack_bin(&pk, c->app, c->app_len);
    if (coord_frame_end(c, 0) < 0 || coord_send_worker(c, slot) < 0)
        return;
    if (c->njoined == c->nworkers)
        send_map(c);
}

const sf_conn_callbacks coord_worker_cbs = {on_worker_open, coord_on_worker_frame, on_worker_close};
