#include "broker/quorum/raft_wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/rill_error.h"
#include "proto/rpc.pb-c.h"

/* Packs env as one length-prefixed frame. */
static int raft_wire_pack(const Rill__Rpc__RpcEnvelope *env, uint8_t **out, size_t *len)
{
    size_t size = rill__rpc__rpc_envelope__get_packed_size(env);
    if (size > LIMIT_RPC_FRAME_BYTES)
        return RILL_ERR_TOO_LARGE;
    uint8_t *buf = malloc(RAFT_WIRE_PREFIX_BYTES + size);
    if (buf == NULL)
        return RILL_ERR_NOMEM;
    buf[0] = (uint8_t)(size >> 24);
    buf[1] = (uint8_t)(size >> 16);
    buf[2] = (uint8_t)(size >> 8);
    buf[3] = (uint8_t)size;
    rill__rpc__rpc_envelope__pack(env, buf + RAFT_WIRE_PREFIX_BYTES);
    *out = buf;
    *len = RAFT_WIRE_PREFIX_BYTES + size;
    return RILL_OK;
}

int raft_wire_encode(const char *cluster_id, int32_t from, const struct raft_msg *m,
                     uint8_t **out, size_t *len)
{
    Rill__Rpc__RaftMessage rm = RILL__RPC__RAFT_MESSAGE__INIT;
    rm.type = m->type;
    rm.to = m->to;
    rm.term = m->term;
    rm.has_leader = true;
    rm.leader = m->leader;
#define RAFT_WIRE_SET(field)          \
    do {                              \
        if (m->field) {               \
            rm.has_##field = true;    \
            rm.field = m->field;      \
        }                             \
    } while (0)
    RAFT_WIRE_SET(pre_vote);
    RAFT_WIRE_SET(transfer);
    RAFT_WIRE_SET(last_index);
    RAFT_WIRE_SET(last_term);
    RAFT_WIRE_SET(granted);
    RAFT_WIRE_SET(fetch_index);
    RAFT_WIRE_SET(fetch_prev_term);
    RAFT_WIRE_SET(status);
    RAFT_WIRE_SET(commit);
    RAFT_WIRE_SET(diverging_index);
    RAFT_WIRE_SET(diverging_term);
    RAFT_WIRE_SET(snap_index);
    RAFT_WIRE_SET(snap_term);
    RAFT_WIRE_SET(snap_offset);
    RAFT_WIRE_SET(snap_size);
#undef RAFT_WIRE_SET
    if (m->chunk_len > 0) {
        rm.has_chunk = true;
        rm.chunk.data = m->chunk;
        rm.chunk.len = m->chunk_len;
    }
    Rill__Rpc__RaftEntry *ents = NULL;
    Rill__Rpc__RaftEntry **ptrs = NULL;
    if (m->nentries > 0) {
        ents = calloc(m->nentries, sizeof(*ents));
        ptrs = calloc(m->nentries, sizeof(*ptrs));
        if (ents == NULL || ptrs == NULL) {
            free(ents);
            free(ptrs);
            return RILL_ERR_NOMEM;
        }
        for (size_t i = 0; i < m->nentries; i++) {
            rill__rpc__raft_entry__init(&ents[i]);
            ents[i].index = m->entries[i].index;
            ents[i].term = m->entries[i].term;
            ents[i].type = m->entries[i].type;
            if (m->entries[i].len > 0) {
                ents[i].has_data = true;
                ents[i].data.data = m->entries[i].data;
                ents[i].data.len = m->entries[i].len;
            }
            ptrs[i] = &ents[i];
        }
        rm.n_entries = m->nentries;
        rm.entries = ptrs;
    }
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_RAFT;
    env.raft = &rm;
    int rc = raft_wire_pack(&env, out, len);
    free(ents);
    free(ptrs);
    return rc;
}

int raft_wire_encode_topic_creation(const char *cluster_id, int32_t from,
                                    const struct raft_wire_topic_creation *tc, uint8_t **out,
                                    size_t *len)
{
    Rill__Rpc__TopicCreation t = RILL__RPC__TOPIC_CREATION__INIT;
    t.name = (char *)tc->name;
    t.has_num_partitions = true;
    t.num_partitions = tc->num_partitions;
    t.has_replication_factor = true;
    t.replication_factor = tc->replication_factor;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_TOPIC_CREATION;
    env.topic_creation = &t;
    return raft_wire_pack(&env, out, len);
}

int raft_wire_encode_registration(const char *cluster_id, int32_t from,
                                  const struct raft_wire_registration *reg, uint8_t **out,
                                  size_t *len)
{
    Rill__Rpc__BrokerRegistration br = RILL__RPC__BROKER_REGISTRATION__INIT;
    br.broker_id = reg->broker_id;
    br.incarnation_id.data = (uint8_t *)reg->incarnation;
    br.incarnation_id.len = 16;
    br.host = (char *)reg->host;
    br.port = reg->port;
    br.has_metadata_version = true;
    br.metadata_version = reg->metadata_version;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_REGISTRATION;
    env.registration = &br;
    return raft_wire_pack(&env, out, len);
}

int raft_wire_encode_heartbeat(const char *cluster_id, int32_t from,
                               const struct raft_wire_heartbeat *hb, uint8_t **out, size_t *len)
{
    Rill__Rpc__BrokerHeartbeat h = RILL__RPC__BROKER_HEARTBEAT__INIT;
    h.broker_id = hb->broker_id;
    h.broker_epoch = hb->broker_epoch;
    h.metadata_version = hb->metadata_version;
    h.has_want_fence = true;
    h.want_fence = hb->want_fence;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &h;
    return raft_wire_pack(&env, out, len);
}

int raft_wire_encode_producer_ids(const char *cluster_id, int32_t from,
                                  const struct raft_wire_producer_ids *pr, uint8_t **out,
                                  size_t *len)
{
    Rill__Rpc__ProducerIdsRequest r = RILL__RPC__PRODUCER_IDS_REQUEST__INIT;
    r.broker_id = pr->broker_id;
    r.broker_epoch = pr->broker_epoch;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_PRODUCER_IDS;
    env.producer_ids = &r;
    return raft_wire_pack(&env, out, len);
}

int raft_wire_encode_alter_isr(const char *cluster_id, int32_t from,
                               const struct raft_wire_alter_isr *ai, uint8_t **out, size_t *len)
{
    Rill__Rpc__AlterIsr r = RILL__RPC__ALTER_ISR__INIT;
    r.broker_id = ai->broker_id;
    r.broker_epoch = ai->broker_epoch;
    r.topic_id.data = (uint8_t *)ai->topic_id;
    r.topic_id.len = 16;
    r.partition = ai->partition;
    r.leader_epoch = ai->leader_epoch;
    r.partition_epoch = ai->partition_epoch;
    r.isr = (int32_t *)ai->isr;
    r.n_isr = ai->nisr;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_ALTER_ISR;
    env.alter_isr = &r;
    return raft_wire_pack(&env, out, len);
}

int raft_wire_encode_forwarded(const char *cluster_id, int32_t from, bool response,
                               const struct raft_wire_forwarded *fw, uint8_t **out, size_t *len)
{
    Rill__Rpc__ForwardedRequest rq = RILL__RPC__FORWARDED_REQUEST__INIT;
    Rill__Rpc__ForwardedResponse rs = RILL__RPC__FORWARDED_RESPONSE__INIT;
    Rill__Rpc__RpcEnvelope env = RILL__RPC__RPC_ENVELOPE__INIT;
    env.cluster_id = (char *)cluster_id;
    env.from_node = from;
    if (response) {
        rs.id = fw->id;
        rs.answer.data = (uint8_t *)fw->bytes;
        rs.answer.len = fw->len;
        rs.metadata_version = fw->metadata_version;
        env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_FORWARDED_RESPONSE;
        env.forwarded_response = &rs;
    } else {
        rq.id = fw->id;
        rq.frame.data = (uint8_t *)fw->bytes;
        rq.frame.len = fw->len;
        env.body_case = RILL__RPC__RPC_ENVELOPE__BODY_FORWARDED_REQUEST;
        env.forwarded_request = &rq;
    }
    return raft_wire_pack(&env, out, len);
}

int raft_wire_decode(const uint8_t *body, size_t len, const char *cluster_id,
                     struct raft_wire_decoded *out)
{
    memset(out, 0, sizeof(*out));
    if (len > LIMIT_RPC_FRAME_BYTES)
        return RILL_ERR_PARSE;
    Rill__Rpc__RpcEnvelope *env = rill__rpc__rpc_envelope__unpack(NULL, len, body);
    if (env == NULL)
        return RILL_ERR_PARSE;
    int rc = RILL_ERR_PARSE;
    if (env->cluster_id == NULL || strcmp(env->cluster_id, cluster_id) != 0) {
        rc = RILL_ERR_MISMATCH;
        goto fail;
    }
    if (env->from_node < 0)
        goto fail;
    out->from = env->from_node;
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_REGISTRATION) {
        const Rill__Rpc__BrokerRegistration *br = env->registration;
        if (br->broker_id < 0 || br->incarnation_id.len != 16 || br->host == NULL ||
            br->port <= 0 || br->port > 65535)
            goto fail;
        out->kind = RAFT_WIRE_REGISTRATION;
        out->registration.broker_id = br->broker_id;
        memcpy(out->registration.incarnation, br->incarnation_id.data, 16);
        out->registration.host = br->host;
        out->registration.port = br->port;
        out->registration.metadata_version = br->has_metadata_version ? br->metadata_version : 0;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_HEARTBEAT) {
        const Rill__Rpc__BrokerHeartbeat *h = env->heartbeat;
        if (h->broker_id < 0 || h->broker_epoch < 0)
            goto fail;
        out->kind = RAFT_WIRE_HEARTBEAT;
        out->heartbeat.broker_id = h->broker_id;
        out->heartbeat.broker_epoch = h->broker_epoch;
        out->heartbeat.metadata_version = h->metadata_version;
        out->heartbeat.want_fence = h->has_want_fence && h->want_fence;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_FORWARDED_REQUEST) {
        out->kind = RAFT_WIRE_FORWARDED_REQUEST;
        out->forwarded.id = env->forwarded_request->id;
        out->forwarded.bytes = env->forwarded_request->frame.data;
        out->forwarded.len = env->forwarded_request->frame.len;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_FORWARDED_RESPONSE) {
        out->kind = RAFT_WIRE_FORWARDED_RESPONSE;
        out->forwarded.id = env->forwarded_response->id;
        out->forwarded.bytes = env->forwarded_response->answer.data;
        out->forwarded.len = env->forwarded_response->answer.len;
        out->forwarded.metadata_version = env->forwarded_response->metadata_version;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_PRODUCER_IDS) {
        if (env->producer_ids->broker_id < 0)
            goto fail;
        out->kind = RAFT_WIRE_PRODUCER_IDS;
        out->producer_ids.broker_id = env->producer_ids->broker_id;
        out->producer_ids.broker_epoch = env->producer_ids->broker_epoch;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_ALTER_ISR) {
        const Rill__Rpc__AlterIsr *a = env->alter_isr;
        if (a->broker_id < 0 || a->topic_id.len != 16 || a->partition < 0 ||
            a->n_isr > LIMIT_REPLICATION_FACTOR)
            goto fail;
        out->kind = RAFT_WIRE_ALTER_ISR;
        out->alter_isr.broker_id = a->broker_id;
        out->alter_isr.broker_epoch = a->broker_epoch;
        memcpy(out->alter_isr.topic_id, a->topic_id.data, 16);
        out->alter_isr.partition = a->partition;
        out->alter_isr.leader_epoch = a->leader_epoch;
        out->alter_isr.partition_epoch = a->partition_epoch;
        out->alter_isr.isr = a->isr;
        out->alter_isr.nisr = a->n_isr;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case == RILL__RPC__RPC_ENVELOPE__BODY_TOPIC_CREATION) {
        const Rill__Rpc__TopicCreation *t = env->topic_creation;
        if (t->name == NULL || t->num_partitions < -1 || t->replication_factor < -1)
            goto fail;
        out->kind = RAFT_WIRE_TOPIC_CREATION;
        out->topic_creation.name = t->name;
        out->topic_creation.num_partitions = t->num_partitions;
        out->topic_creation.replication_factor = t->replication_factor;
        out->envelope = env;
        return RILL_OK;
    }
    if (env->body_case != RILL__RPC__RPC_ENVELOPE__BODY_RAFT)
        goto fail;
    out->kind = RAFT_WIRE_RAFT;
    const Rill__Rpc__RaftMessage *rm = env->raft;
    if (rm->type < RAFT_MSG_VOTE_REQ || rm->type > RAFT_MSG_TIMEOUT_NOW ||
        rm->status > RAFT_FETCH_SNAPSHOT || rm->to < 0 || rm->leader < RAFT_NONE ||
        rm->n_entries > LIMIT_RPC_FRAME_BYTES / 8)
        goto fail;
    struct raft_msg *m = &out->msg;
    *m = (struct raft_msg){.type = (uint8_t)rm->type,
                           .from = env->from_node,
                           .to = rm->to,
                           .term = rm->term,
                           .leader = rm->leader,
                           .pre_vote = rm->pre_vote,
                           .transfer = rm->transfer,
                           .last_index = rm->last_index,
                           .last_term = rm->last_term,
                           .granted = rm->granted,
                           .fetch_index = rm->fetch_index,
                           .fetch_prev_term = rm->fetch_prev_term,
                           .status = (uint8_t)rm->status,
                           .commit = rm->commit,
                           .diverging_index = rm->diverging_index,
                           .diverging_term = rm->diverging_term,
                           .snap_index = rm->snap_index,
                           .snap_term = rm->snap_term,
                           .snap_offset = rm->snap_offset,
                           .snap_size = rm->snap_size};
    if (rm->has_chunk && rm->chunk.len > 0) {
        m->chunk = rm->chunk.data;
        m->chunk_len = rm->chunk.len;
    }
    if (rm->n_entries > 0) {
        out->entries = calloc(rm->n_entries, sizeof(*out->entries));
        if (out->entries == NULL) {
            rc = RILL_ERR_NOMEM;
            goto fail;
        }
        for (size_t i = 0; i < rm->n_entries; i++) {
            const Rill__Rpc__RaftEntry *e = rm->entries[i];
            if (e->type > RAFT_ENTRY_LEADER_CHANGE)
                goto fail;
            out->entries[i] = (struct raft_entry){.index = e->index, .term = e->term,
                                                  .type = (uint8_t)e->type};
            if (e->has_data && e->data.len > 0) {
                out->entries[i].data = e->data.data;
                out->entries[i].len = e->data.len;
            }
        }
        m->entries = out->entries;
        m->nentries = rm->n_entries;
    }
    out->envelope = env;
    return RILL_OK;

fail:
    free(out->entries);
    out->entries = NULL;
    rill__rpc__rpc_envelope__free_unpacked(env, NULL);
    return rc;
}

void raft_wire_decoded_free(struct raft_wire_decoded *d)
{
    if (d == NULL)
        return;
    free(d->entries);
    if (d->envelope != NULL)
        rill__rpc__rpc_envelope__free_unpacked(d->envelope, NULL);
    memset(d, 0, sizeof(*d));
}
