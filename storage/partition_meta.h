/* partition.metadata: the small file in every partition directory that
 * names the topic id the directory belongs to, in Kafka's format (KIP-516):
 *
 *     version: 0
 *     topic_id: <the 16-byte id in URL-safe base64, no padding>
 *
 * A directory is found by name ("orders-3"), but a name can be reused by a
 * topic created after the first one was deleted; the id in this file is
 * what says which topic the segments belong to, so that a directory is
 * never silently taken over by a different topic of the same name.
 *
 * The file is written atomically: a temporary file, fsync, rename, fsync
 * of the directory. */
#ifndef RILL_STORAGE_PARTITION_META_H
#define RILL_STORAGE_PARTITION_META_H

#include <stddef.h>
#include <stdint.h>

#define STORAGE_PARTITION_META_FILE "partition.metadata"
#define STORAGE_TOPIC_ID_BYTES 16

/* Reads the topic id of the partition directory at path. Returns 0,
 * RILL_ERR_NOT_FOUND when the directory has no partition.metadata,
 * RILL_ERR_CORRUPT when the file does not parse, or RILL_ERR_IO. */
int storage_partition_meta_read(const char *path, uint8_t id[STORAGE_TOPIC_ID_BYTES]);

/* Writes (or replaces) path's partition.metadata durably. Returns 0 or a
 * RILL_ERR_*. */
int storage_partition_meta_write(const char *path, const uint8_t id[STORAGE_TOPIC_ID_BYTES]);

/* Formats id as Kafka prints topic ids: 22 characters of URL-safe base64
 * without padding, NUL-terminated (out needs 23 bytes). */
void storage_topic_id_format(const uint8_t id[STORAGE_TOPIC_ID_BYTES], char out[23]);

/* Parses that form back. Returns 0 or RILL_ERR_PARSE. */
int storage_topic_id_parse(const char *text, size_t len, uint8_t id[STORAGE_TOPIC_ID_BYTES]);

#endif
