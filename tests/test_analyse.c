/* test_analyse.c: the analysis stage (compiler/analyse.c) on parsed sources:
 * the shop example in full (entities, attributes, keys, signatures, flags,
 * reads/writes, remote calls, accessors, edges); attribute type inference and
 * annotation forms; static types of reference expressions in every form the
 * analysis understands; read-only/split flags (direct and transitive); the
 * lookup API; robustness (deep annotations, long recursion cycles); and every
 * file in tests/compile_errors/, whose `# expect: LINE:COL: TEXT` header lines
 * must match the reported errors exactly (same count, same positions). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyse.h"
#include "split.h"
#include "ast.h"
#include "diag.h"
#include "parse.h"
#include "stateflow/sf_arena.h"
#include "stateflow/sf_buf.h"
#include "stateflow/sf_ir.h"

typedef struct fixture {
    sf_arena a;
    sf_diag d;
    sf_module m;
    sf_ir *ir;
    sf_program p;
    const char *src;
    int errors;
} fixture;

static int group_setup(void **state)
{
    char err[512];
    if (sf_python_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    sf_python_fini();
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    sf_arena_init(&f->a);
    sf_diag_init(&f->d, "t.py");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_arena_free(&f->a);
    sf_diag_free(&f->d);
    if (f->ir)
        sf_ir_free(f->ir);
    free(f);
    return 0;
}

/* Parse (must succeed) and analyse src; returns the number of errors. */
static int run(fixture *f, const char *src)
{
    f->src = src;
    int rc = sf_parse(&f->a, "t.py", src, strlen(src), &f->m, &f->d);
    if (rc != 0)
        sf_diag_print(&f->d, stderr);
    assert_int_equal(rc, 0);
    f->ir = sf_ir_new();
    memset(&f->p, 0, sizeof(f->p));
    f->p.arena = &f->a;
    f->p.mod = &f->m;
    f->p.ir = f->ir;
    f->errors = sf_analyse(&f->p, &f->d);
    return f->errors;
}

static void run_ok(fixture *f, const char *src)
{
    int n = run(f, src);
    if (n != 0)
        sf_diag_print(&f->d, stderr);
    assert_int_equal(n, 0);
}

static const sf_ir_entity *ent(fixture *f, const char *name)
{
    const sf_ir_entity *e = sf_ir_find_entity(f->ir, name);
    assert_non_null(e);
    return e;
}

static const sf_ir_method *meth(fixture *f, const char *e, const char *m)
{
    const sf_ir_method *x = sf_ir_find_method(ent(f, e), m);
    if (!x)
        fprintf(stderr, "no method %s.%s\n", e, m);
    assert_non_null(x);
    return x;
}

static char *fmt(const sf_type *t)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    return sf_type_format(t, buf[k], sizeof(buf[k]));
}

static void check_attr(fixture *f, const char *e, const char *a, const char *type)
{
    const sf_ir_attr *x = sf_ir_find_attr(ent(f, e), a);
    if (!x)
        fprintf(stderr, "no attribute %s.%s\n", e, a);
    assert_non_null(x);
    assert_string_equal(fmt(x->type), type);
}

/* names must equal the comma-separated list want ("" for none) */
static void check_names(const char **names, int n, const char *want)
{
    sf_buf b;
    sf_buf_init(&b);
    for (int i = 0; i < n; i++)
        sf_buf_printf(&b, "%s%s", i ? "," : "", names[i]);
    assert_string_equal(b.data ? b.data : "", want);
    sf_buf_free(&b);
}

/* "Entity.method@line,..." of a method's remote operations */
static void check_calls(const sf_ir_method *m, const char *want)
{
    sf_buf b;
    sf_buf_init(&b);
    for (int i = 0; i < m->ncalls; i++)
        sf_buf_printf(&b, "%s%s.%s@%d", i ? "," : "", m->calls[i].entity, m->calls[i].method,
                      m->calls[i].line);
    assert_string_equal(b.data ? b.data : "", want);
    sf_buf_free(&b);
}

/* ---- finding expressions by position ------------------------------------ */

typedef struct finder {
    int line, col;
    sf_expr_kind kind;
    sf_expr *found;
} finder;

static void fx(finder *f, sf_expr *e);
static void fsl(finder *f, sf_stmt_list *l);

static void fxl(finder *f, sf_expr_list *l)
{
    for (int i = 0; i < l->n; i++)
        fx(f, l->v[i]);
}

static void fargs(finder *f, sf_arguments *a)
{
    if (!a)
        return;
    fxl(f, &a->defaults);
    for (int i = 0; i < a->nkwonly; i++)
        if (a->kw_defaults && a->kw_defaults[i])
            fx(f, a->kw_defaults[i]);
}

static void fx(finder *f, sf_expr *e)
{
    if (!e || f->found)
        return;
    if (e->pos.line == f->line && e->pos.col == f->col && e->kind == f->kind) {
        f->found = e;
        return;
    }
    switch (e->kind) {
    case SF_EX_NAME: case SF_EX_CONST: break;
    case SF_EX_ATTR: fx(f, e->u.attr.value); break;
    case SF_EX_CALL:
        fx(f, e->u.call.func);
        fxl(f, &e->u.call.args);
        for (int i = 0; i < e->u.call.nkw; i++)
            fx(f, e->u.call.kw[i].value);
        break;
    case SF_EX_BINOP: fx(f, e->u.binop.left); fx(f, e->u.binop.right); break;
    case SF_EX_UNARYOP: fx(f, e->u.unaryop.operand); break;
    case SF_EX_BOOLOP: fxl(f, &e->u.boolop.values); break;
    case SF_EX_COMPARE: fx(f, e->u.compare.left); fxl(f, &e->u.compare.comparators); break;
    case SF_EX_IFEXP: fx(f, e->u.ifexp.test); fx(f, e->u.ifexp.body); fx(f, e->u.ifexp.orelse); break;
    case SF_EX_LIST: case SF_EX_TUPLE: case SF_EX_SET: fxl(f, &e->u.seq.elts); break;
    case SF_EX_DICT:
        for (int i = 0; i < e->u.dict.n; i++) {
            fx(f, e->u.dict.keys[i]);
            fx(f, e->u.dict.values[i]);
        }
        break;
    case SF_EX_SUBSCRIPT: fx(f, e->u.subscript.value); fx(f, e->u.subscript.slice); break;
    case SF_EX_SLICE: fx(f, e->u.slice.lower); fx(f, e->u.slice.upper); fx(f, e->u.slice.step); break;
    case SF_EX_LAMBDA: fargs(f, e->u.lambda.args); fx(f, e->u.lambda.body); break;
    case SF_EX_LISTCOMP: case SF_EX_SETCOMP: case SF_EX_DICTCOMP: case SF_EX_GENEXP:
        for (int i = 0; i < e->u.comp.ngens; i++) {
            fx(f, e->u.comp.gens[i].target);
            fx(f, e->u.comp.gens[i].iter);
            fxl(f, &e->u.comp.gens[i].ifs);
        }
        fx(f, e->u.comp.elt);
        fx(f, e->u.comp.value);
        break;
    case SF_EX_JOINEDSTR: fxl(f, &e->u.joinedstr.values); break;
    case SF_EX_FORMATTED: fx(f, e->u.formatted.value); fx(f, e->u.formatted.format_spec); break;
    case SF_EX_STARRED: case SF_EX_AWAIT: case SF_EX_YIELD: case SF_EX_YIELDFROM:
        fx(f, e->u.starred.value);
        break;
    case SF_EX_NAMEDEXPR: fx(f, e->u.namedexpr.target); fx(f, e->u.namedexpr.value); break;
    }
}

static void fs(finder *f, sf_stmt *s)
{
    if (f->found)
        return;
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF: case SF_ST_ASYNCFUNCTIONDEF:
        fargs(f, s->u.func.args);
        fsl(f, &s->u.func.body);
        break;
    case SF_ST_CLASSDEF: fsl(f, &s->u.cls.body); break;
    case SF_ST_RETURN: fx(f, s->u.ret.value); break;
    case SF_ST_DELETE: fxl(f, &s->u.del.targets); break;
    case SF_ST_ASSIGN: fxl(f, &s->u.assign.targets); fx(f, s->u.assign.value); break;
    case SF_ST_AUGASSIGN: fx(f, s->u.augassign.target); fx(f, s->u.augassign.value); break;
    case SF_ST_ANNASSIGN: fx(f, s->u.annassign.target); fx(f, s->u.annassign.value); break;
    case SF_ST_FOR: case SF_ST_ASYNCFOR:
        fx(f, s->u.for_.target);
        fx(f, s->u.for_.iter);
        fsl(f, &s->u.for_.body);
        fsl(f, &s->u.for_.orelse);
        break;
    case SF_ST_WHILE: fx(f, s->u.while_.test); fsl(f, &s->u.while_.body); fsl(f, &s->u.while_.orelse); break;
    case SF_ST_IF: fx(f, s->u.if_.test); fsl(f, &s->u.if_.body); fsl(f, &s->u.if_.orelse); break;
    case SF_ST_WITH: case SF_ST_ASYNCWITH:
        for (int i = 0; i < s->u.with.nitems; i++) {
            fx(f, s->u.with.items[i].context);
            fx(f, s->u.with.items[i].vars);
        }
        fsl(f, &s->u.with.body);
        break;
    case SF_ST_RAISE: fx(f, s->u.raise.exc); fx(f, s->u.raise.cause); break;
    case SF_ST_TRY: case SF_ST_TRYSTAR:
        fsl(f, &s->u.try_.body);
        for (int i = 0; i < s->u.try_.nhandlers; i++)
            fsl(f, &s->u.try_.handlers[i].body);
        fsl(f, &s->u.try_.orelse);
        fsl(f, &s->u.try_.finalbody);
        break;
    case SF_ST_ASSERT: fx(f, s->u.assert_.test); fx(f, s->u.assert_.msg); break;
    case SF_ST_EXPR: fx(f, s->u.expr.value); break;
    default: break;
    }
}

static void fsl(finder *f, sf_stmt_list *l)
{
    for (int i = 0; i < l->n; i++)
        fs(f, l->v[i]);
}

/* The expression of the given kind that starts at token `tok` inside the
 * first source line containing `snippet`. */
static sf_expr *expr_at(fixture *f, const char *snippet, const char *tok, sf_expr_kind kind)
{
    const char *hit = strstr(f->src, snippet);
    if (!hit)
        fprintf(stderr, "snippet not found: %s\n", snippet);
    assert_non_null(hit);
    const char *t = strstr(hit, tok);
    assert_non_null(t);
    int line = 1;
    const char *bol = f->src;
    for (const char *c = f->src; c < t; c++)
        if (*c == '\n') {
            line++;
            bol = c + 1;
        }
    finder fd = {line, (int)(t - bol) + 1, kind, NULL};
    fsl(&fd, &f->m.body);
    if (!fd.found)
        fprintf(stderr, "no expression at %d:%d for %s in %s\n", fd.line, fd.col, tok, snippet);
    assert_non_null(fd.found);
    return fd.found;
}

static const char *ref_at(fixture *f, const char *snippet, const char *tok)
{
    return sf_expr_ref_entity(expr_at(f, snippet, tok, SF_EX_NAME));
}

static int line_of(fixture *f, const char *snippet)
{
    const char *hit = strstr(f->src, snippet);
    assert_non_null(hit);
    int line = 1;
    for (const char *c = f->src; c < hit; c++)
        line += *c == '\n';
    return line;
}

/* ---- the shop example --------------------------------------------------- */

static const char SHOP[] =
    "from typing import List\n"
    "from stateflow import entity\n"
    "\n"
    "@entity\n"
    "class Item:\n"
    "    def __init__(self, item_id: str, price: int):\n"
    "        self.item_id: str = item_id\n"
    "        self.price: int = price\n"
    "        self.stock: int = 0\n"
    "\n"
    "    def __key__(self):\n"
    "        return self.item_id\n"
    "\n"
    "    def update_stock(self, amount: int) -> bool:\n"
    "        if self.stock + amount < 0:\n"
    "            return False\n"
    "        self.stock += amount\n"
    "        return True\n"
    "\n"
    "@entity\n"
    "class User:\n"
    "    def __init__(self, username: str):\n"
    "        self.username: str = username\n"
    "        self.balance: int = 0\n"
    "\n"
    "    def __key__(self):\n"
    "        return self.username\n"
    "\n"
    "    def buy_item(self, amount: int, item: Item) -> bool:\n"
    "        total = amount * item.price          # remote attribute read\n"
    "        if self.balance < total:\n"
    "            return False\n"
    "        if not item.update_stock(-amount):   # remote call in a condition\n"
    "            return False\n"
    "        self.balance -= total\n"
    "        return True\n";

static void test_shop(void **state)
{
    fixture *f = *state;
    run_ok(f, SHOP);
    assert_int_equal(f->ir->nentities, 2);
    assert_string_equal(f->ir->entities[0].name, "Item");
    assert_string_equal(f->ir->entities[1].name, "User");
    assert_int_equal(f->ir->entities[0].line, 5);
    assert_int_equal(f->ir->entities[1].line, 21);

    const sf_ir_entity *item = ent(f, "Item");
    assert_int_equal(item->nattrs, 3);
    check_attr(f, "Item", "item_id", "str");
    check_attr(f, "Item", "price", "int");
    check_attr(f, "Item", "stock", "int");
    assert_string_equal(item->attrs[0].name, "item_id");
    assert_string_equal(item->attrs[2].name, "stock");
    assert_int_equal(item->attrs[1].line, 8);
    check_names(item->key, item->nkey, "item_id");

    /* methods in source order, then the accessors of the remotely read price */
    const char *order[] = {"__init__", "__key__", "update_stock", "_sf_get_price", "_sf_set_price"};
    assert_int_equal(item->nmethods, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(item->methods[i].name, order[i]);

    const sf_ir_method *init = meth(f, "Item", "__init__");
    assert_int_equal(init->flags, SF_METHOD_INIT);
    assert_int_equal(init->nparams, 2);
    assert_string_equal(init->params[0].name, "item_id");
    assert_string_equal(fmt(init->params[0].type), "str");
    assert_string_equal(init->params[1].name, "price");
    assert_string_equal(fmt(init->params[1].type), "int");
    assert_string_equal(fmt(init->returns), "None");
    check_names(init->writes, init->nwrites, "item_id,price,stock");
    assert_int_equal(init->line, 6);

    const sf_ir_method *key = meth(f, "Item", "__key__");
    assert_int_equal(key->flags, SF_METHOD_INTERNAL | SF_METHOD_READ_ONLY);
    assert_int_equal(key->nparams, 0);
    assert_string_equal(fmt(key->returns), "str");
    check_names(key->reads, key->nreads, "item_id");

    const sf_ir_method *us = meth(f, "Item", "update_stock");
    assert_int_equal(us->flags, 0);
    assert_int_equal(us->nparams, 1);
    assert_string_equal(us->params[0].name, "amount");
    assert_string_equal(fmt(us->params[0].type), "int");
    assert_int_equal(us->params[0].has_default, 0);
    assert_string_equal(fmt(us->returns), "bool");
    check_names(us->reads, us->nreads, "stock");
    check_names(us->writes, us->nwrites, "stock");
    check_calls(us, "");

    const sf_ir_method *get = meth(f, "Item", "_sf_get_price");
    assert_int_equal(get->flags, SF_METHOD_ACCESSOR | SF_METHOD_INTERNAL | SF_METHOD_READ_ONLY);
    assert_int_equal(get->nparams, 0);
    assert_string_equal(fmt(get->returns), "int");
    const sf_ir_method *set = meth(f, "Item", "_sf_set_price");
    assert_int_equal(set->flags, SF_METHOD_ACCESSOR | SF_METHOD_INTERNAL);
    assert_int_equal(set->nparams, 1);
    assert_string_equal(set->params[0].name, "value");
    assert_string_equal(fmt(set->params[0].type), "int");
    assert_string_equal(fmt(set->returns), "None");

    const sf_ir_entity *user = ent(f, "User");
    assert_int_equal(user->nattrs, 2);
    check_attr(f, "User", "username", "str");
    check_attr(f, "User", "balance", "int");
    check_names(user->key, user->nkey, "username");
    assert_int_equal(user->nmethods, 3); /* nobody reads User remotely: no accessors */

    const sf_ir_method *buy = meth(f, "User", "buy_item");
    assert_int_equal(buy->flags, SF_METHOD_SPLIT);
    assert_int_equal(buy->nparams, 2);
    assert_string_equal(fmt(buy->params[1].type), "Item");
    assert_string_equal(fmt(buy->returns), "bool");
    check_names(buy->reads, buy->nreads, "balance");
    check_names(buy->writes, buy->nwrites, "balance");
    check_calls(buy, "Item._sf_get_price@30,Item.update_stock@33");

    assert_int_equal(f->ir->nedges, 2);
    assert_string_equal(f->ir->edges[0].from_entity, "User");
    assert_string_equal(f->ir->edges[0].from_method, "buy_item");
    assert_string_equal(f->ir->edges[0].to_entity, "Item");
    assert_string_equal(f->ir->edges[0].to_method, "_sf_get_price");
    assert_string_equal(f->ir->edges[1].to_method, "update_stock");

    /* the program view and expression types */
    assert_int_equal(f->p.nentities, 2);
    sf_entity_info *ui = sf_program_entity(&f->p, "User");
    assert_non_null(ui);
    assert_ptr_equal(ui->ir, user);
    assert_null(sf_program_entity(&f->p, "Nope"));
    sf_method_info *bi = sf_entity_method(ui, "buy_item");
    assert_non_null(bi);
    assert_ptr_equal(bi->ir, buy);
    assert_ptr_equal(bi->owner, ui);
    assert_int_equal(bi->def->kind, SF_ST_FUNCTIONDEF);
    assert_string_equal(bi->def->u.func.name, "buy_item");
    assert_null(sf_entity_method(ui, "nope"));
    sf_method_info *gi = sf_entity_method(sf_program_entity(&f->p, "Item"), "_sf_get_price");
    assert_non_null(gi);
    assert_null(gi->def);
    assert_int_equal(ui->nmethods, user->nmethods);

    assert_string_equal(ref_at(f, "total = amount * item.price", "item"), "Item");
    assert_null(ref_at(f, "total = amount * item.price", "amount"));
    assert_string_equal(ref_at(f, "if not item.update_stock", "item"), "Item");
    sf_expr *rd = expr_at(f, "total = amount * item.price", "item", SF_EX_ATTR);
    assert_string_equal(fmt(rd->type), "int");
    sf_expr *call = expr_at(f, "if not item.update_stock", "item", SF_EX_CALL);
    assert_string_equal(fmt(call->type), "bool");
    sf_expr *tot = expr_at(f, "if self.balance < total", "total", SF_EX_NAME);
    assert_string_equal(fmt(tot->type), "int");
    assert_null(sf_expr_ref_entity(NULL));
}

/* ---- attribute types ---------------------------------------------------- */

static void test_attribute_types(void **state)
{
    fixture *f = *state;
    run_ok(f,
           "from typing import List, Dict, Optional, Tuple\n"
           "import typing\n"
           "from stateflow import entity\n"
           "\n"
           "Items = List['Item']\n"
           "\n"
           "class Helper:\n"
           "    pass\n"
           "\n"
           "@entity\n"
           "class Item:\n"
           "    def __init__(self, item_id: str, qty):\n"
           "        self.item_id = item_id\n"
           "        self.qty = qty\n"
           "        self.count = 0\n"
           "        self.ratio = -1.5\n"
           "        self.flag = True\n"
           "        self.blob = b'x'\n"
           "        self.note = None\n"
           "        self.tags = []\n"
           "        self.meta = {}\n"
           "        self.seen = set()\n"
           "        self.pair = (1, 2)\n"
           "        self.label = f'{item_id}'\n"
           "        self.owner = None\n"
           "        self.mixed = 1\n"
           "        self.helper: Helper = Helper()\n"
           "        self.a, self.b = 1, 'x'\n"
           "\n"
           "    def __key__(self):\n"
           "        return self.item_id\n"
           "\n"
           "    def adopt(self, user: 'User') -> None:\n"
           "        self.owner = user\n"
           "        self.mixed = 'x'\n"
           "        self.late = 3\n"
           "\n"
           "@entity\n"
           "class User:\n"
           "    def __init__(self, name: str, nr: int):\n"
           "        self.name = name\n"
           "        self.nr = nr\n"
           "        self.a: Item = None\n"
           "        self.b: 'Item' = None\n"
           "        self.c: List['Item'] = []\n"
           "        self.d: Dict[str, Item] = {}\n"
           "        self.e: Optional[Item] = None\n"
           "        self.f: Item | None = None\n"
           "        self.g: typing.List[Item] = []\n"
           "        self.h: Tuple[int, str] = (1, 'x')\n"
           "        self.i: Items = []\n"
           "        self.j: 'Optional[List[Item]]' = None\n"
           "        self.k: list[Item] = []\n"
           "        self.l: Tuple[int, ...] = ()\n"
           "        self.m: 'None | Item' = None\n"
           "        self.n: typing.Any = 1\n"
           "        self.o: Dict[str, List[Tuple[int, Item]]] = {}\n"
           "\n"
           "    def __key__(self):\n"
           "        return self.name\n");
    check_attr(f, "Item", "item_id", "str");
    check_attr(f, "Item", "qty", "Any");
    check_attr(f, "Item", "count", "int");
    check_attr(f, "Item", "ratio", "float");
    check_attr(f, "Item", "flag", "bool");
    check_attr(f, "Item", "blob", "bytes");
    check_attr(f, "Item", "note", "Any");
    check_attr(f, "Item", "tags", "List[Any]");
    check_attr(f, "Item", "meta", "Dict[Any, Any]");
    check_attr(f, "Item", "seen", "Set[Any]");
    check_attr(f, "Item", "pair", "Tuple");
    check_attr(f, "Item", "label", "str");
    check_attr(f, "Item", "owner", "Optional[User]");
    check_attr(f, "Item", "mixed", "Any");
    check_attr(f, "Item", "helper", "Any");
    check_attr(f, "Item", "a", "int");
    check_attr(f, "Item", "b", "str");
    check_attr(f, "Item", "late", "int");
    const sf_ir_entity *item = ent(f, "Item");
    assert_string_equal(item->attrs[item->nattrs - 1].name, "late");
    assert_int_equal(item->attrs[item->nattrs - 1].line, 36);

    check_attr(f, "User", "a", "Item");
    check_attr(f, "User", "b", "Item");
    check_attr(f, "User", "c", "List[Item]");
    check_attr(f, "User", "d", "Dict[str, Item]");
    check_attr(f, "User", "e", "Optional[Item]");
    check_attr(f, "User", "f", "Optional[Item]");
    check_attr(f, "User", "g", "List[Item]");
    check_attr(f, "User", "h", "Tuple[int, str]");
    check_attr(f, "User", "i", "List[Item]");
    check_attr(f, "User", "j", "Optional[List[Item]]");
    check_attr(f, "User", "k", "List[Item]");
    check_attr(f, "User", "l", "Tuple");
    check_attr(f, "User", "m", "Optional[Item]");
    check_attr(f, "User", "n", "Any");
    check_attr(f, "User", "o", "Dict[str, List[Tuple[int, Item]]]");
    const sf_ir_entity *user = ent(f, "User");
    check_names(user->key, user->nkey, "name");
    assert_string_equal(fmt(meth(f, "User", "__key__")->returns), "str");
}

static void test_key_forms(void **state)
{
    fixture *f = *state;
    run_ok(f,
           "from stateflow import entity\n"
           "@stateflow.entity\n"
           "class A:\n"
           "    def __init__(self, x: int, y: str):\n"
           "        self.x = x\n"
           "        self.y = y\n"
           "    def __key__(self):\n"
           "        'the key'\n"
           "        return self.y\n"
           "@stateflow\n"
           "class B:\n"
           "    def __init__(self, k: int):\n"
           "        self.k = k\n"
           "    def __key__(self):\n"
           "        return self.k\n"
           "class NotAnEntity:\n"
           "    def __init__(self):\n"
           "        self.z = 1\n");
    assert_int_equal(f->ir->nentities, 2);
    check_names(ent(f, "A")->key, ent(f, "A")->nkey, "y");
    assert_string_equal(fmt(meth(f, "A", "__key__")->returns), "str");
    assert_string_equal(fmt(meth(f, "B", "__key__")->returns), "int");
    assert_null(sf_ir_find_entity(f->ir, "NotAnEntity"));
}

/* ---- expression types --------------------------------------------------- */

static const char TYPES[] =
    "from typing import List, Dict, Optional, Tuple\n"
    "from stateflow import entity\n"
    "\n"
    "def pick(n: int) -> 'Item':\n"
    "    return None\n"
    "\n"
    "@entity\n"
    "class Item:\n"
    "    def __init__(self, item_id: str):\n"
    "        self.item_id = item_id\n"
    "        self.price: int = 0\n"
    "        self.next: Optional['Item'] = None\n"
    "\n"
    "    def __key__(self):\n"
    "        return self.item_id\n"
    "\n"
    "    def get(self) -> int:\n"
    "        return self.price\n"
    "\n"
    "    def other(self) -> 'Item':\n"
    "        return self.next\n"
    "\n"
    "@entity\n"
    "class Cart:\n"
    "    def __init__(self, cart_id: str):\n"
    "        self.cart_id = cart_id\n"
    "        self.items: List[Item] = []\n"
    "        self.by_name: Dict[str, Item] = {}\n"
    "        self.pairs: Tuple[Item, int] = None\n"
    "        self.main: Optional[Item] = None\n"
    "\n"
    "    def __key__(self):\n"
    "        return self.cart_id\n"
    "\n"
    "    def mine(self) -> Item:\n"
    "        return self.main\n"
    "\n"
    "    def run(self, item: Item, n: int) -> int:\n"
    "        a = item\n"
    "        t = a.get()\n"
    "        b = self.main\n"
    "        b.get()\n"
    "        c = item.other()\n"
    "        c.get()\n"
    "        d = self.mine()\n"
    "        d.get()\n"
    "        e = self.items[0]\n"
    "        e.get()\n"
    "        f = self.by_name['x']\n"
    "        f.get()\n"
    "        g = self.pairs[0]\n"
    "        g.get()\n"
    "        for x in self.items:\n"
    "            x.get()\n"
    "        for k, v in self.by_name.items():\n"
    "            v.get()\n"
    "        for w in self.by_name.values():\n"
    "            w.get()\n"
    "        for q in self.by_name:\n"
    "            q.upper()\n"
    "        h = item if n > 0 else c\n"
    "        h.get()\n"
    "        i = b or item\n"
    "        i.get()\n"
    "        if (j := item.other()) is not None:\n"
    "            j.get()\n"
    "        m = item.next\n"
    "        for idx, it in enumerate(self.items):\n"
    "            it.get()\n"
    "        p = pick(1)\n"
    "        p.get()\n"
    "        r: Item = self.lookup_any()\n"
    "        r.get()\n"
    "        late = None\n"
    "        late2 = late\n"
    "        late = item\n"
    "        late2.get()\n"
    "        s = self.by_name.get('k')\n"
    "        s.get()\n"
    "        u = self.items[1:]\n"
    "        u[0].get()\n"
    "        return t\n"
    "\n"
    "    def lookup_any(self):\n"
    "        return None\n";

static void test_expression_types(void **state)
{
    fixture *f = *state;
    int n = run(f, TYPES);
    /* lookup_any has no return hint: exactly that one error */
    assert_int_equal(n, 1);
    assert_true(strstr(f->d.v[0].msg, "method Cart.lookup_any has no return type hint") != NULL);

    struct { const char *snippet, *tok, *want; } cases[] = {
        {"a = item", "item", "Item"},          /* parameter */
        {"t = a.get()", "a", "Item"},          /* local bound from a parameter */
        {"b.get()", "b", "Item"},              /* local from an Optional attribute */
        {"c.get()", "c", "Item"},              /* ref.m() return type */
        {"d.get()", "d", "Item"},              /* self.m() return type */
        {"e.get()", "e", "Item"},              /* List subscript */
        {"f.get()", "f", "Item"},              /* Dict subscript */
        {"g.get()", "g", "Item"},              /* Tuple subscript */
        {"x.get()", "x", "Item"},              /* for over a list */
        {"v.get()", "v", "Item"},              /* for k, v in d.items() */
        {"w.get()", "w", "Item"},              /* for over d.values() */
        {"h.get()", "h", "Item"},              /* conditional expression */
        {"i.get()", "i", "Item"},              /* Optional or T */
        {"j.get()", "j", "Item"},              /* walrus */
        {"it.get()", "it", "Item"},            /* enumerate */
        {"p.get()", "p", "Item"},              /* module function's return annotation */
        {"r.get()", "r", "Item"},              /* annotated local */
        {"late2.get()", "late2", "Item"},      /* flow-insensitive: Optional[Item] */
        {"s.get()", "s", "Item"},              /* dict.get -> Optional[Item] */
        {"b = self.main", "self", "Cart"},     /* self has the entity type (split stage: is_self) */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sf_expr *e = expr_at(f, cases[i].snippet, cases[i].tok, SF_EX_NAME);
        const char *got = sf_expr_ref_entity(e);
        if (!got || strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "case %s: %s is %s\n", cases[i].snippet, cases[i].tok, got ? got : "(none)");
        assert_non_null(got);
        assert_string_equal(got, cases[i].want);
    }
    assert_string_equal(fmt(expr_at(f, "for k, v in", "k", SF_EX_NAME)->type), "str");
    assert_string_equal(fmt(expr_at(f, "q.upper()", "q", SF_EX_NAME)->type), "str");
    assert_string_equal(fmt(expr_at(f, "t = a.get()", "t", SF_EX_NAME)->type), "int");
    assert_string_equal(fmt(expr_at(f, "m = item.next", "m", SF_EX_NAME)->type), "Optional[Item]");
    assert_string_equal(fmt(expr_at(f, "b = self.main", "b", SF_EX_NAME)->type), "Optional[Item]");
    assert_string_equal(fmt(expr_at(f, "late2 = late", "late2", SF_EX_NAME)->type), "Optional[Item]");
    assert_string_equal(fmt(expr_at(f, "for idx, it", "idx", SF_EX_NAME)->type), "int");
    assert_null(ref_at(f, "t = a.get()", "t"));
    /* a slice keeps List[Item]; its element is a reference */
    assert_string_equal(fmt(expr_at(f, "u[0].get()", "u", SF_EX_NAME)->type), "List[Item]");
    assert_string_equal(sf_expr_ref_entity(expr_at(f, "u[0].get()", "u", SF_EX_SUBSCRIPT)), "Item");
    assert_null(ref_at(f, "q.upper()", "q"));

    /* every `.get()` above is a remote call, in source order */
    const sf_ir_method *run_m = meth(f, "Cart", "run");
    assert_int_equal(run_m->flags, SF_METHOD_SPLIT | SF_METHOD_READ_ONLY);
    int gets = 0;
    for (int i = 0; i < run_m->ncalls; i++)
        gets += strcmp(run_m->calls[i].method, "get") == 0;
    assert_int_equal(gets, 19); /* self.by_name.get(...) is a dict method, not remote */
    assert_int_equal(run_m->calls[0].line, line_of(f, "t = a.get()"));
    assert_string_equal(run_m->calls[0].method, "get");
    /* m = item.next reads through the accessor */
    int acc = 0;
    for (int i = 0; i < run_m->ncalls; i++)
        if (strcmp(run_m->calls[i].method, "_sf_get_next") == 0) {
            acc++;
            assert_int_equal(run_m->calls[i].line, line_of(f, "m = item.next"));
        }
    assert_int_equal(acc, 1);
    assert_non_null(sf_ir_find_method(ent(f, "Item"), "_sf_get_next"));
    /* edges are distinct: many calls of Item.get, one edge */
    int get_edges = 0;
    for (int i = 0; i < f->ir->nedges; i++)
        get_edges += strcmp(f->ir->edges[i].to_method, "get") == 0;
    assert_int_equal(get_edges, 1);
}

static void test_poisoned_local(void **state)
{
    fixture *f = *state;
    /* references to two entities in one variable: an error at the second */
    assert_int_equal(run(f,
           "from stateflow import entity\n"
           "@entity\n"
           "class A:\n"
           "    def __init__(self, k: str):\n"
           "        self.k = k\n"
           "    def __key__(self):\n"
           "        return self.k\n"
           "    def f(self) -> int:\n"
           "        return 1\n"
           "@entity\n"
           "class B:\n"
           "    def __init__(self, k: str):\n"
           "        self.k = k\n"
           "    def __key__(self):\n"
           "        return self.k\n"
           "    def g(self, a: A, b: 'B', n: int) -> int:\n"
           "        x = a\n"
           "        if n:\n"
           "            x = b\n"
           "        y = 1\n"
           "        y = 'no entity involved: first type kept'\n"
           "        return y\n"), 1);
    assert_null(ref_at(f, "x = a", "x"));
    assert_null(ref_at(f, "x = b", "x"));
    assert_string_equal(fmt(expr_at(f, "return y", "y", SF_EX_NAME)->type), "int");
    assert_int_equal(meth(f, "B", "g")->ncalls, 0);
}

/* ---- flags: read-only and split ------------------------------------------ */

static const char FLAGS[] =
    "from typing import List, Dict\n"
    "from stateflow import entity\n"
    "\n"
    "def mutate(xs):\n"
    "    xs.append(1)\n"
    "\n"
    "@entity\n"
    "class Other:\n"
    "    def __init__(self, k: str):\n"
    "        self.k = k\n"
    "        self.v = 0\n"
    "    def __key__(self):\n"
    "        return self.k\n"
    "    def ping(self) -> int:\n"
    "        return 1\n"
    "\n"
    "@entity\n"
    "class Acc:\n"
    "    def __init__(self, id: str):\n"
    "        self.id = id\n"
    "        self.log: List[str] = []\n"
    "        self.d: Dict[str, int] = {}\n"
    "        self.rows: List[Dict[str, int]] = []\n"
    "        self.n = 0\n"
    "    def __key__(self):\n"
    "        return self.id\n"
    "    def peek(self) -> int:\n"
    "        return self.n\n"
    "    def peek2(self) -> int:\n"
    "        return self.peek()\n"
    "    def lookup(self, k: str) -> int:\n"
    "        return self.d.get(k, 0) + len(self.log)\n"
    "    def keys(self) -> List[str]:\n"
    "        return sorted(self.d.keys())\n"
    "    def upper(self) -> str:\n"
    "        return self.id.upper()\n"
    "    def show(self) -> None:\n"
    "        print(self.log, self.d)\n"
    "    def add(self, s: str) -> None:\n"
    "        self.log.append(s)\n"
    "    def put(self, k: str) -> None:\n"
    "        self.d[k] = 1\n"
    "    def drop(self, k: str) -> None:\n"
    "        del self.d[k]\n"
    "    def bump(self, k: str) -> None:\n"
    "        self.d[k] += 1\n"
    "    def alias(self, s: str) -> None:\n"
    "        l = self.log\n"
    "        l.append(s)\n"
    "    def loop_alias(self) -> None:\n"
    "        for row in self.rows:\n"
    "            row['x'] = 1\n"
    "    def escape(self) -> None:\n"
    "        mutate(self.log)\n"
    "    def calls_add(self) -> None:\n"
    "        self.add('x')\n"
    "    def inc(self) -> None:\n"
    "        self.n += 1\n"
    "    def remote(self, o: Other) -> int:\n"
    "        return o.ping()\n"
    "    def remote_write(self, o: Other) -> None:\n"
    "        o.v = 3\n"
    "    def via(self, o: Other) -> int:\n"
    "        return self.remote(o) + 1\n"
    "    def via2(self, o: Other) -> int:\n"
    "        return self.via(o)\n"
    "    def plain(self) -> int:\n"
    "        return self.peek2()\n";

static void test_flags(void **state)
{
    fixture *f = *state;
    run_ok(f, FLAGS);
    struct { const char *m; unsigned flags; const char *reads, *writes; } want[] = {
        {"peek", SF_METHOD_READ_ONLY, "n", ""},
        {"peek2", SF_METHOD_READ_ONLY, "", ""},
        {"lookup", SF_METHOD_READ_ONLY, "d,log", ""},
        {"keys", SF_METHOD_READ_ONLY, "d", ""},
        {"upper", SF_METHOD_READ_ONLY, "id", ""},
        {"show", SF_METHOD_READ_ONLY, "log,d", ""},
        {"add", 0, "log", "log"},
        {"put", 0, "d", "d"},
        {"drop", 0, "d", "d"},
        {"bump", 0, "d", "d"},
        {"alias", 0, "log", "log"},
        {"loop_alias", 0, "rows", "rows"},
        {"escape", 0, "log", "log"},
        {"calls_add", 0, "", ""},
        {"inc", 0, "n", "n"},
        {"remote", SF_METHOD_SPLIT | SF_METHOD_READ_ONLY, "", ""},
        {"remote_write", SF_METHOD_SPLIT | SF_METHOD_READ_ONLY, "", ""},
        {"via", SF_METHOD_SPLIT | SF_METHOD_READ_ONLY, "", ""},
        {"via2", SF_METHOD_SPLIT | SF_METHOD_READ_ONLY, "", ""},
        {"plain", SF_METHOD_READ_ONLY, "", ""},
        {"__init__", SF_METHOD_INIT, "", "id,log,d,rows,n"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const sf_ir_method *m = meth(f, "Acc", want[i].m);
        if (m->flags != want[i].flags)
            fprintf(stderr, "Acc.%s: flags %u, want %u\n", want[i].m, m->flags, want[i].flags);
        assert_int_equal(m->flags, want[i].flags);
        check_names(m->reads, m->nreads, want[i].reads);
        check_names(m->writes, m->nwrites, want[i].writes);
    }
    /* local calls are not remote operations */
    check_calls(meth(f, "Acc", "via"), "");
    check_calls(meth(f, "Acc", "remote_write"), "Other._sf_set_v@62");
    /* v is written remotely: both accessors; the key k is not accessed */
    const sf_ir_entity *o = ent(f, "Other");
    assert_int_equal(o->nmethods, 5);
    assert_string_equal(o->methods[3].name, "_sf_get_v");
    assert_string_equal(o->methods[4].name, "_sf_set_v");
}

static void test_remote_attribute_ops(void **state)
{
    fixture *f = *state;
    run_ok(f,
           "from stateflow import entity\n"
           "@entity\n"
           "class T:\n"
           "    def __init__(self, k: str):\n"
           "        self.k = k\n"
           "        self.n = 0\n"
           "    def __key__(self):\n"
           "        return self.k\n"
           "    def f(self, x: int) -> int:\n"
           "        return x\n"
           "@entity\n"
           "class U:\n"
           "    def __init__(self, k: str):\n"
           "        self.k = k\n"
           "    def __key__(self):\n"
           "        return self.k\n"
           "    def g(self, t: T, u: T) -> int:\n"
           "        t.n += 1\n"
           "        r = t.f(u.f(t.k))\n"
           "        t.n = u.n\n"
           "        return r\n");
    check_calls(meth(f, "U", "g"),
                "T._sf_get_n@18,T._sf_set_n@18,T._sf_get_k@19,T.f@19,T.f@19,T._sf_get_n@20,T._sf_set_n@20");
    /* the key gets a getter only */
    const sf_ir_entity *t = ent(f, "T");
    assert_non_null(sf_ir_find_method(t, "_sf_get_k"));
    assert_null(sf_ir_find_method(t, "_sf_set_k"));
    assert_non_null(sf_ir_find_method(t, "_sf_set_n"));
    assert_int_equal(f->ir->nedges, 4); /* get_n, set_n, get_k, f */
}

/* Valid uses that must not be reported. */
static void test_valid_program(void **state)
{
    fixture *f = *state;
    run_ok(f,
           "from typing import List, Optional\n"
           "from stateflow import entity\n"
           "import math\n"
           "\n"
           "LIMIT = 10\n"
           "\n"
           "def helper(x: int) -> int:\n"
           "    return [i for i in range(x)][0]\n"
           "\n"
           "@entity\n"
           "class Node:\n"
           "    '''A node.'''\n"
           "    KIND = 'node'\n"
           "\n"
           "    def __init__(self, name: str, nxt: Optional['Node'] = None):\n"
           "        self.name = name\n"
           "        self.nxt = nxt\n"
           "        self.values: List[int] = [v * 2 for v in range(3)]\n"
           "\n"
           "    def __key__(self):\n"
           "        return self.name\n"
           "\n"
           "    def value(self, scale: int = 1) -> int:\n"
           "        return sum(self.values) * scale + math.floor(1.5) + helper(LIMIT)\n"
           "\n"
           "    def kind(self) -> str:\n"
           "        return self.KIND + self.__class__.__name__\n"
           "\n"
           "    def walk(self, other: 'Node', n: int) -> int:\n"
           "        total = 0\n"
           "        while other.value() < n and total < LIMIT:\n"
           "            total += other.value(scale=2) if n else 0\n"
           "            if total > 5:\n"
           "                break\n"
           "        for x in [other, other]:\n"
           "            total += x.value()\n"
           "        label = f'{other.name}: {total}'\n"
           "        nums = [v + 1 for v in self.values]\n"
           "        try:\n"
           "            total += int('3')\n"
           "        except ValueError as exc:\n"
           "            total -= 1\n"
           "        g = lambda y: y + total\n"
           "        assert total >= 0, 'negative'\n"
           "        return total + len(label) + len(nums) + g(1) + self.value()\n");
    assert_int_equal(meth(f, "Node", "walk")->flags, SF_METHOD_SPLIT | SF_METHOD_READ_ONLY);
    assert_int_equal(meth(f, "Node", "value")->params[0].has_default, 1);
    assert_int_equal(meth(f, "Node", "__init__")->params[1].has_default, 1);
    assert_string_equal(fmt(meth(f, "Node", "__init__")->params[1].type), "Optional[Node]");
    check_attr(f, "Node", "nxt", "Optional[Node]");
}

static void test_no_entities(void **state)
{
    fixture *f = *state;
    /* a module without entities is an error, at its first class */
    assert_int_equal(run(f, "x = 1\n\nclass P:\n    def m(self):\n        return self\n\ndef g():\n    return 2\n"), 1);
    assert_int_equal(f->d.v[0].line, 3);
    assert_non_null(strstr(f->d.v[0].msg, "no entity in this module"));
    assert_int_equal(f->ir->nentities, 0);
    assert_int_equal(f->ir->nedges, 0);
    assert_int_equal(f->p.nentities, 0);
}

/* ---- robustness ------------------------------------------------------------ */

static void test_deep_string_annotation(void **state)
{
    fixture *f = *state;
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_puts(&b, "from typing import List\nfrom stateflow import entity\n@entity\nclass A:\n"
                    "    def __init__(self, k: str):\n        self.k = k\n"
                    "    def __key__(self):\n        return self.k\n"
                    "    def f(self, x: '");
    for (int i = 0; i < 60; i++)
        sf_buf_puts(&b, "List[");
    sf_buf_puts(&b, "int");
    for (int i = 0; i < 60; i++)
        sf_buf_puts(&b, "]");
    sf_buf_puts(&b, "', y: '1 +', z: '(((((', w: 'Dict[') -> None:\n        pass\n");
    int n = run(f, b.data);
    assert_int_equal(n, 4);
    sf_buf_free(&b);
}

static void test_long_recursion_cycle(void **state)
{
    fixture *f = *state;
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_puts(&b, "from stateflow import entity\n@entity\nclass A:\n"
                    "    def __init__(self, k: str):\n        self.k = k\n"
                    "    def __key__(self):\n        return self.k\n");
    int n = 2000;
    for (int i = 0; i < n; i++)
        sf_buf_printf(&b, "    def m%d(self) -> int:\n        return self.m%d()\n", i, (i + 1) % n);
    assert_int_equal(run(f, b.data), 1);
    assert_true(strncmp(f->d.v[0].msg, "recursion is not supported: A.m0 -> A.m1 -> ", 44) == 0);
    sf_buf_free(&b);
}

/* ---- tests/compile_errors ------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    sf_buf b;
    sf_buf_init(&b);
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        sf_buf_append(&b, chunk, k);
    fclose(fp);
    if (!b.data)
        sf_buf_puts(&b, "");
    return sf_buf_steal(&b, len);
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int check_error_file(const char *path)
{
    size_t len;
    char *src = read_file(path, &len);
    if (!src) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    sf_arena a;
    sf_arena_init(&a);
    sf_diag d;
    sf_diag_init(&d, path);
    sf_module m;
    memset(&m, 0, sizeof(m));
    int fail = 0;
    if (sf_parse(&a, path, src, len, &m, &d) != 0) {
        fprintf(stderr, "%s: does not parse\n", path);
        sf_diag_print(&d, stderr);
        fail = 1;
    } else {
        sf_ir *ir = sf_ir_new();
        sf_program p;
        memset(&p, 0, sizeof(p));
        p.arena = &a;
        p.mod = &m;
        p.ir = ir;
        int nerr = sf_analyse(&p, &d);
        if (nerr == 0) { /* as sfc does: the split stage reports the rest */
            sf_stmt_list fns = {0};
            nerr = sf_split(&p, &d, &fns);
        }
        int nexpect = 0;
        char *used = calloc((size_t)d.n + 1, 1);
        for (char *line = src; line && *line; ) {
            char *nl = strchr(line, '\n');
            if (strncmp(line, "# expect: ", 10) == 0) {
                nexpect++;
                int l = 0, c = 0, off = 0;
                char text[1024] = "";
                size_t tl = nl ? (size_t)(nl - line) : strlen(line);
                char buf[1200];
                snprintf(buf, sizeof(buf), "%.*s", (int)(tl < 1100 ? tl : 1100), line);
                if (sscanf(buf + 10, "%d:%d: %n", &l, &c, &off) < 2 || off == 0) {
                    fprintf(stderr, "%s: bad expect line: %s\n", path, buf);
                    fail = 1;
                } else {
                    snprintf(text, sizeof(text), "%s", buf + 10 + off);
                    int hit = 0;
                    for (int i = 0; i < d.n && !hit; i++)
                        if (!used[i] && d.v[i].line == l && d.v[i].col == c &&
                            strstr(d.v[i].msg, text)) {
                            used[i] = 1;
                            hit = 1;
                        }
                    if (!hit) {
                        fprintf(stderr, "%s: missing error %d:%d: %s\n", path, l, c, text);
                        fail = 1;
                    }
                }
            }
            line = nl ? nl + 1 : NULL;
        }
        if (nexpect == 0) {
            fprintf(stderr, "%s: no '# expect:' lines\n", path);
            fail = 1;
        }
        for (int i = 0; i < d.n; i++)
            if (!used[i]) {
                fprintf(stderr, "%s: unexpected error %d:%d: %s\n", path, d.v[i].line, d.v[i].col,
                        d.v[i].msg);
                fail = 1;
            }
        if (nerr != d.n) {
            fprintf(stderr, "%s: sf_analyse returned %d for %d errors\n", path, nerr, d.n);
            fail = 1;
        }
        free(used);
        sf_ir_free(ir);
    }
    sf_diag_free(&d);
    sf_arena_free(&a);
    free(src);
    return fail;
}

static void test_compile_errors(void **state)
{
    const char *dir = "tests/compile_errors";
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".py") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, (size_t)cap * sizeof(*names));
            assert_non_null(names);
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof(*names), name_cmp);
    assert_true(n >= 15);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        failed += check_error_file(path);
        free(names[i]);
    }
    free(names);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attribute_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expression_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poisoned_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_attribute_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_string_annotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_recursion_cycle, setup, teardown),
        cmocka_unit_test(test_compile_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
