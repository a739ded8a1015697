#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"

static uint64_t strmap_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

int strmap_init(struct strmap *m)
{
    m->nbuckets = 16;
    m->count = 0;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    return m->buckets ? RILL_OK : RILL_ERR_NOMEM;
}

void strmap_free(struct strmap *m)
{
    for (size_t b = 0; m->buckets != NULL && b < m->nbuckets; b++) {
        struct strmap_entry *e = m->buckets[b];
        while (e != NULL) {
            struct strmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

void *strmap_get(const struct strmap *m, const char *key, size_t len)
{
    size_t b = strmap_hash(key, len) % m->nbuckets;
    for (struct strmap_entry *e = m->buckets[b]; e != NULL; e = e->next)
        if (e->key_len == len && memcmp(e->key, key, len) == 0)
            return e->value;
    return NULL;
}

static void strmap_grow(struct strmap *m)
{
    size_t n = m->nbuckets * 2;
    struct strmap_entry **buckets = calloc(n, sizeof(*buckets));
    if (buckets == NULL)
        return; /* keep the longer chains; still correct */
    for (size_t b = 0; b < m->nbuckets; b++) {
        struct strmap_entry *e = m->buckets[b];
        while (e != NULL) {
            struct strmap_entry *next = e->next;
            size_t nb = strmap_hash(e->key, e->key_len) % n;
            e->next = buckets[nb];
            buckets[nb] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->nbuckets = n;
}

int strmap_put(struct strmap *m, const char *key, size_t len, void *value)
{
    size_t b = strmap_hash(key, len) % m->nbuckets;
    for (struct strmap_entry *e = m->buckets[b]; e != NULL; e = e->next) {
        if (e->key_len == len && memcmp(e->key, key, len) == 0) {
            e->value = value;
            return RILL_OK;
        }
    }
    struct strmap_entry *e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        return RILL_ERR_NOMEM;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->key_len = len;
    e->value = value;
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->count++;
    if (m->count > m->nbuckets)
        strmap_grow(m);
    return RILL_OK;
}

void *strmap_remove(struct strmap *m, const char *key, size_t len)
{
    size_t b = strmap_hash(key, len) % m->nbuckets;
    for (struct strmap_entry **pp = &m->buckets[b]; *pp != NULL; pp = &(*pp)->next) {
        struct strmap_entry *e = *pp;
        if (e->key_len == len && memcmp(e->key, key, len) == 0) {
            void *value = e->value;
            *pp = e->next;
            free(e);
            m->count--;
            return value;
        }
    }
    return NULL;
}

struct strmap_entry *strmap_first(const struct strmap *m, size_t *bucket)
{
    for (size_t b = 0; b < m->nbuckets; b++) {
        if (m->buckets[b] != NULL) {
            *bucket = b;
            return m->buckets[b];
        }
    }
    return NULL;
}

struct strmap_entry *strmap_next(const struct strmap *m, struct strmap_entry *e, size_t *bucket)
{
    if (e->next != NULL)
        return e->next;
    for (size_t b = *bucket + 1; b < m->nbuckets; b++) {
        if (m->buckets[b] != NULL) {
            *bucket = b;
            return m->buckets[b];
        }
    }
    return NULL;
}
