/* test_http.c: the HTTP/1.1 request parser, path splitting, response head
 * writer (runtime/wire/http.c) and the metrics registry (runtime/wire/metrics.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "metrics.h"
#include "stateflow/sf_util.h"

/* ---- helpers ---------------------------------------------------------------- */

/* What we remember of one parsed request. */
typedef struct seen {
    int method;
    char target[SF_HTTP_MAX_REQUEST_LINE + 1];
    int minor, keep_alive, chunked, expect;
    size_t nheaders;
    char body[4096];
    size_t body_len;
} seen;

typedef struct run {
    seen reqs[16];
    size_t n;
    int continues;
    int error; /* status, 0 if none */
    char message[160];
} run;

static void remember(run *r, const sf_http_request *q)
{
    assert_true(r->n < 16);
    seen *s = &r->reqs[r->n++];
    memset(s, 0, sizeof *s);
    s->method = q->method;
    assert_true(q->target_len < sizeof s->target);
    memcpy(s->target, q->target, q->target_len);
    s->minor = q->version_minor;
    s->keep_alive = q->keep_alive;
    s->chunked = q->chunked;
    s->expect = q->expect_continue;
    s->nheaders = q->nheaders;
    assert_true(q->body_len < sizeof s->body);
    memcpy(s->body, q->body, q->body_len);
    s->body_len = q->body_len;
    assert_int_equal(q->body[q->body_len], '\0');
}

/* Feed one piece; handle every result. */
static void feed_piece(sf_http_parser *p, run *r, const char *d, size_t n)
{
    while (!r->error) {
        size_t used = 99999;
        int rc = sf_http_parser_feed(p, d, n, &used);
        assert_true(used <= n);
        d += used;
        n -= used;
        if (rc == SF_HTTP_ERROR) {
            r->error = p->status;
            snprintf(r->message, sizeof r->message, "%s", p->message);
            assert_true(p->message[0] != '\0');
            return;
        }
        if (rc == SF_HTTP_DONE)
            remember(r, &p->req);
        else if (rc == SF_HTTP_CONTINUE)
            r->continues++;
        else {
            assert_int_equal(rc, SF_HTTP_NEED_MORE);
            assert_int_equal(n, 0);
            return;
        }
        if (n == 0)
            return;
    }
}

static void parse_all(const char *d, size_t n, run *r)
{
    sf_http_parser p;
    memset(r, 0, sizeof *r);
    sf_http_parser_init(&p, NULL);
    feed_piece(&p, r, d, n);
    sf_http_parser_free(&p);
}

static void parse_split(const char *d, size_t n, size_t k, run *r)
{
    sf_http_parser p;
    memset(r, 0, sizeof *r);
    sf_http_parser_init(&p, NULL);
    feed_piece(&p, r, d, k);
    feed_piece(&p, r, d + k, n - k);
    sf_http_parser_free(&p);
}

static void parse_bytewise(const char *d, size_t n, run *r)
{
    sf_http_parser p;
    memset(r, 0, sizeof *r);
    sf_http_parser_init(&p, NULL);
    for (size_t i = 0; i < n; i++)
        feed_piece(&p, r, d + i, 1);
    sf_http_parser_free(&p);
}

static void assert_same_run(const run *a, const run *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->error, b->error);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->reqs[i].method, b->reqs[i].method);
        assert_string_equal(a->reqs[i].target, b->reqs[i].target);
        assert_int_equal(a->reqs[i].minor, b->reqs[i].minor);
        assert_int_equal(a->reqs[i].keep_alive, b->reqs[i].keep_alive);
        assert_int_equal(a->reqs[i].chunked, b->reqs[i].chunked);
        assert_int_equal(a->reqs[i].nheaders, b->reqs[i].nheaders);
        assert_int_equal(a->reqs[i].body_len, b->reqs[i].body_len);
        assert_memory_equal(a->reqs[i].body, b->reqs[i].body, a->reqs[i].body_len);
    }
}

/* Parse text whole, split at every byte and byte by byte: same result. */
static void check_every_split(const char *d, size_t n, run *whole)
{
    parse_all(d, n, whole);
    run r;
    for (size_t k = 0; k <= n; k++) {
        parse_split(d, n, k, &r);
        assert_same_run(whole, &r);
    }
    parse_bytewise(d, n, &r);
    assert_same_run(whole, &r);
}

static int expect_error(const char *text)
{
    run r;
    parse_all(text, strlen(text), &r);
    return r.error;
}

static void check_status(const char *text, int status)
{
    int got = expect_error(text);
    if (got != status)
        fail_msg("%d expected, got %d for: %s", status, got, text);
}

/* ---- basic parsing ------------------------------------------------------------ */

static void test_simple_get(void **state)
{
    (void)state;
    const char *t = "GET /v1/User/alice?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  spaced value \t\r\n\r\n";
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    assert_int_equal(sf_http_parser_busy(&p), 0);
    assert_int_equal(sf_http_parser_feed(&p, t, strlen(t), &used), SF_HTTP_DONE);
    assert_int_equal(used, strlen(t));
    assert_int_equal(p.req.method, SF_HTTP_GET);
    assert_int_equal(p.req.method_len, 3);
    assert_memory_equal(p.req.method_name, "GET", 3);
    assert_int_equal(p.req.target_len, strlen("/v1/User/alice?x=1"));
    assert_memory_equal(p.req.target, "/v1/User/alice?x=1", p.req.target_len);
    assert_int_equal(p.req.version_minor, 1);
    assert_int_equal(p.req.keep_alive, 1);
    assert_int_equal(p.req.nheaders, 2);
    const sf_http_header *h = sf_http_find_header(&p.req, "x-THING");
    assert_non_null(h);
    assert_int_equal(h->value_len, strlen("spaced value"));
    assert_memory_equal(h->value, "spaced value", h->value_len);
    assert_null(sf_http_find_header(&p.req, "content-length"));
    assert_int_equal(p.req.body_len, 0);
    assert_int_equal(sf_http_parser_busy(&p), 0);
    sf_http_parser_free(&p);
}

static void test_methods_and_versions(void **state)
{
    (void)state;
    run r;
    const char *t = "POST / HTTP/1.0\r\n\r\n"
                    "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    "PUT / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                    "BREW /pot HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, CLOSE\r\n\r\n"
                    "DELETE / HTTP/1.9\r\nHost: t\r\n\r\n";
    parse_all(t, strlen(t), &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.reqs[0].method, SF_HTTP_POST);
    assert_int_equal(r.reqs[0].minor, 0);
    assert_int_equal(r.reqs[0].keep_alive, 0);
    assert_int_equal(r.reqs[1].method, SF_HTTP_HEAD);
    assert_int_equal(r.reqs[1].keep_alive, 1);
    assert_int_equal(r.reqs[2].method, SF_HTTP_PUT);
    assert_int_equal(r.reqs[2].keep_alive, 0);
    assert_int_equal(r.reqs[3].method, SF_HTTP_OTHER);
    assert_int_equal(r.reqs[3].keep_alive, 0);
    assert_int_equal(r.reqs[4].method, SF_HTTP_DELETE);
    assert_int_equal(r.reqs[4].minor, 1); /* HTTP/1.9 handled as 1.1 */
    assert_int_equal(r.reqs[4].keep_alive, 1);
}

static void test_bad_versions(void **state)
{
    (void)state;
    check_status("GET / HTTP/2.0\r\n\r\n", 505);
    check_status("GET / HTTP/0.9\r\n\r\n", 505);
    check_status("GET / HTTP/3.1\r\n\r\n", 505);
    check_status("GET / HTTP/1\r\n\r\n", 400);
    check_status("GET / HTTP/1.1.1\r\n\r\n", 400);
    check_status("GET / http/1.1\r\n\r\n", 400);
    check_status("GET / HTTX/1.1\r\n\r\n", 400);
    check_status("GET / HTTP/a.1\r\n\r\n", 400);
    check_status("GET /\r\n\r\n", 400); /* HTTP/0.9 style */
    check_status("GET / HTTP/1.1 \r\n\r\n", 400);
    /* the status comes as soon as the request line is complete */
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    assert_int_equal(sf_http_parser_feed(&p, "GET / HTTP/2.0\r\n", 16, &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 505);
    /* sticky */
    assert_int_equal(sf_http_parser_feed(&p, "GET / HTTP/1.1\r\n\r\n", 18, &used), SF_HTTP_ERROR);
    assert_int_equal(used, 0);
    sf_http_parser_reset(&p);
    assert_int_equal(sf_http_parser_feed(&p, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 27, &used), SF_HTTP_DONE);
    sf_http_parser_free(&p);
}

static void test_malformed(void **state)
{
    (void)state;
    check_status("GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status(" GET / HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\n\r\n" "G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET /a\x01 HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET /\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET relative HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\rX: y\r\n\r\n", 400);          /* bare CR */
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400);     /* bare CR in a value */
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX: a\x7f\r\n\r\n", 400);     /* DEL */
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX: a\x01\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\n: empty name\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX : space before colon\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX\"y: a\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n", 0); /* strlen stops at the NUL: incomplete */
    /* a NUL inside a line */
    {
        static const char t[] = "GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n";
        run r;
        parse_all(t, sizeof t - 1, &r);
        assert_int_equal(r.error, 400);
    }
    /* HTTP/1.0 ignores Expect; HTTP/1.1 rejects unknown expectations */
    check_status("GET / HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n", 417);
    check_status("GET / HTTP/1.0\r\nExpect: teapot\r\n\r\n", 0);
}

static void test_content_length(void **state)
{
    (void)state;
    run r;
    const char *t = "POST /v1/User HTTP/1.1\r\nHost: t\r\ncontent-LENGTH: 11\r\n\r\n{\"args\":[]}"
                    "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    parse_all(t, strlen(t), &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.reqs[0].body_len, 11);
    assert_string_equal(r.reqs[0].body, "{\"args\":[]}");
    assert_string_equal(r.reqs[1].body, "abc");
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1 2\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413);
    /* a body that has not arrived yet: busy */
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    const char *h = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab";
    assert_int_equal(sf_http_parser_feed(&p, h, strlen(h), &used), SF_HTTP_NEED_MORE);
    assert_int_equal(sf_http_parser_busy(&p), 1);
    assert_int_equal(sf_http_parser_feed(&p, "cdeGET", 6, &used), SF_HTTP_DONE);
    assert_int_equal(used, 3);
    assert_string_equal(p.req.body, "abcde");
    assert_int_equal(sf_http_parser_feed(&p, "GET", 3, &used), SF_HTTP_NEED_MORE);
    assert_int_equal(sf_http_parser_busy(&p), 1);
    sf_http_parser_free(&p);
}

static void test_pipelining_and_splits(void **state)
{
    (void)state;
    const char *t = "\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /v1/User HTTP/1.1\nHost: t\nContent-Length: 19\n\n{\"args\": [\"alice\"]}"
                    "POST /v1/requests HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;ext=1\r\n[{\"op\r\n"
                    "A\r\n\":\"get\",\"e\r\n"
                    "0\r\nX-Trailer: t\r\n\r\n"
                    "POST /v1/x/y/z HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
                    "GET /metrics HTTP/1.0\r\n\r\n";
    run whole;
    check_every_split(t, strlen(t), &whole);
    assert_int_equal(whole.error, 0);
    assert_int_equal(whole.n, 5);
    assert_string_equal(whole.reqs[0].target, "/healthz");
    assert_string_equal(whole.reqs[1].body, "{\"args\": [\"alice\"]}");
    assert_int_equal(whole.reqs[2].chunked, 1);
    assert_string_equal(whole.reqs[2].body, "[{\"op\":\"get\",\"e");
    assert_int_equal(whole.reqs[3].expect, 1);
    assert_string_equal(whole.reqs[3].body, "hi");
    assert_int_equal(whole.reqs[4].keep_alive, 0);
    assert_int_equal(whole.continues, 1);
}

static void test_chunked(void **state)
{
    (void)state;
    run r;
    const char *t = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    "3\r\nabc\r\n" "10 ; a=b;c\r\n0123456789abcdef\n" "0\r\n\r\n";
    check_every_split(t, strlen(t), &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.reqs[0].body, "abc0123456789abcdef");
    /* TE as a list across fields */
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n", 0);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400);
    check_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded: x\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413);
    check_status("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\n", 413);
    /* a chunk-size line over its limit */
    {
        sf_buf b;
        sf_buf_init(&b);
        sf_buf_puts(&b, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;");
        for (int i = 0; i < SF_HTTP_MAX_CHUNK_LINE + 10; i++)
            sf_buf_putc(&b, 'x');
        parse_all(b.data, b.len, &r);
        assert_int_equal(r.error, 400);
        sf_buf_free(&b);
    }
    /* chunks adding up over the body limit */
    {
        sf_buf b;
        sf_buf_init(&b);
        sf_buf_puts(&b, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        size_t chunk = 0x40000; /* 256 KiB */
        char *data = malloc(chunk);
        memset(data, 'a', chunk);
        for (int i = 0; i < 4; i++) {
            sf_buf_printf(&b, "%zx\r\n", chunk);
            sf_buf_append(&b, data, chunk);
            sf_buf_puts(&b, "\r\n");
        }
        size_t ok_len = b.len;
        sf_buf_puts(&b, "1\r\n");
        sf_http_parser p;
        sf_http_parser_init(&p, NULL);
        size_t used;
        assert_int_equal(sf_http_parser_feed(&p, b.data, ok_len, &used), SF_HTTP_NEED_MORE);
        assert_int_equal(sf_http_parser_feed(&p, b.data + ok_len, b.len - ok_len, &used), SF_HTTP_ERROR);
        assert_int_equal(p.status, 413);
        sf_http_parser_free(&p);
        /* exactly the limit is fine */
        sf_http_parser_init(&p, NULL);
        assert_int_equal(sf_http_parser_feed(&p, b.data, ok_len, &used), SF_HTTP_NEED_MORE);
        assert_int_equal(sf_http_parser_feed(&p, "0\r\n\r\n", 5, &used), SF_HTTP_DONE);
        assert_int_equal(p.req.body_len, SF_HTTP_MAX_BODY);
        sf_http_parser_free(&p);
        free(data);
        sf_buf_free(&b);
    }
    /* trailers too large */
    {
        sf_buf b;
        sf_buf_init(&b);
        sf_buf_puts(&b, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
        for (int i = 0; i < 2000; i++)
            sf_buf_puts(&b, "X-Trailer: 1234\r\n");
        parse_all(b.data, b.len, &r);
        assert_int_equal(r.error, 431);
        sf_buf_free(&b);
    }
}

static void test_expect_continue(void **state)
{
    (void)state;
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    const char *h = "POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, h, strlen(h), &used), SF_HTTP_CONTINUE);
    assert_int_equal(used, strlen(h));
    assert_int_equal(p.req.expect_continue, 1);
    assert_int_equal(sf_http_parser_busy(&p), 1);
    assert_int_equal(sf_http_parser_feed(&p, "body", 4, &used), SF_HTTP_DONE);
    assert_string_equal(p.req.body, "body");
    /* no body: nothing to wait for */
    h = "GET /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, h, strlen(h), &used), SF_HTTP_DONE);
    assert_int_equal(p.req.expect_continue, 0);
    /* too large: 413 instead of 100 */
    h = "POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1048577\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, h, strlen(h), &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 413);
    sf_http_parser_free(&p);
}

/* ---- limits ----------------------------------------------------------------------- */

static void request_with_target(sf_buf *b, size_t line_len)
{
    /* "GET /aaaa HTTP/1.1" of exactly line_len bytes */
    sf_buf_reset(b);
    sf_buf_puts(b, "GET /");
    while (b->len < line_len - 9)
        sf_buf_putc(b, 'a');
    sf_buf_puts(b, " HTTP/1.1");
    assert_int_equal(b->len, line_len);
    sf_buf_puts(b, "\r\nHost: t\r\n\r\n");
}

static void test_limit_request_line(void **state)
{
    (void)state;
    sf_buf b;
    sf_buf_init(&b);
    run r;
    request_with_target(&b, SF_HTTP_MAX_REQUEST_LINE);
    parse_all(b.data, b.len, &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 1);
    request_with_target(&b, SF_HTTP_MAX_REQUEST_LINE + 1);
    parse_all(b.data, b.len, &r);
    assert_int_equal(r.error, 414);
    /* decided before the line ends: a never-ending line */
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    int rc = SF_HTTP_NEED_MORE;
    size_t fed = 0;
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    assert_int_equal(sf_http_parser_feed(&p, "GET /", 5, &used), SF_HTTP_NEED_MORE);
    while (rc == SF_HTTP_NEED_MORE && fed < 100000) {
        rc = sf_http_parser_feed(&p, chunk, sizeof chunk, &used);
        fed += sizeof chunk;
    }
    assert_int_equal(rc, SF_HTTP_ERROR);
    assert_int_equal(p.status, 414);
    assert_true(fed <= SF_HTTP_MAX_REQUEST_LINE + sizeof chunk);
    sf_http_parser_free(&p);
    /* with a bare LF the CR allowance does not matter */
    request_with_target(&b, SF_HTTP_MAX_REQUEST_LINE + 1);
    b.data[SF_HTTP_MAX_REQUEST_LINE + 1] = '\n';
    parse_all(b.data, b.len, &r);
    assert_int_equal(r.error, 414);
    sf_buf_free(&b);
}

static void test_limit_headers(void **state)
{
    (void)state;
    sf_buf b;
    sf_buf_init(&b);
    run r;
    /* exactly 100 fields, then 101 */
    for (int n = 100; n <= 101; n++) {
        sf_buf_reset(&b);
        sf_buf_puts(&b, "GET / HTTP/1.1\r\nHost: t\r\n");
        for (int i = 1; i < n; i++) /* Host is the first */
            sf_buf_printf(&b, "X-%d: v\r\n", i);
        sf_buf_puts(&b, "\r\n");
        parse_all(b.data, b.len, &r);
        if (n == 100) {
            assert_int_equal(r.error, 0);
            assert_int_equal(r.reqs[0].nheaders, 100);
        } else {
            assert_int_equal(r.error, 431);
        }
    }
    /* header section of exactly 16 KiB (line endings and the final empty
     * line included), then one byte more */
    for (int extra = 0; extra <= 1; extra++) {
        sf_buf_reset(&b);
        sf_buf_puts(&b, "GET / HTTP/1.1\r\n");
        size_t start = b.len;
        sf_buf_puts(&b, "Host: t\r\nX-Big: ");
        size_t want = SF_HTTP_MAX_HEADER_BYTES + (size_t)extra - 4; /* "\r\n\r\n" */
        while (b.len - start < want)
            sf_buf_putc(&b, 'v');
        sf_buf_puts(&b, "\r\n\r\n");
        assert_int_equal(b.len - start, SF_HTTP_MAX_HEADER_BYTES + (size_t)extra);
        run w;
        parse_all(b.data, b.len, &w);
        assert_int_equal(w.error, extra ? 431 : 0);
        parse_bytewise(b.data, b.len, &r);
        assert_int_equal(r.error, extra ? 431 : 0);
    }
    /* an endless header line is cut off at the limit */
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    char chunk[1000];
    memset(chunk, 'h', sizeof chunk);
    int rc = sf_http_parser_feed(&p, "GET / HTTP/1.1\r\nHost: t\r\nX: ", 28, &used);
    size_t fed = 0;
    while (rc == SF_HTTP_NEED_MORE && fed < 100000) {
        rc = sf_http_parser_feed(&p, chunk, sizeof chunk, &used);
        fed += sizeof chunk;
    }
    assert_int_equal(rc, SF_HTTP_ERROR);
    assert_int_equal(p.status, 431);
    assert_true(fed <= SF_HTTP_MAX_HEADER_BYTES + sizeof chunk);
    sf_http_parser_free(&p);
    /* empty lines before the request line: 8 are skipped, 9 are too many */
    check_status("\r\n\n\r\n\n\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    check_status("\r\n\n\r\n\n\r\n\n\r\n\n\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    sf_buf_free(&b);
}

static void test_limit_body(void **state)
{
    (void)state;
    sf_http_parser p;
    sf_http_parser_init(&p, NULL);
    size_t used;
    char head[128];
    /* over the limit: 413 from the header section alone */
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", SF_HTTP_MAX_BODY + 1);
    assert_int_equal(sf_http_parser_feed(&p, head, strlen(head), &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 413);
    assert_non_null(strstr(p.message, "too large"));
    sf_http_parser_reset(&p);
    /* exactly the limit */
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", SF_HTTP_MAX_BODY);
    assert_int_equal(sf_http_parser_feed(&p, head, strlen(head), &used), SF_HTTP_NEED_MORE);
    char *body = malloc(SF_HTTP_MAX_BODY);
    memset(body, 'b', SF_HTTP_MAX_BODY);
    assert_int_equal(sf_http_parser_feed(&p, body, SF_HTTP_MAX_BODY, &used), SF_HTTP_DONE);
    assert_int_equal(p.req.body_len, SF_HTTP_MAX_BODY);
    free(body);
    sf_http_parser_free(&p);
    /* configurable limits */
    sf_http_limits lim = {.max_request_line = 20, .max_header_bytes = 30, .max_headers = 2, .max_body = 4};
    sf_http_parser_init(&p, &lim);
    const char *t = "POST /abc HTTP/1.1\r\nHost: t\r\nA: 1\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, t, strlen(t), &used), SF_HTTP_DONE);
    t = "POST /abcdef HTTP/1.1\r\nHost: t\r\n"; /* 21 bytes */
    assert_int_equal(sf_http_parser_feed(&p, t, strlen(t), &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 414);
    sf_http_parser_reset(&p);
    t = "POST / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, t, strlen(t), &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 431);
    sf_http_parser_reset(&p);
    t = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n";
    assert_int_equal(sf_http_parser_feed(&p, t, strlen(t), &used), SF_HTTP_ERROR);
    assert_int_equal(p.status, 413);
    sf_http_parser_free(&p);
}

static void test_absolute_form(void **state)
{
    (void)state;
    run r;
    const char *t = "GET http://example.com:8080/v1/User/a?q HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET HTTPS://h HTTP/1.1\r\nHost: t\r\n\r\n"
                    "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n";
    parse_all(t, strlen(t), &r);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.reqs[0].target, "/v1/User/a?q");
    assert_string_equal(r.reqs[1].target, "/");
    assert_string_equal(r.reqs[2].target, "*");
    check_status("GET http:// HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET http://h?q HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    check_status("GET ftp://h/x HTTP/1.1\r\nHost: t\r\n\r\n", 400);
}

/* ---- targets ------------------------------------------------------------------------ */

static void test_percent_decode(void **state)
{
    (void)state;
    sf_buf b;
    sf_buf_init(&b);
    assert_int_equal(sf_http_percent_decode("a%20b%2Fc%2fd+e%41", 18, &b), 0);
    assert_string_equal(b.data, "a b/c/d+eA");
    sf_buf_reset(&b);
    assert_int_equal(sf_http_percent_decode("x%00y", 5, &b), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(b.data[1], '\0');
    sf_buf_reset(&b);
    sf_buf_puts(&b, "keep");
    assert_int_equal(sf_http_percent_decode("bad%2", 5, &b), -1);
    assert_string_equal(b.data, "keep"); /* unchanged on failure */
    assert_int_equal(sf_http_percent_decode("%", 1, &b), -1);
    assert_int_equal(sf_http_percent_decode("%zz", 3, &b), -1);
    assert_int_equal(sf_http_percent_decode("%4g", 3, &b), -1);
    sf_buf_free(&b);

    assert_int_equal(sf_utf8_valid("plain", 5), 1);
    assert_int_equal(sf_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), 1);
    assert_int_equal(sf_utf8_valid("\xc3", 1), 0);
    assert_int_equal(sf_utf8_valid("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(sf_utf8_valid("\xed\xa0\x80", 3), 0);     /* surrogate */
    assert_int_equal(sf_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    assert_int_equal(sf_utf8_valid("\xff", 1), 0);
    assert_int_equal(sf_utf8_valid("\xe2\x28\xa1", 3), 0);
}

static void test_split_path(void **state)
{
    (void)state;
    sf_http_path p;
    char err[200];
    sf_buf_init(&p.buf);
    const char *t = "/v1/User/al%2Fice%20x/buy?x=%zz#frag";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), 0);
    assert_int_equal(p.nseg, 4);
    assert_string_equal(sf_http_path_seg(&p, 0), "v1");
    assert_string_equal(sf_http_path_seg(&p, 1), "User");
    assert_string_equal(sf_http_path_seg(&p, 2), "al/ice x");
    assert_int_equal(p.len[2], 8);
    assert_string_equal(sf_http_path_seg(&p, 3), "buy");
    assert_int_equal(p.query_len, 5);
    assert_memory_equal(p.query, "x=%zz", 5);
    t = "/";
    assert_int_equal(sf_http_split_path(t, 1, &p, err, sizeof err), 0);
    assert_int_equal(p.nseg, 1);
    assert_int_equal(p.len[0], 0);
    t = "/a//b/";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), 0);
    assert_int_equal(p.nseg, 4);
    assert_string_equal(sf_http_path_seg(&p, 1), "");
    assert_string_equal(sf_http_path_seg(&p, 2), "b");
    assert_string_equal(sf_http_path_seg(&p, 3), "");
    t = "/caf%C3%A9";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), 0);
    assert_string_equal(sf_http_path_seg(&p, 0), "caf\xc3\xa9");
    t = "/bad%ff";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "UTF-8"));
    t = "/bad%f";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "percent"));
    t = "*";
    assert_int_equal(sf_http_split_path(t, 1, &p, err, sizeof err), -1);
    t = "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), 0);
    assert_int_equal(p.nseg, 16);
    t = "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17";
    assert_int_equal(sf_http_split_path(t, strlen(t), &p, err, sizeof err), -1);
    sf_buf_free(&p.buf);
}

/* ---- responses --------------------------------------------------------------------- */

static void test_response_head(void **state)
{
    (void)state;
    sf_buf b;
    sf_buf_init(&b);
    sf_http_response_head(&b, 201, "application/json", 12, 1, "Date: X\r\n");
    assert_string_equal(b.data, "HTTP/1.1 201 Created\r\nDate: X\r\nContent-Type: application/json\r\n"
                                "Content-Length: 12\r\nConnection: keep-alive\r\n\r\n");
    sf_buf_reset(&b);
    sf_http_response_head(&b, 413, NULL, 0, 0, NULL);
    assert_string_equal(b.data, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    sf_buf_free(&b);
    assert_string_equal(sf_http_reason(404), "Not Found");
    assert_string_equal(sf_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(sf_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(sf_http_reason(299), "Unknown");
    char d[40];
    sf_http_date(d, sizeof d, 784111777);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
}

/* ---- metrics ------------------------------------------------------------------------ */

static void test_metrics(void **state)
{
    (void)state;
    sf_metrics *m = sf_metrics_new();
    sf_metric *call = sf_metrics_counter(m, "stateflow_requests_total", "Client requests.", "op", "call", NULL);
    sf_metric *get = sf_metrics_counter(m, "stateflow_requests_total", "ignored", "op", "get", NULL);
    assert_non_null(call);
    assert_non_null(get);
    assert_ptr_equal(call, sf_metrics_counter(m, "stateflow_requests_total", "x", "op", "call", NULL));
    sf_metric_inc(call);
    sf_metric_inc(call);
    sf_metric_add(call, 0.5);
    sf_metric_add(call, -3); /* counters never go down */
    assert_true(sf_metric_value(call) == 2.5);
    sf_metric *g = sf_metrics_gauge(m, "stateflow_http_connections", "Open\\connections\nnow.", NULL);
    sf_metric_set(g, 7);
    sf_metric_add(g, -2);
    sf_metric *esc = sf_metrics_gauge(m, "odd", "Label escaping.", "v", "a\"b\\c\nd", NULL);
    sf_metric_set(esc, NAN);
    sf_metric *inf = sf_metrics_gauge(m, "odd", "", "v", "inf", NULL);
    sf_metric_set(inf, -INFINITY);
    static const double b[] = {0.25, 1, 2.5};
    sf_metric *h = sf_metrics_histogram(m, "lat_seconds", "Latency.", b, 3, "op", "x", NULL);
    assert_non_null(h);
    sf_metric_observe(h, 0.125);
    sf_metric_observe(h, 0.25); /* le is inclusive */
    sf_metric_observe(h, 2);
    sf_metric_observe(h, 100);
    sf_metric_observe(h, NAN); /* ignored */
    assert_true(sf_metric_value(h) == 4);
    sf_metric *plain = sf_metrics_counter(m, "stateflow_commits_total", "Commits.", NULL);
    sf_metric_add(plain, 12345678901.0);

    /* misuse: NULL, and updates on NULL are harmless */
    assert_null(sf_metrics_gauge(m, "stateflow_requests_total", "", "op", "call", NULL));
    assert_non_null(strstr(sf_metrics_error(m), "counter"));
    assert_null(sf_metrics_counter(m, "stateflow_requests_total", "", "kind", "call", NULL));
    assert_null(sf_metrics_counter(m, "bad-name", "", NULL));
    assert_null(sf_metrics_counter(m, "9lives", "", NULL));
    assert_null(sf_metrics_counter(m, "ok_total", "", "bad-label", "x", NULL));
    assert_null(sf_metrics_counter(m, "ok_total", "", "__reserved", "x", NULL));
    assert_null(sf_metrics_counter(m, "ok_total", "", "a", "x", "a", "y", NULL));
    assert_null(sf_metrics_histogram(m, "h2", "", b, 0, NULL));
    static const double unsorted[] = {1, 1};
    assert_null(sf_metrics_histogram(m, "h2", "", unsorted, 2, NULL));
    assert_null(sf_metrics_histogram(m, "h3", "", b, 3, "le", "1", NULL));
    assert_null(sf_metrics_histogram(m, "lat_seconds", "", b, 2, "op", "x", NULL));
    sf_metric_inc(NULL);
    sf_metric_add(NULL, 1);
    sf_metric_set(NULL, 1);
    sf_metric_observe(NULL, 1);
    sf_metric_set(call, 100);  /* not a gauge: ignored */
    sf_metric_observe(call, 1); /* not a histogram: ignored */
    assert_true(sf_metric_value(call) == 2.5);

    sf_buf out;
    sf_buf_init(&out);
    sf_metrics_render(m, &out);
    const char *want = "# HELP stateflow_requests_total Client requests.\n"
                       "# TYPE stateflow_requests_total counter\n"
                       "stateflow_requests_total{op=\"call\"} 2.5\n"
                       "stateflow_requests_total{op=\"get\"} 0\n"
                       "# HELP stateflow_http_connections Open\\\\connections\\nnow.\n"
                       "# TYPE stateflow_http_connections gauge\n"
                       "stateflow_http_connections 5\n"
                       "# HELP odd Label escaping.\n"
                       "# TYPE odd gauge\n"
                       "odd{v=\"a\\\"b\\\\c\\nd\"} NaN\n"
                       "odd{v=\"inf\"} -Inf\n"
                       "# HELP lat_seconds Latency.\n"
                       "# TYPE lat_seconds histogram\n"
                       "lat_seconds_bucket{op=\"x\",le=\"0.25\"} 2\n"
                       "lat_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
                       "lat_seconds_bucket{op=\"x\",le=\"2.5\"} 3\n"
                       "lat_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
                       "lat_seconds_sum{op=\"x\"} 102.375\n"
                       "lat_seconds_count{op=\"x\"} 4\n"
                       "# HELP stateflow_commits_total Commits.\n"
                       "# TYPE stateflow_commits_total counter\n"
                       "stateflow_commits_total 12345678901\n";
    assert_string_equal(out.data, want);
    sf_buf_free(&out);
    sf_metrics_free(m);
}

static void test_metrics_stateflow(void **state)
{
    (void)state;
    sf_metrics *m = sf_metrics_new();
    sf_stateflow_metrics s, s2;
    sf_metrics_stateflow(m, &s);
    sf_metrics_stateflow(m, &s2); /* idempotent */
    assert_memory_equal(&s, &s2, sizeof s);
    sf_metric *all[] = {s.requests_create, s.requests_call, s.requests_get, s.commits, s.aborts_conflict,
                        s.aborts_logic, s.batches, s.batch_size, s.latency};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_non_null(all[i]);
    sf_metric_inc(s.aborts_conflict);
    sf_metric_observe(s.batch_size, 1000);
    sf_metric_observe(s.latency, 0.003);
    sf_buf out;
    sf_buf_init(&out);
    sf_metrics_render(m, &out);
    assert_non_null(strstr(out.data, "stateflow_requests_total{op=\"create\"} 0\n"));
    assert_non_null(strstr(out.data, "stateflow_aborts_total{cause=\"conflict\"} 1\n"));
    assert_non_null(strstr(out.data, "stateflow_aborts_total{cause=\"logic\"} 0\n"));
    assert_non_null(strstr(out.data, "# TYPE stateflow_batch_size histogram\n"));
    assert_non_null(strstr(out.data, "stateflow_batch_size_bucket{le=\"500\"} 0\n"));
    assert_non_null(strstr(out.data, "stateflow_batch_size_bucket{le=\"1000\"} 1\n"));
    assert_non_null(strstr(out.data, "stateflow_request_latency_seconds_bucket{le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(out.data, "stateflow_request_latency_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(out.data, "stateflow_request_latency_seconds_count 1\n"));
    assert_non_null(strstr(out.data, "stateflow_batches_total 0\n"));
    sf_buf_free(&out);
    /* too many series */
    char v[16];
    size_t made = 0;
    for (int i = 0; i < SF_METRICS_MAX_SERIES + 5; i++) {
        snprintf(v, sizeof v, "%d", i);
        if (sf_metrics_counter(m, "many_total", "", "i", v, NULL))
            made++;
    }
    assert_int_equal(made, SF_METRICS_MAX_SERIES);
    sf_metrics_free(m);
    sf_metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_methods_and_versions),
        cmocka_unit_test(test_bad_versions),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_pipelining_and_splits),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_limit_request_line),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_limit_body),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_split_path),
        cmocka_unit_test(test_response_head),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_metrics_stateflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
