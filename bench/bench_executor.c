/* bench_executor.c: throughput of the local executor (runtime/exec/executor.h).
 *
 *   bench_executor [SECONDS_PER_CASE] [--emit-sfir PATH]
 *
 * Cases, each run for a fixed CPU time on one core (rates are per CPU
 * second, so a busy machine does not distort them), requests going through the
 * full local path (JSON request parse, transaction, commit, JSON reply):
 *   call      Counter.incr(1) on 1000 counters round robin (one entity)
 *   transfer  Account.transfer(1, other): a split method, one remote call
 *             (two accounts per transaction)
 *   get       committed state of a counter as JSON
 * --emit-sfir writes the benchmark app as a .sfir (for timing sfrun itself
 * with a generated request file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "pycodec.h"
#include "pyrt.h"
#include "request.h"
#include "store.h"

static const char MODULE[] =
    "class Counter:\n"
    "    def __init__(self, name: str):\n"
    "        self.name = name\n"
    "        self.n = 0\n"
    "    def __key__(self):\n"
    "        return self.name\n"
    "    def incr(self, by: int) -> int:\n"
    "        self.n += by\n"
    "        return self.n\n"
    "\n"
    "class Account:\n"
    "    def __init__(self, name: str, balance: int):\n"
    "        self.name = name\n"
    "        self.balance = balance\n"
    "    def __key__(self):\n"
    "        return self.name\n"
    "    def add(self, amount: int) -> int:\n"
    "        self.balance += amount\n"
    "        return self.balance\n"
    "\n"
    "def _sf_Account_transfer_0(self, _sf_f):\n"
    "    amount = _sf_f['amount']\n"
    "    if self.balance < amount:\n"
    "        return (0, False)\n"
    "    self.balance -= amount\n"
    "    return (1, _sf_f['to'], 'add', (amount,), 1, None, {})\n"
    "\n"
    "def _sf_Account_transfer_1(self, _sf_f):\n"
    "    return (0, True)\n";

static sf_type *ty(sf_ir *ir, sf_type_kind k, const char *entity)
{
    sf_type *t = sf_arena_alloc(&ir->arena, sizeof(*t));
    t->kind = k;
    t->entity = entity;
    return t;
}

static void param(sf_ir *ir, sf_ir_method *m, const char *name, const sf_type *t)
{
    if (!m->params)
        m->params = sf_arena_alloc(&ir->arena, sizeof(sf_ir_param) * 4);
    m->params[m->nparams].name = name;
    m->params[m->nparams].type = t;
    m->nparams++;
}

static sf_ir_entity *entity(sf_ir *ir, const char *name, const char *a0, const char *a1)
{
    sf_ir_entity *e = &ir->entities[ir->nentities++];
    e->name = name;
    e->attrs = sf_arena_alloc(&ir->arena, sizeof(sf_ir_attr) * 2);
    e->attrs[0].name = a0;
    e->attrs[1].name = a1;
    e->nattrs = 2;
    e->key = sf_arena_alloc(&ir->arena, sizeof(char *));
    e->key[0] = a0;
    e->nkey = 1;
    e->methods = sf_arena_alloc(&ir->arena, sizeof(sf_ir_method) * 4);
    return e;
}

static sf_ir_method *method(sf_ir *ir, sf_ir_entity *e, const char *name, unsigned flags)
{
    (void)ir;
    sf_ir_method *m = &e->methods[e->nmethods++];
    m->name = name;
    m->flags = flags;
    return m;
}

static sf_ir *build_ir(void)
{
    sf_ir *ir = sf_ir_new();
    ir->module = "bench_app";
    ir->filename = "bench_app.py";
    ir->source = MODULE;
    ir->python = MODULE;
    ir->entities = sf_arena_alloc(&ir->arena, sizeof(sf_ir_entity) * 2);
    const sf_type *tstr = ty(ir, SF_TYPE_STR, NULL), *tint = ty(ir, SF_TYPE_INT, NULL);

    sf_ir_entity *c = entity(ir, "Counter", "name", "n");
    sf_ir_method *m = method(ir, c, "__init__", SF_METHOD_INIT);
    param(ir, m, "name", tstr);
    method(ir, c, "__key__", SF_METHOD_INTERNAL | SF_METHOD_READ_ONLY);
    m = method(ir, c, "incr", 0);
    param(ir, m, "by", tint);

    sf_ir_entity *a = entity(ir, "Account", "name", "balance");
    m = method(ir, a, "__init__", SF_METHOD_INIT);
    param(ir, m, "name", tstr);
    param(ir, m, "balance", tint);
    method(ir, a, "__key__", SF_METHOD_INTERNAL | SF_METHOD_READ_ONLY);
    m = method(ir, a, "add", 0);
    param(ir, m, "amount", tint);
    m = method(ir, a, "transfer", SF_METHOD_SPLIT);
    param(ir, m, "amount", tint);
    param(ir, m, "to", ty(ir, SF_TYPE_ENTITY, "Account"));
    m->blocks = sf_arena_alloc(&ir->arena, sizeof(sf_ir_block) * 2);
    m->nblocks = 2;
    for (int k = 0; k < 2; k++) {
        sf_ir_block *b = &m->blocks[k];
        b->id = k;
        b->function = sf_arena_printf(&ir->arena, "_sf_Account_transfer_%d", k);
        b->exits = sf_arena_alloc(&ir->arena, sizeof(sf_ir_exit));
        b->exits[0] = (sf_ir_exit){.kind = SF_EXIT_RETURN, .target = -1, .entity = "",
                                   .method = "", .bind = ""};
        b->nexits = 1;
    }
    return ir;
}

/* CPU time of this process: the machine may be shared, and the executor
 * is single-threaded, so CPU seconds are what one core would need. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one request line through parse + execute + reply. Returns 1 if ok. */
static int run_line(sf_executor *ex, const char *line, size_t n, sf_buf *out)
{
    sf_request r;
    char err[256];
    int ok = 0;
    if (sf_request_parse_json(line, n, &r, err, sizeof err) < 0)
        sf_reply_error_json(out, r.id_json, "BadRequest", err);
    else
        ok = sf_exec_request(ex, &r, out) == 0;
    sf_request_free(&r);
    return ok;
}

typedef const char *(*gen_fn)(char *buf, size_t cap, long i, size_t *n);

static const char *gen_call(char *buf, size_t cap, long i, size_t *n)
{
    *n = (size_t)snprintf(buf, cap,
                          "{\"id\":%ld,\"op\":\"call\",\"entity\":\"Counter\",\"key\":\"c%ld\","
                          "\"method\":\"incr\",\"args\":[1]}",
                          i, i % 1000);
    return buf;
}

static const char *gen_transfer(char *buf, size_t cap, long i, size_t *n)
{
    long a = i % 1000, b = (i * 7 + 13) % 1000;
    if (a == b)
        b = (b + 1) % 1000;
    *n = (size_t)snprintf(buf, cap,
                          "{\"id\":%ld,\"op\":\"call\",\"entity\":\"Account\",\"key\":\"a%ld\","
                          "\"method\":\"transfer\",\"args\":[1,{\"$ref\":[\"Account\",\"a%ld\"]}]}",
                          i, a, b);
    return buf;
}

static const char *gen_get(char *buf, size_t cap, long i, size_t *n)
{
    *n = (size_t)snprintf(buf, cap, "{\"id\":%ld,\"op\":\"get\",\"entity\":\"Counter\",\"key\":\"c%ld\"}",
                          i, i % 1000);
    return buf;
}

/* The executor alone: operation already parsed (msgpack), no JSON. */
static void bench_op(sf_executor *ex, double seconds)
{
    char keys[1000][8];
    size_t klen[1000];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(keys[i] + 1, 7, "c%d", i);
        keys[i][0] = (char)(0xa0 | n);
        klen[i] = (size_t)n + 1;
    }
    sf_buf res;
    sf_buf_init(&res);
    sf_exec_op op = {.op = SF_OP_CALL, .entity = "Counter", .entity_len = 7, .method = "incr",
                     .method_len = 4, .args = "\x91\x01", .args_len = 2};
    long i = 0, ok = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 1000; k++, i++) {
            op.key = keys[i % 1000];
            op.key_len = klen[i % 1000];
            const char *et, *em;
            sf_buf_reset(&res);
            ok += sf_exec_op_run(ex, &op, &res, &et, &em) == 0;
        }
        t = now() - t0;
    } while (t < seconds);
    printf("%-9s %9ld requests in %.2f CPU s: %9.0f req/s (%.2f us each), %ld ok\n", "call-op", i, t,
           (double)i / t, t * 1e6 / (double)i, ok);
    sf_buf_free(&res);
}

static void bench(sf_executor *ex, const char *name, gen_fn gen, double seconds)
{
    char line[512];
    sf_buf out;
    sf_buf_init(&out);
    long i = 0, ok = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 1000; k++, i++) {
            size_t n;
            gen(line, sizeof line, i, &n);
            sf_buf_reset(&out);
            ok += run_line(ex, line, n, &out);
        }
        t = now() - t0;
    } while (t < seconds);
    printf("%-9s %9ld requests in %.2f CPU s: %9.0f req/s (%.2f us each), %ld ok\n", name, i, t,
           (double)i / t, t * 1e6 / (double)i, ok);
    if (ok != i)
        printf("          last reply: %s\n", out.data);
    sf_buf_free(&out);
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    const char *emit = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--emit-sfir") == 0 && i + 1 < argc)
            emit = argv[++i];
        else
            seconds = atof(argv[i]);
    }
    char err[512];
    sf_ir *ir = build_ir();
    if (emit) {
        if (sf_ir_write_file(ir, emit, err, sizeof err) < 0) {
            fprintf(stderr, "bench_executor: %s\n", err);
            return 1;
        }
        sf_ir_free(ir);
        return 0;
    }
    sf_pycodec codec;
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0 || sf_pycodec_init(&codec) < 0) {
        fprintf(stderr, "bench_executor: cannot start Python: %s\n", err);
        return 1;
    }
    sf_pyapp *app = sf_pyapp_load(ir, err, sizeof err);
    if (!app) {
        fprintf(stderr, "bench_executor: %s\n", err);
        return 1;
    }
    sf_store store;
    sf_store_init(&store);
    sf_executor *ex = sf_executor_new(app, &codec, &store, err, sizeof err);
    sf_buf out;
    sf_buf_init(&out);
    char line[256];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(line, sizeof line, "{\"op\":\"create\",\"entity\":\"Counter\",\"args\":[\"c%d\"]}", i);
        run_line(ex, line, (size_t)n, &out);
        n = snprintf(line, sizeof line,
                     "{\"op\":\"create\",\"entity\":\"Account\",\"args\":[\"a%d\",1000000000]}", i);
        run_line(ex, line, (size_t)n, &out);
    }
    sf_buf_free(&out);
    bench(ex, "call", gen_call, seconds);
    bench_op(ex, seconds);
    bench(ex, "transfer", gen_transfer, seconds);
    bench(ex, "get", gen_get, seconds);
    sf_executor_free(ex);
    sf_pyapp_free(app);
    sf_store_free(&store);
    sf_pycodec_fini(&codec);
    sf_pyrt_stop();
    sf_ir_free(ir);
    return 0;
}
