/* test_parse.c: the parse stage (compiler/parse.c) and the unparser
 * (compiler/unparse.c): node positions, constants, syntax error reports,
 * invalid input (bad UTF-8, NUL bytes, deep nesting), empty files, match
 * statements, and exact unparse output for the delicate cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ast.h"
#include "diag.h"
#include "parse.h"
#include "stateflow/sf_arena.h"
#include "stateflow/sf_buf.h"
#include "unparse.h"

typedef struct fixture {
    sf_arena a;
    sf_diag d;
    sf_module m;
    sf_buf b;
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
    sf_buf_init(&f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_arena_free(&f->a);
    sf_diag_free(&f->d);
    sf_buf_free(&f->b);
    free(f);
    return 0;
}

static int parse_n(fixture *f, const char *src, size_t len)
{
    return sf_parse(&f->a, "t.py", src, len, &f->m, &f->d);
}

static int parse(fixture *f, const char *src) { return parse_n(f, src, strlen(src)); }

/* Parse src, expect success, return the first statement's value expression
 * (the right-hand side of an assignment or an expression statement). */
static sf_expr *first_value(fixture *f, const char *src)
{
    assert_int_equal(parse(f, src), 0);
    assert_true(f->m.body.n >= 1);
    sf_stmt *s = f->m.body.v[0];
    if (s->kind == SF_ST_ASSIGN)
        return s->u.assign.value;
    assert_int_equal(s->kind, SF_ST_EXPR);
    return s->u.expr.value;
}

/* The unparsed module as a string (owned by the fixture's buffer). */
static const char *unparsed(fixture *f, const char *src)
{
    assert_int_equal(parse(f, src), 0);
    sf_buf_reset(&f->b);
    sf_unparse_module(&f->b, &f->m);
    return f->b.data ? f->b.data : "";
}

/* ---- positions ----------------------------------------------------------- */

static void test_positions(void **state)
{
    fixture *f = *state;
    const char *src = "x = 1\n"
                      "if x:\n"
                      "    y = foo(a, k=b)\n";
    assert_int_equal(parse(f, src), 0);
    assert_int_equal(f->m.body.n, 2);
    sf_stmt *assign = f->m.body.v[0];
    assert_int_equal(assign->kind, SF_ST_ASSIGN);
    assert_int_equal(assign->pos.line, 1);
    assert_int_equal(assign->pos.col, 1);
    assert_int_equal(assign->pos.end_line, 1);
    assert_int_equal(assign->pos.end_col, 6);
    sf_expr *one = assign->u.assign.value;
    assert_int_equal(one->pos.col, 5);

    sf_stmt *iff = f->m.body.v[1];
    assert_int_equal(iff->kind, SF_ST_IF);
    assert_int_equal(iff->pos.line, 2);
    assert_int_equal(iff->pos.end_line, 3);
    sf_stmt *inner = iff->u.if_.body.v[0];
    assert_int_equal(inner->pos.line, 3);
    assert_int_equal(inner->pos.col, 5);
    sf_expr *call = inner->u.assign.value;
    assert_int_equal(call->kind, SF_EX_CALL);
    assert_int_equal(call->pos.col, 9);
    assert_int_equal(call->pos.end_col, 20);
    assert_string_equal(call->u.call.func->u.name.id, "foo");
    assert_int_equal(call->u.call.args.n, 1);
    assert_int_equal(call->u.call.args.v[0]->pos.col, 13);
    assert_int_equal(call->u.call.nkw, 1);
    assert_string_equal(call->u.call.kw[0].arg, "k");
    assert_int_equal(call->u.call.kw[0].pos.col, 16);
    assert_string_equal(f->m.filename, "t.py");
    assert_string_equal(f->m.source, src);
}

static void test_positions_are_characters(void **state)
{
    fixture *f = *state;
    /* CPython reports byte offsets: é and ü are two bytes each */
    sf_expr *e = first_value(f, "é = 'ü' + b\n");
    assert_int_equal(e->kind, SF_EX_BINOP);
    assert_int_equal(e->pos.col, 5);
    assert_int_equal(e->u.binop.right->pos.col, 11);
    assert_int_equal(e->u.binop.right->pos.end_col, 12);
    assert_string_equal(f->m.body.v[0]->u.assign.targets.v[0]->u.name.id, "é");
}

static void test_crlf_and_bom(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "\xEF\xBB\xBFx = 1\r\ny = 2\rz = 3\n"), 0);
    assert_int_equal(f->m.body.n, 3);
    assert_int_equal(f->m.body.v[1]->pos.line, 2);
    assert_int_equal(f->m.body.v[2]->pos.line, 3);
    assert_int_equal(f->m.body.v[2]->u.assign.value->pos.col, 5);
}

static void test_function_and_class(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "@dec\n"
                              "class C(B, metaclass=M):\n"
                              "    async def m(self, a, /, b=1, *c, d, e=2, **g) -> int:\n"
                              "        return a\n"), 0);
    sf_stmt *cls = f->m.body.v[0];
    assert_int_equal(cls->kind, SF_ST_CLASSDEF);
    assert_string_equal(cls->u.cls.name, "C");
    assert_int_equal(cls->u.cls.decorators.n, 1);
    assert_int_equal(cls->u.cls.bases.n, 1);
    assert_int_equal(cls->u.cls.nkw, 1);
    assert_string_equal(cls->u.cls.kw[0].arg, "metaclass");
    sf_stmt *m = cls->u.cls.body.v[0];
    assert_int_equal(m->kind, SF_ST_ASYNCFUNCTIONDEF);
    sf_arguments *a = m->u.func.args;
    assert_int_equal(a->nposonly, 2);
    assert_string_equal(a->posonly[0].name, "self");
    assert_int_equal(a->nargs, 1);
    assert_int_equal(a->defaults.n, 1);
    assert_non_null(a->vararg);
    assert_string_equal(a->vararg->name, "c");
    assert_int_equal(a->nkwonly, 2);
    assert_null(a->kw_defaults[0]);
    assert_non_null(a->kw_defaults[1]);
    assert_string_equal(a->kwarg->name, "g");
    assert_non_null(m->u.func.returns);
    assert_int_equal(a->posonly[1].pos.col, 23);
}

/* ---- constants ---------------------------------------------------------- */

static void test_constants(void **state)
{
    fixture *f = *state;
    sf_expr *t = first_value(f, "(None, True, ..., 12345678901234567890123, 1.5, 1e400, 2j, 'é\\'\\n', b'a\\x00b', 0x10)\n");
    assert_int_equal(t->kind, SF_EX_TUPLE);
    assert_int_equal(t->u.seq.elts.n, 10);
    sf_expr **v = t->u.seq.elts.v;
    for (int i = 0; i < 10; i++)
        assert_int_equal(v[i]->kind, SF_EX_CONST);
    assert_int_equal(v[0]->u.constant.kind, SF_CONST_NONE);
    assert_string_equal(v[0]->u.constant.repr, "None");
    assert_int_equal(v[1]->u.constant.kind, SF_CONST_BOOL);
    assert_string_equal(v[1]->u.constant.repr, "True");
    assert_int_equal(v[2]->u.constant.kind, SF_CONST_ELLIPSIS);
    assert_int_equal(v[3]->u.constant.kind, SF_CONST_INT);
    assert_string_equal(v[3]->u.constant.repr, "12345678901234567890123");
    assert_int_equal(v[4]->u.constant.kind, SF_CONST_FLOAT);
    assert_string_equal(v[4]->u.constant.repr, "1.5");
    assert_string_equal(v[5]->u.constant.repr, "inf");
    assert_int_equal(v[6]->u.constant.kind, SF_CONST_COMPLEX);
    assert_string_equal(v[6]->u.constant.repr, "2j");
    assert_int_equal(v[7]->u.constant.kind, SF_CONST_STR);
    assert_string_equal(v[7]->u.constant.str, "é'\n");
    assert_int_equal(v[7]->u.constant.len, strlen("é'\n"));
    assert_string_equal(v[7]->u.constant.repr, "\"é'\\n\"");
    assert_int_equal(v[8]->u.constant.kind, SF_CONST_BYTES);
    assert_int_equal(v[8]->u.constant.len, 3);
    assert_memory_equal(v[8]->u.constant.str, "a\0b", 3);
    assert_string_equal(v[8]->u.constant.repr, "b'a\\x00b'");
    assert_string_equal(v[9]->u.constant.repr, "16");
}

static void test_huge_hex_int(void **state)
{
    fixture *f = *state;
    /* too many digits for repr() under the 4300-digit limit: kept in hex */
    size_t n = 6000;
    char *src = malloc(n + 16);
    strcpy(src, "x = 0x1");
    memset(src + 7, '0', n);
    strcpy(src + 7 + n, "\n");
    sf_expr *e = first_value(f, src);
    assert_int_equal(e->u.constant.kind, SF_CONST_INT);
    assert_int_equal(strncmp(e->u.constant.repr, "0x1000", 6), 0);
    assert_int_equal(strlen(e->u.constant.repr), n + 3);
    free(src);
}

static void test_surrogate_string(void **state)
{
    fixture *f = *state;
    sf_expr *e = first_value(f, "'\\ud800'\n");
    assert_int_equal(e->u.constant.kind, SF_CONST_STR);
    assert_string_equal(e->u.constant.repr, "'\\ud800'");
    assert_int_equal(e->u.constant.len, 3);
}

/* ---- errors --------------------------------------------------------------- */

static void test_syntax_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "x = 1\ndef f(:\n    pass\n"), -1);
    assert_int_equal(f->d.n, 1);
    assert_string_equal(f->d.v[0].msg, "invalid syntax");
    assert_int_equal(f->d.v[0].line, 2);
    assert_int_equal(f->d.v[0].col, 7);
    assert_int_equal(f->m.body.n, 0);
}

static void test_syntax_error_column_is_characters(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "s = 'é' + 'ü' $\n"), -1);
    assert_int_equal(f->d.v[0].line, 1);
    assert_int_equal(f->d.v[0].col, 15);
}

static void test_unclosed_paren(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "x = (1,\n"), -1);
    assert_string_equal(f->d.v[0].msg, "'(' was never closed");
    assert_int_equal(f->d.v[0].line, 1);
    assert_int_equal(f->d.v[0].col, 5);
}

static void test_indentation_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "x = 1\nif x:\npass\n"), -1);
    assert_string_equal(f->d.v[0].msg, "expected an indented block after 'if' statement on line 2");
    assert_int_equal(f->d.v[0].line, 3);
    assert_int_equal(f->d.v[0].col, 1);
}

static void test_invalid_utf8(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "x = 1\ny = '\xff'\n"), -1);
    assert_int_equal(f->d.n, 1);
    assert_non_null(strstr(f->d.v[0].msg, "not valid UTF-8"));
    assert_int_equal(f->d.v[0].line, 2);
    assert_int_equal(f->d.v[0].col, 6);

    sf_diag_free(&f->d);
    sf_diag_init(&f->d, "t.py");
    /* a truncated sequence at the very end, and an encoded surrogate */
    assert_int_equal(parse(f, "x = '\xc3"), -1);
    assert_int_equal(parse(f, "x = '\xed\xa0\x80'\n"), -1);
    assert_int_equal(f->d.n, 2);
}

static void test_nul_byte(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_n(f, "x = 1\nab\0c\n", 11), -1);
    assert_non_null(strstr(f->d.v[0].msg, "null bytes"));
    assert_int_equal(f->d.v[0].line, 2);
    assert_int_equal(f->d.v[0].col, 3);
}

static void test_deep_nesting(void **state)
{
    fixture *f = *state;
    /* a left-leaning chain of 400 additions: fine for CPython, too deep here */
    sf_buf src;
    sf_buf_init(&src);
    sf_buf_puts(&src, "x = a");
    for (int i = 0; i < 400; i++)
        sf_buf_puts(&src, " + a");
    sf_buf_putc(&src, '\n');
    assert_int_equal(parse(f, src.data), -1);
    assert_int_equal(f->d.n, 1);
    assert_non_null(strstr(f->d.v[0].msg, "expression nested too deeply"));
    assert_int_equal(f->d.v[0].line, 1);
    assert_int_equal(f->m.body.n, 0);

    /* 150 levels still convert */
    sf_buf_reset(&src);
    sf_buf_puts(&src, "x = a");
    for (int i = 0; i < 150; i++)
        sf_buf_puts(&src, " + a");
    sf_buf_putc(&src, '\n');
    sf_diag_free(&f->d);
    sf_diag_init(&f->d, "t.py");
    assert_int_equal(parse(f, src.data), 0);
    sf_buf_free(&src);
}

static void test_cpython_limits(void **state)
{
    fixture *f = *state;
    /* CPython's own limits are errors, never crashes */
    sf_buf src;
    sf_buf_init(&src);
    for (int i = 0; i < 300; i++)
        sf_buf_putc(&src, '(');
    for (int i = 0; i < 300; i++)
        sf_buf_putc(&src, ')');
    assert_int_equal(parse(f, src.data), -1);
    assert_string_equal(f->d.v[0].msg, "too many nested parentheses");

    sf_buf_reset(&src);
    for (int i = 0; i < 200000; i++)
        sf_buf_putc(&src, '-');
    sf_buf_puts(&src, "1\n");
    assert_int_equal(parse(f, src.data), -1);
    assert_int_equal(f->d.n, 2);
    sf_buf_free(&src);
}

static void test_empty_file(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_n(f, "", 0), 0);
    assert_int_equal(sf_parse(&f->a, "t.py", NULL, 0, &f->m, &f->d), 0);
    assert_int_equal(f->m.body.n, 0);
    assert_string_equal(f->m.source, "");
    assert_int_equal(parse(f, "# only a comment\n\n"), 0);
    assert_int_equal(f->m.body.n, 0);
    assert_int_equal(f->d.n, 0);
    assert_string_equal(unparsed(f, ""), "");
}

/* ---- match statements ------------------------------------------------------ */

static void test_match_source(void **state)
{
    fixture *f = *state;
    const char *src = "def f(p):\n"
                      "  match p:\n"
                      "    case [x, *_]:  # first\n"
                      "      return '''a\n"
                      "  b'''\n"
                      "  return 0\n";
    assert_int_equal(parse(f, src), 0);
    sf_stmt *m = f->m.body.v[0]->u.func.body.v[0];
    assert_int_equal(m->kind, SF_ST_MATCH);
    assert_int_equal(m->pos.line, 2);
    assert_int_equal(m->pos.col, 3);
    assert_string_equal(m->u.match.source,
                        "match p:\n"
                        "    case [x, *_]:  # first\n"
                        "      return '''a\n"
                        "  b'''");
    sf_buf_reset(&f->b);
    sf_unparse_module(&f->b, &f->m);
    /* re-indented to 4 spaces a level, the string's second line untouched */
    assert_string_equal(f->b.data, "def f(p):\n"
                                   "    match p:\n"
                                   "        case [x, *_]:  # first\n"
                                   "          return '''a\n"
                                   "  b'''\n"
                                   "    return 0\n");
}

/* ---- unparse ----------------------------------------------------------------- */

static void test_unparse_precedence(void **state)
{
    fixture *f = *state;
    /* {source, expected output or NULL when it is the source itself} */
    static const char *const cases[][2] = {
        {"x = -1 ** 2\n", NULL},
        {"x = (-1) ** 2\n", NULL},
        {"x = 2 ** -1\n", NULL},
        {"x = 2 ** 3 ** 4\n", NULL},
        {"x = (2 ** 3) ** 4\n", NULL},
        {"x = a - (b - c)\n", NULL},
        {"x = a - b - c\n", NULL},
        {"x = (a - b) - c\n", "x = a - b - c\n"},
        {"x = not a == b\n", NULL},
        {"x = (not a) == b\n", NULL},
        {"x = (a < b) < c\n", NULL},
        {"x = a < b < c\n", NULL},
        {"x = (a or b) and c\n", NULL},
        {"x = a if b else c if d else e\n", NULL},
        {"x = (a if b else c) if d else e\n", NULL},
        {"x = lambda a, /, b=1, *c, d, e=2, **k: (a, b)\n", NULL},
        {"x = f(a for a in b)\n", NULL},
        {"x = f((a for a in b), c)\n", NULL},
        {"x = a[1:2, ::3]\n", NULL},
        {"x = a[b,]\n", NULL},
        {"x = a[()]\n", NULL},
        {"x = a[(b := 1)]\n", NULL},
        {"x = 1 .real\n", NULL},
        {"x = (yield a, b)\n", "x = yield a, b\n"},
        {"x = f((yield))\n", NULL},
        {"def g():\n    return (yield from a)\n", NULL},
        {"x = await y ** 2\n", NULL},
        {"x = (await y) ** 2\n", "x = await y ** 2\n"},
        {"for a, b in c, d:\n    pass\n", NULL},
        {"for (a, b) in (c, d):\n    pass\n", "for a, b in c, d:\n    pass\n"},
        {"del a, (b, c)\n", NULL},
        {"with (a, b):\n    pass\n", "with a, b:\n    pass\n"},
        {"with ((a, b)):\n    pass\n", NULL},
        {"(x): int = 1\n", NULL},
        {"x = *a, *b\n", NULL},
        {"x = [i for i in a if i if not i for j in b]\n", NULL},
        {"x = {**a, 'k': 1}\n", NULL},
        {"(y := 1)\n", NULL},
        {"x = 1e309\n", NULL},
        {"from .. import x as y\n", NULL},
        {"async def f():\n    async with a as (b, c):\n        return [i async for i in d]\n", NULL},
        {"try:\n    pass\nexcept* (E, F) as e:\n    raise\n", NULL},
        {"def f(*args: *Ts):\n    pass\n", NULL},
        {"global a, b\n", NULL},
        {"x = {*()}\n", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(unparsed(f, cases[i][0]), cases[i][1] ? cases[i][1] : cases[i][0]);
}

static void test_unparse_fstrings(void **state)
{
    fixture *f = *state;
    assert_string_equal(unparsed(f, "f\"{a['k']}\"\n"), "f'{a[\"k\"]}'\n");
    assert_string_equal(unparsed(f, "f'{a[\"k\"]}'\n"), "f'{a[\"k\"]}'\n");
    assert_string_equal(unparsed(f, "f'''{a['k']}{b[\"j\"]}'''\n"), "f'{a[\"k\"]}{b[\"j\"]}'\n");
    assert_string_equal(unparsed(f, "f'{x!r:>{w}} {{lit}}\\n'\n"), "f'{x!r:>{w}} {{lit}}\\n'\n");
    assert_string_equal(unparsed(f, "f'{ {1: 2}[1]}'\n"), "f'{ {1: 2}[1]}'\n");
    assert_string_equal(unparsed(f, "f'{(lambda: 1)()}'\n"), "f'{(lambda: 1)()}'\n");
    assert_string_equal(unparsed(f, "f'{a if b else c}'\n"), "f'{(a if b else c)}'\n");
    assert_string_equal(unparsed(f, "f'{x=}'\n"), "f'x={x!r}'\n");
    assert_string_equal(unparsed(f, "f\"{f'{x}'}\"\n"), "f'{f\"{x}\"}'\n");
    assert_string_equal(unparsed(f, "f'''{\"'\" + a}'''\n"), "f'''{\"'\" + a}'''\n");
    assert_string_equal(unparsed(f, "f\"\"\"{f'{f\"{x}\"}'}\"\"\"\n"), "f'{f\"\"\"{f\"{x}\"}\"\"\"}'\n");
    /* `=` inside a nested format spec leaves braces in the spec's text,
     * which no quoting can write back: printed as format() calls */
    assert_string_equal(unparsed(f, "x = f'{x:{f\"{y}\"=}}'\n"),
                        "x = ''.join((format(x, f'f\"{{y}}\"={f\"{y}\"!r}'),))\n");
    assert_string_equal(unparsed(f, "x = f'{(k for k in s)!r:{f\"{y}\"=}}'\n"),
                        "x = ''.join((format(repr(k for k in s), f'f\"{{y}}\"={f\"{y}\"!r}'),))\n");
}

static void test_unparse_docstring_and_blocks(void **state)
{
    fixture *f = *state;
    assert_string_equal(unparsed(f, "def f():\n    \"\"\"Doc\n    more.\"\"\"\n    return\n"),
                        "def f():\n    \"\"\"Doc\n    more.\"\"\"\n    return\n");
    assert_string_equal(unparsed(f, "if a:\n  pass\nelif b:\n  pass\nelse:\n  x = 1\n"),
                        "if a:\n    pass\nelif b:\n    pass\nelse:\n    x = 1\n");
    assert_string_equal(unparsed(f, "class A(B, x=1): ...\n"), "class A(B, x=1):\n    ...\n");
}

/* ---- synthesised nodes ---------------------------------------------------- */

static void test_constructors(void **state)
{
    fixture *f = *state;
    sf_pos p = {1, 1, 1, 1};
    sf_expr *s = sf_expr_str(&f->a, "it's \"q\"\n\\", p);
    assert_string_equal(s->u.constant.repr, "'it\\'s \"q\"\\n\\\\'");
    sf_expr *i = sf_expr_int(&f->a, -5, p);
    sf_expr *attr = sf_expr_new(&f->a, SF_EX_ATTR, p);
    attr->u.attr.value = i;
    attr->u.attr.attr = "real";
    sf_expr *call = sf_expr_new(&f->a, SF_EX_CALL, p);
    call->u.call.func = sf_expr_name(&f->a, "f", p);
    sf_expr_list_push(&f->a, &call->u.call.args, s);
    sf_expr_list_push(&f->a, &call->u.call.args, attr);
    sf_expr_list_push(&f->a, &call->u.call.args, sf_expr_none(&f->a, p));
    assert_int_equal(call->u.call.args.n, 3);
    sf_buf_reset(&f->b);
    sf_unparse_expr(&f->b, call);
    assert_string_equal(f->b.data, "f('it\\'s \"q\"\\n\\\\', (-5).real, None)");

    sf_stmt *def = sf_stmt_new(&f->a, SF_ST_FUNCTIONDEF, p);
    def->u.func.name = "g";
    def->u.func.args = sf_arena_alloc(&f->a, sizeof(sf_arguments));
    sf_stmt *ret = sf_stmt_new(&f->a, SF_ST_RETURN, p);
    ret->u.ret.value = call;
    sf_buf_reset(&f->b);
    sf_unparse_stmt(&f->b, def, 1);
    assert_string_equal(f->b.data, "    def g():\n        pass\n");
    sf_stmt_list_push(&f->a, &def->u.func.body, ret);
    sf_buf_reset(&f->b);
    sf_unparse_stmt(&f->b, def, 0);
    assert_string_equal(f->b.data, "def g():\n    return f('it\\'s \"q\"\\n\\\\', (-5).real, None)\n");
    assert_string_equal(sf_op_str(SF_OP_NOTIN), "not in");
    assert_string_equal(sf_op_str(SF_OP_FLOORDIV), "//");
}

/* ---- speed ------------------------------------------------------------------ */

static void test_speed(void **state)
{
    fixture *f = *state;
    sf_buf src;
    sf_buf_init(&src);
    for (int i = 0; i < 250; i++)
        sf_buf_printf(&src,
                      "class C%d(Base):\n"
                      "    def m(self, a, b=%d, *rest, **kw):\n"
                      "        x = [i * 2 for i in range(a) if i %% 3]\n"
                      "        if self.total > b and not kw.get('flag'):\n"
                      "            return f'{self.name!r}: {x[0]:>10}'\n"
                      "        self.total += sum(x) + len(rest)\n"
                      "        return {'k': x, 'v': (a, b)}\n"
                      "\n",
                      i, i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(parse(f, src.data), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("parsed 2000 lines in %.1f ms\n", ms);
    assert_int_equal(f->m.body.n, 250);
    /* generous: sanitizer builds are several times slower */
    assert_true(ms < 2000.0);
    sf_buf_free(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions_are_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_and_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_and_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_hex_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surrogate_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_column_is_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclosed_paren, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indentation_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpython_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparse_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparse_fstrings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparse_docstring_and_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_speed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
