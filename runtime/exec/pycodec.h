/* pycodec.h: converts between msgpack (sf_value.h) and Python objects, for
 * the executor's embedded CPython.
 *
 * Encodable: None, bool, int (signed 64-bit; unsigned up to 2^64-1 is NOT
 * accepted, so values round-trip exactly), float, str, bytes, list, tuple,
 * dict (any encodable keys), set, frozenset (decoded as set), and Ref (the
 * reference type this module creates). Anything else, or an int beyond 64
 * bits, or nesting deeper than SF_VALUE_MAX_DEPTH, is an error whose message
 * names where the value sits, e.g. "attribute 'conn': cannot store a value of
 * type 'socket'" or "argument 2: int too large (more than 64 bits)".
 *
 * Requires the GIL (the executor holds it). Sets are encoded in a canonical
 * order (sorted by their encoded bytes) so equal states encode identically.
 *
 * Only exact types are stored: subclasses (OrderedDict, defaultdict, an
 * IntEnum) are refused like any other type. Paths in messages: "[3]" list or
 * tuple index, "['x']" dict value, " (a dict key)", " (a set element)",
 * ".key" a Ref's key; e.g. "attribute 'items'[3]['x']: cannot store a value
 * of type 'function'". Decoding gives exact types; in hashable positions
 * (dict keys, set elements) sets come back as frozensets. Decode errors
 * start with "msgpack: " and give the byte offset.
 *
 * Ref (type name "stateflow.Ref"): Ref(entity, key); read-only .entity and
 * .key; == and hash by (entity, key); repr "Ref('Item', 'apple')";
 * copy.copy/deepcopy return the same object; pickling is refused.
 */
#ifndef SF_RUNTIME_PYCODEC_H
#define SF_RUNTIME_PYCODEC_H

#include <Python.h>
#include <stddef.h>

#include "stateflow/sf_buf.h"

typedef struct sf_pycodec {
    PyTypeObject *ref_type;   /* the Ref type (heap type, owned) */
} sf_pycodec;

/* Create the Ref type. Returns 0, or -1 with a Python exception set. */
int sf_pycodec_init(sf_pycodec *c);
void sf_pycodec_fini(sf_pycodec *c);

/* A new Ref(entity, key); key is any encodable value. New reference. */
PyObject *sf_pycodec_ref_new(sf_pycodec *c, const char *entity, PyObject *key);
int sf_pycodec_is_ref(sf_pycodec *c, PyObject *o);
/* Borrowed fields of a Ref. */
const char *sf_pycodec_ref_entity(PyObject *ref);
PyObject *sf_pycodec_ref_key(PyObject *ref);

/* Append the msgpack encoding of o to out. `where` names the value for error
 * messages ("attribute 'balance'", "argument 1", "return value").
 * Returns 0, or -1 with a message in err (no Python exception left set). */
int sf_pycodec_encode(sf_pycodec *c, PyObject *o, const char *where, sf_buf *out,
                      char *err, size_t errlen);

/* Decode exactly one msgpack value from data[0..len). New reference, or NULL
 * with a message in err (no Python exception left set). Trailing bytes are
 * an error. */
PyObject *sf_pycodec_decode(sf_pycodec *c, const char *data, size_t len, char *err,
                            size_t errlen);

/* Like sf_pycodec_decode, but the value may be followed by more bytes: the
 * length of the value is stored in *used. */
PyObject *sf_pycodec_decode_prefix(sf_pycodec *c, const char *data, size_t len, size_t *used, char *err,
                                   size_t errlen);

#endif
