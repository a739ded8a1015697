#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"

#define CFG_OFF(field) offsetof(struct broker_config, field)
#define HOURS_MS(h) ((int64_t)(h) * 3600 * 1000)

/* The one table of broker settings. Keys and defaults follow Kafka's
 * server.properties unless the doc says otherwise. */
const struct config_key broker_config_keys[] = {
    {"node.id", CONFIG_INT, CFG_OFF(node_id), "1", 0, INT32_MAX,
     "Id of this node in the cluster (broker.id is accepted as an alias)."},
    {"process.roles", CONFIG_STRING, CFG_OFF(process_roles), "broker,controller", 0, 0,
     "broker,controller: a voter of the metadata quorum that also serves clients; broker "
     "alone: an observer, which follows the metadata log without voting."},
    {"controller.quorum.voters", CONFIG_STRING, CFG_OFF(controller_quorum_voters), NULL, 0, 0,
     "The metadata quorum, id@host:port of each voter's controller listener, comma-separated; "
     "unset, this node is a quorum of one."},
    {"controller.listener.names", CONFIG_STRING, CFG_OFF(controller_listener_names),
     "CONTROLLER", 0, 0,
     "The listener (of listeners) that carries Raft and controller traffic between nodes."},
    {"controller.quorum.election.timeout.ms", CONFIG_INT,
     CFG_OFF(controller_quorum_election_timeout_ms), "1000", 50, 600000,
     "Time without hearing from the leader before a voter stands; drawn from [T, 2T)."},
    {"controller.quorum.fetch.timeout.ms", CONFIG_INT, CFG_OFF(controller_quorum_fetch_timeout_ms),
     "2000", 50, 600000,
     "A leader that a majority has not fetched from within this resigns (check-quorum)."},
    {"controller.quorum.request.timeout.ms", CONFIG_INT,
     CFG_OFF(controller_quorum_request_timeout_ms), "2000", 10, 600000,
     "An unanswered Raft request is sent again after this."},
    {"controller.quorum.retry.backoff.ms", CONFIG_INT, CFG_OFF(controller_quorum_retry_backoff_ms),
     "20", 1, 60000, "Wait before reconnecting to a quorum peer."},
    {"metadata.log.max.record.bytes.between.snapshots", CONFIG_LONG,
     CFG_OFF(metadata_log_max_record_bytes_between_snapshots), "20971520", 1024, INT64_MAX,
     "Metadata records (bytes) applied after which a node writes a new snapshot of its image "
     "and deletes the metadata log segments before it."},
    {"metadata.log.segment.bytes", CONFIG_INT, CFG_OFF(metadata_log_segment_bytes), "67108864",
     16384, INT32_MAX,
     "Segment size of the metadata log; only whole segments below a snapshot are deleted."},
    {"broker.heartbeat.interval.ms", CONFIG_INT, CFG_OFF(broker_heartbeat_interval_ms), "2000",
     10, 600000, "How often a registered broker tells the controller it is alive."},
    {"broker.session.timeout.ms", CONFIG_INT, CFG_OFF(broker_session_timeout_ms), "9000", 50,
     3600000,
     "A broker the controller has not heard from within this is fenced: its leaderships move "
     "to other in-sync replicas and Metadata stops listing it."},
    {"unclean.leader.election.enable", CONFIG_BOOL, CFG_OFF(unclean_leader_election_enable),
     "false", 0, 1,
     "Let a replica outside the ISR lead when no in-sync replica is alive (may lose "
     "acknowledged records)."},
    {"auto.leader.rebalance.enable", CONFIG_BOOL, CFG_OFF(auto_leader_rebalance_enable), "true",
     0, 1, "Give partitions back to their preferred (first) replica when a broker's share of "
     "them led elsewhere passes leader.imbalance.per.broker.percentage."},
    {"leader.imbalance.check.interval.seconds", CONFIG_INT,
     CFG_OFF(leader_imbalance_check_interval_seconds), "300", 1, INT32_MAX / 1000,
     "How often the controller checks for leader imbalance."},
    {"leader.imbalance.per.broker.percentage", CONFIG_INT,
     CFG_OFF(leader_imbalance_per_broker_percentage), "10", 0, 100,
     "Share of a broker's preferred partitions led elsewhere that triggers a rebalance."},
    {"replica.lag.time.max.ms", CONFIG_LONG, CFG_OFF(replica_lag_time_max_ms), "30000", 1,
     INT32_MAX, "A follower that has not caught up with its leader for this long leaves the "
     "ISR (through the controller); it comes back once it has caught up."},
    {"replica.fetch.max.bytes", CONFIG_INT, CFG_OFF(replica_fetch_max_bytes), "1048576", 1024,
     INT32_MAX, "Bytes a follower asks for per partition in one fetch (the first batch comes "
     "whole even when larger)."},
    {"replica.fetch.response.max.bytes", CONFIG_INT, CFG_OFF(replica_fetch_response_max_bytes),
     "10485760", 1024, LIMIT_REPLICA_FETCH_RESPONSE_BYTES,
     "Bytes a follower asks for in one fetch over all its partitions."},
    {"replica.fetch.wait.max.ms", CONFIG_INT, CFG_OFF(replica_fetch_wait_max_ms), "500", 0,
     INT32_MAX, "How long a follower's fetch waits at the leader for new data."},
    {"replica.fetch.backoff.ms", CONFIG_INT, CFG_OFF(replica_fetch_backoff_ms), "1000", 0,
     INT32_MAX, "Pause after a follower's fetch failed (a closed connection, an error) before "
     "the next attempt; a new leader in the image is fetched from at once."},
    {"cluster.id", CONFIG_STRING, CFG_OFF(cluster_id), NULL, 0, 0,
     "Cluster id (also CLUSTER_ID in the environment); generated on first start if unset."},
    {"listeners", CONFIG_STRING, CFG_OFF(listeners), "PLAINTEXT://:9092", 0, 0,
     "Client listener, NAME://host:port; an empty host binds every interface."},
    {"advertised.listeners", CONFIG_STRING, CFG_OFF(advertised_listeners), NULL, 0, 0,
     "Address returned to clients in Metadata; defaults to listeners, with an empty host "
     "advertised as localhost (as Kafka's sample server.properties)."},
    {"log.dirs", CONFIG_STRING, CFG_OFF(log_dirs), "/tmp/rill-logs", 0, 0,
     "Comma-separated data directories (log.dir is accepted as an alias)."},
    {"num.partitions", CONFIG_INT, CFG_OFF(num_partitions), "1", 1, LIMIT_PARTITIONS_PER_TOPIC,
     "Partitions of automatically created topics."},
    {"default.replication.factor", CONFIG_INT, CFG_OFF(default_replication_factor), "1", 1, 32767,
     "Replication factor of automatically created topics."},
    {"min.insync.replicas", CONFIG_INT, CFG_OFF(min_insync_replicas), "1", 1, 32767,
     "Replicas that must hold a record before acks=all succeeds."},
    {"auto.create.topics.enable", CONFIG_BOOL, CFG_OFF(auto_create_topics_enable), "true", 0, 1,
     "Create unknown topics named in Metadata and Produce requests."},
    {"delete.topic.enable", CONFIG_BOOL, CFG_OFF(delete_topic_enable), "true", 0, 1,
     "Allow DeleteTopics."},
    {"log.segment.bytes", CONFIG_LONG, CFG_OFF(log_segment_bytes), "1073741824", 1048576,
     INT32_MAX, "Size at which a segment file is closed and a new one started."},
    {"log.roll.ms", CONFIG_LONG, CFG_OFF(log_roll_ms), NULL, 1, INT64_MAX,
     "Age at which a segment is rolled even if not full (overrides log.roll.hours)."},
    {"log.roll.hours", CONFIG_LONG, CFG_OFF(log_roll_hours), "168", 1, INT32_MAX,
     "Age in hours at which a segment is rolled."},
    {"log.retention.ms", CONFIG_LONG, CFG_OFF(log_retention_ms), NULL, -1, INT64_MAX,
     "How long to keep closed segments; -1 keeps them forever (overrides minutes and hours)."},
    {"log.retention.minutes", CONFIG_LONG, CFG_OFF(log_retention_minutes), NULL, -1, INT32_MAX,
     "Retention in minutes (overrides log.retention.hours)."},
    {"log.retention.hours", CONFIG_LONG, CFG_OFF(log_retention_hours), "168", -1, INT32_MAX,
     "Retention in hours."},
    {"log.retention.bytes", CONFIG_LONG, CFG_OFF(log_retention_bytes), "-1", -1, INT64_MAX,
     "Size above which the oldest closed segments of a partition are deleted; -1 = no limit."},
    {"log.retention.check.interval.ms", CONFIG_LONG, CFG_OFF(log_retention_check_interval_ms),
     "300000", 1, INT64_MAX, "How often retention is applied."},
    {"log.index.interval.bytes", CONFIG_INT, CFG_OFF(log_index_interval_bytes), "4096", 0,
     INT32_MAX, "Bytes between entries of the sparse offset and time index."},
    {"log.flush.policy", CONFIG_STRING, CFG_OFF(log_flush_policy), "always", 0, 0,
     "Rill: always = fsync (group commit) before a write counts as durable and is "
     "acknowledged; interval = by log.flush.interval.messages/ms; never = leave it to the OS "
     "(Kafka's default)."},
    {"log.flush.interval.messages", CONFIG_LONG, CFG_OFF(log_flush_interval_messages),
     "9223372036854775807", 1, INT64_MAX, "Messages between fsyncs under the interval policy."},
    {"log.flush.interval.ms", CONFIG_LONG, CFG_OFF(log_flush_interval_ms),
     "9223372036854775807", 1, INT64_MAX, "Milliseconds between fsyncs under the interval policy."},
    {"message.max.bytes", CONFIG_INT, CFG_OFF(message_max_bytes), "1048588", 0, INT32_MAX,
     "Largest record batch accepted (topic override: max.message.bytes)."},
    {"socket.request.max.bytes", CONFIG_INT, CFG_OFF(socket_request_max_bytes), "104857600", 16,
     INT32_MAX, "Largest request frame; larger ones close the connection before buffering."},
    {"log.message.timestamp.type", CONFIG_STRING, CFG_OFF(log_message_timestamp_type),
     "CreateTime", 0, 0, "CreateTime or LogAppendTime (topic override: message.timestamp.type)."},
    {"connections.max.idle.ms", CONFIG_LONG, CFG_OFF(connections_max_idle_ms), "600000", 1,
     INT64_MAX, "A connection with no request in flight and no bytes moved for this long is "
     "closed."},
    {"queued.max.request.bytes", CONFIG_LONG, CFG_OFF(queued_max_request_bytes), "268435456", -1,
     INT64_MAX, "Bytes of all requests read but not yet answered, partly received frames "
     "included; while it is reached, reading pauses on every connection (one frame may finish "
     "past it, so a partly received frame never waits forever). -1: no limit (Kafka's "
     "default); otherwise at least socket.request.max.bytes."},
    {"queued.max.requests", CONFIG_INT, CFG_OFF(queued_max_requests), "500", 1, INT32_MAX,
     "Requests read but not yet answered, beyond those waiting on other clients (a Fetch "
     "long-poll, a JoinGroup or SyncGroup in a rebalance); while it is reached, reading "
     "pauses on every connection."},
    {"max.connections", CONFIG_INT, CFG_OFF(max_connections), "2147483647", 0, INT32_MAX,
     "Client connections; at the limit new ones wait in the listen backlog until one closes. "
     "Rill holds at most LIMIT_CONNECTIONS (100000) whatever this says."},
    {"max.connections.per.ip", CONFIG_INT, CFG_OFF(max_connections_per_ip), "2147483647", 0,
     INT32_MAX, "Connections from one address; a connection past it is closed at once."},
    {"max.connections.per.ip.overrides", CONFIG_STRING, CFG_OFF(max_connections_per_ip_overrides),
     "", 0, 0, "Per-address limits as address:count,address:count, overriding "
     "max.connections.per.ip."},
    {"offsets.topic.num.partitions", CONFIG_INT, CFG_OFF(offsets_topic_num_partitions), "50", 1,
     LIMIT_PARTITIONS_PER_TOPIC, "Partitions of __consumer_offsets."},
    {"offsets.topic.replication.factor", CONFIG_INT, CFG_OFF(offsets_topic_replication_factor),
     "3", 1, 32767,
     "Replication factor of __consumer_offsets (capped by the number of brokers)."},
    {"offsets.topic.segment.bytes", CONFIG_LONG, CFG_OFF(offsets_topic_segment_bytes), "104857600",
     1048576, INT32_MAX, "Segment size of __consumer_offsets (kept small to clean it sooner)."},
    {"offsets.commit.timeout.ms", CONFIG_INT, CFG_OFF(offsets_commit_timeout_ms), "5000", 1,
     INT32_MAX, "How long an offset commit may wait to become durable."},
    {"offsets.retention.minutes", CONFIG_LONG, CFG_OFF(offsets_retention_minutes), "10080", 1,
     INT32_MAX, "Committed offsets of an empty group are dropped after this long."},
    {"offsets.retention.check.interval.ms", CONFIG_LONG,
     CFG_OFF(offsets_retention_check_interval_ms), "600000", 1, INT64_MAX,
     "How often expired offsets are removed."},
    {"group.initial.rebalance.delay.ms", CONFIG_INT, CFG_OFF(group_initial_rebalance_delay_ms),
     "3000", 0, INT32_MAX, "Wait for more members before the first rebalance of a new group."},
    {"group.min.session.timeout.ms", CONFIG_INT, CFG_OFF(group_min_session_timeout_ms), "6000", 1,
     INT32_MAX, "Smallest session timeout a member may ask for."},
    {"group.max.session.timeout.ms", CONFIG_INT, CFG_OFF(group_max_session_timeout_ms), "1800000",
     1, INT32_MAX, "Largest session timeout a member may ask for."},
    {"group.max.size", CONFIG_INT, CFG_OFF(group_max_size), "2147483647", 1, INT32_MAX,
     "Most members one consumer group may have."},
    {"producer.id.expiration.ms", CONFIG_LONG, CFG_OFF(producer_id_expiration_ms), "86400000", 1,
     INT64_MAX, "An idempotent producer idle this long is forgotten (its next batch is "
     "accepted as new)."},
    {"log.level", CONFIG_STRING, CFG_OFF(log_level), "info", 0, 0,
     "Rill: debug, info, warn or error."},
};

const size_t broker_config_key_count = sizeof(broker_config_keys) / sizeof(broker_config_keys[0]);

/* Older names users still write. */
static const struct {
    const char *alias;
    const char *name;
} config_aliases[] = {
    {"broker.id", "node.id"},
    {"log.dir", "log.dirs"},
};

/* Keys Kafka users routinely have in server.properties that do not apply
 * to Rill: accepted silently instead of warned about. */
static const char *const config_ignored[] = {
    "controller.quorum.bootstrap.servers", "listener.security.protocol.map",
    "inter.broker.listener.name", "num.network.threads", "num.io.threads",
    "socket.send.buffer.bytes", "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir", "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr", "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr", "metadata.log.dir",
};

const struct config_key *config_find_key(const char *name)
{
    for (size_t i = 0; i < sizeof(config_aliases) / sizeof(config_aliases[0]); i++)
        if (strcmp(name, config_aliases[i].alias) == 0)
            name = config_aliases[i].name;
    for (size_t i = 0; i < broker_config_key_count; i++)
        if (strcmp(broker_config_keys[i].name, name) == 0)
            return &broker_config_keys[i];
    return NULL;
}

static bool config_is_ignored(const char *name)
{
    for (size_t i = 0; i < sizeof(config_ignored) / sizeof(config_ignored[0]); i++)
        if (strcmp(name, config_ignored[i]) == 0)
            return true;
    return false;
}

static void config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Which keys were set explicitly (not defaults); indexed like the table. */
struct config_loader {
    struct broker_config *cfg;
    bool set[64];
    char *err;
    size_t errlen;
    const char *source;
};

_Static_assert(sizeof(broker_config_keys) / sizeof(broker_config_keys[0]) <= 64,
               "config_loader.set has room for every key");

static int config_set_value(struct broker_config *cfg, const struct config_key *key,
                            const char *value, char *err, size_t errlen)
{
    void *field = (char *)cfg + key->offset;
    switch (key->type) {
    case CONFIG_INT:
    case CONFIG_LONG: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (errno != 0 || end == value || *end != '\0') {
            config_err(err, errlen, "invalid value '%s' for %s: not a number", value, key->name);
            return RILL_ERR_CONFIG;
        }
        if (v < key->min || v > key->max) {
            config_err(err, errlen, "invalid value %lld for %s: must be in [%" PRId64 ", %" PRId64
                       "]", v, key->name, key->min, key->max);
            return RILL_ERR_CONFIG;
        }
        if (key->type == CONFIG_INT) {
            int32_t x = (int32_t)v;
            memcpy(field, &x, sizeof(x));
        } else {
            int64_t x = v;
            memcpy(field, &x, sizeof(x));
        }
        return RILL_OK;
    }
    case CONFIG_BOOL: {
        bool b;
        if (strcasecmp(value, "true") == 0)
            b = true;
        else if (strcasecmp(value, "false") == 0)
            b = false;
        else {
            config_err(err, errlen, "invalid value '%s' for %s: expected true or false", value,
                       key->name);
            return RILL_ERR_CONFIG;
        }
        memcpy(field, &b, sizeof(b));
        return RILL_OK;
    }
    case CONFIG_STRING: {
        char *copy = strdup(value);
        if (copy == NULL)
            return RILL_ERR_NOMEM;
        char *old;
        memcpy(&old, field, sizeof(old));
        free(old);
        memcpy(field, &copy, sizeof(copy));
        return RILL_OK;
    }
    }
    return RILL_ERR_CONFIG;
}

static int config_apply(void *ctx, const char *name, const char *value)
{
    struct config_loader *ld = ctx;
    const struct config_key *key = config_find_key(name);
    if (key == NULL) {
        if (!config_is_ignored(name))
            log_warn("config", "unknown key %s (from %s) ignored", name, ld->source);
        return RILL_OK;
    }
    int rc = config_set_value(ld->cfg, key, value, ld->err, ld->errlen);
    if (rc != 0) {
        size_t n = strlen(ld->err);
        snprintf(ld->err + n, ld->errlen - n, " (from %s)", ld->source);
        return rc;
    }
    ld->set[key - broker_config_keys] = true;
    return RILL_OK;
}

/* ---- properties files -------------------------------------------------- */

/* Decodes one logical line's escapes (\t \n \r \f \uXXXX, \x = x). */
static void config_unescape(char *s)
{
    char *out = s;
    for (char *p = s; *p != '\0'; p++) {
        if (*p != '\\' || p[1] == '\0') {
            *out++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 't':
            *out++ = '\t';
            break;
        case 'n':
            *out++ = '\n';
            break;
        case 'r':
            *out++ = '\r';
            break;
        case 'f':
            *out++ = '\f';
            break;
        case 'u': {
            unsigned cp = 0;
            int digits = 0;
            while (digits < 4 && isxdigit((unsigned char)p[1])) {
                char c = *++p;
                cp = cp * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0'
                                                                     : (tolower(c) - 'a' + 10));
                digits++;
            }
            /* Encode as UTF-8. */
            if (cp < 0x80) {
                *out++ = (char)cp;
            } else if (cp < 0x800) {
                *out++ = (char)(0xc0 | (cp >> 6));
                *out++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *out++ = (char)(0xe0 | (cp >> 12));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *out++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            *out++ = *p;
            break;
        }
    }
    *out = '\0';
}

static char *config_trim_left(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\f')
        s++;
    return s;
}

int config_parse_properties(const char *path, int (*fn)(void *ctx, const char *key,
                                                         const char *value),
                            void *ctx, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        config_err(err, errlen, "cannot read configuration file %s: %s", path, strerror(errno));
        return RILL_ERR_CONFIG;
    }
    char *logical = malloc(LIMIT_CONFIG_LINE_BYTES);
    char *line = malloc(LIMIT_CONFIG_LINE_BYTES);
    int rc = RILL_OK;
    if (logical == NULL || line == NULL) {
        rc = RILL_ERR_NOMEM;
        goto out;
    }
    int lineno = 0;
    size_t used = 0;
    bool continuing = false;
    while (fgets(line, LIMIT_CONFIG_LINE_BYTES, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *start = config_trim_left(line);
        if (!continuing && (*start == '#' || *start == '!' || *start == '\0'))
            continue;
        /* A line ending in an odd number of backslashes continues. */
        size_t slashes = 0;
        size_t len = strlen(start);
        while (slashes < len && start[len - 1 - slashes] == '\\')
            slashes++;
        bool cont = slashes % 2 == 1;
        if (cont)
            start[--len] = '\0';
        if (used + len + 1 > LIMIT_CONFIG_LINE_BYTES) {
            config_err(err, errlen, "%s:%d: line too long", path, lineno);
            rc = RILL_ERR_CONFIG;
            goto out;
        }
        memcpy(logical + used, start, len + 1);
        used += len;
        continuing = cont;
        if (continuing)
            continue;
        used = 0;

        /* key ends at the first unescaped '=', ':' or whitespace. */
        char *p = logical;
        while (*p != '\0' && *p != '=' && *p != ':' && *p != ' ' && *p != '\t') {
            if (*p == '\\' && p[1] != '\0')
                p++;
            p++;
        }
        char *value = p;
        if (*value != '\0') {
            *value++ = '\0';
            value = config_trim_left(value);
            if (*value == '=' || *value == ':')
                value = config_trim_left(value + 1);
        }
        config_unescape(logical);
        config_unescape(value);
        /* Trailing whitespace is part of a Java property value; Kafka trims
         * it when it parses numbers and booleans, and so do we. */
        size_t vl = strlen(value);
        while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            value[--vl] = '\0';
        rc = fn(ctx, logical, value);
        if (rc != 0)
            goto out;
    }
out:
    free(logical);
    free(line);
    fclose(f);
    return rc;
}

/* ---- environment --------------------------------------------------------- */

/* Kafka's image rule: upper case, '.' -> '_', '_' -> '__', '-' -> '___'. */
static void config_env_name(char *buf, size_t len, const char *prefix, const char *key)
{
    size_t n = (size_t)snprintf(buf, len, "%s", prefix);
    for (const char *p = key; *p != '\0' && n + 4 < len; p++) {
        if (*p == '.') {
            buf[n++] = '_';
        } else if (*p == '_') {
            buf[n++] = '_';
            buf[n++] = '_';
        } else if (*p == '-') {
            buf[n++] = '_';
            buf[n++] = '_';
            buf[n++] = '_';
        } else {
            buf[n++] = (char)toupper((unsigned char)*p);
        }
    }
    buf[n] = '\0';
}

static const char *config_getenv(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int config_apply_env(struct config_loader *ld, char **envp)
{
    static const char *const prefixes[] = {"KAFKA_", "KAFKA_CFG_", "RILL_"};
    char name[512];
    for (size_t i = 0; i < broker_config_key_count; i++) {
        for (size_t p = 0; p < 3; p++) {
            config_env_name(name, sizeof(name), prefixes[p], broker_config_keys[i].name);
            const char *value = config_getenv(envp, name);
            if (value == NULL)
                continue;
            ld->source = name;
            int rc = config_apply(ld, broker_config_keys[i].name, value);
            if (rc != 0)
                return rc;
        }
    }
    /* Aliases by environment, and the container convention for the id. */
    const char *v = config_getenv(envp, "KAFKA_BROKER_ID");
    if (v != NULL && !ld->set[config_find_key("node.id") - broker_config_keys]) {
        ld->source = "KAFKA_BROKER_ID";
        int rc = config_apply(ld, "node.id", v);
        if (rc != 0)
            return rc;
    }
    static const char *const cluster_vars[] = {"CLUSTER_ID", "KAFKA_KRAFT_CLUSTER_ID"};
    for (size_t i = 0; i < 2; i++) {
        v = config_getenv(envp, cluster_vars[i]);
        if (v != NULL && !ld->set[config_find_key("cluster.id") - broker_config_keys]) {
            ld->source = cluster_vars[i];
            int rc = config_apply(ld, "cluster.id", v);
            if (rc != 0)
                return rc;
        }
    }
    return RILL_OK;
}

/* ---- derived settings ---------------------------------------------------- */

static int config_parse_listener(const char *text, const char *key, struct broker_listener *l,
                                 char *err, size_t errlen)
{
    /* One NAME://host:port. */
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", text);
    char *sep = strstr(buf, "://");
    if (sep == NULL) {
        config_err(err, errlen, "invalid value '%s' for %s: expected NAME://host:port", text, key);
        return RILL_ERR_CONFIG;
    }
    *sep = '\0';
    if (strlen(buf) >= sizeof(l->name) || strlen(sep + 3) >= sizeof(l->host)) {
        config_err(err, errlen, "invalid value '%s' for %s: too long", text, key);
        return RILL_ERR_CONFIG;
    }
    snprintf(l->name, sizeof(l->name), "%.31s", buf);
    char *hostport = sep + 3;
    char *colon = strrchr(hostport, ':');
    if (colon == NULL) {
        config_err(err, errlen, "invalid value '%s' for %s: missing port", text, key);
        return RILL_ERR_CONFIG;
    }
    *colon = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535) {
        config_err(err, errlen, "invalid value '%s' for %s: bad port", text, key);
        return RILL_ERR_CONFIG;
    }
    /* [v6]:port */
    if (hostport[0] == '[') {
        hostport++;
        size_t hl = strlen(hostport);
        if (hl > 0 && hostport[hl - 1] == ']')
            hostport[hl - 1] = '\0';
    }
    snprintf(l->host, sizeof(l->host), "%.255s", hostport);
    l->port = (int)port;
    return RILL_OK;
}

/* Splits a listener list into the client listener (PLAINTEXT) and the
 * controller listener (named by controller.listener.names); any other
 * name is refused until TLS and SASL arrive. */
static int config_parse_listeners(const char *text, const char *key, const char *controller_name,
                                  struct broker_listener *client, struct broker_listener *ctl,
                                  char *err, size_t errlen)
{
    client->port = -1;
    ctl->port = -1;
    char *copy = strdup(text);
    if (copy == NULL)
        return RILL_ERR_NOMEM;
    int rc = RILL_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        struct broker_listener l;
        rc = config_parse_listener(item, key, &l, err, errlen);
        if (rc != 0)
            break;
        struct broker_listener *slot = NULL;
        if (strcmp(l.name, controller_name) == 0)
            slot = ctl;
        else if (strcmp(l.name, "PLAINTEXT") == 0)
            slot = client;
        if (slot == NULL) {
            config_err(err, errlen, "invalid value '%s' for %s: listener %s: only PLAINTEXT and "
                       "the controller listener (%s) are supported", text, key, l.name,
                       controller_name);
            rc = RILL_ERR_CONFIG;
        } else if (slot->port != -1) {
            config_err(err, errlen, "invalid value '%s' for %s: listener %s twice", text, key,
                       l.name);
            rc = RILL_ERR_CONFIG;
        } else {
            *slot = l;
        }
    }
    free(copy);
    return rc;
}

/* controller.quorum.voters: id@host:port,... */
static int config_parse_voters(struct broker_config *cfg, char *err, size_t errlen)
{
    cfg->nvoters = 0;
    const char *text = cfg->controller_quorum_voters;
    if (text == NULL || text[0] == '\0') {
        cfg->voters[0] = (struct quorum_voter){.id = cfg->node_id, .port = -1};
        cfg->nvoters = 1;
        return RILL_OK;
    }
    char *copy = strdup(text);
    if (copy == NULL)
        return RILL_ERR_NOMEM;
    int rc = RILL_OK;
    char *save = NULL;
    const size_t max = sizeof(cfg->voters) / sizeof(cfg->voters[0]);
    for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *at = strchr(item, '@');
        char *end = NULL;
        long id = at != NULL ? strtol(item, &end, 10) : -1;
        struct broker_listener l;
        if (at == NULL || end != at || id < 0 || id > INT32_MAX) {
            config_err(err, errlen, "invalid value '%s' for controller.quorum.voters: expected "
                       "id@host:port, got '%s'", text, item);
            rc = RILL_ERR_CONFIG;
            break;
        }
        char spec[600];
        snprintf(spec, sizeof(spec), "V://%s", at + 1);
        rc = config_parse_listener(spec, "controller.quorum.voters", &l, err, errlen);
        if (rc != 0)
            break;
        if (l.host[0] == '\0' || l.port <= 0) {
            config_err(err, errlen, "invalid value '%s' for controller.quorum.voters: voter %ld "
                       "needs a host and a port", text, id);
            rc = RILL_ERR_CONFIG;
            break;
        }
        for (size_t i = 0; i < cfg->nvoters; i++)
            if (cfg->voters[i].id == (int32_t)id) {
                config_err(err, errlen, "invalid value '%s' for controller.quorum.voters: voter "
                           "%ld twice", text, id);
                rc = RILL_ERR_CONFIG;
            }
        if (rc == 0 && cfg->nvoters == max) {
            config_err(err, errlen, "invalid value '%s' for controller.quorum.voters: at most "
                       "%zu voters", text, max);
            rc = RILL_ERR_CONFIG;
        }
        if (rc != 0)
            break;
        struct quorum_voter *v = &cfg->voters[cfg->nvoters++];
        v->id = (int32_t)id;
        snprintf(v->host, sizeof(v->host), "%s", l.host);
        v->port = l.port;
    }
    free(copy);
    return rc;
}

/* max.connections.per.ip.overrides: "address:count,address:count". The
 * address is everything before the last colon (IPv6 addresses have
 * colons of their own). */
static int config_parse_ip_overrides(struct broker_config *cfg, char *err, size_t errlen)
{
    const char *text = cfg->max_connections_per_ip_overrides;
    if (text == NULL || *text == '\0')
        return RILL_OK;
    size_t count = 1;
    for (const char *p = text; *p != '\0'; p++)
        count += *p == ',';
    cfg->ip_overrides = calloc(count, sizeof(*cfg->ip_overrides));
    char *copy = strdup(text);
    if (cfg->ip_overrides == NULL || copy == NULL) {
        free(copy);
        return RILL_ERR_NOMEM;
    }
    int rc = RILL_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        tok = config_trim_left(tok);
        char *colon = strrchr(tok, ':');
        char *end = NULL;
        long long n = colon != NULL ? strtoll(colon + 1, &end, 10) : -1;
        if (colon == NULL || colon == tok || end == colon + 1 || *end != '\0' || n < 0 ||
            n > INT32_MAX || (size_t)(colon - tok) >= sizeof(cfg->ip_overrides[0].address)) {
            config_err(err, errlen, "invalid value '%s' for max.connections.per.ip.overrides: "
                       "expected address:count", tok);
            rc = RILL_ERR_CONFIG;
            break;
        }
        struct config_ip_override *o = &cfg->ip_overrides[cfg->ip_override_count++];
        memcpy(o->address, tok, (size_t)(colon - tok));
        o->address[colon - tok] = '\0';
        o->max_connections = (int32_t)n;
    }
    free(copy);
    return rc;
}

static int config_finish(struct config_loader *ld)
{
    struct broker_config *cfg = ld->cfg;
    char *err = ld->err;
    size_t errlen = ld->errlen;

    const char *roles = cfg->process_roles;
    bool combined = strcmp(roles, "broker,controller") == 0 ||
                    strcmp(roles, "controller,broker") == 0;
    if (!combined && strcmp(roles, "broker") != 0) {
        config_err(err, errlen, "invalid value '%s' for process.roles: Rill nodes run "
                   "broker,controller (a voter) or broker (an observer)", roles);
        return RILL_ERR_CONFIG;
    }
    const char *ctl_name = cfg->controller_listener_names;
    if (ctl_name[0] == '\0' || strchr(ctl_name, ',') != NULL ||
        strcmp(ctl_name, "PLAINTEXT") == 0) {
        config_err(err, errlen, "invalid value '%s' for controller.listener.names: one name, "
                   "not PLAINTEXT", ctl_name);
        return RILL_ERR_CONFIG;
    }
    int rc = config_parse_listeners(cfg->listeners, "listeners", ctl_name, &cfg->listener,
                                    &cfg->controller, err, errlen);
    if (rc != 0)
        return rc;
    if (cfg->listener.port == -1) {
        config_err(err, errlen, "invalid value '%s' for listeners: no PLAINTEXT listener for "
                   "clients", cfg->listeners);
        return RILL_ERR_CONFIG;
    }
    rc = config_parse_voters(cfg, err, errlen);
    if (rc != 0)
        return rc;
    cfg->voter = false;
    for (size_t i = 0; i < cfg->nvoters; i++)
        cfg->voter = cfg->voter || cfg->voters[i].id == cfg->node_id;
    bool configured = cfg->controller_quorum_voters != NULL && cfg->controller_quorum_voters[0];
    if (combined && !cfg->voter) {
        config_err(err, errlen, "node.id %d is not in controller.quorum.voters (%s): a "
                   "broker,controller node is a voter; run it with process.roles=broker to "
                   "observe", cfg->node_id, cfg->controller_quorum_voters);
        return RILL_ERR_CONFIG;
    }
    if (!combined && (cfg->voter || !configured)) {
        config_err(err, errlen, "process.roles=broker makes an observer: it needs "
                   "controller.quorum.voters, and node.id %d must not be one of them",
                   cfg->node_id);
        return RILL_ERR_CONFIG;
    }
    if (configured && cfg->voter && cfg->controller.port == -1) {
        config_err(err, errlen, "listeners (%s) has no %s listener, which a voter of "
                   "controller.quorum.voters needs", cfg->listeners, ctl_name);
        return RILL_ERR_CONFIG;
    }
    if (cfg->advertised_listeners != NULL) {
        struct broker_listener ignored;
        rc = config_parse_listeners(cfg->advertised_listeners, "advertised.listeners", ctl_name,
                                    &cfg->advertised, &ignored, err, errlen);
        if (rc != 0)
            return rc;
        if (cfg->advertised.port == -1)
            cfg->advertised = cfg->listener;
    } else {
        cfg->advertised = cfg->listener;
    }
    if (cfg->advertised.host[0] == '\0' || strcmp(cfg->advertised.host, "0.0.0.0") == 0 ||
        strcmp(cfg->advertised.host, "::") == 0)
        snprintf(cfg->advertised.host, sizeof(cfg->advertised.host), "localhost");
    if (cfg->advertised.port == 0)
        cfg->advertised.port = cfg->listener.port;

    /* log.dirs: comma-separated, no empty entries. */
    char *dirs = strdup(cfg->log_dirs);
    if (dirs == NULL)
        return RILL_ERR_NOMEM;
    size_t count = 1;
    for (char *p = dirs; *p != '\0'; p++)
        count += *p == ',';
    cfg->log_dir_list = calloc(count, sizeof(char *));
    if (cfg->log_dir_list == NULL) {
        free(dirs);
        return RILL_ERR_NOMEM;
    }
    char *save = NULL;
    for (char *tok = strtok_r(dirs, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        tok = config_trim_left(tok);
        if (*tok == '\0')
            continue;
        cfg->log_dir_list[cfg->log_dir_count] = strdup(tok);
        if (cfg->log_dir_list[cfg->log_dir_count] == NULL) {
            free(dirs);
            return RILL_ERR_NOMEM;
        }
        cfg->log_dir_count++;
    }
    free(dirs);
    if (cfg->log_dir_count == 0) {
        config_err(err, errlen, "invalid value '%s' for log.dirs: no directory", cfg->log_dirs);
        return RILL_ERR_CONFIG;
    }

    if (strcmp(cfg->log_message_timestamp_type, "CreateTime") == 0)
        cfg->timestamp_type = TIMESTAMP_CREATE_TIME;
    else if (strcmp(cfg->log_message_timestamp_type, "LogAppendTime") == 0)
        cfg->timestamp_type = TIMESTAMP_LOG_APPEND_TIME;
    else {
        config_err(err, errlen, "invalid value '%s' for log.message.timestamp.type: expected "
                   "CreateTime or LogAppendTime", cfg->log_message_timestamp_type);
        return RILL_ERR_CONFIG;
    }
    if (log_level_parse(cfg->log_level) < 0) {
        config_err(err, errlen, "invalid value '%s' for log.level: expected debug, info, warn "
                   "or error", cfg->log_level);
        return RILL_ERR_CONFIG;
    }

    struct storage_log_config *d = &cfg->log_defaults;
    d->segment_bytes = cfg->log_segment_bytes;
    d->segment_ms = cfg->log_roll_ms > 0 ? cfg->log_roll_ms : HOURS_MS(cfg->log_roll_hours);
    if (ld->set[config_find_key("log.retention.ms") - broker_config_keys])
        d->retention_ms = cfg->log_retention_ms;
    else if (ld->set[config_find_key("log.retention.minutes") - broker_config_keys])
        d->retention_ms = cfg->log_retention_minutes < 0 ? -1
                                                         : cfg->log_retention_minutes * 60000;
    else
        d->retention_ms = cfg->log_retention_hours < 0 ? -1 : HOURS_MS(cfg->log_retention_hours);
    d->retention_bytes = cfg->log_retention_bytes;
    d->index_interval_bytes = cfg->log_index_interval_bytes;
    d->flush_messages = cfg->log_flush_interval_messages;
    d->flush_ms = cfg->log_flush_interval_ms;
    if (strcmp(cfg->log_flush_policy, "always") == 0)
        d->flush_policy = FLUSH_ALWAYS;
    else if (strcmp(cfg->log_flush_policy, "interval") == 0)
        d->flush_policy = FLUSH_INTERVAL;
    else if (strcmp(cfg->log_flush_policy, "never") == 0)
        d->flush_policy = FLUSH_NEVER;
    else {
        config_err(err, errlen, "invalid value '%s' for log.flush.policy: expected always, "
                   "interval or never", cfg->log_flush_policy);
        return RILL_ERR_CONFIG;
    }
    if (cfg->queued_max_request_bytes == 0 ||
        (cfg->queued_max_request_bytes > 0 &&
         cfg->queued_max_request_bytes < cfg->socket_request_max_bytes)) {
        config_err(err, errlen, "invalid value %lld for queued.max.request.bytes: must be -1 or "
                   "at least socket.request.max.bytes (%d)",
                   (long long)cfg->queued_max_request_bytes, cfg->socket_request_max_bytes);
        return RILL_ERR_CONFIG;
    }
    rc = config_parse_ip_overrides(cfg, err, errlen);
    if (rc != 0)
        return rc;
    if (cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms) {
        config_err(err, errlen, "invalid value %d for group.min.session.timeout.ms: above "
                   "group.max.session.timeout.ms (%d)", cfg->group_min_session_timeout_ms,
                   cfg->group_max_session_timeout_ms);
        return RILL_ERR_CONFIG;
    }
    return RILL_OK;
}

static void config_usage(void)
{
    printf("usage: rill [server.properties] [--config FILE] [--KEY=VALUE ...]\n"
           "       rill quorum status [--bootstrap-server HOST:PORT]\n"
           "\n"
           "Starts a Rill broker. Every configuration key (rill --config-docs lists them)\n"
           "can be set in the properties file, as an environment variable (KAFKA_<KEY>,\n"
           "RILL_<KEY>, e.g. RILL_LOG_DIRS) or as a flag (--log.dirs=/var/lib/rill).\n");
}

int config_load(struct broker_config *cfg, int argc, char **argv, char **envp, char *err,
                size_t errlen, bool *wants_exit)
{
    memset(cfg, 0, sizeof(*cfg));
    *wants_exit = false;
    struct config_loader ld = {.cfg = cfg, .err = err, .errlen = errlen, .source = "defaults"};
    for (size_t i = 0; i < broker_config_key_count; i++) {
        const struct config_key *key = &broker_config_keys[i];
        if (key->default_value == NULL)
            continue;
        int rc = config_set_value(cfg, key, key->default_value, err, errlen);
        if (rc != 0)
            return rc;
    }

    /* The properties file first (positional or --config), then env, then
     * the other flags. */
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage();
            *wants_exit = true;
            return RILL_OK;
        }
        if (strcmp(argv[i], "--config-docs") == 0) {
            config_print_docs();
            *wants_exit = true;
            return RILL_OK;
        }
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
            file = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        else if (argv[i][0] != '-')
            file = argv[i];
        else if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') == NULL)
            i++; /* --key value: skip the value */
    }
    if (file != NULL) {
        ld.source = file;
        int rc = config_parse_properties(file, config_apply, &ld, err, errlen);
        if (rc != 0)
            return rc;
    }
    int rc = config_apply_env(&ld, envp);
    if (rc != 0)
        return rc;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0 || arg[0] != '-')
            continue;
        if (strncmp(arg, "--", 2) != 0) {
            config_err(err, errlen, "unknown option %s (see rill --help)", arg);
            return RILL_ERR_CONFIG;
        }
        char name[256];
        const char *value;
        const char *eq = strchr(arg, '=');
        if (eq != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg - 2), arg + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg + 2);
            if (i + 1 >= argc) {
                config_err(err, errlen, "missing value for --%s", name);
                return RILL_ERR_CONFIG;
            }
            value = argv[++i];
        }
        if (config_find_key(name) == NULL) {
            config_err(err, errlen, "unknown configuration key %s (see rill --config-docs)", name);
            return RILL_ERR_CONFIG;
        }
        ld.source = "command line";
        rc = config_apply(&ld, name, value);
        if (rc != 0)
            return rc;
    }
    return config_finish(&ld);
}

void config_free(struct broker_config *cfg)
{
    for (size_t i = 0; i < broker_config_key_count; i++) {
        const struct config_key *key = &broker_config_keys[i];
        if (key->type != CONFIG_STRING)
            continue;
        char *s;
        memcpy(&s, (char *)cfg + key->offset, sizeof(s));
        free(s);
    }
    for (size_t i = 0; i < cfg->log_dir_count; i++)
        free(cfg->log_dir_list[i]);
    free(cfg->log_dir_list);
    free(cfg->ip_overrides);
    memset(cfg, 0, sizeof(*cfg));
}

const char *config_value_text(const struct broker_config *cfg, const struct config_key *key,
                              char *buf, size_t len)
{
    const void *field = (const char *)cfg + key->offset;
    switch (key->type) {
    case CONFIG_INT: {
        int32_t v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, len, "%" PRId32, v);
        return buf;
    }
    case CONFIG_LONG: {
        int64_t v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, len, "%" PRId64, v);
        return buf;
    }
    case CONFIG_BOOL: {
        bool v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, len, "%s", v ? "true" : "false");
        return buf;
    }
    case CONFIG_STRING: {
        const char *s;
        memcpy(&s, field, sizeof(s));
        return s;
    }
    }
    return NULL;
}

bool config_is_default(const struct broker_config *cfg, const struct config_key *key)
{
    char buf[64];
    const char *v = config_value_text(cfg, key, buf, sizeof(buf));
    if (key->default_value == NULL)
        return v == NULL;
    return v != NULL && strcmp(v, key->default_value) == 0;
}

void config_print_docs(void)
{
    printf("# Rill configuration reference\n\n"
           "Generated by `rill --config-docs` from the broker's configuration table.\n"
           "Every key can also be set as an environment variable (`KAFKA_LOG_DIRS`,\n"
           "`RILL_LOG_DIRS`, `KAFKA_CFG_LOG_DIRS` for `log.dirs`) or a flag\n"
           "(`--log.dirs=/data`).\n\n"
           "| key | type | default | range | description |\n"
           "| --- | --- | --- | --- | --- |\n");
    static const char *const type_names[] = {"int", "long", "boolean", "string"};
    for (size_t i = 0; i < broker_config_key_count; i++) {
        const struct config_key *k = &broker_config_keys[i];
        char range[64] = "";
        if (k->type == CONFIG_INT || k->type == CONFIG_LONG)
            snprintf(range, sizeof(range), "%" PRId64 " .. %" PRId64, k->min, k->max);
        printf("| `%s` | %s | %s | %s | %s |\n", k->name, type_names[k->type],
               k->default_value ? k->default_value : "(unset)", range, k->doc);
    }
}
