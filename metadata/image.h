/* The cluster image: topics, their partitions (replicas, ISR, leader,
 * leader epoch) and configuration overrides, built only by applying
 * committed metadata records (proto/metadata.proto) in log order.
 *
 * Invariants:
 *   - topic names and topic ids are unique; a removed topic is gone from
 *     both indexes at once;
 *   - a topic's partitions are 0..npartitions-1 with no gaps once its
 *     PartitionRecords are applied; a PartitionRecord for an existing
 *     partition replaces it (leader or ISR change) and must not lower its
 *     leader epoch;
 *   - applying the same records in the same order gives the same image on
 *     every node (no clock, no randomness, no IO here);
 *   - brokers are sorted by id, each once; a broker's epoch only grows;
 *   - a partition change raises the partition epoch by one, and the leader
 *     epoch by one exactly when the leader changes; a change decided on an
 *     older partition epoch, and a fence or unfence naming an older broker
 *     epoch, change nothing (on every node alike), as do the removal of a
 *     topic already removed and a producer-id block that does not move
 *     past the last one granted (decisions taken on an older image);
 *   - a partition's ISR is a non-empty subset of its replicas, and its
 *     leader, when it has one, is in the ISR;
 *   - every applied record raises version by one, and the topic it changed
 *     takes that version.
 *
 * Pure logic: nothing in metadata/ sends bytes or touches disk. */
#ifndef RILL_METADATA_IMAGE_H
#define RILL_METADATA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct Rill__Metadata__MetadataRecord;

#define METADATA_TOPIC_ID_BYTES 16

struct metadata_partition {
    int32_t partition;
    int32_t leader;        /* node id, -1 when none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t *replicas;
    size_t nreplicas;
    int32_t *isr;
    size_t nisr;
};

struct metadata_config_entry {
    char *name;
    char *value;
};

struct metadata_topic {
    char *name;
    uint8_t id[METADATA_TOPIC_ID_BYTES];
    bool internal;
    struct metadata_partition *partitions; /* indexed by partition number */
    int32_t npartitions;                   /* partitions present so far */
    int32_t partitions_cap;
    struct metadata_config_entry *configs; /* topic-level overrides */
    size_t nconfigs;
    uint64_t version;                      /* image version of its last change */
    struct metadata_topic *next_by_name;   /* hash chains */
    struct metadata_topic *next_by_id;
};

/* A registered broker and where clients reach it. */
struct metadata_broker {
    int32_t id;
    uint8_t incarnation[16];
    int64_t epoch;
    char *host; /* its PLAINTEXT endpoint */
    int32_t port;
    bool fenced;                 /* not given leaderships, not in Metadata */
    uint64_t registered_version; /* the image version its registration made */
};

struct metadata_image {
    struct metadata_topic **by_name;
    struct metadata_topic **by_id;
    size_t nbuckets;
    size_t ntopics;
    int64_t applied_offset; /* metadata log offset of the last applied record, -1 none */
    int64_t next_producer_id; /* the first producer id no block has reserved yet */
    int32_t producer_ids_broker; /* the broker that reserved the last block, -1 none */
    struct metadata_broker *brokers; /* sorted by id */
    size_t nbrokers;
    uint64_t version;         /* records applied so far; a topic's version says
                               * when it last changed, so followers of the
                               * image find what changed without a history */
};

/* Kafka's ConfigResource types. */
enum { METADATA_RESOURCE_TOPIC = 2, METADATA_RESOURCE_BROKER = 4 };

int metadata_image_init(struct metadata_image *image);
void metadata_image_free(struct metadata_image *image);

/* Applies one committed record. Returns 0, RILL_ERR_INVALID when the record
 * contradicts the image (unknown topic, duplicate name, epoch going back),
 * or RILL_ERR_NOMEM. A refused record leaves the image unchanged. */
int metadata_image_apply(struct metadata_image *image,
                         const struct Rill__Metadata__MetadataRecord *rec);

const struct metadata_topic *metadata_image_topic(const struct metadata_image *image,
                                                  const char *name, size_t name_len);
const struct metadata_topic *metadata_image_topic_by_id(const struct metadata_image *image,
                                                        const uint8_t id[16]);

/* Calls fn for every topic, in no particular order. */
void metadata_image_each_topic(const struct metadata_image *image,
                               void (*fn)(void *ctx, const struct metadata_topic *topic),
                               void *ctx);

/* The registered broker id, or NULL. */
const struct metadata_broker *metadata_image_broker(const struct metadata_image *image,
                                                    int32_t id);

/* True when id is registered and not fenced. */
bool metadata_image_broker_live(const struct metadata_image *image, int32_t id);

/* A hash of the image's content: topics (names, ids, partitions with
 * replicas, ISR, leader and epochs, configs) in any order, brokers, the
 * producer-id reservation and the version. Two images with the same
 * content have the same digest; topic versions (local bookkeeping) are
 * left out. For checks that images agree (tests/sim, snapshots). */
uint64_t metadata_image_digest(const struct metadata_image *image);

/* The override of name on topic, or NULL. */
const char *metadata_topic_config(const struct metadata_topic *topic, const char *name);

#endif
