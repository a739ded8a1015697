/* What a file has been told since its last fsync: the writes and
 * truncates a power cut would lose, in the order they were made (the page
 * cache of the power-loss filesystem, tests/powerloss/powerloss.c).
 *
 * The backing file holds the synced state only. A read sees the backing
 * bytes with the log applied over them; fsync applies the log to the
 * backing file and syncs it; a crash drops the log, or keeps only a prefix
 * of its bytes when a torn write is being simulated.
 *
 * Invariant: size is the file's size as the application sees it, i.e. the
 * backing size with every entry applied in order. */
#ifndef RILL_TESTS_POWERLOSS_UNSYNCED_H
#define RILL_TESTS_POWERLOSS_UNSYNCED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct unsynced_entry {
    struct unsynced_entry *next;
    off_t offset;   /* a write at offset, or a truncate to offset */
    size_t len;     /* bytes written; 0 marks a truncate */
    uint8_t data[];
};

struct unsynced {
    struct unsynced_entry *head, *tail;
    size_t entries;
    size_t bytes;   /* written bytes held */
    off_t size;     /* the size the application sees */
};

/* Starts an empty log over a backing file of backing_size bytes. */
void unsynced_init(struct unsynced *u, off_t backing_size);

/* Frees the log (the unsynced bytes are lost). */
void unsynced_drop(struct unsynced *u);

/* Records a write or a truncate. Returns 0 or -ENOMEM. */
int unsynced_write(struct unsynced *u, off_t offset, const void *buf, size_t len);
int unsynced_truncate(struct unsynced *u, off_t size);

/* Reads len bytes at offset as the application sees them (backing bytes
 * from fd with the log over them). Returns the bytes read or -errno. */
ssize_t unsynced_read(const struct unsynced *u, int fd, void *buf, size_t len, off_t offset);

/* Applies the log to fd in order, at most keep_bytes written bytes of it
 * (SIZE_MAX: all; a write is cut where the budget ends), then empties it.
 * Returns 0 or -errno (the log is emptied either way). */
int unsynced_apply(struct unsynced *u, int fd, size_t keep_bytes);

#endif
