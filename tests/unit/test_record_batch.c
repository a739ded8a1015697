/* Record batches v2: building, validating, stamping, and every way a batch
 * can be wrong. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/compression.h"
#include "proto/crc32c.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "tests/unit/unit.h"

/* Builds a batch of n records "key-i"/"value-i" with the given codec. */
static void build_batch(struct kafka_writer *w, int codec, int n)
{
    struct kafka_writer recs;
    kafka_writer_init(&recs);
    for (int i = 0; i < n; i++) {
        char key[32], value[64];
        int kl = snprintf(key, sizeof(key), "key-%d", i);
        int vl = snprintf(value, sizeof(value), "value-%d", i);
        record_write(&recs, i * 10, i, (struct kafka_bytes){(const uint8_t *)key, kl},
                     (struct kafka_bytes){(const uint8_t *)value, vl});
    }
    ck_assert_int_eq(record_batch_build(w, codec, 1000, 1000 + (n - 1) * 10, n, recs.buf,
                                        recs.len),
                     0);
    kafka_writer_free(&recs);
}

START_TEST(valid_batches_every_codec)
{
    for (int codec = 0; codec <= 4; codec++) {
        struct kafka_writer w;
        kafka_writer_init(&w);
        build_batch(&w, codec, 25);
        struct record_batch_info info;
        ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
        ck_assert_int_eq(info.records_count, 25);
        ck_assert_int_eq(info.last_offset_delta, 24);
        ck_assert_int_eq(info.max_timestamp, 1240);
        ck_assert_int_eq(info.codec, codec);
        kafka_writer_free(&w);
    }
}
END_TEST

START_TEST(stamping_keeps_the_crc)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    build_batch(&w, COMPRESSION_NONE, 3);
    record_batch_stamp(w.buf, 123456, 7);
    struct record_batch_header h;
    record_batch_header_read(w.buf, &h);
    ck_assert_int_eq(h.base_offset, 123456);
    ck_assert_int_eq(h.partition_leader_epoch, 7);
    struct record_batch_info info;
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
    /* LogAppendTime rewrites covered bytes and must fix the CRC itself. */
    record_batch_set_log_append_time(w.buf, w.len, 555);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
    ck_assert_int_eq(info.max_timestamp, 555);
    kafka_writer_free(&w);
}
END_TEST

START_TEST(every_single_bit_flip_is_caught)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    build_batch(&w, COMPRESSION_NONE, 4);
    struct record_batch_info info;
    for (size_t byte = RB_MAGIC; byte < w.len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            w.buf[byte] ^= (uint8_t)(1 << bit);
            ck_assert_int_ne(record_batch_validate(w.buf, w.len, &info), RB_OK);
            w.buf[byte] ^= (uint8_t)(1 << bit);
        }
    }
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
    kafka_writer_free(&w);
}
END_TEST

/* Rewrites covered bytes and fixes the CRC, to reach the checks behind it. */
static void recrc(struct kafka_writer *w)
{
    be32_store(w->buf + RB_CRC, crc32c(w->buf + RB_ATTRIBUTES, w->len - RB_ATTRIBUTES));
}

START_TEST(structural_faults)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    struct record_batch_info info;

    build_batch(&w, COMPRESSION_NONE, 3);
    /* Truncated, and too long for its length field. */
    ck_assert_int_eq(record_batch_validate(w.buf, w.len - 1, &info), RB_FAULT_CORRUPT);
    ck_assert_int_eq(record_batch_validate(w.buf, 30, &info), RB_FAULT_CORRUPT);
    /* Wrong magic. */
    w.buf[RB_MAGIC] = 1;
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_MAGIC);
    w.buf[RB_MAGIC] = 2;
    /* Record count lies (CRC fixed so the count check is reached). */
    be32_store(w.buf + RB_RECORDS_COUNT, 4);
    recrc(&w);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_INVALID);
    be32_store(w.buf + RB_RECORDS_COUNT, 3);
    /* lastOffsetDelta lies. */
    be32_store(w.buf + RB_LAST_OFFSET_DELTA, 5);
    recrc(&w);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_INVALID);
    be32_store(w.buf + RB_LAST_OFFSET_DELTA, 2);
    /* Unknown codec 7. */
    be16_store(w.buf + RB_ATTRIBUTES, 7);
    recrc(&w);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_CODEC);
    /* Claims gzip but holds plain records. */
    be16_store(w.buf + RB_ATTRIBUTES, COMPRESSION_GZIP);
    recrc(&w);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_CORRUPT_RECORDS);
    kafka_writer_free(&w);

    /* Offset deltas out of order. */
    struct kafka_writer recs;
    kafka_writer_init(&recs);
    kafka_writer_init(&w);
    record_write(&recs, 0, 0, (struct kafka_bytes){NULL, -1}, (struct kafka_bytes){NULL, -1});
    record_write(&recs, 0, 5, (struct kafka_bytes){NULL, -1}, (struct kafka_bytes){NULL, -1});
    ck_assert_int_eq(record_batch_build(&w, 0, 0, 0, 2, recs.buf, recs.len), 0);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_INVALID);
    kafka_writer_free(&w);
    kafka_writer_free(&recs);

    /* A record whose key length runs past the record. */
    kafka_writer_init(&recs);
    kafka_writer_init(&w);
    const uint8_t bad_record[] = {0x0c, 0x00, 0x00, 0x00, 0x7e, 'a', 0x01, 0x00};
    kafka_write_raw(&recs, bad_record, sizeof(bad_record));
    ck_assert_int_eq(record_batch_build(&w, 0, 0, 0, 1, recs.buf, recs.len), 0);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_INVALID);
    kafka_writer_free(&w);
    kafka_writer_free(&recs);
}
END_TEST

START_TEST(records_iterate_with_nulls_and_headers)
{
    /* One record: null key, value "v", one header h1=null. */
    const uint8_t rec[] = {0x16, 0x00, 0x00, 0x00, 0x01, 0x02, 'v',
                           0x02, 0x04, 'h', '1', 0x01};
    struct record_iter it;
    ck_assert_int_eq(record_iter_open_records(&it, COMPRESSION_NONE, rec, sizeof(rec)), 0);
    struct record_view v;
    ck_assert_int_eq(record_iter_next(&it, &v), 1);
    ck_assert_int_eq(v.key.len, -1);
    ck_assert_int_eq(v.value.len, 1);
    ck_assert_mem_eq(v.value.ptr, "v", 1);
    ck_assert_int_eq(v.headers_count, 1);
    ck_assert_uint_eq(v.headers_len, 4);
    ck_assert_int_eq(record_iter_next(&it, &v), 0);
    record_iter_close(&it);
}
END_TEST

START_TEST(timestamps_that_leave_int64_are_invalid)
{
    struct kafka_writer recs, w;
    kafka_writer_init(&recs);
    kafka_writer_init(&w);
    record_write(&recs, INT64_MAX - 5, 0, (struct kafka_bytes){NULL, -1},
                 (struct kafka_bytes){(const uint8_t *)"v", 1});
    ck_assert_int_eq(record_batch_build(&w, 0, 10, 10, 1, recs.buf, recs.len), 0);
    struct record_batch_info info;
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_FAULT_INVALID);
    /* Right at the edge is still a timestamp. */
    kafka_writer_free(&w);
    kafka_writer_free(&recs);
    kafka_writer_init(&recs);
    kafka_writer_init(&w);
    record_write(&recs, INT64_MAX - 10, 0, (struct kafka_bytes){NULL, -1},
                 (struct kafka_bytes){(const uint8_t *)"v", 1});
    ck_assert_int_eq(record_batch_build(&w, 0, 10, 10, 1, recs.buf, recs.len), 0);
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
    ck_assert(info.max_timestamp == INT64_MAX);
    kafka_writer_free(&w);
    kafka_writer_free(&recs);
}
END_TEST

START_TEST(compressed_payloads_that_hold_no_records)
{
    struct record_batch_info info;
    /* Records compressed to nothing: a xerial header without chunks, an
     * empty raw snappy block, empty zstd and gzip payloads. */
    const uint8_t xerial_only[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                     0,    0,   0,   1,   0,   0,   0,   1};
    const uint8_t empty_block[1] = {0};
    const struct {
        int codec;
        const uint8_t *payload;
        size_t len;
        enum record_batch_fault fault;
    } cases[] = {
        {COMPRESSION_SNAPPY, xerial_only, sizeof(xerial_only), RB_FAULT_INVALID},
        {COMPRESSION_SNAPPY, empty_block, 1, RB_FAULT_INVALID},
        {COMPRESSION_SNAPPY, empty_block, 0, RB_FAULT_CORRUPT_RECORDS},
        {COMPRESSION_ZSTD, empty_block, 0, RB_FAULT_CORRUPT_RECORDS},
        {COMPRESSION_GZIP, empty_block, 0, RB_FAULT_CORRUPT_RECORDS},
        {COMPRESSION_LZ4, empty_block, 0, RB_FAULT_CORRUPT_RECORDS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kafka_writer w;
        kafka_writer_init(&w);
        ck_assert_int_eq(record_batch_build(&w, 0, 0, 0, 1, cases[i].payload, cases[i].len), 0);
        be16_store(w.buf + RB_ATTRIBUTES, (uint16_t)cases[i].codec);
        recrc(&w);
        ck_assert_msg(record_batch_validate(w.buf, w.len, &info) == cases[i].fault, "case %zu",
                      i);
        kafka_writer_free(&w);
    }
}
END_TEST

START_TEST(records_are_walked_through_a_bounded_window)
{
    /* 20,000 records of 1 KiB values compress to little; the iterator
     * reads them all through its 64 KiB window. */
    struct kafka_writer recs, w;
    kafka_writer_init(&recs);
    kafka_writer_init(&w);
    uint8_t value[1024];
    memset(value, 'x', sizeof(value));
    for (int i = 0; i < 20000; i++)
        record_write(&recs, i, i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){value, (int32_t)sizeof(value)});
    ck_assert_uint_gt(recs.len, 20000u * 1024);
    ck_assert_int_eq(record_batch_build(&w, COMPRESSION_ZSTD, 0, 19999, 20000, recs.buf, recs.len),
                     0);
    ck_assert_uint_lt(w.len, 1u << 20);
    struct record_batch_info info;
    ck_assert_int_eq(record_batch_validate(w.buf, w.len, &info), RB_OK);
    ck_assert_int_eq(info.records_count, 20000);
    struct record_iter it;
    struct record_view rec;
    ck_assert_int_eq(record_iter_open(&it, w.buf, w.len), 0);
    int n = 0;
    while (record_iter_next(&it, &rec) == 1) {
        ck_assert_int_eq(rec.value.len, 1024);
        ck_assert_ptr_null(rec.value.ptr); /* compressed: lengths only */
        n++;
    }
    record_iter_close(&it);
    ck_assert_int_eq(n, 20000);
    kafka_writer_free(&w);
    kafka_writer_free(&recs);
}
END_TEST

Suite *suite_record_batch(void)
{
    Suite *s = suite_create("record_batch");
    TCase *tc = tcase_create("record_batch");
    tcase_add_test(tc, valid_batches_every_codec);
    tcase_add_test(tc, stamping_keeps_the_crc);
    tcase_add_test(tc, every_single_bit_flip_is_caught);
    tcase_add_test(tc, structural_faults);
    tcase_add_test(tc, records_iterate_with_nulls_and_headers);
    tcase_add_test(tc, timestamps_that_leave_int64_are_invalid);
    tcase_add_test(tc, compressed_payloads_that_hold_no_records);
    tcase_add_test(tc, records_are_walked_through_a_bounded_window);
    suite_add_tcase(s, tc);
    return s;
}
