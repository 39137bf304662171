/* test_ir.c: the ir/ library: type helpers, lookups, encode/decode round
 * trips, the loader's validation (truncation, corruption, wrong magic and
 * version, out-of-range targets, unknown names, limits), file writing and
 * loading, and the dump and Graphviz output.
 *
 * Run with `--write-corpus DIR` it writes the fuzzing seed corpus for
 * fuzz_ir instead of running the tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "stateflow/sf_ir.h"

/* ---- building a representative IR by hand ------------------------------ */

static const sf_type *ty(sf_ir *ir, sf_type_kind k, int n, ...)
{
    sf_type *t = sf_arena_alloc(&ir->arena, sizeof(*t));
    t->kind = k;
    if (n > 0) {
        const sf_type **args = sf_arena_alloc(&ir->arena, (size_t)n * sizeof(*args));
        va_list ap;
        va_start(ap, n);
        for (int i = 0; i < n; i++)
            args[i] = va_arg(ap, const sf_type *);
        va_end(ap);
        t->args = args;
        t->nargs = n;
    }
    return t;
}

static const sf_type *ent(sf_ir *ir, const char *name)
{
    sf_type *t = sf_arena_alloc(&ir->arena, sizeof(*t));
    t->kind = SF_TYPE_ENTITY;
    t->entity = sf_arena_strdup(&ir->arena, name);
    return t;
}

static const char **strs(sf_ir *ir, int n, ...)
{
    const char **v = sf_arena_alloc(&ir->arena, (size_t)(n ? n : 1) * sizeof(*v));
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        v[i] = sf_arena_strdup(&ir->arena, va_arg(ap, const char *));
    va_end(ap);
    return v;
}

#define NEW(ir, T, n) ((T *)sf_arena_alloc(&(ir)->arena, (size_t)(n) * sizeof(T)))

static sf_ir_exit ex(sf_ir_exit_kind kind, int target, const char *entity, const char *method,
                     const char *bind)
{
    sf_ir_exit x = {kind, target, entity, method, bind};
    return x;
}

/* Item and User from DESIGN.md section 1, with some extra types. */
static sf_ir *build_ir(void)
{
    sf_ir *ir = sf_ir_new();
    ir->module = "app";
    ir->filename = "examples/app.py";
    ir->source = "@entity\nclass Item:\n    pass\n";
    ir->python = "class Item:\n    pass\n\ndef _sf_User_buy_item_0(self, _f):\n    return (0, None)\n";
    ir->nentities = 2;
    ir->entities = NEW(ir, sf_ir_entity, 2);

    /* Item */
    sf_ir_entity *item = &ir->entities[0];
    item->name = "Item";
    item->line = 5;
    item->key = strs(ir, 1, "item_id");
    item->nkey = 1;
    item->nattrs = 4;
    item->attrs = NEW(ir, sf_ir_attr, 4);
    item->attrs[0] = (sf_ir_attr){"item_id", ty(ir, SF_TYPE_STR, 0), 7};
    item->attrs[1] = (sf_ir_attr){"price", ty(ir, SF_TYPE_INT, 0), 8};
    item->attrs[2] = (sf_ir_attr){"stock", ty(ir, SF_TYPE_INT, 0), 9};
    item->attrs[3] = (sf_ir_attr){
        "tags",
        ty(ir, SF_TYPE_DICT, 2, ty(ir, SF_TYPE_STR, 0),
           ty(ir, SF_TYPE_LIST, 1,
              ty(ir, SF_TYPE_TUPLE, 2, ty(ir, SF_TYPE_INT, 0), ty(ir, SF_TYPE_STR, 0)))),
        10};
    item->nmethods = 3;
    item->methods = NEW(ir, sf_ir_method, 3);
    sf_ir_method *m = &item->methods[0];
    m->name = "__init__";
    m->line = 6;
    m->flags = SF_METHOD_INIT;
    m->nparams = 2;
    m->params = NEW(ir, sf_ir_param, 2);
    m->params[0] = (sf_ir_param){"item_id", ty(ir, SF_TYPE_STR, 0), 0};
    m->params[1] = (sf_ir_param){"price", ty(ir, SF_TYPE_INT, 0), 0};
    m->returns = ty(ir, SF_TYPE_NONE, 0);
    m->writes = strs(ir, 4, "item_id", "price", "stock", "tags");
    m->nwrites = 4;
    m = &item->methods[1];
    m->name = "update_stock";
    m->line = 15;
    m->nparams = 1;
    m->params = NEW(ir, sf_ir_param, 1);
    m->params[0] = (sf_ir_param){"amount", ty(ir, SF_TYPE_INT, 0), 0};
    m->returns = ty(ir, SF_TYPE_BOOL, 0);
    m->reads = strs(ir, 1, "stock");
    m->nreads = 1;
    m->writes = strs(ir, 1, "stock");
    m->nwrites = 1;
    m = &item->methods[2];
    m->name = "_sf_get_price";
    m->flags = SF_METHOD_READ_ONLY | SF_METHOD_ACCESSOR | SF_METHOD_INTERNAL;
    m->returns = ty(ir, SF_TYPE_INT, 0);
    m->reads = strs(ir, 1, "price");
    m->nreads = 1;

    /* User */
    sf_ir_entity *user = &ir->entities[1];
    user->name = "User";
    user->line = 22;
    user->key = strs(ir, 1, "username");
    user->nkey = 1;
    user->nattrs = 4;
    user->attrs = NEW(ir, sf_ir_attr, 4);
    user->attrs[0] = (sf_ir_attr){"username", ty(ir, SF_TYPE_STR, 0), 24};
    user->attrs[1] = (sf_ir_attr){"balance", ty(ir, SF_TYPE_INT, 0), 25};
    user->attrs[2] = (sf_ir_attr){"favourite", ty(ir, SF_TYPE_OPTIONAL, 1, ent(ir, "Item")), 26};
    user->attrs[3] = (sf_ir_attr){
        "history",
        ty(ir, SF_TYPE_SET, 1, ty(ir, SF_TYPE_TUPLE, 0)), 27};
    user->nmethods = 2;
    user->methods = NEW(ir, sf_ir_method, 2);
    m = &user->methods[0];
    m->name = "__init__";
    m->line = 23;
    m->flags = SF_METHOD_INIT;
    m->nparams = 1;
    m->params = NEW(ir, sf_ir_param, 1);
    m->params[0] = (sf_ir_param){"username", ty(ir, SF_TYPE_STR, 0), 0};
    m->returns = ty(ir, SF_TYPE_NONE, 0);
    m->writes = strs(ir, 4, "username", "balance", "favourite", "history");
    m->nwrites = 4;
    m = &user->methods[1];
    m->name = "buy_item";
    m->line = 31;
    m->flags = SF_METHOD_SPLIT;
    m->nparams = 3;
    m->params = NEW(ir, sf_ir_param, 3);
    m->params[0] = (sf_ir_param){"amount", ty(ir, SF_TYPE_INT, 0), 0};
    m->params[1] = (sf_ir_param){"item", ent(ir, "Item"), 0};
    m->params[2] = (sf_ir_param){"note", ty(ir, SF_TYPE_OPTIONAL, 1, ty(ir, SF_TYPE_STR, 0)), 1};
    m->returns = ty(ir, SF_TYPE_BOOL, 0);
    m->reads = strs(ir, 1, "balance");
    m->nreads = 1;
    m->writes = strs(ir, 1, "balance");
    m->nwrites = 1;
    m->ncalls = 2;
    m->calls = NEW(ir, sf_ir_call, 2);
    m->calls[0] = (sf_ir_call){"Item", "_sf_get_price", 32};
    m->calls[1] = (sf_ir_call){"Item", "update_stock", 35};
    m->nblocks = 4;
    m->blocks = NEW(ir, sf_ir_block, 4);
    sf_ir_block *b = m->blocks;
    b[0] = (sf_ir_block){0, "_sf_User_buy_item_0", 32, strs(ir, 2, "amount", "item"), 2,
                         NEW(ir, sf_ir_exit, 1), 1};
    b[0].exits[0] = ex(SF_EXIT_CALL, 1, "Item", "_sf_get_price", "_t0");
    b[1] = (sf_ir_block){1, "_sf_User_buy_item_1", 32, strs(ir, 3, "amount", "item", "_t0"), 3,
                         NEW(ir, sf_ir_exit, 2), 2};
    b[1].exits[0] = ex(SF_EXIT_RETURN, -1, "", "", "");
    b[1].exits[1] = ex(SF_EXIT_CALL, 2, "Item", "update_stock", "_t1");
    b[2] = (sf_ir_block){2, "_sf_User_buy_item_2", 35, strs(ir, 3, "amount", "_t0", "_t1"), 3,
                         NEW(ir, sf_ir_exit, 2), 2};
    b[2].exits[0] = ex(SF_EXIT_RETURN, -1, "", "", "");
    b[2].exits[1] = ex(SF_EXIT_JUMP, 3, "", "", "");
    b[3] = (sf_ir_block){3, "_sf_User_buy_item_3", 37, strs(ir, 0), 0, NEW(ir, sf_ir_exit, 1), 1};
    b[3].exits[0] = ex(SF_EXIT_RETURN, -1, "", "", "");

    ir->nedges = 2;
    ir->edges = NEW(ir, sf_ir_edge, 2);
    ir->edges[0] = (sf_ir_edge){"User", "buy_item", "Item", "_sf_get_price"};
    ir->edges[1] = (sf_ir_edge){"User", "buy_item", "Item", "update_stock"};
    return ir;
}

/* ---- content equality ----------------------------------------------------- */

static void eq_str(const char *a, const char *b)
{
    assert_string_equal(a ? a : "", b ? b : "");
}

static void eq_strs(const char **a, int na, const char **b, int nb)
{
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++)
        eq_str(a[i], b[i]);
}

static void eq_type(const sf_type *a, const sf_type *b)
{
    char ba[256], bb[256];
    assert_true(sf_type_equal(a, b));
    assert_string_equal(sf_type_format(a, ba, sizeof(ba)), sf_type_format(b, bb, sizeof(bb)));
}

static void assert_ir_equal(const sf_ir *a, const sf_ir *b)
{
    eq_str(a->module, b->module);
    eq_str(a->filename, b->filename);
    eq_str(a->source, b->source);
    eq_str(a->python, b->python);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->nentities, b->nentities);
    for (int i = 0; i < a->nentities; i++) {
        const sf_ir_entity *ea = &a->entities[i], *eb = &b->entities[i];
        eq_str(ea->name, eb->name);
        assert_int_equal(ea->line, eb->line);
        eq_strs(ea->key, ea->nkey, eb->key, eb->nkey);
        assert_int_equal(ea->nattrs, eb->nattrs);
        for (int j = 0; j < ea->nattrs; j++) {
            eq_str(ea->attrs[j].name, eb->attrs[j].name);
            eq_type(ea->attrs[j].type, eb->attrs[j].type);
            assert_int_equal(ea->attrs[j].line, eb->attrs[j].line);
        }
        assert_int_equal(ea->nmethods, eb->nmethods);
        for (int j = 0; j < ea->nmethods; j++) {
            const sf_ir_method *ma = &ea->methods[j], *mb = &eb->methods[j];
            eq_str(ma->name, mb->name);
            assert_int_equal(ma->line, mb->line);
            assert_int_equal(ma->flags, mb->flags);
            assert_int_equal(ma->nparams, mb->nparams);
            for (int k = 0; k < ma->nparams; k++) {
                eq_str(ma->params[k].name, mb->params[k].name);
                eq_type(ma->params[k].type, mb->params[k].type);
                assert_int_equal(ma->params[k].has_default, mb->params[k].has_default);
            }
            eq_type(ma->returns, mb->returns);
            eq_strs(ma->reads, ma->nreads, mb->reads, mb->nreads);
            eq_strs(ma->writes, ma->nwrites, mb->writes, mb->nwrites);
            assert_int_equal(ma->ncalls, mb->ncalls);
            for (int k = 0; k < ma->ncalls; k++) {
                eq_str(ma->calls[k].entity, mb->calls[k].entity);
                eq_str(ma->calls[k].method, mb->calls[k].method);
                assert_int_equal(ma->calls[k].line, mb->calls[k].line);
            }
            assert_int_equal(ma->nblocks, mb->nblocks);
            for (int k = 0; k < ma->nblocks; k++) {
                const sf_ir_block *ba = &ma->blocks[k], *bb = &mb->blocks[k];
                assert_int_equal(ba->id, bb->id);
                eq_str(ba->function, bb->function);
                assert_int_equal(ba->line, bb->line);
                eq_strs(ba->live_in, ba->nlive_in, bb->live_in, bb->nlive_in);
                assert_int_equal(ba->nexits, bb->nexits);
                for (int x = 0; x < ba->nexits; x++) {
                    const sf_ir_exit *xa = &ba->exits[x], *xb = &bb->exits[x];
                    assert_int_equal(xa->kind, xb->kind);
                    assert_int_equal(xa->target, xb->target);
                    eq_str(xa->entity, xb->entity);
                    eq_str(xa->method, xb->method);
                    eq_str(xa->bind, xb->bind);
                }
            }
        }
    }
    assert_int_equal(a->nedges, b->nedges);
    for (int i = 0; i < a->nedges; i++) {
        eq_str(a->edges[i].from_entity, b->edges[i].from_entity);
        eq_str(a->edges[i].from_method, b->edges[i].from_method);
        eq_str(a->edges[i].to_entity, b->edges[i].to_entity);
        eq_str(a->edges[i].to_method, b->edges[i].to_method);
    }
}

/* ---- helpers -------------------------------------------------------------- */

static char *encode_ok(const sf_ir *ir, size_t *len)
{
    char err[512], *buf = NULL;
    int rc = sf_ir_encode(ir, &buf, len, err, sizeof(err));
    if (rc != 0)
        fail_msg("encode failed: %s", err);
    return buf;
}

/* Decoding must fail; returns the error message (static storage per call site
 * is not needed: the caller passes a buffer). */
static void decode_fails(const char *buf, size_t len, char *err, size_t errlen)
{
    sf_ir *ir = sf_ir_decode(buf, len, err, errlen);
    if (ir) {
        sf_ir_free(ir);
        fail_msg("decoding %zu bytes unexpectedly succeeded", len);
    }
    assert_true(err[0] != '\0');
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected to find\n  [%s]\nin\n%s", needle, hay);
}

/* Object-tree surgery on an encoded document: unpack, let the test modify
 * the tree, repack. */
typedef struct doc {
    msgpack_unpacked up;
    msgpack_object *root;
} doc;

static void doc_open(doc *d, const char *buf, size_t len)
{
    size_t off = 0;
    msgpack_unpacked_init(&d->up);
    assert_int_equal(msgpack_unpack_next(&d->up, buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    d->root = &d->up.data;
}

static char *doc_pack(doc *d, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_object(&pk, *d->root), 0);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

static void doc_close(doc *d) { msgpack_unpacked_destroy(&d->up); }

static msgpack_object *key(msgpack_object *map, const char *k)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        msgpack_object_str *s = &map->via.map.ptr[i].key.via.str;
        if (s->size == strlen(k) && memcmp(s->ptr, k, s->size) == 0)
            return &map->via.map.ptr[i].val;
    }
    fail_msg("no key %s", k);
    return NULL;
}

static msgpack_object *at(msgpack_object *arr, uint32_t i)
{
    assert_int_equal(arr->type, MSGPACK_OBJECT_ARRAY);
    assert_true(i < arr->via.array.size);
    return &arr->via.array.ptr[i];
}

static msgpack_object *method_obj(doc *d, int e, int m)
{
    return at(key(at(key(d->root, "entities"), (uint32_t)e), "methods"), (uint32_t)m);
}

static void set_str(msgpack_object *o, const char *s)
{
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = s;
    o->via.str.size = (uint32_t)strlen(s);
}

static void set_int(msgpack_object *o, int64_t v)
{
    if (v < 0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    } else {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    }
}

/* Remove key k from map (shifting the rest). */
static void del_key(msgpack_object *map, const char *k)
{
    msgpack_object *v = key(map, k);
    msgpack_object_kv *kv = (msgpack_object_kv *)((char *)v - offsetof(msgpack_object_kv, val));
    size_t idx = (size_t)(kv - map->via.map.ptr);
    memmove(kv, kv + 1, (map->via.map.size - idx - 1) * sizeof(*kv));
    map->via.map.size--;
}

/* Apply a mutation to the representative IR's encoding and expect decode
 * to fail with exactly `want` (or containing it when substring is set). */
typedef void (*mutator)(doc *d, msgpack_zone *z);

static void expect_mutation_error(mutator fn, const char *want, int substring)
{
    sf_ir *ir = build_ir();
    size_t len, len2;
    char *buf = encode_ok(ir, &len);
    doc d;
    doc_open(&d, buf, len);
    msgpack_zone *z = msgpack_zone_new(4096);
    fn(&d, z);
    char *buf2 = doc_pack(&d, &len2);
    char err[512];
    decode_fails(buf2, len2, err, sizeof(err));
    if (substring)
        assert_contains(err, want);
    else
        assert_string_equal(err, want);
    free(buf2);
    msgpack_zone_free(z);
    doc_close(&d);
    free(buf);
    sf_ir_free(ir);
}

/* ---- tests: types and lookups -------------------------------------------- */

static void test_type_format(void **state)
{
    (void)state;
    sf_ir *ir = sf_ir_new();
    char b[128];
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_INT, 0), b, sizeof(b)), "int");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_LIST, 1, ent(ir, "Item")), b, sizeof(b)),
                        "List[Item]");
    assert_string_equal(
        sf_type_format(ty(ir, SF_TYPE_DICT, 2, ty(ir, SF_TYPE_STR, 0), ent(ir, "Item")), b, sizeof(b)),
        "Dict[str, Item]");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_OPTIONAL, 1, ent(ir, "Item")), b, sizeof(b)),
                        "Optional[Item]");
    assert_string_equal(
        sf_type_format(ty(ir, SF_TYPE_TUPLE, 2, ty(ir, SF_TYPE_INT, 0), ty(ir, SF_TYPE_STR, 0)), b,
                       sizeof(b)),
        "Tuple[int, str]");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_TUPLE, 0), b, sizeof(b)), "Tuple");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_SET, 1, ty(ir, SF_TYPE_INT, 0)), b, sizeof(b)),
                        "Set[int]");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_ANY, 0), b, sizeof(b)), "Any");
    assert_string_equal(sf_type_format(NULL, b, sizeof(b)), "Any");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_NONE, 0), b, sizeof(b)), "None");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_BYTES, 0), b, sizeof(b)), "bytes");
    assert_string_equal(sf_type_format(ty(ir, SF_TYPE_FLOAT, 0), b, sizeof(b)), "float");
    /* truncation: at most cap bytes, NUL-terminated */
    char small[6];
    memset(small, 'x', sizeof(small));
    sf_type_format(ty(ir, SF_TYPE_LIST, 1, ent(ir, "Item")), small, sizeof(small));
    assert_string_equal(small, "List[");
    assert_string_equal(sf_type_kind_name(SF_TYPE_OPTIONAL), "optional");
    assert_string_equal(sf_type_kind_name(SF_TYPE_ENTITY), "entity");
    assert_string_equal(sf_type_kind_name((sf_type_kind)99), "?");
    sf_ir_free(ir);
}

static void test_type_equal_entity(void **state)
{
    (void)state;
    sf_ir *ir = sf_ir_new();
    const sf_type *a = ty(ir, SF_TYPE_LIST, 1, ent(ir, "Item"));
    const sf_type *b = ty(ir, SF_TYPE_LIST, 1, ent(ir, "Item"));
    const sf_type *c = ty(ir, SF_TYPE_LIST, 1, ent(ir, "User"));
    const sf_type *d = ty(ir, SF_TYPE_SET, 1, ent(ir, "Item"));
    assert_true(sf_type_equal(a, b));
    assert_false(sf_type_equal(a, c));
    assert_false(sf_type_equal(a, d));
    assert_true(sf_type_equal(NULL, ty(ir, SF_TYPE_ANY, 0)));
    assert_false(sf_type_equal(NULL, ty(ir, SF_TYPE_INT, 0)));
    assert_false(sf_type_equal(ty(ir, SF_TYPE_TUPLE, 1, ty(ir, SF_TYPE_INT, 0)), ty(ir, SF_TYPE_TUPLE, 0)));
    assert_string_equal(sf_type_entity(ent(ir, "Item")), "Item");
    assert_string_equal(sf_type_entity(ty(ir, SF_TYPE_OPTIONAL, 1, ent(ir, "User"))), "User");
    assert_null(sf_type_entity(a));
    assert_null(sf_type_entity(ty(ir, SF_TYPE_INT, 0)));
    assert_null(sf_type_entity(NULL));
    sf_ir_free(ir);
}

static void test_lookups(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    const sf_ir_entity *u = sf_ir_find_entity(ir, "User");
    assert_non_null(u);
    assert_string_equal(u->name, "User");
    assert_null(sf_ir_find_entity(ir, "Nope"));
    assert_non_null(sf_ir_find_method(u, "buy_item"));
    assert_null(sf_ir_find_method(u, "update_stock"));
    assert_non_null(sf_ir_find_attr(u, "balance"));
    assert_null(sf_ir_find_attr(u, "price"));
    assert_null(sf_ir_find_method(NULL, "x"));
    sf_ir_free(ir);
}

/* ---- tests: round trip ------------------------------------------------------ */

static void test_roundtrip(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    size_t len, len2;
    char *buf = encode_ok(ir, &len);
    /* the header is what docs/ir.md promises */
    static const char header[] = "\x88\xa5magic\xa4SFIR\xa7version\x01";
    assert_memory_equal(buf, header, sizeof(header) - 1);
    char err[512];
    sf_ir *back = sf_ir_decode(buf, len, err, sizeof(err));
    if (!back)
        fail_msg("decode: %s", err);
    assert_ir_equal(ir, back);
    char *buf2 = encode_ok(back, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    /* decoded strings are never NULL */
    const sf_ir_exit *x = &back->entities[1].methods[1].blocks[1].exits[0];
    assert_int_equal(x->kind, SF_EXIT_RETURN);
    assert_int_equal(x->target, -1);
    assert_string_equal(x->bind, "");
    free(buf);
    free(buf2);
    sf_ir_free(back);
    sf_ir_free(ir);
}

static void test_empty_ir(void **state)
{
    (void)state;
    sf_ir *ir = sf_ir_new();
    ir->module = "empty";
    size_t len;
    char *buf = encode_ok(ir, &len);
    char err[256];
    sf_ir *back = sf_ir_decode(buf, len, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(back->nentities, 0);
    assert_int_equal(back->nedges, 0);
    assert_string_equal(back->source, "");
    free(buf);
    sf_ir_free(back);
    sf_ir_free(ir);
}

static void test_truncations(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    size_t len;
    char *buf = encode_ok(ir, &len);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1); /* exact-size copy so ASan sees overreads */
        memcpy(copy, buf, n);
        char err[512] = "";
        decode_fails(copy, n, err, sizeof(err));
        free(copy);
    }
    free(buf);
    sf_ir_free(ir);
}

static void test_corruptions(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    size_t len;
    char *buf = encode_ok(ir, &len);
    static const unsigned char repl[] = {0x00, 0x01, 0x7f, 0x80, 0xa0, 0xc0, 0xc1, 0xc3,
                                         0xcc, 0xd9, 0xdc, 0xdd, 0xde, 0xdf, 0xff};
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    int loaded = 0, failed = 0;
    char *copy = malloc(len);
    for (size_t off = 0; off < len; off++) {
        for (size_t r = 0; r < sizeof(repl) + 2; r++) {
            memcpy(copy, buf, len);
            unsigned char c = (unsigned char)buf[off];
            copy[off] = (char)(r < sizeof(repl) ? repl[r] : r == sizeof(repl) ? c ^ 0x01 : c ^ 0x80);
            char err[512] = "";
            sf_ir *back = sf_ir_decode(copy, len, err, sizeof(err));
            if (back) {
                loaded++;
                sf_ir_dump(back, null);
                sf_ir_dot(back, null);
                char *out;
                size_t outlen;
                /* whatever loads re-encodes */
                assert_int_equal(sf_ir_encode(back, &out, &outlen, err, sizeof(err)), 0);
                free(out);
                sf_ir_free(back);
            } else {
                failed++;
                assert_true(err[0] != '\0');
            }
        }
    }
    assert_true(loaded > 0 && failed > 0);
    free(copy);
    fclose(null);
    free(buf);
    sf_ir_free(ir);
}

/* ---- tests: specific errors ------------------------------------------------ */

static void test_wrong_magic(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    size_t len;
    char *buf = encode_ok(ir, &len);
    char *p = memmem(buf, len, "SFIR", 4);
    assert_non_null(p);
    p[3] = 'X';
    char err[512];
    decode_fails(buf, len, err, sizeof(err));
    assert_contains(err, "not a StateFlow IR file");
    /* some other file entirely */
    static const char py[] = "class Item:\n    pass\n";
    decode_fails(py, sizeof(py) - 1, err, sizeof(err));
    assert_contains(err, "not a StateFlow IR file");
    decode_fails("", 0, err, sizeof(err));
    assert_contains(err, "empty");
    free(buf);
    sf_ir_free(ir);
}

static void test_wrong_version(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    size_t len;
    char *buf = encode_ok(ir, &len);
    char *p = memmem(buf, len, "\xa7version\x01", 9);
    assert_non_null(p);
    p[8] = 7;
    char err[512];
    decode_fails(buf, len, err, sizeof(err));
    assert_string_equal(err, "IR format version 7, this build reads version 1: recompile with this sfc");

    /* through a file, the message starts with its name */
    char dir[] = "/tmp/sf_test_ir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/app.sfir", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    assert_null(sf_ir_load_file(path, err, sizeof(err)));
    char want[512];
    snprintf(want, sizeof(want),
             "%s: IR format version 7, this build reads version 1: recompile with this sfc", path);
    assert_string_equal(err, want);
    unlink(path);
    rmdir(dir);

    /* a future version with a completely different layout still gets the
     * version message */
    static const char v2[] = "\x83\xa5magic\xa4SFIR\xa7version\x02\xa3new\x90";
    decode_fails(v2, sizeof(v2) - 1, err, sizeof(err));
    assert_contains(err, "IR format version 2, this build reads version 1");
    free(buf);
    sf_ir_free(ir);
}

static void mut_target(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *m = method_obj(d, 1, 1);
    set_int(key(at(key(at(key(m, "blocks"), 1), "exits"), 1), "target"), 9);
}

static void test_exit_target_out_of_range(void **state)
{
    (void)state;
    expect_mutation_error(mut_target,
                          "entities[1].methods[1].blocks[1].exits[1].target: 9 out of range (4 blocks)",
                          0);
    /* the encoder refuses to write it in the first place */
    sf_ir *ir = build_ir();
    ir->entities[1].methods[1].blocks[2].exits[1].target = 4;
    char err[512], *out = NULL;
    size_t outlen;
    assert_int_equal(sf_ir_encode(ir, &out, &outlen, err, sizeof(err)), -1);
    assert_null(out);
    assert_string_equal(err, "invalid IR: entities[1].methods[1].blocks[2].exits[1].target: 4 out of "
                             "range (4 blocks)");
    sf_ir_free(ir);
}

static void mut_unknown_entity_type(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *attr = at(key(at(key(d->root, "entities"), 1), "attrs"), 2);
    /* ["optional", ["entity", "Item"]] -> ["optional", ["entity", "Ghost"]] */
    set_str(at(at(key(attr, "type"), 1), 1), "Ghost");
}

static void test_unknown_entity_in_type(void **state)
{
    (void)state;
    expect_mutation_error(mut_unknown_entity_type,
                          "entities[1].attrs[2].type[1][1]: unknown entity 'Ghost'", 0);
}

static void mut_unknown_call_method(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(at(key(method_obj(d, 1, 1), "calls"), 1), "method"), "restock");
}

static void mut_unknown_exit_entity(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *m = method_obj(d, 1, 1);
    set_str(key(at(key(at(key(m, "blocks"), 0), "exits"), 0), "entity"), "Shop");
}

static void mut_edge_entity(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(at(key(d->root, "edges"), 1), "to_entity"), "Shop");
}

static void mut_missing_line(doc *d, msgpack_zone *z)
{
    (void)z;
    del_key(method_obj(d, 0, 1), "line");
}

static void mut_name_type(doc *d, msgpack_zone *z)
{
    (void)z;
    set_int(key(at(key(d->root, "entities"), 0), "name"), 3);
}

static void mut_block_id(doc *d, msgpack_zone *z)
{
    (void)z;
    set_int(key(at(key(method_obj(d, 1, 1), "blocks"), 2), "id"), 3);
}

static void mut_bad_ident(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(method_obj(d, 0, 1), "name"), "update stock");
}

static void mut_nul_in_name(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *o = key(at(key(d->root, "entities"), 0), "name");
    o->via.str.ptr = "It\0em";
    o->via.str.size = 5;
}

static void mut_dup_entity(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(at(key(d->root, "entities"), 1), "name"), "Item");
}

static void mut_unknown_flag(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(at(key(method_obj(d, 1, 1), "flags"), 0), "speedy");
}

static void mut_split_without_blocks(doc *d, msgpack_zone *z)
{
    (void)z;
    key(method_obj(d, 1, 1), "blocks")->via.array.size = 0;
}

static void mut_key_not_attr(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(at(key(at(key(d->root, "entities"), 0), "key"), 0), "sku");
}

static void mut_bad_type_kind(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(at(key(at(key(method_obj(d, 0, 1), "params"), 0), "type"), 0), "decimal");
}

static void mut_type_arity(doc *d, msgpack_zone *z)
{
    (void)z;
    /* Dict[str, List[...]] loses its value type */
    key(at(key(at(key(d->root, "entities"), 0), "attrs"), 3), "type")->via.array.size = 2;
}

/* replace a param's type by a list nested `depth` levels deep */
static void nest_type(doc *d, msgpack_zone *z, int depth)
{
    msgpack_object *t = key(at(key(method_obj(d, 0, 1), "params"), 0), "type");
    for (int i = 1; i < depth; i++) {
        msgpack_object *args = msgpack_zone_malloc(z, 2 * sizeof(msgpack_object));
        set_str(&args[0], "list");
        t->type = MSGPACK_OBJECT_ARRAY;
        t->via.array.size = 2;
        t->via.array.ptr = args;
        t = &args[1];
    }
    msgpack_object *leaf = msgpack_zone_malloc(z, sizeof(msgpack_object));
    set_str(leaf, "int");
    t->type = MSGPACK_OBJECT_ARRAY;
    t->via.array.size = 1;
    t->via.array.ptr = leaf;
}

static void mut_deep_type(doc *d, msgpack_zone *z) { nest_type(d, z, SF_IR_MAX_TYPE_DEPTH + 1); }

static void mut_dup_key(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *e = at(key(d->root, "entities"), 0);
    /* rename "line" to "name": now "name" appears twice */
    for (uint32_t i = 0; i < e->via.map.size; i++)
        if (e->via.map.ptr[i].key.via.str.size == 4 &&
            memcmp(e->via.map.ptr[i].key.via.str.ptr, "line", 4) == 0)
            set_str(&e->via.map.ptr[i].key, "name");
}

static void mut_call_line_negative(doc *d, msgpack_zone *z)
{
    (void)z;
    set_int(key(at(key(method_obj(d, 1, 1), "calls"), 0), "line"), -5);
}

static void mut_dup_function(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(at(key(method_obj(d, 1, 1), "blocks"), 3), "function"), "_sf_User_buy_item_0");
}

static void mut_exit_kind(doc *d, msgpack_zone *z)
{
    (void)z;
    set_str(key(at(key(at(key(method_obj(d, 1, 1), "blocks"), 3), "exits"), 0), "kind"), "yield");
}

static void mut_non_string_key(doc *d, msgpack_zone *z)
{
    (void)z;
    msgpack_object *m = method_obj(d, 0, 0);
    set_int(&m->via.map.ptr[0].key, 1);
}

static void test_field_errors(void **state)
{
    (void)state;
    expect_mutation_error(mut_unknown_call_method,
                          "entities[1].methods[1].calls[1].method: entity Item has no method 'restock'", 0);
    expect_mutation_error(mut_unknown_exit_entity,
                          "entities[1].methods[1].blocks[0].exits[0].entity: unknown entity 'Shop'", 0);
    expect_mutation_error(mut_edge_entity, "edges[1].to_entity: unknown entity 'Shop'", 0);
    expect_mutation_error(mut_missing_line, "entities[0].methods[1]: missing field 'line'", 0);
    expect_mutation_error(mut_name_type, "entities[0].name: expected a string, got an integer", 0);
    expect_mutation_error(mut_block_id,
                          "entities[1].methods[1].blocks[2].id: block id 3, expected 2 (blocks are "
                          "numbered 0..n-1 in order)", 0);
    expect_mutation_error(mut_bad_ident,
                          "entities[0].methods[1].name: 'update stock' is not a valid identifier", 0);
    expect_mutation_error(mut_nul_in_name, "entities[0].name: string contains a NUL byte at offset 2", 0);
    expect_mutation_error(mut_dup_entity, "entities: duplicate entity 'Item'", 0);
    expect_mutation_error(mut_unknown_flag, "entities[1].methods[1].flags[0]: unknown method flag 'speedy'", 0);
    expect_mutation_error(mut_split_without_blocks,
                          "entities[1].methods[1].blocks: a split method needs at least one block", 0);
    expect_mutation_error(mut_key_not_attr, "entities[0].key[0]: 'sku' is not an attribute of Item", 0);
    expect_mutation_error(mut_bad_type_kind,
                          "entities[0].methods[1].params[0].type[0]: unknown type kind 'decimal'", 0);
    expect_mutation_error(mut_type_arity, "entities[0].attrs[3].type: type 'dict' takes 2 arguments, got 1", 0);
    expect_mutation_error(mut_deep_type, "type nested deeper than 16 levels", 1);
    expect_mutation_error(mut_dup_key, "entities[0]: key 'name' appears twice", 0);
    expect_mutation_error(mut_call_line_negative,
                          "entities[1].methods[1].calls[0].line: -5 out of range", 1);
    expect_mutation_error(mut_dup_function, "duplicate block function '_sf_User_buy_item_0'", 1);
    expect_mutation_error(mut_exit_kind, "entities[1].methods[1].blocks[3].exits[0].kind: unknown exit kind", 1);
    expect_mutation_error(mut_non_string_key, "entities[0].methods[0]: map key 0 is an integer", 1);
}

static void mut_max_type(doc *d, msgpack_zone *z) { nest_type(d, z, SF_IR_MAX_TYPE_DEPTH); }

static void mut_extra_keys(doc *d, msgpack_zone *z)
{
    /* a new top-level key and a new key in an exit */
    msgpack_object *maps[2] = {
        d->root,
        at(key(at(key(method_obj(d, 1, 1), "blocks"), 0), "exits"), 0),
    };
    for (int i = 0; i < 2; i++) {
        msgpack_object *m = maps[i];
        msgpack_object_kv *kv = msgpack_zone_malloc(z, (m->via.map.size + 1) * sizeof(*kv));
        memcpy(kv, m->via.map.ptr, m->via.map.size * sizeof(*kv));
        set_str(&kv[m->via.map.size].key, "future_field");
        kv[m->via.map.size].val.type = MSGPACK_OBJECT_NIL;
        m->via.map.ptr = kv;
        m->via.map.size++;
    }
}

static void test_accepted_variants(void **state)
{
    (void)state;
    mutator ok[] = {mut_max_type, mut_extra_keys};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        sf_ir *ir = build_ir();
        size_t len, len2;
        char *buf = encode_ok(ir, &len);
        doc d;
        doc_open(&d, buf, len);
        msgpack_zone *z = msgpack_zone_new(4096);
        ok[i](&d, z);
        char *buf2 = doc_pack(&d, &len2);
        char err[512];
        sf_ir *back = sf_ir_decode(buf2, len2, err, sizeof(err));
        if (!back)
            fail_msg("variant %zu: %s", i, err);
        if (ok[i] == mut_extra_keys) {
            /* unknown keys are dropped: re-encoding gives the original */
            size_t len3;
            char *buf3 = encode_ok(back, &len3);
            assert_int_equal(len3, len);
            assert_memory_equal(buf3, buf, len);
            free(buf3);
        } else {
            char tb[512];
            sf_type_format(back->entities[0].methods[1].params[0].type, tb, sizeof(tb));
            assert_string_equal(tb, "List[List[List[List[List[List[List[List[List[List[List[List[List["
                                    "List[List[int]]]]]]]]]]]]]]]");
        }
        sf_ir_free(back);
        free(buf2);
        msgpack_zone_free(z);
        doc_close(&d);
        free(buf);
        sf_ir_free(ir);
    }
}

static void test_raw_malformed(void **state)
{
    (void)state;
    char err[512];
    /* a huge declared array must not allocate */
    static const char huge[] = "\x88\xa5magic\xa4SFIR\xa7version\x01\xa6module\xa3""app"
                               "\xa8""entities\xdd\xff\xff\xff\xff";
    decode_fails(huge, sizeof(huge) - 1, err, sizeof(err));
    assert_contains(err, "declares 4294967295 elements");
    static const char hugemap[] = "\xdf\xff\xff\xff\xff\xa5magic\xa4SFIR\xa7version\x01";
    decode_fails(hugemap, sizeof(hugemap) - 1, err, sizeof(err));
    assert_contains(err, "declares");
    static const char hugestr[] = "\x88\xa5magic\xa4SFIR\xa7version\x01\xa6module\xdb\xff\xff\xff\xff";
    decode_fails(hugestr, sizeof(hugestr) - 1, err, sizeof(err));
    assert_contains(err, "truncated");

    /* deep nesting */
    char deep[256];
    size_t n = 0;
    memcpy(deep, "\x82\xa5magic\xa4SFIR\xa7version\x01", 21);
    n = 21;
    /* the document claimed 2 pairs: add a third-level mess instead */
    deep[0] = (char)0x83;
    memcpy(deep + n, "\xa1x", 2);
    n += 2;
    for (int i = 0; i < 100; i++)
        deep[n++] = (char)0x91;
    deep[n++] = (char)0xc0;
    decode_fails(deep, n, err, sizeof(err));
    assert_contains(err, "nested deeper");
    /* the boundary: 32 containers (the root map, 30 arrays, an empty
     * array) is valid msgpack and reaches the schema check; 33 is not */
    for (int k = 30; k <= 31; k++) {
        n = 23;
        for (int i = 0; i < k; i++)
            deep[n++] = (char)0x91;
        deep[n++] = (char)0x90;
        decode_fails(deep, n, err, sizeof(err));
        assert_contains(err, k == 30 ? "missing field 'module'" : "nested deeper than 32 levels");
    }

    /* trailing bytes */
    sf_ir *ir = build_ir();
    size_t len;
    char *buf = encode_ok(ir, &len);
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = (char)0xc0;
    decode_fails(longer, len + 1, err, sizeof(err));
    assert_string_equal(err, "corrupt file: 1 trailing bytes after the document");
    /* two documents back to back */
    char *twice = malloc(2 * len);
    memcpy(twice, buf, len);
    memcpy(twice + len, buf, len);
    decode_fails(twice, 2 * len, err, sizeof(err));
    assert_contains(err, "trailing bytes");
    /* the reserved byte 0xc1 */
    char *c1 = malloc(len);
    memcpy(c1, buf, len);
    char *mod = memmem(c1, len, "\xa6module", 7);
    assert_non_null(mod);
    mod[7] = (char)0xc1;
    decode_fails(c1, len, err, sizeof(err));
    assert_contains(err, "invalid msgpack byte 0xc1");
    /* larger than the limit */
    assert_null(sf_ir_decode(buf, (size_t)SF_IR_MAX_BYTES + 1, err, sizeof(err)));
    assert_contains(err, "larger than the limit");
    free(c1);
    free(twice);
    free(longer);
    free(buf);
    sf_ir_free(ir);
}

static void test_encode_rejects_bad_ir(void **state)
{
    (void)state;
    char err[512], *out;
    size_t len;
    sf_ir *ir = build_ir();
    ir->entities[0].attrs[1].type = ent(ir, "Ghost");
    assert_int_equal(sf_ir_encode(ir, &out, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid IR: entities[0].attrs[1].type[1]: unknown entity 'Ghost'");
    sf_ir_free(ir);

    ir = build_ir();
    ir->entities[0].methods[1].nparams = -1;
    assert_int_equal(sf_ir_encode(ir, &out, &len, err, sizeof(err)), -1);
    assert_contains(err, "params: invalid count -1");
    sf_ir_free(ir);

    ir = build_ir();
    ir->module = NULL;
    assert_int_equal(sf_ir_encode(ir, &out, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid IR: module: '' is not a valid module name");
    sf_ir_free(ir);

    /* a cyclic type does not hang the encoder */
    ir = build_ir();
    sf_type *cyc = sf_arena_alloc(&ir->arena, sizeof(*cyc));
    const sf_type **args = sf_arena_alloc(&ir->arena, sizeof(*args));
    cyc->kind = SF_TYPE_LIST;
    cyc->args = args;
    cyc->nargs = 1;
    args[0] = cyc;
    ir->entities[0].attrs[0].type = cyc;
    assert_int_equal(sf_ir_encode(ir, &out, &len, err, sizeof(err)), -1);
    assert_contains(err, "nested deeper");
    char tb[64];
    sf_type_format(cyc, tb, sizeof(tb)); /* bounded, no hang */
    assert_true(strlen(tb) == sizeof(tb) - 1);
    sf_ir_free(ir);

    /* NULL strings are written as "", NULL types as Any */
    ir = build_ir();
    ir->entities[0].methods[1].returns = NULL;
    ir->entities[1].methods[1].blocks[0].exits[0].bind = NULL;
    ir->filename = NULL;
    out = encode_ok(ir, &len);
    sf_ir *back = sf_ir_decode(out, len, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(back->entities[0].methods[1].returns->kind, SF_TYPE_ANY);
    assert_string_equal(back->entities[1].methods[1].blocks[0].exits[0].bind, "");
    assert_string_equal(back->filename, "");
    sf_ir_free(back);
    free(out);
    sf_ir_free(ir);
}

/* ---- tests: files ------------------------------------------------------------ */

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_test_ir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/app.sfir", dir);
    sf_ir *ir = build_ir();
    assert_int_equal(sf_ir_write_file(ir, path, err, sizeof(err)), 0);
    /* overwrite in place (atomic rename over the old file) */
    assert_int_equal(sf_ir_write_file(ir, path, err, sizeof(err)), 0);
    sf_ir *back = sf_ir_load_file(path, err, sizeof(err));
    if (!back)
        fail_msg("load: %s", err);
    assert_ir_equal(ir, back);
    sf_ir_free(back);
    /* no temporary files left behind */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);

    /* errors */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope.sfir", dir);
    assert_null(sf_ir_load_file(missing, err, sizeof(err)));
    assert_contains(err, "nope.sfir: No such file or directory");
    assert_null(sf_ir_load_file(dir, err, sizeof(err)));
    assert_contains(err, "not a regular file");
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/nodir/app.sfir", dir);
    assert_int_equal(sf_ir_write_file(ir, bad, err, sizeof(err)), -1);
    assert_contains(err, "cannot create a temporary file");
    /* a truncated file */
    assert_int_equal(truncate(path, 100), 0);
    assert_null(sf_ir_load_file(path, err, sizeof(err)));
    assert_contains(err, "app.sfir: truncated");

    unlink(path);
    rmdir(dir);
    sf_ir_free(ir);
}

/* ---- tests: dump and dot -------------------------------------------------------- */

static char *capture(void (*fn)(const sf_ir *, FILE *), const sf_ir *ir)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    fn(ir, f);
    fclose(f);
    return text;
}

static void test_dump(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    char *t = capture(sf_ir_dump, ir);
    assert_contains(t, "module app (examples/app.py)");
    assert_contains(t, "\nentity Item  (line 5)\n  key: item_id\n");
    assert_contains(t, "    tags: Dict[str, List[Tuple[int, str]]]  (line 10)\n");
    assert_contains(t, "    favourite: Optional[Item]  (line 26)\n");
    assert_contains(t, "    history: Set[Tuple]  (line 27)\n");
    assert_contains(t, "    __init__(item_id: str, price: int) -> None  [init]  (line 6)\n");
    assert_contains(t, "    _sf_get_price() -> int  [read-only, accessor, internal]\n");
    assert_contains(t, "    buy_item(amount: int, item: Item, note: Optional[str] = ...) -> bool  [split]  (line 31)\n"
                       "      reads: balance\n"
                       "      writes: balance\n"
                       "      calls:\n"
                       "        User.buy_item -> Item._sf_get_price  (line 32)\n"
                       "        User.buy_item -> Item.update_stock  (line 35)\n"
                       "      blocks:\n"
                       "        b0 _sf_User_buy_item_0 (line 32)  live-in: amount, item\n"
                       "          call Item._sf_get_price -> b1 (bind _t0)\n"
                       "        b1 _sf_User_buy_item_1 (line 32)  live-in: amount, item, _t0\n"
                       "          return\n"
                       "          call Item.update_stock -> b2 (bind _t1)\n"
                       "        b2 _sf_User_buy_item_2 (line 35)  live-in: amount, _t0, _t1\n"
                       "          return\n"
                       "          jump -> b3\n"
                       "        b3 _sf_User_buy_item_3 (line 37)  live-in: (none)\n"
                       "          return\n");
    assert_contains(t, "      writes: item_id, price, stock, tags\n");
    assert_contains(t, "dataflow edges:\n  User.buy_item -> Item._sf_get_price\n"
                       "  User.buy_item -> Item.update_stock\n");
    free(t);
    sf_ir_free(ir);
}

/* Minimal syntax check of dot output: strings closed, braces and brackets
 * balanced outside strings, statements end in ';' or a brace. */
static void assert_valid_dot(const char *t)
{
    int depth = 0, brackets = 0, in_str = 0;
    assert_true(strncmp(t, "digraph ", 8) == 0);
    for (const char *p = t; *p; p++) {
        if (in_str) {
            if (*p == '\\') {
                assert_true(p[1] != '\0');
                p++;
            } else if (*p == '"')
                in_str = 0;
            else
                assert_true(*p != '\n');
            continue;
        }
        switch (*p) {
        case '"': in_str = 1; break;
        case '{': depth++; break;
        case '}': depth--; assert_true(depth >= 0); break;
        case '[': brackets++; break;
        case ']': brackets--; assert_true(brackets >= 0); break;
        case '\n': {
            char prev = p > t ? p[-1] : '\n';
            assert_true(prev == ';' || prev == '{' || prev == '}');
            break;
        }
        }
    }
    assert_false(in_str);
    assert_int_equal(depth, 0);
    assert_int_equal(brackets, 0);
}

static void test_dot(void **state)
{
    (void)state;
    sf_ir *ir = build_ir();
    char *t = capture(sf_ir_dot, ir);
    assert_valid_dot(t);
    assert_contains(t, "digraph \"app\" {\n");
    assert_contains(t, "  \"Item\" [label=\"Item\\n__init__\\lupdate_stock\\l(+1 internal)\\l\"");
    assert_contains(t, "  \"User\" -> \"Item\" [label=\"buy_item -> update_stock\"];\n");
    assert_contains(t, "  subgraph \"cluster_User.buy_item\" {\n    label=\"User.buy_item\";\n");
    assert_contains(t, "    \"User.buy_item/b0\" -> \"User.buy_item/b1\" [label=\"call Item._sf_get_price\\n(bind _t0)\"];\n");
    assert_contains(t, "    \"User.buy_item/b2\" -> \"User.buy_item/b3\" [style=dashed];\n");
    assert_contains(t, "    \"User.buy_item/b3\" -> \"User.buy_item/return\";\n");
    assert_contains(t, "    \"User.buy_item/b1\" [label=\"b1: _sf_User_buy_item_1\\nlive-in: amount, item, _t0\"];\n");
    free(t);

    /* hand-built names with quotes and backslashes stay inside their strings */
    ir->module = "we\"ird\\mod\nule";
    ir->entities[0].methods[0].name = "a\"b";
    t = capture(sf_ir_dot, ir);
    assert_valid_dot(t);
    assert_contains(t, "digraph \"we\\\"ird\\\\module\" {");
    free(t);
    t = capture(sf_ir_dump, ir); /* must not crash either */
    free(t);
    sf_ir_free(ir);
}

/* ---- seed corpus -------------------------------------------------------------------- */

static int write_corpus(const char *dir)
{
    char path[1024], err[512];
    mkdir(dir, 0755);
    sf_ir *ir = build_ir();
    snprintf(path, sizeof(path), "%s/app.sfir", dir);
    if (sf_ir_write_file(ir, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sf_ir_free(ir);
    ir = sf_ir_new();
    ir->module = "empty";
    snprintf(path, sizeof(path), "%s/empty.sfir", dir);
    if (sf_ir_write_file(ir, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sf_ir_free(ir);
    /* one entity, one plain method */
    ir = build_ir();
    ir->nentities = 1;
    ir->nedges = 0;
    ir->entities[0].nmethods = 2;
    snprintf(path, sizeof(path), "%s/item.sfir", dir);
    if (sf_ir_write_file(ir, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sf_ir_free(ir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_format),
        cmocka_unit_test(test_type_equal_entity),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_ir),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_exit_target_out_of_range),
        cmocka_unit_test(test_unknown_entity_in_type),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_raw_malformed),
        cmocka_unit_test(test_encode_rejects_bad_ir),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
