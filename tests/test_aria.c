/* test_aria.c: the Aria decision logic (runtime/cluster/aria.c; the in-memory
 * ingress is tests/test_ingress.c): reservations keep the smallest ids, flags,
 * decisions, and a randomized check that the committed transactions of a
 * batch, replayed one by one in sf_aria_serial_order, read exactly what
 * they read in the batch (the batch is serializable in that order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aria.h"

static uint64_t h(const char *k) { return (uint64_t)k[0] * 1000003u + strlen(k); }

static void rsv(sf_aria_table *t, const char *k, uint64_t txid, int w)
{
    sf_aria_reserve(t, 0, h(k), k, strlen(k), txid, w);
}

static unsigned fl(sf_aria_table *t, const char *k, uint64_t txid, int w)
{
    return sf_aria_flags(t, 0, h(k), k, strlen(k), txid, w);
}

static void test_reservations(void **state)
{
    (void)state;
    sf_aria_table t;
    sf_aria_init(&t);
    rsv(&t, "x", 7, 1);
    rsv(&t, "x", 5, 1);
    rsv(&t, "x", 9, 1);
    rsv(&t, "x", 3, 0);
    rsv(&t, "y", 4, 0);
    assert_int_equal(sf_aria_min_writer(&t, 0, h("x"), "x", 1), 5);
    assert_int_equal(sf_aria_min_reader(&t, 0, h("x"), "x", 1), 3);
    assert_true(sf_aria_min_writer(&t, 0, h("y"), "y", 1) == SF_ARIA_NONE);
    assert_true(sf_aria_min_reader(&t, 1, h("y"), "y", 1) == SF_ARIA_NONE); /* other entity */
    /* 5 is the smallest writer: no WAW; read by 3 before: WAR */
    assert_int_equal(fl(&t, "x", 5, 1), SF_ARIA_WAR);
    assert_int_equal(fl(&t, "x", 7, 1), SF_ARIA_WAW | SF_ARIA_WAR);
    assert_int_equal(fl(&t, "x", 3, 0), 0);
    assert_int_equal(fl(&t, "x", 6, 0), SF_ARIA_RAW);
    assert_int_equal(fl(&t, "y", 4, 0), 0);
    assert_int_equal(fl(&t, "z", 4, 1), 0); /* unknown instance */
    /* many keys: the table grows */
    char key[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        sf_aria_reserve(&t, 2, (uint64_t)i * 2654435761u, key, strlen(key), (uint64_t)(10000 - i), i & 1);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        uint64_t w = sf_aria_min_writer(&t, 2, (uint64_t)i * 2654435761u, key, strlen(key));
        uint64_t r = sf_aria_min_reader(&t, 2, (uint64_t)i * 2654435761u, key, strlen(key));
        assert_true((i & 1) ? w == (uint64_t)(10000 - i) : w == SF_ARIA_NONE);
        assert_true((i & 1) ? r == SF_ARIA_NONE : r == (uint64_t)(10000 - i));
    }
    sf_aria_clear(&t);
    assert_true(sf_aria_min_writer(&t, 0, h("x"), "x", 1) == SF_ARIA_NONE);
    sf_aria_free(&t);
}

static void test_decide(void **state)
{
    (void)state;
    assert_int_equal(sf_aria_decide(0, 0), SF_ARIA_COMMIT);
    assert_int_equal(sf_aria_decide(SF_ARIA_RAW, 0), SF_ARIA_COMMIT);
    assert_int_equal(sf_aria_decide(SF_ARIA_WAR, 0), SF_ARIA_COMMIT);
    assert_int_equal(sf_aria_decide(SF_ARIA_RAW | SF_ARIA_WAR, 0), SF_ARIA_RERUN);
    assert_int_equal(sf_aria_decide(SF_ARIA_WAW, 0), SF_ARIA_RERUN);
    assert_int_equal(sf_aria_decide(0, 1), SF_ARIA_LOGIC_ABORT);
    assert_int_equal(sf_aria_decide(SF_ARIA_WAR | SF_ARIA_WAW, 1), SF_ARIA_LOGIC_ABORT);
    assert_int_equal(sf_aria_decide(SF_ARIA_RAW, 1), SF_ARIA_RERUN);
    assert_int_equal(sf_aria_decide(SF_ARIA_FAILED, 0), SF_ARIA_LOGIC_ABORT);
    assert_int_equal(sf_aria_decide(SF_ARIA_FAILED | SF_ARIA_RAW, 0), SF_ARIA_RERUN);
}

/* The worker's side of the commit rule: what one worker's flags allow. */
static void test_may_commit(void **state)
{
    (void)state;
    assert_true(sf_aria_may_commit(0, 0));
    assert_true(sf_aria_may_commit(SF_ARIA_RAW, 0));
    assert_true(sf_aria_may_commit(SF_ARIA_WAR, 0));
    assert_false(sf_aria_may_commit(SF_ARIA_WAW, 0));
    assert_false(sf_aria_may_commit(SF_ARIA_RAW | SF_ARIA_WAR, 0));
    assert_false(sf_aria_may_commit(SF_ARIA_FAILED, 0));
    assert_false(sf_aria_may_commit(0, 1));
    assert_false(sf_aria_may_commit(SF_ARIA_RAW, 1));
}

/* It agrees with the coordinator's decision for every flag set, and a "no"
 * from part of the flags stays a "no" once every worker's flags are ORed
 * in: a worker never drops a write set the coordinator then commits. */
static void test_may_commit_agrees_with_decide(void **state)
{
    (void)state;
    const unsigned all = SF_ARIA_WAW | SF_ARIA_RAW | SF_ARIA_WAR | SF_ARIA_FAILED;
    for (int logic = 0; logic <= 1; logic++)
        for (unsigned f = 0; f <= all; f++) {
            assert_int_equal(sf_aria_may_commit(f, logic), sf_aria_decide(f, logic) == SF_ARIA_COMMIT);
            for (unsigned part = 0; part <= all; part++)
                if ((part & f) == part && !sf_aria_may_commit(part, logic))
                    assert_int_not_equal(sf_aria_decide(f, logic), SF_ARIA_COMMIT);
        }
}

static void test_serial_order_groups(void **state)
{
    (void)state;
    uint64_t ids[] = {1, 2, 3, 4, 5, 6};
    unsigned f[] = {0, SF_ARIA_RAW, SF_ARIA_WAR, SF_ARIA_RAW, 0, SF_ARIA_WAR};
    size_t order[6];
    sf_aria_serial_order(ids, f, 6, order);
    uint64_t got[6];
    for (int i = 0; i < 6; i++)
        got[i] = ids[order[i]];
    uint64_t want[] = {4, 2, 1, 5, 3, 6};
    assert_memory_equal(got, want, sizeof want);
}

/* ---- randomized serializability ---- */

#define NKEYS 6
#define MAXTX 200

typedef struct mtx {
    uint64_t id;
    unsigned reads, writes; /* key bit sets */
    int logic;              /* ends with a "user error" */
    int seen[NKEYS];        /* values read in the batch */
    unsigned flags;
    int decision;
} mtx;

static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static void run_batch(uint64_t *seed, int n, int state[NKEYS])
{
    mtx tx[MAXTX];
    sf_aria_table t;
    sf_aria_init(&t);
    char key[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        mtx *m = &tx[i];
        m->id = (uint64_t)(i * 3 + 1 + (int)(rnd(seed) % 3));
        m->reads = rnd(seed) & ((1u << NKEYS) - 1);
        m->writes = rnd(seed) % 3 == 0 ? 0 : rnd(seed) & ((1u << NKEYS) - 1);
        m->reads |= m->writes; /* read-modify-write, like entity methods */
        m->logic = rnd(seed) % 7 == 0;
        for (int k = 0; k < NKEYS; k++)
            m->seen[k] = state[k];
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < NKEYS; k++) {
            key[0] = (char)('a' + k);
            if (tx[i].reads >> k & 1)
                sf_aria_reserve(&t, 0, (uint64_t)k, key, 1, tx[i].id, 0);
            if (!tx[i].logic && (tx[i].writes >> k & 1))
                sf_aria_reserve(&t, 0, (uint64_t)k, key, 1, tx[i].id, 1);
        }
    uint64_t min_id = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        mtx *m = &tx[i];
        if (m->id < min_id)
            min_id = m->id;
        m->flags = 0;
        for (int k = 0; k < NKEYS; k++) {
            key[0] = (char)('a' + k);
            if (m->reads >> k & 1)
                m->flags |= sf_aria_flags(&t, 0, (uint64_t)k, key, 1, m->id, 0);
            if (!m->logic && (m->writes >> k & 1))
                m->flags |= sf_aria_flags(&t, 0, (uint64_t)k, key, 1, m->id, 1);
        }
        m->decision = sf_aria_decide(m->flags, m->logic);
        if (!m->writes || m->logic)
            assert_int_not_equal(m->decision == SF_ARIA_RERUN && !(m->flags & SF_ARIA_RAW), 1);
    }
    /* the smallest id never reruns */
    for (int i = 0; i < n; i++)
        if (tx[i].id == min_id)
            assert_int_not_equal(tx[i].decision, SF_ARIA_RERUN);
    /* committed (and reported logic aborts, which only read) in serial order */
    uint64_t ids[MAXTX];
    unsigned fls[MAXTX];
    int idx[MAXTX];
    size_t order[MAXTX], c = 0;
    for (int i = 0; i < n; i++)
        if (tx[i].decision != SF_ARIA_RERUN) {
            ids[c] = tx[i].id;
            fls[c] = tx[i].flags;
            idx[c++] = i;
        }
    sf_aria_serial_order(ids, fls, c, order);
    int serial[NKEYS];
    memcpy(serial, state, sizeof serial);
    for (size_t j = 0; j < c; j++) {
        mtx *m = &tx[idx[order[j]]];
        for (int k = 0; k < NKEYS; k++)
            if (m->reads >> k & 1)
                assert_int_equal(serial[k], m->seen[k]);
        if (m->decision == SF_ARIA_COMMIT)
            for (int k = 0; k < NKEYS; k++)
                if (m->writes >> k & 1)
                    serial[k] = (int)m->id * 100 + k;
    }
    /* the batch's effect: every committed write */
    for (int i = 0; i < n; i++)
        if (tx[i].decision == SF_ARIA_COMMIT)
            for (int k = 0; k < NKEYS; k++)
                if (tx[i].writes >> k & 1)
                    state[k] = (int)tx[i].id * 100 + k;
    assert_memory_equal(serial, state, sizeof serial);
    sf_aria_free(&t);
}

static void test_random_batches_serializable(void **st)
{
    (void)st;
    uint64_t seed = 12345;
    int state[NKEYS] = {0};
    for (int round = 0; round < 3000; round++) {
        int n = 1 + (int)(rnd(&seed) % (round % 10 == 0 ? MAXTX : 12));
        run_batch(&seed, n, state);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservations),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_may_commit),
        cmocka_unit_test(test_may_commit_agrees_with_decide),
        cmocka_unit_test(test_serial_order_groups),
        cmocka_unit_test(test_random_batches_serializable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
