/* unparse.c: prints the C AST back as Python 3.11 source (see unparse.h).
 *
 * Expressions are written with a required precedence: a node whose own
 * precedence is lower is parenthesised. f-strings are the delicate part: in
 * 3.11 a replacement field may not contain a backslash, a comment, or the
 * quote character of an enclosing string, so inside one every string literal is
 * written raw with a quote that does not clash, and the outer quote is chosen
 * by trying each candidate until the whole f-string can be written.
 */
#include "unparse.h"

#include <string.h>

/* Precedence, lowest binding first. */
enum prec {
    P_NAMED,   /* x := y */
    P_YIELD,   /* yield x: bare only as a statement or right of `=` */
    P_TUPLE,   /* a, b (bare) */
    P_TEST,    /* lambda, a if b else c */
    P_OR, P_AND, P_NOT, P_CMP,
    P_BOR, P_BXOR, P_BAND, P_SHIFT, P_ARITH, P_TERM,
    P_FACTOR,  /* unary + - ~ */
    P_POWER,
    P_AWAIT,
    P_ATOM
};

typedef struct quote {
    char ch;     /* ' or " */
    int triple;
} quote;

typedef struct up {
    sf_buf *b;
    int fdepth;        /* > 0 inside an f-string replacement field */
    unsigned forbid;   /* quote characters of enclosing single-quoted
                        * f-strings, which may not appear: 1 = ', 2 = " */
    int failed;        /* something could not be written under the constraints */
} up;

static void expr(up *u, const sf_expr *e, int prec);
static void generators(up *u, const sf_comprehension *g, int n);

static void puts_(up *u, const char *s) { sf_buf_puts(u->b, s); }
static void putc_(up *u, char c) { sf_buf_putc(u->b, c); }

static void truncate_to(sf_buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static unsigned quote_bit(char ch) { return ch == '\'' ? 1u : 2u; }

/* ---- precedence ----------------------------------------------------------- */

static int binop_prec(sf_op op)
{
    switch (op) {
    case SF_OP_BITOR: return P_BOR;
    case SF_OP_BITXOR: return P_BXOR;
    case SF_OP_BITAND: return P_BAND;
    case SF_OP_LSHIFT: case SF_OP_RSHIFT: return P_SHIFT;
    case SF_OP_ADD: case SF_OP_SUB: return P_ARITH;
    case SF_OP_POW: return P_POWER;
    default: return P_TERM;   /* * @ / // % */
    }
}

static int expr_prec(const sf_expr *e)
{
    switch (e->kind) {
    case SF_EX_NAMEDEXPR: return P_NAMED;
    case SF_EX_TUPLE: return e->u.seq.elts.n ? P_TUPLE : P_ATOM;
    case SF_EX_YIELD: case SF_EX_YIELDFROM: return P_YIELD;
    case SF_EX_LAMBDA: case SF_EX_IFEXP: return P_TEST;
    case SF_EX_BOOLOP: return e->u.boolop.op == SF_OP_AND ? P_AND : P_OR;
    case SF_EX_UNARYOP: return e->u.unaryop.op == SF_OP_NOT ? P_NOT : P_FACTOR;
    case SF_EX_COMPARE: return P_CMP;
    case SF_EX_BINOP: return binop_prec(e->u.binop.op);
    case SF_EX_AWAIT: return P_AWAIT;
    case SF_EX_CONST:
        /* a synthesised negative number reads like a unary minus */
        return e->u.constant.repr && e->u.constant.repr[0] == '-' ? P_FACTOR : P_ATOM;
    default: return P_ATOM;
    }
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Decode one code point at s[i] (len bytes); returns its byte length (>= 1).
 * Invalid bytes decode as themselves (cp = byte, length 1). */
static size_t utf8_next(const unsigned char *s, size_t len, size_t i, unsigned *cp)
{
    unsigned c = s[i];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
             : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > len) {
        *cp = c;
        return 1;
    }
    unsigned v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    *cp = v;
    return n;
}

/* ---- string literals inside f-string replacement fields ------------------- */

/* Can s be written raw (no escapes) between quotes q inside a replacement
 * field, given the forbidden quote characters? */
static int raw_fits(const unsigned char *s, size_t len, quote q, unsigned forbid, int bytes)
{
    if (forbid & quote_bit(q.ch))
        return 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_next(s, len, i, &cp);
        if (cp == '\\' || cp == 0 || cp == '\r')
            return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return 0;
        if (bytes && cp >= 0x80)
            return 0;
        if (cp == '\n' && !q.triple)
            return 0;
        if ((cp == '\'' && (forbid & 1)) || (cp == '"' && (forbid & 2)))
            return 0;
        if (cp == (unsigned char)q.ch) {
            if (!q.triple)
                return 0;
            /* inside triple quotes: no run of three, and not last */
            if (i + 1 == len)
                return 0;
            if (i + 2 < len && s[i + 1] == (unsigned char)q.ch && s[i + 2] == (unsigned char)q.ch)
                return 0;
        }
        i += n;
    }
    return 1;
}

static const quote quote_candidates[4] = {{'\'', 0}, {'"', 0}, {'\'', 1}, {'"', 1}};

static void put_quote(up *u, quote q)
{
    putc_(u, q.ch);
    if (q.triple) {
        putc_(u, q.ch);
        putc_(u, q.ch);
    }
}

/* A str or bytes constant inside a replacement field. */
static void constrained_string(up *u, const sf_expr *e)
{
    const unsigned char *s = (const unsigned char *)(e->u.constant.str ? e->u.constant.str : "");
    size_t len = e->u.constant.str ? e->u.constant.len : 0;
    int bytes = e->u.constant.kind == SF_CONST_BYTES;
    for (int k = 0; k < 4; k++) {
        quote q = quote_candidates[k];
        if (!raw_fits(s, len, q, u->forbid, bytes))
            continue;
        if (bytes)
            putc_(u, 'b');
        put_quote(u, q);
        sf_buf_append(u->b, s, len);
        put_quote(u, q);
        return;
    }
    u->failed = 1;
    puts_(u, e->u.constant.repr ? e->u.constant.repr : "''");
}

/* ---- f-strings ---------------------------------------------------------------- */

/* Literal text of an f-string (or of its format spec). escaped: the outermost
 * f-string, where backslash escapes are allowed; otherwise the text must be
 * written raw. */
static void fstring_text(up *u, const char *str, size_t len, quote q, int escaped, int in_spec)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_next(s, len, i, &cp);
        if (cp == '{' || cp == '}') {
            if (in_spec)
                u->failed = 1; /* a format spec cannot hold a literal brace */
            putc_(u, (char)cp);
            putc_(u, (char)cp);
        } else if (escaped) {
            if (cp == '\\' || cp == (unsigned char)q.ch) {
                putc_(u, '\\');
                putc_(u, (char)cp);
            } else if (cp == '\n') {
                puts_(u, "\\n");
            } else if (cp == '\r') {
                puts_(u, "\\r");
            } else if (cp == '\t') {
                puts_(u, "\\t");
            } else if (cp < 0x20 || cp == 0x7f || (n == 1 && cp >= 0x80)) {
                sf_buf_printf(u->b, "\\x%02x", cp);
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                sf_buf_printf(u->b, "\\u%04x", cp);
            } else {
                sf_buf_append(u->b, s + i, n);
            }
        } else {
            if (cp == '\\' || cp == 0 || cp == '\r' || (cp >= 0xD800 && cp <= 0xDFFF) ||
                (cp == '\n' && !q.triple) || cp == (unsigned char)q.ch ||
                (cp == '\'' && (u->forbid & 1)) || (cp == '"' && (u->forbid & 2)))
                u->failed = 1;
            sf_buf_append(u->b, s + i, n);
        }
        i += n;
    }
}

static void fstring_values(up *u, const sf_expr_list *values, quote q, int escaped, int in_spec);

/* One replacement field {expr!c:spec}. */
static void fstring_field(up *u, const sf_expr *f, quote q, int escaped)
{
    const sf_expr *value = f->kind == SF_EX_FORMATTED ? f->u.formatted.value : f;
    sf_buf tmp;
    sf_buf_init(&tmp);
    sf_buf *saved = u->b;
    unsigned saved_forbid = u->forbid;
    u->b = &tmp;
    u->fdepth++;
    /* a single-quoted string ends at its quote character; a triple-quoted
     * one only at a run of three, which fstring() checks afterwards */
    if (!q.triple)
        u->forbid |= quote_bit(q.ch);
    expr(u, value, P_OR);
    u->fdepth--;
    u->forbid = saved_forbid;
    u->b = saved;
    const char *t = tmp.data ? tmp.data : "";
    if (strchr(t, '\\') || (!q.triple && strchr(t, '\n')))
        u->failed = 1;
    putc_(u, '{');
    if (t[0] == '{')
        putc_(u, ' ');
    sf_buf_append(u->b, t, tmp.len);
    sf_buf_free(&tmp);
    if (f->kind == SF_EX_FORMATTED) {
        int conv = f->u.formatted.conversion;
        if (conv == 's' || conv == 'r' || conv == 'a') {
            putc_(u, '!');
            putc_(u, (char)conv);
        }
        const sf_expr *spec = f->u.formatted.format_spec;
        if (spec) {
            putc_(u, ':');
            if (spec->kind == SF_EX_JOINEDSTR)
                fstring_values(u, &spec->u.joinedstr.values, q, escaped, 1);
            else if (spec->kind == SF_EX_CONST && spec->u.constant.kind == SF_CONST_STR)
                fstring_text(u, spec->u.constant.str, spec->u.constant.len, q, escaped, 1);
            else
                fstring_field(u, spec, q, escaped);
        }
    }
    putc_(u, '}');
}

static void fstring_values(up *u, const sf_expr_list *values, quote q, int escaped, int in_spec)
{
    for (int i = 0; i < values->n; i++) {
        const sf_expr *v = values->v[i];
        if (v->kind == SF_EX_CONST && v->u.constant.kind == SF_CONST_STR)
            fstring_text(u, v->u.constant.str ? v->u.constant.str : "", v->u.constant.len,
                         q, escaped, in_spec);
        else
            fstring_field(u, v, q, escaped);
    }
}

/* An f-string as ''.join((format(value, spec), 'text', ...)). */
static void fstring_fallback(up *u, const sf_expr_list *values)
{
    if (values->n == 0) {
        puts_(u, "''");
        return;
    }
    puts_(u, "''.join((");
    for (int i = 0; i < values->n; i++) {
        const sf_expr *v = values->v[i];
        if (i)
            puts_(u, ", ");
        if (v->kind == SF_EX_CONST) {
            expr(u, v, P_TEST);
            continue;
        }
        const sf_expr *value = v->kind == SF_EX_FORMATTED ? v->u.formatted.value : v;
        int conv = v->kind == SF_EX_FORMATTED ? v->u.formatted.conversion : -1;
        const sf_expr *spec = v->kind == SF_EX_FORMATTED ? v->u.formatted.format_spec : NULL;
        puts_(u, "format(");
        const char *fn = conv == 'r' ? "repr(" : conv == 's' ? "str(" : conv == 'a' ? "ascii(" : NULL;
        if (fn)
            puts_(u, fn);
        /* printed as a call would be, so that the output is a fixed point */
        if ((fn || !spec) && value->kind == SF_EX_GENEXP) {
            expr(u, value->u.comp.elt, P_TEST);
            generators(u, value->u.comp.gens, value->u.comp.ngens);
        } else {
            expr(u, value, P_TEST);
        }
        if (fn)
            putc_(u, ')');
        if (spec) {
            puts_(u, ", ");
            expr(u, spec, P_TEST);
        }
        putc_(u, ')');
    }
    if (values->n == 1)
        putc_(u, ',');
    puts_(u, "))");
}

/* Does text (an f-string body) hold three unescaped ch in a row, or end in
 * an unescaped ch? Either would end a triple-quoted string early. */
static int has_quote_run(const char *text, size_t len, char ch)
{
    int run = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\') {
            run = 0;
            i++;
        } else if (text[i] == ch) {
            if (++run == 3)
                return 1;
        } else {
            run = 0;
        }
    }
    return run > 0;
}

/* A JoinedStr (or a lone FormattedValue): try each quote until one works. */
static void fstring(up *u, const sf_expr *e)
{
    sf_expr_list single = {(sf_expr **)&e, 1, 1};
    const sf_expr_list *values = e->kind == SF_EX_JOINEDSTR ? &e->u.joinedstr.values : &single;
    int escaped = u->fdepth == 0;
    int outer_failed = u->failed;
    size_t start = u->b->len;
    int first = -1;
    for (int k = 0; k < 4; k++) {
        quote q = quote_candidates[k];
        if (u->forbid & quote_bit(q.ch))
            continue;
        if (first < 0)
            first = k;
        u->failed = 0;
        putc_(u, 'f');
        put_quote(u, q);
        size_t body = u->b->len;
        fstring_values(u, values, q, escaped, 0);
        if (q.triple && has_quote_run(u->b->data + body, u->b->len - body, q.ch))
            u->failed = 1;
        put_quote(u, q);
        if (!u->failed) {
            u->failed = outer_failed;
            return;
        }
        truncate_to(u->b, start);
    }
    if (u->fdepth == 0) {
        /* no quoting works (a tree 3.11 syntax can only produce through
         * quirks such as `=` inside a nested format spec): write the
         * equivalent join of format() calls */
        u->failed = outer_failed;
        fstring_fallback(u, values);
        return;
    }
    /* nested: report failure so that the enclosing f-string tries another
     * quote, or falls back itself */
    quote q = first >= 0 ? quote_candidates[first] : quote_candidates[0];
    putc_(u, 'f');
    put_quote(u, q);
    fstring_values(u, values, q, escaped, 0);
    put_quote(u, q);
    u->failed = 1;
}

/* ---- expressions -------------------------------------------------------------- */

static void constant(up *u, const sf_expr *e)
{
    const char *r = e->u.constant.repr;
    if (!r) {
        puts_(u, "None");
        return;
    }
    switch (e->u.constant.kind) {
    case SF_CONST_STR:
    case SF_CONST_BYTES:
        if (u->fdepth > 0) {
            constrained_string(u, e);
            return;
        }
        puts_(u, r);
        return;
    case SF_CONST_FLOAT:
    case SF_CONST_COMPLEX:
        /* repr() spells overflowed literals "inf": write a literal that
         * overflows the same way */
        for (const char *p = r; *p;) {
            if (strncmp(p, "inf", 3) == 0) {
                puts_(u, "1e309");
                p += 3;
            } else {
                putc_(u, *p++);
            }
        }
        return;
    default:
        puts_(u, r);
        return;
    }
}

static void expr_list(up *u, const sf_expr_list *l, int prec)
{
    for (int i = 0; i < l->n; i++) {
        if (i)
            puts_(u, ", ");
        expr(u, l->v[i], prec);
    }
}

static void arg(up *u, const sf_arg *a, int annotations)
{
    puts_(u, a->name ? a->name : "_");
    if (annotations && a->annotation) {
        puts_(u, ": ");
        expr(u, a->annotation, P_TEST);
    }
}

static void arguments(up *u, const sf_arguments *a, int annotations)
{
    if (!a)
        return;
    int npos = a->nposonly + a->nargs;
    int first_default = npos - a->defaults.n;
    int n = 0;
    for (int i = 0; i < npos; i++) {
        const sf_arg *p = i < a->nposonly ? &a->posonly[i] : &a->args[i - a->nposonly];
        if (n++)
            puts_(u, ", ");
        arg(u, p, annotations);
        if (i >= first_default && i - first_default < a->defaults.n) {
            puts_(u, annotations && p->annotation ? " = " : "=");
            expr(u, a->defaults.v[i - first_default], P_TEST);
        }
        if (i == a->nposonly - 1)
            puts_(u, ", /");
    }
    if (a->vararg || a->nkwonly) {
        if (n++)
            puts_(u, ", ");
        putc_(u, '*');
        if (a->vararg)
            arg(u, a->vararg, annotations);
    }
    for (int i = 0; i < a->nkwonly; i++) {
        if (n++)
            puts_(u, ", ");
        arg(u, &a->kwonly[i], annotations);
        if (a->kw_defaults && a->kw_defaults[i]) {
            puts_(u, annotations && a->kwonly[i].annotation ? " = " : "=");
            expr(u, a->kw_defaults[i], P_TEST);
        }
    }
    if (a->kwarg) {
        if (n++)
            puts_(u, ", ");
        puts_(u, "**");
        arg(u, a->kwarg, annotations);
    }
}

static int has_arguments(const sf_arguments *a)
{
    return a && (a->nposonly || a->nargs || a->vararg || a->nkwonly || a->kwarg);
}

/* Call arguments or class bases: positional first, then keywords. */
static void call_args(up *u, const sf_expr_list *args, const sf_keyword *kw, int nkw)
{
    int n = 0;
    for (int i = 0; i < args->n; i++) {
        if (n++)
            puts_(u, ", ");
        expr(u, args->v[i], P_TEST);
    }
    for (int i = 0; i < nkw; i++) {
        if (n++)
            puts_(u, ", ");
        if (kw[i].arg) {
            puts_(u, kw[i].arg);
            putc_(u, '=');
            expr(u, kw[i].value, P_TEST);
        } else {
            puts_(u, "**");
            expr(u, kw[i].value, P_BOR);
        }
    }
}

static void generators(up *u, const sf_comprehension *g, int n)
{
    for (int i = 0; i < n; i++) {
        puts_(u, g[i].is_async ? " async for " : " for ");
        expr(u, g[i].target, P_TUPLE);
        puts_(u, " in ");
        expr(u, g[i].iter, P_OR);
        for (int k = 0; k < g[i].ifs.n; k++) {
            puts_(u, " if ");
            expr(u, g[i].ifs.v[k], P_OR);
        }
    }
}

/* A subscript's slice: tuples print bare, slices as a:b:c. */
static void slice_part(up *u, const sf_expr *e)
{
    if (e->kind == SF_EX_SLICE) {
        if (e->u.slice.lower)
            expr(u, e->u.slice.lower, P_OR);
        putc_(u, ':');
        if (e->u.slice.upper)
            expr(u, e->u.slice.upper, P_OR);
        if (e->u.slice.step) {
            putc_(u, ':');
            expr(u, e->u.slice.step, P_OR);
        }
    } else {
        expr(u, e, P_TEST);
    }
}

static void subscript_slice(up *u, const sf_expr *s)
{
    if (s->kind == SF_EX_TUPLE && s->u.seq.elts.n > 0) {
        for (int i = 0; i < s->u.seq.elts.n; i++) {
            if (i)
                puts_(u, ", ");
            slice_part(u, s->u.seq.elts.v[i]);
        }
        if (s->u.seq.elts.n == 1)
            putc_(u, ',');
    } else {
        slice_part(u, s);
    }
}

static void expr_inner(up *u, const sf_expr *e)
{
    switch (e->kind) {
    case SF_EX_NAME:
        puts_(u, e->u.name.id);
        break;
    case SF_EX_CONST:
        constant(u, e);
        break;
    case SF_EX_ATTR: {
        const sf_expr *v = e->u.attr.value;
        expr(u, v, P_ATOM);
        /* `1.real` would read as a float: write `1 .real` */
        if (v->kind == SF_EX_CONST && v->u.constant.kind == SF_CONST_INT && expr_prec(v) == P_ATOM)
            putc_(u, ' ');
        putc_(u, '.');
        puts_(u, e->u.attr.attr);
        break;
    }
    case SF_EX_CALL:
        expr(u, e->u.call.func, P_ATOM);
        putc_(u, '(');
        if (e->u.call.args.n == 1 && e->u.call.nkw == 0 &&
            e->u.call.args.v[0]->kind == SF_EX_GENEXP) {
            /* f(x for x in y): the call's parentheses serve the generator */
            const sf_expr *g = e->u.call.args.v[0];
            expr(u, g->u.comp.elt, P_TEST);
            generators(u, g->u.comp.gens, g->u.comp.ngens);
        } else {
            call_args(u, &e->u.call.args, e->u.call.kw, e->u.call.nkw);
        }
        putc_(u, ')');
        break;
    case SF_EX_BINOP: {
        int p = binop_prec(e->u.binop.op);
        if (e->u.binop.op == SF_OP_POW) {
            /* right-associative; the right operand may be a unary minus */
            expr(u, e->u.binop.left, P_AWAIT);
            puts_(u, " ** ");
            expr(u, e->u.binop.right, P_FACTOR);
        } else {
            expr(u, e->u.binop.left, p);
            putc_(u, ' ');
            puts_(u, sf_op_str(e->u.binop.op));
            putc_(u, ' ');
            expr(u, e->u.binop.right, p + 1);
        }
        break;
    }
    case SF_EX_UNARYOP:
        if (e->u.unaryop.op == SF_OP_NOT) {
            puts_(u, "not ");
            expr(u, e->u.unaryop.operand, P_NOT);
        } else {
            puts_(u, sf_op_str(e->u.unaryop.op));
            expr(u, e->u.unaryop.operand, P_FACTOR);
        }
        break;
    case SF_EX_BOOLOP: {
        int p = e->u.boolop.op == SF_OP_AND ? P_AND : P_OR;
        for (int i = 0; i < e->u.boolop.values.n; i++) {
            if (i) {
                putc_(u, ' ');
                puts_(u, sf_op_str(e->u.boolop.op));
                putc_(u, ' ');
            }
            expr(u, e->u.boolop.values.v[i], p + 1);
        }
        break;
    }
    case SF_EX_COMPARE:
        expr(u, e->u.compare.left, P_BOR);
        for (int i = 0; i < e->u.compare.comparators.n; i++) {
            putc_(u, ' ');
            puts_(u, sf_op_str(e->u.compare.ops[i]));
            putc_(u, ' ');
            expr(u, e->u.compare.comparators.v[i], P_BOR);
        }
        break;
    case SF_EX_IFEXP:
        expr(u, e->u.ifexp.body, P_OR);
        puts_(u, " if ");
        expr(u, e->u.ifexp.test, P_OR);
        puts_(u, " else ");
        expr(u, e->u.ifexp.orelse, P_TEST);
        break;
    case SF_EX_LIST:
        putc_(u, '[');
        expr_list(u, &e->u.seq.elts, P_TEST);
        putc_(u, ']');
        break;
    case SF_EX_SET:
        if (e->u.seq.elts.n == 0) {
            puts_(u, "{*()}");   /* there is no empty-set literal */
            break;
        }
        putc_(u, '{');
        expr_list(u, &e->u.seq.elts, P_TEST);
        putc_(u, '}');
        break;
    case SF_EX_TUPLE:
        /* the parentheses, when needed, come from expr() */
        if (e->u.seq.elts.n == 0) {
            puts_(u, "()");
            break;
        }
        expr_list(u, &e->u.seq.elts, P_TEST);
        if (e->u.seq.elts.n == 1)
            putc_(u, ',');
        break;
    case SF_EX_DICT:
        putc_(u, '{');
        for (int i = 0; i < e->u.dict.n; i++) {
            if (i)
                puts_(u, ", ");
            if (e->u.dict.keys[i]) {
                expr(u, e->u.dict.keys[i], P_TEST);
                puts_(u, ": ");
                expr(u, e->u.dict.values[i], P_TEST);
            } else {
                puts_(u, "**");
                expr(u, e->u.dict.values[i], P_BOR);
            }
        }
        putc_(u, '}');
        break;
    case SF_EX_SUBSCRIPT:
        expr(u, e->u.subscript.value, P_ATOM);
        putc_(u, '[');
        subscript_slice(u, e->u.subscript.slice);
        putc_(u, ']');
        break;
    case SF_EX_SLICE:
        /* only valid inside a subscript; printed standalone for diagnostics */
        slice_part(u, e);
        break;
    case SF_EX_LAMBDA:
        puts_(u, "lambda");
        if (has_arguments(e->u.lambda.args)) {
            putc_(u, ' ');
            arguments(u, e->u.lambda.args, 0);
        }
        puts_(u, ": ");
        expr(u, e->u.lambda.body, P_TEST);
        break;
    case SF_EX_LISTCOMP:
    case SF_EX_SETCOMP:
    case SF_EX_GENEXP:
    case SF_EX_DICTCOMP: {
        char open = e->kind == SF_EX_LISTCOMP ? '[' : e->kind == SF_EX_GENEXP ? '(' : '{';
        char close = open == '[' ? ']' : open == '(' ? ')' : '}';
        putc_(u, open);
        expr(u, e->u.comp.elt, P_TEST);
        if (e->kind == SF_EX_DICTCOMP) {
            puts_(u, ": ");
            expr(u, e->u.comp.value, P_TEST);
        }
        generators(u, e->u.comp.gens, e->u.comp.ngens);
        putc_(u, close);
        break;
    }
    case SF_EX_JOINEDSTR:
    case SF_EX_FORMATTED:
        fstring(u, e);
        break;
    case SF_EX_STARRED:
        putc_(u, '*');
        expr(u, e->u.starred.value, P_BOR);
        break;
    case SF_EX_NAMEDEXPR:
        expr(u, e->u.namedexpr.target, P_ATOM);
        puts_(u, " := ");
        expr(u, e->u.namedexpr.value, P_TEST);
        break;
    case SF_EX_AWAIT:
        puts_(u, "await ");
        expr(u, e->u.starred.value, P_ATOM);
        break;
    case SF_EX_YIELD:
        puts_(u, "yield");
        if (e->u.starred.value) {
            putc_(u, ' ');
            expr(u, e->u.starred.value, P_TUPLE);
        }
        break;
    case SF_EX_YIELDFROM:
        puts_(u, "yield from ");
        expr(u, e->u.starred.value, P_TEST);
        break;
    }
}

static void expr(up *u, const sf_expr *e, int prec)
{
    if (!e) {
        puts_(u, "None");
        return;
    }
    /* a starred item is never parenthesised: (*a) is not an expression */
    int paren = e->kind != SF_EX_STARRED && expr_prec(e) < prec;
    if (paren)
        putc_(u, '(');
    expr_inner(u, e);
    if (paren)
        putc_(u, ')');
}

/* ---- statements ------------------------------------------------------------- */

static void indent_to(up *u, int level)
{
    for (int i = 0; i < level; i++)
        puts_(u, "    ");
}

static void stmt(up *u, const sf_stmt *s, int ind);

static void block(up *u, const sf_stmt_list *l, int ind)
{
    if (l->n == 0) {
        indent_to(u, ind);
        puts_(u, "pass\n");
        return;
    }
    for (int i = 0; i < l->n; i++) {
        const sf_stmt *s = l->v[i];
        if (i > 0 && (s->kind == SF_ST_FUNCTIONDEF || s->kind == SF_ST_ASYNCFUNCTIONDEF ||
                      s->kind == SF_ST_CLASSDEF))
            putc_(u, '\n');
        stmt(u, s, ind);
    }
}

static void decorators(up *u, const sf_expr_list *l, int ind)
{
    for (int i = 0; i < l->n; i++) {
        indent_to(u, ind);
        putc_(u, '@');
        expr(u, l->v[i], P_TEST);
        putc_(u, '\n');
    }
}

/* `header:` followed by the indented body. */
static void body_after(up *u, const sf_stmt_list *l, int ind)
{
    puts_(u, ":\n");
    block(u, l, ind + 1);
}

static void else_block(up *u, const char *kw, const sf_stmt_list *l, int ind)
{
    if (l->n == 0)
        return;
    indent_to(u, ind);
    puts_(u, kw);
    body_after(u, l, ind);
}

/* Print a match statement kept as source text. The first line goes after
 * the new indentation. Every later line that starts a logical line is
 * re-indented: its width (tabs to multiples of 8, a form feed resets, as in
 * CPython's tokenizer) relative to the first such line (the first `case`)
 * becomes spaces below one extra level. Lines that continue a bracket or a
 * backslash, and lines that start inside a string literal, are kept exactly;
 * comment-only lines move to the case level. */
static void match_source(up *u, const char *src, int ind)
{
    enum { NORMAL, COMMENT, STRING } state = NORMAL;
    char qch = 0;
    int triple = 0, depth = 0, cont = 0, base = -1;
    /* a line holding only a backslash joins the next one, which then starts
     * the logical line; its width is the backslash's column when that is
     * not 0 (CPython 3.11), else the next line's own */
    int bare = 0, bare_width = 0;
    const char *p = src;
    int first = 1;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        int was_bare = bare;
        bare = 0;
        if (first) {
            indent_to(u, ind);
            sf_buf_append(u->b, p, n);
        } else if (state == STRING || depth > 0 || (cont && !was_bare)) {
            sf_buf_append(u->b, p, n);
        } else {
            size_t k = 0;
            int width = 0;
            for (; k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\f'); k++)
                width = p[k] == ' ' ? width + 1 : p[k] == '\t' ? (width / 8 + 1) * 8 : 0;
            if (was_bare && bare_width > 0)
                width = bare_width;
            if (k + 1 == n && p[k] == '\\') {
                bare = 1;
                if (!was_bare)
                    bare_width = width;
                putc_(u, '\\');
            } else if (k < n && p[k] != '#') {
                if (base < 0)
                    base = width;
                indent_to(u, ind + 1);
                for (int w = base; w < width; w++)
                    putc_(u, ' ');
                sf_buf_append(u->b, p + k, n - k);
            } else if (k < n) {
                indent_to(u, ind + 1);
                sf_buf_append(u->b, p + k, n - k);
            }
        }
        putc_(u, '\n');
        /* advance the lexical state over this line */
        cont = 0;
        if (state == COMMENT)
            state = NORMAL;
        for (size_t i = 0; i < n;) {
            char ch = p[i];
            if (state == COMMENT) {
                i++;
            } else if (state == NORMAL) {
                if (ch == '#') {
                    state = COMMENT;
                } else if (ch == '\\') {
                    if (i + 1 == n)
                        cont = 1;
                    i++;
                } else if (ch == '\'' || ch == '"') {
                    qch = ch;
                    triple = i + 2 < n && p[i + 1] == ch && p[i + 2] == ch;
                    state = STRING;
                    i += triple ? 2 : 0;
                } else if (ch == '(' || ch == '[' || ch == '{') {
                    depth++;
                } else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) {
                    depth--;
                }
                i++;
            } else {
                if (ch == '\\') {
                    i += 2;   /* may step over the line end: still in the string */
                } else if (ch == qch && (!triple || (i + 2 < n && p[i + 1] == ch && p[i + 2] == ch))) {
                    state = NORMAL;
                    i += triple ? 3 : 1;
                } else {
                    i++;
                }
            }
        }
        if (state == COMMENT)
            state = NORMAL;
        first = 0;
        if (!eol)
            break;
        p = eol + 1;
    }
}

static void with_items(up *u, const sf_withitem *items, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            puts_(u, ", ");
        const sf_expr *ctx = items[i].context;
        if (n == 1 && !items[i].vars && ctx && ctx->kind == SF_EX_TUPLE && ctx->u.seq.elts.n > 0) {
            /* `with (a, b):` would mean two items */
            putc_(u, '(');
            expr(u, ctx, P_TEST);
            putc_(u, ')');
        } else {
            expr(u, ctx, P_TEST);
        }
        if (items[i].vars) {
            puts_(u, " as ");
            expr(u, items[i].vars, P_TEST);
        }
    }
}

static void aliases(up *u, const sf_alias *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            puts_(u, ", ");
        puts_(u, names[i].name);
        if (names[i].asname) {
            puts_(u, " as ");
            puts_(u, names[i].asname);
        }
    }
}

/* A multi-line string statement (a docstring) that can be written raw
 * between triple double quotes is printed that way, for readability. */
static int docstring(up *u, const sf_expr *e)
{
    if (e->kind != SF_EX_CONST || e->u.constant.kind != SF_CONST_STR || !e->u.constant.str)
        return 0;
    const unsigned char *s = (const unsigned char *)e->u.constant.str;
    size_t len = e->u.constant.len;
    if (!memchr(s, '\n', len) || (len && s[len - 1] == '"'))
        return 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_next(s, len, i, &cp);
        if (cp == '\\' || (cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f ||
            (n == 1 && cp >= 0x80) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        if (cp == '"' && i + 2 < len && s[i + 1] == '"' && s[i + 2] == '"')
            return 0;
        i += n;
    }
    puts_(u, "\"\"\"");
    sf_buf_append(u->b, s, len);
    puts_(u, "\"\"\"");
    return 1;
}

static void stmt(up *u, const sf_stmt *s, int ind)
{
    switch (s->kind) {
    case SF_ST_FUNCTIONDEF:
    case SF_ST_ASYNCFUNCTIONDEF:
        decorators(u, &s->u.func.decorators, ind);
        indent_to(u, ind);
        puts_(u, s->kind == SF_ST_ASYNCFUNCTIONDEF ? "async def " : "def ");
        puts_(u, s->u.func.name);
        putc_(u, '(');
        arguments(u, s->u.func.args, 1);
        putc_(u, ')');
        if (s->u.func.returns) {
            puts_(u, " -> ");
            expr(u, s->u.func.returns, P_TEST);
        }
        body_after(u, &s->u.func.body, ind);
        return;
    case SF_ST_CLASSDEF:
        decorators(u, &s->u.cls.decorators, ind);
        indent_to(u, ind);
        puts_(u, "class ");
        puts_(u, s->u.cls.name);
        if (s->u.cls.bases.n || s->u.cls.nkw) {
            putc_(u, '(');
            call_args(u, &s->u.cls.bases, s->u.cls.kw, s->u.cls.nkw);
            putc_(u, ')');
        }
        body_after(u, &s->u.cls.body, ind);
        return;
    case SF_ST_FOR:
    case SF_ST_ASYNCFOR:
        indent_to(u, ind);
        puts_(u, s->kind == SF_ST_ASYNCFOR ? "async for " : "for ");
        expr(u, s->u.for_.target, P_TUPLE);
        puts_(u, " in ");
        expr(u, s->u.for_.iter, P_TUPLE);
        body_after(u, &s->u.for_.body, ind);
        else_block(u, "else", &s->u.for_.orelse, ind);
        return;
    case SF_ST_WHILE:
        indent_to(u, ind);
        puts_(u, "while ");
        expr(u, s->u.while_.test, P_TEST);
        body_after(u, &s->u.while_.body, ind);
        else_block(u, "else", &s->u.while_.orelse, ind);
        return;
    case SF_ST_IF: {
        indent_to(u, ind);
        puts_(u, "if ");
        expr(u, s->u.if_.test, P_TEST);
        body_after(u, &s->u.if_.body, ind);
        const sf_stmt *cur = s;
        /* an else holding only an if is written as elif */
        while (cur->u.if_.orelse.n == 1 && cur->u.if_.orelse.v[0]->kind == SF_ST_IF) {
            cur = cur->u.if_.orelse.v[0];
            indent_to(u, ind);
            puts_(u, "elif ");
            expr(u, cur->u.if_.test, P_TEST);
            body_after(u, &cur->u.if_.body, ind);
        }
        else_block(u, "else", &cur->u.if_.orelse, ind);
        return;
    }
    case SF_ST_WITH:
    case SF_ST_ASYNCWITH:
        indent_to(u, ind);
        puts_(u, s->kind == SF_ST_ASYNCWITH ? "async with " : "with ");
        with_items(u, s->u.with.items, s->u.with.nitems);
        body_after(u, &s->u.with.body, ind);
        return;
    case SF_ST_MATCH:
        match_source(u, s->u.match.source ? s->u.match.source : "pass", ind);
        return;
    case SF_ST_TRY:
    case SF_ST_TRYSTAR:
        indent_to(u, ind);
        puts_(u, "try");
        body_after(u, &s->u.try_.body, ind);
        for (int i = 0; i < s->u.try_.nhandlers; i++) {
            const sf_handler *h = &s->u.try_.handlers[i];
            indent_to(u, ind);
            puts_(u, s->kind == SF_ST_TRYSTAR ? "except*" : "except");
            if (h->type) {
                putc_(u, ' ');
                expr(u, h->type, P_TEST);
            }
            if (h->name) {
                puts_(u, " as ");
                puts_(u, h->name);
            }
            body_after(u, &h->body, ind);
        }
        else_block(u, "else", &s->u.try_.orelse, ind);
        else_block(u, "finally", &s->u.try_.finalbody, ind);
        return;
    default:
        break;
    }

    /* simple statements: one line */
    indent_to(u, ind);
    switch (s->kind) {
    case SF_ST_RETURN:
        puts_(u, "return");
        if (s->u.ret.value) {
            putc_(u, ' ');
            expr(u, s->u.ret.value, P_TUPLE);
        }
        break;
    case SF_ST_DELETE:
        puts_(u, "del ");
        expr_list(u, &s->u.del.targets, P_TEST);
        break;
    case SF_ST_ASSIGN:
        for (int i = 0; i < s->u.assign.targets.n; i++) {
            expr(u, s->u.assign.targets.v[i], P_TUPLE);
            puts_(u, " = ");
        }
        expr(u, s->u.assign.value, P_YIELD);
        break;
    case SF_ST_AUGASSIGN:
        expr(u, s->u.augassign.target, P_TEST);
        putc_(u, ' ');
        puts_(u, sf_op_str(s->u.augassign.op));
        puts_(u, "= ");
        expr(u, s->u.augassign.value, P_YIELD);
        break;
    case SF_ST_ANNASSIGN: {
        const sf_expr *t = s->u.annassign.target;
        if (!s->u.annassign.simple && t->kind == SF_EX_NAME) {
            /* (x): int is not simple: it does not bind an annotation */
            putc_(u, '(');
            expr(u, t, P_TEST);
            putc_(u, ')');
        } else {
            expr(u, t, P_TEST);
        }
        puts_(u, ": ");
        expr(u, s->u.annassign.annotation, P_TEST);
        if (s->u.annassign.value) {
            puts_(u, " = ");
            expr(u, s->u.annassign.value, P_YIELD);
        }
        break;
    }
    case SF_ST_RAISE:
        puts_(u, "raise");
        if (s->u.raise.exc) {
            putc_(u, ' ');
            expr(u, s->u.raise.exc, P_TEST);
            if (s->u.raise.cause) {
                puts_(u, " from ");
                expr(u, s->u.raise.cause, P_TEST);
            }
        }
        break;
    case SF_ST_ASSERT:
        puts_(u, "assert ");
        expr(u, s->u.assert_.test, P_TEST);
        if (s->u.assert_.msg) {
            puts_(u, ", ");
            expr(u, s->u.assert_.msg, P_TEST);
        }
        break;
    case SF_ST_IMPORT:
        puts_(u, "import ");
        aliases(u, s->u.import.names, s->u.import.nnames);
        break;
    case SF_ST_IMPORTFROM:
        puts_(u, "from ");
        for (int i = 0; i < s->u.import.level; i++)
            putc_(u, '.');
        if (s->u.import.module)
            puts_(u, s->u.import.module);
        puts_(u, " import ");
        aliases(u, s->u.import.names, s->u.import.nnames);
        break;
    case SF_ST_GLOBAL:
    case SF_ST_NONLOCAL:
        puts_(u, s->kind == SF_ST_GLOBAL ? "global " : "nonlocal ");
        for (int i = 0; i < s->u.global.nnames; i++) {
            if (i)
                puts_(u, ", ");
            puts_(u, s->u.global.names[i]);
        }
        break;
    case SF_ST_EXPR:
        if (!docstring(u, s->u.expr.value))
            expr(u, s->u.expr.value, P_YIELD);
        break;
    case SF_ST_PASS:
        puts_(u, "pass");
        break;
    case SF_ST_BREAK:
        puts_(u, "break");
        break;
    case SF_ST_CONTINUE:
        puts_(u, "continue");
        break;
    default:
        puts_(u, "pass");
        break;
    }
    putc_(u, '\n');
}

/* ---- public API -------------------------------------------------------------- */

void sf_unparse_module(sf_buf *b, const sf_module *m)
{
    sf_unparse_stmts(b, &m->body, 0);
}

void sf_unparse_stmts(sf_buf *b, const sf_stmt_list *l, int indent)
{
    if (l->n == 0 && indent <= 0)
        return;
    up u = {b, 0, 0, 0};
    block(&u, l, indent < 0 ? 0 : indent);
}

void sf_unparse_stmt(sf_buf *b, const sf_stmt *s, int indent)
{
    up u = {b, 0, 0, 0};
    stmt(&u, s, indent < 0 ? 0 : indent);
}

void sf_unparse_expr(sf_buf *b, const sf_expr *e)
{
    up u = {b, 0, 0, 0};
    expr(&u, e, P_YIELD);
}
