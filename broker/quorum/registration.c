#include "broker/quorum/registration.h"

#include <string.h>

#include "broker/broker.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/metadata_log.h"
#include "broker/quorum/raft_wire.h"
#include "common/clock.h"
#include "common/limits.h"

/* This process's registration in the image, or NULL. */
static const struct metadata_broker *registration_self(const struct broker *b)
{
    const struct metadata_broker *me =
        metadata_image_broker(metadata_log_image(b->mlog), b->cfg.node_id);
    return me != NULL && memcmp(me->incarnation, b->incarnation, 16) == 0 ? me : NULL;
}

bool registration_unfenced(const struct broker *b)
{
    const struct metadata_broker *me = registration_self(b);
    return me != NULL && !me->fenced;
}

static void registration_send(struct broker *b)
{
    struct raft_wire_registration reg = {
        .broker_id = b->cfg.node_id,
        .host = b->cfg.advertised.host,
        .port = b->cfg.advertised.port,
        .metadata_version = metadata_log_image(b->mlog)->version};
    memcpy(reg.incarnation, b->incarnation, 16);
    int32_t leader = metadata_log_leader(b->mlog);
    if (leader == b->cfg.node_id)
        controller_driver_on_registration(b->controller, &reg);
    else if (leader >= 0)
        metadata_log_send_registration(b->mlog, leader, &reg);
}

static void registration_heartbeat(struct broker *b, const struct metadata_broker *me)
{
    struct raft_wire_heartbeat hb = {.broker_id = b->cfg.node_id,
                                     .broker_epoch = me->epoch,
                                     .metadata_version = metadata_log_image(b->mlog)->version,
                                     .want_fence = b->want_fence};
    int32_t leader = metadata_log_leader(b->mlog);
    if (leader == b->cfg.node_id)
        controller_driver_on_heartbeat(b->controller, &hb);
    else if (leader >= 0)
        metadata_log_send_heartbeat(b->mlog, leader, &hb);
}

void registration_tick(struct broker *b)
{
    int64_t now = clock_mono_ms();
    const struct metadata_broker *me = registration_self(b);
    /* Newly registered: heartbeat at once, to be unfenced at once. */
    bool first = me != NULL && b->registered_epoch != me->epoch;
    if (!first && now < b->registration_next_ms)
        return;
    if (me == NULL) {
        b->registration_next_ms = now + LIMIT_REGISTRATION_RETRY_MS;
        registration_send(b);
        return;
    }
    b->registered_epoch = me->epoch;
    b->registration_next_ms =
        now + (me->fenced ? LIMIT_REGISTRATION_RETRY_MS : b->cfg.broker_heartbeat_interval_ms);
    registration_heartbeat(b, me);
}

void registration_request_fence(struct broker *b)
{
    b->want_fence = true;
    const struct metadata_broker *me = registration_self(b);
    if (me != NULL && !me->fenced)
        registration_heartbeat(b, me);
}
