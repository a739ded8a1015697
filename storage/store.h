/* The broker's storage: its log directories, the RocksDB index shared by
 * every partition log, and the background workers (the flusher, which does
 * group-commit fsyncs, and the janitor, which deletes files).
 *
 * Layout of each log directory (log.dirs):
 *   <dir>/<topic>-<partition>/<20-digit base offset>.log   segments
 *   <dir>/rill-index/                                       RocksDB (first dir only)
 *   <dir>/<topic>-<partition>/partition.metadata             its topic id
 *   <dir>/<name>.<log id>-delete/                           logs being deleted
 *   <dir>/<name>.<tag>-stray/                               logs no topic owns,
 *                                                           kept for the operator
 *
 * Only the broker loop thread calls these functions. */
#ifndef RILL_STORAGE_STORE_H
#define RILL_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct storage_store;
struct storage_index;

/* Opens the store over dirs (created if missing). Returns 0 or a
 * RILL_ERR_*, with a description in errbuf. */
int storage_store_open(const char *const *dirs, size_t ndirs, struct storage_store **out,
                       char *errbuf, size_t errlen);

/* Flushes every open log, waits for the fsyncs, closes everything. */
void storage_store_close(struct storage_store *store);

/* Descriptors that become readable when background work finished; the loop
 * watches them and calls storage_store_reap(). */
size_t storage_store_notify_fds(const struct storage_store *store, int *fds, size_t max);
void storage_store_reap(struct storage_store *store);

/* Waits for every queued fsync and deletion to finish (shutdown, tests). */
void storage_store_drain(struct storage_store *store);

/* Calls fn for every partition directory name found on disk (e.g.
 * "orders-3"), excluding directories being deleted. */
int storage_store_list(struct storage_store *store,
                       void (*fn)(void *ctx, const char *name, const char *dir), void *ctx);

/* The log directory that holds log name, or, for a new log, the directory
 * holding fewest logs. */
const char *storage_store_dir_for(struct storage_store *store, const char *name);

/* Moves the partition directory dir/name out of the way and forgets its
 * index keys: with remove, as "<name>.<tag>-delete", removed in the
 * background; without, as "<name>.<tag>-stray", left for the operator. The
 * rename is durable before this returns. Returns 0 or a RILL_ERR_*. */
int storage_store_set_aside(struct storage_store *store, const char *dir, const char *name,
                            const char *tag, bool remove);

/* Replaces dir/name with len bytes of data, atomically and durably: a
 * temporary file written and fsynced, renamed over name, the directory
 * fsynced. After a crash the file is either the old one or the new one.
 * Returns 0, RILL_ERR_NOSPC or another RILL_ERR_*. */
int storage_write_file_durably(const char *dir, const char *name, const void *data,
                               size_t len);

struct storage_job;
/* Runs job on the background worker that deletes files (its run() off the
 * loop, its done() back on the loop, reaped with the rest): for slow
 * one-off writes such as a metadata snapshot. */
void storage_store_submit(struct storage_store *store, struct storage_job *job);

struct storage_index *storage_store_index(struct storage_store *store);

/* Whether a failed fsync took dir offline (storage/log.h). */
bool storage_store_dir_offline(const struct storage_store *store, const char *dir);

#endif
