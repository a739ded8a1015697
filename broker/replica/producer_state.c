#include "broker/replica/producer_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"
#include "proto/kafka_errors.h"

static size_t producer_bucket(const struct producer_table *t, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) % t->nbuckets;
}

int producer_table_init(struct producer_table *t)
{
    t->nbuckets = 64;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? RILL_OK : RILL_ERR_NOMEM;
}

void producer_table_free(struct producer_table *t)
{
    for (size_t b = 0; t->buckets != NULL && b < t->nbuckets; b++) {
        struct producer_entry *e = t->buckets[b];
        while (e != NULL) {
            struct producer_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static struct producer_entry *producer_find(const struct producer_table *t, int64_t id)
{
    for (struct producer_entry *e = t->buckets[producer_bucket(t, id)]; e != NULL; e = e->next)
        if (e->producer_id == id)
            return e;
    return NULL;
}

/* Sequences wrap from INT32_MAX to 0. */
static int32_t producer_seq_add(int32_t seq, int32_t n)
{
    int64_t v = (int64_t)seq + n;
    return (int32_t)(v % ((int64_t)INT32_MAX + 1));
}

enum producer_verdict producer_state_check(const struct producer_table *t, int64_t producer_id,
                                           int16_t epoch, int32_t base_seq,
                                           int32_t last_offset_delta, int64_t *dup_base_offset,
                                           int16_t *error)
{
    const struct producer_entry *e = producer_find(t, producer_id);
    if (e == NULL) {
        /* A producer this partition has no state for starts at sequence
         * 0; anywhere else its earlier batches are unknown here (expired,
         * or never replicated to this leader), and appending would hide a
         * gap or a duplicate: UNKNOWN_PRODUCER_ID, which clients answer by
         * starting a new epoch (KIP-360). */
        if (base_seq != 0) {
            *error = KAFKA_ERR_UNKNOWN_PRODUCER_ID;
            return PRODUCER_REFUSED;
        }
        return PRODUCER_APPEND;
    }
    if (epoch < e->epoch) {
        *error = KAFKA_ERR_INVALID_PRODUCER_EPOCH;
        return PRODUCER_REFUSED;
    }
    if (epoch > e->epoch) {
        if (base_seq != 0) {
            *error = KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            return PRODUCER_REFUSED;
        }
        return PRODUCER_APPEND;
    }
    int32_t last_seq = producer_seq_add(base_seq, last_offset_delta);
    for (int i = 0; i < e->nrecent; i++) {
        const struct producer_batch *b = &e->recent[i];
        if (b->first_seq == base_seq && b->last_seq == last_seq) {
            *dup_base_offset = b->base_offset;
            return PRODUCER_DUPLICATE;
        }
    }
    if (base_seq != producer_seq_add(e->last_seq, 1)) {
        *error = KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        return PRODUCER_REFUSED;
    }
    return PRODUCER_APPEND;
}

int producer_state_record(struct producer_table *t, int64_t producer_id, int16_t epoch,
                          int32_t base_seq, int32_t last_offset_delta, int64_t base_offset,
                          int64_t timestamp_ms)
{
    struct producer_entry *e = producer_find(t, producer_id);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL)
            return RILL_ERR_NOMEM;
        e->producer_id = producer_id;
        size_t b = producer_bucket(t, producer_id);
        e->next = t->buckets[b];
        t->buckets[b] = e;
        t->count++;
    }
    if (epoch != e->epoch) {
        e->nrecent = 0;
        e->head = 0;
    }
    e->epoch = epoch;
    e->last_seq = producer_seq_add(base_seq, last_offset_delta);
    e->last_timestamp_ms = timestamp_ms;
    e->recent[e->head] = (struct producer_batch){base_seq, e->last_seq, base_offset};
    e->head = (e->head + 1) % PRODUCER_RECENT_BATCHES;
    if (e->nrecent < PRODUCER_RECENT_BATCHES)
        e->nrecent++;
    return RILL_OK;
}

static void producer_unlink_if(struct producer_table *t, bool (*drop)(struct producer_entry *e,
                                                                      int64_t arg),
                               int64_t arg, size_t *dropped)
{
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct producer_entry **pp = &t->buckets[b];
        while (*pp != NULL) {
            struct producer_entry *e = *pp;
            if (drop(e, arg)) {
                *pp = e->next;
                free(e);
                t->count--;
                (*dropped)++;
            } else {
                pp = &e->next;
            }
        }
    }
}

static bool producer_idle_before(struct producer_entry *e, int64_t cutoff)
{
    return e->last_timestamp_ms < cutoff;
}

size_t producer_state_expire(struct producer_table *t, int64_t cutoff_ms)
{
    size_t dropped = 0;
    producer_unlink_if(t, producer_idle_before, cutoff_ms, &dropped);
    return dropped;
}

/* Keeps only batches below offset; a producer with none left is dropped
 * (its state is then rebuilt from nothing, which accepts its next batch). */
static bool producer_cut_at(struct producer_entry *e, int64_t offset)
{
    struct producer_batch kept[PRODUCER_RECENT_BATCHES];
    int n = 0;
    for (int i = 0; i < e->nrecent; i++) {
        int idx = (e->head - e->nrecent + i + PRODUCER_RECENT_BATCHES) % PRODUCER_RECENT_BATCHES;
        if (e->recent[idx].base_offset < offset)
            kept[n++] = e->recent[idx];
    }
    if (n == 0)
        return true;
    memcpy(e->recent, kept, (size_t)n * sizeof(kept[0]));
    e->nrecent = n;
    e->head = n % PRODUCER_RECENT_BATCHES;
    e->last_seq = kept[n - 1].last_seq;
    return false;
}

void producer_state_truncate(struct producer_table *t, int64_t offset)
{
    size_t dropped = 0;
    producer_unlink_if(t, producer_cut_at, offset, &dropped);
}
