/* CreatePartitions v0-3: grows topics, decided by the controller
 * (metadata/controller.h) and answered once the new partitions are in the
 * image. Every valid topic of one request is proposed in one batch; each
 * topic gets its own error. Relayed to the controller from other brokers
 * (forwarding.h). */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "common/rill_error.h"
#include "metadata/controller.h"
#include "proto/kafka_errors.h"

struct create_partitions_result {
    int16_t error;
    const char *message; /* in the request's arena, NULL for none */
};

static void create_partitions_answer(struct request *req)
{
    const struct kafka_create_partitions_request *body = req->body;
    struct create_partitions_result *res = req->handler_state;
    int32_t n = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct kafka_create_partitions_response *resp = request_response(req);
    struct kafka_create_partitions_response_create_partitions_topic_result *out =
        kafka_alloc_items(&req->arena,
                          &kafka_create_partitions_response_create_partitions_topic_result_desc,
                          n);
    if (resp == NULL || (n > 0 && out == NULL)) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i].Name = body->Topics.items[i].Name;
        out[i].ErrorCode = res[i].error;
        out[i].ErrorMessage = res[i].message != NULL ? kafka_str_from(res[i].message)
                                                     : (struct kafka_str){NULL, -1};
    }
    resp->Results.count = n;
    resp->Results.items = out;
    req->response = resp;
    request_done(req);
}

static void create_partitions_applied(void *ctx, int rc)
{
    struct request *req = ctx;
    const struct kafka_create_partitions_request *body = req->body;
    struct create_partitions_result *res = req->handler_state;
    for (int32_t i = 0; rc != 0 && i < body->Topics.count; i++) {
        if (res[i].error != 0)
            continue;
        res[i].error = metadata_log_propose_error(rc);
        res[i].message = "The partitions were not committed.";
    }
    create_partitions_answer(req);
}

/* Flattens topic i's assignments into ids; NULL when it has none. */
typedef struct kafka_create_partitions_request_create_partitions_topic partitions_topic;

static int32_t *create_partitions_assignments(struct request *req, const partitions_topic *t,
                                              size_t *n)
{
    *n = 0;
    if (t->Assignments.count < 0)
        return NULL;
    size_t total = 0;
    for (int32_t a = 0; a < t->Assignments.count; a++)
        total += t->Assignments.items[a].BrokerIds.count < 0
                     ? 0 : (size_t)t->Assignments.items[a].BrokerIds.count;
    int32_t *ids = arena_alloc(&req->arena, (total + 1) * sizeof(*ids));
    if (ids == NULL)
        return NULL;
    for (int32_t a = 0; a < t->Assignments.count; a++)
        for (int32_t r = 0; r < t->Assignments.items[a].BrokerIds.count; r++)
            ids[(*n)++] = t->Assignments.items[a].BrokerIds.items[r];
    return ids;
}

void handle_create_partitions(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the controller answers */
    struct broker *b = req->broker;
    const struct kafka_create_partitions_request *body = req->body;
    int32_t n = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct create_partitions_result *res = arena_alloc(&req->arena, (size_t)(n + 1) *
                                                                        sizeof(*res));
    if (res == NULL) {
        request_drop(req, true);
        return;
    }
    req->handler_state = res;
    const struct metadata_image *image = metadata_log_image(b->mlog);
    struct controller_out all; /* every valid topic's records, one batch */
    controller_out_init(&all);
    for (int32_t i = 0; i < n; i++) {
        const partitions_topic *t = &body->Topics.items[i];
        size_t len = t->Name.len < 0 ? 0 : (size_t)t->Name.len;
        bool dup = false;
        for (int32_t k = 0; k < n && !dup; k++) {
            const struct kafka_str *o = &body->Topics.items[k].Name;
            dup = k != i && o->len == t->Name.len && (len == 0 || memcmp(o->ptr, t->Name.ptr,
                                                                         len) == 0);
        }
        if (dup) {
            res[i] = (struct create_partitions_result){KAFKA_ERR_INVALID_REQUEST,
                                                       "Duplicate topic in request."};
            continue;
        }
        size_t nassigned;
        const int32_t *assigned = create_partitions_assignments(req, t, &nassigned);
        size_t before = all.n;
        int rc = controller_create_partitions(image, t->Name.ptr, len, t->Count, assigned,
                                              nassigned, &all);
        if (rc != 0 || all.error != 0) {
            res[i].error = rc != 0 ? KAFKA_ERR_UNKNOWN_SERVER_ERROR : all.error;
            res[i].message = rc != 0 ? "Out of memory."
                                     : arena_printf(&req->arena, "%s", all.message);
            all.n = before; /* nothing of this topic is proposed */
            all.error = 0;
        } else if (body->ValidateOnly) {
            all.n = before;
        }
    }
    int rc = all.n > 0 ? metadata_log_propose(b->mlog, all.recs, all.n,
                                              create_partitions_applied, req)
                       : RILL_OK;
    bool waits = all.n > 0 && rc == 0;
    controller_out_free(&all);
    if (waits)
        return;
    if (rc != 0) {
        create_partitions_applied(req, rc);
        return;
    }
    create_partitions_answer(req);
}
