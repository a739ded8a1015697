#include "broker/producer_ids.h"

#include <stdlib.h>

#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "common/log.h"
#include "common/rill_error.h"

struct producer_ids_waiter {
    struct producer_ids_waiter *next;
    void (*fn)(void *ctx, int error);
    void *ctx;
};

struct producer_ids {
    int64_t next;           /* next id to hand out */
    int64_t end;            /* end of the usable block */
    int64_t requested_end;  /* the block end proposed, or -1 */
    struct producer_ids_waiter *waiters;
};

int producer_ids_create(struct producer_ids **out)
{
    struct producer_ids *pids = calloc(1, sizeof(*pids));
    if (pids == NULL)
        return RILL_ERR_NOMEM;
    pids->requested_end = -1;
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

static void producer_ids_applied(void *ctx, int rc)
{
    struct broker *b = ctx;
    struct producer_ids *pids = b->pids;
    /* The block is ours if the image's last reservation is the one we
     * proposed; someone else's (or none) sends the waiters round again. */
    const struct metadata_image *image = metadata_log_image(b->mlog);
    if (rc == 0 && pids->requested_end >= 0 && image->producer_ids_broker == b->cfg.node_id &&
        image->next_producer_id == pids->requested_end) {
        pids->next = pids->requested_end - PRODUCER_ID_BLOCK;
        pids->end = pids->requested_end;
        log_info("producer-ids", "reserved producer ids %lld..%lld", (long long)pids->next,
                 (long long)(pids->end - 1));
    }
    pids->requested_end = -1;
    if (rc != 0 || pids->next >= pids->end) {
        /* Not written, or applied for someone else first: the waiters try
         * again (and propose again if still empty). */
        pids->requested_end = -1;
        producer_ids_wake(pids, rc != 0 ? rc : 0);
        return;
    }
    producer_ids_wake(pids, 0);
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
    w->fn = fn;
    w->ctx = ctx;
    w->next = pids->waiters;
    pids->waiters = w;
    if (pids->requested_end >= 0)
        return false; /* a block is on its way */
    const struct metadata_image *image = metadata_log_image(b->mlog);
    Rill__Metadata__ProducerIdsRecord r = RILL__METADATA__PRODUCER_IDS_RECORD__INIT;
    r.broker_id = b->cfg.node_id;
    r.next_producer_id = image->next_producer_id + PRODUCER_ID_BLOCK;
    Rill__Metadata__MetadataRecord rec = RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS;
    rec.producer_ids = &r;
    Rill__Metadata__MetadataRecord *recs[] = {&rec};
    pids->requested_end = r.next_producer_id;
    int rc = metadata_log_propose(b->mlog, recs, 1, producer_ids_applied, b);
    if (rc != 0) {
        pids->requested_end = -1;
        producer_ids_wake(pids, rc);
    }
    return false;
}
