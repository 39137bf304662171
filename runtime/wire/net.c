/* net.c: the process-to-process transport over libuv TCP (see net.h):
 * listeners, outgoing connections, the HELLO/WELCOME/REFUSE handshake, PING
 * heartbeats, the bounded write queue, and frame delivery. All state hangs
 * off an sf_net; nothing is global.
 *
 * Every connection owns four libuv handles (the TCP stream, one timer, and
 * the prepare and check hooks that flush its output) and at most one
 * getaddrinfo request; its memory goes when all of them have come back.
 * The timer serves, by state, as connect/handshake deadline, heartbeat
 * clock, or flush deadline while closing. A graceful close stops
 * delivering frames, flushes the write queue with uv_shutdown and keeps
 * reading (discarding) until the peer closes too or the flush deadline
 * passes, so that a final REFUSE is not lost to a reset.
 *
 * Output, one write per loop turn: a frame sent is not written at once.
 * It is appended to the connection's pending segments (small frames are
 * copied into the open tail segment; a buffer handed over with
 * sf_conn_send_buf becomes a segment of its own when it is large or the
 * first of the turn), and the two hooks are started. Whichever runs first,
 * the check hook (after the I/O callbacks of this turn) or the prepare hook
 * (before the loop next blocks in poll, for frames sent from timers or
 * close callbacks), hands every pending segment to libuv as one uv_write
 * with several buffers (one writev) and stops both hooks. So frames leave
 * in the order sent, at most one loop turn later, never after the loop has
 * blocked. Ownership: a segment's memory belongs to the connection while
 * pending, then to its net_wreq, which frees it in conn_write_cb (also
 * when libuv cancels the write on close); conn_close_hard frees what is
 * still pending; a graceful close first flushes it. c->queued counts the
 * pending bytes and those in writes not yet completed, so the cap
 * (max_queued, SF_NET_EFULL) and sf_conn_queued()/on_drain backpressure
 * work on both. */
#include "net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpread.h"
#include "ratelog.h"
#include "stateflow/sf_util.h"

#define NET_READ_CHUNK (64u * 1024u)
#define NET_HANDSHAKE_FRAME_MAX 4096u /* largest frame before the handshake */
#define NET_ROLE_MAX 64u
#define NET_LISTEN_MAX 256u
#define NET_TOKEN_MAX 1024u
#define NET_REASON_MAX 200u
#define NET_COPY_MAX (16u * 1024u)  /* frames up to this are copied into the tail */
#define NET_SEG_MAX (256u * 1024u)  /* the tail takes no copies beyond this */

enum conn_state {
    CS_RESOLVING,  /* outgoing: waiting for getaddrinfo */
    CS_CONNECTING, /* outgoing: waiting for uv_tcp_connect */
    CS_HANDSHAKE,  /* HELLO sent / awaited */
    CS_OPEN,
    CS_CLOSING,
};

struct sf_net {
    uv_loop_t *loop;
    char *token;
    size_t token_len;
    unsigned version, ping_ms, idle_ms, handshake_ms, flush_ms, max_pending, max_pending_per_addr;
    size_t max_queued;
    void (*log)(void *, const char *);
    void *log_ud;
    sf_ratelog rl;
    sf_listener *listeners; /* until their close callback */
    sf_conn *conns;         /* until freed */
    unsigned pending;       /* accepted connections in handshake */
    sf_conn *pend_head, *pend_tail; /* those, oldest first */
};

struct sf_listener {
    uv_tcp_t tcp;
    sf_net *net;
    sf_conn_callbacks cbs;
    void *ud;
    int port;
    int closing;
    sf_listener *prev, *next;
};

struct sf_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai_req;
    uv_shutdown_t shutdown_req;
    uv_prepare_t fprep;   /* flush hooks: active while segs are pending */
    uv_check_t fchk;
    sf_net *net;
    sf_conn *prev, *next;
    sf_conn_callbacks cbs;
    void *ud;
    int state;
    int accepted;
    int visible;      /* the application holds the handle: owes on_close */
    int in_pending;   /* counted in net->pending, on its list */
    sf_conn *pprev, *pnext; /* the list of connections in handshake */
    int handles;      /* libuv handles initialised and not yet closed back */
    int gai_active;
    int shut;         /* uv_shutdown issued */
    int peer_eof;     /* EOF seen while closing */
    int paused;       /* sf_conn_pause: not reading, frames kept */
    int redeliver;    /* resumed: frames buffered meanwhile are due */
    void (*on_drain)(sf_conn *, void *);
    sf_frame_decoder dec;
    sf_buf *segs;     /* pending output, in order, not yet given to libuv */
    unsigned nsegs, capsegs;
    int tail_open;    /* segs[nsegs - 1] takes appended copies */
    int hooks_on;
    size_t queued;    /* pending bytes + bytes in uncompleted writes */
    uint64_t t_start, t_recv, t_send;
    int port;
    char *host;             /* outgoing: the name to resolve */
    char *my_role, *my_listen; /* outgoing: what HELLO carries */
    char *role, *listen;    /* accepted: what the peer's HELLO carried */
    char peer[80];
    char addr[80];    /* accepted: the peer's address without the port */
    char reason[NET_REASON_MAX + 1];
};

/* One uv_write of every segment pending at a flush; owns their memory
 * until conn_write_cb. */
typedef struct net_wreq {
    uv_write_t req;
    sf_conn *c;
    size_t len;
    unsigned n;
    char *mem[]; /* n malloc'ed blocks to free (the frame bytes) */
} net_wreq;

static void conn_close_hard(sf_conn *c, const char *reason);
static void conn_close_graceful(sf_conn *c, const char *reason);
static void conn_arm(sf_conn *c);
static void conn_deliver(sf_conn *c);
static void conn_flush(sf_conn *c);
static void conn_drop_pending(sf_conn *c);



static char *xstrdup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) {
        fprintf(stderr, "stateflow: out of memory\n");
        abort();
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "stateflow: out of memory\n");
        abort();
    }
    return p;
}

static void net_log(sf_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void net_emit(sf_net *net, const char *line)
{
    if (net->log)
        net->log(net->log_ud, line);
    else
        fprintf(stderr, "stateflowd: %s\n", line);
}

/* Rate-limited (ratelog.h): a flood of bad peers costs a summary line. */
static void net_log(sf_net *net, const char *fmt, ...)
{
    char summary[128];
    if (!sf_ratelog_allow(&net->rl, uv_now(net->loop), summary, sizeof summary))
        return;
    if (summary[0])
        net_emit(net, summary);
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    net_emit(net, line);
}

/* ---- the connections in handshake: a list, oldest first ---- */

static void pending_add(sf_conn *c)
{
    sf_net *net = c->net;
    c->in_pending = 1;
    c->pnext = NULL;
    c->pprev = net->pend_tail;
    if (net->pend_tail)
        net->pend_tail->pnext = c;
    else
        net->pend_head = c;
    net->pend_tail = c;
    net->pending++;
}

static void pending_remove(sf_conn *c)
{
    if (!c->in_pending)
        return;
    sf_net *net = c->net;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        net->pend_head = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    else
        net->pend_tail = c->pprev;
    c->pprev = c->pnext = NULL;
    c->in_pending = 0;
    net->pending--;
}

/* Copy untrusted text for a log line or reason: printable ASCII only. */
static void sanitize(char *dst, size_t cap, const char *src, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[j] = '\0';
}

static void set_reason(sf_conn *c, const char *reason)
{
    snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "closed");
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(out, cap, "?");
    }
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

/* Constant time in the length of our token. */
static int token_eq(const sf_net *net, const char *t, size_t n)
{
    unsigned char diff = (unsigned char)(n != net->token_len);
    for (size_t i = 0; i < net->token_len; i++) {
        unsigned char theirs = i < n ? (unsigned char)t[i] : 0;
        diff |= (unsigned char)((unsigned char)net->token[i] ^ theirs);
    }
    return diff == 0;
}

/* ---- the net ---- */

int sf_net_new(const sf_net_config *cfg, sf_net **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->loop) {
        sf_set_err(err, errlen, "net: no event loop given");
        return -1;
    }
    if (cfg->token_len > NET_TOKEN_MAX || (cfg->token_len && !cfg->token)) {
        sf_set_err(err, errlen, "net: cluster token longer than %u bytes", NET_TOKEN_MAX);
        return -1;
    }
    sf_net *net = xcalloc(sizeof *net);
    net->loop = cfg->loop;
    net->token = xstrdup(cfg->token_len ? cfg->token : "", cfg->token_len);
    net->token_len = cfg->token_len;
    net->version = cfg->version ? cfg->version : SF_PROTOCOL_VERSION;
    net->ping_ms = cfg->ping_ms ? cfg->ping_ms : 1000;
    net->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 5000;
    net->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : 5000;
    net->flush_ms = cfg->flush_ms ? cfg->flush_ms : 1000;
    net->max_queued = cfg->max_queued ? cfg->max_queued : (size_t)64 << 20;
    net->max_pending = cfg->max_pending ? cfg->max_pending : 256;
    net->max_pending_per_addr = cfg->max_pending_per_addr ? cfg->max_pending_per_addr : 64;
    if (net->max_pending_per_addr > net->max_pending)
        net->max_pending_per_addr = net->max_pending;
    sf_ratelog_init(&net->rl, cfg->log_per_sec);
    net->log = cfg->log;
    net->log_ud = cfg->log_ud;
    *out = net;
    return 0;
}

uv_loop_t *sf_net_loop(sf_net *net) { return net->loop; }

void sf_net_close_all(sf_net *net)
{
    char summary[128];
    if (sf_ratelog_flush(&net->rl, summary, sizeof summary))
        net_emit(net, summary);
    for (sf_listener *l = net->listeners; l; l = l->next)
        if (!l->closing)
            sf_listener_close(l);
    for (sf_conn *c = net->conns; c; c = c->next) {
        if (c->state == CS_CLOSING)
            continue;
        if (c->visible)
            conn_close_graceful(c, "shutdown");
        else
            conn_close_hard(c, "shutdown");
    }
}

int sf_net_free(sf_net *net)
{
    if (!net)
        return 0;
    if (net->listeners || net->conns)
        return -1;
    free(net->token);
    free(net);
    return 0;
}

/* ---- connections: teardown ---- */

static void conn_maybe_free(sf_conn *c)
{
    if (c->handles > 0 || c->gai_active)
        return;
    sf_net *net = c->net;
    if (c->prev)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pending_remove(c);
    if (c->visible && c->cbs.on_close)
        c->cbs.on_close(c, c->reason, c->ud);
    sf_frame_decoder_free(&c->dec);
    for (unsigned i = 0; i < c->nsegs; i++)
        sf_buf_free(&c->segs[i]);
    free(c->segs);
    free(c->host);
    free(c->my_role);
    free(c->my_listen);
    free(c->role);
    free(c->listen);
    free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
    sf_conn *c = h->data;
    c->handles--;
    conn_maybe_free(c);
}

static void conn_enter_closing(sf_conn *c, const char *reason)
{
    set_reason(c, reason);
    c->state = CS_CLOSING;
    pending_remove(c);
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai_req);
}

/* Close every handle now; writes in libuv are cancelled, pending output
 * freed. A reason given here replaces none already set by an earlier
 * close. */
static void conn_close_hard(sf_conn *c, const char *reason)
{
    if (c->state != CS_CLOSING)
        conn_enter_closing(c, reason);
    conn_drop_pending(c);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->fprep))
        uv_close((uv_handle_t *)&c->fprep, conn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->fchk))
        uv_close((uv_handle_t *)&c->fchk, conn_handle_closed);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
    sf_conn *c = req->data;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (status < 0 || c->peer_eof)
        conn_close_hard(c, NULL);
    /* else keep reading until the peer closes or the flush deadline */
}

static void conn_close_graceful(sf_conn *c, const char *reason)
{
    if (c->state == CS_CLOSING)
        return;
    int was = c->state;
    conn_enter_closing(c, reason);
    if (was != CS_HANDSHAKE && was != CS_OPEN) {
        conn_close_hard(c, NULL);
        return;
    }
    conn_flush(c); /* uv_shutdown waits for the writes queued before it */
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return; /* the flush failed and closed it */
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_shutdown_cb) != 0) {
        conn_close_hard(c, NULL);
        return;
    }
    c->shut = 1;
    uv_timer_stop(&c->timer);
    conn_arm(c);
}

/* The peer broke the protocol: log it, then close. */
static void conn_protocol_error(sf_conn *c, const char *what)
{
    net_log(c->net, "closing %s: %s", c->peer, what);
    conn_close_hard(c, what);
}

/* ---- connections: writing ---- */

static void conn_write_cb(uv_write_t *req, int status)
{
    net_wreq *w = (net_wreq *)req;
    sf_conn *c = w->c;
    c->queued -= w->len;
    for (unsigned i = 0; i < w->n; i++)
        free(w->mem[i]);
    free(w);
    if (status < 0 && status != UV_ECANCELED && c->state != CS_CLOSING) {
        char why[128];
        snprintf(why, sizeof why, "write: %s", uv_strerror(status));
        conn_close_hard(c, why);
        return;
    }
    if (c->state == CS_OPEN && c->visible && c->on_drain)
        c->on_drain(c, c->ud);
}

static void conn_hooks_stop(sf_conn *c)
{
    if (!c->hooks_on)
        return;
    c->hooks_on = 0;
    uv_prepare_stop(&c->fprep);
    uv_check_stop(&c->fchk);
}

/* Free the pending segments (hard close: they will never be written). */
static void conn_drop_pending(sf_conn *c)
{
    for (unsigned i = 0; i < c->nsegs; i++) {
        c->queued -= c->segs[i].len;
        sf_buf_free(&c->segs[i]);
    }
    c->nsegs = 0;
    c->tail_open = 0;
    conn_hooks_stop(c);
}

static void conn_prep_cb(uv_prepare_t *h) { conn_flush(h->data); }
static void conn_check_cb(uv_check_t *h) { conn_flush(h->data); }

/* A new, empty segment at the end of the pending output; the hooks run. */
static sf_buf *conn_new_seg(sf_conn *c)
{
    if (c->nsegs == c->capsegs) {
        unsigned cap = c->capsegs ? c->capsegs * 2 : 4;
        sf_buf *p = realloc(c->segs, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "stateflow: out of memory\n");
            abort();
        }
        c->segs = p;
        c->capsegs = cap;
    }
    sf_buf *seg = &c->segs[c->nsegs++];
    sf_buf_init(seg);
    if (!c->hooks_on) {
        c->hooks_on = 1;
        uv_prepare_start(&c->fprep, conn_prep_cb);
        uv_check_start(&c->fchk, conn_check_cb);
    }
    return seg;
}

/* Append copies of p1[0..n1) and p2[0..n2) (one frame) to the pending
 * output, in the open tail segment while it has room. */
static void conn_append(sf_conn *c, const void *p1, size_t n1, const void *p2, size_t n2)
{
    sf_buf *tail;
    if (c->nsegs > 0 && c->tail_open && c->segs[c->nsegs - 1].len + n1 + n2 <= NET_SEG_MAX) {
        tail = &c->segs[c->nsegs - 1];
    } else {
        tail = conn_new_seg(c);
        c->tail_open = 1;
    }
    sf_buf_reserve(tail, n1 + n2);
    sf_buf_append(tail, p1, n1);
    if (n2)
        sf_buf_append(tail, p2, n2);
    c->queued += n1 + n2;
    c->t_send = uv_now(c->net->loop);
}

/* Queue the frames in b (at least one, complete); b is left empty without
 * memory. A small b is copied into an open tail; else its memory becomes a
 * segment (no copy), which takes the next small frames of the turn when it
 * is small itself. */
static void conn_queue_buf(sf_conn *c, sf_buf *b)
{
    size_t len = b->len;
    if (len <= NET_COPY_MAX && c->nsegs > 0 && c->tail_open &&
        c->segs[c->nsegs - 1].len + len <= NET_SEG_MAX) {
        conn_append(c, b->data, len, NULL, 0);
        sf_buf_free(b);
        return;
    }
    sf_buf *seg = conn_new_seg(c);
    *seg = *b; /* moved: the connection owns the memory now */
    sf_buf_init(b);
    c->tail_open = len <= NET_COPY_MAX;
    c->queued += len;
    c->t_send = uv_now(c->net->loop);
}

/* Hand every pending segment to libuv as one write (one writev), in order,
 * and stop the hooks. A failure closes the connection hard. */
static void conn_flush(sf_conn *c)
{
    conn_hooks_stop(c);
    if (c->nsegs == 0)
        return;
    unsigned n = c->nsegs;
    net_wreq *w = malloc(sizeof *w + n * sizeof w->mem[0]);
    uv_buf_t small[8];
    uv_buf_t *bufs = n <= 8 ? small : malloc(n * sizeof *bufs);
    if (!w || !bufs) {
        fprintf(stderr, "stateflow: out of memory\n");
        abort();
    }
    w->c = c;
    w->n = n;
    w->len = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t len;
        w->mem[i] = sf_buf_steal(&c->segs[i], &len);
        bufs[i] = uv_buf_init(w->mem[i], (unsigned)len);
        w->len += len;
    }
    c->nsegs = 0;
    c->tail_open = 0;
    /* libuv copies the array of buffers; their memory stays w's until the callback */
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, conn_write_cb);
    if (bufs != small)
        free(bufs);
    if (r != 0) {
        c->queued -= w->len;
        for (unsigned i = 0; i < n; i++)
            free(w->mem[i]);
        free(w);
        char why[128];
        snprintf(why, sizeof why, "write: %s", uv_strerror(r));
        conn_close_hard(c, why);
    }
}

/* Send a frame of the connection protocol, built by `pack` into b. */
static void conn_write_buf(sf_conn *c, sf_buf *b, size_t at)
{
    char err[128];
    if (sf_frame_end(b, at, err, sizeof err) != 0) {
        sf_buf_free(b);
        return;
    }
    conn_queue_buf(c, b);
}

static void conn_send_hello(sf_conn *c)
{
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    size_t at = sf_frame_begin(&b);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int(&pk, SF_FRAME_HELLO);
    msgpack_pack_unsigned_int(&pk, c->net->version);
    msgpack_pack_bin(&pk, c->net->token_len);
    msgpack_pack_bin_body(&pk, c->net->token, c->net->token_len);
    size_t rl = strlen(c->my_role), ll = strlen(c->my_listen);
    msgpack_pack_str(&pk, rl);
    msgpack_pack_str_body(&pk, c->my_role, rl);
    msgpack_pack_str(&pk, ll);
    msgpack_pack_str_body(&pk, c->my_listen, ll);
    conn_write_buf(c, &b, at);
}

static void conn_send_welcome(sf_conn *c)
{
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    size_t at = sf_frame_begin(&b);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, SF_FRAME_WELCOME);
    msgpack_pack_unsigned_int(&pk, c->net->version);
    conn_write_buf(c, &b, at);
}

static void conn_send_ping(sf_conn *c)
{
    if (c->queued + 8 > c->net->max_queued)
        return; /* a stuck queue gains nothing from more pings */
    sf_buf b;
    sf_buf_init(&b);
    size_t at = sf_frame_begin(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 1); /* [4] */
    msgpack_pack_uint64(&pk, SF_FRAME_PING);
    conn_write_buf(c, &b, at);
}

/* Refuse an accepted peer: log, send REFUSE, close after flushing. */
static void conn_refuse(sf_conn *c, const char *reason)
{
    net_log(c->net, "refused %s: %s", c->peer, reason);
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    size_t at = sf_frame_begin(&b);
    size_t rl = strlen(reason);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, SF_FRAME_REFUSE);
    msgpack_pack_str(&pk, rl);
    msgpack_pack_str_body(&pk, reason, rl);
    conn_write_buf(c, &b, at);
    conn_close_graceful(c, reason);
}

int sf_conn_send(sf_conn *c, const void *payload, size_t len)
{
    if (c->state != CS_OPEN)
        return SF_NET_ECLOSED;
    if (len == 0 || len > SF_FRAME_MAX)
        return SF_NET_ETOOBIG;
    size_t total = SF_FRAME_HDR + len;
    if (c->queued + total > c->net->max_queued)
        return SF_NET_EFULL;
    unsigned char hdr[SF_FRAME_HDR] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                                       (unsigned char)(len >> 8), (unsigned char)len};
    conn_append(c, hdr, sizeof hdr, payload, len);
    return 0;
}

int sf_conn_send_buf(sf_conn *c, sf_buf *b)
{
    if (c->state != CS_OPEN)
        return SF_NET_ECLOSED;
    if (b->len <= SF_FRAME_HDR || b->len > 0xffffffffu)
        return SF_NET_ETOOBIG;
    if (c->queued + b->len > c->net->max_queued)
        return SF_NET_EFULL;
    conn_queue_buf(c, b);
    return 0;
}

/* ---- connections: timer ---- */

static void conn_timer_cb(uv_timer_t *t)
{
    sf_conn *c = t->data;
    sf_net *net = c->net;
    uint64_t now = uv_now(net->loop);
    switch (c->state) {
    case CS_CLOSING:
        conn_close_hard(c, NULL); /* flush deadline */
        return;
    case CS_RESOLVING:
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        if (now - c->t_start >= net->handshake_ms) {
            const char *why = c->state == CS_HANDSHAKE ? "handshake timeout" : "connect timeout";
            net_log(net, "%s %s: %s", c->accepted ? "dropped" : "gave up on", c->peer, why);
            conn_close_hard(c, why);
            return;
        }
        break;
    case CS_OPEN:
        if (c->redeliver) {
            c->redeliver = 0;
            conn_deliver(c);
            if (c->state == CS_CLOSING)
                return;
        }
        if (c->paused)
            c->t_recv = now; /* we are not reading: its silence is ours */
        if (now - c->t_recv >= net->idle_ms) {
            net_log(net, "closing %s: heartbeat timeout", c->peer);
            conn_close_hard(c, "heartbeat timeout");
            return;
        }
        if (now - c->t_send >= net->ping_ms)
            conn_send_ping(c);
        break;
    }
    if (c->state != CS_CLOSING)
        conn_arm(c);
}

/* (Re)start the timer for the next deadline of the current state. */
static void conn_arm(sf_conn *c)
{
    sf_net *net = c->net;
    uint64_t now = uv_now(net->loop), due;
    switch (c->state) {
    case CS_CLOSING:
        due = now + net->flush_ms;
        break;
    case CS_OPEN: {
        uint64_t a = c->t_recv + net->idle_ms, b = c->t_send + net->ping_ms;
        due = a < b ? a : b;
        break;
    }
    default:
        due = c->t_start + net->handshake_ms;
        break;
    }
    uv_timer_start(&c->timer, conn_timer_cb, due > now ? due - now : 1, 0);
}

/* ---- connections: reading ---- */

static void conn_open(sf_conn *c)
{
    c->state = CS_OPEN;
    pending_remove(c);
    c->visible = 1;
    sf_frame_decoder_set_limit(&c->dec, SF_FRAME_MAX);
    uv_timer_stop(&c->timer);
    conn_arm(c);
    if (c->cbs.on_open)
        c->cbs.on_open(c, c->ud);
}

/* Read the next item of a handshake frame; -1 if absent or not `kind`. */
static int hs_item(const sf_frame *f, size_t *pos, int kind, sf_mp_item *it)
{
    if (sf_mp_read(f->payload, f->len, pos, it) != 0 || it->kind != kind)
        return -1;
    return 0;
}

/* Skip [type]: position after the array header and the type. */
static size_t hs_start(const sf_frame *f, uint32_t *count)
{
    size_t pos = 0;
    sf_mp_item it;
    sf_mp_read(f->payload, f->len, &pos, &it); /* checked by the decoder */
    *count = it.n;
    sf_mp_read(f->payload, f->len, &pos, &it);
    return pos;
}

static void conn_on_hello(sf_conn *c, const sf_frame *f)
{
    sf_net *net = c->net;
    uint32_t n;
    size_t pos = hs_start(f, &n);
    sf_mp_item ver, tok, role, listen;
    if (n < 5 || hs_item(f, &pos, SF_MP_INT, &ver) != 0 || hs_item(f, &pos, SF_MP_BIN, &tok) != 0 ||
        hs_item(f, &pos, SF_MP_STR, &role) != 0 || hs_item(f, &pos, SF_MP_STR, &listen) != 0 ||
        role.n > NET_ROLE_MAX || listen.n > NET_LISTEN_MAX) {
        conn_refuse(c, "malformed HELLO");
        return;
    }
    if (ver.v.i != (int64_t)net->version) {
        char why[96];
        snprintf(why, sizeof why, "unsupported protocol version %lld (this node speaks %u)", (long long)ver.v.i,
                 net->version);
        conn_refuse(c, why);
        return;
    }
    if (!token_eq(net, tok.data, tok.n)) {
        conn_refuse(c, "bad cluster token");
        return;
    }
    free(c->role);
    free(c->listen);
    c->role = xstrdup(role.data, role.n);
    c->listen = xstrdup(listen.data, listen.n);
    conn_send_welcome(c);
    if (c->state == CS_CLOSING)
        return;
    conn_open(c);
}

static void conn_on_refuse(sf_conn *c, const sf_frame *f)
{
    uint32_t n;
    size_t pos = hs_start(f, &n);
    sf_mp_item r;
    char text[NET_REASON_MAX - 32];
    if (n >= 2 && hs_item(f, &pos, SF_MP_STR, &r) == 0)
        sanitize(text, sizeof text, r.data, r.n);
    else
        snprintf(text, sizeof text, "(no reason given)");
    char why[NET_REASON_MAX];
    snprintf(why, sizeof why, "refused by peer: %s", text);
    net_log(c->net, "refused by %s: %s", c->peer, text);
    conn_close_hard(c, why);
}

static void conn_on_frame(sf_conn *c, const sf_frame *f)
{
    char why[128];
    if (c->state == CS_HANDSHAKE) {
        if (c->accepted) {
            if (f->type != SF_FRAME_HELLO) {
                snprintf(why, sizeof why, "expected HELLO, got frame type %d", f->type);
                conn_refuse(c, why);
                return;
            }
            conn_on_hello(c, f);
            return;
        }
        if (f->type == SF_FRAME_REFUSE) {
            conn_on_refuse(c, f);
            return;
        }
        if (f->type != SF_FRAME_WELCOME) {
            snprintf(why, sizeof why, "expected WELCOME, got frame type %d", f->type);
            conn_protocol_error(c, why);
            return;
        }
        uint32_t n;
        size_t pos = hs_start(f, &n);
        sf_mp_item ver;
        if (n < 2 || hs_item(f, &pos, SF_MP_INT, &ver) != 0) {
            conn_protocol_error(c, "malformed WELCOME");
            return;
        }
        if (ver.v.i != (int64_t)c->net->version) {
            snprintf(why, sizeof why, "peer answered protocol version %lld", (long long)ver.v.i);
            conn_protocol_error(c, why);
            return;
        }
        conn_open(c);
        return;
    }
    /* CS_OPEN */
    if (f->type >= SF_FRAME_APP_MIN) {
        if (c->cbs.on_frame)
            c->cbs.on_frame(c, f->type, f->payload, f->len, c->ud);
        return;
    }
    switch (f->type) {
    case SF_FRAME_PING:
        return;
    case SF_FRAME_REFUSE:
        conn_on_refuse(c, f);
        return;
    case SF_FRAME_HELLO:
    case SF_FRAME_WELCOME:
        snprintf(why, sizeof why, "unexpected %s after the handshake", f->type == SF_FRAME_HELLO ? "HELLO" : "WELCOME");
        conn_protocol_error(c, why);
        return;
    default:
        snprintf(why, sizeof why, "unknown frame type %d", f->type);
        conn_protocol_error(c, why);
        return;
    }
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sf_conn *c = h->data;
    size_t avail;
    char *p = sf_frame_decoder_reserve(&c->dec, NET_READ_CHUNK, &avail);
    if (avail > 0x7fffffffu)
        avail = 0x7fffffffu;
    *buf = uv_buf_init(p, (unsigned)avail);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    sf_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (c->state == CS_CLOSING) {
            c->peer_eof = 1;
            uv_read_stop(s);
            if (!c->shut || c->queued == 0)
                conn_close_hard(c, NULL);
            return;
        }
        if (nread == UV_EOF) {
            conn_close_hard(c, c->state == CS_OPEN ? "closed by peer" : "closed by peer during handshake");
        } else {
            char why[128];
            snprintf(why, sizeof why, "read: %s", uv_strerror((int)nread));
            conn_close_hard(c, why);
        }
        return;
    }
    sf_frame_decoder_wrote(&c->dec, (size_t)nread);
    c->t_recv = uv_now(c->net->loop);
    if (c->state == CS_CLOSING) {
        c->dec.off = c->dec.buf.len; /* discard */
        return;
    }
    conn_deliver(c);
}

/* Deliver the complete frames received, unless paused. */
static void conn_deliver(sf_conn *c)
{
    sf_frame f;
    int r = 0;
    while (c->state != CS_CLOSING && !c->paused && (r = sf_frame_decoder_next(&c->dec, &f)) == 1)
        conn_on_frame(c, &f);
    if (c->state != CS_CLOSING && r < 0)
        conn_protocol_error(c, sf_frame_decoder_error(&c->dec));
}

void sf_conn_pause(sf_conn *c, int paused)
{
    paused = paused != 0;
    if (c->state != CS_OPEN || c->paused == paused)
        return;
    c->paused = paused;
    if (paused) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    c->t_recv = uv_now(c->net->loop);
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) != 0) {
        conn_close_hard(c, "read failed");
        return;
    }
    /* frames that arrived before the pause are delivered from the loop,
     * never from inside this call */
    c->redeliver = 1;
    uv_timer_start(&c->timer, conn_timer_cb, 0, 0);
}

int sf_conn_paused(const sf_conn *c) { return c->paused; }

void sf_conn_set_drain(sf_conn *c, void (*on_drain)(sf_conn *c, void *ud)) { c->on_drain = on_drain; }

/* ---- connections: creation ---- */

static sf_conn *conn_new(sf_net *net, const sf_conn_callbacks *cbs, void *ud)
{
    sf_conn *c = xcalloc(sizeof *c);
    c->net = net;
    if (cbs)
        c->cbs = *cbs;
    c->ud = ud;
    c->state = CS_HANDSHAKE;
    sf_frame_decoder_init(&c->dec);
    sf_frame_decoder_set_limit(&c->dec, NET_HANDSHAKE_FRAME_MAX);
    c->t_start = c->t_recv = c->t_send = uv_now(net->loop);
    uv_tcp_init(net->loop, &c->tcp);
    uv_timer_init(net->loop, &c->timer);
    uv_prepare_init(net->loop, &c->fprep);
    uv_check_init(net->loop, &c->fchk);
    c->tcp.data = c;
    c->timer.data = c;
    c->fprep.data = c;
    c->fchk.data = c;
    c->handles = 4;
    c->next = net->conns;
    if (net->conns)
        net->conns->prev = c;
    net->conns = c;
    return c;
}

static void conn_set_peer(sf_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
    snprintf(c->addr, sizeof c->addr, "%s", c->peer);
    char *colon = strrchr(c->addr, ':');
    if (colon)
        *colon = '\0';
}

static void conn_connect_cb(uv_connect_t *req, int status)
{
    sf_conn *c = req->data;
    if (status == UV_ECANCELED || c->state == CS_CLOSING)
        return;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "connect to %s: %s", c->peer, uv_strerror(status));
        conn_close_hard(c, why);
        return;
    }
    conn_set_peer(c);
    c->state = CS_HANDSHAKE;
    c->t_recv = uv_now(c->net->loop);
    uv_tcp_nodelay(&c->tcp, 1);
    int r = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
    if (r != 0) {
        char why[128];
        snprintf(why, sizeof why, "read: %s", uv_strerror(r));
        conn_close_hard(c, why);
        return;
    }
    conn_send_hello(c);
}

static int conn_start_connect(sf_conn *c, const struct sockaddr *sa)
{
    c->state = CS_CONNECTING;
    c->connect_req.data = c;
    return uv_tcp_connect(&c->connect_req, &c->tcp, sa, conn_connect_cb);
}

static void conn_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sf_conn *c = req->data;
    c->gai_active = 0;
    if (c->state == CS_CLOSING) {
        if (res)
            uv_freeaddrinfo(res);
        conn_maybe_free(c);
        return;
    }
    if (status < 0 || !res) {
        char why[160];
        snprintf(why, sizeof why, "resolve %s: %s", c->host, uv_strerror(status));
        if (res)
            uv_freeaddrinfo(res);
        conn_close_hard(c, why);
        return;
    }
    /* one attempt: the first IPv4 address if there is one (a cluster name
     * like "localhost" usually means 127.0.0.1), else the first address */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    int r = conn_start_connect(c, pick->ai_addr);
    uv_freeaddrinfo(res);
    if (r != 0) {
        char why[160];
        snprintf(why, sizeof why, "connect to %s: %s", c->peer, uv_strerror(r));
        conn_close_hard(c, why);
    }
}

int sf_net_connect(sf_net *net, const char *host, int port, const char *role, const char *my_listen_addr,
                   const sf_conn_callbacks *cbs, void *ud, sf_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!host || !*host || port <= 0 || port > 65535) {
        sf_set_err(err, errlen, "connect: bad address %s:%d", host ? host : "(null)", port);
        return -1;
    }
    if (!role)
        role = "";
    if (!my_listen_addr)
        my_listen_addr = "";
    if (strlen(role) > NET_ROLE_MAX || strlen(my_listen_addr) > NET_LISTEN_MAX) {
        sf_set_err(err, errlen, "connect: role or listen address too long");
        return -1;
    }
    sf_conn *c = conn_new(net, cbs, ud);
    c->state = CS_RESOLVING;
    c->port = port;
    c->host = xstrdup(host, strlen(host));
    c->my_role = xstrdup(role, strlen(role));
    c->my_listen = xstrdup(my_listen_addr, strlen(my_listen_addr));
    snprintf(c->peer, sizeof c->peer, strchr(host, ':') ? "[%.60s]:%d" : "%.60s:%d", host, port);
    struct sockaddr_storage ss;
    int r;
    if (parse_addr(host, port, &ss) == 0) {
        r = conn_start_connect(c, (struct sockaddr *)&ss);
    } else {
        char service[16];
        snprintf(service, sizeof service, "%d", port);
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        c->gai_req.data = c;
        r = uv_getaddrinfo(net->loop, &c->gai_req, conn_gai_cb, host, service, &hints);
        if (r == 0)
            c->gai_active = 1;
    }
    if (r != 0) {
        sf_set_err(err, errlen, "connect to %s: %s", c->peer, uv_strerror(r));
        conn_close_hard(c, "connect failed"); /* never visible: no on_close */
        return -1;
    }
    conn_arm(c);
    c->visible = 1;
    *out = c;
    return 0;
}

void sf_conn_close(sf_conn *c, const char *reason) { conn_close_graceful(c, reason ? reason : "closed"); }

void *sf_conn_data(const sf_conn *c) { return c->ud; }
void sf_conn_set_data(sf_conn *c, void *ud) { c->ud = ud; }
const char *sf_conn_peer(const sf_conn *c) { return c->peer; }
const char *sf_conn_role(const sf_conn *c) { return c->role ? c->role : ""; }
const char *sf_conn_peer_listen(const sf_conn *c) { return c->listen ? c->listen : ""; }
int sf_conn_accepted(const sf_conn *c) { return c->accepted; }
size_t sf_conn_queued(const sf_conn *c) { return c->queued; }

/* ---- listeners ---- */

static void listener_closed(uv_handle_t *h)
{
    sf_listener *l = h->data;
    sf_net *net = l->net;
    if (l->prev)
        l->prev->next = l->next;
    else
        net->listeners = l->next;
    if (l->next)
        l->next->prev = l->prev;
    free(l);
}

static void listener_conn_cb(uv_stream_t *server, int status)
{
    sf_listener *l = server->data;
    sf_net *net = l->net;
    if (status < 0) {
        net_log(net, "accept on port %d: %s", l->port, uv_strerror(status));
        return;
    }
    sf_conn *c = conn_new(net, &l->cbs, l->ud);
    c->accepted = 1;
    int r = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (r != 0) {
        net_log(net, "accept on port %d: %s", l->port, uv_strerror(r));
        conn_close_hard(c, "accept failed");
        return;
    }
    conn_set_peer(c);
    /* Handshake slots must not be held against authenticated clients: a
     * newcomer takes the slot of the oldest connection still in handshake
     * from its own address when that address has max_pending_per_addr of
     * them, else of the oldest of all when every slot is taken. A real
     * client says HELLO at once and is through long before it would be the
     * oldest; silent ones give way (and time out after handshake_ms). */
    unsigned same = 0;
    sf_conn *oldest_same = NULL;
    for (sf_conn *p = net->pend_head; p; p = p->pnext)
        if (strcmp(p->addr, c->addr) == 0) {
            if (!oldest_same)
                oldest_same = p;
            same++;
        }
    sf_conn *evict = NULL;
    const char *why = NULL;
    if (same >= net->max_pending_per_addr) {
        evict = oldest_same;
        why = "too many connections in handshake from one address";
    } else if (net->pending >= net->max_pending) {
        evict = net->pend_head;
        why = "too many connections in handshake";
    }
    if (evict) {
        net_log(net, "dropped %s: %s (the oldest gives way)", evict->peer, why);
        conn_close_hard(evict, why);
    }
    pending_add(c);
    uv_tcp_nodelay(&c->tcp, 1);
    r = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
    if (r != 0) {
        net_log(net, "dropped %s: read: %s", c->peer, uv_strerror(r));
        conn_close_hard(c, "read failed");
        return;
    }
    conn_arm(c);
}

int sf_net_listen(sf_net *net, const char *host, int port, const sf_conn_callbacks *cbs, void *ud, sf_listener **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    if (!host || port < 0 || port > 65535 || parse_addr(host, port, &ss) != 0) {
        sf_set_err(err, errlen, "listen: bad address %s:%d (want a numeric IPv4 or IPv6 address)",
                host ? host : "(null)", port);
        return -1;
    }
    sf_listener *l = xcalloc(sizeof *l);
    l->net = net;
    if (cbs)
        l->cbs = *cbs;
    l->ud = ud;
    uv_tcp_init(net->loop, &l->tcp);
    l->tcp.data = l;
    l->next = net->listeners;
    if (net->listeners)
        net->listeners->prev = l;
    net->listeners = l;
    int r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->tcp, 128, listener_conn_cb);
    if (r == 0) {
        struct sockaddr_storage bound;
        int len = sizeof bound;
        r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &len);
        if (r == 0)
            l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (r != 0) {
        sf_set_err(err, errlen, "listen on %s:%d: %s", host, port, uv_strerror(r));
        sf_listener_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

int sf_listener_port(const sf_listener *l) { return l->port; }

void sf_listener_close(sf_listener *l)
{
    if (l->closing)
        return;
    l->closing = 1;
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
}
