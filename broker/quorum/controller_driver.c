#include "broker/quorum/controller_driver.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/quorum/producer_ids.h"
#include "broker/quorum/metadata_log.h"
#include "broker/quorum/raft_wire.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rill_error.h"
#include "metadata/controller.h"

struct controller_driver {
    struct broker *broker;
    struct controller_config cfg;
    struct controller_sessions sessions;
    bool active;   /* this node was the active controller at the last look */
    bool deciding; /* a liveness decision is proposed and not yet applied */
    int32_t pids_queue[LIMIT_PRODUCER_IDS_QUEUE]; /* brokers waiting for a block */
    size_t pids_queued;
    bool pids_granting; /* the first one's block is proposed */
    struct evdns_base *dns; /* for probes, made on first use */
    int64_t next_rebalance_ms; /* the next preferred-leader check */
    struct controller_probe *probes;
};

/* A connection attempt to a broker whose connection to this node closed:
 * refused means its process is gone. */
struct controller_probe {
    struct controller_driver *cd;
    struct bufferevent *bev;
    struct event *timer;
    int32_t broker_id;
    int64_t broker_epoch;
    struct controller_probe *next;
};

static void controller_probe_free(struct controller_probe *pr)
{
    struct controller_driver *cd = pr->cd;
    for (struct controller_probe **pp = &cd->probes; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == pr) {
            *pp = pr->next;
            break;
        }
    }
    if (pr->bev != NULL)
        bufferevent_free(pr->bev);
    if (pr->timer != NULL)
        event_free(pr->timer);
    free(pr);
}

int controller_driver_open(struct broker *b, struct controller_driver **out)
{
    struct controller_driver *cd = calloc(1, sizeof(*cd));
    if (cd == NULL)
        return RILL_ERR_NOMEM;
    cd->broker = b;
    cd->cfg.unclean_leader_election = b->cfg.unclean_leader_election_enable;
    controller_sessions_init(&cd->sessions, b->cfg.broker_session_timeout_ms);
    *out = cd;
    return RILL_OK;
}

void controller_driver_free(struct controller_driver *cd)
{
    if (cd == NULL)
        return;
    while (cd->probes != NULL)
        controller_probe_free(cd->probes);
    if (cd->dns != NULL)
        evdns_base_free(cd->dns, 0);
    controller_sessions_free(&cd->sessions);
    free(cd);
}

/* Whether this node acts as the controller now; a node that just became
 * the active controller starts every session afresh. */
static bool controller_driver_check_active(struct controller_driver *cd)
{
    bool active = metadata_log_controller_active(cd->broker->mlog);
    if (active && !cd->active) {
        const struct metadata_image *image = metadata_log_image(cd->broker->mlog);
        if (controller_sessions_reset(&cd->sessions, image, clock_mono_ms()) != 0)
            return false; /* no memory: try at the next tick */
        log_info("controller", "node %d is the active controller; %zu brokers registered",
                 cd->broker->cfg.node_id, image->nbrokers);
        cd->active = true;
        cd->next_rebalance_ms =
            clock_mono_ms() + cd->broker->cfg.leader_imbalance_check_interval_seconds * 1000LL;
        /* A broker whose process died with the last controller (or while
         * nobody was listening) is found at once, not a session later. */
        for (size_t i = 0; i < image->nbrokers; i++)
            controller_driver_on_peer_closed(cd, image->brokers[i].id);
    }
    if (!active) { /* a later controller serves the brokers that ask again */
        cd->pids_queued = 0;
        cd->pids_granting = false;
    }
    cd->active = active;
    return active;
}

static void controller_driver_decided(void *ctx, int rc)
{
    struct controller_driver *cd = ctx;
    (void)rc; /* applied or not, the next tick decides again from the image */
    cd->deciding = false;
}

/* Logs what a liveness decision does (its first record says). */
static void controller_driver_log(const struct controller_out *out)
{
    const Rill__Metadata__MetadataRecord *r = out->recs[0];
    size_t changes = 0;
    for (size_t i = 0; i < out->n; i++)
        if (out->recs[i]->record_case == RILL__METADATA__METADATA_RECORD__RECORD_PARTITION_CHANGE)
            changes++;
    if (r->record_case == RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER)
        log_info("controller", "fencing broker %d (epoch %lld): %zu partition changes",
                 r->fence_broker->broker_id, (long long)r->fence_broker->broker_epoch, changes);
    else if (r->record_case == RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER)
        log_info("controller", "unfencing broker %d (epoch %lld): %zu partition changes",
                 r->unfence_broker->broker_id, (long long)r->unfence_broker->broker_epoch,
                 changes);
    else
        log_info("controller", "electing leaders: %zu partition changes", changes);
}

/* Proposes the next liveness decision, if one is due and none is pending. */
static void controller_driver_decide(struct controller_driver *cd)
{
    if (cd->deciding || !controller_driver_check_active(cd))
        return;
    struct controller_out out;
    controller_out_init(&out);
    int rc = controller_sessions_decide(&cd->sessions, metadata_log_image(cd->broker->mlog),
                                        &cd->cfg, clock_mono_ms(), &out);
    if (rc == 0 && out.n > 0) {
        rc = metadata_log_propose(cd->broker->mlog, out.recs, out.n, controller_driver_decided,
                                  cd);
        if (rc == 0) {
            cd->deciding = true;
            controller_driver_log(&out);
        }
    }
    if (rc != 0)
        log_warn("controller", "cannot decide on broker liveness: %s (next tick retries)",
                 rill_strerror(rc));
    controller_out_free(&out);
}

/* auto.leader.rebalance.enable: every leader.imbalance.check.interval.
 * seconds, preferred replicas take their leaderships back (one decision,
 * like the liveness ones). */
static void controller_driver_rebalance(struct controller_driver *cd)
{
    const struct broker_config *bc = &cd->broker->cfg;
    int64_t now = clock_mono_ms();
    if (!bc->auto_leader_rebalance_enable || cd->deciding || now < cd->next_rebalance_ms)
        return;
    cd->next_rebalance_ms = now + bc->leader_imbalance_check_interval_seconds * 1000;
    if (!controller_driver_check_active(cd))
        return;
    struct controller_out out;
    controller_out_init(&out);
    int rc = controller_rebalance_leaders(metadata_log_image(cd->broker->mlog),
                                          bc->leader_imbalance_per_broker_percentage, &out);
    if (rc == 0 && out.n > 0) {
        rc = metadata_log_propose(cd->broker->mlog, out.recs, out.n, controller_driver_decided,
                                  cd);
        if (rc == 0) {
            cd->deciding = true;
            log_info("controller", "preferred-leader election: %zu partitions move back", out.n);
        }
    }
    if (rc != 0)
        log_warn("controller", "cannot rebalance leaders: %s", rill_strerror(rc));
    controller_out_free(&out);
}

void controller_driver_tick(struct controller_driver *cd)
{
    controller_driver_decide(cd);
    controller_driver_rebalance(cd);
}

static void controller_driver_registered(void *ctx, int rc)
{
    (void)ctx;
    (void)rc; /* the broker retries until its image shows the record */
}

void controller_driver_on_registration(struct controller_driver *cd,
                                       const struct raft_wire_registration *reg)
{
    if (!controller_driver_check_active(cd))
        return;
    struct raft_status st;
    metadata_log_status(cd->broker->mlog, &st);
    const struct metadata_image *image = metadata_log_image(cd->broker->mlog);
    struct controller_registration cr = {.broker_id = reg->broker_id,
                                         .host = reg->host,
                                         .port = reg->port,
                                         .metadata_version = reg->metadata_version};
    memcpy(cr.incarnation, reg->incarnation, 16);
    struct controller_out out;
    controller_out_init(&out);
    /* The broker epoch is the index the record will take: past every
     * earlier registration. */
    int rc = controller_register_broker(image, &cd->cfg, &cr, (int64_t)st.last_index + 1, &out);
    if (rc == 0 && out.n > 0 && out.error == 0) {
        rc = metadata_log_propose(cd->broker->mlog, out.recs, out.n, controller_driver_registered,
                                  NULL);
        if (rc == 0)
            log_info("controller", "registering broker %d at %s:%d (epoch %llu)",
                     reg->broker_id, reg->host, reg->port,
                     (unsigned long long)st.last_index + 1);
    } else if (rc == 0 && out.error != 0) {
        log_warn("controller", "registration of broker %d refused: %s", reg->broker_id,
                 out.message);
    }
    controller_out_free(&out);
}

void controller_driver_on_heartbeat(struct controller_driver *cd,
                                    const struct raft_wire_heartbeat *hb)
{
    if (!controller_driver_check_active(cd))
        return;
    if (controller_sessions_heartbeat(&cd->sessions, hb->broker_id, hb->broker_epoch,
                                      hb->metadata_version, hb->want_fence,
                                      clock_mono_ms()) != 0)
        return;
    /* An unfence (or a requested fence) need not wait for the tick. */
    controller_driver_decide(cd);
}

static void controller_driver_grant_next(struct controller_driver *cd);

static void controller_driver_granted(void *ctx, int rc)
{
    struct controller_driver *cd = ctx;
    if (!cd->pids_granting)
        return; /* the queue was dropped with the leadership */
    cd->pids_granting = false;
    if (rc == 0 && cd->pids_queued > 0) {
        cd->pids_queued--;
        memmove(&cd->pids_queue[0], &cd->pids_queue[1],
                cd->pids_queued * sizeof(cd->pids_queue[0]));
    }
    controller_driver_grant_next(cd);
}

static void controller_driver_grant_next(struct controller_driver *cd)
{
    if (cd->pids_granting || cd->pids_queued == 0 || !controller_driver_check_active(cd))
        return;
    struct controller_out out;
    controller_out_init(&out);
    int rc = controller_reserve_producer_ids(metadata_log_image(cd->broker->mlog),
                                             cd->pids_queue[0], PRODUCER_ID_BLOCK, &out);
    if (rc == 0 && out.error == 0) {
        rc = metadata_log_propose(cd->broker->mlog, out.recs, out.n, controller_driver_granted,
                                  cd);
        cd->pids_granting = rc == 0;
    } else if (rc == 0) {
        log_error("controller", "cannot reserve producer ids: %s", out.message);
    }
    controller_out_free(&out);
}

void controller_driver_on_producer_ids(struct controller_driver *cd, int32_t broker_id,
                                       int64_t broker_epoch)
{
    if (!controller_driver_check_active(cd))
        return;
    const struct metadata_broker *b =
        metadata_image_broker(metadata_log_image(cd->broker->mlog), broker_id);
    if (b == NULL || b->epoch != broker_epoch)
        return; /* registered brokers only; it asks again once registered */
    for (size_t i = 0; i < cd->pids_queued; i++)
        if (cd->pids_queue[i] == broker_id)
            return; /* already waiting */
    if (cd->pids_queued == LIMIT_PRODUCER_IDS_QUEUE)
        return;
    cd->pids_queue[cd->pids_queued++] = broker_id;
    controller_driver_grant_next(cd);
}

void controller_driver_on_alter_isr(struct controller_driver *cd,
                                    const struct raft_wire_alter_isr *ai)
{
    if (!controller_driver_check_active(cd))
        return;
    struct controller_isr_change req = {.broker_id = ai->broker_id,
                                        .broker_epoch = ai->broker_epoch,
                                        .topic_id = ai->topic_id,
                                        .partition = ai->partition,
                                        .leader_epoch = ai->leader_epoch,
                                        .partition_epoch = ai->partition_epoch,
                                        .isr = ai->isr,
                                        .nisr = ai->nisr};
    struct controller_out out;
    controller_out_init(&out);
    int rc = controller_alter_isr(metadata_log_image(cd->broker->mlog), &req, &out);
    if (rc == 0 && out.error == 0 && out.n > 0)
        rc = metadata_log_propose(cd->broker->mlog, out.recs, out.n, controller_driver_registered,
                                  NULL);
    else if (rc == 0 && out.error != 0)
        log_debug("controller", "ISR change from broker %d refused: %s", ai->broker_id,
                  out.message);
    if (rc != 0)
        log_warn("controller", "cannot propose an ISR change: %s", rill_strerror(rc));
    controller_out_free(&out);
}

static void controller_probe_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct controller_probe *pr = arg;
    struct controller_driver *cd = pr->cd;
    int err = EVUTIL_SOCKET_ERROR();
    if ((what & BEV_EVENT_ERROR) && err == ECONNREFUSED &&
        controller_driver_check_active(cd)) {
        log_info("controller", "broker %d refuses connections: its process is gone", pr->broker_id);
        controller_sessions_end(&cd->sessions, pr->broker_id, pr->broker_epoch);
        controller_probe_free(pr);
        controller_driver_decide(cd);
        return;
    }
    log_debug("controller", "probe of broker %d: %s (%s)", pr->broker_id,
              (what & BEV_EVENT_CONNECTED) ? "connected" : "failed",
              evutil_socket_error_to_string(err));
    controller_probe_free(pr); /* it answered (or cannot be told): its session decides */
}

static void controller_probe_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    controller_probe_free(arg);
}

void controller_driver_on_peer_closed(struct controller_driver *cd, int32_t broker_id)
{
    if (cd == NULL || broker_id < 0 || !controller_driver_check_active(cd))
        return;
    const struct metadata_broker *mb =
        metadata_image_broker(metadata_log_image(cd->broker->mlog), broker_id);
    if (mb == NULL || mb->fenced || broker_id == cd->broker->cfg.node_id)
        return;
    for (struct controller_probe *pr = cd->probes; pr != NULL; pr = pr->next)
        if (pr->broker_id == broker_id)
            return;
    if (cd->dns == NULL &&
        (cd->dns = evdns_base_new(cd->broker->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
        return;
    struct controller_probe *pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return;
    pr->cd = cd;
    pr->broker_id = broker_id;
    pr->broker_epoch = mb->epoch;
    pr->next = cd->probes;
    cd->probes = pr;
    pr->bev = bufferevent_socket_new(cd->broker->base, -1, BEV_OPT_CLOSE_ON_FREE);
    pr->timer = evtimer_new(cd->broker->base, controller_probe_on_timeout, pr);
    if (pr->bev == NULL || pr->timer == NULL) {
        controller_probe_free(pr);
        return;
    }
    struct timeval tv = {LIMIT_CONTROLLER_PROBE_MS / 1000,
                         (LIMIT_CONTROLLER_PROBE_MS % 1000) * 1000};
    evtimer_add(pr->timer, &tv);
    bufferevent_setcb(pr->bev, NULL, NULL, controller_probe_on_event, pr);
    /* A failure may already have called the event callback (which freed
     * the probe); otherwise the timer frees it. */
    (void)bufferevent_socket_connect_hostname(pr->bev, cd->dns, AF_UNSPEC, mb->host, mb->port);
}
