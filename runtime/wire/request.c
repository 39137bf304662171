/* request.c: parsing the JSON request object into sf_request and writing
 * the JSON reply lines (request.h, DESIGN 4.5). The request text is turned
 * into msgpack by the strict JSON parser (json.c) and the resulting map is
 * checked member by member; when the strict parse fails, a lenient one is
 * run only to recover the id for the error reply. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include <msgpack.h>

#include "mpread.h"
#include "stateflow/sf_pack.h"
#include "stateflow/sf_util.h"
#include "stateflow/sf_value.h"

#define SF_REQUEST_MAX_NAME 255


const char *sf_request_op_name(int op)
{
    switch (op) {
    case SF_OP_CREATE: return "create";
    case SF_OP_CALL: return "call";
    case SF_OP_GET: return "get";
    case SF_OP_DELETE: return "delete";
    default: return "?";
    }
}

enum { F_ID, F_OP, F_ENTITY, F_KEY, F_METHOD, F_ARGS, F__COUNT };
static const char *const field_names[F__COUNT] = {"id", "op", "entity", "key", "method", "args"};

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Find the members of the top-level map. Returns 0, or -1 with a message. */
static int collect(const sf_buf *m, span f[F__COUNT], char *err, size_t errlen)
{
    size_t pos = 0;
    sf_mp_item it;
    memset(f, 0, sizeof(span) * F__COUNT);
    if (sf_mp_read(m->data, m->len, &pos, &it) < 0 || it.kind != SF_MP_MAP) {
        sf_set_err(err, errlen, "a request must be a JSON object");
        return -1;
    }
    int rc = 0;
    for (uint32_t i = 0; i < it.n; i++) {
        sf_mp_item k;
        if (sf_mp_read(m->data, m->len, &pos, &k) < 0 || k.kind != SF_MP_STR) {
            sf_set_err(err, errlen, "malformed request");
            return -1;
        }
        size_t vlen;
        if (sf_msgpack_value_len(m->data + pos, m->len - pos, &vlen, err, errlen) < 0)
            return -1;
        int which = -1;
        for (int j = 0; j < F__COUNT; j++) {
            if (strlen(field_names[j]) == k.n && memcmp(field_names[j], k.data, k.n) == 0) {
                which = j;
                break;
            }
        }
        if (rc == 0) {
            if (which < 0) {
                sf_buf name;
                sf_buf_init(&name);
                sf_json_put_string(&name, k.data, k.n < 64 ? k.n : 64);
                sf_set_err(err, errlen, "unknown member %s in request (expected id, op, entity, key, method, args)",
                        name.data);
                sf_buf_free(&name);
                rc = -1;
            } else if (f[which].p) {
                sf_set_err(err, errlen, "duplicate member \"%s\" in request", field_names[which]);
                rc = -1;
            }
        }
        if (which >= 0 && !f[which].p) {
            f[which].p = m->data + pos;
            f[which].n = vlen;
        }
        pos += vlen;
    }
    return rc;
}

/* Set r->id_json from the id member. Returns 0, or -1 with a message. */
static int take_id(const span *id, sf_request *r, char *err, size_t errlen)
{
    if (!id->p)
        return 0;
    sf_mp_item it;
    size_t pos = 0;
    if (sf_mp_read(id->p, id->n, &pos, &it) < 0 ||
        (it.kind != SF_MP_STR && it.kind != SF_MP_INT && it.kind != SF_MP_UINT && it.kind != SF_MP_FLOAT)) {
        sf_set_err(err, errlen, "\"id\" must be a string or a number");
        return -1;
    }
    sf_buf j;
    sf_buf_init(&j);
    if (sf_msgpack_to_json(id->p, id->n, &j, err, errlen) < 0) {
        sf_buf_free(&j);
        return -1;
    }
    if (j.len > SF_REQUEST_MAX_ID) {
        sf_buf_free(&j);
        sf_set_err(err, errlen, "\"id\" too long (limit %d bytes)", SF_REQUEST_MAX_ID);
        return -1;
    }
    r->id_json = sf_buf_steal(&j, NULL);
    return 0;
}

/* A name member (entity, method): a non-empty string without NUL. */
static int take_name(const span *s, const char *what, char **dst, char *err, size_t errlen)
{
    sf_mp_item it;
    size_t pos = 0;
    if (sf_mp_read(s->p, s->n, &pos, &it) < 0 || it.kind != SF_MP_STR) {
        sf_set_err(err, errlen, "\"%s\" must be a string", what);
        return -1;
    }
    if (it.n == 0) {
        sf_set_err(err, errlen, "\"%s\" must not be empty", what);
        return -1;
    }
    if (it.n > SF_REQUEST_MAX_NAME) {
        sf_set_err(err, errlen, "\"%s\" too long (limit %d bytes)", what, SF_REQUEST_MAX_NAME);
        return -1;
    }
    if (memchr(it.data, '\0', it.n)) {
        sf_set_err(err, errlen, "\"%s\" must not contain NUL characters", what);
        return -1;
    }
    char *p = malloc(it.n + 1);
    if (!p) {
        sf_set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(p, it.data, it.n);
    p[it.n] = '\0';
    *dst = p;
    return 0;
}

static int check_request(const span f[F__COUNT], sf_request *r, char *err, size_t errlen)
{
    sf_mp_item it;
    size_t pos = 0;
    if (!f[F_OP].p) {
        sf_set_err(err, errlen, "missing \"op\" in request (create, call, get or delete)");
        return -1;
    }
    if (sf_mp_read(f[F_OP].p, f[F_OP].n, &pos, &it) < 0 || it.kind != SF_MP_STR) {
        sf_set_err(err, errlen, "\"op\" must be a string (create, call, get or delete)");
        return -1;
    }
    if (it.n == 6 && memcmp(it.data, "create", 6) == 0) {
        r->op = SF_OP_CREATE;
    } else if (it.n == 4 && memcmp(it.data, "call", 4) == 0) {
        r->op = SF_OP_CALL;
    } else if (it.n == 3 && memcmp(it.data, "get", 3) == 0) {
        r->op = SF_OP_GET;
    } else if (it.n == 6 && memcmp(it.data, "delete", 6) == 0) {
        r->op = SF_OP_DELETE;
    } else {
        sf_buf name;
        sf_buf_init(&name);
        sf_json_put_string(&name, it.data, it.n < 64 ? it.n : 64);
        sf_set_err(err, errlen, "unknown op %s (expected create, call, get or delete)", name.data);
        sf_buf_free(&name);
        return -1;
    }
    const char *opname = sf_request_op_name(r->op);
    if (!f[F_ENTITY].p) {
        sf_set_err(err, errlen, "missing \"entity\" in request");
        return -1;
    }
    if (take_name(&f[F_ENTITY], "entity", &r->entity, err, errlen) < 0)
        return -1;
    if (r->op == SF_OP_CREATE) {
        if (f[F_KEY].p) {
            sf_set_err(err, errlen, "\"key\" is not allowed with op create (the key comes from __key__)");
            return -1;
        }
    } else if (!f[F_KEY].p) {
        sf_set_err(err, errlen, "missing \"key\" (required with op %s)", opname);
        return -1;
    }
    if (r->op == SF_OP_CALL) {
        if (!f[F_METHOD].p) {
            sf_set_err(err, errlen, "missing \"method\" (required with op call)");
            return -1;
        }
        if (take_name(&f[F_METHOD], "method", &r->method, err, errlen) < 0)
            return -1;
    } else if (f[F_METHOD].p) {
        sf_set_err(err, errlen, "\"method\" is not allowed with op %s", opname);
        return -1;
    }
    if (f[F_ARGS].p) {
        if (r->op == SF_OP_GET || r->op == SF_OP_DELETE) {
            sf_set_err(err, errlen, "\"args\" is not allowed with op %s", opname);
            return -1;
        }
        pos = 0;
        if (sf_mp_read(f[F_ARGS].p, f[F_ARGS].n, &pos, &it) < 0 || it.kind != SF_MP_ARRAY) {
            sf_set_err(err, errlen, "\"args\" must be an array");
            return -1;
        }
        sf_buf_append(&r->args, f[F_ARGS].p, f[F_ARGS].n);
    } else {
        msgpack_packer pk;
        sf_buf_packer_init(&pk, &r->args);
        msgpack_pack_array(&pk, 0); /* no args: [] */
    }
    /* json.c packs with msgpack-c, so the key is canonical already; the
     * one rule is applied anyway so that no path depends on it */
    if (f[F_KEY].p && sf_msgpack_canonical(f[F_KEY].p, f[F_KEY].n, &r->key, err, errlen) < 0)
        return -1;
    return 0;
}

int sf_request_parse_json(const char *text, size_t len, sf_request *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    sf_buf_init(&r->key);
    sf_buf_init(&r->args);
    sf_buf m;
    sf_buf_init(&m);
    span f[F__COUNT];
    int rc;
    if (sf_json_to_msgpack_ex(text, len, SF_JSON_ENVELOPE, &m, err, errlen) < 0) {
        /* Recover the id for the error reply, if the text is JSON at all. */
        sf_buf_reset(&m);
        if (sf_json_to_msgpack_ex(text, len, SF_JSON_PLAIN | SF_JSON_ENVELOPE, &m, NULL, 0) == 0) {
            (void)collect(&m, f, NULL, 0);
            (void)take_id(&f[F_ID], r, NULL, 0);
        }
        rc = -1;
    } else {
        int crc = collect(&m, f, err, errlen);
        /* the id first, so that every later error can be answered with it */
        char iderr[128];
        int idrc = take_id(&f[F_ID], r, iderr, sizeof iderr);
        if (crc < 0) {
            rc = -1;
        } else if (idrc < 0) {
            sf_set_err(err, errlen, "%s", iderr);
            rc = -1;
        } else {
            rc = check_request(f, r, err, errlen);
        }
    }
    sf_buf_free(&m);
    if (rc < 0) {
        /* keep only the id */
        free(r->entity);
        free(r->method);
        r->entity = r->method = NULL;
        r->op = 0;
        sf_buf_free(&r->key);
        sf_buf_free(&r->args);
    }
    return rc;
}

void sf_request_free(sf_request *r)
{
    free(r->id_json);
    free(r->entity);
    free(r->method);
    sf_buf_free(&r->key);
    sf_buf_free(&r->args);
    memset(r, 0, sizeof *r);
}

static void reply_open(sf_buf *out, const char *id_json)
{
    sf_buf_putc(out, '{');
    if (id_json) {
        sf_buf_puts(out, "\"id\":");
        sf_buf_puts(out, id_json);
        sf_buf_putc(out, ',');
    }
}

int sf_reply_ok_json(sf_buf *out, const char *id_json, const char *msgpack_value, size_t len)
{
    size_t start = out->len;
    reply_open(out, id_json);
    sf_buf_puts(out, "\"ok\":");
    char e[200];
    if (sf_msgpack_to_json(msgpack_value, len, out, e, sizeof e) < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        char msg[256];
        snprintf(msg, sizeof msg, "cannot write the result as JSON: %s", e);
        sf_reply_error_json(out, id_json, "InternalError", msg);
        return -1;
    }
    sf_buf_putc(out, '}');
    return 0;
}

void sf_reply_error_json(sf_buf *out, const char *id_json, const char *type, const char *message)
{
    reply_open(out, id_json);
    sf_buf_puts(out, "\"error\":{\"type\":");
    sf_json_put_string(out, type ? type : "Error", strlen(type ? type : "Error"));
    sf_buf_puts(out, ",\"message\":");
    sf_json_put_string(out, message ? message : "", message ? strlen(message) : 0);
    sf_buf_puts(out, "}}");
}

/* ---- canonical values: equal values, equal bytes ---- */

typedef struct canon {
    msgpack_packer pk;
    sf_buf *out;
    const char *d;
    size_t len, pos;
    char *err;
    size_t errlen;
} canon;

static int canon_value(canon *c, int depth);

typedef struct canon_elem {
    const char *p;
    size_t n;
} canon_elem;

static int canon_elem_cmp(const void *a, const void *b)
{
    const canon_elem *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int r = memcmp(x->p, y->p, n);
    if (r)
        return r;
    return (x->n > y->n) - (x->n < y->n);
}

/* Sort the n canonical elements out[from..) by their bytes (as pycodec
 * orders a set) and drop duplicates; returns the number kept. */
static uint32_t canon_sort_set(canon *c, size_t from, const size_t *offs, uint32_t n)
{
    size_t total = c->out->len - from;
    char *tmp = sf_xrealloc(NULL, total ? total : 1);
    canon_elem *el = sf_xrealloc(NULL, (n ? n : 1) * sizeof *el);
    memcpy(tmp, c->out->data + from, total);
    for (uint32_t i = 0; i < n; i++) {
        el[i].p = tmp + (offs[i] - from);
        el[i].n = (i + 1 < n ? offs[i + 1] : c->out->len) - offs[i];
    }
    qsort(el, n, sizeof *el, canon_elem_cmp);
    char *dst = c->out->data + from;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kept && canon_elem_cmp(&el[i], &el[kept - 1]) == 0)
            continue;
        memcpy(dst, el[i].p, el[i].n);
        el[kept++] = (canon_elem){dst, el[i].n};
        dst += el[i].n;
    }
    c->out->len = (size_t)(dst - c->out->data);
    c->out->data[c->out->len] = '\0';
    free(tmp);
    free(el);
    return kept;
}

/* A tuple, set or reference: the payload is one msgpack array, made
 * canonical too; a set's elements are sorted and unique. */
static int canon_ext_array(canon *c, const sf_mp_item *it, int depth)
{
    canon sub = *c;
    sub.d = it->data;
    sub.len = it->n;
    sub.pos = 0;
    sf_mp_item a;
    if (sf_mp_read(sub.d, sub.len, &sub.pos, &a) < 0 || a.kind != SF_MP_ARRAY) {
        sf_set_err(c->err, c->errlen, "extension type %d: the payload is not an array", it->ext_type);
        return -1;
    }
    size_t hpos = c->out->len;
    sf_buf_append(c->out, "\0\0\0", 3); /* ext header placeholder */
    size_t apos = c->out->len;
    msgpack_pack_array(&c->pk, a.n);
    size_t from = c->out->len;
    size_t small[16];
    size_t *offs = a.n <= 16 ? small : sf_xrealloc(NULL, a.n * sizeof *offs);
    int rc = 0;
    for (uint32_t i = 0; i < a.n && rc == 0; i++) {
        offs[i] = c->out->len;
        rc = canon_value(&sub, depth + 1);
    }
    if (rc == 0 && sub.pos != sub.len) {
        sf_set_err(c->err, c->errlen, "extension type %d: trailing bytes in the payload", it->ext_type);
        rc = -1;
    }
    if (rc == 0 && it->ext_type == SF_EXT_SET && a.n > 1) {
        uint32_t kept = canon_sort_set(c, from, offs, a.n);
        if (kept != a.n) {
            /* rewrite the array header for the unique elements, as
             * msgpack-c writes it: packed at the end, moved to apos */
            size_t end = c->out->len;
            msgpack_pack_array(&c->pk, kept);
            unsigned char h[5];
            size_t hl = c->out->len - end;
            memcpy(h, c->out->data + end, hl);
            c->out->len = end;
            c->out->data[end] = '\0';
            sf_mp_resize_gap(c->out, apos, from - apos, hl);
            memcpy(c->out->data + apos, h, hl);
        }
    }
    if (offs != small)
        free(offs);
    if (rc < 0)
        return -1;
    sf_mp_patch_ext_header(c->out, hpos, 3, it->ext_type);
    return 0;
}

static int canon_value(canon *c, int depth)
{
    if (depth > SF_VALUE_MAX_DEPTH) {
        sf_set_err(c->err, c->errlen, "value nested deeper than %d levels", SF_VALUE_MAX_DEPTH);
        return -1;
    }
    sf_mp_item it;
    if (sf_mp_read(c->d, c->len, &c->pos, &it) < 0) {
        sf_set_err(c->err, c->errlen, "malformed msgpack value");
        return -1;
    }
    switch (it.kind) {
    case SF_MP_NIL: msgpack_pack_nil(&c->pk); return 0;
    case SF_MP_BOOL: it.v.b ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk); return 0;
    case SF_MP_INT: msgpack_pack_int64(&c->pk, it.v.i); return 0;
    case SF_MP_UINT: msgpack_pack_uint64(&c->pk, it.v.u); return 0;
    case SF_MP_FLOAT: msgpack_pack_double(&c->pk, it.v.f); return 0;
    case SF_MP_STR: msgpack_pack_str_with_body(&c->pk, it.data, it.n); return 0;
    case SF_MP_BIN: msgpack_pack_bin_with_body(&c->pk, it.data, it.n); return 0;
    case SF_MP_ARRAY:
        msgpack_pack_array(&c->pk, it.n);
        for (uint32_t i = 0; i < it.n; i++)
            if (canon_value(c, depth + 1) < 0)
                return -1;
        return 0;
    case SF_MP_MAP:
        msgpack_pack_map(&c->pk, it.n);
        for (uint32_t i = 0; i < 2 * it.n; i++)
            if (canon_value(c, depth + 1) < 0)
                return -1;
        return 0;
    case SF_MP_EXT:
        if (it.ext_type == SF_EXT_TUPLE || it.ext_type == SF_EXT_SET || it.ext_type == SF_EXT_REF)
            return canon_ext_array(c, &it, depth);
        msgpack_pack_ext(&c->pk, it.n, it.ext_type);
        msgpack_pack_ext_body(&c->pk, it.data, it.n);
        return 0;
    default:
        sf_set_err(c->err, c->errlen, "malformed msgpack value");
        return -1;
    }
}

int sf_msgpack_canonical(const char *v, size_t len, sf_buf *out, char *err, size_t errlen)
{
    canon c;
    memset(&c, 0, sizeof c);
    sf_buf_packer_init(&c.pk, out);
    c.out = out;
    c.d = v;
    c.len = len;
    c.err = err;
    c.errlen = errlen;
    size_t start = out->len;
    int rc = canon_value(&c, 0);
    if (rc == 0 && c.pos != len) {
        sf_set_err(err, errlen, "trailing bytes after a msgpack value");
        rc = -1;
    }
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}

int sf_reqmap_canonical(const char *req, size_t len, sf_buf *out, char *err, size_t errlen)
{
    sf_reqmap r;
    if (sf_reqmap_decode(req, len, &r, err, errlen) < 0)
        return -1;
    sf_buf key, args;
    sf_buf_init(&key);
    sf_buf_init(&args);
    int rc = -1;
    char e[200] = "";
    if (r.key && sf_msgpack_canonical(r.key, r.key_len, &key, e, sizeof e) < 0) {
        sf_set_err(err, errlen, "\"key\": %s", e);
        goto out;
    }
    if (r.args && sf_msgpack_canonical(r.args, r.args_len, &args, e, sizeof e) < 0) {
        sf_set_err(err, errlen, "\"args\": %s", e);
        goto out;
    }
    sf_reqmap_encode(out, r.id, r.id_len, r.op, r.entity, r.entity_len, r.key ? key.data : NULL, key.len,
                     r.method, r.method_len, r.args ? args.data : NULL, args.len);
    rc = 0;
out:
    sf_buf_free(&key);
    sf_buf_free(&args);
    return rc;
}

/* ---- the request map: the form requests travel in inside stateflowd ---- */

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sf_reqmap_pack_str(sf_buf *out, const char *s, size_t n)
{
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    pack_str(&pk, s, n);
}

void sf_reqmap_encode(sf_buf *out, const char *id, size_t id_len, int op, const char *entity, size_t elen,
                      const char *key, size_t klen, const char *method, size_t mlen, const char *args, size_t alen)
{
    msgpack_packer pk;
    sf_buf_packer_init(&pk, out);
    uint32_t n = 2 + (id != NULL) + (key != NULL) + (method != NULL) + (args != NULL);
    msgpack_pack_map(&pk, n);
    if (id) {
        pack_str(&pk, "id", 2);
        sf_buf_append(out, id, id_len);
    }
    pack_str(&pk, "op", 2);
    const char *name = sf_request_op_name(op);
    pack_str(&pk, name, strlen(name));
    pack_str(&pk, "entity", 6);
    pack_str(&pk, entity, elen);
    if (key) {
        pack_str(&pk, "key", 3);
        sf_buf_append(out, key, klen);
    }
    if (method) {
        pack_str(&pk, "method", 6);
        pack_str(&pk, method, mlen);
    }
    if (args) {
        pack_str(&pk, "args", 4);
        sf_buf_append(out, args, alen);
    }
}

int sf_reqmap_decode(const char *req, size_t len, sf_reqmap *out, char *err, size_t errlen)
{
    static const char *const names[] = {"id", "op", "entity", "key", "method", "args"};
    const char *vp[6] = {0};
    size_t vn[6] = {0};
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    sf_mp_item it;
    if (sf_mp_read(req, len, &pos, &it) < 0 || it.kind != SF_MP_MAP) {
        sf_set_err(err, errlen, "a request must be a map");
        return -1;
    }
    for (uint32_t i = 0; i < it.n; i++) {
        sf_mp_item k;
        if (sf_mp_read(req, len, &pos, &k) < 0 || k.kind != SF_MP_STR) {
            sf_set_err(err, errlen, "request keys must be strings");
            return -1;
        }
        size_t vlen;
        if (sf_msgpack_value_len(req + pos, len - pos, &vlen, err, errlen) < 0)
            return -1;
        int which = -1;
        for (int j = 0; j < 6; j++)
            if (sf_mp_str_is(&k, names[j]))
                which = j;
        if (which < 0) {
            sf_set_err(err, errlen, "unknown member in request (expected id, op, entity, key, method, args)");
            return -1;
        }
        if (vp[which]) {
            sf_set_err(err, errlen, "duplicate member \"%s\" in request", names[which]);
            return -1;
        }
        vp[which] = req + pos;
        vn[which] = vlen;
        pos += vlen;
    }
    if (pos != len) {
        sf_set_err(err, errlen, "trailing bytes after the request map");
        return -1;
    }
    sf_mp_item v;
    size_t p = 0;
    if (!vp[1] || sf_mp_read(vp[1], vn[1], &p, &v) < 0 || v.kind != SF_MP_STR) {
        sf_set_err(err, errlen, "\"op\" must be a string (create, call, get or delete)");
        return -1;
    }
    if (v.n == 6 && memcmp(v.data, "create", 6) == 0)
        out->op = SF_OP_CREATE;
    else if (v.n == 4 && memcmp(v.data, "call", 4) == 0)
        out->op = SF_OP_CALL;
    else if (v.n == 3 && memcmp(v.data, "get", 3) == 0)
        out->op = SF_OP_GET;
    else if (v.n == 6 && memcmp(v.data, "delete", 6) == 0)
        out->op = SF_OP_DELETE;
    else {
        sf_set_err(err, errlen, "unknown op (expected create, call, get or delete)");
        return -1;
    }
    for (int j = 2; j <= 4; j += 2) { /* entity, method */
        if (!vp[j])
            continue;
        p = 0;
        if (sf_mp_read(vp[j], vn[j], &p, &v) < 0 || v.kind != SF_MP_STR || v.n == 0 || v.n > SF_REQUEST_MAX_NAME ||
            memchr(v.data, '\0', v.n)) {
            sf_set_err(err, errlen, "\"%s\" must be a non-empty string of at most %d bytes without NUL", names[j],
                    SF_REQUEST_MAX_NAME);
            return -1;
        }
        if (j == 2) {
            out->entity = v.data;
            out->entity_len = v.n;
        } else {
            out->method = v.data;
            out->method_len = v.n;
        }
    }
    if (!vp[2]) {
        sf_set_err(err, errlen, "missing \"entity\" in request");
        return -1;
    }
    if ((out->op == SF_OP_CREATE) != (vp[3] == NULL)) {
        sf_set_err(err, errlen, out->op == SF_OP_CREATE ? "\"key\" is not allowed with op create"
                                                     : "missing \"key\" in request");
        return -1;
    }
    if ((out->op == SF_OP_CALL) != (vp[4] != NULL)) {
        sf_set_err(err, errlen, out->op == SF_OP_CALL ? "missing \"method\" (required with op call)"
                                                   : "\"method\" is only allowed with op call");
        return -1;
    }
    if (vp[5]) {
        p = 0;
        if (out->op == SF_OP_GET || out->op == SF_OP_DELETE) {
            sf_set_err(err, errlen, "\"args\" is not allowed with op %s", sf_request_op_name(out->op));
            return -1;
        }
        if (sf_mp_read(vp[5], vn[5], &p, &v) < 0 || v.kind != SF_MP_ARRAY) {
            sf_set_err(err, errlen, "\"args\" must be an array");
            return -1;
        }
    }
    if (vp[0]) {
        p = 0;
        if (sf_mp_read(vp[0], vn[0], &p, &v) < 0 ||
            (v.kind != SF_MP_STR && v.kind != SF_MP_INT && v.kind != SF_MP_UINT && v.kind != SF_MP_FLOAT)) {
            sf_set_err(err, errlen, "\"id\" must be a string or a number");
            return -1;
        }
    }
    out->key = vp[3];
    out->key_len = vn[3];
    out->args = vp[5];
    out->args_len = vn[5];
    out->id = vp[0];
    out->id_len = vn[0];
    return 0;
}
