/* The classic group protocol's state machine; see group.h for the states,
 * transitions and invariants. Persistence (the group metadata record
 * written when the leader's assignment arrives or the group empties) is
 * delegated to the coordinator. */
#include "broker/group/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/group/group_coordinator.h"
#include "broker/group/group_records.h"
#include "broker/net/request.h"
#include "common/log.h"
#include "common/random.h"
#include "proto/kafka_errors.h"

const char *group_state_name(enum group_state state)
{
    switch (state) {
    case GROUP_EMPTY:
        return "Empty";
    case GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GROUP_STABLE:
        return "Stable";
    case GROUP_DEAD:
        return "Dead";
    }
    return "Unknown";
}

static char *group_strndup(struct kafka_str s)
{
    if (s.len < 0)
        return NULL;
    return strndup(s.ptr, (size_t)s.len);
}

static bool group_str_is(const char *a, struct kafka_str b)
{
    if (a == NULL)
        return b.len < 0;
    return b.len >= 0 && strlen(a) == (size_t)b.len && memcmp(a, b.ptr, (size_t)b.len) == 0;
}

struct group *group_new(struct coordinator_partition *cp, const char *group_id, size_t len)
{
    struct group *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->cp = cp;
    /* Exactly len bytes: the id is a key of len bytes in the coordinator's
     * map (strndup would stop at a NUL the client put in it). */
    g->group_id = malloc(len + 1);
    if (g->group_id != NULL) {
        memcpy(g->group_id, group_id, len);
        g->group_id[len] = '\0';
    }
    g->state = GROUP_EMPTY;
    g->join_deadline_ms = -1;
    g->sync_deadline_ms = -1;
    if (g->group_id == NULL || strmap_init(&g->pending_members) != 0 ||
        strmap_init(&g->offsets) != 0) {
        free(g->group_id);
        strmap_free(&g->pending_members);
        free(g);
        return NULL;
    }
    return g;
}

static void member_free(struct group_member *m)
{
    for (int32_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    free(m->assignment);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m);
}

/* ---- answers --------------------------------------------------------------- */

static void join_answer(struct request *req, struct group *g, const char *member_id,
                        int16_t error, bool leader_view)
{
    struct kafka_join_group_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    resp->ErrorCode = error;
    resp->GenerationId = error == 0 ? g->generation : -1;
    resp->MemberId = kafka_str_from(member_id ? member_id : "");
    resp->ProtocolType = kafka_str_from(g->protocol_type);
    resp->ProtocolName = error == 0 ? kafka_str_from(g->protocol_name ? g->protocol_name : "")
                                    : KAFKA_STR_NULL;
    if (req->version < 7 && resp->ProtocolName.len < 0)
        resp->ProtocolName = (struct kafka_str){"", 0};
    resp->Leader = kafka_str_from(error == 0 && g->leader_id ? g->leader_id : "");
    if (error == 0 && leader_view) {
        struct kafka_join_group_response_join_group_response_member *items = kafka_alloc_items(
            &req->arena, &kafka_join_group_response_join_group_response_member_desc,
            g->nmembers);
        if (g->nmembers > 0 && items == NULL) {
            request_drop(req, true);
            return;
        }
        int32_t i = 0;
        for (struct group_member *m = g->members; m != NULL; m = m->next, i++) {
            items[i].MemberId = kafka_str_from(m->member_id);
            items[i].GroupInstanceId = kafka_str_from(m->instance_id);
            const struct group_protocol *p = group_member_protocol(g, m);
            items[i].Metadata = p ? (struct kafka_bytes){p->metadata, p->len}
                                  : (struct kafka_bytes){NULL, 0};
        }
        resp->Members.count = g->nmembers;
        resp->Members.items = items;
    }
    req->response = resp;
    request_done(req);
}

static void sync_answer(struct request *req, struct group *g, int16_t error,
                        const uint8_t *assignment, int32_t len)
{
    struct kafka_sync_group_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    resp->ErrorCode = error;
    resp->Assignment = (struct kafka_bytes){assignment, error == 0 ? len : 0};
    if (error == 0) {
        resp->ProtocolType = kafka_str_from(g->protocol_type);
        resp->ProtocolName = kafka_str_from(g->protocol_name);
    }
    req->response = resp;
    request_done(req);
}

/* ---- membership ---------------------------------------------------------------- */

struct group_member *group_find_member(struct group *g, const char *member_id, size_t len)
{
    for (struct group_member *m = g->members; m != NULL; m = m->next)
        if (strlen(m->member_id) == len && memcmp(m->member_id, member_id, len) == 0)
            return m;
    return NULL;
}

/* The member a request names (NULL when the id is empty or unknown). */
static struct group_member *group_member_named(struct group *g, struct kafka_str id)
{
    return id.len > 0 ? group_find_member(g, id.ptr, (size_t)id.len) : NULL;
}

/* A request that names an instance id other than the member's is from a
 * fenced (replaced) static member. */
static bool member_fenced(const struct group_member *m, struct kafka_str instance_id)
{
    return instance_id.len >= 0 && !group_str_is(m->instance_id, instance_id);
}

static struct group_member *group_find_instance(struct group *g, struct kafka_str instance)
{
    if (instance.len < 0)
        return NULL;
    for (struct group_member *m = g->members; m != NULL; m = m->next)
        if (group_str_is(m->instance_id, instance))
            return m;
    return NULL;
}

const struct group_protocol *group_member_protocol(const struct group *g,
                                                   const struct group_member *m)
{
    if (g->protocol_name == NULL)
        return m->nprotocols > 0 ? &m->protocols[0] : NULL;
    for (int32_t i = 0; i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, g->protocol_name) == 0)
            return &m->protocols[i];
    return NULL;
}

static bool member_has_protocol(const struct group_member *m, const char *name)
{
    for (int32_t i = 0; i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return true;
    return false;
}

/* Can a member offering these protocols join? Empty groups take anyone;
 * others need the same type and one protocol every member has. */
static bool group_supports(struct group *g, const struct kafka_join_group_request *body)
{
    if (body->ProtocolType.len <= 0 || body->Protocols.count <= 0)
        return false;
    if (g->nmembers == 0)
        return true;
    if (!group_str_is(g->protocol_type, body->ProtocolType))
        return false;
    for (int32_t i = 0; i < body->Protocols.count; i++) {
        char name[256];
        struct kafka_str n = body->Protocols.items[i].Name;
        if (n.len < 0 || (size_t)n.len >= sizeof(name))
            continue;
        memcpy(name, n.ptr, (size_t)n.len);
        name[n.len] = '\0';
        bool everyone = true;
        for (struct group_member *m = g->members; m != NULL && everyone; m = m->next)
            everyone = member_has_protocol(m, name);
        if (everyone)
            return true;
    }
    return false;
}

/* Replaces m's protocols and timeouts with those of a JoinGroup body. */
static int member_update(struct group_member *m, struct request *req)
{
    const struct kafka_join_group_request *body = req->body;
    int32_t n = body->Protocols.count;
    struct group_protocol *protocols = calloc((size_t)n, sizeof(*protocols));
    if (protocols == NULL)
        return -1;
    for (int32_t i = 0; i < n; i++) {
        const struct kafka_join_group_request_join_group_request_protocol *p =
            &body->Protocols.items[i];
        protocols[i].name = group_strndup(p->Name);
        int32_t len = p->Metadata.len < 0 ? 0 : p->Metadata.len;
        protocols[i].metadata = malloc((size_t)len + 1);
        if (protocols[i].name == NULL || protocols[i].metadata == NULL) {
            for (int32_t k = 0; k <= i; k++) {
                free(protocols[k].name);
                free(protocols[k].metadata);
            }
            free(protocols);
            return -1;
        }
        if (len > 0)
            memcpy(protocols[i].metadata, p->Metadata.ptr, (size_t)len);
        protocols[i].len = len;
    }
    for (int32_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = protocols;
    m->nprotocols = n;
    m->session_timeout_ms = body->SessionTimeoutMs;
    /* JoinGroup v0 has no rebalance timeout: the session timeout serves. */
    m->rebalance_timeout_ms =
        req->version >= 1 ? body->RebalanceTimeoutMs : body->SessionTimeoutMs;
    return 0;
}

static bool member_protocols_equal(const struct group_member *m,
                                   const struct kafka_join_group_request *body)
{
    if (m->nprotocols != body->Protocols.count)
        return false;
    for (int32_t i = 0; i < m->nprotocols; i++) {
        const struct kafka_join_group_request_join_group_request_protocol *p =
            &body->Protocols.items[i];
        int32_t len = p->Metadata.len < 0 ? 0 : p->Metadata.len;
        if (!group_str_is(m->protocols[i].name, p->Name) || m->protocols[i].len != len ||
            (len > 0 && memcmp(m->protocols[i].metadata, p->Metadata.ptr, (size_t)len) != 0))
            return false;
    }
    return true;
}

static char *group_new_member_id(struct kafka_str client_id)
{
    uint8_t r[16];
    if (random_bytes(r, sizeof(r)) != 0)
        return NULL;
    char uuid[37];
    snprintf(uuid, sizeof(uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    size_t n = (client_id.len > 0 ? (size_t)client_id.len : 0) + sizeof(uuid) + 1;
    char *id = malloc(n);
    if (id != NULL)
        snprintf(id, n, "%.*s-%s", client_id.len > 0 ? client_id.len : 0,
                 client_id.len > 0 ? client_id.ptr : "", uuid);
    return id;
}

static struct group_member *group_add_member(struct group *g, struct request *req,
                                             char *member_id, int64_t now_ms)
{
    const struct kafka_join_group_request *body = req->body;
    struct group_member *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        free(member_id);
        return NULL;
    }
    m->member_id = member_id;
    m->instance_id = group_strndup(body->GroupInstanceId);
    m->client_id = group_strndup(req->header.client_id);
    m->client_host = strdup(req->conn ? coordinator_peer_host(req) : "");
    if (m->client_id == NULL || m->client_host == NULL || member_update(m, req) != 0) {
        member_free(m);
        return NULL;
    }
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    struct group_member **tail = &g->members;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = m;
    g->nmembers++;
    if (g->protocol_type == NULL)
        g->protocol_type = group_strndup(body->ProtocolType);
    if (g->leader_id == NULL)
        g->leader_id = strdup(m->member_id);
    return m;
}

static void group_set_state(struct group *g, enum group_state state, int64_t wall_ms)
{
    if (g->state != state)
        log_debug("group", "%s: %s -> %s (generation %d)", g->group_id,
                  group_state_name(g->state), group_state_name(state), g->generation);
    g->state = state;
    g->state_since_ms = wall_ms;
}

/* Removes m, answering whatever it was waiting for with error. */
static void group_unlink_member(struct group *g, struct group_member *m, int16_t error)
{
    for (struct group_member **pp = &g->members; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    g->nmembers--;
    if (m->join_req != NULL)
        join_answer(m->join_req, g, m->member_id, error, false);
    if (m->sync_req != NULL)
        sync_answer(m->sync_req, g, error, NULL, 0);
    if (g->leader_id != NULL && strcmp(g->leader_id, m->member_id) == 0) {
        free(g->leader_id);
        g->leader_id = g->members ? strdup(g->members->member_id) : NULL;
    }
    member_free(m);
    if (g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = NULL;
    }
}

/* ---- rebalancing ------------------------------------------------------------------ */

static int32_t group_max_rebalance_timeout(const struct group *g)
{
    int32_t t = 0;
    for (const struct group_member *m = g->members; m != NULL; m = m->next)
        if (m->rebalance_timeout_ms > t)
            t = m->rebalance_timeout_ms;
    return t;
}

static void group_prepare_rebalance(struct group *g, const struct group_limits *lim,
                                    int64_t now_ms, int64_t wall_ms)
{
    /* Members waiting in SyncGroup learn that a new round has begun. */
    for (struct group_member *m = g->members; m != NULL; m = m->next) {
        if (m->sync_req != NULL) {
            struct request *r = m->sync_req;
            m->sync_req = NULL;
            sync_answer(r, g, KAFKA_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
        }
    }
    g->sync_deadline_ms = -1;
    int32_t rebalance_ms = group_max_rebalance_timeout(g);
    if (g->state == GROUP_EMPTY && lim != NULL && lim->initial_rebalance_delay_ms > 0) {
        /* KIP-134: let more of a starting group arrive before the first
         * assignment; each arrival extends the wait, up to the rebalance
         * timeout. */
        g->initial_delay = true;
        int32_t delay = lim->initial_rebalance_delay_ms;
        g->join_deadline_ms = now_ms + (delay < rebalance_ms ? delay : rebalance_ms);
        g->initial_delay_end_ms = now_ms + rebalance_ms;
    } else {
        g->initial_delay = false;
        g->join_deadline_ms = now_ms + rebalance_ms;
    }
    group_set_state(g, GROUP_PREPARING_REBALANCE, wall_ms);
}

static bool group_all_rejoined(const struct group *g)
{
    if (g->pending_members.count > 0)
        return false;
    for (const struct group_member *m = g->members; m != NULL; m = m->next)
        if (m->join_req == NULL)
            return false;
    return true;
}

/* The protocol every member supports that most members like best. */
static char *group_select_protocol(struct group *g)
{
    const struct group_member *first = g->members;
    const char *best = NULL;
    int best_votes = -1;
    for (int32_t i = 0; first != NULL && i < first->nprotocols; i++) {
        const char *cand = first->protocols[i].name;
        bool everyone = true;
        for (const struct group_member *m = g->members; m != NULL && everyone; m = m->next)
            everyone = member_has_protocol(m, cand);
        if (!everyone)
            continue;
        int votes = 0;
        for (const struct group_member *m = g->members; m != NULL; m = m->next) {
            for (int32_t k = 0; k < m->nprotocols; k++) {
                bool supported = true;
                for (const struct group_member *o = g->members; o != NULL && supported;
                     o = o->next)
                    supported = member_has_protocol(o, m->protocols[k].name);
                if (!supported)
                    continue;
                if (strcmp(m->protocols[k].name, cand) == 0)
                    votes++;
                break; /* each member votes for its first supported protocol */
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best ? strdup(best) : NULL;
}

static void group_complete_join(struct group *g, int64_t now_ms, int64_t wall_ms)
{
    /* Members that did not rejoin in time are out. */
    struct group_member *m = g->members;
    while (m != NULL) {
        struct group_member *next = m->next;
        if (m->join_req == NULL) {
            log_info("group", "%s: member %s did not rejoin in time, removed", g->group_id,
                     m->member_id);
            group_unlink_member(g, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
        }
        m = next;
    }
    g->join_deadline_ms = -1;
    g->initial_delay = false;
    g->generation++;
    free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers == 0) {
        group_set_state(g, GROUP_EMPTY, wall_ms);
        coordinator_store_group(g, false);
        return;
    }
    g->protocol_name = group_select_protocol(g);
    if (g->leader_id == NULL || group_find_member(g, g->leader_id, strlen(g->leader_id)) == NULL) {
        free(g->leader_id);
        g->leader_id = strdup(g->members->member_id);
    }
    group_set_state(g, GROUP_COMPLETING_REBALANCE, wall_ms);
    log_info("group", "%s: generation %d with %d members, protocol %s, leader %s", g->group_id,
             g->generation, g->nmembers, g->protocol_name ? g->protocol_name : "-",
             g->leader_id);
    int32_t rebalance_ms = group_max_rebalance_timeout(g);
    g->sync_deadline_ms = now_ms + rebalance_ms;
    for (m = g->members; m != NULL; m = m->next) {
        struct request *r = m->join_req;
        m->join_req = NULL;
        m->session_deadline_ms = now_ms + m->session_timeout_ms;
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        join_answer(r, g, m->member_id, 0, strcmp(m->member_id, g->leader_id) == 0);
    }
}

static void group_maybe_complete_join(struct group *g, int64_t now_ms, int64_t wall_ms)
{
    if (g->state == GROUP_PREPARING_REBALANCE && !g->initial_delay && group_all_rejoined(g))
        group_complete_join(g, now_ms, wall_ms);
}

/* After a member left or expired: rebalance, or finish the one under way. */
static void group_after_removal(struct group *g, int64_t now_ms, int64_t wall_ms)
{
    switch (g->state) {
    case GROUP_STABLE:
    case GROUP_COMPLETING_REBALANCE:
        if (g->nmembers == 0) {
            g->generation++;
            free(g->protocol_name);
            g->protocol_name = NULL;
            g->sync_deadline_ms = -1;
            group_set_state(g, GROUP_EMPTY, wall_ms);
            coordinator_store_group(g, false);
        } else {
            group_prepare_rebalance(g, NULL, now_ms, wall_ms);
        }
        break;
    case GROUP_PREPARING_REBALANCE:
        group_maybe_complete_join(g, now_ms, wall_ms);
        break;
    default:
        break;
    }
}

/* ---- JoinGroup ------------------------------------------------------------------------ */

static void group_join_as(struct group *g, struct request *req, struct group_member *m,
                          const struct group_limits *lim, int64_t now_ms, int64_t wall_ms)
{
    const struct kafka_join_group_request *body = req->body;
    if (m->join_req != NULL && m->join_req != req) {
        /* A member that resends JoinGroup gets the older call answered. */
        struct request *old = m->join_req;
        m->join_req = NULL;
        join_answer(old, g, m->member_id, KAFKA_ERR_REBALANCE_IN_PROGRESS, false);
    }
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        if (member_update(m, req) != 0) {
            join_answer(req, g, m->member_id, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
            return;
        }
        m->join_req = req;
        request_park(req);
        if (g->initial_delay) {
            /* Another arrival: wait one more delay, up to the limit. */
            int64_t next = now_ms + lim->initial_rebalance_delay_ms;
            g->join_deadline_ms = next < g->initial_delay_end_ms ? next : g->initial_delay_end_ms;
        }
        group_maybe_complete_join(g, now_ms, wall_ms);
        return;
    case GROUP_COMPLETING_REBALANCE:
        if (member_protocols_equal(m, body)) {
            /* A retried join of this generation: same answer again. */
            join_answer(req, g, m->member_id, 0, strcmp(m->member_id, g->leader_id) == 0);
            return;
        }
        break;
    case GROUP_STABLE:
        if (strcmp(m->member_id, g->leader_id) != 0 && member_protocols_equal(m, body)) {
            join_answer(req, g, m->member_id, 0, false);
            return;
        }
        break;
    default:
        join_answer(req, g, m->member_id, KAFKA_ERR_UNKNOWN_MEMBER_ID, false);
        return;
    }
    /* Changed protocols, or the leader asks again: a new round. */
    if (member_update(m, req) != 0) {
        join_answer(req, g, m->member_id, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
        return;
    }
    m->join_req = req;
    request_park(req);
    group_prepare_rebalance(g, lim, now_ms, wall_ms);
    group_maybe_complete_join(g, now_ms, wall_ms);
}

void group_join(struct group *g, struct request *req, const struct group_limits *lim,
                int64_t now_ms, int64_t wall_ms)
{
    const struct kafka_join_group_request *body = req->body;
    if (body->SessionTimeoutMs < lim->min_session_timeout_ms ||
        body->SessionTimeoutMs > lim->max_session_timeout_ms) {
        join_answer(req, g, NULL, KAFKA_ERR_INVALID_SESSION_TIMEOUT, false);
        return;
    }
    if (req->version >= 1 && body->RebalanceTimeoutMs <= 0) {
        join_answer(req, g, NULL, KAFKA_ERR_INVALID_SESSION_TIMEOUT, false);
        return;
    }
    if (g->state == GROUP_DEAD) {
        join_answer(req, g, NULL, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE, false);
        return;
    }
    if (!group_supports(g, body)) {
        join_answer(req, g, NULL, KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL, false);
        return;
    }
    struct kafka_str member_id = body->MemberId.len < 0 ? (struct kafka_str){"", 0}
                                                        : body->MemberId;
    if (member_id.len > 0) {
        struct group_member *m = group_find_member(g, member_id.ptr, (size_t)member_id.len);
        if (m == NULL) {
            /* The second join of a member told MEMBER_ID_REQUIRED. */
            if (strmap_remove(&g->pending_members, member_id.ptr, (size_t)member_id.len) !=
                NULL) {
                char *id = group_strndup(member_id);
                m = id ? group_add_member(g, req, id, now_ms) : NULL;
                if (m == NULL) {
                    join_answer(req, g, NULL, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
                    return;
                }
                m->join_req = req;
                request_park(req);
                if (g->state != GROUP_PREPARING_REBALANCE)
                    group_prepare_rebalance(g, lim, now_ms, wall_ms);
                else if (g->initial_delay) {
                    int64_t next = now_ms + lim->initial_rebalance_delay_ms;
                    g->join_deadline_ms =
                        next < g->initial_delay_end_ms ? next : g->initial_delay_end_ms;
                }
                group_maybe_complete_join(g, now_ms, wall_ms);
                return;
            }
            join_answer(req, g, NULL, KAFKA_ERR_UNKNOWN_MEMBER_ID, false);
            return;
        }
        if (member_fenced(m, body->GroupInstanceId)) {
            join_answer(req, g, m->member_id, KAFKA_ERR_FENCED_INSTANCE_ID, false);
            return;
        }
        group_join_as(g, req, m, lim, now_ms, wall_ms);
        return;
    }

    /* A new member. */
    if (g->nmembers >= lim->max_size) {
        join_answer(req, g, NULL, KAFKA_ERR_GROUP_MAX_SIZE_REACHED, false);
        return;
    }
    char *id = group_new_member_id(req->header.client_id);
    if (id == NULL) {
        join_answer(req, g, NULL, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
        return;
    }
    struct group_member *old = group_find_instance(g, body->GroupInstanceId);
    if (old != NULL) {
        /* A static member restarted: the new id replaces the old one, which
         * is fenced. In a stable group nothing else changes. */
        log_info("group", "%s: static member %s rejoined as %s", g->group_id, old->instance_id,
                 id);
        if (old->join_req != NULL) {
            struct request *r = old->join_req;
            old->join_req = NULL;
            join_answer(r, g, old->member_id, KAFKA_ERR_FENCED_INSTANCE_ID, false);
        }
        if (old->sync_req != NULL) {
            struct request *r = old->sync_req;
            old->sync_req = NULL;
            sync_answer(r, g, KAFKA_ERR_FENCED_INSTANCE_ID, NULL, 0);
        }
        bool was_leader = g->leader_id && strcmp(g->leader_id, old->member_id) == 0;
        free(old->member_id);
        old->member_id = id;
        if (was_leader) {
            free(g->leader_id);
            g->leader_id = strdup(id);
        }
        if (g->state == GROUP_STABLE && member_protocols_equal(old, body)) {
            old->session_deadline_ms = now_ms + old->session_timeout_ms;
            join_answer(req, g, old->member_id, 0, was_leader);
            return;
        }
        group_join_as(g, req, old, lim, now_ms, wall_ms);
        return;
    }
    if (req->version >= 4 && body->GroupInstanceId.len < 0) {
        /* KIP-394: the member must come back with the id it is given. */
        if (strmap_put(&g->pending_members, id, strlen(id),
                       (void *)(intptr_t)(now_ms + body->SessionTimeoutMs)) != 0) {
            free(id);
            join_answer(req, g, NULL, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
            return;
        }
        join_answer(req, g, id, KAFKA_ERR_MEMBER_ID_REQUIRED, false);
        free(id);
        return;
    }
    struct group_member *m = group_add_member(g, req, id, now_ms);
    if (m == NULL) {
        join_answer(req, g, NULL, KAFKA_ERR_UNKNOWN_SERVER_ERROR, false);
        return;
    }
    m->join_req = req;
    request_park(req);
    if (g->state == GROUP_PREPARING_REBALANCE) {
        if (g->initial_delay) {
            int64_t next = now_ms + lim->initial_rebalance_delay_ms;
            g->join_deadline_ms = next < g->initial_delay_end_ms ? next : g->initial_delay_end_ms;
        }
    } else {
        group_prepare_rebalance(g, lim, now_ms, wall_ms);
    }
    group_maybe_complete_join(g, now_ms, wall_ms);
}

/* ---- SyncGroup ------------------------------------------------------------------------ */

void group_sync(struct group *g, struct request *req, int64_t now_ms)
{
    const struct kafka_sync_group_request *body = req->body;
    struct group_member *m = group_member_named(g, body->MemberId);
    if (g->state == GROUP_DEAD) {
        sync_answer(req, g, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE, NULL, 0);
        return;
    }
    if (m == NULL) {
        sync_answer(req, g, KAFKA_ERR_UNKNOWN_MEMBER_ID, NULL, 0);
        return;
    }
    if (member_fenced(m, body->GroupInstanceId)) {
        sync_answer(req, g, KAFKA_ERR_FENCED_INSTANCE_ID, NULL, 0);
        return;
    }
    if (body->GenerationId != g->generation) {
        sync_answer(req, g, KAFKA_ERR_ILLEGAL_GENERATION, NULL, 0);
        return;
    }
    if ((body->ProtocolType.len >= 0 && !group_str_is(g->protocol_type, body->ProtocolType)) ||
        (body->ProtocolName.len >= 0 && !group_str_is(g->protocol_name, body->ProtocolName))) {
        sync_answer(req, g, KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL, NULL, 0);
        return;
    }
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        sync_answer(req, g, KAFKA_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
        return;
    case GROUP_STABLE:
        sync_answer(req, g, 0, m->assignment, m->assignment_len);
        return;
    case GROUP_COMPLETING_REBALANCE:
        break;
    default:
        sync_answer(req, g, KAFKA_ERR_UNKNOWN_MEMBER_ID, NULL, 0);
        return;
    }
    if (m->sync_req != NULL) {
        struct request *old = m->sync_req;
        m->sync_req = NULL;
        sync_answer(old, g, KAFKA_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
    }
    m->sync_req = req;
    request_park(req);
    if (strcmp(m->member_id, g->leader_id) != 0 || g->storing)
        return;
    /* The leader's assignment: keep each member's part (nothing for members
     * it did not mention), then store it before anyone hears of it. */
    for (struct group_member *x = g->members; x != NULL; x = x->next) {
        free(x->assignment);
        x->assignment = NULL;
        x->assignment_len = 0;
    }
    for (int32_t i = 0; i < body->Assignments.count; i++) {
        const struct kafka_sync_group_request_sync_group_request_assignment *a =
            &body->Assignments.items[i];
        struct group_member *x =
            a->MemberId.len > 0 ? group_find_member(g, a->MemberId.ptr, (size_t)a->MemberId.len)
                                : NULL;
        if (x == NULL || a->Assignment.len <= 0)
            continue;
        free(x->assignment);
        x->assignment = malloc((size_t)a->Assignment.len);
        if (x->assignment != NULL) {
            memcpy(x->assignment, a->Assignment.ptr, (size_t)a->Assignment.len);
            x->assignment_len = a->Assignment.len;
        }
    }
    g->storing = true;
    coordinator_store_group(g, true);
}

void group_assignment_stored(struct group *g, int16_t error, int64_t now_ms, int64_t wall_ms)
{
    g->storing = false;
    if (g->state != GROUP_COMPLETING_REBALANCE)
        return; /* a new round started meanwhile; its members were told */
    if (error != 0) {
        for (struct group_member *m = g->members; m != NULL; m = m->next) {
            if (m->sync_req != NULL) {
                struct request *r = m->sync_req;
                m->sync_req = NULL;
                sync_answer(r, g, error, NULL, 0);
            }
        }
        group_prepare_rebalance(g, NULL, now_ms, wall_ms);
        return;
    }
    g->sync_deadline_ms = -1;
    group_set_state(g, GROUP_STABLE, wall_ms);
    for (struct group_member *m = g->members; m != NULL; m = m->next) {
        if (m->sync_req != NULL) {
            struct request *r = m->sync_req;
            m->sync_req = NULL;
            sync_answer(r, g, 0, m->assignment, m->assignment_len);
        }
    }
}

/* ---- Heartbeat and LeaveGroup ------------------------------------------------------------ */

void group_heartbeat(struct group *g, struct request *req, int64_t now_ms)
{
    const struct kafka_heartbeat_request *body = req->body;
    if (g->state == GROUP_DEAD) {
        request_fail(req, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    struct group_member *m = group_member_named(g, body->MemberId);
    if (g->state == GROUP_EMPTY || m == NULL) {
        request_fail(req, KAFKA_ERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (member_fenced(m, body->GroupInstanceId)) {
        request_fail(req, KAFKA_ERR_FENCED_INSTANCE_ID);
        return;
    }
    if (body->GenerationId != g->generation) {
        request_fail(req, KAFKA_ERR_ILLEGAL_GENERATION);
        return;
    }
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    request_fail(req, g->state == GROUP_PREPARING_REBALANCE ? KAFKA_ERR_REBALANCE_IN_PROGRESS
                                                             : 0);
}

/* Removes one leaving member; returns its Kafka error (0: removed). */
static int16_t group_leave_one(struct group *g, struct kafka_str member_id,
                               struct kafka_str instance_id, bool *removed)
{
    struct group_member *m = NULL;
    if (instance_id.len >= 0) {
        m = group_find_instance(g, instance_id);
        if (m != NULL && member_id.len > 0 && !group_str_is(m->member_id, member_id))
            return KAFKA_ERR_FENCED_INSTANCE_ID;
    } else if (member_id.len > 0) {
        m = group_find_member(g, member_id.ptr, (size_t)member_id.len);
        if (m == NULL &&
            strmap_remove(&g->pending_members, member_id.ptr, (size_t)member_id.len) != NULL)
            return 0;
    }
    if (m == NULL)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    log_info("group", "%s: member %s left", g->group_id, m->member_id);
    group_unlink_member(g, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
    *removed = true;
    return 0;
}

void group_leave(struct group *g, struct request *req, int64_t now_ms, int64_t wall_ms)
{
    const struct kafka_leave_group_request *body = req->body;
    struct kafka_leave_group_response *resp = request_response(req);
    if (resp == NULL) {
        request_drop(req, true);
        return;
    }
    bool removed = false;
    if (g->state == GROUP_DEAD) {
        resp->ErrorCode = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->version < 3) {
        resp->ErrorCode = group_leave_one(g, body->MemberId, KAFKA_STR_NULL, &removed);
    } else {
        int32_t n = body->Members.count < 0 ? 0 : body->Members.count;
        struct kafka_leave_group_response_member_response *out = kafka_alloc_items(
            &req->arena, &kafka_leave_group_response_member_response_desc, n);
        if (n > 0 && out == NULL) {
            request_drop(req, true);
            return;
        }
        for (int32_t i = 0; i < n; i++) {
            const struct kafka_leave_group_request_member_identity *in = &body->Members.items[i];
            out[i].MemberId = in->MemberId;
            out[i].GroupInstanceId = in->GroupInstanceId;
            out[i].ErrorCode = group_leave_one(g, in->MemberId, in->GroupInstanceId, &removed);
        }
        resp->Members.count = n;
        resp->Members.items = out;
    }
    if (removed)
        group_after_removal(g, now_ms, wall_ms);
    req->response = resp;
    request_done(req);
}

int16_t group_validate_commit(struct group *g, int32_t generation, struct kafka_str member_id,
                              struct kafka_str instance_id)
{
    if (g->state == GROUP_DEAD)
        return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    /* Standalone consumers and tools commit with generation -1 to a group
     * nobody is a member of. */
    if (generation < 0 && g->state == GROUP_EMPTY)
        return 0;
    struct group_member *m = group_member_named(g, member_id);
    if (m == NULL)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (member_fenced(m, instance_id))
        return KAFKA_ERR_FENCED_INSTANCE_ID;
    if (generation != g->generation)
        return KAFKA_ERR_ILLEGAL_GENERATION;
    if (g->state == GROUP_COMPLETING_REBALANCE)
        return KAFKA_ERR_REBALANCE_IN_PROGRESS;
    return 0;
}

/* ---- time --------------------------------------------------------------------------------- */

void group_tick(struct group *g, int64_t now_ms, int64_t wall_ms)
{
    /* Members told MEMBER_ID_REQUIRED that never came back. */
    size_t bucket;
    struct strmap_entry *e = strmap_first(&g->pending_members, &bucket);
    while (e != NULL) {
        struct strmap_entry *next = strmap_next(&g->pending_members, e, &bucket);
        if ((int64_t)(intptr_t)e->value <= now_ms)
            strmap_remove(&g->pending_members, e->key, e->key_len);
        e = next;
    }
    if (g->state == GROUP_PREPARING_REBALANCE) {
        /* A member that neither rejoins nor heartbeats is gone: do not wait
         * the whole rebalance timeout for it. */
        struct group_member *m = g->members;
        while (m != NULL) {
            struct group_member *next = m->next;
            if (m->join_req == NULL && now_ms >= m->session_deadline_ms) {
                log_info("group", "%s: member %s session timed out", g->group_id, m->member_id);
                group_unlink_member(g, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
            }
            m = next;
        }
        if (g->join_deadline_ms >= 0 && now_ms >= g->join_deadline_ms)
            group_complete_join(g, now_ms, wall_ms);
        else
            group_maybe_complete_join(g, now_ms, wall_ms);
        return;
    }
    if (g->state == GROUP_COMPLETING_REBALANCE && g->sync_deadline_ms >= 0 &&
        now_ms >= g->sync_deadline_ms && !g->storing) {
        /* Members that never sent SyncGroup are dropped; the rest rejoin. */
        struct group_member *m = g->members;
        while (m != NULL) {
            struct group_member *next = m->next;
            if (m->sync_req == NULL)
                group_unlink_member(g, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
            m = next;
        }
        group_after_removal(g, now_ms, wall_ms);
        if (g->state == GROUP_COMPLETING_REBALANCE)
            group_prepare_rebalance(g, NULL, now_ms, wall_ms);
        return;
    }
    if (g->state != GROUP_STABLE && g->state != GROUP_COMPLETING_REBALANCE)
        return;
    bool removed = false;
    struct group_member *m = g->members;
    while (m != NULL) {
        struct group_member *next = m->next;
        if (m->sync_req == NULL && now_ms >= m->session_deadline_ms) {
            log_info("group", "%s: member %s session timed out", g->group_id, m->member_id);
            group_unlink_member(g, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
            removed = true;
        }
        m = next;
    }
    if (removed)
        group_after_removal(g, now_ms, wall_ms);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int group_restore(struct group *g, const struct group_metadata_value *v, int64_t now_ms)
{
    while (g->members != NULL)
        group_unlink_member(g, g->members, KAFKA_ERR_NOT_COORDINATOR);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader_id);
    g->protocol_type = group_strndup(v->protocol_type);
    g->protocol_name = group_strndup(v->protocol);
    g->leader_id = group_strndup(v->leader);
    g->generation = v->generation;
    if (v->state_timestamp > g->state_since_ms) /* commits loaded before count too */
        g->state_since_ms = v->state_timestamp;
    struct group_member **tail = &g->members;
    for (int32_t i = 0; i < v->nmembers; i++) {
        const struct group_member_value *mv = &v->members[i];
        struct group_member *m = calloc(1, sizeof(*m));
        if (m == NULL)
            return -1;
        m->member_id = group_strndup(mv->member_id);
        m->instance_id = group_strndup(mv->instance_id);
        m->client_id = group_strndup(mv->client_id);
        m->client_host = group_strndup(mv->client_host);
        m->rebalance_timeout_ms = mv->rebalance_timeout_ms;
        m->session_timeout_ms = mv->session_timeout_ms;
        m->session_deadline_ms = now_ms + mv->session_timeout_ms;
        m->nprotocols = 1;
        m->protocols = calloc(1, sizeof(*m->protocols));
        if (m->protocols != NULL) {
            m->protocols[0].name = strdup(g->protocol_name ? g->protocol_name : "");
            int32_t len = mv->subscription.len < 0 ? 0 : mv->subscription.len;
            m->protocols[0].metadata = malloc((size_t)len + 1);
            if (m->protocols[0].metadata != NULL && len > 0)
                memcpy(m->protocols[0].metadata, mv->subscription.ptr, (size_t)len);
            m->protocols[0].len = len;
        }
        if (mv->assignment.len > 0) {
            m->assignment = malloc((size_t)mv->assignment.len);
            if (m->assignment != NULL) {
                memcpy(m->assignment, mv->assignment.ptr, (size_t)mv->assignment.len);
                m->assignment_len = mv->assignment.len;
            }
        }
        if (m->member_id == NULL || m->client_id == NULL || m->client_host == NULL ||
            m->protocols == NULL || m->protocols[0].name == NULL ||
            m->protocols[0].metadata == NULL) {
            member_free(m);
            return -1;
        }
        *tail = m;
        tail = &m->next;
        g->nmembers++;
    }
    g->state = g->nmembers > 0 ? GROUP_STABLE : GROUP_EMPTY;
    bool leader_gone =
        g->leader_id == NULL || group_find_member(g, g->leader_id, strlen(g->leader_id)) == NULL;
    if (g->nmembers > 0 && leader_gone) {
        free(g->leader_id);
        g->leader_id = strdup(g->members->member_id);
    }
    return 0;
}

void group_free(struct group *g, int16_t error)
{
    if (g == NULL)
        return;
    while (g->members != NULL)
        group_unlink_member(g, g->members, error);
    size_t bucket;
    for (struct strmap_entry *e = strmap_first(&g->offsets, &bucket); e != NULL;
         e = strmap_next(&g->offsets, e, &bucket)) {
        struct group_offset *o = e->value;
        free(o->metadata);
        free(o);
    }
    strmap_free(&g->offsets);
    strmap_free(&g->pending_members);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader_id);
    free(g->group_id);
    free(g);
}
