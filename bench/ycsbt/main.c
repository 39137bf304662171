/* main.c: ycsbt, the YCSB / YCSB+T load generator for stateflowd (native
 * protocol or HTTP) and PostgreSQL (libpq). Owns the command line, the run
 * phases (connect, --load, warm-up, measured window, drain, --validate),
 * open-loop scheduling (latency from the intended send time) and closed-loop
 * refill, the progress line, the final report and the --json result.
 * docs/benchmarks.md describes the method. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ycsbt.h"

enum { ST_CONNECT, ST_LOAD, ST_RUN, ST_DRAIN, ST_VALIDATE, ST_CLOSE };


static const char USAGE[] =
    "usage: ycsbt --target URL [--workload A|B|T|M] [--dist uniform|zipfian] [--theta F]\n"
    "             [--records N] [--rate R | --outstanding N] [--connections C]\n"
    "             [--warmup S] [--duration S] [--drain S] [--json FILE] [--load] [--validate]\n"
    "             [--balance B] [--max-amount A] [--seed N] [--token T | --token-file F]\n"
    "             [--load-window N] [--max-backlog N] [--label TEXT] [--quiet]\n"
    "             [--validate-timeout-s S] [--stall-timeout-s S]\n"
    "\n"
    "targets: stateflow://HOST:PORT (native protocol, default port 7070)\n"
    "         http://HOST:PORT      (HTTP gateway, default port 8080)\n"
    "         postgres://...        (PostgreSQL through libpq; any libpq URI)\n"
    "\n"
    "workloads: A 50% read / 50% update, B 95/5, T transfers (YCSB+T),\n"
    "           M 45% read / 45% update / 10% transfers. A, B, M use Record\n"
    "           (bench/apps/ycsb.py, table usertable), T Account\n"
    "           (bench/apps/accounts.py, table accounts).\n"
    "--rate R          open loop: R requests/s, latency from the intended send time\n"
    "--outstanding N   closed loop: N requests in flight (default 64)\n"
    "--load            create the records (then run when --duration > 0)\n"
    "--validate        after T and M: the closed-economy check; always: every\n"
    "                  request answered exactly once. With --duration 0: only\n"
    "                  the check (after --load when given)\n"
    "--validate-timeout-s S  the check ends after S s (default 30); the balances\n"
    "                  not read by then are reported and the run fails\n"
    "--stall-timeout-s S     connecting, and --load with no reply for S s, fail\n"
    "                  the run (default 30)\n"
    "defaults: --records 10000 --connections 4 --warmup 2 --duration 10 --drain 10\n"
    "          --balance 1000 --max-amount 10 --theta 0.99 --seed 42\n"
    "exit status: 0 ok; 1 a failed check, a lost connection, no request\n"
    "succeeded, requests unanswered after the drain, or a check or load that\n"
    "could not finish in time; 2 usage\n";

/* ---- small helpers ---- */

static const char *const KIND_NAMES[YC_NKINDS] = {"read", "update", "transfer", "create", "balance"};

uint64_t yc_now(void) { return uv_hrtime(); }


void yc_fatal(yc_ctx *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->fail_msg, sizeof x->fail_msg, fmt, ap);
    va_end(ap);
    x->failed = 1;
    fprintf(stderr, "ycsbt: %s\n", x->fail_msg);
    uint64_t now = yc_now();
    if (x->state == ST_RUN && now < x->m_end)
        x->m_end = now > x->m_start ? now : x->m_start;
    if (x->state != ST_CLOSE) {
        x->state = ST_CLOSE;
        x->drv.close(x);
    }
}

static yc_op *op_new(yc_ctx *x)
{
    yc_op *op = x->free_ops;
    if (op)
        x->free_ops = op->next;
    else {
        op = malloc(sizeof(*op));
        if (!op) {
            fprintf(stderr, "ycsbt: out of memory\n");
            abort();
        }
    }
    memset(op, 0, sizeof(*op));
    return op;
}

static void op_free(yc_ctx *x, yc_op *op)
{
    op->next = x->free_ops;
    x->free_ops = op;
}

static void submit(yc_ctx *x, yc_op *op)
{
    x->outstanding++;
    x->out_kind[op->kind]++;
    x->submitted++;
    if (!op->sent_ns)
        op->sent_ns = yc_now();
    if (!op->intended_ns)
        op->intended_ns = op->sent_ns;
    x->drv.submit(x, op);
}

static void count_error(yc_ctx *x, const char *type)
{
    if (!type || !*type)
        type = "Unknown";
    for (int i = 0; i < YC_ERRTYPES; i++) {
        if (!x->errs[i].n) {
            snprintf(x->errs[i].type, sizeof x->errs[i].type, "%s", type);
            x->errs[i].n = 1;
            return;
        }
        if (strcmp(x->errs[i].type, type) == 0) {
            x->errs[i].n++;
            return;
        }
    }
    x->errs_other++;
}

/* ---- phases ---- */

typedef struct yc_main {
    yc_ctx x;
    uv_timer_t tick, progress;
    uv_signal_t sigint;
    yc_op *retry_head;      /* --load / --validate requests rejected as Overloaded */
    uint64_t nretry;
    uint64_t drain_deadline;
    uint64_t phase_t0;
    int handles_open;
} yc_main;

static yc_main *main_of(yc_ctx *x) { return (yc_main *)x; }

static void start_run(yc_ctx *x);
static void start_validate(yc_ctx *x);
static void begin_reads(yc_ctx *x);
static void finish(yc_ctx *x);

/* Requests of a kind (creates or balance reads) in the --load / --validate
 * window: in flight or waiting to be sent again after an Overloaded reply.
 * Run requests the drain left unanswered do not count: they must not keep
 * the check from starting. */
static uint64_t in_window(yc_ctx *x, int kind) { return x->out_kind[kind] + main_of(x)->nretry; }

/* A --load or --validate request was rejected as Overloaded: send it again
 * later, backing off from 20 ms to 1 s per request. */
static void retry_later(yc_ctx *x, yc_op *op)
{
    yc_main *m = main_of(x);
    int tries = op->overloaded < 6 ? op->overloaded : 6;
    yc_op keep = *op;
    memset(op, 0, sizeof(*op));
    op->kind = keep.kind;
    op->a = keep.a;
    op->b = keep.b;
    op->overloaded = keep.overloaded + 1;
    op->retry_at = yc_now() + (20000000ull << tries);
    if (op->retry_at > yc_now() + 1000000000ull)
        op->retry_at = yc_now() + 1000000000ull;
    op->next = m->retry_head;
    m->retry_head = op;
    m->nretry++;
}

static void submit(yc_ctx *x, yc_op *op);

static void resubmit_due(yc_ctx *x, uint64_t now)
{
    yc_main *m = main_of(x);
    yc_op **pp = &m->retry_head;
    while (*pp && (x->state == ST_LOAD || x->state == ST_VALIDATE)) {
        yc_op *op = *pp;
        if (op->retry_at > now) {
            pp = &op->next;
            continue;
        }
        *pp = op->next;
        m->nretry--;
        op->next = NULL;
        submit(x, op);
    }
}

static void issue_load(yc_ctx *x)
{
    while (x->next_key < x->cfg.records && in_window(x, YC_CREATE) < (uint64_t)x->cfg.load_window &&
           x->state == ST_LOAD) {
        yc_op *op = op_new(x);
        op->kind = YC_CREATE;
        op->a = op->b = x->next_key++;
        submit(x, op);
    }
}

static void issue_balance(yc_ctx *x)
{
    while (x->next_key < x->cfg.records && in_window(x, YC_BALANCE) < (uint64_t)x->cfg.load_window &&
           x->state == ST_VALIDATE) {
        yc_op *op = op_new(x);
        op->kind = YC_BALANCE;
        op->a = op->b = x->next_key++;
        submit(x, op);
    }
}

static void issue_run(yc_ctx *x, uint64_t intended)
{
    yc_op *op = op_new(x);
    yc_next_op(x, op);
    op->run = 1;
    op->intended_ns = intended;
    x->run_issued++;
    submit(x, op);
}

static void load_done(yc_ctx *x)
{
    yc_main *m = main_of(x);
    x->load_secs = (double)(yc_now() - m->phase_t0) / 1e9;
    if (!x->cfg.quiet)
        fprintf(stderr, "ycsbt: loaded %llu records in %.1f s (%llu already there, %llu errors)\n",
                (unsigned long long)x->keys_done, x->load_secs,
                (unsigned long long)x->load_exists, (unsigned long long)x->load_errors);
    if (x->load_errors) {
        yc_fatal(x, "load: %llu records could not be created", (unsigned long long)x->load_errors);
        return;
    }
    start_run(x);
}

void yc_ready(yc_ctx *x)
{
    yc_main *m = main_of(x);
    if (x->state != ST_CONNECT)
        return;
    m->phase_t0 = yc_now();
    if (x->cfg.load) {
        x->state = ST_LOAD;
        x->last_done_ns = m->phase_t0;
        if (x->drv.load) {
            char err[512];
            if (x->drv.load(x, err, sizeof err) < 0) {
                yc_fatal(x, "load: %s", err);
                return;
            }
            x->keys_done = x->cfg.records;
            load_done(x);
            return;
        }
        x->next_key = 0;
        issue_load(x);
        if (x->cfg.records == 0)
            load_done(x);
        return;
    }
    start_run(x);
}

static void start_run(yc_ctx *x)
{
    if (x->state == ST_CLOSE)
        return;
    if (x->cfg.duration <= 0) { /* load and/or validate only */
        start_validate(x);
        return;
    }
    x->state = ST_RUN;
    x->t0 = yc_now();
    x->m_start = x->t0 + (uint64_t)(x->cfg.warmup * 1e9);
    x->m_end = x->m_start + (uint64_t)(x->cfg.duration * 1e9);
    x->next_k = 0;
    sf_bench_hist_reset(&x->hist);
    sf_bench_hist_reset(&x->interval);
    sf_bench_hist_reset(&x->lag);
    sf_bench_hist_reset(&x->service);
    sf_bench_hist_reset(&x->over_lat);
    sf_bench_hist_reset(&x->answered);
    if (x->cfg.rate <= 0) {
        for (int i = 0; i < x->cfg.outstanding && x->state == ST_RUN; i++)
            issue_run(x, 0);
    }
}

static void start_drain(yc_ctx *x)
{
    yc_main *m = main_of(x);
    x->state = ST_DRAIN;
    m->drain_deadline = yc_now() + (uint64_t)(x->cfg.drain * 1e9);
    if (x->outstanding == 0)
        start_validate(x);
}

/* Print "read 3, update 2" for the counts by kind; nothing when all zero. */
static void print_kinds(FILE *f, const uint64_t *by_kind)
{
    int first = 1;
    for (int k = 0; k < YC_NKINDS; k++) {
        if (!by_kind[k])
            continue;
        fprintf(f, "%s%s %llu", first ? "" : ", ", KIND_NAMES[k], (unsigned long long)by_kind[k]);
        first = 0;
    }
}

static void start_validate(yc_ctx *x)
{
    yc_main *m = main_of(x);
    /* what the drain left: run requests (the load completed before the run) */
    x->unanswered = x->outstanding;
    memcpy(x->unanswered_kind, x->out_kind, sizeof x->unanswered_kind);
    if (x->unanswered) {
        fprintf(stderr, "ycsbt: %llu requests still unanswered after the %g s drain (",
                (unsigned long long)x->unanswered, x->cfg.drain);
        print_kinds(stderr, x->unanswered_kind);
        fprintf(stderr, ")\n");
    }
    int economy = x->cfg.validate && (x->cfg.workload == 'T' || x->cfg.workload == 'M');
    if (!economy) {
        finish(x);
        return;
    }
    x->state = ST_VALIDATE;
    x->validated = 1;
    m->phase_t0 = yc_now();
    if (x->outstanding) {
        /* balances read while transfers still commit would not add up */
        x->val_waiting = 1;
        fprintf(stderr, "ycsbt: validate: waiting up to %g s for them before reading the balances\n",
                x->cfg.validate_timeout);
        return;
    }
    begin_reads(x);
}

/* The check proper, once no run request is in flight. */
static void begin_reads(yc_ctx *x)
{
    x->val_waiting = 0;
    if (x->drv.sum) {
        char err[512];
        if (x->drv.sum(x, &x->bal_sum, &x->bal_count, err, sizeof err) < 0) {
            yc_fatal(x, "validate: %s", err);
            return;
        }
        finish(x);
        return;
    }
    x->next_key = 0;
    issue_balance(x);
}

/* The validation phase ran out of time: say what could not be read, then end. */
static void validate_timeout(yc_ctx *x)
{
    x->validate_timed_out = 1;
    x->val_inflight = x->out_kind[YC_BALANCE];
    x->val_unread = x->cfg.records - x->bal_count - x->bal_errors;
    if (x->val_waiting) {
        x->val_wait_left = x->outstanding;
        fprintf(stderr,
                "ycsbt: validate: timed out after %g s waiting for %llu run requests still unanswered: "
                "no balance read\n",
                x->cfg.validate_timeout, (unsigned long long)x->val_wait_left);
        finish(x);
        return;
    }
    fprintf(stderr,
            "ycsbt: validate: timed out after %g s: %llu of %llu balances read, %llu read errors, "
            "%llu not read (%llu of them sent and unanswered)\n",
            x->cfg.validate_timeout, (unsigned long long)x->bal_count,
            (unsigned long long)x->cfg.records, (unsigned long long)x->bal_errors,
            (unsigned long long)x->val_unread, (unsigned long long)x->val_inflight);
    finish(x);
}

static void finish(yc_ctx *x)
{
    if (x->state == ST_CLOSE)
        return;
    if (x->validated) {
        int64_t expected = (int64_t)x->cfg.records * x->cfg.balance;
        x->valid_ok = x->bal_errors == 0 && x->bal_count == x->cfg.records && x->bal_sum == expected;
    }
    x->state = ST_CLOSE;
    x->drv.close(x);
}

void yc_done(yc_ctx *x, yc_op *op, int outcome, const char *errtype, int64_t value)
{
    uint64_t now = yc_now();
    x->outstanding--;
    x->out_kind[op->kind]--;
    int overloaded = outcome == YC_ERROR && errtype && strcmp(errtype, YC_OVERLOADED) == 0;
    if (!overloaded)
        x->last_done_ns = now; /* progress, for --stall-timeout-s */
    if (op->run) {
        if (x->state == ST_VALIDATE)
            x->late++;
        int in_window = now >= x->m_start && now < x->m_end;
        uint64_t lat_us = (now - op->intended_ns) / 1000u;
        if (x->state != ST_CLOSE) /* at close: the driver failing what stayed unanswered */
            sf_bench_hist_record(&x->answered, lat_us);
        if (overloaded) {
            x->iv_over++;
            if (in_window) {
                x->overloaded++;
                sf_bench_hist_record(&x->over_lat, lat_us);
            }
        } else if (outcome == YC_ERROR) {
            x->iv_err++;
            if (in_window) {
                x->errors++;
                count_error(x, errtype);
            }
        } else {
            sf_bench_hist_record(&x->interval, lat_us);
            x->iv_ok++;
            if (in_window) {
                sf_bench_hist_record(&x->hist, lat_us);
                sf_bench_hist_record(&x->lag, (op->sent_ns - op->intended_ns) / 1000u);
                sf_bench_hist_record(&x->service, (now - op->sent_ns) / 1000u);
                x->ok++;
                x->kind_ok[op->kind]++;
                if (outcome == YC_REFUSED)
                    x->refused++;
            }
        }
        op_free(x, op);
        if (x->state == ST_RUN && x->cfg.rate <= 0)
            issue_run(x, 0);
        else if (x->state == ST_DRAIN && x->outstanding == 0)
            start_validate(x);
        else if (x->state == ST_VALIDATE && x->val_waiting && x->outstanding == 0)
            begin_reads(x);
        return;
    }
    if (overloaded && (x->state == ST_LOAD || x->state == ST_VALIDATE) &&
        (op->kind == YC_CREATE || op->kind == YC_BALANCE)) {
        if (op->kind == YC_CREATE)
            x->load_overloaded++;
        else
            x->val_overloaded++;
        retry_later(x, op);
        return;
    }
    int kind = op->kind;
    op_free(x, op);
    if (kind == YC_CREATE) {
        if (x->state != ST_LOAD)
            return;
        if (outcome == YC_OK)
            x->keys_done++;
        else if (errtype && strcmp(errtype, "AlreadyExists") == 0) {
            x->keys_done++;
            x->load_exists++;
        } else {
            if (x->load_errors < 5)
                fprintf(stderr, "ycsbt: load: %s\n", errtype ? errtype : "error");
            x->load_errors++;
        }
        issue_load(x);
        if (x->keys_done + x->load_errors == x->cfg.records)
            load_done(x);
        return;
    }
    if (kind == YC_BALANCE) {
        if (x->state != ST_VALIDATE)
            return;
        if (outcome == YC_OK) {
            x->bal_sum += value;
            x->bal_count++;
        } else {
            if (x->bal_errors < 5)
                fprintf(stderr, "ycsbt: validate: %s\n", errtype ? errtype : "error");
            x->bal_errors++;
        }
        issue_balance(x);
        if (x->bal_count + x->bal_errors == x->cfg.records)
            finish(x);
        return;
    }
}

/* ---- timers ---- */

static void on_tick(uv_timer_t *t)
{
    yc_main *m = t->data;
    yc_ctx *x = &m->x;
    uint64_t now = yc_now();
    if (m->retry_head)
        resubmit_due(x, now);
    if (x->state == ST_RUN) {
        if (now >= x->m_end) {
            start_drain(x);
            return;
        }
        if (x->cfg.rate > 0) {
            double period = 1e9 / x->cfg.rate;
            for (;;) {
                uint64_t due = x->t0 + (uint64_t)((double)x->next_k * period);
                if (due > now || x->state != ST_RUN)
                    break;
                x->next_k++;
                if (x->outstanding >= (uint64_t)x->cfg.max_backlog) {
                    if (due >= x->m_start && due < x->m_end) {
                        x->backlog_drops++;
                        x->errors++;
                        count_error(x, "ClientBacklog");
                    }
                    continue;
                }
                issue_run(x, due);
            }
        }
    } else if (x->state == ST_DRAIN) {
        if (x->outstanding == 0 || now >= m->drain_deadline)
            start_validate(x);
    } else if (x->state == ST_VALIDATE) {
        if (now - m->phase_t0 >= (uint64_t)(x->cfg.validate_timeout * 1e9))
            validate_timeout(x);
    } else if (x->state == ST_CONNECT) {
        if (now - m->phase_t0 >= (uint64_t)(x->cfg.stall_timeout * 1e9))
            yc_fatal(x, "connect: not connected to %s within %g s", x->cfg.target, x->cfg.stall_timeout);
    } else if (x->state == ST_LOAD) {
        if (x->outstanding && now - x->last_done_ns >= (uint64_t)(x->cfg.stall_timeout * 1e9))
            yc_fatal(x,
                     "load: no reply for %g s: %llu of %llu records created, %llu requests unanswered",
                     x->cfg.stall_timeout, (unsigned long long)x->keys_done,
                     (unsigned long long)x->cfg.records, (unsigned long long)x->outstanding);
    }
}

static void on_progress(uv_timer_t *t)
{
    yc_main *m = t->data;
    yc_ctx *x = &m->x;
    if (x->cfg.quiet)
        return;
    uint64_t now = yc_now();
    if (x->state == ST_RUN || x->state == ST_DRAIN) {
        double secs = (double)(now - x->t0) / 1e9;
        const char *phase = x->state == ST_DRAIN ? "drain" : now < x->m_start ? "warmup" : "measure";
        fprintf(stderr,
                "ycsbt: [%4.0fs] %-7s %9llu ops/s  p50 %7.2f ms  p99 %8.2f ms  errors %llu  "
                "overloaded %llu  outstanding %llu\n",
                secs, phase, (unsigned long long)x->iv_ok,
                sf_bench_hist_percentile(&x->interval, 50) / 1000.0,
                sf_bench_hist_percentile(&x->interval, 99) / 1000.0, (unsigned long long)x->iv_err,
                (unsigned long long)x->iv_over, (unsigned long long)x->outstanding);
        sf_bench_hist_reset(&x->interval);
        x->iv_ok = x->iv_err = x->iv_over = 0;
    } else if (x->state == ST_LOAD) {
        fprintf(stderr, "ycsbt: load %llu / %llu records\n", (unsigned long long)x->keys_done,
                (unsigned long long)x->cfg.records);
    } else if (x->state == ST_VALIDATE && x->val_waiting) {
        fprintf(stderr, "ycsbt: validate: waiting for %llu run requests\n",
                (unsigned long long)x->outstanding);
    } else if (x->state == ST_VALIDATE) {
        fprintf(stderr, "ycsbt: validate %llu / %llu balances read\n",
                (unsigned long long)x->bal_count, (unsigned long long)x->cfg.records);
    } else if (x->state == ST_CONNECT) {
        fprintf(stderr, "ycsbt: connecting to %s\n", x->cfg.target);
    }
}

static void on_sigint(uv_signal_t *s, int signum)
{
    yc_main *m = s->data;
    yc_ctx *x = &m->x;
    (void)signum;
    if (x->state == ST_RUN) {
        fprintf(stderr, "ycsbt: interrupted: ending the run\n");
        uint64_t now = yc_now();
        if (now < x->m_end)
            x->m_end = now > x->m_start ? now : x->m_start;
        start_drain(x);
    } else {
        yc_fatal(x, "interrupted");
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    yc_main *m = h->data;
    m->handles_open--;
}

/* ---- report ---- */

static double pct_ms(const sf_bench_hist *h, double p) { return sf_bench_hist_percentile(h, p) / 1000.0; }

static double measured_secs(const yc_ctx *x) { return (double)(x->m_end - x->m_start) / 1e9; }

static int exactly_once_ok(const yc_ctx *x)
{
    return x->duplicates == 0 && x->unanswered == 0 && x->replies == x->sent;
}

static const char *dist_name(const yc_ctx *x) { return x->cfg.dist == SF_BENCH_ZIPFIAN ? "zipfian" : "uniform"; }

static const char *system_name(const yc_ctx *x)
{
    return x->cfg.proto == YC_PG ? "postgresql" : x->cfg.proto == YC_HTTP ? "stateflowd-http" : "stateflowd";
}

static void print_report(const yc_ctx *x)
{
    const yc_config *c = &x->cfg;
    printf("ycsbt: %s (%s) workload %c, %s keys", c->target, x->drv.name, c->workload, dist_name(x));
    if (c->dist == SF_BENCH_ZIPFIAN)
        printf(" (theta %.2f)", c->theta);
    printf(", %llu records, %s", (unsigned long long)c->records,
           c->rate > 0 ? "open loop" : "closed loop");
    if (c->rate > 0)
        printf(" at %.0f requests/s", c->rate);
    else
        printf(" with %d outstanding", c->outstanding);
    printf(" over %d connections\n", c->connections);
    if (c->load) {
        printf("  load         %llu records in %.1f s", (unsigned long long)x->keys_done, x->load_secs);
        if (x->load_overloaded)
            printf(" (%llu Overloaded replies, sent again)", (unsigned long long)x->load_overloaded);
        printf("\n");
    }
    if (c->duration > 0 && x->t0) {
        double secs = measured_secs(x);
        printf("  throughput   %.1f ops/s (%llu ops in %.1f s", secs > 0 ? (double)x->ok / secs : 0.0,
               (unsigned long long)x->ok, secs);
        if (x->refused)
            printf("; %llu transfers refused for insufficient funds", (unsigned long long)x->refused);
        printf(")\n");
        printf("  latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
               pct_ms(&x->hist, 50), pct_ms(&x->hist, 90), pct_ms(&x->hist, 99), pct_ms(&x->hist, 99.9),
               pct_ms(&x->hist, 100), sf_bench_hist_mean(&x->hist) / 1000.0);
        if (c->rate > 0) {
            printf("  send lag ms  p50 %.3f  p99 %.3f  max %.3f (generator delay, included above)\n",
                   pct_ms(&x->lag, 50), pct_ms(&x->lag, 99), pct_ms(&x->lag, 100));
            printf("  from send ms p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                   pct_ms(&x->service, 50), pct_ms(&x->service, 90), pct_ms(&x->service, 99),
                   pct_ms(&x->service, 99.9), pct_ms(&x->service, 100));
        }
        printf("  overloaded   %llu rejected (%.1f/s)", (unsigned long long)x->overloaded,
               secs > 0 ? (double)x->overloaded / secs : 0.0);
        if (x->overloaded)
            printf(", answered in ms p50 %.3f  p99 %.3f  max %.3f", pct_ms(&x->over_lat, 50),
                   pct_ms(&x->over_lat, 99), pct_ms(&x->over_lat, 100));
        printf("\n");
        printf("  answered ms  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f (every reply, any outcome)\n",
               pct_ms(&x->answered, 50), pct_ms(&x->answered, 99), pct_ms(&x->answered, 99.9),
               pct_ms(&x->answered, 100));
        printf("  errors       %llu", (unsigned long long)x->errors);
        for (int i = 0; i < YC_ERRTYPES && x->errs[i].n; i++)
            printf("%s%s %llu", i ? ", " : " (", x->errs[i].type, (unsigned long long)x->errs[i].n);
        if (x->errs[0].n)
            printf(")");
        if (x->retries)
            printf("; %llu transactions retried", (unsigned long long)x->retries);
        printf("\n");
        printf("  exactly once sent %llu, replies %llu, duplicates %llu, unanswered %llu: %s\n",
               (unsigned long long)x->sent, (unsigned long long)x->replies,
               (unsigned long long)x->duplicates, (unsigned long long)x->unanswered,
               exactly_once_ok(x) ? "ok" : "FAILED");
        if (x->unanswered) {
            printf("  unanswered   ");
            print_kinds(stdout, x->unanswered_kind);
            printf(" after the %g s drain", c->drain);
            if (x->late)
                printf(" (%llu of them answered later, during validation)", (unsigned long long)x->late);
            printf("\n");
        }
    }
    if (x->validated) {
        int64_t expected = (int64_t)c->records * c->balance;
        uint64_t ops = x->run_issued ? x->run_issued : 1;
        printf("  economy      sum %lld over %llu accounts, expected %lld (%llu read errors): %s; "
               "anomaly score %.3g\n",
               (long long)x->bal_sum, (unsigned long long)x->bal_count, (long long)expected,
               (unsigned long long)x->bal_errors,
               x->valid_ok ? "ok" : x->validate_timed_out ? "INCOMPLETE" : "FAILED",
               fabs((double)(x->bal_sum - expected)) / (double)ops);
        if (x->val_overloaded)
            printf("  economy      %llu Overloaded replies to balance reads, sent again\n",
                   (unsigned long long)x->val_overloaded);
        if (x->validate_timed_out && x->val_wait_left)
            printf("  economy      INCOMPLETE: timed out after %g s waiting for %llu run requests; no "
                   "balance read\n",
                   c->validate_timeout, (unsigned long long)x->val_wait_left);
        else if (x->validate_timed_out)
            printf("  economy      INCOMPLETE: timed out after %g s, %llu balances not read (%llu sent "
                   "and unanswered)\n",
                   c->validate_timeout, (unsigned long long)x->val_unread,
                   (unsigned long long)x->val_inflight);
    }
    fflush(stdout);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* ok: the run passed (the exit status will be 0). */
static int write_json(const yc_ctx *x, const char *path, int ok)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ycsbt: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const yc_config *c = &x->cfg;
    double secs = x->t0 ? measured_secs(x) : 0.0;
    fprintf(f, "{\"target\": ");
    json_str(f, c->target);
    fprintf(f, ", \"system\": \"%s\", \"durable\": %s, \"label\": ", system_name(x),
            x->durable ? "true" : "false");
    json_str(f, c->label ? c->label : "");
    fprintf(f, ", \"workload\": \"%c\", \"dist\": \"%s\", \"theta\": %g, \"records\": %llu", c->workload,
            dist_name(x), c->dist == SF_BENCH_ZIPFIAN ? c->theta : 0.0, (unsigned long long)c->records);
    fprintf(f, ", \"mode\": \"%s\", \"rate\": %g, \"outstanding\": %d, \"connections\": %d",
            c->rate > 0 ? "open" : "closed", c->rate > 0 ? c->rate : 0.0,
            c->rate > 0 ? 0 : c->outstanding, c->connections);
    fprintf(f, ", \"warmup\": %g, \"duration\": %g, \"measured_s\": %.3f", c->warmup, c->duration, secs);
    fprintf(f, ", \"ops\": %llu, \"tps\": %.1f, \"refused\": %llu, \"errors\": %llu",
            (unsigned long long)x->ok, secs > 0 ? (double)x->ok / secs : 0.0,
            (unsigned long long)x->refused, (unsigned long long)x->errors);
    fprintf(f, ", \"retries\": %llu", (unsigned long long)x->retries);
    fprintf(f, ", \"overloaded\": %llu, \"overloaded_per_s\": %.1f", (unsigned long long)x->overloaded,
            secs > 0 ? (double)x->overloaded / secs : 0.0);
    fprintf(f, ", \"overloaded_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}", pct_ms(&x->over_lat, 50),
            pct_ms(&x->over_lat, 99), pct_ms(&x->over_lat, 100));
    fprintf(f, ", \"answered_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}",
            pct_ms(&x->answered, 50), pct_ms(&x->answered, 99), pct_ms(&x->answered, 99.9),
            pct_ms(&x->answered, 100));
    fprintf(f, ", \"load_overloaded\": %llu, \"validate_overloaded\": %llu",
            (unsigned long long)x->load_overloaded, (unsigned long long)x->val_overloaded);
    fprintf(f, ", \"errors_by_type\": {");
    for (int i = 0; i < YC_ERRTYPES && x->errs[i].n; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, x->errs[i].type);
        fprintf(f, ": %llu", (unsigned long long)x->errs[i].n);
    }
    if (x->errs_other)
        fprintf(f, "%s\"other\": %llu", x->errs[0].n ? ", " : "", (unsigned long long)x->errs_other);
    fprintf(f, "}");
    const sf_bench_hist *h = &x->hist;
    fprintf(f,
            ", \"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, "
            "\"max\": %.3f, \"mean\": %.3f}",
            pct_ms(h, 50), pct_ms(h, 90), pct_ms(h, 99), pct_ms(h, 99.9), pct_ms(h, 100),
            sf_bench_hist_mean(h) / 1000.0);
    fprintf(f, ", \"send_lag_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}", pct_ms(&x->lag, 50),
            pct_ms(&x->lag, 99), pct_ms(&x->lag, 100));
    const sf_bench_hist *sv = &x->service;
    fprintf(f, ", \"from_send_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}",
            pct_ms(sv, 50), pct_ms(sv, 90), pct_ms(sv, 99), pct_ms(sv, 99.9), pct_ms(sv, 100));
    fprintf(f, ", \"sent\": %llu, \"replies\": %llu, \"duplicates\": %llu, \"unanswered\": %llu"
               ", \"exactly_once\": %s",
            (unsigned long long)x->sent, (unsigned long long)x->replies, (unsigned long long)x->duplicates,
            (unsigned long long)x->unanswered, exactly_once_ok(x) ? "true" : "false");
    fprintf(f, ", \"unanswered_by_kind\": {");
    for (int k = 0, first = 1; k < YC_NKINDS; k++) {
        if (!x->unanswered_kind[k])
            continue;
        fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", KIND_NAMES[k], (unsigned long long)x->unanswered_kind[k]);
        first = 0;
    }
    fprintf(f, "}, \"late_replies\": %llu", (unsigned long long)x->late);
    if (x->validated) {
        int64_t expected = (int64_t)c->records * c->balance;
        uint64_t ops = x->run_issued ? x->run_issued : 1;
        fprintf(f, ", \"validation\": {\"ok\": %s, \"sum\": %lld, \"expected\": %lld, \"accounts\": %llu"
                   ", \"read_errors\": %llu, \"anomaly_score\": %g, \"timed_out\": %s"
                   ", \"unread\": %llu, \"unread_in_flight\": %llu, \"run_unanswered_at_timeout\": %llu}",
                x->valid_ok ? "true" : "false", (long long)x->bal_sum, (long long)expected,
                (unsigned long long)x->bal_count, (unsigned long long)x->bal_errors,
                fabs((double)(x->bal_sum - expected)) / (double)ops,
                x->validate_timed_out ? "true" : "false", (unsigned long long)x->val_unread,
                (unsigned long long)x->val_inflight, (unsigned long long)x->val_wait_left);
    } else {
        fprintf(f, ", \"validation\": null");
    }
    /* the latency CDF: [percentile, ms] */
    static const double tail[] = {99.5, 99.9, 99.95, 99.99, 100.0};
    fprintf(f, ", \"cdf\": [");
    for (int p = 0; p < 100; p++)
        fprintf(f, "%s[%d, %.3f]", p ? ", " : "", p, pct_ms(h, p));
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        fprintf(f, ", [%g, %.3f]", tail[i], pct_ms(h, tail[i]));
    fprintf(f, "]");
    fprintf(f, ", \"ok\": %s}\n", ok ? "true" : "false");
    if (fclose(f) != 0) {
        fprintf(stderr, "ycsbt: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

static int parse_num(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "ycsbt: %s: expected a number in %g..%g, got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_target(yc_config *c)
{
    const char *t = c->target;
    const char *rest;
    if (strncmp(t, "stateflow://", 12) == 0) {
        c->proto = YC_NATIVE;
        c->port = 7070;
        rest = t + 12;
    } else if (strncmp(t, "http://", 7) == 0) {
        c->proto = YC_HTTP;
        c->port = 8080;
        rest = t + 7;
    } else if (strncmp(t, "postgres://", 11) == 0 || strncmp(t, "postgresql://", 13) == 0) {
        c->proto = YC_PG;
        return 0;
    } else {
        fprintf(stderr, "ycsbt: --target: expected stateflow://, http:// or postgres://, got '%s'\n", t);
        return -1;
    }
    size_t n = strcspn(rest, "/");
    char hp[300];
    if (n == 0 || n >= sizeof hp) {
        fprintf(stderr, "ycsbt: --target: no host in '%s'\n", t);
        return -1;
    }
    memcpy(hp, rest, n);
    hp[n] = 0;
    char *host = hp, *port = NULL;
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close) {
            fprintf(stderr, "ycsbt: --target: unterminated [ in '%s'\n", t);
            return -1;
        }
        *close = 0;
        host = hp + 1;
        if (close[1] == ':')
            port = close + 2;
    } else {
        char *colon = strrchr(hp, ':');
        if (colon) {
            *colon = 0;
            port = colon + 1;
        }
    }
    if (port) {
        double p;
        if (parse_num("--target port", port, 1, 65535, &p) < 0)
            return -1;
        c->port = (int)p;
    }
    if (!*host || strlen(host) >= sizeof c->host) {
        fprintf(stderr, "ycsbt: --target: bad host in '%s'\n", t);
        return -1;
    }
    memcpy(c->host, host, strlen(host) + 1); /* fits: checked above */
    return 0;
}

static int parse_args(int argc, char **argv, yc_config *c)
{
    memset(c, 0, sizeof(*c));
    c->workload = 'A';
    c->dist = SF_BENCH_UNIFORM;
    c->theta = SF_BENCH_YCSB_THETA;
    c->records = 10000;
    c->outstanding = 64;
    c->connections = 4;
    c->warmup = 2;
    c->duration = 10;
    c->drain = 10;
    c->balance = 1000;
    c->max_amount = 10;
    c->seed = 42;
    c->load_window = 512;
    c->max_backlog = 1000000;
    c->validate_timeout = 30;
    c->stall_timeout = 30;
    int have_rate = 0, have_out = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        }
        if (strcmp(a, "--load") == 0) {
            c->load = 1;
            continue;
        }
        if (strcmp(a, "--validate") == 0) {
            c->validate = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            c->quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ycsbt: %s: unknown option or missing value\n%s", a, USAGE);
            return -1;
        }
        const char *v = argv[++i];
        double d;
        if (strcmp(a, "--target") == 0)
            c->target = v;
        else if (strcmp(a, "--workload") == 0) {
            if (strlen(v) != 1 || !strchr("ABTMabtm", v[0])) {
                fprintf(stderr, "ycsbt: --workload: expected A, B, T or M, got '%s'\n", v);
                return -1;
            }
            c->workload = (char)(v[0] & ~0x20);
        } else if (strcmp(a, "--dist") == 0) {
            if (strcmp(v, "uniform") == 0)
                c->dist = SF_BENCH_UNIFORM;
            else if (strcmp(v, "zipfian") == 0)
                c->dist = SF_BENCH_ZIPFIAN;
            else {
                fprintf(stderr, "ycsbt: --dist: expected uniform or zipfian, got '%s'\n", v);
                return -1;
            }
        } else if (strcmp(a, "--theta") == 0) {
            if (parse_num(a, v, 0.01, 0.999999, &c->theta) < 0)
                return -1;
        } else if (strcmp(a, "--records") == 0) {
            if (parse_num(a, v, 1, 1e10, &d) < 0)
                return -1;
            c->records = (uint64_t)d;
        } else if (strcmp(a, "--rate") == 0) {
            if (parse_num(a, v, 1, 1e8, &c->rate) < 0)
                return -1;
            have_rate = 1;
        } else if (strcmp(a, "--outstanding") == 0) {
            if (parse_num(a, v, 1, 1e6, &d) < 0)
                return -1;
            c->outstanding = (int)d;
            have_out = 1;
        } else if (strcmp(a, "--connections") == 0) {
            if (parse_num(a, v, 1, 1024, &d) < 0)
                return -1;
            c->connections = (int)d;
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_num(a, v, 0, 86400, &c->warmup) < 0)
                return -1;
        } else if (strcmp(a, "--duration") == 0) {
            if (parse_num(a, v, 0, 86400, &c->duration) < 0)
                return -1;
        } else if (strcmp(a, "--drain") == 0) {
            if (parse_num(a, v, 0, 3600, &c->drain) < 0)
                return -1;
        } else if (strcmp(a, "--json") == 0)
            c->json = v;
        else if (strcmp(a, "--balance") == 0) {
            if (parse_num(a, v, 0, 1e12, &d) < 0)
                return -1;
            c->balance = (int64_t)d;
        } else if (strcmp(a, "--max-amount") == 0) {
            if (parse_num(a, v, 1, 1e9, &d) < 0)
                return -1;
            c->max_amount = (int64_t)d;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_num(a, v, 0, 1e18, &d) < 0)
                return -1;
            c->seed = (uint64_t)d;
        } else if (strcmp(a, "--token") == 0)
            c->token = v;
        else if (strcmp(a, "--token-file") == 0)
            c->token_file = v;
        else if (strcmp(a, "--load-window") == 0) {
            if (parse_num(a, v, 1, 1e6, &d) < 0)
                return -1;
            c->load_window = (int)d;
        } else if (strcmp(a, "--max-backlog") == 0) {
            if (parse_num(a, v, 1, 1e8, &d) < 0)
                return -1;
            c->max_backlog = (int)d;
        } else if (strcmp(a, "--validate-timeout-s") == 0) {
            if (parse_num(a, v, 0.001, 86400, &c->validate_timeout) < 0)
                return -1;
        } else if (strcmp(a, "--stall-timeout-s") == 0) {
            if (parse_num(a, v, 0.001, 86400, &c->stall_timeout) < 0)
                return -1;
        } else if (strcmp(a, "--label") == 0)
            c->label = v;
        else {
            fprintf(stderr, "ycsbt: unknown option %s\n%s", a, USAGE);
            return -1;
        }
    }
    if (!c->target) {
        fprintf(stderr, "ycsbt: --target is required\n%s", USAGE);
        return -1;
    }
    if (have_rate && have_out) {
        fprintf(stderr, "ycsbt: give --rate (open loop) or --outstanding (closed loop), not both\n");
        return -1;
    }
    if (!have_rate)
        c->rate = 0;
    if ((c->workload == 'T' || c->workload == 'M') && c->records < 2) {
        fprintf(stderr, "ycsbt: workloads T and M need at least 2 records\n");
        return -1;
    }
    return parse_target(c);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    yc_main *m = calloc(1, sizeof(*m));
    if (!m) {
        fprintf(stderr, "ycsbt: out of memory\n");
        return 1;
    }
    yc_ctx *x = &m->x;
    if (parse_args(argc, argv, &x->cfg) < 0) {
        free(m);
        return 2;
    }
    char err[512];
    if (sf_bench_keygen_init(&x->keys, x->cfg.dist, x->cfg.records, x->cfg.theta, 1, err, sizeof err) < 0) {
        fprintf(stderr, "ycsbt: %s\n", err);
        free(m);
        return 2;
    }
    sf_bench_rng_seed(&x->rng, x->cfg.seed);
    yc_workload_names(x);
    sf_bench_hist_reset(&x->hist);
    sf_bench_hist_reset(&x->interval);
    x->loop = uv_default_loop();
    x->state = ST_CONNECT;

    int rc;
    switch (x->cfg.proto) {
    case YC_NATIVE: rc = yc_native_driver(x, err, sizeof err); break;
    case YC_HTTP: rc = yc_http_driver(x, err, sizeof err); break;
    default: rc = yc_pg_driver(x, err, sizeof err); break;
    }
    if (rc < 0) {
        fprintf(stderr, "ycsbt: %s\n", err);
        free(m);
        return 1;
    }

    uv_timer_init(x->loop, &m->tick);
    uv_timer_init(x->loop, &m->progress);
    uv_signal_init(x->loop, &m->sigint);
    m->tick.data = m->progress.data = m->sigint.data = m;
    m->handles_open = 3;
    uv_timer_start(&m->tick, on_tick, 1, 1);
    uv_timer_start(&m->progress, on_progress, 1000, 1000);
    uv_signal_start(&m->sigint, on_sigint, SIGINT);

    m->phase_t0 = yc_now(); /* connecting: bounded by --stall-timeout-s */
    if (x->drv.open(x, err, sizeof err) < 0) {
        x->failed = 1;
        snprintf(x->fail_msg, sizeof x->fail_msg, "%s", err);
        fprintf(stderr, "ycsbt: %s\n", err);
        x->state = ST_CLOSE;
        x->drv.close(x);
    }
    /* Run until the driver closed; our own handles go when the state is
     * ST_CLOSE (checked each time the loop would otherwise block on them). */
    for (;;) {
        uv_run(x->loop, UV_RUN_ONCE);
        if (x->state == ST_CLOSE && m->handles_open == 3) {
            uv_close((uv_handle_t *)&m->tick, on_handle_closed);
            uv_close((uv_handle_t *)&m->progress, on_handle_closed);
            uv_close((uv_handle_t *)&m->sigint, on_handle_closed);
        }
        if (x->state == ST_CLOSE && m->handles_open == 0 && !uv_loop_alive(x->loop))
            break;
    }
    if (x->drv.free)
        x->drv.free(x);
    uv_loop_close(x->loop);

    int status = x->failed ? 1 : 0;
    if (!x->failed) {
        print_report(x);
        if (x->cfg.duration > 0 && x->t0 && !exactly_once_ok(x))
            status = 1;
        if (x->cfg.duration > 0 && x->t0 && x->ok == 0) {
            fprintf(stderr, "ycsbt: no request succeeded in the measured window\n");
            status = 1;
        }
        if (x->validated && !x->valid_ok)
            status = 1;
    }
    if (x->cfg.json && write_json(x, x->cfg.json, status == 0) < 0)
        status = 1;
    while (m->retry_head) {
        yc_op *op = m->retry_head;
        m->retry_head = op->next;
        free(op);
    }
    while (x->free_ops) {
        yc_op *op = x->free_ops;
        x->free_ops = op->next;
        free(op);
    }
    free(m);
    return status;
}
