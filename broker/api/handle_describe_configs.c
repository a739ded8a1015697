/* DescribeConfigs: topic configurations (overrides over broker defaults,
 * with their sources and synonyms) and this broker's static configuration,
 * both read from the configuration tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/config.h"
#include "broker/quorum/metadata_log.h"
#include "broker/net/request.h"
#include "broker/replica/topic_config.h"
#include "proto/kafka_errors.h"

/* Kafka's ConfigSource and ConfigType codes. */
enum {
    SOURCE_TOPIC = 1,
    SOURCE_STATIC_BROKER = 4,
    SOURCE_DEFAULT = 5,
    TYPE_BOOLEAN = 1,
    TYPE_STRING = 2,
    TYPE_INT = 3,
    TYPE_LONG = 5,
};

typedef struct kafka_describe_configs_response_describe_configs_resource_result config_entry;
typedef struct kafka_describe_configs_response_describe_configs_synonym config_synonym;
typedef struct kafka_describe_configs_request_describe_configs_resource config_resource;

static int8_t describe_type(enum config_type type)
{
    switch (type) {
    case CONFIG_BOOL:
        return TYPE_BOOLEAN;
    case CONFIG_INT:
        return TYPE_INT;
    case CONFIG_LONG:
        return TYPE_LONG;
    default:
        return TYPE_STRING;
    }
}

static bool describe_wanted(const struct kafka_array_str *keys, const char *name)
{
    if (keys->count < 0)
        return true;
    for (int32_t i = 0; i < keys->count; i++)
        if (kafka_str_eq(keys->items[i], name))
            return true;
    return false;
}

static struct kafka_str describe_str(struct request *req, const char *s)
{
    if (s == NULL)
        return KAFKA_STR_NULL;
    char *copy = arena_printf(&req->arena, "%s", s);
    return copy ? (struct kafka_str){copy, (int32_t)strlen(copy)} : KAFKA_STR_NULL;
}

static int describe_topic(struct request *req,
                          const config_resource *in,
                          struct kafka_describe_configs_response_describe_configs_result *out)
{
    struct broker *b = req->broker;
    const struct kafka_describe_configs_request *body = req->body;
    const struct metadata_topic *t =
        in->ResourceName.len > 0
            ? metadata_image_topic(metadata_log_image(b->mlog), in->ResourceName.ptr,
                                   (size_t)in->ResourceName.len)
            : NULL;
    if (t == NULL) {
        out->ErrorCode = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->ErrorMessage = describe_str(req, "Topic does not exist");
        return 0;
    }
    config_entry *entries = kafka_alloc_items(
        &req->arena, &kafka_describe_configs_response_describe_configs_resource_result_desc,
        (int32_t)topic_config_key_count);
    if (entries == NULL)
        return -1;
    int32_t n = 0;
    for (size_t i = 0; i < topic_config_key_count; i++) {
        const struct topic_config_key *key = &topic_config_keys[i];
        if (!describe_wanted(&in->ConfigurationKeys, key->name))
            continue;
        char buf[64];
        bool is_override;
        const char *value = topic_config_value(&b->cfg, t, key, buf, sizeof(buf), &is_override);
        const struct config_key *bkey =
            key->broker_synonym ? config_find_key(key->broker_synonym) : NULL;
        int8_t broker_source =
            bkey != NULL && !config_is_default(&b->cfg, bkey) ? SOURCE_STATIC_BROKER
                                                              : SOURCE_DEFAULT;
        config_entry *e = &entries[n++];
        e->Name = describe_str(req, key->name);
        e->Value = describe_str(req, value);
        e->ConfigSource = is_override ? SOURCE_TOPIC : broker_source;
        e->IsDefault = !is_override;
        e->ConfigType = describe_type(key->type);
        if (body->IncludeDocumentation)
            e->Documentation = describe_str(req, key->doc);
        if (!body->IncludeSynonyms)
            continue;
        config_synonym *syn = kafka_alloc_items(
            &req->arena, &kafka_describe_configs_response_describe_configs_synonym_desc, 2);
        if (syn == NULL)
            return -1;
        int32_t ns = 0;
        if (is_override) {
            syn[ns].Name = e->Name;
            syn[ns].Value = e->Value;
            syn[ns++].Source = SOURCE_TOPIC;
        }
        if (bkey != NULL) {
            char bbuf[64];
            syn[ns].Name = describe_str(req, bkey->name);
            syn[ns].Value = describe_str(req, config_value_text(&b->cfg, bkey, bbuf, sizeof(bbuf)));
            syn[ns++].Source = broker_source;
        }
        e->Synonyms.count = ns;
        e->Synonyms.items = syn;
    }
    out->Configs.count = n;
    out->Configs.items = entries;
    return 0;
}

static int describe_broker(struct request *req,
                           const config_resource *in,
                           struct kafka_describe_configs_response_describe_configs_result *out)
{
    struct broker *b = req->broker;
    const struct kafka_describe_configs_request *body = req->body;
    char self[16];
    snprintf(self, sizeof(self), "%d", b->cfg.node_id);
    if (in->ResourceName.len > 0 && !kafka_str_eq(in->ResourceName, self)) {
        out->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
        out->ErrorMessage = describe_str(req, "Describe the configuration of another broker on "
                                              "that broker");
        return 0;
    }
    config_entry *entries = kafka_alloc_items(
        &req->arena, &kafka_describe_configs_response_describe_configs_resource_result_desc,
        (int32_t)broker_config_key_count);
    if (entries == NULL)
        return -1;
    int32_t n = 0;
    for (size_t i = 0; i < broker_config_key_count; i++) {
        const struct config_key *key = &broker_config_keys[i];
        if (!describe_wanted(&in->ConfigurationKeys, key->name))
            continue;
        char buf[64];
        config_entry *e = &entries[n++];
        e->Name = describe_str(req, key->name);
        e->Value = describe_str(req, config_value_text(&b->cfg, key, buf, sizeof(buf)));
        e->ReadOnly = true; /* no dynamic broker configuration yet */
        e->ConfigSource = config_is_default(&b->cfg, key) ? SOURCE_DEFAULT : SOURCE_STATIC_BROKER;
        e->IsDefault = e->ConfigSource == SOURCE_DEFAULT;
        e->ConfigType = describe_type(key->type);
        if (body->IncludeDocumentation)
            e->Documentation = describe_str(req, key->doc);
        if (body->IncludeSynonyms) {
            config_synonym *syn = kafka_alloc_items(
                &req->arena, &kafka_describe_configs_response_describe_configs_synonym_desc, 1);
            if (syn == NULL)
                return -1;
            syn->Name = e->Name;
            syn->Value = e->Value;
            syn->Source = e->ConfigSource;
            e->Synonyms.count = 1;
            e->Synonyms.items = syn;
        }
    }
    out->Configs.count = n;
    out->Configs.items = entries;
    return 0;
}

void handle_describe_configs(struct request *req)
{
    const struct kafka_describe_configs_request *body = req->body;
    struct kafka_describe_configs_response *resp = request_response(req);
    int32_t n = body->Resources.count < 0 ? 0 : body->Resources.count;
    struct kafka_describe_configs_response_describe_configs_result *results = kafka_alloc_items(
        &req->arena, &kafka_describe_configs_response_describe_configs_result_desc, n);
    if (resp == NULL || (n > 0 && results == NULL)) {
        request_drop(req, true);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        const config_resource *in = &body->Resources.items[i];
        struct kafka_describe_configs_response_describe_configs_result *out = &results[i];
        out->ResourceType = in->ResourceType;
        out->ResourceName = in->ResourceName;
        out->ErrorMessage = KAFKA_STR_NULL;
        int rc = 0;
        if (in->ResourceType == METADATA_RESOURCE_TOPIC) {
            rc = describe_topic(req, in, out);
        } else if (in->ResourceType == METADATA_RESOURCE_BROKER) {
            rc = describe_broker(req, in, out);
        } else {
            out->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            out->ErrorMessage = describe_str(req, "Unsupported resource type");
        }
        if (rc != 0) {
            request_drop(req, true);
            return;
        }
    }
    resp->Results.count = n;
    resp->Results.items = results;
    req->response = resp;
    request_done(req);
}
