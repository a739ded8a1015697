/* Snapshots of the metadata image: the image at one Raft entry as a
 * zstd-compressed MetadataSnapshot (proto/metadata.proto), so that a node
 * loads it instead of replaying the log before it, and a follower whose
 * fetch position the leader deleted installs it.
 *
 * Decoding rebuilds the image by applying the snapshot's records to an
 * empty one (so every check of metadata_image_apply holds for it too), then
 * restores what records alone cannot say: broker fencing and registration
 * versions, the image version and the producer-id reservation. The result
 * has the same metadata_image_digest as the image that was encoded; topic
 * versions (local bookkeeping) all become the snapshot's version.
 *
 * Pure: no IO, no clock. */
#ifndef RILL_METADATA_SNAPSHOT_H
#define RILL_METADATA_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/image.h"

/* Where a snapshot sits in the metadata log. */
struct metadata_snapshot_meta {
    uint64_t raft_index; /* the last entry it covers */
    uint64_t raft_term;  /* that entry's term */
    int64_t next_offset; /* the log offset after that entry */
};

/* Encodes image as of meta. *out is malloc'd (the caller frees it).
 * Returns 0 or RILL_ERR_NOMEM. */
int metadata_snapshot_encode(const struct metadata_image *image,
                             const struct metadata_snapshot_meta *meta, uint8_t **out,
                             size_t *len);

/* Decodes a snapshot into image (initialised and empty; freed and left
 * empty on failure). Returns 0, RILL_ERR_CORRUPT (not a snapshot, or one
 * whose records the image refuses), RILL_ERR_TOO_LARGE (it inflates past
 * LIMIT_METADATA_SNAPSHOT_BYTES) or RILL_ERR_NOMEM. */
int metadata_snapshot_decode(const uint8_t *data, size_t len,
                             struct metadata_snapshot_meta *meta, struct metadata_image *image);

#endif
