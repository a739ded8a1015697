/* LeaveGroup v0-3 (batched members from v3). */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"

void handle_leave_group(struct request *req)
{
    const struct kafka_leave_group_request *body = req->body;
    struct group *g;
    int16_t error = group_coordinator_member_group(req->broker->groups, body->GroupId, &g);
    if (error != 0) {
        request_fail(req, error);
        return;
    }
    group_leave(g, req, group_coordinator_now_ms(), group_coordinator_wall_ms());
}
