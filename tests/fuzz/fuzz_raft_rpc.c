/* Frames from the internal listener: the input is one RpcEnvelope body as
 * a peer could send it. A frame that decodes must re-encode to a frame that
 * decodes to the same message, and is then stepped into a Raft node (a
 * voter of three, ticked and driven through its ready) which must hold its
 * invariants whatever a peer sends (raft/ asserts them). */
#include <string.h>

#include "broker/quorum/raft_wire.h"
#include "raft/raft.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_drive(struct raft *r)
{
    while (raft_has_ready(r)) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        raft_advance(r, &rd);
    }
}

static bool fuzz_same(const struct raft_msg *a, const struct raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
        a->leader != b->leader || a->pre_vote != b->pre_vote || a->granted != b->granted ||
        a->fetch_index != b->fetch_index || a->status != b->status || a->commit != b->commit ||
        a->nentries != b->nentries || a->chunk_len != b->chunk_len ||
        a->snap_index != b->snap_index || a->snap_offset != b->snap_offset)
        return false;
    for (size_t i = 0; i < a->nentries; i++)
        if (a->entries[i].index != b->entries[i].index ||
            a->entries[i].term != b->entries[i].term || a->entries[i].len != b->entries[i].len ||
            (a->entries[i].len > 0 &&
             memcmp(a->entries[i].data, b->entries[i].data, a->entries[i].len) != 0))
            return false;
    return a->chunk_len == 0 || memcmp(a->chunk, b->chunk, a->chunk_len) == 0;
}

/* Heartbeats, producer-id requests and relayed admin requests re-encode
 * to frames that decode to the same values. */
static void fuzz_controller_request(const struct raft_wire_decoded *d)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if (d->kind == RAFT_WIRE_HEARTBEAT)
        FUZZ_CHECK(raft_wire_encode_heartbeat("fuzz-cluster", d->from, &d->heartbeat, &frame,
                                              &len) == 0);
    else if (d->kind == RAFT_WIRE_PRODUCER_IDS)
        FUZZ_CHECK(raft_wire_encode_producer_ids("fuzz-cluster", d->from, &d->producer_ids,
                                                 &frame, &len) == 0);
    else
        FUZZ_CHECK(raft_wire_encode_forwarded("fuzz-cluster", d->from,
                                              d->kind == RAFT_WIRE_FORWARDED_RESPONSE,
                                              &d->forwarded, &frame, &len) == 0);
    struct raft_wire_decoded again;
    FUZZ_CHECK(raft_wire_decode(frame + RAFT_WIRE_PREFIX_BYTES, len - RAFT_WIRE_PREFIX_BYTES,
                                "fuzz-cluster", &again) == 0);
    FUZZ_CHECK(again.kind == d->kind && again.from == d->from);
    if (d->kind == RAFT_WIRE_HEARTBEAT)
        FUZZ_CHECK(again.heartbeat.broker_id == d->heartbeat.broker_id &&
                   again.heartbeat.broker_epoch == d->heartbeat.broker_epoch &&
                   again.heartbeat.metadata_version == d->heartbeat.metadata_version &&
                   again.heartbeat.want_fence == d->heartbeat.want_fence);
    else if (d->kind == RAFT_WIRE_PRODUCER_IDS)
        FUZZ_CHECK(again.producer_ids.broker_id == d->producer_ids.broker_id &&
                   again.producer_ids.broker_epoch == d->producer_ids.broker_epoch);
    else
        FUZZ_CHECK(again.forwarded.id == d->forwarded.id &&
                   again.forwarded.len == d->forwarded.len &&
                   (d->forwarded.len == 0 ||
                    memcmp(again.forwarded.bytes, d->forwarded.bytes, d->forwarded.len) == 0));
    raft_wire_decoded_free(&again);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_wire_decoded d;
    if (raft_wire_decode(data, size, "fuzz-cluster", &d) != 0)
        return 0;
    if (d.kind == RAFT_WIRE_TOPIC_CREATION) {
        uint8_t *frame;
        size_t len;
        FUZZ_CHECK(raft_wire_encode_topic_creation("fuzz-cluster", d.from, &d.topic_creation,
                                                   &frame, &len) == 0);
        struct raft_wire_decoded again;
        FUZZ_CHECK(raft_wire_decode(frame + RAFT_WIRE_PREFIX_BYTES,
                                    len - RAFT_WIRE_PREFIX_BYTES, "fuzz-cluster", &again) == 0);
        FUZZ_CHECK(strcmp(again.topic_creation.name, d.topic_creation.name) == 0 &&
                   again.topic_creation.num_partitions == d.topic_creation.num_partitions);
        raft_wire_decoded_free(&again);
        free(frame);
        raft_wire_decoded_free(&d);
        return 0;
    }
    if (d.kind == RAFT_WIRE_REGISTRATION) {
        uint8_t *frame;
        size_t len;
        FUZZ_CHECK(raft_wire_encode_registration("fuzz-cluster", d.from, &d.registration,
                                                 &frame, &len) == 0);
        struct raft_wire_decoded again;
        FUZZ_CHECK(raft_wire_decode(frame + RAFT_WIRE_PREFIX_BYTES,
                                    len - RAFT_WIRE_PREFIX_BYTES, "fuzz-cluster", &again) == 0);
        FUZZ_CHECK(again.registration.broker_id == d.registration.broker_id &&
                   again.registration.port == d.registration.port &&
                   strcmp(again.registration.host, d.registration.host) == 0);
        raft_wire_decoded_free(&again);
        free(frame);
        raft_wire_decoded_free(&d);
        return 0;
    }
    if (d.kind == RAFT_WIRE_HEARTBEAT || d.kind == RAFT_WIRE_PRODUCER_IDS ||
        d.kind == RAFT_WIRE_FORWARDED_REQUEST || d.kind == RAFT_WIRE_FORWARDED_RESPONSE) {
        fuzz_controller_request(&d);
        raft_wire_decoded_free(&d);
        return 0;
    }
    uint8_t *frame;
    size_t len;
    FUZZ_CHECK(raft_wire_encode("fuzz-cluster", d.msg.from, &d.msg, &frame, &len) == 0);
    struct raft_wire_decoded again;
    FUZZ_CHECK(raft_wire_decode(frame + RAFT_WIRE_PREFIX_BYTES, len - RAFT_WIRE_PREFIX_BYTES,
                                "fuzz-cluster", &again) == 0);
    FUZZ_CHECK(fuzz_same(&d.msg, &again.msg));
    raft_wire_decoded_free(&again);
    free(frame);

    /* Node 1 of {1, 2, 3}, with a log of two terms, as leader or follower
     * depending on the input's first byte. */
    static const int32_t voters[] = {1, 2, 3};
    struct raft_config cfg = {.id = 1, .voters = voters, .nvoters = 3, .election_ticks = 10,
                              .fetch_timeout_ticks = 20, .heartbeat_ticks = 3,
                              .request_timeout_ticks = 5, .max_fetch_bytes = 64,
                              .max_snapshot_chunk_bytes = 8, .seed = 1};
    struct raft_hard_state hs = {.term = 2, .voted_for = RAFT_NONE, .commit = 1};
    uint8_t payload[] = "entry";
    struct raft_entry log[] = {{1, 1, RAFT_ENTRY_DATA, payload, 5},
                               {2, 1, RAFT_ENTRY_DATA, payload, 5},
                               {3, 2, RAFT_ENTRY_LEADER_CHANGE, NULL, 0}};
    struct raft *r;
    FUZZ_CHECK(raft_create(&cfg, &hs, NULL, log, 3, &r) == 0);
    if (size > 0 && (data[0] & 1))
        (void)raft_campaign(r);
    fuzz_drive(r);
    d.msg.to = 1; /* deliver it whatever its address */
    (void)raft_step(r, &d.msg);
    fuzz_drive(r);
    for (int i = 0; i < 30; i++) {
        raft_tick(r);
        fuzz_drive(r);
    }
    raft_free(r);
    raft_wire_decoded_free(&d);
    return 0;
}
