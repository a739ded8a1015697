/* DeleteTopics: removal goes through the metadata log; the partitions'
 * files are deleted in the background once the removal is applied. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/forwarding.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"

struct delete_topics_state {
    int16_t *errors;
    int32_t n;
};

static void delete_topics_answer(void *ctx)
{
    struct request *req = ctx;
    const struct kafka_delete_topics_request *body = req->body;
    struct delete_topics_state *st = req->handler_state;
    struct kafka_delete_topics_response *resp = request_response(req);
    struct kafka_delete_topics_response_deletable_topic_result *results = kafka_alloc_items(
        &req->arena, &kafka_delete_topics_response_deletable_topic_result_desc, st->n);
    if (resp == NULL || (st->n > 0 && results == NULL)) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < st->n; i++) {
        results[i].Name = body->TopicNames.items[i];
        results[i].ErrorCode = st->errors[i];
    }
    resp->Responses.count = st->n;
    resp->Responses.items = results;
    req->response = resp;
    request_done(req);
}

void handle_delete_topics(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the controller answers */
    const struct kafka_delete_topics_request *body = req->body;
    struct delete_topics_state *st = arena_alloc(&req->arena, sizeof(*st));
    int32_t n = body->TopicNames.count < 0 ? 0 : body->TopicNames.count;
    int16_t *errors = arena_alloc(&req->arena, (size_t)n * sizeof(*errors) + 1);
    if (st == NULL || errors == NULL) {
        request_drop(req, true);
        return;
    }
    st->errors = errors;
    st->n = n;
    req->handler_state = st;
    if (!topics_delete(req->broker, body->TopicNames.items, errors, (size_t)n,
                       delete_topics_answer, req))
        delete_topics_answer(req);
}
