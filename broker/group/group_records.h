/* The records of __consumer_offsets, in Kafka's own layout so that tools
 * that read that topic understand them:
 *
 *   offset commit  key v1: group, topic, partition
 *                  value v3: offset, leader epoch, metadata, commit time
 *                  value v1: offset, metadata, commit time, expire time
 *   group metadata key v2: group
 *                  value v3: protocol type, generation, protocol, leader,
 *                  state time, members (id, instance id, client id, host,
 *                  rebalance and session timeouts, subscription, assignment)
 *
 * A record with a null value is a tombstone: the key's state is deleted.
 * Decoding is bounds-checked like every other codec. */
#ifndef RILL_BROKER_GROUP_GROUP_RECORDS_H
#define RILL_BROKER_GROUP_GROUP_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_wire.h"

enum group_record_kind { GROUP_RECORD_OFFSET, GROUP_RECORD_GROUP };

struct group_record_key {
    enum group_record_kind kind;
    struct kafka_str group;
    struct kafka_str topic;   /* offsets only */
    int32_t partition;        /* offsets only */
};

struct group_offset_value {
    int64_t offset;
    int32_t leader_epoch;     /* -1 unknown */
    struct kafka_str metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1: by the group's retention */
};

struct group_member_value {
    struct kafka_str member_id;
    struct kafka_str instance_id; /* null for dynamic members */
    struct kafka_str client_id;
    struct kafka_str client_host;
    int32_t rebalance_timeout_ms;
    int32_t session_timeout_ms;
    struct kafka_bytes subscription;
    struct kafka_bytes assignment;
};

struct group_metadata_value {
    struct kafka_str protocol_type;
    int32_t generation;
    struct kafka_str protocol;   /* null when no protocol was chosen */
    struct kafka_str leader;     /* null when no leader */
    int64_t state_timestamp;
    int32_t nmembers;
    struct group_member_value *members;
};

void group_record_write_offset_key(struct kafka_writer *w, struct kafka_str group,
                                   struct kafka_str topic, int32_t partition);
void group_record_write_offset_value(struct kafka_writer *w, const struct group_offset_value *v);
void group_record_write_group_key(struct kafka_writer *w, struct kafka_str group);
void group_record_write_group_value(struct kafka_writer *w, const struct group_metadata_value *v);

/* Decoders: 0 or RILL_ERR_PARSE. members is allocated with malloc (the
 * caller frees it); strings and bytes point into the input. */
int group_record_read_key(const uint8_t *data, size_t len, struct group_record_key *key);
int group_record_read_offset_value(const uint8_t *data, size_t len,
                                   struct group_offset_value *v);
int group_record_read_group_value(const uint8_t *data, size_t len,
                                  struct group_metadata_value *v);

/* Kafka's choice of coordinator partition: abs(Java String.hashCode) mod
 * n, the hash taken over the UTF-16 code units of the group id. */
int32_t group_partition_for(const char *group, size_t len, int32_t partitions);

#endif
