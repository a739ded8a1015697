/* Leadership announcements: BEGIN_EPOCH from a new leader (pull-based Raft
 * has no pushed heartbeats, so voters would otherwise not learn of it) and
 * TIMEOUT_NOW from a leader handing over (thesis §3.10). */
#include "raft/raft_internal.h"

void raft_recv_begin_epoch(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER || !raft_is_voter(r, m->from))
        return; /* one leader per term: a second one cannot exist */
    if (r->role != RAFT_FOLLOWER || r->leader != m->from)
        raft_become_follower(r, m->term, m->from);
    raft_heard_from_leader(r);
}

void raft_recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
    if (!r->voter || r->role != RAFT_FOLLOWER || m->from != r->leader)
        return;
    raft_become_candidate(r, true);
}

void raft_reply_not_leader(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {.type = RAFT_MSG_FETCH_RESP, .to = m->from, .term = r->term,
                            .leader = r->leader, .status = RAFT_FETCH_NOT_LEADER,
                            .fetch_index = m->fetch_index, .fetch_prev_term = m->fetch_prev_term};
    (void)raft_send(r, &resp);
}
