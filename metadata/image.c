#include "metadata/image.h"

#include <stdlib.h>
#include <string.h>

#include "common/rill_error.h"
#include "proto/metadata.pb-c.h"

enum { IMAGE_INITIAL_BUCKETS = 64 };

static uint64_t image_hash(const void *data, size_t len)
{
    /* FNV-1a */
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int metadata_image_init(struct metadata_image *image)
{
    memset(image, 0, sizeof(*image));
    image->nbuckets = IMAGE_INITIAL_BUCKETS;
    image->by_name = calloc(image->nbuckets, sizeof(*image->by_name));
    image->by_id = calloc(image->nbuckets, sizeof(*image->by_id));
    image->applied_offset = -1;
    image->producer_ids_broker = -1;
    if (image->by_name == NULL || image->by_id == NULL) {
        metadata_image_free(image);
        return RILL_ERR_NOMEM;
    }
    return RILL_OK;
}

static void image_topic_free(struct metadata_topic *t)
{
    for (int32_t i = 0; i < t->npartitions; i++) {
        free(t->partitions[i].replicas);
        free(t->partitions[i].isr);
    }
    for (size_t i = 0; i < t->nconfigs; i++) {
        free(t->configs[i].name);
        free(t->configs[i].value);
    }
    free(t->configs);
    free(t->partitions);
    free(t->name);
    free(t);
}

void metadata_image_free(struct metadata_image *image)
{
    if (image->by_name != NULL) {
        for (size_t b = 0; b < image->nbuckets; b++) {
            struct metadata_topic *t = image->by_name[b];
            while (t != NULL) {
                struct metadata_topic *next = t->next_by_name;
                image_topic_free(t);
                t = next;
            }
        }
    }
    free(image->by_name);
    free(image->by_id);
    for (size_t i = 0; i < image->nbrokers; i++)
        free(image->brokers[i].host);
    free(image->brokers);
    memset(image, 0, sizeof(*image));
}

const struct metadata_topic *metadata_image_topic(const struct metadata_image *image,
                                                  const char *name, size_t name_len)
{
    size_t b = image_hash(name, name_len) % image->nbuckets;
    for (struct metadata_topic *t = image->by_name[b]; t != NULL; t = t->next_by_name)
        if (strlen(t->name) == name_len && memcmp(t->name, name, name_len) == 0)
            return t;
    return NULL;
}

const struct metadata_topic *metadata_image_topic_by_id(const struct metadata_image *image,
                                                        const uint8_t id[16])
{
    size_t b = image_hash(id, METADATA_TOPIC_ID_BYTES) % image->nbuckets;
    for (struct metadata_topic *t = image->by_id[b]; t != NULL; t = t->next_by_id)
        if (memcmp(t->id, id, METADATA_TOPIC_ID_BYTES) == 0)
            return t;
    return NULL;
}

void metadata_image_each_topic(const struct metadata_image *image,
                               void (*fn)(void *ctx, const struct metadata_topic *topic),
                               void *ctx)
{
    for (size_t b = 0; b < image->nbuckets; b++)
        for (struct metadata_topic *t = image->by_name[b]; t != NULL; t = t->next_by_name)
            fn(ctx, t);
}

const char *metadata_topic_config(const struct metadata_topic *topic, const char *name)
{
    for (size_t i = 0; i < topic->nconfigs; i++)
        if (strcmp(topic->configs[i].name, name) == 0)
            return topic->configs[i].value;
    return NULL;
}

static void image_link(struct metadata_image *image, struct metadata_topic *t)
{
    size_t bn = image_hash(t->name, strlen(t->name)) % image->nbuckets;
    t->next_by_name = image->by_name[bn];
    image->by_name[bn] = t;
    size_t bi = image_hash(t->id, METADATA_TOPIC_ID_BYTES) % image->nbuckets;
    t->next_by_id = image->by_id[bi];
    image->by_id[bi] = t;
}

static int image_grow(struct metadata_image *image)
{
    size_t n = image->nbuckets * 2;
    struct metadata_topic **by_name = calloc(n, sizeof(*by_name));
    struct metadata_topic **by_id = calloc(n, sizeof(*by_id));
    if (by_name == NULL || by_id == NULL) {
        free(by_name);
        free(by_id);
        return RILL_ERR_NOMEM;
    }
    struct metadata_topic **old = image->by_name;
    size_t old_n = image->nbuckets;
    free(image->by_id);
    image->by_name = by_name;
    image->by_id = by_id;
    image->nbuckets = n;
    for (size_t b = 0; b < old_n; b++) {
        struct metadata_topic *t = old[b];
        while (t != NULL) {
            struct metadata_topic *next = t->next_by_name;
            image_link(image, t);
            t = next;
        }
    }
    free(old);
    return RILL_OK;
}

static int image_apply_topic(struct metadata_image *image, const Rill__Metadata__TopicRecord *r)
{
    if (r->topic_id.len != METADATA_TOPIC_ID_BYTES || r->name == NULL || r->name[0] == '\0')
        return RILL_ERR_INVALID;
    if (metadata_image_topic(image, r->name, strlen(r->name)) != NULL ||
        metadata_image_topic_by_id(image, r->topic_id.data) != NULL)
        return RILL_ERR_INVALID;
    if (image->ntopics + 1 > image->nbuckets && image_grow(image) != 0)
        return RILL_ERR_NOMEM;
    struct metadata_topic *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return RILL_ERR_NOMEM;
    t->name = strdup(r->name);
    if (t->name == NULL) {
        free(t);
        return RILL_ERR_NOMEM;
    }
    memcpy(t->id, r->topic_id.data, METADATA_TOPIC_ID_BYTES);
    t->internal = r->has_internal && r->internal;
    t->version = image->version + 1;
    image_link(image, t);
    image->ntopics++;
    return RILL_OK;
}

static int32_t *image_dup_ids(const int32_t *ids, size_t n)
{
    int32_t *copy = malloc((n ? n : 1) * sizeof(*copy));
    if (copy != NULL && n > 0)
        memcpy(copy, ids, n * sizeof(*copy));
    return copy;
}

static bool image_has_id(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Replicas distinct and non-negative, the ISR a non-empty subset of them
 * without repeats, and the leader (unless -1) in the ISR. */
static bool image_assignment_valid(const int32_t *replicas, size_t nreplicas, const int32_t *isr,
                                   size_t nisr, int32_t leader)
{
    if (nreplicas == 0 || nisr == 0 || nisr > nreplicas)
        return false;
    for (size_t i = 0; i < nreplicas; i++)
        if (replicas[i] < 0 || image_has_id(replicas, i, replicas[i]))
            return false;
    for (size_t i = 0; i < nisr; i++)
        if (!image_has_id(replicas, nreplicas, isr[i]) || image_has_id(isr, i, isr[i]))
            return false;
    return leader == -1 || image_has_id(isr, nisr, leader);
}

static int image_apply_partition(struct metadata_image *image,
                                 const Rill__Metadata__PartitionRecord *r)
{
    if (r->topic_id.len != METADATA_TOPIC_ID_BYTES || r->partition < 0)
        return RILL_ERR_INVALID;
    if (!image_assignment_valid(r->replicas, r->n_replicas, r->isr, r->n_isr, r->leader))
        return RILL_ERR_INVALID;
    struct metadata_topic *t =
        (struct metadata_topic *)metadata_image_topic_by_id(image, r->topic_id.data);
    if (t == NULL)
        return RILL_ERR_INVALID;
    /* New partitions arrive in order; existing ones are replaced. */
    if (r->partition > t->npartitions)
        return RILL_ERR_INVALID;
    if (r->partition < t->npartitions &&
        r->leader_epoch < t->partitions[r->partition].leader_epoch)
        return RILL_ERR_INVALID;
    int32_t *replicas = image_dup_ids(r->replicas, r->n_replicas);
    int32_t *isr = image_dup_ids(r->isr, r->n_isr);
    if (replicas == NULL || isr == NULL) {
        free(replicas);
        free(isr);
        return RILL_ERR_NOMEM;
    }
    if (r->partition == t->npartitions) {
        if (t->npartitions == t->partitions_cap) {
            int32_t cap = t->partitions_cap ? t->partitions_cap * 2 : 4;
            struct metadata_partition *p = realloc(t->partitions, (size_t)cap * sizeof(*p));
            if (p == NULL) {
                free(replicas);
                free(isr);
                return RILL_ERR_NOMEM;
            }
            t->partitions = p;
            t->partitions_cap = cap;
        }
        t->npartitions++;
    } else {
        free(t->partitions[r->partition].replicas);
        free(t->partitions[r->partition].isr);
    }
    struct metadata_partition *p = &t->partitions[r->partition];
    p->partition = r->partition;
    p->leader = r->leader;
    p->leader_epoch = r->leader_epoch;
    p->partition_epoch = r->has_partition_epoch ? r->partition_epoch : 0;
    p->replicas = replicas;
    p->nreplicas = r->n_replicas;
    p->isr = isr;
    p->nisr = r->n_isr;
    t->version = image->version + 1;
    return RILL_OK;
}

static int image_apply_partition_change(struct metadata_image *image,
                                        const Rill__Metadata__PartitionChangeRecord *r)
{
    if (r->topic_id.len != METADATA_TOPIC_ID_BYTES || r->partition < 0 || r->leader < -2)
        return RILL_ERR_INVALID;
    struct metadata_topic *t =
        (struct metadata_topic *)metadata_image_topic_by_id(image, r->topic_id.data);
    if (t == NULL)
        return RILL_OK; /* stale: the topic was deleted after the decision */
    if (r->partition >= t->npartitions)
        return RILL_ERR_INVALID;
    struct metadata_partition *p = &t->partitions[r->partition];
    if (r->partition_epoch > p->partition_epoch)
        return RILL_ERR_INVALID; /* decided on an epoch that never was */
    if (r->partition_epoch < p->partition_epoch)
        return RILL_OK; /* stale: the controller decides again */
    int32_t leader = r->leader == -2 ? p->leader : r->leader;
    const int32_t *isr = r->isr_changed ? r->isr : p->isr;
    size_t nisr = r->isr_changed ? r->n_isr : p->nisr;
    if (!image_assignment_valid(p->replicas, p->nreplicas, isr, nisr, leader))
        return RILL_ERR_INVALID;
    if (r->isr_changed) {
        int32_t *copy = image_dup_ids(r->isr, r->n_isr);
        if (copy == NULL)
            return RILL_ERR_NOMEM;
        free(p->isr);
        p->isr = copy;
        p->nisr = r->n_isr;
    }
    if (leader != p->leader)
        p->leader_epoch++;
    p->leader = leader;
    p->partition_epoch++;
    t->version = image->version + 1;
    return RILL_OK;
}

static void image_unlink(struct metadata_topic **chain, struct metadata_topic *t, bool by_name)
{
    for (struct metadata_topic **pp = chain; *pp != NULL;) {
        if (*pp == t) {
            *pp = by_name ? t->next_by_name : t->next_by_id;
            return;
        }
        pp = by_name ? &(*pp)->next_by_name : &(*pp)->next_by_id;
    }
}

static int image_apply_remove(struct metadata_image *image,
                              const Rill__Metadata__RemoveTopicRecord *r)
{
    if (r->topic_id.len != METADATA_TOPIC_ID_BYTES)
        return RILL_ERR_INVALID;
    struct metadata_topic *t =
        (struct metadata_topic *)metadata_image_topic_by_id(image, r->topic_id.data);
    if (t == NULL)
        return RILL_OK; /* deleted already (two deletions raced): nothing to do */
    image_unlink(&image->by_name[image_hash(t->name, strlen(t->name)) % image->nbuckets], t,
                 true);
    image_unlink(&image->by_id[image_hash(t->id, METADATA_TOPIC_ID_BYTES) % image->nbuckets], t,
                 false);
    image->ntopics--;
    image_topic_free(t);
    return RILL_OK;
}

static int image_set_config(struct metadata_topic *t, const Rill__Metadata__ConfigRecord *r);

static int image_apply_config(struct metadata_image *image, const Rill__Metadata__ConfigRecord *r)
{
    if (r->resource_type != METADATA_RESOURCE_TOPIC || r->name == NULL || r->resource_name == NULL)
        return RILL_ERR_INVALID; /* broker-level dynamic configs come later */
    struct metadata_topic *t = (struct metadata_topic *)metadata_image_topic(
        image, r->resource_name, strlen(r->resource_name));
    if (t == NULL)
        return RILL_ERR_INVALID;
    int rc = image_set_config(t, r);
    if (rc == 0)
        t->version = image->version + 1;
    return rc;
}

static int image_set_config(struct metadata_topic *t, const Rill__Metadata__ConfigRecord *r)
{
    for (size_t i = 0; i < t->nconfigs; i++) {
        if (strcmp(t->configs[i].name, r->name) != 0)
            continue;
        if (r->value == NULL) {
            free(t->configs[i].name);
            free(t->configs[i].value);
            t->configs[i] = t->configs[--t->nconfigs];
            return RILL_OK;
        }
        char *v = strdup(r->value);
        if (v == NULL)
            return RILL_ERR_NOMEM;
        free(t->configs[i].value);
        t->configs[i].value = v;
        return RILL_OK;
    }
    if (r->value == NULL)
        return RILL_OK;
    struct metadata_config_entry *c = realloc(t->configs, (t->nconfigs + 1) * sizeof(*c));
    if (c == NULL)
        return RILL_ERR_NOMEM;
    t->configs = c;
    char *name = strdup(r->name), *value = strdup(r->value);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return RILL_ERR_NOMEM;
    }
    c[t->nconfigs++] = (struct metadata_config_entry){name, value};
    return RILL_OK;
}

const struct metadata_broker *metadata_image_broker(const struct metadata_image *image,
                                                    int32_t id)
{
    for (size_t i = 0; i < image->nbrokers; i++)
        if (image->brokers[i].id == id)
            return &image->brokers[i];
    return NULL;
}

bool metadata_image_broker_live(const struct metadata_image *image, int32_t id)
{
    const struct metadata_broker *b = metadata_image_broker(image, id);
    return b != NULL && !b->fenced;
}

/* Fences (fence) or unfences a broker; a record about an earlier epoch of
 * it changes nothing. */
static int image_apply_fencing(struct metadata_image *image, int32_t id, int64_t epoch,
                               bool fence)
{
    struct metadata_broker *b = (struct metadata_broker *)metadata_image_broker(image, id);
    if (b == NULL || epoch > b->epoch)
        return RILL_ERR_INVALID;
    if (epoch == b->epoch)
        b->fenced = fence;
    return RILL_OK;
}

static int image_apply_unregister(struct metadata_image *image,
                                  const Rill__Metadata__UnregisterBrokerRecord *r)
{
    struct metadata_broker *b = (struct metadata_broker *)metadata_image_broker(image,
                                                                              r->broker_id);
    if (b == NULL || r->broker_epoch > b->epoch)
        return RILL_ERR_INVALID;
    if (r->broker_epoch < b->epoch)
        return RILL_OK;
    size_t at = (size_t)(b - image->brokers);
    free(b->host);
    memmove(b, b + 1, (image->nbrokers - at - 1) * sizeof(*b));
    image->nbrokers--;
    return RILL_OK;
}

static int image_apply_broker(struct metadata_image *image,
                              const Rill__Metadata__RegisterBrokerRecord *r)
{
    if (r->broker_id < 0 || r->incarnation_id.len != 16)
        return RILL_ERR_INVALID;
    const Rill__Metadata__BrokerEndpoint *ep = NULL;
    for (size_t i = 0; i < r->n_endpoints; i++)
        if (strcmp(r->endpoints[i]->name, "PLAINTEXT") == 0)
            ep = r->endpoints[i];
    if (ep == NULL || ep->port <= 0 || ep->port > 65535)
        return RILL_ERR_INVALID;
    struct metadata_broker *old = (struct metadata_broker *)metadata_image_broker(image,
                                                                                r->broker_id);
    if (old != NULL && r->broker_epoch <= old->epoch)
        return RILL_ERR_INVALID;
    char *host = strdup(ep->host);
    if (host == NULL)
        return RILL_ERR_NOMEM;
    if (old == NULL) {
        struct metadata_broker *b =
            realloc(image->brokers, (image->nbrokers + 1) * sizeof(*image->brokers));
        if (b == NULL) {
            free(host);
            return RILL_ERR_NOMEM;
        }
        image->brokers = b;
        size_t at = 0;
        while (at < image->nbrokers && b[at].id < r->broker_id)
            at++;
        memmove(&b[at + 1], &b[at], (image->nbrokers - at) * sizeof(*b));
        image->nbrokers++;
        old = &b[at];
        old->host = NULL;
    }
    free(old->host);
    old->id = r->broker_id;
    memcpy(old->incarnation, r->incarnation_id.data, 16);
    old->epoch = r->broker_epoch;
    old->host = host;
    old->port = ep->port;
    old->fenced = r->has_fenced && r->fenced;
    old->registered_version = image->version + 1;
    return RILL_OK;
}

static int image_apply_one(struct metadata_image *image,
                           const struct Rill__Metadata__MetadataRecord *rec)
{
    switch (rec->record_case) {
    case RILL__METADATA__METADATA_RECORD__RECORD_TOPIC:
        return image_apply_topic(image, rec->topic);
    case RILL__METADATA__METADATA_RECORD__RECORD_PARTITION:
        return image_apply_partition(image, rec->partition);
    case RILL__METADATA__METADATA_RECORD__RECORD_REMOVE_TOPIC:
        return image_apply_remove(image, rec->remove_topic);
    case RILL__METADATA__METADATA_RECORD__RECORD_CONFIG:
        return image_apply_config(image, rec->config);
    case RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS:
        /* Reservations only move forward: an id is never handed out twice.
         * A block decided on an older image (blocks have one size, so it
         * ends where a granted one did) is not granted; its broker asks
         * again. */
        if (rec->producer_ids->next_producer_id <= image->next_producer_id)
            return RILL_OK;
        image->next_producer_id = rec->producer_ids->next_producer_id;
        image->producer_ids_broker = rec->producer_ids->broker_id;
        return RILL_OK;
    case RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER:
        return image_apply_broker(image, rec->register_broker);
    case RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER:
        return image_apply_fencing(image, rec->fence_broker->broker_id,
                                   rec->fence_broker->broker_epoch, true);
    case RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER:
        return image_apply_fencing(image, rec->unfence_broker->broker_id,
                                   rec->unfence_broker->broker_epoch, false);
    case RILL__METADATA__METADATA_RECORD__RECORD_UNREGISTER_BROKER:
        return image_apply_unregister(image, rec->unregister_broker);
    case RILL__METADATA__METADATA_RECORD__RECORD_PARTITION_CHANGE:
        return image_apply_partition_change(image, rec->partition_change);
    default:
        return RILL_ERR_INVALID;
    }
}

int metadata_image_apply(struct metadata_image *image,
                         const struct Rill__Metadata__MetadataRecord *rec)
{
    int rc = image_apply_one(image, rec);
    if (rc == 0)
        image->version++;
    return rc;
}

/* ---- digest ------------------------------------------------------------------ */

static uint64_t digest_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

static uint64_t digest_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = digest_mix(h, b[i]);
    return h;
}

static void digest_topic(void *ctx, const struct metadata_topic *t)
{
    uint64_t h = digest_bytes(17, t->name, strlen(t->name));
    h = digest_bytes(h, t->id, METADATA_TOPIC_ID_BYTES);
    h = digest_mix(h, t->internal);
    h = digest_mix(h, (uint64_t)t->npartitions);
    for (int32_t i = 0; i < t->npartitions; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        h = digest_mix(h, (uint64_t)(uint32_t)p->leader);
        h = digest_mix(h, (uint64_t)p->leader_epoch);
        h = digest_mix(h, (uint64_t)p->partition_epoch);
        h = digest_bytes(h, p->replicas, p->nreplicas * sizeof(int32_t));
        h = digest_bytes(h, p->isr, p->nisr * sizeof(int32_t));
    }
    /* Configs in any order: summed like topics. */
    uint64_t configs = 0;
    for (size_t i = 0; i < t->nconfigs; i++) {
        uint64_t c = digest_bytes(29, t->configs[i].name, strlen(t->configs[i].name));
        configs += digest_bytes(c, t->configs[i].value, strlen(t->configs[i].value));
    }
    h = digest_mix(h, configs);
    *(uint64_t *)ctx += h; /* order-free: topics are visited in hash order */
}

uint64_t metadata_image_digest(const struct metadata_image *image)
{
    uint64_t topics = 0;
    metadata_image_each_topic(image, digest_topic, &topics);
    uint64_t h = digest_mix(digest_mix(1, topics), image->version);
    h = digest_mix(h, (uint64_t)image->next_producer_id);
    h = digest_mix(h, (uint64_t)(uint32_t)image->producer_ids_broker);
    for (size_t i = 0; i < image->nbrokers; i++) {
        const struct metadata_broker *b = &image->brokers[i];
        h = digest_mix(h, (uint64_t)b->id);
        h = digest_mix(h, (uint64_t)b->epoch);
        h = digest_mix(h, b->fenced);
        h = digest_mix(h, b->registered_version);
        h = digest_bytes(h, b->incarnation, 16);
        h = digest_bytes(h, b->host, strlen(b->host));
        h = digest_mix(h, (uint64_t)b->port);
    }
    return h;
}
