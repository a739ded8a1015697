/* ListOffsets: an offset for a timestamp. -1 (latest) is the high
 * watermark, -2 (earliest) the log start offset; any other timestamp finds
 * the first record at or after it, or -1 when there is none that late. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "common/rill_error.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

enum { LIST_OFFSETS_LATEST = -1, LIST_OFFSETS_EARLIEST = -2 };

typedef struct kafka_list_offsets_response_list_offsets_partition_response partition_answer;

static void list_offsets_one(struct broker *b, struct kafka_str topic,
                             const struct kafka_list_offsets_request_list_offsets_partition *in,
                             partition_answer *out)
{
    out->PartitionIndex = in->PartitionIndex;
    out->Timestamp = -1;
    out->Offset = -1;
    out->LeaderEpoch = -1;
    struct partition *p = NULL;
    int16_t perr = topic.len > 0 ? topics_partition_led(b, topic.ptr, (size_t)topic.len,
                                                        in->PartitionIndex, &p)
                                 : KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p == NULL) {
        out->ErrorCode = perr;
        return;
    }
    out->ErrorCode = partition_check_leader_epoch(p, in->CurrentLeaderEpoch);
    if (out->ErrorCode != 0)
        return;
    out->LeaderEpoch = p->leader_epoch;
    if (in->Timestamp == LIST_OFFSETS_LATEST) {
        out->Offset = p->high_watermark;
    } else if (in->Timestamp == LIST_OFFSETS_EARLIEST) {
        out->Offset = storage_log_start_offset(p->log);
    } else if (in->Timestamp < 0) {
        /* -3 (max timestamp) and lower come with ListOffsets v7+. */
        out->ErrorCode = KAFKA_ERR_UNSUPPORTED_VERSION;
    } else {
        int64_t offset, ts;
        int rc = storage_log_offset_for_time(p->log, in->Timestamp, &offset, &ts);
        if (rc == 0 && offset < p->high_watermark) {
            out->Offset = offset;
            out->Timestamp = ts;
        } else if (rc != 0 && rc != RILL_ERR_NOT_FOUND) {
            out->ErrorCode = KAFKA_ERR_KAFKA_STORAGE_ERROR;
        }
    }
}

void handle_list_offsets(struct request *req)
{
    const struct kafka_list_offsets_request *body = req->body;
    struct kafka_list_offsets_response *resp = request_response(req);
    int32_t nt = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct kafka_list_offsets_response_list_offsets_topic_response *topics = kafka_alloc_items(
        &req->arena, &kafka_list_offsets_response_list_offsets_topic_response_desc, nt);
    if (resp == NULL || (nt > 0 && topics == NULL))
        goto oom;
    for (int32_t t = 0; t < nt; t++) {
        const struct kafka_list_offsets_request_list_offsets_topic *tin = &body->Topics.items[t];
        int32_t np = tin->Partitions.count < 0 ? 0 : tin->Partitions.count;
        partition_answer *parts = kafka_alloc_items(
            &req->arena, &kafka_list_offsets_response_list_offsets_partition_response_desc, np);
        if (np > 0 && parts == NULL)
            goto oom;
        topics[t].Name = tin->Name;
        topics[t].Partitions.count = np;
        topics[t].Partitions.items = parts;
        for (int32_t i = 0; i < np; i++)
            list_offsets_one(req->broker, tin->Name, &tin->Partitions.items[i], &parts[i]);
    }
    resp->Topics.count = nt;
    resp->Topics.items = topics;
    req->response = resp;
    request_done(req);
    return;
oom:
    request_drop(req, true);
}
