#include "proto/record_iter.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/compression.h"

/* The longest field read in one piece: a 10-byte varlong. */
enum { ITER_FIELD_MAX = 10 };

_Static_assert(LIMIT_RECORD_WINDOW_BYTES >= 4 * ITER_FIELD_MAX, "window holds a few fields");

/* Makes at least need bytes available, or as many as remain. */
static int iter_fill(struct record_iter *it, size_t need)
{
    size_t avail = (size_t)(it->end - it->p);
    if (avail >= need || it->stream == NULL)
        return RILL_OK;
    memmove(it->window, it->p, avail);
    it->p = it->window;
    it->end = it->window + avail;
    while ((size_t)(it->end - it->p) < need) {
        size_t room = (size_t)(it->window + it->window_bytes - it->end);
        size_t got;
        int rc = compression_stream_read(it->stream, it->window + avail, room, &got);
        if (rc != 0)
            return rc;
        if (got == 0)
            break; /* the stream ended cleanly */
        avail += got;
        it->end += got;
    }
    return RILL_OK;
}

/* Reads one varint (wide: a varlong) from the window. */
static int64_t iter_varint(struct record_iter *it, bool wide)
{
    if (it->err != 0)
        return 0;
    int rc = iter_fill(it, ITER_FIELD_MAX);
    if (rc != 0) {
        it->err = rc;
        return 0;
    }
    struct kafka_reader r;
    kafka_reader_init(&r, it->p, (size_t)(it->end - it->p));
    int64_t v = wide ? kafka_read_varlong(&r) : kafka_read_varint(&r);
    if (r.err) {
        it->err = RILL_ERR_PARSE;
        return 0;
    }
    it->consumed += (uint64_t)(r.p - it->p);
    it->p = r.p;
    return v;
}

static int8_t iter_i8(struct record_iter *it)
{
    if (it->err != 0)
        return 0;
    int rc = iter_fill(it, 1);
    if (rc != 0 || it->p == it->end) {
        it->err = rc != 0 ? rc : RILL_ERR_PARSE;
        return 0;
    }
    it->consumed++;
    return (int8_t)*it->p++;
}

/* Skips n bytes. Returns where they start when they were contiguous in an
 * uncompressed batch, else NULL. */
static const uint8_t *iter_skip(struct record_iter *it, uint64_t n)
{
    const uint8_t *start = it->p;
    uint64_t left = n;
    while (left > 0 && it->err == 0) {
        if (it->p == it->end) {
            int rc = iter_fill(it, 1);
            if (rc != 0 || it->p == it->end) {
                it->err = rc != 0 ? rc : RILL_ERR_PARSE;
                break;
            }
        }
        size_t take = (size_t)(it->end - it->p);
        if (take > left)
            take = (size_t)left;
        it->p += take;
        it->consumed += take;
        left -= take;
    }
    return it->stream == NULL && it->err == 0 ? start : NULL;
}

/* Bytes of the current record not read yet; sets err when the record's
 * fields have run past its declared length. */
static uint64_t iter_left(struct record_iter *it, uint64_t record_end)
{
    if (it->consumed > record_end) {
        if (it->err == 0)
            it->err = RILL_ERR_PARSE;
        return 0;
    }
    return record_end - it->consumed;
}

/* A key or value: length -1 (null) or 0.., within the record. */
static struct kafka_bytes iter_bytes(struct record_iter *it, uint64_t record_end, bool nullable)
{
    struct kafka_bytes b = {NULL, -1};
    int64_t len = iter_varint(it, false);
    uint64_t left = iter_left(it, record_end);
    if (it->err != 0)
        return b;
    if (len < (nullable ? -1 : 0) || (len > 0 && (uint64_t)len > left)) {
        it->err = RILL_ERR_PARSE;
        return b;
    }
    b.len = (int32_t)len;
    if (len >= 0)
        b.ptr = iter_skip(it, (uint64_t)len);
    return b;
}

static int iter_open_stream(struct record_iter *it, int codec, const uint8_t *recs, size_t len,
                            size_t window_bytes, size_t max_out)
{
    memset(it, 0, sizeof(*it));
    if (codec == COMPRESSION_NONE && window_bytes == 0) {
        it->p = recs;
        it->end = recs + len;
        return RILL_OK;
    }
    it->window_bytes = window_bytes > 0 ? window_bytes : LIMIT_RECORD_WINDOW_BYTES;
    ASSERT(it->window_bytes >= 4 * ITER_FIELD_MAX);
    it->window = malloc(it->window_bytes);
    if (it->window == NULL)
        return RILL_ERR_NOMEM;
    int rc = compression_stream_open(codec, recs, len, max_out, &it->stream);
    if (rc != 0) {
        free(it->window);
        memset(it, 0, sizeof(*it));
        return rc;
    }
    it->p = it->end = it->window;
    return RILL_OK;
}

int record_iter_open_records(struct record_iter *it, int codec, const uint8_t *recs, size_t len)
{
    return iter_open_stream(it, codec, recs, len, 0, LIMIT_DECOMPRESSED_BATCH_BYTES);
}

static int iter_open_batch(struct record_iter *it, const uint8_t *batch, size_t len,
                           size_t window_bytes, size_t max_out)
{
    if (len < RB_HEADER_BYTES) {
        memset(it, 0, sizeof(*it));
        return RILL_ERR_CORRUPT;
    }
    int codec = be16_load(batch + RB_ATTRIBUTES) & RB_ATTR_CODEC_MASK;
    return iter_open_stream(it, codec, batch + RB_HEADER_BYTES, len - RB_HEADER_BYTES,
                            window_bytes, max_out);
}

int record_iter_open(struct record_iter *it, const uint8_t *batch, size_t len)
{
    return iter_open_batch(it, batch, len, 0, LIMIT_DECOMPRESSED_BATCH_BYTES);
}

int record_iter_open_windowed(struct record_iter *it, const uint8_t *batch, size_t len,
                              size_t window_bytes, size_t max_out)
{
    return iter_open_batch(it, batch, len, window_bytes, max_out);
}

/* The common case: the whole record (length bytes) is in view, so it is
 * parsed in one bounded reader, as fast as a plain loop. Must reach the
 * same verdict as iter_record_streamed (the record fuzzer checks it). */
static int iter_record_in_view(struct record_iter *it, size_t length, struct record_view *rec)
{
    struct kafka_reader r;
    kafka_reader_init(&r, it->p, length);
    rec->attributes = kafka_read_i8(&r);
    rec->timestamp_delta = kafka_read_varlong(&r);
    rec->offset_delta = kafka_read_varint(&r);
    struct kafka_bytes *kv[2] = {&rec->key, &rec->value};
    for (int i = 0; i < 2; i++) {
        int32_t n = kafka_read_varint(&r);
        if (n < -1)
            kafka_reader_fail(&r);
        *kv[i] = (struct kafka_bytes){NULL, n};
        if (n >= 0 && !r.err)
            kv[i]->ptr = kafka_read_raw(&r, (size_t)n);
    }
    int32_t count = kafka_read_varint(&r);
    /* Each header takes at least two bytes (two one-byte lengths). */
    if (count < 0 || (size_t)count > kafka_reader_left(&r) / 2)
        kafka_reader_fail(&r);
    rec->headers_count = count;
    rec->headers = r.p;
    for (int32_t i = 0; i < count && !r.err; i++) {
        int32_t hk = kafka_read_varint(&r);
        if (hk < 0)
            kafka_reader_fail(&r); /* header keys are never null */
        else
            (void)kafka_read_raw(&r, (size_t)hk);
        int32_t hv = kafka_read_varint(&r);
        if (hv < -1)
            kafka_reader_fail(&r);
        else if (hv > 0)
            (void)kafka_read_raw(&r, (size_t)hv);
    }
    rec->headers_len = (size_t)(r.p - rec->headers);
    /* The length must cover exactly the fields. */
    if (r.err || kafka_reader_left(&r) != 0)
        return it->err = RILL_ERR_PARSE;
    if (it->stream != NULL) {
        /* The window moves on: only lengths stay meaningful. */
        rec->key.ptr = rec->value.ptr = NULL;
        rec->headers = NULL;
    }
    it->p += length;
    it->consumed += length;
    return 1;
}

/* A record larger than the window: read field by field as it streams by. */
static int iter_record_streamed(struct record_iter *it, uint64_t length, struct record_view *rec)
{
    uint64_t record_end = it->consumed + length;
    rec->attributes = iter_i8(it);
    rec->timestamp_delta = iter_varint(it, true);
    rec->offset_delta = (int32_t)iter_varint(it, false);
    rec->key = iter_bytes(it, record_end, true);
    rec->value = iter_bytes(it, record_end, true);
    int64_t headers_count = iter_varint(it, false);
    uint64_t left = iter_left(it, record_end);
    if (it->err == 0 && (headers_count < 0 || (uint64_t)headers_count > left / 2))
        it->err = RILL_ERR_PARSE;
    rec->headers_count = (int32_t)headers_count;
    rec->headers = NULL;
    uint64_t headers_start = it->consumed;
    for (int64_t i = 0; i < headers_count && it->err == 0; i++) {
        (void)iter_bytes(it, record_end, false); /* header keys are never null */
        (void)iter_bytes(it, record_end, true);
    }
    rec->headers_len = (size_t)(it->consumed - headers_start);
    if (it->err == 0 && it->consumed != record_end)
        it->err = RILL_ERR_PARSE; /* the length must cover exactly the fields */
    return it->err != 0 ? it->err : 1;
}

int record_iter_next(struct record_iter *it, struct record_view *rec)
{
    if (it->err != 0)
        return it->err;
    int rc = iter_fill(it, 1);
    if (rc != 0)
        return it->err = rc;
    if (it->p == it->end)
        return 0;
    int64_t length = iter_varint(it, false);
    if (it->err == 0 && length < 0)
        it->err = RILL_ERR_PARSE;
    if (it->err != 0)
        return it->err;
    /* Bring a record that fits the window into view whole. */
    if (it->stream != NULL && (uint64_t)length <= it->window_bytes &&
        (uint64_t)(it->end - it->p) < (uint64_t)length) {
        rc = iter_fill(it, (size_t)length);
        if (rc != 0)
            return it->err = rc;
    }
    if ((uint64_t)(it->end - it->p) >= (uint64_t)length)
        return iter_record_in_view(it, (size_t)length, rec);
    return iter_record_streamed(it, (uint64_t)length, rec);
}

void record_iter_close(struct record_iter *it)
{
    compression_stream_close(it->stream);
    free(it->window);
    memset(it, 0, sizeof(*it));
}
