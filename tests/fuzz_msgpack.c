/* fuzz_msgpack.c: libFuzzer target for the msgpack side of the value codecs:
 * sf_msgpack_to_json and sf_msgpack_value_len (runtime/wire/json.c) and the
 * Python decoder/encoder (runtime/exec/pycodec.c) in an embedded interpreter
 * started once. Any input must decode or say why; what the Python decoder
 * accepts the JSON writer accepts too; a decoded value encodes again, and
 * that encoding is stable (decode + encode gives the same bytes); JSON
 * written from msgpack is valid JSON. The values beyond JSON (ext 4-13)
 * decode against a small stand-in application module (an Enum, a Flag, two
 * dataclasses).
 *
 * Run: build-fuzz/fuzz/fuzz_msgpack tests/fuzz/corpus_msgpack
 * CPython keeps caches that look like leaks to LeakSanitizer: allocations
 * made inside libpython are suppressed below (ours are still checked). */
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pycodec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void) { return "leak:libpython3.11.so\n"; }
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The interpreter and the codec live for the whole fuzzing process. */
static sf_pycodec fuzz_codec;
static int fuzz_python_ok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
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
        fprintf(stderr, "fuzz_msgpack: cannot start python\n");
        abort();
    }
    if (sf_pycodec_init(&fuzz_codec) < 0)
        abort();
    /* a stand-in application module, so that Enum and dataclass payloads
     * (the corpus has some) reach the class lookup and rebuilding */
    PyObject *app = PyImport_AddModule("app"); /* borrowed */
    PyObject *g = app ? PyModule_GetDict(app) : NULL;
    PyObject *r = g ? PyRun_String("import enum, dataclasses, decimal\n"
                                   "class Color(enum.Enum):\n    RED = 1\n    BLUE = (2, 'b')\n"
                                   "class Perm(enum.Flag):\n    R = 4\n    W = 2\n"
                                   "@dataclasses.dataclass(frozen=True)\n"
                                   "class Money:\n    amount: decimal.Decimal\n    currency: str = 'EUR'\n"
                                   "@dataclasses.dataclass\nclass Line:\n    sku: str\n    qty: int = 0\n",
                                   Py_file_input, g, g)
                        : NULL;
    if (!r)
        abort();
    Py_DECREF(r);
    sf_pycodec_set_module(&fuzz_codec, app);
    fuzz_python_ok = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char err[512];
    sf_buf js, back;
    sf_buf_init(&js);
    sf_buf_init(&back);

    err[0] = '\0';
    int json_ok = sf_msgpack_to_json(in, size, &js, err, sizeof err) == 0;
    if (json_ok) {
        size_t vlen = 0;
        if (sf_msgpack_value_len(in, size, &vlen, err, sizeof err) != 0 || vlen != size)
            abort();
        if (sf_json_to_msgpack_ex(js.data, js.len, SF_JSON_PLAIN, &back, err, sizeof err) != 0) {
            fprintf(stderr, "written JSON does not parse: %s\n%s\n", err, js.data);
            abort();
        }
    } else if (err[0] == '\0') {
        abort();
    }

    if (fuzz_python_ok) {
        err[0] = '\0';
        PyObject *v = sf_pycodec_decode(&fuzz_codec, in, size, err, sizeof err);
        if (PyErr_Occurred())
            abort();
        if (v) {
            if (!json_ok) {
                fprintf(stderr, "the Python decoder accepts what the JSON writer refuses\n");
                abort();
            }
            sf_buf e1, e2;
            sf_buf_init(&e1);
            sf_buf_init(&e2);
            if (sf_pycodec_encode(&fuzz_codec, v, "value", &e1, err, sizeof err) != 0) {
                fprintf(stderr, "decoded value does not encode: %s\n", err);
                abort();
            }
            PyObject *v2 = sf_pycodec_decode(&fuzz_codec, e1.data, e1.len, err, sizeof err);
            if (!v2) {
                fprintf(stderr, "re-encoded value does not decode: %s\n", err);
                abort();
            }
            if (sf_pycodec_encode(&fuzz_codec, v2, "value", &e2, err, sizeof err) != 0 || e1.len != e2.len ||
                memcmp(e1.data, e2.data, e1.len) != 0) {
                fprintf(stderr, "encoding is not stable\n");
                abort();
            }
            Py_DECREF(v2);
            Py_DECREF(v);
            sf_buf_free(&e1);
            sf_buf_free(&e2);
        } else if (err[0] == '\0') {
            abort();
        }
    }
    sf_buf_free(&js);
    sf_buf_free(&back);
    return 0;
}
