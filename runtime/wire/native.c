/* native.c: the native client protocol server (native.h) on its own sf_net:
 * client slots with generations (ids never dangle), request frames checked
 * and handed to the coordinator, replies framed back. */
#include "native.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cluster.h"
#include "gateway.h"
#include "request.h"
#include "mpread.h"
#include "net.h"
#include "ratelog.h"
#include "stateflow/sf_util.h"

#define NATIVE_IDLE_MS (10u * 60u * 1000u) /* clients may stay quiet for long */
#define NATIVE_MAX_REQUEST (4u << 20)      /* bytes of one request map */
#define NATIVE_HANDSHAKE_MS 2000u          /* HELLO must come this soon */
/* Unanswered requests per client. Above the coordinator's ingress bound
 * (10 x the batch size by default) on purpose: under overload the ingress
 * answers Overloaded at once, and requests never wait unread in the
 * kernel's socket buffers behind a paused connection (measured: with 1,024
 * here, 8 clients at 3x overload waited up to 8 s for replies). The pause
 * still bounds a client that pipelines past it. */
#define NATIVE_MAX_INFLIGHT 16384u
#define NATIVE_MAX_UNSENT ((size_t)4 << 20) /* reply bytes queued per client */

typedef struct client_slot {
    sf_conn *conn;      /* NULL: free */
    uint32_t gen;
} client_slot;

/* The user data of every client connection. */
typedef struct client {
    sf_native *n;
    uint32_t idx;       /* slot, or UINT32_MAX when not admitted */
    uint32_t inflight;  /* submitted, not answered yet */
} client;

struct sf_native {
    sf_net *net;
    sf_listener *listener;
    sf_native_ops ops;
    void *ud;
    client_slot *slots;
    uint32_t nslots, cap;
    size_t nclients;
    int closing;
    sf_buf out;
    sf_buf canon;       /* the request being submitted, canonical */
    uv_loop_t *loop;
    sf_ratelog rl;      /* this file's own log lines */
    uint32_t max_inflight;
    size_t max_unsent;
};

/* Backpressure: a client's connection is read while it has fewer than
 * max_inflight requests unanswered and fewer than max_unsent bytes of
 * replies unsent; else reading pauses until replies are answered and
 * written (sf_conn_pause), and the client is never dropped for it. */
static void update_reading(sf_conn *c, client *cl)
{
    sf_native *n = cl->n;
    sf_conn_pause(c, cl->inflight >= n->max_inflight || sf_conn_queued(c) >= n->max_unsent);
}

static void nlog(sf_native *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nlog(sf_native *n, const char *fmt, ...)
{
    if (!n->ops.log)
        return;
    char summary[128];
    if (!sf_ratelog_allow(&n->rl, uv_now(n->loop), summary, sizeof summary))
        return;
    if (summary[0])
        n->ops.log(n->ud, summary);
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n->ops.log(n->ud, line);
}

/* net.c's lines, rate-limited there already */
static void net_log(void *ud, const char *line)
{
    sf_native *n = ud;
    if (!n->ops.log)
        return;
    char l[600];
    snprintf(l, sizeof l, "native: %s", line);
    n->ops.log(n->ud, l);
}

static uint64_t client_id(const sf_native *n, uint32_t idx)
{
    return ((uint64_t)n->slots[idx].gen << 32) | (uint64_t)(idx + 1);
}

static sf_conn *client_conn(sf_native *n, uint64_t id)
{
    uint32_t idx = (uint32_t)(id & 0xffffffffu);
    if (idx == 0 || idx > n->nslots)
        return NULL;
    client_slot *s = &n->slots[idx - 1];
    if (s->gen != (uint32_t)(id >> 32))
        return NULL;
    return s->conn;
}

/* ---- replies ---- */

static int send_reply(sf_native *n, uint64_t client, uint64_t corr, const char *id, size_t idlen,
                      const char *value, size_t vlen, const char *etype, const char *emsg)
{
    sf_conn *c = client_conn(n, client);
    if (!c)
        return 1;
    sf_buf *b = &n->out;
    sf_buf_reset(b);
    size_t at = sf_frame_begin(b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, SF_FRAME_CLIENT_REPLY);
    msgpack_pack_uint64(&pk, corr);
    msgpack_pack_map(&pk, id && idlen ? 2 : 1);
    if (id && idlen) {
        sf_pack_cstr(&pk, "id");
        sf_pack_raw(b, id, idlen);
    }
    if (etype) {
        sf_pack_cstr(&pk, "error");
        sf_pack_error(&pk, etype, emsg);
    } else {
        sf_pack_cstr(&pk, "ok");
        sf_pack_raw(b, value, vlen);
    }
    char err[128];
    if (sf_frame_end(b, at, err, sizeof err) != 0) {
        /* A value over the frame limit: say so instead. */
        sf_buf_reset(b);
        at = sf_frame_begin(b);
        sf_frame_packer_init(&pk, b);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_uint64(&pk, SF_FRAME_CLIENT_REPLY);
        msgpack_pack_uint64(&pk, corr);
        msgpack_pack_map(&pk, 1);
        sf_pack_cstr(&pk, "error");
        sf_pack_error(&pk, "InternalError", "reply too large for one frame");
        if (sf_frame_end(b, at, err, sizeof err) != 0)
            return 1;
    }
    int rc = sf_conn_send_buf(c, b);
    if (rc != 0) {
        nlog(n, "native: client %s: cannot queue a reply (%d), closing", sf_conn_peer(c), rc);
        sf_conn_close(c, "reply queue full");
        sf_buf_reset(b);
        return 1;
    }
    return 0;
}

/* One of the client's submitted requests is answered. */
static void answered(sf_native *n, uint64_t client_id)
{
    sf_conn *c = client_conn(n, client_id);
    if (!c)
        return;
    client *cl = sf_conn_data(c);
    if (cl->inflight > 0)
        cl->inflight--;
    update_reading(c, cl);
}

int sf_native_reply_ok(sf_native *n, uint64_t client, uint64_t corr, const char *id, size_t idlen,
                       const char *value, size_t len)
{
    int rc = send_reply(n, client, corr, id, idlen, value, len, NULL, NULL);
    answered(n, client);
    return rc;
}

int sf_native_reply_error(sf_native *n, uint64_t client, uint64_t corr, const char *id,
                          size_t idlen, const char *type, const char *message)
{
    int rc = send_reply(n, client, corr, id, idlen, NULL, 0, type ? type : "InternalError",
                        message ? message : "");
    answered(n, client);
    return rc;
}

/* The "id" member of a request map when it is a string or an integer (for
 * the BadRequest reply of a request that failed the checks). */
static void find_id(const char *req, size_t len, const char **id, size_t *idlen)
{
    *id = NULL;
    *idlen = 0;
    sf_rd r;
    sf_rd_init(&r, req, len);
    sf_mp_item it;
    if (sf_mp_read(req, len, &r.pos, &it) < 0 || it.kind != SF_MP_MAP)
        return;
    for (uint32_t i = 0; i < it.n; i++) {
        const char *k, *v;
        size_t kn, vn;
        if (sf_rd_value(&r, &k, &kn) < 0 || sf_rd_value(&r, &v, &vn) < 0)
            return;
        size_t p = 0;
        sf_mp_item ki, vi;
        if (sf_mp_read(k, kn, &p, &ki) < 0 || ki.kind != SF_MP_STR || ki.n != 2 ||
            memcmp(ki.data, "id", 2) != 0)
            continue;
        p = 0;
        if (sf_mp_read(v, vn, &p, &vi) < 0)
            return;
        if (vi.kind == SF_MP_STR || vi.kind == SF_MP_INT || vi.kind == SF_MP_UINT) {
            *id = v;
            *idlen = vn;
        }
        return;
    }
}

/* Answer a request refused before submission (too large, malformed, no
 * room), with the id it carries when that can be found. */
static void refuse(sf_native *n, uint64_t client, uint64_t corr, const char *req, size_t reqlen, const char *type,
                   const char *message)
{
    const char *rid;
    size_t ridlen;
    find_id(req, reqlen, &rid, &ridlen);
    send_reply(n, client, corr, rid, ridlen, NULL, 0, type, message);
}

/* The error of a refusal by room() or submit(): SF_SUBMIT_OVERLOADED, or any
 * other nonzero value. */
static const char *refusal_type(int rc) { return rc == SF_SUBMIT_OVERLOADED ? "Overloaded" : "Unavailable"; }
static const char *refusal_message(int rc)
{
    return rc == SF_SUBMIT_OVERLOADED ? "the service is overloaded: retry later"
                                      : "the service is not accepting requests";
}

/* ---- connections ---- */

static void on_frame(sf_conn *c, int type, const char *payload, size_t len, void *ud)
{
    client *cl = ud;
    sf_native *n = cl->n;
    if (cl->idx == UINT32_MAX)
        return;
    if (type != SF_FRAME_CLIENT_REQUEST) {
        nlog(n, "native: client %s sent a frame of type %d, closing", sf_conn_peer(c), type);
        sf_conn_close(c, "unexpected frame type");
        return;
    }
    sf_rd r;
    sf_rd_init(&r, payload, len);
    uint32_t na;
    uint64_t t, corr;
    const char *req;
    size_t reqlen;
    if (sf_rd_array(&r, &na) < 0 || na != 3 || sf_rd_uint(&r, &t) < 0 || sf_rd_uint(&r, &corr) < 0 ||
        sf_rd_value(&r, &req, &reqlen) < 0 || r.pos != len) {
        nlog(n, "native: client %s sent a malformed request frame, closing", sf_conn_peer(c));
        sf_conn_close(c, "malformed request frame");
        return;
    }
    uint64_t id = client_id(n, cl->idx);
    char err[256];
    if (reqlen > NATIVE_MAX_REQUEST) {
        snprintf(err, sizeof err, "request too large (%zu bytes, limit %u)", reqlen, NATIVE_MAX_REQUEST);
        refuse(n, id, corr, req, reqlen, "BadRequest", err);
        return;
    }
    int room = n->ops.room ? n->ops.room(n->ud, reqlen) : SF_SUBMIT_OK;
    if (room != SF_SUBMIT_OK) {
        refuse(n, id, corr, req, reqlen, refusal_type(room), refusal_message(room));
        update_reading(c, cl);
        return;
    }
    /* keys are compared as values: the map goes on with its key and the
     * keys inside its arguments canonical (request.h) */
    sf_buf_reset(&n->canon);
    sf_reqmap gr; /* decoded once: its op goes to submit, its id to a refusal */
    if (sf_reqmap_canonical(req, reqlen, &n->canon, err, sizeof err) < 0 ||
        sf_reqmap_decode(n->canon.data, n->canon.len, &gr, err, sizeof err) < 0) {
        refuse(n, id, corr, req, reqlen, "BadRequest", err);
        return;
    }
    /* counted first: the answer may come from inside submit */
    cl->inflight++;
    int rc = n->ops.submit(n->ud, n->canon.data, n->canon.len, gr.op, id, corr);
    if (rc != SF_SUBMIT_OK) {
        if (client_conn(n, id) == c)
            cl->inflight--;
        send_reply(n, id, corr, gr.id, gr.id_len, NULL, 0, refusal_type(rc), refusal_message(rc));
    }
    if (client_conn(n, id) == c)
        update_reading(c, cl);
}

static void on_close(sf_conn *c, const char *reason, void *ud)
{
    client *cl = ud;
    sf_native *n = cl->n;
    (void)c;
    (void)reason;
    if (cl->idx != UINT32_MAX) {
        n->slots[cl->idx].conn = NULL;
        n->slots[cl->idx].gen++;
        n->nclients--;
    }
    free(cl);
}

static void on_drain(sf_conn *c, void *ud)
{
    client *cl = ud;
    if (cl->idx != UINT32_MAX)
        update_reading(c, cl);
}

static void on_open(sf_conn *c, void *ud)
{
    sf_native *n = ud;
    client *cl = sf_xrealloc(NULL, sizeof(*cl));
    cl->n = n;
    cl->idx = UINT32_MAX;
    cl->inflight = 0;
    sf_conn_set_data(c, cl);
    if (n->closing) {
        sf_conn_close(c, "shutting down");
        return;
    }
    if (strcmp(sf_conn_role(c), "client") != 0) {
        nlog(n, "native: %s connected with role '%s' (expected 'client'), closing", sf_conn_peer(c),
             sf_conn_role(c));
        sf_conn_close(c, "wrong role");
        return;
    }
    uint32_t idx = UINT32_MAX;
    for (uint32_t i = 0; i < n->nslots; i++)
        if (!n->slots[i].conn) {
            idx = i;
            break;
        }
    if (idx == UINT32_MAX) {
        if (n->nslots == n->cap) {
            n->cap = n->cap ? n->cap * 2 : 16;
            n->slots = sf_xrealloc(n->slots, n->cap * sizeof(client_slot));
        }
        idx = n->nslots++;
        n->slots[idx].gen = 1;
    }
    n->slots[idx].conn = c;
    cl->idx = idx;
    sf_conn_set_drain(c, on_drain);
    n->nclients++;
}

static const sf_conn_callbacks client_cbs = {on_open, on_frame, on_close};

int sf_native_start(uv_loop_t *loop, const char *host, int port, const void *token,
                    size_t token_len, const sf_native_ops *ops, void *ud, sf_native **out,
                    char *err, size_t errlen)
{
    return sf_native_start_ex(loop, host, port, token, token_len, ops, ud, NULL, out, err, errlen);
}

int sf_native_start_ex(uv_loop_t *loop, const char *host, int port, const void *token, size_t token_len,
                       const sf_native_ops *ops, void *ud, const sf_native_limits *limits, sf_native **out,
                       char *err, size_t errlen)
{
    static const sf_native_limits no_limits = {0};
    if (!limits)
        limits = &no_limits;
    *out = NULL;
    sf_native *n = sf_xrealloc(NULL, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->ops = *ops;
    n->ud = ud;
    n->loop = loop;
    sf_ratelog_init(&n->rl, limits->log_per_sec);
    n->max_inflight = limits->max_inflight ? limits->max_inflight : NATIVE_MAX_INFLIGHT;
    n->max_unsent = limits->max_unsent ? limits->max_unsent : NATIVE_MAX_UNSENT;
    sf_buf_init(&n->out);
    sf_buf_init(&n->canon);
    sf_net_config cfg = {0};
    cfg.loop = loop;
    cfg.token = token;
    cfg.token_len = token_len;
    cfg.idle_timeout_ms = limits->idle_timeout_ms ? limits->idle_timeout_ms : NATIVE_IDLE_MS;
    cfg.handshake_ms = limits->handshake_ms ? limits->handshake_ms : NATIVE_HANDSHAKE_MS;
    cfg.max_pending = limits->max_pending;
    cfg.max_pending_per_addr = limits->max_pending_per_addr;
    cfg.log_per_sec = limits->log_per_sec;
    cfg.log = net_log;
    cfg.log_ud = n;
    if (sf_net_new(&cfg, &n->net, err, errlen) < 0) {
        sf_buf_free(&n->out);
        sf_buf_free(&n->canon);
        free(n);
        return -1;
    }
    if (sf_net_listen(n->net, host, port, &client_cbs, n, &n->listener, err, errlen) < 0) {
        /* the failed listener closes through the loop: hand n back closed */
        sf_native_close(n);
        *out = n;
        return -1;
    }
    *out = n;
    return 0;
}

int sf_native_port(const sf_native *n) { return n->listener ? sf_listener_port(n->listener) : 0; }

size_t sf_native_clients(const sf_native *n) { return n->nclients; }

void sf_native_close(sf_native *n)
{
    if (!n || n->closing)
        return;
    n->closing = 1;
    n->listener = NULL;
    sf_net_close_all(n->net);
}

int sf_native_free(sf_native *n)
{
    if (!n)
        return 0;
    if (sf_net_free(n->net) < 0)
        return -1;
    free(n->slots);
    sf_buf_free(&n->out);
    sf_buf_free(&n->canon);
    free(n);
    return 0;
}
