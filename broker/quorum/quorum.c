#include "broker/quorum/quorum.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/quorum/quorum_state.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"
#include "proto/record_batch.h"
#include "storage/log.h"
#include "storage/store.h"
#include "storage/worker.h"

struct quorum {
    struct broker *broker;
    struct storage_log *log;
    char *dir;
    struct quorum_hooks hooks;
    struct raft *raft;
    int64_t *base_offset; /* of entry i at [i - first_index] */
    size_t nbase, capbase;
    uint64_t first_index;
    int64_t tick_ms;

    /* the ready being carried out */
    bool in_ready;
    struct raft_ready rd;
    size_t rd_appended;      /* entries of rd already in the storage log */
    int64_t durable_target;  /* the log end its entries need fsynced */
    bool waiting_durable;
    bool retry;              /* an append was refused; tried again each tick */
    uint32_t held_ticks;     /* ticks that arrived during the ready */
    struct raft_msg *held;   /* messages that arrived during the ready (deep copies) */
    size_t nheld, capheld;
    bool failed;             /* the log directory went offline */
    bool installing;         /* rd's snapshot is persisted; applied in finish */
    int32_t gone;            /* a node whose process is gone, told to Raft when
                              * no ready is being carried out; -1 none */

    /* snapshots */
    int64_t snapshot_bytes;      /* taken once this much was applied since the last */
    int64_t applied_bytes;       /* applied since the last snapshot */
    uint64_t snap_index, snap_term;
    int64_t snap_next_offset;    /* the log offset after snap_index */
    struct quorum_snapshot_job *snap_job;  /* being written, NULL none */
    struct quorum_snapshot_job *compact;   /* written during a ready: compact after it */
};

/* A snapshot file being written off the loop (storage_store_submit). */
struct quorum_snapshot_job {
    struct storage_job job;
    struct quorum *q;    /* NULL once the quorum closed */
    char *dir;
    uint64_t index, term;
    int64_t next_offset;
    uint8_t *data;       /* header + payload */
    size_t len;
};

/* ---- snapshot files ----------------------------------------------------------- */

static void quorum_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t quorum_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header of snapshot bytes (header + payload); false when too short. */
static bool quorum_snapshot_header(const uint8_t *data, size_t len, uint64_t *index,
                                   uint64_t *term, int64_t *next_offset)
{
    if (len < QUORUM_SNAPSHOT_HEADER_BYTES)
        return false;
    *index = quorum_get_u64(data);
    *term = quorum_get_u64(data + 8);
    uint64_t next = quorum_get_u64(data + 16);
    *next_offset = (int64_t)next;
    return next <= (uint64_t)INT64_MAX && *index > 0;
}

/* ---- entries <-> record batches ------------------------------------------------ */

/* LeaderChange control record (KRaft): key = (version 0, type 2), value =
 * LeaderChangeMessage v0 {LeaderId, Voters [], GrantingVoters []}. */
static int quorum_leader_change_batch(int32_t leader, struct kafka_writer *batch)
{
    struct kafka_writer key, value, recs;
    kafka_writer_init(&key);
    kafka_writer_init(&value);
    kafka_writer_init(&recs);
    kafka_write_i16(&key, 0);
    kafka_write_i16(&key, 2);
    kafka_write_i16(&value, 0);
    kafka_write_i32(&value, leader);
    kafka_write_i32(&value, 0);
    kafka_write_i32(&value, 0);
    int rc = key.err != 0 || value.err != 0 ? RILL_ERR_NOMEM : RILL_OK;
    if (rc == 0) {
        record_write(&recs, 0, 0, (struct kafka_bytes){key.buf, (int32_t)key.len},
                     (struct kafka_bytes){value.buf, (int32_t)value.len});
        int64_t now = clock_wall_ms();
        rc = recs.err != 0 ? RILL_ERR_NOMEM
                         : record_batch_build_control(batch, now, 1, recs.buf, recs.len);
    }
    kafka_writer_free(&key);
    kafka_writer_free(&value);
    kafka_writer_free(&recs);
    return rc;
}

static int quorum_base_push(struct quorum *q, int64_t offset)
{
    if (q->nbase == q->capbase) {
        size_t cap = q->capbase ? q->capbase * 2 : 256;
        int64_t *b = realloc(q->base_offset, cap * sizeof(*b));
        if (b == NULL)
            return RILL_ERR_NOMEM;
        q->base_offset = b;
        q->capbase = cap;
    }
    q->base_offset[q->nbase++] = offset;
    return RILL_OK;
}

/* Appends one entry to the storage log, as the batch it is. */
static int quorum_append(struct quorum *q, const struct raft_entry *e)
{
    ASSERT(e->index == q->first_index + q->nbase);
    struct kafka_writer w;
    kafka_writer_init(&w);
    int rc;
    if (e->type == RAFT_ENTRY_LEADER_CHANGE) {
        rc = quorum_leader_change_batch(q->broker->cfg.node_id, &w);
    } else {
        kafka_write_raw(&w, e->data, e->len);
        rc = w.err != 0 ? RILL_ERR_NOMEM : RILL_OK;
    }
    struct record_batch_info info;
    if (rc == 0 && record_batch_validate(w.buf, w.len, &info) != RB_OK)
        rc = RILL_ERR_CORRUPT; /* only validated batches are ever proposed */
    int64_t base = 0;
    if (rc == 0)
        rc = storage_log_append(q->log, w.buf, w.len, (int32_t)e->term, &info, clock_wall_ms(),
                                &base);
    kafka_writer_free(&w);
    if (rc == 0)
        rc = quorum_base_push(q, base);
    return rc;
}

/* ---- messages held during a ready ------------------------------------------------------ */

static void quorum_hold(struct quorum *q, const struct raft_msg *m)
{
    if (q->nheld >= LIMIT_QUORUM_HELD_MESSAGES)
        return; /* dropped, as a congested network would */
    if (q->nheld == q->capheld) {
        size_t cap = q->capheld ? q->capheld * 2 : 64;
        struct raft_msg *h = realloc(q->held, cap * sizeof(*h));
        if (h == NULL)
            return;
        q->held = h;
        q->capheld = cap;
    }
    if (raft_msg_copy(&q->held[q->nheld], m) == 0)
        q->nheld++;
}

/* ---- the ready exchange ----------------------------------------------------------- */

static void quorum_fail(struct quorum *q, int rc)
{
    if (q->hooks.failed != NULL)
        q->hooks.failed(q->hooks.ctx, rc);
}

static void quorum_finish_ready(struct quorum *q);

/* ---- taking snapshots ---------------------------------------------------------------- */

static void quorum_snapshot_job_free(struct quorum_snapshot_job *job)
{
    free(job->data);
    free(job->dir);
    free(job);
}

/* Compacts the node's log to a snapshot now durable, and deletes the
 * storage segments wholly below it. */
static void quorum_compact(struct quorum *q, struct quorum_snapshot_job *job)
{
    int rc = job->index > q->snap_index
                 ? raft_compact(q->raft, job->index, job->data, job->len)
                 : RILL_ERR_INVALID;
    if (rc == 0) {
        size_t drop = (size_t)(job->index + 1 - q->first_index);
        ASSERT(drop <= q->nbase);
        memmove(q->base_offset, q->base_offset + drop, (q->nbase - drop) * sizeof(int64_t));
        q->nbase -= drop;
        q->first_index = job->index + 1;
        q->snap_index = job->index;
        q->snap_term = job->term;
        q->snap_next_offset = job->next_offset;
        int deleted = storage_log_drop_segments_below(q->log, job->next_offset);
        log_info("quorum", "metadata snapshot of entry %llu (offset %lld, %zu bytes); %d older "
                           "segment(s) deleted",
                 (unsigned long long)job->index, (long long)job->next_offset, job->len,
                 deleted > 0 ? deleted : 0);
    } else if (rc != RILL_ERR_INVALID) {
        log_warn("quorum", "cannot compact the metadata log: %s", rill_strerror(rc));
    }
    quorum_snapshot_job_free(job);
}

static int quorum_snapshot_run(struct storage_job *j)
{
    struct quorum_snapshot_job *job = (struct quorum_snapshot_job *)j;
    return storage_write_file_durably(job->dir, QUORUM_SNAPSHOT_FILE, job->data, job->len);
}

static void quorum_snapshot_done(struct storage_job *j)
{
    struct quorum_snapshot_job *job = (struct quorum_snapshot_job *)j;
    struct quorum *q = job->q;
    if (q == NULL) {
        quorum_snapshot_job_free(job);
        return;
    }
    q->snap_job = NULL;
    if (job->job.result != 0 || q->failed) {
        if (job->job.result != 0)
            log_warn("quorum", "cannot write the metadata snapshot: %s (tried again later)",
                     rill_strerror(job->job.result));
        quorum_snapshot_job_free(job);
        return;
    }
    if (q->in_ready)
        q->compact = job; /* the node may not be compacted during a ready */
    else
        quorum_compact(q, job);
}

/* Takes a snapshot of the applied state once enough was applied since the
 * last one; its file is written off the loop. */
static void quorum_maybe_snapshot(struct quorum *q)
{
    if (q->failed || q->in_ready || q->snap_job != NULL || q->compact != NULL ||
        q->hooks.snapshot == NULL || q->snapshot_bytes <= 0 ||
        q->applied_bytes < q->snapshot_bytes)
        return;
    struct raft_status st;
    raft_status(q->raft, &st);
    const struct raft_entry *e = raft_entry_at(q->raft, st.applied);
    if (st.applied <= q->snap_index || e == NULL)
        return;
    int64_t next = quorum_end_offset_of(q, st.applied);
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = q->hooks.snapshot(q->hooks.ctx, st.applied, e->term, next, &payload, &plen);
    struct quorum_snapshot_job *job = rc == 0 ? calloc(1, sizeof(*job)) : NULL;
    uint8_t *data = job != NULL ? malloc(QUORUM_SNAPSHOT_HEADER_BYTES + plen) : NULL;
    char *dir = data != NULL ? strdup(q->dir) : NULL;
    if (dir == NULL) {
        free(data);
        free(job);
        free(payload);
        log_warn("quorum", "cannot encode a metadata snapshot: %s",
                 rill_strerror(rc != 0 ? rc : RILL_ERR_NOMEM));
        q->applied_bytes = 0; /* not at every entry: after as many bytes again */
        return;
    }
    quorum_put_u64(data, st.applied);
    quorum_put_u64(data + 8, e->term);
    quorum_put_u64(data + 16, (uint64_t)next);
    memcpy(data + QUORUM_SNAPSHOT_HEADER_BYTES, payload, plen);
    free(payload);
    *job = (struct quorum_snapshot_job){.job = {.run = quorum_snapshot_run,
                                                .done = quorum_snapshot_done},
                                        .q = q,
                                        .dir = dir,
                                        .index = st.applied,
                                        .term = e->term,
                                        .next_offset = next,
                                        .data = data,
                                        .len = QUORUM_SNAPSHOT_HEADER_BYTES + plen};
    q->snap_job = job;
    q->applied_bytes = 0;
    storage_store_submit(q->broker->store, &job->job);
}

/* Persists what the ready asks; returns false when it must wait (an fsync
 * in flight, or a refused append to retry). */
static bool quorum_persist(struct quorum *q)
{
    struct raft_ready *rd = &q->rd;
    if (rd->hard_state_changed && q->rd_appended == 0 && !q->retry) {
        int rc = quorum_state_write(q->dir, &rd->hard_state);
        if (rc != 0)
            rill_fatal("quorum", "cannot write %s/%s: %s; a node that may forget its vote must "
                                 "not take part in the quorum",
                       q->dir, QUORUM_STATE_FILE, rill_strerror(rc));
    }
    if (rd->truncate_from > 0 && q->rd_appended == 0 && !q->retry) {
        ASSERT(rd->truncate_from >= q->first_index);
        size_t keep = (size_t)(rd->truncate_from - q->first_index);
        if (keep < q->nbase) {
            int rc = storage_log_truncate(q->log, q->base_offset[keep]);
            if (rc != 0)
                rill_fatal("quorum", "cannot truncate the metadata log at %lld: %s",
                           (long long)q->base_offset[keep], rill_strerror(rc));
            q->nbase = keep;
        }
    }
    if (rd->snapshot != NULL && !q->installing && q->rd_appended == 0) {
        /* Everything up to the snapshot is replaced: the file first, then
         * the log starts over after it. */
        uint64_t index, term;
        int64_t next;
        if (!quorum_snapshot_header(rd->snapshot->data, rd->snapshot->len, &index, &term, &next) ||
            index != rd->snapshot->index || term != rd->snapshot->term)
            rill_fatal("quorum", "the leader sent a metadata snapshot that is not one (%zu "
                                 "bytes for entry %llu)",
                       rd->snapshot->len, (unsigned long long)rd->snapshot->index);
        int rc = storage_write_file_durably(q->dir, QUORUM_SNAPSHOT_FILE, rd->snapshot->data,
                                            rd->snapshot->len);
        if (rc == 0)
            rc = storage_log_reset(q->log, next);
        if (rc != 0) {
            log_error("quorum", "cannot install the metadata snapshot of entry %llu: %s; this "
                                "node leaves the quorum until it is restarted",
                      (unsigned long long)index, rill_strerror(rc));
            q->failed = true;
            quorum_fail(q, RILL_ERR_IO);
            return false;
        }
        q->first_index = index + 1;
        q->nbase = 0;
        q->snap_index = index;
        q->snap_term = term;
        q->snap_next_offset = next;
        q->installing = true;
        log_info("quorum", "installing the leader's metadata snapshot of entry %llu (offset "
                           "%lld, %zu bytes)",
                 (unsigned long long)index, (long long)next, rd->snapshot->len);
    }
    q->retry = false;
    while (q->rd_appended < rd->nentries) {
        int rc = quorum_append(q, &rd->entries[q->rd_appended]);
        if (rc == RILL_ERR_NOSPC) {
            if (!q->retry)
                log_warn("quorum", "the metadata log's disk is full; retrying");
            q->retry = true;
            quorum_fail(q, rc);
            return false;
        }
        if (rc != 0) {
            log_error("quorum", "cannot append to the metadata log: %s; this node leaves the "
                                "quorum until it is restarted",
                      rill_strerror(rc));
            q->failed = true;
            quorum_fail(q, RILL_ERR_IO);
            return false;
        }
        q->rd_appended++;
    }
    if (rd->nentries > 0 || q->installing) {
        q->durable_target = storage_log_end_offset(q->log);
        if (storage_log_durable_offset(q->log) < q->durable_target) {
            q->waiting_durable = true;
            storage_log_flush(q->log);
            return false;
        }
    }
    return true;
}

static void quorum_pump(struct quorum *q)
{
    while (!q->failed) {
        if (!q->in_ready) {
            /* What arrived meanwhile, in order: messages, then ticks. */
            if (q->nheld > 0) {
                struct raft_msg *held = q->held;
                size_t n = q->nheld;
                q->held = NULL;
                q->nheld = q->capheld = 0;
                for (size_t i = 0; i < n; i++) {
                    (void)raft_step(q->raft, &held[i]);
                    raft_msg_free(&held[i]);
                }
                free(held);
            }
            while (q->held_ticks > 0) {
                q->held_ticks--;
                raft_tick(q->raft);
            }
            if (!raft_has_ready(q->raft))
                return;
            raft_ready(q->raft, &q->rd);
            q->in_ready = true;
            q->rd_appended = 0;
            q->retry = false;
        }
        if (q->waiting_durable || !quorum_persist(q))
            return;
        quorum_finish_ready(q);
    }
}

static void quorum_finish_ready(struct quorum *q)
{
    struct raft_ready *rd = &q->rd;
    /* Everything they depend on is durable now. */
    for (size_t i = 0; i < rd->nmsgs && q->hooks.send != NULL; i++)
        q->hooks.send(q->hooks.ctx, &rd->msgs[i]);
    bool applied = rd->ncommitted > 0;
    if (q->installing) {
        q->installing = false;
        applied = true;
        const struct raft_snapshot *sn = rd->snapshot;
        int rc = q->hooks.install(q->hooks.ctx, sn->index, sn->term,
                                  sn->data + QUORUM_SNAPSHOT_HEADER_BYTES,
                                  sn->len - QUORUM_SNAPSHOT_HEADER_BYTES);
        if (rc != 0)
            rill_fatal("quorum", "cannot install the metadata snapshot of entry %llu: %s",
                       (unsigned long long)sn->index, rill_strerror(rc));
        q->applied_bytes = 0;
    }
    for (size_t i = 0; i < rd->ncommitted; i++) {
        const struct raft_entry *e = &rd->committed[i];
        ASSERT(e->index >= q->first_index && e->index - q->first_index < q->nbase);
        int64_t base = q->base_offset[e->index - q->first_index];
        bool data = e->type == RAFT_ENTRY_DATA;
        int rc = q->hooks.apply(q->hooks.ctx, e->index, e->term, data ? e->data : NULL,
                                data ? e->len : 0, base);
        if (rc != 0)
            rill_fatal("quorum",
                       "cannot apply the committed metadata entry %llu (offset %lld): %s; "
                       "stopping rather than serve an image that differs from the log",
                       (unsigned long long)e->index, (long long)base, rill_strerror(rc));
        q->applied_bytes += (int64_t)e->len;
    }
    raft_advance(q->raft, rd);
    q->in_ready = false;
    if (q->compact != NULL) {
        struct quorum_snapshot_job *job = q->compact;
        q->compact = NULL;
        quorum_compact(q, job);
    }
    if (applied && q->hooks.applied != NULL)
        q->hooks.applied(q->hooks.ctx);
    if (applied)
        quorum_maybe_snapshot(q);
}

void quorum_on_durable(struct quorum *q, int64_t durable_offset)
{
    if (q == NULL || !q->waiting_durable || durable_offset < q->durable_target)
        return;
    q->waiting_durable = false;
    quorum_finish_ready(q);
    quorum_pump(q);
}

void quorum_on_offline(struct quorum *q)
{
    if (q == NULL || q->failed)
        return;
    log_error("quorum", "the metadata log's directory is offline; this node leaves the quorum "
                        "until it is restarted on a sound disk");
    q->failed = true;
    quorum_fail(q, RILL_ERR_IO);
}

void quorum_step(struct quorum *q, const struct raft_msg *m)
{
    if (q->failed)
        return;
    if (q->in_ready) {
        quorum_hold(q, m);
        return;
    }
    (void)raft_step(q->raft, m);
    quorum_pump(q);
}

size_t quorum_replicas(const struct quorum *q, struct raft_replica_status *out, size_t max)
{
    return raft_replicas(q->raft, out, max);
}

int64_t quorum_end_offset_of(const struct quorum *q, uint64_t index)
{
    if (index < q->first_index)
        return index == q->snap_index && index > 0 ? q->snap_next_offset
                                                   : storage_log_start_offset(q->log);
    uint64_t next = index + 1 - q->first_index; /* position of entry index + 1 */
    if (next < q->nbase)
        return q->base_offset[next];
    return storage_log_end_offset(q->log);
}

uint64_t quorum_ticks(const struct quorum *q)
{
    return raft_ticks(q->raft);
}

int64_t quorum_tick_ms(const struct quorum *q)
{
    return q->tick_ms;
}

void quorum_resign(struct quorum *q)
{
    if (q->failed)
        return;
    if (raft_transfer_leadership(q->raft, RAFT_NONE) == 0)
        quorum_pump(q);
}

void quorum_peer_gone(struct quorum *q, int32_t node)
{
    if (q->failed)
        return;
    if (q->in_ready) {
        q->gone = node; /* told at the first tick after the ready */
        return;
    }
    q->gone = -1;
    if (raft_leader_gone(q->raft, node) == 0) {
        log_info("quorum", "the leader (node %d) is gone: standing for election early", node);
        quorum_pump(q);
    }
}

void quorum_tick(struct quorum *q)
{
    if (q->failed)
        return;
    if (q->gone >= 0 && !q->in_ready) {
        quorum_peer_gone(q, q->gone);
        if (q->failed)
            return;
    }
    if (q->in_ready) {
        if (q->held_ticks < UINT32_MAX)
            q->held_ticks++;
        if (q->retry && !q->waiting_durable && quorum_persist(q)) {
            quorum_finish_ready(q);
            quorum_pump(q);
        }
        return;
    }
    raft_tick(q->raft);
    quorum_pump(q);
}

int quorum_propose(struct quorum *q, const uint8_t *batch, size_t len, uint64_t *index,
                   uint64_t *term)
{
    if (q->failed)
        return RILL_ERR_IO;
    /* Allowed while a ready is being carried out (raft.h): it goes into
     * the next one, so proposals made during an fsync share the next. */
    int rc = raft_propose(q->raft, batch, len, index);
    if (rc != 0)
        return rc;
    struct raft_status st;
    raft_status(q->raft, &st);
    *term = st.term;
    quorum_pump(q);
    return RILL_OK;
}

void quorum_status(const struct quorum *q, struct raft_status *st)
{
    raft_status(q->raft, st);
}

bool quorum_failed(const struct quorum *q)
{
    return q->failed;
}

/* ---- start-up ----------------------------------------------------------------------- */

struct quorum_loaded {
    struct raft_entry *entries;
    size_t n, cap;
};

static int quorum_load_batch(struct quorum *q, struct quorum_loaded *ld, const uint8_t *batch,
                             size_t len)
{
    struct record_batch_header h;
    record_batch_header_read(batch, &h);
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 256;
        struct raft_entry *e = realloc(ld->entries, cap * sizeof(*e));
        if (e == NULL)
            return RILL_ERR_NOMEM;
        ld->entries = e;
        ld->cap = cap;
    }
    struct raft_entry *e = &ld->entries[ld->n];
    *e = (struct raft_entry){.index = q->first_index + ld->n,
                             .term = h.partition_leader_epoch > 0
                                         ? (uint64_t)h.partition_leader_epoch
                                         : 0,
                             .type = (h.attributes & RB_ATTR_CONTROL) ? RAFT_ENTRY_LEADER_CHANGE
                                                                      : RAFT_ENTRY_DATA};
    if (e->type == RAFT_ENTRY_DATA) {
        e->data = malloc(len);
        if (e->data == NULL)
            return RILL_ERR_NOMEM;
        memcpy(e->data, batch, len);
        e->len = len;
    }
    ld->n++;
    return quorum_base_push(q, h.base_offset);
}

/* Reads every batch of the log after the snapshot (if any) into raft
 * entries. */
static int quorum_load(struct quorum *q, struct quorum_loaded *ld)
{
    int64_t next = storage_log_start_offset(q->log), end = storage_log_end_offset(q->log);
    if (q->snap_index > 0) {
        if (next > q->snap_next_offset) {
            log_error("quorum", "the metadata log starts at %lld, after its snapshot ends "
                                "(%lld): entries are missing",
                      (long long)next, (long long)q->snap_next_offset);
            return RILL_ERR_CORRUPT;
        }
        next = q->snap_next_offset;
    }
    while (next < end) {
        uint8_t *buf;
        size_t len;
        int rc = storage_log_read_copy(q->log, next, end, 1 << 20, &buf, &len);
        if (rc != 0)
            return rc;
        if (len == 0)
            break;
        size_t pos = 0;
        while (pos < len && rc == 0) {
            int64_t size = record_batch_total_size(buf + pos, len - pos);
            if (size < RB_HEADER_BYTES || (size_t)size > len - pos) {
                rc = RILL_ERR_CORRUPT;
                break;
            }
            struct record_batch_header h;
            record_batch_header_read(buf + pos, &h);
            if (h.base_offset < next && q->snap_index > 0) {
                pos += (size_t)size; /* a batch the snapshot covers */
                continue;
            }
            rc = quorum_load_batch(q, ld, buf + pos, (size_t)size);
            next = h.base_offset + h.last_offset_delta + 1;
            pos += (size_t)size;
        }
        free(buf);
        if (rc != 0)
            return rc;
    }
    return RILL_OK;
}

/* Reads the snapshot file, if there is one, and installs it. Returns 0
 * (*data NULL when there is none) or a RILL_ERR_* after logging why. */
static int quorum_load_snapshot(struct quorum *q, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", q->dir, QUORUM_SNAPSHOT_FILE);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT ? RILL_OK : rill_err_from_errno(errno);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = RILL_OK;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *grown = cap <= LIMIT_METADATA_SNAPSHOT_BYTES ? realloc(buf, cap) : NULL;
            if (grown == NULL) {
                rc = cap <= LIMIT_METADATA_SNAPSHOT_BYTES ? RILL_ERR_NOMEM : RILL_ERR_TOO_LARGE;
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = RILL_ERR_IO;
            break;
        }
    }
    fclose(f);
    uint64_t index = 0, term = 0;
    int64_t next = 0;
    if (rc == 0 && !quorum_snapshot_header(buf, n, &index, &term, &next))
        rc = RILL_ERR_CORRUPT;
    if (rc == 0)
        rc = q->hooks.install(q->hooks.ctx, index, term, buf + QUORUM_SNAPSHOT_HEADER_BYTES,
                              n - QUORUM_SNAPSHOT_HEADER_BYTES);
    if (rc != 0) {
        log_error("quorum", "cannot load the metadata snapshot %s: %s", path, rill_strerror(rc));
        free(buf);
        return rc;
    }
    q->snap_index = index;
    q->snap_term = term;
    q->snap_next_offset = next;
    q->first_index = index + 1;
    log_info("quorum", "loaded the metadata snapshot of entry %llu (offset %lld, %zu bytes)",
             (unsigned long long)index, (long long)next, n);
    *data = buf;
    *len = n;
    return RILL_OK;
}

int quorum_open(struct broker *b, struct storage_log *log, const char *dir,
                const struct quorum_config *cfg, const struct quorum_hooks *hooks,
                struct quorum **out)
{
    struct quorum *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return RILL_ERR_NOMEM;
    q->broker = b;
    q->log = log;
    q->hooks = *hooks;
    q->first_index = 1;
    q->gone = -1;
    q->tick_ms = cfg->tick_ms > 0 ? cfg->tick_ms : 1;
    q->snapshot_bytes = cfg->snapshot_bytes;
    q->dir = strdup(dir);
    struct quorum_loaded ld = {0};
    uint8_t *snap_data = NULL;
    size_t snap_len = 0;
    int rc = q->dir == NULL ? RILL_ERR_NOMEM : RILL_OK;
    struct raft_hard_state hs;
    if (rc == 0) {
        rc = quorum_state_read(dir, &hs);
        if (rc == RILL_ERR_NOT_FOUND)
            rc = RILL_OK;
        else if (rc != 0)
            log_error("quorum", "cannot read %s/%s: %s", dir, QUORUM_STATE_FILE,
                      rill_strerror(rc));
    }
    if (rc == 0)
        rc = quorum_load_snapshot(q, &snap_data, &snap_len);
    if (rc == 0) {
        rc = quorum_load(q, &ld);
        if (rc != 0)
            log_error("quorum", "cannot read the metadata log: %s", rill_strerror(rc));
    }
    /* Entries from before the quorum (a single node's log): their term is
     * 0; a hard state older than an entry's term cannot be (it is written
     * first), so such a log is refused by raft_create. */
    int64_t tick = cfg->tick_ms > 0 ? cfg->tick_ms : 1;
    struct raft_config rcfg = {
        .id = cfg->node_id,
        .voters = cfg->voters,
        .nvoters = cfg->nvoters,
        .election_ticks = (uint32_t)(cfg->election_timeout_ms / tick),
        .fetch_timeout_ticks = (uint32_t)(cfg->fetch_timeout_ms / tick),
        .heartbeat_ticks = (uint32_t)(cfg->fetch_max_wait_ms / tick),
        .request_timeout_ticks = (uint32_t)(cfg->request_timeout_ms / tick),
        .max_fetch_bytes = 1 << 20,
        .max_snapshot_chunk_bytes = 1 << 20,
        .seed = cfg->seed};
    struct raft_snapshot snap = {.index = q->snap_index, .term = q->snap_term,
                                 .data = snap_data, .len = snap_len};
    if (rc == 0) {
        rc = raft_create(&rcfg, &hs, snap_data != NULL ? &snap : NULL, ld.entries, ld.n,
                         &q->raft);
        if (rc != 0)
            log_error("quorum", "the metadata log and %s disagree (%s)", QUORUM_STATE_FILE,
                      rill_strerror(rc));
    }
    for (size_t i = 0; i < ld.n; i++)
        free(ld.entries[i].data);
    free(ld.entries);
    free(snap_data);
    if (rc != 0) {
        quorum_close(q);
        return rc;
    }
    /* Apply what is known committed; a lone voter elects itself and
     * commits the rest at once. Start-up may wait on the flusher, whose
     * callbacks reach this node through *out. */
    *out = q;
    if (cfg->nvoters == 1 && cfg->voters[0] == cfg->node_id)
        (void)raft_campaign(q->raft);
    quorum_pump(q);
    while (q->waiting_durable && !q->failed && !storage_log_offline(log)) {
        storage_store_drain(b->store);
        storage_store_reap(b->store);
    }
    if (q->failed || storage_log_offline(log)) {
        *out = NULL;
        quorum_close(q);
        return RILL_ERR_IO;
    }
    return RILL_OK;
}

void quorum_close(struct quorum *q)
{
    if (q == NULL)
        return;
    if (q->in_ready) {
        /* Not advanced: the node is freed with it (raft_free takes the
         * ready's messages too). */
        q->in_ready = false;
    }
    if (q->snap_job != NULL)
        q->snap_job->q = NULL; /* its done() frees it when the worker is reaped */
    if (q->compact != NULL)
        quorum_snapshot_job_free(q->compact);
    raft_free(q->raft);
    for (size_t i = 0; i < q->nheld; i++)
        raft_msg_free(&q->held[i]);
    free(q->held);
    free(q->base_offset);
    free(q->dir);
    free(q);
}
