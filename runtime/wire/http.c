/* http.c: the incremental HTTP/1.1 request parser, target splitting and
 * percent-decoding, and the response head writer (http.h). No I/O.
 *
 * The parser keeps the request line and header section in p->head, one line
 * at a time: the request line is checked as soon as it is complete (so 414,
 * 400 and 505 come early), header lines are counted and size-limited as
 * they arrive, and the header fields are parsed in one pass once the empty
 * line ending the section is in (p->head no longer moves then, so the
 * request can point into it). The body goes to p->body. */
#include "http.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stateflow/sf_util.h"

enum {
    ST_REQLINE,     /* reading the request line (or empty lines before it) */
    ST_HEADERS,     /* reading header lines */
    ST_BODY,        /* Content-Length body */
    ST_CHUNK_SIZE,  /* chunk-size line */
    ST_CHUNK_DATA,
    ST_CHUNK_CR,    /* CRLF after chunk data: expecting CR or LF */
    ST_CHUNK_LF,    /* got CR, expecting LF */
    ST_TRAILERS,
    ST_DONE,
    ST_ERROR,
};

#define MAX_EMPTY_LINES 8

static int fail(sf_http_parser *p, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sf_http_parser *p, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    p->status = status;
    p->state = ST_ERROR;
    return SF_HTTP_ERROR;
}

static int is_tchar(unsigned char c)
{
    /* RFC 9110 token: ALPHA / DIGIT / "!#$%&'*+-.^_`|~" */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

static int ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

void sf_http_parser_init(sf_http_parser *p, const sf_http_limits *lim)
{
    memset(p, 0, sizeof *p);
    p->lim.max_request_line = SF_HTTP_MAX_REQUEST_LINE;
    p->lim.max_header_bytes = SF_HTTP_MAX_HEADER_BYTES;
    p->lim.max_headers = SF_HTTP_MAX_HEADERS;
    p->lim.max_body = SF_HTTP_MAX_BODY;
    if (lim) {
        if (lim->max_request_line)
            p->lim.max_request_line = lim->max_request_line;
        if (lim->max_header_bytes)
            p->lim.max_header_bytes = lim->max_header_bytes;
        if (lim->max_headers && lim->max_headers < SF_HTTP_MAX_HEADERS)
            p->lim.max_headers = lim->max_headers;
        if (lim->max_body)
            p->lim.max_body = lim->max_body;
    }
    sf_buf_init(&p->head);
    sf_buf_init(&p->body);
    sf_buf_init(&p->line);
    p->state = ST_REQLINE;
}

void sf_http_parser_free(sf_http_parser *p)
{
    sf_buf_free(&p->head);
    sf_buf_free(&p->body);
    sf_buf_free(&p->line);
}

/* Drop big buffers between requests so an idle connection stays small. */
static void trim(sf_buf *b)
{
    if (b->cap > 16384)
        sf_buf_free(b);
    else
        sf_buf_reset(b);
}

void sf_http_parser_reset(sf_http_parser *p)
{
    trim(&p->head);
    trim(&p->body);
    sf_buf_reset(&p->line);
    memset(&p->req, 0, offsetof(sf_http_request, headers));
    p->req.nheaders = 0;
    p->req.body = NULL;
    p->req.body_len = 0;
    p->status = 0;
    p->message[0] = '\0';
    p->state = ST_REQLINE;
    p->line_start = p->hdr_start = 0;
    p->empty_lines = 0;
    p->remaining = 0;
    p->trailer_bytes = 0;
    p->nlines = 0;
    p->target_off = p->method_off = 0;
}

int sf_http_parser_in_body(const sf_http_parser *p)
{
    switch (p->state) {
    case ST_BODY:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_CR:
    case ST_CHUNK_LF:
    case ST_TRAILERS: return 1;
    default: return 0;
    }
}

int sf_http_parser_busy(const sf_http_parser *p)
{
    switch (p->state) {
    case ST_REQLINE: return p->head.len > 0 || p->empty_lines > 0;
    case ST_DONE:
    case ST_ERROR: return 0;
    default: return 1;
    }
}

/* The line [start, end) of head without its line ending; -1 on a bare CR
 * inside it or a NUL. */
static int line_bounds(const sf_http_parser *p, size_t start, size_t *end)
{
    size_t e = p->head.len - 1; /* the '\n' */
    if (e > start && p->head.data[e - 1] == '\r')
        e--;
    const char *s = p->head.data + start;
    size_t n = e - start;
    if (memchr(s, '\r', n) || memchr(s, '\0', n))
        return -1;
    *end = e;
    return 0;
}

static const struct {
    const char *name;
    int method;
} methods[] = {
    {"GET", SF_HTTP_GET},         {"HEAD", SF_HTTP_HEAD},       {"POST", SF_HTTP_POST},
    {"PUT", SF_HTTP_PUT},         {"DELETE", SF_HTTP_DELETE},   {"OPTIONS", SF_HTTP_OPTIONS},
    {"PATCH", SF_HTTP_PATCH},
};

static int parse_request_line(sf_http_parser *p, size_t start, size_t end)
{
    const char *s = p->head.data + start;
    size_t n = end - start;
    if (n > p->lim.max_request_line)
        return fail(p, 414, "request line too long (limit %zu bytes)", p->lim.max_request_line);
    const char *sp1 = memchr(s, ' ', n);
    if (!sp1 || sp1 == s)
        return fail(p, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - s);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)s[i]))
            return fail(p, 400, "malformed method in request line");
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', n - (size_t)(t - s));
    if (!sp2 || sp2 == t)
        return fail(p, 400, "malformed request line");
    size_t tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f)
            return fail(p, 400, "invalid character in request target");
    }
    const char *v = sp2 + 1;
    size_t vlen = n - (size_t)(v - s);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9')
        return fail(p, 400, "malformed HTTP version in request line");
    if (v[5] != '1')
        return fail(p, 505, "HTTP version %.8s not supported (use HTTP/1.1)", v);
    p->req.version_minor = v[7] == '0' ? 0 : 1;
    /* absolute-form: keep only the path (and query) */
    if (tlen >= 7 && (ieq(t, 7, "http://") || (tlen >= 8 && ieq(t, 8, "https://")))) {
        size_t skip = lower((unsigned char)t[4]) == 's' ? 8 : 7;
        const char *slash = memchr(t + skip, '/', tlen - skip);
        const char *q = memchr(t + skip, '?', tlen - skip);
        if (skip == tlen || (slash && slash == t + skip))
            return fail(p, 400, "malformed absolute request target");
        if (!slash || (q && q < slash)) {
            /* "http://host" or "http://host?q": the path is "/"; the query
             * would need a '/' put in front of it, which we cannot do in
             * place: reject that rare form */
            if (q)
                return fail(p, 400, "malformed absolute request target");
            /* point at a "/" we know exists: none in the target itself, so
             * use the host's end as an empty path and let routing see "/" */
            p->target_off = (size_t)(t - p->head.data) + tlen; /* empty */
            p->req.target_len = 0;
        } else {
            p->target_off = (size_t)(slash - p->head.data);
            p->req.target_len = tlen - (size_t)(slash - t);
        }
    } else if (t[0] == '/' || (tlen == 1 && t[0] == '*')) {
        p->target_off = (size_t)(t - p->head.data);
        p->req.target_len = tlen;
    } else {
        return fail(p, 400, "malformed request target");
    }
    p->method_off = start;
    p->req.method_len = mlen;
    p->req.method = SF_HTTP_OTHER;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == mlen && memcmp(methods[i].name, s, mlen) == 0)
            p->req.method = methods[i].method;
    return 0;
}

/* Parse a non-negative decimal; sets *over when it exceeds limit. */
static int parse_length(const char *s, size_t n, size_t limit, size_t *out, int *over)
{
    if (n == 0)
        return -1;
    size_t v = 0;
    *over = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (!*over) {
            v = v * 10 + (size_t)(s[i] - '0');
            if (v > limit)
                *over = 1;
        }
    }
    *out = v;
    return 0;
}

/* Iterate over the comma-separated elements of a list value, trimmed;
 * empty elements skipped. Returns 0 at the end. */
static int next_elem(const char **pp, const char *end, const char **es, size_t *en)
{
    const char *p = *pp;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p >= end) {
            *pp = p;
            return 0;
        }
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *es = s;
            *en = (size_t)(e - s);
            *pp = p;
            return 1;
        }
    }
}

/* The header section is complete: parse the fields and decide how the body
 * is framed. Returns SF_HTTP_DONE, SF_HTTP_CONTINUE, 0 (body follows) or
 * SF_HTTP_ERROR. */
static int finish_head(sf_http_parser *p)
{
    sf_http_request *r = &p->req;
    const char *d = p->head.data;
    r->method_name = d + p->method_off;
    r->target = p->req.target_len ? d + p->target_off : "/";
    if (!p->req.target_len)
        r->target_len = 1;
    r->nheaders = 0;
    size_t pos = p->hdr_start;
    int have_cl = 0, have_te = 0, te_chunked = 0, te_bad_last = 0, te_unknown = 0, hosts = 0;
    int conn_close = 0, conn_keep = 0, expect = 0, expect_other = 0;
    size_t cl = 0;
    int cl_over = 0;
    while (pos < p->head.len) {
        const char *ls = d + pos;
        const char *nl = memchr(ls, '\n', p->head.len - pos);
        size_t next = (size_t)(nl - d) + 1;
        const char *le = nl;
        if (le > ls && le[-1] == '\r')
            le--;
        pos = next;
        if (le == ls)
            break; /* the empty line */
        if (*ls == ' ' || *ls == '\t')
            return fail(p, 400, "obsolete line folding in header section");
        const char *colon = memchr(ls, ':', (size_t)(le - ls));
        if (!colon || colon == ls)
            return fail(p, 400, "malformed header line");
        for (const char *c = ls; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return fail(p, 400, "invalid character in header name");
        const char *vs = colon + 1, *ve = le;
        while (vs < ve && (*vs == ' ' || *vs == '\t'))
            vs++;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = vs; c < ve; c++) {
            unsigned char u = (unsigned char)*c;
            if ((u < 0x20 && u != '\t') || u == 0x7f)
                return fail(p, 400, "invalid character in header value");
        }
        sf_http_header *h = &r->headers[r->nheaders++];
        h->name = ls;
        h->name_len = (size_t)(colon - ls);
        h->value = vs;
        h->value_len = (size_t)(ve - vs);
        if (ieq(h->name, h->name_len, "content-length")) {
            size_t v;
            int over;
            if (parse_length(h->value, h->value_len, p->lim.max_body, &v, &over) < 0)
                return fail(p, 400, "malformed Content-Length");
            if (have_cl && (over != cl_over || v != cl))
                return fail(p, 400, "conflicting Content-Length fields");
            have_cl = 1;
            cl = v;
            cl_over = over;
        } else if (ieq(h->name, h->name_len, "transfer-encoding")) {
            const char *it = h->value, *end = h->value + h->value_len, *es;
            size_t en;
            while (next_elem(&it, end, &es, &en)) {
                if (te_chunked)
                    te_bad_last = 1; /* something after chunked */
                if (ieq(es, en, "chunked")) {
                    if (have_te)
                        te_unknown = 1; /* chunked is not first: other codings */
                    te_chunked = 1;
                } else {
                    te_unknown = 1;
                    te_chunked = 0;
                }
                have_te = 1;
            }
            if (!have_te)
                return fail(p, 400, "empty Transfer-Encoding");
        } else if (ieq(h->name, h->name_len, "connection")) {
            const char *it = h->value, *end = h->value + h->value_len, *es;
            size_t en;
            while (next_elem(&it, end, &es, &en)) {
                if (ieq(es, en, "close"))
                    conn_close = 1;
                else if (ieq(es, en, "keep-alive"))
                    conn_keep = 1;
            }
        } else if (ieq(h->name, h->name_len, "expect")) {
            if (ieq(h->value, h->value_len, "100-continue"))
                expect = 1;
            else
                expect_other = 1;
        } else if (ieq(h->name, h->name_len, "host")) {
            hosts++;
        }
    }
    if (hosts > 1)
        return fail(p, 400, "more than one Host field");
    if (hosts == 0 && r->version_minor >= 1)
        return fail(p, 400, "missing Host field (required in HTTP/1.1)");
    if (r->version_minor == 0)
        r->keep_alive = conn_keep && !conn_close;
    else
        r->keep_alive = !conn_close;
    if (r->version_minor >= 1 && expect_other)
        return fail(p, 417, "unsupported expectation (only 100-continue)");
    if (have_te) {
        if (r->version_minor == 0)
            return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (have_cl)
            return fail(p, 400, "both Transfer-Encoding and Content-Length");
        if (!te_chunked || te_bad_last)
            return fail(p, 400, "chunked must be the final transfer coding");
        if (te_unknown)
            return fail(p, 501, "unsupported transfer coding (only chunked)");
        r->chunked = 1;
    } else if (have_cl) {
        if (cl_over)
            return fail(p, 413, "request body too large (limit %zu bytes)", p->lim.max_body);
        r->content_length = cl;
    }
    r->expect_continue = r->version_minor >= 1 && expect && (r->chunked || r->content_length > 0);
    if (r->chunked) {
        p->state = ST_CHUNK_SIZE;
        sf_buf_reset(&p->line);
    } else if (r->content_length > 0) {
        p->state = ST_BODY;
        p->remaining = r->content_length;
        /* not more up front than a small body: the client may never send it */
        sf_buf_reserve(&p->body, r->content_length < 65536 ? r->content_length : 65536);
    } else {
        p->state = ST_DONE;
        r->body = p->body.data ? p->body.data : "";
        r->body_len = 0;
        return SF_HTTP_DONE;
    }
    return r->expect_continue ? SF_HTTP_CONTINUE : 0;
}

/* Request line and header section. Consumes through data[*i]. Returns 0 to
 * go on (state changed or input exhausted), or a result. */
static int feed_head(sf_http_parser *p, const char *data, size_t len, size_t *i)
{
    while (*i < len && (p->state == ST_REQLINE || p->state == ST_HEADERS)) {
        const char *s = data + *i;
        size_t avail = len - *i;
        const char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) + 1 : avail;
        if (p->state == ST_REQLINE) {
            /* the line so far, with a trailing CR allowed for */
            size_t cur = p->head.len - p->line_start + take - (nl ? 1 : 0);
            if (cur > p->lim.max_request_line + 1)
                return fail(p, 414, "request line too long (limit %zu bytes)", p->lim.max_request_line);
        } else {
            size_t cur = p->head.len - p->hdr_start + take;
            if (cur > p->lim.max_header_bytes)
                return fail(p, 431, "header section too large (limit %zu bytes)", p->lim.max_header_bytes);
        }
        sf_buf_append(&p->head, s, take);
        *i += take;
        if (!nl)
            return 0;
        size_t end;
        if (line_bounds(p, p->line_start, &end) < 0)
            return fail(p, 400, "invalid control character in request line or header");
        if (p->state == ST_REQLINE) {
            if (end == p->line_start) {
                /* an empty line before the request line */
                if (++p->empty_lines > MAX_EMPTY_LINES)
                    return fail(p, 400, "too many empty lines before the request line");
                p->head.len = p->line_start;
                p->head.data[p->head.len] = '\0';
                continue;
            }
            if (parse_request_line(p, p->line_start, end) < 0)
                return SF_HTTP_ERROR;
            p->state = ST_HEADERS;
            p->hdr_start = p->line_start = p->head.len;
            continue;
        }
        if (end == p->line_start) {
            int rc = finish_head(p);
            if (rc != 0)
                return rc;
            return 0;
        }
        if (++p->nlines > p->lim.max_headers)
            return fail(p, 431, "too many header fields (limit %zu)", p->lim.max_headers);
        p->line_start = p->head.len;
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_chunk_size(sf_http_parser *p)
{
    const char *s = p->line.data;
    size_t n = p->line.len;
    if (n && s[n - 1] == '\r')
        n--;
    if (memchr(s, '\r', n) || memchr(s, '\0', n))
        return fail(p, 400, "invalid control character in chunk size line");
    size_t i = 0, v = 0;
    int over = 0;
    while (i < n && hexval((unsigned char)s[i]) >= 0) {
        if (!over) {
            v = v * 16 + (size_t)hexval((unsigned char)s[i]);
            if (v > p->lim.max_body)
                over = 1;
        }
        i++;
    }
    if (i == 0)
        return fail(p, 400, "malformed chunk size");
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] != ';')
        return fail(p, 400, "malformed chunk size");
    if (over || v > p->lim.max_body - p->body.len)
        return fail(p, 413, "request body too large (limit %zu bytes)", p->lim.max_body);
    sf_buf_reset(&p->line);
    if (v == 0) {
        p->state = ST_TRAILERS;
        p->trailer_bytes = 0;
    } else {
        p->state = ST_CHUNK_DATA;
        p->remaining = v;
    }
    return 0;
}

static int complete(sf_http_parser *p)
{
    p->state = ST_DONE;
    p->req.body = p->body.data ? p->body.data : "";
    p->req.body_len = p->body.len;
    return SF_HTTP_DONE;
}

int sf_http_parser_feed(sf_http_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t i = 0;
    *consumed = 0;
    if (p->state == ST_ERROR)
        return SF_HTTP_ERROR;
    if (p->state == ST_DONE)
        sf_http_parser_reset(p);
    int rc = 0;
    while (rc == 0 && i < len) {
        switch (p->state) {
        case ST_REQLINE:
        case ST_HEADERS:
            rc = feed_head(p, data, len, &i);
            break;
        case ST_BODY: {
            size_t n = len - i < p->remaining ? len - i : p->remaining;
            sf_buf_append(&p->body, data + i, n);
            i += n;
            p->remaining -= n;
            if (p->remaining == 0)
                rc = complete(p);
            break;
        }
        case ST_CHUNK_SIZE:
        case ST_TRAILERS: {
            const char *s = data + i;
            const char *nl = memchr(s, '\n', len - i);
            size_t take = nl ? (size_t)(nl - s) + 1 : len - i;
            size_t lim = p->state == ST_CHUNK_SIZE ? SF_HTTP_MAX_CHUNK_LINE + 2
                                                   : p->lim.max_header_bytes - p->trailer_bytes;
            if (p->line.len + take > lim) {
                if (p->state == ST_CHUNK_SIZE)
                    rc = fail(p, 400, "chunk size line too long");
                else
                    rc = fail(p, 431, "trailer section too large (limit %zu bytes)", p->lim.max_header_bytes);
                break;
            }
            sf_buf_append(&p->line, s, nl ? take - 1 : take);
            i += take;
            if (!nl)
                break;
            if (p->state == ST_CHUNK_SIZE) {
                rc = parse_chunk_size(p);
            } else {
                p->trailer_bytes += p->line.len + 1;
                size_t n = p->line.len;
                if (n && p->line.data[n - 1] == '\r')
                    n--;
                if (memchr(p->line.data, '\r', n) || memchr(p->line.data, '\0', n))
                    rc = fail(p, 400, "invalid control character in trailer section");
                else if (n == 0)
                    rc = complete(p);
                else if (!memchr(p->line.data, ':', n) || p->line.data[0] == ' ' || p->line.data[0] == '\t')
                    rc = fail(p, 400, "malformed trailer field");
                sf_buf_reset(&p->line);
            }
            break;
        }
        case ST_CHUNK_DATA: {
            size_t n = len - i < p->remaining ? len - i : p->remaining;
            sf_buf_append(&p->body, data + i, n);
            i += n;
            p->remaining -= n;
            if (p->remaining == 0)
                p->state = ST_CHUNK_CR;
            break;
        }
        case ST_CHUNK_CR:
            if (data[i] == '\r')
                p->state = ST_CHUNK_LF;
            else if (data[i] == '\n')
                p->state = ST_CHUNK_SIZE;
            else
                rc = fail(p, 400, "missing CRLF after chunk data");
            i++;
            break;
        case ST_CHUNK_LF:
            if (data[i] == '\n')
                p->state = ST_CHUNK_SIZE;
            else
                rc = fail(p, 400, "missing CRLF after chunk data");
            i++;
            break;
        default:
            rc = SF_HTTP_ERROR;
            break;
        }
    }
    *consumed = i;
    return rc;
}

const sf_http_header *sf_http_find_header(const sf_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (ieq(r->headers[i].name, r->headers[i].name_len, name))
            return &r->headers[i];
    return NULL;
}

/* ---- targets -------------------------------------------------------------- */

int sf_http_percent_decode(const char *s, size_t n, sf_buf *out)
{
    sf_buf_reserve(out, n);
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out->data[out->len++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            out->len = start;
            out->data[start] = '\0';
            return -1;
        }
        out->data[out->len++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out->data[out->len] = '\0';
    return 0;
}

int sf_http_split_path(const char *target, size_t n, sf_http_path *path, char *err, size_t errlen)
{
    sf_buf_reset(&path->buf);
    path->nseg = 0;
    path->query = NULL;
    path->query_len = 0;
    if (n == 0 || target[0] != '/') {
        snprintf(err, errlen, "the request target must be a path starting with '/'");
        return -1;
    }
    const char *q = memchr(target, '?', n);
    const char *hash = memchr(target, '#', n);
    size_t plen = n;
    if (q) {
        plen = (size_t)(q - target);
        path->query = q + 1;
        path->query_len = hash && hash > q ? (size_t)(hash - q - 1) : n - plen - 1;
    }
    if (hash && (size_t)(hash - target) < plen)
        plen = (size_t)(hash - target);
    size_t i = 1;
    for (;;) {
        const char *seg = target + i;
        const char *sl = memchr(seg, '/', plen - i);
        size_t sn = sl ? (size_t)(sl - seg) : plen - i;
        if (path->nseg == SF_HTTP_MAX_SEGMENTS) {
            snprintf(err, errlen, "too many path segments (limit %d)", SF_HTTP_MAX_SEGMENTS);
            return -1;
        }
        size_t off = path->buf.len;
        if (sf_http_percent_decode(seg, sn, &path->buf) < 0) {
            snprintf(err, errlen, "malformed percent-escape in path segment %zu", path->nseg + 1);
            return -1;
        }
        if (!sf_utf8_valid(path->buf.data + off, path->buf.len - off)) {
            snprintf(err, errlen, "path segment %zu is not valid UTF-8 after percent-decoding", path->nseg + 1);
            return -1;
        }
        path->off[path->nseg] = off;
        path->len[path->nseg] = path->buf.len - off;
        path->nseg++;
        sf_buf_putc(&path->buf, '\0');
        if (!sl)
            break;
        i += sn + 1;
    }
    return 0;
}

const char *sf_http_path_seg(const sf_http_path *path, size_t i)
{
    return path->buf.data + path->off[i];
}

/* ---- responses ------------------------------------------------------------ */

const char *sf_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void sf_http_date(char *buf, size_t size, time_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void sf_http_response_head(sf_buf *out, int status, const char *content_type, size_t content_length,
                           int keep_alive, const char *extra)
{
    sf_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, sf_http_reason(status));
    if (extra)
        sf_buf_puts(out, extra);
    if (content_type)
        sf_buf_printf(out, "Content-Type: %s\r\n", content_type);
    sf_buf_printf(out, "Content-Length: %zu\r\nConnection: %s\r\n\r\n", content_length,
                  keep_alive ? "keep-alive" : "close");
}
