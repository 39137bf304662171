/* parse.c: owns the embedded CPython of sfc and the conversion of CPython's
 * AST into the C AST (see parse.h).
 *
 * The tree comes from compile(..., PyCF_ONLY_AST), the same call ast.parse
 * makes. Conversion walks it once: node classes are told apart by one dict
 * lookup of the node's type (a table built per call from the _ast module),
 * fields are read from each node's instance dict with interned keys, and all
 * references taken during the walk are borrowed (the tree keeps them
 * alive), so an error can unwind with longjmp without leaking anything. The
 * tree is released before sf_parse returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "parse.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_util.h"

/* ---- embedded interpreter ---------------------------------------------- */

int sf_python_init(char *err, size_t errlen)
{
    if (Py_IsInitialized())
        return 0;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    /* Debian's libpython: its stdlib lives under /usr. Pin it so that no
     * python3 found on PATH (a pyenv build) can change the prefix. */
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&config, &config.home, L"/usr");
    /* sfc only parses: warnings (invalid escapes...) are not its business */
    if (!PyStatus_Exception(st))
        st = PyWideStringList_Append(&config.warnoptions, L"ignore");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "cannot start the embedded Python: %s%s%s",
                 st.func ? st.func : "", st.func ? ": " : "",
                 st.err_msg ? st.err_msg : "unknown error");
        return -1;
    }
    return 0;
}

void sf_python_fini(void)
{
    if (Py_IsInitialized())
        Py_FinalizeEx();
}

/* ---- node classes and field names --------------------------------------- */

#define NODE_TYPES(X)                                                          \
    X(FunctionDef) X(AsyncFunctionDef) X(ClassDef) X(Return) X(Delete)         \
    X(Assign) X(AugAssign) X(AnnAssign) X(For) X(AsyncFor) X(While) X(If)      \
    X(With) X(AsyncWith) X(Match) X(Raise) X(Try) X(TryStar) X(Assert)         \
    X(Import) X(ImportFrom) X(Global) X(Nonlocal) X(Expr) X(Pass) X(Break)     \
    X(Continue)                                                                \
    X(BoolOp) X(NamedExpr) X(BinOp) X(UnaryOp) X(Lambda) X(IfExp) X(Dict)      \
    X(Set) X(ListComp) X(SetComp) X(DictComp) X(GeneratorExp) X(Await)         \
    X(Yield) X(YieldFrom) X(Compare) X(Call) X(FormattedValue) X(JoinedStr)    \
    X(Constant) X(Attribute) X(Subscript) X(Starred) X(Name) X(List) X(Tuple)  \
    X(Slice)                                                                   \
    X(And) X(Or) X(Add) X(Sub) X(Mult) X(MatMult) X(Div) X(Mod) X(Pow)         \
    X(LShift) X(RShift) X(BitOr) X(BitXor) X(BitAnd) X(FloorDiv) X(Invert)     \
    X(Not) X(UAdd) X(USub) X(Eq) X(NotEq) X(Lt) X(LtE) X(Gt) X(GtE) X(Is)      \
    X(IsNot) X(In) X(NotIn)

enum node_type {
#define X(n) T_##n,
    NODE_TYPES(X)
#undef X
    T__COUNT
};

static const char *const node_type_names[T__COUNT] = {
#define X(n) #n,
    NODE_TYPES(X)
#undef X
};

/* Operator node classes, in the order of NODE_TYPES from T_And on. */
static const sf_op op_of_type[T__COUNT - T_And] = {
    SF_OP_AND, SF_OP_OR, SF_OP_ADD, SF_OP_SUB, SF_OP_MULT, SF_OP_MATMULT,
    SF_OP_DIV, SF_OP_MOD, SF_OP_POW, SF_OP_LSHIFT, SF_OP_RSHIFT, SF_OP_BITOR,
    SF_OP_BITXOR, SF_OP_BITAND, SF_OP_FLOORDIV, SF_OP_INVERT, SF_OP_NOT,
    SF_OP_UADD, SF_OP_USUB, SF_OP_EQ, SF_OP_NOTEQ, SF_OP_LT, SF_OP_LTE,
    SF_OP_GT, SF_OP_GTE, SF_OP_IS, SF_OP_ISNOT, SF_OP_IN, SF_OP_NOTIN,
};

#define FIELDS(X)                                                              \
    X(lineno) X(col_offset) X(end_lineno) X(end_col_offset) X(body) X(name)    \
    X(args) X(decorator_list) X(returns) X(bases) X(keywords) X(value)         \
    X(targets) X(target) X(op) X(annotation) X(simple) X(iter) X(orelse)       \
    X(test) X(items) X(context_expr) X(optional_vars) X(exc) X(cause)          \
    X(handlers) X(finalbody) X(type) X(msg) X(names) X(asname) X(module)       \
    X(level) X(values) X(left) X(right) X(operand) X(ops) X(comparators)       \
    X(keys) X(elts) X(slice) X(lower) X(upper) X(step) X(elt) X(key)           \
    X(generators) X(ifs) X(is_async) X(conversion) X(format_spec) X(id)        \
    X(attr) X(func) X(arg) X(posonlyargs) X(vararg) X(kwonlyargs)              \
    X(kw_defaults) X(kwarg) X(defaults)

enum field {
#define X(n) F_##n,
    FIELDS(X)
#undef X
    F__COUNT
};

static const char *const field_names[F__COUNT] = {
#define X(n) #n,
    FIELDS(X)
#undef X
};

/* ---- conversion state --------------------------------------------------- */

typedef struct line_info {
    size_t start, len;   /* byte offset and length, newline excluded */
    int ascii;           /* only ASCII bytes: char column == byte column */
} line_info;

typedef struct conv {
    sf_arena *a;
    sf_diag *d;
    jmp_buf jmp;
    PyObject *typemap;             /* type object -> PyLong(enum node_type) */
    PyObject *key[F__COUNT];       /* interned field names */
    const char *src;
    size_t len;
    line_info *lines;
    int nlines;
    int depth;
    int line_base;                 /* added to every AST line (sf_parse_at) */
} conv;

/* ---- source text helpers (no Python needed) ------------------------------ */

/* Split src into lines the way CPython's tokenizer does (\n, \r\n, \r). */
static line_info *split_lines(const char *src, size_t len, int *nlines)
{
    size_t cap = 64;
    int n = 0;
    line_info *v = malloc(cap * sizeof(*v));
    if (!v)
        return NULL;
    size_t start = 0;
    int ascii = 1;
    for (size_t i = 0;; i++) {
        int end = i == len;
        size_t nl = 0;
        if (!end) {
            if (src[i] == '\n')
                nl = 1;
            else if (src[i] == '\r')
                nl = (i + 1 < len && src[i + 1] == '\n') ? 2 : 1;
            else if ((unsigned char)src[i] >= 0x80)
                ascii = 0;
        }
        if (end || nl) {
            if ((size_t)n == cap) {
                cap *= 2;
                line_info *nv = realloc(v, cap * sizeof(*v));
                if (!nv) {
                    free(v);
                    return NULL;
                }
                v = nv;
            }
            v[n].start = start;
            v[n].len = i - start;
            v[n].ascii = ascii;
            n++;
            if (end)
                break;
            i += nl - 1;
            start = i + 1;
            ascii = 1;
        }
    }
    *nlines = n;
    return v;
}

/* 1-based character column of a UTF-8 byte offset on a 1-based line. */
static int char_col(const conv *c, long line, long byte_off)
{
    if (byte_off < 0)
        return 0;
    if (line < 1 || line > c->nlines)
        return byte_off >= INT_MAX ? INT_MAX : (int)byte_off + 1;
    const line_info *li = &c->lines[line - 1];
    if (li->ascii || byte_off == 0)
        return byte_off >= INT_MAX ? INT_MAX : (int)byte_off + 1;
    size_t off = (size_t)byte_off, extra = 0;
    if (off > li->len) {
        extra = off - li->len;
        off = li->len;
    }
    const unsigned char *p = (const unsigned char *)c->src + li->start;
    size_t chars = 0;
    for (size_t i = 0; i < off; i++)
        if ((p[i] & 0xC0) != 0x80)
            chars++;
    chars += extra;
    return chars >= INT_MAX ? INT_MAX : (int)chars + 1;
}

/* 1-based line and column of a byte offset into src. */
static void offset_pos(const conv *c, size_t off, int *line, int *col)
{
    int lo = 0, hi = c->nlines - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (c->lines[mid].start <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    *line = lo + 1;
    *col = char_col(c, lo + 1, (long)(off - c->lines[lo].start));
}

/* ---- errors --------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 4, 5)))
static void fail(conv *c, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sf_diag_error(c->d, line, col, "%s", msg);
    longjmp(c->jmp, 1);
}

/* The pending Python exception as "Type: message" (cleared). */
static void py_err_text(char *out, size_t outlen)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "error";
    const char *m = NULL;
    PyObject *s = value ? PyObject_Str(value) : NULL;
    if (s)
        m = PyUnicode_AsUTF8(s);
    if (!m)
        PyErr_Clear();
    if (m && *m)
        snprintf(out, outlen, "%s: %s", tname, m);
    else
        snprintf(out, outlen, "%s", tname);
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

__attribute__((noreturn))
static void py_fail(conv *c, sf_pos pos, const char *what)
{
    char text[400];
    py_err_text(text, sizeof(text));
    fail(c, pos.line, pos.col, "cannot convert %s: %s", what, text);
}

/* ---- field access (all borrowed) ------------------------------------------ */

static int type_code(conv *c, PyObject *o)
{
    PyObject *v = PyDict_GetItemWithError(c->typemap, (PyObject *)Py_TYPE(o));
    if (!v) {
        PyErr_Clear();
        return -1;
    }
    return (int)PyLong_AsLong(v);
}

static PyObject *node_dict(conv *c, PyObject *o, sf_pos pos)
{
    PyObject *d = PyObject_GenericGetDict(o, NULL);
    if (!d)
        py_fail(c, pos, "node");
    /* the node keeps its dict alive */
    Py_DECREF(d);
    return d;
}

static PyObject *field(conv *c, PyObject *d, int f, sf_pos pos)
{
    PyObject *v = PyDict_GetItemWithError(d, c->key[f]);
    if (!v) {
        if (PyErr_Occurred())
            py_fail(c, pos, field_names[f]);
        fail(c, pos.line, pos.col, "malformed syntax tree: missing field '%s'",
             field_names[f]);
    }
    return v;
}

static long field_long(conv *c, PyObject *d, int f, sf_pos pos)
{
    PyObject *v = field(c, d, f, pos);
    long r = PyLong_AsLong(v);
    if (r == -1 && PyErr_Occurred())
        py_fail(c, pos, field_names[f]);
    return r;
}

static sf_pos node_pos(conv *c, PyObject *d)
{
    sf_pos p = {0, 0, 0, 0};
    PyObject *v = PyDict_GetItemWithError(d, c->key[F_lineno]);
    if (!v) {
        PyErr_Clear();
        return p;
    }
    long line = PyLong_AsLong(v);
    long col = PyLong_AsLong(PyDict_GetItemWithError(d, c->key[F_col_offset]));
    PyObject *el = PyDict_GetItemWithError(d, c->key[F_end_lineno]);
    PyObject *ec = PyDict_GetItemWithError(d, c->key[F_end_col_offset]);
    long eline = el && el != Py_None ? PyLong_AsLong(el) : line;
    long ecol = ec && ec != Py_None ? PyLong_AsLong(ec) : col;
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return p;
    }
    p.line = line > 0 && line < INT_MAX - c->line_base ? (int)line + c->line_base : 0;
    p.col = char_col(c, line, col);
    p.end_line = eline > 0 && eline < INT_MAX - c->line_base ? (int)eline + c->line_base : 0;
    p.end_col = char_col(c, eline, ecol);
    return p;
}

static const char *conv_str(conv *c, PyObject *o, sf_pos pos)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s)
        py_fail(c, pos, "name");
    return sf_arena_strndup(c->a, s, (size_t)n);
}

static const char *conv_str_opt(conv *c, PyObject *o, sf_pos pos)
{
    return o == Py_None ? NULL : conv_str(c, o, pos);
}

static PyObject *list_field(conv *c, PyObject *d, int f, sf_pos pos, Py_ssize_t *n)
{
    PyObject *l = field(c, d, f, pos);
    if (!PyList_Check(l))
        fail(c, pos.line, pos.col, "malformed syntax tree: '%s' is not a list",
             field_names[f]);
    *n = PyList_GET_SIZE(l);
    if (*n > INT_MAX / 16)
        fail(c, pos.line, pos.col, "too many items in '%s'", field_names[f]);
    return l;
}

static sf_op conv_op(conv *c, PyObject *o, sf_pos pos)
{
    int t = type_code(c, o);
    if (t < T_And)
        fail(c, pos.line, pos.col, "malformed syntax tree: unknown operator %s",
             Py_TYPE(o)->tp_name);
    return op_of_type[t - T_And];
}

/* ---- expressions ------------------------------------------------------- */

static sf_expr *conv_expr(conv *c, PyObject *o, sf_pos parent);
static sf_stmt *conv_stmt(conv *c, PyObject *o, sf_pos parent);

static sf_expr *conv_expr_opt(conv *c, PyObject *o, sf_pos parent)
{
    return o == Py_None ? NULL : conv_expr(c, o, parent);
}

static sf_expr_list conv_expr_list(conv *c, PyObject *d, int f, sf_pos pos)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, f, pos, &n);
    sf_expr_list r = {NULL, (int)n, (int)n};
    if (n) {
        r.v = sf_arena_alloc(c->a, (size_t)n * sizeof(*r.v));
        for (Py_ssize_t i = 0; i < n; i++)
            r.v[i] = conv_expr(c, PyList_GET_ITEM(l, i), pos);
    }
    return r;
}

static sf_stmt_list conv_stmt_list(conv *c, PyObject *d, int f, sf_pos pos)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, f, pos, &n);
    sf_stmt_list r = {NULL, (int)n, (int)n};
    if (n) {
        r.v = sf_arena_alloc(c->a, (size_t)n * sizeof(*r.v));
        for (Py_ssize_t i = 0; i < n; i++)
            r.v[i] = conv_stmt(c, PyList_GET_ITEM(l, i), pos);
    }
    return r;
}

static void conv_arg(conv *c, PyObject *o, sf_arg *out, sf_pos parent)
{
    PyObject *d = node_dict(c, o, parent);
    out->pos = node_pos(c, d);
    out->name = conv_str(c, field(c, d, F_arg, out->pos), out->pos);
    out->annotation = conv_expr_opt(c, field(c, d, F_annotation, out->pos), out->pos);
}

static sf_arg *conv_arg_list(conv *c, PyObject *d, int f, sf_pos pos, int *count)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, f, pos, &n);
    *count = (int)n;
    if (!n)
        return NULL;
    sf_arg *v = sf_arena_alloc(c->a, (size_t)n * sizeof(*v));
    for (Py_ssize_t i = 0; i < n; i++)
        conv_arg(c, PyList_GET_ITEM(l, i), &v[i], pos);
    return v;
}

static sf_arg *conv_arg_opt(conv *c, PyObject *o, sf_pos pos)
{
    if (o == Py_None)
        return NULL;
    sf_arg *a = sf_arena_alloc(c->a, sizeof(*a));
    conv_arg(c, o, a, pos);
    return a;
}

static sf_arguments *conv_arguments(conv *c, PyObject *o, sf_pos pos)
{
    PyObject *d = node_dict(c, o, pos);
    sf_arguments *r = sf_arena_alloc(c->a, sizeof(*r));
    r->posonly = conv_arg_list(c, d, F_posonlyargs, pos, &r->nposonly);
    r->args = conv_arg_list(c, d, F_args, pos, &r->nargs);
    r->vararg = conv_arg_opt(c, field(c, d, F_vararg, pos), pos);
    r->kwonly = conv_arg_list(c, d, F_kwonlyargs, pos, &r->nkwonly);
    Py_ssize_t n;
    PyObject *kd = list_field(c, d, F_kw_defaults, pos, &n);
    if (n != r->nkwonly)
        fail(c, pos.line, pos.col, "malformed syntax tree: kw_defaults does not match kwonlyargs");
    if (n) {
        r->kw_defaults = sf_arena_alloc(c->a, (size_t)n * sizeof(*r->kw_defaults));
        for (Py_ssize_t i = 0; i < n; i++)
            r->kw_defaults[i] = conv_expr_opt(c, PyList_GET_ITEM(kd, i), pos);
    }
    r->kwarg = conv_arg_opt(c, field(c, d, F_kwarg, pos), pos);
    r->defaults = conv_expr_list(c, d, F_defaults, pos);
    return r;
}

static sf_keyword *conv_keywords(conv *c, PyObject *d, sf_pos pos, int *count)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, F_keywords, pos, &n);
    *count = (int)n;
    if (!n)
        return NULL;
    sf_keyword *v = sf_arena_alloc(c->a, (size_t)n * sizeof(*v));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kd = node_dict(c, PyList_GET_ITEM(l, i), pos);
        v[i].pos = node_pos(c, kd);
        v[i].arg = conv_str_opt(c, field(c, kd, F_arg, v[i].pos), v[i].pos);
        v[i].value = conv_expr(c, field(c, kd, F_value, v[i].pos), v[i].pos);
    }
    return v;
}

static sf_comprehension *conv_generators(conv *c, PyObject *d, sf_pos pos, int *count)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, F_generators, pos, &n);
    *count = (int)n;
    sf_comprehension *v = sf_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof(*v));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *gd = node_dict(c, PyList_GET_ITEM(l, i), pos);
        v[i].target = conv_expr(c, field(c, gd, F_target, pos), pos);
        v[i].iter = conv_expr(c, field(c, gd, F_iter, pos), pos);
        v[i].ifs = conv_expr_list(c, gd, F_ifs, pos);
        v[i].is_async = (int)field_long(c, gd, F_is_async, pos);
    }
    return v;
}

static void conv_constant(conv *c, PyObject *v, sf_expr *e)
{
    sf_pos pos = e->pos;
    if (v == Py_None) {
        e->u.constant.kind = SF_CONST_NONE;
        e->u.constant.repr = "None";
        return;
    }
    if (v == Py_Ellipsis) {
        e->u.constant.kind = SF_CONST_ELLIPSIS;
        e->u.constant.repr = "...";
        return;
    }
    if (PyBool_Check(v)) {
        e->u.constant.kind = SF_CONST_BOOL;
        e->u.constant.repr = v == Py_True ? "True" : "False";
        return;
    }
    if (PyLong_Check(v))
        e->u.constant.kind = SF_CONST_INT;
    else if (PyFloat_Check(v))
        e->u.constant.kind = SF_CONST_FLOAT;
    else if (PyComplex_Check(v))
        e->u.constant.kind = SF_CONST_COMPLEX;
    else if (PyUnicode_Check(v))
        e->u.constant.kind = SF_CONST_STR;
    else if (PyBytes_Check(v))
        e->u.constant.kind = SF_CONST_BYTES;
    else
        fail(c, pos.line, pos.col, "unsupported constant of type %s", Py_TYPE(v)->tp_name);

    PyObject *r = PyObject_Repr(v);
    if (!r && e->u.constant.kind == SF_CONST_INT && PyErr_ExceptionMatches(PyExc_ValueError)) {
        /* a hex literal too long for decimal conversion: keep it in hex */
        PyErr_Clear();
        r = PyNumber_ToBase(v, 16);
    }
    if (!r)
        py_fail(c, pos, "constant");
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(r, &n);
    if (!s) {
        Py_DECREF(r);
        py_fail(c, pos, "constant");
    }
    e->u.constant.repr = sf_arena_strndup(c->a, s, (size_t)n);
    Py_DECREF(r);

    if (e->u.constant.kind == SF_CONST_STR) {
        s = PyUnicode_AsUTF8AndSize(v, &n);
        if (s) {
            e->u.constant.str = sf_arena_strndup(c->a, s, (size_t)n);
            e->u.constant.len = (size_t)n;
        } else {
            /* lone surrogates ('\ud800'): keep their bytes */
            PyErr_Clear();
            PyObject *b = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
            if (!b)
                py_fail(c, pos, "string constant");
            e->u.constant.str = sf_arena_strndup(c->a, PyBytes_AS_STRING(b),
                                                 (size_t)PyBytes_GET_SIZE(b));
            e->u.constant.len = (size_t)PyBytes_GET_SIZE(b);
            Py_DECREF(b);
        }
    } else if (e->u.constant.kind == SF_CONST_BYTES) {
        e->u.constant.str = sf_arena_strndup(c->a, PyBytes_AS_STRING(v),
                                             (size_t)PyBytes_GET_SIZE(v));
        e->u.constant.len = (size_t)PyBytes_GET_SIZE(v);
    }
}

static sf_expr *conv_expr(conv *c, PyObject *o, sf_pos parent)
{
    int t = type_code(c, o);
    if (t < T_BoolOp || t >= T_And)
        fail(c, parent.line, parent.col, "malformed syntax tree: %s is not an expression",
             Py_TYPE(o)->tp_name);
    PyObject *d = node_dict(c, o, parent);
    sf_pos pos = node_pos(c, d);
    if (++c->depth > SF_PARSE_MAX_DEPTH)
        fail(c, pos.line, pos.col, "expression nested too deeply (more than %d levels)",
             SF_PARSE_MAX_DEPTH);
    sf_expr *e;
    switch (t) {
    case T_BoolOp:
        e = sf_expr_new(c->a, SF_EX_BOOLOP, pos);
        e->u.boolop.op = conv_op(c, field(c, d, F_op, pos), pos);
        e->u.boolop.values = conv_expr_list(c, d, F_values, pos);
        break;
    case T_NamedExpr:
        e = sf_expr_new(c->a, SF_EX_NAMEDEXPR, pos);
        e->u.namedexpr.target = conv_expr(c, field(c, d, F_target, pos), pos);
        e->u.namedexpr.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_BinOp:
        e = sf_expr_new(c->a, SF_EX_BINOP, pos);
        e->u.binop.left = conv_expr(c, field(c, d, F_left, pos), pos);
        e->u.binop.op = conv_op(c, field(c, d, F_op, pos), pos);
        e->u.binop.right = conv_expr(c, field(c, d, F_right, pos), pos);
        break;
    case T_UnaryOp:
        e = sf_expr_new(c->a, SF_EX_UNARYOP, pos);
        e->u.unaryop.op = conv_op(c, field(c, d, F_op, pos), pos);
        e->u.unaryop.operand = conv_expr(c, field(c, d, F_operand, pos), pos);
        break;
    case T_Lambda:
        e = sf_expr_new(c->a, SF_EX_LAMBDA, pos);
        e->u.lambda.args = conv_arguments(c, field(c, d, F_args, pos), pos);
        e->u.lambda.body = conv_expr(c, field(c, d, F_body, pos), pos);
        break;
    case T_IfExp:
        e = sf_expr_new(c->a, SF_EX_IFEXP, pos);
        e->u.ifexp.test = conv_expr(c, field(c, d, F_test, pos), pos);
        e->u.ifexp.body = conv_expr(c, field(c, d, F_body, pos), pos);
        e->u.ifexp.orelse = conv_expr(c, field(c, d, F_orelse, pos), pos);
        break;
    case T_Dict: {
        e = sf_expr_new(c->a, SF_EX_DICT, pos);
        Py_ssize_t nk, nv;
        PyObject *keys = list_field(c, d, F_keys, pos, &nk);
        PyObject *values = list_field(c, d, F_values, pos, &nv);
        if (nk != nv)
            fail(c, pos.line, pos.col, "malformed syntax tree: dict keys and values differ in length");
        e->u.dict.n = (int)nk;
        if (nk) {
            e->u.dict.keys = sf_arena_alloc(c->a, (size_t)nk * sizeof(sf_expr *));
            e->u.dict.values = sf_arena_alloc(c->a, (size_t)nk * sizeof(sf_expr *));
            for (Py_ssize_t i = 0; i < nk; i++) {
                e->u.dict.keys[i] = conv_expr_opt(c, PyList_GET_ITEM(keys, i), pos);
                e->u.dict.values[i] = conv_expr(c, PyList_GET_ITEM(values, i), pos);
            }
        }
        break;
    }
    case T_Set:
        e = sf_expr_new(c->a, SF_EX_SET, pos);
        e->u.seq.elts = conv_expr_list(c, d, F_elts, pos);
        break;
    case T_List:
        e = sf_expr_new(c->a, SF_EX_LIST, pos);
        e->u.seq.elts = conv_expr_list(c, d, F_elts, pos);
        break;
    case T_Tuple:
        e = sf_expr_new(c->a, SF_EX_TUPLE, pos);
        e->u.seq.elts = conv_expr_list(c, d, F_elts, pos);
        break;
    case T_ListComp:
    case T_SetComp:
    case T_GeneratorExp:
        e = sf_expr_new(c->a, t == T_ListComp ? SF_EX_LISTCOMP
                              : t == T_SetComp ? SF_EX_SETCOMP : SF_EX_GENEXP, pos);
        e->u.comp.elt = conv_expr(c, field(c, d, F_elt, pos), pos);
        e->u.comp.gens = conv_generators(c, d, pos, &e->u.comp.ngens);
        break;
    case T_DictComp:
        e = sf_expr_new(c->a, SF_EX_DICTCOMP, pos);
        e->u.comp.elt = conv_expr(c, field(c, d, F_key, pos), pos);
        e->u.comp.value = conv_expr(c, field(c, d, F_value, pos), pos);
        e->u.comp.gens = conv_generators(c, d, pos, &e->u.comp.ngens);
        break;
    case T_Await:
        e = sf_expr_new(c->a, SF_EX_AWAIT, pos);
        e->u.starred.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_Yield:
        e = sf_expr_new(c->a, SF_EX_YIELD, pos);
        e->u.starred.value = conv_expr_opt(c, field(c, d, F_value, pos), pos);
        break;
    case T_YieldFrom:
        e = sf_expr_new(c->a, SF_EX_YIELDFROM, pos);
        e->u.starred.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_Starred:
        e = sf_expr_new(c->a, SF_EX_STARRED, pos);
        e->u.starred.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_Compare: {
        e = sf_expr_new(c->a, SF_EX_COMPARE, pos);
        e->u.compare.left = conv_expr(c, field(c, d, F_left, pos), pos);
        Py_ssize_t n;
        PyObject *ops = list_field(c, d, F_ops, pos, &n);
        e->u.compare.comparators = conv_expr_list(c, d, F_comparators, pos);
        if (n != e->u.compare.comparators.n || n == 0)
            fail(c, pos.line, pos.col, "malformed syntax tree: comparison operators do not match operands");
        e->u.compare.ops = sf_arena_alloc(c->a, (size_t)n * sizeof(sf_op));
        for (Py_ssize_t i = 0; i < n; i++)
            e->u.compare.ops[i] = conv_op(c, PyList_GET_ITEM(ops, i), pos);
        break;
    }
    case T_Call:
        e = sf_expr_new(c->a, SF_EX_CALL, pos);
        e->u.call.func = conv_expr(c, field(c, d, F_func, pos), pos);
        e->u.call.args = conv_expr_list(c, d, F_args, pos);
        e->u.call.kw = conv_keywords(c, d, pos, &e->u.call.nkw);
        break;
    case T_FormattedValue:
        e = sf_expr_new(c->a, SF_EX_FORMATTED, pos);
        e->u.formatted.value = conv_expr(c, field(c, d, F_value, pos), pos);
        e->u.formatted.conversion = (int)field_long(c, d, F_conversion, pos);
        e->u.formatted.format_spec = conv_expr_opt(c, field(c, d, F_format_spec, pos), pos);
        break;
    case T_JoinedStr:
        e = sf_expr_new(c->a, SF_EX_JOINEDSTR, pos);
        e->u.joinedstr.values = conv_expr_list(c, d, F_values, pos);
        break;
    case T_Constant:
        e = sf_expr_new(c->a, SF_EX_CONST, pos);
        conv_constant(c, field(c, d, F_value, pos), e);
        break;
    case T_Attribute:
        e = sf_expr_new(c->a, SF_EX_ATTR, pos);
        e->u.attr.value = conv_expr(c, field(c, d, F_value, pos), pos);
        e->u.attr.attr = conv_str(c, field(c, d, F_attr, pos), pos);
        break;
    case T_Subscript:
        e = sf_expr_new(c->a, SF_EX_SUBSCRIPT, pos);
        e->u.subscript.value = conv_expr(c, field(c, d, F_value, pos), pos);
        e->u.subscript.slice = conv_expr(c, field(c, d, F_slice, pos), pos);
        break;
    case T_Name:
        e = sf_expr_new(c->a, SF_EX_NAME, pos);
        e->u.name.id = conv_str(c, field(c, d, F_id, pos), pos);
        break;
    case T_Slice:
        e = sf_expr_new(c->a, SF_EX_SLICE, pos);
        e->u.slice.lower = conv_expr_opt(c, field(c, d, F_lower, pos), pos);
        e->u.slice.upper = conv_expr_opt(c, field(c, d, F_upper, pos), pos);
        e->u.slice.step = conv_expr_opt(c, field(c, d, F_step, pos), pos);
        break;
    default:
        fail(c, pos.line, pos.col, "unsupported expression %s", node_type_names[t]);
    }
    c->depth--;
    return e;
}

/* ---- statements ---------------------------------------------------------- */

/* The exact source text between two positions (lines 1-based, columns as
 * CPython's byte offsets), line ends normalised to \n. */
static const char *source_segment(conv *c, long line, long col, long eline, long ecol)
{
    if (line < 1 || eline < line || eline > c->nlines || col < 0 || ecol < 0)
        return NULL;
    const line_info *a = &c->lines[line - 1], *b = &c->lines[eline - 1];
    if ((size_t)col > a->len || (size_t)ecol > b->len)
        return NULL;
    size_t from = a->start + (size_t)col, to = b->start + (size_t)ecol;
    if (to < from)
        return NULL;
    char *out = sf_arena_alloc(c->a, to - from + 1);
    size_t o = 0;
    for (size_t i = from; i < to; i++) {
        char ch = c->src[i];
        if (ch == '\r') {
            out[o++] = '\n';
            if (i + 1 < to && c->src[i + 1] == '\n')
                i++;
        } else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    return out;
}

static sf_alias *conv_aliases(conv *c, PyObject *d, sf_pos pos, int *count)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, F_names, pos, &n);
    *count = (int)n;
    if (!n)
        return NULL;
    sf_alias *v = sf_arena_alloc(c->a, (size_t)n * sizeof(*v));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ad = node_dict(c, PyList_GET_ITEM(l, i), pos);
        v[i].name = conv_str(c, field(c, ad, F_name, pos), pos);
        v[i].asname = conv_str_opt(c, field(c, ad, F_asname, pos), pos);
    }
    return v;
}

static sf_handler *conv_handlers(conv *c, PyObject *d, sf_pos pos, int *count)
{
    Py_ssize_t n;
    PyObject *l = list_field(c, d, F_handlers, pos, &n);
    *count = (int)n;
    if (!n)
        return NULL;
    sf_handler *v = sf_arena_alloc(c->a, (size_t)n * sizeof(*v));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *hd = node_dict(c, PyList_GET_ITEM(l, i), pos);
        v[i].pos = node_pos(c, hd);
        v[i].type = conv_expr_opt(c, field(c, hd, F_type, v[i].pos), v[i].pos);
        v[i].name = conv_str_opt(c, field(c, hd, F_name, v[i].pos), v[i].pos);
        v[i].body = conv_stmt_list(c, hd, F_body, v[i].pos);
    }
    return v;
}

static sf_stmt *conv_stmt(conv *c, PyObject *o, sf_pos parent)
{
    int t = type_code(c, o);
    if (t < 0 || t >= T_BoolOp)
        fail(c, parent.line, parent.col, "malformed syntax tree: %s is not a statement",
             Py_TYPE(o)->tp_name);
    PyObject *d = node_dict(c, o, parent);
    sf_pos pos = node_pos(c, d);
    if (++c->depth > SF_PARSE_MAX_DEPTH)
        fail(c, pos.line, pos.col, "statements nested too deeply (more than %d levels)",
             SF_PARSE_MAX_DEPTH);
    sf_stmt *s;
    switch (t) {
    case T_FunctionDef:
    case T_AsyncFunctionDef:
        s = sf_stmt_new(c->a, t == T_FunctionDef ? SF_ST_FUNCTIONDEF : SF_ST_ASYNCFUNCTIONDEF, pos);
        s->u.func.name = conv_str(c, field(c, d, F_name, pos), pos);
        s->u.func.decorators = conv_expr_list(c, d, F_decorator_list, pos);
        s->u.func.args = conv_arguments(c, field(c, d, F_args, pos), pos);
        s->u.func.returns = conv_expr_opt(c, field(c, d, F_returns, pos), pos);
        s->u.func.body = conv_stmt_list(c, d, F_body, pos);
        break;
    case T_ClassDef:
        s = sf_stmt_new(c->a, SF_ST_CLASSDEF, pos);
        s->u.cls.name = conv_str(c, field(c, d, F_name, pos), pos);
        s->u.cls.decorators = conv_expr_list(c, d, F_decorator_list, pos);
        s->u.cls.bases = conv_expr_list(c, d, F_bases, pos);
        s->u.cls.kw = conv_keywords(c, d, pos, &s->u.cls.nkw);
        s->u.cls.body = conv_stmt_list(c, d, F_body, pos);
        break;
    case T_Return:
        s = sf_stmt_new(c->a, SF_ST_RETURN, pos);
        s->u.ret.value = conv_expr_opt(c, field(c, d, F_value, pos), pos);
        break;
    case T_Delete:
        s = sf_stmt_new(c->a, SF_ST_DELETE, pos);
        s->u.del.targets = conv_expr_list(c, d, F_targets, pos);
        break;
    case T_Assign:
        s = sf_stmt_new(c->a, SF_ST_ASSIGN, pos);
        s->u.assign.targets = conv_expr_list(c, d, F_targets, pos);
        s->u.assign.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_AugAssign:
        s = sf_stmt_new(c->a, SF_ST_AUGASSIGN, pos);
        s->u.augassign.target = conv_expr(c, field(c, d, F_target, pos), pos);
        s->u.augassign.op = conv_op(c, field(c, d, F_op, pos), pos);
        s->u.augassign.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_AnnAssign:
        s = sf_stmt_new(c->a, SF_ST_ANNASSIGN, pos);
        s->u.annassign.target = conv_expr(c, field(c, d, F_target, pos), pos);
        s->u.annassign.annotation = conv_expr(c, field(c, d, F_annotation, pos), pos);
        s->u.annassign.value = conv_expr_opt(c, field(c, d, F_value, pos), pos);
        s->u.annassign.simple = (int)field_long(c, d, F_simple, pos);
        break;
    case T_For:
    case T_AsyncFor:
        s = sf_stmt_new(c->a, t == T_For ? SF_ST_FOR : SF_ST_ASYNCFOR, pos);
        s->u.for_.target = conv_expr(c, field(c, d, F_target, pos), pos);
        s->u.for_.iter = conv_expr(c, field(c, d, F_iter, pos), pos);
        s->u.for_.body = conv_stmt_list(c, d, F_body, pos);
        s->u.for_.orelse = conv_stmt_list(c, d, F_orelse, pos);
        break;
    case T_While:
        s = sf_stmt_new(c->a, SF_ST_WHILE, pos);
        s->u.while_.test = conv_expr(c, field(c, d, F_test, pos), pos);
        s->u.while_.body = conv_stmt_list(c, d, F_body, pos);
        s->u.while_.orelse = conv_stmt_list(c, d, F_orelse, pos);
        break;
    case T_If:
        s = sf_stmt_new(c->a, SF_ST_IF, pos);
        s->u.if_.test = conv_expr(c, field(c, d, F_test, pos), pos);
        s->u.if_.body = conv_stmt_list(c, d, F_body, pos);
        s->u.if_.orelse = conv_stmt_list(c, d, F_orelse, pos);
        break;
    case T_With:
    case T_AsyncWith: {
        s = sf_stmt_new(c->a, t == T_With ? SF_ST_WITH : SF_ST_ASYNCWITH, pos);
        Py_ssize_t n;
        PyObject *l = list_field(c, d, F_items, pos, &n);
        s->u.with.nitems = (int)n;
        s->u.with.items = sf_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof(sf_withitem));
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *wd = node_dict(c, PyList_GET_ITEM(l, i), pos);
            s->u.with.items[i].context = conv_expr(c, field(c, wd, F_context_expr, pos), pos);
            s->u.with.items[i].vars = conv_expr_opt(c, field(c, wd, F_optional_vars, pos), pos);
        }
        s->u.with.body = conv_stmt_list(c, d, F_body, pos);
        break;
    }
    case T_Match: {
        s = sf_stmt_new(c->a, SF_ST_MATCH, pos);
        long line = field_long(c, d, F_lineno, pos), col = field_long(c, d, F_col_offset, pos);
        long eline = field_long(c, d, F_end_lineno, pos), ecol = field_long(c, d, F_end_col_offset, pos);
        s->u.match.source = source_segment(c, line, col, eline, ecol);
        if (!s->u.match.source)
            fail(c, pos.line, pos.col, "cannot locate the source of this match statement");
        break;
    }
    case T_Raise:
        s = sf_stmt_new(c->a, SF_ST_RAISE, pos);
        s->u.raise.exc = conv_expr_opt(c, field(c, d, F_exc, pos), pos);
        s->u.raise.cause = conv_expr_opt(c, field(c, d, F_cause, pos), pos);
        break;
    case T_Try:
    case T_TryStar:
        s = sf_stmt_new(c->a, t == T_Try ? SF_ST_TRY : SF_ST_TRYSTAR, pos);
        s->u.try_.body = conv_stmt_list(c, d, F_body, pos);
        s->u.try_.handlers = conv_handlers(c, d, pos, &s->u.try_.nhandlers);
        s->u.try_.orelse = conv_stmt_list(c, d, F_orelse, pos);
        s->u.try_.finalbody = conv_stmt_list(c, d, F_finalbody, pos);
        break;
    case T_Assert:
        s = sf_stmt_new(c->a, SF_ST_ASSERT, pos);
        s->u.assert_.test = conv_expr(c, field(c, d, F_test, pos), pos);
        s->u.assert_.msg = conv_expr_opt(c, field(c, d, F_msg, pos), pos);
        break;
    case T_Import:
        s = sf_stmt_new(c->a, SF_ST_IMPORT, pos);
        s->u.import.names = conv_aliases(c, d, pos, &s->u.import.nnames);
        break;
    case T_ImportFrom:
        s = sf_stmt_new(c->a, SF_ST_IMPORTFROM, pos);
        s->u.import.names = conv_aliases(c, d, pos, &s->u.import.nnames);
        s->u.import.module = conv_str_opt(c, field(c, d, F_module, pos), pos);
        {
            PyObject *lv = field(c, d, F_level, pos);
            s->u.import.level = lv == Py_None ? 0 : (int)field_long(c, d, F_level, pos);
        }
        break;
    case T_Global:
    case T_Nonlocal: {
        s = sf_stmt_new(c->a, t == T_Global ? SF_ST_GLOBAL : SF_ST_NONLOCAL, pos);
        Py_ssize_t n;
        PyObject *l = list_field(c, d, F_names, pos, &n);
        s->u.global.nnames = (int)n;
        s->u.global.names = sf_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof(char *));
        for (Py_ssize_t i = 0; i < n; i++)
            s->u.global.names[i] = conv_str(c, PyList_GET_ITEM(l, i), pos);
        break;
    }
    case T_Expr:
        s = sf_stmt_new(c->a, SF_ST_EXPR, pos);
        s->u.expr.value = conv_expr(c, field(c, d, F_value, pos), pos);
        break;
    case T_Pass:
        s = sf_stmt_new(c->a, SF_ST_PASS, pos);
        break;
    case T_Break:
        s = sf_stmt_new(c->a, SF_ST_BREAK, pos);
        break;
    case T_Continue:
        s = sf_stmt_new(c->a, SF_ST_CONTINUE, pos);
        break;
    default:
        fail(c, pos.line, pos.col, "unsupported statement %s", node_type_names[t]);
    }
    c->depth--;
    return s;
}

/* ---- driver -------------------------------------------------------------- */

/* Report the pending exception from compile() as a diagnostic. */
static void report_compile_error(conv *c)
{
    if (PyErr_ExceptionMatches(PyExc_SyntaxError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        long line = 0, col = 0;
        char msg[400] = "invalid syntax";
        if (value) {
            PyObject *v = PyObject_GetAttrString(value, "lineno");
            if (v && PyLong_Check(v))
                line = PyLong_AsLong(v);
            Py_XDECREF(v);
            v = PyObject_GetAttrString(value, "offset");
            if (v && PyLong_Check(v))
                col = PyLong_AsLong(v); /* already a 1-based character column */
            Py_XDECREF(v);
            v = PyObject_GetAttrString(value, "msg");
            const char *m = v && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
            if (m && *m)
                snprintf(msg, sizeof(msg), "%s", m);
            Py_XDECREF(v);
            PyErr_Clear();
        }
        if (line < 0 || line > INT_MAX)
            line = 0;
        if (col < 0 || col > INT_MAX)
            col = 0;
        sf_diag_error(c->d, (int)line, (int)col, "%s", msg);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return;
    }
    int recursion = PyErr_ExceptionMatches(PyExc_RecursionError);
    int memory = PyErr_ExceptionMatches(PyExc_MemoryError);
    char text[400];
    py_err_text(text, sizeof(text));
    if (recursion)
        sf_diag_error(c->d, 1, 0, "expression nested too deeply (%s)", text);
    else if (memory)
        sf_diag_error(c->d, 1, 0, "source too large or nested too deeply for the Python parser (%s)", text);
    else
        sf_diag_error(c->d, 1, 0, "cannot parse: %s", text);
}

static int setup_tables(conv *c, char *err, size_t errlen)
{
    PyObject *astmod = PyImport_ImportModule("_ast");
    if (!astmod)
        goto pyerr;
    c->typemap = PyDict_New();
    if (!c->typemap) {
        Py_DECREF(astmod);
        goto pyerr;
    }
    for (int i = 0; i < T__COUNT; i++) {
        PyObject *tp = PyObject_GetAttrString(astmod, node_type_names[i]);
        PyObject *code = tp ? PyLong_FromLong(i) : NULL;
        int rc = code ? PyDict_SetItem(c->typemap, tp, code) : -1;
        Py_XDECREF(code);
        Py_XDECREF(tp);
        if (rc < 0) {
            Py_DECREF(astmod);
            goto pyerr;
        }
    }
    Py_DECREF(astmod);
    for (int i = 0; i < F__COUNT; i++) {
        c->key[i] = PyUnicode_InternFromString(field_names[i]);
        if (!c->key[i])
            goto pyerr;
    }
    return 0;
pyerr:
    py_err_text(err, errlen);
    return -1;
}

static void free_tables(conv *c)
{
    Py_CLEAR(c->typemap);
    for (int i = 0; i < F__COUNT; i++)
        Py_CLEAR(c->key[i]);
}

int sf_parse(sf_arena *a, const char *filename, const char *source, size_t len,
             sf_module *mod, sf_diag *d)
{
    return sf_parse_at(a, filename, source, len, 0, mod, d);
}

int sf_parse_at(sf_arena *a, const char *filename, const char *source, size_t len,
                int line_base, sf_module *mod, sf_diag *d)
{
    memset(mod, 0, sizeof(*mod));
    if (!Py_IsInitialized()) {
        sf_diag_error(d, 0, 0, "internal error: the embedded Python is not running");
        return -1;
    }
    if (len > SF_PARSE_MAX_SOURCE) {
        sf_diag_error(d, 0, 0, "source file too large (%zu bytes, limit %u)", len,
                      SF_PARSE_MAX_SOURCE);
        return -1;
    }
    if (!source || len == 0) {   /* an empty file may come as NULL */
        source = "";
        len = 0;
    }
    if (len >= 3 && memcmp(source, "\xEF\xBB\xBF", 3) == 0) {
        source += 3;
        len -= 3;
    }

    /* every conv field is set here, before setjmp, and only c.depth changes
     * after it (it is not read after a longjmp) */
    conv c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.d = d;
    c.line_base = line_base;
    c.src = sf_arena_strndup(a, source, len); /* NUL-terminated copy */
    c.len = len;
    c.lines = split_lines(c.src, len, &c.nlines);
    if (!c.lines) {
        sf_diag_error(d, 0, 0, "out of memory reading the source");
        return -1;
    }

    size_t bad = sf_utf8_invalid_at(c.src, len);
    if (bad < len) {
        int line, col;
        offset_pos(&c, bad, &line, &col);
        sf_diag_error(d, line, col, "source is not valid UTF-8 (byte 0x%02x)",
                      (unsigned char)c.src[bad]);
        free(c.lines);
        return -1;
    }
    const char *nul = memchr(c.src, '\0', len);
    if (nul) {
        int line, col;
        offset_pos(&c, (size_t)(nul - c.src), &line, &col);
        sf_diag_error(d, line, col, "source code cannot contain null bytes");
        free(c.lines);
        return -1;
    }

    PyGILState_STATE gil = PyGILState_Ensure();
    volatile int rc = -1;
    char err[400];
    if (setup_tables(&c, err, sizeof(err)) < 0) {
        sf_diag_error(d, 0, 0, "internal error: cannot load Python's ast classes: %s", err);
        free_tables(&c);
        free(c.lines);
        PyGILState_Release(gil);
        return -1;
    }

    PyCompilerFlags flags = _PyCompilerFlags_INIT;
    flags.cf_flags = PyCF_ONLY_AST | PyCF_IGNORE_COOKIE;
    PyObject *tree = Py_CompileStringExFlags(c.src, filename, Py_file_input, &flags, -1);
    if (!tree) {
        report_compile_error(&c);
    } else if (setjmp(c.jmp) == 0) {
        sf_pos top = {1, 1, 1, 1};
        PyObject *md = node_dict(&c, tree, top);
        mod->filename = sf_arena_strdup(a, filename);
        mod->source = c.src;
        mod->body = conv_stmt_list(&c, md, F_body, top);
        rc = 0;
    } else {
        /* conversion failed (fail() recorded the error) */
        rc = -1;
        memset(mod, 0, sizeof(*mod));
        PyErr_Clear();
    }
    Py_XDECREF(tree);
    free_tables(&c);
    free(c.lines);
    PyGILState_Release(gil);
    return rc;
}
