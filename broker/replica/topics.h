/* Topics as this broker serves them: creation and deletion through the
 * metadata log, the runtime topics and partitions that follow the image,
 * and lookups for the handlers.
 *
 * A creation is validated, proposed as one atomic group of records
 * (TopicRecord, one PartitionRecord per partition, ConfigRecords), and
 * reported only once applied, so whoever asked can use the topic at once.
 * Auto-creation of a name already being created joins that creation
 * instead of racing it. */
#ifndef RILL_BROKER_REPLICA_TOPICS_H
#define RILL_BROKER_REPLICA_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_schema.h"
#include "metadata/image.h"
#include "proto/metadata.pb-c.h"

struct broker;
struct broker_topic;
struct partition;

struct topic_spec {
    /* in */
    struct kafka_str name;
    int32_t num_partitions;     /* -1: num.partitions */
    int16_t replication_factor; /* -1: default.replication.factor */
    const struct kafka_str *config_names;
    const struct kafka_str *config_values; /* len -1: null */
    size_t nconfigs;
    bool internal;
    const int32_t *assignments; /* manual placement (controller.h), NULL: none */
    bool skip;                  /* already answered by the caller: left alone */
    /* out */
    int16_t error;
    char error_message[160];
};

typedef void (*topics_done_fn)(void *ctx);

/* Creates the valid specs (each spec gets its error). Returns true when fn
 * will be called later (something was proposed or joined), false when all
 * results are already final (fn is not called). With join_pending, a name
 * whose creation is under way is waited for instead of reported as existing
 * (auto-creation); validate_only checks without creating. */
bool topics_create(struct broker *b, struct topic_spec *specs, size_t n, bool validate_only,
                   bool join_pending, topics_done_fn fn, void *ctx);

/* Deletes the named topics; errors[i] gets each result. Same return
 * convention as topics_create. */
bool topics_delete(struct broker *b, const struct kafka_str *names, int16_t *errors, size_t n,
                   topics_done_fn fn, void *ctx);

/* The metadata listener (metadata_log.h) that makes the runtime topics
 * follow the image (ctx: the broker): topics whose id left it are closed
 * and their directories deleted, new topics and partitions are opened,
 * changed configurations and leader epochs are taken over. */
void topics_follow_image(void *ctx, const struct metadata_image *image);

/* Once the image has caught up with the quorum (the broker is registered
 * and unfenced: never from a replay alone, which in a cluster may be far
 * behind and would call every newer topic's data a stray): sets aside
 * every partition directory the image does not own. A directory whose
 * partition.metadata names a topic id the image no longer has is deleted
 * (its topic was deleted); one with no id whose name the image does not
 * list is renamed with a -stray suffix and kept. metadata_log_name is
 * skipped. Returns 0 or a RILL_ERR_*. */
int topics_set_aside_strays(struct broker *b, const char *metadata_log_name);

struct broker_topic *topics_find(struct broker *b, const char *name, size_t len);
struct partition *topics_partition(struct broker *b, const char *name, size_t len,
                                   int32_t index);
/* The partition for Produce, Fetch and ListOffsets: 0 and *out when this
 * broker leads it, UNKNOWN_TOPIC_OR_PARTITION, or NOT_LEADER_OR_FOLLOWER
 * when the image names another leader (*out NULL). */
int16_t topics_partition_led(struct broker *b, const char *name, size_t len, int32_t index,
                             struct partition **out);

/* 0 if name is a legal topic name; else Kafka's explanation in *why. */
int topics_validate_name(const char *name, size_t len, const char **why);

struct raft_wire_topic_creation;
/* On the controller: an automatic creation another broker forwarded
 * (ignored when this node does not lead or the topic exists). */
void topics_create_forwarded(struct broker *b, const struct raft_wire_topic_creation *tc);

/* Opens the replicas placed here that are not open (one that could not
 * open while a stray held its directory). */
void topics_open_missing(struct broker *b);

/* Closes every partition (shutdown). */
void topics_close_all(struct broker *b);

#endif
