/* diag.h: compiler diagnostics. Every stage reports problems here instead of
 * printing; the driver prints them sorted by position as
 * `file:line:col: error: message` and exits 1 when there was any error.
 * Several errors per file are collected (a stage keeps going after one). */
#ifndef SF_COMPILER_DIAG_H
#define SF_COMPILER_DIAG_H

#include <stdio.h>

typedef struct sf_diag_entry {
    int line, col;
    char *msg;
} sf_diag_entry;

/* Lines of a multi-module application (modules.h): line >> SF_DIAG_FILE_SHIFT
 * indexes files[] (0: filename), the rest is the line in that file. */
#define SF_DIAG_FILE_SHIFT 24

typedef struct sf_diag {
    const char *filename;
    const char *const *files;  /* NULL, or nfiles names; files[0] is filename */
    int nfiles;
    sf_diag_entry *v;
    int n, cap;
} sf_diag;

void sf_diag_init(sf_diag *d, const char *filename);
void sf_diag_free(sf_diag *d);
/* The file and the file's own line of a line (files as above). */
const char *sf_diag_file_line(const sf_diag *d, int line, int *file_line);
/* Record an error at line:col (1-based; col 0 when unknown). */
void sf_diag_error(sf_diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sf_diag_count(const sf_diag *d);
/* Print all errors, sorted by position, one per line. */
void sf_diag_print(const sf_diag *d, FILE *out);

#endif
