/* executor_apps.h: hand-built IRs for the executor tests (no compiler
 * involved): a generated Python module written by hand following docs/ir.md
 * (split methods as block functions returning block-result tuples) and the
 * matching sf_ir built in C. */
#ifndef SF_TESTS_EXECUTOR_APPS_H
#define SF_TESTS_EXECUTOR_APPS_H

#include "stateflow/sf_ir.h"

/* The test application: Item, User (shop, with User.buy_item split by
 * hand), Account (bank transfer), Node (re-entrant calls, loops with jumps,
 * runaway loops, malformed block results), Slow (an __init__ and a __key__
 * that never return). */
sf_ir *sf_test_app_build(void);

/* Add a method to e (whose methods array has room) from a compact spec:
 * params "name:type,name:type=" ('=' marks has_default); types int float str
 * bool bytes list dict tuple set any none, @Entity for a reference, ?T for
 * Optional[T]. nblocks > 0 makes it split with blocks _sf_<E>_<m>_<k>. */
void sf_test_add_method(sf_ir *ir, sf_ir_entity *e, const char *name, unsigned flags,
                        const char *params, int nblocks);

#endif
