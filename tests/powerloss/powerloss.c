/* rill-powerloss: a FUSE filesystem that loses what a power cut loses.
 *
 *   rill-powerloss BACKING MOUNTPOINT   (scripts/powerloss drives it)
 *
 * Everything passes through to the BACKING directory, except that the
 * writes and truncates made to a file since its last fsync/fdatasync are
 * held in memory (tests/powerloss/unsynced.h) and the creates, unlinks and
 * renames made since their directory's last fsync are kept undoable
 * (tests/powerloss/journal.h): the backing tree always holds exactly the
 * state a power cut would leave. The approach is Jepsen's LazyFS.
 *
 * Control is through extended attributes of the mount's root, so that
 * nothing but the application's files appears in the tree:
 *   user.powerloss.crash   (set)  drop everything unsynced, as a power cut
 *                                 would; the mount stays and shows the
 *                                 state after the cut. Nothing may have a
 *                                 file open (kill the application first).
 *   user.powerloss.fault   (set)  "KIND PATTERN [ARG]": fsync-eio (the next
 *                                 fsync of a matching file fails with EIO
 *                                 and its unsynced data is lost, as Linux
 *                                 drops dirty pages after a writeback
 *                                 error), enospc (writes and creates fail
 *                                 with ENOSPC until cleared), torn (at the
 *                                 next crash, the first ARG unsynced bytes
 *                                 of a matching file survive: a write torn
 *                                 mid-flight);
 *   user.powerloss.clear   (set)  remove every fault;
 *   user.powerloss.stats   (get)  "unsynced_bytes=N files=N journal=N
 *                                 crashes=N faults_hit=N";
 *   user.powerloss.journal (get)  the namespace changes a crash would
 *                                 undo, one a line ("mkdir data").
 * PATTERN is an fnmatch(3) pattern over the path below the mount ('*'
 * crosses '/').
 *
 * Single-threaded (the FUSE loop handles one request at a time), so no
 * locks; the kernel caches neither attributes nor names, and reopening a
 * file drops its cached pages, so after a crash the kernel sees the new
 * state at once. */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/powerloss/journal.h"
#include "tests/powerloss/unsynced.h"

#define XATTR_PREFIX "user.powerloss."
#define MAX_FAULTS 16

/* A backing file with unsynced data, by inode (it survives renames and
 * the closing of every descriptor, as the page cache does). */
struct node {
    struct node *next;
    ino_t ino;
    int fd;                 /* a backing descriptor to apply the log through */
    char *path;             /* its latest name, for fault patterns */
    struct unsynced log;
};

struct handle {
    int fd;
    ino_t ino;
};

enum fault_kind { FAULT_FSYNC_EIO, FAULT_ENOSPC, FAULT_TORN };

struct fault {
    enum fault_kind kind;
    char pattern[256];
    size_t arg;
};

struct powerloss {
    int root_fd;
    struct journal journal;
    struct node *nodes;
    struct fault faults[MAX_FAULTS];
    size_t nfaults;
    unsigned long crashes;
    unsigned long faults_hit;
};

static struct powerloss *pl_state(void)
{
    return fuse_get_context()->private_data;
}

/* "/a/b" -> "a/b"; "/" -> "." */
static const char *pl_rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path != '\0' ? path : ".";
}

static bool pl_hidden(const char *path)
{
    const char *rel = pl_rel(path);
    size_t n = strlen(JOURNAL_TRASH);
    return strncmp(rel, JOURNAL_TRASH, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static struct fault *pl_fault(struct powerloss *pl, enum fault_kind kind, const char *path)
{
    for (size_t i = 0; i < pl->nfaults; i++)
        if (pl->faults[i].kind == kind && fnmatch(pl->faults[i].pattern, pl_rel(path), 0) == 0)
            return &pl->faults[i];
    return NULL;
}

static void pl_fault_remove(struct powerloss *pl, struct fault *f)
{
    size_t i = (size_t)(f - pl->faults);
    memmove(&pl->faults[i], &pl->faults[i + 1], (pl->nfaults - i - 1) * sizeof(*f));
    pl->nfaults--;
}

/* ---- nodes -------------------------------------------------------------- */

static struct node *pl_node_find(struct powerloss *pl, ino_t ino)
{
    for (struct node *n = pl->nodes; n != NULL; n = n->next)
        if (n->ino == ino)
            return n;
    return NULL;
}

/* The node for the file behind fd, created on first use. */
static struct node *pl_node_get(struct powerloss *pl, int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    struct node *n = pl_node_find(pl, st.st_ino);
    if (n != NULL)
        return n;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->fd = dup(fd);
    n->path = strdup(pl_rel(path));
    if (n->fd < 0 || n->path == NULL) {
        if (n->fd >= 0)
            close(n->fd);
        free(n->path);
        free(n);
        return NULL;
    }
    n->ino = st.st_ino;
    unsynced_init(&n->log, st.st_size);
    n->next = pl->nodes;
    pl->nodes = n;
    return n;
}

static void pl_node_free(struct powerloss *pl, struct node *n)
{
    for (struct node **p = &pl->nodes; *p != NULL; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            break;
        }
    }
    unsynced_drop(&n->log);
    close(n->fd);
    free(n->path);
    free(n);
}

static void pl_node_renamed(struct powerloss *pl, const char *to)
{
    struct stat st;
    if (fstatat(pl->root_fd, pl_rel(to), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    struct node *n = pl_node_find(pl, st.st_ino);
    char *copy = n != NULL ? strdup(pl_rel(to)) : NULL;
    if (copy != NULL) {
        free(n->path);
        n->path = copy;
    }
}

/* ---- attributes and names ---------------------------------------------- */

static void *pl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    cfg->hard_remove = 1;
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->kernel_cache = 0;
    return fuse_get_context()->private_data;
}

static int pl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct powerloss *pl = pl_state();
    int rc = fi != NULL ? fstat(((struct handle *)(uintptr_t)fi->fh)->fd, st)
                        : fstatat(pl->root_fd, pl_rel(path), st, AT_SYMLINK_NOFOLLOW);
    if (rc != 0)
        return -errno;
    if (fi == NULL && pl_hidden(path))
        return -ENOENT;
    struct node *n = pl_node_find(pl, st->st_ino);
    if (n != NULL) {
        st->st_size = n->log.size;
        st->st_blocks = (st->st_size + 511) / 512;
    }
    return 0;
}

static int pl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)offset;
    (void)fi;
    (void)flags;
    struct powerloss *pl = pl_state();
    int fd = openat(pl->root_fd, pl_rel(path), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -errno;
    }
    bool root = strcmp(pl_rel(path), ".") == 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (root && strcmp(de->d_name, JOURNAL_TRASH) == 0)
            continue;
        struct stat st = {.st_ino = de->d_ino, .st_mode = (mode_t)DTTOIF(de->d_type)};
        if (fill(buf, de->d_name, &st, 0, 0) != 0)
            break;
    }
    closedir(d);
    return 0;
}

static int pl_mkdir(const char *path, mode_t mode)
{
    struct powerloss *pl = pl_state();
    if (pl_fault(pl, FAULT_ENOSPC, path) != NULL) {
        pl->faults_hit++;
        return -ENOSPC;
    }
    if (mkdirat(pl->root_fd, pl_rel(path), mode) != 0)
        return -errno;
    return journal_created(&pl->journal, pl_rel(path), true);
}

static int pl_unlink(const char *path)
{
    return journal_unlink(&pl_state()->journal, pl_rel(path));
}

static int pl_rmdir(const char *path)
{
    struct powerloss *pl = pl_state();
    int fd = openat(pl->root_fd, pl_rel(path), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    closedir(d);
    if (!empty)
        return -ENOTEMPTY;
    return journal_unlink(&pl->journal, pl_rel(path));
}

static int pl_rename(const char *from, const char *to, unsigned int flags)
{
    struct powerloss *pl = pl_state();
    struct stat st;
    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    if ((flags & RENAME_NOREPLACE) &&
        fstatat(pl->root_fd, pl_rel(to), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return -EEXIST;
    int rc = journal_rename(&pl->journal, pl_rel(from), pl_rel(to));
    if (rc == 0)
        pl_node_renamed(pl, to);
    return rc;
}

static int pl_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    return fchmodat(pl_state()->root_fd, pl_rel(path), mode, 0) == 0 ? 0 : -errno;
}

static int pl_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)fi;
    return utimensat(pl_state()->root_fd, pl_rel(path), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int pl_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return fstatvfs(pl_state()->root_fd, st) == 0 ? 0 : -errno;
}

/* ---- files -------------------------------------------------------------- */

static int pl_handle(struct fuse_file_info *fi, int fd)
{
    struct handle *h = calloc(1, sizeof(*h));
    struct stat st;
    if (h == NULL || fstat(fd, &st) != 0) {
        free(h);
        close(fd);
        return -ENOMEM;
    }
    h->fd = fd;
    h->ino = st.st_ino;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static struct handle *pl_fh(struct fuse_file_info *fi)
{
    return (struct handle *)(uintptr_t)fi->fh;
}

static int pl_open(const char *path, struct fuse_file_info *fi)
{
    struct powerloss *pl = pl_state();
    /* Always read-write underneath: reads merge the log, fsync applies it.
     * O_TRUNC becomes an unsynced truncate. */
    int flags = (fi->flags & ~(O_ACCMODE | O_TRUNC | O_APPEND | O_CREAT | O_EXCL)) | O_RDWR;
    int fd = openat(pl->root_fd, pl_rel(path), flags);
    if (fd < 0 && errno == EACCES)
        fd = openat(pl->root_fd, pl_rel(path), (flags & ~O_RDWR) | O_RDONLY);
    if (fd < 0)
        return -errno;
    if (fi->flags & O_TRUNC) {
        struct node *n = pl_node_get(pl, fd, path);
        if (n == NULL || unsynced_truncate(&n->log, 0) != 0) {
            close(fd);
            return -ENOMEM;
        }
    }
    return pl_handle(fi, fd);
}

static int pl_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct powerloss *pl = pl_state();
    if (pl_fault(pl, FAULT_ENOSPC, path) != NULL) {
        pl->faults_hit++;
        return -ENOSPC;
    }
    int fd = openat(pl->root_fd, pl_rel(path), O_RDWR | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -errno;
    int rc = journal_created(&pl->journal, pl_rel(path), false);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return pl_handle(fi, fd);
}

static int pl_read(const char *path, char *buf, size_t size, off_t offset,
                   struct fuse_file_info *fi)
{
    (void)path;
    struct powerloss *pl = pl_state();
    struct handle *h = pl_fh(fi);
    struct node *n = pl_node_find(pl, h->ino);
    if (n != NULL)
        return (int)unsynced_read(&n->log, h->fd, buf, size, offset);
    ssize_t got = pread(h->fd, buf, size, offset);
    return got >= 0 ? (int)got : -errno;
}

static int pl_write(const char *path, const char *buf, size_t size, off_t offset,
                    struct fuse_file_info *fi)
{
    struct powerloss *pl = pl_state();
    if (pl_fault(pl, FAULT_ENOSPC, path) != NULL) {
        pl->faults_hit++;
        return -ENOSPC;
    }
    struct node *n = pl_node_get(pl, pl_fh(fi)->fd, path);
    if (n == NULL || unsynced_write(&n->log, offset, buf, size) != 0)
        return -ENOMEM;
    return (int)size;
}

static int pl_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct powerloss *pl = pl_state();
    int fd = fi != NULL ? pl_fh(fi)->fd : openat(pl->root_fd, pl_rel(path), O_RDWR);
    if (fd < 0)
        return -errno;
    struct node *n = pl_node_get(pl, fd, path);
    int rc = n != NULL ? unsynced_truncate(&n->log, size) : -ENOMEM;
    if (fi == NULL)
        close(fd);
    return rc;
}

static int pl_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    struct powerloss *pl = pl_state();
    struct handle *h = pl_fh(fi);
    struct node *n = pl_node_find(pl, h->ino);
    struct fault *f = pl_fault(pl, FAULT_FSYNC_EIO, path);
    if (f != NULL) {
        /* Linux marks the pages clean after a failed writeback: the data
         * is gone, and the next fsync may well succeed. */
        pl->faults_hit++;
        pl_fault_remove(pl, f);
        if (n != NULL)
            pl_node_free(pl, n);
        return -EIO;
    }
    if (n == NULL)
        return 0;
    int rc = unsynced_apply(&n->log, n->fd, SIZE_MAX);
    if (rc == 0 && fsync(n->fd) != 0)
        rc = -errno;
    pl_node_free(pl, n);
    return rc;
}

static int pl_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct handle *h = pl_fh(fi);
    close(h->fd);
    free(h);
    return 0;
}

static int pl_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    struct powerloss *pl = pl_state();
    const char *rel = pl_rel(path);
    journal_dir_synced(&pl->journal, strcmp(rel, ".") == 0 ? "" : rel);
    int fd = openat(pl->root_fd, rel, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* ---- control ------------------------------------------------------------ */

static void pl_crash(struct powerloss *pl)
{
    while (pl->nodes != NULL) {
        struct node *n = pl->nodes;
        struct fault *f = pl_fault(pl, FAULT_TORN, n->path);
        size_t keep = f != NULL ? f->arg : 0;
        if (f != NULL) {
            pl->faults_hit++;
            pl_fault_remove(pl, f);
        }
        if (keep > 0) {
            unsynced_apply(&n->log, n->fd, keep);
            fsync(n->fd);
        }
        pl_node_free(pl, n);
    }
    journal_crash(&pl->journal);
    syncfs(pl->root_fd);
    pl->crashes++;
}

static int pl_set_fault(struct powerloss *pl, const char *value, size_t size)
{
    char text[512];
    if (size >= sizeof(text) || pl->nfaults == MAX_FAULTS)
        return -EINVAL;
    memcpy(text, value, size);
    text[size] = '\0';
    char kind[32];
    struct fault f = {0};
    int fields = sscanf(text, "%31s %255s %zu", kind, f.pattern, &f.arg);
    if (fields < 2)
        return -EINVAL;
    if (strcmp(kind, "fsync-eio") == 0)
        f.kind = FAULT_FSYNC_EIO;
    else if (strcmp(kind, "enospc") == 0)
        f.kind = FAULT_ENOSPC;
    else if (strcmp(kind, "torn") == 0 && fields == 3)
        f.kind = FAULT_TORN;
    else
        return -EINVAL;
    pl->faults[pl->nfaults++] = f;
    return 0;
}

static int pl_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    struct powerloss *pl = pl_state();
    if (strcmp(pl_rel(path), ".") == 0 && strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0) {
        const char *cmd = name + strlen(XATTR_PREFIX);
        if (strcmp(cmd, "crash") == 0) {
            pl_crash(pl);
            return 0;
        }
        if (strcmp(cmd, "fault") == 0)
            return pl_set_fault(pl, value, size);
        if (strcmp(cmd, "clear") == 0) {
            pl->nfaults = 0;
            return 0;
        }
        return -EINVAL;
    }
    char proc[64];
    int fd = openat(pl->root_fd, pl_rel(path), O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int rc = setxattr(proc, name, value, size, flags) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* The namespace changes a crash would undo, oldest first, one a line. */
static int pl_journal_text(struct powerloss *pl, char *value, size_t size)
{
    static const char *const kinds[] = {"create", "mkdir", "unlink", "rename"};
    size_t len = 0;
    for (const struct journal_entry *e = pl->journal.head; e != NULL; e = e->next) {
        char line[8300];
        int n = snprintf(line, sizeof(line), "%s %s%s%s\n", kinds[e->kind],
                         e->from != NULL ? e->from : "", e->from != NULL ? " -> " : "", e->path);
        if (n < 0)
            continue;
        if (size > 0) {
            if (len + (size_t)n > size)
                return -ERANGE;
            memcpy(value + len, line, (size_t)n);
        }
        len += (size_t)n;
    }
    return (int)len;
}

static int pl_getxattr(const char *path, const char *name, char *value, size_t size)
{
    struct powerloss *pl = pl_state();
    if (strcmp(pl_rel(path), ".") == 0 && strcmp(name, XATTR_PREFIX "stats") == 0) {
        size_t bytes = 0, files = 0;
        for (struct node *n = pl->nodes; n != NULL; n = n->next) {
            bytes += n->log.bytes;
            files++;
        }
        char text[256];
        int len = snprintf(text, sizeof(text),
                           "unsynced_bytes=%zu files=%zu journal=%zu crashes=%lu faults_hit=%lu",
                           bytes, files, pl->journal.entries, pl->crashes, pl->faults_hit);
        if (size == 0)
            return len;
        if ((size_t)len > size)
            return -ERANGE;
        memcpy(value, text, (size_t)len);
        return len;
    }
    if (strcmp(pl_rel(path), ".") == 0 && strcmp(name, XATTR_PREFIX "journal") == 0)
        return pl_journal_text(pl, value, size);
    char proc[64];
    int fd = openat(pl->root_fd, pl_rel(path), O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = getxattr(proc, name, value, size);
    int rc = n >= 0 ? (int)n : -errno;
    close(fd);
    return rc;
}

static const struct fuse_operations pl_ops = {
    .init = pl_init,
    .getattr = pl_getattr,
    .readdir = pl_readdir,
    .mkdir = pl_mkdir,
    .unlink = pl_unlink,
    .rmdir = pl_rmdir,
    .rename = pl_rename,
    .chmod = pl_chmod,
    .utimens = pl_utimens,
    .statfs = pl_statfs,
    .open = pl_open,
    .create = pl_create,
    .read = pl_read,
    .write = pl_write,
    .truncate = pl_truncate,
    .fsync = pl_fsync,
    .release = pl_release,
    .fsyncdir = pl_fsyncdir,
    .setxattr = pl_setxattr,
    .getxattr = pl_getxattr,
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rill-powerloss BACKING MOUNTPOINT\n");
        return 2;
    }
    static struct powerloss pl;
    pl.root_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (pl.root_fd < 0) {
        fprintf(stderr, "rill-powerloss: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int rc = journal_init(&pl.journal, pl.root_fd);
    if (rc != 0) {
        fprintf(stderr, "rill-powerloss: cannot make the trash: %s\n", strerror(-rc));
        return 1;
    }
    /* Foreground, one thread, unmounted if this process dies. */
    char *fargv[] = {argv[0], "-f", "-s", "-o", "auto_unmount,fsname=rill-powerloss", argv[2],
                     NULL};
    rc = fuse_main((int)(sizeof(fargv) / sizeof(fargv[0])) - 1, fargv, &pl_ops, &pl);
    journal_free(&pl.journal);
    while (pl.nodes != NULL)
        pl_node_free(&pl, pl.nodes);
    close(pl.root_fd);
    return rc;
}
