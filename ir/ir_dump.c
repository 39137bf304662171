/* ir_dump.c: human-readable views of an sf_ir: the text dump (sfc --dump)
 * and the Graphviz graph (sfc --dot). Both work on any sf_ir, loaded or
 * hand-built; missing strings (NULL) print as "?" or nothing. */
#include "stateflow/sf_ir.h"

#include <stdio.h>
#include <string.h>

#define TYPE_BUF 512

static const char *s_or(const char *s, const char *dflt) { return s && *s ? s : dflt; }

static const struct {
    unsigned bit;
    const char *name;
} flag_words[] = {
    {SF_METHOD_READ_ONLY, "read-only"}, {SF_METHOD_SPLIT, "split"},
    {SF_METHOD_INIT, "init"},           {SF_METHOD_ACCESSOR, "accessor"},
    {SF_METHOD_INTERNAL, "internal"},
};

static void print_names(FILE *out, const char *const *v, int n)
{
    for (int i = 0; i < n && v; i++)
        fprintf(out, "%s%s", i ? ", " : "", s_or(v[i], "?"));
}

/* "buy_item(amount: int, item: Item) -> bool" */
static void print_signature(FILE *out, const sf_ir_method *m)
{
    char tb[TYPE_BUF];
    fprintf(out, "%s(", s_or(m->name, "?"));
    for (int i = 0; i < m->nparams && m->params; i++) {
        const sf_ir_param *p = &m->params[i];
        fprintf(out, "%s%s: %s%s", i ? ", " : "", s_or(p->name, "?"),
                sf_type_format(p->type, tb, sizeof(tb)), p->has_default ? " = ..." : "");
    }
    fprintf(out, ") -> %s", sf_type_format(m->returns, tb, sizeof(tb)));
}

static void print_exit(FILE *out, const sf_ir_exit *x)
{
    switch (x->kind) {
    case SF_EXIT_RETURN:
        fprintf(out, "return");
        break;
    case SF_EXIT_JUMP:
        fprintf(out, "jump -> b%d", x->target);
        break;
    case SF_EXIT_CALL:
        fprintf(out, "call %s.%s -> b%d", s_or(x->entity, "?"), s_or(x->method, "?"), x->target);
        if (x->bind && *x->bind)
            fprintf(out, " (bind %s)", x->bind);
        break;
    default:
        fprintf(out, "? (exit kind %d)", (int)x->kind);
        break;
    }
}

static void dump_method(FILE *out, const sf_ir_entity *e, const sf_ir_method *m)
{
    fprintf(out, "    ");
    print_signature(out, m);
    int first = 1;
    for (size_t i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
        if (m->flags & flag_words[i].bit) {
            fprintf(out, "%s%s", first ? "  [" : ", ", flag_words[i].name);
            first = 0;
        }
    if (!first)
        fprintf(out, "]");
    if (m->line > 0)
        fprintf(out, "  (line %d)", m->line);
    fprintf(out, "\n");
    if (m->nreads > 0) {
        fprintf(out, "      reads: ");
        print_names(out, m->reads, m->nreads);
        fprintf(out, "\n");
    }
    if (m->nwrites > 0) {
        fprintf(out, "      writes: ");
        print_names(out, m->writes, m->nwrites);
        fprintf(out, "\n");
    }
    if (m->ncalls > 0 && m->calls) {
        fprintf(out, "      calls:\n");
        for (int i = 0; i < m->ncalls; i++) {
            const sf_ir_call *c = &m->calls[i];
            fprintf(out, "        %s.%s -> %s.%s", s_or(e->name, "?"), s_or(m->name, "?"),
                    s_or(c->entity, "?"), s_or(c->method, "?"));
            if (c->line > 0)
                fprintf(out, "  (line %d)", c->line);
            fprintf(out, "\n");
        }
    }
    if (m->nblocks > 0 && m->blocks) {
        fprintf(out, "      blocks:\n");
        for (int i = 0; i < m->nblocks; i++) {
            const sf_ir_block *b = &m->blocks[i];
            fprintf(out, "        b%d %s", b->id, s_or(b->function, "?"));
            if (b->line > 0)
                fprintf(out, " (line %d)", b->line);
            fprintf(out, "  live-in: ");
            if (b->nlive_in > 0 && b->live_in)
                print_names(out, b->live_in, b->nlive_in);
            else
                fprintf(out, "(none)");
            fprintf(out, "\n");
            for (int j = 0; j < b->nexits && b->exits; j++) {
                fprintf(out, "          ");
                print_exit(out, &b->exits[j]);
                fprintf(out, "\n");
            }
        }
    }
}

void sf_ir_dump(const sf_ir *ir, FILE *out)
{
    char tb[TYPE_BUF];
    if (!ir || !out)
        return;
    fprintf(out, "module %s", s_or(ir->module, "?"));
    if (ir->filename && *ir->filename)
        fprintf(out, " (%s)", ir->filename);
    fprintf(out, "  [IR version %u]\n", (unsigned)ir->version);
    for (int i = 0; i < ir->nentities && ir->entities; i++) {
        const sf_ir_entity *e = &ir->entities[i];
        fprintf(out, "\nentity %s", s_or(e->name, "?"));
        if (e->line > 0)
            fprintf(out, "  (line %d)", e->line);
        fprintf(out, "\n  key: ");
        print_names(out, e->key, e->nkey);
        fprintf(out, "\n  attributes:\n");
        if (e->nattrs <= 0 || !e->attrs)
            fprintf(out, "    (none)\n");
        for (int j = 0; j < e->nattrs && e->attrs; j++) {
            const sf_ir_attr *a = &e->attrs[j];
            fprintf(out, "    %s: %s", s_or(a->name, "?"), sf_type_format(a->type, tb, sizeof(tb)));
            if (a->line > 0)
                fprintf(out, "  (line %d)", a->line);
            fprintf(out, "\n");
        }
        fprintf(out, "  methods:\n");
        if (e->nmethods <= 0 || !e->methods)
            fprintf(out, "    (none)\n");
        for (int j = 0; j < e->nmethods && e->methods; j++)
            dump_method(out, e, &e->methods[j]);
    }
    fprintf(out, "\ndataflow edges:\n");
    if (ir->nedges <= 0 || !ir->edges)
        fprintf(out, "  (none)\n");
    for (int i = 0; i < ir->nedges && ir->edges; i++) {
        const sf_ir_edge *e = &ir->edges[i];
        fprintf(out, "  %s.%s -> %s.%s\n", s_or(e->from_entity, "?"), s_or(e->from_method, "?"),
                s_or(e->to_entity, "?"), s_or(e->to_method, "?"));
    }
}

/* ---- Graphviz ----------------------------------------------------------- */

/* Text inside a double-quoted dot string: quotes and backslashes escaped,
 * control characters dropped (so no name can end the string or inject a
 * label escape). */
static void dot_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c >= 0x20 && c != 0x7f)
            fputc(c, out);
    }
}

/* A quoted id made of parts, e.g. "User.buy_item/b0". */
static void dot_id(FILE *out, const char *a, const char *b, const char *c)
{
    fputc('"', out);
    dot_text(out, s_or(a, "?"));
    if (b) {
        fputc('.', out);
        dot_text(out, s_or(b, "?"));
    }
    if (c) {
        fputc('/', out);
        dot_text(out, c);
    }
    fputc('"', out);
}

static void dot_block_graph(FILE *out, const sf_ir_entity *e, const sf_ir_method *m)
{
    char bid[32];
    int has_return = 0;
    fprintf(out, "  subgraph \"cluster_");
    dot_text(out, s_or(e->name, "?"));
    fputc('.', out);
    dot_text(out, s_or(m->name, "?"));
    fprintf(out, "\" {\n    label=\"");
    dot_text(out, s_or(e->name, "?"));
    fputc('.', out);
    dot_text(out, s_or(m->name, "?"));
    fprintf(out, "\";\n    style=rounded;\n");
    for (int i = 0; i < m->nblocks; i++) {
        const sf_ir_block *b = &m->blocks[i];
        snprintf(bid, sizeof(bid), "b%d", b->id);
        fprintf(out, "    ");
        dot_id(out, e->name, m->name, bid);
        fprintf(out, " [label=\"b%d: ", b->id);
        dot_text(out, s_or(b->function, "?"));
        if (b->nlive_in > 0 && b->live_in) {
            fprintf(out, "\\nlive-in: ");
            for (int j = 0; j < b->nlive_in; j++) {
                if (j)
                    fprintf(out, ", ");
                dot_text(out, s_or(b->live_in[j], "?"));
            }
        }
        fprintf(out, "\"];\n");
    }
    for (int i = 0; i < m->nblocks; i++) {
        const sf_ir_block *b = &m->blocks[i];
        snprintf(bid, sizeof(bid), "b%d", b->id);
        for (int j = 0; j < b->nexits && b->exits; j++) {
            const sf_ir_exit *x = &b->exits[j];
            char tid[32];
            if (x->kind == SF_EXIT_RETURN) {
                snprintf(tid, sizeof(tid), "return");
                has_return = 1;
            } else
                snprintf(tid, sizeof(tid), "b%d", x->target);
            fprintf(out, "    ");
            dot_id(out, e->name, m->name, bid);
            fprintf(out, " -> ");
            dot_id(out, e->name, m->name, tid);
            if (x->kind == SF_EXIT_CALL) {
                fprintf(out, " [label=\"call ");
                dot_text(out, s_or(x->entity, "?"));
                fputc('.', out);
                dot_text(out, s_or(x->method, "?"));
                if (x->bind && *x->bind) {
                    fprintf(out, "\\n(bind ");
                    dot_text(out, x->bind);
                    fputc(')', out);
                }
                fprintf(out, "\"]");
            } else if (x->kind == SF_EXIT_JUMP)
                fprintf(out, " [style=dashed]");
            fprintf(out, ";\n");
        }
    }
    if (has_return) {
        fprintf(out, "    ");
        dot_id(out, e->name, m->name, "return");
        fprintf(out, " [label=\"return\", shape=oval];\n");
    }
    fprintf(out, "  }\n");
}

void sf_ir_dot(const sf_ir *ir, FILE *out)
{
    if (!ir || !out)
        return;
    fprintf(out, "digraph \"");
    dot_text(out, s_or(ir->module, "stateflow"));
    fprintf(out, "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=10];\n");
    /* operators */
    for (int i = 0; i < ir->nentities && ir->entities; i++) {
        const sf_ir_entity *e = &ir->entities[i];
        int internal = 0;
        fprintf(out, "  ");
        dot_id(out, e->name, NULL, NULL);
        fprintf(out, " [label=\"");
        dot_text(out, s_or(e->name, "?"));
        fprintf(out, "\\n");
        for (int j = 0; j < e->nmethods && e->methods; j++) {
            const sf_ir_method *m = &e->methods[j];
            if (m->flags & SF_METHOD_INTERNAL) {
                internal++;
                continue;
            }
            dot_text(out, s_or(m->name, "?"));
            fprintf(out, "\\l");
        }
        if (internal)
            fprintf(out, "(+%d internal)\\l", internal);
        fprintf(out, "\", style=bold];\n");
    }
    /* dataflow edges */
    for (int i = 0; i < ir->nedges && ir->edges; i++) {
        const sf_ir_edge *d = &ir->edges[i];
        fprintf(out, "  ");
        dot_id(out, d->from_entity, NULL, NULL);
        fprintf(out, " -> ");
        dot_id(out, d->to_entity, NULL, NULL);
        fprintf(out, " [label=\"");
        dot_text(out, s_or(d->from_method, "?"));
        fprintf(out, " -> ");
        dot_text(out, s_or(d->to_method, "?"));
        fprintf(out, "\"];\n");
    }
    /* block graphs of split methods */
    for (int i = 0; i < ir->nentities && ir->entities; i++) {
        const sf_ir_entity *e = &ir->entities[i];
        for (int j = 0; j < e->nmethods && e->methods; j++)
            if (e->methods[j].nblocks > 0 && e->methods[j].blocks)
                dot_block_graph(out, e, &e->methods[j]);
    }
    fprintf(out, "}\n");
}
