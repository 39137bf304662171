/* analyse_exprs.c: the static types of expressions (analysis pass 3).
 *
 * Owns: typing each expression inside a method (sf_expr.type), the builtins
 * and the methods of builtin containers and str with what they return,
 * calls (to self, through a reference, to builtins and module functions),
 * lambdas and comprehensions with their own scopes.
 */
#include "analyse_internal.h"

#include <stdlib.h>
#include <string.h>

/* Builtins that never change their arguments, with what they return. */
enum {
    B_NONE, B_INT, B_FLOAT, B_STR, B_BOOL, B_LIST_OF, B_SET_OF, B_TUPLE_OF, B_DICT, B_ENUMERATE,
    B_ZIP, B_RANGE, B_SAME, B_MINMAX, B_ELEM, B_ANY, B_FILTER
};

static const struct { const char *name; int ret; int propagate; } builtins[] = {
    {"len", B_INT, 0}, {"hash", B_INT, 0}, {"ord", B_INT, 0}, {"id", B_INT, 0},
    {"int", B_INT, 0}, {"float", B_FLOAT, 0}, {"str", B_STR, 0}, {"repr", B_STR, 0},
    {"chr", B_STR, 0}, {"hex", B_STR, 0}, {"oct", B_STR, 0}, {"bin", B_STR, 0},
    {"format", B_STR, 0}, {"bool", B_BOOL, 0}, {"isinstance", B_BOOL, 0},
    {"issubclass", B_BOOL, 0}, {"callable", B_BOOL, 0}, {"hasattr", B_BOOL, 0},
    {"any", B_BOOL, 0}, {"all", B_BOOL, 0}, {"print", B_NONE, 0},
    {"list", B_LIST_OF, 1}, {"sorted", B_LIST_OF, 1}, {"reversed", B_LIST_OF, 1},
    {"iter", B_LIST_OF, 1}, {"filter", B_FILTER, 1}, {"set", B_SET_OF, 1},
    {"frozenset", B_SET_OF, 1}, {"tuple", B_TUPLE_OF, 1}, {"dict", B_DICT, 1},
    {"enumerate", B_ENUMERATE, 1}, {"zip", B_ZIP, 1}, {"range", B_RANGE, 0},
    {"abs", B_SAME, 0}, {"round", B_SAME, 0}, {"min", B_MINMAX, 1}, {"max", B_MINMAX, 1},
    {"next", B_ELEM, 1}, {"sum", B_ANY, 0}, {"pow", B_ANY, 0}, {"divmod", B_ANY, 0},
    {"getattr", B_ANY, 1}, {"type", B_ANY, 0}, {"map", B_LIST_OF, 1},
};

int an_find_builtin(mctx *mc, const char *name)
{
    if (an_lookup(mc->sc, name) || an_find_mod(mc->a, name) >= 0)
        return -1;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return (int)i;
    return -1;
}

int an_builtin_propagates(int b)
{
    return builtins[b].propagate;
}

void an_tx_args(mctx *mc, sf_expr *e)
{
    for (int i = 0; i < e->u.call.args.n; i++)
        an_tx(mc, e->u.call.args.v[i]);
    for (int k = 0; k < e->u.call.nkw; k++)
        an_tx(mc, e->u.call.kw[k].value);
}

/* Return type of a method of a builtin container or str. */
static const sf_type *container_method(mctx *mc, const sf_type *t, const char *m, sf_expr *call)
{
    actx *a = mc->a;
    if (!t)
        return NULL;
    int nargs = call->u.call.args.n;
    switch (t->kind) {
    case SF_TYPE_DICT: {
        const sf_type *k = targ(t, 0), *v = targ(t, 1);
        if (strcmp(m, "get") == 0 || strcmp(m, "pop") == 0) {
            if (nargs >= 2) {
                const sf_type *d = call->u.call.args.v[1]->type;
                if (!d)
                    return NULL;
                return an_join_strict(a, v, d);
            }
            return strcmp(m, "get") == 0 ? an_topt(a, v) : v;
        }
        if (strcmp(m, "setdefault") == 0) return v;
        if (strcmp(m, "items") == 0) {
            sf_type *tt = an_tnew(a, SF_TYPE_TUPLE, 2);
            tt->args[0] = k;
            tt->args[1] = v;
            return an_t1(a, SF_TYPE_LIST, tt);
        }
        if (strcmp(m, "keys") == 0) return an_t1(a, SF_TYPE_LIST, k);
        if (strcmp(m, "values") == 0) return an_t1(a, SF_TYPE_LIST, v);
        if (strcmp(m, "copy") == 0) return t;
        return NULL;
    }
    case SF_TYPE_LIST:
        if (strcmp(m, "pop") == 0) return targ(t, 0);
        if (strcmp(m, "copy") == 0) return t;
        if (strcmp(m, "index") == 0 || strcmp(m, "count") == 0) return a->t_int;
        return NULL;
    case SF_TYPE_SET:
        if (strcmp(m, "pop") == 0) return targ(t, 0);
        if (strcmp(m, "copy") == 0 || strcmp(m, "union") == 0 || strcmp(m, "intersection") == 0 ||
            strcmp(m, "difference") == 0 || strcmp(m, "symmetric_difference") == 0)
            return t;
        return NULL;
    case SF_TYPE_STR: {
        static const char *const to_str[] = {"lower", "upper", "strip", "lstrip", "rstrip", "title",
            "capitalize", "replace", "format", "join", "casefold", "zfill", "center", "ljust",
            "rjust", "swapcase", "removeprefix", "removesuffix", NULL};
        static const char *const to_bool[] = {"startswith", "endswith", "isdigit", "isalpha",
            "isalnum", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "isidentifier",
            NULL};
        static const char *const to_int[] = {"find", "rfind", "count", "index", "rindex", NULL};
        for (int i = 0; to_str[i]; i++)
            if (strcmp(m, to_str[i]) == 0) return a->t_str;
        for (int i = 0; to_bool[i]; i++)
            if (strcmp(m, to_bool[i]) == 0) return a->t_bool;
        for (int i = 0; to_int[i]; i++)
            if (strcmp(m, to_int[i]) == 0) return a->t_int;
        if (strcmp(m, "split") == 0 || strcmp(m, "rsplit") == 0 || strcmp(m, "splitlines") == 0)
            return an_t1(a, SF_TYPE_LIST, a->t_str);
        if (strcmp(m, "encode") == 0) return a->t_bytes;
        return NULL;
    }
    case SF_TYPE_BYTES:
        if (strcmp(m, "decode") == 0) return a->t_str;
        return NULL;
    default:
        return NULL;
    }
}

static const sf_type *builtin_call(mctx *mc, int b, sf_expr *e)
{
    actx *a = mc->a;
    int n = e->u.call.args.n;
    const sf_type *x = n > 0 ? e->u.call.args.v[0]->type : NULL;
    switch (builtins[b].ret) {
    case B_NONE: return a->t_none;
    case B_INT: return a->t_int;
    case B_FLOAT: return a->t_float;
    case B_STR: return a->t_str;
    case B_BOOL: return a->t_bool;
    case B_LIST_OF: return an_t1(a, SF_TYPE_LIST, n == 1 ? an_elem_type(a, x) : NULL);
    case B_SET_OF: return an_t1(a, SF_TYPE_SET, n == 1 ? an_elem_type(a, x) : NULL);
    case B_TUPLE_OF: return a->t_tuple;
    case B_DICT:
        if (n == 1 && tkind(x, SF_TYPE_DICT))
            return x;
        return an_t2(a, SF_TYPE_DICT, NULL, NULL);
    case B_ENUMERATE: {
        sf_type *tt = an_tnew(a, SF_TYPE_TUPLE, 2);
        tt->args[0] = a->t_int;
        tt->args[1] = (n >= 1 && an_elem_type(a, x)) ? an_elem_type(a, x) : a->t_any;
        return an_t1(a, SF_TYPE_LIST, tt);
    }
    case B_ZIP: {
        if (n == 0 || n > 16)
            return an_t1(a, SF_TYPE_LIST, a->t_tuple);
        for (int i = 0; i < n; i++)
            if (e->u.call.args.v[i]->kind == SF_EX_STARRED)
                return an_t1(a, SF_TYPE_LIST, a->t_tuple);
        sf_type *tt = an_tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++) {
            const sf_type *el = an_elem_type(a, e->u.call.args.v[i]->type);
            tt->args[i] = el ? el : a->t_any;
        }
        return an_t1(a, SF_TYPE_LIST, tt);
    }
    case B_RANGE: return an_t1(a, SF_TYPE_LIST, a->t_int);
    case B_SAME:
        return x && (x->kind == SF_TYPE_INT || x->kind == SF_TYPE_FLOAT) ? x : NULL;
    case B_MINMAX: {
        if (n == 1)
            return an_elem_type(a, x);
        if (n < 2 || e->u.call.nkw > 0)
            return NULL;
        for (int i = 1; i < n; i++)
            if (!teq(x, e->u.call.args.v[i]->type))
                return NULL;
        return x;
    }
    case B_ELEM: return n >= 1 ? an_elem_type(a, x) : NULL;
    case B_FILTER: return an_t1(a, SF_TYPE_LIST, n == 2 ? an_elem_type(a, e->u.call.args.v[1]->type) : NULL);
    default: return NULL;
    }
}

static const sf_type *module_function_return(mctx *mc, const char *name)
{
    int m = an_find_mod(mc->a, name);
    if (m < 0 || !mc->a->mods[m].def)
        return NULL;
    /* no return annotation: Any, so that using the result as a reference
     * asks for an annotation (an_check_untyped) */
    if (!mc->a->mods[m].def->u.func.returns)
        return mc->a->t_any;
    const sf_type *t = an_resolve(mc->a, mc->a->mods[m].def->u.func.returns, 0, 0);
    return t ? t : mc->a->t_any;
}

/* A function argument that is a lambda gets the element types of the
 * iterables it is applied to as the types of its parameters, so that
 * `sorted(items, key=lambda i: i.price)` over List[Item] sees references. */
static void tx_lambda_arg(mctx *mc, sf_expr *x, const sf_type *const *pt, int n)
{
    if (x->kind == SF_EX_LAMBDA) {
        for (int i = 0; i < n && i < 4; i++)
            mc->lam[i] = pt[i];
        mc->nlam = n < 4 ? n : 4;
    }
    an_tx(mc, x);
    mc->nlam = 0;
}

/* Arguments of sorted/min/max (key=) and filter/map (function first). */
static void tx_args_lambdas(mctx *mc, sf_expr *e, const char *id)
{
    actx *a = mc->a;
    int n = e->u.call.args.n;
    int fn_first = strcmp(id, "filter") == 0 || strcmp(id, "map") == 0;
    for (int i = fn_first ? 1 : 0; i < n; i++)
        an_tx(mc, e->u.call.args.v[i]);
    const sf_type *pt[4] = {NULL, NULL, NULL, NULL};
    int np = 0;
    if (fn_first) {
        for (int i = 1; i < n && np < 4; i++)
            pt[np++] = an_elem_type(a, e->u.call.args.v[i]->type);
        if (n > 0)
            tx_lambda_arg(mc, e->u.call.args.v[0], pt, np);
    } else if (n > 0) {
        pt[0] = n == 1 ? an_elem_type(a, e->u.call.args.v[0]->type) : e->u.call.args.v[0]->type;
        np = 1;
    }
    for (int k = 0; k < e->u.call.nkw; k++) {
        const sf_keyword *kw = &e->u.call.kw[k];
        if (!fn_first && kw->arg && strcmp(kw->arg, "key") == 0)
            tx_lambda_arg(mc, kw->value, pt, np);
        else
            an_tx(mc, kw->value);
    }
}

static const sf_type *tx_call(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    sf_expr *f = e->u.call.func;
    if (an_is_delete_call(mc, e))
        return an_delete_call(mc, e);
    an_check_stateflow_call(mc, e);
    if (f->kind == SF_EX_ATTR) {
        sf_expr *v = f->u.attr.value;
        const char *m = f->u.attr.attr;
        if (an_is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int mi = an_find_meth(en, m);
            if (mi >= 0 && mi < en->nuser) {
                an_tx_args(mc, e);
                if (en->meths[mi].flags & SF_METHOD_INIT) {
                    an_merr(mc, e->pos, "calling __init__ from a method is not supported");
                    return NULL;
                }
                an_check_args(mc, e, mc->ent, mi, 0);
                an_args_escape(mc, e);
                if (mc->final) {
                    ameth *cm = cur_meth(mc);
                    aedge ed = {mc->ent, en->meths[mi].name, e->pos, 0, mc->where, mc->fix};
                    VPUSH(a->ast, cm->edges, cm->nedges, cm->capedges, ed);
                }
                return en->meths[mi].returns;
            }
            if (an_find_attr(en, m) < 0 && !an_is_clsname(en, m) && !an_is_dunder(m)) {
                an_missing(mc, en, e->pos, "method", m);
                an_tx_args(mc, e);
                return NULL;
            }
            /* calling a value stored in an attribute, e.g. self.items.copy is below */
        }
        const sf_type *vt = an_tx(mc, v);
        const char *re = ref_entity(vt);
        if (re && !an_is_self_name(mc, v))
            return an_remote_call(mc, e, re);
        if (an_is_self_name(mc, v)) {
            /* self.<attribute>(...) or a dunder/class name: read, then an ordinary call */
            an_tx(mc, f);
            an_tx_args(mc, e);
            an_args_escape(mc, e);
            return NULL;
        }
        an_check_untyped(mc, v, vt, m, e->pos, 1);
        if (strcmp(m, "append") == 0 || strcmp(m, "insert") == 0 || strcmp(m, "add") == 0 ||
            strcmp(m, "setdefault") == 0 || strcmp(m, "appendleft") == 0)
            for (int i = 0; i < e->u.call.args.n; i++)
                an_check_self_stored(mc, e->u.call.args.v[i]);
        if (tkind(vt, SF_TYPE_LIST) && strcmp(m, "sort") == 0) {
            const sf_type *pt[1] = {targ(vt, 0)};
            for (int i = 0; i < e->u.call.args.n; i++)
                an_tx(mc, e->u.call.args.v[i]);
            for (int k = 0; k < e->u.call.nkw; k++)
                tx_lambda_arg(mc, e->u.call.kw[k].value, pt, 1);
        } else {
            an_tx_args(mc, e);
        }
        if (mc->final && in_entity(mc) && !an_pure_method(vt, m)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            an_roots(mc, v, &r, 0);
            an_rec_writes(mc, &r);
            an_in_place_check(mc, v, e->pos);
        }
        an_args_escape(mc, e);
        return container_method(mc, vt, m, e);
    }
    if (f->kind == SF_EX_NAME) {
        const char *id = f->u.name.id;
        local *l = an_lookup(mc->sc, id);
        if (!l && mc->ent >= 0 && an_find_ent(a, id) >= 0)
            return an_create_call(mc, e, an_find_ent(a, id));
        an_tx(mc, f);
        int b = l ? -1 : an_find_builtin(mc, id);
        if (b >= 0 && (strcmp(id, "sorted") == 0 || strcmp(id, "min") == 0 || strcmp(id, "max") == 0 ||
                       strcmp(id, "filter") == 0 || strcmp(id, "map") == 0))
            tx_args_lambdas(mc, e, id);
        else
            an_tx_args(mc, e);
        if (b >= 0 && (strcmp(id, "isinstance") == 0 || strcmp(id, "issubclass") == 0 ||
                       strcmp(id, "type") == 0))
            an_check_isinstance(mc, e);
        if (b >= 0)
            return builtin_call(mc, b, e);
        an_args_escape(mc, e);
        if (!l) {
            an_note_helper_call(mc, id, e);
            return module_function_return(mc, id);
        }
        return NULL;
    }
    an_tx(mc, f);
    an_tx_args(mc, e);
    an_args_escape(mc, e);
    return NULL;
}

/* The elements of a list, set or tuple display; 1 if one is starred. */
static int tx_elts(mctx *mc, sf_expr_list *elts)
{
    int star = 0;
    for (int i = 0; i < elts->n; i++) {
        an_tx(mc, elts->v[i]);
        an_check_self_stored(mc, elts->v[i]);
        if (elts->v[i]->kind == SF_EX_STARRED)
            star = 1;
    }
    return star;
}

/* The type of a constant; NULL for a complex number or Ellipsis. */
const sf_type *an_const_type(actx *a, const sf_expr *e)
{
    switch (e->u.constant.kind) {
    case SF_CONST_NONE: return a->t_none;
    case SF_CONST_BOOL: return a->t_bool;
    case SF_CONST_INT: return a->t_int;
    case SF_CONST_FLOAT: return a->t_float;
    case SF_CONST_STR: return a->t_str;
    case SF_CONST_BYTES: return a->t_bytes;
    default: return NULL;
    }
}

static int numeric(const sf_type *t)
{
    return t && (t->kind == SF_TYPE_INT || t->kind == SF_TYPE_BOOL || t->kind == SF_TYPE_FLOAT);
}

static const sf_type *binop_type(actx *a, sf_op op, const sf_type *l, const sf_type *r)
{
    if (!l || !r)
        return NULL;
    if (numeric(l) && numeric(r)) {
        int fl = l->kind == SF_TYPE_FLOAT || r->kind == SF_TYPE_FLOAT;
        switch (op) {
        case SF_OP_DIV: return a->t_float;
        case SF_OP_ADD: case SF_OP_SUB: case SF_OP_MULT: case SF_OP_MOD: case SF_OP_FLOORDIV:
        case SF_OP_POW:
            return fl ? a->t_float : a->t_int;
        case SF_OP_LSHIFT: case SF_OP_RSHIFT: case SF_OP_BITOR: case SF_OP_BITXOR: case SF_OP_BITAND:
            return fl ? NULL : a->t_int;
        default: return NULL;
        }
    }
    if (l->kind == SF_TYPE_STR && (op == SF_OP_MOD || (op == SF_OP_ADD && r->kind == SF_TYPE_STR) ||
                                   (op == SF_OP_MULT && r->kind == SF_TYPE_INT)))
        return l;
    if (l->kind == SF_TYPE_LIST && ((op == SF_OP_ADD && teq(l, r)) ||
                                    (op == SF_OP_MULT && r->kind == SF_TYPE_INT)))
        return l;
    return NULL;
}

static const sf_type *same_or_null(mctx *mc, sf_expr **v, int n)
{
    const sf_type *t = NULL;
    for (int i = 0; i < n; i++) {
        if (!v[i]->type)
            return NULL;
        if (i == 0)
            t = v[i]->type;
        else if (!teq(t, v[i]->type))
            return NULL;
    }
    (void)mc;
    return t;
}

/* The default values of a def's or a lambda's parameters, evaluated where the
 * function is defined. */
void an_tx_defaults(mctx *mc, sf_arguments *args)
{
    if (!args)
        return;
    saved sv = an_enter(mc, "in a default argument value",
                        "use None as the default and compute the value in the body");
    for (int i = 0; i < args->defaults.n; i++)
        an_tx(mc, args->defaults.v[i]);
    for (int i = 0; i < args->nkwonly; i++)
        if (args->kw_defaults && args->kw_defaults[i])
            an_tx(mc, args->kw_defaults[i]);
    an_leave(mc, sv);
}

static const sf_type *tx_lambda(mctx *mc, sf_expr *e)
{
    sf_arguments *args = e->u.lambda.args;
    an_tx_defaults(mc, args);
    const sf_type *lam[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < mc->nlam && i < 4; i++)
        lam[i] = mc->lam[i];
    mc->nlam = 0;
    scope *ls = an_scope_new(mc->a, mc->sc, SC_LAMBDA, 0);
    if (args) {
        int k = 0;
        for (int i = 0; i < args->nposonly; i++, k++)
            an_add_param(mc->a, ls, args->posonly[i].name, k < 4 && lam[k] ? lam[k] : mc->a->t_any);
        for (int i = 0; i < args->nargs; i++, k++)
            an_add_param(mc->a, ls, args->args[i].name, k < 4 && lam[k] ? lam[k] : mc->a->t_any);
        for (int i = 0; i < args->nkwonly; i++) an_add_param(mc->a, ls, args->kwonly[i].name, NULL);
        if (args->vararg) an_add_param(mc->a, ls, args->vararg->name, NULL);
        if (args->kwarg) an_add_param(mc->a, ls, args->kwarg->name, NULL);
    }
    mctx sub = *mc;
    sub.sc = ls;
    sub.nested = 1;
    an_enter(&sub, "inside a lambda", "compute the values in a for loop first (e.g. `prices[i] = i.price` for each i, "
                                             "then `key=lambda i: prices[i]`)");
    an_tx(&sub, e->u.lambda.body);
    mc->changed |= sub.changed;
    mc->too_deep |= sub.too_deep;
    return NULL;
}

static const sf_type *tx_comp(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    /* remote operations inside are allowed where the enclosing code allows
     * them: the split stage rewrites the comprehension as a loop (lower.c) */
    scope *cs = an_scope_new(a, mc->sc, SC_COMP, 0);
    mctx sub = *mc;
    sub.sc = cs;
    for (int g = 0; g < e->u.comp.ngens; g++) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        if (gen->is_async && in_entity(mc))
            an_merr(mc, gen->target->pos, "async comprehensions are not supported in entity methods");
        mctx outer = sub;
        if (g == 0)
            outer.sc = mc->sc; /* the first iterable is evaluated in the enclosing scope */
        const sf_type *it = an_tx(&outer, gen->iter);
        sub.changed |= outer.changed;
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(&sub, gen->iter, &r, 0);
        an_tstore(&sub, gen->target, an_elem_type(a, it), &r, NULL, HOW_COMP);
        for (int i = 0; i < gen->ifs.n; i++)
            an_tx(&sub, gen->ifs.v[i]);
    }
    const sf_type *et = an_tx(&sub, e->u.comp.elt);
    const sf_type *vt = e->kind == SF_EX_DICTCOMP ? an_tx(&sub, e->u.comp.value) : NULL;
    an_check_self_stored(&sub, e->u.comp.elt);
    an_check_self_stored(&sub, e->kind == SF_EX_DICTCOMP ? e->u.comp.value : NULL);
    mc->changed |= sub.changed;
    mc->too_deep |= sub.too_deep;
    switch (e->kind) {
    case SF_EX_LISTCOMP: return an_t1(a, SF_TYPE_LIST, et);
    case SF_EX_SETCOMP: return an_t1(a, SF_TYPE_SET, et);
    case SF_EX_DICTCOMP: return an_t2(a, SF_TYPE_DICT, et, vt);
    /* a generator expression: typed as the list of its elements, so that
     * what consumes it (max, sorted, list, next, a for loop) knows the
     * element type, references included */
    default: return an_t1(a, SF_TYPE_LIST, et);
    }
}

static long long const_index(const sf_expr *s, int *ok)
{
    int neg = 0;
    *ok = 0;
    if (s->kind == SF_EX_UNARYOP && s->u.unaryop.op == SF_OP_USUB) {
        neg = 1;
        s = s->u.unaryop.operand;
    }
    if (s->kind != SF_EX_CONST || s->u.constant.kind != SF_CONST_INT || !s->u.constant.repr)
        return 0;
    char *end;
    long long v = strtoll(s->u.constant.repr, &end, 10);
    if (*end || v > 1000000)
        return 0;
    *ok = 1;
    return neg ? -v : v;
}

static const sf_type *subscript_type(actx *a, const sf_type *vt, sf_expr *slice)
{
    if (!vt)
        return NULL;
    if (slice->kind == SF_EX_SLICE)
        return vt->kind == SF_TYPE_LIST || vt->kind == SF_TYPE_STR || vt->kind == SF_TYPE_BYTES ||
               vt->kind == SF_TYPE_TUPLE ? (vt->kind == SF_TYPE_TUPLE ? a->t_tuple : vt) : NULL;
    switch (vt->kind) {
    case SF_TYPE_LIST: return targ(vt, 0);
    case SF_TYPE_DICT: return targ(vt, 1);
    case SF_TYPE_STR: return a->t_str;
    case SF_TYPE_BYTES: return a->t_int;
    case SF_TYPE_TUPLE: {
        int ok;
        long long i = const_index(slice, &ok);
        if (ok) {
            if (i < 0)
                i += vt->nargs;
            return i >= 0 && i < vt->nargs ? targ(vt, (int)i) : NULL;
        }
        return an_elem_type(a, vt);
    }
    default: return NULL;
    }
}

static const sf_type *tx_inner(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    switch (e->kind) {
    case SF_EX_NAME: {
        local *l = an_lookup(mc->sc, e->u.name.id);
        if (l && l->is_self)
            return in_entity(mc) ? cur_ent(mc)->type : NULL;
        return an_local_type(l);
    }
    case SF_EX_CONST:
        return an_const_type(a, e);
    case SF_EX_ATTR:
        return an_tx_attr(mc, e);
    case SF_EX_CALL:
        return tx_call(mc, e);
    case SF_EX_BINOP: {
        const sf_type *l = an_tx(mc, e->u.binop.left);
        const sf_type *r = an_tx(mc, e->u.binop.right);
        return binop_type(a, e->u.binop.op, l, r);
    }
    case SF_EX_UNARYOP: {
        const sf_type *t = an_tx(mc, e->u.unaryop.operand);
        if (e->u.unaryop.op == SF_OP_NOT)
            return a->t_bool;
        if (t && (t->kind == SF_TYPE_INT || t->kind == SF_TYPE_BOOL))
            return a->t_int;
        if (t && t->kind == SF_TYPE_FLOAT && e->u.unaryop.op != SF_OP_INVERT)
            return t;
        return NULL;
    }
    case SF_EX_BOOLOP: {
        int n = e->u.boolop.values.n;
        for (int i = 0; i < n; i++)
            an_tx(mc, e->u.boolop.values.v[i]);
        const sf_type *t = same_or_null(mc, e->u.boolop.values.v, n);
        if (!t && n == 2 && e->u.boolop.op == SF_OP_OR) {
            const sf_type *l = e->u.boolop.values.v[0]->type, *r = e->u.boolop.values.v[1]->type;
            if (tkind(l, SF_TYPE_OPTIONAL) && r && teq(targ(l, 0), r))
                t = r;
        }
        return t;
    }
    case SF_EX_COMPARE:
        an_tx(mc, e->u.compare.left);
        for (int i = 0; i < e->u.compare.comparators.n; i++)
            an_tx(mc, e->u.compare.comparators.v[i]);
        an_check_compare(mc, e);
        return a->t_bool;
    case SF_EX_IFEXP: {
        an_tx(mc, e->u.ifexp.test);
        const sf_type *b = an_tx(mc, e->u.ifexp.body);
        const sf_type *o = an_tx(mc, e->u.ifexp.orelse);
        if (!b || !o)
            return NULL;
        if (teq(b, o))
            return b;
        return an_join_strict(a, b, o);
    }
    case SF_EX_LIST: case SF_EX_SET: {
        int n = e->u.seq.elts.n, star = tx_elts(mc, &e->u.seq.elts);
        const sf_type *el = n > 0 && !star ? same_or_null(mc, e->u.seq.elts.v, n) : NULL;
        return an_t1(a, e->kind == SF_EX_LIST ? SF_TYPE_LIST : SF_TYPE_SET, el);
    }
    case SF_EX_TUPLE: {
        int n = e->u.seq.elts.n, star = tx_elts(mc, &e->u.seq.elts);
        if (star || n == 0 || n > 64)
            return a->t_tuple;
        sf_type *t = an_tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++)
            t->args[i] = e->u.seq.elts.v[i]->type ? e->u.seq.elts.v[i]->type : a->t_any;
        return t;
    }
    case SF_EX_DICT: {
        int n = e->u.dict.n, ok = n > 0;
        const sf_type *kt = NULL, *vt = NULL;
        for (int i = 0; i < n; i++) {
            const sf_type *k = e->u.dict.keys[i] ? an_tx(mc, e->u.dict.keys[i]) : NULL;
            const sf_type *v = an_tx(mc, e->u.dict.values[i]);
            an_check_self_stored(mc, e->u.dict.keys[i]);
            an_check_self_stored(mc, e->u.dict.values[i]);
            if (!k || !v) {
                ok = 0;
                continue;
            }
            if (i == 0) {
                kt = k;
                vt = v;
            } else if (!teq(kt, k) || !teq(vt, v)) {
                ok = 0;
            }
        }
        return ok ? an_t2(a, SF_TYPE_DICT, kt, vt) : an_t2(a, SF_TYPE_DICT, NULL, NULL);
    }
    case SF_EX_SUBSCRIPT: {
        const sf_type *vt = an_tx(mc, e->u.subscript.value);
        an_tx(mc, e->u.subscript.slice);
        return subscript_type(a, vt, e->u.subscript.slice);
    }
    case SF_EX_SLICE:
        an_tx(mc, e->u.slice.lower);
        an_tx(mc, e->u.slice.upper);
        an_tx(mc, e->u.slice.step);
        return NULL;
    case SF_EX_LAMBDA:
        return tx_lambda(mc, e);
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_DICTCOMP: case SF_EX_GENEXP:
        return tx_comp(mc, e);
    case SF_EX_JOINEDSTR:
        for (int i = 0; i < e->u.joinedstr.values.n; i++)
            an_tx(mc, e->u.joinedstr.values.v[i]);
        return a->t_str;
    case SF_EX_FORMATTED:
        an_tx(mc, e->u.formatted.value);
        if (e->u.formatted.format_spec) {
            saved sv = an_enter(mc, "in an f-string format specification",
                                "compute it into a local variable first");
            an_tx(mc, e->u.formatted.format_spec);
            an_leave(mc, sv);
        }
        return a->t_str;
    case SF_EX_STARRED:
        an_tx(mc, e->u.starred.value);
        return NULL;
    case SF_EX_NAMEDEXPR: {
        const sf_type *vt = an_tx(mc, e->u.namedexpr.value);
        rootset r;
        memset(&r, 0, sizeof(r));
        an_roots(mc, e->u.namedexpr.value, &r, 0);
        sf_expr *t = e->u.namedexpr.target;
        if (t->kind == SF_EX_NAME) {
            if (an_is_self_name(mc, t))
                an_merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            local *l = an_bind(mc, t->u.name.id, vt, &r, HOW_ASSIGN);
            an_check_rebind(mc, l, vt, t->pos);
            t->type = an_local_type(l);
        }
        return vt;
    }
    case SF_EX_AWAIT:
        if (in_entity(mc))
            an_merr(mc, e->pos, "await is not supported in entity methods");
        an_tx(mc, e->u.starred.value);
        return NULL;
    case SF_EX_YIELD: case SF_EX_YIELDFROM:
        if (in_entity(mc) && !mc->nested)
            an_merr(mc, e->pos, "yield is not supported in entity methods");
        an_tx(mc, e->u.starred.value);
        return NULL;
    }
    return NULL;
}

const sf_type *an_tx(mctx *mc, sf_expr *e)
{
    if (!e)
        return NULL;
    if (mc->depth >= A_MAX_DEPTH) {
        if (!mc->too_deep)
            an_merr(mc, e->pos, "expression nested too deeply");
        mc->too_deep = 1;
        return NULL;
    }
    mc->depth++;
    const sf_type *t = tx_inner(mc, e);
    mc->depth--;
    e->type = t;
    return t;
}
