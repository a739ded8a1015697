/* The Raft node: creation from durable state, roles and their timers, the
 * leader's commit rule, and the ready/advance exchange with the driver.
 * raft.h has the contract, the state diagram and the invariants. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "raft/raft_internal.h"

/* splitmix64: the node's own generator, seeded by the driver, so that a
 * simulation seed fixes every election timeout. */
static uint64_t raft_random(struct raft *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool raft_is_voter(const struct raft *r, int32_t id)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        if (r->voters[i] == id)
            return true;
    return false;
}

size_t raft_majority(const struct raft *r)
{
    return r->cfg.nvoters / 2 + 1;
}

static int raft_check_config(const struct raft_config *cfg)
{
    if (cfg->nvoters == 0 || cfg->nvoters > LIMIT_RAFT_VOTERS || cfg->election_ticks == 0 ||
        cfg->heartbeat_ticks == 0 || cfg->heartbeat_ticks >= cfg->election_ticks ||
        cfg->fetch_timeout_ticks == 0 || cfg->request_timeout_ticks == 0 ||
        cfg->max_snapshot_chunk_bytes == 0 || cfg->id < 0)
        return RILL_ERR_INVALID;
    for (size_t i = 0; i < cfg->nvoters; i++) {
        if (cfg->voters[i] < 0)
            return RILL_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (cfg->voters[i] == cfg->voters[j])
                return RILL_ERR_INVALID;
    }
    return RILL_OK;
}

int raft_create(const struct raft_config *cfg, const struct raft_hard_state *hs,
                const struct raft_snapshot *snapshot, const struct raft_entry *entries,
                size_t nentries, struct raft **out)
{
    int rc = raft_check_config(cfg);
    if (rc != 0)
        return rc;
    struct raft *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return RILL_ERR_NOMEM;
    r->cfg = *cfg;
    r->voters = malloc(cfg->nvoters * sizeof(*r->voters));
    r->responded = calloc(cfg->nvoters, sizeof(bool));
    r->granted = calloc(cfg->nvoters, sizeof(bool));
    /* Fixed for the node's life: every voter and the observers it serves. */
    r->capprogress = cfg->nvoters + LIMIT_RAFT_OBSERVERS;
    r->progress = calloc(r->capprogress, sizeof(*r->progress));
    rc = RILL_ERR_NOMEM;
    if (r->voters == NULL || r->responded == NULL || r->granted == NULL || r->progress == NULL)
        goto fail;
    memcpy(r->voters, cfg->voters, cfg->nvoters * sizeof(*r->voters));
    r->cfg.voters = r->voters;
    r->voter = raft_is_voter(r, cfg->id);
    r->rng = cfg->seed ^ ((uint64_t)(uint32_t)cfg->id << 32);
    r->term = hs->term;
    r->voted_for = hs->voted_for;
    r->hs_given = *hs;
    r->leader = RAFT_NONE;
    r->transfer_to = RAFT_NONE;
    if (snapshot != NULL && snapshot->index > 0) {
        r->snap.index = snapshot->index;
        r->snap.term = snapshot->term;
        if (snapshot->len > 0) {
            r->snap.data = malloc(snapshot->len);
            if (r->snap.data == NULL)
                goto fail;
            memcpy(r->snap.data, snapshot->data, snapshot->len);
        }
        r->snap.len = snapshot->len;
    }
    rc = RILL_ERR_INVALID;
    for (size_t i = 0; i < nentries; i++) {
        const struct raft_entry *e = &entries[i];
        if (e->index != raft_last_index(r) + 1 || e->term < raft_last_term(r) ||
            e->term > r->term)
            goto fail;
        rc = raft_log_append(r, e);
        if (rc != 0)
            goto fail;
        rc = RILL_ERR_INVALID;
    }
    r->stable = raft_last_index(r);
    /* Only what is known committed is applied; the leader tells the rest. */
    r->commit = hs->commit;
    if (r->commit < r->snap.index)
        r->commit = r->snap.index;
    if (r->commit > raft_last_index(r))
        r->commit = raft_last_index(r);
    r->applied = r->snap.index;
    r->hs_given.commit = r->commit;
    raft_reset_election_timer(r);
    *out = r;
    return RILL_OK;

fail:
    raft_free(r);
    return rc;
}

static void raft_free_msgs(struct raft_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        raft_msg_free(&msgs[i]);
}

void raft_free(struct raft *r)
{
    if (r == NULL)
        return;
    raft_free_msgs(r->out, r->nout);
    free(r->out);
    /* A ready not advanced (the driver stopped half way through it). */
    raft_free_msgs((struct raft_msg *)r->given_msgs, r->ngiven_msgs);
    free((void *)r->given_msgs);
    free(r->given_entries);
    free(r->given_committed);
    raft_log_free(r);
    free(r->snap.data);
    free(r->dl.buf);
    free(r->progress);
    free(r->voters);
    free(r->responded);
    free(r->granted);
    free(r);
}

int raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src)
{
    *dst = *src;
    dst->entries = NULL;
    dst->nentries = 0;
    dst->chunk = NULL;
    dst->chunk_len = 0;
    if (src->nentries > 0) {
        dst->entries = calloc(src->nentries, sizeof(*dst->entries));
        if (dst->entries == NULL)
            return RILL_ERR_NOMEM;
        for (size_t i = 0; i < src->nentries; i++) {
            dst->entries[i] = src->entries[i];
            dst->entries[i].data = NULL;
            dst->nentries = i + 1;
            if (src->entries[i].len == 0)
                continue;
            dst->entries[i].data = malloc(src->entries[i].len);
            if (dst->entries[i].data == NULL) {
                raft_msg_free(dst);
                return RILL_ERR_NOMEM;
            }
            memcpy(dst->entries[i].data, src->entries[i].data, src->entries[i].len);
        }
    }
    if (src->chunk_len > 0) {
        dst->chunk = malloc(src->chunk_len);
        if (dst->chunk == NULL) {
            raft_msg_free(dst);
            return RILL_ERR_NOMEM;
        }
        memcpy(dst->chunk, src->chunk, src->chunk_len);
        dst->chunk_len = src->chunk_len;
    }
    return RILL_OK;
}

void raft_msg_free(struct raft_msg *m)
{
    for (size_t i = 0; i < m->nentries; i++)
        free(m->entries[i].data);
    free(m->entries);
    free(m->chunk);
    m->entries = NULL;
    m->nentries = 0;
    m->chunk = NULL;
    m->chunk_len = 0;
}

int raft_send(struct raft *r, const struct raft_msg *m)
{
    if (r->nout == r->capout) {
        size_t cap = r->capout ? r->capout * 2 : 16;
        struct raft_msg *out = realloc(r->out, cap * sizeof(*out));
        if (out == NULL)
            return RILL_ERR_NOMEM;
        r->out = out;
        r->capout = cap;
    }
    int rc = raft_msg_copy(&r->out[r->nout], m);
    if (rc != 0)
        return rc;
    r->out[r->nout++].from = r->cfg.id;
    return RILL_OK;
}

/* ---- roles ------------------------------------------------------------- */

void raft_reset_election_timer(struct raft *r)
{
    r->election_elapsed = 0;
    r->election_timeout = r->cfg.election_ticks + raft_random(r) % r->cfg.election_ticks;
}

void raft_heard_from_leader(struct raft *r)
{
    r->leader_contact = true;
    r->leader_contact_tick = r->ticks;
    r->election_elapsed = 0;
    if (r->election_timeout < r->cfg.election_ticks)
        raft_reset_election_timer(r); /* raft_leader_gone was wrong: it lives */
}

bool raft_in_lease(const struct raft *r)
{
    if (r->role == RAFT_LEADER)
        return true;
    return r->leader != RAFT_NONE && r->leader_contact &&
           r->ticks - r->leader_contact_tick < r->cfg.election_ticks;
}

static void raft_clear_leader_state(struct raft *r)
{
    r->nprogress = 0;
    r->transfer_to = RAFT_NONE;
}

void raft_abort_download(struct raft *r)
{
    free(r->dl.buf);
    memset(&r->dl, 0, sizeof(r->dl));
}

void raft_become_follower(struct raft *r, uint64_t term, int32_t leader)
{
    ASSERT(term >= r->term);
    if (term > r->term) {
        r->term = term;
        r->voted_for = RAFT_NONE;
    }
    bool new_leader = leader != r->leader;
    r->role = RAFT_FOLLOWER;
    r->leader = leader == r->cfg.id ? RAFT_NONE : leader;
    raft_clear_leader_state(r);
    raft_reset_election_timer(r);
    if (new_leader) {
        r->fetch_inflight = false;
        r->leader_contact = false;
        raft_abort_download(r);
    }
}

static void raft_clear_votes(struct raft *r)
{
    memset(r->responded, 0, r->cfg.nvoters * sizeof(bool));
    memset(r->granted, 0, r->cfg.nvoters * sizeof(bool));
}

static void raft_ask_votes(struct raft *r, bool pre_vote, bool transfer)
{
    struct raft_msg m = {.type = RAFT_MSG_VOTE_REQ,
                         .term = pre_vote ? r->term + 1 : r->term,
                         .leader = RAFT_NONE,
                         .pre_vote = pre_vote,
                         .transfer = transfer,
                         .last_index = raft_last_index(r),
                         .last_term = raft_last_term(r)};
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        if (r->voters[i] == r->cfg.id) {
            r->responded[i] = r->granted[i] = true;
            continue;
        }
        m.to = r->voters[i];
        (void)raft_send(r, &m); /* a vote lost for want of memory is a lost message */
    }
}

static size_t raft_count_granted(const struct raft *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        n += r->granted[i];
    return n;
}

void raft_start_pre_vote(struct raft *r)
{
    ASSERT(r->voter);
    r->role = RAFT_PROSPECTIVE;
    r->leader = RAFT_NONE;
    raft_clear_leader_state(r);
    raft_reset_election_timer(r);
    raft_clear_votes(r);
    raft_ask_votes(r, true, false);
    if (raft_count_granted(r) >= raft_majority(r))
        raft_become_candidate(r, false);
}

void raft_become_candidate(struct raft *r, bool transfer)
{
    ASSERT(r->voter);
    r->term++;
    r->voted_for = r->cfg.id;
    r->role = RAFT_CANDIDATE;
    r->leader = RAFT_NONE;
    raft_clear_leader_state(r);
    raft_abort_download(r);
    raft_reset_election_timer(r);
    raft_clear_votes(r);
    raft_ask_votes(r, false, transfer);
    if (raft_count_granted(r) >= raft_majority(r))
        raft_become_leader(r);
}

static struct raft_progress *raft_progress_add(struct raft *r, int32_t id, bool voter)
{
    if (r->nprogress == r->capprogress)
        return NULL;
    struct raft_progress *p = &r->progress[r->nprogress++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->voter = voter;
    /* A grace period: check-quorum counts from the start of the term. */
    p->last_fetch_tick = r->ticks;
    return p;
}

struct raft_progress *raft_progress_find(struct raft *r, int32_t id, bool create)
{
    for (size_t i = 0; i < r->nprogress; i++)
        if (r->progress[i].id == id)
            return &r->progress[i];
    if (!create)
        return NULL;
    return raft_progress_add(r, id, false);
}

static void raft_send_begin_epoch(struct raft *r, struct raft_progress *p)
{
    struct raft_msg m = {.type = RAFT_MSG_BEGIN_EPOCH, .to = p->id, .term = r->term,
                         .leader = r->cfg.id};
    p->begin_sent_tick = r->ticks;
    (void)raft_send(r, &m);
}

void raft_become_leader(struct raft *r)
{
    ASSERT(r->role == RAFT_CANDIDATE && r->voted_for == r->cfg.id);
    r->role = RAFT_LEADER;
    r->leader = r->cfg.id;
    r->leader_since_tick = r->ticks;
    r->nprogress = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        struct raft_progress *p = raft_progress_add(r, r->voters[i], true);
        ASSERT(p != NULL); /* the table holds every voter (raft_create) */
        if (r->voters[i] == r->cfg.id)
            p->fetched = true;
    }
    struct raft_entry e = {.index = raft_last_index(r) + 1, .term = r->term,
                           .type = RAFT_ENTRY_LEADER_CHANGE};
    if (raft_log_append(r, &e) != 0) {
        /* Without its first entry the leadership could commit nothing. */
        raft_become_follower(r, r->term, RAFT_NONE);
        return;
    }
    for (size_t i = 0; i < r->nprogress; i++)
        if (r->progress[i].id != r->cfg.id)
            raft_send_begin_epoch(r, &r->progress[i]);
}

/* ---- the leader's commit rule ---------------------------------------------- */

static int raft_cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void raft_leader_maybe_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    uint64_t match[LIMIT_RAFT_VOTERS];
    size_t n = 0;
    for (size_t i = 0; i < r->nprogress; i++) {
        const struct raft_progress *p = &r->progress[i];
        if (!p->voter)
            continue;
        match[n++] = p->id == r->cfg.id ? r->stable : p->match;
    }
    ASSERT(n == r->cfg.nvoters);
    qsort(match, n, sizeof(match[0]), raft_cmp_desc);
    uint64_t candidate = match[raft_majority(r) - 1];
    uint64_t term;
    /* Raft §5.4.2: only an entry of the leader's own term commits by
     * counting replicas; earlier ones commit with it. */
    if (candidate > r->commit && raft_term_at(r, candidate, &term) && term == r->term) {
        r->commit = candidate;
        raft_leader_wake_parked(r, false);
    }
}

/* ---- inputs ------------------------------------------------------------------- */

void raft_tick(struct raft *r)
{
    r->ticks++;
    if (r->role == RAFT_LEADER) {
        size_t live = 0;
        for (size_t i = 0; i < r->nprogress; i++) {
            struct raft_progress *p = &r->progress[i];
            if (!p->voter)
                continue;
            if (p->id == r->cfg.id || r->ticks - p->last_fetch_tick < r->cfg.fetch_timeout_ticks)
                live++;
            /* Announce the leadership to voters that have not fetched in
             * it, or not for a while (restarted, they may not know). */
            bool quiet = !p->fetched || r->ticks - p->last_fetch_tick >= r->cfg.election_ticks;
            if (p->id != r->cfg.id && quiet &&
                r->ticks - p->begin_sent_tick >= r->cfg.heartbeat_ticks)
                raft_send_begin_epoch(r, p);
        }
        /* Check-quorum: a leader a majority no longer fetches from may be
         * cut off; it resigns so that clients look for the real one. */
        if (live < raft_majority(r)) {
            raft_become_follower(r, r->term, RAFT_NONE);
            return;
        }
        if (r->transfer_to != RAFT_NONE &&
            r->ticks - r->transfer_tick >= r->cfg.election_ticks)
            r->transfer_to = RAFT_NONE;
        raft_leader_wake_parked(r, true);
        return;
    }
    r->election_elapsed++;
    if (r->election_elapsed >= r->election_timeout) {
        if (r->voter) {
            raft_start_pre_vote(r);
            return;
        }
        /* An observer does not stand; it stops waiting on a leader that
         * went quiet and asks the voters who leads now. */
        r->leader = RAFT_NONE;
        r->fetch_inflight = false;
        raft_abort_download(r);
        raft_reset_election_timer(r);
    }
    raft_follower_maybe_fetch(r);
}

static bool raft_msg_sane(const struct raft *r, const struct raft_msg *m)
{
    if (m->to != r->cfg.id || m->from == r->cfg.id || m->from < 0)
        return false;
    if (m->nentries > 0 && m->entries == NULL)
        return false;
    if (m->chunk_len > 0 && m->chunk == NULL)
        return false;
    return m->type >= RAFT_MSG_VOTE_REQ && m->type <= RAFT_MSG_TIMEOUT_NOW;
}

/* The leader a message of a higher term names: its sender when only a
 * leader sends it, else the sender's own belief. */
static int32_t raft_msg_leader(const struct raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_BEGIN_EPOCH:
    case RAFT_MSG_SNAPSHOT_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        return m->from;
    case RAFT_MSG_FETCH_RESP:
        return m->status == RAFT_FETCH_NOT_LEADER ? m->leader : m->from;
    default:
        return m->leader;
    }
}

static void raft_reply_stale(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {.to = m->from, .term = r->term, .leader = r->leader};
    if (m->type == RAFT_MSG_VOTE_REQ) {
        resp.type = RAFT_MSG_VOTE_RESP;
        resp.pre_vote = m->pre_vote;
        resp.granted = false;
    } else if (m->type == RAFT_MSG_FETCH_REQ || m->type == RAFT_MSG_SNAPSHOT_REQ) {
        resp.type = RAFT_MSG_FETCH_RESP;
        resp.status = RAFT_FETCH_NOT_LEADER;
        resp.fetch_index = m->fetch_index;
        resp.fetch_prev_term = m->fetch_prev_term;
    } else if (m->type == RAFT_MSG_BEGIN_EPOCH || m->type == RAFT_MSG_SNAPSHOT_RESP ||
               (m->type == RAFT_MSG_FETCH_RESP && m->status != RAFT_FETCH_NOT_LEADER)) {
        /* A leader of an older term. This node's term moved on while it was
         * cut off; pre-vote and the lease keep it from raising the others'
         * term by standing, so it must tell the leader, or it could never
         * rejoin (the same reasoning as etcd-raft's). The leader steps down
         * and the next election happens in this node's term. */
        resp.type = RAFT_MSG_FETCH_RESP;
        resp.status = RAFT_FETCH_NOT_LEADER;
        resp.leader = RAFT_NONE;
    } else {
        return; /* a stale answer: dropped */
    }
    (void)raft_send(r, &resp);
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    if (!raft_msg_sane(r, m))
        return RILL_OK;
    if (m->term < r->term) {
        raft_reply_stale(r, m);
        return RILL_OK;
    }
    if (m->term > r->term) {
        if (m->type == RAFT_MSG_VOTE_REQ) {
            /* Handled there: a pre-vote changes nothing, a vote within the
             * lease is refused without taking the term. */
            raft_recv_vote_req(r, m);
            return RILL_OK;
        }
        if (m->type == RAFT_MSG_VOTE_RESP && m->pre_vote && m->granted) {
            raft_recv_vote_resp(r, m);
            return RILL_OK;
        }
        int32_t leader = raft_msg_leader(m);
        if (leader != RAFT_NONE && !raft_is_voter(r, leader))
            leader = RAFT_NONE; /* only voters lead */
        raft_become_follower(r, m->term, leader);
    }
    switch (m->type) {
    case RAFT_MSG_VOTE_REQ:
        raft_recv_vote_req(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        raft_recv_vote_resp(r, m);
        break;
    case RAFT_MSG_BEGIN_EPOCH:
        raft_recv_begin_epoch(r, m);
        break;
    case RAFT_MSG_FETCH_REQ:
        raft_recv_fetch_req(r, m);
        break;
    case RAFT_MSG_FETCH_RESP:
        raft_recv_fetch_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_REQ:
        raft_recv_snapshot_req(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        raft_recv_snapshot_resp(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft_recv_timeout_now(r, m);
        break;
    default:
        break;
    }
    raft_follower_maybe_fetch(r);
    return RILL_OK;
}

int raft_propose(struct raft *r, const uint8_t *data, size_t len, uint64_t *index)
{
    if (r->role != RAFT_LEADER || r->transfer_to != RAFT_NONE)
        return RILL_ERR_AGAIN;
    struct raft_entry e = {.index = raft_last_index(r) + 1, .term = r->term,
                           .type = RAFT_ENTRY_DATA, .data = (uint8_t *)data, .len = len};
    int rc = raft_log_append(r, &e);
    if (rc != 0)
        return rc;
    *index = e.index;
    raft_leader_wake_parked(r, false);
    return RILL_OK;
}

int raft_campaign(struct raft *r)
{
    if (!r->voter || r->role == RAFT_LEADER)
        return RILL_ERR_AGAIN;
    raft_start_pre_vote(r);
    return RILL_OK;
}

int raft_leader_gone(struct raft *r, int32_t id)
{
    if (r->role != RAFT_FOLLOWER || r->leader == RAFT_NONE || r->leader != id)
        return RILL_ERR_AGAIN;
    r->leader_contact = false;
    uint32_t window = r->cfg.election_ticks / 4 > 0 ? r->cfg.election_ticks / 4 : 1;
    r->election_elapsed = 0;
    r->election_timeout = 1 + raft_random(r) % window;
    return RILL_OK;
}

int raft_transfer_leadership(struct raft *r, int32_t to)
{
    if (r->role != RAFT_LEADER || to == r->cfg.id)
        return RILL_ERR_AGAIN;
    struct raft_progress *best = NULL;
    for (size_t i = 0; i < r->nprogress; i++) {
        struct raft_progress *p = &r->progress[i];
        if (!p->voter || p->id == r->cfg.id || (to != RAFT_NONE && p->id != to))
            continue;
        if (best == NULL || p->match > best->match)
            best = p;
    }
    if (best == NULL)
        return RILL_ERR_AGAIN;
    r->transfer_to = best->id;
    r->transfer_tick = r->ticks;
    if (best->match == raft_last_index(r)) {
        struct raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = best->id, .term = r->term,
                             .leader = r->cfg.id};
        (void)raft_send(r, &m);
    }
    return RILL_OK;
}

int raft_compact(struct raft *r, uint64_t index, const uint8_t *data, size_t len)
{
    uint64_t term;
    if (index <= r->snap.index || index > r->applied || !raft_term_at(r, index, &term))
        return RILL_ERR_INVALID;
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL)
            return RILL_ERR_NOMEM;
        memcpy(copy, data, len);
    }
    raft_log_drop_through(r, index);
    free(r->snap.data);
    r->snap = (struct raft_snapshot){.index = index, .term = term, .data = copy, .len = len};
    return RILL_OK;
}

/* ---- ready / advance ---------------------------------------------------------- */

bool raft_has_ready(const struct raft *r)
{
    return r->nout > 0 || r->term != r->hs_given.term || r->voted_for != r->hs_given.voted_for ||
           r->stable < raft_last_index(r) || r->truncate_from != 0 || r->snap_new ||
           r->applied < r->commit;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
    memset(rd, 0, sizeof(*rd));
    rd->hard_state = (struct raft_hard_state){r->term, r->voted_for, r->commit};
    rd->hard_state_changed =
        r->term != r->hs_given.term || r->voted_for != r->hs_given.voted_for;
    rd->truncate_from = r->truncate_from;
    if (r->snap_new)
        rd->snapshot = &r->snap;
    /* Copies of the entry headers (their data stays the log's and is not
     * freed before raft_advance), so that proposals made before the
     * advance, which may move the log array, leave the ready intact. */
    if (r->stable < raft_last_index(r)) {
        uint64_t first = r->stable + 1;
        ASSERT(first > r->snap.index);
        size_t n = (size_t)(raft_last_index(r) - r->stable);
        r->given_entries = malloc(n * sizeof(*r->given_entries));
        if (r->given_entries != NULL) {
            memcpy(r->given_entries, &r->log[first - r->snap.index - 1],
                   n * sizeof(*r->given_entries));
            rd->entries = r->given_entries;
            rd->nentries = n;
        }
    }
    rd->msgs = r->out;
    rd->nmsgs = r->nout;
    uint64_t from = r->applied + 1;
    if (r->snap_new)
        from = r->snap.index + 1;
    if (r->commit >= from) {
        ASSERT(from > r->snap.index);
        size_t n = (size_t)(r->commit - from + 1);
        r->given_committed = malloc(n * sizeof(*r->given_committed));
        if (r->given_committed != NULL) {
            memcpy(r->given_committed, &r->log[from - r->snap.index - 1],
                   n * sizeof(*r->given_committed));
            rd->committed = r->given_committed;
            rd->ncommitted = n;
        }
    }
    /* The outbox now belongs to this ready; new messages start afresh. */
    r->given_msgs = r->out;
    r->ngiven_msgs = r->nout;
    r->out = NULL;
    r->nout = r->capout = 0;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    ASSERT(rd->msgs == r->given_msgs);
    raft_free_msgs((struct raft_msg *)r->given_msgs, r->ngiven_msgs);
    free((void *)r->given_msgs);
    r->given_msgs = NULL;
    r->ngiven_msgs = 0;
    r->hs_given = rd->hard_state;
    r->truncate_from = 0;
    if (rd->snapshot != NULL) {
        r->snap_new = false;
        if (r->applied < r->snap.index)
            r->applied = r->snap.index;
        if (r->stable < r->snap.index)
            r->stable = r->snap.index;
    }
    if (rd->nentries > 0)
        r->stable = rd->entries[rd->nentries - 1].index;
    if (rd->ncommitted > 0) {
        uint64_t last = rd->committed[rd->ncommitted - 1].index;
        ASSERT(last <= r->commit && last > r->applied);
        r->applied = last;
    }
    free(r->given_entries);
    free(r->given_committed);
    r->given_entries = r->given_committed = NULL;
    /* The leader's own entries count toward commit once durable. */
    raft_leader_maybe_commit(r);
}

/* ---- views ------------------------------------------------------------------- */

void raft_status(const struct raft *r, struct raft_status *st)
{
    *st = (struct raft_status){.id = r->cfg.id,
                               .role = r->role,
                               .voter = r->voter,
                               .term = r->term,
                               .leader = r->leader,
                               .voted_for = r->voted_for,
                               .commit = r->commit,
                               .applied = r->applied,
                               .first_index = r->snap.index + 1,
                               .last_index = raft_last_index(r),
                               .last_term = raft_last_term(r),
                               .snap_index = r->snap.index,
                               .snap_term = r->snap.term};
}

size_t raft_replicas(const struct raft *r, struct raft_replica_status *out, size_t max)
{
    if (r->role != RAFT_LEADER)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < r->nprogress && n < max; i++) {
        const struct raft_progress *p = &r->progress[i];
        out[n++] = (struct raft_replica_status){
            .id = p->id,
            .voter = p->voter,
            .match_index = p->id == r->cfg.id ? r->stable : p->match,
            .last_fetch_tick = p->id == r->cfg.id ? r->ticks : p->last_fetch_tick};
    }
    return n;
}

uint64_t raft_ticks(const struct raft *r)
{
    return r->ticks;
}
