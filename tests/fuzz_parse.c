/* fuzz_parse.c: libFuzzer target for the front end (parse.c, unparse.c).
 * Any input must either parse or give at least one diagnostic; whatever
 * parses must unparse to source that parses again and unparses to the very
 * same text (the unparser is a fixed point after one round).
 *
 * Run: ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz/fuzz_parse -dict=tests/fuzz/parse.dict CORPUS tests/parse
 * (the .py files in tests/parse are seeds; leak detection is off because
 * CPython keeps caches and pymalloc arenas that LeakSanitizer cannot follow). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse.h"
#include "stateflow/sf_arena.h"
#include "stateflow/sf_buf.h"
#include "unparse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    if (sf_python_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    /* Warm up: CPython creates caches on first use (module state, keyword
     * tables) that libFuzzer's per-input leak check would report. */
    static const char warm[] = "import a\nx = f'{y!r:>{w}}' + b'' + 1j\n"
                               "def f(*a, **k):\n    return (yield)\n"
                               "match x:\n    case 1: pass\n(\n";
    for (int i = 0; i < 2; i++) {
        sf_arena a;
        sf_arena_init(&a);
        sf_diag d;
        sf_diag_init(&d, "warm.py");
        sf_module m;
        sf_parse(&a, "warm.py", warm, sizeof(warm) - 1 - (i ? 0 : 2), &m, &d);
        sf_diag_free(&d);
        sf_arena_free(&a);
    }
    return 0;
}

/* Parse src and unparse it into out; returns the number of diagnostics. */
static int round_once(const char *src, size_t len, sf_buf *out)
{
    sf_arena a;
    sf_arena_init(&a);
    sf_diag d;
    sf_diag_init(&d, "fuzz.py");
    sf_module m;
    int rc = sf_parse(&a, "fuzz.py", src, len, &m, &d);
    int n = sf_diag_count(&d);
    if (rc != 0 && n == 0)
        abort(); /* every failure must say why */
    if (rc == 0)
        sf_unparse_module(out, &m);
    sf_diag_free(&d);
    sf_arena_free(&a);
    return rc == 0 ? 0 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    sf_buf first, second;
    sf_buf_init(&first);
    sf_buf_init(&second);
    if (round_once((const char *)data, size, &first) == 0) {
        const char *text = first.data ? first.data : "";
        if (round_once(text, first.len, &second) != 0) {
            fprintf(stderr, "unparsed source does not parse:\n%s\n", text);
            abort();
        }
        if (second.len != first.len || memcmp(first.data ? first.data : "", second.data ? second.data : "", first.len) != 0) {
            fprintf(stderr, "unparse is not stable:\n--- first\n%s\n--- second\n%s\n", text,
                    second.data ? second.data : "");
            abort();
        }
    }
    sf_buf_free(&first);
    sf_buf_free(&second);
    return 0;
}
