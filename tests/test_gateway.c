/* test_gateway.c: the HTTP gateway (runtime/wire/gateway.c) on a real libuv loop
 * with raw TCP clients. The daemon is a stub: its submit decodes the request
 * map and answers at once (inside submit) or after a timer, so replies come
 * out of order; the clients are plain non-blocking sockets, and the test
 * pumps the loop (UV_RUN_NOWAIT) while it waits for bytes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gateway.h"
#include "json.h"
#include "mpread.h"
#include "request.h"

/* ---- the stub daemon ---------------------------------------------------------- */

typedef struct fixture fixture;

typedef struct delayed {
    uv_timer_t timer;
    fixture *fx;
    uint64_t token;
    sf_buf reply;
    int kind; /* 0 reply map, 1 reply_ok value, 2 reply_error */
    char type[32], msg[64];
} delayed;

struct fixture {
    uv_loop_t loop;
    sf_gateway *gw;
    sf_metrics *metrics;
    int port;
    int default_delay_ms; /* 0: answer inside submit */
    int healthy;
    size_t submits;
    size_t dropped;     /* replies that found no client */
    size_t delivered;
    size_t pending;     /* timers not fired yet */
    char last_req[1024]; /* the last request map, as JSON */
    uint64_t last_token;
    char log[4096];
    size_t nlog;        /* lines logged */
};

static int stub_healthy(void *ud, char *why, size_t whylen)
{
    fixture *fx = ud;
    if (!fx->healthy)
        snprintf(why, whylen, "recovering from a failure");
    return fx->healthy;
}

static sf_metrics *stub_metrics(void *ud) { return ((fixture *)ud)->metrics; }

static void stub_log(void *ud, const char *line)
{
    fixture *fx = ud;
    fx->nlog++;
    size_t n = strlen(fx->log);
    snprintf(fx->log + n, sizeof fx->log - n, "%s\n", line);
}

static void mp_to_json(const char *mp, size_t len, sf_buf *out)
{
    char err[200];
    if (sf_msgpack_to_json(mp, len, out, err, sizeof err) < 0)
        fail_msg("msgpack_to_json: %s", err);
}

static void deliver(fixture *fx, uint64_t token, int kind, const sf_buf *reply, const char *type, const char *msg)
{
    int rc;
    if (kind == 1)
        rc = sf_gateway_reply_ok(fx->gw, token, reply->data, reply->len);
    else if (kind == 2)
        rc = sf_gateway_reply_error(fx->gw, token, type, msg);
    else
        rc = sf_gateway_reply(fx->gw, token, reply->data, reply->len);
    if (rc == 1)
        fx->dropped++;
    else
        fx->delivered++;
    /* answering twice is always a no-op */
    assert_int_equal(sf_gateway_reply_error(fx->gw, token, "X", "again"), 1);
}

static void delayed_closed(uv_handle_t *h)
{
    delayed *d = h->data;
    sf_buf_free(&d->reply);
    free(d);
}

static void on_delayed(uv_timer_t *t)
{
    delayed *d = t->data;
    d->fx->pending--;
    deliver(d->fx, d->token, d->kind, &d->reply, d->type, d->msg);
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static void json_reply(sf_buf *out, const char *json)
{
    char err[200];
    if (sf_json_to_msgpack(json, strlen(json), out, err, sizeof err) < 0)
        fail_msg("bad reply JSON %s: %s", json, err);
}

static int stub_submit(void *ud, const char *req, size_t len, uint64_t token)
{
    fixture *fx = ud;
    sf_reqmap r;
    char err[200];
    assert_int_not_equal(token, 0);
    if (sf_reqmap_decode(req, len, &r, err, sizeof err) < 0)
        fail_msg("the gateway submitted a bad request: %s", err);
    fx->submits++;
    fx->last_token = token;
    sf_buf j, key, args, reply;
    sf_buf_init(&j);
    sf_buf_init(&key);
    sf_buf_init(&args);
    sf_buf_init(&reply);
    mp_to_json(req, len, &j);
    snprintf(fx->last_req, sizeof fx->last_req, "%s", j.data);
    if (r.key)
        mp_to_json(r.key, r.key_len, &key);
    if (r.args)
        mp_to_json(r.args, r.args_len, &args);
    int delay = fx->default_delay_ms;
    int kind = 0;
    char type[32] = "", msg[64] = "";
    sf_buf t;
    sf_buf_init(&t);
    char m[64] = "";
    if (r.method)
        snprintf(m, sizeof m, "%.*s", (int)r.method_len, r.method);
    if (r.op == SF_OP_CREATE) {
        if (r.entity_len == 4 && memcmp(r.entity, "Nope", 4) == 0) {
            json_reply(&reply, "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity Nope\"}}");
        } else if (strcmp(args.data, "[\"dup\"]") == 0) {
            json_reply(&reply, "{\"error\":{\"type\":\"AlreadyExists\",\"message\":\"User dup exists\"}}");
        } else {
            /* {"ok": {"$ref": [entity, args[0]]}} */
            size_t pos = 0;
            sf_mp_item it;
            assert_int_equal(sf_mp_read(r.args, r.args_len, &pos, &it), 0);
            sf_buf first;
            sf_buf_init(&first);
            if (it.n > 0) {
                size_t vlen;
                assert_int_equal(sf_msgpack_value_len(r.args + pos, r.args_len - pos, &vlen, NULL, 0), 0);
                mp_to_json(r.args + pos, vlen, &first);
            } else {
                sf_buf_puts(&first, "null");
            }
            sf_buf_printf(&t, "{\"ok\":{\"$ref\":[\"%.*s\",%s]}}", (int)r.entity_len, r.entity, first.data);
            sf_buf_free(&first);
            json_reply(&reply, t.data);
        }
    } else if (r.op == SF_OP_DELETE) {
        json_reply(&reply, "{\"ok\":null}");
    } else if (r.op == SF_OP_GET) {
        sf_buf_printf(&t, "{\"id\":\"ignored\",\"ok\":{\"entity\":\"%.*s\",\"key\":%s}}", (int)r.entity_len,
                      r.entity, key.data);
        json_reply(&reply, t.data);
    } else if (strcmp(m, "echo") == 0) {
        sf_buf_printf(&t, "{\"ok\":%s}", args.data);
        json_reply(&reply, t.data);
    } else if (strcmp(m, "key") == 0) {
        sf_buf_printf(&t, "{\"ok\":%s}", key.data);
        json_reply(&reply, t.data);
    } else if (strcmp(m, "sleep") == 0) {
        /* args [ms]: answer ms later with ms */
        size_t pos = 0;
        sf_mp_item it;
        assert_int_equal(sf_mp_read(r.args, r.args_len, &pos, &it), 0);
        assert_int_equal(sf_mp_read(r.args, r.args_len, &pos, &it), 0);
        delay = (int)it.v.i;
        sf_buf_printf(&t, "{\"ok\":%d}", delay);
        json_reply(&reply, t.data);
    } else if (strcmp(m, "big") == 0) {
        /* a 4 MiB string from a tiny request */
        size_t n = (size_t)4 << 20;
        sf_buf_append(&reply, "\x81\xa2ok\xdb", 5);
        unsigned char len4[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                                 (unsigned char)n};
        sf_buf_append(&reply, len4, 4);
        sf_buf_reserve(&reply, n);
        memset(reply.data + reply.len, 'x', n);
        reply.len += n;
        reply.data[reply.len] = '\0';
    } else if (strcmp(m, "boom") == 0) {
        json_reply(&reply, "{\"error\":{\"type\":\"ValueError\",\"message\":\"boom!\"}}");
    } else if (strcmp(m, "typeerr") == 0) {
        json_reply(&reply, "{\"error\":{\"type\":\"TypeError\",\"message\":\"buy() takes 2 arguments\"}}");
    } else if (strcmp(m, "unavail") == 0) {
        json_reply(&reply, "{\"error\":{\"message\":\"shutting down\",\"type\":\"Unavailable\",\"x\":[1]}}");
    } else if (strcmp(m, "badreq") == 0) {
        json_reply(&reply, "{\"error\":{\"type\":\"BadRequest\",\"message\":\"no\"}}");
    } else if (strcmp(m, "garbage") == 0) {
        sf_buf_append(&reply, "\x81\xa2ok\xc1", 5);
    } else if (strcmp(m, "neither") == 0) {
        json_reply(&reply, "{\"id\":1}");
    } else if (strcmp(m, "ok_direct") == 0) {
        kind = 1;
        json_reply(&reply, "{\"$bytes\":\"AAEC\"}");
    } else if (strcmp(m, "err_direct") == 0) {
        kind = 2;
        snprintf(type, sizeof type, "KeyError");
        snprintf(msg, sizeof msg, "'x' \"quoted\"");
    } else if (strcmp(m, "refuse") == 0) {
        sf_buf_free(&t);
        sf_buf_free(&j);
        sf_buf_free(&key);
        sf_buf_free(&args);
        sf_buf_free(&reply);
        return -1;
    } else {
        json_reply(&reply, "{\"error\":{\"type\":\"NotFound\",\"message\":\"no such method\"}}");
    }
    if (delay == 0) {
        deliver(fx, token, kind, &reply, type, msg);
    } else {
        delayed *d = calloc(1, sizeof *d);
        d->fx = fx;
        d->token = token;
        d->kind = kind;
        snprintf(d->type, sizeof d->type, "%s", type);
        snprintf(d->msg, sizeof d->msg, "%s", msg);
        sf_buf_init(&d->reply);
        sf_buf_append(&d->reply, reply.data, reply.len);
        uv_timer_init(&fx->loop, &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, on_delayed, (uint64_t)delay, 0);
        fx->pending++;
    }
    sf_buf_free(&t);
    sf_buf_free(&j);
    sf_buf_free(&key);
    sf_buf_free(&args);
    sf_buf_free(&reply);
    return 0;
}

static const sf_gateway_ops stub_ops = {
    .submit = stub_submit,
    .healthy = stub_healthy,
    .metrics = stub_metrics,
    .log = stub_log,
};

static fixture *fx_start(const sf_gateway_limits *lim)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fx->metrics = sf_metrics_new();
    fx->healthy = 1;
    char err[200];
    if (sf_gateway_start_ex(&fx->loop, "127.0.0.1", 0, &stub_ops, fx, lim, &fx->gw, err, sizeof err) < 0)
        fail_msg("start: %s", err);
    fx->port = sf_gateway_port(fx->gw);
    assert_true(fx->port > 0);
    return fx;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        /* only our own delayed timers can be left */
        delayed *d = h->data;
        uv_close(h, delayed_closed);
        (void)d;
    }
}

static void fx_stop(fixture *fx)
{
    sf_gateway_close(fx->gw);
    uv_walk(&fx->loop, walk_close, NULL);
    while (uv_run(&fx->loop, UV_RUN_DEFAULT))
        ;
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    sf_metrics_free(fx->metrics);
    free(fx);
}

/* ---- raw clients ------------------------------------------------------------------- */

typedef struct cli {
    int fd;
    sf_buf in;
    int eof;
} cli;

typedef struct resp {
    int status;
    char headers[2048];
    sf_buf body;
} resp;

static void pump(fixture *fx, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    do {
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        usleep(500);
    } while (uv_hrtime() < end);
}

static cli *cli_open(fixture *fx)
{
    cli *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)fx->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sf_buf_init(&c->in);
    uv_run(&fx->loop, UV_RUN_NOWAIT); /* accept */
    return c;
}

static void cli_close(cli *c)
{
    close(c->fd);
    sf_buf_free(&c->in);
    free(c);
}

static void cli_send(fixture *fx, cli *c, const char *data, size_t len)
{
    uint64_t end = uv_hrtime() + 5000000000u;
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return; /* the server closed on us: the caller checks the response */
        }
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        if (uv_hrtime() > end)
            fail_msg("send timed out");
    }
    uv_run(&fx->loop, UV_RUN_NOWAIT);
}

static void cli_sends(fixture *fx, cli *c, const char *s) { cli_send(fx, c, s, strlen(s)); }

/* Read what is there without blocking; sets eof. */
static void cli_pull(cli *c)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            sf_buf_append(&c->in, buf, (size_t)n);
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->eof = 1;
        return;
    }
}

/* Take one complete response off c->in. head_only: no body expected. */
static int take_response(cli *c, resp *r, int head_only)
{
    char *end = strstr(c->in.data ? c->in.data : "", "\r\n\r\n");
    if (!end)
        return 0;
    size_t hlen = (size_t)(end - c->in.data) + 4;
    int status = 0;
    if (sscanf(c->in.data, "HTTP/1.1 %d ", &status) != 1)
        fail_msg("bad status line: %.60s", c->in.data);
    size_t clen = 0;
    int have_cl = 0;
    for (const char *p = c->in.data; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            clen = strtoul(p + 15, NULL, 10);
            have_cl = 1;
        }
    }
    if (status >= 200 && !have_cl)
        fail_msg("no Content-Length in %.*s", (int)hlen, c->in.data);
    if (status < 200 || head_only)
        clen = 0;
    if (c->in.len < hlen + clen)
        return 0;
    r->status = status;
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)hlen, c->in.data);
    sf_buf_init(&r->body);
    sf_buf_append(&r->body, c->in.data + hlen, clen);
    memmove(c->in.data, c->in.data + hlen + clen, c->in.len - hlen - clen);
    c->in.len -= hlen + clen;
    c->in.data[c->in.len] = '\0';
    return 1;
}

/* Wait up to ms for one response. Returns 1, or 0 on timeout or EOF. */
static int cli_response_ex(fixture *fx, cli *c, resp *r, int ms, int head_only)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    for (;;) {
        if (take_response(c, r, head_only))
            return 1;
        if (c->eof)
            return 0;
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        cli_pull(c);
        if (take_response(c, r, head_only))
            return 1;
        if (uv_hrtime() > end)
            return 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        poll(&p, 1, 1);
    }
}

static void cli_response(fixture *fx, cli *c, resp *r)
{
    if (!cli_response_ex(fx, c, r, 3000, 0))
        fail_msg("no response (eof=%d, have %zu bytes: %.200s)", c->eof, c->in.len,
                 c->in.data ? c->in.data : "");
}

/* Wait for the server to close the connection (nothing else arriving). */
static int cli_wait_eof(fixture *fx, cli *c, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (!c->eof && uv_hrtime() < end) {
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        cli_pull(c);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        poll(&p, 1, 1);
    }
    return c->eof;
}

static void resp_free(resp *r) { sf_buf_free(&r->body); }

/* One request on a fresh connection; checks status and body. */
static void roundtrip(fixture *fx, const char *req, int status, const char *body)
{
    cli *c = cli_open(fx);
    cli_sends(fx, c, req);
    resp r;
    cli_response(fx, c, &r);
    if (r.status != status || (body && strcmp(r.body.data, body) != 0))
        fail_msg("%s\n-> %d %s (expected %d %s)", req, r.status, r.body.data, status, body ? body : "*");
    resp_free(&r);
    cli_close(c);
}

static char *post(const char *path, const char *body)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n%s", path, strlen(body), body);
    return buf;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_routes(void **state)
{
    (void)state;
    fixture *fx = fx_start(NULL);
    roundtrip(fx, post("/v1/User", "{\"args\": [\"alice\", 3]}"), 201, "{\"ok\":{\"$ref\":[\"User\",\"alice\"]}}");
    assert_string_equal(fx->last_req, "{\"op\":\"create\",\"entity\":\"User\",\"args\":[\"alice\",3]}");
    roundtrip(fx, post("/v1/User", ""), 201, "{\"ok\":{\"$ref\":[\"User\",null]}}");
    roundtrip(fx, post("/v1/User", "{}"), 201, "{\"ok\":{\"$ref\":[\"User\",null]}}");
    roundtrip(fx, post("/v1/User/alice/echo", "{\"args\": [1, {\"$ref\": [\"Item\", \"apple\"]}, [true, null]]}"),
              200, "{\"ok\":[1,{\"$ref\":[\"Item\",\"apple\"]},[true,null]]}");
    assert_string_equal(fx->last_req, "{\"op\":\"call\",\"entity\":\"User\",\"key\":\"alice\",\"method\":\"echo\","
                                      "\"args\":[1,{\"$ref\":[\"Item\",\"apple\"]},[true,null]]}");
    /* keys are percent-decoded strings, one segment each */
    roundtrip(fx, post("/v1/User/al%2Fice%20%C3%A9/key", ""), 200, "{\"ok\":\"al/ice \xc3\xa9\"}");
    roundtrip(fx, post("/v1/User/42/key", ""), 200, "{\"ok\":\"42\"}");
    roundtrip(fx, "GET /v1/User/bob HTTP/1.1\r\nHost: t\r\n\r\n", 200, "{\"ok\":{\"entity\":\"User\",\"key\":\"bob\"}}");
    assert_string_equal(fx->last_req, "{\"op\":\"get\",\"entity\":\"User\",\"key\":\"bob\"}");
    roundtrip(fx, "DELETE /v1/User/bob HTTP/1.1\r\nHost: t\r\n\r\n", 200, "{\"ok\":null}");
    assert_string_equal(fx->last_req, "{\"op\":\"delete\",\"entity\":\"User\",\"key\":\"bob\"}");
    roundtrip(fx, "GET /v1/User/bob?fields=all HTTP/1.1\r\nHost: t\r\n\r\n", 200,
              "{\"ok\":{\"entity\":\"User\",\"key\":\"bob\"}}");
    /* POST /v1/requests: one object, with an id echoed */
    roundtrip(fx, post("/v1/requests", "{\"id\": \"r1\", \"op\": \"create\", \"entity\": \"User\", \"args\": [\"x\"]}"),
              201, "{\"id\":\"r1\",\"ok\":{\"$ref\":[\"User\",\"x\"]}}");
    assert_string_equal(fx->last_req, "{\"id\":\"r1\",\"op\":\"create\",\"entity\":\"User\",\"args\":[\"x\"]}");
    roundtrip(fx, post("/v1/requests", "{\"id\": 7, \"op\": \"call\", \"entity\": \"User\", \"key\": [1, 2], "
                                       "\"method\": \"key\"}"),
              200, "{\"id\":7,\"ok\":[1,2]}");
    roundtrip(fx, post("/v1/requests", "{\"id\": 8, \"op\": \"get\", \"entity\": \"User\", \"key\": 5}"), 200,
              "{\"id\":8,\"ok\":{\"entity\":\"User\",\"key\":5}}");
    /* an array: replies in order, bad items answered in place */
    roundtrip(fx,
              post("/v1/requests", "[{\"id\": \"a\", \"op\": \"create\", \"entity\": \"User\", \"args\": [\"u\"]},"
                                   " {\"id\": \"b\", \"op\": \"call\", \"entity\": \"User\", \"key\": \"u\", "
                                   "\"method\": \"boom\"},"
                                   " {\"id\": \"c\", \"op\": \"fly\", \"entity\": \"User\"},"
                                   " 17,"
                                   " {\"op\": \"get\", \"entity\": \"User\", \"key\": \"u\"}]"),
              200,
              "[{\"id\":\"a\",\"ok\":{\"$ref\":[\"User\",\"u\"]}},"
              "{\"id\":\"b\",\"error\":{\"type\":\"ValueError\",\"message\":\"boom!\"}},"
              "{\"id\":\"c\",\"error\":{\"type\":\"BadRequest\",\"message\":\"unknown op \\\"fly\\\" (expected "
              "create, call, get or delete)\"}},"
              "{\"error\":{\"type\":\"BadRequest\",\"message\":\"a request must be a JSON object\"}},"
              "{\"ok\":{\"entity\":\"User\",\"key\":\"u\"}}]");
    roundtrip(fx, post("/v1/requests", " [ ] "), 200, "[]");
    roundtrip(fx, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200, "{\"ok\":true}");
    fx->healthy = 0;
    roundtrip(fx, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 503,
              "{\"error\":{\"type\":\"Unavailable\",\"message\":\"recovering from a failure\"}}");
    fx->healthy = 1;
    /* HEAD: headers only */
    cli *c = cli_open(fx);
    cli_sends(fx, c, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    resp r;
    assert_true(cli_response_ex(fx, c, &r, 3000, 1));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Length: 11\r\n"));
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    assert_non_null(strstr(r.headers, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r.headers, "Connection: keep-alive\r\n"));
    assert_non_null(strstr(r.headers, "Date: "));
    resp_free(&r);
    cli_close(c);
    fx_stop(fx);
}

static void test_status_codes(void **state)
{
    (void)state;
    fixture *fx = fx_start(NULL);
    roundtrip(fx, post("/v1/Nope", "{\"args\": []}"), 404,
              "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity Nope\"}}");
    roundtrip(fx, post("/v1/User", "{\"args\": [\"dup\"]}"), 409,
              "{\"error\":{\"type\":\"AlreadyExists\",\"message\":\"User dup exists\"}}");
    roundtrip(fx, post("/v1/User/a/boom", ""), 422, "{\"error\":{\"type\":\"ValueError\",\"message\":\"boom!\"}}");
    roundtrip(fx, post("/v1/User/a/typeerr", ""), 422, NULL);
    roundtrip(fx, post("/v1/User/a/unavail", ""), 503,
              "{\"error\":{\"type\":\"Unavailable\",\"message\":\"shutting down\"}}");
    roundtrip(fx, post("/v1/User/a/badreq", ""), 400, "{\"error\":{\"type\":\"BadRequest\",\"message\":\"no\"}}");
    roundtrip(fx, post("/v1/User/a/nomethod", ""), 404, NULL);
    roundtrip(fx, post("/v1/User/a/garbage", ""), 500,
              "{\"error\":{\"type\":\"InternalError\",\"message\":\"malformed reply from the runtime\"}}");
    roundtrip(fx, post("/v1/User/a/neither", ""), 500, NULL);
    roundtrip(fx, post("/v1/User/a/ok_direct", ""), 200, "{\"ok\":{\"$bytes\":\"AAEC\"}}");
    roundtrip(fx, post("/v1/User/a/err_direct", ""), 422,
              "{\"error\":{\"type\":\"KeyError\",\"message\":\"'x' \\\"quoted\\\"\"}}");
    roundtrip(fx, post("/v1/requests", "{\"id\":\"q\",\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"refuse\"}"),
              503, "{\"id\":\"q\",\"error\":{\"type\":\"Unavailable\",\"message\":\"the service is not accepting "
                   "requests\"}}");
    /* the gateway's own errors */
    roundtrip(fx, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404,
              "{\"error\":{\"type\":\"NotFound\",\"message\":\"no route for GET /nowhere\"}}");
    roundtrip(fx, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v1 HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v1/ HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v1/User//x HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v1/a/b/c/d HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v2/User/x HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    roundtrip(fx, "GET /v1/User HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL);
    roundtrip(fx, "PUT /v1/User/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, NULL);
    roundtrip(fx, "DELETE /v1/User HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL);
    roundtrip(fx, "DELETE /v1/User/x/m HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL);
    roundtrip(fx, "GET /v1/User/x/m HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL);
    roundtrip(fx, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, NULL);
    roundtrip(fx, "PUT /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, NULL);
    roundtrip(fx, "GET /v1/requests HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL);
    {
        cli *c = cli_open(fx);
        cli_sends(fx, c, "GET /v1/User HTTP/1.1\r\nHost: t\r\n\r\n");
        resp r;
        cli_response(fx, c, &r);
        assert_non_null(strstr(r.headers, "Allow: POST\r\n"));
        resp_free(&r);
        cli_close(c);
    }
    roundtrip(fx, "GET /v1/User/%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL);
    roundtrip(fx, "GET /v1/User/%ff HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL);
    roundtrip(fx, "GET /v1/Us%00er/x HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL);
    /* malformed bodies */
    roundtrip(fx, post("/v1/User", "{\"args\": [1,}"), 400, NULL);
    roundtrip(fx, post("/v1/User", "[1]"), 400, NULL);
    roundtrip(fx, post("/v1/User", "{\"args\": 1}"), 400,
              "{\"error\":{\"type\":\"BadRequest\",\"message\":\"\\\"args\\\" must be an array\"}}");
    roundtrip(fx, post("/v1/User", "{\"args\": [], \"x\": 1}"), 400, NULL);
    roundtrip(fx, post("/v1/User", "{\"args\": [], \"args\": []}"), 400, NULL);
    roundtrip(fx, post("/v1/User/a/echo", "{\"args\": [\"\\ud800\"]}"), 400, NULL);
    roundtrip(fx, post("/v1/requests", ""), 400, NULL);
    roundtrip(fx, post("/v1/requests", "17"), 400, NULL);
    roundtrip(fx, post("/v1/requests", "[{\"op\": \"get\"},"), 400, NULL);
    roundtrip(fx, post("/v1/requests", "{\"id\": \"z\", \"op\": \"get\", \"entity\": \"U\", \"key\": 1,}"), 400,
              NULL);
    roundtrip(fx, post("/v1/requests", "{\"id\": \"z\", \"op\": \"get\"}"), 400,
              "{\"id\":\"z\",\"error\":{\"type\":\"BadRequest\",\"message\":\"missing \\\"entity\\\" in request\"}}");
    /* protocol errors */
    roundtrip(fx, "GET / HTTP/2.0\r\n\r\n", 505, NULL);
    roundtrip(fx, "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400, NULL);
    roundtrip(fx, "POST /v1/User HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, NULL);
    fx_stop(fx);
}

static void test_limits(void **state)
{
    (void)state;
    sf_gateway_limits lim = {.max_batch = 3};
    fixture *fx = fx_start(&lim);
    /* 413 from the Content-Length alone, then the connection closes */
    cli *c = cli_open(fx);
    cli_sends(fx, c, "POST /v1/User HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n");
    resp r;
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.headers, "Connection: close\r\n"));
    assert_non_null(strstr(r.body.data, "too large"));
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 3000));
    cli_close(c);
    /* exactly 1 MiB is accepted */
    {
        size_t n = (size_t)1 << 20;
        char *body = malloc(n + 1);
        memset(body, ' ', n);
        memcpy(body, "{\"args\": [\"big\"]}", 17);
        body[n] = '\0';
        char head[128];
        snprintf(head, sizeof head, "POST /v1/User HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
        c = cli_open(fx);
        cli_sends(fx, c, head);
        cli_send(fx, c, body, n);
        cli_response(fx, c, &r);
        assert_int_equal(r.status, 201);
        resp_free(&r);
        cli_close(c);
        free(body);
    }
    /* 414 and 431 */
    {
        sf_buf b;
        sf_buf_init(&b);
        sf_buf_puts(&b, "GET /");
        for (int i = 0; i < 9000; i++)
            sf_buf_putc(&b, 'a');
        sf_buf_puts(&b, " HTTP/1.1\r\nHost: t\r\n\r\n");
        roundtrip(fx, b.data, 414, NULL);
        sf_buf_reset(&b);
        sf_buf_puts(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
        for (int i = 0; i < 101; i++)
            sf_buf_printf(&b, "X-%d: 1\r\n", i);
        sf_buf_puts(&b, "\r\n");
        roundtrip(fx, b.data, 431, NULL);
        sf_buf_free(&b);
    }
    /* batches over max_batch */
    roundtrip(fx, post("/v1/requests", "[{\"op\":\"get\",\"entity\":\"U\",\"key\":1},"
                                       "{\"op\":\"get\",\"entity\":\"U\",\"key\":2},"
                                       "{\"op\":\"get\",\"entity\":\"U\",\"key\":3}]"),
              200, NULL);
    roundtrip(fx, post("/v1/requests", "[1,2,3,4]"), 413, NULL);
    fx_stop(fx);
}

static void test_pipelining_out_of_order(void **state)
{
    (void)state;
    fixture *fx = fx_start(NULL);
    cli *c = cli_open(fx);
    /* the first answer takes longest: replies arrive in reverse order, and
     * the responses still come in request order, in one write */
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_puts(&b, post("/v1/User/a/sleep", "{\"args\": [60]}"));
    sf_buf_puts(&b, post("/v1/User/a/sleep", "{\"args\": [30]}"));
    sf_buf_puts(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    sf_buf_puts(&b, post("/v1/requests", "[{\"id\":1,\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\","
                                         "\"args\":[40]},"
                                         "{\"id\":2,\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\","
                                         "\"args\":[5]},"
                                         "{\"id\":3,\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\","
                                         "\"args\":[20]}]"));
    sf_buf_puts(&b, post("/v1/User/a/sleep", "{\"args\": [1]}"));
    cli_send(fx, c, b.data, b.len);
    sf_buf_free(&b);
    resp r;
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"ok\":60}");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":30}");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "[{\"id\":1,\"ok\":40},{\"id\":2,\"ok\":5},{\"id\":3,\"ok\":20}]");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":1}");
    resp_free(&r);
    assert_int_equal(fx->dropped, 0);
    /* the same connection goes on (keep-alive), then asks to close */
    cli_sends(fx, c, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 3000));
    assert_int_equal(c->in.len, 0); /* nothing after the closing response */
    cli_close(c);
    /* two connections, replies interleaved */
    cli *c1 = cli_open(fx), *c2 = cli_open(fx);
    cli_sends(fx, c1, post("/v1/User/a/sleep", "{\"args\": [50]}"));
    cli_sends(fx, c2, post("/v1/User/b/sleep", "{\"args\": [10]}"));
    cli_response(fx, c2, &r);
    assert_string_equal(r.body.data, "{\"ok\":10}");
    resp_free(&r);
    assert_int_equal(c1->in.len, 0);
    cli_response(fx, c1, &r);
    assert_string_equal(r.body.data, "{\"ok\":50}");
    resp_free(&r);
    cli_close(c1);
    cli_close(c2);
    fx_stop(fx);
}

static void test_client_vanishes(void **state)
{
    (void)state;
    fixture *fx = fx_start(NULL);
    cli *c = cli_open(fx);
    cli_sends(fx, c, post("/v1/User/a/sleep", "{\"args\": [400]}"));
    cli_sends(fx, c, post("/v1/requests", "[{\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\","
                                          "\"args\":[300]},{\"op\":\"get\",\"entity\":\"U\",\"key\":1}]"));
    pump(fx, 10);
    assert_int_equal(fx->submits, 3);
    assert_int_equal(sf_gateway_connections(fx->gw), 1);
    /* gone before its replies (a reset: no half-close to honour) */
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cli_close(c);
    pump(fx, 20);
    assert_int_equal(sf_gateway_connections(fx->gw), 0);
    while (fx->pending)
        pump(fx, 10);
    assert_int_equal(fx->dropped, 2); /* the get was answered at once, before the close */
    /* a plain close looks like a half-close until the replies are written:
     * the connection goes when writing fails or everything is written */
    c = cli_open(fx);
    cli_sends(fx, c, post("/v1/User/a/sleep", "{\"args\": [20]}"));
    cli_sends(fx, c, post("/v1/User/a/sleep", "{\"args\": [40]}"));
    pump(fx, 5);
    cli_close(c);
    while (fx->pending)
        pump(fx, 10);
    pump(fx, 20);
    assert_int_equal(sf_gateway_connections(fx->gw), 0);
    /* an answered token stays answered; an invented one is unknown */
    assert_int_equal(sf_gateway_reply_error(fx->gw, fx->last_token, "X", "y"), 1);
    assert_int_equal(sf_gateway_reply_error(fx->gw, 0, "X", "y"), 1);
    assert_int_equal(sf_gateway_reply_error(fx->gw, ((uint64_t)77 << 32) | 1000000, "X", "y"), 1);
    /* everyone else is fine */
    roundtrip(fx, post("/v1/User/a/sleep", "{\"args\": [5]}"), 200, "{\"ok\":5}");
    /* a client that half-closes still gets its answers */
    c = cli_open(fx);
    cli_sends(fx, c, post("/v1/User/a/sleep", "{\"args\": [20]}"));
    cli_sends(fx, c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    resp r;
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":20}");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 3000));
    cli_close(c);
    /* a client that resets mid-request */
    c = cli_open(fx);
    cli_sends(fx, c, "POST /v1/User HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"ar");
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cli_close(c);
    pump(fx, 20);
    assert_int_equal(sf_gateway_connections(fx->gw), 0);
    fx_stop(fx);
}

static void test_connection_handling(void **state)
{
    (void)state;
    sf_gateway_limits lim = {.max_connections = 2, .request_timeout_ms = 100, .idle_timeout_ms = 150};
    fixture *fx = fx_start(&lim);
    resp r;
    /* HTTP/1.0: closed after the response unless keep-alive */
    cli *c = cli_open(fx);
    cli_sends(fx, c, "GET /healthz HTTP/1.0\r\n\r\n");
    cli_response(fx, c, &r);
    assert_non_null(strstr(r.headers, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 1000));
    cli_close(c);
    c = cli_open(fx);
    cli_sends(fx, c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cli_response(fx, c, &r);
    assert_non_null(strstr(r.headers, "Connection: keep-alive\r\n"));
    resp_free(&r);
    cli_sends(fx, c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cli_response(fx, c, &r);
    resp_free(&r);
    /* idle keep-alive connections are closed after idle_timeout_ms */
    uint64_t t0 = uv_hrtime();
    assert_true(cli_wait_eof(fx, c, 2000));
    assert_true(uv_hrtime() - t0 >= 100000000u);
    cli_close(c);
    /* mid-request silence: dropped after request_timeout_ms, no response */
    c = cli_open(fx);
    cli_sends(fx, c, "POST /v1/User HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{\"a");
    t0 = uv_hrtime();
    assert_true(cli_wait_eof(fx, c, 2000));
    assert_true(uv_hrtime() - t0 >= 80000000u);
    assert_int_equal(c->in.len, 0);
    cli_close(c);
    assert_non_null(strstr(fx->log, "request timeout"));
    /* max connections: the third gets 503 and is closed */
    cli *a = cli_open(fx), *b = cli_open(fx);
    pump(fx, 5);
    assert_int_equal(sf_gateway_connections(fx->gw), 2);
    c = cli_open(fx);
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body.data, "too many connections"));
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 1000));
    cli_close(c);
    cli_sends(fx, a, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    cli_response(fx, a, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    cli_close(a);
    cli_close(b);
    pump(fx, 5);
    /* Expect: 100-continue */
    c = cli_open(fx);
    cli_sends(fx, c, "POST /v1/User HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n");
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    cli_sends(fx, c, "{\"args\": [\"exp\"]}");
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "{\"ok\":{\"$ref\":[\"User\",\"exp\"]}}");
    resp_free(&r);
    /* a chunked body */
    cli_sends(fx, c, "POST /v1/User/a/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "4\r\n{\"ar\r\n9\r\ngs\": [1]}\r\n0\r\n\r\n");
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"ok\":[1]}");
    resp_free(&r);
    /* a protocol error answers and closes, after earlier responses */
    cli_sends(fx, c, post("/v1/User/a/sleep", "{\"args\": [30]}"));
    cli_sends(fx, c, "GET / HTTP/1.1\r\nHost: t\r\nX\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    cli_response(fx, c, &r);
    assert_string_equal(r.body.data, "{\"ok\":30}");
    resp_free(&r);
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.headers, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(cli_wait_eof(fx, c, 1000));
    assert_int_equal(c->in.len, 0);
    cli_close(c);
    fx_stop(fx);
}


/* Send s one byte every step_ms until the server closes (or max_ms). */
static int trickle(fixture *fx, cli *c, const char *s, int step_ms, int max_ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)max_ms * 1000000u;
    size_t i = 0, n = strlen(s);
    while (uv_hrtime() < end) {
        if (i < n && send(c->fd, s + i, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
            i++;
        pump(fx, step_ms);
        cli_pull(c);
        if (c->eof)
            return 1;
    }
    return 0;
}

/* No lockout by the unauthenticated: a slow trickle of bytes is cut off by
 * the total deadline of a request's head and of its body; at the connection
 * cap the connected clients are served and newcomers get a clear 503; a
 * request without Host is 400; the log stays bounded. */
static void test_lockout(void **state)
{
    (void)state;
    sf_gateway_limits lim = {.max_connections = 3, .request_timeout_ms = 5000, .idle_timeout_ms = 20000,
                             .head_timeout_ms = 300, .body_timeout_ms = 300, .log_per_sec = 3};
    fixture *fx = fx_start(&lim);
    resp r;
    /* slowloris on the head: a byte every 50 ms, silence never reached */
    cli *c = cli_open(fx);
    assert_true(trickle(fx, c, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50,
                        5000));
    assert_int_equal(c->in.len, 0);
    cli_close(c);
    assert_non_null(strstr(fx->log, "request head not complete within 300 ms"));
    /* and on the body */
    c = cli_open(fx);
    cli_sends(fx, c, "POST /v1/User HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n");
    assert_true(trickle(fx, c, "{\"args\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50, 5000));
    cli_close(c);
    assert_non_null(strstr(fx->log, "request body not complete within 300 ms"));
    /* a request that arrives whole in time is answered, also in pieces */
    c = cli_open(fx);
    assert_false(trickle(fx, c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 2, 200));
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    cli_close(c);
    /* HTTP/1.1 without Host: 400; HTTP/1.0 may leave it out */
    roundtrip(fx, "GET /healthz HTTP/1.1\r\n\r\n", 400, NULL);
    roundtrip(fx, "GET /healthz HTTP/1.0\r\n\r\n", 200, "{\"ok\":true}");
    /* the connection cap, held: the clients connected are still served */
    cli *held[3];
    for (int i = 0; i < 3; i++)
        held[i] = cli_open(fx);
    pump(fx, 5);
    assert_int_equal(sf_gateway_connections(fx->gw), 3);
    for (int round = 0; round < 5; round++) {
        c = cli_open(fx);
        cli_sends(fx, c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        cli_response(fx, c, &r);
        assert_int_equal(r.status, 503);
        assert_non_null(strstr(r.body.data, "too many connections"));
        assert_non_null(strstr(r.headers, "Connection: close\r\n"));
        resp_free(&r);
        assert_true(cli_wait_eof(fx, c, 5000));
        cli_close(c);
        for (int i = 0; i < 3; i++) {
            cli_sends(fx, held[i], "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
            cli_response(fx, held[i], &r);
            assert_int_equal(r.status, 200);
            resp_free(&r);
        }
    }
    for (int i = 0; i < 3; i++)
        cli_close(held[i]);
    pump(fx, 20);
    /* one bad connection after another: the log stays bounded */
    size_t before = fx->nlog;
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 40; i++)
        roundtrip(fx, "BLAH BLAH BLAH\r\n\r\n", 400, NULL);
    uint64_t secs = (uv_hrtime() - t0) / 1000000000u + 1;
    size_t lines = fx->nlog - before;
    if (lines > 2 * 3 * secs)
        fail_msg("%zu log lines for 40 bad requests in %llu s", lines, (unsigned long long)secs);
    fx_stop(fx);
}

static void test_backpressure(void **state)
{
    (void)state;
    sf_gateway_limits lim = {.max_pipeline = 3, .max_inflight = 5, .request_timeout_ms = 150};
    fixture *fx = fx_start(&lim);
    /* 30 pipelined requests (some batches of 4) with replies out of order:
     * the gateway parses only a few ahead, and everything comes back in
     * order */
    sf_buf b;
    sf_buf_init(&b);
    char body[512];
    for (int i = 0; i < 30; i++) {
        int d = 1 + (i * 7) % 13;
        if (i % 5 == 4) {
            snprintf(body, sizeof body,
                     "[{\"id\":%d,\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\",\"args\":[%d]},"
                     "{\"op\":\"get\",\"entity\":\"U\",\"key\":%d},"
                     "{\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\",\"args\":[%d]},"
                     "{\"op\":\"call\",\"entity\":\"U\",\"key\":1,\"method\":\"sleep\",\"args\":[1]}]",
                     i, d, i, 14 - d);
            sf_buf_puts(&b, post("/v1/requests", body));
        } else {
            snprintf(body, sizeof body, "{\"args\": [%d]}", d);
            sf_buf_puts(&b, post("/v1/User/a/sleep", body));
        }
    }
    cli *c = cli_open(fx);
    cli_send(fx, c, b.data, b.len);
    sf_buf_free(&b);
    for (int i = 0; i < 30; i++) {
        resp r;
        cli_response(fx, c, &r);
        int d = 1 + (i * 7) % 13;
        char want[256];
        if (i % 5 == 4)
            snprintf(want, sizeof want,
                     "[{\"id\":%d,\"ok\":%d},{\"ok\":{\"entity\":\"U\",\"key\":%d}},{\"ok\":%d},{\"ok\":1}]", i, d,
                     i, 14 - d);
        else
            snprintf(want, sizeof want, "{\"ok\":%d}", d);
        assert_string_equal(r.body.data, want);
        resp_free(&r);
    }
    cli_close(c);
    /* a client that sends but never reads its (large) responses is dropped
     * once its output has been stuck for request_timeout_ms */
    c = cli_open(fx);
    for (int i = 0; i < 6; i++)
        cli_sends(fx, c, post("/v1/User/a/big", ""));
    uint64_t end = uv_hrtime() + 3000000000u;
    while (sf_gateway_connections(fx->gw) > 0 && uv_hrtime() < end)
        pump(fx, 10);
    assert_int_equal(sf_gateway_connections(fx->gw), 0);
    assert_non_null(strstr(fx->log, "not reading"));
    cli_close(c);
    roundtrip(fx, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL);
    fx_stop(fx);
}

/* A submit callback that closes the whole gateway. */
typedef struct closer {
    sf_gateway *gw;
    int calls;
} closer;

static int closing_submit(void *ud, const char *req, size_t len, uint64_t token)
{
    closer *cl = ud;
    (void)req;
    (void)len;
    cl->calls++;
    if (cl->calls == 1) {
        /* answer first, then pull the rug */
        assert_int_equal(sf_gateway_reply_error(cl->gw, token, "NotFound", "x"), 0);
        sf_gateway_close(cl->gw);
        return -1;
    }
    return 0;
}

static void on_guard(uv_timer_t *t) { uv_stop(t->loop); }

static void test_close_inside_submit(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    closer cl = {0};
    sf_gateway_ops ops = {.submit = closing_submit};
    char err[200];
    assert_int_equal(sf_gateway_start(&loop, "127.0.0.1", 0, &ops, &cl, &cl.gw, err, sizeof err), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)sf_gateway_port(cl.gw));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *req = "POST /v1/requests HTTP/1.1\r\nHost: t\r\nContent-Length: 103\r\n\r\n"
                      "[{\"op\":\"get\",\"entity\":\"U\",\"key\":1},{\"op\":\"get\",\"entity\":\"U\",\"key\":2},"
                      "{\"op\":\"get\",\"entity\":\"U\",\"key\":3}]"
                      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    /* a guard so that a gateway that does not close fails the test quickly */
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, 3000, 0);
    uv_unref((uv_handle_t *)&guard);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the gateway is gone (or the guard fired) */
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(cl.calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    char buf[256];
    assert_true(recv(fd, buf, sizeof buf, 0) <= 0); /* closed without a response */
    close(fd);
}

static void test_metrics_endpoint(void **state)
{
    (void)state;
    fixture *fx = fx_start(NULL);
    roundtrip(fx, post("/v1/User", "{\"args\": [\"m\"]}"), 201, NULL);
    roundtrip(fx, post("/v1/User/m/echo", ""), 200, NULL);
    roundtrip(fx, post("/v1/User/m/echo", ""), 200, NULL);
    roundtrip(fx, "GET /v1/User/m HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL);
    roundtrip(fx, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    /* the daemon's own series live in the same registry */
    sf_metric *commits = sf_metrics_counter(fx->metrics, "stateflow_commits_total", "", NULL);
    assert_non_null(commits);
    sf_metric_add(commits, 4);
    cli *c = cli_open(fx);
    cli_sends(fx, c, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    resp r;
    cli_response(fx, c, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    const char *t = r.body.data;
    assert_non_null(strstr(t, "# TYPE stateflow_requests_total counter\n"));
    assert_non_null(strstr(t, "stateflow_requests_total{op=\"create\"} 1\n"));
    assert_non_null(strstr(t, "stateflow_requests_total{op=\"call\"} 2\n"));
    assert_non_null(strstr(t, "stateflow_requests_total{op=\"get\"} 1\n"));
    assert_non_null(strstr(t, "stateflow_commits_total 4\n"));
    assert_non_null(strstr(t, "# TYPE stateflow_request_latency_seconds histogram\n"));
    assert_non_null(strstr(t, "stateflow_request_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t, "stateflow_request_latency_seconds_count 4\n"));
    assert_non_null(strstr(t, "stateflow_request_latency_seconds_sum "));
    assert_non_null(strstr(t, "stateflow_http_connections 1\n"));
    assert_non_null(strstr(t, "stateflow_http_responses_total{code=\"201\"} 1\n"));
    assert_non_null(strstr(t, "stateflow_http_responses_total{code=\"200\"} 3\n"));
    assert_non_null(strstr(t, "stateflow_http_responses_total{code=\"404\"} 1\n"));
    /* every line is a comment or `name{labels} value` */
    for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (*line == '#')
            continue;
        const char *sp = memchr(line, ' ', (size_t)(nl - line));
        assert_non_null(sp);
        char *endp;
        strtod(sp + 1, &endp);
        assert_ptr_equal(endp, nl);
    }
    resp_free(&r);
    cli_close(c);
    fx_stop(fx);
}

/* A gateway without metrics or health callbacks, closed with requests in
 * flight and connections open. */
static int plain_submit(void *ud, const char *req, size_t len, uint64_t token)
{
    (void)req;
    (void)len;
    *(uint64_t *)ud = token; /* never answered */
    return 0;
}

static void test_minimal_ops_and_close(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    sf_gateway *gw;
    char err[200];
    uint64_t tok = 0;
    sf_gateway_ops ops = {.submit = plain_submit};
    assert_int_equal(sf_gateway_start(&loop, "not-an-ip", 0, &ops, &tok, &gw, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an IPv4 or IPv6"));
    sf_gateway_ops none = {0};
    assert_int_equal(sf_gateway_start(&loop, "127.0.0.1", 0, &none, NULL, &gw, err, sizeof err), -1);
    assert_int_equal(sf_gateway_start(&loop, "::1", 0, &ops, &tok, &gw, err, sizeof err) == 0 ||
                         strstr(err, "cannot listen") != NULL,
                     1);
    if (gw)
        sf_gateway_close(gw);
    assert_int_equal(sf_gateway_start(&loop, "127.0.0.1", 0, &ops, &tok, &gw, err, sizeof err), 0);
    /* a second gateway on the same port fails cleanly */
    sf_gateway *gw2;
    assert_int_equal(sf_gateway_start(&loop, "127.0.0.1", sf_gateway_port(gw), &ops, &tok, &gw2, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "cannot listen"));
    int port = sf_gateway_port(gw);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/U/k HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    char buf[4096];
    size_t got = 0;
    uint64_t end = uv_hrtime() + 3000000000u;
    while (tok == 0 && uv_hrtime() < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        usleep(500);
    }
    assert_int_not_equal(tok, 0);
    assert_int_equal(sf_gateway_connections(gw), 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);
    if (n > 0)
        got += (size_t)n;
    buf[got] = '\0';
    /* empty exposition, healthy by default */
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 0\r\n"));
    assert_non_null(strstr(buf, "{\"ok\":true}"));
    sf_gateway_close(gw); /* with a request in flight */
    while (uv_run(&loop, UV_RUN_DEFAULT))
        ;
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fd);
}

static void test_decode_request(void **state)
{
    (void)state;
    sf_reqmap r;
    char err[200];
    sf_buf m;
    sf_buf_init(&m);
    struct {
        const char *json;
        const char *error; /* NULL: valid */
    } cases[] = {
        {"{\"id\":\"r\",\"op\":\"call\",\"entity\":\"U\",\"key\":[1],\"method\":\"m\",\"args\":[1,2]}", NULL},
        {"{\"op\":\"create\",\"entity\":\"U\"}", NULL},
        {"{\"op\":\"get\",\"entity\":\"U\",\"key\":null,\"id\":1.5}", NULL},
        {"[1]", "must be a map"},
        {"{\"op\":\"get\",\"entity\":\"U\",\"key\":1,\"x\":1}", "unknown member"},
        {"{\"op\":\"get\",\"op\":\"get\",\"entity\":\"U\",\"key\":1}", "duplicate"},
        {"{\"op\":\"jump\",\"entity\":\"U\"}", "unknown op"},
        {"{\"op\":1,\"entity\":\"U\"}", "\"op\""},
        {"{\"entity\":\"U\"}", "\"op\""},
        {"{\"op\":\"create\"}", "missing \"entity\""},
        {"{\"op\":\"create\",\"entity\":\"\"}", "\"entity\""},
        {"{\"op\":\"create\",\"entity\":\"U\",\"key\":1}", "not allowed"},
        {"{\"op\":\"get\",\"entity\":\"U\"}", "missing \"key\""},
        {"{\"op\":\"call\",\"entity\":\"U\",\"key\":1}", "missing \"method\""},
        {"{\"op\":\"get\",\"entity\":\"U\",\"key\":1,\"method\":\"m\"}", "only allowed"},
        {"{\"op\":\"get\",\"entity\":\"U\",\"key\":1,\"args\":[]}", "not allowed"},
        {"{\"op\":\"create\",\"entity\":\"U\",\"args\":{}}", "must be an array"},
        {"{\"op\":\"create\",\"entity\":\"U\",\"id\":[1]}", "\"id\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sf_buf_reset(&m);
        assert_int_equal(sf_json_to_msgpack(cases[i].json, strlen(cases[i].json), &m, err, sizeof err), 0);
        int rc = sf_reqmap_decode(m.data, m.len, &r, err, sizeof err);
        if (!cases[i].error) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].json, err);
        } else {
            assert_int_equal(rc, -1);
            if (!strstr(err, cases[i].error))
                fail_msg("%s: got \"%s\", expected \"%s\"", cases[i].json, err, cases[i].error);
        }
    }
    /* the first case, field by field */
    sf_buf_reset(&m);
    const char *j = cases[0].json;
    assert_int_equal(sf_json_to_msgpack(j, strlen(j), &m, err, sizeof err), 0);
    assert_int_equal(sf_reqmap_decode(m.data, m.len, &r, err, sizeof err), 0);
    assert_int_equal(r.op, SF_OP_CALL);
    assert_int_equal(r.entity_len, 1);
    assert_memory_equal(r.entity, "U", 1);
    assert_int_equal(r.method_len, 1);
    assert_int_equal(r.key_len, 2);
    assert_memory_equal(r.key, "\x91\x01", 2);
    assert_int_equal(r.args_len, 3);
    assert_memory_equal(r.args, "\x92\x01\x02", 3);
    assert_int_equal(r.id_len, 2);
    /* trailing bytes and truncation */
    sf_buf_putc(&m, 0);
    assert_int_equal(sf_reqmap_decode(m.data, m.len, &r, err, sizeof err), -1);
    for (size_t cut = 0; cut + 1 < m.len; cut++)
        assert_int_equal(sf_reqmap_decode(m.data, cut, &r, err, sizeof err), -1);
    sf_buf_free(&m);
    assert_int_equal(sf_gateway_error_status("BadRequest"), 400);
    assert_int_equal(sf_gateway_error_status("NotFound"), 404);
    assert_int_equal(sf_gateway_error_status("AlreadyExists"), 409);
    assert_int_equal(sf_gateway_error_status("Unavailable"), 503);
    assert_int_equal(sf_gateway_error_status("InternalError"), 500);
    assert_int_equal(sf_gateway_error_status("ZeroDivisionError"), 422);
    assert_int_equal(sf_gateway_error_status("TypeError"), 422);
}

int main(void)
{
    /* as in stateflowd: a write to a vanished client must fail, not kill us */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_request),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_pipelining_out_of_order),
        cmocka_unit_test(test_client_vanishes),
        cmocka_unit_test(test_connection_handling),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_close_inside_submit),
        cmocka_unit_test(test_metrics_endpoint),
        cmocka_unit_test(test_minimal_ops_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
