/* Segment files: "<20-digit base offset>.log" inside the partition's
 * directory, a plain concatenation of record batches. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/checked.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/kafka_wire.h"
#include "proto/record_batch.h"
#include "storage/log_internal.h"

void segment_file_name(char *buf, size_t len, const char *path, int64_t base_offset)
{
    snprintf(buf, len, "%s/%020" PRId64 ".log", path, base_offset);
}

int segment_open(const char *path, int64_t base_offset, bool create, int *fd)
{
    char file[4096];
    segment_file_name(file, sizeof(file), path, base_offset);
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int f = open(file, flags, 0644);
    if (f < 0)
        return rill_err_from_errno(errno);
    *fd = f;
    return RILL_OK;
}

int segment_pread(int fd, void *buf, size_t len, int64_t position)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)position + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return RILL_ERR_IO;
        }
        if (n == 0)
            return RILL_ERR_IO; /* file shorter than expected */
        done += (size_t)n;
    }
    return RILL_OK;
}

int segment_scan(int fd, int64_t position, int64_t end,
                 int (*fn)(void *ctx, const struct segment_batch *b), void *ctx,
                 int64_t *stop_pos)
{
    uint8_t *chunk = malloc(LIMIT_SCAN_CHUNK_BYTES);
    if (chunk == NULL)
        return RILL_ERR_NOMEM;
    int64_t chunk_pos = -1; /* file position of chunk[0] */
    size_t chunk_len = 0;
    int rc = 0;
    while (position < end) {
        if (end - position < RB_HEADER_BYTES)
            break; /* a torn header */
        if (chunk_pos < 0 || position < chunk_pos ||
            position + RB_HEADER_BYTES > chunk_pos + (int64_t)chunk_len) {
            int64_t want = end - position;
            if (want > (int64_t)LIMIT_SCAN_CHUNK_BYTES)
                want = LIMIT_SCAN_CHUNK_BYTES;
            ssize_t n;
            do {
                n = pread(fd, chunk, (size_t)want, (off_t)position);
            } while (n < 0 && errno == EINTR);
            if (n < 0) {
                rc = RILL_ERR_IO;
                break;
            }
            chunk_pos = position;
            chunk_len = (size_t)n;
            if (chunk_len < RB_HEADER_BYTES)
                break;
        }
        const uint8_t *h = chunk + (position - chunk_pos);
        int64_t size = record_batch_total_size(h, RB_HEADER_BYTES);
        if (size < RB_HEADER_BYTES || position + size > end || h[RB_MAGIC] != 2)
            break;
        struct record_batch_header hdr;
        record_batch_header_read(h, &hdr);
        int64_t last_offset;
        /* baseOffset is outside the CRC: a damaged one must not overflow. */
        if (hdr.last_offset_delta < 0 ||
            !checked_add_i64(hdr.base_offset, hdr.last_offset_delta, &last_offset))
            break;
        struct segment_batch b = {
            .position = position,
            .base_offset = hdr.base_offset,
            .last_offset = last_offset,
            .size = size,
            .max_timestamp = hdr.max_timestamp,
            .attributes = hdr.attributes,
            .producer_id = hdr.producer_id,
            .producer_epoch = hdr.producer_epoch,
            .base_sequence = hdr.base_sequence,
        };
        rc = fn(ctx, &b);
        if (rc != 0)
            break;
        position += size;
    }
    free(chunk);
    if (stop_pos != NULL)
        *stop_pos = position;
    return rc;
}
