/* The controller's decisions, as pure functions: from the committed image
 * and a request (or the cluster's liveness) to the metadata records to
 * propose and the answer to give. The broker's controller driver
 * (broker/quorum/controller_driver.h) does the IO: it takes requests off
 * the internal listener, proposes the records through Raft and answers once
 * they are applied.
 *
 * Decisions are made on the committed image only. Records that a newer
 * image would contradict are harmless by construction: a partition change
 * names the partition epoch it was decided on, a fence or unfence the
 * broker epoch, and the image ignores them when those have moved on
 * (metadata/image.h), so the controller simply decides again.
 *
 * Placement: a new topic's partitions go round-robin over the live
 * (registered, unfenced) brokers, sorted by id, from a start chosen by the
 * caller (a random topic id makes it random, as Kafka's random start
 * index); followers are shifted so that replica sets differ, and every
 * broker leads an even share.
 *
 * Leader election: a partition whose leader is not live gets the first
 * replica, in replica order, that is live and in the ISR; with
 * unclean.leader.election.enable, failing that, the first live replica,
 * which becomes the whole ISR; failing both it has no leader (-1). Brokers
 * that are fenced leave the ISR, except the last member, which stays so
 * that the partition keeps its claim to the newest data.
 *
 * Pure logic: no clock, no IO; time is an argument. */
#ifndef RILL_METADATA_CONTROLLER_H
#define RILL_METADATA_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "metadata/image.h"
#include "proto/metadata.pb-c.h"

/* The records a decision proposes (applied atomically, in order) and its
 * answer. Everything lives in the arena. */
struct controller_out {
    struct arena arena;
    Rill__Metadata__MetadataRecord **recs;
    size_t n, cap;
    int16_t error;      /* a Kafka error code for the requester, 0 none */
    char message[200];  /* its explanation, "" when none */
};

void controller_out_init(struct controller_out *out);
void controller_out_free(struct controller_out *out);

/* Settings the decisions depend on (the controller's configuration). */
struct controller_config {
    bool unclean_leader_election; /* unclean.leader.election.enable default */
};

/* 0 if name is a legal topic name; else Kafka's explanation in *why. */
int controller_validate_topic_name(const char *name, size_t len, const char **why);

struct controller_topic_request {
    const char *name;
    size_t name_len;
    int32_t num_partitions;     /* defaults already filled in */
    int32_t replication_factor;
    bool internal;
    const uint8_t *id;          /* 16 bytes, not used by any topic of the image */
    /* A manual assignment: num_partitions lists of replication_factor
     * broker ids, flattened (registered brokers, none twice in a list);
     * NULL: placed on the live brokers. */
    const int32_t *assignments;
    const char *const *config_names; /* validated by the caller */
    const char *const *config_values;
    size_t nconfigs;
};

/* Creates a topic: TopicRecord, its ConfigRecords and one PartitionRecord
 * per partition placed on the live brokers. A refusal (bad name, a name
 * that exists or collides, bad counts, too few live brokers) sets
 * out->error and proposes nothing. Returns 0 or RILL_ERR_NOMEM. */
int controller_create_topic(const struct metadata_image *image,
                            const struct controller_topic_request *req,
                            struct controller_out *out);

/* Grows a topic to `count` partitions (CreatePartitions): one
 * PartitionRecord per new partition, with as many replicas as partition 0
 * has, placed as a creation would continue placing them, or as
 * `assignments` says (count - current partitions lists of `rf` broker ids,
 * flattened; NULL: placed here). Refusals set out->error: unknown topic,
 * an internal topic, a count not above the current one, too few live
 * brokers, or an assignment that repeats a broker, names an unregistered
 * one or has the wrong length. Returns 0 or RILL_ERR_NOMEM. */
int controller_create_partitions(const struct metadata_image *image, const char *name,
                                 size_t len, int32_t count, const int32_t *assignments,
                                 size_t nassigned, struct controller_out *out);

/* One change of a topic's configuration: set name to value, or remove the
 * override (value NULL). Values were validated by the caller. */
struct controller_config_change {
    const char *name;
    size_t name_len;
    const char *value; /* NULL: delete the override */
    size_t value_len;
};

/* Changes a topic's configuration overrides (IncrementalAlterConfigs; with
 * replace_all, AlterConfigs: overrides the request does not name are
 * removed too). One ConfigRecord per change. Refusals set out->error: an
 * unknown topic, a key named twice. Returns 0 or RILL_ERR_NOMEM. */
int controller_alter_topic_configs(const struct metadata_image *image, const char *topic,
                                   size_t len, const struct controller_config_change *changes,
                                   size_t n, bool replace_all, struct controller_out *out);

/* Deletes a topic (by name). UNKNOWN_TOPIC_OR_PARTITION when absent. */
int controller_delete_topic(const struct metadata_image *image, const char *name, size_t len,
                            struct controller_out *out);

struct controller_registration {
    int32_t broker_id;
    uint8_t incarnation[16];
    const char *host;
    int32_t port;
    uint64_t metadata_version; /* records the broker's image has applied */
};

/* Registers a broker (fenced, with broker epoch `epoch`, which must exceed
 * its current one). Nothing when it is registered already with the same
 * incarnation and endpoint. A new incarnation of a known broker (it
 * restarted, perhaps on a wiped disk) leaves every ISR and leadership in
 * the same batch. */
int controller_register_broker(const struct metadata_image *image,
                               const struct controller_config *cfg,
                               const struct controller_registration *reg, int64_t epoch,
                               struct controller_out *out);

/* Fences a live broker: FenceBrokerRecord, and the partition changes that
 * take it out of ISRs and move its leaderships. Nothing when it is not
 * registered or already fenced. */
int controller_fence_broker(const struct metadata_image *image,
                            const struct controller_config *cfg, int32_t broker_id,
                            struct controller_out *out);

/* A heartbeat: unfences a fenced broker of this epoch whose image has
 * caught up with its registration (and gives it the leaderships of
 * partitions left without one), or fences one that asks (want_fence).
 * Nothing otherwise (a stale epoch, nothing to change). */
int controller_heartbeat(const struct metadata_image *image, const struct controller_config *cfg,
                         int32_t broker_id, int64_t broker_epoch, uint64_t metadata_version,
                         bool want_fence, struct controller_out *out);

/* Elects leaders wherever the image has a partition whose leader is not
 * live, and removes fenced brokers from ISRs: what a fence decided on an
 * older image left undone. Nothing when all is in order. */
int controller_reconcile(const struct metadata_image *image, const struct controller_config *cfg,
                         struct controller_out *out);

/* A partition leader's request to change its ISR (Kafka's AlterPartition,
 * KIP-497): decided on the partition epoch and leader epoch the leader
 * saw. */
struct controller_isr_change {
    int32_t broker_id;
    int64_t broker_epoch;
    const uint8_t *topic_id; /* 16 bytes */
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    const int32_t *isr;
    size_t nisr;
};

/* One PartitionChangeRecord setting the ISR, or a refusal in out->error,
 * as Kafka's controller answers: STALE_BROKER_EPOCH (not this broker's
 * current registration), UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER
 * (it does not lead the partition), FENCED_LEADER_EPOCH, INVALID_UPDATE_
 * VERSION (the partition moved on since), INVALID_REQUEST (an ISR that is
 * empty, repeats a broker, leaves out the leader or names a non-replica),
 * INELIGIBLE_REPLICA (it adds a broker that is not live). Nothing when
 * the ISR asked for is the ISR already. Returns 0 or RILL_ERR_NOMEM. */
int controller_alter_isr(const struct metadata_image *image,
                         const struct controller_isr_change *req, struct controller_out *out);

/* Preferred-leader election (auto.leader.rebalance.enable): for every
 * broker whose share of partitions led by someone else, among those it is
 * the preferred (first) replica of, exceeds imbalance_pct percent, each
 * such partition whose preferred replica is live and in the ISR gets it
 * back as leader (one PartitionChangeRecord each). Nothing when balanced. */
int controller_rebalance_leaders(const struct metadata_image *image, int32_t imbalance_pct,
                                 struct controller_out *out);

/* Reserves the next block of `size` producer ids for broker_id. */
int controller_reserve_producer_ids(const struct metadata_image *image, int32_t broker_id,
                                    int64_t size, struct controller_out *out);

/* The controller's view of broker sessions: when each registered broker
 * last heartbeat. Soft state, rebuilt by every new controller (all brokers
 * get a full session from the moment it took over). */
struct controller_session {
    int32_t broker_id;
    int64_t broker_epoch;
    int64_t deadline_ms;
    bool heard;                /* a heartbeat of this epoch came since the reset */
    uint64_t metadata_version; /* what its last heartbeat said */
    bool want_fence;
};

struct controller_sessions {
    struct controller_session *s;
    size_t n, cap;
    int64_t timeout_ms; /* broker.session.timeout.ms */
};

void controller_sessions_init(struct controller_sessions *ss, int64_t timeout_ms);
void controller_sessions_free(struct controller_sessions *ss);
/* Forgets every session and gives each registered broker a full one. */
int controller_sessions_reset(struct controller_sessions *ss, const struct metadata_image *image,
                              int64_t now_ms);
/* A heartbeat from broker_id at broker_epoch. */
int controller_sessions_heartbeat(struct controller_sessions *ss, int32_t broker_id,
                                  int64_t broker_epoch, uint64_t metadata_version,
                                  bool want_fence, int64_t now_ms);

/* Ends the session of broker_id's registration broker_epoch now (its
 * process is known to be gone): the next decision fences it. Nothing for
 * another epoch (it registered again meanwhile). */
void controller_sessions_end(struct controller_sessions *ss, int32_t broker_id,
                             int64_t broker_epoch);

/* The next decision the sessions call for, as records in out (nothing when
 * all is in order), in this order: fence a live broker whose session
 * expired or that asked to be fenced; unfence a fenced broker whose last
 * heartbeat (of its current epoch) shows it caught up; elect leaders the
 * image lacks. One decision at a time: the driver proposes it, waits until
 * it is applied, and asks again. */
int controller_sessions_decide(struct controller_sessions *ss, const struct metadata_image *image,
                               const struct controller_config *cfg, int64_t now_ms,
                               struct controller_out *out);
/* The first live broker whose session has expired, or -1. A broker with
 * no session yet (registered after the reset) gets one now. An expired
 * session forgets the heartbeats it had: only one after it unfences the
 * broker again. */
int32_t controller_sessions_expired(struct controller_sessions *ss,
                                    const struct metadata_image *image, int64_t now_ms);

#endif
