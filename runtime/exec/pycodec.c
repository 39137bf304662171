/* pycodec.c: msgpack <-> Python objects for the executor (pycodec.h), and
 * the Ref type (an entity reference: immutable, compares and hashes by
 * (entity, key)). Encoding packs with msgpack-c into an sf_buf; decoding is
 * a hand-written bounds-checked reader (mpread.h) that builds exact Python
 * types.
 *
 * Decisions:
 * - Only exact builtin types are stored (plus bool and Ref): a subclass of
 *   dict, int, str... (OrderedDict, defaultdict, IntEnum) is refused rather
 *   than silently turned into its base type, which would change behaviour
 *   after a round trip.
 * - In a hashable position (a dict key, a set element, and inside tuples and
 *   Ref keys sitting there) a set is decoded as a frozenset, so that a
 *   frozenset stored in a set or as a key comes back usable; a list or a
 *   dict there is an error.
 * - Depth: every container (list, tuple, dict, set, Ref) adds one level; at
 *   most SF_VALUE_MAX_DEPTH levels, the same rule as json.c. */
#define PY_SSIZE_T_CLEAN
#include "pycodec.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

#include "mpread.h"
#include "stateflow/sf_value.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_util.h"

/* ------------------------------------------------------------------ */
/* Ref                                                                 */

typedef struct sf_ref {
    PyObject_HEAD
    PyObject *entity; /* exact str, interned */
    PyObject *key;
    Py_hash_t hash;   /* -1 until computed */
} sf_ref;

static PyObject *ref_make(PyTypeObject *type, PyObject *entity, PyObject *key)
{
    sf_ref *r = (sf_ref *)type->tp_alloc(type, 0);
    if (!r)
        return NULL;
    Py_INCREF(entity);
    Py_INCREF(key);
    r->entity = entity;
    r->key = key;
    r->hash = -1;
    return (PyObject *)r;
}

static PyObject *ref_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    char *kwlist[] = {"entity", "key", NULL};
    PyObject *entity, *key;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO:Ref", kwlist, &entity, &key))
        return NULL;
    if (PyUnicode_GET_LENGTH(entity) == 0) {
        PyErr_SetString(PyExc_ValueError, "Ref: the entity name must not be empty");
        return NULL;
    }
    PyObject *name = PyUnicode_CheckExact(entity) ? Py_NewRef(entity) : PyObject_Str(entity);
    if (!name)
        return NULL;
    /* sf_pycodec_ref_entity must always have UTF-8 to give */
    if (!PyUnicode_AsUTF8(name)) {
        Py_DECREF(name);
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "Ref: the entity name is not valid Unicode");
        return NULL;
    }
    PyUnicode_InternInPlace(&name);
    PyObject *r = ref_make(type, name, key);
    Py_DECREF(name);
    return r;
}

static void ref_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    sf_ref *r = (sf_ref *)self;
    PyObject_GC_UnTrack(self);
    Py_CLEAR(r->entity);
    Py_CLEAR(r->key);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int ref_traverse(PyObject *self, visitproc visit, void *arg)
{
    sf_ref *r = (sf_ref *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(r->entity);
    Py_VISIT(r->key);
    return 0;
}

static PyObject *ref_repr(PyObject *self)
{
    sf_ref *r = (sf_ref *)self;
    return PyUnicode_FromFormat("Ref(%R, %R)", r->entity, r->key);
}

static Py_hash_t ref_hash(PyObject *self)
{
    sf_ref *r = (sf_ref *)self;
    if (r->hash != -1)
        return r->hash;
    Py_hash_t he = PyObject_Hash(r->entity);
    if (he == -1)
        return -1;
    Py_hash_t hk = PyObject_Hash(r->key);
    if (hk == -1)
        return -1;
    Py_uhash_t x = ((Py_uhash_t)he * 1000003u) ^ (Py_uhash_t)hk;
    x += 97531u;
    Py_hash_t h = (Py_hash_t)x;
    if (h == -1)
        h = -2;
    r->hash = h;
    return h;
}

static PyObject *ref_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(a) != Py_TYPE(b))
        Py_RETURN_NOTIMPLEMENTED;
    int eq = 1;
    if (a != b) {
        sf_ref *x = (sf_ref *)a, *y = (sf_ref *)b;
        eq = PyObject_RichCompareBool(x->entity, y->entity, Py_EQ);
        if (eq == 1)
            eq = PyObject_RichCompareBool(x->key, y->key, Py_EQ);
        if (eq < 0)
            return NULL;
    }
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *ref_copy(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *ref_deepcopy(PyObject *self, PyObject *memo) { return Py_NewRef(self); }

static PyObject *ref_reduce(PyObject *self, PyObject *unused)
{
    PyErr_SetString(PyExc_TypeError, "Ref objects cannot be pickled (StateFlow values travel as msgpack)");
    return NULL;
}

static const PyMethodDef ref_methods[] = {
    {"__copy__", ref_copy, METH_NOARGS, "A Ref is immutable: returns itself."},
    {"__deepcopy__", ref_deepcopy, METH_O, "A Ref is immutable: returns itself."},
    {"__reduce__", ref_reduce, METH_NOARGS, "Refs are never pickled."},
    {NULL, NULL, 0, NULL},
};

static const PyMemberDef ref_members[] = {
    {"entity", T_OBJECT_EX, offsetof(sf_ref, entity), READONLY, "The entity (class) name."},
    {"key", T_OBJECT_EX, offsetof(sf_ref, key), READONLY, "The instance's key."},
    {NULL, 0, 0, 0, NULL},
};

int sf_pycodec_init(sf_pycodec *c)
{
    c->ref_type = NULL;
    /* The spec lives on the stack: PyType_FromSpec copies what it keeps,
     * except the name and the method table, which are constants. */
    PyType_Slot slots[] = {
        {Py_tp_doc, (void *)"Ref(entity, key): a reference to an entity instance. Immutable; compares and "
                            "hashes by (entity, key)."},
        {Py_tp_new, (void *)ref_tp_new},
        {Py_tp_dealloc, (void *)ref_dealloc},
        {Py_tp_traverse, (void *)ref_traverse},
        {Py_tp_repr, (void *)ref_repr},
        {Py_tp_hash, (void *)ref_hash},
        {Py_tp_richcompare, (void *)ref_richcompare},
        {Py_tp_methods, (void *)ref_methods},
        {Py_tp_members, (void *)ref_members},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "stateflow.Ref",
        .basicsize = sizeof(sf_ref),
        .itemsize = 0,
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    PyObject *t = PyType_FromSpec(&spec);
    if (!t)
        return -1;
    c->ref_type = (PyTypeObject *)t;
    return 0;
}

void sf_pycodec_fini(sf_pycodec *c)
{
    Py_CLEAR(c->ref_type);
}

PyObject *sf_pycodec_ref_new(sf_pycodec *c, const char *entity, PyObject *key)
{
    PyObject *name = PyUnicode_InternFromString(entity);
    if (!name)
        return NULL;
    PyObject *r = ref_make(c->ref_type, name, key);
    Py_DECREF(name);
    return r;
}

int sf_pycodec_is_ref(sf_pycodec *c, PyObject *o) { return c->ref_type && Py_TYPE(o) == c->ref_type; }

const char *sf_pycodec_ref_entity(PyObject *ref)
{
    return PyUnicode_AsUTF8(((sf_ref *)ref)->entity);
}

PyObject *sf_pycodec_ref_key(PyObject *ref) { return ((sf_ref *)ref)->key; }

/* ------------------------------------------------------------------ */
/* shared                                                              */


/* Describe the pending Python exception in buf and clear it. */
static void pyerr_describe(char *buf, size_t n)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    const char *tname = t ? ((PyTypeObject *)t)->tp_name : "error";
    PyObject *s = v ? PyObject_Str(v) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    if (msg && *msg)
        snprintf(buf, n, "%s: %s", tname, msg);
    else
        snprintf(buf, n, "%s", tname);
    Py_XDECREF(s);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    PyErr_Clear();
}

/* ------------------------------------------------------------------ */
/* encoding                                                            */

#define ENC_SEG_LEN 48
#define ENC_MAX_SEGS (SF_VALUE_MAX_DEPTH + 2)

typedef struct enc {
    sf_pycodec *c;
    sf_buf *out;
    size_t start;
    msgpack_packer pk;
    char msg[200];
    int nopath;  /* the message makes no sense with a path (depth, size) */
    int nseg;    /* path segments, innermost first */
    char seg[ENC_MAX_SEGS][ENC_SEG_LEN];
} enc;

static int enc_fail(enc *e, int nopath, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int enc_fail(enc *e, int nopath, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->nopath = nopath;
    return -1;
}

static int enc_fail_py(enc *e)
{
    pyerr_describe(e->msg, sizeof e->msg);
    e->nopath = 0;
    return -1;
}

static int enc_seg(enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int enc_seg(enc *e, const char *fmt, ...)
{
    if (e->nopath || e->nseg >= ENC_MAX_SEGS)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->seg[e->nseg++], ENC_SEG_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

/* Path segment for the value under dict key k: "['x']", "[3]". */
static int enc_seg_key(enc *e, PyObject *k)
{
    if (e->nopath)
        return -1;
    PyTypeObject *t = Py_TYPE(k);
    if (t != &PyUnicode_Type && t != &PyLong_Type && t != &PyFloat_Type && t != &PyBool_Type &&
        k != Py_None)
        return enc_seg(e, "[...]");
    PyObject *r = PyObject_Repr(k);
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    if (!s) {
        PyErr_Clear();
        Py_XDECREF(r);
        return enc_seg(e, "[...]");
    }
    size_t n = strlen(s);
    if (n > ENC_SEG_LEN - 8)
        enc_seg(e, "[%.*s...]", ENC_SEG_LEN - 8, s);
    else
        enc_seg(e, "[%s]", s);
    Py_DECREF(r);
    return -1;
}

static int enc_size_check(enc *e)
{
    if (e->out->len - e->start > SF_VALUE_MAX_BYTES)
        return enc_fail(e, 1, "value too large (more than %u bytes encoded)", SF_VALUE_MAX_BYTES);
    return 0;
}

static int enc_depth_check(enc *e, int depth)
{
    if (depth >= SF_VALUE_MAX_DEPTH)
        return enc_fail(e, 1, "nested too deeply (limit %d)", SF_VALUE_MAX_DEPTH);
    return 0;
}

static int enc_value(enc *e, PyObject *o, int depth);

typedef struct set_elem {
    const char *p;
    size_t n;
} set_elem;

static int set_elem_cmp(const void *a, const void *b)
{
    const set_elem *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* Sort the n encoded elements starting at offs[0] (offs[n] is the end) by
 * their bytes, in place. */
static int enc_sort_elements(enc *e, const size_t *offs, size_t n)
{
    size_t base = offs[0], total = offs[n] - base;
    char *tmp = malloc(total ? total : 1);
    set_elem *el = malloc(n * sizeof *el);
    if (!tmp || !el) {
        free(tmp);
        free(el);
        return enc_fail(e, 1, "out of memory");
    }
    memcpy(tmp, e->out->data + base, total);
    for (size_t i = 0; i < n; i++) {
        el[i].p = tmp + (offs[i] - base);
        el[i].n = offs[i + 1] - offs[i];
    }
    qsort(el, n, sizeof *el, set_elem_cmp);
    char *dst = e->out->data + base;
    for (size_t i = 0; i < n; i++) {
        memcpy(dst, el[i].p, el[i].n);
        dst += el[i].n;
    }
    free(tmp);
    free(el);
    return 0;
}

static int enc_set(enc *e, PyObject *o, int depth)
{
    Py_ssize_t n = PySet_GET_SIZE(o);
    size_t hpos = e->out->len;
    sf_buf_append(e->out, "\0\0\0", 3); /* ext header placeholder */
    msgpack_pack_array(&e->pk, (size_t)n);
    size_t small[17];
    size_t *offs = (size_t)n < 16 ? small : malloc(((size_t)n + 1) * sizeof *offs);
    if (!offs)
        return enc_fail(e, 1, "out of memory");
    PyObject *it = PyObject_GetIter(o);
    int rc = it ? 0 : enc_fail_py(e);
    Py_ssize_t i = 0;
    PyObject *x;
    while (rc == 0 && (x = PyIter_Next(it)) != NULL) {
        if (i >= n) {
            Py_DECREF(x);
            rc = enc_fail(e, 0, "set changed size during encoding");
            break;
        }
        offs[i++] = e->out->len;
        /* x stays alive while the set holds it; nothing can run meanwhile */
        rc = enc_value(e, x, depth + 1);
        Py_DECREF(x);
        if (rc < 0) {
            enc_seg(e, " (a set element)");
            break;
        }
        rc = enc_size_check(e);
    }
    if (rc == 0 && PyErr_Occurred())
        rc = enc_fail_py(e);
    if (rc == 0 && i != n)
        rc = enc_fail(e, 0, "set changed size during encoding");
    Py_XDECREF(it);
    if (rc == 0 && n > 1) {
        offs[n] = e->out->len;
        rc = enc_sort_elements(e, offs, (size_t)n);
    }
    if (offs != small)
        free(offs);
    if (rc < 0)
        return -1;
    sf_mp_patch_ext_header(e->out, hpos, 3, SF_EXT_SET);
    return 0;
}

static int enc_value(enc *e, PyObject *o, int depth)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s) {
            PyErr_Clear();
            return enc_fail(e, 0, "cannot store a str that is not valid Unicode (it holds a lone surrogate)");
        }
        msgpack_pack_str_with_body(&e->pk, s, (size_t)n);
        return enc_size_check(e);
    }
    if (t == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow)
            return enc_fail(e, 0, "int too large (more than 64 bits)");
        if (v == -1 && PyErr_Occurred())
            return enc_fail_py(e);
        msgpack_pack_int64(&e->pk, (int64_t)v);
        return 0;
    }
    if (o == Py_None) {
        msgpack_pack_nil(&e->pk);
        return 0;
    }
    if (o == Py_True) {
        msgpack_pack_true(&e->pk);
        return 0;
    }
    if (o == Py_False) {
        msgpack_pack_false(&e->pk);
        return 0;
    }
    if (t == &PyFloat_Type) {
        msgpack_pack_double(&e->pk, PyFloat_AS_DOUBLE(o));
        return 0;
    }
    if (t == &PyDict_Type) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        msgpack_pack_map(&e->pk, (size_t)PyDict_GET_SIZE(o));
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v)) {
            if (enc_value(e, k, depth + 1) < 0)
                return enc_seg(e, " (a dict key)");
            if (enc_value(e, v, depth + 1) < 0)
                return enc_seg_key(e, k);
            if (enc_size_check(e) < 0)
                return -1;
        }
        return 0;
    }
    if (t == &PyList_Type || t == &PyTuple_Type) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        int tuple = t == &PyTuple_Type;
        Py_ssize_t n = tuple ? PyTuple_GET_SIZE(o) : PyList_GET_SIZE(o);
        size_t hpos = e->out->len;
        if (tuple)
            sf_buf_append(e->out, "\0\0\0", 3); /* ext header placeholder */
        msgpack_pack_array(&e->pk, (size_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = tuple ? PyTuple_GET_ITEM(o, i) : PyList_GET_ITEM(o, i);
            if (enc_value(e, x, depth + 1) < 0)
                return enc_seg(e, "[%zd]", i);
            if (enc_size_check(e) < 0)
                return -1;
        }
        if (tuple)
            sf_mp_patch_ext_header(e->out, hpos, 3, SF_EXT_TUPLE);
        return 0;
    }
    if (t == &PyBytes_Type) {
        msgpack_pack_bin_with_body(&e->pk, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
        return enc_size_check(e);
    }
    if (t == e->c->ref_type) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        sf_ref *r = (sf_ref *)o;
        size_t hpos = e->out->len;
        sf_buf_append(e->out, "\0\0\0", 3);
        msgpack_pack_array(&e->pk, 2);
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(r->entity, &n);
        if (!s)
            return enc_fail_py(e);
        msgpack_pack_str_with_body(&e->pk, s, (size_t)n);
        if (enc_value(e, r->key, depth + 1) < 0)
            return enc_seg(e, ".key");
        sf_mp_patch_ext_header(e->out, hpos, 3, SF_EXT_REF);
        return 0;
    }
    if (t == &PySet_Type || t == &PyFrozenSet_Type) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        return enc_set(e, o, depth);
    }
    PyObject *name = PyType_GetName(t);
    const char *ns = name ? PyUnicode_AsUTF8(name) : NULL;
    if (!ns)
        PyErr_Clear();
    enc_fail(e, 0, "cannot store a value of type '%s'", ns ? ns : t->tp_name);
    Py_XDECREF(name);
    return -1;
}

int sf_pycodec_encode(sf_pycodec *c, PyObject *o, const char *where, sf_buf *out, char *err,
                      size_t errlen)
{
    enc e;
    e.c = c;
    e.out = out;
    e.start = out->len;
    e.nopath = 0;
    e.nseg = 0;
    e.msg[0] = '\0';
    sf_buf_packer_init(&e.pk, out);
    if (enc_value(&e, o, 0) == 0)
        return 0;
    if (PyErr_Occurred())
        PyErr_Clear();
    out->len = e.start;
    if (out->data)
        out->data[out->len] = '\0';
    if (err && errlen) {
        sf_buf m;
        sf_buf_init(&m);
        sf_buf_puts(&m, where && *where ? where : "value");
        if (!e.nopath)
            for (int i = e.nseg - 1; i >= 0; i--)
                sf_buf_puts(&m, e.seg[i]);
        sf_buf_puts(&m, ": ");
        sf_buf_puts(&m, e.msg);
        sf_set_err(err, errlen, "%s", m.data);
        sf_buf_free(&m);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* decoding                                                            */

typedef struct dec {
    sf_pycodec *c;
    const char *buf;
    size_t len, pos;
    char *err;
    size_t errlen;
} dec;

static PyObject *dec_fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static PyObject *dec_fail(dec *d, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static PyObject *dec_fail_py(dec *d, size_t at)
{
    char m[160];
    pyerr_describe(m, sizeof m);
    return dec_fail(d, "msgpack: value at offset %zu: %s", at, m);
}

static PyObject *dec_value(dec *d, int depth, int hashable);

/* Enter an ext payload: it must hold exactly one array; d->len is narrowed
 * to the payload. Returns the element count, or -1. */
static long dec_enter(dec *d, const sf_mp_item *it, size_t at, size_t *saved_len)
{
    *saved_len = d->len;
    d->pos = (size_t)(it->data - d->buf);
    d->len = d->pos + it->n;
    sf_mp_item a;
    int rc = sf_mp_read(d->buf, d->len, &d->pos, &a);
    if (rc == SF_MP_ETRUNC) {
        dec_fail(d, "msgpack: extension type %d at offset %zu: truncated payload", it->ext_type, at);
        return -1;
    }
    if (rc < 0 || a.kind != SF_MP_ARRAY) {
        dec_fail(d, "msgpack: extension type %d at offset %zu: payload is not an array", it->ext_type, at);
        return -1;
    }
    return (long)a.n;
}

static int dec_leave(dec *d, const sf_mp_item *it, size_t at, size_t saved_len)
{
    if (d->pos != d->len) {
        dec_fail(d, "msgpack: extension type %d at offset %zu: trailing bytes in payload", it->ext_type, at);
        return -1;
    }
    d->len = saved_len;
    return 0;
}

static PyObject *dec_ext(dec *d, const sf_mp_item *it, size_t at, int depth, int hashable)
{
    int type = it->ext_type;
    if (type != SF_EXT_TUPLE && type != SF_EXT_SET && type != SF_EXT_REF)
        return dec_fail(d, "msgpack: unknown extension type %d at offset %zu", type, at);
    if (depth >= SF_VALUE_MAX_DEPTH)
        return dec_fail(d, "msgpack: nested too deeply (limit %d) at offset %zu", SF_VALUE_MAX_DEPTH, at);
    size_t after = d->pos, saved_len;
    long n = dec_enter(d, it, at, &saved_len);
    if (n < 0)
        return NULL;
    PyObject *r = NULL;
    if (type == SF_EXT_TUPLE) {
        r = PyTuple_New(n);
        if (!r)
            return dec_fail_py(d, at);
        for (long i = 0; i < n; i++) {
            PyObject *x = dec_value(d, depth + 1, hashable);
            if (!x) {
                Py_DECREF(r);
                return NULL;
            }
            PyTuple_SET_ITEM(r, i, x);
        }
    } else if (type == SF_EXT_SET) {
        r = hashable ? PyFrozenSet_New(NULL) : PySet_New(NULL);
        if (!r)
            return dec_fail_py(d, at);
        for (long i = 0; i < n; i++) {
            size_t xat = d->pos;
            PyObject *x = dec_value(d, depth + 1, 1);
            if (!x) {
                Py_DECREF(r);
                return NULL;
            }
            int rc = PySet_Add(r, x);
            Py_DECREF(x);
            if (rc < 0) {
                Py_DECREF(r);
                return dec_fail_py(d, xat);
            }
        }
    } else {
        sf_mp_item e;
        size_t eat = d->pos;
        if (n != 2 || sf_mp_read(d->buf, d->len, &d->pos, &e) < 0 || e.kind != SF_MP_STR || e.n == 0)
            return dec_fail(d, "msgpack: bad reference at offset %zu (expected [entity, key])", at);
        PyObject *name = PyUnicode_DecodeUTF8(e.data, (Py_ssize_t)e.n, "strict");
        if (!name) {
            PyErr_Clear();
            return dec_fail(d, "msgpack: invalid UTF-8 in str at offset %zu", eat);
        }
        PyUnicode_InternInPlace(&name);
        PyObject *key = dec_value(d, depth + 1, hashable);
        if (!key) {
            Py_DECREF(name);
            return NULL;
        }
        r = ref_make(d->c->ref_type, name, key);
        Py_DECREF(name);
        Py_DECREF(key);
        if (!r)
            return dec_fail_py(d, at);
    }
    if (dec_leave(d, it, at, saved_len) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    d->pos = after;
    return r;
}

static PyObject *dec_value(dec *d, int depth, int hashable)
{
    size_t at = d->pos;
    sf_mp_item it;
    int rc = sf_mp_read(d->buf, d->len, &d->pos, &it);
    if (rc == SF_MP_ETRUNC)
        return dec_fail(d, "msgpack: truncated value at offset %zu", at);
    if (rc < 0)
        return dec_fail(d, "msgpack: invalid byte 0x%02x at offset %zu", (unsigned char)d->buf[at], at);
    PyObject *r;
    switch (it.kind) {
    case SF_MP_NIL:
        return Py_NewRef(Py_None);
    case SF_MP_BOOL:
        return Py_NewRef(it.v.b ? Py_True : Py_False);
    case SF_MP_INT:
        r = PyLong_FromLongLong(it.v.i);
        return r ? r : dec_fail_py(d, at);
    case SF_MP_UINT:
        return dec_fail(d, "msgpack: int too large (more than 64 bits) at offset %zu", at);
    case SF_MP_FLOAT:
        r = PyFloat_FromDouble(it.v.f);
        return r ? r : dec_fail_py(d, at);
    case SF_MP_STR:
        r = PyUnicode_DecodeUTF8(it.data, (Py_ssize_t)it.n, "strict");
        if (!r) {
            PyErr_Clear();
            return dec_fail(d, "msgpack: invalid UTF-8 in str at offset %zu", at);
        }
        return r;
    case SF_MP_BIN:
        r = PyBytes_FromStringAndSize(it.data, (Py_ssize_t)it.n);
        return r ? r : dec_fail_py(d, at);
    case SF_MP_ARRAY:
        if (hashable)
            return dec_fail(d, "msgpack: a list cannot be a dict key or set element (offset %zu)", at);
        if (depth >= SF_VALUE_MAX_DEPTH)
            return dec_fail(d, "msgpack: nested too deeply (limit %d) at offset %zu", SF_VALUE_MAX_DEPTH, at);
        r = PyList_New((Py_ssize_t)it.n);
        if (!r)
            return dec_fail_py(d, at);
        for (uint32_t i = 0; i < it.n; i++) {
            PyObject *x = dec_value(d, depth + 1, 0);
            if (!x) {
                Py_DECREF(r);
                return NULL;
            }
            PyList_SET_ITEM(r, (Py_ssize_t)i, x);
        }
        return r;
    case SF_MP_MAP:
        if (hashable)
            return dec_fail(d, "msgpack: a dict cannot be a dict key or set element (offset %zu)", at);
        if (depth >= SF_VALUE_MAX_DEPTH)
            return dec_fail(d, "msgpack: nested too deeply (limit %d) at offset %zu", SF_VALUE_MAX_DEPTH, at);
        r = PyDict_New();
        if (!r)
            return dec_fail_py(d, at);
        for (uint32_t i = 0; i < it.n; i++) {
            size_t kat = d->pos;
            PyObject *k = dec_value(d, depth + 1, 1);
            if (!k) {
                Py_DECREF(r);
                return NULL;
            }
            PyObject *v = dec_value(d, depth + 1, 0);
            if (!v) {
                Py_DECREF(k);
                Py_DECREF(r);
                return NULL;
            }
            int src = PyDict_SetItem(r, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            if (src < 0) {
                Py_DECREF(r);
                return dec_fail_py(d, kat);
            }
        }
        return r;
    case SF_MP_EXT:
        return dec_ext(d, &it, at, depth, hashable);
    default:
        return dec_fail(d, "msgpack: unexpected item at offset %zu", at);
    }
}

PyObject *sf_pycodec_decode_prefix(sf_pycodec *c, const char *data, size_t len, size_t *used, char *err,
                                   size_t errlen)
{
    if (len > SF_VALUE_MAX_BYTES) {
        sf_set_err(err, errlen, "msgpack: value too large (%zu bytes, limit %u)", len, SF_VALUE_MAX_BYTES);
        return NULL;
    }
    dec d = {.c = c, .buf = data ? data : "", .len = data ? len : 0, .pos = 0, .err = err, .errlen = errlen};
    PyObject *r = dec_value(&d, 0, 0);
    if (!r) {
        if (PyErr_Occurred())
            PyErr_Clear();
        return NULL;
    }
    if (used)
        *used = d.pos;
    return r;
}

PyObject *sf_pycodec_decode(sf_pycodec *c, const char *data, size_t len, char *err, size_t errlen)
{
    size_t used = 0;
    PyObject *r = sf_pycodec_decode_prefix(c, data, len, &used, err, errlen);
    if (r && used != len) {
        Py_DECREF(r);
        sf_set_err(err, errlen, "msgpack: trailing bytes after the value at offset %zu", used);
        return NULL;
    }
    return r;
}
