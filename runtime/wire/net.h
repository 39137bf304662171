/* net.h: the process-to-process transport of stateflowd over libuv TCP
 * (docs/runtime.md, "Wire format"): listeners, outgoing connections, the
 * HELLO/WELCOME/REFUSE handshake with protocol version and cluster token,
 * PING heartbeats, framed sends with a bounded write queue, and delivery of
 * application frames (types >= 10). Single-threaded: every function must be
 * called on the loop's thread. No global state.
 *
 * Lifecycles (libuv style):
 *
 * sf_net      sf_net_new() -> ... -> sf_net_close_all() -> let uv_run()
 *             finish -> sf_net_free(). sf_net_free() fails with -1 while
 *             listeners or connections are still open or closing.
 *
 * sf_listener sf_net_listen() -> ... -> sf_listener_close() (the handle is
 *             invalid as soon as that call returns; its memory goes when
 *             libuv has closed the socket). Closing a listener does not
 *             close connections it accepted.
 *
 * sf_conn     Outgoing: sf_net_connect() returns the handle at once; later
 *             exactly one of on_open (handshake done) or on_close (resolve,
 *             connect or handshake failed; reason says why) follows.
 *             Accepted: the application first sees the connection in the
 *             listener's on_open, after the peer's HELLO was accepted;
 *             connections refused or dropped before that are never shown.
 *             From then on on_frame delivers application frames and
 *             on_close is called exactly once (peer closed, error, garbage,
 *             heartbeat timeout, sf_conn_close, sf_net_close_all). The
 *             handle stays valid until on_close returns, then it is freed.
 *             After sf_conn_close() no on_frame follows; on_close always
 *             arrives later from the loop, never inside sf_conn_close().
 *
 * Sending: sf_conn_send* only queue. The frames a connection is given
 * during one loop turn go out in one write (one writev) at the end of that
 * turn (a check hook) or before the loop next blocks (a prepare hook, for
 * frames sent from timers or close callbacks), in the order sent. Queued
 * bytes count toward max_queued and sf_conn_queued() from the send on, so
 * the cap and the drain callback see them. sf_conn_close() writes what is
 * queued first; a hard close (error, flush deadline) frees it unsent.
 *
 * Callbacks may call any function here, including sf_conn_close() and
 * sf_net_close_all(). Strings and payloads passed to callbacks are only
 * valid during the call; callbacks own nothing they are given.
 */
#ifndef SF_RUNTIME_NET_H
#define SF_RUNTIME_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "frame.h"
#include "stateflow/sf_buf.h"

typedef struct sf_net sf_net;
typedef struct sf_listener sf_listener;
typedef struct sf_conn sf_conn;

/* Errors returned by sf_conn_send*, besides 0. */
#define SF_NET_ECLOSED (-1)  /* closing/closed, or handshake not done yet */
#define SF_NET_ETOOBIG (-2)  /* payload empty or over SF_FRAME_MAX */
#define SF_NET_EFULL (-3)    /* the queue cap would be exceeded; nothing queued */

typedef struct sf_net_config {
    uv_loop_t *loop;           /* required */
    const void *token;         /* cluster token (copied); may be empty */
    size_t token_len;
    unsigned version;          /* protocol version sent/accepted; 0 = SF_PROTOCOL_VERSION */
    unsigned ping_ms;          /* PING after this much send silence; 0 = 1000 */
    unsigned idle_timeout_ms;  /* drop a peer silent this long; 0 = 5000 */
    unsigned handshake_ms;     /* handshake must finish within; 0 = 5000 */
    unsigned flush_ms;         /* sf_conn_close waits this long to flush queued
                                  frames before a hard close; 0 = 1000 */
    size_t max_queued;         /* per-connection cap on unsent bytes; 0 = 64 MiB */
    unsigned max_pending;      /* accepted connections still in handshake, per
                                  net; 0 = 256 */
    unsigned max_pending_per_addr; /* of those, from one peer address; 0 = 64.
                                  A connection beyond either cap takes the
                                  slot of the oldest one in handshake (from
                                  its address, else of all), which is
                                  closed: silent connections cannot keep
                                  real peers out */
    unsigned log_per_sec;      /* log lines a second at most, the others
                                  counted in a summary line (ratelog.h);
                                  0 = 10 */
    /* One line per refusal, protocol error or timeout, without newline. NULL
     * = "stateflowd: <line>\n" on stderr. */
    void (*log)(void *log_ud, const char *line);
    void *log_ud;
} sf_net_config;

typedef struct sf_conn_callbacks {
    /* Handshake done: sf_conn_send is allowed from now on. For accepted
     * connections sf_conn_role()/sf_conn_peer_listen() tell who it is; the
     * connection's user data starts as the listener's ud. */
    void (*on_open)(sf_conn *c, void *ud);
    /* One application frame (type >= SF_FRAME_APP_MIN); payload is the
     * whole checked msgpack array, type included. */
    void (*on_frame)(sf_conn *c, int type, const char *payload, size_t len, void *ud);
    /* Exactly once per connection the application has seen. */
    void (*on_close)(sf_conn *c, const char *reason, void *ud);
} sf_conn_callbacks;

int sf_net_new(const sf_net_config *cfg, sf_net **out, char *err, size_t errlen);
/* Close every listener and connection (on_close reason "shutdown"). */
void sf_net_close_all(sf_net *net);
int sf_net_free(sf_net *net);
uv_loop_t *sf_net_loop(sf_net *net);

/* Listen on a numeric IPv4/IPv6 address; port 0 picks a free port. */
int sf_net_listen(sf_net *net, const char *host, int port, const sf_conn_callbacks *cbs, void *ud,
                  sf_listener **out, char *err, size_t errlen);
int sf_listener_port(const sf_listener *l);
void sf_listener_close(sf_listener *l);

/* Connect to host (name or numeric address) and send HELLO with `role`
 * ("worker"/"client") and `my_listen_addr` (may be NULL: sent as ""). */
int sf_net_connect(sf_net *net, const char *host, int port, const char *role,
                   const char *my_listen_addr, const sf_conn_callbacks *cbs, void *ud,
                   sf_conn **out, char *err, size_t errlen);

/* Queue one frame whose payload (one msgpack array, type >= 10, not
 * re-checked) is copied; it is written with the turn's other frames.
 * 0 or SF_NET_E*. */
int sf_conn_send(sf_conn *c, const void *payload, size_t len);
/* Queue a buffer holding one or more complete frames built with
 * sf_frame_begin/sf_frame_end. On success the memory is taken over (b is
 * left empty without memory, ready for reuse: a small b is copied into the
 * turn's pending output and freed, a large one is queued as it is); on
 * error b is untouched. */
int sf_conn_send_buf(sf_conn *c, sf_buf *b);
/* Flush what is queued (up to flush_ms), then close; idempotent. `reason`
 * (copied) is what on_close reports. */
void sf_conn_close(sf_conn *c, const char *reason);

void *sf_conn_data(const sf_conn *c);
void sf_conn_set_data(sf_conn *c, void *ud);
/* "ip:port" of the other end. */
const char *sf_conn_peer(const sf_conn *c);
/* Role and listen address the peer sent in HELLO ("" on the connecting
 * side, which receives no HELLO). */
const char *sf_conn_role(const sf_conn *c);
const char *sf_conn_peer_listen(const sf_conn *c);
/* 1 for connections we accepted, 0 for ones we opened. */
int sf_conn_accepted(const sf_conn *c);
/* Bytes queued and not yet written to the socket (pending for this turn's
 * write, or in writes libuv has not completed). */
size_t sf_conn_queued(const sf_conn *c);
/* Backpressure: stop reading from the peer (paused 1), or go on (0). While
 * paused no frame is delivered (those already received wait), the peer's
 * silence is not timed, and sending works as usual. Resuming delivers the
 * waiting frames from the loop, not inside this call. Open connections
 * only; idempotent. */
void sf_conn_pause(sf_conn *c, int paused);
int sf_conn_paused(const sf_conn *c);
/* Optional: on_drain(c, ud) is called whenever queued bytes were written
 * (sf_conn_queued went down), so a paused reader can resume. NULL = none. */
void sf_conn_set_drain(sf_conn *c, void (*on_drain)(sf_conn *c, void *ud));

#endif
