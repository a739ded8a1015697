/* SyncGroup v0-3: the leader hands out assignments; everyone waits for it. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"

void handle_sync_group(struct request *req)
{
    const struct kafka_sync_group_request *body = req->body;
    struct group *g;
    int16_t error = group_coordinator_member_group(req->broker->groups, body->GroupId, &g);
    if (error != 0) {
        request_fail(req, error);
        return;
    }
    group_sync(g, req, group_coordinator_now_ms());
}
