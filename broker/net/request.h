/* One Kafka request from arrival to answer.
 *
 * The connection decodes the frame into req->body (memory from req->arena,
 * strings pointing into req->frame) and calls the API's handler. The
 * handler fills req->response (also from the arena) and calls request_done,
 * at once or later (long-polling fetches, acknowledgements that wait for an
 * fsync, group rebalances). request_done encodes the answer; the connection
 * sends answers strictly in request order.
 *
 * If the connection closes while a request is pending, req->conn becomes
 * NULL: the request still completes normally (its waits all have bounds)
 * and is then freed without sending anything. */
#ifndef RILL_BROKER_NET_REQUEST_H
#define RILL_BROKER_NET_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "proto/kafka_codec.h"

struct broker;
struct conn;
struct api_entry;

/* Record bytes that stay in a segment file and go out with sendfile. */
struct records_file {
    int fd;           /* owned by the request until the connection takes it */
    int64_t position;
};

struct request {
    struct broker *broker;
    struct conn *conn;             /* NULL once the connection is gone */
    struct request *next;          /* the connection's in-order queue */
    struct kafka_request_header header;
    const struct api_entry *api;
    const struct kafka_message_desc *msg;
    int16_t version;
    bool flexible;
    uint8_t *frame;                /* owned */
    size_t frame_len;
    struct arena arena;
    void *body;                    /* decoded request */
    void *response;                /* set by the handler */
    bool done;
    bool no_response;              /* acks=0: nothing is sent */
    struct kafka_writer out;       /* size prefix + header + body */
    int64_t received_ms;           /* monotonic */
    int64_t pool_bytes;            /* frame bytes counted in the broker's request pool */
    bool counted;                  /* counts against queued.max.requests */
    /* Parked on other clients (request_park): on the broker's list, so
     * that shutdown can finish it; cancel (set by the handler, may be
     * NULL when another part answers it at shutdown) answers it now. */
    bool parked;
    struct request *parked_prev, *parked_next;
    void (*cancel)(struct request *req);
    void *handler_state;           /* for handlers that wait */
    /* Relayed from another broker (forwarding.h): never relayed again, and
     * answered through on_answer (req->out holds the encoded answer, empty
     * when there is none) instead of a connection. */
    bool forwarded;
    void (*on_answer)(struct request *req);
    uint64_t forward_id;
    int32_t forward_from;
};

/* Allocates a response struct of the API's response type, set to the
 * schema defaults; NULL when out of memory. */
void *request_response(struct request *req);

/* Answers with the response's defaults and its top-level ErrorCode set to
 * error (every API whose answer is just an error code fits this). */
void request_fail(struct request *req, int16_t error);

/* Encodes req->response and hands the answer to the connection (or frees
 * the request if the connection is gone). */
void request_done(struct request *req);

/* Answers with an encoded frame made elsewhere (size prefix, header and
 * body: the controller's answer to a relayed request). */
void request_done_raw(struct request *req, const uint8_t *frame, size_t len);

/* Completes the request without an answer (Produce with acks=0). With
 * close set, the connection is closed once earlier answers are sent: how
 * Kafka tells an acks=0 producer that something failed. */
void request_drop(struct request *req, bool close);

/* Called by a handler that leaves req waiting on other clients (its API
 * has waits_on_clients): req stops counting against queued.max.requests
 * and joins the broker's parked list. Calling it again is harmless. */
void request_park(struct request *req);

/* At shutdown: answers every parked request that has a cancel function
 * (the others are answered by the part that holds them). */
void request_cancel_parked(struct broker *b);

/* Wraps fd (ownership passes to the request) for a records field. */
struct records_file *request_records_file(struct request *req, int fd, int64_t position);

/* Frees a request that will not be answered (and any records fds). */
void request_free(struct request *req);

#endif
