/* executor.c: transactions, the guard around user code (step and time
 * limits per transaction), the block-running loop, commit, events on the
 * wire, and the client operations create / call / get (see executor.h). */
#include "executor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mpread.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_value.h"
#include "stateflow/sf_util.h"

#define SMALL_ARGS 12
#define TX_LINEAR_MAX 8 /* below this many instances, look up linearly */

struct sf_executor {
    sf_pyapp *app;
    sf_pycodec *codec;
    sf_store *store;
    sf_executor_limits lim;
    sf_exec_is_local_fn is_local;
    void *is_local_arg;
    uint64_t next_txid;
    sf_tx tx;                 /* the transaction of sf_exec_op_run (reused) */
    sf_event ev;
    sf_buf scratch;           /* keys being encoded, messages */
    sf_buf state;             /* states being committed */
    sf_buf result;            /* sf_exec_request: the result's msgpack */
    sf_buf copybuf;           /* values crossing between instances */
    size_t *offs;             /* commit: (instance, offset, length) triples */
    size_t offs_cap;
    PyObject *empty_tuple;
    sf_watchdog *watchdog;    /* borrowed; NULL: no time limit */
};

/* ---- msgpack writing (msgpack-c's packer onto an sf_buf, sf_pack.h) ---- */

/* Append the reference ext [entity, key] (key: msgpack bytes) to b; tmp is
 * scratch for the ext's body. */
static void pack_ref(sf_buf *b, sf_buf *tmp, const char *entity, const char *key, size_t keylen)
{
    msgpack_packer pk;
    sf_buf_reset(tmp);
    sf_buf_packer_init(&pk, tmp);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, entity, strlen(entity));
    sf_buf_append(tmp, key, keylen);
    sf_buf_packer_init(&pk, b);
    msgpack_pack_ext_with_body(&pk, tmp->data, tmp->len, SF_EXT_REF);
}

/* ---- transactions ------------------------------------------------------- */

void sf_tx_init(sf_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    sf_buf_init(&tx->keys);
    sf_buf_init(&tx->err_type);
    sf_buf_init(&tx->err_msg);
}

void sf_tx_reset(sf_tx *tx, uint64_t txid)
{
    for (int i = 0; i < tx->ninsts; i++)
        Py_CLEAR(tx->insts[i].obj);
    tx->ninsts = 0;
    if (tx->index)
        for (size_t i = 0; i < tx->icap; i++)
            tx->index[i] = -1;
    sf_buf_reset(&tx->keys);
    sf_buf_reset(&tx->err_type);
    sf_buf_reset(&tx->err_msg);
    tx->steps = 0;
    tx->time_ns = 0;
    tx->txid = txid;
}

void sf_tx_free(sf_tx *tx)
{
    sf_tx_reset(tx, 0);
    free(tx->insts);
    free(tx->index);
    sf_buf_free(&tx->keys);
    sf_buf_free(&tx->err_type);
    sf_buf_free(&tx->err_msg);
    memset(tx, 0, sizeof(*tx));
}

static int tx_fail(sf_tx *tx, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int tx_fail(sf_tx *tx, const char *type, const char *fmt, ...)
{
    sf_buf_reset(&tx->err_type);
    sf_buf_puts(&tx->err_type, type);
    sf_buf_reset(&tx->err_msg);
    va_list ap;
    va_start(ap, fmt);
    sf_buf_vprintf(&tx->err_msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int tx_fail_py(sf_tx *tx)
{
    sf_pyrt_fetch_error(&tx->err_type, &tx->err_msg);
    return -1;
}

/* User code runs between guard_enter and guard_leave: under the watchdog,
 * with the time the transaction spent in earlier guarded sections (here or,
 * through its events, on other workers) already counted. */
static int guard_enter(sf_executor *ex, sf_tx *tx)
{
    if (sf_watchdog_enter(ex->watchdog, tx->time_ns) < 0)
        return tx_fail_py(tx);
    return 0;
}

static void guard_leave(sf_executor *ex, sf_tx *tx)
{
    tx->time_ns += sf_watchdog_leave(ex->watchdog);
}

/* Count one block or method execution against the step limit. */
static int count_step(sf_executor *ex, sf_tx *tx)
{
    if (++tx->steps > ex->lim.max_steps)
        return tx_fail(tx, "RuntimeError", "request exceeded step limit (%llu block executions)",
                       (unsigned long long)ex->lim.max_steps);
    return 0;
}

/* Abort: drop every instance of the transaction; its error stays. */
static void tx_drop(sf_tx *tx)
{
    for (int i = 0; i < tx->ninsts; i++)
        Py_CLEAR(tx->insts[i].obj);
    tx->ninsts = 0;
    if (tx->index)
        for (size_t i = 0; i < tx->icap; i++)
            tx->index[i] = -1;
    sf_buf_reset(&tx->keys);
}

static int inst_matches(const sf_tx *tx, const sf_txinst *t, int entity, uint64_t h,
                        const char *key, size_t keylen)
{
    return t->hash == h && t->entity == entity && t->key_len == keylen &&
           !(t->flags & SF_TXI_PENDING) &&
           memcmp(tx->keys.data + t->key_off, key, keylen) == 0;
}

static void index_insert(sf_tx *tx, int j)
{
    size_t mask = tx->icap - 1, i = (size_t)tx->insts[j].hash & mask;
    while (tx->index[i] >= 0)
        i = (i + 1) & mask;
    tx->index[i] = j;
}

static void index_rebuild(sf_tx *tx, size_t cap)
{
    tx->index = sf_xrealloc(tx->index, cap * sizeof(int));
    tx->icap = cap;
    for (size_t i = 0; i < cap; i++)
        tx->index[i] = -1;
    for (int j = 0; j < tx->ninsts; j++)
        if (!(tx->insts[j].flags & SF_TXI_PENDING))
            index_insert(tx, j);
}

static int tx_find(const sf_tx *tx, int entity, uint64_t h, const char *key, size_t keylen)
{
    if (tx->ninsts > TX_LINEAR_MAX && tx->index) {
        size_t mask = tx->icap - 1;
        for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
            int j = tx->index[i];
            if (j < 0)
                return -1;
            if (inst_matches(tx, &tx->insts[j], entity, h, key, keylen))
                return j;
        }
    }
    for (int j = 0; j < tx->ninsts; j++)
        if (inst_matches(tx, &tx->insts[j], entity, h, key, keylen))
            return j;
    return -1;
}

static int tx_add(sf_tx *tx, int entity, uint64_t h, const char *key, size_t keylen,
                  unsigned flags)
{
    if (tx->ninsts == tx->cap) {
        tx->cap = tx->cap ? tx->cap * 2 : 8;
        tx->insts = sf_xrealloc(tx->insts, (size_t)tx->cap * sizeof(sf_txinst));
    }
    int j = tx->ninsts++;
    sf_txinst *t = &tx->insts[j];
    t->entity = entity;
    t->hash = h;
    t->key_off = tx->keys.len;
    t->key_len = keylen;
    t->obj = NULL;
    t->flags = flags;
    sf_buf_append(&tx->keys, key, keylen);
    if (tx->ninsts > TX_LINEAR_MAX) {
        if (!tx->index || (size_t)tx->ninsts * 2 > tx->icap)
            index_rebuild(tx, tx->icap ? tx->icap * 2 : 64);
        else if (!(flags & SF_TXI_PENDING))
            index_insert(tx, j);
    }
    return j;
}

int sf_tx_instance(sf_tx *tx, int entity, const char *key, size_t keylen)
{
    uint64_t h = sf_store_hash((uint32_t)entity, key, keylen);
    int j = tx_find(tx, entity, h, key, keylen);
    return j >= 0 ? j : tx_add(tx, entity, h, key, keylen, 0);
}

/* Give a pending (created) instance its key. */
static void tx_set_key(sf_tx *tx, int j, const char *key, size_t keylen)
{
    sf_txinst *t = &tx->insts[j];
    t->key_off = tx->keys.len;
    t->key_len = keylen;
    t->hash = sf_store_hash((uint32_t)t->entity, key, keylen);
    t->flags &= ~(unsigned)SF_TXI_PENDING;
    sf_buf_append(&tx->keys, key, keylen);
    if (tx->ninsts > TX_LINEAR_MAX && tx->index)
        index_insert(tx, j);
}

/* ---- events ------------------------------------------------------------- */

void sf_event_init(sf_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    sf_buf_init(&ev->reqid);
}

void sf_event_clear(sf_event *ev)
{
    Py_CLEAR(ev->args);
    Py_CLEAR(ev->frame);
    for (int i = 0; i < ev->depth; i++) {
        Py_CLEAR(ev->stack[i].bind);
        Py_CLEAR(ev->stack[i].frame);
    }
    ev->depth = 0;
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = ev->method = ev->block = 0;
    ev->txid = 0;
    sf_buf_reset(&ev->reqid);
}

void sf_event_free(sf_event *ev)
{
    sf_event_clear(ev);
    free(ev->stack);
    sf_buf_free(&ev->reqid);
    memset(ev, 0, sizeof(*ev));
}

static void event_push(sf_event *ev, int inst, int method, int block, PyObject *bind,
                       PyObject *frame)
{
    if (ev->depth == ev->cap) {
        ev->cap = ev->cap ? ev->cap * 2 : 8;
        ev->stack = sf_xrealloc(ev->stack, (size_t)ev->cap * sizeof(sf_cont));
    }
    sf_cont *c = &ev->stack[ev->depth++];
    c->inst = inst;
    c->method = method;
    c->block = block;
    Py_XINCREF(bind);
    c->bind = bind;
    Py_INCREF(frame);
    c->frame = frame;
}

/* ---- names and messages ------------------------------------------------- */

static const char *entity_name(const sf_executor *ex, int e)
{
    return ex->app->entities[e].ir->name;
}

/* The JSON text of a msgpack key, for messages. */
static const char *key_text(sf_buf *tmp, const char *key, size_t keylen)
{
    char err[64];
    sf_buf_reset(tmp);
    if (sf_msgpack_to_json(key, keylen, tmp, err, sizeof err) < 0) {
        sf_buf_reset(tmp);
        sf_buf_puts(tmp, "?");
    }
    return tmp->data;
}

static int fail_not_found_key(sf_executor *ex, sf_tx *tx, int entity, const char *key,
                              size_t keylen)
{
    sf_buf tmp;
    sf_buf_init(&tmp);
    tx_fail(tx, "NotFound", "%s %s not found", entity_name(ex, entity),
            key_text(&tmp, key, keylen));
    sf_buf_free(&tmp);
    return -1;
}

/* ---- instances ---------------------------------------------------------- */

/* A new instance of pe's class without running __init__, with dict as its
 * __dict__ (borrowed). */
static PyObject *instance_new(sf_executor *ex, const sf_pyentity *pe, PyObject *dict)
{
    PyTypeObject *tp = (PyTypeObject *)pe->cls;
    PyObject *o = tp->tp_new(tp, ex->empty_tuple, NULL);
    if (!o)
        return NULL;
    if (dict && PyObject_GenericSetDict(o, dict, NULL) < 0) {
        Py_DECREF(o);
        return NULL;
    }
    return o;
}

static int inst_load(sf_executor *ex, sf_tx *tx, int j)
{
    sf_txinst *t = &tx->insts[j];
    if (t->flags & SF_TXI_LOADED)
        return 0;
    const char *key = tx->keys.data + t->key_off;
    sf_store_item it;
    if (!sf_store_get_h(ex->store, t->hash, (uint32_t)t->entity, key, t->key_len, &it))
        return fail_not_found_key(ex, tx, t->entity, key, t->key_len);
    char err[256];
    PyObject *d = sf_pycodec_decode(ex->codec, it.val, it.vallen, err, sizeof err);
    if (!d)
        return tx_fail(tx, "InternalError", "stored state of %s is unreadable: %s",
                       entity_name(ex, t->entity), err);
    if (!PyDict_CheckExact(d)) {
        Py_DECREF(d);
        return tx_fail(tx, "InternalError", "stored state of %s is not a map",
                       entity_name(ex, t->entity));
    }
    PyObject *o = instance_new(ex, &ex->app->entities[t->entity], d);
    Py_DECREF(d);
    if (!o)
        return tx_fail_py(tx);
    t = &tx->insts[j];
    t->obj = o;
    t->flags |= SF_TXI_LOADED;
    return 0;
}

/* ---- calls -------------------------------------------------------------- */

/* An entity instance (`self` passed as an argument or returned) stands for a
 * reference to itself. Returns a new reference: v itself, or a Ref. */
static PyObject *as_ref(sf_executor *ex, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE)
        for (int e = 0; e < ex->app->nentities; e++) {
            const sf_pyentity *pe = &ex->app->entities[e];
            if ((PyObject *)t != pe->cls)
                continue;
            PyObject *key = PyObject_CallOneArg(pe->key_fn, v);
            if (!key)
                return NULL;
            PyObject *r = sf_pycodec_ref_new(ex->codec, pe->ir->name, key);
            Py_DECREF(key);
            return r;
        }
    Py_INCREF(v);
    return v;
}

/* args with entity instances replaced by references (new reference). */
static PyObject *args_as_refs(sf_executor *ex, PyObject *args)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(args);
    PyObject **items = PySequence_Fast_ITEMS(args);
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        PyTypeObject *t = Py_TYPE(items[i]);
        if ((t->tp_flags & Py_TPFLAGS_HEAPTYPE) && !sf_pycodec_is_ref(ex->codec, items[i]))
            break;
    }
    if (i == n) {
        Py_INCREF(args);
        return args;
    }
    PyObject *out = PyList_New(n);
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *r = as_ref(ex, items[i]);
        if (!r) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, r);
    }
    return out;
}

/* fn(self, *args); args is a list or tuple. */
static PyObject *call_with_self(PyObject *fn, PyObject *self, PyObject *args)
{
    Py_ssize_t n = args ? PySequence_Fast_GET_SIZE(args) : 0;
    PyObject **items = args ? PySequence_Fast_ITEMS(args) : NULL;
    PyObject *small[SMALL_ARGS + 1], **argv = small;
    if (n > SMALL_ARGS) {
        argv = PyMem_Malloc((size_t)(n + 1) * sizeof(PyObject *));
        if (!argv)
            return PyErr_NoMemory();
    }
    argv[0] = self;
    for (Py_ssize_t i = 0; i < n; i++)
        argv[i + 1] = items[i];
    PyObject *r = PyObject_Vectorcall(fn, argv, (size_t)(n + 1), NULL);
    if (argv != small)
        PyMem_Free(argv);
    return r;
}

/* Values passed to or returned from ANOTHER instance are copies, as they
 * would be between processes (and must be storable, as they would have to
 * be encoded): immutable scalars are shared, anything else goes through
 * the codec. Returns a new reference, or NULL with the error set in tx. */
static int is_scalar(sf_executor *ex, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    return t == &PyLong_Type || t == &PyUnicode_Type || v == Py_None || t == &PyBool_Type ||
           t == &PyFloat_Type || t == &PyBytes_Type || sf_pycodec_is_ref(ex->codec, v);
}

static PyObject *value_copy(sf_executor *ex, sf_tx *tx, PyObject *v, const char *where)
{
    if (is_scalar(ex, v)) {
        Py_INCREF(v);
        return v;
    }
    char err[512];
    sf_buf *b = &ex->copybuf;
    sf_buf_reset(b);
    if (sf_pycodec_encode(ex->codec, v, where, b, err, sizeof err) < 0) {
        tx_fail(tx, "TypeError", "%s", err);
        return NULL;
    }
    PyObject *c = sf_pycodec_decode(ex->codec, b->data, b->len, err, sizeof err);
    if (!c)
        tx_fail(tx, "InternalError", "%s: %s", where, err);
    return c;
}

/* The arguments of a call to another instance (args: list or tuple). */
static PyObject *args_copy(sf_executor *ex, sf_tx *tx, PyObject *args)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(args);
    PyObject **items = PySequence_Fast_ITEMS(args);
    Py_ssize_t i = 0;
    while (i < n && is_scalar(ex, items[i]))
        i++;
    if (i == n) {
        Py_INCREF(args);
        return args;
    }
    PyObject *out = PyList_New(n);
    if (!out) {
        tx_fail_py(tx);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "argument %zd", i + 1);
        PyObject *c = value_copy(ex, tx, items[i], where);
        if (!c) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, c);
    }
    return out;
}

/* "'a'", "'a' and 'b'", "'a', 'b', and 'c'" as CPython writes them. */
static void put_name_list(sf_buf *b, const sf_pymethod *pm, int from, int to)
{
    int n = to - from;
    for (int i = from; i < to; i++) {
        if (i > from)
            sf_buf_puts(b, n == 2 ? " and " : (i == to - 1 ? ", and " : ", "));
        sf_buf_printf(b, "'%s'", pm->ir->params[i].name);
    }
}

/* The frame of block 0 of a split method from positional arguments, with
 * CPython's messages for a wrong count. Omitted parameters get their default
 * (pyrt.h), or stay unbound when the module gave none. */
static PyObject *build_frame(sf_executor *ex, sf_tx *tx, const sf_pyentity *pe,
                             const sf_pymethod *pm, PyObject *args)
{
    Py_ssize_t n = args ? PySequence_Fast_GET_SIZE(args) : 0;
    PyObject **items = args ? PySequence_Fast_ITEMS(args) : NULL;
    if (n > pm->nparams || n < pm->nrequired) {
        sf_buf *b = &ex->scratch;
        sf_buf_reset(b);
        sf_buf_printf(b, "%s.%s() ", pe->ir->name, pm->ir->name);
        if (n > pm->nparams) {
            if (pm->nrequired == pm->nparams)
                sf_buf_printf(b, "takes %d positional argument%s but %zd %s given",
                              pm->nparams + 1, pm->nparams == 0 ? "" : "s", n + 1,
                              n == 0 ? "was" : "were");
            else
                sf_buf_printf(b, "takes from %d to %d positional arguments but %zd were given",
                              pm->nrequired + 1, pm->nparams + 1, n + 1);
        } else {
            int missing = pm->nrequired - (int)n;
            sf_buf_printf(b, "missing %d required positional argument%s: ", missing,
                          missing == 1 ? "" : "s");
            put_name_list(b, pm, (int)n, pm->nrequired);
        }
        tx_fail(tx, "TypeError", "%s", b->data);
        return NULL;
    }
    PyObject *f = _PyDict_NewPresized(pm->nparams);
    if (!f) {
        tx_fail_py(tx);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyDict_SetItem(f, pm->params[i], items[i]) < 0)
            goto pyfail;
    if (n < pm->nparams && pm->defaults) {
        Py_ssize_t nd = PyTuple_GET_SIZE(pm->defaults), first = pm->nparams - nd;
        for (Py_ssize_t i = n > first ? n : first; i < pm->nparams; i++)
            if (PyDict_SetItem(f, pm->params[i], PyTuple_GET_ITEM(pm->defaults, i - first)) < 0)
                goto pyfail;
    }
    return f;
pyfail:
    Py_DECREF(f);
    tx_fail_py(tx);
    return NULL;
}

static int method_by_name(const sf_pyentity *pe, PyObject *name)
{
    for (int i = 0; i < pe->nmethods; i++)
        if (pe->methods[i].name == name)
            return i;
    if (!PyUnicode_Check(name))
        return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (!s) {
        PyErr_Clear();
        return -1;
    }
    return sf_pyapp_method_index(pe, s, (size_t)n);
}

static int bad_result(sf_executor *ex, sf_tx *tx, const sf_pyentity *pe,
                      const sf_pymethod *pm, int block, const char *why)
{
    (void)ex;
    return tx_fail(tx, "InternalError",
                   "%s.%s block %d returned a malformed block result (%s)", pe->ir->name,
                   pm->ir->name, block, why);
}

/* Resolve the target of a call exit: the instance itself (self), a Ref, or
 * an entity instance of this transaction. */
static int resolve_target(sf_executor *ex, sf_tx *tx, int self_inst, PyObject *target)
{
    if (target == tx->insts[self_inst].obj)
        return self_inst;
    PyObject *ref = target;
    if (!sf_pycodec_is_ref(ex->codec, target)) {
        for (int j = 0; j < tx->ninsts; j++)
            if (tx->insts[j].obj == target)
                return j;
        ref = as_ref(ex, target);
        if (!ref)
            return tx_fail_py(tx);
        if (!sf_pycodec_is_ref(ex->codec, ref)) {
            Py_DECREF(ref);
            return tx_fail(tx, "TypeError",
                           "remote call target must be an entity reference, not %s",
                           Py_TYPE(target)->tp_name);
        }
    } else
        Py_INCREF(ref);
    const char *en = sf_pycodec_ref_entity(ref);
    int e = sf_pyapp_entity_index(ex->app, en, strlen(en));
    if (e < 0) {
        tx_fail(tx, "NotFound", "unknown entity '%s'", en);
        Py_DECREF(ref);
        return -1;
    }
    char err[256];
    sf_buf *kb = &ex->scratch;
    sf_buf_reset(kb);
    int rc = sf_pycodec_encode(ex->codec, sf_pycodec_ref_key(ref), "key", kb, err, sizeof err);
    Py_DECREF(ref);
    if (rc < 0)
        return tx_fail(tx, "TypeError", "%s", err);
    return sf_tx_instance(tx, e, kb->data, kb->len);
}

/* ---- the block loop ----------------------------------------------------- *
 *
 * exec_event repeats one step until the outermost method returns: the
 * step's target (step_target: locality, step limit, the instance loaded),
 * the user code (run_method for a plain method, run_block for one block of a
 * split one), the block's outcome (block_outcome: return, jump or call), and
 * a return to the caller (return_to_caller). */

/* What a step did. */
enum {
    STEP_FAILED = -1,         /* error set in tx */
    STEP_NEXT = 0,            /* ev is the next step (a jump or a call) */
    STEP_RETURNED = 1,        /* the method returned *value */
    STEP_NOT_LOCAL = 2,       /* ev targets an instance owned elsewhere */
};

/* Before running user code on ev's target: it must be local, within the
 * step limit and loaded; a method that is not read-only marks it written. */
static int step_target(sf_executor *ex, sf_tx *tx, const sf_event *ev)
{
    const sf_txinst *t = &tx->insts[ev->inst];
    if (ex->is_local && !(t->flags & SF_TXI_PENDING) &&
        !ex->is_local(ex->is_local_arg, t->entity, tx->keys.data + t->key_off, t->key_len))
        return STEP_NOT_LOCAL;
    if (count_step(ex, tx) < 0)
        return STEP_FAILED;
    if (ev->method < 0)
        return STEP_NEXT; /* a lifecycle step checks the instance itself */
    if (inst_load(ex, tx, ev->inst) < 0)
        return STEP_FAILED;
    sf_txinst *ti = &tx->insts[ev->inst];
    if ((ti->flags & SF_TXI_DELETED) && ev->kind == SF_EVENT_INVOKE)
        return fail_not_found_key(ex, tx, ti->entity, tx->keys.data + ti->key_off, ti->key_len);
    const sf_pymethod *pm = &ex->app->entities[ti->entity].methods[ev->method];
    if (!(pm->ir->flags & SF_METHOD_READ_ONLY))
        ti->flags |= SF_TXI_WRITTEN;
    return STEP_NEXT;
}

/* INVOKE of a plain method: run it; *value is its result (as a Ref when it
 * is an entity instance). */
static int run_method(sf_executor *ex, sf_tx *tx, sf_event *ev, const sf_pymethod *pm,
                      PyObject *self, PyObject **value)
{
    PyObject *r = call_with_self(pm->fn, self, ev->args);
    Py_CLEAR(ev->args);
    *value = r ? as_ref(ex, r) : NULL;
    Py_XDECREF(r);
    if (!*value)
        return tx_fail_py(tx);
    return STEP_RETURNED;
}

/* RESUME: run block ev->block; *r is its result (not checked yet). */
static int run_block(sf_tx *tx, sf_event *ev, const sf_pymethod *pm, PyObject *self,
                     PyObject **r)
{
    PyObject *argv[2] = {self, ev->frame};
    *r = PyObject_Vectorcall(pm->blocks[ev->block], argv, 2, NULL);
    Py_CLEAR(ev->frame);
    if (!*r)
        return tx_fail_py(tx);
    return 0;
}

/* (2, k, frame): continue at block k of the same method. */
static int block_jump(sf_executor *ex, sf_tx *tx, sf_event *ev, const sf_pyentity *pe,
                      const sf_pymethod *pm, int block, PyObject *r)
{
    PyObject *k = PyTuple_GET_ITEM(r, 1), *f = PyTuple_GET_ITEM(r, 2);
    long kb = PyLong_CheckExact(k) ? PyLong_AsLong(k) : -1;
    if (kb < 0 || kb >= pm->nblocks || !PyDict_CheckExact(f)) {
        PyErr_Clear();
        return bad_result(ex, tx, pe, pm, block, "bad jump");
    }
    ev->block = (int)kb;
    Py_INCREF(f);
    ev->frame = f;
    return STEP_NEXT;
}

/* ---- entity lifecycle inside a transaction --------------------------------
 *
 * A create in a method, (1, "E", "__init__", args, k, bind, frame), runs
 * E.__init__ on a new object here (the constructor must not be split: the
 * compiler checks), computes its key and becomes the INSTALL of its state
 * on (E, key), a step at the key's owner like any call; its result, a
 * reference, is bound in the caller. A delete, (1, ref, "_sf_delete", ...),
 * is the DELETE step at the owner of ref. */

static PyObject *instance_ref(sf_executor *ex, sf_tx *tx, int j)
{
    const sf_txinst *t = &tx->insts[j];
    char err[256];
    PyObject *key = sf_pycodec_decode(ex->codec, tx->keys.data + t->key_off, t->key_len, err, sizeof err);
    if (!key) {
        tx_fail(tx, "InternalError", "key of %s is unreadable: %s", entity_name(ex, t->entity), err);
        return NULL;
    }
    PyObject *r = sf_pycodec_ref_new(ex->codec, entity_name(ex, t->entity), key);
    Py_DECREF(key);
    if (!r)
        tx_fail_py(tx);
    return r;
}

/* Does instance j (not deleted by tx) exist: in tx or in the store? */
static int inst_exists(sf_executor *ex, const sf_tx *tx, int j)
{
    const sf_txinst *t = &tx->insts[j];
    if (t->flags & SF_TXI_DELETED)
        return 0;
    if (t->flags & SF_TXI_LOADED)
        return 1;
    return sf_store_get_h(ex->store, t->hash, (uint32_t)t->entity, tx->keys.data + t->key_off,
                          t->key_len, NULL);
}

static int lifecycle_install(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **value)
{
    int j = ev->inst;
    sf_txinst *t = &tx->insts[j];
    const sf_pyentity *pe = &ex->app->entities[t->entity];
    PyObject *args = ev->args;
    if (!args || !(PyList_CheckExact(args) || PyTuple_CheckExact(args)) ||
        PySequence_Fast_GET_SIZE(args) != 1 || !PyDict_CheckExact(PySequence_Fast_GET_ITEM(args, 0)))
        return tx_fail(tx, "InternalError", "malformed install of a new %s", pe->ir->name);
    if (inst_exists(ex, tx, j)) {
        sf_buf tmp;
        sf_buf_init(&tmp);
        tx_fail(tx, "AlreadyExists", "%s %s already exists", pe->ir->name,
                key_text(&tmp, tx->keys.data + t->key_off, t->key_len));
        sf_buf_free(&tmp);
        return STEP_FAILED;
    }
    PyObject *o = instance_new(ex, pe, PySequence_Fast_GET_ITEM(args, 0));
    Py_CLEAR(ev->args);
    if (!o)
        return tx_fail_py(tx);
    t = &tx->insts[j];
    Py_XSETREF(t->obj, o);
    t->flags = (t->flags & ~(unsigned)SF_TXI_DELETED) | SF_TXI_LOADED | SF_TXI_CREATED | SF_TXI_WRITTEN;
    *value = instance_ref(ex, tx, j);
    return *value ? STEP_RETURNED : STEP_FAILED;
}

static int lifecycle_delete(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **value)
{
    int j = ev->inst;
    Py_CLEAR(ev->args);
    if (inst_load(ex, tx, j) < 0)
        return STEP_FAILED;
    sf_txinst *t = &tx->insts[j];
    if (t->flags & SF_TXI_DELETED)
        return fail_not_found_key(ex, tx, t->entity, tx->keys.data + t->key_off, t->key_len);
    t->flags |= SF_TXI_DELETED | SF_TXI_WRITTEN;
    Py_INCREF(Py_None);
    *value = Py_None;
    return STEP_RETURNED;
}

static int lifecycle_step(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **value)
{
    if (ev->kind != SF_EVENT_INVOKE)
        return tx_fail(tx, "InternalError", "a lifecycle step cannot resume");
    if (ev->method == SF_EXEC_INSTALL)
        return lifecycle_install(ex, tx, ev, value);
    if (ev->method == SF_EXEC_DELETE)
        return lifecycle_delete(ex, tx, ev, value);
    return tx_fail(tx, "InternalError", "unknown lifecycle step %d", ev->method);
}

static int construct(sf_executor *ex, sf_tx *tx, int e, PyObject *args, sf_event *ev, int *j);
static int new_instance_key(sf_executor *ex, sf_tx *tx, int e, int j, sf_buf *kb, uint64_t *h);

/* (1, "E", "__init__", args, k, bind, frame): construct, then INSTALL. */
static int block_create(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject *ename, PyObject *mname,
                        PyObject *args, int k, PyObject *bind, PyObject *f)
{
    Py_ssize_t nl;
    const char *en = PyUnicode_AsUTF8AndSize(ename, &nl);
    if (!en)
        return tx_fail_py(tx);
    int e = sf_pyapp_entity_index(ex->app, en, (size_t)nl);
    if (e < 0)
        return tx_fail(tx, "NotFound", "unknown entity '%s'", en);
    const sf_pyentity *pe = &ex->app->entities[e];
    if (PyUnicode_CompareWithASCIIString(mname, "__init__") != 0 || pe->init < 0)
        return tx_fail(tx, "InternalError", "malformed create of %s", en);
    if (pe->methods[pe->init].blocks)
        return tx_fail(tx, "TypeError", "creating %s inside a method needs %s.__init__ without remote "
                                        "operations", en, en);
    int self_inst = ev->inst;
    PyObject *a = args_as_refs(ex, args);
    if (!a)
        return tx_fail_py(tx);
    PyObject *ac = args_copy(ex, tx, a);
    Py_DECREF(a);
    if (!ac)
        return STEP_FAILED;
    int j;
    int st = construct(ex, tx, e, ac, NULL, &j);
    Py_DECREF(ac);
    if (st < 0)
        return STEP_FAILED;
    sf_buf *kb = &ex->scratch;
    uint64_t h;
    PyObject *state = NULL;
    if (new_instance_key(ex, tx, e, j, kb, &h) == 0)
        state = PyObject_GenericGetDict(tx->insts[j].obj, NULL);
    /* the object is not kept: its state moves to the instance (E, key) */
    sf_txinst *t = &tx->insts[j];
    Py_CLEAR(t->obj);
    t->flags = SF_TXI_PENDING;
    if (!state)
        return tx->err_type.len ? STEP_FAILED : tx_fail_py(tx);
    PyObject *iargs = PyList_New(1);
    if (!iargs) {
        Py_DECREF(state);
        return tx_fail_py(tx);
    }
    PyList_SET_ITEM(iargs, 0, state);
    int tinst = sf_tx_instance(tx, e, kb->data, kb->len);
    event_push(ev, self_inst, ev->method, k, bind == Py_None ? NULL : bind, f);
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = tinst;
    ev->method = SF_EXEC_INSTALL;
    ev->args = iargs;
    return STEP_NEXT;
}

/* (1, target, method, args, k, bind, frame): push the continuation
 * (block k, frame, bind) and invoke method on target. */
static int block_call(sf_executor *ex, sf_tx *tx, sf_event *ev, const sf_pyentity *pe,
                      const sf_pymethod *pm, int block, PyObject *r)
{
    PyObject *target = PyTuple_GET_ITEM(r, 1), *mname = PyTuple_GET_ITEM(r, 2),
             *args = PyTuple_GET_ITEM(r, 3), *k = PyTuple_GET_ITEM(r, 4),
             *bind = PyTuple_GET_ITEM(r, 5), *f = PyTuple_GET_ITEM(r, 6);
    long kb = PyLong_CheckExact(k) ? PyLong_AsLong(k) : -1;
    if (kb < 0 || kb >= pm->nblocks || !PyDict_CheckExact(f) ||
        !(bind == Py_None || PyUnicode_CheckExact(bind)) ||
        !(PyTuple_CheckExact(args) || PyList_CheckExact(args)) || !PyUnicode_CheckExact(mname)) {
        PyErr_Clear();
        return bad_result(ex, tx, pe, pm, block, "bad call");
    }
    if (ev->depth >= ex->lim.max_depth)
        return tx_fail(tx, "RecursionError", "call depth limit (%d) exceeded", ex->lim.max_depth);
    if (target == Py_None && PyUnicode_CompareWithASCIIString(mname, SF_IR_DELETE_METHOD) == 0)
        /* stateflow.delete(None): what the stateflow package says */
        return tx_fail(tx, "TypeError", "delete() needs an entity instance, not NoneType");
    if (target == Py_None) {
        /* an unset Optional reference: what Python itself would say */
        const char *mn = PyUnicode_AsUTF8(mname);
        if (mn && (strncmp(mn, "_sf_get_", 8) == 0 || strncmp(mn, "_sf_set_", 8) == 0))
            mn += 8; /* an attribute access through an accessor */
        return tx_fail(tx, "AttributeError", "'NoneType' object has no attribute '%s'",
                       mn ? mn : "?");
    }
    int self_inst = ev->inst;
    if (PyUnicode_CheckExact(target))
        return block_create(ex, tx, ev, target, mname, args, (int)kb, bind, f);
    int tinst = resolve_target(ex, tx, self_inst, target);
    if (tinst < 0)
        return STEP_FAILED;
    const sf_pyentity *te = &ex->app->entities[tx->insts[tinst].entity];
    if (PyUnicode_CompareWithASCIIString(mname, SF_IR_DELETE_METHOD) == 0) {
        event_push(ev, self_inst, ev->method, (int)kb, bind == Py_None ? NULL : bind, f);
        ev->kind = SF_EVENT_INVOKE;
        ev->inst = tinst;
        ev->method = SF_EXEC_DELETE;
        ev->args = PyTuple_New(0);
        return ev->args ? STEP_NEXT : tx_fail_py(tx);
    }
    int tm = method_by_name(te, mname);
    if (tm < 0 || (te->methods[tm].ir->flags & SF_METHOD_INIT)) {
        const char *mn = PyUnicode_AsUTF8(mname);
        if (!mn)
            PyErr_Clear();
        return tx_fail(tx, "NotFound", "unknown method '%s.%s'", te->ir->name, mn ? mn : "?");
    }
    event_push(ev, self_inst, ev->method, (int)kb, bind == Py_None ? NULL : bind, f);
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = tinst;
    ev->method = tm;
    PyObject *a = args_as_refs(ex, args);
    if (!a)
        return tx_fail_py(tx);
    if (tinst != self_inst) {
        ev->args = args_copy(ex, tx, a);
        Py_DECREF(a);
        if (!ev->args)
            return STEP_FAILED;
    } else
        ev->args = a;
    return STEP_NEXT;
}

/* What block `block` returned (r): a return (*value), a jump or a call. */
static int block_outcome(sf_executor *ex, sf_tx *tx, sf_event *ev, const sf_pyentity *pe,
                         const sf_pymethod *pm, int block, PyObject *r, PyObject **value)
{
    if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) < 2 ||
        !PyLong_CheckExact(PyTuple_GET_ITEM(r, 0)))
        return bad_result(ex, tx, pe, pm, block, "not a tuple starting with 0, 1 or 2");
    long tag = PyLong_AsLong(PyTuple_GET_ITEM(r, 0));
    Py_ssize_t size = PyTuple_GET_SIZE(r);
    if (tag == 0 && size == 2) {
        *value = as_ref(ex, PyTuple_GET_ITEM(r, 1));
        return *value ? STEP_RETURNED : tx_fail_py(tx);
    }
    if (tag == 2 && size == 3)
        return block_jump(ex, tx, ev, pe, pm, block, r);
    if (tag == 1 && size == 7)
        return block_call(ex, tx, ev, pe, pm, block, r);
    return bad_result(ex, tx, pe, pm, block, "unknown tag or wrong length");
}

/* One step of ev: a plain method, or one block of a split method (an
 * INVOKE of a split method first becomes a RESUME of its block 0). */
static int exec_step(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **value)
{
    int st = step_target(ex, tx, ev);
    if (st != STEP_NEXT)
        return st;
    if (ev->method < 0)
        return lifecycle_step(ex, tx, ev, value);
    sf_txinst *ti = &tx->insts[ev->inst];
    const sf_pyentity *pe = &ex->app->entities[ti->entity];
    const sf_pymethod *pm = &pe->methods[ev->method];
    PyObject *self = ti->obj;
    if (ev->kind == SF_EVENT_INVOKE) {
        if (!pm->blocks)
            return run_method(ex, tx, ev, pm, self, value);
        PyObject *f = build_frame(ex, tx, pe, pm, ev->args);
        Py_CLEAR(ev->args);
        if (!f)
            return STEP_FAILED;
        ev->kind = SF_EVENT_RESUME;
        ev->block = 0;
        ev->frame = f;
    }
    int block = ev->block;
    PyObject *r;
    if (run_block(tx, ev, pm, self, &r) < 0)
        return STEP_FAILED;
    st = block_outcome(ex, tx, ev, pe, pm, block, r, value);
    Py_DECREF(r);
    return st;
}

/* The callee returned value (stolen): pop the innermost continuation and
 * make ev the caller's RESUME with frame[bind] = value (a copy when the
 * callee is another instance). */
static int return_to_caller(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject *value)
{
    sf_cont *c = &ev->stack[--ev->depth];
    int callee = ev->inst;
    PyObject *bind = c->bind;
    c->bind = NULL;
    ev->kind = SF_EVENT_RESUME;
    ev->inst = c->inst;
    ev->method = c->method;
    ev->block = c->block;
    ev->frame = c->frame; /* owned by ev from here on */
    c->frame = NULL;
    if (callee != ev->inst) {
        PyObject *cp = value_copy(ex, tx, value, "return value");
        Py_DECREF(value);
        if (!cp) {
            Py_XDECREF(bind);
            return -1;
        }
        value = cp;
    }
    int rc = bind ? PyDict_SetItem(ev->frame, bind, value) : 0;
    Py_DECREF(value);
    Py_XDECREF(bind);
    return rc < 0 ? tx_fail_py(tx) : 0;
}

static int exec_event(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **result)
{
    *result = NULL;
    for (;;) {
        PyObject *value = NULL;
        int st = exec_step(ex, tx, ev, &value);
        if (st == STEP_NOT_LOCAL)
            return 1;
        if (st == STEP_FAILED)
            break;
        if (st != STEP_RETURNED)
            continue;
        if (ev->depth == 0) {
            *result = value;
            sf_event_clear(ev);
            return 0;
        }
        if (return_to_caller(ex, tx, ev, value) < 0)
            break;
    }
    sf_event_clear(ev);
    return -1;
}

int sf_exec_event(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **result)
{
    if (guard_enter(ex, tx) < 0) {
        *result = NULL;
        sf_event_clear(ev);
        return -1;
    }
    int rc = exec_event(ex, tx, ev, result);
    guard_leave(ex, tx);
    return rc;
}

/* ---- commit ------------------------------------------------------------- */

/* Encode the __dict__ of instance j as a msgpack map. */
static int encode_state(sf_executor *ex, sf_tx *tx, int j, sf_buf *out)
{
    sf_txinst *t = &tx->insts[j];
    PyObject *d = PyObject_GenericGetDict(t->obj, NULL);
    if (!d)
        return tx_fail_py(tx);
    if (!PyDict_Check(d)) {
        Py_DECREF(d);
        return tx_fail(tx, "TypeError", "%s: __dict__ is not a dict", entity_name(ex, t->entity));
    }
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    msgpack_pack_map(&pk, (size_t)PyDict_GET_SIZE(d));
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    char err[512];
    while (PyDict_Next(d, &pos, &k, &v)) {
        Py_ssize_t n;
        const char *s = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &n) : NULL;
        if (!s) {
            PyErr_Clear();
            Py_DECREF(d);
            return tx_fail(tx, "TypeError", "%s: attribute names must be str",
                           entity_name(ex, t->entity));
        }
        msgpack_pack_str_with_body(&pk, s, (size_t)n);
        if (sf_pycodec_encode(ex->codec, v, "attribute", out, err, sizeof err) < 0) {
            /* Again with the attribute's name, for the message. */
            char where[300];
            snprintf(where, sizeof where, "attribute '%s'", s);
            sf_buf_reset(&ex->scratch);
            sf_pycodec_encode(ex->codec, v, where, &ex->scratch, err, sizeof err);
            Py_DECREF(d);
            sf_buf tmp;
            sf_buf_init(&tmp);
            tx_fail(tx, "TypeError", "%s %s: %s", entity_name(ex, t->entity),
                    key_text(&tmp, tx->keys.data + t->key_off, t->key_len), err);
            sf_buf_free(&tmp);
            return -1;
        }
    }
    Py_DECREF(d);
    return 0;
}

/* Encode every written or created instance into ex->state; ex->offs gets
 * (instance, offset, length) triples. Returns the count, or -1 with the
 * error set in tx (nothing dropped). */
static long encode_writes(sf_executor *ex, sf_tx *tx)
{
    sf_buf_reset(&ex->state);
    size_t nw = 0;
    for (int j = 0; j < tx->ninsts; j++) {
        sf_txinst *t = &tx->insts[j];
        if (!(t->flags & (SF_TXI_WRITTEN | SF_TXI_CREATED)) || !(t->flags & SF_TXI_LOADED))
            continue;
        if (t->flags & SF_TXI_PENDING)
            return tx_fail(tx, "InternalError", "%s instance still under construction at commit",
                           entity_name(ex, t->entity));
        if ((nw + 1) * 3 > ex->offs_cap) {
            ex->offs_cap = ex->offs_cap ? ex->offs_cap * 2 : 48;
            ex->offs = sf_xrealloc(ex->offs, ex->offs_cap * sizeof(size_t));
        }
        size_t off = ex->state.len;
        if (t->flags & SF_TXI_DELETED) {
            /* a delete: no state (offset SIZE_MAX) */
            ex->offs[nw * 3] = (size_t)j;
            ex->offs[nw * 3 + 1] = SIZE_MAX;
            ex->offs[nw * 3 + 2] = 0;
            nw++;
            continue;
        }
        if (encode_state(ex, tx, j, &ex->state) < 0)
            return -1;
        ex->offs[nw * 3] = (size_t)j;
        ex->offs[nw * 3 + 1] = off;
        ex->offs[nw * 3 + 2] = ex->state.len - off;
        nw++;
    }
    return (long)nw;
}

int sf_tx_clear_unchanged(sf_executor *ex, sf_tx *tx)
{
    int cleared = 0, had_err = tx->err_type.len > 0;
    for (int j = 0; j < tx->ninsts; j++) {
        sf_txinst *t = &tx->insts[j];
        /* a delete is a write whatever the state looks like */
        if ((t->flags & (SF_TXI_WRITTEN | SF_TXI_LOADED | SF_TXI_CREATED | SF_TXI_PENDING |
                         SF_TXI_DELETED)) != (SF_TXI_WRITTEN | SF_TXI_LOADED))
            continue;
        sf_store_item it;
        if (!sf_store_get_h(ex->store, t->hash, (uint32_t)t->entity, tx->keys.data + t->key_off,
                            t->key_len, &it))
            continue;
        sf_buf_reset(&ex->state);
        if (encode_state(ex, tx, j, &ex->state) < 0) {
            /* an unstorable state is reported when the writes are encoded */
            if (!had_err) {
                sf_buf_reset(&tx->err_type);
                sf_buf_reset(&tx->err_msg);
            }
            PyErr_Clear();
            continue;
        }
        if (ex->state.len == it.vallen && memcmp(ex->state.data, it.val, it.vallen) == 0) {
            tx->insts[j].flags &= ~(unsigned)SF_TXI_WRITTEN;
            cleared++;
        }
    }
    sf_buf_reset(&ex->state);
    return cleared;
}

int sf_tx_encode_writes(sf_executor *ex, sf_tx *tx, sf_tx_write_fn fn, void *arg)
{
    long nw = encode_writes(ex, tx);
    if (nw < 0)
        return -1;
    for (long w = 0; w < nw; w++) {
        const sf_txinst *t = &tx->insts[ex->offs[w * 3]];
        if (ex->offs[w * 3 + 1] == SIZE_MAX) {
            fn(arg, t, tx->keys.data + t->key_off, t->key_len, NULL, 0);
            continue;
        }
        fn(arg, t, tx->keys.data + t->key_off, t->key_len, ex->state.data + ex->offs[w * 3 + 1],
           ex->offs[w * 3 + 2]);
    }
    return 0;
}

int sf_tx_commit(sf_executor *ex, sf_tx *tx)
{
    long nw = encode_writes(ex, tx);
    if (nw < 0) {
        tx_drop(tx);
        return -1;
    }
    for (long w = 0; w < nw; w++) {
        const sf_txinst *t = &tx->insts[ex->offs[w * 3]];
        if (ex->offs[w * 3 + 1] == SIZE_MAX) {
            sf_store_delete(ex->store, (uint32_t)t->entity, tx->keys.data + t->key_off, t->key_len);
            continue;
        }
        sf_store_put_h(ex->store, t->hash, (uint32_t)t->entity, tx->keys.data + t->key_off,
                       t->key_len, ex->state.data + ex->offs[w * 3 + 1], ex->offs[w * 3 + 2]);
    }
    sf_tx_reset(tx, tx->txid);
    return 0;
}

/* ---- the executor ------------------------------------------------------- */

sf_executor *sf_executor_new(sf_pyapp *app, sf_pycodec *codec, sf_store *store, char *err,
                             size_t errlen)
{
    if (!app || !codec || !store) {
        snprintf(err, errlen, "executor: missing application, codec or store");
        return NULL;
    }
    sf_executor *ex = sf_xrealloc(NULL, sizeof(*ex));
    memset(ex, 0, sizeof(*ex));
    ex->app = app;
    ex->codec = codec;
    ex->store = store;
    /* the app's dataclasses and Enums are found by name in its module */
    sf_pycodec_set_module(codec, app->module);
    ex->lim.max_depth = SF_EXEC_DEFAULT_MAX_DEPTH;
    ex->lim.max_steps = SF_EXEC_DEFAULT_MAX_STEPS;
    sf_tx_init(&ex->tx);
    sf_event_init(&ex->ev);
    sf_buf_init(&ex->scratch);
    sf_buf_init(&ex->state);
    sf_buf_init(&ex->result);
    sf_buf_init(&ex->copybuf);
    ex->empty_tuple = PyTuple_New(0);
    if (!ex->empty_tuple) {
        sf_pyrt_error_string(err, errlen);
        sf_executor_free(ex);
        return NULL;
    }
    return ex;
}

void sf_executor_free(sf_executor *ex)
{
    if (!ex)
        return;
    sf_event_free(&ex->ev);
    sf_tx_free(&ex->tx);
    sf_buf_free(&ex->scratch);
    sf_buf_free(&ex->state);
    sf_buf_free(&ex->result);
    sf_buf_free(&ex->copybuf);
    free(ex->offs);
    Py_XDECREF(ex->empty_tuple);
    free(ex);
}

void sf_executor_set_limits(sf_executor *ex, const sf_executor_limits *lim)
{
    ex->lim = *lim;
    if (ex->lim.max_depth <= 0)
        ex->lim.max_depth = SF_EXEC_DEFAULT_MAX_DEPTH;
    if (ex->lim.max_steps == 0)
        ex->lim.max_steps = SF_EXEC_DEFAULT_MAX_STEPS;
}

sf_store *sf_executor_store(sf_executor *ex) { return ex->store; }

void sf_executor_set_locality(sf_executor *ex, sf_exec_is_local_fn fn, void *arg)
{
    ex->is_local = fn;
    ex->is_local_arg = arg;
}


/* ---- client operations: argument checks (tests/diff/plain.py) ----------- */

/* What a parameter's annotation checks: kind is one of the SF_TYPE_ kinds
 * INT, FLOAT, STR, BOOL, BYTES, LIST, DICT, ENTITY, or SF_TYPE_ANY for "not
 * checked"; optional also accepts None. */
typedef struct argchk {
    sf_type_kind kind;
    const char *entity;
    int optional;
} argchk;

static argchk classify(const sf_type *t, int depth)
{
    argchk c = {SF_TYPE_ANY, NULL, 0};
    if (!t || depth > SF_IR_MAX_TYPE_DEPTH)
        return c;
    switch (t->kind) {
    case SF_TYPE_INT: case SF_TYPE_FLOAT: case SF_TYPE_STR: case SF_TYPE_BOOL:
    case SF_TYPE_BYTES: case SF_TYPE_LIST: case SF_TYPE_DICT:
        c.kind = t->kind;
        break;
    case SF_TYPE_ENTITY:
        if (t->entity) {
            c.kind = SF_TYPE_ENTITY;
            c.entity = t->entity;
        }
        break;
    case SF_TYPE_OPTIONAL:
        if (t->nargs >= 1 && t->args) {
            argchk in = classify(t->args[0], depth + 1);
            if (in.kind != SF_TYPE_ANY) {
                in.optional = 1;
                return in;
            }
        }
        break;
    default:
        break;
    }
    return c;
}

static void describe(sf_buf *b, const argchk *c)
{
    if (c->kind == SF_TYPE_ENTITY)
        sf_buf_printf(b, "a reference to %s", c->entity);
    else
        sf_buf_puts(b, sf_type_kind_name(c->kind));
    if (c->optional)
        sf_buf_puts(b, " or None");
}

static int accepts(sf_executor *ex, const argchk *c, PyObject *v)
{
    if (v == Py_None)
        return c->optional;
    switch (c->kind) {
    case SF_TYPE_INT: return PyLong_CheckExact(v);
    case SF_TYPE_FLOAT: return PyLong_CheckExact(v) || PyFloat_CheckExact(v);
    case SF_TYPE_STR: return PyUnicode_CheckExact(v);
    case SF_TYPE_BOOL: return PyBool_Check(v);
    case SF_TYPE_BYTES: return PyBytes_CheckExact(v);
    case SF_TYPE_LIST: return PyList_CheckExact(v);
    case SF_TYPE_DICT: return PyDict_CheckExact(v);
    case SF_TYPE_ENTITY:
        return sf_pycodec_is_ref(ex->codec, v) && strcmp(sf_pycodec_ref_entity(v), c->entity) == 0;
    default: return 1;
    }
}

static void value_type_name(sf_executor *ex, sf_buf *b, PyObject *v)
{
    if (v == Py_None)
        sf_buf_puts(b, "None");
    else if (sf_pycodec_is_ref(ex->codec, v))
        sf_buf_printf(b, "a reference to %s", sf_pycodec_ref_entity(v));
    else
        sf_buf_puts(b, Py_TYPE(v)->tp_name);
}

/* Methods a client may call: not generated, not a dunder, not internal. */
static int client_callable(const sf_ir_method *m)
{
    const char *n = m->name;
    size_t len = strlen(n);
    if (strncmp(n, "_sf_", 4) == 0 || (len >= 4 && n[0] == '_' && n[1] == '_' &&
                                       n[len - 1] == '_' && n[len - 2] == '_'))
        return 0;
    return !(m->flags & (SF_METHOD_INTERNAL | SF_METHOD_ACCESSOR | SF_METHOD_INIT));
}

static void put_label(sf_buf *b, const sf_pyentity *pe, const sf_pymethod *pm)
{
    sf_buf_reset(b);
    if (pm->ir->flags & SF_METHOD_INIT)
        sf_buf_printf(b, "%s()", pe->ir->name);
    else
        sf_buf_printf(b, "%s.%s()", pe->ir->name, pm->ir->name);
}

static int check_args(sf_executor *ex, sf_tx *tx, const sf_pyentity *pe, const sf_pymethod *pm,
                      PyObject *args)
{
    Py_ssize_t n = PyList_GET_SIZE(args);
    int lo = pm->nrequired, hi = pm->nparams;
    sf_buf *b = &ex->scratch;
    if (n < lo || n > hi) {
        put_label(b, pe, pm);
        if (lo == hi)
            sf_buf_printf(b, " expects %d argument%s, got %zd", lo, lo == 1 ? "" : "s", n);
        else
            sf_buf_printf(b, " expects %d to %d arguments, got %zd", lo, hi, n);
        return tx_fail(tx, "TypeError", "%s", b->data);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        argchk c = classify(pm->ir->params[i].type, 0);
        PyObject *v = PyList_GET_ITEM(args, i);
        if (c.kind == SF_TYPE_ANY || accepts(ex, &c, v))
            continue;
        put_label(b, pe, pm);
        sf_buf_printf(b, " argument '%s' must be ", pm->ir->params[i].name);
        describe(b, &c);
        sf_buf_puts(b, ", got ");
        value_type_name(ex, b, v);
        return tx_fail(tx, "TypeError", "%s", b->data);
    }
    /* values beyond JSON, converted by the parameters' type hints */
    if (!sf_pycodec_args_need_convert(ex->codec, pe->cls, pm->ir->name))
        return 0;
    put_label(b, pe, pm);
    if (guard_enter(ex, tx) < 0)
        return -1;
    int rc = sf_pycodec_convert_args(ex->codec, pe->cls, pm->ir->name, b->data, args);
    guard_leave(ex, tx);
    return rc < 0 ? tx_fail_py(tx) : 0;
}

/* Every reference in the arguments (in lists and dict values, depth first)
 * must name a known entity and an instance that exists. */
static int check_refs(sf_executor *ex, sf_tx *tx, PyObject *v, int depth)
{
    if (depth > SF_VALUE_MAX_DEPTH + 1)
        return 0;
    if (PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < n; i++)
            if (check_refs(ex, tx, PySequence_Fast_GET_ITEM(v, i), depth + 1) < 0)
                return -1;
        return 0;
    }
    if (PyDict_CheckExact(v)) {
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        while (PyDict_Next(v, &pos, &k, &x))
            if (check_refs(ex, tx, x, depth + 1) < 0)
                return -1;
        return 0;
    }
    if (!sf_pycodec_is_ref(ex->codec, v))
        return 0;
    const char *en = sf_pycodec_ref_entity(v);
    int e = sf_pyapp_entity_index(ex->app, en, strlen(en));
    if (e < 0)
        return tx_fail(tx, "NotFound", "unknown entity '%s'", en);
    char err[256];
    sf_buf *kb = &ex->scratch;
    sf_buf_reset(kb);
    if (sf_pycodec_encode(ex->codec, sf_pycodec_ref_key(v), "key", kb, err, sizeof err) < 0)
        return tx_fail(tx, "BadRequest", "%s", err);
    if (!sf_store_contains(ex->store, (uint32_t)e, kb->data, kb->len)) {
        sf_buf kcopy;
        sf_buf_init(&kcopy);
        sf_buf_append(&kcopy, kb->data, kb->len);
        fail_not_found_key(ex, tx, e, kcopy.data, kcopy.len);
        sf_buf_free(&kcopy);
        return -1;
    }
    return 0;
}

/* ---- client operations -------------------------------------------------- */

/* Decode the msgpack argument array into a list. */
static PyObject *decode_args(sf_executor *ex, sf_tx *tx, const sf_exec_op *op)
{
    if (!op->args || op->args_len == 0)
        return PyList_New(0);
    char err[256];
    PyObject *a = sf_pycodec_decode(ex->codec, op->args, op->args_len, err, sizeof err);
    if (!a) {
        tx_fail(tx, "BadRequest", "args: %s", err);
        return NULL;
    }
    if (!PyList_CheckExact(a)) {
        Py_DECREF(a);
        tx_fail(tx, "BadRequest", "field 'args' must be an array");
        return NULL;
    }
    return a;
}

static int encode_result(sf_executor *ex, sf_tx *tx, PyObject *v, sf_buf *result)
{
    char err[512];
    size_t mark = result->len;
    if (sf_pycodec_encode(ex->codec, v, "return value", result, err, sizeof err) < 0) {
        result->len = mark;
        if (result->data)
            result->data[mark] = '\0';
        return tx_fail(tx, "TypeError", "%s", err);
    }
    return 0;
}

static int op_get(sf_executor *ex, sf_tx *tx, int e, const sf_exec_op *op, sf_buf *result)
{
    if (!op->key || op->key_len == 0)
        return tx_fail(tx, "BadRequest", "missing field 'key'");
    sf_store_item it;
    if (!sf_store_get(ex->store, (uint32_t)e, op->key, op->key_len, &it))
        return fail_not_found_key(ex, tx, e, op->key, op->key_len);
    sf_buf_append(result, it.val, it.vallen);
    return 0;
}

static int unknown_method(sf_executor *ex, sf_tx *tx, const sf_pyentity *pe, const char *name,
                          size_t len)
{
    sf_buf *b = &ex->scratch;
    sf_buf_reset(b);
    sf_buf_append(b, name, len);
    return tx_fail(tx, "NotFound", "unknown method '%s.%s'", pe->ir->name, b->data);
}

static int op_call(sf_executor *ex, sf_tx *tx, int e, const sf_exec_op *op, sf_buf *result)
{
    const sf_pyentity *pe = &ex->app->entities[e];
    if (!op->method)
        return tx_fail(tx, "BadRequest", "field 'method' must be a string");
    if (!op->key || op->key_len == 0)
        return tx_fail(tx, "BadRequest", "missing field 'key'");
    int m = sf_pyapp_method_index(pe, op->method, op->method_len);
    if (m < 0 || !client_callable(pe->methods[m].ir))
        return unknown_method(ex, tx, pe, op->method, op->method_len);
    PyObject *args = decode_args(ex, tx, op);
    if (!args)
        return -1;
    int j;
    if (check_args(ex, tx, pe, &pe->methods[m], args) < 0 ||
        inst_load(ex, tx, (j = sf_tx_instance(tx, e, op->key, op->key_len))) < 0 ||
        check_refs(ex, tx, args, 0) < 0) {
        Py_DECREF(args);
        return -1;
    }
    sf_event *ev = &ex->ev;
    sf_event_clear(ev);
    ev->txid = tx->txid;
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = j;
    ev->method = m;
    ev->args = args;
    PyObject *v;
    int st = sf_exec_event(ex, tx, ev, &v);
    if (st != 0) {
        if (st > 0) {
            sf_event_clear(ev);
            return tx_fail(tx, "Unavailable", "instance not local to this process");
        }
        return -1;
    }
    int rc = encode_result(ex, tx, v, result);
    Py_DECREF(v);
    if (rc < 0)
        return -1;
    return sf_tx_commit(ex, tx);
}
/* The key of instance j, just built by __init__: __key__() encoded into kb,
 * and its store hash. Returns 0, or -1 with the transaction failed. */
static int new_instance_key(sf_executor *ex, sf_tx *tx, int e, int j, sf_buf *kb, uint64_t *h)
{
    const sf_pyentity *pe = &ex->app->entities[e];
    PyObject *key = PyObject_CallOneArg(pe->key_fn, tx->insts[j].obj);
    if (!key)
        return tx_fail_py(tx);
    char err[512];
    sf_buf_reset(kb);
    int rc = sf_pycodec_encode(ex->codec, key, "key", kb, err, sizeof err);
    Py_DECREF(key);
    if (rc < 0)
        return tx_fail(tx, "TypeError", "%s", err);
    *h = sf_store_hash((uint32_t)e, kb->data, kb->len);
    return 0;
}


/* A new instance of entity e in tx, without a key yet (*j: its index).
 * args (a list or tuple, borrowed) are __init__'s arguments. A split
 * __init__ becomes the INVOKE in ev on a bare instance (returns 0: run ev);
 * a plain one runs at once, as one step (returns 1). -1 on an error. Runs
 * user code: the caller holds the guard. */
static int construct(sf_executor *ex, sf_tx *tx, int e, PyObject *args, sf_event *ev, int *j)
{
    const sf_pyentity *pe = &ex->app->entities[e];
    const sf_pymethod *init = &pe->methods[pe->init];
    PyObject *o;
    if (init->blocks)
        o = instance_new(ex, pe, NULL);
    else {
        if (count_step(ex, tx) < 0)
            return -1;
        PyObject *t = PyList_Check(args) ? PyList_AsTuple(args) : PySequence_Tuple(args);
        o = t ? PyObject_Call(pe->cls, t, NULL) : NULL;
        Py_XDECREF(t);
    }
    if (!o)
        return tx_fail_py(tx);
    *j = tx_add(tx, e, 0, "", 0, SF_TXI_PENDING | SF_TXI_LOADED | SF_TXI_CREATED);
    tx->insts[*j].obj = o;
    if (!init->blocks)
        return 1;
    ev->txid = tx->txid;
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = *j;
    ev->method = pe->init;
    Py_INCREF(args);
    ev->args = args;
    return 0;
}

static int op_create(sf_executor *ex, sf_tx *tx, int e, const sf_exec_op *op, sf_buf *result)
{
    const sf_pyentity *pe = &ex->app->entities[e];
    if (pe->init < 0)
        return unknown_method(ex, tx, pe, "__init__", 8);
    const sf_pymethod *init = &pe->methods[pe->init];
    PyObject *args = decode_args(ex, tx, op);
    if (!args)
        return -1;
    if (check_args(ex, tx, pe, init, args) < 0 || check_refs(ex, tx, args, 0) < 0) {
        Py_DECREF(args);
        return -1;
    }
    int j;
    sf_event *ev = &ex->ev;
    sf_event_clear(ev);
    int st = construct(ex, tx, e, args, ev, &j);
    Py_DECREF(args);
    if (st < 0)
        return -1;
    if (st == 0) {
        /* split __init__: run its blocks on the bare instance */
        PyObject *v;
        st = sf_exec_event(ex, tx, ev, &v);
        if (st != 0) {
            if (st > 0) {
                sf_event_clear(ev);
                return tx_fail(tx, "Unavailable", "instance not local to this process");
            }
            return -1;
        }
        Py_DECREF(v);
    }
    sf_buf *kb = &ex->scratch;
    uint64_t h;
    if (new_instance_key(ex, tx, e, j, kb, &h) < 0)
        return -1;
    if (tx_find(tx, e, h, kb->data, kb->len) >= 0 ||
        sf_store_get_h(ex->store, h, (uint32_t)e, kb->data, kb->len, NULL)) {
        sf_buf tmp;
        sf_buf_init(&tmp);
        tx_fail(tx, "AlreadyExists", "%s %s already exists", pe->ir->name,
                key_text(&tmp, kb->data, kb->len));
        sf_buf_free(&tmp);
        return -1;
    }
    tx_set_key(tx, j, kb->data, kb->len);
    pack_ref(result, &ex->state, pe->ir->name, kb->data, kb->len);
    return sf_tx_commit(ex, tx);
}

/* {"op": "delete"}: the instance must exist; the reply is null. */
static int op_delete(sf_executor *ex, sf_tx *tx, int e, const sf_exec_op *op, sf_buf *result)
{
    if (!op->key || op->key_len == 0)
        return tx_fail(tx, "BadRequest", "missing field 'key'");
    int j = sf_tx_instance(tx, e, op->key, op->key_len);
    if (inst_load(ex, tx, j) < 0)
        return -1;
    tx->insts[j].flags |= SF_TXI_DELETED | SF_TXI_WRITTEN;
    sf_buf_append(result, "\xc0", 1);
    return sf_tx_commit(ex, tx);
}

static int exec_op_run(sf_executor *ex, const sf_exec_op *op, sf_buf *result, const char **err_type,
                       const char **err_msg)
{
    sf_tx *tx = &ex->tx;
    size_t mark = result->len;
    int e = op->entity ? sf_pyapp_entity_index(ex->app, op->entity, op->entity_len) : -1;
    int rc;
    if (e < 0) {
        sf_buf *b = &ex->scratch;
        sf_buf_reset(b);
        sf_buf_append(b, op->entity ? op->entity : "", op->entity ? op->entity_len : 0);
        rc = tx_fail(tx, "NotFound", "unknown entity '%s'", b->data);
    } else if (op->op == SF_OP_GET)
        rc = op_get(ex, tx, e, op, result);
    else if (op->op == SF_OP_CALL)
        rc = op_call(ex, tx, e, op, result);
    else if (op->op == SF_OP_CREATE)
        rc = op_create(ex, tx, e, op, result);
    else if (op->op == SF_OP_DELETE)
        rc = op_delete(ex, tx, e, op, result);
    else
        rc = tx_fail(tx, "BadRequest", "unknown op");
    if (rc == 0)
        return 0;
    result->len = mark;
    if (result->data)
        result->data[mark] = '\0';
    if (tx->err_type.len == 0)
        tx_fail(tx, "InternalError", "unknown error");
    tx_drop(tx);
    *err_type = tx->err_type.data;
    *err_msg = tx->err_msg.data;
    return -1;
}

int sf_exec_op_run(sf_executor *ex, const sf_exec_op *op, sf_buf *result, const char **err_type,
                   const char **err_msg)
{
    sf_tx *tx = &ex->tx;
    sf_tx_reset(tx, ++ex->next_txid);
    if (guard_enter(ex, tx) < 0) { /* cannot happen: a new transaction has time */
        *err_type = tx->err_type.data;
        *err_msg = tx->err_msg.data;
        return -1;
    }
    int rc = exec_op_run(ex, op, result, err_type, err_msg);
    guard_leave(ex, tx);
    return rc;
}

void sf_executor_set_watchdog(sf_executor *ex, sf_watchdog *w) { ex->watchdog = w; }

int sf_exec_request(sf_executor *ex, const sf_request *req, sf_buf *reply_json)
{
    sf_exec_op op = {
        .op = req->op,
        .entity = req->entity,
        .entity_len = req->entity ? strlen(req->entity) : 0,
        .key = req->key.len ? req->key.data : NULL,
        .key_len = req->key.len,
        .method = req->method,
        .method_len = req->method ? strlen(req->method) : 0,
        .args = req->args.len ? req->args.data : NULL,
        .args_len = req->args.len,
    };
    const char *et, *em;
    sf_buf_reset(&ex->result);
    if (sf_exec_op_run(ex, &op, &ex->result, &et, &em) < 0) {
        sf_reply_error_json(reply_json, req->id_json, et, em);
        return 1;
    }
    return sf_reply_ok_json(reply_json, req->id_json, ex->result.data, ex->result.len) < 0 ? 1 : 0;
}

/* ---- events on the wire ------------------------------------------------- */

/* 2: the transaction's steps and time_ns follow the stack */
#define EVENT_WIRE_VERSION 2
#define EVENT_WIRE_ITEMS 12

static int ev_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ev_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* entity name, key and method name of (inst, method). */
static int put_target(sf_executor *ex, const sf_tx *tx, int inst, int method, sf_buf *out,
                      char *err, size_t errlen)
{
    if (inst < 0 || inst >= tx->ninsts)
        return ev_err(err, errlen, "event names an instance outside its transaction");
    const sf_txinst *t = &tx->insts[inst];
    if (t->flags & SF_TXI_PENDING)
        return ev_err(err, errlen, "event names an instance under construction (no key yet)");
    const sf_pyentity *pe = &ex->app->entities[t->entity];
    if ((method < 0 || method >= pe->nmethods) && method != SF_EXEC_INSTALL && method != SF_EXEC_DELETE)
        return ev_err(err, errlen, "event names a method outside its entity");
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    msgpack_pack_str_with_body(&pk, pe->ir->name, strlen(pe->ir->name));
    sf_buf_append(out, tx->keys.data + t->key_off, t->key_len);
    const char *mn = method == SF_EXEC_INSTALL ? "_sf_install"
                     : method == SF_EXEC_DELETE ? SF_IR_DELETE_METHOD
                                                : pe->methods[method].ir->name;
    msgpack_pack_str_with_body(&pk, mn, strlen(mn));
    return 0;
}

static int put_frame(sf_executor *ex, PyObject *frame, sf_buf *out, char *err, size_t errlen)
{
    if (!frame || !PyDict_CheckExact(frame))
        return ev_err(err, errlen, "event frame is not a dict");
    return sf_pycodec_encode(ex->codec, frame, "frame", out, err, errlen);
}

int sf_event_encode(sf_executor *ex, const sf_tx *tx, const sf_event *ev, sf_buf *out,
                    char *err, size_t errlen)
{
    size_t mark = out->len;
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    msgpack_pack_array(&pk, EVENT_WIRE_ITEMS);
    msgpack_pack_uint64(&pk, EVENT_WIRE_VERSION);
    msgpack_pack_uint64(&pk, ev->txid);
    if (ev->reqid.len)
        sf_buf_append(out, ev->reqid.data, ev->reqid.len);
    else
        msgpack_pack_nil(&pk);
    msgpack_pack_uint64(&pk, (uint64_t)ev->kind);
    if (put_target(ex, tx, ev->inst, ev->method, out, err, errlen) < 0)
        goto fail;
    if (ev->kind == SF_EVENT_INVOKE) {
        msgpack_pack_uint64(&pk, 0);
        PyObject *a = ev->args;
        if (!a || !(PyList_CheckExact(a) || PyTuple_CheckExact(a))) {
            ev_err(err, errlen, "event arguments are not a list or tuple");
            goto fail;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(a);
        msgpack_pack_array(&pk, (size_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            char where[32];
            snprintf(where, sizeof where, "argument %zd", i + 1);
            if (sf_pycodec_encode(ex->codec, PySequence_Fast_GET_ITEM(a, i), where, out, err,
                                  errlen) < 0)
                goto fail;
        }
    } else if (ev->kind == SF_EVENT_RESUME) {
        msgpack_pack_uint64(&pk, (uint64_t)ev->block);
        if (put_frame(ex, ev->frame, out, err, errlen) < 0)
            goto fail;
    } else {
        ev_err(err, errlen, "bad event kind %d", (int)ev->kind);
        goto fail;
    }
    msgpack_pack_array(&pk, (size_t)ev->depth);
    for (int i = 0; i < ev->depth; i++) {
        const sf_cont *c = &ev->stack[i];
        msgpack_pack_array(&pk, 6);
        if (put_target(ex, tx, c->inst, c->method, out, err, errlen) < 0)
            goto fail;
        msgpack_pack_uint64(&pk, (uint64_t)c->block);
        if (c->bind) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(c->bind, &n);
            if (!s) {
                PyErr_Clear();
                ev_err(err, errlen, "continuation bind name is not a string");
                goto fail;
            }
            msgpack_pack_str_with_body(&pk, s, (size_t)n);
        } else
            msgpack_pack_nil(&pk);
        if (put_frame(ex, c->frame, out, err, errlen) < 0)
            goto fail;
    }
    msgpack_pack_uint64(&pk, tx->steps);
    msgpack_pack_uint64(&pk, tx->time_ns);
    return 0;
fail:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

/* Reader state for decoding. */
typedef struct evr {
    const char *d;
    size_t len, pos;
    char *err;
    size_t errlen;
} evr;

static int rd_item(evr *r, sf_mp_item *it, const char *what)
{
    if (sf_mp_read(r->d, r->len, &r->pos, it) < 0)
        return ev_err(r->err, r->errlen, "event: truncated or malformed at %s", what);
    return 0;
}

static int rd_uint(evr *r, uint64_t max, uint64_t *v, const char *what)
{
    sf_mp_item it;
    if (rd_item(r, &it, what) < 0)
        return -1;
    if (it.kind == SF_MP_INT && it.v.i >= 0 && (uint64_t)it.v.i <= max)
        *v = (uint64_t)it.v.i;
    else if (it.kind == SF_MP_UINT && it.v.u <= max)
        *v = it.v.u;
    else
        return ev_err(r->err, r->errlen, "event: %s must be an integer in 0..%llu", what,
                      (unsigned long long)max);
    return 0;
}

/* The span of the next value (not decoded). */
static int rd_span(evr *r, const char **p, size_t *n, const char *what)
{
    char e[128];
    if (r->pos >= r->len || sf_msgpack_value_len(r->d + r->pos, r->len - r->pos, n, e, sizeof e) < 0)
        return ev_err(r->err, r->errlen, "event: bad %s: %s", what,
                      r->pos >= r->len ? "truncated" : e);
    *p = r->d + r->pos;
    r->pos += *n;
    return 0;
}

/* Decode the next value with pycodec. */
static PyObject *rd_py(sf_executor *ex, evr *r, const char *what)
{
    const char *p = NULL;
    size_t n;
    if (rd_span(r, &p, &n, what) < 0)
        return NULL;
    char e[256];
    PyObject *o = sf_pycodec_decode(ex->codec, p, n, e, sizeof e);
    if (!o)
        ev_err(r->err, r->errlen, "event: bad %s: %s", what, e);
    return o;
}

/* entity, key, method -> instance index in tx and method index. */
static int rd_target(sf_executor *ex, sf_tx *tx, evr *r, int *inst, int *method)
{
    sf_mp_item it;
    if (rd_item(r, &it, "entity") < 0)
        return -1;
    if (it.kind != SF_MP_STR)
        return ev_err(r->err, r->errlen, "event: entity must be a string");
    int e = sf_pyapp_entity_index(ex->app, it.data, it.n);
    if (e < 0)
        return ev_err(r->err, r->errlen, "event: unknown entity '%.*s'", (int)(it.n > 64 ? 64 : it.n),
                      it.data);
    const char *kp = NULL;
    size_t kn;
    if (rd_span(r, &kp, &kn, "key") < 0)
        return -1;
    if (rd_item(r, &it, "method") < 0)
        return -1;
    if (it.kind != SF_MP_STR)
        return ev_err(r->err, r->errlen, "event: method must be a string");
    int m = sf_pyapp_method_index(&ex->app->entities[e], it.data, it.n);
    if (m < 0 && it.n == 11 && memcmp(it.data, "_sf_install", 11) == 0)
        m = SF_EXEC_INSTALL;
    else if (m < 0 && it.n == strlen(SF_IR_DELETE_METHOD) && memcmp(it.data, SF_IR_DELETE_METHOD, it.n) == 0)
        m = SF_EXEC_DELETE;
    if (m < 0 && m != SF_EXEC_INSTALL && m != SF_EXEC_DELETE)
        return ev_err(r->err, r->errlen, "event: unknown method '%s.%.*s'",
                      ex->app->entities[e].ir->name, (int)(it.n > 64 ? 64 : it.n), it.data);
    *inst = sf_tx_instance(tx, e, kp, kn);
    *method = m;
    return 0;
}

static int check_block(sf_executor *ex, sf_tx *tx, evr *r, int inst, int method, uint64_t block)
{
    if (method < 0)
        return ev_err(r->err, r->errlen, "event: a lifecycle step has no blocks");
    const sf_pymethod *pm = &ex->app->entities[tx->insts[inst].entity].methods[method];
    if (!pm->blocks)
        return ev_err(r->err, r->errlen, "event: %s is not split into blocks", pm->ir->name);
    if (block >= (uint64_t)pm->nblocks)
        return ev_err(r->err, r->errlen, "event: %s has no block %llu", pm->ir->name,
                      (unsigned long long)block);
    return 0;
}

static PyObject *rd_frame(sf_executor *ex, evr *r)
{
    PyObject *f = rd_py(ex, r, "frame");
    if (f && !PyDict_CheckExact(f)) {
        Py_DECREF(f);
        ev_err(r->err, r->errlen, "event: frame must be a map");
        return NULL;
    }
    return f;
}

int sf_event_decode(sf_executor *ex, sf_tx *tx, const char *data, size_t len, sf_event *ev,
                    char *err, size_t errlen)
{
    sf_event_clear(ev);
    evr r = {data, len, 0, err, errlen};
    sf_mp_item it;
    uint64_t v = 0;
    if (rd_item(&r, &it, "event") < 0)
        return -1;
    if (it.kind != SF_MP_ARRAY || it.n != EVENT_WIRE_ITEMS)
        return ev_err(err, errlen, "event: expected an array of %d items", EVENT_WIRE_ITEMS);
    if (rd_uint(&r, UINT32_MAX, &v, "version") < 0)
        return -1;
    if (v != EVENT_WIRE_VERSION)
        return ev_err(err, errlen, "event: unsupported version %llu", (unsigned long long)v);
    if (rd_uint(&r, UINT64_MAX, &ev->txid, "txid") < 0)
        goto fail;
    const char *p = NULL;
    size_t n;
    if (rd_span(&r, &p, &n, "request id") < 0)
        goto fail;
    if (!(n == 1 && (unsigned char)p[0] == 0xc0))
        sf_buf_append(&ev->reqid, p, n);
    if (rd_uint(&r, 1, &v, "kind") < 0)
        goto fail;
    ev->kind = (sf_event_kind)v;
    if (rd_target(ex, tx, &r, &ev->inst, &ev->method) < 0)
        goto fail;
    if (rd_uint(&r, INT32_MAX, &v, "block") < 0)
        goto fail;
    if (ev->kind == SF_EVENT_INVOKE) {
        if (v != 0) {
            ev_err(err, errlen, "event: an invoke starts at block 0");
            goto fail;
        }
        ev->args = rd_py(ex, &r, "arguments");
        if (!ev->args)
            goto fail;
        if (!PyList_CheckExact(ev->args)) {
            ev_err(err, errlen, "event: arguments must be an array");
            goto fail;
        }
        if (ev->method >= 0 &&
            ex->app->entities[tx->insts[ev->inst].entity].methods[ev->method].ir->flags &
            SF_METHOD_INIT) {
            ev_err(err, errlen, "event: cannot invoke __init__");
            goto fail;
        }
    } else {
        if (check_block(ex, tx, &r, ev->inst, ev->method, v) < 0)
            goto fail;
        ev->block = (int)v;
        if (!(ev->frame = rd_frame(ex, &r)))
            goto fail;
    }
    if (rd_item(&r, &it, "stack") < 0)
        goto fail;
    if (it.kind != SF_MP_ARRAY) {
        ev_err(err, errlen, "event: stack must be an array");
        goto fail;
    }
    if (it.n > (uint32_t)ex->lim.max_depth) {
        ev_err(err, errlen, "event: stack deeper than %d", ex->lim.max_depth);
        goto fail;
    }
    uint32_t depth = it.n;
    for (uint32_t i = 0; i < depth; i++) {
        sf_mp_item c;
        if (rd_item(&r, &c, "continuation") < 0)
            goto fail;
        if (c.kind != SF_MP_ARRAY || c.n != 6) {
            ev_err(err, errlen, "event: a continuation is an array of 6 items");
            goto fail;
        }
        int inst, method;
        if (rd_target(ex, tx, &r, &inst, &method) < 0 || rd_uint(&r, INT32_MAX, &v, "block") < 0 ||
            check_block(ex, tx, &r, inst, method, v) < 0)
            goto fail;
        int block = (int)v;
        sf_mp_item b;
        if (rd_item(&r, &b, "bind") < 0)
            goto fail;
        PyObject *bind = NULL;
        if (b.kind == SF_MP_STR) {
            bind = PyUnicode_DecodeUTF8(b.data, b.n, NULL);
            if (!bind) {
                PyErr_Clear();
                ev_err(err, errlen, "event: bind name is not UTF-8");
                goto fail;
            }
            PyUnicode_InternInPlace(&bind);
        } else if (b.kind != SF_MP_NIL) {
            ev_err(err, errlen, "event: bind must be a string or nil");
            goto fail;
        }
        PyObject *frame = rd_frame(ex, &r);
        if (!frame) {
            Py_XDECREF(bind);
            goto fail;
        }
        event_push(ev, inst, method, block, bind, frame);
        Py_XDECREF(bind);
        Py_DECREF(frame);
    }
    /* the budget the transaction used so far, here and elsewhere */
    uint64_t steps, time_ns;
    if (rd_uint(&r, UINT64_MAX, &steps, "steps") < 0 ||
        rd_uint(&r, UINT64_MAX, &time_ns, "time") < 0)
        goto fail;
    if (r.pos != len) {
        ev_err(err, errlen, "event: %zu trailing bytes", len - r.pos);
        goto fail;
    }
    if (steps > tx->steps)
        tx->steps = steps;
    if (time_ns > tx->time_ns)
        tx->time_ns = time_ns;
    return 0;
fail:
    sf_event_clear(ev);
    return -1;
}

/* ---- client operations in steps (stateflowd) ---------------------------- */

static int op_check(sf_executor *ex, sf_tx *tx, const sf_exec_op *op, PyObject **args_out)
{
    *args_out = NULL;
    int e = op->entity ? sf_pyapp_entity_index(ex->app, op->entity, op->entity_len) : -1;
    if (e < 0) {
        sf_buf *b = &ex->scratch;
        sf_buf_reset(b);
        sf_buf_append(b, op->entity ? op->entity : "", op->entity ? op->entity_len : 0);
        return tx_fail(tx, "NotFound", "unknown entity '%s'", b->data);
    }
    const sf_pyentity *pe = &ex->app->entities[e];
    const sf_pymethod *pm;
    if (op->op == SF_OP_CALL) {
        if (!op->method)
            return tx_fail(tx, "BadRequest", "field 'method' must be a string");
        if (!op->key || op->key_len == 0)
            return tx_fail(tx, "BadRequest", "missing field 'key'");
        int m = sf_pyapp_method_index(pe, op->method, op->method_len);
        if (m < 0 || !client_callable(pe->methods[m].ir))
            return unknown_method(ex, tx, pe, op->method, op->method_len);
        pm = &pe->methods[m];
    } else if (op->op == SF_OP_CREATE) {
        if (pe->init < 0)
            return unknown_method(ex, tx, pe, "__init__", 8);
        pm = &pe->methods[pe->init];
    } else if (op->op == SF_OP_DELETE) {
        if (!op->key || op->key_len == 0)
            return tx_fail(tx, "BadRequest", "missing field 'key'");
        if (inst_load(ex, tx, sf_tx_instance(tx, e, op->key, op->key_len)) < 0)
            return -1;
        *args_out = PyList_New(0);
        return *args_out ? 0 : tx_fail_py(tx);
    } else
        return tx_fail(tx, "BadRequest", "unknown op");
    PyObject *args = decode_args(ex, tx, op);
    if (!args)
        return -1;
    if (check_args(ex, tx, pe, pm, args) < 0 ||
        (op->op == SF_OP_CALL && inst_load(ex, tx, sf_tx_instance(tx, e, op->key, op->key_len)) < 0)) {
        Py_DECREF(args);
        return -1;
    }
    *args_out = args;
    return 0;
}

/* Guarded: loading the target creates an instance (a user __new__ runs). */
int sf_exec_op_check(sf_executor *ex, sf_tx *tx, const sf_exec_op *op, PyObject **args_out)
{
    *args_out = NULL;
    if (guard_enter(ex, tx) < 0)
        return -1;
    int rc = op_check(ex, tx, op, args_out);
    guard_leave(ex, tx);
    return rc;
}

/* Depth first, left to right, as check_refs visits them. */
static int collect_refs(sf_executor *ex, sf_tx *tx, PyObject *v, int depth, sf_buf *out,
                        uint32_t *n)
{
    if (depth > SF_VALUE_MAX_DEPTH + 1)
        return 0;
    if (PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
        Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < len; i++)
            if (collect_refs(ex, tx, PySequence_Fast_GET_ITEM(v, i), depth + 1, out, n) < 0)
                return -1;
        return 0;
    }
    if (PyDict_CheckExact(v)) {
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        while (PyDict_Next(v, &pos, &k, &x))
            if (collect_refs(ex, tx, x, depth + 1, out, n) < 0)
                return -1;
        return 0;
    }
    if (!sf_pycodec_is_ref(ex->codec, v))
        return 0;
    const char *en = sf_pycodec_ref_entity(v);
    char err[256];
    size_t mark = out->len;
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, en, strlen(en));
    if (sf_pycodec_encode(ex->codec, sf_pycodec_ref_key(v), "key", out, err, sizeof err) < 0) {
        out->len = mark;
        return tx_fail(tx, "BadRequest", "%s", err);
    }
    (*n)++;
    return 0;
}

int sf_exec_arg_refs(sf_executor *ex, sf_tx *tx, PyObject *args, sf_buf *out)
{
    sf_buf items;
    sf_buf_init(&items);
    uint32_t n = 0;
    int rc = collect_refs(ex, tx, args, 0, &items, &n);
    if (rc == 0) {
        msgpack_packer pk;
        sf_buf_packer_init(&pk, out);
        msgpack_pack_array(&pk, n);
        sf_buf_append(out, items.data, items.len);
    }
    sf_buf_free(&items);
    return rc;
}

int sf_exec_op_start(sf_executor *ex, sf_tx *tx, const sf_exec_op *op, PyObject *args,
                     sf_event *ev, int *created)
{
    *created = -1;
    sf_event_clear(ev);
    int e = op->entity ? sf_pyapp_entity_index(ex->app, op->entity, op->entity_len) : -1;
    if (e < 0)
        return tx_fail(tx, "NotFound", "unknown entity");
    const sf_pyentity *pe = &ex->app->entities[e];
    if (op->op == SF_OP_CALL) {
        int m = op->method ? sf_pyapp_method_index(pe, op->method, op->method_len) : -1;
        if (m < 0 || !op->key)
            return tx_fail(tx, "NotFound", "unknown method");
        ev->txid = tx->txid;
        ev->kind = SF_EVENT_INVOKE;
        ev->inst = sf_tx_instance(tx, e, op->key, op->key_len);
        ev->method = m;
        Py_INCREF(args);
        ev->args = args;
        return 0;
    }
    if (op->op == SF_OP_DELETE && op->key) {
        ev->txid = tx->txid;
        ev->kind = SF_EVENT_INVOKE;
        ev->inst = sf_tx_instance(tx, e, op->key, op->key_len);
        ev->method = SF_EXEC_DELETE;
        Py_INCREF(args);
        ev->args = args;
        return 0;
    }
    if (op->op != SF_OP_CREATE || pe->init < 0)
        return tx_fail(tx, "BadRequest", "unknown op");
    if (guard_enter(ex, tx) < 0)
        return -1;
    int st = construct(ex, tx, e, args, ev, created);
    guard_leave(ex, tx);
    return st;
}

int sf_exec_create_take(sf_executor *ex, sf_tx *tx, int j, sf_buf *key_out, sf_buf *state_out)
{
    if (j < 0 || j >= tx->ninsts || !(tx->insts[j].flags & SF_TXI_PENDING) ||
        !(tx->insts[j].flags & SF_TXI_LOADED))
        return tx_fail(tx, "InternalError", "no instance under construction");
    int e = tx->insts[j].entity;
    const sf_pyentity *pe = &ex->app->entities[e];
    sf_buf *kb = &ex->scratch;
    uint64_t h;
    if (guard_enter(ex, tx) < 0)
        return -1;
    int rc = new_instance_key(ex, tx, e, j, kb, &h);
    guard_leave(ex, tx);
    if (rc < 0)
        return -1;
    if (tx_find(tx, e, h, kb->data, kb->len) >= 0) {
        sf_buf tmp;
        sf_buf_init(&tmp);
        tx_fail(tx, "AlreadyExists", "%s %s already exists", pe->ir->name,
                key_text(&tmp, kb->data, kb->len));
        sf_buf_free(&tmp);
        return -1;
    }
    sf_buf_append(key_out, kb->data, kb->len);
    /* The key names the instance in messages about its state. */
    tx_set_key(tx, j, kb->data, kb->len);
    int st = 0;
    if (encode_state(ex, tx, j, state_out) < 0)
        st = 1;
    /* Leave a tombstone: the instance now lives at its owner (sf_tx_install). */
    sf_txinst *t = &tx->insts[j];
    Py_CLEAR(t->obj);
    t->flags = SF_TXI_PENDING;
    return st;
}

static int tx_install(sf_executor *ex, sf_tx *tx, int entity, const char *key, size_t keylen,
                      const char *state, size_t statelen)
{
    if (entity < 0 || entity >= ex->app->nentities)
        return tx_fail(tx, "NotFound", "unknown entity");
    const sf_pyentity *pe = &ex->app->entities[entity];
    uint64_t h = sf_store_hash((uint32_t)entity, key, keylen);
    if (tx_find(tx, entity, h, key, keylen) >= 0 ||
        sf_store_get_h(ex->store, h, (uint32_t)entity, key, keylen, NULL)) {
        sf_tx_instance(tx, entity, key, keylen); /* what it read */
        sf_buf tmp;
        sf_buf_init(&tmp);
        tx_fail(tx, "AlreadyExists", "%s %s already exists", pe->ir->name,
                key_text(&tmp, key, keylen));
        sf_buf_free(&tmp);
        return -1;
    }
    if (!state)
        return 0;
    char err[256];
    PyObject *d = sf_pycodec_decode(ex->codec, state, statelen, err, sizeof err);
    if (!d)
        return tx_fail(tx, "InternalError", "state of a new %s is unreadable: %s", pe->ir->name, err);
    if (!PyDict_CheckExact(d)) {
        Py_DECREF(d);
        return tx_fail(tx, "InternalError", "state of a new %s is not a map", pe->ir->name);
    }
    PyObject *o = instance_new(ex, pe, d);
    Py_DECREF(d);
    if (!o)
        return tx_fail_py(tx);
    int j = tx_add(tx, entity, h, key, keylen, SF_TXI_LOADED | SF_TXI_CREATED);
    tx->insts[j].obj = o;
    return 0;
}

/* Guarded: the new instance is created (a user __new__ runs). */
int sf_tx_install(sf_executor *ex, sf_tx *tx, int entity, const char *key, size_t keylen,
                  const char *state, size_t statelen)
{
    if (guard_enter(ex, tx) < 0)
        return -1;
    int rc = tx_install(ex, tx, entity, key, keylen, state, statelen);
    guard_leave(ex, tx);
    return rc;
}
