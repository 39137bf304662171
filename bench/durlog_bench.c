/* durlog_bench.c: throughput of the durable log's group commit
 * (runtime/cluster/durlog.h) on the disk holding DIR.
 *
 *   durlog_bench [--dir DIR] [--seconds S] [--size BYTES] [--groups 1,64,1024]
 *
 * For each group size G: append G records of BYTES bytes (default 100),
 * sf_durlog_sync, repeat for S seconds (default 3, wall time: this measures
 * the disk). Prints records/s, syncs/s (one group commit = one sync; a
 * sync issues one fdatasync, two at a segment rollover: fsyncs/s counts
 * those), MB/s of record bytes and the mean and 99th percentile latency of
 * a sync. DIR (default ./durlog_bench.d) is emptied before each case and
 * removed at the end; put it on the disk you mean to measure, not tmpfs. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "durlog.h"
#include "stateflow/sf_fs.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_case(const char *dir, size_t group, size_t size, double seconds)
{
    char err[256];
    (void)sf_fs_remove_dir(dir);
    sf_durlog *log;
    if (sf_durlog_open(dir, NULL, &log, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "durlog_bench: %s\n", err);
        return -1;
    }
    char *payload = malloc(size ? size : 1);
    memset(payload, 'r', size);
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    uint64_t records = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        for (size_t i = 0; i < group; i++)
            if (sf_durlog_append(log, SF_DURLOG_REQUEST, payload, size, NULL, err, sizeof err) != 0) {
                fprintf(stderr, "durlog_bench: %s\n", err);
                return -1;
            }
        double s0 = now_s();
        if (sf_durlog_sync(log, err, sizeof err) != 0) {
            fprintf(stderr, "durlog_bench: %s\n", err);
            return -1;
        }
        t = now_s();
        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof *lat);
        }
        lat[n++] = t - s0;
        records += group;
    }
    double el = t - t0;
    sf_durlog_stats st;
    sf_durlog_get_stats(log, &st);
    sf_durlog_close(log);
    qsort(lat, n, sizeof *lat, cmp_d);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    printf("%6zu %12.0f %10.0f %10.0f %9.2f %10.3f %10.3f\n", group, (double)records / el, (double)st.syncs / el,
           (double)st.fsyncs / el, (double)st.bytes_synced / el / 1e6, sum / (double)n * 1e3,
           lat[(size_t)((double)(n - 1) * 0.99)] * 1e3);
    fflush(stdout);
    free(lat);
    free(payload);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "durlog_bench.d";
    double seconds = 3;
    size_t size = 100;
    const char *groups = "1,64,1024";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
            groups = argv[++i];
        else {
            fprintf(stderr, "usage: durlog_bench [--dir DIR] [--seconds S] [--size BYTES] [--groups 1,64,1024]\n");
            return 2;
        }
    }
    printf("durable log group commit, %zu-byte records, %.1f s per case, dir %s\n", size, seconds, dir);
    printf("%6s %12s %10s %10s %9s %10s %10s\n", "group", "records/s", "syncs/s", "fsyncs/s", "MB/s", "mean ms",
           "p99 ms");
    const char *p = groups;
    int rc = 0;
    while (*p && rc == 0) {
        size_t g = (size_t)strtoul(p, NULL, 10);
        if (g == 0) {
            fprintf(stderr, "durlog_bench: bad group list %s\n", groups);
            return 2;
        }
        rc = run_case(dir, g, size, seconds);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    (void)sf_fs_remove_dir(dir);
    return rc ? 1 : 0;
}
