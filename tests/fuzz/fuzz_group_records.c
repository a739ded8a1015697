/* The records of __consumer_offsets, read back when a coordinator loads
 * its partition: byte 0 picks the decoder (key, offset value, group value),
 * the rest is the record. A decoded record written again must decode to
 * the same bytes once more (the round trip is stable). */
#include <string.h>

#include "broker/group/group_records.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_same(const struct kafka_writer *a, const struct kafka_writer *b)
{
    FUZZ_CHECK(!a->err && !b->err && a->len == b->len);
    FUZZ_CHECK(a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void fuzz_write_key(struct kafka_writer *w, const struct group_record_key *k)
{
    if (k->kind == GROUP_RECORD_OFFSET)
        group_record_write_offset_key(w, k->group, k->topic, k->partition);
    else
        group_record_write_group_key(w, k->group);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    struct kafka_writer w1, w2;
    kafka_writer_init(&w1);
    kafka_writer_init(&w2);
    switch (data[0] % 3) {
    case 0: {
        struct group_record_key k, k2;
        if (group_record_read_key(in, len, &k) != 0)
            break;
        fuzz_write_key(&w1, &k);
        FUZZ_CHECK(group_record_read_key(w1.buf, w1.len, &k2) == 0 && k2.kind == k.kind);
        fuzz_write_key(&w2, &k2);
        fuzz_same(&w1, &w2);
        break;
    }
    case 1: {
        struct group_offset_value v, v2;
        if (group_record_read_offset_value(in, len, &v) != 0)
            break;
        group_record_write_offset_value(&w1, &v);
        FUZZ_CHECK(group_record_read_offset_value(w1.buf, w1.len, &v2) == 0);
        FUZZ_CHECK(v2.offset == v.offset && v2.commit_timestamp == v.commit_timestamp);
        group_record_write_offset_value(&w2, &v2);
        fuzz_same(&w1, &w2);
        break;
    }
    default: {
        struct group_metadata_value v, v2;
        if (group_record_read_group_value(in, len, &v) != 0)
            break;
        group_record_write_group_value(&w1, &v);
        int rc = group_record_read_group_value(w1.buf, w1.len, &v2);
        FUZZ_CHECK(rc == 0 && v2.nmembers == v.nmembers && v2.generation == v.generation);
        group_record_write_group_value(&w2, &v2);
        fuzz_same(&w1, &w2);
        free(v.members);
        free(v2.members);
        break;
    }
    }
    kafka_writer_free(&w1);
    kafka_writer_free(&w2);
    return 0;
}
