#include "broker/replica/fetcher.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "broker/replica/partition.h"
#include "broker/replica/topics.h"
#include "common/arena.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "proto/kafka_codec.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

/* The Fetch version followers send: the first with LastFetchedEpoch and
 * DivergingEpoch (KIP-320), before topic ids replaced names (v13). */
#define FETCHER_VERSION 12

struct replica_fetcher {
    struct replica_fetchers *fs;
    int32_t leader;
    char host[256];
    int port;
    struct bufferevent *bev;
    bool connected;
    bool inflight;
    int32_t corr;
    int64_t sent_ms;
    int64_t retry_at_ms;        /* after a failure: no fetch before then */
    struct partition *parts;    /* linked by fetch_next */
    size_t nparts;
    struct replica_fetcher *next;
};

struct replica_fetchers {
    struct broker *broker;
    struct evdns_base *dns;
    struct replica_fetcher *list;
    int32_t next_corr;
};

int replica_fetchers_open(struct broker *b, struct replica_fetchers **out)
{
    struct replica_fetchers *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return RILL_ERR_NOMEM;
    fs->broker = b;
    *out = fs;
    return RILL_OK;
}

static void fetcher_disconnect(struct replica_fetcher *f, const char *why)
{
    if (f->bev == NULL)
        return;
    if (f->connected)
        log_info("fetcher", "connection to leader %d (%s:%d) closed: %s", f->leader, f->host,
                 f->port, why);
    bufferevent_free(f->bev);
    f->bev = NULL;
    f->connected = false;
    f->inflight = false;
    f->retry_at_ms = clock_mono_ms() + f->fs->broker->cfg.replica_fetch_backoff_ms;
}

static void fetcher_free(struct replica_fetcher *f)
{
    struct replica_fetchers *fs = f->fs;
    for (struct replica_fetcher **pp = &fs->list; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    for (struct partition *p = f->parts; p != NULL;) {
        struct partition *next = p->fetch_next;
        p->fetcher = NULL;
        p->fetch_next = NULL;
        p = next;
    }
    if (f->bev != NULL)
        bufferevent_free(f->bev);
    free(f);
}

void replica_fetchers_free(struct replica_fetchers *fs)
{
    if (fs == NULL)
        return;
    while (fs->list != NULL)
        fetcher_free(fs->list);
    if (fs->dns != NULL)
        evdns_base_free(fs->dns, 0);
    free(fs);
}

static void fetcher_send(struct replica_fetcher *f);

/* ---- the answer ---------------------------------------------------------------- */

/* KIP-279: the leader's history diverges from ours at (epoch, end). */
static void fetcher_diverged(struct partition *p, int32_t epoch, int64_t end)
{
    int32_t ours;
    int64_t our_end;
    storage_log_end_for_epoch(p->log, epoch, &ours, &our_end);
    int64_t leo = storage_log_end_offset(p->log);
    int64_t target;
    if (ours < 0)
        target = end < leo ? end : leo; /* nothing known here at or below it */
    else if (ours != epoch)
        target = our_end; /* we lack that epoch: cut to ours and ask again */
    else
        target = end < our_end ? end : our_end;
    if (target > leo)
        target = leo;
    int rc = partition_truncate(p, target);
    if (rc != 0)
        log_error("fetcher", "%s-%d: truncation to %lld failed: %s", p->topic->name, p->index,
                  (long long)target, rill_strerror(rc));
}

/* Takes one partition's answer. Returns false when the fetcher should back
 * off before fetching again. */
static bool fetcher_take(struct replica_fetcher *f, struct partition *p,
                         const struct kafka_fetch_response_partition_data *d)
{
    switch (d->ErrorCode) {
    case KAFKA_ERR_NONE:
        break;
    case KAFKA_ERR_OFFSET_OUT_OF_RANGE:
        if (storage_log_end_offset(p->log) < d->LogStartOffset) {
            int rc = partition_reset(p, d->LogStartOffset);
            return rc == 0;
        }
        log_warn("fetcher", "%s-%d: offset %lld out of range at leader %d (log start %lld)",
                 p->topic->name, p->index, (long long)storage_log_end_offset(p->log), f->leader,
                 (long long)d->LogStartOffset);
        return false;
    default:
        /* Not the leader (yet), an epoch the image has not caught up with,
         * a storage error there: the image will move us, or it passes. */
        log_debug("fetcher", "%s-%d: leader %d answers %s", p->topic->name, p->index, f->leader,
                  kafka_error_name(d->ErrorCode));
        return false;
    }
    if (d->DivergingEpoch.Epoch >= 0 || d->DivergingEpoch.EndOffset >= 0) {
        fetcher_diverged(p, d->DivergingEpoch.Epoch, d->DivergingEpoch.EndOffset);
        return true;
    }
    if (d->Records.len > 0) {
        size_t appended = 0;
        int rc = partition_append_replica(p, d->Records.ptr, (size_t)d->Records.len, &appended);
        if (rc != 0) {
            log_warn("fetcher", "%s-%d: %d bytes from leader %d not appended: %s",
                     p->topic->name, p->index, d->Records.len, f->leader, rill_strerror(rc));
            return false;
        }
    }
    partition_follower_hw(p, d->HighWatermark);
    return true;
}

static void fetcher_on_response(struct replica_fetcher *f, const uint8_t *frame, size_t len)
{
    struct broker *b = f->fs->broker;
    struct kafka_reader r;
    kafka_reader_init(&r, frame, len);
    int32_t corr = kafka_read_i32(&r);
    kafka_skip_tags(&r);
    struct arena arena;
    arena_init(&arena);
    struct kafka_fetch_response resp;
    bool ok = !r.err && corr == f->corr &&
              kafka_decode(&kafka_fetch_response_desc, FETCHER_VERSION, true, &r, &arena,
                           &resp) == 0;
    if (!ok) {
        arena_free(&arena);
        fetcher_disconnect(f, "a malformed fetch answer");
        return;
    }
    f->inflight = false;
    bool fine = resp.ErrorCode == 0;
    for (int32_t t = 0; t < resp.Responses.count; t++) {
        const struct kafka_fetch_response_fetchable_topic_response *tr = &resp.Responses.items[t];
        for (int32_t i = 0; i < tr->Partitions.count; i++) {
            const struct kafka_fetch_response_partition_data *d = &tr->Partitions.items[i];
            struct partition *p =
                tr->Topic.len > 0 ? topics_partition(b, tr->Topic.ptr, (size_t)tr->Topic.len,
                                                     d->PartitionIndex)
                                  : NULL;
            /* Only for a fetch of this leader in the epoch it still leads. */
            if (p == NULL || p->fetcher != f || p->fetch_epoch != p->leader_epoch)
                continue;
            fine &= fetcher_take(f, p, d);
        }
    }
    arena_free(&arena);
    if (!fine)
        f->retry_at_ms = clock_mono_ms() + b->cfg.replica_fetch_backoff_ms;
    fetcher_send(f);
}

static void fetcher_on_read(struct bufferevent *bev, void *arg)
{
    struct replica_fetcher *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (f->bev != NULL) {
        uint8_t prefix[4];
        if (evbuffer_copyout(in, prefix, 4) < 4)
            return;
        uint32_t len = be32_load(prefix);
        if (len > LIMIT_REPLICA_FETCH_RESPONSE_BYTES) {
            fetcher_disconnect(f, "an answer larger than the limit");
            return;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)len)
            return;
        evbuffer_drain(in, 4);
        uint8_t *body = evbuffer_pullup(in, len);
        if (body == NULL) {
            fetcher_disconnect(f, "out of memory");
            return;
        }
        /* Copied: taking the answer may free the connection. */
        uint8_t *copy = malloc(len > 0 ? len : 1);
        if (copy == NULL) {
            fetcher_disconnect(f, "out of memory");
            return;
        }
        memcpy(copy, body, len);
        evbuffer_drain(in, len);
        fetcher_on_response(f, copy, len);
        free(copy);
    }
}

static void fetcher_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct replica_fetcher *f = arg;
    if (what & BEV_EVENT_CONNECTED) {
        f->connected = true;
        int one = 1;
        (void)setsockopt(bufferevent_getfd(f->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        log_info("fetcher", "fetching %zu partitions from leader %d (%s:%d)", f->nparts,
                 f->leader, f->host, f->port);
        fetcher_send(f);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        fetcher_disconnect(f, (what & BEV_EVENT_EOF)
                                  ? "closed by the leader"
                                  : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* ---- the request --------------------------------------------------------------- */

static void fetcher_connect(struct replica_fetcher *f)
{
    struct replica_fetchers *fs = f->fs;
    if (f->bev != NULL || clock_mono_ms() < f->retry_at_ms)
        return;
    if (fs->dns == NULL &&
        (fs->dns = evdns_base_new(fs->broker->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
        return;
    f->bev = bufferevent_socket_new(fs->broker->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (f->bev == NULL)
        return;
    bufferevent_setcb(f->bev, fetcher_on_read, NULL, fetcher_on_event, f);
    bufferevent_enable(f->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect_hostname(f->bev, fs->dns, AF_UNSPEC, f->host, f->port) != 0 &&
        f->bev != NULL && !f->connected)
        fetcher_disconnect(f, "cannot connect");
}

/* Under log.flush.policy=always a fetch names only what is fsynced. */
static bool fetcher_settled(const struct partition *p)
{
    if (p->topic->cfg.log.flush_policy != FLUSH_ALWAYS)
        return true;
    return !storage_log_dirty(p->log) && !storage_log_flushing(p->log);
}

static void fetcher_send(struct replica_fetcher *f)
{
    struct broker *b = f->fs->broker;
    if (f->nparts == 0 || f->inflight)
        return;
    if (!f->connected) {
        fetcher_connect(f);
        return;
    }
    if (clock_mono_ms() < f->retry_at_ms)
        return; /* the tick sends it */
    bool settled = true;
    for (struct partition *p = f->parts; p != NULL; p = p->fetch_next) {
        if (!fetcher_settled(p)) {
            storage_log_flush(p->log); /* no-op when one is running */
            settled = false;
        }
    }
    if (!settled)
        return; /* replica_fetchers_durable sends it */
    struct arena arena;
    arena_init(&arena);
    struct kafka_fetch_request req;
    kafka_set_defaults(&kafka_fetch_request_desc, &req);
    req.ReplicaId = b->cfg.node_id;
    req.ReplicaState.ReplicaId = b->cfg.node_id;
    req.ReplicaState.ReplicaEpoch = b->registered_epoch;
    req.MaxWaitMs = b->cfg.replica_fetch_wait_max_ms;
    req.MinBytes = 1;
    req.MaxBytes = b->cfg.replica_fetch_response_max_bytes;
    req.IsolationLevel = 0;
    req.SessionId = 0;
    req.SessionEpoch = -1;
    struct kafka_fetch_request_fetch_topic *topics = kafka_alloc_items(
        &arena, &kafka_fetch_request_fetch_topic_desc, (int32_t)f->nparts);
    if (topics == NULL) {
        arena_free(&arena);
        return;
    }
    req.Topics.count = (int32_t)f->nparts;
    req.Topics.items = topics;
    size_t k = 0;
    for (struct partition *p = f->parts; p != NULL; p = p->fetch_next, k++) {
        struct kafka_fetch_request_fetch_partition *fp = kafka_alloc_items(
            &arena, &kafka_fetch_request_fetch_partition_desc, 1);
        if (fp == NULL) {
            arena_free(&arena);
            return;
        }
        topics[k].Topic = (struct kafka_str){p->topic->name, (int32_t)strlen(p->topic->name)};
        topics[k].Partitions.count = 1;
        topics[k].Partitions.items = fp;
        fp->Partition = p->index;
        fp->CurrentLeaderEpoch = p->leader_epoch;
        fp->FetchOffset = storage_log_end_offset(p->log);
        fp->LastFetchedEpoch = storage_log_latest_epoch(p->log);
        fp->LogStartOffset = storage_log_start_offset(p->log);
        fp->PartitionMaxBytes = b->cfg.replica_fetch_max_bytes;
        p->fetch_epoch = p->leader_epoch;
    }
    struct kafka_writer w;
    kafka_writer_init(&w);
    kafka_write_i32(&w, 0); /* the size, patched below */
    kafka_write_i16(&w, KAFKA_API_FETCH);
    kafka_write_i16(&w, FETCHER_VERSION);
    f->corr = ++f->fs->next_corr;
    kafka_write_i32(&w, f->corr);
    char client_id[32];
    snprintf(client_id, sizeof(client_id), "rill-replica-%d", b->cfg.node_id);
    kafka_write_str(&w, (struct kafka_str){client_id, (int32_t)strlen(client_id)}, false);
    kafka_write_uvarint(&w, 0); /* no header tags */
    int rc = kafka_encode(&kafka_fetch_request_desc, FETCHER_VERSION, true, &req, &w);
    arena_free(&arena);
    if (rc != 0 || w.err) {
        kafka_writer_free(&w);
        return;
    }
    kafka_writer_patch_i32(&w, 0, (int32_t)(w.len - 4));
    if (bufferevent_write(f->bev, w.buf, w.len) == 0) {
        f->inflight = true;
        f->sent_ms = clock_mono_ms();
    }
    kafka_writer_free(&w);
}

/* ---- assignment ----------------------------------------------------------------- */

static void fetcher_unlink(struct partition *p)
{
    struct replica_fetcher *f = p->fetcher;
    if (f == NULL)
        return;
    for (struct partition **pp = &f->parts; *pp != NULL; pp = &(*pp)->fetch_next) {
        if (*pp == p) {
            *pp = p->fetch_next;
            break;
        }
    }
    f->nparts--;
    p->fetcher = NULL;
    p->fetch_next = NULL;
    if (f->nparts == 0)
        fetcher_free(f);
}

void replica_fetchers_release(struct partition *p)
{
    fetcher_unlink(p);
}

void replica_fetchers_assign(struct broker *b, struct partition *p)
{
    struct replica_fetchers *fs = b->fetchers;
    const struct metadata_broker *leader =
        p->role == PARTITION_FOLLOWER && p->leader >= 0
            ? metadata_image_broker(metadata_log_image(b->mlog), p->leader)
            : NULL;
    if (leader == NULL || leader->fenced || fs == NULL) {
        fetcher_unlink(p);
        return;
    }
    struct replica_fetcher *f = fs->list;
    while (f != NULL && f->leader != leader->id)
        f = f->next;
    if (f != NULL && (strcmp(f->host, leader->host) != 0 || f->port != leader->port)) {
        fetcher_disconnect(f, "the leader moved");
        snprintf(f->host, sizeof(f->host), "%s", leader->host);
        f->port = leader->port;
        f->retry_at_ms = 0;
    }
    if (f == NULL) {
        f = calloc(1, sizeof(*f));
        if (f == NULL) {
            log_warn("fetcher", "out of memory: %s-%d not fetched", p->topic->name, p->index);
            fetcher_unlink(p);
            return;
        }
        f->fs = fs;
        f->leader = leader->id;
        snprintf(f->host, sizeof(f->host), "%s", leader->host);
        f->port = leader->port;
        f->next = fs->list;
        fs->list = f;
    }
    if (p->fetcher != f) {
        fetcher_unlink(p);
        p->fetcher = f;
        p->fetch_next = f->parts;
        f->parts = p;
        f->nparts++;
        f->retry_at_ms = 0; /* a new leader is fetched from at once */
        if (f->inflight && f->bev != NULL) {
            /* A long-poll without this partition may wait its whole
             * replica.fetch.wait.max.ms, and the new leader's high
             * watermark with it: start over on a new connection (the
             * answer to the old request is never read; its records come
             * again). */
            bufferevent_free(f->bev);
            f->bev = NULL;
            f->connected = false;
            f->inflight = false;
        }
    }
    fetcher_send(f);
}

void replica_fetchers_durable(struct partition *p)
{
    if (p->fetcher != NULL)
        fetcher_send(p->fetcher);
}

void replica_fetchers_tick(struct replica_fetchers *fs)
{
    if (fs == NULL)
        return;
    int64_t now = clock_mono_ms();
    for (struct replica_fetcher *f = fs->list; f != NULL; f = f->next) {
        if (f->inflight && now - f->sent_ms > fs->broker->cfg.replica_fetch_wait_max_ms +
                                                  LIMIT_REPLICA_FETCH_TIMEOUT_MS)
            fetcher_disconnect(f, "no answer in time");
        fetcher_send(f);
    }
}
