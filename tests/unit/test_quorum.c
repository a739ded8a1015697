/* The quorum-state file (broker/quorum/quorum_state.h) and the internal
 * listener's Raft frames (broker/quorum/raft_wire.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/quorum/quorum_state.h"
#include "broker/quorum/raft_wire.h"
#include "common/rill_error.h"
#include "tests/unit/unit.h"

static void write_file(const char *dir, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, QUORUM_STATE_FILE);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(quorum_state_round_trip_and_refusals)
{
    char *dir = unit_tempdir();
    struct raft_hard_state hs;
    ck_assert_int_eq(quorum_state_read(dir, &hs), RILL_ERR_NOT_FOUND);
    ck_assert_uint_eq(hs.term, 0);
    ck_assert_int_eq(hs.voted_for, RAFT_NONE);
    struct raft_hard_state w = {.term = 7, .voted_for = 2, .commit = 1042};
    ck_assert_int_eq(quorum_state_write(dir, &w), 0);
    ck_assert_int_eq(quorum_state_read(dir, &hs), 0);
    ck_assert_uint_eq(hs.term, 7);
    ck_assert_int_eq(hs.voted_for, 2);
    ck_assert_uint_eq(hs.commit, 1042);
    /* A node must not guess its vote: anything odd is corrupt. */
    const char *bad[] = {"", "version: 2\nterm: 1\nvoted_for: -1\ncommit: 0\n",
                         "version: 1\nterm: 1\ncommit: 0\n",
                         "version: 1\nterm: x\nvoted_for: -1\ncommit: 0\n",
                         "version: 1\nterm: 1\nvoted_for: -2\ncommit: 0\n",
                         "version: 1\nterm: 1\nvoted_for: 1\ncommit: 0\nextra: 1\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(dir, bad[i]);
        ck_assert_int_eq(quorum_state_read(dir, &hs), RILL_ERR_CORRUPT);
    }
    unit_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(raft_frames_round_trip_and_refuse_other_clusters)
{
    uint8_t data[] = "batch";
    struct raft_entry ents[] = {{5, 3, RAFT_ENTRY_DATA, data, sizeof(data)},
                                {6, 3, RAFT_ENTRY_LEADER_CHANGE, NULL, 0}};
    struct raft_msg m = {.type = RAFT_MSG_FETCH_RESP, .from = 2, .to = 1, .term = 3,
                         .leader = 2, .fetch_index = 5, .fetch_prev_term = 2, .commit = 5,
                         .entries = ents, .nentries = 2};
    uint8_t *frame;
    size_t len;
    ck_assert_int_eq(raft_wire_encode("cluster-a", 2, &m, &frame, &len), 0);
    size_t body = (size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 |
                  frame[3];
    ck_assert_uint_eq(body + RAFT_WIRE_PREFIX_BYTES, len);
    struct raft_wire_decoded d;
    ck_assert_int_eq(raft_wire_decode(frame + 4, body, "cluster-a", &d), 0);
    ck_assert_int_eq(d.msg.from, 2);
    ck_assert_uint_eq(d.msg.nentries, 2);
    ck_assert_mem_eq(d.msg.entries[0].data, data, sizeof(data));
    ck_assert_uint_eq(d.msg.entries[1].type, RAFT_ENTRY_LEADER_CHANGE);
    ck_assert_uint_eq(d.msg.commit, 5);
    raft_wire_decoded_free(&d);
    ck_assert_int_eq(raft_wire_decode(frame + 4, body, "cluster-b", &d), RILL_ERR_MISMATCH);
    ck_assert_int_eq(raft_wire_decode(frame + 4, body - 1, "cluster-a", &d), RILL_ERR_PARSE);
    free(frame);
}
END_TEST

Suite *suite_quorum(void)
{
    Suite *s = suite_create("quorum");
    TCase *tc = tcase_create("quorum");
    tcase_add_test(tc, quorum_state_round_trip_and_refusals);
    tcase_add_test(tc, raft_frames_round_trip_and_refuse_other_clusters);
    suite_add_tcase(s, tc);
    return s;
}
