/* buf.c: the growable byte buffer (see sf_buf.h). */
#include "stateflow/sf_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_buf_init(sf_buf *b) { memset(b, 0, sizeof(*b)); }

void sf_buf_free(sf_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void sf_buf_reset(sf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sf_buf_reserve(sf_buf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len <= extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "stateflow: out of memory\n");
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void sf_buf_append(sf_buf *b, const void *p, size_t n)
{
    sf_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sf_buf_puts(sf_buf *b, const char *s) { sf_buf_append(b, s, strlen(s)); }

void sf_buf_putc(sf_buf *b, char c) { sf_buf_append(b, &c, 1); }

void sf_buf_vprintf(sf_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    sf_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sf_buf_printf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *sf_buf_steal(sf_buf *b, size_t *len)
{
    if (!b->data)
        sf_buf_reserve(b, 0);
    char *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof(*b));
    return p;
}
