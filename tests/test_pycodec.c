/* test_pycodec.c: runtime/exec/pycodec.c in an isolated embedded CPython: round
 * trips of every type and nesting (exact types kept), the exact bytes,
 * canonical set order, the Ref type (equality, hash, repr, immutability,
 * copy, pickling refused), encoding errors with their paths (socket, lambda,
 * big ints, deep and self-containing values, subclasses, size), malformed
 * msgpack (every truncation, bad ext payloads, unhashable keys, depth,
 * random bytes), and agreement with the JSON codec; values beyond JSON
 * (dataclasses and Enums of a stand-in application module, datetimes with
 * time zones, Decimal, bytearray, frozenset, big ints): round trips, exact
 * bytes, their JSON forms, encoding errors, depth, malformed payloads. */
#include <Python.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "pycodec.h"
#include "stateflow/sf_value.h"

typedef struct T {
    sf_pycodec c;
    PyObject *g; /* globals of the test snippets */
} T;

static const char helpers[] =
    "import math, copy, pickle, socket, collections, enum, sys\n"
    "def same(a, b):\n"
    "    if type(a) is not type(b):\n"
    "        return False\n"
    "    if type(a) in (list, tuple):\n"
    "        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))\n"
    "    if type(a) is dict:\n"
    "        return len(a) == len(b) and all(same(x, y) and same(a[x], b[y]) for x, y in zip(a, b))\n"
    "    if type(a) is float:\n"
    "        if math.isnan(a):\n"
    "            return math.isnan(b)\n"
    "        return a == b and math.copysign(1, a) == math.copysign(1, b)\n"
    "    if type(a) in (set, frozenset):\n"
    "        return a == b and all(any(same(x, y) for y in b) for x in a)\n"
    "    if type(a) is Ref:\n"
    "        return a.entity == b.entity and same(a.key, b.key)\n"
    "    r = same_rich(a, b)\n"
    "    return a == b if r is None else r\n"
    "def nest(n, inner=0):\n"
    "    v = inner\n"
    "    for _ in range(n):\n"
    "        v = [v]\n"
    "    return v\n"
    "def nest_tuple(n):\n"
    "    v = 0\n"
    "    for _ in range(n):\n"
    "        v = (v,)\n"
    "    return v\n"
    "class Point:\n"
    "    pass\n"
    "class Color(enum.IntEnum):\n"
    "    RED = 1\n"
    "import dataclasses, datetime as dt, decimal, zoneinfo, types\n"
    "@dataclasses.dataclass\n"
    "class LocalDC:\n"
    "    x: int\n"
    "class MyTZ(dt.tzinfo):\n"
    "    def utcoffset(self, d):\n"
    "        return dt.timedelta(0)\n"
    "class MyDT(dt.datetime):\n"
    "    pass\n"
    "def same_tz(a, b):\n"
    "    if type(a) is dt.timezone and type(b) is dt.timezone:\n"
    "        return a.__getinitargs__() == b.__getinitargs__()\n"
    "    return a is b\n"
    "def same_rich(a, b):\n"
    "    if isinstance(a, enum.Enum):\n"
    "        return a is b\n"
    "    if dataclasses.is_dataclass(a):\n"
    "        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))\n"
    "    if type(a) in (dt.datetime, dt.time):\n"
    "        return a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.fold == b.fold and same_tz(a.tzinfo, b.tzinfo)\n"
    "    if type(a) in (dt.date, dt.timedelta, decimal.Decimal):\n"
    "        return repr(a) == repr(b)\n"
    "    return None\n"
    "APP = '''\n"
    "import dataclasses, enum, decimal\n"
    "from dataclasses import dataclass, field\n"
    "class Color(enum.IntEnum):\n"
    "    RED = 1\n"
    "    GREEN = 2\n"
    "class Status(enum.Enum):\n"
    "    OPEN = 'open'\n"
    "    PAID = 'paid'\n"
    "    ALIAS = 'open'\n"
    "class Perm(enum.Flag):\n"
    "    R = 4\n"
    "    W = 2\n"
    "class Pair(enum.Enum):\n"
    "    A = (1, 'a')\n"
    "@dataclass(frozen=True)\n"
    "class Money:\n"
    "    amount: decimal.Decimal\n"
    "    currency: str = 'EUR'\n"
    "@dataclass\n"
    "class Line:\n"
    "    sku: str\n"
    "    qty: int\n"
    "    price: Money\n"
    "    tags: frozenset = frozenset()\n"
    "    notes: list = field(default_factory=list)\n"
    "    total: int = field(init=False, default=0)\n"
    "    def __post_init__(self):\n"
    "        self.total = self.qty * 10\n"
    "class Outer:\n"
    "    @dataclass(frozen=True)\n"
    "    class Inner:\n"
    "        v: int\n"
    "@dataclass(slots=True)\n"
    "class Slotted:\n"
    "    a: int\n"
    "    b: list\n"
    "@dataclass\n"
    "class WithExtra:\n"
    "    a: int\n"
    "    def __post_init__(self):\n"
    "        self.extra = 1\n"
    "'''\n"
    "app = types.ModuleType('app')\n"
    "sys.modules['app'] = app\n"
    "exec(APP, app.__dict__)\n";

static void py_fail(const char *what)
{
    if (PyErr_Occurred())
        PyErr_Print();
    fail_msg("python failed: %s", what);
}

static int setup(void **state)
{
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&config, &config.home, L"/usr");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "cannot start python: %s\n", st.err_msg ? st.err_msg : "?");
        return -1;
    }
    T *t = calloc(1, sizeof *t);
    if (!t || sf_pycodec_init(&t->c) < 0)
        return -1;
    t->g = PyDict_New();
    PyDict_SetItemString(t->g, "__builtins__", PyEval_GetBuiltins());
    PyDict_SetItemString(t->g, "Ref", (PyObject *)t->c.ref_type);
    PyObject *r = PyRun_String(helpers, Py_file_input, t->g, t->g);
    if (!r) {
        PyErr_Print();
        return -1;
    }
    Py_DECREF(r);
    sf_pycodec_set_module(&t->c, PyDict_GetItemString(t->g, "app"));
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    T *t = *state;
    Py_CLEAR(t->g);
    sf_pycodec_fini(&t->c);
    Py_FinalizeEx();
    free(t);
    return 0;
}

static PyObject *ev(T *t, const char *expr)
{
    PyObject *v = PyRun_String(expr, Py_eval_input, t->g, t->g);
    if (!v)
        py_fail(expr);
    return v;
}

static void run(T *t, const char *code)
{
    PyObject *v = PyRun_String(code, Py_file_input, t->g, t->g);
    if (!v)
        py_fail(code);
    Py_DECREF(v);
}

static int call_same(T *t, PyObject *a, PyObject *b)
{
    PyObject *f = PyDict_GetItemString(t->g, "same");
    PyObject *r = PyObject_CallFunctionObjArgs(f, a, b, NULL);
    if (!r)
        py_fail("same()");
    int ok = PyObject_IsTrue(r);
    Py_DECREF(r);
    return ok;
}

/* encode expr, decode, compare with `expect_expr` (or expr itself) by exact
 * type and value, and check the decoded value re-encodes identically. */
static void rt2(T *t, const char *expr, const char *expect_expr)
{
    PyObject *v = ev(t, expr);
    sf_buf b, b2;
    char err[256] = "";
    sf_buf_init(&b);
    sf_buf_init(&b2);
    if (sf_pycodec_encode(&t->c, v, "value", &b, err, sizeof err) != 0)
        fail_msg("encode %s: %s", expr, err);
    PyObject *d = sf_pycodec_decode(&t->c, b.data, b.len, err, sizeof err);
    if (!d)
        fail_msg("decode %s: %s", expr, err);
    PyObject *want = expect_expr ? ev(t, expect_expr) : Py_NewRef(v);
    if (!call_same(t, want, d)) {
        PyObject *r = PyObject_Repr(d);
        fail_msg("round trip of %s gave %s", expr, r ? PyUnicode_AsUTF8(r) : "?");
    }
    if (sf_pycodec_encode(&t->c, d, "value", &b2, err, sizeof err) != 0)
        fail_msg("re-encode %s: %s", expr, err);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    /* the JSON writer accepts everything the encoder makes */
    sf_buf j;
    sf_buf_init(&j);
    if (sf_msgpack_to_json(b.data, b.len, &j, err, sizeof err) != 0)
        fail_msg("to json %s: %s", expr, err);
    sf_buf_free(&j);
    assert_null(PyErr_Occurred());
    Py_DECREF(want);
    Py_DECREF(d);
    Py_DECREF(v);
    sf_buf_free(&b);
    sf_buf_free(&b2);
}

static void rt(T *t, const char *expr) { rt2(t, expr, NULL); }

/* expr encodes to exactly these bytes */
static void bytes_of(T *t, const char *expr, const char *bytes, size_t n)
{
    PyObject *v = ev(t, expr);
    sf_buf b;
    char err[256];
    sf_buf_init(&b);
    if (sf_pycodec_encode(&t->c, v, "value", &b, err, sizeof err) != 0)
        fail_msg("encode %s: %s", expr, err);
    if (b.len != n || memcmp(b.data, bytes, n) != 0) {
        fprintf(stderr, "got:");
        for (size_t i = 0; i < b.len; i++)
            fprintf(stderr, " %02x", (unsigned char)b.data[i]);
        fprintf(stderr, "\n");
        fail_msg("wrong bytes for %s", expr);
    }
    sf_buf_free(&b);
    Py_DECREF(v);
}

/* encoding expr with `where` fails with exactly `msg`; out unchanged */
static void enc_bad(T *t, const char *expr, const char *where, const char *msg)
{
    PyObject *v = ev(t, expr);
    sf_buf b;
    char err[256] = "";
    sf_buf_init(&b);
    sf_buf_puts(&b, "abc");
    if (sf_pycodec_encode(&t->c, v, where, &b, err, sizeof err) == 0)
        fail_msg("encoding %s should fail", expr);
    if (strcmp(err, msg) != 0)
        fail_msg("encoding %s: got '%s', expected '%s'", expr, err, msg);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_null(PyErr_Occurred());
    sf_buf_free(&b);
    Py_DECREF(v);
}

static void dec_bad(T *t, const char *bytes, size_t n, const char *msg)
{
    char err[256] = "";
    PyObject *d = sf_pycodec_decode(&t->c, bytes, n, err, sizeof err);
    if (d) {
        PyObject *r = PyObject_Repr(d);
        fail_msg("decoding should fail (got %s)", r ? PyUnicode_AsUTF8(r) : "?");
    }
    if (!strstr(err, msg))
        fail_msg("decode error '%s' does not contain '%s'", err, msg);
    assert_null(PyErr_Occurred());
}

#define MP(s) s, sizeof(s) - 1

/* ---- round trips -------------------------------------------------------- */

static void test_roundtrip_scalars(void **state)
{
    T *t = *state;
    const char *exprs[] = {
        "None", "True", "False", "0", "1", "-1", "127", "128", "255", "256", "-32", "-33", "-128", "-129",
        "65535", "65536", "-32768", "-32769", "2**31", "-2**31-1", "2**32", "2**63-1", "-2**63",
        "0.0", "-0.0", "1.5", "-1e300", "5e-324", "float('inf')", "float('-inf')", "float('nan')",
        "''", "'a'", "'h\\u00e9llo \\u20ac \\U0001f600'", "'\\x00'", "'x' * 31", "'x' * 32", "'x' * 255",
        "'x' * 256", "'x' * 70000", "b''", "b'\\x00\\xff'", "b'x' * 256", "b'x' * 70000",
    };
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
        rt(t, exprs[i]);
}

static void test_roundtrip_containers(void **state)
{
    T *t = *state;
    const char *exprs[] = {
        "[]", "()", "{}", "set()", "[1, [2, [3, []]]]", "(1,)", "(1, 'a', (2, (3,)), [4])",
        "{'a': 1, 'b': [1, 2], 'c': {'d': None}}", "{1: 'a', (1, 2): [3], None: 0, 2.5: True, b'k': 1}",
        "{Ref('Item', 'apple'): 1, (Ref('A', 1), 2): 'x'}", "{1, 2, 3}", "{(1, 2), 'x', None, 1.5, b'b'}",
        "{frozenset({1, 2}), frozenset()}", "{frozenset({frozenset({1})})}", "{(frozenset({1}),): 1}",
        "Ref('Item', 'apple')", "Ref('User', ('a', 1))", "Ref('A', Ref('B', 2))", "[Ref('A', 1), {Ref('A', 1)}]",
        "Ref('Odd', [1, {'x': {2}}])", "list(range(1000))", "{str(i): i for i in range(100)}",
        "{i: [i] * 3 for i in range(40)}", "set(range(100))", "tuple(range(20))", "[[]] * 20",
        "nest(64)", "nest_tuple(64)", "nest(61, {'a': (1, {2})})", "nest(62, {'a': (1, 2)})", "[{'k': (1, [2, {3}])}]",
        "{'users': {'alice': {'balance': 10, 'items': [Ref('Item', 'apple')], 'tags': {'a', 'b'}}}}",
    };
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
        rt(t, exprs[i]);
    /* a frozenset stays a frozenset everywhere */
    rt(t, "frozenset({1, 2})");
    rt(t, "[frozenset()]");
    rt(t, "{frozenset({1}): frozenset({2})}");
}

static void test_exact_bytes(void **state)
{
    T *t = *state;
    bytes_of(t, "True", MP("\xc3"));
    bytes_of(t, "False", MP("\xc2"));
    bytes_of(t, "1", MP("\x01"));
    bytes_of(t, "None", MP("\xc0"));
    bytes_of(t, "-1", MP("\xff"));
    bytes_of(t, "2**63-1", MP("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"));
    bytes_of(t, "-2**63", MP("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"));
    bytes_of(t, "1.5", MP("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"));
    bytes_of(t, "'ab'", MP("\xa2\x61\x62"));
    bytes_of(t, "b'hi'", MP("\xc4\x02hi"));
    bytes_of(t, "[1, True]", MP("\x92\x01\xc3"));
    bytes_of(t, "{'a': 1}", MP("\x81\xa1\x61\x01"));
    bytes_of(t, "()", MP("\xd4\x01\x90"));
    bytes_of(t, "(1,)", MP("\xd5\x01\x91\x01"));
    bytes_of(t, "(1, 2)", MP("\xc7\x03\x01\x92\x01\x02"));
    bytes_of(t, "(1, 2, 3)", MP("\xd6\x01\x93\x01\x02\x03"));
    bytes_of(t, "set()", MP("\xd4\x02\x90"));
    bytes_of(t, "{2, 1}", MP("\xc7\x03\x02\x92\x01\x02"));
    bytes_of(t, "frozenset({2, 1})", MP("\xc7\x03\x04\x92\x01\x02"));
    bytes_of(t, "2**64", MP("\xc7\x16\x05\x91\xb4" "18446744073709551616"));
    bytes_of(t, "-2**63-1", MP("\xc7\x16\x05\x91\xb4" "-9223372036854775809"));
    bytes_of(t, "bytearray(b'x')", MP("\xd6\x06\x91\xc4\x01x"));
    bytes_of(t, "decimal.Decimal('1.50')", MP("\xc7\x06\x07\x91\xa4" "1.50"));
    bytes_of(t, "dt.date(2024, 1, 2)", MP("\xc7\x06\x09\x93\xcd\x07\xe8\x01\x02"));
    bytes_of(t, "dt.timedelta(1, 2, 3)", MP("\xd6\x0b\x93\x01\x02\x03"));
    bytes_of(t, "dt.time(1, 2, 3, 4)", MP("\xc7\x06\x0a\x95\x01\x02\x03\x04\x00"));
    bytes_of(t, "dt.time(1, tzinfo=dt.timezone.utc)", MP("\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x00\x00\xc0"));
    bytes_of(t, "dt.datetime(2024, 1, 2, 3, 4, 5, 6)",
             MP("\xc7\x0b\x08\x98\xcd\x07\xe8\x01\x02\x03\x04\x05\x06\x00"));
    bytes_of(t, "app.Color.RED", MP("\xc7\x0c\x0c\x93\xa5" "Color" "\xa3" "RED" "\x01"));
    bytes_of(t, "app.Outer.Inner(7)", MP("\xc7\x11\x0d\x92\xab" "Outer.Inner" "\x81\xa1v\x07"));
    bytes_of(t, "Ref('Item', 'apple')", MP("\xc7\x0c\x03\x92\xa4Item\xa5\x61pple"));
    bytes_of(t, "Ref('A', 1)", MP("\xd6\x03\x92\xa1\x41\x01"));
    /* a tuple payload of 300 bytes takes an ext16 header */
    PyObject *v = ev(t, "(b'x' * 295,)");
    sf_buf b;
    char err[128];
    sf_buf_init(&b);
    assert_int_equal(sf_pycodec_encode(&t->c, v, "v", &b, err, sizeof err), 0);
    assert_int_equal((unsigned char)b.data[0], 0xc8);
    assert_int_equal(b.len, 4 + 1 + 3 + 295);
    sf_buf_free(&b);
    Py_DECREF(v);
}

static void test_canonical_sets(void **state)
{
    T *t = *state;
    /* sets equal in value encode identically whatever their history */
    const char *pairs[][2] = {
        {"set(['b', 'a', 'c'])", "set(['c', 'b', 'a'])"},
        {"set(str(i) for i in range(100))", "set(str(i) for i in reversed(range(100)))"},
        {"{1, 'a', (1, 2), None, 2.5, Ref('X', 1)}", "{Ref('X', 1), 2.5, None, (1, 2), 'a', 1}"},
        {"(lambda s: (s.update(range(1000)), s.difference_update(range(10, 1000)), s)[2])(set())",
         "set(range(10))"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        PyObject *a = ev(t, pairs[i][0]), *b = ev(t, pairs[i][1]);
        sf_buf ba, bb;
        char err[128];
        sf_buf_init(&ba);
        sf_buf_init(&bb);
        assert_int_equal(sf_pycodec_encode(&t->c, a, "a", &ba, err, sizeof err), 0);
        assert_int_equal(sf_pycodec_encode(&t->c, b, "b", &bb, err, sizeof err), 0);
        assert_int_equal(ba.len, bb.len);
        assert_memory_equal(ba.data, bb.data, ba.len);
        sf_buf_free(&ba);
        sf_buf_free(&bb);
        Py_DECREF(a);
        Py_DECREF(b);
    }
    /* the order is by encoded bytes: "a" (a1 61) < "b" < 1 (01)? no: 0x01 < 0xa1 */
    bytes_of(t, "{'b', 'a', 1}", MP("\xc7\x06\x02\x93\x01\xa1\x61\xa1\x62"));
}

static void test_ref(void **state)
{
    T *t = *state;
    run(t,
        "r = Ref('Item', 'apple')\n"
        "assert repr(r) == \"Ref('Item', 'apple')\", repr(r)\n"
        "assert repr(Ref('User', ('a', 1))) == \"Ref('User', ('a', 1))\"\n"
        "assert r.entity == 'Item' and r.key == 'apple'\n"
        "assert r == Ref('Item', 'apple') and not (r != Ref('Item', 'apple'))\n"
        "assert r != Ref('Item', 'pear') and r != Ref('User', 'apple')\n"
        "assert r != ('Item', 'apple') and r != 'apple' and r != None\n"
        "assert hash(r) == hash(Ref('Item', 'apple'))\n"
        "assert Ref('A', 1) == Ref('A', True) and hash(Ref('A', 1)) == hash(Ref('A', 1.0))\n"
        "assert len({r, Ref('Item', 'apple'), Ref('Item', 'pear')}) == 2\n"
        "d = {r: 1}\n"
        "assert d[Ref('Item', 'apple')] == 1\n"
        "assert Ref(key=3, entity='E') == Ref('E', 3)\n"
        "for attr in ('entity', 'key', 'other'):\n"
        "    try:\n"
        "        setattr(r, attr, 'x')\n"
        "    except AttributeError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError('mutable ' + attr)\n"
        "assert copy.copy(r) is r and copy.deepcopy(r) is r\n"
        "l = copy.deepcopy([r, {'k': r}])\n"
        "assert l[0] is r and l[1]['k'] is r\n"
        "try:\n"
        "    pickle.dumps(r)\n"
        "except TypeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('pickled')\n"
        "for args in [(), ('A',), (1, 2), ('', 1), ('\\ud800', 1)]:\n"
        "    try:\n"
        "        Ref(*args)\n"
        "    except (TypeError, ValueError):\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError(args)\n"
        "try:\n"
        "    class Sub(Ref): pass\n"
        "except TypeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('subclassable')\n"
        "try:\n"
        "    hash(Ref('A', [1]))\n"
        "except TypeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('list key hashed')\n"
        "assert Ref('A', [1]) == Ref('A', [1])\n"
        "l = [Ref('A', 0)]\n"
        "cyc = Ref('A', l)\n"
        "l.append(cyc)\n"
        "del l, cyc\n"
        "import gc; gc.collect()\n");
    /* the C accessors */
    PyObject *key = PyUnicode_FromString("apple");
    PyObject *r = sf_pycodec_ref_new(&t->c, "Item", key);
    assert_non_null(r);
    assert_true(sf_pycodec_is_ref(&t->c, r));
    assert_false(sf_pycodec_is_ref(&t->c, key));
    assert_string_equal(sf_pycodec_ref_entity(r), "Item");
    assert_ptr_equal(sf_pycodec_ref_key(r), key);
    PyObject *other = ev(t, "Ref('Item', 'apple')");
    assert_int_equal(PyObject_RichCompareBool(r, other, Py_EQ), 1);
    Py_DECREF(other);
    Py_DECREF(r);
    Py_DECREF(key);
}

/* ---- encoding errors ---------------------------------------------------- */

static void test_encode_errors(void **state)
{
    T *t = *state;
    run(t, "sock = socket.socket()\n");
    enc_bad(t, "sock", "attribute 'conn'", "attribute 'conn': cannot store a value of type 'socket'");
    run(t, "sock.close()\n");
    enc_bad(t, "lambda: 0", "argument 1", "argument 1: cannot store a value of type 'function'");
    enc_bad(t, "[0, 1, 2, {'x': lambda: 0}]", "attribute 'items'",
            "attribute 'items'[3]['x']: cannot store a value of type 'function'");
    enc_bad(t, "10**4300", "argument 2", "argument 2: int too large (more than 4300 digits)");
    enc_bad(t, "-(10**4300)", "return value", "return value: int too large (more than 4300 digits)");
    enc_bad(t, "{'a': [1, 2**100000]}", "x", "x['a'][1]: int too large (more than 4300 digits)");
    enc_bad(t, "nest(65)", "value", "value: nested too deeply (limit 64)");
    enc_bad(t, "nest_tuple(65)", "value", "value: nested too deeply (limit 64)");
    enc_bad(t, "(lambda l: (l.append(l), l)[1])([])", "attribute 'l'", "attribute 'l': nested too deeply (limit 64)");
    enc_bad(t, "(lambda d: (d.__setitem__('d', d), d)[1])({})", "attribute 'd'",
            "attribute 'd': nested too deeply (limit 64)");
    enc_bad(t, "(x for x in ())", "v", "v: cannot store a value of type 'generator'");
    enc_bad(t, "math", "v", "v: cannot store a value of type 'module'");
    enc_bad(t, "object()", "v", "v: cannot store a value of type 'object'");
    enc_bad(t, "Point()", "v", "v: cannot store a value of type 'Point'");
    enc_bad(t, "Point", "v", "v: cannot store a value of type 'type'");
    enc_bad(t, "collections.OrderedDict()", "v", "v: cannot store a value of type 'OrderedDict'");
    enc_bad(t, "collections.defaultdict(int)", "v", "v: cannot store a value of type 'defaultdict'");
    enc_bad(t, "Color.RED", "v",
            "v: cannot store a value of type 'Color': only Enums defined in the application's module (found there "
            "by name) can be stored");
    enc_bad(t, "1j", "v", "v: cannot store a value of type 'complex'");
    enc_bad(t, "{1, Point}", "attribute 's'", "attribute 's' (a set element): cannot store a value of type 'type'");
    enc_bad(t, "{'a': {Point: 1}}", "x", "x['a'] (a dict key): cannot store a value of type 'type'");
    enc_bad(t, "{5: [None, print]}", "x", "x[5][1]: cannot store a value of type 'builtin_function_or_method'");
    enc_bad(t, "{None: [len]}", "x", "x[None][0]: cannot store a value of type 'builtin_function_or_method'");
    enc_bad(t, "((1, lambda: 0),)", "x", "x[0][1]: cannot store a value of type 'function'");
    enc_bad(t, "{(1, 2): object()}", "x", "x[...]: cannot store a value of type 'object'");
    enc_bad(t, "Ref('A', [0, lambda: 0])", "x", "x.key[1]: cannot store a value of type 'function'");
    enc_bad(t, "{'k' * 100: object()}", "x",
            "x['kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...]: cannot store a value of type 'object'");
    enc_bad(t, "'a\\ud800'", "attribute 's'",
            "attribute 's': cannot store a str that is not valid Unicode (it holds a lone surrogate)");
    enc_bad(t, "object()", NULL, "value: cannot store a value of type 'object'");
    enc_bad(t, "b'x' * (16 * 1024 * 1024 + 1)", "attribute 'blob'",
            "attribute 'blob': value too large (more than 16777216 bytes encoded)");
    enc_bad(t, "[b'x' * (1 << 20)] * 17", "attribute 'blobs'",
            "attribute 'blobs': value too large (more than 16777216 bytes encoded)");
    enc_bad(t, "{str(i): 'y' * (1 << 20) for i in range(17)}", "attribute 'd'",
            "attribute 'd': value too large (more than 16777216 bytes encoded)");
    enc_bad(t, "set(bytes([i]) * (1 << 20) for i in range(17))", "attribute 'd'",
            "attribute 'd': value too large (more than 16777216 bytes encoded)");
    /* a large set goes through the heap path and still fails cleanly */
    enc_bad(t, "set(range(100)) | {Point}", "s", "s (a set element): cannot store a value of type 'type'");
    /* a failing encode after a good one leaves the good bytes alone */
    sf_buf b;
    char err[128];
    sf_buf_init(&b);
    PyObject *ok = ev(t, "[1, 2]"), *no = ev(t, "[1, object()]");
    assert_int_equal(sf_pycodec_encode(&t->c, ok, "a", &b, err, sizeof err), 0);
    assert_int_equal(sf_pycodec_encode(&t->c, no, "b", &b, err, sizeof err), -1);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "\x92\x01\x02", 3);
    sf_buf_free(&b);
    Py_DECREF(ok);
    Py_DECREF(no);
}

/* ---- decoding errors ---------------------------------------------------- */

static void test_truncations(void **state)
{
    T *t = *state;
    PyObject *v = ev(t, "{'users': {'alice': {'balance': -10**12, 'items': [Ref('Item', 'apple'), 1.5, b'xyz'], "
                        "'tags': {'a', 'b'}, 't': (1, (None, True)), 's': 'x' * 40}}, 2**40: set()}");
    sf_buf b;
    char err[256];
    sf_buf_init(&b);
    assert_int_equal(sf_pycodec_encode(&t->c, v, "v", &b, err, sizeof err), 0);
    for (size_t n = 0; n < b.len; n++) {
        err[0] = '\0';
        PyObject *d = sf_pycodec_decode(&t->c, b.data, n, err, sizeof err);
        assert_null(d);
        assert_true(err[0] != '\0');
        assert_null(PyErr_Occurred());
        /* the JSON writer refuses it too */
        sf_buf j;
        sf_buf_init(&j);
        assert_int_equal(sf_msgpack_to_json(b.data, n, &j, err, sizeof err), -1);
        sf_buf_free(&j);
    }
    PyObject *d = sf_pycodec_decode(&t->c, b.data, b.len, err, sizeof err);
    assert_non_null(d);
    assert_true(call_same(t, v, d));
    Py_DECREF(d);
    /* trailing bytes */
    sf_buf_putc(&b, 0);
    dec_bad(t, b.data, b.len, "trailing bytes after the value");
    /* decode_prefix accepts them and says where the value ends */
    size_t used = 0;
    d = sf_pycodec_decode_prefix(&t->c, b.data, b.len, &used, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(used, b.len - 1);
    Py_DECREF(d);
    sf_buf_free(&b);
    Py_DECREF(v);
}

static void test_decode_errors(void **state)
{
    T *t = *state;
    dec_bad(t, MP(""), "msgpack: truncated value at offset 0");
    dec_bad(t, MP("\xc1"), "msgpack: invalid byte 0xc1 at offset 0");
    dec_bad(t, MP("\x92\x01\xc1"), "invalid byte 0xc1 at offset 2");
    dec_bad(t, MP("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"), "int too large (more than 64 bits) at offset 0");
    dec_bad(t, MP("\xa2\xc3\x28"), "invalid UTF-8 in str at offset 0");
    dec_bad(t, MP("\xa3\xed\xa0\x80"), "invalid UTF-8"); /* an encoded surrogate */
    dec_bad(t, MP("\xdd\xff\xff\xff\xff"), "truncated");
    dec_bad(t, MP("\xdf\x7f\xff\xff\xff\x01"), "truncated");
    dec_bad(t, MP("\xc6\xff\xff\xff\xff"), "truncated");
    dec_bad(t, MP("\xd4\x2a\x00"), "unknown extension type 42 at offset 0");
    dec_bad(t, MP("\xd4\xff\x00"), "unknown extension type -1");
    dec_bad(t, MP("\xd4\x01\x01"), "extension type 1 at offset 0: payload is not an array");
    dec_bad(t, MP("\xd4\x02\xa0"), "payload is not an array");
    dec_bad(t, MP("\xd5\x01\x90\x01"), "trailing bytes in payload");
    dec_bad(t, MP("\xd5\x01\x92\x01"), "truncated");
    dec_bad(t, MP("\xd6\x03\x92\x01\x02\xc0"), "bad reference at offset 0 (expected [entity, key])");
    dec_bad(t, MP("\xd5\x03\x91\xa0"), "bad reference");
    dec_bad(t, MP("\xc7\x03\x03\x92\xa0\x01"), "bad reference");
    dec_bad(t, MP("\xc7\x05\x03\x93\xa1U\x01\x02"), "bad reference");
    dec_bad(t, MP("\xc7\x04\x03\x92\xa1\xff\x01"), "invalid UTF-8 in str");
    dec_bad(t, MP("\xc7\x04\x03\x92\xa1U\xc1"), "invalid byte 0xc1");
    /* unhashable keys and set elements */
    dec_bad(t, MP("\x81\x91\x01\x01"), "a list cannot be a dict key or set element (offset 1)");
    dec_bad(t, MP("\x81\x80\x01"), "a dict cannot be a dict key or set element");
    dec_bad(t, MP("\xd5\x02\x91\x90"), "a list cannot be a dict key or set element");
    dec_bad(t, MP("\xc7\x05\x02\x91\xd5\x01\x91\x90"), "a list cannot be"); /* {([],)} */
    dec_bad(t, MP("\x81\xc7\x05\x03\x92\xa1U\x91\x01\x01"), "a list cannot be"); /* {Ref('U', [1]): 1} */
    /* a set inside a set or a key is a frozenset */
    PyObject *d = sf_pycodec_decode(&t->c, MP("\xc7\x05\x02\x91\xd5\x02\x91\x01"), NULL, 0);
    assert_non_null(d);
    PyObject *want = ev(t, "{frozenset({1})}");
    assert_true(call_same(t, want, d));
    Py_DECREF(want);
    Py_DECREF(d);
    /* duplicate map keys: the last wins */
    d = sf_pycodec_decode(&t->c, MP("\x82\xa1k\x01\xa1k\x02"), NULL, 0);
    want = ev(t, "{'k': 2}");
    assert_true(call_same(t, want, d));
    Py_DECREF(want);
    Py_DECREF(d);
    /* depth: 64 levels decode, 65 do not, for lists, maps and ext */
    char b[200];
    char err[128];
    memset(b, 0x91, 63);
    b[63] = (char)0x90;
    d = sf_pycodec_decode(&t->c, b, 64, err, sizeof err);
    assert_non_null(d);
    Py_DECREF(d);
    memset(b, 0x91, 64);
    b[64] = (char)0x90;
    dec_bad(t, b, 65, "msgpack: nested too deeply (limit 64) at offset 64");
    size_t k = 0;
    for (int i = 0; i < 65; i++) {
        b[k++] = (char)0x81;
        b[k++] = 0x01;
    }
    b[k++] = 0x01;
    dec_bad(t, b, k, "nested too deeply");
    k = 0; /* 65 nested 1-tuples, built from the inside out */
    char tb[400];
    size_t tl = 0;
    tb[tl++] = 0x00;
    for (int i = 0; i < 65; i++) {
        char tmp[400];
        size_t pl = tl + 1; /* payload: 0x91 + inner */
        size_t h;
        if (pl == 1 || pl == 2 || pl == 4 || pl == 8 || pl == 16) {
            static const unsigned char fx[17] = {0, 0xd4, 0xd5, 0, 0xd6, 0, 0, 0, 0xd7, 0, 0, 0, 0, 0, 0, 0, 0xd8};
            tmp[0] = (char)fx[pl];
            tmp[1] = 0x01;
            h = 2;
        } else if (pl <= 255) {
            tmp[0] = (char)0xc7;
            tmp[1] = (char)pl;
            tmp[2] = 0x01;
            h = 3;
        } else {
            tmp[0] = (char)0xc8;
            tmp[1] = (char)(pl >> 8);
            tmp[2] = (char)pl;
            tmp[3] = 0x01;
            h = 4;
        }
        tmp[h] = (char)0x91;
        memcpy(tmp + h + 1, tb, tl);
        tl = h + 1 + tl;
        memcpy(tb, tmp, tl);
        if (i == 63) {
            d = sf_pycodec_decode(&t->c, tb, tl, err, sizeof err);
            if (!d)
                fail_msg("64 nested tuples: %s", err);
            Py_DECREF(d);
        }
    }
    dec_bad(t, tb, tl, "nested too deeply");
    /* size limit */
    dec_bad(t, b, (size_t)SF_VALUE_MAX_BYTES + 1, "value too large");
    assert_null(PyErr_Occurred());
}

static void test_random_bytes(void **state)
{
    T *t = *state;
    uint64_t x = 0x243f6a8885a308d3ull;
    char buf[64];
    char err[128];
    int decoded = 0;
    for (int i = 0; i < 50000; i++) {
        size_t n = 0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n = (size_t)(x % sizeof buf);
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* bias towards container and ext headers */
            static const unsigned char pick[] = {0x91, 0x92, 0x81, 0xd4, 0xd5, 0xd6, 0xc7, 0x01, 0x02, 0x03,
                                                 0xa1, 0x41, 0x90, 0x80, 0xc0, 0xc3};
            buf[j] = (x & 0x100) ? (char)pick[(x >> 9) % sizeof pick] : (char)x;
        }
        PyObject *d = sf_pycodec_decode(&t->c, buf, n, err, sizeof err);
        assert_null(PyErr_Occurred());
        if (d) {
            decoded++;
            sf_buf b;
            sf_buf_init(&b);
            /* whatever decodes encodes again (it may be unhashable as a
             * whole, but encoding never hashes) */
            if (sf_pycodec_encode(&t->c, d, "v", &b, err, sizeof err) != 0)
                fail_msg("decoded value does not encode: %s", err);
            sf_buf_free(&b);
            Py_DECREF(d);
        }
    }
    assert_true(decoded > 100);
}

/* ---- reference leaks ----------------------------------------------------- */

static long allocated_blocks(T *t)
{
    PyObject *n = ev(t, "sys.getallocatedblocks()");
    long v = PyLong_AsLong(n);
    Py_DECREF(n);
    return v;
}

/* Every path, good or failing, releases what it made: the interpreter's
 * count of allocated blocks stays flat over many rounds. CPython's own
 * caches keep filling for a few thousand rounds of the rich values (dataclass
 * and Enum lookups, failed encodings), so the count is taken late. */
static void test_no_refleaks(void **state)
{
    T *t = *state;
    PyObject *good = ev(t, "{'a': [1, 'x' * 40, (2, Ref('A', (1, 'k'))), {3, 'y'}, {frozenset({1}): b'z'}], "
                           "2: None, 1.5: [True, -2**63], 'rich': [app.Line('a', 1, app.Money(decimal.Decimal('1.5')), "
                           "frozenset({app.Color.RED})), dt.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo('UTC')), "
                           "dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=1), 'X')), dt.timedelta(-1), 2**70, "
                           "bytearray(b'ab'), app.Perm(0), {dt.date(1, 2, 3): app.Status.PAID}]}");
    PyObject *bads[] = {
        ev(t, "[0, 1, {'x': [lambda: 0]}]"), ev(t, "{'k' * 100: object()}"), ev(t, "{(1, 2): object()}"),
        ev(t, "[10**5000]"), ev(t, "nest(70)"), ev(t, "set(range(40)) | {Point}"), ev(t, "Ref('A', [object()])"),
        ev(t, "['a\\ud800']"), ev(t, "[app.WithExtra(1)]"), ev(t, "[dt.datetime(2024, 1, 1, tzinfo=MyTZ())]"),
        ev(t, "[app.Line('a', 1, app.Money(1), frozenset({lambda: 0}))]"), ev(t, "{'k': LocalDC(1)}"),
    };
    static const char *const bad_mp[][2] = {
        {"\x81\x91\x01\x01", "4"}, {"\xc7\x05\x02\x91\xd5\x01\x91\x90", "8"},
        {"\xc7\x04\x03\x92\xa1\xff\x01", "7"}, {"\xc7\x04\x03\x92\xa1U\xc1", "7"},
        {"\x92\x01\xa2\xc3\x28", "5"}, {"\xd5\x01\x90\x01", "4"}, {"\x81\x01\xc1", "3"},
        {"\xc7\x07\x0d\x92\xa4Nope\x80", "10"}, {"\xc7\x10\x0d\x92\xa5Money\x81\xa6" "amount\x01", "19"},
        {"\xc7\x0d\x0c\x93\xa5" "Color\xa4PINK\x09", "16"}, {"\xc7\x05\x07\x91\xa3" "abc", "8"},
        {"\xc7\x06\x09\x93\xcd\x07\xe8\x0d\x01", "9"}, {"\xc7\x03\x05\x91\xa1\x35", "6"},
        {"\xc7\x15\x0a\x98\x01\x00\x00\x00\x00\x01\xc0\xac" "Nowhere/City", "24"},
        {"\xc7\x08\x0d\x92\xa5Money\x81\xa6" "amount\x01", "11"},
    };
    sf_buf b, g;
    char err[256];
    sf_buf_init(&b);
    sf_buf_init(&g);
    assert_int_equal(sf_pycodec_encode(&t->c, good, "g", &g, err, sizeof err), 0);
    long before = 0;
    for (int round = 0; round < 6000; round++) {
        if (round == 4500)
            before = allocated_blocks(t);
        sf_buf_reset(&b);
        assert_int_equal(sf_pycodec_encode(&t->c, good, "g", &b, err, sizeof err), 0);
        PyObject *d = sf_pycodec_decode(&t->c, b.data, b.len, err, sizeof err);
        assert_non_null(d);
        Py_DECREF(d);
        for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
            assert_int_equal(sf_pycodec_encode(&t->c, bads[i], "b", &b, err, sizeof err), -1);
        for (size_t i = 0; i < sizeof bad_mp / sizeof bad_mp[0]; i++)
            assert_null(sf_pycodec_decode(&t->c, bad_mp[i][0], (size_t)atoi(bad_mp[i][1]), err, sizeof err));
        for (size_t n = round % 7; n < g.len; n += 7)
            assert_null(sf_pycodec_decode(&t->c, g.data, n, err, sizeof err));
    }
    long after = allocated_blocks(t);
    if (after - before > 100)
        fail_msg("allocated blocks grew from %ld to %ld", before, after);
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
        Py_DECREF(bads[i]);
    Py_DECREF(good);
    sf_buf_free(&b);
    sf_buf_free(&g);
}

/* ---- agreement with the JSON codec -------------------------------------- */

static void test_json_agreement(void **state)
{
    T *t = *state;
    const char *texts[] = {
        "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{}}",
        "{\"$ref\":[\"Item\",\"apple\"]}",
        "[{\"$ref\":[\"User\",[1,\"a\"]]},{\"$bytes\":\"AAEC/w==\"}]",
        "-9223372036854775808",
        "[-0.0,1e+16,0.1]",
        "\"h\xc3\xa9\\n\"",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        sf_buf mp, mp2, js;
        char err[256];
        sf_buf_init(&mp);
        sf_buf_init(&mp2);
        sf_buf_init(&js);
        assert_int_equal(sf_json_to_msgpack(texts[i], strlen(texts[i]), &mp, err, sizeof err), 0);
        PyObject *d = sf_pycodec_decode(&t->c, mp.data, mp.len, err, sizeof err);
        if (!d)
            fail_msg("%s: %s", texts[i], err);
        assert_int_equal(sf_pycodec_encode(&t->c, d, "v", &mp2, err, sizeof err), 0);
        /* both encoders produce the same bytes */
        assert_int_equal(mp.len, mp2.len);
        assert_memory_equal(mp.data, mp2.data, mp.len);
        assert_int_equal(sf_msgpack_to_json(mp2.data, mp2.len, &js, err, sizeof err), 0);
        assert_string_equal(js.data, texts[i]);
        Py_DECREF(d);
        sf_buf_free(&mp);
        sf_buf_free(&mp2);
        sf_buf_free(&js);
    }
    /* tuples and sets become arrays; non-string keys their JSON text */
    PyObject *v = ev(t, "{'t': (1, 2), 's': {3}, 1: Ref('A', 1), (1, 'a'): b'\\x00'}");
    sf_buf mp, js;
    char err[256];
    sf_buf_init(&mp);
    sf_buf_init(&js);
    assert_int_equal(sf_pycodec_encode(&t->c, v, "v", &mp, err, sizeof err), 0);
    assert_int_equal(sf_msgpack_to_json(mp.data, mp.len, &js, err, sizeof err), 0);
    assert_string_equal(js.data, "{\"t\":[1,2],\"s\":[3],\"1\":{\"$ref\":[\"A\",1]},\"[1,\\\"a\\\"]\":{\"$bytes\":\"AA==\"}}");
    sf_buf_free(&mp);
    sf_buf_free(&js);
    Py_DECREF(v);
}

/* ---- values beyond JSON ------------------------------------------------- */

static void test_rich_roundtrip(void **state)
{
    T *t = *state;
    static const char *const exprs[] = {
        /* Enum members come back as the members themselves */
        "app.Color.RED", "app.Status.OPEN", "app.Status.ALIAS", "[app.Status.PAID, app.Color.GREEN]",
        "{app.Status.OPEN: 1, app.Color.RED: app.Status.PAID}", "app.Perm.R | app.Perm.W", "app.Perm(0)",
        "app.Pair.A", "{app.Pair.A}", "(app.Color.GREEN,)",
        /* dataclasses: nested, frozen, defaults, init=False, slots, nested classes */
        "app.Money(decimal.Decimal('1.10'))", "app.Money(decimal.Decimal('-0'), 'USD')",
        "app.Line('a', 2, app.Money(decimal.Decimal('3')))",
        "app.Line('b', 1, app.Money(decimal.Decimal(1)), frozenset({1, 'x'}), [app.Color.RED, (1, 2)])",
        "{app.Money(decimal.Decimal('1')): 'x'}", "{app.Outer.Inner(1), app.Outer.Inner(2)}",
        "app.Slotted(1, [2, app.Slotted(3, [])])", "[app.Outer.Inner((1, frozenset({2})))]",
        /* datetimes, naive and aware, with fold */
        "dt.datetime(2024, 3, 5, 12, 30, 15, 250000)", "dt.datetime(2024, 3, 5, tzinfo=dt.timezone.utc)",
        "dt.datetime(1, 1, 1)", "dt.datetime.max", "dt.datetime.min",
        "dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=59), 'far'))",
        "dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
        "dt.datetime(2024, 10, 27, 2, 30, fold=0, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
        "dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=1, microseconds=5)))",
        "dt.datetime(2024, 1, 1, fold=1)", "dt.date(2024, 2, 29)", "dt.date.max", "dt.time(9, 0)",
        "dt.time(23, 59, 59, 1, tzinfo=dt.timezone(dt.timedelta(seconds=-1, microseconds=5)))",
        "dt.time(1, fold=1)", "dt.time(1, tzinfo=zoneinfo.ZoneInfo('UTC'))", "dt.timedelta(0)",
        "dt.timedelta(days=-1)", "dt.timedelta.max", "dt.timedelta.min", "dt.timedelta(microseconds=-1)",
        "{dt.date(2024, 1, 1): dt.time(1), dt.datetime(2024, 1, 1, 1): dt.timedelta(2)}",
        /* Decimal keeps its exact digits, sign, exponent and specials */
        "decimal.Decimal('1.10')", "decimal.Decimal('-0')", "decimal.Decimal('NaN')", "decimal.Decimal('-sNaN12')",
        "decimal.Decimal('Infinity')", "decimal.Decimal('1E+999999')", "decimal.Decimal('-1.000000000000000000000001')",
        /* bytearray, frozenset, tuples, big ints */
        "bytearray()", "bytearray(b'\\x00\\xff')", "[bytearray(b'a'), b'a']", "frozenset()",
        "{1: {frozenset({'a'})}}", "(1, (2, [3]))", "2**63", "-2**63-1", "2**64", "10**4299", "-(10**4299)",
        "[2**100, -2**100]", "{2**70: 2**70}", "(2**80,)", "{2**65, -2**65}",
    };
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
        rt(t, exprs[i]);
    /* identity: an Enum member decodes to the member; defaults and
     * __post_init__ results are the stored values, __post_init__ not rerun */
    run(t, "import copy\n");
    PyObject *v = ev(t, "app.Line('a', 2, app.Money(decimal.Decimal(1)))");
    run(t, "pass\n");
    sf_buf b;
    char err[256];
    sf_buf_init(&b);
    assert_int_equal(sf_pycodec_encode(&t->c, v, "v", &b, err, sizeof err), 0);
    PyObject *d = sf_pycodec_decode(&t->c, b.data, b.len, err, sizeof err);
    assert_non_null(d);
    PyDict_SetItemString(t->g, "decoded", d);
    PyObject *ok = ev(t, "decoded.total == 20 and type(decoded) is app.Line and decoded.notes == [] and "
                         "type(decoded.price) is app.Money and decoded == app.Line('a', 2, app.Money(decimal.Decimal(1)))");
    assert_true(ok == Py_True);
    Py_DECREF(ok);
    Py_DECREF(d);
    Py_DECREF(v);
    sf_buf_free(&b);
    /* frozen stays frozen */
    rt(t, "app.Outer.Inner(3)");
    run(t, "import dataclasses as _d\n");
}

/* expr's msgpack written as JSON is exactly `json` */
static void json_of(T *t, const char *expr, const char *json)
{
    PyObject *v = ev(t, expr);
    sf_buf b, j;
    char err[256] = "";
    sf_buf_init(&b);
    sf_buf_init(&j);
    if (sf_pycodec_encode(&t->c, v, "v", &b, err, sizeof err) != 0)
        fail_msg("encode %s: %s", expr, err);
    if (sf_msgpack_to_json(b.data, b.len, &j, err, sizeof err) != 0)
        fail_msg("to json %s: %s", expr, err);
    if (strcmp(j.data, json) != 0)
        fail_msg("JSON of %s: got %s, expected %s", expr, j.data, json);
    sf_buf_free(&b);
    sf_buf_free(&j);
    Py_DECREF(v);
}

static void test_rich_json(void **state)
{
    T *t = *state;
    json_of(t, "dt.datetime(2024, 3, 5, 12, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2)))",
            "\"2024-03-05T12:30:15.250000+02:00\"");
    json_of(t, "dt.datetime(2024, 3, 5)", "\"2024-03-05T00:00:00\"");
    json_of(t, "dt.datetime(5, 3, 5, tzinfo=dt.timezone.utc)", "\"0005-03-05T00:00:00+00:00\"");
    json_of(t, "dt.datetime(2024, 1, 1, tzinfo=dt.timezone(-dt.timedelta(hours=5, seconds=1, microseconds=7)))",
            "\"2024-01-01T00:00:00-05:00:01.000007\"");
    json_of(t, "dt.datetime(2024, 7, 1, 9, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))", "\"2024-07-01T09:00:00+02:00\"");
    json_of(t, "dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
            "\"2024-10-27T02:30:00+01:00\"");
    json_of(t, "dt.date(2024, 2, 29)", "\"2024-02-29\"");
    json_of(t, "dt.time(9, 5, 1, 10)", "\"09:05:01.000010\"");
    json_of(t, "dt.time(9, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))", "\"09:00:00\"");
    json_of(t, "dt.time(9, tzinfo=dt.timezone(dt.timedelta(minutes=90)))", "\"09:00:00+01:30\"");
    json_of(t, "dt.timedelta(0)", "\"PT0S\"");
    json_of(t, "dt.timedelta(days=1)", "\"P1D\"");
    json_of(t, "dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)", "\"P1DT2H3M4.5S\"");
    json_of(t, "dt.timedelta(seconds=-1)", "\"-PT1S\"");
    json_of(t, "-dt.timedelta(days=2, microseconds=1)", "\"-P2DT0.000001S\"");
    json_of(t, "dt.timedelta(days=-3)", "\"-P3D\"");
    json_of(t, "dt.timedelta(hours=1)", "\"PT1H\"");
    json_of(t, "dt.timedelta.min", "\"-P999999999D\"");
    json_of(t, "decimal.Decimal('1.10')", "\"1.10\"");
    json_of(t, "decimal.Decimal('-1E+5')", "\"-1E+5\"");
    json_of(t, "decimal.Decimal('NaN')", "\"NaN\"");
    json_of(t, "app.Status.PAID", "\"paid\"");
    json_of(t, "app.Color.GREEN", "2");
    json_of(t, "app.Pair.A", "[1,\"a\"]");
    json_of(t, "app.Line('a', 2, app.Money(decimal.Decimal('3.5')), frozenset({2, 1}))",
            "{\"sku\":\"a\",\"qty\":2,\"price\":{\"amount\":\"3.5\",\"currency\":\"EUR\"},\"tags\":[1,2],"
            "\"notes\":[],\"total\":20}");
    json_of(t, "bytearray(b'hi')", "{\"$bytes\":\"aGk=\"}");
    json_of(t, "(1, frozenset({3}))", "[1,[3]]");
    json_of(t, "[2**64, -2**63-1, 10**30]", "[18446744073709551616,-9223372036854775809,1000000000000000000000000000000]");
    json_of(t, "{dt.date(2024, 1, 1): 1, app.Status.OPEN: 2, 2**64: 3}",
            "{\"\\\"2024-01-01\\\"\":1,\"\\\"open\\\"\":2,\"18446744073709551616\":3}");
}

static void test_rich_encode_errors(void **state)
{
    T *t = *state;
    enc_bad(t, "LocalDC(1)", "v",
            "v: cannot store a value of type 'LocalDC': only dataclasses defined in the application's module (found "
            "there by name) can be stored");
    enc_bad(t, "app.WithExtra(1)", "attribute 'w'",
            "attribute 'w': cannot store dataclass 'WithExtra': its attribute 'extra' is not a field");
    enc_bad(t, "app.Line('a', 1, app.Money(1), frozenset({lambda: 0}))", "v",
            "v.tags (a set element): cannot store a value of type 'function'");
    enc_bad(t, "[app.Slotted(1, [object()])]", "v", "v[0].b[0]: cannot store a value of type 'object'");
    enc_bad(t, "dt.datetime(2024, 1, 1, tzinfo=MyTZ())", "v",
            "v: cannot store a datetime whose tzinfo is of type 'MyTZ' (use datetime.timezone or zoneinfo.ZoneInfo)");
    enc_bad(t, "dt.time(1, tzinfo=MyTZ())", "v",
            "v: cannot store a time whose tzinfo is of type 'MyTZ' (use datetime.timezone or zoneinfo.ZoneInfo)");
    enc_bad(t, "dt.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo.from_file(open('/usr/share/zoneinfo/UTC', 'rb')))",
            "v", "v: cannot store a ZoneInfo without a key (made from a file)");
    enc_bad(t, "MyDT(2024, 1, 1)", "v", "v: cannot store a value of type 'MyDT'");
    enc_bad(t, "zoneinfo.ZoneInfo('UTC')", "v", "v: cannot store a value of type 'ZoneInfo'");
    enc_bad(t, "dt.timezone.utc", "v", "v: cannot store a value of type 'timezone'");
    enc_bad(t, "app.Money", "v", "v: cannot store a value of type 'type'");
    enc_bad(t, "memoryview(b'x')", "v", "v: cannot store a value of type 'memoryview'");
    /* depth: an ext is one level, a dataclass's fields one more */
    rt(t, "nest(63, dt.date(1, 1, 1))");
    rt(t, "nest(63, 2**64)");
    rt(t, "nest(62, app.Outer.Inner(1))");
    rt(t, "nest(63, app.Color.RED)");
    enc_bad(t, "nest(64, dt.date(1, 1, 1))", "v", "v: nested too deeply (limit 64)");
    enc_bad(t, "nest(64, 2**64)", "v", "v: nested too deeply (limit 64)");
    enc_bad(t, "nest(63, app.Outer.Inner(1))", "v", "v: nested too deeply (limit 64)");
    enc_bad(t, "nest(63, app.Outer.Inner([1]))", "v", "v: nested too deeply (limit 64)");
    enc_bad(t, "nest(63, app.Pair.A)", "v", "v: nested too deeply (limit 64)");
}

static void test_rich_decode_errors(void **state)
{
    T *t = *state;
    /* classes are looked up in the app's module, by qualified name */
    dec_bad(t, MP("\xc7\x07\x0d\x92\xa4Nope\x80"), "unknown dataclass 'Nope' (not found in the application's module)");
    dec_bad(t, MP("\xc7\x08\x0d\x92\xa5" "Color\x80"), "unknown dataclass 'Color'");
    dec_bad(t, MP("\xc7\x0c\x0d\x92\xa8" "__name__\x80\x80"), "unknown dataclass '__name__'");
    dec_bad(t, MP("\xc7\x0b\x0d\x92\xa8" "Outer.x.\x80"), "unknown dataclass 'Outer.x.'");
    dec_bad(t, MP("\xc7\x09\x0c\x93\xa4Line\xa1x\x01"), "unknown Enum 'Line'");
    /* names reach only the module's own dict and classes' dicts: not the
     * attributes of a module it imported */
    dec_bad(t, MP("\xc7\x0e\x0c\x93\xa9" "enum.Flag" "\xa1x\x01"), "unknown Enum 'enum.Flag'");
    dec_bad(t, MP("\xc7\x0d\x0c\x93\xa5" "Color\xa4PINK\x09"), "Enum 'Color' has no member 'PINK'");
    dec_bad(t, MP("\xc7\x0b\x0c\x92\xa5" "Color\xa3RED"), "extension type 12 at offset 0: expected [class, name, value]");
    dec_bad(t, MP("\xc7\x10\x0d\x92\xa5Money\x81\xa6" "amount\x01"), "the fields do not match dataclass 'Money'");
    dec_bad(t, MP("\xc7\x09\x0d\x92\xa5Money\x91\x01"), "extension type 13 at offset 10: the fields must be a map");
    dec_bad(t, MP("\xc7\x08\x0d\x92\xa5Money\xc1"), "invalid byte 0xc1");
    /* ints beyond 64 bits: canonical decimal text, bounded */
    dec_bad(t, MP("\xc7\x03\x05\x91\xa1\x35"), "the int fits in 64 bits (not canonical)");
    dec_bad(t, MP("\xc7\x05\x05\x91\xa3" "12a"), "not an integer of at most 4300 digits");
    dec_bad(t, MP("\xc7\x02\x05\x91\xa0"), "not an integer of at most 4300 digits");
    dec_bad(t, MP("\xc7\x03\x05\x91\xa1-"), "not an integer of at most 4300 digits");
    dec_bad(t, MP("\xc7\x17\x05\x91\xb5" "018446744073709551616"), "not an integer of at most 4300 digits");
    dec_bad(t, MP("\xc7\x17\x05\x91\xb5" "+18446744073709551616"), "not an integer of at most 4300 digits");
    dec_bad(t, MP("\xd5\x05\x91\x05"), "extension type 5 at offset 0: expected a str");
    dec_bad(t, MP("\xd4\x05\x90"), "expected [digits]");
    {
        char big[4400];
        size_t n = 0;
        big[n++] = (char)0xc8;
        big[n++] = 0x10;
        big[n++] = (char)0xd5; /* payload 4309 = 0x10d5 */
        big[n++] = 0x05;
        big[n++] = (char)0x91;
        big[n++] = (char)0xda;
        big[n++] = 0x10;
        big[n++] = (char)0xd1; /* 4305 digits */
        memset(big + n, '7', 4305);
        n += 4305;
        dec_bad(t, big, n, "not an integer of at most 4300 digits");
    }
    /* bytearray, Decimal */
    dec_bad(t, MP("\xd6\x06\x91\xa2hi"), "extension type 6 at offset 0: expected a bin");
    dec_bad(t, MP("\xc7\x05\x07\x91\xa3" "abc"), "InvalidOperation");
    dec_bad(t, MP("\xd6\x07\x91\xc4\x01x"), "expected a str");
    dec_bad(t, MP("\xd5\x07\x91\xc0"), "expected a str");
    /* dates and times: the constructors' own checks */
    dec_bad(t, MP("\xc7\x06\x09\x93\xcd\x07\xe8\x0d\x01"), "ValueError: month must be in 1..12");
    dec_bad(t, MP("\xc7\x05\x09\x92\xcd\x07\xe8\x01"), "extension type 9 at offset 0: expected 3 ints");
    dec_bad(t, MP("\xc7\x06\x09\x93\xcd\x07\xe8\xc3\x01"), "expected an int");
    dec_bad(t, MP("\xc7\x08\x0b\x93\x00\xce\x00\x01\x51\x80\x00"), "timedelta not normalised");
    dec_bad(t, MP("\xc7\x08\x0b\x93\x00\x00\xd2\xff\xff\xff\xff"), "timedelta not normalised");
    dec_bad(t, MP("\xc7\x08\x0b\x93\xce\x3b\x9a\xca\x00\x00\x00"), "days=1000000000; must have magnitude <= 999999999");
    dec_bad(t, MP("\xc7\x06\x0a\x95\x18\x00\x00\x00\x00"), "hour must be in 0..23");
    dec_bad(t, MP("\xc7\x06\x0a\x95\x01\x00\x00\x00\x02"), "fold must be either 0 or 1");
    dec_bad(t, MP("\xc7\x05\x0a\x94\x01\x00\x00\x00"), "expected 5 or 8 elements");
    dec_bad(t, MP("\xc7\x09\x08\x97\xcd\x07\xe8\x01\x01\x00\x00\x00"), "expected 8 or 11 elements");
    /* time zones */
    dec_bad(t, MP("\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x07\x00\xc0"), "bad time zone");
    dec_bad(t, MP("\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x00\xc0\xc0"), "bad time zone");
    dec_bad(t, MP("\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x01\x00\xc0"), "bad time zone");
    dec_bad(t, MP("\xc7\x11\x0a\x98\x01\x00\x00\x00\x00\x00\xcf\x00\x00\x00\x14\x1d\xd7\x60\x00\xc0"),
            "offset must be a timedelta strictly between");
    dec_bad(t, MP("\xc7\x15\x0a\x98\x01\x00\x00\x00\x00\x01\xc0\xac" "Nowhere/City"), "No time zone found");
    dec_bad(t, MP("\xc7\x12\x0a\x98\x01\x00\x00\x00\x00\x01\xc0\xa9" "../../etc"), "ValueError");
    dec_bad(t, MP("\xc7\x0b\x0a\x98\x01\x00\x00\x00\x00\x00\x00\xa2\xff\xfe"), "invalid UTF-8");
    dec_bad(t, MP("\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x00\x00\x01"), "expected a str or nil");
    /* an ext past the depth limit */
    char deep[80];
    memset(deep, 0x91, 64);
    memcpy(deep + 64, "\xd6\x0b\x93\x00\x00\x00", 6);
    dec_bad(t, deep, 70, "nested too deeply (limit 64)");
    /* without the application's module no class can be found */
    PyObject *app = Py_NewRef(t->c.module);
    sf_pycodec_set_module(&t->c, NULL);
    dec_bad(t, MP("\xc7\x0c\x0c\x93\xa5" "Color" "\xa3" "RED" "\x01"), "unknown Enum 'Color'");
    enc_bad(t, "app.Color.RED", "v",
            "v: cannot store a value of type 'Color': only Enums defined in the application's module (found there "
            "by name) can be stored");
    sf_pycodec_set_module(&t->c, app);
    Py_DECREF(app);
    /* the JSON writer refuses these shapes too (it is laxer where only values are wrong) */
    static const char *const shapes[][2] = {
        {"\xd5\x05\x91\x05", "4"},
        {"\xc7\x05\x09\x92\xcd\x07\xe8\x01", "8"}, {"\xc7\x06\x09\x93\xcd\x07\xe8\xc3\x01", "9"},
        {"\xc7\x08\x0b\x93\x00\xce\x00\x01\x51\x80\x00", "11"},
        {"\xc7\x09\x0a\x98\x01\x00\x00\x00\x00\x00\x00\x01", "12"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        sf_buf j;
        char err[256];
        sf_buf_init(&j);
        assert_int_equal(sf_msgpack_to_json(shapes[i][0], (size_t)atoi(shapes[i][1]), &j, err, sizeof err), -1);
        assert_non_null(strstr(err, "malformed payload"));
        sf_buf_free(&j);
    }
}


/* Client arguments converted by type hints (sf_pycodec_convert_args). */
static void test_convert_args(void **state)
{
    T *t = *state;
    run(t, "exec('''\n"
           "import datetime, decimal\n"
           "from typing import List, Optional, Tuple\n"
           "class Desk:\n"
           "    def m(self, a: datetime.datetime, b: Optional[Money], c: List[Status], d: Tuple[int, Color],\n"
           "          e: int, f=None):\n"
           "        pass\n"
           "''', app.__dict__)\n");
    PyObject *cls = ev(t, "app.Desk");
    PyObject *args = ev(t, "['2024-03-05T12:30:00+02:00', {'amount': '1.5'}, ['open', 'paid'], [1, 2], 7, 'x']");
    assert_int_equal(sf_pycodec_convert_args(&t->c, cls, "m", "Desk.m()", args), 0);
    PyDict_SetItemString(t->g, "converted", args);
    PyObject *ok = ev(t, "converted == [dt.datetime(2024, 3, 5, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "
                         "app.Money(decimal.Decimal('1.5')), [app.Status.OPEN, app.Status.PAID], (1, app.Color.GREEN), "
                         "7, 'x'] and type(converted[3]) is tuple");
    assert_true(ok == Py_True);
    Py_DECREF(ok);
    Py_DECREF(args);
    /* already converted values stay; None for Optional */
    args = ev(t, "[dt.datetime(2024, 1, 1), None, [], (1, app.Color.RED), 1]");
    assert_int_equal(sf_pycodec_convert_args(&t->c, cls, "m", "Desk.m()", args), 0);
    Py_DECREF(args);
    static const char *const bad[][2] = {
        {"['soon', None, [], [1, 1], 1]", "Desk.m() argument 'a' must be datetime (an ISO 8601 string), got str"},
        {"['2024-01-01', {'amount': 1, 'x': 2}, [], [1, 1], 1]",
         "Desk.m() argument 'b' must be Money (an object), got dict with unknown field 'x'"},
        {"['2024-01-01', None, ['open', 'nope'], [1, 1], 1]", "Desk.m() argument 'c'[1] must be a value of Status, got str"},
        {"['2024-01-01', None, [], [1, 3], 1]", "Desk.m() argument 'd'[1] must be a value of Color, got int"},
        {"['2024-01-01', None, [], [1], 1]", "Desk.m() argument 'd' must be tuple (an array), got list of 1 elements"},
        {"['2024-01-01', None, [], [1, 1], 1]", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        args = ev(t, bad[i][0]);
        int rc = sf_pycodec_convert_args(&t->c, cls, "m", "Desk.m()", args);
        if (!bad[i][1]) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_true(PyErr_ExceptionMatches(PyExc_TypeError));
            PyObject *ty, *v, *tb;
            PyErr_Fetch(&ty, &v, &tb);
            PyObject *s = PyObject_Str(v);
            if (strcmp(PyUnicode_AsUTF8(s), bad[i][1]) != 0)
                fail_msg("convert %s: got '%s'", bad[i][0], PyUnicode_AsUTF8(s));
            Py_DECREF(s);
            Py_XDECREF(ty);
            Py_XDECREF(v);
            Py_XDECREF(tb);
        }
        Py_DECREF(args);
    }
    Py_DECREF(cls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_scalars), cmocka_unit_test(test_roundtrip_containers),
        cmocka_unit_test(test_exact_bytes),       cmocka_unit_test(test_canonical_sets),
        cmocka_unit_test(test_ref),               cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_truncations),       cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_random_bytes),      cmocka_unit_test(test_json_agreement),
        cmocka_unit_test(test_no_refleaks),
        cmocka_unit_test(test_rich_roundtrip),     cmocka_unit_test(test_rich_json),
        cmocka_unit_test(test_rich_encode_errors), cmocka_unit_test(test_rich_decode_errors),
        cmocka_unit_test(test_convert_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
