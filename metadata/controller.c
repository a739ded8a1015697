#include "metadata/controller.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/kafka_errors.h"

/* ---- output ------------------------------------------------------------- */

void controller_out_init(struct controller_out *out)
{
    memset(out, 0, sizeof(*out));
    arena_init(&out->arena);
}

void controller_out_free(struct controller_out *out)
{
    arena_free(&out->arena);
    memset(out, 0, sizeof(*out));
}

static void controller_refuse(struct controller_out *out, int16_t error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void controller_refuse(struct controller_out *out, int16_t error, const char *fmt, ...)
{
    out->error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* A new, initialised record appended to out; NULL when out of memory. */
static Rill__Metadata__MetadataRecord *controller_add(struct controller_out *out)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        Rill__Metadata__MetadataRecord **recs = arena_alloc(&out->arena, cap * sizeof(*recs));
        if (recs == NULL)
            return NULL;
        if (out->n > 0)
            memcpy(recs, out->recs, out->n * sizeof(*recs));
        out->recs = recs;
        out->cap = cap;
    }
    Rill__Metadata__MetadataRecord *rec = arena_alloc(&out->arena, sizeof(*rec));
    if (rec == NULL)
        return NULL;
    rill__metadata__metadata_record__init(rec);
    out->recs[out->n++] = rec;
    return rec;
}

static int32_t *controller_ids(struct controller_out *out, const int32_t *ids, size_t n)
{
    int32_t *copy = arena_alloc(&out->arena, (n ? n : 1) * sizeof(*copy));
    if (copy != NULL && n > 0)
        memcpy(copy, ids, n * sizeof(*copy));
    return copy;
}

/* ---- topic names ---------------------------------------------------------- */

int controller_validate_topic_name(const char *name, size_t len, const char **why)
{
    if (len == 0) {
        *why = "Topic name is illegal, it can't be empty";
        return -1;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        *why = "Topic name cannot be \".\" or \"..\"";
        return -1;
    }
    if (len > LIMIT_TOPIC_NAME_BYTES) {
        *why = "Topic name is illegal, it can't be longer than 249 characters";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            *why = "Topic name contains a character other than ASCII alphanumerics, '.', '_' "
                   "and '-'";
            return -1;
        }
    }
    return 0;
}

struct collide_ctx {
    const char *name;
    size_t len;
    bool collides;
};

/* Kafka refuses names that differ from an existing one only by '.' vs '_',
 * because their metric names would collide. */
static void controller_collide_one(void *ctx, const struct metadata_topic *t)
{
    struct collide_ctx *c = ctx;
    if (c->collides || strlen(t->name) != c->len)
        return;
    bool same = true, exact = true;
    for (size_t i = 0; i < c->len && same; i++) {
        char x = t->name[i] == '.' ? '_' : t->name[i];
        char y = c->name[i] == '.' ? '_' : c->name[i];
        same = x == y;
        exact = exact && t->name[i] == c->name[i];
    }
    c->collides = same && !exact;
}

static bool controller_has(const int32_t *ids, size_t n, int32_t id);
static int controller_add_partition(struct controller_out *out, const uint8_t id[16], int32_t p,
                                    const int32_t *replicas, size_t n);

/* ---- placement -------------------------------------------------------------- */

/* The live brokers, sorted by id (the image keeps them sorted). */
static size_t controller_live(const struct metadata_image *image, int32_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < image->nbrokers && n < max; i++)
        if (!image->brokers[i].fenced)
            out[n++] = image->brokers[i].id;
    return n;
}

/* Replica j of partition p over n live brokers from start: the leader
 * walks round-robin, and the followers' offset from it shifts by one every
 * full round, so that replica sets differ as Kafka's placement does. */
static int32_t controller_replica(const int32_t *live, size_t n, uint32_t start, int32_t p,
                                  int32_t j)
{
    size_t first = (start + (size_t)p) % n;
    if (j == 0)
        return live[first];
    size_t shift = (start / n + (size_t)p / n) % (n - 1);
    return live[(first + 1 + (shift + (size_t)j - 1) % (n - 1)) % n];
}

int controller_create_topic(const struct metadata_image *image,
                            const struct controller_topic_request *req,
                            struct controller_out *out)
{
    const char *why;
    if (controller_validate_topic_name(req->name, req->name_len, &why) != 0) {
        controller_refuse(out, KAFKA_ERR_INVALID_TOPIC_EXCEPTION, "%s", why);
        return RILL_OK;
    }
    if (metadata_image_topic(image, req->name, req->name_len) != NULL) {
        controller_refuse(out, KAFKA_ERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.",
                          (int)req->name_len, req->name);
        return RILL_OK;
    }
    if (req->num_partitions < 1 || req->num_partitions > LIMIT_PARTITIONS_PER_TOPIC) {
        controller_refuse(out, KAFKA_ERR_INVALID_PARTITIONS,
                          "Number of partitions must be between 1 and %d.",
                          LIMIT_PARTITIONS_PER_TOPIC);
        return RILL_OK;
    }
    if (req->replication_factor < 1) {
        controller_refuse(out, KAFKA_ERR_INVALID_REPLICATION_FACTOR,
                          "Replication factor must be larger than 0.");
        return RILL_OK;
    }
    if (req->replication_factor > LIMIT_REPLICATION_FACTOR) {
        controller_refuse(out, KAFKA_ERR_INVALID_REPLICATION_FACTOR,
                          "Replication factor must be at most %d.", LIMIT_REPLICATION_FACTOR);
        return RILL_OK;
    }
    int32_t live[LIMIT_BROKERS];
    size_t nlive = controller_live(image, live, LIMIT_BROKERS);
    if (req->assignments == NULL && (size_t)req->replication_factor > nlive) {
        controller_refuse(out, KAFKA_ERR_INVALID_REPLICATION_FACTOR,
                          "Unable to replicate the partition %d time(s): The target "
                          "replication factor of %d cannot be reached because only %zu "
                          "broker(s) are registered.",
                          req->replication_factor, req->replication_factor, nlive);
        return RILL_OK;
    }
    size_t rf = (size_t)req->replication_factor;
    for (int32_t p = 0; req->assignments != NULL && p < req->num_partitions; p++) {
        const int32_t *r = &req->assignments[(size_t)p * rf];
        for (size_t i = 0; i < rf; i++) {
            if (metadata_image_broker(image, r[i]) == NULL) {
                controller_refuse(out, KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT,
                                  "Unknown broker %d in the replica assignment of partition "
                                  "%d.",
                                  r[i], p);
                return RILL_OK;
            }
            if (controller_has(r, i, r[i])) {
                controller_refuse(out, KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT,
                                  "Broker %d appears twice in the replica assignment of "
                                  "partition %d.",
                                  r[i], p);
                return RILL_OK;
            }
        }
    }
    if (image->ntopics >= LIMIT_TOPICS) {
        controller_refuse(out, KAFKA_ERR_POLICY_VIOLATION, "Too many topics (limit %d).",
                          LIMIT_TOPICS);
        return RILL_OK;
    }
    struct collide_ctx cc = {req->name, req->name_len, false};
    metadata_image_each_topic(image, controller_collide_one, &cc);
    if (cc.collides) {
        controller_refuse(out, KAFKA_ERR_INVALID_TOPIC_EXCEPTION,
                          "Topic '%.*s' collides with an existing topic (only '.' and '_' "
                          "differ).",
                          (int)req->name_len, req->name);
        return RILL_OK;
    }

    char *name = arena_alloc(&out->arena, req->name_len + 1);
    Rill__Metadata__TopicRecord *topic = arena_alloc(&out->arena, sizeof(*topic));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (name == NULL || topic == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    memcpy(name, req->name, req->name_len);
    rill__metadata__topic_record__init(topic);
    topic->name = name;
    topic->topic_id.data = arena_dup(&out->arena, req->id, METADATA_TOPIC_ID_BYTES);
    topic->topic_id.len = METADATA_TOPIC_ID_BYTES;
    topic->has_internal = true;
    topic->internal = req->internal;
    if (topic->topic_id.data == NULL)
        return RILL_ERR_NOMEM;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
    rec->topic = topic;
    for (size_t i = 0; i < req->nconfigs; i++) {
        Rill__Metadata__ConfigRecord *c = arena_alloc(&out->arena, sizeof(*c));
        if (c == NULL || (rec = controller_add(out)) == NULL)
            return RILL_ERR_NOMEM;
        rill__metadata__config_record__init(c);
        c->resource_type = METADATA_RESOURCE_TOPIC;
        c->resource_name = name;
        c->name = arena_printf(&out->arena, "%s", req->config_names[i]);
        c->value = arena_printf(&out->arena, "%s", req->config_values[i]);
        if (c->name == NULL || c->value == NULL)
            return RILL_ERR_NOMEM;
        rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_CONFIG;
        rec->config = c;
    }
    uint32_t start = (uint32_t)req->id[0] << 8 | req->id[1];
    for (int32_t p = 0; p < req->num_partitions; p++) {
        int32_t placed[LIMIT_REPLICATION_FACTOR];
        const int32_t *replicas = placed;
        if (req->assignments != NULL)
            replicas = &req->assignments[(size_t)p * rf];
        else
            for (size_t j = 0; j < rf; j++)
                placed[j] = controller_replica(live, nlive, start, p, (int32_t)j);
        int rc = controller_add_partition(out, req->id, p, replicas, rf);
        if (rc != 0)
            return rc;
    }
    return RILL_OK;
}

/* Appends the PartitionRecord of a new partition p with these replicas
 * (copied), all in the ISR, led by the first. */
static int controller_add_partition(struct controller_out *out, const uint8_t id[16], int32_t p,
                                    const int32_t *replicas, size_t n)
{
    Rill__Metadata__PartitionRecord *pr = arena_alloc(&out->arena, sizeof(*pr));
    int32_t *ids = controller_ids(out, replicas, n);
    uint8_t *tid = arena_dup(&out->arena, id, METADATA_TOPIC_ID_BYTES);
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (pr == NULL || ids == NULL || tid == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__partition_record__init(pr);
    pr->topic_id.data = tid;
    pr->topic_id.len = METADATA_TOPIC_ID_BYTES;
    pr->partition = p;
    pr->n_replicas = n;
    pr->replicas = ids;
    pr->n_isr = n;
    pr->isr = ids;
    pr->leader = ids[0];
    pr->leader_epoch = 0;
    pr->has_partition_epoch = true;
    pr->partition_epoch = 0;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION;
    rec->partition = pr;
    return RILL_OK;
}

int controller_create_partitions(const struct metadata_image *image, const char *name,
                                 size_t len, int32_t count, const int32_t *assignments,
                                 size_t nassigned, struct controller_out *out)
{
    const struct metadata_topic *t = metadata_image_topic(image, name, len);
    if (t == NULL) {
        controller_refuse(out, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                          "The topic '%.*s' does not exist.", (int)len, name);
        return RILL_OK;
    }
    if (t->internal) {
        controller_refuse(out, KAFKA_ERR_INVALID_REQUEST,
                          "Cannot add partitions to the internal topic '%s'.", t->name);
        return RILL_OK;
    }
    if (count <= t->npartitions) {
        controller_refuse(out, KAFKA_ERR_INVALID_PARTITIONS,
                          count == t->npartitions ? "Topic already has %d partitions."
                                                  : "Topic currently has %d partitions, which "
                                                    "is higher than the requested count.",
                          t->npartitions);
        return RILL_OK;
    }
    if (count > LIMIT_PARTITIONS_PER_TOPIC) {
        controller_refuse(out, KAFKA_ERR_INVALID_PARTITIONS,
                          "Number of partitions must be between 1 and %d.",
                          LIMIT_PARTITIONS_PER_TOPIC);
        return RILL_OK;
    }
    size_t rf = t->npartitions > 0 ? t->partitions[0].nreplicas : 1;
    size_t added = (size_t)(count - t->npartitions);
    if (assignments != NULL) {
        if (nassigned != added * rf) {
            controller_refuse(out, KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT,
                              "Increasing the number of partitions by %zu needs %zu "
                              "assignments of %zu replicas each.",
                              added, added, rf);
            return RILL_OK;
        }
        for (size_t a = 0; a < added; a++) {
            const int32_t *r = &assignments[a * rf];
            for (size_t i = 0; i < rf; i++) {
                if (metadata_image_broker(image, r[i]) == NULL) {
                    controller_refuse(out, KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT,
                                      "Unknown broker %d in the replica assignment.", r[i]);
                    return RILL_OK;
                }
                if (controller_has(r, i, r[i])) {
                    controller_refuse(out, KAFKA_ERR_INVALID_REPLICA_ASSIGNMENT,
                                      "Broker %d appears twice in a replica assignment.", r[i]);
                    return RILL_OK;
                }
            }
        }
        for (size_t a = 0; a < added; a++) {
            int rc = controller_add_partition(out, t->id, t->npartitions + (int32_t)a,
                                              &assignments[a * rf], rf);
            if (rc != 0)
                return rc;
        }
        return RILL_OK;
    }
    int32_t live[LIMIT_BROKERS];
    size_t nlive = controller_live(image, live, LIMIT_BROKERS);
    if (rf > nlive || rf > LIMIT_REPLICATION_FACTOR) {
        controller_refuse(out, KAFKA_ERR_INVALID_REPLICATION_FACTOR,
                          "Unable to replicate the partition %zu time(s): only %zu broker(s) "
                          "are registered.",
                          rf, nlive);
        return RILL_OK;
    }
    uint32_t start = (uint32_t)t->id[0] << 8 | t->id[1];
    for (int32_t p = t->npartitions; p < count; p++) {
        int32_t replicas[LIMIT_REPLICATION_FACTOR];
        for (size_t j = 0; j < rf; j++)
            replicas[j] = controller_replica(live, nlive, start, p, (int32_t)j);
        int rc = controller_add_partition(out, t->id, p, replicas, rf);
        if (rc != 0)
            return rc;
    }
    return RILL_OK;
}

static int controller_add_config(struct controller_out *out, const char *topic,
                                 const char *name, size_t name_len, const char *value,
                                 size_t value_len)
{
    Rill__Metadata__ConfigRecord *c = arena_alloc(&out->arena, sizeof(*c));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (c == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__config_record__init(c);
    c->resource_type = METADATA_RESOURCE_TOPIC;
    c->resource_name = arena_printf(&out->arena, "%s", topic);
    c->name = arena_printf(&out->arena, "%.*s", (int)name_len, name);
    c->value = value != NULL ? arena_printf(&out->arena, "%.*s", (int)value_len, value) : NULL;
    if (c->resource_name == NULL || c->name == NULL || (value != NULL && c->value == NULL))
        return RILL_ERR_NOMEM;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_CONFIG;
    rec->config = c;
    return RILL_OK;
}

int controller_alter_topic_configs(const struct metadata_image *image, const char *topic,
                                   size_t len, const struct controller_config_change *changes,
                                   size_t n, bool replace_all, struct controller_out *out)
{
    const struct metadata_topic *t = metadata_image_topic(image, topic, len);
    if (t == NULL) {
        controller_refuse(out, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                          "The topic '%.*s' does not exist.", (int)len, topic);
        return RILL_OK;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (changes[k].name_len == changes[i].name_len &&
                memcmp(changes[k].name, changes[i].name, changes[i].name_len) == 0) {
                controller_refuse(out, KAFKA_ERR_INVALID_REQUEST,
                                  "Error due to duplicate config keys: %.*s",
                                  (int)changes[i].name_len, changes[i].name);
                return RILL_OK;
            }
        }
    }
    for (size_t i = 0; replace_all && i < t->nconfigs; i++) {
        bool named = false;
        for (size_t k = 0; k < n && !named; k++)
            named = strlen(t->configs[i].name) == changes[k].name_len &&
                    memcmp(t->configs[i].name, changes[k].name, changes[k].name_len) == 0;
        if (!named) {
            const char *name = t->configs[i].name;
            int rc = controller_add_config(out, t->name, name, strlen(name), NULL, 0);
            if (rc != 0)
                return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int rc = controller_add_config(out, t->name, changes[i].name, changes[i].name_len,
                                       changes[i].value, changes[i].value_len);
        if (rc != 0)
            return rc;
    }
    return RILL_OK;
}

int controller_delete_topic(const struct metadata_image *image, const char *name, size_t len,
                            struct controller_out *out)
{
    const struct metadata_topic *t = metadata_image_topic(image, name, len);
    if (t == NULL) {
        controller_refuse(out, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                          "This server does not host this topic-partition.");
        return RILL_OK;
    }
    Rill__Metadata__RemoveTopicRecord *r = arena_alloc(&out->arena, sizeof(*r));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (r == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__remove_topic_record__init(r);
    r->topic_id.data = arena_dup(&out->arena, t->id, METADATA_TOPIC_ID_BYTES);
    r->topic_id.len = METADATA_TOPIC_ID_BYTES;
    if (r->topic_id.data == NULL)
        return RILL_ERR_NOMEM;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_REMOVE_TOPIC;
    rec->remove_topic = r;
    return RILL_OK;
}

/* ---- elections ---------------------------------------------------------------- */

/* Liveness as it will be once the records being built are applied: the
 * broker being fenced counts as dead, the one being unfenced as live. */
struct controller_view {
    const struct metadata_image *image;
    const struct controller_config *cfg;
    int32_t fencing, unfencing;
};

static bool view_live(const struct controller_view *v, int32_t id)
{
    if (id == v->fencing)
        return false;
    if (id == v->unfencing)
        return metadata_image_broker(v->image, id) != NULL;
    return metadata_image_broker_live(v->image, id);
}

static bool controller_has(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool controller_unclean(const struct controller_view *v, const struct metadata_topic *t)
{
    const char *o = metadata_topic_config(t, "unclean.leader.election.enable");
    return o != NULL ? strcmp(o, "true") == 0 : v->cfg->unclean_leader_election;
}

/* Appends a PartitionChangeRecord for p of t, decided on its current
 * partition epoch: leader -2 leaves the leader as it is; isr (nisr ids)
 * replaces the ISR, or NULL leaves it. */
static int controller_add_partition_change(struct controller_out *out,
                                           const struct metadata_topic *t,
                                           const struct metadata_partition *p, int32_t leader,
                                           const int32_t *isr, size_t nisr)
{
    Rill__Metadata__PartitionChangeRecord *c = arena_alloc(&out->arena, sizeof(*c));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (c == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__partition_change_record__init(c);
    c->topic_id.data = arena_dup(&out->arena, t->id, METADATA_TOPIC_ID_BYTES);
    c->topic_id.len = METADATA_TOPIC_ID_BYTES;
    c->partition = p->partition;
    c->partition_epoch = p->partition_epoch;
    c->has_leader = true;
    c->leader = leader;
    if (isr != NULL) {
        c->has_isr_changed = true;
        c->isr_changed = true;
        c->isr = controller_ids(out, isr, nisr);
        c->n_isr = nisr;
        if (c->isr == NULL)
            return RILL_ERR_NOMEM;
    }
    if (c->topic_id.data == NULL)
        return RILL_ERR_NOMEM;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION_CHANGE;
    rec->partition_change = c;
    return RILL_OK;
}

/* What partition p of t should become under the view: the ISR without
 * dead members (the last one stays), and a live leader from it. Appends a
 * PartitionChangeRecord when that differs from the image. */
static int controller_fix_partition(const struct controller_view *v,
                                    const struct metadata_topic *t,
                                    const struct metadata_partition *p, struct controller_out *out)
{
    int32_t isr[LIMIT_REPLICATION_FACTOR];
    size_t nisr = 0;
    if (p->nisr > LIMIT_REPLICATION_FACTOR)
        return RILL_ERR_INVALID;
    for (size_t i = 0; i < p->nisr; i++)
        if (view_live(v, p->isr[i]))
            isr[nisr++] = p->isr[i];
    if (nisr == 0) { /* nobody live: keep the claim of the last members */
        memcpy(isr, p->isr, p->nisr * sizeof(*isr));
        nisr = p->nisr;
    }
    int32_t leader = p->leader;
    if (leader < 0 || !view_live(v, leader)) {
        leader = -1;
        for (size_t i = 0; i < p->nreplicas && leader < 0; i++)
            if (controller_has(isr, nisr, p->replicas[i]) && view_live(v, p->replicas[i]))
                leader = p->replicas[i];
        if (leader < 0 && controller_unclean(v, t)) {
            for (size_t i = 0; i < p->nreplicas && leader < 0; i++)
                if (view_live(v, p->replicas[i]))
                    leader = p->replicas[i];
            if (leader >= 0) {
                isr[0] = leader;
                nisr = 1;
            }
        }
    }
    bool isr_changed = nisr != p->nisr || memcmp(isr, p->isr, nisr * sizeof(*isr)) != 0;
    if (!isr_changed && leader == p->leader)
        return RILL_OK;
    return controller_add_partition_change(out, t, p, leader == p->leader ? -2 : leader,
                                           isr_changed ? isr : NULL, nisr);
}

struct fix_ctx {
    const struct controller_view *view;
    struct controller_out *out;
    int rc;
};

static void controller_fix_topic(void *ctx, const struct metadata_topic *t)
{
    struct fix_ctx *f = ctx;
    for (int32_t i = 0; i < t->npartitions && f->rc == 0; i++)
        f->rc = controller_fix_partition(f->view, t, &t->partitions[i], f->out);
}

/* Partition changes for every partition the view changes. Topics are
 * visited in the image's hash order, which is the same on every node, but
 * nothing depends on it: each change stands alone. */
static int controller_fix_all(const struct controller_view *v, struct controller_out *out)
{
    struct fix_ctx f = {v, out, RILL_OK};
    metadata_image_each_topic(v->image, controller_fix_topic, &f);
    return f.rc;
}

static int controller_add_fencing(struct controller_out *out, int32_t id, int64_t epoch,
                                  bool fence)
{
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (rec == NULL)
        return RILL_ERR_NOMEM;
    if (fence) {
        Rill__Metadata__FenceBrokerRecord *r = arena_alloc(&out->arena, sizeof(*r));
        if (r == NULL)
            return RILL_ERR_NOMEM;
        rill__metadata__fence_broker_record__init(r);
        r->broker_id = id;
        r->broker_epoch = epoch;
        rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER;
        rec->fence_broker = r;
    } else {
        Rill__Metadata__UnfenceBrokerRecord *r = arena_alloc(&out->arena, sizeof(*r));
        if (r == NULL)
            return RILL_ERR_NOMEM;
        rill__metadata__unfence_broker_record__init(r);
        r->broker_id = id;
        r->broker_epoch = epoch;
        rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER;
        rec->unfence_broker = r;
    }
    return RILL_OK;
}

int controller_register_broker(const struct metadata_image *image,
                               const struct controller_config *cfg,
                               const struct controller_registration *reg, int64_t epoch,
                               struct controller_out *out)
{
    if (reg->broker_id < 0 || reg->port <= 0 || reg->port > 65535 || reg->host == NULL) {
        controller_refuse(out, KAFKA_ERR_INVALID_REQUEST, "Invalid broker registration.");
        return RILL_OK;
    }
    const struct metadata_broker *known = metadata_image_broker(image, reg->broker_id);
    if (known != NULL && memcmp(known->incarnation, reg->incarnation, 16) == 0 &&
        strcmp(known->host, reg->host) == 0 && known->port == reg->port)
        return RILL_OK;
    if (known != NULL && epoch <= known->epoch) {
        controller_refuse(out, KAFKA_ERR_INVALID_REQUEST, "Stale broker epoch %lld.",
                          (long long)epoch);
        return RILL_OK;
    }
    if (known == NULL && image->nbrokers >= LIMIT_BROKERS) {
        controller_refuse(out, KAFKA_ERR_POLICY_VIOLATION, "Too many brokers (limit %d).",
                          LIMIT_BROKERS);
        return RILL_OK;
    }
    Rill__Metadata__BrokerEndpoint *ep = arena_alloc(&out->arena, sizeof(*ep));
    Rill__Metadata__BrokerEndpoint **eps = arena_alloc(&out->arena, sizeof(*eps));
    Rill__Metadata__RegisterBrokerRecord *r = arena_alloc(&out->arena, sizeof(*r));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (ep == NULL || eps == NULL || r == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__broker_endpoint__init(ep);
    ep->name = "PLAINTEXT";
    ep->host = arena_printf(&out->arena, "%s", reg->host);
    ep->port = reg->port;
    eps[0] = ep;
    rill__metadata__register_broker_record__init(r);
    r->broker_id = reg->broker_id;
    r->incarnation_id.data = arena_dup(&out->arena, reg->incarnation, 16);
    r->incarnation_id.len = 16;
    r->broker_epoch = epoch;
    r->n_endpoints = 1;
    r->endpoints = eps;
    r->has_fenced = true;
    r->fenced = true;
    r->has_metadata_version = true;
    r->metadata_version = reg->metadata_version;
    if (ep->host == NULL || r->incarnation_id.data == NULL)
        return RILL_ERR_NOMEM;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER;
    rec->register_broker = r;
    if (known == NULL)
        return RILL_OK;
    /* The earlier incarnation's claims end with it. */
    struct controller_view v = {image, cfg, reg->broker_id, -1};
    return controller_fix_all(&v, out);
}

int controller_fence_broker(const struct metadata_image *image,
                            const struct controller_config *cfg, int32_t broker_id,
                            struct controller_out *out)
{
    const struct metadata_broker *b = metadata_image_broker(image, broker_id);
    if (b == NULL || b->fenced)
        return RILL_OK;
    int rc = controller_add_fencing(out, broker_id, b->epoch, true);
    struct controller_view v = {image, cfg, broker_id, -1};
    return rc != 0 ? rc : controller_fix_all(&v, out);
}

int controller_heartbeat(const struct metadata_image *image, const struct controller_config *cfg,
                         int32_t broker_id, int64_t broker_epoch, uint64_t metadata_version,
                         bool want_fence, struct controller_out *out)
{
    const struct metadata_broker *b = metadata_image_broker(image, broker_id);
    if (b == NULL || b->epoch != broker_epoch) {
        controller_refuse(out, KAFKA_ERR_INVALID_REQUEST, "Stale broker epoch %lld.",
                          (long long)broker_epoch);
        return RILL_OK;
    }
    if (want_fence)
        return controller_fence_broker(image, cfg, broker_id, out);
    if (!b->fenced || metadata_version < b->registered_version)
        return RILL_OK;
    int rc = controller_add_fencing(out, broker_id, b->epoch, false);
    struct controller_view v = {image, cfg, -1, broker_id};
    return rc != 0 ? rc : controller_fix_all(&v, out);
}

int controller_alter_isr(const struct metadata_image *image,
                         const struct controller_isr_change *req, struct controller_out *out)
{
    const struct metadata_broker *b = metadata_image_broker(image, req->broker_id);
    if (b == NULL || b->epoch != req->broker_epoch || b->fenced) {
        controller_refuse(out, KAFKA_ERR_STALE_BROKER_EPOCH, "Broker %d epoch %lld is not live.",
                          req->broker_id, (long long)req->broker_epoch);
        return RILL_OK;
    }
    const struct metadata_topic *t = metadata_image_topic_by_id(image, req->topic_id);
    if (t == NULL || req->partition < 0 || req->partition >= t->npartitions) {
        controller_refuse(out, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION, "Unknown partition.");
        return RILL_OK;
    }
    const struct metadata_partition *p = &t->partitions[req->partition];
    if (p->leader != req->broker_id) {
        controller_refuse(out, KAFKA_ERR_NOT_LEADER_OR_FOLLOWER, "Broker %d does not lead %s-%d.",
                          req->broker_id, t->name, p->partition);
        return RILL_OK;
    }
    if (req->leader_epoch != p->leader_epoch) {
        controller_refuse(out, KAFKA_ERR_FENCED_LEADER_EPOCH, "Leader epoch %d is not %d.",
                          req->leader_epoch, p->leader_epoch);
        return RILL_OK;
    }
    if (req->partition_epoch != p->partition_epoch) {
        controller_refuse(out, KAFKA_ERR_INVALID_UPDATE_VERSION, "Partition epoch %d is not %d.",
                          req->partition_epoch, p->partition_epoch);
        return RILL_OK;
    }
    bool has_leader = false;
    for (size_t i = 0; i < req->nisr; i++) {
        int32_t id = req->isr[i];
        if (!controller_has(p->replicas, p->nreplicas, id) ||
            controller_has(req->isr, i, id)) {
            controller_refuse(out, KAFKA_ERR_INVALID_REQUEST, "Invalid ISR member %d.", id);
            return RILL_OK;
        }
        if (!controller_has(p->isr, p->nisr, id) && !metadata_image_broker_live(image, id)) {
            controller_refuse(out, KAFKA_ERR_INELIGIBLE_REPLICA, "Broker %d is not live.", id);
            return RILL_OK;
        }
        has_leader |= id == p->leader;
    }
    if (req->nisr == 0 || req->nisr > LIMIT_REPLICATION_FACTOR || !has_leader) {
        controller_refuse(out, KAFKA_ERR_INVALID_REQUEST, "The ISR must hold the leader.");
        return RILL_OK;
    }
    bool same = req->nisr == p->nisr;
    for (size_t i = 0; i < req->nisr && same; i++)
        same = controller_has(p->isr, p->nisr, req->isr[i]);
    if (same)
        return RILL_OK;
    /* Kept in replica order, so that every node lists it alike. */
    int32_t isr[LIMIT_REPLICATION_FACTOR];
    size_t nisr = 0;
    for (size_t i = 0; i < p->nreplicas; i++)
        if (controller_has(req->isr, req->nisr, p->replicas[i]))
            isr[nisr++] = p->replicas[i];
    return controller_add_partition_change(out, t, p, -2, isr, nisr);
}

int controller_reconcile(const struct metadata_image *image, const struct controller_config *cfg,
                         struct controller_out *out)
{
    struct controller_view v = {image, cfg, -1, -1};
    return controller_fix_all(&v, out);
}

struct rebalance_ctx {
    const struct metadata_image *image;
    int32_t broker;     /* counting for this one */
    size_t preferred;   /* partitions it is the preferred replica of */
    size_t elsewhere;   /* ... led by another */
    bool move;          /* second pass: propose the moves */
    struct controller_out *out;
    int rc;
};

static void controller_rebalance_topic(void *ctx, const struct metadata_topic *t)
{
    struct rebalance_ctx *rc = ctx;
    for (int32_t i = 0; i < t->npartitions && rc->rc == 0; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        if (p->nreplicas == 0 || p->replicas[0] != rc->broker)
            continue;
        if (!rc->move) {
            rc->preferred++;
            rc->elsewhere += p->leader != rc->broker;
            continue;
        }
        if (p->leader == rc->broker || !metadata_image_broker_live(rc->image, rc->broker) ||
            !controller_has(p->isr, p->nisr, rc->broker))
            continue;
        rc->rc = controller_add_partition_change(rc->out, t, p, rc->broker, NULL, 0);
    }
}

int controller_rebalance_leaders(const struct metadata_image *image, int32_t imbalance_pct,
                                 struct controller_out *out)
{
    for (size_t b = 0; b < image->nbrokers; b++) {
        if (image->brokers[b].fenced)
            continue;
        struct rebalance_ctx rc = {.image = image, .broker = image->brokers[b].id, .out = out};
        metadata_image_each_topic(image, controller_rebalance_topic, &rc);
        if (rc.preferred == 0 || rc.elsewhere * 100 <= (size_t)imbalance_pct * rc.preferred)
            continue;
        rc.move = true;
        metadata_image_each_topic(image, controller_rebalance_topic, &rc);
        if (rc.rc != 0)
            return rc.rc;
    }
    return RILL_OK;
}

int controller_reserve_producer_ids(const struct metadata_image *image, int32_t broker_id,
                                    int64_t size, struct controller_out *out)
{
    if (size <= 0 || image->next_producer_id > INT64_MAX - size) {
        controller_refuse(out, KAFKA_ERR_UNKNOWN_SERVER_ERROR, "Producer ids exhausted.");
        return RILL_OK;
    }
    Rill__Metadata__ProducerIdsRecord *r = arena_alloc(&out->arena, sizeof(*r));
    Rill__Metadata__MetadataRecord *rec = controller_add(out);
    if (r == NULL || rec == NULL)
        return RILL_ERR_NOMEM;
    rill__metadata__producer_ids_record__init(r);
    r->broker_id = broker_id;
    r->next_producer_id = image->next_producer_id + size;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS;
    rec->producer_ids = r;
    return RILL_OK;
}

/* ---- sessions ------------------------------------------------------------------ */

void controller_sessions_init(struct controller_sessions *ss, int64_t timeout_ms)
{
    memset(ss, 0, sizeof(*ss));
    ss->timeout_ms = timeout_ms;
}

void controller_sessions_free(struct controller_sessions *ss)
{
    free(ss->s);
    memset(ss, 0, sizeof(*ss));
}

static struct controller_session *sessions_find(struct controller_sessions *ss, int32_t id)
{
    for (size_t i = 0; i < ss->n; i++)
        if (ss->s[i].broker_id == id)
            return &ss->s[i];
    return NULL;
}

static struct controller_session *sessions_add(struct controller_sessions *ss, int32_t id)
{
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 8;
        struct controller_session *s = realloc(ss->s, cap * sizeof(*s));
        if (s == NULL)
            return NULL;
        ss->s = s;
        ss->cap = cap;
    }
    struct controller_session *s = &ss->s[ss->n++];
    s->broker_id = id;
    return s;
}

/* A full session for the registration of epoch, nothing heard yet. */
static void session_start(const struct controller_sessions *ss, struct controller_session *s,
                          int64_t epoch, int64_t now_ms)
{
    s->broker_epoch = epoch;
    s->deadline_ms = now_ms + ss->timeout_ms;
    s->heard = false;
    s->metadata_version = 0;
    s->want_fence = false;
}

int controller_sessions_reset(struct controller_sessions *ss, const struct metadata_image *image,
                              int64_t now_ms)
{
    ss->n = 0;
    for (size_t i = 0; i < image->nbrokers; i++) {
        struct controller_session *s = sessions_add(ss, image->brokers[i].id);
        if (s == NULL)
            return RILL_ERR_NOMEM;
        session_start(ss, s, image->brokers[i].epoch, now_ms);
    }
    return RILL_OK;
}

int controller_sessions_heartbeat(struct controller_sessions *ss, int32_t broker_id,
                                  int64_t broker_epoch, uint64_t metadata_version,
                                  bool want_fence, int64_t now_ms)
{
    struct controller_session *s = sessions_find(ss, broker_id);
    if (s == NULL && (s = sessions_add(ss, broker_id)) == NULL)
        return RILL_ERR_NOMEM;
    s->broker_epoch = broker_epoch;
    s->deadline_ms = now_ms + ss->timeout_ms;
    s->heard = true;
    s->metadata_version = metadata_version;
    s->want_fence = want_fence;
    return RILL_OK;
}

void controller_sessions_end(struct controller_sessions *ss, int32_t broker_id,
                             int64_t broker_epoch)
{
    struct controller_session *s = sessions_find(ss, broker_id);
    if (s != NULL && s->broker_epoch == broker_epoch) {
        s->deadline_ms = INT64_MIN;
        s->heard = false; /* unfenced again only by a heartbeat after this */
    }
}

int32_t controller_sessions_expired(struct controller_sessions *ss,
                                    const struct metadata_image *image, int64_t now_ms)
{
    for (size_t i = 0; i < image->nbrokers; i++) {
        const struct metadata_broker *b = &image->brokers[i];
        if (b->fenced)
            continue;
        struct controller_session *s = sessions_find(ss, b->id);
        bool unseen = s == NULL;
        if (unseen && (s = sessions_add(ss, b->id)) == NULL)
            return -1; /* no memory: try again at the next tick */
        /* A broker registered since the reset, or a heartbeat of an earlier
         * registration, which does not keep this one: a full session. */
        if (unseen || s->broker_epoch != b->epoch) {
            session_start(ss, s, b->epoch, now_ms);
            continue;
        }
        if (now_ms >= s->deadline_ms || s->want_fence) {
            /* What it said before its session ran out does not unfence it
             * again: only a heartbeat after this does. */
            if (!s->want_fence)
                s->heard = false;
            return b->id;
        }
    }
    return -1;
}

int controller_sessions_decide(struct controller_sessions *ss, const struct metadata_image *image,
                               const struct controller_config *cfg, int64_t now_ms,
                               struct controller_out *out)
{
    int32_t expired = controller_sessions_expired(ss, image, now_ms);
    if (expired >= 0)
        return controller_fence_broker(image, cfg, expired, out);
    for (size_t i = 0; i < ss->n; i++) {
        const struct controller_session *s = &ss->s[i];
        const struct metadata_broker *b = metadata_image_broker(image, s->broker_id);
        if (b == NULL || !b->fenced || !s->heard || s->want_fence || s->broker_epoch != b->epoch)
            continue;
        if (s->metadata_version < b->registered_version)
            continue;
        int rc = controller_heartbeat(image, cfg, b->id, b->epoch, s->metadata_version, false,
                                      out);
        if (rc != 0 || out->n > 0)
            return rc;
    }
    return controller_reconcile(image, cfg, out);
}
