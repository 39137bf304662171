/* gateway.c: the HTTP/JSON gateway (gateway.h) on libuv: accepting
 * clients, feeding their bytes to the HTTP parser (http.h), routing,
 * turning requests into msgpack request maps for ops->submit, collecting
 * the replies and writing the responses of each connection in order.
 *
 * Bookkeeping: each connection has a queue of responses (gw_resp), one per
 * HTTP request plus "100 Continue" interims, in request order. A response
 * made of replies to submitted requests has one part per request; every
 * unanswered part holds a slot in the gateway's slot table, and the
 * completion token names the slot (index and generation), so a token whose
 * connection is gone, or that was already answered, finds a freed or reused
 * slot and the reply is dropped. When the head of a queue is complete it is
 * written; a connection stops reading while too many responses or
 * submitted requests are outstanding or too much output is unsent, and
 * resumes as they drain.
 *
 * A connection is closed by conn_close (both libuv handles); its memory
 * (and the responses still queued) go in the last close callback, so
 * nothing freed is touched by code further up the stack (a submit callback
 * may close the gateway). */
#include "gateway.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "json.h"
#include "mpread.h"
#include "ratelog.h"
#include "request.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_util.h"

#define DEF_MAX_CONNECTIONS 10000u
#define DEF_REQUEST_TIMEOUT_MS 30000u
#define DEF_IDLE_TIMEOUT_MS 60000u
#define DEF_HEAD_TIMEOUT_MS 10000u
#define DEF_BODY_TIMEOUT_MS 30000u
#define MAX_REJECTING 1024u       /* over the cap: 503s being delivered at once */
#define DEF_MAX_PIPELINE 64u
#define DEF_MAX_INFLIGHT 10000u
#define DEF_MAX_BATCH 10000u
#define LINGER_MS 2000u           /* reading and discarding after our FIN */
#define READ_CHUNK 16384u        /* read buffer per connection, freed when drained */
#define WRITE_HIGH_WATER (1u << 20) /* unsent bytes above which we stop reading */
#define MAX_NAME 255
#define RETRY_AFTER "Retry-After: 1\r\n" /* on 503 Overloaded */

typedef struct gw_conn gw_conn;

typedef struct gw_part {
    uint32_t slot;  /* slot index + 1 while submitted and unanswered, else 0 */
    int done;
    int status;     /* HTTP status of this reply alone */
    int overloaded; /* an Overloaded error: a lone reply gets Retry-After */
    char *id_json;  /* the client's id, or NULL */
    sf_buf json;    /* the reply object */
} gw_part;

enum { R_FIXED, R_REPLIES, R_INTERIM };

typedef struct gw_resp {
    struct gw_resp *next;
    int kind;
    int status;         /* R_FIXED */
    int keep_alive;
    int head_only;      /* HEAD request: no body */
    int batch;          /* R_REPLIES: the body is an array of the parts */
    int create;         /* R_REPLIES, single: 201 when ok */
    const char *ctype;  /* R_FIXED */
    const char *extra;  /* static header lines, or NULL */
    sf_buf body;        /* R_FIXED */
    size_t nparts, nleft;
    gw_part *parts;
} gw_resp;

typedef struct gw_slot {
    uint32_t gen;       /* never 0 */
    uint32_t next_free; /* index + 1 of the next free slot, 0 = end */
    gw_resp *resp;      /* NULL when free */
    gw_conn *conn;
    uint32_t part;
    int op;
    uint64_t t0;        /* uv_hrtime at submit */
} gw_slot;

struct gw_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    sf_gateway *gw;
    gw_conn *prev, *next;
    sf_http_parser parser;
    sf_buf in;          /* received, not yet parsed: in.data[in_pos .. in.len) */
    size_t in_pos;
    gw_resp *head, *tail;
    size_t nresp;
    size_t inflight;    /* unanswered parts */
    size_t writing;     /* bytes handed to uv_write, not yet completed */
    int handles;        /* open libuv handles (tcp, timer) */
    unsigned closing : 1, reading : 1, eof : 1, stop_parsing : 1, finish : 1, processing : 1, lingering : 1,
        shut : 1;
    int phase;          /* of the request being received: 0 none, 1 head, 2 body */
    uint64_t t_phase;   /* uv_now when that phase began (or reading resumed) */
    char peer[64];
};

/* A client turned away over max_connections: it gets its 503, then the
 * connection is shut down and drained briefly so the answer is not lost
 * to a reset. */
typedef struct gw_reject {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    sf_gateway *gw;
    struct gw_reject *prev, *next;
    int handles;
    int closing;
    sf_buf out;
    char rbuf[1024];
} gw_reject;

struct sf_gateway {
    uv_loop_t *loop;
    uv_tcp_t listener;
    sf_gateway_ops ops;
    void *ud;
    sf_gateway_limits lim;
    sf_http_limits hlim;
    gw_conn *conns;
    size_t nconns;
    size_t nclosing;    /* connections whose handles are still closing */
    int listener_open;
    int closing;
    int port;
    gw_slot *slots;
    uint32_t nslots, capslots, free_head;
    sf_metrics *metrics;
    sf_stateflow_metrics sm;
    sf_metric *m_conns, *m_rejected;
    sf_ratelog rl;
    gw_reject *rejects; /* being answered 503 */
    size_t nrejects;
    time_t date_t;
    char date[80];
};

typedef struct gw_write {
    uv_write_t req;
    gw_conn *conn;
    size_t len;
    char *data;
} gw_write;

typedef struct gw_shutdown {
    uv_shutdown_t req;
    gw_conn *conn;
} gw_shutdown;

static void conn_kick(gw_conn *c);
static void conn_close(gw_conn *c, const char *why);

static void logf_(sf_gateway *gw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(sf_gateway *gw, const char *fmt, ...)
{
    if (!gw->ops.log)
        return;
    /* one line per bad connection must not flood the log (ratelog.h) */
    char summary[128];
    if (!sf_ratelog_allow(&gw->rl, uv_now(gw->loop), summary, sizeof summary))
        return;
    if (summary[0])
        gw->ops.log(gw->ud, summary);
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gw->ops.log(gw->ud, line);
}


int sf_gateway_error_status(const char *type)
{
    if (!type)
        return 500;
    if (strcmp(type, "BadRequest") == 0)
        return 400;
    if (strcmp(type, "NotFound") == 0)
        return 404;
    if (strcmp(type, "AlreadyExists") == 0)
        return 409;
    if (strcmp(type, "Unavailable") == 0 || strcmp(type, "Overloaded") == 0)
        return 503;
    if (strcmp(type, "InternalError") == 0)
        return 500;
    return 422;
}

/* ---- slots --------------------------------------------------------------------- */

static uint32_t slot_alloc(sf_gateway *gw)
{
    if (!gw->free_head) {
        if (gw->nslots == gw->capslots) {
            uint32_t nc = gw->capslots ? gw->capslots * 2 : 256;
            gw_slot *ns = realloc(gw->slots, (size_t)nc * sizeof *ns);
            if (!ns)
                return UINT32_MAX;
            gw->slots = ns;
            gw->capslots = nc;
        }
        gw_slot *s = &gw->slots[gw->nslots];
        memset(s, 0, sizeof *s);
        s->gen = 1;
        return gw->nslots++;
    }
    uint32_t i = gw->free_head - 1;
    gw->free_head = gw->slots[i].next_free;
    return i;
}

static void slot_free(sf_gateway *gw, uint32_t i)
{
    gw_slot *s = &gw->slots[i];
    s->resp = NULL;
    s->conn = NULL;
    s->gen = s->gen == UINT32_MAX ? 1 : s->gen + 1;
    s->next_free = gw->free_head;
    gw->free_head = i + 1;
}

static gw_slot *slot_find(sf_gateway *gw, uint64_t token)
{
    uint32_t lo = (uint32_t)token;
    if (lo == 0 || lo > gw->nslots)
        return NULL;
    gw_slot *s = &gw->slots[lo - 1];
    if (!s->resp || s->gen != (uint32_t)(token >> 32))
        return NULL;
    return s;
}

/* ---- responses ------------------------------------------------------------------ */

static gw_resp *resp_new(gw_conn *c, int kind, int keep_alive)
{
    gw_resp *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    r->keep_alive = keep_alive;
    sf_buf_init(&r->body);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->nresp++;
    return r;
}

static void resp_free(gw_resp *r)
{
    for (size_t i = 0; i < r->nparts; i++) {
        free(r->parts[i].id_json);
        sf_buf_free(&r->parts[i].json);
    }
    free(r->parts);
    sf_buf_free(&r->body);
    free(r);
}

static int resp_complete(const gw_resp *r)
{
    return r->kind != R_REPLIES || r->nleft == 0;
}

/* A complete response with a JSON error body. */
static void fixed_error(gw_conn *c, int status, int keep_alive, int head_only, const char *type, const char *msg,
                        const char *extra)
{
    gw_resp *r = resp_new(c, R_FIXED, keep_alive);
    if (!r) {
        conn_close(c, "out of memory");
        return;
    }
    r->status = status;
    r->head_only = head_only;
    r->ctype = "application/json";
    r->extra = extra;
    sf_reply_error_json(&r->body, NULL, type, msg);
}

static void fixed_body(gw_conn *c, int status, int keep_alive, int head_only, const char *ctype, const char *body,
                       size_t len)
{
    gw_resp *r = resp_new(c, R_FIXED, keep_alive);
    if (!r) {
        conn_close(c, "out of memory");
        return;
    }
    r->status = status;
    r->head_only = head_only;
    r->ctype = ctype;
    sf_buf_append(&r->body, body, len);
}

/* Part i of r gets its reply. */
static void part_fill_error(gw_resp *r, size_t i, int status, const char *type, const char *msg)
{
    gw_part *p = &r->parts[i];
    sf_buf_reset(&p->json);
    sf_reply_error_json(&p->json, p->id_json, type, msg);
    p->status = status;
    p->overloaded = strcmp(type, "Overloaded") == 0;
    p->done = 1;
    r->nleft--;
}

static const char *date_header(sf_gateway *gw)
{
    time_t now = time(NULL);
    if (now != gw->date_t || !gw->date[0]) {
        char d[40];
        sf_http_date(d, sizeof d, now);
        snprintf(gw->date, sizeof gw->date, "Date: %s\r\n", d);
        gw->date_t = now;
    }
    return gw->date;
}

static void count_response(sf_gateway *gw, int status)
{
    if (!gw->metrics)
        return;
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    sf_metric_inc(sf_metrics_counter(gw->metrics, "stateflow_http_responses_total",
                                     "HTTP responses sent, by status code.", "code", code, NULL));
}

/* Append the bytes of a complete response to out. */
static void resp_serialize(sf_gateway *gw, gw_resp *r, sf_buf *out)
{
    if (r->kind == R_INTERIM) {
        sf_buf_puts(out, "HTTP/1.1 100 Continue\r\n\r\n");
        return;
    }
    char extra[256];
    snprintf(extra, sizeof extra, "%s%s", date_header(gw), r->extra ? r->extra : "");
    if (r->kind == R_FIXED) {
        sf_http_response_head(out, r->status, r->ctype, r->body.len, r->keep_alive, extra);
        if (!r->head_only)
            sf_buf_append(out, r->body.data, r->body.len);
        count_response(gw, r->status);
        return;
    }
    int status;
    size_t blen;
    if (r->batch) {
        status = 200;
        blen = 2 + (r->nparts ? r->nparts - 1 : 0);
        for (size_t i = 0; i < r->nparts; i++)
            blen += r->parts[i].json.len;
    } else {
        status = r->parts[0].status;
        blen = r->parts[0].json.len;
        if (r->parts[0].overloaded) /* 503 Overloaded: when to retry */
            strncat(extra, RETRY_AFTER, sizeof extra - strlen(extra) - 1);
    }
    sf_http_response_head(out, status, "application/json", blen, r->keep_alive, extra);
    count_response(gw, status);
    if (r->head_only)
        return;
    if (!r->batch) {
        sf_buf_append(out, r->parts[0].json.data, r->parts[0].json.len);
        return;
    }
    sf_buf_putc(out, '[');
    for (size_t i = 0; i < r->nparts; i++) {
        if (i)
            sf_buf_putc(out, ',');
        sf_buf_append(out, r->parts[i].json.data, r->parts[i].json.len);
    }
    sf_buf_putc(out, ']');
}

/* ---- connections ------------------------------------------------------------------ */

static void maybe_free_gateway(sf_gateway *gw)
{
    if (gw->closing && !gw->listener_open && gw->nclosing == 0 && gw->nconns == 0 && gw->nrejects == 0) {
        free(gw->slots);
        free(gw);
    }
}

static void conn_handle_closed(uv_handle_t *h)
{
    gw_conn *c = h->data;
    if (--c->handles > 0)
        return;
    sf_gateway *gw = c->gw;
    while (c->head) {
        gw_resp *r = c->head;
        c->head = r->next;
        resp_free(r);
    }
    sf_http_parser_free(&c->parser);
    sf_buf_free(&c->in);
    free(c);
    gw->nclosing--;
    maybe_free_gateway(gw);
}

static void conn_close(gw_conn *c, const char *why)
{
    if (c->closing)
        return;
    sf_gateway *gw = c->gw;
    c->closing = 1;
    if (why)
        logf_(gw, "%s: %s", c->peer, why);
    /* every pending token becomes stale now */
    for (gw_resp *r = c->head; r; r = r->next) {
        for (size_t i = 0; i < r->nparts; i++) {
            if (r->parts[i].slot) {
                slot_free(gw, r->parts[i].slot - 1);
                r->parts[i].slot = 0;
            }
        }
    }
    c->inflight = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        gw->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    gw->nconns--;
    gw->nclosing++;
    sf_metric_set(gw->m_conns, (double)gw->nconns);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

/* The total time the request being received may still take (its head, or
 * its body), in ms from now; 0 when it is over. */
static uint64_t phase_left(const gw_conn *c)
{
    const sf_gateway *gw = c->gw;
    uint64_t lim = c->phase == 2 ? gw->lim.body_timeout_ms : gw->lim.head_timeout_ms;
    uint64_t now = uv_now(gw->loop), end = c->t_phase + lim;
    return end > now ? end - now : 0;
}

/* Note which part of a request is being received, and since when. */
static void conn_note_phase(gw_conn *c)
{
    int ph = !sf_http_parser_busy(&c->parser) ? 0 : sf_http_parser_in_body(&c->parser) ? 2 : 1;
    if (ph != c->phase) {
        c->phase = ph;
        c->t_phase = uv_now(c->gw->loop);
    }
}

static void on_timer(uv_timer_t *t)
{
    gw_conn *c = t->data;
    sf_gateway *gw = c->gw;
    if (c->lingering) {
        conn_close(c, NULL);
    } else if (c->writing) {
        conn_close(c, "client not reading its responses, dropped");
    } else if (sf_http_parser_busy(&c->parser)) {
        char why[128];
        if (c->reading && phase_left(c) == 0)
            snprintf(why, sizeof why, "request %s not complete within %u ms, client dropped",
                     c->phase == 2 ? "body" : "head",
                     c->phase == 2 ? gw->lim.body_timeout_ms : gw->lim.head_timeout_ms);
        else
            snprintf(why, sizeof why, "request timeout, client dropped");
        conn_close(c, why);
    } else {
        conn_close(c, NULL); /* idle keep-alive connection */
    }
}

static void conn_arm_timer(gw_conn *c)
{
    if (c->closing || c->lingering)
        return;
    sf_gateway *gw = c->gw;
    uint64_t ms;
    if (c->writing || (c->reading && sf_http_parser_busy(&c->parser))) {
        ms = gw->lim.request_timeout_ms; /* the client owes us bytes or reads */
        if (c->reading && sf_http_parser_busy(&c->parser)) {
            /* silence is timed, and so is the whole head or body: a
             * client trickling a byte now and then is dropped too */
            uint64_t left = phase_left(c);
            if (left < ms)
                ms = left ? left : 1;
        }
    } else if (c->nresp)
        ms = 0; /* waiting for our own replies */
    else
        ms = gw->lim.idle_timeout_ms;
    if (ms)
        uv_timer_start(&c->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gw_conn *c = h->data;
    (void)suggested;
    sf_buf_reserve(&c->in, READ_CHUNK);
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len - 1;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_update_reading(gw_conn *c)
{
    if (c->closing)
        return;
    sf_gateway *gw = c->gw;
    int want;
    if (c->lingering)
        want = 1;
    else
        want = !c->eof && !c->stop_parsing && c->nresp < gw->lim.max_pipeline &&
               c->inflight < gw->lim.max_inflight && c->writing < WRITE_HIGH_WATER;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) {
            c->reading = 1;
            /* time spent not reading (our limits) does not count against
             * the request's deadline */
            c->t_phase = uv_now(gw->loop);
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    gw_shutdown *sd = (gw_shutdown *)req;
    gw_conn *c = sd->conn;
    free(sd);
    if (c->closing)
        return;
    if (status < 0 || c->eof) {
        conn_close(c, NULL);
        return;
    }
    /* read and discard until the client closes, so that unread input does
     * not turn our close into a reset that could destroy the response */
    c->lingering = 1;
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    conn_update_reading(c);
}

/* Everything is written and nothing more will be: end the connection. */
static void conn_end(gw_conn *c)
{
    if (c->closing || c->shut)
        return;
    c->shut = 1;
    if (c->eof) {
        conn_close(c, NULL);
        return;
    }
    gw_shutdown *sd = malloc(sizeof *sd);
    if (!sd) {
        conn_close(c, NULL);
        return;
    }
    sd->conn = c;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (uv_shutdown(&sd->req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sd);
        conn_close(c, NULL);
    }
}

static void on_write(uv_write_t *req, int status)
{
    gw_write *w = (gw_write *)req;
    gw_conn *c = w->conn;
    c->writing -= w->len;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, status == UV_ECANCELED ? NULL : "write failed, client gone");
        return;
    }
    conn_kick(c);
}

/* Write every complete response at the head of the queue. */
static void conn_flush(gw_conn *c)
{
    if (c->closing || c->processing)
        return;
    sf_gateway *gw = c->gw;
    sf_buf out;
    sf_buf_init(&out);
    while (c->head && resp_complete(c->head)) {
        gw_resp *r = c->head;
        resp_serialize(gw, r, &out);
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        c->nresp--;
        int keep = r->keep_alive || r->kind == R_INTERIM;
        resp_free(r);
        if (!keep) {
            c->stop_parsing = 1;
            c->finish = 1;
            break;
        }
    }
    if (out.len) {
        gw_write *w = malloc(sizeof *w);
        if (!w) {
            sf_buf_free(&out);
            conn_close(c, "out of memory");
            return;
        }
        w->conn = c;
        w->data = sf_buf_steal(&out, &w->len);
        uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
        c->writing += w->len;
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
            c->writing -= w->len;
            free(w->data);
            free(w);
            conn_close(c, "write failed, client gone");
            return;
        }
    } else {
        sf_buf_free(&out);
    }
    /* a closing response is always the last one queued */
    if (c->finish && !c->writing)
        conn_end(c);
}

/* ---- requests --------------------------------------------------------------------- */

/* Submit part i of r (request map in req). */
static void submit_part(gw_conn *c, gw_resp *r, size_t i, const sf_buf *req, int op)
{
    sf_gateway *gw = c->gw;
    uint32_t si = slot_alloc(gw);
    if (si == UINT32_MAX) {
        part_fill_error(r, i, 503, "Unavailable", "out of memory");
        return;
    }
    gw_slot *s = &gw->slots[si];
    s->resp = r;
    s->conn = c;
    s->part = (uint32_t)i;
    s->op = op;
    s->t0 = uv_hrtime();
    uint64_t token = ((uint64_t)s->gen << 32) | (uint64_t)(si + 1);
    r->parts[i].slot = si + 1;
    c->inflight++;
    sf_metric_inc(op == SF_OP_CREATE ? gw->sm.requests_create
                  : op == SF_OP_CALL ? gw->sm.requests_call
                                     : gw->sm.requests_get);
    int rc = gw->ops.submit(gw->ud, req->data, req->len, token);
    if (rc != SF_SUBMIT_OK && !c->closing && slot_find(gw, token)) {
        slot_free(gw, si);
        r->parts[i].slot = 0;
        c->inflight--;
        if (rc == SF_SUBMIT_OVERLOADED)
            part_fill_error(r, i, 503, "Overloaded", "the service is overloaded; retry later");
        else
            part_fill_error(r, i, 503, "Unavailable", "the service is not accepting requests");
    }
}

/* Check a name from a path segment. */
static int check_name(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
    if (n > MAX_NAME) {
        sf_set_err(err, errlen, "%s name too long (limit %d bytes)", what, MAX_NAME);
        return -1;
    }
    if (memchr(s, '\0', n)) {
        sf_set_err(err, errlen, "%s name must not contain NUL characters", what);
        return -1;
    }
    return 0;
}

static void pack_empty_array(sf_buf *b)
{
    msgpack_packer pk;
    sf_buf_packer_init(&pk, b);
    msgpack_pack_array(&pk, 0);
}

/* The body of create/call routes: empty, or {"args": [...]}. Appends the
 * msgpack of the arguments array to args. */
static int parse_args_body(const char *body, size_t len, sf_buf *args, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len) {
        pack_empty_array(args);
        return 0;
    }
    sf_buf m;
    sf_buf_init(&m);
    char jerr[200];
    if (sf_json_to_msgpack_ex(body, len, SF_JSON_ENVELOPE, &m, jerr, sizeof jerr) < 0) {
        sf_set_err(err, errlen, "malformed JSON body: %s", jerr);
        sf_buf_free(&m);
        return -1;
    }
    size_t pos = 0;
    sf_mp_item it;
    int rc = -1;
    if (sf_mp_read(m.data, m.len, &pos, &it) < 0 || it.kind != SF_MP_MAP) {
        sf_set_err(err, errlen, "the body must be a JSON object {\"args\": [...]}");
        goto out;
    }
    int have = 0;
    for (uint32_t k = 0; k < it.n; k++) {
        sf_mp_item key;
        size_t vlen;
        if (sf_mp_read(m.data, m.len, &pos, &key) < 0 ||
            sf_msgpack_value_len(m.data + pos, m.len - pos, &vlen, err, errlen) < 0)
            goto out;
        if (!sf_mp_str_is(&key, "args")) {
            sf_set_err(err, errlen, "unknown member in body (expected only \"args\")");
            goto out;
        }
        if (have) {
            sf_set_err(err, errlen, "duplicate member \"args\" in body");
            goto out;
        }
        size_t p2 = pos;
        sf_mp_item a;
        if (sf_mp_read(m.data, m.len, &p2, &a) < 0 || a.kind != SF_MP_ARRAY) {
            sf_set_err(err, errlen, "\"args\" must be an array");
            goto out;
        }
        sf_buf_append(args, m.data + pos, vlen);
        have = 1;
        pos += vlen;
    }
    if (!have)
        pack_empty_array(args);
    rc = 0;
out:
    sf_buf_free(&m);
    return rc;
}

/* A single request from a path route. */
static void route_single(gw_conn *c, const sf_http_request *hr, int op, const sf_http_path *path)
{
    char err[256];
    const char *entity = sf_http_path_seg(path, 1);
    size_t elen = path->len[1];
    if (check_name("entity", entity, elen, err, sizeof err) < 0 ||
        (op == SF_OP_CALL && check_name("method", sf_http_path_seg(path, 3), path->len[3], err, sizeof err) < 0)) {
        fixed_error(c, 400, hr->keep_alive, hr->method == SF_HTTP_HEAD, "BadRequest", err, NULL);
        return;
    }
    sf_buf args, key, req;
    sf_buf_init(&args);
    sf_buf_init(&key);
    sf_buf_init(&req);
    if (op != SF_OP_GET && op != SF_OP_DELETE &&
        parse_args_body(hr->body, hr->body_len, &args, err, sizeof err) < 0) {
        fixed_error(c, 400, hr->keep_alive, 0, "BadRequest", err, NULL);
        goto out;
    }
    if (op != SF_OP_CREATE)
        sf_reqmap_pack_str(&key, sf_http_path_seg(path, 2), path->len[2]);
    sf_reqmap_encode(&req, NULL, 0, op, entity, elen, op != SF_OP_CREATE ? key.data : NULL, key.len,
                   op == SF_OP_CALL ? sf_http_path_seg(path, 3) : NULL, op == SF_OP_CALL ? path->len[3] : 0,
                   op != SF_OP_GET && op != SF_OP_DELETE ? args.data : NULL, args.len);
    gw_resp *r = resp_new(c, R_REPLIES, hr->keep_alive);
    gw_part *parts = calloc(1, sizeof *parts);
    if (!r || !parts) {
        free(parts);
        conn_close(c, "out of memory");
        goto out;
    }
    r->parts = parts;
    r->nparts = r->nleft = 1;
    r->create = op == SF_OP_CREATE;
    r->head_only = hr->method == SF_HTTP_HEAD;
    sf_buf_init(&parts[0].json);
    submit_part(c, r, 0, &req, op);
out:
    sf_buf_free(&args);
    sf_buf_free(&key);
    sf_buf_free(&req);
}

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Split the text of a valid JSON array into its top-level items (stored in
 * items[0..max), whitespace around them kept); returns the number of items.
 * The text must have passed a JSON parse: no validation here. */
static size_t split_array(const char *s, size_t len, span *items, size_t max)
{
    size_t i = 0, count = 0;
    while (i < len && s[i] != '[')
        i++;
    i++;
    int depth = 0, in_str = 0;
    size_t start = i;
    int any = 0;
    for (; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
            any = 1;
        } else if (ch == '[' || ch == '{') {
            depth++;
            any = 1;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        } else if (depth == 0 && (ch == ',' || ch == ']')) {
            if (any || ch == ',') {
                if (count < max) {
                    items[count].p = s + start;
                    items[count].n = i - start;
                }
                count++;
            }
            if (ch == ']')
                break;
            start = i + 1;
            any = 0;
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
            any = 1;
        }
    }
    return count;
}

/* Parse one request object of /v1/requests and submit it as part i of r. */
static void batch_item(gw_conn *c, gw_resp *r, size_t i, const char *text, size_t n)
{
    sf_request q;
    char err[256];
    gw_part *p = &r->parts[i];
    sf_buf_init(&p->json);
    if (sf_request_parse_json(text, n, &q, err, sizeof err) < 0) {
        p->id_json = q.id_json;
        q.id_json = NULL;
        sf_request_free(&q);
        part_fill_error(r, i, 400, "BadRequest", err);
        return;
    }
    sf_buf id, req;
    sf_buf_init(&id);
    sf_buf_init(&req);
    if (q.id_json && sf_json_to_msgpack(q.id_json, strlen(q.id_json), &id, NULL, 0) < 0)
        sf_buf_reset(&id); /* cannot happen: the id came out of JSON */
    p->id_json = q.id_json;
    q.id_json = NULL;
    sf_reqmap_encode(&req, id.len ? id.data : NULL, id.len, q.op, q.entity, strlen(q.entity),
                   q.op != SF_OP_CREATE ? q.key.data : NULL, q.key.len, q.method,
                   q.method ? strlen(q.method) : 0,
                   q.op != SF_OP_GET && q.op != SF_OP_DELETE ? q.args.data : NULL, q.args.len);
    r->create = q.op == SF_OP_CREATE;
    int op = q.op;
    sf_request_free(&q);
    submit_part(c, r, i, &req, op);
    sf_buf_free(&id);
    sf_buf_free(&req);
}

static void route_requests(gw_conn *c, const sf_http_request *hr)
{
    sf_gateway *gw = c->gw;
    const char *b = hr->body;
    size_t n = hr->body_len;
    sf_buf tmp;
    sf_buf_init(&tmp);
    char jerr[200], msg[256];
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (i == n) {
        fixed_error(c, 400, hr->keep_alive, 0, "BadRequest",
                    "empty body: expected a request object or an array of them", NULL);
        return;
    }
    if (b[i] != '[' && b[i] != '{') {
        fixed_error(c, 400, hr->keep_alive, 0, "BadRequest", "expected a request object or an array of them",
                    NULL);
        return;
    }
    if (b[i] == '{') {
        gw_resp *r = resp_new(c, R_REPLIES, hr->keep_alive);
        gw_part *parts = calloc(1, sizeof *parts);
        if (!r || !parts) {
            free(parts);
            conn_close(c, "out of memory");
            return;
        }
        r->parts = parts;
        r->nparts = r->nleft = 1;
        batch_item(c, r, 0, b, n);
        return;
    }
    /* an array: check it is JSON at all, then split it */
    if (sf_json_to_msgpack_ex(b, n, SF_JSON_PLAIN, &tmp, jerr, sizeof jerr) < 0) {
        sf_buf_free(&tmp);
        snprintf(msg, sizeof msg, "malformed JSON body: %s", jerr);
        fixed_error(c, 400, hr->keep_alive, 0, "BadRequest", msg, NULL);
        return;
    }
    sf_buf_free(&tmp);
    size_t count = split_array(b, n, NULL, 0);
    if (count > gw->lim.max_batch) {
        snprintf(msg, sizeof msg, "too many requests in one batch (%zu, limit %u)", count, gw->lim.max_batch);
        fixed_error(c, 413, hr->keep_alive, 0, "BadRequest", msg, NULL);
        return;
    }
    span *items = count ? malloc(count * sizeof *items) : NULL;
    gw_resp *r = resp_new(c, R_REPLIES, hr->keep_alive);
    gw_part *parts = count ? calloc(count, sizeof *parts) : NULL;
    if (!r || (count && (!items || !parts))) {
        free(items);
        free(parts);
        conn_close(c, "out of memory");
        return;
    }
    split_array(b, n, items, count);
    r->batch = 1;
    r->parts = parts;
    r->nparts = r->nleft = count;
    for (size_t k = 0; k < count; k++) {
        if (c->closing) {
            /* the submit callback closed us (or the gateway): stop */
            for (size_t j = k; j < count; j++)
                sf_buf_init(&parts[j].json);
            break;
        }
        batch_item(c, r, k, items[k].p, items[k].n);
    }
    free(items);
}

static void route(gw_conn *c, const sf_http_request *hr)
{
    sf_gateway *gw = c->gw;
    int head = hr->method == SF_HTTP_HEAD;
    int get = hr->method == SF_HTTP_GET || head;
    int post = hr->method == SF_HTTP_POST;
    sf_http_path path;
    char err[256];
    sf_buf_init(&path.buf);
    if (sf_http_split_path(hr->target, hr->target_len, &path, err, sizeof err) < 0) {
        fixed_error(c, 400, hr->keep_alive, head, "BadRequest", err, NULL);
        goto out;
    }
    size_t ns = path.nseg;
    const char *s0 = sf_http_path_seg(&path, 0);
    if (ns == 1 && strcmp(s0, "healthz") == 0) {
        if (!get) {
            fixed_error(c, 405, hr->keep_alive, 0, "BadRequest", "use GET /healthz", "Allow: GET, HEAD\r\n");
        } else {
            char why[200] = "";
            if (!gw->ops.healthy || gw->ops.healthy(gw->ud, why, sizeof why)) {
                if (!why[0])
                    fixed_body(c, 200, hr->keep_alive, head, "application/json", "{\"ok\":true}", 11);
                else {
                    /* a healthy service may say something about itself */
                    char body[260];
                    why[sizeof why - 1] = '\0';
                    for (char *q = why; *q; q++)
                        if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
                            *q = '\'';
                    int bl = snprintf(body, sizeof body, "{\"ok\":true,\"note\":\"%s\"}", why);
                    fixed_body(c, 200, hr->keep_alive, head, "application/json", body, (size_t)bl);
                }
            } else {
                why[sizeof why - 1] = '\0';
                fixed_error(c, 503, hr->keep_alive, head, "Unavailable",
                            why[0] ? why : "the service is unavailable", NULL);
            }
        }
        goto out;
    }
    if (ns == 1 && strcmp(s0, "metrics") == 0) {
        if (!get) {
            fixed_error(c, 405, hr->keep_alive, 0, "BadRequest", "use GET /metrics", "Allow: GET, HEAD\r\n");
        } else {
            sf_metric_set(gw->m_conns, (double)gw->nconns);
            sf_buf text;
            sf_buf_init(&text);
            sf_metrics_render(gw->metrics, &text);
            fixed_body(c, 200, hr->keep_alive, head, SF_METRICS_CONTENT_TYPE, text.data ? text.data : "",
                       text.len);
            sf_buf_free(&text);
        }
        goto out;
    }
    int v1 = ns >= 2 && ns <= 4 && strcmp(s0, "v1") == 0;
    for (size_t i = 1; v1 && i < ns; i++)
        if (path.len[i] == 0)
            v1 = 0;
    if (!v1) {
        snprintf(err, sizeof err, "no route for %.*s %.*s", (int)(hr->method_len > 16 ? 16 : hr->method_len),
                 hr->method_name, (int)(hr->target_len > 100 ? 100 : hr->target_len), hr->target);
        fixed_error(c, 404, hr->keep_alive, head, "NotFound", err, NULL);
        goto out;
    }
    if (ns == 2) {
        if (!post) {
            fixed_error(c, 405, hr->keep_alive, head, "BadRequest",
                        strcmp(sf_http_path_seg(&path, 1), "requests") == 0 ? "use POST /v1/requests"
                                                                            : "use POST /v1/{Entity} to create",
                        "Allow: POST\r\n");
        } else if (strcmp(sf_http_path_seg(&path, 1), "requests") == 0) {
            route_requests(c, hr);
        } else {
            route_single(c, hr, SF_OP_CREATE, &path);
        }
    } else if (ns == 3) {
        if (hr->method == SF_HTTP_DELETE)
            route_single(c, hr, SF_OP_DELETE, &path);
        else if (!get)
            fixed_error(c, 405, hr->keep_alive, 0, "BadRequest",
                        "use GET or DELETE /v1/{Entity}/{key}", "Allow: GET, HEAD, DELETE\r\n");
        else
            route_single(c, hr, SF_OP_GET, &path);
    } else {
        if (!post)
            fixed_error(c, 405, hr->keep_alive, head, "BadRequest", "use POST /v1/{Entity}/{key}/{method}",
                        "Allow: POST\r\n");
        else
            route_single(c, hr, SF_OP_CALL, &path);
    }
out:
    sf_buf_free(&path.buf);
}

/* Parse and handle what has been received, as far as the limits allow. */
static void conn_process(gw_conn *c)
{
    if (c->processing || c->closing)
        return;
    sf_gateway *gw = c->gw;
    c->processing = 1;
    while (!c->closing && !c->stop_parsing && c->in_pos < c->in.len && c->nresp < gw->lim.max_pipeline &&
           c->inflight < gw->lim.max_inflight) {
        size_t used;
        int rc = sf_http_parser_feed(&c->parser, c->in.data + c->in_pos, c->in.len - c->in_pos, &used);
        c->in_pos += used;
        conn_note_phase(c);
        if (rc == SF_HTTP_NEED_MORE)
            break;
        if (rc == SF_HTTP_CONTINUE) {
            if (!resp_new(c, R_INTERIM, 1))
                conn_close(c, "out of memory");
            continue;
        }
        if (rc == SF_HTTP_ERROR) {
            logf_(gw, "%s: %d %s", c->peer, c->parser.status, c->parser.message);
            fixed_error(c, c->parser.status, 0, 0, "BadRequest", c->parser.message, NULL);
            c->stop_parsing = 1;
            break;
        }
        const sf_http_request *hr = &c->parser.req;
        if (!hr->keep_alive)
            c->stop_parsing = 1;
        route(c, hr);
    }
    if (c->closing)
        return;
    if (c->in_pos == c->in.len || c->stop_parsing) {
        /* drained: an idle connection keeps no read buffer */
        c->in_pos = 0;
        sf_buf_free(&c->in);
    } else if (c->in_pos > 0) {
        memmove(c->in.data, c->in.data + c->in_pos, c->in.len - c->in_pos);
        c->in.len -= c->in_pos;
        c->in.data[c->in.len] = '\0';
        c->in_pos = 0;
    }
    c->processing = 0;
}

/* Something changed (input, a reply, a write done): make progress. */
static void conn_kick(gw_conn *c)
{
    conn_process(c);
    if (c->closing)
        return;
    conn_flush(c);
    if (c->closing)
        return;
    if (c->eof && !c->head && !c->writing && !c->shut) {
        /* the client is done sending and has everything */
        conn_close(c, sf_http_parser_busy(&c->parser) ? "client closed in the middle of a request" : NULL);
        return;
    }
    conn_update_reading(c);
    conn_arm_timer(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    gw_conn *c = s->data;
    (void)buf;
    if (c->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c, NULL); /* reset by the client: its replies are dropped */
            return;
        }
        if (c->lingering) {
            conn_close(c, NULL);
            return;
        }
        /* half-close: answer what was asked, then close */
        c->eof = 1;
        uv_read_stop(s);
        c->reading = 0;
        conn_kick(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->lingering)
        return; /* discarded */
    c->in.len += (size_t)nread;
    c->in.data[c->in.len] = '\0';
    conn_kick(c);
}

/* ---- the listener ---------------------------------------------------------------- */

static void reject_handle_closed(uv_handle_t *h)
{
    gw_reject *j = h->data;
    if (--j->handles > 0)
        return;
    sf_gateway *gw = j->gw;
    if (j->prev)
        j->prev->next = j->next;
    else
        gw->rejects = j->next;
    if (j->next)
        j->next->prev = j->prev;
    gw->nrejects--;
    sf_buf_free(&j->out);
    free(j);
    maybe_free_gateway(gw);
}

static void reject_close(gw_reject *j)
{
    if (j->closing)
        return;
    j->closing = 1;
    uv_close((uv_handle_t *)&j->tcp, reject_handle_closed);
    uv_close((uv_handle_t *)&j->timer, reject_handle_closed);
}

static void reject_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gw_reject *j = h->data;
    (void)suggested;
    *buf = uv_buf_init(j->rbuf, sizeof j->rbuf);
}

static void reject_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        reject_close(s->data); /* the client has closed too (or reset) */
}

static void reject_shut(uv_shutdown_t *req, int status)
{
    gw_reject *j = req->data;
    if (status < 0 || j->closing)
        reject_close(j);
}

static void reject_written(uv_write_t *req, int status)
{
    gw_reject *j = req->data;
    if (j->closing)
        return;
    j->sreq.data = j;
    if (status < 0 || uv_shutdown(&j->sreq, (uv_stream_t *)&j->tcp, reject_shut) != 0)
        reject_close(j);
}

static void reject_timer(uv_timer_t *t) { reject_close(t->data); }

/* Over max_connections: the client gets a clear 503 and is closed; the
 * clients already connected are served as before. */
static void reject_connection(sf_gateway *gw)
{
    gw_reject *j = calloc(1, sizeof *j);
    if (!j)
        return;
    if (uv_tcp_init(gw->loop, &j->tcp) < 0) {
        free(j);
        return;
    }
    j->gw = gw;
    j->tcp.data = j;
    uv_timer_init(gw->loop, &j->timer);
    j->timer.data = j;
    j->handles = 2;
    j->wreq.data = j;
    sf_buf_init(&j->out);
    j->next = gw->rejects;
    if (gw->rejects)
        gw->rejects->prev = j;
    gw->rejects = j;
    gw->nrejects++;
    if (uv_accept((uv_stream_t *)&gw->listener, (uv_stream_t *)&j->tcp) != 0) {
        reject_close(j);
        return;
    }
    static const char body[] = "{\"error\":{\"type\":\"Unavailable\",\"message\":\"too many connections\"}}";
    sf_http_response_head(&j->out, 503, "application/json", sizeof body - 1, 0, date_header(gw));
    sf_buf_append(&j->out, body, sizeof body - 1);
    sf_metric_inc(gw->m_rejected);
    count_response(gw, 503);
    uv_buf_t b = uv_buf_init(j->out.data, (unsigned)j->out.len);
    if (gw->nrejects > MAX_REJECTING || gw->closing) {
        /* a flood: no lingering for each, the answer is best effort */
        (void)uv_try_write((uv_stream_t *)&j->tcp, &b, 1);
        reject_close(j);
        return;
    }
    if (uv_write(&j->wreq, (uv_stream_t *)&j->tcp, &b, 1, reject_written) != 0 ||
        uv_read_start((uv_stream_t *)&j->tcp, reject_alloc, reject_read) != 0) {
        reject_close(j);
        return;
    }
    uv_timer_start(&j->timer, reject_timer, LINGER_MS, 0);
}

static void on_connection(uv_stream_t *server, int status)
{
    sf_gateway *gw = server->data;
    if (status < 0 || gw->closing) {
        if (status < 0)
            logf_(gw, "accept failed: %s", uv_strerror(status));
        return;
    }
    if (gw->nconns >= gw->lim.max_connections) {
        reject_connection(gw);
        return;
    }
    gw_conn *c = calloc(1, sizeof *c);
    if (!c) {
        reject_connection(gw);
        return;
    }
    c->gw = gw;
    if (uv_tcp_init(gw->loop, &c->tcp) < 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    uv_timer_init(gw->loop, &c->timer); /* cannot fail */
    c->timer.data = c;
    c->handles = 2;
    sf_http_parser_init(&c->parser, &gw->hlim);
    sf_buf_init(&c->in);
    c->next = gw->conns;
    if (gw->conns)
        gw->conns->prev = c;
    gw->conns = c;
    gw->nconns++;
    sf_metric_set(gw->m_conns, (double)gw->nconns);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c, NULL);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        char ip[48] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
        } else if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_update_reading(c);
    conn_arm_timer(c);
}

static void listener_closed(uv_handle_t *h)
{
    sf_gateway *gw = h->data;
    gw->listener_open = 0;
    maybe_free_gateway(gw);
}

int sf_gateway_start(uv_loop_t *loop, const char *host, int port, const sf_gateway_ops *ops, void *ud,
                     sf_gateway **out, char *err, size_t errlen)
{
    return sf_gateway_start_ex(loop, host, port, ops, ud, NULL, out, err, errlen);
}

int sf_gateway_start_ex(uv_loop_t *loop, const char *host, int port, const sf_gateway_ops *ops, void *ud,
                        const sf_gateway_limits *limits, sf_gateway **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!loop || !host || !ops || !ops->submit) {
        sf_set_err(err, errlen, "gateway: loop, host and ops->submit are required");
        return -1;
    }
    if (port < 0 || port > 65535) {
        sf_set_err(err, errlen, "gateway: port %d out of range", port);
        return -1;
    }
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
        sf_set_err(err, errlen, "gateway: \"%s\" is not an IPv4 or IPv6 address", host);
        return -1;
    }
    sf_gateway *gw = calloc(1, sizeof *gw);
    if (!gw) {
        sf_set_err(err, errlen, "gateway: out of memory");
        return -1;
    }
    gw->loop = loop;
    gw->ops = *ops;
    gw->ud = ud;
    if (limits)
        gw->lim = *limits;
    if (!gw->lim.max_connections)
        gw->lim.max_connections = DEF_MAX_CONNECTIONS;
    if (!gw->lim.request_timeout_ms)
        gw->lim.request_timeout_ms = DEF_REQUEST_TIMEOUT_MS;
    if (!gw->lim.idle_timeout_ms)
        gw->lim.idle_timeout_ms = DEF_IDLE_TIMEOUT_MS;
    if (!gw->lim.head_timeout_ms)
        gw->lim.head_timeout_ms = DEF_HEAD_TIMEOUT_MS;
    if (!gw->lim.body_timeout_ms)
        gw->lim.body_timeout_ms = DEF_BODY_TIMEOUT_MS;
    sf_ratelog_init(&gw->rl, gw->lim.log_per_sec);
    if (!gw->lim.max_pipeline)
        gw->lim.max_pipeline = DEF_MAX_PIPELINE;
    if (!gw->lim.max_inflight)
        gw->lim.max_inflight = DEF_MAX_INFLIGHT;
    if (!gw->lim.max_batch)
        gw->lim.max_batch = DEF_MAX_BATCH;
    if (!gw->lim.max_body)
        gw->lim.max_body = SF_HTTP_MAX_BODY;
    gw->hlim.max_body = gw->lim.max_body;
    int rc = uv_tcp_init(loop, &gw->listener);
    if (rc < 0) {
        sf_set_err(err, errlen, "gateway: %s", uv_strerror(rc));
        free(gw);
        return -1;
    }
    gw->listener.data = gw;
    gw->listener_open = 1;
    rc = uv_tcp_bind(&gw->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&gw->listener, 511, on_connection);
    if (rc < 0) {
        sf_set_err(err, errlen, "gateway: cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        gw->closing = 1;
        uv_close((uv_handle_t *)&gw->listener, listener_closed); /* frees gw */
        return -1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    gw->port = port;
    if (uv_tcp_getsockname(&gw->listener, (struct sockaddr *)&bound, &blen) == 0)
        gw->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    if (ops->metrics)
        gw->metrics = ops->metrics(ud);
    if (gw->metrics) {
        sf_metrics_stateflow(gw->metrics, &gw->sm);
        gw->m_conns = sf_metrics_gauge(gw->metrics, "stateflow_http_connections", "Open HTTP client connections.",
                                       NULL);
        gw->m_rejected = sf_metrics_counter(gw->metrics, "stateflow_http_rejected_connections_total",
                                            "HTTP clients turned away over the connection limit.", NULL);
    }
    *out = gw;
    return 0;
}

int sf_gateway_port(const sf_gateway *gw) { return gw->port; }

size_t sf_gateway_connections(const sf_gateway *gw) { return gw->nconns; }

void sf_gateway_close(sf_gateway *gw)
{
    if (!gw || gw->closing)
        return;
    gw->closing = 1;
    char summary[128];
    if (gw->ops.log && sf_ratelog_flush(&gw->rl, summary, sizeof summary))
        gw->ops.log(gw->ud, summary);
    while (gw->conns)
        conn_close(gw->conns, NULL);
    for (gw_reject *j = gw->rejects; j; j = j->next)
        reject_close(j);
    uv_close((uv_handle_t *)&gw->listener, listener_closed);
}

/* ---- replies ---------------------------------------------------------------------- */

/* Take the slot of token; returns its response and part, or NULL. */
static gw_resp *take(sf_gateway *gw, uint64_t token, size_t *part, gw_conn **conn, int *op)
{
    gw_slot *s = slot_find(gw, token);
    if (!s)
        return NULL;
    gw_resp *r = s->resp;
    *part = s->part;
    *conn = s->conn;
    *op = s->op;
    sf_metric_observe(gw->sm.latency, (double)(uv_hrtime() - s->t0) / 1e9);
    r->parts[s->part].slot = 0;
    slot_free(gw, (uint32_t)(s - gw->slots));
    (*conn)->inflight--;
    return r;
}

static void finish_part(gw_conn *c, gw_resp *r, size_t i, int status)
{
    r->parts[i].status = status;
    r->parts[i].done = 1;
    r->nleft--;
    if (r->nleft == 0)
        conn_kick(c);
    else if (!c->processing)
        conn_update_reading(c); /* inflight went down */
}

int sf_gateway_reply_ok(sf_gateway *gw, uint64_t token, const char *value, size_t len)
{
    size_t i;
    gw_conn *c;
    int op;
    gw_resp *r = take(gw, token, &i, &c, &op);
    if (!r)
        return 1;
    gw_part *p = &r->parts[i];
    sf_buf_reset(&p->json);
    size_t vlen;
    int rc = 0;
    if (!value || sf_msgpack_value_len(value, len, &vlen, NULL, 0) < 0 || vlen != len) {
        sf_reply_error_json(&p->json, p->id_json, "InternalError", "malformed result value");
        rc = -1;
    } else {
        rc = sf_reply_ok_json(&p->json, p->id_json, value, len);
    }
    finish_part(c, r, i, rc < 0 ? 500 : op == SF_OP_CREATE ? 201 : 200);
    return rc;
}

int sf_gateway_reply_error(sf_gateway *gw, uint64_t token, const char *type, const char *message)
{
    size_t i;
    gw_conn *c;
    int op;
    gw_resp *r = take(gw, token, &i, &c, &op);
    if (!r)
        return 1;
    gw_part *p = &r->parts[i];
    sf_buf_reset(&p->json);
    if (!type || !*type)
        type = "InternalError";
    sf_reply_error_json(&p->json, p->id_json, type, message ? message : "");
    p->overloaded = strcmp(type, "Overloaded") == 0;
    finish_part(c, r, i, sf_gateway_error_status(type));
    return 0;
}

int sf_gateway_reply(sf_gateway *gw, uint64_t token, const char *reply, size_t len)
{
    if (!slot_find(gw, token))
        return 1;
    size_t pos = 0;
    sf_mp_item it;
    const char *okv = NULL;
    size_t okn = 0;
    char type[128] = "", *msg = NULL;
    int have_err = 0, bad = 0;
    if (!reply || sf_mp_read(reply, len, &pos, &it) < 0 || it.kind != SF_MP_MAP)
        bad = 1;
    for (uint32_t k = 0; !bad && k < it.n; k++) {
        sf_mp_item key;
        size_t vlen;
        if (sf_mp_read(reply, len, &pos, &key) < 0 || key.kind != SF_MP_STR ||
            sf_msgpack_value_len(reply + pos, len - pos, &vlen, NULL, 0) < 0) {
            bad = 1;
            break;
        }
        if (sf_mp_str_is(&key, "ok")) {
            okv = reply + pos;
            okn = vlen;
        } else if (sf_mp_str_is(&key, "error")) {
            size_t ep = pos;
            sf_mp_item em;
            have_err = 1;
            if (sf_mp_read(reply, pos + vlen, &ep, &em) < 0 || em.kind != SF_MP_MAP) {
                bad = 1;
                break;
            }
            for (uint32_t j = 0; j < em.n; j++) {
                sf_mp_item ek, ev;
                if (sf_mp_read(reply, pos + vlen, &ep, &ek) < 0 || ek.kind != SF_MP_STR) {
                    bad = 1;
                    break;
                }
                size_t before = ep;
                if (sf_mp_read(reply, pos + vlen, &ep, &ev) < 0) {
                    bad = 1;
                    break;
                }
                if (ev.kind == SF_MP_STR && sf_mp_str_is(&ek, "type")) {
                    snprintf(type, sizeof type, "%.*s", (int)(ev.n < 127 ? ev.n : 127), ev.data);
                } else if (ev.kind == SF_MP_STR && sf_mp_str_is(&ek, "message")) {
                    free(msg);
                    msg = malloc((size_t)ev.n + 1);
                    if (msg) {
                        memcpy(msg, ev.data, ev.n);
                        msg[ev.n] = '\0';
                    }
                } else {
                    /* skip any other value whole */
                    size_t sl;
                    if (sf_msgpack_value_len(reply + before, pos + vlen - before, &sl, NULL, 0) < 0) {
                        bad = 1;
                        break;
                    }
                    ep = before + sl;
                }
            }
        }
        pos += vlen;
    }
    int rc;
    if (bad || (!okv && !have_err) || (okv && have_err) || (have_err && !type[0])) {
        sf_gateway_reply_error(gw, token, "InternalError", "malformed reply from the runtime");
        rc = -1;
    } else if (okv) {
        rc = sf_gateway_reply_ok(gw, token, okv, okn);
    } else {
        sf_gateway_reply_error(gw, token, type, msg ? msg : "");
        rc = 0;
    }
    free(msg);
    return rc;
}
