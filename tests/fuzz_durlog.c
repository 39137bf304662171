/* fuzz_durlog.c: libFuzzer target for the durable log's segment scanner and
 * open/replay (runtime/cluster/durlog.c). The input is the content of a
 * segment file: checked in memory with sf_durlog_check_segment, then
 * written into a fresh log directory (alone, or as the last segment after
 * three valid records the log wrote itself, by the low bit of the first
 * byte) and opened. Must hold: the in-memory check and open agree (open
 * succeeds exactly when the check does, and keeps the same records); a
 * successful open replays exactly its reported records; an append and a
 * sync after it succeed and a reopen then finds nothing to cut and one
 * record more. The input also goes through the three record payload
 * decoders (durlog_rec.c): a decoded payload re-encodes to the same bytes.
 * And it drives a damaged log (damaged_log): the input describes records
 * and group commits the log writes itself across small segments, then one
 * byte flipped and a cut of the last segment; a reopen must replay an
 * exact prefix of what was written, and everything when nothing was
 * damaged.
 *
 * Run: build-fuzz/fuzz/fuzz_durlog tests/fuzz/corpus_durlog */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durlog.h"
#include "stateflow/sf_fs.h"
#include "durlog_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *p, const uint8_t *data, size_t size)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    close(fd);
}

/* Replay everything; abort unless exactly `want` records come out. */
static void replay(sf_durlog *log, uint64_t want)
{
    char err[256];
    sf_durlog_iter *it;
    if (sf_durlog_iter_init(log, sf_durlog_first_lsn(log), &it, err, sizeof err) != 0)
        abort();
    sf_durlog_rec r;
    uint64_t n = 0, lsn = sf_durlog_first_lsn(log);
    int rc;
    while ((rc = sf_durlog_iter_next(it, &r, err, sizeof err)) == 1) {
        if (r.lsn != lsn++ || r.type == 0 || r.type > SF_DURLOG_TYPE_MAX)
            abort();
        if (r.len && (r.data[0] | r.data[r.len - 1]) == 0x1ff) /* touch both ends */
            abort();
        n++;
    }
    if (rc != 0 || n != want)
        abort();
    sf_durlog_iter_close(it);
}

static void same(const sf_buf *b, const uint8_t *data, size_t size)
{
    if (b->len != size || memcmp(b->data, data, size) != 0)
        abort();
}

static void payloads(const uint8_t *data, size_t size)
{
    char err[128];
    sf_buf b;
    sf_buf_init(&b);
    sf_durlog_batch bt;
    if (sf_durlog_batch_decode(data, size, &bt, err, sizeof err) == 0) {
        sf_durlog_batch_encode(&bt, &b);
        same(&b, data, size);
        sf_durlog_batch_free(&bt);
    }
    sf_buf_reset(&b);
    sf_durlog_outcome o;
    if (sf_durlog_outcome_decode(data, size, &o, err, sizeof err) == 0) {
        sf_durlog_outcome_encode(&o, &b);
        same(&b, data, size);
    }
    sf_buf_reset(&b);
    sf_durlog_batch_time t;
    if (sf_durlog_batch_time_decode(data, size, &t, err, sizeof err) == 0) {
        sf_durlog_batch_time_encode(&t, &b);
        same(&b, data, size);
    }
    sf_buf_free(&b);
}

/* Segments of dir, sorted by first LSN; returns the count. */
static size_t list_segs(const char *dir, uint64_t *out, size_t cap)
{
    DIR *dp = opendir(dir);
    if (!dp)
        abort();
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strlen(de->d_name) == 22 && !strcmp(de->d_name + 16, ".sflog") && n < cap)
            out[n++] = strtoull(de->d_name, NULL, 16);
    closedir(dp);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* data: [cut lo][cut hi][flip lo][flip hi][segment] then records, each
 * [h][payload: h >> 2 bytes], a group commit after it when h & 1. */
static void damaged_log(const uint8_t *data, size_t size)
{
    if (size < 5)
        return;
    unsigned cut = data[0] | data[1] << 8, flip = data[2] | data[3] << 8, which = data[4];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char root[128], dir[160], err[256];
    snprintf(root, sizeof root, "%s/fuzz_durlog_XXXXXX", base);
    if (!mkdtemp(root))
        abort();
    snprintf(dir, sizeof dir, "%s/log", root);
    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    o.segment_size = SF_DURLOG_SEGMENT_MIN;
    sf_durlog *log;
    if (sf_durlog_open(dir, &o, &log, NULL, err, sizeof err) != 0)
        abort();
    size_t off[4096], len[4096], n = 0; /* written payloads, in data */
    uint8_t type[4096];
    size_t at = 5;
    while (at < size && n < 4096) {
        uint8_t h = data[at++];
        size_t l = (size_t)(h >> 2);
        if (l > size - at)
            l = size - at;
        off[n] = at;
        len[n] = l;
        type[n] = (uint8_t)(1 + (h & 2));
        if (sf_durlog_append(log, type[n], data + at, l, NULL, err, sizeof err) != 0)
            abort();
        n++;
        at += l;
        if ((h & 1) && sf_durlog_sync(log, err, sizeof err) != 0)
            abort();
    }
    if (sf_durlog_sync(log, err, sizeof err) != 0)
        abort();
    sf_durlog_close(log);

    uint64_t segs[4096];
    size_t ns = list_segs(dir, segs, 4096);
    int damaged = 0;
    char p[256];
    if (flip != 0xffff) {
        snprintf(p, sizeof p, "%s/%016" PRIx64 ".sflog", dir, segs[which % ns]);
        int fd = open(p, O_RDWR);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0)
            abort();
        if (sb.st_size > 0) {
            unsigned char b;
            off_t pos = (off_t)(flip % (unsigned)sb.st_size);
            if (pread(fd, &b, 1, pos) != 1)
                abort();
            b ^= (unsigned char)(data[4] | 1);
            if (pwrite(fd, &b, 1, pos) != 1)
                abort();
            damaged = 1;
        }
        close(fd);
    }
    if (cut) {
        snprintf(p, sizeof p, "%s/%016" PRIx64 ".sflog", dir, segs[ns - 1]);
        struct stat sb;
        if (stat(p, &sb) != 0)
            abort();
        off_t c = (off_t)(cut % (unsigned)(sb.st_size + 1));
        if (c && truncate(p, sb.st_size - c) != 0)
            abort();
        damaged |= c != 0;
    }

    sf_durlog_report rep;
    int r = sf_durlog_open(dir, &o, &log, &rep, err, sizeof err);
    if (!damaged && (r != 0 || rep.cut || rep.records != n))
        abort();
    if (r == 0) {
        if (rep.records > n || rep.first_lsn != 1)
            abort();
        sf_durlog_iter *it;
        if (sf_durlog_iter_init(log, 1, &it, err, sizeof err) != 0)
            abort();
        sf_durlog_rec rec;
        uint64_t k = 0;
        int rc;
        while ((rc = sf_durlog_iter_next(it, &rec, err, sizeof err)) == 1) {
            if (rec.lsn != k + 1 || rec.type != type[k] || rec.len != len[k] ||
                (rec.len && memcmp(rec.data, data + off[k], rec.len) != 0))
                abort();
            k++;
        }
        if (rc != 0 || k != rep.records)
            abort();
        sf_durlog_iter_close(it);
        sf_durlog_close(log);
    }
    (void)sf_fs_remove_dir(dir);
    (void)sf_fs_remove_dir(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    payloads(data, size);
    damaged_log(data, size);
    uint64_t first = 0, nrec = 0;
    size_t good = 0;
    int chk = sf_durlog_check_segment(data, size, &first, &nrec, &good, err, sizeof err);
    if (chk == 0 && good != size)
        abort();
    if (chk >= 0 && good > size)
        abort();

    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char root[128], dir[160];
    snprintf(root, sizeof root, "%s/fuzz_durlog_XXXXXX", base);
    if (!mkdtemp(root))
        abort();
    snprintf(dir, sizeof dir, "%s/log", root);

    sf_durlog_opts o;
    sf_durlog_opts_init(&o);
    o.segment_size = 4096;
    sf_durlog *log;
    sf_durlog_report rep;
    int after = size > 0 && (data[0] & 1);
    uint64_t before = 0;
    if (after) {
        /* a first segment of three records, then the input as the next one */
        if (sf_durlog_open(dir, &o, &log, NULL, err, sizeof err) != 0)
            abort();
        for (int i = 0; i < 3; i++)
            if (sf_durlog_append(log, SF_DURLOG_REQUEST, "abc", 3, NULL, err, sizeof err) != 0)
                abort();
        if (sf_durlog_sync(log, err, sizeof err) != 0)
            abort();
        sf_durlog_close(log);
        before = 3;
    } else {
        mkdir(dir, 0777);
    }
    /* name it as its header says when that is readable, else the LSN it
     * should have */
    uint64_t name_lsn = chk >= 0 && first ? first : before + 1;
    char p[256];
    snprintf(p, sizeof p, "%s/%016" PRIx64 ".sflog", dir, name_lsn);
    write_file(p, data, size);

    int r = sf_durlog_open(dir, &o, &log, &rep, err, sizeof err);
    /* the check and open agree when the name fits */
    int fits = name_lsn == before + 1 || (!after && chk >= 0);
    if (fits && (chk < 0) != (r < 0))
        abort();
    if (r == 0) {
        if (fits && rep.records != before + nrec)
            abort();
        if ((chk == 1) != rep.cut && fits)
            abort();
        replay(log, rep.records);
        uint64_t lsn;
        if (sf_durlog_append(log, SF_DURLOG_BATCH, data, size < 64 ? size : 64, &lsn, err, sizeof err) != 0)
            abort();
        if (lsn != rep.next_lsn || sf_durlog_sync(log, err, sizeof err) != 0)
            abort();
        sf_durlog_close(log);
        sf_durlog_report rep2;
        if (sf_durlog_open(dir, &o, &log, &rep2, err, sizeof err) != 0)
            abort();
        if (rep2.cut || rep2.records != rep.records + 1)
            abort();
        replay(log, rep2.records);
        sf_durlog_close(log);
    }
    (void)sf_fs_remove_dir(dir);
    (void)sf_fs_remove_dir(root);
    return 0;
}
