/* Private to raft/: the node's structure and the helpers its files share
 * (raft.c: lifecycle, roles, ticks, ready; raft_log.c: the in-memory log;
 * recv_vote.c, recv_fetch.c, recv_snapshot.c, recv_epoch.c: one file per
 * kind of message received). */
#ifndef RILL_RAFT_RAFT_INTERNAL_H
#define RILL_RAFT_RAFT_INTERNAL_H

#include "raft/raft.h"

/* The leader's view of one replica. */
struct raft_progress {
    int32_t id;
    bool voter;
    uint64_t match;           /* highest index known durable there */
    uint64_t last_fetch_tick; /* when it last fetched (check-quorum) */
    bool fetched;             /* has fetched in this leadership */
    uint64_t begin_sent_tick; /* BEGIN_EPOCH resend pacing */
    /* A fetch with nothing new, answered on news or after heartbeat_ticks. */
    bool parked;
    uint64_t parked_index, parked_prev_term, parked_tick;
    uint64_t told_commit;     /* the commit index last sent to it */
};

/* A snapshot being fetched from the leader, chunk by chunk. */
struct raft_download {
    bool active;
    uint64_t index, term, size, offset;
    uint8_t *buf;
    bool inflight;
    uint64_t sent_tick;
};

struct raft {
    struct raft_config cfg;
    int32_t *voters;
    bool voter;
    uint64_t rng;

    /* durable state, and what the driver was last given of it */
    uint64_t term;
    int32_t voted_for;
    struct raft_hard_state hs_given;

    /* the log: the snapshot, then entries snap.index + 1 .. last */
    struct raft_snapshot snap;
    struct raft_entry *log;
    size_t nlog, caplog;
    uint64_t stable;        /* entries up to here are durable (driver said so) */
    uint64_t truncate_from; /* a truncation of durable entries to report, 0 none */
    bool snap_new;          /* snap was installed from the leader: to persist and apply */
    uint64_t commit, applied;

    enum raft_role role;
    int32_t leader;
    uint64_t ticks;
    uint64_t election_elapsed, election_timeout;
    uint64_t leader_contact_tick; /* the last message from the leader */
    bool leader_contact;

    /* elections: per voter, by position in voters[] */
    bool *responded, *granted;
    uint64_t leader_since_tick;

    /* follower side */
    bool fetch_inflight;
    uint64_t fetch_sent_tick;
    size_t probe_next; /* observers without a leader ask the voters in turn */
    struct raft_download dl;

    /* leader side */
    struct raft_progress *progress; /* voters first, then observers seen */
    size_t nprogress, capprogress;
    int32_t transfer_to;
    uint64_t transfer_tick;

    /* messages for the next ready */
    struct raft_msg *out;
    size_t nout, capout;
    /* what the last ready handed out */
    const struct raft_msg *given_msgs;
    size_t ngiven_msgs;
    struct raft_entry *given_entries, *given_committed;
};

/* raft_log.c */
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_last_term(const struct raft *r);
/* The term at index (the snapshot's at its index, 0 at index 0); false
 * when index is compacted away or beyond the log. */
bool raft_term_at(const struct raft *r, uint64_t index, uint64_t *term);
/* Appends a copy of e (e->index must be last + 1). */
int raft_log_append(struct raft *r, const struct raft_entry *e);
/* Removes the entries from index on (all above commit). */
void raft_log_truncate(struct raft *r, uint64_t index);
/* Drops the entries up to index (covered by a snapshot). */
void raft_log_drop_through(struct raft *r, uint64_t index);
void raft_log_free(struct raft *r);
/* The last index whose term is <= term, and that term; false when the log
 * no longer holds enough to tell (the answer lies in the snapshot). */
bool raft_log_last_with_term_at_most(const struct raft *r, uint64_t term, uint64_t below,
                                     uint64_t *index, uint64_t *found_term);

/* raft.c */
bool raft_is_voter(const struct raft *r, int32_t id);
size_t raft_majority(const struct raft *r);
/* The leader's entry for id; with create, a new observer entry (NULL when
 * the table is full). */
struct raft_progress *raft_progress_find(struct raft *r, int32_t id, bool create);
/* Queues a message (entries and chunk are copied). */
int raft_send(struct raft *r, const struct raft_msg *m);
void raft_abort_download(struct raft *r);
void raft_become_follower(struct raft *r, uint64_t term, int32_t leader);
void raft_become_candidate(struct raft *r, bool transfer);
void raft_become_leader(struct raft *r);
void raft_start_pre_vote(struct raft *r);
void raft_reset_election_timer(struct raft *r);
void raft_heard_from_leader(struct raft *r);
bool raft_in_lease(const struct raft *r);
/* Leader: moves commit to what a majority holds durably, in this term. */
void raft_leader_maybe_commit(struct raft *r);
/* Leader: answers parked fetches that can now get entries or a commit. */
void raft_leader_wake_parked(struct raft *r, bool heartbeat_due_only);
/* Follower: sends the next fetch (or snapshot chunk request) if none is out. */
void raft_follower_maybe_fetch(struct raft *r);

/* recv_*.c */
void raft_recv_vote_req(struct raft *r, const struct raft_msg *m);
void raft_recv_vote_resp(struct raft *r, const struct raft_msg *m);
void raft_recv_fetch_req(struct raft *r, const struct raft_msg *m);
void raft_recv_fetch_resp(struct raft *r, const struct raft_msg *m);
void raft_recv_snapshot_req(struct raft *r, const struct raft_msg *m);
void raft_recv_snapshot_resp(struct raft *r, const struct raft_msg *m);
void raft_recv_begin_epoch(struct raft *r, const struct raft_msg *m);
void raft_recv_timeout_now(struct raft *r, const struct raft_msg *m);
/* A FETCH_RESP saying this node does not lead (and whom it thinks does). */
void raft_reply_not_leader(struct raft *r, const struct raft_msg *m);
/* Leader: the answer to a fetch, at once. */
void raft_leader_answer_fetch(struct raft *r, struct raft_progress *p, uint64_t fetch_index,
                              uint64_t prev_term);

#endif
