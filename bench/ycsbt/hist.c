/* hist.c: the log-linear latency histogram of hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

void sf_bench_hist_reset(sf_bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t sf_bench_hist_index(uint64_t v)
{
    if (v < SF_BENCH_HIST_LINEAR)
        return (size_t)v;
    if (v >> SF_BENCH_HIST_MAX_BITS)
        return SF_BENCH_HIST_BUCKETS - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
    unsigned shift = msb - 7u;                         /* top 8 bits kept */
    uint64_t top = v >> shift;                          /* 128 .. 255 */
    return SF_BENCH_HIST_LINEAR + (size_t)(shift - 1u) * SF_BENCH_HIST_SUB +
           (size_t)(top - SF_BENCH_HIST_SUB);
}

uint64_t sf_bench_hist_lowest(size_t idx)
{
    if (idx < SF_BENCH_HIST_LINEAR)
        return idx;
    size_t k = idx - SF_BENCH_HIST_LINEAR;
    unsigned shift = (unsigned)(k / SF_BENCH_HIST_SUB) + 1u;
    uint64_t top = SF_BENCH_HIST_SUB + k % SF_BENCH_HIST_SUB;
    return top << shift;
}

uint64_t sf_bench_hist_highest(size_t idx)
{
    if (idx < SF_BENCH_HIST_LINEAR)
        return idx;
    size_t k = idx - SF_BENCH_HIST_LINEAR;
    unsigned shift = (unsigned)(k / SF_BENCH_HIST_SUB) + 1u;
    return sf_bench_hist_lowest(idx) + ((uint64_t)1 << shift) - 1u;
}

void sf_bench_hist_record(sf_bench_hist *h, uint64_t v)
{
    h->counts[sf_bench_hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void sf_bench_hist_merge(sf_bench_hist *dst, const sf_bench_hist *src)
{
    if (!src->total)
        return;
    for (size_t i = 0; i < SF_BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t sf_bench_hist_percentile(const sf_bench_hist *h, double p)
{
    if (!h->total)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    double want = ceil(p / 100.0 * (double)h->total);
    uint64_t rank = want < 1.0 ? 1 : (uint64_t)want;
    uint64_t seen = 0;
    for (size_t i = 0; i < SF_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = sf_bench_hist_highest(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double sf_bench_hist_mean(const sf_bench_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
