/* Kafka's record compression codecs: gzip, snappy (raw blocks as librdkafka
 * writes them and the xerial framing Java and kafka-python write), lz4
 * (frame format) and zstd.
 *
 * The broker stores batches as the producer compressed them; it inflates a
 * batch only to validate the records inside, never to recompress. Output is
 * appended to a kafka_writer used as a growable buffer and capped at
 * max_out bytes, so a small bomb cannot make the broker allocate without
 * bound. */
#ifndef RILL_PROTO_COMPRESSION_H
#define RILL_PROTO_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_wire.h"

enum compression_codec {
    COMPRESSION_NONE = 0,
    COMPRESSION_GZIP = 1,
    COMPRESSION_SNAPPY = 2,
    COMPRESSION_LZ4 = 3,
    COMPRESSION_ZSTD = 4,
};

/* "none", "gzip", ...; NULL for an unknown codec. */
const char *compression_name(int codec);

/* Decompresses in[0..in_len) with codec, appending to out. Returns 0,
 * RILL_ERR_CORRUPT for bad input, RILL_ERR_TOO_LARGE when the output would
 * pass max_out, RILL_ERR_UNSUPPORTED for an unknown codec, RILL_ERR_NOMEM. */
int compression_decompress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                           size_t max_out);

/* Compresses with codec, appending to out (snappy: xerial framing when
 * xerial is non-zero, else one raw block). For tests, tools and benchmarks. */
int compression_compress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                         int xerial);

#endif
