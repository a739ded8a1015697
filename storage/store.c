#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "storage/log_internal.h"

static const char store_index_dir[] = "rill-index";

int store_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rill_err_from_errno(errno);
    int rc = fsync(fd) == 0 ? RILL_OK : rill_err_from_errno(errno);
    close(fd);
    return rc;
}

int storage_write_file_durably(const char *dir, const char *name, const void *data,
                               size_t len)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rill_err_from_errno(errno);
    int rc = RILL_OK;
    if (write(fd, data, len) != (ssize_t)len)
        rc = errno == ENOSPC ? RILL_ERR_NOSPC : RILL_ERR_IO;
    else if (fsync(fd) != 0)
        rc = rill_err_from_errno(errno);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = rill_err_from_errno(errno);
    if (rc == 0)
        rc = store_sync_dir(dir);
    if (rc != 0)
        (void)unlink(tmp);
    return rc;
}

/* mkdir -p, making every directory it creates durable in its parent: a
 * log directory that a power cut can take back takes every record in it
 * along, acknowledged or not. */
static int store_mkdirs(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return RILL_ERR_INVALID;
    size_t len = (size_t)n;
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) == 0) {
            char parent[4096];
            const char *slash = strrchr(tmp, '/');
            if (slash == NULL)
                snprintf(parent, sizeof(parent), ".");
            else if (slash == tmp)
                snprintf(parent, sizeof(parent), "/");
            else
                snprintf(parent, sizeof(parent), "%.*s", (int)(slash - tmp), tmp);
            int rc = store_sync_dir(parent);
            if (rc != 0)
                return rc;
        } else if (errno != EEXIST) {
            return rill_err_from_errno(errno);
        }
        tmp[i] = saved;
    }
    return RILL_OK;
}

/* A partition directory is "<topic>-<partition>"; deleted ones carry a
 * "-delete" suffix and are finished off at start-up. */
static bool store_is_log_dir(const char *name)
{
    const char *dash = strrchr(name, '-');
    if (dash == NULL || dash == name || dash[1] == '\0')
        return false;
    for (const char *p = dash + 1; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static bool store_is_deleted_dir(const char *name)
{
    size_t n = strlen(name);
    return n > 7 && strcmp(name + n - 7, "-delete") == 0;
}

int storage_store_open(const char *const *dirs, size_t ndirs, struct storage_store **out,
                       char *errbuf, size_t errlen)
{
    if (ndirs == 0) {
        snprintf(errbuf, errlen, "no log directory configured");
        return RILL_ERR_CONFIG;
    }
    struct storage_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return RILL_ERR_NOMEM;
    int rc = RILL_ERR_NOMEM;
    store->dirs = calloc(ndirs, sizeof(char *));
    store->dir_logs = calloc(ndirs, sizeof(size_t));
    store->dir_offline = calloc(ndirs, sizeof(bool));
    if (store->dirs == NULL || store->dir_logs == NULL || store->dir_offline == NULL)
        goto fail;
    store->ndirs = ndirs;
    for (size_t i = 0; i < ndirs; i++) {
        store->dirs[i] = strdup(dirs[i]);
        if (store->dirs[i] == NULL)
            goto fail;
        rc = store_mkdirs(dirs[i]);
        if (rc != 0) {
            snprintf(errbuf, errlen, "cannot create log directory %s: %s", dirs[i],
                     rill_strerror(rc));
            goto fail;
        }
        if (access(dirs[i], W_OK) != 0) {
            rc = RILL_ERR_IO;
            snprintf(errbuf, errlen, "log directory %s is not writable: %s", dirs[i],
                     strerror(errno));
            goto fail;
        }
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dirs[0], store_index_dir);
    char *dberr = NULL;
    rc = storage_index_open(path, &store->index, &dberr);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot open the index at %s: %s", path,
                 dberr ? dberr : rill_strerror(rc));
        free(dberr);
        goto fail;
    }
    rc = storage_worker_start("rill-flush", &store->flusher);
    if (rc == 0)
        rc = storage_worker_start("rill-janitor", &store->janitor);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot start storage threads: %s", rill_strerror(rc));
        goto fail;
    }
    /* Finish deletions that a previous run started. */
    for (size_t i = 0; i < ndirs; i++) {
        DIR *d = opendir(dirs[i]);
        if (d == NULL)
            continue;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!store_is_deleted_dir(de->d_name))
                continue;
            snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
            store_remove_tree(store, path);
        }
        closedir(d);
    }
    *out = store;
    return RILL_OK;

fail:
    storage_store_close(store);
    return rc;
}

void storage_store_close(struct storage_store *store)
{
    if (store == NULL)
        return;
    storage_worker_stop(store->flusher);
    storage_worker_stop(store->janitor);
    storage_index_close(store->index);
    for (size_t i = 0; i < store->ndirs; i++)
        free(store->dirs ? store->dirs[i] : NULL);
    free(store->dirs);
    free(store->dir_logs);
    free(store->dir_offline);
    free(store);
}

static ssize_t store_dir_index(const struct storage_store *store, const char *dir)
{
    for (size_t i = 0; i < store->ndirs; i++)
        if (strcmp(store->dirs[i], dir) == 0)
            return (ssize_t)i;
    return -1;
}

void store_dir_failed(struct storage_store *store, const char *dir, int rc)
{
    ssize_t i = store_dir_index(store, dir);
    if (i < 0 || store->dir_offline[i])
        return;
    store->dir_offline[i] = true;
    log_error("storage", "log directory %s is offline: an fsync failed (%s), so what it was to "
              "make durable may be lost and no later fsync there can be trusted; its partitions "
              "answer KAFKA_STORAGE_ERROR until the broker restarts on a sound disk",
              dir, rill_strerror(rc));
}

bool storage_store_dir_offline(const struct storage_store *store, const char *dir)
{
    ssize_t i = store_dir_index(store, dir);
    return i >= 0 && store->dir_offline[i];
}

size_t storage_store_notify_fds(const struct storage_store *store, int *fds, size_t max)
{
    size_t n = 0;
    if (n < max)
        fds[n++] = storage_worker_notify_fd(store->flusher);
    if (n < max)
        fds[n++] = storage_worker_notify_fd(store->janitor);
    return n;
}

void storage_store_reap(struct storage_store *store)
{
    storage_worker_reap(store->flusher);
    storage_worker_reap(store->janitor);
}

void storage_store_drain(struct storage_store *store)
{
    storage_worker_drain(store->flusher);
    storage_worker_drain(store->janitor);
}

int storage_store_list(struct storage_store *store,
                       void (*fn)(void *ctx, const char *name, const char *dir), void *ctx)
{
    for (size_t i = 0; i < store->ndirs; i++) {
        DIR *d = opendir(store->dirs[i]);
        if (d == NULL)
            return rill_err_from_errno(errno);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || store_is_deleted_dir(de->d_name) ||
                !store_is_log_dir(de->d_name))
                continue;
            fn(ctx, de->d_name, store->dirs[i]);
        }
        closedir(d);
    }
    return RILL_OK;
}

const char *storage_store_dir_for(struct storage_store *store, const char *name)
{
    char path[4096];
    struct stat st;
    for (size_t i = 0; i < store->ndirs; i++) {
        snprintf(path, sizeof(path), "%s/%s", store->dirs[i], name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return store->dirs[i];
    }
    size_t best = 0;
    for (size_t i = 1; i < store->ndirs; i++)
        if (store->dir_logs[i] < store->dir_logs[best])
            best = i;
    return store->dirs[best];
}

struct storage_index *storage_store_index(struct storage_store *store)
{
    return store->index;
}

void store_log_added(struct storage_store *store, const char *dir)
{
    for (size_t i = 0; i < store->ndirs; i++)
        if (strcmp(store->dirs[i], dir) == 0)
            store->dir_logs[i]++;
}

void store_log_removed(struct storage_store *store, const char *dir)
{
    for (size_t i = 0; i < store->ndirs; i++)
        if (strcmp(store->dirs[i], dir) == 0 && store->dir_logs[i] > 0)
            store->dir_logs[i]--;
}

struct remove_job {
    struct storage_job job;
    char path[];
};

/* Removes a file, or a directory and the files in it (logs are flat). */
static int remove_job_run(struct storage_job *job)
{
    struct remove_job *rj = (struct remove_job *)job;
    struct stat st;
    if (lstat(rj->path, &st) != 0)
        return errno == ENOENT ? RILL_OK : rill_err_from_errno(errno);
    if (!S_ISDIR(st.st_mode))
        return unlink(rj->path) == 0 ? RILL_OK : rill_err_from_errno(errno);
    DIR *d = opendir(rj->path);
    if (d == NULL)
        return rill_err_from_errno(errno);
    struct dirent *de;
    char file[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", rj->path, de->d_name);
        (void)unlink(file);
    }
    closedir(d);
    return rmdir(rj->path) == 0 ? RILL_OK : rill_err_from_errno(errno);
}

static void remove_job_done(struct storage_job *job)
{
    struct remove_job *rj = (struct remove_job *)job;
    if (job->result != 0)
        log_warn("storage", "cannot remove %s: %s", rj->path, rill_strerror(job->result));
    free(rj);
}

void storage_store_submit(struct storage_store *store, struct storage_job *job)
{
    storage_worker_submit(store->janitor, job);
}

void store_remove_tree(struct storage_store *store, const char *path)
{
    size_t n = strlen(path) + 1;
    struct remove_job *rj = calloc(1, sizeof(*rj) + n);
    if (rj == NULL)
        return;
    memcpy(rj->path, path, n);
    rj->job.run = remove_job_run;
    rj->job.done = remove_job_done;
    storage_worker_submit(store->janitor, &rj->job);
}

int storage_store_set_aside(struct storage_store *store, const char *dir, const char *name,
                            const char *tag, bool remove)
{
    char from[4200], to[4300];
    snprintf(from, sizeof(from), "%s/%s", dir, name);
    const char *kind = remove ? "delete" : "stray";
    int rc = RILL_ERR_EXISTS;
    /* A name set aside before (the same topic's directory back after a
     * power cut undid its removal) gets a counter instead of a clash. */
    for (unsigned attempt = 0; attempt < LIMIT_SET_ASIDE_ATTEMPTS; attempt++) {
        if (attempt == 0)
            snprintf(to, sizeof(to), "%s.%s-%s", from, tag, kind);
        else
            snprintf(to, sizeof(to), "%s.%s.%u-%s", from, tag, attempt, kind);
        if (rename(from, to) == 0) {
            rc = RILL_OK;
            break;
        }
        if (errno != EEXIST && errno != ENOTEMPTY) {
            rc = rill_err_from_errno(errno);
            break;
        }
    }
    if (rc != 0) {
        log_error("storage", "cannot set %s aside: %s", from, rill_strerror(rc));
        return rc;
    }
    rc = store_sync_dir(dir);
    if (rc != 0)
        return rc;
    uint64_t log_id;
    if (storage_index_log_id(store->index, name, 0, &log_id) == 0)
        rc = storage_index_log_forget(store->index, name, log_id);
    if (remove)
        store_remove_tree(store, to);
    return rc;
}
