/* The broker's RocksDB index: one instance per broker, column families by
 * purpose. Every partition log is known by a numeric log id; all of its keys
 * start with that id (8 bytes, big-endian), so dropping a log is one range
 * delete per column family.
 *
 *   default  "log/<name>" -> log id; "next_log_id" -> counter
 *   offsets  log id | base offset       -> segment base (8) | position (4)
 *   times    log id | max timestamp     -> offset (8)  (timestamps biased so
 *                                          negative ones sort first)
 *   state    log id | kind [| arg]      -> small durable values: recovery
 *                                          checkpoint, log start offset,
 *                                          per-segment max timestamp, ...
 *
 * The index is derived data: the segment files are the truth and recovery
 * rebuilds whatever the index lacks. Writes therefore go to RocksDB's WAL
 * without fsync; a lost tail only means a longer recovery scan.
 *
 * Not thread-safe by contract: only the broker loop thread calls it. */
#ifndef RILL_STORAGE_INDEX_H
#define RILL_STORAGE_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct storage_index;

enum storage_state_kind {
    STATE_RECOVERY = 'r',   /* struct storage_checkpoint */
    STATE_LOG_START = 'l',  /* int64 log start offset */
    STATE_SEGMENT = 's',    /* arg = segment base; value = int64 max timestamp */
    STATE_HIGH_WATERMARK = 'h',
    STATE_LEADER_EPOCH = 'e', /* the leader-epoch history (replica_state.c) */
};

/* Opens (creating if needed) the index at path. On failure returns a
 * RILL_ERR_* and, if errmsg is not NULL, a malloc'd message in *errmsg. */
int storage_index_open(const char *path, struct storage_index **out, char **errmsg);
void storage_index_close(struct storage_index *idx);

/* Looks up the log id of name; with create set, assigns a new one when the
 * name is unknown. Returns 0, RILL_ERR_NOT_FOUND or RILL_ERR_DB. */
int storage_index_log_id(struct storage_index *idx, const char *name, int create,
                         uint64_t *log_id);

/* Removes name's id and every key of log_id in every column family. */
int storage_index_log_forget(struct storage_index *idx, const char *name, uint64_t log_id);

int storage_index_put_offset(struct storage_index *idx, uint64_t log_id, int64_t offset,
                             int64_t segment_base, uint32_t position);

/* Finds the entry with the largest offset <= offset. Returns 0 or
 * RILL_ERR_NOT_FOUND. */
int storage_index_find_offset(struct storage_index *idx, uint64_t log_id, int64_t offset,
                              int64_t *entry_offset, int64_t *segment_base, uint32_t *position);

int storage_index_put_time(struct storage_index *idx, uint64_t log_id, int64_t timestamp,
                           int64_t offset);

/* Finds the entry with the largest timestamp < timestamp and returns its
 * offset: every record before that offset's batch is older than timestamp.
 * Returns 0 or RILL_ERR_NOT_FOUND. */
int storage_index_find_time(struct storage_index *idx, uint64_t log_id, int64_t timestamp,
                            int64_t *offset);

/* Removes offset and time entries at or above from_offset (truncation). */
int storage_index_truncate(struct storage_index *idx, uint64_t log_id, int64_t from_offset);

/* Removes offset and time entries below below_offset (retention). */
int storage_index_drop_below(struct storage_index *idx, uint64_t log_id, int64_t below_offset);

int storage_index_put_state(struct storage_index *idx, uint64_t log_id, int kind, int64_t arg,
                            const void *value, size_t len);
/* Reads a state value of exactly len bytes. Returns 0, RILL_ERR_NOT_FOUND,
 * RILL_ERR_CORRUPT (wrong size) or RILL_ERR_DB. */
int storage_index_get_state(struct storage_index *idx, uint64_t log_id, int kind, int64_t arg,
                            void *value, size_t len);
/* Reads a state value of any size; on success *value is malloc'd (owned by
 * the caller). Returns 0, RILL_ERR_NOT_FOUND, RILL_ERR_NOMEM or
 * RILL_ERR_DB. */
int storage_index_get_state_copy(struct storage_index *idx, uint64_t log_id, int kind,
                                 int64_t arg, uint8_t **value, size_t *len);
int storage_index_delete_state(struct storage_index *idx, uint64_t log_id, int kind,
                               int64_t arg);

#endif
