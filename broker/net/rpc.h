/* The internal listener (controller.listener.names) and the connections to
 * the quorum's other nodes: length-prefixed frames (broker/quorum/
 * raft_wire.h), carried both ways on every connection.
 *
 * A frame for node `to` goes out on the connection to `to`'s address in
 * controller.quorum.voters (opened on demand, reopened after
 * controller.quorum.retry.backoff.ms when it fails); a node that is not a
 * voter (an observer) is answered on the connection it came in on. Frames
 * that cannot be sent at once are queued up to LIMIT_RPC_PEER_OUTPUT_BYTES
 * and dropped beyond: Raft tolerates loss and resends.
 *
 * Inbound frames larger than LIMIT_RPC_FRAME_BYTES close their connection.
 * Only the broker loop thread calls these functions. */
#ifndef RILL_BROKER_NET_RPC_H
#define RILL_BROKER_NET_RPC_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct rpc;
struct rpc_conn;

/* One inbound frame body (without its length prefix). The handler returns
 * the node id the frame came from (so that answers can find it), or -1
 * to close the connection (a frame that does not belong here). */
typedef int32_t (*rpc_frame_fn)(void *ctx, const uint8_t *body, size_t len);

/* Starts listening on the controller listener (if configured) and
 * prepares the peers of controller.quorum.voters. Returns 0 or a
 * RILL_ERR_* after logging why. */
int rpc_start(struct broker *b, rpc_frame_fn on_frame, void *ctx, struct rpc **out);
void rpc_free(struct rpc *rpc);

/* Called when a connection that carried frames of node `node` closes
 * (the peer hung up or failed), not when this node shuts down. */
typedef void (*rpc_closed_fn)(void *ctx, int32_t node);
void rpc_on_peer_closed(struct rpc *rpc, rpc_closed_fn fn, void *ctx);

/* Called when a voter's address refuses a connection: nothing listens
 * there, its process is gone (or not started yet). When a connection that
 * carried a voter's frames closes, the voter is dialled again at once,
 * without the backoff, so that a killed process is known within a round
 * trip (metadata_log tells Raft, raft_leader_gone). */
typedef void (*rpc_gone_fn)(void *ctx, int32_t node);
void rpc_on_peer_gone(struct rpc *rpc, rpc_gone_fn fn, void *ctx);

/* Sends one frame (prefix included; copied) to node `to`. */
void rpc_send(struct rpc *rpc, int32_t to, const uint8_t *frame, size_t len);

/* The port the controller listener bound (its configuration may say 0),
 * or -1 when there is none. */
int rpc_bound_port(const struct rpc *rpc);

#endif
