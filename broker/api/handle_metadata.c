/* Metadata: brokers, cluster id, controller, topics and partitions.
 *
 * Topic selection: v0 with an empty list and v1+ with a null list mean all
 * topics; v1+ with an empty list means none. Unknown topics are created
 * when auto.create.topics.enable is set and the request allows it (always
 * below v4, by flag from v4), never for all-topics requests. Creation is
 * awaited, so the answer lists the new topic with its leaders. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "proto/kafka_errors.h"

/* Authorized-operation bitfields (Kafka's AclOperation codes) for a broker
 * without ACLs: everything is allowed. */
enum {
    TOPIC_OPERATIONS_ALL = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) |
                           (1 << 10) | (1 << 11),
    CLUSTER_OPERATIONS_ALL = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) |
                             (1 << 12),
};

struct metadata_state {
    struct topic_spec *specs;
    size_t nspecs;
};

static int metadata_fill_topic(struct request *req,
                               struct kafka_metadata_response_metadata_response_topic *out,
                               const struct metadata_topic *mt, struct broker_topic *bt)
{
    struct broker *b = req->broker;
    const struct kafka_metadata_request *body = req->body;
    out->ErrorCode = 0;
    out->Name = (struct kafka_str){mt->name, (int32_t)strlen(mt->name)};
    memcpy(out->TopicId.bytes, mt->id, 16);
    out->IsInternal = mt->internal;
    if (body->IncludeTopicAuthorizedOperations)
        out->TopicAuthorizedOperations = TOPIC_OPERATIONS_ALL;
    struct kafka_metadata_response_metadata_response_partition *parts = kafka_alloc_items(
        &req->arena, &kafka_metadata_response_metadata_response_partition_desc,
        mt->npartitions);
    if (mt->npartitions > 0 && parts == NULL)
        return -1;
    for (int32_t i = 0; i < mt->npartitions; i++) {
        const struct metadata_partition *mp = &mt->partitions[i];
        struct kafka_metadata_response_metadata_response_partition *p = &parts[i];
        p->PartitionIndex = mp->partition;
        p->LeaderId = mp->leader;
        p->LeaderEpoch = mp->leader_epoch;
        p->ReplicaNodes.count = (int32_t)mp->nreplicas;
        p->ReplicaNodes.items = mp->replicas;
        p->IsrNodes.count = (int32_t)mp->nisr;
        p->IsrNodes.items = mp->isr;
        /* Replicas on brokers that are fenced or gone (v5+). */
        int32_t *offline = arena_alloc(&req->arena, (mp->nreplicas + 1) * sizeof(*offline));
        if (offline == NULL)
            return -1;
        int32_t noffline = 0;
        for (size_t r = 0; r < mp->nreplicas; r++)
            if (!metadata_image_broker_live(metadata_log_image(b->mlog), mp->replicas[r]))
                offline[noffline++] = mp->replicas[r];
        p->OfflineReplicas.count = noffline;
        p->OfflineReplicas.items = offline;
        /* A partition the image lists but this broker could not open. */
        bool local = bt != NULL && i < bt->npartitions && bt->partitions[i] != NULL;
        if (mp->leader == -1)
            p->ErrorCode = KAFKA_ERR_LEADER_NOT_AVAILABLE;
        if (mp->leader == b->cfg.node_id && !local) {
            p->ErrorCode = KAFKA_ERR_LEADER_NOT_AVAILABLE;
            p->LeaderId = -1;
        }
    }
    out->Partitions.count = mt->npartitions;
    out->Partitions.items = parts;
    return 0;
}

static void metadata_collect_all(void *ctx, const struct metadata_topic *mt)
{
    const struct metadata_topic ***cursor = ctx;
    *(*cursor)++ = mt;
}

static void metadata_answer(struct request *req)
{
    struct broker *b = req->broker;
    const struct kafka_metadata_request *body = req->body;
    const struct metadata_image *image = metadata_log_image(b->mlog);
    struct kafka_metadata_response *resp = request_response(req);
    /* The live brokers: registered and not fenced, as Kafka lists them. */
    int32_t nbrokers = 0;
    for (size_t i = 0; i < image->nbrokers; i++)
        nbrokers += !image->brokers[i].fenced;
    struct kafka_metadata_response_metadata_response_broker *brokers = kafka_alloc_items(
        &req->arena, &kafka_metadata_response_metadata_response_broker_desc, nbrokers);
    if (resp == NULL || (nbrokers > 0 && brokers == NULL))
        goto oom;
    int32_t at = 0;
    for (size_t i = 0; i < image->nbrokers; i++) {
        const struct metadata_broker *mb = &image->brokers[i];
        if (mb->fenced)
            continue;
        brokers[at].NodeId = mb->id;
        brokers[at].Host = kafka_str_from(mb->host);
        brokers[at].Port = mb->port;
        at++;
    }
    resp->Brokers.count = nbrokers;
    resp->Brokers.items = brokers;
    resp->ClusterId = kafka_str_from(b->cluster_id);
    /* The active controller: the metadata quorum's leader. */
    resp->ControllerId = metadata_log_leader(b->mlog);
    if (body->IncludeClusterAuthorizedOperations)
        resp->ClusterAuthorizedOperations = CLUSTER_OPERATIONS_ALL;

    bool all = body->Topics.count < 0 || (req->version == 0 && body->Topics.count == 0);
    int32_t n = all ? (int32_t)image->ntopics : body->Topics.count;
    struct kafka_metadata_response_metadata_response_topic *topics = kafka_alloc_items(
        &req->arena, &kafka_metadata_response_metadata_response_topic_desc, n);
    if (n > 0 && topics == NULL)
        goto oom;
    if (all) {
        const struct metadata_topic **list = arena_alloc(&req->arena, (size_t)(n + 1) *
                                                                          sizeof(*list));
        if (list == NULL)
            goto oom;
        const struct metadata_topic **cursor = list;
        metadata_image_each_topic(image, metadata_collect_all, &cursor);
        for (int32_t i = 0; i < n; i++) {
            struct broker_topic *bt = topics_find(b, list[i]->name, strlen(list[i]->name));
            if (metadata_fill_topic(req, &topics[i], list[i], bt) != 0)
                goto oom;
        }
    } else {
        struct metadata_state *st = req->handler_state;
        for (int32_t i = 0; i < n; i++) {
            struct kafka_str name = body->Topics.items[i].Name;
            size_t len = name.len < 0 ? 0 : (size_t)name.len;
            const struct metadata_topic *mt = metadata_image_topic(image, name.ptr, len);
            topics[i].Name = name;
            if (mt != NULL) {
                if (metadata_fill_topic(req, &topics[i], mt, topics_find(b, name.ptr, len)) != 0)
                    goto oom;
                continue;
            }
            const char *why;
            topics[i].ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (topics_validate_name(name.ptr, len, &why) != 0)
                topics[i].ErrorCode = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
            for (size_t k = 0; st != NULL && k < st->nspecs; k++) {
                struct topic_spec *s = &st->specs[k];
                if (s->name.len == name.len && memcmp(s->name.ptr, name.ptr, len) == 0 &&
                    s->error != 0 && s->error != KAFKA_ERR_TOPIC_ALREADY_EXISTS)
                    topics[i].ErrorCode = s->error;
            }
        }
    }
    resp->Topics.count = n;
    resp->Topics.items = topics;
    req->response = resp;
    request_done(req);
    return;
oom:
    request_drop(req, true);
}

static void metadata_created(void *ctx)
{
    metadata_answer(ctx);
}

void handle_metadata(struct request *req)
{
    struct broker *b = req->broker;
    const struct kafka_metadata_request *body = req->body;
    bool all = body->Topics.count < 0 || (req->version == 0 && body->Topics.count == 0);
    /* AllowAutoTopicCreation defaults to true below v4 (the schema's default). */
    if (all || !b->cfg.auto_create_topics_enable || !body->AllowAutoTopicCreation) {
        metadata_answer(req);
        return;
    }
    const struct metadata_image *image = metadata_log_image(b->mlog);
    struct metadata_state *st = arena_alloc(&req->arena, sizeof(*st));
    struct topic_spec *specs =
        arena_alloc(&req->arena, (size_t)body->Topics.count * sizeof(*specs) + 1);
    if (st == NULL || specs == NULL) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < body->Topics.count; i++) {
        struct kafka_str name = body->Topics.items[i].Name;
        const char *why;
        if (name.len <= 0 || topics_validate_name(name.ptr, (size_t)name.len, &why) != 0 ||
            metadata_image_topic(image, name.ptr, (size_t)name.len) != NULL)
            continue;
        struct topic_spec *s = &specs[st->nspecs++];
        s->name = name;
        s->num_partitions = -1;
        s->replication_factor = -1;
    }
    st->specs = specs;
    req->handler_state = st;
    if (st->nspecs == 0 ||
        !topics_create(b, specs, st->nspecs, false, true, metadata_created, req))
        metadata_answer(req);
}
