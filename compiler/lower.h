/* lower.h: comprehensions and generator expressions with remote operations
 * rewritten as loops (the split stage calls it, see split.c's flat()).
 *
 * A list/set/dict comprehension, or a generator expression consumed by
 * sum, min, max, any, all, sorted, list, tuple, set, frozenset, dict or
 * str.join, whose element, conditions or later iterables hold a remote
 * operation becomes statements that compute the same value into a hidden
 * local, in Python's order: the first iterable first, the loop variables
 * renamed to hidden locals (they do not leak, the enclosing variables stay
 * visible), nested generators as nested loops, conditions as ifs, any/all
 * stopping at the first decisive element. The split stage then builds the
 * statements like any loop of the method. Comprehensions without remote
 * operations are never passed here and stay as they are.
 */
#ifndef SF_COMPILER_LOWER_H
#define SF_COMPILER_LOWER_H

#include "ast.h"
#include "diag.h"

typedef struct sf_lower_env {
    sf_arena *a;
    sf_diag *d;
    const sf_module *mod;                  /* module-level names shadow builtins */
    void *ctx;
    /* a new hidden local variable of the method, `_sf_<prefix><n>` */
    const char *(*fresh)(void *ctx, const char *prefix);
    /* name is a local variable or parameter of the method */
    int (*is_local)(void *ctx, const char *name);
    /* e holds a remote operation */
    int (*has_remote)(void *ctx, sf_expr *e);
} sf_lower_env;

/* e holds a remote operation. When e is a comprehension, or a call of one
 * of the builtins above over a generator expression, returns 1 with *out the
 * statements computing it and *result the expression to use in its place.
 * Returns 0 when e is none of these (the caller flattens it as usual), -1
 * after reporting an error to env->d (a generator expression with remote
 * operations consumed by anything else, arguments this rewrite does not
 * reproduce exactly). */
int sf_lower_expr(const sf_lower_env *env, sf_expr *e, sf_stmt_list *out, sf_expr **result);

#endif
