/* Raft messages on the internal listener: struct raft_msg <-> one framed
 * RpcEnvelope (proto/rpc.proto), a 4-byte big-endian length first.
 *
 * Decoding checks everything raft_step relies on before the message gets
 * there: known types and statuses, ids that fit, entry and chunk sizes
 * within LIMIT_RPC_FRAME_BYTES, and the cluster id, so that a node of
 * another cluster (a copied data directory, a wrong voters list) can never
 * take part in this quorum. Pure: no IO. */
#ifndef RILL_BROKER_QUORUM_RAFT_WIRE_H
#define RILL_BROKER_QUORUM_RAFT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/* The length prefix of a frame. */
#define RAFT_WIRE_PREFIX_BYTES 4

/* Encodes m from node `from` of cluster_id as one frame (prefix included).
 * On success *out is malloc'd and the caller owns it. Returns 0 or
 * RILL_ERR_NOMEM / RILL_ERR_TOO_LARGE. */
int raft_wire_encode(const char *cluster_id, int32_t from, const struct raft_msg *m,
                     uint8_t **out, size_t *len);

/* A broker's registration request (proto/rpc.proto BrokerRegistration). */
struct raft_wire_registration {
    int32_t broker_id;
    uint8_t incarnation[16];
    const char *host;
    int32_t port;
    uint64_t metadata_version; /* records its image has applied */
};

/* A registered broker's heartbeat (proto/rpc.proto BrokerHeartbeat). */
struct raft_wire_heartbeat {
    int32_t broker_id;
    int64_t broker_epoch;
    uint64_t metadata_version;
    bool want_fence;
};

/* An automatic topic creation forwarded to the controller. */
struct raft_wire_topic_creation {
    const char *name;
    int32_t num_partitions;     /* -1: num.partitions */
    int32_t replication_factor; /* -1: default.replication.factor */
};

enum raft_wire_kind {
    RAFT_WIRE_RAFT = 1,
    RAFT_WIRE_REGISTRATION = 2,
    RAFT_WIRE_TOPIC_CREATION = 3,
    RAFT_WIRE_HEARTBEAT = 4,
    RAFT_WIRE_PRODUCER_IDS = 5,
    RAFT_WIRE_FORWARDED_REQUEST = 6,
    RAFT_WIRE_FORWARDED_RESPONSE = 7,
    RAFT_WIRE_ALTER_ISR = 8
};

/* A leader's ISR change request (proto/rpc.proto AlterIsr). */
struct raft_wire_alter_isr {
    int32_t broker_id;
    int64_t broker_epoch;
    uint8_t topic_id[16];
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    const int32_t *isr;
    size_t nisr;
};

/* A relayed admin request or its answer (forwarding.h); bytes point into
 * the decoded envelope. */
struct raft_wire_forwarded {
    uint64_t id;
    const uint8_t *bytes; /* the request frame, or the answer */
    size_t len;
    uint64_t metadata_version; /* answers only */
};

/* A request for a producer-id block. */
struct raft_wire_producer_ids {
    int32_t broker_id;
    int64_t broker_epoch;
};

/* A decoded frame: msg (or registration) points into storage owned by the
 * decoded value, released by raft_wire_decoded_free. */
struct raft_wire_decoded {
    int kind; /* enum raft_wire_kind */
    int32_t from;
    struct raft_msg msg;
    struct raft_wire_registration registration;
    struct raft_wire_topic_creation topic_creation;
    struct raft_wire_heartbeat heartbeat;
    struct raft_wire_producer_ids producer_ids;
    struct raft_wire_forwarded forwarded;
    struct raft_wire_alter_isr alter_isr;
    void *envelope;
    struct raft_entry *entries;
};

/* Encodes a forwarded topic creation from node `from` as one frame. */
int raft_wire_encode_topic_creation(const char *cluster_id, int32_t from,
                                    const struct raft_wire_topic_creation *tc, uint8_t **out,
                                    size_t *len);

/* Encodes a registration request from node `from` as one frame. */
int raft_wire_encode_registration(const char *cluster_id, int32_t from,
                                  const struct raft_wire_registration *reg, uint8_t **out,
                                  size_t *len);

/* Encodes a heartbeat from node `from` as one frame. */
int raft_wire_encode_heartbeat(const char *cluster_id, int32_t from,
                               const struct raft_wire_heartbeat *hb, uint8_t **out, size_t *len);

/* Encodes a producer-id block request from node `from` as one frame. */
int raft_wire_encode_producer_ids(const char *cluster_id, int32_t from,
                                  const struct raft_wire_producer_ids *pr, uint8_t **out,
                                  size_t *len);

/* Encodes an ISR change request from node `from` as one frame. */
int raft_wire_encode_alter_isr(const char *cluster_id, int32_t from,
                               const struct raft_wire_alter_isr *ai, uint8_t **out, size_t *len);

/* Encodes a relayed request (response false) or its answer (true). */
int raft_wire_encode_forwarded(const char *cluster_id, int32_t from, bool response,
                               const struct raft_wire_forwarded *fw, uint8_t **out, size_t *len);

/* Decodes one frame body (without the prefix). Returns 0, RILL_ERR_PARSE
 * (malformed or not a Raft message), or RILL_ERR_MISMATCH (another
 * cluster's node), or RILL_ERR_NOMEM. */
int raft_wire_decode(const uint8_t *body, size_t len, const char *cluster_id,
                     struct raft_wire_decoded *out);
void raft_wire_decoded_free(struct raft_wire_decoded *d);

#endif
