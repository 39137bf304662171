/* drv_native.c: ycsbt's driver for stateflowd's native client protocol
 * (docs/runtime.md "Native client protocol"): C connections made with the
 * runtime's sf_net (HELLO role "client" with the cluster token, PING,
 * length-prefixed msgpack frames), requests [20, corr, request] pipelined
 * with a correlation number per connection, replies [21, corr, reply]
 * matched in any order. Frames are batched per connection and written
 * once per loop iteration (a uv_prepare handle, just before the loop
 * polls). Every reply is matched against the requests in flight: a reply
 * for a number not in flight is counted as a duplicate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "frame.h"
#include "mp.h"
#include "net.h"
#include "stateflow/sf_pack.h"
#include "ycsbt.h"

#define TOKEN_MAX 1024

typedef struct pend {
    uint64_t corr;   /* 0: free */
    yc_op *op;
} pend;

typedef struct nconn {
    struct nat *n;
    sf_conn *c;      /* NULL before open and after close */
    int open, closed;
    sf_buf out;
    int dirty;
    uint64_t next_corr;
    pend *pend;      /* direct map corr -> op, size a power of two */
    size_t cap, count;
} nconn;

typedef struct nat {
    yc_ctx *x;
    sf_net *net;
    nconn *conns;
    int n, nopen, nclosed, closing;
    uv_prepare_t flush;
    int flush_open;
    uint64_t rr;
    char token[TOKEN_MAX];
    size_t token_len;
    sf_buf tmp;
} nat;

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    return p;
}

/* ---- requests in flight ---- */

static void pend_grow(nconn *k)
{
    size_t cap = k->cap ? k->cap : 256;
    for (;;) {
        cap *= 2;
        pend *np = xcalloc(cap, sizeof(pend));
        int clash = 0;
        for (size_t i = 0; i < k->cap && !clash; i++) {
            if (!k->pend[i].corr)
                continue;
            pend *s = &np[k->pend[i].corr & (cap - 1)];
            if (s->corr)
                clash = 1;
            else
                *s = k->pend[i];
        }
        if (!clash) {
            free(k->pend);
            k->pend = np;
            k->cap = cap;
            return;
        }
        free(np);
    }
}

static void pend_put(nconn *k, uint64_t corr, yc_op *op)
{
    if (!k->cap) {
        k->cap = 256;
        k->pend = xcalloc(k->cap, sizeof(pend));
    }
    while (k->pend[corr & (k->cap - 1)].corr)
        pend_grow(k);
    pend *s = &k->pend[corr & (k->cap - 1)];
    s->corr = corr;
    s->op = op;
    k->count++;
}

static yc_op *pend_take(nconn *k, uint64_t corr)
{
    if (!k->cap || corr == 0)
        return NULL;
    pend *s = &k->pend[corr & (k->cap - 1)];
    if (s->corr != corr)
        return NULL;
    yc_op *op = s->op;
    s->corr = 0;
    s->op = NULL;
    k->count--;
    return op;
}

/* ---- encoding ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_field_value(msgpack_packer *pk, sf_bench_rng *r)
{
    char v[YC_FIELD_LEN];
    yc_field_value(r, v);
    msgpack_pack_str(pk, YC_FIELD_LEN);
    msgpack_pack_str_body(pk, v, YC_FIELD_LEN);
}

/* The DESIGN 4.5 request map of op. */
static void pack_request(nat *n, msgpack_packer *pk, const yc_op *op)
{
    yc_ctx *x = n->x;
    char key[YC_KEY_MAX];
    yc_key(op->a, key, sizeof key);
    if (op->kind == YC_CREATE) {
        msgpack_pack_map(pk, 3);
        pack_str(pk, "op");
        pack_str(pk, "create");
        pack_str(pk, "entity");
        pack_str(pk, x->entity);
        pack_str(pk, "args");
        if (x->cfg.workload == 'T') {
            msgpack_pack_array(pk, 2);
            pack_str(pk, key);
            msgpack_pack_int64(pk, x->cfg.balance);
        } else {
            msgpack_pack_array(pk, 3);
            pack_str(pk, key);
            msgpack_pack_int64(pk, x->cfg.balance);
            msgpack_pack_array(pk, YC_FIELDS);
            for (int i = 0; i < YC_FIELDS; i++)
                pack_field_value(pk, &x->rng);
        }
        return;
    }
    msgpack_pack_map(pk, 5);
    pack_str(pk, "op");
    pack_str(pk, "call");
    pack_str(pk, "entity");
    pack_str(pk, x->entity);
    pack_str(pk, "key");
    pack_str(pk, key);
    pack_str(pk, "method");
    switch (op->kind) {
    case YC_READ:
        pack_str(pk, x->m_read);
        pack_str(pk, "args");
        msgpack_pack_array(pk, 0);
        break;
    case YC_BALANCE:
        pack_str(pk, x->m_balance);
        pack_str(pk, "args");
        msgpack_pack_array(pk, 0);
        break;
    case YC_UPDATE:
        pack_str(pk, x->m_update);
        pack_str(pk, "args");
        msgpack_pack_array(pk, 2);
        msgpack_pack_int(pk, op->field);
        pack_field_value(pk, &x->rng);
        break;
    default: { /* YC_TRANSFER */
        pack_str(pk, x->m_transfer);
        pack_str(pk, "args");
        msgpack_pack_array(pk, 2);
        msgpack_pack_int64(pk, op->amount);
        /* a reference: ext 3 holding [entity, key] */
        char to[YC_KEY_MAX];
        yc_key(op->b, to, sizeof to);
        sf_buf_reset(&n->tmp);
        msgpack_packer rp;
        sf_buf_packer_init(&rp, &n->tmp);
        msgpack_pack_array(&rp, 2);
        pack_str(&rp, x->entity);
        pack_str(&rp, to);
        msgpack_pack_ext(pk, n->tmp.len, 3);
        msgpack_pack_ext_body(pk, n->tmp.data, n->tmp.len);
        break;
    }
    }
}

/* ---- connections ---- */

static void fail_pending(nconn *k, const char *why)
{
    nat *n = k->n;
    for (size_t i = 0; i < k->cap && k->count; i++) {
        if (!k->pend[i].corr)
            continue;
        yc_op *op = k->pend[i].op;
        k->pend[i].corr = 0;
        k->pend[i].op = NULL;
        k->count--;
        yc_done(n->x, op, YC_ERROR, why, 0);
    }
}

static void on_open(sf_conn *c, void *ud)
{
    nconn *k = ud;
    nat *n = k->n;
    k->open = 1;
    n->nopen++;
    (void)c;
    if (n->nopen == n->n && !n->closing)
        yc_ready(n->x);
}

static void handle_reply(nconn *k, const char *p, size_t len)
{
    nat *n = k->n;
    yc_ctx *x = n->x;
    size_t pos = 0;
    yc_mp_item it, t, corr;
    if (yc_mp_read(p, len, &pos, &it) < 0 || it.kind != YC_MP_ARRAY || it.n != 3 ||
        yc_mp_read(p, len, &pos, &t) < 0 || yc_mp_read(p, len, &pos, &corr) < 0 ||
        corr.kind != YC_MP_INT || yc_mp_read(p, len, &pos, &it) < 0 || it.kind != YC_MP_MAP) {
        yc_fatal(x, "native: malformed reply frame");
        return;
    }
    yc_op *op = pend_take(k, (uint64_t)corr.i);
    if (!op) {
        x->duplicates++;
        return;
    }
    x->replies++;
    int outcome = YC_ERROR;
    char errtype[48] = "MalformedReply";
    int64_t value = 0;
    uint32_t members = it.n;
    for (uint32_t i = 0; i < members; i++) {
        yc_mp_item key, v;
        if (yc_mp_read(p, len, &pos, &key) < 0 || key.kind != YC_MP_STR)
            break;
        if (key.n == 2 && memcmp(key.data, "ok", 2) == 0) {
            size_t at = pos;
            if (yc_mp_read(p, len, &at, &v) < 0)
                break;
            outcome = YC_OK;
            if (op->kind == YC_TRANSFER && v.kind == YC_MP_BOOL && !v.i)
                outcome = YC_REFUSED;
            if (op->kind == YC_BALANCE) {
                if (v.kind == YC_MP_INT)
                    value = v.i;
                else {
                    outcome = YC_ERROR;
                    snprintf(errtype, sizeof errtype, "BalanceNotAnInt");
                }
            }
            if (yc_mp_skip(p, len, &pos) < 0)
                break;
        } else if (key.n == 5 && memcmp(key.data, "error", 5) == 0) {
            outcome = YC_ERROR;
            snprintf(errtype, sizeof errtype, "Error");
            if (yc_mp_read(p, len, &pos, &v) < 0 || v.kind != YC_MP_MAP)
                break;
            for (uint32_t j = 0; j < v.n; j++) {
                yc_mp_item ek, ev;
                if (yc_mp_read(p, len, &pos, &ek) < 0)
                    break;
                size_t at = pos;
                if (ek.kind == YC_MP_STR && ek.n == 4 && memcmp(ek.data, "type", 4) == 0 &&
                    yc_mp_read(p, len, &at, &ev) == 0 && ev.kind == YC_MP_STR) {
                    size_t m = ev.n < sizeof errtype - 1 ? ev.n : sizeof errtype - 1;
                    memcpy(errtype, ev.data, m);
                    errtype[m] = 0;
                }
                if (yc_mp_skip(p, len, &pos) < 0)
                    break;
            }
        } else if (yc_mp_skip(p, len, &pos) < 0) {
            break;
        }
    }
    yc_done(x, op, outcome, outcome == YC_ERROR ? errtype : NULL, value);
}

static void on_frame(sf_conn *c, int type, const char *payload, size_t len, void *ud)
{
    nconn *k = ud;
    (void)c;
    if (type == SF_FRAME_CLIENT_REPLY)
        handle_reply(k, payload, len);
    /* MAP and anything else newer: ignored */
}

static void on_close(sf_conn *c, const char *reason, void *ud)
{
    nconn *k = ud;
    nat *n = k->n;
    (void)c;
    int was_open = k->open;
    k->c = NULL;
    k->open = 0;
    k->closed = 1;
    n->nclosed++;
    if (was_open)
        n->nopen--;
    if (!n->closing) {
        if (!was_open) {
            yc_fatal(n->x, "native: cannot connect to %s:%d: %s", n->x->cfg.host, n->x->cfg.port,
                     reason);
        } else {
            fprintf(stderr, "ycsbt: native: connection lost: %s\n", reason);
            fail_pending(k, "ConnectionLost");
            if (n->nopen == 0)
                yc_fatal(n->x, "native: every connection is gone (%s)", reason);
        }
    } else {
        fail_pending(k, "ConnectionLost");
    }
}

static const sf_conn_callbacks CBS = {on_open, on_frame, on_close};

static void on_flush(uv_prepare_t *h)
{
    nat *n = h->data;
    for (int i = 0; i < n->n; i++) {
        nconn *k = &n->conns[i];
        if (!k->dirty)
            continue;
        k->dirty = 0;
        if (!k->c || !k->open) {
            sf_buf_reset(&k->out);
            continue;
        }
        int rc = sf_conn_send_buf(k->c, &k->out);
        if (rc != 0) {
            sf_buf_reset(&k->out);
            fprintf(stderr, "ycsbt: native: cannot queue requests (%d): closing the connection\n", rc);
            sf_conn_close(k->c, "send queue full");
        }
    }
}

static void native_submit(yc_ctx *x, yc_op *op)
{
    nat *n = x->drv.st;
    nconn *k = NULL;
    for (int tries = 0; tries < n->n; tries++) {
        nconn *cand = &n->conns[n->rr++ % (uint64_t)n->n];
        if (cand->open && cand->c) {
            k = cand;
            break;
        }
    }
    if (!k || n->closing) {
        yc_done(x, op, YC_ERROR, "ConnectionLost", 0);
        return;
    }
    uint64_t corr = ++k->next_corr;
    size_t at = sf_frame_begin(&k->out);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &k->out);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, SF_FRAME_CLIENT_REQUEST);
    msgpack_pack_uint64(&pk, corr);
    pack_request(n, &pk, op);
    char err[160];
    if (sf_frame_end(&k->out, at, err, sizeof err) != 0) {
        yc_done(x, op, YC_ERROR, "RequestTooLarge", 0);
        return;
    }
    pend_put(k, corr, op);
    k->dirty = 1;
    x->sent++;
}

static void on_prepare_closed(uv_handle_t *h)
{
    nat *n = h->data;
    n->flush_open = 0;
}

static void native_close(yc_ctx *x)
{
    nat *n = x->drv.st;
    if (n->closing)
        return;
    n->closing = 1;
    if (n->flush_open) {
        uv_prepare_stop(&n->flush);
        uv_close((uv_handle_t *)&n->flush, on_prepare_closed);
    }
    if (n->net)
        sf_net_close_all(n->net);
}

static void native_free(yc_ctx *x)
{
    nat *n = x->drv.st;
    if (n->net && sf_net_free(n->net) < 0)
        fprintf(stderr, "ycsbt: native: connections still closing at exit\n");
    for (int i = 0; i < n->n; i++) {
        sf_buf_free(&n->conns[i].out);
        free(n->conns[i].pend);
    }
    free(n->conns);
    sf_buf_free(&n->tmp);
    free(n);
    x->drv.st = NULL;
}

static void net_log(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "ycsbt: native: %s\n", line);
}

static int load_token(nat *n, const yc_config *c, char *err, size_t errlen)
{
    const char *t = c->token ? c->token : NULL;
    const char *file = c->token_file;
    if (!t && !file)
        t = getenv("STATEFLOW_TOKEN");
    if (!t && !file) {
        FILE *probe = fopen("stateflow-data/cluster.token", "rb");
        if (probe) {
            fclose(probe);
            file = "stateflow-data/cluster.token";
        }
    }
    if (t) {
        n->token_len = strlen(t);
        if (n->token_len > TOKEN_MAX) {
            snprintf(err, errlen, "the token is longer than %d bytes", TOKEN_MAX);
            return -1;
        }
        memcpy(n->token, t, n->token_len);
        return 0;
    }
    if (!file) {
        n->token_len = 0;
        return 0;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "token file %s: %s", file, strerror(errno));
        return -1;
    }
    n->token_len = fread(n->token, 1, TOKEN_MAX, f);
    int extra = fgetc(f);
    fclose(f);
    if (extra != EOF) {
        snprintf(err, errlen, "token file %s is longer than %d bytes", file, TOKEN_MAX);
        return -1;
    }
    return 0;
}

static int native_open(yc_ctx *x, char *err, size_t errlen)
{
    nat *n = x->drv.st;
    sf_net_config cfg = {0};
    cfg.loop = x->loop;
    cfg.token = n->token;
    cfg.token_len = n->token_len;
    cfg.idle_timeout_ms = 60000; /* the server may be busy for a while under overload */
    cfg.max_queued = (size_t)1 << 30;
    cfg.log = net_log;
    if (sf_net_new(&cfg, &n->net, err, errlen) < 0)
        return -1;
    if (uv_prepare_init(x->loop, &n->flush) != 0) {
        snprintf(err, errlen, "uv_prepare_init failed");
        return -1;
    }
    n->flush.data = n;
    n->flush_open = 1;
    uv_prepare_start(&n->flush, on_flush);
    uv_unref((uv_handle_t *)&n->flush);
    for (int i = 0; i < n->n; i++) {
        nconn *k = &n->conns[i];
        if (sf_net_connect(n->net, x->cfg.host, x->cfg.port, "client", NULL, &CBS, k, &k->c, err,
                           errlen) < 0)
            return -1;
    }
    return 0;
}

int yc_native_driver(yc_ctx *x, char *err, size_t errlen)
{
    nat *n = xcalloc(1, sizeof(*n));
    n->x = x;
    n->n = x->cfg.connections;
    n->conns = xcalloc((size_t)n->n, sizeof(nconn));
    for (int i = 0; i < n->n; i++) {
        n->conns[i].n = n;
        sf_buf_init(&n->conns[i].out);
    }
    sf_buf_init(&n->tmp);
    if (load_token(n, &x->cfg, err, errlen) < 0) {
        for (int i = 0; i < n->n; i++)
            sf_buf_free(&n->conns[i].out);
        free(n->conns);
        sf_buf_free(&n->tmp);
        free(n);
        return -1;
    }
    x->drv = (yc_driver){
        .name = "native protocol",
        .open = native_open,
        .submit = native_submit,
        .close = native_close,
        .free = native_free,
        .st = n,
    };
    return 0;
}
