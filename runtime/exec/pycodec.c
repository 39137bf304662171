/* pycodec.c: msgpack <-> Python objects for the executor (pycodec.h), and
 * the Ref type (an entity reference: immutable, compares and hashes by
 * (entity, key)). Encoding packs with msgpack-c into an sf_buf; decoding is
 * a hand-written bounds-checked reader (mpread.h) that builds exact Python
 * types. The values beyond JSON (ext 4-13, docs/ir.md "Value encoding") are
 * encoded and rebuilt here too, and client arguments in their JSON forms
 * are converted by type hints (a small Python converter run once into a
 * private namespace; tests/diff/plain_hints.py holds the same rules).
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

static PyObject *import_attr(const char *mod, const char *name)
{
    PyObject *m = PyImport_ImportModule(mod);
    if (!m)
        return NULL;
    PyObject *a = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return a;
}

/* Client arguments converted by the method's type hints (pycodec.h,
 * sf_pycodec_convert_args), in Python: run once into a private namespace. */
static const char hints_src[] =
    "def names_of(v):\n"
    "    if type(v) is Ref:\n"
    "        return 'a reference to %s' % v.entity\n"
    "    return 'None' if v is None else type(v).__name__\n"
    "import dataclasses, datetime, decimal, enum, inspect, re, types, typing\n"
    "_NONE = type(None)\n"
    "_DUR = re.compile(r\"(-)?P(?:(\\d+)D)?(?:T(?:(\\d+)H)?(?:(\\d+)M)?(?:(\\d+(?:\\.\\d{1,6})?)S)?)?\")\n"
    "_FORMS = {datetime.datetime: \"datetime (an ISO 8601 string)\", datetime.date: \"date (an ISO 8601 string)\",\n"
    "          datetime.time: \"time (an ISO 8601 string)\",\n"
    "          datetime.timedelta: \"timedelta (seconds or an ISO 8601 duration)\",\n"
    "          decimal.Decimal: \"Decimal (a string or a number)\", bytearray: \"bytearray (bytes)\",\n"
    "          tuple: \"tuple (an array)\", set: \"set (an array)\", frozenset: \"frozenset (an array)\"}\n"
    "\n"
    "\n"
    "class Mismatch(Exception):\n"
    "    def __init__(self, path, want, v, extra=\"\"):\n"
    "        self.path, self.want, self.v, self.extra = path, want, v, extra\n"
    "\n"
    "\n"
    "def _duration(s):\n"
    "    m = _DUR.fullmatch(s)\n"
    "    if not m or s in (\"P\", \"-P\") or s.endswith(\"T\"):\n"
    "        return None\n"
    "    sign, d, h, mi, sec = m.groups()\n"
    "    td = datetime.timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0),\n"
    "                            microseconds=round(decimal.Decimal(sec or 0) * 1000000))\n"
    "    return -td if sign else td\n"
    "\n"
    "\n"
    "_dc_cache = {}\n"
    "\n"
    "\n"
    "def _dc_spec(h):\n"
    "    \"\"\"(type hints, {name: field} of the init fields) of dataclass h,\n"
    "    computed once per class.\"\"\"\n"
    "    r = _dc_cache.get(h)\n"
    "    if r is None:\n"
    "        r = _dc_cache[h] = (typing.get_type_hints(h), {f.name: f for f in dataclasses.fields(h) if f.init})\n"
    "    return r\n"
    "\n"
    "\n"
    "def conv(h, v, path):\n"
    "    if h is typing.Any or h is None:\n"
    "        return v\n"
    "    o = typing.get_origin(h)\n"
    "    a = typing.get_args(h)\n"
    "    if o is typing.Union or o is types.UnionType:\n"
    "        if v is None and _NONE in a:\n"
    "            return None\n"
    "        rest = [x for x in a if x is not _NONE]\n"
    "        return conv(rest[0], v, path) if len(rest) == 1 else v\n"
    "    if o is not None:\n"
    "        if o is list and a and type(v) is list:\n"
    "            return [conv(a[0], x, \"%s[%d]\" % (path, i)) for i, x in enumerate(v)]\n"
    "        if o is dict and len(a) == 2 and type(v) is dict:\n"
    "            return {k: conv(a[1], x, \"%s[%r]\" % (path, k)) for k, x in v.items()}\n"
    "        if o in (tuple, set, frozenset):\n"
    "            if type(v) not in (list, o):\n"
    "                raise Mismatch(path, _FORMS[o], v)\n"
    "            if o is tuple and a and a[-1] is not Ellipsis:\n"
    "                if len(v) != len(a):\n"
    "                    raise Mismatch(path, _FORMS[o], v, \" of %d elements\" % len(v))\n"
    "                return tuple(conv(t, x, \"%s[%d]\" % (path, i)) for i, (t, x) in enumerate(zip(a, v)))\n"
    "            t = a[0] if a else typing.Any\n"
    "            return o(conv(t, x, \"%s[%d]\" % (path, i)) for i, x in enumerate(v))\n"
    "        return v\n"
    "    if not isinstance(h, type) or type(v) is h:\n"
    "        return v\n"
    "    if h in (datetime.datetime, datetime.date, datetime.time):\n"
    "        if type(v) is str:\n"
    "            try:\n"
    "                return h.fromisoformat(v)\n"
    "            except ValueError:\n"
    "                pass\n"
    "        raise Mismatch(path, _FORMS[h], v)\n"
    "    if h is datetime.timedelta:\n"
    "        if type(v) in (int, float):\n"
    "            return datetime.timedelta(seconds=v)\n"
    "        r = _duration(v) if type(v) is str else None\n"
    "        if r is None:\n"
    "            raise Mismatch(path, _FORMS[h], v)\n"
    "        return r\n"
    "    if h is decimal.Decimal:\n"
    "        if type(v) in (str, int, float):\n"
    "            try:\n"
    "                return decimal.Decimal(repr(v) if type(v) is float else v)\n"
    "            except decimal.InvalidOperation:\n"
    "                pass\n"
    "        raise Mismatch(path, _FORMS[h], v)\n"
    "    if h in (bytearray, tuple, set, frozenset):\n"
    "        if (h is bytearray and type(v) is bytes) or (h is not bytearray and type(v) is list):\n"
    "            return h(v)\n"
    "        raise Mismatch(path, _FORMS[h], v)\n"
    "    if issubclass(h, enum.Enum):\n"
    "        try:\n"
    "            return h(v)\n"
    "        except (ValueError, TypeError):\n"
    "            raise Mismatch(path, \"a value of %s\" % h.__name__, v) from None\n"
    "    if dataclasses.is_dataclass(h):\n"
    "        if type(v) is not dict:\n"
    "            raise Mismatch(path, \"%s (an object)\" % h.__name__, v)\n"
    "        hints, fs = _dc_spec(h)\n"
    "        for k in v:\n"
    "            if k not in fs:\n"
    "                raise Mismatch(path, \"%s (an object)\" % h.__name__, v, \" with unknown field %r\" % (k,))\n"
    "        for k, f in fs.items():\n"
    "            if k not in v and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:\n"
    "                raise Mismatch(path, \"%s (an object)\" % h.__name__, v, \" without field %r\" % (k,))\n"
    "        return h(**{k: conv(hints.get(k, typing.Any), x, \"%s.%s\" % (path, k)) for k, x in v.items()})\n"
    "    return v\n"
    "\n"
    "\n"
    "def _interesting(h, depth=0):\n"
    "    if depth > 8:\n"
    "        return False\n"
    "    o = typing.get_origin(h)\n"
    "    if o is not None:\n"
    "        return o in (tuple, set, frozenset) or any(_interesting(a, depth + 1) for a in typing.get_args(h))\n"
    "    return isinstance(h, type) and (h in _FORMS or issubclass(h, enum.Enum) or dataclasses.is_dataclass(h))\n"
    "\n"
    "\n"
    "_cache = {}\n"
    "\n"
    "\n"
    "def _spec(cls, name):\n"
    "    \"\"\"[(index, parameter, hint)] of the parameters of cls.name whose hints\n"
    "    convert JSON values (computed once per method).\"\"\"\n"
    "    spec = _cache.get((cls, name))\n"
    "    if spec is None:\n"
    "        spec = []\n"
    "        fn = cls.__dict__.get(name)\n"
    "        try:\n"
    "            hints = typing.get_type_hints(fn)\n"
    "            params = [p.name for p in list(inspect.signature(fn).parameters.values())[1:]]\n"
    "        except Exception:\n"
    "            hints, params = {}, []\n"
    "        for i, p in enumerate(params):\n"
    "            if p in hints and _interesting(hints[p]):\n"
    "                spec.append((i, p, hints[p]))\n"
    "        _cache[(cls, name)] = spec\n"
    "    return spec\n"
    "\n"
    "\n"
    "def needs(cls, name):\n"
    "    return bool(_spec(cls, name))\n"
    "\n"
    "\n"
    "def convert(cls, name, args, label):\n"
    "    \"\"\"Client arguments (a list, changed in place) converted by the type\n"
    "    hints of cls.name; a value that does not fit raises TypeError.\"\"\"\n"
    "    for i, p, h in _spec(cls, name):\n"
    "        if i >= len(args):\n"
    "            break\n"
    "        try:\n"
    "            args[i] = conv(h, args[i], \"\")\n"
    "        except Mismatch as e:\n"
    "            raise TypeError(\"%s argument '%s'%s must be %s, got %s%s\"\n"
    "                            % (label, p, e.path, e.want, names_of(e.v), e.extra)) from None\n"
    "\n";

static int init_hints(sf_pycodec *c)
{
    PyObject *ns = PyDict_New();
    if (!ns || PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0 ||
        PyDict_SetItemString(ns, "__name__", PyUnicode_FromString("stateflow._hints")) < 0 ||
        PyDict_SetItemString(ns, "Ref", (PyObject *)c->ref_type) < 0) {
        Py_XDECREF(ns);
        return -1;
    }
    PyObject *r = PyRun_String(hints_src, Py_file_input, ns, ns);
    if (r) {
        c->hints_convert = PyDict_GetItemString(ns, "convert");
        c->hints_need = PyDict_GetItemString(ns, "needs");
        Py_XINCREF(c->hints_convert);
        Py_XINCREF(c->hints_need);
    }
    Py_XDECREF(r);
    Py_DECREF(ns);
    return c->hints_convert && c->hints_need ? 0 : -1;
}

int sf_pycodec_args_need_convert(sf_pycodec *c, PyObject *cls, const char *method)
{
    /* remembered per (class, method name pointer): asked once per method */
    size_t h = (((uintptr_t)cls >> 4) * 31u + ((uintptr_t)method >> 3)) % SF_PYCODEC_HINT_SLOTS;
    for (size_t k = 0; k < SF_PYCODEC_HINT_SLOTS; k++) {
        sf_pycodec_hint_slot *sl = &c->hint_slots[(h + k) % SF_PYCODEC_HINT_SLOTS];
        if (sl->cls == cls && sl->method == method)
            return sl->need;
        if (!sl->cls) {
            PyObject *r = PyObject_CallFunction(c->hints_need, "Os", cls, method);
            int need = r ? PyObject_IsTrue(r) : 1;
            Py_XDECREF(r);
            if (PyErr_Occurred())
                PyErr_Clear(); /* convert reports it */
            sl->cls = cls;      /* the class outlives the codec's use of it */
            sl->method = method;
            sl->need = need != 0;
            return sl->need;
        }
    }
    return 1; /* table full: always convert */
}

int sf_pycodec_convert_args(sf_pycodec *c, PyObject *cls, const char *method, const char *label, PyObject *args)
{
    PyObject *r = PyObject_CallFunction(c->hints_convert, "OsOs", cls, method, args, label);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int init_stdlib(sf_pycodec *c)
{
    if (!(c->datetime_t = import_attr("datetime", "datetime")) || !(c->date_t = import_attr("datetime", "date")) ||
        !(c->time_t = import_attr("datetime", "time")) ||
        !(c->timedelta_t = import_attr("datetime", "timedelta")) ||
        !(c->timezone_t = import_attr("datetime", "timezone")) ||
        !(c->decimal_t = import_attr("decimal", "Decimal")) || !(c->enum_meta = import_attr("enum", "EnumMeta")) ||
        !(c->dc_fields = import_attr("dataclasses", "fields")))
        return -1;
    c->zoneinfo_t = import_attr("zoneinfo", "ZoneInfo");
    if (!c->zoneinfo_t)
        PyErr_Clear(); /* zones then neither encode nor decode */
    return 0;
}

void sf_pycodec_set_module(sf_pycodec *c, PyObject *module)
{
    Py_XINCREF(module);
    Py_XSETREF(c->module, module);
    /* a new application: forget what was known about the old one's methods */
    memset(c->hint_slots, 0, sizeof c->hint_slots);
    Py_CLEAR(c->dc_names);
    if (c->hints_convert) {
        PyObject *g = PyFunction_Check(c->hints_convert) ? PyFunction_GetGlobals(c->hints_convert) : NULL;
        static const char *const caches[] = {"_cache", "_dc_cache"};
        for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
            PyObject *cache = g ? PyDict_GetItemString(g, caches[i]) : NULL;
            if (cache && PyDict_Check(cache))
                PyDict_Clear(cache);
        }
    }
}

int sf_pycodec_init(sf_pycodec *c)
{
    memset(c, 0, sizeof *c);
    if (init_stdlib(c) < 0) {
        sf_pycodec_fini(c);
        return -1;
    }
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
    if (!t) {
        sf_pycodec_fini(c);
        return -1;
    }
    c->ref_type = (PyTypeObject *)t;
    if (init_hints(c) < 0) {
        sf_pycodec_fini(c);
        return -1;
    }
    return 0;
}

void sf_pycodec_fini(sf_pycodec *c)
{
    Py_CLEAR(c->ref_type);
    Py_CLEAR(c->module);
    Py_CLEAR(c->datetime_t);
    Py_CLEAR(c->date_t);
    Py_CLEAR(c->time_t);
    Py_CLEAR(c->timedelta_t);
    Py_CLEAR(c->timezone_t);
    Py_CLEAR(c->decimal_t);
    Py_CLEAR(c->zoneinfo_t);
    Py_CLEAR(c->enum_meta);
    Py_CLEAR(c->dc_fields);
    Py_CLEAR(c->dc_names);
    Py_CLEAR(c->hints_convert);
    Py_CLEAR(c->hints_need);
}

/* The class named by qualname in the application's module (new reference),
 * or NULL with no exception set. Every dotted part must be an identifier
 * that is not a dunder. The first part is looked up in the module's dict
 * and each further part in the previous class's own dict: no attribute
 * access, so no descriptor, module __getattr__ or imported module is ever
 * reached from a name a client sent. */
static PyObject *lookup_class(sf_pycodec *c, const char *qualname, size_t n)
{
    if (!c->module || !PyModule_Check(c->module) || n == 0 || n > 512)
        return NULL;
    PyObject *ns = PyModule_GetDict(c->module); /* borrowed */
    PyObject *cur = NULL;                       /* borrowed */
    size_t i = 0;
    while (ns && i <= n) {
        size_t j = i;
        while (j < n && qualname[j] != '.')
            j++;
        PyObject *part = PyUnicode_DecodeUTF8(qualname + i, (Py_ssize_t)(j - i), "strict");
        int ok = part && PyUnicode_IsIdentifier(part) &&
                 !(j - i >= 4 && qualname[i] == '_' && qualname[i + 1] == '_' && qualname[j - 1] == '_' &&
                   qualname[j - 2] == '_');
        cur = ok ? PyDict_GetItemWithError(ns, part) : NULL;
        Py_XDECREF(part);
        ns = cur && PyType_Check(cur) ? ((PyTypeObject *)cur)->tp_dict : NULL;
        i = j + 1;
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    return i > n && cur && PyType_Check(cur) ? Py_NewRef(cur) : NULL;
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

static int enc_set(enc *e, PyObject *o, int depth, int8_t ext_type)
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
    sf_mp_patch_ext_header(e->out, hpos, 3, ext_type);
    return 0;
}

/* ---- values beyond JSON (sf_value.h SF_EXT_FROZENSET and up) ---- */

/* Start an ext value whose payload is an array of n elements; finish with
 * enc_ext_end(e, hpos, type). */
static size_t enc_ext_begin(enc *e, size_t n)
{
    size_t hpos = e->out->len;
    sf_buf_append(e->out, "\0\0\0", 3);
    msgpack_pack_array(&e->pk, n);
    return hpos;
}

static int enc_ext_end(enc *e, size_t hpos, int8_t type)
{
    sf_mp_patch_ext_header(e->out, hpos, 3, type);
    return enc_size_check(e);
}

static int enc_str_obj(enc *e, PyObject *s)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (!p)
        return enc_fail_py(e);
    msgpack_pack_str_with_body(&e->pk, p, (size_t)n);
    return 0;
}

static int enc_bigint(enc *e, PyObject *o)
{
    /* str() of an int is quadratic and Python's own digit limit can be
     * turned off: refuse by size first (4300 digits < 14286 bits) */
    PyObject *bits = PyObject_CallMethod(o, "bit_length", NULL);
    long long nb = bits ? PyLong_AsLongLong(bits) : -1;
    Py_XDECREF(bits);
    if (nb < 0 || nb > 14286) {
        PyErr_Clear();
        return enc_fail(e, 0, "int too large (more than %d digits)", SF_VALUE_MAX_INT_DIGITS);
    }
    PyObject *s = PyObject_Str(o);
    Py_ssize_t n = 0;
    const char *p = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (!p || !sf_mp_int_text_ok(p, (size_t)n, SF_VALUE_MAX_INT_DIGITS)) {
        Py_XDECREF(s);
        PyErr_Clear();
        return enc_fail(e, 0, "int too large (more than %d digits)", SF_VALUE_MAX_INT_DIGITS);
    }
    size_t h = enc_ext_begin(e, 1);
    msgpack_pack_str_with_body(&e->pk, p, (size_t)n);
    Py_DECREF(s);
    return enc_ext_end(e, h, SF_EXT_BIGINT);
}

/* The int attributes names[0..n) of o into out (n at most 8); -1 with a
 * Python error set. */
static int int_attrs(PyObject *o, const char *const *names, int n, long long *out)
{
    for (int i = 0; i < n; i++) {
        PyObject *v = PyObject_GetAttrString(o, names[i]);
        out[i] = v ? PyLong_AsLongLong(v) : -1;
        Py_XDECREF(v);
        if (out[i] == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* Pack the int attributes names[0..n) of o (n at most 8). */
static int enc_int_attrs(enc *e, PyObject *o, const char *const *names, int n)
{
    long long x[8];
    if (int_attrs(o, names, n, x) < 0)
        return enc_fail_py(e);
    for (int i = 0; i < n; i++)
        msgpack_pack_int64(&e->pk, x[i]);
    return 0;
}

/* Microseconds of a timedelta (or None: -> *none = 1). */
static int td_micros(PyObject *td, long long *us, int *none)
{
    *none = td == Py_None;
    *us = 0;
    if (*none)
        return 0;
    long long f[3];
    static const char *const names[3] = {"days", "seconds", "microseconds"};
    if (int_attrs(td, names, 3, f) < 0)
        return -1;
    *us = (f[0] * 86400 + f[1]) * 1000000 + f[2];   /* |offset| < 1 day */
    return 0;
}

/* How many elements the tz of o (a datetime or time) adds: 0 or 3. */
static int enc_tz_count(enc *e, PyObject *o, PyObject **tz)
{
    *tz = PyObject_GetAttrString(o, "tzinfo");
    if (!*tz)
        return enc_fail_py(e);
    if (*tz == Py_None)
        return 0;
    PyObject *tt = (PyObject *)Py_TYPE(*tz);
    if (tt == e->c->timezone_t || (e->c->zoneinfo_t && tt == e->c->zoneinfo_t))
        return 3;
    enc_fail(e, 0, "cannot store a %s whose tzinfo is of type '%s' (use datetime.timezone or zoneinfo.ZoneInfo)",
             (PyObject *)Py_TYPE(o) == e->c->datetime_t ? "datetime" : "time", Py_TYPE(*tz)->tp_name);
    Py_CLEAR(*tz);
    return -1;
}

static int enc_tz(enc *e, PyObject *o, PyObject *tz)
{
    PyObject *off = PyObject_CallMethod(o, "utcoffset", NULL);
    long long us;
    int none;
    int rc = off && td_micros(off, &us, &none) == 0 ? 0 : enc_fail_py(e);
    Py_XDECREF(off);
    if (rc < 0)
        return -1;
    if ((PyObject *)Py_TYPE(tz) == e->c->timezone_t) {
        PyObject *args = PyObject_CallMethod(tz, "__getinitargs__", NULL);
        if (!args || !PyTuple_Check(args)) {
            Py_XDECREF(args);
            return enc_fail_py(e);
        }
        msgpack_pack_int64(&e->pk, 0);
        msgpack_pack_int64(&e->pk, us);
        if (PyTuple_GET_SIZE(args) > 1 && PyUnicode_Check(PyTuple_GET_ITEM(args, 1)))
            rc = enc_str_obj(e, PyTuple_GET_ITEM(args, 1));
        else
            msgpack_pack_nil(&e->pk);
        Py_DECREF(args);
        return rc;
    }
    PyObject *key = PyObject_GetAttrString(tz, "key");
    if (!key)
        return enc_fail_py(e);
    if (!PyUnicode_Check(key)) {
        Py_DECREF(key);
        return enc_fail(e, 0, "cannot store a ZoneInfo without a key (made from a file)");
    }
    msgpack_pack_int64(&e->pk, 1);
    if (none)
        msgpack_pack_nil(&e->pk);
    else
        msgpack_pack_int64(&e->pk, us);
    rc = enc_str_obj(e, key);
    Py_DECREF(key);
    return rc;
}

static int enc_datetime_like(enc *e, PyObject *o, int8_t type)
{
    static const char *const dt[] = {"year", "month", "day", "hour", "minute", "second", "microsecond", "fold"};
    static const char *const tm[] = {"hour", "minute", "second", "microsecond", "fold"};
    static const char *const td[] = {"days", "seconds", "microseconds"};
    const char *const *names = type == SF_EXT_DATETIME ? dt : type == SF_EXT_TIME ? tm : type == SF_EXT_DATE ? dt : td;
    int n = type == SF_EXT_DATETIME ? 8 : type == SF_EXT_TIME ? 5 : 3;
    PyObject *tz = NULL;
    int ntz = 0;
    if (type == SF_EXT_DATETIME || type == SF_EXT_TIME) {
        ntz = enc_tz_count(e, o, &tz);
        if (ntz < 0)
            return -1;
    }
    size_t h = enc_ext_begin(e, (size_t)(n + ntz));
    int rc = enc_int_attrs(e, o, names, n);
    if (rc == 0 && ntz)
        rc = enc_tz(e, o, tz);
    Py_XDECREF(tz);
    return rc < 0 ? -1 : enc_ext_end(e, h, type);
}

/* The qualified name of t if the application's module gives back t for it
 * (new reference), else NULL with the error set in e. */
static PyObject *enc_class_name(enc *e, PyTypeObject *t, const char *what)
{
    PyObject *q = PyObject_GetAttrString((PyObject *)t, "__qualname__");
    Py_ssize_t n = 0;
    const char *s = q && PyUnicode_Check(q) ? PyUnicode_AsUTF8AndSize(q, &n) : NULL;
    PyObject *found = s ? lookup_class(e->c, s, (size_t)n) : NULL;
    if (PyErr_Occurred())
        PyErr_Clear();
    Py_XDECREF(found);
    if (!s || found != (PyObject *)t) {
        Py_XDECREF(q);
        enc_fail(e, 0, "cannot store a value of type '%s': only %s defined in the application's module (found there "
                 "by name) can be stored", t->tp_name, what);
        return NULL;
    }
    return q;
}

static int enc_enum(enc *e, PyObject *o, int depth)
{
    PyObject *q = enc_class_name(e, Py_TYPE(o), "Enums");
    if (!q)
        return -1;
    PyObject *name = PyObject_GetAttrString(o, "_name_");
    PyObject *value = name ? PyObject_GetAttrString(o, "_value_") : NULL;
    int rc = -1;
    if (!value) {
        rc = enc_fail_py(e);
    } else {
        /* a Flag combination may have no name (None): found by its value */
        size_t h = enc_ext_begin(e, 3);
        rc = enc_str_obj(e, q);
        if (rc == 0 && PyUnicode_Check(name))
            rc = enc_str_obj(e, name);
        else if (rc == 0)
            msgpack_pack_nil(&e->pk);
        if (rc == 0 && enc_value(e, value, depth + 1) < 0)
            rc = enc_seg(e, ".value");
        if (rc == 0)
            rc = enc_ext_end(e, h, SF_EXT_ENUM);
    }
    Py_DECREF(q);
    Py_XDECREF(name);
    Py_XDECREF(value);
    return rc;
}

/* The names of the fields of dataclass cls (a new reference to a list
 * shared by every caller: read only), asked of dataclasses.fields once per
 * class. */
static PyObject *dc_field_names(sf_pycodec *c, PyObject *cls)
{
    if (!c->dc_names && !(c->dc_names = PyDict_New()))
        return NULL;
    PyObject *names = PyDict_GetItemWithError(c->dc_names, cls);
    if (names)
        return Py_NewRef(names);
    if (PyErr_Occurred())
        return NULL;
    PyObject *fields = PyObject_CallOneArg(c->dc_fields, cls);
    if (!fields)
        return NULL;
    names = PySequence_List(fields);
    Py_DECREF(fields);
    if (!names)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *nm = PyObject_GetAttrString(PyList_GET_ITEM(names, i), "name");
        if (!nm || !PyUnicode_Check(nm)) {
            Py_XDECREF(nm);
            Py_DECREF(names);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "a dataclass field without a name");
            return NULL;
        }
        PyList_SetItem(names, i, nm);
    }
    if (PyDict_SetItem(c->dc_names, cls, names) < 0) {
        Py_DECREF(names);
        return NULL;
    }
    return names;
}

static int enc_dataclass(enc *e, PyObject *o, int depth)
{
    if (enc_depth_check(e, depth + 1) < 0)
        return -1;
    PyObject *q = enc_class_name(e, Py_TYPE(o), "dataclasses");
    if (!q)
        return -1;
    PyObject *names = dc_field_names(e->c, (PyObject *)Py_TYPE(o));
    if (!names) {
        Py_DECREF(q);
        return enc_fail_py(e);
    }
    Py_ssize_t n = PyList_GET_SIZE(names);
    int rc = 0;
    /* attributes that are not fields would be lost: refuse them */
    PyObject *d = PyObject_GenericGetDict(o, NULL);
    if (!d)
        PyErr_Clear(); /* __slots__: nothing but fields */
    else if (PyDict_Check(d)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (rc == 0 && PyDict_Next(d, &pos, &k, &v)) {
            int isf = PySequence_Contains(names, k);
            if (isf == 0)
                rc = enc_fail(e, 0, "cannot store dataclass '%s': its attribute '%s' is not a field", Py_TYPE(o)->tp_name,
                              PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : "?");
            else if (isf < 0)
                rc = enc_fail_py(e);
        }
    }
    Py_XDECREF(d);
    if (rc == 0) {
        size_t h = enc_ext_begin(e, 2);
        rc = enc_str_obj(e, q);
        if (rc == 0)
            msgpack_pack_map(&e->pk, (size_t)n);
        for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
            PyObject *nm = PyList_GET_ITEM(names, i);
            PyObject *v = PyObject_GetAttr(o, nm);
            if (!v) {
                rc = enc_fail_py(e);
                break;
            }
            rc = enc_str_obj(e, nm);
            if (rc == 0 && enc_value(e, v, depth + 2) < 0)
                rc = enc_seg(e, ".%s", PyUnicode_AsUTF8(nm));
            Py_DECREF(v);
        }
        if (rc == 0)
            rc = enc_ext_end(e, h, SF_EXT_DATACLASS);
    }
    Py_DECREF(names);
    Py_DECREF(q);
    return rc;
}

/* Values beyond JSON; 1 when o is not one of them. */
static int enc_rich(enc *e, PyObject *o, int depth)
{
    sf_pycodec *c = e->c;
    PyObject *t = (PyObject *)Py_TYPE(o);
    int8_t dtype = t == c->datetime_t ? SF_EXT_DATETIME : t == c->date_t ? SF_EXT_DATE
                   : t == c->time_t ? SF_EXT_TIME : t == c->timedelta_t ? SF_EXT_TIMEDELTA : 0;
    if (dtype || t == (PyObject *)&PyByteArray_Type || t == c->decimal_t || t == (PyObject *)&PyFrozenSet_Type)
        if (enc_depth_check(e, depth) < 0)
            return -1;
    if (dtype)
        return enc_datetime_like(e, o, dtype);
    if (t == (PyObject *)&PyFrozenSet_Type)
        return enc_set(e, o, depth, SF_EXT_FROZENSET);
    if (t == (PyObject *)&PyByteArray_Type) {
        size_t h = enc_ext_begin(e, 1);
        msgpack_pack_bin_with_body(&e->pk, PyByteArray_AS_STRING(o), (size_t)PyByteArray_GET_SIZE(o));
        return enc_ext_end(e, h, SF_EXT_BYTEARRAY);
    }
    if (t == c->decimal_t) {
        PyObject *s = PyObject_Str(o);
        if (!s)
            return enc_fail_py(e);
        size_t h = enc_ext_begin(e, 1);
        int rc = enc_str_obj(e, s);
        Py_DECREF(s);
        return rc < 0 ? -1 : enc_ext_end(e, h, SF_EXT_DECIMAL);
    }
    if (!(Py_TYPE(o)->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 1;
    int is_enum = PyObject_IsInstance(t, c->enum_meta);
    if (is_enum < 0)
        return enc_fail_py(e);
    if (is_enum) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        return enc_enum(e, o, depth);
    }
    int is_dc = PyObject_HasAttrString(t, "__dataclass_fields__");
    if (is_dc) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        return enc_dataclass(e, o, depth);
    }
    return 1;
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
        if (overflow) {
            if (enc_depth_check(e, depth) < 0)
                return -1;
            return enc_bigint(e, o);
        }
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
    if (t == &PySet_Type) {
        if (enc_depth_check(e, depth) < 0)
            return -1;
        return enc_set(e, o, depth, SF_EXT_SET);
    }
    int rich = enc_rich(e, o, depth);
    if (rich <= 0)
        return rich;
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

/* ---- values beyond JSON ---- */

static PyObject *dec_bad_ext(dec *d, int type, size_t at, const char *what)
{
    return dec_fail(d, "msgpack: extension type %d at offset %zu: %s", type, at, what);
}

/* The next payload element as a raw item of the given kind (or nil when
 * nil_ok). Returns 1 for the kind, 0 for nil, -1 on error. */
static int dec_raw(dec *d, int type, size_t at, int kind, int nil_ok, sf_mp_item *x)
{
    if (sf_mp_read(d->buf, d->len, &d->pos, x) < 0 || (x->kind != kind && !(nil_ok && x->kind == SF_MP_NIL))) {
        static const char *const kinds[] = {[SF_MP_INT] = "an int", [SF_MP_STR] = "a str", [SF_MP_BIN] = "a bin"};
        char m[80];
        snprintf(m, sizeof m, "expected %s%s", kinds[kind], nil_ok ? " or nil" : "");
        dec_bad_ext(d, type, at, m);
        return -1;
    }
    return x->kind == kind;
}

static PyObject *str_of(dec *d, const sf_mp_item *x)
{
    PyObject *s = PyUnicode_DecodeUTF8(x->data, (Py_ssize_t)x->n, "strict");
    if (!s) {
        PyErr_Clear();
        dec_fail(d, "msgpack: invalid UTF-8 in str at offset %zu", (size_t)(x->data - d->buf));
    }
    return s;
}

/* Call f(*args, **kw) where args are n ints read from the payload plus
 * `extra` (stolen, may be NULL: nothing appended) and kw may name one more
 * int read last ("fold"). */
static PyObject *dec_call_ints(dec *d, int type, size_t at, PyObject *f, int n, const char *kwname, PyObject *extra)
{
    PyObject *args = PyTuple_New(n + (extra != NULL));
    PyObject *kw = NULL, *r = NULL;
    if (!args) {
        Py_XDECREF(extra);
        return dec_fail_py(d, at);
    }
    if (extra)
        PyTuple_SET_ITEM(args, n, extra);
    sf_mp_item x;
    for (int i = 0; i < n + (kwname != NULL); i++) {
        if (dec_raw(d, type, at, SF_MP_INT, 0, &x) < 0)
            goto out;
        PyObject *v = PyLong_FromLongLong(x.v.i);
        if (!v) {
            dec_fail_py(d, at);
            goto out;
        }
        if (i < n) {
            PyTuple_SET_ITEM(args, i, v);
        } else {
            kw = PyDict_New();
            int rc = kw ? PyDict_SetItemString(kw, kwname, v) : -1;
            Py_DECREF(v);
            if (rc < 0) {
                dec_fail_py(d, at);
                goto out;
            }
        }
    }
    r = PyObject_Call(f, args, kw);
    if (!r)
        dec_fail_py(d, at);
out:
    Py_DECREF(args);
    Py_XDECREF(kw);
    return r;
}

/* The three tz elements (kind, offset, name or key): a tzinfo. */
static PyObject *dec_tz(dec *d, int type, size_t at)
{
    sf_mp_item kind, off, extra;
    int has_off, has_extra;
    if (dec_raw(d, type, at, SF_MP_INT, 0, &kind) < 0 || (has_off = dec_raw(d, type, at, SF_MP_INT, 1, &off)) < 0 ||
        (has_extra = dec_raw(d, type, at, SF_MP_STR, 1, &extra)) < 0)
        return NULL;
    PyObject *name = has_extra ? str_of(d, &extra) : NULL;
    if (has_extra && !name)
        return NULL;
    PyObject *r = NULL;
    if (kind.v.i == 0 && has_off) {
        PyObject *td = PyObject_CallFunction(d->c->timedelta_t, "iiL", 0, 0, (long long)off.v.i);
        if (td)
            r = name ? PyObject_CallFunctionObjArgs(d->c->timezone_t, td, name, NULL)
                     : PyObject_CallOneArg(d->c->timezone_t, td);
        Py_XDECREF(td);
        if (!r)
            dec_fail_py(d, at);
    } else if (kind.v.i == 1 && name) {
        if (!d->c->zoneinfo_t)
            dec_bad_ext(d, type, at, "time zones are not available (no zoneinfo)");
        else if (!(r = PyObject_CallOneArg(d->c->zoneinfo_t, name)))
            dec_fail_py(d, at);
    } else {
        dec_bad_ext(d, type, at, "bad time zone (expected kind 0 with an offset, or kind 1 with a zone key)");
    }
    Py_XDECREF(name);
    return r;
}

static PyObject *dec_class(dec *d, int type, size_t at, int want_enum, sf_mp_item *q)
{
    if (dec_raw(d, type, at, SF_MP_STR, 0, q) < 0)
        return NULL;
    const char *what = want_enum ? "Enum" : "dataclass";
    PyObject *cls = lookup_class(d->c, q->data, q->n);
    int ok = 0;
    if (cls) {
        ok = PyObject_IsInstance(cls, d->c->enum_meta);
        if (ok >= 0 && !want_enum)
            ok = !ok && PyObject_HasAttrString(cls, "__dataclass_fields__");
        if (ok < 0)
            PyErr_Clear();
    }
    if (ok <= 0) {
        Py_XDECREF(cls);
        return dec_fail(d, "msgpack: extension type %d at offset %zu: unknown %s '%.*s' (not found in the "
                        "application's module)", type, at, what, (int)(q->n > 200 ? 200 : q->n), q->data);
    }
    return cls;
}

static PyObject *dec_enum(dec *d, size_t at, int depth)
{
    sf_mp_item q, nm;
    PyObject *cls = dec_class(d, SF_EXT_ENUM, at, 1, &q);
    if (!cls)
        return NULL;
    PyObject *name = NULL, *value = NULL, *r = NULL;
    int named = dec_raw(d, SF_EXT_ENUM, at, SF_MP_STR, 1, &nm);
    if (named < 0 || (named && !(name = str_of(d, &nm))) || !(value = dec_value(d, depth + 1, 0)))
        goto out;
    if (!name)
        name = Py_NewRef(Py_None);
    PyObject *members = named ? PyObject_GetAttrString(cls, "__members__") : NULL;
    r = members ? PyObject_GetItem(members, name) : NULL;
    Py_XDECREF(members);
    if (!r) {
        /* not a named member: a Flag combination is found by its value */
        PyErr_Clear();
        r = PyObject_CallOneArg(cls, value);
        PyObject *rn = r ? PyObject_GetAttrString(r, "_name_") : NULL;
        int same = rn ? PyObject_RichCompareBool(rn, name, Py_EQ) : -1;
        Py_XDECREF(rn);
        if (same != 1) {
            PyErr_Clear();
            Py_CLEAR(r);
            dec_fail(d, "msgpack: extension type %d at offset %zu: Enum '%.*s' has no member '%.*s'", SF_EXT_ENUM,
                     at, (int)q.n, q.data, named ? (int)(nm.n > 200 ? 200 : nm.n) : 4, named ? nm.data : "None");
        }
    }
out:
    Py_DECREF(cls);
    Py_XDECREF(name);
    Py_XDECREF(value);
    return r;
}

static PyObject *dec_dataclass(dec *d, size_t at, int depth)
{
    sf_mp_item q;
    PyObject *cls = dec_class(d, SF_EXT_DATACLASS, at, 0, &q);
    if (!cls)
        return NULL;
    PyObject *names = NULL, *r = NULL, *obj = NULL;
    size_t mat = d->pos;
    PyObject *fields = dec_value(d, depth + 1, 0);
    if (!fields)
        goto out;
    if (!PyDict_CheckExact(fields)) {
        dec_bad_ext(d, SF_EXT_DATACLASS, mat, "the fields must be a map");
        goto out;
    }
    if (!(names = dc_field_names(d->c, cls))) {
        dec_fail_py(d, at);
        goto out;
    }
    Py_ssize_t n = PyList_GET_SIZE(names);
    if (PyDict_GET_SIZE(fields) != n)
        goto mismatch;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyDict_GetItemWithError(fields, PyList_GET_ITEM(names, i))) {
            PyErr_Clear();
            goto mismatch;
        }
    /* rebuilt like copy and pickle do: no __init__, no __post_init__ */
    obj = PyObject_CallMethod(cls, "__new__", "O", cls);
    if (!obj) {
        dec_fail_py(d, at);
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *nm = PyList_GET_ITEM(names, i);
        if (PyObject_GenericSetAttr(obj, nm, PyDict_GetItem(fields, nm)) < 0) {
            dec_fail_py(d, at);
            goto out;
        }
    }
    r = Py_NewRef(obj);
    goto out;
mismatch:
    dec_fail(d, "msgpack: extension type %d at offset %zu: the fields do not match dataclass '%.*s'", SF_EXT_DATACLASS,
             at, (int)q.n, q.data);
out:
    Py_DECREF(cls);
    Py_XDECREF(names);
    Py_XDECREF(fields);
    Py_XDECREF(obj);
    return r;
}

/* Ext types from SF_EXT_FROZENSET on, the payload array of n entered. */
static PyObject *dec_rich(dec *d, int type, size_t at, long n, int depth)
{
    sf_mp_item x;
    PyObject *r = NULL;
    switch (type) {
    case SF_EXT_BIGINT: {
        if (n != 1 || dec_raw(d, type, at, SF_MP_STR, 0, &x) < 0)
            return n != 1 ? dec_bad_ext(d, type, at, "expected [digits]") : NULL;
        char buf[SF_VALUE_MAX_INT_DIGITS + 2];
        if (!sf_mp_int_text_ok(x.data, x.n, SF_VALUE_MAX_INT_DIGITS))
            return dec_bad_ext(d, type, at, "not an integer of at most 4300 digits");
        memcpy(buf, x.data, x.n);
        buf[x.n] = '\0';
        r = PyLong_FromString(buf, NULL, 10);
        if (!r)
            return dec_fail_py(d, at);
        int overflow;
        PyLong_AsLongLongAndOverflow(r, &overflow);
        if (!overflow) {
            Py_DECREF(r);
            return dec_bad_ext(d, type, at, "the int fits in 64 bits (not canonical)");
        }
        return r;
    }
    case SF_EXT_BYTEARRAY:
        if (n != 1 || dec_raw(d, type, at, SF_MP_BIN, 0, &x) < 0)
            return n != 1 ? dec_bad_ext(d, type, at, "expected [bin]") : NULL;
        r = PyByteArray_FromStringAndSize(x.data, (Py_ssize_t)x.n);
        return r ? r : dec_fail_py(d, at);
    case SF_EXT_DECIMAL: {
        if (n != 1 || dec_raw(d, type, at, SF_MP_STR, 0, &x) < 0)
            return n != 1 ? dec_bad_ext(d, type, at, "expected [str]") : NULL;
        PyObject *s = str_of(d, &x);
        if (!s)
            return NULL;
        r = PyObject_CallOneArg(d->c->decimal_t, s);
        Py_DECREF(s);
        return r ? r : dec_fail_py(d, at);
    }
    case SF_EXT_DATE:
    case SF_EXT_TIMEDELTA:
        if (n != 3)
            return dec_bad_ext(d, type, at, "expected 3 ints");
        if (type == SF_EXT_TIMEDELTA) {
            /* normalised as Python keeps it: 0 <= seconds < 86400, 0 <= us < 10**6 */
            size_t p0 = d->pos;
            sf_mp_item a, b, c;
            if (dec_raw(d, type, at, SF_MP_INT, 0, &a) < 0 || dec_raw(d, type, at, SF_MP_INT, 0, &b) < 0 ||
                dec_raw(d, type, at, SF_MP_INT, 0, &c) < 0)
                return NULL;
            if (b.v.i < 0 || b.v.i >= 86400 || c.v.i < 0 || c.v.i >= 1000000)
                return dec_bad_ext(d, type, at, "timedelta not normalised");
            d->pos = p0;
        }
        return dec_call_ints(d, type, at, type == SF_EXT_DATE ? d->c->date_t : d->c->timedelta_t, 3, NULL, NULL);
    case SF_EXT_DATETIME:
    case SF_EXT_TIME: {
        int base = type == SF_EXT_DATETIME ? 7 : 4; /* then fold, then tz */
        if (n != base + 1 && n != base + 4)
            return dec_bad_ext(d, type, at, type == SF_EXT_DATETIME ? "expected 8 or 11 elements" : "expected 5 or 8 elements");
        PyObject *tz = Py_NewRef(Py_None);
        if (n == base + 4) {
            /* the tz comes last: read it first, then come back */
            size_t p0 = d->pos;
            for (int i = 0; i < base + 1; i++)
                if (dec_raw(d, type, at, SF_MP_INT, 0, &x) < 0) {
                    Py_DECREF(tz);
                    return NULL;
                }
            Py_DECREF(tz);
            if (!(tz = dec_tz(d, type, at)))
                return NULL;
            size_t end = d->pos;
            d->pos = p0;
            r = dec_call_ints(d, type, at, type == SF_EXT_DATETIME ? d->c->datetime_t : d->c->time_t, base, "fold", tz);
            if (r)
                d->pos = end;
            return r;
        }
        return dec_call_ints(d, type, at, type == SF_EXT_DATETIME ? d->c->datetime_t : d->c->time_t, base, "fold", tz);
    }
    case SF_EXT_ENUM:
        if (n != 3)
            return dec_bad_ext(d, type, at, "expected [class, name, value]");
        return dec_enum(d, at, depth);
    case SF_EXT_DATACLASS:
        if (n != 2)
            return dec_bad_ext(d, type, at, "expected [class, fields]");
        return dec_dataclass(d, at, depth);
    default:
        return dec_fail(d, "msgpack: unknown extension type %d at offset %zu", type, at);
    }
}

static PyObject *dec_ext(dec *d, const sf_mp_item *it, size_t at, int depth, int hashable)
{
    int type = it->ext_type;
    if (type < SF_EXT_TUPLE || type > SF_EXT_LAST)
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
    } else if (type >= SF_EXT_BIGINT) {
        r = dec_rich(d, type, at, n, depth);
        if (!r)
            return NULL;
    } else if (type == SF_EXT_SET || type == SF_EXT_FROZENSET) {
        r = hashable || type == SF_EXT_FROZENSET ? PyFrozenSet_New(NULL) : PySet_New(NULL);
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
