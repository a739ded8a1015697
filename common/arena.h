/* A bump allocator for memory that lives exactly as long as one request.
 *
 * Decoded requests and the responses built for them allocate from the
 * request's arena; everything is released at once by arena_free when the
 * response has been written. Allocations are 8-byte aligned and zeroed. */
#ifndef RILL_COMMON_ARENA_H
#define RILL_COMMON_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    size_t used_bytes;       /* total handed out, for limits and tests */
    size_t next_chunk_bytes; /* size of the next ordinary chunk */
};

void arena_init(struct arena *arena);

/* Returns zeroed memory owned by the arena, or NULL when out of memory. */
void *arena_alloc(struct arena *arena, size_t size);

/* Copies size bytes into the arena; NULL when out of memory. */
void *arena_dup(struct arena *arena, const void *src, size_t size);

/* printf into the arena; returns a NUL-terminated string or NULL. */
char *arena_printf(struct arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Releases every allocation. The arena may be reused after arena_init. */
void arena_free(struct arena *arena);

#endif
