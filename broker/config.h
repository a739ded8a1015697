/* Broker configuration: one table of keys (Kafka's server.properties names
 * where Kafka has the setting), each with its type, bounds, default and a
 * one-line doc. The table drives parsing, validation, the environment and
 * flag overrides, DescribeConfigs, and the generated configuration
 * reference (rill --config-docs).
 *
 * Precedence, lowest first: defaults, the properties file, environment
 * variables (KAFKA_<KEY>, KAFKA_CFG_<KEY>, RILL_<KEY>, with Kafka's image
 * rule: '.' -> '_', '_' -> '__', '-' -> '___', upper case), command-line
 * flags (--key=value). Unknown keys are warned about; an invalid value stops
 * the start with a message that names the key. */
#ifndef RILL_BROKER_CONFIG_H
#define RILL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log.h"

struct broker_listener {
    char name[32];      /* PLAINTEXT */
    char host[256];     /* empty = all interfaces */
    int port;
};

/* One voter of controller.quorum.voters: id@host:port (its controller
 * listener). */
struct quorum_voter {
    int32_t id;
    char host[256];
    int port;
};

enum timestamp_type { TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME };

struct config_ip_override {
    char address[64];
    int32_t max_connections;
};

struct broker_config {
    int32_t node_id;
    char *process_roles;
    char *cluster_id;
    char *listeners;
    char *advertised_listeners;
    char *log_dirs;
    int32_t num_partitions;
    int32_t default_replication_factor;
    int32_t min_insync_replicas;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int64_t log_roll_hours;
    int64_t log_retention_ms;
    int64_t log_retention_minutes;
    int64_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int32_t log_index_interval_bytes;
    char *log_flush_policy;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    char *log_message_timestamp_type;
    int64_t connections_max_idle_ms;
    int64_t queued_max_request_bytes;
    int32_t queued_max_requests;
    int32_t max_connections;
    int32_t max_connections_per_ip;
    char *max_connections_per_ip_overrides;
    int32_t offsets_topic_num_partitions;
    int32_t offsets_topic_replication_factor;
    int64_t offsets_topic_segment_bytes;
    int32_t offsets_commit_timeout_ms;
    int64_t offsets_retention_minutes;
    int64_t offsets_retention_check_interval_ms;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t group_max_size;
    int64_t producer_id_expiration_ms;
    char *log_level;
    char *controller_quorum_voters;
    char *controller_listener_names;
    int32_t controller_quorum_election_timeout_ms;
    int32_t controller_quorum_fetch_timeout_ms;
    int32_t controller_quorum_request_timeout_ms;
    int32_t controller_quorum_retry_backoff_ms;
    int64_t metadata_log_max_record_bytes_between_snapshots;
    int32_t metadata_log_segment_bytes;
    int32_t broker_heartbeat_interval_ms;
    int32_t broker_session_timeout_ms;
    bool unclean_leader_election_enable;
    bool auto_leader_rebalance_enable;
    int32_t leader_imbalance_check_interval_seconds;
    int32_t leader_imbalance_per_broker_percentage;
    int64_t replica_lag_time_max_ms;
    int32_t replica_fetch_max_bytes;
    int32_t replica_fetch_response_max_bytes;
    int32_t replica_fetch_wait_max_ms;
    int32_t replica_fetch_backoff_ms;

    /* Derived by config_finish(), not keys themselves. */
    struct broker_listener listener;        /* the client listener */
    struct broker_listener advertised;      /* what Metadata returns */
    struct broker_listener controller;      /* the internal listener; port -1: none */
    struct quorum_voter voters[9];          /* LIMIT_RAFT_VOTERS; this node alone if unset */
    size_t nvoters;
    bool voter;                             /* this node votes (else it observes) */
    char **log_dir_list;
    size_t log_dir_count;
    struct storage_log_config log_defaults; /* broker-wide topic defaults */
    enum timestamp_type timestamp_type;
    struct config_ip_override *ip_overrides; /* max.connections.per.ip.overrides */
    size_t ip_override_count;
};

enum config_type { CONFIG_INT, CONFIG_LONG, CONFIG_BOOL, CONFIG_STRING };

struct config_key {
    const char *name;
    enum config_type type;
    size_t offset;
    const char *default_value; /* NULL: no default (unset) */
    int64_t min, max;          /* for numbers */
    const char *doc;
};

extern const struct config_key broker_config_keys[];
extern const size_t broker_config_key_count;

/* Fills cfg with defaults, then applies the file (NULL for none), the
 * environment (envp, NULL-terminated) and argv flags. On error returns
 * RILL_ERR_CONFIG with a message in err naming the key. *wants_exit is set
 * when a flag such as --help was handled (print and stop). */
int config_load(struct broker_config *cfg, int argc, char **argv, char **envp, char *err,
                size_t errlen, bool *wants_exit);

/* Releases the strings the configuration owns. */
void config_free(struct broker_config *cfg);

/* The value of key as text (for DescribeConfigs and the start-up log);
 * writes into buf and returns it, or NULL for an unknown key. */
const char *config_value_text(const struct broker_config *cfg, const struct config_key *key,
                              char *buf, size_t len);

/* Whether a key still has its default value. */
bool config_is_default(const struct broker_config *cfg, const struct config_key *key);

const struct config_key *config_find_key(const char *name);

/* Parses a Java .properties file into calls of fn(ctx, key, value).
 * Returns 0 or RILL_ERR_CONFIG with a message. */
int config_parse_properties(const char *path, int (*fn)(void *ctx, const char *key,
                                                         const char *value),
                            void *ctx, char *err, size_t errlen);

/* Writes the Markdown configuration reference to stdout. */
void config_print_docs(void);

#endif
