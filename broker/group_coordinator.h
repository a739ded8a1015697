/* The group coordinator: consumer groups (the classic protocol) and their
 * committed offsets, stored in the internal topic __consumer_offsets. */
#ifndef RILL_BROKER_GROUP_COORDINATOR_H
#define RILL_BROKER_GROUP_COORDINATOR_H

#include <stdint.h>

struct broker;
struct group_coordinator;

int group_coordinator_create(struct broker *b, struct group_coordinator **out);
void group_coordinator_free(struct group_coordinator *gc);

/* Housekeeping: session timeouts, rebalance deadlines, offset expiry. */
void group_coordinator_tick(struct group_coordinator *gc, int64_t now_ms);

#endif
