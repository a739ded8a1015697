/* A partition this broker holds a replica of (the replica manager's unit):
 * its log, its role (leader or follower, from the image), its high
 * watermark, and who waits on it.
 *
 * Invariants:
 *   - log start <= high_watermark <= log end; the high watermark only
 *     grows while the role and leader epoch stay the same;
 *   - as leader, the high watermark is replica_set_high_watermark over
 *     the maximal ISR (replica_set.h), counting the leader's own copy as
 *     its durable offset under log.flush.policy=always (so "acknowledged"
 *     means fsynced on every in-sync replica), its log end otherwise; as
 *     follower, it is the leader's, capped at the local log end;
 *   - ack waiters are kept in append order (per list), so their target
 *     offsets only grow and completing them is a walk from the head;
 *   - a role or leader-epoch change fails every waiter with
 *     NOT_LEADER_OR_FOLLOWER and wakes every watch: nothing bound to the
 *     old role completes under the new one;
 *   - every waiter and watch is resolved before the partition is freed. */
#ifndef RILL_BROKER_REPLICA_PARTITION_H
#define RILL_BROKER_REPLICA_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/replica/producer_state.h"
#include "broker/replica/replica_set.h"
#include "broker/replica/topic_config.h"

struct broker;
struct storage_log;
struct metadata_partition;
struct replica_fetcher;

/* An acknowledgement waiting for offset: with local set, for the leader's
 * own copy (acks=1: durable under log.flush.policy=always); otherwise for
 * the high watermark (acks=all, coordinator writes). */
struct partition_waiter {
    struct partition_waiter *next;
    int64_t offset;
    bool local;
    /* error is 0, or a Kafka error code (the partition went away, its
     * leadership moved, or its ISR shrank below min.insync.replicas). */
    void (*fn)(struct partition_waiter *w, int error);
};

/* A long-polling fetch watching a partition: consumers for the high
 * watermark to move, followers (on_append) for the log end. */
struct partition_watch {
    struct partition_watch *prev, *next;
    struct partition *partition;
    bool on_append;
    uint64_t round;   /* the notification round it was last added or called in */
    void (*fn)(struct partition_watch *w);
};

struct broker_topic {
    char *name;
    uint8_t id[16];
    bool internal;
    int32_t npartitions;              /* as many as the image lists */
    struct partition **partitions;    /* NULL where no replica is held here */
    struct topic_config cfg;
    uint64_t version;                 /* the image topic's version last taken over */
};

enum partition_role { PARTITION_NONE = 0, PARTITION_LEADER, PARTITION_FOLLOWER };

struct partition {
    struct broker *broker;
    struct broker_topic *topic;
    int32_t index;
    struct storage_log *log;
    enum partition_role role;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t leader;           /* the image's leader: requests elsewhere are refused */
    int32_t replicas[LIMIT_REPLICATION_FACTOR];
    size_t nreplicas;
    int64_t high_watermark;
    int64_t hw_saved;         /* the last high watermark checkpointed */
    int64_t hw_saved_ms;
    /* Leader: its followers and ISR, and where its epoch began. */
    struct replica_set rs;
    int64_t epoch_start;
    /* Follower: the fetcher that copies it from the leader. */
    struct replica_fetcher *fetcher;
    struct partition *fetch_next;     /* the fetcher's list */
    int32_t fetch_epoch;              /* the leader epoch its last fetch named */
    struct partition_waiter *waiters_head, *waiters_tail; /* for the high watermark */
    struct partition_waiter *local_head, *local_tail;     /* for the local copy */
    struct partition_watch *watches;         /* for the high watermark */
    struct partition_watch *append_watches;  /* for the log end */
    uint64_t notify_round;
    struct producer_table producers; /* idempotent producers' recent batches */
    struct partition *next_dirty;
    bool in_dirty_list;
};

/* Opens (or creates) the partition's log; its high watermark starts at
 * the saved checkpoint (never past the log end). It has no role until
 * partition_follow_image. Returns 0 or a RILL_ERR_*. */
int partition_open(struct broker *b, struct broker_topic *topic, int32_t index,
                   struct partition **out);

/* Takes the role the image gives (mp: this partition in the image): a
 * leadership or leader-epoch change fences what the old role had (see the
 * invariants) and becomes leader (followers tracked from now) or follower
 * (handed to the fetcher of the new leader); an ISR change of the same
 * epoch is taken over by the leader. */
void partition_follow_image(struct partition *p, const struct metadata_partition *mp);

/* Fails every waiter and watch with error, then closes the log (destroy:
 * deletes it from disk) and frees the partition. */
void partition_close(struct partition *p, bool destroy, int error);

/* Appends one validated batch as leader; *base_offset gets its first
 * offset. */
int partition_append(struct partition *p, uint8_t *batch, size_t len,
                     const struct record_batch_info *info, int64_t *base_offset);

/* A follower's copy of batches fetched from the leader (storage_log_append_
 * replica), with the producer state they carry. */
int partition_append_replica(struct partition *p, const uint8_t *batches, size_t len,
                             size_t *appended);

/* A follower learned the leader's high watermark. */
void partition_follower_hw(struct partition *p, int64_t leader_hw);

/* Truncates the log (a follower whose history diverged) and rebuilds the
 * producer state from what remains. Returns 0 or a RILL_ERR_*. */
int partition_truncate(struct partition *p, int64_t offset);

/* Starts the log over, empty, at offset (a follower behind the leader's
 * log start). Returns 0 or a RILL_ERR_*. */
int partition_reset(struct partition *p, int64_t offset);

/* As leader: follower id fetched at fetch_offset. Returns false when id
 * holds no replica of the partition. */
bool partition_replica_fetched(struct partition *p, int32_t id, int64_t fetch_offset);

/* Leader housekeeping: asks the controller for the ISR change due (a
 * member lagging past replica.lag.time.max.ms, a follower caught up). */
void partition_check_isr(struct partition *p);

/* Queues w until the offset it waits for is reached (at once if it is). */
void partition_wait(struct partition *p, struct partition_waiter *w);
/* Removes a waiter that has not completed (a produce timeout). */
void partition_unwait(struct partition *p, struct partition_waiter *w);

void partition_watch_add(struct partition *p, struct partition_watch *w);
void partition_watch_remove(struct partition_watch *w);

/* A request's CurrentLeaderEpoch against this leader's (Fetch, ListOffsets,
 * OffsetForLeaderEpoch): 0 when it is unset (-1) or the same,
 * FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer. */
int16_t partition_check_leader_epoch(const struct partition *p, int32_t current);

/* The ISR is large enough for acks=all (min.insync.replicas). */
bool partition_enough_replicas(const struct partition *p);

/* Applies a new effective topic configuration to the log. */
void partition_reconfigure(struct partition *p);

#endif
