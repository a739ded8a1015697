/* FindCoordinator v0-2: the broker leading the group's __consumer_offsets
 * partition (the topic is created on the first call, as in Kafka).
 * Transaction coordinators (key type 1) are not offered. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group_coordinator.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

static void find_coordinator_answer(void *ctx)
{
    struct request *req = ctx;
    struct broker *b = req->broker;
    const struct kafka_find_coordinator_request *body = req->body;
    struct kafka_find_coordinator_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    int16_t error = (int16_t)(intptr_t)req->handler_state;
    resp->NodeId = -1;
    resp->Host = (struct kafka_str){"", 0};
    resp->Port = -1;
    if (error == 0 && body->KeyType != 0) {
        error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        resp->ErrorMessage = kafka_str_from("Transactions are not supported");
    }
    int32_t partition = -1;
    if (error == 0 && (body->Key.len < 0 ||
                       (partition = group_coordinator_partition_of(
                            b->groups, body->Key.ptr, (size_t)body->Key.len)) < 0))
        error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    /* The coordinator is the leader of the group's partition, wherever
     * the image places it, at the address it registered. */
    const struct metadata_image *image = metadata_log_image(b->mlog);
    const struct metadata_topic *mt =
        error == 0 ? metadata_image_topic(image, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC))
                   : NULL;
    int32_t leader = mt != NULL && partition < mt->npartitions
                         ? mt->partitions[partition].leader
                         : -1;
    const struct metadata_broker *mb = leader >= 0 ? metadata_image_broker(image, leader) : NULL;
    if (error == 0 && leader != b->cfg.node_id && mb == NULL)
        error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    resp->ErrorCode = error;
    if (error == 0 && leader == b->cfg.node_id) {
        resp->NodeId = b->cfg.node_id;
        resp->Host = kafka_str_from(b->cfg.advertised.host);
        resp->Port = b->cfg.advertised.port;
    } else if (error == 0) {
        resp->NodeId = mb->id;
        resp->Host = kafka_str_from(mb->host);
        resp->Port = mb->port;
    }
    req->response = resp;
    request_done(req);
}

void handle_find_coordinator(struct request *req)
{
    int16_t error = 0;
    bool waits = group_coordinator_ensure_topic(req->broker->groups, find_coordinator_answer, req,
                                                &error);
    req->handler_state = (void *)(intptr_t)error;
    if (!waits)
        find_coordinator_answer(req);
}
