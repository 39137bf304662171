/* analyse_stmts.c: walking method bodies (analysis pass 3, statements).
 *
 * Owns: the scopes of local variables and the types they hold (joined to a
 * fixpoint), the contexts where remote operations are forbidden (enter /
 * leave), each statement kind, assignment targets (locals, attributes of
 * self and of references, subscripts), and the walk of every method and of
 * the functions outside entities (which may not use references).
 */
#include "analyse_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

scope *an_scope_new(actx *a, scope *parent, int kind, int persistent)
{
    scope *s = sf_arena_alloc(a->ast, sizeof(*s));
    s->parent = parent;
    s->kind = kind;
    s->persistent = persistent;
    return s;
}

static local *scope_find(scope *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

local *an_lookup(scope *s, const char *name)
{
    for (; s; s = s->parent) {
        local *l = scope_find(s, name);
        if (l)
            return l;
    }
    return NULL;
}

static local *scope_add(actx *a, scope *s, const char *name)
{
    local l;
    memset(&l, 0, sizeof(l));
    l.name = name;
    VPUSH(a->ast, s->v, s->n, s->cap, l);
    return &s->v[s->n - 1];
}

local *an_add_param(actx *a, scope *s, const char *name, const sf_type *t)
{
    local *l = scope_find(s, name);
    if (!l)
        l = scope_add(a, s, name);
    l->fixed = 1;
    l->type = t;
    l->state = t ? L_TYPED : L_UNKNOWN;
    return l;
}

static scope *nested_scope(actx *a, const sf_stmt *def)
{
    for (int i = 0; i < a->nnest; i++)
        if (a->nest[i].def == def)
            return a->nest[i].sc;
    return NULL;
}

saved an_enter(mctx *mc, const char *where, const char *fix)
{
    saved s = {mc->where, mc->fix};
    if (!mc->outside) {
        mc->where = where;
        mc->fix = fix;
    }
    return s;
}

void an_leave(mctx *mc, saved s)
{
    mc->where = s.where;
    mc->fix = s.fix;
}

void an_merr(mctx *mc, sf_pos pos, const char *fmt, ...)
{
    if (!mc->final)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sf_diag_error(mc->a->d, pos.line, pos.col, "%s", buf);
}

int an_is_self_name(mctx *mc, const sf_expr *e)
{
    if (!in_entity(mc) || !e || e->kind != SF_EX_NAME)
        return 0;
    local *l = an_lookup(mc->sc, e->u.name.id);
    return l && l->is_self;
}

/* Bind name to a value of type t in the scope assignments go to. */
local *an_bind(mctx *mc, const char *name, const sf_type *t, const rootset *rs, int how)
{
    scope *s = mc->sc;
    if (how != HOW_COMP)
        while (s->kind == SC_COMP && s->parent)
            s = s->parent;
    local *l = scope_find(s, name);
    int ch = 0;
    if (!l) {
        l = scope_add(mc->a, s, name);
        ch = 1;
    }
    if (!l->fixed && t) {
        if (l->state == L_UNKNOWN) {
            l->type = t;
            l->state = L_TYPED;
            ch = 1;
        } else if (l->state == L_TYPED) {
            int poison;
            const sf_type *j = an_tjoin(mc->a, l->type, t, &poison);
            if (poison) {
                l->state = L_POISONED;
                l->type = NULL;
                ch = 1;
            } else if (!teq(j, l->type)) {
                l->type = j;
                ch = 1;
            }
        }
    }
    if (rs)
        ch |= an_rs_union(&l->alias, rs);
    if (ch && s->persistent)
        mc->changed = 1;
    return l;
}

const sf_type *an_local_type(const local *l)
{
    return l && l->state == L_TYPED ? l->type : NULL;
}

static const char *held_desc(actx *a, const sf_type *t)
{
    if (t->kind == SF_TYPE_ENTITY)
        return sf_arena_printf(a->ast, "a reference to %s", t->entity);
    return sf_arena_printf(a->ast, "a value of type %s", an_tfmt(a, t));
}

/* One variable holding a reference in one place and another value in
 * another (a rebound parameter, a reused loop variable) cannot be typed:
 * operations on it would be remote in one place and local in the other. */
void an_check_rebind(mctx *mc, local *l, const sf_type *vt, sf_pos pos)
{
    actx *a = mc->a;
    if (!l || !vt || !in_entity(mc) || l->is_self)
        return;
    if (l->fixed) {
        if (!l->type || vt->kind == SF_TYPE_ANY || an_join_strict(a, l->type, vt) ||
            (!an_mentions_entity(l->type, 0) && !an_mentions_entity(vt, 0)))
            return;
        an_merr(mc, pos, "'%s' is declared as %s (a parameter or an annotated variable) and cannot be "
                         "assigned %s: use another variable for it", l->name, an_tfmt(a, l->type),
                held_desc(a, vt));
        return;
    }
    if (!l->held) {
        l->held = vt;
        l->held_line = pos.line;
        return;
    }
    const sf_type *j = an_join_strict(a, l->held, vt);
    if (j) {
        l->held = j;
        return;
    }
    if (!an_mentions_entity(l->held, 0) && !an_mentions_entity(vt, 0))
        return;
    const sf_type *known = l->held->kind == SF_TYPE_ANY ? vt : vt->kind == SF_TYPE_ANY ? l->held : NULL;
    if (known)
        an_merr(mc, pos, "'%s' holds a value of unknown type and %s (lines %d and %d): annotate it with "
                         "its type where it is first assigned (e.g. `%s: %s = ...`)", l->name,
                held_desc(a, known), l->held_line, pos.line, l->name, an_tfmt(a, known));
    else
        an_merr(mc, pos, "'%s' holds %s (line %d) and %s here: a variable holding a reference must hold "
                         "references to one entity (or None) only; use another name for one of them", l->name,
                held_desc(a, l->held), l->held_line, held_desc(a, vt));
}

static void tss(mctx *mc, sf_stmt_list *l);

/* An attribute as an assignment target. */
static void store_attr(mctx *mc, sf_expr *t, int how)
{
    actx *a = mc->a;
    sf_expr *v = t->u.attr.value;
    const char *name = t->u.attr.attr;
    if (an_is_self_name(mc, v)) {
        aent *en = cur_ent(mc);
        v->type = en->type;
        int ai = an_find_attr(en, name);
        if (ai < 0) {
            an_missing(mc, en, t->pos, "attribute", name);
            return;
        }
        an_key_write_check(mc, en, ai, t->pos, 1);
        an_rec_write(mc, ai);
        t->type = en->attrs[ai].type;
        return;
    }
    const sf_type *vt = an_tx(mc, v);
    const char *re = ref_entity(vt);
    if (re) {
        int ti = an_find_ent(a, re);
        if (ti < 0)
            return;
        aent *te = &a->ents[ti];
        int ai = an_find_attr(te, name);
        if (ai < 0) {
            an_missing(mc, te, t->pos, "attribute", name);
            return;
        }
        t->type = te->attrs[ai].type;
        if (te->attrs[ai].is_key) {
            an_merr(mc, t->pos, "cannot assign key attribute '%s' outside __init__", name);
            return;
        }
        if (how == HOW_FOR || how == HOW_WITH) {
            an_merr(mc, t->pos, "remote attribute write as a %s target is not supported: assign to a "
                             "local variable first", how == HOW_FOR ? "for loop" : "with");
            return;
        }
        an_rec_remote(mc, t->pos, ti, sf_arena_printf(a->ast, "_sf_set_%s", name),
                      "remote attribute write", ai);
        return;
    }
    an_check_untyped(mc, v, vt, name, t->pos, 0);
    if (mc->final && in_entity(mc)) {
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(mc, v, &r, 0);
        an_rec_writes(mc, &r);
        an_in_place_check(mc, v, t->pos);
    }
}

static void store_subscript(mctx *mc, sf_expr *t)
{
    an_tx(mc, t->u.subscript.value);
    an_tx(mc, t->u.subscript.slice);
    if (mc->final && in_entity(mc)) {
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(mc, t->u.subscript.value, &r, 0);
        an_rec_writes(mc, &r);
        an_in_place_check(mc, t->u.subscript.value, t->pos);
    }
}

void an_tstore(mctx *mc, sf_expr *t, const sf_type *vt, const rootset *rs, sf_expr *value,
                   int how)
{
    actx *a = mc->a;
    if (!t)
        return;
    if (mc->depth >= A_MAX_DEPTH) {
        mc->too_deep = 1;
        return;
    }
    mc->depth++;
    switch (t->kind) {
    case SF_EX_NAME: {
        if (an_is_self_name(mc, t)) {
            an_merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            break;
        }
        if (value && an_is_self_name(mc, value))
            an_merr(mc, t->pos, "storing self in a local variable is not supported: use self directly");
        local *l = an_bind(mc, t->u.name.id, vt, rs, how);
        an_check_rebind(mc, l, vt, t->pos);
        t->type = an_local_type(l);
        break;
    }
    case SF_EX_TUPLE: case SF_EX_LIST: {
        int n = t->u.seq.elts.n;
        int pair = value && (value->kind == SF_EX_TUPLE || value->kind == SF_EX_LIST) &&
                   value->u.seq.elts.n == n;
        int star = 0;
        for (int i = 0; i < n; i++) {
            if (t->u.seq.elts.v[i]->kind == SF_EX_STARRED)
                star = 1;
            if (pair && value->u.seq.elts.v[i]->kind == SF_EX_STARRED)
                pair = 0;
        }
        if (star)
            pair = 0;
        for (int i = 0; i < n; i++) {
            sf_expr *el = t->u.seq.elts.v[i];
            if (pair) {
                sf_expr *ve = value->u.seq.elts.v[i];
                rootset r;
                memset(&r, 0, sizeof(r));
                an_roots(mc, ve, &r, 0);
                an_tstore(mc, el, ve->type, &r, ve, how);
            } else {
                const sf_type *et = NULL;
                if (tkind(vt, SF_TYPE_TUPLE) && vt->nargs == n && !star)
                    et = targ(vt, i);
                else if (vt)
                    et = an_elem_type(a, vt);
                if (el->kind == SF_EX_STARRED) {
                    an_tstore(mc, el->u.starred.value, an_t1(a, SF_TYPE_LIST, an_elem_type(a, vt)), rs, NULL, how);
                    el->type = NULL;
                } else {
                    an_tstore(mc, el, et, rs, NULL, how);
                }
            }
        }
        t->type = vt;
        break;
    }
    case SF_EX_STARRED:
        an_tstore(mc, t->u.starred.value, an_t1(a, SF_TYPE_LIST, an_elem_type(a, vt)), rs, NULL, how);
        break;
    case SF_EX_ATTR:
        store_attr(mc, t, how);
        /* other.peer = self passes self to a remote write: that is fine */
        if (value && (an_is_self_name(mc, t->u.attr.value) || !ref_entity(t->u.attr.value->type)))
            an_check_self_stored(mc, value);
        break;
    case SF_EX_SUBSCRIPT:
        store_subscript(mc, t);
        an_check_self_stored(mc, value);
        break;
    default:
        an_tx(mc, t);
        break;
    }
    mc->depth--;
}

static void taug(mctx *mc, sf_stmt *s)
{
    actx *a = mc->a;
    sf_expr *t = s->u.augassign.target;
    sf_expr *val = s->u.augassign.value;
    switch (t->kind) {
    case SF_EX_NAME: {
        an_tx(mc, t);
        an_tx(mc, val);
        if (an_is_self_name(mc, t)) {
            an_merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            return;
        }
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            an_roots(mc, t, &r, 0); /* x += [...] changes a list in place */
            an_rec_writes(mc, &r);
        }
        an_bind(mc, t->u.name.id, NULL, NULL, HOW_ASSIGN);
        return;
    }
    case SF_EX_ATTR: {
        sf_expr *v = t->u.attr.value;
        const char *name = t->u.attr.attr;
        if (an_is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int ai = an_find_attr(en, name);
            if (ai < 0) {
                an_missing(mc, en, t->pos, "attribute", name);
                an_tx(mc, val);
                return;
            }
            an_rec_read(mc, ai);
            an_tx(mc, val);
            an_key_write_check(mc, en, ai, t->pos, 1);
            an_rec_write(mc, ai);
            t->type = en->attrs[ai].type;
            return;
        }
        const sf_type *vt = an_tx(mc, v);
        const char *re = ref_entity(vt);
        if (re) {
            const sf_type *at = an_remote_attr_read(mc, t, re);
            t->type = at;
            an_tx(mc, val);
            int ti = an_find_ent(a, re);
            if (ti < 0)
                return;
            int ai = an_find_attr(&a->ents[ti], name);
            if (ai < 0)
                return;
            if (a->ents[ti].attrs[ai].is_key) {
                an_merr(mc, t->pos, "cannot assign key attribute '%s' outside __init__", name);
                return;
            }
            an_rec_remote(mc, t->pos, ti, sf_arena_printf(a->ast, "_sf_set_%s", name),
                          "remote attribute write", ai);
            return;
        }
        an_check_untyped(mc, v, vt, name, t->pos, 0);
        an_tx(mc, val);
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            an_roots(mc, v, &r, 0);
            an_rec_writes(mc, &r);
            an_in_place_check(mc, v, t->pos);
        }
        return;
    }
    case SF_EX_SUBSCRIPT:
        an_tx(mc, t->u.subscript.value);
        an_tx(mc, t->u.subscript.slice);
        an_tx(mc, val);
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            an_roots(mc, t->u.subscript.value, &r, 0);
            an_rec_writes(mc, &r);
            an_in_place_check(mc, t->u.subscript.value, t->pos);
        }
        return;
    default:
        an_tx(mc, t);
        an_tx(mc, val);
        return;
    }
}

static void tdel(mctx *mc, sf_expr *t, int depth)
{
    actx *a = mc->a;
    if (depth > A_MAX_DEPTH)
        return;
    switch (t->kind) {
    case SF_EX_NAME:
        if (an_is_self_name(mc, t))
            an_merr(mc, t->pos, "deleting '%s' is not supported", t->u.name.id);
        return;
    case SF_EX_TUPLE: case SF_EX_LIST:
        for (int i = 0; i < t->u.seq.elts.n; i++)
            tdel(mc, t->u.seq.elts.v[i], depth + 1);
        return;
    case SF_EX_ATTR: {
        sf_expr *v = t->u.attr.value;
        if (an_is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int ai = an_find_attr(en, t->u.attr.attr);
            if (ai < 0) {
                an_missing(mc, en, t->pos, "attribute", t->u.attr.attr);
                return;
            }
            an_key_write_check(mc, en, ai, t->pos, 1);
            an_rec_write(mc, ai);
            return;
        }
        const sf_type *vt = an_tx(mc, v);
        if (ref_entity(vt)) {
            an_merr(mc, t->pos, "deleting an attribute of another entity is not supported");
            return;
        }
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            an_roots(mc, v, &r, 0);
            an_rec_writes(mc, &r);
        }
        (void)a;
        return;
    }
    case SF_EX_SUBSCRIPT:
        store_subscript(mc, t);
        return;
    default:
        an_tx(mc, t);
        return;
    }
}

static void walk_nested_def(mctx *mc, sf_stmt *s)
{
    actx *a = mc->a;
    if (s->kind == SF_ST_ASYNCFUNCTIONDEF && in_entity(mc))
        an_merr(mc, s->pos, "async functions are not supported in entity methods");
    for (int i = 0; i < s->u.func.decorators.n; i++)
        an_tx(mc, s->u.func.decorators.v[i]);
    sf_arguments *args = s->u.func.args;
    an_tx_defaults(mc, args);
    an_bind(mc, s->u.func.name, NULL, NULL, HOW_ASSIGN);
    scope *ns = nested_scope(a, s);
    if (!ns) {
        ns = an_scope_new(a, mc->sc, SC_FUNC, 1);
        if (args) {
            sf_arg *lists[2] = {args->posonly, args->args};
            int counts[2] = {args->nposonly, args->nargs};
            for (int k = 0; k < 2; k++)
                for (int i = 0; i < counts[k]; i++) {
                    const sf_type *t = lists[k][i].annotation ? an_resolve(a, lists[k][i].annotation, 0, 0) : NULL;
                    an_add_param(a, ns, lists[k][i].name, !lists[k][i].annotation ? a->t_any
                                                          : t && t->kind != SF_TYPE_ANY ? t : NULL);
                }
            for (int i = 0; i < args->nkwonly; i++) {
                const sf_type *t = args->kwonly[i].annotation ? an_resolve(a, args->kwonly[i].annotation, 0, 0) : NULL;
                an_add_param(a, ns, args->kwonly[i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
            }
            if (args->vararg) an_add_param(a, ns, args->vararg->name, NULL);
            if (args->kwarg) an_add_param(a, ns, args->kwarg->name, NULL);
        }
        nested nn = {s, ns};
        VPUSH(a->ast, a->nest, a->nnest, a->capnest, nn);
        mc->changed = 1;
    }
    mctx sub = *mc;
    sub.sc = ns;
    sub.nested = 1;
    an_enter(&sub, "inside a nested function", "perform it in the method itself");
    tss(&sub, &s->u.func.body);
    mc->changed |= sub.changed;
    mc->too_deep |= sub.too_deep;
}

static void walk_class_in_function(mctx *mc, sf_stmt *s, int depth)
{
    if (depth > A_MAX_DEPTH)
        return;
    for (int i = 0; i < s->u.cls.body.n; i++) {
        sf_stmt *b = s->u.cls.body.v[i];
        if (b->kind == SF_ST_FUNCTIONDEF || b->kind == SF_ST_ASYNCFUNCTIONDEF)
            walk_nested_def(mc, b);
        else if (b->kind == SF_ST_CLASSDEF)
            walk_class_in_function(mc, b, depth + 1);
    }
}

static void ts(mctx *mc, sf_stmt *s)
{
    actx *a = mc->a;
    if (mc->depth >= A_MAX_DEPTH) {
        if (!mc->too_deep)
            an_merr(mc, s->pos, "statement nested too deeply");
        mc->too_deep = 1;
        return;
    }
    mc->depth++;
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
        walk_nested_def(mc, s);
        break;
    case SF_ST_CLASSDEF:
        if (in_entity(mc)) {
            an_merr(mc, s->pos, "classes defined inside entity methods are not supported");
        } else {
            an_bind(mc, s->u.cls.name, NULL, NULL, HOW_ASSIGN);
            walk_class_in_function(mc, s, 0);
        }
        break;
    case SF_ST_RETURN:
        an_tx(mc, s->u.ret.value);
        break;
    case SF_ST_DELETE: {
        saved sv = an_enter(mc, "in a del statement", "compute the value into a local variable first");
        for (int i = 0; i < s->u.del.targets.n; i++)
            tdel(mc, s->u.del.targets.v[i], 0);
        an_leave(mc, sv);
        break;
    }
    case SF_ST_ASSIGN: {
        const sf_type *vt = an_tx(mc, s->u.assign.value);
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(mc, s->u.assign.value, &r, 0);
        for (int i = 0; i < s->u.assign.targets.n; i++)
            an_tstore(mc, s->u.assign.targets.v[i], vt, &r, s->u.assign.value, HOW_ASSIGN);
        break;
    }
    case SF_ST_AUGASSIGN:
        taug(mc, s);
        break;
    case SF_ST_ANNASSIGN: {
        sf_expr *t = s->u.annassign.target;
        sf_expr *v = s->u.annassign.value;
        const sf_type *vt = v ? an_tx(mc, v) : NULL;
        rootset r;
        memset(&r, 0, sizeof(r));
        if (v)
            an_roots(mc, v, &r, 0);
        if (t->kind == SF_EX_NAME) {
            if (an_is_self_name(mc, t)) {
                an_merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
                break;
            }
            const sf_type *at = an_resolve(a, s->u.annassign.annotation, mc->final && in_entity(mc), 0);
            local *l = an_bind(mc, t->u.name.id, NULL, &r, HOW_ASSIGN);
            if (at && !l->fixed) {
                l->fixed = 1;
                l->type = at;
                l->state = L_TYPED;
                mc->changed = 1;
            }
            if (v && an_is_self_name(mc, v))
                an_merr(mc, t->pos, "storing self in a local variable is not supported: use self directly");
            t->type = an_local_type(l);
        } else if (v) {
            an_tstore(mc, t, vt, &r, v, HOW_ASSIGN);
        } else if (t->kind == SF_EX_ATTR && an_is_self_name(mc, t->u.attr.value)) {
            t->u.attr.value->type = cur_ent(mc)->type; /* a declaration: nothing is written */
        } else {
            an_tx(mc, t);
        }
        break;
    }
    case SF_ST_FOR: case SF_ST_ASYNCFOR: {
        if (s->kind == SF_ST_ASYNCFOR && in_entity(mc))
            an_merr(mc, s->pos, "async for is not supported in entity methods");
        const sf_type *it = an_tx(mc, s->u.for_.iter);
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(mc, s->u.for_.iter, &r, 0);
        an_tstore(mc, s->u.for_.target, an_elem_type(a, it), &r, NULL, HOW_FOR);
        tss(mc, &s->u.for_.body);
        tss(mc, &s->u.for_.orelse);
        break;
    }
    case SF_ST_WHILE:
        an_tx(mc, s->u.while_.test);
        tss(mc, &s->u.while_.body);
        tss(mc, &s->u.while_.orelse);
        break;
    case SF_ST_IF:
        an_tx(mc, s->u.if_.test);
        tss(mc, &s->u.if_.body);
        tss(mc, &s->u.if_.orelse);
        break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH: {
        if (s->kind == SF_ST_ASYNCWITH && in_entity(mc))
            an_merr(mc, s->pos, "async with is not supported in entity methods");
        saved sv = an_enter(mc, "inside a with statement", "move it before or after the with statement");
        for (int i = 0; i < s->u.with.nitems; i++) {
            an_tx(mc, s->u.with.items[i].context);
            if (s->u.with.items[i].vars)
                an_tstore(mc, s->u.with.items[i].vars, NULL, NULL, NULL, HOW_WITH);
        }
        tss(mc, &s->u.with.body);
        an_leave(mc, sv);
        break;
    }
    case SF_ST_MATCH:
        if (in_entity(mc))
            an_merr(mc, s->pos, "match statements are not supported in entity methods");
        break;
    case SF_ST_RAISE:
        an_tx(mc, s->u.raise.exc);
        an_tx(mc, s->u.raise.cause);
        break;
    case SF_ST_TRY: case SF_ST_TRYSTAR: {
        saved sv = an_enter(mc, "inside a try statement", "move it out of the try statement");
        tss(mc, &s->u.try_.body);
        for (int i = 0; i < s->u.try_.nhandlers; i++) {
            sf_handler *h = &s->u.try_.handlers[i];
            an_tx(mc, h->type);
            if (h->name)
                an_bind(mc, h->name, NULL, NULL, HOW_ASSIGN);
            tss(mc, &h->body);
        }
        tss(mc, &s->u.try_.orelse);
        tss(mc, &s->u.try_.finalbody);
        an_leave(mc, sv);
        break;
    }
    case SF_ST_ASSERT:
        an_tx(mc, s->u.assert_.test);
        an_tx(mc, s->u.assert_.msg);
        break;
    case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
        for (int i = 0; i < s->u.import.nnames; i++) {
            const sf_alias *al = &s->u.import.names[i];
            if (strcmp(al->name, "*") == 0)
                continue;
            const char *n = al->asname ? al->asname : al->name;
            const char *dot = s->kind == SF_ST_IMPORT && !al->asname ? strchr(n, '.') : NULL;
            an_bind(mc, dot ? sf_arena_strndup(a->ast, n, (size_t)(dot - n)) : n, NULL, NULL, HOW_ASSIGN);
        }
        break;
    case SF_ST_GLOBAL:
        if (in_entity(mc))
            an_merr(mc, s->pos, "global statements are not supported in entity methods");
        break;
    case SF_ST_NONLOCAL:
        if (in_entity(mc))
            an_merr(mc, s->pos, "nonlocal statements are not supported in entity methods");
        break;
    case SF_ST_EXPR:
        an_tx(mc, s->u.expr.value);
        break;
    case SF_ST_PASS: case SF_ST_BREAK: case SF_ST_CONTINUE:
        break;
    }
    mc->depth--;
}

static void tss(mctx *mc, sf_stmt_list *l)
{
    for (int i = 0; i < l->n; i++)
        ts(mc, l->v[i]);
}

/* Type a function body to a fixpoint of its local variable types, then walk
 * it once more recording reads, writes, remote operations and errors. */
static void walk_body(mctx *mc, sf_stmt_list *body)
{
    for (int pass = 0; pass < A_MAX_PASSES; pass++) {
        mc->final = 0;
        mc->changed = 0;
        mc->too_deep = 0;
        tss(mc, body);
        if (!mc->changed)
            break;
    }
    mc->final = 1;
    mc->too_deep = 0;
    tss(mc, body);
}

void an_walk_method(actx *a, int ei, int mi)
{
    aent *en = &a->ents[ei];
    ameth *m = &en->meths[mi];
    if (!m->selfname)
        return;
    scope *sc = an_scope_new(a, NULL, SC_FUNC, 1);
    local *self = an_add_param(a, sc, m->selfname, en->type);
    self->is_self = 1;
    for (int i = 0; i < m->nparams; i++)
        an_add_param(a, sc, m->params[i].name, m->params[i].type);
    mctx mc;
    memset(&mc, 0, sizeof(mc));
    mc.a = a;
    mc.ent = ei;
    mc.meth = mi;
    mc.sc = sc;
    if (m->flags & SF_METHOD_INIT) {
        mc.where = "in __init__";
        mc.fix = "pass the value to __init__ as a parameter";
    } else if (strcmp(m->name, "__key__") == 0) {
        mc.where = "in __key__";
        mc.fix = "__key__ may only return attributes of self";
    }
    /* defaults are evaluated when the class is defined: no self, no references */
    sf_arguments *args = m->def->u.func.args;
    if (args) {
        mctx dc = mc;
        dc.sc = an_scope_new(a, NULL, SC_FUNC, 0);
        dc.ent = -1;
        dc.outside = 1;
        dc.final = 1;
        for (int i = 0; i < args->defaults.n; i++)
            an_tx(&dc, args->defaults.v[i]);
    }
    walk_body(&mc, &m->def->u.func.body);
}

/* A function outside entities: no references may be used in it. types
 * (from a call, see an_note_helper_call) type its unannotated parameters. */
static void walk_outside_function(actx *a, sf_stmt *def, const helper_call *hc)
{
    scope *sc = an_scope_new(a, NULL, SC_FUNC, 1);
    sf_arguments *args = def->u.func.args;
    if (args) {
        sf_arg *lists[2] = {args->posonly, args->args};
        int counts[2] = {args->nposonly, args->nargs};
        int pi = 0;
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < counts[k]; i++, pi++) {
                const sf_type *t = lists[k][i].annotation ? an_resolve(a, lists[k][i].annotation, 0, 0) : NULL;
                if (!lists[k][i].annotation && hc && pi < hc->ntypes)
                    t = hc->types[pi];
                an_add_param(a, sc, lists[k][i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
            }
        for (int i = 0; i < args->nkwonly; i++) {
            const sf_type *t = args->kwonly[i].annotation ? an_resolve(a, args->kwonly[i].annotation, 0, 0) : NULL;
            an_add_param(a, sc, args->kwonly[i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
        }
        if (args->vararg) an_add_param(a, sc, args->vararg->name, NULL);
        if (args->kwarg) an_add_param(a, sc, args->kwarg->name, NULL);
    }
    mctx mc;
    memset(&mc, 0, sizeof(mc));
    mc.a = a;
    mc.ent = -1;
    mc.meth = -1;
    mc.sc = sc;
    mc.outside = 1;
    if (hc) {
        mc.where = sf_arena_printf(a->ast, "in function '%s' (given a reference at line %d)",
                                   def->u.func.name, hc->line);
        mc.fix = "only methods of entities can use references: make it a method of the entity, or pass "
                 "it the values it needs instead of the reference";
    } else {
        mc.where = "outside an entity method";
        mc.fix = "only methods of entities can use references";
    }
    walk_body(&mc, &def->u.func.body);
}

/* A call of a module-level function: when a reference goes to one of its
 * unannotated parameters, the function is walked again with that type, so
 * that what it does with the reference is checked (once per function). */
void an_note_helper_call(mctx *mc, const char *name, sf_expr *call)
{
    actx *a = mc->a;
    if (!mc->final)
        return;
    int m = an_find_mod(a, name);
    sf_stmt *def = m >= 0 ? a->mods[m].def : NULL;
    if (!def || def->kind != SF_ST_FUNCTIONDEF || !def->u.func.args)
        return;
    for (int i = 0; i < a->nhelpers; i++)
        if (a->helpers[i].def == def)
            return;
    sf_arguments *args = def->u.func.args;
    int np = args->nposonly + args->nargs;
    if (np == 0)
        return;
    const sf_type **types = sf_arena_alloc(a->ast, (size_t)np * sizeof(*types));
    int any = 0;
    for (int i = 0; i < np; i++) {
        sf_arg *ar = i < args->nposonly ? &args->posonly[i] : &args->args[i - args->nposonly];
        const sf_expr *x = NULL;
        if (i < call->u.call.args.n) {
            for (int k = 0; k <= i; k++)
                if (call->u.call.args.v[k]->kind == SF_EX_STARRED)
                    goto next;
            x = call->u.call.args.v[i];
        } else {
            for (int k = 0; k < call->u.call.nkw; k++)
                if (call->u.call.kw[k].arg && strcmp(call->u.call.kw[k].arg, ar->name) == 0)
                    x = call->u.call.kw[k].value;
        }
        if (x && !ar->annotation && an_mentions_entity(x->type, 0)) {
            types[i] = x->type;
            any = 1;
        }
    next:;
    }
    if (!any)
        return;
    helper_call hc = {def, types, np, call->pos.line};
    VPUSH(a->ast, a->helpers, a->nhelpers, a->caphelpers, hc);
}

void an_walk_helpers(actx *a)
{
    for (int i = 0; i < a->nhelpers; i++) {
        helper_call hc = a->helpers[i]; /* the array may grow meanwhile */
        walk_outside_function(a, hc.def, &hc);
    }
}

void an_walk_outside(actx *a, const sf_stmt_list *body, int depth)
{
    if (depth > A_MAX_MODULE_DEPTH)
        return;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
            walk_outside_function(a, s, NULL);
            break;
        case SF_ST_CLASSDEF: {
            int ent = depth == 0 && an_find_ent(a, s->u.cls.name) >= 0 &&
                      a->ents[an_find_ent(a, s->u.cls.name)].cls == s;
            if (!ent)
                an_walk_outside(a, &s->u.cls.body, depth + 1);
            break;
        }
        case SF_ST_IF:
            an_walk_outside(a, &s->u.if_.body, depth + 1);
            an_walk_outside(a, &s->u.if_.orelse, depth + 1);
            break;
        case SF_ST_TRY: case SF_ST_TRYSTAR:
            an_walk_outside(a, &s->u.try_.body, depth + 1);
            for (int k = 0; k < s->u.try_.nhandlers; k++)
                an_walk_outside(a, &s->u.try_.handlers[k].body, depth + 1);
            an_walk_outside(a, &s->u.try_.orelse, depth + 1);
            an_walk_outside(a, &s->u.try_.finalbody, depth + 1);
            break;
        default:
            break;
        }
    }
}
