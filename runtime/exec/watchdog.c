/* watchdog.c: interrupts user code that overruns its time limit (see
 * watchdog.h).
 *
 * Why an asynchronous exception rather than Py_AddPendingCall: CPython 3.11
 * computes the "eval breaker" of a pending call in the thread that adds it,
 * and for any thread but the main one it stays unset, so the call would
 * never run while the main thread loops. PyThreadState_SetAsyncExc sets the
 * breaker unconditionally. It needs the GIL, which the watchdog thread gets
 * when the looping main thread hands it over (CPython's switch interval). */
#include <Python.h>

#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>

#include "stateflow/sf_util.h"

#define SF_WATCHDOG_POLL_MS 10

struct sf_watchdog {
    pthread_t thread;
    unsigned limit_ms;
    unsigned long main_ident;         /* Python thread id of the executor's thread */
    int depth;                        /* executor thread only */
    uint64_t entered_ns;              /* executor thread: the outermost enter */
    _Atomic uint64_t deadline_ns;     /* 0: disarmed */
    _Atomic uint64_t gen;             /* bumped by every outermost enter */
    _Atomic uint64_t fired_gen;       /* the generation an exception was set for */
    _Atomic int stop;
    PyObject *exc;                    /* the TimeLimitExceeded type */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int overdue(sf_watchdog *w, uint64_t *gen)
{
    uint64_t deadline = atomic_load(&w->deadline_ns);
    *gen = atomic_load(&w->gen);
    return deadline != 0 && now_ns() >= deadline && atomic_load(&w->fired_gen) != *gen;
}

static void *watch(void *arg)
{
    sf_watchdog *w = arg;
    struct timespec poll = {0, SF_WATCHDOG_POLL_MS * 1000000L};
    while (!atomic_load(&w->stop)) {
        nanosleep(&poll, NULL);
        uint64_t gen;
        if (!overdue(w, &gen))
            continue;
        PyGILState_STATE st = PyGILState_Ensure();
        /* with the GIL the executor's thread is paused: check again, the
         * transaction may have ended while we waited */
        if (!atomic_load(&w->stop) && overdue(w, &gen)) {
            if (PyThreadState_SetAsyncExc(w->main_ident, w->exc) == 1)
                atomic_store(&w->fired_gen, gen);
        }
        PyGILState_Release(st);
    }
    return NULL;
}

/* An asynchronous exception is raised as a type (CPython instantiates it
 * with no arguments), so the message comes from __init__. */
static PyObject *make_exception_type(unsigned limit_ms)
{
    char src[512];
    snprintf(src, sizeof src,
             "class TimeLimitExceeded(BaseException):\n"
             "    'A request ran longer than its time limit.'\n"
             "    def __init__(self, *args):\n"
             "        super().__init__(args[0] if args else\n"
             "                         'the request ran longer than its time limit (%u ms)')\n",
             limit_ms);
    PyObject *ns = PyDict_New();
    if (!ns)
        return NULL;
    PyObject *type = NULL;
    if (PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        PyDict_SetItemString(ns, "__name__", PyUnicode_FromString("stateflow")) == 0) {
        PyObject *r = PyRun_String(src, Py_file_input, ns, ns);
        Py_XDECREF(r);
        if (r) {
            type = PyDict_GetItemString(ns, "TimeLimitExceeded");
            Py_XINCREF(type);
        }
    }
    Py_DECREF(ns);
    return type;
}

sf_watchdog *sf_watchdog_start(unsigned limit_ms, char *err, size_t errlen)
{
    if (limit_ms == 0) {
        sf_set_err(err, errlen, "time limit must be positive");
        return NULL;
    }
    sf_watchdog *w = calloc(1, sizeof(*w));
    if (!w) {
        sf_set_err(err, errlen, "out of memory");
        return NULL;
    }
    w->limit_ms = limit_ms;
    w->main_ident = PyThread_get_thread_ident();
    atomic_store(&w->fired_gen, UINT64_MAX);
    w->exc = make_exception_type(limit_ms);
    if (!w->exc) {
        PyErr_Clear();
        sf_set_err(err, errlen, "cannot create the TimeLimitExceeded exception type");
        free(w);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        sf_set_err(err, errlen, "cannot start the watchdog thread");
        Py_DECREF(w->exc);
        free(w);
        return NULL;
    }
    return w;
}

void sf_watchdog_stop(sf_watchdog *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    /* the thread may be waiting for the GIL we hold */
    Py_BEGIN_ALLOW_THREADS
    pthread_join(w->thread, NULL);
    Py_END_ALLOW_THREADS
    Py_DECREF(w->exc);
    free(w);
}

int sf_watchdog_enter(sf_watchdog *w, uint64_t used_ns)
{
    if (!w)
        return 0;
    if (w->depth > 0) {
        w->depth++;
        return 0;
    }
    uint64_t limit_ns = (uint64_t)w->limit_ms * 1000000u;
    if (used_ns >= limit_ns) {
        PyErr_SetNone(w->exc);
        return -1;
    }
    w->depth = 1;
    w->entered_ns = now_ns();
    atomic_fetch_add(&w->gen, 1);
    atomic_store(&w->deadline_ns, w->entered_ns + (limit_ns - used_ns));
    return 0;
}

uint64_t sf_watchdog_leave(sf_watchdog *w)
{
    if (!w || --w->depth > 0)
        return 0;
    atomic_store(&w->deadline_ns, 0);
    /* fired, but the transaction ended before Python noticed: withdraw the
     * exception so that it cannot hit the next request */
    if (atomic_load(&w->fired_gen) == atomic_load(&w->gen))
        PyThreadState_SetAsyncExc(w->main_ident, NULL);
    return now_ns() - w->entered_ns;
}
