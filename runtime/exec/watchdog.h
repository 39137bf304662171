/* watchdog.h: bounds the wall-clock time a transaction may spend in user
 * code. The executor's step limit bounds block executions, but a plain
 * Python loop inside one block, a constructor or __key__ (`while True:
 * pass`) never returns to the executor; the watchdog interrupts it.
 *
 * The limit is per transaction: the executor keeps the time a transaction
 * has spent so far (sf_tx, carried in its events between workers) and arms
 * the watchdog with it, so the deadline is what is left of the limit. A
 * transaction with no time left fails at once, before any user code runs.
 *
 * A watchdog thread polls (every 10 ms) the deadline the executor's thread
 * arms on entry to user code. When it passes, the thread takes the GIL
 * (which the looping executor thread hands over within CPython's switch
 * interval) and raises TimeLimitExceeded in the executor's thread
 * asynchronously (PyThreadState_SetAsyncExc): a BaseException subclass, so
 * that `except Exception:` in user code does not swallow it. The
 * transaction then aborts like any other failing request. An exception
 * that could not be delivered before the transaction ended is withdrawn.
 *
 * Lifecycle: sf_watchdog_start (with the GIL held, after Python started) ->
 * enter/leave around user code, on the thread that holds the GIL ->
 * sf_watchdog_stop (with the GIL held, before Python stops). */
#ifndef SF_RUNTIME_WATCHDOG_H
#define SF_RUNTIME_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_watchdog sf_watchdog;

/* limit_ms > 0. Returns NULL with a message in err. */
sf_watchdog *sf_watchdog_start(unsigned limit_ms, char *err, size_t errlen);
void sf_watchdog_stop(sf_watchdog *w);

/* Arm the deadline for a transaction that already spent used_ns of its
 * limit: it passes in (limit - used_ns). Returns 0; or -1 when nothing of
 * the limit is left, with TimeLimitExceeded set as the Python error and
 * nothing armed (no leave follows). Nested calls are counted: only the
 * outermost enter arms the deadline (and may fail) and only the matching
 * leave disarms it. Cheap (no locks, no syscalls beyond reading the
 * monotonic clock). NULL w is a no-op returning 0. */
int sf_watchdog_enter(sf_watchdog *w, uint64_t used_ns);
/* The time since the matching outermost enter in ns (0 for a nested leave
 * and for NULL w). */
uint64_t sf_watchdog_leave(sf_watchdog *w);

#endif
