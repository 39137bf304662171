/* test_exec_steps.c: the executor's client operations in steps, as the
 * stateflowd workers use them (executor.h: sf_exec_op_check,
 * sf_exec_arg_refs, sf_exec_op_start, sf_exec_create_take, sf_tx_install,
 * sf_tx_encode_writes), on the hand-built test application
 * (executor_apps.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "executor.h"
#include "executor_apps.h"
#include "json.h"
#include "pycodec.h"
#include "pyrt.h"
#include "request.h"
#include "store.h"

typedef struct fx {
    sf_ir *ir;
    sf_pycodec codec;
    sf_pyapp *app;
    sf_store store;
    sf_executor *ex;
    sf_buf reply, args, refs;
    sf_tx tx, tx2;
    sf_event ev;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char err[512];
    f->ir = sf_test_app_build();
    if (!f->ir || sf_pycodec_init(&f->codec) < 0)
        return -1;
    f->app = sf_pyapp_load(f->ir, err, sizeof err);
    if (!f->app) {
        fprintf(stderr, "load: %s\n", err);
        return -1;
    }
    sf_store_init(&f->store);
    f->ex = sf_executor_new(f->app, &f->codec, &f->store, err, sizeof err);
    if (!f->ex)
        return -1;
    sf_buf_init(&f->reply);
    sf_buf_init(&f->args);
    sf_buf_init(&f->refs);
    sf_tx_init(&f->tx);
    sf_tx_init(&f->tx2);
    sf_tx_reset(&f->tx, 7);
    sf_tx_reset(&f->tx2, 7);
    sf_event_init(&f->ev);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sf_event_free(&f->ev);
    sf_tx_free(&f->tx);
    sf_tx_free(&f->tx2);
    sf_executor_free(f->ex);
    sf_store_free(&f->store);
    sf_pyapp_free(f->app);
    sf_pycodec_fini(&f->codec);
    sf_ir_free(f->ir);
    sf_buf_free(&f->reply);
    sf_buf_free(&f->args);
    sf_buf_free(&f->refs);
    free(f);
    return 0;
}

/* Run a whole request (' stands for ") through sf_exec_request. */
static const char *rq(fx *f, const char *req)
{
    char text[1024];
    size_t n = strlen(req);
    for (size_t i = 0; i <= n; i++)
        text[i] = req[i] == '\'' ? '"' : req[i];
    sf_buf_reset(&f->reply);
    sf_request r;
    char err[512];
    assert_int_equal(sf_request_parse_json(text, n, &r, err, sizeof err), 0);
    sf_exec_request(f->ex, &r, &f->reply);
    sf_request_free(&r);
    return f->reply.data;
}

/* An op from JSON pieces: args is a JSON array, key a JSON value or NULL. */
static sf_exec_op mkop(fx *f, int op, const char *entity, const char *key_json, const char *method,
                       const char *args_json, sf_buf *keybuf)
{
    char err[256], kj[256], aj[1024];
    if (key_json) {
        for (size_t i = 0; i <= strlen(key_json) && i < sizeof kj; i++)
            kj[i] = key_json[i] == '\'' ? '"' : key_json[i];
        key_json = kj;
    }
    for (size_t i = 0; i <= strlen(args_json) && i < sizeof aj; i++)
        aj[i] = args_json[i] == '\'' ? '"' : args_json[i];
    args_json = aj;
    sf_exec_op o = {0};
    o.op = op;
    o.entity = entity;
    o.entity_len = strlen(entity);
    if (key_json) {
        sf_buf_reset(keybuf);
        assert_int_equal(sf_json_to_msgpack(key_json, strlen(key_json), keybuf, err, sizeof err), 0);
        o.key = keybuf->data;
        o.key_len = keybuf->len;
    }
    if (method) {
        o.method = method;
        o.method_len = strlen(method);
    }
    sf_buf_reset(&f->args);
    assert_int_equal(sf_json_to_msgpack(args_json, strlen(args_json), &f->args, err, sizeof err), 0);
    o.args = f->args.data;
    o.args_len = f->args.len;
    return o;
}

static void expect_error(fx *f, sf_tx *tx, const char *type, const char *msg)
{
    (void)f;
    assert_string_equal(tx->err_type.data, type);
    if (msg)
        assert_string_equal(tx->err_msg.data, msg);
}

static void test_check(void **state)
{
    fx *f = *state;
    rq(f, "{'op':'create','entity':'User','args':['alice']}");
    sf_buf key;
    sf_buf_init(&key);
    PyObject *args;
    sf_exec_op o = mkop(f, SF_OP_CALL, "Nope", "'alice'", "deposit", "[1]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "NotFound", "unknown entity 'Nope'");
    o = mkop(f, SF_OP_CALL, "User", "'alice'", "__init__", "[1]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "NotFound", "unknown method 'User.__init__'");
    o = mkop(f, SF_OP_CALL, "User", "'alice'", "deposit", "[]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "TypeError", "User.deposit() expects 1 argument, got 0");
    o = mkop(f, SF_OP_CALL, "User", "'bob'", "deposit", "[1]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "NotFound", "User \"bob\" not found");
    o = mkop(f, SF_OP_CREATE, "User", NULL, NULL, "[1]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "TypeError", NULL);
    /* good: the target is loaded into the transaction */
    sf_tx_reset(&f->tx, 7);
    o = mkop(f, SF_OP_CALL, "User", "'alice'", "deposit", "[5]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(PyList_GET_SIZE(args), 1);
    assert_int_equal(f->tx.ninsts, 1);
    assert_true(f->tx.insts[0].flags & SF_TXI_LOADED);
    Py_DECREF(args);
    sf_buf_free(&key);
}

static void test_arg_refs(void **state)
{
    fx *f = *state;
    rq(f, "{'op':'create','entity':'User','args':['alice']}");
    sf_buf key;
    sf_buf_init(&key);
    PyObject *args;
    sf_exec_op o = mkop(f, SF_OP_CALL, "User", "'alice'", "typed",
                        "[1, 2.0, 's', true, {'$bytes':''}, [{'$ref':['Item','a']}, [{'$ref':['Ghost',7]}]],"
                        " {'x': {'$ref':['User','alice']}}, {'$ref':['Item','b']}]",
                        &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    sf_buf_reset(&f->refs);
    assert_int_equal(sf_exec_arg_refs(f->ex, &f->tx, args, &f->refs), 0);
    sf_buf json;
    sf_buf_init(&json);
    char err[128];
    assert_int_equal(sf_msgpack_to_json(f->refs.data, f->refs.len, &json, err, sizeof err), 0);
    assert_string_equal(json.data,
                        "[[\"Item\",\"a\"],[\"Ghost\",7],[\"User\",\"alice\"],[\"Item\",\"b\"]]");
    /* none at all: an empty array */
    sf_buf_reset(&f->refs);
    PyObject *none = PyList_New(0);
    assert_int_equal(sf_exec_arg_refs(f->ex, &f->tx, none, &f->refs), 0);
    assert_int_equal(f->refs.len, 1);
    assert_int_equal((unsigned char)f->refs.data[0], 0x90);
    Py_DECREF(none);
    Py_DECREF(args);
    sf_buf_free(&json);
    sf_buf_free(&key);
}

typedef struct writes {
    int n;
    int deletes;              /* callbacks with a NULL state */
    sf_buf last_key, last_state;
} writes;

static void count_write(void *arg, const sf_txinst *inst, const char *key, size_t keylen,
                        const char *state, size_t statelen)
{
    writes *w = arg;
    (void)inst;
    w->n++;
    if (!state)
        w->deletes++;
    sf_buf_reset(&w->last_key);
    sf_buf_append(&w->last_key, key, keylen);
    sf_buf_reset(&w->last_state);
    sf_buf_append(&w->last_state, state, statelen);
}

static void test_call_and_encode_writes(void **state)
{
    fx *f = *state;
    rq(f, "{'op':'create','entity':'User','args':['alice']}");
    sf_buf key;
    sf_buf_init(&key);
    PyObject *args, *res;
    int created;
    sf_exec_op o = mkop(f, SF_OP_CALL, "User", "\"alice\"", "deposit", "[5]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 0);
    Py_DECREF(args);
    assert_int_equal(created, -1);
    assert_int_equal(sf_exec_event(f->ex, &f->tx, &f->ev, &res), 0);
    assert_int_equal(PyLong_AsLong(res), 5);
    Py_DECREF(res);
    writes w = {0};
    sf_buf_init(&w.last_key);
    sf_buf_init(&w.last_state);
    assert_int_equal(sf_tx_encode_writes(f->ex, &f->tx, count_write, &w), 0);
    assert_int_equal(w.n, 1);
    assert_memory_equal(w.last_key.data, "\xa5" "alice", 6);
    /* nothing reached the store */
    assert_string_equal(rq(f, "{'op':'get','entity':'User','key':'alice'}"),
                        "{\"ok\":{\"username\":\"alice\",\"balance\":0}}");
    /* the instances stay: commit writes them */
    assert_int_equal(sf_tx_commit(f->ex, &f->tx), 0);
    assert_string_equal(rq(f, "{'op':'get','entity':'User','key':'alice'}"),
                        "{\"ok\":{\"username\":\"alice\",\"balance\":5}}");
    /* a state that cannot be stored: -1, no callback */
    sf_tx_reset(&f->tx, 8);
    o = mkop(f, SF_OP_CALL, "User", "\"alice\"", "leak", "[]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 0);
    Py_DECREF(args);
    assert_int_equal(sf_exec_event(f->ex, &f->tx, &f->ev, &res), 0);
    Py_DECREF(res);
    w.n = 0;
    assert_int_equal(sf_tx_encode_writes(f->ex, &f->tx, count_write, &w), -1);
    assert_int_equal(w.n, 0);
    expect_error(f, &f->tx, "TypeError", NULL);
    assert_non_null(strstr(f->tx.err_msg.data, "attribute 'conn'"));
    sf_buf_free(&w.last_key);
    sf_buf_free(&w.last_state);
    sf_buf_free(&key);
}

static void test_create_moves(void **state)
{
    fx *f = *state;
    sf_buf key, k, st;
    sf_buf_init(&key);
    sf_buf_init(&k);
    sf_buf_init(&st);
    PyObject *args;
    int created;
    sf_exec_op o = mkop(f, SF_OP_CREATE, "Item", NULL, NULL, "[\"pen\", 3]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 1);
    Py_DECREF(args);
    assert_true(created >= 0);
    assert_int_equal(sf_exec_create_take(f->ex, &f->tx, created, &k, &st), 0);
    assert_memory_equal(k.data, "\xa3pen", 4);
    sf_buf json;
    sf_buf_init(&json);
    char err[128];
    assert_int_equal(sf_msgpack_to_json(st.data, st.len, &json, err, sizeof err), 0);
    assert_string_equal(json.data, "{\"item_id\":\"pen\",\"price\":3,\"stock\":0}");
    /* it left the transaction: nothing to write there */
    writes w = {0};
    sf_buf_init(&w.last_key);
    sf_buf_init(&w.last_state);
    assert_int_equal(sf_tx_encode_writes(f->ex, &f->tx, count_write, &w), 0);
    assert_int_equal(w.n, 0);
    /* the owner installs it */
    int item = sf_pyapp_entity_index(f->app, "Item", 4);
    assert_int_equal(sf_tx_install(f->ex, &f->tx2, item, k.data, k.len, NULL, 0), 0); /* check only */
    assert_int_equal(sf_tx_install(f->ex, &f->tx2, item, k.data, k.len, st.data, st.len), 0);
    assert_int_equal(sf_tx_install(f->ex, &f->tx2, item, k.data, k.len, st.data, st.len), -1);
    expect_error(f, &f->tx2, "AlreadyExists", "Item \"pen\" already exists");
    assert_int_equal(sf_tx_encode_writes(f->ex, &f->tx2, count_write, &w), 0);
    assert_int_equal(w.n, 1);
    assert_int_equal(sf_tx_commit(f->ex, &f->tx2), 0);
    assert_string_equal(rq(f, "{'op':'get','entity':'Item','key':'pen'}"),
                        "{\"ok\":{\"item_id\":\"pen\",\"price\":3,\"stock\":0}}");
    /* now it exists in the store */
    sf_tx_reset(&f->tx2, 9);
    assert_int_equal(sf_tx_install(f->ex, &f->tx2, item, k.data, k.len, NULL, 0), -1);
    expect_error(f, &f->tx2, "AlreadyExists", NULL);
    /* a constructor that raises */
    sf_tx_reset(&f->tx, 10);
    o = mkop(f, SF_OP_CREATE, "Item", NULL, NULL, "[\"pen\"]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "TypeError", "Item() expects 2 arguments, got 1");
    sf_buf_free(&json);
    sf_buf_free(&w.last_key);
    sf_buf_free(&w.last_state);
    sf_buf_free(&key);
    sf_buf_free(&k);
    sf_buf_free(&st);
}

/* The delete op, whole and in steps; INSTALL and DELETE events on the wire
 * (docs/executor.md "Entity lifecycle"). */
static void test_lifecycle(void **state)
{
    fx *f = *state;
    rq(f, "{'op':'create','entity':'User','args':['alice']}");
    assert_string_equal(rq(f, "{'id':1,'op':'delete','entity':'User','key':'alice'}"), "{\"id\":1,\"ok\":null}");
    assert_string_equal(rq(f, "{'op':'get','entity':'User','key':'alice'}"),
                        "{\"error\":{\"type\":\"NotFound\",\"message\":\"User \\\"alice\\\" not found\"}}");
    assert_string_equal(rq(f, "{'op':'delete','entity':'User','key':'alice'}"),
                        "{\"error\":{\"type\":\"NotFound\",\"message\":\"User \\\"alice\\\" not found\"}}");
    assert_string_equal(rq(f, "{'op':'delete','entity':'Nope','key':'alice'}"),
                        "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity 'Nope'\"}}");
    /* in steps: check (the instance must exist), start, run, encode, commit */
    rq(f, "{'op':'create','entity':'User','args':['bob']}");
    sf_buf key;
    sf_buf_init(&key);
    PyObject *args, *res;
    int created;
    sf_exec_op o = mkop(f, SF_OP_DELETE, "User", "\"nobody\"", NULL, "[]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), -1);
    expect_error(f, &f->tx, "NotFound", "User \"nobody\" not found");
    sf_tx_reset(&f->tx, 11);
    o = mkop(f, SF_OP_DELETE, "User", "\"bob\"", NULL, "[]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 0);
    Py_DECREF(args);
    assert_int_equal(created, -1);
    assert_int_equal(sf_exec_event(f->ex, &f->tx, &f->ev, &res), 0);
    assert_ptr_equal(res, Py_None);
    Py_DECREF(res);
    writes w = {0};
    sf_buf_init(&w.last_key);
    sf_buf_init(&w.last_state);
    assert_int_equal(sf_tx_encode_writes(f->ex, &f->tx, count_write, &w), 0);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.deletes, 1);
    assert_memory_equal(w.last_key.data, "\xa3" "bob", 4);
    assert_string_equal(rq(f, "{'op':'get','entity':'User','key':'bob'}"),
                        "{\"ok\":{\"username\":\"bob\",\"balance\":0}}"); /* not yet */
    assert_int_equal(sf_tx_commit(f->ex, &f->tx), 0);
    assert_non_null(strstr(rq(f, "{'op':'get','entity':'User','key':'bob'}"), "NotFound"));

    /* an INSTALL event, encoded by one process and run by another */
    int user = sf_pyapp_entity_index(f->app, "User", 4);
    sf_tx_reset(&f->tx, 12);
    sf_tx_reset(&f->tx2, 12);
    sf_event_clear(&f->ev);
    f->ev.txid = 12;
    f->ev.kind = SF_EVENT_INVOKE;
    f->ev.inst = sf_tx_instance(&f->tx, user, "\xa3" "eve", 4);
    f->ev.method = SF_EXEC_INSTALL;
    PyObject *st = Py_BuildValue("{s:s,s:i}", "username", "eve", "balance", 9);
    f->ev.args = Py_BuildValue("[N]", st);
    sf_buf wire;
    sf_buf_init(&wire);
    char err[256];
    assert_int_equal(sf_event_encode(f->ex, &f->tx, &f->ev, &wire, err, sizeof err), 0);
    assert_non_null(memmem(wire.data, wire.len, "_sf_install", 11));
    sf_event_clear(&f->ev);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, wire.data, wire.len, &f->ev, err, sizeof err), 0);
    assert_int_equal(f->ev.method, SF_EXEC_INSTALL);
    assert_int_equal(sf_exec_event(f->ex, &f->tx2, &f->ev, &res), 0);
    assert_true(sf_pycodec_is_ref(&f->codec, res));
    assert_string_equal(sf_pycodec_ref_entity(res), "User");
    Py_DECREF(res);
    /* the same install again in that transaction: AlreadyExists */
    sf_event_clear(&f->ev);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, wire.data, wire.len, &f->ev, err, sizeof err), 0);
    assert_int_equal(sf_exec_event(f->ex, &f->tx2, &f->ev, &res), -1);
    expect_error(f, &f->tx2, "AlreadyExists", "User \"eve\" already exists");
    sf_tx_reset(&f->tx2, 13);
    sf_event_clear(&f->ev);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, wire.data, wire.len, &f->ev, err, sizeof err), 0);
    assert_int_equal(sf_exec_event(f->ex, &f->tx2, &f->ev, &res), 0);
    Py_DECREF(res);
    assert_int_equal(sf_tx_commit(f->ex, &f->tx2), 0);
    assert_string_equal(rq(f, "{'op':'get','entity':'User','key':'eve'}"),
                        "{\"ok\":{\"username\":\"eve\",\"balance\":9}}");
    /* a DELETE event by name; then anything on the instance is NotFound */
    sf_tx_reset(&f->tx, 14);
    sf_event_clear(&f->ev);
    f->ev.txid = 14;
    f->ev.kind = SF_EVENT_INVOKE;
    f->ev.inst = sf_tx_instance(&f->tx, user, "\xa3" "eve", 4);
    f->ev.method = SF_EXEC_DELETE;
    f->ev.args = PyList_New(0);
    sf_buf_reset(&wire);
    assert_int_equal(sf_event_encode(f->ex, &f->tx, &f->ev, &wire, err, sizeof err), 0);
    sf_event_clear(&f->ev);
    sf_tx_reset(&f->tx2, 14);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, wire.data, wire.len, &f->ev, err, sizeof err), 0);
    assert_int_equal(f->ev.method, SF_EXEC_DELETE);
    assert_int_equal(sf_exec_event(f->ex, &f->tx2, &f->ev, &res), 0);
    Py_DECREF(res);
    sf_event_clear(&f->ev);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, wire.data, wire.len, &f->ev, err, sizeof err), 0);
    assert_int_equal(sf_exec_event(f->ex, &f->tx2, &f->ev, &res), -1);
    expect_error(f, &f->tx2, "NotFound", "User \"eve\" not found");
    /* a lifecycle step cannot be resumed */
    static const char resume[] = "\x9c\x02\x0e\xc0\x01\xa4User\xa3" "eve\xaa_sf_delete\x00\x80\x90\x00\x00";
    sf_event_clear(&f->ev);
    assert_int_equal(sf_event_decode(f->ex, &f->tx2, resume, sizeof resume - 1, &f->ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "lifecycle"));
    sf_tx_reset(&f->tx2, 15);
    sf_buf_free(&wire);
    sf_buf_free(&w.last_key);
    sf_buf_free(&w.last_state);
    sf_buf_free(&key);
}

/* A worker runs a constructor (sf_exec_op_start) and the key of the new
 * instance (sf_exec_create_take) under the watchdog too: one that never
 * returns fails with TimeLimitExceeded, and the next operation is served. */
static void test_constructor_guarded(void **state)
{
    fx *f = *state;
    char err[256];
    sf_watchdog *w = sf_watchdog_start(200, err, sizeof err);
    if (!w)
        fail_msg("watchdog: %s", err);
    sf_executor_set_watchdog(f->ex, w);
    sf_buf key, k, st;
    sf_buf_init(&key);
    sf_buf_init(&k);
    sf_buf_init(&st);
    PyObject *args;
    int created;
    const char *tle = "the request ran longer than its time limit (200 ms)";

    /* __init__ loops */
    sf_exec_op o = mkop(f, SF_OP_CREATE, "Slow", NULL, NULL, "[\"a\", true]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), -1);
    Py_DECREF(args);
    assert_int_equal(created, -1);
    expect_error(f, &f->tx, "TimeLimitExceeded", tle);

    /* __key__ loops */
    sf_tx_reset(&f->tx, 8);
    o = mkop(f, SF_OP_CREATE, "Slow", NULL, NULL, "[\"spin-key\"]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 1);
    Py_DECREF(args);
    assert_int_equal(sf_exec_create_take(f->ex, &f->tx, created, &k, &st), -1);
    expect_error(f, &f->tx, "TimeLimitExceeded", tle);

    /* the next create goes through */
    sf_tx_reset(&f->tx, 9);
    o = mkop(f, SF_OP_CREATE, "Slow", NULL, NULL, "[\"b\"]", &key);
    assert_int_equal(sf_exec_op_check(f->ex, &f->tx, &o, &args), 0);
    assert_int_equal(sf_exec_op_start(f->ex, &f->tx, &o, args, &f->ev, &created), 1);
    Py_DECREF(args);
    assert_int_equal(sf_exec_create_take(f->ex, &f->tx, created, &k, &st), 0);
    assert_memory_equal(k.data, "\xa1" "b", 2);
    assert_int_equal(f->tx.steps, 1); /* the constructor, one step */

    sf_executor_set_watchdog(f->ex, NULL);
    sf_watchdog_stop(w);
    sf_buf_free(&key);
    sf_buf_free(&k);
    sf_buf_free(&st);
}

int main(void)
{
    char err[512];
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arg_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_and_encode_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructor_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sf_pyrt_stop();
    return rc;
}
