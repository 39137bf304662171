/* sfc.c: the compiler driver. Runs the pipeline parse -> analyse -> split ->
 * emit and writes the .sfir; also prints an IR (--dump, --dot) or the
 * generated Python (--emit-python). Exit status: 0 ok, 1 compile errors,
 * 2 usage or I/O errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyse.h"
#include "emit.h"
#include "modules.h"
#include "parse.h"
#include "split.h"
#include "stateflow/sf_buf.h"
#include "stateflow/sf_ir.h"

#define SFC_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sfc APP.py [-o APP.sfir]   compile (default output: APP.sfir)\n"
            "       sfc --emit-python APP.py   print the generated Python module\n"
            "       sfc --dump APP.sfir|APP.py print the IR readably\n"
            "       sfc --dot APP.sfir|APP.py  print the dataflow and block graphs (Graphviz)\n"
            "       sfc --version | --help\n");
}

static int read_file(const char *path, char **out, size_t *len)
{
    char err[256];
    sf_buf b;
    sf_buf_init(&b);
    if (sf_read_source(path, &b, err, sizeof(err)) < 0) {
        fprintf(stderr, "sfc: %s: %s\n", path, err);
        sf_buf_free(&b);
        return -1;
    }
    *out = sf_buf_steal(&b, len);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "dir/app.py" -> "app" */
static char *module_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".py") == 0)
        n -= 3;
    char *m = malloc(n + 1);
    if (!m)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        m[i] = ok ? c : '_';
    }
    m[n] = '\0';
    if (n == 0) {
        free(m);
        m = strdup("app");
    }
    return m;
}

/* Lines of entities from other modules of the application: the file's own
 * line (the IR names one file). */
static int own_line(int line) { return line & ((1 << SF_DIAG_FILE_SHIFT) - 1); }

static void own_lines(sf_ir *ir)
{
    for (int e = 0; e < ir->nentities; e++) {
        sf_ir_entity *en = &ir->entities[e];
        en->line = own_line(en->line);
        for (int i = 0; i < en->nattrs; i++)
            en->attrs[i].line = own_line(en->attrs[i].line);
        for (int i = 0; i < en->nmethods; i++) {
            sf_ir_method *m = &en->methods[i];
            m->line = own_line(m->line);
            for (int j = 0; j < m->ncalls; j++)
                m->calls[j].line = own_line(m->calls[j].line);
            for (int j = 0; j < m->nblocks; j++)
                m->blocks[j].line = own_line(m->blocks[j].line);
        }
    }
}

/* Compile path into a new IR; NULL after printing errors. */
static sf_ir *compile(const char *path, int print_python)
{
    char *source = NULL;
    size_t len = 0;
    if (read_file(path, &source, &len) < 0)
        return NULL;
    char err[512];
    if (sf_python_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "sfc: cannot start the Python parser: %s\n", err);
        free(source);
        return NULL;
    }
    sf_arena arena;
    sf_arena_init(&arena);
    sf_diag diag;
    sf_diag_init(&diag, path);
    sf_module mod;
    memset(&mod, 0, sizeof(mod));
    int rc = sf_load_app(&arena, path, source, len, &mod, &diag);
    sf_python_fini();

    sf_ir *ir = NULL;
    if (rc == 0) {
        ir = sf_ir_new();
        sf_program prog;
        memset(&prog, 0, sizeof(prog));
        prog.arena = &arena;
        prog.mod = &mod;
        prog.ir = ir;
        sf_stmt_list fns = {0};
        if (sf_analyse(&prog, &diag) == 0 && sf_split(&prog, &diag, &fns) == 0) {
            char *mname = module_name(path);
            ir->module = sf_arena_strdup(&ir->arena, mname ? mname : "app");
            free(mname);
            ir->filename = sf_arena_strdup(&ir->arena, path);
            ir->source = sf_arena_strndup(&ir->arena, source, len);
            sf_buf py;
            sf_buf_init(&py);
            sf_emit_module(&prog, &fns, &py);
            ir->python = sf_arena_strndup(&ir->arena, py.data, py.len);
            if (print_python)
                fwrite(py.data, 1, py.len, stdout);
            sf_buf_free(&py);
            own_lines(ir);
        }
    }
    if (sf_diag_count(&diag) > 0) {
        sf_diag_print(&diag, stderr);
        if (ir)
            sf_ir_free(ir);
        ir = NULL;
    }
    sf_diag_free(&diag);
    sf_arena_free(&arena);
    free(source);
    return ir;
}

static sf_ir *load_any(const char *path)
{
    if (ends_with(path, ".py"))
        return compile(path, 0);
    char err[512];
    sf_ir *ir = sf_ir_load_file(path, err, sizeof(err));
    if (!ir)
        fprintf(stderr, "sfc: %s\n", err);
    return ir;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *input = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("sfc %s (IR format %d)\n", SFC_VERSION, SF_IR_VERSION);
            return 0;
        } else if (strcmp(a, "--dump") == 0 || strcmp(a, "--dot") == 0 || strcmp(a, "--emit-python") == 0) {
            if (mode) {
                fprintf(stderr, "sfc: choose one of --dump, --dot, --emit-python\n");
                return 2;
            }
            mode = a;
        } else if (strcmp(a, "-o") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "sfc: -o needs a file name\n");
                return 2;
            }
            output = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sfc: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!input) {
            input = a;
        } else {
            fprintf(stderr, "sfc: more than one input file ('%s' and '%s')\n", input, a);
            return 2;
        }
    }
    if (!input) {
        usage(stderr);
        return 2;
    }

    if (mode && strcmp(mode, "--emit-python") == 0) {
        sf_ir *ir = compile(input, 1);
        if (!ir)
            return 1;
        sf_ir_free(ir);
        return 0;
    }
    if (mode) {
        sf_ir *ir = load_any(input);
        if (!ir)
            return 1;
        if (strcmp(mode, "--dump") == 0)
            sf_ir_dump(ir, stdout);
        else
            sf_ir_dot(ir, stdout);
        sf_ir_free(ir);
        return fflush(stdout) == 0 ? 0 : 2;
    }

    if (!ends_with(input, ".py")) {
        fprintf(stderr, "sfc: %s: expected a Python source file (.py)\n", input);
        return 2;
    }
    sf_ir *ir = compile(input, 0);
    if (!ir)
        return 1;
    char *def_out = NULL;
    if (!output) {
        size_t n = strlen(input);
        def_out = malloc(n + 3);
        if (!def_out) {
            sf_ir_free(ir);
            return 2;
        }
        memcpy(def_out, input, n - 3);
        strcpy(def_out + n - 3, ".sfir");
        output = def_out;
    }
    char err[512];
    int rc = sf_ir_write_file(ir, output, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "sfc: %s\n", err);
    sf_ir_free(ir);
    free(def_out);
    return rc < 0 ? 2 : 0;
}
