/* Topic-level configuration: Kafka's topic keys (retention.ms,
 * segment.bytes, ...), each with the broker key that supplies its default
 * (its synonym), validated on CreateTopics and resolved into the effective
 * settings a partition log runs with. */
#ifndef RILL_BROKER_REPLICA_TOPIC_CONFIG_H
#define RILL_BROKER_REPLICA_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "metadata/image.h"
#include "storage/log.h"

struct topic_config {
    struct storage_log_config log;
    int32_t max_message_bytes;
    enum timestamp_type timestamp_type;
    int32_t min_insync_replicas;
};

struct topic_config_key {
    const char *name;           /* topic key */
    const char *broker_synonym; /* broker key giving its default, or NULL */
    enum config_type type;
    int64_t min, max;
    const char *doc;
};

extern const struct topic_config_key topic_config_keys[];
extern const size_t topic_config_key_count;

const struct topic_config_key *topic_config_find(const char *name, size_t len);

/* Checks one topic key/value pair. Returns 0, or RILL_ERR_CONFIG with a
 * message in err. */
int topic_config_validate(const char *name, size_t name_len, const char *value,
                          size_t value_len, char *err, size_t errlen);

/* Effective settings of topic: its overrides over the broker defaults. */
void topic_config_resolve(const struct broker_config *bcfg, const struct metadata_topic *topic,
                          struct topic_config *out);

/* The effective value of key for topic (NULL topic: the broker default) as
 * text, and whether it comes from a topic override. */
const char *topic_config_value(const struct broker_config *bcfg,
                               const struct metadata_topic *topic,
                               const struct topic_config_key *key, char *buf, size_t len,
                               bool *is_override);

#endif
