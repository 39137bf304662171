/* parse.h: the parse stage (DESIGN 3, stage 1).
 *
 * sfc embeds an isolated CPython only to run its parser: sf_parse hands the
 * source to CPython (compile with PyCF_ONLY_AST, i.e. ast.parse), converts
 * the resulting tree once into the C AST of ast.h (allocated in an arena)
 * and drops every Python object before returning. Later stages never see a
 * PyObject.
 *
 * Positions in the C AST are 1-based lines and 1-based *character* columns
 * (CPython reports UTF-8 byte offsets; they are converted).
 */
#ifndef SF_COMPILER_PARSE_H
#define SF_COMPILER_PARSE_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"
#include "stateflow/sf_arena.h"

/* Limits on the input: a larger file, or a tree nested deeper (statements and
 * expressions together) is rejected with an error instead of risking the C
 * stack of this and later stages. */
#define SF_PARSE_MAX_SOURCE (32u * 1024u * 1024u)
#define SF_PARSE_MAX_DEPTH 200

/* Start an embedded, isolated CPython (environment variables such as
 * PYTHONHOME/PYTHONPATH are ignored; the standard library is Debian's under
 * /usr/lib/python3.11; no site import; warnings ignored). Returns 0, or -1
 * with a message in err. Does nothing when Python is already running. */
int sf_python_init(char *err, size_t errlen);
/* Stop it (no-op when it is not running). */
void sf_python_fini(void);

/* Parse source (len bytes, UTF-8, an optional BOM is skipped) named filename
 * into mod, allocating everything in a. Returns 0, or -1 after recording the
 * error in d: CPython's syntax error message and position, invalid UTF-8,
 * NUL bytes, a file over SF_PARSE_MAX_SOURCE, nesting over
 * SF_PARSE_MAX_DEPTH ("expression nested too deeply"), or CPython running
 * out of recursion depth or memory. On error mod is left empty.
 * Must be called with sf_python_init done, from the thread that did it. */
int sf_parse(sf_arena *a, const char *filename, const char *source, size_t len,
             sf_module *mod, sf_diag *d);
/* The same, with line_base added to every line in the AST (not to the lines
 * of errors recorded in d): the modules of a multi-module application are
 * told apart by their line ranges (modules.h). */
int sf_parse_at(sf_arena *a, const char *filename, const char *source, size_t len,
                int line_base, sf_module *mod, sf_diag *d);

#endif
