/* keygen.h: the random parts of ycsbt that must be reproducible: a seeded
 * PRNG (xoshiro256** seeded through splitmix64), YCSB's 64-bit FNV hash, and
 * the key choosers: uniform over [0, n) and zipfian (Gray et al.'s method,
 * as YCSB's ZipfianGenerator) scrambled as YCSB's ScrambledZipfianGenerator
 * does it (draw a rank, hash it with FNV-1a 64, take it mod n, so the hot
 * keys are spread over the key space instead of being 0, 1, 2...). Pure C,
 * no allocation, no global state. */
#ifndef SF_BENCH_KEYGEN_H
#define SF_BENCH_KEYGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_bench_rng {
    uint64_t s[4];
} sf_bench_rng;

/* Any seed (0 included) gives a valid, distinct stream. */
void sf_bench_rng_seed(sf_bench_rng *r, uint64_t seed);
uint64_t sf_bench_rng_next(sf_bench_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sf_bench_rng_double(sf_bench_rng *r);
/* Uniform in [0, n) without modulo bias; n = 0 gives 0. */
uint64_t sf_bench_rng_below(sf_bench_rng *r, uint64_t n);

/* YCSB's fnvhash64: FNV-1a 64 over the 8 bytes of v, low byte first, the
 * result made non-negative (as a Java long). */
uint64_t sf_bench_fnv64(uint64_t v);

/* zeta(n, theta) = sum_{i=1..n} 1 / i^theta. O(n). */
double sf_bench_zeta(uint64_t n, double theta);

enum sf_bench_dist { SF_BENCH_UNIFORM = 0, SF_BENCH_ZIPFIAN = 1 };

/* YCSB's item space and its precomputed zeta for the default constant: with
 * theta 0.99 the scrambled chooser draws a rank among 10^10 items, as YCSB
 * does, and hashes it into [0, n). */
#define SF_BENCH_YCSB_ITEMS 10000000000ull
#define SF_BENCH_YCSB_THETA 0.99
#define SF_BENCH_YCSB_ZETAN 26.46902820178302
/* Largest n for which another theta is accepted (zeta is computed, O(n)). */
#define SF_BENCH_ZETA_MAX_N 200000000ull

typedef struct sf_bench_keygen {
    int dist;          /* SF_BENCH_UNIFORM or SF_BENCH_ZIPFIAN */
    int scrambled;     /* zipfian: hash the rank (YCSB scrambled) or not */
    uint64_t n;        /* keys are 0 .. n-1 */
    /* zipfian over `items` ranks */
    uint64_t items;
    double theta, zetan, zeta2, alpha, eta;
} sf_bench_keygen;

/* dist SF_BENCH_ZIPFIAN needs 0 < theta < 1. When scrambled and theta is
 * YCSB's 0.99 the ranks come from YCSB's 10^10 items; otherwise from the n
 * keys themselves (zeta computed here, n <= SF_BENCH_ZETA_MAX_N). Returns 0,
 * or -1 with a message. */
int sf_bench_keygen_init(sf_bench_keygen *g, int dist, uint64_t n, double theta, int scrambled,
                         char *err, size_t errlen);
/* The next key in [0, n). */
uint64_t sf_bench_keygen_next(const sf_bench_keygen *g, sf_bench_rng *r);
/* The zipfian rank alone, in [0, items) (for tests). */
uint64_t sf_bench_zipf_rank(const sf_bench_keygen *g, sf_bench_rng *r);

#endif
