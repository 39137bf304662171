/* coordinator.h: the stateflowd coordinator (DESIGN 4.1, docs/runtime.md):
 * membership (workers join over the cluster port; when the expected number
 * has joined it sends them the application and the partition map), the
 * client gateways (HTTP via gateway.h, native via native.h) feeding the
 * bounded ingress (ingress.h; a full one answers Overloaded), the sequencer
 * (batches bounded by an adaptive limit and time, transaction id = ingress
 * position), and the Aria rounds of every batch (BATCH, DONE, EXECUTED,
 * FLAGS, DECIDE, COMMITTED; aria.h), replies, reruns of conflict-aborted
 * transactions, the commit log, /healthz (progress) and /metrics.
 * With durability on (the default; coord_durable.c, docs/durability.md)
 * every batch is group-committed to the durable log before it runs, a start
 * on an existing log replays it, and a worker that leaves after the cluster
 * formed, a worker that reports a failure (FAILED) or a batch that makes no
 * progress for the batch timeout drop the cluster: every waiting request is
 * answered Unavailable and the coordinator waits for a new cluster, which
 * recovers by replay. With durability off those failures make the service
 * Unavailable for good. Single-threaded, on the loop. The
 * implementation: coordinator.c and coord_*.c (coord_internal.h). */
#ifndef SF_RUNTIME_COORDINATOR_H
#define SF_RUNTIME_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sf_coordinator sf_coordinator;

#define SF_DEFAULT_BATCH_TIMEOUT_MS 15000u
/* /healthz answers 503 while a batch has made no progress for this long. */
#define SF_HEALTH_STALL_MS 1000u

typedef struct sf_coordinator_config {
    uv_loop_t *loop;
    const char *app_path;      /* the .sfir sent to the workers */
    const char *listen_host;   /* cluster port */
    int listen_port;           /* 0 = any free port */
    const char *http_host;     /* NULL = no HTTP gateway */
    int http_port;
    const char *native_host;   /* NULL = no native protocol */
    int native_port;
    const void *token;         /* cluster token (workers and native clients) */
    size_t token_len;
    unsigned workers;          /* workers to wait for; 0 = 1 */
    unsigned partitions;       /* 0 = SF_DEFAULT_PARTITIONS */
    unsigned batch_size;       /* 0 = SF_DEFAULT_BATCH_SIZE */
    int batch_ms;              /* < 0 = SF_DEFAULT_BATCH_MS; 0 = no wait */
    const char *commit_log;    /* NULL = none */
    /* A batch that makes no progress (no frame of its rounds arrives) for
     * this long is a failure, handled like a lost worker. 0 = default. */
    unsigned batch_timeout_ms;
    /* The ingress's bounds: requests waiting or in a batch, and their bytes.
     * A request past either is answered Overloaded at once. 0 = defaults
     * (10 x the batch size; SF_INGRESS_DEFAULT_MAX_BYTES, 256 MiB). */
    size_t max_pending;
    size_t max_pending_bytes;
    /* Durability (docs/durability.md): with durable set, every batch's
     * requests and membership are group-committed to the log under
     * data_dir/log before the batch runs, a start on an existing log
     * replays it, and a lost worker makes the coordinator wait for a new
     * cluster and recover (instead of staying unavailable). */
    int durable;
    const char *data_dir;
    /* One line per event worth logging (no newline). NULL = stderr. */
    void (*log)(void *ud, const char *line);
    /* Every expected worker is ready: the service takes requests. */
    void (*on_ready)(void *ud);
    void *ud;
} sf_coordinator_config;

/* Load the application, listen on the cluster, HTTP and native ports.
 * Returns 0, or -1 with a message; on failure *out may still be set (shut
 * down: free it after the loop ran). */
int sf_coordinator_start(const sf_coordinator_config *cfg, sf_coordinator **out, char *err,
                         size_t errlen);
int sf_coordinator_cluster_port(const sf_coordinator *c);
int sf_coordinator_http_port(const sf_coordinator *c);   /* 0 when none */
int sf_coordinator_native_port(const sf_coordinator *c); /* 0 when none */
/* "on, log DIR/log (N records)[; replayed ...]" or "off (in memory: ...)". */
void sf_coordinator_durability(const sf_coordinator *c, char *buf, size_t len);
/* Stop: pending requests get Unavailable, the gateways close, the workers'
 * connections close (they exit). The loop then runs out of handles. */
void sf_coordinator_shutdown(sf_coordinator *c);
/* After the loop finished. Returns -1 while handles are still closing. */
int sf_coordinator_free(sf_coordinator *c);

#endif
