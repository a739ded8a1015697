/* SyncGroup v0-3: the leader hands out assignments; everyone waits for it. */
#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/group.h"
#include "broker/group_coordinator.h"
#include "broker/request.h"
#include "proto/kafka_errors.h"

void handle_sync_group(struct request *req)
{
    const struct kafka_sync_group_request *body = req->body;
    struct group *g = NULL;
    int16_t error = KAFKA_ERR_INVALID_GROUP_ID;
    if (body->GroupId.len > 0)
        error = group_coordinator_group(req->broker->groups, body->GroupId.ptr,
                                        (size_t)body->GroupId.len, false, &g);
    if (error == KAFKA_ERR_GROUP_ID_NOT_FOUND)
        error = KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (error != 0) {
        struct kafka_sync_group_response *resp = request_response(req);
        if (resp == NULL) {
            request_drop(req, true);
            return;
        }
        resp->ErrorCode = error;
        resp->Assignment = (struct kafka_bytes){NULL, 0};
        req->response = resp;
        request_done(req);
        return;
    }
    group_sync(g, req, group_coordinator_now_ms());
}
