/* fuzz_http.c: libFuzzer target for the HTTP/1.1 request parser and the
 * target splitting (runtime/wire/http.c). The input is fed whole, then again in
 * pieces whose sizes come from the first byte; both runs must agree on
 * every request and on the error; every parsed request must be coherent
 * (pointers inside the parser, lengths within the limits), and its target
 * must split or say why.
 *
 * Run: build-fuzz/fuzz/fuzz_http -dict=tests/fuzz/http.dict tests/fuzz/corpus_http */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "stateflow/sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQS 64

typedef struct outcome {
    size_t n;
    uint64_t sig[MAX_REQS]; /* a hash of each request */
    int error;
    int continues;
} outcome;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t check_request(const sf_http_request *r)
{
    if (r->version_minor != 0 && r->version_minor != 1)
        abort();
    if (r->target_len == 0 || r->method_len == 0 || r->body_len > SF_HTTP_MAX_BODY ||
        r->nheaders > SF_HTTP_MAX_HEADERS)
        abort();
    if (r->body[r->body_len] != '\0')
        abort();
    if (!r->chunked && r->body_len != r->content_length)
        abort();
    uint64_t h = 14695981039346656037ull;
    h = fnv(h, r->method_name, r->method_len);
    h = fnv(h, r->target, r->target_len);
    h = fnv(h, r->body, r->body_len);
    int flags[4] = {r->version_minor, r->keep_alive, r->expect_continue, r->chunked};
    h = fnv(h, flags, sizeof flags);
    for (size_t i = 0; i < r->nheaders; i++) {
        const sf_http_header *hd = &r->headers[i];
        if (hd->name_len == 0)
            abort();
        h = fnv(h, hd->name, hd->name_len);
        h = fnv(h, hd->value, hd->value_len);
    }
    sf_http_path path;
    char err[200];
    sf_buf_init(&path.buf);
    if (sf_http_split_path(r->target, r->target_len, &path, err, sizeof err) == 0) {
        if (path.nseg == 0 || path.nseg > SF_HTTP_MAX_SEGMENTS)
            abort();
        for (size_t i = 0; i < path.nseg; i++)
            if (!sf_utf8_valid(sf_http_path_seg(&path, i), path.len[i]))
                abort();
    } else if (!err[0]) {
        abort();
    }
    sf_buf_free(&path.buf);
    return h;
}

static void run(const uint8_t *data, size_t size, size_t piece, outcome *o)
{
    sf_http_parser p;
    memset(o, 0, sizeof *o);
    sf_http_parser_init(&p, NULL);
    size_t off = 0;
    while (off < size && !o->error) {
        size_t n = size - off < piece ? size - off : piece;
        const char *d = (const char *)data + off;
        off += n;
        while (n > 0 || 0) {
            size_t used;
            int rc = sf_http_parser_feed(&p, d, n, &used);
            if (used > n)
                abort();
            d += used;
            n -= used;
            if (rc == SF_HTTP_ERROR) {
                if (!p.status || !p.message[0])
                    abort();
                o->error = p.status;
                break;
            }
            if (rc == SF_HTTP_DONE) {
                uint64_t s = check_request(&p.req);
                if (o->n < MAX_REQS)
                    o->sig[o->n] = s;
                o->n++;
            } else if (rc == SF_HTTP_CONTINUE) {
                o->continues++;
            } else if (rc != SF_HTTP_NEED_MORE || n != 0) {
                abort();
            } else {
                break;
            }
        }
    }
    /* the response writer on whatever status came out */
    sf_buf out;
    sf_buf_init(&out);
    sf_http_response_head(&out, o->error ? o->error : 200, "application/json", 0, !o->error, NULL);
    if (out.len < 20)
        abort();
    sf_buf_free(&out);
    sf_http_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome whole, pieces;
    size_t piece = size ? (size_t)(data[0] % 17) + 1 : 1;
    run(data, size, size ? size : 1, &whole);
    run(data, size, piece, &pieces);
    if (whole.n != pieces.n || whole.error != pieces.error || whole.continues != pieces.continues)
        abort();
    for (size_t i = 0; i < whole.n && i < MAX_REQS; i++)
        if (whole.sig[i] != pieces.sig[i])
            abort();
    /* percent-decoding of arbitrary bytes */
    sf_buf b;
    sf_buf_init(&b);
    if (sf_http_percent_decode((const char *)data, size, &b) == 0 && b.len > size)
        abort();
    sf_buf_free(&b);
    return 0;
}
