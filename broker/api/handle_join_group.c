/* JoinGroup v0-5 (MEMBER_ID_REQUIRED from v4, KIP-394). */
#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

void handle_join_group(struct request *req)
{
    const struct kafka_join_group_request *body = req->body;
    int16_t error = 0;
    struct group *g = NULL;
    if (body->GroupId.len <= 0)
        error = KAFKA_ERR_INVALID_GROUP_ID;
    else
        error = group_coordinator_group(req->broker->groups, body->GroupId.ptr,
                                        (size_t)body->GroupId.len, true, &g);
    if (error != 0) {
        request_fail(req, error); /* generation -1 and empty ids are the defaults */
        return;
    }
    group_join(g, req, group_coordinator_limits(req->broker->groups), group_coordinator_now_ms(),
               group_coordinator_wall_ms());
}
