/* ApiVersions: the table of APIs and versions this broker serves, read
 * straight from broker/net/api_table.c. Versions above ours are answered by
 * conn.c (error 35 in v0 form, KIP-511). */
#include "broker/net/api_table.h"
#include "broker/net/request.h"

void handle_api_versions(struct request *req)
{
    struct kafka_api_versions_response *resp = request_response(req);
    size_t count;
    const struct api_entry *entries = api_table_entries(&count);
    struct kafka_api_versions_response_api_version *keys =
        kafka_alloc_items(&req->arena, &kafka_api_versions_response_api_version_desc,
                          (int32_t)count);
    if (resp == NULL || keys == NULL) {
        request_drop(req, true);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        keys[i].ApiKey = entries[i].api_key;
        keys[i].MinVersion = entries[i].min_version;
        keys[i].MaxVersion = entries[i].max_version;
    }
    resp->ApiKeys.count = (int32_t)count;
    resp->ApiKeys.items = keys;
    req->response = resp;
    request_done(req);
}
