/* keygen.c: PRNG, YCSB's FNV hash and the uniform / scrambled zipfian key
 * choosers of keygen.h. */
#include "keygen.h"

#include <math.h>
#include <stdio.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sf_bench_rng_seed(sf_bench_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sf_bench_rng_next(sf_bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double sf_bench_rng_double(sf_bench_rng *r)
{
    return (double)(sf_bench_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t sf_bench_rng_below(sf_bench_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* reject the top partial range so every residue is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = sf_bench_rng_next(r);
    while (x >= limit);
    return x % n;
}

uint64_t sf_bench_fnv64(uint64_t v)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= v & 0xff;
        v >>= 8;
        h *= 1099511628211ull;
    }
    /* Java's Math.abs on a long; Long.MIN_VALUE stays itself, which as an
     * unsigned number is 2^63: still a valid non-negative hash here. */
    int64_t s = (int64_t)h;
    return s < 0 && s != INT64_MIN ? (uint64_t)(-s) : (uint64_t)s;
}

double sf_bench_zeta(uint64_t n, double theta)
{
    double sum = 0.0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

int sf_bench_keygen_init(sf_bench_keygen *g, int dist, uint64_t n, double theta, int scrambled,
                         char *err, size_t errlen)
{
    *g = (sf_bench_keygen){0};
    if (n == 0) {
        snprintf(err, errlen, "the key space is empty (records must be at least 1)");
        return -1;
    }
    g->dist = dist;
    g->n = n;
    g->scrambled = scrambled;
    if (dist == SF_BENCH_UNIFORM)
        return 0;
    if (dist != SF_BENCH_ZIPFIAN) {
        snprintf(err, errlen, "unknown key distribution %d", dist);
        return -1;
    }
    if (!(theta > 0.0 && theta < 1.0)) {
        snprintf(err, errlen, "the zipfian constant must be in (0, 1), got %g", theta);
        return -1;
    }
    g->theta = theta;
    if (scrambled && theta == SF_BENCH_YCSB_THETA) {
        g->items = SF_BENCH_YCSB_ITEMS;
        g->zetan = SF_BENCH_YCSB_ZETAN;
    } else {
        if (n > SF_BENCH_ZETA_MAX_N) {
            snprintf(err, errlen, "zipfian over %llu keys with theta %g: at most %llu keys",
                     (unsigned long long)n, theta, (unsigned long long)SF_BENCH_ZETA_MAX_N);
            return -1;
        }
        g->items = n;
        g->zetan = sf_bench_zeta(n, theta);
    }
    g->zeta2 = 1.0 + pow(0.5, theta);
    g->alpha = 1.0 / (1.0 - theta);
    g->eta = (1.0 - pow(2.0 / (double)g->items, 1.0 - theta)) / (1.0 - g->zeta2 / g->zetan);
    return 0;
}

uint64_t sf_bench_zipf_rank(const sf_bench_keygen *g, sf_bench_rng *r)
{
    double u = sf_bench_rng_double(r);
    double uz = u * g->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < g->zeta2)
        return 1;
    double x = (double)g->items * pow(g->eta * u - g->eta + 1.0, g->alpha);
    uint64_t k = x <= 0.0 ? 0 : (uint64_t)x;
    return k >= g->items ? g->items - 1 : k;
}

uint64_t sf_bench_keygen_next(const sf_bench_keygen *g, sf_bench_rng *r)
{
    if (g->dist == SF_BENCH_UNIFORM)
        return sf_bench_rng_below(r, g->n);
    uint64_t rank = sf_bench_zipf_rank(g, r);
    if (g->scrambled)
        return sf_bench_fnv64(rank) % g->n;
    return rank % g->n;
}
