#include "tests/powerloss/unsynced.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void unsynced_init(struct unsynced *u, off_t backing_size)
{
    memset(u, 0, sizeof(*u));
    u->size = backing_size;
}

void unsynced_drop(struct unsynced *u)
{
    struct unsynced_entry *e = u->head;
    while (e != NULL) {
        struct unsynced_entry *next = e->next;
        free(e);
        e = next;
    }
    u->head = u->tail = NULL;
    u->entries = 0;
    u->bytes = 0;
}

static int unsynced_push(struct unsynced *u, off_t offset, const void *buf, size_t len)
{
    struct unsynced_entry *e = malloc(sizeof(*e) + len);
    if (e == NULL)
        return -ENOMEM;
    e->next = NULL;
    e->offset = offset;
    e->len = len;
    if (len > 0)
        memcpy(e->data, buf, len);
    if (u->tail != NULL)
        u->tail->next = e;
    else
        u->head = e;
    u->tail = e;
    u->entries++;
    u->bytes += len;
    return 0;
}

int unsynced_write(struct unsynced *u, off_t offset, const void *buf, size_t len)
{
    if (len == 0)
        return 0;
    int rc = unsynced_push(u, offset, buf, len);
    if (rc == 0 && offset + (off_t)len > u->size)
        u->size = offset + (off_t)len;
    return rc;
}

int unsynced_truncate(struct unsynced *u, off_t size)
{
    int rc = unsynced_push(u, size, NULL, 0);
    if (rc == 0)
        u->size = size;
    return rc;
}

ssize_t unsynced_read(const struct unsynced *u, int fd, void *buf, size_t len, off_t offset)
{
    if (offset >= u->size)
        return 0;
    if ((off_t)len > u->size - offset)
        len = (size_t)(u->size - offset);
    uint8_t *out = buf;
    /* The backing bytes first (zeros past its end), then every entry in
     * the order it was made: a truncate zeroes what lies past it. */
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, out + done, len - done, offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    memset(out + done, 0, len - done);
    off_t end = offset + (off_t)len;
    for (const struct unsynced_entry *e = u->head; e != NULL; e = e->next) {
        if (e->len == 0) {
            if (e->offset < end) {
                off_t from = e->offset > offset ? e->offset : offset;
                memset(out + (from - offset), 0, (size_t)(end - from));
            }
            continue;
        }
        off_t lo = e->offset > offset ? e->offset : offset;
        off_t hi = e->offset + (off_t)e->len < end ? e->offset + (off_t)e->len : end;
        if (lo < hi)
            memcpy(out + (lo - offset), e->data + (lo - e->offset), (size_t)(hi - lo));
    }
    return (ssize_t)len;
}

static int unsynced_pwrite_all(int fd, const uint8_t *buf, size_t len, off_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, buf + done, len - done, offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

int unsynced_apply(struct unsynced *u, int fd, size_t keep_bytes)
{
    int rc = 0;
    /* A power cut mid-writeback stops everything after the cut. */
    for (const struct unsynced_entry *e = u->head; e != NULL && rc == 0 && keep_bytes > 0;
         e = e->next) {
        if (e->len == 0) {
            if (ftruncate(fd, e->offset) != 0)
                rc = -errno;
            continue;
        }
        size_t n = e->len < keep_bytes ? e->len : keep_bytes;
        rc = unsynced_pwrite_all(fd, e->data, n, e->offset);
        keep_bytes -= n;
    }
    unsynced_drop(u);
    return rc;
}
