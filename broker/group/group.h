/* A consumer group under the classic protocol: members, generations, the
 * chosen protocol and the assignments, and the rebalance that moves
 * between them.
 *
 *                  join (first)                 all known members rejoined,
 *   ┌───────┐  ─────────────────>  ┌─────────────────────┐  or rebalance timeout
 *   │ Empty │                      │ PreparingRebalance  │ ─────────────────────┐
 *   └───────┘  <── no members ───  └─────────────────────┘                      │
 *       ^                             ^        ^                                  v
 *       │ last member leaves /        │ join,  │ leave, expiry,      ┌───────────────────────┐
 *       │ expires                     │ leave, │ sync timeout        │ CompletingRebalance   │
 *       │                             │ expiry └──────────────────── └───────────────────────┘
 *   ┌────────┐                        │                                     │ leader's SyncGroup
 *   │ Stable │ ───────────────────────┘                                     │ stored
 *   └────────┘ <────────────────────────────────────────────────────────────┘
 *   (Dead: the group was deleted or its coordinator partition moved away.)
 *
 * Invariants:
 *   - generation grows by one each time a join phase completes;
 *   - the leader is a member whenever the group has members;
 *   - in CompletingRebalance and Stable every member supports the chosen
 *     protocol and protocol type;
 *   - a member has at most one pending JoinGroup and one pending SyncGroup
 *     answer; every pending answer is completed (with a result or an error)
 *     by the time the state it waited for has passed;
 *   - only PreparingRebalance answers Heartbeat with REBALANCE_IN_PROGRESS;
 *     the leader alone receives the member list in its JoinGroup answer.
 *
 * Time comes in as now_ms arguments; deadlines are checked by group_tick. */
#ifndef RILL_BROKER_GROUP_GROUP_H
#define RILL_BROKER_GROUP_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strmap.h"
#include "proto/kafka_schema.h"

struct request;
struct group_coordinator;
struct coordinator_partition;

enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
};

const char *group_state_name(enum group_state state);

struct group_protocol {
    char *name;
    uint8_t *metadata;
    int32_t len;
};

struct group_member {
    struct group_member *next; /* join order */
    char *member_id;
    char *instance_id;         /* NULL for dynamic members */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    struct group_protocol *protocols;
    int32_t nprotocols;
    uint8_t *assignment;
    int32_t assignment_len;
    struct request *join_req;  /* JoinGroup waiting for the join phase to end */
    struct request *sync_req;  /* SyncGroup waiting for the leader's assignment */
    int64_t session_deadline_ms;
};

struct group_offset {
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp;  /* -1: by offsets.retention.minutes once empty */
};

struct group {
    struct coordinator_partition *cp;
    char *group_id;
    enum group_state state;
    int32_t generation;
    char *protocol_type;       /* NULL until the first member joins */
    char *protocol_name;       /* chosen at the end of a join phase */
    char *leader_id;
    struct group_member *members;
    int32_t nmembers;
    struct strmap pending_members;  /* member ids told MEMBER_ID_REQUIRED -> deadline */
    struct strmap offsets;          /* "topic\0partition" -> struct group_offset */
    int64_t join_deadline_ms;       /* PreparingRebalance ends by then (-1: none) */
    bool initial_delay;             /* first rebalance of an empty group */
    int64_t initial_delay_end_ms;   /* when the initial delay may be extended to */
    int64_t sync_deadline_ms;       /* CompletingRebalance ends by then (-1: none) */
    int64_t state_since_ms;         /* wall time of the last state change */
    bool storing;                   /* the leader's assignment is being written */
};

/* The settings the state machine needs, from the broker configuration. */
struct group_limits {
    int32_t min_session_timeout_ms;
    int32_t max_session_timeout_ms;
    int32_t initial_rebalance_delay_ms;
    int32_t max_size;
};

struct group *group_new(struct coordinator_partition *cp, const char *group_id, size_t len);

/* Completes every pending answer with error (the group is being dropped)
 * and frees it. */
void group_free(struct group *g, int16_t error);

struct group_member *group_find_member(struct group *g, const char *member_id, size_t len);

/* Request entry points: each completes req (now or later). */
void group_join(struct group *g, struct request *req, const struct group_limits *lim,
                int64_t now_ms, int64_t wall_ms);
void group_sync(struct group *g, struct request *req, int64_t now_ms);
void group_heartbeat(struct group *g, struct request *req, int64_t now_ms);
void group_leave(struct group *g, struct request *req, int64_t now_ms, int64_t wall_ms);

/* Checks member and generation for an offset commit: 0 to accept, or the
 * Kafka error to answer. */
int16_t group_validate_commit(struct group *g, int32_t generation, struct kafka_str member_id,
                              struct kafka_str instance_id);

/* Deadlines: join phase end, session expiry, sync timeout, pending members. */
void group_tick(struct group *g, int64_t now_ms, int64_t wall_ms);

/* Called by the coordinator once the leader's assignment is durable (or
 * could not be written: error != 0). */
void group_assignment_stored(struct group *g, int16_t error, int64_t now_ms, int64_t wall_ms);

/* Rebuilds a group from its stored metadata (coordinator load). */
struct group_metadata_value;
int group_restore(struct group *g, const struct group_metadata_value *v, int64_t now_ms);

/* The subscription bytes of m for the chosen protocol (NULL if none). */
const struct group_protocol *group_member_protocol(const struct group *g,
                                                   const struct group_member *m);

#endif
