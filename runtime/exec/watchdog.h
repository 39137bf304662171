/* watchdog.h: bounds the wall-clock time a transaction may spend in user
 * code. The executor's step limit bounds block executions, but a plain
 * Python loop inside one block (`while True: pass`) never returns to the
 * executor; the watchdog interrupts it.
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

typedef struct sf_watchdog sf_watchdog;

/* limit_ms > 0. Returns NULL with a message in err. */
sf_watchdog *sf_watchdog_start(unsigned limit_ms, char *err, size_t errlen);
void sf_watchdog_stop(sf_watchdog *w);

/* Nested calls are counted: only the outermost enter arms the deadline and
 * only the matching leave disarms it. Cheap (no locks, no syscalls beyond
 * reading the monotonic clock). NULL w is a no-op. */
void sf_watchdog_enter(sf_watchdog *w);
void sf_watchdog_leave(sf_watchdog *w);

#endif
