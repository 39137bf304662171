/* test_bench_ycsbt.c: the pure parts of the ycsbt load generator
 * (bench/ycsbt): the seeded PRNG, YCSB's FNV hash, the uniform and
 * (scrambled) zipfian key choosers, the latency histogram's buckets and
 * percentiles, and the msgpack reply reader on good and bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "keygen.h"
#include "mp.h"

static void test_rng_deterministic(void **state)
{
    (void)state;
    sf_bench_rng a, b, c;
    sf_bench_rng_seed(&a, 7);
    sf_bench_rng_seed(&b, 7);
    sf_bench_rng_seed(&c, 8);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sf_bench_rng_next(&a);
        assert_int_equal(x, sf_bench_rng_next(&b));
        differs |= x != sf_bench_rng_next(&c);
    }
    assert_true(differs);
    for (int i = 0; i < 10000; i++) {
        double d = sf_bench_rng_double(&a);
        assert_true(d >= 0.0 && d < 1.0);
        assert_true(sf_bench_rng_below(&a, 7) < 7);
    }
    assert_int_equal(sf_bench_rng_below(&a, 0), 0);
}

static void test_fnv64(void **state)
{
    (void)state;
    /* YCSB's Utils.fnvhash64, computed independently */
    assert_true(sf_bench_fnv64(0) == 6284781860667377211ull);
    assert_true(sf_bench_fnv64(1) == 8517097267634966620ull);
    assert_true(sf_bench_fnv64(12345) == 1792800413050876852ull);
    assert_true(sf_bench_fnv64(1099511627776ull) == 6908947124047430886ull);
}

static void test_keygen_errors(void **state)
{
    (void)state;
    sf_bench_keygen g;
    char err[200];
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_ZIPFIAN, 100, 1.0, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "zipfian constant"));
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_ZIPFIAN, 100, 0.0, 1, err, sizeof err), -1);
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_UNIFORM, 0, 0.99, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(sf_bench_keygen_init(&g, 5, 10, 0.99, 1, err, sizeof err), -1);
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_ZIPFIAN, SF_BENCH_ZETA_MAX_N + 1, 0.5, 1, err,
                                          sizeof err),
                     -1);
}

static void test_uniform(void **state)
{
    (void)state;
    enum { N = 100, DRAWS = 200000 };
    sf_bench_keygen g;
    char err[200];
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_UNIFORM, N, 0.99, 1, err, sizeof err), 0);
    sf_bench_rng r;
    sf_bench_rng_seed(&r, 42);
    static uint32_t counts[N];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = sf_bench_keygen_next(&g, &r);
        assert_true(k < N);
        counts[k]++;
    }
    double expect = (double)DRAWS / N, chi = 0;
    for (int i = 0; i < N; i++) {
        double d = counts[i] - expect;
        chi += d * d / expect;
    }
    /* 99 degrees of freedom: chi-square beyond 150 has p < 0.001 */
    assert_true(chi < 150.0);
}

/* Without scrambling, rank k comes up with probability (1/(k+1)^theta)/zeta(n). */
static void test_zipfian_ranks(void **state)
{
    (void)state;
    enum { N = 1000, DRAWS = 400000 };
    sf_bench_keygen g;
    char err[200];
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_ZIPFIAN, N, 0.99, 0, err, sizeof err), 0);
    assert_true(g.items == N);
    sf_bench_rng r;
    sf_bench_rng_seed(&r, 1234);
    static uint32_t counts[N];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = sf_bench_keygen_next(&g, &r);
        assert_true(k < N);
        counts[k]++;
    }
    double zeta = sf_bench_zeta(N, 0.99);
    double p0 = 1.0 / zeta, p1 = 1.0 / pow(2.0, 0.99) / zeta;
    double f0 = (double)counts[0] / DRAWS, f1 = (double)counts[1] / DRAWS;
    assert_true(f0 > p0 * 0.97 && f0 < p0 * 1.03);
    assert_true(f1 > p1 * 0.95 && f1 < p1 * 1.05);
    /* heavy head, long tail */
    assert_true(counts[0] > counts[1] && counts[1] > counts[9] && counts[9] > counts[99]);
    uint64_t head = 0;
    for (int i = 0; i < 10; i++)
        head += counts[i];
    double phead = 0;
    for (int i = 1; i <= 10; i++)
        phead += 1.0 / pow((double)i, 0.99) / zeta;
    assert_true((double)head / DRAWS > phead * 0.9 && (double)head / DRAWS < phead * 1.1);
}

/* Scrambled with YCSB's constant: ranks among 10^10 items hashed into n
 * keys; the hottest key is fnv64(0) mod n with about 1/26.47 of draws. */
static void test_zipfian_scrambled(void **state)
{
    (void)state;
    enum { N = 10000, DRAWS = 300000 };
    sf_bench_keygen g;
    char err[200];
    assert_int_equal(sf_bench_keygen_init(&g, SF_BENCH_ZIPFIAN, N, 0.99, 1, err, sizeof err), 0);
    assert_true(g.items == SF_BENCH_YCSB_ITEMS);
    sf_bench_rng r;
    sf_bench_rng_seed(&r, 99);
    static uint32_t counts[N];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = sf_bench_keygen_next(&g, &r);
        assert_true(k < N);
        counts[k]++;
    }
    uint64_t hot = sf_bench_fnv64(0) % N;
    assert_int_equal(hot, 7211);
    uint32_t best = 0;
    uint64_t besti = 0, touched = 0;
    for (uint64_t i = 0; i < N; i++) {
        if (counts[i] > best) {
            best = counts[i];
            besti = i;
        }
        touched += counts[i] != 0;
    }
    assert_int_equal(besti, hot);
    double f = (double)best / DRAWS, p = 1.0 / SF_BENCH_YCSB_ZETAN;
    assert_true(f > p * 0.95 && f < p * 1.10);
    /* the tail reaches most of the key space */
    assert_true(touched > N * 8 / 10);
    /* and the same seed gives the same keys */
    sf_bench_rng a, b;
    sf_bench_rng_seed(&a, 5);
    sf_bench_rng_seed(&b, 5);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sf_bench_keygen_next(&g, &a), sf_bench_keygen_next(&g, &b));
}

static void test_hist_buckets(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 256; v++) {
        size_t i = sf_bench_hist_index(v);
        assert_int_equal(sf_bench_hist_lowest(i), v);
        assert_int_equal(sf_bench_hist_highest(i), v);
    }
    size_t prev = 255;
    for (uint64_t v = 256; v < ((uint64_t)1 << 47); v += v / 97 + 1) {
        size_t i = sf_bench_hist_index(v);
        assert_true(i >= prev && i < SF_BENCH_HIST_BUCKETS);
        prev = i;
        uint64_t lo = sf_bench_hist_lowest(i), hi = sf_bench_hist_highest(i);
        assert_true(lo <= v && v <= hi);
        assert_true((double)(hi - lo) / (double)lo < 1.0 / 127.0);
        assert_int_equal(sf_bench_hist_index(lo), i);
        assert_int_equal(sf_bench_hist_index(hi), i);
        assert_int_equal(sf_bench_hist_index(hi + 1), i + 1);
    }
    assert_int_equal(sf_bench_hist_index(UINT64_MAX), SF_BENCH_HIST_BUCKETS - 1);
}

static void test_hist_percentiles(void **state)
{
    (void)state;
    sf_bench_hist *h = malloc(sizeof(*h));
    sf_bench_hist *a = malloc(sizeof(*a));
    sf_bench_hist *b = malloc(sizeof(*b));
    assert_non_null(h);
    assert_non_null(a);
    assert_non_null(b);
    sf_bench_hist_reset(h);
    assert_int_equal(sf_bench_hist_percentile(h, 50), 0);
    assert_true(sf_bench_hist_mean(h) == 0.0);
    sf_bench_hist_record(h, 1);
    sf_bench_hist_record(h, 2);
    sf_bench_hist_record(h, 3);
    assert_int_equal(sf_bench_hist_percentile(h, 50), 2);
    assert_int_equal(sf_bench_hist_percentile(h, 0), 1);
    assert_int_equal(sf_bench_hist_percentile(h, 100), 3);

    sf_bench_hist_reset(h);
    sf_bench_hist_reset(a);
    sf_bench_hist_reset(b);
    for (uint64_t v = 1; v <= 100000; v++) {
        sf_bench_hist_record(h, v);
        sf_bench_hist_record(v % 2 ? a : b, v);
    }
    assert_int_equal(h->total, 100000);
    assert_true(sf_bench_hist_mean(h) == 50000.5);
    static const double ps[] = {10, 50, 90, 99, 99.9};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double want = ps[i] * 1000.0;
        double got = (double)sf_bench_hist_percentile(h, ps[i]);
        assert_true(got >= want && got <= want * (1.0 + 1.0 / 127.0));
    }
    assert_int_equal(sf_bench_hist_percentile(h, 100), 100000);
    assert_int_equal(sf_bench_hist_percentile(h, 0), 1);
    /* merging the halves gives the whole */
    sf_bench_hist_merge(a, b);
    assert_int_equal(a->total, h->total);
    assert_int_equal(a->min, h->min);
    assert_int_equal(a->max, h->max);
    assert_memory_equal(a->counts, h->counts, sizeof h->counts);
    /* a value beyond the range is clamped into the last bucket, max exact */
    sf_bench_hist_record(h, (uint64_t)1 << 60);
    assert_true(sf_bench_hist_percentile(h, 100) == (uint64_t)1 << 60);
    free(h);
    free(a);
    free(b);
}

static void test_mp_reader(void **state)
{
    (void)state;
    /* [21, 300, {"ok": true, "x": [1, {"a": -5}]}] */
    static const unsigned char good[] = {0x93, 0x15, 0xcd, 0x01, 0x2c, 0x82, 0xa2, 'o', 'k', 0xc3,
                                         0xa1, 'x', 0x92, 0x01, 0x81, 0xa1, 'a', 0xfb};
    const char *p = (const char *)good;
    size_t pos = 0, len = sizeof good;
    yc_mp_item it;
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.kind, YC_MP_ARRAY);
    assert_int_equal(it.n, 3);
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.i, 21);
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.i, 300);
    size_t at = pos;
    assert_int_equal(yc_mp_skip(p, len, &at), 0);
    assert_int_equal(at, len);
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.kind, YC_MP_MAP);
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.kind, YC_MP_STR);
    assert_int_equal(it.n, 2);
    assert_memory_equal(it.data, "ok", 2);
    assert_int_equal(yc_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(it.kind, YC_MP_BOOL);
    assert_int_equal(it.i, 1);
    /* every truncation of the value fails cleanly */
    for (size_t cut = 0; cut < len; cut++) {
        size_t q = 0;
        assert_int_equal(yc_mp_skip(p, cut, &q), -1);
    }
    /* 0xc1, a huge claimed array, a str running past the end */
    static const unsigned char bad1[] = {0xc1};
    static const unsigned char bad2[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const unsigned char bad3[] = {0xd9, 0x20, 'a'};
    size_t q = 0;
    assert_int_equal(yc_mp_skip((const char *)bad1, sizeof bad1, &q), -1);
    q = 0;
    assert_int_equal(yc_mp_skip((const char *)bad2, sizeof bad2, &q), -1);
    q = 0;
    assert_int_equal(yc_mp_skip((const char *)bad3, sizeof bad3, &q), -1);
    /* nesting deeper than 64 is refused */
    static unsigned char deep[100];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    q = 0;
    assert_int_equal(yc_mp_skip((const char *)deep, sizeof deep, &q), -1);
    /* negative and wide integers */
    static const unsigned char ints[] = {0xd0, 0x80, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                         0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    q = 0;
    assert_int_equal(yc_mp_read((const char *)ints, sizeof ints, &q, &it), 0);
    assert_int_equal(it.i, -128);
    assert_int_equal(yc_mp_read((const char *)ints, sizeof ints, &q, &it), 0);
    assert_int_equal(it.i, -2);
    assert_int_equal(yc_mp_read((const char *)ints, sizeof ints, &q, &it), 0);
    assert_true(it.i == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_fnv64),
        cmocka_unit_test(test_keygen_errors),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_zipfian_ranks),
        cmocka_unit_test(test_zipfian_scrambled),
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_mp_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
