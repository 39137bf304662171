/* native.h: the native client protocol of the coordinator (docs/runtime.md
 * "Native client protocol"): length-prefixed msgpack frames over TCP, the
 * same framing and handshake as between cluster processes (net.h), with
 * role "client" and the cluster token. After WELCOME the client sends
 *
 *   [20, corr, request]     request: the DESIGN 4.5 request as a msgpack map
 *
 * and gets, for each, exactly one
 *
 *   [21, corr, reply]       reply: {"id"?, "ok": value} or {"id"?, "error": {type, message}}
 *
 * corr is the client's correlation number (an unsigned integer); requests
 * may be pipelined and replies come in any order. A malformed request (not
 * a map of the request shape, or over 4 MiB) is answered at once with a
 * BadRequest reply;
 * a malformed frame, another frame type or a peer of another role closes
 * the connection (logged, rate-limited). A client that pipelines more than
 * max_inflight requests, or does not read its replies, is not dropped:
 * reading from it pauses until replies drain (backpressure). Keys are made
 * canonical before a request is submitted (sf_reqmap_canonical). A refused
 * submit is answered at once: Overloaded (SF_SUBMIT_OVERLOADED, retry
 * later) or Unavailable. This module owns the listener, the clients and
 * the framing of replies; what a request does is up to the embedding
 * coordinator (sf_native_ops). Single-threaded, on the loop's thread. */
#ifndef SF_RUNTIME_NATIVE_H
#define SF_RUNTIME_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sf_native sf_native;

typedef struct sf_native_ops {
    /* A well-formed request map (valid during the call) and its decoded op
     * (enum sf_op, so the callee need not decode it again). Return 0: the
     * coordinator answers (client, corr) later, exactly once, with
     * sf_native_reply_*. Nonzero (enum sf_submit_result, request.h):
     * refused; the client gets Overloaded or Unavailable now. */
    int (*submit)(void *ud, const char *req, size_t len, int op, uint64_t client, uint64_t corr);
    /* One line per refused or dropped client; NULL = silent. */
    void (*log)(void *ud, const char *line);
    /* Optional (NULL = always try submit): whether a request of len bytes
     * could be taken now; a nonzero sf_submit_result refuses it before it
     * is canonicalised and decoded, which keeps refusing cheap under
     * overload (the reply still echoes the request's id). */
    int (*room)(void *ud, size_t len);
} sf_native_ops;

/* Listen on host:port (numeric address; port 0 = any free port). token is
 * the cluster token clients must send (copied). Returns 0, or -1 with a
 * message; on failure *out is NULL, or a closed server to free with
 * sf_native_free once the loop ran. */
int sf_native_start(uv_loop_t *loop, const char *host, int port, const void *token,
                    size_t token_len, const sf_native_ops *ops, void *ud, sf_native **out,
                    char *err, size_t errlen);

/* Limits of the native server (zero fields = defaults). Connections that
 * have not authenticated cannot lock clients out: the handshake must be
 * done within handshake_ms, and a new connection takes the handshake slot
 * of the oldest silent one when max_pending (or max_pending_per_addr from
 * its address) are in handshake (net.h). */
typedef struct sf_native_limits {
    unsigned handshake_ms;         /* 0 = 2000 */
    unsigned max_pending;          /* 0 = 256 */
    unsigned max_pending_per_addr; /* 0 = 64 */
    unsigned idle_timeout_ms;      /* a client silent this long is dropped;
                                      0 = 10 minutes */
    unsigned log_per_sec;          /* 0 = 10 (ratelog.h) */
    unsigned max_inflight;         /* a client's requests submitted and not
                                      answered; at the cap reading from it
                                      pauses (backpressure) until replies
                                      come; 0 = 16384 */
    size_t max_unsent;             /* a client's reply bytes not yet written
                                      (it does not read them); reading
                                      pauses there too; 0 = 4 MiB */
} sf_native_limits;

int sf_native_start_ex(uv_loop_t *loop, const char *host, int port, const void *token, size_t token_len,
                       const sf_native_ops *ops, void *ud, const sf_native_limits *limits, sf_native **out,
                       char *err, size_t errlen);
int sf_native_port(const sf_native *n);
size_t sf_native_clients(const sf_native *n);

/* Answer (client, corr). id: the msgpack of the request's id (NULL/0 when it
 * had none), echoed as the reply's first member. Returns 0, or 1 when the
 * client is gone (the reply is dropped). */
int sf_native_reply_ok(sf_native *n, uint64_t client, uint64_t corr, const char *id, size_t idlen,
                       const char *value, size_t len);
int sf_native_reply_error(sf_native *n, uint64_t client, uint64_t corr, const char *id,
                          size_t idlen, const char *type, const char *message);

/* Stop listening and close every client. Then let the loop run and call
 * sf_native_free. */
void sf_native_close(sf_native *n);
/* Returns -1 (and frees nothing) while connections are still closing. */
int sf_native_free(sf_native *n);

#endif
