/* worker_batch.c: the stateflowd worker's transactions of the current batch
 * (one sf_tx per txid that touched this worker, found by an open-addressing
 * index) and the Aria end of a batch (docs/runtime.md "Transactions"): on
 * EXECUTED the reservations and flags of the instances this worker owns and
 * the encoded write sets of the transactions that may commit (FLAGS), on
 * DECIDE applying the committed write sets to the store (COMMITTED, or the
 * fallback phase when some conflict-aborted: worker_fallback.c). The rules
 * themselves are aria.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"
#include "stateflow/sf_util.h"

/* ---- transactions of the batch ----------------------------------------------- */

static void index_rebuild(sf_worker *w, size_t cap)
{
    w->index = sf_xrealloc(w->index, cap * sizeof(int32_t));
    w->icap = cap;
    for (size_t i = 0; i < cap; i++)
        w->index[i] = -1;
    for (size_t k = 0; k < w->ntx; k++) {
        size_t i = (size_t)(w->txns[k]->txid * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
        while (w->index[i] >= 0)
            i = (i + 1) & (cap - 1);
        w->index[i] = (int32_t)k;
    }
}

wtxn *wk_txn_find(sf_worker *w, uint64_t txid)
{
    if (!w->icap)
        return NULL;
    for (size_t i = (size_t)(txid * 0x9E3779B97F4A7C15ull >> 20) & (w->icap - 1);;
         i = (i + 1) & (w->icap - 1)) {
        int32_t k = w->index[i];
        if (k < 0)
            return NULL;
        if (w->txns[k]->txid == txid)
            return w->txns[k];
    }
}

wtxn *wk_txn_get(sf_worker *w, uint64_t txid)
{
    wtxn *t = wk_txn_find(w, txid);
    if (t)
        return t;
    if (w->ntx == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        w->txns = sf_xrealloc(w->txns, ncap * sizeof(wtxn *));
        for (size_t k = w->cap; k < ncap; k++) {
            wtxn *n = sf_xrealloc(NULL, sizeof(wtxn));
            memset(n, 0, sizeof(*n));
            sf_tx_init(&n->tx);
            sf_buf_init(&n->writes);
            sf_buf_init(&n->err_type);
            sf_buf_init(&n->err_msg);
            sf_buf_init(&n->dbytes);
            sf_buf_init(&n->req);
            w->txns[k] = n;
        }
        w->cap = ncap;
    }
    t = w->txns[w->ntx++];
    t->txid = txid;
    sf_tx_reset(&t->tx, txid);
    t->created = -1;
    t->logic = t->done = 0;
    t->flags = 0;
    sf_buf_reset(&t->writes);
    sf_buf_reset(&t->err_type);
    sf_buf_reset(&t->err_msg);
    /* new in the fallback: an empty footprint here, no lock to wait for */
    t->fb = w->fb_active ? 1 : 0;
    t->nfp = t->fb_wait = 0;
    t->dtype = 0;
    sf_buf_reset(&t->req);
    if (w->ntx * 2 > w->icap)
        index_rebuild(w, w->icap ? w->icap * 2 : 256);
    else {
        size_t i = (size_t)(txid * 0x9E3779B97F4A7C15ull >> 20) & (w->icap - 1);
        while (w->index[i] >= 0)
            i = (i + 1) & (w->icap - 1);
        w->index[i] = (int32_t)(w->ntx - 1);
    }
    return t;
}

static void batch_reset(sf_worker *w)
{
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        sf_tx_reset(&t->tx, 0);
        sf_buf_reset(&t->writes);
        sf_buf_reset(&t->dbytes);
        t->fb = 0;
        t->nfp = t->fb_wait = 0;
        t->dtype = 0;
        sf_buf_reset(&t->req);
    }
    w->fb_active = 0;
    w->executed = 0;
    sf_buf_reset(&w->fb_early);
    w->ntx = 0;
    for (size_t i = 0; i < w->icap; i++)
        w->index[i] = -1;
    w->batch_open = 0;
}

int wk_batch_ok(sf_worker *w, uint64_t b)
{
    if (w->batch_open)
        return b == w->batch;
    if (b != w->last_done + 1)
        return 0;
    w->batch = b;
    w->batch_open = 1;
    return 1;
}

/* ---- the end of a batch ------------------------------------------------------- */

typedef struct wrec {
    uint32_t entity;
    uint32_t keylen;
    uint32_t statelen;
    uint64_t hash;
} wrec;

#define WREC_DELETE UINT32_MAX

static void put_write(void *arg, const sf_txinst *inst, const char *key, size_t keylen,
                      const char *state, size_t statelen)
{
    sf_buf *b = arg;
    /* a delete has no state: statelen WREC_DELETE */
    wrec r = {(uint32_t)inst->entity, (uint32_t)keylen, state ? (uint32_t)statelen : WREC_DELETE,
              inst->hash};
    sf_buf_append(b, &r, sizeof r);
    sf_buf_append(b, key, keylen);
    if (state)
        sf_buf_append(b, state, statelen);
}

void wk_apply_writes(sf_worker *w, const wtxn *t)
{
    size_t p = 0;
    while (p + sizeof(wrec) <= t->writes.len) {
        wrec r;
        memcpy(&r, t->writes.data + p, sizeof r);
        p += sizeof r;
        const char *key = t->writes.data + p;
        const char *state = key + r.keylen;
        if (r.statelen == WREC_DELETE) {
            p += r.keylen;
            sf_store_delete(&w->store, r.entity, key, r.keylen);
            continue;
        }
        p += (size_t)r.keylen + r.statelen;
        sf_store_put_h(&w->store, r.hash, r.entity, key, r.keylen, state, r.statelen);
    }
}

int wk_encode_writes(sf_worker *w, wtxn *t)
{
    sf_buf_reset(&t->writes);
    if (sf_tx_encode_writes(w->ex, &t->tx, put_write, &t->writes) < 0) {
        sf_buf_reset(&t->writes);
        return -1;
    }
    return 0;
}

static int inst_written(const sf_txinst *ti)
{
    return (ti->flags & (SF_TXI_WRITTEN | SF_TXI_CREATED)) && (ti->flags & SF_TXI_LOADED);
}

void wk_on_executed(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        wk_malformed(w, "EXECUTED");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t txid;
        if (sf_rd_uint(r, &txid) < 0) {
            wk_malformed(w, "EXECUTED");
            return;
        }
        wtxn *t = wk_txn_find(w, txid);
        if (t)
            t->logic = 1;
    }
    w->executed = 1;
    /* reservations of the instances this worker owns; an instance is
     * written only when its state changed */
    sf_aria_clear(&w->aria);
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        if (!t->logic)
            sf_tx_clear_unchanged(w->ex, &t->tx);
        for (int j = 0; j < t->tx.ninsts; j++) {
            const sf_txinst *ti = &t->tx.insts[j];
            if ((ti->flags & SF_TXI_PENDING) || !wk_is_local(w, ti->entity, sf_tx_key(&t->tx, j), ti->key_len))
                continue;
            sf_aria_reserve(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j), ti->key_len,
                            t->txid, 0);
            if (!t->logic && inst_written(ti))
                sf_aria_reserve(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                                ti->key_len, t->txid, 1);
        }
    }
    /* flags, and the write sets of the transactions that may commit */
    size_t nflagged = 0;
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        unsigned f = 0;
        for (int j = 0; j < t->tx.ninsts; j++) {
            const sf_txinst *ti = &t->tx.insts[j];
            if ((ti->flags & SF_TXI_PENDING) || !wk_is_local(w, ti->entity, sf_tx_key(&t->tx, j), ti->key_len))
                continue;
            f |= sf_aria_flags(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                               ti->key_len, t->txid, 0);
            if (!t->logic && inst_written(ti))
                f |= sf_aria_flags(&w->aria, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j),
                                   ti->key_len, t->txid, 1);
        }
        if (sf_aria_may_commit(f, t->logic)) {
            sf_buf_reset(&t->writes);
            if (sf_tx_encode_writes(w->ex, &t->tx, put_write, &t->writes) < 0) {
                f |= SF_ARIA_FAILED;
                sf_buf_reset(&t->err_type);
                sf_buf_reset(&t->err_msg);
                sf_buf_puts(&t->err_type, t->tx.err_type.len ? t->tx.err_type.data : "InternalError");
                sf_buf_printf(&t->err_msg, "%.4000s", t->tx.err_msg.data ? t->tx.err_msg.data : "");
                sf_buf_reset(&t->writes);
            }
        }
        t->flags = f;
        if (f)
            nflagged++;
    }
    msgpack_packer pk;
    wk_begin(w, &pk, 3, SF_FRAME_FLAGS);
    msgpack_pack_uint64(&pk, w->batch);
    msgpack_pack_array(&pk, (uint32_t)nflagged);
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        if (!t->flags)
            continue;
        int failed = (t->flags & SF_ARIA_FAILED) != 0;
        msgpack_pack_array(&pk, failed ? 4 : 2);
        msgpack_pack_uint64(&pk, t->txid);
        msgpack_pack_unsigned_int(&pk, t->flags);
        if (failed) {
            sf_pack_cstr(&pk, t->err_type.data);
            sf_pack_cstr(&pk, t->err_msg.data ? t->err_msg.data : "");
        }
    }
    wk_send_out(w, w->coord);
}

void wk_batch_end(sf_worker *w)
{
    uint64_t b = w->batch;
    batch_reset(w);
    w->last_done = b;
    msgpack_packer pk;
    wk_begin(w, &pk, 3, SF_FRAME_COMMITTED);
    msgpack_pack_uint64(&pk, b);
    msgpack_pack_uint64(&pk, w->fb_waits);
    w->fb_waits = 0;
    wk_send_out(w, w->coord);
}

void wk_on_decide(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (sf_rd_array(r, &n) < 0) {
        wk_malformed(w, "DECIDE");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t txid;
        if (sf_rd_uint(r, &txid) < 0) {
            wk_malformed(w, "DECIDE");
            return;
        }
        wtxn *t = wk_txn_find(w, txid);
        if (t && sf_aria_may_commit(t->flags, t->logic))
            wk_apply_writes(w, t);
    }
    /* the conflict aborts: re-executed in this batch's fallback phase */
    uint32_t nr;
    if (sf_rd_array(r, &nr) < 0) {
        wk_malformed(w, "DECIDE");
        return;
    }
    uint64_t *ids = sf_xrealloc(NULL, (nr ? nr : 1) * sizeof(uint64_t));
    for (uint32_t i = 0; i < nr; i++)
        if (sf_rd_uint(r, &ids[i]) < 0 || (i && ids[i] <= ids[i - 1])) {
            free(ids);
            wk_malformed(w, "DECIDE");
            return;
        }
    if (nr == 0) {
        free(ids);
        wk_batch_end(w);
        return;
    }
    wk_fb_begin(w, ids, nr);
    wk_fb_start(w, ids, nr);
    free(ids);
}

void wk_batch_free(sf_worker *w)
{
    for (size_t k = 0; k < w->cap; k++) {
        sf_tx_free(&w->txns[k]->tx);
        sf_buf_free(&w->txns[k]->writes);
        sf_buf_free(&w->txns[k]->err_type);
        sf_buf_free(&w->txns[k]->err_msg);
        sf_buf_free(&w->txns[k]->dbytes);
        sf_buf_free(&w->txns[k]->req);
        free(w->txns[k]->fp);
        free(w->txns[k]);
    }
    free(w->txns);
    free(w->index);
    w->txns = NULL;
    w->index = NULL;
    w->cap = w->ntx = w->icap = 0;
}
