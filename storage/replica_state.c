/* Replication state kept beside a partition log (storage/log.h): the
 * leader-epoch history and the high-watermark checkpoint.
 *
 * The leader-epoch history: for each
 * leader epoch that wrote batches, the offset of its first batch. Kept in
 * memory, persisted whole in the index (state kind STATE_LEADER_EPOCH) on
 * every change, and trusted on open only below the recovery checkpoint:
 * the index's write-ahead log keeps writes in order, so a checkpoint that
 * survived vouches for the history written before it, and recovery
 * re-derives the rest from the batch headers it re-checks.
 *
 * Invariants: epochs strictly grow and start offsets strictly grow along
 * the array; every start offset lies in [log start, log end). */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"
#include "storage/log_internal.h"

enum { EPOCH_ENTRY_BYTES = 12 };

void log_epochs_persist(struct storage_log *log)
{
    size_t len = log->nepochs * EPOCH_ENTRY_BYTES;
    uint8_t *v = malloc(len > 0 ? len : 1);
    if (v == NULL) {
        log_warn("storage", "%s: leader-epoch history not persisted (out of memory)", log->name);
        return;
    }
    for (size_t i = 0; i < log->nepochs; i++) {
        be32_store(v + i * EPOCH_ENTRY_BYTES, (uint32_t)log->epochs[i].epoch);
        be64_store(v + i * EPOCH_ENTRY_BYTES + 4, (uint64_t)log->epochs[i].start_offset);
    }
    if (storage_index_put_state(log->store->index, log->log_id, STATE_LEADER_EPOCH, 0, v,
                                len) != 0)
        log_warn("storage", "%s: leader-epoch history not persisted", log->name);
    free(v);
}

int log_epochs_load(struct storage_log *log)
{
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = storage_index_get_state_copy(log->store->index, log->log_id, STATE_LEADER_EPOCH, 0,
                                          &v, &len);
    if (rc == RILL_ERR_NOT_FOUND)
        return RILL_OK;
    if (rc != 0)
        return rc;
    size_t n = len / EPOCH_ENTRY_BYTES;
    log->nepochs = 0;
    if (n > log->epochs_cap) {
        struct storage_epoch *e = realloc(log->epochs, n * sizeof(*e));
        if (e == NULL) {
            free(v);
            return RILL_ERR_NOMEM;
        }
        log->epochs = e;
        log->epochs_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t epoch = (int32_t)be32_load(v + i * EPOCH_ENTRY_BYTES);
        int64_t start = (int64_t)be64_load(v + i * EPOCH_ENTRY_BYTES + 4);
        if (log->nepochs > 0 && (epoch <= log->epochs[log->nepochs - 1].epoch ||
                                 start <= log->epochs[log->nepochs - 1].start_offset))
            break; /* not a history: keep the sound prefix, recovery adds the rest */
        log->epochs[log->nepochs++] = (struct storage_epoch){epoch, start};
    }
    free(v);
    return RILL_OK;
}

int log_epochs_note(struct storage_log *log, int32_t epoch, int64_t base_offset, bool persist)
{
    if (epoch < 0)
        return RILL_OK; /* batches written before epochs were kept */
    if (log->nepochs > 0) {
        const struct storage_epoch *last = &log->epochs[log->nepochs - 1];
        if (epoch == last->epoch)
            return RILL_OK;
        if (epoch < last->epoch || base_offset <= last->start_offset)
            return RILL_ERR_INVALID; /* the history would go backwards */
    }
    if (log->nepochs == log->epochs_cap) {
        size_t cap = log->epochs_cap ? log->epochs_cap * 2 : 4;
        struct storage_epoch *e = realloc(log->epochs, cap * sizeof(*e));
        if (e == NULL)
            return RILL_ERR_NOMEM;
        log->epochs = e;
        log->epochs_cap = cap;
    }
    log->epochs[log->nepochs++] = (struct storage_epoch){epoch, base_offset};
    if (persist)
        log_epochs_persist(log);
    return RILL_OK;
}

void log_epochs_truncate_end(struct storage_log *log, int64_t end_offset, bool persist)
{
    size_t n = log->nepochs;
    while (log->nepochs > 0 && log->epochs[log->nepochs - 1].start_offset >= end_offset)
        log->nepochs--;
    if (persist && n != log->nepochs)
        log_epochs_persist(log);
}

void log_epochs_truncate_start(struct storage_log *log, int64_t start_offset)
{
    /* The last epoch that began below the new start begins at it now. */
    size_t first = 0;
    while (first + 1 < log->nepochs && log->epochs[first + 1].start_offset <= start_offset)
        first++;
    if (log->nepochs == 0 || log->epochs[first].start_offset >= start_offset)
        return;
    memmove(log->epochs, log->epochs + first, (log->nepochs - first) * sizeof(*log->epochs));
    log->nepochs -= first;
    log->epochs[0].start_offset = start_offset;
    log_epochs_persist(log);
}

void log_epochs_clear(struct storage_log *log)
{
    if (log->nepochs == 0)
        return;
    log->nepochs = 0;
    log_epochs_persist(log);
}

int32_t storage_log_latest_epoch(const struct storage_log *log)
{
    return log->nepochs > 0 ? log->epochs[log->nepochs - 1].epoch : -1;
}

int64_t storage_log_epoch_start(const struct storage_log *log, int32_t epoch)
{
    for (size_t i = 0; i < log->nepochs; i++)
        if (log->epochs[i].epoch == epoch)
            return log->epochs[i].start_offset;
    return -1;
}

void storage_log_end_for_epoch(const struct storage_log *log, int32_t epoch,
                               int32_t *found_epoch, int64_t *end_offset)
{
    *found_epoch = -1;
    *end_offset = -1;
    if (epoch < 0 || log->nepochs == 0)
        return;
    if (epoch == log->epochs[log->nepochs - 1].epoch) {
        *found_epoch = epoch;
        *end_offset = log->log_end_offset;
        return;
    }
    /* The first epoch above the one asked for ends it. */
    size_t higher = 0;
    while (higher < log->nepochs && log->epochs[higher].epoch <= epoch)
        higher++;
    if (higher == log->nepochs)
        return; /* newer than anything known here */
    *end_offset = log->epochs[higher].start_offset;
    *found_epoch = higher == 0 ? epoch : log->epochs[higher - 1].epoch;
}

void storage_log_save_high_watermark(struct storage_log *log, int64_t hw)
{
    uint8_t v[8];
    be64_store(v, (uint64_t)hw);
    if (storage_index_put_state(log->store->index, log->log_id, STATE_HIGH_WATERMARK, 0, v,
                                sizeof(v)) != 0)
        log_warn("storage", "%s: high watermark %lld not saved", log->name, (long long)hw);
}

int64_t storage_log_saved_high_watermark(struct storage_log *log)
{
    uint8_t v[8];
    int64_t hw = log->log_start_offset;
    if (storage_index_get_state(log->store->index, log->log_id, STATE_HIGH_WATERMARK, 0, v,
                                sizeof(v)) == 0)
        hw = (int64_t)be64_load(v);
    if (hw < log->log_start_offset)
        hw = log->log_start_offset;
    if (hw > log->log_end_offset)
        hw = log->log_end_offset;
    return hw;
}
