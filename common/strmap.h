/* A hash map from byte-string keys to pointers, with chaining. Keys are
 * copied; values are the caller's. Used for topics, groups and the like:
 * a few thousand entries, looked up by names that arrive as (ptr, len)
 * views into request frames. */
#ifndef RILL_COMMON_STRMAP_H
#define RILL_COMMON_STRMAP_H

#include <stddef.h>

struct strmap_entry {
    struct strmap_entry *next;
    void *value;
    size_t key_len;
    char key[]; /* NUL-terminated copy */
};

struct strmap {
    struct strmap_entry **buckets;
    size_t nbuckets;
    size_t count;
};

int strmap_init(struct strmap *m);
/* Frees the map's entries (not the values). */
void strmap_free(struct strmap *m);

void *strmap_get(const struct strmap *m, const char *key, size_t len);
/* Inserts or replaces. Returns 0 or RILL_ERR_NOMEM. */
int strmap_put(struct strmap *m, const char *key, size_t len, void *value);
/* Removes key; returns its value or NULL. */
void *strmap_remove(struct strmap *m, const char *key, size_t len);

/* Iteration: for (e = strmap_first(m, &b); e; e = strmap_next(m, e, &b)).
 * The current entry may be removed while iterating only via strmap_next
 * having been called first. */
struct strmap_entry *strmap_first(const struct strmap *m, size_t *bucket);
struct strmap_entry *strmap_next(const struct strmap *m, struct strmap_entry *e, size_t *bucket);

#endif
