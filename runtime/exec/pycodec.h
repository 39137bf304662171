/* pycodec.h: converts between msgpack (sf_value.h) and Python objects, for
 * the executor's embedded CPython.
 *
 * Encodable: None, bool, int (any size up to SF_VALUE_MAX_INT_DIGITS decimal
 * digits; outside int64 as SF_EXT_BIGINT), float, str, bytes, bytearray,
 * list, tuple, dict (any encodable keys), set, frozenset (kept a frozenset),
 * Ref (the reference type this module creates), datetime.datetime / date /
 * time / timedelta (tzinfo: datetime.timezone or zoneinfo.ZoneInfo with a
 * key), decimal.Decimal, and Enum members and dataclass instances whose
 * class is reachable by its __qualname__ from the application's module
 * (sf_pycodec_set_module). docs/ir.md "Value encoding" has the ext table.
 * Anything else, or nesting deeper than SF_VALUE_MAX_DEPTH, is an error
 * whose message names where the value sits, e.g. "attribute 'conn': cannot
 * store a value of type 'socket'".
 *
 * Requires the GIL (the executor holds it). Sets and frozensets are encoded
 * in a canonical order (sorted by their encoded bytes) so equal states
 * encode identically.
 *
 * Only exact types are stored: subclasses (OrderedDict, defaultdict, a
 * datetime subclass) are refused like any other type; an IntEnum member is
 * an Enum member. A dataclass instance is stored as its fields (those of
 * dataclasses.fields()); an instance attribute that is not a field is an
 * error. Decoding rebuilds it without calling __init__ or __post_init__
 * (as copy and pickle do), so frozen dataclasses and defaults work; an Enum
 * member comes back as the very member of the class (identity kept). An
 * unknown class, a field set that does not match the class, an unknown
 * member or zone are decode errors naming the class. Paths in messages:
 * "[3]" list or tuple index, "['x']" dict value, " (a dict key)", " (a set
 * element)", ".key" a Ref's key, ".f" a dataclass field; e.g. "attribute
 * 'items'[3]['x']: cannot store a value of type 'function'". Decoding gives
 * exact types; in hashable positions (dict keys, set elements) sets come
 * back as frozensets. Decode errors start with "msgpack: " and give the byte
 * offset.
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

#define SF_PYCODEC_HINT_SLOTS 512

/* Whether a method's arguments need converting (sf_pycodec_args_need_convert). */
typedef struct sf_pycodec_hint_slot {
    PyObject *cls;            /* borrowed; NULL: free slot */
    const char *method;       /* the IR's name (a stable pointer) */
    int need;
} sf_pycodec_hint_slot;

typedef struct sf_pycodec {
    PyTypeObject *ref_type;   /* the Ref type (heap type, owned) */
    PyObject *module;         /* the application's module, or NULL (owned) */
    /* standard library types and helpers (owned) */
    PyObject *datetime_t, *date_t, *time_t, *timedelta_t, *timezone_t, *decimal_t;
    PyObject *zoneinfo_t;     /* NULL when zoneinfo cannot be imported */
    PyObject *enum_meta;      /* enum.EnumType */
    PyObject *dc_fields;      /* dataclasses.fields */
    PyObject *dc_names;       /* {dataclass: [field names]} of the current module, filled as met */
    PyObject *hints_convert;  /* the argument converter (sf_pycodec_convert_args) */
    PyObject *hints_need;     /* whether a method has hints to convert by */
    sf_pycodec_hint_slot hint_slots[SF_PYCODEC_HINT_SLOTS];
} sf_pycodec;

/* Create the Ref type and look up the standard types. Returns 0, or -1 with
 * a Python exception set. */
int sf_pycodec_init(sf_pycodec *c);
void sf_pycodec_fini(sf_pycodec *c);

/* The module in which Enum and dataclass types are looked up by qualified
 * name (a new reference is kept; NULL forgets it). Without one, such values
 * neither encode nor decode. */
void sf_pycodec_set_module(sf_pycodec *c, PyObject *module);

/* Convert a client request's arguments (a list, changed in place) by the
 * type hints of cls.<method>'s parameters, as FastAPI does: a parameter
 * hinted datetime/date/time takes an ISO 8601 string, timedelta seconds or an
 * ISO 8601 duration ("P1DT2H"), Decimal a string or a number, an Enum one of
 * its values, a dataclass an object of its fields (converted by their own
 * hints; the class is called, so __post_init__ runs), bytearray bytes, tuple/
 * set/frozenset an array; inside List/Dict/Tuple/Set/Optional hints too.
 * Values already of the hinted type are left alone; other hints are not
 * converted. Returns 0, or -1 with a Python exception set: TypeError
 * "<label> argument 'p'[path] must be <what>, got <type>" for a value that
 * does not fit, or whatever a dataclass's __init__ or an Enum raised. */
int sf_pycodec_convert_args(sf_pycodec *c, PyObject *cls, const char *method, const char *label, PyObject *args);
/* Whether cls.<method> has any parameter hint that converts (asked once per
 * (cls, method) pointer pair, then remembered; `method` must be a stable
 * pointer such as the IR's name). When 0, sf_pycodec_convert_args would do
 * nothing. */
int sf_pycodec_args_need_convert(sf_pycodec *c, PyObject *cls, const char *method);

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
