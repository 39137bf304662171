/* sf_unparse_tool.c: test helper for the parse and unparse stages.
 * `sf_unparse_tool FILE` parses FILE and prints the unparsed module to stdout;
 * on a parse error it prints the diagnostics to stderr and exits 1.
 * `sf_unparse_tool --multi FILE...` does the same for each FILE, each output
 * preceded by a line "\x01FILE" so a driver script can split them (used by
 * tests/roundtrip.sh); it exits 1 when any file failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse.h"
#include "stateflow/sf_arena.h"
#include "stateflow/sf_buf.h"
#include "unparse.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sf_buf b;
    sf_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sf_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sf_buf_free(&b);
        return NULL;
    }
    sf_buf_putc(&b, '\0');
    char *data = sf_buf_steal(&b, len);
    (*len)--;
    return data;
}

int main(int argc, char **argv)
{
    int multi = argc > 1 && strcmp(argv[1], "--multi") == 0;
    int first = multi ? 2 : 1;
    if (argc <= first || (!multi && argc != 2)) {
        fprintf(stderr, "usage: %s FILE | --multi FILE...\n", argv[0]);
        return 2;
    }
    char err[512];
    if (sf_python_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        size_t len;
        char *src = read_file(argv[i], &len);
        if (!src) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            status = 1;
            continue;
        }
        sf_arena a;
        sf_arena_init(&a);
        sf_diag d;
        sf_diag_init(&d, argv[i]);
        sf_module m;
        if (multi)
            printf("\x01%s\n", argv[i]);
        if (sf_parse(&a, argv[i], src, len, &m, &d) < 0) {
            sf_diag_print(&d, stderr);
            status = 1;
        } else {
            sf_buf out;
            sf_buf_init(&out);
            sf_unparse_module(&out, &m);
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
            sf_buf_free(&out);
        }
        sf_diag_free(&d);
        sf_arena_free(&a);
        free(src);
    }
    sf_python_fini();
    return status;
}
