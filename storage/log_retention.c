/* Removing data from a partition log: truncation (replication cuts a
 * divergent suffix), retention (whole closed segments older than
 * retention.ms or beyond retention.bytes) and deleting the whole log.
 * Files are renamed or unlinked here; the slow part (freeing the blocks of a
 * large file) runs on the store's janitor thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rill_error.h"
#include "storage/log_internal.h"

static int retention_put_log_start(struct storage_log *log)
{
    int64_t start = log->log_start_offset;
    return storage_index_put_state(log->store->index, log->log_id, STATE_LOG_START, 0, &start,
                                   sizeof(start));
}

/* Drops segment file base: renamed out of the way now (so a restart never
 * sees it), its blocks freed by the janitor. */
static void retention_drop_file(struct storage_log *log, int64_t base)
{
    char file[4096], doomed[4200];
    segment_file_name(file, sizeof(file), log->path, base);
    snprintf(doomed, sizeof(doomed), "%s.deleted", file);
    if (rename(file, doomed) != 0) {
        log_error("storage", "%s: cannot rename %s: %s", log->name, file, strerror(errno));
        return;
    }
    store_remove_tree(log->store, doomed);
    (void)storage_index_delete_state(log->store->index, log->log_id, STATE_SEGMENT, base);
}

struct truncate_scan {
    int64_t offset;
    int64_t cut_position;
    int64_t new_end;
    int64_t max_timestamp;
};

static int truncate_scan_batch(void *ctx, const struct segment_batch *b)
{
    struct truncate_scan *ts = ctx;
    if (b->last_offset >= ts->offset) {
        ts->cut_position = b->position;
        ts->new_end = b->base_offset;
        return 1;
    }
    ts->new_end = b->last_offset + 1;
    if (b->max_timestamp > ts->max_timestamp)
        ts->max_timestamp = b->max_timestamp;
    return 0;
}

/* Drops every segment and starts the log over, empty, at base. */
static int retention_start_over(struct storage_log *log, int64_t base)
{
    int fd;
    while (log->nsegs > 0) {
        struct storage_segment *seg = &log->segs[--log->nsegs];
        if (seg->fd >= 0)
            close(seg->fd);
        retention_drop_file(log, seg->base_offset);
    }
    int rc = segment_open(log->path, base, true, &fd);
    if (rc == 0)
        rc = log_add_segment(log, base, fd);
    if (rc != 0)
        return rc;
    log->dir_dirty = true;
    log->log_start_offset = base;
    log->log_end_offset = base;
    log_epochs_clear(log);
    log->max_timestamp = -1;
    log->time_indexed_max = -1;
    return retention_put_log_start(log);
}

static int retention_after_cut(struct storage_log *log);

int storage_log_reset(struct storage_log *log, int64_t offset)
{
    if (offset < 0)
        return RILL_ERR_INVALID;
    int rc = retention_start_over(log, offset);
    return rc != 0 ? rc : retention_after_cut(log);
}

int storage_log_truncate(struct storage_log *log, int64_t offset)
{
    if (offset >= log->log_end_offset)
        return RILL_OK;
    int rc;
    if (offset <= log->segs[0].base_offset) {
        /* Nothing survives: start over empty at offset. */
        rc = retention_start_over(log, offset > 0 ? offset : 0);
    } else {
        struct storage_segment *seg = log_find_segment(log, offset);
        rc = log_segment_fd(log, seg);
        if (rc != 0)
            return rc;
        struct truncate_scan ts = {.offset = offset, .cut_position = seg->size_bytes,
                                   .new_end = seg->base_offset, .max_timestamp = -1};
        /* Seek from the offset index instead of reading the segment from
         * byte 0; the kept part's largest timestamp is then bounded by
         * the segment's (an upper bound only delays time retention). */
        int64_t from = 0, entry, entry_seg;
        uint32_t entry_pos;
        if (storage_index_find_offset(log->store->index, log->log_id, offset, &entry, &entry_seg,
                                      &entry_pos) == 0 &&
            entry_seg == seg->base_offset && (int64_t)entry_pos <= seg->size_bytes &&
            entry_pos > 0) {
            from = entry_pos;
            ts.new_end = entry;
            ts.max_timestamp = seg->max_timestamp;
        }
        rc = segment_scan(seg->fd, from, seg->size_bytes, truncate_scan_batch, &ts, NULL);
        if (rc < 0)
            return rc;
        rc = RILL_OK;
        size_t keep = (size_t)(seg - log->segs) + 1;
        while (log->nsegs > keep) {
            struct storage_segment *later = &log->segs[--log->nsegs];
            if (later->fd >= 0)
                close(later->fd);
            retention_drop_file(log, later->base_offset);
        }
        if (ftruncate(seg->fd, (off_t)ts.cut_position) != 0)
            return rill_err_from_errno(errno);
        seg->size_bytes = ts.cut_position;
        seg->max_timestamp = ts.max_timestamp;
        log->log_end_offset = ts.new_end;
        log_epochs_truncate_end(log, ts.new_end, true);
        log->max_timestamp = -1;
        for (size_t i = 0; i < log->nsegs; i++)
            if (log->segs[i].max_timestamp > log->max_timestamp)
                log->max_timestamp = log->segs[i].max_timestamp;
        if (log->time_indexed_max > log->max_timestamp)
            log->time_indexed_max = log->max_timestamp;
    }
    if (rc != 0)
        return rc;
    return retention_after_cut(log);
}

/* After a truncation or a reset: what the log held durably before no
 * longer counts past its new end, the index forgets what was cut, and an
 * fsync makes the cut itself durable. */
static int retention_after_cut(struct storage_log *log)
{
    struct storage_index *idx = log->store->index;
    int rc;
    /* A flush in flight carries a checkpoint from before the cut; bumping
     * the generation makes its completion ignore it. The cut itself becomes
     * durable with the next fsync, which is started right away. */
    log->generation++;
    bool all_durable = log->durable_offset >= log->log_end_offset;
    if (log->durable_offset > log->log_end_offset)
        log->durable_offset = log->log_end_offset;
    log->bytes_since_index = log->cfg.index_interval_bytes;
    log->sync_needed = true;
    rc = storage_index_truncate(idx, log->log_id, log->log_end_offset);
    if (rc == 0 && all_durable) {
        struct storage_segment *active = &log->segs[log->nsegs - 1];
        struct storage_checkpoint cp = {
            .segment_base = active->base_offset,
            .position = active->size_bytes,
            .next_offset = log->log_end_offset,
            .max_timestamp = log->max_timestamp,
        };
        rc = log_put_checkpoint(log, &cp);
    }
    storage_log_flush(log);
    return rc;
}

/* Drops the oldest segment (never the active one, never past what is
 * durable) and moves the log start offset to the next segment. */
static int retention_drop_oldest(struct storage_log *log, const char *why)
{
    struct storage_segment *seg = &log->segs[0];
    int64_t next_base = log->segs[1].base_offset;
    log_info("storage", "%s: deleting segment %lld (%s)", log->name, (long long)seg->base_offset,
             why);
    if (next_base > log->log_start_offset)
        log->log_start_offset = next_base;
    log_epochs_truncate_start(log, log->log_start_offset);
    int rc = retention_put_log_start(log);
    if (rc == 0)
        rc = storage_index_drop_below(log->store->index, log->log_id, next_base);
    if (rc != 0)
        return rc;
    if (seg->fd >= 0)
        close(seg->fd);
    retention_drop_file(log, seg->base_offset);
    memmove(&log->segs[0], &log->segs[1], (log->nsegs - 1) * sizeof(*log->segs));
    log->nsegs--;
    return RILL_OK;
}

int storage_log_apply_retention(struct storage_log *log, int64_t now_ms)
{
    int deleted = 0;
    int64_t total = storage_log_size_bytes(log);
    while (log->nsegs > 1) {
        struct storage_segment *seg = &log->segs[0];
        if (log->segs[1].base_offset > log->durable_offset)
            break; /* never drop below what is durable */
        bool by_time = log->cfg.retention_ms >= 0 && seg->max_timestamp >= 0 &&
                       now_ms - seg->max_timestamp > log->cfg.retention_ms;
        bool by_size = log->cfg.retention_bytes >= 0 &&
                       total - seg->size_bytes >= log->cfg.retention_bytes;
        if (!by_time && !by_size)
            break;
        total -= seg->size_bytes;
        int rc = retention_drop_oldest(log, by_time ? "retention.ms" : "retention.bytes");
        if (rc != 0)
            return rc;
        deleted++;
    }
    return deleted;
}

int storage_log_drop_segments_below(struct storage_log *log, int64_t offset)
{
    int deleted = 0;
    while (log->nsegs > 1 && log->segs[1].base_offset <= offset &&
           log->segs[1].base_offset <= log->durable_offset) {
        int rc = retention_drop_oldest(log, "superseded");
        if (rc != 0)
            return rc;
        deleted++;
    }
    return deleted;
}

void log_destroy_now(struct storage_log *log)
{
    store_remove_tree(log->store, log->path);
    log_free(log);
}

int storage_log_destroy(struct storage_log *log)
{
    log->on_durable = NULL;
    char doomed[4200];
    snprintf(doomed, sizeof(doomed), "%s.%llu-delete", log->path,
             (unsigned long long)log->log_id);
    int rc = RILL_OK;
    if (rename(log->path, doomed) != 0) {
        rc = rill_err_from_errno(errno);
        log_error("storage", "%s: cannot rename for deletion: %s", log->name, strerror(errno));
    } else {
        /* Durable, so that a power cut cannot bring the directory back
         * under its old name. */
        rc = store_sync_dir(log->dir);
        char *path = strdup(doomed);
        if (path != NULL) {
            free(log->path);
            log->path = path;
        }
    }
    int irc = storage_index_log_forget(log->store->index, log->name, log->log_id);
    if (rc == 0)
        rc = irc;
    store_log_removed(log->store, log->dir);
    if (log->flush_inflight) {
        log->destroyed = true; /* finished by the flush job's completion */
        return rc;
    }
    log_destroy_now(log);
    return rc;
}
