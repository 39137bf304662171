/* split.c: turns methods with remote operations into blocks (see split.h).
 *
 * Per split method, in four steps:
 *   1. build: walk the body once, producing basic blocks of "atomic"
 *      statements (statements with no remote operation inside, printed back
 *      as they are) ended by a terminator: goto, branch, remote call, return.
 *      Expressions holding remote operations are flattened on the way:
 *      everything Python would evaluate before the remote operation is
 *      computed first and, when a later remote call could change it, saved
 *      in a temporary (_sf_tN); the remote operation ends the block and its
 *      result is bound to a temporary in the continuation block.
 *   2. analyse: predecessors, liveness (which variables a frame carries) and
 *      definite assignment (which of them are surely bound at each exit).
 *   3. group: a block becomes a function when it is the entry, resumes
 *      after a remote call, joins several paths or is the target of a jump
 *      out of an atomic statement; every other block has one predecessor
 *      and is printed inline inside it (as nested if/else).
 *   4. emit: one FunctionDef per function plus its IR block record.
 */
#include "split.h"

#include "lower.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- basic blocks ------------------------------------------------------ */

typedef enum { T_NONE, T_GOTO, T_BRANCH, T_CALL, T_RETURN } term_kind;

typedef struct bblock {
    sf_stmt_list stmts;
    term_kind term;
    sf_expr *test;            /* BRANCH */
    int on_true, on_false;    /* BRANCH */
    int next;                 /* GOTO target, CALL continuation */
    sf_expr *value;           /* RETURN value (NULL: None) */
    sf_expr *target;          /* CALL: the reference, or the self name */
    const char *method;       /* CALL */
    const char *entity;       /* CALL: callee entity for the IR */
    const char *bind;         /* CALL: variable receiving the result, or NULL */
    sf_expr_list args;        /* CALL */
    int line;
    int npreds;
    int force_fn;             /* target of a jump from inside an atomic statement */
    int is_cont;              /* resumes after a remote call */
    int fn;                   /* function index, -1 when printed inline */
    uint64_t *live_in, *def_in, *def_out;
    int def_init;             /* def_in computed at least once */
} bblock;

/* A jump out of an atomic statement (break/continue of a split loop inside
 * an if/try that has no remote operation): printed as `return (2, k, frame)`
 * once the target's function and live set are known. */
typedef struct fixup {
    int block, stmt;          /* the top-level atomic statement holding it */
    int target;
    sf_stmt *ret;             /* the Return statement to fill */
} fixup;

typedef struct loop_ctx { int brk, cont; } loop_ctx;

/* A local variable bound to a function made in the method, or to an
 * iterator (lambda: 0 def, 1 lambda, 2 iterator or view). */
typedef struct fnvar { const char *name; sf_pos pos; int lambda; } fnvar;

typedef struct builder {
    sf_program *p;
    sf_diag *d;
    sf_arena *a;
    sf_entity_info *ent;
    sf_method_info *m;
    const char *self_name;
    bblock *bb;
    int nbb, capbb;
    int cur;                  /* block being filled, -1 when unreachable */
    int ntemps;
    loop_ctx *loops;
    int nloops, caploops;
    fixup *fix;
    int nfix, capfix;
    const char **vars;        /* the method's local variables */
    int nvars, capvars;
    int nwords;
    int errors;
    const char *module_name;  /* the app's module name (its file name without .py) */
    fnvar *fns;               /* locals bound to a function (def, lambda) */
    int nfns, capfns;
} builder;

#define ARRAY_PUSH(arr, n, cap, val)                                              \
    do {                                                                          \
        if ((n) == (cap)) {                                                       \
            int ncap_ = (cap) ? (cap) * 2 : 8;                                    \
            void *np_ = realloc((arr), (size_t)ncap_ * sizeof(*(arr)));           \
            if (!np_) {                                                           \
                fprintf(stderr, "sfc: out of memory\n");                          \
                abort();                                                          \
            }                                                                     \
            (arr) = np_;                                                          \
            (cap) = ncap_;                                                        \
        }                                                                         \
        (arr)[(n)++] = (val);                                                     \
    } while (0)

static void error_at(builder *b, sf_pos pos, const char *what)
{
    sf_diag_error(b->d, pos.line, pos.col, "%s", what);
    b->errors++;
}

static int new_block(builder *b, int line)
{
    bblock blk;
    memset(&blk, 0, sizeof(blk));
    blk.fn = -1;
    blk.line = line;
    ARRAY_PUSH(b->bb, b->nbb, b->capbb, blk);
    return b->nbb - 1;
}

static void add_stmt(builder *b, sf_stmt *s)
{
    if (b->cur < 0)
        return;
    bblock *blk = &b->bb[b->cur];
    if (blk->stmts.n == 0 && blk->line == 0)
        blk->line = s->pos.line;
    sf_stmt_list_push(b->a, &blk->stmts, s);
}

static void term_goto(builder *b, int target)
{
    if (b->cur < 0)
        return;
    b->bb[b->cur].term = T_GOTO;
    b->bb[b->cur].next = target;
    b->cur = -1;
}

static void term_branch(builder *b, sf_expr *test, int t, int f)
{
    if (b->cur < 0)
        return;
    bblock *blk = &b->bb[b->cur];
    blk->term = T_BRANCH;
    blk->test = test;
    blk->on_true = t;
    blk->on_false = f;
    b->cur = -1;
}

static void term_return(builder *b, sf_expr *value)
{
    if (b->cur < 0)
        return;
    b->bb[b->cur].term = T_RETURN;
    b->bb[b->cur].value = value;
    b->cur = -1;
}

/* ---- variables ---------------------------------------------------------- */

static int var_index(const builder *b, const char *name)
{
    for (int i = 0; i < b->nvars; i++)
        if (strcmp(b->vars[i], name) == 0)
            return i;
    return -1;
}

static void var_add(builder *b, const char *name)
{
    if (strcmp(name, b->self_name) == 0 || var_index(b, name) >= 0)
        return;
    ARRAY_PUSH(b->vars, b->nvars, b->capvars, name);
}

static const char *new_temp(builder *b, const char *prefix)
{
    const char *name = sf_arena_printf(b->a, "_sf_%s%d", prefix, b->ntemps++);
    var_add(b, name);
    return name;
}

/* ---- AST helpers -------------------------------------------------------- */

static sf_expr *mk_name(builder *b, const char *id, sf_pos pos) { return sf_expr_name(b->a, id, pos); }

static sf_stmt *mk_assign(builder *b, sf_expr *target, sf_expr *value, sf_pos pos)
{
    sf_stmt *s = sf_stmt_new(b->a, SF_ST_ASSIGN, pos);
    sf_expr_list_push(b->a, &s->u.assign.targets, target);
    s->u.assign.value = value;
    return s;
}

static sf_expr *mk_tuple(builder *b, sf_pos pos)
{
    return sf_expr_new(b->a, SF_EX_TUPLE, pos);
}

static sf_expr *mk_call(builder *b, const char *fname, sf_pos pos)
{
    sf_expr *c = sf_expr_new(b->a, SF_EX_CALL, pos);
    c->u.call.func = mk_name(b, fname, pos);
    return c;
}

/* ---- remote operations -------------------------------------------------- */

static int is_self(const builder *b, const sf_expr *e)
{
    return e->kind == SF_EX_NAME && strcmp(e->u.name.id, b->self_name) == 0;
}

/* Entity of the object of an attribute access when the access is remote. */
static const char *remote_entity(const builder *b, const sf_expr *obj)
{
    if (is_self(b, obj))
        return NULL;
    return sf_expr_ref_entity(obj);
}

static int is_self_split_call(const builder *b, const sf_expr *e)
{
    if (e->kind != SF_EX_CALL || e->u.call.func->kind != SF_EX_ATTR)
        return 0;
    const sf_expr *f = e->u.call.func;
    if (!is_self(b, f->u.attr.value))
        return 0;
    sf_method_info *mi = sf_entity_method(b->ent, f->u.attr.attr);
    return mi && (mi->ir->flags & SF_METHOD_SPLIT);
}

/* `E(args)` that the analyser typed as a create of entity E (a reference
 * to E): a remote create (docs/ir.md "Block results"). */
static const char *create_entity(const builder *b, const sf_expr *e)
{
    if (e->kind != SF_EX_CALL || e->u.call.func->kind != SF_EX_NAME)
        return NULL;
    const char *id = e->u.call.func->u.name.id;
    const char *re = sf_expr_ref_entity(e);
    if (!re || strcmp(re, id) != 0 || !sf_ir_find_entity(b->p->ir, id))
        return NULL;
    return id;
}

/* `stateflow.delete(x)`: a remote delete of x's instance (or of self). */
static int is_delete_call(const builder *b, const sf_expr *e)
{
    if (e->kind != SF_EX_CALL || e->u.call.func->kind != SF_EX_ATTR)
        return 0;
    const sf_expr *f = e->u.call.func;
    return f->u.attr.value->kind == SF_EX_NAME && strcmp(f->u.attr.value->u.name.id, "stateflow") == 0 &&
           strcmp(f->u.attr.attr, "delete") == 0 && var_index(b, "stateflow") < 0 &&
           e->u.call.args.n == 1;
}

static int is_remote_call(const builder *b, const sf_expr *e)
{
    if (create_entity(b, e) || is_delete_call(b, e))
        return 1;
    if (e->kind != SF_EX_CALL || e->u.call.func->kind != SF_EX_ATTR)
        return 0;
    return remote_entity(b, e->u.call.func->u.attr.value) != NULL || is_self_split_call(b, e);
}

static int is_remote_attr(const builder *b, const sf_expr *e)
{
    return e->kind == SF_EX_ATTR && remote_entity(b, e->u.attr.value) != NULL;
}

/* Child expression slots of e, in Python's evaluation order. */
typedef struct slotv { sf_expr **v[64]; sf_expr ***more; int n, cap; } slotv;

static void slot_push(builder *b, slotv *s, sf_expr **p)
{
    if (!*p)
        return;
    if (s->n < 64) {
        s->v[s->n++] = p;
        return;
    }
    int i = s->n - 64;
    if (i == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        s->more = sf_arena_grow(b->a, s->more, (size_t)s->cap, (size_t)cap, sizeof(*s->more));
        s->cap = cap;
    }
    s->more[i] = p;
    s->n++;
}

static sf_expr **slot_at(slotv *s, int i) { return i < 64 ? s->v[i] : s->more[i - 64]; }

static void comp_slots(builder *b, slotv *s, sf_comprehension *g, int n)
{
    for (int i = 0; i < n; i++) {
        slot_push(b, s, &g[i].iter);
        slot_push(b, s, &g[i].target);
        for (int j = 0; j < g[i].ifs.n; j++)
            slot_push(b, s, &g[i].ifs.v[j]);
    }
}

static void args_slots(builder *b, slotv *s, sf_arguments *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->defaults.n; i++)
        slot_push(b, s, &a->defaults.v[i]);
    for (int i = 0; i < a->nkwonly; i++)
        if (a->kw_defaults)
            slot_push(b, s, &a->kw_defaults[i]);
}

static void expr_slots(builder *b, sf_expr *e, slotv *s)
{
    s->n = 0;
    s->cap = 0;
    s->more = NULL;
    switch (e->kind) {
    case SF_EX_NAME: case SF_EX_CONST:
        break;
    case SF_EX_ATTR: slot_push(b, s, &e->u.attr.value); break;
    case SF_EX_CALL:
        slot_push(b, s, &e->u.call.func);
        for (int i = 0; i < e->u.call.args.n; i++)
            slot_push(b, s, &e->u.call.args.v[i]);
        for (int i = 0; i < e->u.call.nkw; i++)
            slot_push(b, s, &e->u.call.kw[i].value);
        break;
    case SF_EX_BINOP: slot_push(b, s, &e->u.binop.left); slot_push(b, s, &e->u.binop.right); break;
    case SF_EX_UNARYOP: slot_push(b, s, &e->u.unaryop.operand); break;
    case SF_EX_BOOLOP:
        for (int i = 0; i < e->u.boolop.values.n; i++)
            slot_push(b, s, &e->u.boolop.values.v[i]);
        break;
    case SF_EX_COMPARE:
        slot_push(b, s, &e->u.compare.left);
        for (int i = 0; i < e->u.compare.comparators.n; i++)
            slot_push(b, s, &e->u.compare.comparators.v[i]);
        break;
    case SF_EX_IFEXP:
        slot_push(b, s, &e->u.ifexp.test);
        slot_push(b, s, &e->u.ifexp.body);
        slot_push(b, s, &e->u.ifexp.orelse);
        break;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET:
        for (int i = 0; i < e->u.seq.elts.n; i++)
            slot_push(b, s, &e->u.seq.elts.v[i]);
        break;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n; i++) {
            slot_push(b, s, &e->u.dict.keys[i]);
            slot_push(b, s, &e->u.dict.values[i]);
        }
        break;
    case SF_EX_SUBSCRIPT: slot_push(b, s, &e->u.subscript.value); slot_push(b, s, &e->u.subscript.slice); break;
    case SF_EX_SLICE:
        slot_push(b, s, &e->u.slice.lower);
        slot_push(b, s, &e->u.slice.upper);
        slot_push(b, s, &e->u.slice.step);
        break;
    case SF_EX_LAMBDA:
        args_slots(b, s, e->u.lambda.args);
        slot_push(b, s, &e->u.lambda.body);
        break;
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_GENEXP: case SF_EX_DICTCOMP:
        comp_slots(b, s, e->u.comp.gens, e->u.comp.ngens);
        slot_push(b, s, &e->u.comp.elt);
        slot_push(b, s, &e->u.comp.value);
        break;
    case SF_EX_JOINEDSTR:
        for (int i = 0; i < e->u.joinedstr.values.n; i++)
            slot_push(b, s, &e->u.joinedstr.values.v[i]);
        break;
    case SF_EX_FORMATTED:
        slot_push(b, s, &e->u.formatted.value);
        slot_push(b, s, &e->u.formatted.format_spec);
        break;
    case SF_EX_STARRED: case SF_EX_AWAIT: case SF_EX_YIELD: case SF_EX_YIELDFROM:
        slot_push(b, s, &e->u.starred.value);
        break;
    case SF_EX_NAMEDEXPR: slot_push(b, s, &e->u.namedexpr.value); break;
    }
}

static int has_remote(const builder *b, sf_expr *e)
{
    if (!e)
        return 0;
    if (is_remote_call(b, e) || is_remote_attr(b, e))
        return 1;
    slotv s;
    expr_slots((builder *)b, e, &s);
    for (int i = 0; i < s.n; i++) {
        sf_expr *c = *slot_at(&s, i);
        /* the callee of a plain call: only its object can be remote */
        if (e->kind == SF_EX_CALL && i == 0 && c->kind == SF_EX_ATTR) {
            if (has_remote(b, c->u.attr.value))
                return 1;
            continue;
        }
        if (has_remote(b, c))
            return 1;
    }
    return 0;
}

static int list_has_remote(const builder *b, const sf_expr_list *l)
{
    for (int i = 0; i < l->n; i++)
        if (has_remote(b, l->v[i]))
            return 1;
    return 0;
}

static int stmts_have_remote(const builder *b, const sf_stmt_list *l);

static int stmt_has_remote(const builder *b, sf_stmt *s)
{
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
        return list_has_remote(b, &s->u.func.decorators) || stmts_have_remote(b, &s->u.func.body);
    case SF_ST_CLASSDEF:
        return stmts_have_remote(b, &s->u.cls.body);
    case SF_ST_RETURN: return has_remote(b, s->u.ret.value);
    case SF_ST_DELETE: return list_has_remote(b, &s->u.del.targets);
    case SF_ST_ASSIGN:
        return list_has_remote(b, &s->u.assign.targets) || has_remote(b, s->u.assign.value);
    case SF_ST_AUGASSIGN:
        return has_remote(b, s->u.augassign.target) || has_remote(b, s->u.augassign.value);
    case SF_ST_ANNASSIGN:
        return has_remote(b, s->u.annassign.target) || has_remote(b, s->u.annassign.value);
    case SF_ST_FOR: case SF_ST_ASYNCFOR:
        return has_remote(b, s->u.for_.target) || has_remote(b, s->u.for_.iter) ||
               stmts_have_remote(b, &s->u.for_.body) || stmts_have_remote(b, &s->u.for_.orelse);
    case SF_ST_WHILE:
        return has_remote(b, s->u.while_.test) || stmts_have_remote(b, &s->u.while_.body) ||
               stmts_have_remote(b, &s->u.while_.orelse);
    case SF_ST_IF:
        return has_remote(b, s->u.if_.test) || stmts_have_remote(b, &s->u.if_.body) ||
               stmts_have_remote(b, &s->u.if_.orelse);
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        for (int i = 0; i < s->u.with.nitems; i++)
            if (has_remote(b, s->u.with.items[i].context) || has_remote(b, s->u.with.items[i].vars))
                return 1;
        return stmts_have_remote(b, &s->u.with.body);
    case SF_ST_RAISE: return has_remote(b, s->u.raise.exc) || has_remote(b, s->u.raise.cause);
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        if (stmts_have_remote(b, &s->u.try_.body) || stmts_have_remote(b, &s->u.try_.orelse) ||
            stmts_have_remote(b, &s->u.try_.finalbody))
            return 1;
        for (int i = 0; i < s->u.try_.nhandlers; i++)
            if (has_remote(b, s->u.try_.handlers[i].type) ||
                stmts_have_remote(b, &s->u.try_.handlers[i].body))
                return 1;
        return 0;
    case SF_ST_ASSERT: return has_remote(b, s->u.assert_.test) || has_remote(b, s->u.assert_.msg);
    case SF_ST_EXPR: return has_remote(b, s->u.expr.value);
    default: return 0;
    }
}

static int stmts_have_remote(const builder *b, const sf_stmt_list *l)
{
    for (int i = 0; i < l->n; i++)
        if (stmt_has_remote(b, l->v[i]))
            return 1;
    return 0;
}

/* ---- collecting names ------------------------------------------------- */

typedef void (*name_fn)(builder *b, const char *name, void *ctx);

/* Every Name inside e (loads and stores alike). */
static void expr_names(builder *b, sf_expr *e, name_fn fn, void *ctx)
{
    if (!e)
        return;
    if (e->kind == SF_EX_NAME) {
        fn(b, e->u.name.id, ctx);
        return;
    }
    if (e->kind == SF_EX_NAMEDEXPR)
        expr_names(b, e->u.namedexpr.target, fn, ctx);
    slotv s;
    expr_slots(b, e, &s);
    for (int i = 0; i < s.n; i++)
        expr_names(b, *slot_at(&s, i), fn, ctx);
}

static void stmts_names(builder *b, sf_stmt_list *l, name_fn fn, void *ctx);

static void arguments_names(builder *b, sf_arguments *a, name_fn fn, void *ctx)
{
    if (!a)
        return;
    for (int i = 0; i < a->defaults.n; i++)
        expr_names(b, a->defaults.v[i], fn, ctx);
    for (int i = 0; i < a->nkwonly; i++)
        if (a->kw_defaults)
            expr_names(b, a->kw_defaults[i], fn, ctx);
}

/* Every Name in a statement, nested statements included: the uses of an
 * atomic statement for liveness (a superset is safe). */
static void stmt_names(builder *b, sf_stmt *s, name_fn fn, void *ctx)
{
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
        for (int i = 0; i < s->u.func.decorators.n; i++)
            expr_names(b, s->u.func.decorators.v[i], fn, ctx);
        arguments_names(b, s->u.func.args, fn, ctx);
        stmts_names(b, &s->u.func.body, fn, ctx);
        fn(b, s->u.func.name, ctx);
        break;
    case SF_ST_CLASSDEF:
        for (int i = 0; i < s->u.cls.decorators.n; i++)
            expr_names(b, s->u.cls.decorators.v[i], fn, ctx);
        for (int i = 0; i < s->u.cls.bases.n; i++)
            expr_names(b, s->u.cls.bases.v[i], fn, ctx);
        stmts_names(b, &s->u.cls.body, fn, ctx);
        fn(b, s->u.cls.name, ctx);
        break;
    case SF_ST_RETURN: expr_names(b, s->u.ret.value, fn, ctx); break;
    case SF_ST_DELETE:
        for (int i = 0; i < s->u.del.targets.n; i++)
            expr_names(b, s->u.del.targets.v[i], fn, ctx);
        break;
    case SF_ST_ASSIGN:
        for (int i = 0; i < s->u.assign.targets.n; i++)
            expr_names(b, s->u.assign.targets.v[i], fn, ctx);
        expr_names(b, s->u.assign.value, fn, ctx);
        break;
    case SF_ST_AUGASSIGN:
        expr_names(b, s->u.augassign.target, fn, ctx);
        expr_names(b, s->u.augassign.value, fn, ctx);
        break;
    case SF_ST_ANNASSIGN:
        expr_names(b, s->u.annassign.target, fn, ctx);
        expr_names(b, s->u.annassign.value, fn, ctx);
        break;
    case SF_ST_FOR: case SF_ST_ASYNCFOR:
        expr_names(b, s->u.for_.target, fn, ctx);
        expr_names(b, s->u.for_.iter, fn, ctx);
        stmts_names(b, &s->u.for_.body, fn, ctx);
        stmts_names(b, &s->u.for_.orelse, fn, ctx);
        break;
    case SF_ST_WHILE:
        expr_names(b, s->u.while_.test, fn, ctx);
        stmts_names(b, &s->u.while_.body, fn, ctx);
        stmts_names(b, &s->u.while_.orelse, fn, ctx);
        break;
    case SF_ST_IF:
        expr_names(b, s->u.if_.test, fn, ctx);
        stmts_names(b, &s->u.if_.body, fn, ctx);
        stmts_names(b, &s->u.if_.orelse, fn, ctx);
        break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        for (int i = 0; i < s->u.with.nitems; i++) {
            expr_names(b, s->u.with.items[i].context, fn, ctx);
            expr_names(b, s->u.with.items[i].vars, fn, ctx);
        }
        stmts_names(b, &s->u.with.body, fn, ctx);
        break;
    case SF_ST_RAISE:
        expr_names(b, s->u.raise.exc, fn, ctx);
        expr_names(b, s->u.raise.cause, fn, ctx);
        break;
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        stmts_names(b, &s->u.try_.body, fn, ctx);
        for (int i = 0; i < s->u.try_.nhandlers; i++) {
            expr_names(b, s->u.try_.handlers[i].type, fn, ctx);
            if (s->u.try_.handlers[i].name)
                fn(b, s->u.try_.handlers[i].name, ctx);
            stmts_names(b, &s->u.try_.handlers[i].body, fn, ctx);
        }
        stmts_names(b, &s->u.try_.orelse, fn, ctx);
        stmts_names(b, &s->u.try_.finalbody, fn, ctx);
        break;
    case SF_ST_ASSERT:
        expr_names(b, s->u.assert_.test, fn, ctx);
        expr_names(b, s->u.assert_.msg, fn, ctx);
        break;
    case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
        for (int i = 0; i < s->u.import.nnames; i++) {
            const sf_alias *al = &s->u.import.names[i];
            if (al->asname) {
                fn(b, al->asname, ctx);
            } else {
                const char *dot = strchr(al->name, '.');
                fn(b, dot ? sf_arena_strndup(b->a, al->name, (size_t)(dot - al->name)) : al->name, ctx);
            }
        }
        break;
    case SF_ST_EXPR: expr_names(b, s->u.expr.value, fn, ctx); break;
    default: break;
    }
}

static void stmts_names(builder *b, sf_stmt_list *l, name_fn fn, void *ctx)
{
    for (int i = 0; i < l->n; i++)
        stmt_names(b, l->v[i], fn, ctx);
}

/* Stores, for the set of local variables: assignment, loop, with, except,
 * import and def targets anywhere in the body (not inside nested scopes). */
static void store_target_names(builder *b, sf_expr *t)
{
    if (!t)
        return;
    switch (t->kind) {
    case SF_EX_NAME: var_add(b, t->u.name.id); break;
    case SF_EX_TUPLE: case SF_EX_LIST:
        for (int i = 0; i < t->u.seq.elts.n; i++)
            store_target_names(b, t->u.seq.elts.v[i]);
        break;
    case SF_EX_STARRED: store_target_names(b, t->u.starred.value); break;
    default: break;
    }
}

static void walrus_names(builder *b, sf_expr *e)
{
    if (!e)
        return;
    if (e->kind == SF_EX_NAMEDEXPR)
        store_target_names(b, e->u.namedexpr.target);
    if (e->kind == SF_EX_LAMBDA)
        return;
    slotv s;
    expr_slots(b, e, &s);
    for (int i = 0; i < s.n; i++)
        walrus_names(b, *slot_at(&s, i));
}

static void collect_locals(builder *b, sf_stmt_list *l);

static void walrus_in_stmt(builder *b, sf_stmt *s);

/* A value that is an iterator or a view over another value (a generator
 * expression, iter/map/filter/zip/enumerate/reversed/range, dict views):
 * it cannot be kept in a frame across a remote operation. */
static int is_iterator(const sf_expr *v)
{
    static const char *const fns[] = {"iter", "map", "filter", "zip", "enumerate", "reversed", "range", NULL};
    static const char *const views[] = {"items", "keys", "values", NULL};
    if (v->kind == SF_EX_GENEXP)
        return 1;
    if (v->kind != SF_EX_CALL)
        return 0;
    const sf_expr *f = v->u.call.func;
    const char *const *l = f->kind == SF_EX_NAME ? fns : f->kind == SF_EX_ATTR && v->u.call.args.n == 0 ? views : NULL;
    const char *n = f->kind == SF_EX_NAME ? f->u.name.id : f->kind == SF_EX_ATTR ? f->u.attr.attr : "";
    for (; l && *l; l++)
        if (strcmp(*l, n) == 0)
            return 1;
    return 0;
}

static void collect_local(builder *b, sf_stmt *s)
{
    walrus_in_stmt(b, s);
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF: {
        var_add(b, s->u.func.name);
        fnvar fv = {s->u.func.name, s->pos, 0};
        ARRAY_PUSH(b->fns, b->nfns, b->capfns, fv);
        break;
    }
    case SF_ST_CLASSDEF: var_add(b, s->u.cls.name); break;
    case SF_ST_ASSIGN:
        for (int i = 0; i < s->u.assign.targets.n; i++) {
            store_target_names(b, s->u.assign.targets.v[i]);
            int kind = s->u.assign.value->kind == SF_EX_LAMBDA ? 1 : is_iterator(s->u.assign.value) ? 2 : -1;
            if (kind > 0 && s->u.assign.targets.v[i]->kind == SF_EX_NAME) {
                fnvar fv = {s->u.assign.targets.v[i]->u.name.id, s->u.assign.value->pos, kind};
                ARRAY_PUSH(b->fns, b->nfns, b->capfns, fv);
            }
        }
        break;
    case SF_ST_AUGASSIGN: store_target_names(b, s->u.augassign.target); break;
    case SF_ST_ANNASSIGN: store_target_names(b, s->u.annassign.target); break;
    case SF_ST_FOR: case SF_ST_ASYNCFOR:
        store_target_names(b, s->u.for_.target);
        collect_locals(b, &s->u.for_.body);
        collect_locals(b, &s->u.for_.orelse);
        break;
    case SF_ST_WHILE:
        collect_locals(b, &s->u.while_.body);
        collect_locals(b, &s->u.while_.orelse);
        break;
    case SF_ST_IF:
        collect_locals(b, &s->u.if_.body);
        collect_locals(b, &s->u.if_.orelse);
        break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        for (int i = 0; i < s->u.with.nitems; i++)
            store_target_names(b, s->u.with.items[i].vars);
        collect_locals(b, &s->u.with.body);
        break;
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        collect_locals(b, &s->u.try_.body);
        for (int i = 0; i < s->u.try_.nhandlers; i++) {
            if (s->u.try_.handlers[i].name)
                var_add(b, s->u.try_.handlers[i].name);
            collect_locals(b, &s->u.try_.handlers[i].body);
        }
        collect_locals(b, &s->u.try_.orelse);
        collect_locals(b, &s->u.try_.finalbody);
        break;
    case SF_ST_IMPORT: case SF_ST_IMPORTFROM:
        for (int i = 0; i < s->u.import.nnames; i++) {
            const sf_alias *al = &s->u.import.names[i];
            if (al->asname) {
                var_add(b, al->asname);
            } else if (strcmp(al->name, "*") != 0) {
                const char *dot = strchr(al->name, '.');
                var_add(b, dot ? sf_arena_strndup(b->a, al->name, (size_t)(dot - al->name)) : al->name);
            }
        }
        break;
    default: break;
    }
}

static void walrus_in_stmt(builder *b, sf_stmt *s)
{
    switch (s->kind) {
    case SF_ST_RETURN: walrus_names(b, s->u.ret.value); break;
    case SF_ST_ASSIGN: walrus_names(b, s->u.assign.value); break;
    case SF_ST_AUGASSIGN: walrus_names(b, s->u.augassign.value); break;
    case SF_ST_ANNASSIGN: walrus_names(b, s->u.annassign.value); break;
    case SF_ST_FOR: case SF_ST_ASYNCFOR: walrus_names(b, s->u.for_.iter); break;
    case SF_ST_WHILE: walrus_names(b, s->u.while_.test); break;
    case SF_ST_IF: walrus_names(b, s->u.if_.test); break;
    case SF_ST_EXPR: walrus_names(b, s->u.expr.value); break;
    case SF_ST_ASSERT: walrus_names(b, s->u.assert_.test); break;
    case SF_ST_RAISE: walrus_names(b, s->u.raise.exc); break;
    default: break;
    }
}

static void collect_locals(builder *b, sf_stmt_list *l)
{
    for (int i = 0; i < l->n; i++)
        collect_local(b, l->v[i]);
}

/* ---- flattening expressions --------------------------------------------- */

static sf_expr *flat(builder *b, sf_expr *e);

/* Values that a remote call in between cannot change: constants and local
 * or global names (a remote call never rebinds the caller's variables). */
static int is_stable(const sf_expr *e)
{
    return e->kind == SF_EX_CONST || e->kind == SF_EX_NAME;
}

static int is_iterator(const sf_expr *v);

/* Save e in a temporary that lives across the remote operation after it. A
 * generator, iterator or view, or a lambda, cannot be stored in a frame
 * (the frame crosses workers): an error at it, saying what to write. */
static sf_expr *hoist(builder *b, sf_expr *e)
{
    if (is_stable(e))
        return e;
    if (e->kind == SF_EX_LAMBDA || is_iterator(e)) {
        error_at(b, e->pos,
                 e->kind == SF_EX_LAMBDA
                     ? "this lambda is evaluated before a remote operation later in the same expression and "
                       "cannot be kept across it: assign the remote operation's result to a variable in a "
                       "statement before this one"
                     : "this generator, iterator or view is evaluated before a remote operation later in the "
                       "same expression and cannot be kept across it: make it a list (`[...]` or `list(...)`), "
                       "or assign the remote operation's result to a variable in a statement before this one");
        return e;
    }
    const char *t = new_temp(b, "t");
    add_stmt(b, mk_assign(b, mk_name(b, t, e->pos), e, e->pos));
    return mk_name(b, t, e->pos);
}

/* An object that is only looked into (the value of an attribute or
 * subscript, a callee): flattened inside but not saved itself, so that it
 * is looked up again after the remote call (saving `self.items` in a frame
 * would copy the list when the frame crosses processes). */
static sf_expr *flat_container(builder *b, sf_expr *e)
{
    if (!has_remote(b, e))
        return e;
    if (e->kind == SF_EX_ATTR && !is_remote_attr(b, e)) {
        e->u.attr.value = flat_container(b, e->u.attr.value);
        return e;
    }
    if (e->kind == SF_EX_SUBSCRIPT) {
        int later = has_remote(b, e->u.subscript.slice);
        e->u.subscript.value = flat_container(b, e->u.subscript.value);
        if (later)
            e->u.subscript.slice = flat(b, e->u.subscript.slice);
        return e;
    }
    return flat(b, e);
}

/* Flatten the slots of a compound expression: slots before the last one
 * holding a remote operation are evaluated and saved first; the last such
 * slot is flattened; later slots stay in place. `container` marks slots
 * that are only looked into. */
static void flat_slots(builder *b, sf_expr ***slots, const int *container, int n)
{
    int last = -1;
    for (int i = 0; i < n; i++)
        if (has_remote(b, *slots[i]))
            last = i;
    for (int i = 0; i <= last; i++) {
        sf_expr *c = *slots[i];
        if (container && container[i]) {
            *slots[i] = flat_container(b, c);
            continue;
        }
        c = has_remote(b, c) ? flat(b, c) : c;
        *slots[i] = i < last ? hoist(b, c) : c;
    }
}

/* End the current block with a remote call; returns the name the result
 * is bound to in the continuation (NULL when want_result is 0). */
static const char *emit_call_to(builder *b, sf_expr *target, const char *entity, const char *method,
                                sf_expr_list args, int want_result, const char *bind_to, sf_pos pos)
{
    const char *bind = bind_to ? bind_to : want_result ? new_temp(b, "t") : NULL;
    if (b->cur < 0)
        return bind;
    int cont = new_block(b, pos.line);
    bblock *blk = &b->bb[b->cur];
    blk->term = T_CALL;
    blk->target = target;
    blk->entity = entity;
    blk->method = method;
    blk->args = args;
    blk->bind = bind;
    blk->next = cont;
    if (blk->line == 0)
        blk->line = pos.line;
    b->bb[cont].is_cont = 1;
    b->cur = cont;
    return bind;
}

static const char *emit_call(builder *b, sf_expr *target, const char *entity, const char *method,
                             sf_expr_list args, int want_result, sf_pos pos)
{
    return emit_call_to(b, target, entity, method, args, want_result, NULL, pos);
}

/* The value of parameter i's default (self not counted) of def, to pass
 * where a call skips it: a constant, or a name (a module constant, or a
 * constant of the callee's class, read as Entity.NAME), evaluated at the
 * call as Python evaluated it at the def. NULL for anything else. */
static sf_expr *call_default(builder *b, const sf_stmt *def, const sf_stmt *cls, int i)
{
    const sf_arguments *a = def ? def->u.func.args : NULL;
    if (!a)
        return NULL;
    int npos = a->nposonly + a->nargs, ndef = a->defaults.n;
    int k = (i + 1) - (npos - ndef);
    if (k < 0 || k >= ndef)
        return NULL;
    sf_expr *d = a->defaults.v[k];
    const sf_expr *x = d;
    if (x->kind == SF_EX_UNARYOP && (x->u.unaryop.op == SF_OP_USUB || x->u.unaryop.op == SF_OP_UADD))
        x = x->u.unaryop.operand;
    if (x->kind == SF_EX_CONST && x->u.constant.kind != SF_CONST_ELLIPSIS)
        return d;
    if (d->kind != SF_EX_NAME || var_index(b, d->u.name.id) >= 0)
        return NULL;
    for (int s = 0; cls && s < cls->u.cls.body.n; s++) {
        const sf_stmt *st = cls->u.cls.body.v[s];
        const sf_expr *tg = st->kind == SF_ST_ASSIGN && st->u.assign.targets.n == 1 ? st->u.assign.targets.v[0]
                          : st->kind == SF_ST_ANNASSIGN ? st->u.annassign.target : NULL;
        if (tg && tg->kind == SF_EX_NAME && strcmp(tg->u.name.id, d->u.name.id) == 0) {
            sf_expr *e = sf_expr_new(b->a, SF_EX_ATTR, d->pos);
            e->u.attr.value = sf_expr_name(b->a, cls->u.cls.name, d->pos);
            e->u.attr.attr = d->u.name.id;
            return e;
        }
    }
    return d;
}

/* f(..., **kw): the arguments become one `*_sf_kwargs(name, params,
 * positional, keyword dicts, constant defaults)`, matched at run time by
 * the prelude's _sf_kwargs as Python matches them. */
static int kwargs_call_args(builder *b, sf_expr *call, const sf_ir_method *callee, const sf_stmt *cdef,
                            const sf_stmt *ccls, const char *entity, sf_expr_list *out)
{
    sf_pos pos = call->pos;
    sf_expr *fn = mk_call(b, "_sf_kwargs", pos);
    sf_expr_list_push(b->a, &fn->u.call.args,
                      sf_expr_str(b->a, sf_arena_printf(b->a, "%s.%s", entity, callee->name), pos));
    sf_expr_list_push(b->a, &fn->u.call.args, sf_expr_str(b->a, b->module_name, pos));
    sf_expr *params = mk_tuple(b, pos), *defaults = sf_expr_new(b->a, SF_EX_DICT, pos);
    defaults->u.dict.keys = sf_arena_alloc(b->a, sizeof(sf_expr *) * (size_t)(callee->nparams + 1));
    defaults->u.dict.values = sf_arena_alloc(b->a, sizeof(sf_expr *) * (size_t)(callee->nparams + 1));
    for (int i = 0; i < callee->nparams; i++) {
        sf_expr_list_push(b->a, &params->u.seq.elts, sf_expr_str(b->a, callee->params[i].name, pos));
        sf_expr *d = call_default(b, cdef, ccls, i);
        if (!d && callee->params[i].has_default) {
            sf_diag_error(b->d, pos.line, pos.col, "a remote call with ** cannot pass parameter '%s' of %s.%s, "
                          "whose default value is not a constant or a name: pass the arguments by name "
                          "without **", callee->params[i].name, entity, callee->name);
            b->errors++;
            return -1;
        }
        if (d) {
            defaults->u.dict.keys[defaults->u.dict.n] = sf_expr_str(b->a, callee->params[i].name, pos);
            defaults->u.dict.values[defaults->u.dict.n++] = d;
        }
    }
    sf_expr *positional = mk_tuple(b, pos);
    for (int i = 0; i < call->u.call.args.n; i++)
        sf_expr_list_push(b->a, &positional->u.seq.elts, call->u.call.args.v[i]);
    sf_expr *kws = mk_tuple(b, pos);
    for (int k = 0; k < call->u.call.nkw; k++) {
        const sf_keyword *kw = &call->u.call.kw[k];
        if (!kw->arg) {
            sf_expr_list_push(b->a, &kws->u.seq.elts, kw->value);
            continue;
        }
        sf_expr *one = sf_expr_new(b->a, SF_EX_DICT, kw->pos);
        one->u.dict.keys = sf_arena_alloc(b->a, sizeof(sf_expr *));
        one->u.dict.values = sf_arena_alloc(b->a, sizeof(sf_expr *));
        one->u.dict.keys[0] = sf_expr_str(b->a, kw->arg, kw->pos);
        one->u.dict.values[0] = kw->value;
        one->u.dict.n = 1;
        sf_expr_list_push(b->a, &kws->u.seq.elts, one);
    }
    sf_expr_list_push(b->a, &fn->u.call.args, params);
    sf_expr_list_push(b->a, &fn->u.call.args, positional);
    sf_expr_list_push(b->a, &fn->u.call.args, kws);
    sf_expr_list_push(b->a, &fn->u.call.args, defaults);
    sf_expr *st = sf_expr_new(b->a, SF_EX_STARRED, pos);
    st->u.starred.value = fn;
    sf_expr_list res = {0};
    sf_expr_list_push(b->a, &res, st);
    *out = res;
    return 0;
}

static int call_args(builder *b, sf_expr *call, const sf_ir_method *callee, const sf_stmt *cdef,
                     const sf_stmt *ccls, const char *entity, sf_expr_list *out)
{
    sf_expr_list args = call->u.call.args;
    int nkw = call->u.call.nkw;
    int star = 0;
    for (int i = 0; i < args.n; i++)
        star |= args.v[i]->kind == SF_EX_STARRED;
    if (star && nkw > 0 && callee)
        return kwargs_call_args(b, call, callee, cdef, ccls, entity, out);
    if (nkw == 0) {
        *out = args;
        return 0;
    }
    if (!callee) {
        error_at(b, call->pos, "keyword arguments in this remote call are not supported: pass them by position");
        return -1;
    }
    for (int k = 0; k < nkw; k++)
        if (!call->u.call.kw[k].arg)
            return kwargs_call_args(b, call, callee, cdef, ccls, entity, out);
    /* Evaluate every argument in source order first when the keywords are
     * out of parameter order: reordering must not reorder side effects. */
    sf_expr **vals = sf_arena_alloc(b->a, sizeof(sf_expr *) * (size_t)(callee->nparams + 1));
    for (int i = 0; i < args.n && i < callee->nparams; i++)
        vals[i] = args.v[i];
    int prev = -1, ordered = 1;
    for (int k = 0; k < nkw; k++) {
        const char *name = call->u.call.kw[k].arg;
        int idx = -1;
        for (int i = 0; i < callee->nparams; i++)
            if (strcmp(callee->params[i].name, name) == 0)
                idx = i;
        if (idx < 0) {
            sf_diag_error(b->d, call->u.call.kw[k].pos.line, call->u.call.kw[k].pos.col,
                          "%s() got an unexpected keyword argument '%s'", callee->name, name);
            b->errors++;
            return -1;
        }
        if (idx < args.n || vals[idx]) {
            sf_diag_error(b->d, call->u.call.kw[k].pos.line, call->u.call.kw[k].pos.col,
                          "%s() got multiple values for argument '%s'", callee->name, name);
            b->errors++;
            return -1;
        }
        if (idx < prev)
            ordered = 0;
        prev = idx;
        vals[idx] = call->u.call.kw[k].value;
    }
    if (!ordered)
        for (int i = 0; i < callee->nparams; i++)
            if (vals[i])
                vals[i] = hoist(b, vals[i]);
    sf_expr_list res = {0};
    int gap = 0;
    int last = -1;
    for (int i = 0; i < callee->nparams; i++)
        if (vals[i])
            last = i;
    for (int i = 0; i <= last; i++) {
        if (!vals[i]) {
            /* a skipped parameter before a keyword argument: its default */
            vals[i] = call_default(b, cdef, ccls, i);
            if (!vals[i])
                gap = 1;
        }
        if (gap) {
            error_at(b, call->pos, "a remote call cannot skip a parameter whose default value is not a constant or a name and pass a later one by keyword: pass the skipped value explicitly");
            return -1;
        }
        sf_expr_list_push(b->a, &res, vals[i]);
    }
    *out = res;
    return 0;
}

/* E(args): evaluate the arguments, then exit with the create call
 * (1, "E", "__init__", args, ...): the executor runs E.__init__ on a new
 * instance and binds a reference to it (or raises AlreadyExists). */
static sf_expr *flat_create(builder *b, sf_expr *e, const char *entity, int want_result,
                            const char *bind_to)
{
    const sf_ir_entity *ce = sf_ir_find_entity(b->p->ir, entity);
    const sf_ir_method *init = ce ? sf_ir_find_method(ce, "__init__") : NULL;
    sf_entity_info *ci = sf_program_entity(b->p, entity);
    sf_method_info *mi = sf_entity_method(ci, "__init__");
    if (mi && (mi->ir->flags & SF_METHOD_SPLIT)) {
        sf_diag_error(b->d, e->pos.line, e->pos.col,
                      "creating %s inside a method needs %s.__init__ without remote operations: "
                      "pass the values __init__ reads from other entities as arguments",
                      entity, entity);
        b->errors++;
        return sf_expr_none(b->a, e->pos);
    }
    sf_expr_list args;
    if (call_args(b, e, init, mi ? mi->def : NULL, ci ? ci->cls : NULL, entity, &args) < 0)
        return sf_expr_none(b->a, e->pos);
    int n = args.n;
    sf_expr_list copy = {0};
    for (int i = 0; i < args.n; i++)
        sf_expr_list_push(b->a, &copy, args.v[i]);
    if (n > 0) {
        sf_expr ***slots = sf_arena_alloc(b->a, sizeof(*slots) * (size_t)n);
        int *container = sf_arena_alloc(b->a, sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) {
            slots[i] = &copy.v[i];
            container[i] = 0;
        }
        flat_slots(b, slots, container, n);
    }
    sf_expr *target = sf_expr_str(b->a, entity, e->pos);
    const char *res = emit_call_to(b, target, entity, "__init__", copy, want_result, bind_to, e->pos);
    return res ? mk_name(b, res, e->pos) : NULL;
}

/* stateflow.delete(x): exit with (1, x, "_sf_delete", (), ...). */
static sf_expr *flat_delete(builder *b, sf_expr *e, int want_result, const char *bind_to)
{
    sf_expr *target = e->u.call.args.v[0];
    const char *entity = is_self(b, target) ? b->ent->ir->name : sf_expr_ref_entity(target);
    if (has_remote(b, target))
        target = flat(b, target);
    sf_expr_list none = {0};
    const char *res = emit_call_to(b, target, entity, SF_IR_DELETE_METHOD, none, want_result, bind_to,
                                   e->pos);
    return res ? mk_name(b, res, e->pos) : NULL;
}

static sf_expr *flat_remote_call_to(builder *b, sf_expr *e, int want_result, const char *bind_to)
{
    const char *created = create_entity(b, e);
    if (created)
        return flat_create(b, e, created, want_result, bind_to);
    if (is_delete_call(b, e))
        return flat_delete(b, e, want_result, bind_to);
    sf_expr *f = e->u.call.func;
    sf_expr *target = f->u.attr.value;
    const char *method = f->u.attr.attr;
    const char *entity;
    if (is_self(b, target)) {
        entity = b->ent->ir->name;
    } else {
        entity = remote_entity(b, target);
    }
    const sf_ir_entity *ce = sf_ir_find_entity(b->p->ir, entity);
    const sf_ir_method *callee = ce ? sf_ir_find_method(ce, method) : NULL;
    sf_entity_info *cei = sf_program_entity(b->p, entity);
    sf_method_info *cmi = cei ? sf_entity_method(cei, method) : NULL;
    sf_expr_list args;
    if (call_args(b, e, callee, cmi ? cmi->def : NULL, cei ? cei->cls : NULL, entity, &args) < 0)
        return sf_expr_none(b->a, e->pos);
    /* target first, then the arguments, in order */
    int n = args.n + 1;
    sf_expr ***slots = sf_arena_alloc(b->a, sizeof(*slots) * (size_t)n);
    int *container = sf_arena_alloc(b->a, sizeof(int) * (size_t)n);
    sf_expr *t = target;
    slots[0] = &t;
    container[0] = 0;
    sf_expr_list copy = {0};
    for (int i = 0; i < args.n; i++)
        sf_expr_list_push(b->a, &copy, args.v[i]);
    for (int i = 0; i < copy.n; i++) {
        /* *xs: its value is what is evaluated (and saved) before the call */
        if (copy.v[i]->kind == SF_EX_STARRED) {
            sf_expr *st = sf_expr_new(b->a, SF_EX_STARRED, copy.v[i]->pos);
            st->u.starred.value = copy.v[i]->u.starred.value;
            copy.v[i] = st;
            slots[i + 1] = &st->u.starred.value;
        } else {
            slots[i + 1] = &copy.v[i];
        }
    }
    /* all arguments are evaluated before the call itself, so only those
     * before the last remote one need saving: flat_slots does exactly that */
    flat_slots(b, slots, container, n);
    const char *res = emit_call_to(b, t, entity, method, copy, want_result, bind_to, e->pos);
    return res ? mk_name(b, res, e->pos) : NULL;
}

static sf_expr *flat_remote_call(builder *b, sf_expr *e, int want_result)
{
    return flat_remote_call_to(b, e, want_result, NULL);
}

static sf_expr *flat_remote_get(builder *b, sf_expr *e)
{
    sf_expr *target = e->u.attr.value;
    const char *entity = remote_entity(b, target);
    if (has_remote(b, target))
        target = flat(b, target);
    sf_expr_list none = {0};
    const char *res = emit_call(b, target, entity, sf_arena_printf(b->a, "_sf_get_%s", e->u.attr.attr),
                                none, 1, e->pos);
    return mk_name(b, res, e->pos);
}

/* `a and b` / `a or b` where a later operand holds a remote operation:
 * the result lives in a temporary set on every path. */
static sf_expr *flat_boolop(builder *b, sf_expr *e)
{
    const char *res = new_temp(b, "t");
    int is_and = e->u.boolop.op == SF_OP_AND;
    int join = new_block(b, e->pos.line);
    sf_expr_list *vals = &e->u.boolop.values;
    for (int i = 0; i < vals->n; i++) {
        sf_expr *v = vals->v[i];
        v = has_remote(b, v) ? flat(b, v) : v;
        add_stmt(b, mk_assign(b, mk_name(b, res, v->pos), v, v->pos));
        if (i == vals->n - 1) {
            term_goto(b, join);
            break;
        }
        int more = new_block(b, vals->v[i + 1]->pos.line);
        sf_expr *test = mk_name(b, res, v->pos);
        if (is_and)
            term_branch(b, test, more, join);
        else
            term_branch(b, test, join, more);
        b->cur = more;
    }
    b->cur = join;
    return mk_name(b, res, e->pos);
}

static sf_expr *flat_ifexp(builder *b, sf_expr *e)
{
    sf_expr *test = flat(b, e->u.ifexp.test);
    if (!has_remote(b, e->u.ifexp.body) && !has_remote(b, e->u.ifexp.orelse)) {
        e->u.ifexp.test = test;
        return e;
    }
    const char *res = new_temp(b, "t");
    int tb = new_block(b, e->u.ifexp.body->pos.line);
    int fb = new_block(b, e->u.ifexp.orelse->pos.line);
    int join = new_block(b, e->pos.line);
    term_branch(b, test, tb, fb);
    b->cur = tb;
    sf_expr *v = flat(b, e->u.ifexp.body);
    add_stmt(b, mk_assign(b, mk_name(b, res, v->pos), v, v->pos));
    term_goto(b, join);
    b->cur = fb;
    v = flat(b, e->u.ifexp.orelse);
    add_stmt(b, mk_assign(b, mk_name(b, res, v->pos), v, v->pos));
    term_goto(b, join);
    b->cur = join;
    return mk_name(b, res, e->pos);
}

/* a < b < c with a remote operation after the first comparison: each
 * comparison runs only when the previous ones held, as in Python. */
static sf_expr *flat_compare(builder *b, sf_expr *e)
{
    int n = e->u.compare.comparators.n;
    int later = 0;
    for (int i = 1; i < n; i++)
        if (has_remote(b, e->u.compare.comparators.v[i]))
            later = 1;
    if (!later) {
        sf_expr ***slots = sf_arena_alloc(b->a, sizeof(*slots) * 2);
        slots[0] = &e->u.compare.left;
        slots[1] = &e->u.compare.comparators.v[0];
        flat_slots(b, slots, NULL, 2);
        if (n > 1 && has_remote(b, e->u.compare.comparators.v[0]))
            e->u.compare.comparators.v[0] = hoist(b, e->u.compare.comparators.v[0]);
        return e;
    }
    const char *res = new_temp(b, "t");
    int join = new_block(b, e->pos.line);
    sf_expr *left = hoist(b, has_remote(b, e->u.compare.left) ? flat(b, e->u.compare.left) : e->u.compare.left);
    for (int i = 0; i < n; i++) {
        sf_expr *r = e->u.compare.comparators.v[i];
        r = has_remote(b, r) ? flat(b, r) : r;
        if (i < n - 1)
            r = hoist(b, r);
        sf_expr *cmp = sf_expr_new(b->a, SF_EX_COMPARE, e->pos);
        cmp->u.compare.left = left;
        cmp->u.compare.ops = sf_arena_alloc(b->a, sizeof(sf_op));
        cmp->u.compare.ops[0] = e->u.compare.ops[i];
        sf_expr_list_push(b->a, &cmp->u.compare.comparators, r);
        add_stmt(b, mk_assign(b, mk_name(b, res, e->pos), cmp, e->pos));
        if (i == n - 1) {
            term_goto(b, join);
            break;
        }
        int more = new_block(b, e->pos.line);
        term_branch(b, mk_name(b, res, e->pos), more, join);
        b->cur = more;
        left = r;
    }
    b->cur = join;
    return mk_name(b, res, e->pos);
}

/* Comprehensions and generator expressions with remote operations
 * (lower.c): the loops computing them are built here, in order. */
static void build_stmts(builder *b, sf_stmt_list *l);
static const char *lower_fresh(void *ctx, const char *prefix) { return new_temp(ctx, prefix); }
static int lower_is_local(void *ctx, const char *name)
{
    builder *b = ctx;
    return var_index(b, name) >= 0 || strcmp(name, b->self_name) == 0;
}
static int lower_has_remote(void *ctx, sf_expr *e) { return has_remote(ctx, e); }

static int flat_lowered(builder *b, sf_expr *e, sf_expr **result)
{
    sf_lower_env env = {b->a, b->d, b->p->mod, b, lower_fresh, lower_is_local, lower_has_remote};
    sf_stmt_list pre = {0};
    int r = sf_lower_expr(&env, e, &pre, result);
    if (r < 0)
        b->errors++;
    if (r > 0)
        build_stmts(b, &pre);
    return r;
}

/* Flatten e, which holds a remote operation, into statements of the current
 * block(s); returns an expression without remote operations. */
static sf_expr *flat(builder *b, sf_expr *e)
{
    if (!has_remote(b, e))
        return e;
    if (is_remote_call(b, e))
        return flat_remote_call(b, e, 1);
    if (is_remote_attr(b, e))
        return flat_remote_get(b, e);
    sf_expr *lowered = NULL;
    int lr = flat_lowered(b, e, &lowered);
    if (lr != 0)
        return lr > 0 ? lowered : e;
    switch (e->kind) {
    case SF_EX_BOOLOP: {
        /* only the first operand remote: no short-circuit across blocks */
        int later = 0;
        for (int i = 1; i < e->u.boolop.values.n; i++)
            if (has_remote(b, e->u.boolop.values.v[i]))
                later = 1;
        if (!later) {
            e->u.boolop.values.v[0] = flat(b, e->u.boolop.values.v[0]);
            return e;
        }
        return flat_boolop(b, e);
    }
    case SF_EX_IFEXP: return flat_ifexp(b, e);
    case SF_EX_COMPARE: return flat_compare(b, e);
    case SF_EX_NAMEDEXPR: {
        sf_expr *v = flat(b, e->u.namedexpr.value);
        add_stmt(b, mk_assign(b, e->u.namedexpr.target, v, e->pos));
        return mk_name(b, e->u.namedexpr.target->u.name.id, e->pos);
    }
    case SF_EX_LAMBDA:
        error_at(b, e->pos, "remote operation inside a lambda is not supported: use a method or a loop");
        return e;
    case SF_EX_AWAIT: case SF_EX_YIELD: case SF_EX_YIELDFROM:
        error_at(b, e->pos, "await/yield are not supported in entity methods");
        return e;
    default: break;
    }
    slotv s;
    expr_slots(b, e, &s);
    sf_expr ***slots = sf_arena_alloc(b->a, sizeof(*slots) * (size_t)(s.n ? s.n : 1));
    int *container = sf_arena_alloc(b->a, sizeof(int) * (size_t)(s.n ? s.n : 1));
    for (int i = 0; i < s.n; i++)
        slots[i] = slot_at(&s, i);
    if (e->kind == SF_EX_CALL || e->kind == SF_EX_SUBSCRIPT || e->kind == SF_EX_ATTR)
        container[0] = 1;
    flat_slots(b, slots, container, s.n);
    return e;
}

/* ---- statements --------------------------------------------------------- */

static void build_stmts(builder *b, sf_stmt_list *l);

/* Rewrite the returns, breaks and continues of an atomic statement that
 * leave the block function: `return v` -> `return (0, v)`, break/continue of
 * a split loop -> a jump exit filled in later. in_loop counts enclosing
 * loops inside the statement itself (their break/continue stay). */
static void rewrite_exits(builder *b, sf_stmt_list *l, int in_loop, int top_stmt);

static sf_stmt *jump_stmt(builder *b, int target, sf_pos pos, int top_stmt)
{
    sf_stmt *r = sf_stmt_new(b->a, SF_ST_RETURN, pos);
    fixup f = {b->cur, top_stmt, target, r};
    ARRAY_PUSH(b->fix, b->nfix, b->capfix, f);
    b->bb[target].force_fn = 1;
    return r;
}

static sf_expr *exit_return_tuple(builder *b, sf_expr *value, sf_pos pos)
{
    sf_expr *t = mk_tuple(b, pos);
    sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_int(b->a, 0, pos));
    sf_expr_list_push(b->a, &t->u.seq.elts, value ? value : sf_expr_none(b->a, pos));
    return t;
}

static void rewrite_exit_stmt(builder *b, sf_stmt_list *l, int i, int in_loop, int top_stmt)
{
    sf_stmt *s = l->v[i];
    switch (s->kind) {
    case SF_ST_RETURN:
        s->u.ret.value = exit_return_tuple(b, s->u.ret.value, s->pos);
        break;
    case SF_ST_BREAK: case SF_ST_CONTINUE:
        if (in_loop == 0 && b->nloops > 0) {
            loop_ctx lc = b->loops[b->nloops - 1];
            l->v[i] = jump_stmt(b, s->kind == SF_ST_BREAK ? lc.brk : lc.cont, s->pos, top_stmt);
        }
        break;
    case SF_ST_FOR: case SF_ST_ASYNCFOR:
        rewrite_exits(b, &s->u.for_.body, in_loop + 1, top_stmt);
        rewrite_exits(b, &s->u.for_.orelse, in_loop, top_stmt);
        break;
    case SF_ST_WHILE:
        rewrite_exits(b, &s->u.while_.body, in_loop + 1, top_stmt);
        rewrite_exits(b, &s->u.while_.orelse, in_loop, top_stmt);
        break;
    case SF_ST_IF:
        rewrite_exits(b, &s->u.if_.body, in_loop, top_stmt);
        rewrite_exits(b, &s->u.if_.orelse, in_loop, top_stmt);
        break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        rewrite_exits(b, &s->u.with.body, in_loop, top_stmt);
        break;
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        rewrite_exits(b, &s->u.try_.body, in_loop, top_stmt);
        for (int h = 0; h < s->u.try_.nhandlers; h++)
            rewrite_exits(b, &s->u.try_.handlers[h].body, in_loop, top_stmt);
        rewrite_exits(b, &s->u.try_.orelse, in_loop, top_stmt);
        rewrite_exits(b, &s->u.try_.finalbody, in_loop, top_stmt);
        break;
    default: break; /* nested def/class: their returns are their own */
    }
}

static void rewrite_exits(builder *b, sf_stmt_list *l, int in_loop, int top_stmt)
{
    for (int i = 0; i < l->n; i++)
        rewrite_exit_stmt(b, l, i, in_loop, top_stmt);
}

static void add_atomic(builder *b, sf_stmt *s)
{
    if (b->cur < 0)
        return;
    int idx = b->bb[b->cur].stmts.n;
    sf_stmt_list one = {0};
    sf_stmt_list_push(b->a, &one, s);
    rewrite_exits(b, &one, 0, idx);
    add_stmt(b, one.v[0]);
}

/* target = value, where value is already flat and the target may hold
 * remote operations (a remote attribute write, a subscript with a remote
 * index). */
static void assign_to(builder *b, sf_expr *target, sf_expr *value, sf_pos pos)
{
    if (is_remote_attr(b, target)) {
        sf_expr *obj = target->u.attr.value;
        if (has_remote(b, obj)) {
            value = hoist(b, value);
            obj = flat(b, obj);
        }
        sf_expr_list args = {0};
        sf_expr_list_push(b->a, &args, value);
        emit_call(b, obj, remote_entity(b, target->u.attr.value),
                  sf_arena_printf(b->a, "_sf_set_%s", target->u.attr.attr), args, 0, pos);
        return;
    }
    if (has_remote(b, target)) {
        if (target->kind == SF_EX_TUPLE || target->kind == SF_EX_LIST || target->kind == SF_EX_STARRED) {
            error_at(b, target->pos, "remote attribute writes inside an unpacking assignment are not supported: assign one by one");
            return;
        }
        value = hoist(b, value);
        target = flat_container(b, target);
    }
    add_stmt(b, mk_assign(b, target, value, pos));
}

static void build_assign(builder *b, sf_stmt *s)
{
    sf_expr *v = s->u.assign.value;
    /* x = r.m(...): the continuation binds the result to x directly */
    if (s->u.assign.targets.n == 1 && s->u.assign.targets.v[0]->kind == SF_EX_NAME &&
        is_remote_call(b, v)) {
        flat_remote_call_to(b, v, 1, s->u.assign.targets.v[0]->u.name.id);
        return;
    }
    v = has_remote(b, v) ? flat(b, v) : v;
    int n = s->u.assign.targets.n;
    if (n > 1 || list_has_remote(b, &s->u.assign.targets)) {
        int plain = !list_has_remote(b, &s->u.assign.targets);
        if (plain) {
            s->u.assign.value = v;
            add_stmt(b, s);
            return;
        }
        if (n > 1)
            v = hoist(b, v);
        for (int i = 0; i < n; i++)
            assign_to(b, s->u.assign.targets.v[i], v, s->pos);
        return;
    }
    s->u.assign.value = v;
    add_stmt(b, s);
}

static void build_augassign(builder *b, sf_stmt *s)
{
    sf_expr *t = s->u.augassign.target;
    sf_pos pos = s->pos;
    if (t->kind == SF_EX_NAME) {
        s->u.augassign.value = flat(b, s->u.augassign.value);
        add_stmt(b, s);
        return;
    }
    /* Python: evaluate the target's object, read it, evaluate the value,
     * combine (in place when the type supports it), store back. */
    sf_expr *cur;
    sf_expr *store;
    if (is_remote_attr(b, t)) {
        sf_expr *obj = has_remote(b, t->u.attr.value) ? hoist(b, flat(b, t->u.attr.value)) : t->u.attr.value;
        obj->type = t->u.attr.value->type; /* a temporary holding the reference (a.b.c += 1) */
        sf_expr *get = sf_expr_new(b->a, SF_EX_ATTR, t->pos);
        get->u.attr.value = obj;
        get->u.attr.attr = t->u.attr.attr;
        get->type = t->type;
        cur = flat_remote_get(b, get);
        store = sf_expr_new(b->a, SF_EX_ATTR, t->pos);
        store->u.attr.value = obj;
        store->u.attr.attr = t->u.attr.attr;
        store->type = t->type;
    } else {
        if (t->kind == SF_EX_SUBSCRIPT) {
            t->u.subscript.value = flat_container(b, t->u.subscript.value);
            sf_expr *k = t->u.subscript.slice;
            t->u.subscript.slice = hoist(b, has_remote(b, k) ? flat(b, k) : k);
        } else if (t->kind == SF_EX_ATTR) {
            t->u.attr.value = flat_container(b, t->u.attr.value);
        }
        cur = hoist(b, t);
        store = t;
    }
    const char *tmp = cur->u.name.id;
    sf_expr *v = s->u.augassign.value;
    v = has_remote(b, v) ? flat(b, v) : v;
    sf_stmt *aug = sf_stmt_new(b->a, SF_ST_AUGASSIGN, pos);
    aug->u.augassign.target = mk_name(b, tmp, pos);
    aug->u.augassign.op = s->u.augassign.op;
    aug->u.augassign.value = v;
    add_stmt(b, aug);
    assign_to(b, store, mk_name(b, tmp, pos), pos);
}

static void build_if(builder *b, sf_stmt *s)
{
    sf_expr *test = flat(b, s->u.if_.test);
    int tb = new_block(b, s->u.if_.body.n ? s->u.if_.body.v[0]->pos.line : s->pos.line);
    int fb = s->u.if_.orelse.n ? new_block(b, s->u.if_.orelse.v[0]->pos.line) : -1;
    int join = new_block(b, 0);
    term_branch(b, test, tb, fb >= 0 ? fb : join);
    b->cur = tb;
    build_stmts(b, &s->u.if_.body);
    term_goto(b, join);
    if (fb >= 0) {
        b->cur = fb;
        build_stmts(b, &s->u.if_.orelse);
        term_goto(b, join);
    }
    b->cur = join;
}

static void push_loop(builder *b, int brk, int cont)
{
    loop_ctx lc = {brk, cont};
    ARRAY_PUSH(b->loops, b->nloops, b->caploops, lc);
}

static void build_while(builder *b, sf_stmt *s)
{
    int head = new_block(b, s->pos.line);
    int body = new_block(b, s->u.while_.body.n ? s->u.while_.body.v[0]->pos.line : s->pos.line);
    int after = new_block(b, 0);
    int orelse = s->u.while_.orelse.n ? new_block(b, s->u.while_.orelse.v[0]->pos.line) : after;
    term_goto(b, head);
    b->cur = head;
    sf_expr *test = flat(b, s->u.while_.test);
    term_branch(b, test, body, orelse);
    b->cur = body;
    push_loop(b, after, head);
    build_stmts(b, &s->u.while_.body);
    b->nloops--;
    term_goto(b, head);
    if (orelse != after) {
        b->cur = orelse;
        build_stmts(b, &s->u.while_.orelse);
        term_goto(b, after);
    }
    b->cur = after;
}

/* for T in ITER: the iterable is materialised as a list once (an index over
 * it is the loop's state in the frame; no live iterator survives a block). */
static void build_for(builder *b, sf_stmt *s)
{
    sf_pos pos = s->pos;
    if (has_remote(b, s->u.for_.target)) {
        error_at(b, s->u.for_.target->pos, "a remote attribute as a for-loop target is not supported");
        return;
    }
    sf_expr *iter = flat(b, s->u.for_.iter);
    const char *it = new_temp(b, "it");
    const char *ix = new_temp(b, "i");
    sf_expr *lst = mk_call(b, "list", pos);
    sf_expr_list_push(b->a, &lst->u.call.args, iter);
    add_stmt(b, mk_assign(b, mk_name(b, it, pos), lst, pos));
    add_stmt(b, mk_assign(b, mk_name(b, ix, pos), sf_expr_int(b->a, 0, pos), pos));
    int head = new_block(b, pos.line);
    int body = new_block(b, s->u.for_.body.n ? s->u.for_.body.v[0]->pos.line : pos.line);
    int after = new_block(b, 0);
    int orelse = s->u.for_.orelse.n ? new_block(b, s->u.for_.orelse.v[0]->pos.line) : after;
    term_goto(b, head);
    b->cur = head;
    sf_expr *len = mk_call(b, "len", pos);
    sf_expr_list_push(b->a, &len->u.call.args, mk_name(b, it, pos));
    sf_expr *test = sf_expr_new(b->a, SF_EX_COMPARE, pos);
    test->u.compare.left = mk_name(b, ix, pos);
    test->u.compare.ops = sf_arena_alloc(b->a, sizeof(sf_op));
    test->u.compare.ops[0] = SF_OP_LT;
    sf_expr_list_push(b->a, &test->u.compare.comparators, len);
    term_branch(b, test, body, orelse);
    b->cur = body;
    sf_expr *item = sf_expr_new(b->a, SF_EX_SUBSCRIPT, pos);
    item->u.subscript.value = mk_name(b, it, pos);
    item->u.subscript.slice = mk_name(b, ix, pos);
    add_stmt(b, mk_assign(b, s->u.for_.target, item, pos));
    sf_stmt *inc = sf_stmt_new(b->a, SF_ST_AUGASSIGN, pos);
    inc->u.augassign.target = mk_name(b, ix, pos);
    inc->u.augassign.op = SF_OP_ADD;
    inc->u.augassign.value = sf_expr_int(b->a, 1, pos);
    add_stmt(b, inc);
    push_loop(b, after, head);
    build_stmts(b, &s->u.for_.body);
    b->nloops--;
    term_goto(b, head);
    if (orelse != after) {
        b->cur = orelse;
        build_stmts(b, &s->u.for_.orelse);
        term_goto(b, after);
    }
    b->cur = after;
}

static void build_stmt(builder *b, sf_stmt *s)
{
    if (b->cur < 0)
        return; /* unreachable code after return/break/continue */
    /* top-level control transfers are terminators even without remote ops */
    switch (s->kind) {
    case SF_ST_RETURN:
        term_return(b, s->u.ret.value ? flat(b, s->u.ret.value) : NULL);
        return;
    case SF_ST_BREAK: case SF_ST_CONTINUE:
        if (b->nloops > 0) {
            loop_ctx lc = b->loops[b->nloops - 1];
            term_goto(b, s->kind == SF_ST_BREAK ? lc.brk : lc.cont);
            return;
        }
        break;
    default: break;
    }
    if (!stmt_has_remote(b, s)) {
        add_atomic(b, s);
        return;
    }
    switch (s->kind) {
    case SF_ST_EXPR: {
        sf_expr *v = s->u.expr.value;
        if (is_remote_call(b, v)) {
            flat_remote_call(b, v, 0);
            return;
        }
        v = flat(b, v);
        if (!is_stable(v)) {
            s->u.expr.value = v;
            add_stmt(b, s);
        }
        return;
    }
    case SF_ST_ASSIGN: build_assign(b, s); return;
    case SF_ST_ANNASSIGN:
        if (s->u.annassign.value) {
            sf_expr *v = flat(b, s->u.annassign.value);
            if (has_remote(b, s->u.annassign.target)) {
                assign_to(b, s->u.annassign.target, v, s->pos);
            } else {
                s->u.annassign.value = v;
                add_stmt(b, s);
            }
        }
        return;
    case SF_ST_AUGASSIGN: build_augassign(b, s); return;
    case SF_ST_IF: build_if(b, s); return;
    case SF_ST_WHILE: build_while(b, s); return;
    case SF_ST_FOR: build_for(b, s); return;
    case SF_ST_RAISE:
        s->u.raise.exc = s->u.raise.exc ? flat(b, s->u.raise.exc) : NULL;
        if (has_remote(b, s->u.raise.cause)) {
            s->u.raise.exc = s->u.raise.exc ? hoist(b, s->u.raise.exc) : NULL;
            s->u.raise.cause = flat(b, s->u.raise.cause);
        }
        add_stmt(b, s);
        return;
    case SF_ST_ASSERT:
        if (has_remote(b, s->u.assert_.msg)) {
            error_at(b, s->u.assert_.msg->pos, "remote operation in an assert message is not supported");
            return;
        }
        s->u.assert_.test = flat(b, s->u.assert_.test);
        add_stmt(b, s);
        return;
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        error_at(b, s->pos, "remote operation inside try is not supported: a failed remote call aborts the whole transaction, so move the call out of the try");
        return;
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        error_at(b, s->pos, "remote operation inside with is not supported: move the call out of the with block");
        return;
    case SF_ST_DELETE:
        error_at(b, s->pos, "remote operation inside del is not supported");
        return;
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF: case SF_ST_CLASSDEF:
        error_at(b, s->pos, "remote operation inside a nested function or class is not supported");
        return;
    case SF_ST_ASYNCFOR:
        error_at(b, s->pos, "async for is not supported in entity methods");
        return;
    default:
        error_at(b, s->pos, "remote operation in this statement is not supported");
        return;
    }
}

static void build_stmts(builder *b, sf_stmt_list *l)
{
    for (int i = 0; i < l->n; i++)
        build_stmt(b, l->v[i]);
}

/* ---- dataflow ------------------------------------------------------------ */

static uint64_t *set_new(builder *b) { return sf_arena_alloc(b->a, sizeof(uint64_t) * (size_t)b->nwords); }
static void set_add(uint64_t *s, int i) { s[i / 64] |= (uint64_t)1 << (i % 64); }
static void set_del(uint64_t *s, int i) { s[i / 64] &= ~((uint64_t)1 << (i % 64)); }
static int set_has(const uint64_t *s, int i) { return (s[i / 64] >> (i % 64)) & 1; }
static void set_copy(builder *b, uint64_t *d, const uint64_t *s) { memcpy(d, s, sizeof(uint64_t) * (size_t)b->nwords); }
static void set_or(builder *b, uint64_t *d, const uint64_t *s) { for (int i = 0; i < b->nwords; i++) d[i] |= s[i]; }
static void set_and(builder *b, uint64_t *d, const uint64_t *s) { for (int i = 0; i < b->nwords; i++) d[i] &= s[i]; }
static int set_eq(builder *b, const uint64_t *x, const uint64_t *y) { return memcmp(x, y, sizeof(uint64_t) * (size_t)b->nwords) == 0; }

static void use_name(builder *b, const char *name, void *ctx)
{
    int i = var_index(b, name);
    if (i >= 0)
        set_add((uint64_t *)ctx, i);
}

static void expr_uses(builder *b, sf_expr *e, uint64_t *set) { expr_names(b, e, use_name, set); }

/* Variables a statement surely binds (kill set), for straight-line
 * statements; compound statements kill nothing (conservative). */
static void target_defs(builder *b, sf_expr *t, uint64_t *set)
{
    if (!t)
        return;
    switch (t->kind) {
    case SF_EX_NAME: use_name(b, t->u.name.id, set); break;
    case SF_EX_TUPLE: case SF_EX_LIST:
        for (int i = 0; i < t->u.seq.elts.n; i++)
            target_defs(b, t->u.seq.elts.v[i], set);
        break;
    case SF_EX_STARRED: target_defs(b, t->u.starred.value, set); break;
    default: break;
    }
}

static void stmt_defs(builder *b, sf_stmt *s, uint64_t *set)
{
    switch (s->kind) {
    case SF_ST_ASSIGN:
        for (int i = 0; i < s->u.assign.targets.n; i++)
            target_defs(b, s->u.assign.targets.v[i], set);
        break;
    case SF_ST_AUGASSIGN: target_defs(b, s->u.augassign.target, set); break;
    case SF_ST_ANNASSIGN:
        if (s->u.annassign.value)
            target_defs(b, s->u.annassign.target, set);
        break;
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF: use_name(b, s->u.func.name, set); break;
    case SF_ST_CLASSDEF: use_name(b, s->u.cls.name, set); break;
    case SF_ST_IMPORT: case SF_ST_IMPORTFROM: stmt_names(b, s, use_name, set); break;
    default: break;
    }
}

static void stmt_dels(builder *b, sf_stmt *s, uint64_t *set)
{
    if (s->kind != SF_ST_DELETE)
        return;
    for (int i = 0; i < s->u.del.targets.n; i++) {
        sf_expr *t = s->u.del.targets.v[i];
        if (t->kind == SF_EX_NAME) {
            int v = var_index(b, t->u.name.id);
            if (v >= 0)
                set_del(set, v);
        }
    }
}

static void term_uses(builder *b, bblock *blk, uint64_t *set)
{
    switch (blk->term) {
    case T_BRANCH: expr_uses(b, blk->test, set); break;
    case T_RETURN: expr_uses(b, blk->value, set); break;
    case T_CALL:
        expr_uses(b, blk->target, set);
        for (int i = 0; i < blk->args.n; i++)
            expr_uses(b, blk->args.v[i], set);
        break;
    default: break;
    }
}

static void compute_liveness(builder *b)
{
    uint64_t *live = set_new(b), *tmp = set_new(b), *kill = set_new(b);
    for (int i = 0; i < b->nbb; i++)
        b->bb[i].live_in = set_new(b);
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = b->nbb - 1; i >= 0; i--) {
            bblock *blk = &b->bb[i];
            memset(live, 0, sizeof(uint64_t) * (size_t)b->nwords);
            switch (blk->term) {
            case T_GOTO: set_or(b, live, b->bb[blk->next].live_in); break;
            case T_BRANCH:
                set_or(b, live, b->bb[blk->on_true].live_in);
                set_or(b, live, b->bb[blk->on_false].live_in);
                break;
            case T_CALL:
                set_or(b, live, b->bb[blk->next].live_in);
                if (blk->bind)
                    set_del(live, var_index(b, blk->bind));
                break;
            default: break;
            }
            term_uses(b, blk, live);
            for (int s = blk->stmts.n - 1; s >= 0; s--) {
                sf_stmt *st = blk->stmts.v[s];
                memset(kill, 0, sizeof(uint64_t) * (size_t)b->nwords);
                stmt_defs(b, st, kill);
                for (int w = 0; w < b->nwords; w++)
                    live[w] &= ~kill[w];
                /* jumps out of this statement need their targets' live sets */
                for (int f = 0; f < b->nfix; f++)
                    if (b->fix[f].block == i && b->fix[f].stmt == s)
                        set_or(b, live, b->bb[b->fix[f].target].live_in);
                memset(tmp, 0, sizeof(uint64_t) * (size_t)b->nwords);
                stmt_names(b, st, use_name, tmp);
                /* augmented assignment reads its target too (covered by names) */
                set_or(b, live, tmp);
                if (st->kind == SF_ST_FUNCTIONDEF || st->kind == SF_ST_ASYNCFUNCTIONDEF ||
                    st->kind == SF_ST_CLASSDEF) {
                    /* def f binds f: its name (in the body too) is not a use before it */
                    int v = var_index(b, st->kind == SF_ST_CLASSDEF ? st->u.cls.name : st->u.func.name);
                    if (v >= 0)
                        set_del(live, v);
                }
                if (st->kind == SF_ST_ASSIGN || st->kind == SF_ST_ANNASSIGN) {
                    /* names only stored by a plain assignment are not uses */
                    memset(tmp, 0, sizeof(uint64_t) * (size_t)b->nwords);
                    if (st->kind == SF_ST_ASSIGN)
                        expr_uses(b, st->u.assign.value, tmp);
                    else
                        expr_uses(b, st->u.annassign.value, tmp);
                    for (int w = 0; w < b->nwords; w++)
                        live[w] &= ~(kill[w] & ~tmp[w]);
                    /* subscript/attribute targets use their objects */
                    sf_expr_list *ts = st->kind == SF_ST_ASSIGN ? &st->u.assign.targets : NULL;
                    if (ts)
                        for (int t = 0; t < ts->n; t++)
                            if (ts->v[t]->kind != SF_EX_NAME)
                                expr_uses(b, ts->v[t], live);
                }
            }
            if (!set_eq(b, live, blk->live_in)) {
                set_copy(b, blk->live_in, live);
                changed = 1;
            }
        }
    }
}

/* Definitely bound variables at block entry: the intersection over every
 * incoming edge, parameters bound at the entry. */
static void def_at_stmt(builder *b, int blk, int upto, uint64_t *out)
{
    set_copy(b, out, b->bb[blk].def_in);
    for (int s = 0; s < upto; s++) {
        stmt_defs(b, b->bb[blk].stmts.v[s], out);
        stmt_dels(b, b->bb[blk].stmts.v[s], out);
    }
}

static void merge_def(builder *b, int target, const uint64_t *in, int *changed)
{
    bblock *t = &b->bb[target];
    if (!t->def_init) {
        set_copy(b, t->def_in, in);
        t->def_init = 1;
        *changed = 1;
        return;
    }
    uint64_t before[8];
    uint64_t *old = b->nwords <= 8 ? before : set_new(b);
    set_copy(b, old, t->def_in);
    set_and(b, t->def_in, in);
    if (!set_eq(b, old, t->def_in))
        *changed = 1;
}

static void compute_defs(builder *b, const sf_ir_method *m)
{
    for (int i = 0; i < b->nbb; i++) {
        b->bb[i].def_in = set_new(b);
        b->bb[i].def_out = set_new(b);
    }
    for (int i = 0; i < m->nparams; i++)
        use_name(b, m->params[i].name, b->bb[0].def_in);
    b->bb[0].def_init = 1;
    uint64_t *tmp = set_new(b);
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = 0; i < b->nbb; i++) {
            bblock *blk = &b->bb[i];
            if (!blk->def_init)
                continue;
            def_at_stmt(b, i, blk->stmts.n, blk->def_out);
            switch (blk->term) {
            case T_GOTO: merge_def(b, blk->next, blk->def_out, &changed); break;
            case T_BRANCH:
                merge_def(b, blk->on_true, blk->def_out, &changed);
                merge_def(b, blk->on_false, blk->def_out, &changed);
                break;
            case T_CALL:
                set_copy(b, tmp, blk->def_out);
                if (blk->bind)
                    use_name(b, blk->bind, tmp);
                merge_def(b, blk->next, tmp, &changed);
                break;
            default: break;
            }
            for (int f = 0; f < b->nfix; f++)
                if (b->fix[f].block == i) {
                    def_at_stmt(b, i, b->fix[f].stmt, tmp);
                    merge_def(b, b->fix[f].target, tmp, &changed);
                }
        }
    }
}

/* ---- emission ----------------------------------------------------------- */

typedef struct emit_fn {
    sf_ir_block *ir;
    sf_ir_exit *exits;
    int nexits, capexits;
} emit_fn;

/* The frame handed to block `target`: its live variables, those surely
 * bound as a dict display, the others picked from locals() when bound. */
static sf_expr *frame_expr(builder *b, int target, const uint64_t *def, const char *skip, sf_pos pos)
{
    const uint64_t *live = b->bb[target].live_in;
    int maybe = 0;
    for (int v = 0; v < b->nvars; v++)
        if (set_has(live, v) && !set_has(def, v) && !(skip && strcmp(skip, b->vars[v]) == 0))
            maybe = 1;
    if (maybe) {
        sf_expr *c = mk_call(b, "_sf_frame", pos);
        sf_expr_list_push(b->a, &c->u.call.args, sf_expr_new(b->a, SF_EX_CALL, pos));
        c->u.call.args.v[0]->u.call.func = mk_name(b, "locals", pos);
        sf_expr *names = mk_tuple(b, pos);
        for (int v = 0; v < b->nvars; v++)
            if (set_has(live, v) && !(skip && strcmp(skip, b->vars[v]) == 0))
                sf_expr_list_push(b->a, &names->u.seq.elts, sf_expr_str(b->a, b->vars[v], pos));
        sf_expr_list_push(b->a, &c->u.call.args, names);
        return c;
    }
    sf_expr *d = sf_expr_new(b->a, SF_EX_DICT, pos);
    int n = 0;
    for (int v = 0; v < b->nvars; v++)
        if (set_has(live, v) && !(skip && strcmp(skip, b->vars[v]) == 0))
            n++;
    d->u.dict.keys = sf_arena_alloc(b->a, sizeof(sf_expr *) * (size_t)(n ? n : 1));
    d->u.dict.values = sf_arena_alloc(b->a, sizeof(sf_expr *) * (size_t)(n ? n : 1));
    for (int v = 0; v < b->nvars; v++)
        if (set_has(live, v) && !(skip && strcmp(skip, b->vars[v]) == 0)) {
            d->u.dict.keys[d->u.dict.n] = sf_expr_str(b->a, b->vars[v], pos);
            d->u.dict.values[d->u.dict.n] = mk_name(b, b->vars[v], pos);
            d->u.dict.n++;
        }
    return d;
}

static void add_exit(emit_fn *f, sf_ir_exit x)
{
    ARRAY_PUSH(f->exits, f->nexits, f->capexits, x);
}

static sf_stmt *jump_to(builder *b, emit_fn *f, int target, const uint64_t *def, sf_pos pos)
{
    sf_stmt *r = sf_stmt_new(b->a, SF_ST_RETURN, pos);
    sf_expr *t = mk_tuple(b, pos);
    sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_int(b->a, 2, pos));
    sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_int(b->a, b->bb[target].fn, pos));
    sf_expr_list_push(b->a, &t->u.seq.elts, frame_expr(b, target, def, NULL, pos));
    r->u.ret.value = t;
    sf_ir_exit x = {SF_EXIT_JUMP, b->bb[target].fn, "", "", ""};
    add_exit(f, x);
    return r;
}

static void emit_block(builder *b, emit_fn *f, int i, sf_stmt_list *out);

/* Continue at `target`: inline when it has this one predecessor. */
static void emit_edge(builder *b, emit_fn *f, int target, const uint64_t *def, sf_pos pos, sf_stmt_list *out)
{
    if (b->bb[target].fn >= 0)
        sf_stmt_list_push(b->a, out, jump_to(b, f, target, def, pos));
    else
        emit_block(b, f, target, out);
}

static void emit_block(builder *b, emit_fn *f, int i, sf_stmt_list *out)
{
    bblock *blk = &b->bb[i];
    for (int s = 0; s < blk->stmts.n; s++)
        sf_stmt_list_push(b->a, out, blk->stmts.v[s]);
    /* jumps out of atomic statements */
    for (int k = 0; k < b->nfix; k++)
        if (b->fix[k].block == i) {
            uint64_t *def = set_new(b);
            def_at_stmt(b, i, b->fix[k].stmt, def);
            sf_stmt *r = b->fix[k].ret;
            sf_stmt *filled = jump_to(b, f, b->fix[k].target, def, r->pos);
            r->u.ret.value = filled->u.ret.value;
        }
    sf_pos pos = {blk->line, 1, blk->line, 1};
    switch (blk->term) {
    case T_NONE:
    case T_RETURN: {
        sf_stmt *r = sf_stmt_new(b->a, SF_ST_RETURN, pos);
        r->u.ret.value = exit_return_tuple(b, blk->term == T_RETURN ? blk->value : NULL, pos);
        sf_stmt_list_push(b->a, out, r);
        sf_ir_exit x = {SF_EXIT_RETURN, -1, "", "", ""};
        add_exit(f, x);
        break;
    }
    case T_GOTO:
        emit_edge(b, f, blk->next, blk->def_out, pos, out);
        break;
    case T_BRANCH: {
        sf_stmt *st = sf_stmt_new(b->a, SF_ST_IF, blk->test->pos);
        st->u.if_.test = blk->test;
        emit_edge(b, f, blk->on_true, blk->def_out, pos, &st->u.if_.body);
        sf_stmt_list_push(b->a, out, st);
        /* the false path follows the if (the true path always returns) */
        emit_edge(b, f, blk->on_false, blk->def_out, pos, out);
        break;
    }
    case T_CALL: {
        sf_stmt *r = sf_stmt_new(b->a, SF_ST_RETURN, pos);
        sf_expr *t = mk_tuple(b, pos);
        sf_expr *args = mk_tuple(b, pos);
        for (int a = 0; a < blk->args.n; a++)
            sf_expr_list_push(b->a, &args->u.seq.elts, blk->args.v[a]);
        sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_int(b->a, 1, pos));
        sf_expr_list_push(b->a, &t->u.seq.elts, blk->target);
        sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_str(b->a, blk->method, pos));
        sf_expr_list_push(b->a, &t->u.seq.elts, args);
        sf_expr_list_push(b->a, &t->u.seq.elts, sf_expr_int(b->a, b->bb[blk->next].fn, pos));
        sf_expr_list_push(b->a, &t->u.seq.elts,
                          blk->bind ? sf_expr_str(b->a, blk->bind, pos) : sf_expr_none(b->a, pos));
        sf_expr_list_push(b->a, &t->u.seq.elts, frame_expr(b, blk->next, blk->def_out, blk->bind, pos));
        r->u.ret.value = t;
        sf_stmt_list_push(b->a, out, r);
        sf_ir_exit x = {SF_EXIT_CALL, b->bb[blk->next].fn, blk->entity ? blk->entity : "",
                        blk->method, blk->bind ? blk->bind : ""};
        add_exit(f, x);
        break;
    }
    }
}

static sf_stmt *emit_function(builder *b, int i, emit_fn *f, const char *fname)
{
    bblock *blk = &b->bb[i];
    sf_pos pos = {blk->line, 1, blk->line, 1};
    sf_stmt *fn = sf_stmt_new(b->a, SF_ST_FUNCTIONDEF, pos);
    fn->u.func.name = fname;
    fn->u.func.args = sf_arena_alloc(b->a, sizeof(sf_arguments));
    fn->u.func.args->nargs = 2;
    fn->u.func.args->args = sf_arena_alloc(b->a, sizeof(sf_arg) * 2);
    fn->u.func.args->args[0].name = b->self_name;
    fn->u.func.args->args[1].name = "_sf_f";
    int nlive = 0;
    for (int v = 0; v < b->nvars; v++)
        if (set_has(blk->live_in, v))
            nlive++;
    f->ir->live_in = sf_arena_alloc(&b->p->ir->arena, sizeof(char *) * (size_t)(nlive ? nlive : 1));
    for (int v = 0; v < b->nvars; v++) {
        if (!set_has(blk->live_in, v))
            continue;
        f->ir->live_in[f->ir->nlive_in++] = sf_arena_strdup(&b->p->ir->arena, b->vars[v]);
        /* x = _sf_f['x'], guarded when x may be unbound */
        sf_expr *sub = sf_expr_new(b->a, SF_EX_SUBSCRIPT, pos);
        sub->u.subscript.value = mk_name(b, "_sf_f", pos);
        sub->u.subscript.slice = sf_expr_str(b->a, b->vars[v], pos);
        sf_stmt *load = mk_assign(b, mk_name(b, b->vars[v], pos), sub, pos);
        if (set_has(blk->def_in, v)) {
            sf_stmt_list_push(b->a, &fn->u.func.body, load);
        } else {
            sf_stmt *guard = sf_stmt_new(b->a, SF_ST_IF, pos);
            sf_expr *in = sf_expr_new(b->a, SF_EX_COMPARE, pos);
            in->u.compare.left = sf_expr_str(b->a, b->vars[v], pos);
            in->u.compare.ops = sf_arena_alloc(b->a, sizeof(sf_op));
            in->u.compare.ops[0] = SF_OP_IN;
            sf_expr_list_push(b->a, &in->u.compare.comparators, mk_name(b, "_sf_f", pos));
            guard->u.if_.test = in;
            sf_stmt_list_push(b->a, &guard->u.if_.body, load);
            sf_stmt_list_push(b->a, &fn->u.func.body, guard);
        }
    }
    emit_block(b, f, i, &fn->u.func.body);
    return fn;
}

const char *sf_block_function_name(sf_arena *a, const char *entity, const char *method, int k)
{
    return sf_arena_printf(a, "_sf_%s_%s_%d", entity, method, k);
}

/* A function made before a remote call and used after it would be a
 * closure over the frame before the call (Python's closure sees the later
 * values of the variables it reads) and cannot travel in a frame: an error
 * at the function. */
static void check_functions_across_calls(builder *b)
{
    for (int f = 0; f < b->nfns; f++) {
        int v = var_index(b, b->fns[f].name);
        if (v < 0)
            continue;
        for (int i = 0; i < b->nbb; i++) {
            const bblock *blk = &b->bb[i];
            if (!blk->is_cont || blk->term == T_NONE || !set_has(blk->live_in, v))
                continue;
            char msg[512];
            if (b->fns[f].lambda == 2)
                snprintf(msg, sizeof(msg), "the iterator or view in '%s' is used after the remote operation at "
                                           "line %d: it cannot be kept across a remote operation; make it a "
                                           "list first (`%s = list(...)`)", b->fns[f].name, blk->line,
                         b->fns[f].name);
            else
                snprintf(msg, sizeof(msg), "%s '%s' is used after the remote operation at line %d: a function "
                                           "cannot be kept across a remote operation (it would not see the "
                                           "variables as Python does); define it after that line",
                         b->fns[f].lambda ? "the lambda assigned to" : "the nested function", b->fns[f].name,
                         blk->line);
            error_at(b, b->fns[f].pos, msg);
            break;
        }
    }
}

static void count_preds(builder *b)
{
    for (int i = 0; i < b->nbb; i++) {
        bblock *blk = &b->bb[i];
        switch (blk->term) {
        case T_GOTO: case T_CALL: b->bb[blk->next].npreds++; break;
        case T_BRANCH:
            b->bb[blk->on_true].npreds++;
            b->bb[blk->on_false].npreds++;
            break;
        default: break;
        }
    }
    for (int f = 0; f < b->nfix; f++)
        b->bb[b->fix[f].target].npreds++;
}

/* Blocks reachable from the entry (others were left behind by a return). */
static void mark_reachable(builder *b, int i, unsigned char *seen)
{
    while (i >= 0 && !seen[i]) {
        seen[i] = 1;
        bblock *blk = &b->bb[i];
        for (int f = 0; f < b->nfix; f++)
            if (b->fix[f].block == i)
                mark_reachable(b, b->fix[f].target, seen);
        switch (blk->term) {
        case T_GOTO: case T_CALL: i = blk->next; break;
        case T_BRANCH:
            mark_reachable(b, blk->on_true, seen);
            i = blk->on_false;
            break;
        default: i = -1; break;
        }
    }
}

static void split_method(builder *b, sf_stmt_list *functions)
{
    sf_stmt *def = b->m->def;
    sf_ir_method *im = b->m->ir;
    for (int i = 0; i < im->nparams; i++)
        var_add(b, im->params[i].name);
    collect_locals(b, &def->u.func.body);
    int entry = new_block(b, def->pos.line);
    b->cur = entry;
    build_stmts(b, &def->u.func.body);
    if (b->cur >= 0)
        term_return(b, NULL);
    if (b->errors)
        return;

    /* unreachable blocks keep no predecessors and are dropped */
    unsigned char *seen = calloc((size_t)b->nbb, 1);
    if (!seen)
        return;
    mark_reachable(b, entry, seen);
    for (int i = 0; i < b->nbb; i++)
        if (!seen[i]) {
            b->bb[i].term = T_NONE;
            b->bb[i].stmts.n = 0;
        }
    for (int f = 0; f < b->nfix; f++)
        if (!seen[b->fix[f].block])
            b->fix[f].block = -1;
    count_preds(b);

    b->nwords = (b->nvars + 63) / 64;
    if (b->nwords == 0)
        b->nwords = 1;
    compute_liveness(b);
    check_functions_across_calls(b);
    if (b->errors) {
        free(seen);
        return;
    }
    compute_defs(b, im);

    int nfn = 0;
    for (int i = 0; i < b->nbb; i++) {
        bblock *blk = &b->bb[i];
        if (!seen[i])
            continue;
        if (i == entry || blk->force_fn || blk->is_cont || blk->npreds > 1)
            blk->fn = nfn++;
    }
    sf_arena *ira = &b->p->ir->arena;
    im->blocks = sf_arena_alloc(ira, sizeof(sf_ir_block) * (size_t)nfn);
    im->nblocks = nfn;
    for (int i = 0; i < b->nbb; i++) {
        bblock *blk = &b->bb[i];
        if (!seen[i] || blk->fn < 0)
            continue;
        sf_ir_block *ib = &im->blocks[blk->fn];
        ib->id = blk->fn;
        ib->function = sf_arena_strdup(ira, sf_block_function_name(b->a, b->ent->ir->name, im->name, blk->fn));
        ib->line = blk->line ? blk->line : def->pos.line;
        emit_fn f = {ib, NULL, 0, 0};
        sf_stmt *fn = emit_function(b, i, &f, ib->function);
        ib->exits = sf_arena_alloc(ira, sizeof(sf_ir_exit) * (size_t)(f.nexits ? f.nexits : 1));
        for (int x = 0; x < f.nexits; x++) {
            ib->exits[x] = f.exits[x];
            ib->exits[x].entity = sf_arena_strdup(ira, f.exits[x].entity);
            ib->exits[x].method = sf_arena_strdup(ira, f.exits[x].method);
            ib->exits[x].bind = sf_arena_strdup(ira, f.exits[x].bind);
        }
        ib->nexits = f.nexits;
        free(f.exits);
        sf_stmt_list_push(b->a, functions, fn);
    }
    free(seen);
}

/* "app" for app.py (CPython names a function module.qualname in some
 * messages, and plain Python imports the app under its file name). */
static const char *module_name(sf_program *p)
{
    const char *f = p->mod->filename ? p->mod->filename : "app.py";
    const char *base = strrchr(f, '/');
    base = base ? base + 1 : f;
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".py") == 0)
        n -= 3;
    return sf_arena_strndup(p->arena, base, n);
}

int sf_split(sf_program *p, sf_diag *d, sf_stmt_list *functions)
{
    int errors = 0;
    for (int e = 0; e < p->nentities; e++) {
        sf_entity_info *ent = &p->entities[e];
        for (int k = 0; k < ent->nmethods; k++) {
            sf_method_info *m = &ent->methods[k];
            if (!(m->ir->flags & SF_METHOD_SPLIT) || !m->def)
                continue;
            builder b;
            memset(&b, 0, sizeof(b));
            b.p = p;
            b.d = d;
            b.a = p->arena;
            b.ent = ent;
            b.m = m;
            sf_arguments *args = m->def->u.func.args;
            b.self_name = args && args->nargs > 0 ? args->args[0].name : "self";
            b.module_name = module_name(p);
            split_method(&b, functions);
            errors += b.errors;
            free(b.bb);
            free(b.loops);
            free(b.fix);
            free(b.vars);
            free(b.fns);
        }
    }
    return errors;
}
