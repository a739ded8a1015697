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
#include "common/rill_error.h"
#include "proto/crc32c.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "tests/fuzz/fuzz.h"

/* Walks the records twice, as they fit the window and field by field
 * through a tiny window: both paths must see the same records and end the
 * same way. */
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
    for (;;) {
        struct record_view x, y;
        ra = record_iter_next(&a, &x);
        rb = record_iter_next(&b, &y);
        /* Both fail on the same record; the field-by-field walk may see a
         * malformed field before the bytes where the stream breaks. */
        FUZZ_CHECK(ra == rb || (ra < 0 && rb < 0 && (ra == RILL_ERR_PARSE ||
                                                     rb == RILL_ERR_PARSE)));
        if (ra != 1)
            break;
        FUZZ_CHECK(x.attributes == y.attributes && x.timestamp_delta == y.timestamp_delta &&
                   x.offset_delta == y.offset_delta && x.key.len == y.key.len &&
                   x.value.len == y.value.len && x.headers_count == y.headers_count &&
                   x.headers_len == y.headers_len);
    }
    record_iter_close(&a);
    record_iter_close(&b);
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
