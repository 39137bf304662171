/* coord_reply.c: the coordinator's reply routing. A request's reply goes
 * where its ingress entry says (sf_reply_to): the HTTP gateway (by token) or
 * a native client (by client id and correlation number, with the request's
 * id echoed); requests nobody waits for are dropped. */
#include <string.h>

#include "coord_internal.h"
#include "request.h"

int coord_request_id(const char *req, size_t len, const char **id, size_t *idlen)
{
    sf_reqmap gr;
    *id = NULL;
    *idlen = 0;
    if (sf_reqmap_decode(req, len, &gr, NULL, 0) < 0)
        return 0;
    *id = gr.id;
    *idlen = gr.id_len;
    return gr.id && gr.id_len > 0;
}

static void native_latency(sf_coordinator *c, const sf_ingress_entry *e)
{
    sf_metric_observe(c->sm.latency, (double)(uv_hrtime() - e->arrival_ns) / 1e9);
}

void coord_reply_ok(sf_coordinator *c, const sf_ingress_entry *e, const char *value, size_t len)
{
    if (e->to.kind == SF_REPLY_GATEWAY && c->gw)
        sf_gateway_reply_ok(c->gw, e->to.a, value, len);
    else if (e->to.kind == SF_REPLY_NATIVE && c->native) {
        const char *id;
        size_t idlen;
        (void)coord_request_id(e->req, e->len, &id, &idlen);
        native_latency(c, e);
        sf_native_reply_ok(c->native, e->to.a, e->to.b, id, idlen, value, len);
    }
}

void coord_reply_error(sf_coordinator *c, const sf_ingress_entry *e, const char *type, const char *msg)
{
    if (e->to.kind == SF_REPLY_GATEWAY && c->gw)
        sf_gateway_reply_error(c->gw, e->to.a, type, msg);
    else if (e->to.kind == SF_REPLY_NATIVE && c->native) {
        const char *id;
        size_t idlen;
        (void)coord_request_id(e->req, e->len, &id, &idlen);
        native_latency(c, e);
        sf_native_reply_error(c->native, e->to.a, e->to.b, id, idlen, type, msg);
    }
}

void coord_reply_error_map(sf_coordinator *c, const sf_ingress_entry *e, const char *map, size_t len)
{
    const char *t, *m;
    size_t tl, ml;
    if (sf_error_map_read(map, len, &t, &tl, &m, &ml) < 0) {
        coord_reply_error(c, e, "InternalError", "malformed error from a worker");
        return;
    }
    sf_buf_reset(&c->tmp);
    sf_buf_append(&c->tmp, t, tl);
    sf_buf_reset(&c->tmp2);
    if (m)
        sf_buf_append(&c->tmp2, m, ml);
    else
        sf_buf_puts(&c->tmp2, "");
    coord_reply_error(c, e, c->tmp.data, c->tmp2.data);
}
