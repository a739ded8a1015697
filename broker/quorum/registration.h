/* Brokers in the image: every node registers itself with the controller
 * (KIP-631's BrokerRegistration, simplified) so that Metadata can list
 * every broker at its advertised address.
 *
 * The broker side retries, every LIMIT_REGISTRATION_RETRY_MS, until the
 * image holds its id with this process's incarnation id; it asks the
 * active controller over the internal listener, or proposes the record
 * itself when it is the controller. The controller side turns a request
 * into a RegisterBrokerRecord whose broker epoch is the record's Raft
 * index (so epochs only grow), and answers by committing it: the broker
 * sees the record in its image. Heartbeats and fencing come next. */
#ifndef RILL_BROKER_QUORUM_REGISTRATION_H
#define RILL_BROKER_QUORUM_REGISTRATION_H

struct broker;
struct raft_wire_registration;

/* The broker's housekeeping tick. */
void registration_tick(struct broker *b);

/* A request that reached this node (acted on only if it leads). */
void registration_on_request(struct broker *b, const struct raft_wire_registration *reg);

#endif
