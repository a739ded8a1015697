/* Admin requests that only the controller can carry out or answer
 * (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
 * IncrementalAlterConfigs, DescribeQuorum), accepted by every broker: a broker
 * that is not the active controller relays the client's request frame,
 * unchanged, to the controller over the internal listener (KIP-590's
 * Envelope, simplified), the controller runs its own handler on it and
 * sends back the encoded answer with its image version at that moment,
 * and the broker answers the client once its own image has applied that
 * version. So a client that creates a topic through any broker and then
 * asks that broker for Metadata sees the topic.
 *
 * When no controller is known, when the controller changes before it
 * answers, or when it does not answer within LIMIT_FORWARD_TIMEOUT_MS, the
 * broker runs the handler itself, which answers NOT_CONTROLLER (the
 * client refreshes its metadata and retries, as with Kafka).
 *
 * Only the broker loop thread calls these functions. */
#ifndef RILL_BROKER_QUORUM_FORWARDING_H
#define RILL_BROKER_QUORUM_FORWARDING_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/image.h"

struct broker;
struct request;
struct forwarding;

int forwarding_create(struct forwarding **out);
/* Frees what is still pending (at shutdown, after the connections closed:
 * the requests are freed without an answer). */
void forwarding_free(struct forwarding *fw);

/* Relays req to the active controller and returns 1 (it is answered
 * later), or returns 0 when this node must run the handler itself: it is
 * the active controller, the request came from another broker already, or
 * no controller is known. */
int forwarding_forward(struct broker *b, struct request *req);

/* On the controller: a relayed request frame from node `from`. */
void forwarding_on_request(struct broker *b, int32_t from, uint64_t id, const uint8_t *frame,
                           size_t len);
/* On the relaying broker: the controller's answer. */
void forwarding_on_response(struct broker *b, int32_t from, uint64_t id, const uint8_t *answer,
                            size_t len, uint64_t metadata_version);

/* The metadata listener (ctx: the broker) that releases answers waiting
 * for this node's image. */
void forwarding_follow_image(void *ctx, const struct metadata_image *image);

/* Timeouts and controller changes. */
void forwarding_tick(struct broker *b, int64_t now_ms);

#endif
