/* Every fixed limit in Rill, each with the reason for its value.
 *
 * Limits that users tune (socket.request.max.bytes, message.max.bytes, ...)
 * live in the configuration table instead; these are the ones that bound
 * memory or work no matter what the configuration says. */
#ifndef RILL_COMMON_LIMITS_H
#define RILL_COMMON_LIMITS_H

/* Kafka caps topic names at 249 characters so that "name-partition" and the
 * segment file names fit in a 255-byte file name. */
#define LIMIT_TOPIC_NAME_BYTES 249

/* Partitions of one topic. Kafka has no hard cap; this keeps one CreateTopics
 * request from making the broker create millions of directories. */
#define LIMIT_PARTITIONS_PER_TOPIC 10000

/* Topics one broker holds; bounds the metadata image and open file count. */
#define LIMIT_TOPICS 100000

/* Requests one connection may have in flight (decoded, answer not yet sent).
 * librdkafka pipelines up to 1,000,000 by default; the broker stops reading
 * from the socket at this depth instead, which is back-pressure, not an
 * error. */
#define LIMIT_INFLIGHT_PER_CONNECTION 256

/* Bytes queued for sending on one connection before the broker stops
 * reading more requests from it (back-pressure for slow readers). */
#define LIMIT_OUTPUT_BYTES_PER_CONNECTION (64u << 20)

/* Open client connections, whatever max.connections says: each costs a
 * descriptor and about a kilobyte of buffers and events (what it has read
 * is counted in queued.max.request.bytes). */
#define LIMIT_CONNECTIONS 100000

/* Bytes read from one socket at a time (and never past the request pool's
 * room), through a buffer on the loop's stack: large enough to take a
 * pipelined burst in one call, small enough that a huge announced frame
 * size is refused before much is buffered. */
#define LIMIT_READ_CHUNK_BYTES (64u << 10)

/* The request pool's overdraft (broker.h) is for a connection that is
 * finishing its frame: one that has held it this long and received less
 * than LIMIT_OVERDRAFT_MIN_BYTES_PER_MS on average gives it up, and may
 * not take it again before that frame is complete, so that a client
 * trickling a frame cannot hold back everyone else when the pool is full.
 * 1 MiB/s is far below any link a maximal frame comes over. */
#define LIMIT_OVERDRAFT_GRACE_MS 500
#define LIMIT_OVERDRAFT_MIN_BYTES_PER_MS 1024

/* Elements in any array of a decoded request. A real request never comes
 * near this; it bounds the memory a hostile frame can make us allocate
 * (each element also needs at least one byte of input, checked first). */
#define LIMIT_ARRAY_ELEMENTS 1000000

/* Arena bytes a decoded request may take per byte of its frame. Every
 * array count is checked against the bytes left times its element's
 * fewest wire bytes (proto/kafka_codec.h), so what an array costs is its
 * element's C size over that, at most 18.7 in any schema (OffsetFetch v8
 * groups: 56 bytes for 3), plus 8 bytes of alignment per allocation, and
 * every allocation takes at least one frame byte. The codec unit test
 * computes the ratio for every schema and version; the request fuzzer
 * checks the bound on every input. */
#define LIMIT_DECODE_BYTES_PER_FRAME_BYTE 32

/* Nesting of structs in a schema; the generated schemas are at most 4 deep. */
#define LIMIT_SCHEMA_DEPTH 16

/* A compressed batch may not inflate to more than this many bytes.
 * Validation streams through the records (LIMIT_RECORD_WINDOW_BYTES at a
 * time), so this bounds work, not memory. The value is librdkafka's
 * receive.message.max.bytes default: its consumers refuse to inflate a
 * batch past it, so a bigger one would be stored but unreadable to them.
 * Apache Kafka has no such cap, but its producers never come near it:
 * the Java producer closes a batch at batch.size (16 KiB by default,
 * measured compressed) unless one record alone is bigger, and a record
 * may not pass max.request.size (1 MiB); librdkafka's batches stop at
 * batch.size and message.max.bytes (1,000,000 uncompressed). */
#define LIMIT_DECOMPRESSED_BATCH_BYTES 100000000u

/* The window through which compressed records are inflated and parsed:
 * the memory validation of one compressed batch costs, beside the codec's
 * own state (zlib 32 KiB, lz4 up to 8 MiB for 4 MiB linked blocks, zstd
 * its frame's window, touched only as far as the frame's output goes) and,
 * for snappy, one raw block (at most 22 times the bytes received). */
#define LIMIT_RECORD_WINDOW_BYTES (64u << 10)

/* Records per batch; the count is an int32 on the wire. */
#define LIMIT_RECORDS_PER_BATCH 10000000

/* Bytes read from a segment per header scan when locating batches for a
 * fetch; large enough for many small batches, small enough to stay cheap. */
#define LIMIT_SCAN_CHUNK_BYTES (64u << 10)

/* Length of one line in a properties file. */
#define LIMIT_CONFIG_LINE_BYTES 65536

/* Names tried when a partition directory is set aside for deletion (or as
 * a stray) and an earlier one with the same name is still there. */
#define LIMIT_SET_ASIDE_ATTEMPTS 1000

/* Raft: voters in the static quorum (controller.quorum.voters; Kafka
 * deployments use 3 or 5), and observers one leader tracks (brokers that
 * follow the metadata log without voting); an observer beyond that is
 * still served, it only goes uncounted in the quorum status. */
#define LIMIT_RAFT_VOTERS 9
#define LIMIT_RAFT_OBSERVERS 256

/* One frame on the internal listener (an RpcEnvelope): a Raft fetch answer
 * carries up to 1 MiB of entries, a snapshot chunk 1 MiB; a larger frame
 * is refused and its connection closed. */
#define LIMIT_RPC_FRAME_BYTES (8u << 20)

/* Bytes queued for one quorum peer that is slow or unreachable; beyond it,
 * messages to it are dropped (Raft resends what matters). */
#define LIMIT_RPC_PEER_OUTPUT_BYTES (16u << 20)

/* Inbound internal connections (peers and observers). */
#define LIMIT_RPC_CONNECTIONS 1024

/* Raft messages held while the quorum driver persists a ready. */
#define LIMIT_QUORUM_HELD_MESSAGES 4096

/* How often a broker asks again to be registered until its image shows
 * it (registration.h). */
#define LIMIT_REGISTRATION_RETRY_MS 500

/* How often a broker asks the controller again for a producer-id block,
 * and how long InitProducerId waits for one before the client is told to
 * retry (producer_ids.h). */
#define LIMIT_PRODUCER_IDS_RETRY_MS 1000
#define LIMIT_PRODUCER_IDS_WAIT_MS 5000

/* How long a broker waits for the controller's answer to a relayed admin
 * request before it answers NOT_CONTROLLER itself (forwarding.h); below
 * the 30 s request timeout of Kafka's admin clients. */
#define LIMIT_FORWARD_TIMEOUT_MS 15000

/* Brokers whose producer-id requests the controller holds at once (one
 * each; a broker asks again when its request was dropped). */
#define LIMIT_PRODUCER_IDS_QUEUE 64

/* Brokers registered in one cluster; bounds the image's broker table and
 * the controller's placement arrays (on the stack). */
#define LIMIT_BROKERS 1024

/* Replicas of one partition (Kafka allows at most Short.MAX_VALUE; nobody
 * runs more than a handful). */
#define LIMIT_REPLICATION_FACTOR 64

/* How long the controller waits for a connection to a broker whose
 * connection closed before deciding the broker still lives (the broker's
 * session then decides, broker.session.timeout.ms). */
#define LIMIT_CONTROLLER_PROBE_MS 1000

/* The largest answer a follower accepts to one replica fetch
 * (replica.fetch.response.max.bytes stays below it; the first batch of a
 * partition may exceed the request's limits by up to a batch). */
#define LIMIT_REPLICA_FETCH_RESPONSE_BYTES (256 * 1024 * 1024)

/* How long past replica.fetch.wait.max.ms a follower waits for the
 * answer to a fetch before it reconnects. */
#define LIMIT_REPLICA_FETCH_TIMEOUT_MS 10000

/* How long a partition leader waits for its ISR change to appear in the
 * image before asking the controller again. */
#define LIMIT_ALTER_ISR_RETRY_MS 2000

/* A metadata snapshot, inflated (metadata/snapshot.h): far above any real
 * image (100,000 topics of a few partitions take a few tens of MiB), so
 * that a corrupt or hostile one cannot make a node allocate without bound. */
#define LIMIT_METADATA_SNAPSHOT_BYTES (512u << 20)

/* Bytes of __consumer_offsets a coordinator load reads per loop turn: a
 * large partition loads in slices, so that the loop (Raft, heartbeats,
 * other clients) never waits long for it. */
#define LIMIT_COORDINATOR_LOAD_SLICE_BYTES (1u << 20)

/* Not limited, on purpose: open segment files (Kafka keeps every segment
 * open as well; the broker raises RLIMIT_NOFILE to its hard limit) and the
 * flush queue (at most one fsync job per partition is ever queued). Pending
 * Fetch long-polls are bounded by LIMIT_CONNECTIONS x
 * LIMIT_INFLIGHT_PER_CONNECTION. */

#endif
