#include "broker/group/group_records.h"

#include <stdlib.h>

#include "common/limits.h"
#include "common/rill_error.h"

enum {
    KEY_OFFSET_V1 = 1,
    KEY_GROUP_V2 = 2,
    VALUE_OFFSET_V1 = 1,
    VALUE_OFFSET_V3 = 3,
    VALUE_GROUP_V3 = 3,
};

void group_record_write_offset_key(struct kafka_writer *w, struct kafka_str group,
                                   struct kafka_str topic, int32_t partition)
{
    kafka_write_i16(w, KEY_OFFSET_V1);
    kafka_write_str(w, group, false);
    kafka_write_str(w, topic, false);
    kafka_write_i32(w, partition);
}

void group_record_write_offset_value(struct kafka_writer *w, const struct group_offset_value *v)
{
    struct kafka_str metadata = v->metadata.len < 0 ? (struct kafka_str){"", 0} : v->metadata;
    if (v->expire_timestamp >= 0) {
        kafka_write_i16(w, VALUE_OFFSET_V1);
        kafka_write_i64(w, v->offset);
        kafka_write_str(w, metadata, false);
        kafka_write_i64(w, v->commit_timestamp);
        kafka_write_i64(w, v->expire_timestamp);
        return;
    }
    kafka_write_i16(w, VALUE_OFFSET_V3);
    kafka_write_i64(w, v->offset);
    kafka_write_i32(w, v->leader_epoch);
    kafka_write_str(w, metadata, false);
    kafka_write_i64(w, v->commit_timestamp);
}

void group_record_write_group_key(struct kafka_writer *w, struct kafka_str group)
{
    kafka_write_i16(w, KEY_GROUP_V2);
    kafka_write_str(w, group, false);
}

void group_record_write_group_value(struct kafka_writer *w, const struct group_metadata_value *v)
{
    kafka_write_i16(w, VALUE_GROUP_V3);
    kafka_write_str(w, v->protocol_type, false);
    kafka_write_i32(w, v->generation);
    kafka_write_str(w, v->protocol, false);
    kafka_write_str(w, v->leader, false);
    kafka_write_i64(w, v->state_timestamp);
    kafka_write_i32(w, v->nmembers);
    for (int32_t i = 0; i < v->nmembers; i++) {
        const struct group_member_value *m = &v->members[i];
        kafka_write_str(w, m->member_id, false);
        kafka_write_str(w, m->instance_id, false);
        kafka_write_str(w, m->client_id, false);
        kafka_write_str(w, m->client_host, false);
        kafka_write_i32(w, m->rebalance_timeout_ms);
        kafka_write_i32(w, m->session_timeout_ms);
        kafka_write_bytes(w, m->subscription, false);
        kafka_write_bytes(w, m->assignment, false);
    }
}

int group_record_read_key(const uint8_t *data, size_t len, struct group_record_key *key)
{
    struct kafka_reader r;
    kafka_reader_init(&r, data, len);
    int16_t version = kafka_read_i16(&r);
    key->group = kafka_read_str(&r, false, false);
    if (version == 0 || version == KEY_OFFSET_V1) {
        key->kind = GROUP_RECORD_OFFSET;
        key->topic = kafka_read_str(&r, false, false);
        key->partition = kafka_read_i32(&r);
    } else if (version == KEY_GROUP_V2) {
        key->kind = GROUP_RECORD_GROUP;
    } else {
        return RILL_ERR_PARSE;
    }
    return r.err ? RILL_ERR_PARSE : RILL_OK;
}

int group_record_read_offset_value(const uint8_t *data, size_t len, struct group_offset_value *v)
{
    struct kafka_reader r;
    kafka_reader_init(&r, data, len);
    int16_t version = kafka_read_i16(&r);
    v->leader_epoch = -1;
    v->expire_timestamp = -1;
    v->offset = kafka_read_i64(&r);
    if (version >= 3)
        v->leader_epoch = kafka_read_i32(&r);
    v->metadata = kafka_read_str(&r, false, true);
    v->commit_timestamp = kafka_read_i64(&r);
    if (version == 1)
        v->expire_timestamp = kafka_read_i64(&r);
    if (version < 0 || version > 3)
        return RILL_ERR_PARSE;
    return r.err ? RILL_ERR_PARSE : RILL_OK;
}

int group_record_read_group_value(const uint8_t *data, size_t len, struct group_metadata_value *v)
{
    struct kafka_reader r;
    kafka_reader_init(&r, data, len);
    int16_t version = kafka_read_i16(&r);
    if (version != VALUE_GROUP_V3)
        return RILL_ERR_PARSE;
    v->protocol_type = kafka_read_str(&r, false, false);
    v->generation = kafka_read_i32(&r);
    v->protocol = kafka_read_str(&r, false, true);
    v->leader = kafka_read_str(&r, false, true);
    v->state_timestamp = kafka_read_i64(&r);
    /* A member is at least four empty strings, two int32 and two null
     * byte fields: 24 bytes. */
    v->nmembers = kafka_read_array_len(&r, false, false, 24);
    v->members = NULL;
    if (r.err)
        return RILL_ERR_PARSE;
    if (v->nmembers > 0) {
        v->members = calloc((size_t)v->nmembers, sizeof(*v->members));
        if (v->members == NULL)
            return RILL_ERR_NOMEM;
    }
    for (int32_t i = 0; i < v->nmembers; i++) {
        struct group_member_value *m = &v->members[i];
        m->member_id = kafka_read_str(&r, false, false);
        m->instance_id = kafka_read_str(&r, false, true);
        m->client_id = kafka_read_str(&r, false, false);
        m->client_host = kafka_read_str(&r, false, false);
        m->rebalance_timeout_ms = kafka_read_i32(&r);
        m->session_timeout_ms = kafka_read_i32(&r);
        m->subscription = kafka_read_bytes(&r, false, true);
        m->assignment = kafka_read_bytes(&r, false, true);
    }
    if (r.err) {
        free(v->members);
        v->members = NULL;
        return RILL_ERR_PARSE;
    }
    return RILL_OK;
}

int32_t group_partition_for(const char *group, size_t len, int32_t partitions)
{
    /* Java hashes UTF-16 code units: decode UTF-8, split astral code
     * points into surrogate pairs. Invalid bytes count as themselves. */
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)group;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = p[i];
        size_t n = 1;
        if (cp >= 0xf0 && i + 3 < len) {
            cp = ((cp & 0x07) << 18) | ((p[i + 1] & 0x3fu) << 12) | ((p[i + 2] & 0x3fu) << 6) |
                 (p[i + 3] & 0x3fu);
            n = 4;
        } else if (cp >= 0xe0 && i + 2 < len) {
            cp = ((cp & 0x0f) << 12) | ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu);
            n = 3;
        } else if (cp >= 0xc0 && i + 1 < len) {
            cp = ((cp & 0x1f) << 6) | (p[i + 1] & 0x3fu);
            n = 2;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31u + (0xd800u + (cp >> 10));
            h = h * 31u + (0xdc00u + (cp & 0x3ffu));
        } else {
            h = h * 31u + cp;
        }
        i += n;
    }
    /* Kafka's Utils.abs: clear the sign bit (so MIN_VALUE maps to 0). */
    return (int32_t)((h & 0x7fffffffu) % (uint32_t)partitions);
}
