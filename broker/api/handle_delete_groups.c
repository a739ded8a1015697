/* DeleteGroups v0-1: an empty group's metadata and offsets are removed
 * (tombstones in __consumer_offsets); a group with members is refused. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

struct delete_groups_state {
    struct request *req;
    int pending;
};

struct delete_groups_one {
    struct delete_groups_state *st;
    struct kafka_delete_groups_response_deletable_group_result *out;
};

static void delete_groups_done(void *ctx, int16_t error)
{
    struct delete_groups_one *one = ctx;
    one->out->ErrorCode = error;
    if (--one->st->pending == 0)
        request_done(one->st->req);
}

void handle_delete_groups(struct request *req)
{
    const struct kafka_delete_groups_request *body = req->body;
    struct kafka_delete_groups_response *resp = request_response(req);
    int32_t n = body->GroupsNames.count < 0 ? 0 : body->GroupsNames.count;
    struct kafka_delete_groups_response_deletable_group_result *out = kafka_alloc_items(
        &req->arena, &kafka_delete_groups_response_deletable_group_result_desc, n);
    struct delete_groups_state *st = arena_alloc(&req->arena, sizeof(*st));
    struct delete_groups_one *ones = arena_alloc(&req->arena, (size_t)(n + 1) * sizeof(*ones));
    if (resp == NULL || (n > 0 && out == NULL) || st == NULL || ones == NULL) {
        request_drop(req, true);
        return;
    }
    resp->Results.count = n;
    resp->Results.items = out;
    req->response = resp;
    st->req = req;
    st->pending = 1;
    for (int32_t i = 0; i < n; i++) {
        struct kafka_str id = body->GroupsNames.items[i];
        out[i].GroupId = id;
        struct group *g = NULL;
        int16_t error = id.len > 0 ? group_coordinator_group(req->broker->groups, id.ptr,
                                                             (size_t)id.len, false, &g)
                                   : KAFKA_ERR_INVALID_GROUP_ID;
        if (error == 0 && (g->state != GROUP_EMPTY || g->storing))
            error = KAFKA_ERR_NON_EMPTY_GROUP;
        out[i].ErrorCode = error;
        if (error != 0)
            continue;
        ones[i] = (struct delete_groups_one){st, &out[i]};
        st->pending++;
        group_coordinator_delete(g, delete_groups_done, &ones[i]);
    }
    if (--st->pending == 0)
        request_done(req);
}
