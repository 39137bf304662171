/* sf_buf.h: a growable byte buffer (strings being built, encoded frames).
 * Growth never fails silently: on out-of-memory the process aborts with a
 * message, like sf_arena. data is always NUL-terminated. */
#ifndef SF_BUF_H
#define SF_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sf_buf {
    char *data;
    size_t len, cap;
} sf_buf;

void sf_buf_init(sf_buf *b);
void sf_buf_free(sf_buf *b);
void sf_buf_reset(sf_buf *b);                 /* len = 0, memory kept */
void sf_buf_reserve(sf_buf *b, size_t extra);
void sf_buf_append(sf_buf *b, const void *p, size_t n);
void sf_buf_puts(sf_buf *b, const char *s);
void sf_buf_putc(sf_buf *b, char c);
void sf_buf_printf(sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sf_buf_vprintf(sf_buf *b, const char *fmt, va_list ap);
/* Give the buffer's memory to the caller (free() it); b is reset. */
char *sf_buf_steal(sf_buf *b, size_t *len);

#endif
