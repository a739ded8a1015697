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

static int decompress(int codec, const void *in, size_t len, size_t *out_len)
{
    struct kafka_writer d;
    kafka_writer_init(&d);
    int rc = compression_decompress(codec, in, len, &d, 1 << 20);
    if (out_len != NULL)
        *out_len = d.len;
    kafka_writer_free(&d);
    return rc;
}

START_TEST(zstd_is_read_as_librdkafka_and_kafka_python_read_it)
{
    uint8_t *data = sample(5000);
    struct kafka_writer c;
    kafka_writer_init(&c);
    ck_assert_int_eq(compression_compress(COMPRESSION_ZSTD, data, 5000, &c, 0), 0);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, c.buf, c.len, NULL), 0);
    /* The frame header declares 5000 (single segment, 2-byte size field
     * holding size - 256): say 4999 instead. */
    uint8_t fhd = c.buf[4];
    ck_assert_int_eq(fhd >> 6, 1);
    ck_assert(fhd & 0x20);
    uint16_t declared = (uint16_t)(c.buf[5] | c.buf[6] << 8);
    ck_assert_uint_eq(declared + 256u, 5000);
    c.buf[5]--;
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    c.buf[5] += 2; /* and 5001 */
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    c.buf[5]--;
    /* A second frame, a skippable frame, trailing bytes: refused. */
    size_t one = c.len;
    kafka_write_raw(&c, c.buf, one);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    c.len = one;
    kafka_write_raw(&c, "junk", 4);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    struct kafka_writer skip;
    kafka_writer_init(&skip);
    const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 'h', 'i'};
    kafka_write_raw(&skip, skippable, sizeof(skippable));
    kafka_write_raw(&skip, c.buf, one);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, skip.buf, skip.len, NULL), RILL_ERR_CORRUPT);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, skippable, sizeof(skippable), NULL),
                     RILL_ERR_CORRUPT);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, "", 0, NULL), RILL_ERR_CORRUPT);
    /* The fuzzer's finding: a frame without content size whose last block
     * is an empty compressed block, which zstd's streaming decoder took
     * and its one-shot decoder (librdkafka's) refuses. A reserved block
     * type and a block whose content is cut short are refused too. */
    const uint8_t empty_block[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x05, 0x00, 0x00};
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, empty_block, sizeof(empty_block), NULL),
                     RILL_ERR_CORRUPT);
    const uint8_t raw_block[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x19, 0x00, 0x00, 'a', 'b',
                                 'c'};
    size_t got = 0;
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, raw_block, sizeof(raw_block), &got), 0);
    ck_assert_uint_eq(got, 3);
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, raw_block, sizeof(raw_block) - 1, NULL),
                     RILL_ERR_CORRUPT);
    uint8_t reserved[sizeof(raw_block)];
    memcpy(reserved, raw_block, sizeof(raw_block));
    reserved[6] = 0x1f; /* type 3 */
    ck_assert_int_eq(decompress(COMPRESSION_ZSTD, reserved, sizeof(reserved), NULL),
                     RILL_ERR_CORRUPT);
    kafka_writer_free(&skip);
    kafka_writer_free(&c);
    free(data);
}
END_TEST

START_TEST(lz4_is_read_as_kafkas_java_reader_reads_it)
{
    uint8_t *data = sample(5000);
    struct kafka_writer c;
    kafka_writer_init(&c);
    ck_assert_int_eq(compression_compress(COMPRESSION_LZ4, data, 5000, &c, 0), 0);
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, c.buf, c.len, NULL), 0);
    /* FLG at byte 4: linked blocks and a dictionary id are refused (the
     * header checksum would fail too; the flag check comes first). */
    c.buf[4] &= (uint8_t)~0x20;
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    c.buf[4] |= 0x21;
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    c.buf[4] &= (uint8_t)~0x01;
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, c.buf, c.len, NULL), 0);
    /* A second frame after the first. */
    size_t one = c.len;
    kafka_write_raw(&c, c.buf, one);
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    ck_assert_int_eq(decompress(COMPRESSION_LZ4, "", 0, NULL), RILL_ERR_CORRUPT);
    kafka_writer_free(&c);
    free(data);
}
END_TEST

START_TEST(gzip_is_one_gzip_member)
{
    uint8_t *data = sample(5000);
    struct kafka_writer c;
    kafka_writer_init(&c);
    ck_assert_int_eq(compression_compress(COMPRESSION_GZIP, data, 5000, &c, 0), 0);
    size_t one = c.len;
    kafka_write_raw(&c, c.buf, one);
    ck_assert_int_eq(decompress(COMPRESSION_GZIP, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    /* A bare zlib stream: the 2-byte zlib header of deflate level 6. */
    struct kafka_writer z;
    kafka_writer_init(&z);
    const uint8_t zlib_empty[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    kafka_write_raw(&z, zlib_empty, sizeof(zlib_empty));
    ck_assert_int_eq(decompress(COMPRESSION_GZIP, z.buf, z.len, NULL), RILL_ERR_CORRUPT);
    /* The trailer's CRC is checked. */
    c.len = one;
    c.buf[one - 5] ^= 1;
    ck_assert_int_eq(decompress(COMPRESSION_GZIP, c.buf, c.len, NULL), RILL_ERR_CORRUPT);
    ck_assert_int_eq(decompress(COMPRESSION_GZIP, "", 0, NULL), RILL_ERR_CORRUPT);
    kafka_writer_free(&z);
    kafka_writer_free(&c);
    free(data);
}
END_TEST

START_TEST(snappy_lengths_and_framing)
{
    size_t n = 99;
    /* An empty raw block is valid and empty; empty input is not. */
    const uint8_t empty_block[] = {0};
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, empty_block, 1, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, "", 0, NULL), RILL_ERR_CORRUPT);
    /* A header and no chunks is an empty stream; other versions are not
     * read as xerial by kafka-python, so they are refused. */
    uint8_t xerial[20] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, xerial, 16, &n), 0);
    ck_assert_uint_eq(n, 0);
    xerial[11] = 2;
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, xerial, 16, NULL), RILL_ERR_CORRUPT);
    xerial[11] = 1;
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, xerial, 12, NULL), RILL_ERR_CORRUPT);
    /* A zero-length chunk, and a chunk length past the end. */
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, xerial, 20, NULL), RILL_ERR_CORRUPT);
    xerial[19] = 9;
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, xerial, 20, NULL), RILL_ERR_CORRUPT);
    /* A raw block that declares 2^28 bytes from 5: refused before any
     * allocation, as a lie (snappy cannot expand 22-fold) or as too large. */
    const uint8_t huge[] = {0x80, 0x80, 0x80, 0x80, 0x01};
    ck_assert_int_eq(decompress(COMPRESSION_SNAPPY, huge, sizeof(huge), NULL),
                     RILL_ERR_CORRUPT);
    /* A true length past the cap: refused when the block is opened. */
    uint8_t zeros[5000] = {0};
    struct kafka_writer c;
    kafka_writer_init(&c);
    ck_assert_int_eq(compression_compress(COMPRESSION_SNAPPY, zeros, sizeof(zeros), &c, 0), 0);
    struct compression_stream *s;
    ck_assert_int_eq(compression_stream_open(COMPRESSION_SNAPPY, c.buf, c.len, 100, &s),
                     RILL_ERR_TOO_LARGE);
    ck_assert_ptr_null(s);
    kafka_writer_free(&c);
}
END_TEST

START_TEST(streams_agree_whatever_the_read_size)
{
    uint8_t *data = sample(100000);
    uint8_t *out = malloc(100001);
    for (int codec = 0; codec <= 4; codec++) {
        struct kafka_writer c;
        kafka_writer_init(&c);
        ck_assert_int_eq(compression_compress(codec, data, 100000, &c, codec == 2), 0);
        for (size_t step = 1; step <= 70000; step = step * 7 + 3) {
            struct compression_stream *s;
            ck_assert_int_eq(compression_stream_open(codec, c.buf, c.len, 100000, &s), 0);
            size_t len = 0, got;
            int rc;
            while ((rc = compression_stream_read(s, out + len, step, &got)) == 0 && got > 0)
                len += got;
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(len, 100000);
            ck_assert_uint_eq(compression_stream_produced(s), 100000);
            ck_assert_mem_eq(out, data, 100000);
            compression_stream_close(s);
            /* One byte less of room in all: refused, with at most one byte
             * produced past it. */
            ck_assert_int_eq(compression_stream_open(codec, c.buf, c.len, 99999, &s), 0);
            len = 0;
            while ((rc = compression_stream_read(s, out + len, step, &got)) == 0 && got > 0)
                len += got;
            ck_assert_int_eq(rc, RILL_ERR_TOO_LARGE);
            ck_assert_uint_le(len, 99999);
            compression_stream_close(s);
        }
        kafka_writer_free(&c);
    }
    free(out);
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
    tcase_add_test(tc, zstd_is_read_as_librdkafka_and_kafka_python_read_it);
    tcase_add_test(tc, lz4_is_read_as_kafkas_java_reader_reads_it);
    tcase_add_test(tc, gzip_is_one_gzip_member);
    tcase_add_test(tc, snappy_lengths_and_framing);
    tcase_add_test(tc, streams_agree_whatever_the_read_size);
    suite_add_tcase(s, tc);
    return s;
}
