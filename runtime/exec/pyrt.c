/* pyrt.c: starts the runtime's embedded CPython (isolated, hash seed 0) and
 * loads an IR's generated module, resolving every class, method and block
 * function once (see pyrt.h). */
#include "pyrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_util.h"

/* ---- interpreter -------------------------------------------------------- */

static int apply_flags(unsigned flags, char *err, size_t errlen)
{
    if (flags & SF_PYRT_STDOUT_TO_STDERR) {
        PyObject *e = PySys_GetObject("stderr"); /* borrowed */
        if (!e || PySys_SetObject("stdout", e) < 0) {
            PyErr_Clear();
            sf_set_err(err, errlen, "python: cannot redirect sys.stdout");
            return -1;
        }
    }
    return 0;
}

int sf_pyrt_start(unsigned flags, char *err, size_t errlen)
{
    if (Py_IsInitialized())
        return apply_flags(flags, err, errlen);

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.use_hash_seed = 1;
    config.hash_seed = 0;
    config.site_import = 0;
    config.write_bytecode = 0;
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.user_site_directory = 0;
    /* Debian's interpreter: its path anchors the search for the standard
     * library at /usr/lib/python3.11, whatever else is on PATH. */
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        sf_set_err(err, errlen, "python: cannot start the interpreter: %s%s%s",
                st.func ? st.func : "", st.func ? ": " : "", st.err_msg ? st.err_msg : "error");
        return -1;
    }
    return apply_flags(flags, err, errlen);
}

void sf_pyrt_stop(void)
{
    if (Py_IsInitialized())
        Py_FinalizeEx();
}

static void put_str(sf_buf *b, PyObject *s, const char *fallback)
{
    Py_ssize_t n = 0;
    const char *u = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (u)
        sf_buf_append(b, u, (size_t)n);
    else {
        PyErr_Clear();
        sf_buf_puts(b, fallback);
    }
}

void sf_pyrt_fetch_error(sf_buf *type, sf_buf *msg)
{
    sf_buf_reset(type);
    sf_buf_reset(msg);
    PyObject *et = NULL, *exc = NULL, *tb = NULL;
    PyErr_Fetch(&et, &exc, &tb);
    if (!et) {
        sf_buf_puts(type, "SystemError");
        sf_buf_puts(msg, "unknown error");
        return;
    }
    PyErr_NormalizeException(&et, &exc, &tb);
    Py_XDECREF(tb);
    Py_XDECREF(et);
    if (!exc) {
        PyErr_Clear();
        sf_buf_puts(type, "SystemError");
        sf_buf_puts(msg, "unknown error");
        return;
    }
    sf_buf_puts(type, Py_TYPE(exc)->tp_name ? Py_TYPE(exc)->tp_name : "Exception");
    /* tp_name of a heap type is its __name__; a static type may carry a
     * module prefix ("socket.timeout"): keep what follows the last dot, as
     * type(e).__name__ does. */
    char *dot = strrchr(type->data, '.');
    if (dot) {
        size_t n = strlen(dot + 1);
        memmove(type->data, dot + 1, n + 1);
        type->len = n;
    }
    PyObject *s = PyObject_Str(exc);
    if (!s)
        PyErr_Clear();
    put_str(msg, s, "");
    Py_XDECREF(s);
    Py_DECREF(exc);
}

void sf_pyrt_error_string(char *err, size_t errlen)
{
    sf_buf t, m;
    sf_buf_init(&t);
    sf_buf_init(&m);
    sf_pyrt_fetch_error(&t, &m);
    sf_set_err(err, errlen, "%s%s%s", t.data, m.len ? ": " : "", m.data);
    sf_buf_free(&t);
    sf_buf_free(&m);
}

/* ---- the application ---------------------------------------------------- */

static PyObject *intern(const char *s)
{
    return PyUnicode_InternFromString(s);
}

static void free_method(sf_pymethod *m)
{
    Py_XDECREF(m->name);
    Py_XDECREF(m->fn);
    Py_XDECREF(m->defaults);
    for (int i = 0; i < m->nblocks; i++)
        Py_XDECREF(m->blocks[i]);
    free(m->blocks);
    for (int i = 0; i < m->nparams; i++)
        Py_XDECREF(m->params[i]);
    free(m->params);
}

void sf_pyapp_free(sf_pyapp *app)
{
    if (!app)
        return;
    for (int i = 0; i < app->nentities; i++) {
        sf_pyentity *e = &app->entities[i];
        for (int j = 0; j < e->nmethods; j++)
            free_method(&e->methods[j]);
        free(e->methods);
        Py_XDECREF(e->cls);
        Py_XDECREF(e->name);
        Py_XDECREF(e->key_fn);
    }
    free(app->entities);
    if (app->module && app->ir && app->ir->module) {
        PyObject *mods = PyImport_GetModuleDict(); /* borrowed */
        PyObject *cur = mods ? PyDict_GetItemString(mods, app->ir->module) : NULL;
        if (cur == app->module)
            PyDict_DelItemString(mods, app->ir->module);
        PyErr_Clear();
    }
    Py_XDECREF(app->module);
    free(app);
}

/* Execute the generated module. */
static PyObject *exec_module(const sf_ir *ir, char *err, size_t errlen)
{
    const char *filename = ir->filename && *ir->filename ? ir->filename : "<stateflow>";
    PyObject *code = Py_CompileStringExFlags(ir->python, filename, Py_file_input, NULL, -1);
    if (!code) {
        char msg[512];
        sf_pyrt_error_string(msg, sizeof msg);
        sf_set_err(err, errlen, "%s: generated module does not compile: %s", filename, msg);
        return NULL;
    }
    PyObject *mod = PyModule_New(ir->module);
    PyObject *mods = PyImport_GetModuleDict();
    if (!mod || !mods) {
        Py_DECREF(code);
        Py_XDECREF(mod);
        sf_pyrt_error_string(err, errlen);
        return NULL;
    }
    PyObject *d = PyModule_GetDict(mod); /* borrowed */
    PyObject *fn = PyUnicode_FromString(filename);
    int bad = !fn || PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0 ||
              PyDict_SetItemString(d, "__file__", fn) < 0 ||
              PyDict_SetItemString(mods, ir->module, mod) < 0;
    Py_XDECREF(fn);
    if (bad) {
        Py_DECREF(code);
        Py_DECREF(mod);
        sf_pyrt_error_string(err, errlen);
        return NULL;
    }
    PyObject *r = PyEval_EvalCode(code, d, d);
    Py_DECREF(code);
    if (!r) {
        char msg[512];
        sf_pyrt_error_string(msg, sizeof msg);
        sf_set_err(err, errlen, "%s: executing the generated module failed: %s", filename, msg);
        PyDict_DelItemString(mods, ir->module);
        PyErr_Clear();
        Py_DECREF(mod);
        return NULL;
    }
    Py_DECREF(r);
    return mod;
}

static int load_method(const sf_ir *ir, const sf_pyentity *pe, PyObject *mod, sf_pymethod *pm,
                       char *err, size_t errlen)
{
    const sf_ir_method *m = pm->ir;
    const char *ename = pe->ir->name;
    if (!m->name || !*m->name) {
        sf_set_err(err, errlen, "entity %s: a method has no name", ename);
        return -1;
    }
    if (!(pm->name = intern(m->name)))
        goto pyfail;
    if (m->nparams < 0) {
        sf_set_err(err, errlen, "%s.%s: bad parameter count", ename, m->name);
        return -1;
    }
    pm->params = sf_xcalloc((size_t)m->nparams, sizeof(PyObject *));
    pm->nparams = m->nparams;
    pm->nrequired = 0;
    int seen_default = 0;
    for (int i = 0; i < m->nparams; i++) {
        const char *pn = m->params[i].name;
        if (!pn || !*pn) {
            sf_set_err(err, errlen, "%s.%s: parameter %d has no name", ename, m->name, i + 1);
            return -1;
        }
        if (!(pm->params[i] = intern(pn)))
            goto pyfail;
        if (m->params[i].has_default)
            seen_default = 1;
        else if (seen_default) {
            sf_set_err(err, errlen, "%s.%s: parameter '%s' without a default follows one with a default",
                    ename, m->name, pn);
            return -1;
        } else
            pm->nrequired++;
    }
    if (!(m->flags & SF_METHOD_SPLIT)) {
        pm->fn = PyObject_GetAttr(pe->cls, pm->name);
        if (!pm->fn) {
            PyErr_Clear();
            sf_set_err(err, errlen, "%s: generated module: class %s has no method '%s'",
                    ir->filename ? ir->filename : "?", ename, m->name);
            return -1;
        }
        if (!PyCallable_Check(pm->fn)) {
            sf_set_err(err, errlen, "%s: generated module: %s.%s is not callable",
                    ir->filename ? ir->filename : "?", ename, m->name);
            return -1;
        }
        return 0;
    }
    if (m->nblocks <= 0) {
        sf_set_err(err, errlen, "%s.%s: split method without blocks", ename, m->name);
        return -1;
    }
    /* Defaults of the parameters: sfc leaves a stub with the original
     * signature in the class (its defaults were evaluated once, at class
     * creation, as Python does). */
    if (pm->nrequired < pm->nparams) {
        PyObject *orig = PyObject_GetAttr(pe->cls, pm->name);
        if (!orig)
            PyErr_Clear();
        else {
            if (PyFunction_Check(orig)) {
                PyObject *d = PyFunction_GetDefaults(orig); /* borrowed */
                if (d && PyTuple_Check(d)) {
                    Py_INCREF(d);
                    pm->defaults = d;
                }
            }
            Py_DECREF(orig);
        }
        if (!pm->defaults) {
            sf_set_err(err, errlen, "%s.%s: the class has no function of that name to take the default values from (recompile with this sfc)",
                    ename, m->name);
            return -1;
        }
        if (pm->defaults && PyTuple_GET_SIZE(pm->defaults) > m->nparams - pm->nrequired) {
            sf_set_err(err, errlen, "%s.%s: %zd default values for %d optional parameters", ename,
                    m->name, PyTuple_GET_SIZE(pm->defaults), m->nparams - pm->nrequired);
            return -1;
        }
    }
    pm->blocks = sf_xcalloc((size_t)m->nblocks, sizeof(PyObject *));
    pm->nblocks = m->nblocks;
    for (int i = 0; i < m->nblocks; i++) {
        const sf_ir_block *b = &m->blocks[i];
        if (b->id < 0 || b->id >= m->nblocks || pm->blocks[b->id]) {
            sf_set_err(err, errlen, "%s.%s: block ids must be 0..%d, each once (got %d)", ename,
                    m->name, m->nblocks - 1, b->id);
            return -1;
        }
        if (!b->function || !*b->function) {
            sf_set_err(err, errlen, "%s.%s: block %d has no function", ename, m->name, b->id);
            return -1;
        }
        PyObject *f = PyObject_GetAttrString(mod, b->function);
        if (!f) {
            PyErr_Clear();
            sf_set_err(err, errlen, "%s: generated module has no block function '%s' (%s.%s block %d)",
                    ir->filename ? ir->filename : "?", b->function, ename, m->name, b->id);
            return -1;
        }
        if (!PyCallable_Check(f)) {
            Py_DECREF(f);
            sf_set_err(err, errlen, "%s: generated module: block function '%s' is not callable",
                    ir->filename ? ir->filename : "?", b->function);
            return -1;
        }
        pm->blocks[b->id] = f;
    }
    return 0;
pyfail:
    sf_pyrt_error_string(err, errlen);
    return -1;
}

sf_pyapp *sf_pyapp_load(const sf_ir *ir, char *err, size_t errlen)
{
    if (!Py_IsInitialized()) {
        sf_set_err(err, errlen, "python: the interpreter is not running");
        return NULL;
    }
    if (!ir || !ir->python || !ir->module || !*ir->module) {
        sf_set_err(err, errlen, "IR has no generated module");
        return NULL;
    }
    if (ir->nentities < 0 || (ir->nentities > 0 && !ir->entities)) {
        sf_set_err(err, errlen, "IR: bad entity table");
        return NULL;
    }
    sf_pyapp *app = sf_xcalloc(1, sizeof(*app));
    app->ir = ir;
    app->module = exec_module(ir, err, errlen);
    if (!app->module)
        goto fail;
    app->entities = sf_xcalloc((size_t)ir->nentities, sizeof(sf_pyentity));
    app->nentities = ir->nentities;
    for (int i = 0; i < ir->nentities; i++) {
        const sf_ir_entity *e = &ir->entities[i];
        sf_pyentity *pe = &app->entities[i];
        pe->ir = e;
        pe->init = -1;
        if (!e->name || !*e->name) {
            sf_set_err(err, errlen, "IR: entity %d has no name", i);
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(ir->entities[j].name, e->name) == 0) {
                sf_set_err(err, errlen, "IR: entity %s defined twice", e->name);
                goto fail;
            }
        if (!(pe->name = intern(e->name)))
            goto pyfail;
        pe->cls = PyObject_GetAttr(app->module, pe->name);
        if (!pe->cls) {
            PyErr_Clear();
            sf_set_err(err, errlen, "%s: generated module has no class '%s'",
                    ir->filename ? ir->filename : "?", e->name);
            goto fail;
        }
        if (!PyType_Check(pe->cls)) {
            sf_set_err(err, errlen, "%s: generated module: '%s' is not a class",
                    ir->filename ? ir->filename : "?", e->name);
            goto fail;
        }
        pe->key_fn = PyObject_GetAttrString(pe->cls, "__key__");
        if (!pe->key_fn || !PyCallable_Check(pe->key_fn)) {
            PyErr_Clear();
            sf_set_err(err, errlen, "%s: generated module: class %s has no __key__ method",
                    ir->filename ? ir->filename : "?", e->name);
            goto fail;
        }
        if (e->nmethods < 0 || (e->nmethods > 0 && !e->methods)) {
            sf_set_err(err, errlen, "IR: entity %s: bad method table", e->name);
            goto fail;
        }
        pe->methods = sf_xcalloc((size_t)e->nmethods, sizeof(sf_pymethod));
        pe->nmethods = e->nmethods;
        for (int j = 0; j < e->nmethods; j++) {
            pe->methods[j].ir = &e->methods[j];
            if (load_method(ir, pe, app->module, &pe->methods[j], err, errlen) < 0)
                goto fail;
            if (e->methods[j].flags & SF_METHOD_INIT)
                pe->init = j;
        }
    }
    return app;
pyfail:
    sf_pyrt_error_string(err, errlen);
fail:
    sf_pyapp_free(app);
    return NULL;
}

int sf_pyapp_entity_index(const sf_pyapp *app, const char *name, size_t len)
{
    for (int i = 0; i < app->nentities; i++) {
        const char *n = app->entities[i].ir->name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return i;
    }
    return -1;
}

int sf_pyapp_method_index(const sf_pyentity *e, const char *name, size_t len)
{
    for (int i = 0; i < e->nmethods; i++) {
        const char *n = e->methods[i].ir->name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return i;
    }
    return -1;
}
