#include "proto/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_isSkippableFrame */
#include <zstd.h>
#include <zstd_errors.h>

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

/* Snappy's densest element is a 3-byte copy of 64 bytes: no valid block
 * inflates to more than 22 times its size, so a larger declared length is
 * a lie told to make the reader allocate. */
enum { SNAPPY_MAX_EXPANSION = 22 };

/* zstd's own default limit, which zstd-jni (Kafka's Java side) keeps: a
 * frame asking for a larger window is refused by Java consumers too. */
enum { ZSTD_WINDOW_LOG_MAX = 27 };

struct compression_stream {
    int codec;
    const uint8_t *in;
    size_t in_len;
    size_t in_pos;
    size_t max_out;
    size_t produced;
    bool done;
    int err; /* sticky */
    union {
        z_stream zs;
        struct {
            uint8_t *block; /* the current raw block, inflated */
            size_t block_len;
            size_t block_pos;
            bool xerial;
        } snappy;
        LZ4F_dctx *lz4;
        struct {
            ZSTD_DStream *ds;
            unsigned long long expected; /* the frame's declared content size */
        } zstd;
    } u;
};

/* ---- gzip ------------------------------------------------------------- */

static int comp_gzip_open(struct compression_stream *s)
{
    if (s->in_len == 0 || s->in_len > UINT32_MAX)
        return RILL_ERR_CORRUPT;
    /* 15 + 16: a gzip member only; Java's GZIPInputStream and Python's gzip
     * module refuse a bare zlib stream. */
    if (inflateInit2(&s->u.zs, 15 + 16) != Z_OK)
        return RILL_ERR_NOMEM;
    s->u.zs.next_in = (Bytef *)s->in;
    s->u.zs.avail_in = (uInt)s->in_len;
    return RILL_OK;
}

static int comp_gzip_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got)
{
    z_stream *zs = &s->u.zs;
    zs->next_out = dst;
    zs->avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    uInt start = zs->avail_out;
    int rc = RILL_OK;
    while (zs->avail_out > 0) {
        int zrc = inflate(zs, Z_NO_FLUSH);
        if (zrc == Z_STREAM_END) {
            /* A second member or trailing bytes: librdkafka stops at the
             * first member and would miss records. */
            if (zs->avail_in != 0)
                rc = RILL_ERR_CORRUPT;
            s->done = true;
            break;
        }
        if (zrc == Z_MEM_ERROR || (zrc != Z_OK && zrc != Z_BUF_ERROR)) {
            rc = zrc == Z_MEM_ERROR ? RILL_ERR_NOMEM : RILL_ERR_CORRUPT;
            break;
        }
        if (zs->avail_in == 0 && zs->avail_out > 0) {
            rc = RILL_ERR_CORRUPT; /* input ended inside the member */
            break;
        }
    }
    *got = start - zs->avail_out;
    return rc;
}

/* ---- snappy ----------------------------------------------------------- */

/* Inflates one raw block into s->u.snappy.block. */
static int comp_snappy_block(struct compression_stream *s, const uint8_t *in, size_t in_len)
{
    size_t n;
    if (in_len == 0 || snappy_uncompressed_length((const char *)in, in_len, &n) != SNAPPY_OK)
        return RILL_ERR_CORRUPT;
    if (n / SNAPPY_MAX_EXPANSION > in_len)
        return RILL_ERR_CORRUPT;
    if (n > s->max_out - s->produced)
        return RILL_ERR_TOO_LARGE;
    free(s->u.snappy.block);
    s->u.snappy.block = malloc(n > 0 ? n : 1);
    s->u.snappy.block_len = 0;
    s->u.snappy.block_pos = 0;
    if (s->u.snappy.block == NULL)
        return RILL_ERR_NOMEM;
    size_t got = n;
    if (snappy_uncompress((const char *)in, in_len, (char *)s->u.snappy.block, &got) !=
            SNAPPY_OK ||
        got != n)
        return RILL_ERR_CORRUPT;
    s->u.snappy.block_len = n;
    return RILL_OK;
}

static int comp_snappy_open(struct compression_stream *s)
{
    if (s->in_len >= sizeof(snappy_xerial_magic) &&
        memcmp(s->in, snappy_xerial_magic, sizeof(snappy_xerial_magic)) == 0) {
        /* kafka-python takes the stream as xerial only when both version
         * words are 1 (and as a raw block otherwise, which no stream that
         * starts with this magic can be): anything else it cannot read. */
        if (s->in_len < SNAPPY_XERIAL_HEADER_BYTES || be32_load(s->in + 8) != 1 ||
            be32_load(s->in + 12) != 1)
            return RILL_ERR_CORRUPT;
        s->u.snappy.xerial = true;
        s->in_pos = SNAPPY_XERIAL_HEADER_BYTES;
        return RILL_OK;
    }
    int rc = comp_snappy_block(s, s->in, s->in_len);
    s->in_pos = s->in_len;
    return rc;
}

static int comp_snappy_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got)
{
    size_t done = 0;
    int rc = RILL_OK;
    while (done < cap) {
        if (s->u.snappy.block_pos == s->u.snappy.block_len) {
            if (s->in_pos == s->in_len) {
                s->done = true;
                break;
            }
            /* Next xerial chunk (a raw stream has consumed all input). */
            uint32_t chunk_len = s->in_len - s->in_pos >= 4 ? be32_load(s->in + s->in_pos) : 0;
            if (s->in_len - s->in_pos < 4 || chunk_len > s->in_len - s->in_pos - 4) {
                rc = RILL_ERR_CORRUPT;
                break;
            }
            s->in_pos += 4;
            rc = comp_snappy_block(s, s->in + s->in_pos, chunk_len);
            if (rc != 0)
                break;
            s->in_pos += chunk_len;
            continue;
        }
        size_t n = s->u.snappy.block_len - s->u.snappy.block_pos;
        if (n > cap - done)
            n = cap - done;
        memcpy(dst + done, s->u.snappy.block + s->u.snappy.block_pos, n);
        s->u.snappy.block_pos += n;
        done += n;
    }
    *got = done;
    return rc;
}

/* ---- lz4 -------------------------------------------------------------- */

/* The LZ4 frame header: magic (little-endian), then the FLG byte. */
enum {
    LZ4_FRAME_MAGIC = 0x184D2204,
    LZ4_FLG_BLOCK_INDEPENDENT = 0x20,
    LZ4_FLG_DICT_ID = 0x01,
    LZ4_FRAME_HEADER_MIN = 7, /* magic, FLG, BD, header checksum */
};

static int comp_lz4_open(struct compression_stream *s)
{
    /* Kafka's Java reader takes a plain frame only: not a skippable one,
     * not linked blocks ("Dependent block stream is unsupported"), no
     * dictionary id. LZ4F checks the rest (version, block size, header
     * and content checksums, content size). */
    if (s->in_len < LZ4_FRAME_HEADER_MIN)
        return RILL_ERR_CORRUPT;
    uint32_t magic = (uint32_t)s->in[0] | (uint32_t)s->in[1] << 8 | (uint32_t)s->in[2] << 16 |
                     (uint32_t)s->in[3] << 24;
    uint8_t flg = s->in[4];
    if (magic != LZ4_FRAME_MAGIC || !(flg & LZ4_FLG_BLOCK_INDEPENDENT) || (flg & LZ4_FLG_DICT_ID))
        return RILL_ERR_CORRUPT;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&s->u.lz4, LZ4F_VERSION)))
        return RILL_ERR_NOMEM;
    return RILL_OK;
}

static int comp_lz4_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got)
{
    size_t done = 0;
    int rc = RILL_OK;
    while (done < cap) {
        size_t dst_len = cap - done;
        size_t src_len = s->in_len - s->in_pos;
        size_t hint = LZ4F_decompress(s->u.lz4, dst + done, &dst_len, s->in + s->in_pos,
                                      &src_len, NULL);
        if (LZ4F_isError(hint)) {
            rc = RILL_ERR_CORRUPT; /* includes wrong checksums and content size */
            break;
        }
        done += dst_len;
        s->in_pos += src_len;
        if (hint == 0) { /* the frame is complete */
            if (s->in_pos != s->in_len)
                rc = RILL_ERR_CORRUPT; /* Kafka's Java reader takes one frame */
            s->done = true;
            break;
        }
        if (s->in_pos == s->in_len && dst_len == 0) {
            rc = RILL_ERR_CORRUPT; /* input ended inside the frame */
            break;
        }
    }
    *got = done;
    return rc;
}

/* ---- zstd ------------------------------------------------------------- */

/* Walks the frame's blocks (RFC 8878 3.1.1): every block's content must be
 * present and the frame, with its checksum, must end exactly at the end of
 * the input. zstd's one-shot decoder, which librdkafka uses, insists on
 * this; its streaming decoder is laxer (it took an empty compressed last
 * block, the fuzzer found), so the walk comes first. */
static int comp_zstd_walk(const uint8_t *in, size_t len)
{
    size_t pos = ZSTD_frameHeaderSize(in, len);
    if (ZSTD_isError(pos) || pos > len)
        return RILL_ERR_CORRUPT;
    bool checksum = (in[4] & 0x04) != 0; /* Content_Checksum_flag of the descriptor */
    for (;;) {
        if (len - pos < 3)
            return RILL_ERR_CORRUPT;
        uint32_t header = (uint32_t)in[pos] | (uint32_t)in[pos + 1] << 8 |
                          (uint32_t)in[pos + 2] << 16;
        pos += 3;
        uint32_t type = (header >> 1) & 3; /* 0 raw, 1 RLE, 2 compressed, 3 reserved */
        uint32_t size = header >> 3;
        size_t content = type == 1 ? 1 : size; /* an RLE block holds one byte */
        /* A compressed block holds at least a literals header and one byte
         * (zstd's MIN_CBLOCK_SIZE): the one-shot decoder refuses less. */
        if (type == 3 || (type == 2 && size < 2) || content > len - pos)
            return RILL_ERR_CORRUPT;
        pos += content;
        if (header & 1)
            break; /* Last_Block */
    }
    if (checksum && len - pos < 4)
        return RILL_ERR_CORRUPT;
    pos += checksum ? 4 : 0;
    return pos == len ? RILL_OK : RILL_ERR_CORRUPT;
}

static int comp_zstd_open(struct compression_stream *s)
{
    if (s->in_len == 0)
        return RILL_ERR_CORRUPT;
    /* One frame, not a skippable one, its blocks all there. */
    if (ZSTD_isSkippableFrame(s->in, s->in_len) || comp_zstd_walk(s->in, s->in_len) != 0)
        return RILL_ERR_CORRUPT;
    s->u.zstd.expected = ZSTD_getFrameContentSize(s->in, s->in_len);
    if (s->u.zstd.expected == ZSTD_CONTENTSIZE_ERROR)
        return RILL_ERR_CORRUPT;
    s->u.zstd.ds = ZSTD_createDStream();
    if (s->u.zstd.ds == NULL)
        return RILL_ERR_NOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(s->u.zstd.ds, ZSTD_d_windowLogMax,
                                            ZSTD_WINDOW_LOG_MAX)))
        return RILL_ERR_NOMEM;
    return RILL_OK;
}

/* Inflates into out, whose pos moves even when an error is returned. The
 * walk at open has made sure there is exactly one frame. */
static int comp_zstd_frame(struct compression_stream *s, ZSTD_outBuffer *out)
{
    unsigned long long expected = s->u.zstd.expected;
    bool declared = expected != ZSTD_CONTENTSIZE_UNKNOWN;
    while (out->pos < out->size) {
        ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
        size_t before = out->pos;
        size_t left = ZSTD_decompressStream(s->u.zstd.ds, out, &in);
        if (ZSTD_isError(left))
            return ZSTD_getErrorCode(left) == ZSTD_error_memory_allocation ? RILL_ERR_NOMEM
                                                                            : RILL_ERR_CORRUPT;
        bool progress = out->pos != before || in.pos != s->in_pos;
        s->in_pos = in.pos;
        /* librdkafka sizes its buffer from the declared size: a frame that
         * produces more or less than it says is unreadable to it. */
        if (declared && s->produced + out->pos > expected)
            return RILL_ERR_CORRUPT;
        if (left == 0) { /* the frame is complete and flushed */
            if ((declared && s->produced + out->pos != expected) || s->in_pos != s->in_len)
                return RILL_ERR_CORRUPT;
            s->done = true;
            break;
        }
        if (!progress)
            return RILL_ERR_CORRUPT; /* input ended inside the frame */
    }
    return RILL_OK;
}

static int comp_zstd_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got)
{
    ZSTD_outBuffer out = {dst, cap, 0};
    int rc = comp_zstd_frame(s, &out);
    *got = out.pos;
    return rc;
}

/* ---- the stream ------------------------------------------------------- */

int compression_stream_open(int codec, const uint8_t *in, size_t in_len, size_t max_out,
                            struct compression_stream **out)
{
    *out = NULL;
    if (compression_name(codec) == NULL)
        return RILL_ERR_UNSUPPORTED;
    struct compression_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return RILL_ERR_NOMEM;
    s->codec = codec;
    s->in = in;
    s->in_len = in_len;
    s->max_out = max_out;
    int rc = RILL_OK;
    switch (codec) {
    case COMPRESSION_NONE:
        break;
    case COMPRESSION_GZIP:
        rc = comp_gzip_open(s);
        if (rc == RILL_ERR_NOMEM) /* inflateInit2 failed: nothing to end */
            s->codec = COMPRESSION_NONE;
        break;
    case COMPRESSION_SNAPPY:
        rc = comp_snappy_open(s);
        break;
    case COMPRESSION_LZ4:
        rc = comp_lz4_open(s);
        break;
    case COMPRESSION_ZSTD:
        rc = comp_zstd_open(s);
        break;
    }
    if (rc != 0) {
        compression_stream_close(s);
        return rc;
    }
    *out = s;
    return RILL_OK;
}

int compression_stream_read(struct compression_stream *s, uint8_t *dst, size_t cap, size_t *got)
{
    *got = 0;
    if (s->err != 0)
        return s->err;
    if (s->done || cap == 0)
        return RILL_OK;
    /* One byte past the cap is asked for, so that a stream that would pass
     * it is caught without producing more than one byte too many. */
    size_t allowed = s->max_out - s->produced;
    if (cap > allowed)
        cap = allowed + 1;
    int rc;
    switch (s->codec) {
    case COMPRESSION_GZIP:
        rc = comp_gzip_read(s, dst, cap, got);
        break;
    case COMPRESSION_SNAPPY:
        rc = comp_snappy_read(s, dst, cap, got);
        break;
    case COMPRESSION_LZ4:
        rc = comp_lz4_read(s, dst, cap, got);
        break;
    case COMPRESSION_ZSTD:
        rc = comp_zstd_read(s, dst, cap, got);
        break;
    default: {
        size_t n = s->in_len - s->in_pos;
        if (n > cap)
            n = cap;
        if (n > 0)
            memcpy(dst, s->in + s->in_pos, n);
        s->in_pos += n;
        s->done = s->in_pos == s->in_len;
        *got = n;
        rc = RILL_OK;
        break;
    }
    }
    if (*got > allowed) {
        *got = allowed;
        rc = RILL_ERR_TOO_LARGE;
    }
    s->produced += *got;
    if (rc != 0) {
        /* The bytes before the fault are handed out first and the error
         * on the next call, so that where a reader meets it does not
         * depend on how much it asks for at a time. */
        s->err = rc;
        return *got > 0 ? RILL_OK : rc;
    }
    return RILL_OK;
}

size_t compression_stream_produced(const struct compression_stream *s)
{
    return s->produced;
}

void compression_stream_close(struct compression_stream *s)
{
    if (s == NULL)
        return;
    switch (s->codec) {
    case COMPRESSION_GZIP:
        inflateEnd(&s->u.zs);
        break;
    case COMPRESSION_SNAPPY:
        free(s->u.snappy.block);
        break;
    case COMPRESSION_LZ4:
        if (s->u.lz4 != NULL)
            LZ4F_freeDecompressionContext(s->u.lz4);
        break;
    case COMPRESSION_ZSTD:
        ZSTD_freeDStream(s->u.zstd.ds);
        break;
    default:
        break;
    }
    free(s);
}

int compression_decompress(int codec, const uint8_t *in, size_t in_len, struct kafka_writer *out,
                           size_t max_out)
{
    struct compression_stream *s;
    int rc = compression_stream_open(codec, in, in_len, max_out, &s);
    while (rc == 0) {
        uint8_t *dst = kafka_writer_reserve(out, 65536);
        if (dst == NULL) {
            rc = RILL_ERR_NOMEM;
            break;
        }
        size_t got;
        rc = compression_stream_read(s, dst, 65536, &got);
        out->len -= 65536 - got;
        if (rc == 0 && got == 0)
            break;
    }
    compression_stream_close(s);
    return rc;
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
    /* Independent blocks: Kafka's Java reader refuses linked ones. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *dst = kafka_writer_reserve(out, bound);
    if (dst == NULL)
        return RILL_ERR_NOMEM;
    size_t n = LZ4F_compressFrame(dst, bound, in, in_len, &prefs);
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
