/* util.c: allocation, error-message and UTF-8 helpers shared by every
 * layer (see sf_util.h). */
#include "stateflow/sf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *oom(void)
{
    fprintf(stderr, "stateflow: out of memory\n");
    abort();
}

void *sf_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : oom();
}

void *sf_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom();
}

void *sf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom();
}

void sf_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

size_t sf_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0)
        return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    /* the second byte's range excludes overlong forms, surrogates and
     * code points beyond U+10FFFF */
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0xf0) {
        if (n < 3)
            return 0;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xf5) {
        if (n < 4)
            return 0;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

size_t sf_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = sf_utf8_seq(u + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

int sf_utf8_valid(const char *s, size_t n)
{
    return sf_utf8_invalid_at(s, n) == n;
}
