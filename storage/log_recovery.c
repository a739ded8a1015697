/* Opening a partition log and recovering it after any kind of stop.
 *
 * The segment files are the truth. The recovery checkpoint in the index says
 * up to where they were fsynced and indexed; from there on every batch is
 * read back, its framing, magic, CRC and offsets checked, and indexed again.
 * The first batch that fails ends the log: the segment is cut there and any
 * later segment is deleted (a torn write after a crash, or corruption). With
 * no usable checkpoint the whole log is scanned and the index rebuilt. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"
#include "storage/log_internal.h"
#include "storage/partition_meta.h"

static int recovery_cmp_segments(const void *a, const void *b)
{
    const struct storage_segment *x = a, *y = b;
    return x->base_offset < y->base_offset ? -1 : x->base_offset > y->base_offset;
}

/* Parses "<20 digits>.log"; returns 0 and the base offset, or -1. */
static int recovery_parse_segment_name(const char *name, int64_t *base)
{
    size_t len = strlen(name);
    if (len != 24 || strcmp(name + 20, ".log") != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        if (v > (INT64_MAX - (name[i] - '0')) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return 0;
}

static int recovery_list_segments(struct storage_log *log)
{
    DIR *d = opendir(log->path);
    if (d == NULL)
        return rill_err_from_errno(errno);
    int rc = RILL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t base;
        if (recovery_parse_segment_name(de->d_name, &base) != 0)
            continue;
        char file[4096];
        segment_file_name(file, sizeof(file), log->path, base);
        struct stat st;
        if (stat(file, &st) != 0) {
            rc = rill_err_from_errno(errno);
            break;
        }
        rc = log_add_segment(log, base, -1);
        if (rc != 0)
            break;
        log->segs[log->nsegs - 1].size_bytes = st.st_size;
    }
    closedir(d);
    if (rc == 0 && log->nsegs > 1)
        qsort(log->segs, log->nsegs, sizeof(*log->segs), recovery_cmp_segments);
    return rc;
}

static int recovery_get_checkpoint(struct storage_log *log, struct storage_checkpoint *cp)
{
    uint8_t v[32];
    int rc = storage_index_get_state(log->store->index, log->log_id, STATE_RECOVERY, 0, v,
                                     sizeof(v));
    if (rc != 0)
        return rc;
    cp->segment_base = (int64_t)be64_load(v);
    cp->position = (int64_t)be64_load(v + 8);
    cp->next_offset = (int64_t)be64_load(v + 16);
    cp->max_timestamp = (int64_t)be64_load(v + 24);
    return RILL_OK;
}

struct max_ts_scan {
    int64_t max_timestamp;
};

static int recovery_max_ts_batch(void *ctx, const struct segment_batch *b)
{
    struct max_ts_scan *s = ctx;
    if (b->max_timestamp > s->max_timestamp)
        s->max_timestamp = b->max_timestamp;
    return 0;
}

/* A closed segment below the checkpoint is trusted; only its largest
 * timestamp is needed (retention by time), from the index or a header scan. */
static int recovery_load_closed(struct storage_log *log, struct storage_segment *seg)
{
    int64_t max_ts;
    int rc = storage_index_get_state(log->store->index, log->log_id, STATE_SEGMENT,
                                     seg->base_offset, &max_ts, sizeof(max_ts));
    if (rc == 0) {
        seg->max_timestamp = max_ts;
        return RILL_OK;
    }
    rc = log_segment_fd(log, seg);
    if (rc != 0)
        return rc;
    struct max_ts_scan s = {.max_timestamp = -1};
    rc = segment_scan(seg->fd, 0, seg->size_bytes, recovery_max_ts_batch, &s, NULL);
    if (rc != 0)
        return rc;
    seg->max_timestamp = s.max_timestamp;
    return storage_index_put_state(log->store->index, log->log_id, STATE_SEGMENT,
                                   seg->base_offset, &s.max_timestamp, sizeof(s.max_timestamp));
}

static void recovery_remove_segment_file(struct storage_log *log, int64_t base)
{
    char file[4096];
    segment_file_name(file, sizeof(file), log->path, base);
    if (unlink(file) != 0 && errno != ENOENT)
        log_error("storage", "%s: cannot remove %s: %s", log->name, file, strerror(errno));
    (void)storage_index_delete_state(log->store->index, log->log_id, STATE_SEGMENT, base);
}

struct recovery_scan {
    int64_t next_offset;
    int64_t max_timestamp;
    int64_t bytes_since_index;
    int64_t time_indexed_max;
    int64_t batches;
};

/* Reads, checks and indexes every batch of seg from position; returns the
 * position of the first bad byte (== size when all is well). */
static int recovery_scan_segment(struct storage_log *log, struct storage_segment *seg,
                                 int64_t position, struct recovery_scan *rs, int64_t *good_end)
{
    struct storage_index *idx = log->store->index;
    uint8_t *buf = NULL;
    size_t buf_cap = 0;
    int rc = RILL_OK;
    seg->max_timestamp = -1;
    while (position < seg->size_bytes) {
        uint8_t head[RB_HEADER_BYTES];
        if (seg->size_bytes - position < RB_HEADER_BYTES)
            break;
        rc = segment_pread(seg->fd, head, sizeof(head), position);
        if (rc != 0)
            break;
        int64_t size = record_batch_total_size(head, sizeof(head));
        if (size < RB_HEADER_BYTES || size > seg->size_bytes - position)
            break;
        if ((size_t)size > buf_cap) {
            uint8_t *nb = realloc(buf, (size_t)size);
            if (nb == NULL) {
                rc = RILL_ERR_NOMEM;
                break;
            }
            buf = nb;
            buf_cap = (size_t)size;
        }
        rc = segment_pread(seg->fd, buf, (size_t)size, position);
        if (rc != 0)
            break;
        if (record_batch_check_crc(buf, (size_t)size) != RB_OK)
            break;
        struct record_batch_header h;
        record_batch_header_read(buf, &h);
        if (h.base_offset != rs->next_offset || h.last_offset_delta < 0)
            break; /* offsets must continue exactly where the log was */

        if (position == 0 || rs->bytes_since_index >= log->cfg.index_interval_bytes) {
            rc = storage_index_put_offset(idx, log->log_id, h.base_offset, seg->base_offset,
                                          (uint32_t)position);
            if (rc != 0)
                break;
            int64_t max_ts = h.max_timestamp > rs->max_timestamp ? h.max_timestamp
                                                                 : rs->max_timestamp;
            if (max_ts > rs->time_indexed_max) {
                rc = storage_index_put_time(idx, log->log_id, max_ts, h.base_offset);
                if (rc != 0)
                    break;
                rs->time_indexed_max = max_ts;
            }
            rs->bytes_since_index = 0;
        }
        rs->bytes_since_index += size;
        if (h.max_timestamp > rs->max_timestamp)
            rs->max_timestamp = h.max_timestamp;
        if (h.max_timestamp > seg->max_timestamp)
            seg->max_timestamp = h.max_timestamp;
        rc = log_epochs_note(log, h.partition_leader_epoch, h.base_offset, false);
        if (rc == RILL_ERR_INVALID) {
            rc = RILL_OK;
            break; /* an epoch going backwards is not this log's history */
        }
        if (rc != 0)
            break;
        rs->next_offset = h.base_offset + h.last_offset_delta + 1;
        rs->batches++;
        position += size;
    }
    free(buf);
    *good_end = position;
    return rc;
}

int log_recover(struct storage_log *log)
{
    struct storage_index *idx = log->store->index;
    struct storage_checkpoint cp;
    size_t start = 0;
    int64_t start_pos = 0;
    struct recovery_scan rs = {.next_offset = log->segs[0].base_offset,
                               .max_timestamp = -1,
                               .time_indexed_max = -1};
    int rc = recovery_get_checkpoint(log, &cp);
    bool usable = false;
    if (rc == 0) {
        for (size_t i = 0; i < log->nsegs; i++) {
            if (log->segs[i].base_offset == cp.segment_base &&
                cp.position <= log->segs[i].size_bytes && cp.next_offset >= cp.segment_base) {
                start = i;
                start_pos = cp.position;
                usable = true;
            }
        }
    }
    if (usable) {
        rs.next_offset = cp.next_offset;
        rs.max_timestamp = cp.max_timestamp;
        rs.time_indexed_max = cp.max_timestamp;
        /* The first batch scanned gets an index entry of its own. */
        rs.bytes_since_index = log->cfg.index_interval_bytes;
    } else if (rc != RILL_ERR_NOT_FOUND || log->segs[0].size_bytes > 0 || log->nsegs > 1) {
        log_warn("storage", "%s: no usable recovery checkpoint, rebuilding the index", log->name);
    }
    rc = storage_index_truncate(idx, log->log_id, usable ? rs.next_offset : 0);
    if (rc != 0)
        return rc;
    /* The epoch history is trusted below the checkpoint only; the batches
     * re-checked after it re-derive the rest. */
    rc = log_epochs_load(log);
    if (rc != 0)
        return rc;
    log_epochs_truncate_end(log, usable ? rs.next_offset : 0, false);

    for (size_t i = 0; i < start; i++) {
        rc = recovery_load_closed(log, &log->segs[i]);
        if (rc != 0)
            return rc;
        if (log->segs[i].max_timestamp > rs.max_timestamp)
            rs.max_timestamp = log->segs[i].max_timestamp;
    }

    int64_t scanned_from = rs.next_offset;
    size_t i = start;
    for (; i < log->nsegs; i++) {
        struct storage_segment *seg = &log->segs[i];
        rc = log_segment_fd(log, seg);
        if (rc != 0)
            return rc;
        if (i > start) {
            start_pos = 0;
            if (seg->base_offset != rs.next_offset) {
                log_warn("storage", "%s: segment %lld does not continue offset %lld",
                         log->name, (long long)seg->base_offset, (long long)rs.next_offset);
                break;
            }
        }
        int64_t good_end;
        rc = recovery_scan_segment(log, seg, start_pos, &rs, &good_end);
        if (rc != 0)
            return rc;
        bool cut = good_end < seg->size_bytes;
        if (cut) {
            log_warn("storage", "%s: cutting segment %lld at byte %lld of %lld (torn or "
                     "corrupt tail)", log->name, (long long)seg->base_offset,
                     (long long)good_end, (long long)seg->size_bytes);
            if (ftruncate(seg->fd, (off_t)good_end) != 0)
                return rill_err_from_errno(errno);
            seg->size_bytes = good_end;
        }
        /* What recovery accepts past the checkpoint may sit only in the
         * page cache (the process was killed, the machine was not): it is
         * made durable before the checkpoint below calls it so, closed
         * segments included. */
        if (fdatasync(seg->fd) != 0)
            return rill_err_from_errno(errno);
        if (cut) {
            i++;
            break;
        }
        if (i + 1 < log->nsegs) {
            int64_t max_ts = seg->max_timestamp;
            rc = storage_index_put_state(idx, log->log_id, STATE_SEGMENT, seg->base_offset,
                                         &max_ts, sizeof(max_ts));
            if (rc != 0)
                return rc;
        }
    }
    /* Everything after the cut point is gone, durably (the directory is
     * fsynced below once the files are unlinked). */
    bool removed = log->nsegs > i;
    while (log->nsegs > i) {
        struct storage_segment *seg = &log->segs[log->nsegs - 1];
        log_warn("storage", "%s: deleting segment %lld after the cut", log->name,
                 (long long)seg->base_offset);
        if (seg->fd >= 0)
            close(seg->fd);
        recovery_remove_segment_file(log, seg->base_offset);
        log->nsegs--;
    }
    if (removed) {
        rc = store_sync_dir(log->path);
        if (rc != 0)
            return rc;
    }
    /* An empty log keeps one (empty) active segment. */
    if (log->nsegs == 0) {
        int fd;
        rc = segment_open(log->path, rs.next_offset, true, &fd);
        if (rc == 0)
            rc = log_add_segment(log, rs.next_offset, fd);
        if (rc != 0)
            return rc;
    }
    rc = storage_index_truncate(idx, log->log_id, rs.next_offset);
    if (rc != 0)
        return rc;
    log_epochs_truncate_end(log, rs.next_offset, false);
    log_epochs_persist(log); /* what recovery settled */

    struct storage_segment *active = &log->segs[log->nsegs - 1];
    rc = log_segment_fd(log, active);
    if (rc != 0)
        return rc;
    /* What was scanned may sit only in the page cache (the process was
     * killed): make it durable before calling it durable. */
    if (fdatasync(active->fd) != 0)
        return rill_err_from_errno(errno);

    log->log_end_offset = rs.next_offset;
    log->durable_offset = rs.next_offset;
    log->max_timestamp = rs.max_timestamp;
    log->time_indexed_max = rs.time_indexed_max;
    log->bytes_since_index = rs.bytes_since_index;
    active->first_append_ms = active->size_bytes > 0 ? active->max_timestamp : -1;

    struct storage_checkpoint done = {
        .segment_base = active->base_offset,
        .position = active->size_bytes,
        .next_offset = rs.next_offset,
        .max_timestamp = rs.max_timestamp,
    };
    rc = log_put_checkpoint(log, &done);
    if (rc != 0)
        return rc;
    if (rs.batches > 0)
        log_info("storage", "%s: recovered %lld batches, offsets %lld..%lld", log->name,
                 (long long)rs.batches, (long long)scanned_from, (long long)rs.next_offset);
    return RILL_OK;
}

/* Makes sure the directory belongs to topic_id (partition_meta.h). */
static int recovery_check_topic_id(struct storage_log *log, const uint8_t *topic_id, bool created)
{
    uint8_t found[STORAGE_TOPIC_ID_BYTES];
    int rc = created ? RILL_ERR_NOT_FOUND : storage_partition_meta_read(log->path, found);
    if (rc == RILL_ERR_NOT_FOUND) {
        if (!created)
            log_info("storage", "%s: no %s yet; recording its topic id", log->name,
                     STORAGE_PARTITION_META_FILE);
        rc = storage_partition_meta_write(log->path, topic_id);
        if (rc != 0)
            log_error("storage", "%s: cannot write %s: %s", log->name,
                      STORAGE_PARTITION_META_FILE, rill_strerror(rc));
        return rc;
    }
    if (rc != 0) {
        log_error("storage", "%s: cannot read %s: %s", log->name, STORAGE_PARTITION_META_FILE,
                  rill_strerror(rc));
        return rc;
    }
    if (memcmp(found, topic_id, STORAGE_TOPIC_ID_BYTES) != 0) {
        char want[23], have[23];
        storage_topic_id_format(topic_id, want);
        storage_topic_id_format(found, have);
        log_error("storage",
                  "%s holds topic id %s, not %s: it belongs to another topic of the same name "
                  "and is not reused",
                  log->path, have, want);
        return RILL_ERR_MISMATCH;
    }
    return RILL_OK;
}

int storage_log_open(struct storage_store *store, const char *dir, const char *name,
                     const uint8_t *topic_id, const struct storage_log_config *cfg,
                     storage_durable_fn on_durable, void *ctx, struct storage_log **out)
{
    struct storage_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return RILL_ERR_NOMEM;
    log->store = store;
    log->cfg = *cfg;
    log->on_durable = on_durable;
    log->ctx = ctx;
    log->name = strdup(name);
    log->dir = strdup(dir);
    size_t plen = strlen(dir) + strlen(name) + 2;
    log->path = malloc(plen);
    int rc = RILL_ERR_NOMEM;
    if (log->name == NULL || log->dir == NULL || log->path == NULL)
        goto fail;
    snprintf(log->path, plen, "%s/%s", dir, name);

    bool created = false;
    if (mkdir(log->path, 0755) == 0) {
        created = true;
    } else if (errno != EEXIST) {
        rc = rill_err_from_errno(errno);
        log_error("storage", "cannot create %s: %s", log->path, strerror(errno));
        goto fail;
    }
    if (topic_id != NULL) {
        rc = recovery_check_topic_id(log, topic_id, created);
        if (rc != 0)
            goto fail;
    }
    rc = storage_index_log_id(store->index, name, 1, &log->log_id);
    if (rc != 0)
        goto fail;
    rc = recovery_list_segments(log);
    if (rc != 0)
        goto fail;

    int64_t start = -1;
    if (storage_index_get_state(store->index, log->log_id, STATE_LOG_START, 0, &start,
                                sizeof(start)) != 0)
        start = -1;
    if (log->nsegs == 0) {
        int fd;
        int64_t base = start > 0 ? start : 0;
        rc = segment_open(log->path, base, true, &fd);
        if (rc != 0)
            goto fail;
        rc = log_add_segment(log, base, fd);
        if (rc != 0) {
            close(fd);
            goto fail;
        }
        log->dir_dirty = true;
    }
    rc = log_recover(log);
    if (rc != 0)
        goto fail;
    if (start < log->segs[0].base_offset)
        start = log->segs[0].base_offset;
    if (start > log->log_end_offset)
        start = log->log_end_offset;
    log->log_start_offset = start;
    log_epochs_truncate_start(log, start);
    if (created) {
        /* Make the new directory itself durable. */
        rc = store_sync_dir(dir);
        if (rc != 0)
            goto fail;
    }
    store_log_added(store, dir);
    *out = log;
    return RILL_OK;

fail:
    log_error("storage", "cannot open log %s in %s: %s", name, dir, rill_strerror(rc));
    log_free(log);
    return rc;
}
