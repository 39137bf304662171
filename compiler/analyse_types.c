/* analyse_types.c: types and type annotations (analysis pass 1).
 *
 * Owns: building sf_type values in the IR arena, the relations the other
 * passes use on them (equality, Optional, element types, joins of the types
 * a variable holds), and resolving annotations to types: names, typing
 * generics, unions, string annotations ("Item", "List['Item']") and aliases
 * assigned at module level.
 */
#include "analyse_internal.h"

#include <string.h>

sf_type *an_tnew(actx *a, sf_type_kind k, int nargs)
{
    sf_type *t = sf_arena_alloc(a->ira, sizeof(*t));
    t->kind = k;
    if (nargs > 0)
        t->args = sf_arena_alloc(a->ira, (size_t)nargs * sizeof(*t->args));
    t->nargs = nargs;
    return t;
}

const sf_type *an_t1(actx *a, sf_type_kind k, const sf_type *x)
{
    sf_type *t = an_tnew(a, k, 1);
    t->args[0] = x ? x : a->t_any;
    return t;
}

const sf_type *an_t2(actx *a, sf_type_kind k, const sf_type *x, const sf_type *y)
{
    sf_type *t = an_tnew(a, k, 2);
    t->args[0] = x ? x : a->t_any;
    t->args[1] = y ? y : a->t_any;
    return t;
}

int an_mentions_entity(const sf_type *t, int depth)
{
    if (!t || depth > 64)
        return 0;
    if (t->kind == SF_TYPE_ENTITY)
        return 1;
    for (int i = 0; i < t->nargs; i++)
        if (an_mentions_entity(targ(t, i), depth + 1))
            return 1;
    return 0;
}

const char *an_tfmt(actx *a, const sf_type *t)
{
    char buf[256];
    sf_type_format(t, buf, sizeof(buf));
    return sf_arena_strdup(a->ast, buf);
}

const sf_type *an_topt(actx *a, const sf_type *t)
{
    if (!t)
        return NULL;
    if (t->kind == SF_TYPE_NONE || t->kind == SF_TYPE_OPTIONAL || t->kind == SF_TYPE_ANY)
        return t;
    return an_t1(a, SF_TYPE_OPTIONAL, t);
}

int an_immutable(const sf_type *t, int depth)
{
    if (!t || depth > 64)
        return 0;
    switch (t->kind) {
    case SF_TYPE_INT: case SF_TYPE_FLOAT: case SF_TYPE_STR: case SF_TYPE_BYTES:
    case SF_TYPE_BOOL: case SF_TYPE_NONE: case SF_TYPE_ENTITY:
        return 1;
    case SF_TYPE_OPTIONAL:
        return an_immutable(targ(t, 0), depth + 1);
    case SF_TYPE_TUPLE:
        if (t->nargs == 0)
            return 0;
        for (int i = 0; i < t->nargs; i++)
            if (!an_immutable(targ(t, i), depth + 1))
                return 0;
        return 1;
    default:
        return 0;
    }
}

/* Element type when iterating over a value of type t (NULL when unknown). */
const sf_type *an_elem_type(actx *a, const sf_type *t)
{
    if (!t)
        return NULL;
    switch (t->kind) {
    case SF_TYPE_LIST: case SF_TYPE_SET: case SF_TYPE_DICT:
        return targ(t, 0);
    case SF_TYPE_TUPLE:
        if (t->nargs == 0)
            return NULL;
        for (int i = 1; i < t->nargs; i++)
            if (!teq(targ(t, 0), targ(t, i)))
                return NULL;
        return targ(t, 0);
    case SF_TYPE_STR:
        return a->t_str;
    case SF_TYPE_BYTES:
        return a->t_int;
    default:
        return NULL;
    }
}

/* The type of a variable holding values of types x and y: equal types,
 * or None and T (Optional[T]); NULL when they conflict. */
const sf_type *an_join_strict(actx *a, const sf_type *x, const sf_type *y)
{
    if (teq(x, y))
        return x;
    if (x->kind == SF_TYPE_NONE)
        return an_topt(a, y);
    if (y->kind == SF_TYPE_NONE)
        return an_topt(a, x);
    if (x->kind == SF_TYPE_OPTIONAL && teq(targ(x, 0), y))
        return x;
    if (y->kind == SF_TYPE_OPTIONAL && teq(targ(y, 0), x))
        return y;
    /* an empty container ([] is List[Any]) and one of known elements */
    if (x->kind == y->kind && x->nargs == y->nargs && x->nargs > 0 &&
        (x->kind == SF_TYPE_LIST || x->kind == SF_TYPE_SET || x->kind == SF_TYPE_DICT)) {
        sf_type *j = an_tnew(a, x->kind, x->nargs);
        for (int i = 0; i < x->nargs; i++) {
            const sf_type *xa = targ(x, i), *ya = targ(y, i);
            if (teq(xa, ya) || ya == a->t_any)
                j->args[i] = xa;
            else if (xa == a->t_any)
                j->args[i] = ya;
            else
                return NULL;
        }
        return j;
    }
    return NULL;
}

/* Flow-insensitive join for local variables: a conflict keeps the first
 * type, unless an entity is involved (then *poison: the variable is
 * left untyped rather than wrongly treated as a reference or not). */
const sf_type *an_tjoin(actx *a, const sf_type *old, const sf_type *nw, int *poison)
{
    *poison = 0;
    const sf_type *j = an_join_strict(a, old, nw);
    if (j)
        return j;
    if (an_mentions_entity(old, 0) || an_mentions_entity(nw, 0))
        *poison = 1;
    return old;
}

enum {
    H_BAD, H_INT, H_FLOAT, H_STR, H_BYTES, H_BOOL, H_NONE, H_ANY, H_LIST, H_DICT,
    H_SET, H_TUPLE, H_OPTIONAL, H_UNION, H_OPAQUE
};

static const struct { const char *name; int head; } special_names[] = {
    {"int", H_INT}, {"float", H_FLOAT}, {"str", H_STR}, {"bytes", H_BYTES},
    {"bool", H_BOOL}, {"Any", H_ANY}, {"object", H_ANY}, {"complex", H_ANY},
    {"bytearray", H_ANY}, {"NoReturn", H_NONE},
    {"list", H_LIST}, {"List", H_LIST}, {"Sequence", H_LIST}, {"MutableSequence", H_LIST},
    {"Iterable", H_LIST}, {"Iterator", H_LIST}, {"Collection", H_LIST}, {"Deque", H_LIST},
    {"dict", H_DICT}, {"Dict", H_DICT}, {"Mapping", H_DICT}, {"MutableMapping", H_DICT},
    {"DefaultDict", H_DICT}, {"OrderedDict", H_DICT},
    {"set", H_SET}, {"Set", H_SET}, {"frozenset", H_SET}, {"FrozenSet", H_SET},
    {"AbstractSet", H_SET}, {"MutableSet", H_SET},
    {"tuple", H_TUPLE}, {"Tuple", H_TUPLE},
    {"Optional", H_OPTIONAL}, {"Union", H_UNION},
    {"Callable", H_OPAQUE}, {"Type", H_OPAQUE}, {"type", H_OPAQUE}, {"Literal", H_OPAQUE},
    {"Final", H_OPAQUE}, {"ClassVar", H_OPAQUE}, {"Annotated", H_OPAQUE},
};

static int special_head(const char *name)
{
    for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++)
        if (strcmp(special_names[i].name, name) == 0)
            return special_names[i].head;
    return H_BAD;
}

static const sf_type *head_bare(actx *a, int h)
{
    switch (h) {
    case H_INT: return a->t_int;
    case H_FLOAT: return a->t_float;
    case H_STR: return a->t_str;
    case H_BYTES: return a->t_bytes;
    case H_BOOL: return a->t_bool;
    case H_NONE: return a->t_none;
    case H_LIST: return an_t1(a, SF_TYPE_LIST, a->t_any);
    case H_SET: return an_t1(a, SF_TYPE_SET, a->t_any);
    case H_DICT: return an_t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
    case H_TUPLE: return a->t_tuple;
    case H_OPAQUE: return a->t_opaque;
    default: return a->t_any;
    }
}

static const char *dotted(actx *a, const sf_expr *e)
{
    if (e->kind == SF_EX_NAME)
        return e->u.name.id;
    if (e->kind == SF_EX_ATTR)
        return sf_arena_printf(a->ast, "%s.%s", dotted(a, e->u.attr.value), e->u.attr.attr);
    return "?";
}

/* A string annotation ("Item", "List['Item']") is parsed into expression
 * nodes (all at the string's position) and resolved like any other. */
typedef struct sparse {
    actx *a;
    const char *s;
    size_t i, n;
    sf_pos pos;
    int depth;
    int bad;
} sparse;

static void sp_ws(sparse *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n'))
        p->i++;
}

static int sp_eat(sparse *p, char c)
{
    sp_ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return 1;
    }
    return 0;
}

static int sp_ident_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int sp_ident_char(char c) { return sp_ident_start(c) || (c >= '0' && c <= '9'); }

static const char *sp_ident(sparse *p)
{
    sp_ws(p);
    if (p->i >= p->n || !sp_ident_start(p->s[p->i]))
        return NULL;
    size_t st = p->i;
    while (p->i < p->n && sp_ident_char(p->s[p->i]))
        p->i++;
    return sf_arena_strndup(p->a->ast, p->s + st, p->i - st);
}

static sf_expr *sp_union(sparse *p);

/* Comma-separated expressions up to close; returns 1 when a comma was seen. */
static int sp_list(sparse *p, sf_expr_list *out, char close)
{
    int comma = 0;
    if (sp_eat(p, close))
        return 0;
    for (;;) {
        sf_expr *e = sp_union(p);
        if (!e)
            return comma;
        sf_expr_list_push(p->a->ast, out, e);
        if (sp_eat(p, close))
            return comma;
        if (!sp_eat(p, ',')) {
            p->bad = 1;
            return comma;
        }
        comma = 1;
        if (sp_eat(p, close))
            return comma;
    }
}

static sf_expr *sp_atom(sparse *p)
{
    sp_ws(p);
    if (p->i >= p->n) {
        p->bad = 1;
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '\'' || c == '"') {
        size_t st = ++p->i;
        while (p->i < p->n && p->s[p->i] != c)
            p->i++;
        if (p->i >= p->n) {
            p->bad = 1;
            return NULL;
        }
        sf_expr *e = sf_expr_new(p->a->ast, SF_EX_CONST, p->pos);
        e->u.constant.kind = SF_CONST_STR;
        e->u.constant.str = sf_arena_strndup(p->a->ast, p->s + st, p->i - st);
        e->u.constant.len = p->i - st;
        p->i++;
        return e;
    }
    if (c == '.' && p->i + 2 < p->n && p->s[p->i + 1] == '.' && p->s[p->i + 2] == '.') {
        p->i += 3;
        sf_expr *e = sf_expr_new(p->a->ast, SF_EX_CONST, p->pos);
        e->u.constant.kind = SF_CONST_ELLIPSIS;
        return e;
    }
    if (c == '(') {
        p->i++;
        sf_expr *e = sf_expr_new(p->a->ast, SF_EX_TUPLE, p->pos);
        sp_list(p, &e->u.seq.elts, ')');
        return e;
    }
    if (c == '[') {
        p->i++;
        sf_expr *e = sf_expr_new(p->a->ast, SF_EX_LIST, p->pos);
        sp_list(p, &e->u.seq.elts, ']');
        return e;
    }
    const char *id = sp_ident(p);
    if (!id) {
        p->bad = 1;
        return NULL;
    }
    if (strcmp(id, "None") == 0)
        return sf_expr_none(p->a->ast, p->pos);
    return sf_expr_name(p->a->ast, id, p->pos);
}

static sf_expr *sp_postfix(sparse *p)
{
    sf_expr *e = sp_atom(p);
    while (e && !p->bad) {
        if (sp_eat(p, '.')) {
            const char *id = sp_ident(p);
            if (!id) {
                p->bad = 1;
                return NULL;
            }
            sf_expr *x = sf_expr_new(p->a->ast, SF_EX_ATTR, p->pos);
            x->u.attr.value = e;
            x->u.attr.attr = id;
            e = x;
        } else if (sp_eat(p, '[')) {
            if (++p->depth > A_MAX_STR_ANN) {
                p->bad = 1;
                return NULL;
            }
            sf_expr_list l = {0};
            int trailing = sp_list(p, &l, ']');
            p->depth--;
            if (p->bad)
                return NULL;
            sf_expr *x = sf_expr_new(p->a->ast, SF_EX_SUBSCRIPT, p->pos);
            x->u.subscript.value = e;
            /* one element without a comma is the slice itself */
            if (l.n == 1 && !trailing) {
                x->u.subscript.slice = l.v[0];
            } else {
                sf_expr *t = sf_expr_new(p->a->ast, SF_EX_TUPLE, p->pos);
                t->u.seq.elts = l;
                x->u.subscript.slice = t;
            }
            e = x;
        } else {
            break;
        }
    }
    return p->bad ? NULL : e;
}

static sf_expr *sp_union(sparse *p)
{
    if (++p->depth > A_MAX_STR_ANN) {
        p->bad = 1;
        return NULL;
    }
    sf_expr *e = sp_postfix(p);
    while (e && sp_eat(p, '|')) {
        sf_expr *r = sp_postfix(p);
        if (!r)
            break;
        sf_expr *b = sf_expr_new(p->a->ast, SF_EX_BINOP, p->pos);
        b->u.binop.left = e;
        b->u.binop.op = SF_OP_BITOR;
        b->u.binop.right = r;
        e = b;
    }
    p->depth--;
    return p->bad ? NULL : e;
}

static const sf_type *resolve_string(actx *a, sf_expr *e, int report, int depth)
{
    sparse p = {a, e->u.constant.str ? e->u.constant.str : "", 0, e->u.constant.len, e->pos, 0, 0};
    if (!e->u.constant.str)
        p.n = 0;
    sf_expr *x = sp_union(&p);
    sp_ws(&p);
    if (!x || p.bad || p.i != p.n) {
        if (report)
            an_aerr(a, e->pos, "invalid type annotation '%.100s'", p.s);
        return NULL;
    }
    return an_resolve(a, x, report, depth + 1);
}

static const sf_type *resolve_union(actx *a, sf_expr **v, int n, sf_pos pos, int report, int depth)
{
    const sf_type *members[32];
    int nm = 0, has_none = 0, failed = 0, too_many = 0;
    for (int i = 0; i < n; i++) {
        const sf_type *t = an_resolve(a, v[i], report, depth + 1);
        if (!t) {
            failed = 1;
            continue;
        }
        if (t->kind == SF_TYPE_NONE) {
            has_none = 1;
            continue;
        }
        if (t->kind == SF_TYPE_OPTIONAL) {
            has_none = 1;
            t = targ(t, 0);
        }
        int dup = 0;
        for (int k = 0; k < nm; k++)
            if (teq(members[k], t))
                dup = 1;
        if (dup)
            continue;
        if (nm < 32)
            members[nm++] = t;
        else
            too_many = 1;
    }
    if (failed)
        return NULL;
    if (nm == 0)
        return a->t_none;
    if (nm == 1 && !too_many)
        return has_none ? an_topt(a, members[0]) : members[0];
    for (int k = 0; k < nm; k++)
        if (an_mentions_entity(members[k], 0)) {
            if (report)
                an_aerr(a, pos, "a union of an entity type with other types is not supported: "
                             "use Optional[...] of one entity type");
            return NULL;
        }
    return a->t_opaque;
}

static void flatten_bitor(sf_expr *e, sf_expr **out, int *n, int cap, int depth)
{
    if (e->kind == SF_EX_BINOP && e->u.binop.op == SF_OP_BITOR && depth < 64) {
        flatten_bitor(e->u.binop.left, out, n, cap, depth + 1);
        flatten_bitor(e->u.binop.right, out, n, cap, depth + 1);
    } else if (*n < cap) {
        out[(*n)++] = e;
    }
}

/* Head of a subscripted annotation: H_* for known generics; H_OPAQUE for a
 * user/imported generic; H_BAD (reported) otherwise; -1 for an entity. */
static int resolve_head(actx *a, sf_expr *b, int report)
{
    if (b->kind == SF_EX_NAME) {
        const char *id = b->u.name.id;
        if (an_find_ent(a, id) >= 0)
            return -1;
        int h = special_head(id);
        if (h != H_BAD)
            return h;
        if (an_find_mod(a, id) >= 0 || a->star_import)
            return H_OPAQUE;
        if (report)
            an_aerr(a, b->pos, "unknown type '%s' in annotation", id);
        return H_BAD;
    }
    if (b->kind == SF_EX_ATTR) {
        sf_expr *r = b;
        while (r->kind == SF_EX_ATTR)
            r = r->u.attr.value;
        if (r->kind == SF_EX_NAME && (an_find_mod(a, r->u.name.id) >= 0 || a->star_import ||
                                      strcmp(r->u.name.id, "typing") == 0)) {
            int h = special_head(b->u.attr.attr);
            return h != H_BAD ? h : H_OPAQUE;
        }
        if (report)
            an_aerr(a, b->pos, "unknown type '%s' in annotation", dotted(a, b));
        return H_BAD;
    }
    if (report)
        an_aerr(a, b->pos, "invalid type annotation");
    return H_BAD;
}

static const char *head_name(const sf_expr *b)
{
    return b->kind == SF_EX_NAME ? b->u.name.id : b->kind == SF_EX_ATTR ? b->u.attr.attr : "?";
}

static const sf_type *resolve_subscript(actx *a, sf_expr *e, int report, int depth)
{
    sf_expr *b = e->u.subscript.value;
    int h = resolve_head(a, b, report);
    if (h == H_BAD)
        return NULL;
    if (h == -1) {
        if (report)
            an_aerr(a, e->pos, "entity type '%s' does not take type arguments", head_name(b));
        return NULL;
    }
    sf_expr *sl = e->u.subscript.slice;
    sf_expr *one[1] = {sl};
    sf_expr **args = one;
    int n = 1;
    if (sl->kind == SF_EX_TUPLE) {
        args = sl->u.seq.elts.v;
        n = sl->u.seq.elts.n;
    }
    const char *hn = head_name(b);
    int want = 0;
    switch (h) {
    case H_LIST: case H_SET: case H_OPTIONAL: want = 1; break;
    case H_DICT: want = 2; break;
    case H_TUPLE: case H_UNION: case H_OPAQUE: want = -1; break;
    default:
        if (report)
            an_aerr(a, e->pos, "type '%s' does not take type arguments", hn);
        return NULL;
    }
    if (want > 0 && n != want) {
        if (report)
            an_aerr(a, e->pos, "%s[...] takes %d type argument%s but %d %s given", hn, want,
                    want == 1 ? "" : "s", n, n == 1 ? "was" : "were");
        return NULL;
    }
    switch (h) {
    case H_LIST: case H_SET: {
        const sf_type *x = an_resolve(a, args[0], report, depth + 1);
        return x ? an_t1(a, h == H_LIST ? SF_TYPE_LIST : SF_TYPE_SET, x) : NULL;
    }
    case H_OPTIONAL: {
        const sf_type *x = an_resolve(a, args[0], report, depth + 1);
        return x ? an_topt(a, x) : NULL;
    }
    case H_DICT: {
        const sf_type *k = an_resolve(a, args[0], report, depth + 1);
        const sf_type *v = an_resolve(a, args[1], report, depth + 1);
        return k && v ? an_t2(a, SF_TYPE_DICT, k, v) : NULL;
    }
    case H_TUPLE: {
        if (sl->kind == SF_EX_TUPLE && n == 0)
            return a->t_tuple; /* Tuple[()] */
        if (n == 2 && args[1]->kind == SF_EX_CONST && args[1]->u.constant.kind == SF_CONST_ELLIPSIS)
            return an_resolve(a, args[0], report, depth + 1) ? a->t_tuple : NULL;
        sf_type *t = an_tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++) {
            const sf_type *x = an_resolve(a, args[i], report, depth + 1);
            if (!x)
                return NULL;
            t->args[i] = x;
        }
        return t;
    }
    case H_UNION:
        return resolve_union(a, args, n, e->pos, report, depth);
    default:
        return a->t_opaque; /* Callable[...], a user generic, ... */
    }
}

/* Type of an annotation expression; NULL after reporting an error (when
 * report) or when it cannot be understood. */
const sf_type *an_resolve(actx *a, sf_expr *e, int report, int depth)
{
    if (!e)
        return NULL;
    if (depth > SF_IR_MAX_TYPE_DEPTH) {
        if (report)
            an_aerr(a, e->pos, "type annotation nested too deeply");
        return NULL;
    }
    switch (e->kind) {
    case SF_EX_CONST:
        if (e->u.constant.kind == SF_CONST_NONE)
            return a->t_none;
        if (e->u.constant.kind == SF_CONST_STR)
            return resolve_string(a, e, report, depth);
        break;
    case SF_EX_NAME: {
        const char *id = e->u.name.id;
        int ei = an_find_ent(a, id);
        if (ei >= 0)
            return a->ents[ei].type;
        int h = special_head(id);
        if (h != H_BAD)
            return head_bare(a, h);
        int m = an_find_mod(a, id);
        if (m >= 0) {
            sf_expr *v = a->mods[m].value;
            if (v && (v->kind == SF_EX_NAME || v->kind == SF_EX_ATTR || v->kind == SF_EX_SUBSCRIPT ||
                      (v->kind == SF_EX_BINOP && v->u.binop.op == SF_OP_BITOR))) {
                const sf_type *t = an_resolve(a, v, 0, depth + 1);
                if (t)
                    return t;
            }
            return a->t_opaque;
        }
        if (a->star_import)
            return a->t_opaque;
        if (report)
            an_aerr(a, e->pos, "unknown type '%s' in annotation", id);
        return NULL;
    }
    case SF_EX_ATTR: {
        int h = resolve_head(a, e, report);
        if (h == H_BAD)
            return NULL;
        return head_bare(a, h);
    }
    case SF_EX_SUBSCRIPT:
        return resolve_subscript(a, e, report, depth);
    case SF_EX_BINOP:
        if (e->u.binop.op == SF_OP_BITOR) {
            sf_expr *v[32];
            int n = 0;
            flatten_bitor(e, v, &n, 32, 0);
            return resolve_union(a, v, n, e->pos, report, depth);
        }
        break;
    default:
        break;
    }
    if (report)
        an_aerr(a, e->pos, "invalid type annotation");
    return NULL;
}

const sf_type *an_resolve_or_any(actx *a, sf_expr *e, int report)
{
    const sf_type *t = an_resolve(a, e, report, 0);
    return t ? t : a->t_any;
}
