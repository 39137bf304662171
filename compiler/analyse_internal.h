/* analyse_internal.h: what the analysis passes share (analyse*.c).
 *
 * Owns: the analysis context (actx) with its entities, attributes and
 * methods as the passes find them, the context of a walk through one method
 * body (mctx), local scopes and alias sets, and the functions one pass
 * offers the others. Nothing here is part of the compiler's API
 * (analyse.h).
 */
#ifndef SF_COMPILER_ANALYSE_INTERNAL_H
#define SF_COMPILER_ANALYSE_INTERNAL_H

#include "analyse.h"

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
    const sf_type *held;      /* join of the types assigned so far that agree */
    int held_line;            /* where the first of them was assigned */
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
    aedge *values;            /* self.m used as a value, not called */
    int nvalues, capvalues;
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

/* A module-level function called with a reference for a parameter that has
 * no annotation: walked again with the types of that call's arguments. */
typedef struct helper_call {
    sf_stmt *def;
    const sf_type **types;    /* per positional parameter, NULL: its own annotation */
    int ntypes;
    int line;                 /* the call */
} helper_call;

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
    helper_call *helpers;
    int nhelpers, caphelpers;
    const sf_type *t_any, *t_none, *t_bool, *t_int, *t_float, *t_str, *t_bytes, *t_tuple;
    /* Any as well, but for a value of a known class that is not an entity
     * (a dataclass, an Enum, Callable[...], a union of plain types): its
     * attributes are never mistaken for those of a reference */
    const sf_type *t_opaque;
} actx;

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
    const sf_type *lam[4];    /* types of the next lambda's parameters (sorted(xs, key=lambda x: ...)) */
    int nlam;
} mctx;

typedef struct saved { const char *where, *fix; } saved;

enum { HOW_ASSIGN, HOW_FOR, HOW_WITH, HOW_COMP };

/* ---- small helpers -------------------------------------------------------- */

static inline const sf_type *targ(const sf_type *t, int i)
{
    return t && i >= 0 && i < t->nargs && t->args ? t->args[i] : NULL;
}

static inline int tkind(const sf_type *t, sf_type_kind k) { return t && t->kind == k; }

static inline int teq(const sf_type *x, const sf_type *y)
{
    if (!x || !y)
        return x == y;
    return sf_type_equal(x, y);
}

static inline const char *ref_entity(const sf_type *t) { return sf_type_entity(t); }

static inline aent *cur_ent(mctx *mc) { return mc->ent >= 0 ? &mc->a->ents[mc->ent] : NULL; }

static inline ameth *cur_meth(mctx *mc) { return mc->ent >= 0 ? &mc->a->ents[mc->ent].meths[mc->meth] : NULL; }

static inline int in_entity(const mctx *mc) { return mc->ent >= 0 && !mc->outside; }

/* ---- analyse.c: errors, lookups -------------------------------------------- */

void an_aerr(actx *a, sf_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int an_find_ent(const actx *a, const char *name);
int an_find_attr(const aent *e, const char *name);
int an_find_meth(const aent *e, const char *name);
int an_is_clsname(const aent *e, const char *name);
int an_find_mod(const actx *a, const char *name);
int an_is_dunder(const char *n);
int an_is_internal_name(const char *n);

/* ---- analyse_types.c: types, annotations ----------------------------------- */

sf_type *an_tnew(actx *a, sf_type_kind k, int nargs);
const sf_type *an_t1(actx *a, sf_type_kind k, const sf_type *x);
const sf_type *an_t2(actx *a, sf_type_kind k, const sf_type *x, const sf_type *y);
const char *an_tfmt(actx *a, const sf_type *t);
const sf_type *an_topt(actx *a, const sf_type *t);
int an_immutable(const sf_type *t, int depth);
int an_mentions_entity(const sf_type *t, int depth);
const sf_type *an_elem_type(actx *a, const sf_type *t);
const sf_type *an_join_strict(actx *a, const sf_type *x, const sf_type *y);
const sf_type *an_tjoin(actx *a, const sf_type *old, const sf_type *nw, int *poison);
const sf_type *an_resolve(actx *a, sf_expr *e, int report, int depth);
const sf_type *an_resolve_or_any(actx *a, sf_expr *e, int report);

/* ---- analyse_entities.c: entity classes ------------------------------------ */

void an_find_entities(actx *a);
void an_scan_class(actx *a, int ei);
void an_collect_attrs(actx *a, int ei);
void an_check_key(actx *a, int ei);
void an_add_accessors(actx *a, int ei);

/* ---- analyse_stmts.c: scopes, statements, walks ---------------------------- */

scope *an_scope_new(actx *a, scope *parent, int kind, int persistent);
local *an_lookup(scope *s, const char *name);
local *an_add_param(actx *a, scope *s, const char *name, const sf_type *t);
saved an_enter(mctx *mc, const char *where, const char *fix);
void an_leave(mctx *mc, saved s);
void an_merr(mctx *mc, sf_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int an_is_self_name(mctx *mc, const sf_expr *e);
local *an_bind(mctx *mc, const char *name, const sf_type *t, const rootset *rs, int how);
const sf_type *an_local_type(const local *l);
void an_check_rebind(mctx *mc, local *l, const sf_type *vt, sf_pos pos);
void an_tstore(mctx *mc, sf_expr *t, const sf_type *vt, const rootset *rs, sf_expr *value, int how);
void an_walk_method(actx *a, int ei, int mi);
void an_walk_outside(actx *a, const sf_stmt_list *body, int depth);
void an_note_helper_call(mctx *mc, const char *name, sf_expr *call);
void an_walk_helpers(actx *a);

/* ---- analyse_exprs.c: expressions ------------------------------------------ */

int an_find_builtin(mctx *mc, const char *name);
int an_builtin_propagates(int b); /* its result may alias its arguments */
void an_tx_args(mctx *mc, sf_expr *e);
const sf_type *an_tx(mctx *mc, sf_expr *e);
const sf_type *an_const_type(actx *a, const sf_expr *e);
void an_tx_defaults(mctx *mc, sf_arguments *args); /* parameter defaults, where the def stands */

/* ---- analyse_refs.c: references -------------------------------------------- */

void an_rec_remote(mctx *mc, sf_pos pos, int ti, const char *method, const char *op, int ai);
void an_missing(mctx *mc, const aent *en, sf_pos pos, const char *what, const char *name);
void an_in_place_check(mctx *mc, const sf_expr *base, sf_pos pos);
void an_check_args(mctx *mc, sf_expr *call, int ti, int mi, int remote);
const sf_type *an_remote_attr_read(mctx *mc, sf_expr *e, const char *entname);
const sf_type *an_tx_attr(mctx *mc, sf_expr *e);
const sf_type *an_remote_call(mctx *mc, sf_expr *e, const char *entname);
void an_check_compare(mctx *mc, sf_expr *e);
void an_check_isinstance(mctx *mc, sf_expr *call);
void an_check_self_stored(mctx *mc, const sf_expr *x);
void an_check_untyped(mctx *mc, const sf_expr *v, const sf_type *vt, const char *name, sf_pos pos,
                      int is_call);

/* ---- analyse_effects.c: effects on self ------------------------------------ */

int an_rs_union(rootset *r, const rootset *o);
void an_rec_read(mctx *mc, int ai);
void an_rec_write(mctx *mc, int ai);
void an_rec_writes(mctx *mc, const rootset *r);
void an_key_write_check(mctx *mc, const aent *en, int ai, sf_pos pos, int local_self);
int an_pure_method(const sf_type *t, const char *m);
void an_roots(mctx *mc, const sf_expr *e, rootset *r, int depth);
void an_args_escape(mctx *mc, sf_expr *e);

/* ---- analyse_lifecycle.c: creating and deleting instances in methods ----- */

const sf_type *an_create_call(mctx *mc, sf_expr *e, int ti);
int an_is_delete_call(mctx *mc, const sf_expr *e);
void an_check_stateflow_call(mctx *mc, const sf_expr *e);
const sf_type *an_delete_call(mctx *mc, sf_expr *e);

/* ---- analyse_calls.c: call graph ------------------------------------------- */

void an_check_calls(actx *a);

#endif
