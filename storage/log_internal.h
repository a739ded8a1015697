/* Private to storage/: the structures behind storage_log and storage_store,
 * shared by the files that implement them (log.c, log_recovery.c,
 * log_retention.c, segment.c, store.c). */
#ifndef RILL_STORAGE_LOG_INTERNAL_H
#define RILL_STORAGE_LOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/index.h"
#include "storage/log.h"
#include "storage/store.h"
#include "storage/worker.h"

struct storage_segment {
    int64_t base_offset;
    int64_t size_bytes;     /* bytes of whole batches written */
    int64_t max_timestamp;  /* largest record timestamp, -1 when empty */
    int64_t first_append_ms;/* wall time of its first batch, for segment.ms */
    int fd;                 /* read (and, for the active one, write) descriptor, or -1 */
};

/* The recovery checkpoint: everything before (segment_base, position) is
 * fsynced and indexed; next_offset is the offset found there. */
struct storage_checkpoint {
    int64_t segment_base;
    int64_t position;
    int64_t next_offset;
    int64_t max_timestamp;
};

/* One leader epoch of the log's history (replica_state.c). */
struct storage_epoch {
    int32_t epoch;
    int64_t start_offset; /* its first batch */
};

struct storage_log {
    struct storage_store *store;
    char *name;
    char *dir;        /* parent log directory */
    char *path;       /* dir/name */
    uint64_t log_id;
    struct storage_log_config cfg;

    struct storage_segment *segs; /* sorted by base offset; last is active */
    size_t nsegs;
    size_t segs_cap;

    int64_t log_start_offset;
    int64_t log_end_offset;
    int64_t durable_offset;
    int64_t max_timestamp;         /* running max over the whole log */
    int64_t bytes_since_index;     /* since the last offset index entry */
    int64_t time_indexed_max;      /* largest timestamp in the time index */

    /* Flushing: at most one fsync job per log in flight. */
    bool flush_inflight;
    bool dir_dirty;                /* a segment was created since the last dir fsync */
    bool sync_needed;              /* a truncation awaits its fsync */
    uint64_t generation;           /* bumped by truncation; stale flushes are ignored */
    int *pending_fds;              /* rolled segments not yet fsynced (dups) */
    int npending_fds;
    int pending_fds_cap;
    int64_t unflushed_messages;
    int64_t last_flush_ms;
    bool closing;                  /* closed while a flush was in flight: free when done */
    bool destroyed;                /* destroyed likewise: free and remove when done */
    bool offline;                  /* its directory is offline: no append, read or fsync */

    struct storage_epoch *epochs;  /* leader-epoch history, oldest first */
    size_t nepochs, epochs_cap;

    storage_durable_fn on_durable;
    storage_offline_fn on_offline;
    void *ctx;
};

struct storage_store {
    char **dirs;
    size_t ndirs;
    size_t *dir_logs;              /* logs per dir, for placement */
    bool *dir_offline;             /* a failed fsync took the directory offline */
    struct storage_index *index;
    struct storage_worker *flusher;
    struct storage_worker *janitor;
};

/* segment.c */
void segment_file_name(char *buf, size_t len, const char *path, int64_t base_offset);
int segment_open(const char *path, int64_t base_offset, bool create, int *fd);

/* A batch header found by segment_scan. */
struct segment_batch {
    int64_t position;
    int64_t base_offset;
    int64_t last_offset;
    int64_t size;
    int64_t max_timestamp;
    int16_t attributes;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
};

/* Calls fn for each whole batch header in fd from position up to end, reading
 * in chunks; stops when fn returns non-zero (that value is returned) or at a
 * header that cannot be a batch (returns 0 with *stop_pos at it). */
int segment_scan(int fd, int64_t position, int64_t end,
                 int (*fn)(void *ctx, const struct segment_batch *b), void *ctx,
                 int64_t *stop_pos);

/* Reads len bytes at position into buf; RILL_ERR_IO on short read. */
int segment_pread(int fd, void *buf, size_t len, int64_t position);

/* log.c */
int log_segment_fd(struct storage_log *log, struct storage_segment *seg);
struct storage_segment *log_find_segment(struct storage_log *log, int64_t offset);
int log_add_segment(struct storage_log *log, int64_t base_offset, int fd);
int log_put_checkpoint(struct storage_log *log, const struct storage_checkpoint *cp);
void log_free(struct storage_log *log);

/* log_retention.c: removes the log's files and index keys, frees it. */
void log_destroy_now(struct storage_log *log);

/* replica_state.c: the epoch history. note() adds epoch starting at
 * base_offset when it is newer than the last (RILL_ERR_INVALID when it is
 * older: the history would go backwards); persist writes the history to
 * the index. */
int log_epochs_load(struct storage_log *log);
int log_epochs_note(struct storage_log *log, int32_t epoch, int64_t base_offset, bool persist);
void log_epochs_truncate_end(struct storage_log *log, int64_t end_offset, bool persist);
void log_epochs_truncate_start(struct storage_log *log, int64_t start_offset);
void log_epochs_clear(struct storage_log *log);
void log_epochs_persist(struct storage_log *log);

/* log_recovery.c */
int log_recover(struct storage_log *log);

/* store.c */
void store_log_added(struct storage_store *store, const char *dir);
void store_log_removed(struct storage_store *store, const char *dir);
/* Queues removal of a directory tree on the janitor. */
void store_remove_tree(struct storage_store *store, const char *path);

/* fsyncs a directory (after a create, rename or unlink in it). Returns 0
 * or a RILL_ERR_*. */
int store_sync_dir(const char *path);

/* Takes log's directory offline after a failed fsync (rc), and the log
 * with it: once is enough, no later fsync of that directory is trusted. */
void store_dir_failed(struct storage_store *store, const char *dir, int rc);

/* Checks that log may still be used; takes it offline (calling its
 * on_offline) when its directory went offline. Returns 0 or RILL_ERR_IO. */
int log_check_online(struct storage_log *log);

#endif
