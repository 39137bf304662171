/* sf_arena.h: bump allocator owning every node, string and array of one
 * compilation or one loaded IR. On out-of-memory the arena
 * aborts the process with a message (an allocation failure this small means
 * the machine is gone). Freed all at once with sf_arena_free. */
#ifndef SF_ARENA_H
#define SF_ARENA_H

#include <stddef.h>

typedef struct sf_arena_chunk sf_arena_chunk;
typedef struct sf_arena { sf_arena_chunk *head; } sf_arena;

void sf_arena_init(sf_arena *a);
void sf_arena_free(sf_arena *a);
/* Zeroed memory, aligned for any type. */
void *sf_arena_alloc(sf_arena *a, size_t n);
char *sf_arena_strdup(sf_arena *a, const char *s);
char *sf_arena_strndup(sf_arena *a, const char *s, size_t n);
/* printf into the arena. */
char *sf_arena_printf(sf_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grow an array allocated from the arena (old contents copied). */
void *sf_arena_grow(sf_arena *a, void *old, size_t old_n, size_t new_n, size_t elem);

#endif
