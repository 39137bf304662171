/* durlog.c: the durable log (see durlog.h): segment files, group commit,
 * validation at open, replay, deletion of old segments.
 *
 * On-disk format (version 1; docs/durability.md "On-disk format"). All
 * integers little-endian.
 *
 *   DIR/LOCK                    held with flock(LOCK_EX) while open
 *   DIR/%016x.sflog             one segment; the name is its first LSN in
 *                               16 lower-case hex digits
 *
 *   segment = header record*
 *   header (32 bytes):
 *     0  8  magic "SFDURLOG"
 *     8  4  format version (1)
 *    12  4  header length (32)
 *    16  8  first LSN (equal to the name), 1..SF_DURLOG_LSN_MAX
 *    24  4  reserved, 0
 *    28  4  CRC-32C of bytes 0..27
 *   record (12 + len bytes, no padding):
 *     0  4  len: payload bytes, 0..SF_DURLOG_RECORD_HARD_MAX
 *     4  2  type: 1..65535
 *     6  2  flags: bit 0 SYNC_END = last record of a group commit; other
 *           bits 0
 *     8  4  CRC-32C of: the record's LSN (8 bytes, not stored), bytes 0..7
 *           of this header, the payload
 *    12 len payload
 *
 * LSNs are implicit: the first record of a segment has the segment's first
 * LSN, each next one the LSN after. Segment k+1 starts at the LSN after the
 * last record of segment k (no gaps). Folding the LSN into the checksum
 * makes a record that is valid but in the wrong place (stale bytes of an
 * older file, a duplicated block) fail its check.
 *
 * Writing. Appends go to a memory buffer; a sync pwrite()s it at the end of
 * the segment's durable bytes and fdatasync()s. A rollover inside a sync
 * first makes the old segment durable, then creates the new one (header and
 * records, fdatasync, fsync of the directory). Hence every segment but the
 * last is complete and durable, and in the last one only the final group
 * commit can be torn. A failed sync truncates the files back to their
 * durable size and unlinks segments it created, so the disk looks as if it
 * never happened and a later sync rewrites everything from the same offset
 * (fresh pages: a retried fdatasync never trusts pages an earlier failed
 * one may have dropped).
 *
 * Opening. Every record is read and checked. In the last segment the first
 * record that is truncated, has an impossible header or fails its checksum
 * starts the torn tail: it and everything after it is cut (ftruncate) and
 * reported, unless the bytes after it prove it was durable: a valid record
 * that follows a valid SYNC_END record that follows the bad one was written
 * by a later group commit, which starts only after the bad record's group
 * was synced. That, and any bad record in an earlier segment, is corruption
 * of acknowledged data: open fails with the file, offset and LSN (or, with
 * opts.salvage, cuts there and renames the later segments *.damaged). A
 * last segment whose header is missing or all zero (a crash while creating
 * it) gets its header rewritten from its name. */
#include "durlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "stateflow/sf_buf.h"
#include "stateflow/sf_crc32c.h"
#include "stateflow/sf_util.h"

#define SEG_MAGIC "SFDURLOG"
#define SEG_VERSION 1u
#define SEG_HDR 32u
#define REC_HDR 12u
#define F_SYNC_END 1u
#define F_KNOWN F_SYNC_END
#define SEG_SUFFIX ".sflog"
#define SEG_NAME_LEN 22 /* 16 hex digits + ".sflog" */
#define SEG_FILE_MAX (4ull << 30)

/* ---- little-endian fields ---------------------------------------------- */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void seg_header(unsigned char h[SEG_HDR], uint64_t first_lsn)
{
    memset(h, 0, SEG_HDR);
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, SEG_VERSION);
    put32(h + 12, SEG_HDR);
    put64(h + 16, first_lsn);
    put32(h + 28, sf_crc32c(h, 28));
}

/* CRC of a record: its LSN, then header bytes 0..7, then the payload. */
static uint32_t rec_crc(uint64_t lsn, const unsigned char *hdr, const void *payload, size_t len)
{
    unsigned char l[8];
    put64(l, lsn);
    uint32_t c = sf_crc32c(l, 8);
    c = sf_crc32c_extend(c, hdr, 8);
    return sf_crc32c_extend(c, payload, len);
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t first_lsn)
{
    snprintf(out, SEG_NAME_LEN + 1, "%016" PRIx64 SEG_SUFFIX, first_lsn);
}

/* Whether name is a segment file name; *lsn its first LSN. */
static int parse_seg_name(const char *name, uint64_t *lsn)
{
    if (strlen(name) != SEG_NAME_LEN || strcmp(name + 16, SEG_SUFFIX) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = (v << 4) | (uint64_t)d;
    }
    *lsn = v;
    return 1;
}

/* ---- scanning one segment's bytes -------------------------------------- */

typedef struct scan_res {
    uint64_t first_lsn; /* from the header (0 when the header is torn) */
    uint64_t nrec;      /* valid records */
    size_t good_len;    /* bytes of the valid prefix (0: torn header) */
    int salvageable;    /* a fatal result that cutting at good_len would fix */
    char reason[160];
} scan_res;

enum { REC_OK = 0, REC_TRUNC_HDR, REC_BAD_HDR, REC_TRUNC_PAYLOAD, REC_BAD_CRC };

static const char *rec_problem(int r)
{
    switch (r) {
    case REC_TRUNC_HDR: return "truncated record header";
    case REC_BAD_HDR: return "impossible record header";
    case REC_TRUNC_PAYLOAD: return "truncated record payload";
    default: return "checksum mismatch";
    }
}

/* Check the record at d[off..n) with LSN lsn; *next gets the offset after
 * it (also when only the checksum fails but the header is plausible and
 * fits, so the scan can look past it), *flags its flags. */
static int rec_check(const unsigned char *d, size_t n, size_t off, uint64_t lsn, size_t *next, unsigned *flags)
{
    *next = 0;
    if (n - off < REC_HDR)
        return REC_TRUNC_HDR;
    const unsigned char *h = d + off;
    uint32_t len = get32(h);
    uint16_t type = get16(h + 4), fl = get16(h + 6);
    if (len > SF_DURLOG_RECORD_HARD_MAX || type == 0 || (fl & ~F_KNOWN) != 0)
        return REC_BAD_HDR;
    if (len > n - off - REC_HDR)
        return REC_TRUNC_PAYLOAD;
    *next = off + REC_HDR + len;
    *flags = fl;
    if (rec_crc(lsn, h, h + REC_HDR, len) != get32(h + 8))
        return REC_BAD_CRC;
    return REC_OK;
}

/* Whether the bytes after the bad record at `bad` (LSN lsn) prove it was
 * durable: a valid record after a valid SYNC_END record, both after it. */
static int proven_durable(const unsigned char *d, size_t n, size_t after, uint64_t lsn)
{
    if (after == 0)
        return 0; /* its length cannot be trusted: nothing to look at */
    size_t off = after;
    int seen_end = 0;
    while (off < n) {
        size_t next;
        unsigned fl = 0;
        lsn++;
        if (rec_check(d, n, off, lsn, &next, &fl) != REC_OK)
            return 0;
        if (seen_end)
            return 1;
        if (fl & F_SYNC_END)
            seen_end = 1;
        off = next;
    }
    return 0;
}

/* Validate one segment's bytes. 0: all valid; 1: a torn tail (or torn
 * header) to cut at res->good_len, only when is_last; negative errno:
 * fatal. */
static int scan_segment(const unsigned char *d, size_t n, int is_last, scan_res *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    static const unsigned char zeros[SEG_HDR];
    if (n < SEG_HDR || memcmp(d, zeros, SEG_HDR) == 0) {
        int allzero = 1;
        for (size_t i = 0; i < n && allzero; i++)
            allzero = d[i] == 0;
        if (is_last && (n < SEG_HDR || allzero)) {
            /* a crash while the segment was being created */
            snprintf(res->reason, sizeof res->reason, "torn segment header (%zu bytes)", n);
            return 1;
        }
        sf_set_err(err, errlen, n < SEG_HDR ? "segment shorter than its header (%zu bytes)"
                                            : "segment header is all zero (%zu bytes)", n);
        return -EIO;
    }
    if (memcmp(d, SEG_MAGIC, 8) != 0) {
        sf_set_err(err, errlen, "not a durable log segment (bad magic)");
        return -EINVAL;
    }
    uint32_t version = get32(d + 8);
    if (version != SEG_VERSION) {
        sf_set_err(err, errlen, "segment format version %u is not supported (this build reads version %u)",
                   version, SEG_VERSION);
        return -EPROTONOSUPPORT;
    }
    if (get32(d + 28) != sf_crc32c(d, 28)) {
        sf_set_err(err, errlen, "segment header checksum mismatch");
        return -EIO;
    }
    if (get32(d + 12) != SEG_HDR || get64(d + 16) == 0 || get64(d + 16) > SF_DURLOG_LSN_MAX || get32(d + 24) != 0) {
        sf_set_err(err, errlen, "invalid segment header");
        return -EIO;
    }
    res->first_lsn = get64(d + 16);
    size_t off = SEG_HDR;
    uint64_t lsn = res->first_lsn;
    while (off < n) {
        size_t next;
        unsigned fl = 0;
        int r = rec_check(d, n, off, lsn, &next, &fl);
        if (r != REC_OK) {
            res->good_len = off;
            snprintf(res->reason, sizeof res->reason, "%s at offset %zu (LSN %" PRIu64 "), %zu bytes cut",
                     rec_problem(r), off, lsn, n - off);
            if (is_last && !proven_durable(d, n, next, lsn))
                return 1;
            res->salvageable = 1;
            sf_set_err(err, errlen, "%s at offset %zu (LSN %" PRIu64 ") in data already durable%s", rec_problem(r),
                       off, lsn, is_last ? " (a later group commit follows it)" : " (not the last segment)");
            return -EIO;
        }
        off = next;
        lsn++;
        res->nrec++;
    }
    res->good_len = n;
    return 0;
}

int sf_durlog_check_segment(const void *data, size_t len, uint64_t *first_lsn, uint64_t *nrecords,
                            size_t *good_len, char *err, size_t errlen)
{
    scan_res res;
    int r = scan_segment(data, len, 1, &res, err, errlen);
    if (first_lsn)
        *first_lsn = res.first_lsn;
    if (nrecords)
        *nrecords = res.nrec;
    if (good_len)
        *good_len = res.good_len;
    if (r == 1)
        sf_set_err(err, errlen, "%s", res.reason);
    return r;
}

/* ---- the log ------------------------------------------------------------ */

typedef struct seg {
    uint64_t first_lsn;
    uint64_t size; /* bytes written (durable once the sync returns) */
    int fd;        /* open for the last segment (and during a sync) */
} seg;

typedef struct cut {
    uint64_t first_lsn; /* the segment the records from off on go to */
    size_t off;
} cut;

struct sf_durlog {
    sf_durlog_opts o;
    char *dir;
    int dirfd, lockfd;
    seg *segs;
    size_t nsegs, segcap;
    sf_buf buf;          /* records appended since the last sync */
    size_t last_off;     /* offset in buf of the newest record */
    cut *cuts;           /* segment rollovers inside buf */
    size_t ncuts, cutcap;
    uint64_t durable_lsn, next_lsn;
    uint64_t tail_size, tail_nrec; /* the newest segment once buf is written */
    int broken;
    char broken_msg[200];
    sf_durlog_stats st;
};

void sf_durlog_opts_init(sf_durlog_opts *o)
{
    memset(o, 0, sizeof *o);
    o->segment_size = SF_DURLOG_SEGMENT_DEFAULT;
    o->max_record = SF_DURLOG_RECORD_DEFAULT;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(int e, char *err, size_t errlen, const char *what, const char *name)
{
    sf_set_err(err, errlen, "durable log: %s %s: %s", what, name ? name : "", strerror(e));
    return -e;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return ENOSPC;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return EIO; /* shrank under us */
        got += (size_t)r;
    }
    return 0;
}

/* Read the first `limit` bytes (all when limit is UINT64_MAX) of segment
 * `name` into a new buffer. */
static int load_file(int dirfd, const char *name, uint64_t limit, unsigned char **out, size_t *len, char *err,
                     size_t errlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno, err, errlen, "cannot open", name);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return fail(e, err, errlen, "cannot stat", name);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > limit)
        size = limit;
    if (size > SEG_FILE_MAX) {
        close(fd);
        sf_set_err(err, errlen, "durable log: segment %s is too large (%" PRIu64 " bytes)", name, size);
        return -EFBIG;
    }
    unsigned char *d = sf_xmalloc((size_t)size);
    int e = read_all(fd, d, (size_t)size);
    close(fd);
    if (e) {
        free(d);
        return fail(e, err, errlen, "cannot read", name);
    }
    *out = d;
    *len = (size_t)size;
    return 0;
}

static void push_seg(sf_durlog *log, uint64_t first_lsn, uint64_t size, int fd)
{
    if (log->nsegs == log->segcap) {
        log->segcap = log->segcap ? 2 * log->segcap : 8;
        log->segs = sf_xrealloc(log->segs, log->segcap * sizeof *log->segs);
    }
    log->segs[log->nsegs++] = (seg){first_lsn, size, fd};
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* mkdir one directory; when it is new, fsync its parent so that the new
 * entry survives a crash (best effort: a failure shows up later). */
static int make_one_dir(char *p)
{
    if (mkdir(p, 0777) != 0)
        return errno == EEXIST ? 0 : errno;
    char *slash = strrchr(p, '/');
    const char *parent = ".";
    if (slash == p)
        parent = "/";
    else if (slash)
        *slash = 0, parent = p;
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    if (slash && slash != p)
        *slash = '/';
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return ENOMEM;
    int e = 0;
    for (char *s = p + 1; *s && !e; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        e = make_one_dir(p);
        *s = '/';
    }
    if (!e)
        e = make_one_dir(p);
    free(p);
    return e;
}

/* Create segment first_lsn holding only its header; *fd open for writing.
 * The caller makes it durable (fdatasync, then fsync of the directory). */
static int create_seg(sf_durlog *log, uint64_t first_lsn, int *fd, char *err, size_t errlen)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, first_lsn);
    int f = openat(log->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (f < 0)
        return fail(errno, err, errlen, "cannot create segment", name);
    unsigned char h[SEG_HDR];
    seg_header(h, first_lsn);
    int e = pwrite_all(f, h, SEG_HDR, 0);
    if (e) {
        close(f);
        unlinkat(log->dirfd, name, 0);
        return fail(e, err, errlen, "cannot write segment header of", name);
    }
    *fd = f;
    return 0;
}

static int sync_dir(sf_durlog *log, char *err, size_t errlen)
{
    if (fsync(log->dirfd) != 0)
        return fail(errno, err, errlen, "cannot fsync directory", log->dir);
    return 0;
}

static void free_log(sf_durlog *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i].fd >= 0)
            close(log->segs[i].fd);
    if (log->dirfd >= 0)
        close(log->dirfd);
    if (log->lockfd >= 0)
        close(log->lockfd); /* releases the flock */
    sf_buf_free(&log->buf);
    free(log->segs);
    free(log->cuts);
    free(log->dir);
    free(log);
}

/* Make the log's only segment: the first one ever, starting at LSN 1. */
static int init_empty(sf_durlog *log, char *err, size_t errlen)
{
    int fd, r = create_seg(log, 1, &fd, err, errlen);
    if (r < 0)
        return r;
    if (fdatasync(fd) != 0) {
        int e = errno;
        close(fd);
        return fail(e, err, errlen, "cannot fdatasync the first segment in", log->dir);
    }
    push_seg(log, 1, SEG_HDR, fd);
    return sync_dir(log, err, errlen);
}

/* Rename segments [from, n) aside (salvage). */
static int rename_damaged(sf_durlog *log, const uint64_t *lsns, size_t from, size_t n, char *err, size_t errlen)
{
    for (size_t i = from; i < n; i++) {
        char name[SEG_NAME_LEN + 1], aside[SEG_NAME_LEN + 16];
        seg_name(name, lsns[i]);
        snprintf(aside, sizeof aside, "%s.damaged", name);
        if (renameat(log->dirfd, name, log->dirfd, aside) != 0)
            return fail(errno, err, errlen, "cannot rename aside", name);
    }
    return 0;
}

/* Cut segment name to good_len bytes (rewriting its header when the header
 * itself is torn) and make that durable. */
static int cut_seg(sf_durlog *log, const char *name, uint64_t first_lsn, size_t good_len, char *err, size_t errlen)
{
    int fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(errno, err, errlen, "cannot open", name);
    int e = 0;
    if (good_len < SEG_HDR) {
        unsigned char h[SEG_HDR];
        seg_header(h, first_lsn);
        if (ftruncate(fd, 0) != 0 || (e = pwrite_all(fd, h, SEG_HDR, 0)) != 0)
            e = e ? e : errno;
    } else if (ftruncate(fd, (off_t)good_len) != 0) {
        e = errno;
    }
    if (!e && fdatasync(fd) != 0)
        e = errno;
    close(fd);
    return e ? fail(e, err, errlen, "cannot cut the torn tail of", name) : 0;
}

static int scan_dir(sf_durlog *log, sf_durlog_report *rep, char *err, size_t errlen)
{
    DIR *dp = fdopendir(dup(log->dirfd));
    if (!dp)
        return fail(errno, err, errlen, "cannot list", log->dir);
    uint64_t *lsns = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        uint64_t l;
        if (!parse_seg_name(de->d_name, &l))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            lsns = sf_xrealloc(lsns, cap * sizeof *lsns);
        }
        lsns[n++] = l;
    }
    closedir(dp);
    if (n == 0) {
        free(lsns);
        return init_empty(log, err, errlen);
    }
    qsort(lsns, n, sizeof *lsns, cmp_u64);

    int r = 0;
    uint64_t expect = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        char name[SEG_NAME_LEN + 1], why[200];
        seg_name(name, lsns[i]);
        unsigned char *d;
        size_t len;
        if ((r = load_file(log->dirfd, name, UINT64_MAX, &d, &len, err, errlen)) < 0)
            break;
        int last = i + 1 == n;
        scan_res res;
        int s = scan_segment(d, len, last, &res, why, sizeof why);
        free(d);
        if (s < 0 && res.salvageable && log->o.salvage) {
            sf_set_err(res.reason, sizeof res.reason, "salvage: %s", why);
            s = 1;
            if (!last) {
                if ((r = rename_damaged(log, lsns, i + 1, n, err, errlen)) < 0)
                    break;
                n = i + 1;
                last = 1;
            }
        }
        if (s < 0) {
            sf_set_err(err, errlen, "durable log %s: segment %s: %s", log->dir, name, why);
            r = s;
            break;
        }
        uint64_t first = s == 1 && res.good_len < SEG_HDR ? lsns[i] : res.first_lsn;
        if (first != lsns[i]) {
            sf_set_err(err, errlen, "durable log %s: segment %s says it starts at LSN %" PRIu64, log->dir, name,
                       first);
            r = -EIO;
            break;
        }
        if (i > 0 && first != expect) {
            sf_set_err(err, errlen,
                       "durable log %s: segment %s starts at LSN %" PRIu64 " but the one before it ends before %" PRIu64
                       " (a segment is missing or extra)",
                       log->dir, name, first, expect);
            r = -EIO;
            break;
        }
        uint64_t size = len;
        if (s == 1) {
            if ((r = cut_seg(log, name, first, res.good_len, err, errlen)) < 0)
                break;
            size = res.good_len < SEG_HDR ? SEG_HDR : res.good_len;
            if (rep) {
                rep->cut = 1;
                rep->cut_lsn = first + res.nrec;
                rep->cut_offset = res.good_len;
                rep->cut_bytes = res.good_len < SEG_HDR ? len : len - res.good_len;
                snprintf(rep->cut_segment, sizeof rep->cut_segment, "%s", name);
                snprintf(rep->cut_reason, sizeof rep->cut_reason, "%s", res.reason);
            }
        }
        expect = first + res.nrec;
        int fd = -1;
        if (last) {
            fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                r = fail(errno, err, errlen, "cannot open", name);
                break;
            }
        }
        push_seg(log, first, size, fd);
        log->durable_lsn = expect;
        if (rep)
            rep->records += res.nrec;
    }
    free(lsns);
    if (r == 0)
        r = sync_dir(log, err, errlen);
    return r;
}

int sf_durlog_open(const char *dir, const sf_durlog_opts *opts, sf_durlog **out, sf_durlog_report *rep,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (rep)
        memset(rep, 0, sizeof *rep);
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    if (opts)
        o = *opts;
    if (o.segment_size < SF_DURLOG_SEGMENT_MIN || o.max_record == 0 || o.max_record > SF_DURLOG_RECORD_HARD_MAX) {
        sf_set_err(err, errlen,
                   "durable log: segment size must be at least %u bytes and the record limit 1..%u bytes",
                   SF_DURLOG_SEGMENT_MIN, SF_DURLOG_RECORD_HARD_MAX);
        return -EINVAL;
    }
    sf_durlog *log = sf_xcalloc(1, sizeof *log);
    log->o = o;
    log->dir = strdup(dir);
    log->dirfd = log->lockfd = -1;
    sf_buf_init(&log->buf);
    log->durable_lsn = 1;
    int e = make_dirs(dir);
    if (e) {
        free_log(log);
        return fail(e, err, errlen, "cannot create directory", dir);
    }
    log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0) {
        e = errno;
        free_log(log);
        return fail(e, err, errlen, "cannot open directory", dir);
    }
    log->lockfd = openat(log->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (log->lockfd < 0) {
        e = errno;
        free_log(log);
        return fail(e, err, errlen, "cannot create lock file in", dir);
    }
    if (flock(log->lockfd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        free_log(log);
        if (e == EWOULDBLOCK) {
            sf_set_err(err, errlen, "durable log: %s is in use by another process", dir);
            return -EBUSY;
        }
        return fail(e, err, errlen, "cannot lock", dir);
    }
    int r = scan_dir(log, rep, err, errlen);
    if (r < 0) {
        free_log(log);
        return r;
    }
    log->next_lsn = log->durable_lsn;
    log->last_off = SIZE_MAX;
    seg *t = &log->segs[log->nsegs - 1];
    log->tail_size = t->size;
    log->tail_nrec = log->durable_lsn - t->first_lsn;
    log->st.segments = log->nsegs;
    if (rep) {
        rep->segments = log->nsegs;
        rep->first_lsn = log->segs[0].first_lsn;
        rep->next_lsn = log->next_lsn;
    }
    *out = log;
    return 0;
}

static int check_broken(const sf_durlog *log, char *err, size_t errlen)
{
    if (!log->broken)
        return 0;
    sf_set_err(err, errlen, "%s", log->broken_msg);
    return -EIO;
}

int sf_durlog_append(sf_durlog *log, uint32_t type, const void *bytes, size_t len, uint64_t *lsn, char *err,
                     size_t errlen)
{
    int r = check_broken(log, err, errlen);
    if (r < 0)
        return r;
    if (type == 0 || type > SF_DURLOG_TYPE_MAX) {
        sf_set_err(err, errlen, "durable log: record type %u is not in 1..%u", type, SF_DURLOG_TYPE_MAX);
        return -EINVAL;
    }
    if (len > log->o.max_record) {
        sf_set_err(err, errlen, "durable log: record of %zu bytes is larger than the limit of %u bytes", len,
                   log->o.max_record);
        return -EMSGSIZE;
    }
    uint64_t reclen = REC_HDR + (uint64_t)len;
    if (log->tail_nrec > 0 && log->tail_size + reclen > log->o.segment_size) {
        if (log->ncuts == log->cutcap) {
            log->cutcap = log->cutcap ? 2 * log->cutcap : 4;
            log->cuts = sf_xrealloc(log->cuts, log->cutcap * sizeof *log->cuts);
        }
        log->cuts[log->ncuts++] = (cut){log->next_lsn, log->buf.len};
        log->tail_size = SEG_HDR;
        log->tail_nrec = 0;
    }
    unsigned char h[REC_HDR];
    put32(h, (uint32_t)len);
    put16(h + 4, (uint16_t)type);
    put16(h + 6, 0);
    put32(h + 8, rec_crc(log->next_lsn, h, bytes, len));
    log->last_off = log->buf.len;
    sf_buf_append(&log->buf, h, REC_HDR);
    if (len)
        sf_buf_append(&log->buf, bytes, len);
    log->tail_size += reclen;
    log->tail_nrec++;
    if (lsn)
        *lsn = log->next_lsn;
    log->next_lsn++;
    return 0;
}

/* Set or clear SYNC_END on the newest buffered record. */
static void mark_sync_end(sf_durlog *log, int on)
{
    unsigned char *h = (unsigned char *)log->buf.data + log->last_off;
    put16(h + 6, on ? F_SYNC_END : 0);
    put32(h + 8, rec_crc(log->next_lsn - 1, h, h + REC_HDR, get32(h)));
}

/* Undo a failed sync: unlink the segments it created, cut the one it
 * started in back to its durable size. */
static void rollback(sf_durlog *log, size_t nsegs, uint64_t size)
{
    int e = 0;
    const char *what = "";
    for (size_t i = log->nsegs; i-- > nsegs;) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, log->segs[i].first_lsn);
        close(log->segs[i].fd);
        if (unlinkat(log->dirfd, name, 0) != 0 && errno != ENOENT && !e) {
            e = errno;
            what = "unlink a new segment";
        }
    }
    if (log->nsegs > nsegs && fsync(log->dirfd) != 0 && !e) {
        e = errno; /* else a crash could bring an unlinked segment back */
        what = "fsync the directory";
    }
    log->nsegs = nsegs;
    seg *t = &log->segs[nsegs - 1];
    /* always: a short write leaves bytes past t->size */
    if (ftruncate(t->fd, (off_t)size) != 0 && !e) {
        e = errno;
        what = "truncate the segment back";
    }
    if (!e)
        (void)fdatasync(t->fd); /* best effort: a torn tail is cut at open anyway */
    t->size = size;
    if (e) {
        log->broken = 1;
        snprintf(log->broken_msg, sizeof log->broken_msg,
                 "durable log %s: a sync failed and could not %s (%s); reopen the log", log->dir, what, strerror(e));
    }
    mark_sync_end(log, 0);
}

int sf_durlog_sync(sf_durlog *log, char *err, size_t errlen)
{
    int r = check_broken(log, err, errlen);
    if (r < 0)
        return r;
    if (log->next_lsn == log->durable_lsn)
        return 0;
    uint64_t t0 = now_ns();
    mark_sync_end(log, 1);
    size_t nsegs0 = log->nsegs;
    uint64_t size0 = log->segs[nsegs0 - 1].size;
    size_t pos = 0;
    uint64_t fsyncs = 0;
    for (size_t k = 0; k <= log->ncuts; k++) {
        size_t end = k < log->ncuts ? log->cuts[k].off : log->buf.len;
        seg *t = &log->segs[log->nsegs - 1];
        char name[SEG_NAME_LEN + 1];
        seg_name(name, t->first_lsn);
        if (end > pos) {
            int e = pwrite_all(t->fd, log->buf.data + pos, end - pos, t->size);
            if (e) {
                r = fail(e, err, errlen, "cannot write segment", name);
                goto failed;
            }
            t->size += end - pos;
            fsyncs++;
            if (fdatasync(t->fd) != 0) {
                r = fail(errno, err, errlen, "cannot fdatasync segment", name);
                goto failed;
            }
            if (log->nsegs > nsegs0 && (r = sync_dir(log, err, errlen)) < 0)
                goto failed;
        }
        pos = end;
        if (k < log->ncuts) {
            int fd;
            if ((r = create_seg(log, log->cuts[k].first_lsn, &fd, err, errlen)) < 0)
                goto failed;
            push_seg(log, log->cuts[k].first_lsn, SEG_HDR, fd);
        }
    }
    /* success: only the newest segment stays open */
    for (size_t i = nsegs0 - 1; i + 1 < log->nsegs; i++) {
        close(log->segs[i].fd);
        log->segs[i].fd = -1;
    }
    uint64_t dt = now_ns() - t0;
    log->st.bytes_synced += log->buf.len;
    log->st.records_synced += log->next_lsn - log->durable_lsn;
    log->st.syncs++;
    log->st.fsyncs += fsyncs;
    log->st.last_sync_ns = dt;
    log->st.total_sync_ns += dt;
    log->st.segments = log->nsegs;
    log->durable_lsn = log->next_lsn;
    sf_buf_reset(&log->buf);
    log->ncuts = 0;
    log->last_off = SIZE_MAX;
    return 0;

failed:
    log->st.fsyncs += fsyncs;
    log->st.sync_errors++;
    rollback(log, nsegs0, size0);
    if (r == -ENOSPC)
        sf_set_err(err, errlen,
                   "durable log %s: no space left on the device (%zu bytes pending); nothing was lost, retry the sync"
                   " once space is freed",
                   log->dir, log->buf.len);
    return r;
}

void sf_durlog_discard(sf_durlog *log)
{
    sf_buf_reset(&log->buf);
    log->ncuts = 0;
    log->last_off = SIZE_MAX;
    log->next_lsn = log->durable_lsn;
    seg *t = &log->segs[log->nsegs - 1];
    log->tail_size = t->size;
    log->tail_nrec = log->durable_lsn - t->first_lsn;
}

int sf_durlog_truncate_before(sf_durlog *log, uint64_t lsn, char *err, size_t errlen)
{
    int r = check_broken(log, err, errlen);
    if (r < 0)
        return r;
    if (lsn > log->durable_lsn) {
        sf_set_err(err, errlen, "durable log: cannot delete up to LSN %" PRIu64 ": only LSNs below %" PRIu64
                   " are durable", lsn, log->durable_lsn);
        return -EINVAL;
    }
    size_t k = 0;
    while (k + 1 < log->nsegs && log->segs[k + 1].first_lsn <= lsn)
        k++;
    size_t done = 0;
    for (; done < k; done++) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, log->segs[done].first_lsn);
        if (unlinkat(log->dirfd, name, 0) != 0 && errno != ENOENT) {
            r = fail(errno, err, errlen, "cannot delete segment", name);
            break;
        }
    }
    if (done) {
        memmove(log->segs, log->segs + done, (log->nsegs - done) * sizeof *log->segs);
        log->nsegs -= done;
        log->st.segments = log->nsegs;
        int s = sync_dir(log, r < 0 ? NULL : err, errlen);
        if (r == 0 && s < 0)
            r = s;
    }
    return r < 0 ? r : (int)done;
}

void sf_durlog_close(sf_durlog *log)
{
    if (log)
        free_log(log);
}

uint64_t sf_durlog_first_lsn(const sf_durlog *log)
{
    return log->segs[0].first_lsn;
}

uint64_t sf_durlog_durable_lsn(const sf_durlog *log)
{
    return log->durable_lsn;
}

uint64_t sf_durlog_next_lsn(const sf_durlog *log)
{
    return log->next_lsn;
}

void sf_durlog_get_stats(const sf_durlog *log, sf_durlog_stats *st)
{
    *st = log->st;
}

/* ---- replay ------------------------------------------------------------- */

struct sf_durlog_iter {
    sf_durlog *log;
    uint64_t lsn, end_lsn;   /* next LSN to yield; stop there */
    unsigned char *data;     /* the loaded segment */
    size_t len, off;
    uint64_t off_lsn;        /* LSN of the record at off */
    char name[SEG_NAME_LEN + 1];
};

int sf_durlog_iter_init(sf_durlog *log, uint64_t from_lsn, sf_durlog_iter **out, char *err, size_t errlen)
{
    *out = NULL;
    if (from_lsn < log->segs[0].first_lsn || from_lsn > log->durable_lsn) {
        sf_set_err(err, errlen, "durable log: cannot replay from LSN %" PRIu64 ": the log holds LSNs %" PRIu64
                   "..%" PRIu64, from_lsn, log->segs[0].first_lsn, log->durable_lsn - 1);
        return from_lsn < log->segs[0].first_lsn ? -ENOENT : -EINVAL;
    }
    sf_durlog_iter *it = sf_xcalloc(1, sizeof *it);
    it->log = log;
    it->lsn = from_lsn;
    it->end_lsn = log->durable_lsn;
    *out = it;
    return 0;
}

/* Load the segment holding it->lsn (up to its durable size). */
static int iter_load(sf_durlog_iter *it, char *err, size_t errlen)
{
    sf_durlog *log = it->log;
    size_t i = log->nsegs;
    while (i > 0 && log->segs[i - 1].first_lsn > it->lsn)
        i--;
    if (i == 0) {
        sf_set_err(err, errlen, "durable log: LSN %" PRIu64 " was deleted while being replayed", it->lsn);
        return -ENOENT;
    }
    seg *s = &log->segs[i - 1];
    free(it->data);
    it->data = NULL;
    seg_name(it->name, s->first_lsn);
    int r = load_file(log->dirfd, it->name, s->size, &it->data, &it->len, err, errlen);
    if (r < 0)
        return r;
    if (it->len < SEG_HDR) {
        sf_set_err(err, errlen, "durable log: segment %s shrank to %zu bytes", it->name, it->len);
        return -EIO;
    }
    it->off = SEG_HDR;
    it->off_lsn = s->first_lsn;
    return 0;
}

int sf_durlog_iter_next(sf_durlog_iter *it, sf_durlog_rec *rec, char *err, size_t errlen)
{
    while (it->lsn < it->end_lsn) {
        if (!it->data || it->off >= it->len) {
            int r = iter_load(it, err, errlen);
            if (r < 0)
                return r;
            if (it->off >= it->len) {
                sf_set_err(err, errlen, "durable log: segment %s holds no record %" PRIu64, it->name, it->lsn);
                return -EIO;
            }
        }
        size_t next;
        unsigned fl;
        int c = rec_check(it->data, it->len, it->off, it->off_lsn, &next, &fl);
        if (c != REC_OK) {
            sf_set_err(err, errlen, "durable log: segment %s: %s at offset %zu (LSN %" PRIu64 ")", it->name,
                       rec_problem(c), it->off, it->off_lsn);
            return -EIO;
        }
        uint64_t l = it->off_lsn;
        const unsigned char *h = it->data + it->off;
        it->off = next;
        it->off_lsn++;
        if (l < it->lsn)
            continue;
        rec->lsn = l;
        rec->type = get16(h + 4);
        rec->data = (const char *)h + REC_HDR;
        rec->len = get32(h);
        it->lsn++;
        return 1;
    }
    return 0;
}

void sf_durlog_iter_close(sf_durlog_iter *it)
{
    if (!it)
        return;
    free(it->data);
    free(it);
}
