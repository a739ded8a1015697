"""confluent-kafka (librdkafka 2.0.2, Debian python3-confluent-kafka):
producers with acks 0, 1 and all; consumers reading from the beginning and
from a timestamp."""
import time
import unittest

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from rill import Broker


def produce(bootstrap, topic, values, acks, timestamps=None, **extra):
    """Produces values; returns the delivery reports (err, partition, offset)."""
    reports = []
    conf = {"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    for i, v in enumerate(values):
        kw = {}
        if timestamps is not None:
            kw["timestamp"] = timestamps[i]
        p.produce(topic, value=v, key=b"k%d" % i,
                  on_delivery=lambda err, msg: reports.append(
                      (err, msg.partition(), msg.offset(), msg.value())), **kw)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0, "%d messages not delivered" % remaining
    return reports


def consume(bootstrap, topic, start, count, timeout=30):
    """Reads count messages from partition 0 starting at start (an offset,
    OFFSET_BEGINNING, or a TopicPartition from offsets_for_times)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        tp = start if isinstance(start, TopicPartition) else TopicPartition(topic, 0, start)
        c.assign([tp])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError("consumer error: %s" % m.error())
            out.append(m)
        return out
    finally:
        c.close()


class ConfluentKafka(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()
        cls.bs = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def check_acks(self, acks, topic):
        values = [b"value-%d" % i for i in range(500)]
        reports = produce(self.bs, topic, values, acks)
        self.assertEqual(len(reports), 500)
        for err, _, _, _ in reports:
            self.assertIsNone(err)
        if acks != 0:
            # Acknowledged offsets are exactly where each record landed.
            self.assertEqual(sorted(r[2] for r in reports), list(range(500)))
        msgs = consume(self.bs, topic, OFFSET_BEGINNING, 500)
        self.assertEqual([m.value() for m in msgs], values)
        self.assertEqual([m.offset() for m in msgs], list(range(500)))
        self.assertEqual([m.key() for m in msgs], [b"k%d" % i for i in range(500)])
        for err, _, offset, value in reports:
            if acks != 0:
                self.assertEqual(msgs[offset].value(), value)

    def test_acks_0(self):
        self.check_acks(0, "acks0")

    def test_acks_1(self):
        self.check_acks(1, "acks1")

    def test_acks_all(self):
        self.check_acks("all", "acksall")

    def test_consume_from_timestamp(self):
        base = int(time.time() * 1000) - 100000
        stamps = [base + i * 1000 for i in range(100)]
        produce(self.bs, "by-time", [b"t%d" % i for i in range(100)], 1, timestamps=stamps)
        c = Consumer({"bootstrap.servers": self.bs, "group.id": "unused",
                      "enable.auto.commit": False})
        try:
            found = c.offsets_for_times([TopicPartition("by-time", 0, base + 42500)], 10)
        finally:
            c.close()
        self.assertEqual(found[0].offset, 43)
        msgs = consume(self.bs, "by-time", found[0], 57)
        self.assertEqual([m.value() for m in msgs], [b"t%d" % i for i in range(43, 100)])
        self.assertEqual(msgs[0].timestamp()[1], base + 43000)
        # Later than every record: no offset (-1), as Kafka answers.
        c = Consumer({"bootstrap.servers": self.bs, "group.id": "unused"})
        try:
            late = c.offsets_for_times([TopicPartition("by-time", 0, base + 10 ** 9)], 10)
        finally:
            c.close()
        self.assertEqual(late[0].offset, -1)

    def test_compressed_produce_consume(self):
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            topic = "ck-" + codec
            values = [(b"%s-%d " % (codec.encode(), i)) * 20 for i in range(300)]
            produce(self.bs, topic, values, "all", **{"compression.type": codec})
            msgs = consume(self.bs, topic, OFFSET_BEGINNING, 300)
            self.assertEqual([m.value() for m in msgs], values)


if __name__ == "__main__":
    unittest.main()
