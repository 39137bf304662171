/* request.h: the client request object and the reply lines (DESIGN 4.5,
 * **contract**), in their JSON form, shared by sfrun, the HTTP gateway and
 * the Kafka ingress:
 *
 *   {"id": "r1", "op": "create", "entity": "User", "args": ["alice"]}
 *   {"id": "r2", "op": "call", "entity": "User", "key": "alice",
 *    "method": "buy_item", "args": [2, {"$ref": ["Item", "apple"]}]}
 *   {"id": "r3", "op": "get", "entity": "User", "key": "alice"}
 *
 * Rules enforced by sf_request_parse_json: the request is a JSON object;
 * "op" and "entity" are required strings; "key" is required for call/get and
 * not allowed for create; "method" is required for call and not allowed
 * otherwise; "args" is an optional array (default []) for create/call and not
 * allowed for get; "id" is optional, a string or a number (at most
 * SF_REQUEST_MAX_ID bytes of JSON); any other member, or a member given
 * twice, is an error. Entity and method names are non-empty and hold no NUL.
 * Values use the JSON mapping of json.h ({"$ref": ...}, {"$bytes": ...}).
 * Every error message is meant for a BadRequest reply. */
#ifndef SF_RUNTIME_REQUEST_H
#define SF_RUNTIME_REQUEST_H

#include <stddef.h>

#include "stateflow/sf_buf.h"

enum sf_request_op {
    SF_OP_CREATE = 1,
    SF_OP_CALL = 2,
    SF_OP_GET = 3,
    SF_OP_DELETE = 4,
};

#define SF_REQUEST_MAX_ID 256

/* What a front end's submit callback (gateway.h, native.h) returns, the one
 * contract between the client front ends and the cluster: */
enum sf_submit_result {
    SF_SUBMIT_OK = 0,          /* accepted: answered later, exactly once */
    SF_SUBMIT_OVERLOADED = 1,  /* refused for now (the ingress is full): the
                                * client gets Overloaded (HTTP 503 with
                                * Retry-After) and may retry */
    SF_SUBMIT_UNAVAILABLE = 2, /* refused: the service is not serving (failed,
                                * shutting down); any other nonzero value
                                * means the same */
};

typedef struct sf_request {
    char *id_json; /* the id as compact JSON text ("\"r2\"", "17"), or NULL */
    int op;        /* SF_OP_CREATE, SF_OP_CALL, SF_OP_GET */
    char *entity;  /* NUL-terminated */
    char *method;  /* call only, else NULL */
    sf_buf key;    /* msgpack of the key, canonical (sf_msgpack_canonical),
                    * empty (len 0) when absent */
    sf_buf args;   /* msgpack array of the arguments ("\x90" when absent) */
} sf_request;

/* Parse one request. Returns 0, or -1 with a message in err. r is always
 * initialised (also on failure): call sf_request_free afterwards in every
 * case. When the text is valid JSON whose top-level object has a usable "id",
 * r->id_json is set even on failure, so the error reply can echo it. */
int sf_request_parse_json(const char *text, size_t len, sf_request *r, char *err, size_t errlen);
void sf_request_free(sf_request *r);

/* The name of an op ("create", "call", "get"), or "?" */
const char *sf_request_op_name(int op);

/* Append a compact reply object (no newline) to out:
 *   {"id":"r2","ok":<value>}   ("id" omitted when id_json is NULL)
 * The value is msgpack, converted with sf_msgpack_to_json. Returns 0; if the
 * value cannot be converted, an error reply of type "InternalError" is
 * appended instead and -1 returned. */
int sf_reply_ok_json(sf_buf *out, const char *id_json, const char *msgpack_value, size_t len);

/*   {"id":"r2","error":{"type":"ValueError","message":"..."}} */
void sf_reply_error_json(sf_buf *out, const char *id_json, const char *type, const char *message);

/* A request map (the msgpack form of a request inside stateflowd: the
 * members of DESIGN 4.5 with string keys, in the order id, op, entity, key,
 * method, args, only those that apply), decoded. Pointers point into the map;
 * key, args and id are msgpack values (NULL/0 when absent). */
typedef struct sf_reqmap {
    int op; /* SF_OP_CREATE, SF_OP_CALL, SF_OP_GET (request.h) */
    const char *entity;
    size_t entity_len;
    const char *key;
    size_t key_len;
    const char *method;
    size_t method_len;
    const char *args;
    size_t args_len;
    const char *id;
    size_t id_len;
} sf_reqmap;

/* Decode and check a request map (the rules of request.h, on msgpack).
 * Returns 0, or -1 with a message. */
int sf_reqmap_decode(const char *req, size_t len, sf_reqmap *out, char *err, size_t errlen);

/* Append the request map of DESIGN 4.5 to out. id is msgpack (or NULL); key
 * and args are msgpack values (key NULL for create; args NULL for get). */
void sf_reqmap_encode(sf_buf *out, const char *id, size_t id_len, int op, const char *entity, size_t elen,
                      const char *key, size_t klen, const char *method, size_t mlen, const char *args, size_t alen);
/* Keys are compared as values: the same key must have the same bytes
 * however a client encoded it, since routing (sf_cluster_home_partition)
 * and lookup (the store) use the bytes. The canonical form is what
 * msgpack-c's packer writes, which is also what the executor's own keys
 * (pycodec.c, from __key__) and json.c produce: the smallest encoding of
 * every integer (positive ones in the unsigned forms), str, bin, array, map
 * and ext header; floats as float64; the payloads of tuples, sets and
 * references (sf_value.h) canonical in turn, a set's elements sorted by
 * their bytes and unique (as pycodec writes a set). Map entries keep their
 * order; other ext types are copied. Values of different msgpack types stay
 * different (1, 1.0 and true are three keys).
 *
 * Append the canonical form of the one msgpack value v[0..len) to out.
 * Returns 0, or -1 with a message (out unchanged). */
int sf_msgpack_canonical(const char *v, size_t len, sf_buf *out, char *err, size_t errlen);

/* Decode and check a request map (sf_reqmap_decode), then append it to out
 * re-encoded with sf_reqmap_encode, its key and its arguments (and so the
 * keys of the references inside them) canonical. Every front end passes a
 * client's request through this (or sf_request_parse_json, whose key is
 * canonical too) before submitting it, so that inside stateflowd every key
 * is canonical. Returns 0, or -1 with a message (BadRequest). */
int sf_reqmap_canonical(const char *req, size_t len, sf_buf *out, char *err, size_t errlen);

/* Append a msgpack str. */
void sf_reqmap_pack_str(sf_buf *out, const char *s, size_t n);

#endif
