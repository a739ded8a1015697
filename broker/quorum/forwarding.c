#include "broker/quorum/forwarding.h"

#include <stdlib.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "broker/quorum/raft_wire.h"
#include "broker/net/request.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_codec.h"
#include "proto/kafka_messages.h"

/* A request relayed to the controller, waiting for its answer (and then
 * for this node's image). */
struct forward_pending {
    struct forward_pending *next;
    uint64_t id;
    struct request *req;
    int32_t to;
    int64_t deadline_ms;
    uint8_t *answer; /* the controller's, once it came */
    size_t answer_len;
    uint64_t wait_version;
};

struct forwarding {
    struct forward_pending *head;
    uint64_t next_id;
};

int forwarding_create(struct forwarding **out)
{
    struct forwarding *fw = calloc(1, sizeof(*fw));
    if (fw == NULL)
        return RILL_ERR_NOMEM;
    fw->next_id = 1;
    *out = fw;
    return RILL_OK;
}

static void forward_pending_free(struct forward_pending *p)
{
    free(p->answer);
    free(p);
}

void forwarding_free(struct forwarding *fw)
{
    if (fw == NULL)
        return;
    while (fw->head != NULL) {
        struct forward_pending *p = fw->head;
        fw->head = p->next;
        request_free(p->req);
        forward_pending_free(p);
    }
    free(fw);
}

/* The APIs whose requests the controller carries out. */
static bool forwarding_relayable(int16_t api_key)
{
    return api_key == KAFKA_API_CREATE_TOPICS || api_key == KAFKA_API_DELETE_TOPICS ||
           api_key == KAFKA_API_CREATE_PARTITIONS || api_key == KAFKA_API_ALTER_CONFIGS ||
           api_key == KAFKA_API_INCREMENTAL_ALTER_CONFIGS || api_key == KAFKA_API_DESCRIBE_QUORUM;
}

int forwarding_forward(struct broker *b, struct request *req)
{
    if (req->forwarded || metadata_log_controller_active(b->mlog))
        return 0;
    int32_t leader = metadata_log_leader(b->mlog);
    if (leader < 0 || leader == b->cfg.node_id || req->frame_len > LIMIT_RPC_FRAME_BYTES / 2)
        return 0;
    struct forward_pending *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return 0;
    p->id = b->forwarding->next_id++;
    p->req = req;
    p->to = leader;
    p->deadline_ms = clock_mono_ms() + LIMIT_FORWARD_TIMEOUT_MS;
    p->next = b->forwarding->head;
    b->forwarding->head = p;
    struct raft_wire_forwarded fwd = {.id = p->id, .bytes = req->frame, .len = req->frame_len};
    metadata_log_send_forwarded(b->mlog, leader, false, &fwd);
    log_debug("forwarding", "%s v%d (correlation %d) relayed to the controller, node %d",
              req->api->name, req->version, req->header.correlation_id, leader);
    return 1;
}

/* Takes p off the list (it must be on it). */
static void forwarding_unlink(struct forwarding *fw, struct forward_pending *p)
{
    for (struct forward_pending **pp = &fw->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

/* Gives up on the controller: this node answers itself (NOT_CONTROLLER). */
static void forwarding_answer_locally(struct broker *b, struct forward_pending *p)
{
    forwarding_unlink(b->forwarding, p);
    struct request *req = p->req;
    forward_pending_free(p);
    req->forwarded = true; /* not relayed a second time */
    req->api->handler(req);
}

static void forwarding_deliver(struct broker *b, struct forward_pending *p)
{
    forwarding_unlink(b->forwarding, p);
    request_done_raw(p->req, p->answer, p->answer_len);
    forward_pending_free(p);
}

void forwarding_on_response(struct broker *b, int32_t from, uint64_t id, const uint8_t *answer,
                            size_t len, uint64_t metadata_version)
{
    struct forward_pending *p = b->forwarding->head;
    while (p != NULL && p->id != id)
        p = p->next;
    if (p == NULL || p->to != from || p->answer != NULL)
        return; /* late (already answered here) or not ours */
    if (len < 8) {
        forwarding_answer_locally(b, p);
        return;
    }
    p->answer = malloc(len);
    if (p->answer == NULL) {
        forwarding_answer_locally(b, p);
        return;
    }
    memcpy(p->answer, answer, len);
    p->answer_len = len;
    p->wait_version = metadata_version;
    if (metadata_log_image(b->mlog)->version >= metadata_version)
        forwarding_deliver(b, p);
}

void forwarding_follow_image(void *ctx, const struct metadata_image *image)
{
    struct broker *b = ctx;
    struct forward_pending *p = b->forwarding->head;
    while (p != NULL) {
        struct forward_pending *next = p->next;
        if (p->answer != NULL && image->version >= p->wait_version)
            forwarding_deliver(b, p);
        p = next;
    }
}

void forwarding_tick(struct broker *b, int64_t now_ms)
{
    int32_t leader = metadata_log_leader(b->mlog);
    struct forward_pending *p = b->forwarding->head;
    while (p != NULL) {
        struct forward_pending *next = p->next;
        if (p->answer != NULL) {
            /* Answered, but this node's image lags (it may be cut off from
             * the quorum): answer anyway rather than never. */
            if (now_ms >= p->deadline_ms)
                forwarding_deliver(b, p);
        } else if (now_ms >= p->deadline_ms || leader != p->to) {
            forwarding_answer_locally(b, p);
        }
        p = next;
    }
}

/* ---- on the controller ------------------------------------------------------ */

/* The encoded answer of a relayed request goes back to the broker that
 * relayed it, with the image version it reflects. */
static void forwarding_send_answer(struct request *req)
{
    struct broker *b = req->broker;
    struct raft_wire_forwarded fwd = {.id = req->forward_id,
                                      .bytes = req->out.buf,
                                      .len = req->out.nsplices == 0 ? req->out.len : 0,
                                      .metadata_version = metadata_log_image(b->mlog)->version};
    metadata_log_send_forwarded(b->mlog, req->forward_from, true, &fwd);
}

static void forwarding_refuse(struct broker *b, int32_t from, uint64_t id)
{
    struct raft_wire_forwarded fwd = {.id = id, .bytes = NULL, .len = 0,
                                      .metadata_version = 0};
    metadata_log_send_forwarded(b->mlog, from, true, &fwd);
}

void forwarding_on_request(struct broker *b, int32_t from, uint64_t id, const uint8_t *frame,
                           size_t len)
{
    /* Decoded from a copy that the request owns: the header's and body's
     * strings point into it. */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        forwarding_refuse(b, from, id);
        return;
    }
    memcpy(copy, frame, len);
    struct kafka_reader r;
    kafka_reader_init(&r, copy, len);
    struct kafka_request_header h;
    const struct api_entry *api = NULL;
    const struct kafka_message_desc *msg = NULL;
    if (kafka_decode_request_header_prefix(&r, &h) == 0 && forwarding_relayable(h.api_key)) {
        api = api_table_find(h.api_key);
        msg = kafka_message_find(h.api_key);
    }
    struct request *req = NULL;
    if (api != NULL && msg != NULL && h.api_version >= api->min_version &&
        h.api_version <= api->max_version && h.api_version <= msg->valid_max &&
        kafka_decode_request_header_rest(&r, kafka_request_header_version(msg, h.api_version),
                                         &h) == 0)
        req = calloc(1, sizeof(*req));
    if (req == NULL) {
        free(copy);
        forwarding_refuse(b, from, id);
        return;
    }
    req->broker = b;
    req->header = h;
    req->api = api;
    req->msg = msg;
    req->version = h.api_version;
    req->flexible = kafka_is_flexible(msg, h.api_version);
    req->frame = copy;
    req->frame_len = len;
    req->received_ms = clock_mono_ms();
    req->forwarded = true;
    req->on_answer = forwarding_send_answer;
    req->forward_id = id;
    req->forward_from = from;
    arena_init(&req->arena);
    kafka_writer_init(&req->out);
    req->body = arena_alloc(&req->arena, msg->request->size);
    if (req->body == NULL ||
        kafka_decode(msg->request, req->version, req->flexible, &r, &req->arena, req->body) != 0) {
        log_warn("forwarding", "node %d relayed a malformed %s v%d request; refused", from,
                 api->name, req->version);
        request_free(req);
        forwarding_refuse(b, from, id);
        return;
    }
    log_debug("forwarding", "%s v%d relayed by node %d", api->name, req->version, from);
    api->handler(req);
}
