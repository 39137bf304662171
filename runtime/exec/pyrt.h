/* pyrt.h: the runtime's embedded CPython and the loaded application.
 *
 * sf_pyrt_start starts the one interpreter of a runtime process with an
 * isolated configuration: the environment (PYTHON* variables, user site) is
 * ignored, no site-packages are imported, bytecode is never written, and hash
 * randomisation is OFF (hash seed 0) so that set and dict orders are the same
 * in every process and on every replay. The calling thread keeps the GIL.
 *
 * sf_pyapp_load compiles the IR's generated module (docs/ir.md) under the
 * IR's filename, executes it into a fresh module named ir->module (registered
 * in sys.modules), and resolves up front every entity class, its __key__,
 * every non-split method and every block function of every split method.
 * Anything missing or not callable is a load error naming it, so nothing is
 * looked up by name while requests run.
 *
 * Default values of a split method's parameters: block 0 expects every
 * parameter in its frame, so the runtime fills omitted trailing arguments
 * from the __defaults__ of a function of the same name left in the class
 * (the original method or a stub keeping its signature), evaluated once when
 * the module ran, exactly like Python's own defaults. When the class has no
 * such function, the signature is taken from the original source
 * (ir->source) and its defaults evaluated once at load time, in the
 * generated module's globals with the class namespace in front.
 */
#ifndef SF_RUNTIME_PYRT_H
#define SF_RUNTIME_PYRT_H

#include <Python.h>
#include <stddef.h>

#include "stateflow/sf_buf.h"
#include "stateflow/sf_ir.h"

enum {
    /* Point sys.stdout at sys.stderr, so user print() calls cannot corrupt a
     * protocol written on stdout (sfrun). */
    SF_PYRT_STDOUT_TO_STDERR = 1 << 0,
};

/* Start the interpreter (flags: SF_PYRT_*). Returns 0, or -1 with a message.
 * If an interpreter is already running in this process it is reused as is
 * (the flags are still applied). */
int sf_pyrt_start(unsigned flags, char *err, size_t errlen);
/* Finalize the interpreter started by sf_pyrt_start. */
void sf_pyrt_stop(void);

/* The current Python exception as type name and message (str(e), or "" when
 * str() fails); the exception is cleared. type and msg are reset first.
 * With no exception set: "SystemError" / "unknown error". */
void sf_pyrt_fetch_error(sf_buf *type, sf_buf *msg);
/* Same, formatted "Type: message" into err (for load errors). */
void sf_pyrt_error_string(char *err, size_t errlen);

/* ---- the loaded application --------------------------------------------- */

typedef struct sf_pymethod {
    const sf_ir_method *ir;
    PyObject *name;        /* interned method name */
    PyObject *fn;          /* non-split methods: the function (called with self first) */
    PyObject **blocks;     /* split methods: the block function of block id i */
    int nblocks;
    PyObject **params;     /* interned parameter names (without self) */
    int nparams;
    int nrequired;         /* leading parameters without a default */
    PyObject *defaults;    /* split methods: default values of the last
                            * len(defaults) parameters, or NULL (see below) */
} sf_pymethod;

typedef struct sf_pyentity {
    const sf_ir_entity *ir;
    PyObject *cls;         /* the class */
    PyObject *name;        /* interned entity name */
    PyObject *key_fn;      /* cls.__key__ */
    sf_pymethod *methods;  /* parallel to ir->methods */
    int nmethods;
    int init;              /* index of __init__ in methods, or -1 */
} sf_pyentity;

typedef struct sf_pyapp {
    const sf_ir *ir;
    PyObject *module;
    sf_pyentity *entities; /* parallel to ir->entities */
    int nentities;
} sf_pyapp;

/* Load ir's generated module (the interpreter must be running; the IR must
 * outlive the app). Returns NULL with a message in err. */
sf_pyapp *sf_pyapp_load(const sf_ir *ir, char *err, size_t errlen);
void sf_pyapp_free(sf_pyapp *app);

/* Index of an entity / a method by name, or -1. */
int sf_pyapp_entity_index(const sf_pyapp *app, const char *name, size_t len);
int sf_pyapp_method_index(const sf_pyentity *e, const char *name, size_t len);

#endif
