#include "broker/replica/partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/metadata_log.h"
#include "broker/quorum/raft_wire.h"
#include "broker/replica/fetcher.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "metadata/image.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

/* How often, at most, a moving high watermark is checkpointed. */
#define PARTITION_HW_SAVE_MS 1000

static void partition_fail_list(struct partition_waiter **head, struct partition_waiter **tail,
                                int error)
{
    while (*head != NULL) {
        struct partition_waiter *w = *head;
        *head = w->next;
        if (*head == NULL)
            *tail = NULL;
        w->fn(w, error);
    }
    *tail = NULL;
}

static void partition_complete_list(struct partition_waiter **head,
                                    struct partition_waiter **tail, int64_t reached)
{
    while (*head != NULL && (*head)->offset <= reached) {
        struct partition_waiter *w = *head;
        *head = w->next;
        if (*head == NULL)
            *tail = NULL;
        w->fn(w, 0);
    }
}

static void partition_notify(struct partition *p, struct partition_watch **list)
{
    /* A callback removes its fetch's other watches (perhaps the next one
     * here) and may add watches again if it keeps waiting: so restart from
     * the head after each call, and skip watches already seen or added in
     * this round. */
    uint64_t round = ++p->notify_round;
    for (;;) {
        struct partition_watch *w = *list;
        while (w != NULL && w->round == round)
            w = w->next;
        if (w == NULL)
            break;
        w->round = round;
        partition_watch_remove(w);
        w->fn(w);
    }
}

static void partition_notify_all(struct partition *p)
{
    partition_notify(p, &p->watches);
    partition_notify(p, &p->append_watches);
}

static void partition_save_hw(struct partition *p, bool force)
{
    int64_t now = clock_mono_ms();
    if (p->high_watermark == p->hw_saved ||
        (!force && now - p->hw_saved_ms < PARTITION_HW_SAVE_MS))
        return;
    storage_log_save_high_watermark(p->log, p->high_watermark);
    p->hw_saved = p->high_watermark;
    p->hw_saved_ms = now;
}

static void partition_advance_hw(struct partition *p, int64_t hw)
{
    if (hw <= p->high_watermark)
        return;
    /* Consumers see everything below the high watermark: past the log
     * end it would show them offsets that hold nothing. */
    ASSERT(hw <= storage_log_end_offset(p->log));
    p->high_watermark = hw;
    partition_save_hw(p, false);
    partition_complete_list(&p->waiters_head, &p->waiters_tail, hw);
    partition_notify(p, &p->watches);
}

/* What the leader's own copy counts for. */
static int64_t partition_self_offset(const struct partition *p)
{
    return p->topic->cfg.log.flush_policy == FLUSH_ALWAYS ? storage_log_durable_offset(p->log)
                                                           : storage_log_end_offset(p->log);
}

static void partition_leader_update_hw(struct partition *p)
{
    if (p->role != PARTITION_LEADER)
        return;
    int64_t hw = replica_set_high_watermark(&p->rs, partition_self_offset(p),
                                            p->topic->cfg.min_insync_replicas);
    if (hw >= 0)
        partition_advance_hw(p, hw);
}

static void partition_on_durable(struct storage_log *log, int64_t durable_offset, void *ctx)
{
    (void)log;
    struct partition *p = ctx;
    if (p->topic->cfg.log.flush_policy == FLUSH_ALWAYS)
        partition_complete_list(&p->local_head, &p->local_tail, durable_offset);
    if (p->role == PARTITION_LEADER)
        partition_leader_update_hw(p);
    else if (p->role == PARTITION_FOLLOWER)
        replica_fetchers_durable(p);
}

/* The log's directory went offline: what waits for durability will never
 * get it, so it is answered KAFKA_STORAGE_ERROR now, and long-polls wake
 * to find the same; the broker has its leaderships moved away. */
static void partition_on_offline(struct storage_log *log, void *ctx)
{
    (void)log;
    struct partition *p = ctx;
    partition_fail_list(&p->waiters_head, &p->waiters_tail, KAFKA_ERR_KAFKA_STORAGE_ERROR);
    partition_fail_list(&p->local_head, &p->local_tail, KAFKA_ERR_KAFKA_STORAGE_ERROR);
    partition_notify_all(p);
    broker_on_storage_offline(p->broker);
}

/* Idempotent producers' state is rebuilt from the batch headers of the
 * last segments: enough to recognise retries of anything recent. */
#define PARTITION_PRODUCER_SCAN_SEGMENTS 2

static int partition_restore_producer(void *ctx, const struct storage_batch_info *bi)
{
    struct partition *p = ctx;
    if (bi->producer_id < 0 || (bi->attributes & RB_ATTR_CONTROL))
        return 0;
    return producer_state_record(&p->producers, bi->producer_id, bi->producer_epoch,
                                 bi->base_sequence, bi->last_offset_delta, bi->base_offset,
                                 bi->max_timestamp) == 0
               ? 0
               : RILL_ERR_NOMEM;
}

static int partition_rebuild_producers(struct partition *p)
{
    producer_table_free(&p->producers);
    int rc = producer_table_init(&p->producers);
    if (rc == 0)
        rc = storage_log_scan_tail(p->log, PARTITION_PRODUCER_SCAN_SEGMENTS,
                                   partition_restore_producer, p);
    return rc;
}

int partition_open(struct broker *b, struct broker_topic *topic, int32_t index,
                   struct partition **out)
{
    struct partition *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RILL_ERR_NOMEM;
    p->broker = b;
    p->topic = topic;
    p->index = index;
    p->leader = -1;
    p->leader_epoch = -1;
    char name[300];
    snprintf(name, sizeof(name), "%s-%d", topic->name, index);
    const char *dir = storage_store_dir_for(b->store, name);
    int rc = storage_log_open(b->store, dir, name, topic->id, &topic->cfg.log,
                              partition_on_durable, p, &p->log);
    if (rc != 0) {
        free(p);
        return rc;
    }
    storage_log_on_offline(p->log, partition_on_offline);
    /* What was known committed, not the log end: a follower's tail may
     * be truncated by the next leader. A leader alone in its ISR moves it
     * to its durable end at once. */
    p->high_watermark = storage_log_saved_high_watermark(p->log);
    p->hw_saved = p->high_watermark;
    rc = producer_table_init(&p->producers);
    if (rc == 0)
        rc = storage_log_scan_tail(p->log, PARTITION_PRODUCER_SCAN_SEGMENTS,
                                   partition_restore_producer, p);
    if (rc != 0) {
        producer_table_free(&p->producers);
        storage_log_close(p->log);
        free(p);
        return rc;
    }
    *out = p;
    return RILL_OK;
}

/* Which followers the image has live (fencing does not always change the
 * partition: refreshed before every ISR decision too). */
static void partition_refresh_live(struct partition *p)
{
    const struct metadata_image *image = metadata_log_image(p->broker->mlog);
    for (size_t i = 0; i < p->nreplicas; i++)
        replica_set_live(&p->rs, p->replicas[i],
                         metadata_image_broker_live(image, p->replicas[i]));
}

/* Everything bound to the role held until now ends. */
static void partition_fence(struct partition *p, int error)
{
    partition_fail_list(&p->waiters_head, &p->waiters_tail, error);
    partition_fail_list(&p->local_head, &p->local_tail, error);
    partition_notify_all(p);
}

void partition_follow_image(struct partition *p, const struct metadata_partition *mp)
{
    struct broker *b = p->broker;
    int32_t me = b->cfg.node_id;
    enum partition_role role = mp->leader == me ? PARTITION_LEADER : PARTITION_FOLLOWER;
    ASSERT(mp->nreplicas <= LIMIT_REPLICATION_FACTOR);
    memcpy(p->replicas, mp->replicas, mp->nreplicas * sizeof(*p->replicas));
    p->nreplicas = mp->nreplicas;
    bool changed = role != p->role || mp->leader_epoch != p->leader_epoch ||
                   mp->leader != p->leader;
    p->leader = mp->leader;
    if (changed) {
        partition_fence(p, KAFKA_ERR_NOT_LEADER_OR_FOLLOWER);
        p->role = role;
        p->leader_epoch = mp->leader_epoch;
        if (role == PARTITION_LEADER) {
            replica_set_reset(&p->rs, me, mp->replicas, mp->nreplicas, mp->isr, mp->nisr,
                              clock_mono_ms());
            p->epoch_start = storage_log_end_offset(p->log);
            log_info("replica", "%s-%d: leader in epoch %d from offset %lld (high watermark "
                     "%lld)", p->topic->name, p->index, p->leader_epoch,
                     (long long)p->epoch_start, (long long)p->high_watermark);
        } else {
            log_info("replica", "%s-%d: following broker %d in epoch %d from offset %lld",
                     p->topic->name, p->index, p->leader, p->leader_epoch,
                     (long long)storage_log_end_offset(p->log));
        }
    }
    p->partition_epoch = mp->partition_epoch;
    if (role == PARTITION_LEADER) {
        size_t before = p->rs.nisr;
        replica_set_committed(&p->rs, mp->isr, mp->nisr, mp->partition_epoch);
        partition_refresh_live(p);
        /* acks=all waits that can no longer be met by enough replicas:
         * told so now, as Kafka does, rather than left to time out. */
        if ((int64_t)mp->nisr < p->topic->cfg.min_insync_replicas &&
            (int64_t)before >= p->topic->cfg.min_insync_replicas)
            partition_fail_list(&p->waiters_head, &p->waiters_tail,
                                KAFKA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        partition_leader_update_hw(p);
    }
    replica_fetchers_assign(b, p);
}

void partition_close(struct partition *p, bool destroy, int error)
{
    if (p == NULL)
        return;
    partition_fence(p, error);
    replica_fetchers_release(p);
    if (p->in_dirty_list) {
        struct broker *b = p->broker;
        for (struct partition **pp = &b->dirty_head; *pp != NULL; pp = &(*pp)->next_dirty) {
            if (*pp == p) {
                *pp = p->next_dirty;
                break;
            }
        }
    }
    if (destroy) {
        storage_log_destroy(p->log);
    } else {
        partition_save_hw(p, true);
        storage_log_close(p->log);
    }
    producer_table_free(&p->producers);
    free(p);
}

int partition_append(struct partition *p, uint8_t *batch, size_t len,
                     const struct record_batch_info *info, int64_t *base_offset)
{
    if (p->role != PARTITION_LEADER)
        return RILL_ERR_INVALID;
    int rc = storage_log_append(p->log, batch, len, p->leader_epoch, info, clock_wall_ms(),
                                base_offset);
    if (rc != 0)
        return rc;
    broker_mark_dirty(p->broker, p);
    if (p->topic->cfg.log.flush_policy != FLUSH_ALWAYS)
        partition_complete_list(&p->local_head, &p->local_tail, storage_log_end_offset(p->log));
    partition_notify(p, &p->append_watches);
    partition_leader_update_hw(p);
    return RILL_OK;
}

/* A replicated batch's producer, as the leader recorded it. */
static void partition_note_producers(struct partition *p, const uint8_t *batches, size_t len)
{
    size_t pos = 0;
    while (len - pos >= RB_HEADER_BYTES) {
        int64_t size = record_batch_total_size(batches + pos, len - pos);
        if (size < RB_HEADER_BYTES || (size_t)size > len - pos)
            break;
        struct record_batch_header h;
        record_batch_header_read(batches + pos, &h);
        if (h.producer_id >= 0 && !(h.attributes & RB_ATTR_CONTROL) &&
            producer_state_record(&p->producers, h.producer_id, h.producer_epoch,
                                  h.base_sequence, h.last_offset_delta, h.base_offset,
                                  h.max_timestamp) != 0)
            log_warn("replica", "%s-%d: producer %lld not tracked (out of memory)",
                     p->topic->name, p->index, (long long)h.producer_id);
        pos += (size_t)size;
    }
}

int partition_append_replica(struct partition *p, const uint8_t *batches, size_t len,
                             size_t *appended)
{
    int rc = storage_log_append_replica(p->log, batches, len, clock_wall_ms(), appended);
    if (*appended > 0) {
        partition_note_producers(p, batches, *appended);
        broker_mark_dirty(p->broker, p);
    }
    return rc;
}

void partition_follower_hw(struct partition *p, int64_t leader_hw)
{
    int64_t end = storage_log_end_offset(p->log);
    int64_t hw = leader_hw < end ? leader_hw : end;
    if (p->topic->cfg.log.flush_policy == FLUSH_ALWAYS &&
        hw > storage_log_durable_offset(p->log))
        hw = storage_log_durable_offset(p->log);
    partition_advance_hw(p, hw);
}

int partition_truncate(struct partition *p, int64_t offset)
{
    if (offset >= storage_log_end_offset(p->log))
        return RILL_OK;
    log_info("replica", "%s-%d: truncating from %lld to %lld to match the leader's history",
             p->topic->name, p->index, (long long)storage_log_end_offset(p->log),
             (long long)offset);
    int rc = storage_log_truncate(p->log, offset);
    if (rc == 0 && p->high_watermark > storage_log_end_offset(p->log))
        p->high_watermark = storage_log_end_offset(p->log);
    if (rc == 0)
        rc = partition_rebuild_producers(p);
    return rc;
}

int partition_reset(struct partition *p, int64_t offset)
{
    log_info("replica", "%s-%d: starting over empty at the leader's log start %lld",
             p->topic->name, p->index, (long long)offset);
    int rc = storage_log_reset(p->log, offset);
    if (rc == 0) {
        p->high_watermark = offset;
        rc = partition_rebuild_producers(p);
    }
    return rc;
}

static void partition_send_isr(struct partition *p, const int32_t *isr, size_t nisr)
{
    struct broker *b = p->broker;
    if (b->registered_epoch <= 0)
        return;
    struct raft_wire_alter_isr ai = {.broker_id = b->cfg.node_id,
                                     .broker_epoch = b->registered_epoch,
                                     .partition = p->index,
                                     .leader_epoch = p->leader_epoch,
                                     .partition_epoch = p->partition_epoch,
                                     .isr = isr,
                                     .nisr = nisr};
    memcpy(ai.topic_id, p->topic->id, 16);
    log_info("replica", "%s-%d: asking for ISR of %zu (was %zu) at partition epoch %d",
             p->topic->name, p->index, nisr, p->rs.nisr, p->partition_epoch);
    int32_t controller = metadata_log_leader(b->mlog);
    if (controller == b->cfg.node_id)
        controller_driver_on_alter_isr(b->controller, &ai);
    else if (controller >= 0)
        metadata_log_send_alter_isr(b->mlog, controller, &ai);
}

void partition_check_isr(struct partition *p)
{
    if (p->role != PARTITION_LEADER || p->rs.nfollowers == 0)
        return;
    partition_refresh_live(p);
    int32_t isr[LIMIT_REPLICATION_FACTOR];
    size_t nisr = 0;
    if (replica_set_next_isr(&p->rs, clock_mono_ms(), p->broker->cfg.replica_lag_time_max_ms,
                             p->high_watermark, p->epoch_start, p->partition_epoch, isr, &nisr))
        partition_send_isr(p, isr, nisr);
}

bool partition_replica_fetched(struct partition *p, int32_t id, int64_t fetch_offset)
{
    if (p->role != PARTITION_LEADER)
        return false;
    bool was_member = replica_set_in_isr(&p->rs, id);
    if (!replica_set_fetched(&p->rs, id, fetch_offset, storage_log_end_offset(p->log),
                             clock_mono_ms()))
        return false;
    partition_leader_update_hw(p);
    if (!was_member)
        partition_check_isr(p); /* it may have caught up: join at once */
    return true;
}

int16_t partition_check_leader_epoch(const struct partition *p, int32_t current)
{
    if (current < 0 || current == p->leader_epoch)
        return 0;
    return current < p->leader_epoch ? KAFKA_ERR_FENCED_LEADER_EPOCH
                                     : KAFKA_ERR_UNKNOWN_LEADER_EPOCH;
}

bool partition_enough_replicas(const struct partition *p)
{
    return (int64_t)p->rs.nisr >= p->topic->cfg.min_insync_replicas;
}

void partition_wait(struct partition *p, struct partition_waiter *w)
{
    int64_t reached = w->local ? partition_self_offset(p) : p->high_watermark;
    if (w->offset <= reached) {
        w->fn(w, 0);
        return;
    }
    struct partition_waiter **head = w->local ? &p->local_head : &p->waiters_head;
    struct partition_waiter **tail = w->local ? &p->local_tail : &p->waiters_tail;
    w->next = NULL;
    if (*tail != NULL)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
}

void partition_unwait(struct partition *p, struct partition_waiter *w)
{
    struct partition_waiter **head = w->local ? &p->local_head : &p->waiters_head;
    struct partition_waiter **tail = w->local ? &p->local_tail : &p->waiters_tail;
    struct partition_waiter *prev = NULL;
    for (struct partition_waiter *x = *head; x != NULL; prev = x, x = x->next) {
        if (x != w)
            continue;
        if (prev != NULL)
            prev->next = x->next;
        else
            *head = x->next;
        if (*tail == x)
            *tail = prev;
        return;
    }
}

void partition_watch_add(struct partition *p, struct partition_watch *w)
{
    struct partition_watch **list = w->on_append ? &p->append_watches : &p->watches;
    w->partition = p;
    w->round = p->notify_round;
    w->prev = NULL;
    w->next = *list;
    if (*list != NULL)
        (*list)->prev = w;
    *list = w;
}

void partition_watch_remove(struct partition_watch *w)
{
    struct partition *p = w->partition;
    if (p == NULL)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else if (w->on_append)
        p->append_watches = w->next;
    else
        p->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->partition = NULL;
}

void partition_reconfigure(struct partition *p)
{
    storage_log_set_config(p->log, &p->topic->cfg.log);
}
