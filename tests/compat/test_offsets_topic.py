"""__consumer_offsets housekeeping: snapshots let old segments go while the
committed state stays exact across restarts, and the offsets of a group
that stays empty expire after offsets.retention.minutes (and only then:
a group known only by its commits survives restarts); a partition too big
to load at once loads in slices, every commit intact."""
import glob
import os
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka.protocol.offset import OffsetRequest

from kwire import RawClient
from rill import Broker, wait_until

PARTS = 100


def committed(bootstrap, group, topic, parts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in range(parts)],
                                                timeout=20)]
    finally:
        c.close()


class OffsetsTopic(unittest.TestCase):
    def test_a_large_offsets_partition_loads_in_slices(self):
        """Over 1 MiB of commits (4000-byte metadata each) in one
        __consumer_offsets partition: after a restart the coordinator reads
        it a slice per loop turn (answering COORDINATOR_LOAD_IN_PROGRESS
        meanwhile, which clients retry) and every group's offset and
        metadata are back."""
        import re
        from kafka import KafkaConsumer, TopicPartition as KTopicPartition
        from kafka.structs import OffsetAndMetadata
        broker = Broker(args=["--offsets.topic.num.partitions=1"]).start()
        try:
            bs = broker.bootstrap
            p = Producer({"bootstrap.servers": bs})
            p.produce("sliced", value=b"x")
            p.flush(30)
            groups = 320
            for g in range(groups):
                c = KafkaConsumer(bootstrap_servers=bs, group_id="sliced-%d" % g,
                                  enable_auto_commit=False)
                meta = ("%04d" % g) * 1000
                c.commit({KTopicPartition("sliced", 0): OffsetAndMetadata(g + 1, meta)})
                c.close()
            broker.restart()
            loaded = re.compile(r"__consumer_offsets-0: loaded (\d+) groups from \d+ records in "
                                r"(\d+) slice")
            # The load runs after the listener opens, a slice per loop turn:
            # wait for its line rather than expect it at once.
            wait_until(lambda: loaded.findall(broker.log()), 60, what="the sliced load")
            found = loaded.findall(broker.log())
            self.assertEqual(int(found[-1][0]), groups)
            self.assertGreaterEqual(int(found[-1][1]), 2)
            for g in (0, groups // 2, groups - 1):
                c = KafkaConsumer(bootstrap_servers=bs, group_id="sliced-%d" % g,
                                  enable_auto_commit=False)
                got = c._coordinator.fetch_committed_offsets([KTopicPartition("sliced", 0)])
                c.close()
                om = got[KTopicPartition("sliced", 0)]
                self.assertEqual((om.offset, om.metadata), (g + 1, ("%04d" % g) * 1000))
        finally:
            broker.cleanup()


    def test_snapshots_drop_superseded_segments(self):
        broker = Broker(args=["--offsets.topic.segment.bytes=1048576",
                              "--offsets.topic.num.partitions=1",
                              "--num.partitions=%d" % PARTS]).start()
        try:
            bs = broker.bootstrap
            p = Producer({"bootstrap.servers": bs})
            p.produce("many", value=b"x", partition=0)
            p.flush(30)
            del p
            c = Consumer({"bootstrap.servers": bs, "group.id": "busy",
                          "enable.auto.commit": False})
            rounds = 500  # 50,000 offset records, about 2.5 MB: three segments
            for r in range(rounds):
                c.commit(offsets=[TopicPartition("many", q, r * 1000 + q) for q in range(PARTS)],
                         asynchronous=False)
            c.close()
            seg_dir = os.path.join(broker.data_dir, "__consumer_offsets-0")

            def log_start():
                with RawClient(broker.port) as rc:
                    resp = rc.request(OffsetRequest[1](
                        replica_id=-1, topics=[("__consumer_offsets", [(0, -2)])]))
                return resp.topics[0][1][0][3]
            wait_until(lambda: log_start() > 0, 30, what="superseded segments deleted")
            self.assertLessEqual(len(glob.glob(os.path.join(seg_dir, "*.log"))), 2)
            want = [(rounds - 1) * 1000 + q for q in range(PARTS)]
            self.assertEqual(committed(bs, "busy", "many", PARTS), want)
            for hard in (False, True):
                broker.restart(hard=hard)
                self.assertEqual(committed(bs, "busy", "many", PARTS), want)
        finally:
            broker.cleanup()

    def test_offsets_of_an_empty_group_expire(self):
        broker = Broker(args=["--offsets.retention.minutes=1",
                              "--offsets.retention.check.interval.ms=500"]).start()
        try:
            bs = broker.bootstrap
            p = Producer({"bootstrap.servers": bs})
            p.produce("kept", value=b"x")
            p.flush(30)
            del p
            c = Consumer({"bootstrap.servers": bs, "group.id": "fleeting",
                          "enable.auto.commit": False})
            c.commit(offsets=[TopicPartition("kept", 0, 1)], asynchronous=False)
            c.close()
            self.assertEqual(committed(bs, "fleeting", "kept", 1), [1])
            start = time.monotonic()
            wait_until(lambda: committed(bs, "fleeting", "kept", 1) == [-1001], 120,
                       interval=2, what="the offsets to expire")
            self.assertGreater(time.monotonic() - start, 40)  # not before a minute is up
            broker.restart()
            self.assertEqual(committed(bs, "fleeting", "kept", 1), [-1001])
        finally:
            broker.cleanup()

    def test_a_group_known_only_by_its_commits_survives_restarts(self):
        """Regression: a group that never joined (standalone commits, no
        group metadata record) was deleted by the first expiry check after
        every load, its idle time counted from 1970."""
        broker = Broker(args=["--offsets.retention.check.interval.ms=100"]).start()
        try:
            bs = broker.bootstrap
            p = Producer({"bootstrap.servers": bs})
            p.produce("solo", value=b"x")
            p.flush(30)
            del p
            c = Consumer({"bootstrap.servers": bs, "group.id": "standalone",
                          "enable.auto.commit": False})
            c.commit(offsets=[TopicPartition("solo", 0, 42)], asynchronous=False)
            c.close()
            for hard in (False, True):
                broker.restart(hard=hard)
                time.sleep(0.5)  # five expiry checks
                self.assertEqual(committed(bs, "standalone", "solo", 1), [42])
            self.assertNotIn("standalone: expired", broker.log())
        finally:
            broker.cleanup()


if __name__ == "__main__":
    unittest.main()
