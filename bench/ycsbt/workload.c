/* workload.c: the YCSB / YCSB+T operation mix of ycsbt (A 50% read / 50%
 * update, B 95/5, T 100% transfers, M 45/45/10), key names and field
 * values, and the entity program each workload drives on stateflowd
 * (bench/apps/ycsb.py Record, bench/apps/accounts.py Account). */
#include <stdio.h>

#include "ycsbt.h"

void yc_key(uint64_t k, char *out, size_t outlen)
{
    snprintf(out, outlen, "user%llu", (unsigned long long)k);
}

void yc_field_value(sf_bench_rng *r, char out[YC_FIELD_LEN])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t bits = 0;
    int left = 0;
    for (int i = 0; i < YC_FIELD_LEN; i++) {
        if (left == 0) {
            bits = sf_bench_rng_next(r);
            left = 10; /* 10 x 6 bits per draw */
        }
        out[i] = alphabet[bits & 63u];
        bits >>= 6;
        left--;
    }
}

static void pick_pair(yc_ctx *x, yc_op *op)
{
    op->a = sf_bench_keygen_next(&x->keys, &x->rng);
    if (x->cfg.records < 2) {
        op->b = op->a;
    } else {
        do
            op->b = sf_bench_keygen_next(&x->keys, &x->rng);
        while (op->b == op->a);
    }
    op->amount = 1 + (int64_t)sf_bench_rng_below(&x->rng, (uint64_t)x->cfg.max_amount);
}

void yc_next_op(yc_ctx *x, yc_op *op)
{
    unsigned roll = (unsigned)sf_bench_rng_below(&x->rng, 100);
    int kind;
    switch (x->cfg.workload) {
    case 'A': kind = roll < 50 ? YC_READ : YC_UPDATE; break;
    case 'B': kind = roll < 95 ? YC_READ : YC_UPDATE; break;
    case 'T': kind = YC_TRANSFER; break;
    default: /* 'M' */
        kind = roll < 45 ? YC_READ : roll < 90 ? YC_UPDATE : YC_TRANSFER;
        break;
    }
    op->kind = kind;
    op->field = 0;
    op->amount = 0;
    if (kind == YC_TRANSFER) {
        pick_pair(x, op);
    } else {
        op->a = sf_bench_keygen_next(&x->keys, &x->rng);
        op->b = op->a;
        if (kind == YC_UPDATE)
            op->field = (int)sf_bench_rng_below(&x->rng, YC_FIELDS);
    }
}

void yc_workload_names(yc_ctx *x)
{
    if (x->cfg.workload == 'T') {
        x->entity = "Account";
        x->m_read = "read";
        x->m_update = "add"; /* not used by T */
        x->m_transfer = "transfer";
        x->m_balance = "read";
    } else {
        x->entity = "Record";
        x->m_read = "read";
        x->m_update = "update";
        x->m_transfer = "transfer";
        x->m_balance = "balance_of";
    }
}
