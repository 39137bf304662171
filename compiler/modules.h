/* modules.h: an application split over several local modules.
 *
 * sf_load_app parses the entry module and every local module it imports at
 * module level (`from x import Name`, `from .x import Name`, `from .pkg.x
 * import Name`, recursively, cycles included), where a local module is a .py
 * file or a package (a folder with __init__.py) in the entry module's folder
 * (absolute imports) or relative to the importing module (relative ones).
 * The modules are merged into one module in Python's import order: the body
 * of a module replaces the first import of it, as Python runs it there, and
 * a later import of it binds names only. Because the merged module is one
 * namespace, a module-level name bound in two modules to different things is
 * a compile error, as is importing a name its module does not bind (yet,
 * in a cycle), `import x` / `from . import x` of a local module, `as`
 * renaming and `*`. Other imports (standard library, unknown) stay as they
 * are.
 *
 * Lines: the AST of the k-th module (k = 0 the entry) has its lines plus
 * k << SF_DIAG_FILE_SHIFT, and d->files names the files, so diagnostics of
 * every stage print the right file and line; sf_diag_file_line maps a line
 * back.
 */
#ifndef SF_COMPILER_MODULES_H
#define SF_COMPILER_MODULES_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"
#include "stateflow/sf_arena.h"
#include "stateflow/sf_buf.h"

#define SF_APP_MAX_MODULES 64   /* local modules in one application */

/* Parse the entry (source, len, named path) and its local imports into mod.
 * Needs sf_python_init done. d->files is set to an array in a (so a must
 * outlive d's printing). Returns 0, or -1 with errors in d. */
int sf_load_app(sf_arena *a, const char *path, const char *source, size_t len,
                sf_module *mod, sf_diag *d);

/* Append the file at path to b (at most SF_PARSE_MAX_SOURCE bytes). Returns
 * 0, or -1 with the reason in err. */
int sf_read_source(const char *path, sf_buf *b, char *err, size_t errlen);

#endif
