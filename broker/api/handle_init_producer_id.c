/* InitProducerId v0-1: a fresh producer id (epoch 0) for an idempotent
 * producer. Transactions are not supported: a transactional id gets
 * COORDINATOR_NOT_AVAILABLE. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/producer_ids.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

static void init_producer_id_try(void *ctx, int error);

static void init_producer_id_answer(struct request *req, int64_t id)
{
    struct kafka_init_producer_id_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    resp->ProducerId = id;
    resp->ProducerEpoch = 0;
    req->response = resp;
    request_done(req);
}

static void init_producer_id_try(void *ctx, int error)
{
    struct request *req = ctx;
    if (error != 0) {
        request_fail(req, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    int64_t id;
    if (producer_ids_take(req->broker, &id, init_producer_id_try, req))
        init_producer_id_answer(req, id);
}

void handle_init_producer_id(struct request *req)
{
    const struct kafka_init_producer_id_request *body = req->body;
    if (body->TransactionalId.len >= 0) {
        request_fail(req, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    init_producer_id_try(req, 0);
}
