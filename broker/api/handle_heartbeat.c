/* Heartbeat v0-3: keeps a member's session alive; REBALANCE_IN_PROGRESS
 * tells it to rejoin. */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"

void handle_heartbeat(struct request *req)
{
    const struct kafka_heartbeat_request *body = req->body;
    struct group *g;
    int16_t error = group_coordinator_member_group(req->broker->groups, body->GroupId, &g);
    if (error != 0) {
        request_fail(req, error);
        return;
    }
    group_heartbeat(g, req, group_coordinator_now_ms());
}
