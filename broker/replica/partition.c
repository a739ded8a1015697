#include "broker/replica/partition.h"

#include <stdio.h>
#include <stdlib.h>

#include "broker/broker.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

static void partition_complete_waiters(struct partition *p)
{
    while (p->waiters_head != NULL && p->waiters_head->offset <= p->high_watermark) {
        struct partition_waiter *w = p->waiters_head;
        p->waiters_head = w->next;
        if (p->waiters_head == NULL)
            p->waiters_tail = NULL;
        w->fn(w, 0);
    }
}

static void partition_notify_watches(struct partition *p)
{
    /* A callback removes its fetch's other watches (perhaps the next one
     * here) and may add watches again if it keeps waiting: so restart from
     * the head after each call, and skip watches already seen or added in
     * this round. */
    uint64_t round = ++p->notify_round;
    for (;;) {
        struct partition_watch *w = p->watches;
        while (w != NULL && w->round == round)
            w = w->next;
        if (w == NULL)
            break;
        w->round = round;
        partition_watch_remove(w);
        w->fn(w);
    }
}

static void partition_advance_hw(struct partition *p, int64_t hw)
{
    if (hw <= p->high_watermark)
        return;
    /* Consumers see everything below the high watermark: past the log
     * end it would show them offsets that hold nothing. */
    ASSERT(hw <= storage_log_end_offset(p->log));
    p->high_watermark = hw;
    partition_complete_waiters(p);
    partition_notify_watches(p);
}

static void partition_on_durable(struct storage_log *log, int64_t durable_offset, void *ctx)
{
    (void)log;
    struct partition *p = ctx;
    if (p->topic->cfg.log.flush_policy == FLUSH_ALWAYS)
        partition_advance_hw(p, durable_offset);
}

/* The log's directory went offline: what waits for durability will never
 * get it, so it is answered KAFKA_STORAGE_ERROR now, and long-polls wake
 * to find the same. */
static void partition_on_offline(struct storage_log *log, void *ctx)
{
    (void)log;
    struct partition *p = ctx;
    while (p->waiters_head != NULL) {
        struct partition_waiter *w = p->waiters_head;
        p->waiters_head = w->next;
        w->fn(w, KAFKA_ERR_KAFKA_STORAGE_ERROR);
    }
    p->waiters_tail = NULL;
    partition_notify_watches(p);
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

int partition_open(struct broker *b, struct broker_topic *topic, int32_t index,
                   int32_t leader_epoch, struct partition **out)
{
    struct partition *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RILL_ERR_NOMEM;
    p->broker = b;
    p->topic = topic;
    p->index = index;
    p->leader_epoch = leader_epoch;
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
    /* Recovery made everything on disk durable. */
    p->high_watermark = storage_log_end_offset(p->log);
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

void partition_close(struct partition *p, bool destroy, int error)
{
    if (p == NULL)
        return;
    while (p->waiters_head != NULL) {
        struct partition_waiter *w = p->waiters_head;
        p->waiters_head = w->next;
        w->fn(w, error);
    }
    p->waiters_tail = NULL;
    partition_notify_watches(p);
    if (p->in_dirty_list) {
        struct broker *b = p->broker;
        for (struct partition **pp = &b->dirty_head; *pp != NULL; pp = &(*pp)->next_dirty) {
            if (*pp == p) {
                *pp = p->next_dirty;
                break;
            }
        }
    }
    if (destroy)
        storage_log_destroy(p->log);
    else
        storage_log_close(p->log);
    producer_table_free(&p->producers);
    free(p);
}

int partition_append(struct partition *p, uint8_t *batch, size_t len,
                     const struct record_batch_info *info, int64_t *base_offset)
{
    int rc = storage_log_append(p->log, batch, len, p->leader_epoch, info, clock_wall_ms(),
                                base_offset);
    if (rc != 0)
        return rc;
    broker_mark_dirty(p->broker, p);
    if (p->topic->cfg.log.flush_policy != FLUSH_ALWAYS)
        partition_advance_hw(p, storage_log_end_offset(p->log));
    return RILL_OK;
}

void partition_wait(struct partition *p, struct partition_waiter *w)
{
    if (w->offset <= p->high_watermark) {
        w->fn(w, 0);
        return;
    }
    w->next = NULL;
    if (p->waiters_tail != NULL)
        p->waiters_tail->next = w;
    else
        p->waiters_head = w;
    p->waiters_tail = w;
}

void partition_watch_add(struct partition *p, struct partition_watch *w)
{
    w->partition = p;
    w->round = p->notify_round;
    w->prev = NULL;
    w->next = p->watches;
    if (p->watches != NULL)
        p->watches->prev = w;
    p->watches = w;
}

void partition_watch_remove(struct partition_watch *w)
{
    struct partition *p = w->partition;
    if (p == NULL)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
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
