/* coord_commitlog.c: the coordinator's commit log (--commit-log FILE): one
 * JSON line per committed transaction, {"batch", "txid", "runs",
 * "request"}, batch after batch and inside a batch in Aria's serial order
 * (sf_aria_serial_order) followed by the fallback phase's commits in id
 * order, so replaying the lines one by one reproduces the
 * committed state. Flushed at the end of every batch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aria.h"
#include "coord_internal.h"
#include "json.h"
#include "stateflow/sf_util.h"

int coord_commitlog_open(sf_coordinator *c, char *err, size_t errlen)
{
    if (!c->cfg.commit_log)
        return 0;
    c->clog = fopen(c->cfg.commit_log, "w");
    if (!c->clog)
        return (sf_set_err(err, errlen, "commit log %s: %s", c->cfg.commit_log, strerror(errno)), -1);
    return 0;
}

void coord_commitlog_close(sf_coordinator *c)
{
    if (c->clog) {
        fclose(c->clog);
        c->clog = NULL;
    }
}

void coord_commitlog_write(sf_coordinator *c)
{
    if (!c->clog || c->batch_id <= c->clog_batch)
        return; /* a replay after a restart in this process: already written */
    c->clog_batch = c->batch_id;
    size_t n = 0;
    if (c->ntxns > c->order_cap) {
        c->order_cap = c->ntxns;
        c->order_ids = sf_xrealloc(c->order_ids, c->order_cap * sizeof(uint64_t));
        c->order_flags = sf_xrealloc(c->order_flags, c->order_cap * sizeof(unsigned));
        c->order = sf_xrealloc(c->order, c->order_cap * sizeof(size_t));
    }
    size_t *idx = sf_xrealloc(NULL, (c->ntxns ? c->ntxns : 1) * sizeof(size_t));
    for (size_t i = 0; i < c->ntxns; i++)
        if (c->txns[i].decision == SF_ARIA_COMMIT && !c->txns[i].fb_commit) {
            c->order_ids[n] = c->txns[i].e.pos;
            c->order_flags[n] = c->txns[i].flags;
            idx[n] = i;
            n++;
        }
    sf_aria_serial_order(c->order_ids, c->order_flags, n, c->order);
    /* then the fallback's commits: serially in id order */
    size_t na = n;
    for (size_t i = 0; i < c->ntxns; i++)
        if (c->txns[i].decision == SF_ARIA_COMMIT && c->txns[i].fb_commit)
            idx[n++] = i;
    for (size_t k = 0; k < n; k++) {
        const ctxn *t = &c->txns[k < na ? idx[c->order[k]] : idx[k]];
        sf_buf_reset(&c->tmp);
        sf_buf_printf(&c->tmp, "{\"batch\":%llu,\"txid\":%llu,\"runs\":%u,\"request\":",
                      (unsigned long long)c->batch_id, (unsigned long long)t->e.pos, t->runs);
        char err[128];
        if (sf_msgpack_to_json(t->e.req, t->e.len, &c->tmp, err, sizeof err) < 0)
            sf_buf_puts(&c->tmp, "null");
        sf_buf_puts(&c->tmp, "}\n");
        fwrite(c->tmp.data, 1, c->tmp.len, c->clog);
    }
    fflush(c->clog);
    free(idx);
}
