/* diag.c: collects and prints compiler errors (see diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sf_diag_init(sf_diag *d, const char *filename)
{
    memset(d, 0, sizeof(*d));
    d->filename = filename;
}

void sf_diag_free(sf_diag *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->v[i].msg);
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void sf_diag_error(sf_diag *d, int line, int col, const char *fmt, ...)
{
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        sf_diag_entry *v = realloc(d->v, (size_t)cap * sizeof(*v));
        if (!v)
            return; /* dropping a message is better than dying on it */
        d->v = v;
        d->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    /* the same error at the same place once (a function walked twice) */
    for (int i = 0; i < d->n; i++)
        if (d->v[i].line == line && d->v[i].col == col && strcmp(d->v[i].msg, msg) == 0) {
            free(msg);
            return;
        }
    d->v[d->n].line = line;
    d->v[d->n].col = col;
    d->v[d->n].msg = msg;
    d->n++;
}

int sf_diag_count(const sf_diag *d) { return d->n; }

static int entry_cmp(const void *a, const void *b)
{
    const sf_diag_entry *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return strcmp(x->msg, y->msg);
}

const char *sf_diag_file_line(const sf_diag *d, int line, int *file_line)
{
    int k = line >> SF_DIAG_FILE_SHIFT;
    if (k > 0 && k < d->nfiles) {
        *file_line = line & ((1 << SF_DIAG_FILE_SHIFT) - 1);
        return d->files[k];
    }
    *file_line = line;
    return d->filename;
}

void sf_diag_print(const sf_diag *d, FILE *out)
{
    sf_diag_entry *sorted = malloc((size_t)(d->n ? d->n : 1) * sizeof(*sorted));
    if (!sorted)
        return;
    memcpy(sorted, d->v, (size_t)d->n * sizeof(*sorted));
    qsort(sorted, (size_t)d->n, sizeof(*sorted), entry_cmp);
    for (int i = 0; i < d->n; i++) {
        /* identical errors at one spot (e.g. reported by two passes) print once */
        if (i > 0 && entry_cmp(&sorted[i - 1], &sorted[i]) == 0)
            continue;
        int line;
        const char *file = sf_diag_file_line(d, sorted[i].line, &line);
        fprintf(out, "%s:%d:%d: error: %s\n", file, line, sorted[i].col, sorted[i].msg);
    }
    free(sorted);
}
