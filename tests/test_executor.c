/* test_executor.c: the executor (runtime/exec/executor.h) over hand-built IRs
 * (executor_apps.c, executor_app.py): create/get/call, split methods (calls,
 * jumps, returns, binds), re-entrant calls, rollback, system errors and
 * their messages (as tests/diff/plain.py writes them), limits, and the event
 * wire format. Requests are written with ' for " to keep them readable. */
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
    sf_buf reply;
    char text[4096];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char err[512];
    f->ir = sf_test_app_build();
    if (!f->ir) {
        fprintf(stderr, "cannot build the test app (tests/executor_app.py)\n");
        return -1;
    }
    if (sf_pycodec_init(&f->codec) < 0) {
        PyErr_Print();
        return -1;
    }
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
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sf_executor_free(f->ex);
    sf_store_free(&f->store);
    sf_pyapp_free(f->app);
    sf_pycodec_fini(&f->codec);
    sf_ir_free(f->ir);
    sf_buf_free(&f->reply);
    free(f);
    return 0;
}

/* Run one request (' stands for ") and return the reply line. */
static const char *rq(fx *f, const char *req)
{
    size_t n = strlen(req);
    assert_true(n < sizeof f->text);
    for (size_t i = 0; i <= n; i++)
        f->text[i] = req[i] == '\'' ? '"' : req[i];
    sf_buf_reset(&f->reply);
    sf_request r;
    char err[512];
    if (sf_request_parse_json(f->text, n, &r, err, sizeof err) < 0)
        sf_reply_error_json(&f->reply, r.id_json, "BadRequest", err);
    else
        sf_exec_request(f->ex, &r, &f->reply);
    sf_request_free(&r);
    return f->reply.data;
}

#define EXPECT(f, req, reply) assert_string_equal(rq(f, req), reply)

static void shop(fx *f)
{
    EXPECT(f, "{'op':'create','entity':'Item','args':['apple',3]}",
           "{\"ok\":{\"$ref\":[\"Item\",\"apple\"]}}");
    EXPECT(f, "{'op':'create','entity':'Item','args':['pen',0]}",
           "{\"ok\":{\"$ref\":[\"Item\",\"pen\"]}}");
    EXPECT(f, "{'op':'create','entity':'User','args':['alice']}",
           "{\"ok\":{\"$ref\":[\"User\",\"alice\"]}}");
}

/* ---- basic operations --------------------------------------------------- */

static void test_create_get_call(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'id':'r1','op':'create','entity':'Item','args':['apple',3]}",
           "{\"id\":\"r1\",\"ok\":{\"$ref\":[\"Item\",\"apple\"]}}");
    EXPECT(f, "{'id':7,'op':'get','entity':'Item','key':'apple'}",
           "{\"id\":7,\"ok\":{\"item_id\":\"apple\",\"price\":3,\"stock\":0}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'update_stock','args':[10]}",
           "{\"ok\":true}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'update_stock','args':[-100]}",
           "{\"ok\":false}");
    EXPECT(f, "{'op':'get','entity':'Item','key':'apple'}",
           "{\"ok\":{\"item_id\":\"apple\",\"price\":3,\"stock\":10}}");
    EXPECT(f, "{'op':'create','entity':'Item','args':['apple',5]}",
           "{\"error\":{\"type\":\"AlreadyExists\",\"message\":\"Item \\\"apple\\\" already exists\"}}");
    /* the failed create changed nothing */
    EXPECT(f, "{'op':'get','entity':'Item','key':'apple'}",
           "{\"ok\":{\"item_id\":\"apple\",\"price\":3,\"stock\":10}}");
    assert_int_equal(sf_store_count(&f->store), 1);
    /* defaults of a non-split __init__ */
    EXPECT(f, "{'op':'create','entity':'Account','args':['a']}",
           "{\"ok\":{\"$ref\":[\"Account\",\"a\"]}}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'a'}", "{\"ok\":{\"name\":\"a\",\"balance\":0}}");
}

static void test_read_only_writes_nothing(void **state)
{
    fx *f = *state;
    shop(f);
    uint64_t v = f->store.version;
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'peek'}", "{\"ok\":0}");
    assert_int_equal(f->store.version, v);
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[5]}",
           "{\"ok\":5}");
    assert_int_equal(f->store.version, v + 1);
}

static void test_return_self_is_ref(void **state)
{
    fx *f = *state;
    shop(f);
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'me'}",
           "{\"ok\":{\"$ref\":[\"User\",\"alice\"]}}");
}

/* ---- system errors ------------------------------------------------------ */

static void test_not_found(void **state)
{
    fx *f = *state;
    shop(f);
    EXPECT(f, "{'id':'x','op':'get','entity':'Nope','key':'a'}",
           "{\"id\":\"x\",\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity 'Nope'\"}}");
    EXPECT(f, "{'op':'create','entity':'Nope','args':[]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity 'Nope'\"}}");
    EXPECT(f, "{'op':'get','entity':'Item','key':'pear'}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Item \\\"pear\\\" not found\"}}");
    EXPECT(f, "{'op':'get','entity':'Item','key':7}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Item 7 not found\"}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'pear','method':'update_stock','args':[1]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Item \\\"pear\\\" not found\"}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'nope','args':[1]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown method 'Item.nope'\"}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'_sf_get_price'}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown method 'Item._sf_get_price'\"}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'__key__'}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown method 'Item.__key__'\"}}");
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'__init__','args':['a',1]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown method 'Item.__init__'\"}}");
    /* references in the arguments must exist */
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[1,{'$ref':['Item','pear']}]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Item \\\"pear\\\" not found\"}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['n']}", "{\"ok\":{\"$ref\":[\"Node\",\"n\"]}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'n','method':'touch_missing','args':[{'$ref':['Nope',1]}]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"unknown entity 'Nope'\"}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'n','method':'touch_missing','args':[[1,{'k':{'$ref':['Node','zz']}}]]}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Node \\\"zz\\\" not found\"}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'n','method':'touch_missing','args':[{'$ref':['Node','n']}]}",
           "{\"ok\":null}");
}

static void test_type_errors(void **state)
{
    fx *f = *state;
    shop(f);
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit'}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() expects 1 argument, got 0\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[1,2]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() expects 1 argument, got 2\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':['x']}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() argument 'amount' must be int, got str\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[true]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() argument 'amount' must be int, got bool\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[1.5]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() argument 'amount' must be int, got float\"}}");
    /* argument checks come before the key lookup */
    EXPECT(f, "{'op':'call','entity':'User','key':'nobody','method':'deposit','args':[null]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.deposit() argument 'amount' must be int, got None\"}}");
    EXPECT(f, "{'op':'create','entity':'Account','args':['a',1,2]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"Account() expects 1 to 2 arguments, got 3\"}}");
    EXPECT(f, "{'op':'create','entity':'User','args':[1]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User() argument 'username' must be str, got int\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[1,{'$ref':['User','alice']}]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.buy_item() argument 'item' must be a reference to Item, got a reference to User\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[1,'apple']}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.buy_item() argument 'item' must be a reference to Item, got str\"}}");
    const char *good_prefix = "{'op':'call','entity':'User','key':'alice','method':'typed','args':"
                              "[1,2,'s',false,{'$bytes':'aGk='},[1],{'a':1},{'$ref':['Item','apple']}";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s]}", good_prefix);
    EXPECT(f, buf, "{\"ok\":[1,2,\"s\",false,{\"$bytes\":\"aGk=\"},[1],{\"a\":1},{\"$ref\":[\"Item\",\"apple\"]},null]}");
    snprintf(buf, sizeof buf, "%s,7]}", good_prefix);
    EXPECT(f, buf, "{\"ok\":[1,2,\"s\",false,{\"$bytes\":\"aGk=\"},[1],{\"a\":1},{\"$ref\":[\"Item\",\"apple\"]},7]}");
    snprintf(buf, sizeof buf, "%s,'7']}", good_prefix);
    EXPECT(f, buf, "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.typed() argument 'o' must be int or None, got str\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'typed','args':[1,2,'s',1]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.typed() expects 8 to 9 arguments, got 4\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'typed','args':[1,true,'s',false,null,[],{},null]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User.typed() argument 'f' must be float, got bool\"}}");
}

static void test_bad_request(void **state)
{
    fx *f = *state;
    const char *r = rq(f, "{'op':'call',");
    assert_non_null(strstr(r, "\"type\":\"BadRequest\""));
    r = rq(f, "[1,2]");
    assert_non_null(strstr(r, "\"type\":\"BadRequest\""));
    sf_exec_op op = {.op = SF_OP_CALL, .entity = "User", .entity_len = 4, .key = "\xa1x",
                     .key_len = 2, .method = "deposit", .method_len = 7, .args = "\x01",
                     .args_len = 1};
    sf_buf res;
    sf_buf_init(&res);
    const char *et, *em;
    assert_int_equal(sf_exec_op_run(f->ex, &op, &res, &et, &em), -1);
    assert_string_equal(et, "BadRequest");
    assert_int_equal(res.len, 0);
    sf_buf_free(&res);
}

/* ---- split methods ------------------------------------------------------ */

static void test_buy_item(void **state)
{
    fx *f = *state;
    shop(f);
    EXPECT(f, "{'op':'call','entity':'Item','key':'apple','method':'update_stock','args':[10]}",
           "{\"ok\":true}");
    /* not enough money: nothing changes */
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[2,{'$ref':['Item','apple']}]}",
           "{\"ok\":false}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[10]}",
           "{\"ok\":10}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[2,{'$ref':['Item','apple']}]}",
           "{\"ok\":true}");
    EXPECT(f, "{'op':'get','entity':'User','key':'alice'}",
           "{\"ok\":{\"username\":\"alice\",\"balance\":4}}");
    EXPECT(f, "{'op':'get','entity':'Item','key':'apple'}",
           "{\"ok\":{\"item_id\":\"apple\",\"price\":3,\"stock\":8}}");
    /* out of stock: the remote call answers False */
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[1,{'$ref':['Item','pen']}]}",
           "{\"ok\":false}");
    EXPECT(f, "{'op':'get','entity':'User','key':'alice'}",
           "{\"ok\":{\"username\":\"alice\",\"balance\":4}}");
}

static void test_transfer_and_rollback(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Account','args':['a',100]}",
           "{\"ok\":{\"$ref\":[\"Account\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Account','args':['b']}",
           "{\"ok\":{\"$ref\":[\"Account\",\"b\"]}}");
    /* the default of 'note' comes from the stub left in the class */
    EXPECT(f, "{'op':'call','entity':'Account','key':'a','method':'transfer','args':[30,{'$ref':['Account','b']}]}",
           "{\"ok\":\"n/a\"}");
    EXPECT(f, "{'op':'call','entity':'Account','key':'a','method':'transfer','args':[5,{'$ref':['Account','b']},'rent']}",
           "{\"ok\":\"rent\"}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'a'}", "{\"ok\":{\"name\":\"a\",\"balance\":65}}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'b'}", "{\"ok\":{\"name\":\"b\",\"balance\":35}}");
    EXPECT(f, "{'op':'call','entity':'Account','key':'a','method':'transfer','args':[1000,{'$ref':['Account','b']}]}",
           "{\"error\":{\"type\":\"ValueError\",\"message\":\"insufficient funds in a\"}}");
    /* the remote add ran, then the caller failed: everything rolls back */
    uint64_t v = f->store.version;
    EXPECT(f, "{'op':'call','entity':'Account','key':'a','method':'transfer_then_fail','args':[10,{'$ref':['Account','b']}]}",
           "{\"error\":{\"type\":\"RuntimeError\",\"message\":\"boom after remote\"}}");
    assert_int_equal(f->store.version, v);
    EXPECT(f, "{'op':'get','entity':'Account','key':'a'}", "{\"ok\":{\"name\":\"a\",\"balance\":65}}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'b'}", "{\"ok\":{\"name\":\"b\",\"balance\":35}}");
    /* the callee fails: the caller's earlier write rolls back too */
    EXPECT(f, "{'op':'call','entity':'Account','key':'b','method':'transfer','args':[35,{'$ref':['Account','a']}]}",
           "{\"ok\":\"n/a\"}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'b'}", "{\"ok\":{\"name\":\"b\",\"balance\":0}}");
    /* self-transfer: both sides are the same object in the transaction */
    EXPECT(f, "{'op':'call','entity':'Account','key':'a','method':'transfer','args':[100,{'$ref':['Account','a']}]}",
           "{\"ok\":\"n/a\"}");
    EXPECT(f, "{'op':'get','entity':'Account','key':'a'}", "{\"ok\":{\"name\":\"a\",\"balance\":100}}");
}

static void test_reentrant(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    /* a.ping(b): a.x = 10, then b.pong(a) calls a.bump(5) on the SAME a,
     * then ping resumes and sees x == 15 and the log. */
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'ping','args':[{'$ref':['Node','b']}]}",
           "{\"ok\":[15,15,[5]]}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'a'}", "{\"ok\":{\"name\":\"a\",\"x\":15,\"log\":[5]}}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}", "{\"ok\":{\"name\":\"b\",\"x\":1,\"log\":[]}}");
}

static void test_loops_and_local_calls(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},5]}",
           "{\"ok\":15}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},0]}",
           "{\"ok\":0}");
    /* twice: a local call (target self) of a split method */
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'twice','args':[{'$ref':['Node','b']}]}",
           "{\"ok\":26}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}",
           "{\"ok\":{\"name\":\"b\",\"x\":7,\"log\":[1,1,1,1,1,1,1]}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'chain','args':[4,{'$ref':['Node','b']}]}",
           "{\"ok\":4}");
    /* a default taken from the original source (no stub in the class): 3 */
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'count_up','args':[{'$ref':['Node','b']}]}",
           "{\"ok\":27}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'count_up','args':[{'$ref':['Node','b']},1]}",
           "{\"ok\":11}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'via_self','args':[{'$ref':['Node','b']}]}",
           "{\"ok\":12}");
}

static void test_values_between_entities_are_copies(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'share','args':[{'$ref':['Node','b']}]}",
           "{\"ok\":[1]}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'a'}",
           "{\"ok\":{\"name\":\"a\",\"x\":0,\"log\":[],\"mine\":[1,2]}}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}",
           "{\"ok\":{\"name\":\"b\",\"x\":0,\"log\":[],\"kept\":[1]}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'send_object','args':[{'$ref':['Node','b']}]}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"argument 1: cannot store a value of type 'object'\"}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'shout'}", "{\"ok\":\"shouted\"}");
}

/* ---- user errors and rollback ------------------------------------------- */

static void test_user_exception(void **state)
{
    fx *f = *state;
    shop(f);
    EXPECT(f, "{'id':'e','op':'call','entity':'User','key':'alice','method':'fail','args':['no luck']}",
           "{\"id\":\"e\",\"error\":{\"type\":\"ValueError\",\"message\":\"no luck\"}}");
    EXPECT(f, "{'op':'get','entity':'User','key':'alice'}",
           "{\"ok\":{\"username\":\"alice\",\"balance\":0}}");
}

static void test_unencodable(void **state)
{
    fx *f = *state;
    shop(f);
    uint64_t v = f->store.version;
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'leak'}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"User \\\"alice\\\": attribute 'conn': cannot store a value of type 'object'\"}}");
    EXPECT(f, "{'op':'call','entity':'User','key':'alice','method':'bad_return'}",
           "{\"error\":{\"type\":\"TypeError\",\"message\":\"return value: cannot store a value of type 'object'\"}}");
    assert_int_equal(f->store.version, v);
    EXPECT(f, "{'op':'get','entity':'User','key':'alice'}",
           "{\"ok\":{\"username\":\"alice\",\"balance\":0}}");
}

/* ---- limits and internal errors ----------------------------------------- */

static void test_limits(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    sf_executor_limits lim = {.max_depth = 3, .max_steps = 1000};
    sf_executor_set_limits(f->ex, &lim);
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'spin'}",
           "{\"error\":{\"type\":\"RuntimeError\",\"message\":\"request exceeded step limit (1000 block executions)\"}}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'chain','args':[3,{'$ref':['Node','b']}]}",
           "{\"ok\":3}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'chain','args':[4,{'$ref':['Node','b']}]}",
           "{\"error\":{\"type\":\"RecursionError\",\"message\":\"call depth limit (3) exceeded\"}}");
    /* a loop of 400 remote calls needs more than 1000 steps */
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},400]}",
           "{\"error\":{\"type\":\"RuntimeError\",\"message\":\"request exceeded step limit (1000 block executions)\"}}");
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}", "{\"ok\":{\"name\":\"b\",\"x\":0,\"log\":[]}}");
    lim.max_steps = 0; /* default */
    sf_executor_set_limits(f->ex, &lim);
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},400]}",
           "{\"ok\":80200}");
    EXPECT(f, "{'op':'call','entity':'Node','key':'a','method':'malformed'}",
           "{\"error\":{\"type\":\"InternalError\",\"message\":\"Node.malformed block 0 returned a malformed block result (unknown tag or wrong length)\"}}");
}

/* ---- events on the wire ------------------------------------------------- */

/* With SF_EVENT_SEED_DIR set, encoded events are written there (the seed
 * corpus of fuzz_event, tests/fuzz/corpus_event). */
static void dump_seed(const char *name, const sf_buf *b)
{
    const char *dir = getenv("SF_EVENT_SEED_DIR");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(b->data, 1, b->len, fp);
        fclose(fp);
    }
}

static void test_event_roundtrip(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    const sf_pyentity *node = &f->app->entities[3];
    assert_string_equal(node->ir->name, "Node");
    int m_sum = sf_pyapp_method_index(node, "sum_to", 6);
    int m_twice = sf_pyapp_method_index(node, "twice", 5);
    assert_true(m_sum >= 0 && m_twice >= 0);

    sf_tx tx;
    sf_tx_init(&tx);
    sf_tx_reset(&tx, 42);
    int ia = sf_tx_instance(&tx, 3, "\xa1" "a", 2);
    int ib = sf_tx_instance(&tx, 3, "\xa1" "b", 2);
    assert_int_equal(ia, 0);
    assert_int_equal(ib, 1);
    assert_int_equal(sf_tx_instance(&tx, 3, "\xa1" "a", 2), 0);

    /* a.twice(b) suspended inside sum_to at block 2, result of bump bound */
    sf_event ev;
    sf_event_init(&ev);
    ev.txid = 42;
    sf_buf_append(&ev.reqid, "\xa2r1", 3);
    ev.kind = SF_EVENT_RESUME;
    ev.inst = ia;
    ev.method = m_sum;
    ev.block = 2;
    PyObject *key_b = PyUnicode_FromString("b");
    PyObject *ref_b = sf_pycodec_ref_new(&f->codec, "Node", key_b);
    Py_DECREF(key_b);
    ev.frame = Py_BuildValue("{s:O,s:i,s:i,s:i,s:i}", "other", ref_b, "i", 0, "times", 2, "acc", 0,
                             "r", 1);
    PyObject *cframe = PyDict_New();
    PyObject *bind = PyUnicode_FromString("a");
    ev.stack = malloc(sizeof(sf_cont) * 4);
    ev.cap = 4;
    ev.stack[0] = (sf_cont){.inst = ia, .method = m_twice, .block = 1, .bind = bind, .frame = cframe};
    ev.depth = 1;
    Py_DECREF(ref_b);

    char err[256];
    sf_buf w1, w2;
    sf_buf_init(&w1);
    sf_buf_init(&w2);
    assert_int_equal(sf_event_encode(f->ex, &tx, &ev, &w1, err, sizeof err), 0);
    dump_seed("resume", &w1);

    /* decode into a fresh transaction, encode again: same bytes */
    sf_tx tx2;
    sf_tx_init(&tx2);
    sf_tx_reset(&tx2, 42);
    sf_event ev2;
    sf_event_init(&ev2);
    if (sf_event_decode(f->ex, &tx2, w1.data, w1.len, &ev2, err, sizeof err) < 0)
        fail_msg("decode: %s", err);
    assert_int_equal(ev2.txid, 42);
    assert_int_equal(ev2.kind, SF_EVENT_RESUME);
    assert_int_equal(ev2.block, 2);
    assert_int_equal(ev2.depth, 1);
    assert_int_equal(ev2.reqid.len, 3);
    assert_int_equal(sf_event_encode(f->ex, &tx2, &ev2, &w2, err, sizeof err), 0);
    assert_int_equal(w1.len, w2.len);
    assert_memory_equal(w1.data, w2.data, w1.len);

    /* every truncation is rejected; corruptions never crash (bytes inside
     * the opaque request id and keys may still decode) */
    sf_event ev3;
    sf_event_init(&ev3);
    for (size_t n = 0; n < w1.len; n++) {
        sf_tx_reset(&tx2, 1);
        assert_int_equal(sf_event_decode(f->ex, &tx2, w1.data, n, &ev3, err, sizeof err), -1);
    }
    for (size_t i = 0; i < w1.len; i++) {
        char saved = w1.data[i];
        w1.data[i] = (char)0xc1;
        sf_tx_reset(&tx2, 1);
        (void)sf_event_decode(f->ex, &tx2, w1.data, w1.len, &ev3, err, sizeof err);
        w1.data[i] = saved;
    }
    sf_event_free(&ev3);

    /* run the decoded event: sum_to adds r = 1, calls b.bump(1) once more
     * (-> 1) and returns 2; twice resumes with a = 2 and answers 4 */
    sf_tx_reset(&tx2, 43);
    assert_int_equal(sf_event_decode(f->ex, &tx2, w1.data, w1.len, &ev2, err, sizeof err), 0);
    PyObject *res = NULL;
    if (sf_exec_event(f->ex, &tx2, &ev2, &res) < 0)
        fail_msg("run: %s: %s", tx2.err_type.data, tx2.err_msg.data);
    assert_int_equal(PyLong_AsLong(res), 4);
    Py_DECREF(res);
    assert_int_equal(sf_tx_commit(f->ex, &tx2), 0);
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}", "{\"ok\":{\"name\":\"b\",\"x\":1,\"log\":[1]}}");

    /* an INVOKE event round trip */
    sf_event_clear(&ev);
    ev.kind = SF_EVENT_INVOKE;
    ev.inst = ib;
    ev.method = sf_pyapp_method_index(node, "bump", 4);
    ev.args = Py_BuildValue("(i)", 3);
    sf_buf_reset(&w1);
    sf_buf_reset(&w2);
    assert_int_equal(sf_event_encode(f->ex, &tx, &ev, &w1, err, sizeof err), 0);
    dump_seed("invoke", &w1);
    sf_tx_reset(&tx2, 44);
    assert_int_equal(sf_event_decode(f->ex, &tx2, w1.data, w1.len, &ev2, err, sizeof err), 0);
    assert_int_equal(ev2.kind, SF_EVENT_INVOKE);
    assert_int_equal(sf_exec_event(f->ex, &tx2, &ev2, &res), 0);
    assert_int_equal(PyLong_AsLong(res), 4);
    Py_DECREF(res);
    sf_tx_reset(&tx2, 45); /* abort: nothing written */
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}", "{\"ok\":{\"name\":\"b\",\"x\":1,\"log\":[1]}}");

    sf_buf_free(&w1);
    sf_buf_free(&w2);
    sf_event_free(&ev);
    sf_event_free(&ev2);
    sf_tx_free(&tx);
    sf_tx_free(&tx2);
}

/* Two "workers" in one process: worker A executes Node "a", worker B Node
 * "b". a.sum_to(b, 2) hops A -> B -> A -> B -> A as encoded events, each
 * side keeping its own transaction context; the result and the committed
 * writes are those of the local run. */
typedef struct owner {
    const char *key; /* msgpack key bytes this worker owns */
    size_t keylen;
} owner;

static int owns(void *arg, int entity, const char *key, size_t keylen)
{
    (void)entity;
    const owner *o = arg;
    return keylen == o->keylen && memcmp(key, o->key, keylen) == 0;
}

static const owner owner_a = {"\xa1" "a", 2}, owner_b = {"\xa1" "b", 2};

/* Run ev starting on worker A (txa) until it returns or fails, shipping it
 * as an encoded event whenever it leaves a worker. Returns NULL (*res set),
 * or the transaction context the error is in. *hops counts the events
 * shipped, *on_a where it ended. */
static sf_tx *run_on_two_workers(fx *f, sf_tx *txa, sf_tx *txb, sf_event *ev, PyObject **res,
                                 int *hops, int *on_a)
{
    char err[256];
    sf_buf wire;
    sf_buf_init(&wire);
    sf_tx *failed = NULL;
    *hops = 0;
    *on_a = 1;
    for (;;) {
        sf_tx *tx = *on_a ? txa : txb;
        sf_executor_set_locality(f->ex, owns, (void *)(*on_a ? &owner_a : &owner_b));
        int st = sf_exec_event(f->ex, tx, ev, res);
        if (st < 0)
            failed = tx;
        if (st <= 0)
            break;
        /* ship the event to the other worker */
        sf_buf_reset(&wire);
        if (sf_event_encode(f->ex, tx, ev, &wire, err, sizeof err) < 0)
            fail_msg("encode: %s", err);
        *on_a = !*on_a;
        if (sf_event_decode(f->ex, *on_a ? txa : txb, wire.data, wire.len, ev, err, sizeof err) < 0)
            fail_msg("decode: %s", err);
        (*hops)++;
    }
    sf_executor_set_locality(f->ex, NULL, NULL);
    sf_buf_free(&wire);
    return failed;
}

/* The INVOKE of Node a.sum_to(Node b, times) in txa. */
static void sum_to_event(fx *f, sf_tx *txa, sf_event *ev, int times)
{
    const sf_pyentity *node = &f->app->entities[3];
    sf_event_clear(ev);
    ev->txid = txa->txid;
    ev->kind = SF_EVENT_INVOKE;
    ev->inst = sf_tx_instance(txa, 3, owner_a.key, owner_a.keylen);
    ev->method = sf_pyapp_method_index(node, "sum_to", 6);
    PyObject *key_b = PyUnicode_FromString("b");
    PyObject *ref_b = sf_pycodec_ref_new(&f->codec, "Node", key_b);
    ev->args = Py_BuildValue("[Oi]", ref_b, times);
    Py_DECREF(ref_b);
    Py_DECREF(key_b);
}

static void test_events_between_workers(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    sf_tx txa, txb;
    sf_tx_init(&txa);
    sf_tx_init(&txb);
    sf_tx_reset(&txa, 9);
    sf_tx_reset(&txb, 9);
    sf_event ev;
    sf_event_init(&ev);
    sum_to_event(f, &txa, &ev, 2);

    PyObject *res = NULL;
    int hops = 0, on_a = 1;
    sf_tx *failed = run_on_two_workers(f, &txa, &txb, &ev, &res, &hops, &on_a);
    if (failed)
        fail_msg("%s: %s", failed->err_type.data, failed->err_msg.data);
    assert_true(on_a);
    assert_int_equal(hops, 4);
    assert_int_equal(PyLong_AsLong(res), 3);
    Py_DECREF(res);
    /* each worker commits what it wrote: b on B; a was only read */
    assert_int_equal(sf_tx_commit(f->ex, &txa), 0);
    assert_int_equal(sf_tx_commit(f->ex, &txb), 0);
    EXPECT(f, "{'op':'get','entity':'Node','key':'b'}", "{\"ok\":{\"name\":\"b\",\"x\":2,\"log\":[1,1]}}");
    sf_event_free(&ev);
    sf_tx_free(&txa);
    sf_tx_free(&txb);
}

/* ---- user code is always guarded, limits per transaction --------------- */

#define TIME_LIMIT_EXCEEDED                                                                        \
    "{\"error\":{\"type\":\"TimeLimitExceeded\",\"message\":\"the request ran longer than its time " \
    "limit (200 ms)\"}}"

/* __init__ and __key__ that never return are interrupted like a looping
 * method; nothing is created and the next requests are served. */
static void test_user_code_guarded(void **state)
{
    fx *f = *state;
    char err[256];
    sf_watchdog *w = sf_watchdog_start(200, err, sizeof err);
    if (!w)
        fail_msg("watchdog: %s", err);
    sf_executor_set_watchdog(f->ex, w);
    EXPECT(f, "{'op':'create','entity':'Slow','args':['a',true]}", TIME_LIMIT_EXCEEDED);
    EXPECT(f, "{'op':'create','entity':'Slow','args':['spin-key']}", TIME_LIMIT_EXCEEDED);
    EXPECT(f, "{'op':'get','entity':'Slow','key':'a'}",
           "{\"error\":{\"type\":\"NotFound\",\"message\":\"Slow \\\"a\\\" not found\"}}");
    EXPECT(f, "{'op':'create','entity':'Slow','args':['b']}", "{\"ok\":{\"$ref\":[\"Slow\",\"b\"]}}");
    EXPECT(f, "{'op':'call','entity':'Slow','key':'b','method':'ok'}", "{\"ok\":1}");
    EXPECT(f, "{'op':'get','entity':'Slow','key':'b'}", "{\"ok\":{\"name\":\"b\",\"n\":1}}");
    sf_executor_set_watchdog(f->ex, NULL);
    sf_watchdog_stop(w);
}

/* The step limit counts per transaction: a.sum_to(b, 10) takes 32 steps (3
 * per remote call and 2 more); on two workers A runs 22 of them and B 10. */
static void test_steps_per_transaction(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    EXPECT(f, "{'op':'create','entity':'Node','args':['b']}", "{\"ok\":{\"$ref\":[\"Node\",\"b\"]}}");
    sf_executor_limits lim = {.max_depth = 0, .max_steps = 32};
    sf_executor_set_limits(f->ex, &lim);
    /* two transactions, each at the limit: the count starts anew for each */
    const char *call = "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},10]}";
    EXPECT(f, call, "{\"ok\":55}");  /* bump returns b.x: 1 + ... + 10 */
    EXPECT(f, call, "{\"ok\":155}"); /* 11 + ... + 20 */
    lim.max_steps = 31;
    sf_executor_set_limits(f->ex, &lim);
    EXPECT(f, call, "{\"error\":{\"type\":\"RuntimeError\",\"message\":\"request exceeded step limit (31 block executions)\"}}");

    /* across workers the count travels with the events: each worker's own
     * share (22, 10) is under the limit of 25, the transaction's is not */
    lim.max_steps = 25;
    sf_executor_set_limits(f->ex, &lim);
    sf_tx txa, txb;
    sf_tx_init(&txa);
    sf_tx_init(&txb);
    sf_tx_reset(&txa, 11);
    sf_tx_reset(&txb, 11);
    sf_event ev;
    sf_event_init(&ev);
    sum_to_event(f, &txa, &ev, 10);
    PyObject *res = NULL;
    int hops, on_a;
    sf_tx *failed = run_on_two_workers(f, &txa, &txb, &ev, &res, &hops, &on_a);
    assert_non_null(failed);
    assert_string_equal(failed->err_type.data, "RuntimeError");
    assert_string_equal(failed->err_msg.data, "request exceeded step limit (25 block executions)");
    assert_int_equal(failed->steps, 26);

    /* at 32 the same transaction on two workers succeeds, having counted 32 */
    lim.max_steps = 32;
    sf_executor_set_limits(f->ex, &lim);
    sf_tx_reset(&txa, 12);
    sf_tx_reset(&txb, 12);
    sum_to_event(f, &txa, &ev, 10);
    failed = run_on_two_workers(f, &txa, &txb, &ev, &res, &hops, &on_a);
    if (failed)
        fail_msg("%s: %s", failed->err_type.data, failed->err_msg.data);
    assert_true(on_a);
    assert_int_equal(hops, 20);
    assert_int_equal(txa.steps, 32);
    assert_int_equal(PyLong_AsLong(res), 255); /* 21 + ... + 30 */
    Py_DECREF(res);
    sf_event_free(&ev);
    sf_tx_free(&txa);
    sf_tx_free(&txb);
}

/* The time a transaction spent in user code travels with its events: an
 * event whose transaction has used up the limit fails where it arrives,
 * before any user code runs. */
static void test_time_budget_travels(void **state)
{
    fx *f = *state;
    EXPECT(f, "{'op':'create','entity':'Node','args':['a']}", "{\"ok\":{\"$ref\":[\"Node\",\"a\"]}}");
    char err[256];
    sf_watchdog *w = sf_watchdog_start(200, err, sizeof err);
    if (!w)
        fail_msg("watchdog: %s", err);
    sf_executor_set_watchdog(f->ex, w);
    const sf_pyentity *node = &f->app->entities[3];
    sf_tx txa, txb;
    sf_tx_init(&txa);
    sf_tx_init(&txb);
    sf_event ev;
    sf_event_init(&ev);
    sf_buf wire;
    sf_buf_init(&wire);
    for (int spent = 0; spent < 2; spent++) {
        sf_tx_reset(&txa, 20);
        sf_tx_reset(&txb, 20);
        txa.steps = 5;
        txa.time_ns = spent ? 200000000u : 150000000u;
        sf_event_clear(&ev);
        ev.txid = 20;
        ev.kind = SF_EVENT_INVOKE;
        ev.inst = sf_tx_instance(&txa, 3, owner_a.key, owner_a.keylen);
        ev.method = sf_pyapp_method_index(node, "bump", 4);
        ev.args = Py_BuildValue("[i]", 1);
        sf_buf_reset(&wire);
        assert_int_equal(sf_event_encode(f->ex, &txa, &ev, &wire, err, sizeof err), 0);
        assert_int_equal(sf_event_decode(f->ex, &txb, wire.data, wire.len, &ev, err, sizeof err), 0);
        assert_int_equal(txb.steps, 5);
        assert_true(txb.time_ns == txa.time_ns);
        PyObject *res = NULL;
        int st = sf_exec_event(f->ex, &txb, &ev, &res);
        if (!spent) {
            assert_int_equal(st, 0);
            assert_int_equal(PyLong_AsLong(res), 1);
            Py_DECREF(res);
            assert_int_equal(txb.steps, 6);
            assert_true(txb.time_ns > txa.time_ns);
        } else {
            assert_int_equal(st, -1);
            assert_string_equal(txb.err_type.data, "TimeLimitExceeded");
            assert_string_equal(txb.err_msg.data, "the request ran longer than its time limit (200 ms)");
            assert_int_equal(txb.steps, 5); /* nothing ran */
        }
    }
    sf_executor_set_watchdog(f->ex, NULL);
    sf_watchdog_stop(w);
    sf_buf_free(&wire);
    sf_event_free(&ev);
    sf_tx_free(&txa);
    sf_tx_free(&txb);
}

static void test_many_instances_in_one_tx(void **state)
{
    fx *f = *state;
    sf_tx tx;
    sf_tx_init(&tx);
    sf_tx_reset(&tx, 1);
    char key[16];
    for (int i = 0; i < 500; i++) {
        int n = snprintf(key + 1, sizeof key - 1, "k%d", i);
        key[0] = (char)(0xa0 | n);
        assert_int_equal(sf_tx_instance(&tx, 0, key, (size_t)n + 1), i);
    }
    for (int i = 499; i >= 0; i--) {
        int n = snprintf(key + 1, sizeof key - 1, "k%d", i);
        key[0] = (char)(0xa0 | n);
        assert_int_equal(sf_tx_instance(&tx, 0, key, (size_t)n + 1), i);
        assert_int_equal(sf_tx_instance(&tx, 1, key, (size_t)n + 1), 500 + (499 - i));
    }
    sf_tx_free(&tx);
    (void)f;
}

/* Reference leaks: after a warm-up, thousands of requests of every kind
 * (successes, user errors, system errors, rollbacks, split calls) must not
 * grow the number of objects the garbage collector tracks. */
static Py_ssize_t gc_tracked(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    assert_non_null(gc);
    PyObject *r = PyObject_CallMethod(gc, "collect", NULL);
    Py_XDECREF(r);
    PyObject *objs = PyObject_CallMethod(gc, "get_objects", NULL);
    assert_non_null(objs);
    Py_ssize_t n = PyList_GET_SIZE(objs);
    Py_DECREF(objs);
    Py_DECREF(gc);
    return n;
}

static void mixed_round(fx *f)
{
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':[3]}");
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'buy_item','args':[1,{'$ref':['Item','apple']}]}");
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'fail','args':['x']}");
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'leak'}");
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'bad_return'}");
    rq(f, "{'op':'call','entity':'User','key':'alice','method':'deposit','args':['bad']}");
    rq(f, "{'op':'call','entity':'User','key':'nobody','method':'deposit','args':[1]}");
    rq(f, "{'op':'get','entity':'User','key':'alice'}");
    rq(f, "{'op':'create','entity':'User','args':['alice']}");
    rq(f, "{'op':'call','entity':'Account','key':'a','method':'transfer','args':[1,{'$ref':['Account','b']}]}");
    rq(f, "{'op':'call','entity':'Account','key':'b','method':'transfer_then_fail','args':[1,{'$ref':['Account','a']}]}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'ping','args':[{'$ref':['Node','b']}]}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'sum_to','args':[{'$ref':['Node','b']},3]}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'malformed'}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'chain','args':[300,{'$ref':['Node','b']}]}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'share','args':[{'$ref':['Node','b']}]}");
    rq(f, "{'op':'call','entity':'Node','key':'a','method':'send_object','args':[{'$ref':['Node','b']}]}");
}

static void test_no_reference_leaks(void **state)
{
    fx *f = *state;
    shop(f);
    rq(f, "{'op':'call','entity':'Item','key':'apple','method':'update_stock','args':[1000000]}");
    rq(f, "{'op':'create','entity':'Account','args':['a',1000000]}");
    rq(f, "{'op':'create','entity':'Account','args':['b',1000000]}");
    rq(f, "{'op':'create','entity':'Node','args':['a']}");
    rq(f, "{'op':'create','entity':'Node','args':['b']}");
    for (int i = 0; i < 50; i++)
        mixed_round(f);
    Py_ssize_t before = gc_tracked();
    for (int i = 0; i < 300; i++)
        mixed_round(f);
    Py_ssize_t after = gc_tracked();
    if (after > before + 20)
        fail_msg("gc-tracked objects grew from %zd to %zd", before, after);
}

int main(void)
{
    char err[512];
    if (sf_pyrt_start(SF_PYRT_STDOUT_TO_STDERR, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_self_is_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buy_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reentrant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loops_and_local_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_between_entities_are_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_exception, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unencodable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_between_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_code_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps_per_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_budget_travels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_instances_in_one_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_reference_leaks, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sf_pyrt_stop();
    return rc;
}
