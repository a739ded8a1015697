/* The controller's IO: on the active controller (metadata_log_controller_
 * active), requests from brokers — registrations and heartbeats, over the
 * internal listener or from this node itself — are turned into records by
 * metadata/controller.h and proposed through the metadata log.
 *
 * Liveness decisions (fence, unfence, leader elections) are made one at a
 * time: the driver proposes one, and decides again only once it has been
 * applied (or failed), so every decision sees the image its predecessor
 * made. Sessions start afresh whenever this node becomes the active
 * controller: every registered broker gets a full broker.session.timeout.ms
 * before it can be fenced, as a new Kafka controller does.
 *
 * Only the broker loop thread calls these functions. */
#ifndef RILL_BROKER_QUORUM_CONTROLLER_DRIVER_H
#define RILL_BROKER_QUORUM_CONTROLLER_DRIVER_H

#include <stdint.h>

struct broker;
struct controller_driver;
struct raft_wire_registration;
struct raft_wire_heartbeat;
struct raft_wire_alter_isr;

int controller_driver_open(struct broker *b, struct controller_driver **out);
void controller_driver_free(struct controller_driver *cd);

/* The housekeeping tick: expired sessions, pending unfences, elections. */
void controller_driver_tick(struct controller_driver *cd);

/* Requests (ignored unless this node is the active controller). */
void controller_driver_on_registration(struct controller_driver *cd,
                                       const struct raft_wire_registration *reg);
void controller_driver_on_heartbeat(struct controller_driver *cd,
                                    const struct raft_wire_heartbeat *hb);
/* A broker asks for a producer-id block. Requests are queued (one per
 * broker) and granted one at a time, each decided on the image the one
 * before it made, so that no two brokers get the same block. */
void controller_driver_on_producer_ids(struct controller_driver *cd, int32_t broker_id,
                                       int64_t broker_epoch);

/* A partition leader asks to change its ISR: decided on the committed
 * image (metadata/controller.h controller_alter_isr) and proposed; a
 * refusal is only logged, and the leader asks again. */
void controller_driver_on_alter_isr(struct controller_driver *cd,
                                    const struct raft_wire_alter_isr *ai);

/* The connection from broker_id to this node closed. When this node is the
 * active controller and broker_id is live, its registered endpoint is
 * probed at once: a refused connection means the process is gone, and the
 * broker is fenced without waiting for its session to expire (a broker
 * that still accepts keeps its session). */
void controller_driver_on_peer_closed(struct controller_driver *cd, int32_t broker_id);

#endif
