/* DescribeGroups v0-4: state, protocol, members with their subscription
 * and assignment. An unknown group is described as Dead (error 0), as
 * Kafka does below v6. */
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/group/group.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/request.h"
#include "proto/kafka_errors.h"

/* Kafka's AclOperation bits for a group: READ, DELETE, DESCRIBE. */
enum { GROUP_OPERATIONS_ALL = (1 << 3) | (1 << 6) | (1 << 8) };

void handle_describe_groups(struct request *req)
{
    const struct kafka_describe_groups_request *body = req->body;
    struct kafka_describe_groups_response *resp = request_response(req);
    int32_t n = body->Groups.count < 0 ? 0 : body->Groups.count;
    struct kafka_describe_groups_response_described_group *out = kafka_alloc_items(
        &req->arena, &kafka_describe_groups_response_described_group_desc, n);
    if (resp == NULL || (n > 0 && out == NULL)) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        struct kafka_str id = body->Groups.items[i];
        struct group *g = NULL;
        int16_t error = id.len > 0 ? group_coordinator_group(req->broker->groups, id.ptr,
                                                             (size_t)id.len, false, &g)
                                   : KAFKA_ERR_INVALID_GROUP_ID;
        out[i].GroupId = id;
        out[i].ProtocolType = (struct kafka_str){"", 0};
        out[i].ProtocolData = (struct kafka_str){"", 0};
        out[i].GroupState = kafka_str_from("Dead");
        if (body->IncludeAuthorizedOperations)
            out[i].AuthorizedOperations = GROUP_OPERATIONS_ALL;
        if (error == KAFKA_ERR_GROUP_ID_NOT_FOUND)
            continue;
        out[i].ErrorCode = error;
        if (g == NULL)
            continue;
        out[i].GroupState = kafka_str_from(group_state_name(g->state));
        out[i].ProtocolType = kafka_str_from(g->protocol_type ? g->protocol_type : "");
        out[i].ProtocolData = kafka_str_from(g->protocol_name ? g->protocol_name : "");
        struct kafka_describe_groups_response_described_group_member *members =
            kafka_alloc_items(&req->arena,
                              &kafka_describe_groups_response_described_group_member_desc,
                              g->nmembers);
        if (g->nmembers > 0 && members == NULL) {
            request_drop(req, true);
            return;
        }
        int32_t k = 0;
        for (struct group_member *m = g->members; m != NULL; m = m->next, k++) {
            members[k].MemberId = kafka_str_from(m->member_id);
            members[k].GroupInstanceId = kafka_str_from(m->instance_id);
            members[k].ClientId = kafka_str_from(m->client_id);
            members[k].ClientHost = kafka_str_from(m->client_host);
            /* Subscription and assignment only mean something once a
             * protocol is chosen (Kafka leaves them empty otherwise). */
            const struct group_protocol *p = group_member_protocol(g, m);
            bool settled = g->state == GROUP_STABLE;
            members[k].MemberMetadata = settled && p ? (struct kafka_bytes){p->metadata, p->len}
                                                     : (struct kafka_bytes){NULL, 0};
            members[k].MemberAssignment =
                settled ? (struct kafka_bytes){m->assignment, m->assignment_len}
                        : (struct kafka_bytes){NULL, 0};
        }
        out[i].Members.count = g->nmembers;
        out[i].Members.items = members;
    }
    resp->Groups.count = n;
    resp->Groups.items = out;
    req->response = resp;
    request_done(req);
}
