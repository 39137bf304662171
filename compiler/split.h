/* split.h: the split stage (DESIGN 3.3).
 *
 * Every method flagged SF_METHOD_SPLIT by the analysis is turned into a
 * state machine of blocks: generated Python functions `_sf_E_m_<k>(self,
 * _sf_f)` that end in one of the exits of docs/ir.md (return, remote call
 * then resume, jump). Remote operations nested anywhere in expressions are
 * pulled out in evaluation order (a form of A-normal form), control flow
 * around them (if/elif/while/for, break, continue, early return, and/or
 * short-circuit, conditional expressions) becomes jumps between blocks,
 * comprehensions and generator expressions with remote operations become
 * loops first (lower.h), and liveness decides which variables each frame
 * carries.
 *
 * Input: an analysed program. Output: the block graph of every split method
 * in its IR (blocks, exits, live-in sets) and the block functions as
 * FunctionDef statements (allocated in p->arena) for the emit stage.
 */
#ifndef SF_COMPILER_SPLIT_H
#define SF_COMPILER_SPLIT_H

#include "analyse.h"

/* Returns the number of errors reported to d (0 on success). */
int sf_split(sf_program *p, sf_diag *d, sf_stmt_list *functions);

/* Name of the generated function for block k of entity.method. */
const char *sf_block_function_name(sf_arena *a, const char *entity, const char *method, int k);

#endif
