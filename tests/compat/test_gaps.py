"""What a careful reader of the suite found untested: several producers on
one partition, MESSAGE_TOO_LARGE, Fetch limits past the first batch,
OFFSET_OUT_OF_RANGE below the log start with each auto.offset.reset,
DeleteGroups, and a consumer group across broker restarts with live
members and commits in flight."""
import io
import os
import signal
import struct
import subprocess
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from kafka.protocol.admin import CreateTopicsRequest, DeleteGroupsRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from kwire import RawClient
from rill import PYTHON, Broker, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


def batch(values):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 22)
    for i, v in enumerate(values):
        b.append(i, timestamp=int(time.time() * 1000), key=None, value=v, headers=[])
    return bytes(b.build())


def produce(c, topic, values, partition=0):
    resp = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=10000,
                                       topics=[(topic, [(partition, batch(values))])]))
    part = resp.topics[0][1][0]
    return part[1], part[2]


def log_offsets(c, topic):
    """(log start, log end) of partition 0."""
    ends = []
    for ts in (-2, -1):
        resp = c.request(OffsetRequest[1](replica_id=-1, topics=[(topic, [(0, ts)])]))
        ends.append(resp.topics[0][1][0][3])
    return tuple(ends)


def read_all(bootstrap, topic, partitions, expect):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False})
    got = []
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + 60
        while len(got) < expect and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append((m.partition(), m.offset(), m.value().decode()))
    finally:
        c.close()
    return got


class Gaps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--num.partitions=1", "--group.initial.rebalance.delay.ms=0",
                                  "--log.retention.check.interval.ms=200"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def test_several_producers_on_one_partition(self):
        per_producer, producers = 500, 4
        errors = []

        def run(k):
            p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                          "enable.idempotence": True, "linger.ms": 1})
            for i in range(per_producer):
                p.produce("shared", b"p%d-%d" % (k, i), partition=0,
                          on_delivery=lambda err, msg: errors.append(err) if err else None)
                if i % 50 == 0:
                    p.poll(0)
            p.flush(30)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        got = read_all(self.broker.bootstrap, "shared", 1, per_producer * producers)
        self.assertEqual([o for _, o, _ in got], list(range(per_producer * producers)))
        for k in range(producers):
            seq = [int(v.split("-")[1]) for _, _, v in got if v.startswith("p%d-" % k)]
            self.assertEqual(seq, list(range(per_producer)), "producer %d out of order" % k)

    def test_message_too_large(self):
        with RawClient(self.broker.port) as c:
            resp = c.request(CreateTopicsRequest[2](
                create_topic_requests=[("small", 1, 1, [], [("max.message.bytes", "10000")])],
                timeout=10000, validate_only=False))
            self.assertEqual(resp.topic_errors[0][1], 0)
            self.assertEqual(produce(c, "small", [b"x" * 100])[0], 0)
            self.assertEqual(produce(c, "small", [b"x" * 20000])[0], 10)  # MESSAGE_TOO_LARGE
            self.assertEqual(log_offsets(c, "small"), (0, 1))

    def test_fetch_limits_past_the_first_batch(self):
        value = b"f" * 10000
        with RawClient(self.broker.port) as c:
            for _ in range(10):  # ten batches of about 10 KB in each topic
                self.assertEqual(produce(c, "limits", [value])[0], 0)
                self.assertEqual(produce(c, "limits2", [value])[0], 0)

            def batches(resp, t=0):
                records = MemoryRecords(resp.topics[t][1][0][-1])
                n = 0
                while records.next_batch() is not None:
                    n += 1
                return n

            # partition_max_bytes: the first whole batch always, then only
            # batches that fit.
            for limit, want in ((1, 1), (15000, 1), (25000, 2), (45000, 4)):
                resp = c.request(FetchRequest[4](
                    replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=1 << 24,
                    isolation_level=0, topics=[("limits", [(0, 0, limit)])]))
                self.assertEqual(batches(resp), want, "partition_max_bytes %d" % limit)
            # max_bytes over the whole answer, across topics.
            resp = c.request(FetchRequest[4](
                replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=35000,
                isolation_level=0, topics=[("limits", [(0, 0, 1 << 20)]),
                                           ("limits2", [(0, 0, 1 << 20)])]))
            total = batches(resp, 0) + batches(resp, 1)
            self.assertEqual(total, 3)

    def test_offset_out_of_range_below_the_log_start(self):
        with RawClient(self.broker.port) as c:
            resp = c.request(CreateTopicsRequest[2](
                create_topic_requests=[("retained", 1, 1, [], [("segment.bytes", "1048576"),
                                                               ("retention.ms", "1000")])],
                timeout=10000, validate_only=False))
            self.assertEqual(resp.topic_errors[0][1], 0)
            for _ in range(30):
                self.assertEqual(produce(c, "retained", [os.urandom(100000)])[0], 0)
            wait_until(lambda: log_offsets(c, "retained")[0] > 0, 30,
                       what="retention to delete a segment")
            start, end = log_offsets(c, "retained")
            resp = c.request(FetchRequest[4](
                replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=1 << 20,
                isolation_level=0, topics=[("retained", [(0, 0, 1 << 20)])]))
            self.assertEqual(resp.topics[0][1][0][1], 1)  # OFFSET_OUT_OF_RANGE

        def consumer(reset):
            c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "reset-" + reset,
                          "enable.auto.commit": False, "auto.offset.reset": reset})
            c.assign([TopicPartition("retained", 0, 0)])  # below the log start
            return c

        c = consumer("earliest")
        m = None
        deadline = time.monotonic() + 20
        while m is None and time.monotonic() < deadline:
            m = c.poll(0.5)
        c.close()
        self.assertIsNotNone(m)
        # Retention goes on deleting: the log start the consumer reset to
        # lies between the one seen before and the one seen after.
        with RawClient(self.broker.port) as raw:
            start_after = log_offsets(raw, "retained")[0]
        self.assertTrue(start <= m.offset() <= start_after,
                        "reset to %d, log start %d..%d" % (m.offset(), start, start_after))

        c = consumer("latest")
        time.sleep(1)
        with RawClient(self.broker.port) as raw:
            produce(raw, "retained", [b"after-reset"])
        m = None
        deadline = time.monotonic() + 20
        while (m is None or m.error()) and time.monotonic() < deadline:
            m = c.poll(0.5)
        c.close()
        self.assertEqual((m.offset(), m.value()), (end, b"after-reset"))

        c = consumer("error")  # librdkafka's name for none
        err = None
        deadline = time.monotonic() + 20
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error():
                err = m.error()
        c.close()
        self.assertIsNotNone(err)
        self.assertEqual(err.code(), KafkaError._AUTO_OFFSET_RESET)

    def test_delete_groups(self):
        bs = self.broker.bootstrap
        with RawClient(self.broker.port) as c:
            produce(c, "grouped", [b"g"])
        # An empty group with offsets, and a live one.
        quiet = Consumer({"bootstrap.servers": bs, "group.id": "quiet",
                          "enable.auto.commit": False})
        quiet.commit(offsets=[TopicPartition("grouped", 0, 1)], asynchronous=False)
        quiet.close()
        live = Consumer({"bootstrap.servers": bs, "group.id": "live",
                         "enable.auto.commit": False, "session.timeout.ms": 6000})
        live.subscribe(["grouped"])
        wait_until(lambda: live.poll(0.2) is not None or live.assignment(), 30,
                   what="the live member to join")
        with RawClient(self.broker.port) as c:
            resp = c.request(DeleteGroupsRequest[1](groups_names=["quiet", "live", "nobody"]))
            errors = dict(resp.results)
        self.assertEqual(errors, {"quiet": 0, "live": 68, "nobody": 69})
        live.close()
        check = Consumer({"bootstrap.servers": bs, "group.id": "quiet"})
        self.assertEqual(check.committed([TopicPartition("grouped", 0)], timeout=20)[0].offset,
                         -1001)
        check.close()

    def test_a_group_across_broker_restarts_with_commits_in_flight(self):
        bs = self.broker.bootstrap
        total = 2000
        p = Producer({"bootstrap.servers": bs, "acks": "all", "enable.idempotence": True})
        for i in range(total // 2):
            p.produce("restarts", b"r-%d" % i, partition=0)
        p.flush(30)
        out = [os.path.join(self.broker.workdir, "member-%d.txt" % k) for k in range(2)]
        members = [subprocess.Popen([PYTHON, os.path.join(HERE, "group_member.py"), bs,
                                     "restarters", "restarts", out[k]],
                                    stderr=subprocess.DEVNULL) for k in range(2)]

        def consumed():
            """Offsets the members received: delivered ("p o v") or whose
            commit a restart refused ("commit-failed p o ...")."""
            offsets = set()
            for path in out:
                try:
                    with open(path) as f:
                        for line in f:
                            parts = line.split()
                            if len(parts) == 3 and parts[2].startswith("r-"):
                                offsets.add(int(parts[1]))
                            elif len(parts) >= 3 and parts[0] == "commit-failed":
                                offsets.add(int(parts[2]))
                except OSError:
                    pass
            return offsets
        try:
            wait_until(lambda: len(consumed()) >= total // 4, 120, what="the members to consume")
            self.broker.restart(hard=False)
            for i in range(total // 2, total):
                p.produce("restarts", b"r-%d" % i, partition=0)
            p.flush(60)
            wait_until(lambda: len(consumed()) >= total * 3 // 4, 120,
                       what="consumption to go on")
            self.broker.restart(hard=True)
            wait_until(lambda: len(consumed()) >= total, 180, what="every record to be consumed")
            self.assertEqual(consumed(), set(range(total)))
            for m in members:
                self.assertIsNone(m.poll(), "a member died across the restarts")
        finally:
            for m in members:
                m.send_signal(signal.SIGTERM)
            for m in members:
                try:
                    m.wait(30)
                except subprocess.TimeoutExpired:
                    m.kill()
                    m.wait()
        # The group's last commit is inside the log, past the first half.
        c = Consumer({"bootstrap.servers": bs, "group.id": "restarters"})
        committed = c.committed([TopicPartition("restarts", 0)], timeout=20)[0].offset
        c.close()
        self.assertGreater(committed, total // 2)
        self.assertLessEqual(committed, total)

if __name__ == "__main__":
    unittest.main()
