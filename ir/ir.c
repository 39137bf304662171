/* ir.c: the sf_ir object itself (creation, release, lookups) and the type
 * helpers shared by every user of the IR (formatting, equality, kind names).
 * Writing, loading and dumping live in ir_write.c, ir_read.c, ir_dump.c. */
#include "stateflow/sf_ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper types than this are printed as "..." (hand-built IRs may be deeper
 * or even cyclic; loaded ones never exceed SF_IR_MAX_TYPE_DEPTH). */
#define SF_TYPE_PRINT_DEPTH 64

sf_ir *sf_ir_new(void)
{
    sf_ir *ir = calloc(1, sizeof(*ir));
    if (!ir) {
        fprintf(stderr, "stateflow: out of memory\n");
        abort();
    }
    sf_arena_init(&ir->arena);
    ir->version = SF_IR_VERSION;
    return ir;
}

void sf_ir_free(sf_ir *ir)
{
    if (!ir)
        return;
    sf_arena_free(&ir->arena);
    free(ir);
}

/* ---- lookups ---------------------------------------------------------- */

const sf_ir_entity *sf_ir_find_entity(const sf_ir *ir, const char *name)
{
    if (!ir || !name)
        return NULL;
    for (int i = 0; i < ir->nentities; i++)
        if (ir->entities[i].name && strcmp(ir->entities[i].name, name) == 0)
            return &ir->entities[i];
    return NULL;
}

const sf_ir_method *sf_ir_find_method(const sf_ir_entity *e, const char *name)
{
    if (!e || !name)
        return NULL;
    for (int i = 0; i < e->nmethods; i++)
        if (e->methods[i].name && strcmp(e->methods[i].name, name) == 0)
            return &e->methods[i];
    return NULL;
}

const sf_ir_attr *sf_ir_find_attr(const sf_ir_entity *e, const char *name)
{
    if (!e || !name)
        return NULL;
    for (int i = 0; i < e->nattrs; i++)
        if (e->attrs[i].name && strcmp(e->attrs[i].name, name) == 0)
            return &e->attrs[i];
    return NULL;
}

/* ---- types ------------------------------------------------------------ */

static const char *const kind_names[SF_TYPE__COUNT] = {
    [SF_TYPE_ANY] = "any",       [SF_TYPE_NONE] = "none",   [SF_TYPE_BOOL] = "bool",
    [SF_TYPE_INT] = "int",       [SF_TYPE_FLOAT] = "float", [SF_TYPE_STR] = "str",
    [SF_TYPE_BYTES] = "bytes",   [SF_TYPE_LIST] = "list",   [SF_TYPE_TUPLE] = "tuple",
    [SF_TYPE_DICT] = "dict",     [SF_TYPE_SET] = "set",     [SF_TYPE_OPTIONAL] = "optional",
    [SF_TYPE_ENTITY] = "entity",
};

const char *sf_type_kind_name(sf_type_kind k)
{
    if ((int)k < 0 || k >= SF_TYPE__COUNT)
        return "?";
    return kind_names[k];
}

/* Bounded writer: appends while room is left, always NUL-terminated. */
typedef struct tw {
    char *buf;
    size_t cap, len;
} tw;

static void tw_puts(tw *w, const char *s)
{
    while (*s && w->len + 1 < w->cap)
        w->buf[w->len++] = *s++;
    w->buf[w->len] = '\0';
}

static const sf_type *type_arg(const sf_type *t, int i)
{
    return (t && i < t->nargs && t->args) ? t->args[i] : NULL;
}

static void tw_type(tw *w, const sf_type *t, int depth)
{
    static const char *const python_names[SF_TYPE__COUNT] = {
        [SF_TYPE_ANY] = "Any",      [SF_TYPE_NONE] = "None",    [SF_TYPE_BOOL] = "bool",
        [SF_TYPE_INT] = "int",      [SF_TYPE_FLOAT] = "float",  [SF_TYPE_STR] = "str",
        [SF_TYPE_BYTES] = "bytes",  [SF_TYPE_LIST] = "List",    [SF_TYPE_TUPLE] = "Tuple",
        [SF_TYPE_DICT] = "Dict",    [SF_TYPE_SET] = "Set",      [SF_TYPE_OPTIONAL] = "Optional",
        [SF_TYPE_ENTITY] = "?",
    };
    if (depth > SF_TYPE_PRINT_DEPTH) {
        tw_puts(w, "...");
        return;
    }
    if (!t) {
        tw_puts(w, "Any");
        return;
    }
    if ((int)t->kind < 0 || t->kind >= SF_TYPE__COUNT) {
        tw_puts(w, "?");
        return;
    }
    switch (t->kind) {
    case SF_TYPE_ENTITY:
        tw_puts(w, t->entity ? t->entity : "?");
        return;
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_OPTIONAL:
    case SF_TYPE_DICT:
    case SF_TYPE_TUPLE: {
        int n = t->kind == SF_TYPE_DICT ? 2 : t->kind == SF_TYPE_TUPLE ? t->nargs : 1;
        tw_puts(w, python_names[t->kind]);
        if (n <= 0)
            return;
        tw_puts(w, "[");
        for (int i = 0; i < n; i++) {
            if (i)
                tw_puts(w, ", ");
            tw_type(w, type_arg(t, i), depth + 1);
        }
        tw_puts(w, "]");
        return;
    }
    default:
        tw_puts(w, python_names[t->kind]);
        return;
    }
}

char *sf_type_format(const sf_type *t, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    tw w = {buf, cap, 0};
    buf[0] = '\0';
    tw_type(&w, t, 0);
    return buf;
}

static int type_equal(const sf_type *a, const sf_type *b, int depth)
{
    if (a == b)
        return 1;
    if (depth > SF_TYPE_PRINT_DEPTH)
        return 0;
    sf_type_kind ka = a ? a->kind : SF_TYPE_ANY, kb = b ? b->kind : SF_TYPE_ANY;
    if (ka != kb)
        return 0;
    if (!a || !b) /* NULL stands for Any; the other one is Any too */
        return 1;
    if (ka == SF_TYPE_ENTITY)
        return a->entity && b->entity && strcmp(a->entity, b->entity) == 0;
    if (a->nargs != b->nargs)
        return 0;
    for (int i = 0; i < a->nargs; i++)
        if (!type_equal(type_arg(a, i), type_arg(b, i), depth + 1))
            return 0;
    return 1;
}

int sf_type_equal(const sf_type *a, const sf_type *b) { return type_equal(a, b, 0); }

const char *sf_type_entity(const sf_type *t)
{
    if (t && t->kind == SF_TYPE_OPTIONAL)
        t = type_arg(t, 0);
    if (t && t->kind == SF_TYPE_ENTITY)
        return t->entity;
    return NULL;
}
