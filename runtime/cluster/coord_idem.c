/* coord_idem.c: idempotent retries (DESIGN 4.4, 4.5; docs/durability.md):
 * a request carrying an "id" is executed at most once. The coordinator
 * keeps a table id -> state: PENDING while the first request with that id
 * is waiting or in a batch (a retry meanwhile waits for the same reply and
 * never enters the ingress), DONE with the reply once it committed or
 * logic-aborted (a retry gets that reply at once, from inside submit).
 * Only requests that were logged and executed reach DONE, and a replay of
 * the durable log executes them again, so after a restart the table is
 * rebuilt as the replay goes. A request that was answered Unavailable
 * before it was durable (a failed group commit, a lost cluster) leaves the
 * table: its retry runs. Bounded: past SF_IDEM_MAX entries the oldest DONE
 * ones are forgotten first (a retry of one of those runs again).
 * Ids are compared by their msgpack bytes ("r1" and 1 are different ids). */
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "request.h"
#include "stateflow/sf_util.h"

#define SF_IDEM_MAX 1000000u

enum { IDEM_PENDING = 1, IDEM_DONE = 2 };

typedef struct idem_ent {
    struct idem_ent *next;              /* hash chain */
    struct idem_ent *older, *newer;     /* FIFO of DONE entries */
    uint64_t hash;
    int state, is_err;
    char *reply;                        /* value, or error map (msgpack) */
    size_t reply_len;
    sf_reply_to *waiters;
    size_t nwaiters;
    size_t id_len;
    char id[];
} idem_ent;

struct coord_idem {
    idem_ent **buckets;
    size_t nbuckets, count;
    idem_ent *oldest, *newest;          /* DONE entries, oldest first */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a offset basis */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static coord_idem *table(sf_coordinator *c)
{
    if (!c->idem) {
        c->idem = sf_xrealloc(NULL, sizeof(coord_idem));
        memset(c->idem, 0, sizeof(coord_idem));
        c->idem->nbuckets = 1024;
        c->idem->buckets = sf_xrealloc(NULL, c->idem->nbuckets * sizeof(idem_ent *));
        memset(c->idem->buckets, 0, c->idem->nbuckets * sizeof(idem_ent *));
    }
    return c->idem;
}

static idem_ent **find_slot(coord_idem *t, const char *id, size_t n, uint64_t h)
{
    idem_ent **p = &t->buckets[h & (t->nbuckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->id_len == n && memcmp((*p)->id, id, n) == 0))
        p = &(*p)->next;
    return p;
}

static void grow(coord_idem *t)
{
    size_t nb = t->nbuckets * 2;
    idem_ent **b = sf_xrealloc(NULL, nb * sizeof(idem_ent *));
    memset(b, 0, nb * sizeof(idem_ent *));
    for (size_t i = 0; i < t->nbuckets; i++)
        for (idem_ent *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static void fifo_unlink(coord_idem *t, idem_ent *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else if (t->oldest == e)
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else if (t->newest == e)
        t->newest = e->older;
    e->older = e->newer = NULL;
}

static void remove_ent(coord_idem *t, idem_ent *e)
{
    idem_ent **p = find_slot(t, e->id, e->id_len, e->hash);
    if (*p == e)
        *p = e->next;
    fifo_unlink(t, e);
    free(e->reply);
    free(e->waiters);
    free(e);
    t->count--;
}

/* Answer to with the entry's reply; req is a request with the same id. */
static void answer(sf_coordinator *c, const idem_ent *e, const sf_reply_to *to, const char *req, size_t len)
{
    sf_ingress_entry x = {0, req, len, *to, uv_hrtime()};
    if (e->is_err)
        coord_reply_error_map(c, &x, e->reply, e->reply_len);
    else
        coord_reply_ok(c, &x, e->reply, e->reply_len);
}

int coord_idem_submit(sf_coordinator *c, const char *req, size_t len, const sf_reply_to *to)
{
    const char *id;
    size_t n;
    if (!coord_request_id(req, len, &id, &n))
        return 0;
    coord_idem *t = table(c);
    uint64_t h = hash_bytes(id, n);
    idem_ent **p = find_slot(t, id, n, h);
    idem_ent *e = *p;
    if (e && e->state == IDEM_DONE) {
        sf_metric_inc(c->m_idem_hits);
        answer(c, e, to, req, len);
        return 1;
    }
    if (e) { /* PENDING: wait for the first one's reply */
        sf_metric_inc(c->m_idem_hits);
        e->waiters = sf_xrealloc(e->waiters, (e->nwaiters + 1) * sizeof(sf_reply_to));
        e->waiters[e->nwaiters++] = *to;
        return 1;
    }
    e = sf_xrealloc(NULL, sizeof(idem_ent) + n);
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->state = IDEM_PENDING;
    e->id_len = n;
    memcpy(e->id, id, n);
    e->next = *p;
    *p = e;
    t->count++;
    if (t->count > t->nbuckets)
        grow(t);
    while (t->count > SF_IDEM_MAX && t->oldest)
        remove_ent(t, t->oldest);
    return 0;
}

static idem_ent *lookup(sf_coordinator *c, const char *req, size_t len)
{
    const char *id;
    size_t n;
    if (!c->idem || !coord_request_id(req, len, &id, &n))
        return NULL;
    return *find_slot(c->idem, id, n, hash_bytes(id, n));
}

void coord_idem_done(sf_coordinator *c, const sf_ingress_entry *req, int is_err, const char *reply, size_t len)
{
    idem_ent *e = lookup(c, req->req, req->len);
    if (!e) {
        /* a replayed request (the table is rebuilt as the log replays) */
        const char *id;
        size_t n;
        if (!coord_request_id(req->req, req->len, &id, &n))
            return;
        sf_reply_to none = {0};
        coord_idem_submit(c, req->req, req->len, &none);
        e = lookup(c, req->req, req->len);
        if (!e)
            return;
    }
    if (e->state == IDEM_DONE)
        return;
    e->state = IDEM_DONE;
    e->is_err = is_err;
    e->reply = sf_xrealloc(NULL, len ? len : 1);
    memcpy(e->reply, reply, len);
    e->reply_len = len;
    coord_idem *t = c->idem;
    e->older = t->newest;
    if (t->newest)
        t->newest->newer = e;
    t->newest = e;
    if (!t->oldest)
        t->oldest = e;
    for (size_t i = 0; i < e->nwaiters; i++)
        answer(c, e, &e->waiters[i], req->req, req->len);
    free(e->waiters);
    e->waiters = NULL;
    e->nwaiters = 0;
}

void coord_idem_forget(sf_coordinator *c, const sf_ingress_entry *req, const char *type, const char *msg)
{
    idem_ent *e = lookup(c, req->req, req->len);
    if (!e || e->state != IDEM_PENDING)
        return;
    for (size_t i = 0; i < e->nwaiters; i++) {
        sf_ingress_entry x = {0, req->req, req->len, e->waiters[i], uv_hrtime()};
        coord_reply_error(c, &x, type, msg);
    }
    remove_ent(c->idem, e);
}

void coord_idem_forget_pending(sf_coordinator *c, const char *msg)
{
    coord_idem *t = c->idem;
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (idem_ent *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            if (e->state != IDEM_PENDING)
                continue;
            /* the waiters' requests are gone: answer with the id alone */
            sf_buf req;
            sf_buf_init(&req);
            sf_reqmap_encode(&req, e->id, e->id_len, SF_OP_GET, "", 0, NULL, 0, NULL, 0, NULL, 0);
            for (size_t k = 0; k < e->nwaiters; k++) {
                sf_ingress_entry x = {0, req.data, req.len, e->waiters[k], uv_hrtime()};
                coord_reply_error(c, &x, "Unavailable", msg);
            }
            sf_buf_free(&req);
            remove_ent(t, e);
        }
}

void coord_idem_clear(sf_coordinator *c, const char *msg)
{
    coord_idem_forget_pending(c, msg);
    coord_idem *t = c->idem;
    if (!t)
        return;
    while (t->oldest)
        remove_ent(t, t->oldest);
}

void coord_idem_free(sf_coordinator *c)
{
    coord_idem *t = c->idem;
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (idem_ent *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e->reply);
            free(e->waiters);
            free(e);
        }
    free(t->buckets);
    free(t);
    c->idem = NULL;
}
