/* stateflowd.c: the StateFlow runtime daemon (DESIGN 4.1, **contract** for
 * the role flags and the --local defaults; docs/runtime.md): command line,
 * the three modes (--coordinator, --worker, --local), the cluster token,
 * signals and clean shutdown, and --local's worker processes (spawned from
 * /proc/self/exe, stopped with the coordinator). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <uv.h>

#include "cluster.h"
#include "coordinator.h"
#include "worker.h"

#define STATEFLOWD_VERSION "0.1.0"
#define MAX_TOKEN 256
#define DEFAULT_DATA "stateflow-data"
#define CHILD_GRACE_MS 3000 /* then SIGTERM; SIGKILL after as long again */

extern char **environ;

static const char USAGE[] =
    "usage:\n"
    "  stateflowd --local APP.sfir [--workers N] [--http ADDR:PORT] [--native ADDR:PORT]\n"
    "             [--data DIR] [COORDINATOR OPTIONS]\n"
    "  stateflowd --coordinator --app APP.sfir --listen ADDR:PORT [--workers N]\n"
    "             [--http ADDR:PORT] [--native ADDR:PORT] [--token T] [--data DIR]\n"
    "             [COORDINATOR OPTIONS]\n"
    "  stateflowd --worker --join HOST:PORT [--listen ADDR:PORT] [--token T]\n"
    "\n"
    "--local runs a coordinator in this process and N worker processes (default:\n"
    "one per core) on this machine; HTTP on 127.0.0.1:8080, the native protocol on\n"
    "127.0.0.1:7070, data (the durable log, the cluster token) under\n"
    "./stateflow-data. Ctrl-C stops everything; a worker process that dies is\n"
    "restarted and the cluster recovers from the log.\n"
    "\n"
    "Coordinator options:\n"
    "  --partitions P     partitions of every entity (default 64)\n"
    "  --batch-size N     transactions per batch at most (default 1000)\n"
    "  --batch-ms MS      a batch closes MS milliseconds after its first request (default 2)\n"
    "  --commit-log FILE  one JSON line per committed transaction, in commit order\n"
    "  --data DIR         the durable log lives in DIR/log (default ./stateflow-data);\n"
    "                     a start on an existing log replays it: all state is back\n"
    "  --durability on|off  on (default): every batch is group-committed (fdatasync)\n"
    "                     to the log before it runs; off: in memory only, nothing\n"
    "                     survives a restart\n"
    "  --batch-timeout-ms MS  a batch without progress for MS milliseconds is a failure:\n"
    "                     the service becomes unavailable (default 15000)\n"
    "  --max-pending N    requests waiting or in a batch at most; more are answered\n"
    "                     Overloaded (HTTP 503, Retry-After) (default 10 x the batch size)\n"
    "  --max-pending-bytes B  the same bound in bytes of requests (default 268435456)\n"
    "  --workers N        (--coordinator) workers to wait for before serving (default 1)\n"
    "  --http off, --native off  disable a client interface\n"
    "\n"
    "The cluster token: --token, else $STATEFLOW_TOKEN, else (--local) the contents\n"
    "of DIR/cluster.token, created with random bytes when missing. Workers and\n"
    "native clients must present it; HTTP clients do not.\n";

typedef struct opts {
    int mode; /* 'l', 'c', 'w' */
    const char *app, *listen, *http, *native, *join, *token, *data, *commit_log, *durability;
    long workers, partitions, batch_size, batch_ms, batch_timeout_ms, max_pending, max_pending_bytes;
} opts;

typedef struct child {
    uv_process_t proc;
    int alive;
    int index;
} child;

typedef struct daemon {
    uv_loop_t *loop;
    sf_coordinator *coord;
    sf_worker *worker;
    uv_signal_t sigint, sigterm;
    int signals_open;
    uv_timer_t grace;
    int grace_open, grace_stage;
    child *children;
    int nchildren, nalive;
    /* --local supervision: with durability on, a worker process that dies
     * takes the others down with it and all are started again (the
     * coordinator recovers the new cluster from the log) */
    int supervise;
    int cport;                 /* the coordinator's cluster port */
    char token[MAX_TOKEN + 1];
    size_t toklen;
    uv_timer_t respawn;
    int respawn_open, restarts;
    char exe[4096];            /* this program, for the worker processes */
    int shutting_down;
    int status;
} daemon_t;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "stateflowd: %s\n", line);
    fflush(stderr);
}

static void log_line(void *ud, const char *line)
{
    (void)ud;
    say("%s", line);
}

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        say("%s: expected an integer in %ld..%ld, got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof(*o));
    o->workers = o->partitions = o->batch_size = o->batch_ms = o->batch_timeout_ms = -1;
    o->max_pending = o->max_pending_bytes = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("stateflowd %s\n", STATEFLOWD_VERSION);
            exit(0);
        }
        if (strcmp(a, "--coordinator") == 0 || strcmp(a, "--worker") == 0) {
            if (o->mode) {
                say("only one of --local, --coordinator, --worker");
                return -1;
            }
            o->mode = a[2];
            continue;
        }
        const char **sp = NULL;
        long *lp = NULL, lo = 0, hi = 0;
        if (strcmp(a, "--local") == 0) {
            if (o->mode) {
                say("only one of --local, --coordinator, --worker");
                return -1;
            }
            o->mode = 'l';
            sp = &o->app;
        } else if (strcmp(a, "--app") == 0)
            sp = &o->app;
        else if (strcmp(a, "--listen") == 0)
            sp = &o->listen;
        else if (strcmp(a, "--http") == 0)
            sp = &o->http;
        else if (strcmp(a, "--native") == 0)
            sp = &o->native;
        else if (strcmp(a, "--join") == 0)
            sp = &o->join;
        else if (strcmp(a, "--token") == 0)
            sp = &o->token;
        else if (strcmp(a, "--data") == 0)
            sp = &o->data;
        else if (strcmp(a, "--commit-log") == 0)
            sp = &o->commit_log;
        else if (strcmp(a, "--durability") == 0)
            sp = &o->durability;
        else if (strcmp(a, "--workers") == 0) {
            lp = &o->workers;
            lo = 1;
            hi = SF_MAX_WORKERS;
        } else if (strcmp(a, "--partitions") == 0) {
            lp = &o->partitions;
            lo = 1;
            hi = SF_MAX_PARTITIONS;
        } else if (strcmp(a, "--batch-size") == 0) {
            lp = &o->batch_size;
            lo = 1;
            hi = SF_MAX_BATCH_SIZE;
        } else if (strcmp(a, "--batch-ms") == 0) {
            lp = &o->batch_ms;
            lo = 0;
            hi = 60000;
        } else if (strcmp(a, "--batch-timeout-ms") == 0) {
            lp = &o->batch_timeout_ms;
            lo = 1;
            hi = 3600000;
        } else if (strcmp(a, "--max-pending") == 0) {
            lp = &o->max_pending;
            lo = 1;
            hi = 100000000;
        } else if (strcmp(a, "--max-pending-bytes") == 0) {
            lp = &o->max_pending_bytes;
            lo = 1024;
            hi = (long)1 << 40;
        } else {
            say("unknown option '%s' (see --help)", a);
            return -1;
        }
        if (i + 1 >= argc) {
            say("%s needs a value", a);
            return -1;
        }
        if (sp)
            *sp = argv[++i];
        else if (parse_long(a, argv[++i], lo, hi, lp) < 0)
            return -1;
    }
    if (!o->mode) {
        fputs(USAGE, stderr);
        return -1;
    }
    if ((o->mode == 'c' || o->mode == 'l') && !o->app) {
        say("%s needs the application (.sfir)", o->mode == 'l' ? "--local" : "--coordinator --app");
        return -1;
    }
    if (o->mode == 'c' && !o->listen) {
        say("--coordinator needs --listen ADDR:PORT");
        return -1;
    }
    if (o->mode == 'w' && !o->join) {
        say("--worker needs --join HOST:PORT");
        return -1;
    }
    if (o->mode == 'w' && (o->app || o->http || o->native || o->data || o->commit_log ||
                           o->workers >= 0 || o->partitions >= 0 || o->batch_size >= 0 ||
                           o->batch_ms >= 0 || o->batch_timeout_ms >= 0 || o->max_pending >= 0 ||
                           o->max_pending_bytes >= 0)) {
        say("--worker takes only --join, --listen and --token (the coordinator sends the application)");
        return -1;
    }
    if (o->durability && strcmp(o->durability, "on") != 0 && strcmp(o->durability, "off") != 0) {
        say("--durability: expected on or off, got '%s'", o->durability);
        return -1;
    }
    if (o->mode == 'w' && o->durability) {
        say("--durability is a coordinator option");
        return -1;
    }
    return 0;
}

/* ---- the token ---- */

static int mkdir_p(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* DIR/cluster.token: its bytes, or 32 random hex characters written there. */
static int local_token(const char *dir, char *tok, size_t *len)
{
    if (mkdir_p(dir) < 0) {
        say("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/cluster.token", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, tok, MAX_TOKEN + 1);
        close(fd);
        if (n < 0 || n > MAX_TOKEN) {
            say("%s: unreadable or longer than %d bytes", path, MAX_TOKEN);
            return -1;
        }
        *len = (size_t)n;
        return 0;
    }
    if (errno != ENOENT) {
        say("%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char rnd[16];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            say("getrandom: %s", strerror(errno));
            return -1;
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
    *len = 2 * sizeof rnd;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, tok, *len) != (ssize_t)*len) {
        say("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- shutdown ---- */

static void close_signals(daemon_t *d)
{
    if (d->signals_open) {
        d->signals_open = 0;
        uv_close((uv_handle_t *)&d->sigint, NULL);
        uv_close((uv_handle_t *)&d->sigterm, NULL);
    }
}

static void maybe_finish(daemon_t *d)
{
    if (d->shutting_down && d->nalive == 0) {
        close_signals(d);
        if (d->respawn_open) {
            d->respawn_open = 0;
            uv_timer_stop(&d->respawn);
            uv_close((uv_handle_t *)&d->respawn, NULL);
        }
        if (d->grace_open) {
            d->grace_open = 0;
            uv_close((uv_handle_t *)&d->grace, NULL);
        }
    }
}

static void on_grace(uv_timer_t *t)
{
    daemon_t *d = t->data;
    int sig = d->grace_stage == 0 ? SIGTERM : SIGKILL;
    for (int i = 0; i < d->nchildren; i++)
        if (d->children[i].alive) {
            say("worker process %d did not stop, sending %s", d->children[i].proc.pid,
                sig == SIGTERM ? "SIGTERM" : "SIGKILL");
            uv_process_kill(&d->children[i].proc, sig);
        }
    d->grace_stage++;
    if (d->grace_stage < 2)
        uv_timer_start(&d->grace, on_grace, CHILD_GRACE_MS, 0);
}

static void shutdown_all(daemon_t *d)
{
    if (d->shutting_down)
        return;
    d->shutting_down = 1;
    if (d->coord)
        sf_coordinator_shutdown(d->coord);
    if (d->worker)
        sf_worker_stop(d->worker);
    if (d->nalive > 0) {
        uv_timer_init(d->loop, &d->grace);
        d->grace.data = d;
        d->grace_open = 1;
        uv_timer_start(&d->grace, on_grace, CHILD_GRACE_MS, 0);
    }
    maybe_finish(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    if (d->shutting_down) {
        say("second %s: exiting now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        for (int i = 0; i < d->nchildren; i++)
            if (d->children[i].alive)
                uv_process_kill(&d->children[i].proc, SIGKILL);
        _exit(1);
    }
    say("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown_all(d);
}

static void open_signals(daemon_t *d)
{
    uv_signal_init(d->loop, &d->sigint);
    uv_signal_init(d->loop, &d->sigterm);
    d->sigint.data = d->sigterm.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    d->signals_open = 1;
}

/* ---- local mode: worker processes ---- */

static int spawn_workers(daemon_t *d, int n, int port, const char *token, size_t toklen);

static void on_respawn(uv_timer_t *t)
{
    daemon_t *d = t->data;
    if (d->shutting_down || d->nalive > 0)
        return;
    int n = d->nchildren;
    free(d->children);
    d->children = NULL;
    d->nchildren = 0;
    d->restarts++;
    say("restarting %d worker process%s (restart %d)", n, n == 1 ? "" : "es", d->restarts);
    if (spawn_workers(d, n, d->cport, d->token, d->toklen) < 0) {
        d->status = 1;
        shutdown_all(d);
    }
}

static void on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
    child *ch = p->data;
    daemon_t *d = (daemon_t *)p->loop->data;
    ch->alive = 0;
    d->nalive--;
    if (!d->shutting_down || status != 0 || term_signal)
        say("worker process %d (#%d) exited (status %lld%s%s)", p->pid, ch->index, (long long)status,
            term_signal ? ", signal " : "", term_signal ? strsignal(term_signal) : "");
    uv_close((uv_handle_t *)p, NULL);
    if (d->supervise && !d->shutting_down) {
        /* the cluster restarts whole: a survivor may be stopped or hung */
        for (int i = 0; i < d->nchildren; i++)
            if (d->children[i].alive)
                uv_process_kill(&d->children[i].proc, SIGKILL);
        if (d->nalive == 0) {
            if (!d->respawn_open) {
                uv_timer_init(d->loop, &d->respawn);
                d->respawn.data = d;
                d->respawn_open = 1;
            }
            /* at once the first time, then a little later each time */
            uint64_t ms = d->restarts == 0 ? 0 : (d->restarts < 10 ? 200u * (uint64_t)d->restarts : 2000u);
            uv_timer_start(&d->respawn, on_respawn, ms, 0);
        }
    }
    maybe_finish(d);
}

static int spawn_workers(daemon_t *d, int n, int port, const char *token, size_t toklen)
{
    /* found once: a restart uses the same path even when the file was
     * replaced meanwhile (then /proc/self/exe ends in " (deleted)") */
    char *exe = d->exe;
    if (!exe[0]) {
        ssize_t el = readlink("/proc/self/exe", exe, sizeof d->exe - 1);
        if (el <= 0) {
            say("cannot find my own executable: %s", strerror(errno));
            return -1;
        }
        exe[el] = '\0';
    }
    char join[64];
    snprintf(join, sizeof join, "127.0.0.1:%d", port);
    /* environment: ours without STATEFLOW_TOKEN, plus the token */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **env = calloc(nenv + 2, sizeof(char *));
    char *tokvar = malloc(toklen + 32);
    if (!env || !tokvar) {
        free(env);
        free(tokvar);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "STATEFLOW_TOKEN=", 16) != 0)
            env[k++] = environ[i];
    memcpy(tokvar, "STATEFLOW_TOKEN=", 16);
    memcpy(tokvar + 16, token, toklen);
    tokvar[16 + toklen] = '\0';
    env[k++] = tokvar;
    env[k] = NULL;
    d->children = calloc((size_t)n, sizeof(child));
    if (!d->children) {
        free(env);
        free(tokvar);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *args[] = {exe, "--worker", "--join", join, NULL};
        uv_stdio_container_t stdio[3];
        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = UV_INHERIT_FD;
        stdio[1].data.fd = 1;
        stdio[2].flags = UV_INHERIT_FD;
        stdio[2].data.fd = 2;
        uv_process_options_t po;
        memset(&po, 0, sizeof po);
        po.file = exe;
        po.args = args;
        po.env = env;
        po.exit_cb = on_child_exit;
        po.flags = UV_PROCESS_DETACHED; /* Ctrl-C reaches only us; we stop them */
        po.stdio = stdio;
        po.stdio_count = 3;
        child *ch = &d->children[i];
        ch->index = i;
        ch->proc.data = ch;
        int r = uv_spawn(d->loop, &ch->proc, &po);
        if (r != 0) {
            say("cannot start worker process: %s", uv_strerror(r));
            rc = -1;
            break;
        }
        ch->alive = 1;
        d->nchildren++;
        d->nalive++;
    }
    /* tokvar must not leak into our own environment: the children have it */
    memset(tokvar, 0, toklen + 16);
    free(tokvar);
    free(env);
    return rc;
}

/* ---- modes ---- */

static int split_addr(const char *flag, const char *s, const char *def, char *host, size_t hl,
                      int *port, int *off)
{
    *off = 0;
    if (!s)
        s = def;
    if (!s || strcmp(s, "off") == 0) {
        *off = 1;
        return 0;
    }
    char err[256];
    if (sf_parse_hostport(s, host, hl, port, err, sizeof err) < 0) {
        say("%s: %s", flag, err);
        return -1;
    }
    return 0;
}

static void on_worker_stop(void *ud, int status)
{
    daemon_t *d = ud;
    if (status > d->status)
        d->status = status;
    d->shutting_down = 1;
    close_signals(d);
}

static int run_worker(daemon_t *d, const opts *o, const char *token, size_t toklen)
{
    char jhost[256], lhost[256];
    int jport, lport = 0, off;
    if (split_addr("--join", o->join, NULL, jhost, sizeof jhost, &jport, &off) < 0 ||
        split_addr("--listen", o->listen, "127.0.0.1:0", lhost, sizeof lhost, &lport, &off) < 0)
        return 2;
    sf_worker_config wc = {0};
    wc.loop = d->loop;
    wc.join_host = jhost;
    wc.join_port = jport;
    wc.listen_host = lhost;
    wc.listen_port = lport;
    wc.token = token;
    wc.token_len = toklen;
    wc.log = log_line;
    wc.on_stop = on_worker_stop;
    wc.ud = d;
    char err[512];
    open_signals(d);
    if (sf_worker_start(&wc, &d->worker, err, sizeof err) < 0) {
        say("worker: %s", err);
        d->status = 1;
        close_signals(d);
    }
    uv_run(d->loop, UV_RUN_DEFAULT);
    if (d->worker && sf_worker_free(d->worker) < 0)
        say("worker: handles still open at exit");
    return d->status;
}

static int run_coordinator(daemon_t *d, const opts *o, const char *token, size_t toklen)
{
    int local = o->mode == 'l';
    char lhost[256], hhost[256], nhost[256];
    int lport = 0, hport = 0, nport = 0, hoff, noff, loff;
    if (split_addr("--listen", o->listen, "127.0.0.1:0", lhost, sizeof lhost, &lport, &loff) < 0 ||
        split_addr("--http", o->http, "127.0.0.1:8080", hhost, sizeof hhost, &hport, &hoff) < 0 ||
        split_addr("--native", o->native, "127.0.0.1:7070", nhost, sizeof nhost, &nport, &noff) < 0)
        return 2;
    if (loff) {
        say("--listen cannot be off");
        return 2;
    }
    long nworkers = o->workers;
    if (nworkers < 0)
        nworkers = local ? (long)uv_available_parallelism() : 1;
    if (nworkers < 1)
        nworkers = 1;
    sf_coordinator_config cc = {0};
    cc.loop = d->loop;
    cc.app_path = o->app;
    cc.listen_host = lhost;
    cc.listen_port = lport;
    cc.http_host = hoff ? NULL : hhost;
    cc.http_port = hport;
    cc.native_host = noff ? NULL : nhost;
    cc.native_port = nport;
    cc.token = token;
    cc.token_len = toklen;
    cc.workers = (unsigned)nworkers;
    cc.partitions = o->partitions > 0 ? (unsigned)o->partitions : 0;
    cc.batch_size = o->batch_size > 0 ? (unsigned)o->batch_size : 0;
    cc.batch_ms = o->batch_ms >= 0 ? (int)o->batch_ms : -1;
    cc.commit_log = o->commit_log;
    cc.durable = !o->durability || strcmp(o->durability, "on") == 0;
    cc.data_dir = o->data ? o->data : DEFAULT_DATA;
    cc.batch_timeout_ms = o->batch_timeout_ms > 0 ? (unsigned)o->batch_timeout_ms : 0;
    cc.max_pending = o->max_pending > 0 ? (size_t)o->max_pending : 0;
    cc.max_pending_bytes = o->max_pending_bytes > 0 ? (size_t)o->max_pending_bytes : 0;
    cc.log = log_line;
    cc.ud = d;
    char err[1024];
    open_signals(d);
    if (sf_coordinator_start(&cc, &d->coord, err, sizeof err) < 0) {
        say("coordinator: %s", err);
        d->status = 2;
        d->shutting_down = 1;
        close_signals(d);
        uv_run(d->loop, UV_RUN_DEFAULT);
        if (d->coord)
            sf_coordinator_free(d->coord);
        return d->status;
    }
    char http[300] = "off", native[300] = "off";
    if (!hoff)
        snprintf(http, sizeof http, "%s:%d", hhost, sf_coordinator_http_port(d->coord));
    if (!noff)
        snprintf(native, sizeof native, "%s:%d", nhost, sf_coordinator_native_port(d->coord));
    say("coordinator listening: cluster=%s:%d http=%s native=%s, waiting for %ld worker%s", lhost,
        sf_coordinator_cluster_port(d->coord), http, native, nworkers, nworkers == 1 ? "" : "s");
    {
        char dur[600];
        sf_coordinator_durability(d->coord, dur, sizeof dur);
        say("durability %s", dur);
    }
    d->supervise = local && cc.durable;
    d->cport = sf_coordinator_cluster_port(d->coord);
    memcpy(d->token, token, toklen);
    d->toklen = toklen;
    if (local && spawn_workers(d, (int)nworkers, d->cport, token, toklen) < 0) {
        d->status = 1;
        shutdown_all(d);
    }
    uv_run(d->loop, UV_RUN_DEFAULT);
    if (sf_coordinator_free(d->coord) < 0)
        say("coordinator: handles still open at exit");
    free(d->children);
    return d->status;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);

    char tokbuf[MAX_TOKEN + 1];
    const char *token = NULL;
    size_t toklen = 0;
    if (o.token) {
        token = o.token;
        toklen = strlen(o.token);
    } else if (getenv("STATEFLOW_TOKEN")) {
        token = getenv("STATEFLOW_TOKEN");
        toklen = strlen(token);
    } else if (o.mode == 'l') {
        if (local_token(o.data ? o.data : DEFAULT_DATA, tokbuf, &toklen) < 0)
            return 2;
        token = tokbuf;
    } else {
        say("warning: no cluster token (--token or $STATEFLOW_TOKEN): any process can join");
        token = "";
    }
    if (toklen > MAX_TOKEN) {
        say("the cluster token is longer than %d bytes", MAX_TOKEN);
        return 2;
    }

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        say("cannot create the event loop");
        return 1;
    }
    daemon_t d;
    memset(&d, 0, sizeof d);
    d.loop = &loop;
    loop.data = &d;
    int status = o.mode == 'w' ? run_worker(&d, &o, token, toklen)
                               : run_coordinator(&d, &o, token, toklen);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        say("warning: event loop handles left open at exit");
    return status;
}
