/* analyse.c: the analysis stage's driver (DESIGN 3.2; the API is in analyse.h).
 *
 * Owns: the order of the passes (sf_analyse), the shared lookups every pass
 * uses (entities, attributes, methods, module-level names), the names bound
 * at module level, error reporting outside method bodies, and building the
 * IR from what the passes found. The passes, one file each:
 *   analyse_types.c     types and type annotations
 *   analyse_entities.c  entity classes: signatures, attributes, keys, accessors
 *   analyse_stmts.c     method bodies: scopes, statements, assignment targets
 *   analyse_exprs.c     the static type of each expression, builtins
 *   analyse_refs.c      references: remote calls, attribute reads and writes
 *   analyse_effects.c   effects on self: attributes read, written, aliased
 *   analyse_calls.c     the call graph: recursion, SPLIT / READ_ONLY flags
 * Everything the IR keeps is allocated in p->ir->arena, scratch data in the
 * AST arena.
 *
 * Phases (sf_analyse): module-level names -> entity classes -> signatures ->
 * attributes -> keys -> method bodies (typed to a fixpoint, then walked once
 * more to record and report) -> functions outside entities (only checked for
 * remote operations; again with the argument types where an entity method
 * gives them references) -> accessors -> call graph, recursion, flags -> IR.
 */
#include "analyse_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void an_aerr(actx *a, sf_pos pos, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sf_diag_error(a->d, pos.line, pos.col, "%s", buf);
}

int an_find_ent(const actx *a, const char *name)
{
    for (int i = 0; i < a->nents; i++)
        if (strcmp(a->ents[i].name, name) == 0)
            return i;
    return -1;
}

int an_find_attr(const aent *e, const char *name)
{
    for (int i = 0; i < e->nattrs; i++)
        if (strcmp(e->attrs[i].name, name) == 0)
            return i;
    return -1;
}

int an_find_meth(const aent *e, const char *name)
{
    for (int i = 0; i < e->nmeths; i++)
        if (strcmp(e->meths[i].name, name) == 0)
            return i;
    return -1;
}

int an_is_clsname(const aent *e, const char *name)
{
    for (int i = 0; i < e->nclsnames; i++)
        if (strcmp(e->clsnames[i], name) == 0)
            return 1;
    return 0;
}

int an_find_mod(const actx *a, const char *name)
{
    for (int i = 0; i < a->nmods; i++)
        if (strcmp(a->mods[i].name, name) == 0)
            return i;
    return -1;
}

int an_is_dunder(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && n[0] == '_' && n[1] == '_' && n[l - 1] == '_' && n[l - 2] == '_';
}

int an_is_internal_name(const char *n)
{
    return an_is_dunder(n) || strncmp(n, "_sf_", 4) == 0;
}

static void add_mod(actx *a, const char *name, sf_expr *value, sf_stmt *def)
{
    if (an_find_mod(a, name) >= 0)
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

/* A module without entities compiles to an application that answers
 * nothing: an error, at the first class when there is one. */
static void no_entities(actx *a)
{
    sf_pos pos = {1, 1, 1, 1};
    const sf_stmt_list *body = &a->p->mod->body;
    for (int i = 0; i < body->n; i++)
        if (body->v[i]->kind == SF_ST_CLASSDEF) {
            pos = body->v[i]->pos;
            break;
        }
    an_aerr(a, pos, "no entity in this module: mark each entity class with @entity "
                    "(`from stateflow import entity`) or @stateflow.stateflow (`import stateflow`)");
}

int sf_analyse(sf_program *p, sf_diag *d)
{
    int before = sf_diag_count(d);
    actx a;
    memset(&a, 0, sizeof(a));
    a.p = p;
    a.d = d;
    a.ast = p->arena;
    a.ira = &p->ir->arena;
    a.t_any = an_tnew(&a, SF_TYPE_ANY, 0);
    a.t_none = an_tnew(&a, SF_TYPE_NONE, 0);
    a.t_bool = an_tnew(&a, SF_TYPE_BOOL, 0);
    a.t_int = an_tnew(&a, SF_TYPE_INT, 0);
    a.t_float = an_tnew(&a, SF_TYPE_FLOAT, 0);
    a.t_str = an_tnew(&a, SF_TYPE_STR, 0);
    a.t_bytes = an_tnew(&a, SF_TYPE_BYTES, 0);
    a.t_tuple = an_tnew(&a, SF_TYPE_TUPLE, 0);
    a.t_opaque = an_tnew(&a, SF_TYPE_ANY, 0);

    collect_mods(&a, &p->mod->body, 0);
    an_find_entities(&a);
    if (a.nents == 0)
        no_entities(&a);
    for (int i = 0; i < a.nents; i++)
        an_scan_class(&a, i);
    for (int i = 0; i < a.nents; i++)
        an_collect_attrs(&a, i);
    for (int i = 0; i < a.nents; i++)
        an_check_key(&a, i);
    for (int i = 0; i < a.nents; i++)
        for (int k = 0; k < a.ents[i].nuser; k++)
            an_walk_method(&a, i, k);
    an_walk_outside(&a, &p->mod->body, 0);
    an_walk_helpers(&a);
    for (int i = 0; i < a.nents; i++)
        an_add_accessors(&a, i);

    an_check_calls(&a);
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
