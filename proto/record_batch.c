#include "proto/record_batch.h"

#include <string.h>

#include "common/checked.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/compression.h"
#include "proto/crc32c.h"
#include "proto/record_iter.h"

_Static_assert(RB_HEADER_BYTES == 61, "record batch v2 header is 61 bytes");

void record_batch_header_read(const uint8_t *p, struct record_batch_header *h)
{
    h->base_offset = (int64_t)be64_load(p + RB_BASE_OFFSET);
    h->batch_length = (int32_t)be32_load(p + RB_BATCH_LENGTH);
    h->partition_leader_epoch = (int32_t)be32_load(p + RB_LEADER_EPOCH);
    h->magic = (int8_t)p[RB_MAGIC];
    h->crc = be32_load(p + RB_CRC);
    h->attributes = (int16_t)be16_load(p + RB_ATTRIBUTES);
    h->last_offset_delta = (int32_t)be32_load(p + RB_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)be64_load(p + RB_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)be64_load(p + RB_MAX_TIMESTAMP);
    h->producer_id = (int64_t)be64_load(p + RB_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16_load(p + RB_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)be32_load(p + RB_BASE_SEQUENCE);
    h->records_count = (int32_t)be32_load(p + RB_RECORDS_COUNT);
}

int64_t record_batch_total_size(const uint8_t *p, size_t avail)
{
    if (avail < RB_LOG_OVERHEAD)
        return -1;
    int32_t batch_length = (int32_t)be32_load(p + RB_BATCH_LENGTH);
    if (batch_length < RB_HEADER_BYTES - RB_LOG_OVERHEAD)
        return -1;
    return (int64_t)batch_length + RB_LOG_OVERHEAD;
}

enum record_batch_fault record_batch_check_crc(const uint8_t *batch, size_t len)
{
    if (len < RB_HEADER_BYTES)
        return RB_FAULT_CORRUPT;
    int64_t total = record_batch_total_size(batch, len);
    if (total < 0 || (uint64_t)total != len)
        return RB_FAULT_CORRUPT;
    if (batch[RB_MAGIC] != 2)
        return RB_FAULT_MAGIC;
    uint32_t crc = crc32c(batch + RB_ATTRIBUTES, len - RB_ATTRIBUTES);
    if (crc != be32_load(batch + RB_CRC))
        return RB_FAULT_CORRUPT;
    return RB_OK;
}

static enum record_batch_fault batch_fault_from(int rc)
{
    switch (rc) {
    case RILL_ERR_TOO_LARGE:
        return RB_FAULT_TOO_LARGE;
    case RILL_ERR_NOMEM:
        return RB_FAULT_NOMEM;
    case RILL_ERR_CORRUPT:
        return RB_FAULT_CORRUPT_RECORDS;
    default:
        return RB_FAULT_INVALID;
    }
}

enum record_batch_fault record_batch_validate(const uint8_t *batch, size_t len,
                                              struct record_batch_info *info)
{
    enum record_batch_fault fault = record_batch_check_crc(batch, len);
    if (fault != RB_OK)
        return fault;
    struct record_batch_header h;
    record_batch_header_read(batch, &h);
    int codec = h.attributes & RB_ATTR_CODEC_MASK;
    if (compression_name(codec) == NULL)
        return RB_FAULT_CODEC;
    if (h.records_count <= 0 || h.records_count > LIMIT_RECORDS_PER_BATCH)
        return RB_FAULT_INVALID; /* Kafka refuses empty batches from producers */
    if (h.last_offset_delta != h.records_count - 1)
        return RB_FAULT_INVALID;

    struct record_iter it;
    int rc = record_iter_open(&it, batch, len);
    if (rc != 0)
        return batch_fault_from(rc);
    int64_t max_ts = h.base_timestamp;
    int64_t first_ts = -1;
    int32_t n = 0;
    struct record_view rec;
    while ((rc = record_iter_next(&it, &rec)) == 1) {
        int64_t ts;
        if (n >= h.records_count || rec.offset_delta != n ||
            !checked_add_i64(h.base_timestamp, rec.timestamp_delta, &ts)) {
            rc = RILL_ERR_PARSE;
            break;
        }
        if (n == 0)
            first_ts = ts;
        if (ts > max_ts)
            max_ts = ts;
        n++;
    }
    record_iter_close(&it);
    if (rc != 0)
        return batch_fault_from(rc);
    if (n != h.records_count)
        return RB_FAULT_INVALID;

    info->records_count = n;
    info->last_offset_delta = h.last_offset_delta;
    info->max_timestamp = (h.attributes & RB_ATTR_LOG_APPEND_TIME) ? h.max_timestamp : max_ts;
    info->first_timestamp = first_ts;
    info->codec = codec;
    return RB_OK;
}

void record_batch_stamp(uint8_t *batch, int64_t base_offset, int32_t leader_epoch)
{
    be64_store(batch + RB_BASE_OFFSET, (uint64_t)base_offset);
    be32_store(batch + RB_LEADER_EPOCH, (uint32_t)leader_epoch);
}

void record_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t now_ms)
{
    uint16_t attributes = be16_load(batch + RB_ATTRIBUTES);
    be16_store(batch + RB_ATTRIBUTES, attributes | RB_ATTR_LOG_APPEND_TIME);
    be64_store(batch + RB_MAX_TIMESTAMP, (uint64_t)now_ms);
    be32_store(batch + RB_CRC, crc32c(batch + RB_ATTRIBUTES, len - RB_ATTRIBUTES));
}

void record_batch_fix_max_timestamp(uint8_t *batch, size_t len, int64_t max_timestamp)
{
    if ((int64_t)be64_load(batch + RB_MAX_TIMESTAMP) == max_timestamp)
        return;
    be64_store(batch + RB_MAX_TIMESTAMP, (uint64_t)max_timestamp);
    be32_store(batch + RB_CRC, crc32c(batch + RB_ATTRIBUTES, len - RB_ATTRIBUTES));
}

void record_write(struct kafka_writer *w, int64_t timestamp_delta, int32_t offset_delta,
                  struct kafka_bytes key, struct kafka_bytes value)
{
    struct kafka_writer body;
    kafka_writer_init(&body);
    kafka_write_i8(&body, 0);
    kafka_write_varlong(&body, timestamp_delta);
    kafka_write_varint(&body, offset_delta);
    kafka_write_varint(&body, key.len);
    if (key.len > 0)
        kafka_write_raw(&body, key.ptr, (size_t)key.len);
    kafka_write_varint(&body, value.len);
    if (value.len > 0)
        kafka_write_raw(&body, value.ptr, (size_t)value.len);
    kafka_write_varint(&body, 0); /* no headers */
    if (body.err)
        w->err = 1;
    kafka_write_varint(w, (int32_t)body.len);
    kafka_write_raw(w, body.buf, body.len);
    kafka_writer_free(&body);
}

int record_batch_build(struct kafka_writer *w, int codec, int64_t base_timestamp,
                       int64_t max_timestamp, int32_t count, const uint8_t *recs,
                       size_t recs_len)
{
    size_t start = w->len;
    uint8_t *h = kafka_writer_reserve(w, RB_HEADER_BYTES);
    if (h == NULL)
        return RILL_ERR_NOMEM;
    memset(h, 0, RB_HEADER_BYTES);
    int rc = compression_compress(codec, recs, recs_len, w, 0);
    if (rc != 0)
        return rc;
    h = w->buf + start; /* the buffer may have moved */
    size_t total = w->len - start;
    be64_store(h + RB_BASE_OFFSET, 0);
    be32_store(h + RB_BATCH_LENGTH, (uint32_t)(total - RB_LOG_OVERHEAD));
    be32_store(h + RB_LEADER_EPOCH, (uint32_t)-1);
    h[RB_MAGIC] = 2;
    be16_store(h + RB_ATTRIBUTES, (uint16_t)codec);
    be32_store(h + RB_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    be64_store(h + RB_BASE_TIMESTAMP, (uint64_t)base_timestamp);
    be64_store(h + RB_MAX_TIMESTAMP, (uint64_t)max_timestamp);
    be64_store(h + RB_PRODUCER_ID, (uint64_t)-1);
    be16_store(h + RB_PRODUCER_EPOCH, (uint16_t)-1);
    be32_store(h + RB_BASE_SEQUENCE, (uint32_t)-1);
    be32_store(h + RB_RECORDS_COUNT, (uint32_t)count);
    be32_store(h + RB_CRC, crc32c(h + RB_ATTRIBUTES, total - RB_ATTRIBUTES));
    return RILL_OK;
}

int record_batch_build_control(struct kafka_writer *w, int64_t timestamp, int32_t count,
                               const uint8_t *recs, size_t recs_len)
{
    size_t start = w->len;
    int rc = record_batch_build(w, 0, timestamp, timestamp, count, recs, recs_len);
    if (rc != 0)
        return rc;
    uint8_t *h = w->buf + start;
    be16_store(h + RB_ATTRIBUTES, RB_ATTR_CONTROL);
    be32_store(h + RB_CRC, crc32c(h + RB_ATTRIBUTES, w->len - start - RB_ATTRIBUTES));
    return RILL_OK;
}
