/* executor.h: runs entity methods as transactions (DESIGN 4.2, 4.3, 4.5).
 *
 * An sf_executor couples a loaded application (pyrt.h), the value codec
 * (pycodec.h) and a state store (store.h). Each request runs as one
 * transaction (sf_tx): the first time the transaction touches an instance
 * (entity, key) its committed state is decoded into ONE Python object, which
 * every later block, re-entrant call and accessor of the same transaction
 * uses, so the whole call chain sees the committed state plus its own writes.
 * Committing encodes every instance on which a non-read-only method ran and
 * writes it to the store; aborting just drops the objects (nothing reached
 * the store, so rollback is free).
 *
 * Split methods run as blocks (docs/ir.md): the executor calls block k with
 * (self, frame), reads the result tuple and returns (pops a continuation and
 * resumes the caller with frame[bind] = value), calls (pushes a continuation
 * and invokes the callee) or jumps. The position of a call chain is an
 * sf_event (DESIGN 4.2): target instance, method, block, frame or arguments,
 * and the continuation stack. Locally events keep Python objects; they
 * encode to msgpack (sf_event_encode / sf_event_decode) to travel between
 * processes.
 *
 * Errors a transaction can end with (the reply's error "type"):
 *   BadRequest     malformed request (parser), bad field values
 *   NotFound       unknown entity, method (also internal methods, __init__,
 *                  __key__ via call) or key
 *   AlreadyExists  create of a key that exists
 *   TypeError      arguments do not match the signature; state, key or
 *                  return value that cannot be stored (the message names the
 *                  attribute / "key" / "return value")
 *   <user type>    a Python exception escaping user code: type(e).__name__
 *                  and str(e)
 *   RecursionError the continuation stack exceeded the depth limit
 *   RuntimeError   the step limit (block and method executions per
 *                  transaction) was hit
 *   TimeLimitExceeded  the transaction's user code ran longer than the
 *                  watchdog's limit (sf_executor_set_watchdog)
 *   InternalError  a block returned something that is not a block result
 *                  (a compiler bug), or the executor failed internally
 *   Unavailable    sf_exec_op_run reached an instance a locality function
 *                  says is not local
 * Every error aborts the whole transaction.
 *
 * User code is always guarded: every entry point that may run it (methods,
 * blocks, __init__, __key__) runs under the step limit and the watchdog,
 * and both count per transaction: tx->steps and tx->time_ns accumulate over
 * every entry point called with the same sf_tx and travel in its events, so
 * a transaction spread over several workers has one budget.
 *
 * Values passed to or returned from another instance are copies (as between
 * processes); an entity instance passed or returned stands for a reference
 * to itself. docs/executor.md has the details and the wire format.
 */
#ifndef SF_RUNTIME_EXECUTOR_H
#define SF_RUNTIME_EXECUTOR_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#include "pycodec.h"
#include "pyrt.h"
#include "request.h"
#include "stateflow/sf_buf.h"
#include "store.h"
#include "watchdog.h"

#define SF_EXEC_DEFAULT_MAX_DEPTH 256
#define SF_EXEC_DEFAULT_MAX_STEPS 1000000u

typedef struct sf_executor sf_executor;

/* ---- transactions ------------------------------------------------------- */

enum {
    SF_TXI_LOADED = 1 << 0,   /* obj holds the instance */
    SF_TXI_WRITTEN = 1 << 1,  /* a non-read-only method ran on it: commit writes it */
    SF_TXI_CREATED = 1 << 2,  /* created by this transaction (create op) */
    SF_TXI_PENDING = 1 << 3,  /* under construction: no key yet (split __init__) */
    SF_TXI_DELETED = 1 << 4,  /* deleted by this transaction: commit removes it */
};

/* Pseudo methods of events (docs/executor.md "Entity lifecycle"): every
 * entity has them; on the wire they are named "_sf_install" and
 * "_sf_delete".
 *   SF_EXEC_INSTALL  args [state dict]: the instance, built by __init__ in
 *                    the creating method, becomes (entity, key) of the
 *                    event; AlreadyExists when that instance exists. Returns
 *                    a reference to it.
 *   SF_EXEC_DELETE   no args: the instance is deleted (NotFound when it does
 *                    not exist). Returns None. */
#define SF_EXEC_INSTALL (-2)
#define SF_EXEC_DELETE (-3)

/* One entity instance a transaction touched (or refers to). */
typedef struct sf_txinst {
    int entity;
    uint64_t hash;            /* sf_store_hash(entity, key) */
    size_t key_off, key_len;  /* msgpack key bytes in tx->keys */
    PyObject *obj;            /* the instance (SF_TXI_LOADED) */
    unsigned flags;
} sf_txinst;

typedef struct sf_tx {
    uint64_t txid;
    sf_txinst *insts;
    int ninsts, cap;
    int *index;               /* open-addressing index over insts (when many) */
    size_t icap;
    sf_buf keys;
    uint64_t steps;           /* block/method executions so far (all workers) */
    uint64_t time_ns;         /* time spent in user code so far (all workers) */
    sf_buf err_type, err_msg; /* set when a function returned -1 */
} sf_tx;

void sf_tx_init(sf_tx *tx);
/* Drop every instance (abort) and the error; memory is kept for reuse. */
void sf_tx_reset(sf_tx *tx, uint64_t txid);
void sf_tx_free(sf_tx *tx);
/* Index of (entity, key) in tx, added (not loaded) when absent. */
int sf_tx_instance(sf_tx *tx, int entity, const char *key, size_t keylen);
static inline const char *sf_tx_key(const sf_tx *tx, int i)
{
    return tx->keys.data + tx->insts[i].key_off;
}

/* ---- events ------------------------------------------------------------- */

typedef enum sf_event_kind {
    SF_EVENT_INVOKE = 0,      /* invoke method with args (block 0 for split methods) */
    SF_EVENT_RESUME = 1,      /* run block `block` of method with frame */
} sf_event_kind;

/* Where a caller resumes when the callee returns. */
typedef struct sf_cont {
    int inst;                 /* the caller's instance (index in the sf_tx) */
    int method;               /* index in the entity's methods */
    int block;
    PyObject *bind;           /* str, or NULL when the result is unused */
    PyObject *frame;          /* dict */
} sf_cont;

typedef struct sf_event {
    uint64_t txid;
    sf_buf reqid;             /* msgpack of the request id; empty when none */
    sf_event_kind kind;
    int inst;                 /* target instance (index in the sf_tx) */
    int method;
    int block;                /* RESUME */
    PyObject *args;           /* INVOKE: list or tuple of arguments */
    PyObject *frame;          /* RESUME: dict */
    sf_cont *stack;           /* stack[depth-1] is the innermost caller */
    int depth, cap;
} sf_event;

void sf_event_init(sf_event *ev);
/* Drop the Python references and the stack (memory kept). */
void sf_event_clear(sf_event *ev);
void sf_event_free(sf_event *ev);

/* Wire form (msgpack array):
 *   [2, txid, reqid|nil, kind, entity, key, method, block, args|frame,
 *    [[entity, key, method, block, bind|nil, frame], ...], steps, time_ns]
 * entity and method by name, key as its msgpack value, args an array, frame
 * a map from variable names; steps and time_ns are tx's (the budget the
 * transaction used so far). Instances are resolved against tx. Returns 0,
 * or -1 with a message (an unencodable frame value, an instance still under
 * construction). */
int sf_event_encode(sf_executor *ex, const sf_tx *tx, const sf_event *ev, sf_buf *out,
                    char *err, size_t errlen);
/* Decode into ev (cleared first), adding the instances it names to tx and
 * raising tx's steps and time_ns to the event's. Every field is checked
 * against the IR. Returns 0, or -1 with a message. */
int sf_event_decode(sf_executor *ex, sf_tx *tx, const char *data, size_t len, sf_event *ev,
                    char *err, size_t errlen);

/* ---- the executor ------------------------------------------------------- */

typedef struct sf_executor_limits {
    int max_depth;            /* continuation stack depth */
    uint64_t max_steps;       /* block/method executions per transaction */
} sf_executor_limits;

/* The executor borrows app, codec and store (they must outlive it). Needs
 * the GIL. Returns NULL with a message. */
sf_executor *sf_executor_new(sf_pyapp *app, sf_pycodec *codec, sf_store *store, char *err,
                             size_t errlen);
void sf_executor_free(sf_executor *ex);
void sf_executor_set_limits(sf_executor *ex, const sf_executor_limits *lim);
sf_store *sf_executor_store(sf_executor *ex);
/* Bound the wall-clock time a transaction spends in user code, summed over
 * every entry point below that runs it (the transaction fails with
 * TimeLimitExceeded). w is borrowed; NULL removes the bound. */
void sf_executor_set_watchdog(sf_executor *ex, sf_watchdog *w);

/* Which instances this process executes (DESIGN 4.1: a worker owns some
 * partitions; sf_partition_hash in store.h). Returns nonzero when (entity
 * index, msgpack key) is local. Without one (the default, and sfrun)
 * everything is local. */
typedef int (*sf_exec_is_local_fn)(void *arg, int entity, const char *key, size_t keylen);
void sf_executor_set_locality(sf_executor *ex, sf_exec_is_local_fn fn, void *arg);

/* Run ev inside tx until the outermost method returns: *result gets a new
 * reference to the value and 0 is returned (ev is cleared). When the next
 * step targets an instance that is not local, returns 1 with ev describing
 * that step (the caller encodes it and sends it to the owner, which decodes
 * it into its own transaction context and calls sf_exec_event again). On an
 * error returns -1 with tx->err_type/err_msg set (ev is cleared). */
int sf_exec_event(sf_executor *ex, sf_tx *tx, sf_event *ev, PyObject **result);

/* Commit tx: encode every written instance and write it to the store; on an
 * encoding error nothing is written and -1 is returned with the error set in
 * tx->err_type/err_msg. The transaction's instances are dropped either way
 * (the error stays until the next sf_tx_reset). */
int sf_tx_commit(sf_executor *ex, sf_tx *tx);

/* What sf_tx_commit would write, without writing it: encodes the state of
 * every written or created instance of tx and, only when all of them could
 * be encoded, calls fn once per instance (key and state are msgpack, valid
 * during the call). Returns 0, or -1 with the error in tx->err_type/err_msg
 * (fn not called). The instances stay in tx. stateflowd workers encode their
 * part of a transaction this way before the commit decision and write it to
 * the store only if the transaction commits. */
typedef void (*sf_tx_write_fn)(void *arg, const sf_txinst *inst, const char *key, size_t keylen,
                               const char *state, size_t statelen);
int sf_tx_encode_writes(sf_executor *ex, sf_tx *tx, sf_tx_write_fn fn, void *arg);

/* Write sets are what was written: clear SF_TXI_WRITTEN on every loaded
 * instance (not created or deleted by tx) whose state encodes to exactly the bytes the
 * store holds for it, so a method that ran but changed nothing (a transfer
 * refused for insufficient funds) is a reader only. An instance whose state
 * cannot be encoded stays written (the error comes from
 * sf_tx_encode_writes). Returns how many were cleared. */
int sf_tx_clear_unchanged(sf_executor *ex, sf_tx *tx);

/* One client operation, already parsed. Strings are not NUL-terminated;
 * key and args are msgpack (args: an array; NULL/0 = no arguments); op is
 * SF_OP_CREATE, SF_OP_CALL, SF_OP_GET or SF_OP_DELETE (request.h). */
typedef struct sf_exec_op {
    int op;
    const char *entity;
    size_t entity_len;
    const char *key;
    size_t key_len;
    const char *method;
    size_t method_len;
    const char *args;
    size_t args_len;
} sf_exec_op;

/* Run one operation as one transaction to completion in this process and
 * commit it. On success the msgpack of the result is appended to result
 * (create: the reference; get: the attribute map; call: the return value)
 * and 0 is returned; on failure -1 and *err_type / *err_msg point at the
 * error (valid until the next call on ex); nothing was written to the store.
 *
 * The checks and their order follow tests/diff/plain.py (the reference):
 * unknown entity; get: unknown key; call: unknown or non-callable method
 * (names starting with "_sf_" or of the form "__x__"), then the argument
 * count and types (TypeError), then the key, then every reference in the
 * arguments must name a known entity and an existing instance (NotFound);
 * create: __init__'s arguments, references, then __init__ runs and the key
 * must be new (AlreadyExists). A return value or state that cannot be stored
 * is a TypeError ("return value: ...", "User \"alice\": attribute 'x':
 * ..."). */
int sf_exec_op_run(sf_executor *ex, const sf_exec_op *op, sf_buf *result, const char **err_type,
                   const char **err_msg);

/* ---- client operations in steps (stateflowd) ----------------------------
 *
 * A stateflowd worker cannot run sf_exec_op_run: the instances an operation
 * touches live in several processes. It runs the same checks, in the same
 * order, in steps (docs/runtime.md "Client operations across workers"):
 *
 *   sf_exec_op_check   at the owner of the target (call) or at any worker
 *                      (create): checks 1, 3, 4, 5 and (call) 6
 *   sf_exec_arg_refs   the references of check 7, checked at their owners
 *   sf_exec_op_start   the call's INVOKE event, or the constructor
 *   sf_exec_create_take / sf_tx_install  a created instance moves to the
 *                      owner of its key, which checks AlreadyExists
 *
 * All take the transaction explicitly; errors go to tx->err_type/err_msg. */

/* Check a create or call (get needs no transaction: sf_exec_op_run does it
 * without writing): the entity, the method (call), the argument count and
 * types and, for a call, that the target exists in this process's store (it
 * is loaded into tx). Returns 0 with *args a new reference to the decoded
 * argument list, or -1. */
int sf_exec_op_check(sf_executor *ex, sf_tx *tx, const sf_exec_op *op, PyObject **args);
/* Append to out a msgpack array of [entity name, key] for every reference in
 * args, in the order check 7 visits them (depth first, left to right; lists,
 * tuples and dict values). Returns 0, or -1 (a key that cannot be encoded:
 * BadRequest). */
int sf_exec_arg_refs(sf_executor *ex, sf_tx *tx, PyObject *args, sf_buf *out);
/* Start a checked operation in tx. call: ev becomes the INVOKE of the method
 * on the target, *created = -1, returns 0. create: a new instance without a
 * key is added to tx (*created is its index); a split __init__ becomes the
 * INVOKE in ev (returns 0: run ev), a plain one runs at once, as one step
 * under the watchdog (returns 1). -1 on an error (a constructor that
 * raised, or ran out of steps or time). */
int sf_exec_op_start(sf_executor *ex, sf_tx *tx, const sf_exec_op *op, PyObject *args,
                     sf_event *ev, int *created);
/* After __init__ ran on instance `inst` (from sf_exec_op_start): compute its
 * key (TypeError when it cannot be encoded; AlreadyExists when tx already
 * holds an instance with that key) and append it to key_out, then encode
 * the state to state_out and remove the instance from tx. Returns 0; 1 when
 * the key is good but the state cannot be stored (the TypeError is in tx's
 * error; state_out is unusable); -1 on an error about the key. */
int sf_exec_create_take(sf_executor *ex, sf_tx *tx, int inst, sf_buf *key_out, sf_buf *state_out);
/* At the owner of (entity, key): AlreadyExists when the instance exists in
 * the store or in tx (-1); otherwise, when state is not NULL, add the
 * instance with that encoded state to tx as created by it (0). state NULL
 * only checks. */
int sf_tx_install(sf_executor *ex, sf_tx *tx, int entity, const char *key, size_t keylen,
                  const char *state, size_t statelen);

/* Run a parsed request (request.h) and append its reply line (JSON, no
 * newline, the request's id echoed) to reply_json. Returns 0 when the reply
 * is an "ok" reply, 1 when it is an error reply. */
int sf_exec_request(sf_executor *ex, const sf_request *req, sf_buf *reply_json);

#endif
