/* The quorum-state file: the Raft term, the vote of that term and a lower
 * bound of the commit index, kept beside the metadata log
 * (<log dir>/__cluster_metadata-0/quorum-state) as KRaft does.
 *
 * Raft's safety rests on this file: a node that forgot its vote could vote
 * twice in a term. It is therefore replaced atomically and durably before
 * any message that depends on it leaves the node (write a temporary file,
 * fsync, rename over the old one, fsync the directory), and never kept in
 * the RocksDB index, which is not synced.
 *
 * Format (text, one key per line, unknown keys refused):
 *     version: 1
 *     term: 7
 *     voted_for: 2          (-1: none this term)
 *     commit: 1042          (Raft index; a lower bound, may lag) */
#ifndef RILL_BROKER_QUORUM_QUORUM_STATE_H
#define RILL_BROKER_QUORUM_QUORUM_STATE_H

#include "raft/raft.h"

#define QUORUM_STATE_FILE "quorum-state"

/* Reads dir's quorum-state into hs. A missing file is a fresh node: term
 * 0, no vote, commit 0, and RILL_ERR_NOT_FOUND. A file that does not parse
 * is RILL_ERR_CORRUPT (the node must not guess its vote). */
int quorum_state_read(const char *dir, struct raft_hard_state *hs);

/* Replaces dir's quorum-state with hs, durably. Returns 0 or a RILL_ERR_*. */
int quorum_state_write(const char *dir, const struct raft_hard_state *hs);

#endif
