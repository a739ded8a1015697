/* Idempotent producer state: duplicates, gaps, epochs, sequence wrap,
 * truncation and expiry. */
#include "broker/replica/producer_state.h"
#include "proto/kafka_errors.h"
#include "tests/unit/unit.h"

static enum producer_verdict check(struct producer_table *t, int64_t pid, int16_t epoch,
                                   int32_t seq, int32_t delta, int64_t *dup, int16_t *err)
{
    *dup = -1;
    *err = 0;
    return producer_state_check(t, pid, epoch, seq, delta, dup, err);
}

START_TEST(duplicates_and_gaps)
{
    struct producer_table t;
    ck_assert_int_eq(producer_table_init(&t), 0);
    int64_t dup;
    int16_t err;
    /* Unknown: new at sequence 0; elsewhere its history is not here. */
    ck_assert_int_eq(check(&t, 7, 0, 3, 0, &dup, &err), PRODUCER_REFUSED);
    ck_assert_int_eq(err, KAFKA_ERR_UNKNOWN_PRODUCER_ID);
    ck_assert_int_eq(check(&t, 7, 0, 0, 4, &dup, &err), PRODUCER_APPEND);
    ck_assert_int_eq(producer_state_record(&t, 7, 0, 0, 4, 100, 1), 0);
    ck_assert_int_eq(check(&t, 7, 0, 5, 0, &dup, &err), PRODUCER_APPEND);
    ck_assert_int_eq(producer_state_record(&t, 7, 0, 5, 0, 105, 2), 0);
    ck_assert_int_eq(check(&t, 7, 0, 0, 4, &dup, &err), PRODUCER_DUPLICATE);
    ck_assert_int_eq(dup, 100);
    ck_assert_int_eq(check(&t, 7, 0, 5, 0, &dup, &err), PRODUCER_DUPLICATE);
    ck_assert_int_eq(dup, 105);
    ck_assert_int_eq(check(&t, 7, 0, 7, 0, &dup, &err), PRODUCER_REFUSED);
    ck_assert_int_eq(err, KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Only the last five batches are remembered. */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(producer_state_record(&t, 7, 0, 6 + i, 0, 106 + i, 3), 0);
    ck_assert_int_eq(check(&t, 7, 0, 0, 4, &dup, &err), PRODUCER_REFUSED);
    ck_assert_int_eq(check(&t, 7, 0, 10, 0, &dup, &err), PRODUCER_DUPLICATE);
    producer_table_free(&t);
}
END_TEST

START_TEST(epochs)
{
    struct producer_table t;
    ck_assert_int_eq(producer_table_init(&t), 0);
    int64_t dup;
    int16_t err;
    ck_assert_int_eq(producer_state_record(&t, 1, 3, 0, 9, 0, 1), 0);
    ck_assert_int_eq(check(&t, 1, 2, 10, 0, &dup, &err), PRODUCER_REFUSED);
    ck_assert_int_eq(err, KAFKA_ERR_INVALID_PRODUCER_EPOCH);
    ck_assert_int_eq(check(&t, 1, 4, 10, 0, &dup, &err), PRODUCER_REFUSED); /* new epoch: 0 */
    ck_assert_int_eq(err, KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    ck_assert_int_eq(check(&t, 1, 4, 0, 0, &dup, &err), PRODUCER_APPEND);
    ck_assert_int_eq(producer_state_record(&t, 1, 4, 0, 0, 10, 2), 0);
    /* The old epoch's batches are forgotten with it. */
    ck_assert_int_eq(check(&t, 1, 4, 0, 9, &dup, &err), PRODUCER_REFUSED);
    producer_table_free(&t);
}
END_TEST

START_TEST(sequences_wrap)
{
    struct producer_table t;
    ck_assert_int_eq(producer_table_init(&t), 0);
    int64_t dup;
    int16_t err;
    ck_assert_int_eq(producer_state_record(&t, 2, 0, INT32_MAX - 1, 1, 0, 1), 0);
    ck_assert_int_eq(check(&t, 2, 0, 0, 3, &dup, &err), PRODUCER_APPEND);
    ck_assert_int_eq(producer_state_record(&t, 2, 0, INT32_MAX, 2, 2, 1), 0);
    ck_assert_int_eq(check(&t, 2, 0, 2, 0, &dup, &err), PRODUCER_APPEND);
    producer_table_free(&t);
}
END_TEST

START_TEST(truncation_and_expiry)
{
    struct producer_table t;
    ck_assert_int_eq(producer_table_init(&t), 0);
    int64_t dup;
    int16_t err;
    for (int64_t pid = 0; pid < 200; pid++) {
        ck_assert_int_eq(producer_state_record(&t, pid, 0, 0, 0, pid * 2, pid), 0);
        ck_assert_int_eq(producer_state_record(&t, pid, 0, 1, 0, pid * 2 + 1000, pid), 0);
    }
    ck_assert_uint_eq(t.count, 200);
    /* Cut at 1000: every producer loses its second batch. */
    producer_state_truncate(&t, 1000);
    ck_assert_uint_eq(t.count, 200);
    ck_assert_int_eq(check(&t, 5, 0, 1, 0, &dup, &err), PRODUCER_APPEND);
    ck_assert_int_eq(check(&t, 5, 0, 0, 0, &dup, &err), PRODUCER_DUPLICATE);
    /* Cut at 100: producers whose first batch is at 100 or beyond vanish. */
    producer_state_truncate(&t, 100);
    ck_assert_uint_eq(t.count, 50);
    ck_assert_uint_eq(producer_state_expire(&t, 30), 30);
    ck_assert_uint_eq(t.count, 20);
    producer_table_free(&t);
}
END_TEST

Suite *suite_producer_state(void)
{
    Suite *s = suite_create("producer_state");
    TCase *tc = tcase_create("producer_state");
    tcase_add_test(tc, duplicates_and_gaps);
    tcase_add_test(tc, epochs);
    tcase_add_test(tc, sequences_wrap);
    tcase_add_test(tc, truncation_and_expiry);
    suite_add_tcase(s, tc);
    return s;
}
