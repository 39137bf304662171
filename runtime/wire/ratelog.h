/* ratelog.h: rate-limited logging for the client-facing servers (net.c,
 * gateway.c, native.c). A peer that misbehaves on every connection must not
 * flood the log: at most per_sec lines are written in each one-second
 * window; the lines dropped are counted and a summary line ("... N similar
 * lines suppressed") is written before the next line that gets through, or
 * by sf_ratelog_flush. No global state: each server owns one. */
#ifndef SF_RUNTIME_RATELOG_H
#define SF_RUNTIME_RATELOG_H

#include <stddef.h>
#include <stdint.h>

#define SF_RATELOG_DEFAULT_PER_SEC 10u

typedef struct sf_ratelog {
    unsigned per_sec;       /* 0 = SF_RATELOG_DEFAULT_PER_SEC */
    uint64_t window_ms;     /* start of the current window */
    unsigned in_window;     /* lines written in it */
    uint64_t suppressed;    /* dropped since the last summary */
    uint64_t total_suppressed;
    int started;
} sf_ratelog;

void sf_ratelog_init(sf_ratelog *r, unsigned per_sec);

/* May a line be written at now_ms (a monotonic clock in milliseconds)?
 * Returns 1 (write it) or 0 (dropped and counted). When it returns 1 and
 * lines were dropped before, summary (summary_len bytes) holds the summary
 * line to write first; else summary[0] is '\0'. */
int sf_ratelog_allow(sf_ratelog *r, uint64_t now_ms, char *summary, size_t summary_len);

/* The summary line of what was dropped so far (and reset the count), for a
 * server that stops or a periodic timer; 0 when nothing was dropped. */
int sf_ratelog_flush(sf_ratelog *r, char *summary, size_t summary_len);

#endif
