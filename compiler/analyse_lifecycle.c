/* analyse_lifecycle.c: creating and deleting entity instances inside
 * methods (analysis of expressions, docs/programming-model.md "Entity
 * lifecycle").
 *
 * Owns: `E(args)` in an entity method (a remote create of a new E, typed as
 * a reference to E, recorded as a remote call of E.__init__) and
 * `stateflow.delete(r)` (a remote delete of the instance r refers to, or of
 * self, recorded as a call of SF_IR_DELETE_METHOD). The split stage turns
 * both into block exits (split.c); the executor runs them.
 */
#include "analyse_internal.h"

#include <string.h>

const sf_type *an_create_call(mctx *mc, sf_expr *e, int ti)
{
    actx *a = mc->a;
    aent *te = &a->ents[ti];
    an_tx_args(mc, e);
    if (!in_entity(mc)) {
        an_merr(mc, e->pos, "creating an entity (%s(...)) is only supported directly in an entity method, "
                            "not in a nested function or lambda: create it in the method", te->name);
        return te->type;
    }
    int mi = an_find_meth(te, "__init__");
    if (mi < 0 || mi >= te->nuser) {
        an_merr(mc, e->pos, "entity '%s' has no __init__ to create it with", te->name);
        return te->type;
    }
    an_check_args(mc, e, ti, mi, 1);
    an_rec_remote(mc, e->pos, ti, "__init__", "creating an entity", -1);
    return te->type;
}

/* A call stateflow.<name>(...) (stateflow not a local). */
static int is_stateflow_call(mctx *mc, const sf_expr *e)
{
    if (e->kind != SF_EX_CALL || e->u.call.func->kind != SF_EX_ATTR)
        return 0;
    const sf_expr *v = e->u.call.func->u.attr.value;
    return v->kind == SF_EX_NAME && strcmp(v->u.name.id, "stateflow") == 0 && !an_lookup(mc->sc, "stateflow");
}

int an_is_delete_call(mctx *mc, const sf_expr *e)
{
    return is_stateflow_call(mc, e) && strcmp(e->u.call.func->u.attr.attr, "delete") == 0;
}

void an_check_stateflow_call(mctx *mc, const sf_expr *e)
{
    /* the stateflow package is not imported by the generated module: any
     * other function of it would be a NameError at run time */
    if (mc->ent >= 0 && is_stateflow_call(mc, e) && !an_is_delete_call(mc, e))
        an_merr(mc, e->pos, "stateflow.%s() cannot be used in entity methods: of the stateflow package "
                            "only stateflow.delete() is available there", e->u.call.func->u.attr.attr);
}

const sf_type *an_delete_call(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    an_tx_args(mc, e);
    if (e->u.call.args.n != 1 || e->u.call.nkw != 0 ||
        e->u.call.args.v[0]->kind == SF_EX_STARRED) {
        an_merr(mc, e->pos, "stateflow.delete() takes exactly one argument: the entity instance to delete");
        return NULL;
    }
    if (!in_entity(mc)) {
        an_merr(mc, e->pos, "stateflow.delete() may only be called inside an entity method");
        return NULL;
    }
    sf_expr *x = e->u.call.args.v[0];
    int ti;
    if (an_is_self_name(mc, x))
        ti = mc->ent;
    else {
        const char *re = ref_entity(x->type);
        ti = re ? an_find_ent(a, re) : -1;
    }
    if (ti < 0) {
        an_merr(mc, e->pos, "stateflow.delete() needs self or a reference to an entity instance (a value "
                            "typed with an entity class)");
        return NULL;
    }
    an_rec_remote(mc, e->pos, ti, SF_IR_DELETE_METHOD, "deleting an entity", -1);
    return NULL;
}
