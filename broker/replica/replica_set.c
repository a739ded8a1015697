#include "broker/replica/replica_set.h"

#include <string.h>

#include "common/assert.h"

static bool ids_has(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

void replica_set_reset(struct replica_set *rs, int32_t self, const int32_t *replicas,
                       size_t nreplicas, const int32_t *isr, size_t nisr, int64_t now_ms)
{
    ASSERT(nreplicas <= LIMIT_REPLICATION_FACTOR && nisr <= LIMIT_REPLICATION_FACTOR);
    memset(rs, 0, sizeof(*rs));
    rs->self = self;
    for (size_t i = 0; i < nreplicas; i++) {
        if (replicas[i] == self)
            continue;
        rs->followers[rs->nfollowers++] = (struct replica_follower){
            .id = replicas[i],
            .offset = -1,
            .last_fetch_ms = -1,
            .end_at_last_fetch = -1,
            .caught_up_ms = ids_has(isr, nisr, replicas[i]) ? now_ms : -1,
            .live = true,
        };
    }
    memcpy(rs->isr, isr, nisr * sizeof(*isr));
    rs->nisr = nisr;
}

static struct replica_follower *replica_set_follower(struct replica_set *rs, int32_t id)
{
    for (size_t i = 0; i < rs->nfollowers; i++)
        if (rs->followers[i].id == id)
            return &rs->followers[i];
    return NULL;
}

void replica_set_committed(struct replica_set *rs, const int32_t *isr, size_t nisr,
                           int32_t partition_epoch)
{
    ASSERT(nisr <= LIMIT_REPLICATION_FACTOR);
    memcpy(rs->isr, isr, nisr * sizeof(*isr));
    rs->nisr = nisr;
    if (rs->npending > 0 && partition_epoch > rs->pending_epoch)
        rs->npending = 0;
}

void replica_set_live(struct replica_set *rs, int32_t id, bool live)
{
    struct replica_follower *f = replica_set_follower(rs, id);
    if (f != NULL)
        f->live = live;
}

bool replica_set_fetched(struct replica_set *rs, int32_t id, int64_t fetch_offset,
                         int64_t leader_end, int64_t now_ms)
{
    struct replica_follower *f = replica_set_follower(rs, id);
    if (f == NULL)
        return false;
    /* Caught up: it has all the leader has now, or all the leader had at
     * its previous fetch (then it was caught up as of that fetch). */
    if (fetch_offset >= leader_end)
        f->caught_up_ms = now_ms;
    else if (f->last_fetch_ms >= 0 && fetch_offset >= f->end_at_last_fetch &&
             f->last_fetch_ms > f->caught_up_ms)
        f->caught_up_ms = f->last_fetch_ms;
    f->offset = fetch_offset;
    f->last_fetch_ms = now_ms;
    f->end_at_last_fetch = leader_end;
    return true;
}

bool replica_set_in_isr(const struct replica_set *rs, int32_t id)
{
    return ids_has(rs->isr, rs->nisr, id);
}

static bool replica_set_in_maximal(const struct replica_set *rs, int32_t id)
{
    return ids_has(rs->isr, rs->nisr, id) ||
           (rs->npending > 0 && ids_has(rs->pending, rs->npending, id));
}

int64_t replica_set_high_watermark(const struct replica_set *rs, int64_t self_offset,
                                   int32_t min_insync)
{
    if ((int64_t)rs->nisr < min_insync)
        return -1;
    int64_t hw = self_offset;
    for (size_t i = 0; i < rs->nfollowers; i++) {
        const struct replica_follower *f = &rs->followers[i];
        if (!replica_set_in_maximal(rs, f->id))
            continue;
        if (f->offset < 0)
            return -1;
        if (f->offset < hw)
            hw = f->offset;
    }
    return hw;
}

bool replica_set_next_isr(struct replica_set *rs, int64_t now_ms, int64_t lag_max_ms,
                          int64_t hw, int64_t epoch_start, int32_t partition_epoch,
                          int32_t *isr, size_t *nisr)
{
    if (rs->npending > 0 && now_ms - rs->pending_sent_ms < LIMIT_ALTER_ISR_RETRY_MS)
        return false;
    size_t n = 0;
    bool changed = false;
    if (ids_has(rs->isr, rs->nisr, rs->self) || rs->nisr == 0)
        isr[n++] = rs->self;
    for (size_t i = 0; i < rs->nfollowers; i++) {
        const struct replica_follower *f = &rs->followers[i];
        bool member = ids_has(rs->isr, rs->nisr, f->id);
        bool lagging = f->caught_up_ms < 0 || now_ms - f->caught_up_ms > lag_max_ms;
        bool complete = f->live && f->offset >= 0 && f->offset >= hw &&
                        f->offset >= epoch_start && f->last_fetch_ms >= 0 &&
                        now_ms - f->last_fetch_ms <= lag_max_ms;
        if (member && lagging) {
            changed = true; /* leaves */
        } else if (member || (complete && !lagging)) {
            isr[n++] = f->id;
            changed |= !member; /* joins */
        }
    }
    if (!changed)
        return false;
    memcpy(rs->pending, isr, n * sizeof(*isr));
    rs->npending = n;
    rs->pending_epoch = partition_epoch;
    rs->pending_sent_ms = now_ms;
    *nisr = n;
    return true;
}
