/* worker_fallback.c: the stateflowd worker's side of the fallback phase of
 * a batch (docs/runtime.md "Transactions", step 5): the conflict-aborted
 * transactions re-execute in the same batch under deterministic locking.
 *
 * For every instance this worker owns that a fallback transaction touched
 * in its first execution there is one lock queue holding those
 * transactions in id order. A transaction's step (its request at its home,
 * an EVENT, a CHECK, an INSTALL) runs here only once it heads every queue
 * of its footprint here; until then it is parked. It keeps its locks until
 * the coordinator's RELEASE says how it ended: then its writes here are
 * applied (commit) or dropped, and the next transaction of each of its
 * queues moves up. The worker where it ends (the one sending its DONE)
 * releases it at once and sends RELEASE to every peer, so a hot
 * instance's chain costs no trip through the coordinator. The smallest unreleased transaction heads all its
 * queues everywhere, so there is no deadlock, and conflicting transactions
 * run in id order: the fallback is equivalent to running them serially in
 * id order after the batch's Aria commits, a pure function of the batch.
 * A transaction that touches an instance here outside its recorded
 * footprint (its path changed) is not serialized by the queues: when its
 * execution leaves this worker it ends with outcome 2 and reruns in the
 * next batch. */
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"
#include "stateflow/sf_util.h"

#define NONE UINT32_MAX

static void fb_clear(sf_worker *w)
{
    w->nfbq = w->nfbn = 0;
    for (size_t i = 0; i < w->fbicap; i++)
        w->fbidx[i] = -1;
    sf_buf_reset(&w->fbkeys);
}

static int q_is(const sf_worker *w, const wk_fbq *q, uint32_t entity, uint64_t hash, const char *key,
                size_t keylen)
{
    return q->hash == hash && q->entity == entity && q->key_len == keylen &&
           memcmp(w->fbkeys.data + q->key_off, key, keylen) == 0;
}

static int32_t q_find(const sf_worker *w, uint32_t entity, uint64_t hash, const char *key, size_t keylen)
{
    if (!w->fbicap)
        return -1;
    size_t mask = w->fbicap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        int32_t k = w->fbidx[i];
        if (k < 0)
            return -1;
        if (q_is(w, &w->fbq[k], entity, hash, key, keylen))
            return k;
    }
}

static void idx_insert(sf_worker *w, uint32_t k)
{
    size_t mask = w->fbicap - 1, i = (size_t)w->fbq[k].hash & mask;
    while (w->fbidx[i] >= 0)
        i = (i + 1) & mask;
    w->fbidx[i] = (int32_t)k;
}

static uint32_t q_get(sf_worker *w, uint32_t entity, uint64_t hash, const char *key, size_t keylen)
{
    int32_t f = q_find(w, entity, hash, key, keylen);
    if (f >= 0)
        return (uint32_t)f;
    if (w->nfbq == w->fbqcap) {
        w->fbqcap = w->fbqcap ? w->fbqcap * 2 : 256;
        w->fbq = sf_xrealloc(w->fbq, w->fbqcap * sizeof(wk_fbq));
    }
    uint32_t k = (uint32_t)w->nfbq++;
    wk_fbq *q = &w->fbq[k];
    q->hash = hash;
    q->entity = entity;
    q->key_len = (uint32_t)keylen;
    q->key_off = w->fbkeys.len;
    q->head = q->tail = NONE;
    sf_buf_append(&w->fbkeys, key, keylen);
    if (w->nfbq * 2 > w->fbicap) {
        size_t ncap = w->fbicap ? w->fbicap * 2 : 512;
        w->fbidx = sf_xrealloc(w->fbidx, ncap * sizeof(int32_t));
        w->fbicap = ncap;
        for (size_t i = 0; i < ncap; i++)
            w->fbidx[i] = -1;
        for (uint32_t j = 0; j < w->nfbq; j++)
            idx_insert(w, j);
    } else
        idx_insert(w, k);
    return k;
}

/* Append t to queue k (once). */
static void q_append(sf_worker *w, uint32_t k, wtxn *t)
{
    wk_fbq *q = &w->fbq[k];
    if (q->tail != NONE && w->fbn[q->tail].t == t)
        return;
    if (w->nfbn == w->fbncap) {
        w->fbncap = w->fbncap ? w->fbncap * 2 : 512;
        w->fbn = sf_xrealloc(w->fbn, w->fbncap * sizeof(wk_fbnode));
    }
    uint32_t n = (uint32_t)w->nfbn++;
    w->fbn[n].t = t;
    w->fbn[n].next = NONE;
    if (q->tail == NONE)
        q->head = n;
    else
        w->fbn[q->tail].next = n;
    q->tail = n;
    if (t->nfp == t->fpcap) {
        t->fpcap = t->fpcap ? t->fpcap * 2 : 4;
        t->fp = sf_xrealloc(t->fp, t->fpcap * sizeof(uint32_t));
    }
    t->fp[t->nfp++] = k;
}

static int local_inst(sf_worker *w, const wtxn *t, int j)
{
    const sf_txinst *ti = &t->tx.insts[j];
    return !(ti->flags & SF_TXI_PENDING) && wk_is_local(w, ti->entity, sf_tx_key(&t->tx, j), ti->key_len);
}

void wk_fb_begin(sf_worker *w, const uint64_t *ids, size_t n)
{
    fb_clear(w);
    w->fb_active = 1;
    w->fb_total = n;
    w->fb_resolved = 0;
    w->nfbrun = 0;
    /* every transaction of the batch leaves the Aria phase here */
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        t->fb = 0;
        t->nfp = t->fb_wait = 0;
        t->dtype = 0;
    }
    /* the queues, in id order (ids ascending) */
    for (size_t i = 0; i < n; i++) {
        wtxn *t = wk_txn_find(w, ids[i]);
        if (!t)
            continue;
        t->fb = 1;
        for (int j = 0; j < t->tx.ninsts; j++)
            if (local_inst(w, t, j)) {
                const sf_txinst *ti = &t->tx.insts[j];
                q_append(w, q_get(w, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j), ti->key_len), t);
            }
    }
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        if (t->fb != 1)
            continue;
        for (uint32_t j = 0; j < t->nfp; j++)
            if (w->fbn[w->fbq[t->fp[j]].head].t != t)
                t->fb_wait++;
    }
    /* the re-execution starts from nothing but its footprint */
    for (size_t k = 0; k < w->ntx; k++) {
        wtxn *t = w->txns[k];
        sf_tx_reset(&t->tx, t->txid);
        sf_buf_reset(&t->writes);
        t->created = -1;
        t->logic = t->done = 0;
        t->flags = 0;
    }
}

int wk_fb_admit(sf_worker *w, wtxn *t, int type, int peer, const char *bytes, size_t len)
{
    if (!w->fb_active || t->fb != 1 || t->fb_wait == 0)
        return 1;
    if (t->dtype != 0) {
        /* one step of a transaction at a time: a second one is a bug */
        wk_log(w, "transaction %llu has two parked steps", (unsigned long long)t->txid);
        wk_fail(w, 1);
        return 0;
    }
    t->dtype = type;
    t->dpeer = peer;
    sf_buf_reset(&t->dbytes);
    sf_buf_append(&t->dbytes, bytes, len);
    w->fb_waits++;
    return 0;
}

int wk_fb_leave(sf_worker *w, wtxn *t)
{
    if (!w->fb_active)
        return 0;
    for (int j = 0; j < t->tx.ninsts; j++) {
        if (!local_inst(w, t, j))
            continue;
        const sf_txinst *ti = &t->tx.insts[j];
        int32_t k = q_find(w, (uint32_t)ti->entity, ti->hash, sf_tx_key(&t->tx, j), ti->key_len);
        /* in its footprint here exactly when it heads that queue (it holds
         * every lock of its footprint while it runs) */
        if (k < 0 || w->fbq[k].head == NONE || w->fbn[w->fbq[k].head].t != t)
            return -1;
    }
    return wk_encode_writes(w, t);
}

static void release(sf_worker *w, wtxn *t, int commit)
{
    if (t->fb != 1)
        return;
    if (commit)
        wk_apply_writes(w, t);
    sf_buf_reset(&t->writes);
    t->fb = 2;
    for (uint32_t j = 0; j < t->nfp; j++) {
        wk_fbq *q = &w->fbq[t->fp[j]];
        if (q->head == NONE || w->fbn[q->head].t != t)
            continue; /* released before it got there: skipped when the head moves */
        while (q->head != NONE && w->fbn[q->head].t->fb == 2)
            q->head = w->fbn[q->head].next;
        if (q->head == NONE)
            continue;
        wtxn *nt = w->fbn[q->head].t;
        if (nt->fb == 1 && nt->fb_wait > 0 && --nt->fb_wait == 0 && nt->dtype != 0) {
            if (w->nfbrun == w->fbruncap) {
                w->fbruncap = w->fbruncap ? w->fbruncap * 2 : 64;
                w->fbrun = sf_xrealloc(w->fbrun, w->fbruncap * sizeof(wtxn *));
            }
            w->fbrun[w->nfbrun++] = nt;
        }
    }
}

/* Run the parked steps that may run now, oldest release first; safe to
 * call from anywhere (a nested call leaves the work to the outer one). */
static void pump(sf_worker *w)
{
    if (w->fb_pumping)
        return;
    w->fb_pumping = 1;
    for (size_t i = 0; i < w->nfbrun && !w->stopping; i++)
        wk_run_parked(w, w->fbrun[i]);
    w->nfbrun = 0;
    w->fb_pumping = 0;
    if (!w->stopping && w->fb_active && w->fb_resolved >= w->fb_total)
        wk_batch_end(w);
}

void wk_fb_pump(sf_worker *w)
{
    if (w->fb_active)
        pump(w);
}

void wk_fb_ended(sf_worker *w, wtxn *t, int outcome)
{
    if (!w->fb_active || t->fb != 1)
        return;
    release(w, t, outcome == 0);
    w->fb_resolved++;
    for (uint32_t p = 0; p < w->nworkers; p++) {
        if (p == w->id)
            continue;
        msgpack_packer pk;
        wk_begin(w, &pk, 3, SF_FRAME_RELEASE);
        msgpack_pack_uint64(&pk, w->batch);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint64(&pk, t->txid);
        msgpack_pack_int(&pk, outcome);
        char err[160];
        if (sf_frame_end(&w->out, 0, err, sizeof err) != 0 || wk_peer_send(w, p) < 0)
            return;
    }
}

void wk_on_release(sf_worker *w, sf_rd *r)
{
    uint32_t n;
    if (!w->fb_active || sf_rd_array(r, &n) < 0) {
        wk_malformed(w, "RELEASE");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two;
        uint64_t txid, outcome;
        if (sf_rd_array(r, &two) < 0 || two != 2 || sf_rd_uint(r, &txid) < 0 || sf_rd_uint(r, &outcome) < 0) {
            wk_malformed(w, "RELEASE");
            return;
        }
        wtxn *t = wk_txn_find(w, txid);
        if (t)
            release(w, t, outcome == 0);
        w->fb_resolved++;
    }
    pump(w);
}

void wk_fb_free(sf_worker *w)
{
    free(w->fbq);
    free(w->fbidx);
    free(w->fbn);
    free(w->fbrun);
    sf_buf_free(&w->fbkeys);
    sf_buf_free(&w->fb_early);
    w->fbq = NULL;
    w->fbidx = NULL;
    w->fbn = NULL;
    w->fbrun = NULL;
    w->nfbq = w->fbqcap = w->fbicap = w->nfbn = w->fbncap = w->nfbrun = w->fbruncap = 0;
}
