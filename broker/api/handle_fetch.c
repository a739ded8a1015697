/* Fetch: record batches from the partitions asked for, as stored, sent with
 * sendfile from the segment files.
 *
 * Every requested partition appears in the answer exactly once (Java
 * clients drop answers that skip one). Consumers read up to the high
 * watermark. The first batch of the first non-empty partition is sent whole
 * even above the size limits (KIP-74); after that partitions stop at
 * PartitionMaxBytes and the answer at MaxBytes. Fetch sessions (KIP-227)
 * are declined by answering session id 0, which keeps clients on full
 * fetches.
 *
 * Long poll: with fewer than MinBytes available the answer waits, watching
 * every requested partition, until enough arrives or MaxWaitMs passes. */
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/replica/partition.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/kafka_errors.h"
#include "storage/log.h"

struct fetch_state;

/* A watch plus a back pointer to its fetch. */
struct fetch_watch {
    struct partition_watch watch; /* first: the callback gets &watch */
    struct fetch_state *st;
};

struct fetch_state {
    struct request *req;
    struct fetch_watch *watches;  /* one per requested partition, from the arena */
    size_t nwatches;
    struct event *timer;
    bool expired;
};

static void fetch_release_files(struct kafka_fetch_response *resp)
{
    for (int32_t t = 0; t < resp->Responses.count; t++) {
        struct kafka_fetch_response_fetchable_topic_response *tr = &resp->Responses.items[t];
        for (int32_t i = 0; i < tr->Partitions.count; i++) {
            struct records_file *rf = tr->Partitions.items[i].Records.ext;
            if (rf != NULL && rf->fd >= 0) {
                close(rf->fd);
                rf->fd = -1;
            }
        }
    }
}

/* The broker id of a follower's fetch, or -1 for a consumer's. */
static int32_t fetch_replica_id(const struct request *req)
{
    const struct kafka_fetch_request *body = req->body;
    int32_t id = req->version >= 15 ? body->ReplicaState.ReplicaId : body->ReplicaId;
    return id >= 0 ? id : -1;
}

/* KIP-320: whether the fetcher's history (its last batch's epoch and its
 * fetch offset) leaves this leader's; if so, out carries where the two
 * last agree (DivergingEpoch: the largest epoch <= the fetcher's known
 * here, and where it ended) and no records. */
static bool fetch_diverging(struct partition *p,
                            const struct kafka_fetch_request_fetch_partition *pin,
                            struct kafka_fetch_response_partition_data *out)
{
    int32_t epoch;
    int64_t end;
    storage_log_end_for_epoch(p->log, pin->LastFetchedEpoch, &epoch, &end);
    if (epoch < 0) {
        /* No history here at or below it: everything past the log end
         * diverges. */
        if (pin->FetchOffset <= storage_log_end_offset(p->log))
            return false;
        out->DivergingEpoch.Epoch = -1;
        out->DivergingEpoch.EndOffset = storage_log_end_offset(p->log);
        return true;
    }
    if (epoch == pin->LastFetchedEpoch && end >= pin->FetchOffset)
        return false;
    out->DivergingEpoch.Epoch = epoch;
    out->DivergingEpoch.EndOffset = end;
    return true;
}

/* Fills the answer from the logs as they are now. Returns the number of
 * record bytes in it, or -1 when out of memory. */
static int64_t fetch_build(struct request *req, struct kafka_fetch_response *resp,
                           bool *has_error)
{
    struct broker *b = req->broker;
    const struct kafka_fetch_request *body = req->body;
    int32_t ntopics = body->Topics.count < 0 ? 0 : body->Topics.count;
    struct kafka_fetch_response_fetchable_topic_response *topics = kafka_alloc_items(
        &req->arena, &kafka_fetch_response_fetchable_topic_response_desc, ntopics);
    if (ntopics > 0 && topics == NULL)
        return -1;
    resp->Responses.count = ntopics;
    resp->Responses.items = topics;
    int64_t total = 0;
    int64_t max_bytes = body->MaxBytes > 0 ? body->MaxBytes : INT32_MAX;
    int32_t replica = fetch_replica_id(req);
    *has_error = false;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct kafka_fetch_request_fetch_topic *tin = &body->Topics.items[t];
        int32_t np = tin->Partitions.count < 0 ? 0 : tin->Partitions.count;
        struct kafka_fetch_response_partition_data *parts = kafka_alloc_items(
            &req->arena, &kafka_fetch_response_partition_data_desc, np);
        if (np > 0 && parts == NULL)
            return -1;
        topics[t].Topic = tin->Topic;
        topics[t].Partitions.count = np;
        topics[t].Partitions.items = parts;
        for (int32_t i = 0; i < np; i++) {
            const struct kafka_fetch_request_fetch_partition *pin = &tin->Partitions.items[i];
            struct kafka_fetch_response_partition_data *out = &parts[i];
            out->PartitionIndex = pin->Partition;
            out->HighWatermark = -1;
            out->LastStableOffset = -1;
            out->LogStartOffset = -1;
            out->Records = (struct kafka_records){NULL, 0, NULL}; /* never null */
            struct partition *p = NULL;
            int16_t perr = tin->Topic.len > 0
                               ? topics_partition_led(b, tin->Topic.ptr, (size_t)tin->Topic.len,
                                                      pin->Partition, &p)
                               : KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (p == NULL) {
                out->ErrorCode = perr;
                *has_error = true;
                continue;
            }
            out->HighWatermark = p->high_watermark;
            out->LastStableOffset = p->high_watermark;
            out->LogStartOffset = storage_log_start_offset(p->log);
            out->ErrorCode = partition_check_leader_epoch(p, pin->CurrentLeaderEpoch);
            if (out->ErrorCode != 0) {
                *has_error = true;
                continue;
            }
            if (req->version >= 12 && pin->LastFetchedEpoch >= 0 &&
                fetch_diverging(p, pin, out)) {
                *has_error = true; /* answered at once: the fetcher truncates first */
                continue;
            }
            if (pin->FetchOffset < storage_log_start_offset(p->log) ||
                pin->FetchOffset > storage_log_end_offset(p->log)) {
                out->ErrorCode = KAFKA_ERR_OFFSET_OUT_OF_RANGE;
                *has_error = true;
                continue;
            }
            /* A follower's fetch offset is what it holds: the leader counts
             * it toward the high watermark, and it reads up to the log
             * end, not the high watermark. */
            int64_t upto = p->high_watermark;
            if (replica >= 0) {
                if (!partition_replica_fetched(p, replica, pin->FetchOffset)) {
                    out->ErrorCode = KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
                    *has_error = true;
                    continue;
                }
                out->HighWatermark = p->high_watermark;
                out->LastStableOffset = p->high_watermark;
                upto = storage_log_end_offset(p->log);
            }
            int64_t room = max_bytes - total;
            int64_t limit = pin->PartitionMaxBytes;
            if (limit > room)
                limit = room;
            if (total == 0 && limit < 1)
                limit = 1; /* the first batch goes out whole anyway */
            if (limit <= 0 || pin->FetchOffset >= upto)
                continue;
            struct storage_read rd;
            int rc = storage_log_read(p->log, pin->FetchOffset, upto,
                                      (size_t)(total == 0 ? limit : limit), &rd);
            if (rc != 0) {
                out->ErrorCode = rc == RILL_ERR_RANGE ? KAFKA_ERR_OFFSET_OUT_OF_RANGE
                                                      : KAFKA_ERR_KAFKA_STORAGE_ERROR;
                *has_error = true;
                continue;
            }
            if (rd.fd < 0)
                continue;
            if (total > 0 && rd.length > limit) {
                close(rd.fd); /* only the first batch of the answer may exceed the limits */
                continue;
            }
            struct records_file *rf = request_records_file(req, rd.fd, rd.position);
            if (rf == NULL)
                return -1;
            out->Records = (struct kafka_records){NULL, (int32_t)rd.length, rf};
            total += rd.length;
        }
    }
    return total;
}

static void fetch_stop_waiting(struct fetch_state *st)
{
    for (size_t i = 0; i < st->nwatches; i++)
        partition_watch_remove(&st->watches[i].watch);
    st->nwatches = 0;
    if (st->timer != NULL) {
        event_free(st->timer);
        st->timer = NULL;
    }
}

static void fetch_evaluate(struct fetch_state *st);

static void fetch_on_data(struct partition_watch *w)
{
    fetch_evaluate(((struct fetch_watch *)w)->st);
}

static void fetch_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fetch_state *st = arg;
    st->expired = true;
    fetch_evaluate(st);
}

/* Shutdown: answer now what would have waited for its timer. */
static void fetch_cancel(struct request *req)
{
    struct fetch_state *st = req->handler_state;
    st->expired = true;
    fetch_evaluate(st);
}

static void fetch_arm(struct fetch_state *st)
{
    struct request *req = st->req;
    const struct kafka_fetch_request *body = req->body;
    if (st->watches == NULL) {
        size_t n = 0;
        for (int32_t t = 0; t < body->Topics.count; t++)
            n += (size_t)(body->Topics.items[t].Partitions.count > 0
                              ? body->Topics.items[t].Partitions.count
                              : 0);
        st->watches = arena_alloc(&req->arena, (n + 1) * sizeof(*st->watches));
        if (st->watches == NULL)
            return;
        st->nwatches = 0;
    }
    struct fetch_watch *fws = st->watches;
    size_t k = 0;
    for (int32_t t = 0; t < body->Topics.count; t++) {
        const struct kafka_fetch_request_fetch_topic *tin = &body->Topics.items[t];
        for (int32_t i = 0; i < tin->Partitions.count; i++) {
            struct partition *p = NULL;
            if (tin->Topic.len > 0)
                (void)topics_partition_led(req->broker, tin->Topic.ptr, (size_t)tin->Topic.len,
                                           tin->Partitions.items[i].Partition, &p);
            if (p == NULL)
                continue;
            fws[k].st = st;
            fws[k].watch.fn = fetch_on_data;
            fws[k].watch.on_append = fetch_replica_id(req) >= 0;
            partition_watch_add(p, &fws[k].watch);
            k++;
        }
    }
    st->nwatches = k;
}

static void fetch_evaluate(struct fetch_state *st)
{
    struct request *req = st->req;
    const struct kafka_fetch_request *body = req->body;
    /* Stop every watch and the timer: re-armed below if still waiting. */
    for (size_t i = 0; i < st->nwatches; i++)
        partition_watch_remove(&st->watches[i].watch);
    st->nwatches = 0;

    struct kafka_fetch_response *resp = request_response(req);
    if (resp == NULL) {
        fetch_stop_waiting(st);
        request_drop(req, true);
        return;
    }
    bool has_error = false;
    int64_t bytes = fetch_build(req, resp, &has_error);
    if (bytes < 0) {
        fetch_release_files(resp);
        fetch_stop_waiting(st);
        request_drop(req, true);
        return;
    }
    bool enough = has_error || bytes >= body->MinBytes || resp->Responses.count == 0;
    if (!enough && !st->expired && body->MaxWaitMs > 0 && req->conn != NULL) {
        fetch_release_files(resp);
        fetch_arm(st);
        if (st->timer == NULL) {
            st->timer = evtimer_new(req->broker->base, fetch_on_timeout, st);
            if (st->timer != NULL) {
                struct timeval tv = {body->MaxWaitMs / 1000, (body->MaxWaitMs % 1000) * 1000};
                evtimer_add(st->timer, &tv);
            }
        }
        if (st->timer != NULL) {
            req->cancel = fetch_cancel;
            request_park(req);
            return;
        }
    }
    fetch_stop_waiting(st);
    req->response = resp;
    request_done(req);
}

void handle_fetch(struct request *req)
{
    const struct kafka_fetch_request *body = req->body;
    if (body->SessionId != 0) {
        /* No sessions are ever created, so none can be found. */
        struct kafka_fetch_response *resp = request_response(req);
        if (resp == NULL) {
            request_drop(req, true);
            return;
        }
        resp->ErrorCode = KAFKA_ERR_FETCH_SESSION_ID_NOT_FOUND;
        req->response = resp;
        request_done(req);
        return;
    }
    struct fetch_state *st = arena_alloc(&req->arena, sizeof(*st));
    if (st == NULL) {
        request_drop(req, true);
        return;
    }
    st->req = req;
    req->handler_state = st;
    fetch_evaluate(st);
}
