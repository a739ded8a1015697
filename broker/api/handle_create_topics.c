/* CreateTopics: validated and created through the metadata log; answered
 * once the topics exist (or with the reason they do not). */
#include <stdio.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "proto/kafka_errors.h"

struct create_topics_state {
    struct topic_spec *specs;
    int32_t n;
};

static void create_topics_answer(void *ctx)
{
    struct request *req = ctx;
    struct create_topics_state *st = req->handler_state;
    struct kafka_create_topics_response *resp = request_response(req);
    struct kafka_create_topics_response_creatable_topic_result *results = kafka_alloc_items(
        &req->arena, &kafka_create_topics_response_creatable_topic_result_desc, st->n);
    if (resp == NULL || (st->n > 0 && results == NULL)) {
        request_drop(req, true);
        return;
    }
    const struct metadata_image *image = metadata_log_image(req->broker->mlog);
    for (int32_t i = 0; i < st->n; i++) {
        struct topic_spec *s = &st->specs[i];
        results[i].Name = s->name;
        results[i].ErrorCode = s->error;
        results[i].NumPartitions = s->error ? -1 : s->num_partitions;
        results[i].ReplicationFactor = s->error ? -1 : s->replication_factor;
        if (s->error != 0) {
            results[i].ErrorMessage = (struct kafka_str){s->error_message,
                                                         (int32_t)strlen(s->error_message)};
            continue;
        }
        const struct metadata_topic *t =
            s->name.len > 0 ? metadata_image_topic(image, s->name.ptr, (size_t)s->name.len) : NULL;
        if (t != NULL)
            memcpy(results[i].TopicId.bytes, t->id, 16);
    }
    resp->Topics.count = st->n;
    resp->Topics.items = results;
    req->response = resp;
    request_done(req);
}

void handle_create_topics(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the controller answers */
    const struct kafka_create_topics_request *body = req->body;
    struct create_topics_state *st = arena_alloc(&req->arena, sizeof(*st));
    int32_t n = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct topic_spec *specs = arena_alloc(&req->arena, (size_t)n * sizeof(*specs) + 1);
    if (st == NULL || specs == NULL) {
        request_drop(req, true);
        return;
    }
    st->specs = specs;
    st->n = n;
    req->handler_state = st;
    for (int32_t i = 0; i < n; i++) {
        const struct kafka_create_topics_request_creatable_topic *in = &body->Topics.items[i];
        struct topic_spec *s = &specs[i];
        s->name = in->Name;
        s->num_partitions = in->NumPartitions;
        s->replication_factor = in->ReplicationFactor;
        int32_t nc = in->Configs.count < 0 ? 0 : in->Configs.count;
        struct kafka_str *names = arena_alloc(&req->arena, (size_t)nc * sizeof(*names) + 1);
        struct kafka_str *values = arena_alloc(&req->arena, (size_t)nc * sizeof(*values) + 1);
        if (names == NULL || values == NULL) {
            request_drop(req, true);
            return;
        }
        for (int32_t c = 0; c < nc; c++) {
            names[c] = in->Configs.items[c].Name;
            values[c] = in->Configs.items[c].Value;
        }
        s->config_names = names;
        s->config_values = values;
        s->nconfigs = (size_t)nc;
        if (in->Assignments.count <= 0)
            continue;
        /* A manual assignment fixes the partition count and replicas; the
         * controller checks the brokers it names. */
        bool bad = in->NumPartitions != -1 || in->ReplicationFactor != -1;
        s->num_partitions = in->Assignments.count;
        s->replication_factor = (int16_t)in->Assignments.items[0].BrokerIds.count;
        int32_t rf = s->replication_factor;
        int32_t *ids = arena_alloc(&req->arena, ((size_t)in->Assignments.count *
                                                 (size_t)(rf < 0 ? 0 : rf) + 1) * sizeof(*ids));
        if (ids == NULL) {
            request_drop(req, true);
            return;
        }
        for (int32_t a = 0; a < in->Assignments.count; a++) {
            const struct kafka_create_topics_request_creatable_replica_assignment *as =
                &in->Assignments.items[a];
            bad = bad || as->PartitionIndex != a || as->BrokerIds.count != rf;
            for (int32_t r = 0; !bad && r < rf; r++)
                ids[(size_t)a * (size_t)rf + (size_t)r] = as->BrokerIds.items[r];
        }
        s->assignments = ids;
        if (bad) {
            s->skip = true;
            s->error = in->NumPartitions != -1 || in->ReplicationFactor != -1
                           ? KAFKA_ERR_INVALID_REQUEST
                           : KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(s->error_message, sizeof(s->error_message),
                     "A replica assignment must list partitions 0..n-1, each with the same "
                     "number of replicas, and no partition count or replication factor.");
        }
    }
    if (!topics_create(req->broker, specs, (size_t)n, body->validateOnly, false,
                       create_topics_answer, req))
        create_topics_answer(req);
}
