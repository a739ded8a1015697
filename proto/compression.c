#include "proto/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/rill_error.h"

/* The xerial snappy stream header: magic, then version and compatible
 * version words (both 1 in every writer we know). */
static const uint8_t snappy_xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
enum { SNAPPY_XERIAL_HEADER_BYTES = 16 };

const char *compression_name(int codec)
{
    switch (codec) {
    case COMPRESSION_NONE:
        return "none";
    case COMPRESSION_GZIP:
        return "gzip";
    case COMPRESSION_SNAPPY:
        return "snappy";
    case COMPRESSION_LZ4:
        return "lz4";
    case COMPRESSION_ZSTD:
        return "zstd";
    default:
        return NULL;
    }
}

/* Makes room for at least want more bytes without passing max_out; returns
 * the room obtained (0 on failure with *rc set). */
static size_t comp_grow(struct kafka_writer *out, size_t base, size_t max_out, size_t want,
                        int *rc)
{
    size_t produced = out->len - base;
    if (produced >= max_out) {
        *rc = RILL_ERR_TOO_LARGE;
        return 0;
    }
    if (want > max_out - produced)
        want = max_out - produced;
    if (kafka_writer_reserve(out, want) == NULL) {
        *rc = RILL_ERR_NOMEM;
        return 0;
    }
    out->len -= want; /* reserved, not yet written */
    return want;
}

static int comp_gzip_inflate(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                             size_t max_out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
        return RILL_ERR_NOMEM;
    size_t base = out->len;
    int rc = RILL_OK;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    for (;;) {
        size_t room = comp_grow(out, base, max_out, in_len * 4 + 4096, &rc);
        if (room == 0) {
            /* Exactly full is fine if the stream has also ended. */
            break;
        }
        if (room > UINT32_MAX)
            room = UINT32_MAX;
        zs.next_out = out->buf + out->len;
        zs.avail_out = (uInt)room;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (zrc == Z_STREAM_END) {
            /* A gzip member may be followed by another one; Kafka writers
             * use one, so any trailing bytes are rejected. */
            if (zs.avail_in != 0)
                rc = RILL_ERR_CORRUPT;
            break;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = zrc == Z_MEM_ERROR ? RILL_ERR_NOMEM : RILL_ERR_CORRUPT;
            break;
        }
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0) {
            rc = RILL_ERR_CORRUPT; /* truncated stream */
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

static int comp_snappy_block(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                             size_t base, size_t max_out)
{
    size_t n;
    if (snappy_uncompressed_length((const char *)in, in_len, &n) != SNAPPY_OK)
        return RILL_ERR_CORRUPT;
    if (n > max_out - (out->len - base))
        return RILL_ERR_TOO_LARGE;
    uint8_t *dst = kafka_writer_reserve(out, n);
    if (dst == NULL)
        return RILL_ERR_NOMEM;
    size_t got = n;
    if (snappy_uncompress((const char *)in, in_len, (char *)dst, &got) != SNAPPY_OK || got != n)
        return RILL_ERR_CORRUPT;
    return RILL_OK;
}

static int comp_snappy_inflate(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                               size_t max_out)
{
    size_t base = out->len;
    if (in_len < SNAPPY_XERIAL_HEADER_BYTES ||
        memcmp(in, snappy_xerial_magic, sizeof(snappy_xerial_magic)) != 0)
        return comp_snappy_block(in, in_len, out, base, max_out);

    size_t pos = SNAPPY_XERIAL_HEADER_BYTES;
    while (pos < in_len) {
        if (in_len - pos < 4)
            return RILL_ERR_CORRUPT;
        uint32_t block_len = be32_load(in + pos);
        pos += 4;
        if (block_len > in_len - pos)
            return RILL_ERR_CORRUPT;
        int rc = comp_snappy_block(in + pos, block_len, out, base, max_out);
        if (rc != 0)
            return rc;
        pos += block_len;
    }
    return RILL_OK;
}

static int comp_lz4_inflate(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                            size_t max_out)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return RILL_ERR_NOMEM;
    size_t base = out->len;
    int rc = RILL_OK;
    size_t pos = 0;
    for (;;) {
        size_t room = comp_grow(out, base, max_out, 65536, &rc);
        if (room == 0)
            break;
        size_t dst_len = room;
        size_t src_len = in_len - pos;
        size_t hint = LZ4F_decompress(dctx, out->buf + out->len, &dst_len, in + pos, &src_len,
                                      NULL);
        if (LZ4F_isError(hint)) {
            rc = RILL_ERR_CORRUPT;
            break;
        }
        out->len += dst_len;
        pos += src_len;
        if (hint == 0) { /* frame complete */
            if (pos != in_len)
                rc = RILL_ERR_CORRUPT;
            break;
        }
        if (pos == in_len && dst_len == 0) {
            rc = RILL_ERR_CORRUPT; /* frame truncated */
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int comp_zstd_inflate(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                             size_t max_out)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (ds == NULL)
        return RILL_ERR_NOMEM;
    size_t base = out->len;
    int rc = RILL_OK;
    ZSTD_inBuffer src = {in, in_len, 0};
    size_t last = 1;
    for (;;) {
        size_t room = comp_grow(out, base, max_out, ZSTD_DStreamOutSize(), &rc);
        if (room == 0)
            break;
        ZSTD_outBuffer dst = {out->buf + out->len, room, 0};
        last = ZSTD_decompressStream(ds, &dst, &src);
        if (ZSTD_isError(last)) {
            rc = RILL_ERR_CORRUPT;
            break;
        }
        out->len += dst.pos;
        if (last == 0 && src.pos == src.size)
            break;
        if (src.pos == src.size && dst.pos < room) {
            rc = RILL_ERR_CORRUPT; /* input ended inside a frame */
            break;
        }
    }
    ZSTD_freeDStream(ds);
    return rc;
}

int compression_decompress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                           size_t max_out)
{
    switch (codec) {
    case COMPRESSION_NONE:
        if (in_len > max_out)
            return RILL_ERR_TOO_LARGE;
        kafka_write_raw(out, in, in_len);
        return out->err ? RILL_ERR_NOMEM : RILL_OK;
    case COMPRESSION_GZIP:
        return comp_gzip_inflate(in, in_len, out, max_out);
    case COMPRESSION_SNAPPY:
        return comp_snappy_inflate(in, in_len, out, max_out);
    case COMPRESSION_LZ4:
        return comp_lz4_inflate(in, in_len, out, max_out);
    case COMPRESSION_ZSTD:
        return comp_zstd_inflate(in, in_len, out, max_out);
    default:
        return RILL_ERR_UNSUPPORTED;
    }
}

static int comp_gzip_deflate(const uint8_t *in, size_t in_len, struct kafka_writer *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return RILL_ERR_NOMEM;
    size_t bound = deflateBound(&zs, (uLong)in_len) + 32;
    uint8_t *dst = kafka_writer_reserve(out, bound);
    if (dst == NULL) {
        deflateEnd(&zs);
        return RILL_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = dst;
    zs.avail_out = (uInt)bound;
    int zrc = deflate(&zs, Z_FINISH);
    out->len -= zs.avail_out;
    deflateEnd(&zs);
    return zrc == Z_STREAM_END ? RILL_OK : RILL_ERR_IO;
}

static int comp_snappy_deflate(const uint8_t *in, size_t in_len, struct kafka_writer *out,
                               int xerial)
{
    size_t bound = snappy_max_compressed_length(in_len);
    if (xerial) {
        kafka_write_raw(out, snappy_xerial_magic, sizeof(snappy_xerial_magic));
        kafka_write_i32(out, 1);
        kafka_write_i32(out, 1);
        size_t len_pos = out->len;
        kafka_write_i32(out, 0);
        uint8_t *dst = kafka_writer_reserve(out, bound);
        if (dst == NULL)
            return RILL_ERR_NOMEM;
        size_t n = bound;
        if (snappy_compress((const char *)in, in_len, (char *)dst, &n) != SNAPPY_OK)
            return RILL_ERR_IO;
        out->len -= bound - n;
        kafka_writer_patch_i32(out, len_pos, (int32_t)n);
        return RILL_OK;
    }
    uint8_t *dst = kafka_writer_reserve(out, bound);
    if (dst == NULL)
        return RILL_ERR_NOMEM;
    size_t n = bound;
    if (snappy_compress((const char *)in, in_len, (char *)dst, &n) != SNAPPY_OK)
        return RILL_ERR_IO;
    out->len -= bound - n;
    return RILL_OK;
}

static int comp_lz4_deflate(const uint8_t *in, size_t in_len, struct kafka_writer *out)
{
    size_t bound = LZ4F_compressFrameBound(in_len, NULL);
    uint8_t *dst = kafka_writer_reserve(out, bound);
    if (dst == NULL)
        return RILL_ERR_NOMEM;
    size_t n = LZ4F_compressFrame(dst, bound, in, in_len, NULL);
    if (LZ4F_isError(n))
        return RILL_ERR_IO;
    out->len -= bound - n;
    return RILL_OK;
}

static int comp_zstd_deflate(const uint8_t *in, size_t in_len, struct kafka_writer *out)
{
    size_t bound = ZSTD_compressBound(in_len);
    uint8_t *dst = kafka_writer_reserve(out, bound);
    if (dst == NULL)
        return RILL_ERR_NOMEM;
    size_t n = ZSTD_compress(dst, bound, in, in_len, 3);
    if (ZSTD_isError(n))
        return RILL_ERR_IO;
    out->len -= bound - n;
    return RILL_OK;
}

int compression_compress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                         int xerial)
{
    int rc;
    switch (codec) {
    case COMPRESSION_NONE:
        kafka_write_raw(out, in, in_len);
        rc = RILL_OK;
        break;
    case COMPRESSION_GZIP:
        rc = comp_gzip_deflate(in, in_len, out);
        break;
    case COMPRESSION_SNAPPY:
        rc = comp_snappy_deflate(in, in_len, out, xerial);
        break;
    case COMPRESSION_LZ4:
        rc = comp_lz4_deflate(in, in_len, out);
        break;
    case COMPRESSION_ZSTD:
        rc = comp_zstd_deflate(in, in_len, out);
        break;
    default:
        return RILL_ERR_UNSUPPORTED;
    }
    if (rc == 0 && out->err)
        rc = RILL_ERR_NOMEM;
    return rc;
}
