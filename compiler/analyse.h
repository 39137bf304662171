/* analyse.h: the analysis stage (DESIGN 3.2).
 *
 * Input: a parsed module (ast.h). Output: an sf_program that links the AST to
 * the IR being built:
 *   - every entity class (@entity, @stateflow, @stateflow.entity,
 *     @stateflow.stateflow) with its
 *     attributes and their types, its key attributes and its methods
 *     (signatures, reads/writes of self, remote operations, flags), written
 *     straight into ir->entities;
 *   - every expression inside entity methods annotated with its static type
 *     (sf_expr.type) where known; an expression whose type is an entity, or
 *     Optional of one, is a reference;
 *   - the call graph (local and remote), checked for recursion, and the
 *     dataflow edges in ir->edges;
 *   - SF_METHOD_SPLIT set on every method that performs a remote operation
 *     or calls (through self) a method that does; SF_METHOD_READ_ONLY on
 *     methods that never write self, directly or through local calls.
 * Errors go to the sf_diag; analysis keeps going after an error so that one
 * run reports as many as it can.
 */
#ifndef SF_COMPILER_ANALYSE_H
#define SF_COMPILER_ANALYSE_H

#include "ast.h"
#include "diag.h"
#include "stateflow/sf_ir.h"

typedef struct sf_entity_info sf_entity_info;

typedef struct sf_method_info {
    sf_ir_method *ir;          /* points into ir->entities[i].methods */
    sf_stmt *def;              /* the FunctionDef */
    sf_entity_info *owner;
} sf_method_info;

struct sf_entity_info {
    sf_ir_entity *ir;          /* points into ir->entities */
    sf_stmt *cls;              /* the ClassDef */
    sf_method_info *methods;   /* parallel to ir->methods (same order) */
    int nmethods;
};

typedef struct sf_program {
    sf_arena *arena;           /* the AST's arena */
    sf_module *mod;
    sf_ir *ir;                 /* being built; types live in ir->arena */
    sf_entity_info *entities;  /* parallel to ir->entities */
    int nentities;
} sf_program;

/* Analyse mod into p (which the caller zeroes and gives arena, mod, ir).
 * Returns the number of errors reported to d (0 on success). */
int sf_analyse(sf_program *p, sf_diag *d);

/* Lookups over the analysed program (NULL when absent). */
sf_entity_info *sf_program_entity(const sf_program *p, const char *name);
sf_method_info *sf_entity_method(const sf_entity_info *e, const char *name);

/* For an expression inside an entity method: the entity name when it is a
 * reference (its type is an entity or Optional[entity]), else NULL. */
const char *sf_expr_ref_entity(const sf_expr *e);

#endif
