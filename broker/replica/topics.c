#include "broker/replica/topics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/group/group_coordinator.h"
#include "broker/quorum/metadata_log.h"
#include "broker/replica/partition.h"
#include "broker/quorum/raft_wire.h"
#include "broker/replica/topic_config.h"
#include "common/assert.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/random.h"
#include "common/rill_error.h"
#include "metadata/controller.h"
#include "proto/kafka_errors.h"
#include "storage/partition_meta.h"

/* ---- lookups ------------------------------------------------------------ */

struct broker_topic *topics_find(struct broker *b, const char *name, size_t len)
{
    return strmap_get(&b->topics, name, len);
}

struct partition *topics_partition(struct broker *b, const char *name, size_t len, int32_t index)
{
    struct broker_topic *t = topics_find(b, name, len);
    if (t == NULL || index < 0 || index >= t->npartitions)
        return NULL;
    return t->partitions[index];
}

int16_t topics_partition_led(struct broker *b, const char *name, size_t len, int32_t index,
                             struct partition **out)
{
    *out = NULL;
    const struct metadata_topic *mt = metadata_image_topic(metadata_log_image(b->mlog), name, len);
    if (mt == NULL || index < 0 || index >= mt->npartitions)
        return KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    const struct metadata_partition *mp = &mt->partitions[index];
    if (mp->leader == -1)
        return KAFKA_ERR_LEADER_NOT_AVAILABLE;
    if (mp->leader != b->cfg.node_id)
        return KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
    *out = topics_partition(b, name, len, index);
    /* Led here but not open (it failed to open): an error, not a crash. */
    return *out != NULL ? 0 : KAFKA_ERR_KAFKA_STORAGE_ERROR;
}

int topics_validate_name(const char *name, size_t len, const char **why)
{
    return controller_validate_topic_name(name, len, why);
}

/* ---- following the image -------------------------------------------------- */

static bool topics_is_offsets(const struct broker_topic *t)
{
    return t->internal && strcmp(t->name, GROUP_OFFSETS_TOPIC) == 0;
}

static bool topics_is_replica(const struct metadata_partition *mp, int32_t node)
{
    for (size_t i = 0; i < mp->nreplicas; i++)
        if (mp->replicas[i] == node)
            return true;
    return false;
}

static void topics_free_runtime(struct broker *b, struct broker_topic *t, bool destroy)
{
    for (int32_t i = 0; i < t->npartitions; i++) {
        if (t->partitions[i] == NULL)
            continue;
        if (topics_is_offsets(t))
            group_coordinator_partition_closing(b->groups, t->partitions[i]);
        partition_close(t->partitions[i], destroy, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
    free(t->partitions);
    free(t->name);
    free(t);
}

static struct broker_topic *topics_runtime_new(struct broker *b, const struct metadata_topic *mt)
{
    struct broker_topic *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->name = strdup(mt->name)) == NULL) {
        free(t);
        return NULL;
    }
    memcpy(t->id, mt->id, 16);
    t->internal = mt->internal;
    if (strmap_put(&b->topics, t->name, strlen(t->name), t) != 0) {
        free(t->name);
        free(t);
        return NULL;
    }
    return t;
}

/* Opens partition i of t when a replica of it is placed here. */
static void topics_open_partition(struct broker *b, struct broker_topic *t,
                                  const struct metadata_topic *mt, int32_t i)
{
    /* Only replicas placed here hold a log here. */
    if (!topics_is_replica(&mt->partitions[i], b->cfg.node_id))
        return;
    int rc = partition_open(b, t, i, &t->partitions[i]);
    if (rc != 0) {
        /* The image still lists the partition; requests for it get an
         * error instead of a crash, and nothing else is touched. */
        log_error("topics", "cannot open partition %s-%d: %s", t->name, i, rill_strerror(rc));
        t->partitions[i] = NULL;
        return;
    }
    partition_follow_image(t->partitions[i], &mt->partitions[i]);
    /* Leading a __consumer_offsets partition makes this broker the
     * coordinator of its groups; elsewhere it only holds the log. */
    if (topics_is_offsets(t) && mt->partitions[i].leader == b->cfg.node_id)
        group_coordinator_partition_opened(b->groups, t->partitions[i]);
}

/* Takes over what changed in mt since t last looked: configuration, leader
 * epochs, and partitions added (opened here). */
static void topics_runtime_update(struct broker *b, struct broker_topic *t,
                                  const struct metadata_topic *mt)
{
    topic_config_resolve(&b->cfg, mt, &t->cfg);
    if (mt->npartitions > t->npartitions) {
        struct partition **parts =
            realloc(t->partitions, (size_t)mt->npartitions * sizeof(*parts));
        if (parts == NULL)
            rill_fatal("topics", "out of memory following the image for topic %s", t->name);
        t->partitions = parts;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        struct partition *p = t->partitions[i];
        if (p == NULL)
            continue;
        int32_t was = p->leader, now = mt->partitions[i].leader;
        int32_t was_epoch = p->leader_epoch, now_epoch = mt->partitions[i].leader_epoch;
        bool moved = now != was || (was == b->cfg.node_id && was_epoch != now_epoch);
        /* Leading a __consumer_offsets partition makes this broker the
         * coordinator of its groups: loaded on gaining it, unloaded (its
         * waiters told NOT_COORDINATOR) on losing it, and reloaded when it
         * leads again in a new epoch (its log may have been truncated). */
        if (topics_is_offsets(t) && was == b->cfg.node_id && moved)
            group_coordinator_partition_closing(b->groups, p);
        partition_reconfigure(p);
        partition_follow_image(p, &mt->partitions[i]);
        if (topics_is_offsets(t) && now == b->cfg.node_id && moved)
            group_coordinator_partition_opened(b->groups, p);
    }
    while (t->npartitions < mt->npartitions) {
        int32_t i = t->npartitions++;
        t->partitions[i] = NULL;
        topics_open_partition(b, t, mt, i);
    }
    t->version = mt->version;
}

struct topics_sync_ctx {
    struct broker *b;
};

static void topics_sync_one(void *ctx, const struct metadata_topic *mt)
{
    struct broker *b = ((struct topics_sync_ctx *)ctx)->b;
    struct broker_topic *t = topics_find(b, mt->name, strlen(mt->name));
    if (t == NULL) {
        t = topics_runtime_new(b, mt);
        if (t == NULL)
            rill_fatal("topics", "out of memory following the image for topic %s", mt->name);
    }
    ASSERT(memcmp(t->id, mt->id, 16) == 0); /* other ids were closed first */
    if (t->version != mt->version)
        topics_runtime_update(b, t, mt);
}

void topics_follow_image(void *ctx, const struct metadata_image *image)
{
    struct broker *b = ctx;
    /* First close what left the image, so that a name deleted and created
     * again in the same batch (or in one replay) frees its directory for
     * the new topic before the new topic opens. */
    size_t bucket;
    struct strmap_entry *e = strmap_first(&b->topics, &bucket);
    while (e != NULL) {
        struct strmap_entry *next = strmap_next(&b->topics, e, &bucket);
        struct broker_topic *t = e->value;
        if (metadata_image_topic_by_id(image, t->id) == NULL) {
            log_info("topics", "deleting topic %s", t->name);
            strmap_remove(&b->topics, t->name, strlen(t->name));
            topics_free_runtime(b, t, true);
        }
        e = next;
    }
    struct topics_sync_ctx sc = {b};
    metadata_image_each_topic(image, topics_sync_one, &sc);
}

/* ---- directories no topic of the image owns --------------------------------- */

struct topics_found_dir {
    char name[300];
    char dir[4096];
};

struct topics_scan {
    struct topics_found_dir *found;
    size_t n, cap;
    bool nomem;
};

static void topics_scan_one(void *ctx, const char *name, const char *dir)
{
    struct topics_scan *scan = ctx;
    if (strlen(name) >= sizeof(scan->found->name) || strlen(dir) >= sizeof(scan->found->dir))
        return;
    if (scan->n == scan->cap) {
        size_t cap = scan->cap ? scan->cap * 2 : 16;
        struct topics_found_dir *f = realloc(scan->found, cap * sizeof(*f));
        if (f == NULL) {
            scan->nomem = true;
            return;
        }
        scan->found = f;
        scan->cap = cap;
    }
    struct topics_found_dir *f = &scan->found[scan->n++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
}

/* Whether the image holds partition "TOPIC-N" of name; *mt gets the topic. */
static bool topics_dir_in_image(const struct metadata_image *image, const char *name,
                                const struct metadata_topic **mt)
{
    const char *dash = strrchr(name, '-');
    *mt = NULL;
    if (dash == NULL)
        return false;
    *mt = metadata_image_topic(image, name, (size_t)(dash - name));
    long index = strtol(dash + 1, NULL, 10);
    return *mt != NULL && index >= 0 && index < (*mt)->npartitions;
}

int topics_set_aside_strays(struct broker *b, const char *metadata_log_name)
{
    struct topics_scan scan = {0};
    int rc = storage_store_list(b->store, topics_scan_one, &scan);
    if (rc == 0 && scan.nomem)
        rc = RILL_ERR_NOMEM;
    const struct metadata_image *image = metadata_log_image(b->mlog);
    for (size_t i = 0; rc == 0 && i < scan.n; i++) {
        struct topics_found_dir *f = &scan.found[i];
        if (strcmp(f->name, metadata_log_name) == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", f->dir, f->name);
        uint8_t id[16];
        int mrc = storage_partition_meta_read(path, id);
        const struct metadata_topic *mt;
        bool listed = topics_dir_in_image(image, f->name, &mt);
        char tag[33];
        if (mrc == 0) {
            if (listed && memcmp(mt->id, id, 16) == 0)
                continue;
            /* The topic it was made for is no longer in the image: it was
             * deleted, and a crash (or power cut) came before its directory
             * was renamed away. */
            for (int k = 0; k < 16; k++)
                snprintf(tag + 2 * k, 3, "%02x", id[k]);
            log_warn("topics", "%s belongs to a deleted topic; deleting it", path);
            rc = storage_store_set_aside(b->store, f->dir, f->name, tag, true);
        } else if (mrc == RILL_ERR_NOT_FOUND) {
            if (listed)
                continue; /* made before topic ids were recorded: opened and given one */
            log_warn("topics",
                     "%s has no topic id and no topic of the image owns it; renamed aside "
                     "with a -stray suffix for the operator, not deleted",
                     path);
            rc = storage_store_set_aside(b->store, f->dir, f->name, "noid", false);
        } else {
            log_error("topics", "%s: unreadable %s (%s); the broker does not guess whose it is",
                      path, STORAGE_PARTITION_META_FILE, rill_strerror(mrc));
            rc = mrc;
        }
    }
    free(scan.found);
    return rc;
}

static void topics_open_missing_one(void *ctx, const struct metadata_topic *mt)
{
    struct broker *b = ctx;
    struct broker_topic *t = topics_find(b, mt->name, strlen(mt->name));
    if (t == NULL)
        return;
    for (int32_t i = 0; i < t->npartitions && i < mt->npartitions; i++)
        if (t->partitions[i] == NULL)
            topics_open_partition(b, t, mt, i);
}

void topics_open_missing(struct broker *b)
{
    metadata_image_each_topic(metadata_log_image(b->mlog), topics_open_missing_one, b);
}

void topics_close_all(struct broker *b)
{
    size_t bucket;
    struct strmap_entry *e = strmap_first(&b->topics, &bucket);
    while (e != NULL) {
        struct strmap_entry *next = strmap_next(&b->topics, e, &bucket);
        topics_free_runtime(b, e->value, false);
        e = next;
    }
    strmap_free(&b->topics);
}

/* ---- creation -------------------------------------------------------------- */

/* A creation in flight: names it covers are in b->creating. */
struct create_op {
    struct broker *b;
    struct topic_spec *specs;
    size_t n;
    uint8_t (*ids)[16];
    uint8_t *state;            /* per spec: SPEC_* */
    topics_done_fn fn;
    void *ctx;
    int joins;                 /* other creations this one waits for */
    int proposals;             /* proposals not yet applied */
    struct join_node *joiners; /* ops waiting for this one */
};

struct join_node {
    struct join_node *next;
    struct create_op *op;
};

enum { SPEC_DONE, SPEC_PROPOSED, SPEC_JOINED };

static void topics_set_error(struct topic_spec *s, int16_t error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void create_op_finish(struct create_op *op);

static void create_op_release_joiners(struct create_op *op)
{
    struct join_node *node = op->joiners;
    op->joiners = NULL;
    while (node != NULL) {
        struct join_node *next = node->next;
        struct create_op *j = node->op;
        free(node);
        j->joins--;
        if (j->joins == 0 && j->proposals == 0)
            create_op_finish(j);
        node = next;
    }
}

static void create_op_finish(struct create_op *op)
{
    struct broker *b = op->b;
    for (size_t i = 0; i < op->n; i++) {
        struct topic_spec *s = &op->specs[i];
        if (op->state[i] == SPEC_DONE)
            continue;
        const struct metadata_topic *t =
            metadata_image_topic(metadata_log_image(b->mlog), s->name.ptr, (size_t)s->name.len);
        if (op->state[i] == SPEC_JOINED) {
            if (s->error == 0 && t == NULL)
                topics_set_error(s, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                                 "Creating topic '%.*s' failed.", s->name.len, s->name.ptr);
            continue;
        }
        if (strmap_get(&b->creating, s->name.ptr, (size_t)s->name.len) == op)
            strmap_remove(&b->creating, s->name.ptr, (size_t)s->name.len);
        if (s->error == 0 && (t == NULL || memcmp(t->id, op->ids[i], 16) != 0)) {
            s->error = KAFKA_ERR_TOPIC_ALREADY_EXISTS;
            snprintf(s->error_message, sizeof(s->error_message), "Topic '%.*s' already exists.",
                     s->name.len, s->name.ptr);
        }
    }
    create_op_release_joiners(op);
    op->fn(op->ctx);
    free(op->ids);
    free(op->state);
    free(op);
}

static void create_op_applied(void *ctx, int rc)
{
    struct create_op *op = ctx;
    op->proposals--;
    if (rc != 0) {
        for (size_t i = 0; i < op->n; i++) {
            if (op->state[i] == SPEC_PROPOSED && op->specs[i].error == 0) {
                op->specs[i].error = metadata_log_propose_error(rc);
                if (rc == RILL_ERR_AGAIN)
                    snprintf(op->specs[i].error_message, sizeof(op->specs[i].error_message),
                             "The controller changed before the topic was committed.");
                else
                    snprintf(op->specs[i].error_message, sizeof(op->specs[i].error_message),
                             "The metadata log could not be written: %s", rill_strerror(rc));
            }
        }
    }
    if (op->joins == 0 && op->proposals == 0)
        create_op_finish(op);
}

static void topics_set_error(struct topic_spec *s, int16_t error, const char *fmt, ...)
{
    s->error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error_message, sizeof(s->error_message), fmt, ap);
    va_end(ap);
}

/* The broker's part of validating a creation: the internal offsets topic,
 * defaults, and the configuration entries. Names, counts and placement are
 * the controller's (metadata/controller.h). */
static void topics_validate_spec(struct broker *b, struct topic_spec *s, bool join_pending)
{
    if (kafka_str_eq(s->name, GROUP_OFFSETS_TOPIC) && !s->internal) {
        if (!join_pending) {
            topics_set_error(s, KAFKA_ERR_INVALID_REQUEST,
                             "Creation of internal topic %s is prohibited.", GROUP_OFFSETS_TOPIC);
            return;
        }
        /* A client's Metadata request names it first: create it as the
         * coordinator would. */
        s->internal = true;
        s->num_partitions = b->cfg.offsets_topic_num_partitions;
        s->replication_factor = 1;
        s->nconfigs = 0;
    }
    if (s->num_partitions == -1)
        s->num_partitions = b->cfg.num_partitions;
    if (s->replication_factor == -1)
        s->replication_factor = (int16_t)b->cfg.default_replication_factor;
}

/* The configuration entries of a spec the controller accepted. */
static void topics_validate_configs(struct topic_spec *s)
{
    for (size_t i = 0; i < s->nconfigs; i++) {
        char err[160];
        struct kafka_str v = s->config_values[i];
        if (topic_config_validate(s->config_names[i].ptr, (size_t)s->config_names[i].len,
                                  v.ptr, v.len < 0 ? 0 : (size_t)v.len, err, sizeof(err)) != 0 ||
            v.len < 0) {
            topics_set_error(s, KAFKA_ERR_INVALID_CONFIG, "%s",
                             v.len < 0 ? "Null value not supported for topic configs" : err);
            return;
        }
    }
}

static char *topics_strndup(struct kafka_str s)
{
    return strndup(s.ptr, s.len < 0 ? 0 : (size_t)s.len);
}

/* Decides one topic's creation (metadata/controller.h) and, unless only
 * validating or refused (s->error set), proposes its records. Returns 0 or
 * a RILL_ERR_* of the proposal. */
static int topics_propose_one(struct broker *b, struct create_op *op, size_t i,
                              bool validate_only)
{
    struct topic_spec *s = &op->specs[i];
    const struct metadata_image *image = metadata_log_image(b->mlog);
    const char **names = calloc(s->nconfigs + 1, sizeof(*names));
    const char **values = calloc(s->nconfigs + 1, sizeof(*values));
    char **strings = calloc(2 * s->nconfigs + 1, sizeof(*strings));
    struct controller_out out;
    controller_out_init(&out);
    int rc = RILL_ERR_NOMEM;
    if (names == NULL || values == NULL || strings == NULL)
        goto out;
    for (size_t c = 0; c < s->nconfigs; c++) {
        strings[2 * c] = topics_strndup(s->config_names[c]);
        strings[2 * c + 1] = topics_strndup(s->config_values[c]);
        if (strings[2 * c] == NULL || strings[2 * c + 1] == NULL)
            goto out;
        names[c] = strings[2 * c];
        values[c] = strings[2 * c + 1];
    }
    do {
        rc = random_bytes(op->ids[i], 16);
        if (rc != 0)
            goto out;
    } while (metadata_image_topic_by_id(image, op->ids[i]) != NULL);
    struct controller_topic_request req = {
        .name = s->name.ptr,
        .name_len = s->name.len < 0 ? 0 : (size_t)s->name.len,
        .num_partitions = s->num_partitions,
        .replication_factor = s->replication_factor,
        .internal = s->internal,
        .id = op->ids[i],
        .assignments = s->assignments,
        .config_names = names,
        .config_values = values,
        .nconfigs = s->nconfigs};
    rc = controller_create_topic(image, &req, &out);
    if (rc != 0)
        goto out;
    if (out.error != 0) {
        topics_set_error(s, out.error, "%s", out.message);
        goto out;
    }
    topics_validate_configs(s);
    if (s->error != 0 || validate_only)
        goto out;
    rc = metadata_log_propose(b->mlog, out.recs, out.n, create_op_applied, op);
out:
    controller_out_free(&out);
    for (size_t k = 0; strings != NULL && k < 2 * s->nconfigs; k++)
        free(strings[k]);
    free(strings);
    free(values);
    free(names);
    return rc;
}

bool topics_create(struct broker *b, struct topic_spec *specs, size_t n, bool validate_only,
                   bool join_pending, topics_done_fn fn, void *ctx)
{
    struct create_op *op = calloc(1, sizeof(*op));
    uint8_t(*ids)[16] = calloc(n ? n : 1, sizeof(*ids));
    uint8_t *state = calloc(n ? n : 1, sizeof(*state));
    if (op == NULL || ids == NULL || state == NULL) {
        free(op);
        free(ids);
        free(state);
        for (size_t i = 0; i < n; i++)
            topics_set_error(&specs[i], KAFKA_ERR_UNKNOWN_SERVER_ERROR, "Out of memory.");
        return false;
    }
    *op = (struct create_op){.b = b, .specs = specs, .n = n, .ids = ids, .state = state,
                             .fn = fn, .ctx = ctx};
    bool waits = false;
    for (size_t i = 0; i < n; i++) {
        struct topic_spec *s = &specs[i];
        if (s->skip)
            continue;
        s->error = 0;
        s->error_message[0] = '\0';
        if (s->name.len > 0 && topics_find(b, s->name.ptr, (size_t)s->name.len) != NULL) {
            topics_set_error(s, KAFKA_ERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.",
                             s->name.len, s->name.ptr);
            continue;
        }
        struct create_op *running =
            s->name.len > 0 ? strmap_get(&b->creating, s->name.ptr, (size_t)s->name.len) : NULL;
        if (running != NULL) {
            if (!join_pending) {
                topics_set_error(s, KAFKA_ERR_TOPIC_ALREADY_EXISTS,
                                 "Topic '%.*s' is being created.", s->name.len, s->name.ptr);
                continue;
            }
            /* An op joins another at most once; its other names that the
             * same creation covers are answered when that one finishes. */
            bool linked = false;
            for (struct join_node *j = running->joiners; j != NULL; j = j->next)
                linked = linked || j->op == op;
            if (!linked) {
                struct join_node *node = calloc(1, sizeof(*node));
                if (node == NULL) {
                    topics_set_error(s, KAFKA_ERR_UNKNOWN_SERVER_ERROR, "Out of memory.");
                    continue;
                }
                node->op = op;
                node->next = running->joiners;
                running->joiners = node;
                op->joins++;
            }
            state[i] = SPEC_JOINED;
            waits = true;
            continue;
        }
        topics_validate_spec(b, s, join_pending);
        if (s->error != 0)
            continue;
        /* Duplicates inside one request: only the first is created. */
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || (state[k] == SPEC_PROPOSED && specs[k].name.len == s->name.len &&
                          memcmp(specs[k].name.ptr, s->name.ptr, (size_t)s->name.len) == 0);
        if (dup) {
            topics_set_error(s, KAFKA_ERR_INVALID_REQUEST, "Topic '%.*s' appears twice.",
                             s->name.len, s->name.ptr);
            continue;
        }
        int rc = topics_propose_one(b, op, i, validate_only);
        if (rc == 0 && (s->error != 0 || validate_only))
            continue;
        if (rc != 0) {
            int32_t controller = metadata_log_leader(b->mlog);
            if (rc == RILL_ERR_AGAIN && join_pending && controller >= 0) {
                /* An automatic creation on a node that is not the
                 * controller: the controller is asked to do it, and the
                 * client, told to retry, finds the topic once committed. */
                char name[LIMIT_TOPIC_NAME_BYTES + 1];
                snprintf(name, sizeof(name), "%.*s", s->name.len, s->name.ptr);
                struct raft_wire_topic_creation tc = {name, s->num_partitions,
                                                      s->replication_factor};
                metadata_log_send_topic_creation(b->mlog, controller, &tc);
                topics_set_error(s, KAFKA_ERR_LEADER_NOT_AVAILABLE,
                                 "Topic '%.*s' is being created by the controller.",
                                 s->name.len, s->name.ptr);
            } else if (rc == RILL_ERR_AGAIN)
                topics_set_error(s, KAFKA_ERR_NOT_CONTROLLER,
                                 "This is not the correct controller for this cluster.");
            else
                topics_set_error(s, KAFKA_ERR_KAFKA_STORAGE_ERROR, "Cannot write metadata: %s",
                                 rill_strerror(rc));
            continue;
        }
        log_info("topics", "creating topic %.*s with %d partitions", s->name.len, s->name.ptr,
                 s->num_partitions);
        state[i] = SPEC_PROPOSED;
        strmap_put(&b->creating, s->name.ptr, (size_t)s->name.len, op);
        op->proposals++;
        waits = true;
    }
    if (!waits) {
        free(op->ids);
        free(op->state);
        free(op);
        return false;
    }
    return true;
}

/* ---- deletion ---------------------------------------------------------------- */

struct delete_op {
    topics_done_fn fn;
    void *ctx;
};

static void delete_op_applied(void *ctx, int rc)
{
    struct delete_op *op = ctx;
    if (rc != 0)
        log_error("topics", "topic deletion not written: %s", rill_strerror(rc));
    op->fn(op->ctx);
    free(op);
}

bool topics_delete(struct broker *b, const struct kafka_str *names, int16_t *errors, size_t n,
                   topics_done_fn fn, void *ctx)
{
    const struct metadata_image *image = metadata_log_image(b->mlog);
    struct delete_op *op = calloc(1, sizeof(*op));
    struct controller_out out;
    controller_out_init(&out);
    bool waits = false;
    for (size_t i = 0; i < n; i++) {
        struct broker_topic *t =
            names[i].len > 0 ? topics_find(b, names[i].ptr, (size_t)names[i].len) : NULL;
        if (op == NULL) {
            errors[i] = KAFKA_ERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        if (!b->cfg.delete_topic_enable) {
            errors[i] = KAFKA_ERR_TOPIC_DELETION_DISABLED;
            continue;
        }
        if (t == NULL) {
            errors[i] = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (t->internal) {
            errors[i] = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < out.n; k++)
            dup = dup || memcmp(out.recs[k]->remove_topic->topic_id.data, t->id, 16) == 0;
        errors[i] = 0;
        if (dup)
            continue;
        out.error = 0;
        if (controller_delete_topic(image, t->name, strlen(t->name), &out) != 0)
            errors[i] = KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        else if (out.error != 0)
            errors[i] = out.error;
    }
    if (op != NULL && out.n > 0) {
        op->fn = fn;
        op->ctx = ctx;
        int rc = metadata_log_propose(b->mlog, out.recs, out.n, delete_op_applied, op);
        if (rc == 0) {
            waits = true;
            op = NULL;
        } else {
            for (size_t i = 0; i < n; i++)
                if (errors[i] == 0)
                    errors[i] = metadata_log_propose_error(rc);
        }
    }
    controller_out_free(&out);
    free(op);
    return waits;
}

/* ---- automatic creations forwarded by other brokers ----------------------------- */

struct forwarded_creation {
    struct topic_spec spec;
    char name[LIMIT_TOPIC_NAME_BYTES + 1];
};

static void topics_forwarded_done(void *ctx)
{
    struct forwarded_creation *fc = ctx;
    if (fc->spec.error != 0 && fc->spec.error != KAFKA_ERR_TOPIC_ALREADY_EXISTS)
        log_warn("topics", "forwarded creation of %s failed: %s", fc->name,
                 fc->spec.error_message);
    free(fc);
}

void topics_create_forwarded(struct broker *b, const struct raft_wire_topic_creation *tc)
{
    if (metadata_log_leader(b->mlog) != b->cfg.node_id || strlen(tc->name) == 0 ||
        strlen(tc->name) > LIMIT_TOPIC_NAME_BYTES ||
        topics_find(b, tc->name, strlen(tc->name)) != NULL)
        return;
    struct forwarded_creation *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return;
    snprintf(fc->name, sizeof(fc->name), "%s", tc->name);
    fc->spec.name = (struct kafka_str){fc->name, (int32_t)strlen(fc->name)};
    fc->spec.num_partitions = tc->num_partitions;
    fc->spec.replication_factor = (int16_t)tc->replication_factor;
    fc->spec.internal = strcmp(fc->name, GROUP_OFFSETS_TOPIC) == 0;
    if (!topics_create(b, &fc->spec, 1, false, true, topics_forwarded_done, fc))
        topics_forwarded_done(fc);
}
