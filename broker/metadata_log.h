/* The metadata log: committed cluster metadata records, stored as record
 * batches in the internal log "__cluster_metadata-0" (protobuf-encoded
 * MetadataRecord values), and the image built by applying them in order.
 *
 * Changes are proposed, made durable, then applied, and only then do their
 * proposers hear back: the same propose -> commit -> apply path the Raft
 * quorum will drive, with commit meaning "fsynced on this node" until then.
 * Every applied record is also handed to the broker (topics_on_record) so
 * partitions open and close as the image changes. */
#ifndef RILL_BROKER_METADATA_LOG_H
#define RILL_BROKER_METADATA_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/image.h"
#include "proto/metadata.pb-c.h"

struct broker;
struct metadata_log;

/* Called once the proposed records are committed and applied; rc is 0 or a
 * RILL_ERR_* when they could not be written. */
typedef void (*metadata_applied_fn)(void *ctx, int rc);

/* Opens the log and replays it into a fresh image. */
int metadata_log_open(struct broker *b, struct metadata_log **out);
void metadata_log_close(struct metadata_log *ml);

/* Tells every proposer still waiting that its records will not be applied
 * (RILL_ERR_CLOSED): the first step of shutting down, while the rest of the
 * broker can still take the callbacks. */
void metadata_log_abort_pending(struct metadata_log *ml);

const struct metadata_image *metadata_log_image(const struct metadata_log *ml);

/* Proposes records (applied atomically, in order). fn runs later, from the
 * loop, never from inside this call. Returns 0 or a RILL_ERR_* (then fn is
 * not called). */
int metadata_log_propose(struct metadata_log *ml, Rill__Metadata__MetadataRecord *const *recs,
                         size_t n, metadata_applied_fn fn, void *ctx);

#endif
