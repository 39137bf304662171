/* gateway.h: the HTTP/JSON gateway of stateflowd (DESIGN 4.5, **contract**;
 * docs/runtime.md "HTTP gateway") on libuv. It owns the listening socket,
 * the client connections, HTTP parsing and routing, turning each HTTP
 * request into one or more requests for the coordinator, and writing the
 * replies back in request order. It knows nothing about batches or workers:
 * the embedding process (the coordinator) supplies sf_gateway_ops.
 *
 * Routes:
 *   POST /v1/{Entity}                 create, body {"args": [...]} (or empty)
 *   POST /v1/{Entity}/{key}/{method}  call,   body {"args": [...]} (or empty)
 *   GET  /v1/{Entity}/{key}           get
 *   DELETE /v1/{Entity}/{key}         delete (no body), 200 {"ok":null}
 *   POST /v1/requests                 one request object -> one reply object,
 *                                     or an array of them -> array of replies
 *                                     in the same order (always 200)
 *   GET  /healthz                     200 {"ok":true} or 503 (ops->healthy)
 *   GET  /metrics                     Prometheus text (ops->metrics)
 * HEAD is accepted wherever GET is. Path segments are percent-decoded; keys
 * in paths are strings. A known path with another method is 405; anything
 * else is 404.
 *
 * Status of a single reply: 200 ok (201 for create), BadRequest 400,
 * NotFound 404, AlreadyExists 409, Unavailable 503, Overloaded 503 (with
 * Retry-After: 1), InternalError 500, any
 * other error type (a user exception, TypeError, ...) 422. Protocol errors:
 * 400 malformed, 413 body over 1 MiB (or a batch over max_batch items),
 * 414 request line over 8 KiB, 431 header section over 16 KiB or more than
 * 100 headers, 501 unsupported transfer coding, 505 HTTP version not 1.x.
 * Every body is JSON: {"ok": ...} or {"error": {"type", "message"}}, with
 * "id" when the request had one (except /metrics).
 *
 * Requests handed to ops->submit are msgpack maps in the DESIGN 4.5 shape,
 * with string keys, members in this order and only those that apply:
 *   "id"     the client's id (str or number), only when it gave one
 *   "op"     "create" | "call" | "get" | "delete"
 *   "entity" str
 *   "key"    any msgpack value (call, get, delete; a str for path routes)
 *   "method" str (call)
 *   "args"   array (create, call)
 * sf_reqmap_decode (request.h) reads such a map back.
 *
 * Completion tokens: every submitted request gets a token (never 0). The
 * daemon answers it exactly once, at any time, from the loop's thread, with
 * one of the sf_gateway_reply* functions, possibly from inside submit
 * itself. Replies may come in any order across and within connections; the
 * gateway writes the HTTP responses of one connection in request order
 * (pipelining). When the client went away, or the token was already
 * answered, the reply is dropped (return 1): tokens never dangle.
 *
 * Connections: keep-alive by default (HTTP/1.1; a request without Host is
 * 400), pipelining, chunked request bodies, Expect: 100-continue. A client
 * silent for request_timeout_ms in the middle of a request, or not reading
 * its responses for as long, is dropped; so is one whose request head is
 * not complete within head_timeout_ms of its first byte, or whose body is
 * not complete within body_timeout_ms after the head (a slow trickle does
 * not keep a connection forever); an idle keep-alive connection is closed
 * after idle_timeout_ms. Beyond max_connections new clients get a 503
 * (written, then the connection shut down) and are closed, while the
 * clients already connected go on being served. Log lines are rate-limited
 * (log_per_sec).
 *
 * Single-threaded: every function must be called on the loop's thread. No
 * global state. The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)):
 * libuv writes with write(2), and a client that vanished would otherwise
 * kill the process instead of failing the write. */
#ifndef SF_RUNTIME_GATEWAY_H
#define SF_RUNTIME_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "metrics.h"

typedef struct sf_gateway sf_gateway;

typedef struct sf_gateway_ops {
    /* Take one request (msgpack map, see above; valid only during the call).
     * Return 0 when accepted: the daemon must later answer token exactly
     * once. Return SF_SUBMIT_OVERLOADED (request.h) to refuse it for now:
     * the client gets 503 Overloaded with Retry-After; any other nonzero
     * value (shutting down, failed): 503 Unavailable. A refused token must
     * not be answered.
     * Required. */
    int (*submit)(void *ud, const char *req, size_t len, uint64_t token);
    /* 1 when the service can take requests (GET /healthz 200), 0 when not
     * (503, with the text written to why as the message). NULL = always 1. */
    int (*healthy)(void *ud, char *why, size_t whylen);
    /* The registry rendered by GET /metrics, where the gateway also counts
     * its own series (see below). Called once, by sf_gateway_start; the
     * registry must outlive the gateway. NULL, or returning NULL: /metrics
     * answers an empty exposition. */
    sf_metrics *(*metrics)(void *ud);
    /* One line per dropped client, protocol error on a connection or
     * failure ("127.0.0.1:5555: 400 malformed header line"), without
     * newline or prefix. NULL = silent. */
    void (*log)(void *ud, const char *line);
} sf_gateway_ops;

/* Series the gateway maintains in the registry from ops->metrics:
 *   stateflow_requests_total{op="create"|"call"|"get"}   requests submitted
 *   stateflow_request_latency_seconds                     submit -> reply
 *   stateflow_http_responses_total{code="200"}            HTTP responses
 *   stateflow_http_connections                            open connections
 *   stateflow_http_rejected_connections_total             over max_connections
 */

typedef struct sf_gateway_limits {
    unsigned max_connections;     /* 0 = 10000 */
    unsigned request_timeout_ms;  /* mid-request silence / unread responses; 0 = 30000 */
    unsigned idle_timeout_ms;     /* idle keep-alive connection; 0 = 60000 */
    unsigned max_pipeline;        /* HTTP requests parsed ahead of their
                                     responses per connection; 0 = 64 */
    unsigned max_inflight;        /* submitted, unanswered requests per
                                     connection before it stops reading;
                                     0 = 10000 */
    unsigned max_batch;           /* items in one POST /v1/requests array; 0 = 10000 */
    size_t max_body;              /* request body bytes; 0 = 1 MiB */
    unsigned head_timeout_ms;     /* a request's line and headers must all
                                     arrive within this, however the bytes
                                     trickle in; 0 = 10000 */
    unsigned body_timeout_ms;     /* and its body within this after the
                                     head; 0 = 30000 */
    unsigned log_per_sec;         /* log lines a second at most, the rest
                                     counted in a summary line; 0 = 10 */
} sf_gateway_limits;

/* Listen on host:port (an IPv4 or IPv6 literal; port 0 = any free port,
 * see sf_gateway_port) with the default limits. ops is copied. Returns 0
 * and *out, or -1 with a message in err. */
int sf_gateway_start(uv_loop_t *loop, const char *host, int port, const sf_gateway_ops *ops, void *ud,
                     sf_gateway **out, char *err, size_t errlen);
/* The same with explicit limits (NULL = defaults; zero fields = defaults). */
int sf_gateway_start_ex(uv_loop_t *loop, const char *host, int port, const sf_gateway_ops *ops, void *ud,
                        const sf_gateway_limits *limits, sf_gateway **out, char *err, size_t errlen);

/* The bound port (useful after port 0). */
int sf_gateway_port(const sf_gateway *gw);
/* Open client connections. */
size_t sf_gateway_connections(const sf_gateway *gw);

/* Answer a token with a reply map (msgpack): {"ok": value} or
 * {"error": {"type": str, "message": str}}; an "id" member is ignored (the
 * gateway echoes the client's own). Returns 0 when delivered, 1 when
 * dropped (unknown or already answered token, client gone), -1 when the
 * map is malformed (the client then gets an InternalError reply, 500). */
int sf_gateway_reply(sf_gateway *gw, uint64_t token, const char *reply, size_t len);
/* Answer with a result value (msgpack). Returns 0, 1 or -1 as above (-1:
 * the value is malformed or has no JSON form; InternalError sent). */
int sf_gateway_reply_ok(sf_gateway *gw, uint64_t token, const char *value, size_t len);
/* Answer with an error. Returns 0 or 1. */
int sf_gateway_reply_error(sf_gateway *gw, uint64_t token, const char *type, const char *message);

/* Stop listening and close every connection (pending replies are dropped;
 * every token becomes invalid). gw must not be used after this call; its
 * memory is released once libuv has closed the handles, so let the loop
 * run (uv_run) afterwards. */
void sf_gateway_close(sf_gateway *gw);

/* The HTTP status for a reply's error type ("NotFound" -> 404, ...). */
int sf_gateway_error_status(const char *type);

#endif
