/* ListGroups v0-2: every group this broker coordinates. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"

struct list_groups_ctx {
    struct request *req;
    struct kafka_list_groups_response_listed_group *items;
    int32_t n;
    int32_t cap;
    bool oom;
};

static void list_groups_add(void *ctx, struct group *g)
{
    struct list_groups_ctx *lc = ctx;
    if (lc->n == lc->cap) {
        int32_t cap = lc->cap ? lc->cap * 2 : 16;
        struct kafka_list_groups_response_listed_group *items = kafka_alloc_items(
            &lc->req->arena, &kafka_list_groups_response_listed_group_desc, cap);
        if (items == NULL) {
            lc->oom = true;
            return;
        }
        for (int32_t i = 0; i < lc->n; i++)
            items[i] = lc->items[i];
        lc->items = items;
        lc->cap = cap;
    }
    struct kafka_list_groups_response_listed_group *item = &lc->items[lc->n++];
    item->GroupId = kafka_str_from(g->group_id);
    item->ProtocolType = kafka_str_from(g->protocol_type ? g->protocol_type : "");
    item->GroupState = kafka_str_from(group_state_name(g->state));
    item->GroupType = kafka_str_from("classic");
}

void handle_list_groups(struct request *req)
{
    struct kafka_list_groups_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    struct list_groups_ctx lc = {.req = req};
    group_coordinator_each(req->broker->groups, list_groups_add, &lc);
    if (lc.oom) {
        request_drop(req, true);
        return;
    }
    resp->Groups.count = lc.n;
    resp->Groups.items = lc.items;
    req->response = resp;
    request_done(req);
}
