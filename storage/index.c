#include "storage/index.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"

enum { CF_DEFAULT, CF_OFFSETS, CF_TIMES, CF_STATE, CF_COUNT };

static const char *const index_cf_names[CF_COUNT] = {"default", "offsets", "times", "state"};

struct storage_index {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    /* A write failed (a full disk, an I/O error): RocksDB keeps the error
     * and asserts on the next write of the same file, so no write is made
     * again until the broker restarts. The index is derived: lookups fall
     * back to scanning the segments, and recovery rebuilds the rest. */
    bool write_failed;
};

enum { KEY_BYTES = 16, STATE_KEY_BYTES = 17 };

static void index_key(uint8_t key[KEY_BYTES], uint64_t log_id, uint64_t v)
{
    be64_store(key, log_id);
    be64_store(key + 8, v);
}

/* Orders signed timestamps correctly as unsigned big-endian bytes. */
static uint64_t index_ts_bias(int64_t ts)
{
    return (uint64_t)ts ^ (1ull << 63);
}

int storage_index_open(const char *path, struct storage_index **out, char **errmsg)
{
    struct storage_index *idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return RILL_ERR_NOMEM;
    idx->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(idx->options, 1);
    rocksdb_options_set_create_missing_column_families(idx->options, 1);
    rocksdb_options_set_max_open_files(idx->options, 256);
    rocksdb_options_set_keep_log_file_num(idx->options, 2);
    rocksdb_options_set_max_log_file_size(idx->options, 1 << 20);
    /* Headers only: RocksDB's info log lives on the same disk, and once an
     * append to it has failed (a full disk), its next log line trips an
     * assertion inside RocksDB (seen on Debian's 7.8 during its own
     * recovery from the error). Rill reports index errors itself. */
    rocksdb_options_set_info_log_level(idx->options, 5 /* HEADER */);
    /* Column families flush together so the checkpoint in "state" never
     * survives without the index entries it vouches for. */
    rocksdb_options_set_atomic_flush(idx->options, 1);
    rocksdb_options_set_write_buffer_size(idx->options, 8 << 20);

    const rocksdb_options_t *cf_opts[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++)
        cf_opts[i] = idx->options;
    char *err = NULL;
    idx->db = rocksdb_open_column_families(idx->options, path, CF_COUNT, index_cf_names,
                                           cf_opts, idx->cf, &err);
    if (err != NULL) {
        if (errmsg != NULL)
            *errmsg = err;
        else
            free(err);
        rocksdb_options_destroy(idx->options);
        free(idx);
        return RILL_ERR_DB;
    }
    idx->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(idx->wopts, 0);
    idx->ropts = rocksdb_readoptions_create();
    *out = idx;
    return RILL_OK;
}

void storage_index_close(struct storage_index *idx)
{
    if (idx == NULL)
        return;
    for (int i = 0; i < CF_COUNT; i++)
        rocksdb_column_family_handle_destroy(idx->cf[i]);
    rocksdb_close(idx->db);
    rocksdb_writeoptions_destroy(idx->wopts);
    rocksdb_readoptions_destroy(idx->ropts);
    rocksdb_options_destroy(idx->options);
    free(idx);
}

static int index_check(char *err, const char *what)
{
    if (err == NULL)
        return RILL_OK;
    log_error("index", "%s: %s", what, err);
    free(err);
    return RILL_ERR_DB;
}

static int index_write_result(struct storage_index *idx, char *err, const char *what)
{
    if (err == NULL)
        return RILL_OK;
    log_error("index", "%s: %s: the index is not written again until the broker restarts "
              "(lookups scan the segments; the restart rebuilds what is missing)", what, err);
    free(err);
    idx->write_failed = true;
    return RILL_ERR_DB;
}

static int index_write(struct storage_index *idx, rocksdb_writebatch_t *wb, const char *what)
{
    if (idx->write_failed) {
        rocksdb_writebatch_destroy(wb);
        return RILL_ERR_DB;
    }
    char *err = NULL;
    rocksdb_write(idx->db, idx->wopts, wb, &err);
    rocksdb_writebatch_destroy(wb);
    return index_write_result(idx, err, what);
}

static int index_put(struct storage_index *idx, int cf, const void *key, size_t klen,
                     const void *val, size_t vlen, const char *what)
{
    if (idx->write_failed)
        return RILL_ERR_DB;
    char *err = NULL;
    rocksdb_put_cf(idx->db, idx->wopts, idx->cf[cf], key, klen, val, vlen, &err);
    return index_write_result(idx, err, what);
}

int storage_index_log_id(struct storage_index *idx, const char *name, int create,
                         uint64_t *log_id)
{
    char key[300];
    int n = snprintf(key, sizeof(key), "log/%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return RILL_ERR_INVALID;
    char *err = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(idx->db, idx->ropts, idx->cf[CF_DEFAULT], key, (size_t)n, &vlen,
                             &err);
    if (index_check(err, "get log id") != 0)
        return RILL_ERR_DB;
    if (v != NULL) {
        int rc = vlen == 8 ? RILL_OK : RILL_ERR_CORRUPT;
        if (rc == 0)
            *log_id = be64_load((const uint8_t *)v);
        rocksdb_free(v);
        return rc;
    }
    if (!create)
        return RILL_ERR_NOT_FOUND;

    static const char counter_key[] = "next_log_id";
    uint64_t next = 1;
    v = rocksdb_get_cf(idx->db, idx->ropts, idx->cf[CF_DEFAULT], counter_key,
                       sizeof(counter_key) - 1, &vlen, &err);
    if (index_check(err, "get log id counter") != 0)
        return RILL_ERR_DB;
    if (v != NULL) {
        if (vlen == 8)
            next = be64_load((const uint8_t *)v);
        rocksdb_free(v);
    }
    uint8_t idbuf[8], nextbuf[8];
    be64_store(idbuf, next);
    be64_store(nextbuf, next + 1);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put_cf(wb, idx->cf[CF_DEFAULT], key, (size_t)n, (const char *)idbuf, 8);
    rocksdb_writebatch_put_cf(wb, idx->cf[CF_DEFAULT], counter_key, sizeof(counter_key) - 1,
                              (const char *)nextbuf, 8);
    int rc = index_write(idx, wb, "assign log id");
    if (rc == 0)
        *log_id = next;
    return rc;
}

int storage_index_log_forget(struct storage_index *idx, const char *name, uint64_t log_id)
{
    char key[300];
    int n = snprintf(key, sizeof(key), "log/%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return RILL_ERR_INVALID;
    uint8_t lo[8], hi[8];
    be64_store(lo, log_id);
    be64_store(hi, log_id + 1);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_cf(wb, idx->cf[CF_DEFAULT], key, (size_t)n);
    for (int cf = CF_OFFSETS; cf < CF_COUNT; cf++)
        rocksdb_writebatch_delete_range_cf(wb, idx->cf[cf], (const char *)lo, 8,
                                           (const char *)hi, 8);
    return index_write(idx, wb, "forget log");
}

int storage_index_put_offset(struct storage_index *idx, uint64_t log_id, int64_t offset,
                             int64_t segment_base, uint32_t position)
{
    uint8_t key[KEY_BYTES], val[12];
    index_key(key, log_id, (uint64_t)offset);
    be64_store(val, (uint64_t)segment_base);
    be32_store(val + 8, position);
    return index_put(idx, CF_OFFSETS, key, sizeof(key), val, sizeof(val), "put offset");
}

/* Positions it at the last key of log_id that is <= key; returns the
 * iterator only when such a key exists within log_id. */
static rocksdb_iterator_t *index_seek_prev(struct storage_index *idx, int cf, uint64_t log_id,
                                           const uint8_t key[KEY_BYTES])
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(idx->db, idx->ropts, idx->cf[cf]);
    rocksdb_iter_seek_for_prev(it, (const char *)key, KEY_BYTES);
    if (rocksdb_iter_valid(it)) {
        size_t klen;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        if (klen == KEY_BYTES && be64_load(k) == log_id)
            return it;
    }
    rocksdb_iter_destroy(it);
    return NULL;
}

int storage_index_find_offset(struct storage_index *idx, uint64_t log_id, int64_t offset,
                              int64_t *entry_offset, int64_t *segment_base, uint32_t *position)
{
    if (offset < 0)
        return RILL_ERR_NOT_FOUND;
    uint8_t key[KEY_BYTES];
    index_key(key, log_id, (uint64_t)offset);
    rocksdb_iterator_t *it = index_seek_prev(idx, CF_OFFSETS, log_id, key);
    if (it == NULL)
        return RILL_ERR_NOT_FOUND;
    size_t klen, vlen;
    const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
    const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
    int rc = RILL_ERR_CORRUPT;
    if (vlen == 12) {
        *entry_offset = (int64_t)be64_load(k + 8);
        *segment_base = (int64_t)be64_load(v);
        *position = be32_load(v + 8);
        rc = RILL_OK;
    }
    rocksdb_iter_destroy(it);
    return rc;
}

int storage_index_put_time(struct storage_index *idx, uint64_t log_id, int64_t timestamp,
                           int64_t offset)
{
    uint8_t key[KEY_BYTES], val[8];
    index_key(key, log_id, index_ts_bias(timestamp));
    be64_store(val, (uint64_t)offset);
    return index_put(idx, CF_TIMES, key, sizeof(key), val, sizeof(val), "put time");
}

int storage_index_find_time(struct storage_index *idx, uint64_t log_id, int64_t timestamp,
                            int64_t *offset)
{
    if (timestamp == INT64_MIN)
        return RILL_ERR_NOT_FOUND;
    uint8_t key[KEY_BYTES];
    index_key(key, log_id, index_ts_bias(timestamp - 1));
    rocksdb_iterator_t *it = index_seek_prev(idx, CF_TIMES, log_id, key);
    if (it == NULL)
        return RILL_ERR_NOT_FOUND;
    size_t vlen;
    const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
    int rc = RILL_ERR_CORRUPT;
    if (vlen == 8) {
        *offset = (int64_t)be64_load(v);
        rc = RILL_OK;
    }
    rocksdb_iter_destroy(it);
    return rc;
}

int storage_index_truncate(struct storage_index *idx, uint64_t log_id, int64_t from_offset)
{
    uint8_t lo[KEY_BYTES], hi[8];
    index_key(lo, log_id, (uint64_t)(from_offset < 0 ? 0 : from_offset));
    be64_store(hi, log_id + 1);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range_cf(wb, idx->cf[CF_OFFSETS], (const char *)lo, KEY_BYTES,
                                       (const char *)hi, 8);
    /* Time entries grow in both timestamp and offset: walk back from the
     * log's last entry while the offsets are too high. */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(idx->db, idx->ropts, idx->cf[CF_TIMES]);
    rocksdb_iter_seek_for_prev(it, (const char *)hi, 8);
    for (; rocksdb_iter_valid(it); rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        if (klen != KEY_BYTES || be64_load(k) != log_id)
            break;
        if (vlen == 8 && (int64_t)be64_load(v) < from_offset)
            break;
        rocksdb_writebatch_delete_cf(wb, idx->cf[CF_TIMES], (const char *)k, klen);
    }
    rocksdb_iter_destroy(it);
    return index_write(idx, wb, "truncate index");
}

int storage_index_drop_below(struct storage_index *idx, uint64_t log_id, int64_t below_offset)
{
    uint8_t lo[8], hi[KEY_BYTES];
    be64_store(lo, log_id);
    index_key(hi, log_id, (uint64_t)(below_offset < 0 ? 0 : below_offset));
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range_cf(wb, idx->cf[CF_OFFSETS], (const char *)lo, 8,
                                       (const char *)hi, KEY_BYTES);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(idx->db, idx->ropts, idx->cf[CF_TIMES]);
    rocksdb_iter_seek(it, (const char *)lo, 8);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
        if (klen != KEY_BYTES || be64_load(k) != log_id)
            break;
        if (vlen == 8 && (int64_t)be64_load(v) >= below_offset)
            break;
        rocksdb_writebatch_delete_cf(wb, idx->cf[CF_TIMES], (const char *)k, klen);
    }
    rocksdb_iter_destroy(it);
    return index_write(idx, wb, "drop index prefix");
}

static size_t index_state_key(uint8_t key[STATE_KEY_BYTES], uint64_t log_id, int kind,
                              int64_t arg)
{
    be64_store(key, log_id);
    key[8] = (uint8_t)kind;
    be64_store(key + 9, (uint64_t)arg);
    return STATE_KEY_BYTES;
}

int storage_index_put_state(struct storage_index *idx, uint64_t log_id, int kind, int64_t arg,
                            const void *value, size_t len)
{
    uint8_t key[STATE_KEY_BYTES];
    size_t klen = index_state_key(key, log_id, kind, arg);
    return index_put(idx, CF_STATE, key, klen, value, len, "put state");
}

int storage_index_get_state(struct storage_index *idx, uint64_t log_id, int kind, int64_t arg,
                            void *value, size_t len)
{
    uint8_t key[STATE_KEY_BYTES];
    size_t klen = index_state_key(key, log_id, kind, arg);
    char *err = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(idx->db, idx->ropts, idx->cf[CF_STATE], (const char *)key, klen,
                             &vlen, &err);
    if (index_check(err, "get state") != 0)
        return RILL_ERR_DB;
    if (v == NULL)
        return RILL_ERR_NOT_FOUND;
    int rc = RILL_ERR_CORRUPT;
    if (vlen == len) {
        memcpy(value, v, len);
        rc = RILL_OK;
    }
    rocksdb_free(v);
    return rc;
}

int storage_index_get_state_copy(struct storage_index *idx, uint64_t log_id, int kind,
                                 int64_t arg, uint8_t **value, size_t *len)
{
    uint8_t key[STATE_KEY_BYTES];
    size_t klen = index_state_key(key, log_id, kind, arg);
    char *err = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(idx->db, idx->ropts, idx->cf[CF_STATE], (const char *)key, klen,
                             &vlen, &err);
    if (index_check(err, "get state") != 0)
        return RILL_ERR_DB;
    if (v == NULL)
        return RILL_ERR_NOT_FOUND;
    *value = malloc(vlen > 0 ? vlen : 1);
    if (*value == NULL) {
        rocksdb_free(v);
        return RILL_ERR_NOMEM;
    }
    memcpy(*value, v, vlen);
    *len = vlen;
    rocksdb_free(v);
    return RILL_OK;
}

int storage_index_delete_state(struct storage_index *idx, uint64_t log_id, int kind, int64_t arg)
{
    uint8_t key[STATE_KEY_BYTES];
    size_t klen = index_state_key(key, log_id, kind, arg);
    if (idx->write_failed)
        return RILL_ERR_DB;
    char *err = NULL;
    rocksdb_delete_cf(idx->db, idx->wopts, idx->cf[CF_STATE], (const char *)key, klen, &err);
    return index_write_result(idx, err, "delete state");
}
