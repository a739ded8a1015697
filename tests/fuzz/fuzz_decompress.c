/* Every decompressor, each run twice with a large and a small output
 * limit. Input: byte 0 picks the codec, byte 1 the small limit, byte 2 the
 * read size, the rest is the compressed payload.
 *
 * Properties: neither run produces more than its limit; the two agree
 * (what the small run accepts the large one accepts with the same bytes;
 * what the large one accepts within the small limit the small one accepts
 * too); and what is accepted is what the codec's strict one-shot decoder
 * (the way librdkafka and the Java client read it) produces. */
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/rill_error.h"
#include "proto/compression.h"
#include "tests/fuzz/fuzz.h"

enum { LARGE_LIMIT = 1 << 20 };

struct run {
    int rc;
    uint8_t *out;
    size_t len;
};

static struct run fuzz_inflate(int codec, const uint8_t *in, size_t in_len, size_t limit,
                               size_t step)
{
    struct run run = {0, NULL, 0};
    size_t cap = 0;
    struct compression_stream *s;
    run.rc = compression_stream_open(codec, in, in_len, limit, &s);
    while (run.rc == 0) {
        if (cap - run.len < step) {
            cap = cap ? cap * 2 : 4096;
            while (cap - run.len < step)
                cap *= 2;
            run.out = realloc(run.out, cap);
            FUZZ_CHECK(run.out != NULL);
        }
        size_t got;
        run.rc = compression_stream_read(s, run.out + run.len, step, &got);
        if (run.rc != 0 || got == 0)
            break;
        run.len += got;
        FUZZ_CHECK(run.len <= limit);
        FUZZ_CHECK(compression_stream_produced(s) == run.len);
    }
    compression_stream_close(s);
    if (run.rc != 0)
        run.len = 0;
    return run;
}

/* The reference decoders, one shot, as strict readers use them. */
static void fuzz_reference(int codec, const uint8_t *in, size_t in_len, const struct run *ok)
{
    uint8_t *buf = malloc(ok->len + 1);
    FUZZ_CHECK(buf != NULL);
    switch (codec) {
    case COMPRESSION_ZSTD: {
        /* librdkafka: a buffer of the declared content size. */
        unsigned long long declared = ZSTD_getFrameContentSize(in, in_len);
        if (declared != ZSTD_CONTENTSIZE_UNKNOWN)
            FUZZ_CHECK(declared == ok->len);
        size_t n = ZSTD_decompress(buf, ok->len + 1, in, in_len);
        FUZZ_CHECK(!ZSTD_isError(n) && n == ok->len);
        break;
    }
    case COMPRESSION_GZIP: {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        FUZZ_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK);
        zs.next_in = (Bytef *)in;
        zs.avail_in = (uInt)in_len;
        zs.next_out = buf;
        zs.avail_out = (uInt)ok->len + 1;
        FUZZ_CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
        FUZZ_CHECK(zs.total_out == ok->len && zs.avail_in == 0);
        inflateEnd(&zs);
        break;
    }
    case COMPRESSION_LZ4: {
        LZ4F_dctx *dctx;
        FUZZ_CHECK(!LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
        size_t dst = ok->len + 1, src = in_len;
        size_t hint = LZ4F_decompress(dctx, buf, &dst, in, &src, NULL);
        FUZZ_CHECK(hint == 0 && dst == ok->len && src == in_len);
        LZ4F_freeDecompressionContext(dctx);
        break;
    }
    case COMPRESSION_SNAPPY:
        if (in_len < 8 || memcmp(in, "\x82SNAPPY", 8) != 0) {
            size_t n = ok->len + 1;
            FUZZ_CHECK(snappy_uncompress((const char *)in, in_len, (char *)buf, &n) ==
                       SNAPPY_OK);
            FUZZ_CHECK(n == ok->len);
        } else {
            FUZZ_CHECK(ok->len == 0 || in_len > 20); /* librdkafka's xerial threshold */
            memcpy(buf, ok->out, ok->len);
        }
        break;
    default:
        FUZZ_CHECK(in_len == ok->len);
        memcpy(buf, in, in_len);
        break;
    }
    FUZZ_CHECK(ok->len == 0 || memcmp(buf, ok->out, ok->len) == 0);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int codec = data[0] % 5;
    size_t small = 1 + (size_t)data[1] * 257;
    size_t step = 1 + (size_t)data[2] * 64;
    const uint8_t *in = data + 3;
    size_t in_len = size - 3;

    struct run large = fuzz_inflate(codec, in, in_len, LARGE_LIMIT, step);
    struct run little = fuzz_inflate(codec, in, in_len, small, 65536);
    FUZZ_CHECK(large.rc != RILL_ERR_UNSUPPORTED && little.rc != RILL_ERR_UNSUPPORTED);
    if (little.rc == 0) {
        FUZZ_CHECK(large.rc == 0 && large.len == little.len);
        FUZZ_CHECK(little.len == 0 || memcmp(large.out, little.out, little.len) == 0);
    }
    if (large.rc == 0 && large.len <= small)
        FUZZ_CHECK(little.rc == 0);
    if (large.rc == 0 && large.len > small)
        FUZZ_CHECK(little.rc == RILL_ERR_TOO_LARGE);
    if (large.rc == RILL_ERR_CORRUPT)
        FUZZ_CHECK(little.rc == RILL_ERR_CORRUPT || little.rc == RILL_ERR_TOO_LARGE);
    if (large.rc == 0)
        fuzz_reference(codec, in, in_len, &large);
    free(large.out);
    free(little.out);
    return 0;
}
