/* emit.h: the emit stage (DESIGN 3.4): the generated Python module.
 *
 * Produces the module the runtime executes (docs/ir.md): the user's module
 * printed back from the AST without the stateflow decorators and imports,
 * split methods replaced by their block functions, attribute accessors added
 * to every entity that is read or written remotely, and the small prelude
 * the block functions use.
 */
#ifndef SF_COMPILER_EMIT_H
#define SF_COMPILER_EMIT_H

#include "analyse.h"
#include "stateflow/sf_buf.h"

/* Rewrites p->mod in place (the AST is not used afterwards) and appends the
 * module text to out. block_functions comes from sf_split. */
void sf_emit_module(sf_program *p, const sf_stmt_list *block_functions, sf_buf *out);

/* Is this decorator one of @entity, @stateflow, @stateflow.entity? */
int sf_is_entity_decorator(const sf_expr *d);

#endif
