/* cluster.c: helpers shared by the coordinator and the workers (cluster.h):
 * partitions, "host:port" parsing, packing and reading frame fields. */
#include "cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "request.h"
#include "store.h"
#include "stateflow/sf_util.h"

uint32_t sf_cluster_partition(const char *entity, const char *key, size_t keylen, uint32_t P)
{
    if (P == 0)
        return 0;
    return (uint32_t)(sf_partition_hash(entity, key, keylen) % P);
}

uint32_t sf_cluster_home_partition(const sf_reqmap *r, uint64_t pos, uint32_t P)
{
    if (P == 0)
        return 0;
    if (r->op == SF_OP_CREATE || !r->key)
        return (uint32_t)(pos % P);
    char name[256];
    size_t n = r->entity_len < sizeof name - 1 ? r->entity_len : sizeof name - 1;
    memcpy(name, r->entity, n);
    name[n] = '\0';
    return sf_cluster_partition(name, r->key, r->key_len, P);
}

int sf_parse_hostport(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    if (!s || !*s)
        return (sf_set_err(err, errlen, "empty address (expected HOST:PORT)"), -1);
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return (sf_set_err(err, errlen, "bad address '%s' (expected [V6]:PORT)", s), -1);
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return (sf_set_err(err, errlen, "bad address '%s' (expected HOST:PORT)", s), -1);
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return (sf_set_err(err, errlen, "bad host in '%s'", s), -1);
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return (sf_set_err(err, errlen, "bad port in '%s'", s), -1);
    long v = 0;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return (sf_set_err(err, errlen, "bad port in '%s'", s), -1);
        v = v * 10 + (*q - '0');
    }
    if (v > 65535)
        return (sf_set_err(err, errlen, "port out of range in '%s'", s), -1);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

/* ---- writing ---- */

void sf_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sf_pack_cstr(msgpack_packer *pk, const char *s) { sf_pack_str(pk, s, strlen(s)); }

void sf_pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

void sf_pack_raw(sf_buf *b, const void *p, size_t n) { sf_buf_append(b, p, n); }

void sf_pack_error(msgpack_packer *pk, const char *type, const char *msg)
{
    msgpack_pack_map(pk, 2);
    sf_pack_cstr(pk, "type");
    sf_pack_cstr(pk, type ? type : "InternalError");
    sf_pack_cstr(pk, "message");
    sf_pack_cstr(pk, msg ? msg : "");
}

/* ---- reading ---- */

static int rd(sf_rd *r, sf_mp_item *it)
{
    if (r->pos >= r->len)
        return -1;
    return sf_mp_read(r->d, r->len, &r->pos, it) < 0 ? -1 : 0;
}

int sf_rd_array(sf_rd *r, uint32_t *n)
{
    sf_mp_item it;
    if (rd(r, &it) < 0 || it.kind != SF_MP_ARRAY)
        return -1;
    *n = it.n;
    return 0;
}

int sf_rd_uint(sf_rd *r, uint64_t *v)
{
    sf_mp_item it;
    if (rd(r, &it) < 0)
        return -1;
    if (it.kind == SF_MP_INT && it.v.i >= 0)
        *v = (uint64_t)it.v.i;
    else if (it.kind == SF_MP_UINT)
        *v = it.v.u;
    else
        return -1;
    return 0;
}

int sf_rd_str(sf_rd *r, const char **s, size_t *n)
{
    sf_mp_item it;
    if (rd(r, &it) < 0 || it.kind != SF_MP_STR)
        return -1;
    *s = it.data;
    *n = it.n;
    return 0;
}

int sf_rd_bin(sf_rd *r, const char **p, size_t *n)
{
    sf_mp_item it;
    if (rd(r, &it) < 0 || it.kind != SF_MP_BIN)
        return -1;
    *p = it.data;
    *n = it.n;
    return 0;
}

int sf_rd_nil(sf_rd *r)
{
    if (r->pos < r->len && (unsigned char)r->d[r->pos] == 0xc0) {
        r->pos++;
        return 1;
    }
    return 0;
}

int sf_rd_value(sf_rd *r, const char **p, size_t *n)
{
    if (r->pos >= r->len)
        return -1;
    size_t vl;
    if (sf_msgpack_value_len(r->d + r->pos, r->len - r->pos, &vl, NULL, 0) < 0)
        return -1;
    *p = r->d + r->pos;
    *n = vl;
    r->pos += vl;
    return 0;
}

int sf_error_map_read(const char *map, size_t len, const char **type, size_t *tlen,
                      const char **msg, size_t *mlen)
{
    sf_rd r;
    sf_rd_init(&r, map, len);
    sf_mp_item it;
    if (rd(&r, &it) < 0 || it.kind != SF_MP_MAP)
        return -1;
    *type = *msg = NULL;
    *tlen = *mlen = 0;
    for (uint32_t i = 0; i < it.n; i++) {
        const char *k, *v;
        size_t kn, vn;
        if (sf_rd_str(&r, &k, &kn) < 0)
            return -1;
        if (sf_rd_str(&r, &v, &vn) < 0)
            return -1;
        if (kn == 4 && memcmp(k, "type", 4) == 0) {
            *type = v;
            *tlen = vn;
        } else if (kn == 7 && memcmp(k, "message", 7) == 0) {
            *msg = v;
            *mlen = vn;
        }
    }
    return *type ? 0 : -1;
}
