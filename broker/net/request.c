#include "broker/net/request.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/net/conn.h"
#include "common/assert.h"
#include "common/log.h"

void *request_response(struct request *req)
{
    const struct kafka_struct_desc *desc = req->msg->response;
    void *resp = arena_alloc(&req->arena, desc->size);
    if (resp != NULL)
        kafka_set_defaults(desc, resp);
    return resp;
}

void request_fail(struct request *req, int16_t error)
{
    void *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    const struct kafka_struct_desc *desc = req->msg->response;
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        if (f->type == KT_INT16 && strcmp(f->name, "ErrorCode") == 0)
            memcpy((char *)resp + f->offset, &error, sizeof(error));
    }
    req->response = resp;
    request_done(req);
}

struct records_file *request_records_file(struct request *req, int fd, int64_t position)
{
    struct records_file *rf = arena_alloc(&req->arena, sizeof(*rf));
    if (rf == NULL) {
        close(fd);
        return NULL;
    }
    rf->fd = fd;
    rf->position = position;
    return rf;
}

static void request_unpark(struct request *req)
{
    struct broker *b = req->broker;
    if (!req->parked)
        return;
    if (req->parked_prev != NULL)
        req->parked_prev->parked_next = req->parked_next;
    else
        b->parked = req->parked_next;
    if (req->parked_next != NULL)
        req->parked_next->parked_prev = req->parked_prev;
    req->parked_prev = req->parked_next = NULL;
    req->parked = false;
}

void request_park(struct request *req)
{
    ASSERT(req->api->waits_on_clients);
    struct broker *b = req->broker;
    if (!req->parked) {
        req->parked = true;
        req->parked_prev = NULL;
        req->parked_next = b->parked;
        if (b->parked != NULL)
            b->parked->parked_prev = req;
        b->parked = req;
    }
    if (!req->counted)
        return;
    req->counted = false;
    conn_pool_release(req->broker, 0, true);
}

void request_cancel_parked(struct broker *b)
{
    /* Each cancel answers (and frees) its request; one without a cancel
     * only leaves the list. */
    while (b->parked != NULL) {
        struct request *req = b->parked;
        request_unpark(req);
        if (req->cancel != NULL)
            req->cancel(req);
    }
}

void request_free(struct request *req)
{
    if (req == NULL)
        return;
    request_unpark(req);
    if (req->pool_bytes > 0 || req->counted)
        conn_pool_release(req->broker, req->pool_bytes, req->counted);
    /* File descriptors of answers that were never sent. */
    for (size_t i = 0; i < req->out.nsplices; i++) {
        struct records_file *rf = req->out.splices[i].ext;
        if (rf != NULL && rf->fd >= 0)
            close(rf->fd);
    }
    kafka_writer_free(&req->out);
    arena_free(&req->arena);
    free(req->frame);
    free(req);
}

static int request_encode(struct request *req)
{
    struct kafka_writer *w = &req->out;
    w->len = 0;
    kafka_write_i32(w, 0); /* size, patched below */
    kafka_encode_response_header(w, req->msg, req->version, req->header.correlation_id);
    int rc = kafka_encode(req->msg->response, req->version, req->flexible, req->response, w);
    if (rc != 0)
        return rc;
    int64_t total = (int64_t)w->len - 4;
    for (size_t i = 0; i < w->nsplices; i++)
        total += w->splices[i].len;
    kafka_writer_patch_i32(w, 0, (int32_t)total);
    return w->err ? -1 : 0;
}

void request_done(struct request *req)
{
    if (req->response == NULL || request_encode(req) != 0) {
        log_error("request", "cannot encode %s v%d response (out of memory?)", req->api->name,
                  req->version);
        req->no_response = true;
        if (req->conn != NULL)
            conn_close_after_flush(req->conn);
    }
    req->done = true;
    if (req->on_answer != NULL) {
        if (req->no_response)
            req->out.len = 0;
        req->on_answer(req);
    }
    if (req->conn == NULL) {
        request_free(req);
        return;
    }
    conn_flush(req->conn);
}

void request_done_raw(struct request *req, const uint8_t *frame, size_t len)
{
    req->out.len = 0;
    kafka_write_raw(&req->out, frame, len);
    if (req->out.err) {
        log_error("request", "cannot hold a relayed %s answer (out of memory)", req->api->name);
        req->no_response = true;
        if (req->conn != NULL)
            conn_close_after_flush(req->conn);
    }
    req->done = true;
    if (req->conn == NULL) {
        request_free(req);
        return;
    }
    conn_flush(req->conn);
}

void request_drop(struct request *req, bool close)
{
    req->no_response = true;
    req->done = true;
    if (req->on_answer != NULL) {
        req->out.len = 0;
        req->on_answer(req);
    }
    if (req->conn == NULL) {
        request_free(req);
        return;
    }
    if (close)
        conn_close_after_flush(req->conn);
    conn_flush(req->conn);
}
