/* A partition leader's view of its replicas: how far each follower has
 * fetched, when it last had everything, the ISR as committed in the image
 * and the change asked of the controller; and the decisions drawn from
 * them: the high watermark and the next ISR to ask for.
 *
 * Invariants:
 *   - the high watermark is taken over the maximal ISR (KIP-497): the
 *     committed ISR plus the members of a change not yet committed, so
 *     that a shrink counts only once committed and an addition counts at
 *     once;
 *   - it does not advance while the committed ISR is smaller than
 *     min.insync.replicas (strict min-ISR, KIP-966), nor past a follower
 *     whose offset is unknown (a new leader has heard from nobody);
 *   - a follower joins the ISR only once it holds everything below the
 *     high watermark and below the start of the leader's epoch, so that a
 *     member never lacks a record the leader's epoch made visible;
 *   - at most one change is outstanding; it is asked again after
 *     LIMIT_ALTER_ISR_RETRY_MS and dropped when the image moves on.
 *
 * Pure logic: no IO, time is an argument (tests/sim drives it alike). */
#ifndef RILL_BROKER_REPLICA_REPLICA_SET_H
#define RILL_BROKER_REPLICA_REPLICA_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct replica_follower {
    int32_t id;
    int64_t offset;             /* its fetch offset (what it holds durably), -1 unknown */
    int64_t last_fetch_ms;      /* -1 never */
    int64_t end_at_last_fetch;  /* the leader's log end then */
    int64_t caught_up_ms;       /* when it last held everything the leader had */
    bool live;                  /* registered and unfenced in the image */
};

struct replica_set {
    int32_t self;
    struct replica_follower followers[LIMIT_REPLICATION_FACTOR];
    size_t nfollowers;
    int32_t isr[LIMIT_REPLICATION_FACTOR]; /* committed, as in the image */
    size_t nisr;
    int32_t pending[LIMIT_REPLICATION_FACTOR]; /* asked for; valid when npending > 0 */
    size_t npending;
    int32_t pending_epoch;      /* the partition epoch it was asked on */
    int64_t pending_sent_ms;
};

/* Becoming leader: every replica but self is a follower of unknown
 * offset; ISR members count as caught up now (as Kafka's new leader). */
void replica_set_reset(struct replica_set *rs, int32_t self, const int32_t *replicas,
                       size_t nreplicas, const int32_t *isr, size_t nisr, int64_t now_ms);

/* The image committed a new ISR at partition_epoch: it replaces the
 * committed one, and a pending change asked on an older epoch is done. */
void replica_set_committed(struct replica_set *rs, const int32_t *isr, size_t nisr,
                           int32_t partition_epoch);

/* Whether follower id is live (unfenced) in the image: only live
 * followers are asked into the ISR (the controller would refuse others). */
void replica_set_live(struct replica_set *rs, int32_t id, bool live);

/* A fetch from follower id at fetch_offset while the leader's log ended at
 * leader_end. Returns false for an id that is not a follower. */
bool replica_set_fetched(struct replica_set *rs, int32_t id, int64_t fetch_offset,
                         int64_t leader_end, int64_t now_ms);

bool replica_set_in_isr(const struct replica_set *rs, int32_t id);

/* The high watermark the replicas allow, given what the leader itself holds
 * (self_offset: durable under log.flush.policy=always, else its log end),
 * or -1 when it may not move. */
int64_t replica_set_high_watermark(const struct replica_set *rs, int64_t self_offset,
                                   int32_t min_insync);

/* The ISR change due now, if any, written to isr/nisr (in no particular
 * order; the controller orders it): members that have not caught up for
 * lag_max_ms leave, followers that hold everything below hw and
 * epoch_start join. False when nothing is due or a change is outstanding
 * and not yet stale. On true the change is recorded as pending at
 * partition_epoch. Only live followers join. */
bool replica_set_next_isr(struct replica_set *rs, int64_t now_ms, int64_t lag_max_ms,
                          int64_t hw, int64_t epoch_start, int32_t partition_epoch,
                          int32_t *isr, size_t *nisr);

#endif
