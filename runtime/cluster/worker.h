/* worker.h: a stateflowd worker process (docs/runtime.md): joins the
 * coordinator, receives the application (APP) and the partition map (MAP),
 * connects to every other worker (full mesh), then executes the batches the
 * coordinator sends: the requests whose target it owns, the events other
 * workers send it, the reference checks and created instances of
 * transactions that pass through it; reports DONE, computes the Aria
 * reservations and flags of the instances it owns (FLAGS) and applies the
 * write sets of committed transactions (COMMITTED). A dead or unreachable
 * peer is reported to the coordinator (FAILED) and the worker keeps
 * running. The code: worker.c, mesh.c, worker_ops.c, worker_batch.c
 * (worker_internal.h). It embeds CPython (one
 * interpreter per process, started when the application arrives).
 * Single-threaded, on the loop's thread. */
#ifndef SF_RUNTIME_WORKER_H
#define SF_RUNTIME_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sf_worker sf_worker;

typedef struct sf_worker_config {
    uv_loop_t *loop;
    const char *join_host;     /* the coordinator's cluster address */
    int join_port;
    const char *listen_host;   /* for the other workers; NULL = "127.0.0.1" */
    int listen_port;           /* 0 = any free port */
    const void *token;         /* cluster token */
    size_t token_len;
    /* One line per event worth logging (no newline). NULL = stderr. */
    void (*log)(void *ud, const char *line);
    /* Called once when the worker has stopped for good (coordinator gone:
     * status 0; a fatal error: status 1). Let the loop finish, then
     * sf_worker_free. */
    void (*on_stop)(void *ud, int status);
    void *ud;
} sf_worker_config;

/* Listen, connect to the coordinator. Returns 0, or -1 with a message; on
 * failure *out may still be set (stopped: free it after the loop ran). */
int sf_worker_start(const sf_worker_config *cfg, sf_worker **out, char *err, size_t errlen);
/* Close every connection (SIGTERM); on_stop follows with status 0. */
void sf_worker_stop(sf_worker *w);
/* After the loop finished: releases everything, Python included. Returns -1
 * while handles are still closing. */
int sf_worker_free(sf_worker *w);

#endif
