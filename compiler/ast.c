/* ast.c: constructors for the compiler's C AST (see ast.h) and the Python
 * spelling of operators. Every node and array lives in the caller's arena. */
#include "ast.h"

#include <stdio.h>
#include <string.h>

static const char *const op_names[SF_OP__COUNT] = {
    [SF_OP_ADD] = "+",      [SF_OP_SUB] = "-",       [SF_OP_MULT] = "*",
    [SF_OP_MATMULT] = "@",  [SF_OP_DIV] = "/",       [SF_OP_MOD] = "%",
    [SF_OP_POW] = "**",     [SF_OP_LSHIFT] = "<<",   [SF_OP_RSHIFT] = ">>",
    [SF_OP_BITOR] = "|",    [SF_OP_BITXOR] = "^",    [SF_OP_BITAND] = "&",
    [SF_OP_FLOORDIV] = "//",
    [SF_OP_INVERT] = "~",   [SF_OP_NOT] = "not",     [SF_OP_UADD] = "+",
    [SF_OP_USUB] = "-",
    [SF_OP_AND] = "and",    [SF_OP_OR] = "or",
    [SF_OP_EQ] = "==",      [SF_OP_NOTEQ] = "!=",    [SF_OP_LT] = "<",
    [SF_OP_LTE] = "<=",     [SF_OP_GT] = ">",        [SF_OP_GTE] = ">=",
    [SF_OP_IS] = "is",      [SF_OP_ISNOT] = "is not", [SF_OP_IN] = "in",
    [SF_OP_NOTIN] = "not in",
};

const char *sf_op_str(sf_op op)
{
    if ((int)op < 0 || op >= SF_OP__COUNT)
        return "?";
    return op_names[op];
}

sf_expr *sf_expr_new(sf_arena *a, sf_expr_kind kind, sf_pos pos)
{
    sf_expr *e = sf_arena_alloc(a, sizeof(*e));
    e->kind = kind;
    e->pos = pos;
    return e;
}

sf_stmt *sf_stmt_new(sf_arena *a, sf_stmt_kind kind, sf_pos pos)
{
    sf_stmt *s = sf_arena_alloc(a, sizeof(*s));
    s->kind = kind;
    s->pos = pos;
    return s;
}

sf_expr *sf_expr_name(sf_arena *a, const char *id, sf_pos pos)
{
    sf_expr *e = sf_expr_new(a, SF_EX_NAME, pos);
    e->u.name.id = sf_arena_strdup(a, id);
    return e;
}

/* Python's repr() of a str given as UTF-8: single quotes unless the text
 * holds a single quote and no double quote; backslash escapes for the
 * backslash, the quote and ASCII control characters. Non-ASCII text is kept
 * as is (repr() would escape the non-printable ones; the result is valid
 * source either way). */
static char *str_repr(sf_arena *a, const char *s, size_t len)
{
    int has_sq = memchr(s, '\'', len) != NULL;
    int has_dq = memchr(s, '"', len) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    /* worst case: every byte becomes \xNN */
    char *out = sf_arena_alloc(a, len * 4 + 3);
    size_t o = 0;
    out[o++] = q;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)q || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = q;
    out[o] = '\0';
    return out;
}

sf_expr *sf_expr_str(sf_arena *a, const char *s, sf_pos pos)
{
    sf_expr *e = sf_expr_new(a, SF_EX_CONST, pos);
    size_t len = strlen(s);
    e->u.constant.kind = SF_CONST_STR;
    e->u.constant.str = sf_arena_strndup(a, s, len);
    e->u.constant.len = len;
    e->u.constant.repr = str_repr(a, s, len);
    return e;
}

sf_expr *sf_expr_int(sf_arena *a, long long v, sf_pos pos)
{
    sf_expr *e = sf_expr_new(a, SF_EX_CONST, pos);
    e->u.constant.kind = SF_CONST_INT;
    e->u.constant.repr = sf_arena_printf(a, "%lld", v);
    return e;
}

sf_expr *sf_expr_none(sf_arena *a, sf_pos pos)
{
    sf_expr *e = sf_expr_new(a, SF_EX_CONST, pos);
    e->u.constant.kind = SF_CONST_NONE;
    e->u.constant.repr = "None";
    return e;
}

/* Lists carry no capacity (ast.h), and may have been built with an exact
 * size anywhere, so a push always copies into a one-longer array. Lists that
 * grow by pushes are short (statement bodies being synthesised). */
/* Geometric growth: pushing n items costs O(n) time and memory. */
static int list_room(int n, int cap)
{
    if (n < cap)
        return cap;
    return n < 4 ? 4 : n * 2;
}

void sf_expr_list_push(sf_arena *a, sf_expr_list *l, sf_expr *e)
{
    int cap = list_room(l->n, l->cap);
    if (cap != l->cap) {
        l->v = sf_arena_grow(a, l->v, (size_t)l->n, (size_t)cap, sizeof(*l->v));
        l->cap = cap;
    }
    l->v[l->n++] = e;
}

void sf_stmt_list_push(sf_arena *a, sf_stmt_list *l, sf_stmt *s)
{
    int cap = list_room(l->n, l->cap);
    if (cap != l->cap) {
        l->v = sf_arena_grow(a, l->v, (size_t)l->n, (size_t)cap, sizeof(*l->v));
        l->cap = cap;
    }
    l->v[l->n++] = s;
}
