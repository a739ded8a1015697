/* The one table that drives the Kafka front end: for each API its key,
 * name, the version range advertised in ApiVersions, the lowest version
 * actually served, and its handler. Dispatch, ApiVersions and request
 * logging all read this table; an API that is not here is not advertised. */
#ifndef RILL_BROKER_NET_API_TABLE_H
#define RILL_BROKER_NET_API_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;

typedef void (*api_handler_fn)(struct request *req);

struct api_entry {
    int16_t api_key;
    const char *name;
    int16_t min_version;   /* advertised */
    int16_t max_version;   /* advertised and served */
    int16_t serve_min;     /* below this, advertised only (answered UNSUPPORTED_VERSION) */
    api_handler_fn handler;
    /* A request that may wait on other clients (a Fetch long-poll for new
     * records, a JoinGroup or SyncGroup for the rest of the group) stops
     * counting against queued.max.requests once its handler has parked
     * it, as requests in Kafka's purgatory do: counting them could stall
     * the very clients they wait for. */
    bool waits_on_clients;
};

/* The entry for api_key, or NULL when Rill does not serve it. */
const struct api_entry *api_table_find(int16_t api_key);

/* Iteration over every entry, in api_key order. */
const struct api_entry *api_table_entries(size_t *count);

/* Handlers, one file each (broker/handle_*.c). */
void handle_api_versions(struct request *req);
void handle_metadata(struct request *req);
void handle_produce(struct request *req);
void handle_fetch(struct request *req);
void handle_list_offsets(struct request *req);
void handle_create_topics(struct request *req);
void handle_delete_topics(struct request *req);
void handle_create_partitions(struct request *req);
void handle_alter_configs(struct request *req);
void handle_incremental_alter_configs(struct request *req);
void handle_describe_cluster(struct request *req);
void handle_offset_for_leader_epoch(struct request *req);
void handle_describe_configs(struct request *req);
void handle_find_coordinator(struct request *req);
void handle_join_group(struct request *req);
void handle_sync_group(struct request *req);
void handle_heartbeat(struct request *req);
void handle_leave_group(struct request *req);
void handle_offset_commit(struct request *req);
void handle_offset_fetch(struct request *req);
void handle_describe_groups(struct request *req);
void handle_list_groups(struct request *req);
void handle_describe_quorum(struct request *req);
void handle_delete_groups(struct request *req);
void handle_init_producer_id(struct request *req);

#endif
