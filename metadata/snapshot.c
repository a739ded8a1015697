#include "metadata/snapshot.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "common/arena.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/metadata.pb-c.h"

/* The records of one image, built in an arena. */
struct snapshot_build {
    struct arena arena;
    Rill__Metadata__MetadataRecord **recs;
    size_t n, cap;
    int rc;
};

static Rill__Metadata__MetadataRecord *snapshot_add(struct snapshot_build *sb)
{
    if (sb->n == sb->cap) {
        size_t cap = sb->cap ? sb->cap * 2 : 64;
        Rill__Metadata__MetadataRecord **recs = arena_alloc(&sb->arena, cap * sizeof(*recs));
        if (recs == NULL)
            return NULL;
        if (sb->n > 0)
            memcpy(recs, sb->recs, sb->n * sizeof(*recs));
        sb->recs = recs;
        sb->cap = cap;
    }
    Rill__Metadata__MetadataRecord *rec = arena_alloc(&sb->arena, sizeof(*rec));
    if (rec != NULL) {
        rill__metadata__metadata_record__init(rec);
        sb->recs[sb->n++] = rec;
    }
    return rec;
}

static void snapshot_topic(void *ctx, const struct metadata_topic *t)
{
    struct snapshot_build *sb = ctx;
    if (sb->rc != 0)
        return;
    Rill__Metadata__TopicRecord *tr = arena_alloc(&sb->arena, sizeof(*tr));
    Rill__Metadata__MetadataRecord *rec = snapshot_add(sb);
    if (tr == NULL || rec == NULL) {
        sb->rc = RILL_ERR_NOMEM;
        return;
    }
    rill__metadata__topic_record__init(tr);
    tr->name = t->name;
    tr->topic_id.data = (uint8_t *)t->id;
    tr->topic_id.len = METADATA_TOPIC_ID_BYTES;
    tr->has_internal = true;
    tr->internal = t->internal;
    rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
    rec->topic = tr;
    for (size_t i = 0; i < t->nconfigs; i++) {
        Rill__Metadata__ConfigRecord *c = arena_alloc(&sb->arena, sizeof(*c));
        if (c == NULL || (rec = snapshot_add(sb)) == NULL) {
            sb->rc = RILL_ERR_NOMEM;
            return;
        }
        rill__metadata__config_record__init(c);
        c->resource_type = METADATA_RESOURCE_TOPIC;
        c->resource_name = t->name;
        c->name = t->configs[i].name;
        c->value = t->configs[i].value;
        rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_CONFIG;
        rec->config = c;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        Rill__Metadata__PartitionRecord *pr = arena_alloc(&sb->arena, sizeof(*pr));
        if (pr == NULL || (rec = snapshot_add(sb)) == NULL) {
            sb->rc = RILL_ERR_NOMEM;
            return;
        }
        rill__metadata__partition_record__init(pr);
        pr->topic_id = tr->topic_id;
        pr->partition = p->partition;
        pr->n_replicas = p->nreplicas;
        pr->replicas = p->replicas;
        pr->n_isr = p->nisr;
        pr->isr = p->isr;
        pr->leader = p->leader;
        pr->leader_epoch = p->leader_epoch;
        pr->has_partition_epoch = true;
        pr->partition_epoch = p->partition_epoch;
        rec->record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION;
        rec->partition = pr;
    }
}

int metadata_snapshot_encode(const struct metadata_image *image,
                             const struct metadata_snapshot_meta *meta, uint8_t **out,
                             size_t *len)
{
    struct snapshot_build sb = {0};
    arena_init(&sb.arena);
    Rill__Metadata__MetadataSnapshot snap = RILL__METADATA__METADATA_SNAPSHOT__INIT;
    snap.raft_index = meta->raft_index;
    snap.raft_term = meta->raft_term;
    snap.next_offset = meta->next_offset;
    snap.version = image->version;
    snap.next_producer_id = image->next_producer_id;
    snap.has_producer_ids_broker = true;
    snap.producer_ids_broker = image->producer_ids_broker;
    Rill__Metadata__SnapshotBroker **brokers =
        arena_alloc(&sb.arena, (image->nbrokers + 1) * sizeof(*brokers));
    if (brokers == NULL)
        sb.rc = RILL_ERR_NOMEM;
    for (size_t i = 0; sb.rc == 0 && i < image->nbrokers; i++) {
        const struct metadata_broker *b = &image->brokers[i];
        Rill__Metadata__SnapshotBroker *sbk = arena_alloc(&sb.arena, sizeof(*sbk));
        Rill__Metadata__RegisterBrokerRecord *r = arena_alloc(&sb.arena, sizeof(*r));
        Rill__Metadata__BrokerEndpoint *ep = arena_alloc(&sb.arena, sizeof(*ep));
        Rill__Metadata__BrokerEndpoint **eps = arena_alloc(&sb.arena, sizeof(*eps));
        if (sbk == NULL || r == NULL || ep == NULL || eps == NULL) {
            sb.rc = RILL_ERR_NOMEM;
            break;
        }
        rill__metadata__broker_endpoint__init(ep);
        ep->name = "PLAINTEXT";
        ep->host = b->host;
        ep->port = b->port;
        eps[0] = ep;
        rill__metadata__register_broker_record__init(r);
        r->broker_id = b->id;
        r->incarnation_id.data = (uint8_t *)b->incarnation;
        r->incarnation_id.len = 16;
        r->broker_epoch = b->epoch;
        r->n_endpoints = 1;
        r->endpoints = eps;
        rill__metadata__snapshot_broker__init(sbk);
        sbk->registration = r;
        sbk->fenced = b->fenced;
        sbk->registered_version = b->registered_version;
        brokers[i] = sbk;
    }
    snap.n_brokers = image->nbrokers;
    snap.brokers = brokers;
    if (sb.rc == 0)
        metadata_image_each_topic(image, snapshot_topic, &sb);
    snap.n_records = sb.n;
    snap.records = sb.recs;
    uint8_t *packed = NULL, *compressed = NULL;
    size_t plen = 0, clen = 0;
    if (sb.rc == 0) {
        plen = rill__metadata__metadata_snapshot__get_packed_size(&snap);
        packed = malloc(plen ? plen : 1);
        size_t bound = ZSTD_compressBound(plen);
        compressed = malloc(bound);
        if (packed == NULL || compressed == NULL) {
            sb.rc = RILL_ERR_NOMEM;
        } else {
            rill__metadata__metadata_snapshot__pack(&snap, packed);
            clen = ZSTD_compress(compressed, bound, packed, plen, 3);
            if (ZSTD_isError(clen))
                sb.rc = RILL_ERR_NOMEM;
        }
    }
    free(packed);
    arena_free(&sb.arena);
    if (sb.rc != 0) {
        free(compressed);
        return sb.rc;
    }
    *out = compressed;
    *len = clen;
    return RILL_OK;
}

/* Applies the snapshot's contents to the empty image. */
static int snapshot_apply(const Rill__Metadata__MetadataSnapshot *snap,
                          struct metadata_image *image)
{
    for (size_t i = 0; i < snap->n_brokers; i++) {
        const Rill__Metadata__SnapshotBroker *sbk = snap->brokers[i];
        Rill__Metadata__MetadataRecord rec = RILL__METADATA__METADATA_RECORD__INIT;
        rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER;
        rec.register_broker = sbk->registration;
        int rc = metadata_image_apply(image, &rec);
        if (rc != 0)
            return rc == RILL_ERR_NOMEM ? rc : RILL_ERR_CORRUPT;
        struct metadata_broker *b = (struct metadata_broker *)metadata_image_broker(
            image, sbk->registration->broker_id);
        b->fenced = sbk->fenced;
        b->registered_version = sbk->registered_version;
    }
    for (size_t i = 0; i < snap->n_records; i++) {
        Rill__Metadata__MetadataRecord *rec = snap->records[i];
        if (rec->record_case != RILL__METADATA__METADATA_RECORD__RECORD_TOPIC &&
            rec->record_case != RILL__METADATA__METADATA_RECORD__RECORD_CONFIG &&
            rec->record_case != RILL__METADATA__METADATA_RECORD__RECORD_PARTITION)
            return RILL_ERR_CORRUPT;
        int rc = metadata_image_apply(image, rec);
        if (rc != 0)
            return rc == RILL_ERR_NOMEM ? rc : RILL_ERR_CORRUPT;
    }
    image->version = snap->version;
    image->next_producer_id = snap->next_producer_id;
    image->producer_ids_broker = snap->producer_ids_broker;
    for (size_t b = 0; b < image->nbuckets; b++)
        for (struct metadata_topic *t = image->by_name[b]; t != NULL; t = t->next_by_name)
            t->version = image->version;
    return RILL_OK;
}

int metadata_snapshot_decode(const uint8_t *data, size_t len,
                             struct metadata_snapshot_meta *meta, struct metadata_image *image)
{
    unsigned long long size = ZSTD_getFrameContentSize(data, len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return RILL_ERR_CORRUPT;
    if (size > LIMIT_METADATA_SNAPSHOT_BYTES)
        return RILL_ERR_TOO_LARGE;
    uint8_t *raw = malloc(size ? (size_t)size : 1);
    if (raw == NULL)
        return RILL_ERR_NOMEM;
    size_t got = ZSTD_decompress(raw, (size_t)size, data, len);
    if (ZSTD_isError(got) || got != size) {
        free(raw);
        return RILL_ERR_CORRUPT;
    }
    Rill__Metadata__MetadataSnapshot *snap =
        rill__metadata__metadata_snapshot__unpack(NULL, got, raw);
    free(raw);
    if (snap == NULL)
        return RILL_ERR_CORRUPT;
    int rc = snap->next_offset < 0 ? RILL_ERR_CORRUPT : snapshot_apply(snap, image);
    if (rc == 0) {
        meta->raft_index = snap->raft_index;
        meta->raft_term = snap->raft_term;
        meta->next_offset = snap->next_offset;
    } else {
        metadata_image_free(image);
        metadata_image_init(image);
    }
    rill__metadata__metadata_snapshot__free_unpacked(snap, NULL);
    return rc;
}
