/* Where the internal listener's requests go (everything but Raft, which
 * the metadata log takes itself): registrations, heartbeats and
 * producer-id requests to the controller driver, relayed admin requests
 * and their answers to forwarding, automatic topic creations to the
 * topics. A request whose sender claims to be another broker than the node
 * it came from is ignored. */
#ifndef RILL_BROKER_QUORUM_CONTROLLER_RPC_H
#define RILL_BROKER_QUORUM_CONTROLLER_RPC_H

struct raft_wire_decoded;

/* The metadata log's request callback (metadata_log.h); ctx: the broker. */
void controller_rpc_on_request(void *ctx, const struct raft_wire_decoded *d);

#endif
