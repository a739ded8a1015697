"""Hostile batches through a real broker: every record-batch regression input
the fuzzers keep (tests/fuzz/regressions/record_batch/, one per fault class
hostile input ever found) is produced on the wire and must get its Kafka
error, append nothing and cost the broker no more memory than a batch's
window; afterwards librdkafka's consumer reads the partition, every good
record exactly once, in order. Then the request-level regressions: a
frame whose array count claims a million elements, and bytes after a
request body (answered, as Kafka does)."""
import os
import struct
import time
import unittest

from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.util import calc_crc32c

from kwire import RawClient
from rill import Broker, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REGRESSIONS = os.path.join(HERE, "regressions")

INVALID_RECORD = 87
MESSAGE_TOO_LARGE = 10

# What each regression input must be answered with. A new input without an
# entry fails the test: every fault class gets a wire expectation.
EXPECTED = {
    "gzip-is-zlib": INVALID_RECORD,
    "gzip-two-members": INVALID_RECORD,
    "lz4-linked-blocks": INVALID_RECORD,
    "snappy-declares-256mib": INVALID_RECORD,
    "snappy-empty-block": INVALID_RECORD,
    "snappy-xerial-no-blocks": INVALID_RECORD,
    "stream-fault-seen-alike-at-any-window": INVALID_RECORD,
    "timestamp-overflow": INVALID_RECORD,
    "zstd-bomb-200mb-value": MESSAGE_TOO_LARGE,
    "zstd-content-size-lie": INVALID_RECORD,
    "zstd-empty-compressed-block": INVALID_RECORD,
    "zstd-stream-laxer-than-its-frame": INVALID_RECORD,
    "zstd-two-frames": INVALID_RECORD,
}


def load_batch(path):
    """A record_batch harness input: a flags byte, then the batch. Flag 1
    fixes the length field, flag 2 the CRC (the harness does the same)."""
    with open(path, "rb") as f:
        data = f.read()
    flags, batch = data[0], bytearray(data[1:])
    if flags & 1:
        batch[8:12] = struct.pack(">i", len(batch) - 12)
    if flags & 2:
        batch[17:21] = struct.pack(">I", calc_crc32c(bytes(batch[21:])))
    return bytes(batch)


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def log_end(c, topic):
    resp = c.request(OffsetRequest[1](replica_id=-1, topics=[(topic, [(0, -1)])]))
    return resp.topics[0][1][0][3]


def produce_v8(c, topic, batch):
    """Returns (error code, error message) of the one partition. Parsed by
    hand: kafka-python 2.0.2's v8 response schema lacks the error fields."""
    req = ProduceRequest[8](transactional_id=None, required_acks=-1, timeout=10000,
                            topics=[(topic, [(0, batch)])])
    corr = c.send_request(req)
    got, p = c.recv()
    assert got == corr
    pos = 4                                             # topics count
    (name_len,) = struct.unpack_from(">h", p, pos)
    pos += 2 + name_len + 4                             # name, partitions count
    error, = struct.unpack_from(">h", p, pos + 4)       # after the index
    pos += 4 + 2 + 8 + 8 + 8                            # index .. log start offset
    (nerrors,) = struct.unpack_from(">i", p, pos)
    pos += 4
    for _ in range(max(nerrors, 0)):
        (n,) = struct.unpack_from(">h", p, pos + 4)
        pos += 4 + 2 + max(n, 0)
    (n,) = struct.unpack_from(">h", p, pos)
    message = p[pos + 2:pos + 2 + n].decode() if n >= 0 else None
    return error, message


class HostileBatches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--num.partitions=1", "--message.max.bytes=8388608"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def produce_good(self, topic, values, compression):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "compression.type": compression,
                      "acks": "all", "linger.ms": 0})
        errors = []
        for v in values:
            p.produce(topic, v, partition=0,
                      on_delivery=lambda err, msg: errors.append(err) if err else None)
            p.flush(10)
        self.assertEqual(p.flush(10), 0)
        self.assertEqual(errors, [])

    def test_every_regression_batch_is_refused_and_the_partition_stays_readable(self):
        topic = "hostile"
        names = sorted(os.listdir(os.path.join(REGRESSIONS, "record_batch")))
        self.assertGreaterEqual(len(names), 10)
        unexpected = [n for n in names if n not in EXPECTED]
        self.assertEqual(unexpected, [], "regression inputs without a wire expectation")

        good = []
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            values = [("%s-before-%d" % (codec, i)).encode() for i in range(3)]
            self.produce_good(topic, values, codec)
            good += values

        pid = self.broker.proc.pid
        with RawClient(self.broker.port, timeout=30) as c:
            end = log_end(c, topic)
            self.assertEqual(end, len(good))
            hwm_before = vm_kib(pid, "VmHWM")
            for name in names:
                err, message = produce_v8(c, topic, load_batch(
                    os.path.join(REGRESSIONS, "record_batch", name)))
                self.assertEqual(err, EXPECTED[name], "%s answered %d (%s)" % (name, err, message))
                self.assertTrue(message, "%s: no error message" % name)
                self.assertEqual(log_end(c, topic), end, "%s: something was appended" % name)
                self.assertTrue(self.broker.alive(), self.broker.log()[-3000:])
            grown_mib = (vm_kib(pid, "VmHWM") - hwm_before) / 1024
        # The 200 MB zstd value and the snappy block that declares 256 MiB
        # cost a window and a codec's state, never what they claim.
        print("\n  %d regression batches refused; peak RSS grew by %.1f MiB"
              % (len(names), grown_mib))
        self.assertLess(grown_mib, 16, "peak RSS grew by %.0f MiB" % grown_mib)

        for codec in ("zstd", "none"):
            values = [("%s-after-%d" % (codec, i)).encode() for i in range(2)]
            self.produce_good(topic, values, codec)
            good += values

        from confluent_kafka import Consumer, TopicPartition
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "hostile",
                             "enable.auto.commit": False, "check.crcs": True})
        consumer.assign([TopicPartition(topic, 0, 0)])
        seen = []
        def read_all():
            msg = consumer.poll(0.5)
            if msg is not None:
                self.assertIsNone(msg.error(), msg.error())
                seen.append((msg.offset(), msg.value()))
            return len(seen) >= len(good)
        wait_until(read_all, timeout=30, what="librdkafka to read the partition")
        consumer.close()
        self.assertEqual([v for _, v in seen], good)
        self.assertEqual([o for o, _ in seen], list(range(len(good))))

    def test_a_producer_id_with_a_negative_sequence_is_invalid(self):
        from kafka.record.default_records import DefaultRecordBatchBuilder
        b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                      producer_id=5, producer_epoch=0, base_sequence=-7,
                                      batch_size=1 << 20)
        b.append(0, timestamp=1700000000000, key=None, value=b"v", headers=[])
        with RawClient(self.broker.port) as c:
            err, message = produce_v8(c, "seq", bytes(b.build()))
            self.assertEqual(err, INVALID_RECORD)
            self.assertIn("sequence", message)
            self.assertEqual(log_end(c, "seq"), 0)

    def test_a_group_id_with_a_nul_is_invalid(self):
        """Regression (the bad-input fuzzer under ASan): a group id with a NUL
        in it was copied up to the NUL and then read for its full length."""
        from kafka.protocol.commit import OffsetCommitRequest
        from kafka.protocol.group import JoinGroupRequest
        protocols = [("range", b"\x00\x00\x00\x00\x00\x01\x00\x01t\x00\x00\x00\x00")]
        with RawClient(self.broker.port) as c:
            resp = c.request(JoinGroupRequest[0](group="ab\x00cdefg", session_timeout=6000,
                                                 member_id="", protocol_type="consumer",
                                                 group_protocols=protocols))
            self.assertEqual(resp.error_code, 24)  # INVALID_GROUP_ID
            resp = c.request(OffsetCommitRequest[2](
                consumer_group="x\x00y", consumer_group_generation_id=-1, consumer_id="",
                retention_time=-1, topics=[("seq", [(0, 1, "")])]))
            self.assertEqual(resp.topics[0][1][0][1], 24)
        self.assertTrue(self.broker.alive())

    def test_a_long_poll_that_waits_on_nothing_is_finished_at_shutdown(self):
        """Regression (the bad-input fuzzer under LeakSanitizer): a Fetch
        naming a topic but no partition waits for its timer alone; at
        shutdown nothing answered it and it leaked."""
        from kafka.protocol.fetch import FetchRequest
        broker = Broker().start()
        try:
            c = RawClient(broker.port)
            c.send_request(FetchRequest[4](replica_id=-1, max_wait_time=60000, min_bytes=1,
                                           max_bytes=1 << 20, isolation_level=0,
                                           topics=[("nothing", [])]))
            time.sleep(0.3)
            t0 = time.monotonic()
            self.assertEqual(broker.stop(), 0)  # a leak fails this under ASan
            self.assertLess(time.monotonic() - t0, 20)
            c.close()
        finally:
            broker.cleanup()

    def test_an_array_count_that_claims_a_million_elements(self):
        with open(os.path.join(REGRESSIONS, "request", "array-claims-a-million"), "rb") as f:
            frame = f.read()
        pid = self.broker.proc.pid
        rss_before = vm_kib(pid, "VmRSS")
        for _ in range(20):
            with RawClient(self.broker.port) as c:
                c.send_frame(frame)
                self.assertTrue(c.closed_by_peer(), "a malformed request must close")
        grown_mib = (vm_kib(pid, "VmRSS") - rss_before) / 1024
        self.assertLess(grown_mib, 16)
        self.assertIn("malformed Produce v3 request", self.broker.log())
        with RawClient(self.broker.port) as c:
            c.request(MetadataRequest[1](topics=None))

    def test_bytes_after_a_request_body_are_ignored_as_kafka_does(self):
        with open(os.path.join(REGRESSIONS, "request", "trailing-bytes"), "rb") as f:
            frame = f.read()
        with RawClient(self.broker.port) as c:
            for _ in range(3):
                c.send_frame(frame)
                corr, payload = c.recv()
                self.assertEqual(corr, 7)
                resp = MetadataRequest[1].RESPONSE_TYPE.decode(__import__("io").BytesIO(payload))
                self.assertGreaterEqual(len(resp.brokers), 1)
        self.assertEqual(self.broker.log().count("bytes after its body"), 1)


if __name__ == "__main__":
    unittest.main()
