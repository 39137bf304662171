/* ycsbt.h: what the parts of the ycsbt load generator share: the run
 * configuration, operations (one YCSB / YCSB+T request each), the run
 * context with its counters and histograms, and the driver interface every
 * target (native protocol, HTTP, PostgreSQL) implements. One libuv loop,
 * one thread. */
#ifndef SF_BENCH_YCSBT_H
#define SF_BENCH_YCSBT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hist.h"
#include "keygen.h"

#define YC_FIELDS 10       /* YCSB record: field0 .. field9 */
#define YC_FIELD_LEN 100   /* bytes each */
#define YC_KEY_MAX 32      /* "user" + up to 20 digits */
#define YC_ERRTYPES 16     /* distinct error types counted by name */

enum yc_proto { YC_NATIVE = 1, YC_HTTP, YC_PG };

/* What an operation does. */
enum yc_kind {
    YC_READ = 0,   /* read every field of a record (T: an account's balance) */
    YC_UPDATE,     /* overwrite one field */
    YC_TRANSFER,   /* move `amount` from a to b, refused on insufficient funds */
    YC_CREATE,     /* --load: create record/account a */
    YC_BALANCE,    /* validation: the balance of a */
    YC_NKINDS
};

/* How an operation ended. */
enum yc_outcome {
    YC_OK = 0,
    YC_REFUSED,    /* a transfer refused for insufficient funds (it ran) */
    YC_ERROR,      /* an error reply or a lost connection (errtype says);
                    * errtype "Overloaded" (HTTP 503, native error) is a
                    * rejection: counted apart, never as a failure */
};

#define YC_OVERLOADED "Overloaded"

typedef struct yc_op {
    struct yc_op *next;    /* free list / driver queues */
    int kind;
    int field;             /* YC_UPDATE */
    uint64_t a, b;         /* key numbers */
    int64_t amount;        /* YC_TRANSFER */
    uint64_t intended_ns;  /* latency origin (open loop: the schedule) */
    uint64_t sent_ns;
    int run;               /* 1: part of the timed run (not load/validate) */
    /* driver scratch */
    int phase, retries, nres;
    int64_t bal[2];
    int failed;
    char errtype[48];
    /* main.c: --load / --validate requests rejected as Overloaded are sent
     * again at retry_at (ns) */
    uint64_t retry_at;
    int overloaded;
} yc_op;

typedef struct yc_config {
    const char *target;
    int proto;
    char host[256];
    int port;
    char workload;          /* 'A', 'B', 'T', 'M' */
    int dist;               /* SF_BENCH_UNIFORM / SF_BENCH_ZIPFIAN */
    double theta;
    uint64_t records;
    double rate;            /* > 0: open loop at this many requests/s */
    int outstanding;        /* closed loop: requests in flight */
    int connections;
    double warmup, duration, drain;
    const char *json;
    int load, validate;
    int64_t balance;        /* initial balance of every record/account */
    int64_t max_amount;     /* transfers move 1 .. max_amount */
    uint64_t seed;
    const char *token, *token_file;
    int load_window;        /* creates in flight during --load */
    int max_backlog;        /* open loop: requests queued beyond this are dropped */
    int quiet;
    const char *label;      /* free text copied into the JSON */
    double validate_timeout; /* s: the validation phase ends after this */
    double stall_timeout;   /* s: connecting, and --load without a reply */
} yc_config;

typedef struct yc_ctx yc_ctx;

/* A target. open() starts connecting and later calls yc_ready() or
 * yc_fatal(); submit() takes an operation and completes it exactly once
 * with yc_done(); close() closes everything (the loop then ends). load and
 * sum are optional synchronous shortcuts (PostgreSQL: COPY, SELECT sum). */
typedef struct yc_driver {
    const char *name;
    int (*open)(yc_ctx *x, char *err, size_t errlen);
    void (*submit)(yc_ctx *x, yc_op *op);
    int (*load)(yc_ctx *x, char *err, size_t errlen);
    int (*sum)(yc_ctx *x, int64_t *sum, uint64_t *count, char *err, size_t errlen);
    void (*close)(yc_ctx *x);
    void (*free)(yc_ctx *x);   /* after the loop ended */
    void *st;
} yc_driver;

typedef struct yc_errcount {
    char type[48];
    uint64_t n;
} yc_errcount;

struct yc_ctx {
    yc_config cfg;
    uv_loop_t *loop;
    yc_driver drv;
    sf_bench_keygen keys;
    sf_bench_rng rng;

    /* entity program (stateflowd) / table (PostgreSQL) of this workload */
    const char *entity, *m_read, *m_update, *m_transfer, *m_balance;

    yc_op *free_ops;
    uint64_t outstanding;   /* submitted and not yet done */
    uint64_t submitted;
    uint64_t run_issued;    /* operations of the timed run */

    /* exactly-once accounting, kept by the drivers */
    uint64_t sent, replies, duplicates;

    int durable;            /* the target acknowledges only durable writes */
    int state;              /* main.c's phase */
    int failed;
    char fail_msg[512];

    /* timed run */
    uint64_t t0;            /* ns: start of the run (warm-up begins) */
    uint64_t next_k;        /* open loop: index of the next request */
    uint64_t m_start, m_end;
    sf_bench_hist hist;     /* measured window */
    sf_bench_hist interval; /* progress line */
    sf_bench_hist lag;      /* open loop: actual minus intended send time */
    sf_bench_hist service;  /* latency from the actual send time */
    uint64_t iv_ok, iv_err;
    uint64_t ok, refused, errors, backlog_drops;
    uint64_t overloaded;    /* rejected with Overloaded, in the window (not in errors) */
    uint64_t iv_over;
    sf_bench_hist over_lat; /* latency of those rejections, from the intended time */
    sf_bench_hist answered; /* every answer to a run request, any outcome, any time */
    uint64_t load_overloaded, val_overloaded; /* rejections retried in --load / --validate */
    uint64_t retries;       /* PostgreSQL: transactions retried after 40001/40P01 */
    uint64_t kind_ok[YC_NKINDS];
    yc_errcount errs[YC_ERRTYPES];
    uint64_t errs_other;

    /* load / validate */
    uint64_t next_key, keys_done, load_exists, load_errors;
    int64_t bal_sum;
    uint64_t bal_count, bal_errors;
    int validated, valid_ok;
    double load_secs;
    uint64_t unanswered;    /* run requests still unanswered when the drain ended */
    uint64_t unanswered_kind[YC_NKINDS];
    uint64_t late;          /* of those, answered later (during validation) */
    uint64_t out_kind[YC_NKINDS]; /* submitted and not yet done, by kind */
    uint64_t last_done_ns;  /* when an operation last completed */
    int validate_timed_out;
    int val_waiting;        /* the check waits for the run's unanswered requests */
    uint64_t val_wait_left; /* of those, still unanswered when the check timed out */
    uint64_t val_unread;    /* accounts whose balance was not read in time */
    uint64_t val_inflight;  /* of those, reads sent and unanswered */
};

/* Called by drivers. */
void yc_ready(yc_ctx *x);
void yc_fatal(yc_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* value: the balance for YC_BALANCE. */
void yc_done(yc_ctx *x, yc_op *op, int outcome, const char *errtype, int64_t value);
uint64_t yc_now(void);

/* Workload helpers (workload.c). */
void yc_key(uint64_t k, char *out, size_t outlen); /* "user<k>" */
/* 100 random printable bytes (no quote, backslash or space). */
void yc_field_value(sf_bench_rng *r, char out[YC_FIELD_LEN]);
/* The next timed-run operation of the workload (keys, field, amount). */
void yc_next_op(yc_ctx *x, yc_op *op);
/* Names of the entity and methods for the workload (stateflowd). */
void yc_workload_names(yc_ctx *x);

/* Drivers. */
int yc_native_driver(yc_ctx *x, char *err, size_t errlen);
int yc_http_driver(yc_ctx *x, char *err, size_t errlen);
int yc_pg_driver(yc_ctx *x, char *err, size_t errlen);

#endif
