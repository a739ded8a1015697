/* The group coordinator: consumer groups and their committed offsets,
 * stored in the internal topic __consumer_offsets.
 *
 * Coordination is keyed by partition, never by "this broker": group G
 * belongs to partition group_partition_for(G) of __consumer_offsets, and
 * whichever broker leads that partition coordinates G. When a partition's
 * leadership arrives here (its log opens), the coordinator replays it to
 * rebuild the groups and offsets it holds; when leadership leaves, they are
 * dropped and their clients told NOT_COORDINATOR. Every change (offset
 * commit, group metadata, tombstone) is appended to that partition through
 * the normal append path and acknowledged only once it is durable.
 *
 *   partition state:  absent ──opened──> loading ──replayed──> active
 *                        ^                                       │
 *                        └────────────── closed ─────────────────┘ */
#ifndef RILL_BROKER_GROUP_GROUP_COORDINATOR_H
#define RILL_BROKER_GROUP_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_schema.h"

struct broker;
struct partition;
struct group;
struct request;
struct group_coordinator;
struct coordinator_partition;

#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

int group_coordinator_create(struct broker *b, struct group_coordinator **out);
void group_coordinator_free(struct group_coordinator *gc);

/* Housekeeping: session timeouts, rebalance deadlines, offset expiry. */
void group_coordinator_tick(struct group_coordinator *gc, int64_t now_ms);

/* Leadership of a __consumer_offsets partition arrived (its log is open)
 * or is about to leave (before the log closes). */
void group_coordinator_partition_opened(struct group_coordinator *gc, struct partition *p);
void group_coordinator_partition_closing(struct group_coordinator *gc, struct partition *p);

/* Makes sure __consumer_offsets exists (FindCoordinator creates it, as
 * Kafka does). Returns true when fn will be called once it does, false
 * when it exists already (fn is not called). *error gets a Kafka error if
 * it cannot be created. */
bool group_coordinator_ensure_topic(struct group_coordinator *gc, void (*fn)(void *ctx),
                                    void *ctx, int16_t *error);

/* The partition of __consumer_offsets that coordinates group, or -1 while
 * the topic does not exist. */
int32_t group_coordinator_partition_of(struct group_coordinator *gc, const char *group,
                                       size_t len);

/* Finds (create: or makes) the group. Returns 0, NOT_COORDINATOR when its
 * partition is not led here, COORDINATOR_LOAD_IN_PROGRESS while loading,
 * or GROUP_ID_NOT_FOUND when absent and create is false. */
int16_t group_coordinator_group(struct group_coordinator *gc, const char *group, size_t len,
                                bool create, struct group **out);

/* The group a member request (SyncGroup, Heartbeat, LeaveGroup) names:
 * INVALID_GROUP_ID for an empty id, UNKNOWN_MEMBER_ID for a group that does
 * not exist, or a coordinator error. */
int16_t group_coordinator_member_group(struct group_coordinator *gc, struct kafka_str group_id,
                                       struct group **out);

/* Calls fn for every group this broker coordinates. */
void group_coordinator_each(struct group_coordinator *gc, void (*fn)(void *ctx, struct group *g),
                            void *ctx);

/* One committed offset to store. */
struct coordinator_offset {
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
    size_t metadata_len;
    int64_t expire_timestamp; /* -1: by the group's retention */
};

/* Appends the offsets as one batch; once durable, applies them to the group
 * and calls done(ctx, 0), or done(ctx, error) when they could not be
 * written. */
void group_coordinator_commit(struct group *g, const struct coordinator_offset *offsets, size_t n,
                              void (*done)(void *ctx, int16_t error), void *ctx);

/* Deletes an empty group: tombstones for its metadata and every offset,
 * then done(ctx, error). */
void group_coordinator_delete(struct group *g, void (*done)(void *ctx, int16_t error), void *ctx);

/* The committed offset of (topic, partition) in g, or NULL. */
struct group_offset;
const struct group_offset *group_offset_find(struct group *g, const char *topic, size_t topic_len,
                                             int32_t partition);

/* 0, or OFFSET_METADATA_TOO_LARGE above offset.metadata.max.bytes. */
int16_t group_coordinator_check_metadata(size_t len);

/* Used by the group state machine (group.c). */
void coordinator_store_group(struct group *g, bool assignment);
const char *coordinator_peer_host(struct request *req);
int64_t group_coordinator_now_ms(void);
int64_t group_coordinator_wall_ms(void);
const struct group_limits *group_coordinator_limits(struct group_coordinator *gc);

#endif
