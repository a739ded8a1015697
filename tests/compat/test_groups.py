"""Consumer groups: kafka-python resuming from its commits, confluent-kafka
members sharing a topic through joins, a clean leave and a crash, committed
offsets surviving broker restarts, group tooling, and the error codes for
bad group requests."""
import os
import signal
import struct
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kwire import RawClient
from rill import PYTHON, Broker, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


def produce(bootstrap, topic, n, start=0, partitions=None):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(start, start + n):
        kw = {} if partitions is None else {"partition": i % partitions}
        p.produce(topic, value=b"r-%d" % i, **kw)
    assert p.flush(30) == 0


def read_log(path):
    delivered, assigned = [], []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if not parts or not line.endswith("\n"):
                    continue
                if parts[0] == "assigned":
                    assigned.append(set(int(x) for x in parts[1].split(",")) if len(parts) > 1
                                    else set())
                elif parts[0].isdigit():
                    delivered.append((int(parts[0]), int(parts[1]), parts[2]))
    except OSError:
        pass
    return delivered, assigned


class KafkaPythonGroup(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(args=["--group.initial.rebalance.delay.ms=0"]).start()

    def tearDown(self):
        self.broker.cleanup()

    def test_tutorial_consumer_with_group_resumes_after_commit(self):
        from kafka import KafkaConsumer, KafkaProducer
        bs = self.broker.bootstrap
        producer = KafkaProducer(bootstrap_servers=[bs])
        for i in range(1000):
            producer.send('kafka-demo', key=b'Message', value=b'v%d' % i)
        producer.flush()
        producer.close()

        consumer = KafkaConsumer('kafka-demo', bootstrap_servers=[bs],
                                 auto_offset_reset='earliest', group_id='tutorial')
        seen = []
        for message in consumer:
            seen.append(message.offset)
            if len(seen) == 400:
                break
        consumer.commit()
        consumer.close(autocommit=False)
        self.assertEqual(seen, list(range(400)))

        consumer = KafkaConsumer('kafka-demo', bootstrap_servers=[bs],
                                 auto_offset_reset='earliest', group_id='tutorial',
                                 consumer_timeout_ms=5000)
        rest = [m.offset for m in consumer]
        consumer.close()
        self.assertEqual(rest, list(range(400, 1000)))


class ConfluentGroup(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(args=["--group.initial.rebalance.delay.ms=0",
                                   "--group.min.session.timeout.ms=1000",
                                   "--num.partitions=6"]).start()
        self.members = []

    def tearDown(self):
        for proc, _ in self.members:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.broker.cleanup()

    def start_member(self, name):
        log = os.path.join(self.broker.workdir, name + ".log")
        proc = subprocess.Popen([PYTHON, os.path.join(HERE, "group_member.py"),
                                 self.broker.bootstrap, "shared", "work", log, "2000"],
                                stderr=subprocess.DEVNULL)
        self.members.append((proc, log))
        return proc, log

    def all_delivered(self):
        out = []
        for _, log in self.members:
            out.extend(read_log(log)[0])
        return out

    def current_assignments(self):
        return [read_log(log)[1][-1] if read_log(log)[1] else set() for _, log in self.members]

    def test_three_members_share_leave_and_crash(self):
        bs = self.broker.bootstrap
        produce(bs, "work", 600, partitions=6)
        for name in ("a", "b", "c"):
            self.start_member(name)

        def settled():
            a = self.current_assignments()
            return (len(a) == 3 and all(a) and set().union(*a) == set(range(6))
                    and sum(len(x) for x in a) == 6)
        wait_until(settled, 60, what="three members sharing six partitions")
        wait_until(lambda: len(self.all_delivered()) >= 600, 60, what="600 records delivered")
        a = self.current_assignments()
        for i in range(3):
            for j in range(i + 1, 3):
                self.assertFalse(a[i] & a[j], "members %d and %d overlap: %s" % (i, j, a))

        # Member c leaves cleanly, member b is killed (idle: nothing in flight).
        self.members[2][0].send_signal(signal.SIGTERM)
        self.members[2][0].wait(30)
        self.members[1][0].kill()
        self.members[1][0].wait()
        wait_until(lambda: read_log(self.members[0][1])[1][-1] == set(range(6)), 60,
                   what="the survivor taking over every partition")
        produce(bs, "work", 600, start=600, partitions=6)
        wait_until(lambda: len(self.all_delivered()) >= 1200, 60, what="1200 records delivered")
        time.sleep(0.5)  # let any duplicate show up before counting

        delivered = self.all_delivered()
        keys = [(p, o) for p, o, _ in delivered]
        self.assertEqual(len(keys), len(set(keys)), "a record was delivered twice")
        values = sorted(int(v.split("-")[1]) for _, _, v in delivered)
        self.assertEqual(values, list(range(1200)), "records skipped or duplicated")

    def test_committed_offsets_survive_broker_restarts(self):
        bs = self.broker.bootstrap
        produce(bs, "work", 60, partitions=6)
        conf = {"bootstrap.servers": bs, "group.id": "durable", "enable.auto.commit": False}
        c = Consumer(conf)
        c.commit(offsets=[TopicPartition("work", p, 3 + p) for p in range(6)], asynchronous=False)
        c.close()
        for hard in (False, True):
            self.broker.restart(hard=hard)
            c = Consumer(conf)
            got = c.committed([TopicPartition("work", p) for p in range(6)], timeout=10)
            c.close()
            self.assertEqual([tp.offset for tp in got], [3 + p for p in range(6)])
        # A member resumes from the commit: partition 0 starts at offset 3.
        c = Consumer(dict(conf, **{"auto.offset.reset": "earliest"}))
        c.assign([TopicPartition("work", 0, -1001)])  # OFFSET_STORED
        m = None
        deadline = time.monotonic() + 20
        while m is None and time.monotonic() < deadline:
            m = c.poll(0.5)
        c.close()
        self.assertIsNotNone(m)
        self.assertEqual(m.offset(), 3)

    def test_group_tooling(self):
        bs = self.broker.bootstrap
        produce(bs, "work", 60, partitions=6)
        _, log = self.start_member("solo")
        wait_until(lambda: len(read_log(log)[0]) >= 60, 60, what="60 records")
        groups = AdminClient({"bootstrap.servers": bs}).list_groups(timeout=10)
        shared = [g for g in groups if g.id == "shared"]
        self.assertEqual(len(shared), 1)
        g = shared[0]
        self.assertEqual(g.state, "Stable")
        self.assertEqual(g.protocol_type, "consumer")
        self.assertEqual(g.protocol, "range")
        self.assertEqual(len(g.members), 1)
        self.assertTrue(g.members[0].client_host.startswith("/127.0.0.1"))
        self.assertGreater(len(g.members[0].assignment), 0)
        self.assertGreater(len(g.members[0].metadata), 0)

        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=bs)
        try:
            listed = dict(admin.list_consumer_groups())
            self.assertEqual(listed.get("shared"), "consumer")
            desc = admin.describe_consumer_groups(["shared"])[0]
            self.assertEqual(desc.state, "Stable")
            self.assertEqual(len(desc.members), 1)
            offsets = admin.list_consumer_group_offsets("shared")
            total = sum(meta.offset for tp, meta in offsets.items() if tp.topic == "work")
            self.assertEqual(total, 60)
        finally:
            admin.close()

    def test_kcat_balanced_consumer(self):
        bs = self.broker.bootstrap
        produce(bs, "work", 60, partitions=6)
        out = subprocess.run(["kcat", "-b", bs, "-G", "kcat-group", "-o", "beginning", "-e",
                              "-X", "enable.partition.eof=true", "-f", "%p:%o\n", "work"],
                             capture_output=True, timeout=60, check=True).stdout.decode()
        got = sorted(tuple(map(int, l.split(":"))) for l in out.split())
        self.assertEqual(len(got), 60)
        self.assertEqual(len(set(got)), 60)


def join_v(c, version, group, member="", session=10000, rebalance=10000, protocols=None,
           instance=None):
    """Raw JoinGroup of the given version; returns (error, generation, member, leader,
    members)."""
    def s(x):
        return struct.pack(">h", len(x)) + x.encode()
    body = s(group) + struct.pack(">i", session)
    if version >= 1:
        body += struct.pack(">i", rebalance)
    body += s(member)
    if version >= 5:
        body += struct.pack(">h", -1) if instance is None else s(instance)
    body += s("consumer")
    protocols = [("range", b"\x00\x00sub")] if protocols is None else protocols
    body += struct.pack(">i", len(protocols))
    for name, meta in protocols:
        body += s(name) + struct.pack(">i", len(meta)) + meta
    corr = c.send(11, version, body)
    got, payload = c.recv()
    assert got == corr
    pos = 4 if version >= 2 else 0
    err, gen = struct.unpack(">hi", payload[pos:pos + 6])
    pos += 6

    def rs():
        nonlocal pos
        n = struct.unpack(">h", payload[pos:pos + 2])[0]
        pos += 2
        v = payload[pos:pos + max(n, 0)].decode()
        pos += max(n, 0)
        return v
    rs()  # protocol name
    leader, member_id = rs(), rs()
    count = struct.unpack(">i", payload[pos:pos + 4])[0]
    return err, gen, member_id, leader, count


def heartbeat(c, group, gen, member):
    body = struct.pack(">h", len(group)) + group.encode() + struct.pack(">i", gen) + \
        struct.pack(">h", len(member)) + member.encode()
    corr = c.send(12, 1, body)
    got, payload = c.recv()
    return struct.unpack(">h", payload[4:6])[0]


def commit(c, group, gen, member, topic, partition, offset):
    def s(x):
        return struct.pack(">h", len(x)) + x.encode()
    body = s(group) + struct.pack(">i", gen) + s(member) + struct.pack(">q", -1) + \
        struct.pack(">i", 1) + s(topic) + struct.pack(">i", 1) + \
        struct.pack(">iq", partition, offset) + s("")
    c.send(8, 2, body)
    _, payload = c.recv()
    # topics[1] name, partitions[1] index, error
    pos = 4
    n = struct.unpack(">h", payload[pos:pos + 2])[0]
    pos += 2 + n + 4 + 4
    return struct.unpack(">h", payload[pos:pos + 2])[0]


def fetch_offset(c, group, topic, partition):
    def s(x):
        return struct.pack(">h", len(x)) + x.encode()
    body = s(group) + struct.pack(">i", 1) + s(topic) + struct.pack(">ii", 1, partition)
    c.send(9, 1, body)
    _, payload = c.recv()
    pos = 4
    n = struct.unpack(">h", payload[pos:pos + 2])[0]
    pos += 2 + n + 4 + 4
    offset = struct.unpack(">q", payload[pos:pos + 8])[0]
    pos += 8
    n = struct.unpack(">h", payload[pos:pos + 2])[0]
    pos += 2 + max(n, 0)
    return offset, struct.unpack(">h", payload[pos:pos + 2])[0]


def find_coordinator(c, group):
    c.send(10, 0, struct.pack(">h", len(group)) + group.encode())
    _, payload = c.recv()
    return struct.unpack(">h", payload[:2])[0]


class GroupProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--group.initial.rebalance.delay.ms=0"]).start()
        produce(cls.broker.bootstrap, "t", 10)

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def client(self):
        c = RawClient(self.broker.port)
        self.assertEqual(find_coordinator(c, "x"), 0)
        return c

    def test_member_id_required_only_from_v4(self):
        with self.client() as c:
            err, gen, member, _, _ = join_v(c, 4, "g-v4")
            self.assertEqual(err, 79)
            self.assertEqual(gen, -1)
            self.assertTrue(member)
            err, gen, member2, leader, n = join_v(c, 4, "g-v4", member=member)
            self.assertEqual((err, member2, leader, n), (0, member, member, 1))
            err, gen, member, leader, n = join_v(c, 2, "g-v2")
            self.assertEqual(err, 0)
            self.assertEqual(leader, member)

    def test_followers_get_no_member_list_and_heartbeat_says_rebalance(self):
        with self.client() as a, self.client() as b:
            err, gen1, ma, _, n = join_v(a, 2, "g-two")
            self.assertEqual((err, n), (0, 1))
            # b joins: a rebalance starts; a's heartbeat is told to rejoin.
            corr = None
            body_b = None
            import threading
            result = {}

            def join_b():
                with RawClient(self.broker.port) as cb:
                    result["b"] = join_v(cb, 2, "g-two")
            t = threading.Thread(target=join_b)
            t.start()
            wait_until(lambda: heartbeat(a, "g-two", gen1, ma) == 27, 10,
                       what="REBALANCE_IN_PROGRESS")
            err, gen2, ma2, leader, n = join_v(a, 2, "g-two", member=ma)
            t.join(10)
            self.assertEqual(err, 0)
            self.assertEqual(gen2, gen1 + 1)
            eb, genb, mb, leaderb, nb = result["b"]
            self.assertEqual(genb, gen2)
            self.assertEqual(leader, leaderb)
            counts = {ma: n, mb: nb}
            self.assertEqual(counts[leader], 2)                      # the leader sees both
            self.assertEqual(counts[mb if leader == ma else ma], 0)  # the follower sees none
            del corr, body_b

    def test_bad_join_requests(self):
        with self.client() as c:
            self.assertEqual(join_v(c, 2, "g-bad", session=1)[0], 26)
            self.assertEqual(join_v(c, 2, "g-bad", session=10 ** 9)[0], 26)
            self.assertEqual(join_v(c, 2, "g-bad", protocols=[])[0], 23)
            self.assertEqual(join_v(c, 2, "")[0], 24)
            self.assertEqual(join_v(c, 2, "g-bad", member="nobody")[0], 25)
            # A different protocol than the group's members offer.
            err, gen, m, _, _ = join_v(c, 2, "g-proto")
            self.assertEqual(err, 0)
            with RawClient(self.broker.port) as d:
                self.assertEqual(join_v(d, 2, "g-proto",
                                        protocols=[("roundrobin", b"x")])[0], 23)

    def test_leave_group_v3_is_batched(self):
        with self.client() as c:
            err, gen, m, _, _ = join_v(c, 2, "g-leave")
            self.assertEqual(err, 0)

            def s(x):
                return struct.pack(">h", len(x)) + x.encode()
            # v3: members [member_id, group_instance_id]; one known, one not.
            body = s("g-leave") + struct.pack(">i", 2) + s(m) + struct.pack(">h", -1) + \
                s("ghost") + struct.pack(">h", -1)
            c.send(13, 3, body)
            _, p = c.recv()
            throttle, top, n = struct.unpack_from(">ihi", p, 0)
            self.assertEqual((top, n), (0, 2))
            pos = 10
            errors = []
            for _ in range(n):
                ln = struct.unpack_from(">h", p, pos)[0]
                pos += 2 + ln
                ln = struct.unpack_from(">h", p, pos)[0]
                pos += 2 + max(ln, 0)
                errors.append(struct.unpack_from(">h", p, pos)[0])
                pos += 2
            self.assertEqual(errors, [0, 25])

    def test_offset_fetch_v2_puts_the_group_error_after_topics(self):
        with self.client() as c:
            # An empty group id: INVALID_GROUP_ID at the top level, after the topics.
            body = struct.pack(">h", 0) + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t" + \
                struct.pack(">ii", 1, 0)
            c.send(9, 2, body)
            _, p = c.recv()
            self.assertEqual(struct.unpack(">h", p[-2:])[0], 24)
            # Null topics (v2+): every committed offset of the group.
            self.assertEqual(commit(c, "g-all", -1, "", "t", 0, 7), 0)
            body = struct.pack(">h", 5) + b"g-all" + struct.pack(">i", -1)
            c.send(9, 2, body)
            _, p = c.recv()
            ntopics = struct.unpack_from(">i", p, 0)[0]
            self.assertEqual(ntopics, 1)
            self.assertEqual(p[4:9], b"\x00\x01t\x00\x00")
            self.assertEqual(struct.unpack_from(">iiq", p, 9 - 2)[1:], (0, 7))
            self.assertEqual(struct.unpack(">h", p[-2:])[0], 0)

    def test_bad_commits_change_nothing(self):
        with self.client() as c:
            err, gen, m, _, _ = join_v(c, 2, "g-commit")
            self.assertEqual(err, 0)
            self.assertEqual(fetch_offset(c, "g-commit", "t", 0), (-1, 0))  # nothing yet
            self.assertEqual(commit(c, "g-commit", gen, m, "t", 0, 5), 27)  # syncing still
            # Finish the round: the leader's SyncGroup with an empty assignment.
            body = (struct.pack(">h", 8) + b"g-commit" + struct.pack(">i", gen) +
                    struct.pack(">h", len(m)) + m.encode() + struct.pack(">i", 0))
            c.send(14, 1, body)
            _, payload = c.recv()
            self.assertEqual(struct.unpack(">h", payload[4:6])[0], 0)
            self.assertEqual(commit(c, "g-commit", gen, m, "t", 0, 5), 0)
            self.assertEqual(commit(c, "g-commit", gen - 1, m, "t", 0, 9), 22)
            self.assertEqual(commit(c, "g-commit", gen, "stranger", "t", 0, 9), 25)
            self.assertEqual(commit(c, "g-commit", gen, m, "no-such-topic", 0, 9), 3)
            self.assertEqual(commit(c, "g-commit", gen, m, "t", 7, 9), 3)
            self.assertEqual(commit(c, "no-group", 3, "x", "t", 0, 9), 22)
            self.assertEqual(fetch_offset(c, "g-commit", "t", 0), (5, 0))
            # Standalone commit (generation -1) to a group nobody is in.
            self.assertEqual(commit(c, "g-standalone", -1, "", "t", 0, 4), 0)
            self.assertEqual(fetch_offset(c, "g-standalone", "t", 0), (4, 0))


if __name__ == "__main__":
    unittest.main()
