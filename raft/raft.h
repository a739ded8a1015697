/* Raft consensus on one replicated log, as a pure state machine.
 *
 * Messages and clock ticks go in; messages to send, entries and hard state
 * to persist, and committed entries to apply come out (raft_ready), and the
 * driver tells the node what it did (raft_advance). Nothing in raft/ reads
 * a clock, touches a socket or a file, starts a thread or draws entropy:
 * the same inputs give the same outputs, which is what lets tests/sim run
 * a whole cluster from one seed.
 *
 * Replication is pull-based, as in KRaft (KIP-595): followers and observers
 * fetch from the leader with (fetch_index, the term of the entry before
 * it); the leader answers with entries, with the point where the logs
 * diverge, or with the id of a snapshot to fetch when the entries are gone.
 * A fetch also serves as the heartbeat in both directions: the leader
 * parks a fetch that has nothing new and answers it after heartbeat_ticks.
 *
 *   Elections: pre-vote (Raft thesis §9.6, KIP-996) before every candidacy,
 *   so that a node cut off from the quorum cannot raise the term and depose
 *   a healthy leader when it comes back; a voter that heard from a leader
 *   within the minimum election timeout refuses pre-votes and votes that
 *   are not a leadership transfer (thesis §4.2.3). Check-quorum: a leader
 *   that has not been fetched from by a majority within fetch_timeout_ticks
 *   resigns. Leadership transfer (thesis §3.10): the leader stops taking
 *   proposals, waits for the target to catch up and tells it to stand at
 *   once. Observers (ids not among the voters) follow the log and never
 *   vote or stand.
 *
 *                  timeout            majority of pre-votes
 *     FOLLOWER ──────────────> PROSPECTIVE ──────────────> CANDIDATE
 *        ^  ^  higher term,       │                            │ majority
 *        │  │  or a leader        │ timeout: retry             │ of votes
 *        │  └─────────────────────┘                            v
 *        └───────────── higher term, check-quorum ────────── LEADER
 *
 * Invariants (asserted inside, checked from outside by tests/sim):
 *   - at most one leader per term; a node votes at most once per term, and
 *     its term and vote are durable before any message that depends on
 *     them leaves (the driver persists a ready's hard state and entries
 *     before it sends that ready's messages);
 *   - log indexes are contiguous from the snapshot index + 1 and terms
 *     never decrease along the log; a leader only appends in its own term
 *     and never truncates its log;
 *   - commit never decreases and never passes what this node knows to
 *     match the leader; nothing at or below commit is ever truncated;
 *   - a leader counts an entry toward commit only once a majority of
 *     voters, itself included, has made it durable, and only commits an
 *     entry of its own term directly (Raft §5.4.2); the first entry of each
 *     leadership is a LEADER_CHANGE entry, so its earlier entries commit
 *     promptly;
 *   - applied <= commit, and entries are handed out for applying once, in
 *     index order.
 *
 * Memory: the node keeps the log since its last snapshot in memory (the
 * metadata log is small and snapshotted), plus the snapshot's bytes to
 * serve to lagging followers. */
#ifndef RILL_RAFT_RAFT_H
#define RILL_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_NONE (-1)

enum raft_role { RAFT_FOLLOWER, RAFT_PROSPECTIVE, RAFT_CANDIDATE, RAFT_LEADER };

enum raft_entry_type {
    RAFT_ENTRY_DATA = 0,          /* the driver's payload */
    RAFT_ENTRY_LEADER_CHANGE = 1, /* written by each new leader; data empty */
};

struct raft_entry {
    uint64_t index;
    uint64_t term;
    uint8_t type; /* enum raft_entry_type */
    uint8_t *data;
    size_t len;
};

enum raft_msg_type {
    RAFT_MSG_VOTE_REQ = 1,  /* candidate (or prospective, pre_vote) -> voters */
    RAFT_MSG_VOTE_RESP,
    RAFT_MSG_BEGIN_EPOCH,   /* new leader -> voters that have not fetched yet */
    RAFT_MSG_FETCH_REQ,     /* follower/observer -> leader */
    RAFT_MSG_FETCH_RESP,
    RAFT_MSG_SNAPSHOT_REQ,  /* follower -> leader: a chunk of snapshot (index, term) */
    RAFT_MSG_SNAPSHOT_RESP,
    RAFT_MSG_TIMEOUT_NOW,   /* leader -> transfer target: stand now */
};

enum raft_fetch_status {
    RAFT_FETCH_OK = 0,     /* entries from fetch_index (possibly none) */
    RAFT_FETCH_NOT_LEADER, /* ask msg.leader instead (RAFT_NONE: unknown) */
    RAFT_FETCH_DIVERGING,  /* truncate after diverging_index, then fetch again */
    RAFT_FETCH_SNAPSHOT,   /* the entries are gone: fetch snapshot (snap_index, snap_term) */
};

/* One message. Which fields mean something depends on type; the rest are
 * zero. Entries and chunk bytes belong to whoever built the message (for
 * messages from raft_ready: the node, until raft_advance). */
struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    int32_t from, to;
    uint64_t term;
    int32_t leader; /* the sender's leader for this term, or RAFT_NONE */

    /* VOTE_REQ, VOTE_RESP */
    bool pre_vote;
    bool transfer;   /* a leadership transfer: voters ignore their lease */
    uint64_t last_index, last_term;
    bool granted;

    /* FETCH_REQ, FETCH_RESP (echoed) */
    uint64_t fetch_index;     /* the first index wanted */
    uint64_t fetch_prev_term; /* the term of fetch_index - 1 in the fetcher's log */
    /* FETCH_RESP */
    uint8_t status; /* enum raft_fetch_status */
    uint64_t commit;
    struct raft_entry *entries;
    size_t nentries;
    uint64_t diverging_index, diverging_term;

    /* FETCH_RESP (SNAPSHOT), SNAPSHOT_REQ, SNAPSHOT_RESP */
    uint64_t snap_index, snap_term;
    uint64_t snap_offset; /* where the chunk starts */
    uint64_t snap_size;   /* total bytes; SNAPSHOT_RESP only */
    uint8_t *chunk;
    size_t chunk_len;
};

/* A deep copy of src (its entries, their data and its chunk) into dst,
 * which raft_msg_free releases. Returns 0 or RILL_ERR_NOMEM (dst then
 * holds nothing). */
int raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src);
void raft_msg_free(struct raft_msg *m);

struct raft_hard_state {
    uint64_t term;
    int32_t voted_for; /* RAFT_NONE when none this term */
    uint64_t commit;   /* a lower bound of the commit index; may lag */
};

struct raft_snapshot {
    uint64_t index; /* the last entry it covers */
    uint64_t term;  /* that entry's term */
    uint8_t *data;
    size_t len;
};

struct raft_config {
    int32_t id;
    const int32_t *voters; /* the static quorum (controller.quorum.voters) */
    size_t nvoters;
    uint32_t election_ticks;        /* T: timeouts are drawn from [T, 2T) */
    uint32_t fetch_timeout_ticks;   /* a leader without majority fetches resigns */
    uint32_t heartbeat_ticks;       /* a parked fetch is answered within this */
    uint32_t request_timeout_ticks; /* an unanswered request is sent again */
    size_t max_fetch_bytes;         /* entry bytes per fetch response (at least one) */
    size_t max_snapshot_chunk_bytes;
    uint64_t seed;                  /* for the election timeout draws */
};

/* What the node asks of its driver; valid until raft_advance. The driver:
 *   1. persists hard_state (if hard_state_changed; atomically: write,
 *      fsync, rename, fsync the directory), so that no entry of a term is
 *      ever on disk without that term;
 *   2. if truncate_from > 0, removes persisted entries at or above it, then
 *      persists snapshot (if set), then entries -- durably, fsynced;
 *   3. sends msgs;
 *   4. applies snapshot (if set), then committed, in order;
 *   5. calls raft_advance.
 * A snapshot replaces everything the driver holds at or below its index. */
struct raft_ready {
    bool hard_state_changed;
    struct raft_hard_state hard_state;
    uint64_t truncate_from;
    const struct raft_snapshot *snapshot;
    const struct raft_entry *entries;
    size_t nentries;
    const struct raft_msg *msgs;
    size_t nmsgs;
    const struct raft_entry *committed;
    size_t ncommitted;
};

/* A node's view, for status pages and tests. */
struct raft_status {
    int32_t id;
    enum raft_role role;
    bool voter;
    uint64_t term;
    int32_t leader;
    int32_t voted_for;
    uint64_t commit, applied;
    uint64_t first_index, last_index, last_term;
    uint64_t snap_index, snap_term;
};

/* One replica as the leader sees it (DescribeQuorum). */
struct raft_replica_status {
    int32_t id;
    bool voter;
    uint64_t match_index;     /* last index known durable there, 0 none */
    uint64_t last_fetch_tick; /* the node's tick count at its last fetch */
};

struct raft;

/* Creates a node from its durable state: hard state, the last snapshot
 * (index 0: none) and the entries after it, as the driver persisted them
 * (copied). The node applies nothing it does not know to be committed:
 * from the snapshot up to hard_state->commit. Returns 0, RILL_ERR_INVALID
 * (a bad config or an inconsistent log) or RILL_ERR_NOMEM. */
int raft_create(const struct raft_config *cfg, const struct raft_hard_state *hs,
                const struct raft_snapshot *snapshot, const struct raft_entry *entries,
                size_t nentries, struct raft **out);
void raft_free(struct raft *r);

/* One clock tick. */
void raft_tick(struct raft *r);

/* One message from the network. Messages not meant for this node, stale,
 * duplicated or malformed ones are dropped; nothing a peer sends can break
 * an invariant. Returns 0, or RILL_ERR_NOMEM (the message was not taken). */
int raft_step(struct raft *r, const struct raft_msg *m);

/* Appends data (copied) as a new entry. Returns 0 with its index, or
 * RILL_ERR_AGAIN when this node is not the leader or is transferring
 * leadership away, or RILL_ERR_NOMEM. */
int raft_propose(struct raft *r, const uint8_t *data, size_t len, uint64_t *index);

/* Stands for election now, without waiting for the timeout (a voter that
 * is not leading): a one-voter quorum elects itself at once at start-up,
 * as KRaft does. Returns 0 or RILL_ERR_AGAIN (an observer, or leading). */
int raft_campaign(struct raft *r);

/* The driver learned that node `id` is gone (its address refuses
 * connections: nothing listens there). When `id` is this node's leader,
 * the node stops honouring its lease (it answers pre-votes again) and
 * stands, or as an observer asks who leads, after a short random delay
 * drawn from [1, T/4] ticks instead of a full timeout; the random draw
 * keeps two followers from splitting the vote. A wrong hint costs one
 * pre-vote round at most, never safety: Raft's safety does not rest on
 * timing. Returns 0, or RILL_ERR_AGAIN when `id` is not the leader this
 * node follows. */
int raft_leader_gone(struct raft *r, int32_t id);

/* Hands leadership to voter `to` (RAFT_NONE: the most caught up) once it
 * has everything; proposals are refused until then. Gives up after an
 * election timeout. Returns 0, or RILL_ERR_AGAIN (not the leader, or no
 * other voter). */
int raft_transfer_leadership(struct raft *r, int32_t to);

/* Replaces the log up to index (<= applied) with a snapshot of the
 * applied state (data copied, served to followers that fall behind).
 * Returns 0, RILL_ERR_INVALID or RILL_ERR_NOMEM. */
int raft_compact(struct raft *r, uint64_t index, const uint8_t *data, size_t len);

bool raft_has_ready(const struct raft *r);
/* Fills rd. Until raft_advance the node must not be stepped, ticked or
 * compacted; proposals are allowed (they go into the next ready). If
 * memory for the ready's copies runs out, its entries or committed
 * entries come in a later ready instead. */
void raft_ready(struct raft *r, struct raft_ready *rd);
void raft_advance(struct raft *r, const struct raft_ready *rd);

void raft_status(const struct raft *r, struct raft_status *st);
/* The replicas the leader tracks (voters first); returns how many were
 * written to out (at most max), 0 when not the leader. */
size_t raft_replicas(const struct raft *r, struct raft_replica_status *out, size_t max);
uint64_t raft_ticks(const struct raft *r);

/* The entry at index, or NULL when compacted or not there. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);

#endif
