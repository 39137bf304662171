/* executor_apps.c: builds the executor tests' IR by hand (see
 * executor_apps.h); the generated module is tests/executor_app.py. */
#include "executor_apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SF_TEST_SRC_DIR
#define SF_TEST_SRC_DIR "."
#endif

#define MAX_METHODS 32
#define MAX_ENTITIES 8

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        p[n] = '\0';
    fclose(f);
    return p;
}

static const sf_type *mk_type(sf_ir *ir, const char *s, size_t n)
{
    sf_type *t = sf_arena_alloc(&ir->arena, sizeof(*t));
    if (n > 0 && s[0] == '?') {
        t->kind = SF_TYPE_OPTIONAL;
        t->args = sf_arena_alloc(&ir->arena, sizeof(sf_type *));
        t->args[0] = mk_type(ir, s + 1, n - 1);
        t->nargs = 1;
        return t;
    }
    if (n > 0 && s[0] == '@') {
        t->kind = SF_TYPE_ENTITY;
        t->entity = sf_arena_strndup(&ir->arena, s + 1, n - 1);
        return t;
    }
    static const struct {
        const char *name;
        sf_type_kind kind;
    } kinds[] = {
        {"int", SF_TYPE_INT},     {"float", SF_TYPE_FLOAT}, {"str", SF_TYPE_STR},
        {"bool", SF_TYPE_BOOL},   {"bytes", SF_TYPE_BYTES}, {"list", SF_TYPE_LIST},
        {"dict", SF_TYPE_DICT},   {"tuple", SF_TYPE_TUPLE}, {"set", SF_TYPE_SET},
        {"any", SF_TYPE_ANY},     {"none", SF_TYPE_NONE},
    };
    t->kind = SF_TYPE_ANY;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == n && memcmp(kinds[i].name, s, n) == 0)
            t->kind = kinds[i].kind;
    if (t->kind == SF_TYPE_LIST || t->kind == SF_TYPE_SET || t->kind == SF_TYPE_DICT) {
        int k = t->kind == SF_TYPE_DICT ? 2 : 1;
        const sf_type **a = sf_arena_alloc(&ir->arena, sizeof(sf_type *) * 2);
        for (int i = 0; i < k; i++) {
            sf_type *any = sf_arena_alloc(&ir->arena, sizeof(*any));
            any->kind = SF_TYPE_ANY;
            a[i] = any;
        }
        t->args = a;
        t->nargs = k;
    }
    return t;
}

void sf_test_add_method(sf_ir *ir, sf_ir_entity *e, const char *name, unsigned flags,
                        const char *params, int nblocks)
{
    sf_ir_method *m = &e->methods[e->nmethods++];
    memset(m, 0, sizeof(*m));
    m->name = sf_arena_strdup(&ir->arena, name);
    m->line = 1;
    m->flags = flags | (nblocks > 0 ? SF_METHOD_SPLIT : 0);
    m->params = sf_arena_alloc(&ir->arena, sizeof(sf_ir_param) * 16);
    const char *p = params;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        sf_ir_param *pa = &m->params[m->nparams++];
        size_t nn = colon ? (size_t)(colon - p) : n;
        pa->name = sf_arena_strndup(&ir->arena, p, nn);
        size_t tl = colon ? n - nn - 1 : 0;
        const char *ts = colon ? colon + 1 : "";
        if (tl > 0 && ts[tl - 1] == '=') {
            pa->has_default = 1;
            tl--;
        }
        pa->type = tl ? mk_type(ir, ts, tl) : NULL;
        p = end ? end + 1 : NULL;
    }
    m->returns = NULL;
    m->reads = m->writes = NULL;
    if (nblocks > 0) {
        m->blocks = sf_arena_alloc(&ir->arena, sizeof(sf_ir_block) * (size_t)nblocks);
        m->nblocks = nblocks;
        for (int k = 0; k < nblocks; k++) {
            sf_ir_block *b = &m->blocks[k];
            b->id = k;
            b->function = sf_arena_printf(&ir->arena, "_sf_%s_%s_%d", e->name, name, k);
            b->line = 1;
            b->exits = sf_arena_alloc(&ir->arena, sizeof(sf_ir_exit));
            b->exits[0].kind = SF_EXIT_RETURN;
            b->exits[0].target = -1;
            b->exits[0].entity = "";
            b->exits[0].method = "";
            b->exits[0].bind = "";
            b->nexits = 1;
        }
    }
}

static sf_ir_entity *add_entity(sf_ir *ir, const char *name, const char *attrs)
{
    sf_ir_entity *e = &ir->entities[ir->nentities++];
    e->name = sf_arena_strdup(&ir->arena, name);
    e->line = 1;
    e->attrs = sf_arena_alloc(&ir->arena, sizeof(sf_ir_attr) * 8);
    const char *p = attrs;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        sf_ir_attr *a = &e->attrs[e->nattrs++];
        a->name = sf_arena_strndup(&ir->arena, p, n);
        a->line = 1;
        p = end ? end + 1 : NULL;
    }
    e->key = sf_arena_alloc(&ir->arena, sizeof(char *));
    e->key[0] = e->attrs[0].name;
    e->nkey = 1;
    e->methods = sf_arena_alloc(&ir->arena, sizeof(sf_ir_method) * MAX_METHODS);
    return e;
}

enum { RO = SF_METHOD_READ_ONLY, INIT = SF_METHOD_INIT, INTERNAL = SF_METHOD_INTERNAL,
       ACC = SF_METHOD_ACCESSOR };

sf_ir *sf_test_app_build(void)
{
    char *py = read_file(SF_TEST_SRC_DIR "/tests/executor_app.py");
    if (!py)
        return NULL;
    sf_ir *ir = sf_ir_new();
    ir->module = "executor_app";
    ir->filename = "executor_app.py";
    ir->python = sf_arena_strdup(&ir->arena, py);
    ir->source = sf_arena_strdup(&ir->arena, py);
    free(py);
    ir->entities = sf_arena_alloc(&ir->arena, sizeof(sf_ir_entity) * MAX_ENTITIES);

    sf_ir_entity *item = add_entity(ir, "Item", "item_id,price,stock");
    sf_test_add_method(ir, item, "__init__", INIT, "item_id:str,price:int", 0);
    sf_test_add_method(ir, item, "__key__", RO | INTERNAL, "", 0);
    sf_test_add_method(ir, item, "update_stock", 0, "amount:int", 0);
    sf_test_add_method(ir, item, "_sf_get_price", RO | INTERNAL | ACC, "", 0);
    sf_test_add_method(ir, item, "_sf_set_price", INTERNAL | ACC, "value:int", 0);

    sf_ir_entity *user = add_entity(ir, "User", "username,balance");
    sf_test_add_method(ir, user, "__init__", INIT, "username:str", 0);
    sf_test_add_method(ir, user, "__key__", RO | INTERNAL, "", 0);
    sf_test_add_method(ir, user, "deposit", 0, "amount:int", 0);
    sf_test_add_method(ir, user, "peek", RO, "", 0);
    sf_test_add_method(ir, user, "fail", 0, "msg:str", 0);
    sf_test_add_method(ir, user, "leak", 0, "", 0);
    sf_test_add_method(ir, user, "bad_return", 0, "", 0);
    sf_test_add_method(ir, user, "me", RO, "", 0);
    sf_test_add_method(ir, user, "typed", RO,
                       "i:int,f:float,s:str,b:bool,by:bytes,l:list,d:dict,it:@Item,o:?int=", 0);
    sf_test_add_method(ir, user, "buy_item", 0, "amount:int,item:@Item", 3);
    sf_test_add_method(ir, user, "_sf_get_balance", RO | INTERNAL | ACC, "", 0);

    sf_ir_entity *acc = add_entity(ir, "Account", "name,balance");
    sf_test_add_method(ir, acc, "__init__", INIT, "name:str,balance:int=", 0);
    sf_test_add_method(ir, acc, "__key__", RO | INTERNAL, "", 0);
    sf_test_add_method(ir, acc, "add", 0, "amount:int", 0);
    sf_test_add_method(ir, acc, "transfer", 0, "amount:int,to:@Account,note:str=", 2);
    sf_test_add_method(ir, acc, "transfer_then_fail", 0, "amount:int,to:@Account", 2);

    sf_ir_entity *node = add_entity(ir, "Node", "name,x,log");
    sf_test_add_method(ir, node, "__init__", INIT, "name:str", 0);
    sf_test_add_method(ir, node, "__key__", RO | INTERNAL, "", 0);
    sf_test_add_method(ir, node, "bump", 0, "v:int", 0);
    sf_test_add_method(ir, node, "ping", 0, "other:@Node", 2);
    sf_test_add_method(ir, node, "pong", 0, "back:@Node", 2);
    sf_test_add_method(ir, node, "sum_to", RO, "other:@Node,times:int", 3);
    sf_test_add_method(ir, node, "twice", RO, "other:@Node", 2);
    sf_test_add_method(ir, node, "chain", RO, "n:int,other:@Node", 2);
    sf_test_add_method(ir, node, "spin", RO, "", 1);
    sf_test_add_method(ir, node, "malformed", RO, "", 1);
    sf_test_add_method(ir, node, "touch_missing", RO, "other", 2);
    sf_test_add_method(ir, node, "store", 0, "v", 0);
    sf_test_add_method(ir, node, "stored", RO, "", 0);
    sf_test_add_method(ir, node, "share", 0, "other:@Node", 3);
    sf_test_add_method(ir, node, "send_object", RO, "other:@Node", 2);
    sf_test_add_method(ir, node, "shout", RO, "", 1);
    sf_test_add_method(ir, node, "count_up", RO, "other:@Node,times:int=", 2);
    sf_test_add_method(ir, node, "via_self", RO, "other:@Node", 2);

    sf_ir_entity *slow = add_entity(ir, "Slow", "name,n");
    sf_test_add_method(ir, slow, "__init__", INIT, "name:str,spin:bool=", 0);
    sf_test_add_method(ir, slow, "__key__", RO | INTERNAL, "", 0);
    sf_test_add_method(ir, slow, "ok", 0, "", 0);
    return ir;
}
