#include "common/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chunks start small (most requests need a few hundred bytes) and double
 * up to the largest, so a request costs memory in proportion to its size. */
enum { ARENA_FIRST_CHUNK_BYTES = 2048, ARENA_CHUNK_BYTES_MAX = 65536 };

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void arena_init(struct arena *arena)
{
    arena->head = NULL;
    arena->used_bytes = 0;
    arena->next_chunk_bytes = ARENA_FIRST_CHUNK_BYTES;
}

void *arena_alloc(struct arena *arena, size_t size)
{
    size_t aligned = (size + 7) & ~(size_t)7;
    if (aligned < size)
        return NULL;
    struct arena_chunk *chunk = arena->head;
    if (chunk == NULL || chunk->size - chunk->used < aligned) {
        size_t step = arena->next_chunk_bytes ? arena->next_chunk_bytes : ARENA_FIRST_CHUNK_BYTES;
        size_t data_size = aligned > step ? aligned : step;
        if (data_size > SIZE_MAX - sizeof(*chunk))
            return NULL;
        chunk = malloc(sizeof(*chunk) + data_size);
        if (chunk == NULL)
            return NULL;
        chunk->size = data_size;
        chunk->used = 0;
        /* A large one-off allocation goes behind the current chunk so the
         * space left in the current chunk stays usable. */
        if (aligned > step && arena->head != NULL) {
            chunk->next = arena->head->next;
            arena->head->next = chunk;
        } else {
            chunk->next = arena->head;
            arena->head = chunk;
            if (step < ARENA_CHUNK_BYTES_MAX)
                arena->next_chunk_bytes = step * 2;
        }
    }
    void *p = chunk->data + chunk->used;
    chunk->used += aligned;
    arena->used_bytes += aligned;
    memset(p, 0, size);
    return p;
}

void *arena_dup(struct arena *arena, const void *src, size_t size)
{
    void *p = arena_alloc(arena, size ? size : 1);
    if (p != NULL && size > 0)
        memcpy(p, src, size);
    return p;
}

char *arena_printf(struct arena *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(arena, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_free(struct arena *arena)
{
    struct arena_chunk *chunk = arena->head;
    while (chunk != NULL) {
        struct arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->head = NULL;
    arena->used_bytes = 0;
    arena->next_chunk_bytes = ARENA_FIRST_CHUNK_BYTES;
}
