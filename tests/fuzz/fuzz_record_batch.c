/* Record batches as a producer sends them: validation with every record
 * and header walked (compressed ones inflated through the window), then
 * the produce path's stamping. The first input byte holds flags, the rest
 * is the batch: flag 1 fixes the batch length field and flag 2 the CRC,
 * so that the fuzzer reaches the checks behind them.
 *
 * A batch that validates must still have a good CRC after the broker
 * stamps its offset and epoch, after LogAppendTime and after the max
 * timestamp is corrected, and must validate again with the same summary.
 * Records that fit the iterator's window and records streamed field by
 * field through a tiny one must be read alike. */
#include <string.h>

#include "common/limits.h"
#include "proto/crc32c.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "tests/fuzz/fuzz.h"

/* What a walk saw, for comparing two walks. */
struct walk {
    int end; /* 0 clean, or the error */
    size_t n;
    size_t cap;
    struct record_view *recs;
};

static void fuzz_walk(struct record_iter *it, struct walk *w)
{
    struct record_view rec;
    while ((w->end = record_iter_next(it, &rec)) == 1) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 64;
            w->recs = realloc(w->recs, w->cap * sizeof(*w->recs));
            FUZZ_CHECK(w->recs != NULL);
        }
        w->recs[w->n++] = rec;
    }
    record_iter_close(it);
}

/* Walks the records twice, as they fit the window and field by field
 * through a tiny window: both walks must see the same records and end
 * alike (both cleanly after the same records, or both with an error:
 * where a codec reports a fault can depend on how much is asked of it at
 * a time, and validation refuses the batch either way). */
static void fuzz_both_paths(const uint8_t *batch, size_t len, size_t tiny)
{
    /* A small cap keeps bombs quick: both walks stop at it alike. */
    enum { CAP = 256 << 10 };
    struct record_iter a, b;
    int codec = be16_load(batch + RB_ATTRIBUTES) & RB_ATTR_CODEC_MASK;
    int ra = codec == 0 ? record_iter_open(&a, batch, len)
                        : record_iter_open_windowed(&a, batch, len, LIMIT_RECORD_WINDOW_BYTES, CAP);
    int rb = record_iter_open_windowed(&b, batch, len, tiny, CAP);
    FUZZ_CHECK(ra == rb);
    if (ra != 0)
        return;
    struct walk wa = {0}, wb = {0};
    fuzz_walk(&a, &wa);
    fuzz_walk(&b, &wb);
    FUZZ_CHECK((wa.end == 0) == (wb.end == 0));
    if (wa.end == 0)
        FUZZ_CHECK(wa.n == wb.n);
    size_t common = wa.n < wb.n ? wa.n : wb.n;
    for (size_t i = 0; i < common; i++) {
        const struct record_view *x = &wa.recs[i], *y = &wb.recs[i];
        FUZZ_CHECK(x->attributes == y->attributes && x->timestamp_delta == y->timestamp_delta &&
                   x->offset_delta == y->offset_delta && x->key.len == y->key.len &&
                   x->value.len == y->value.len && x->headers_count == y->headers_count &&
                   x->headers_len == y->headers_len);
    }
    free(wa.recs);
    free(wb.recs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *batch = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(batch != NULL);
    if (len > 0)
        memcpy(batch, data + 1, len);
    if ((flags & 1) && len >= RB_HEADER_BYTES)
        be32_store(batch + RB_BATCH_LENGTH, (uint32_t)(len - RB_LOG_OVERHEAD));
    if ((flags & 2) && len >= RB_HEADER_BYTES)
        be32_store(batch + RB_CRC, crc32c(batch + RB_ATTRIBUTES, len - RB_ATTRIBUTES));

    if (record_batch_check_crc(batch, len) == RB_OK)
        fuzz_both_paths(batch, len, 40 + (size_t)(flags >> 2) * 4);

    struct record_batch_info info;
    if (record_batch_validate(batch, len, &info) == RB_OK) {
        FUZZ_CHECK(info.records_count > 0 && info.last_offset_delta == info.records_count - 1);
        /* The iterator sees exactly the records validation counted. */
        struct record_iter it;
        struct record_view rec;
        FUZZ_CHECK(record_iter_open(&it, batch, len) == 0);
        int32_t n = 0;
        int rc;
        while ((rc = record_iter_next(&it, &rec)) == 1)
            FUZZ_CHECK(rec.offset_delta == n++);
        record_iter_close(&it);
        FUZZ_CHECK(rc == 0 && n == info.records_count);

        record_batch_stamp(batch, 1234567, 42);
        FUZZ_CHECK(record_batch_check_crc(batch, len) == RB_OK);
        record_batch_fix_max_timestamp(batch, len, info.max_timestamp);
        FUZZ_CHECK(record_batch_check_crc(batch, len) == RB_OK);
        struct record_batch_info again;
        FUZZ_CHECK(record_batch_validate(batch, len, &again) == RB_OK);
        FUZZ_CHECK(again.records_count == info.records_count &&
                   again.max_timestamp == info.max_timestamp);
        record_batch_set_log_append_time(batch, len, 1700000000000);
        FUZZ_CHECK(record_batch_validate(batch, len, &again) == RB_OK);
        FUZZ_CHECK(again.max_timestamp == 1700000000000);
    }
    free(batch);
    return 0;
}
