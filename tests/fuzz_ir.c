/* fuzz_ir.c: libFuzzer target for the .sfir loader. Any input must either
 * load or give an error message; whatever loads must dump, print as dot and
 * re-encode to bytes that load again and encode identically.
 *
 * Run: build-fuzz/fuzz/fuzz_ir -dict=tests/fuzz/ir.dict tests/fuzz/corpus_ir
 * (seeds: tests/fuzz/corpus_ir, regenerate with `test_ir --write-corpus DIR`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    err[0] = '\0';
    sf_ir *ir = sf_ir_decode((const char *)data, size, err, sizeof(err));
    if (!ir) {
        if (err[0] == '\0')
            abort(); /* every failure must say why */
        return 0;
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        sf_ir_dump(ir, null);
        sf_ir_dot(ir, null);
        fclose(null);
    }
    char *out = NULL, *out2 = NULL;
    size_t outlen = 0, outlen2 = 0;
    if (sf_ir_encode(ir, &out, &outlen, err, sizeof(err)) != 0)
        abort(); /* a loaded IR always re-encodes */
    sf_ir *again = sf_ir_decode(out, outlen, err, sizeof(err));
    if (!again)
        abort();
    if (sf_ir_encode(again, &out2, &outlen2, err, sizeof(err)) != 0 || outlen2 != outlen ||
        memcmp(out, out2, outlen) != 0)
        abort(); /* encoding is a fixed point */
    free(out);
    free(out2);
    sf_ir_free(again);
    sf_ir_free(ir);
    return 0;
}
