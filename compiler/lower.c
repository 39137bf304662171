/* lower.c: comprehensions and generator expressions with remote operations
 * as loops (see lower.h).
 *
 * Owns: recognising what is rewritten (comprehensions, and the builtins
 * consuming a generator expression), renaming a comprehension's loop
 * variables to hidden locals (respecting the scopes of nested lambdas and
 * comprehensions), and building the loops with what each builtin does per
 * element, as CPython's bltinmodule.c does it:
 *   [E ...]        r = [];       r.append(E)
 *   {E ...}        r = {*()};    r.add(E)
 *   {K: V ...}     r = {};       k = K; r[k] = V      (key first, as Python 3.8+)
 *   sum(G, S)      r = sum((), S) (its check of S, and S), then r = r + E
 *   any(G)/all(G)  r = False/True; if E / if not E: r = ...; break (and
 *                  every outer loop breaks when r is decided)
 *   min/max(G, key=, default=)  the first element, then `v < best` /
 *                  `v > best`; empty: default, else min(())/max(()) raises
 *                  Python's own ValueError
 *   list, tuple, sorted, frozenset, str.join: the builtin applied to the
 *                  list (or set) of the elements: these builtins
 *                  materialise their argument before looking at it
 *   dict(G)        r.update() with each pair as it comes; when that fails,
 *                  dict() of the pairs so far raises Python's own error
 * The other arguments are evaluated after the first iterable, in source
 * order, as Python does; they must not hold remote operations.
 */
#include "lower.h"

#include <string.h>

typedef struct lw {
    const sf_lower_env *env;
    sf_arena *a;
    sf_pos pos;
} lw;

/* ---- AST makers ----------------------------------------------------------- */

static sf_expr *name(lw *w, const char *id) { return sf_expr_name(w->a, id, w->pos); }

static sf_expr *bool_const(lw *w, int v)
{
    sf_expr *e = sf_expr_new(w->a, SF_EX_CONST, w->pos);
    e->u.constant.kind = SF_CONST_BOOL;
    e->u.constant.repr = v ? "True" : "False";
    return e;
}

static sf_expr *call(lw *w, sf_expr *func, sf_expr *arg0, sf_expr *arg1)
{
    sf_expr *c = sf_expr_new(w->a, SF_EX_CALL, w->pos);
    c->u.call.func = func;
    if (arg0)
        sf_expr_list_push(w->a, &c->u.call.args, arg0);
    if (arg1)
        sf_expr_list_push(w->a, &c->u.call.args, arg1);
    return c;
}

static sf_expr *attr(lw *w, sf_expr *value, const char *a)
{
    sf_expr *e = sf_expr_new(w->a, SF_EX_ATTR, w->pos);
    e->u.attr.value = value;
    e->u.attr.attr = a;
    return e;
}

static sf_expr *not_(lw *w, sf_expr *x)
{
    sf_expr *e = sf_expr_new(w->a, SF_EX_UNARYOP, w->pos);
    e->u.unaryop.op = SF_OP_NOT;
    e->u.unaryop.operand = x;
    return e;
}

static sf_expr *compare(lw *w, sf_expr *l, sf_op op, sf_expr *r)
{
    sf_expr *e = sf_expr_new(w->a, SF_EX_COMPARE, w->pos);
    e->u.compare.left = l;
    e->u.compare.ops = sf_arena_alloc(w->a, sizeof(sf_op));
    e->u.compare.ops[0] = op;
    sf_expr_list_push(w->a, &e->u.compare.comparators, r);
    return e;
}

static sf_stmt *assign(lw *w, sf_expr *target, sf_expr *value)
{
    sf_stmt *s = sf_stmt_new(w->a, SF_ST_ASSIGN, w->pos);
    sf_expr_list_push(w->a, &s->u.assign.targets, target);
    s->u.assign.value = value;
    return s;
}

static sf_stmt *expr_stmt(lw *w, sf_expr *value)
{
    sf_stmt *s = sf_stmt_new(w->a, SF_ST_EXPR, w->pos);
    s->u.expr.value = value;
    return s;
}

static sf_stmt *if_(lw *w, sf_expr *test, sf_stmt_list body, sf_stmt_list orelse)
{
    sf_stmt *s = sf_stmt_new(w->a, SF_ST_IF, w->pos);
    s->u.if_.test = test;
    s->u.if_.body = body;
    s->u.if_.orelse = orelse;
    return s;
}

static sf_stmt_list one(lw *w, sf_stmt *s)
{
    sf_stmt_list l = {0};
    sf_stmt_list_push(w->a, &l, s);
    return l;
}

static sf_stmt_list two(lw *w, sf_stmt *s, sf_stmt *t)
{
    sf_stmt_list l = one(w, s);
    sf_stmt_list_push(w->a, &l, t);
    return l;
}

static sf_stmt *break_(lw *w) { return sf_stmt_new(w->a, SF_ST_BREAK, w->pos); }

static const char *fresh(lw *w, const char *prefix) { return w->env->fresh(w->env->ctx, prefix); }

/* A copy of a pure expression (see pure()), for a second use. */
static sf_expr *copy_pure(lw *w, const sf_expr *e)
{
    sf_expr *c = sf_expr_new(w->a, e->kind, e->pos);
    *c = *e;
    if (e->kind == SF_EX_ATTR)
        c->u.attr.value = copy_pure(w, e->u.attr.value);
    else if (e->kind == SF_EX_UNARYOP)
        c->u.unaryop.operand = copy_pure(w, e->u.unaryop.operand);
    return c;
}

/* Evaluating it again later gives the same value and cannot fail or change
 * anything: constants, names, attributes of names, -1, lambdas without
 * default values. */
static int pure(const sf_expr *e)
{
    switch (e->kind) {
    case SF_EX_CONST: case SF_EX_NAME: return 1;
    case SF_EX_ATTR: return e->u.attr.value->kind == SF_EX_NAME || pure(e->u.attr.value);
    case SF_EX_UNARYOP: return e->u.unaryop.operand->kind == SF_EX_CONST;
    case SF_EX_LAMBDA: {
        const sf_arguments *a = e->u.lambda.args;
        if (!a || a->defaults.n > 0)
            return !a;
        for (int i = 0; i < a->nkwonly; i++)
            if (a->kw_defaults && a->kw_defaults[i])
                return 0;
        return 1;
    }
    default: return 0;
    }
}

/* ---- renaming the loop variables ------------------------------------------ */

typedef struct rmap { const char **from, **to; int n; } rmap;

static const char *rmap_get(const rmap *m, const char *id)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->from[i], id) == 0)
            return m->to[i];
    return NULL;
}

/* Names a target binds (x, (k, v), [a, *rest]). */
typedef struct names { const char **v; int n, cap; } names;

static void names_push(lw *w, names *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        s->v = sf_arena_grow(w->a, s->v, (size_t)s->cap, (size_t)cap, sizeof(*s->v));
        s->cap = cap;
    }
    s->v[s->n++] = id;
}

static void target_names(lw *w, const sf_expr *t, names *s)
{
    if (!t)
        return;
    switch (t->kind) {
    case SF_EX_NAME: names_push(w, s, t->u.name.id); break;
    case SF_EX_TUPLE: case SF_EX_LIST:
        for (int i = 0; i < t->u.seq.elts.n; i++)
            target_names(w, t->u.seq.elts.v[i], s);
        break;
    case SF_EX_STARRED: target_names(w, t->u.starred.value, s); break;
    default: break;
    }
}

/* m without the names in s (they are rebound in a nested scope). */
static rmap rmap_without(lw *w, const rmap *m, const names *s)
{
    rmap r = {sf_arena_alloc(w->a, sizeof(char *) * (size_t)(m->n + 1)),
              sf_arena_alloc(w->a, sizeof(char *) * (size_t)(m->n + 1)), 0};
    for (int i = 0; i < m->n; i++) {
        int shadowed = 0;
        for (int k = 0; k < s->n && !shadowed; k++)
            shadowed = strcmp(s->v[k], m->from[i]) == 0;
        if (!shadowed) {
            r.from[r.n] = m->from[i];
            r.to[r.n++] = m->to[i];
        }
    }
    return r;
}

static void rn(lw *w, sf_expr *e, const rmap *m);

static void rn_list(lw *w, sf_expr_list *l, const rmap *m)
{
    for (int i = 0; i < l->n; i++)
        rn(w, l->v[i], m);
}

static void rn_args(lw *w, sf_arguments *a, const rmap *m)
{
    if (!a)
        return;
    rn_list(w, &a->defaults, m);
    for (int i = 0; i < a->nkwonly; i++)
        if (a->kw_defaults)
            rn(w, a->kw_defaults[i], m);
}

/* The parts of comprehension e in its own scope (all but the first
 * iterable), with m less the names it binds itself. */
static void rn_comp_scope(lw *w, sf_expr *e, const rmap *m)
{
    names bound = {0};
    for (int g = 0; g < e->u.comp.ngens; g++)
        target_names(w, e->u.comp.gens[g].target, &bound);
    rmap inner = rmap_without(w, m, &bound);
    for (int g = 0; g < e->u.comp.ngens; g++) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        rn(w, gen->target, &inner);
        if (g > 0)
            rn(w, gen->iter, &inner);
        rn_list(w, &gen->ifs, &inner);
    }
    rn(w, e->u.comp.elt, &inner);
    rn(w, e->u.comp.value, &inner);
}

static void rn(lw *w, sf_expr *e, const rmap *m)
{
    if (!e || m->n == 0)
        return;
    switch (e->kind) {
    case SF_EX_NAME: {
        const char *to = rmap_get(m, e->u.name.id);
        if (to)
            e->u.name.id = to;
        break;
    }
    case SF_EX_CONST: break;
    case SF_EX_ATTR: rn(w, e->u.attr.value, m); break;
    case SF_EX_CALL:
        rn(w, e->u.call.func, m);
        rn_list(w, &e->u.call.args, m);
        for (int i = 0; i < e->u.call.nkw; i++)
            rn(w, e->u.call.kw[i].value, m);
        break;
    case SF_EX_BINOP: rn(w, e->u.binop.left, m); rn(w, e->u.binop.right, m); break;
    case SF_EX_UNARYOP: rn(w, e->u.unaryop.operand, m); break;
    case SF_EX_BOOLOP: rn_list(w, &e->u.boolop.values, m); break;
    case SF_EX_COMPARE:
        rn(w, e->u.compare.left, m);
        rn_list(w, &e->u.compare.comparators, m);
        break;
    case SF_EX_IFEXP:
        rn(w, e->u.ifexp.test, m);
        rn(w, e->u.ifexp.body, m);
        rn(w, e->u.ifexp.orelse, m);
        break;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET: rn_list(w, &e->u.seq.elts, m); break;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n; i++) {
            rn(w, e->u.dict.keys[i], m);
            rn(w, e->u.dict.values[i], m);
        }
        break;
    case SF_EX_SUBSCRIPT: rn(w, e->u.subscript.value, m); rn(w, e->u.subscript.slice, m); break;
    case SF_EX_SLICE:
        rn(w, e->u.slice.lower, m);
        rn(w, e->u.slice.upper, m);
        rn(w, e->u.slice.step, m);
        break;
    case SF_EX_LAMBDA: {
        sf_arguments *a = e->u.lambda.args;
        rn_args(w, a, m);
        names params = {0};
        if (a) {
            for (int i = 0; i < a->nposonly; i++) names_push(w, &params, a->posonly[i].name);
            for (int i = 0; i < a->nargs; i++) names_push(w, &params, a->args[i].name);
            for (int i = 0; i < a->nkwonly; i++) names_push(w, &params, a->kwonly[i].name);
            if (a->vararg) names_push(w, &params, a->vararg->name);
            if (a->kwarg) names_push(w, &params, a->kwarg->name);
        }
        rmap inner = rmap_without(w, m, &params);
        rn(w, e->u.lambda.body, &inner);
        break;
    }
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_DICTCOMP: case SF_EX_GENEXP:
        if (e->u.comp.ngens > 0)
            rn(w, e->u.comp.gens[0].iter, m);
        rn_comp_scope(w, e, m);
        break;
    case SF_EX_JOINEDSTR: rn_list(w, &e->u.joinedstr.values, m); break;
    case SF_EX_FORMATTED:
        rn(w, e->u.formatted.value, m);
        rn(w, e->u.formatted.format_spec, m);
        break;
    case SF_EX_STARRED: case SF_EX_AWAIT: case SF_EX_YIELD: case SF_EX_YIELDFROM:
        rn(w, e->u.starred.value, m);
        break;
    case SF_EX_NAMEDEXPR:
        rn(w, e->u.namedexpr.target, m);
        rn(w, e->u.namedexpr.value, m);
        break;
    }
}

/* Give the loop variables of comprehension e hidden names. */
static void hide_loop_vars(lw *w, sf_expr *e)
{
    names bound = {0};
    for (int g = 0; g < e->u.comp.ngens; g++)
        target_names(w, e->u.comp.gens[g].target, &bound);
    rmap m = {sf_arena_alloc(w->a, sizeof(char *) * (size_t)(bound.n + 1)),
              sf_arena_alloc(w->a, sizeof(char *) * (size_t)(bound.n + 1)), bound.n};
    for (int i = 0; i < bound.n; i++) {
        m.from[i] = bound.v[i];
        m.to[i] = fresh(w, sf_arena_printf(w->a, "%s_", bound.v[i]));
    }
    /* the comprehension binds them in every part but the first iterable */
    for (int g = 0; g < e->u.comp.ngens; g++) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        rn(w, gen->target, &m);
        if (g > 0)
            rn(w, gen->iter, &m);
        rn_list(w, &gen->ifs, &m);
    }
    rn(w, e->u.comp.elt, &m);
    rn(w, e->u.comp.value, &m);
}

/* ---- loops ---------------------------------------------------------------- */

/* A statement run after each inner loop (any/all: stop the outer ones). */
typedef sf_stmt *(*after_fn)(lw *w, const char *r);

/* for T0 in iter0: if C..: for T1 in I1: ... inner */
static sf_stmt_list loops(lw *w, sf_expr *e, sf_expr *iter0, sf_stmt_list inner, after_fn after, const char *r)
{
    sf_stmt_list body = inner;
    for (int g = e->u.comp.ngens - 1; g >= 0; g--) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        for (int i = gen->ifs.n - 1; i >= 0; i--) {
            sf_stmt_list none = {0};
            body = one(w, if_(w, gen->ifs.v[i], body, none));
        }
        sf_stmt *f = sf_stmt_new(w->a, SF_ST_FOR, w->pos);
        f->u.for_.target = gen->target;
        f->u.for_.iter = g == 0 ? iter0 : gen->iter;
        f->u.for_.body = body;
        body = g > 0 && after ? two(w, f, after(w, r)) : one(w, f);
    }
    return body;
}

static sf_stmt *after_any(lw *w, const char *r)
{
    sf_stmt_list none = {0};
    return if_(w, name(w, r), one(w, break_(w)), none);
}

static sf_stmt *after_all(lw *w, const char *r)
{
    sf_stmt_list none = {0};
    return if_(w, not_(w, name(w, r)), one(w, break_(w)), none);
}

/* ---- what is rewritten ---------------------------------------------------- */

static int is_comp(const sf_expr *e)
{
    return e->kind == SF_EX_LISTCOMP || e->kind == SF_EX_SETCOMP || e->kind == SF_EX_DICTCOMP ||
           e->kind == SF_EX_GENEXP;
}

static int remote(lw *w, sf_expr *e) { return e && w->env->has_remote(w->env->ctx, e); }

/* A remote operation anywhere but in the first iterable. */
static int remote_inside(lw *w, sf_expr *e)
{
    for (int g = 0; g < e->u.comp.ngens; g++) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        if (remote(w, gen->target) || (g > 0 && remote(w, gen->iter)))
            return 1;
        for (int i = 0; i < gen->ifs.n; i++)
            if (remote(w, gen->ifs.v[i]))
                return 1;
    }
    return remote(w, e->u.comp.elt) || remote(w, e->u.comp.value);
}

static int module_binds(const sf_module *mod, const char *id)
{
    if (!mod)
        return 0;
    for (int i = 0; i < mod->body.n; i++) {
        const sf_stmt *s = mod->body.v[i];
        switch (s->kind) {
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
            if (strcmp(s->u.func.name, id) == 0) return 1;
            break;
        case SF_ST_CLASSDEF:
            if (strcmp(s->u.cls.name, id) == 0) return 1;
            break;
        case SF_ST_ASSIGN:
            for (int k = 0; k < s->u.assign.targets.n; k++) {
                const sf_expr *t = s->u.assign.targets.v[k];
                if (t->kind == SF_EX_NAME && strcmp(t->u.name.id, id) == 0) return 1;
                if (t->kind == SF_EX_TUPLE || t->kind == SF_EX_LIST)
                    for (int j = 0; j < t->u.seq.elts.n; j++)
                        if (t->u.seq.elts.v[j]->kind == SF_EX_NAME &&
                            strcmp(t->u.seq.elts.v[j]->u.name.id, id) == 0)
                            return 1;
            }
            break;
        case SF_ST_ANNASSIGN:
            if (s->u.annassign.target->kind == SF_EX_NAME && strcmp(s->u.annassign.target->u.name.id, id) == 0)
                return 1;
            break;
        case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
            for (int k = 0; k < s->u.import.nnames; k++) {
                const sf_alias *al = &s->u.import.names[k];
                const char *n = al->asname ? al->asname : al->name;
                size_t len = strcspn(n, ".");
                if (strlen(id) == len && strncmp(n, id, len) == 0) return 1;
            }
            break;
        default: break;
        }
    }
    return 0;
}

enum { B_LIST, B_TUPLE, B_SORTED, B_DICT, B_SET, B_FROZENSET, B_SUM, B_ANY, B_ALL, B_MIN, B_MAX, B_JOIN };

static const struct { const char *name; int kind; } consumers[] = {
    {"list", B_LIST}, {"tuple", B_TUPLE}, {"sorted", B_SORTED}, {"dict", B_DICT}, {"set", B_SET},
    {"frozenset", B_FROZENSET}, {"sum", B_SUM}, {"any", B_ANY}, {"all", B_ALL}, {"min", B_MIN},
    {"max", B_MAX},
};

static const char *const GENEXP_HELP =
    "a generator expression with remote operations is supported only as the argument of sum(), "
    "min(), max(), any(), all(), sorted(), list(), tuple(), set(), frozenset(), dict() or str.join(): "
    "write a list comprehension [...] instead";

/* An error at pos; every %s in msg is fname. */
static int err(lw *w, sf_pos pos, const char *msg, const char *fname)
{
    char buf[1024];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof(buf); p++) {
        if (fname && p[0] == '%' && p[1] == 's') {
            for (const char *q = fname; *q && n + 1 < sizeof(buf); q++)
                buf[n++] = *q;
            p++;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    sf_diag_error(w->env->d, pos.line, pos.col, "%s", buf);
    return -1;
}

/* The first iterable computed into a hidden local now, before the other
 * arguments (unless it is a name or a constant). */
static sf_expr *first_iter_now(lw *w, sf_expr *g, sf_stmt_list *out)
{
    sf_expr *it = g->u.comp.gens[0].iter;
    if (it->kind == SF_EX_NAME || it->kind == SF_EX_CONST)
        return it;
    const char *t = fresh(w, "t");
    sf_stmt_list_push(w->a, out, assign(w, name(w, t), it));
    return name(w, t);
}

/* A lambda that becomes (part of) the value the comprehension collects: it
 * would outlive its iteration, where Python's closure sees the loop
 * variable's later values and the lowered one cannot (and a function
 * cannot travel in a frame). Lambdas passed to a call are consumed there. */
static const sf_expr *kept_lambda(const sf_expr *e, int depth)
{
    if (!e || depth > 64)
        return NULL;
    const sf_expr *l = NULL;
    switch (e->kind) {
    case SF_EX_LAMBDA: return e;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET:
        for (int i = 0; i < e->u.seq.elts.n && !l; i++)
            l = kept_lambda(e->u.seq.elts.v[i], depth + 1);
        return l;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n && !l; i++)
            l = kept_lambda(e->u.dict.values[i], depth + 1);
        return l;
    case SF_EX_IFEXP:
        l = kept_lambda(e->u.ifexp.body, depth + 1);
        return l ? l : kept_lambda(e->u.ifexp.orelse, depth + 1);
    case SF_EX_BOOLOP:
        for (int i = 0; i < e->u.boolop.values.n && !l; i++)
            l = kept_lambda(e->u.boolop.values.v[i], depth + 1);
        return l;
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_GENEXP:
        return kept_lambda(e->u.comp.elt, depth + 1);
    case SF_EX_DICTCOMP: return kept_lambda(e->u.comp.value, depth + 1);
    case SF_EX_NAMEDEXPR: return kept_lambda(e->u.namedexpr.value, depth + 1);
    case SF_EX_STARRED: return kept_lambda(e->u.starred.value, depth + 1);
    default: return NULL;
    }
}

static int lambda_kept(lw *w, const sf_expr *comp)
{
    const sf_expr *l = kept_lambda(comp->kind == SF_EX_DICTCOMP ? comp->u.comp.value : comp->u.comp.elt, 0);
    if (!l)
        return 0;
    return err(w, l->pos, "a lambda collected by a comprehension with remote operations is not supported (it "
                          "would not see the loop variables as Python's closure does): collect the values "
                          "and make the functions after the comprehension", NULL);
}

/* ---- comprehensions ------------------------------------------------------- */

static int lower_comp(lw *w, sf_expr *e, sf_stmt_list *out, sf_expr **result)
{
    sf_expr *iter0 = e->u.comp.gens[0].iter;
    hide_loop_vars(w, e);
    const char *r = fresh(w, "c");
    sf_stmt_list inner = {0};
    if (e->kind == SF_EX_LISTCOMP) {
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), sf_expr_new(w->a, SF_EX_LIST, w->pos)));
        sf_stmt_list_push(w->a, &inner, expr_stmt(w, call(w, attr(w, name(w, r), "append"), e->u.comp.elt, NULL)));
    } else if (e->kind == SF_EX_SETCOMP) {
        /* {*()}: an empty set without looking up the name `set` */
        sf_expr *st = sf_expr_new(w->a, SF_EX_STARRED, w->pos);
        st->u.starred.value = sf_expr_new(w->a, SF_EX_TUPLE, w->pos);
        sf_expr *s = sf_expr_new(w->a, SF_EX_SET, w->pos);
        sf_expr_list_push(w->a, &s->u.seq.elts, st);
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), s));
        sf_stmt_list_push(w->a, &inner, expr_stmt(w, call(w, attr(w, name(w, r), "add"), e->u.comp.elt, NULL)));
    } else {
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), sf_expr_new(w->a, SF_EX_DICT, w->pos)));
        sf_expr *k = e->u.comp.elt;
        if (k->kind != SF_EX_NAME && k->kind != SF_EX_CONST) {
            /* `d[k] = v` evaluates v first; the comprehension evaluates k first */
            const char *kt = fresh(w, "k");
            sf_stmt_list_push(w->a, &inner, assign(w, name(w, kt), k));
            k = name(w, kt);
        }
        sf_expr *sub = sf_expr_new(w->a, SF_EX_SUBSCRIPT, w->pos);
        sub->u.subscript.value = name(w, r);
        sub->u.subscript.slice = k;
        sf_stmt_list_push(w->a, &inner, assign(w, sub, e->u.comp.value));
    }
    sf_stmt_list l = loops(w, e, iter0, inner, NULL, NULL);
    for (int i = 0; i < l.n; i++)
        sf_stmt_list_push(w->a, out, l.v[i]);
    *result = name(w, r);
    return 1;
}

/* ---- builtins over a generator expression --------------------------------- */

typedef struct extra { const char *kw; sf_expr *value; sf_pos pos; } extra;

static int lower_consumer(lw *w, sf_expr *e, int kind, const char *fname, sf_stmt_list *out, sf_expr **result)
{
    sf_expr *g = e->u.call.args.v[0];
    int npos = e->u.call.args.n;
    /* which other arguments this builtin takes (Python's TypeErrors for the
     * rest would come at run time: a compile error says what to write) */
    extra ex[3];
    int nex = 0;
    sf_expr *key = NULL, *dflt = NULL, *start = NULL, *reverse = NULL;
    if (npos > (kind == B_SUM ? 2 : 1) || e->u.call.nkw > 2)
        return err(w, e->pos, kind == B_MIN || kind == B_MAX
                                  ? "%s() of a generator expression with remote operations takes no other "
                                    "positional argument: use key= and default=, or a list comprehension"
                                  : "%s() of a generator expression with remote operations: too many "
                                    "arguments for this rewrite; compute a list comprehension first",
                   fname);
    if (npos == 2) {
        start = e->u.call.args.v[1];
        ex[nex++] = (extra){"start", start, start->pos};
    }
    for (int k = 0; k < e->u.call.nkw; k++) {
        const sf_keyword *kw = &e->u.call.kw[k];
        const char *n = kw->arg ? kw->arg : "";
        int ok = 0;
        if (kind == B_SUM && strcmp(n, "start") == 0 && !start)
            ok = 1, start = kw->value;
        else if ((kind == B_MIN || kind == B_MAX || kind == B_SORTED) && strcmp(n, "key") == 0 && !key)
            ok = 1, key = kw->value;
        else if ((kind == B_MIN || kind == B_MAX) && strcmp(n, "default") == 0 && !dflt)
            ok = 1, dflt = kw->value;
        else if (kind == B_SORTED && strcmp(n, "reverse") == 0 && !reverse)
            ok = 1, reverse = kw->value;
        if (!ok) {
            sf_diag_error(w->env->d, kw->pos.line, kw->pos.col,
                          "%s() of a generator expression with remote operations does not take %s%s%s "
                          "here: compute a list comprehension first",
                          fname, kw->arg ? "the keyword argument '" : "**", kw->arg ? kw->arg : "arguments",
                          kw->arg ? "'" : "");
            return -1;
        }
        if (nex < 3)
            ex[nex++] = (extra){n, kw->value, kw->pos};
    }
    for (int i = 0; i < nex; i++)
        if (remote(w, ex[i].value)) {
            sf_diag_error(w->env->d, ex[i].pos.line, ex[i].pos.col,
                          "a remote operation in the %s argument of %s() over a generator expression with "
                          "remote operations is not supported: compute it into a variable before this line",
                          ex[i].kw, fname);
            return -1;
        }
    if (key && !pure(key))
        return err(w, key->pos, "the key= of %s() over a generator expression with remote operations must be a "
                                "name, an attribute or a lambda without default values: compute the "
                                "elements into a list comprehension first and call %s on it",
                   fname);
    if (key && key->kind == SF_EX_CONST && key->u.constant.kind == SF_CONST_NONE)
        key = NULL;

    /* str.join: the separator is evaluated before the generator */
    sf_expr *sep = NULL;
    if (kind == B_JOIN) {
        sep = e->u.call.func->u.attr.value;
        if (sep->kind != SF_EX_NAME && sep->kind != SF_EX_CONST) {
            const char *t = fresh(w, "t");
            sf_stmt_list_push(w->a, out, assign(w, name(w, t), sep));
            sep = name(w, t);
        }
    }
    /* the first iterable, then the other arguments in source order */
    sf_expr *iter0 = g->u.comp.gens[0].iter;
    int later = 0;
    for (int i = 0; i < nex; i++)
        later |= ex[i].value->kind != SF_EX_CONST;
    if (later)
        iter0 = first_iter_now(w, g, out);
    if (key && key->kind != SF_EX_LAMBDA)
        sf_stmt_list_push(w->a, out, expr_stmt(w, copy_pure(w, key))); /* looked up once, as Python does */
    if (start && !pure(start)) {
        const char *t = fresh(w, "t");
        sf_stmt_list_push(w->a, out, assign(w, name(w, t), start));
        start = name(w, t);
    }
    if (dflt && !pure(dflt)) {
        const char *t = fresh(w, "t");
        sf_stmt_list_push(w->a, out, assign(w, name(w, t), dflt));
        dflt = name(w, t);
    }
    if (reverse && !pure(reverse)) {
        const char *t = fresh(w, "t");
        sf_stmt_list_push(w->a, out, assign(w, name(w, t), reverse));
        reverse = name(w, t);
    }

    hide_loop_vars(w, g);
    sf_expr *el = g->u.comp.elt;
    const char *r = fresh(w, "c");
    sf_stmt_list inner = {0}, post = {0}, none = {0};
    after_fn after = NULL;
    switch (kind) {
    case B_DICT: {
        /* dict() takes each pair as it comes: r.update() per element, and
         * when it fails, dict() of all the elements so far raises Python's
         * own error numbered as that element */
        const char *l = fresh(w, "l");
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), sf_expr_new(w->a, SF_EX_DICT, w->pos)));
        sf_stmt_list_push(w->a, out, assign(w, name(w, l), sf_expr_new(w->a, SF_EX_LIST, w->pos)));
        sf_stmt_list_push(w->a, &inner, expr_stmt(w, call(w, attr(w, name(w, l), "append"), el, NULL)));
        sf_expr *last = sf_expr_new(w->a, SF_EX_SUBSCRIPT, w->pos);
        last->u.subscript.value = name(w, l);
        last->u.subscript.slice = sf_expr_new(w->a, SF_EX_SLICE, w->pos);
        last->u.subscript.slice->u.slice.lower = sf_expr_int(w->a, -1, w->pos);
        sf_stmt *t = sf_stmt_new(w->a, SF_ST_TRY, w->pos);
        t->u.try_.body = one(w, expr_stmt(w, call(w, attr(w, name(w, r), "update"), last, NULL)));
        t->u.try_.handlers = sf_arena_alloc(w->a, sizeof(sf_handler));
        t->u.try_.nhandlers = 1;
        t->u.try_.handlers[0].type = name(w, "Exception");
        t->u.try_.handlers[0].pos = w->pos;
        t->u.try_.handlers[0].body = two(w, expr_stmt(w, call(w, name(w, "dict"), name(w, l), NULL)),
                                         sf_stmt_new(w->a, SF_ST_RAISE, w->pos));
        sf_stmt_list_push(w->a, &inner, t);
        break;
    }
    case B_LIST: case B_TUPLE: case B_SORTED: case B_JOIN:
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), sf_expr_new(w->a, SF_EX_LIST, w->pos)));
        sf_stmt_list_push(w->a, &inner, expr_stmt(w, call(w, attr(w, name(w, r), "append"), el, NULL)));
        if (kind == B_TUPLE)
            sf_stmt_list_push(w->a, &post, assign(w, name(w, r), call(w, name(w, fname), name(w, r), NULL)));
        else if (kind == B_JOIN)
            sf_stmt_list_push(w->a, &post, assign(w, name(w, r), call(w, attr(w, sep, "join"), name(w, r), NULL)));
        else if (kind == B_SORTED) {
            sf_expr *c = call(w, name(w, "sorted"), name(w, r), NULL);
            c->u.call.nkw = e->u.call.nkw;
            c->u.call.kw = sf_arena_alloc(w->a, sizeof(sf_keyword) * (size_t)(e->u.call.nkw + 1));
            for (int k = 0; k < e->u.call.nkw; k++) {
                c->u.call.kw[k] = e->u.call.kw[k];
                c->u.call.kw[k].value = strcmp(e->u.call.kw[k].arg, "key") == 0
                                            ? (key ? key : sf_expr_none(w->a, w->pos)) : reverse;
            }
            sf_stmt_list_push(w->a, &post, assign(w, name(w, r), c));
        }
        break;
    case B_SET: case B_FROZENSET: {
        sf_expr *st = sf_expr_new(w->a, SF_EX_STARRED, w->pos);
        st->u.starred.value = sf_expr_new(w->a, SF_EX_TUPLE, w->pos);
        sf_expr *s = sf_expr_new(w->a, SF_EX_SET, w->pos);
        sf_expr_list_push(w->a, &s->u.seq.elts, st);
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), s));
        sf_stmt_list_push(w->a, &inner, expr_stmt(w, call(w, attr(w, name(w, r), "add"), el, NULL)));
        if (kind == B_FROZENSET)
            sf_stmt_list_push(w->a, &post, assign(w, name(w, r), call(w, name(w, fname), name(w, r), NULL)));
        break;
    }
    case B_SUM: {
        /* sum((), start) is start after sum's own check of it (no str, bytes) */
        sf_expr *init = start ? call(w, name(w, "sum"), sf_expr_new(w->a, SF_EX_TUPLE, w->pos), start)
                              : sf_expr_int(w->a, 0, w->pos);
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), init));
        sf_expr *add = sf_expr_new(w->a, SF_EX_BINOP, w->pos);
        add->u.binop.left = name(w, r);
        add->u.binop.op = SF_OP_ADD;
        add->u.binop.right = el;
        sf_stmt_list_push(w->a, &inner, assign(w, name(w, r), add));
        break;
    }
    case B_ANY: case B_ALL: {
        int is_any = kind == B_ANY;
        sf_stmt_list_push(w->a, out, assign(w, name(w, r), bool_const(w, !is_any)));
        sf_stmt_list hit = two(w, assign(w, name(w, r), bool_const(w, is_any)), break_(w));
        sf_stmt_list_push(w->a, &inner, if_(w, is_any ? el : not_(w, el), hit, none));
        after = is_any ? after_any : after_all;
        break;
    }
    case B_MIN: case B_MAX: {
        const char *have = fresh(w, "h"), *x = fresh(w, "x");
        const char *v = key ? fresh(w, "v") : x, *rv = key ? fresh(w, "b") : r;
        sf_stmt_list_push(w->a, out, assign(w, name(w, have), bool_const(w, 0)));
        sf_stmt_list_push(w->a, &inner, assign(w, name(w, x), el));
        if (key) {
            sf_expr *kv;
            if (key->kind == SF_EX_LAMBDA) {
                kv = call(w, key, name(w, x), NULL);
            } else {
                /* a name may hold None at run time: no key, as in Python */
                kv = sf_expr_new(w->a, SF_EX_IFEXP, w->pos);
                kv->u.ifexp.test = compare(w, copy_pure(w, key), SF_OP_IS, sf_expr_none(w->a, w->pos));
                kv->u.ifexp.body = name(w, x);
                kv->u.ifexp.orelse = call(w, key, name(w, x), NULL);
            }
            sf_stmt_list_push(w->a, &inner, assign(w, name(w, v), kv));
        }
        sf_stmt_list take = one(w, assign(w, name(w, r), name(w, x)));
        if (key)
            sf_stmt_list_push(w->a, &take, assign(w, name(w, rv), name(w, v)));
        sf_stmt_list first = one(w, assign(w, name(w, have), bool_const(w, 1)));
        for (int i = 0; i < take.n; i++)
            sf_stmt_list_push(w->a, &first, take.v[i]);
        sf_stmt_list take2 = one(w, assign(w, name(w, r), name(w, x)));
        if (key)
            sf_stmt_list_push(w->a, &take2, assign(w, name(w, rv), name(w, v)));
        sf_stmt *better = if_(w, compare(w, name(w, v), kind == B_MAX ? SF_OP_GT : SF_OP_LT, name(w, rv)), take2, none);
        sf_stmt_list_push(w->a, &inner, if_(w, not_(w, name(w, have)), first, one(w, better)));
        sf_expr *empty = dflt ? dflt : call(w, name(w, fname), sf_expr_new(w->a, SF_EX_TUPLE, w->pos), NULL);
        sf_stmt_list_push(w->a, &post, if_(w, not_(w, name(w, have)), one(w, assign(w, name(w, r), empty)), none));
        break;
    }
    }
    sf_stmt_list l = loops(w, g, iter0, inner, after, r);
    for (int i = 0; i < l.n; i++)
        sf_stmt_list_push(w->a, out, l.v[i]);
    for (int i = 0; i < post.n; i++)
        sf_stmt_list_push(w->a, out, post.v[i]);
    *result = name(w, r);
    return 1;
}

int sf_lower_expr(const sf_lower_env *env, sf_expr *e, sf_stmt_list *out, sf_expr **result)
{
    lw w = {env, env->a, e->pos};
    if (is_comp(e)) {
        if (e->u.comp.ngens == 0)
            return 0;
        if (!remote_inside(&w, e)) {
            /* only the first iterable is remote: compute it, keep the rest */
            const char *t = fresh(&w, "t");
            sf_stmt_list_push(w.a, out, assign(&w, name(&w, t), e->u.comp.gens[0].iter));
            e->u.comp.gens[0].iter = name(&w, t);
            *result = e;
            return 1;
        }
        if (e->kind == SF_EX_GENEXP)
            return err(&w, e->pos, GENEXP_HELP, NULL);
        if (lambda_kept(&w, e))
            return -1;
        return lower_comp(&w, e, out, result);
    }
    if (e->kind != SF_EX_CALL || e->u.call.args.n < 1)
        return 0;
    sf_expr *g = e->u.call.args.v[0];
    if (g->kind != SF_EX_GENEXP || g->u.comp.ngens == 0 || !remote_inside(&w, g))
        return 0;
    for (int i = 1; i < e->u.call.args.n; i++)
        if (e->u.call.args.v[i]->kind == SF_EX_STARRED)
            return 0;
    const sf_expr *f = e->u.call.func;
    int kind = -1;
    const char *fname = NULL;
    if (f->kind == SF_EX_NAME) {
        for (size_t i = 0; i < sizeof(consumers) / sizeof(consumers[0]); i++)
            if (strcmp(consumers[i].name, f->u.name.id) == 0) {
                kind = consumers[i].kind;
                fname = consumers[i].name;
            }
        if (kind >= 0 && (env->is_local(env->ctx, f->u.name.id) || module_binds(env->mod, f->u.name.id)))
            return err(&w, f->pos, "'%s' here is not the builtin (this module or method assigns the name): a "
                                   "generator expression with remote operations cannot be given to it; write a "
                                   "list comprehension [...] instead",
                       fname);
    } else if (f->kind == SF_EX_ATTR && strcmp(f->u.attr.attr, "join") == 0 && f->u.attr.value->type &&
               f->u.attr.value->type->kind == SF_TYPE_STR && !remote(&w, f->u.attr.value)) {
        kind = B_JOIN;
        fname = "str.join";
    }
    if (kind < 0)
        return 0;
    if (lambda_kept(&w, g))
        return -1;
    return lower_consumer(&w, e, kind, fname, out, result);
}
