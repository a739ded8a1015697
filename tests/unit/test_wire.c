/* Kafka primitive encodings: varints, strings, arrays, bounds checking. */
#include <string.h>

#include "proto/kafka_wire.h"
#include "tests/unit/unit.h"

static void expect_varint(int32_t v, const uint8_t *bytes, size_t n)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    kafka_write_varint(&w, v);
    ck_assert_uint_eq(w.len, n);
    ck_assert_mem_eq(w.buf, bytes, n);
    struct kafka_reader r;
    kafka_reader_init(&r, bytes, n);
    ck_assert_int_eq(kafka_read_varint(&r), v);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_eq(kafka_reader_left(&r), 0);
    kafka_writer_free(&w);
}

START_TEST(varint_known_vectors)
{
    expect_varint(0, (const uint8_t[]){0x00}, 1);
    expect_varint(-1, (const uint8_t[]){0x01}, 1);
    expect_varint(1, (const uint8_t[]){0x02}, 1);
    expect_varint(-2, (const uint8_t[]){0x03}, 1);
    expect_varint(63, (const uint8_t[]){0x7e}, 1);
    expect_varint(-64, (const uint8_t[]){0x7f}, 1);
    expect_varint(64, (const uint8_t[]){0x80, 0x01}, 2);
    expect_varint(INT32_MAX, (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0x0f}, 5);
    expect_varint(INT32_MIN, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
}
END_TEST

START_TEST(varlong_round_trip)
{
    const int64_t values[] = {0, 1, -1, 300, -300, INT64_MAX, INT64_MIN, 1700000000000LL};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct kafka_writer w;
        kafka_writer_init(&w);
        kafka_write_varlong(&w, values[i]);
        ck_assert_uint_eq(w.len, kafka_varlong_size(values[i]));
        struct kafka_reader r;
        kafka_reader_init(&r, w.buf, w.len);
        ck_assert(kafka_read_varlong(&r) == values[i]);
        ck_assert_int_eq(r.err, 0);
        kafka_writer_free(&w);
    }
}
END_TEST

START_TEST(uvarint_rejects_overlong_and_truncated)
{
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct kafka_reader r;
    kafka_reader_init(&r, six, sizeof(six));
    (void)kafka_read_uvarint(&r);
    ck_assert_int_ne(r.err, 0);

    const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0x7f}; /* > 32 bits */
    kafka_reader_init(&r, too_big, sizeof(too_big));
    (void)kafka_read_uvarint(&r);
    ck_assert_int_ne(r.err, 0);

    const uint8_t cut[] = {0x80};
    kafka_reader_init(&r, cut, sizeof(cut));
    (void)kafka_read_uvarint(&r);
    ck_assert_int_ne(r.err, 0);
}
END_TEST

START_TEST(compact_forms)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    kafka_write_str(&w, (struct kafka_str){"", 0}, true);
    kafka_write_str(&w, KAFKA_STR_NULL, true);
    kafka_write_array_len(&w, 2, true);
    kafka_write_array_len(&w, -1, true);
    const uint8_t want[] = {0x01, 0x00, 0x03, 0x00};
    ck_assert_uint_eq(w.len, sizeof(want));
    ck_assert_mem_eq(w.buf, want, sizeof(want));
    kafka_writer_free(&w);
}
END_TEST

START_TEST(strings_classic_and_compact_round_trip)
{
    for (int compact = 0; compact < 2; compact++) {
        struct kafka_writer w;
        kafka_writer_init(&w);
        kafka_write_str(&w, kafka_str_from("hello"), compact);
        kafka_write_str(&w, KAFKA_STR_NULL, compact);
        struct kafka_reader r;
        kafka_reader_init(&r, w.buf, w.len);
        struct kafka_str s = kafka_read_str(&r, compact, false);
        ck_assert(kafka_str_eq(s, "hello"));
        s = kafka_read_str(&r, compact, true);
        ck_assert_int_eq(s.len, -1);
        ck_assert_int_eq(r.err, 0);
        kafka_writer_free(&w);
    }
}
END_TEST

START_TEST(lengths_are_never_trusted)
{
    /* A string claiming 100 bytes with 3 present. */
    const uint8_t s[] = {0x00, 0x64, 'a', 'b', 'c'};
    struct kafka_reader r;
    kafka_reader_init(&r, s, sizeof(s));
    struct kafka_str str = kafka_read_str(&r, false, false);
    ck_assert_int_ne(r.err, 0);
    ck_assert_int_eq(str.len, -1);

    /* Null where null is not allowed. */
    const uint8_t null_str[] = {0xff, 0xff};
    kafka_reader_init(&r, null_str, sizeof(null_str));
    (void)kafka_read_str(&r, false, false);
    ck_assert_int_ne(r.err, 0);

    /* An array of 2^31-1 int32s in 4 bytes of input. */
    const uint8_t arr[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    kafka_reader_init(&r, arr, sizeof(arr));
    ck_assert_int_eq(kafka_read_array_len(&r, false, false, 4), -1);
    ck_assert_int_ne(r.err, 0);

    /* Bytes with a negative length other than -1. */
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    kafka_reader_init(&r, neg, sizeof(neg));
    (void)kafka_read_bytes(&r, false, true);
    ck_assert_int_ne(r.err, 0);

    /* Errors are sticky: reads after one return zero. */
    ck_assert_int_eq(kafka_read_i32(&r), 0);
}
END_TEST

START_TEST(tag_sections_skip_unknown)
{
    /* Two tags: 0 with 2 bytes, 5 with 1 byte; then an int8 after. */
    const uint8_t tags[] = {0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x01, 0xcc, 0x7f};
    struct kafka_reader r;
    kafka_reader_init(&r, tags, sizeof(tags));
    kafka_skip_tags(&r);
    ck_assert_int_eq(kafka_read_i8(&r), 0x7f);
    ck_assert_int_eq(r.err, 0);
    /* A tag whose size runs past the end. */
    const uint8_t bad[] = {0x01, 0x00, 0x09, 0xaa};
    kafka_reader_init(&r, bad, sizeof(bad));
    kafka_skip_tags(&r);
    ck_assert_int_ne(r.err, 0);
}
END_TEST

Suite *suite_wire(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("primitives");
    tcase_add_test(tc, varint_known_vectors);
    tcase_add_test(tc, varlong_round_trip);
    tcase_add_test(tc, uvarint_rejects_overlong_and_truncated);
    tcase_add_test(tc, compact_forms);
    tcase_add_test(tc, strings_classic_and_compact_round_trip);
    tcase_add_test(tc, lengths_are_never_trusted);
    tcase_add_test(tc, tag_sections_skip_unknown);
    suite_add_tcase(s, tc);
    return s;
}
