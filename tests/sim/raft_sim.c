/* Deterministic simulation of a Raft cluster (raft/): voters and observers
 * in one process over a simulated network, clock and disk, all driven by
 * one seed.
 *
 * Safety phase: the simulator delivers messages late, out of order, twice
 * or never; cuts links (one direction or both); crashes nodes in the middle
 * of persisting a ready (a torn append, a hard state or snapshot not yet
 * renamed into place: whatever was not fsynced is lost) and restarts them
 * from what their disk holds; proposes, compacts and transfers leadership.
 * After every step it checks:
 *   - election safety: at most one leader per term, ever;
 *   - log matching: where two logs hold the same index and term, they hold
 *     the same entries up to there;
 *   - state-machine safety: every node applies the same entry (and the same
 *     snapshot state) at each index;
 *   - leader completeness: a new leader holds every entry applied anywhere;
 *   - commit and applied never go back on a running node.
 * Liveness phase: the network heals and every node restarts; within a
 * bounded number of ticks one leader must be elected and a new entry
 * applied on every node.
 *
 * Usage: raft-sim [--seeds N] [--first S] [--steps K] [--verbose] [--trace ID]
 * A failure prints its seed; `--first SEED --seeds 1` replays it exactly. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

#define SIM_MAX_NODES 7
#define SIM_SNAPSHOT_BYTES 40 /* index, state hash, filler: several chunks */

static int sim_verbose;
static int32_t sim_trace = -1; /* a node whose messages are printed */

struct sim_rng {
    uint64_t s;
};

static uint64_t sim_next(struct sim_rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t sim_below(struct sim_rng *g, uint64_t n)
{
    return n == 0 ? 0 : sim_next(g) % n;
}

static bool sim_chance(struct sim_rng *g, unsigned per_mille)
{
    return sim_below(g, 1000) < per_mille;
}

/* What a node's disk holds: durable state only. */
struct sim_disk {
    struct raft_hard_state hs;
    struct raft_snapshot snap;
    struct raft_entry *log;
    size_t nlog, caplog;
};

struct sim_node {
    int32_t id;
    struct raft *raft;
    bool up;
    struct sim_disk disk;
    uint64_t applied;       /* the state machine's position */
    uint64_t state;         /* hash chain over what it applied */
    uint64_t last_commit;   /* for monotonicity while up */
    enum raft_role last_role;
};

struct sim_msg {
    struct raft_msg m;
    uint64_t deliver_at;
};

/* The history the invariants compare against, across all nodes. */
struct sim_history {
    int32_t *leader_of_term; /* index: term */
    size_t nterms;
    uint64_t *term_at;       /* index: log index; 0 unknown */
    uint64_t *state_at;      /* the hash chain after applying that index */
    size_t nindex;
    uint64_t applied_max;
};

struct sim {
    struct sim_rng rng;
    uint64_t seed;
    size_t nnodes, nvoters;
    int32_t voters[SIM_MAX_NODES];
    struct sim_node nodes[SIM_MAX_NODES];
    struct sim_msg *msgs;
    size_t nmsgs, capmsgs;
    bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* cut[a][b]: a's messages to b are lost */
    uint64_t now;
    unsigned drop_pm, dup_pm, max_delay;
    uint64_t step, steps;
    struct sim_history hist;
    uint64_t proposals;
    bool failed;
};

static void sim_fail(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "raft-sim: seed %" PRIu64 " failed at step %" PRIu64 " (tick %" PRIu64 "): ",
            s->seed, s->step, s->now);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n  replay: raft-sim --first %" PRIu64 " --seeds 1 --steps %" PRIu64
                    " --verbose --trace ID\n", s->seed, s->steps);
    va_end(ap);
    s->failed = true;
}

static void *sim_xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "raft-sim: out of memory\n");
        exit(2);
    }
    return p;
}

static uint64_t sim_hash(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    h ^= 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- the disk ---------------------------------------------------------- */

static void disk_truncate(struct sim_disk *d, uint64_t from)
{
    while (d->nlog > 0 && d->log[d->nlog - 1].index >= from) {
        d->nlog--;
        free(d->log[d->nlog].data);
    }
}

static void disk_append(struct sim_disk *d, const struct raft_entry *e)
{
    if (d->nlog > 0 && d->log[d->nlog - 1].index >= e->index)
        disk_truncate(d, e->index);
    if (d->nlog == d->caplog) {
        d->caplog = d->caplog ? d->caplog * 2 : 64;
        d->log = realloc(d->log, d->caplog * sizeof(*d->log));
        if (d->log == NULL)
            exit(2);
    }
    struct raft_entry c = *e;
    c.data = NULL;
    if (e->len > 0) {
        c.data = sim_xalloc(e->len);
        memcpy(c.data, e->data, e->len);
    }
    d->log[d->nlog++] = c;
}

static void disk_set_snapshot(struct sim_disk *d, const struct raft_snapshot *snap, bool whole)
{
    free(d->snap.data);
    d->snap = *snap;
    d->snap.data = sim_xalloc(snap->len);
    memcpy(d->snap.data, snap->data, snap->len);
    size_t keep = 0;
    for (size_t i = 0; i < d->nlog; i++) {
        if (!whole && d->log[i].index > snap->index)
            d->log[keep++] = d->log[i];
        else
            free(d->log[i].data);
    }
    d->nlog = keep;
}

static void disk_free(struct sim_disk *d)
{
    disk_truncate(d, 0);
    free(d->log);
    free(d->snap.data);
    memset(d, 0, sizeof(*d));
}

/* ---- nodes --------------------------------------------------------------- */

static void sim_node_start(struct sim *s, struct sim_node *n)
{
    struct raft_config cfg = {.id = n->id,
                              .voters = s->voters,
                              .nvoters = s->nvoters,
                              .election_ticks = 10,
                              .fetch_timeout_ticks = 20,
                              .heartbeat_ticks = 3,
                              .request_timeout_ticks = 6,
                              .max_fetch_bytes = 24,
                              .max_snapshot_chunk_bytes = 16,
                              .seed = sim_next(&s->rng)};
    int rc = raft_create(&cfg, &n->disk.hs, &n->disk.snap, n->disk.log, n->disk.nlog, &n->raft);
    if (rc != 0) {
        sim_fail(s, "node %d cannot restart from its disk: %d", n->id, rc);
        return;
    }
    n->up = true;
    /* The state machine restarts from the snapshot and re-applies. */
    n->applied = n->disk.snap.index;
    n->state = 0;
    if (n->disk.snap.index > 0)
        memcpy(&n->state, n->disk.snap.data + 8, 8);
    n->last_commit = 0;
    n->last_role = RAFT_FOLLOWER;
}

static void sim_node_crash(struct sim_node *n)
{
    raft_free(n->raft);
    n->raft = NULL;
    n->up = false;
}

static void sim_send(struct sim *s, const struct raft_msg *m)
{
    if (m->to < 1 || (size_t)m->to > s->nnodes)
        return;
    if (s->cut[m->from - 1][m->to - 1] || sim_chance(&s->rng, s->drop_pm))
        return;
    int copies = sim_chance(&s->rng, s->dup_pm) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        if (s->nmsgs == s->capmsgs) {
            s->capmsgs = s->capmsgs ? s->capmsgs * 2 : 64;
            s->msgs = realloc(s->msgs, s->capmsgs * sizeof(*s->msgs));
            if (s->msgs == NULL)
                exit(2);
        }
        struct sim_msg *sm = &s->msgs[s->nmsgs++];
        if (raft_msg_copy(&sm->m, m) != 0) {
            fprintf(stderr, "raft-sim: out of memory\n");
            exit(2);
        }
        sm->deliver_at = s->now + 1 + sim_below(&s->rng, s->max_delay);
    }
}

static void sim_msg_free(struct sim_msg *sm)
{
    raft_msg_free(&sm->m);
}

static void hist_grow(struct sim_history *h, uint64_t index)
{
    if (index < h->nindex)
        return;
    size_t n = h->nindex ? h->nindex : 64;
    while (n <= index)
        n *= 2;
    h->term_at = realloc(h->term_at, n * sizeof(*h->term_at));
    h->state_at = realloc(h->state_at, n * sizeof(*h->state_at));
    if (h->term_at == NULL || h->state_at == NULL)
        exit(2);
    memset(h->term_at + h->nindex, 0, (n - h->nindex) * sizeof(*h->term_at));
    memset(h->state_at + h->nindex, 0, (n - h->nindex) * sizeof(*h->state_at));
    h->nindex = n;
}

/* State-machine safety: the first node to apply an index fixes what is
 * there; every other must agree. */
static void sim_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
    if (e->index != n->applied + 1) {
        sim_fail(s, "node %d applied index %" PRIu64 " after %" PRIu64, n->id, e->index,
                 n->applied);
        return;
    }
    uint64_t fields[2] = {e->term, e->type};
    n->state = sim_hash(sim_hash(n->state, fields, sizeof(fields)), e->data, e->len);
    n->applied = e->index;
    struct sim_history *h = &s->hist;
    hist_grow(h, e->index);
    if (h->term_at[e->index] == 0) {
        h->term_at[e->index] = e->term;
        h->state_at[e->index] = n->state;
        if (e->index > h->applied_max)
            h->applied_max = e->index;
    } else if (h->term_at[e->index] != e->term || h->state_at[e->index] != n->state) {
        sim_fail(s, "state-machine safety: node %d applied term %" PRIu64 " at index %" PRIu64
                    ", another node term %" PRIu64 " (or a different state)",
                 n->id, e->term, e->index, h->term_at[e->index]);
    }
}

static void sim_apply_snapshot(struct sim *s, struct sim_node *n, const struct raft_snapshot *sn)
{
    uint64_t index, state;
    memcpy(&index, sn->data, 8);
    memcpy(&state, sn->data + 8, 8);
    if (index != sn->index || sn->len != SIM_SNAPSHOT_BYTES) {
        sim_fail(s, "node %d got a snapshot whose bytes do not match its id", n->id);
        return;
    }
    struct sim_history *h = &s->hist;
    hist_grow(h, index);
    if (h->term_at[index] == 0 || h->state_at[index] != state) {
        sim_fail(s, "state-machine safety: node %d installed a snapshot at %" PRIu64
                    " that no node applied the same way",
                 n->id, index);
        return;
    }
    n->applied = index;
    n->state = state;
}

/* Runs the driver's side of a ready. crash_at > 0 crashes the node part
 * way through persisting it: 1 before anything, 2 after the hard state and
 * a torn part of the entries, 3 after everything but before the messages. */
static void sim_process(struct sim *s, struct sim_node *n, int crash_at)
{
    while (n->up && raft_has_ready(n->raft)) {
        struct raft_ready rd;
        raft_ready(n->raft, &rd);
        struct sim_disk *d = &n->disk;
        /* Proposals may arrive while the ready is being persisted. */
        if (sim_chance(&s->rng, 100)) {
            uint8_t data[4] = {(uint8_t)sim_next(&s->rng), 1, 2, 3};
            uint64_t index;
            if (raft_propose(n->raft, data, sizeof(data), &index) == 0)
                s->proposals++;
        }
        if (crash_at == 1) {
            sim_node_crash(n);
            return;
        }
        /* The hard state file is replaced atomically, first: entries of a
         * term must never be on disk without that term. commit may lag. */
        d->hs = rd.hard_state;
        if (rd.truncate_from > 0)
            disk_truncate(d, rd.truncate_from);
        if (rd.snapshot != NULL)
            disk_set_snapshot(d, rd.snapshot, true);
        size_t upto = rd.nentries;
        if (crash_at == 2 && upto > 0)
            upto = (size_t)sim_below(&s->rng, upto);
        for (size_t i = 0; i < upto; i++)
            disk_append(d, &rd.entries[i]);
        if (crash_at == 2 || crash_at == 3) {
            sim_node_crash(n);
            return;
        }
        for (size_t i = 0; i < rd.nmsgs; i++)
            sim_send(s, &rd.msgs[i]);
        if (rd.snapshot != NULL)
            sim_apply_snapshot(s, n, rd.snapshot);
        for (size_t i = 0; i < rd.ncommitted && !s->failed; i++)
            sim_apply(s, n, &rd.committed[i]);
        raft_advance(n->raft, &rd);
    }
}

/* ---- invariants ----------------------------------------------------------- */

static void sim_check(struct sim *s)
{
    struct sim_history *h = &s->hist;
    for (size_t i = 0; i < s->nnodes && !s->failed; i++) {
        struct sim_node *n = &s->nodes[i];
        if (!n->up)
            continue;
        struct raft_status st;
        raft_status(n->raft, &st);
        if (st.commit < n->last_commit)
            sim_fail(s, "node %d's commit went back from %" PRIu64 " to %" PRIu64, n->id,
                     n->last_commit, st.commit);
        n->last_commit = st.commit;
        if (st.role == RAFT_LEADER) {
            if (!st.voter) {
                sim_fail(s, "observer %d leads", n->id);
                return;
            }
            if (st.term >= h->nterms) {
                size_t nt = h->nterms ? h->nterms : 16;
                while (nt <= st.term)
                    nt *= 2;
                h->leader_of_term = realloc(h->leader_of_term, nt * sizeof(int32_t));
                if (h->leader_of_term == NULL)
                    exit(2);
                for (size_t t = h->nterms; t < nt; t++)
                    h->leader_of_term[t] = -1;
                h->nterms = nt;
            }
            int32_t *who = &h->leader_of_term[st.term];
            if (*who != -1 && *who != n->id) {
                sim_fail(s, "election safety: nodes %d and %d both lead term %" PRIu64, *who,
                         n->id, st.term);
                return;
            }
            *who = n->id;
            if (n->last_role != RAFT_LEADER) {
                /* Leader completeness: everything applied anywhere is in
                 * the new leader's log. */
                for (uint64_t k = st.snap_index + 1; k <= h->applied_max; k++) {
                    const struct raft_entry *e = raft_entry_at(n->raft, k);
                    if (e == NULL || e->term != h->term_at[k]) {
                        sim_fail(s, "leader completeness: leader %d of term %" PRIu64
                                    " lacks applied index %" PRIu64,
                                 n->id, st.term, k);
                        return;
                    }
                }
                if (st.snap_index > 0 && st.snap_index <= h->applied_max &&
                    h->term_at[st.snap_index] != st.snap_term)
                    sim_fail(s, "leader completeness: leader %d's snapshot disagrees", n->id);
            }
        }
        n->last_role = st.role;
    }
    /* Log matching, pairwise over the indexes both logs hold. */
    for (size_t a = 0; a < s->nnodes && !s->failed; a++) {
        if (!s->nodes[a].up)
            continue;
        struct raft_status sa;
        raft_status(s->nodes[a].raft, &sa);
        for (size_t b = a + 1; b < s->nnodes && !s->failed; b++) {
            if (!s->nodes[b].up)
                continue;
            struct raft_status sb;
            raft_status(s->nodes[b].raft, &sb);
            uint64_t lo = sa.first_index > sb.first_index ? sa.first_index : sb.first_index;
            uint64_t hi = sa.last_index < sb.last_index ? sa.last_index : sb.last_index;
            uint64_t top = 0;
            for (uint64_t k = hi; k >= lo && k > 0; k--) {
                const struct raft_entry *x = raft_entry_at(s->nodes[a].raft, k);
                const struct raft_entry *y = raft_entry_at(s->nodes[b].raft, k);
                if (x->term == y->term) {
                    top = k;
                    break;
                }
            }
            for (uint64_t k = lo; k <= top; k++) {
                const struct raft_entry *x = raft_entry_at(s->nodes[a].raft, k);
                const struct raft_entry *y = raft_entry_at(s->nodes[b].raft, k);
                if (x->term != y->term || x->type != y->type || x->len != y->len ||
                    (x->len > 0 && memcmp(x->data, y->data, x->len) != 0)) {
                    sim_fail(s, "log matching: nodes %d and %d agree at index %" PRIu64
                                " but differ at %" PRIu64,
                             s->nodes[a].id, s->nodes[b].id, top, k);
                    break;
                }
            }
        }
    }
}

/* ---- actions -------------------------------------------------------------- */

static struct sim_node *sim_leader(struct sim *s)
{
    struct sim_node *best = NULL;
    uint64_t best_term = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sim_node *n = &s->nodes[i];
        if (!n->up)
            continue;
        struct raft_status st;
        raft_status(n->raft, &st);
        if (st.role == RAFT_LEADER && st.term >= best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

static void sim_tick(struct sim *s)
{
    s->now++;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sim_node *n = &s->nodes[i];
        if (!n->up)
            continue;
        raft_tick(n->raft);
        sim_process(s, n, 0);
    }
}

/* Delivers one due message, picked at random among the due ones (so
 * messages overtake each other). Returns false when none is due. */
static bool sim_deliver(struct sim *s, int crash_at)
{
    size_t due[256], ndue = 0;
    for (size_t i = 0; i < s->nmsgs && ndue < 256; i++)
        if (s->msgs[i].deliver_at <= s->now)
            due[ndue++] = i;
    if (ndue == 0)
        return false;
    size_t k = due[sim_below(&s->rng, ndue)];
    struct sim_msg sm = s->msgs[k];
    s->msgs[k] = s->msgs[--s->nmsgs];
    struct sim_node *n = &s->nodes[sm.m.to - 1];
    if (sim_trace == sm.m.to || sim_trace == sm.m.from)
        fprintf(stderr,
                "tick %" PRIu64 ": %d -> %d type %d term %" PRIu64 " status %d fetch %" PRIu64
                "/%" PRIu64 " entries %zu commit %" PRIu64 " snap %" PRIu64 "+%" PRIu64
                "/%" PRIu64 " granted %d pre %d%s\n",
                s->now, sm.m.from, sm.m.to, sm.m.type, sm.m.term, sm.m.status, sm.m.fetch_index,
                sm.m.fetch_prev_term, sm.m.nentries, sm.m.commit, sm.m.snap_index,
                sm.m.snap_offset, sm.m.snap_size, sm.m.granted, sm.m.pre_vote,
                n->up ? "" : " (down)");
    if (n->up) {
        raft_step(n->raft, &sm.m);
        sim_process(s, n, crash_at);
    }
    sim_msg_free(&sm);
    return true;
}

static void sim_propose(struct sim *s)
{
    struct sim_node *n = sim_leader(s);
    if (n == NULL)
        return;
    uint8_t data[16];
    size_t len = 1 + sim_below(&s->rng, sizeof(data));
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)sim_next(&s->rng);
    uint64_t index;
    if (raft_propose(n->raft, data, len, &index) == 0)
        s->proposals++;
    sim_process(s, n, 0);
}

static void sim_compact(struct sim *s, struct sim_node *n)
{
    struct raft_status st;
    raft_status(n->raft, &st);
    if (n->applied <= st.snap_index + 2)
        return;
    uint64_t at = st.snap_index + 1 + sim_below(&s->rng, n->applied - st.snap_index);
    if (at > n->applied)
        at = n->applied;
    /* The state at `at` is in the history (this node applied it). */
    uint8_t data[SIM_SNAPSHOT_BYTES] = {0};
    memcpy(data, &at, 8);
    memcpy(data + 8, &s->hist.state_at[at], 8);
    if (raft_compact(n->raft, at, data, sizeof(data)) != 0) {
        sim_fail(s, "node %d cannot compact at %" PRIu64, n->id, at);
        return;
    }
    uint64_t term = 0;
    for (size_t i = 0; i < n->disk.nlog; i++)
        if (n->disk.log[i].index == at)
            term = n->disk.log[i].term;
    if (term == 0)
        return; /* not durable here yet: the disk keeps its log */
    struct raft_snapshot snap = {.index = at, .term = term, .data = data, .len = sizeof(data)};
    disk_set_snapshot(&n->disk, &snap, false);
}

static void sim_random_cut(struct sim *s)
{
    size_t a = sim_below(&s->rng, s->nnodes), b = sim_below(&s->rng, s->nnodes);
    if (a == b)
        return;
    bool both = sim_chance(&s->rng, 500);
    s->cut[a][b] = true;
    if (both)
        s->cut[b][a] = true;
}

static void sim_heal(struct sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
}

static void sim_isolate(struct sim *s, size_t a)
{
    for (size_t b = 0; b < s->nnodes; b++)
        if (b != a)
            s->cut[a][b] = s->cut[b][a] = true;
}

/* Tells every running node that node `gone` is gone, as the broker does
 * when its address refuses connections (raft_leader_gone); the hint may be
 * wrong (the node runs), which must cost nothing but time. */
static void sim_hint_gone(struct sim *s, size_t gone)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sim_node *n = &s->nodes[i];
        if (i == gone || !n->up)
            continue;
        if (raft_leader_gone(n->raft, (int32_t)gone + 1) == 0)
            sim_process(s, n, 0);
    }
}

static void sim_chaos_step(struct sim *s)
{
    uint64_t roll = sim_below(&s->rng, 1000);
    size_t pick = sim_below(&s->rng, s->nnodes);
    struct sim_node *n = &s->nodes[pick];
    if (roll < 420) {
        int crash_at = sim_chance(&s->rng, 15) ? 1 + (int)sim_below(&s->rng, 3) : 0;
        if (!sim_deliver(s, crash_at))
            sim_tick(s);
    } else if (roll < 720) {
        sim_tick(s);
    } else if (roll < 850) {
        sim_propose(s);
    } else if (roll < 870) {
        if (n->up) {
            sim_node_crash(n);
            if (sim_chance(&s->rng, 500))
                sim_hint_gone(s, pick);
        }
    } else if (roll < 910) {
        if (!n->up)
            sim_node_start(s, n);
    } else if (roll < 930) {
        sim_random_cut(s);
    } else if (roll < 940) {
        sim_isolate(s, pick);
    } else if (roll < 960) {
        sim_heal(s);
    } else if (roll < 985) {
        if (n->up)
            sim_compact(s, n);
    } else if (roll < 995) {
        struct sim_node *l = sim_leader(s);
        if (l != NULL) {
            (void)raft_transfer_leadership(l->raft, RAFT_NONE);
            sim_process(s, l, 0);
        }
    } else {
        sim_hint_gone(s, pick); /* wrong unless that node is down */
    }
}

/* ---- one run ---------------------------------------------------------------- */

static void sim_free(struct sim *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        raft_free(s->nodes[i].raft);
        disk_free(&s->nodes[i].disk);
    }
    for (size_t i = 0; i < s->nmsgs; i++)
        sim_msg_free(&s->msgs[i]);
    free(s->msgs);
    free(s->hist.leader_of_term);
    free(s->hist.term_at);
    free(s->hist.state_at);
}

/* Heals everything and checks that the cluster elects a leader and
 * applies a new entry everywhere within a bound. */
static void sim_liveness(struct sim *s)
{
    sim_heal(s);
    s->drop_pm = s->dup_pm = 0;
    s->max_delay = 2;
    for (size_t i = 0; i < s->nnodes; i++)
        if (!s->nodes[i].up)
            sim_node_start(s, &s->nodes[i]);
    const uint64_t bound_ticks = 400;
    uint64_t start = s->now, target = 0, target_term = 0;
    while (!s->failed && s->now - start < bound_ticks) {
        while (sim_deliver(s, 0))
            sim_check(s);
        struct sim_node *l = sim_leader(s);
        if (l != NULL && target != 0) {
            /* A leader of a later term may not have it (never committed). */
            const struct raft_entry *e = raft_entry_at(l->raft, target);
            struct raft_status st;
            raft_status(l->raft, &st);
            if (target > st.snap_index && (e == NULL || e->term != target_term))
                target = 0;
        }
        if (l != NULL && target == 0) {
            uint8_t data[] = "liveness";
            if (raft_propose(l->raft, data, sizeof(data), &target) != 0)
                target = 0;
            else
                target_term = raft_entry_at(l->raft, target)->term;
            sim_process(s, l, 0);
        }
        if (target != 0) {
            bool all = true;
            for (size_t i = 0; i < s->nnodes; i++)
                all = all && s->nodes[i].applied >= target;
            if (all)
                return;
        }
        sim_tick(s);
        sim_check(s);
    }
    for (size_t i = 0; i < s->nnodes && !s->failed; i++) {
        struct raft_status st;
        raft_status(s->nodes[i].raft, &st);
        fprintf(stderr,
                "  node %d: role %d voter %d term %" PRIu64 " leader %d commit %" PRIu64
                " applied %" PRIu64 " log %" PRIu64 "..%" PRIu64 " (last term %" PRIu64
                ") snap %" PRIu64 "/%" PRIu64 "\n",
                st.id, st.role, st.voter, st.term, st.leader, st.commit, s->nodes[i].applied,
                st.first_index, st.last_index, st.last_term, st.snap_index, st.snap_term);
    }
    if (!s->failed)
        sim_fail(s, "liveness: no entry applied on every node within %" PRIu64
                    " ticks of healing (leader: %s, target index %" PRIu64 ")",
                 bound_ticks, sim_leader(s) ? "yes" : "none", target);
}

static bool sim_run(uint64_t seed, uint64_t steps)
{
    struct sim s;
    memset(&s, 0, sizeof(s));
    s.seed = seed;
    s.steps = steps;
    s.rng.s = seed * 0x2545f4914f6cdd1dull + 1;
    /* 1, 3 or 5 voters, sometimes an observer or two. */
    static const size_t voter_choices[] = {3, 3, 3, 5, 5, 1};
    s.nvoters = voter_choices[sim_below(&s.rng, 6)];
    s.nnodes = s.nvoters + sim_below(&s.rng, 3);
    for (size_t i = 0; i < s.nvoters; i++)
        s.voters[i] = (int32_t)(i + 1);
    s.drop_pm = (unsigned)sim_below(&s.rng, 150);
    s.dup_pm = (unsigned)sim_below(&s.rng, 100);
    s.max_delay = 1 + (unsigned)sim_below(&s.rng, 8);
    for (size_t i = 0; i < s.nnodes; i++) {
        s.nodes[i].id = (int32_t)(i + 1);
        s.nodes[i].disk.hs.voted_for = RAFT_NONE;
        sim_node_start(&s, &s.nodes[i]);
    }
    for (s.step = 0; s.step < steps && !s.failed; s.step++) {
        sim_chaos_step(&s);
        sim_check(&s);
    }
    if (!s.failed)
        sim_liveness(&s);
    if (sim_verbose)
        fprintf(stderr,
                "seed %" PRIu64 ": %zu voters, %zu nodes, %" PRIu64 " proposals, applied %" PRIu64
                ", %" PRIu64 " ticks, %s\n",
                seed, s.nvoters, s.nnodes, s.proposals, s.hist.applied_max, s.now,
                s.failed ? "FAILED" : "ok");
    bool ok = !s.failed;
    sim_free(&s);
    return ok;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 10000, first = 1, steps = 1500;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            seeds = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--verbose") == 0)
            sim_verbose = 1;
        else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc)
            sim_trace = (int32_t)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: raft-sim [--seeds N] [--first S] [--steps K] [--verbose] "
                            "[--trace ID]\n");
            return 2;
        }
    }
    uint64_t failed = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++)
        if (!sim_run(seed, steps) && ++failed >= 5)
            break;
    if (failed > 0) {
        fprintf(stderr, "raft-sim: %" PRIu64 " failing seed(s)\n", failed);
        return 1;
    }
    printf("raft-sim: %" PRIu64 " seeds, %" PRIu64 " steps each: every invariant held, every "
           "run live after healing\n",
           seeds, steps);
    return 0;
}
