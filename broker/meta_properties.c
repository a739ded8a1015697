#include "broker/meta_properties.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "common/random.h"
#include "common/rill_error.h"
#include "storage/store.h"

struct meta_parse {
    struct meta_properties *mp;
    bool cluster, node;
};

static int meta_properties_key(void *ctx, const char *key, const char *value)
{
    struct meta_parse *p = ctx;
    if (strcmp(key, "cluster.id") == 0) {
        snprintf(p->mp->cluster_id, sizeof(p->mp->cluster_id), "%s", value);
        p->cluster = true;
    } else if (strcmp(key, "node.id") == 0) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 0 || v > INT32_MAX)
            return RILL_ERR_CONFIG;
        p->mp->node_id = (int32_t)v;
        p->node = true;
    }
    return RILL_OK;
}

int meta_properties_read(const char *dir, struct meta_properties *mp, char *err,
                         size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/meta.properties", dir);
    if (access(path, F_OK) != 0)
        return 0;
    memset(mp, 0, sizeof(*mp));
    struct meta_parse p = {mp, false, false};
    if (config_parse_properties(path, meta_properties_key, &p, err, errlen) != 0)
        return RILL_ERR_CONFIG;
    if (!p.cluster || !p.node) {
        snprintf(err, errlen, "%s lacks %s", path, p.cluster ? "node.id" : "cluster.id");
        return RILL_ERR_CONFIG;
    }
    return 1;
}

int meta_properties_write(const char *dir, const struct meta_properties *mp)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "#\n#Written by Rill\nversion=1\ncluster.id=%s\n"
                                         "node.id=%d\n",
                     mp->cluster_id, mp->node_id);
    return storage_write_file_durably(dir, "meta.properties", text, (size_t)n);
}

int meta_properties_new_cluster_id(char *out, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[16];
    int rc = random_bytes(raw, sizeof(raw));
    if (rc != 0 || len < 23)
        return rc ? rc : RILL_ERR_INVALID;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            out[n++] = alphabet[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits > 0)
        out[n++] = alphabet[(acc << (6 - bits)) & 63];
    out[n] = '\0';
    return RILL_OK;
}

int meta_properties_check_cluster_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(((struct meta_properties *)0)->cluster_id))
        return RILL_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return RILL_ERR_INVALID;
    }
    return RILL_OK;
}
