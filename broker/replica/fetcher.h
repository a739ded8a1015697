/* Followers' fetchers: each broker copies the partitions it follows from
 * their leaders with Kafka's Fetch API (v12, ReplicaId set), one
 * connection and one request in flight per leader broker, covering every
 * partition it follows from that leader, as Kafka's replica fetcher
 * threads do. The leader is reached at the endpoint it registered (the
 * inter-broker listener is the client listener, Kafka's default).
 *
 * Protocol per partition:
 *   - every fetch names the follower's log end and the epoch of its last
 *     batch (LastFetchedEpoch); a leader whose history differs answers
 *     DivergingEpoch, the follower truncates to where the two agree
 *     (KIP-279: the smaller of the two epochs' end offsets, asking again
 *     while the epochs differ) and goes on from there; nothing is ever
 *     truncated to the high watermark alone;
 *   - under log.flush.policy=always the next fetch leaves only once every
 *     appended batch (and every truncation) is fsynced, so the offset a
 *     fetch names is what this follower holds durably: the leader counts
 *     it toward the high watermark as such (one fsync covers a whole
 *     fetch: group commit);
 *   - a fetch offset below the leader's log start starts the log over at
 *     the leader's log start; a fenced or unknown epoch waits for the
 *     image to catch up (it is re-assigned then).
 *
 * Only the broker loop thread calls these functions. */
#ifndef RILL_BROKER_REPLICA_FETCHER_H
#define RILL_BROKER_REPLICA_FETCHER_H

#include <stdint.h>

struct broker;
struct partition;
struct replica_fetchers;

int replica_fetchers_open(struct broker *b, struct replica_fetchers **out);
void replica_fetchers_free(struct replica_fetchers *fs);

/* Puts p on the fetcher of its leader when it is a follower with a live
 * leader, takes it off otherwise. */
void replica_fetchers_assign(struct broker *b, struct partition *p);

/* Takes p off its fetcher (it closes). */
void replica_fetchers_release(struct partition *p);

/* p's log became durable: its fetcher may send its next fetch. */
void replica_fetchers_durable(struct partition *p);

/* Housekeeping: reconnects after a backoff, resends after errors. */
void replica_fetchers_tick(struct replica_fetchers *fs);

#endif
