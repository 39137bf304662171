/* test_durlog.c: the durable log (runtime/cluster/durlog.c) and CRC-32C
 * (common/crc32c.c): CRC test vectors; append / sync / reopen / replay
 * round trips; records not synced are gone after a reopen; segment
 * rollover and replay across segments; a torn tail (cut mid-record, at a
 * torn header, a torn new segment) is cut and appends continue after it; a
 * flipped byte in the last record is cut, in an earlier group commit or an
 * earlier segment fails the open (salvage cuts it); truncate_before
 * deletes exactly the segments wholly before an LSN; the record size limit;
 * a forked writer that _exit()s without closing loses nothing it synced; a
 * failed sync (a file size limit, and a really full disk: a 128 KiB tmpfs
 * in a private mount namespace, skipped where that cannot be set up)
 * leaves the files as they were and a later sync succeeds; the directory lock; the
 * format version check; the payload codecs of batch, outcome and batch
 * time records (durlog_rec.c): round trips through the log, every wrong
 * length, layout and count refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "durlog.h"
#include "stateflow/sf_fs.h"
#include "durlog_rec.h"
#include "stateflow/sf_crc32c.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct fixture {
    char root[256]; /* mkdtemp */
    char dir[300];  /* root/log: created by sf_durlog_open */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/sf_durlog_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/log", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    (void)sf_fs_remove_dir(f->dir);
    (void)sf_fs_remove_dir(f->root);
    free(f);
    return 0;
}

/* Payload of record i: deterministic bytes of length len_of(i). */
static size_t len_of(uint64_t i)
{
    return (size_t)((i * 37) % 150);
}

static void fill(char *p, uint64_t i, size_t len)
{
    for (size_t k = 0; k < len; k++)
        p[k] = (char)(i * 131 + k * 7);
}

static sf_durlog *open_ok(const char *dir, const sf_durlog_opts *o, sf_durlog_report *rep)
{
    char err[256] = "";
    sf_durlog *log = NULL;
    int r = sf_durlog_open(dir, o, &log, rep, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "open: %s\n", err);
    assert_int_equal(r, 0);
    assert_non_null(log);
    return log;
}

/* Append records first..last (payload per fill/len_of, type 1 + i % 4),
 * syncing after every `every` records (0: once at the end). */
static void append_range(sf_durlog *log, uint64_t first, uint64_t last, uint64_t every)
{
    char err[256], buf[200];
    for (uint64_t i = first; i <= last; i++) {
        size_t n = len_of(i);
        fill(buf, i, n);
        uint64_t lsn = 0;
        assert_int_equal(sf_durlog_append(log, 1 + (uint32_t)(i % 4), buf, n, &lsn, err, sizeof err), 0);
        assert_int_equal(lsn, i);
        if (every && (i - first + 1) % every == 0)
            assert_int_equal(sf_durlog_sync(log, err, sizeof err), 0);
    }
    assert_int_equal(sf_durlog_sync(log, err, sizeof err), 0);
}

/* Replay from `from` and check the records are exactly from..last. */
static void expect_range(sf_durlog *log, uint64_t from, uint64_t last)
{
    char err[256], buf[200];
    sf_durlog_iter *it;
    assert_int_equal(sf_durlog_iter_init(log, from, &it, err, sizeof err), 0);
    sf_durlog_rec r;
    uint64_t want = from;
    int rc;
    while ((rc = sf_durlog_iter_next(it, &r, err, sizeof err)) == 1) {
        assert_int_equal(r.lsn, want);
        assert_int_equal(r.type, 1 + want % 4);
        size_t n = len_of(want);
        fill(buf, want, n);
        assert_int_equal(r.len, n);
        assert_memory_equal(r.data, buf, n);
        want++;
    }
    if (rc != 0)
        fprintf(stderr, "iter: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(want, last + 1);
    sf_durlog_iter_close(it);
}

static void seg_path(const fixture *f, uint64_t first_lsn, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016" PRIx64 ".sflog", f->dir, first_lsn);
}

static off_t file_size(const char *p)
{
    struct stat sb;
    if (stat(p, &sb) != 0)
        return -1;
    return sb.st_size;
}

/* First LSNs of the segment files in dir, sorted; returns the count. */
static size_t list_segs(const char *dir, uint64_t *out, size_t cap)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l == 22 && !strcmp(de->d_name + 16, ".sflog") && n < cap)
            out[n++] = strtoull(de->d_name, NULL, 16);
    }
    closedir(dp);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* Byte offset of record `lsn` in a segment starting at first_lsn, found
 * by walking the lengths (12-byte headers after a 32-byte header). */
static off_t rec_offset(const char *path, uint64_t first_lsn, uint64_t lsn)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t off = 32;
    for (uint64_t l = first_lsn; l < lsn; l++) {
        unsigned char h[4];
        assert_int_equal(pread(fd, h, 4, off), 4);
        off += 12 + (off_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24);
    }
    close(fd);
    return off;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void small_opts(sf_durlog_opts *o)
{
    sf_durlog_opts_init(o);
    o->segment_size = 2048;
}

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(sf_crc32c("123456789", 9), 0xe3069283u);
    unsigned char b[32];
    memset(b, 0, 32);
    assert_int_equal(sf_crc32c(b, 32), 0x8a9136aau); /* RFC 3720 B.4 */
    memset(b, 0xff, 32);
    assert_int_equal(sf_crc32c(b, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)i;
    assert_int_equal(sf_crc32c(b, 32), 0x46dd794eu);
    assert_int_equal(sf_crc32c("", 0), 0);
    unsigned char big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= 1000; n += 37)
        for (size_t cut = 0; cut <= n; cut += 13) {
            uint32_t want = crc_bitwise(big, n);
            assert_int_equal(sf_crc32c(big, n), want);
            assert_int_equal(sf_crc32c_extend(sf_crc32c(big, cut), big + cut, n - cut), want);
            assert_int_equal(sf_crc32c_extend_portable(sf_crc32c_extend_portable(0, big, cut), big + cut, n - cut),
                             want);
        }
}

/* ---- round trips -------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog_report rep;
    sf_durlog *log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 0);
    assert_int_equal(rep.next_lsn, 1);
    assert_int_equal(sf_durlog_first_lsn(log), 1);
    assert_int_equal(sf_durlog_durable_lsn(log), 1);
    /* empty log: replay from 1 yields nothing */
    expect_range(log, 1, 0);

    append_range(log, 1, 3, 0);
    assert_int_equal(sf_durlog_durable_lsn(log), 4);
    uint64_t lsn;
    assert_int_equal(sf_durlog_append(log, SF_DURLOG_REQUEST, "x", 1, &lsn, err, sizeof err), 0);
    assert_int_equal(lsn, 4);
    sf_durlog_close(log); /* record 4 never synced */

    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 0);
    assert_int_equal(rep.records, 3);
    assert_int_equal(rep.segments, 1);
    assert_int_equal(sf_durlog_next_lsn(log), 4);
    expect_range(log, 1, 3);
    expect_range(log, 2, 3);
    expect_range(log, 4, 3);
    sf_durlog_iter *it;
    assert_int_equal(sf_durlog_iter_init(log, 5, &it, err, sizeof err), -EINVAL);
    assert_int_equal(sf_durlog_iter_init(log, 0, &it, err, sizeof err), -ENOENT);

    append_range(log, 4, 6, 1);
    /* discard drops what is not synced and gives the LSNs out again */
    assert_int_equal(sf_durlog_append(log, 1, "zz", 2, &lsn, err, sizeof err), 0);
    assert_int_equal(lsn, 7);
    sf_durlog_discard(log);
    assert_int_equal(sf_durlog_next_lsn(log), 7);
    append_range(log, 7, 8, 0);
    sf_durlog_stats st;
    sf_durlog_get_stats(log, &st);
    assert_int_equal(st.syncs, 4);
    assert_int_equal(st.records_synced, 5);
    sf_durlog_close(log);

    log = open_ok(f->dir, NULL, &rep);
    expect_range(log, 1, 8);
    sf_durlog_close(log);
}

static void test_iter_during_appends(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    append_range(log, 1, 40, 5);
    sf_durlog_iter *it;
    assert_int_equal(sf_durlog_iter_init(log, 10, &it, err, sizeof err), 0);
    append_range(log, 41, 80, 3); /* after init: not replayed */
    sf_durlog_rec r;
    uint64_t n = 0;
    while (sf_durlog_iter_next(it, &r, err, sizeof err) == 1)
        assert_int_equal(r.lsn, 10 + n++);
    assert_int_equal(n, 31);
    sf_durlog_iter_close(it);
    expect_range(log, 1, 80);

    /* a byte flipped on disk after open: replay stops with an error */
    char p[400];
    seg_path(f, 1, p, sizeof p);
    flip_byte(p, rec_offset(p, 1, 3) + 12);
    assert_int_equal(sf_durlog_iter_init(log, 2, &it, err, sizeof err), 0);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(r.lsn, 2);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "LSN 3"));
    sf_durlog_iter_close(it);
    sf_durlog_close(log);
}

static void test_rollover(void **state)
{
    fixture *f = *state;
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    append_range(log, 1, 300, 7);
    append_range(log, 301, 1000, 0); /* one group commit over many segments */
    sf_durlog_stats st;
    sf_durlog_get_stats(log, &st);
    sf_durlog_close(log);

    uint64_t segs[512];
    size_t n = list_segs(f->dir, segs, 512);
    assert_true(n > 20);
    assert_int_equal(st.segments, n);
    assert_int_equal(segs[0], 1);
    for (size_t i = 0; i < n; i++) {
        char p[400];
        seg_path(f, segs[i], p, sizeof p);
        assert_true(file_size(p) <= 2048);
        if (i + 1 < n) /* each name is the LSN after the previous segment's last */
            assert_int_equal(rec_offset(p, segs[i], segs[i + 1]), file_size(p));
    }
    sf_durlog_report rep;
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut, 0);
    assert_int_equal(rep.records, 1000);
    assert_int_equal(rep.segments, n);
    expect_range(log, 1, 1000);
    expect_range(log, segs[5], 1000);
    expect_range(log, segs[5] + 1, 1000);
    expect_range(log, 999, 1000);
    /* reopening with a bigger segment size keeps the old segments */
    sf_durlog_close(log);
    o.segment_size = 1 << 20;
    log = open_ok(f->dir, &o, &rep);
    append_range(log, 1001, 1010, 0);
    expect_range(log, 1, 1010);
    sf_durlog_close(log);
    assert_int_equal(list_segs(f->dir, segs, 512), n);
}

/* ---- torn and corrupt tails --------------------------------------------- */

static void test_torn_tail(void **state)
{
    fixture *f = *state;
    char p[400];
    seg_path(f, 1, p, sizeof p);
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    append_range(log, 1, 10, 0);
    sf_durlog_close(log);

    /* cut in the middle of record 10's payload */
    off_t at10 = rec_offset(p, 1, 10), end = file_size(p);
    assert_true(end - at10 > 12 + 3);
    assert_int_equal(truncate(p, end - 3), 0);
    sf_durlog_report rep;
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 10);
    assert_int_equal(rep.cut_offset, at10);
    assert_int_equal(rep.cut_bytes, end - 3 - at10);
    assert_string_equal(rep.cut_segment, "0000000000000001.sflog");
    assert_non_null(strstr(rep.cut_reason, "truncated record payload"));
    assert_int_equal(rep.records, 9);
    assert_int_equal(sf_durlog_next_lsn(log), 10);
    assert_int_equal(file_size(p), at10);
    expect_range(log, 1, 9);
    append_range(log, 10, 12, 0); /* appends continue after the cut */
    sf_durlog_close(log);

    /* cut inside record 12's header */
    off_t at12 = rec_offset(p, 1, 12);
    assert_int_equal(truncate(p, at12 + 5), 0);
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 12);
    assert_non_null(strstr(rep.cut_reason, "truncated record header"));
    expect_range(log, 1, 11);
    append_range(log, 12, 12, 0);
    sf_durlog_close(log);

    /* zeros after the last record (a crash with the size extended but the
     * data not written) */
    int fd = open(p, O_WRONLY | O_APPEND);
    char z[300] = {0};
    assert_int_equal(write(fd, z, sizeof z), (ssize_t)sizeof z);
    close(fd);
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 13);
    assert_int_equal(rep.cut_bytes, 300);
    expect_range(log, 1, 12);
    sf_durlog_close(log);

    /* a clean reopen reports nothing */
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 0);
    sf_durlog_close(log);
}

static void test_torn_new_segment(void **state)
{
    fixture *f = *state;
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    append_range(log, 1, 100, 10);
    uint64_t last = sf_durlog_durable_lsn(log);
    sf_durlog_close(log);
    /* a crash right after creating the next segment: empty, or a partial
     * header */
    char p[400];
    seg_path(f, last, p, sizeof p);
    uint64_t segs[64];
    size_t n = list_segs(f->dir, segs, 64);
    char lastp[400];
    seg_path(f, segs[n - 1], lastp, sizeof lastp);
    /* make a fresh empty segment at `last`: only valid if the current last
     * segment ends at it, which it does */
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SFDUR", 5), 5);
    close(fd);
    sf_durlog_report rep;
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut, 1);
    assert_non_null(strstr(rep.cut_reason, "torn segment header"));
    assert_int_equal(file_size(p), 32);
    expect_range(log, 1, 100);
    append_range(log, 101, 120, 0);
    sf_durlog_close(log);
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut, 0);
    expect_range(log, 1, 120);
    sf_durlog_close(log);
}

static void test_flipped_byte(void **state)
{
    fixture *f = *state;
    char err[256], p[400];
    seg_path(f, 1, p, sizeof p);
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    append_range(log, 1, 10, 1); /* ten group commits of one record */
    sf_durlog_close(log);

    /* in the last record: its group may have been torn: cut */
    off_t at10 = rec_offset(p, 1, 10);
    flip_byte(p, at10 + 12 + 2);
    sf_durlog_report rep;
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 10);
    assert_non_null(strstr(rep.cut_reason, "checksum mismatch"));
    expect_range(log, 1, 9);
    append_range(log, 10, 10, 0);
    sf_durlog_close(log);

    /* in record 5, followed by later group commits: it was durable, open
     * fails and says where */
    off_t at5 = rec_offset(p, 1, 5);
    flip_byte(p, at5 + 12 + 1);
    off_t size = file_size(p);
    sf_durlog *bad = NULL;
    int r = sf_durlog_open(f->dir, NULL, &bad, &rep, err, sizeof err);
    assert_int_equal(r, -EIO);
    assert_null(bad);
    assert_non_null(strstr(err, "0000000000000001.sflog"));
    assert_non_null(strstr(err, "LSN 5"));
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_int_equal(file_size(p), size); /* nothing was cut */

    /* in the header's type field: also caught */
    flip_byte(p, at5 + 12 + 1);
    flip_byte(p, at5 + 4);
    r = sf_durlog_open(f->dir, NULL, &bad, &rep, err, sizeof err);
    assert_int_equal(r, -EIO);
    assert_non_null(strstr(err, "LSN 5"));

    /* salvage cuts there */
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    o.salvage = 1;
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 5);
    assert_non_null(strstr(rep.cut_reason, "salvage"));
    expect_range(log, 1, 4);
    sf_durlog_close(log);
}

static void test_flipped_byte_same_group(void **state)
{
    fixture *f = *state;
    char p[400];
    seg_path(f, 1, p, sizeof p);
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    append_range(log, 1, 4, 0);
    append_range(log, 5, 10, 0); /* records 5..10: one group commit */
    sf_durlog_close(log);
    /* a bad record inside the last group commit cannot be told from a torn
     * write of that group: cut */
    flip_byte(p, rec_offset(p, 1, 7) + 12);
    sf_durlog_report rep;
    log = open_ok(f->dir, NULL, &rep);
    assert_int_equal(rep.cut, 1);
    assert_int_equal(rep.cut_lsn, 7);
    expect_range(log, 1, 6);
    sf_durlog_close(log);
}

static void test_corrupt_earlier_segment(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    append_range(log, 1, 200, 0);
    sf_durlog_close(log);
    uint64_t segs[64];
    size_t n = list_segs(f->dir, segs, 64);
    assert_true(n >= 4);
    char p[400];
    seg_path(f, segs[1], p, sizeof p);
    /* even the last record of a segment that is not the last one */
    off_t at = rec_offset(p, segs[1], segs[2] - 1);
    flip_byte(p, at + 12);
    sf_durlog *bad = NULL;
    assert_int_equal(sf_durlog_open(f->dir, &o, &bad, NULL, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "not the last segment"));
    char name[64];
    snprintf(name, sizeof name, "LSN %" PRIu64, segs[2] - 1);
    assert_non_null(strstr(err, name));

    /* a missing segment in the middle */
    flip_byte(p, at + 12);
    char p2[400];
    seg_path(f, segs[2], p2, sizeof p2);
    char aside[420];
    snprintf(aside, sizeof aside, "%s.moved", p2);
    assert_int_equal(rename(p2, aside), 0);
    assert_int_equal(sf_durlog_open(f->dir, &o, &bad, NULL, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(rename(aside, p2), 0);

    /* salvage: cut in segment 1, the later ones renamed aside */
    flip_byte(p, at + 12);
    o.salvage = 1;
    sf_durlog_report rep;
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut_lsn, segs[2] - 1);
    expect_range(log, 1, segs[2] - 2);
    sf_durlog_close(log);
    assert_int_equal(list_segs(f->dir, segs, 64), 2);
}

static void test_bad_header(void **state)
{
    fixture *f = *state;
    char err[256], p[400];
    seg_path(f, 1, p, sizeof p);
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    append_range(log, 1, 3, 0);
    sf_durlog_close(log);
    sf_durlog *bad = NULL;

    /* a future format version (header CRC kept valid) */
    int fd = open(p, O_RDWR);
    unsigned char h[32];
    assert_int_equal(pread(fd, h, 32, 0), 32);
    unsigned char h2[32];
    memcpy(h2, h, 32);
    h2[8] = 2;
    uint32_t c = sf_crc32c(h2, 28);
    for (int i = 0; i < 4; i++)
        h2[28 + i] = (unsigned char)(c >> (8 * i));
    assert_int_equal(pwrite(fd, h2, 32, 0), 32);
    assert_int_equal(sf_durlog_open(f->dir, NULL, &bad, NULL, err, sizeof err), -EPROTONOSUPPORT);
    assert_non_null(strstr(err, "version 2"));
    /* not ours */
    assert_int_equal(pwrite(fd, "NOTALOG!", 8, 0), 8);
    assert_int_equal(sf_durlog_open(f->dir, NULL, &bad, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "magic"));
    /* header checksum */
    memcpy(h2, h, 32);
    h2[20] ^= 1;
    assert_int_equal(pwrite(fd, h2, 32, 0), 32);
    assert_int_equal(sf_durlog_open(f->dir, NULL, &bad, NULL, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "header checksum"));
    assert_int_equal(pwrite(fd, h, 32, 0), 32);
    close(fd);
    /* a name that disagrees with the header */
    char p5[400];
    seg_path(f, 5, p5, sizeof p5);
    assert_int_equal(rename(p, p5), 0);
    assert_int_equal(sf_durlog_open(f->dir, NULL, &bad, NULL, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "says it starts at LSN 1"));
    assert_int_equal(rename(p5, p), 0);
    log = open_ok(f->dir, NULL, NULL);
    expect_range(log, 1, 3);
    sf_durlog_close(log);
}

/* ---- truncate_before ---------------------------------------------------- */

static void test_truncate_before(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    append_range(log, 1, 300, 9);
    uint64_t segs[128];
    size_t n = list_segs(f->dir, segs, 128);
    assert_true(n >= 6);

    /* an LSN inside segment 0: nothing goes */
    assert_int_equal(sf_durlog_truncate_before(log, segs[1] - 1, err, sizeof err), 0);
    /* exactly the first LSN of segment 3: segments 0, 1, 2 go */
    assert_int_equal(sf_durlog_truncate_before(log, segs[3], err, sizeof err), 3);
    uint64_t now[128];
    assert_int_equal(list_segs(f->dir, now, 128), n - 3);
    assert_int_equal(now[0], segs[3]);
    assert_int_equal(sf_durlog_first_lsn(log), segs[3]);
    sf_durlog_iter *it;
    assert_int_equal(sf_durlog_iter_init(log, segs[3] - 1, &it, err, sizeof err), -ENOENT);
    expect_range(log, segs[3], 300);
    /* one LSN into segment 4: segment 3 goes */
    assert_int_equal(sf_durlog_truncate_before(log, segs[4] + 1, err, sizeof err), 1);
    /* beyond what is durable: refused */
    assert_int_equal(sf_durlog_truncate_before(log, 302, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "durable"));
    sf_durlog_close(log);

    sf_durlog_report rep;
    log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.first_lsn, segs[4]);
    assert_int_equal(rep.records, 300 - segs[4] + 1);
    expect_range(log, segs[4], 300);
    /* everything: the last segment always stays */
    assert_int_equal(sf_durlog_truncate_before(log, 301, err, sizeof err), (int)(n - 5));
    assert_int_equal(list_segs(f->dir, now, 128), 1);
    assert_int_equal(now[0], segs[n - 1]);
    append_range(log, 301, 310, 0);
    sf_durlog_close(log);
    log = open_ok(f->dir, &o, &rep);
    expect_range(log, segs[n - 1], 310);
    sf_durlog_close(log);
}

/* ---- limits ------------------------------------------------------------- */

static void test_record_limit(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    o.segment_size = 1024;
    o.max_record = 3000;
    sf_durlog *log = open_ok(f->dir, &o, NULL);
    char *big = calloc(1, 3001);
    memset(big, 'b', 3001);
    uint64_t lsn;
    assert_int_equal(sf_durlog_append(log, 1, "small", 5, &lsn, err, sizeof err), 0);
    /* at the limit: fine, and bigger than a segment: a segment of its own */
    assert_int_equal(sf_durlog_append(log, 1, big, 3000, &lsn, err, sizeof err), 0);
    assert_int_equal(lsn, 2);
    /* over it: refused, nothing buffered */
    assert_int_equal(sf_durlog_append(log, 1, big, 3001, &lsn, err, sizeof err), -EMSGSIZE);
    assert_non_null(strstr(err, "3001"));
    assert_non_null(strstr(err, "3000"));
    assert_int_equal(sf_durlog_next_lsn(log), 3);
    assert_int_equal(sf_durlog_append(log, 0, "t", 1, &lsn, err, sizeof err), -EINVAL);
    assert_int_equal(sf_durlog_append(log, 0x10000, "t", 1, &lsn, err, sizeof err), -EINVAL);
    assert_int_equal(sf_durlog_append(log, 0xffff, "t", 1, &lsn, err, sizeof err), 0);
    assert_int_equal(sf_durlog_sync(log, err, sizeof err), 0);
    sf_durlog_close(log);
    uint64_t segs[8];
    assert_int_equal(list_segs(f->dir, segs, 8), 3);
    assert_int_equal(segs[1], 2);
    assert_int_equal(segs[2], 3);
    log = open_ok(f->dir, &o, NULL);
    sf_durlog_iter *it;
    sf_durlog_rec r;
    assert_int_equal(sf_durlog_iter_init(log, 2, &it, err, sizeof err), 0);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(r.len, 3000);
    assert_memory_equal(r.data, big, 3000);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(r.type, 0xffff);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 0);
    sf_durlog_iter_close(it);
    sf_durlog_close(log);
    free(big);

    /* options out of range */
    sf_durlog *bad = NULL;
    o.max_record = SF_DURLOG_RECORD_HARD_MAX + 1;
    assert_int_equal(sf_durlog_open(f->dir, &o, &bad, NULL, err, sizeof err), -EINVAL);
    o.max_record = 100;
    o.segment_size = 10;
    assert_int_equal(sf_durlog_open(f->dir, &o, &bad, NULL, err, sizeof err), -EINVAL);
}

static void test_lock(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog *log = open_ok(f->dir, NULL, NULL), *other = NULL;
    assert_int_equal(sf_durlog_open(f->dir, NULL, &other, NULL, err, sizeof err), -EBUSY);
    assert_non_null(strstr(err, "in use"));
    sf_durlog_close(log);
    log = open_ok(f->dir, NULL, NULL);
    sf_durlog_close(log);
}

/* ---- crashes and failed syncs -------------------------------------------- */

static void test_crash_child(void **state)
{
    fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the writer: no cmocka here, just an exit code */
        sf_durlog_opts o;
        small_opts(&o);
        char err[256], buf[200];
        sf_durlog *log;
        if (sf_durlog_open(f->dir, &o, &log, NULL, err, sizeof err) != 0)
            _exit(2);
        for (uint64_t i = 1; i <= 255; i++) {
            size_t n = len_of(i);
            fill(buf, i, n);
            uint64_t lsn;
            if (sf_durlog_append(log, 1 + (uint32_t)(i % 4), buf, n, &lsn, err, sizeof err) != 0 || lsn != i)
                _exit(3);
            if (i % 10 == 0 && sf_durlog_sync(log, err, sizeof err) != 0)
                _exit(4);
        }
        _exit(0); /* records 251..255 were never synced; no close */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    sf_durlog_opts o;
    small_opts(&o);
    sf_durlog_report rep;
    sf_durlog *log = open_ok(f->dir, &o, &rep);
    assert_int_equal(rep.cut, 0);
    assert_int_equal(rep.records, 250);
    expect_range(log, 1, 250);
    sf_durlog_close(log);
}

/* In a child: a file size limit makes the writes of a sync fail (standing
 * in for a full disk); the files stay as they were, the records stay
 * buffered, and once the limit is lifted the same sync succeeds. */
static int failing_sync_child(const char *dir, int cross_segment)
{
    signal(SIGXFSZ, SIG_IGN);
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    o.segment_size = 4096;
    o.max_record = 10000;
    char err[256], buf[200];
    sf_durlog *log;
    if (sf_durlog_open(dir, &o, &log, NULL, err, sizeof err) != 0)
        return 10;
    for (uint64_t i = 1; i <= 20; i++) {
        memset(buf, (int)i, 100);
        if (sf_durlog_append(log, 1, buf, 100, NULL, err, sizeof err) != 0)
            return 11;
    }
    if (sf_durlog_sync(log, err, sizeof err) != 0)
        return 12;
    char p[400];
    snprintf(p, sizeof p, "%s/0000000000000001.sflog", dir);
    off_t size0 = file_size(p);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    struct rlimit low = rl;
    if (cross_segment) {
        /* fill segment 1 to ~4000 bytes, then a record that needs a new
         * segment of its own, bigger than the limit */
        for (int i = 0; i < 15; i++)
            if (sf_durlog_append(log, 2, buf, 100, NULL, err, sizeof err) != 0)
                return 13;
        char *big = calloc(1, 6000);
        if (sf_durlog_append(log, 3, big, 6000, NULL, err, sizeof err) != 0)
            return 14;
        free(big);
        low.rlim_cur = 5000;
    } else {
        for (int i = 0; i < 10; i++)
            if (sf_durlog_append(log, 2, buf, 100, NULL, err, sizeof err) != 0)
                return 13;
        low.rlim_cur = (rlim_t)size0 + 300;
    }
    if (setrlimit(RLIMIT_FSIZE, &low) != 0)
        return 15;
    int r = sf_durlog_sync(log, err, sizeof err);
    if (r == 0 || strstr(err, "durable log") == NULL)
        return 16;
    if (file_size(p) != size0 || sf_durlog_durable_lsn(log) != 21)
        return 17;
    char p2[400];
    snprintf(p2, sizeof p2, "%s/%016" PRIx64 ".sflog", dir, (uint64_t)36);
    if (cross_segment && file_size(p2) != -1)
        return 18;
    /* still failing: still intact */
    if (sf_durlog_sync(log, err, sizeof err) == 0 || file_size(p) != size0)
        return 19;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 20;
    if (sf_durlog_sync(log, err, sizeof err) != 0)
        return 21;
    uint64_t want = cross_segment ? 37 : 31;
    if (sf_durlog_durable_lsn(log) != want)
        return 22;
    sf_durlog_stats st;
    sf_durlog_get_stats(log, &st);
    if (st.sync_errors != 2)
        return 23;
    /* a failure then discard: the LSNs are given out again */
    if (setrlimit(RLIMIT_FSIZE, &low) != 0)
        return 24;
    char *big = calloc(1, 9000);
    sf_durlog_append(log, 1, big, 9000, NULL, err, sizeof err);
    free(big);
    if (sf_durlog_sync(log, err, sizeof err) == 0)
        return 25;
    sf_durlog_discard(log);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 26;
    uint64_t lsn;
    if (sf_durlog_append(log, 4, "after", 5, &lsn, err, sizeof err) != 0 || lsn != want)
        return 27;
    if (sf_durlog_sync(log, err, sizeof err) != 0)
        return 28;
    sf_durlog_close(log);
    sf_durlog_report rep;
    if (sf_durlog_open(dir, &o, &log, &rep, err, sizeof err) != 0 || rep.cut || rep.records != want)
        return 29;
    sf_durlog_iter *it;
    sf_durlog_rec rec;
    if (sf_durlog_iter_init(log, 1, &it, err, sizeof err) != 0)
        return 30;
    uint64_t count = 0;
    int rc;
    while ((rc = sf_durlog_iter_next(it, &rec, err, sizeof err)) == 1) {
        count++;
        if (rec.lsn == want && (rec.type != 4 || rec.len != 5 || memcmp(rec.data, "after", 5) != 0))
            return 31;
        if (rec.lsn <= 20 && (rec.len != 100 || (unsigned char)rec.data[0] != rec.lsn))
            return 32;
    }
    if (rc != 0 || count != want)
        return 33;
    sf_durlog_iter_close(it);
    sf_durlog_close(log);
    return 0;
}

static void run_child(const char *dir, int cross)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(failing_sync_child(dir, cross));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_failed_sync(void **state)
{
    fixture *f = *state;
    run_child(f->dir, 0);
}

static void test_failed_sync_rollover(void **state)
{
    fixture *f = *state;
    run_child(f->dir, 1);
}

/* A real full disk: in a child, a private mount namespace (a user
 * namespace too when not root) with a 128 KiB tmpfs. Returns 77 when that
 * cannot be set up. */
static int write_id_map(const char *file, const char *line)
{
    int fd = open(file, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, line, strlen(line));
    close(fd);
    return n == (ssize_t)strlen(line) ? 0 : -1;
}

static int enospc_child(const char *root)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return 77;
        char m[64];
        write_id_map("/proc/self/setgroups", "deny");
        snprintf(m, sizeof m, "0 %u 1", (unsigned)uid);
        if (write_id_map("/proc/self/uid_map", m) != 0)
            return 77;
        snprintf(m, sizeof m, "0 %u 1", (unsigned)gid);
        if (write_id_map("/proc/self/gid_map", m) != 0)
            return 77;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 77;
    if (mount("sf_durlog_test", root, "tmpfs", 0, "size=128k") != 0)
        return 77;
    char dir[300], filler[300];
    snprintf(dir, sizeof dir, "%s/log", root);
    snprintf(filler, sizeof filler, "%s/filler", root);
    /* 32 KiB we can free later */
    int fd = open(filler, O_WRONLY | O_CREAT, 0666);
    char z[4096] = {1};
    for (int i = 0; i < 8; i++)
        if (fd < 0 || write(fd, z, sizeof z) != (ssize_t)sizeof z)
            return 40;
    close(fd);

    char err[256], buf[100];
    memset(buf, 'x', sizeof buf);
    sf_durlog *log;
    if (sf_durlog_open(dir, NULL, &log, NULL, err, sizeof err) != 0)
        return 41;
    uint64_t synced = 0;
    int r = 0;
    for (int round = 0; round < 1000 && r == 0; round++) {
        for (int i = 0; i < 50; i++)
            if (sf_durlog_append(log, 1, buf, sizeof buf, NULL, err, sizeof err) != 0)
                return 42;
        r = sf_durlog_sync(log, err, sizeof err);
        if (r == 0)
            synced = sf_durlog_durable_lsn(log) - 1;
    }
    if (r != -ENOSPC || strstr(err, "no space") == NULL)
        return 43;
    if (sf_durlog_durable_lsn(log) != synced + 1 || sf_durlog_next_lsn(log) != synced + 51)
        return 44;
    char p[400];
    snprintf(p, sizeof p, "%s/0000000000000001.sflog", dir);
    if (file_size(p) != 32 + (off_t)synced * 112)
        return 45; /* truncated back to the durable end */
    if (sf_durlog_sync(log, err, sizeof err) != -ENOSPC)
        return 46;
    /* space returns */
    unlink(filler);
    if (sf_durlog_sync(log, err, sizeof err) != 0)
        return 47;
    if (sf_durlog_durable_lsn(log) != synced + 51)
        return 48;
    sf_durlog_close(log);
    sf_durlog_report rep;
    if (sf_durlog_open(dir, NULL, &log, &rep, err, sizeof err) != 0 || rep.cut || rep.records != synced + 50)
        return 49;
    sf_durlog_iter *it;
    sf_durlog_rec rec;
    uint64_t n = 0;
    if (sf_durlog_iter_init(log, 1, &it, err, sizeof err) != 0)
        return 50;
    while (sf_durlog_iter_next(it, &rec, err, sizeof err) == 1)
        if (rec.len != 100 || memcmp(rec.data, buf, 100) != 0 || rec.lsn != ++n)
            return 51;
    sf_durlog_iter_close(it);
    sf_durlog_close(log);
    return n == synced + 50 ? 0 : 52;
}

static void test_enospc(void **state)
{
    fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(enospc_child(f->root));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- check_segment ------------------------------------------------------ */

static void test_check_segment(void **state)
{
    fixture *f = *state;
    char err[256];
    uint64_t first, nrec;
    size_t good;
    assert_int_equal(sf_durlog_check_segment("", 0, &first, &nrec, &good, err, sizeof err), 1);
    assert_int_equal(good, 0);
    assert_true(sf_durlog_check_segment("garbage garbage garbage garbage garbage", 39, &first, &nrec, &good, err,
                                        sizeof err) < 0);
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    append_range(log, 1, 5, 0);
    sf_durlog_close(log);
    char p[400];
    seg_path(f, 1, p, sizeof p);
    FILE *fp = fopen(p, "rb");
    char data[4096];
    size_t n = fread(data, 1, sizeof data, fp);
    fclose(fp);
    assert_int_equal(sf_durlog_check_segment(data, n, &first, &nrec, &good, err, sizeof err), 0);
    assert_int_equal(first, 1);
    assert_int_equal(nrec, 5);
    assert_int_equal(good, n);
    assert_int_equal(sf_durlog_check_segment(data, n - 1, &first, &nrec, &good, err, sizeof err), 1);
    assert_int_equal(nrec, 4);
}

/* ---- record payloads ----------------------------------------------------- */

static void test_record_codecs(void **state)
{
    fixture *f = *state;
    char err[256];
    sf_durlog *log = open_ok(f->dir, NULL, NULL);
    uint64_t reruns[3] = {7, 3, UINT64_MAX};
    sf_durlog_batch b = {.batch_id = 42, .first_pos = 100, .count = 64, .nreruns = 3, .reruns = reruns};
    sf_durlog_batch b0 = {.batch_id = 1, .first_pos = 1, .count = 0, .nreruns = 0, .reruns = NULL};
    sf_durlog_outcome oc = {.batch_id = 42, .position = 120, .kind = SF_DURLOG_TIME_LIMIT};
    sf_durlog_batch_time bt = {.batch_id = 42, .unix_ns = -5};
    sf_buf buf;
    sf_buf_init(&buf);
    sf_durlog_batch_encode(&b, &buf);
    assert_int_equal(buf.len, 25 + 24);
    assert_int_equal(sf_durlog_append(log, SF_DURLOG_BATCH, buf.data, buf.len, NULL, err, sizeof err), 0);
    sf_buf_reset(&buf);
    sf_durlog_batch_encode(&b0, &buf);
    assert_int_equal(sf_durlog_append(log, SF_DURLOG_BATCH, buf.data, buf.len, NULL, err, sizeof err), 0);
    sf_buf_reset(&buf);
    sf_durlog_outcome_encode(&oc, &buf);
    assert_int_equal(sf_durlog_append(log, SF_DURLOG_OUTCOME, buf.data, buf.len, NULL, err, sizeof err), 0);
    sf_buf_reset(&buf);
    sf_durlog_batch_time_encode(&bt, &buf);
    assert_int_equal(sf_durlog_append(log, SF_DURLOG_BATCH_TIME, buf.data, buf.len, NULL, err, sizeof err), 0);
    assert_int_equal(sf_durlog_sync(log, err, sizeof err), 0);
    sf_durlog_close(log);

    log = open_ok(f->dir, NULL, NULL);
    sf_durlog_iter *it;
    sf_durlog_rec r;
    assert_int_equal(sf_durlog_iter_init(log, 1, &it, err, sizeof err), 0);
    sf_durlog_batch d;
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(r.type, SF_DURLOG_BATCH);
    assert_int_equal(sf_durlog_batch_decode(r.data, r.len, &d, err, sizeof err), 0);
    assert_int_equal(d.batch_id, 42);
    assert_int_equal(d.first_pos, 100);
    assert_int_equal(d.count, 64);
    assert_int_equal(d.nreruns, 3);
    assert_memory_equal(d.reruns, reruns, sizeof reruns);
    sf_durlog_batch_free(&d);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(sf_durlog_batch_decode(r.data, r.len, &d, err, sizeof err), 0);
    assert_int_equal(d.nreruns, 0);
    assert_null(d.reruns);
    sf_durlog_batch_free(&d);
    sf_durlog_outcome o;
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(sf_durlog_outcome_decode(r.data, r.len, &o, err, sizeof err), 0);
    assert_int_equal(o.position, 120);
    assert_int_equal(o.kind, SF_DURLOG_TIME_LIMIT);
    sf_durlog_batch_time t;
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 1);
    assert_int_equal(sf_durlog_batch_time_decode(r.data, r.len, &t, err, sizeof err), 0);
    assert_int_equal(t.batch_id, 42);
    assert_true(t.unix_ns == -5);
    assert_int_equal(sf_durlog_iter_next(it, &r, err, sizeof err), 0);
    sf_durlog_iter_close(it);
    sf_durlog_close(log);

    /* every shorter or longer payload, a wrong layout byte, a wrong count */
    sf_buf_reset(&buf);
    sf_durlog_batch_encode(&b, &buf);
    for (size_t n = 0; n < buf.len + 8; n++) {
        char tmp[80] = {0};
        memcpy(tmp, buf.data, n < buf.len ? n : buf.len);
        if (n != buf.len)
            assert_int_equal(sf_durlog_batch_decode(tmp, n, &d, err, sizeof err), -1);
    }
    buf.data[0] = 2;
    assert_int_equal(sf_durlog_batch_decode(buf.data, buf.len, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "layout"));
    buf.data[0] = 1;
    buf.data[21] = 2; /* says 2 reruns, holds 3 */
    assert_int_equal(sf_durlog_batch_decode(buf.data, buf.len, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "reruns"));
    sf_buf_reset(&buf);
    sf_durlog_outcome_encode(&oc, &buf);
    assert_int_equal(sf_durlog_outcome_decode(buf.data, buf.len - 1, &o, err, sizeof err), -1);
    buf.data[17] = 9;
    assert_int_equal(sf_durlog_outcome_decode(buf.data, buf.len, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "kind"));
    sf_buf_reset(&buf);
    sf_durlog_batch_time_encode(&bt, &buf);
    sf_buf_append(&buf, "", 1);
    assert_int_equal(sf_durlog_batch_time_decode(buf.data, buf.len, &t, err, sizeof err), -1);
    assert_int_equal(sf_durlog_batch_time_decode(buf.data, 0, &t, err, sizeof err), -1);
    sf_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_during_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_new_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_same_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_earlier_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_rollover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_codecs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
