/* test_store.c: the in-memory state store (runtime/exec/store.h): put/get/
 * replace/delete, growth, iteration, versions, against a simple model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"

static void test_basic(void **state)
{
    (void)state;
    sf_store s;
    sf_store_init(&s);
    sf_store_item it;
    assert_int_equal(sf_store_get(&s, 0, "k", 1, &it), 0);
    assert_int_equal(sf_store_delete(&s, 0, "k", 1), 0);
    uint64_t v1 = sf_store_put(&s, 0, "k", 1, "value", 5);
    assert_int_equal(sf_store_count(&s), 1);
    assert_int_equal(sf_store_get(&s, 0, "k", 1, &it), 1);
    assert_int_equal(it.vallen, 5);
    assert_memory_equal(it.val, "value", 5);
    assert_int_equal(it.version, v1);
    /* same key bytes, other entity: another entry */
    assert_int_equal(sf_store_get(&s, 1, "k", 1, &it), 0);
    sf_store_put(&s, 1, "k", 1, "other", 5);
    assert_int_equal(sf_store_count(&s), 2);
    /* replace with a longer, then a much shorter value */
    uint64_t v2 = sf_store_put(&s, 0, "k", 1, "a much longer value", 19);
    assert_true(v2 > v1);
    assert_int_equal(sf_store_count(&s), 2);
    assert_int_equal(sf_store_get(&s, 0, "k", 1, &it), 1);
    assert_memory_equal(it.val, "a much longer value", 19);
    sf_store_put(&s, 0, "k", 1, "", 0);
    assert_int_equal(sf_store_get(&s, 0, "k", 1, &it), 1);
    assert_int_equal(it.vallen, 0);
    assert_int_equal(sf_store_contains(&s, 1, "k", 1), 1);
    assert_int_equal(sf_store_delete(&s, 1, "k", 1), 1);
    assert_int_equal(sf_store_contains(&s, 1, "k", 1), 0);
    assert_int_equal(sf_store_count(&s), 1);
    sf_store_free(&s);
}

static void test_hash_stable(void **state)
{
    (void)state;
    /* The hash is part of partitioning: it must never change. */
    assert_true(sf_store_hash(0, "\xa5" "alice", 6) == sf_store_hash(0, "\xa5" "alice", 6));
    assert_true(sf_store_hash(0, "\xa5" "alice", 6) != sf_store_hash(1, "\xa5" "alice", 6));
    assert_true(sf_store_hash(0, "", 0) != sf_store_hash(0, "\0", 1));
}

static void test_partition_hash(void **state)
{
    (void)state;
    /* FNV-1a 64 of the single 0 byte (empty name, empty key) */
    assert_true(sf_partition_hash("", NULL, 0) == 0xaf63bd4c8601b7dfULL); /* one 0 byte */
    /* "a\0" + key "\xa1b": computed independently below */
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char bytes[] = {'a', 0, 0xa1, 'b'};
    for (size_t i = 0; i < sizeof bytes; i++) {
        h ^= bytes[i];
        h *= 0x100000001b3ULL;
    }
    assert_true(sf_partition_hash("a", "\xa1" "b", 2) == h);
    assert_true(sf_partition_hash("User", "\xa5" "alice", 6) != sf_partition_hash("Item", "\xa5" "alice", 6));
}

#define N 20000

static void key_of(int i, char *buf, size_t *n)
{
    *n = (size_t)snprintf(buf, 32, "key-%d", i * 7919);
}

static void test_many(void **state)
{
    (void)state;
    sf_store s;
    sf_store_init(&s);
    char k[32], v[64];
    size_t kn;
    for (int i = 0; i < N; i++) {
        key_of(i, k, &kn);
        int vn = snprintf(v, sizeof v, "v%d", i);
        sf_store_put(&s, (uint32_t)(i % 3), k, kn, v, (size_t)vn);
    }
    assert_int_equal(sf_store_count(&s), N);
    /* delete every third, check the rest (backward-shift deletion keeps
     * probe runs intact) */
    for (int i = 0; i < N; i += 3) {
        key_of(i, k, &kn);
        assert_int_equal(sf_store_delete(&s, (uint32_t)(i % 3), k, kn), 1);
    }
    size_t expect = N - (N + 2) / 3;
    assert_int_equal(sf_store_count(&s), expect);
    sf_store_item it;
    for (int i = 0; i < N; i++) {
        key_of(i, k, &kn);
        int present = sf_store_get(&s, (uint32_t)(i % 3), k, kn, &it);
        if (i % 3 == 0) {
            assert_int_equal(present, 0);
            continue;
        }
        assert_int_equal(present, 1);
        int vn = snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(it.vallen, (size_t)vn);
        assert_memory_equal(it.val, v, (size_t)vn);
        /* wrong entity */
        assert_int_equal(sf_store_get(&s, (uint32_t)((i + 1) % 3), k, kn, &it), 0);
    }
    /* iteration visits every entry once */
    size_t cursor = 0, seen = 0;
    uint64_t maxv = 0;
    while (sf_store_next(&s, &cursor, &it)) {
        seen++;
        assert_true(it.keylen > 4 && memcmp(it.key, "key-", 4) == 0);
        if (it.version > maxv)
            maxv = it.version;
    }
    assert_int_equal(seen, expect);
    assert_true(maxv <= s.version);
    sf_store_clear(&s);
    assert_int_equal(sf_store_count(&s), 0);
    cursor = 0;
    assert_int_equal(sf_store_next(&s, &cursor, &it), 0);
    sf_store_free(&s);
}

/* Random operations against a plain array model. */
static void test_random_model(void **state)
{
    (void)state;
    enum { K = 300 };
    int model[K];
    for (int i = 0; i < K; i++)
        model[i] = -1;
    sf_store s;
    sf_store_init(&s);
    uint32_t seed = 12345;
    char k[32];
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        int key = (int)((seed >> 8) % K);
        int op = (int)((seed >> 20) % 3);
        size_t kn = (size_t)snprintf(k, sizeof k, "%d", key);
        if (op == 0) {
            int val = step;
            sf_store_put(&s, 7, k, kn, (const char *)&val, sizeof val);
            model[key] = val;
        } else if (op == 1) {
            assert_int_equal(sf_store_delete(&s, 7, k, kn), model[key] >= 0);
            model[key] = -1;
        } else {
            sf_store_item it;
            int present = sf_store_get(&s, 7, k, kn, &it);
            assert_int_equal(present, model[key] >= 0);
            if (present) {
                int val;
                memcpy(&val, it.val, sizeof val);
                assert_int_equal(val, model[key]);
            }
        }
    }
    size_t n = 0;
    for (int i = 0; i < K; i++)
        n += model[i] >= 0;
    assert_int_equal(sf_store_count(&s), n);
    sf_store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_hash_stable),
        cmocka_unit_test(test_partition_hash),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
