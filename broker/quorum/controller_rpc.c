#include "broker/quorum/controller_rpc.h"

#include "broker/broker.h"
#include "broker/quorum/controller_driver.h"
#include "broker/quorum/forwarding.h"
#include "broker/quorum/raft_wire.h"
#include "broker/replica/topics.h"

void controller_rpc_on_request(void *ctx, const struct raft_wire_decoded *d)
{
    struct broker *b = ctx;
    switch (d->kind) {
    case RAFT_WIRE_REGISTRATION:
        if (d->registration.broker_id == d->from)
            controller_driver_on_registration(b->controller, &d->registration);
        break;
    case RAFT_WIRE_HEARTBEAT:
        if (d->heartbeat.broker_id == d->from)
            controller_driver_on_heartbeat(b->controller, &d->heartbeat);
        break;
    case RAFT_WIRE_PRODUCER_IDS:
        if (d->producer_ids.broker_id == d->from)
            controller_driver_on_producer_ids(b->controller, d->from,
                                              d->producer_ids.broker_epoch);
        break;
    case RAFT_WIRE_FORWARDED_REQUEST:
        forwarding_on_request(b, d->from, d->forwarded.id, d->forwarded.bytes,
                              d->forwarded.len);
        break;
    case RAFT_WIRE_FORWARDED_RESPONSE:
        forwarding_on_response(b, d->from, d->forwarded.id, d->forwarded.bytes,
                               d->forwarded.len, d->forwarded.metadata_version);
        break;
    case RAFT_WIRE_ALTER_ISR:
        if (d->alter_isr.broker_id == d->from)
            controller_driver_on_alter_isr(b->controller, &d->alter_isr);
        break;
    case RAFT_WIRE_TOPIC_CREATION:
        topics_create_forwarded(b, &d->topic_creation);
        break;
    default:
        break;
    }
}
