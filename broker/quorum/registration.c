#include "broker/quorum/registration.h"

#include <string.h>

#include "broker/broker.h"
#include "broker/quorum/metadata_log.h"
#include "broker/quorum/raft_wire.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "proto/metadata.pb-c.h"

static void registration_applied(void *ctx, int rc)
{
    (void)ctx;
    (void)rc; /* the broker retries until its image shows the record */
}

void registration_on_request(struct broker *b, const struct raft_wire_registration *reg)
{
    struct raft_status st;
    metadata_log_status(b->mlog, &st);
    if (st.role != RAFT_LEADER)
        return;
    const struct metadata_broker *known = metadata_image_broker(metadata_log_image(b->mlog),
                                                                reg->broker_id);
    if (known != NULL && memcmp(known->incarnation, reg->incarnation, 16) == 0 &&
        strcmp(known->host, reg->host) == 0 && known->port == reg->port)
        return; /* already registered as it is */
    Rill__Metadata__BrokerEndpoint ep = RILL__METADATA__BROKER_ENDPOINT__INIT;
    ep.name = "PLAINTEXT";
    ep.host = (char *)reg->host;
    ep.port = reg->port;
    Rill__Metadata__BrokerEndpoint *eps[] = {&ep};
    Rill__Metadata__RegisterBrokerRecord r = RILL__METADATA__REGISTER_BROKER_RECORD__INIT;
    r.broker_id = reg->broker_id;
    r.incarnation_id.data = (uint8_t *)reg->incarnation;
    r.incarnation_id.len = 16;
    /* The index the record will take: past every earlier registration. */
    r.broker_epoch = (int64_t)st.last_index + 1;
    r.n_endpoints = 1;
    r.endpoints = eps;
    Rill__Metadata__MetadataRecord rec = RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER;
    rec.register_broker = &r;
    Rill__Metadata__MetadataRecord *recs[] = {&rec};
    if (metadata_log_propose(b->mlog, recs, 1, registration_applied, NULL) == 0 &&
        (known == NULL || memcmp(known->incarnation, reg->incarnation, 16) != 0))
        log_info("controller", "registering broker %d at %s:%d", reg->broker_id, reg->host,
                 reg->port);
}

void registration_tick(struct broker *b)
{
    const struct metadata_broker *me =
        metadata_image_broker(metadata_log_image(b->mlog), b->cfg.node_id);
    if (me != NULL && memcmp(me->incarnation, b->incarnation, 16) == 0)
        return;
    int64_t now = clock_mono_ms();
    if (now < b->registration_next_ms)
        return;
    b->registration_next_ms = now + LIMIT_REGISTRATION_RETRY_MS;
    struct raft_wire_registration reg = {.broker_id = b->cfg.node_id,
                                         .host = b->cfg.advertised.host,
                                         .port = b->cfg.advertised.port};
    memcpy(reg.incarnation, b->incarnation, 16);
    int32_t leader = metadata_log_leader(b->mlog);
    if (leader == b->cfg.node_id)
        registration_on_request(b, &reg);
    else if (leader >= 0)
        metadata_log_send_registration(b->mlog, leader, &reg);
}
