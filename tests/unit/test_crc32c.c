/* CRC-32C: the published check value, and hardware == table. */
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "tests/unit/unit.h"

START_TEST(check_value)
{
    ck_assert_uint_eq(crc32c("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c("", 0), 0);
}
END_TEST

START_TEST(incremental_equals_whole)
{
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = crc32c(buf, sizeof(buf));
    uint32_t part = crc32c_extend(crc32c(buf, 333), buf + 333, sizeof(buf) - 333);
    ck_assert_uint_eq(whole, part);
}
END_TEST

START_TEST(hardware_matches_table_at_every_alignment)
{
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len += 7)
            ck_assert_uint_eq(crc32c(buf + off, len), crc32c_extend_portable(0, buf + off, len));
}
END_TEST

Suite *suite_crc32c(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("crc32c");
    tcase_add_test(tc, check_value);
    tcase_add_test(tc, incremental_equals_whole);
    tcase_add_test(tc, hardware_matches_table_at_every_alignment);
    suite_add_tcase(s, tc);
    return s;
}
