/* sf_util.h: small helpers every layer shares: allocation that aborts on
 * out-of-memory, the error-message convention (char *err, size_t errlen)
 * and UTF-8 validation of untrusted bytes. */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stddef.h>

/* Allocation that cannot fail silently: on out-of-memory the process
 * aborts with a message (like sf_arena and sf_buf). Zero sizes allocate one
 * byte, so the result is never NULL. */
void *sf_xmalloc(size_t n);
void *sf_xcalloc(size_t n, size_t size);
void *sf_xrealloc(void *p, size_t n);

/* printf into err (when err is non-NULL and errlen > 0), always terminated. */
void sf_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Length (1-4) of the valid UTF-8 sequence at s, which has n > 0 bytes
 * available, or 0 when it is not valid: overlong forms, surrogates and code
 * points above U+10FFFF are invalid. */
size_t sf_utf8_seq(const unsigned char *s, size_t n);

/* Offset of the first invalid byte of s[0..n), or n when all of it is valid
 * UTF-8. */
size_t sf_utf8_invalid_at(const char *s, size_t n);

/* Whether all of s[0..n) is valid UTF-8. */
int sf_utf8_valid(const char *s, size_t n);

#endif
