/* modules.c: loads and merges the local modules of an application (see
 * modules.h). */
#include "modules.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parse.h"
#include "stateflow/sf_buf.h"

#define NBUCKETS 1024

/* One module-level name bound in module k; origin says what it is bound to
 * ("@k:line" for a definition in module k, "mod.name" for an import). */
typedef struct binding {
    const char *name, *origin;
    int k, line;
    struct binding *next;
} binding;

typedef struct loader {
    sf_arena *a;
    sf_diag *d;
    const char *entry_dir;
    const char **files;              /* in the arena; also d->files */
    char *real[SF_APP_MAX_MODULES];
    int state[SF_APP_MAX_MODULES];   /* 1 running, 2 done */
    int n;
    size_t total;
    sf_stmt_list out, futures;
    binding *names[NBUCKETS];
} loader;

static unsigned hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % NBUCKETS;
}

static binding *lookup(loader *L, int k, const char *name)
{
    for (binding *b = L->names[hash(name)]; b; b = b->next)
        if (b->k == k && strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

static int is_dunder(const char *n)
{
    size_t len = strlen(n);
    return len > 4 && n[0] == '_' && n[1] == '_' && n[len - 1] == '_' && n[len - 2] == '_';
}

/* Bind name in module k; a name another module binds to something else is a
 * clash (the merged module has one namespace). */
static void bind(loader *L, int k, const char *name, const char *origin, int line, int col)
{
    unsigned h = hash(name);
    if (!is_dunder(name))
        for (binding *b = L->names[h]; b; b = b->next)
            if (b->k != k && strcmp(b->name, name) == 0 && strcmp(b->origin, origin) != 0) {
                int fl;
                const char *f = sf_diag_file_line(L->d, b->line, &fl);
                sf_diag_error(L->d, line, col,
                              "'%s' is also a module-level name of %s (line %d): the modules of an "
                              "application are compiled into one namespace, rename one of them",
                              name, f, fl);
                break;
            }
    binding *b = lookup(L, k, name);
    if (!b) {
        b = sf_arena_alloc(L->a, sizeof(*b));
        b->name = name;
        b->k = k;
        b->next = L->names[h];
        L->names[h] = b;
    }
    b->origin = origin;
    b->line = line;
}

static void bind_target(loader *L, int k, const sf_expr *t, const char *origin)
{
    if (!t)
        return;
    if (t->kind == SF_EX_NAME)
        bind(L, k, t->u.name.id, origin, t->pos.line, t->pos.col);
    else if (t->kind == SF_EX_TUPLE || t->kind == SF_EX_LIST)
        for (int i = 0; i < t->u.seq.elts.n; i++)
            bind_target(L, k, t->u.seq.elts.v[i], origin);
    else if (t->kind == SF_EX_STARRED)
        bind_target(L, k, t->u.starred.value, origin);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *dir_of(loader *L, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    return sf_arena_strndup(L->a, path, (size_t)(slash - path));
}

/* The file of module `name` in dir (name.py or name/__init__.py), or NULL. */
static const char *module_file(loader *L, const char *dir, const char *name, size_t n)
{
    const char *sep = "/";
    if (strcmp(dir, ".") == 0)
        dir = sep = "";   /* "b.py", not "./b.py", in messages */
    const char *f = sf_arena_printf(L->a, "%s%s%.*s.py", dir, sep, (int)n, name);
    if (is_file(f))
        return f;
    f = sf_arena_printf(L->a, "%s%s%.*s/__init__.py", dir, sep, (int)n, name);
    return is_file(f) ? f : NULL;
}

static int include(loader *L, const char *path, const sf_stmt *at);
static void merge(loader *L, int k, const sf_stmt_list *body);

/* Resolve and run (include) the local module an import names, with its
 * parent packages first. Returns its index, -1 when it is not local (an
 * absolute import of something else), -2 after an error. */
static int import_local(loader *L, int k, const sf_stmt *s, int level, const char *dotted)
{
    const char *base = L->entry_dir;
    if (level > 0) {
        base = dir_of(L, L->files[k]);
        for (int i = 1; i < level; i++)
            base = sf_arena_printf(L->a, "%s/..", base);
    }
    if (!dotted) {   /* from . import x: the package itself */
        const char *init = sf_arena_printf(L->a, "%s/__init__.py", base);
        if (!is_file(init)) {
            sf_diag_error(L->d, s->pos.line, s->pos.col,
                          "no local package here to import from (%s not found)", init);
            return -2;
        }
        return include(L, init, s);
    }
    const char *dir = base;
    const char *p = dotted;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        const char *f = module_file(L, dir, p, n);
        if (!f) {
            if (level == 0 && p == dotted)
                return -1;   /* not a local module: stays an ordinary import */
            sf_diag_error(L->d, s->pos.line, s->pos.col, "no local module '%s%s' (looked for %s/%.*s.py and %s/%.*s/__init__.py)",
                          level > 0 ? "." : "", dotted, dir, (int)n, p, dir, (int)n, p);
            return -2;
        }
        if (dot && !strstr(f, "/__init__.py")) {
            sf_diag_error(L->d, s->pos.line, s->pos.col, "'%.*s' is a module, not a package: cannot import '%s' from it",
                          (int)n, p, dotted);
            return -2;
        }
        int m = include(L, f, s);
        if (m < 0 || !dot)
            return m < 0 ? -2 : m;
        dir = sf_arena_printf(L->a, "%s/%.*s", dir, (int)n, p);
        p = dot + 1;
    }
}

static void merge_import_from(loader *L, int k, sf_stmt *s)
{
    const char *mod = s->u.import.module;
    int level = s->u.import.level;
    if (level == 0 && mod && strcmp(mod, "__future__") == 0) {
        for (int i = 0; i < s->u.import.nnames; i++)
            bind(L, k, s->u.import.names[i].name, "__future__", s->pos.line, s->pos.col);
        sf_stmt_list_push(L->a, &L->futures, s);
        return;
    }
    int m = import_local(L, k, s, level, mod);
    if (m == -2)
        return;
    if (m == -1) {   /* an ordinary import */
        for (int i = 0; i < s->u.import.nnames; i++) {
            const sf_alias *al = &s->u.import.names[i];
            if (strcmp(al->name, "*") != 0)
                bind(L, k, al->asname ? al->asname : al->name,
                     sf_arena_printf(L->a, "%s.%s", mod, al->name), s->pos.line, s->pos.col);
        }
        sf_stmt_list_push(L->a, &L->out, s);
        return;
    }
    const char *shown = sf_arena_printf(L->a, "%.*s%s", level, "..........", mod ? mod : "");
    const char *pkgdir = dir_of(L, L->files[m]);
    int is_pkg = strstr(L->files[m], "/__init__.py") != NULL;
    for (int i = 0; i < s->u.import.nnames; i++) {
        const sf_alias *al = &s->u.import.names[i];
        if (strcmp(al->name, "*") == 0) {
            sf_diag_error(L->d, s->pos.line, s->pos.col,
                          "`from %s import *` of a local module is not supported: name what you import", shown);
            continue;
        }
        if (is_pkg && module_file(L, pkgdir, al->name, strlen(al->name))) {
            sf_diag_error(L->d, s->pos.line, s->pos.col,
                          "'%s' is a module: importing a local module as a value is not supported, "
                          "write `from %s%s%s import Name`",
                          al->name, shown, mod ? "." : "", al->name);
            continue;
        }
        if (al->asname && strcmp(al->asname, al->name) != 0) {
            sf_diag_error(L->d, s->pos.line, s->pos.col,
                          "`import %s as %s` from a local module is not supported: import it as %s",
                          al->name, al->asname, al->name);
            continue;
        }
        binding *b = lookup(L, m, al->name);
        if (!b) {
            if (L->state[m] == 1)
                sf_diag_error(L->d, s->pos.line, s->pos.col,
                              "cannot import name '%s' from partially initialized module '%s' "
                              "(a circular import: it is not defined yet at this point)", al->name, shown);
            else
                sf_diag_error(L->d, s->pos.line, s->pos.col, "cannot import name '%s' from '%s' (%s)",
                              al->name, shown, L->files[m]);
            continue;
        }
        bind(L, k, al->name, b->origin, s->pos.line, s->pos.col);
    }
}

static void merge_import(loader *L, int k, sf_stmt *s)
{
    for (int i = 0; i < s->u.import.nnames; i++) {
        const sf_alias *al = &s->u.import.names[i];
        const char *dot = strchr(al->name, '.');
        size_t n = dot ? (size_t)(dot - al->name) : strlen(al->name);
        if (module_file(L, L->entry_dir, al->name, n)) {
            sf_diag_error(L->d, s->pos.line, s->pos.col,
                          "`import %s` of a local module is not supported: write `from %s import Name`",
                          al->name, al->name);
            return;
        }
        if (al->asname)
            bind(L, k, al->asname, al->name, s->pos.line, s->pos.col);
        else
            bind(L, k, sf_arena_strndup(L->a, al->name, n), sf_arena_strndup(L->a, al->name, n),
                 s->pos.line, s->pos.col);
    }
    sf_stmt_list_push(L->a, &L->out, s);
}

/* Names bound inside a compound statement at module level; a local import
 * there is refused (it would run conditionally). */
static void scan_nested(loader *L, int k, const sf_stmt_list *body);

static void bind_stmt(loader *L, int k, const sf_stmt *s)
{
    const char *origin = sf_arena_printf(L->a, "@%d:%d", k, s->pos.line);
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF:
    case SF_ST_ASYNCFUNCTIONDEF:
        bind(L, k, s->u.func.name, origin, s->pos.line, s->pos.col);
        break;
    case SF_ST_CLASSDEF:
        bind(L, k, s->u.cls.name, origin, s->pos.line, s->pos.col);
        break;
    case SF_ST_ASSIGN:
        for (int i = 0; i < s->u.assign.targets.n; i++)
            bind_target(L, k, s->u.assign.targets.v[i], origin);
        break;
    case SF_ST_AUGASSIGN:
        bind_target(L, k, s->u.augassign.target, origin);
        break;
    case SF_ST_ANNASSIGN:
        if (s->u.annassign.value)
            bind_target(L, k, s->u.annassign.target, origin);
        break;
    case SF_ST_FOR:
    case SF_ST_ASYNCFOR:
        bind_target(L, k, s->u.for_.target, origin);
        scan_nested(L, k, &s->u.for_.body);
        scan_nested(L, k, &s->u.for_.orelse);
        break;
    case SF_ST_WHILE:
        scan_nested(L, k, &s->u.while_.body);
        scan_nested(L, k, &s->u.while_.orelse);
        break;
    case SF_ST_IF:
        scan_nested(L, k, &s->u.if_.body);
        scan_nested(L, k, &s->u.if_.orelse);
        break;
    case SF_ST_WITH:
    case SF_ST_ASYNCWITH:
        for (int i = 0; i < s->u.with.nitems; i++)
            bind_target(L, k, s->u.with.items[i].vars, origin);
        scan_nested(L, k, &s->u.with.body);
        break;
    case SF_ST_TRY:
    case SF_ST_TRYSTAR:
        scan_nested(L, k, &s->u.try_.body);
        for (int i = 0; i < s->u.try_.nhandlers; i++)
            scan_nested(L, k, &s->u.try_.handlers[i].body);
        scan_nested(L, k, &s->u.try_.orelse);
        scan_nested(L, k, &s->u.try_.finalbody);
        break;
    default:
        break;
    }
}

static void scan_nested(loader *L, int k, const sf_stmt_list *body)
{
    for (int i = 0; i < body->n; i++) {
        const sf_stmt *s = body->v[i];
        if (s->kind == SF_ST_IMPORT || s->kind == SF_ST_IMPORTFROM) {
            const char *mod = s->u.import.module;
            int local = s->kind == SF_ST_IMPORTFROM ? s->u.import.level > 0 ||
                        (mod && module_file(L, L->entry_dir, mod, strcspn(mod, ".")))
                        : 0;
            for (int j = 0; s->kind == SF_ST_IMPORT && j < s->u.import.nnames; j++)
                local |= module_file(L, L->entry_dir, s->u.import.names[j].name,
                                     strcspn(s->u.import.names[j].name, ".")) != NULL;
            if (local)
                sf_diag_error(L->d, s->pos.line, s->pos.col,
                              "a local module is imported only at module level (not inside if, try, for, while or with)");
            continue;
        }
        bind_stmt(L, k, s);
    }
}

static void merge(loader *L, int k, const sf_stmt_list *body)
{
    for (int i = 0; i < body->n; i++) {
        sf_stmt *s = body->v[i];
        if (s->kind == SF_ST_IMPORTFROM)
            merge_import_from(L, k, s);
        else if (s->kind == SF_ST_IMPORT)
            merge_import(L, k, s);
        else {
            bind_stmt(L, k, s);
            sf_stmt_list_push(L->a, &L->out, s);
        }
    }
}

int sf_read_source(const char *path, sf_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > SF_PARSE_MAX_SOURCE) {
            snprintf(err, errlen, "file too large (limit %u bytes)", SF_PARSE_MAX_SOURCE);
            rc = -1;
            break;
        }
        sf_buf_append(b, chunk, n);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "read error");
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* Parse module k (already registered) and merge its body. */
static int parse_and_merge(loader *L, int k, const char *source, size_t len, const sf_stmt *at)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += source[i] == '\n';
    if (lines >= (1u << SF_DIAG_FILE_SHIFT)) {
        sf_diag_error(L->d, at ? at->pos.line : 0, at ? at->pos.col : 0,
                      "%s: too many lines (limit %u)", L->files[k], (1u << SF_DIAG_FILE_SHIFT) - 1);
        return -1;
    }
    int before = L->d->n;
    sf_module m;
    int rc = sf_parse_at(L->a, L->files[k], source, len, k << SF_DIAG_FILE_SHIFT, &m, L->d);
    for (int i = before; i < L->d->n; i++)   /* errors with the file's own lines */
        if ((L->d->v[i].line >> SF_DIAG_FILE_SHIFT) == 0)
            L->d->v[i].line += k << SF_DIAG_FILE_SHIFT;
    if (rc < 0)
        return -1;
    L->state[k] = 1;
    merge(L, k, &m.body);
    L->state[k] = 2;
    return 0;
}

/* The index of the module in path, run first (merged here) if it is new. */
static int include(loader *L, const char *path, const sf_stmt *at)
{
    char *real = realpath(path, NULL);
    if (!real) {
        sf_diag_error(L->d, at->pos.line, at->pos.col, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < L->n; i++)
        if (strcmp(L->real[i], real) == 0) {
            free(real);
            return i;
        }
    if (L->n == SF_APP_MAX_MODULES) {
        sf_diag_error(L->d, at->pos.line, at->pos.col, "too many local modules (limit %d)", SF_APP_MAX_MODULES);
        free(real);
        return -1;
    }
    int k = L->n++;
    L->real[k] = real;
    L->files[k] = sf_arena_strdup(L->a, path);
    L->d->nfiles = L->n;
    char err[256];
    sf_buf b;
    sf_buf_init(&b);
    if (sf_read_source(path, &b, err, sizeof(err)) < 0) {
        sf_diag_error(L->d, at->pos.line, at->pos.col, "%s: %s", path, err);
        sf_buf_free(&b);
        return -1;
    }
    if (L->total + b.len > SF_PARSE_MAX_SOURCE) {
        sf_diag_error(L->d, at->pos.line, at->pos.col, "the application's modules are too large together (limit %u bytes)",
                      SF_PARSE_MAX_SOURCE);
        sf_buf_free(&b);
        return -1;
    }
    L->total += b.len;
    int rc = parse_and_merge(L, k, b.data ? b.data : "", b.len, at);
    sf_buf_free(&b);
    return rc < 0 ? -1 : k;
}

int sf_load_app(sf_arena *a, const char *path, const char *source, size_t len,
                sf_module *mod, sf_diag *d)
{
    memset(mod, 0, sizeof(*mod));
    loader *L = calloc(1, sizeof(*L));
    if (!L) {
        sf_diag_error(d, 0, 0, "out of memory");
        return -1;
    }
    L->a = a;
    L->d = d;
    L->entry_dir = dir_of(L, path);
    const char **files = sf_arena_alloc(a, sizeof(char *) * SF_APP_MAX_MODULES);
    L->files = files;
    L->files[0] = sf_arena_strdup(a, path);
    L->real[0] = realpath(path, NULL);
    if (!L->real[0])
        L->real[0] = strdup(path);
    L->n = 1;
    L->total = len;
    L->d->files = files;
    L->d->nfiles = 1;
    int before = d->n;
    int rc = parse_and_merge(L, 0, source, len, NULL);
    if (rc == 0 && d->n == before) {
        mod->filename = sf_arena_strdup(a, path);
        mod->source = sf_arena_strndup(a, source ? source : "", len);
        /* __future__ imports first, once each */
        sf_stmt_list body = {0};
        for (int i = 0; i < L->futures.n; i++) {
            sf_stmt *f = L->futures.v[i];
            int dup = 0;
            for (int j = 0; j < body.n && !dup; j++)
                dup = body.v[j]->u.import.nnames == 1 && f->u.import.nnames == 1 &&
                      strcmp(body.v[j]->u.import.names[0].name, f->u.import.names[0].name) == 0;
            if (!dup)
                sf_stmt_list_push(a, &body, f);
        }
        for (int i = 0; i < L->out.n; i++)
            sf_stmt_list_push(a, &body, L->out.v[i]);
        mod->body = body;
        mod->files = files;
        mod->nfiles = L->n;
    } else {
        rc = -1;
    }
    for (int i = 0; i < L->n; i++)
        free(L->real[i]);
    free(L);
    return rc;
}
