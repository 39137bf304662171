/* ir_write.c: serialising an sf_ir to the .sfir msgpack document
 * (sf_ir_encode) and writing it to disk atomically (sf_ir_write_file).
 *
 * The schema is described in docs/ir.md ("The file format"). Every record is a
 * map with string keys, written in a fixed order so that equal IRs give
 * identical bytes. Before returning, the encoder runs the loader's validation
 * over its own output, so the compiler can never write a file the runtime
 * would refuse. */
#include "stateflow/sf_ir.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wr {
    msgpack_packer pk;
    int failed;          /* a msgpack write failed (out of memory) */
    char *err;
    size_t errlen;
    int bad;             /* the IR itself is malformed; message in err */
} wr;

static void wr_fail(wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wr_fail(wr *w, const char *fmt, ...)
{
    if (w->bad)
        return;
    w->bad = 1;
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
}

static void p_str(wr *w, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (msgpack_pack_str(&w->pk, n) || msgpack_pack_str_body(&w->pk, s, n))
        w->failed = 1;
}

static void p_int(wr *w, int64_t v)
{
    if (msgpack_pack_int64(&w->pk, v))
        w->failed = 1;
}

static void p_bool(wr *w, int v)
{
    if (v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk))
        w->failed = 1;
}

static void p_map(wr *w, size_t n)
{
    if (msgpack_pack_map(&w->pk, n))
        w->failed = 1;
}

/* An array header; a negative count or a missing array is a malformed IR. */
static int p_array(wr *w, int n, const void *items, const char *what)
{
    if (n < 0 || (n > 0 && !items)) {
        wr_fail(w, "%s: invalid count %d", what, n);
        n = 0;
    }
    if (msgpack_pack_array(&w->pk, (size_t)n))
        w->failed = 1;
    return n;
}

static void p_key(wr *w, const char *k) { p_str(w, k); }

static void p_strlist(wr *w, const char *const *v, int n, const char *what)
{
    n = p_array(w, n, v, what);
    for (int i = 0; i < n; i++)
        p_str(w, v[i]);
}

/* Types: ["int"], ["list", T], ["dict", K, V], ["tuple", T...],
 * ["entity", "Item"]; a NULL type is written as ["any"]. */
static void p_type(wr *w, const sf_type *t, int depth)
{
    if (depth > SF_IR_MAX_TYPE_DEPTH) {
        wr_fail(w, "type nested deeper than %d levels", SF_IR_MAX_TYPE_DEPTH);
        p_array(w, 1, "", "type");
        p_str(w, "any");
        return;
    }
    if (!t) {
        p_array(w, 1, "", "type");
        p_str(w, "any");
        return;
    }
    if ((int)t->kind < 0 || t->kind >= SF_TYPE__COUNT) {
        wr_fail(w, "invalid type kind %d", (int)t->kind);
        p_array(w, 1, "", "type");
        p_str(w, "any");
        return;
    }
    if (t->kind == SF_TYPE_ENTITY) {
        p_array(w, 2, "", "type");
        p_str(w, "entity");
        p_str(w, t->entity);
        return;
    }
    int n = t->nargs;
    if (n < 0 || (n > 0 && !t->args)) {
        wr_fail(w, "type %s: invalid argument count %d", sf_type_kind_name(t->kind), n);
        n = 0;
    }
    p_array(w, n + 1, "", "type");
    p_str(w, sf_type_kind_name(t->kind));
    for (int i = 0; i < n; i++)
        p_type(w, t->args[i], depth + 1);
}

static const struct {
    unsigned bit;
    const char *name;
} method_flags[] = {
    {SF_METHOD_READ_ONLY, "read_only"}, {SF_METHOD_SPLIT, "split"},
    {SF_METHOD_INIT, "init"},           {SF_METHOD_ACCESSOR, "accessor"},
    {SF_METHOD_INTERNAL, "internal"},
};

static void p_flags(wr *w, unsigned flags)
{
    unsigned known = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof(method_flags) / sizeof(method_flags[0]); i++) {
        known |= method_flags[i].bit;
        if (flags & method_flags[i].bit)
            n++;
    }
    if (flags & ~known)
        wr_fail(w, "unknown method flags 0x%x", flags & ~known);
    p_array(w, n, "", "flags");
    for (size_t i = 0; i < sizeof(method_flags) / sizeof(method_flags[0]); i++)
        if (flags & method_flags[i].bit)
            p_str(w, method_flags[i].name);
}

static const char *exit_kind_name(sf_ir_exit_kind k)
{
    switch (k) {
    case SF_EXIT_RETURN: return "return";
    case SF_EXIT_CALL: return "call";
    case SF_EXIT_JUMP: return "jump";
    }
    return NULL;
}

static void p_exit(wr *w, const sf_ir_exit *x)
{
    const char *kind = exit_kind_name(x->kind);
    if (!kind) {
        wr_fail(w, "invalid exit kind %d", (int)x->kind);
        kind = "return";
    }
    if (x->kind == SF_EXIT_CALL) {
        p_map(w, 5);
        p_key(w, "kind"), p_str(w, kind);
        p_key(w, "target"), p_int(w, x->target);
        p_key(w, "entity"), p_str(w, x->entity);
        p_key(w, "method"), p_str(w, x->method);
        p_key(w, "bind"), p_str(w, x->bind);
    } else if (x->kind == SF_EXIT_JUMP) {
        p_map(w, 2);
        p_key(w, "kind"), p_str(w, kind);
        p_key(w, "target"), p_int(w, x->target);
    } else {
        p_map(w, 1);
        p_key(w, "kind"), p_str(w, kind);
    }
}

static void p_block(wr *w, const sf_ir_block *b)
{
    p_map(w, 5);
    p_key(w, "id"), p_int(w, b->id);
    p_key(w, "function"), p_str(w, b->function);
    p_key(w, "line"), p_int(w, b->line);
    p_key(w, "live_in"), p_strlist(w, b->live_in, b->nlive_in, "live_in");
    p_key(w, "exits");
    int n = p_array(w, b->nexits, b->exits, "exits");
    for (int i = 0; i < n; i++)
        p_exit(w, &b->exits[i]);
}

static void p_method(wr *w, const sf_ir_method *m)
{
    p_map(w, 9);
    p_key(w, "name"), p_str(w, m->name);
    p_key(w, "line"), p_int(w, m->line);
    p_key(w, "flags"), p_flags(w, m->flags);
    p_key(w, "params");
    int n = p_array(w, m->nparams, m->params, "params");
    for (int i = 0; i < n; i++) {
        const sf_ir_param *p = &m->params[i];
        p_map(w, 3);
        p_key(w, "name"), p_str(w, p->name);
        p_key(w, "type"), p_type(w, p->type, 1);
        p_key(w, "has_default"), p_bool(w, p->has_default);
    }
    p_key(w, "returns"), p_type(w, m->returns, 1);
    p_key(w, "reads"), p_strlist(w, m->reads, m->nreads, "reads");
    p_key(w, "writes"), p_strlist(w, m->writes, m->nwrites, "writes");
    p_key(w, "calls");
    n = p_array(w, m->ncalls, m->calls, "calls");
    for (int i = 0; i < n; i++) {
        const sf_ir_call *c = &m->calls[i];
        p_map(w, 3);
        p_key(w, "entity"), p_str(w, c->entity);
        p_key(w, "method"), p_str(w, c->method);
        p_key(w, "line"), p_int(w, c->line);
    }
    p_key(w, "blocks");
    n = p_array(w, m->nblocks, m->blocks, "blocks");
    for (int i = 0; i < n; i++)
        p_block(w, &m->blocks[i]);
}

static void p_entity(wr *w, const sf_ir_entity *e)
{
    p_map(w, 5);
    p_key(w, "name"), p_str(w, e->name);
    p_key(w, "line"), p_int(w, e->line);
    p_key(w, "key"), p_strlist(w, e->key, e->nkey, "key");
    p_key(w, "attrs");
    int n = p_array(w, e->nattrs, e->attrs, "attrs");
    for (int i = 0; i < n; i++) {
        const sf_ir_attr *a = &e->attrs[i];
        p_map(w, 3);
        p_key(w, "name"), p_str(w, a->name);
        p_key(w, "type"), p_type(w, a->type, 1);
        p_key(w, "line"), p_int(w, a->line);
    }
    p_key(w, "methods");
    n = p_array(w, e->nmethods, e->methods, "methods");
    for (int i = 0; i < n; i++)
        p_method(w, &e->methods[i]);
}

int sf_ir_encode(const sf_ir *ir, char **out, size_t *outlen, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    *out = NULL;
    *outlen = 0;
    if (!ir) {
        snprintf(err, errlen, "no IR to encode");
        return -1;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    wr w = {.err = err, .errlen = errlen};
    msgpack_packer_init(&w.pk, &sbuf, msgpack_sbuffer_write);

    p_map(&w, 8);
    p_key(&w, "magic"), p_str(&w, SF_IR_MAGIC);
    p_key(&w, "version"), p_int(&w, SF_IR_VERSION);
    p_key(&w, "module"), p_str(&w, ir->module);
    p_key(&w, "filename"), p_str(&w, ir->filename);
    p_key(&w, "source"), p_str(&w, ir->source);
    p_key(&w, "python"), p_str(&w, ir->python);
    p_key(&w, "entities");
    int n = p_array(&w, ir->nentities, ir->entities, "entities");
    for (int i = 0; i < n; i++)
        p_entity(&w, &ir->entities[i]);
    p_key(&w, "edges");
    n = p_array(&w, ir->nedges, ir->edges, "edges");
    for (int i = 0; i < n; i++) {
        const sf_ir_edge *e = &ir->edges[i];
        p_map(&w, 4);
        p_key(&w, "from_entity"), p_str(&w, e->from_entity);
        p_key(&w, "from_method"), p_str(&w, e->from_method);
        p_key(&w, "to_entity"), p_str(&w, e->to_entity);
        p_key(&w, "to_method"), p_str(&w, e->to_method);
    }

    if (w.failed || w.bad) {
        if (w.failed)
            snprintf(err, errlen, "out of memory while encoding the IR");
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    /* Self-check: what we write must load. */
    char verr[512];
    sf_ir *check = sf_ir_decode(sbuf.data, sbuf.size, verr, sizeof(verr));
    if (!check) {
        snprintf(err, errlen, "invalid IR: %s", verr);
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    sf_ir_free(check);
    *outlen = sbuf.size;
    *out = msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* Write all of buf to fd, retrying short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, buf, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += k;
        len -= (size_t)k;
    }
    return 0;
}

int sf_ir_write_file(const sf_ir *ir, const char *path, char *err, size_t errlen)
{
    char *data;
    size_t len;
    char eerr[512];
    if (sf_ir_encode(ir, &data, &len, eerr, sizeof(eerr)) < 0) {
        snprintf(err, errlen, "%s: %s", path, eerr);
        return -1;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
    if (!tmp) {
        free(data);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        free(data);
        return -1;
    }
    const char *step = NULL;
    if (fchmod(fd, 0644) < 0)
        step = "cannot set permissions";
    else if (write_all(fd, data, len) < 0)
        step = "write failed";
    else if (fsync(fd) < 0)
        step = "fsync failed";
    int saved = errno;
    if (close(fd) < 0 && !step) {
        step = "close failed";
        saved = errno;
    }
    if (!step && rename(tmp, path) < 0) {
        step = "rename failed";
        saved = errno;
    }
    if (step) {
        snprintf(err, errlen, "%s: %s: %s", path, step, strerror(saved));
        unlink(tmp);
        free(tmp);
        free(data);
        return -1;
    }
    /* Make the rename durable: fsync the directory (best effort). */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(tmp);
    free(data);
    return 0;
}
