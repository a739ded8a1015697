/* OffsetForLeaderEpoch (KIP-101/KIP-320): for each partition, the largest
 * leader epoch at or below the one asked for that this leader's history
 * knows, and the offset where it ended (the log end for the current
 * epoch); UNDEFINED (-1, -1) when the history knows none. Consumers use it
 * to find whether a leader change truncated what they had read. Answered
 * by the partition's leader only, after the same CurrentLeaderEpoch check
 * as Fetch. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

typedef struct kafka_offset_for_leader_epoch_response_epoch_end_offset epoch_answer;
typedef struct kafka_offset_for_leader_epoch_response_offset_for_leader_topic_result topic_answer;

static void epoch_one(struct broker *b, struct kafka_str topic,
                      const struct kafka_offset_for_leader_epoch_request_offset_for_leader_partition
                          *in,
                      epoch_answer *out)
{
    out->Partition = in->Partition;
    out->LeaderEpoch = -1;
    out->EndOffset = -1;
    struct partition *p = NULL;
    int16_t perr = topic.len > 0 ? topics_partition_led(b, topic.ptr, (size_t)topic.len,
                                                        in->Partition, &p)
                                 : KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p == NULL) {
        out->ErrorCode = perr;
        return;
    }
    out->ErrorCode = partition_check_leader_epoch(p, in->CurrentLeaderEpoch);
    if (out->ErrorCode != 0)
        return;
    /* The current epoch may have written nothing yet: it ends at the log
     * end all the same. */
    if (in->LeaderEpoch == p->leader_epoch) {
        out->LeaderEpoch = p->leader_epoch;
        out->EndOffset = storage_log_end_offset(p->log);
        return;
    }
    storage_log_end_for_epoch(p->log, in->LeaderEpoch, &out->LeaderEpoch, &out->EndOffset);
}

void handle_offset_for_leader_epoch(struct request *req)
{
    const struct kafka_offset_for_leader_epoch_request *body = req->body;
    struct kafka_offset_for_leader_epoch_response *resp = request_response(req);
    int32_t nt = body->Topics.count < 0 ? 0 : body->Topics.count;
    const struct kafka_struct_desc *topic_desc =
        &kafka_offset_for_leader_epoch_response_offset_for_leader_topic_result_desc;
    topic_answer *topics = kafka_alloc_items(&req->arena, topic_desc, nt);
    if (resp == NULL || (nt > 0 && topics == NULL)) {
        request_drop(req, true);
        return;
    }
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_offset_for_leader_epoch_request_offset_for_leader_topic *tin =
            &body->Topics.items[t];
        int32_t np = tin->Partitions.count < 0 ? 0 : tin->Partitions.count;
        epoch_answer *parts = kafka_alloc_items(
            &req->arena, &kafka_offset_for_leader_epoch_response_epoch_end_offset_desc, np);
        if (np > 0 && parts == NULL) {
            request_drop(req, true);
            return;
        }
        topics[t].Topic = tin->Topic;
        topics[t].Partitions.count = np;
        topics[t].Partitions.items = parts;
        for (int32_t i = 0; i < np; i++)
            epoch_one(req->broker, tin->Topic, &tin->Partitions.items[i], &parts[i]);
    }
    resp->Topics.count = nt;
    resp->Topics.items = topics;
    req->response = resp;
    request_done(req);
}
