"""The short chaos runs of `make test` (chaos.py has the long one, `make
chaos`): a three-node cluster under acks=all production (idempotent and
not, RF=3, min.insync.replicas=2) and a consumer group, while partition
leaders are SIGKILLed and restarted (one run), or have their power cut
and brokers are paused (the other), at least five failovers in each.
Preferred-leader elections run every 2 s, so restarted brokers take their
leaderships back under load (the kill run requires at least one).
Nothing acknowledged may be lost, the idempotent producer's records appear once and in order, the group ends having seen
every acknowledged record, the replicas hold the same batches, and the
median stall after a kill stays within 1.5 seconds (two with every
node's data on the power-loss filesystem). A killed controller is
replaced within a few hundred milliseconds (its voters stand as soon as
its address refuses connections, raft_leader_gone); most of what is left
of a stall is librdkafka's: its first metadata request after a broker
goes down may come before the controller has fenced the broker, and it
asks again only on its own timers.

A third run puts every broker in a network namespace of its own and
partitions them (chaos.py, tests/lib/netns.py): one broker at a time is
cut off from the other two, and sometimes from the clients as well; or a
leader loses its link to one follower and is SIGKILLed before the ISR can
shrink, so that the cut-off follower may be elected (this catches a high
watermark taken over fewer than all the ISR); with pauses in between. It
has the same checks and no stall bound (a cut-off leader holds its
clients' requests until it is fenced). Where namespaces cannot be made it
is skipped, and says so loudly."""
import os
import sys
import unittest

import chaos
import netns

SEED = int(os.environ.get("RILL_CHAOS_SEED", "1"))
SECONDS = int(os.environ.get("RILL_CHAOS_SECONDS", "32"))


class ChaosShort(unittest.TestCase):
    def test_leader_kills_lose_nothing(self):
        report = chaos.run(SEED, SECONDS, nemeses=("kill",), interval=(1.5, 2.5))
        # Restarted brokers take their leaderships back while the load runs.
        self.assertGreaterEqual(report["preferred_elections"], 1, report)
        self.check(report, 1.5)

    def test_power_cuts_and_pauses_lose_nothing(self):
        report = chaos.run(SEED + 1, SECONDS + 8, nemeses=("powercut", "powercut", "pause"),
                           interval=(1.0, 2.0))
        self.assertGreaterEqual(report["power_cuts"], 5, report)
        self.assertGreaterEqual(report["pauses"], 1, report)
        # Every node's data is on the FUSE power-loss filesystem here, whose
        # fsyncs are slower, and a pause may stall a partition besides: a
        # looser bound than the kill run's.
        self.check(report, 2.0)

    def test_network_partitions_lose_nothing(self):
        ok, why = netns.available()
        if not ok:
            print("\n*** NO NETWORK-PARTITION CHAOS RUN: network namespaces are unavailable "
                  "here (%s) ***" % why, file=sys.stderr, flush=True)
            self.skipTest("network namespaces unavailable: " + why)
        report = chaos.run_in_namespaces(SEED + 2, SECONDS + 8,
                                         ("partition", "bridge", "partition", "bridge", "pause"),
                                         interval=(1.0, 2.0))
        self.assertGreaterEqual(report["partitions"], 3, report)
        self.check(report, None, failovers=0)

    def check(self, report, median_stall, failovers=5):
        self.assertGreaterEqual(report["failovers"], failovers, report)
        for name, r in report["clients"].items():
            self.assertGreater(r["acked"], 1000, (name, r))
            self.assertEqual((r["lost"], r["divergent"], r["skipped"], r["unconsumed"]),
                             (0, 0, 0, 0), (name, r))
            self.assertEqual(r["replica_faults"], [], (name, r))
        r = report["clients"]["confluent-idempotent"]
        self.assertEqual((r["duplicated"], r["reordered"]), (0, 0), r)
        if median_stall is None:
            return
        stalls = sorted(report["stalls"])
        self.assertTrue(stalls, report)
        self.assertLessEqual(stalls[len(stalls) // 2], median_stall, report)


if __name__ == "__main__":
    unittest.main()
