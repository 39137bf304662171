/* analyse_effects.c: effects on self (analysis pass 3).
 *
 * Owns: the attributes of self each method reads and writes, including
 * writes through aliases (a local list that is self.items), the rootsets
 * that track those aliases, which builtin and container methods change
 * their receiver or arguments, and the rule that key attributes are only
 * assigned in __init__.
 */
#include "analyse_internal.h"

#include <string.h>

static int rs_add(rootset *r, int ai)
{
    if (r->all)
        return 0;
    for (int i = 0; i < r->n; i++)
        if (r->v[i] == ai)
            return 0;
    if (r->n == A_MAX_ALIAS) {
        r->all = 1;
        return 1;
    }
    r->v[r->n++] = ai;
    return 1;
}

int an_rs_union(rootset *r, const rootset *o)
{
    int ch = 0;
    if (o->all && !r->all) {
        r->all = 1;
        return 1;
    }
    for (int i = 0; i < o->n; i++)
        ch |= rs_add(r, o->v[i]);
    return ch;
}

static void push_name(actx *a, const char ***v, int *n, int *cap, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*v)[i], name) == 0)
            return;
    const char *s = sf_arena_strdup(a->ira, name);
    VPUSH(a->ast, *v, *n, *cap, s);
}

void an_rec_read(mctx *mc, int ai)
{
    if (!mc->final || !in_entity(mc))
        return;
    ameth *m = cur_meth(mc);
    push_name(mc->a, &m->reads, &m->nreads, &m->capreads, cur_ent(mc)->attrs[ai].name);
}

void an_rec_write(mctx *mc, int ai)
{
    if (!mc->final || !in_entity(mc))
        return;
    ameth *m = cur_meth(mc);
    m->direct_write = 1;
    push_name(mc->a, &m->writes, &m->nwrites, &m->capwrites, cur_ent(mc)->attrs[ai].name);
}

void an_rec_writes(mctx *mc, const rootset *r)
{
    if (!mc->final || !in_entity(mc))
        return;
    aent *en = cur_ent(mc);
    if (r->all) {
        for (int i = 0; i < en->nattrs; i++)
            an_rec_write(mc, i);
        return;
    }
    for (int i = 0; i < r->n; i++)
        an_rec_write(mc, r->v[i]);
}

void an_key_write_check(mctx *mc, const aent *en, int ai, sf_pos pos, int local_self)
{
    if (!en->attrs[ai].is_key)
        return;
    if (local_self && (cur_meth(mc)->flags & SF_METHOD_INIT))
        return;
    an_merr(mc, pos, "cannot assign key attribute '%s' outside __init__", en->attrs[ai].name);
}

/* Methods of builtin containers that never change the receiver. */
int an_pure_method(const sf_type *t, const char *m)
{
    static const char *const list_pure[] = {"index", "count", "copy", NULL};
    static const char *const dict_pure[] = {"get", "keys", "values", "items", "copy", NULL};
    static const char *const set_pure[] = {"copy", "union", "intersection", "difference",
                                           "symmetric_difference", "issubset", "issuperset",
                                           "isdisjoint", NULL};
    if (!t)
        return 0;
    if (t->kind == SF_TYPE_OPTIONAL)
        t = targ(t, 0);
    if (an_immutable(t, 0))
        return 1;
    const char *const *l = t->kind == SF_TYPE_LIST ? list_pure : t->kind == SF_TYPE_DICT ? dict_pure
                          : t->kind == SF_TYPE_SET ? set_pure : t->kind == SF_TYPE_TUPLE ? list_pure
                          : NULL;
    for (; l && *l; l++)
        if (strcmp(*l, m) == 0)
            return 1;
    return 0;
}

/* Attributes of self the value of e (already typed) may share state with. */
void an_roots(mctx *mc, const sf_expr *e, rootset *r, int depth)
{
    if (!e || !in_entity(mc) || depth > A_MAX_DEPTH)
        return;
    if (e->kind != SF_EX_NAME && an_immutable(e->type, 0))
        return;
    switch (e->kind) {
    case SF_EX_NAME: {
        local *l = an_lookup(mc->sc, e->u.name.id);
        if (!l)
            return;
        if (l->is_self) {
            r->all = 1;
            return;
        }
        if (!an_immutable(l->state == L_TYPED ? l->type : NULL, 0))
            an_rs_union(r, &l->alias);
        return;
    }
    case SF_EX_ATTR: {
        const sf_expr *v = e->u.attr.value;
        if (an_is_self_name(mc, v)) {
            int ai = an_find_attr(cur_ent(mc), e->u.attr.attr);
            if (ai >= 0)
                rs_add(r, ai);
            return;
        }
        if (ref_entity(v->type))
            return; /* a remote read returns a copy */
        an_roots(mc, v, r, depth + 1);
        return;
    }
    case SF_EX_SUBSCRIPT:
        an_roots(mc, e->u.subscript.value, r, depth + 1);
        return;
    case SF_EX_CALL: {
        const sf_expr *f = e->u.call.func;
        if (f->kind == SF_EX_ATTR) {
            if (ref_entity(f->u.attr.value->type) || an_is_self_name(mc, f->u.attr.value))
                return;
            an_roots(mc, f->u.attr.value, r, depth + 1);
        } else if (f->kind == SF_EX_NAME) {
            int b = an_find_builtin(mc, f->u.name.id);
            if (b >= 0 && an_builtin_propagates(b))
                for (int i = 0; i < e->u.call.args.n; i++)
                    an_roots(mc, e->u.call.args.v[i], r, depth + 1);
        }
        return;
    }
    case SF_EX_IFEXP:
        an_roots(mc, e->u.ifexp.body, r, depth + 1);
        an_roots(mc, e->u.ifexp.orelse, r, depth + 1);
        return;
    case SF_EX_BOOLOP:
        for (int i = 0; i < e->u.boolop.values.n; i++)
            an_roots(mc, e->u.boolop.values.v[i], r, depth + 1);
        return;
    case SF_EX_NAMEDEXPR:
        an_roots(mc, e->u.namedexpr.value, r, depth + 1);
        return;
    case SF_EX_STARRED:
        an_roots(mc, e->u.starred.value, r, depth + 1);
        return;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET:
        for (int i = 0; i < e->u.seq.elts.n; i++)
            an_roots(mc, e->u.seq.elts.v[i], r, depth + 1);
        return;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n; i++)
            an_roots(mc, e->u.dict.values[i], r, depth + 1);
        return;
    default:
        return;
    }
}

/* Arguments of a call that may change them: whatever of self they alias is
 * written. */
void an_args_escape(mctx *mc, sf_expr *e)
{
    if (!mc->final || !in_entity(mc))
        return;
    rootset r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < e->u.call.args.n; i++)
        an_roots(mc, e->u.call.args.v[i], &r, 0);
    for (int k = 0; k < e->u.call.nkw; k++)
        an_roots(mc, e->u.call.kw[k].value, &r, 0);
    an_rec_writes(mc, &r);
}
