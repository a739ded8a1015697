/* A client connection: size-prefixed Kafka frames in, answers out in
 * request order.
 *
 * Reading: a frame's size is checked against socket.request.max.bytes
 * before any of it is buffered (larger: the connection is closed). Every
 * byte read is counted in the broker's request pool (broker.h) until the
 * request it belongs to is freed; reading stops while the pool is full, and
 * the connection waits on the pool's list until room comes back. Frames are
 * decoded and dispatched as they arrive (pipelining); reading also pauses
 * while LIMIT_INFLIGHT_PER_CONNECTION requests are unanswered or too many
 * answer bytes wait to be sent, and resumes as they drain. A slow sender
 * holds only the bytes it has sent, and its own connection.
 *
 * Writing: answers leave strictly in request order; a finished request
 * behind an unfinished one waits. Record data from segment files is queued
 * as file ranges and sent with sendfile(2).
 *
 *   open ──frame──> dispatch ──handler──> done ──in order──> sent
 *     │      ▲                                                │
 *     │      └── pool full: wait ── room ──┘                  │
 *     └── bad frame / peer closed / idle / shutdown ──> closed ┘ */
#ifndef RILL_BROKER_NET_CONN_H
#define RILL_BROKER_NET_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct broker;
struct request;
struct event;
struct evbuffer;

struct conn {
    struct broker *broker;
    struct conn *prev, *next;       /* broker->conns */
    int fd;
    struct event *ev_read;
    struct event *ev_write;
    struct evbuffer *in;
    struct evbuffer *out;
    struct request *head, *tail;    /* requests in arrival order */
    int inflight;
    bool read_paused;               /* in-flight or output back-pressure */
    bool pool_waiting;              /* on the pool's waiter list */
    bool pool_ticket;               /* woken from it: may read once past the queue */
    struct conn *prev_waiter, *next_waiter;
    bool read_armed;                /* ev_read is added */
    bool close_when_flushed;        /* close once everything queued is sent */
    bool dispatching;               /* inside conn_process_frames: closing is deferred */
    bool dead;                      /* closed while dispatching; freed when it ends */
    bool warned_trailing;           /* logged a request with bytes after its body */
    bool overdraft_lost;            /* too slow for the overdraft until its frame is in */
    const char *dead_reason;
    int64_t pool_bytes;             /* bytes of in counted in the pool */
    uint64_t frames_in;             /* frames taken out of in so far */
    int64_t last_active_ms;
    char ip[64];                    /* the peer's address, for max.connections.per.ip */
    char peer[80];                  /* address:port, for logs */
};

/* Takes ownership of fd (a freshly accepted socket). Closes it at once when
 * its address already has max.connections.per.ip connections. */
void conn_accept(struct broker *b, int fd, const struct sockaddr *addr, int addrlen);

/* Closes now: pending requests are orphaned (they finish and are freed). */
void conn_close(struct conn *c, const char *why);

/* Sends every finished answer at the head of the queue, in order. */
void conn_flush(struct conn *c);

/* Closes after the answers already finished have been sent. */
void conn_close_after_flush(struct conn *c);

/* Closes connections idle for longer than idle_ms. */
void conn_close_idle(struct broker *b, int64_t now_ms, int64_t idle_ms);

/* Gives bytes and (when counted) one request back to the pool and wakes
 * waiting connections if that makes room. */
void conn_pool_release(struct broker *b, int64_t bytes, bool request);

/* Housekeeping: takes the overdraft back from a connection that stopped
 * sending, and wakes waiters for room the wake-ups left unclaimed. */
void conn_pool_tick(struct broker *b, int64_t now_ms);

#endif
