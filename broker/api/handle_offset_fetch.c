/* OffsetFetch v1-5: committed offsets; a partition with no commit answers
 * offset -1 with no error (null topics from v2: every committed offset). */
#include <stdlib.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

typedef struct kafka_offset_fetch_response_offset_fetch_response_partition fetch_partition;
typedef struct kafka_offset_fetch_response_offset_fetch_response_topic fetch_topic;

static void offset_fetch_fill(struct group *g, struct kafka_str topic, int32_t partition,
                              fetch_partition *out)
{
    out->PartitionIndex = partition;
    out->CommittedOffset = -1;
    out->CommittedLeaderEpoch = -1;
    out->Metadata = (struct kafka_str){"", 0};
    if (g == NULL || topic.len < 0)
        return;
    const struct group_offset *o = group_offset_find(g, topic.ptr, (size_t)topic.len, partition);
    if (o == NULL)
        return;
    out->CommittedOffset = o->offset;
    out->CommittedLeaderEpoch = o->leader_epoch;
    out->Metadata = kafka_str_from(o->metadata);
}

/* Every committed offset of g, grouped by topic. */
static int offset_fetch_all(struct request *req, struct group *g,
                            struct kafka_offset_fetch_response *resp)
{
    int32_t n = g ? (int32_t)g->offsets.count : 0;
    fetch_topic *topics = kafka_alloc_items(
        &req->arena, &kafka_offset_fetch_response_offset_fetch_response_topic_desc, n);
    if (n > 0 && topics == NULL)
        return -1;
    int32_t nt = 0;
    size_t bucket;
    for (struct strmap_entry *e = g ? strmap_first(&g->offsets, &bucket) : NULL; e != NULL;
         e = strmap_next(&g->offsets, e, &bucket)) {
        size_t tlen = strlen(e->key);
        fetch_topic *t = NULL;
        for (int32_t i = 0; i < nt && t == NULL; i++)
            if ((size_t)topics[i].Name.len == tlen && memcmp(topics[i].Name.ptr, e->key, tlen) == 0)
                t = &topics[i];
        if (t == NULL) {
            t = &topics[nt++];
            t->Name = (struct kafka_str){e->key, (int32_t)tlen};
            t->Partitions.items = kafka_alloc_items(
                &req->arena, &kafka_offset_fetch_response_offset_fetch_response_partition_desc, n);
            if (t->Partitions.items == NULL)
                return -1;
        }
        offset_fetch_fill(g, t->Name, atoi(e->key + tlen + 1),
                          &t->Partitions.items[t->Partitions.count++]);
    }
    resp->Topics.count = nt;
    resp->Topics.items = topics;
    return 0;
}

void handle_offset_fetch(struct request *req)
{
    const struct kafka_offset_fetch_request *body = req->body;
    struct kafka_offset_fetch_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    struct group *g = NULL;
    int16_t error = KAFKA_ERR_INVALID_GROUP_ID;
    if (body->GroupId.len > 0)
        error = group_coordinator_group(req->broker->groups, body->GroupId.ptr,
                                        (size_t)body->GroupId.len, false, &g);
    if (error == KAFKA_ERR_GROUP_ID_NOT_FOUND)
        error = 0; /* nothing committed: -1 for every partition */
    resp->ErrorCode = error;
    if (body->Topics.count < 0) {
        if (error == 0 && offset_fetch_all(req, g, resp) != 0) {
            request_drop(req, true);
            return;
        }
    } else {
        int32_t nt = body->Topics.count;
        fetch_topic *topics = kafka_alloc_items(
            &req->arena, &kafka_offset_fetch_response_offset_fetch_response_topic_desc, nt);
        if (nt > 0 && topics == NULL) {
            request_drop(req, true);
            return;
        }
        for (int32_t t = 0; t < nt; t++) {
            const struct kafka_offset_fetch_request_offset_fetch_request_topic *tin =
                &body->Topics.items[t];
            int32_t np = tin->PartitionIndexes.count < 0 ? 0 : tin->PartitionIndexes.count;
            fetch_partition *parts = kafka_alloc_items(
                &req->arena, &kafka_offset_fetch_response_offset_fetch_response_partition_desc,
                np);
            if (np > 0 && parts == NULL) {
                request_drop(req, true);
                return;
            }
            topics[t].Name = tin->Name;
            topics[t].Partitions.count = np;
            topics[t].Partitions.items = parts;
            for (int32_t i = 0; i < np; i++) {
                offset_fetch_fill(error == 0 ? g : NULL, tin->Name, tin->PartitionIndexes.items[i],
                                  &parts[i]);
                /* v1 has no top-level error: each partition carries it. */
                parts[i].ErrorCode = error;
            }
        }
        resp->Topics.count = nt;
        resp->Topics.items = topics;
    }
    req->response = resp;
    request_done(req);
}
