/* test_batch_limit.c: the coordinator's adaptive batch limit
 * (coord_batch_feedback, runtime/cluster/coord_sequencer.c): batches with
 * mostly conflict aborts shrink the limit towards the floor, full batches
 * with few aborts grow it back up to --batch-size, light load (batches
 * below the limit) never grows it, tiny batches are not judged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coord_internal.h"

static void init(sf_coordinator *c, uint32_t batch_size)
{
    memset(c, 0, sizeof *c);
    c->batch_size = batch_size;
    c->admit = batch_size;
}

static void test_shrinks_and_recovers(void **st)
{
    (void)st;
    sf_coordinator c;
    init(&c, 1000);
    /* hot keys: 90% of every full batch conflict-aborts */
    uint32_t last = c.admit;
    for (int i = 0; i < 100; i++) {
        coord_batch_feedback(&c, c.admit, c.admit * 9 / 10);
        assert_true(c.admit <= last);
        last = c.admit;
    }
    assert_true(c.admit < 100);
    assert_true(c.admit >= 16);
    /* a batch smaller than the limit with many aborts shrinks from its size */
    init(&c, 1000);
    coord_batch_feedback(&c, 200, 150);
    assert_int_equal(c.admit, 150);
    /* few aborts in full batches: back up to the batch size, never past it */
    for (int i = 0; i < 100; i++)
        coord_batch_feedback(&c, c.admit, c.admit / 20);
    assert_int_equal(c.admit, 1000);
}

static void test_light_load_and_tiny_batches(void **st)
{
    (void)st;
    sf_coordinator c;
    init(&c, 1000);
    coord_batch_feedback(&c, 200, 150);
    uint32_t a = c.admit;
    /* batches below the limit with no aborts: the limit stays */
    for (int i = 0; i < 50; i++)
        coord_batch_feedback(&c, a / 2, 0);
    assert_int_equal(c.admit, a);
    /* batches under the floor are too small to judge */
    init(&c, 1000);
    for (int i = 0; i < 50; i++)
        coord_batch_feedback(&c, 10, 9);
    assert_int_equal(c.admit, 1000);
    /* a middling abort rate (between the thresholds) holds the limit */
    coord_batch_feedback(&c, 1000, 400);
    assert_int_equal(c.admit, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrinks_and_recovers),
        cmocka_unit_test(test_light_load_and_tiny_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
