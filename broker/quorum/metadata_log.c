#include "broker/quorum/metadata_log.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker/broker.h"
#include "broker/net/rpc.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/quorum.h"
#include "broker/quorum/raft_wire.h"
#include "common/assert.h"
#include "common/checked.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "common/rill_error.h"
#include "metadata/snapshot.h"
#include "proto/kafka_errors.h"
#include "proto/kafka_wire.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "storage/log.h"

static const char metadata_log_name[] = METADATA_LOG_NAME;

/* The Raft clock: 10 ms ticks, so a 1000 ms election timeout is drawn
 * from 100 to 199 ticks. */
#define METADATA_TICK_MS 10

struct metadata_proposal {
    struct metadata_proposal *next;
    uint64_t index, term; /* the Raft entry that carries the records */
    bool applied;         /* that entry, in that term, was applied */
    metadata_applied_fn fn;
    void *ctx;
};

struct metadata_listener {
    metadata_listener_fn fn;
    void *ctx;
};

struct metadata_log {
    struct broker *broker;
    struct metadata_listener listeners[METADATA_MAX_LISTENERS];
    size_t nlisteners;
    struct storage_log *log;
    struct quorum *quorum;
    struct rpc *rpc;
    struct event *ev_tick;
    bool mismatch_logged;
    struct metadata_image image;
    uint64_t applied_index;
    uint64_t applied_term; /* the term of the entry at applied_index */
    struct metadata_proposal *pending_head, *pending_tail;
    metadata_request_fn on_request; /* frames that are not Raft messages */
    void *on_request_ctx;
};

const struct metadata_image *metadata_log_image(const struct metadata_log *ml)
{
    return &ml->image;
}

void metadata_log_listen(struct metadata_log *ml, metadata_listener_fn fn, void *ctx)
{
    ASSERT(ml->nlisteners < METADATA_MAX_LISTENERS);
    ml->listeners[ml->nlisteners++] = (struct metadata_listener){fn, ctx};
    fn(ctx, &ml->image);
}

static void metadata_notify(struct metadata_log *ml)
{
    for (size_t i = 0; i < ml->nlisteners; i++)
        ml->listeners[i].fn(ml->listeners[i].ctx, &ml->image);
}

/* Applies one committed record to the image. A record the image refuses
 * (or cannot hold for want of memory) is not skipped: every node applies
 * the same records, and one that skipped a record would hold a different
 * image from then on. The caller stops. */
static int metadata_apply_record(struct metadata_log *ml, const uint8_t *value, size_t len,
                                 int64_t offset)
{
    Rill__Metadata__MetadataRecord *rec =
        rill__metadata__metadata_record__unpack(NULL, len, value);
    if (rec == NULL) {
        log_error("metadata", "the committed record at offset %lld cannot be decoded",
                  (long long)offset);
        return RILL_ERR_CORRUPT;
    }
    int rc = metadata_image_apply(&ml->image, rec);
    rill__metadata__metadata_record__free_unpacked(rec, NULL);
    if (rc != 0) {
        log_error("metadata", "the committed record at offset %lld cannot be applied: %s",
                  (long long)offset, rill_strerror(rc));
        return rc;
    }
    ml->image.applied_offset = offset;
    return RILL_OK;
}

/* Applies the records of one committed batch, in order. */
static int metadata_apply_batch(struct metadata_log *ml, const uint8_t *batch, size_t len,
                                int64_t base_offset)
{
    struct record_iter it;
    struct record_view rec;
    int rc = record_iter_open(&it, batch, len);
    while (rc == 0 && (rc = record_iter_next(&it, &rec)) == 1) {
        rc = 0;
        int64_t offset;
        if (!checked_add_i64(base_offset, rec.offset_delta, &offset)) {
            rc = RILL_ERR_CORRUPT;
            break;
        }
        if (rec.value.ptr == NULL)
            continue;
        rc = metadata_apply_record(ml, rec.value.ptr, (size_t)rec.value.len, offset);
    }
    record_iter_close(&it);
    if (rc != 0)
        return rc == RILL_ERR_NOMEM ? rc : RILL_ERR_CORRUPT;
    return RILL_OK;
}

/* quorum hooks */

static int metadata_on_apply(void *ctx, uint64_t index, uint64_t term, const uint8_t *batch,
                             size_t len, int64_t base_offset)
{
    struct metadata_log *ml = ctx;
    ml->applied_index = index;
    ml->applied_term = term;
    for (struct metadata_proposal *p = ml->pending_head; p != NULL; p = p->next)
        if (p->index == index && p->term == term)
            p->applied = true;
    return batch == NULL ? RILL_OK : metadata_apply_batch(ml, batch, len, base_offset);
}

static int metadata_on_snapshot(void *ctx, uint64_t index, uint64_t term, int64_t next_offset,
                                uint8_t **data, size_t *len)
{
    struct metadata_log *ml = ctx;
    ASSERT(ml->applied_index == index); /* taken right after applying */
    struct metadata_snapshot_meta meta = {index, term, next_offset};
    return metadata_snapshot_encode(&ml->image, &meta, data, len);
}

static void metadata_complete(struct metadata_log *ml);

/* A snapshot replaces the image: at start-up (before any listener), or
 * from the leader, when the listeners find what changed as after any
 * batch. Proposals it overtakes learn that their entry was lost. */
static int metadata_on_install(void *ctx, uint64_t index, uint64_t term, const uint8_t *data,
                               size_t len)
{
    struct metadata_log *ml = ctx;
    struct metadata_image image;
    int rc = metadata_image_init(&image);
    if (rc != 0)
        return rc;
    struct metadata_snapshot_meta meta;
    rc = metadata_snapshot_decode(data, len, &meta, &image);
    if (rc == 0 && (meta.raft_index != index || meta.raft_term != term))
        rc = RILL_ERR_CORRUPT;
    if (rc != 0) {
        metadata_image_free(&image);
        log_error("metadata", "the metadata snapshot of entry %llu is not sound: %s",
                  (unsigned long long)index, rill_strerror(rc));
        return rc;
    }
    metadata_image_free(&ml->image);
    ml->image = image;
    ml->image.applied_offset = meta.next_offset - 1;
    ml->applied_index = index;
    ml->applied_term = term;
    log_info("metadata", "image from the snapshot of entry %llu: %zu topics, %zu brokers",
             (unsigned long long)index, ml->image.ntopics, ml->image.nbrokers);
    metadata_notify(ml);
    metadata_complete(ml);
    return RILL_OK;
}

static void metadata_complete(struct metadata_log *ml)
{
    while (ml->pending_head != NULL && ml->pending_head->index <= ml->applied_index) {
        struct metadata_proposal *p = ml->pending_head;
        ml->pending_head = p->next;
        if (ml->pending_head == NULL)
            ml->pending_tail = NULL;
        /* Another entry took its index: a leader change lost it. */
        p->fn(p->ctx, p->applied ? RILL_OK : RILL_ERR_AGAIN);
        free(p);
    }
}

static void metadata_on_applied(void *ctx)
{
    struct metadata_log *ml = ctx;
    metadata_notify(ml);
    metadata_complete(ml);
}

/* Tells every proposer still waiting that its records may not be
 * applied (rc). */
static void metadata_fail_pending(struct metadata_log *ml, int rc)
{
    while (ml->pending_head != NULL) {
        struct metadata_proposal *p = ml->pending_head;
        ml->pending_head = p->next;
        if (ml->pending_head == NULL)
            ml->pending_tail = NULL;
        p->fn(p->ctx, rc);
        free(p);
    }
}

static void metadata_on_failed(void *ctx, int rc)
{
    metadata_fail_pending(ctx, rc);
}

/* storage callbacks, routed to the quorum driver */

static void metadata_on_offline(struct storage_log *log, void *ctx)
{
    (void)log;
    struct metadata_log *ml = ctx;
    quorum_on_offline(ml->quorum);
}

static void metadata_on_durable(struct storage_log *log, int64_t durable, void *ctx)
{
    (void)log;
    struct metadata_log *ml = ctx;
    quorum_on_durable(ml->quorum, durable);
}

/* Raft messages to and from the other nodes (broker/net/rpc.h). */
static void metadata_on_send(void *ctx, const struct raft_msg *m)
{
    struct metadata_log *ml = ctx;
    uint8_t *frame;
    size_t len;
    if (ml->rpc == NULL ||
        raft_wire_encode(ml->broker->cluster_id, ml->broker->cfg.node_id, m, &frame, &len) != 0)
        return; /* lost, as on a network that drops it */
    rpc_send(ml->rpc, m->to, frame, len);
    free(frame);
}

static void metadata_on_peer_closed(void *ctx, int32_t node)
{
    struct broker *b = ctx;
    controller_driver_on_peer_closed(b->controller, node);
}

static void metadata_on_peer_gone(void *ctx, int32_t node)
{
    struct metadata_log *ml = ctx;
    if (ml->quorum != NULL)
        quorum_peer_gone(ml->quorum, node);
}

static int32_t metadata_on_frame(void *ctx, const uint8_t *body, size_t len)
{
    struct metadata_log *ml = ctx;
    struct raft_wire_decoded d;
    int rc = raft_wire_decode(body, len, ml->broker->cluster_id, &d);
    if (rc == RILL_ERR_MISMATCH) {
        if (!ml->mismatch_logged)
            log_error("quorum", "a node of another cluster (not %s) sent a Raft message; "
                                "refused (check controller.quorum.voters and the data "
                                "directories)",
                      ml->broker->cluster_id);
        ml->mismatch_logged = true;
        return -1;
    }
    if (rc != 0)
        return -1;
    int32_t from = d.from;
    if (d.kind == RAFT_WIRE_RAFT) {
        if (d.msg.to == ml->broker->cfg.node_id && ml->quorum != NULL)
            quorum_step(ml->quorum, &d.msg);
    } else if (ml->on_request != NULL) {
        ml->on_request(ml->on_request_ctx, &d);
    }
    raft_wire_decoded_free(&d);
    return from;
}

static void metadata_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct metadata_log *ml = arg;
    quorum_tick(ml->quorum);
}

int metadata_log_open(struct broker *b, metadata_request_fn on_request, void *ctx,
                      struct metadata_log **out)
{
    struct metadata_log *ml = calloc(1, sizeof(*ml));
    if (ml == NULL)
        return RILL_ERR_NOMEM;
    ml->broker = b;
    ml->on_request = on_request;
    ml->on_request_ctx = ctx;
    int rc = metadata_image_init(&ml->image);
    if (rc != 0) {
        free(ml);
        return rc;
    }
    /* Metadata is always fsynced before it counts, whatever the data
     * flush policy, and is never deleted by retention. */
    struct storage_log_config cfg = b->cfg.log_defaults;
    cfg.flush_policy = FLUSH_ALWAYS;
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    cfg.segment_bytes = b->cfg.metadata_log_segment_bytes;
    const char *dir = storage_store_dir_for(b->store, metadata_log_name);
    rc = storage_log_open(b->store, dir, metadata_log_name, NULL, &cfg, metadata_on_durable, ml,
                          &ml->log);
    if (rc != 0) {
        metadata_image_free(&ml->image);
        free(ml);
        return rc;
    }
    storage_log_on_offline(ml->log, metadata_on_offline);
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, metadata_log_name);
    int32_t voters[sizeof(b->cfg.voters) / sizeof(b->cfg.voters[0])];
    for (size_t i = 0; i < b->cfg.nvoters; i++)
        voters[i] = b->cfg.voters[i].id;
    uint64_t seed = 0;
    (void)random_bytes(&seed, sizeof(seed));
    struct quorum_config qcfg = {
        .node_id = b->cfg.node_id,
        .voters = voters,
        .nvoters = b->cfg.nvoters,
        .tick_ms = METADATA_TICK_MS,
        .election_timeout_ms = b->cfg.controller_quorum_election_timeout_ms,
        .fetch_timeout_ms = b->cfg.controller_quorum_fetch_timeout_ms,
        /* KRaft's leader answers an idle fetch within 500 ms; less when
         * the election timeout is set lower, so followers keep hearing. */
        .fetch_max_wait_ms = b->cfg.controller_quorum_election_timeout_ms / 2 < 500
                                 ? b->cfg.controller_quorum_election_timeout_ms / 2
                                 : 500,
        .request_timeout_ms = b->cfg.controller_quorum_request_timeout_ms,
        .snapshot_bytes = b->cfg.metadata_log_max_record_bytes_between_snapshots,
        .seed = seed};
    struct quorum_hooks hooks = {.ctx = ml,
                                 .apply = metadata_on_apply,
                                 .snapshot = metadata_on_snapshot,
                                 .install = metadata_on_install,
                                 .applied = metadata_on_applied,
                                 .send = b->cfg.nvoters > 1 || !b->cfg.voter ? metadata_on_send
                                                                             : NULL,
                                 .failed = metadata_on_failed};
    if (hooks.send != NULL || b->cfg.controller.port != -1) {
        rc = rpc_start(b, metadata_on_frame, ml, &ml->rpc);
        if (rc == 0) {
            rpc_on_peer_closed(ml->rpc, metadata_on_peer_closed, b);
            rpc_on_peer_gone(ml->rpc, metadata_on_peer_gone, ml);
        }
    }
    if (rc == 0)
        rc = quorum_open(b, ml->log, path, &qcfg, &hooks, &ml->quorum);
    if (rc == 0) {
        ml->ev_tick = event_new(b->base, -1, EV_PERSIST, metadata_on_tick, ml);
        struct timeval tv = {0, METADATA_TICK_MS * 1000};
        if (ml->ev_tick == NULL || event_add(ml->ev_tick, &tv) != 0)
            rc = RILL_ERR_NOMEM;
    }
    if (rc != 0) {
        log_error("metadata",
                  "cannot replay the metadata log: %s; the broker does not start on an image "
                  "that differs from its log",
                  rill_strerror(rc));
        metadata_log_close(ml);
        return rc;
    }
    *out = ml;
    log_info("metadata", "replayed the metadata log up to offset %lld: %zu topics",
             (long long)ml->image.applied_offset, ml->image.ntopics);
    return RILL_OK;
}

void metadata_log_abort_pending(struct metadata_log *ml)
{
    if (ml != NULL)
        metadata_fail_pending(ml, RILL_ERR_CLOSED);
}

void metadata_log_close(struct metadata_log *ml)
{
    if (ml == NULL)
        return;
    metadata_log_abort_pending(ml);
    if (ml->ev_tick != NULL)
        event_free(ml->ev_tick);
    rpc_free(ml->rpc);
    ml->rpc = NULL;
    quorum_close(ml->quorum);
    storage_log_close(ml->log);
    metadata_image_free(&ml->image);
    free(ml);
}

int metadata_log_propose(struct metadata_log *ml, Rill__Metadata__MetadataRecord *const *recs,
                         size_t n, metadata_applied_fn fn, void *ctx)
{
    if (n == 0)
        return RILL_ERR_INVALID;
    struct metadata_proposal *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RILL_ERR_NOMEM;
    struct kafka_writer records, batch;
    kafka_writer_init(&records);
    kafka_writer_init(&batch);
    int rc = RILL_OK;
    for (size_t i = 0; i < n; i++) {
        size_t size = rill__metadata__metadata_record__get_packed_size(recs[i]);
        uint8_t *value = malloc(size ? size : 1);
        if (value == NULL) {
            rc = RILL_ERR_NOMEM;
            break;
        }
        rill__metadata__metadata_record__pack(recs[i], value);
        record_write(&records, 0, (int32_t)i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){value, (int32_t)size});
        free(value);
    }
    int64_t now = clock_wall_ms();
    if (rc == 0)
        rc = record_batch_build(&batch, 0, now, now, (int32_t)n, records.buf, records.len);
    struct record_batch_info info;
    if (rc == 0 && record_batch_validate(batch.buf, batch.len, &info) != RB_OK)
        rc = RILL_ERR_INVALID;
    uint64_t index = 0, term = 0;
    if (rc == 0)
        rc = quorum_propose(ml->quorum, batch.buf, batch.len, &index, &term);
    kafka_writer_free(&records);
    kafka_writer_free(&batch);
    if (rc != 0) {
        log_error("metadata", "cannot propose metadata records: %s", rill_strerror(rc));
        free(p);
        return rc;
    }
    p->index = index;
    p->term = term;
    p->fn = fn;
    p->ctx = ctx;
    if (ml->pending_tail != NULL)
        ml->pending_tail->next = p;
    else
        ml->pending_head = p;
    ml->pending_tail = p;
    /* Not applied yet: the entry waits at least for its fsync. */
    ASSERT(ml->applied_index < index);
    return RILL_OK;
}

int16_t metadata_log_propose_error(int rc)
{
    return rc == RILL_ERR_AGAIN ? KAFKA_ERR_NOT_CONTROLLER : KAFKA_ERR_KAFKA_STORAGE_ERROR;
}

bool metadata_log_failed(const struct metadata_log *ml)
{
    return quorum_failed(ml->quorum);
}

int32_t metadata_log_leader(const struct metadata_log *ml)
{
    struct raft_status st;
    quorum_status(ml->quorum, &st);
    return st.leader;
}

void metadata_log_status(const struct metadata_log *ml, struct raft_status *st)
{
    quorum_status(ml->quorum, st);
}

size_t metadata_log_replicas(const struct metadata_log *ml, struct raft_replica_status *out,
                             size_t max)
{
    return quorum_replicas(ml->quorum, out, max);
}

int metadata_log_internal_port(const struct metadata_log *ml)
{
    return rpc_bound_port(ml->rpc);
}

void metadata_log_resign(struct metadata_log *ml)
{
    quorum_resign(ml->quorum);
}

int64_t metadata_log_end_offset_of(const struct metadata_log *ml, uint64_t index)
{
    return quorum_end_offset_of(ml->quorum, index);
}

int64_t metadata_log_age_ms(const struct metadata_log *ml, uint64_t tick)
{
    uint64_t now = quorum_ticks(ml->quorum);
    return now > tick ? (int64_t)(now - tick) * quorum_tick_ms(ml->quorum) : 0;
}

bool metadata_log_controller_active(const struct metadata_log *ml)
{
    struct raft_status st;
    quorum_status(ml->quorum, &st);
    return st.role == RAFT_LEADER && ml->applied_term == st.term && st.applied == st.commit;
}

/* Sends a frame that encode() made (0 or a RILL_ERR_*; a failure is a
 * message lost, as on a network that drops it). */
static void metadata_log_send_frame(struct metadata_log *ml, int32_t to, int rc, uint8_t *frame,
                                    size_t len)
{
    if (rc == 0 && ml->rpc != NULL)
        rpc_send(ml->rpc, to, frame, len);
    if (rc == 0)
        free(frame);
}

void metadata_log_send_registration(struct metadata_log *ml, int32_t to,
                                    const struct raft_wire_registration *reg)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_registration(ml->broker->cluster_id, ml->broker->cfg.node_id, reg,
                                           &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}

void metadata_log_send_heartbeat(struct metadata_log *ml, int32_t to,
                                 const struct raft_wire_heartbeat *hb)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_heartbeat(ml->broker->cluster_id, ml->broker->cfg.node_id, hb,
                                        &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}

void metadata_log_send_alter_isr(struct metadata_log *ml, int32_t to,
                                 const struct raft_wire_alter_isr *ai)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_alter_isr(ml->broker->cluster_id, ml->broker->cfg.node_id, ai,
                                        &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}

void metadata_log_send_producer_ids(struct metadata_log *ml, int32_t to, int32_t broker_id,
                                    int64_t broker_epoch)
{
    struct raft_wire_producer_ids pr = {broker_id, broker_epoch};
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_producer_ids(ml->broker->cluster_id, ml->broker->cfg.node_id, &pr,
                                           &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}

void metadata_log_send_topic_creation(struct metadata_log *ml, int32_t to,
                                      const struct raft_wire_topic_creation *tc)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_topic_creation(ml->broker->cluster_id, ml->broker->cfg.node_id, tc,
                                             &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}

void metadata_log_send_forwarded(struct metadata_log *ml, int32_t to, bool response,
                                 const struct raft_wire_forwarded *fw)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = raft_wire_encode_forwarded(ml->broker->cluster_id, ml->broker->cfg.node_id, response,
                                        fw, &frame, &len);
    metadata_log_send_frame(ml, to, rc, frame, len);
}
