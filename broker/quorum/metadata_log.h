/* The metadata log: committed cluster metadata records, stored as record
 * batches in the internal log "__cluster_metadata-0" (protobuf-encoded
 * MetadataRecord values), and the image built by applying them in order.
 *
 * Changes are proposed to the Raft quorum (quorum.h), committed by a
 * majority of voters (fsynced on each), then applied, and only then do
 * their proposers hear back.
 *
 * The rest of the broker follows the image, not the records: listeners
 * registered here are called with the image after every batch of records
 * applied (and once, at registration, with the image the replay built), and
 * find what changed by comparing it with what they hold. Replaying the log,
 * installing a snapshot and live application thus give the same result.
 * A committed record the image cannot apply stops the broker: a node that
 * skipped it would diverge from every other. */
#ifndef RILL_BROKER_QUORUM_METADATA_LOG_H
#define RILL_BROKER_QUORUM_METADATA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metadata/image.h"
#include "proto/metadata.pb-c.h"
#include "raft/raft.h"

struct broker;
struct metadata_log;

/* The metadata log's directory in the first log directory. */
#define METADATA_LOG_NAME "__cluster_metadata-0"

/* Called once the proposed records are committed and applied; rc is 0 or a
 * RILL_ERR_* when they could not be written. */
typedef void (*metadata_applied_fn)(void *ctx, int rc);

/* A follower of the image (see above). */
typedef void (*metadata_listener_fn)(void *ctx, const struct metadata_image *image);

/* The most listeners (topics, groups, producer ids, ...). */
#define METADATA_MAX_LISTENERS 8

struct raft_wire_decoded;
/* A frame from another node that is not a Raft message (a registration,
 * a heartbeat, a relayed request, ...), decoded and checked to come from
 * this cluster; valid during the call. */
typedef void (*metadata_request_fn)(void *ctx, const struct raft_wire_decoded *d);

/* Opens the log and replays it into a fresh image; frames for the
 * controller and the brokers go to on_request (controller_rpc.h), so that
 * this module never calls up into its users. Fails, with the offset
 * logged, when a committed record cannot be decoded or applied. */
int metadata_log_open(struct broker *b, metadata_request_fn on_request, void *ctx,
                      struct metadata_log **out);
void metadata_log_close(struct metadata_log *ml);

/* Tells every proposer still waiting that its records will not be applied
 * (RILL_ERR_CLOSED): the first step of shutting down, while the rest of the
 * broker can still take the callbacks. */
void metadata_log_abort_pending(struct metadata_log *ml);

const struct metadata_image *metadata_log_image(const struct metadata_log *ml);

/* The active controller (the Raft leader), or -1 when none is known. */
int32_t metadata_log_leader(const struct metadata_log *ml);
/* Whether the metadata log failed for good (quorum_failed). */
bool metadata_log_failed(const struct metadata_log *ml);
void metadata_log_status(const struct metadata_log *ml, struct raft_status *st);
size_t metadata_log_replicas(const struct metadata_log *ml, struct raft_replica_status *out,
                             size_t max);
/* The metadata log offset after Raft entry index (a Kafka end offset). */
int64_t metadata_log_end_offset_of(const struct metadata_log *ml, uint64_t index);
/* How long ago a Raft tick count was, in milliseconds. */
int64_t metadata_log_age_ms(const struct metadata_log *ml, uint64_t tick);
struct raft_wire_registration;
struct raft_wire_topic_creation;
/* Forwards an automatic topic creation to node `to` (the controller). */
void metadata_log_send_topic_creation(struct metadata_log *ml, int32_t to,
                                      const struct raft_wire_topic_creation *tc);
struct raft_wire_heartbeat;
/* Sends a heartbeat to node `to` (the controller). */
void metadata_log_send_heartbeat(struct metadata_log *ml, int32_t to,
                                 const struct raft_wire_heartbeat *hb);
struct raft_wire_alter_isr;
/* Sends a partition leader's ISR change request to node `to` (the controller). */
void metadata_log_send_alter_isr(struct metadata_log *ml, int32_t to,
                                 const struct raft_wire_alter_isr *ai);
/* Asks node `to` (the controller) for a producer-id block. */
void metadata_log_send_producer_ids(struct metadata_log *ml, int32_t to, int32_t broker_id,
                                    int64_t broker_epoch);
struct raft_wire_forwarded;
/* Sends a relayed request (response false) or its answer to node `to`. */
void metadata_log_send_forwarded(struct metadata_log *ml, int32_t to, bool response,
                                 const struct raft_wire_forwarded *fw);
/* True on the active controller: the Raft leader, once it has applied an
 * entry of its own term and everything committed, so that its image holds
 * every decision of earlier controllers. */
bool metadata_log_controller_active(const struct metadata_log *ml);
/* Sends a registration request to node `to` (the controller). */
void metadata_log_send_registration(struct metadata_log *ml, int32_t to,
                                    const struct raft_wire_registration *reg);
/* Hands the controller to another voter (a clean shutdown). */
void metadata_log_resign(struct metadata_log *ml);
/* The port the internal (controller) listener bound, -1 when none. */
int metadata_log_internal_port(const struct metadata_log *ml);

/* Registers fn and calls it at once with the current image. */
void metadata_log_listen(struct metadata_log *ml, metadata_listener_fn fn, void *ctx);

/* The Kafka error for a proposal that failed with rc (at once or in its
 * applied callback): NOT_CONTROLLER when this node does not (or no longer)
 * lead, KAFKA_STORAGE_ERROR when the log could not be written. */
int16_t metadata_log_propose_error(int rc);

/* Proposes records (applied atomically, in order). fn runs later, from the
 * loop, never from inside this call. Returns 0 or a RILL_ERR_* (then fn is
 * not called). */
int metadata_log_propose(struct metadata_log *ml, Rill__Metadata__MetadataRecord *const *recs,
                         size_t n, metadata_applied_fn fn, void *ctx);

#endif
