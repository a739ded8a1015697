/* Kafka's record compression codecs: gzip, snappy (raw blocks as librdkafka
 * writes them and the xerial framing Java and kafka-python write), lz4
 * (frame format) and zstd.
 *
 * The broker stores batches as the producer compressed them; it inflates a
 * batch only to validate the records inside, never to recompress. It
 * inflates exactly as the strictest consumer will, so that nothing it
 * accepts is unreadable to any of them:
 *   gzip    one gzip member (not a zlib stream), its CRC and length trailer
 *           checked, nothing after it;
 *   snappy  a raw block whose declared length is exactly what it produces
 *           and no more than snappy can expand its input; or the xerial
 *           stream: the 16-byte v1 header, then chunks of a 4-byte length
 *           and one raw block each, nothing left over;
 *   lz4     one LZ4 frame of independent blocks without a dictionary id
 *           (Kafka's Java reader refuses the others), checksums and the
 *           declared content size checked, nothing after it;
 *   zstd    exactly one frame, not a skippable one (kafka-python reads
 *           only the first), its declared content size checked against
 *           what it really produces (librdkafka sizes its buffer from it),
 *           its checksum checked, window at most 2^27 bytes.
 * Empty or degenerate input is corrupt, never undefined behaviour.
 *
 * A compression_stream inflates into the caller's bounded buffer, so the
 * memory one batch costs is the codec's own state and, for snappy, one raw
 * block; never what a header claims. A cap on the total output bounds the
 * work. */
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

struct compression_stream;

/* Starts inflating in[0..in_len) (which must outlive the stream) with
 * codec, producing at most max_out bytes in all. On success *out is the
 * caller's, to be closed with compression_stream_close. Returns 0,
 * RILL_ERR_CORRUPT, RILL_ERR_TOO_LARGE (a snappy block declares more than
 * max_out), RILL_ERR_UNSUPPORTED (unknown codec) or RILL_ERR_NOMEM. */
int compression_stream_open(int codec, const uint8_t *in, size_t in_len, size_t max_out,
                            struct compression_stream **out);

/* Inflates up to cap (> 0) bytes into dst and sets *got. *got == 0 with a
 * 0 return means the stream ended cleanly. Errors are sticky: 0,
 * RILL_ERR_CORRUPT, RILL_ERR_TOO_LARGE (more than max_out in all) or
 * RILL_ERR_NOMEM; the good bytes before a fault are returned first (never
 * more than max_out in all), the error by the next call. */
int compression_stream_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got);

/* Total bytes produced so far. */
size_t compression_stream_produced(const struct compression_stream *s);

/* Accepts NULL. */
void compression_stream_close(struct compression_stream *s);

/* Inflates all of in[0..in_len), appending to out (for tests and tools;
 * the broker streams). Same results as the stream functions. */
int compression_decompress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                           size_t max_out);

/* Compresses with codec, appending to out (snappy: xerial framing when
 * xerial is non-zero, else one raw block). For tests, tools and benchmarks. */
int compression_compress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                         int xerial);

#endif
