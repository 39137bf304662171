/* durlog.h: the durable log (DESIGN 4.4, docs/durability.md "On-disk
 * format"): an append-only, checksummed, segmented file log under a data
 * directory, the coordinator's replayable ingress. Records are numbered by
 * LSN (1, 2, 3, ... across segments), carry a caller-chosen type and opaque
 * bytes, and become durable in group commits: sf_durlog_append only buffers,
 * sf_durlog_sync writes everything buffered since the last sync with one
 * write and one fdatasync (two at a segment rollover).
 *
 *   sf_durlog_opts o; sf_durlog_opts_init(&o);
 *   sf_durlog_report rep;
 *   sf_durlog *log;
 *   if (sf_durlog_open(dir, &o, &log, &rep, err, sizeof err) < 0) ... fatal
 *   if (rep.cut) warn(rep.cut_reason);                 // a torn tail was cut
 *   // replay
 *   sf_durlog_iter *it; sf_durlog_rec r;
 *   sf_durlog_iter_init(log, from_lsn, &it, err, sizeof err);
 *   while ((rc = sf_durlog_iter_next(it, &r, err, sizeof err)) == 1) use(r);
 *   sf_durlog_iter_close(it);
 *   // run: per batch
 *   sf_durlog_append(log, SF_DURLOG_REQUEST, req, len, &lsn, err, sizeof err);
 *   ...
 *   if (sf_durlog_sync(log, err, sizeof err) < 0) { answer Unavailable;
 *                                                   sf_durlog_discard(log); }
 *   // after a complete snapshot taken at LSN s
 *   sf_durlog_truncate_before(log, s, err, sizeof err);
 *   sf_durlog_close(log);
 *
 * Functions returning int give 0 (or a count) on success and a negative
 * errno on failure (-ENOSPC, -EIO, -EINVAL, ...), with a message in err.
 * Internal to the runtime (only the coordinator uses it), hence this header
 * sits next to its .c rather than in include/stateflow/. Single-threaded:
 * one sf_durlog is used from one thread; one process per directory (open
 * takes an exclusive lock). */
#ifndef SF_RUNTIME_DURLOG_H
#define SF_RUNTIME_DURLOG_H

#include <stddef.h>
#include <stdint.h>

/* Record types the coordinator writes (the log itself accepts any type in
 * 1..SF_DURLOG_TYPE_MAX and never looks inside a payload). The payload
 * layouts are the coordinator's; docs/durability.md lists them. */
enum sf_durlog_type {
    SF_DURLOG_REQUEST = 1,    /* an accepted request: its msgpack request map */
    SF_DURLOG_BATCH = 2,      /* batch membership: batch id, the positions it
                               * took, the reruns it carries */
    SF_DURLOG_OUTCOME = 3,    /* an outcome that depends on time (a
                               * TimeLimitExceeded abort): batch, position */
    SF_DURLOG_BATCH_TIME = 4, /* the time stamp of a batch (what time.time()
                               * answers inside it, on replay too) */
};
#define SF_DURLOG_TYPE_MAX 0xffffu
#define SF_DURLOG_LSN_MAX (UINT64_C(1) << 62) /* no LSN beyond: a header claiming one is invalid */

#define SF_DURLOG_SEGMENT_DEFAULT (64u * 1024u * 1024u) /* rollover size */
#define SF_DURLOG_SEGMENT_MIN 1024u
#define SF_DURLOG_RECORD_DEFAULT (16u * 1024u * 1024u + 4096u) /* a request frame and change */
#define SF_DURLOG_RECORD_HARD_MAX (256u * 1024u * 1024u) /* the format's limit */

typedef struct sf_durlog_opts {
    uint64_t segment_size; /* start a new segment once this one would grow
                            * past it (a single record bigger than that
                            * gets a segment of its own) */
    uint32_t max_record;   /* largest payload accepted by append, bytes,
                            * at most SF_DURLOG_RECORD_HARD_MAX */
    int salvage;           /* operator override: at open, cut at a corrupt
                            * record even when it was provably durable
                            * (later segments are renamed *.damaged) instead
                            * of failing */
} sf_durlog_opts;

void sf_durlog_opts_init(sf_durlog_opts *o);

/* What sf_durlog_open found. cut is set when a torn or corrupt tail was
 * cut off (never replayed) or a torn segment header rewritten: cut_reason
 * says where and why. */
typedef struct sf_durlog_report {
    int cut;
    uint64_t segments;        /* segment files after open */
    uint64_t records;         /* valid records kept */
    uint64_t first_lsn;       /* the oldest record kept (== next_lsn: none) */
    uint64_t next_lsn;        /* the LSN the next append gets */
    uint64_t cut_lsn;         /* the first LSN that was cut */
    uint64_t cut_offset;      /* its byte offset in cut_segment */
    uint64_t cut_bytes;       /* bytes removed */
    char cut_segment[64];     /* file name (no directory) */
    char cut_reason[160];
} sf_durlog_report;

typedef struct sf_durlog sf_durlog;

/* Open (creating the directory and the first segment when missing) the log
 * under dir. Scans every segment and validates every record; a torn or
 * corrupt tail of the last sync group is cut and reported. Fails (no log)
 * on corruption of data that was provably durable: a bad record in a
 * segment that is not the last one, or in the last one followed by a later
 * sync group; also on a segment of another format version, a gap between
 * segments, or when another process holds the directory. rep may be NULL. */
int sf_durlog_open(const char *dir, const sf_durlog_opts *opts, sf_durlog **out, sf_durlog_report *rep,
                   char *err, size_t errlen);

/* Buffer one record (copied); *lsn gets its LSN. Not durable until the next
 * successful sf_durlog_sync. Refuses type 0 or above SF_DURLOG_TYPE_MAX
 * and payloads longer than opts.max_record (-EMSGSIZE). */
int sf_durlog_append(sf_durlog *log, uint32_t type, const void *bytes, size_t len, uint64_t *lsn,
                     char *err, size_t errlen);

/* Group commit: write every record appended since the last successful sync
 * and fdatasync. On success every LSN below sf_durlog_next_lsn is durable.
 * On failure (-ENOSPC, -EIO, ...) the files are put back exactly as they
 * were after the last successful sync and the records stay buffered: call
 * sf_durlog_sync again later (e.g. once space returns), or drop them with
 * sf_durlog_discard. If putting the files back fails too, the log is
 * broken: every later call fails and only a reopen (which cuts whatever is
 * torn) recovers. */
int sf_durlog_sync(sf_durlog *log, char *err, size_t errlen);

/* Drop the records appended since the last successful sync: next_lsn goes
 * back to durable_lsn and those LSNs are given out again. */
void sf_durlog_discard(sf_durlog *log);

/* Delete every segment whose records all have LSNs below lsn (never the
 * last segment). lsn must not exceed sf_durlog_durable_lsn. Returns the
 * number of segments deleted. */
int sf_durlog_truncate_before(sf_durlog *log, uint64_t lsn, char *err, size_t errlen);

/* Close the files and free the log. Records not synced are dropped. */
void sf_durlog_close(sf_durlog *log);

uint64_t sf_durlog_first_lsn(const sf_durlog *log);   /* oldest record kept */
uint64_t sf_durlog_durable_lsn(const sf_durlog *log); /* every LSN below is durable */
uint64_t sf_durlog_next_lsn(const sf_durlog *log);    /* the next append's LSN */

typedef struct sf_durlog_stats {
    uint64_t segments;      /* segment files now */
    uint64_t bytes_synced;  /* record bytes made durable since open */
    uint64_t records_synced;
    uint64_t syncs;         /* successful sf_durlog_sync calls that wrote */
    uint64_t fsyncs;        /* fdatasync calls issued */
    uint64_t sync_errors;
    uint64_t last_sync_ns;  /* wall time of the last successful sync */
    uint64_t total_sync_ns;
} sf_durlog_stats;

void sf_durlog_get_stats(const sf_durlog *log, sf_durlog_stats *st);

/* ---- replay ----
 * Yields the durable records with LSN >= from_lsn in LSN order, up to the
 * durable LSN at the time of sf_durlog_iter_init (appends and syncs may go
 * on meanwhile; truncate_before must not delete segments it still has to
 * read). Segments are read whole, one at a time, and every record's
 * checksum is verified again as it is read. from_lsn
 * below first_lsn (already deleted) or above durable_lsn is an error. */
typedef struct sf_durlog_iter sf_durlog_iter;

typedef struct sf_durlog_rec {
    uint64_t lsn;
    uint32_t type;
    const char *data; /* valid until the next sf_durlog_iter_next/close */
    size_t len;
} sf_durlog_rec;

int sf_durlog_iter_init(sf_durlog *log, uint64_t from_lsn, sf_durlog_iter **out, char *err, size_t errlen);
/* 1 and *rec: a record; 0: the end; negative: an error (message in err). */
int sf_durlog_iter_next(sf_durlog_iter *it, sf_durlog_rec *rec, char *err, size_t errlen);
void sf_durlog_iter_close(sf_durlog_iter *it);

/* ---- checking bytes (tools, fuzzing) ----
 * Validate data[0..len) as the complete contents of a segment file without
 * touching the disk: header, then records. Returns 0 when every record is
 * valid, 1 when the bytes end in a torn or corrupt tail that open would
 * cut (*good_len: the bytes open keeps), or a negative errno when open
 * would fail (message in err). *first_lsn and *nrecords describe the valid
 * prefix; any may be NULL. */
int sf_durlog_check_segment(const void *data, size_t len, uint64_t *first_lsn, uint64_t *nrecords,
                            size_t *good_len, char *err, size_t errlen);

#endif
