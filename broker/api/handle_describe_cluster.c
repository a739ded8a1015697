/* DescribeCluster v0-2 (KIP-700): the cluster id, the active controller and
 * the brokers, as Metadata lists them (unfenced; with IncludeFencedBrokers,
 * v2, the fenced ones too, marked). EndpointType 2 (KIP-919) asks for the
 * controllers instead: the voters of the metadata quorum at their
 * controller listeners. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

enum { ENDPOINT_BROKERS = 1, ENDPOINT_CONTROLLERS = 2 };

/* Kafka's cluster operations bitfield, everything allowed (no ACLs yet). */
#define CLUSTER_OPERATIONS_ALL                                                                  \
    ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

typedef struct kafka_describe_cluster_response_describe_cluster_broker cluster_broker;

void handle_describe_cluster(struct request *req)
{
    struct broker *b = req->broker;
    const struct kafka_describe_cluster_request *body = req->body;
    struct kafka_describe_cluster_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    int8_t type = req->version >= 1 ? body->EndpointType : ENDPOINT_BROKERS;
    resp->EndpointType = type;
    resp->ClusterId = kafka_str_from(b->cluster_id);
    resp->ControllerId = metadata_log_leader(b->mlog);
    if (body->IncludeClusterAuthorizedOperations)
        resp->ClusterAuthorizedOperations = CLUSTER_OPERATIONS_ALL;
    if (type != ENDPOINT_BROKERS && type != ENDPOINT_CONTROLLERS) {
        resp->ErrorCode = KAFKA_ERR_UNSUPPORTED_ENDPOINT_TYPE;
        resp->ErrorMessage = kafka_str_from("Unknown endpoint type.");
        req->response = resp;
        request_done(req);
        return;
    }
    const struct metadata_image *image = metadata_log_image(b->mlog);
    size_t max = type == ENDPOINT_BROKERS ? image->nbrokers : b->cfg.nvoters;
    cluster_broker *out = kafka_alloc_items(
        &req->arena, &kafka_describe_cluster_response_describe_cluster_broker_desc,
        (int32_t)max);
    if (max > 0 && out == NULL) {
        request_drop(req, true);
        return;
    }
    int32_t n = 0;
    if (type == ENDPOINT_BROKERS) {
        bool fenced_too = req->version >= 2 && body->IncludeFencedBrokers;
        for (size_t i = 0; i < image->nbrokers; i++) {
            const struct metadata_broker *mb = &image->brokers[i];
            if (mb->fenced && !fenced_too)
                continue;
            out[n].BrokerId = mb->id;
            out[n].Host = kafka_str_from(mb->host);
            out[n].Port = mb->port;
            out[n].IsFenced = mb->fenced;
            n++;
        }
    } else {
        for (size_t i = 0; i < b->cfg.nvoters; i++) {
            out[n].BrokerId = b->cfg.voters[i].id;
            out[n].Host = kafka_str_from(b->cfg.voters[i].host);
            out[n].Port = b->cfg.voters[i].port;
            n++;
        }
    }
    resp->Brokers.count = n;
    resp->Brokers.items = out;
    req->response = resp;
    request_done(req);
}
