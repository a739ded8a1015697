/* A partition this broker serves (the replica manager's unit): its log,
 * its high watermark, and who waits on it.
 *
 * Invariants:
 *   - log start <= high_watermark <= log end;
 *   - under log.flush.policy=always the high watermark is the durable
 *     offset, so consumers never see a record that a crash could take
 *     back; otherwise it is the log end (single node: the ISR is {self});
 *   - ack waiters are kept in append order, so their target offsets only
 *     grow and completing them is a walk from the head;
 *   - every waiter and watch is resolved before the partition is freed. */
#ifndef RILL_BROKER_REPLICA_PARTITION_H
#define RILL_BROKER_REPLICA_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/replica/producer_state.h"
#include "broker/replica/topic_config.h"

struct broker;
struct storage_log;

/* An acknowledgement waiting for the high watermark to reach offset. */
struct partition_waiter {
    struct partition_waiter *next;
    int64_t offset;
    /* error is 0, or a Kafka error code when the partition went away. */
    void (*fn)(struct partition_waiter *w, int error);
};

/* A long-polling fetch watching for the high watermark to move. */
struct partition_watch {
    struct partition_watch *prev, *next;
    struct partition *partition;
    uint64_t round;   /* the notification round it was last added or called in */
    void (*fn)(struct partition_watch *w);
};

struct broker_topic {
    char *name;
    uint8_t id[16];
    bool internal;
    int32_t npartitions;              /* as many as the image lists */
    struct partition **partitions;    /* NULL where the partition could not be opened */
    struct topic_config cfg;
    uint64_t version;                 /* the image topic's version last taken over */
};

struct partition {
    struct broker *broker;
    struct broker_topic *topic;
    int32_t index;
    struct storage_log *log;
    int32_t leader_epoch;
    int32_t leader;           /* the image's leader: requests elsewhere are refused */
    int64_t high_watermark;
    struct partition_waiter *waiters_head, *waiters_tail;
    struct partition_watch *watches;
    uint64_t notify_round;
    struct producer_table producers; /* idempotent producers' recent batches */
    struct partition *next_dirty;
    bool in_dirty_list;
};

/* Opens (or creates) the partition's log. Returns 0 or a RILL_ERR_*. */
int partition_open(struct broker *b, struct broker_topic *topic, int32_t index,
                   int32_t leader_epoch, struct partition **out);

/* Fails every waiter and watch with error, then closes the log (destroy:
 * deletes it from disk) and frees the partition. */
void partition_close(struct partition *p, bool destroy, int error);

/* Appends one validated batch; *base_offset gets its first offset. */
int partition_append(struct partition *p, uint8_t *batch, size_t len,
                     const struct record_batch_info *info, int64_t *base_offset);

/* Queues w until the high watermark reaches w->offset (at once if it has). */
void partition_wait(struct partition *p, struct partition_waiter *w);

void partition_watch_add(struct partition *p, struct partition_watch *w);
void partition_watch_remove(struct partition_watch *w);

/* Applies a new effective topic configuration to the log. */
void partition_reconfigure(struct partition *p);

#endif
