/* analyse_calls.c: the call graph (analysis pass 4).
 *
 * Owns: the graph of local and remote calls between methods, the recursion
 * check (direct, mutual and through other entities), the SPLIT and
 * READ_ONLY flags propagated along local calls, and the check that a local
 * call of a split method appears only where remote operations may.
 */
#include "analyse_internal.h"

#include <stdlib.h>
#include <string.h>

#include "stateflow/sf_buf.h"

typedef struct graph {
    int n;
    int *base;                /* node id of entity e's method 0 */
    int *node_ent, *node_meth;
} graph;

static int edge_target(actx *a, const graph *g, const aedge *e)
{
    int mi = an_find_meth(&a->ents[e->ent], e->method);
    return mi < 0 ? -1 : g->base[e->ent] + mi;
}

static void check_recursion(actx *a, const graph *g)
{
    int n = g->n;
    if (n == 0)
        return;
    int *color = calloc((size_t)n, sizeof(int));
    int *stk = calloc((size_t)n, sizeof(int));
    int *stke = calloc((size_t)n, sizeof(int));
    int *spos = calloc((size_t)n, sizeof(int));
    if (!color || !stk || !stke || !spos) {
        free(color); free(stk); free(stke); free(spos);
        an_aerr(a, (sf_pos){0, 0, 0, 0}, "out of memory checking for recursion");
        return;
    }
    for (int root = 0; root < n; root++) {
        if (color[root])
            continue;
        int sp = 0;
        stk[sp] = root;
        stke[sp] = 0;
        spos[root] = sp;
        sp++;
        color[root] = 1;
        while (sp > 0) {
            int u = stk[sp - 1];
            ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
            if (stke[sp - 1] < m->nedges) {
                aedge *e = &m->edges[stke[sp - 1]++];
                int v = edge_target(a, g, e);
                if (v < 0)
                    continue;
                if (color[v] == 0) {
                    color[v] = 1;
                    spos[v] = sp;
                    stk[sp] = v;
                    stke[sp] = 0;
                    sp++;
                } else if (color[v] == 1) {
                    sf_buf b;
                    sf_buf_init(&b);
                    for (int k = spos[v]; k < sp; k++) {
                        int w = stk[k];
                        sf_buf_printf(&b, "%s.%s -> ", a->ents[g->node_ent[w]].name,
                                      a->ents[g->node_ent[w]].meths[g->node_meth[w]].name);
                    }
                    sf_buf_printf(&b, "%s.%s", a->ents[g->node_ent[v]].name,
                                  a->ents[g->node_ent[v]].meths[g->node_meth[v]].name);
                    sf_diag_error(a->d, e->pos.line, e->pos.col, "recursion is not supported: %s",
                                  b.data);
                    sf_buf_free(&b);
                }
            } else {
                color[u] = 2;
                sp--;
            }
        }
    }
    free(color);
    free(stk);
    free(stke);
    free(spos);
}

static void compute_flags(actx *a, const graph *g)
{
    for (int u = 0; u < g->n; u++) {
        ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
        if (m->ncalls > 0)
            m->flags |= SF_METHOD_SPLIT;
        if (!m->direct_write && !(m->flags & SF_METHOD_INIT))
            m->flags |= SF_METHOD_READ_ONLY;
    }
    for (int changed = 1, rounds = 0; changed && rounds <= g->n; rounds++) {
        changed = 0;
        for (int u = 0; u < g->n; u++) {
            ameth *m = &a->ents[g->node_ent[u]].meths[g->node_meth[u]];
            for (int k = 0; k < m->nedges; k++) {
                if (m->edges[k].remote)
                    continue;
                int v = edge_target(a, g, &m->edges[k]);
                if (v < 0)
                    continue;
                ameth *c = &a->ents[g->node_ent[v]].meths[g->node_meth[v]];
                if ((c->flags & SF_METHOD_SPLIT) && !(m->flags & SF_METHOD_SPLIT)) {
                    m->flags |= SF_METHOD_SPLIT;
                    changed = 1;
                }
                if (!(c->flags & SF_METHOD_READ_ONLY) && (m->flags & SF_METHOD_READ_ONLY)) {
                    m->flags &= ~(unsigned)SF_METHOD_READ_ONLY;
                    changed = 1;
                }
            }
        }
    }
}

/* A local call of a split method performs remote operations too: it is
 * subject to the same restrictions on where it may appear. */
static void check_split_calls(actx *a, const graph *g)
{
    for (int u = 0; u < g->n; u++) {
        const aent *en = &a->ents[g->node_ent[u]];
        const ameth *m = &en->meths[g->node_meth[u]];
        for (int k = 0; k < m->nedges; k++) {
            const aedge *e = &m->edges[k];
            if (e->remote || !e->where)
                continue;
            int v = edge_target(a, g, e);
            if (v < 0)
                continue;
            const ameth *c = &a->ents[g->node_ent[v]].meths[g->node_meth[v]];
            if (c->flags & SF_METHOD_SPLIT)
                an_aerr(a, e->pos, "call of %s.%s, which performs remote operations, %s is not "
                                "supported: %s", en->name, c->name, e->where, e->fix);
        }
        for (int k = 0; k < m->nvalues; k++) {
            const aedge *e = &m->values[k];
            int v = edge_target(a, g, e);
            if (v < 0)
                continue;
            const ameth *c = &a->ents[g->node_ent[v]].meths[g->node_meth[v]];
            if (c->flags & SF_METHOD_SPLIT)
                an_aerr(a, e->pos, "method %s.%s performs remote operations and cannot be used as a value "
                                   "(a function to call later): call it directly, e.g. in a for loop",
                        en->name, c->name);
        }
    }
}

/* The call graph over every method (accessors included): recursion, then the
 * flags, then where calls of split methods may appear. */
void an_check_calls(actx *a)
{
    graph g;
    memset(&g, 0, sizeof(g));
    g.base = a->nents ? sf_arena_alloc(a->ast, (size_t)a->nents * sizeof(int)) : NULL;
    for (int i = 0; i < a->nents; i++) {
        g.base[i] = g.n;
        g.n += a->ents[i].nmeths;
    }
    g.node_ent = g.n ? sf_arena_alloc(a->ast, (size_t)g.n * sizeof(int)) : NULL;
    g.node_meth = g.n ? sf_arena_alloc(a->ast, (size_t)g.n * sizeof(int)) : NULL;
    for (int i = 0; i < a->nents; i++)
        for (int k = 0; k < a->ents[i].nmeths; k++) {
            g.node_ent[g.base[i] + k] = i;
            g.node_meth[g.base[i] + k] = k;
        }
    check_recursion(a, &g);
    compute_flags(a, &g);
    check_split_calls(a, &g);
}
