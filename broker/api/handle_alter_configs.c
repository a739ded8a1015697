/* AlterConfigs v0-2 and IncrementalAlterConfigs v0-1 for topics: each
 * value is checked against the topic keys (topic_config.h), the records
 * are decided by the controller (metadata/controller.h), and the answer
 * comes once they are applied, when partitions already run with the new
 * settings. AlterConfigs replaces a topic's whole set of overrides;
 * IncrementalAlterConfigs sets (0) or deletes (1) single keys (APPEND and
 * SUBTRACT apply to list-valued keys, which no topic key of Rill is). The
 * valid resources of one request are proposed in one batch; each gets its
 * own error. Broker resources are refused: Rill has no dynamic broker
 * configuration. Relayed to the controller from other brokers
 * (forwarding.h). */
#include <stdio.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "broker/replica/topic_config.h"
#include "common/rill_error.h"
#include "metadata/controller.h"
#include "proto/kafka_errors.h"

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* One resource of either request, normalised. */
struct alter_resource {
    int8_t type;
    struct kafka_str name;
    struct controller_config_change *changes;
    int8_t *ops;
    size_t n;
    int16_t error;
    const char *message;
};

struct alter_state {
    struct alter_resource *res;
    int32_t n;
    bool incremental;
};

static void alter_answer(struct request *req)
{
    struct alter_state *st = req->handler_state;
    /* The two responses have the same shape. */
    if (st->incremental) {
        struct kafka_incremental_alter_configs_response *resp = request_response(req);
        struct kafka_incremental_alter_configs_response_alter_configs_resource_response *out =
            kafka_alloc_items(
                &req->arena,
                &kafka_incremental_alter_configs_response_alter_configs_resource_response_desc,
                st->n);
        if (resp == NULL || (st->n > 0 && out == NULL)) {
            request_drop(req, true);
            return;
        }
        for (int32_t i = 0; i < st->n; i++) {
            out[i].ResourceType = st->res[i].type;
            out[i].ResourceName = st->res[i].name;
            out[i].ErrorCode = st->res[i].error;
            out[i].ErrorMessage = st->res[i].message ? kafka_str_from(st->res[i].message)
                                                     : KAFKA_STR_NULL;
        }
        resp->Responses.count = st->n;
        resp->Responses.items = out;
        req->response = resp;
    } else {
        struct kafka_alter_configs_response *resp = request_response(req);
        struct kafka_alter_configs_response_alter_configs_resource_response *out =
            kafka_alloc_items(&req->arena,
                              &kafka_alter_configs_response_alter_configs_resource_response_desc,
                              st->n);
        if (resp == NULL || (st->n > 0 && out == NULL)) {
            request_drop(req, true);
            return;
        }
        for (int32_t i = 0; i < st->n; i++) {
            out[i].ResourceType = st->res[i].type;
            out[i].ResourceName = st->res[i].name;
            out[i].ErrorCode = st->res[i].error;
            out[i].ErrorMessage = st->res[i].message ? kafka_str_from(st->res[i].message)
                                                     : KAFKA_STR_NULL;
        }
        resp->Responses.count = st->n;
        resp->Responses.items = out;
        req->response = resp;
    }
    request_done(req);
}

static void alter_applied(void *ctx, int rc)
{
    struct request *req = ctx;
    struct alter_state *st = req->handler_state;
    for (int32_t i = 0; rc != 0 && i < st->n; i++) {
        if (st->res[i].error != 0)
            continue;
        st->res[i].error = metadata_log_propose_error(rc);
        st->res[i].message = "The configuration was not committed.";
    }
    alter_answer(req);
}

static void alter_refuse(struct request *req, struct alter_resource *r, int16_t error,
                         const char *message)
{
    r->error = error;
    r->message = arena_printf(&req->arena, "%s", message);
}

/* Checks one resource's changes; on success appends its records to all. */
static void alter_decide(struct request *req, struct alter_resource *r, bool incremental,
                         bool validate_only, struct controller_out *all)
{
    if (r->type != METADATA_RESOURCE_TOPIC) {
        alter_refuse(req, r, KAFKA_ERR_INVALID_REQUEST,
                     r->type == METADATA_RESOURCE_BROKER
                         ? "Rill has no dynamic broker configuration; set broker keys in its "
                           "configuration file or command line."
                         : "Unsupported resource type.");
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct controller_config_change *c = &r->changes[i];
        char err[200];
        if (r->ops[i] == OP_APPEND || r->ops[i] == OP_SUBTRACT) {
            snprintf(err, sizeof(err), "Config value append/subtract is not allowed for "
                                       "config key %.*s, which is not a list.",
                     (int)c->name_len, c->name);
            alter_refuse(req, r, KAFKA_ERR_INVALID_CONFIG, err);
            return;
        }
        if (r->ops[i] != OP_SET && r->ops[i] != OP_DELETE) {
            alter_refuse(req, r, KAFKA_ERR_INVALID_REQUEST, "Unknown config operation.");
            return;
        }
        if (r->ops[i] == OP_DELETE) {
            c->value = NULL;
            if (topic_config_find(c->name, c->name_len) != NULL)
                continue;
        }
        if (c->value == NULL && r->ops[i] == OP_SET) {
            alter_refuse(req, r, KAFKA_ERR_INVALID_REQUEST,
                         "Null value not supported for topic configs");
            return;
        }
        if (topic_config_validate(c->name, c->name_len, c->value ? c->value : "", c->value_len,
                                  err, sizeof(err)) != 0) {
            alter_refuse(req, r, KAFKA_ERR_INVALID_CONFIG, err);
            return;
        }
    }
    size_t before = all->n;
    int rc = controller_alter_topic_configs(metadata_log_image(req->broker->mlog), r->name.ptr,
                                            r->name.len < 0 ? 0 : (size_t)r->name.len,
                                            r->changes, r->n, !incremental, all);
    if (rc != 0 || all->error != 0) {
        alter_refuse(req, r, rc != 0 ? KAFKA_ERR_UNKNOWN_SERVER_ERROR : all->error,
                     rc != 0 ? "Out of memory." : all->message);
        all->n = before;
        all->error = 0;
    } else if (validate_only) {
        all->n = before;
    }
}

static void alter_run(struct request *req, bool validate_only)
{
    struct alter_state *st = req->handler_state;
    struct controller_out all;
    controller_out_init(&all);
    for (int32_t i = 0; i < st->n; i++)
        alter_decide(req, &st->res[i], st->incremental, validate_only, &all);
    int rc = all.n > 0 ? metadata_log_propose(req->broker->mlog, all.recs, all.n, alter_applied,
                                              req)
                       : RILL_OK;
    bool waits = all.n > 0 && rc == 0;
    controller_out_free(&all);
    if (waits)
        return;
    if (rc != 0)
        alter_applied(req, rc);
    else
        alter_answer(req);
}

static struct alter_state *alter_state_new(struct request *req, int32_t n, bool incremental)
{
    struct alter_state *st = arena_alloc(&req->arena, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->n = n < 0 ? 0 : n;
    st->incremental = incremental;
    st->res = arena_alloc(&req->arena, ((size_t)st->n + 1) * sizeof(*st->res));
    req->handler_state = st;
    return st->res != NULL ? st : NULL;
}

static bool alter_resource_init(struct request *req, struct alter_resource *r, int8_t type,
                                struct kafka_str name, int32_t n)
{
    r->type = type;
    r->name = name;
    r->n = n < 0 ? 0 : (size_t)n;
    r->changes = arena_alloc(&req->arena, (r->n + 1) * sizeof(*r->changes));
    r->ops = arena_alloc(&req->arena, r->n + 1);
    return r->changes != NULL && r->ops != NULL;
}

static void alter_set_change(struct alter_resource *r, size_t i, struct kafka_str name,
                             struct kafka_str value, int8_t op)
{
    r->changes[i] = (struct controller_config_change){
        .name = name.ptr,
        .name_len = name.len < 0 ? 0 : (size_t)name.len,
        .value = value.len < 0 ? NULL : (value.ptr != NULL ? value.ptr : ""),
        .value_len = value.len < 0 ? 0 : (size_t)value.len};
    r->ops[i] = op;
}

void handle_incremental_alter_configs(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the controller answers */
    const struct kafka_incremental_alter_configs_request *body = req->body;
    struct alter_state *st = alter_state_new(req, body->Resources.count, true);
    if (st == NULL) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < st->n; i++) {
        const struct kafka_incremental_alter_configs_request_alter_configs_resource *in =
            &body->Resources.items[i];
        if (!alter_resource_init(req, &st->res[i], in->ResourceType, in->ResourceName,
                                 in->Configs.count)) {
            request_drop(req, true);
            return;
        }
        for (size_t k = 0; k < st->res[i].n; k++)
            alter_set_change(&st->res[i], k, in->Configs.items[k].Name,
                             in->Configs.items[k].Value, in->Configs.items[k].ConfigOperation);
    }
    alter_run(req, body->ValidateOnly);
}

void handle_alter_configs(struct request *req)
{
    if (forwarding_forward(req->broker, req))
        return; /* the controller answers */
    const struct kafka_alter_configs_request *body = req->body;
    struct alter_state *st = alter_state_new(req, body->Resources.count, false);
    if (st == NULL) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < st->n; i++) {
        const struct kafka_alter_configs_request_alter_configs_resource *in =
            &body->Resources.items[i];
        if (!alter_resource_init(req, &st->res[i], in->ResourceType, in->ResourceName,
                                 in->Configs.count)) {
            request_drop(req, true);
            return;
        }
        for (size_t k = 0; k < st->res[i].n; k++)
            alter_set_change(&st->res[i], k, in->Configs.items[k].Name,
                             in->Configs.items[k].Value, OP_SET);
    }
    alter_run(req, body->ValidateOnly);
}
