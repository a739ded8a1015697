#include "broker/quorum/producer_ids.h"

#include <stdlib.h>

#include "broker/broker.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/metadata_log.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"

struct producer_ids_waiter {
    struct producer_ids_waiter *next;
    void (*fn)(void *ctx, int error);
    void *ctx;
};

struct producer_ids {
    int64_t next;            /* next id to hand out */
    int64_t end;             /* end of the usable block */
    bool requested;          /* a block was asked for and not yet granted */
    int64_t next_at_request; /* the image's next_producer_id when asked */
    int64_t sent_ms;         /* when the request last went out */
    int64_t waiting_since_ms;
    struct producer_ids_waiter *waiters;
};

int producer_ids_create(struct producer_ids **out)
{
    struct producer_ids *pids = calloc(1, sizeof(*pids));
    if (pids == NULL)
        return RILL_ERR_NOMEM;
    *out = pids;
    return RILL_OK;
}

static void producer_ids_wake(struct producer_ids *pids, int error)
{
    struct producer_ids_waiter *w = pids->waiters;
    pids->waiters = NULL;
    while (w != NULL) {
        struct producer_ids_waiter *next = w->next;
        w->fn(w->ctx, error);
        free(w);
        w = next;
    }
}

void producer_ids_free(struct producer_ids *pids)
{
    if (pids == NULL)
        return;
    producer_ids_wake(pids, RILL_ERR_CLOSED);
    free(pids);
}

static void producer_ids_send(struct broker *b)
{
    struct producer_ids *pids = b->pids;
    pids->sent_ms = clock_mono_ms();
    const struct metadata_broker *me =
        metadata_image_broker(metadata_log_image(b->mlog), b->cfg.node_id);
    int64_t epoch = me != NULL ? me->epoch : -1;
    int32_t leader = metadata_log_leader(b->mlog);
    if (leader == b->cfg.node_id)
        controller_driver_on_producer_ids(b->controller, b->cfg.node_id, epoch);
    else if (leader >= 0)
        metadata_log_send_producer_ids(b->mlog, leader, b->cfg.node_id, epoch);
}

void producer_ids_follow_image(void *ctx, const struct metadata_image *image)
{
    struct broker *b = ctx;
    struct producer_ids *pids = b->pids;
    if (!pids->requested || image->producer_ids_broker != b->cfg.node_id ||
        image->next_producer_id == pids->next_at_request)
        return;
    /* The last block granted is ours, and granted since we asked. */
    pids->requested = false;
    pids->next = image->next_producer_id - PRODUCER_ID_BLOCK;
    pids->end = image->next_producer_id;
    log_info("producer-ids", "reserved producer ids %lld..%lld", (long long)pids->next,
             (long long)(pids->end - 1));
    producer_ids_wake(pids, 0);
}

void producer_ids_tick(struct broker *b, int64_t now_ms)
{
    struct producer_ids *pids = b->pids;
    if (!pids->requested)
        return;
    if (pids->waiters != NULL && now_ms - pids->waiting_since_ms >= LIMIT_PRODUCER_IDS_WAIT_MS) {
        log_warn("producer-ids", "no producer-id block from the controller within %d ms",
                 LIMIT_PRODUCER_IDS_WAIT_MS);
        producer_ids_wake(pids, RILL_ERR_AGAIN);
    }
    if (now_ms - pids->sent_ms >= LIMIT_PRODUCER_IDS_RETRY_MS) {
        /* Another broker's block may have been granted meanwhile. */
        pids->next_at_request = metadata_log_image(b->mlog)->next_producer_id;
        producer_ids_send(b);
    }
}

bool producer_ids_take(struct broker *b, int64_t *id, void (*fn)(void *ctx, int error),
                       void *ctx)
{
    struct producer_ids *pids = b->pids;
    if (pids->next < pids->end) {
        *id = pids->next++;
        return true;
    }
    struct producer_ids_waiter *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        fn(ctx, RILL_ERR_NOMEM);
        return false;
    }
    if (pids->waiters == NULL)
        pids->waiting_since_ms = clock_mono_ms();
    w->fn = fn;
    w->ctx = ctx;
    w->next = pids->waiters;
    pids->waiters = w;
    if (pids->requested)
        return false; /* a block is on its way */
    pids->requested = true;
    pids->next_at_request = metadata_log_image(b->mlog)->next_producer_id;
    producer_ids_send(b);
    return false;
}
