#include "broker/metadata_log.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/assert.h"
#include "common/checked.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "storage/log.h"

static const char metadata_log_name[] = METADATA_LOG_NAME;

struct metadata_proposal {
    struct metadata_proposal *next;
    int64_t end_offset; /* applied once the log is applied up to here */
    metadata_applied_fn fn;
    void *ctx;
};

struct metadata_listener {
    metadata_listener_fn fn;
    void *ctx;
};

struct metadata_log {
    struct broker *broker;
    struct metadata_listener listeners[METADATA_MAX_LISTENERS];
    size_t nlisteners;
    struct storage_log *log;
    struct metadata_image image;
    int64_t applied_next;      /* next offset to apply */
    struct metadata_proposal *pending_head, *pending_tail;
};

const struct metadata_image *metadata_log_image(const struct metadata_log *ml)
{
    return &ml->image;
}

void metadata_log_listen(struct metadata_log *ml, metadata_listener_fn fn, void *ctx)
{
    ASSERT(ml->nlisteners < METADATA_MAX_LISTENERS);
    ml->listeners[ml->nlisteners++] = (struct metadata_listener){fn, ctx};
    fn(ctx, &ml->image);
}

static void metadata_notify(struct metadata_log *ml)
{
    for (size_t i = 0; i < ml->nlisteners; i++)
        ml->listeners[i].fn(ml->listeners[i].ctx, &ml->image);
}

/* Applies one committed record to the image. A record the image refuses
 * (or cannot hold for want of memory) is not skipped: every node applies
 * the same records, and one that skipped a record would hold a different
 * image from then on. The caller stops. */
static int metadata_apply_record(struct metadata_log *ml, const uint8_t *value, size_t len,
                                 int64_t offset)
{
    Rill__Metadata__MetadataRecord *rec =
        rill__metadata__metadata_record__unpack(NULL, len, value);
    if (rec == NULL) {
        log_error("metadata", "the committed record at offset %lld cannot be decoded",
                  (long long)offset);
        return RILL_ERR_CORRUPT;
    }
    int rc = metadata_image_apply(&ml->image, rec);
    rill__metadata__metadata_record__free_unpacked(rec, NULL);
    if (rc != 0) {
        log_error("metadata", "the committed record at offset %lld cannot be applied: %s",
                  (long long)offset, rill_strerror(rc));
        return rc;
    }
    ml->image.applied_offset = offset;
    return RILL_OK;
}

static int metadata_apply_batch(struct metadata_log *ml, const uint8_t *batch, size_t len)
{
    struct record_batch_header h;
    record_batch_header_read(batch, &h);
    struct record_iter it;
    struct record_view rec;
    int rc = record_iter_open(&it, batch, len);
    while (rc == 0 && (rc = record_iter_next(&it, &rec)) == 1) {
        rc = 0;
        int64_t offset;
        if (!checked_add_i64(h.base_offset, rec.offset_delta, &offset)) {
            rc = RILL_ERR_CORRUPT;
            break;
        }
        if (offset < ml->applied_next || rec.value.ptr == NULL)
            continue;
        rc = metadata_apply_record(ml, rec.value.ptr, (size_t)rec.value.len, offset);
        if (rc != 0)
            break;
        ml->applied_next = offset + 1;
    }
    record_iter_close(&it);
    if (rc != 0)
        return rc == RILL_ERR_NOMEM ? rc : RILL_ERR_CORRUPT;
    ml->applied_next = h.base_offset + h.last_offset_delta + 1;
    return RILL_OK;
}

/* Applies every committed record not applied yet. */
static int metadata_apply_to(struct metadata_log *ml, int64_t committed)
{
    while (ml->applied_next < committed) {
        uint8_t *buf;
        size_t len;
        int rc = storage_log_read_copy(ml->log, ml->applied_next, committed, 1 << 20, &buf, &len);
        if (rc != 0)
            return rc;
        if (len == 0)
            break;
        size_t pos = 0;
        while (pos < len) {
            int64_t size = record_batch_total_size(buf + pos, len - pos);
            if (size < RB_HEADER_BYTES || (size_t)size > len - pos) {
                rc = RILL_ERR_CORRUPT;
                break;
            }
            rc = metadata_apply_batch(ml, buf + pos, (size_t)size);
            if (rc != 0)
                break;
            pos += (size_t)size;
        }
        free(buf);
        if (rc != 0)
            return rc;
    }
    return RILL_OK;
}

/* The metadata log's directory went offline: proposals waiting for their
 * fsync will not get it and are answered with an error now. */
static void metadata_on_offline(struct storage_log *log, void *ctx)
{
    (void)log;
    metadata_log_abort_pending(ctx);
}

static void metadata_on_durable(struct storage_log *log, int64_t durable, void *ctx)
{
    (void)log;
    struct metadata_log *ml = ctx;
    uint64_t before = ml->image.version;
    int rc = metadata_apply_to(ml, durable);
    if (rc != 0)
        rill_fatal("metadata", "cannot apply the committed metadata log at offset %lld (%s); "
                   "stopping rather than serve an image that differs from the log",
                   (long long)ml->applied_next, rill_strerror(rc));
    if (ml->image.version != before)
        metadata_notify(ml);
    while (ml->pending_head != NULL && ml->pending_head->end_offset <= ml->applied_next) {
        struct metadata_proposal *p = ml->pending_head;
        ml->pending_head = p->next;
        if (ml->pending_head == NULL)
            ml->pending_tail = NULL;
        p->fn(p->ctx, rc);
        free(p);
    }
}

int metadata_log_open(struct broker *b, struct metadata_log **out)
{
    struct metadata_log *ml = calloc(1, sizeof(*ml));
    if (ml == NULL)
        return RILL_ERR_NOMEM;
    ml->broker = b;
    int rc = metadata_image_init(&ml->image);
    if (rc != 0) {
        free(ml);
        return rc;
    }
    /* Metadata is always fsynced before it counts, whatever the data
     * flush policy, and is never deleted by retention. */
    struct storage_log_config cfg = b->cfg.log_defaults;
    cfg.flush_policy = FLUSH_ALWAYS;
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    cfg.segment_bytes = 64 << 20;
    rc = storage_log_open(b->store, storage_store_dir_for(b->store, metadata_log_name),
                          metadata_log_name, NULL, &cfg, metadata_on_durable, ml, &ml->log);
    if (rc != 0) {
        metadata_image_free(&ml->image);
        free(ml);
        return rc;
    }
    storage_log_on_offline(ml->log, metadata_on_offline);
    ml->applied_next = storage_log_start_offset(ml->log);
    *out = ml;
    rc = metadata_apply_to(ml, storage_log_end_offset(ml->log));
    if (rc != 0) {
        log_error("metadata",
                  "cannot replay the metadata log: %s; the broker does not start on an image "
                  "that differs from its log",
                  rill_strerror(rc));
        metadata_log_close(ml);
        *out = NULL;
        return rc;
    }
    log_info("metadata", "replayed %lld metadata records: %zu topics",
             (long long)ml->applied_next, ml->image.ntopics);
    return RILL_OK;
}

void metadata_log_abort_pending(struct metadata_log *ml)
{
    if (ml == NULL)
        return;
    while (ml->pending_head != NULL) {
        struct metadata_proposal *p = ml->pending_head;
        ml->pending_head = p->next;
        if (ml->pending_head == NULL)
            ml->pending_tail = NULL;
        p->fn(p->ctx, RILL_ERR_CLOSED);
        free(p);
    }
}

void metadata_log_close(struct metadata_log *ml)
{
    if (ml == NULL)
        return;
    metadata_log_abort_pending(ml);
    storage_log_close(ml->log);
    metadata_image_free(&ml->image);
    free(ml);
}

int metadata_log_propose(struct metadata_log *ml, Rill__Metadata__MetadataRecord *const *recs,
                         size_t n, metadata_applied_fn fn, void *ctx)
{
    if (n == 0)
        return RILL_ERR_INVALID;
    struct metadata_proposal *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RILL_ERR_NOMEM;
    struct kafka_writer records, batch;
    kafka_writer_init(&records);
    kafka_writer_init(&batch);
    int rc = RILL_OK;
    for (size_t i = 0; i < n; i++) {
        size_t size = rill__metadata__metadata_record__get_packed_size(recs[i]);
        uint8_t *value = malloc(size ? size : 1);
        if (value == NULL) {
            rc = RILL_ERR_NOMEM;
            break;
        }
        rill__metadata__metadata_record__pack(recs[i], value);
        record_write(&records, 0, (int32_t)i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){value, (int32_t)size});
        free(value);
    }
    int64_t now = clock_wall_ms();
    if (rc == 0)
        rc = record_batch_build(&batch, 0, now, now, (int32_t)n, records.buf, records.len);
    struct record_batch_info info;
    if (rc == 0 && record_batch_validate(batch.buf, batch.len, &info) != RB_OK)
        rc = RILL_ERR_INVALID;
    int64_t base;
    if (rc == 0)
        rc = storage_log_append(ml->log, batch.buf, batch.len, 0, &info, now, &base);
    kafka_writer_free(&records);
    kafka_writer_free(&batch);
    if (rc != 0) {
        log_error("metadata", "cannot write metadata records: %s", rill_strerror(rc));
        free(p);
        return rc;
    }
    p->end_offset = base + (int64_t)n;
    p->fn = fn;
    p->ctx = ctx;
    if (ml->pending_tail != NULL)
        ml->pending_tail->next = p;
    else
        ml->pending_head = p;
    ml->pending_tail = p;
    storage_log_flush(ml->log);
    return RILL_OK;
}
