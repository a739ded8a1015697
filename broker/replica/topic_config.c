#include "broker/replica/topic_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"

const struct topic_config_key topic_config_keys[] = {
    {"cleanup.policy", NULL, CONFIG_STRING, 0, 0,
     "delete (compaction is not supported yet)"},
    {"compression.type", NULL, CONFIG_STRING, 0, 0,
     "producer: batches are stored as the producer compressed them"},
    {"retention.ms", "log.retention.ms", CONFIG_LONG, -1, INT64_MAX, "time retention"},
    {"retention.bytes", "log.retention.bytes", CONFIG_LONG, -1, INT64_MAX, "size retention"},
    {"segment.bytes", "log.segment.bytes", CONFIG_LONG, 1048576, INT32_MAX, "segment size"},
    {"segment.ms", "log.roll.ms", CONFIG_LONG, 1, INT64_MAX, "segment age"},
    {"index.interval.bytes", "log.index.interval.bytes", CONFIG_INT, 0, INT32_MAX,
     "bytes between index entries"},
    {"flush.messages", "log.flush.interval.messages", CONFIG_LONG, 1, INT64_MAX,
     "messages between fsyncs (interval policy)"},
    {"flush.ms", "log.flush.interval.ms", CONFIG_LONG, 0, INT64_MAX,
     "milliseconds between fsyncs (interval policy)"},
    {"max.message.bytes", "message.max.bytes", CONFIG_INT, 0, INT32_MAX, "largest batch"},
    {"message.timestamp.type", "log.message.timestamp.type", CONFIG_STRING, 0, 0,
     "CreateTime or LogAppendTime"},
    {"min.insync.replicas", "min.insync.replicas", CONFIG_INT, 1, 32767,
     "replicas needed for acks=all"},
    {"unclean.leader.election.enable", "unclean.leader.election.enable", CONFIG_BOOL, 0, 1,
     "true or false: a replica outside the ISR may lead when no ISR member is alive"},
};

const size_t topic_config_key_count = sizeof(topic_config_keys) / sizeof(topic_config_keys[0]);

const struct topic_config_key *topic_config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < topic_config_key_count; i++)
        if (strlen(topic_config_keys[i].name) == len &&
            memcmp(topic_config_keys[i].name, name, len) == 0)
            return &topic_config_keys[i];
    return NULL;
}

static int topic_config_number(const char *value, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int topic_config_validate(const char *name, size_t name_len, const char *value,
                          size_t value_len, char *err, size_t errlen)
{
    const struct topic_config_key *key = topic_config_find(name, name_len);
    if (key == NULL) {
        snprintf(err, errlen, "Unknown topic config name: %.*s", (int)name_len, name);
        return RILL_ERR_CONFIG;
    }
    char v[256];
    if (value == NULL || value_len >= sizeof(v)) {
        snprintf(err, errlen, "Invalid value for %s", key->name);
        return RILL_ERR_CONFIG;
    }
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    if (key->type == CONFIG_INT || key->type == CONFIG_LONG) {
        int64_t n;
        if (topic_config_number(v, &n) != 0 || n < key->min || n > key->max) {
            snprintf(err, errlen, "Invalid value %s for configuration %s: must be a number in "
                     "[%" PRId64 ", %" PRId64 "]", v, key->name, key->min, key->max);
            return RILL_ERR_CONFIG;
        }
        return RILL_OK;
    }
    bool ok = true;
    if (strcmp(key->name, "cleanup.policy") == 0)
        ok = strcmp(v, "delete") == 0;
    else if (strcmp(key->name, "compression.type") == 0)
        ok = strcmp(v, "producer") == 0;
    else if (strcmp(key->name, "message.timestamp.type") == 0)
        ok = strcmp(v, "CreateTime") == 0 || strcmp(v, "LogAppendTime") == 0;
    else if (key->type == CONFIG_BOOL)
        ok = strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    if (!ok) {
        snprintf(err, errlen, "Invalid value %s for configuration %s: %s", v, key->name,
                 key->doc);
        return RILL_ERR_CONFIG;
    }
    return RILL_OK;
}

static int64_t topic_config_long(const struct metadata_topic *t, const char *name, int64_t def)
{
    const char *v = t ? metadata_topic_config(t, name) : NULL;
    int64_t n;
    if (v != NULL && topic_config_number(v, &n) == 0)
        return n;
    return def;
}

void topic_config_resolve(const struct broker_config *bcfg, const struct metadata_topic *topic,
                          struct topic_config *out)
{
    const struct storage_log_config *d = &bcfg->log_defaults;
    out->log = *d;
    out->log.retention_ms = topic_config_long(topic, "retention.ms", d->retention_ms);
    out->log.retention_bytes = topic_config_long(topic, "retention.bytes", d->retention_bytes);
    out->log.segment_bytes = topic_config_long(topic, "segment.bytes", d->segment_bytes);
    out->log.segment_ms = topic_config_long(topic, "segment.ms", d->segment_ms);
    out->log.index_interval_bytes =
        (int32_t)topic_config_long(topic, "index.interval.bytes", d->index_interval_bytes);
    out->log.flush_messages = topic_config_long(topic, "flush.messages", d->flush_messages);
    out->log.flush_ms = topic_config_long(topic, "flush.ms", d->flush_ms);
    out->max_message_bytes =
        (int32_t)topic_config_long(topic, "max.message.bytes", bcfg->message_max_bytes);
    out->min_insync_replicas =
        (int32_t)topic_config_long(topic, "min.insync.replicas", bcfg->min_insync_replicas);
    if (topic != NULL && topic->internal) {
        /* Internal topics hold state the broker acknowledges (committed
         * offsets): always fsynced first, never deleted by age or size. */
        out->log.flush_policy = FLUSH_ALWAYS;
        out->log.retention_ms = -1;
        out->log.retention_bytes = -1;
        out->log.segment_bytes = bcfg->offsets_topic_segment_bytes;
    }
    out->timestamp_type = bcfg->timestamp_type;
    const char *ts = topic ? metadata_topic_config(topic, "message.timestamp.type") : NULL;
    if (ts != NULL)
        out->timestamp_type = strcmp(ts, "LogAppendTime") == 0 ? TIMESTAMP_LOG_APPEND_TIME
                                                               : TIMESTAMP_CREATE_TIME;
}

const char *topic_config_value(const struct broker_config *bcfg,
                               const struct metadata_topic *topic,
                               const struct topic_config_key *key, char *buf, size_t len,
                               bool *is_override)
{
    const char *v = topic ? metadata_topic_config(topic, key->name) : NULL;
    *is_override = v != NULL;
    if (v != NULL)
        return v;
    struct topic_config eff;
    topic_config_resolve(bcfg, NULL, &eff);
    if (strcmp(key->name, "cleanup.policy") == 0)
        return "delete";
    if (strcmp(key->name, "compression.type") == 0)
        return "producer";
    if (strcmp(key->name, "message.timestamp.type") == 0)
        return eff.timestamp_type == TIMESTAMP_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime";
    if (strcmp(key->name, "unclean.leader.election.enable") == 0)
        return bcfg->unclean_leader_election_enable ? "true" : "false";
    int64_t n = 0;
    if (strcmp(key->name, "retention.ms") == 0)
        n = eff.log.retention_ms;
    else if (strcmp(key->name, "retention.bytes") == 0)
        n = eff.log.retention_bytes;
    else if (strcmp(key->name, "segment.bytes") == 0)
        n = eff.log.segment_bytes;
    else if (strcmp(key->name, "segment.ms") == 0)
        n = eff.log.segment_ms;
    else if (strcmp(key->name, "index.interval.bytes") == 0)
        n = eff.log.index_interval_bytes;
    else if (strcmp(key->name, "flush.messages") == 0)
        n = eff.log.flush_messages;
    else if (strcmp(key->name, "flush.ms") == 0)
        n = eff.log.flush_ms;
    else if (strcmp(key->name, "max.message.bytes") == 0)
        n = eff.max_message_bytes;
    else if (strcmp(key->name, "min.insync.replicas") == 0)
        n = eff.min_insync_replicas;
    snprintf(buf, len, "%" PRId64, n);
    return buf;
}
