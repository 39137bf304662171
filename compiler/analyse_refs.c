/* analyse_refs.c: operations through references (analysis pass 3).
 *
 * Owns: what a method does to other entities: remote calls (checked against
 * the callee's signature), remote attribute reads and writes (through the
 * generated accessors), the contexts where they are rejected, and in-place
 * changes of another entity's attribute (which would be lost).
 */
#include "analyse_internal.h"

#include <string.h>

/* A remote operation at pos: call of entity ti's method (an accessor when
 * ai >= 0). */
void an_rec_remote(mctx *mc, sf_pos pos, int ti, const char *method, const char *op, int ai)
{
    if (!mc->final)
        return;
    actx *a = mc->a;
    if (mc->where) {
        an_merr(mc, pos, "%s %s is not supported: %s", op, mc->where, mc->fix);
        return;
    }
    if (!in_entity(mc))
        return;
    ameth *m = cur_meth(mc);
    sf_ir_call c = {sf_arena_strdup(a->ira, a->ents[ti].name), sf_arena_strdup(a->ira, method),
                    pos.line};
    VPUSH(a->ast, m->calls, m->ncalls, m->capcalls, c);
    aedge e = {ti, c.method, pos, 1, NULL, NULL};
    VPUSH(a->ast, m->edges, m->nedges, m->capedges, e);
    if (ai >= 0)
        a->ents[ti].attrs[ai].remote = 1;
}

/* "entity 'E' has no attribute/method 'x'", unless E has base classes (which
 * are an error already, and may define it). */
void an_missing(mctx *mc, const aent *en, sf_pos pos, const char *what, const char *name)
{
    if (!en->has_bases)
        an_merr(mc, pos, "entity '%s' has no %s '%s'", en->name, what, name);
}

/* The remote attribute read (item.tags) a store or mutating call on e would
 * change in place, if any. */
static const sf_expr *remote_base(mctx *mc, const sf_expr *e)
{
    for (int depth = 0; e && depth < A_MAX_DEPTH; depth++) {
        if (e->kind == SF_EX_SUBSCRIPT) {
            e = e->u.subscript.value;
        } else if (e->kind == SF_EX_ATTR) {
            const sf_expr *v = e->u.attr.value;
            if (ref_entity(v->type) && !an_is_self_name(mc, v))
                return e;
            e = v;
        } else if (e->kind == SF_EX_CALL && e->u.call.func->kind == SF_EX_ATTR) {
            const sf_expr *v = e->u.call.func->u.attr.value;
            if (ref_entity(v->type) && !an_is_self_name(mc, v))
                return NULL; /* a remote call returns a fresh value */
            e = v;
        } else {
            return NULL;
        }
    }
    return NULL;
}

void an_in_place_check(mctx *mc, const sf_expr *base, sf_pos pos)
{
    const sf_expr *rb = remote_base(mc, base);
    if (rb)
        an_merr(mc, pos, "changing '%s' of another entity in place is not supported (the change would "
                      "be lost): read it into a local variable, change it and assign it back",
             rb->u.attr.attr);
}

/* How a method takes arguments, for messages. */
static const char *takes(actx *a, const ameth *m)
{
    int lo = m->nrequired, hi = m->nparams;
    if (hi == 0)
        return "takes no arguments";
    if (lo == hi)
        return sf_arena_printf(a->ast, "takes %d argument%s", hi, hi == 1 ? "" : "s");
    return sf_arena_printf(a->ast, "takes %d to %d arguments", lo, hi);
}

void an_check_args(mctx *mc, sf_expr *call, int ti, int mi, int remote)
{
    actx *a = mc->a;
    const aent *te = &a->ents[ti];
    const ameth *m = &te->meths[mi];
    if (m->odd_params)
        return; /* its definition is reported already */
    int npos = 0, star = 0, dstar = 0;
    for (int i = 0; i < call->u.call.args.n; i++) {
        sf_expr *x = call->u.call.args.v[i];
        if (x->kind == SF_EX_STARRED)
            star = 1;
        else
            npos++;
    }
    for (int k = 0; k < call->u.call.nkw; k++)
        if (!call->u.call.kw[k].arg)
            dstar = 1;
    if (star || dstar)
        return;
    if (npos > m->nparams) {
        an_merr(mc, call->pos, "method %s.%s %s but %d %s given", te->name, m->name, takes(a, m), npos,
                npos == 1 ? "was" : "were");
        return;
    }
    int given[256] = {0};
    int bad = 0;
    for (int k = 0; k < call->u.call.nkw; k++) {
        const sf_keyword *kw = &call->u.call.kw[k];
        int idx = -1;
        for (int i = 0; i < m->nparams; i++)
            if (strcmp(m->params[i].name, kw->arg) == 0)
                idx = i;
        if (idx < 0) {
            an_merr(mc, kw->pos, "method %s.%s has no parameter '%s'", te->name, m->name, kw->arg);
            bad = 1;
        } else if (idx < npos || (idx < 256 && given[idx])) {
            an_merr(mc, kw->pos, "argument '%s' of %s.%s is given twice", kw->arg, te->name, m->name);
            bad = 1;
        } else if (idx < 256) {
            given[idx] = 1;
        }
    }
    if (bad)
        return;
    if (call->u.call.nkw == 0 && npos < m->nrequired) {
        an_merr(mc, call->pos, "method %s.%s %s but %d %s given", te->name, m->name, takes(a, m), npos,
                npos == 1 ? "was" : "were");
        return;
    }
    for (int i = npos; i < m->nparams && i < 256; i++)
        if (!given[i] && !m->params[i].has_default) {
            an_merr(mc, call->pos, "call of %s.%s is missing argument '%s'", te->name, m->name,
                    m->params[i].name);
            return;
        }
}

const sf_type *an_remote_attr_read(mctx *mc, sf_expr *e, const char *entname)
{
    actx *a = mc->a;
    int ti = an_find_ent(a, entname);
    if (ti < 0)
        return NULL;
    aent *te = &a->ents[ti];
    const char *name = e->u.attr.attr;
    int ai = an_find_attr(te, name);
    if (ai < 0) {
        if (an_find_meth(te, name) >= 0)
            an_merr(mc, e->pos, "method '%s' of entity '%s' can only be called, not used as a value",
                    name, te->name);
        else
            an_missing(mc, te, e->pos, "attribute", name);
        return NULL;
    }
    an_rec_remote(mc, e->pos, ti, sf_arena_printf(a->ast, "_sf_get_%s", name), "remote attribute read", ai);
    return te->attrs[ai].type;
}

/* ref.NAME where NAME is a constant of the entity's class (assigned in its
 * body, not an attribute of instances): the same value for every instance,
 * read from the class (`Stock.MAX_PER_ORDER`) instead of remotely. */
static int class_constant(mctx *mc, sf_expr *e, const char *entname)
{
    actx *a = mc->a;
    int ti = an_find_ent(a, entname);
    if (ti < 0)
        return 0;
    const aent *te = &a->ents[ti];
    const char *name = e->u.attr.attr;
    if (an_find_attr(te, name) >= 0 || an_find_meth(te, name) >= 0 || !an_is_clsname(te, name))
        return 0;
    sf_expr *v = e->u.attr.value;
    if (v->kind != SF_EX_NAME || an_lookup(mc->sc, te->name)) {
        an_merr(mc, e->pos, "read the class constant '%s' from the class: `%s.%s`", name, te->name, name);
        return 1;
    }
    if (mc->final) {
        sf_expr *cls = sf_expr_name(a->ast, te->name, v->pos);
        e->u.attr.value = cls;
    }
    return 1;
}

const sf_type *an_tx_attr(mctx *mc, sf_expr *e)
{
    sf_expr *v = e->u.attr.value;
    const char *name = e->u.attr.attr;
    if (an_is_self_name(mc, v)) {
        aent *en = cur_ent(mc);
        v->type = en->type;
        int ai = an_find_attr(en, name);
        if (ai >= 0) {
            an_rec_read(mc, ai);
            return en->attrs[ai].type;
        }
        int mi = an_find_meth(en, name);
        if (mi >= 0 && mi < en->nuser && mc->final) {
            /* self.m as a value (sorted(key=self.m), f = self.m): checked once
             * the call graph knows whether m performs remote operations */
            ameth *cm = cur_meth(mc);
            aedge ed = {mc->ent, en->meths[mi].name, e->pos, 0, NULL, NULL};
            VPUSH(mc->a->ast, cm->values, cm->nvalues, cm->capvalues, ed);
        }
        if (mi < 0 && !an_is_clsname(en, name) && !an_is_dunder(name) &&
            strcmp(cur_meth(mc)->name, "__key__") != 0)
            an_missing(mc, en, e->pos, "attribute", name);
        return NULL;
    }
    const sf_type *vt = an_tx(mc, v);
    const char *re = ref_entity(vt);
    if (re && class_constant(mc, e, re))
        return NULL;
    if (re)
        return an_remote_attr_read(mc, e, re);
    an_check_untyped(mc, v, vt, name, e->pos, 0);
    return NULL;
}

/* A function given to another entity: arguments travel as values, and a
 * function is not one. */
static void function_argument(mctx *mc, const sf_expr *x)
{
    if (!mc->final)
        return;
    if (x->kind == SF_EX_STARRED)
        x = x->u.starred.value;
    int fn = x->kind == SF_EX_LAMBDA;
    if (x->kind == SF_EX_NAME && !an_lookup(mc->sc, x->u.name.id)) {
        int m = an_find_mod(mc->a, x->u.name.id);
        fn = m >= 0 && mc->a->mods[m].def;
    }
    if (x->kind == SF_EX_ATTR && an_is_self_name(mc, x->u.attr.value) &&
        an_find_meth(cur_ent(mc), x->u.attr.attr) >= 0)
        fn = 1;
    if (fn)
        an_merr(mc, x->pos, "a function cannot be passed to another entity (arguments travel as values): "
                            "call it here and pass its result, or pass the data it needs");
}

const sf_type *an_remote_call(mctx *mc, sf_expr *e, const char *entname)
{
    actx *a = mc->a;
    sf_expr *f = e->u.call.func;
    an_tx_args(mc, e);
    int ti = an_find_ent(a, entname);
    if (ti < 0)
        return NULL;
    aent *te = &a->ents[ti];
    const char *m = f->u.attr.attr;
    int mi = an_find_meth(te, m);
    if (mi < 0 || mi >= te->nuser) {
        if (an_find_attr(te, m) >= 0)
            an_merr(mc, e->pos, "'%s' is an attribute of entity '%s', not a method", m, te->name);
        else
            an_missing(mc, te, e->pos, "method", m);
        return NULL;
    }
    if (te->meths[mi].flags & (SF_METHOD_INIT | SF_METHOD_INTERNAL)) {
        an_merr(mc, e->pos, "method '%s' of entity '%s' cannot be called through a reference", m,
                te->name);
        return te->meths[mi].returns;
    }
    an_check_args(mc, e, ti, mi, 1);
    for (int i = 0; i < e->u.call.args.n; i++)
        function_argument(mc, e->u.call.args.v[i]);
    for (int k = 0; k < e->u.call.nkw; k++)
        function_argument(mc, e->u.call.kw[k].value);
    an_rec_remote(mc, e->pos, ti, m, "remote call", -1);
    return te->meths[mi].returns;
}

/* ---- identity and equality of references -------------------------------- */

/* A reference other than self (self is the instance itself at run time). */
static int is_ref(mctx *mc, const sf_expr *e)
{
    return ref_entity(e->type) && !an_is_self_name(mc, e);
}

/* A bare entity class name (not shadowed by a local). */
static const char *entity_class(mctx *mc, const sf_expr *e)
{
    if (e->kind != SF_EX_NAME || an_lookup(mc->sc, e->u.name.id) || an_find_ent(mc->a, e->u.name.id) < 0)
        return NULL;
    return e->u.name.id;
}

static int is_none(const sf_expr *e)
{
    return e->kind == SF_EX_CONST && e->u.constant.kind == SF_CONST_NONE;
}

/* What `x == self` must be written as: the key attributes compared. */
static const char *key_compare_hint(mctx *mc, const sf_expr *other)
{
    const aent *en = cur_ent(mc);
    const char *o = other->kind == SF_EX_NAME ? other->u.name.id : "other";
    const char *k = en->nkey == 1 ? en->key[0] : "key";
    return sf_arena_printf(mc->a->ast, "`%s.%s == %s.%s`", o, k, cur_meth(mc)->selfname, k);
}

/* References are values (entity, key) at run time, one object per instance
 * in plain Python. `a is b` between references therefore becomes `a == b`
 * (the same answer); a comparison with self or with an entity class cannot
 * give Python's answer and is an error. */
void an_check_compare(mctx *mc, sf_expr *e)
{
    if (!mc->final) /* also in functions outside entities: `is` between references given to them */
        return;
    sf_expr *l = e->u.compare.left;
    for (int i = 0; i < e->u.compare.comparators.n; i++) {
        sf_expr *r = e->u.compare.comparators.v[i];
        sf_op op = e->u.compare.ops[i];
        const char *cls = entity_class(mc, l) ? entity_class(mc, l) : entity_class(mc, r);
        if (cls && op != SF_OP_IN && op != SF_OP_NOTIN) {
            an_merr(mc, e->pos, "comparing with the entity class '%s' is not supported (a reference is "
                                "not an instance of it at run time): a value typed %s is always a "
                                "reference to %s", cls, cls, cls);
        } else if (op == SF_OP_IN || op == SF_OP_NOTIN) {
            if (an_is_self_name(mc, l))
                an_merr(mc, e->pos, "testing whether self is in a collection is not supported (a "
                                    "reference never equals self at run time): compare key "
                                    "attributes instead, e.g. %s", key_compare_hint(mc, sf_expr_name(mc->a->ast, "x", e->pos)));
        } else if (op == SF_OP_EQ || op == SF_OP_NOTEQ || op == SF_OP_IS || op == SF_OP_ISNOT) {
            int ls = an_is_self_name(mc, l), rs = an_is_self_name(mc, r);
            if ((ls && !rs && !is_none(r)) || (rs && !ls && !is_none(l))) {
                an_merr(mc, e->pos, "comparing a value with self is not supported (a reference never "
                                    "equals self at run time): compare key attributes instead, e.g. %s",
                        key_compare_hint(mc, ls ? r : l));
            } else if ((op == SF_OP_IS || op == SF_OP_ISNOT) && !ls && !rs && !is_none(l) && !is_none(r) &&
                       (is_ref(mc, l) || is_ref(mc, r))) {
                e->u.compare.ops[i] = op == SF_OP_IS ? SF_OP_EQ : SF_OP_NOTEQ;
            }
        }
        l = r;
    }
}

static const char *entity_class_in(mctx *mc, const sf_expr *e)
{
    if (e->kind == SF_EX_TUPLE) {
        for (int i = 0; i < e->u.seq.elts.n; i++)
            if (entity_class(mc, e->u.seq.elts.v[i]))
                return entity_class(mc, e->u.seq.elts.v[i]);
        return NULL;
    }
    return entity_class(mc, e);
}

void an_check_isinstance(mctx *mc, sf_expr *call)
{
    if (!mc->final)
        return;
    if (strcmp(call->u.call.func->u.name.id, "type") == 0) {
        if (call->u.call.args.n == 1 && is_ref(mc, call->u.call.args.v[0]))
            an_merr(mc, call->pos, "type() of a reference is not the entity class at run time: its static "
                                   "type is already %s", ref_entity(call->u.call.args.v[0]->type));
        return;
    }
    if (call->u.call.args.n < 2)
        return;
    const char *cls = entity_class_in(mc, call->u.call.args.v[1]);
    if (cls)
        an_merr(mc, call->pos, "%s with the entity class '%s' is not supported (a reference is not an "
                               "instance of it at run time): annotate the value as %s (or Optional[%s]) "
                               "and test `is None` where it may be missing",
                call->u.call.func->u.name.id, cls, cls, cls);
}

/* ---- values of unknown type ---------------------------------------------- */

/* v.name (read or written; called when is_call) where v's type is Any or the element of an
 * untyped list: when an entity has a method or attribute of that name, v
 * may well be a reference, and the operation would fail at run time (a
 * reference has no attributes): a compile error asking for the type. */
void an_check_untyped(mctx *mc, const sf_expr *v, const sf_type *vt, const char *name, sf_pos pos,
                      int is_call)
{
    actx *a = mc->a;
    if (!mc->final || !in_entity(mc) || !vt)
        return;
    if (vt->kind == SF_TYPE_OPTIONAL)
        vt = targ(vt, 0);
    if (!vt || vt->kind != SF_TYPE_ANY || vt == a->t_opaque || an_is_dunder(name))
        return;
    const char *ent = NULL, *what = NULL;
    for (int i = 0; i < a->nents && !ent; i++) {
        const aent *en = &a->ents[i];
        int mi = an_find_meth(en, name);
        if (is_call && mi >= 0 && mi < en->nuser &&
            !(en->meths[mi].flags & (SF_METHOD_INIT | SF_METHOD_INTERNAL))) {
            ent = en->name;
            what = "a method";
        } else if (!is_call && an_find_attr(en, name) >= 0) {
            ent = en->name;
            what = "an attribute";
        }
    }
    if (!ent)
        return;
    const char *vn = v->kind == SF_EX_NAME ? v->u.name.id : "x";
    an_merr(mc, pos, "cannot tell whether '%s' is a reference (its type is Any or unknown) and entity '%s' "
                     "has %s '%s': annotate it with its entity type (e.g. `%s: %s`, or `List[%s]` for "
                     "the list it comes from)",
            vn, ent, what, name, vn, ent, ent);
}

/* ---- self as a value ------------------------------------------------------ */

/* self stored in a container or in state: at run time it is the instance,
 * which only becomes a reference when passed to a remote call, assigned to
 * another entity's attribute or returned. */
void an_check_self_stored(mctx *mc, const sf_expr *x)
{
    if (!x || !mc->final || !in_entity(mc) || !an_is_self_name(mc, x))
        return;
    const aent *en = cur_ent(mc);
    an_merr(mc, x->pos, "self cannot be put in a container or stored in state (at run time it is the "
                        "instance, not a reference): pass it directly to a remote call or return it, or "
                        "store its key (`%s.%s`)", x->u.name.id, en->nkey == 1 ? en->key[0] : "key");
}
