/* A partition log: a directory of segment files holding record batches as
 * producers sent them, indexed in the store's RocksDB.
 *
 * Invariants:
 *   - segments are sorted by base offset; only the last (active) one is
 *     written; each segment's first batch starts at its base offset;
 *   - log_start_offset <= durable_offset <= log_end_offset;
 *   - every byte below the recovery checkpoint is fsynced and indexed;
 *     everything after it is re-checked (CRC) and re-indexed on open;
 *   - a read never returns bytes past what append() finished writing.
 *
 *   open ──recover──> ready ──append──> (dirty) ──flush job──> durable
 *                       │                                        │
 *                       └──── truncate / retention / destroy ────┘
 *
 * Only the broker loop thread calls these functions; fsyncs and file
 * deletions run on the store's workers. */
#ifndef RILL_STORAGE_LOG_H
#define RILL_STORAGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/record_batch.h"
#include "storage/store.h"

enum storage_flush_policy {
    FLUSH_ALWAYS,   /* fsync (group commit) before an append counts as durable */
    FLUSH_INTERVAL, /* fsync every flush_messages or flush_ms */
    FLUSH_NEVER,    /* only on roll and shutdown, as Kafka's defaults */
};

struct storage_log_config {
    int64_t segment_bytes;   /* segment.bytes */
    int64_t segment_ms;      /* segment.ms */
    int64_t retention_ms;    /* retention.ms, -1 = forever */
    int64_t retention_bytes; /* retention.bytes, -1 = unlimited */
    int32_t index_interval_bytes;
    enum storage_flush_policy flush_policy;
    int64_t flush_messages;  /* flush.messages (FLUSH_INTERVAL) */
    int64_t flush_ms;        /* flush.ms (FLUSH_INTERVAL) */
};

struct storage_log;

/* Called on the loop thread when the durable offset advanced. */
typedef void (*storage_durable_fn)(struct storage_log *log, int64_t durable_offset, void *ctx);

/* Called on the loop thread, once, when the log went offline: an fsync of
 * its directory failed (Linux may have dropped the data it was to make
 * durable, so no later fsync there can be trusted: fsyncgate). From then
 * on appends, reads and flushes fail with RILL_ERR_IO and the durable
 * offset never moves again; a restart recovers from what is on disk. */
typedef void (*storage_offline_fn)(struct storage_log *log, void *ctx);

/* Sets the offline callback (same ctx as on_durable). */
void storage_log_on_offline(struct storage_log *log, storage_offline_fn fn);

/* Whether the log is offline. */
bool storage_log_offline(const struct storage_log *log);

/* Opens the log called name ("topic-3") in dir, creating it when missing,
 * and recovers it. topic_id (16 bytes, or NULL for logs that belong to no
 * topic) must match the directory's partition.metadata: a directory of
 * another topic with the same name is RILL_ERR_MISMATCH, never reused. A
 * directory without the file (made before topic ids were kept) is taken
 * and given one. On success the caller owns *out. */
int storage_log_open(struct storage_store *store, const char *dir, const char *name,
                     const uint8_t *topic_id, const struct storage_log_config *cfg,
                     storage_durable_fn on_durable, void *ctx, struct storage_log **out);

/* Flushes what is buffered (asynchronously) and frees the log; any fsync in
 * flight completes before the store closes. NULL is allowed. */
void storage_log_close(struct storage_log *log);

/* Removes the log from disk and from the index, then frees it. */
int storage_log_destroy(struct storage_log *log);

void storage_log_set_config(struct storage_log *log, const struct storage_log_config *cfg);

const char *storage_log_name(const struct storage_log *log);
int64_t storage_log_start_offset(const struct storage_log *log);
int64_t storage_log_end_offset(const struct storage_log *log);
int64_t storage_log_durable_offset(const struct storage_log *log);
int64_t storage_log_size_bytes(const struct storage_log *log);
size_t storage_log_segment_count(const struct storage_log *log);

/* Appends one validated batch (len bytes, writable: the base offset and
 * leader epoch are stamped into it). Returns 0 and the assigned base offset,
 * RILL_ERR_NOSPC or RILL_ERR_IO (nothing appended in either case). */
int storage_log_append(struct storage_log *log, uint8_t *batch, size_t len,
                       int32_t leader_epoch, const struct record_batch_info *info,
                       int64_t now_ms, int64_t *base_offset);

/* Appends batches fetched from a partition's leader (a follower's append),
 * keeping their base offsets and partition leader epochs as the leader
 * wrote them: the leader-epoch history is the leader's. Every whole batch
 * is validated (CRC and records) and must start where the log ends; a
 * partial batch at the end of the buffer is left out. Batches before a
 * refused one stay appended; *appended says how many bytes were taken.
 * Returns 0, RILL_ERR_CORRUPT (a batch fails its checks), RILL_ERR_INVALID
 * (it does not start at the log end), RILL_ERR_NOSPC or RILL_ERR_IO. */
int storage_log_append_replica(struct storage_log *log, const uint8_t *batches, size_t len,
                               int64_t now_ms, size_t *appended);

/* Where the batches for a fetch are: a byte range of one segment, holding
 * whole batches only. fd is a duplicate the caller owns (or -1 when empty). */
struct storage_read {
    int fd;
    int64_t position;
    int64_t length;
    int64_t first_offset; /* base offset of the first batch */
    int64_t next_offset;  /* offset after the last batch */
};

/* Locates batches from the one holding offset, below max_offset, up to
 * max_bytes (the first batch is returned whole even when larger).
 * Returns 0 (possibly empty), RILL_ERR_RANGE when offset is outside
 * [log start, log end], or RILL_ERR_IO. */
int storage_log_read(struct storage_log *log, int64_t offset, int64_t max_offset,
                     size_t max_bytes, struct storage_read *out);

/* Reads the same range into memory (for internal consumers such as the
 * metadata log and the group coordinator). On success *buf is malloc'd. */
int storage_log_read_copy(struct storage_log *log, int64_t offset, int64_t max_offset,
                          size_t max_bytes, uint8_t **buf, size_t *len);

/* The first offset whose record timestamp is >= timestamp, and that
 * record's timestamp. Returns 0 or RILL_ERR_NOT_FOUND (none that late). */
int storage_log_offset_for_time(struct storage_log *log, int64_t timestamp, int64_t *offset,
                                int64_t *record_timestamp);

/* A batch header, as the tail scan reports it. */
struct storage_batch_info {
    int64_t base_offset;
    int32_t last_offset_delta;
    int64_t max_timestamp;
    int16_t attributes;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
};

/* Calls fn for every batch of the last `segments` segments, in order (for
 * rebuilding state kept beside the log, such as idempotent producers).
 * fn returning non-zero stops the scan. Returns 0 or a RILL_ERR_*. */
int storage_log_scan_tail(struct storage_log *log, size_t segments,
                          int (*fn)(void *ctx, const struct storage_batch_info *b), void *ctx);

/* The leader-epoch history (KIP-101): the newest epoch that wrote a batch
 * here (-1 none); the first offset of epoch (-1 when it wrote none); and
 * OffsetForLeaderEpoch's answer for epoch: the largest epoch <= it that
 * is known here and the offset where it ended (the next epoch's start, or
 * the log end for the newest); both -1 when epoch is newer than anything
 * here, or nothing is known. */
int32_t storage_log_latest_epoch(const struct storage_log *log);
int64_t storage_log_epoch_start(const struct storage_log *log, int32_t epoch);
void storage_log_end_for_epoch(const struct storage_log *log, int32_t epoch,
                               int32_t *found_epoch, int64_t *end_offset);

/* The high-watermark checkpoint: saved lazily in the index (no fsync of
 * its own), and read back clamped to [log start, log end], so that a
 * partition reopens with what was known committed, never its log end.
 * Returns the log start when none was saved. */
void storage_log_save_high_watermark(struct storage_log *log, int64_t hw);
int64_t storage_log_saved_high_watermark(struct storage_log *log);

/* Removes every batch at or above offset (a batch that contains offset is
 * removed whole). Returns 0 or a RILL_ERR_*. */
int storage_log_truncate(struct storage_log *log, int64_t offset);

/* Removes every segment and starts the log over, empty, at offset (which
 * may lie past the old end): a follower that installs a snapshot of
 * everything before offset. Durable with the fsync it starts. Returns 0 or
 * a RILL_ERR_*. */
int storage_log_reset(struct storage_log *log, int64_t offset);

/* Deletes closed segments older than retention.ms or beyond
 * retention.bytes. Returns how many segments were deleted, or < 0. */
int storage_log_apply_retention(struct storage_log *log, int64_t now_ms);

/* Deletes whole closed segments that lie entirely below offset (state
 * logs that wrote a snapshot at offset need nothing older). Returns how
 * many were deleted, or < 0. */
int storage_log_drop_segments_below(struct storage_log *log, int64_t offset);

/* Starts an fsync if the policy calls for one (FLUSH_ALWAYS: whenever
 * dirty; FLUSH_INTERVAL: by count or age). now_ms is a monotonic time. */
void storage_log_maybe_flush(struct storage_log *log, int64_t now_ms);

/* Starts an fsync of everything appended so far, whatever the policy. */
void storage_log_flush(struct storage_log *log);

/* True while an fsync of the log is running. */
bool storage_log_flushing(const struct storage_log *log);

/* True when appends are not yet covered by a finished fsync. */
bool storage_log_dirty(const struct storage_log *log);

#endif
