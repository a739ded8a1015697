/* Producer ids for idempotent producers, unique across the cluster and
 * across restarts: the broker reserves blocks of ids through the metadata
 * log (ProducerIdsRecord, as KRaft does) and hands them out one by one.
 * Only a block reserved by this run is used: a block replayed at start-up
 * may have been partly handed out before a crash, so it is never reused. */
#ifndef RILL_BROKER_PRODUCER_IDS_H
#define RILL_BROKER_PRODUCER_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/metadata.pb-c.h"

struct broker;
struct producer_ids;

/* Ids reserved per metadata record. */
#define PRODUCER_ID_BLOCK 1000

int producer_ids_create(struct producer_ids **out);
void producer_ids_free(struct producer_ids *pids);

/* Takes the next id into *id and returns true, or returns false and calls
 * fn(ctx, error) once a new block is there (or could not be reserved:
 * error != 0), when the caller tries again. */
bool producer_ids_take(struct broker *b, int64_t *id, void (*fn)(void *ctx, int error),
                       void *ctx);

#endif
