/* test_net.c: runtime/wire/net.c on one libuv loop in one process: a listener
 * on net A, connectors on net B (or raw uv_tcp clients speaking bytes).
 * Handshake and peer info; wrong token and wrong version refused and logged;
 * garbage, unknown types, non-HELLO first frames and oversized lengths close
 * only that connection; frames written one byte at a time; handshake and
 * heartbeat timeouts with short intervals while pings keep a quiet pair
 * alive; pipelined frames in order; the queue cap; flushing on close;
 * coalesced output (many small and large frames sent in one loop turn
 * arrive complete and in order, and are written by the next turn; a peer
 * that stops reading meets the cap and the drain callback, not unbounded
 * memory; closing, gracefully or hard, with frames still pending);
 * closing from callbacks; connect errors; name resolution; clean shutdown
 * (every test ends with uv_loop_close() succeeding: no handle leaked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "mpread.h"
#include "net.h"

#define TOKEN "secret-cluster-token"
#define MAX_PEERS 8

/* ---- fixture ------------------------------------------------------------- */

typedef struct peer {
    sf_conn *conn;
    int opened, closed;
    char reason[256];
    int frames;
    int next_seq; /* frames [10, seq] must come with seq 0, 1, 2, ... */
    int order_bad;
    int last_type;
    int drained;  /* on_drain calls */
    sf_buf last;
    const char *close_on_frame; /* sf_conn_close(c, this) on the first frame */
    struct fx *close_all_on_frame;
} peer;

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    int expired;
    sf_net *a, *b;
    sf_listener *l;
    int port;
    peer srv[MAX_PEERS]; /* connections accepted by A, in order */
    int nsrv;
    peer cli[MAX_PEERS];
    sf_buf log_a, log_b;
    int send_on_open; /* srv_open sends [10, 0..n-1] at once */
} fx;

typedef struct opts {
    unsigned ping_ms, idle_ms, handshake_ms;
    unsigned max_pending, max_pending_per_addr, log_per_sec; /* net A */
    size_t max_queued_b;
    unsigned version_b;
    const char *token_b;
} opts;

static void log_cb(void *ud, const char *line)
{
    sf_buf *b = ud;
    sf_buf_puts(b, line);
    sf_buf_putc(b, '\n');
}

static void note_frame(peer *p, int type, const char *payload, size_t len)
{
    p->frames++;
    p->last_type = type;
    sf_buf_reset(&p->last);
    sf_buf_append(&p->last, payload, len);
    if (type == 10) {
        size_t pos = 0;
        sf_mp_item it;
        sf_mp_read(payload, len, &pos, &it);
        sf_mp_read(payload, len, &pos, &it);
        if (sf_mp_read(payload, len, &pos, &it) == 0 && it.kind == SF_MP_INT) {
            if (it.v.i != p->next_seq)
                p->order_bad = 1;
            p->next_seq++;
        }
    }
}

static void peer_frame(sf_conn *c, int type, const char *payload, size_t len, void *ud)
{
    peer *p = ud;
    note_frame(p, type, payload, len);
    if (p->close_on_frame && p->frames == 1)
        sf_conn_close(c, p->close_on_frame);
    if (p->close_all_on_frame && p->frames == 1) {
        sf_net_close_all(p->close_all_on_frame->a);
        sf_net_close_all(p->close_all_on_frame->b);
    }
}

static void peer_close(sf_conn *c, const char *reason, void *ud)
{
    peer *p = ud;
    p->closed++;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->conn = NULL;
}

static int send_seq(sf_conn *c, int seq, size_t pad);

static void peer_drain(sf_conn *c, void *ud)
{
    (void)c;
    peer *p = ud;
    p->drained++;
}

static void cli_open(sf_conn *c, void *ud)
{
    peer *p = ud;
    p->opened++;
}

static void srv_open(sf_conn *c, void *ud)
{
    fx *f = ud;
    assert_true(f->nsrv < MAX_PEERS);
    peer *p = &f->srv[f->nsrv++];
    p->conn = c;
    p->opened++;
    sf_conn_set_data(c, p);
    for (int i = 0; i < f->send_on_open; i++)
        assert_int_equal(send_seq(c, i, 0), 0);
}

static const sf_conn_callbacks srv_cbs = {srv_open, peer_frame, peer_close};
static const sf_conn_callbacks cli_cbs = {cli_open, peer_frame, peer_close};

static void guard_cb(uv_timer_t *t)
{
    fx *f = t->data;
    f->expired = 1;
}

/* Run the loop until cond holds or ms pass. */
#define RUN_UNTIL(f, cond, ms)                                                                                         \
    do {                                                                                                               \
        (f)->expired = 0;                                                                                              \
        uv_timer_start(&(f)->guard, guard_cb, (ms), 0);                                                                \
        while (!(cond) && !(f)->expired)                                                                               \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                                           \
        uv_timer_stop(&(f)->guard);                                                                                    \
    } while (0)

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->guard);
    f->guard.data = f;
    sf_buf_init(&f->log_a);
    sf_buf_init(&f->log_b);
    for (int i = 0; i < MAX_PEERS; i++) {
        sf_buf_init(&f->srv[i].last);
        sf_buf_init(&f->cli[i].last);
    }
    *state = f;
    return 0;
}

static void fx_start(fx *f, const opts *o)
{
    static const opts defaults = {0};
    if (!o)
        o = &defaults;
    char err[256] = "";
    sf_net_config ca = {
        .loop = &f->loop,
        .token = TOKEN,
        .token_len = strlen(TOKEN),
        .ping_ms = o->ping_ms,
        .idle_timeout_ms = o->idle_ms,
        .handshake_ms = o->handshake_ms,
        .flush_ms = 300,
        .log = log_cb,
        .log_ud = &f->log_a,
    };
    sf_net_config cb = ca;
    ca.max_pending = o->max_pending;
    ca.max_pending_per_addr = o->max_pending_per_addr;
    ca.log_per_sec = o->log_per_sec;
    cb.log_ud = &f->log_b;
    cb.max_queued = o->max_queued_b;
    cb.version = o->version_b;
    if (o->token_b) {
        cb.token = o->token_b;
        cb.token_len = strlen(o->token_b);
    }
    assert_int_equal(sf_net_new(&ca, &f->a, err, sizeof err), 0);
    assert_int_equal(sf_net_new(&cb, &f->b, err, sizeof err), 0);
    if (sf_net_listen(f->a, "127.0.0.1", 0, &srv_cbs, f, &f->l, err, sizeof err) != 0)
        fail_msg("%s", err);
    f->port = sf_listener_port(f->l);
    assert_true(f->port > 0);
}

static sf_conn *fx_connect(fx *f, int i)
{
    char err[256] = "";
    sf_conn *c = NULL;
    if (sf_net_connect(f->b, "127.0.0.1", f->port, "worker", "127.0.0.1:7001", &cli_cbs, &f->cli[i], &c, err,
                       sizeof err) != 0)
        fail_msg("%s", err);
    f->cli[i].conn = c;
    return c;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->a)
        sf_net_close_all(f->a);
    if (f->b)
        sf_net_close_all(f->b);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(sf_net_free(f->a), 0);
    assert_int_equal(sf_net_free(f->b), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left behind */
    /* every connection the application saw was closed exactly once */
    for (int i = 0; i < MAX_PEERS; i++) {
        if (f->srv[i].opened)
            assert_int_equal(f->srv[i].closed, 1);
        if (f->cli[i].conn || f->cli[i].opened)
            assert_int_equal(f->cli[i].closed, 1);
        sf_buf_free(&f->srv[i].last);
        sf_buf_free(&f->cli[i].last);
    }
    sf_buf_free(&f->log_a);
    sf_buf_free(&f->log_b);
    free(f);
    return 0;
}

static const char *logtext(sf_buf *b) { return b->data ? b->data : ""; }

#define ASSERT_CONTAINS(hay, needle)                                                                                   \
    do {                                                                                                               \
        if (!strstr((hay), (needle)))                                                                                  \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                                                   \
    } while (0)

/* ---- frames to send -------------------------------------------------------- */

/* [10, seq] or [10, seq, <pad bytes>] */
static void pack_seq(sf_buf *b, int seq, size_t pad)
{
    msgpack_packer pk;
    sf_frame_packer_init(&pk, b);
    msgpack_pack_array(&pk, pad ? 3 : 2);
    msgpack_pack_int(&pk, 10);
    msgpack_pack_int(&pk, seq);
    if (pad) {
        msgpack_pack_bin(&pk, pad);
        sf_buf_reserve(b, pad);
        memset(b->data + b->len, 'x', pad);
        b->len += pad;
    }
}

static int send_seq(sf_conn *c, int seq, size_t pad)
{
    sf_buf b;
    sf_buf_init(&b);
    pack_seq(&b, seq, pad);
    int r = sf_conn_send(c, b.data, b.len);
    sf_buf_free(&b);
    return r;
}

static void frame_hello(sf_buf *b, unsigned version, const char *token, const char *role)
{
    msgpack_packer pk;
    sf_frame_packer_init(&pk, b);
    size_t at = sf_frame_begin(b);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_unsigned_int(&pk, version);
    msgpack_pack_bin_with_body(&pk, token, strlen(token));
    msgpack_pack_str_with_body(&pk, role, strlen(role));
    msgpack_pack_str_with_body(&pk, "", 0);
    char err[128];
    assert_int_equal(sf_frame_end(b, at, err, sizeof err), 0);
}

/* ---- a raw TCP client ------------------------------------------------------ */

typedef struct raw {
    uv_tcp_t tcp;
    uv_connect_t creq;
    int connected, eof, closed;
    sf_buf got;
    char rbuf[65536];
} raw;

static void raw_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    raw *r = h->data;
    *buf = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    raw *r = s->data;
    if (n > 0)
        sf_buf_append(&r->got, buf->base, (size_t)n);
    else if (n < 0)
        r->eof = 1;
}

static void raw_connected(uv_connect_t *req, int status)
{
    raw *r = req->data;
    assert_int_equal(status, 0);
    r->connected = 1;
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static raw *raw_open(fx *f)
{
    raw *r = calloc(1, sizeof *r);
    assert_non_null(r);
    sf_buf_init(&r->got);
    uv_tcp_init(&f->loop, &r->tcp);
    uv_tcp_nodelay(&r->tcp, 1);
    r->tcp.data = r;
    r->creq.data = r;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", f->port, &sa);
    assert_int_equal(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, raw_connected), 0);
    RUN_UNTIL(f, r->connected, 2000);
    assert_true(r->connected);
    return r;
}

static void raw_write(raw *r, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&r->tcp, &b, 1);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void raw_closed(uv_handle_t *h)
{
    raw *r = h->data;
    r->closed = 1;
}

static void raw_close(fx *f, raw *r)
{
    uv_close((uv_handle_t *)&r->tcp, raw_closed);
    RUN_UNTIL(f, r->closed, 2000);
    assert_true(r->closed);
    sf_buf_free(&r->got);
    free(r);
}

/* A raw client that has completed the handshake. */
static raw *raw_hello(fx *f)
{
    raw *r = raw_open(f);
    sf_buf b;
    sf_buf_init(&b);
    frame_hello(&b, 1, TOKEN, "client");
    raw_write(r, b.data, b.len);
    sf_buf_free(&b);
    RUN_UNTIL(f, r->got.len >= 7, 2000);
    assert_memory_equal(r->got.data, "\0\0\0\x03\x92\x02\x01", 7); /* WELCOME [2, 1] */
    return r;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_handshake_ok(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    assert_int_equal(sf_conn_send(c, "\x91\x0a", 2), SF_NET_ECLOSED); /* not open yet */
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    assert_int_equal(f->cli[0].opened, 1);
    assert_int_equal(f->nsrv, 1);
    sf_conn *s = f->srv[0].conn;
    assert_string_equal(sf_conn_role(s), "worker");
    assert_string_equal(sf_conn_peer_listen(s), "127.0.0.1:7001");
    assert_int_equal(sf_conn_accepted(s), 1);
    assert_int_equal(sf_conn_accepted(c), 0);
    assert_string_equal(sf_conn_role(c), "");
    assert_ptr_equal(sf_conn_data(s), &f->srv[0]);
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", f->port);
    assert_string_equal(sf_conn_peer(c), want);
    assert_true(strncmp(sf_conn_peer(s), "127.0.0.1:", 10) == 0);

    /* a frame each way */
    assert_int_equal(sf_conn_send(c, "\x92\x0a\xa2hi", 5), 0);
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    size_t at = sf_frame_begin(&b);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 17);
    char err[128];
    assert_int_equal(sf_frame_end(&b, at, err, sizeof err), 0);
    assert_int_equal(sf_conn_send_buf(s, &b), 0);
    assert_int_equal(b.len, 0);
    sf_buf_free(&b);
    RUN_UNTIL(f, f->srv[0].frames == 1 && f->cli[0].frames == 1, 2000);
    assert_int_equal(f->srv[0].last_type, 10);
    assert_int_equal(f->srv[0].last.len, 5);
    assert_memory_equal(f->srv[0].last.data, "\x92\x0a\xa2hi", 5);
    assert_int_equal(f->cli[0].last_type, 17);

    /* close: our reason on our side, the peer sees it go */
    sf_conn_close(c, "bye");
    sf_conn_close(c, "ignored second close");
    assert_int_equal(sf_conn_send(c, "\x91\x0a", 2), SF_NET_ECLOSED);
    assert_int_equal(f->cli[0].closed, 0); /* never inside sf_conn_close */
    RUN_UNTIL(f, f->cli[0].closed && f->srv[0].closed, 2000);
    assert_string_equal(f->cli[0].reason, "bye");
    assert_string_equal(f->srv[0].reason, "closed by peer");
    assert_string_equal(logtext(&f->log_a), "");
    assert_string_equal(logtext(&f->log_b), "");
}

static void test_wrong_token(void **state)
{
    fx *f = *state;
    opts o = {.token_b = "not-the-token"};
    fx_start(f, &o);
    fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].closed, 2000);
    assert_int_equal(f->cli[0].opened, 0);
    assert_string_equal(f->cli[0].reason, "refused by peer: bad cluster token");
    assert_int_equal(f->nsrv, 0); /* the acceptor's application never saw it */
    ASSERT_CONTAINS(logtext(&f->log_a), "refused 127.0.0.1:");
    ASSERT_CONTAINS(logtext(&f->log_a), ": bad cluster token\n");
    char want[64];
    snprintf(want, sizeof want, "refused by 127.0.0.1:%d: bad cluster token", f->port);
    ASSERT_CONTAINS(logtext(&f->log_b), want);

    /* a token that is a prefix of the right one, and an empty one */
    raw *r = raw_open(f);
    sf_buf b;
    sf_buf_init(&b);
    frame_hello(&b, 1, "secret", "worker");
    frame_hello(&b, 1, "", "worker");
    raw_write(r, b.data, b.len);
    sf_buf_free(&b);
    RUN_UNTIL(f, r->eof, 2000);
    assert_true(r->eof);
    /* REFUSE [3, "bad cluster token"] and nothing after it */
    assert_int_equal(r->got.len, 4 + 2 + 18);
    assert_memory_equal(r->got.data + 4, "\x92\x03\xb1" "bad cluster token", 20);
    raw_close(f, r);
    assert_int_equal(f->nsrv, 0);
}

static void test_wrong_version(void **state)
{
    fx *f = *state;
    opts o = {.version_b = 2};
    fx_start(f, &o);
    fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].closed, 2000);
    assert_int_equal(f->cli[0].opened, 0);
    ASSERT_CONTAINS(f->cli[0].reason, "refused by peer: unsupported protocol version 2");
    ASSERT_CONTAINS(logtext(&f->log_a), "unsupported protocol version 2");
    assert_int_equal(f->nsrv, 0);
}

static void test_garbage_closes_only_that_connection(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);

    /* HTTP on the cluster port */
    raw *r = raw_open(f);
    raw_write(r, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    RUN_UNTIL(f, r->eof, 2000);
    assert_true(r->eof);
    assert_int_equal(r->got.len, 0);
    raw_close(f, r);
    ASSERT_CONTAINS(logtext(&f->log_a), "closing 127.0.0.1:");
    ASSERT_CONTAINS(logtext(&f->log_a), "over the 4096 byte limit");

    /* an application frame instead of HELLO: REFUSE, then closed */
    r = raw_open(f);
    raw_write(r, "\0\0\0\x02\x91\x0a", 6);
    RUN_UNTIL(f, r->eof, 2000);
    ASSERT_CONTAINS(logtext(&f->log_a), "expected HELLO, got frame type 10");
    assert_true(r->got.len > 4);
    assert_memory_equal(r->got.data + 4, "\x92\x03", 2);
    raw_close(f, r);

    /* after the handshake: bad msgpack, then an unknown protocol type */
    r = raw_hello(f);
    assert_int_equal(f->nsrv, 2);
    raw_write(r, "\0\0\0\x03\x92\x0a\xc1", 7);
    RUN_UNTIL(f, r->eof && f->srv[1].closed, 2000);
    ASSERT_CONTAINS(f->srv[1].reason, "bad frame payload: invalid msgpack byte 0xc1");
    ASSERT_CONTAINS(logtext(&f->log_a), "invalid msgpack byte 0xc1");
    raw_close(f, r);

    r = raw_hello(f);
    raw_write(r, "\0\0\0\x02\x91\x05", 6);
    RUN_UNTIL(f, r->eof && f->srv[2].closed, 2000);
    assert_string_equal(f->srv[2].reason, "unknown frame type 5");
    raw_close(f, r);

    r = raw_hello(f);
    sf_buf b;
    sf_buf_init(&b);
    frame_hello(&b, 1, TOKEN, "client");
    raw_write(r, b.data, b.len);
    sf_buf_free(&b);
    RUN_UNTIL(f, r->eof && f->srv[3].closed, 2000);
    assert_string_equal(f->srv[3].reason, "unexpected HELLO after the handshake");
    raw_close(f, r);

    /* the good connection is untouched */
    assert_int_equal(f->srv[0].closed, 0);
    assert_int_equal(f->cli[0].closed, 0);
    assert_int_equal(send_seq(c, 0, 0), 0);
    assert_int_equal(send_seq(f->srv[0].conn, 0, 0), 0);
    RUN_UNTIL(f, f->srv[0].frames == 1 && f->cli[0].frames == 1, 2000);
    assert_int_equal(f->srv[0].frames, 1);
    assert_int_equal(f->cli[0].frames, 1);
}

static void test_oversized_length(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    raw *r = raw_hello(f);
    /* 16 MiB + 1 announced: dropped at the header, before any payload */
    raw_write(r, "\x01\x00\x00\x01\x92", 5);
    RUN_UNTIL(f, r->eof && f->srv[0].closed, 2000);
    assert_string_equal(f->srv[0].reason, "frame length 16777217 over the 16777216 byte limit");
    ASSERT_CONTAINS(logtext(&f->log_a), "frame length 16777217 over the 16777216 byte limit");
    raw_close(f, r);

    r = raw_hello(f);
    raw_write(r, "\0\0\0\0", 4);
    RUN_UNTIL(f, r->eof && f->srv[1].closed, 2000);
    assert_string_equal(f->srv[1].reason, "frame length 0");
    raw_close(f, r);

    /* before the handshake the limit is small */
    r = raw_open(f);
    raw_write(r, "\0\0\x10\x01", 4);
    RUN_UNTIL(f, r->eof, 2000);
    ASSERT_CONTAINS(logtext(&f->log_a), "frame length 4097 over the 4096 byte limit");
    raw_close(f, r);
    assert_int_equal(f->nsrv, 2);
}

static void test_bytewise(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    raw *r = raw_open(f);
    sf_buf b;
    sf_buf_init(&b);
    frame_hello(&b, 1, TOKEN, "client");
    for (int i = 0; i < 20; i++) {
        size_t at = sf_frame_begin(&b);
        pack_seq(&b, i, (size_t)(i % 3) * 40);
        char err[128];
        assert_int_equal(sf_frame_end(&b, at, err, sizeof err), 0);
    }
    for (size_t i = 0; i < b.len; i++) {
        raw_write(r, b.data + i, 1);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    sf_buf_free(&b);
    RUN_UNTIL(f, f->nsrv == 1 && f->srv[0].frames == 20, 2000);
    assert_int_equal(f->srv[0].frames, 20);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_string_equal(sf_conn_role(f->srv[0].conn), "client");
    assert_memory_equal(r->got.data, "\0\0\0\x03\x92\x02\x01", 7);
    raw_close(f, r);
    RUN_UNTIL(f, f->srv[0].closed, 2000);
    assert_string_equal(f->srv[0].reason, "closed by peer");
}

static void test_timeouts(void **state)
{
    fx *f = *state;
    opts o = {.ping_ms = 30, .idle_ms = 200, .handshake_ms = 200};
    fx_start(f, &o);
    fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);

    raw *quiet = raw_hello(f);  /* handshakes, then says nothing */
    raw *mute = raw_open(f);    /* never even says HELLO */
    uint64_t t0 = uv_now(&f->loop);
    RUN_UNTIL(f, quiet->eof && mute->eof, 2000);
    uint64_t dt = uv_now(&f->loop) - t0;
    assert_true(quiet->eof && mute->eof);
    assert_true(dt >= 100 && dt < 1000);
    assert_int_equal(f->srv[1].closed, 1);
    assert_string_equal(f->srv[1].reason, "heartbeat timeout");
    ASSERT_CONTAINS(logtext(&f->log_a), ": heartbeat timeout");
    ASSERT_CONTAINS(logtext(&f->log_a), ": handshake timeout");
    /* the quiet raw client got pings: [4] frames after WELCOME */
    assert_true(quiet->got.len >= 7 + 6);
    assert_memory_equal(quiet->got.data + 7, "\0\0\0\x02\x91\x04", 6);
    raw_close(f, quiet);
    raw_close(f, mute);

    /* the idle but healthy pair survives on pings alone */
    f->expired = 0;
    RUN_UNTIL(f, f->cli[0].closed, 500);
    assert_int_equal(f->cli[0].closed, 0);
    assert_int_equal(f->srv[0].closed, 0);
    assert_int_equal(f->cli[0].frames, 0); /* pings are not delivered */
    assert_int_equal(f->srv[0].frames, 0);
}

static void test_pipelined(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    enum { N = 20000, M = 1000 };
    for (int i = 0; i < N; i++)
        assert_int_equal(send_seq(c, i, (size_t)(i % 7) * 13), 0);
    /* a batch of frames in one buffer */
    sf_buf b;
    sf_buf_init(&b);
    char err[128];
    for (int i = N; i < N + M; i++) {
        size_t at = sf_frame_begin(&b);
        pack_seq(&b, i, 0);
        assert_int_equal(sf_frame_end(&b, at, err, sizeof err), 0);
    }
    assert_int_equal(sf_conn_send_buf(c, &b), 0);
    sf_buf_free(&b);
    assert_true(sf_conn_queued(c) > 0);
    /* a large frame too */
    assert_int_equal(send_seq(c, N + M, 3u << 20), 0);
    RUN_UNTIL(f, f->srv[0].frames == N + M + 1, 4000);
    assert_int_equal(f->srv[0].frames, N + M + 1);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_int_equal(f->srv[0].last.len, (3u << 20) + 10);
    RUN_UNTIL(f, sf_conn_queued(c) == 0, 2000);
    assert_int_equal(sf_conn_queued(c), 0);
}

static void test_queue_cap_and_errors(void **state)
{
    fx *f = *state;
    opts o = {.max_queued_b = 1000};
    fx_start(f, &o);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    /* 100-byte payloads, 104 bytes framed: nine fit under 1000 */
    int ok = 0, r;
    while ((r = send_seq(c, ok, 100 - 5)) == 0)
        ok++;
    assert_int_equal(r, SF_NET_EFULL);
    assert_int_equal(ok, 9);
    assert_int_equal(sf_conn_queued(c), 9 * 104);
    assert_int_equal(sf_conn_send(c, "", 0), SF_NET_ETOOBIG);
    assert_int_equal(sf_conn_send(c, "\x91\x0a", (size_t)SF_FRAME_MAX + 1), SF_NET_ETOOBIG);
    sf_buf empty;
    sf_buf_init(&empty);
    assert_int_equal(sf_conn_send_buf(c, &empty), SF_NET_ETOOBIG);
    RUN_UNTIL(f, f->srv[0].frames == 9, 2000);
    assert_int_equal(f->srv[0].order_bad, 0);
    RUN_UNTIL(f, sf_conn_queued(c) == 0, 2000);
    assert_int_equal(send_seq(c, 9, 100 - 5), 0); /* room again */
    RUN_UNTIL(f, f->srv[0].frames == 10, 2000);
    assert_int_equal(f->srv[0].frames, 10);
}

static void test_close_flushes(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(send_seq(c, i, 200), 0);
    sf_conn_close(c, "done sending");
    RUN_UNTIL(f, f->cli[0].closed && f->srv[0].closed, 3000);
    assert_int_equal(f->srv[0].frames, 5000);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_string_equal(f->srv[0].reason, "closed by peer");
    assert_string_equal(f->cli[0].reason, "done sending");
}

static void test_close_from_callbacks(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    /* the server closes a connection from inside on_frame: later frames of
     * the same read are not delivered */
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    f->srv[0].close_on_frame = "seen enough";
    for (int i = 0; i < 10; i++)
        assert_int_equal(send_seq(c, i, 0), 0);
    RUN_UNTIL(f, f->cli[0].closed && f->srv[0].closed, 2000);
    assert_int_equal(f->srv[0].frames, 1);
    assert_string_equal(f->srv[0].reason, "seen enough");
    assert_string_equal(f->cli[0].reason, "closed by peer");

    /* shutting everything down from inside on_frame */
    c = fx_connect(f, 1);
    RUN_UNTIL(f, f->cli[1].opened && f->nsrv == 2, 2000);
    f->srv[1].close_all_on_frame = f;
    assert_int_equal(send_seq(c, 0, 0), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* everything closes, so the loop ends */
    assert_string_equal(f->srv[1].reason, "shutdown");
    assert_int_equal(f->cli[1].closed, 1);
}

static void test_connect_errors(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    char err[256] = "";
    sf_conn *c = NULL;
    /* a port nobody listens on: take one, then free it */
    sf_listener *l2;
    assert_int_equal(sf_net_listen(f->a, "127.0.0.1", 0, &srv_cbs, f, &l2, err, sizeof err), 0);
    int dead = sf_listener_port(l2);
    sf_listener_close(l2);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(sf_net_connect(f->b, "127.0.0.1", dead, "worker", NULL, &cli_cbs, &f->cli[0], &c, err, sizeof err),
                     0);
    f->cli[0].conn = c;
    RUN_UNTIL(f, f->cli[0].closed, 2000);
    ASSERT_CONTAINS(f->cli[0].reason, "connect to 127.0.0.1:");
    ASSERT_CONTAINS(f->cli[0].reason, "refused");
    assert_int_equal(f->cli[0].opened, 0);

    /* synchronous errors: no handle, no callback */
    assert_int_equal(sf_net_connect(f->b, "127.0.0.1", 0, "worker", NULL, &cli_cbs, NULL, &c, err, sizeof err), -1);
    assert_null(c);
    ASSERT_CONTAINS(err, "bad address");
    char longrole[100];
    memset(longrole, 'r', sizeof longrole - 1);
    longrole[sizeof longrole - 1] = '\0';
    assert_int_equal(sf_net_connect(f->b, "127.0.0.1", f->port, longrole, NULL, &cli_cbs, NULL, &c, err, sizeof err),
                     -1);
    sf_listener *bad;
    assert_int_equal(sf_net_listen(f->a, "not-an-ip", 0, &srv_cbs, f, &bad, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "numeric");
    assert_int_equal(sf_net_listen(f->a, "127.0.0.1", f->port, &srv_cbs, f, &bad, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "address already in use");

    /* a name to resolve, and closing while resolving */
    assert_int_equal(sf_net_connect(f->b, "localhost", f->port, "client", NULL, &cli_cbs, &f->cli[1], &c, err,
                                    sizeof err),
                     0);
    f->cli[1].conn = c;
    RUN_UNTIL(f, f->cli[1].opened && f->nsrv == 1, 3000);
    assert_int_equal(f->cli[1].opened, 1);
    assert_string_equal(sf_conn_role(f->srv[0].conn), "client");
    assert_int_equal(sf_net_connect(f->b, "localhost", f->port, "client", NULL, &cli_cbs, &f->cli[2], &c, err,
                                    sizeof err),
                     0);
    f->cli[2].conn = c;
    sf_conn_close(c, "changed my mind");
    RUN_UNTIL(f, f->cli[2].closed, 3000);
    assert_string_equal(f->cli[2].reason, "changed my mind");
    assert_int_equal(f->cli[2].opened, 0);
}

static void test_shutdown(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    fx_connect(f, 0);
    fx_connect(f, 1);
    RUN_UNTIL(f, f->cli[0].opened && f->cli[1].opened && f->nsrv == 2, 2000);
    raw *r = raw_open(f); /* one still in handshake */
    /* closing the listener leaves accepted connections alone */
    sf_listener_close(f->l);
    f->l = NULL;
    RUN_UNTIL(f, f->cli[0].closed, 200);
    assert_int_equal(f->cli[0].closed, 0);
    assert_int_equal(send_seq(f->cli[0].conn, 0, 0), 0);
    RUN_UNTIL(f, f->srv[0].frames == 1, 2000);
    assert_int_equal(f->srv[0].frames, 1);

    /* shutting down A only: B's side sees its peer go, and the loop ends */
    sf_net_close_all(f->a);
    RUN_UNTIL(f, r->eof && f->srv[0].closed && f->srv[1].closed && f->cli[0].closed && f->cli[1].closed, 2000);
    assert_true(r->eof);
    raw_close(f, r);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0); /* nothing left running */
    for (int i = 0; i < 2; i++) {
        assert_string_equal(f->srv[i].reason, "shutdown");
        assert_string_equal(f->cli[i].reason, "closed by peer");
    }
    assert_int_equal(sf_net_free(f->a), 0);
    f->a = NULL;
    /* B is idle, so it can go too */
    assert_int_equal(sf_net_free(f->b), 0);
    f->b = NULL;
}


static int count_eof(raw **r, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += r[i]->eof;
    return k;
}

/* 30 silent connections against 8 handshake slots (4 per address) and a
 * long handshake deadline: they cannot keep a real client out. */
static void test_handshake_flood(void **state)
{
    fx *f = *state;
    opts o = {.handshake_ms = 60000, .max_pending = 8, .max_pending_per_addr = 4};
    fx_start(f, &o);
    enum { NSILENT = 30 };
    raw *silent[NSILENT];
    for (int i = 0; i < NSILENT; i++)
        silent[i] = raw_open(f);
    RUN_UNTIL(f, count_eof(silent, NSILENT) >= NSILENT - 4, 5000);
    assert_true(count_eof(silent, NSILENT) >= NSILENT - 4); /* all but the newest 4 gave way */
    ASSERT_CONTAINS(logtext(&f->log_a), "too many connections in handshake from one address");
    /* a real client (raw) and a real peer (sf_net) get through */
    raw *r = raw_hello(f);
    fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 2, 5000);
    assert_int_equal(f->cli[0].opened, 1);
    assert_int_equal(f->nsrv, 2);
    assert_int_equal(send_seq(f->cli[0].conn, 0, 0), 0);
    RUN_UNTIL(f, f->srv[1].frames == 1, 2000);
    assert_int_equal(f->srv[1].frames, 1);
    raw_close(f, r);
    for (int i = 0; i < NSILENT; i++)
        raw_close(f, silent[i]);
}

/* One log line per bad connection is capped at log_per_sec lines a second,
 * and what was dropped is counted in a summary line. */
static void test_log_rate_limited(void **state)
{
    fx *f = *state;
    opts o = {.log_per_sec = 3};
    fx_start(f, &o);
    uint64_t t0 = uv_now(&f->loop);
    enum { NBAD = 20 };
    for (int i = 0; i < NBAD; i++) {
        raw *r = raw_open(f);
        raw_write(r, "\0\0\0\x02\x91\x0a", 6); /* not HELLO: refused and logged */
        RUN_UNTIL(f, r->eof, 2000);
        assert_true(r->eof);
        raw_close(f, r);
    }
    uint64_t secs = (uv_now(&f->loop) - t0) / 1000 + 1;
    size_t lines = 0;
    for (const char *p = logtext(&f->log_a); *p; p++)
        lines += *p == '\n';
    if (lines > 2 * 3 * secs) /* 3 lines and one summary per window at most */
        fail_msg("%zu log lines for %d bad connections in %llu s:\n%s", lines, NBAD, (unsigned long long)secs,
                 logtext(&f->log_a));
    /* a line in a later window comes with the count of those dropped */
    uv_timer_start(&f->guard, guard_cb, 1100, 0);
    f->expired = 0;
    while (!f->expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    raw *r = raw_open(f);
    raw_write(r, "\0\0\0\x02\x91\x0a", 6);
    RUN_UNTIL(f, r->eof, 2000);
    raw_close(f, r);
    ASSERT_CONTAINS(logtext(&f->log_a), "similar log lines suppressed");
}

static void test_net_new_errors(void **state)
{
    char err[256] = "";
    sf_net *net = (sf_net *)1;
    sf_net_config cfg = {0};
    assert_int_equal(sf_net_new(&cfg, &net, err, sizeof err), -1);
    assert_null(net);
    ASSERT_CONTAINS(err, "loop");
    fx *f = *state;
    cfg.loop = &f->loop;
    char big[2000];
    memset(big, 'k', sizeof big);
    cfg.token = big;
    cfg.token_len = sizeof big;
    assert_int_equal(sf_net_new(&cfg, &net, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "token");
}

/* ---- coalesced output -------------------------------------------------------- */

/* Append [10, seq, pad] framed to b. */
static size_t append_seq(sf_buf *b, int seq, size_t pad)
{
    size_t at = sf_frame_begin(b);
    pack_seq(b, seq, pad);
    char err[128];
    assert_int_equal(sf_frame_end(b, at, err, sizeof err), 0);
    return b->len - at;
}

/* Bytes on the wire of [10, seq, pad]. */
static size_t framed_len(int seq, size_t pad)
{
    sf_buf b;
    sf_buf_init(&b);
    size_t n = append_seq(&b, seq, pad);
    sf_buf_free(&b);
    return n;
}

/* Frames of every size and both send calls, all in one loop turn: they
 * arrive complete and in order, and every byte is counted as queued. */
static void test_coalesced_in_order(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    sf_conn_set_drain(c, peer_drain);
    size_t bytes = 0;
    int seq = 0;
    sf_buf b;
    sf_buf_init(&b);
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 100; i++) { /* small, copied */
            size_t pad = (size_t)(i % 5) * 17;
            bytes += framed_len(seq, pad);
            assert_int_equal(send_seq(c, seq++, pad), 0);
        }
        for (int i = 0; i < 20; i++) { /* small buffers handed over */
            sf_buf_reset(&b);
            bytes += append_seq(&b, seq++, (size_t)i);
            assert_int_equal(sf_conn_send_buf(c, &b), 0);
            assert_int_equal(b.len, 0);
        }
        sf_buf_reset(&b); /* several frames in one buffer */
        for (int i = 0; i < 10; i++)
            bytes += append_seq(&b, seq++, 3);
        assert_int_equal(sf_conn_send_buf(c, &b), 0);
        if (round % 8 == 0) { /* large ones, both ways */
            sf_buf_reset(&b);
            bytes += append_seq(&b, seq++, 200u * 1024u);
            assert_int_equal(sf_conn_send_buf(c, &b), 0);
            bytes += framed_len(seq, 300u * 1024u);
            assert_int_equal(send_seq(c, seq++, 300u * 1024u), 0);
        }
    }
    sf_buf_free(&b);
    bytes += framed_len(seq, 3u << 20);
    assert_int_equal(send_seq(c, seq++, 3u << 20), 0); /* one last, the largest */
    assert_int_equal(sf_conn_queued(c), bytes);
    assert_int_equal(f->srv[0].frames, 0); /* nothing written inside the sends */
    RUN_UNTIL(f, f->srv[0].frames == seq, 5000);
    assert_int_equal(f->srv[0].frames, seq);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_int_equal(f->srv[0].last.len, (3u << 20) + 10);
    RUN_UNTIL(f, sf_conn_queued(c) == 0, 2000);
    assert_int_equal(sf_conn_queued(c), 0);
    assert_true(f->cli[0].drained > 0);
}

/* Frames sent outside any callback are written by the next loop turn, and
 * their write has completed by the turn after (no wait for a timer). */
static void test_coalesced_written_next_turn(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    for (int i = 0; i < 100; i++)
        assert_int_equal(send_seq(c, i, 20), 0);
    assert_int_equal(sf_conn_queued(c), 100 * framed_len(0, 20));
    for (int turn = 0; turn < 2 && sf_conn_queued(c) > 0; turn++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(sf_conn_queued(c), 0);
    RUN_UNTIL(f, f->srv[0].frames == 100, 2000);
    assert_int_equal(f->srv[0].frames, 100);
    assert_int_equal(f->srv[0].order_bad, 0);
}

/* The receiver stops reading: the sender's queue stops at the cap
 * (SF_NET_EFULL, nothing lost, the connection kept), and resuming delivers
 * every accepted frame in order and drains the queue. */
static void test_stalled_reader_bounded(void **state)
{
    fx *f = *state;
    enum { CAP = 256 * 1024 };
    opts o = {.max_queued_b = CAP, .idle_ms = 60000, .ping_ms = 60000};
    fx_start(f, &o);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    sf_conn_set_drain(c, peer_drain);
    sf_conn_pause(f->srv[0].conn, 1);
    /* keep sending 1 KiB frames until the kernel's buffers and then our
     * queue are full; at most 256 MiB offered in all */
    int sent = 0, full = 0;
    size_t offered = 0;
    while (!full && offered < (size_t)256 << 20) {
        for (int i = 0; i < 64; i++) {
            int r = send_seq(c, sent, 1000);
            if (r == SF_NET_EFULL) {
                full = 1;
                break;
            }
            assert_int_equal(r, 0);
            sent++;
            offered += 1010;
            assert_true(sf_conn_queued(c) <= CAP);
        }
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_true(full);
    assert_true(sf_conn_queued(c) <= CAP);
    assert_true(sf_conn_queued(c) > CAP - 1100);
    /* a stuck peer is not a dead one: nothing closes */
    RUN_UNTIL(f, f->cli[0].closed, 200);
    assert_int_equal(f->cli[0].closed, 0);
    assert_int_equal(f->srv[0].frames, 0);
    assert_int_equal(send_seq(c, sent, 1000), SF_NET_EFULL);
    int drained = f->cli[0].drained;
    sf_conn_pause(f->srv[0].conn, 0);
    RUN_UNTIL(f, f->srv[0].frames == sent && sf_conn_queued(c) == 0, 10000);
    assert_int_equal(f->srv[0].frames, sent);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_int_equal(sf_conn_queued(c), 0);
    assert_true(f->cli[0].drained > drained);
    assert_int_equal(send_seq(c, sent, 1000), 0); /* room again */
    RUN_UNTIL(f, f->srv[0].frames == sent + 1, 2000);
    assert_int_equal(f->srv[0].frames, sent + 1);
}

/* Closing right after sending, in the same turn: the pending frames are
 * written first, then the connection goes. */
static void test_close_with_pending(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(send_seq(c, i, (size_t)i % 300), 0);
    assert_int_equal(send_seq(c, 1000, 1u << 20), 0);
    assert_int_equal(send_seq(c, 1001, 0), 0);
    sf_conn_close(c, "done");
    assert_int_equal(sf_conn_send(c, "\x91\x0a", 2), SF_NET_ECLOSED);
    RUN_UNTIL(f, f->cli[0].closed && f->srv[0].closed, 3000);
    assert_int_equal(f->srv[0].frames, 1002);
    assert_int_equal(f->srv[0].order_bad, 0);
    assert_string_equal(f->cli[0].reason, "done");
}

/* Closing while the peer reads nothing: the flush deadline (300 ms here)
 * ends it hard, and every queued frame is freed (the loop closes; run under
 * valgrind for the memory). */
static void test_close_stuck_writes(void **state)
{
    fx *f = *state;
    opts o = {.max_queued_b = 1u << 20, .idle_ms = 60000, .ping_ms = 60000};
    fx_start(f, &o);
    sf_conn *c = fx_connect(f, 0);
    RUN_UNTIL(f, f->cli[0].opened && f->nsrv == 1, 2000);
    sf_conn_pause(f->srv[0].conn, 1);
    int r = 0, sent = 0;
    while (r == 0) {
        for (int i = 0; i < 256 && (r = send_seq(c, sent, 4000)) == 0; i++)
            sent++;
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(r, SF_NET_EFULL);
    for (int i = 0; i < 50; i++) /* and more still pending in this turn */
        if (send_seq(c, sent, 10) == 0)
            sent++;
    sf_net_close_all(f->b);
    RUN_UNTIL(f, f->cli[0].closed, 3000);
    assert_int_equal(f->cli[0].closed, 1);
    assert_string_equal(f->cli[0].reason, "shutdown");
    assert_true(f->srv[0].frames < sent);
}

/* A peer whose HELLO and a broken frame come in one read: the WELCOME and
 * the frames the application sent in on_open are still pending when the
 * protocol error closes the connection hard; they are freed, not sent. */
static void test_hard_close_drops_pending(void **state)
{
    fx *f = *state;
    fx_start(f, NULL);
    f->send_on_open = 500;
    raw *r = raw_open(f);
    sf_buf b;
    sf_buf_init(&b);
    frame_hello(&b, 1, TOKEN, "client");
    sf_buf_append(&b, "\0\0\0\x03\x92\x0a\xc1", 7);
    raw_write(r, b.data, b.len);
    sf_buf_free(&b);
    RUN_UNTIL(f, r->eof && f->nsrv == 1 && f->srv[0].closed, 2000);
    assert_true(r->eof);
    assert_int_equal(f->srv[0].closed, 1);
    ASSERT_CONTAINS(f->srv[0].reason, "invalid msgpack byte 0xc1");
    assert_int_equal(r->got.len, 0); /* nothing pending was written */
    raw_close(f, r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytewise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_cap_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_flushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_net_new_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced_written_next_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_reader_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_stuck_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hard_close_drops_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
