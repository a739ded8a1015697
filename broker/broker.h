/* The broker process's top-level context: the one place that holds mutable
 * state (configuration, the event loop, storage, the metadata image, the
 * partitions this node serves, connections). Everything else receives it
 * as an argument.
 *
 * Threads: one libevent loop runs all network IO and every handler; the
 * storage workers (fsync, file deletion) report back through descriptors
 * the loop watches. Nothing here is touched from another thread. */
#ifndef RILL_BROKER_BROKER_H
#define RILL_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "common/strmap.h"
#include "metadata/image.h"
#include "storage/log.h"
#include "storage/store.h"

struct event_base;
struct event;
struct evconnlistener;
struct conn;
struct partition;
struct metadata_log;
struct group_coordinator;
struct producer_ids;

/* A listener host may resolve to several addresses ("localhost": 127.0.0.1
 * and ::1); each is bound. */
#define BROKER_MAX_LISTEN_ADDRS 4

/* The budget of requests read but not yet answered, for the whole broker
 * (queued.max.request.bytes, queued.max.requests). broker/net/conn.c keeps it.
 *
 * Invariants:
 *   - bytes = the unparsed input buffered on every connection + the frames
 *     of every request not yet freed; it is what reading costs, exactly;
 *   - a connection reads only while bytes < max_bytes, at most the room
 *     left, except the one overdraft connection, which may finish the
 *     frame it has started past the cap: partly received frames can then
 *     never hold the whole budget with no frame able to complete, so
 *     bytes <= max_bytes + socket.request.max.bytes;
 *   - requests counts the requests not yet answered, except those parked
 *     on other clients (api_entry.waits_on_clients); frames are read and
 *     dispatched only while requests < max_requests;
 *   - a connection that may not read is on the waiter list (FIFO) with its
 *     read event off, and is woken as room comes back. */
struct request_pool {
    int64_t max_bytes;          /* <= 0: no limit */
    int32_t max_requests;
    int64_t bytes;
    int32_t requests;
    struct conn *overdraft;     /* the connection finishing a frame past the cap */
    int64_t overdraft_since_ms; /* when it took the overdraft */
    int64_t overdraft_bytes;    /* what it has received since */
    uint64_t overdraft_frames;  /* its frames_in then: done once one more is in */
    struct conn *waiters_head, *waiters_tail;
    size_t nwaiters;
};

enum broker_shutdown_phase { BROKER_SHUTDOWN_FENCE = 1, BROKER_SHUTDOWN_RESIGN = 2 };

struct broker {
    struct broker_config cfg;
    char cluster_id[64];
    struct event_base *base;
    struct evconnlistener *listeners[BROKER_MAX_LISTEN_ADDRS]; /* one per bound address */
    size_t nlisteners;
    int bound_port;                 /* the port actually bound (listeners may say :0) */

    struct storage_store *store;
    struct metadata_log *mlog;      /* owns the metadata image */
    struct strmap topics;           /* name -> struct broker_topic */
    struct strmap creating;         /* name -> creation in flight (topics.c) */
    struct partition *dirty_head;   /* partitions appended to since the last flush pass */

    struct conn *conns;             /* every open client connection */
    size_t nconns;
    struct strmap conns_per_ip;     /* address -> count, as (uintptr_t) values */
    bool accepting;                 /* listeners enabled (max.connections) */
    struct request_pool pool;
    struct request *parked;         /* requests waiting on other clients (request.h) */

    struct group_coordinator *groups;
    struct producer_ids *pids;
    struct controller_driver *controller; /* acts while this node leads the quorum */
    struct forwarding *forwarding;  /* admin requests relayed to the controller */
    struct replica_fetchers *fetchers; /* followers copying from their leaders */

    struct event *ev_flush_pass;    /* low priority: runs after this iteration's IO */
    struct event *ev_storage[2];    /* storage worker notifications */
    struct event *ev_retention;     /* log.retention.check.interval.ms */
    struct event *ev_tick;          /* 100 ms housekeeping: flush intervals, idle conns */
    struct event *ev_signals[2];    /* SIGTERM, SIGINT */
    struct event *ev_resign;        /* shutdown: waiting for the controller to move */
    uint8_t incarnation[16];        /* this process's registration (registration.h) */
    int64_t registration_next_ms;
    int64_t registered_epoch;       /* the broker epoch last heartbeat for, 0 none */
    bool want_fence;                /* shutting down or a log directory offline: asked
                                     * to be fenced, and kept fenced */
    bool serving;                   /* registered and unfenced once: listeners may accept */
    int shutdown_phase;             /* enum broker_shutdown_phase */
    int64_t shutdown_deadline_ms;
    bool stopping;
    int exit_status;                /* the process's, once the loop ends */
};

/* Builds everything from the configuration: storage, metadata replay,
 * partitions, listener. Returns 0 or a RILL_ERR_* after logging why. */
int broker_start(struct broker *b, struct broker_config *cfg);

/* Runs the loop until a shutdown signal; then closes cleanly. */
int broker_run(struct broker *b);

/* Frees what broker_start built (after broker_run returned). */
void broker_free(struct broker *b);

/* Requests a clean shutdown from inside the loop. */
void broker_stop(struct broker *b);

/* Enables the listeners while fewer than max.connections are open and
 * disables them at the limit, so that new connections wait in the listen
 * backlog, as Kafka's acceptor does. */
void broker_update_accepting(struct broker *b);

/* Marks a partition as appended-to, so this loop iteration's flush pass
 * considers it (group commit across all requests of the iteration). */
void broker_mark_dirty(struct broker *b, struct partition *p);

/* A partition's log directory went offline. In a cluster the broker asks
 * the controller to fence it, so that its leaderships move to in-sync
 * replicas on sound disks and it leaves every ISR, and it stays fenced
 * until restarted (Kafka's KRaft brokers without JBOD stop on any log
 * directory failure, to the same effect). Alone, it keeps answering
 * KAFKA_STORAGE_ERROR for what the directory holds. */
void broker_on_storage_offline(struct broker *b);

#endif
