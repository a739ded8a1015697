/* The controller's decisions (metadata/controller.h), applied to a real
 * image: placement over live brokers, fencing and leader election from the
 * ISR, unfencing, a restarted broker's claims, stale decisions. */
#include <string.h>

#include "common/rill_error.h"
#include "metadata/controller.h"
#include "metadata/image.h"
#include "proto/kafka_errors.h"
#include "tests/unit/unit.h"

static const struct controller_config clean = {.unclean_leader_election = false};

/* Applies every record of out, which must all apply. */
static void apply_all(struct metadata_image *img, struct controller_out *out)
{
    ck_assert_int_eq(out->error, 0);
    for (size_t i = 0; i < out->n; i++)
        ck_assert_int_eq(metadata_image_apply(img, out->recs[i]), 0);
    controller_out_free(out);
    controller_out_init(out);
}

static void register_live(struct metadata_image *img, int32_t id)
{
    struct controller_out out;
    controller_out_init(&out);
    struct controller_registration reg = {.broker_id = id, .host = "127.0.0.1", .port = 9000 + id};
    memset(reg.incarnation, id, 16);
    ck_assert_int_eq(controller_register_broker(img, &clean, &reg, (int64_t)img->version + 1,
                                                &out), 0);
    apply_all(img, &out);
    ck_assert(metadata_image_broker(img, id)->fenced);
    ck_assert_int_eq(controller_heartbeat(img, &clean, id, metadata_image_broker(img, id)->epoch,
                                          img->version, false, &out), 0);
    ck_assert_uint_ge(out.n, 1);
    apply_all(img, &out);
    ck_assert(metadata_image_broker_live(img, id));
    controller_out_free(&out);
}

static const struct metadata_topic *create(struct metadata_image *img, const char *name,
                                           int32_t parts, int32_t rf, uint8_t seed)
{
    uint8_t id[16];
    memset(id, seed, 16);
    struct controller_topic_request req = {.name = name, .name_len = strlen(name),
                                           .num_partitions = parts, .replication_factor = rf,
                                           .id = id};
    struct controller_out out;
    controller_out_init(&out);
    ck_assert_int_eq(controller_create_topic(img, &req, &out), 0);
    apply_all(img, &out);
    controller_out_free(&out);
    return metadata_image_topic(img, name, strlen(name));
}

START_TEST(isr_changes_are_checked_and_leaders_rebalanced)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    const struct metadata_topic *t = create(&img, "orders", 3, 3, 5);
    const struct metadata_partition *mp = &t->partitions[0];
    int32_t leader = mp->leader, follower = mp->replicas[1];
    int32_t shrunk[2] = {leader, mp->replicas[2]};
    struct controller_isr_change req = {.broker_id = leader,
                                        .broker_epoch = metadata_image_broker(&img, leader)->epoch,
                                        .topic_id = t->id, .partition = 0,
                                        .leader_epoch = mp->leader_epoch,
                                        .partition_epoch = mp->partition_epoch,
                                        .isr = shrunk, .nisr = 2};
    struct controller_out out;
    controller_out_init(&out);
    /* Only the leader, in its epoch, on the partition epoch it saw. */
    struct controller_isr_change bad = req;
    bad.broker_id = follower;
    bad.broker_epoch = metadata_image_broker(&img, follower)->epoch;
    ck_assert_int_eq(controller_alter_isr(&img, &bad, &out), 0);
    ck_assert_int_eq(out.error, KAFKA_ERR_NOT_LEADER_OR_FOLLOWER);
    controller_out_free(&out);
    controller_out_init(&out);
    bad = req;
    bad.partition_epoch++;
    ck_assert_int_eq(controller_alter_isr(&img, &bad, &out), 0);
    ck_assert_int_eq(out.error, KAFKA_ERR_INVALID_UPDATE_VERSION);
    controller_out_free(&out);
    controller_out_init(&out);
    int32_t without_leader[1] = {follower};
    bad = req;
    bad.isr = without_leader;
    bad.nisr = 1;
    ck_assert_int_eq(controller_alter_isr(&img, &bad, &out), 0);
    ck_assert_int_eq(out.error, KAFKA_ERR_INVALID_REQUEST);
    controller_out_free(&out);
    controller_out_init(&out);
    /* The shrink itself: committed with a new partition epoch. */
    ck_assert_int_eq(controller_alter_isr(&img, &req, &out), 0);
    ck_assert_uint_eq(out.n, 1);
    apply_all(&img, &out);
    t = metadata_image_topic(&img, "orders", 6);
    ck_assert_uint_eq(t->partitions[0].nisr, 2);
    ck_assert_int_eq(t->partitions[0].partition_epoch, 1);
    /* The same request again is stale now. */
    ck_assert_int_eq(controller_alter_isr(&img, &req, &out), 0);
    ck_assert_int_eq(out.error, KAFKA_ERR_INVALID_UPDATE_VERSION);
    controller_out_free(&out);
    controller_out_init(&out);
    /* Balanced leaders: nothing to rebalance. A fenced and unfenced
     * preferred leader gets its partitions back. */
    ck_assert_int_eq(controller_rebalance_leaders(&img, 10, &out), 0);
    ck_assert_uint_eq(out.n, 0);
    int32_t victim = t->partitions[1].replicas[0];
    ck_assert_int_eq(controller_fence_broker(&img, &clean, victim, &out), 0);
    apply_all(&img, &out);
    ck_assert_int_eq(controller_heartbeat(&img, &clean, victim,
                                          metadata_image_broker(&img, victim)->epoch,
                                          img.version, false, &out), 0);
    apply_all(&img, &out);
    t = metadata_image_topic(&img, "orders", 6);
    ck_assert_int_ne(t->partitions[1].leader, victim);
    /* It left the ISR when fenced: not preferred back until it rejoins. */
    ck_assert_int_eq(controller_rebalance_leaders(&img, 10, &out), 0);
    ck_assert_uint_eq(out.n, 0);
    const struct metadata_partition *p1 = &t->partitions[1];
    int32_t back[3] = {p1->isr[0], p1->nisr > 1 ? p1->isr[1] : victim, victim};
    struct controller_isr_change join = {
        .broker_id = p1->leader, .broker_epoch = metadata_image_broker(&img, p1->leader)->epoch,
        .topic_id = t->id, .partition = 1, .leader_epoch = p1->leader_epoch,
        .partition_epoch = p1->partition_epoch, .isr = back, .nisr = p1->nisr + 1};
    ck_assert_int_eq(controller_alter_isr(&img, &join, &out), 0);
    apply_all(&img, &out);
    ck_assert_int_eq(controller_rebalance_leaders(&img, 10, &out), 0);
    ck_assert_uint_ge(out.n, 1);
    apply_all(&img, &out);
    t = metadata_image_topic(&img, "orders", 6);
    ck_assert_int_eq(t->partitions[1].leader, victim);
    controller_out_free(&out);
    metadata_image_free(&img);
}
END_TEST

START_TEST(placement_spreads_replicas_and_leaders)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    const struct metadata_topic *t = create(&img, "orders", 6, 3, 7);
    ck_assert_ptr_nonnull(t);
    int leads[4] = {0};
    for (int32_t p = 0; p < 6; p++) {
        const struct metadata_partition *mp = &t->partitions[p];
        ck_assert_uint_eq(mp->nreplicas, 3);
        ck_assert_uint_eq(mp->nisr, 3);
        ck_assert_int_eq(mp->leader, mp->replicas[0]);
        leads[mp->leader]++;
        for (size_t i = 0; i < 3; i++)
            for (size_t k = 0; k < i; k++)
                ck_assert_int_ne(mp->replicas[i], mp->replicas[k]);
    }
    ck_assert_int_eq(leads[1], 2);
    ck_assert_int_eq(leads[2], 2);
    ck_assert_int_eq(leads[3], 2);
    /* Four replicas over three brokers: refused, nothing proposed. */
    uint8_t id[16];
    memset(id, 9, 16);
    struct controller_topic_request req = {.name = "wide", .name_len = 4, .num_partitions = 1,
                                           .replication_factor = 4, .id = id};
    struct controller_out out;
    controller_out_init(&out);
    ck_assert_int_eq(controller_create_topic(&img, &req, &out), 0);
    ck_assert_int_eq(out.error, KAFKA_ERR_INVALID_REPLICATION_FACTOR);
    ck_assert_uint_eq(out.n, 0);
    controller_out_free(&out);
    metadata_image_free(&img);
}
END_TEST

START_TEST(fencing_moves_leaders_within_the_isr)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    const struct metadata_topic *t = create(&img, "orders", 3, 3, 1);
    const struct metadata_topic *single = create(&img, "solo", 1, 1, 2);
    int32_t victim = t->partitions[0].leader;
    int32_t solo_owner = single->partitions[0].replicas[0];
    struct controller_out out;
    controller_out_init(&out);
    ck_assert_int_eq(controller_fence_broker(&img, &clean, victim, &out), 0);
    apply_all(&img, &out);
    ck_assert(!metadata_image_broker_live(&img, victim));
    t = metadata_image_topic(&img, "orders", 6);
    for (int32_t p = 0; p < 3; p++) {
        const struct metadata_partition *mp = &t->partitions[p];
        ck_assert_int_ne(mp->leader, victim);
        ck_assert_int_ge(mp->leader, 1);
        ck_assert_uint_eq(mp->nisr, 2);
        ck_assert_int_eq(mp->partition_epoch, 1);
        ck_assert_int_eq(mp->leader_epoch, p == 0 || mp->replicas[0] == victim ? 1 : 0);
    }
    single = metadata_image_topic(&img, "solo", 4);
    if (solo_owner == victim) { /* the last ISR member stays, without a leader */
        ck_assert_int_eq(single->partitions[0].leader, -1);
        ck_assert_uint_eq(single->partitions[0].nisr, 1);
    }
    /* Nothing left to do; unfencing gives the leaderless partition back. */
    ck_assert_int_eq(controller_reconcile(&img, &clean, &out), 0);
    ck_assert_uint_eq(out.n, 0);
    const struct metadata_broker *b = metadata_image_broker(&img, victim);
    ck_assert_int_eq(controller_heartbeat(&img, &clean, victim, b->epoch, img.version, false,
                                          &out), 0);
    apply_all(&img, &out);
    ck_assert(metadata_image_broker_live(&img, victim));
    single = metadata_image_topic(&img, "solo", 4);
    ck_assert_int_eq(single->partitions[0].leader, solo_owner);
    controller_out_free(&out);
    metadata_image_free(&img);
}
END_TEST

START_TEST(stale_decisions_change_nothing)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    create(&img, "orders", 1, 3, 1);
    int32_t leader = metadata_image_topic(&img, "orders", 6)->partitions[0].leader;
    int32_t other = leader % 3 + 1;
    /* Two decisions on the same image: fence the leader, fence another. */
    struct controller_out a, b;
    controller_out_init(&a);
    controller_out_init(&b);
    ck_assert_int_eq(controller_fence_broker(&img, &clean, leader, &a), 0);
    ck_assert_int_eq(controller_fence_broker(&img, &clean, other, &b), 0);
    apply_all(&img, &a);
    uint64_t version = img.version;
    const struct metadata_partition *mp = &metadata_image_topic(&img, "orders", 6)->partitions[0];
    int32_t epoch = mp->partition_epoch, new_leader = mp->leader;
    apply_all(&img, &b); /* its partition change is stale: a no-op */
    mp = &metadata_image_topic(&img, "orders", 6)->partitions[0];
    ck_assert_int_eq(mp->partition_epoch, epoch);
    ck_assert_int_eq(mp->leader, new_leader);
    ck_assert_uint_gt(img.version, version);
    /* The reconcile decision, taken on the newer image, finishes it. */
    ck_assert_int_eq(controller_reconcile(&img, &clean, &a), 0);
    apply_all(&img, &a);
    mp = &metadata_image_topic(&img, "orders", 6)->partitions[0];
    ck_assert(metadata_image_broker_live(&img, mp->leader));
    ck_assert_uint_eq(mp->nisr, 1);
    controller_out_free(&a);
    controller_out_free(&b);
    metadata_image_free(&img);
}
END_TEST

START_TEST(a_new_incarnation_leaves_every_isr)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    create(&img, "orders", 3, 3, 5);
    struct controller_out out;
    controller_out_init(&out);
    struct controller_registration reg = {.broker_id = 2, .host = "127.0.0.1", .port = 9002};
    memset(reg.incarnation, 0x42, 16); /* a restarted process */
    ck_assert_int_eq(controller_register_broker(&img, &clean, &reg, (int64_t)img.version + 1,
                                                &out), 0);
    apply_all(&img, &out);
    const struct metadata_topic *t = metadata_image_topic(&img, "orders", 6);
    for (int32_t p = 0; p < 3; p++) {
        const struct metadata_partition *mp = &t->partitions[p];
        ck_assert_int_ne(mp->leader, 2);
        for (size_t i = 0; i < mp->nisr; i++)
            ck_assert_int_ne(mp->isr[i], 2);
    }
    /* A heartbeat of the old epoch does nothing. */
    ck_assert_int_eq(controller_heartbeat(&img, &clean, 2, 1, img.version, false, &out), 0);
    ck_assert_uint_eq(out.n, 0);
    controller_out_free(&out);
    metadata_image_free(&img);
}
END_TEST

/* Two live brokers and 1 s sessions for them, started at 0. */
static void two_brokers_in_session(struct metadata_image *img, struct controller_sessions *ss)
{
    ck_assert_int_eq(metadata_image_init(img), 0);
    for (int32_t id = 1; id <= 2; id++)
        register_live(img, id);
    controller_sessions_init(ss, 1000);
    ck_assert_int_eq(controller_sessions_reset(ss, img, 0), 0);
}

/* The liveness decision at now: its first record is of record_case; it is
 * applied to img. */
static void decide_and_apply(struct controller_sessions *ss, struct metadata_image *img,
                             int64_t now, struct controller_out *out, int record_case)
{
    ck_assert_int_eq(controller_sessions_decide(ss, img, &clean, now, out), 0);
    ck_assert_uint_ge(out->n, 1);
    ck_assert_int_eq(out->recs[0]->record_case, record_case);
    apply_all(img, out);
}

START_TEST(sessions_expire_and_fence)
{
    struct metadata_image img;
    struct controller_sessions ss;
    two_brokers_in_session(&img, &ss);
    ck_assert_int_eq(controller_sessions_expired(&ss, &img, 999), -1);
    ck_assert_int_eq(controller_sessions_heartbeat(&ss, 2, metadata_image_broker(&img, 2)->epoch,
                                                   img.version, false, 900), 0);
    ck_assert_int_eq(controller_sessions_expired(&ss, &img, 1000), 1);
    struct controller_out out;
    controller_out_init(&out);
    decide_and_apply(&ss, &img, 1000, &out, RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER);
    ck_assert_int_eq(controller_sessions_expired(&ss, &img, 1500), -1);
    controller_out_free(&out);
    controller_sessions_free(&ss);
    metadata_image_free(&img);
}
END_TEST

/* A broker heard from before it went silent (a paused process) is fenced
 * when its session runs out, and stays fenced: only a heartbeat after the
 * fence unfences it. (Unfenced again from the heartbeats it sent before,
 * it flapped every decision while paused.) */
START_TEST(a_silent_broker_stays_fenced_until_it_heartbeats_again)
{
    struct metadata_image img;
    struct controller_sessions ss;
    two_brokers_in_session(&img, &ss);
    int64_t epoch1 = metadata_image_broker(&img, 1)->epoch;
    int64_t epoch2 = metadata_image_broker(&img, 2)->epoch;
    /* Broker 1 heartbeats, caught up, then falls silent; broker 2 keeps on. */
    ck_assert_int_eq(controller_sessions_heartbeat(&ss, 1, epoch1, img.version, false, 100), 0);
    ck_assert_int_eq(controller_sessions_heartbeat(&ss, 2, epoch2, img.version, false, 1000), 0);
    struct controller_out out;
    controller_out_init(&out);
    decide_and_apply(&ss, &img, 1100, &out, RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER);
    ck_assert(!metadata_image_broker_live(&img, 1));
    for (int64_t now = 1200; now <= 3000; now += 100) {
        ck_assert_int_eq(controller_sessions_heartbeat(&ss, 2, epoch2, img.version, false, now),
                         0);
        ck_assert_int_eq(controller_sessions_decide(&ss, &img, &clean, now, &out), 0);
        for (size_t i = 0; i < out.n; i++)
            ck_assert_int_ne(out.recs[i]->record_case,
                             RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER);
        apply_all(&img, &out);
        ck_assert(!metadata_image_broker_live(&img, 1));
    }
    /* Its next heartbeat (resumed, caught up) unfences it. */
    ck_assert_int_eq(controller_sessions_heartbeat(&ss, 1, epoch1, img.version, false, 3100), 0);
    decide_and_apply(&ss, &img, 3100, &out,
                     RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER);
    ck_assert(metadata_image_broker_live(&img, 1));
    controller_out_free(&out);
    controller_sessions_free(&ss);
    metadata_image_free(&img);
}
END_TEST

START_TEST(unclean_election_only_when_enabled)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int32_t id = 1; id <= 3; id++)
        register_live(&img, id);
    create(&img, "strict", 1, 3, 1);
    uint8_t id[16];
    memset(id, 2, 16);
    const char *names[] = {"unclean.leader.election.enable"}, *values[] = {"true"};
    struct controller_topic_request req = {.name = "lax", .name_len = 3, .num_partitions = 1,
                                           .replication_factor = 3, .id = id,
                                           .config_names = names, .config_values = values,
                                           .nconfigs = 1};
    struct controller_out out;
    controller_out_init(&out);
    ck_assert_int_eq(controller_create_topic(&img, &req, &out), 0);
    apply_all(&img, &out);
    /* Shrink both ISRs to their leader, then fence that leader. */
    int32_t order[1][3];
    memcpy(order[0], metadata_image_topic(&img, "strict", 6)->partitions[0].replicas,
           sizeof(order[0]));
    ck_assert_int_eq(controller_fence_broker(&img, &clean, order[0][1], &out), 0);
    apply_all(&img, &out);
    ck_assert_int_eq(controller_fence_broker(&img, &clean, order[0][2], &out), 0);
    apply_all(&img, &out);
    /* Both followers of "strict" are out; bring them back, fence the leader. */
    for (int k = 1; k <= 2; k++) {
        const struct metadata_broker *b = metadata_image_broker(&img, order[0][k]);
        ck_assert_int_eq(controller_heartbeat(&img, &clean, b->id, b->epoch, img.version, false,
                                              &out), 0);
        apply_all(&img, &out);
    }
    ck_assert_int_eq(controller_fence_broker(&img, &clean, order[0][0], &out), 0);
    apply_all(&img, &out);
    const struct metadata_partition *strict =
        &metadata_image_topic(&img, "strict", 6)->partitions[0];
    ck_assert_int_eq(strict->leader, -1); /* its ISR holds only the fenced broker */
    ck_assert_uint_eq(strict->nisr, 1);
    /* "lax" went the same way (its ISR shrank to the broker fenced last),
     * but its override lets a live replica outside the ISR lead. */
    const struct metadata_partition *lax = &metadata_image_topic(&img, "lax", 3)->partitions[0];
    ck_assert_int_ne(lax->leader, -1);
    ck_assert_int_ne(lax->leader, order[0][0]);
    ck_assert(metadata_image_broker_live(&img, lax->leader));
    ck_assert_uint_eq(lax->nisr, 1);
    ck_assert_int_eq(lax->isr[0], lax->leader);
    /* The broker-wide setting makes "strict" elect a live replica too. */
    const struct controller_config unclean = {.unclean_leader_election = true};
    ck_assert_int_eq(controller_reconcile(&img, &unclean, &out), 0);
    apply_all(&img, &out);
    strict = &metadata_image_topic(&img, "strict", 6)->partitions[0];
    ck_assert_int_ge(strict->leader, 1);
    ck_assert(metadata_image_broker_live(&img, strict->leader));
    ck_assert_uint_eq(strict->nisr, 1);
    ck_assert_int_eq(strict->isr[0], strict->leader);
    controller_out_free(&out);
    metadata_image_free(&img);
}
END_TEST

Suite *suite_controller(void)
{
    Suite *s = suite_create("controller");
    TCase *tc = tcase_create("decisions");
    tcase_add_test(tc, placement_spreads_replicas_and_leaders);
    tcase_add_test(tc, fencing_moves_leaders_within_the_isr);
    tcase_add_test(tc, stale_decisions_change_nothing);
    tcase_add_test(tc, a_new_incarnation_leaves_every_isr);
    tcase_add_test(tc, sessions_expire_and_fence);
    tcase_add_test(tc, a_silent_broker_stays_fenced_until_it_heartbeats_again);
    tcase_add_test(tc, unclean_election_only_when_enabled);
    tcase_add_test(tc, isr_changes_are_checked_and_leaders_rebalanced);
    suite_add_tcase(s, tc);
    return s;
}
