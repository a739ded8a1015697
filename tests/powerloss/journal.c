#include "tests/powerloss/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *journal_parent(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash != NULL ? (size_t)(slash - path) : 0;
    if (n >= len)
        n = len - 1;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return buf;
}

/* Removes a tree under dirfd (the undo of a directory create whose
 * children were made durable in it before it was itself). */
static void journal_rmtree(int parent_fd, const char *name)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(parent_fd, name, 0);
        return;
    }
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        if (d != NULL) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                    journal_rmtree(dirfd(d), de->d_name);
            closedir(d);
        } else {
            close(fd);
        }
    }
    unlinkat(parent_fd, name, AT_REMOVEDIR);
}

int journal_init(struct journal *j, int root_fd)
{
    memset(j, 0, sizeof(*j));
    j->root_fd = root_fd;
    journal_rmtree(root_fd, JOURNAL_TRASH);
    if (mkdirat(root_fd, JOURNAL_TRASH, 0700) != 0)
        return -errno;
    return 0;
}

static void journal_entry_free(struct journal_entry *e)
{
    free(e->path);
    free(e->from);
    free(e->trash);
    free(e);
}

static void journal_remove(struct journal *j, struct journal_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        j->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        j->tail = e->prev;
    j->entries--;
    journal_entry_free(e);
}

void journal_free(struct journal *j)
{
    while (j->head != NULL)
        journal_remove(j, j->head);
    journal_rmtree(j->root_fd, JOURNAL_TRASH);
}

static struct journal_entry *journal_add(struct journal *j, enum journal_kind kind,
                                         const char *path, const char *from, char *trash)
{
    struct journal_entry *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->path = strdup(path)) == NULL ||
        (from != NULL && (e->from = strdup(from)) == NULL)) {
        if (e != NULL)
            journal_entry_free(e);
        free(trash);
        return NULL;
    }
    e->kind = kind;
    e->trash = trash;
    e->prev = j->tail;
    if (j->tail != NULL)
        j->tail->next = e;
    else
        j->head = e;
    j->tail = e;
    j->entries++;
    return e;
}

int journal_created(struct journal *j, const char *path, bool dir)
{
    return journal_add(j, dir ? JOURNAL_MKDIR : JOURNAL_CREATE, path, NULL, NULL) ? 0 : -ENOMEM;
}

/* Moves path into the trash; returns the trash name (malloc'd) or NULL
 * with errno set. */
static char *journal_trash(struct journal *j, const char *path)
{
    char name[64 + sizeof(JOURNAL_TRASH)];
    snprintf(name, sizeof(name), "%s/%lu", JOURNAL_TRASH, ++j->trash_seq);
    if (renameat(j->root_fd, path, j->root_fd, name) != 0)
        return NULL;
    char *copy = strdup(name);
    if (copy == NULL)
        renameat(j->root_fd, name, j->root_fd, path);
    return copy;
}

int journal_unlink(struct journal *j, const char *path)
{
    char *trash = journal_trash(j, path);
    if (trash == NULL)
        return -errno;
    if (journal_add(j, JOURNAL_UNLINK, path, NULL, trash) == NULL)
        return -ENOMEM; /* the file stays in the trash: lost, as if unlinked */
    return 0;
}

int journal_rename(struct journal *j, const char *from, const char *to)
{
    struct stat st;
    char *replaced = NULL;
    if (fstatat(j->root_fd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        replaced = journal_trash(j, to);
        if (replaced == NULL)
            return -errno;
    }
    if (renameat(j->root_fd, from, j->root_fd, to) != 0) {
        int err = errno;
        if (replaced != NULL)
            renameat(j->root_fd, replaced, j->root_fd, to);
        free(replaced);
        return -err;
    }
    struct journal_entry *e = journal_add(j, JOURNAL_RENAME, to, from, replaced);
    return e != NULL ? 0 : -ENOMEM;
}

static bool journal_in_dir(const char *path, const char *dir)
{
    char buf[4096];
    return strcmp(journal_parent(path, buf, sizeof(buf)), dir) == 0;
}

void journal_dir_synced(struct journal *j, const char *dir)
{
    struct journal_entry *e = j->head;
    while (e != NULL) {
        struct journal_entry *next = e->next;
        bool durable = false;
        if (e->kind == JOURNAL_RENAME) {
            e->synced_to = e->synced_to || journal_in_dir(e->path, dir);
            e->synced_from = e->synced_from || journal_in_dir(e->from, dir);
            durable = e->synced_to && e->synced_from;
        } else {
            durable = journal_in_dir(e->path, dir);
        }
        if (durable) {
            if (e->trash != NULL)
                journal_rmtree(j->root_fd, e->trash);
            journal_remove(j, e);
        }
        e = next;
    }
}

size_t journal_crash(struct journal *j)
{
    size_t undone = 0;
    while (j->tail != NULL) {
        struct journal_entry *e = j->tail;
        switch (e->kind) {
        case JOURNAL_CREATE:
        case JOURNAL_MKDIR:
            journal_rmtree(j->root_fd, e->path);
            break;
        case JOURNAL_UNLINK:
            renameat(j->root_fd, e->trash, j->root_fd, e->path);
            break;
        case JOURNAL_RENAME:
            renameat(j->root_fd, e->path, j->root_fd, e->from);
            if (e->trash != NULL)
                renameat(j->root_fd, e->trash, j->root_fd, e->path);
            break;
        }
        journal_remove(j, e);
        undone++;
    }
    return undone;
}
