/* metrics.h: a small metrics registry (counters, gauges, histograms with
 * fixed buckets, each with optional labels) rendered in the Prometheus text
 * exposition format (version 0.0.4) for GET /metrics. The registry is a
 * plain struct its owner (the coordinator) creates and passes around: no
 * global state, not thread-safe (use it from one thread, the loop's).
 *
 * A metric family has a name, a help text, a type and a fixed list of label
 * names; each distinct set of label values is one series, created on first
 * lookup. Lookups return the same handle for the same family and label
 * values, so callers may look a series up once and keep the pointer (valid
 * until sf_metrics_free). Misuse (invalid name, a name registered with
 * another type, other label names or other buckets, a family over
 * SF_METRICS_MAX_SERIES series) returns NULL; every update function accepts
 * NULL and does nothing, so instrumentation never needs to check. The
 * reason of the last failure is in sf_metrics_error.
 *
 * Labels are given as name/value pairs after the fixed arguments,
 * terminated by NULL:
 *   sf_metric *c = sf_metrics_counter(m, "stateflow_requests_total",
 *                                     "Client requests.", "op", "call", NULL);
 *   sf_metric_inc(c);
 */
#ifndef SF_RUNTIME_METRICS_H
#define SF_RUNTIME_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stateflow/sf_buf.h"

typedef struct sf_metrics sf_metrics;
typedef struct sf_metric sf_metric; /* one series */

#define SF_METRICS_MAX_LABELS 8
#define SF_METRICS_MAX_BUCKETS 64
#define SF_METRICS_MAX_SERIES 1000 /* per family */

sf_metrics *sf_metrics_new(void);
void sf_metrics_free(sf_metrics *m);
/* The message of the last failed lookup ("" if none). */
const char *sf_metrics_error(const sf_metrics *m);

/* Counter: only goes up. */
sf_metric *sf_metrics_counter(sf_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));
/* Gauge: set, up and down. */
sf_metric *sf_metrics_gauge(sf_metrics *m, const char *name, const char *help, ...)
    __attribute__((sentinel));
/* Histogram with nbounds strictly increasing finite upper bounds (the +Inf
 * bucket is implicit); renders NAME_bucket{le=...}, NAME_sum, NAME_count. */
sf_metric *sf_metrics_histogram(sf_metrics *m, const char *name, const char *help, const double *bounds,
                                size_t nbounds, ...) __attribute__((sentinel));

void sf_metric_inc(sf_metric *c);              /* counter or gauge: +1 */
void sf_metric_add(sf_metric *c, double v);    /* counter: v >= 0 only (else ignored); gauge: any */
void sf_metric_set(sf_metric *g, double v);    /* gauge only */
void sf_metric_observe(sf_metric *h, double v); /* histogram only (NaN ignored) */
double sf_metric_value(const sf_metric *c);    /* counter/gauge value; histogram: count; NULL: 0 */

/* Append the whole registry (families in registration order, series in
 * creation order) to out. */
void sf_metrics_render(const sf_metrics *m, sf_buf *out);
/* The Content-Type of the rendering. */
#define SF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Bucket bounds for the standard histograms. */
extern const double sf_metrics_latency_buckets[]; /* seconds, 0.0005 .. 10 */
extern const size_t sf_metrics_latency_nbuckets;
extern const double sf_metrics_batch_buckets[];   /* transactions, 1 .. 10000 */
extern const size_t sf_metrics_batch_nbuckets;

/* The standard StateFlow series, registered in one call by
 * sf_metrics_stateflow (any member may be NULL if registration failed,
 * which only happens when the names were taken with other types). */
typedef struct sf_stateflow_metrics {
    sf_metric *requests_create;  /* stateflow_requests_total{op="create"} */
    sf_metric *requests_call;    /* stateflow_requests_total{op="call"} */
    sf_metric *requests_get;     /* stateflow_requests_total{op="get"} */
    sf_metric *commits;          /* stateflow_commits_total */
    sf_metric *aborts_conflict;  /* stateflow_aborts_total{cause="conflict"} */
    sf_metric *aborts_logic;     /* stateflow_aborts_total{cause="logic"} */
    sf_metric *batches;          /* stateflow_batches_total */
    sf_metric *batch_size;       /* stateflow_batch_size (histogram) */
    sf_metric *latency;          /* stateflow_request_latency_seconds (histogram) */
    sf_metric *rejected_overloaded;  /* stateflow_rejected_total{reason="overloaded"} */
    sf_metric *rejected_unavailable; /* stateflow_rejected_total{reason="unavailable"} */
    sf_metric *phase_aria;       /* stateflow_phase_transactions_total{phase="aria"} */
    sf_metric *phase_fallback;   /* stateflow_phase_transactions_total{phase="fallback"} */
    sf_metric *lock_waits;       /* stateflow_fallback_lock_waits_total */
    sf_metric *reruns;           /* stateflow_reruns_total: to the next batch */
} sf_stateflow_metrics;

void sf_metrics_stateflow(sf_metrics *m, sf_stateflow_metrics *out);

#endif
