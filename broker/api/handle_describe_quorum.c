/* DescribeQuorum v0-2 (KIP-595, KIP-853): the metadata quorum as
 * kafka-metadata-quorum.sh shows it. Only the leader knows every replica's
 * position: another node relays the request to it (forwarding.h), as Kafka's
 * brokers do, and answers NOT_LEADER_OR_FOLLOWER with the leader it knows
 * only when it cannot.
 * Offsets are Kafka offsets of __cluster_metadata-0: a replica's log end is
 * the end of the last batch it holds durably; the high watermark is the end
 * of the last committed one. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "common/clock.h"
#include "common/limits.h"
#include "proto/kafka_errors.h"

#define DESCRIBE_QUORUM_TOPIC "__cluster_metadata"

static void describe_quorum_replica(struct broker *b, const struct raft_status *st,
                                    const struct raft_replica_status *rs, int64_t now,
                                    struct kafka_describe_quorum_response_replica_state *out)
{
    out->ReplicaId = rs->id;
    out->LogEndOffset = metadata_log_end_offset_of(b->mlog, rs->match_index);
    if (rs->id == b->cfg.node_id) {
        out->LastFetchTimestamp = -1; /* Kafka reports -1 for the leader itself */
        out->LastCaughtUpTimestamp = now;
        return;
    }
    out->LastFetchTimestamp = now - metadata_log_age_ms(b->mlog, rs->last_fetch_tick);
    /* Caught up: holds everything the leader had at its last fetch. */
    out->LastCaughtUpTimestamp = rs->match_index >= st->last_index ? out->LastFetchTimestamp
                                                                  : -1;
}

static int describe_quorum_partition(struct request *req,
                                     struct kafka_describe_quorum_response_partition_data *p)
{
    struct broker *b = req->broker;
    struct raft_status st;
    metadata_log_status(b->mlog, &st);
    p->ErrorMessage = KAFKA_STR_NULL;
    p->LeaderId = st.leader;
    p->LeaderEpoch = (int32_t)st.term;
    p->HighWatermark = metadata_log_end_offset_of(b->mlog, st.commit);
    if (st.role != RAFT_LEADER) {
        p->ErrorCode = KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
        p->ErrorMessage = kafka_str_from("This node does not lead the metadata quorum.");
        return 0;
    }
    struct raft_replica_status rs[LIMIT_RAFT_VOTERS + LIMIT_RAFT_OBSERVERS];
    size_t n = metadata_log_replicas(b->mlog, rs, sizeof(rs) / sizeof(rs[0]));
    int32_t nvoters = 0, nobservers = 0;
    for (size_t i = 0; i < n; i++)
        rs[i].voter ? nvoters++ : nobservers++;
    p->CurrentVoters.items = kafka_alloc_items(
        &req->arena, &kafka_describe_quorum_response_replica_state_desc, nvoters);
    p->Observers.items = kafka_alloc_items(
        &req->arena, &kafka_describe_quorum_response_replica_state_desc, nobservers);
    if ((nvoters > 0 && p->CurrentVoters.items == NULL) ||
        (nobservers > 0 && p->Observers.items == NULL))
        return -1;
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < n; i++) {
        struct kafka_describe_quorum_response_replica_state *out =
            rs[i].voter ? &p->CurrentVoters.items[p->CurrentVoters.count++]
                        : &p->Observers.items[p->Observers.count++];
        describe_quorum_replica(b, &st, &rs[i], now, out);
    }
    return 0;
}

/* v2: the voters' controller listeners. */
static int describe_quorum_nodes(struct request *req, struct kafka_describe_quorum_response *resp)
{
    const struct broker_config *cfg = &req->broker->cfg;
    resp->Nodes.items =
        kafka_alloc_items(&req->arena, &kafka_describe_quorum_response_node_desc,
                          (int32_t)cfg->nvoters);
    if (resp->Nodes.items == NULL && cfg->nvoters > 0)
        return -1;
    for (size_t i = 0; i < cfg->nvoters; i++) {
        const struct quorum_voter *v = &cfg->voters[i];
        struct kafka_describe_quorum_response_node *node = &resp->Nodes.items[resp->Nodes.count++];
        node->NodeId = v->id;
        if (v->port <= 0)
            continue; /* a quorum of one: no controller listener */
        node->Listeners.items = kafka_alloc_items(
            &req->arena, &kafka_describe_quorum_response_listener_desc, 1);
        if (node->Listeners.items == NULL)
            return -1;
        node->Listeners.count = 1;
        node->Listeners.items[0].Name = kafka_str_from(cfg->controller.name);
        node->Listeners.items[0].Host = kafka_str_from(v->host);
        node->Listeners.items[0].Port = (uint16_t)v->port;
    }
    return 0;
}

void handle_describe_quorum(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the leader answers */
    const struct kafka_describe_quorum_request *in = req->body;
    struct kafka_describe_quorum_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    resp->ErrorMessage = KAFKA_STR_NULL;
    int32_t nt = in->Topics.count;
    resp->Topics.items =
        kafka_alloc_items(&req->arena, &kafka_describe_quorum_response_topic_data_desc, nt);
    if (nt > 0 && resp->Topics.items == NULL) {
        request_drop(req, true);
        return;
    }
    resp->Topics.count = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_describe_quorum_request_topic_data *tin = &in->Topics.items[t];
        struct kafka_describe_quorum_response_topic_data *tout = &resp->Topics.items[t];
        tout->TopicName = tin->TopicName;
        int32_t np = tin->Partitions.count;
        tout->Partitions.items = kafka_alloc_items(
            &req->arena, &kafka_describe_quorum_response_partition_data_desc, np);
        if (np > 0 && tout->Partitions.items == NULL) {
            request_drop(req, true);
            return;
        }
        tout->Partitions.count = np;
        bool ours = tin->TopicName.len == (int32_t)strlen(DESCRIBE_QUORUM_TOPIC) &&
                    memcmp(tin->TopicName.ptr, DESCRIBE_QUORUM_TOPIC,
                           strlen(DESCRIBE_QUORUM_TOPIC)) == 0;
        for (int32_t i = 0; i < np; i++) {
            struct kafka_describe_quorum_response_partition_data *p = &tout->Partitions.items[i];
            p->PartitionIndex = tin->Partitions.items[i].PartitionIndex;
            p->ErrorMessage = KAFKA_STR_NULL;
            p->LeaderId = -1;
            if (!ours || p->PartitionIndex != 0) {
                p->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (describe_quorum_partition(req, p) != 0) {
                request_drop(req, true);
                return;
            }
        }
    }
    if (req->version >= 2 && describe_quorum_nodes(req, resp) != 0) {
        request_drop(req, true);
        return;
    }
    req->response = resp;
    request_done(req);
}
