/* executor_mkapp.c: writes the executor tests' hand-built IR
 * (executor_apps.c) to a .sfir file, for the sfrun script test. */
#include <stdio.h>

#include "executor_apps.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: executor_mkapp OUT.sfir\n");
        return 2;
    }
    sf_ir *ir = sf_test_app_build();
    if (!ir) {
        fprintf(stderr, "executor_mkapp: cannot build the test app\n");
        return 1;
    }
    char err[512];
    int rc = sf_ir_write_file(ir, argv[1], err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "executor_mkapp: %s\n", err);
    sf_ir_free(ir);
    return rc < 0 ? 1 : 0;
}
