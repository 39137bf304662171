/* drv_pg.c: ycsbt's PostgreSQL driver (the baseline of docs/benchmarks.md)
 * on libpq's asynchronous API inside the libuv loop: C connections, each in
 * pipeline mode and non-blocking, watched with uv_poll on PQsocket. A
 * connection runs one operation at a time, like an application server's
 * connection pool: operations wait in one queue for the first free
 * connection, and their latency counts from when they were issued.
 *
 * Statements are prepared once per connection. Reads, updates and balance
 * reads are single autocommit statements. A transfer (YCSB+T) is one
 * READ COMMITTED transaction in two round trips: BEGIN and SELECT balance
 * ... FOR UPDATE on both rows in key order (so no deadlock), then -- the
 * application's check -- either two UPDATEs and COMMIT, or COMMIT alone
 * when the payer cannot afford it. A serialization failure or deadlock
 * (40001, 40P01) is rolled back and retried, up to 10 times.
 *
 * --load (re)creates the table and fills it with COPY; the closed-economy
 * check reads SELECT count(*), sum(balance) in one statement. Both use
 * their own blocking connection. Every connection is made with a
 * connect_timeout (--stall-timeout-s, unless the URI sets one) and the
 * check runs under a statement_timeout of --validate-timeout-s, so no
 * phase waits forever on a server that does not answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "stateflow/sf_buf.h"
#include "ycsbt.h"

#define PG_RETRIES 10

enum { PH_SINGLE = 1, PH_LOCK, PH_APPLY, PH_ROLLBACK };

typedef struct pconn {
    struct pgd *g;
    PGconn *pc;
    uv_poll_t poll;
    int poll_open, events, broken;
    yc_op *cur;
    int ri;              /* results seen in the current phase */
    char sqlstate[8];
    int prepared;
} pconn;

typedef struct pgd {
    yc_ctx *x;
    pconn *conns;
    int n, closing, handles, durable;
    uv_timer_t kick;
    yc_op *qhead, *qtail;   /* operations waiting for a free connection */
    const char *table;
} pgd;

/* ---- statements ---- */

static int exec_ok(PGconn *pc, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pc, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static int prepare(PGconn *pc, const char *name, const char *sql, int nparams, char *err, size_t errlen)
{
    PGresult *r = PQprepare(pc, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "prepare %s: %s", name, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static int prepare_all(pgd *g, pconn *k, char *err, size_t errlen)
{
    char sql[256];
    const char *t = g->table;
    snprintf(sql, sizeof sql,
             "SELECT field0, field1, field2, field3, field4, field5, field6, field7, field8, field9 "
             "FROM %s WHERE ycsb_key = $1",
             t);
    if (strcmp(t, "accounts") == 0)
        snprintf(sql, sizeof sql, "SELECT balance FROM %s WHERE ycsb_key = $1", t);
    if (prepare(k->pc, "rd", sql, 1, err, errlen) < 0)
        return -1;
    if (strcmp(t, "accounts") != 0) {
        for (int i = 0; i < YC_FIELDS; i++) {
            char name[8];
            snprintf(name, sizeof name, "up%d", i);
            snprintf(sql, sizeof sql, "UPDATE %s SET field%d = $2 WHERE ycsb_key = $1", t, i);
            if (prepare(k->pc, name, sql, 2, err, errlen) < 0)
                return -1;
        }
    }
    snprintf(sql, sizeof sql, "SELECT balance FROM %s WHERE ycsb_key = $1 FOR UPDATE", t);
    if (prepare(k->pc, "lk", sql, 1, err, errlen) < 0)
        return -1;
    snprintf(sql, sizeof sql, "UPDATE %s SET balance = balance + $2 WHERE ycsb_key = $1", t);
    if (prepare(k->pc, "add", sql, 2, err, errlen) < 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT balance FROM %s WHERE ycsb_key = $1", t);
    if (prepare(k->pc, "bal", sql, 1, err, errlen) < 0)
        return -1;
    if (PQsetnonblocking(k->pc, 1) != 0 || PQenterPipelineMode(k->pc) != 1) {
        snprintf(err, errlen, "cannot enter pipeline mode: %s", PQerrorMessage(k->pc));
        return -1;
    }
    k->prepared = 1;
    return 0;
}

/* ---- the operation state machine ---- */

static void watch(pconn *k);
static void start_next(pconn *k);

static void send_fail(pconn *k)
{
    k->broken = 1;
    snprintf(k->sqlstate, sizeof k->sqlstate, "conn");
}

static void q_prepared(pconn *k, const char *stmt, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    if (!PQsendQueryPrepared(k->pc, stmt, p2 ? 2 : 1, params, NULL, NULL, 0))
        send_fail(k);
}

static void q_plain(pconn *k, const char *sql)
{
    if (!PQsendQueryParams(k->pc, sql, 0, NULL, NULL, NULL, NULL, 0))
        send_fail(k);
}

static void q_sync(pconn *k)
{
    if (!PQpipelineSync(k->pc))
        send_fail(k);
    watch(k);
}

/* Keys of a transfer in lock order: first, second; *a_first says whether
 * the payer (a) is locked first. */
static void lock_order(const yc_op *op, char first[YC_KEY_MAX], char second[YC_KEY_MAX], int *a_first)
{
    *a_first = op->a < op->b;
    yc_key(*a_first ? op->a : op->b, first, YC_KEY_MAX);
    yc_key(*a_first ? op->b : op->a, second, YC_KEY_MAX);
}

static void send_phase(pconn *k)
{
    yc_op *op = k->cur;
    yc_ctx *x = k->g->x;
    char key[YC_KEY_MAX], k2[YC_KEY_MAX], num[32];
    k->ri = 0;
    switch (op->phase) {
    case PH_SINGLE:
        yc_key(op->a, key, sizeof key);
        if (op->kind == YC_READ) {
            q_prepared(k, "rd", key, NULL);
        } else if (op->kind == YC_BALANCE) {
            q_prepared(k, "bal", key, NULL);
        } else { /* YC_UPDATE */
            char stmt[8], v[YC_FIELD_LEN + 1];
            snprintf(stmt, sizeof stmt, "up%d", op->field);
            yc_field_value(&x->rng, v);
            v[YC_FIELD_LEN] = 0;
            q_prepared(k, stmt, key, v);
        }
        break;
    case PH_LOCK: {
        int a_first;
        lock_order(op, key, k2, &a_first);
        q_plain(k, "BEGIN");
        q_prepared(k, "lk", key, NULL);
        q_prepared(k, "lk", k2, NULL);
        break;
    }
    case PH_APPLY:
        if (op->bal[0] >= op->amount) {
            yc_key(op->a, key, sizeof key);
            yc_key(op->b, k2, sizeof k2);
            snprintf(num, sizeof num, "%lld", (long long)-op->amount);
            q_prepared(k, "add", key, num);
            snprintf(num, sizeof num, "%lld", (long long)op->amount);
            q_prepared(k, "add", k2, num);
        }
        q_plain(k, "COMMIT");
        break;
    default: /* PH_ROLLBACK */
        q_plain(k, "ROLLBACK");
        break;
    }
    q_sync(k);
}

static void finish_op(pconn *k, int outcome, const char *errtype, int64_t value)
{
    yc_op *op = k->cur;
    k->cur = NULL;
    k->g->x->replies++;
    yc_done(k->g->x, op, outcome, errtype, value);
}

static int retryable(const char *st) { return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0; }

/* One statement's result (not the sync). */
static void on_result(pconn *k, PGresult *r)
{
    yc_op *op = k->cur;
    ExecStatusType st = PQresultStatus(r);
    int idx = k->ri++;
    if (!op)
        return;
    if (st == PGRES_FATAL_ERROR) {
        if (!op->failed) {
            const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            snprintf(k->sqlstate, sizeof k->sqlstate, "%s", s ? s : "?????");
            op->failed = 1;
        }
        return;
    }
    if (st == PGRES_PIPELINE_ABORTED || op->failed)
        return;
    if (st == PGRES_COMMAND_OK) {
        /* an UPDATE that matched no row: the key is missing */
        if (strncmp(PQcmdStatus(r), "UPDATE", 6) == 0 && strcmp(PQcmdTuples(r), "0") == 0)
            op->failed = 2;
        return;
    }
    if (st != PGRES_TUPLES_OK)
        return;
    /* rows: single reads, balance, and the two locks of a transfer */
    if (PQntuples(r) != 1) {
        op->failed = 2; /* not found */
        return;
    }
    if (op->phase == PH_SINGLE && op->kind == YC_BALANCE)
        op->bal[0] = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (op->phase == PH_LOCK && (idx == 1 || idx == 2)) {
        char first[YC_KEY_MAX], second[YC_KEY_MAX];
        int a_first;
        lock_order(op, first, second, &a_first);
        int is_a = (idx == 1) == (a_first != 0);
        op->bal[is_a ? 0 : 1] = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
}

/* The sync of the current phase arrived. */
static void on_sync(pconn *k)
{
    yc_op *op = k->cur;
    if (!op)
        return;
    char errtype[48];
    if (op->failed == 1)
        snprintf(errtype, sizeof errtype, "SQLSTATE %s", k->sqlstate);
    else
        snprintf(errtype, sizeof errtype, "NotFound");
    switch (op->phase) {
    case PH_SINGLE:
        if (op->failed)
            finish_op(k, YC_ERROR, errtype, 0);
        else
            finish_op(k, YC_OK, NULL, op->bal[0]);
        break;
    case PH_LOCK:
    case PH_APPLY:
        if (op->failed) {
            snprintf(op->errtype, sizeof op->errtype, "%s", errtype);
            op->phase = PH_ROLLBACK;
            send_phase(k);
            return;
        }
        if (op->phase == PH_LOCK) {
            op->phase = PH_APPLY;
            send_phase(k);
            return;
        }
        finish_op(k, op->bal[0] >= op->amount ? YC_OK : YC_REFUSED, NULL, 0);
        break;
    default: /* PH_ROLLBACK done */
        if (op->failed == 1 && retryable(k->sqlstate) && op->retries < PG_RETRIES) {
            op->retries++;
            k->g->x->retries++;
            op->failed = 0;
            op->phase = PH_LOCK;
            send_phase(k);
            return;
        }
        finish_op(k, YC_ERROR, op->errtype, 0);
        break;
    }
    start_next(k);
}

static void fail_conn(pconn *k, const char *why);

static void drain_results(pconn *k)
{
    int nulls = 0;
    while (!k->broken && !PQisBusy(k->pc)) {
        PGresult *r = PQgetResult(k->pc);
        if (!r) {
            if (++nulls >= 2)
                break;
            continue;
        }
        nulls = 0;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            on_sync(k);
            if (!k->cur)
                break;
            continue;
        }
        on_result(k, r);
        PQclear(r);
    }
    if (k->broken)
        fail_conn(k, PQerrorMessage(k->pc));
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    pconn *k = p->data;
    if (status < 0) {
        fail_conn(k, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(k->pc);
        if (f < 0) {
            fail_conn(k, PQerrorMessage(k->pc));
            return;
        }
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(k->pc)) {
            fail_conn(k, PQerrorMessage(k->pc));
            return;
        }
        drain_results(k);
    }
    if (!k->broken && k->poll_open)
        watch(k);
}

/* Poll for reading always, for writing while libpq has unsent data. */
static void watch(pconn *k)
{
    if (!k->poll_open || k->broken)
        return;
    int f = PQflush(k->pc);
    if (f < 0) {
        k->broken = 1;
        return;
    }
    int ev = UV_READABLE | (f == 1 ? UV_WRITABLE : 0);
    if (ev != k->events) {
        k->events = ev;
        uv_poll_start(&k->poll, ev, on_poll);
    }
}

static void start_next(pconn *k)
{
    pgd *g = k->g;
    while (!k->cur && g->qhead && !k->broken && k->prepared && !g->closing) {
        yc_op *op = g->qhead;
        g->qhead = op->next;
        if (!g->qhead)
            g->qtail = NULL;
        op->next = NULL;
        k->cur = op;
        op->failed = 0;
        op->phase = op->kind == YC_TRANSFER ? PH_LOCK : PH_SINGLE;
        k->g->x->sent++;
        send_phase(k);
    }
    if (k->broken)
        fail_conn(k, PQerrorMessage(k->pc));
}

static void on_poll_closed(uv_handle_t *h)
{
    pconn *k = h->data;
    k->g->handles--;
}

static void fail_conn(pconn *k, const char *why)
{
    pgd *g = k->g;
    yc_ctx *x = g->x;
    if (k->poll_open) {
        k->poll_open = 0;
        uv_poll_stop(&k->poll);
        uv_close((uv_handle_t *)&k->poll, on_poll_closed);
    }
    k->broken = 1;
    if (!g->closing)
        fprintf(stderr, "ycsbt: postgres: connection lost: %.*s\n",
                why ? (int)strcspn(why, "\n") : 1, why ? why : "?");
    if (k->cur)
        finish_op(k, YC_ERROR, "ConnectionLost", 0);
    int alive = 0;
    for (int i = 0; i < g->n; i++)
        alive += !g->conns[i].broken;
    if (!alive || g->closing) {
        while (g->qhead) {
            yc_op *op = g->qhead;
            g->qhead = op->next;
            yc_done(x, op, YC_ERROR, "ConnectionLost", 0);
        }
        g->qtail = NULL;
        if (!alive && !g->closing)
            yc_fatal(x, "postgres: every connection is gone");
    }
}

static void pg_submit(yc_ctx *x, yc_op *op)
{
    pgd *g = x->drv.st;
    if (g->closing) {
        yc_done(x, op, YC_ERROR, "ConnectionLost", 0);
        return;
    }
    if (op->kind == YC_CREATE) { /* the load goes through pg_load */
        yc_done(x, op, YC_ERROR, "Unsupported", 0);
        return;
    }
    op->next = NULL;
    if (g->qtail)
        g->qtail->next = op;
    else
        g->qhead = op;
    g->qtail = op;
    /* the first idle connection takes it, as from a connection pool */
    for (int i = 0; i < g->n && g->qhead; i++) {
        pconn *k = &g->conns[i];
        if (!k->cur && !k->broken && k->prepared)
            start_next(k);
    }
}

/* ---- setup, load, sum ---- */

static PGconn *connect_blocking(yc_ctx *x, char *err, size_t errlen)
{
    /* the URI's own connect_timeout, if any, overrides ours (it comes later) */
    char ct[32];
    snprintf(ct, sizeof ct, "%d", x->cfg.stall_timeout < 2 ? 2 : (int)x->cfg.stall_timeout);
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {ct, x->cfg.target, NULL};
    PGconn *pc = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pc) != CONNECTION_OK) {
        snprintf(err, errlen, "postgres: cannot connect: %s", PQerrorMessage(pc));
        PQfinish(pc);
        return NULL;
    }
    /* no NOTICE/WARNING chatter (ROLLBACK outside a transaction) on stderr */
    exec_ok(pc, "SET client_min_messages = error", err, errlen);
    return pc;
}

static int start_polls(pgd *g, char *err, size_t errlen)
{
    for (int i = 0; i < g->n; i++) {
        pconn *k = &g->conns[i];
        if (uv_poll_init(g->x->loop, &k->poll, PQsocket(k->pc)) != 0) {
            snprintf(err, errlen, "postgres: uv_poll_init failed");
            return -1;
        }
        k->poll.data = k;
        k->poll_open = 1;
        g->handles++;
        k->events = 0;
        watch(k);
    }
    return 0;
}

static int pg_load(yc_ctx *x, char *err, size_t errlen)
{
    pgd *g = x->drv.st;
    PGconn *pc = connect_blocking(x, err, errlen);
    if (!pc)
        return -1;
    char sql[1024];
    int accounts = strcmp(g->table, "accounts") == 0;
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", g->table);
    if (exec_ok(pc, sql, err, errlen) < 0)
        goto fail;
    if (accounts)
        snprintf(sql, sizeof sql,
                 "CREATE TABLE accounts (ycsb_key varchar(32) PRIMARY KEY, balance bigint NOT NULL)");
    else
        snprintf(sql, sizeof sql,
                 "CREATE TABLE usertable (ycsb_key varchar(32) PRIMARY KEY, balance bigint NOT NULL, "
                 "field0 text, field1 text, field2 text, field3 text, field4 text, field5 text, "
                 "field6 text, field7 text, field8 text, field9 text)");
    if (exec_ok(pc, sql, err, errlen) < 0)
        goto fail;
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", g->table);
    PGresult *r = PQexec(pc, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    sf_buf b;
    sf_buf_init(&b);
    for (uint64_t i = 0; i < x->cfg.records; i++) {
        char key[YC_KEY_MAX];
        yc_key(i, key, sizeof key);
        sf_buf_printf(&b, "%s\t%lld", key, (long long)x->cfg.balance);
        if (!accounts) {
            for (int f = 0; f < YC_FIELDS; f++) {
                char v[YC_FIELD_LEN];
                yc_field_value(&x->rng, v);
                sf_buf_putc(&b, '\t');
                sf_buf_append(&b, v, YC_FIELD_LEN);
            }
        }
        sf_buf_putc(&b, '\n');
        if (b.len > (1u << 20) || i + 1 == x->cfg.records) {
            if (PQputCopyData(pc, b.data, (int)b.len) != 1) {
                snprintf(err, errlen, "COPY: %s", PQerrorMessage(pc));
                sf_buf_free(&b);
                goto fail;
            }
            sf_buf_reset(&b);
        }
    }
    sf_buf_free(&b);
    if (PQputCopyEnd(pc, NULL) != 1) {
        snprintf(err, errlen, "COPY end: %s", PQerrorMessage(pc));
        goto fail;
    }
    r = PQgetResult(pc);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    while ((r = PQgetResult(pc)))
        PQclear(r);
    snprintf(sql, sizeof sql, "VACUUM ANALYZE %s", g->table);
    if (exec_ok(pc, sql, err, errlen) < 0)
        goto fail;
    snprintf(sql, sizeof sql, "CHECKPOINT");
    exec_ok(pc, sql, err, errlen); /* needs superuser; harmless when refused */
    PQfinish(pc);
    for (int i = 0; i < g->n; i++)
        if (!g->conns[i].prepared && prepare_all(g, &g->conns[i], err, errlen) < 0)
            return -1;
    return start_polls(g, err, errlen);
fail:
    PQfinish(pc);
    return -1;
}

static int pg_sum(yc_ctx *x, int64_t *sum, uint64_t *count, char *err, size_t errlen)
{
    pgd *g = x->drv.st;
    PGconn *pc = connect_blocking(x, err, errlen);
    if (!pc)
        return -1;
    char sql[128];
    snprintf(sql, sizeof sql, "SET statement_timeout = %.0f", x->cfg.validate_timeout * 1000.0);
    if (exec_ok(pc, sql, err, errlen) < 0) {
        PQfinish(pc);
        return -1;
    }
    snprintf(sql, sizeof sql, "SELECT count(*), coalesce(sum(balance), 0) FROM %s", g->table);
    PGresult *r = PQexec(pc, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(pc);
        return -1;
    }
    *count = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    *sum = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    PQfinish(pc);
    return 0;
}

static void on_kick(uv_timer_t *t)
{
    pgd *g = t->data;
    if (!g->closing)
        yc_ready(g->x);
}

static void on_kick_closed(uv_handle_t *h)
{
    pgd *g = h->data;
    g->handles--;
}

static int pg_open(yc_ctx *x, char *err, size_t errlen)
{
    pgd *g = x->drv.st;
    for (int i = 0; i < g->n; i++) {
        pconn *k = &g->conns[i];
        k->pc = connect_blocking(x, err, errlen);
        if (!k->pc)
            return -1;
    }
    PGresult *r = PQexec(g->conns[0].pc, "SHOW synchronous_commit");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        g->durable = strcmp(PQgetvalue(r, 0, 0), "off") != 0;
    PQclear(r);
    x->durable = g->durable;
    if (!g->x->cfg.quiet)
        fprintf(stderr, "ycsbt: postgres: %d connections, synchronous_commit %s\n", g->n,
                g->durable ? "on (durable)" : "off");
    if (!x->cfg.load) {
        for (int i = 0; i < g->n; i++)
            if (prepare_all(g, &g->conns[i], err, errlen) < 0)
                return -1;
        if (start_polls(g, err, errlen) < 0)
            return -1;
    }
    uv_timer_init(x->loop, &g->kick);
    g->kick.data = g;
    g->handles++;
    uv_timer_start(&g->kick, on_kick, 0, 0);
    return 0;
}

static void pg_close(yc_ctx *x)
{
    pgd *g = x->drv.st;
    if (g->closing)
        return;
    g->closing = 1;
    for (int i = 0; i < g->n; i++)
        fail_conn(&g->conns[i], "shutdown");
    if (g->kick.data) {
        uv_close((uv_handle_t *)&g->kick, on_kick_closed);
    }
}

static void pg_free(yc_ctx *x)
{
    pgd *g = x->drv.st;
    for (int i = 0; i < g->n; i++)
        if (g->conns[i].pc)
            PQfinish(g->conns[i].pc);
    free(g->conns);
    free(g);
    x->drv.st = NULL;
}

int yc_pg_driver(yc_ctx *x, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    pgd *g = calloc(1, sizeof(*g));
    if (!g) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    g->x = x;
    g->n = x->cfg.connections;
    g->durable = 1;
    g->table = x->cfg.workload == 'T' ? "accounts" : "usertable";
    g->conns = calloc((size_t)g->n, sizeof(pconn));
    if (!g->conns) {
        fprintf(stderr, "ycsbt: out of memory\n");
        abort();
    }
    for (int i = 0; i < g->n; i++)
        g->conns[i].g = g;
    x->drv = (yc_driver){
        .name = "libpq",
        .open = pg_open,
        .submit = pg_submit,
        .load = pg_load,
        .sum = pg_sum,
        .close = pg_close,
        .free = pg_free,
        .st = g,
    };
    return 0;
}
