/* Partition log: append, roll, read, time lookup and group-commit flushing.
 * Opening and recovery live in log_recovery.c; truncation, retention and
 * deletion in log_retention.c. Invariants: see storage/log.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/checked.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/compression.h"
#include "proto/kafka_wire.h"
#include "proto/record_iter.h"
#include "storage/log_internal.h"

const char *storage_log_name(const struct storage_log *log)
{
    return log->name;
}

int64_t storage_log_start_offset(const struct storage_log *log)
{
    return log->log_start_offset;
}

int64_t storage_log_end_offset(const struct storage_log *log)
{
    return log->log_end_offset;
}

int64_t storage_log_durable_offset(const struct storage_log *log)
{
    return log->durable_offset;
}

size_t storage_log_segment_count(const struct storage_log *log)
{
    return log->nsegs;
}

int64_t storage_log_size_bytes(const struct storage_log *log)
{
    int64_t total = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        total += log->segs[i].size_bytes;
    return total;
}

void storage_log_set_config(struct storage_log *log, const struct storage_log_config *cfg)
{
    log->cfg = *cfg;
}

bool storage_log_flushing(const struct storage_log *log)
{
    return log->flush_inflight;
}

bool storage_log_dirty(const struct storage_log *log)
{
    return log->durable_offset < log->log_end_offset || log->npending_fds > 0 || log->dir_dirty ||
           log->sync_needed;
}

int log_segment_fd(struct storage_log *log, struct storage_segment *seg)
{
    if (seg->fd < 0) {
        int rc = segment_open(log->path, seg->base_offset, false, &seg->fd);
        if (rc != 0) {
            log_error("storage", "%s: cannot open segment %lld: %s", log->name,
                      (long long)seg->base_offset, rill_strerror(rc));
            return rc;
        }
    }
    return RILL_OK;
}

struct storage_segment *log_find_segment(struct storage_log *log, int64_t offset)
{
    /* The last segment whose base offset is <= offset. */
    size_t lo = 0, hi = log->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid].base_offset <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return log->nsegs > 0 ? &log->segs[lo] : NULL;
}

int log_add_segment(struct storage_log *log, int64_t base_offset, int fd)
{
    if (log->nsegs == log->segs_cap) {
        size_t cap = log->segs_cap ? log->segs_cap * 2 : 4;
        struct storage_segment *segs = realloc(log->segs, cap * sizeof(*segs));
        if (segs == NULL)
            return RILL_ERR_NOMEM;
        log->segs = segs;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs++] = (struct storage_segment){
        .base_offset = base_offset,
        .size_bytes = 0,
        .max_timestamp = -1,
        .first_append_ms = -1,
        .fd = fd,
    };
    return RILL_OK;
}

int log_put_checkpoint(struct storage_log *log, const struct storage_checkpoint *cp)
{
    uint8_t v[32];
    be64_store(v, (uint64_t)cp->segment_base);
    be64_store(v + 8, (uint64_t)cp->position);
    be64_store(v + 16, (uint64_t)cp->next_offset);
    be64_store(v + 24, (uint64_t)cp->max_timestamp);
    return storage_index_put_state(log->store->index, log->log_id, STATE_RECOVERY, 0, v,
                                   sizeof(v));
}

void log_free(struct storage_log *log)
{
    if (log == NULL)
        return;
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i].fd >= 0)
            close(log->segs[i].fd);
    for (int i = 0; i < log->npending_fds; i++)
        close(log->pending_fds[i]);
    free(log->pending_fds);
    free(log->epochs);
    free(log->segs);
    free(log->name);
    free(log->dir);
    free(log->path);
    free(log);
}

/* ---- append ------------------------------------------------------------ */

static int log_pending_fd_add(struct storage_log *log, int fd)
{
    if (log->npending_fds == log->pending_fds_cap) {
        int cap = log->pending_fds_cap ? log->pending_fds_cap * 2 : 4;
        int *fds = realloc(log->pending_fds, (size_t)cap * sizeof(*fds));
        if (fds == NULL)
            return RILL_ERR_NOMEM;
        log->pending_fds = fds;
        log->pending_fds_cap = cap;
    }
    log->pending_fds[log->npending_fds++] = fd;
    return RILL_OK;
}

static int log_roll(struct storage_log *log)
{
    struct storage_segment *old = &log->segs[log->nsegs - 1];
    int64_t max_ts = old->max_timestamp;
    int rc = storage_index_put_state(log->store->index, log->log_id, STATE_SEGMENT,
                                     old->base_offset, &max_ts, sizeof(max_ts));
    if (rc != 0)
        return rc;
    /* The closed segment still needs its fsync; the flush job takes a
     * duplicate so the segment can be read (or deleted) meanwhile. */
    int dup_fd = dup(old->fd);
    if (dup_fd < 0)
        return rill_err_from_errno(errno);
    rc = log_pending_fd_add(log, dup_fd);
    if (rc != 0) {
        close(dup_fd);
        return rc;
    }
    int fd;
    rc = segment_open(log->path, log->log_end_offset, true, &fd);
    if (rc != 0)
        return rc;
    rc = log_add_segment(log, log->log_end_offset, fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    log->dir_dirty = true;
    log->bytes_since_index = 0;
    log_debug("storage", "%s: rolled to segment %lld", log->name, (long long)log->log_end_offset);
    /* Kafka flushes a segment when it rolls; so do we, whatever the policy. */
    storage_log_flush(log);
    return RILL_OK;
}

static int log_write_all(int fd, const uint8_t *buf, size_t len, int64_t position)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(position + (int64_t)done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rill_err_from_errno(errno);
        }
        done += (size_t)n;
    }
    return RILL_OK;
}

int log_check_online(struct storage_log *log)
{
    if (!log->offline && !storage_store_dir_offline(log->store, log->dir))
        return RILL_OK;
    if (!log->offline) {
        log->offline = true;
        log_error("storage", "%s: offline with its log directory %s", log->name, log->dir);
        if (log->on_offline != NULL)
            log->on_offline(log, log->ctx);
    }
    return RILL_ERR_IO;
}

void storage_log_on_offline(struct storage_log *log, storage_offline_fn fn)
{
    log->on_offline = fn;
}

bool storage_log_offline(const struct storage_log *log)
{
    return log->offline;
}

/* Rolls the active segment when the next len bytes do not fit or it is
 * too old; returns the segment to append to, or NULL (rc set). */
static struct storage_segment *log_active_for(struct storage_log *log, size_t len,
                                              int64_t now_ms, int *rc)
{
    struct storage_segment *active = &log->segs[log->nsegs - 1];
    bool full = active->size_bytes + (int64_t)len > log->cfg.segment_bytes;
    bool old = log->cfg.segment_ms > 0 && active->first_append_ms >= 0 &&
               now_ms - active->first_append_ms >= log->cfg.segment_ms;
    *rc = RILL_OK;
    if (active->size_bytes > 0 && (full || old)) {
        *rc = log_roll(log);
        if (*rc != 0) {
            log_error("storage", "%s: cannot roll segment: %s", log->name, rill_strerror(*rc));
            return NULL;
        }
        active = &log->segs[log->nsegs - 1];
    }
    return active;
}

/* Writes one checked batch whose base offset is the log end, as it is, to
 * the end of the log, and indexes it. */
static int log_write_batch(struct storage_log *log, const uint8_t *batch, size_t len,
                           const struct record_batch_info *info, int64_t now_ms)
{
    int rc;
    struct storage_segment *active = log_active_for(log, len, now_ms, &rc);
    if (active == NULL)
        return rc;
    int64_t base = log->log_end_offset;
    int64_t position = active->size_bytes;
    ASSERT(info->last_offset_delta >= 0 && info->records_count > 0);
    rc = log_write_all(active->fd, batch, len, position);
    if (rc != 0) {
        /* Cut whatever part of the batch reached the file: a partial batch
         * must never sit in the middle of a segment. */
        if (ftruncate(active->fd, (off_t)position) != 0)
            log_error("storage", "%s: cannot cut a failed write: %s", log->name,
                      strerror(errno));
        log_error("storage", "%s: append of %zu bytes failed: %s", log->name, len,
                  rill_strerror(rc));
        return rc;
    }
    active->size_bytes += (int64_t)len;
    if (active->first_append_ms < 0)
        active->first_append_ms = now_ms;
    if (info->max_timestamp > active->max_timestamp)
        active->max_timestamp = info->max_timestamp;
    if (info->max_timestamp > log->max_timestamp)
        log->max_timestamp = info->max_timestamp;

    /* Sparse index: the first batch of each segment, then one entry per
     * index.interval.bytes, like Kafka's .index and .timeindex. */
    if (position == 0 || log->bytes_since_index >= log->cfg.index_interval_bytes) {
        struct storage_index *idx = log->store->index;
        if (storage_index_put_offset(idx, log->log_id, base, active->base_offset,
                                     (uint32_t)position) != 0)
            log_warn("storage", "%s: offset index entry for %lld lost", log->name,
                     (long long)base);
        if (log->max_timestamp > log->time_indexed_max) {
            if (storage_index_put_time(idx, log->log_id, log->max_timestamp, base) == 0)
                log->time_indexed_max = log->max_timestamp;
        }
        log->bytes_since_index = 0;
    }
    log->bytes_since_index += (int64_t)len;
    /* Callers checked the epoch: the history cannot go backwards here. */
    if (log_epochs_note(log, (int32_t)be32_load(batch + RB_LEADER_EPOCH), base, true) != 0)
        log_warn("storage", "%s: leader epoch at %lld not recorded", log->name, (long long)base);
    int64_t end = base + info->last_offset_delta + 1;
    ASSERT(end > log->log_end_offset); /* offsets never go backwards */
    log->log_end_offset = end;
    log->unflushed_messages += info->records_count;
    return RILL_OK;
}

int storage_log_append(struct storage_log *log, uint8_t *batch, size_t len,
                       int32_t leader_epoch, const struct record_batch_info *info,
                       int64_t now_ms, int64_t *base_offset)
{
    if (log_check_online(log) != 0)
        return RILL_ERR_IO;
    if (leader_epoch < storage_log_latest_epoch(log))
        return RILL_ERR_INVALID; /* a deposed leader's epoch */
    int64_t base = log->log_end_offset;
    record_batch_stamp(batch, base, leader_epoch);
    /* Stamping touches only bytes outside the CRC: a batch the broker
     * stamped must still check, or what goes to disk is not what the
     * producer sent. */
    ASSERT(record_batch_check_crc(batch, len) == RB_OK);
    int rc = log_write_batch(log, batch, len, info, now_ms);
    if (rc == 0)
        *base_offset = base;
    return rc;
}

int storage_log_append_replica(struct storage_log *log, const uint8_t *batches, size_t len,
                               int64_t now_ms, size_t *appended)
{
    *appended = 0;
    if (log_check_online(log) != 0)
        return RILL_ERR_IO;
    size_t pos = 0;
    while (len - pos >= RB_HEADER_BYTES) {
        int64_t size = record_batch_total_size(batches + pos, len - pos);
        if (size < RB_HEADER_BYTES)
            return RILL_ERR_CORRUPT;
        if ((size_t)size > len - pos)
            break; /* a partial trailing batch (the fetch's byte limit cut it) */
        const uint8_t *batch = batches + pos;
        struct record_batch_info info;
        if (record_batch_validate(batch, (size_t)size, &info) != RB_OK)
            return RILL_ERR_CORRUPT;
        struct record_batch_header h;
        record_batch_header_read(batch, &h);
        if (h.base_offset != log->log_end_offset)
            return RILL_ERR_INVALID; /* a gap or an overlap: the fetch is not ours */
        if (h.partition_leader_epoch < storage_log_latest_epoch(log))
            return RILL_ERR_INVALID; /* the leader's history cannot go backwards */
        int rc = log_write_batch(log, batch, (size_t)size, &info, now_ms);
        if (rc != 0)
            return rc;
        pos += (size_t)size;
        *appended = pos;
    }
    return RILL_OK;
}

/* ---- flushing ---------------------------------------------------------- */

struct flush_job {
    struct storage_job job;
    struct storage_log *log;
    int *fds;     /* owned duplicates: closed segments first, active last */
    int nfds;
    int dir_fd;   /* owned, or -1 */
    struct storage_checkpoint cp;
    uint64_t generation;
};

static int flush_job_run(struct storage_job *job)
{
    struct flush_job *fj = (struct flush_job *)job;
    int rc = RILL_OK;
    for (int i = 0; i < fj->nfds; i++) {
        if (rc == 0 && fdatasync(fj->fds[i]) != 0)
            rc = rill_err_from_errno(errno);
        close(fj->fds[i]);
    }
    if (fj->dir_fd >= 0) {
        if (rc == 0 && fsync(fj->dir_fd) != 0)
            rc = rill_err_from_errno(errno);
        close(fj->dir_fd);
    }
    return rc;
}

static void flush_job_done(struct storage_job *job)
{
    struct flush_job *fj = (struct flush_job *)job;
    struct storage_log *log = fj->log;
    int rc = job->result;
    struct storage_checkpoint cp = fj->cp;
    bool stale = fj->generation != log->generation;
    free(fj->fds);
    free(fj);

    log->flush_inflight = false;
    if (log->destroyed) {
        log_destroy_now(log);
        return;
    }
    if (rc != 0) {
        /* Never retried: after a failed fsync Linux may have dropped the
         * pages it was writing, and the next fsync would report success
         * for data that is gone. The directory goes offline. */
        log_error("storage", "%s: fsync failed: %s", log->name, rill_strerror(rc));
        store_dir_failed(log->store, log->dir, rc);
        (void)log_check_online(log);
    } else if (!stale) {
        if (log_put_checkpoint(log, &cp) != 0)
            log_warn("storage", "%s: recovery checkpoint not written", log->name);
        /* Reported even when the offset stays (a truncation's fsync):
         * whoever waits for the log to settle learns it has. */
        if (cp.next_offset >= log->durable_offset) {
            log->durable_offset = cp.next_offset;
            if (log->on_durable != NULL)
                log->on_durable(log, log->durable_offset, log->ctx);
        }
    }
    if (log->closing) {
        if (rc == 0 && storage_log_dirty(log))
            storage_log_flush(log);
        if (!log->flush_inflight)
            log_free(log);
        return;
    }
    if (rc == 0 && storage_log_dirty(log) &&
        (log->cfg.flush_policy == FLUSH_ALWAYS || log->sync_needed || stale))
        storage_log_flush(log);
}

void storage_log_flush(struct storage_log *log)
{
    if (log->flush_inflight || !storage_log_dirty(log) || log_check_online(log) != 0)
        return;
    struct flush_job *fj = calloc(1, sizeof(*fj));
    if (fj == NULL)
        return; /* retried on the next flush */
    struct storage_segment *active = &log->segs[log->nsegs - 1];
    fj->fds = malloc((size_t)(log->npending_fds + 1) * sizeof(int));
    int active_dup = dup(active->fd);
    if (fj->fds == NULL || active_dup < 0) {
        if (active_dup >= 0)
            close(active_dup);
        free(fj->fds);
        free(fj);
        return;
    }
    fj->dir_fd = -1;
    if (log->dir_dirty) {
        fj->dir_fd = open(log->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        log->dir_dirty = false;
    }
    for (int i = 0; i < log->npending_fds; i++)
        fj->fds[fj->nfds++] = log->pending_fds[i];
    log->npending_fds = 0;
    fj->fds[fj->nfds++] = active_dup;
    fj->log = log;
    fj->cp = (struct storage_checkpoint){
        .segment_base = active->base_offset,
        .position = active->size_bytes,
        .next_offset = log->log_end_offset,
        .max_timestamp = log->max_timestamp,
    };
    fj->generation = log->generation;
    log->sync_needed = false;
    fj->job.run = flush_job_run;
    fj->job.done = flush_job_done;
    log->flush_inflight = true;
    log->unflushed_messages = 0;
    storage_worker_submit(log->store->flusher, &fj->job);
}

void storage_log_maybe_flush(struct storage_log *log, int64_t now_ms)
{
    if (log->flush_inflight || !storage_log_dirty(log))
        return;
    switch (log->cfg.flush_policy) {
    case FLUSH_ALWAYS:
        break;
    case FLUSH_INTERVAL:
        if (log->last_flush_ms == 0)
            log->last_flush_ms = now_ms;
        if (log->unflushed_messages < log->cfg.flush_messages &&
            now_ms - log->last_flush_ms < log->cfg.flush_ms)
            return;
        break;
    case FLUSH_NEVER:
        return;
    }
    log->last_flush_ms = now_ms;
    storage_log_flush(log);
}

void storage_log_close(struct storage_log *log)
{
    if (log == NULL)
        return;
    log->on_durable = NULL;
    log->closing = true;
    storage_log_flush(log);
    if (!log->flush_inflight)
        log_free(log);
}

/* ---- reading ----------------------------------------------------------- */

struct read_scan {
    int64_t offset;
    int64_t max_offset;
    size_t max_bytes;
    int64_t start;  /* position of the first batch taken, -1 if none */
    int64_t end;
    int64_t first_offset;
    int64_t next_offset;
};

static int read_scan_batch(void *ctx, const struct segment_batch *b)
{
    struct read_scan *rs = ctx;
    if (rs->start < 0) {
        if (b->last_offset < rs->offset)
            return 0; /* before the wanted offset */
        if (b->base_offset >= rs->max_offset)
            return 1;
        rs->start = b->position;
        rs->end = b->position + b->size;
        rs->first_offset = b->base_offset;
        rs->next_offset = b->last_offset + 1;
        return 0;
    }
    if (b->base_offset >= rs->max_offset)
        return 1;
    if ((size_t)(rs->end - rs->start + b->size) > rs->max_bytes)
        return 1;
    rs->end = b->position + b->size;
    rs->next_offset = b->last_offset + 1;
    return 0;
}

/* Where to start scanning segment seg for offset: the nearest index entry
 * in that segment, else its beginning. */
static int64_t log_scan_start(struct storage_log *log, struct storage_segment *seg,
                              int64_t offset)
{
    int64_t entry_offset, entry_segment;
    uint32_t position;
    if (storage_index_find_offset(log->store->index, log->log_id, offset, &entry_offset,
                                  &entry_segment, &position) == 0 &&
        entry_segment == seg->base_offset && position < seg->size_bytes)
        return position;
    return 0;
}

static int log_locate(struct storage_log *log, int64_t offset, int64_t max_offset,
                      size_t max_bytes, struct storage_segment **seg_out,
                      struct read_scan *rs)
{
    *rs = (struct read_scan){.offset = offset, .max_offset = max_offset,
                             .max_bytes = max_bytes, .start = -1};
    struct storage_segment *seg = log_find_segment(log, offset);
    size_t i = seg ? (size_t)(seg - log->segs) : 0;
    for (; i < log->nsegs; i++) {
        seg = &log->segs[i];
        if (seg->size_bytes == 0)
            continue;
        int rc = log_segment_fd(log, seg);
        if (rc != 0)
            return rc;
        int64_t pos = log_scan_start(log, seg, offset);
        rc = segment_scan(seg->fd, pos, seg->size_bytes, read_scan_batch, rs, NULL);
        if (rc < 0)
            return rc;
        if (rs->start >= 0) {
            *seg_out = seg;
            return RILL_OK;
        }
    }
    return RILL_OK;
}

int storage_log_read(struct storage_log *log, int64_t offset, int64_t max_offset,
                     size_t max_bytes, struct storage_read *out)
{
    *out = (struct storage_read){.fd = -1, .first_offset = offset, .next_offset = offset};
    if (log_check_online(log) != 0)
        return RILL_ERR_IO;
    if (offset < log->log_start_offset || offset > log->log_end_offset)
        return RILL_ERR_RANGE;
    if (offset >= max_offset)
        return RILL_OK;
    struct storage_segment *seg = NULL;
    struct read_scan rs;
    int rc = log_locate(log, offset, max_offset, max_bytes, &seg, &rs);
    if (rc != 0 || rs.start < 0)
        return rc;
    int fd = dup(seg->fd);
    if (fd < 0)
        return rill_err_from_errno(errno);
    out->fd = fd;
    out->position = rs.start;
    out->length = rs.end - rs.start;
    out->first_offset = rs.first_offset;
    out->next_offset = rs.next_offset;
    return RILL_OK;
}

int storage_log_read_copy(struct storage_log *log, int64_t offset, int64_t max_offset,
                          size_t max_bytes, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (log_check_online(log) != 0)
        return RILL_ERR_IO;
    if (offset < log->log_start_offset || offset > log->log_end_offset)
        return RILL_ERR_RANGE;
    if (offset >= max_offset)
        return RILL_OK;
    struct storage_segment *seg = NULL;
    struct read_scan rs;
    int rc = log_locate(log, offset, max_offset, max_bytes, &seg, &rs);
    if (rc != 0 || rs.start < 0)
        return rc;
    size_t n = (size_t)(rs.end - rs.start);
    uint8_t *data = malloc(n);
    if (data == NULL)
        return RILL_ERR_NOMEM;
    rc = segment_pread(seg->fd, data, n, rs.start);
    if (rc != 0) {
        free(data);
        return rc;
    }
    *buf = data;
    *len = n;
    return RILL_OK;
}

/* ---- tail scan ---------------------------------------------------------- */

struct tail_scan {
    int (*fn)(void *ctx, const struct storage_batch_info *b);
    void *ctx;
};

static int tail_scan_batch(void *ctx, const struct segment_batch *b)
{
    struct tail_scan *ts = ctx;
    struct storage_batch_info info = {
        .base_offset = b->base_offset,
        .last_offset_delta = (int32_t)(b->last_offset - b->base_offset),
        .max_timestamp = b->max_timestamp,
        .attributes = b->attributes,
        .producer_id = b->producer_id,
        .producer_epoch = b->producer_epoch,
        .base_sequence = b->base_sequence,
    };
    return ts->fn(ts->ctx, &info);
}

int storage_log_scan_tail(struct storage_log *log, size_t segments,
                          int (*fn)(void *ctx, const struct storage_batch_info *b), void *ctx)
{
    struct tail_scan ts = {fn, ctx};
    size_t first = log->nsegs > segments ? log->nsegs - segments : 0;
    for (size_t i = first; i < log->nsegs; i++) {
        struct storage_segment *seg = &log->segs[i];
        if (seg->size_bytes == 0)
            continue;
        int rc = log_segment_fd(log, seg);
        if (rc != 0)
            return rc;
        rc = segment_scan(seg->fd, 0, seg->size_bytes, tail_scan_batch, &ts, NULL);
        if (rc < 0)
            return rc;
        if (rc > 0)
            break;
    }
    return RILL_OK;
}

/* ---- lookup by time ---------------------------------------------------- */

struct time_scan {
    int64_t timestamp;
    int64_t min_offset;
    struct segment_batch found;
    bool hit;
};

static int time_scan_batch(void *ctx, const struct segment_batch *b)
{
    struct time_scan *ts = ctx;
    if (b->last_offset < ts->min_offset || b->max_timestamp < ts->timestamp)
        return 0;
    ts->found = *b;
    ts->hit = true;
    return 1;
}

/* Finds, inside one batch known to reach timestamp, the first record at or
 * after it. */
static int log_time_in_batch(struct storage_segment *seg,
                             const struct segment_batch *b, int64_t timestamp,
                             int64_t min_offset, int64_t *offset, int64_t *record_ts)
{
    if (b->attributes & RB_ATTR_LOG_APPEND_TIME) {
        /* Every record carries the batch's append time. */
        *offset = b->base_offset > min_offset ? b->base_offset : min_offset;
        *record_ts = b->max_timestamp;
        return RILL_OK;
    }
    uint8_t *batch = malloc((size_t)b->size);
    if (batch == NULL)
        return RILL_ERR_NOMEM;
    int rc = segment_pread(seg->fd, batch, (size_t)b->size, b->position);
    if (rc == 0) {
        struct record_batch_header h;
        record_batch_header_read(batch, &h);
        struct record_iter it;
        struct record_view rec;
        rc = record_iter_open(&it, batch, (size_t)b->size);
        int more = 0;
        while (rc == 0 && (more = record_iter_next(&it, &rec)) == 1) {
            int64_t ts, off;
            /* The batch passed validation on append; a sum that overflows
             * now means the file changed under us. */
            if (!checked_add_i64(h.base_timestamp, rec.timestamp_delta, &ts) ||
                !checked_add_i64(h.base_offset, rec.offset_delta, &off)) {
                more = RILL_ERR_CORRUPT;
                break;
            }
            if (ts >= timestamp && off >= min_offset) {
                *offset = off;
                *record_ts = ts;
                break;
            }
        }
        record_iter_close(&it);
        if (rc == 0)
            rc = more == 1 ? RILL_OK : more == 0 ? RILL_ERR_NOT_FOUND : RILL_ERR_CORRUPT;
    }
    free(batch);
    return rc;
}

int storage_log_offset_for_time(struct storage_log *log, int64_t timestamp, int64_t *offset,
                                int64_t *record_timestamp)
{
    int64_t from = log->log_start_offset;
    int64_t indexed;
    if (storage_index_find_time(log->store->index, log->log_id, timestamp, &indexed) == 0 &&
        indexed > from)
        from = indexed;
    struct storage_segment *seg = log_find_segment(log, from);
    size_t i = seg ? (size_t)(seg - log->segs) : 0;
    for (; i < log->nsegs; i++) {
        seg = &log->segs[i];
        if (seg->size_bytes == 0)
            continue;
        if (seg->max_timestamp >= 0 && seg->max_timestamp < timestamp)
            continue; /* nothing this late in the whole segment */
        int rc = log_segment_fd(log, seg);
        if (rc != 0)
            return rc;
        int64_t pos = from >= seg->base_offset ? log_scan_start(log, seg, from) : 0;
        for (;;) {
            struct time_scan ts = {.timestamp = timestamp, .min_offset = log->log_start_offset};
            rc = segment_scan(seg->fd, pos, seg->size_bytes, time_scan_batch, &ts, NULL);
            if (rc < 0)
                return rc;
            if (!ts.hit)
                break;
            rc = log_time_in_batch(seg, &ts.found, timestamp, log->log_start_offset,
                                   offset, record_timestamp);
            if (rc != RILL_ERR_NOT_FOUND)
                return rc;
            pos = ts.found.position + ts.found.size;
        }
    }
    return RILL_ERR_NOT_FOUND;
}
