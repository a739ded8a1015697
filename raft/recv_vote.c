/* Votes and pre-votes (Raft §5.2, thesis §9.6 and §4.2.3; KIP-996). */
#include "common/assert.h"
#include "raft/raft_internal.h"

/* Raft §5.4.1: the candidate's log is at least as up to date as ours. */
static bool vote_log_ok(const struct raft *r, const struct raft_msg *m)
{
    uint64_t last_term = raft_last_term(r);
    return m->last_term > last_term ||
           (m->last_term == last_term && m->last_index >= raft_last_index(r));
}

static void vote_answer(struct raft *r, const struct raft_msg *m, bool granted)
{
    struct raft_msg resp = {.type = RAFT_MSG_VOTE_RESP,
                            .to = m->from,
                            /* a granted pre-vote carries the term it was asked for */
                            .term = granted && m->pre_vote ? m->term : r->term,
                            .leader = r->leader,
                            .pre_vote = m->pre_vote,
                            .granted = granted};
    (void)raft_send(r, &resp);
}

void raft_recv_vote_req(struct raft *r, const struct raft_msg *m)
{
    if (!r->voter || !raft_is_voter(r, m->from))
        return; /* observers do not vote; non-voters do not stand */
    /* A voter that hears from a live leader refuses to help depose it,
     * unless the leader itself hands over (TIMEOUT_NOW). */
    if (!m->transfer && raft_in_lease(r)) {
        vote_answer(r, m, false);
        return;
    }
    if (m->pre_vote) {
        vote_answer(r, m, m->term > r->term && vote_log_ok(r, m));
        return;
    }
    if (m->term > r->term)
        raft_become_follower(r, m->term, RAFT_NONE);
    ASSERT(m->term == r->term);
    bool grant = (r->voted_for == RAFT_NONE || r->voted_for == m->from) && vote_log_ok(r, m);
    if (grant) {
        r->voted_for = m->from; /* durable before the answer leaves (raft_ready) */
        raft_reset_election_timer(r);
    }
    vote_answer(r, m, grant);
}

static size_t vote_position(const struct raft *r, int32_t id)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        if (r->voters[i] == id)
            return i;
    return r->cfg.nvoters;
}

void raft_recv_vote_resp(struct raft *r, const struct raft_msg *m)
{
    size_t pos = vote_position(r, m->from);
    if (pos == r->cfg.nvoters)
        return;
    bool ours;
    if (m->pre_vote)
        ours = r->role == RAFT_PROSPECTIVE && (m->term == r->term + 1 || !m->granted);
    else
        ours = r->role == RAFT_CANDIDATE && m->term == r->term;
    if (!ours || r->responded[pos])
        return;
    if (m->pre_vote && !m->granted && m->term == r->term && m->leader != RAFT_NONE &&
        m->leader != r->cfg.id && raft_is_voter(r, m->leader)) {
        /* Refused because a leader is alive (KIP-996): follow it. */
        raft_become_follower(r, r->term, m->leader);
        return;
    }
    r->responded[pos] = true;
    r->granted[pos] = m->granted;
    size_t yes = 0, no = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        yes += r->granted[i];
        no += r->responded[i] && !r->granted[i];
    }
    if (yes >= raft_majority(r)) {
        if (r->role == RAFT_PROSPECTIVE)
            raft_become_candidate(r, false);
        else
            raft_become_leader(r);
    } else if (no >= raft_majority(r)) {
        /* Lost: wait as a follower for a leader or the next timeout. */
        raft_become_follower(r, r->term, RAFT_NONE);
    }
}
