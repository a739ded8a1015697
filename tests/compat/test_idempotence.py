"""Idempotent producers: InitProducerId hands out ids that are never
reused (also across restarts), a retried batch is answered with its first
offset instead of being appended twice (also after a restart), sequence
gaps and fenced epochs are refused, and librdkafka's idempotent producer
works end to end."""
import struct
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire import RawClient
from rill import Broker


def init_producer_id(c):
    c.send(22, 0, struct.pack(">hi", -1, 60000))
    _, payload = c.recv()
    throttle, err, pid, epoch = struct.unpack(">ihqh", payload)
    return err, pid, epoch


def batch(pid, epoch, seq, values):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    for i, v in enumerate(values):
        b.append(i, timestamp=1700000000000 + i, key=None, value=v, headers=[])
    return bytes(b.build())


def produce(c, topic, data):
    resp = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=5000,
                                       topics=[(topic, [(0, data)])]))
    part = resp.topics[0][1][0]
    return part[1], part[2]  # error, base offset


def log_end(c, topic):
    resp = c.request(OffsetRequest[1](replica_id=-1, topics=[(topic, [(0, -1)])]))
    return resp.topics[0][1][0][3]


class Idempotence(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def test_ids_are_unique_across_restarts(self):
        seen = set()
        for hard in (False, True, False):
            with RawClient(self.broker.port) as c:
                for _ in range(5):
                    err, pid, epoch = init_producer_id(c)
                    self.assertEqual((err, epoch), (0, 0))
                    self.assertNotIn(pid, seen)
                    seen.add(pid)
            self.broker.restart(hard=hard)

    def test_retries_are_not_appended_twice(self):
        with RawClient(self.broker.port) as c:
            err, pid, epoch = init_producer_id(c)
            b0 = batch(pid, 0, 0, [b"a", b"b"])
            b1 = batch(pid, 0, 2, [b"c"])
            self.assertEqual(produce(c, "idem", b0), (0, 0))
            self.assertEqual(produce(c, "idem", b1), (0, 2))
            self.assertEqual(produce(c, "idem", b0), (0, 0))  # a retry: same offset
            self.assertEqual(produce(c, "idem", b1), (0, 2))
            self.assertEqual(log_end(c, "idem"), 3)
            # A gap in sequences, and a fenced (older) epoch.
            self.assertEqual(produce(c, "idem", batch(pid, 0, 9, [b"x"]))[0], 45)
            self.assertEqual(produce(c, "idem", batch(pid, 1, 0, [b"d"])), (0, 3))
            self.assertEqual(produce(c, "idem", batch(pid, 0, 3, [b"z"]))[0], 47)
            self.assertEqual(log_end(c, "idem"), 4)
        # The state is rebuilt from the log: a retry after a crash is known.
        self.broker.restart(hard=True)
        with RawClient(self.broker.port) as c:
            self.assertEqual(produce(c, "idem", batch(pid, 1, 0, [b"d"])), (0, 3))
            self.assertEqual(produce(c, "idem", batch(pid, 1, 1, [b"e"])), (0, 4))
            self.assertEqual(log_end(c, "idem"), 5)

    def test_librdkafka_idempotent_producer(self):
        bs = self.broker.bootstrap
        p = Producer({"bootstrap.servers": bs, "enable.idempotence": True, "linger.ms": 2})
        for i in range(2000):
            p.produce("idem-rdk", value=b"v-%d" % i)
        self.assertEqual(p.flush(30), 0)
        del p
        c = Consumer({"bootstrap.servers": bs, "group.id": "x", "enable.auto.commit": False})
        c.assign([TopicPartition("idem-rdk", 0, 0)])
        got = []
        while len(got) < 2000:
            m = c.poll(5)
            self.assertIsNotNone(m)
            got.append(m.value())
        c.close()
        self.assertEqual(got, [b"v-%d" % i for i in range(2000)])


if __name__ == "__main__":
    unittest.main()
