/* The namespace changes a power cut would lose: creates, unlinks and
 * renames made since their directory's last fsync (the power-loss
 * filesystem, tests/powerloss/powerloss.c, applies them to the backing
 * tree at once and keeps how to undo them here).
 *
 * An unlinked (or rename-replaced) file is not removed but moved into the
 * trash directory, so that a crash can bring it back; fsync of its
 * directory removes it for good. A rename is durable once both of its
 * directories have been fsynced. journal_crash undoes every change not yet
 * durable, newest first.
 *
 * Paths are relative to the backing root (no leading slash); every
 * operation works through the backing root's directory descriptor. */
#ifndef RILL_TESTS_POWERLOSS_JOURNAL_H
#define RILL_TESTS_POWERLOSS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#define JOURNAL_TRASH ".powerloss-trash"

enum journal_kind { JOURNAL_CREATE, JOURNAL_MKDIR, JOURNAL_UNLINK, JOURNAL_RENAME };

struct journal_entry {
    struct journal_entry *prev, *next;
    enum journal_kind kind;
    char *path;          /* create/mkdir/unlink: the name; rename: the new name */
    char *from;          /* rename: the old name */
    char *trash;         /* unlink: where the file waits; rename: the replaced target, or NULL */
    bool synced_to;      /* rename: the new name's directory was fsynced */
    bool synced_from;    /* rename: the old name's directory was fsynced */
};

struct journal {
    int root_fd;
    struct journal_entry *head, *tail; /* oldest first */
    size_t entries;
    unsigned long trash_seq;
};

/* Opens the trash directory under root_fd (created if missing, emptied).
 * Returns 0 or -errno. */
int journal_init(struct journal *j, int root_fd);
void journal_free(struct journal *j);

/* Each records a change already made to the backing tree. 0 or -ENOMEM. */
int journal_created(struct journal *j, const char *path, bool dir);

/* Moves path into the trash (instead of unlinking it) and records it.
 * Returns 0 or -errno. */
int journal_unlink(struct journal *j, const char *path);

/* Renames from to to, moving a replaced target into the trash, and
 * records it. Returns 0 or -errno. */
int journal_rename(struct journal *j, const char *from, const char *to);

/* The directory dir ("" for the root) was fsynced: the changes of names
 * in it become durable (trash is emptied for them). */
void journal_dir_synced(struct journal *j, const char *dir);

/* Undoes every change not yet durable, newest first. Returns how many. */
size_t journal_crash(struct journal *j);

/* The directory part of path ("" for a name in the root). Writes into buf. */
const char *journal_parent(const char *path, char *buf, size_t len);

#endif
