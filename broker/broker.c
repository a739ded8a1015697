#include "broker/broker.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/net/conn.h"
#include "broker/group/group_coordinator.h"
#include "broker/quorum/metadata_log.h"
#include "broker/replica/fetcher.h"
#include "broker/replica/partition.h"
#include "broker/meta_properties.h"
#include "broker/quorum/producer_ids.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/controller_rpc.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/registration.h"
#include "broker/net/request.h"
#include "broker/replica/topics.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/random.h"
#include "common/rill_error.h"

enum { PRIORITY_IO = 0, PRIORITY_FLUSH = 1, TICK_MS = 100 };

/* ---- meta.properties ------------------------------------------------------ */

/* Checks <first log dir>/meta.properties against cluster.id and node.id,
 * or formats the directory when it has none. */
static int broker_meta_properties(struct broker *b)
{
    const char *dir = b->cfg.log_dir_list[0];
    struct meta_properties mp;
    char err[256] = "";
    int found = meta_properties_read(dir, &mp, err, sizeof(err));
    if (found < 0) {
        log_error("broker", "%s", err);
        return RILL_ERR_CONFIG;
    }
    if (found) {
        if (b->cfg.cluster_id != NULL && strcmp(b->cfg.cluster_id, mp.cluster_id) != 0) {
            log_error("broker", "cluster.id %s does not match %s in %s/meta.properties: this "
                      "directory belongs to another cluster", b->cfg.cluster_id, mp.cluster_id,
                      dir);
            return RILL_ERR_CONFIG;
        }
        if (mp.node_id != b->cfg.node_id) {
            log_error("broker", "node.id %d does not match %d in %s/meta.properties",
                      b->cfg.node_id, mp.node_id, dir);
            return RILL_ERR_CONFIG;
        }
        snprintf(b->cluster_id, sizeof(b->cluster_id), "%s", mp.cluster_id);
        return RILL_OK;
    }
    if (b->cfg.cluster_id != NULL)
        snprintf(b->cluster_id, sizeof(b->cluster_id), "%s", b->cfg.cluster_id);
    else if (meta_properties_new_cluster_id(b->cluster_id, sizeof(b->cluster_id)) != 0)
        return RILL_ERR_IO;
    snprintf(mp.cluster_id, sizeof(mp.cluster_id), "%s", b->cluster_id);
    mp.node_id = b->cfg.node_id;
    int rc = meta_properties_write(dir, &mp);
    if (rc != 0) {
        log_error("broker", "cannot write %s/meta.properties: %s", dir, rill_strerror(rc));
        return RILL_ERR_IO;
    }
    log_info("broker", "formatted %s for cluster %s", dir, b->cluster_id);
    return RILL_OK;
}

/* ---- loop callbacks --------------------------------------------------------- */

void broker_mark_dirty(struct broker *b, struct partition *p)
{
    if (p->in_dirty_list)
        return;
    p->in_dirty_list = true;
    p->next_dirty = b->dirty_head;
    b->dirty_head = p;
    event_active(b->ev_flush_pass, EV_TIMEOUT, 1);
}

/* Runs after every IO callback of this loop iteration: one fsync per log
 * for all the appends of the iteration (group commit). */
static void broker_on_flush_pass(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    int64_t now = clock_mono_ms();
    struct partition *p = b->dirty_head;
    b->dirty_head = NULL;
    while (p != NULL) {
        struct partition *next = p->next_dirty;
        p->in_dirty_list = false;
        p->next_dirty = NULL;
        storage_log_maybe_flush(p->log, now);
        p = next;
    }
}

static void broker_on_storage(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    storage_store_reap(((struct broker *)arg)->store);
}

static void broker_each_partition(struct broker *b, void (*fn)(struct partition *p, void *ctx),
                                  void *ctx)
{
    size_t bucket;
    for (struct strmap_entry *e = strmap_first(&b->topics, &bucket); e != NULL;
         e = strmap_next(&b->topics, e, &bucket)) {
        struct broker_topic *t = e->value;
        for (int32_t i = 0; i < t->npartitions; i++)
            if (t->partitions[i] != NULL)
                fn(t->partitions[i], ctx);
    }
}

static void broker_retention_one(struct partition *p, void *ctx)
{
    int64_t now = *(int64_t *)ctx;
    producer_state_expire(&p->producers, now - p->broker->cfg.producer_id_expiration_ms);
    if (storage_log_apply_retention(p->log, now) > 0 && p->high_watermark <
                                                           storage_log_start_offset(p->log))
        p->high_watermark = storage_log_start_offset(p->log);
}

static void broker_on_retention(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    int64_t now = clock_wall_ms();
    broker_each_partition(b, broker_retention_one, &now);
}

static void broker_interval_flush_one(struct partition *p, void *ctx)
{
    if (p->topic->cfg.log.flush_policy == FLUSH_INTERVAL)
        storage_log_maybe_flush(p->log, *(int64_t *)ctx);
}

static void broker_check_isr_one(struct partition *p, void *ctx)
{
    (void)ctx;
    partition_check_isr(p);
}

/* Whether this node is one of several (a voter among others, or an
 * observer): then other nodes can take over what it cannot do. */
static bool broker_clustered(const struct broker *b)
{
    return b->cfg.nvoters > 1 || !b->cfg.voter;
}

/* A node of a cluster whose metadata log failed can no longer follow the
 * metadata: left running, it would tell clients about leaderships that
 * have moved. It stops, with exit status 1, as Kafka's brokers halt when
 * their metadata log directory fails; the controller fences it as soon
 * as its address refuses connections. Alone, a node keeps answering
 * KAFKA_STORAGE_ERROR: there is no other metadata to tell. */
static void broker_check_metadata(struct broker *b)
{
    if (b->stopping || !metadata_log_failed(b->mlog) || !broker_clustered(b))
        return;
    log_error("broker", "the metadata log failed: stopping, since a node that cannot follow the "
                        "metadata must not serve it; restart it on a sound disk");
    b->exit_status = 1;
    broker_stop(b);
}

static void broker_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    int64_t now = clock_mono_ms();
    if (b->cfg.log_defaults.flush_policy == FLUSH_INTERVAL)
        broker_each_partition(b, broker_interval_flush_one, &now);
    conn_close_idle(b, now, b->cfg.connections_max_idle_ms);
    conn_pool_tick(b, now);
    group_coordinator_tick(b->groups, now);
    registration_tick(b);
    controller_driver_tick(b->controller);
    producer_ids_tick(b, now);
    forwarding_tick(b, now);
    replica_fetchers_tick(b->fetchers);
    broker_each_partition(b, broker_check_isr_one, NULL);
    broker_check_metadata(b);
}

/* The image listener that opens the client listener the first time this
 * broker is registered and unfenced (registration.h). */
static void broker_follow_standing(void *ctx, const struct metadata_image *image)
{
    (void)image;
    struct broker *b = ctx;
    if (b->serving || !registration_unfenced(b))
        return;
    b->serving = true;
    /* Unfenced means the image has caught up with the registration:
     * now what it does not own is truly a stray. */
    int rc = topics_set_aside_strays(b, METADATA_LOG_NAME);
    if (rc != 0)
        log_error("broker", "cannot set aside the partition directories no topic owns: %s",
                  rill_strerror(rc));
    topics_open_missing(b);
    log_info("broker", "node %d is registered and unfenced: serving clients", b->cfg.node_id);
    broker_update_accepting(b);
}

/* A controlled shutdown, in two steps that each wait at most a bounded
 * time: first the broker asks the controller to fence it, so that its
 * partition leaderships move before it goes (instead of after
 * broker.session.timeout.ms); then the active controller hands the quorum
 * over (a leadership transfer), so that the quorum has a leader again at
 * once instead of after an election timeout. */
static void broker_shutdown_step(struct broker *b);

static void broker_on_shutdown_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    broker_shutdown_step(arg);
}

static void broker_shutdown_step(struct broker *b)
{
    int64_t now = clock_mono_ms();
    if (b->shutdown_phase == BROKER_SHUTDOWN_FENCE &&
        (!registration_unfenced(b) || now >= b->shutdown_deadline_ms)) {
        b->shutdown_phase = BROKER_SHUTDOWN_RESIGN;
        if (b->cfg.nvoters > 1 && metadata_log_leader(b->mlog) == b->cfg.node_id) {
            log_info("broker", "handing the controller over before stopping");
            metadata_log_resign(b->mlog);
            b->shutdown_deadline_ms = now + b->cfg.controller_quorum_election_timeout_ms;
        } else {
            b->shutdown_deadline_ms = now;
        }
    }
    if (b->shutdown_phase == BROKER_SHUTDOWN_RESIGN &&
        (metadata_log_leader(b->mlog) != b->cfg.node_id || now >= b->shutdown_deadline_ms)) {
        broker_stop(b);
        return;
    }
    struct timeval tv = {0, 10 * 1000};
    event_add(b->ev_resign, &tv);
}

void broker_on_storage_offline(struct broker *b)
{
    if (!broker_clustered(b) || b->want_fence)
        return; /* alone: nowhere to move to; or already asked */
    log_error("broker", "a log directory is offline: asking the controller to move this "
                        "broker's leaderships and take it out of every ISR; it serves again once "
                        "restarted on a sound disk");
    registration_request_fence(b);
}

static void broker_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct broker *b = arg;
    log_info("broker", "%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (b->ev_resign == NULL && broker_clustered(b)) {
        b->ev_resign = evtimer_new(b->base, broker_on_shutdown_wait, b);
        if (b->ev_resign != NULL) {
            b->shutdown_phase = BROKER_SHUTDOWN_FENCE;
            b->shutdown_deadline_ms =
                clock_mono_ms() + b->cfg.controller_quorum_request_timeout_ms;
            if (registration_unfenced(b)) {
                log_info("broker", "asking the controller to move this broker's leaderships");
                registration_request_fence(b);
            }
            broker_shutdown_step(b);
            return;
        }
    }
    broker_stop(b);
}

static void broker_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                             int addrlen, void *arg)
{
    (void)l;
    conn_accept(arg, fd, addr, addrlen);
}

void broker_update_accepting(struct broker *b)
{
    size_t limit = (size_t)b->cfg.max_connections;
    if (limit > LIMIT_CONNECTIONS)
        limit = LIMIT_CONNECTIONS;
    bool accept = b->nconns < limit && !b->stopping && b->serving;
    if (accept == b->accepting)
        return;
    for (size_t i = 0; i < b->nlisteners; i++) {
        if (accept)
            evconnlistener_enable(b->listeners[i]);
        else
            evconnlistener_disable(b->listeners[i]);
    }
    b->accepting = accept;
    if (!accept && !b->stopping && b->serving)
        log_warn("broker", "%zu connections open (max.connections): new ones wait until one "
                 "closes", b->nconns);
}

static void broker_on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    /* EMFILE and the like: keep the listener; the next accept retries. */
    log_warn("broker", "accept failed: %s", strerror(errno));
}

/* ---- start / run / stop ------------------------------------------------------ */

static int broker_bound_port(struct evconnlistener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* Binds every address the listener host resolves to (an empty host: one
 * dual-stack socket for all interfaces). With port 0 the first bind picks
 * the port and the others reuse it. */
static int broker_listen(struct broker *b)
{
    struct broker_listener *l = &b->cfg.listener;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", l->port);
    int gai = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &res);
    if (gai != 0) {
        log_error("broker", "listeners: cannot resolve '%s': %s", l->host, gai_strerror(gai));
        return RILL_ERR_CONFIG;
    }
    const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    int first_errno = 0;
    /* For all interfaces prefer the IPv6 wildcard: it takes IPv4 too. */
    bool wildcard = l->host[0] == '\0';
    bool have_v6 = false;
    for (struct addrinfo *ai = res; ai != NULL && wildcard; ai = ai->ai_next)
        have_v6 = have_v6 || ai->ai_family == AF_INET6;
    for (struct addrinfo *ai = res; ai != NULL && b->nlisteners < BROKER_MAX_LISTEN_ADDRS;
         ai = ai->ai_next) {
        if (wildcard && have_v6 && ai->ai_family != AF_INET6)
            continue;
        if (b->bound_port != 0) {
            if (ai->ai_family == AF_INET)
                ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)b->bound_port);
            else if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)b->bound_port);
        }
        struct evconnlistener *lis = evconnlistener_new_bind(
            b->base, broker_on_accept, b, flags, -1, ai->ai_addr, (int)ai->ai_addrlen);
        if (lis == NULL) {
            if (first_errno == 0)
                first_errno = errno;
            continue;
        }
        evconnlistener_set_error_cb(lis, broker_on_accept_error);
        b->listeners[b->nlisteners++] = lis;
        if (b->bound_port == 0)
            b->bound_port = broker_bound_port(lis);
        if (wildcard)
            break;
    }
    freeaddrinfo(res);
    if (b->nlisteners == 0) {
        log_error("broker", "cannot listen on %s:%d: %s", l->host[0] ? l->host : "*", l->port,
                  strerror(first_errno));
        return RILL_ERR_IO;
    }
    if (b->cfg.advertised.port == 0)
        b->cfg.advertised.port = b->bound_port;
    b->accepting = true;
    broker_update_accepting(b);
    return RILL_OK;
}

static void broker_raise_fd_limit(void)
{
    /* Segments and connections are descriptors: take what the hard limit
     * allows, as Kafka's packaging does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct event *broker_timer(struct broker *b, event_callback_fn fn, int64_t ms)
{
    struct event *ev = event_new(b->base, -1, EV_PERSIST, fn, b);
    if (ev == NULL)
        return NULL;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    event_priority_set(ev, PRIORITY_IO);
    event_add(ev, &tv);
    return ev;
}

int broker_start(struct broker *b, struct broker_config *cfg)
{
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* the broker owns the strings now */
    log_set_level((enum log_level)log_level_parse(b->cfg.log_level));
    broker_raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit (or a full quota) must fail the write, not kill
     * the broker: the append is refused and nothing is half written. */
    signal(SIGXFSZ, SIG_IGN);

    b->base = event_base_new();
    if (b->base == NULL || event_base_priority_init(b->base, 2) != 0)
        return RILL_ERR_NOMEM;
    if (strmap_init(&b->topics) != 0 || strmap_init(&b->creating) != 0 ||
        strmap_init(&b->conns_per_ip) != 0)
        return RILL_ERR_NOMEM;
    b->pool.max_bytes = b->cfg.queued_max_request_bytes;
    b->pool.max_requests = b->cfg.queued_max_requests;

    char err[512] = "";
    int rc = storage_store_open((const char *const *)b->cfg.log_dir_list, b->cfg.log_dir_count,
                                &b->store, err, sizeof(err));
    if (rc != 0) {
        log_error("broker", "%s", err);
        return rc;
    }
    rc = broker_meta_properties(b);
    if (rc != 0)
        return rc;

    b->ev_flush_pass = event_new(b->base, -1, 0, broker_on_flush_pass, b);
    if (b->ev_flush_pass == NULL)
        return RILL_ERR_NOMEM;
    event_priority_set(b->ev_flush_pass, PRIORITY_FLUSH);
    int fds[2];
    size_t nfds = storage_store_notify_fds(b->store, fds, 2);
    for (size_t i = 0; i < nfds; i++) {
        b->ev_storage[i] = event_new(b->base, fds[i], EV_READ | EV_PERSIST, broker_on_storage, b);
        if (b->ev_storage[i] == NULL)
            return RILL_ERR_NOMEM;
        event_priority_set(b->ev_storage[i], PRIORITY_IO);
        event_add(b->ev_storage[i], NULL);
    }

    rc = group_coordinator_create(b, &b->groups);
    if (rc == 0)
        rc = producer_ids_create(&b->pids);
    if (rc == 0)
        rc = controller_driver_open(b, &b->controller);
    if (rc == 0)
        rc = forwarding_create(&b->forwarding);
    if (rc == 0)
        rc = replica_fetchers_open(b, &b->fetchers);
    if (rc != 0)
        return rc;
    /* A new incarnation for every process start: the controller tells a
     * restarted broker from the one before it. */
    if (random_bytes(b->incarnation, sizeof(b->incarnation)) != 0)
        return RILL_ERR_IO;
    rc = metadata_log_open(b, controller_rpc_on_request, b, &b->mlog);
    if (rc != 0)
        return rc;
    /* Partitions open from the replayed image, not from the history of
     * records that built it. Directories it does not own are set aside
     * only once it has caught up (broker_follow_standing). */
    metadata_log_listen(b->mlog, topics_follow_image, b);
    rc = broker_listen(b);
    if (rc != 0)
        return rc;
    metadata_log_listen(b->mlog, broker_follow_standing, b);
    metadata_log_listen(b->mlog, producer_ids_follow_image, b);
    metadata_log_listen(b->mlog, forwarding_follow_image, b);
    registration_tick(b);

    b->ev_retention = broker_timer(b, broker_on_retention, b->cfg.log_retention_check_interval_ms);
    b->ev_tick = broker_timer(b, broker_on_tick, TICK_MS);
    b->ev_signals[0] = evsignal_new(b->base, SIGTERM, broker_on_signal, b);
    b->ev_signals[1] = evsignal_new(b->base, SIGINT, broker_on_signal, b);
    if (b->ev_retention == NULL || b->ev_tick == NULL || b->ev_signals[0] == NULL ||
        b->ev_signals[1] == NULL)
        return RILL_ERR_NOMEM;
    event_add(b->ev_signals[0], NULL);
    event_add(b->ev_signals[1], NULL);

    int internal = metadata_log_internal_port(b->mlog);
    if (internal >= 0)
        log_info("broker", "node %d: %s listener on %s:%d, quorum of %zu voters (%s)",
                 b->cfg.node_id, b->cfg.controller.name,
                 b->cfg.controller.host[0] ? b->cfg.controller.host : "*", internal,
                 b->cfg.nvoters, b->cfg.voter ? "voting" : "observing");
    log_info("broker", "node %d of cluster %s listening on %s:%d (advertised %s:%d), data in %s",
             b->cfg.node_id, b->cluster_id,
             b->cfg.listener.host[0] ? b->cfg.listener.host : "*", b->bound_port,
             b->cfg.advertised.host, b->cfg.advertised.port, b->cfg.log_dirs);
    return RILL_OK;
}

void broker_stop(struct broker *b)
{
    b->stopping = true;
    event_base_loopbreak(b->base);
}

int broker_run(struct broker *b)
{
    int rc = event_base_dispatch(b->base);
    return rc < 0 ? RILL_ERR_IO : RILL_OK;
}

void broker_free(struct broker *b)
{
    for (size_t i = 0; i < b->nlisteners; i++)
        evconnlistener_free(b->listeners[i]);
    b->nlisteners = 0;
    while (b->conns != NULL)
        conn_close(b->conns, "broker shutting down");
    request_cancel_parked(b); /* long-polls that wait on nothing but their timer */
    forwarding_free(b->forwarding); /* relayed requests: their clients are gone */
    b->forwarding = NULL;
    metadata_log_abort_pending(b->mlog);
    producer_ids_free(b->pids);
    b->pids = NULL;
    if (b->topics.buckets != NULL)
        topics_close_all(b);
    replica_fetchers_free(b->fetchers);
    b->fetchers = NULL;
    group_coordinator_free(b->groups);
    b->groups = NULL;
    metadata_log_close(b->mlog);
    b->mlog = NULL;
    controller_driver_free(b->controller);
    b->controller = NULL;
    if (b->store != NULL) {
        storage_store_close(b->store);
        log_info("broker", "shut down cleanly");
    }
    if (b->creating.buckets != NULL)
        strmap_free(&b->creating);
    if (b->conns_per_ip.buckets != NULL)
        strmap_free(&b->conns_per_ip);
    struct event *evs[] = {b->ev_resign,     b->ev_flush_pass, b->ev_storage[0],
                           b->ev_storage[1], b->ev_retention,  b->ev_tick,
                           b->ev_signals[0], b->ev_signals[1]};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    if (b->base != NULL)
        event_base_free(b->base);
    config_free(&b->cfg);
    memset(b, 0, sizeof(*b));
}
