/* test_native.c: backpressure of the native client server
 * (runtime/wire/native.c) on one libuv loop: a stub coordinator answers
 * requests from a timer, a client on its own sf_net pipelines far more
 * requests than the in-flight cap. Every request gets exactly one reply,
 * the server never has more than the cap unanswered for the client, and the
 * client is not disconnected, also when it stops reading its replies for a
 * while. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <uv.h>

#include "frame.h"
#include "mpread.h"
#include "native.h"
#include "net.h"

#define TOKEN "tok"
#define NREQ 3000
#define CAP 8

typedef struct pend {
    uint64_t client, corr;
} pend;

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t answer, guard;
    int expired;
    sf_native *srv;
    sf_net *cnet;
    sf_conn *cli;
    int opened, closed;
    char reason[128];
    pend q[NREQ];
    size_t nq;
    size_t submitted, answered_n, max_unanswered;
    unsigned char got[NREQ];
    size_t replies, dup;
} fx;

static int stub_submit(void *ud, const char *req, size_t len, int op, uint64_t client, uint64_t corr)
{
    fx *f = ud;
    (void)req;
    (void)len;
    (void)op;
    assert_true(f->nq < NREQ);
    f->q[f->nq++] = (pend){client, corr};
    f->submitted++;
    size_t un = f->submitted - f->answered_n;
    if (un > f->max_unanswered)
        f->max_unanswered = un;
    return 0;
}

/* Answer up to 8 queued requests a tick, each with a 32 KiB value: 3000
 * of them are more than the 64 MiB a connection may queue, so a client
 * that does not read would be dropped without backpressure. */
static void answer_cb(uv_timer_t *t)
{
    fx *f = t->data;
    size_t k = f->nq < 8 ? f->nq : 8;
    enum { VLEN = 32768 };
    static char v[VLEN + 5];
    v[0] = (char)0xc6; /* bin32 */
    v[1] = 0;
    v[2] = 0;
    v[3] = (char)(VLEN >> 8);
    v[4] = 0;
    for (size_t i = 0; i < k; i++) {
        sf_native_reply_ok(f->srv, f->q[i].client, f->q[i].corr, NULL, 0, v, sizeof v);
        f->answered_n++;
    }
    memmove(f->q, f->q + k, (f->nq - k) * sizeof f->q[0]);
    f->nq -= k;
}

static void cli_open(sf_conn *c, void *ud)
{
    (void)c;
    ((fx *)ud)->opened = 1;
}

static void cli_frame(sf_conn *c, int type, const char *p, size_t len, void *ud)
{
    fx *f = ud;
    (void)c;
    assert_int_equal(type, SF_FRAME_CLIENT_REPLY);
    size_t pos = 0;
    sf_mp_item it;
    assert_int_equal(sf_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(sf_mp_read(p, len, &pos, &it), 0);
    assert_int_equal(sf_mp_read(p, len, &pos, &it), 0);
    assert_true(it.kind == SF_MP_INT && it.v.i >= 0 && it.v.i < NREQ);
    if (f->got[it.v.i]++)
        f->dup++;
    f->replies++;
}

static void cli_close(sf_conn *c, const char *reason, void *ud)
{
    fx *f = ud;
    (void)c;
    f->closed = 1;
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    f->cli = NULL;
}

static const sf_conn_callbacks cli_cbs = {cli_open, cli_frame, cli_close};

static void guard_cb(uv_timer_t *t) { ((fx *)t->data)->expired = 1; }

#define RUN_UNTIL(f, cond, ms)                                                                                         \
    do {                                                                                                               \
        (f)->expired = 0;                                                                                              \
        uv_timer_start(&(f)->guard, guard_cb, (ms), 0);                                                                \
        while (!(cond) && !(f)->expired)                                                                               \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                                           \
        uv_timer_stop(&(f)->guard);                                                                                    \
    } while (0)

static void send_request(fx *f, int corr)
{
    sf_buf b;
    sf_buf_init(&b);
    msgpack_packer pk;
    sf_frame_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, SF_FRAME_CLIENT_REQUEST);
    msgpack_pack_uint64(&pk, (uint64_t)corr);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, "get", 3);
    msgpack_pack_str_with_body(&pk, "entity", 6);
    msgpack_pack_str_with_body(&pk, "E", 1);
    msgpack_pack_str_with_body(&pk, "key", 3);
    msgpack_pack_int(&pk, corr);
    /* padding, so that the replies and requests are not tiny */
    msgpack_pack_str_with_body(&pk, "id", 2);
    char pad[200];
    memset(pad, 'p', sizeof pad);
    msgpack_pack_str_with_body(&pk, pad, sizeof pad);
    assert_int_equal(sf_conn_send(f->cli, b.data, b.len), 0);
    sf_buf_free(&b);
}

static void run_case(int client_stops_reading)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->answer);
    uv_timer_init(&f->loop, &f->guard);
    f->answer.data = f->guard.data = f;
    char err[256];
    sf_native_ops ops = {.submit = stub_submit};
    sf_native_limits lim = {.max_inflight = CAP, .max_unsent = 4096};
    if (sf_native_start_ex(&f->loop, "127.0.0.1", 0, TOKEN, strlen(TOKEN), &ops, f, &lim, &f->srv, err,
                           sizeof err) != 0)
        fail_msg("%s", err);
    sf_net_config cc = {.loop = &f->loop, .token = TOKEN, .token_len = strlen(TOKEN)};
    assert_int_equal(sf_net_new(&cc, &f->cnet, err, sizeof err), 0);
    assert_int_equal(sf_net_connect(f->cnet, "127.0.0.1", sf_native_port(f->srv), "client", "", &cli_cbs, f,
                                    &f->cli, err, sizeof err),
                     0);
    RUN_UNTIL(f, f->opened || f->closed, 5000);
    assert_true(f->opened);
    if (client_stops_reading)
        sf_conn_pause(f->cli, 1);
    for (int i = 0; i < NREQ; i++)
        send_request(f, i);
    uv_timer_start(&f->answer, answer_cb, 1, 1);
    if (client_stops_reading) {
        /* the server answers what it took in, its reply queue fills, and
         * it stops reading: the client is not dropped for it */
        RUN_UNTIL(f, f->closed, 1500);
        assert_int_equal(f->closed, 0);
        assert_true(f->submitted < NREQ);
        assert_int_equal(sf_native_clients(f->srv), 1);
        sf_conn_pause(f->cli, 0);
    }
    RUN_UNTIL(f, f->replies == NREQ || f->closed, 60000);
    assert_int_equal(f->closed, 0);
    assert_int_equal(f->replies, NREQ);
    assert_int_equal(f->dup, 0);
    for (int i = 0; i < NREQ; i++)
        assert_int_equal(f->got[i], 1);
    assert_true(f->max_unanswered <= CAP);
    assert_int_equal(sf_native_clients(f->srv), 1);
    uv_timer_stop(&f->answer);
    sf_net_close_all(f->cnet);
    sf_native_close(f->srv);
    uv_close((uv_handle_t *)&f->answer, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(sf_native_free(f->srv), 0);
    assert_int_equal(sf_net_free(f->cnet), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

static void test_pipelining_past_the_cap(void **state)
{
    (void)state;
    run_case(0);
}

static void test_client_not_reading(void **state)
{
    (void)state;
    run_case(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelining_past_the_cap),
        cmocka_unit_test(test_client_not_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
