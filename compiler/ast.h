/* ast.h: the compiler's own abstract syntax tree.
 *
 * The parse stage (parse.c) converts CPython's `ast` module output into these
 * structs exactly once; every later stage (analyse, split, emit) works on
 * this tree and never touches a PyObject. The tree mirrors Python 3.11's
 * grammar (Parser/Python.asdl) closely enough that the unparser
 * (unparse.c) can print any accepted module back as equivalent source.
 *
 * Memory: every node, string and array is allocated from one sf_arena
 * (arena.h) and freed with it; nodes are never freed one by one. Later stages
 * may build new nodes in the same arena (the split stage does).
 */
#ifndef SF_COMPILER_AST_H
#define SF_COMPILER_AST_H

#include <stddef.h>

#include "stateflow/sf_arena.h"
#include "stateflow/sf_ir.h" /* sf_type, shared with the IR */

typedef struct sf_pos {
    int line, col;         /* 1-based line, 1-based column (CPython col + 1) */
    int end_line, end_col;
} sf_pos;

typedef struct sf_expr sf_expr;
typedef struct sf_stmt sf_stmt;

/* Lists: v[0..n). cap is the room the push functions made (0 for a list
 * built at its exact size, e.g. by the parser); code that resets a list
 * resets all three fields. */
typedef struct sf_expr_list { sf_expr **v; int n, cap; } sf_expr_list;
typedef struct sf_stmt_list { sf_stmt **v; int n, cap; } sf_stmt_list;

/* Operators of BinOp, AugAssign, UnaryOp, BoolOp and Compare. */
typedef enum sf_op {
    SF_OP_ADD, SF_OP_SUB, SF_OP_MULT, SF_OP_MATMULT, SF_OP_DIV, SF_OP_MOD,
    SF_OP_POW, SF_OP_LSHIFT, SF_OP_RSHIFT, SF_OP_BITOR, SF_OP_BITXOR,
    SF_OP_BITAND, SF_OP_FLOORDIV,
    SF_OP_INVERT, SF_OP_NOT, SF_OP_UADD, SF_OP_USUB,
    SF_OP_AND, SF_OP_OR,
    SF_OP_EQ, SF_OP_NOTEQ, SF_OP_LT, SF_OP_LTE, SF_OP_GT, SF_OP_GTE,
    SF_OP_IS, SF_OP_ISNOT, SF_OP_IN, SF_OP_NOTIN,
    SF_OP__COUNT
} sf_op;

/* Python spelling of an operator ("+", "not in", "and", ...). */
const char *sf_op_str(sf_op op);

typedef enum sf_const_kind {
    SF_CONST_NONE, SF_CONST_BOOL, SF_CONST_INT, SF_CONST_FLOAT,
    SF_CONST_COMPLEX, SF_CONST_STR, SF_CONST_BYTES, SF_CONST_ELLIPSIS
} sf_const_kind;

typedef enum sf_expr_kind {
    SF_EX_NAME, SF_EX_CONST, SF_EX_ATTR, SF_EX_CALL, SF_EX_BINOP,
    SF_EX_UNARYOP, SF_EX_BOOLOP, SF_EX_COMPARE, SF_EX_IFEXP, SF_EX_LIST,
    SF_EX_TUPLE, SF_EX_SET, SF_EX_DICT, SF_EX_SUBSCRIPT, SF_EX_SLICE,
    SF_EX_LAMBDA, SF_EX_LISTCOMP, SF_EX_SETCOMP, SF_EX_DICTCOMP, SF_EX_GENEXP,
    SF_EX_JOINEDSTR, SF_EX_FORMATTED, SF_EX_STARRED, SF_EX_NAMEDEXPR,
    SF_EX_AWAIT, SF_EX_YIELD, SF_EX_YIELDFROM
} sf_expr_kind;

typedef struct sf_keyword {
    const char *arg;       /* NULL for **kwargs */
    sf_expr *value;
    sf_pos pos;
} sf_keyword;

typedef struct sf_arg {
    const char *name;
    sf_expr *annotation;   /* NULL when absent */
    sf_pos pos;
} sf_arg;

/* A function's parameter list (ast.arguments). defaults align with the last
 * positional parameters (posonly followed by args); kw_defaults[i] is NULL
 * when kwonly[i] has no default. */
typedef struct sf_arguments {
    sf_arg *posonly; int nposonly;
    sf_arg *args; int nargs;
    sf_arg *vararg;        /* NULL when absent */
    sf_arg *kwonly; int nkwonly;
    sf_expr **kw_defaults;
    sf_arg *kwarg;         /* NULL when absent */
    sf_expr_list defaults;
} sf_arguments;

typedef struct sf_comprehension {
    sf_expr *target, *iter;
    sf_expr_list ifs;
    int is_async;
} sf_comprehension;

struct sf_expr {
    sf_expr_kind kind;
    sf_pos pos;
    /* Filled by the analysis: the static type when known (NULL otherwise).
     * An expression whose type is an entity (SF_TYPE_ENTITY) is a reference;
     * calls and attribute reads through it are remote. */
    const sf_type *type;
    union {
        struct { const char *id; } name;
        /* repr is Python's repr() of the value (used to print it back);
         * str/len hold the raw UTF-8 (str) or bytes (bytes) value. */
        struct { sf_const_kind kind; const char *repr; const char *str; size_t len; } constant;
        struct { sf_expr *value; const char *attr; } attr;
        struct { sf_expr *func; sf_expr_list args; sf_keyword *kw; int nkw; } call;
        struct { sf_expr *left; sf_op op; sf_expr *right; } binop;
        struct { sf_op op; sf_expr *operand; } unaryop;
        struct { sf_op op; sf_expr_list values; } boolop;
        struct { sf_expr *left; sf_op *ops; sf_expr_list comparators; } compare;
        struct { sf_expr *test, *body, *orelse; } ifexp;
        struct { sf_expr_list elts; } seq;          /* list, tuple, set */
        /* keys[i] == NULL means `**values[i]` */
        struct { sf_expr **keys; sf_expr **values; int n; } dict;
        struct { sf_expr *value, *slice; } subscript;
        struct { sf_expr *lower, *upper, *step; } slice;   /* any may be NULL */
        struct { sf_arguments *args; sf_expr *body; } lambda;
        /* listcomp/setcomp/genexp use elt; dictcomp uses key (elt) + value */
        struct { sf_expr *elt, *value; sf_comprehension *gens; int ngens; } comp;
        struct { sf_expr_list values; } joinedstr;
        /* conversion: -1 none, else 's', 'r' or 'a'; format_spec may be NULL */
        struct { sf_expr *value; int conversion; sf_expr *format_spec; } formatted;
        struct { sf_expr *value; } starred;        /* also await, yield, yield from (value may be NULL for yield) */
        struct { sf_expr *target, *value; } namedexpr;
    } u;
};

typedef enum sf_stmt_kind {
    SF_ST_FUNCTIONDEF, SF_ST_ASYNCFUNCTIONDEF, SF_ST_CLASSDEF, SF_ST_RETURN,
    SF_ST_DELETE, SF_ST_ASSIGN, SF_ST_AUGASSIGN, SF_ST_ANNASSIGN, SF_ST_FOR,
    SF_ST_ASYNCFOR, SF_ST_WHILE, SF_ST_IF, SF_ST_WITH, SF_ST_ASYNCWITH,
    SF_ST_MATCH, SF_ST_RAISE, SF_ST_TRY, SF_ST_TRYSTAR, SF_ST_ASSERT,
    SF_ST_IMPORT, SF_ST_IMPORTFROM, SF_ST_GLOBAL, SF_ST_NONLOCAL, SF_ST_EXPR,
    SF_ST_PASS, SF_ST_BREAK, SF_ST_CONTINUE
} sf_stmt_kind;

typedef struct sf_alias { const char *name, *asname; } sf_alias;   /* asname may be NULL */
typedef struct sf_withitem { sf_expr *context, *vars; } sf_withitem; /* vars may be NULL */
typedef struct sf_handler {
    sf_expr *type;          /* NULL for a bare except */
    const char *name;       /* NULL when no `as` */
    sf_stmt_list body;
    sf_pos pos;
} sf_handler;

struct sf_stmt {
    sf_stmt_kind kind;
    sf_pos pos;
    union {
        /* functiondef and asyncfunctiondef */
        struct { const char *name; sf_arguments *args; sf_stmt_list body;
                 sf_expr_list decorators; sf_expr *returns; } func;
        struct { const char *name; sf_expr_list bases; sf_keyword *kw; int nkw;
                 sf_stmt_list body; sf_expr_list decorators; } cls;
        struct { sf_expr *value; } ret;                 /* value may be NULL */
        struct { sf_expr_list targets; } del;
        struct { sf_expr_list targets; sf_expr *value; } assign;
        struct { sf_expr *target; sf_op op; sf_expr *value; } augassign;
        struct { sf_expr *target, *annotation, *value; int simple; } annassign; /* value may be NULL */
        /* for and asyncfor */
        struct { sf_expr *target, *iter; sf_stmt_list body, orelse; } for_;
        struct { sf_expr *test; sf_stmt_list body, orelse; } while_;
        struct { sf_expr *test; sf_stmt_list body, orelse; } if_;
        /* with and asyncwith */
        struct { sf_withitem *items; int nitems; sf_stmt_list body; } with;
        /* match is kept only as its source text: it is rejected inside entity
         * methods and printed back verbatim elsewhere. */
        struct { const char *source; } match;
        struct { sf_expr *exc, *cause; } raise;         /* both may be NULL */
        /* try and trystar */
        struct { sf_stmt_list body; sf_handler *handlers; int nhandlers;
                 sf_stmt_list orelse, finalbody; } try_;
        struct { sf_expr *test, *msg; } assert_;        /* msg may be NULL */
        struct { sf_alias *names; int nnames; const char *module; int level; } import; /* module NULL for `import x`, or `from . import x` */
        struct { const char **names; int nnames; } global; /* also nonlocal */
        struct { sf_expr *value; } expr;
    } u;
};

typedef struct sf_module {
    const char *filename;   /* as given on the command line */
    const char *source;     /* the whole source text, NUL-terminated */
    sf_stmt_list body;
    /* an application of several modules (modules.h): the files, [0] the
     * entry; lines >> SF_DIAG_FILE_SHIFT index it. NULL/0 for one module. */
    const char *const *files;
    int nfiles;
} sf_module;

/* Constructors used by parse.c and by later stages that synthesise code.
 * All allocate from the arena and zero the node; the caller fills the union. */
sf_expr *sf_expr_new(sf_arena *a, sf_expr_kind kind, sf_pos pos);
sf_stmt *sf_stmt_new(sf_arena *a, sf_stmt_kind kind, sf_pos pos);
sf_expr *sf_expr_name(sf_arena *a, const char *id, sf_pos pos);
sf_expr *sf_expr_str(sf_arena *a, const char *s, sf_pos pos);   /* a str constant */
sf_expr *sf_expr_int(sf_arena *a, long long v, sf_pos pos);     /* an int constant */
sf_expr *sf_expr_none(sf_arena *a, sf_pos pos);
void sf_expr_list_push(sf_arena *a, sf_expr_list *l, sf_expr *e);
void sf_stmt_list_push(sf_arena *a, sf_stmt_list *l, sf_stmt *s);

#endif
