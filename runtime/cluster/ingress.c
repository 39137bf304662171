/* ingress.c: the in-memory ingress (ingress.h). Entries sit in an array
 * used as a queue: [head, taken) were taken and wait for their ack,
 * [taken, tail) wait to be taken. Each request is its own allocation, so
 * pointers handed out by take stay valid while the array moves. Bounded by
 * count and bytes of [head, tail): a full ingress refuses (EFULL) rather
 * than grow. */
#include "ingress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_util.h"

typedef struct mem_ingress {
    sf_ingress base;
    sf_ingress_entry *v;
    size_t head, taken, tail, cap;
    uint64_t next_pos;
    size_t max_pending, max_bytes, max_request;
    size_t bytes;               /* of the requests in [head, tail) */
} mem_ingress;

static int mem_check(const mem_ingress *m, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > m->max_request || len > m->max_bytes)
        return (sf_set_err(err, errlen, "request of %zu bytes (limit %zu)", len,
                               m->max_request < m->max_bytes ? m->max_request : m->max_bytes),
                SF_INGRESS_EREFUSED);
    if (m->tail - m->head >= m->max_pending)
        return (sf_set_err(err, errlen, "too many requests waiting (%zu)", m->max_pending), SF_INGRESS_EFULL);
    if (len > m->max_bytes - m->bytes)
        return (sf_set_err(err, errlen, "too many bytes waiting (%zu of %zu)", m->bytes, m->max_bytes),
                SF_INGRESS_EFULL);
    return 0;
}

static int mem_room(const sf_ingress *in, size_t len)
{
    return mem_check((const mem_ingress *)in, len, NULL, 0);
}

static int mem_append(sf_ingress *in, const char *req, size_t len, const sf_reply_to *to,
                      uint64_t arrival_ns, uint64_t *pos, char *err, size_t errlen)
{
    mem_ingress *m = (mem_ingress *)in;
    int rc = mem_check(m, len, err, errlen);
    if (rc != 0)
        return rc;
    if (m->tail == m->cap) {
        if (m->head > 0 && m->head >= m->cap / 2) {
            memmove(m->v, m->v + m->head, (m->tail - m->head) * sizeof(*m->v));
            m->tail -= m->head;
            m->taken -= m->head;
            m->head = 0;
        } else {
            m->cap = m->cap ? m->cap * 2 : 1024;
            m->v = sf_xrealloc(m->v, m->cap * sizeof(*m->v));
        }
    }
    char *copy = sf_xrealloc(NULL, len);
    memcpy(copy, req, len);
    sf_ingress_entry *e = &m->v[m->tail++];
    e->pos = m->next_pos++;
    e->req = copy;
    e->len = len;
    e->to = to ? *to : (sf_reply_to){0};
    e->arrival_ns = arrival_ns;
    m->bytes += len;
    if (pos)
        *pos = e->pos;
    return 0;
}

static size_t mem_available(const sf_ingress *in)
{
    const mem_ingress *m = (const mem_ingress *)in;
    return m->tail - m->taken;
}

static int mem_oldest(const sf_ingress *in, uint64_t *arrival_ns)
{
    const mem_ingress *m = (const mem_ingress *)in;
    if (m->taken == m->tail)
        return 0;
    *arrival_ns = m->v[m->taken].arrival_ns;
    return 1;
}

static size_t mem_take(sf_ingress *in, size_t max, sf_ingress_entry *out)
{
    mem_ingress *m = (mem_ingress *)in;
    size_t n = m->tail - m->taken;
    if (n > max)
        n = max;
    if (n == 0)
        return 0;
    memcpy(out, m->v + m->taken, n * sizeof(*out));
    m->taken += n;
    return n;
}

static void mem_ack(sf_ingress *in, uint64_t upto)
{
    mem_ingress *m = (mem_ingress *)in;
    while (m->head < m->taken && m->v[m->head].pos < upto) {
        m->bytes -= m->v[m->head].len;
        free((void *)m->v[m->head].req);
        m->v[m->head].req = NULL;
        m->head++;
    }
    if (m->head == m->tail)
        m->head = m->taken = m->tail = 0;
}

static void mem_free(sf_ingress *in)
{
    mem_ingress *m = (mem_ingress *)in;
    for (size_t i = m->head; i < m->tail; i++)
        free((void *)m->v[i].req);
    free(m->v);
    free(m);
}

static const sf_ingress_ops mem_ops = {
    mem_append, mem_available, mem_oldest, mem_take, mem_ack, mem_free, mem_room,
};

void sf_ingress_memory_usage(const sf_ingress *in, size_t *count, size_t *bytes)
{
    const mem_ingress *m = (const mem_ingress *)in;
    *count = m->tail - m->head;
    *bytes = m->bytes;
}

int sf_ingress_memory_set_next(sf_ingress *in, uint64_t pos)
{
    mem_ingress *m = (mem_ingress *)in;
    if (pos < m->next_pos)
        return -1;
    m->next_pos = pos;
    return 0;
}

sf_ingress *sf_ingress_memory_new(size_t max_pending, size_t max_bytes, size_t max_request)
{
    mem_ingress *m = sf_xrealloc(NULL, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->base.ops = &mem_ops;
    m->next_pos = 1;
    m->max_pending = max_pending ? max_pending : 1000000;
    m->max_bytes = max_bytes ? max_bytes : SF_INGRESS_DEFAULT_MAX_BYTES;
    m->max_request = max_request ? max_request : (16u << 20);
    return &m->base;
}
