/* Producer ids for idempotent producers, unique across the cluster and
 * across restarts: the broker asks the active controller for a block of
 * ids (over the internal listener, or directly when it is the controller),
 * the controller reserves it in the metadata log (ProducerIdsRecord, as
 * KRaft's AllocateProducerIds does), and the broker hands the ids out one
 * by one.
 *
 * A block is this broker's when a ProducerIdsRecord naming it is applied
 * after it asked: blocks replayed at start-up, and blocks of an earlier
 * run, may have been partly handed out before a crash, so they are never
 * used. An unanswered request is sent again every
 * LIMIT_PRODUCER_IDS_RETRY_MS (a lost message, a controller change);
 * callers waiting longer than LIMIT_PRODUCER_IDS_WAIT_MS are told to retry
 * (the request stays out). */
#ifndef RILL_BROKER_QUORUM_PRODUCER_IDS_H
#define RILL_BROKER_QUORUM_PRODUCER_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "metadata/image.h"

struct broker;
struct producer_ids;

/* Ids reserved per metadata record. */
#define PRODUCER_ID_BLOCK 1000

int producer_ids_create(struct producer_ids **out);
void producer_ids_free(struct producer_ids *pids);

/* Takes the next id into *id and returns true, or returns false and calls
 * fn(ctx, error) once a new block is there (or could not be had in time:
 * error != 0), when the caller tries again. */
bool producer_ids_take(struct broker *b, int64_t *id, void (*fn)(void *ctx, int error),
                       void *ctx);

/* The metadata listener (ctx: the broker) that takes a granted block. */
void producer_ids_follow_image(void *ctx, const struct metadata_image *image);

/* The housekeeping tick: resends and waiter timeouts. */
void producer_ids_tick(struct broker *b, int64_t now_ms);

#endif
