/* fuzz_frame.c: libFuzzer target for the frame decoder (runtime/wire/frame.c).
 * The input is fed once whole and once in pieces whose sizes come from the
 * input itself; both runs must give the same frames (type, bytes) and the
 * same final state (error or not), every frame must pass sf_frame_check,
 * and re-encoding the frames must give back the consumed bytes.
 *
 * Run: build-fuzz/fuzz/fuzz_frame tests/fuzz/corpus_frame */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode everything available into out (the frames re-encoded); returns
 * -1 on a decoder error, 0 otherwise. */
static int drain(sf_frame_decoder *d, sf_buf *out)
{
    sf_frame f;
    int r;
    while ((r = sf_frame_decoder_next(d, &f)) == 1) {
        int type;
        if (sf_frame_check(f.payload, f.len, &type, NULL, 0) != 0 || type != f.type || f.type < 1)
            abort();
        char err[128];
        if (sf_frame_append(out, f.payload, f.len, err, sizeof err) != 0)
            abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_buf whole, split;
    sf_buf_init(&whole);
    sf_buf_init(&split);

    sf_frame_decoder d;
    sf_frame_decoder_init(&d);
    sf_frame_decoder_feed(&d, data, size);
    int r1 = drain(&d, &whole);
    size_t pend1 = sf_frame_decoder_pending(&d);
    sf_frame_decoder_free(&d);

    sf_frame_decoder_init(&d);
    size_t off = 0, k = 0;
    int r2 = 0;
    while (off < size && r2 >= 0) {
        size_t n = (size_t)(data[k++ % size] % 17) + 1; /* 1..17 bytes at a time */
        if (n > size - off)
            n = size - off;
        if (k & 1) {
            sf_frame_decoder_feed(&d, data + off, n);
        } else {
            size_t avail;
            char *p = sf_frame_decoder_reserve(&d, n, &avail);
            if (avail < n)
                abort();
            memcpy(p, data + off, n);
            sf_frame_decoder_wrote(&d, n);
        }
        off += n;
        r2 = drain(&d, &split);
    }
    size_t pend2 = sf_frame_decoder_pending(&d);
    sf_frame_decoder_free(&d);

    if (r1 != r2 || whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
        abort();
    /* the frames decoded are exactly the bytes consumed */
    if (whole.len > size || (whole.len && memcmp(whole.data, data, whole.len) != 0))
        abort();
    if (r1 == 0 && (pend1 != size - whole.len || pend2 != pend1))
        abort();
    sf_buf_free(&whole);
    sf_buf_free(&split);
    return 0;
}
