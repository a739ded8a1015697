/* Produce: validate each partition's batch, stamp and append it, and answer
 * with acks=all once every appended batch is below the high watermark (on
 * every in-sync replica, and fsynced there under the default flush
 * policy), with acks=1 once the leader's own copy is (fsynced under the
 * default policy), or at once with acks=0 (no answer at all; an error
 * closes the connection, as Kafka does). A wait ends with the leadership
 * it began in: a new leader or epoch answers NOT_LEADER_OR_FOLLOWER.
 *
 * Validation per partition, in Kafka's order: exactly one magic-2 batch
 * whose length matches (CORRUPT_MESSAGE / INVALID_RECORD), size against
 * max.message.bytes (MESSAGE_TOO_LARGE), CRC (CORRUPT_MESSAGE), codec
 * (UNSUPPORTED_COMPRESSION_TYPE, zstd needs v7), then every record,
 * inflated the way the strictest consumer reads it (proto/compression.h):
 * records that do not match the header or do not inflate are
 * INVALID_RECORD, records that inflate past LIMIT_DECOMPRESSED_BATCH_BYTES
 * MESSAGE_TOO_LARGE, each with an error message. Nothing is appended for a
 * refused batch. */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/compression.h"
#include "proto/kafka_errors.h"
#include "proto/record_batch.h"

struct produce_wait {
    struct partition_waiter waiter;
    struct produce_state *st;
    struct partition *partition;
    struct kafka_produce_response_partition_produce_response *out;
    bool waiting;
};

struct produce_state {
    struct request *req;
    struct produce_wait *waits;
    size_t nwaits;
    size_t pending;
    struct event *timer;
    bool any_error;
    struct topic_spec *specs;
    size_t nspecs;
};

static void produce_finish(struct produce_state *st)
{
    struct request *req = st->req;
    if (st->timer != NULL) {
        event_free(st->timer);
        st->timer = NULL;
    }
    const struct kafka_produce_request *body = req->body;
    if (body->Acks == 0)
        request_drop(req, st->any_error);
    else
        request_done(req);
}

static void produce_on_ack(struct partition_waiter *w, int error)
{
    struct produce_wait *pw = (struct produce_wait *)w;
    if (!pw->waiting)
        return;
    pw->waiting = false;
    if (error != 0)
        pw->out->ErrorCode = (int16_t)error;
    struct produce_state *st = pw->st;
    if (--st->pending == 0)
        produce_finish(st);
}

/* The produce timeout passed: answer REQUEST_TIMED_OUT for what has not
 * become durable (the data stays appended, as in Kafka). */
static void produce_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct produce_state *st = arg;
    for (size_t i = 0; i < st->nwaits; i++) {
        struct produce_wait *pw = &st->waits[i];
        if (!pw->waiting)
            continue;
        partition_unwait(pw->partition, &pw->waiter);
        pw->waiting = false;
        pw->out->ErrorCode = KAFKA_ERR_REQUEST_TIMED_OUT;
        st->pending--;
    }
    produce_finish(st);
}

static int16_t produce_fault_error(enum record_batch_fault fault)
{
    switch (fault) {
    case RB_OK:
        return 0;
    case RB_FAULT_CORRUPT:
        return KAFKA_ERR_CORRUPT_MESSAGE;
    case RB_FAULT_MAGIC:
        return KAFKA_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    case RB_FAULT_CODEC:
        return KAFKA_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    case RB_FAULT_TOO_LARGE:
        return KAFKA_ERR_MESSAGE_TOO_LARGE;
    case RB_FAULT_INVALID:
        return KAFKA_ERR_INVALID_RECORD;
    case RB_FAULT_CORRUPT_RECORDS:
        /* The CRC held, so the producer built it so: a retry cannot help
         * (CORRUPT_MESSAGE is retriable; Kafka answers UNKNOWN_SERVER_ERROR
         * here, which says less). */
        return KAFKA_ERR_INVALID_RECORD;
    case RB_FAULT_NOMEM:
    default:
        return KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
}

static const char *produce_fault_message(enum record_batch_fault fault)
{
    switch (fault) {
    case RB_FAULT_CORRUPT:
        return "Record batch length or CRC is wrong";
    case RB_FAULT_INVALID:
        return "Records do not match the batch header (count, offsets, lengths or timestamps)";
    case RB_FAULT_CORRUPT_RECORDS:
        return "Compressed records do not decompress the way every consumer reads them";
    case RB_FAULT_TOO_LARGE:
        return "Records decompress to more than the broker accepts";
    default:
        return NULL;
    }
}

static void produce_set_error(struct request *req,
                              struct kafka_produce_response_partition_produce_response *out,
                              int16_t error, const char *message)
{
    out->ErrorCode = error;
    out->BaseOffset = -1;
    if (message != NULL)
        out->ErrorMessage = (struct kafka_str){arena_printf(&req->arena, "%s", message),
                                               (int32_t)strlen(message)};
}

/* Validates and appends one partition's records. Returns the partition to
 * wait on (or NULL when answered already). */
static struct partition *produce_one(struct request *req, struct kafka_str topic,
                                     const struct kafka_produce_request_partition_produce_data *in,
                                     struct kafka_produce_response_partition_produce_response *out,
                                     int64_t *end_offset)
{
    struct broker *b = req->broker;
    out->Index = in->Index;
    out->LogAppendTimeMs = -1;
    out->LogStartOffset = -1;
    struct partition *p = NULL;
    int16_t perr = topic.len > 0 ? topics_partition_led(b, topic.ptr, (size_t)topic.len,
                                                        in->Index, &p)
                                 : KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p == NULL) {
        produce_set_error(req, out, perr, NULL);
        return NULL;
    }
    if (p->topic->internal) {
        produce_set_error(req, out, KAFKA_ERR_INVALID_TOPIC_EXCEPTION,
                          "Cannot append to an internal topic");
        return NULL;
    }
    out->LogStartOffset = storage_log_start_offset(p->log);
    /* acks=all needs min.insync.replicas in the ISR before anything is
     * appended (after, a shrink fails the wait: NOT_ENOUGH_REPLICAS_AFTER_
     * APPEND). */
    const struct kafka_produce_request *body = req->body;
    if (body->Acks == -1 && !partition_enough_replicas(p)) {
        produce_set_error(req, out, KAFKA_ERR_NOT_ENOUGH_REPLICAS,
                          "Fewer in-sync replicas than min.insync.replicas");
        return NULL;
    }
    const struct kafka_records *rec = &in->Records;
    if (rec->len <= 0) {
        produce_set_error(req, out, KAFKA_ERR_INVALID_RECORD, "No record batch");
        return NULL;
    }
    int64_t total = record_batch_total_size(rec->ptr, (size_t)rec->len);
    if (total < RB_HEADER_BYTES || total > rec->len) {
        produce_set_error(req, out, KAFKA_ERR_CORRUPT_MESSAGE, "Truncated record batch");
        return NULL;
    }
    if (total != rec->len) {
        produce_set_error(req, out, KAFKA_ERR_INVALID_RECORD,
                          "Produce v3+ takes exactly one record batch per partition");
        return NULL;
    }
    if (total > p->topic->cfg.max_message_bytes) {
        produce_set_error(req, out, KAFKA_ERR_MESSAGE_TOO_LARGE,
                          "Record batch is larger than max.message.bytes");
        return NULL;
    }
    if ((be16_load(rec->ptr + RB_ATTRIBUTES) & RB_ATTR_CODEC_MASK) == COMPRESSION_ZSTD &&
        req->version < 7) {
        produce_set_error(req, out, KAFKA_ERR_UNSUPPORTED_COMPRESSION_TYPE,
                          "zstd needs Produce v7 or later");
        return NULL;
    }
    struct record_batch_info info;
    enum record_batch_fault fault =
        record_batch_validate(rec->ptr, (size_t)rec->len, &info);
    if (fault != RB_OK) {
        produce_set_error(req, out, produce_fault_error(fault), produce_fault_message(fault));
        log_debug("produce", "%.*s-%d: batch refused: %s", topic.len, topic.ptr, in->Index,
                  produce_fault_message(fault));
        return NULL;
    }
    int16_t attributes = (int16_t)be16_load(rec->ptr + RB_ATTRIBUTES);
    if (attributes & RB_ATTR_CONTROL) {
        produce_set_error(req, out, KAFKA_ERR_INVALID_RECORD,
                          "Control batches are written by the broker only");
        return NULL;
    }
    /* The frame is ours: stamp the batch in place. */
    uint8_t *batch = (uint8_t *)rec->ptr;
    if (p->topic->cfg.timestamp_type == TIMESTAMP_LOG_APPEND_TIME) {
        int64_t now = clock_wall_ms();
        record_batch_set_log_append_time(batch, (size_t)rec->len, now);
        info.max_timestamp = now;
        out->LogAppendTimeMs = now;
    } else if (!(attributes & RB_ATTR_LOG_APPEND_TIME)) {
        record_batch_fix_max_timestamp(batch, (size_t)rec->len, info.max_timestamp);
    }
    struct record_batch_header h;
    record_batch_header_read(batch, &h);
    if (h.producer_id >= 0) {
        if (h.attributes & RB_ATTR_TRANSACTIONAL) {
            produce_set_error(req, out, KAFKA_ERR_INVALID_RECORD,
                              "Transactions are not supported");
            return NULL;
        }
        if (h.base_sequence < 0) { /* as Kafka's validator: sequences are 0.. */
            produce_set_error(req, out, KAFKA_ERR_INVALID_RECORD,
                              "Invalid sequence number in a batch with a producer id");
            return NULL;
        }
        int64_t dup_base = -1;
        int16_t error = 0;
        switch (producer_state_check(&p->producers, h.producer_id, h.producer_epoch,
                                     h.base_sequence, info.last_offset_delta, &dup_base, &error)) {
        case PRODUCER_DUPLICATE:
            /* A retry of a batch already appended: its first answer again. */
            out->BaseOffset = dup_base;
            out->LogAppendTimeMs = -1;
            *end_offset = dup_base + info.last_offset_delta + 1;
            return p;
        case PRODUCER_REFUSED:
            produce_set_error(req, out, error, NULL);
            return NULL;
        case PRODUCER_APPEND:
            break;
        }
    }
    int64_t base;
    int rc = partition_append(p, batch, (size_t)rec->len, &info, &base);
    if (rc != 0) {
        produce_set_error(req, out, KAFKA_ERR_KAFKA_STORAGE_ERROR, rill_strerror(rc));
        return NULL;
    }
    if (h.producer_id >= 0 &&
        producer_state_record(&p->producers, h.producer_id, h.producer_epoch, h.base_sequence,
                              info.last_offset_delta, base, clock_wall_ms()) != 0)
        log_warn("produce", "%s-%d: producer %lld not tracked (out of memory)", p->topic->name,
                 p->index, (long long)h.producer_id);
    out->BaseOffset = base;
    *end_offset = base + info.last_offset_delta + 1;
    return p;
}

static void produce_all(struct produce_state *st)
{
    struct request *req = st->req;
    struct broker *b = req->broker;
    const struct kafka_produce_request *body = req->body;
    struct kafka_produce_response *resp = request_response(req);
    int32_t ntopics = body->TopicData.count < 0 ? 0 : body->TopicData.count;
    struct kafka_produce_response_topic_produce_response *topics = kafka_alloc_items(
        &req->arena, &kafka_produce_response_topic_produce_response_desc, ntopics);
    size_t nparts = 0;
    for (int32_t t = 0; t < ntopics; t++)
        nparts += (size_t)(body->TopicData.items[t].PartitionData.count > 0
                               ? body->TopicData.items[t].PartitionData.count
                               : 0);
    st->waits = arena_alloc(&req->arena, (nparts + 1) * sizeof(*st->waits));
    if (resp == NULL || (ntopics > 0 && topics == NULL) || st->waits == NULL) {
        request_drop(req, true);
        return;
    }
    resp->Responses.count = ntopics;
    resp->Responses.items = topics;
    req->response = resp;

    bool acks_valid = body->Acks == 0 || body->Acks == 1 || body->Acks == -1;
    bool too_old = req->version < req->api->serve_min;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct kafka_produce_request_topic_produce_data *tin = &body->TopicData.items[t];
        int32_t np = tin->PartitionData.count < 0 ? 0 : tin->PartitionData.count;
        struct kafka_produce_response_partition_produce_response *parts = kafka_alloc_items(
            &req->arena, &kafka_produce_response_partition_produce_response_desc, np);
        if (np > 0 && parts == NULL) {
            request_drop(req, true);
            return;
        }
        topics[t].Name = tin->Name;
        topics[t].PartitionResponses.count = np;
        topics[t].PartitionResponses.items = parts;
        for (int32_t i = 0; i < np; i++) {
            struct kafka_produce_response_partition_produce_response *out = &parts[i];
            out->Index = tin->PartitionData.items[i].Index;
            if (too_old) {
                produce_set_error(req, out, KAFKA_ERR_UNSUPPORTED_VERSION,
                                  "Produce v0-v2 (message format v0/v1) is not supported");
            } else if (!acks_valid) {
                produce_set_error(req, out, KAFKA_ERR_INVALID_REQUIRED_ACKS, NULL);
            } else if (body->TransactionalId.len >= 0) {
                produce_set_error(req, out, KAFKA_ERR_INVALID_REQUEST,
                                  "Transactions are not supported");
            } else {
                int64_t end = 0;
                struct partition *p =
                    produce_one(req, tin->Name, &tin->PartitionData.items[i], out, &end);
                if (p != NULL && body->Acks != 0) {
                    struct produce_wait *pw = &st->waits[st->nwaits++];
                    pw->st = st;
                    pw->partition = p;
                    pw->out = out;
                    pw->waiter.offset = end;
                    pw->waiter.local = body->Acks == 1;
                    pw->waiter.fn = produce_on_ack;
                }
            }
            if (out->ErrorCode != 0) {
                st->any_error = true;
                log_debug("produce", "%.*s-%d: %s", tin->Name.len, tin->Name.ptr, out->Index,
                          kafka_error_name(out->ErrorCode));
            }
        }
    }

    /* Everything is appended; now wait for the acknowledgements. */
    st->pending = st->nwaits + 1;
    for (size_t i = 0; i < st->nwaits; i++) {
        st->waits[i].waiting = true;
        partition_wait(st->waits[i].partition, &st->waits[i].waiter);
    }
    if (--st->pending == 0) {
        produce_finish(st);
        return;
    }
    int32_t timeout_ms = body->TimeoutMs > 0 ? body->TimeoutMs : 30000;
    st->timer = evtimer_new(b->base, produce_on_timeout, st);
    if (st->timer != NULL) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(st->timer, &tv);
    }
}

static void produce_created(void *ctx)
{
    produce_all(ctx);
}

void handle_produce(struct request *req)
{
    struct broker *b = req->broker;
    const struct kafka_produce_request *body = req->body;
    struct produce_state *st = arena_alloc(&req->arena, sizeof(*st));
    if (st == NULL) {
        request_drop(req, true);
        return;
    }
    st->req = req;
    req->handler_state = st;
    if (body->Acks == 0)
        req->no_response = true;

    /* Unknown topics are created first when auto-creation is on. */
    int32_t ntopics = body->TopicData.count < 0 ? 0 : body->TopicData.count;
    if (b->cfg.auto_create_topics_enable && req->version >= req->api->serve_min && ntopics > 0) {
        st->specs = arena_alloc(&req->arena, (size_t)ntopics * sizeof(*st->specs));
        if (st->specs == NULL) {
            request_drop(req, true);
            return;
        }
        for (int32_t t = 0; t < ntopics; t++) {
            struct kafka_str name = body->TopicData.items[t].Name;
            const char *why;
            if (name.len <= 0 || topics_validate_name(name.ptr, (size_t)name.len, &why) != 0 ||
                topics_find(b, name.ptr, (size_t)name.len) != NULL)
                continue;
            struct topic_spec *s = &st->specs[st->nspecs++];
            s->name = name;
            s->num_partitions = -1;
            s->replication_factor = -1;
        }
        if (st->nspecs > 0 &&
            topics_create(b, st->specs, st->nspecs, false, true, produce_created, st))
            return;
    }
    produce_all(st);
}
