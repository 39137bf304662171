/* hist.h: ycsbt's latency histogram, log-linear buckets in the manner of
 * HdrHistogram: values (microseconds) below 256 have a bucket each; above,
 * every power of two is split into 128 buckets, so a reported value is
 * within 1/128 (0.8%) of the true one. Fixed size (no allocation), values up
 * to 2^48 us (clamped beyond), exact count, min, max and mean. */
#ifndef SF_BENCH_HIST_H
#define SF_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define SF_BENCH_HIST_LINEAR 256u    /* values below this are exact */
#define SF_BENCH_HIST_SUB 128u       /* buckets per power of two above */
#define SF_BENCH_HIST_MAX_BITS 48u   /* largest value: 2^48 - 1 */
#define SF_BENCH_HIST_BUCKETS \
    (SF_BENCH_HIST_LINEAR + (SF_BENCH_HIST_MAX_BITS - 8u) * SF_BENCH_HIST_SUB)

typedef struct sf_bench_hist {
    uint64_t total;
    uint64_t min, max;   /* min is UINT64_MAX while empty */
    double sum;
    uint64_t counts[SF_BENCH_HIST_BUCKETS];
} sf_bench_hist;

void sf_bench_hist_reset(sf_bench_hist *h);
void sf_bench_hist_record(sf_bench_hist *h, uint64_t v);
/* Add every count of src to dst. */
void sf_bench_hist_merge(sf_bench_hist *dst, const sf_bench_hist *src);
/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding the ceil(p% * total)-th smallest recorded value, never
 * above max; p <= 0 gives min, p >= 100 max, an empty histogram 0. */
uint64_t sf_bench_hist_percentile(const sf_bench_hist *h, double p);
double sf_bench_hist_mean(const sf_bench_hist *h);

/* Bucket arithmetic (exposed for tests). */
size_t sf_bench_hist_index(uint64_t v);
uint64_t sf_bench_hist_lowest(size_t idx);
uint64_t sf_bench_hist_highest(size_t idx);

#endif
