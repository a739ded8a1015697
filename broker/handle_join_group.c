/* JoinGroup v0-5 (MEMBER_ID_REQUIRED from v4, KIP-394). */
#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/group.h"
#include "broker/group_coordinator.h"
#include "broker/request.h"
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
        struct kafka_join_group_response *resp = request_response(req);
        if (resp == NULL) {
            request_drop(req, true);
            return;
        }
        resp->ErrorCode = error;
        resp->GenerationId = -1;
        resp->MemberId = body->MemberId.len < 0 ? (struct kafka_str){"", 0} : body->MemberId;
        resp->ProtocolName = (struct kafka_str){"", 0};
        req->response = resp;
        request_done(req);
        return;
    }
    group_join(g, req, group_coordinator_limits(req->broker->groups), group_coordinator_now_ms(),
               group_coordinator_wall_ms());
}
