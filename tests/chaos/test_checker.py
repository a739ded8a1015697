"""The chaos checker catches what it is for: each planted fault in a
history is counted, and a clean history counts nothing."""
import unittest

from checker import check

ACKED = [(0, 0, "v-0"), (0, 1, "v-1"), (1, 0, "v-2"), (0, 2, "v-3")]
STORED = {(0, 0): "v-0", (0, 1): "v-1", (1, 0): "v-2", (0, 2): "v-3"}
CONSUMED = [(0, 0, "v-0"), (1, 0, "v-2"), (0, 1, "v-1"), (0, 2, "v-3")]
REPLICAS = {0: {1: [(0, 0, 7), (2, 1, 9)], 2: [(0, 0, 7), (2, 1, 9)]}}


class Checker(unittest.TestCase):
    def test_a_clean_history_counts_nothing(self):
        r = check(ACKED, STORED, CONSUMED, REPLICAS)
        self.assertEqual((r["lost"], r["duplicated"], r["reordered"], r["divergent"],
                          r["skipped"], r["unconsumed"], r["replica_faults"]),
                         (0, 0, 0, 0, 0, 0, []))

    def test_a_lost_record_is_counted(self):
        stored = dict(STORED)
        del stored[(0, 1)]
        self.assertEqual(check(ACKED, stored)["lost"], 1)
        stored[(0, 1)] = "v-9"  # another value at an acknowledged offset
        self.assertEqual(check(ACKED, stored)["lost"], 1)

    def test_a_duplicate_and_a_reordering_are_counted(self):
        stored = dict(STORED)
        stored[(0, 3)] = "v-1"
        r = check(ACKED, stored)
        self.assertEqual((r["duplicated"], r["reordered"]), (1, 1))

    def test_a_copy_under_a_new_producer_epoch_is_told_apart(self):
        stored = dict(STORED)
        stored[(0, 3)] = "v-1"  # v-1 again, after v-3
        epochs = {(0, 0): 0, (0, 1): 0, (1, 0): 0, (0, 2): 0, (0, 3): 1}
        r = check(ACKED, stored, producer_epochs=epochs)
        self.assertEqual((r["duplicated"], r["rebumped"], r["reordered"]), (0, 1, 0))
        epochs[(0, 3)] = 0  # the same epoch: the broker let a duplicate through
        r = check(ACKED, stored, producer_epochs=epochs)
        self.assertEqual((r["duplicated"], r["rebumped"], r["reordered"]), (1, 0, 1))

    def test_a_consumer_that_skips_or_sees_another_value_is_caught(self):
        consumed = [c for c in CONSUMED if c[:2] != (0, 1)]
        r = check(ACKED, STORED, consumed)
        self.assertEqual((r["skipped"], r["unconsumed"]), (1, 1))
        consumed = CONSUMED + [(0, 1, "v-8")]
        self.assertEqual(check(ACKED, STORED, consumed)["divergent"], 1)

    def test_replicas_that_differ_are_named(self):
        replicas = {0: {1: [(0, 0, 7), (2, 1, 9)], 2: [(0, 0, 7), (2, 2, 9)]}}
        self.assertEqual(check(ACKED, STORED, replicas=replicas)["replica_faults"], [0])


if __name__ == "__main__":
    unittest.main()
