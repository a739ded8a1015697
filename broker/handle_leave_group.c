/* LeaveGroup v0-3 (batched members from v3). */
#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/group.h"
#include "broker/group_coordinator.h"
#include "broker/request.h"
#include "proto/kafka_errors.h"

void handle_leave_group(struct request *req)
{
    const struct kafka_leave_group_request *body = req->body;
    struct group *g = NULL;
    int16_t error = KAFKA_ERR_INVALID_GROUP_ID;
    if (body->GroupId.len > 0)
        error = group_coordinator_group(req->broker->groups, body->GroupId.ptr,
                                        (size_t)body->GroupId.len, false, &g);
    if (error == KAFKA_ERR_GROUP_ID_NOT_FOUND)
        error = KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (error != 0) {
        struct kafka_leave_group_response *resp = request_response(req);
        if (resp == NULL) {
            request_drop(req, true);
            return;
        }
        resp->ErrorCode = error;
        req->response = resp;
        request_done(req);
        return;
    }
    group_leave(g, req, group_coordinator_now_ms(), group_coordinator_wall_ms());
}
