/* This broker's standing with the controller (KIP-631's broker lifecycle,
 * simplified): every node registers itself so that Metadata can list it at
 * its advertised address, then heartbeats so that it stays unfenced.
 *
 * Until the image holds this node's id with this process's incarnation id,
 * the broker asks the active controller (over the internal listener, or
 * directly when it is the controller itself) every
 * LIMIT_REGISTRATION_RETRY_MS. A new registration is fenced; while fenced,
 * the broker heartbeats at that same pace, so that the controller unfences
 * it as soon as its image has caught up with its registration; once
 * unfenced, every broker.heartbeat.interval.ms. The answer to every request
 * is the image: the broker sees its registration and fencing there.
 *
 * The client listener opens the first time this broker is registered and
 * unfenced (as a Kafka broker serves only once unfenced), so that clients
 * never meet a broker the cluster does not list. */
#ifndef RILL_BROKER_QUORUM_REGISTRATION_H
#define RILL_BROKER_QUORUM_REGISTRATION_H

#include <stdbool.h>

struct broker;

/* The broker's housekeeping tick. */
void registration_tick(struct broker *b);

/* True when the image holds this process's registration, unfenced. */
bool registration_unfenced(const struct broker *b);

/* Shutting down: asks the controller to fence this broker so that its
 * leaderships move at once (a controlled shutdown). */
void registration_request_fence(struct broker *b);

#endif
