/* The partition leader's replica bookkeeping (broker/replica/replica_set.h):
 * the high watermark over the maximal ISR with strict min.insync.replicas,
 * and the ISR changes it asks for. */
#include "broker/replica/replica_set.h"
#include "tests/unit/unit.h"

static const int32_t REPLICAS[] = {1, 2, 3};

static void fresh(struct replica_set *rs, const int32_t *isr, size_t nisr)
{
    replica_set_reset(rs, 1, REPLICAS, 3, isr, nisr, 1000);
}

START_TEST(high_watermark_is_the_smallest_in_sync_offset)
{
    struct replica_set rs;
    fresh(&rs, REPLICAS, 3);
    /* A new leader has heard from nobody: it may not move. */
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 1), -1);
    ck_assert(replica_set_fetched(&rs, 2, 80, 100, 1010));
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 1), -1);
    ck_assert(replica_set_fetched(&rs, 3, 90, 100, 1010));
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 1), 80);
    /* The leader's own copy counts too (its durable end). */
    ck_assert_int_eq(replica_set_high_watermark(&rs, 70, 1), 70);
    ck_assert(!replica_set_fetched(&rs, 9, 10, 100, 1010)); /* not a replica */
    /* Strict min-ISR: below min.insync.replicas it does not move. */
    const int32_t two[] = {1, 2};
    replica_set_committed(&rs, two, 2, 1);
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 3), -1);
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 2), 80);
}
END_TEST

START_TEST(a_lagging_member_leaves_and_counts_until_committed)
{
    struct replica_set rs;
    fresh(&rs, REPLICAS, 3);
    replica_set_fetched(&rs, 2, 100, 100, 1100);
    replica_set_fetched(&rs, 3, 40, 100, 1100);
    int32_t isr[LIMIT_REPLICATION_FACTOR];
    size_t n;
    /* Member 3 was caught up at the reset (1000): not lagging at 20000. */
    ck_assert(!replica_set_next_isr(&rs, 20000, 30000, 40, 0, 5, isr, &n));
    /* Past replica.lag.time.max.ms without catching up: it leaves (2
     * keeps fetching everything). */
    replica_set_fetched(&rs, 2, 100, 100, 39000);
    ck_assert(replica_set_next_isr(&rs, 40000, 30000, 40, 0, 5, isr, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(isr[0], 1);
    ck_assert_int_eq(isr[1], 2);
    /* Until the shrink is committed, 3 still holds the high watermark back. */
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 1), 40);
    /* One change at a time; asked again only once stale. */
    ck_assert(!replica_set_next_isr(&rs, 40100, 30000, 40, 0, 5, isr, &n));
    ck_assert(replica_set_next_isr(&rs, 40000 + LIMIT_ALTER_ISR_RETRY_MS, 30000, 40, 0, 5, isr,
                                   &n));
    replica_set_committed(&rs, isr, n, 6);
    ck_assert_int_eq(replica_set_high_watermark(&rs, 100, 1), 100);
}
END_TEST

START_TEST(a_caught_up_live_follower_joins_and_counts_at_once)
{
    struct replica_set rs;
    const int32_t two[] = {1, 2};
    fresh(&rs, two, 2);
    replica_set_fetched(&rs, 2, 100, 100, 1100);
    int32_t isr[LIMIT_REPLICATION_FACTOR];
    size_t n;
    /* 3 has not reached the high watermark: it stays out. */
    replica_set_fetched(&rs, 3, 50, 100, 1100);
    ck_assert(!replica_set_next_isr(&rs, 1200, 30000, 100, 0, 2, isr, &n));
    /* It holds everything, but not the start of the leader's epoch. */
    replica_set_fetched(&rs, 3, 100, 100, 1300);
    ck_assert(!replica_set_next_isr(&rs, 1300, 30000, 100, 120, 2, isr, &n));
    /* A fenced broker is never asked in. */
    replica_set_live(&rs, 3, false);
    ck_assert(!replica_set_next_isr(&rs, 1300, 30000, 100, 0, 2, isr, &n));
    replica_set_live(&rs, 3, true);
    ck_assert(replica_set_next_isr(&rs, 1300, 30000, 100, 0, 2, isr, &n));
    ck_assert_uint_eq(n, 3);
    /* The addition counts before it is committed (the maximal ISR). */
    replica_set_fetched(&rs, 3, 100, 150, 1400);
    ck_assert_int_eq(replica_set_high_watermark(&rs, 150, 2), 100);
    replica_set_committed(&rs, isr, n, 3);
    ck_assert_uint_eq(rs.npending, 0);
}
END_TEST

Suite *suite_replica_set(void)
{
    Suite *s = suite_create("replica_set");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, high_watermark_is_the_smallest_in_sync_offset);
    tcase_add_test(tc, a_lagging_member_leaves_and_counts_until_committed);
    tcase_add_test(tc, a_caught_up_live_follower_joins_and_counts_at_once);
    suite_add_tcase(s, tc);
    return s;
}
