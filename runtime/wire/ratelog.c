/* ratelog.c: at most N log lines a second, and a count of the others
 * (ratelog.h). */
#include "ratelog.h"

#include <stddef.h>
#include <stdio.h>

void sf_ratelog_init(sf_ratelog *r, unsigned per_sec)
{
    r->per_sec = per_sec ? per_sec : SF_RATELOG_DEFAULT_PER_SEC;
    r->window_ms = 0;
    r->in_window = 0;
    r->suppressed = 0;
    r->total_suppressed = 0;
    r->started = 0;
}

int sf_ratelog_flush(sf_ratelog *r, char *summary, size_t summary_len)
{
    if (summary_len)
        summary[0] = '\0';
    if (!r->suppressed)
        return 0;
    if (summary_len)
        snprintf(summary, summary_len, "... %llu similar log lines suppressed (at most %u a second)",
                 (unsigned long long)r->suppressed, r->per_sec);
    r->suppressed = 0;
    return 1;
}

int sf_ratelog_allow(sf_ratelog *r, uint64_t now_ms, char *summary, size_t summary_len)
{
    if (summary_len)
        summary[0] = '\0';
    if (!r->started || now_ms - r->window_ms >= 1000) {
        r->started = 1;
        r->window_ms = now_ms;
        r->in_window = 0;
    }
    if (r->in_window >= r->per_sec) {
        r->suppressed++;
        r->total_suppressed++;
        return 0;
    }
    r->in_window++;
    sf_ratelog_flush(r, summary, summary_len);
    return 1;
}
