/* analyse_entities.c: the entity classes (analysis pass 2).
 *
 * Owns: finding the @entity classes of the module, checking the class
 * itself (bases, decorators, body), each method's signature (parameters,
 * type hints, flags), the attributes assigned to self with their declared
 * or inferred types, the key (__key__) and the generated accessors
 * (_sf_get_x / _sf_set_x) for attributes other entities read or write.
 */
#include "analyse_internal.h"

#include <string.h>

#include "emit.h" /* sf_is_entity_decorator */

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

void an_find_entities(actx *a)
{
    const sf_stmt_list *body = &a->p->mod->body;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        if (s->kind != SF_ST_CLASSDEF || !has_entity_decorator(s))
            continue;
        if (an_find_ent(a, s->u.cls.name) >= 0) {
            an_aerr(a, s->pos, "entity '%s' is defined twice", s->u.cls.name);
            continue;
        }
        aent en;
        memset(&en, 0, sizeof(en));
        en.name = s->u.cls.name;
        en.cls = s;
        en.type = an_tnew(a, SF_TYPE_ENTITY, 0);
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
        an_aerr(a, b->pos, "base classes are not supported for entities (entity '%s')", en->name);
    }
    if (s->u.cls.nkw > 0)
        an_aerr(a, s->u.cls.kw[0].value ? s->u.cls.kw[0].value->pos : s->pos,
                "class keywords are not supported for entities (entity '%s')", en->name);
    for (int i = 0; i < s->u.cls.decorators.n; i++) {
        sf_expr *d = s->u.cls.decorators.v[i];
        if (!sf_is_entity_decorator(d))
            an_aerr(a, d->pos, "only the entity decorator is supported on entity '%s'", en->name);
    }
}

static void signature(actx *a, aent *en, ameth *m)
{
    sf_stmt *def = m->def;
    const char *E = en->name, *M = m->name;
    int is_init = strcmp(M, "__init__") == 0;
    int is_key = strcmp(M, "__key__") == 0;
    if (def->kind == SF_ST_ASYNCFUNCTIONDEF)
        an_aerr(a, def->pos, "async methods are not supported in entities (%s.%s)", E, M);
    for (int i = 0; i < def->u.func.decorators.n; i++) {
        sf_expr *d = def->u.func.decorators.v[i];
        const char *dn = d->kind == SF_EX_NAME ? d->u.name.id : "";
        if (strcmp(dn, "staticmethod") == 0)
            an_aerr(a, d->pos, "static methods are not supported in entities: make %s.%s a "
                            "module-level function", E, M);
        else if (strcmp(dn, "classmethod") == 0)
            an_aerr(a, d->pos, "class methods are not supported in entities: make %s.%s a "
                            "module-level function", E, M);
        else if (strcmp(dn, "property") == 0)
            an_aerr(a, d->pos, "properties are not supported in entities: make %s.%s a method", E, M);
        else
            an_aerr(a, d->pos, "decorators on entity methods are not supported (%s.%s)", E, M);
    }
    if (strncmp(M, "_sf_", 4) == 0)
        an_aerr(a, def->pos, "method names starting with '_sf_' are reserved (%s.%s)", E, M);
    if (!is_init && !is_key && an_is_dunder(M))
        an_aerr(a, def->pos, "special method %s of entity '%s' is not supported: operations on references "
                             "to %s (==, <, hash, str(), len(), ...) do not call it; write an ordinary "
                             "method instead", M, E, E);
    if (is_init)
        m->flags |= SF_METHOD_INIT;
    else if (an_is_internal_name(M))
        m->flags |= SF_METHOD_INTERNAL;

    sf_arguments *args = def->u.func.args;
    int npos = args ? args->nposonly + args->nargs : 0;
    if (args) {
        m->odd_params = args->vararg || args->kwarg || args->nkwonly > 0;
        if (args->vararg)
            an_aerr(a, args->vararg->pos, "*%s is not supported in entity methods (%s.%s): use a list "
                                       "parameter", args->vararg->name, E, M);
        if (args->kwarg)
            an_aerr(a, args->kwarg->pos, "**%s is not supported in entity methods (%s.%s): use a dict "
                                      "parameter", args->kwarg->name, E, M);
        for (int i = 0; i < args->nkwonly; i++)
            an_aerr(a, args->kwonly[i].pos, "keyword-only parameter '%s' of %s.%s is not supported: "
                                         "make it a positional parameter", args->kwonly[i].name, E, M);
    }
    if (npos == 0) {
        an_aerr(a, def->pos, "method %s.%s must take self as its first parameter", E, M);
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
            pp->type = an_resolve_or_any(a, ar->annotation, 1);
        } else {
            pp->type = a->t_any;
            if (!is_init)
                an_aerr(a, ar->pos, "parameter '%s' of %s.%s has no type hint", ar->name, E, M);
        }
    }
    if (is_key && np > 0)
        an_aerr(a, def->pos, "__key__ of entity '%s' must take no parameters besides self", E);
    if (is_init) {
        m->returns = a->t_none;
    } else if (is_key) {
        m->returns = a->t_any; /* set from the key attributes later */
    } else if (def->u.func.returns) {
        m->returns = an_resolve_or_any(a, def->u.func.returns, 1);
    } else {
        m->returns = a->t_any;
        an_aerr(a, def->pos, "method %s.%s has no return type hint", E, M);
    }
}

void an_scan_class(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    check_class(a, en);
    const sf_stmt_list *body = &en->cls->u.cls.body;
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        switch (s->kind) {
        case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF: {
            if (an_find_meth(en, s->u.func.name) >= 0) {
                an_aerr(a, s->pos, "method '%s' is defined twice in entity '%s'", s->u.func.name, en->name);
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
            an_aerr(a, s->pos, "nested classes are not supported in entities (class '%s' in entity '%s')",
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
            an_aerr(a, s->pos, "only methods and constants are supported in the body of entity '%s'",
                    en->name);
            break;
        }
    }
    en->nuser = en->nmeths;
    for (int i = 0; i < en->nmeths; i++)
        signature(a, en, &en->meths[i]);
    if (an_find_meth(en, "__init__") < 0)
        an_aerr(a, en->cls->pos, "entity '%s' has no __init__", en->name);
    if (an_find_meth(en, "__key__") < 0)
        an_aerr(a, en->cls->pos, "entity '%s' has no __key__ method", en->name);
}

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
    case SF_EX_CONST: {
        const sf_type *ct = an_const_type(a, v);
        return ct ? ct : a->t_any;
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
    case SF_EX_LIST: case SF_EX_LISTCOMP: return an_t1(a, SF_TYPE_LIST, a->t_any);
    case SF_EX_SET: case SF_EX_SETCOMP: return an_t1(a, SF_TYPE_SET, a->t_any);
    case SF_EX_DICT: case SF_EX_DICTCOMP: return an_t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
    case SF_EX_TUPLE: return a->t_tuple;
    case SF_EX_JOINEDSTR: return a->t_str;
    case SF_EX_CALL: {
        const sf_expr *f = v->u.call.func;
        if (f->kind != SF_EX_NAME || an_find_mod(a, f->u.name.id) >= 0)
            return NULL;
        const char *id = f->u.name.id;
        if (strcmp(id, "list") == 0) return an_t1(a, SF_TYPE_LIST, a->t_any);
        if (strcmp(id, "set") == 0) return an_t1(a, SF_TYPE_SET, a->t_any);
        if (strcmp(id, "dict") == 0) return an_t2(a, SF_TYPE_DICT, a->t_any, a->t_any);
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
    int ai = an_find_attr(en, name);
    if (ai < 0) {
        aattr at;
        memset(&at, 0, sizeof(at));
        at.name = name;
        at.pos = target->pos;
        VPUSH(a->ast, en->attrs, en->nattrs, en->capattrs, at);
        ai = en->nattrs - 1;
        if (an_find_meth(en, name) >= 0)
            an_aerr(a, target->pos, "attribute '%s' of entity '%s' has the same name as a method",
                    name, en->name);
    }
    aattr *at = &en->attrs[ai];
    const ameth *m = &en->meths[mi];
    if (ann) {
        const sf_type *t = an_resolve_or_any(a, ann, 1);
        if (!at->ann) {
            at->ann = t;
            at->ann_line = ann->pos.line;
        } else if (!teq(at->ann, t)) {
            an_aerr(a, ann->pos, "attribute '%s' of entity '%s' is annotated as '%s' here but as '%s' "
                              "at line %d", name, en->name, an_tfmt(a, t), an_tfmt(a, at->ann), at->ann_line);
        }
    } else if (has_value && !at->infer_conflict) {
        const sf_type *t = infer_value(a, m, value);
        if (t) {
            if (!at->inferred) {
                at->inferred = t;
            } else {
                const sf_type *j = an_join_strict(a, at->inferred, t);
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

void an_collect_attrs(actx *a, int ei)
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

void an_check_key(actx *a, int ei)
{
    aent *en = &a->ents[ei];
    int mi = an_find_meth(en, "__key__");
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
        an_aerr(a, pos, "__key__ of entity '%s' must return one attribute of self "
                     "(e.g. `return self.id`)", en->name);
        return;
    }
    /* Tuple keys: the instance is created, then no request finds it again. */
    if (n > 1)
        an_aerr(a, v->pos, "a key of several attributes is not supported (entity '%s'): give it one key "
                           "attribute, e.g. `self.key = f\"{self.%s}:{self.%s}\"` in __init__ and "
                           "`return self.key`", en->name, items[0]->u.attr.attr, items[1]->u.attr.attr);
    int has_init = an_find_meth(en, "__init__") >= 0; /* else that error is enough */
    en->key = sf_arena_alloc(a->ast, (size_t)n * sizeof(*en->key));
    sf_type *kt = n > 1 ? an_tnew(a, SF_TYPE_TUPLE, n) : NULL;
    const sf_type *single = a->t_any;
    for (int k = 0; k < n; k++) {
        const char *name = items[k]->u.attr.attr;
        int ai = an_find_attr(en, name);
        if (ai < 0 || !en->attrs[ai].in_init) {
            if (has_init)
                an_aerr(a, items[k]->pos, "key attribute '%s' of entity '%s' is not assigned in __init__",
                        name, en->name);
            continue;
        }
        en->attrs[ai].is_key = 1;
        int dup = 0;
        for (int j = 0; j < en->nkey; j++)
            if (strcmp(en->key[j], name) == 0)
                dup = 1;
        if (dup) {
            an_aerr(a, items[k]->pos, "key attribute '%s' of entity '%s' is listed twice", name, en->name);
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
    if (!kt && single->kind == SF_TYPE_TUPLE)
        an_aerr(a, items[0]->pos, "key attribute '%s' of entity '%s' is a tuple, which is not supported "
                                  "as a key: make it a str or an int", items[0]->u.attr.attr, en->name);
    m->returns = kt ? kt : single;
}

void an_add_accessors(actx *a, int ei)
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
