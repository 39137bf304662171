/* frame.h: the wire frame of docs/runtime.md ("Wire format"): a 4-byte
 * big-endian length n (1 <= n <= SF_FRAME_MAX) followed by n bytes holding
 * exactly one msgpack array [type, ...] whose first element is a positive
 * integer. This module owns the frame type numbers, the encoder helpers
 * (pack msgpack straight into an sf_buf behind a length placeholder), the
 * structural payload check and the incremental decoder. Pure C, no libuv,
 * no allocation except the decoder's own buffer. */
#ifndef SF_RUNTIME_FRAME_H
#define SF_RUNTIME_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "stateflow/sf_buf.h"

#define SF_FRAME_HDR 4u                    /* length prefix */
#define SF_FRAME_MAX (16u * 1024u * 1024u) /* largest payload, inclusive */
#define SF_FRAME_MAX_DEPTH 64              /* msgpack nesting limit of a payload */
#define SF_PROTOCOL_VERSION 1

/* Frame types (the first element of the payload array). Types 1..4 are
 * the connection protocol handled inside net.c; 10 and up are delivered to
 * the application. */
enum sf_frame_type {
    SF_FRAME_HELLO = 1,     /* [1, version, token(bin), role(str), listen addr(str)] */
    SF_FRAME_WELCOME = 2,   /* [2, version] */
    SF_FRAME_REFUSE = 3,    /* [3, reason(str)] */
    SF_FRAME_PING = 4,      /* [4] */
    SF_FRAME_APP_MIN = 10,  /* first application type */
    SF_FRAME_MAP = 10,
    SF_FRAME_BATCH = 11,
    SF_FRAME_EVENT = 12,
    SF_FRAME_DONE = 13,
    SF_FRAME_EXECUTED = 14,
    SF_FRAME_FLAGS = 15,
    SF_FRAME_DECIDE = 16,
    SF_FRAME_COMMITTED = 17,
    SF_FRAME_CLIENT_REQUEST = 20, /* native client protocol: [20, corr, request] */
    SF_FRAME_CLIENT_REPLY = 21,   /* [21, corr, reply] */
};

/* ---- encoding ----
 *
 *   size_t at = sf_frame_begin(&b);      // appends the 4-byte placeholder
 *   ... pack one msgpack array into b (msgpack_packer on sf_buf, etc.) ...
 *   if (sf_frame_end(&b, at, err, sizeof err) != 0) ...   // patches length
 *
 * Several frames may be built back to back in one buffer. */
size_t sf_frame_begin(sf_buf *b);
/* Patch the length of the frame begun at `start`. Fails (-1, message) when
 * the payload is empty or longer than SF_FRAME_MAX; the buffer is then
 * truncated back to `start`. */
int sf_frame_end(sf_buf *b, size_t start, char *err, size_t errlen);
/* Make pk pack into b (appending). */
void sf_frame_packer_init(msgpack_packer *pk, sf_buf *b);
/* Append a whole frame (header + copy of payload) to b. Same errors. */
int sf_frame_append(sf_buf *b, const void *payload, size_t len, char *err, size_t errlen);

/* ---- checking ----
 * Check that payload[0..len) is exactly one well-formed msgpack array of at
 * least one element, nested at most SF_FRAME_MAX_DEPTH deep, whose first
 * element is an integer in 1..INT32_MAX. Walks the bytes without building
 * anything. 0 and *type on success, -1 and a message otherwise. */
int sf_frame_check(const char *payload, size_t len, int *type, char *err, size_t errlen);

/* ---- decoding ----
 * Incremental decoder: bytes go in as they arrive, in any split; complete,
 * checked frames come out in order. Once it reports an error it stays
 * failed (the connection must be dropped).
 *
 *   sf_frame_decoder d; sf_frame_decoder_init(&d);
 *   sf_frame_decoder_feed(&d, bytes, n);           // or reserve + wrote
 *   sf_frame f; int r;
 *   while ((r = sf_frame_decoder_next(&d, &f)) == 1) use(f.type, f.payload, f.len);
 *   if (r < 0) drop(sf_frame_decoder_error(&d));
 *   sf_frame_decoder_free(&d);
 */
typedef struct sf_frame {
    int type;
    const char *payload; /* the msgpack array, valid until the next feed/reserve/free */
    size_t len;
} sf_frame;

typedef struct sf_frame_decoder {
    sf_buf buf;     /* received bytes; [off, buf.len) not yet consumed */
    size_t off;
    size_t limit;   /* largest payload accepted (SF_FRAME_MAX after init) */
    int failed;
    char err[160];
} sf_frame_decoder;

void sf_frame_decoder_init(sf_frame_decoder *d);
void sf_frame_decoder_free(sf_frame_decoder *d);
/* Lower (or restore) the largest payload accepted, e.g. before a handshake.
 * Values above SF_FRAME_MAX are clamped. */
void sf_frame_decoder_set_limit(sf_frame_decoder *d, size_t limit);
/* Copy n bytes in. */
void sf_frame_decoder_feed(sf_frame_decoder *d, const void *data, size_t n);
/* Zero-copy input: get room for at least `want` bytes (*avail is set to the
 * actual room), write into it, then report how many bytes were written. */
char *sf_frame_decoder_reserve(sf_frame_decoder *d, size_t want, size_t *avail);
void sf_frame_decoder_wrote(sf_frame_decoder *d, size_t n);
/* 1: *f is the next frame; 0: need more bytes; -1: error (see _error). A bad
 * length is reported as soon as its 4 bytes are in, before the payload. */
int sf_frame_decoder_next(sf_frame_decoder *d, sf_frame *f);
const char *sf_frame_decoder_error(const sf_frame_decoder *d);
/* Bytes received but not yet returned as frames. */
size_t sf_frame_decoder_pending(const sf_frame_decoder *d);

#endif
