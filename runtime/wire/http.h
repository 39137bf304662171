/* http.h: an incremental HTTP/1.1 request parser and response writer
 * helpers (RFC 9112), pure C with no I/O, used by the gateway (gateway.h).
 *
 * Feed bytes as they arrive; the parser copies what belongs to the current
 * request into its own buffers and stops at the end of it, so several
 * pipelined requests in one read come out one by one (feed the rest again).
 *
 * What is accepted:
 * - request line `METHOD SP target SP HTTP/d.d`, single spaces; the target
 *   is origin-form ("/path?query") or absolute-form ("http://host/path",
 *   reduced to its path) or "*"; visible ASCII only. HTTP/1.0 and HTTP/1.1;
 *   HTTP/1.x with x > 1 is handled as 1.1 (RFC 9110 2.5); any other major
 *   version is 505; a version that is not `HTTP/d.d` is 400.
 * - CRLF or bare LF line endings; a bare CR elsewhere is 400. Up to 8 empty
 *   lines before a request line are skipped.
 * - header fields `name: value` (name a token, no space before the colon,
 *   no obs-fold; value without control characters except HTAB; surrounding
 *   whitespace trimmed). Names are matched case-insensitively.
 * - Content-Length: digits only; repeated fields must agree. A length over
 *   max_body is 413, decided before any of the body is read.
 * - Transfer-Encoding: chunked is supported (chunk extensions ignored,
 *   trailer fields read and discarded, the total over max_body is 413).
 *   Any other coding is 501; a list whose last coding is not chunked, TE
 *   together with Content-Length, or TE in an HTTP/1.0 request is 400.
 * - Connection: close / keep-alive (HTTP/1.1 defaults to keep-alive,
 *   HTTP/1.0 to close).
 * - Expect: 100-continue (HTTP/1.1, with a body to come): feed returns
 *   SF_HTTP_CONTINUE once the header section is complete, so the server can
 *   send "100 Continue"; any other expectation is 417. Ignored in HTTP/1.0.
 * - More than one Host field is 400, and so is an HTTP/1.1 request without
 *   one (RFC 9112 3.2); HTTP/1.0 may leave it out.
 * Limits (sf_http_limits, defaults below): request line 8 KiB (414), header
 * section 16 KiB including line endings (431), 100 header fields (431),
 * body 1 MiB (413). Every error sets a status and a message; the connection
 * must be closed after answering it (the parser stays in the error state).
 */
#ifndef SF_RUNTIME_HTTP_H
#define SF_RUNTIME_HTTP_H

#include <stddef.h>
#include <time.h>

#include "stateflow/sf_buf.h"

#define SF_HTTP_MAX_REQUEST_LINE 8192
#define SF_HTTP_MAX_HEADER_BYTES 16384
#define SF_HTTP_MAX_HEADERS 100
#define SF_HTTP_MAX_BODY ((size_t)1 << 20)
#define SF_HTTP_MAX_CHUNK_LINE 1024 /* chunk-size line with extensions */

typedef struct sf_http_limits {
    size_t max_request_line; /* bytes, line ending excluded */
    size_t max_header_bytes; /* bytes of the header section, line endings included */
    size_t max_headers;      /* at most SF_HTTP_MAX_HEADERS */
    size_t max_body;
} sf_http_limits;

enum sf_http_method {
    SF_HTTP_OTHER = 0,
    SF_HTTP_GET,
    SF_HTTP_HEAD,
    SF_HTTP_POST,
    SF_HTTP_PUT,
    SF_HTTP_DELETE,
    SF_HTTP_OPTIONS,
    SF_HTTP_PATCH,
};

typedef struct sf_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} sf_http_header;

/* A parsed request. Pointers point into the parser and stay valid until the
 * next sf_http_parser_feed/reset/free. Strings are not NUL-terminated
 * (except body, which is). */
typedef struct sf_http_request {
    int method; /* enum sf_http_method */
    const char *method_name;
    size_t method_len;
    const char *target; /* "/path?query" (absolute-form reduced), or "*" */
    size_t target_len;
    int version_minor;   /* 0 or 1 */
    int keep_alive;      /* the connection may stay open after the response */
    int expect_continue; /* the client waits for 100 Continue */
    int chunked;         /* the body came with chunked transfer coding */
    size_t content_length;
    size_t nheaders;
    sf_http_header headers[SF_HTTP_MAX_HEADERS];
    const char *body;
    size_t body_len;
} sf_http_request;

/* sf_http_parser_feed results */
#define SF_HTTP_NEED_MORE 0 /* all input consumed, the request is not complete */
#define SF_HTTP_DONE 1      /* p->req holds a complete request */
#define SF_HTTP_CONTINUE 2  /* header section complete, the client expects
                               100 Continue before sending the body */
#define SF_HTTP_ERROR (-1)  /* p->status / p->message say why */

typedef struct sf_http_parser {
    sf_http_request req;
    int status;        /* on SF_HTTP_ERROR: 400, 413, 414, 417, 431, 501, 505 */
    char message[160]; /* on SF_HTTP_ERROR */
    /* private */
    sf_http_limits lim;
    int state;
    sf_buf head;       /* request line and header section */
    sf_buf body;
    sf_buf line;       /* chunk-size and trailer lines */
    size_t line_start; /* in head: the line being read */
    size_t hdr_start;  /* in head: the first header line */
    size_t empty_lines;
    size_t remaining;  /* body bytes still expected (Content-Length or chunk) */
    size_t trailer_bytes;
    size_t nlines;     /* header lines so far */
    size_t target_off, method_off; /* in head */
} sf_http_parser;

/* lim NULL = the defaults above; zero fields = their default. */
void sf_http_parser_init(sf_http_parser *p, const sf_http_limits *lim);
void sf_http_parser_free(sf_http_parser *p);
/* Forget everything (including an error) and wait for a new request. */
void sf_http_parser_reset(sf_http_parser *p);

/* Consume data[0..len). *consumed gets the number of bytes used (less than
 * len only on SF_HTTP_DONE, SF_HTTP_CONTINUE and SF_HTTP_ERROR). After
 * SF_HTTP_DONE the next call starts a new request; after SF_HTTP_CONTINUE
 * it goes on with the body; after SF_HTTP_ERROR it returns SF_HTTP_ERROR
 * again until reset. */
int sf_http_parser_feed(sf_http_parser *p, const char *data, size_t len, size_t *consumed);

/* 1 when part of a request has been received (the client owes us bytes),
 * 0 between requests. */
int sf_http_parser_busy(const sf_http_parser *p);
/* 1 when the header section is complete and the body is still coming. */
int sf_http_parser_in_body(const sf_http_parser *p);

/* The first header named name (case-insensitive), or NULL. */
const sf_http_header *sf_http_find_header(const sf_http_request *r, const char *name);

/* ---- targets -------------------------------------------------------------- */

/* Percent-decode s[0..n) and append to out ('+' stays '+'). Returns 0, or -1
 * on a malformed escape ("%" not followed by two hex digits). */
int sf_http_percent_decode(const char *s, size_t n, sf_buf *out);


#define SF_HTTP_MAX_SEGMENTS 16

/* The path of a target split at '/' and each segment percent-decoded (so
 * "%2F" inside a segment does not split it). The query is in query (not
 * decoded). "/" has one empty segment; "/a/b/" has "a", "b", "". */
typedef struct sf_http_path {
    size_t nseg;
    size_t off[SF_HTTP_MAX_SEGMENTS], len[SF_HTTP_MAX_SEGMENTS]; /* in buf */
    sf_buf buf;
    const char *query; /* after '?', or NULL */
    size_t query_len;
} sf_http_path;

/* Returns 0, or -1 with a message (not starting with '/', a malformed
 * escape, a segment that is not UTF-8 after decoding, more than
 * SF_HTTP_MAX_SEGMENTS segments). path->buf must be initialised
 * (sf_buf_init); it is reset first. */
int sf_http_split_path(const char *target, size_t n, sf_http_path *path, char *err, size_t errlen);
/* Segment i as a pointer into path->buf (NUL-terminated). */
const char *sf_http_path_seg(const sf_http_path *path, size_t i);

/* ---- responses ------------------------------------------------------------ */

/* The reason phrase of a status code ("Not Found"); "Unknown" if none. */
const char *sf_http_reason(int status);

/* The IMF-fixdate of t ("Sun, 06 Nov 1994 08:49:37 GMT") into buf (at least
 * 30 bytes). */
void sf_http_date(char *buf, size_t size, time_t t);

/* Append a status line and header section for a response to out:
 *   HTTP/1.1 <status> <reason>
 *   [extra: zero or more complete "Name: value\r\n" lines]
 *   Content-Type: <content_type>        (omitted when NULL)
 *   Content-Length: <content_length>
 *   Connection: keep-alive | close
 * followed by the empty line. The body is appended by the caller. */
void sf_http_response_head(sf_buf *out, int status, const char *content_type, size_t content_length,
                           int keep_alive, const char *extra);

#endif
