/* arena.c: the bump allocator behind AST nodes and loaded IRs (see sf_arena.h). */
#include "stateflow/sf_arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_arena_chunk {
    sf_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define SF_ARENA_CHUNK (64 * 1024)

void sf_arena_init(sf_arena *a) { a->head = NULL; }

void sf_arena_free(sf_arena *a)
{
    sf_arena_chunk *c = a->head;
    while (c) {
        sf_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void *sf_arena_alloc(sf_arena *a, size_t n)
{
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    sf_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > SF_ARENA_CHUNK ? n : SF_ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c) {
            fprintf(stderr, "stateflow: out of memory\n");
            abort();
        }
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *sf_arena_strndup(sf_arena *a, const char *s, size_t n)
{
    char *p = sf_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sf_arena_strdup(sf_arena *a, const char *s)
{
    return s ? sf_arena_strndup(a, s, strlen(s)) : NULL;
}

char *sf_arena_printf(sf_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = sf_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *sf_arena_grow(sf_arena *a, void *old, size_t old_n, size_t new_n, size_t elem)
{
    void *p = sf_arena_alloc(a, new_n * elem);
    if (old && old_n)
        memcpy(p, old, old_n * elem);
    return p;
}
