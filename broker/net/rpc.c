#include "broker/net/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"

/* One connection, either way. */
struct rpc_conn {
    struct rpc *rpc;
    struct bufferevent *bev;
    int32_t node;      /* the peer's id: known for outgoing, learned for inbound */
    bool outgoing;
    bool connected;
    struct rpc_conn *prev, *next;
};

/* A voter of controller.quorum.voters other than this node. */
struct rpc_peer {
    int32_t id;
    char host[256];
    int port;
    struct rpc_conn *conn;     /* outgoing, or NULL */
    int64_t next_attempt_ms;   /* reconnect backoff */
    bool down_logged;
};

struct rpc {
    struct broker *broker;
    rpc_frame_fn on_frame;
    void *ctx;
    struct evconnlistener *listener;
    int bound_port;
    struct evdns_base *dns;
    struct rpc_peer peers[9]; /* LIMIT_RAFT_VOTERS */
    size_t npeers;
    struct rpc_conn *conns;   /* every open connection */
    size_t ninbound;
    rpc_closed_fn on_closed;
    void *closed_ctx;
    rpc_gone_fn on_gone;
    void *gone_ctx;
    bool shutting_down;
};

void rpc_on_peer_closed(struct rpc *rpc, rpc_closed_fn fn, void *ctx)
{
    rpc->on_closed = fn;
    rpc->closed_ctx = ctx;
}

void rpc_on_peer_gone(struct rpc *rpc, rpc_gone_fn fn, void *ctx)
{
    rpc->on_gone = fn;
    rpc->gone_ctx = ctx;
}

static struct rpc_conn *rpc_connect(struct rpc *rpc, struct rpc_peer *p);

static struct rpc_peer *rpc_peer_of(struct rpc *rpc, int32_t node)
{
    for (size_t i = 0; i < rpc->npeers; i++)
        if (rpc->peers[i].id == node)
            return &rpc->peers[i];
    return NULL;
}

static void rpc_conn_close(struct rpc_conn *c, const char *why)
{
    struct rpc *rpc = c->rpc;
    if (c->outgoing) {
        for (size_t i = 0; i < rpc->npeers; i++) {
            struct rpc_peer *p = &rpc->peers[i];
            if (p->conn != c)
                continue;
            p->conn = NULL;
            p->next_attempt_ms =
                clock_mono_ms() + rpc->broker->cfg.controller_quorum_retry_backoff_ms;
            if (!p->down_logged)
                log_info("rpc", "connection to node %d (%s:%d) closed: %s", p->id, p->host,
                         p->port, why);
            p->down_logged = true;
        }
    } else {
        rpc->ninbound--;
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        rpc->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    int32_t node = c->connected ? c->node : -1;
    free(c);
    if (node >= 0 && !rpc->shutting_down && rpc->on_closed != NULL)
        rpc->on_closed(rpc->closed_ctx, node);
}

static void rpc_on_read(struct bufferevent *bev, void *arg)
{
    struct rpc_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t prefix[4];
        if (evbuffer_copyout(in, prefix, 4) < 4)
            return;
        uint32_t len = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
                       (uint32_t)prefix[2] << 8 | prefix[3];
        if (len > LIMIT_RPC_FRAME_BYTES) {
            log_warn("rpc", "a frame of %u bytes from node %d: closing", len, c->node);
            rpc_conn_close(c, "frame too large");
            return;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)len)
            return;
        evbuffer_drain(in, 4);
        uint8_t *body = evbuffer_pullup(in, len);
        if (body == NULL && len > 0) {
            rpc_conn_close(c, "out of memory");
            return;
        }
        int32_t from = c->rpc->on_frame(c->rpc->ctx, body, len);
        evbuffer_drain(in, len);
        if (from < 0 || (c->outgoing && from != c->node)) {
            rpc_conn_close(c, "a frame that does not belong here");
            return;
        }
        c->node = from;
    }
}

static void rpc_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct rpc_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        int one = 1;
        (void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one,
                         sizeof(one));
        for (size_t i = 0; i < c->rpc->npeers; i++) {
            struct rpc_peer *p = &c->rpc->peers[i];
            if (p->conn == c) {
                if (p->down_logged)
                    log_info("rpc", "connected to node %d (%s:%d)", p->id, p->host, p->port);
                p->down_logged = false;
            }
        }
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    int err = EVUTIL_SOCKET_ERROR();
    struct rpc *rpc = c->rpc;
    int32_t node = c->node;
    bool was_live = c->connected;
    bool refused = (what & BEV_EVENT_ERROR) && c->outgoing && !c->connected &&
                   err == ECONNREFUSED;
    rpc_conn_close(c, (what & BEV_EVENT_EOF) ? "closed by the peer"
                                             : evutil_socket_error_to_string(err));
    if (rpc->shutting_down)
        return;
    struct rpc_peer *p = rpc_peer_of(rpc, node);
    if (was_live && p != NULL && p->conn == NULL) {
        /* The peer or the network ended a live connection: dial the voter
         * again at once; a refusal says its process is gone. */
        p->next_attempt_ms = 0;
        (void)rpc_connect(rpc, p);
    } else if (refused && rpc->on_gone != NULL) {
        rpc->on_gone(rpc->gone_ctx, node);
    }
}

static struct rpc_conn *rpc_conn_new(struct rpc *rpc, struct bufferevent *bev, bool outgoing,
                                     int32_t node)
{
    struct rpc_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->rpc = rpc;
    c->bev = bev;
    c->outgoing = outgoing;
    c->node = node;
    c->next = rpc->conns;
    if (rpc->conns != NULL)
        rpc->conns->prev = c;
    rpc->conns = c;
    bufferevent_setcb(bev, rpc_on_read, NULL, rpc_on_event, c);
    bufferevent_setwatermark(bev, EV_READ, 0, (size_t)LIMIT_RPC_FRAME_BYTES * 2);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

static void rpc_on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                          int socklen, void *arg)
{
    (void)lis;
    (void)sa;
    (void)socklen;
    struct rpc *rpc = arg;
    if (rpc->ninbound >= LIMIT_RPC_CONNECTIONS) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct bufferevent *bev =
        bufferevent_socket_new(rpc->broker->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    struct rpc_conn *c = rpc_conn_new(rpc, bev, false, -1);
    if (c == NULL) {
        bufferevent_free(bev);
        return;
    }
    c->connected = true;
    rpc->ninbound++;
}

static int rpc_listen(struct rpc *rpc)
{
    const struct broker_listener *l = &rpc->broker->cfg.controller;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", l->port);
    int gai = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &res);
    if (gai != 0) {
        log_error("rpc", "the %s listener: cannot resolve '%s': %s", l->name, l->host,
                  gai_strerror(gai));
        return RILL_ERR_CONFIG;
    }
    const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    int err = 0;
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai != NULL && l->host[0] == '\0'; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai; /* the v6 wildcard takes v4 too */
    rpc->listener = evconnlistener_new_bind(rpc->broker->base, rpc_on_accept, rpc, flags, -1,
                                            pick->ai_addr, (int)pick->ai_addrlen);
    if (rpc->listener == NULL)
        err = errno;
    freeaddrinfo(res);
    if (rpc->listener == NULL) {
        log_error("rpc", "cannot listen on %s %s:%d: %s", l->name, l->host[0] ? l->host : "*",
                  l->port, strerror(err));
        return RILL_ERR_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(rpc->listener), (struct sockaddr *)&ss, &sl) == 0)
        rpc->bound_port = ntohs(ss.ss_family == AF_INET6
                                    ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)&ss)->sin_port);
    return RILL_OK;
}

int rpc_start(struct broker *b, rpc_frame_fn on_frame, void *ctx, struct rpc **out)
{
    struct rpc *rpc = calloc(1, sizeof(*rpc));
    if (rpc == NULL)
        return RILL_ERR_NOMEM;
    rpc->broker = b;
    rpc->on_frame = on_frame;
    rpc->ctx = ctx;
    rpc->bound_port = -1;
    for (size_t i = 0; i < b->cfg.nvoters; i++) {
        const struct quorum_voter *v = &b->cfg.voters[i];
        if (v->id == b->cfg.node_id || v->port <= 0)
            continue;
        struct rpc_peer *p = &rpc->peers[rpc->npeers++];
        p->id = v->id;
        snprintf(p->host, sizeof(p->host), "%s", v->host);
        p->port = v->port;
    }
    int rc = RILL_OK;
    if (rpc->npeers > 0) {
        rpc->dns = evdns_base_new(b->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (rpc->dns == NULL)
            rc = RILL_ERR_NOMEM;
    }
    if (rc == 0 && b->cfg.controller.port != -1)
        rc = rpc_listen(rpc);
    if (rc != 0) {
        rpc_free(rpc);
        return rc;
    }
    *out = rpc;
    return RILL_OK;
}

void rpc_free(struct rpc *rpc)
{
    if (rpc == NULL)
        return;
    rpc->shutting_down = true;
    while (rpc->conns != NULL)
        rpc_conn_close(rpc->conns, "shutting down");
    if (rpc->listener != NULL)
        evconnlistener_free(rpc->listener);
    if (rpc->dns != NULL)
        evdns_base_free(rpc->dns, 0);
    free(rpc);
}

int rpc_bound_port(const struct rpc *rpc)
{
    return rpc == NULL ? -1 : rpc->bound_port;
}

static struct rpc_conn *rpc_connect(struct rpc *rpc, struct rpc_peer *p)
{
    if (clock_mono_ms() < p->next_attempt_ms)
        return NULL;
    struct bufferevent *bev =
        bufferevent_socket_new(rpc->broker->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        return NULL;
    struct rpc_conn *c = rpc_conn_new(rpc, bev, true, p->id);
    if (c == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    p->conn = c;
    /* Resolved without blocking the loop; IP literals never hit DNS. */
    if (bufferevent_socket_connect_hostname(bev, rpc->dns, AF_UNSPEC, p->host, p->port) != 0 &&
        p->conn == c) {
        rpc_conn_close(c, "cannot connect");
        return NULL;
    }
    return p->conn; /* NULL if the attempt failed at once */
}

void rpc_send(struct rpc *rpc, int32_t to, const uint8_t *frame, size_t len)
{
    struct rpc_conn *c = NULL;
    struct rpc_peer *p = rpc_peer_of(rpc, to);
    if (p != NULL) {
        c = p->conn != NULL ? p->conn : rpc_connect(rpc, p);
        if (c == NULL)
            return; /* backing off: lost, as on a network that drops it */
    }
    for (struct rpc_conn *x = rpc->conns; x != NULL && c == NULL; x = x->next)
        if (!x->outgoing && x->node == to)
            c = x;
    if (c == NULL)
        return;
    struct evbuffer *outbuf = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(outbuf) + len > LIMIT_RPC_PEER_OUTPUT_BYTES)
        return;
    (void)evbuffer_add(outbuf, frame, len);
}
