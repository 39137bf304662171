/* analyse.c: the analysis stage (DESIGN 3.2; the API is in analyse.h).
 *
 * Owns: finding the entity classes; their attributes (declared or inferred
 * types), keys and method signatures; the static types of expressions inside
 * entity methods (which expressions are references); the attributes of self
 * each method reads and writes; the remote operations each method performs;
 * the generated attribute accessors; the call graph with its recursion
 * check; the SPLIT / READ_ONLY flags; and the dataflow edges. Everything the
 * IR keeps is allocated in p->ir->arena, scratch data in the AST arena.
 *
 * Phases (sf_analyse): module-level names -> entity classes -> signatures ->
 * attributes -> keys -> method bodies (typed to a fixpoint, then walked once
 * more to record and report) -> functions outside entities (only checked for
 * remote operations) -> accessors -> call graph, recursion, flags -> IR.
 */
#include "analyse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h" /* sf_is_entity_decorator */
#include "stateflow/sf_buf.h"

#define A_MAX_DEPTH 400      /* nesting the walkers follow (the parser stops at 200) */
#define A_MAX_PASSES 16      /* fixpoint rounds for the types of local variables */
#define A_MAX_ALIAS 16       /* attributes one value may alias before it means "all" */
#define A_MAX_STR_ANN 32     /* nesting inside a string annotation */
#define A_MAX_MODULE_DEPTH 64

#define VPUSH(ar, arr, n, cap, val)                                                      \
    do {                                                                                 \
        if ((n) == (cap)) {                                                              \
            int nc_ = (cap) ? (cap) * 2 : 4;                                             \
            (arr) = sf_arena_grow((ar), (arr), (size_t)(cap), (size_t)nc_, sizeof(*(arr))); \
            (cap) = nc_;                                                                 \
        }                                                                                \
        (arr)[(n)++] = (val);                                                            \
    } while (0)

/* ---- internal structures ------------------------------------------------ */

/* Attributes of self a value may share mutable state with. */
typedef struct rootset {
    int v[A_MAX_ALIAS];
    int n;
    int all;
} rootset;

enum { L_UNKNOWN, L_TYPED, L_POISONED };

typedef struct local {
    const char *name;
    const sf_type *type;
    int state;
    int fixed;          /* parameter or annotated: the type never changes */
    int is_self;
    rootset alias;
} local;

enum { SC_FUNC, SC_LAMBDA, SC_COMP };

typedef struct scope {
    struct scope *parent;
    int kind;
    int persistent;     /* kept across passes: changes count for the fixpoint */
    local *v;
    int n, cap;
} scope;

typedef struct aattr {
    const char *name;
    const sf_type *type;      /* final */
    const sf_type *ann;       /* first annotation */
    int ann_line;
    const sf_type *inferred;
    int infer_conflict;
    sf_pos pos;               /* first assignment */
    int in_init;
    int remote;               /* read or written through a reference */
    int is_key;
} aattr;

typedef struct aedge {
    int ent;                  /* target entity */
    const char *method;
    sf_pos pos;
    int remote;
    const char *where, *fix;  /* local calls: the context forbidding remote operations */
} aedge;

typedef struct ameth {
    const char *name;
    sf_stmt *def;             /* NULL for accessors */
    int line;
    unsigned flags;
    int accessor;
    const char *selfname;
    sf_ir_param *params;
    int nparams;
    int nrequired;
    const sf_type *returns;
    const char **reads;
    int nreads, capreads;
    const char **writes;
    int nwrites, capwrites;
    sf_ir_call *calls;
    int ncalls, capcalls;
    aedge *edges;
    int nedges, capedges;
    int direct_write;
    int odd_params;           /* *args, **kwargs or keyword-only (already an error) */
} ameth;

typedef struct aent {
    const char *name;
    sf_stmt *cls;
    sf_type *type;            /* the entity's reference type */
    aattr *attrs;
    int nattrs, capattrs;
    ameth *meths;
    int nmeths, capmeths;
    int nuser;                /* methods written by the user (before accessors) */
    const char **clsnames;    /* names assigned in the class body */
    int nclsnames, capclsnames;
    const char **key;
    int nkey;
    int has_bases;            /* members may be inherited: no "has no ..." errors */
} aent;

typedef struct modname {
    const char *name;
    sf_expr *value;           /* `name = value` at module level (alias candidate) */
    sf_stmt *def;             /* `def name` at module level */
} modname;

typedef struct nested {
    const sf_stmt *def;
    scope *sc;
} nested;

typedef struct actx {
    sf_program *p;
    sf_diag *d;
    sf_arena *ast, *ira;
    aent *ents;
    int nents, capents;
    modname *mods;
    int nmods, capmods;
    int star_import;
    nested *nest;
    int nnest, capnest;
    const sf_type *t_any, *t_none, *t_bool, *t_int, *t_float, *t_str, *t_bytes, *t_tuple;
} actx;

/* ---- errors ------------------------------------------------------------- */

static void aerr(actx *a, sf_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void aerr(actx *a, sf_pos pos, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sf_diag_error(a->d, pos.line, pos.col, "%s", buf);
}

/* ---- types -------------------------------------------------------------- */

static sf_type *tnew(actx *a, sf_type_kind k, int nargs)
{
    sf_type *t = sf_arena_alloc(a->ira, sizeof(*t));
    t->kind = k;
    if (nargs > 0)
        t->args = sf_arena_alloc(a->ira, (size_t)nargs * sizeof(*t->args));
    t->nargs = nargs;
    return t;
}

static const sf_type *t1(actx *a, sf_type_kind k, const sf_type *x)
{
    sf_type *t = tnew(a, k, 1);
    t->args[0] = x ? x : a->t_any;
    return t;
}

static const sf_type *t2(actx *a, sf_type_kind k, const sf_type *x, const sf_type *y)
{
    sf_type *t = tnew(a, k, 2);
    t->args[0] = x ? x : a->t_any;
    t->args[1] = y ? y : a->t_any;
    return t;
}

static const sf_type *targ(const sf_type *t, int i)
{
    return t && i >= 0 && i < t->nargs && t->args ? t->args[i] : NULL;
}

static int tkind(const sf_type *t, sf_type_kind k) { return t && t->kind == k; }

static int teq(const sf_type *x, const sf_type *y)
{
    if (!x || !y)
        return x == y;
    return sf_type_equal(x, y);
}

static const char *ref_entity(const sf_type *t) { return sf_type_entity(t); }

static int mentions_entity(const sf_type *t, int depth)
{
    if (!t || depth > 64)
        return 0;
    if (t->kind == SF_TYPE_ENTITY)
        return 1;
    for (int i = 0; i < t->nargs; i++)
        if (mentions_entity(targ(t, i), depth + 1))
            return 1;
    return 0;
}

static const char *tfmt(actx *a, const sf_type *t)
{
    char buf[256];
    sf_type_format(t, buf, sizeof(buf));
    return sf_arena_strdup(a->ast, buf);
}

static const sf_type *topt(actx *a, const sf_type *t)
{
    if (!t)
        return NULL;
    if (t->kind == SF_TYPE_NONE || t->kind == SF_TYPE_OPTIONAL || t->kind == SF_TYPE_ANY)
        return t;
    return t1(a, SF_TYPE_OPTIONAL, t);
}

static int immutable(const sf_type *t, int depth)
{
    if (!t || depth > 64)
        return 0;
    switch (t->kind) {
    case SF_TYPE_INT: case SF_TYPE_FLOAT: case SF_TYPE_STR: case SF_TYPE_BYTES:
    case SF_TYPE_BOOL: case SF_TYPE_NONE: case SF_TYPE_ENTITY:
        return 1;
    case SF_TYPE_OPTIONAL:
        return immutable(targ(t, 0), depth + 1);
    case SF_TYPE_TUPLE:
        if (t->nargs == 0)
            return 0;
        for (int i = 0; i < t->nargs; i++)
            if (!immutable(targ(t, i), depth + 1))
                return 0;
        return 1;
    default:
        return 0;
    }
}

/* Element type when iterating over a value of type t (NULL when unknown). */
static const sf_type *elem_type(actx *a, const sf_type *t)
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
static const sf_type *join_strict(actx *a, const sf_type *x, const sf_type *y)
{
    if (teq(x, y))
        return x;
    if (x->kind == SF_TYPE_NONE)
        return topt(a, y);
    if (y->kind == SF_TYPE_NONE)
        return topt(a, x);
    if (x->kind == SF_TYPE_OPTIONAL && teq(targ(x, 0), y))
        return x;
    if (y->kind == SF_TYPE_OPTIONAL && teq(targ(y, 0), x))
        return y;
    return NULL;
}

/* Flow-insensitive join for local variables: a conflict keeps the first
 * type, unless an entity is involved (then *poison: the variable is
 * left untyped rather than wrongly treated as a reference or not). */
static const sf_type *tjoin(actx *a, const sf_type *old, const sf_type *nw, int *poison)
{
    *poison = 0;
    const sf_type *j = join_strict(a, old, nw);
    if (j)
        return j;
    if (mentions_entity(old, 0) || mentions_entity(nw, 0))
        *poison = 1;
    return old;
}

/* ---- small lookups ------------------------------------------------------ */

static int find_ent(const actx *a, const char *name)
{
    for (int i = 0; i < a->nents; i++)
        if (strcmp(a->ents[i].name, name) == 0)
            return i;
    return -1;
}

static int find_attr(const aent *e, const char *name)
{
    for (int i = 0; i < e->nattrs; i++)
        if (strcmp(e->attrs[i].name, name) == 0)
            return i;
    return -1;
}

static int find_meth(const aent *e, const char *name)
{
    for (int i = 0; i < e->nmeths; i++)
        if (strcmp(e->meths[i].name, name) == 0)
            return i;
    return -1;
}

static int is_clsname(const aent *e, const char *name)
{
    for (int i = 0; i < e->nclsnames; i++)
        if (strcmp(e->clsnames[i], name) == 0)
            return 1;
    return 0;
}

static int find_mod(const actx *a, const char *name)
{
    for (int i = 0; i < a->nmods; i++)
        if (strcmp(a->mods[i].name, name) == 0)
            return i;
    return -1;
}

static int is_dunder(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && n[0] == '_' && n[1] == '_' && n[l - 1] == '_' && n[l - 2] == '_';
}

static int is_internal_name(const char *n)
{
    return is_dunder(n) || strncmp(n, "_sf_", 4) == 0;
}

/* ---- module-level names ------------------------------------------------- */

static void add_mod(actx *a, const char *name, sf_expr *value, sf_stmt *def)
{
    if (find_mod(a, name) >= 0)
        return;
    modname m = {name, value, def};
    VPUSH(a->ast, a->mods, a->nmods, a->capmods, m);
}

static void add_mod_target(actx *a, sf_expr *t, sf_expr *value)
{
    if (t->kind == SF_EX_NAME)
        add_mod(a, t->u.name.id, value, NULL);
    else if (t->kind == SF_EX_TUPLE || t->kind == SF_EX_LIST)
        for (int i = 0; i < t->u.seq.elts.n; i++)
            add_mod_target(a, t->u.seq.elts.v[i], NULL);
    else if (t->kind == SF_EX_STARRED)
        add_mod_target(a, t->u.starred.value, NULL);
}

static void collect_mods(actx *a, const sf_stmt_list *body, int depth)
{
    if (depth > A_MAX_MODULE_DEPTH)
        return;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_CLASSDEF:
            add_mod(a, s->u.cls.name, NULL, NULL);
            break;
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
            add_mod(a, s->u.func.name, NULL, s);
            break;
        case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
            for (int k = 0; k < s->u.import.nnames; k++) {
                const sf_alias *al = &s->u.import.names[k];
                if (strcmp(al->name, "*") == 0) {
                    a->star_import = 1;
                } else if (al->asname) {
                    add_mod(a, al->asname, NULL, NULL);
                } else if (s->kind == SF_ST_IMPORT) {
                    const char *dot = strchr(al->name, '.');
                    add_mod(a, dot ? sf_arena_strndup(a->ast, al->name, (size_t)(dot - al->name))
                                   : al->name, NULL, NULL);
                } else {
                    add_mod(a, al->name, NULL, NULL);
                }
            }
            break;
        case SF_ST_ASSIGN:
            for (int k = 0; k < s->u.assign.targets.n; k++)
                add_mod_target(a, s->u.assign.targets.v[k],
                               s->u.assign.targets.n == 1 ? s->u.assign.value : NULL);
            break;
        case SF_ST_ANNASSIGN:
            add_mod_target(a, s->u.annassign.target, s->u.annassign.value);
            break;
        case SF_ST_IF:
            collect_mods(a, &s->u.if_.body, depth + 1);
            collect_mods(a, &s->u.if_.orelse, depth + 1);
            break;
        case SF_ST_WHILE:
            collect_mods(a, &s->u.while_.body, depth + 1);
            collect_mods(a, &s->u.while_.orelse, depth + 1);
            break;
        case SF_ST_FOR: case SF_ST_ASYNCFOR:
            add_mod_target(a, s->u.for_.target, NULL);
            collect_mods(a, &s->u.for_.body, depth + 1);
            collect_mods(a, &s->u.for_.orelse, depth + 1);
            break;
        case SF_ST_WITH: case SF_ST_ASYNCWITH:
            for (int k = 0; k < s->u.with.nitems; k++)
                if (s->u.with.items[k].vars)
                    add_mod_target(a, s->u.with.items[k].vars, NULL);
            collect_mods(a, &s->u.with.body, depth + 1);
            break;
        case SF_ST_TRY: case SF_ST_TRYSTAR:
            collect_mods(a, &s->u.try_.body, depth + 1);
            for (int k = 0; k < s->u.try_.nhandlers; k++) {
                if (s->u.try_.handlers[k].name)
                    add_mod(a, s->u.try_.handlers[k].name, NULL, NULL);
                collect_mods(a, &s->u.try_.handlers[k].body, depth + 1);
            }
            collect_mods(a, &s->u.try_.orelse, depth + 1);
            collect_mods(a, &s->u.try_.finalbody, depth + 1);
            break;
        default:
            break;
        }
    }
}

/* ---- annotations -------------------------------------------------------- */

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
    case H_LIST: return t1(a, SF_TYPE_LIST, a->t_any);
    case H_SET: return t1(a, SF_TYPE_SET, a->t_any);
    case H_DICT: return t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
    case H_TUPLE: return a->t_tuple;
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

static const sf_type *resolve(actx *a, sf_expr *e, int report, int depth);

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
            aerr(a, e->pos, "invalid type annotation '%.100s'", p.s);
        return NULL;
    }
    return resolve(a, x, report, depth + 1);
}

static const sf_type *resolve_union(actx *a, sf_expr **v, int n, sf_pos pos, int report, int depth)
{
    const sf_type *members[32];
    int nm = 0, has_none = 0, failed = 0, too_many = 0;
    for (int i = 0; i < n; i++) {
        const sf_type *t = resolve(a, v[i], report, depth + 1);
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
        return has_none ? topt(a, members[0]) : members[0];
    for (int k = 0; k < nm; k++)
        if (mentions_entity(members[k], 0)) {
            if (report)
                aerr(a, pos, "a union of an entity type with other types is not supported: "
                             "use Optional[...] of one entity type");
            return NULL;
        }
    return a->t_any;
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
        if (find_ent(a, id) >= 0)
            return -1;
        int h = special_head(id);
        if (h != H_BAD)
            return h;
        if (find_mod(a, id) >= 0 || a->star_import)
            return H_OPAQUE;
        if (report)
            aerr(a, b->pos, "unknown type '%s' in annotation", id);
        return H_BAD;
    }
    if (b->kind == SF_EX_ATTR) {
        sf_expr *r = b;
        while (r->kind == SF_EX_ATTR)
            r = r->u.attr.value;
        if (r->kind == SF_EX_NAME && (find_mod(a, r->u.name.id) >= 0 || a->star_import ||
                                      strcmp(r->u.name.id, "typing") == 0)) {
            int h = special_head(b->u.attr.attr);
            return h != H_BAD ? h : H_OPAQUE;
        }
        if (report)
            aerr(a, b->pos, "unknown type '%s' in annotation", dotted(a, b));
        return H_BAD;
    }
    if (report)
        aerr(a, b->pos, "invalid type annotation");
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
            aerr(a, e->pos, "entity type '%s' does not take type arguments", head_name(b));
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
            aerr(a, e->pos, "type '%s' does not take type arguments", hn);
        return NULL;
    }
    if (want > 0 && n != want) {
        if (report)
            aerr(a, e->pos, "%s[...] takes %d type argument%s but %d %s given", hn, want,
                 want == 1 ? "" : "s", n, n == 1 ? "was" : "were");
        return NULL;
    }
    switch (h) {
    case H_LIST: case H_SET: {
        const sf_type *x = resolve(a, args[0], report, depth + 1);
        return x ? t1(a, h == H_LIST ? SF_TYPE_LIST : SF_TYPE_SET, x) : NULL;
    }
    case H_OPTIONAL: {
        const sf_type *x = resolve(a, args[0], report, depth + 1);
        return x ? topt(a, x) : NULL;
    }
    case H_DICT: {
        const sf_type *k = resolve(a, args[0], report, depth + 1);
        const sf_type *v = resolve(a, args[1], report, depth + 1);
        return k && v ? t2(a, SF_TYPE_DICT, k, v) : NULL;
    }
    case H_TUPLE: {
        if (sl->kind == SF_EX_TUPLE && n == 0)
            return a->t_tuple; /* Tuple[()] */
        if (n == 2 && args[1]->kind == SF_EX_CONST && args[1]->u.constant.kind == SF_CONST_ELLIPSIS)
            return resolve(a, args[0], report, depth + 1) ? a->t_tuple : NULL;
        sf_type *t = tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++) {
            const sf_type *x = resolve(a, args[i], report, depth + 1);
            if (!x)
                return NULL;
            t->args[i] = x;
        }
        return t;
    }
    case H_UNION:
        return resolve_union(a, args, n, e->pos, report, depth);
    default:
        return a->t_any; /* Callable[...], a user generic, ... */
    }
}

/* Type of an annotation expression; NULL after reporting an error (when
 * report) or when it cannot be understood. */
static const sf_type *resolve(actx *a, sf_expr *e, int report, int depth)
{
    if (!e)
        return NULL;
    if (depth > SF_IR_MAX_TYPE_DEPTH) {
        if (report)
            aerr(a, e->pos, "type annotation nested too deeply");
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
        int ei = find_ent(a, id);
        if (ei >= 0)
            return a->ents[ei].type;
        int h = special_head(id);
        if (h != H_BAD)
            return head_bare(a, h);
        int m = find_mod(a, id);
        if (m >= 0) {
            sf_expr *v = a->mods[m].value;
            if (v && (v->kind == SF_EX_NAME || v->kind == SF_EX_ATTR || v->kind == SF_EX_SUBSCRIPT ||
                      (v->kind == SF_EX_BINOP && v->u.binop.op == SF_OP_BITOR))) {
                const sf_type *t = resolve(a, v, 0, depth + 1);
                if (t)
                    return t;
            }
            return a->t_any;
        }
        if (a->star_import)
            return a->t_any;
        if (report)
            aerr(a, e->pos, "unknown type '%s' in annotation", id);
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
        aerr(a, e->pos, "invalid type annotation");
    return NULL;
}

static const sf_type *resolve_or_any(actx *a, sf_expr *e, int report)
{
    const sf_type *t = resolve(a, e, report, 0);
    return t ? t : a->t_any;
}

/* ---- entities, signatures ----------------------------------------------- */

static int has_entity_decorator(const sf_stmt *cls)
{
    for (int i = 0; i < cls->u.cls.decorators.n; i++)
        if (sf_is_entity_decorator(cls->u.cls.decorators.v[i]))
            return 1;
    return 0;
}

static void add_clsname(actx *a, aent *en, sf_expr *t)
{
    if (t->kind == SF_EX_NAME)
        VPUSH(a->ast, en->clsnames, en->nclsnames, en->capclsnames, t->u.name.id);
    else if (t->kind == SF_EX_TUPLE || t->kind == SF_EX_LIST)
        for (int i = 0; i < t->u.seq.elts.n; i++)
            add_clsname(a, en, t->u.seq.elts.v[i]);
}

static void find_entities(actx *a)
{
    const sf_stmt_list *body = &a->p->mod->body;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        if (s->kind != SF_ST_CLASSDEF || !has_entity_decorator(s))
            continue;
        if (find_ent(a, s->u.cls.name) >= 0) {
            aerr(a, s->pos, "entity '%s' is defined twice", s->u.cls.name);
            continue;
        }
        aent en;
        memset(&en, 0, sizeof(en));
        en.name = s->u.cls.name;
        en.cls = s;
        en.type = tnew(a, SF_TYPE_ENTITY, 0);
        en.type->entity = sf_arena_strdup(a->ira, s->u.cls.name);
        VPUSH(a->ast, a->ents, a->nents, a->capents, en);
    }
}

static void check_class(actx *a, aent *en)
{
    sf_stmt *s = en->cls;
    for (int i = 0; i < s->u.cls.bases.n; i++) {
        sf_expr *b = s->u.cls.bases.v[i];
        if (b->kind == SF_EX_NAME && strcmp(b->u.name.id, "object") == 0)
            continue;
        en->has_bases = 1;
        aerr(a, b->pos, "base classes are not supported for entities (entity '%s')", en->name);
    }
    if (s->u.cls.nkw > 0)
        aerr(a, s->u.cls.kw[0].value ? s->u.cls.kw[0].value->pos : s->pos,
             "class keywords are not supported for entities (entity '%s')", en->name);
    for (int i = 0; i < s->u.cls.decorators.n; i++) {
        sf_expr *d = s->u.cls.decorators.v[i];
        if (!sf_is_entity_decorator(d))
            aerr(a, d->pos, "only the entity decorator is supported on entity '%s'", en->name);
    }
}

static void signature(actx *a, aent *en, ameth *m)
{
    sf_stmt *def = m->def;
    const char *E = en->name, *M = m->name;
    int is_init = strcmp(M, "__init__") == 0;
    int is_key = strcmp(M, "__key__") == 0;
    if (def->kind == SF_ST_ASYNCFUNCTIONDEF)
        aerr(a, def->pos, "async methods are not supported in entities (%s.%s)", E, M);
    for (int i = 0; i < def->u.func.decorators.n; i++) {
        sf_expr *d = def->u.func.decorators.v[i];
        const char *dn = d->kind == SF_EX_NAME ? d->u.name.id : "";
        if (strcmp(dn, "staticmethod") == 0)
            aerr(a, d->pos, "static methods are not supported in entities: make %s.%s a "
                            "module-level function", E, M);
        else if (strcmp(dn, "classmethod") == 0)
            aerr(a, d->pos, "class methods are not supported in entities: make %s.%s a "
                            "module-level function", E, M);
        else if (strcmp(dn, "property") == 0)
            aerr(a, d->pos, "properties are not supported in entities: make %s.%s a method", E, M);
        else
            aerr(a, d->pos, "decorators on entity methods are not supported (%s.%s)", E, M);
    }
    if (strncmp(M, "_sf_", 4) == 0)
        aerr(a, def->pos, "method names starting with '_sf_' are reserved (%s.%s)", E, M);
    if (is_init)
        m->flags |= SF_METHOD_INIT;
    else if (is_internal_name(M))
        m->flags |= SF_METHOD_INTERNAL;

    sf_arguments *args = def->u.func.args;
    int npos = args ? args->nposonly + args->nargs : 0;
    if (args) {
        m->odd_params = args->vararg || args->kwarg || args->nkwonly > 0;
        if (args->vararg)
            aerr(a, args->vararg->pos, "*%s is not supported in entity methods (%s.%s): use a list "
                                       "parameter", args->vararg->name, E, M);
        if (args->kwarg)
            aerr(a, args->kwarg->pos, "**%s is not supported in entity methods (%s.%s): use a dict "
                                      "parameter", args->kwarg->name, E, M);
        for (int i = 0; i < args->nkwonly; i++)
            aerr(a, args->kwonly[i].pos, "keyword-only parameter '%s' of %s.%s is not supported: "
                                         "make it a positional parameter", args->kwonly[i].name, E, M);
    }
    if (npos == 0) {
        aerr(a, def->pos, "method %s.%s must take self as its first parameter", E, M);
        m->selfname = NULL;
    } else {
        sf_arg *first = args->nposonly > 0 ? &args->posonly[0] : &args->args[0];
        m->selfname = first->name;
    }
    int np = npos > 0 ? npos - 1 : 0;
    m->params = np ? sf_arena_alloc(a->ira, (size_t)np * sizeof(sf_ir_param)) : NULL;
    m->nparams = np;
    int ndef = args ? args->defaults.n : 0;
    for (int i = 1; i < npos; i++) {
        sf_arg *ar = i < args->nposonly ? &args->posonly[i] : &args->args[i - args->nposonly];
        sf_ir_param *pp = &m->params[i - 1];
        pp->name = sf_arena_strdup(a->ira, ar->name);
        pp->has_default = i >= npos - ndef;
        if (!pp->has_default)
            m->nrequired++;
        if (ar->annotation) {
            pp->type = resolve_or_any(a, ar->annotation, 1);
        } else {
            pp->type = a->t_any;
            if (!is_init)
                aerr(a, ar->pos, "parameter '%s' of %s.%s has no type hint", ar->name, E, M);
        }
    }
    if (is_key && np > 0)
        aerr(a, def->pos, "__key__ of entity '%s' must take no parameters besides self", E);
    if (is_init) {
        m->returns = a->t_none;
    } else if (is_key) {
        m->returns = a->t_any; /* set from the key attributes later */
    } else if (def->u.func.returns) {
        m->returns = resolve_or_any(a, def->u.func.returns, 1);
    } else {
        m->returns = a->t_any;
        aerr(a, def->pos, "method %s.%s has no return type hint", E, M);
    }
}

static void scan_class(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    check_class(a, en);
    const sf_stmt_list *body = &en->cls->u.cls.body;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF: {
            if (find_meth(en, s->u.func.name) >= 0) {
                aerr(a, s->pos, "method '%s' is defined twice in entity '%s'", s->u.func.name, en->name);
                continue;
            }
            ameth m;
            memset(&m, 0, sizeof(m));
            m.name = s->u.func.name;
            m.def = s;
            m.line = s->pos.line;
            VPUSH(a->ast, en->meths, en->nmeths, en->capmeths, m);
            break;
        }
        case SF_ST_CLASSDEF:
            aerr(a, s->pos, "nested classes are not supported in entities (class '%s' in entity '%s')",
                 s->u.cls.name, en->name);
            break;
        case SF_ST_ASSIGN:
            for (int k = 0; k < s->u.assign.targets.n; k++)
                add_clsname(a, en, s->u.assign.targets.v[k]);
            break;
        case SF_ST_ANNASSIGN:
            add_clsname(a, en, s->u.annassign.target);
            break;
        case SF_ST_EXPR: case SF_ST_PASS:
            break;
        default:
            aerr(a, s->pos, "only methods and constants are supported in the body of entity '%s'",
                 en->name);
            break;
        }
    }
    en->nuser = en->nmeths;
    for (int i = 0; i < en->nmeths; i++)
        signature(a, en, &en->meths[i]);
    if (find_meth(en, "__init__") < 0)
        aerr(a, en->cls->pos, "entity '%s' has no __init__", en->name);
    if (find_meth(en, "__key__") < 0)
        aerr(a, en->cls->pos, "entity '%s' has no __key__ method", en->name);
}

/* ---- attributes --------------------------------------------------------- */

static const sf_type *param_type(const ameth *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].type;
    return NULL;
}

/* The type of a value assigned to an attribute without annotation: literal,
 * constructor of an empty container, or a typed parameter. NULL: unknown. */
static const sf_type *infer_value(actx *a, const ameth *m, const sf_expr *v)
{
    if (!v)
        return NULL;
    switch (v->kind) {
    case SF_EX_CONST:
        switch (v->u.constant.kind) {
        case SF_CONST_NONE: return a->t_none;
        case SF_CONST_BOOL: return a->t_bool;
        case SF_CONST_INT: return a->t_int;
        case SF_CONST_FLOAT: return a->t_float;
        case SF_CONST_STR: return a->t_str;
        case SF_CONST_BYTES: return a->t_bytes;
        default: return a->t_any;
        }
    case SF_EX_UNARYOP:
        if ((v->u.unaryop.op == SF_OP_USUB || v->u.unaryop.op == SF_OP_UADD) &&
            v->u.unaryop.operand->kind == SF_EX_CONST) {
            sf_const_kind k = v->u.unaryop.operand->u.constant.kind;
            if (k == SF_CONST_INT || k == SF_CONST_BOOL)
                return a->t_int;
            if (k == SF_CONST_FLOAT)
                return a->t_float;
        }
        return NULL;
    case SF_EX_LIST: case SF_EX_LISTCOMP: return t1(a, SF_TYPE_LIST, a->t_any);
    case SF_EX_SET: case SF_EX_SETCOMP: return t1(a, SF_TYPE_SET, a->t_any);
    case SF_EX_DICT: case SF_EX_DICTCOMP: return t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
    case SF_EX_TUPLE: return a->t_tuple;
    case SF_EX_JOINEDSTR: return a->t_str;
    case SF_EX_CALL: {
        const sf_expr *f = v->u.call.func;
        if (f->kind != SF_EX_NAME || find_mod(a, f->u.name.id) >= 0)
            return NULL;
        const char *id = f->u.name.id;
        if (strcmp(id, "list") == 0) return t1(a, SF_TYPE_LIST, a->t_any);
        if (strcmp(id, "set") == 0) return t1(a, SF_TYPE_SET, a->t_any);
        if (strcmp(id, "dict") == 0) return t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
        if (strcmp(id, "tuple") == 0) return a->t_tuple;
        if (strcmp(id, "str") == 0) return a->t_str;
        if (strcmp(id, "int") == 0) return a->t_int;
        if (strcmp(id, "float") == 0) return a->t_float;
        if (strcmp(id, "bool") == 0) return a->t_bool;
        return NULL;
    }
    case SF_EX_NAME:
        return param_type(m, v->u.name.id);
    default:
        return NULL;
    }
}

static void define_attr(actx *a, int ei, int mi, sf_expr *target, sf_expr *value, int has_value,
                        sf_expr *ann)
{
    aent *en = &a->ents[ei];
    const char *name = target->u.attr.attr;
    int ai = find_attr(en, name);
    if (ai < 0) {
        aattr at;
        memset(&at, 0, sizeof(at));
        at.name = name;
        at.pos = target->pos;
        VPUSH(a->ast, en->attrs, en->nattrs, en->capattrs, at);
        ai = en->nattrs - 1;
        if (find_meth(en, name) >= 0)
            aerr(a, target->pos, "attribute '%s' of entity '%s' has the same name as a method",
                 name, en->name);
    }
    aattr *at = &en->attrs[ai];
    const ameth *m = &en->meths[mi];
    if (ann) {
        const sf_type *t = resolve_or_any(a, ann, 1);
        if (!at->ann) {
            at->ann = t;
            at->ann_line = ann->pos.line;
        } else if (!teq(at->ann, t)) {
            aerr(a, ann->pos, "attribute '%s' of entity '%s' is annotated as '%s' here but as '%s' "
                              "at line %d", name, en->name, tfmt(a, t), tfmt(a, at->ann), at->ann_line);
        }
    } else if (has_value && !at->infer_conflict) {
        const sf_type *t = infer_value(a, m, value);
        if (t) {
            if (!at->inferred) {
                at->inferred = t;
            } else {
                const sf_type *j = join_strict(a, at->inferred, t);
                if (!j) {
                    at->infer_conflict = 1;
                    at->inferred = a->t_any;
                } else {
                    at->inferred = j;
                }
            }
        }
    }
    if (has_value && strcmp(m->name, "__init__") == 0)
        at->in_init = 1;
}

static int is_name(const sf_expr *e, const char *id)
{
    return id && e && e->kind == SF_EX_NAME && strcmp(e->u.name.id, id) == 0;
}

static void attr_target(actx *a, int ei, int mi, sf_expr *t, sf_expr *value, int has_value,
                        sf_expr *ann, int depth)
{
    const char *self = a->ents[ei].meths[mi].selfname;
    if (depth > A_MAX_DEPTH)
        return;
    switch (t->kind) {
    case SF_EX_ATTR:
        if (is_name(t->u.attr.value, self))
            define_attr(a, ei, mi, t, value, has_value, ann);
        break;
    case SF_EX_TUPLE: case SF_EX_LIST: {
        int n = t->u.seq.elts.n;
        int pair = value && (value->kind == SF_EX_TUPLE || value->kind == SF_EX_LIST) &&
                   value->u.seq.elts.n == n;
        for (int i = 0; i < n && pair; i++)
            if (t->u.seq.elts.v[i]->kind == SF_EX_STARRED ||
                value->u.seq.elts.v[i]->kind == SF_EX_STARRED)
                pair = 0;
        for (int i = 0; i < n; i++)
            attr_target(a, ei, mi, t->u.seq.elts.v[i], pair ? value->u.seq.elts.v[i] : NULL,
                        has_value, NULL, depth + 1);
        break;
    }
    case SF_EX_STARRED:
        attr_target(a, ei, mi, t->u.starred.value, NULL, has_value, NULL, depth + 1);
        break;
    default:
        break;
    }
}

static void scan_attrs(actx *a, int ei, int mi, const sf_stmt_list *body, int depth)
{
    if (depth > A_MAX_DEPTH)
        return;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_ASSIGN:
            for (int k = 0; k < s->u.assign.targets.n; k++)
                attr_target(a, ei, mi, s->u.assign.targets.v[k], s->u.assign.value, 1, NULL, 0);
            break;
        case SF_ST_ANNASSIGN:
            attr_target(a, ei, mi, s->u.annassign.target, s->u.annassign.value,
                        s->u.annassign.value != NULL, s->u.annassign.annotation, 0);
            break;
        case SF_ST_FOR: case SF_ST_ASYNCFOR:
            attr_target(a, ei, mi, s->u.for_.target, NULL, 1, NULL, 0);
            scan_attrs(a, ei, mi, &s->u.for_.body, depth + 1);
            scan_attrs(a, ei, mi, &s->u.for_.orelse, depth + 1);
            break;
        case SF_ST_WHILE:
            scan_attrs(a, ei, mi, &s->u.while_.body, depth + 1);
            scan_attrs(a, ei, mi, &s->u.while_.orelse, depth + 1);
            break;
        case SF_ST_IF:
            scan_attrs(a, ei, mi, &s->u.if_.body, depth + 1);
            scan_attrs(a, ei, mi, &s->u.if_.orelse, depth + 1);
            break;
        case SF_ST_WITH: case SF_ST_ASYNCWITH:
            for (int k = 0; k < s->u.with.nitems; k++)
                if (s->u.with.items[k].vars)
                    attr_target(a, ei, mi, s->u.with.items[k].vars, NULL, 1, NULL, 0);
            scan_attrs(a, ei, mi, &s->u.with.body, depth + 1);
            break;
        case SF_ST_TRY: case SF_ST_TRYSTAR:
            scan_attrs(a, ei, mi, &s->u.try_.body, depth + 1);
            for (int k = 0; k < s->u.try_.nhandlers; k++)
                scan_attrs(a, ei, mi, &s->u.try_.handlers[k].body, depth + 1);
            scan_attrs(a, ei, mi, &s->u.try_.orelse, depth + 1);
            scan_attrs(a, ei, mi, &s->u.try_.finalbody, depth + 1);
            break;
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
            scan_attrs(a, ei, mi, &s->u.func.body, depth + 1); /* closures over self */
            break;
        default:
            break;
        }
    }
}

static void collect_attrs(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    for (int mi = 0; mi < en->nuser; mi++) {
        en = &a->ents[ei];
        if (en->meths[mi].selfname)
            scan_attrs(a, ei, mi, &en->meths[mi].def->u.func.body, 0);
    }
    en = &a->ents[ei];
    for (int i = 0; i < en->nattrs; i++) {
        aattr *at = &en->attrs[i];
        if (at->ann)
            at->type = at->ann;
        else if (at->inferred && at->inferred->kind != SF_TYPE_NONE)
            at->type = at->inferred;
        else
            at->type = a->t_any;
    }
}

static void check_key(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    int mi = find_meth(en, "__key__");
    if (mi < 0)
        return;
    ameth *m = &en->meths[mi];
    sf_stmt *def = m->def;
    const sf_stmt_list *body = &def->u.func.body;
    int i = 0;
    if (body->n > 1 && body->v[0]->kind == SF_ST_EXPR && body->v[0]->u.expr.value->kind == SF_EX_CONST &&
        body->v[0]->u.expr.value->u.constant.kind == SF_CONST_STR)
        i = 1; /* docstring */
    sf_expr *v = NULL;
    if (body->n == i + 1 && body->v[i]->kind == SF_ST_RETURN)
        v = body->v[i]->u.ret.value;
    sf_expr *one[1] = {v};
    sf_expr **items = one;
    int n = 1;
    if (v && v->kind == SF_EX_TUPLE) {
        items = v->u.seq.elts.v;
        n = v->u.seq.elts.n;
    }
    int ok = v != NULL && n > 0;
    for (int k = 0; ok && k < n; k++)
        if (items[k]->kind != SF_EX_ATTR || !is_name(items[k]->u.attr.value, m->selfname))
            ok = 0;
    if (!ok) {
        sf_pos pos = v ? v->pos : body->n > i ? body->v[i]->pos : def->pos;
        aerr(a, pos, "__key__ of entity '%s' must return an attribute of self or a tuple of them "
                     "(e.g. `return self.id`)", en->name);
        return;
    }
    int has_init = find_meth(en, "__init__") >= 0; /* else that error is enough */
    en->key = sf_arena_alloc(a->ast, (size_t)n * sizeof(*en->key));
    sf_type *kt = n > 1 ? tnew(a, SF_TYPE_TUPLE, n) : NULL;
    const sf_type *single = a->t_any;
    for (int k = 0; k < n; k++) {
        const char *name = items[k]->u.attr.attr;
        int ai = find_attr(en, name);
        if (ai < 0 || !en->attrs[ai].in_init) {
            if (has_init)
                aerr(a, items[k]->pos, "key attribute '%s' of entity '%s' is not assigned in __init__",
                     name, en->name);
            continue;
        }
        en->attrs[ai].is_key = 1;
        int dup = 0;
        for (int j = 0; j < en->nkey; j++)
            if (strcmp(en->key[j], name) == 0)
                dup = 1;
        if (dup) {
            aerr(a, items[k]->pos, "key attribute '%s' of entity '%s' is listed twice", name, en->name);
            continue;
        }
        en->key[en->nkey++] = name;
        if (kt)
            kt->args[k] = en->attrs[ai].type;
        else
            single = en->attrs[ai].type;
    }
    if (kt)
        for (int k = 0; k < n; k++)
            if (!kt->args[k])
                kt->args[k] = a->t_any;
    m->returns = kt ? kt : single;
}

/* ---- scopes ------------------------------------------------------------- */

static scope *scope_new(actx *a, scope *parent, int kind, int persistent)
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

static local *lookup(scope *s, const char *name)
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

static local *add_param(actx *a, scope *s, const char *name, const sf_type *t)
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

/* ---- rootsets ----------------------------------------------------------- */

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

static int rs_union(rootset *r, const rootset *o)
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

/* ---- walking method bodies ---------------------------------------------- */

typedef struct mctx {
    actx *a;
    int ent, meth;            /* -1 when walking a function outside entities */
    scope *sc;
    int final, changed;
    const char *where, *fix;  /* remote operations are forbidden here (NULL: allowed) */
    int outside;
    int nested;               /* inside a nested def or lambda */
    int depth;
    int too_deep;
} mctx;

typedef struct saved { const char *where, *fix; } saved;

static saved enter(mctx *mc, const char *where, const char *fix)
{
    saved s = {mc->where, mc->fix};
    if (!mc->outside) {
        mc->where = where;
        mc->fix = fix;
    }
    return s;
}

static void leave(mctx *mc, saved s)
{
    mc->where = s.where;
    mc->fix = s.fix;
}

static aent *cur_ent(mctx *mc) { return mc->ent >= 0 ? &mc->a->ents[mc->ent] : NULL; }
static ameth *cur_meth(mctx *mc) { return mc->ent >= 0 ? &mc->a->ents[mc->ent].meths[mc->meth] : NULL; }

static int in_entity(const mctx *mc) { return mc->ent >= 0 && !mc->outside; }

static void merr(mctx *mc, sf_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void merr(mctx *mc, sf_pos pos, const char *fmt, ...)
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

static int is_self_name(mctx *mc, const sf_expr *e)
{
    if (!in_entity(mc) || !e || e->kind != SF_EX_NAME)
        return 0;
    local *l = lookup(mc->sc, e->u.name.id);
    return l && l->is_self;
}

static void push_name(actx *a, const char ***v, int *n, int *cap, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*v)[i], name) == 0)
            return;
    const char *s = sf_arena_strdup(a->ira, name);
    VPUSH(a->ast, *v, *n, *cap, s);
}

static void rec_read(mctx *mc, int ai)
{
    if (!mc->final || !in_entity(mc))
        return;
    ameth *m = cur_meth(mc);
    push_name(mc->a, &m->reads, &m->nreads, &m->capreads, cur_ent(mc)->attrs[ai].name);
}

static void rec_write(mctx *mc, int ai)
{
    if (!mc->final || !in_entity(mc))
        return;
    ameth *m = cur_meth(mc);
    m->direct_write = 1;
    push_name(mc->a, &m->writes, &m->nwrites, &m->capwrites, cur_ent(mc)->attrs[ai].name);
}

static void rec_writes(mctx *mc, const rootset *r)
{
    if (!mc->final || !in_entity(mc))
        return;
    aent *en = cur_ent(mc);
    if (r->all) {
        for (int i = 0; i < en->nattrs; i++)
            rec_write(mc, i);
        return;
    }
    for (int i = 0; i < r->n; i++)
        rec_write(mc, r->v[i]);
}

/* A remote operation at pos: call of entity ti's method (an accessor when
 * ai >= 0). */
static void rec_remote(mctx *mc, sf_pos pos, int ti, const char *method, const char *op, int ai)
{
    if (!mc->final)
        return;
    actx *a = mc->a;
    if (mc->where) {
        merr(mc, pos, "%s %s is not supported: %s", op, mc->where, mc->fix);
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
static void missing(mctx *mc, const aent *en, sf_pos pos, const char *what, const char *name)
{
    if (!en->has_bases)
        merr(mc, pos, "entity '%s' has no %s '%s'", en->name, what, name);
}

static void key_write_check(mctx *mc, const aent *en, int ai, sf_pos pos, int local_self)
{
    if (!en->attrs[ai].is_key)
        return;
    if (local_self && (cur_meth(mc)->flags & SF_METHOD_INIT))
        return;
    merr(mc, pos, "cannot assign key attribute '%s' outside __init__", en->attrs[ai].name);
}

static const sf_type *tx(mctx *mc, sf_expr *e);
static void tstore(mctx *mc, sf_expr *t, const sf_type *vt, const rootset *rs, sf_expr *value,
                   int how);
static void tss(mctx *mc, sf_stmt_list *l);

enum { HOW_ASSIGN, HOW_FOR, HOW_WITH, HOW_COMP };

/* Builtins that never change their arguments, with what they return. */
enum {
    B_NONE, B_INT, B_FLOAT, B_STR, B_BOOL, B_LIST_OF, B_SET_OF, B_TUPLE_OF, B_DICT, B_ENUMERATE,
    B_ZIP, B_RANGE, B_SAME, B_MINMAX, B_ELEM, B_ANY
};

static const struct { const char *name; int ret; int propagate; } builtins[] = {
    {"len", B_INT, 0}, {"hash", B_INT, 0}, {"ord", B_INT, 0}, {"id", B_INT, 0},
    {"int", B_INT, 0}, {"float", B_FLOAT, 0}, {"str", B_STR, 0}, {"repr", B_STR, 0},
    {"chr", B_STR, 0}, {"hex", B_STR, 0}, {"oct", B_STR, 0}, {"bin", B_STR, 0},
    {"format", B_STR, 0}, {"bool", B_BOOL, 0}, {"isinstance", B_BOOL, 0},
    {"issubclass", B_BOOL, 0}, {"callable", B_BOOL, 0}, {"hasattr", B_BOOL, 0},
    {"any", B_BOOL, 0}, {"all", B_BOOL, 0}, {"print", B_NONE, 0},
    {"list", B_LIST_OF, 1}, {"sorted", B_LIST_OF, 1}, {"reversed", B_LIST_OF, 1},
    {"iter", B_LIST_OF, 1}, {"filter", B_LIST_OF, 1}, {"set", B_SET_OF, 1},
    {"frozenset", B_SET_OF, 1}, {"tuple", B_TUPLE_OF, 1}, {"dict", B_DICT, 1},
    {"enumerate", B_ENUMERATE, 1}, {"zip", B_ZIP, 1}, {"range", B_RANGE, 0},
    {"abs", B_SAME, 0}, {"round", B_SAME, 0}, {"min", B_MINMAX, 1}, {"max", B_MINMAX, 1},
    {"next", B_ELEM, 1}, {"sum", B_ANY, 0}, {"pow", B_ANY, 0}, {"divmod", B_ANY, 0},
    {"getattr", B_ANY, 1}, {"type", B_ANY, 0},
};

static int find_builtin(mctx *mc, const char *name)
{
    if (lookup(mc->sc, name) || find_mod(mc->a, name) >= 0)
        return -1;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Methods of builtin containers that never change the receiver. */
static int pure_method(const sf_type *t, const char *m)
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
    if (immutable(t, 0))
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
static void roots(mctx *mc, const sf_expr *e, rootset *r, int depth)
{
    if (!e || !in_entity(mc) || depth > A_MAX_DEPTH)
        return;
    if (e->kind != SF_EX_NAME && immutable(e->type, 0))
        return;
    switch (e->kind) {
    case SF_EX_NAME: {
        local *l = lookup(mc->sc, e->u.name.id);
        if (!l)
            return;
        if (l->is_self) {
            r->all = 1;
            return;
        }
        if (!immutable(l->state == L_TYPED ? l->type : NULL, 0))
            rs_union(r, &l->alias);
        return;
    }
    case SF_EX_ATTR: {
        const sf_expr *v = e->u.attr.value;
        if (is_self_name(mc, v)) {
            int ai = find_attr(cur_ent(mc), e->u.attr.attr);
            if (ai >= 0)
                rs_add(r, ai);
            return;
        }
        if (ref_entity(v->type))
            return; /* a remote read returns a copy */
        roots(mc, v, r, depth + 1);
        return;
    }
    case SF_EX_SUBSCRIPT:
        roots(mc, e->u.subscript.value, r, depth + 1);
        return;
    case SF_EX_CALL: {
        const sf_expr *f = e->u.call.func;
        if (f->kind == SF_EX_ATTR) {
            if (ref_entity(f->u.attr.value->type) || is_self_name(mc, f->u.attr.value))
                return;
            roots(mc, f->u.attr.value, r, depth + 1);
        } else if (f->kind == SF_EX_NAME) {
            int b = find_builtin(mc, f->u.name.id);
            if (b >= 0 && builtins[b].propagate)
                for (int i = 0; i < e->u.call.args.n; i++)
                    roots(mc, e->u.call.args.v[i], r, depth + 1);
        }
        return;
    }
    case SF_EX_IFEXP:
        roots(mc, e->u.ifexp.body, r, depth + 1);
        roots(mc, e->u.ifexp.orelse, r, depth + 1);
        return;
    case SF_EX_BOOLOP:
        for (int i = 0; i < e->u.boolop.values.n; i++)
            roots(mc, e->u.boolop.values.v[i], r, depth + 1);
        return;
    case SF_EX_NAMEDEXPR:
        roots(mc, e->u.namedexpr.value, r, depth + 1);
        return;
    case SF_EX_STARRED:
        roots(mc, e->u.starred.value, r, depth + 1);
        return;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET:
        for (int i = 0; i < e->u.seq.elts.n; i++)
            roots(mc, e->u.seq.elts.v[i], r, depth + 1);
        return;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n; i++)
            roots(mc, e->u.dict.values[i], r, depth + 1);
        return;
    default:
        return;
    }
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
            if (ref_entity(v->type) && !is_self_name(mc, v))
                return e;
            e = v;
        } else if (e->kind == SF_EX_CALL && e->u.call.func->kind == SF_EX_ATTR) {
            const sf_expr *v = e->u.call.func->u.attr.value;
            if (ref_entity(v->type) && !is_self_name(mc, v))
                return NULL; /* a remote call returns a fresh value */
            e = v;
        } else {
            return NULL;
        }
    }
    return NULL;
}

static void in_place_check(mctx *mc, const sf_expr *base, sf_pos pos)
{
    const sf_expr *rb = remote_base(mc, base);
    if (rb)
        merr(mc, pos, "changing '%s' of another entity in place is not supported (the change would "
                      "be lost): read it into a local variable, change it and assign it back",
             rb->u.attr.attr);
}

/* Bind name to a value of type t in the scope assignments go to. */
static local *bind(mctx *mc, const char *name, const sf_type *t, const rootset *rs, int how)
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
            const sf_type *j = tjoin(mc->a, l->type, t, &poison);
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
        ch |= rs_union(&l->alias, rs);
    if (ch && s->persistent)
        mc->changed = 1;
    return l;
}

static const sf_type *local_type(const local *l)
{
    return l && l->state == L_TYPED ? l->type : NULL;
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

static void check_args(mctx *mc, sf_expr *call, int ti, int mi, int remote)
{
    actx *a = mc->a;
    const aent *te = &a->ents[ti];
    const ameth *m = &te->meths[mi];
    if (m->odd_params)
        return; /* its definition is reported already */
    int npos = 0, star = 0, dstar = 0;
    for (int i = 0; i < call->u.call.args.n; i++) {
        sf_expr *x = call->u.call.args.v[i];
        if (x->kind == SF_EX_STARRED) {
            star = 1;
            if (remote)
                merr(mc, x->pos, "unpacking arguments with * in a remote call is not supported: "
                                 "pass the values one by one");
        } else {
            npos++;
        }
    }
    for (int k = 0; k < call->u.call.nkw; k++)
        if (!call->u.call.kw[k].arg) {
            dstar = 1;
            if (remote)
                merr(mc, call->u.call.kw[k].pos, "unpacking arguments with ** in a remote call is "
                                                  "not supported: pass the values one by one");
        }
    if (star || dstar)
        return;
    if (npos > m->nparams) {
        merr(mc, call->pos, "method %s.%s %s but %d %s given", te->name, m->name, takes(a, m), npos,
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
            merr(mc, kw->pos, "method %s.%s has no parameter '%s'", te->name, m->name, kw->arg);
            bad = 1;
        } else if (idx < npos || (idx < 256 && given[idx])) {
            merr(mc, kw->pos, "argument '%s' of %s.%s is given twice", kw->arg, te->name, m->name);
            bad = 1;
        } else if (idx < 256) {
            given[idx] = 1;
        }
    }
    if (bad)
        return;
    if (call->u.call.nkw == 0 && npos < m->nrequired) {
        merr(mc, call->pos, "method %s.%s %s but %d %s given", te->name, m->name, takes(a, m), npos,
             npos == 1 ? "was" : "were");
        return;
    }
    for (int i = npos; i < m->nparams && i < 256; i++)
        if (!given[i] && !m->params[i].has_default) {
            merr(mc, call->pos, "call of %s.%s is missing argument '%s'", te->name, m->name,
                 m->params[i].name);
            return;
        }
}

static void tx_args(mctx *mc, sf_expr *e)
{
    for (int i = 0; i < e->u.call.args.n; i++)
        tx(mc, e->u.call.args.v[i]);
    for (int k = 0; k < e->u.call.nkw; k++)
        tx(mc, e->u.call.kw[k].value);
}

/* Arguments of a call that may change them: whatever of self they alias is
 * written. */
static void args_escape(mctx *mc, sf_expr *e)
{
    if (!mc->final || !in_entity(mc))
        return;
    rootset r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < e->u.call.args.n; i++)
        roots(mc, e->u.call.args.v[i], &r, 0);
    for (int k = 0; k < e->u.call.nkw; k++)
        roots(mc, e->u.call.kw[k].value, &r, 0);
    rec_writes(mc, &r);
}

static const sf_type *remote_attr_read(mctx *mc, sf_expr *e, const char *entname)
{
    actx *a = mc->a;
    int ti = find_ent(a, entname);
    if (ti < 0)
        return NULL;
    aent *te = &a->ents[ti];
    const char *name = e->u.attr.attr;
    int ai = find_attr(te, name);
    if (ai < 0) {
        if (find_meth(te, name) >= 0)
            merr(mc, e->pos, "method '%s' of entity '%s' can only be called, not used as a value",
                 name, te->name);
        else
            missing(mc, te, e->pos, "attribute", name);
        return NULL;
    }
    rec_remote(mc, e->pos, ti, sf_arena_printf(a->ast, "_sf_get_%s", name), "remote attribute read", ai);
    return te->attrs[ai].type;
}

static const sf_type *tx_attr(mctx *mc, sf_expr *e)
{
    sf_expr *v = e->u.attr.value;
    const char *name = e->u.attr.attr;
    if (is_self_name(mc, v)) {
        aent *en = cur_ent(mc);
        v->type = en->type;
        int ai = find_attr(en, name);
        if (ai >= 0) {
            rec_read(mc, ai);
            return en->attrs[ai].type;
        }
        if (find_meth(en, name) < 0 && !is_clsname(en, name) && !is_dunder(name) &&
            strcmp(cur_meth(mc)->name, "__key__") != 0)
            missing(mc, en, e->pos, "attribute", name);
        return NULL;
    }
    const sf_type *vt = tx(mc, v);
    const char *re = ref_entity(vt);
    if (re)
        return remote_attr_read(mc, e, re);
    return NULL;
}

static const sf_type *remote_call(mctx *mc, sf_expr *e, const char *entname)
{
    actx *a = mc->a;
    sf_expr *f = e->u.call.func;
    tx_args(mc, e);
    int ti = find_ent(a, entname);
    if (ti < 0)
        return NULL;
    aent *te = &a->ents[ti];
    const char *m = f->u.attr.attr;
    int mi = find_meth(te, m);
    if (mi < 0 || mi >= te->nuser) {
        if (find_attr(te, m) >= 0)
            merr(mc, e->pos, "'%s' is an attribute of entity '%s', not a method", m, te->name);
        else
            missing(mc, te, e->pos, "method", m);
        return NULL;
    }
    if (te->meths[mi].flags & (SF_METHOD_INIT | SF_METHOD_INTERNAL)) {
        merr(mc, e->pos, "method '%s' of entity '%s' cannot be called through a reference", m,
             te->name);
        return te->meths[mi].returns;
    }
    check_args(mc, e, ti, mi, 1);
    rec_remote(mc, e->pos, ti, m, "remote call", -1);
    return te->meths[mi].returns;
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
                return join_strict(a, v, d);
            }
            return strcmp(m, "get") == 0 ? topt(a, v) : v;
        }
        if (strcmp(m, "setdefault") == 0) return v;
        if (strcmp(m, "items") == 0) {
            sf_type *tt = tnew(a, SF_TYPE_TUPLE, 2);
            tt->args[0] = k;
            tt->args[1] = v;
            return t1(a, SF_TYPE_LIST, tt);
        }
        if (strcmp(m, "keys") == 0) return t1(a, SF_TYPE_LIST, k);
        if (strcmp(m, "values") == 0) return t1(a, SF_TYPE_LIST, v);
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
            return t1(a, SF_TYPE_LIST, a->t_str);
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
    case B_LIST_OF: return t1(a, SF_TYPE_LIST, n == 1 ? elem_type(a, x) : NULL);
    case B_SET_OF: return t1(a, SF_TYPE_SET, n == 1 ? elem_type(a, x) : NULL);
    case B_TUPLE_OF: return a->t_tuple;
    case B_DICT:
        if (n == 1 && tkind(x, SF_TYPE_DICT))
            return x;
        return t2(a, SF_TYPE_DICT, NULL, NULL);
    case B_ENUMERATE: {
        sf_type *tt = tnew(a, SF_TYPE_TUPLE, 2);
        tt->args[0] = a->t_int;
        tt->args[1] = (n >= 1 && elem_type(a, x)) ? elem_type(a, x) : a->t_any;
        return t1(a, SF_TYPE_LIST, tt);
    }
    case B_ZIP: {
        if (n == 0 || n > 16)
            return t1(a, SF_TYPE_LIST, a->t_tuple);
        for (int i = 0; i < n; i++)
            if (e->u.call.args.v[i]->kind == SF_EX_STARRED)
                return t1(a, SF_TYPE_LIST, a->t_tuple);
        sf_type *tt = tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++) {
            const sf_type *el = elem_type(a, e->u.call.args.v[i]->type);
            tt->args[i] = el ? el : a->t_any;
        }
        return t1(a, SF_TYPE_LIST, tt);
    }
    case B_RANGE: return t1(a, SF_TYPE_LIST, a->t_int);
    case B_SAME:
        return x && (x->kind == SF_TYPE_INT || x->kind == SF_TYPE_FLOAT) ? x : NULL;
    case B_MINMAX: {
        if (n == 1)
            return elem_type(a, x);
        if (n < 2 || e->u.call.nkw > 0)
            return NULL;
        for (int i = 1; i < n; i++)
            if (!teq(x, e->u.call.args.v[i]->type))
                return NULL;
        return x;
    }
    case B_ELEM: return n >= 1 ? elem_type(a, x) : NULL;
    default: return NULL;
    }
}

static const sf_type *module_function_return(mctx *mc, const char *name)
{
    int m = find_mod(mc->a, name);
    if (m < 0 || !mc->a->mods[m].def || !mc->a->mods[m].def->u.func.returns)
        return NULL;
    const sf_type *t = resolve(mc->a, mc->a->mods[m].def->u.func.returns, 0, 0);
    return t && t->kind != SF_TYPE_ANY ? t : NULL;
}

static const sf_type *tx_call(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    sf_expr *f = e->u.call.func;
    if (f->kind == SF_EX_ATTR) {
        sf_expr *v = f->u.attr.value;
        const char *m = f->u.attr.attr;
        if (is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int mi = find_meth(en, m);
            if (mi >= 0 && mi < en->nuser) {
                tx_args(mc, e);
                if (en->meths[mi].flags & SF_METHOD_INIT) {
                    merr(mc, e->pos, "calling __init__ from a method is not supported");
                    return NULL;
                }
                check_args(mc, e, mc->ent, mi, 0);
                args_escape(mc, e);
                if (mc->final) {
                    ameth *cm = cur_meth(mc);
                    aedge ed = {mc->ent, en->meths[mi].name, e->pos, 0, mc->where, mc->fix};
                    VPUSH(a->ast, cm->edges, cm->nedges, cm->capedges, ed);
                }
                return en->meths[mi].returns;
            }
            if (find_attr(en, m) < 0 && !is_clsname(en, m) && !is_dunder(m)) {
                missing(mc, en, e->pos, "method", m);
                tx_args(mc, e);
                return NULL;
            }
            /* calling a value stored in an attribute, e.g. self.items.copy is below */
        }
        const sf_type *vt = tx(mc, v);
        const char *re = ref_entity(vt);
        if (re && !is_self_name(mc, v))
            return remote_call(mc, e, re);
        if (is_self_name(mc, v)) {
            /* self.<attribute>(...) or a dunder/class name: read, then an ordinary call */
            tx(mc, f);
            tx_args(mc, e);
            args_escape(mc, e);
            return NULL;
        }
        tx_args(mc, e);
        if (mc->final && in_entity(mc) && !pure_method(vt, m)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            roots(mc, v, &r, 0);
            rec_writes(mc, &r);
            in_place_check(mc, v, e->pos);
        }
        args_escape(mc, e);
        return container_method(mc, vt, m, e);
    }
    if (f->kind == SF_EX_NAME) {
        const char *id = f->u.name.id;
        local *l = lookup(mc->sc, id);
        if (!l && in_entity(mc) && find_ent(a, id) >= 0)
            merr(mc, e->pos, "creating entities inside methods is not supported (%s(...)): pass a "
                             "reference to an existing entity instead", id);
        tx(mc, f);
        tx_args(mc, e);
        int b = l ? -1 : find_builtin(mc, id);
        if (b >= 0)
            return builtin_call(mc, b, e);
        args_escape(mc, e);
        if (!l)
            return module_function_return(mc, id);
        return NULL;
    }
    tx(mc, f);
    tx_args(mc, e);
    args_escape(mc, e);
    return NULL;
}

static const sf_type *const_type(actx *a, const sf_expr *e)
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

static const sf_type *tx_lambda(mctx *mc, sf_expr *e)
{
    sf_arguments *args = e->u.lambda.args;
    if (args) {
        saved sv = enter(mc, "in a default argument value",
                         "use None as the default and compute the value in the body");
        for (int i = 0; i < args->defaults.n; i++)
            tx(mc, args->defaults.v[i]);
        for (int i = 0; i < args->nkwonly; i++)
            if (args->kw_defaults && args->kw_defaults[i])
                tx(mc, args->kw_defaults[i]);
        leave(mc, sv);
    }
    scope *ls = scope_new(mc->a, mc->sc, SC_LAMBDA, 0);
    if (args) {
        for (int i = 0; i < args->nposonly; i++) add_param(mc->a, ls, args->posonly[i].name, NULL);
        for (int i = 0; i < args->nargs; i++) add_param(mc->a, ls, args->args[i].name, NULL);
        for (int i = 0; i < args->nkwonly; i++) add_param(mc->a, ls, args->kwonly[i].name, NULL);
        if (args->vararg) add_param(mc->a, ls, args->vararg->name, NULL);
        if (args->kwarg) add_param(mc->a, ls, args->kwarg->name, NULL);
    }
    mctx sub = *mc;
    sub.sc = ls;
    sub.nested = 1;
    enter(&sub, "inside a lambda", "compute the value before the lambda");
    tx(&sub, e->u.lambda.body);
    mc->changed |= sub.changed;
    mc->too_deep |= sub.too_deep;
    return NULL;
}

static const sf_type *tx_comp(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    const char *where = e->kind == SF_EX_LISTCOMP ? "inside a list comprehension"
                      : e->kind == SF_EX_SETCOMP ? "inside a set comprehension"
                      : e->kind == SF_EX_DICTCOMP ? "inside a dict comprehension"
                      : "inside a generator expression";
    scope *cs = scope_new(a, mc->sc, SC_COMP, 0);
    mctx sub = *mc;
    sub.sc = cs;
    enter(&sub, where, "use a for loop");
    for (int g = 0; g < e->u.comp.ngens; g++) {
        sf_comprehension *gen = &e->u.comp.gens[g];
        if (gen->is_async && in_entity(mc))
            merr(mc, gen->target->pos, "async comprehensions are not supported in entity methods");
        mctx outer = sub;
        if (g == 0)
            outer.sc = mc->sc; /* the first iterable is evaluated in the enclosing scope */
        const sf_type *it = tx(&outer, gen->iter);
        sub.changed |= outer.changed;
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(&sub, gen->iter, &r, 0);
        tstore(&sub, gen->target, elem_type(a, it), &r, NULL, HOW_COMP);
        for (int i = 0; i < gen->ifs.n; i++)
            tx(&sub, gen->ifs.v[i]);
    }
    const sf_type *et = tx(&sub, e->u.comp.elt);
    const sf_type *vt = e->kind == SF_EX_DICTCOMP ? tx(&sub, e->u.comp.value) : NULL;
    mc->changed |= sub.changed;
    mc->too_deep |= sub.too_deep;
    switch (e->kind) {
    case SF_EX_LISTCOMP: return t1(a, SF_TYPE_LIST, et);
    case SF_EX_SETCOMP: return t1(a, SF_TYPE_SET, et);
    case SF_EX_DICTCOMP: return t2(a, SF_TYPE_DICT, et, vt);
    default: return NULL;
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
        return elem_type(a, vt);
    }
    default: return NULL;
    }
}

static const sf_type *tx_inner(mctx *mc, sf_expr *e)
{
    actx *a = mc->a;
    switch (e->kind) {
    case SF_EX_NAME: {
        local *l = lookup(mc->sc, e->u.name.id);
        if (l && l->is_self)
            return in_entity(mc) ? cur_ent(mc)->type : NULL;
        return local_type(l);
    }
    case SF_EX_CONST:
        return const_type(a, e);
    case SF_EX_ATTR:
        return tx_attr(mc, e);
    case SF_EX_CALL:
        return tx_call(mc, e);
    case SF_EX_BINOP: {
        const sf_type *l = tx(mc, e->u.binop.left);
        const sf_type *r = tx(mc, e->u.binop.right);
        return binop_type(a, e->u.binop.op, l, r);
    }
    case SF_EX_UNARYOP: {
        const sf_type *t = tx(mc, e->u.unaryop.operand);
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
            tx(mc, e->u.boolop.values.v[i]);
        const sf_type *t = same_or_null(mc, e->u.boolop.values.v, n);
        if (!t && n == 2 && e->u.boolop.op == SF_OP_OR) {
            const sf_type *l = e->u.boolop.values.v[0]->type, *r = e->u.boolop.values.v[1]->type;
            if (tkind(l, SF_TYPE_OPTIONAL) && r && teq(targ(l, 0), r))
                t = r;
        }
        return t;
    }
    case SF_EX_COMPARE:
        tx(mc, e->u.compare.left);
        for (int i = 0; i < e->u.compare.comparators.n; i++)
            tx(mc, e->u.compare.comparators.v[i]);
        return a->t_bool;
    case SF_EX_IFEXP: {
        tx(mc, e->u.ifexp.test);
        const sf_type *b = tx(mc, e->u.ifexp.body);
        const sf_type *o = tx(mc, e->u.ifexp.orelse);
        if (!b || !o)
            return NULL;
        if (teq(b, o))
            return b;
        return join_strict(a, b, o);
    }
    case SF_EX_LIST: case SF_EX_SET: {
        int n = e->u.seq.elts.n, star = 0;
        for (int i = 0; i < n; i++) {
            tx(mc, e->u.seq.elts.v[i]);
            if (e->u.seq.elts.v[i]->kind == SF_EX_STARRED)
                star = 1;
        }
        const sf_type *el = n > 0 && !star ? same_or_null(mc, e->u.seq.elts.v, n) : NULL;
        return t1(a, e->kind == SF_EX_LIST ? SF_TYPE_LIST : SF_TYPE_SET, el);
    }
    case SF_EX_TUPLE: {
        int n = e->u.seq.elts.n, star = 0;
        for (int i = 0; i < n; i++) {
            tx(mc, e->u.seq.elts.v[i]);
            if (e->u.seq.elts.v[i]->kind == SF_EX_STARRED)
                star = 1;
        }
        if (star || n == 0 || n > 64)
            return a->t_tuple;
        sf_type *t = tnew(a, SF_TYPE_TUPLE, n);
        for (int i = 0; i < n; i++)
            t->args[i] = e->u.seq.elts.v[i]->type ? e->u.seq.elts.v[i]->type : a->t_any;
        return t;
    }
    case SF_EX_DICT: {
        int n = e->u.dict.n, ok = n > 0;
        const sf_type *kt = NULL, *vt = NULL;
        for (int i = 0; i < n; i++) {
            const sf_type *k = e->u.dict.keys[i] ? tx(mc, e->u.dict.keys[i]) : NULL;
            const sf_type *v = tx(mc, e->u.dict.values[i]);
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
        return ok ? t2(a, SF_TYPE_DICT, kt, vt) : t2(a, SF_TYPE_DICT, NULL, NULL);
    }
    case SF_EX_SUBSCRIPT: {
        const sf_type *vt = tx(mc, e->u.subscript.value);
        tx(mc, e->u.subscript.slice);
        return subscript_type(a, vt, e->u.subscript.slice);
    }
    case SF_EX_SLICE:
        tx(mc, e->u.slice.lower);
        tx(mc, e->u.slice.upper);
        tx(mc, e->u.slice.step);
        return NULL;
    case SF_EX_LAMBDA:
        return tx_lambda(mc, e);
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_DICTCOMP: case SF_EX_GENEXP:
        return tx_comp(mc, e);
    case SF_EX_JOINEDSTR:
        for (int i = 0; i < e->u.joinedstr.values.n; i++)
            tx(mc, e->u.joinedstr.values.v[i]);
        return a->t_str;
    case SF_EX_FORMATTED:
        tx(mc, e->u.formatted.value);
        if (e->u.formatted.format_spec) {
            saved sv = enter(mc, "in an f-string format specification",
                             "compute it into a local variable first");
            tx(mc, e->u.formatted.format_spec);
            leave(mc, sv);
        }
        return a->t_str;
    case SF_EX_STARRED:
        tx(mc, e->u.starred.value);
        return NULL;
    case SF_EX_NAMEDEXPR: {
        const sf_type *vt = tx(mc, e->u.namedexpr.value);
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(mc, e->u.namedexpr.value, &r, 0);
        sf_expr *t = e->u.namedexpr.target;
        if (t->kind == SF_EX_NAME) {
            if (is_self_name(mc, t))
                merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            local *l = bind(mc, t->u.name.id, vt, &r, HOW_ASSIGN);
            t->type = local_type(l);
        }
        return vt;
    }
    case SF_EX_AWAIT:
        if (in_entity(mc))
            merr(mc, e->pos, "await is not supported in entity methods");
        tx(mc, e->u.starred.value);
        return NULL;
    case SF_EX_YIELD: case SF_EX_YIELDFROM:
        if (in_entity(mc) && !mc->nested)
            merr(mc, e->pos, "yield is not supported in entity methods");
        tx(mc, e->u.starred.value);
        return NULL;
    }
    return NULL;
}

static const sf_type *tx(mctx *mc, sf_expr *e)
{
    if (!e)
        return NULL;
    if (mc->depth >= A_MAX_DEPTH) {
        if (!mc->too_deep)
            merr(mc, e->pos, "expression nested too deeply");
        mc->too_deep = 1;
        return NULL;
    }
    mc->depth++;
    const sf_type *t = tx_inner(mc, e);
    mc->depth--;
    e->type = t;
    return t;
}

/* An attribute as an assignment target. */
static void store_attr(mctx *mc, sf_expr *t, int how)
{
    actx *a = mc->a;
    sf_expr *v = t->u.attr.value;
    const char *name = t->u.attr.attr;
    if (is_self_name(mc, v)) {
        aent *en = cur_ent(mc);
        v->type = en->type;
        int ai = find_attr(en, name);
        if (ai < 0) {
            missing(mc, en, t->pos, "attribute", name);
            return;
        }
        key_write_check(mc, en, ai, t->pos, 1);
        rec_write(mc, ai);
        t->type = en->attrs[ai].type;
        return;
    }
    const sf_type *vt = tx(mc, v);
    const char *re = ref_entity(vt);
    if (re) {
        int ti = find_ent(a, re);
        if (ti < 0)
            return;
        aent *te = &a->ents[ti];
        int ai = find_attr(te, name);
        if (ai < 0) {
            missing(mc, te, t->pos, "attribute", name);
            return;
        }
        t->type = te->attrs[ai].type;
        if (te->attrs[ai].is_key) {
            merr(mc, t->pos, "cannot assign key attribute '%s' outside __init__", name);
            return;
        }
        if (how == HOW_FOR || how == HOW_WITH) {
            merr(mc, t->pos, "remote attribute write as a %s target is not supported: assign to a "
                             "local variable first", how == HOW_FOR ? "for loop" : "with");
            return;
        }
        rec_remote(mc, t->pos, ti, sf_arena_printf(a->ast, "_sf_set_%s", name),
                   "remote attribute write", ai);
        return;
    }
    if (mc->final && in_entity(mc)) {
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(mc, v, &r, 0);
        rec_writes(mc, &r);
        in_place_check(mc, v, t->pos);
    }
}

static void store_subscript(mctx *mc, sf_expr *t)
{
    tx(mc, t->u.subscript.value);
    tx(mc, t->u.subscript.slice);
    if (mc->final && in_entity(mc)) {
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(mc, t->u.subscript.value, &r, 0);
        rec_writes(mc, &r);
        in_place_check(mc, t->u.subscript.value, t->pos);
    }
}

static void tstore(mctx *mc, sf_expr *t, const sf_type *vt, const rootset *rs, sf_expr *value,
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
        if (is_self_name(mc, t)) {
            merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            break;
        }
        if (value && is_self_name(mc, value))
            merr(mc, t->pos, "storing self in a local variable is not supported: use self directly");
        local *l = bind(mc, t->u.name.id, vt, rs, how);
        t->type = local_type(l);
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
                roots(mc, ve, &r, 0);
                tstore(mc, el, ve->type, &r, ve, how);
            } else {
                const sf_type *et = NULL;
                if (tkind(vt, SF_TYPE_TUPLE) && vt->nargs == n && !star)
                    et = targ(vt, i);
                else if (vt)
                    et = elem_type(a, vt);
                if (el->kind == SF_EX_STARRED) {
                    tstore(mc, el->u.starred.value, t1(a, SF_TYPE_LIST, elem_type(a, vt)), rs, NULL, how);
                    el->type = NULL;
                } else {
                    tstore(mc, el, et, rs, NULL, how);
                }
            }
        }
        t->type = vt;
        break;
    }
    case SF_EX_STARRED:
        tstore(mc, t->u.starred.value, t1(a, SF_TYPE_LIST, elem_type(a, vt)), rs, NULL, how);
        break;
    case SF_EX_ATTR:
        store_attr(mc, t, how);
        break;
    case SF_EX_SUBSCRIPT:
        store_subscript(mc, t);
        break;
    default:
        tx(mc, t);
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
        tx(mc, t);
        tx(mc, val);
        if (is_self_name(mc, t)) {
            merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
            return;
        }
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            roots(mc, t, &r, 0); /* x += [...] changes a list in place */
            rec_writes(mc, &r);
        }
        bind(mc, t->u.name.id, NULL, NULL, HOW_ASSIGN);
        return;
    }
    case SF_EX_ATTR: {
        sf_expr *v = t->u.attr.value;
        const char *name = t->u.attr.attr;
        if (is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int ai = find_attr(en, name);
            if (ai < 0) {
                missing(mc, en, t->pos, "attribute", name);
                tx(mc, val);
                return;
            }
            rec_read(mc, ai);
            tx(mc, val);
            key_write_check(mc, en, ai, t->pos, 1);
            rec_write(mc, ai);
            t->type = en->attrs[ai].type;
            return;
        }
        const sf_type *vt = tx(mc, v);
        const char *re = ref_entity(vt);
        if (re) {
            const sf_type *at = remote_attr_read(mc, t, re);
            t->type = at;
            tx(mc, val);
            int ti = find_ent(a, re);
            if (ti < 0)
                return;
            int ai = find_attr(&a->ents[ti], name);
            if (ai < 0)
                return;
            if (a->ents[ti].attrs[ai].is_key) {
                merr(mc, t->pos, "cannot assign key attribute '%s' outside __init__", name);
                return;
            }
            rec_remote(mc, t->pos, ti, sf_arena_printf(a->ast, "_sf_set_%s", name),
                       "remote attribute write", ai);
            return;
        }
        tx(mc, val);
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            roots(mc, v, &r, 0);
            rec_writes(mc, &r);
            in_place_check(mc, v, t->pos);
        }
        return;
    }
    case SF_EX_SUBSCRIPT:
        tx(mc, t->u.subscript.value);
        tx(mc, t->u.subscript.slice);
        tx(mc, val);
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            roots(mc, t->u.subscript.value, &r, 0);
            rec_writes(mc, &r);
            in_place_check(mc, t->u.subscript.value, t->pos);
        }
        return;
    default:
        tx(mc, t);
        tx(mc, val);
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
        if (is_self_name(mc, t))
            merr(mc, t->pos, "deleting '%s' is not supported", t->u.name.id);
        return;
    case SF_EX_TUPLE: case SF_EX_LIST:
        for (int i = 0; i < t->u.seq.elts.n; i++)
            tdel(mc, t->u.seq.elts.v[i], depth + 1);
        return;
    case SF_EX_ATTR: {
        sf_expr *v = t->u.attr.value;
        if (is_self_name(mc, v)) {
            aent *en = cur_ent(mc);
            v->type = en->type;
            int ai = find_attr(en, t->u.attr.attr);
            if (ai < 0) {
                missing(mc, en, t->pos, "attribute", t->u.attr.attr);
                return;
            }
            key_write_check(mc, en, ai, t->pos, 1);
            rec_write(mc, ai);
            return;
        }
        const sf_type *vt = tx(mc, v);
        if (ref_entity(vt)) {
            merr(mc, t->pos, "deleting an attribute of another entity is not supported");
            return;
        }
        if (mc->final && in_entity(mc)) {
            rootset r;
            memset(&r, 0, sizeof(r));
            roots(mc, v, &r, 0);
            rec_writes(mc, &r);
        }
        (void)a;
        return;
    }
    case SF_EX_SUBSCRIPT:
        store_subscript(mc, t);
        return;
    default:
        tx(mc, t);
        return;
    }
}

static void walk_nested_def(mctx *mc, sf_stmt *s)
{
    actx *a = mc->a;
    if (s->kind == SF_ST_ASYNCFUNCTIONDEF && in_entity(mc))
        merr(mc, s->pos, "async functions are not supported in entity methods");
    for (int i = 0; i < s->u.func.decorators.n; i++)
        tx(mc, s->u.func.decorators.v[i]);
    sf_arguments *args = s->u.func.args;
    if (args) {
        saved sv = enter(mc, "in a default argument value",
                         "use None as the default and compute the value in the body");
        for (int i = 0; i < args->defaults.n; i++)
            tx(mc, args->defaults.v[i]);
        for (int i = 0; i < args->nkwonly; i++)
            if (args->kw_defaults && args->kw_defaults[i])
                tx(mc, args->kw_defaults[i]);
        leave(mc, sv);
    }
    bind(mc, s->u.func.name, NULL, NULL, HOW_ASSIGN);
    scope *ns = nested_scope(a, s);
    if (!ns) {
        ns = scope_new(a, mc->sc, SC_FUNC, 1);
        if (args) {
            sf_arg *lists[2] = {args->posonly, args->args};
            int counts[2] = {args->nposonly, args->nargs};
            for (int k = 0; k < 2; k++)
                for (int i = 0; i < counts[k]; i++) {
                    const sf_type *t = lists[k][i].annotation ? resolve(a, lists[k][i].annotation, 0, 0) : NULL;
                    add_param(a, ns, lists[k][i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
                }
            for (int i = 0; i < args->nkwonly; i++) {
                const sf_type *t = args->kwonly[i].annotation ? resolve(a, args->kwonly[i].annotation, 0, 0) : NULL;
                add_param(a, ns, args->kwonly[i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
            }
            if (args->vararg) add_param(a, ns, args->vararg->name, NULL);
            if (args->kwarg) add_param(a, ns, args->kwarg->name, NULL);
        }
        nested nn = {s, ns};
        VPUSH(a->ast, a->nest, a->nnest, a->capnest, nn);
        mc->changed = 1;
    }
    mctx sub = *mc;
    sub.sc = ns;
    sub.nested = 1;
    enter(&sub, "inside a nested function", "perform it in the method itself");
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
            merr(mc, s->pos, "statement nested too deeply");
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
            merr(mc, s->pos, "classes defined inside entity methods are not supported");
        } else {
            bind(mc, s->u.cls.name, NULL, NULL, HOW_ASSIGN);
            walk_class_in_function(mc, s, 0);
        }
        break;
    case SF_ST_RETURN:
        tx(mc, s->u.ret.value);
        break;
    case SF_ST_DELETE: {
        saved sv = enter(mc, "in a del statement", "compute the value into a local variable first");
        for (int i = 0; i < s->u.del.targets.n; i++)
            tdel(mc, s->u.del.targets.v[i], 0);
        leave(mc, sv);
        break;
    }
    case SF_ST_ASSIGN: {
        const sf_type *vt = tx(mc, s->u.assign.value);
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(mc, s->u.assign.value, &r, 0);
        for (int i = 0; i < s->u.assign.targets.n; i++)
            tstore(mc, s->u.assign.targets.v[i], vt, &r, s->u.assign.value, HOW_ASSIGN);
        break;
    }
    case SF_ST_AUGASSIGN:
        taug(mc, s);
        break;
    case SF_ST_ANNASSIGN: {
        sf_expr *t = s->u.annassign.target;
        sf_expr *v = s->u.annassign.value;
        const sf_type *vt = v ? tx(mc, v) : NULL;
        rootset r;
        memset(&r, 0, sizeof(r));
        if (v)
            roots(mc, v, &r, 0);
        if (t->kind == SF_EX_NAME) {
            if (is_self_name(mc, t)) {
                merr(mc, t->pos, "assigning to '%s' is not supported", t->u.name.id);
                break;
            }
            const sf_type *at = resolve(a, s->u.annassign.annotation, mc->final && in_entity(mc), 0);
            local *l = bind(mc, t->u.name.id, NULL, &r, HOW_ASSIGN);
            if (at && !l->fixed) {
                l->fixed = 1;
                l->type = at;
                l->state = L_TYPED;
                mc->changed = 1;
            }
            if (v && is_self_name(mc, v))
                merr(mc, t->pos, "storing self in a local variable is not supported: use self directly");
            t->type = local_type(l);
        } else if (v) {
            tstore(mc, t, vt, &r, v, HOW_ASSIGN);
        } else if (t->kind == SF_EX_ATTR && is_self_name(mc, t->u.attr.value)) {
            t->u.attr.value->type = cur_ent(mc)->type; /* a declaration: nothing is written */
        } else {
            tx(mc, t);
        }
        break;
    }
    case SF_ST_FOR: case SF_ST_ASYNCFOR: {
        if (s->kind == SF_ST_ASYNCFOR && in_entity(mc))
            merr(mc, s->pos, "async for is not supported in entity methods");
        const sf_type *it = tx(mc, s->u.for_.iter);
        rootset r;
        memset(&r, 0, sizeof(r));
        roots(mc, s->u.for_.iter, &r, 0);
        tstore(mc, s->u.for_.target, elem_type(a, it), &r, NULL, HOW_FOR);
        tss(mc, &s->u.for_.body);
        tss(mc, &s->u.for_.orelse);
        break;
    }
    case SF_ST_WHILE:
        tx(mc, s->u.while_.test);
        tss(mc, &s->u.while_.body);
        tss(mc, &s->u.while_.orelse);
        break;
    case SF_ST_IF:
        tx(mc, s->u.if_.test);
        tss(mc, &s->u.if_.body);
        tss(mc, &s->u.if_.orelse);
        break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH: {
        if (s->kind == SF_ST_ASYNCWITH && in_entity(mc))
            merr(mc, s->pos, "async with is not supported in entity methods");
        saved sv = enter(mc, "inside a with statement", "move it before or after the with statement");
        for (int i = 0; i < s->u.with.nitems; i++) {
            tx(mc, s->u.with.items[i].context);
            if (s->u.with.items[i].vars)
                tstore(mc, s->u.with.items[i].vars, NULL, NULL, NULL, HOW_WITH);
        }
        tss(mc, &s->u.with.body);
        leave(mc, sv);
        break;
    }
    case SF_ST_MATCH:
        if (in_entity(mc))
            merr(mc, s->pos, "match statements are not supported in entity methods");
        break;
    case SF_ST_RAISE:
        tx(mc, s->u.raise.exc);
        tx(mc, s->u.raise.cause);
        break;
    case SF_ST_TRY: case SF_ST_TRYSTAR: {
        saved sv = enter(mc, "inside a try statement", "move it out of the try statement");
        tss(mc, &s->u.try_.body);
        for (int i = 0; i < s->u.try_.nhandlers; i++) {
            sf_handler *h = &s->u.try_.handlers[i];
            tx(mc, h->type);
            if (h->name)
                bind(mc, h->name, NULL, NULL, HOW_ASSIGN);
            tss(mc, &h->body);
        }
        tss(mc, &s->u.try_.orelse);
        tss(mc, &s->u.try_.finalbody);
        leave(mc, sv);
        break;
    }
    case SF_ST_ASSERT:
        tx(mc, s->u.assert_.test);
        tx(mc, s->u.assert_.msg);
        break;
    case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
        for (int i = 0; i < s->u.import.nnames; i++) {
            const sf_alias *al = &s->u.import.names[i];
            if (strcmp(al->name, "*") == 0)
                continue;
            const char *n = al->asname ? al->asname : al->name;
            const char *dot = s->kind == SF_ST_IMPORT && !al->asname ? strchr(n, '.') : NULL;
            bind(mc, dot ? sf_arena_strndup(a->ast, n, (size_t)(dot - n)) : n, NULL, NULL, HOW_ASSIGN);
        }
        break;
    case SF_ST_GLOBAL:
        if (in_entity(mc))
            merr(mc, s->pos, "global statements are not supported in entity methods");
        break;
    case SF_ST_NONLOCAL:
        if (in_entity(mc))
            merr(mc, s->pos, "nonlocal statements are not supported in entity methods");
        break;
    case SF_ST_EXPR:
        tx(mc, s->u.expr.value);
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

static void walk_method(actx *a, int ei, int mi)
{
    aent *en = &a->ents[ei];
    ameth *m = &en->meths[mi];
    if (!m->selfname)
        return;
    scope *sc = scope_new(a, NULL, SC_FUNC, 1);
    local *self = add_param(a, sc, m->selfname, en->type);
    self->is_self = 1;
    for (int i = 0; i < m->nparams; i++)
        add_param(a, sc, m->params[i].name, m->params[i].type);
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
        dc.sc = scope_new(a, NULL, SC_FUNC, 0);
        dc.ent = -1;
        dc.outside = 1;
        dc.final = 1;
        for (int i = 0; i < args->defaults.n; i++)
            tx(&dc, args->defaults.v[i]);
    }
    walk_body(&mc, &m->def->u.func.body);
}

static void walk_outside_function(actx *a, sf_stmt *def)
{
    scope *sc = scope_new(a, NULL, SC_FUNC, 1);
    sf_arguments *args = def->u.func.args;
    if (args) {
        sf_arg *lists[2] = {args->posonly, args->args};
        int counts[2] = {args->nposonly, args->nargs};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < counts[k]; i++) {
                const sf_type *t = lists[k][i].annotation ? resolve(a, lists[k][i].annotation, 0, 0) : NULL;
                add_param(a, sc, lists[k][i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
            }
        for (int i = 0; i < args->nkwonly; i++) {
            const sf_type *t = args->kwonly[i].annotation ? resolve(a, args->kwonly[i].annotation, 0, 0) : NULL;
            add_param(a, sc, args->kwonly[i].name, t && t->kind != SF_TYPE_ANY ? t : NULL);
        }
        if (args->vararg) add_param(a, sc, args->vararg->name, NULL);
        if (args->kwarg) add_param(a, sc, args->kwarg->name, NULL);
    }
    mctx mc;
    memset(&mc, 0, sizeof(mc));
    mc.a = a;
    mc.ent = -1;
    mc.meth = -1;
    mc.sc = sc;
    mc.outside = 1;
    mc.where = "outside an entity method";
    mc.fix = "only methods of entities can use references";
    walk_body(&mc, &def->u.func.body);
}

static void walk_outside(actx *a, const sf_stmt_list *body, int depth)
{
    if (depth > A_MAX_MODULE_DEPTH)
        return;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
            walk_outside_function(a, s);
            break;
        case SF_ST_CLASSDEF: {
            int ent = depth == 0 && find_ent(a, s->u.cls.name) >= 0 &&
                      a->ents[find_ent(a, s->u.cls.name)].cls == s;
            if (!ent)
                walk_outside(a, &s->u.cls.body, depth + 1);
            break;
        }
        case SF_ST_IF:
            walk_outside(a, &s->u.if_.body, depth + 1);
            walk_outside(a, &s->u.if_.orelse, depth + 1);
            break;
        case SF_ST_TRY: case SF_ST_TRYSTAR:
            walk_outside(a, &s->u.try_.body, depth + 1);
            for (int k = 0; k < s->u.try_.nhandlers; k++)
                walk_outside(a, &s->u.try_.handlers[k].body, depth + 1);
            walk_outside(a, &s->u.try_.orelse, depth + 1);
            walk_outside(a, &s->u.try_.finalbody, depth + 1);
            break;
        default:
            break;
        }
    }
}

/* ---- accessors, call graph, flags --------------------------------------- */

static void add_accessors(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    int nattrs = en->nattrs;
    for (int i = 0; i < nattrs; i++) {
        en = &a->ents[ei];
        aattr *at = &en->attrs[i];
        if (!at->remote)
            continue;
        for (int set = 0; set < 2; set++) {
            if (set && at->is_key)
                continue; /* keys never change after __init__ */
            ameth m;
            memset(&m, 0, sizeof(m));
            m.name = sf_arena_printf(a->ast, set ? "_sf_set_%s" : "_sf_get_%s", at->name);
            m.line = at->pos.line;
            m.accessor = 1;
            m.flags = SF_METHOD_ACCESSOR | SF_METHOD_INTERNAL;
            const char *an = sf_arena_strdup(a->ira, at->name);
            if (set) {
                m.params = sf_arena_alloc(a->ira, sizeof(sf_ir_param));
                m.params[0].name = sf_arena_strdup(a->ira, "value");
                m.params[0].type = at->type;
                m.nparams = m.nrequired = 1;
                m.returns = a->t_none;
                m.direct_write = 1;
                VPUSH(a->ast, m.writes, m.nwrites, m.capwrites, an);
            } else {
                m.returns = at->type;
                VPUSH(a->ast, m.reads, m.nreads, m.capreads, an);
            }
            VPUSH(a->ast, en->meths, en->nmeths, en->capmeths, m);
        }
    }
}

typedef struct graph {
    int n;
    int *base;                /* node id of entity e's method 0 */
    int *node_ent, *node_meth;
} graph;

static int edge_target(actx *a, const graph *g, const aedge *e)
{
    int mi = find_meth(&a->ents[e->ent], e->method);
    return mi < 0 ? -1 : g->base[e->ent] + mi;
}

static void check_recursion(actx *a, const graph *g)
{
    int n = g->n;
    if (n == 0)
        return;
    int *color = calloc((size_t)n, sizeof(int));
    int *stk = calloc((size_t)n, sizeof(int));
    int *stke = calloc((size_t)n, sizeof(int));
    int *spos = calloc((size_t)n, sizeof(int));
    if (!color || !stk || !stke || !spos) {
        free(color); free(stk); free(stke); free(spos);
        aerr(a, (sf_pos){0, 0, 0, 0}, "out of memory checking for recursion");
        return;
    }
    for (int root = 0; root < n; root++) {
        if (color[root])
            continue;
        int sp = 0;
        stk[sp] = root;
        stke[sp] = 0;
        spos[root] = sp;
        sp++;
        color[root] = 1;
        while (sp > 0) {
            int u = stk[sp - 1];
            ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
            if (stke[sp - 1] < m->nedges) {
                aedge *e = &m->edges[stke[sp - 1]++];
                int v = edge_target(a, g, e);
                if (v < 0)
                    continue;
                if (color[v] == 0) {
                    color[v] = 1;
                    spos[v] = sp;
                    stk[sp] = v;
                    stke[sp] = 0;
                    sp++;
                } else if (color[v] == 1) {
                    sf_buf b;
                    sf_buf_init(&b);
                    for (int k = spos[v]; k < sp; k++) {
                        int w = stk[k];
                        sf_buf_printf(&b, "%s.%s -> ", a->ents[g->node_ent[w]].name,
                                      a->ents[g->node_ent[w]].meths[g->node_meth[w]].name);
                    }
                    sf_buf_printf(&b, "%s.%s", a->ents[g->node_ent[v]].name,
                                  a->ents[g->node_ent[v]].meths[g->node_meth[v]].name);
                    sf_diag_error(a->d, e->pos.line, e->pos.col, "recursion is not supported: %s",
                                  b.data);
                    sf_buf_free(&b);
                }
            } else {
                color[u] = 2;
                sp--;
            }
        }
    }
    free(color);
    free(stk);
    free(stke);
    free(spos);
}

static void compute_flags(actx *a, const graph *g)
{
    for (int u = 0; u < g->n; u++) {
        ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
        if (m->ncalls > 0)
            m->flags |= SF_METHOD_SPLIT;
        if (!m->direct_write && !(m->flags & SF_METHOD_INIT))
            m->flags |= SF_METHOD_READ_ONLY;
    }
    for (int changed = 1, rounds = 0; changed && rounds <= g->n; rounds++) {
        changed = 0;
        for (int u = 0; u < g->n; u++) {
            ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
            for (int k = 0; k < m->nedges; k++) {
                if (m->edges[k].remote)
                    continue;
                int v = edge_target(a, g, &m->edges[k]);
                if (v < 0)
                    continue;
                ameth *c = &a->ents[g->node_ent[v]].meths[g->node_meth[v]];
                if ((c->flags & SF_METHOD_SPLIT) && !(m->flags & SF_METHOD_SPLIT)) {
                    m->flags |= SF_METHOD_SPLIT;
                    changed = 1;
                }
                if (!(c->flags & SF_METHOD_READ_ONLY) && (m->flags & SF_METHOD_READ_ONLY)) {
                    m->flags &= ~(unsigned)SF_METHOD_READ_ONLY;
                    changed = 1;
                }
            }
        }
    }
}

/* A local call of a split method performs remote operations too: it is
 * subject to the same restrictions on where it may appear. */
static void check_split_calls(actx *a, const graph *g)
{
    for (int u = 0; u < g->n; u++) {
        const aent *en = &a->ents[g->node_ent[u]];
        const ameth *m = &en->meths[g->node_meth[u]];
        for (int k = 0; k < m->nedges; k++) {
            const aedge *e = &m->edges[k];
            if (e->remote || !e->where)
                continue;
            int v = edge_target(a, g, e);
            if (v < 0)
                continue;
            const ameth *c = &a->ents[g->node_ent[v]].meths[g->node_meth[v]];
            if (c->flags & SF_METHOD_SPLIT)
                aerr(a, e->pos, "call of %s.%s, which performs remote operations, %s is not "
                                "supported: %s", en->name, c->name, e->where, e->fix);
        }
    }
}

/* ---- building the IR ---------------------------------------------------- */

static void build_ir(actx *a)
{
    sf_program *p = a->p;
    sf_ir *ir = p->ir;
    int ne = a->nents;
    ir->entities = ne ? sf_arena_alloc(a->ira, (size_t)ne * sizeof(sf_ir_entity)) : NULL;
    ir->nentities = ne;
    p->entities = ne ? sf_arena_alloc(a->ast, (size_t)ne * sizeof(sf_entity_info)) : NULL;
    p->nentities = ne;
    sf_ir_edge *edges = NULL;
    int nedges = 0, capedges = 0;
    for (int ei = 0; ei < ne; ei++) {
        aent *en = &a->ents[ei];
        sf_ir_entity *ie = &ir->entities[ei];
        ie->name = sf_arena_strdup(a->ira, en->name);
        ie->line = en->cls->pos.line;
        ie->nkey = en->nkey;
        ie->key = en->nkey ? sf_arena_alloc(a->ira, (size_t)en->nkey * sizeof(char *)) : NULL;
        for (int k = 0; k < en->nkey; k++)
            ie->key[k] = sf_arena_strdup(a->ira, en->key[k]);
        ie->nattrs = en->nattrs;
        ie->attrs = en->nattrs ? sf_arena_alloc(a->ira, (size_t)en->nattrs * sizeof(sf_ir_attr)) : NULL;
        for (int k = 0; k < en->nattrs; k++) {
            ie->attrs[k].name = sf_arena_strdup(a->ira, en->attrs[k].name);
            ie->attrs[k].type = en->attrs[k].type;
            ie->attrs[k].line = en->attrs[k].pos.line;
        }
        ie->nmethods = en->nmeths;
        ie->methods = en->nmeths ? sf_arena_alloc(a->ira, (size_t)en->nmeths * sizeof(sf_ir_method)) : NULL;
        sf_entity_info *info = &p->entities[ei];
        info->ir = ie;
        info->cls = en->cls;
        info->nmethods = en->nmeths;
        info->methods = en->nmeths ? sf_arena_alloc(a->ast, (size_t)en->nmeths * sizeof(sf_method_info)) : NULL;
        for (int k = 0; k < en->nmeths; k++) {
            ameth *m = &en->meths[k];
            sf_ir_method *im = &ie->methods[k];
            im->name = sf_arena_strdup(a->ira, m->name);
            im->line = m->line;
            im->flags = m->flags;
            im->params = m->params;
            im->nparams = m->nparams;
            im->returns = m->returns ? m->returns : a->t_any;
            im->nreads = m->nreads;
            im->reads = m->nreads ? sf_arena_alloc(a->ira, (size_t)m->nreads * sizeof(char *)) : NULL;
            for (int r = 0; r < m->nreads; r++)
                im->reads[r] = m->reads[r];
            im->nwrites = m->nwrites;
            im->writes = m->nwrites ? sf_arena_alloc(a->ira, (size_t)m->nwrites * sizeof(char *)) : NULL;
            for (int r = 0; r < m->nwrites; r++)
                im->writes[r] = m->writes[r];
            im->ncalls = m->ncalls;
            im->calls = m->ncalls ? sf_arena_alloc(a->ira, (size_t)m->ncalls * sizeof(sf_ir_call)) : NULL;
            for (int c = 0; c < m->ncalls; c++) {
                im->calls[c] = m->calls[c];
                int dup = 0;
                for (int x = 0; x < nedges && !dup; x++)
                    dup = strcmp(edges[x].from_entity, ie->name) == 0 &&
                          strcmp(edges[x].from_method, im->name) == 0 &&
                          strcmp(edges[x].to_entity, m->calls[c].entity) == 0 &&
                          strcmp(edges[x].to_method, m->calls[c].method) == 0;
                if (!dup) {
                    sf_ir_edge ed = {ie->name, im->name, m->calls[c].entity, m->calls[c].method};
                    VPUSH(a->ast, edges, nedges, capedges, ed);
                }
            }
            info->methods[k].ir = im;
            info->methods[k].def = m->def;
            info->methods[k].owner = info;
        }
    }
    ir->nedges = nedges;
    ir->edges = nedges ? sf_arena_alloc(a->ira, (size_t)nedges * sizeof(sf_ir_edge)) : NULL;
    for (int i = 0; i < nedges; i++)
        ir->edges[i] = edges[i];
}

/* ---- entry points ------------------------------------------------------- */

int sf_analyse(sf_program *p, sf_diag *d)
{
    int before = sf_diag_count(d);
    actx a;
    memset(&a, 0, sizeof(a));
    a.p = p;
    a.d = d;
    a.ast = p->arena;
    a.ira = &p->ir->arena;
    a.t_any = tnew(&a, SF_TYPE_ANY, 0);
    a.t_none = tnew(&a, SF_TYPE_NONE, 0);
    a.t_bool = tnew(&a, SF_TYPE_BOOL, 0);
    a.t_int = tnew(&a, SF_TYPE_INT, 0);
    a.t_float = tnew(&a, SF_TYPE_FLOAT, 0);
    a.t_str = tnew(&a, SF_TYPE_STR, 0);
    a.t_bytes = tnew(&a, SF_TYPE_BYTES, 0);
    a.t_tuple = tnew(&a, SF_TYPE_TUPLE, 0);

    collect_mods(&a, &p->mod->body, 0);
    find_entities(&a);
    for (int i = 0; i < a.nents; i++)
        scan_class(&a, i);
    for (int i = 0; i < a.nents; i++)
        collect_attrs(&a, i);
    for (int i = 0; i < a.nents; i++)
        check_key(&a, i);
    for (int i = 0; i < a.nents; i++)
        for (int k = 0; k < a.ents[i].nuser; k++)
            walk_method(&a, i, k);
    walk_outside(&a, &p->mod->body, 0);
    for (int i = 0; i < a.nents; i++)
        add_accessors(&a, i);

    graph g;
    memset(&g, 0, sizeof(g));
    g.base = a.nents ? sf_arena_alloc(a.ast, (size_t)a.nents * sizeof(int)) : NULL;
    for (int i = 0; i < a.nents; i++) {
        g.base[i] = g.n;
        g.n += a.ents[i].nmeths;
    }
    g.node_ent = g.n ? sf_arena_alloc(a.ast, (size_t)g.n * sizeof(int)) : NULL;
    g.node_meth = g.n ? sf_arena_alloc(a.ast, (size_t)g.n * sizeof(int)) : NULL;
    for (int i = 0; i < a.nents; i++)
        for (int k = 0; k < a.ents[i].nmeths; k++) {
            g.node_ent[g.base[i] + k] = i;
            g.node_meth[g.base[i] + k] = k;
        }
    check_recursion(&a, &g);
    compute_flags(&a, &g);
    check_split_calls(&a, &g);
    build_ir(&a);
    return sf_diag_count(d) - before;
}

sf_entity_info *sf_program_entity(const sf_program *p, const char *name)
{
    if (!p || !name)
        return NULL;
    for (int i = 0; i < p->nentities; i++)
        if (strcmp(p->entities[i].ir->name, name) == 0)
            return &p->entities[i];
    return NULL;
}

sf_method_info *sf_entity_method(const sf_entity_info *e, const char *name)
{
    if (!e || !name)
        return NULL;
    for (int i = 0; i < e->nmethods; i++)
        if (strcmp(e->methods[i].ir->name, name) == 0)
            return &e->methods[i];
    return NULL;
}

const char *sf_expr_ref_entity(const sf_expr *e)
{
    return e ? sf_type_entity(e->type) : NULL;
}
