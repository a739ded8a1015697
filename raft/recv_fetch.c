/* Fetch, both sides (KIP-595): the leader checks the fetcher's position
 * against its log and answers with entries, the point of divergence, or a
 * snapshot to fetch; the follower appends, truncates or starts a download,
 * and fetches again. */
#include "common/assert.h"
#include "raft/raft_internal.h"

/* ---- leader ------------------------------------------------------------- */

static void fetch_send(struct raft *r, struct raft_progress *p, const struct raft_msg *resp)
{
    if (p != NULL) {
        p->told_commit = resp->commit;
        p->parked = false;
    }
    (void)raft_send(r, resp);
}

void raft_leader_answer_fetch(struct raft *r, struct raft_progress *p, uint64_t fetch_index,
                              uint64_t prev_term)
{
    int32_t to = p->id;
    struct raft_msg resp = {.type = RAFT_MSG_FETCH_RESP, .to = to, .term = r->term,
                            .leader = r->cfg.id, .fetch_index = fetch_index,
                            .fetch_prev_term = prev_term, .commit = r->commit};
    uint64_t prev = fetch_index - 1;
    /* Only what the fetcher is known to match may be committed there. */
    if (resp.commit > prev)
        resp.commit = prev;
    size_t n = 0, bytes = 0;
    while (fetch_index + n <= raft_last_index(r)) {
        const struct raft_entry *e = raft_entry_at(r, fetch_index + n);
        ASSERT(e != NULL);
        if (n > 0 && bytes + e->len > r->cfg.max_fetch_bytes)
            break;
        bytes += e->len;
        n++;
    }
    if (n > 0) {
        resp.entries = (struct raft_entry *)raft_entry_at(r, fetch_index);
        resp.nentries = n;
        resp.commit = r->commit < prev + n ? r->commit : prev + n;
    }
    fetch_send(r, p, &resp);
}

/* Whether a parked fetch has news: entries after it, or a commit index
 * it has not been told. */
static bool fetch_has_news(const struct raft *r, const struct raft_progress *p)
{
    uint64_t can_commit = r->commit < p->parked_index - 1 ? r->commit : p->parked_index - 1;
    return raft_last_index(r) >= p->parked_index || can_commit > p->told_commit;
}

void raft_leader_wake_parked(struct raft *r, bool heartbeat_due_only)
{
    if (r->role != RAFT_LEADER)
        return;
    for (size_t i = 0; i < r->nprogress; i++) {
        struct raft_progress *p = &r->progress[i];
        if (!p->parked)
            continue;
        bool due = r->ticks - p->parked_tick >= r->cfg.heartbeat_ticks;
        if (heartbeat_due_only ? due : fetch_has_news(r, p))
            raft_leader_answer_fetch(r, p, p->parked_index, p->parked_prev_term);
    }
}

static void fetch_answer_snapshot(struct raft *r, struct raft_progress *p,
                                  const struct raft_msg *m)
{
    struct raft_msg resp = {.type = RAFT_MSG_FETCH_RESP, .to = m->from, .term = r->term,
                            .leader = r->cfg.id, .fetch_index = m->fetch_index,
                            .fetch_prev_term = m->fetch_prev_term, .status = RAFT_FETCH_SNAPSHOT,
                            .snap_index = r->snap.index, .snap_term = r->snap.term};
    fetch_send(r, p, &resp);
}

void raft_recv_fetch_req(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER) {
        raft_reply_not_leader(r, m);
        return;
    }
    if (m->fetch_index == 0)
        return; /* indexes start at 1 */
    struct raft_progress *p = raft_progress_find(r, m->from, true);
    struct raft_progress spare = {.id = m->from}; /* an observer beyond the table */
    if (p == NULL)
        p = &spare;
    p->last_fetch_tick = r->ticks;
    p->fetched = true;
    p->parked = false;
    uint64_t prev = m->fetch_index - 1;
    uint64_t term;
    if (prev < r->snap.index) {
        fetch_answer_snapshot(r, p, m);
        return;
    }
    if (!raft_term_at(r, prev, &term) || term != m->fetch_prev_term) {
        /* Diverged (or ahead of us): tell where our log last has a term no
         * later than the fetcher's; it truncates there and tries again. */
        uint64_t index, found;
        if (!raft_log_last_with_term_at_most(r, m->fetch_prev_term, prev, &index, &found)) {
            fetch_answer_snapshot(r, p, m);
            return;
        }
        struct raft_msg resp = {.type = RAFT_MSG_FETCH_RESP, .to = m->from, .term = r->term,
                                .leader = r->cfg.id, .fetch_index = m->fetch_index,
                                .fetch_prev_term = m->fetch_prev_term,
                                .status = RAFT_FETCH_DIVERGING, .diverging_index = index,
                                .diverging_term = found};
        fetch_send(r, p, &resp);
        return;
    }
    /* The fetcher holds our log up to prev, durably (it persists before it
     * fetches). */
    if (prev > p->match)
        p->match = prev;
    if (p->voter)
        raft_leader_maybe_commit(r);
    if (r->transfer_to == p->id && p->match == raft_last_index(r)) {
        struct raft_msg now = {.type = RAFT_MSG_TIMEOUT_NOW, .to = p->id, .term = r->term,
                               .leader = r->cfg.id};
        (void)raft_send(r, &now);
    }
    p->parked_index = m->fetch_index;
    p->parked_prev_term = m->fetch_prev_term;
    p->parked_tick = r->ticks;
    p->parked = true;
    if (p == &spare || fetch_has_news(r, p))
        raft_leader_answer_fetch(r, p, m->fetch_index, m->fetch_prev_term);
}

/* ---- follower ------------------------------------------------------------ */

void raft_follower_maybe_fetch(struct raft *r)
{
    if (r->role == RAFT_LEADER || r->role == RAFT_CANDIDATE || r->role == RAFT_PROSPECTIVE)
        return;
    bool waiting = r->fetch_inflight || r->dl.inflight;
    uint64_t since = r->dl.inflight ? r->dl.sent_tick : r->fetch_sent_tick;
    if (waiting && r->ticks - since < r->cfg.request_timeout_ticks)
        return;
    int32_t to = r->leader;
    if (to == RAFT_NONE) {
        /* Voters wait for BEGIN_EPOCH or their election; observers ask the
         * voters in turn who leads. */
        if (r->voter || (waiting && r->ticks - since < r->cfg.request_timeout_ticks))
            return;
        to = r->voters[r->probe_next++ % r->cfg.nvoters];
    }
    struct raft_msg m = {.to = to, .term = r->term, .leader = r->leader};
    if (r->dl.active) {
        m.type = RAFT_MSG_SNAPSHOT_REQ;
        m.snap_index = r->dl.index;
        m.snap_term = r->dl.term;
        m.snap_offset = r->dl.offset;
        r->dl.inflight = true;
        r->dl.sent_tick = r->ticks;
    } else {
        m.type = RAFT_MSG_FETCH_REQ;
        m.fetch_index = raft_last_index(r) + 1;
        m.fetch_prev_term = raft_last_term(r);
        r->fetch_inflight = true;
        r->fetch_sent_tick = r->ticks;
    }
    (void)raft_send(r, &m);
}

/* Whether resp answers the fetch our log would send now (not a duplicate
 * or an answer overtaken by a truncation or an append). */
static bool fetch_is_current(const struct raft *r, const struct raft_msg *m)
{
    return m->fetch_index == raft_last_index(r) + 1 && m->fetch_prev_term == raft_last_term(r);
}

static void fetch_append(struct raft *r, const struct raft_msg *m)
{
    uint64_t prev_term = m->fetch_prev_term;
    for (size_t i = 0; i < m->nentries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index != m->fetch_index + i || e->term < prev_term || e->term > m->term)
            return; /* malformed: drop the rest */
        if (raft_log_append(r, e) != 0)
            return; /* out of memory: fetched again later */
        prev_term = e->term;
    }
    /* Everything up to here now matches the leader's log. */
    uint64_t matched = raft_last_index(r);
    uint64_t commit = m->commit < matched ? m->commit : matched;
    if (commit > r->commit)
        r->commit = commit;
}

static void fetch_truncate(struct raft *r, const struct raft_msg *m)
{
    /* Keep what can still match: up to the leader's point, and only
     * entries no later than its term there (see recv_fetch_req). */
    uint64_t below = m->diverging_index < raft_last_index(r) ? m->diverging_index
                                                             : raft_last_index(r);
    uint64_t index, term;
    if (!raft_log_last_with_term_at_most(r, m->diverging_term, below, &index, &term))
        index = r->snap.index;
    if (index < r->commit) {
        /* A leader never asks to cut a committed entry; a message that
         * does is not from a real leader of this term. Ignored. */
        return;
    }
    if (index < raft_last_index(r))
        raft_log_truncate(r, index + 1);
}

void raft_recv_fetch_resp(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER)
        return;
    if (m->status == RAFT_FETCH_NOT_LEADER) {
        r->fetch_inflight = false;
        if (r->leader == m->from) {
            r->leader = RAFT_NONE; /* it no longer leads this term */
        } else if (r->leader == RAFT_NONE && m->leader != RAFT_NONE && m->leader != r->cfg.id &&
                   raft_is_voter(r, m->leader)) {
            r->leader = m->leader;
        }
        return;
    }
    if (r->leader == RAFT_NONE && raft_is_voter(r, m->from))
        r->leader = m->from; /* only a leader answers a fetch with data */
    if (m->from != r->leader)
        return;
    raft_heard_from_leader(r);
    if (!fetch_is_current(r, m))
        return;
    r->fetch_inflight = false;
    switch (m->status) {
    case RAFT_FETCH_OK:
        fetch_append(r, m);
        break;
    case RAFT_FETCH_DIVERGING:
        fetch_truncate(r, m);
        break;
    case RAFT_FETCH_SNAPSHOT:
        if (m->snap_index > r->commit && !r->dl.active) {
            r->dl.active = true;
            r->dl.index = m->snap_index;
            r->dl.term = m->snap_term;
            r->dl.offset = 0;
            r->dl.size = 0;
        }
        break;
    default:
        break;
    }
}
