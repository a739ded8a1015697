/* Scripted Raft scenarios (raft/) with expected traces, in the manner of
 * etcd-raft's interaction tests: a small fault-free cluster in memory
 * whose every role, term and leader change is written to a trace, which
 * each test compares with the trace it expects. tests/sim covers the
 * random faults; these pin down the edge cases one by one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"
#include "raft/raft.h"
#include "tests/unit/unit.h"

#define RT_NODES 5

struct rt_entry_copy {
    struct raft_entry e;
};

struct rt_node {
    struct raft *raft;
    bool up;
    struct raft_hard_state hs;
    struct raft_snapshot snap;
    struct raft_entry *log;
    size_t nlog;
    uint64_t applied;
    struct raft_status last;
};

struct rt_msg {
    struct raft_msg m;
};

struct rt {
    int32_t voters[RT_NODES];
    size_t nvoters, nnodes;
    struct rt_node nodes[RT_NODES + 1]; /* by id, 1-based */
    struct rt_msg *q;
    size_t nq, capq;
    bool cut[RT_NODES + 1][RT_NODES + 1];
    char trace[8192];
    size_t tlen;
    uint64_t ticks;
};

static void rt_log(struct rt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rt_log(struct rt *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->trace + t->tlen, sizeof(t->trace) - t->tlen, fmt, ap);
    va_end(ap);
    if (n > 0 && t->tlen + (size_t)n < sizeof(t->trace))
        t->tlen += (size_t)n;
}

static const char *rt_role(enum raft_role r)
{
    static const char *const names[] = {"follower", "prospective", "candidate", "leader"};
    return names[r];
}

static void rt_start(struct rt *t, int32_t id)
{
    struct rt_node *n = &t->nodes[id];
    struct raft_config cfg = {.id = id,
                              .voters = t->voters,
                              .nvoters = t->nvoters,
                              /* n1 times out first ([5, 10) against [10, 20)),
                               * so that scripts know who leads first */
                              .election_ticks = id == 1 ? 5 : 10,
                              .fetch_timeout_ticks = 20,
                              .heartbeat_ticks = 3,
                              .request_timeout_ticks = 6,
                              .max_fetch_bytes = 1 << 20,
                              .max_snapshot_chunk_bytes = 4,
                              .seed = (uint64_t)id * 7919};
    ck_assert_int_eq(raft_create(&cfg, &n->hs, &n->snap, n->log, n->nlog, &n->raft), 0);
    n->up = true;
    n->applied = n->snap.index;
    raft_status(n->raft, &n->last);
}

static void rt_init(struct rt *t, size_t nvoters, size_t nnodes)
{
    memset(t, 0, sizeof(*t));
    t->nvoters = nvoters;
    t->nnodes = nnodes;
    for (size_t i = 0; i < nvoters; i++)
        t->voters[i] = (int32_t)(i + 1);
    for (size_t id = 1; id <= nnodes; id++) {
        t->nodes[id].hs.voted_for = RAFT_NONE;
        rt_start(t, (int32_t)id);
    }
}

static void rt_free(struct rt *t)
{
    for (size_t id = 1; id <= t->nnodes; id++) {
        struct rt_node *n = &t->nodes[id];
        raft_free(n->raft);
        for (size_t i = 0; i < n->nlog; i++)
            free(n->log[i].data);
        free(n->log);
        free(n->snap.data);
    }
    for (size_t i = 0; i < t->nq; i++)
        raft_msg_free(&t->q[i].m);
    free(t->q);
}

static void rt_note_changes(struct rt *t, int32_t id)
{
    struct rt_node *n = &t->nodes[id];
    struct raft_status st;
    raft_status(n->raft, &st);
    if (st.role != n->last.role || st.term != n->last.term || st.leader != n->last.leader)
        rt_log(t, "n%d %s t%llu L%d\n", id, rt_role(st.role), (unsigned long long)st.term,
               st.leader);
    if (st.snap_index != n->last.snap_index && st.snap_index > n->last.applied)
        rt_log(t, "n%d installed snapshot %llu\n", id, (unsigned long long)st.snap_index);
    n->last = st;
}

static void rt_process(struct rt *t, int32_t id)
{
    struct rt_node *n = &t->nodes[id];
    while (n->up && raft_has_ready(n->raft)) {
        struct raft_ready rd;
        raft_ready(n->raft, &rd);
        if (rd.hard_state_changed)
            n->hs = rd.hard_state;
        if (rd.truncate_from > 0) {
            while (n->nlog > 0 && n->log[n->nlog - 1].index >= rd.truncate_from)
                free(n->log[--n->nlog].data);
        }
        if (rd.snapshot != NULL) {
            for (size_t i = 0; i < n->nlog; i++)
                free(n->log[i].data);
            n->nlog = 0;
            free(n->snap.data);
            n->snap = *rd.snapshot;
            n->snap.data = malloc(rd.snapshot->len + 1);
            memcpy(n->snap.data, rd.snapshot->data, rd.snapshot->len);
            n->applied = rd.snapshot->index;
        }
        n->log = realloc(n->log, (n->nlog + rd.nentries + 1) * sizeof(*n->log));
        for (size_t i = 0; i < rd.nentries; i++) {
            struct raft_entry e = rd.entries[i];
            e.data = malloc(e.len + 1);
            if (e.len > 0)
                memcpy(e.data, rd.entries[i].data, e.len);
            n->log[n->nlog++] = e;
        }
        for (size_t i = 0; i < rd.nmsgs; i++) {
            const struct raft_msg *m = &rd.msgs[i];
            if (m->to < 1 || (size_t)m->to > t->nnodes || t->cut[m->from][m->to])
                continue;
            if (t->nq == t->capq) {
                t->capq = t->capq ? t->capq * 2 : 64;
                t->q = realloc(t->q, t->capq * sizeof(*t->q));
            }
            ck_assert_int_eq(raft_msg_copy(&t->q[t->nq++].m, m), 0);
        }
        for (size_t i = 0; i < rd.ncommitted; i++) {
            ck_assert_uint_eq(rd.committed[i].index, n->applied + 1);
            n->applied = rd.committed[i].index;
        }
        raft_advance(n->raft, &rd);
    }
    if (n->up)
        rt_note_changes(t, id);
}

/* Delivers every queued message (and what they cause), in order. */
static void rt_deliver_all(struct rt *t)
{
    for (int rounds = 0; t->nq > 0 && rounds < 10000; rounds++) {
        struct rt_msg m = t->q[0];
        memmove(t->q, t->q + 1, (t->nq - 1) * sizeof(*t->q));
        t->nq--;
        struct rt_node *n = &t->nodes[m.m.to];
        if (n->up && !t->cut[m.m.from][m.m.to]) {
            ck_assert_int_eq(raft_step(n->raft, &m.m), 0);
            rt_process(t, m.m.to);
        }
        raft_msg_free(&m.m);
    }
}

static void rt_tick(struct rt *t, int times)
{
    for (int i = 0; i < times; i++) {
        t->ticks++;
        for (size_t id = 1; id <= t->nnodes; id++) {
            if (!t->nodes[id].up)
                continue;
            raft_tick(t->nodes[id].raft);
            rt_process(t, (int32_t)id);
        }
        rt_deliver_all(t);
    }
}

static int32_t rt_leader(struct rt *t)
{
    for (size_t id = 1; id <= t->nnodes; id++)
        if (t->nodes[id].up && t->nodes[id].last.role == RAFT_LEADER)
            return (int32_t)id;
    return RAFT_NONE;
}

static void rt_isolate(struct rt *t, int32_t id, bool cut)
{
    for (size_t o = 1; o <= t->nnodes; o++)
        if ((int32_t)o != id)
            t->cut[id][o] = t->cut[o][id] = cut;
}

static uint64_t rt_propose(struct rt *t, int32_t id, const char *text)
{
    uint64_t index = 0;
    ck_assert_int_eq(raft_propose(t->nodes[id].raft, (const uint8_t *)text, strlen(text), &index),
                     0);
    rt_process(t, id);
    return index;
}

static void rt_expect(struct rt *t, const char *expected)
{
    if (strcmp(t->trace, expected) != 0)
        ck_abort_msg("trace differs.\n--- expected\n%s--- got\n%s", expected, t->trace);
    t->tlen = 0;
    t->trace[0] = '\0';
}

/* Runs until node id leads (bounded). */
static void rt_until_leader(struct rt *t, int32_t id, int max_ticks)
{
    for (int i = 0; i < max_ticks && rt_leader(t) != id; i++)
        rt_tick(t, 1);
    ck_assert_int_eq(rt_leader(t), id);
}

/* n1 pre-votes, stands in term 1 (the others take the term from its vote
 * request), wins, and announces itself with BEGIN_EPOCH. */
#define RT_FIRST_ELECTION                                                             \
    "n1 prospective t0 L-1\n"                                                         \
    "n1 candidate t1 L-1\n"                                                           \
    "n2 follower t1 L-1\n"                                                            \
    "n3 follower t1 L-1\n"                                                            \
    "n1 leader t1 L1\n"                                                               \
    "n2 follower t1 L1\n"                                                             \
    "n3 follower t1 L1\n"

START_TEST(elects_with_pre_vote_and_replicates)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_tick(&t, 25);
    rt_expect(&t, RT_FIRST_ELECTION);
    rt_propose(&t, 1, "a");
    uint64_t last = rt_propose(&t, 1, "b");
    rt_tick(&t, 5);
    for (int id = 1; id <= 3; id++)
        ck_assert_uint_eq(t.nodes[id].applied, last);
    rt_free(&t);
}
END_TEST

START_TEST(pre_vote_during_a_healthy_term_changes_nothing)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    rt_expect(&t, RT_FIRST_ELECTION);
    /* n3 alone loses the leader and pre-votes, again and again, without
     * raising its term; back in touch, it is refused (the others hear from
     * the leader) and follows the leader it is told of. */
    rt_isolate(&t, 3, true);
    rt_tick(&t, 60);
    rt_isolate(&t, 3, false);
    rt_tick(&t, 30);
    rt_expect(&t, "n3 prospective t1 L-1\n"
                  "n3 follower t1 L1\n");
    ck_assert_uint_eq(t.nodes[1].last.term, 1);
    rt_free(&t);
}
END_TEST

START_TEST(a_leader_that_loses_its_quorum_steps_down)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    rt_expect(&t, RT_FIRST_ELECTION);
    rt_isolate(&t, 1, true);
    uint64_t cut_at = t.ticks;
    while (t.nodes[1].last.role == RAFT_LEADER && t.ticks - cut_at < 100)
        rt_tick(&t, 1);
    /* Check-quorum: within the fetch timeout (20 ticks), not an election
     * timeout later; meanwhile n2 and n3 elect n3 in term 2. */
    ck_assert_uint_le(t.ticks - cut_at, 21);
    ck_assert_int_eq(t.nodes[1].last.role, RAFT_FOLLOWER);
    rt_free(&t);
}
END_TEST

START_TEST(a_partitioned_old_leader_rejoins_and_drops_its_uncommitted_tail)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    uint64_t committed = rt_propose(&t, 1, "kept");
    rt_tick(&t, 5);
    ck_assert_uint_eq(t.nodes[2].applied, committed);
    rt_isolate(&t, 1, true);
    uint64_t lost = rt_propose(&t, 1, "never committed");
    ck_assert_uint_eq(lost, committed + 1);
    rt_tick(&t, 60);
    int32_t new_leader = rt_leader(&t);
    ck_assert(new_leader == 2 || new_leader == 3);
    uint64_t next = rt_propose(&t, new_leader, "new term");
    rt_tick(&t, 5);
    rt_isolate(&t, 1, false);
    rt_tick(&t, 40);
    /* n1 follows the new leader and holds its log, not its own tail. */
    ck_assert_int_eq(t.nodes[1].last.leader, new_leader);
    ck_assert_uint_ge(t.nodes[1].applied, next);
    const struct raft_entry *e = raft_entry_at(t.nodes[1].raft, lost);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_ne(e->term, 1);
    rt_free(&t);
}
END_TEST

START_TEST(a_follower_behind_the_log_start_gets_the_snapshot)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    t.tlen = 0;
    t.trace[0] = '\0';
    rt_isolate(&t, 3, true);
    uint64_t last = 0;
    for (int i = 0; i < 10; i++)
        last = rt_propose(&t, 1, "entry");
    rt_tick(&t, 40);
    ck_assert_uint_eq(t.nodes[1].applied, last);
    ck_assert_uint_eq(t.nodes[3].last.term, 1); /* pre-votes raise no term */
    const char snapshot[] = "the state at index 11";
    ck_assert_int_eq(raft_compact(t.nodes[1].raft, last, (const uint8_t *)snapshot,
                                  sizeof(snapshot)),
                     0);
    rt_isolate(&t, 3, false);
    rt_tick(&t, 40);
    /* Chunks of 4 bytes; then n3 fetches on from index 12. */
    ck_assert_uint_eq(t.nodes[3].snap.index, last);
    ck_assert_mem_eq(t.nodes[3].snap.data, snapshot, sizeof(snapshot));
    uint64_t after = rt_propose(&t, 1, "after");
    rt_tick(&t, 5);
    ck_assert_uint_eq(t.nodes[3].applied, after);
    rt_expect(&t, "n3 prospective t1 L-1\n"
                  "n3 follower t1 L1\n"
                  "n3 installed snapshot 11\n");
    rt_free(&t);
}
END_TEST

START_TEST(leadership_transfer_hands_over_without_an_election_timeout)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    t.tlen = 0;
    t.trace[0] = '\0';
    rt_propose(&t, 1, "x");
    ck_assert_int_eq(raft_transfer_leadership(t.nodes[1].raft, 2), 0);
    uint64_t index;
    ck_assert_int_eq(raft_propose(t.nodes[1].raft, (const uint8_t *)"y", 1, &index),
                     RILL_ERR_AGAIN);
    rt_process(&t, 1);
    uint64_t start = t.ticks;
    rt_until_leader(&t, 2, 20);
    ck_assert_uint_le(t.ticks - start, 5);
    rt_expect(&t, "n2 candidate t2 L-1\n"
                  "n1 follower t2 L-1\n"
                  "n3 follower t2 L-1\n"
                  "n2 leader t2 L2\n"
                  "n1 follower t2 L2\n"
                  "n3 follower t2 L2\n");
    rt_free(&t);
}
END_TEST

START_TEST(a_leader_known_gone_is_replaced_without_an_election_timeout)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    rt_expect(&t, RT_FIRST_ELECTION);
    /* Only the leader can be gone. */
    ck_assert_int_eq(raft_leader_gone(t.nodes[2].raft, 3), RILL_ERR_AGAIN);
    /* n1's process dies; both followers are told (their connections to it
     * are refused) and one of them leads well inside the [10, 20)-tick
     * election timeout, in the next term. */
    rt_isolate(&t, 1, true);
    t.nodes[1].up = false;
    ck_assert_int_eq(raft_leader_gone(t.nodes[2].raft, 1), 0);
    ck_assert_int_eq(raft_leader_gone(t.nodes[3].raft, 1), 0);
    uint64_t start = t.ticks;
    for (int i = 0; i < 20 && rt_leader(&t) == RAFT_NONE; i++)
        rt_tick(&t, 1);
    ck_assert_int_ne(rt_leader(&t), RAFT_NONE);
    ck_assert_uint_le(t.ticks - start, 6);
    ck_assert_uint_eq(t.nodes[rt_leader(&t)].last.term, 2);
    rt_free(&t);
}
END_TEST

START_TEST(a_wrong_leader_gone_hint_costs_no_term)
{
    struct rt t;
    rt_init(&t, 3, 3);
    rt_until_leader(&t, 1, 40);
    rt_expect(&t, RT_FIRST_ELECTION);
    /* n3 is told n1 is gone while it runs: n3 pre-votes early, n2 (which
     * hears from n1) and n1 refuse, and n3 follows n1 again, still in term
     * 1; the shortened timer does not outlive the leader's next message. */
    ck_assert_int_eq(raft_leader_gone(t.nodes[3].raft, 1), 0);
    rt_tick(&t, 60);
    ck_assert_int_eq(rt_leader(&t), 1);
    for (int id = 1; id <= 3; id++)
        ck_assert_uint_eq(t.nodes[id].last.term, 1);
    uint64_t last = rt_propose(&t, 1, "still here");
    rt_tick(&t, 5);
    ck_assert_uint_eq(t.nodes[3].applied, last);
    rt_free(&t);
}
END_TEST

START_TEST(an_observer_catches_up_and_never_votes)
{
    struct rt t;
    rt_init(&t, 3, 4);
    t.nodes[4].up = false; /* starts late */
    raft_free(t.nodes[4].raft);
    t.nodes[4].raft = NULL;
    rt_until_leader(&t, 1, 40);
    uint64_t last = 0;
    for (int i = 0; i < 20; i++)
        last = rt_propose(&t, 1, "entry");
    rt_tick(&t, 5);
    ck_assert_int_eq(raft_compact(t.nodes[1].raft, 10, (const uint8_t *)"s", 1), 0);
    t.tlen = 0;
    t.trace[0] = '\0';
    rt_start(&t, 4);
    rt_tick(&t, 30);
    ck_assert_uint_eq(t.nodes[4].applied, last);
    ck_assert(!t.nodes[4].last.voter);
    /* The leader dies: the observer does not stand; the voters elect. */
    t.nodes[1].up = false;
    rt_tick(&t, 60);
    int32_t l = rt_leader(&t);
    ck_assert(l == 2 || l == 3);
    ck_assert_int_eq(t.nodes[4].last.role, RAFT_FOLLOWER);
    ck_assert_int_eq(t.nodes[4].last.leader, l);
    rt_free(&t);
}
END_TEST

Suite *suite_raft(void)
{
    Suite *s = suite_create("raft");
    TCase *tc = tcase_create("raft");
    tcase_add_test(tc, elects_with_pre_vote_and_replicates);
    tcase_add_test(tc, pre_vote_during_a_healthy_term_changes_nothing);
    tcase_add_test(tc, a_leader_that_loses_its_quorum_steps_down);
    tcase_add_test(tc, a_partitioned_old_leader_rejoins_and_drops_its_uncommitted_tail);
    tcase_add_test(tc, a_follower_behind_the_log_start_gets_the_snapshot);
    tcase_add_test(tc, leadership_transfer_hands_over_without_an_election_timeout);
    tcase_add_test(tc, a_leader_known_gone_is_replaced_without_an_election_timeout);
    tcase_add_test(tc, a_wrong_leader_gone_hint_costs_no_term);
    tcase_add_test(tc, an_observer_catches_up_and_never_votes);
    suite_add_tcase(s, tc);
    return s;
}
