/* Walks the records of one record batch, inflating compressed records on
 * the fly through a fixed window (as Kafka's own validator iterates a
 * compressed batch), so the memory one batch costs is a small constant
 * whatever its header or its records claim.
 *
 * Each record is parsed exactly: its length must cover exactly its fields,
 * key, value and header lengths must fit inside it. A record that fits the
 * window is parsed in one piece; a larger one field by field as it streams
 * past (both reach the same verdict: the record fuzzer checks it). Keys,
 * values and headers are skipped over, not copied; where the batch is
 * uncompressed they are also returned as views into it.
 *
 *   struct record_iter it;
 *   record_iter_open(&it, batch, len);
 *   while ((rc = record_iter_next(&it, &rec)) == 1) ...;
 *   record_iter_close(&it);   // rc: 0 at the end, a RILL_ERR_* on bad data
 */
#ifndef RILL_PROTO_RECORD_ITER_H
#define RILL_PROTO_RECORD_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/record_batch.h"

struct compression_stream;

struct record_iter {
    const uint8_t *p;                  /* next unread record byte */
    const uint8_t *end;                /* end of what is available */
    struct compression_stream *stream; /* NULL for an uncompressed batch */
    uint8_t *window;                   /* the stream's output window */
    size_t window_bytes;               /* its size */
    uint64_t consumed;                 /* record bytes read so far */
    int err;                           /* sticky RILL_ERR_* */
};

/* Starts on the records of batch[0..len) (a whole batch whose framing has
 * been checked; the codec comes from its attributes). The batch must
 * outlive the iterator. Returns 0 or a RILL_ERR_* (then nothing needs to be
 * closed). */
int record_iter_open(struct record_iter *it, const uint8_t *batch, size_t len);

/* The same over bare record bytes: recs[0..len) inflated with codec. */
int record_iter_open_records(struct record_iter *it, int codec, const uint8_t *recs, size_t len);

/* For tests: the same as record_iter_open, but every batch (even an
 * uncompressed one) streams through a window of window_bytes (>= 40), so
 * that records larger than the window take the field-by-field path, and
 * inflates to at most max_out bytes. */
int record_iter_open_windowed(struct record_iter *it, const uint8_t *batch, size_t len,
                              size_t window_bytes, size_t max_out);

/* Reads the next record into rec. Returns 1 for a record, 0 at the clean
 * end of the records, or a RILL_ERR_*: RILL_ERR_PARSE for a malformed
 * record, RILL_ERR_CORRUPT for compressed data that does not inflate,
 * RILL_ERR_TOO_LARGE past LIMIT_DECOMPRESSED_BATCH_BYTES, RILL_ERR_NOMEM.
 * rec->key, value and headers point into the batch when it is
 * uncompressed; when it is compressed only their lengths are set (ptr NULL,
 * headers NULL). */
int record_iter_next(struct record_iter *it, struct record_view *rec);

/* Accepts an iterator that failed to open or was never opened (zeroed). */
void record_iter_close(struct record_iter *it);

#endif
