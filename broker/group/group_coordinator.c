#include "broker/group/group_coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker/broker.h"
#include "broker/net/conn.h"
#include "broker/group/group.h"
#include "broker/group/group_records.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/quorum/metadata_log.h"
#include "broker/replica/topics.h"
#include "common/checked.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_errors.h"
#include "proto/record_batch.h"
#include "proto/record_iter.h"
#include "storage/log.h"

/* Kafka's offset.metadata.max.bytes. */
#define GROUP_OFFSET_METADATA_MAX_BYTES 4096

enum cp_state { CP_LOADING, CP_ACTIVE };

/* Snapshots: __consumer_offsets is not compacted record by record.
 * Instead, once a partition has taken many more records than it has live
 * keys, the coordinator appends the current value of every live key (a
 * snapshot) and, when that is durable, deletes the whole segments below the
 * snapshot's first offset: replaying from there gives the same state. */
#define SNAPSHOT_MIN_RECORDS 10000
#define SNAPSHOT_BATCH_RECORDS 500

struct coordinator_partition {
    struct group_coordinator *gc;
    struct partition *partition;
    int32_t index;
    enum cp_state state;
    struct strmap groups;           /* group id -> struct group */
    uint64_t generation_tag;        /* distinguishes successive loads */
    int pending_writes;             /* appends not yet durable */
    int64_t records_since_snapshot;
    bool snapshotting;
    /* Loading, a slice per loop turn (coordinator_load_slice). */
    struct event *ev_load;
    int64_t load_offset, load_end, load_records, load_now_ms;
    int load_slices;
};

struct group_coordinator {
    struct broker *broker;
    struct coordinator_partition **parts; /* indexed by partition number */
    int32_t nparts;
    struct group_limits limits;
    int64_t next_expiry_ms;
    uint64_t loads;                /* partitions loaded so far (tags their writes) */
};

int64_t group_coordinator_now_ms(void)
{
    return clock_mono_ms();
}

int64_t group_coordinator_wall_ms(void)
{
    return clock_wall_ms();
}

const struct group_limits *group_coordinator_limits(struct group_coordinator *gc)
{
    return &gc->limits;
}

int group_coordinator_create(struct broker *b, struct group_coordinator **out)
{
    struct group_coordinator *gc = calloc(1, sizeof(*gc));
    if (gc == NULL)
        return RILL_ERR_NOMEM;
    gc->broker = b;
    gc->limits = (struct group_limits){
        .min_session_timeout_ms = b->cfg.group_min_session_timeout_ms,
        .max_session_timeout_ms = b->cfg.group_max_session_timeout_ms,
        .initial_rebalance_delay_ms = b->cfg.group_initial_rebalance_delay_ms,
        .max_size = b->cfg.group_max_size,
    };
    *out = gc;
    return RILL_OK;
}

static void coordinator_drop_partition(struct coordinator_partition *cp)
{
    size_t bucket;
    struct strmap_entry *e = strmap_first(&cp->groups, &bucket);
    while (e != NULL) {
        struct strmap_entry *next = strmap_next(&cp->groups, e, &bucket);
        group_free(e->value, KAFKA_ERR_NOT_COORDINATOR);
        e = next;
    }
    strmap_free(&cp->groups);
    if (cp->ev_load != NULL)
        event_free(cp->ev_load);
    free(cp);
}

void group_coordinator_free(struct group_coordinator *gc)
{
    if (gc == NULL)
        return;
    for (int32_t i = 0; i < gc->nparts; i++)
        if (gc->parts[i] != NULL)
            coordinator_drop_partition(gc->parts[i]);
    free(gc->parts);
    free(gc);
}

/* ---- topic and lookups ---------------------------------------------------------- */

int32_t group_coordinator_partition_of(struct group_coordinator *gc, const char *group,
                                       size_t len)
{
    struct broker_topic *t =
        topics_find(gc->broker, GROUP_OFFSETS_TOPIC, sizeof(GROUP_OFFSETS_TOPIC) - 1);
    if (t == NULL || t->npartitions == 0)
        return -1;
    return group_partition_for(group, len, t->npartitions);
}

struct ensure_op {
    struct topic_spec spec;
    void (*fn)(void *ctx);
    void *ctx;
};

static void coordinator_topic_created(void *ctx)
{
    struct ensure_op *op = ctx;
    if (op->spec.error != 0 && op->spec.error != KAFKA_ERR_TOPIC_ALREADY_EXISTS)
        log_error("groups", "cannot create %s: %s", GROUP_OFFSETS_TOPIC, op->spec.error_message);
    op->fn(op->ctx);
    free(op);
}

bool group_coordinator_ensure_topic(struct group_coordinator *gc, void (*fn)(void *ctx),
                                    void *ctx, int16_t *error)
{
    struct broker *b = gc->broker;
    *error = 0;
    if (topics_find(b, GROUP_OFFSETS_TOPIC, sizeof(GROUP_OFFSETS_TOPIC) - 1) != NULL)
        return false;
    struct ensure_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        *error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return false;
    }
    op->fn = fn;
    op->ctx = ctx;
    op->spec.name = (struct kafka_str){GROUP_OFFSETS_TOPIC, sizeof(GROUP_OFFSETS_TOPIC) - 1};
    op->spec.num_partitions = b->cfg.offsets_topic_num_partitions;
    /* Replicated as configured, but never more than the live brokers
     * there are (a single node makes do with one replica, where Kafka
     * would refuse to serve groups at all). */
    const struct metadata_image *image = metadata_log_image(b->mlog);
    int32_t live = 0;
    for (size_t i = 0; i < image->nbrokers; i++)
        live += !image->brokers[i].fenced;
    int32_t rf = b->cfg.offsets_topic_replication_factor;
    if (rf > live)
        rf = live > 0 ? live : 1;
    op->spec.replication_factor = (int16_t)rf;
    op->spec.internal = true;
    if (topics_create(b, &op->spec, 1, false, true, coordinator_topic_created, op))
        return true;
    if (op->spec.error != 0 && op->spec.error != KAFKA_ERR_TOPIC_ALREADY_EXISTS)
        *error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    free(op);
    return false;
}

int16_t group_coordinator_group(struct group_coordinator *gc, const char *group, size_t len,
                                bool create, struct group **out)
{
    *out = NULL;
    /* Group ids travel as C strings inside the coordinator (records, logs,
     * lookups by name): one with a NUL in it cannot be one of them. */
    if (memchr(group, '\0', len) != NULL)
        return KAFKA_ERR_INVALID_GROUP_ID;
    int32_t pi = group_coordinator_partition_of(gc, group, len);
    if (pi < 0 || pi >= gc->nparts || gc->parts[pi] == NULL)
        return KAFKA_ERR_NOT_COORDINATOR;
    struct coordinator_partition *cp = gc->parts[pi];
    if (cp->state == CP_LOADING)
        return KAFKA_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    struct group *g = strmap_get(&cp->groups, group, len);
    if (g == NULL && create) {
        g = group_new(cp, group, len);
        if (g == NULL || strmap_put(&cp->groups, g->group_id, len, g) != 0) {
            group_free(g, 0);
            return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        g->state_since_ms = clock_wall_ms();
    }
    if (g == NULL)
        return KAFKA_ERR_GROUP_ID_NOT_FOUND;
    *out = g;
    return 0;
}

int16_t group_coordinator_member_group(struct group_coordinator *gc, struct kafka_str group_id,
                                       struct group **out)
{
    *out = NULL;
    if (group_id.len <= 0)
        return KAFKA_ERR_INVALID_GROUP_ID;
    int16_t error = group_coordinator_group(gc, group_id.ptr, (size_t)group_id.len, false, out);
    return error == KAFKA_ERR_GROUP_ID_NOT_FOUND ? KAFKA_ERR_UNKNOWN_MEMBER_ID : error;
}

void group_coordinator_each(struct group_coordinator *gc, void (*fn)(void *ctx, struct group *g),
                            void *ctx)
{
    for (int32_t i = 0; i < gc->nparts; i++) {
        struct coordinator_partition *cp = gc->parts[i];
        if (cp == NULL || cp->state != CP_ACTIVE)
            continue;
        size_t bucket;
        for (struct strmap_entry *e = strmap_first(&cp->groups, &bucket); e != NULL;
             e = strmap_next(&cp->groups, e, &bucket))
            fn(ctx, e->value);
    }
}

const char *coordinator_peer_host(struct request *req)
{
    /* Kafka shows client hosts as "/address". */
    static const char unknown[] = "";
    if (req->conn == NULL)
        return unknown;
    char *host = arena_printf(&req->arena, "/%s", req->conn->peer);
    if (host == NULL)
        return unknown;
    char *colon = strrchr(host, ':');
    if (colon != NULL)
        *colon = '\0';
    return host;
}

/* ---- offsets in memory ---------------------------------------------------------- */

static size_t coordinator_offset_key(char *buf, size_t len, const char *topic, size_t topic_len,
                                     int32_t partition)
{
    int n = snprintf(buf, len, "%.*s%c%d", (int)topic_len, topic, 0, partition);
    return n < 0 ? 0 : (size_t)n;
}

const struct group_offset *group_offset_find(struct group *g, const char *topic, size_t topic_len,
                                             int32_t partition)
{
    char key[600];
    size_t klen = coordinator_offset_key(key, sizeof(key), topic, topic_len, partition);
    return strmap_get(&g->offsets, key, klen);
}

static void coordinator_set_offset(struct group *g, const char *topic, size_t topic_len,
                                   int32_t partition, const struct group_offset_value *v)
{
    char key[600];
    size_t klen = coordinator_offset_key(key, sizeof(key), topic, topic_len, partition);
    struct group_offset *o = strmap_get(&g->offsets, key, klen);
    if (v == NULL) {
        o = strmap_remove(&g->offsets, key, klen);
        if (o != NULL) {
            free(o->metadata);
            free(o);
        }
        return;
    }
    char *metadata = strndup(v->metadata.len > 0 ? v->metadata.ptr : "",
                             v->metadata.len > 0 ? (size_t)v->metadata.len : 0);
    if (metadata == NULL)
        return;
    if (o == NULL) {
        o = calloc(1, sizeof(*o));
        if (o == NULL || strmap_put(&g->offsets, key, klen, o) != 0) {
            free(o);
            free(metadata);
            return;
        }
    }
    free(o->metadata);
    o->metadata = metadata;
    o->offset = v->offset;
    o->leader_epoch = v->leader_epoch;
    o->commit_timestamp = v->commit_timestamp;
    o->expire_timestamp = v->expire_timestamp;
}

/* ---- writing records ------------------------------------------------------------ */

/* A write to a coordinator partition, acknowledged when durable. The group
 * is found again by id on completion: it may have been dropped meanwhile. */
struct coordinator_write {
    struct partition_waiter waiter;
    struct group_coordinator *gc;
    int32_t partition;
    uint64_t cp_tag;               /* which load of the partition it belongs to */
    char *group_id;                /* NULL for snapshots */
    int64_t snapshot_start;
    void (*done)(struct coordinator_write *w, struct group *g, int16_t error);
    /* What the completion applies. */
    struct coordinator_offset *offsets;
    size_t noffsets;
    char *strings;                 /* backing store for offsets' topic/metadata */
    int64_t commit_timestamp;
    void (*user_done)(void *ctx, int16_t error);
    void *user_ctx;
    bool assignment;
};

static void coordinator_write_free(struct coordinator_write *w)
{
    free(w->offsets);
    free(w->strings);
    free(w->group_id);
    free(w);
}

static void coordinator_write_acked(struct partition_waiter *waiter, int error)
{
    struct coordinator_write *w = (struct coordinator_write *)waiter;
    struct group_coordinator *gc = w->gc;
    struct group *g = NULL;
    struct coordinator_partition *cp =
        w->partition < gc->nparts ? gc->parts[w->partition] : NULL;
    if (cp != NULL && cp->generation_tag == w->cp_tag)
        cp->pending_writes--;
    else
        cp = NULL; /* the partition was dropped (and maybe reloaded) meanwhile */
    if (cp != NULL && w->group_id != NULL)
        g = strmap_get(&cp->groups, w->group_id, strlen(w->group_id));
    int16_t kerr = error != 0 ? KAFKA_ERR_NOT_COORDINATOR : 0;
    w->done(w, g, kerr);
    coordinator_write_free(w);
}

/* Records being gathered for one append: the key and value of the next
 * record are built in key and value, then added (a NULL value makes a
 * tombstone). */
struct record_set {
    struct kafka_writer records, key, value;
    int32_t count;
};

static void record_set_init(struct record_set *rs)
{
    kafka_writer_init(&rs->records);
    kafka_writer_init(&rs->key);
    kafka_writer_init(&rs->value);
    rs->count = 0;
}

static void record_set_add(struct record_set *rs, bool tombstone)
{
    if (rs->key.err || rs->value.err)
        rs->records.err = 1;
    record_write(&rs->records, 0, rs->count++,
                 (struct kafka_bytes){rs->key.buf, (int32_t)rs->key.len},
                 tombstone ? (struct kafka_bytes){NULL, -1}
                           : (struct kafka_bytes){rs->value.buf, (int32_t)rs->value.len});
    rs->key.len = 0;
    rs->value.len = 0;
}

static void record_set_clear(struct record_set *rs)
{
    rs->records.len = 0;
    rs->count = 0;
}

static void record_set_free(struct record_set *rs)
{
    kafka_writer_free(&rs->records);
    kafka_writer_free(&rs->key);
    kafka_writer_free(&rs->value);
}

/* Appends records to the coordinator partition and arranges for w->done
 * once they are durable. group_id (copied) names the group the write is
 * about, or is NULL. Returns the base offset, or -1 (w->done has run). */
static int64_t coordinator_append_to(struct coordinator_partition *cp, const char *group_id,
                                     struct coordinator_write *w, struct record_set *rs)
{
    struct kafka_writer *records = &rs->records;
    int32_t count = rs->count;
    w->gc = cp->gc;
    w->partition = cp->index;
    w->cp_tag = cp->generation_tag;
    w->group_id = group_id ? strdup(group_id) : NULL;
    struct kafka_writer batch;
    kafka_writer_init(&batch);
    int64_t now = clock_wall_ms();
    int16_t error = 0;
    struct record_batch_info info;
    int64_t base = -1;
    if ((group_id != NULL && w->group_id == NULL) || records->err ||
        record_batch_build(&batch, 0, now, now, count, records->buf, records->len) != 0 ||
        record_batch_validate(batch.buf, batch.len, &info) != RB_OK) {
        error = KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    } else if (partition_append(cp->partition, batch.buf, batch.len, &info, &base) != 0) {
        error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    kafka_writer_free(&batch);
    if (error != 0) {
        struct group *g = group_id ? strmap_get(&cp->groups, group_id, strlen(group_id)) : NULL;
        w->done(w, g, error);
        coordinator_write_free(w);
        return -1;
    }
    cp->pending_writes++;
    cp->records_since_snapshot += count;
    w->waiter.offset = base + info.last_offset_delta + 1;
    w->waiter.fn = coordinator_write_acked;
    partition_wait(cp->partition, &w->waiter);
    return base;
}

static void coordinator_append(struct group *g, struct coordinator_write *w,
                               struct record_set *rs)
{
    coordinator_append_to(g->cp, g->group_id, w, rs);
}


/* Group metadata as a record value. */
static void coordinator_group_value(struct group *g, struct kafka_writer *value)
{
    struct group_metadata_value v = {
        .protocol_type = kafka_str_from(g->protocol_type ? g->protocol_type : ""),
        .generation = g->generation,
        .protocol = kafka_str_from(g->protocol_name),
        .leader = kafka_str_from(g->leader_id),
        .state_timestamp = g->state_since_ms,
        .nmembers = g->nmembers,
    };
    struct group_member_value *members = calloc((size_t)(g->nmembers + 1), sizeof(*members));
    if (members == NULL) {
        value->err = 1;
        return;
    }
    int32_t i = 0;
    for (struct group_member *m = g->members; m != NULL; m = m->next, i++) {
        const struct group_protocol *p = group_member_protocol(g, m);
        members[i] = (struct group_member_value){
            .member_id = kafka_str_from(m->member_id),
            .instance_id = kafka_str_from(m->instance_id),
            .client_id = kafka_str_from(m->client_id),
            .client_host = kafka_str_from(m->client_host),
            .rebalance_timeout_ms = m->rebalance_timeout_ms,
            .session_timeout_ms = m->session_timeout_ms,
            .subscription = p ? (struct kafka_bytes){p->metadata, p->len}
                              : (struct kafka_bytes){NULL, 0},
            .assignment = (struct kafka_bytes){m->assignment, m->assignment_len},
        };
    }
    v.members = members;
    group_record_write_group_value(value, &v);
    free(members);
}

static void coordinator_group_stored(struct coordinator_write *w, struct group *g, int16_t error)
{
    if (error != 0)
        log_warn("groups", "%s: group metadata not stored: %s", w->group_id,
                 kafka_error_name(error));
    if (w->assignment && g != NULL)
        group_assignment_stored(g, error, clock_mono_ms(), clock_wall_ms());
}

void coordinator_store_group(struct group *g, bool assignment)
{
    struct coordinator_write *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        if (assignment)
            group_assignment_stored(g, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE, clock_mono_ms(),
                                    clock_wall_ms());
        return;
    }
    w->done = coordinator_group_stored;
    w->assignment = assignment;
    struct record_set rs;
    record_set_init(&rs);
    group_record_write_group_key(&rs.key, kafka_str_from(g->group_id));
    coordinator_group_value(g, &rs.value);
    record_set_add(&rs, false);
    coordinator_append(g, w, &rs);
    record_set_free(&rs);
}

/* The stored form of a commit made at commit_timestamp. */
static struct group_offset_value coordinator_offset_value(const struct coordinator_offset *o,
                                                          int64_t commit_timestamp)
{
    return (struct group_offset_value){
        .offset = o->offset,
        .leader_epoch = o->leader_epoch,
        .metadata = (struct kafka_str){o->metadata, (int32_t)o->metadata_len},
        .commit_timestamp = commit_timestamp,
        .expire_timestamp = o->expire_timestamp,
    };
}

static void coordinator_offsets_stored(struct coordinator_write *w, struct group *g,
                                       int16_t error)
{
    if (error == 0 && g != NULL) {
        for (size_t i = 0; i < w->noffsets; i++) {
            const struct coordinator_offset *o = &w->offsets[i];
            struct group_offset_value v = coordinator_offset_value(o, w->commit_timestamp);
            coordinator_set_offset(g, o->topic, o->topic_len, o->partition, &v);
        }
    } else if (error == 0) {
        error = KAFKA_ERR_NOT_COORDINATOR; /* the group went away meanwhile */
    }
    w->user_done(w->user_ctx, error);
}

void group_coordinator_commit(struct group *g, const struct coordinator_offset *offsets, size_t n,
                              void (*done)(void *ctx, int16_t error), void *ctx)
{
    struct coordinator_write *w = calloc(1, sizeof(*w));
    size_t strings = 0;
    for (size_t i = 0; i < n; i++)
        strings += offsets[i].topic_len + offsets[i].metadata_len + 2;
    if (w != NULL) {
        w->offsets = calloc(n ? n : 1, sizeof(*w->offsets));
        w->strings = malloc(strings + 1);
    }
    if (w == NULL || w->offsets == NULL || w->strings == NULL) {
        if (w != NULL)
            coordinator_write_free(w);
        done(ctx, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    /* The request's memory is gone by completion: keep copies. */
    char *s = w->strings;
    for (size_t i = 0; i < n; i++) {
        w->offsets[i] = offsets[i];
        memcpy(s, offsets[i].topic, offsets[i].topic_len);
        w->offsets[i].topic = s;
        s += offsets[i].topic_len + 1;
        memcpy(s, offsets[i].metadata, offsets[i].metadata_len);
        w->offsets[i].metadata = s;
        s += offsets[i].metadata_len + 1;
    }
    w->noffsets = n;
    w->commit_timestamp = clock_wall_ms();
    w->user_done = done;
    w->user_ctx = ctx;
    w->done = coordinator_offsets_stored;
    struct record_set rs;
    record_set_init(&rs);
    for (size_t i = 0; i < n; i++) {
        const struct coordinator_offset *o = &w->offsets[i];
        group_record_write_offset_key(&rs.key, kafka_str_from(g->group_id),
                                      (struct kafka_str){o->topic, (int32_t)o->topic_len},
                                      o->partition);
        struct group_offset_value v = coordinator_offset_value(o, w->commit_timestamp);
        group_record_write_offset_value(&rs.value, &v);
        record_set_add(&rs, false);
    }
    coordinator_append(g, w, &rs);
    record_set_free(&rs);
}

/* Writes tombstones for the group's metadata and all its offsets. */
static void coordinator_tombstones(struct group *g, struct coordinator_write *w)
{
    struct record_set rs;
    record_set_init(&rs);
    size_t bucket;
    for (struct strmap_entry *e = strmap_first(&g->offsets, &bucket); e != NULL;
         e = strmap_next(&g->offsets, e, &bucket)) {
        size_t tlen = strlen(e->key);
        group_record_write_offset_key(&rs.key, kafka_str_from(g->group_id),
                                      (struct kafka_str){e->key, (int32_t)tlen},
                                      atoi(e->key + tlen + 1));
        record_set_add(&rs, true);
    }
    group_record_write_group_key(&rs.key, kafka_str_from(g->group_id));
    record_set_add(&rs, true);
    coordinator_append(g, w, &rs);
    record_set_free(&rs);
}

static void coordinator_deleted(struct coordinator_write *w, struct group *g, int16_t error)
{
    if (error == 0 && g != NULL) {
        strmap_remove(&g->cp->groups, g->group_id, strlen(g->group_id));
        group_free(g, KAFKA_ERR_UNKNOWN_MEMBER_ID);
    }
    if (w->user_done != NULL)
        w->user_done(w->user_ctx, error);
}

void group_coordinator_delete(struct group *g, void (*done)(void *ctx, int16_t error), void *ctx)
{
    struct coordinator_write *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        if (done != NULL)
            done(ctx, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    w->done = coordinator_deleted;
    w->user_done = done;
    w->user_ctx = ctx;
    coordinator_tombstones(g, w);
}

/* ---- loading a partition --------------------------------------------------------- */

static struct group *coordinator_load_group(struct coordinator_partition *cp,
                                            struct kafka_str id)
{
    struct group *g = strmap_get(&cp->groups, id.ptr, (size_t)id.len);
    if (g == NULL) {
        g = group_new(cp, id.ptr, (size_t)id.len);
        if (g == NULL || strmap_put(&cp->groups, g->group_id, (size_t)id.len, g) != 0) {
            group_free(g, 0);
            return NULL;
        }
    }
    return g;
}

static void coordinator_load_record(struct coordinator_partition *cp,
                                    const struct record_view *rec, int64_t now_ms)
{
    struct group_record_key key;
    /* The coordinator writes its records uncompressed, so keys and values
     * are views into the batch (record_iter.h). */
    if (rec->key.len <= 0 || rec->key.ptr == NULL ||
        (rec->value.len >= 0 && rec->value.ptr == NULL) ||
        group_record_read_key(rec->key.ptr, (size_t)rec->key.len, &key) != 0 ||
        key.group.len < 0)
        return;
    if (key.kind == GROUP_RECORD_OFFSET) {
        struct group *g = coordinator_load_group(cp, key.group);
        if (g == NULL || key.topic.len < 0)
            return;
        if (rec->value.len < 0) {
            coordinator_set_offset(g, key.topic.ptr, (size_t)key.topic.len, key.partition, NULL);
            return;
        }
        struct group_offset_value v;
        if (group_record_read_offset_value(rec->value.ptr, (size_t)rec->value.len, &v) == 0) {
            coordinator_set_offset(g, key.topic.ptr, (size_t)key.topic.len, key.partition, &v);
            /* A group known only by its commits (no JoinGroup ever wrote
             * its metadata) has been idle since its newest commit, not
             * since the epoch: without this it expired on every load. */
            if (v.commit_timestamp > g->state_since_ms)
                g->state_since_ms = v.commit_timestamp;
        }
        return;
    }
    if (rec->value.len < 0) {
        /* The group was deleted (its offsets got tombstones of their own). */
        struct group *g = strmap_remove(&cp->groups, key.group.ptr, (size_t)key.group.len);
        group_free(g, 0);
        return;
    }
    struct group_metadata_value v;
    if (group_record_read_group_value(rec->value.ptr, (size_t)rec->value.len, &v) != 0)
        return;
    struct group *g = coordinator_load_group(cp, key.group);
    if (g != NULL)
        group_restore(g, &v, now_ms);
    free(v.members);
}

/* Reads up to one LIMIT_COORDINATOR_LOAD_SLICE_BYTES read of the
 * partition into its groups. Returns 1 when more is left, 0 when the load
 * is complete, or a RILL_ERR_*. */
static int coordinator_load_slice(struct coordinator_partition *cp)
{
    struct storage_log *log = cp->partition->log;
    if (cp->load_offset >= cp->load_end)
        return 0;
    uint8_t *buf;
    size_t len;
    int rc = storage_log_read_copy(log, cp->load_offset, cp->load_end,
                                   LIMIT_COORDINATOR_LOAD_SLICE_BYTES, &buf, &len);
    if (rc != 0)
        return rc;
    if (len == 0)
        return 0;
    cp->load_slices++;
    size_t pos = 0;
    while (pos + RB_HEADER_BYTES <= len) {
        int64_t size = record_batch_total_size(buf + pos, len - pos);
        if (size < RB_HEADER_BYTES || (size_t)size > len - pos)
            break;
        struct record_batch_header h;
        record_batch_header_read(buf + pos, &h);
        struct record_iter it;
        struct record_view rec;
        if (record_iter_open(&it, buf + pos, (size_t)size) == 0) {
            int64_t at;
            while (record_iter_next(&it, &rec) == 1 &&
                   checked_add_i64(h.base_offset, rec.offset_delta, &at)) {
                if (at >= cp->load_offset) {
                    coordinator_load_record(cp, &rec, cp->load_now_ms);
                    cp->load_records++;
                }
            }
        }
        record_iter_close(&it);
        cp->load_offset = h.base_offset + h.last_offset_delta + 1;
        pos += (size_t)size;
    }
    free(buf);
    return pos == 0 ? 0 : (cp->load_offset < cp->load_end);
}

static void coordinator_load_finish(struct coordinator_partition *cp, int rc)
{
    if (rc < 0)
        log_error("groups", "%s-%d: load failed (%s); its groups start empty",
                  GROUP_OFFSETS_TOPIC, cp->index, rill_strerror(rc));
    else if (cp->load_records > 0)
        log_info("groups", "%s-%d: loaded %zu groups from %lld records in %d slice(s)",
                 GROUP_OFFSETS_TOPIC, cp->index, cp->groups.count, (long long)cp->load_records,
                 cp->load_slices);
    cp->records_since_snapshot = cp->load_records;
    cp->state = CP_ACTIVE;
}

/* The next slice of a load, one per loop turn, so that a large partition
 * never holds the loop (Raft ticks, heartbeats, other clients) for long;
 * meanwhile its groups answer COORDINATOR_LOAD_IN_PROGRESS. */
static void coordinator_on_load(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct coordinator_partition *cp = arg;
    int rc = coordinator_load_slice(cp);
    if (rc == 1) {
        event_active(cp->ev_load, EV_TIMEOUT, 1);
        return;
    }
    coordinator_load_finish(cp, rc);
}

void group_coordinator_partition_opened(struct group_coordinator *gc, struct partition *p)
{
    if (p->index >= gc->nparts) {
        int32_t n = p->index + 1;
        struct coordinator_partition **parts = realloc(gc->parts, (size_t)n * sizeof(*parts));
        if (parts == NULL)
            return;
        for (int32_t i = gc->nparts; i < n; i++)
            parts[i] = NULL;
        gc->parts = parts;
        gc->nparts = n;
    }
    struct coordinator_partition *cp = calloc(1, sizeof(*cp));
    if (cp == NULL || strmap_init(&cp->groups) != 0) {
        free(cp);
        return;
    }
    cp->gc = gc;
    cp->partition = p;
    cp->index = p->index;
    cp->state = CP_LOADING;
    cp->generation_tag = ++gc->loads;
    gc->parts[p->index] = cp;
    cp->load_offset = storage_log_start_offset(p->log);
    /* Up to the log end, not the high watermark: a new leader's high
     * watermark may trail what the last one committed, and its whole log
     * is what its followers will hold. */
    cp->load_end = storage_log_end_offset(p->log);
    cp->load_now_ms = clock_mono_ms();
    /* The first slice at once: a small partition is ready before the
     * next request. */
    int rc = coordinator_load_slice(cp);
    if (rc == 1) {
        cp->ev_load = event_new(gc->broker->base, -1, 0, coordinator_on_load, cp);
        if (cp->ev_load != NULL) {
            event_active(cp->ev_load, EV_TIMEOUT, 1);
            return;
        }
        while ((rc = coordinator_load_slice(cp)) == 1) /* no event: load it all now */
            ;
    }
    coordinator_load_finish(cp, rc);
}

void group_coordinator_partition_closing(struct group_coordinator *gc, struct partition *p)
{
    if (p->index >= gc->nparts || gc->parts[p->index] == NULL)
        return;
    coordinator_drop_partition(gc->parts[p->index]);
    gc->parts[p->index] = NULL;
}

/* ---- snapshots ------------------------------------------------------------------------ */

static void coordinator_snapshot_done(struct coordinator_write *w, struct group *g, int16_t error)
{
    (void)g;
    struct group_coordinator *gc = w->gc;
    struct coordinator_partition *cp =
        w->partition < gc->nparts ? gc->parts[w->partition] : NULL;
    if (cp == NULL || cp->generation_tag != w->cp_tag)
        return;
    cp->snapshotting = false;
    if (error != 0 || w->snapshot_start < 0)
        return;
    int deleted = storage_log_drop_segments_below(cp->partition->log, w->snapshot_start);
    if (deleted > 0)
        log_info("groups", "%s-%d: snapshot at %lld superseded %d segments", GROUP_OFFSETS_TOPIC,
                 cp->index, (long long)w->snapshot_start, deleted);
}

static void coordinator_snapshot_ignore(struct coordinator_write *w, struct group *g,
                                        int16_t error)
{
    (void)w;
    (void)g;
    (void)error;
}

struct snapshot_builder {
    struct coordinator_partition *cp;
    struct record_set rs;
    int64_t first_base;
    bool failed;
};

static void snapshot_flush(struct snapshot_builder *sb, bool last)
{
    if (sb->failed || sb->rs.count == 0)
        return;
    struct coordinator_write *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        sb->failed = true;
        return;
    }
    w->done = last ? coordinator_snapshot_done : coordinator_snapshot_ignore;
    w->snapshot_start = sb->first_base;
    if (coordinator_append_to(sb->cp, NULL, w, &sb->rs) < 0)
        sb->failed = true;
    record_set_clear(&sb->rs);
}

static void snapshot_add(struct snapshot_builder *sb)
{
    record_set_add(&sb->rs, false);
    if (sb->rs.count >= SNAPSHOT_BATCH_RECORDS)
        snapshot_flush(sb, false);
}

/* Writes the live state of cp as a snapshot (see SNAPSHOT_MIN_RECORDS). */
static void coordinator_snapshot(struct coordinator_partition *cp)
{
    /* The snapshot's first record lands at the current log end. */
    struct snapshot_builder sb = {.cp = cp,
                                  .first_base = storage_log_end_offset(cp->partition->log)};
    record_set_init(&sb.rs);
    cp->snapshotting = true;
    size_t bucket;
    for (struct strmap_entry *e = strmap_first(&cp->groups, &bucket); e != NULL && !sb.failed;
         e = strmap_next(&cp->groups, e, &bucket)) {
        struct group *g = e->value;
        group_record_write_group_key(&sb.rs.key, kafka_str_from(g->group_id));
        coordinator_group_value(g, &sb.rs.value);
        snapshot_add(&sb);
        size_t ob;
        for (struct strmap_entry *o = strmap_first(&g->offsets, &ob); o != NULL && !sb.failed;
             o = strmap_next(&g->offsets, o, &ob)) {
            const struct group_offset *go = o->value;
            size_t tlen = strlen(o->key);
            group_record_write_offset_key(&sb.rs.key, kafka_str_from(g->group_id),
                                          (struct kafka_str){o->key, (int32_t)tlen},
                                          atoi(o->key + tlen + 1));
            struct group_offset_value v = {
                .offset = go->offset,
                .leader_epoch = go->leader_epoch,
                .metadata = kafka_str_from(go->metadata),
                .commit_timestamp = go->commit_timestamp,
                .expire_timestamp = go->expire_timestamp,
            };
            group_record_write_offset_value(&sb.rs.value, &v);
            snapshot_add(&sb);
        }
    }
    bool had_records =
        sb.rs.count > 0 || storage_log_end_offset(cp->partition->log) > sb.first_base;
    snapshot_flush(&sb, true);
    if (!had_records && !sb.failed) {
        /* No live keys: everything before the log end is superseded once
         * what is there is durable. */
        cp->snapshotting = false;
        storage_log_drop_segments_below(cp->partition->log, sb.first_base);
    } else if (sb.failed) {
        cp->snapshotting = false;
    }
    cp->records_since_snapshot = 0;
    record_set_free(&sb.rs);
}

static void coordinator_maybe_snapshot(struct coordinator_partition *cp)
{
    if (cp->snapshotting || cp->pending_writes > 0)
        return; /* a write in flight may sit below the snapshot: wait */
    int64_t live = 0;
    size_t bucket;
    for (struct strmap_entry *e = strmap_first(&cp->groups, &bucket); e != NULL;
         e = strmap_next(&cp->groups, e, &bucket))
        live += 1 + (int64_t)((struct group *)e->value)->offsets.count;
    int64_t threshold = live * 4 > SNAPSHOT_MIN_RECORDS ? live * 4 : SNAPSHOT_MIN_RECORDS;
    if (cp->records_since_snapshot > threshold && storage_log_segment_count(cp->partition->log) > 1)
        coordinator_snapshot(cp);
}

/* ---- time --------------------------------------------------------------------------- */

static void coordinator_expire(struct group_coordinator *gc, struct coordinator_partition *cp,
                               int64_t wall_ms)
{
    int64_t retention_ms = gc->broker->cfg.offsets_retention_minutes * 60 * 1000;
    size_t bucket;
    struct strmap_entry *e = strmap_first(&cp->groups, &bucket);
    while (e != NULL) {
        struct strmap_entry *next = strmap_next(&cp->groups, e, &bucket);
        struct group *g = e->value;
        /* Offsets of a group live while it has members; once it is empty,
         * for offsets.retention.minutes (Kafka 2.1+, KIP-211). */
        if (g->state == GROUP_EMPTY && !g->storing && g->pending_members.count == 0 &&
            wall_ms - g->state_since_ms > retention_ms) {
            log_info("groups", "%s: expired after %lld minutes empty", g->group_id,
                     (long long)gc->broker->cfg.offsets_retention_minutes);
            group_coordinator_delete(g, NULL, NULL);
        }
        e = next;
    }
}

void group_coordinator_tick(struct group_coordinator *gc, int64_t now_ms)
{
    if (gc == NULL)
        return;
    int64_t wall_ms = clock_wall_ms();
    bool expiry = now_ms >= gc->next_expiry_ms;
    if (expiry)
        gc->next_expiry_ms = now_ms + gc->broker->cfg.offsets_retention_check_interval_ms;
    for (int32_t i = 0; i < gc->nparts; i++) {
        struct coordinator_partition *cp = gc->parts[i];
        if (cp == NULL || cp->state != CP_ACTIVE)
            continue;
        size_t bucket;
        struct strmap_entry *e = strmap_first(&cp->groups, &bucket);
        while (e != NULL) {
            struct strmap_entry *next = strmap_next(&cp->groups, e, &bucket);
            group_tick(e->value, now_ms, wall_ms);
            e = next;
        }
        if (expiry)
            coordinator_expire(gc, cp, wall_ms);
        coordinator_maybe_snapshot(cp);
    }
}

int16_t group_coordinator_check_metadata(size_t len)
{
    return len > GROUP_OFFSET_METADATA_MAX_BYTES ? KAFKA_ERR_OFFSET_METADATA_TOO_LARGE : 0;
}
