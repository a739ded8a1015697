#include "broker/net/api_table.h"

#include <stddef.h>

#include "proto/kafka_messages.h"

/* Version ranges: ../shared/reference/kafka-protocol.md §1 explains the
 * choice. In short: every maximum is one that every client in the list can
 * use; Produce is advertised from 0 because librdkafka 2.0.2 only
 * compresses when it sees Produce v0, but v0-2 (pre-magic-2) are refused;
 * Fetch reaching 11 and Produce 8 make kafka-python 2.0.2 infer a modern
 * broker. */
static const struct api_entry api_entries[] = {
    {KAFKA_API_PRODUCE, "Produce", 0, 8, 3, handle_produce},
    {KAFKA_API_FETCH, "Fetch", 4, 12, 4, handle_fetch, true},
    {KAFKA_API_LIST_OFFSETS, "ListOffsets", 1, 5, 1, handle_list_offsets},
    {KAFKA_API_METADATA, "Metadata", 0, 8, 0, handle_metadata},
    {KAFKA_API_OFFSET_COMMIT, "OffsetCommit", 2, 7, 2, handle_offset_commit},
    {KAFKA_API_OFFSET_FETCH, "OffsetFetch", 1, 5, 1, handle_offset_fetch},
    {KAFKA_API_FIND_COORDINATOR, "FindCoordinator", 0, 2, 0, handle_find_coordinator},
    {KAFKA_API_JOIN_GROUP, "JoinGroup", 0, 5, 0, handle_join_group, true},
    {KAFKA_API_HEARTBEAT, "Heartbeat", 0, 3, 0, handle_heartbeat},
    {KAFKA_API_LEAVE_GROUP, "LeaveGroup", 0, 3, 0, handle_leave_group},
    {KAFKA_API_SYNC_GROUP, "SyncGroup", 0, 3, 0, handle_sync_group, true},
    {KAFKA_API_DESCRIBE_GROUPS, "DescribeGroups", 0, 4, 0, handle_describe_groups},
    {KAFKA_API_LIST_GROUPS, "ListGroups", 0, 2, 0, handle_list_groups},
    {KAFKA_API_API_VERSIONS, "ApiVersions", 0, 4, 0, handle_api_versions},
    {KAFKA_API_CREATE_TOPICS, "CreateTopics", 2, 4, 2, handle_create_topics},
    {KAFKA_API_DELETE_TOPICS, "DeleteTopics", 1, 3, 1, handle_delete_topics},
    {KAFKA_API_INIT_PRODUCER_ID, "InitProducerId", 0, 1, 0, handle_init_producer_id},
    {KAFKA_API_DESCRIBE_CONFIGS, "DescribeConfigs", 1, 3, 1, handle_describe_configs},
    {KAFKA_API_ALTER_CONFIGS, "AlterConfigs", 0, 2, 0, handle_alter_configs},
    {KAFKA_API_CREATE_PARTITIONS, "CreatePartitions", 0, 3, 0, handle_create_partitions},
    {KAFKA_API_DELETE_GROUPS, "DeleteGroups", 0, 1, 0, handle_delete_groups},
    {KAFKA_API_INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs", 0, 1, 0,
     handle_incremental_alter_configs},
    {KAFKA_API_DESCRIBE_QUORUM, "DescribeQuorum", 0, 2, 0, handle_describe_quorum},
    {KAFKA_API_DESCRIBE_CLUSTER, "DescribeCluster", 0, 2, 0, handle_describe_cluster},
    {KAFKA_API_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", 2, 4, 2,
     handle_offset_for_leader_epoch},
};

enum { API_COUNT = sizeof(api_entries) / sizeof(api_entries[0]) };

const struct api_entry *api_table_find(int16_t api_key)
{
    for (size_t i = 0; i < API_COUNT; i++)
        if (api_entries[i].api_key == api_key)
            return &api_entries[i];
    return NULL;
}

const struct api_entry *api_table_entries(size_t *count)
{
    *count = API_COUNT;
    return api_entries;
}
