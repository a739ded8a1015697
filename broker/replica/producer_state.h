/* Idempotent producers on one partition (KIP-98): per producer id, its
 * epoch, the last sequence appended and the last few batches, so that a
 * retried batch is recognised and answered with its original offset
 * instead of being appended twice, and a gap in sequences is refused.
 *
 * Rules, per incoming batch (producer id >= 0):
 *   - unknown producer: accepted at sequence 0 (a new one); at any other
 *     sequence UNKNOWN_PRODUCER_ID (its state expired or never reached
 *     this replica: the client starts a new epoch, KIP-360);
 *   - epoch below the known one: INVALID_PRODUCER_EPOCH (a fenced zombie);
 *   - epoch above: a new session, which must start at sequence 0;
 *   - same epoch: a batch equal to one of the last PRODUCER_RECENT_BATCHES
 *     is a duplicate; otherwise its first sequence must follow the last one
 *     (wrapping at INT32_MAX), else OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * Pure logic: no IO, times come in as arguments. */
#ifndef RILL_BROKER_REPLICA_PRODUCER_STATE_H
#define RILL_BROKER_REPLICA_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka keeps the metadata of the last five batches of each producer, the
 * most a producer has in flight with idempotence on. */
#define PRODUCER_RECENT_BATCHES 5

struct producer_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
};

struct producer_entry {
    struct producer_entry *next; /* hash chain */
    int64_t producer_id;
    int16_t epoch;
    int32_t last_seq;
    int64_t last_timestamp_ms;   /* wall time of its last batch, for expiry */
    struct producer_batch recent[PRODUCER_RECENT_BATCHES];
    int nrecent;                 /* valid entries, newest at (head - 1) */
    int head;
};

struct producer_table {
    struct producer_entry **buckets;
    size_t nbuckets;
    size_t count;
};

enum producer_verdict {
    PRODUCER_APPEND,    /* append it, then producer_state_record() */
    PRODUCER_DUPLICATE, /* already appended at *dup_base_offset */
    PRODUCER_REFUSED,   /* answer *error */
};

int producer_table_init(struct producer_table *t);
void producer_table_free(struct producer_table *t);

enum producer_verdict producer_state_check(const struct producer_table *t, int64_t producer_id,
                                           int16_t epoch, int32_t base_seq,
                                           int32_t last_offset_delta, int64_t *dup_base_offset,
                                           int16_t *error);

/* Records an appended batch. Returns 0 or RILL_ERR_NOMEM. */
int producer_state_record(struct producer_table *t, int64_t producer_id, int16_t epoch,
                          int32_t base_seq, int32_t last_offset_delta, int64_t base_offset,
                          int64_t timestamp_ms);

/* Forgets producers idle since before cutoff_ms. Returns how many. */
size_t producer_state_expire(struct producer_table *t, int64_t cutoff_ms);

/* Forgets every batch at or above offset (the log was truncated there). */
void producer_state_truncate(struct producer_table *t, int64_t offset);

#endif
