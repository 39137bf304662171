/* sf_ir.h: the StateFlow intermediate representation (.sfir).
 *
 * One compiled application: its source, the generated Python module (the
 * original classes plus one function per block of every split method), every
 * entity with its attributes, key, methods and their block graphs, and the
 * dataflow graph. The compiler builds an sf_ir and writes it with
 * sf_ir_write_file; the runtime reads it back with sf_ir_load_file, which validates
 * every field (a truncated, corrupt or wrong-version file gets an error
 * message, never a crash). The on-disk format is described in docs/ir.md.
 *
 * All memory of an sf_ir (strings, arrays, types) belongs to its arena and is
 * released by sf_ir_free.
 */
#ifndef SF_IR_H
#define SF_IR_H

#include <stddef.h>
#include <stdint.h>

#include "stateflow/sf_arena.h"

#define SF_IR_MAGIC "SFIR"
#define SF_IR_VERSION 1
/* Limits the loader enforces on untrusted files. */
#define SF_IR_MAX_BYTES (64u * 1024u * 1024u)
#define SF_IR_MAX_TYPE_DEPTH 16

/* Entity lifecycle inside methods (docs/ir.md "Block results"): a call or
 * call exit naming this method deletes the instance (`stateflow.delete(r)`);
 * every entity has it implicitly. Creating an instance is a call of
 * `__init__` whose block-result target is the entity's name. */
#define SF_IR_DELETE_METHOD "_sf_delete"

/* ---- types ------------------------------------------------------------ */

typedef enum sf_type_kind {
    SF_TYPE_ANY,      /* unannotated or not expressible: no static checks */
    SF_TYPE_NONE,
    SF_TYPE_BOOL,
    SF_TYPE_INT,
    SF_TYPE_FLOAT,
    SF_TYPE_STR,
    SF_TYPE_BYTES,
    SF_TYPE_LIST,     /* args[0]: element type */
    SF_TYPE_TUPLE,    /* args: element types; nargs == 0 means tuple of any */
    SF_TYPE_DICT,     /* args[0]: key type, args[1]: value type */
    SF_TYPE_SET,      /* args[0]: element type */
    SF_TYPE_OPTIONAL, /* args[0]: the type when not None */
    SF_TYPE_ENTITY,   /* entity: a reference to an instance of that entity */
    SF_TYPE__COUNT
} sf_type_kind;

typedef struct sf_type sf_type;
struct sf_type {
    sf_type_kind kind;
    const char *entity;       /* SF_TYPE_ENTITY only */
    const sf_type **args;
    int nargs;
};

/* Python spelling of the type ("int", "List[Item]", "Optional[Item]").
 * Writes at most cap bytes (NUL-terminated); returns buf. */
char *sf_type_format(const sf_type *t, char *buf, size_t cap);
/* Name of a kind as used in the IR ("int", "list", "entity", ...). */
const char *sf_type_kind_name(sf_type_kind k);
int sf_type_equal(const sf_type *a, const sf_type *b);
/* The entity a value of type t refers to when it is a reference, possibly
 * through Optional (NULL otherwise). */
const char *sf_type_entity(const sf_type *t);

/* ---- entities --------------------------------------------------------- */

typedef struct sf_ir_attr {
    const char *name;
    const sf_type *type;
    int line;
} sf_ir_attr;

typedef struct sf_ir_param {
    const char *name;
    const sf_type *type;
    int has_default;          /* the parameter may be omitted */
} sf_ir_param;

/* A remote operation a method performs: a call of entity.method (attribute
 * reads and writes through references call the generated accessors
 * `_sf_get_<attr>` / `_sf_set_<attr>`). */
typedef struct sf_ir_call {
    const char *entity;
    const char *method;
    int line;
} sf_ir_call;

/* How a block ends. A block may have several exits (one per path through
 * its code); each is listed. */
typedef enum sf_ir_exit_kind {
    SF_EXIT_RETURN,           /* the method returns */
    SF_EXIT_CALL,             /* remote call, then resume at `target` */
    SF_EXIT_JUMP,             /* continue at `target` */
} sf_ir_exit_kind;

typedef struct sf_ir_exit {
    sf_ir_exit_kind kind;
    int target;               /* block id (CALL, JUMP); -1 for RETURN */
    const char *entity;       /* CALL: callee entity ("" when dynamic) */
    const char *method;       /* CALL: callee method */
    const char *bind;         /* CALL: variable the result is bound to */
} sf_ir_exit;

typedef struct sf_ir_block {
    int id;
    const char *function;     /* name of the generated Python function */
    int line;                 /* first source line the block covers */
    const char **live_in;     /* variables the block reads from the frame */
    int nlive_in;
    sf_ir_exit *exits;
    int nexits;
} sf_ir_block;

enum {
    SF_METHOD_READ_ONLY = 1 << 0, /* never writes self (transitively through local calls) */
    SF_METHOD_SPLIT = 1 << 1,     /* has remote operations: runs as blocks */
    SF_METHOD_INIT = 1 << 2,      /* __init__ */
    SF_METHOD_ACCESSOR = 1 << 3,  /* generated attribute accessor */
    SF_METHOD_INTERNAL = 1 << 4,  /* not callable by clients (accessors, __key__) */
};

typedef struct sf_ir_method {
    const char *name;
    int line;
    unsigned flags;
    sf_ir_param *params;      /* without self */
    int nparams;
    const sf_type *returns;
    const char **reads;       /* attributes of self read */
    int nreads;
    const char **writes;      /* attributes of self written */
    int nwrites;
    sf_ir_call *calls;        /* remote operations, in source order */
    int ncalls;
    sf_ir_block *blocks;      /* SPLIT methods only; block 0 is the entry */
    int nblocks;
} sf_ir_method;

typedef struct sf_ir_entity {
    const char *name;
    int line;
    const char **key;         /* attribute names __key__ returns */
    int nkey;
    sf_ir_attr *attrs;
    int nattrs;
    sf_ir_method *methods;
    int nmethods;
} sf_ir_entity;

/* One edge of the dataflow graph: an operator (entity) sends events to
 * another when `from_method` calls `to_method`. */
typedef struct sf_ir_edge {
    const char *from_entity, *from_method;
    const char *to_entity, *to_method;
} sf_ir_edge;

typedef struct sf_ir {
    sf_arena arena;
    uint32_t version;
    const char *module;       /* module name, e.g. "app" */
    const char *filename;     /* source file as compiled */
    const char *source;       /* original source text */
    const char *python;       /* generated Python module */
    sf_ir_entity *entities;
    int nentities;
    sf_ir_edge *edges;
    int nedges;
} sf_ir;

/* ---- building, writing, loading -------------------------------------- */

/* A new, empty IR (version SF_IR_VERSION) whose arena the caller fills. */
sf_ir *sf_ir_new(void);
void sf_ir_free(sf_ir *ir);

/* Serialise to a malloc'd buffer; returns 0, or -1 with a message in err. */
int sf_ir_encode(const sf_ir *ir, char **out, size_t *outlen, char *err, size_t errlen);
int sf_ir_write_file(const sf_ir *ir, const char *path, char *err, size_t errlen);

/* Parse and validate. Returns NULL with a message in err on any problem. */
sf_ir *sf_ir_decode(const char *buf, size_t len, char *err, size_t errlen);
sf_ir *sf_ir_load_file(const char *path, char *err, size_t errlen);

/* Lookups (NULL when absent). */
const sf_ir_entity *sf_ir_find_entity(const sf_ir *ir, const char *name);
const sf_ir_method *sf_ir_find_method(const sf_ir_entity *e, const char *name);
const sf_ir_attr *sf_ir_find_attr(const sf_ir_entity *e, const char *name);

/* Human-readable dump and Graphviz output (sfc --dump / --dot). */
#include <stdio.h>
void sf_ir_dump(const sf_ir *ir, FILE *out);
void sf_ir_dot(const sf_ir *ir, FILE *out);

#endif
