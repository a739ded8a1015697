/* OffsetCommit v2-7: validated against the group (generation, member),
 * appended to the group's __consumer_offsets partition, and acknowledged
 * once durable. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "common/clock.h"
#include "proto/kafka_errors.h"

static void offset_commit_done(void *ctx, int16_t error)
{
    struct request *req = ctx;
    struct kafka_offset_commit_response *resp = req->response;
    for (int32_t t = 0; t < resp->Topics.count; t++) {
        struct kafka_offset_commit_response_offset_commit_response_topic *rt =
            &resp->Topics.items[t];
        for (int32_t i = 0; i < rt->Partitions.count; i++)
            if (rt->Partitions.items[i].ErrorCode == -2) /* "to be written" */
                rt->Partitions.items[i].ErrorCode = error;
    }
    request_done(req);
}

void handle_offset_commit(struct request *req)
{
    struct broker *b = req->broker;
    const struct kafka_offset_commit_request *body = req->body;
    struct kafka_offset_commit_response *resp = request_response(req);
    int32_t nt = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct kafka_offset_commit_response_offset_commit_response_topic *topics = kafka_alloc_items(
        &req->arena, &kafka_offset_commit_response_offset_commit_response_topic_desc, nt);
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += (size_t)(body->Topics.items[t].Partitions.count > 0
                              ? body->Topics.items[t].Partitions.count
                              : 0);
    struct coordinator_offset *offsets = arena_alloc(&req->arena, (total + 1) * sizeof(*offsets));
    if (resp == NULL || (nt > 0 && topics == NULL) || offsets == NULL) {
        request_drop(req, true);
        return;
    }
    resp->Topics.count = nt;
    resp->Topics.items = topics;
    req->response = resp;

    /* Group-level checks decide every partition's answer. */
    struct group *g = NULL;
    int16_t group_error = KAFKA_ERR_INVALID_GROUP_ID;
    if (body->GroupId.len > 0) {
        bool standalone = body->GenerationIdOrMemberEpoch < 0;
        group_error = group_coordinator_group(b->groups, body->GroupId.ptr,
                                              (size_t)body->GroupId.len, standalone, &g);
        if (group_error == KAFKA_ERR_GROUP_ID_NOT_FOUND)
            group_error = KAFKA_ERR_ILLEGAL_GENERATION; /* a generation of a group that is gone */
        if (group_error == 0)
            group_error = group_validate_commit(g, body->GenerationIdOrMemberEpoch,
                                                body->MemberId, body->GroupInstanceId);
    }
    size_t n = 0;
    int64_t now = clock_wall_ms();
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_offset_commit_request_offset_commit_request_topic *tin =
            &body->Topics.items[t];
        int32_t np = tin->Partitions.count < 0 ? 0 : tin->Partitions.count;
        struct kafka_offset_commit_response_offset_commit_response_partition *parts =
            kafka_alloc_items(&req->arena,
                              &kafka_offset_commit_response_offset_commit_response_partition_desc,
                              np);
        if (np > 0 && parts == NULL) {
            request_drop(req, true);
            return;
        }
        topics[t].Name = tin->Name;
        topics[t].Partitions.count = np;
        topics[t].Partitions.items = parts;
        struct broker_topic *bt =
            tin->Name.len > 0 ? topics_find(b, tin->Name.ptr, (size_t)tin->Name.len) : NULL;
        for (int32_t i = 0; i < np; i++) {
            const struct kafka_offset_commit_request_offset_commit_request_partition *pin =
                &tin->Partitions.items[i];
            parts[i].PartitionIndex = pin->PartitionIndex;
            size_t mlen = pin->CommittedMetadata.len > 0 ? (size_t)pin->CommittedMetadata.len : 0;
            if (group_error != 0) {
                parts[i].ErrorCode = group_error;
            } else if (bt == NULL || pin->PartitionIndex < 0 ||
                       pin->PartitionIndex >= bt->npartitions) {
                parts[i].ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (group_coordinator_check_metadata(mlen) != 0) {
                parts[i].ErrorCode = KAFKA_ERR_OFFSET_METADATA_TOO_LARGE;
            } else {
                parts[i].ErrorCode = -2;
                offsets[n++] = (struct coordinator_offset){
                    .topic = tin->Name.ptr,
                    .topic_len = (size_t)tin->Name.len,
                    .partition = pin->PartitionIndex,
                    .offset = pin->CommittedOffset,
                    .leader_epoch = pin->CommittedLeaderEpoch,
                    .metadata = mlen ? pin->CommittedMetadata.ptr : "",
                    .metadata_len = mlen,
                    /* v2-4 may ask for a retention of their own. */
                    .expire_timestamp = req->version <= 4 && body->RetentionTimeMs >= 0
                                            ? now + body->RetentionTimeMs
                                            : -1,
                };
            }
        }
    }
    if (n == 0) {
        request_done(req);
        return;
    }
    group_coordinator_commit(g, offsets, n, offset_commit_done, req);
}
