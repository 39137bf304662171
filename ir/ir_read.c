/* ir_read.c: loading a .sfir document (sf_ir_decode, sf_ir_load_file).
 *
 * The input is untrusted. Loading goes in four steps:
 *   1. the header: the document must start with a map whose first keys are
 *      "magic": "SFIR" and "version": 1 (read from the raw bytes, so a file of
 *      another version gets the version message, whatever its layout);
 *   2. a pre-scan of the raw msgpack that checks well-formedness, nesting
 *      depth, that every declared array/map count fits in the bytes left (so
 *      msgpack-c never allocates for elements that cannot exist) and that
 *      nothing follows the document;
 *   3. msgpack-c builds the object tree;
 *   4. the schema walk: every field's presence and type, string syntax,
 *      counts, type depth, block numbering, exit targets and every name that
 *      refers to an entity, method or attribute.
 * Errors name the offending field by its path, e.g.
 * "entities[2].methods[0].blocks[3].exits[1].target: 9 out of range (4 blocks)".
 * Everything the IR holds lives in its arena; temporary indexes live in a
 * second arena freed before returning; on error nothing is kept. */
#include "stateflow/sf_ir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stateflow/sf_util.h"

#define MAX_LIST 10000          /* entities, attrs, methods, params, blocks, exits, ... */
#define MAX_EDGES 100000
#define MAX_NAME 1024           /* bytes in an identifier */
#define MAX_FILENAME 4096
#define MAX_TYPE_ARGS 256       /* elements of a Tuple[...] */
#define MAX_CONTAINERS 32       /* msgpack nesting (msgpack-c's own limit is 32) */

/* ======================================================================
 * Steps 1-2: raw msgpack reading (header peek and pre-scan).
 * ====================================================================== */

typedef enum { MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_EXT, MP_ARRAY, MP_MAP } mp_kind;

typedef struct mp_head {
    mp_kind kind;
    uint64_t u;               /* UINT value; STR/BIN/EXT length; ARRAY/MAP count */
    const unsigned char *data; /* STR payload */
} mp_head;

typedef struct cur {
    const unsigned char *p;
    size_t len, pos;
} cur;

enum { MP_OK = 0, MP_TRUNCATED = -1, MP_INVALID = -2 };

static int take(cur *c, size_t n, const unsigned char **out)
{
    if (c->len - c->pos < n)
        return MP_TRUNCATED;
    *out = c->p + c->pos;
    c->pos += n;
    return MP_OK;
}

static int take_be(cur *c, size_t n, uint64_t *v)
{
    const unsigned char *q;
    if (take(c, n, &q))
        return MP_TRUNCATED;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | q[i];
    return MP_OK;
}

/* Read one header; the payload of str/bin/ext/scalars is skipped too. */
static int mp_read_head(cur *c, mp_head *h)
{
    const unsigned char *q;
    if (take(c, 1, &q))
        return MP_TRUNCATED;
    unsigned b = q[0];
    size_t payload = 0;
    memset(h, 0, sizeof(*h));
    if (b <= 0x7f) {
        h->kind = MP_UINT;
        h->u = b;
        return MP_OK;
    }
    if (b >= 0xe0) {
        h->kind = MP_INT;
        return MP_OK;
    }
    if (b <= 0x8f) {
        h->kind = MP_MAP;
        h->u = b & 0x0f;
        return MP_OK;
    }
    if (b <= 0x9f) {
        h->kind = MP_ARRAY;
        h->u = b & 0x0f;
        return MP_OK;
    }
    if (b <= 0xbf) {
        h->kind = MP_STR;
        h->u = b & 0x1f;
        goto body;
    }
    switch (b) {
    case 0xc0: h->kind = MP_NIL; return MP_OK;
    case 0xc1: return MP_INVALID;
    case 0xc2: case 0xc3: h->kind = MP_BOOL; return MP_OK;
    case 0xc4: case 0xc5: case 0xc6:
        h->kind = MP_BIN;
        if (take_be(c, (size_t)1 << (b - 0xc4), &h->u))
            return MP_TRUNCATED;
        goto body;
    case 0xc7: case 0xc8: case 0xc9:
        h->kind = MP_EXT;
        if (take_be(c, (size_t)1 << (b - 0xc7), &h->u))
            return MP_TRUNCATED;
        payload = 1; /* the ext type byte */
        goto body;
    case 0xca: h->kind = MP_FLOAT; payload = 4; break;
    case 0xcb: h->kind = MP_FLOAT; payload = 8; break;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        h->kind = MP_UINT;
        return take_be(c, (size_t)1 << (b - 0xcc), &h->u);
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        h->kind = MP_INT; payload = (size_t)1 << (b - 0xd0); break;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        h->kind = MP_EXT; payload = 1 + ((size_t)1 << (b - 0xd4)); break;
    case 0xd9: case 0xda: case 0xdb:
        h->kind = MP_STR;
        if (take_be(c, (size_t)1 << (b - 0xd9), &h->u))
            return MP_TRUNCATED;
        goto body;
    case 0xdc: case 0xdd:
        h->kind = MP_ARRAY;
        return take_be(c, b == 0xdc ? 2 : 4, &h->u);
    case 0xde: case 0xdf:
        h->kind = MP_MAP;
        return take_be(c, b == 0xde ? 2 : 4, &h->u);
    }
    return take(c, payload, &q);
body:
    if (h->u > c->len - c->pos || payload > c->len - c->pos - h->u)
        return MP_TRUNCATED;
    h->data = c->p + c->pos + payload;
    c->pos += payload + h->u;
    return MP_OK;
}


static int head_str_is(const mp_head *h, const char *s)
{
    return h->kind == MP_STR && h->u == strlen(s) && memcmp(h->data, s, h->u) == 0;
}

/* Step 1: magic and version from the raw bytes. */
static int check_header(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    cur c = {p, len, 0};
    mp_head h;
    int rc;
    if (len == 0) {
        sf_set_err(err, errlen, "empty file: not a StateFlow IR file");
        return -1;
    }
    if ((rc = mp_read_head(&c, &h)) == MP_OK && h.kind != MP_MAP)
        rc = MP_INVALID;
    if (rc == MP_OK && h.u < 2)
        rc = MP_INVALID;
    if (rc == MP_OK && (rc = mp_read_head(&c, &h)) == MP_OK && !head_str_is(&h, "magic"))
        rc = MP_INVALID;
    if (rc == MP_OK && (rc = mp_read_head(&c, &h)) == MP_OK && !head_str_is(&h, SF_IR_MAGIC))
        rc = MP_INVALID;
    if (rc == MP_INVALID) {
        sf_set_err(err, errlen, "not a StateFlow IR file (no \"%s\" magic at the start)", SF_IR_MAGIC);
        return -1;
    }
    if (rc == MP_OK && (rc = mp_read_head(&c, &h)) == MP_OK && !head_str_is(&h, "version")) {
        sf_set_err(err, errlen, "the second key of the document must be \"version\"");
        return -1;
    }
    if (rc == MP_OK && (rc = mp_read_head(&c, &h)) == MP_OK) {
        if (h.kind != MP_UINT) {
            sf_set_err(err, errlen, "version: expected a non-negative integer");
            return -1;
        }
        if (h.u != SF_IR_VERSION) {
            sf_set_err(err, errlen,
                    "IR format version %llu, this build reads version %d: recompile with this sfc",
                    (unsigned long long)h.u, SF_IR_VERSION);
            return -1;
        }
    }
    if (rc == MP_TRUNCATED) {
        sf_set_err(err, errlen, "truncated file (%zu bytes): the header is incomplete", len);
        return -1;
    }
    return 0;
}

/* Step 2: well-formedness, nesting and counts, trailing bytes. */
static int prescan(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    cur c = {p, len, 0};
    uint64_t stack[MAX_CONTAINERS + 1];
    int depth = 1;
    uint64_t pending = 1; /* values still to read, all levels together */
    stack[0] = 1;
    while (depth > 0) {
        if (stack[depth - 1] == 0) {
            depth--;
            continue;
        }
        stack[depth - 1]--;
        pending--;
        size_t at = c.pos;
        mp_head h;
        int rc = mp_read_head(&c, &h);
        if (rc == MP_TRUNCATED) {
            sf_set_err(err, errlen, "truncated file: the document ends early (%zu bytes)", len);
            return -1;
        }
        if (rc == MP_INVALID) {
            sf_set_err(err, errlen, "corrupt file: invalid msgpack byte 0x%02x at offset %zu", p[at], at);
            return -1;
        }
        if (h.kind != MP_ARRAY && h.kind != MP_MAP)
            continue;
        if (depth > MAX_CONTAINERS) { /* msgpack-c refuses even an empty one */
            sf_set_err(err, errlen, "corrupt file: values nested deeper than %d levels (offset %zu)",
                    MAX_CONTAINERS, at);
            return -1;
        }
        uint64_t n = h.kind == MP_MAP ? 2 * h.u : h.u;
        if (n == 0)
            continue;
        /* every value still to come takes at least one byte */
        if (n + pending > len - c.pos) {
            sf_set_err(err, errlen,
                    "truncated or corrupt file: %s at offset %zu declares %llu elements, only %zu bytes remain",
                    h.kind == MP_MAP ? "map" : "array", at,
                    (unsigned long long)h.u, len - c.pos);
            return -1;
        }
        stack[depth++] = n;
        pending += n;
    }
    if (c.pos != len) {
        sf_set_err(err, errlen, "corrupt file: %zu trailing bytes after the document", len - c.pos);
        return -1;
    }
    return 0;
}

/* ======================================================================
 * Step 4: the schema walk.
 * ====================================================================== */

typedef struct name_ix {
    const char *name;
    int index;
} name_ix;

typedef struct rd {
    sf_ir *ir;
    sf_arena tmp;             /* indexes, freed when loading ends */
    char *err;
    size_t errlen;
    char path[384];
    size_t plen;
    name_ix *ents;            /* entity names, sorted */
    int nents;
    name_ix **methods;        /* per entity: method names, sorted */
    const char **functions;   /* every block function name (for uniqueness) */
    size_t nfunctions, cfunctions;
} rd;

/* ---- paths and errors ------------------------------------------------- */

static size_t path_push(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(rd *r, const char *fmt, ...)
{
    size_t old = r->plen;
    if (r->plen + 1 < sizeof(r->path)) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->path + r->plen, sizeof(r->path) - r->plen, fmt, ap);
        va_end(ap);
        if (n > 0)
            r->plen += (size_t)n;
        if (r->plen >= sizeof(r->path))
            r->plen = sizeof(r->path) - 1;
    }
    return old;
}

static size_t path_key(rd *r, const char *key)
{
    return r->plen ? path_push(r, ".%s", key) : path_push(r, "%s", key);
}

static size_t path_index(rd *r, size_t i) { return path_push(r, "[%zu]", i); }

static void path_pop(rd *r, size_t old)
{
    r->plen = old;
    r->path[old] = '\0';
}

static int fail(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(rd *r, const char *fmt, ...)
{
    if (!r->err || !r->errlen)
        return -1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->plen)
        snprintf(r->err, r->errlen, "%s: %s", r->path, msg);
    else
        snprintf(r->err, r->errlen, "%s", msg);
    return -1;
}

#define TRY(x)              \
    do {                    \
        if ((x) < 0)        \
            return -1;      \
    } while (0)

static const char *obj_kind(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary data";
    case MSGPACK_OBJECT_EXT: return "an extension value";
    }
    return "an unknown value";
}

/* ---- strings ---------------------------------------------------------- */


typedef enum {
    S_TEXT,           /* any UTF-8 text without NUL */
    S_IDENT,          /* a Python identifier */
    S_IDENT_OR_EMPTY, /* an identifier or "" */
    S_DOTTED,         /* identifiers joined by '.' (module names) */
} str_kind;

static int is_ident_start(unsigned c) { return c == '_' || (c | 0x20) - 'a' < 26u || c >= 0x80; }
static int is_ident_char(unsigned c) { return is_ident_start(c) || c - '0' < 10u; }

/* Check o is a string of the given kind; copy it into the IR's arena. */
static int check_str(rd *r, const msgpack_object *o, str_kind kind, size_t maxlen, const char **out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return fail(r, "expected a string, got %s", obj_kind(o));
    const unsigned char *s = (const unsigned char *)o->via.str.ptr;
    size_t n = o->via.str.size;
    if (n > maxlen)
        return fail(r, "string of %zu bytes is too long (limit %zu)", n, maxlen);
    for (size_t i = 0; i < n;) {
        if (s[i] == 0)
            return fail(r, "string contains a NUL byte at offset %zu", i);
        size_t k = sf_utf8_seq(s + i, n - i);
        if (!k)
            return fail(r, "string is not valid UTF-8 (offset %zu)", i);
        i += k;
    }
    if (kind != S_TEXT) {
        int ok = 1;
        if (n == 0)
            ok = kind == S_IDENT_OR_EMPTY;
        else {
            int start = 1;
            for (size_t i = 0; i < n && ok; i++) {
                if (kind == S_DOTTED && s[i] == '.' && !start && i + 1 < n) {
                    start = 1;
                    continue;
                }
                ok = start ? is_ident_start(s[i]) : is_ident_char(s[i]);
                start = 0;
            }
        }
        if (!ok) {
            char shown[64];
            size_t m = n < 40 ? n : 40;
            size_t j = 0;
            for (size_t i = 0; i < m; i++)
                shown[j++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'') ? (char)s[i] : '?';
            shown[j] = '\0';
            return fail(r, "'%s%s' is not a valid %s", shown, n > m ? "..." : "",
                        kind == S_DOTTED ? "module name" : "identifier");
        }
    }
    *out = sf_arena_strndup(&r->ir->arena, (const char *)s, n);
    return 0;
}

/* ---- maps and fields -------------------------------------------------- */

static int check_map(rd *r, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(r, "expected a map, got %s", obj_kind(o));
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return fail(r, "map key %u is %s, expected a string", i, obj_kind(&o->via.map.ptr[i].key));
    return 0;
}

/* Find key in map (already checked by check_map). Unknown keys are
 * ignored; a key given twice is an error. *out is NULL when absent. */
static int field(rd *r, const msgpack_object *map, const char *key, int required,
                 const msgpack_object **out)
{
    size_t klen = strlen(key);
    *out = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_str *k = &map->via.map.ptr[i].key.via.str;
        if (k->size == klen && memcmp(k->ptr, key, klen) == 0) {
            if (*out)
                return fail(r, "key '%s' appears twice", key);
            *out = &map->via.map.ptr[i].val;
        }
    }
    if (!*out && required)
        return fail(r, "missing field '%s'", key);
    return 0;
}

static int get_str(rd *r, const msgpack_object *map, const char *key, str_kind kind, size_t maxlen,
                   const char **out)
{
    const msgpack_object *v;
    TRY(field(r, map, key, 1, &v));
    size_t old = path_key(r, key);
    TRY(check_str(r, v, kind, maxlen, out));
    path_pop(r, old);
    return 0;
}

static int check_int(rd *r, const msgpack_object *o, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return fail(r, "integer %llu out of range", (unsigned long long)o->via.u64);
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else
        return fail(r, "expected an integer, got %s", obj_kind(o));
    if (v < min || v > max)
        return fail(r, "%lld out of range (%lld..%lld)", (long long)v, (long long)min, (long long)max);
    *out = v;
    return 0;
}

static int get_int(rd *r, const msgpack_object *map, const char *key, int64_t min, int64_t max,
                   int64_t *out)
{
    const msgpack_object *v;
    TRY(field(r, map, key, 1, &v));
    size_t old = path_key(r, key);
    TRY(check_int(r, v, min, max, out));
    path_pop(r, old);
    return 0;
}

static int get_line(rd *r, const msgpack_object *map, int *out)
{
    int64_t v;
    TRY(get_int(r, map, "line", 0, INT_MAX, &v));
    *out = (int)v;
    return 0;
}

static int get_bool(rd *r, const msgpack_object *map, const char *key, int *out)
{
    const msgpack_object *v;
    TRY(field(r, map, key, 1, &v));
    if (v->type != MSGPACK_OBJECT_BOOLEAN) {
        size_t old = path_key(r, key);
        (void)old;
        return fail(r, "expected a boolean, got %s", obj_kind(v));
    }
    *out = v->via.boolean ? 1 : 0;
    return 0;
}

/* An array field of at most max elements; the path is left at the key
 * (the caller pops it with path_pop(r, *old)). */
static int get_array(rd *r, const msgpack_object *map, const char *key, uint32_t max,
                     const msgpack_object_array **out, size_t *old)
{
    const msgpack_object *v;
    TRY(field(r, map, key, 1, &v));
    *old = path_key(r, key);
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(r, "expected an array, got %s", obj_kind(v));
    if (v->via.array.size > max)
        return fail(r, "%u elements, the limit is %u", v->via.array.size, max);
    *out = &v->via.array;
    return 0;
}

static void *alloc_n(rd *r, size_t n, size_t elem)
{
    return n ? sf_arena_alloc(&r->ir->arena, n * elem) : NULL;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

/* A sorted index of the n names found at base + i * stride (in the
 * temporary arena); fails on a duplicate with "duplicate <what> 'name'" at
 * the current path. */
static int index_names(rd *r, const void *base, size_t stride, int n, const char *what,
                       name_ix **out)
{
    name_ix *ix = sf_arena_alloc(&r->tmp, (size_t)(n ? n : 1) * sizeof(*ix));
    for (int i = 0; i < n; i++) {
        ix[i].name = *(const char *const *)((const char *)base + (size_t)i * stride);
        ix[i].index = i;
    }
    if (n > 1)
        qsort(ix, (size_t)n, sizeof(*ix), name_cmp);
    for (int i = 1; i < n; i++)
        if (strcmp(ix[i - 1].name, ix[i].name) == 0)
            return fail(r, "duplicate %s '%s'", what, ix[i].name);
    *out = ix;
    return 0;
}

static int find_name(const name_ix *ix, int n, const char *name)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].name, name);
        if (c == 0)
            return ix[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int get_strlist(rd *r, const msgpack_object *map, const char *key, str_kind kind,
                       const char ***out, int *nout)
{
    const msgpack_object_array *a;
    size_t old;
    TRY(get_array(r, map, key, MAX_LIST, &a, &old));
    const char **v = alloc_n(r, a->size, sizeof(*v));
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(check_str(r, &a->ptr[i], kind, MAX_NAME, &v[i]));
        path_pop(r, o2);
    }
    path_pop(r, old);
    *out = v;
    *nout = (int)a->size;
    return 0;
}

/* ---- types ------------------------------------------------------------ */

static int check_type(rd *r, const msgpack_object *o, int depth, const sf_type **out)
{
    if (depth > SF_IR_MAX_TYPE_DEPTH)
        return fail(r, "type nested deeper than %d levels", SF_IR_MAX_TYPE_DEPTH);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(r, "expected a type (an array such as [\"int\"]), got %s", obj_kind(o));
    const msgpack_object_array *a = &o->via.array;
    if (a->size == 0)
        return fail(r, "empty type array");
    if (a->ptr[0].type != MSGPACK_OBJECT_STR) {
        size_t old = path_index(r, 0);
        (void)old;
        return fail(r, "expected a type name, got %s", obj_kind(&a->ptr[0]));
    }
    const msgpack_object_str *ks = &a->ptr[0].via.str;
    int kind = -1;
    for (int k = 0; k < SF_TYPE__COUNT; k++) {
        const char *name = sf_type_kind_name((sf_type_kind)k);
        if (strlen(name) == ks->size && memcmp(name, ks->ptr, ks->size) == 0)
            kind = k;
    }
    if (kind < 0) {
        size_t old = path_index(r, 0);
        (void)old;
        char shown[48];
        size_t m = ks->size < 32 ? ks->size : 32, j = 0;
        for (size_t i = 0; i < m; i++)
            shown[j++] = (ks->ptr[i] >= 0x20 && ks->ptr[i] < 0x7f) ? ks->ptr[i] : '?';
        shown[j] = '\0';
        return fail(r, "unknown type kind '%s'", shown);
    }
    sf_type *t = sf_arena_alloc(&r->ir->arena, sizeof(*t));
    t->kind = (sf_type_kind)kind;
    uint32_t nargs = a->size - 1;
    uint32_t want_min, want_max;
    switch (t->kind) {
    case SF_TYPE_LIST: case SF_TYPE_SET: case SF_TYPE_OPTIONAL: want_min = want_max = 1; break;
    case SF_TYPE_DICT: want_min = want_max = 2; break;
    case SF_TYPE_TUPLE: want_min = 0; want_max = MAX_TYPE_ARGS; break;
    case SF_TYPE_ENTITY: want_min = want_max = 1; break;
    default: want_min = want_max = 0; break;
    }
    if (nargs < want_min || nargs > want_max) {
        if (want_min == want_max)
            return fail(r, "type '%s' takes %u argument%s, got %u", sf_type_kind_name(t->kind),
                        want_min, want_min == 1 ? "" : "s", nargs);
        return fail(r, "type '%s' takes at most %u arguments, got %u", sf_type_kind_name(t->kind),
                    want_max, nargs);
    }
    if (t->kind == SF_TYPE_ENTITY) {
        size_t old = path_index(r, 1);
        TRY(check_str(r, &a->ptr[1], S_IDENT, MAX_NAME, &t->entity));
        if (find_name(r->ents, r->nents, t->entity) < 0)
            return fail(r, "unknown entity '%s'", t->entity);
        path_pop(r, old);
        *out = t;
        return 0;
    }
    if (nargs) {
        const sf_type **args = alloc_n(r, nargs, sizeof(*args));
        for (uint32_t i = 0; i < nargs; i++) {
            size_t old = path_index(r, i + 1);
            TRY(check_type(r, &a->ptr[i + 1], depth + 1, &args[i]));
            path_pop(r, old);
        }
        t->args = args;
        t->nargs = (int)nargs;
    }
    *out = t;
    return 0;
}

static int get_type(rd *r, const msgpack_object *map, const char *key, const sf_type **out)
{
    const msgpack_object *v;
    TRY(field(r, map, key, 1, &v));
    size_t old = path_key(r, key);
    TRY(check_type(r, v, 1, out));
    path_pop(r, old);
    return 0;
}

/* ---- records ---------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned bit;
} flag_names[] = {
    {"read_only", SF_METHOD_READ_ONLY}, {"split", SF_METHOD_SPLIT},
    {"init", SF_METHOD_INIT},           {"accessor", SF_METHOD_ACCESSOR},
    {"internal", SF_METHOD_INTERNAL},
};

static int get_flags(rd *r, const msgpack_object *map, unsigned *out)
{
    const msgpack_object_array *a;
    size_t old;
    TRY(get_array(r, map, "flags", 64, &a, &old));
    unsigned flags = 0;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        const msgpack_object *f = &a->ptr[i];
        if (f->type != MSGPACK_OBJECT_STR)
            return fail(r, "expected a flag name, got %s", obj_kind(f));
        size_t k;
        for (k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
            if (strlen(flag_names[k].name) == f->via.str.size &&
                memcmp(flag_names[k].name, f->via.str.ptr, f->via.str.size) == 0)
                break;
        if (k == sizeof(flag_names) / sizeof(flag_names[0])) {
            const char *s;
            TRY(check_str(r, f, S_TEXT, 64, &s));
            return fail(r, "unknown method flag '%s'", s);
        }
        flags |= flag_names[k].bit;
        path_pop(r, o2);
    }
    path_pop(r, old);
    *out = flags;
    return 0;
}

/* An entity name that must exist ("" allowed when allow_empty). */
static int check_entity_ref(rd *r, const msgpack_object *map, const char *key, int allow_empty,
                            const char **out)
{
    TRY(get_str(r, map, key, allow_empty ? S_IDENT_OR_EMPTY : S_IDENT, MAX_NAME, out));
    if (**out && find_name(r->ents, r->nents, *out) < 0) {
        size_t old = path_key(r, key);
        (void)old;
        return fail(r, "unknown entity '%s'", *out);
    }
    return 0;
}

static int read_exit(rd *r, const msgpack_object *o, int nblocks, sf_ir_exit *x)
{
    TRY(check_map(r, o));
    const msgpack_object *k;
    TRY(field(r, o, "kind", 1, &k));
    size_t old = path_key(r, "kind");
    if (k->type != MSGPACK_OBJECT_STR)
        return fail(r, "expected a string, got %s", obj_kind(k));
#define KIND_IS(s) (k->via.str.size == sizeof(s) - 1 && memcmp(k->via.str.ptr, s, sizeof(s) - 1) == 0)
    if (KIND_IS("return"))
        x->kind = SF_EXIT_RETURN;
    else if (KIND_IS("call"))
        x->kind = SF_EXIT_CALL;
    else if (KIND_IS("jump"))
        x->kind = SF_EXIT_JUMP;
    else
        return fail(r, "unknown exit kind (expected \"return\", \"call\" or \"jump\")");
#undef KIND_IS
    path_pop(r, old);
    x->target = -1;
    x->entity = x->method = x->bind = "";
    if (x->kind == SF_EXIT_RETURN)
        return 0;
    int64_t target;
    const msgpack_object *tv;
    TRY(field(r, o, "target", 1, &tv));
    old = path_key(r, "target");
    if (tv->type != MSGPACK_OBJECT_POSITIVE_INTEGER && tv->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return fail(r, "expected an integer, got %s", obj_kind(tv));
    target = tv->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? tv->via.i64
             : tv->via.u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)tv->via.u64;
    if (target < 0 || target >= nblocks)
        return fail(r, "%lld out of range (%d block%s)", (long long)target, nblocks,
                    nblocks == 1 ? "" : "s");
    path_pop(r, old);
    x->target = (int)target;
    if (x->kind == SF_EXIT_JUMP)
        return 0;
    TRY(check_entity_ref(r, o, "entity", 1, &x->entity));
    TRY(get_str(r, o, "method", S_IDENT, MAX_NAME, &x->method));
    TRY(get_str(r, o, "bind", S_IDENT_OR_EMPTY, MAX_NAME, &x->bind));
    return 0;
}

static int read_block(rd *r, const msgpack_object *o, int index, int nblocks, sf_ir_block *b)
{
    TRY(check_map(r, o));
    int64_t id = 0;
    TRY(get_int(r, o, "id", INT_MIN, INT_MAX, &id));
    if (id != index) {
        size_t old = path_key(r, "id");
        (void)old;
        return fail(r, "block id %lld, expected %d (blocks are numbered 0..n-1 in order)",
                    (long long)id, index);
    }
    b->id = index;
    TRY(get_str(r, o, "function", S_IDENT, MAX_NAME, &b->function));
    TRY(get_line(r, o, &b->line));
    TRY(get_strlist(r, o, "live_in", S_IDENT, &b->live_in, &b->nlive_in));
    const msgpack_object_array *a;
    size_t old;
    TRY(get_array(r, o, "exits", MAX_LIST, &a, &old));
    if (a->size == 0)
        return fail(r, "a block needs at least one exit");
    b->exits = alloc_n(r, a->size, sizeof(*b->exits));
    b->nexits = (int)a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(read_exit(r, &a->ptr[i], nblocks, &b->exits[i]));
        path_pop(r, o2);
    }
    path_pop(r, old);
    r->functions[r->nfunctions++] = b->function;
    return 0;
}

static int read_method(rd *r, const msgpack_object *o, sf_ir_method *m)
{
    TRY(check_map(r, o));
    TRY(get_str(r, o, "name", S_IDENT, MAX_NAME, &m->name));
    TRY(get_line(r, o, &m->line));
    TRY(get_flags(r, o, &m->flags));

    const msgpack_object_array *a;
    size_t old;
    TRY(get_array(r, o, "params", MAX_LIST, &a, &old));
    m->params = alloc_n(r, a->size, sizeof(*m->params));
    m->nparams = (int)a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        sf_ir_param *p = &m->params[i];
        TRY(check_map(r, &a->ptr[i]));
        TRY(get_str(r, &a->ptr[i], "name", S_IDENT, MAX_NAME, &p->name));
        TRY(get_type(r, &a->ptr[i], "type", &p->type));
        TRY(get_bool(r, &a->ptr[i], "has_default", &p->has_default));
        path_pop(r, o2);
    }
    name_ix *pix;
    TRY(index_names(r, m->params, sizeof(sf_ir_param), m->nparams, "parameter", &pix));
    path_pop(r, old);

    TRY(get_type(r, o, "returns", &m->returns));
    TRY(get_strlist(r, o, "reads", S_IDENT, &m->reads, &m->nreads));
    TRY(get_strlist(r, o, "writes", S_IDENT, &m->writes, &m->nwrites));

    TRY(get_array(r, o, "calls", MAX_LIST, &a, &old));
    m->calls = alloc_n(r, a->size, sizeof(*m->calls));
    m->ncalls = (int)a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        sf_ir_call *c = &m->calls[i];
        TRY(check_map(r, &a->ptr[i]));
        TRY(check_entity_ref(r, &a->ptr[i], "entity", 1, &c->entity));
        TRY(get_str(r, &a->ptr[i], "method", S_IDENT, MAX_NAME, &c->method));
        TRY(get_line(r, &a->ptr[i], &c->line));
        path_pop(r, o2);
    }
    path_pop(r, old);

    TRY(get_array(r, o, "blocks", MAX_LIST, &a, &old));
    if ((m->flags & SF_METHOD_SPLIT) && a->size == 0)
        return fail(r, "a split method needs at least one block");
    if (!(m->flags & SF_METHOD_SPLIT) && a->size > 0)
        return fail(r, "%u blocks in a method that is not split", a->size);
    m->blocks = alloc_n(r, a->size, sizeof(*m->blocks));
    m->nblocks = (int)a->size;
    /* block function names, for the module-wide uniqueness check */
    if (r->nfunctions + a->size > r->cfunctions) {
        size_t cap = r->cfunctions ? r->cfunctions : 64;
        while (cap < r->nfunctions + a->size)
            cap *= 2;
        r->functions = sf_arena_grow(&r->tmp, r->functions, r->nfunctions, cap, sizeof(char *));
        r->cfunctions = cap;
    }
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(read_block(r, &a->ptr[i], (int)i, (int)a->size, &m->blocks[i]));
        path_pop(r, o2);
    }
    path_pop(r, old);
    return 0;
}

static int read_entity(rd *r, const msgpack_object *o, int ei, sf_ir_entity *e)
{
    TRY(check_map(r, o));
    TRY(get_str(r, o, "name", S_IDENT, MAX_NAME, &e->name));
    TRY(get_line(r, o, &e->line));

    const msgpack_object_array *a;
    size_t old;
    TRY(get_array(r, o, "attrs", MAX_LIST, &a, &old));
    e->attrs = alloc_n(r, a->size, sizeof(*e->attrs));
    e->nattrs = (int)a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        sf_ir_attr *at = &e->attrs[i];
        TRY(check_map(r, &a->ptr[i]));
        TRY(get_str(r, &a->ptr[i], "name", S_IDENT, MAX_NAME, &at->name));
        TRY(get_type(r, &a->ptr[i], "type", &at->type));
        TRY(get_line(r, &a->ptr[i], &at->line));
        path_pop(r, o2);
    }
    name_ix *aix;
    TRY(index_names(r, e->attrs, sizeof(sf_ir_attr), e->nattrs, "attribute", &aix));
    path_pop(r, old);

    TRY(get_strlist(r, o, "key", S_IDENT, &e->key, &e->nkey));
    old = path_key(r, "key");
    if (e->nkey == 0)
        return fail(r, "an entity needs at least one key attribute");
    for (int i = 0; i < e->nkey; i++)
        if (find_name(aix, e->nattrs, e->key[i]) < 0) {
            path_index(r, (size_t)i);
            return fail(r, "'%s' is not an attribute of %s", e->key[i], e->name);
        }
    path_pop(r, old);

    TRY(get_array(r, o, "methods", MAX_LIST, &a, &old));
    e->methods = alloc_n(r, a->size, sizeof(*e->methods));
    e->nmethods = (int)a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(read_method(r, &a->ptr[i], &e->methods[i]));
        path_pop(r, o2);
    }
    TRY(index_names(r, e->methods, sizeof(sf_ir_method), e->nmethods, "method",
                    &r->methods[ei]));
    path_pop(r, old);
    return 0;
}

/* entity.method must exist (entity "" means dynamic: not checked). */
static int check_method_ref(rd *r, const char *entity, const char *method, const char *key)
{
    if (!*entity)
        return 0;
    int ei = find_name(r->ents, r->nents, entity);
    if (ei < 0) {
        size_t old = path_key(r, key);
        (void)old;
        return fail(r, "unknown entity '%s'", entity);
    }
    if (strcmp(method, SF_IR_DELETE_METHOD) == 0)
        return 0;
    if (find_name(r->methods[ei], r->ir->entities[ei].nmethods, method) < 0) {
        size_t old = path_key(r, key);
        (void)old;
        return fail(r, "entity %s has no method '%s'", entity, method);
    }
    return 0;
}

/* Pass 3: calls and call exits name methods that exist. */
static int check_references(rd *r)
{
    const sf_ir *ir = r->ir;
    for (int ei = 0; ei < ir->nentities; ei++) {
        const sf_ir_entity *e = &ir->entities[ei];
        for (int mi = 0; mi < e->nmethods; mi++) {
            const sf_ir_method *m = &e->methods[mi];
            size_t old = path_push(r, "entities[%d].methods[%d]", ei, mi);
            for (int ci = 0; ci < m->ncalls; ci++) {
                size_t o2 = path_push(r, ".calls[%d]", ci);
                TRY(check_method_ref(r, m->calls[ci].entity, m->calls[ci].method, "method"));
                path_pop(r, o2);
            }
            for (int bi = 0; bi < m->nblocks; bi++)
                for (int xi = 0; xi < m->blocks[bi].nexits; xi++) {
                    const sf_ir_exit *x = &m->blocks[bi].exits[xi];
                    if (x->kind != SF_EXIT_CALL)
                        continue;
                    size_t o2 = path_push(r, ".blocks[%d].exits[%d]", bi, xi);
                    TRY(check_method_ref(r, x->entity, x->method, "method"));
                    path_pop(r, o2);
                }
            path_pop(r, old);
        }
    }
    return 0;
}

static int read_document(rd *r, const msgpack_object *doc)
{
    sf_ir *ir = r->ir;
    TRY(check_map(r, doc));
    const char *magic;
    TRY(get_str(r, doc, "magic", S_TEXT, 16, &magic));
    if (strcmp(magic, SF_IR_MAGIC) != 0)
        return fail(r, "not a StateFlow IR file (bad magic)");
    int64_t version = 0;
    TRY(get_int(r, doc, "version", 0, UINT32_MAX, &version));
    if (version != SF_IR_VERSION)
        return fail(r, "IR format version %lld, this build reads version %d: recompile with this sfc",
                    (long long)version, SF_IR_VERSION);
    ir->version = (uint32_t)version;
    TRY(get_str(r, doc, "module", S_DOTTED, MAX_NAME, &ir->module));
    TRY(get_str(r, doc, "filename", S_TEXT, MAX_FILENAME, &ir->filename));
    TRY(get_str(r, doc, "source", S_TEXT, SF_IR_MAX_BYTES, &ir->source));
    TRY(get_str(r, doc, "python", S_TEXT, SF_IR_MAX_BYTES, &ir->python));

    /* Pass 1: entity names, so types can refer to any entity. */
    const msgpack_object_array *ents;
    size_t old;
    TRY(get_array(r, doc, "entities", MAX_LIST, &ents, &old));
    ir->entities = alloc_n(r, ents->size, sizeof(*ir->entities));
    ir->nentities = (int)ents->size;
    for (uint32_t i = 0; i < ents->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(check_map(r, &ents->ptr[i]));
        TRY(get_str(r, &ents->ptr[i], "name", S_IDENT, MAX_NAME, &ir->entities[i].name));
        path_pop(r, o2);
    }
    TRY(index_names(r, ir->entities, sizeof(sf_ir_entity), ir->nentities, "entity",
                    &r->ents));
    r->nents = ir->nentities;
    r->methods = sf_arena_alloc(&r->tmp, (ents->size + 1) * sizeof(*r->methods));

    /* Pass 2: everything. */
    for (uint32_t i = 0; i < ents->size; i++) {
        size_t o2 = path_index(r, i);
        TRY(read_entity(r, &ents->ptr[i], (int)i, &ir->entities[i]));
        path_pop(r, o2);
    }
    path_pop(r, old);
    name_ix *fix;
    TRY(index_names(r, r->functions, sizeof(char *), (int)r->nfunctions, "block function", &fix));

    const msgpack_object_array *edges;
    TRY(get_array(r, doc, "edges", MAX_EDGES, &edges, &old));
    ir->edges = alloc_n(r, edges->size, sizeof(*ir->edges));
    ir->nedges = (int)edges->size;
    for (uint32_t i = 0; i < edges->size; i++) {
        size_t o2 = path_index(r, i);
        const msgpack_object *eo = &edges->ptr[i];
        sf_ir_edge *ed = &ir->edges[i];
        TRY(check_map(r, eo));
        TRY(check_entity_ref(r, eo, "from_entity", 0, &ed->from_entity));
        TRY(get_str(r, eo, "from_method", S_IDENT, MAX_NAME, &ed->from_method));
        TRY(check_method_ref(r, ed->from_entity, ed->from_method, "from_method"));
        TRY(check_entity_ref(r, eo, "to_entity", 0, &ed->to_entity));
        TRY(get_str(r, eo, "to_method", S_IDENT, MAX_NAME, &ed->to_method));
        TRY(check_method_ref(r, ed->to_entity, ed->to_method, "to_method"));
        path_pop(r, o2);
    }
    path_pop(r, old);

    /* Pass 3: cross references. */
    return check_references(r);
}

sf_ir *sf_ir_decode(const char *buf, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!buf && len) {
        sf_set_err(err, errlen, "no input");
        return NULL;
    }
    if (len > SF_IR_MAX_BYTES) {
        sf_set_err(err, errlen, "file of %zu bytes is larger than the limit of %u bytes", len,
                SF_IR_MAX_BYTES);
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)buf;
    if (check_header(p, len, err, errlen) < 0 || prescan(p, len, err, errlen) < 0)
        return NULL;

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&up, buf, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        sf_set_err(err, errlen, "%s",
                ret == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory while reading the IR"
                                                  : "corrupt file: msgpack decoding failed");
        msgpack_unpacked_destroy(&up);
        return NULL;
    }

    rd r;
    memset(&r, 0, sizeof(r));
    r.ir = sf_ir_new();
    r.err = err;
    r.errlen = errlen;
    sf_arena_init(&r.tmp);
    int rc = read_document(&r, &up.data);
    sf_arena_free(&r.tmp);
    msgpack_unpacked_destroy(&up);
    if (rc < 0) {
        sf_ir_free(r.ir);
        return NULL;
    }
    return r.ir;
}

sf_ir *sf_ir_load_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sf_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        sf_set_err(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        sf_set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > SF_IR_MAX_BYTES) {
        sf_set_err(err, errlen, "%s: file of %lld bytes is larger than the limit of %u bytes", path,
                (long long)st.st_size, SF_IR_MAX_BYTES);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size ? size : 1);
    if (!data) {
        sf_set_err(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    /* read one byte more than expected to notice a file that grew */
    while (got <= size) {
        char extra;
        ssize_t k = got < size ? read(fd, data + got, size - got) : read(fd, &extra, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            sf_set_err(err, errlen, "%s: %s", path, strerror(errno));
            free(data);
            close(fd);
            return NULL;
        }
        if (k == 0)
            break;
        if (got == size) {
            sf_set_err(err, errlen, "%s: the file changed while being read", path);
            free(data);
            close(fd);
            return NULL;
        }
        got += (size_t)k;
    }
    close(fd);
    char derr[512];
    sf_ir *ir = sf_ir_decode(data, got, derr, sizeof(derr));
    free(data);
    if (!ir)
        sf_set_err(err, errlen, "%s: %s", path, derr);
    return ir;
}
