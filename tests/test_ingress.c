/* test_ingress.c: the in-memory ingress (runtime/cluster/ingress.c): order,
 * positions, take/ack, entries valid until acknowledged, and its bounds:
 * by count and by bytes a full ingress refuses with SF_INGRESS_EFULL and
 * queues nothing, room comes back only with acknowledgements, a request
 * that can never fit is refused for good (SF_INGRESS_EREFUSED). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingress.h"

static void test_order_take_ack(void **st)
{
    (void)st;
    sf_ingress *in = sf_ingress_memory_new(5, 0, 100);
    char err[128];
    uint64_t pos, t0;
    sf_reply_to to = {SF_REPLY_GATEWAY, 42, 0};
    assert_int_equal(sf_ingress_available(in), 0);
    assert_int_equal(sf_ingress_oldest(in, &t0), 0);
    for (int i = 0; i < 5; i++) {
        char req[8];
        snprintf(req, sizeof req, "r%d", i);
        assert_int_equal(sf_ingress_append(in, req, strlen(req), &to, 1000 + (uint64_t)i, &pos, err,
                                           sizeof err), 0);
        assert_int_equal(pos, (uint64_t)i + 1);
    }
    /* full */
    assert_int_equal(sf_ingress_append(in, "x", 1, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    assert_non_null(strstr(err, "too many"));
    assert_int_equal(sf_ingress_oldest(in, &t0), 1);
    assert_int_equal(t0, 1000);
    sf_ingress_entry e[8];
    assert_int_equal(sf_ingress_take(in, 3, e), 3);
    assert_int_equal(e[0].pos, 1);
    assert_int_equal(e[2].pos, 3);
    assert_memory_equal(e[1].req, "r1", 2);
    assert_int_equal(e[1].to.a, 42);
    assert_int_equal(sf_ingress_available(in), 2);
    assert_int_equal(sf_ingress_oldest(in, &t0), 1);
    assert_int_equal(t0, 1003);
    /* still full until acknowledged: taking does not make room */
    assert_int_equal(sf_ingress_append(in, "x", 1, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    sf_ingress_ack(in, 3); /* 1 and 2 done; 3 reruns */
    assert_int_equal(sf_ingress_append(in, "r5", 2, NULL, 7, &pos, err, sizeof err), 0);
    assert_int_equal(pos, 6);
    assert_memory_equal(e[2].req, "r2", 2); /* taken entries stay valid */
    assert_int_equal(sf_ingress_take(in, 8, e + 3), 3);
    assert_int_equal(e[5].pos, 6);
    /* too large / empty: refused for good */
    char big[101] = {0};
    assert_int_equal(sf_ingress_append(in, big, sizeof big, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EREFUSED);
    assert_int_equal(sf_ingress_append(in, big, 0, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EREFUSED);
    sf_ingress_ack(in, UINT64_MAX);
    assert_int_equal(sf_ingress_available(in), 0);
    assert_int_equal(sf_ingress_take(in, 8, e), 0);
    /* many, with compaction */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++)
            assert_int_equal(sf_ingress_append(in, "abc", 3, NULL, 0, &pos, err, sizeof err), 0);
        assert_int_equal(sf_ingress_take(in, 8, e), 4);
        sf_ingress_ack(in, e[3].pos + 1);
    }
    sf_ingress_free(in);
}

static void test_large_and_moving(void **st)
{
    (void)st;
    char err[128];
    uint64_t pos;
    sf_ingress *big_in = sf_ingress_memory_new(0, 0, 0);
    for (int i = 0; i < 50000; i++)
        assert_int_equal(sf_ingress_append(big_in, "q", 1, NULL, 0, &pos, err, sizeof err), 0);
    size_t total = 0, n;
    sf_ingress_entry *buf = calloc(1000, sizeof(*buf));
    while ((n = sf_ingress_take(big_in, 1000, buf)) > 0) {
        total += n;
        sf_ingress_ack(big_in, buf[n - 1].pos + 1);
        for (int i = 0; i < 10; i++)
            sf_ingress_append(big_in, "w", 1, NULL, 0, &pos, err, sizeof err);
        if (total > 100000)
            break;
    }
    free(buf);
    assert_true(total >= 50000);
    sf_ingress_free(big_in);
}

/* The count bound: exactly max_pending fit; every refused append leaves the
 * ingress as it was (positions stay dense, nothing queued). */
static void test_bound_by_count(void **st)
{
    (void)st;
    char err[128];
    uint64_t pos = 0;
    sf_ingress *in = sf_ingress_memory_new(100, 0, 0);
    size_t ok = 0, full = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = sf_ingress_append(in, "req", 3, NULL, 0, &pos, err, sizeof err);
        if (rc == 0)
            ok++;
        else {
            assert_int_equal(rc, SF_INGRESS_EFULL);
            full++;
        }
    }
    assert_int_equal(ok, 100);
    assert_int_equal(full, 900);
    size_t count, bytes;
    sf_ingress_memory_usage(in, &count, &bytes);
    assert_int_equal(count, 100);
    assert_int_equal(bytes, 300);
    /* acknowledging half makes room for half */
    sf_ingress_entry e[100];
    assert_int_equal(sf_ingress_take(in, 100, e), 100);
    sf_ingress_ack(in, e[49].pos + 1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(sf_ingress_append(in, "req", 3, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(pos, 150); /* no position was spent on a refusal */
    assert_int_equal(sf_ingress_append(in, "req", 3, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    sf_ingress_free(in);
}

/* The byte bound: requests fit while their bytes add up to max_bytes at
 * most; a small one still fits where a large one does not; a request larger
 * than the whole bound is refused for good, not "full". */
static void test_bound_by_bytes(void **st)
{
    (void)st;
    char err[128];
    uint64_t pos;
    char req[400];
    memset(req, 'x', sizeof req);
    sf_ingress *in = sf_ingress_memory_new(0, 1000, 0);
    assert_int_equal(sf_ingress_append(in, req, 400, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_append(in, req, 400, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_append(in, req, 400, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    assert_non_null(strstr(err, "bytes"));
    assert_int_equal(sf_ingress_append(in, req, 200, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_append(in, req, 1, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    size_t count, bytes;
    sf_ingress_memory_usage(in, &count, &bytes);
    assert_int_equal(count, 3);
    assert_int_equal(bytes, 1000);
    char huge[1001];
    memset(huge, 'y', sizeof huge);
    assert_int_equal(sf_ingress_append(in, huge, sizeof huge, NULL, 0, &pos, err, sizeof err),
                     SF_INGRESS_EREFUSED);
    /* taken but not acknowledged still counts */
    sf_ingress_entry e[4];
    assert_int_equal(sf_ingress_take(in, 4, e), 3);
    assert_int_equal(sf_ingress_append(in, req, 1, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    sf_ingress_ack(in, e[0].pos + 1); /* 400 bytes free */
    assert_int_equal(sf_ingress_append(in, req, 400, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_append(in, req, 1, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    sf_ingress_ack(in, UINT64_MAX); /* acknowledges what was taken: the 400 appended last stays */
    sf_ingress_memory_usage(in, &count, &bytes);
    assert_int_equal(count, 1);
    assert_int_equal(bytes, 400);
    assert_int_equal(sf_ingress_take(in, 4, e), 1);
    sf_ingress_ack(in, UINT64_MAX);
    sf_ingress_memory_usage(in, &count, &bytes);
    assert_int_equal(count, 0);
    assert_int_equal(bytes, 0);
    sf_ingress_free(in);
}

/* A full ingress at steady state: producers far faster than the consumer
 * never push it past its bounds. */
static void test_bounded_under_pressure(void **st)
{
    (void)st;
    char err[128];
    uint64_t pos;
    sf_ingress *in = sf_ingress_memory_new(64, 64 * 20, 0);
    sf_ingress_entry e[16];
    size_t refused = 0, accepted = 0;
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < 50; i++) {
            int rc = sf_ingress_append(in, "0123456789abcdefghij", 1 + (size_t)(i % 20), NULL, 0, &pos, err,
                                       sizeof err);
            assert_true(rc == 0 || rc == SF_INGRESS_EFULL);
            if (rc == 0)
                accepted++;
            else
                refused++;
            size_t count, bytes;
            sf_ingress_memory_usage(in, &count, &bytes);
            assert_true(count <= 64);
            assert_true(bytes <= 64 * 20);
        }
        size_t n = sf_ingress_take(in, 16, e);
        if (n)
            sf_ingress_ack(in, e[n - 1].pos + 1);
    }
    assert_true(refused > 0);
    assert_true(accepted >= 2000 * 16 - 64);
    sf_ingress_free(in);
}

/* room answers what the next append would, without queueing anything */
static void test_room_matches_append(void **st)
{
    (void)st;
    sf_ingress *in = sf_ingress_memory_new(2, 10, 8);
    char err[128];
    uint64_t pos;
    assert_int_equal(sf_ingress_room(in, 0), SF_INGRESS_EREFUSED);
    assert_int_equal(sf_ingress_room(in, 9), SF_INGRESS_EREFUSED);
    assert_int_equal(sf_ingress_room(in, 6), 0);
    assert_int_equal(sf_ingress_available(in), 0);
    assert_int_equal(sf_ingress_append(in, "aaaaaa", 6, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_room(in, 5), SF_INGRESS_EFULL); /* bytes: 6 + 5 > 10 */
    assert_int_equal(sf_ingress_append(in, "bbbbb", 5, NULL, 0, &pos, err, sizeof err), SF_INGRESS_EFULL);
    assert_int_equal(sf_ingress_room(in, 4), 0);
    assert_int_equal(sf_ingress_append(in, "cccc", 4, NULL, 0, &pos, err, sizeof err), 0);
    assert_int_equal(sf_ingress_room(in, 1), SF_INGRESS_EFULL); /* count: 2 of 2 */
    sf_ingress_entry e[2];
    assert_int_equal(sf_ingress_take(in, 2, e), 2);
    assert_int_equal(sf_ingress_room(in, 1), SF_INGRESS_EFULL); /* taken is not acknowledged */
    sf_ingress_ack(in, e[1].pos); /* acknowledges the positions before it */
    assert_int_equal(sf_ingress_room(in, 8), SF_INGRESS_EFULL);
    assert_int_equal(sf_ingress_room(in, 6), 0);
    sf_ingress_ack(in, e[1].pos + 1);
    assert_int_equal(sf_ingress_room(in, 8), 0);
    sf_ingress_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_take_ack),
        cmocka_unit_test(test_large_and_moving),
        cmocka_unit_test(test_bound_by_count),
        cmocka_unit_test(test_bound_by_bytes),
        cmocka_unit_test(test_bounded_under_pressure),
        cmocka_unit_test(test_room_matches_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
