"""A failed fsync on one broker of a cluster moves its leaderships away.

Node 2 of three keeps its data on the power-loss filesystem. Once an
fsync there fails (EIO), its log directory is offline; node 2 asks the
controller to fence it, so that the partitions it led get new leaders
from the ISR on sound disks and it leaves every ISR. Its metadata log is
in the same directory, so it can no longer follow the metadata: it stops
with status 1 (Kafka's brokers halt when their metadata log directory
fails) instead of telling clients leaderships that have moved. Producers
carry on against the new leader, and everything acknowledged, before the
fault and after, is read back there."""
import os
import shutil
import tempfile
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from rill import Cluster, powerloss, wait_until

TOPIC = "disk-fault"


class ReplicaDiskFault(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="rill-diskfault-")
        self.mnt = os.path.join(self.workdir, "mnt")
        powerloss("mount", os.path.join(self.workdir, "backing"), self.mnt)
        self.cluster = Cluster(3, args=["--default.replication.factor=3",
                                        "--min.insync.replicas=2",
                                        "--group.initial.rebalance.delay.ms=0"])
        self.cluster.nodes[2].data_dir = os.path.join(self.mnt, "data")
        self.cluster.start()

    def tearDown(self):
        try:
            self.cluster.cleanup()
        finally:
            powerloss("umount", self.mnt, check=False)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def admin(self):
        return AdminClient({"bootstrap.servers": self.cluster.bootstrap(),
                            "socket.timeout.ms": 3000})

    def partitions(self):
        md = self.admin().list_topics(TOPIC, timeout=5)
        return sorted(md.brokers), {p: (m.leader, sorted(m.isrs))
                                    for p, m in md.topics[TOPIC].partitions.items()}

    def produce(self, partition, values):
        """Delivers values to partition with acks=all; returns their offsets."""
        p = Producer({"bootstrap.servers": self.cluster.bootstrap(), "acks": "all",
                      "message.timeout.ms": 30000, "retry.backoff.ms": 50})
        got = {}

        def done(err, msg):
            self.assertIsNone(err, err)
            got[msg.value()] = msg.offset()
        for v in values:
            p.produce(TOPIC, value=v, partition=partition, on_delivery=done)
        self.assertEqual(p.flush(40), 0)
        return got

    def read(self, partition):
        c = Consumer({"bootstrap.servers": self.cluster.bootstrap(), "group.id": "reader",
                      "enable.auto.commit": False, "enable.partition.eof": True})
        out = {}
        try:
            c.assign([TopicPartition(TOPIC, partition, 0)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        break
                    continue
                out[m.value()] = m.offset()
        finally:
            c.close()
        return out

    def test_a_failed_fsync_moves_the_brokers_leaderships_to_sound_disks(self):
        wait_until(lambda: len(self.admin().list_topics(timeout=5).brokers) == 3, 30,
                   what="three brokers")
        admin = self.admin()
        for f in admin.create_topics([NewTopic(TOPIC, 3, 3)]).values():
            f.result(20)
        wait_until(lambda: all(l >= 0 and len(isr) == 3
                               for l, isr in self.partitions()[1].values()), 30,
                   what="every replica in sync")
        led = [p for p, (l, _) in self.partitions()[1].items() if l == 2]
        self.assertTrue(led, self.partitions())
        part = led[0]
        before = self.produce(part, [b"before-%d" % i for i in range(20)])

        node2 = self.cluster.nodes[2]
        node2.expected_exit = True  # it stops by itself, with status 1 (checked below)
        powerloss("fault", self.mnt, "fsync-eio", "data/%s-%d/*" % (TOPIC, part))
        t0 = time.monotonic()
        after = self.produce(part, [b"after-%d" % i for i in range(20)])
        moved = time.monotonic() - t0
        print("\n  failed fsync on node 2: %d records acknowledged by the new leader "
              "%.2f s later" % (len(after), moved), flush=True)

        brokers, parts = self.partitions()
        self.assertEqual(brokers, [1, 3], "node 2 is fenced")
        self.assertNotEqual(parts[part][0], 2, parts)
        for p, (leader, isr) in parts.items():
            self.assertNotIn(2, isr, (p, parts))
            self.assertIn(leader, (1, 3), (p, parts))
        log = node2.log()
        self.assertIn("is offline: an fsync failed", log)
        self.assertIn("asking the controller to move this broker's leaderships", log)
        # Its metadata log shares the directory: it can no longer follow the
        # metadata, so it stops rather than tell clients stale leaderships.
        wait_until(lambda: not node2.alive(), 20, what="node 2 to stop")
        self.assertEqual(node2.proc.returncode, 1, log[-3000:])
        self.assertIn("the metadata log failed: stopping", node2.log())
        node2.check_log()
        self.assertIn("faults_hit=1", powerloss("stats", self.mnt).stdout)

        stored = self.read(part)
        for v, o in list(before.items()) + list(after.items()):
            self.assertEqual(stored.get(v), o, (v, o))
        powerloss("clear", self.mnt)


if __name__ == "__main__":
    unittest.main()
