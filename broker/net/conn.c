#include "broker/net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/net/api_table.h"
#include "broker/broker.h"
#include "broker/net/request.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "proto/kafka_errors.h"

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_process_frames(struct conn *c);

/* ---- the request pool --------------------------------------------------- */

static void conn_sync_read(struct conn *c)
{
    bool want = !c->dead && !c->read_paused && !c->pool_waiting;
    if (want && !c->read_armed)
        event_add(c->ev_read, NULL);
    else if (!want && c->read_armed)
        event_del(c->ev_read);
    c->read_armed = want;
}

/* Bytes still to arrive for the frame c has started; 0 when none is. */
static int64_t conn_frame_remaining(struct conn *c)
{
    size_t have = evbuffer_get_length(c->in);
    if (have == 0)
        return 0;
    if (have < 4)
        return (int64_t)(4 - have);
    uint8_t prefix[4];
    evbuffer_copyout(c->in, prefix, 4);
    int32_t size = (int32_t)be32_load(prefix);
    int64_t need = (int64_t)size + 4 - (int64_t)have;
    return size >= 0 && need > 0 ? need : 0;
}

/* Bytes still to arrive for the frame c has started or, when it holds
 * none, for the next one its socket already announces (the size prefix
 * peeked at); -1 when nothing tells. */
static int64_t conn_frame_ahead(struct conn *c)
{
    size_t have = evbuffer_get_length(c->in);
    if (have >= 4)
        return conn_frame_remaining(c);
    uint8_t prefix[4];
    evbuffer_copyout(c->in, prefix, have);
    ssize_t n = recv(c->fd, prefix + have, 4 - have, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 || (size_t)n != 4 - have)
        return -1;
    int32_t size = (int32_t)be32_load(prefix);
    return size >= 0 ? (int64_t)size + 4 - (int64_t)have : -1;
}

/* How many bytes c may read now; 0 when it must wait for the pool. While
 * connections wait, the others queue behind them (first come, first
 * served) unless woken with a ticket or finishing the overdraft frame:
 * room that comes back goes to the waiters, not to whoever reads first. */
static size_t conn_read_budget(struct conn *c, int64_t now_ms)
{
    struct request_pool *pool = &c->broker->pool;
    bool ticket = c->pool_ticket;
    c->pool_ticket = false;
    if (pool->requests >= pool->max_requests)
        return 0;
    if (pool->max_bytes <= 0)
        return LIMIT_READ_CHUNK_BYTES;
    if (pool->waiters_head != NULL && !ticket && pool->overdraft != c)
        return 0;
    int64_t room = pool->max_bytes - pool->bytes;
    if (room > 0)
        return room < LIMIT_READ_CHUNK_BYTES ? (size_t)room : LIMIT_READ_CHUNK_BYTES;
    /* Full: only the overdraft may finish its frame. */
    if (pool->overdraft != c)
        return 0;
    (void)now_ms;
    int64_t need = conn_frame_ahead(c);
    if (need <= 0)
        return 0;
    return need < LIMIT_READ_CHUNK_BYTES ? (size_t)need : LIMIT_READ_CHUNK_BYTES;
}

static void pool_grant_overdraft(struct broker *b);

static void conn_pool_wait(struct conn *c)
{
    struct request_pool *pool = &c->broker->pool;
    if (c->pool_waiting || c->dead)
        return;
    c->pool_waiting = true;
    c->next_waiter = NULL;
    c->prev_waiter = pool->waiters_tail;
    if (pool->waiters_tail != NULL)
        pool->waiters_tail->next_waiter = c;
    else
        pool->waiters_head = c;
    pool->waiters_tail = c;
    pool->nwaiters++;
    conn_sync_read(c);
    pool_grant_overdraft(c->broker);
}

static void conn_pool_unwait(struct conn *c)
{
    struct request_pool *pool = &c->broker->pool;
    if (!c->pool_waiting)
        return;
    if (c->prev_waiter != NULL)
        c->prev_waiter->next_waiter = c->next_waiter;
    else
        pool->waiters_head = c->next_waiter;
    if (c->next_waiter != NULL)
        c->next_waiter->prev_waiter = c->prev_waiter;
    else
        pool->waiters_tail = c->prev_waiter;
    c->prev_waiter = c->next_waiter = NULL;
    c->pool_waiting = false;
    pool->nwaiters--;
}

/* Lets c read again and runs its read callback once, so that frames it
 * already holds are dispatched even if no new byte arrives. */
static void conn_pool_resume(struct conn *c)
{
    conn_pool_unwait(c);
    c->pool_ticket = true;
    conn_sync_read(c);
    if (c->read_armed)
        event_active(c->ev_read, EV_READ, 0);
}

/* With the pool full and the overdraft free, gives it to the waiter with
 * the least left to receive of a frame whose bytes are arriving (shortest
 * first: a small request is never stuck behind maximal frames, and a
 * sender trickling a frame announced large comes last). */
static void pool_grant_overdraft(struct broker *b)
{
    struct request_pool *pool = &b->pool;
    if (pool->overdraft != NULL || pool->max_bytes <= 0 || pool->bytes < pool->max_bytes)
        return;
    struct conn *best = NULL;
    int64_t best_left = 0;
    for (struct conn *c = pool->waiters_head; c != NULL; c = c->next_waiter) {
        int ready = 0;
        if (c->overdraft_lost || ioctl(c->fd, FIONREAD, &ready) != 0 || ready <= 0)
            continue;
        int64_t left = conn_frame_ahead(c);
        if (left > 0 && (best == NULL || left < best_left)) {
            best = c;
            best_left = left;
        }
    }
    if (best == NULL)
        return;
    pool->overdraft = best;
    pool->overdraft_frames = best->frames_in;
    pool->overdraft_since_ms = clock_mono_ms();
    pool->overdraft_bytes = 0;
    conn_pool_resume(best);
}

/* Wakes as many waiters, oldest first, as the room can serve (each may
 * read one chunk), each with a ticket past the queue; with no room, hands
 * the overdraft on. Woken connections that still cannot read queue again
 * at the tail. */
static void pool_wake(struct broker *b)
{
    struct request_pool *pool = &b->pool;
    if (pool->waiters_head == NULL || pool->requests >= pool->max_requests)
        return;
    if (pool->max_bytes > 0 && pool->bytes >= pool->max_bytes) {
        pool_grant_overdraft(b);
        return;
    }
    size_t n = pool->nwaiters;
    if (pool->max_bytes > 0) {
        int64_t chunks = (pool->max_bytes - pool->bytes) / LIMIT_READ_CHUNK_BYTES + 1;
        if ((int64_t)n > chunks)
            n = (size_t)chunks;
    }
    size_t slots = (size_t)(pool->max_requests - pool->requests);
    if (n > slots)
        n = slots;
    while (n-- > 0 && pool->waiters_head != NULL)
        conn_pool_resume(pool->waiters_head);
}

static void pool_overdraft_done(struct broker *b, struct conn *c)
{
    if (b->pool.overdraft != c)
        return;
    b->pool.overdraft = NULL;
    pool_wake(b);
}

void conn_pool_release(struct broker *b, int64_t bytes, bool request)
{
    struct request_pool *pool = &b->pool;
    pool->bytes -= bytes;
    if (request)
        pool->requests--;
    ASSERT(pool->bytes >= 0 && pool->requests >= 0);
    pool_wake(b);
}

void conn_pool_tick(struct broker *b, int64_t now_ms)
{
    struct request_pool *pool = &b->pool;
    struct conn *c = pool->overdraft;
    int64_t held_ms = now_ms - pool->overdraft_since_ms;
    if (c != NULL && held_ms > LIMIT_OVERDRAFT_GRACE_MS &&
        pool->overdraft_bytes < held_ms * LIMIT_OVERDRAFT_MIN_BYTES_PER_MS) {
        log_debug("conn", "%s: %lld bytes in %lld ms, too slow for the overdraft", c->peer,
                  (long long)pool->overdraft_bytes, (long long)held_ms);
        c->overdraft_lost = true;
        pool->overdraft = NULL;
    }
    pool_wake(b);
}

/* ---- open and close ----------------------------------------------------- */

static int32_t conn_ip_limit(const struct broker *b, const char *ip)
{
    for (size_t i = 0; i < b->cfg.ip_override_count; i++)
        if (strcmp(b->cfg.ip_overrides[i].address, ip) == 0)
            return b->cfg.ip_overrides[i].max_connections;
    return b->cfg.max_connections_per_ip;
}

static void conn_ip_count(struct broker *b, const char *ip, int delta)
{
    size_t len = strlen(ip);
    uintptr_t n = (uintptr_t)strmap_get(&b->conns_per_ip, ip, len);
    n = (uintptr_t)((intptr_t)n + delta);
    if (n == 0)
        (void)strmap_remove(&b->conns_per_ip, ip, len);
    else if (strmap_put(&b->conns_per_ip, ip, len, (void *)n) != 0)
        log_warn("conn", "out of memory counting connections from %s", ip);
}

static void conn_free(struct conn *c)
{
    if (c->ev_read != NULL)
        event_free(c->ev_read);
    if (c->ev_write != NULL)
        event_free(c->ev_write);
    if (c->in != NULL)
        evbuffer_free(c->in);
    if (c->out != NULL)
        evbuffer_free(c->out);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void conn_accept(struct broker *b, int fd, const struct sockaddr *addr, int addrlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->sa_family == AF_INET && addrlen >= (int)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (addr->sa_family == AF_INET6 && addrlen >= (int)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    if (b->nconns >= LIMIT_CONNECTIONS) {
        log_warn("conn", "connection limit (%d) reached, refusing a new one", LIMIT_CONNECTIONS);
        close(fd);
        return;
    }
    int32_t ip_limit = conn_ip_limit(b, host);
    uintptr_t from_ip = (uintptr_t)strmap_get(&b->conns_per_ip, host, strlen(host));
    if (from_ip >= (uintptr_t)ip_limit) {
        log_info("conn", "Rejected connection from %s, address already has the configured "
                 "maximum of %d connections.", host, ip_limit);
        close(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->broker = b;
    c->fd = fd;
    c->last_active_ms = clock_mono_ms();
    snprintf(c->ip, sizeof(c->ip), "%s", host);
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);

    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->ev_read = event_new(b->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(b->base, fd, EV_WRITE, conn_on_write, c);
    if (c->in == NULL || c->out == NULL || c->ev_read == NULL || c->ev_write == NULL) {
        conn_free(c);
        return;
    }
    /* Answers are only ever written to the socket, which lets libevent
     * send file ranges with sendfile(2). */
    evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);
    conn_sync_read(c);
    c->next = b->conns;
    if (b->conns != NULL)
        b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    conn_ip_count(b, c->ip, +1);
    broker_update_accepting(b);
    log_debug("conn", "%s connected", c->peer);
}

void conn_close(struct conn *c, const char *why)
{
    struct broker *b = c->broker;
    if (c->dispatching) {
        /* Deeper in the stack, conn_process_frames still uses c: it frees
         * the connection when it returns. */
        if (!c->dead) {
            c->dead = true;
            c->dead_reason = why;
            conn_pool_unwait(c);
            conn_sync_read(c);
            event_del(c->ev_write);
        }
        return;
    }
    log_debug("conn", "%s closed: %s", c->peer, why);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    b->nconns--;
    conn_ip_count(b, c->ip, -1);
    conn_pool_unwait(c);
    struct request *req = c->head;
    while (req != NULL) {
        struct request *next = req->next;
        req->next = NULL;
        req->conn = NULL;
        if (req->done)
            request_free(req);
        /* Pending ones finish later and free themselves. */
        req = next;
    }
    c->head = c->tail = NULL;
    int64_t held = c->pool_bytes;
    c->pool_bytes = 0;
    if (b->pool.overdraft == c)
        b->pool.overdraft = NULL;
    conn_free(c);
    conn_pool_release(b, held, false);
    broker_update_accepting(b);
}

void conn_close_after_flush(struct conn *c)
{
    c->close_when_flushed = true;
}

/* ---- writing ------------------------------------------------------------ */

static void conn_update_reading(struct conn *c)
{
    if (c->dead)
        return;
    bool too_busy = c->inflight >= LIMIT_INFLIGHT_PER_CONNECTION ||
                    evbuffer_get_length(c->out) >= LIMIT_OUTPUT_BYTES_PER_CONNECTION ||
                    c->close_when_flushed;
    bool was_paused = c->read_paused;
    c->read_paused = too_busy;
    conn_sync_read(c);
    /* Frames that arrived before the pause are already buffered. */
    if (was_paused && !too_busy && !c->dispatching && evbuffer_get_length(c->in) >= 4)
        conn_process_frames(c);
}

/* Moves one finished answer into the output buffer, with file ranges. */
static void conn_queue_answer(struct conn *c, struct request *req)
{
    struct kafka_writer *w = &req->out;
    size_t at = 0;
    for (size_t i = 0; i < w->nsplices; i++) {
        struct kafka_splice *s = &w->splices[i];
        evbuffer_add(c->out, w->buf + at, s->at - at);
        at = s->at;
        struct records_file *rf = s->ext;
        /* evbuffer_add_file takes the descriptor and closes it when sent. */
        if (evbuffer_add_file(c->out, rf->fd, rf->position, s->len) == 0)
            rf->fd = -1;
        else
            c->close_when_flushed = true; /* the answer would be short: give up */
    }
    evbuffer_add(c->out, w->buf + at, w->len - at);
}

static int conn_write_now(struct conn *c)
{
    while (evbuffer_get_length(c->out) > 0) {
        /* libevent turns a sendfile that would block into 0, with errno
         * EAGAIN; a sendfile at the end of a file gives 0 and leaves errno
         * alone. errno is cleared first to tell the two apart. */
        errno = 0;
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            break; /* the socket is full: the write event resumes it */
        return -1; /* an error, or sendfile at the end of a file truncated
                    * under a queued answer: it cannot finish, and writing
                    * again would spin on the same zero */
    }
    return 0;
}

void conn_flush(struct conn *c)
{
    if (c->dead)
        return;
    while (c->head != NULL && c->head->done) {
        struct request *req = c->head;
        c->head = req->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->inflight--;
        if (!req->no_response)
            conn_queue_answer(c, req);
        request_free(req);
    }
    if (conn_write_now(c) != 0) {
        conn_close(c, "write failed");
        return;
    }
    if (evbuffer_get_length(c->out) > 0) {
        event_add(c->ev_write, NULL);
    } else if (c->close_when_flushed && c->head == NULL) {
        conn_close(c, "closed after an error answer");
        return;
    }
    conn_update_reading(c);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    c->last_active_ms = clock_mono_ms();
    conn_flush(c);
}

/* ---- reading ------------------------------------------------------------ */

/* Answers an ApiVersions request whose version is too new: error 35 with a
 * v0 body holding only our ApiVersions range, header v0 (KIP-511). The
 * client retries with a version we have. */
static void conn_api_versions_fallback(struct request *req)
{
    struct kafka_api_versions_response *resp = request_response(req);
    struct kafka_api_versions_response_api_version *entry =
        kafka_alloc_items(&req->arena, &kafka_api_versions_response_api_version_desc, 1);
    if (resp == NULL || entry == NULL) {
        request_drop(req, true);
        return;
    }
    const struct api_entry *api = req->api;
    entry->ApiKey = api->api_key;
    entry->MinVersion = api->min_version;
    entry->MaxVersion = api->max_version;
    resp->ErrorCode = KAFKA_ERR_UNSUPPORTED_VERSION;
    resp->ApiKeys.count = 1;
    resp->ApiKeys.items = entry;
    req->response = resp;
    req->version = 0;
    req->flexible = false;
    request_done(req);
}

/* Frees a frame that no request took, giving its bytes back. */
static void conn_drop_frame(struct conn *c, uint8_t *frame, size_t len)
{
    free(frame);
    conn_pool_release(c->broker, (int64_t)len, false);
}

/* Decodes and dispatches one frame (whose len bytes the pool counts; they
 * pass to the request). Returns -1 when the connection must be closed (the
 * frame cannot be understood). */
static int conn_dispatch(struct conn *c, uint8_t *frame, size_t len)
{
    struct kafka_reader r;
    kafka_reader_init(&r, frame, len);
    struct kafka_request_header h;
    if (kafka_decode_request_header_prefix(&r, &h) != 0) {
        log_warn("conn", "%s: request shorter than a header (%zu bytes)", c->peer, len);
        conn_drop_frame(c, frame, len);
        return -1;
    }
    const struct api_entry *api = api_table_find(h.api_key);
    const struct kafka_message_desc *msg = kafka_message_find(h.api_key);
    if (api == NULL || msg == NULL) {
        log_warn("conn", "%s: unknown API key %d, closing", c->peer, h.api_key);
        conn_drop_frame(c, frame, len);
        return -1;
    }
    bool too_new_api_versions = h.api_key == KAFKA_API_API_VERSIONS &&
                                h.api_version > api->max_version;
    if (!too_new_api_versions &&
        (h.api_version < api->min_version || h.api_version > api->max_version)) {
        log_warn("conn", "%s: %s v%d is not supported (%d..%d), closing", c->peer, api->name,
                 h.api_version, api->min_version, api->max_version);
        conn_drop_frame(c, frame, len);
        return -1;
    }
    int header_version = kafka_request_header_version(msg, h.api_version);
    if (kafka_decode_request_header_rest(&r, header_version, &h) != 0) {
        log_warn("conn", "%s: malformed %s request header, closing", c->peer, api->name);
        conn_drop_frame(c, frame, len);
        return -1;
    }

    struct request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        conn_drop_frame(c, frame, len);
        return -1;
    }
    req->broker = c->broker;
    req->conn = c;
    req->header = h;
    req->api = api;
    req->msg = msg;
    req->version = h.api_version;
    req->flexible = kafka_is_flexible(msg, h.api_version);
    req->frame = frame;
    req->frame_len = len;
    req->pool_bytes = (int64_t)len;
    req->counted = true;
    c->broker->pool.requests++;
    req->received_ms = clock_mono_ms();
    arena_init(&req->arena);
    kafka_writer_init(&req->out);

    if (c->tail != NULL)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    c->inflight++;

    if (too_new_api_versions) {
        conn_api_versions_fallback(req);
        return 0;
    }
    req->body = arena_alloc(&req->arena, msg->request->size);
    int rc = -1;
    /* The table never advertises past the schema; checked anyway. */
    if (req->body != NULL && h.api_version <= msg->valid_max)
        rc = kafka_decode(msg->request, req->version, req->flexible, &r, &req->arena, req->body);
    if (rc != 0) {
        log_warn("conn", "%s: malformed %s v%d request (%zu bytes), closing", c->peer, api->name,
                 req->version, len);
        /* The request stays queued as not done; closing frees it. */
        req->done = true;
        req->no_response = true;
        return -1;
    }
    /* Kafka parses a request and ignores what follows its body; so does
     * Rill, but it says so once per connection. */
    if (kafka_reader_left(&r) > 0 && !c->warned_trailing) {
        log_warn("conn", "%s: %s v%d request has %zu bytes after its body (ignored, as Kafka "
                 "does)", c->peer, api->name, req->version, kafka_reader_left(&r));
        c->warned_trailing = true;
    }
    log_debug("conn", "%s: %s v%d correlation %d client %.*s", c->peer, api->name, req->version,
              h.correlation_id, h.client_id.len, h.client_id.ptr);
    api->handler(req);
    return 0;
}

static void conn_process_frames(struct conn *c)
{
    struct broker *b = c->broker;
    c->dispatching = true;
    while (!c->read_paused && !c->close_when_flushed && !c->dead) {
        size_t have = evbuffer_get_length(c->in);
        if (have < 4)
            break;
        uint8_t prefix[4];
        evbuffer_copyout(c->in, prefix, 4);
        int32_t size = (int32_t)be32_load(prefix);
        if (size < 8 || size > b->cfg.socket_request_max_bytes) {
            log_warn("conn", "%s: frame of %d bytes refused (socket.request.max.bytes is %d), "
                     "closing", c->peer, size, b->cfg.socket_request_max_bytes);
            conn_close(c, "bad frame size");
            break;
        }
        if (have < (size_t)size + 4)
            break;
        if (b->pool.requests >= b->pool.max_requests) {
            conn_pool_wait(c); /* queued.max.requests: the frame waits, buffered */
            break;
        }
        uint8_t *frame = malloc((size_t)size);
        if (frame == NULL) {
            conn_close(c, "out of memory");
            break;
        }
        evbuffer_drain(c->in, 4);
        evbuffer_remove(c->in, frame, (size_t)size);
        /* The frame's bytes pass from the connection to the request; the
         * size prefix goes back to the pool. */
        c->pool_bytes -= (int64_t)size + 4;
        b->pool.bytes -= 4;
        c->overdraft_lost = false;
        c->frames_in++;
        if (conn_dispatch(c, frame, (size_t)size) != 0) {
            conn_close(c, "bad request");
            break;
        }
        if (c->inflight >= LIMIT_INFLIGHT_PER_CONNECTION)
            conn_update_reading(c);
    }
    c->dispatching = false;
    if (c->dead) {
        conn_close(c, c->dead_reason);
        return;
    }
    /* The overdraft is for one frame: done once that one is in. */
    if (b->pool.overdraft == c && c->frames_in > b->pool.overdraft_frames)
        pool_overdraft_done(b, c);
}

/* Reads at most budget bytes into c->in: at most a chunk (and never past
 * the pool's room) before parsing, so that a huge announced size is
 * refused before it is buffered. Through a buffer on the stack, so that
 * what c->in holds is what arrived (a reservation sized for a chunk would
 * cost a chunk for every byte a slow sender trickles). Returns the bytes
 * read, 0 when the peer closed, -1 with errno. */
static ssize_t conn_read_socket(struct conn *c, evutil_socket_t fd, size_t budget)
{
    uint8_t chunk[LIMIT_READ_CHUNK_BYTES];
    if (budget > sizeof(chunk))
        budget = sizeof(chunk);
    ssize_t n;
    do {
        n = recv(fd, chunk, budget, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && evbuffer_add(c->in, chunk, (size_t)n) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return n;
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct conn *c = arg;
    struct broker *b = c->broker;
    int64_t now = clock_mono_ms();
    size_t budget = conn_read_budget(c, now);
    if (budget == 0) {
        /* Wait for room; frames already complete may still go out if
         * only the byte budget is exhausted (closing c is safe here). */
        conn_pool_wait(c);
        conn_process_frames(c);
        return;
    }
    c->last_active_ms = now;
    ssize_t n = conn_read_socket(c, fd, budget);
    if (n == 0) {
        conn_close(c, "peer closed");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_close(c, strerror(errno));
            return;
        }
    } else {
        c->pool_bytes += n;
        b->pool.bytes += n;
        if (b->pool.overdraft == c)
            b->pool.overdraft_bytes += n;
    }
    /* A conn may be closed inside; keep no pointer to it afterwards. */
    conn_process_frames(c);
}

void conn_close_idle(struct broker *b, int64_t now_ms, int64_t idle_ms)
{
    struct conn *c = b->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (c->head == NULL && now_ms - c->last_active_ms > idle_ms)
            conn_close(c, "idle (connections.max.idle.ms)");
        c = next;
    }
}
