/* fuzz_event.c: libFuzzer target for the event decoder (sf_event_decode in
 * runtime/exec/executor.c), which reads frames from other processes. The test
 * application of the executor tests (executor_apps.c) is loaded once. Any
 * input must decode or be refused with a message; a decoded event encodes
 * again, and decode + encode of that encoding gives the same bytes.
 *
 * Run: build-fuzz/fuzz/fuzz_event -max_len=4096
 * CPython keeps caches that look like leaks to LeakSanitizer: allocations
 * made inside libpython are suppressed below (ours are still checked). */
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "executor_apps.h"
#include "pycodec.h"
#include "pyrt.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void) { return "leak:libpython3.11.so\n"; }

/* Everything lives for the whole fuzzing process. */
typedef struct fuzz_env {
    sf_ir *ir;
    sf_pycodec codec;
    sf_pyapp *app;
    sf_store store;
    sf_executor *ex;
    sf_tx tx;
    sf_event ev;
    sf_buf a, b;
} fuzz_env;

static fuzz_env *env(void)
{
    static fuzz_env e; /* the fuzzer's process-wide fixture */
    return &e;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env *e = env();
    char err[512];
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0 ||
        sf_pycodec_init(&e->codec) < 0 || !(e->ir = sf_test_app_build()) ||
        !(e->app = sf_pyapp_load(e->ir, err, sizeof err))) {
        fprintf(stderr, "fuzz_event: setup failed: %s\n", err);
        abort();
    }
    sf_store_init(&e->store);
    e->ex = sf_executor_new(e->app, &e->codec, &e->store, err, sizeof err);
    if (!e->ex)
        abort();
    sf_tx_init(&e->tx);
    sf_event_init(&e->ev);
    sf_buf_init(&e->a);
    sf_buf_init(&e->b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_env *e = env();
    char err[512];
    sf_tx_reset(&e->tx, 1);
    if (sf_event_decode(e->ex, &e->tx, (const char *)data, size, &e->ev, err, sizeof err) < 0) {
        if (!err[0])
            abort(); /* refused without a message */
        return 0;
    }
    sf_buf_reset(&e->a);
    if (sf_event_encode(e->ex, &e->tx, &e->ev, &e->a, err, sizeof err) < 0) {
        fprintf(stderr, "decoded event does not encode: %s\n", err);
        abort();
    }
    sf_tx_reset(&e->tx, 1);
    if (sf_event_decode(e->ex, &e->tx, e->a.data, e->a.len, &e->ev, err, sizeof err) < 0) {
        fprintf(stderr, "re-encoded event does not decode: %s\n", err);
        abort();
    }
    sf_buf_reset(&e->b);
    if (sf_event_encode(e->ex, &e->tx, &e->ev, &e->b, err, sizeof err) < 0 || e->a.len != e->b.len ||
        memcmp(e->a.data, e->b.data, e->a.len) != 0) {
        fprintf(stderr, "event encoding is not stable\n");
        abort();
    }
    sf_event_clear(&e->ev);
    return 0;
}
