/* unparse.h: prints the C AST (ast.h) back as Python 3.11 source.
 *
 * The output parses to the same tree as the input (ast.dump without
 * positions), with 4-space indentation and parentheses only where operator
 * precedence or the grammar needs them. f-strings are written with quotes
 * that do not clash with their content (3.11 forbids the enclosing quote and
 * backslashes inside replacement fields). `match` statements, kept as source
 * text, are printed verbatim at the new indentation (lines inside string
 * literals untouched). Comments and the original layout are not kept.
 *
 * Used for round-trip checks and by the emit stage to print the generated
 * Python module.
 */
#ifndef SF_COMPILER_UNPARSE_H
#define SF_COMPILER_UNPARSE_H

#include "ast.h"
#include "stateflow/sf_buf.h"

/* The whole module (nothing for an empty module). */
void sf_unparse_module(sf_buf *b, const sf_module *m);
/* A statement list at the given indentation level (4 spaces per level). An
 * empty list prints `pass` when indent > 0 (a block body) and nothing at
 * level 0. */
void sf_unparse_stmts(sf_buf *b, const sf_stmt_list *l, int indent);
/* One statement (with its trailing newline). */
void sf_unparse_stmt(sf_buf *b, const sf_stmt *s, int indent);
/* One expression, without a newline, parenthesised as needed to stand alone
 * (a bare tuple prints without parentheses, as after `return`). */
void sf_unparse_expr(sf_buf *b, const sf_expr *e);

#endif
