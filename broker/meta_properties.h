/* meta.properties: Kafka's record, in a data directory, of the cluster and
 * node it belongs to ("version=1", "cluster.id=…", "node.id=…"). Written
 * once, durably, when the directory is formatted (`rill storage format`,
 * or the first start of a broker); a broker refuses a directory of
 * another cluster or node. */
#ifndef RILL_BROKER_META_PROPERTIES_H
#define RILL_BROKER_META_PROPERTIES_H

#include <stddef.h>
#include <stdint.h>

struct meta_properties {
    char cluster_id[64];
    int32_t node_id;
};

/* Reads DIR/meta.properties: 1 when found (mp filled), 0 when absent, or a
 * negative RILL_ERR_* with the reason in err (unreadable, malformed, no
 * cluster.id or node.id). */
int meta_properties_read(const char *dir, struct meta_properties *mp, char *err,
                         size_t errlen);

/* Writes DIR/meta.properties durably (write, fsync, rename, fsync the
 * directory). Returns 0 or a RILL_ERR_*. */
int meta_properties_write(const char *dir, const struct meta_properties *mp);

/* A new random cluster id: 16 random bytes in base64url without padding
 * (22 characters), as `kafka-storage.sh random-uuid` prints. */
int meta_properties_new_cluster_id(char *out, size_t len);

/* 0 when id is a cluster id Rill accepts (1..63 characters of [A-Za-z0-9_-]). */
int meta_properties_check_cluster_id(const char *id);

#endif
