/* sfrun.c: `sfrun APP.sfir`, the local mode (DESIGN 4.5, **contract**): one
 * process, in-memory state, the runtime's executor and transaction
 * semantics. Requests are JSON lines on stdin; one reply line per request
 * goes to stdout, in order, with the request's id echoed. A malformed line
 * (bad JSON, longer than SFRUN_MAX_LINE, invalid UTF-8) gets a BadRequest
 * reply and sfrun goes on; blank lines are skipped. Replies are buffered and
 * flushed before sfrun blocks reading stdin, so interactive use works.
 * Exit status: 0 at end of input, 2 when the app cannot be loaded, 1 on an
 * I/O error. User code's print() output goes to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"
#include "pycodec.h"
#include "pyrt.h"
#include "request.h"
#include "store.h"
#include "stateflow/sf_buf.h"
#include "stateflow/sf_ir.h"

#define SFRUN_VERSION "0.1.0"
#define SFRUN_MAX_LINE (16u << 20) /* bytes per request line, newline excluded */
#define SFRUN_READ_CHUNK (64u << 10)

static const char USAGE[] =
    "usage: sfrun [--help] [--version] [--time-limit MS] APP.sfir\n"
    "\n"
    "Run a compiled StateFlow application locally: one process, in-memory state.\n"
    "Requests are read as JSON lines on stdin, one reply line per request is\n"
    "written to stdout, in order:\n"
    "\n"
    "  {\"id\": \"r1\", \"op\": \"create\", \"entity\": \"User\", \"args\": [\"alice\"]}\n"
    "  {\"id\": \"r2\", \"op\": \"call\", \"entity\": \"User\", \"key\": \"alice\",\n"
    "   \"method\": \"buy_item\", \"args\": [2, {\"$ref\": [\"Item\", \"apple\"]}]}\n"
    "  {\"id\": \"r3\", \"op\": \"get\", \"entity\": \"User\", \"key\": \"alice\"}\n"
    "\n"
    "Replies: {\"id\": ..., \"ok\": VALUE} or {\"id\": ..., \"error\": {\"type\": ..., \"message\": ...}}.\n"
    "Every request is one transaction: an exception rolls back all of its effects.\n"
    "A request still running user code after --time-limit milliseconds (default\n"
    "10000; 0: no limit) fails with TimeLimitExceeded.\n"
    "\n"
    "Exit status: 0 at end of input, 2 if APP.sfir cannot be loaded, 1 on I/O errors.\n";

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_out(sf_buf *out)
{
    if (out->len == 0)
        return 0;
    int rc = write_all(STDOUT_FILENO, out->data, out->len);
    sf_buf_reset(out);
    return rc;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static void reply_too_long(sf_buf *out)
{
    sf_reply_error_json(out, NULL, "BadRequest", "request line too long (limit 16 MiB)");
    sf_buf_putc(out, '\n');
}

static void handle_line(sf_executor *ex, const char *line, size_t n, sf_buf *out)
{
    if (blank(line, n))
        return;
    sf_request req;
    char err[512];
    if (sf_request_parse_json(line, n, &req, err, sizeof err) < 0)
        sf_reply_error_json(out, req.id_json, "BadRequest", err);
    else
        sf_exec_request(ex, &req, out);
    sf_request_free(&req);
    sf_buf_putc(out, '\n');
}

/* The main loop: returns the exit status. */
static int serve(sf_executor *ex)
{
    sf_buf in, out;
    sf_buf_init(&in);
    sf_buf_init(&out);
    sf_buf_reserve(&in, SFRUN_READ_CHUNK);
    size_t start = 0;    /* first byte of the current line in `in` */
    size_t scanned = 0;  /* bytes from start already known to hold no newline */
    int skipping = 0;    /* discarding the rest of a too-long line */
    int status = 0;
    for (;;) {
        /* Answer every complete line in the buffer. */
        for (;;) {
            char *nl = memchr(in.data + start + scanned, '\n', in.len - start - scanned);
            if (!nl) {
                scanned = in.len - start;
                break;
            }
            size_t n = (size_t)(nl - (in.data + start));
            if (skipping)
                skipping = 0;
            else if (n > SFRUN_MAX_LINE)
                reply_too_long(&out);
            else
                handle_line(ex, in.data + start, n, &out);
            start += n + 1;
            scanned = 0;
            if (out.len >= SFRUN_READ_CHUNK && flush_out(&out) < 0)
                goto io_error;
        }
        /* A partial line longer than the limit: reply now, drop the rest. */
        if (!skipping && in.len - start > SFRUN_MAX_LINE) {
            reply_too_long(&out);
            skipping = 1;
        }
        if (skipping) {
            start = in.len;
            scanned = 0;
        }
        /* Keep only the unfinished line. */
        if (start > 0) {
            memmove(in.data, in.data + start, in.len - start);
            in.len -= start;
            start = 0;
        }
        if (flush_out(&out) < 0)
            goto io_error;
        sf_buf_reserve(&in, SFRUN_READ_CHUNK);
        ssize_t r = read(STDIN_FILENO, in.data + in.len, SFRUN_READ_CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "sfrun: reading stdin: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (r == 0) {
            /* End of input: a last line without a newline is still a request. */
            if (!skipping && in.len > 0) {
                if (in.len > SFRUN_MAX_LINE)
                    reply_too_long(&out);
                else
                    handle_line(ex, in.data, in.len, &out);
            }
            if (flush_out(&out) < 0)
                goto io_error;
            break;
        }
        in.len += (size_t)r;
        in.data[in.len] = '\0';
    }
    sf_buf_free(&in);
    sf_buf_free(&out);
    return status;
io_error:
    fprintf(stderr, "sfrun: writing stdout: %s\n", strerror(errno));
    sf_buf_free(&in);
    sf_buf_free(&out);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    unsigned long time_limit_ms = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--time-limit") == 0) {
            char *end = NULL;
            if (i + 1 >= argc || (time_limit_ms = strtoul(argv[i + 1], &end, 10), *end != '\0') ||
                argv[i + 1][0] == '-' || time_limit_ms > 86400000ul) {
                fprintf(stderr, "sfrun: --time-limit needs a number of milliseconds (0 to 86400000)\n");
                return 2;
            }
            i++;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sfrun %s (StateFlow IR format %d)\n", SFRUN_VERSION, SF_IR_VERSION);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "sfrun: unknown option '%s'\n%s", argv[i], USAGE);
            return 2;
        }
        if (path) {
            fprintf(stderr, "sfrun: more than one application given\n%s", USAGE);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fputs(USAGE, stderr);
        return 2;
    }

    char err[1024];
    sf_ir *ir = sf_ir_load_file(path, err, sizeof err);
    if (!ir) {
        fprintf(stderr, "sfrun: %s\n", err);
        return 2;
    }
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0) {
        fprintf(stderr, "sfrun: %s\n", err);
        sf_ir_free(ir);
        return 2;
    }
    int status = 2;
    sf_pycodec codec = {0};
    sf_pyapp *app = NULL;
    sf_executor *ex = NULL;
    sf_watchdog *watchdog = NULL;
    sf_store store;
    sf_store_init(&store);
    if (sf_pycodec_init(&codec) < 0) {
        sf_pyrt_error_string(err, sizeof err);
        fprintf(stderr, "sfrun: %s\n", err);
        goto done;
    }
    app = sf_pyapp_load(ir, err, sizeof err);
    if (!app) {
        fprintf(stderr, "sfrun: %s: %s\n", path, err);
        goto done;
    }
    ex = sf_executor_new(app, &codec, &store, err, sizeof err);
    if (!ex) {
        fprintf(stderr, "sfrun: %s\n", err);
        goto done;
    }
    if (time_limit_ms > 0) {
        watchdog = sf_watchdog_start((unsigned)time_limit_ms, err, sizeof err);
        if (!watchdog) {
            fprintf(stderr, "sfrun: %s\n", err);
            goto done;
        }
        sf_executor_set_watchdog(ex, watchdog);
    }
    status = serve(ex);
done:
    sf_executor_free(ex);
    sf_watchdog_stop(watchdog);
    sf_pyapp_free(app);
    sf_store_free(&store);
    sf_pycodec_fini(&codec);
    sf_pyrt_stop();
    sf_ir_free(ir);
    return status;
}
