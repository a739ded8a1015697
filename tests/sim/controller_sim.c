/* The deterministic controller simulation: N combined broker+controller
 * nodes in one process, each with its own metadata image, over a simulated
 * metadata log and clock. From one seed, brokers register, heartbeat, die
 * (and come back as a new incarnation), pause (and resume as the same one),
 * shut down cleanly (asking to be fenced); topics are created and deleted;
 * producer-id blocks are reserved; the controller fails over. Proposals
 * are decided by metadata/controller.h on the controller's image, wait a
 * random time before they commit (so later decisions are made on images
 * that miss earlier ones), and are lost when the controller fails before
 * they commit. Nodes apply committed entries each at its own pace.
 *
 * After every step it checks:
 *   - every committed record applies on every node (a refused record would
 *     stop a real broker: the controller must never propose one, even from
 *     a stale image);
 *   - the image is identical on every node after every committed entry
 *     (digest per log index);
 *   - per partition change: the leader epoch rises by one exactly when the
 *     leader changes, the partition epoch by one, a new leader comes from
 *     the previous ISR (no unclean election), the ISR stays a non-empty
 *     subset of the replicas holding the leader;
 *   - broker epochs only grow, producer-id blocks only move forward, and a
 *     new topic's replicas are distinct live brokers;
 *   - a node restarted from a snapshot (its own, or the controller's, as
 *     one sent by the leader) holds exactly the image every node had after
 *     that many entries, and goes on applying from there;
 *   - liveness, after the faults stop: within a bounded time every broker
 *     is registered and unfenced and every partition has a leader.
 * A failing seed is printed and replays exactly (--first S --seeds 1).
 *
 * Pure: no clock, no IO besides stdout. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"
#include "metadata/controller.h"
#include "metadata/image.h"
#include "metadata/snapshot.h"
#include "proto/metadata.pb-c.h"

enum {
    SIM_NODES = 5,
    SIM_TICK_MS = 100,
    SIM_HEARTBEAT_MS = 300,
    SIM_SESSION_MS = 1000,
    SIM_MAX_ENTRIES = 4096,
    SIM_MAX_PENDING = 16,
    SIM_LIVENESS_MS = 20000,
};

static uint64_t sim_rng;
static bool sim_verbose;

/* What the runs exercised, summed over seeds (printed at the end). */
static struct {
    uint64_t entries, fences, unfences, changes, stale, topics, elections, snapshots;
} sim_stats;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (sim_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static bool chance(uint32_t percent)
{
    return rnd_below(100) < percent;
}

/* One committed or proposed batch: packed MetadataRecords. */
struct sim_entry {
    uint8_t **recs;
    size_t *lens;
    size_t n;
    int64_t commit_at_ms; /* pending: when it commits */
    bool decision;        /* a liveness decision (one pending at a time) */
};

struct sim_node {
    int32_t id;
    bool up;     /* the process runs */
    bool paused; /* runs but sends nothing */
    bool stopping; /* asked to be fenced (controlled shutdown) */
    uint32_t incarnation;
    struct metadata_image image;
    size_t applied; /* committed entries applied */
    int64_t next_heartbeat_ms;
};

struct sim {
    uint64_t seed;
    int64_t now_ms;
    struct sim_node nodes[SIM_NODES];
    struct sim_entry log[SIM_MAX_ENTRIES];
    size_t committed;
    uint64_t digests[SIM_MAX_ENTRIES + 1]; /* image digest after entry i, 0 unknown */
    struct sim_entry pending[SIM_MAX_PENDING];
    size_t npending;
    int32_t controller; /* node index, -1 none */
    bool active;        /* the controller has caught up and acts */
    struct controller_sessions sessions;
    struct controller_config cfg;
    bool deciding;
    int topic_seq;
    /* For "the controller unfences a broker only once it has heard from
     * it since it decided to fence it": an event counter, and per broker
     * id the event of its last heartbeat that reached the controller and
     * of its last fence decision. */
    uint64_t events;
    uint64_t heard_event[SIM_NODES + 1];
    uint64_t fence_event[SIM_NODES + 1];
    char failure[512];
};

static bool sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool sim_fail(struct sim *s, const char *fmt, ...)
{
    if (s->failure[0] != '\0')
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->failure, sizeof(s->failure), fmt, ap);
    va_end(ap);
    return false;
}

/* ---- checks on one record's effect ------------------------------------------------ */

static bool has_id(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* The partition a PartitionChangeRecord names, or NULL. */
static const struct metadata_partition *
change_target(const struct metadata_image *img, const Rill__Metadata__PartitionChangeRecord *c)
{
    if (c->topic_id.len != 16)
        return NULL;
    const struct metadata_topic *t = metadata_image_topic_by_id(img, c->topic_id.data);
    if (t == NULL || c->partition < 0 || c->partition >= t->npartitions)
        return NULL;
    return &t->partitions[c->partition];
}

struct partition_before {
    int32_t leader, leader_epoch, partition_epoch;
    int32_t isr[64];
    size_t nisr;
};

/* Applies one record to node n's image and checks what it did. */
static bool sim_apply_record(struct sim *s, struct sim_node *n, const uint8_t *buf, size_t len)
{
    Rill__Metadata__MetadataRecord *rec = rill__metadata__metadata_record__unpack(NULL, len, buf);
    if (rec == NULL)
        return sim_fail(s, "node %d: a committed record does not decode", n->id);
    struct partition_before before = {0};
    const struct metadata_partition *p = NULL;
    bool is_change = rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_PARTITION_CHANGE;
    if (is_change && (p = change_target(&n->image, rec->partition_change)) != NULL) {
        before.leader = p->leader;
        before.leader_epoch = p->leader_epoch;
        before.partition_epoch = p->partition_epoch;
        before.nisr = p->nisr;
        memcpy(before.isr, p->isr, p->nisr * sizeof(int32_t));
    }
    int64_t epoch_before = -1;
    if (rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER) {
        const struct metadata_broker *b =
            metadata_image_broker(&n->image, rec->register_broker->broker_id);
        epoch_before = b ? b->epoch : -1;
    }
    int64_t pids_before = n->image.next_producer_id;
    int rc = metadata_image_apply(&n->image, rec);
    bool ok = true;
    if (n->id == 1) {
        sim_stats.fences +=
            rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER;
        sim_stats.unfences +=
            rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER;
        sim_stats.topics += rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
        sim_stats.changes += is_change;
    }
    if (rc != 0) {
        ok = sim_fail(s, "node %d: committed record (case %d) refused by the image: %s", n->id,
                      (int)rec->record_case, rill_strerror(rc));
    } else if (is_change && p != NULL) {
        p = change_target(&n->image, rec->partition_change);
        bool applied = p->partition_epoch != before.partition_epoch;
        if (n->id == 1 && !applied)
            sim_stats.stale++;
        if (applied && p->partition_epoch != before.partition_epoch + 1)
            ok = sim_fail(s, "partition epoch jumped %d -> %d", before.partition_epoch,
                          p->partition_epoch);
        if (applied && (p->leader != before.leader) != (p->leader_epoch == before.leader_epoch + 1))
            ok = sim_fail(s, "leader %d -> %d with leader epoch %d -> %d", before.leader,
                          p->leader, before.leader_epoch, p->leader_epoch);
        if (applied && !applied && p->leader_epoch != before.leader_epoch)
            ok = sim_fail(s, "a stale change moved the leader epoch");
        if (applied && p->leader >= 0 && p->leader != before.leader &&
            !has_id(before.isr, before.nisr, p->leader))
            ok = sim_fail(s, "unclean election: leader %d was not in the ISR", p->leader);
        if (!applied && (p->leader != before.leader || p->nisr != before.nisr))
            ok = sim_fail(s, "a stale partition change changed the partition");
    } else if (rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER) {
        if (rec->register_broker->broker_epoch <= epoch_before)
            ok = sim_fail(s, "broker %d epoch went %" PRId64 " -> %" PRId64,
                          rec->register_broker->broker_id, epoch_before,
                          rec->register_broker->broker_epoch);
    } else if (rec->record_case == RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS) {
        if (n->image.next_producer_id < pids_before)
            ok = sim_fail(s, "producer ids went back");
    }
    rill__metadata__metadata_record__free_unpacked(rec, NULL);
    return ok;
}

/* Every partition: ISR a non-empty subset of the replicas, leader in it. */
static void check_partition(void *ctx, const struct metadata_topic *t)
{
    struct sim *s = ctx;
    for (int32_t i = 0; i < t->npartitions; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        if (p->nisr == 0 || p->nisr > p->nreplicas)
            sim_fail(s, "%s-%d: ISR of %zu over %zu replicas", t->name, i, p->nisr,
                     p->nreplicas);
        for (size_t k = 0; k < p->nisr; k++)
            if (!has_id(p->replicas, p->nreplicas, p->isr[k]))
                sim_fail(s, "%s-%d: ISR member %d is no replica", t->name, i, p->isr[k]);
        if (p->leader >= 0 && !has_id(p->isr, p->nisr, p->leader))
            sim_fail(s, "%s-%d: leader %d outside the ISR", t->name, i, p->leader);
    }
}

/* ---- the log ---------------------------------------------------------------------- */

static void entry_free(struct sim_entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->recs[i]);
    free(e->recs);
    free(e->lens);
    memset(e, 0, sizeof(*e));
}

/* Proposes out's records as one entry, committing after a random delay. */
static bool sim_propose(struct sim *s, const struct controller_out *out)
{
    if (out->n == 0 || s->npending == SIM_MAX_PENDING ||
        s->committed + s->npending >= SIM_MAX_ENTRIES)
        return false;
    struct sim_entry *e = &s->pending[s->npending++];
    e->n = out->n;
    e->recs = calloc(out->n, sizeof(*e->recs));
    e->lens = calloc(out->n, sizeof(*e->lens));
    if (e->recs == NULL || e->lens == NULL)
        abort();
    for (size_t i = 0; i < out->n; i++) {
        e->lens[i] = rill__metadata__metadata_record__get_packed_size(out->recs[i]);
        e->recs[i] = malloc(e->lens[i] ? e->lens[i] : 1);
        if (e->recs[i] == NULL)
            abort();
        rill__metadata__metadata_record__pack(out->recs[i], e->recs[i]);
    }
    e->commit_at_ms = s->now_ms + (int64_t)rnd_below(4) * SIM_TICK_MS;
    return true;
}

/* Commits due pending entries, in proposal order. */
static void sim_commit(struct sim *s)
{
    while (s->npending > 0 && s->pending[0].commit_at_ms <= s->now_ms) {
        if (s->pending[0].decision)
            s->deciding = false;
        sim_stats.entries++;
        s->log[s->committed++] = s->pending[0];
        memmove(&s->pending[0], &s->pending[1], (s->npending - 1) * sizeof(s->pending[0]));
        s->npending--;
    }
}

/* Node n applies committed entries up to `upto`, checking each. */
static bool sim_catch_up(struct sim *s, struct sim_node *n, size_t upto)
{
    while (n->applied < upto) {
        const struct sim_entry *e = &s->log[n->applied];
        for (size_t i = 0; i < e->n; i++)
            if (!sim_apply_record(s, n, e->recs[i], e->lens[i]))
                return false;
        n->applied++;
        uint64_t d = metadata_image_digest(&n->image);
        if (s->digests[n->applied] == 0)
            s->digests[n->applied] = d;
        else if (s->digests[n->applied] != d)
            return sim_fail(s, "node %d: image after entry %zu differs from another node's",
                            n->id, n->applied);
        metadata_image_each_topic(&n->image, check_partition, s);
        if (s->failure[0] != '\0')
            return false;
    }
    return true;
}

/* ---- the controller ---------------------------------------------------------------------- */

static void sim_elect_controller(struct sim *s)
{
    /* Uncommitted proposals of the old controller: some commit (the new
     * leader had them), the rest are lost. */
    size_t keep = s->npending ? rnd_below((uint32_t)s->npending + 1) : 0;
    for (size_t i = keep; i < s->npending; i++)
        entry_free(&s->pending[i]);
    for (size_t i = 0; i < keep; i++)
        s->pending[i].commit_at_ms = s->now_ms;
    s->npending = keep;
    s->deciding = false;
    sim_stats.elections++;
    s->controller = -1;
    s->active = false;
    int32_t candidates[SIM_NODES];
    size_t nc = 0;
    for (int32_t i = 0; i < SIM_NODES; i++)
        if (s->nodes[i].up && !s->nodes[i].paused)
            candidates[nc++] = i;
    if (nc > 0)
        s->controller = candidates[rnd_below((uint32_t)nc)];
    if (sim_verbose)
        printf("  t=%" PRId64 " controller -> node %d\n", s->now_ms,
               s->controller >= 0 ? s->nodes[s->controller].id : -1);
}

/* The controller acts only once it has applied everything committed (its
 * own first entry, in the real driver) and nothing older is pending. */
static struct sim_node *sim_active(struct sim *s)
{
    if (s->controller < 0)
        return NULL;
    struct sim_node *c = &s->nodes[s->controller];
    if (!c->up || c->paused)
        return NULL;
    if (!s->active) {
        if (s->npending > 0 || c->applied < s->committed)
            return NULL;
        s->active = true;
        controller_sessions_reset(&s->sessions, &c->image, s->now_ms);
    }
    return c;
}

static void sim_registration(struct sim *s, struct sim_node *n)
{
    struct sim_node *c = sim_active(s);
    if (c == NULL)
        return;
    struct controller_registration reg = {.broker_id = n->id, .host = "127.0.0.1",
                                          .port = 9092 + n->id,
                                          .metadata_version = n->image.version};
    memset(reg.incarnation, 0, 16);
    memcpy(reg.incarnation, &n->incarnation, sizeof(n->incarnation));
    struct controller_out out;
    controller_out_init(&out);
    int64_t epoch = (int64_t)(s->committed + s->npending + 1);
    if (controller_register_broker(&c->image, &s->cfg, &reg, epoch, &out) == 0 && out.error == 0)
        sim_propose(s, &out);
    controller_out_free(&out);
}

static void sim_decide(struct sim *s)
{
    struct sim_node *c = sim_active(s);
    if (c == NULL || s->deciding)
        return;
    struct controller_out out;
    controller_out_init(&out);
    if (controller_sessions_decide(&s->sessions, &c->image, &s->cfg, s->now_ms, &out) == 0 &&
        out.n > 0) {
        const Rill__Metadata__MetadataRecord *first = out.recs[0];
        int32_t fenced = first->record_case == RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER
                             ? first->fence_broker->broker_id
                             : -1;
        int32_t unfenced =
            first->record_case == RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER
                ? first->unfence_broker->broker_id
                : -1;
        if (unfenced >= 1 && unfenced <= SIM_NODES &&
            s->heard_event[unfenced] < s->fence_event[unfenced])
            sim_fail(s, "broker %d unfenced without a heartbeat since it was fenced", unfenced);
        if (sim_propose(s, &out)) {
            s->deciding = true;
            s->pending[s->npending - 1].decision = true;
            if (fenced >= 1 && fenced <= SIM_NODES)
                s->fence_event[fenced] = ++s->events;
        }
    }
    controller_out_free(&out);
}

static void sim_create_topic(struct sim *s)
{
    struct sim_node *c = sim_active(s);
    if (c == NULL)
        return;
    char name[32];
    snprintf(name, sizeof(name), "t%d", s->topic_seq++ % 12);
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)rnd();
    if (metadata_image_topic_by_id(&c->image, id) != NULL)
        return;
    struct controller_topic_request req = {.name = name, .name_len = strlen(name),
                                           .num_partitions = 1 + (int32_t)rnd_below(4),
                                           .replication_factor = 1 + (int32_t)rnd_below(3),
                                           .id = id};
    struct controller_out out;
    controller_out_init(&out);
    if (controller_create_topic(&c->image, &req, &out) == 0 && out.error == 0) {
        /* Placement: distinct live brokers. */
        for (size_t i = 0; i < out.n; i++) {
            const Rill__Metadata__MetadataRecord *r = out.recs[i];
            if (r->record_case != RILL__METADATA__METADATA_RECORD__RECORD_PARTITION)
                continue;
            const Rill__Metadata__PartitionRecord *p = r->partition;
            for (size_t k = 0; k < p->n_replicas; k++) {
                if (!metadata_image_broker_live(&c->image, p->replicas[k]))
                    sim_fail(s, "topic %s placed on broker %d, not live", name, p->replicas[k]);
                if (has_id(p->replicas, k, p->replicas[k]))
                    sim_fail(s, "topic %s placed twice on broker %d", name, p->replicas[k]);
            }
        }
        /* The real broker refuses a name already being created; here the
         * same name may be in flight twice only if the image lacks both,
         * which the real driver prevents: keep one in flight per name. */
        bool in_flight = false;
        for (size_t i = 0; i < s->npending && !in_flight; i++) {
            Rill__Metadata__MetadataRecord *r = rill__metadata__metadata_record__unpack(
                NULL, s->pending[i].lens[0], s->pending[i].recs[0]);
            in_flight = r != NULL &&
                        r->record_case == RILL__METADATA__METADATA_RECORD__RECORD_TOPIC &&
                        strcmp(r->topic->name, name) == 0;
            if (r != NULL)
                rill__metadata__metadata_record__free_unpacked(r, NULL);
        }
        if (!in_flight)
            sim_propose(s, &out);
    } else if (out.error == 38 /* INVALID_REPLICATION_FACTOR */) {
        size_t live = 0;
        for (size_t i = 0; i < c->image.nbrokers; i++)
            live += !c->image.brokers[i].fenced;
        if ((size_t)req.replication_factor <= live)
            sim_fail(s, "replication factor %d refused with %zu live brokers",
                     req.replication_factor, live);
    }
    controller_out_free(&out);
}

struct pick_ctx {
    const struct metadata_topic *pick;
    uint32_t seen;
};

static void pick_topic(void *ctx, const struct metadata_topic *t)
{
    struct pick_ctx *p = ctx;
    if (rnd_below(++p->seen) == 0)
        p->pick = t;
}

static void sim_delete_topic(struct sim *s)
{
    struct sim_node *c = sim_active(s);
    if (c == NULL || c->image.ntopics == 0)
        return;
    struct pick_ctx pc = {NULL, 0};
    metadata_image_each_topic(&c->image, pick_topic, &pc);
    struct controller_out out;
    controller_out_init(&out);
    if (controller_delete_topic(&c->image, pc.pick->name, strlen(pc.pick->name), &out) == 0 &&
        out.error == 0)
        sim_propose(s, &out);
    controller_out_free(&out);
}

static void sim_reserve_pids(struct sim *s)
{
    struct sim_node *c = sim_active(s);
    if (c == NULL)
        return;
    struct controller_out out;
    controller_out_init(&out);
    if (controller_reserve_producer_ids(&c->image, c->id, 1000, &out) == 0 && out.error == 0)
        sim_propose(s, &out);
    controller_out_free(&out);
}

/* ---- brokers ------------------------------------------------------------------------- */

static const struct metadata_broker *sim_self(const struct sim_node *n)
{
    const struct metadata_broker *me = metadata_image_broker(&n->image, n->id);
    uint8_t inc[16] = {0};
    memcpy(inc, &n->incarnation, sizeof(n->incarnation));
    return me != NULL && memcmp(me->incarnation, inc, 16) == 0 ? me : NULL;
}

static void sim_broker_tick(struct sim *s, struct sim_node *n)
{
    if (!n->up || n->paused || s->now_ms < n->next_heartbeat_ms)
        return;
    const struct metadata_broker *me = sim_self(n);
    n->next_heartbeat_ms = s->now_ms + SIM_HEARTBEAT_MS;
    struct sim_node *c = sim_active(s);
    if (c == NULL || chance(10)) /* lost on the way */
        return;
    if (me == NULL) {
        sim_registration(s, n);
        return;
    }
    controller_sessions_heartbeat(&s->sessions, n->id, me->epoch, n->image.version, n->stopping,
                                  s->now_ms);
    if (!n->stopping)
        s->heard_event[n->id] = ++s->events;
}

/* Node n restarts from a snapshot of node `from`'s image (itself: a
 * restart that loads its own last snapshot; another: a snapshot the leader
 * sent). Its image must then be exactly the one every node had after that
 * many entries. */
static bool sim_install_snapshot(struct sim *s, struct sim_node *n, const struct sim_node *from)
{
    struct metadata_snapshot_meta meta = {.raft_index = from->applied, .raft_term = 1,
                                          .next_offset = (int64_t)from->applied};
    uint8_t *data;
    size_t len;
    if (metadata_snapshot_encode(&from->image, &meta, &data, &len) != 0)
        abort();
    struct metadata_image img;
    if (metadata_image_init(&img) != 0)
        abort();
    struct metadata_snapshot_meta got;
    int rc = metadata_snapshot_decode(data, len, &got, &img);
    free(data);
    if (rc != 0)
        return sim_fail(s, "node %d: a snapshot of node %d does not decode: %s", n->id,
                        from->id, rill_strerror(rc));
    if (got.raft_index != meta.raft_index || got.next_offset != meta.next_offset)
        return sim_fail(s, "node %d: the snapshot's position changed", n->id);
    if (metadata_image_digest(&img) != metadata_image_digest(&from->image) ||
        (from->applied > 0 && metadata_image_digest(&img) != s->digests[from->applied]))
        return sim_fail(s, "node %d: the image from a snapshot of node %d after entry %zu "
                           "differs from the live one", n->id, from->id, from->applied);
    metadata_image_free(&n->image);
    n->image = img;
    n->applied = from->applied;
    sim_stats.snapshots++;
    return true;
}

static void sim_fault(struct sim *s)
{
    struct sim_node *n = &s->nodes[rnd_below(SIM_NODES)];
    uint32_t what = rnd_below(100);
    if (what < 25 && n->up) { /* SIGKILL */
        n->up = false;
        if (s->controller >= 0 && &s->nodes[s->controller] == n)
            sim_elect_controller(s);
    } else if (what < 50 && !n->up) { /* restart: a new incarnation, image replayed */
        n->up = true;
        n->paused = false;
        n->stopping = false;
        n->incarnation++;
        n->next_heartbeat_ms = s->now_ms;
        uint32_t how = rnd_below(10);
        if (how < 4)
            sim_install_snapshot(s, n, n);
        else if (how < 7 && s->controller >= 0 &&
                 s->nodes[s->controller].applied >= n->applied)
            sim_install_snapshot(s, n, &s->nodes[s->controller]);
        if (s->controller < 0)
            sim_elect_controller(s);
    } else if (what < 60 && n->up && !n->paused) {
        n->paused = true;
        if (s->controller >= 0 && &s->nodes[s->controller] == n)
            sim_elect_controller(s);
    } else if (what < 75 && n->paused) {
        n->paused = false;
    } else if (what < 80 && n->up && !n->paused && !n->stopping) {
        n->stopping = true; /* a controlled shutdown: fenced first, then killed */
        n->next_heartbeat_ms = s->now_ms;
    } else if (what < 85 && s->controller >= 0) {
        sim_elect_controller(s); /* a Raft leader change */
    }
}

static void sim_finish_shutdowns(struct sim *s)
{
    for (int i = 0; i < SIM_NODES; i++) {
        struct sim_node *n = &s->nodes[i];
        const struct metadata_broker *me = sim_self(n);
        if (n->up && n->stopping && (me == NULL || me->fenced || chance(5))) {
            n->up = false;
            if (s->controller == i)
                sim_elect_controller(s);
        }
    }
}

/* ---- one run ---------------------------------------------------------------------------- */

static bool sim_step(struct sim *s, bool faults)
{
    s->now_ms += SIM_TICK_MS;
    if (faults && chance(8))
        sim_fault(s);
    if (faults)
        sim_finish_shutdowns(s);
    if (s->controller < 0 || !s->nodes[s->controller].up || s->nodes[s->controller].paused)
        if (chance(30))
            sim_elect_controller(s);
    for (int i = 0; i < SIM_NODES; i++)
        sim_broker_tick(s, &s->nodes[i]);
    if (faults && chance(10))
        sim_create_topic(s);
    if (faults && chance(3))
        sim_delete_topic(s);
    if (faults && chance(3))
        sim_reserve_pids(s);
    sim_decide(s);
    sim_commit(s);
    for (int i = 0; i < SIM_NODES; i++) {
        struct sim_node *n = &s->nodes[i];
        if (!n->up && !chance(50))
            continue; /* a dead node's log is replayed when it restarts */
        size_t upto = n->applied + rnd_below(3);
        if (n->up && !n->paused && i == s->controller)
            upto = s->committed;
        if (!sim_catch_up(s, n, upto < s->committed ? upto : s->committed))
            return false;
    }
    return s->failure[0] == '\0';
}

static bool sim_settled(const struct sim *s)
{
    const struct metadata_image *img = &s->nodes[s->controller < 0 ? 0 : s->controller].image;
    if (s->controller < 0 || img->nbrokers != SIM_NODES)
        return false;
    for (int i = 0; i < SIM_NODES; i++) {
        const struct sim_node *n = &s->nodes[i];
        const struct metadata_broker *me = sim_self(n);
        if (me == NULL || me->fenced || n->applied != s->committed)
            return false;
    }
    bool leaderless = false;
    for (size_t b = 0; b < img->nbuckets; b++)
        for (const struct metadata_topic *t = img->by_name[b]; t != NULL; t = t->next_by_name)
            for (int32_t i = 0; i < t->npartitions; i++)
                leaderless = leaderless || t->partitions[i].leader < 0;
    return !leaderless;
}

static bool sim_run(uint64_t seed, int steps)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->seed = seed;
    sim_rng = seed * 0x2545f4914f6cdd1dull + 1;
    controller_sessions_init(&s->sessions, SIM_SESSION_MS);
    s->controller = -1;
    for (int i = 0; i < SIM_NODES; i++) {
        s->nodes[i].id = i + 1;
        s->nodes[i].up = true;
        s->nodes[i].incarnation = 1;
        if (metadata_image_init(&s->nodes[i].image) != 0)
            abort();
    }
    bool ok = true;
    for (int step = 0; step < steps && ok; step++)
        ok = sim_step(s, true);
    /* Heal: every node up and running, no more faults. */
    for (int i = 0; i < SIM_NODES && ok; i++) {
        struct sim_node *n = &s->nodes[i];
        if (!n->up || n->stopping) {
            n->up = true;
            n->stopping = false;
            n->incarnation++;
            n->next_heartbeat_ms = s->now_ms;
        }
        n->paused = false;
    }
    int64_t healed_at = s->now_ms;
    while (ok && !sim_settled(s)) {
        ok = sim_step(s, false);
        if (ok && s->now_ms - healed_at > SIM_LIVENESS_MS)
            ok = sim_fail(s, "not settled %d ms after healing (controller %d, %zu pending)",
                          SIM_LIVENESS_MS, s->controller, s->npending);
    }
    if (!ok)
        fprintf(stderr, "controller-sim: seed %" PRIu64 " failed at t=%" PRId64 " ms: %s\n",
                seed, s->now_ms, s->failure);
    for (int i = 0; i < SIM_NODES; i++)
        metadata_image_free(&s->nodes[i].image);
    for (size_t i = 0; i < s->committed; i++)
        entry_free(&s->log[i]);
    for (size_t i = 0; i < s->npending; i++)
        entry_free(&s->pending[i]);
    controller_sessions_free(&s->sessions);
    free(s);
    return ok;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 2000, first = 1;
    int steps = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            seeds = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--verbose") == 0)
            sim_verbose = true;
        else {
            fprintf(stderr, "usage: controller-sim [--seeds N] [--first S] [--steps K] "
                            "[--verbose]\n");
            return 2;
        }
    }
    uint64_t failed = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++)
        if (!sim_run(seed, steps) && ++failed >= 5)
            break;
    if (failed > 0) {
        fprintf(stderr, "controller-sim: %" PRIu64 " failing seed(s)\n", failed);
        return 1;
    }
    printf("controller-sim: %" PRIu64 " seeds, %d steps each: every committed record applied, "
           "images identical on every node, epochs and ISRs sound, settled after healing\n"
           "  (%" PRIu64 " entries, %" PRIu64 " controller changes, %" PRIu64 " topics, %" PRIu64
           " fences, %" PRIu64 " unfences, %" PRIu64 " partition changes of which %" PRIu64
           " stale, %" PRIu64 " restarts from snapshots)\n",
           seeds, steps, sim_stats.entries, sim_stats.elections, sim_stats.topics,
           sim_stats.fences, sim_stats.unfences, sim_stats.changes, sim_stats.stale,
           sim_stats.snapshots);
    return 0;
}
