/* metrics.c: the metrics registry and its Prometheus text rendering
 * (metrics.h). Families are kept in registration order in a growable
 * array; each owns its series (one per distinct label value set), found by
 * a linear scan (families have few series). Nothing here aborts: a failed
 * allocation makes the lookup return NULL with a message. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_COUNTER, T_GAUGE, T_HISTOGRAM };

typedef struct family {
    char *name;
    char *help;
    int type;
    size_t nlabels;
    char *label_names[SF_METRICS_MAX_LABELS];
    double *bounds;
    size_t nbounds;
    sf_metric **series;
    size_t nseries, cap;
} family;

struct sf_metric {
    family *fam;
    char *values[SF_METRICS_MAX_LABELS];
    double value;      /* counter, gauge */
    uint64_t *buckets; /* histogram: nbounds + 1 non-cumulative counts */
    double sum;
    uint64_t count;
};

struct sf_metrics {
    family **fams;
    size_t n, cap;
    char err[200];
};

const double sf_metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t sf_metrics_latency_nbuckets = sizeof sf_metrics_latency_buckets / sizeof(double);
const double sf_metrics_batch_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
const size_t sf_metrics_batch_nbuckets = sizeof sf_metrics_batch_buckets / sizeof(double);

static void set_err(sf_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(sf_metrics *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
}

sf_metrics *sf_metrics_new(void)
{
    return calloc(1, sizeof(sf_metrics));
}

static void series_free(sf_metric *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i], f->nlabels);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->label_names[i]);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void sf_metrics_free(sf_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m);
}

const char *sf_metrics_error(const sf_metrics *m)
{
    return m ? m->err : "no registry";
}

static int valid_name(const char *s, int colon_ok)
{
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* Find or create the series; labels come from ap (name, value, ..., NULL). */
static sf_metric *lookup(sf_metrics *m, const char *name, const char *help, int type, const double *bounds,
                         size_t nbounds, va_list ap)
{
    if (!m)
        return NULL;
    const char *lnames[SF_METRICS_MAX_LABELS], *lvalues[SF_METRICS_MAX_LABELS];
    size_t nl = 0;
    for (;;) {
        const char *ln = va_arg(ap, const char *);
        if (!ln)
            break;
        const char *lv = va_arg(ap, const char *);
        if (nl == SF_METRICS_MAX_LABELS) {
            set_err(m, "%s: too many labels (limit %d)", name ? name : "?", SF_METRICS_MAX_LABELS);
            return NULL;
        }
        if (!lv) {
            set_err(m, "%s: label %s has no value", name ? name : "?", ln);
            return NULL;
        }
        if (!valid_name(ln, 0) || strncmp(ln, "__", 2) == 0 || (type == T_HISTOGRAM && strcmp(ln, "le") == 0)) {
            set_err(m, "%s: invalid label name \"%s\"", name ? name : "?", ln);
            return NULL;
        }
        for (size_t i = 0; i < nl; i++) {
            if (strcmp(lnames[i], ln) == 0) {
                set_err(m, "%s: label \"%s\" given twice", name ? name : "?", ln);
                return NULL;
            }
        }
        lnames[nl] = ln;
        lvalues[nl] = lv;
        nl++;
    }
    if (!valid_name(name, 1)) {
        set_err(m, "invalid metric name \"%s\"", name ? name : "(null)");
        return NULL;
    }
    family *f = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->fams[i]->name, name) == 0) {
            f = m->fams[i];
            break;
        }
    }
    if (f) {
        if (f->type != type) {
            set_err(m, "%s is already a %s", name, type_names[f->type]);
            return NULL;
        }
        int same = f->nlabels == nl;
        for (size_t i = 0; same && i < nl; i++)
            same = strcmp(f->label_names[i], lnames[i]) == 0;
        if (!same) {
            set_err(m, "%s: other label names than at registration", name);
            return NULL;
        }
        if (type == T_HISTOGRAM &&
            (f->nbounds != nbounds || (nbounds && memcmp(f->bounds, bounds, nbounds * sizeof(double)) != 0))) {
            set_err(m, "%s: other buckets than at registration", name);
            return NULL;
        }
        for (size_t s = 0; s < f->nseries; s++) {
            size_t i = 0;
            while (i < nl && strcmp(f->series[s]->values[i], lvalues[i]) == 0)
                i++;
            if (i == nl)
                return f->series[s];
        }
    } else {
        if (type == T_HISTOGRAM) {
            if (nbounds == 0 || nbounds > SF_METRICS_MAX_BUCKETS) {
                set_err(m, "%s: a histogram needs 1 to %d bucket bounds", name, SF_METRICS_MAX_BUCKETS);
                return NULL;
            }
            for (size_t i = 0; i < nbounds; i++) {
                if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
                    set_err(m, "%s: bucket bounds must be finite and strictly increasing", name);
                    return NULL;
                }
            }
        }
        if (m->n == m->cap) {
            size_t nc = m->cap ? m->cap * 2 : 16;
            family **nf = realloc(m->fams, nc * sizeof *nf);
            if (!nf) {
                set_err(m, "out of memory");
                return NULL;
            }
            m->fams = nf;
            m->cap = nc;
        }
        f = calloc(1, sizeof *f);
        if (!f) {
            set_err(m, "out of memory");
            return NULL;
        }
        f->name = dup(name);
        f->help = dup(help ? help : "");
        f->type = type;
        int oom = !f->name || !f->help;
        for (size_t i = 0; i < nl; i++) {
            f->label_names[i] = dup(lnames[i]);
            f->nlabels = i + 1;
            oom |= !f->label_names[i];
        }
        if (type == T_HISTOGRAM) {
            f->bounds = malloc(nbounds * sizeof(double));
            oom |= !f->bounds;
            if (f->bounds)
                memcpy(f->bounds, bounds, nbounds * sizeof(double));
            f->nbounds = nbounds;
        }
        if (oom) {
            family_free(f);
            set_err(m, "out of memory");
            return NULL;
        }
        m->fams[m->n++] = f;
    }
    if (f->nseries >= SF_METRICS_MAX_SERIES) {
        set_err(m, "%s: too many series (limit %d)", name, SF_METRICS_MAX_SERIES);
        return NULL;
    }
    if (f->nseries == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 4;
        sf_metric **ns = realloc(f->series, nc * sizeof *ns);
        if (!ns) {
            set_err(m, "out of memory");
            return NULL;
        }
        f->series = ns;
        f->cap = nc;
    }
    sf_metric *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(m, "out of memory");
        return NULL;
    }
    s->fam = f;
    int oom = 0;
    for (size_t i = 0; i < nl; i++)
        oom |= !(s->values[i] = dup(lvalues[i]));
    if (type == T_HISTOGRAM)
        oom |= !(s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t)));
    if (oom) {
        series_free(s, nl);
        set_err(m, "out of memory");
        return NULL;
    }
    f->series[f->nseries++] = s;
    return s;
}

sf_metric *sf_metrics_counter(sf_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    sf_metric *s = lookup(m, name, help, T_COUNTER, NULL, 0, ap);
    va_end(ap);
    return s;
}

sf_metric *sf_metrics_gauge(sf_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    sf_metric *s = lookup(m, name, help, T_GAUGE, NULL, 0, ap);
    va_end(ap);
    return s;
}

sf_metric *sf_metrics_histogram(sf_metrics *m, const char *name, const char *help, const double *bounds,
                                size_t nbounds, ...)
{
    va_list ap;
    va_start(ap, nbounds);
    sf_metric *s = lookup(m, name, help, T_HISTOGRAM, bounds, nbounds, ap);
    va_end(ap);
    return s;
}

void sf_metric_inc(sf_metric *c)
{
    if (c && c->fam->type != T_HISTOGRAM)
        c->value += 1;
}

void sf_metric_add(sf_metric *c, double v)
{
    if (!c || isnan(v))
        return;
    if (c->fam->type == T_GAUGE || (c->fam->type == T_COUNTER && v >= 0))
        c->value += v;
}

void sf_metric_set(sf_metric *g, double v)
{
    if (g && g->fam->type == T_GAUGE)
        g->value = v;
}

void sf_metric_observe(sf_metric *h, double v)
{
    if (!h || h->fam->type != T_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < h->fam->nbounds && v > h->fam->bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

double sf_metric_value(const sf_metric *c)
{
    if (!c)
        return 0;
    return c->fam->type == T_HISTOGRAM ? (double)c->count : c->value;
}

/* ---- rendering ------------------------------------------------------------ */

static void put_number(sf_buf *out, double v)
{
    if (isnan(v)) {
        sf_buf_puts(out, "NaN");
    } else if (isinf(v)) {
        sf_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        sf_buf_printf(out, "%.0f", v);
    } else {
        char b[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(b, sizeof b, "%.*g", prec, v);
            if (strtod(b, NULL) == v)
                break;
        }
        sf_buf_puts(out, b);
    }
}

static void put_escaped(sf_buf *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sf_buf_puts(out, "\\\\");
        else if (*s == '\n')
            sf_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            sf_buf_puts(out, "\\\"");
        else
            sf_buf_putc(out, *s);
    }
}

/* {a="x",b="y"[,le="..."]} or nothing */
static void put_labels(sf_buf *out, const family *f, const sf_metric *s, const double *le)
{
    if (f->nlabels == 0 && !le)
        return;
    sf_buf_putc(out, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            sf_buf_putc(out, ',');
        sf_buf_printf(out, "%s=\"", f->label_names[i]);
        put_escaped(out, s->values[i], 1);
        sf_buf_putc(out, '"');
    }
    if (le) {
        if (f->nlabels)
            sf_buf_putc(out, ',');
        sf_buf_puts(out, "le=\"");
        put_number(out, *le);
        sf_buf_putc(out, '"');
    }
    sf_buf_putc(out, '}');
}

void sf_metrics_render(const sf_metrics *m, sf_buf *out)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        const family *f = m->fams[i];
        sf_buf_printf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, 0);
        sf_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        for (size_t j = 0; j < f->nseries; j++) {
            const sf_metric *s = f->series[j];
            if (f->type != T_HISTOGRAM) {
                sf_buf_puts(out, f->name);
                put_labels(out, f, s, NULL);
                sf_buf_putc(out, ' ');
                put_number(out, s->value);
                sf_buf_putc(out, '\n');
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b <= f->nbounds; b++) {
                double le = b < f->nbounds ? f->bounds[b] : INFINITY;
                cum += s->buckets[b];
                sf_buf_printf(out, "%s_bucket", f->name);
                put_labels(out, f, s, &le);
                sf_buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            sf_buf_printf(out, "%s_sum", f->name);
            put_labels(out, f, s, NULL);
            sf_buf_putc(out, ' ');
            put_number(out, s->sum);
            sf_buf_printf(out, "\n%s_count", f->name);
            put_labels(out, f, s, NULL);
            sf_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
}

void sf_metrics_stateflow(sf_metrics *m, sf_stateflow_metrics *out)
{
    static const char req_help[] = "Client requests submitted, by operation.";
    static const char abort_help[] = "Aborted transactions, by cause (conflict: rerun in the next batch; "
                                     "logic: a user exception).";
    out->requests_create = sf_metrics_counter(m, "stateflow_requests_total", req_help, "op", "create", NULL);
    out->requests_call = sf_metrics_counter(m, "stateflow_requests_total", req_help, "op", "call", NULL);
    out->requests_get = sf_metrics_counter(m, "stateflow_requests_total", req_help, "op", "get", NULL);
    out->commits = sf_metrics_counter(m, "stateflow_commits_total", "Committed transactions.", NULL);
    out->aborts_conflict = sf_metrics_counter(m, "stateflow_aborts_total", abort_help, "cause", "conflict", NULL);
    out->aborts_logic = sf_metrics_counter(m, "stateflow_aborts_total", abort_help, "cause", "logic", NULL);
    out->batches = sf_metrics_counter(m, "stateflow_batches_total", "Batches executed.", NULL);
    out->batch_size = sf_metrics_histogram(m, "stateflow_batch_size", "Transactions per batch.",
                                           sf_metrics_batch_buckets, sf_metrics_batch_nbuckets, NULL);
    out->latency = sf_metrics_histogram(m, "stateflow_request_latency_seconds",
                                        "Time from a request's arrival at the gateway to its reply.",
                                        sf_metrics_latency_buckets, sf_metrics_latency_nbuckets, NULL);
    static const char rej_help[] = "Requests refused at submission, by reason (overloaded: the ingress "
                                   "was full, retry later; unavailable: the service was not serving).";
    out->rejected_overloaded = sf_metrics_counter(m, "stateflow_rejected_total", rej_help, "reason", "overloaded",
                                                  NULL);
    out->rejected_unavailable = sf_metrics_counter(m, "stateflow_rejected_total", rej_help, "reason",
                                                   "unavailable", NULL);
    static const char phase_help[] = "Transaction executions, by phase of the batch (aria: every "
                                     "transaction once; fallback: the conflict aborts re-executed "
                                     "under deterministic locking in the same batch).";
    out->phase_aria = sf_metrics_counter(m, "stateflow_phase_transactions_total", phase_help, "phase", "aria",
                                         NULL);
    out->phase_fallback = sf_metrics_counter(m, "stateflow_phase_transactions_total", phase_help, "phase",
                                             "fallback", NULL);
    out->lock_waits = sf_metrics_counter(m, "stateflow_fallback_lock_waits_total",
                                         "Steps of fallback transactions that waited for a lock "
                                         "(summed over the workers).", NULL);
    out->reruns = sf_metrics_counter(m, "stateflow_reruns_total",
                                     "Transactions that ran again in the next batch (a footprint that "
                                     "changed in the fallback phase).", NULL);
}
