/* Codecs: round trips, both snappy framings, corrupt and truncated input,
 * and the cap that stops decompression bombs. */
#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"
#include "proto/compression.h"
#include "tests/unit/unit.h"

static uint8_t *sample(size_t n)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i % 97) < 50 ? 'a' + (i % 7) : (i * 31) >> 3);
    return p;
}

START_TEST(round_trip_every_codec)
{
    size_t n = 200000;
    uint8_t *data = sample(n);
    for (int codec = 0; codec <= 4; codec++) {
        for (int xerial = 0; xerial < 2; xerial++) {
            struct kafka_writer c, d;
            kafka_writer_init(&c);
            kafka_writer_init(&d);
            ck_assert_int_eq(compression_compress(codec, data, n, &c, xerial), 0);
            ck_assert_int_eq(compression_decompress(codec, c.buf, c.len, &d, n * 2), 0);
            ck_assert_uint_eq(d.len, n);
            ck_assert_mem_eq(d.buf, data, n);
            kafka_writer_free(&c);
            kafka_writer_free(&d);
        }
    }
    free(data);
}
END_TEST

START_TEST(truncated_and_corrupt_input_is_refused)
{
    size_t n = 50000;
    uint8_t *data = sample(n);
    for (int codec = 1; codec <= 4; codec++) {
        struct kafka_writer c;
        kafka_writer_init(&c);
        ck_assert_int_eq(compression_compress(codec, data, n, &c, codec == 2), 0);
        for (size_t cut = 1; cut < c.len; cut += c.len / 13 + 1) {
            struct kafka_writer d;
            kafka_writer_init(&d);
            int rc = compression_decompress(codec, c.buf, cut, &d, n * 2);
            ck_assert_msg(rc != 0 || d.len != n, "codec %d: %zu-byte prefix accepted", codec,
                          cut);
            kafka_writer_free(&d);
        }
        struct kafka_writer d;
        kafka_writer_init(&d);
        ck_assert_int_ne(compression_decompress(codec, (const uint8_t *)"garbage!", 8, &d, n), 0);
        kafka_writer_free(&d);
        kafka_writer_free(&c);
    }
    free(data);
}
END_TEST

START_TEST(bombs_stop_at_the_cap)
{
    size_t n = 8 << 20; /* 8 MiB of zeros compresses to almost nothing */
    uint8_t *zeros = calloc(1, n);
    for (int codec = 1; codec <= 4; codec++) {
        struct kafka_writer c, d;
        kafka_writer_init(&c);
        kafka_writer_init(&d);
        ck_assert_int_eq(compression_compress(codec, zeros, n, &c, 0), 0);
        ck_assert_uint_lt(c.len, n / 10);
        ck_assert_int_eq(compression_decompress(codec, c.buf, c.len, &d, 1 << 20),
                         RILL_ERR_TOO_LARGE);
        ck_assert_uint_le(d.len, 1 << 20);
        kafka_writer_free(&c);
        kafka_writer_free(&d);
    }
    free(zeros);
}
END_TEST

START_TEST(xerial_with_several_blocks)
{
    /* Java writes xerial streams in 32 KiB blocks: two blocks here. */
    uint8_t *data = sample(40000);
    struct kafka_writer c, d;
    kafka_writer_init(&c);
    kafka_writer_init(&d);
    ck_assert_int_eq(compression_compress(COMPRESSION_SNAPPY, data, 20000, &c, 1), 0);
    struct kafka_writer second;
    kafka_writer_init(&second);
    ck_assert_int_eq(compression_compress(COMPRESSION_SNAPPY, data + 20000, 20000, &second, 1),
                     0);
    /* Append the second stream's block (skip its 16-byte header). */
    kafka_write_raw(&c, second.buf + 16, second.len - 16);
    ck_assert_int_eq(compression_decompress(COMPRESSION_SNAPPY, c.buf, c.len, &d, 1 << 20), 0);
    ck_assert_uint_eq(d.len, 40000);
    ck_assert_mem_eq(d.buf, data, 40000);
    kafka_writer_free(&c);
    kafka_writer_free(&d);
    kafka_writer_free(&second);
    free(data);
}
END_TEST

Suite *suite_compression(void)
{
    Suite *s = suite_create("compression");
    TCase *tc = tcase_create("compression");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_every_codec);
    tcase_add_test(tc, truncated_and_corrupt_input_is_refused);
    tcase_add_test(tc, bombs_stop_at_the_cap);
    tcase_add_test(tc, xerial_with_several_blocks);
    suite_add_tcase(s, tc);
    return s;
}
