/* The Raft driver: runs a raft/ node for the metadata log and does the IO
 * it asks for. The node's entries are the metadata log's record batches
 * (one proposal = one batch, so its records apply atomically); its term is
 * the batch's partitionLeaderEpoch, as in KRaft; each new leader's first
 * entry is a control batch (a LeaderChange record). Term and vote live in
 * the quorum-state file beside the log (quorum_state.h).
 *
 * Raft indexes count batches and Kafka offsets count records, so the two
 * differ once a batch holds several records; the driver keeps the base
 * offset of every entry it holds (entry i at base_offset[i - 1]) and
 * truncates the storage log there.
 *
 * The exchange with the node follows raft.h: for every ready, the hard
 * state is written first, then truncation and entries are appended and
 * fsynced (the storage flusher; the loop does not wait on it), then the
 * messages go out, then the committed entries are applied, then the node
 * is advanced. Ticks and messages arriving in between are held back and
 * fed in afterwards, in order.
 *
 * Snapshots (KIP-630): once the applied entries since the last snapshot
 * reach cfg.snapshot_bytes, the applied state is encoded (hooks.snapshot)
 * and written, off the loop, to QUORUM_SNAPSHOT_FILE beside the log
 * (atomically and durably); then the node compacts its log to it and
 * the storage segments wholly below it are deleted. A snapshot file is a
 * 24-byte header (Raft index, term, and the log offset after that entry,
 * big-endian) and the payload; the same bytes go to a follower whose
 * fetch position is gone, which writes the file, starts its storage log
 * over at that offset and installs the payload (hooks.install). At start-
 * up the file, if any, is installed first and only the batches after it
 * are replayed.
 *
 * Failures: an append refused for want of space is retried at each tick
 * (waiting proposals are failed at once with RILL_ERR_NOSPC, though they
 * may still commit later); a log directory that goes offline (a failed
 * fsync) takes this node out of the quorum for good (nothing more is
 * persisted, sent or applied) until it is restarted on a sound disk.
 *
 * Only the broker loop thread calls these functions. */
#ifndef RILL_BROKER_QUORUM_QUORUM_H
#define RILL_BROKER_QUORUM_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/* The snapshot file beside the metadata log, and its header's size. */
#define QUORUM_SNAPSHOT_FILE "snapshot.checkpoint"
#define QUORUM_SNAPSHOT_HEADER_BYTES 24

struct broker;
struct storage_log;
struct quorum;

struct quorum_hooks {
    void *ctx;
    /* Applies one committed entry, in index order: a data entry's record
     * batch (stored at base_offset), or a leader change (batch NULL).
     * Returns 0; anything else stops the broker (the image would diverge). */
    int (*apply)(void *ctx, uint64_t index, uint64_t term, const uint8_t *batch, size_t len,
                 int64_t base_offset);
    /* Encodes the applied state, which is the state after entry index
     * (term), whose batch ends at next_offset; *data is malloc'd. Returns
     * 0 or a RILL_ERR_* (the snapshot is skipped). NULL: no snapshots. */
    int (*snapshot)(void *ctx, uint64_t index, uint64_t term, int64_t next_offset,
                    uint8_t **data, size_t *len);
    /* Replaces the applied state with a snapshot's payload, as of entry
     * index (term). Returns 0; anything else stops the broker. */
    int (*install)(void *ctx, uint64_t index, uint64_t term, const uint8_t *data, size_t len);
    /* After the committed entries of one ready were applied. */
    void (*applied)(void *ctx);
    /* Sends one message to another node (after what it depends on is
     * durable). NULL: a one-voter quorum, which sends none. */
    void (*send)(void *ctx, const struct raft_msg *m);
    /* Entries persisted here can no longer be promised: proposals still
     * waiting are told rc (RILL_ERR_NOSPC: may still commit; RILL_ERR_IO:
     * this node has left the quorum). */
    void (*failed)(void *ctx, int rc);
};

struct quorum_config {
    int32_t node_id;
    const int32_t *voters;
    size_t nvoters;
    int64_t tick_ms;
    int64_t election_timeout_ms; /* controller.quorum.election.timeout.ms */
    int64_t fetch_timeout_ms;    /* controller.quorum.fetch.timeout.ms */
    int64_t fetch_max_wait_ms;   /* a parked fetch is answered within this */
    int64_t request_timeout_ms;  /* controller.quorum.request.timeout.ms */
    int64_t snapshot_bytes;      /* metadata.log.max.record.bytes.between.snapshots */
    uint64_t seed;
};

/* Opens the node over log (owned by the caller, which must route its
 * durable and offline callbacks to quorum_on_durable/quorum_on_offline)
 * and the quorum-state file in dir. Replays the log into raft entries,
 * applies what is known committed, and, as the only voter, elects itself
 * at once and applies everything (synchronously: this is start-up).
 * Returns 0 or a RILL_ERR_* after logging why. */
int quorum_open(struct broker *b, struct storage_log *log, const char *dir,
                const struct quorum_config *cfg, const struct quorum_hooks *hooks,
                struct quorum **out);
void quorum_close(struct quorum *q);

/* Proposes one record batch (copied). Returns 0 with the entry's index and
 * term, RILL_ERR_AGAIN when this node does not lead, RILL_ERR_IO when it
 * has left the quorum, or RILL_ERR_NOMEM. */
int quorum_propose(struct quorum *q, const uint8_t *batch, size_t len, uint64_t *index,
                   uint64_t *term);

/* One message from another node (held, copied, while a ready is being
 * carried out). */
void quorum_step(struct quorum *q, const struct raft_msg *m);

/* The loop's clock (every cfg.tick_ms). */
void quorum_tick(struct quorum *q);

void quorum_on_durable(struct quorum *q, int64_t durable_offset);
void quorum_on_offline(struct quorum *q);

void quorum_status(const struct quorum *q, struct raft_status *st);
/* Whether this node left the quorum for good (its log could not be
 * written or its directory went offline): it follows no metadata until
 * restarted. */
bool quorum_failed(const struct quorum *q);
/* The leader's view of each replica (raft_replicas). */
size_t quorum_replicas(const struct quorum *q, struct raft_replica_status *out, size_t max);
/* The log offset just after Raft entry index (the end of its batch): what
 * Kafka calls a log end offset or high watermark. Index 0 is the log
 * start. */
int64_t quorum_end_offset_of(const struct quorum *q, uint64_t index);
/* The node's clock: ticks so far, and how long one is. */
uint64_t quorum_ticks(const struct quorum *q);
int64_t quorum_tick_ms(const struct quorum *q);
/* Node `node`'s process is gone (its address refuses connections): if it
 * is the leader, this node stands without waiting out the election
 * timeout (raft_leader_gone). */
void quorum_peer_gone(struct quorum *q, int32_t node);
/* Hands leadership to another voter, for a clean shutdown. */
void quorum_resign(struct quorum *q);

#endif
