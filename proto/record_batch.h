/* Kafka record batches, magic 2 (the only format Rill accepts).
 *
 * Layout (big-endian): baseOffset i64 @0, batchLength i32 @8 (bytes after
 * this field), partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17
 * (CRC-32C of bytes 21..end), attributes i16 @21, lastOffsetDelta i32 @23,
 * baseTimestamp i64 @27, maxTimestamp i64 @35, producerId i64 @43,
 * producerEpoch i16 @51, baseSequence i32 @53, recordsCount i32 @57, then
 * the records (compressed as one blob when the codec bits are set).
 *
 * The broker stamps baseOffset and partitionLeaderEpoch in place: neither is
 * covered by the CRC, so batches are stored exactly as producers sent them.
 * Only LogAppendTime rewrites covered bytes and recomputes the CRC. */
#ifndef RILL_PROTO_RECORD_BATCH_H
#define RILL_PROTO_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_schema.h"
#include "proto/kafka_wire.h"

enum {
    RB_BASE_OFFSET = 0,
    RB_BATCH_LENGTH = 8,
    RB_LEADER_EPOCH = 12,
    RB_MAGIC = 16,
    RB_CRC = 17,
    RB_ATTRIBUTES = 21,
    RB_LAST_OFFSET_DELTA = 23,
    RB_BASE_TIMESTAMP = 27,
    RB_MAX_TIMESTAMP = 35,
    RB_PRODUCER_ID = 43,
    RB_PRODUCER_EPOCH = 51,
    RB_BASE_SEQUENCE = 53,
    RB_RECORDS_COUNT = 57,
    RB_HEADER_BYTES = 61,
    /* baseOffset + batchLength: what batchLength does not count. */
    RB_LOG_OVERHEAD = 12,
};

enum {
    RB_ATTR_CODEC_MASK = 0x07,
    RB_ATTR_LOG_APPEND_TIME = 0x08,
    RB_ATTR_TRANSACTIONAL = 0x10,
    RB_ATTR_CONTROL = 0x20,
};

struct record_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

/* Decodes the 61-byte header at p (len >= RB_HEADER_BYTES). */
void record_batch_header_read(const uint8_t *p, struct record_batch_header *h);

/* Total bytes of the batch starting at p (batchLength + 12), reading only
 * the first 12 bytes; -1 when fewer than 12 are available or the length is
 * impossible. */
int64_t record_batch_total_size(const uint8_t *p, size_t avail);

/* Why a batch was refused (maps to Kafka's CORRUPT_MESSAGE or INVALID_RECORD). */
enum record_batch_fault {
    RB_OK = 0,
    RB_FAULT_CORRUPT,   /* length or CRC wrong: CORRUPT_MESSAGE */
    RB_FAULT_INVALID,   /* structure wrong inside a sound CRC: INVALID_RECORD */
    RB_FAULT_CORRUPT_RECORDS, /* compressed records that do not inflate */
    RB_FAULT_MAGIC,     /* not magic 2: UNSUPPORTED_FOR_MESSAGE_FORMAT */
    RB_FAULT_CODEC,     /* unknown codec: UNSUPPORTED_COMPRESSION_TYPE */
    RB_FAULT_TOO_LARGE, /* inflates past the limit: RECORD_TOO_LARGE */
    RB_FAULT_NOMEM,
};

/* Summary of a validated batch. */
struct record_batch_info {
    int32_t records_count;
    int32_t last_offset_delta;
    int64_t max_timestamp;
    int64_t first_timestamp;
    int codec;
};

/* Checks one whole batch of exactly len bytes: length field, magic, CRC,
 * codec, and every record inside, inflated as a stream through a fixed
 * window (proto/record_iter.h): record lengths, offset deltas 0..n-1,
 * count == recordsCount == lastOffsetDelta + 1 > 0, key, value and header
 * lengths, timestamps that stay inside int64. Returns RB_OK or the fault. */
enum record_batch_fault record_batch_validate(const uint8_t *batch, size_t len,
                                              struct record_batch_info *info);

/* Only the framing and the CRC: what recovery checks for every batch. */
enum record_batch_fault record_batch_check_crc(const uint8_t *batch, size_t len);

/* Writes baseOffset and partitionLeaderEpoch (outside the CRC). */
void record_batch_stamp(uint8_t *batch, int64_t base_offset, int32_t leader_epoch);

/* Switches the batch to LogAppendTime: sets attribute bit 3, maxTimestamp =
 * now_ms, and recomputes the CRC. */
void record_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t now_ms);

/* Corrects a CreateTime batch whose header maxTimestamp is not the largest
 * record timestamp (as Kafka does), recomputing the CRC. No-op when right. */
void record_batch_fix_max_timestamp(uint8_t *batch, size_t len, int64_t max_timestamp);

/* One record, as views into the batch (proto/record_iter.h fills it). */
struct record_view {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    struct kafka_bytes key;   /* len -1 = null; ptr NULL when compressed */
    struct kafka_bytes value; /* len -1 = null; ptr NULL when compressed */
    int32_t headers_count;
    const uint8_t *headers;   /* raw header bytes; NULL when compressed */
    size_t headers_len;
};

/* Appends one record to w (for tests and tools that build batches). */
void record_write(struct kafka_writer *w, int64_t timestamp_delta, int32_t offset_delta,
                  struct kafka_bytes key, struct kafka_bytes value);

/* Builds a whole uncompressed-or-compressed batch around records already
 * encoded in recs (count records), for tests, tools and the metadata log.
 * Returns 0 or a RILL_ERR_*. */
int record_batch_build(struct kafka_writer *w, int codec, int64_t base_timestamp,
                       int64_t max_timestamp, int32_t count, const uint8_t *recs,
                       size_t recs_len);

/* The same for a control batch (attribute bit 5, uncompressed), such as
 * the LeaderChange record each new metadata-quorum leader writes. */
int record_batch_build_control(struct kafka_writer *w, int64_t timestamp, int32_t count,
                               const uint8_t *recs, size_t recs_len);

#endif
