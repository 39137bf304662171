/* drv_http.c: ycsbt's driver for stateflowd's HTTP/JSON gateway
 * (docs/runtime.md "HTTP gateway"): C keep-alive HTTP/1.1 connections on
 * libuv TCP, requests pipelined on each (the gateway answers in request
 * order), the path routes POST /v1/{Entity} (create) and
 * POST /v1/{Entity}/{key}/{method} (call). Responses are read by
 * Content-Length; the body is {"ok": v} or {"error": {"type": t, ...}}. */
#include <stdio.h>
#include <stdlib.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>

#include "stateflow/sf_buf.h"
#include "ycsbt.h"

#define HTTP_HEAD_MAX (64u * 1024u)
#define HTTP_BODY_MAX (16u * 1024u * 1024u)

typedef struct hconn {
    struct htt *h;
    uv_tcp_t tcp;
    uv_connect_t creq;
    int open, closing;
    sf_buf out;
    int dirty;
    char *in;             /* received bytes: [off, len) not yet parsed */
    size_t off, len, cap;
    yc_op *head, *tail;   /* requests awaiting a response, in order */
    size_t inflight;
} hconn;

typedef struct htt {
    yc_ctx *x;
    hconn *conns;
    int n, nopen, handles, closing, flush_open;
    uv_prepare_t flush;
    uint64_t rr;
    char hostport[300];
} htt;

typedef struct wreq {
    uv_write_t req;
    char *data;
} wreq;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    return p;
}

/* ---- requests ---- */

static void put_field(sf_buf *b, sf_bench_rng *r)
{
    char v[YC_FIELD_LEN];
    yc_field_value(r, v);
    sf_buf_putc(b, '"');
    sf_buf_append(b, v, YC_FIELD_LEN);
    sf_buf_putc(b, '"');
}

static void build_request(htt *h, sf_buf *out, const yc_op *op)
{
    yc_ctx *x = h->x;
    char key[YC_KEY_MAX], to[YC_KEY_MAX];
    yc_key(op->a, key, sizeof key);
    sf_buf body;
    sf_buf_init(&body);
    const char *method = NULL;
    sf_buf_puts(&body, "{\"args\":[");
    switch (op->kind) {
    case YC_CREATE:
        sf_buf_printf(&body, "\"%s\",%lld", key, (long long)x->cfg.balance);
        if (x->cfg.workload != 'T') {
            sf_buf_puts(&body, ",[");
            for (int i = 0; i < YC_FIELDS; i++) {
                if (i)
                    sf_buf_putc(&body, ',');
                put_field(&body, &x->rng);
            }
            sf_buf_putc(&body, ']');
        }
        break;
    case YC_READ: method = x->m_read; break;
    case YC_BALANCE: method = x->m_balance; break;
    case YC_UPDATE:
        method = x->m_update;
        sf_buf_printf(&body, "%d,", op->field);
        put_field(&body, &x->rng);
        break;
    default:
        method = x->m_transfer;
        yc_key(op->b, to, sizeof to);
        sf_buf_printf(&body, "%lld,{\"$ref\":[\"%s\",\"%s\"]}", (long long)op->amount, x->entity, to);
        break;
    }
    sf_buf_puts(&body, "]}");
    if (method)
        sf_buf_printf(out, "POST /v1/%s/%s/%s HTTP/1.1\r\n", x->entity, key, method);
    else
        sf_buf_printf(out, "POST /v1/%s HTTP/1.1\r\n", x->entity);
    sf_buf_printf(out,
                  "Host: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                  h->hostport, body.len);
    sf_buf_append(out, body.data, body.len);
    sf_buf_free(&body);
}

/* ---- responses ---- */

static int parse_int(const char *p, const char *end, int64_t *out)
{
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    *out = neg ? -v : v;
    return 0;
}

static void complete(hconn *k, int status, const char *body, size_t blen)
{
    htt *h = k->h;
    yc_ctx *x = h->x;
    yc_op *op = k->head;
    if (!op) {
        x->duplicates++;
        return;
    }
    k->head = op->next;
    if (!k->head)
        k->tail = NULL;
    k->inflight--;
    x->replies++;
    const char *end = body + blen;
    if (status == 200 || status == 201) {
        static const char ok[] = "{\"ok\":";
        if (blen < sizeof ok - 1 || memcmp(body, ok, sizeof ok - 1) != 0) {
            yc_done(x, op, YC_ERROR, "MalformedReply", 0);
            return;
        }
        const char *v = body + sizeof ok - 1;
        if (op->kind == YC_TRANSFER && end - v >= 5 && memcmp(v, "false", 5) == 0) {
            yc_done(x, op, YC_REFUSED, NULL, 0);
            return;
        }
        int64_t value = 0;
        if (op->kind == YC_BALANCE && parse_int(v, end, &value) < 0) {
            yc_done(x, op, YC_ERROR, "BalanceNotAnInt", 0);
            return;
        }
        yc_done(x, op, YC_OK, NULL, value);
        return;
    }
    char type[48];
    snprintf(type, sizeof type, "HTTP%d", status);
    static const char tkey[] = "\"type\":\"";
    const char *t = memmem(body, blen, tkey, sizeof tkey - 1);
    if (t) {
        t += sizeof tkey - 1;
        const char *q = memchr(t, '"', (size_t)(end - t));
        if (q) {
            size_t m = (size_t)(q - t) < sizeof type - 1 ? (size_t)(q - t) : sizeof type - 1;
            memcpy(type, t, m);
            type[m] = 0;
        }
    }
    yc_done(x, op, YC_ERROR, type, 0);
}

/* Parse every complete response in the input buffer. -1: protocol error. */
static int parse_responses(hconn *k)
{
    for (;;) {
        const char *p = k->in + k->off;
        size_t avail = k->len - k->off;
        const char *hend = memmem(p, avail, "\r\n\r\n", 4);
        if (!hend)
            return avail > HTTP_HEAD_MAX ? -1 : 0;
        size_t hlen = (size_t)(hend - p) + 4;
        if (avail < 12 || memcmp(p, "HTTP/1.", 7) != 0)
            return -1;
        int status = atoi(p + 9);
        size_t clen = 0;
        int have_cl = 0;
        const char *line = memchr(p, '\n', hlen);
        while (line && line + 1 < hend) {
            line++;
            const char *eol = memchr(line, '\n', (size_t)(hend + 2 - line));
            if (!eol)
                break;
            if ((size_t)(eol - line) > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
                clen = strtoull(line + 15, NULL, 10);
                have_cl = 1;
            }
            line = eol;
        }
        if (!have_cl || clen > HTTP_BODY_MAX)
            return -1;
        if (avail < hlen + clen)
            return 0;
        k->off += hlen + clen;
        complete(k, status, p + hlen, clen);
        if (k->off == k->len)
            k->off = k->len = 0;
    }
}

/* ---- connections ---- */

static void fail_all(hconn *k, const char *why)
{
    yc_ctx *x = k->h->x;
    while (k->head) {
        yc_op *op = k->head;
        k->head = op->next;
        k->inflight--;
        yc_done(x, op, YC_ERROR, why, 0);
    }
    k->tail = NULL;
}

static void on_closed(uv_handle_t *hd)
{
    hconn *k = hd->data;
    k->h->handles--;
}

static void on_flush_closed(uv_handle_t *hd)
{
    htt *h = hd->data;
    h->handles--;
}

static void conn_close(hconn *k, const char *why)
{
    htt *h = k->h;
    if (k->closing)
        return;
    k->closing = 1;
    if (k->open) {
        k->open = 0;
        h->nopen--;
    }
    uv_close((uv_handle_t *)&k->tcp, on_closed);
    fail_all(k, "ConnectionLost");
    if (!h->closing) {
        fprintf(stderr, "ycsbt: http: connection closed: %s\n", why);
        if (h->nopen == 0)
            yc_fatal(h->x, "http: every connection is gone (%s)", why);
    }
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    hconn *k = hd->data;
    (void)suggested;
    if (k->cap - k->len < 65536) {
        if (k->off) {
            memmove(k->in, k->in + k->off, k->len - k->off);
            k->len -= k->off;
            k->off = 0;
        }
        if (k->cap - k->len < 65536) {
            k->cap = k->cap ? k->cap * 2 : 131072;
            char *ni = realloc(k->in, k->cap);
            if (!ni) {
                fprintf(stderr, "ycsbt: out of memory\n");
                abort();
            }
            k->in = ni;
        }
    }
    buf->base = k->in + k->len;
    buf->len = k->cap - k->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hconn *k = s->data;
    (void)buf;
    if (nread < 0) {
        conn_close(k, nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
        return;
    }
    k->len += (size_t)nread;
    if (parse_responses(k) < 0)
        conn_close(k, "malformed HTTP response");
}

static void on_connect(uv_connect_t *req, int status)
{
    hconn *k = req->data;
    htt *h = k->h;
    if (k->closing)
        return;
    if (status < 0) {
        yc_fatal(h->x, "http: cannot connect to %s: %s", h->hostport, uv_strerror(status));
        return;
    }
    k->open = 1;
    h->nopen++;
    uv_tcp_nodelay(&k->tcp, 1);
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (h->nopen == h->n && !h->closing)
        yc_ready(h->x);
}

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    hconn *k = req->data;
    free(w->data);
    free(w);
    if (status < 0 && !k->closing)
        conn_close(k, uv_strerror(status));
}

static void on_flush(uv_prepare_t *p)
{
    htt *h = p->data;
    for (int i = 0; i < h->n; i++) {
        hconn *k = &h->conns[i];
        if (!k->dirty)
            continue;
        k->dirty = 0;
        if (!k->open || k->closing || !k->out.len) {
            sf_buf_reset(&k->out);
            continue;
        }
        wreq *w = xmalloc(sizeof(*w));
        size_t n;
        w->data = sf_buf_steal(&k->out, &n);
        w->req.data = k;
        uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
        int rc = uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, on_written);
        if (rc < 0) {
            free(w->data);
            free(w);
            conn_close(k, uv_strerror(rc));
        }
    }
}

static void http_submit(yc_ctx *x, yc_op *op)
{
    htt *h = x->drv.st;
    hconn *k = NULL;
    for (int tries = 0; tries < h->n; tries++) {
        hconn *cand = &h->conns[h->rr++ % (uint64_t)h->n];
        if (cand->open && !cand->closing) {
            k = cand;
            break;
        }
    }
    if (!k || h->closing) {
        yc_done(x, op, YC_ERROR, "ConnectionLost", 0);
        return;
    }
    build_request(h, &k->out, op);
    op->next = NULL;
    if (k->tail)
        k->tail->next = op;
    else
        k->head = op;
    k->tail = op;
    k->inflight++;
    k->dirty = 1;
    x->sent++;
}

static void http_close(yc_ctx *x)
{
    htt *h = x->drv.st;
    if (h->closing)
        return;
    h->closing = 1;
    if (h->flush_open) {
        h->flush_open = 0;
        uv_prepare_stop(&h->flush);
        uv_close((uv_handle_t *)&h->flush, on_flush_closed);
    }
    for (int i = 0; i < h->n; i++)
        if (h->conns[i].tcp.data && !h->conns[i].closing)
            conn_close(&h->conns[i], "shutdown");
}

static void http_free(yc_ctx *x)
{
    htt *h = x->drv.st;
    for (int i = 0; i < h->n; i++) {
        sf_buf_free(&h->conns[i].out);
        free(h->conns[i].in);
    }
    free(h->conns);
    free(h);
    x->drv.st = NULL;
}

static int http_open(yc_ctx *x, char *err, size_t errlen)
{
    htt *h = x->drv.st;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", x->cfg.port);
    if (getaddrinfo(x->cfg.host, port, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "http: cannot resolve %s", x->cfg.host);
        return -1;
    }
    uv_prepare_init(x->loop, &h->flush);
    h->flush.data = h;
    h->handles++;
    h->flush_open = 1;
    uv_prepare_start(&h->flush, on_flush);
    uv_unref((uv_handle_t *)&h->flush);
    for (int i = 0; i < h->n; i++) {
        hconn *k = &h->conns[i];
        uv_tcp_init(x->loop, &k->tcp);
        k->tcp.data = k;
        k->creq.data = k;
        h->handles++;
        int rc = uv_tcp_connect(&k->creq, &k->tcp, res->ai_addr, on_connect);
        if (rc < 0) {
            freeaddrinfo(res);
            snprintf(err, errlen, "http: connect: %s", uv_strerror(rc));
            return -1;
        }
    }
    freeaddrinfo(res);
    return 0;
}

int yc_http_driver(yc_ctx *x, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    htt *h = calloc(1, sizeof(*h));
    if (!h) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    h->x = x;
    h->n = x->cfg.connections;
    h->conns = calloc((size_t)h->n, sizeof(hconn));
    if (!h->conns) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    for (int i = 0; i < h->n; i++) {
        h->conns[i].h = h;
        sf_buf_init(&h->conns[i].out);
    }
    if (strchr(x->cfg.host, ':'))
        snprintf(h->hostport, sizeof h->hostport, "[%s]:%d", x->cfg.host, x->cfg.port);
    else
        snprintf(h->hostport, sizeof h->hostport, "%s:%d", x->cfg.host, x->cfg.port);
    x->drv = (yc_driver){
        .name = "HTTP",
        .open = http_open,
        .submit = http_submit,
        .close = http_close,
        .free = http_free,
        .st = h,
    };
    return 0;
}
