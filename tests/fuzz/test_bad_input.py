"""Bad input: at least 10,000 random and mutated frames against a live
broker. Each one must be answered or make the broker close the
connection; the broker must never crash or hang, must keep serving, and
must not lose or corrupt a record. Every frame comes from one seeded
generator (RILL_FUZZ_SEED overrides the seed), so a failure reproduces
exactly.

Categories: garbage frames, truncated frames, impossible sizes (negative,
tiny, above socket.request.max.bytes), unknown API keys and versions,
random bit flips in valid requests of every API the broker serves (a
test checks the list against ApiVersions), inflated length fields,
bad topic names, and Produce batches with wrong CRCs (CORRUPT_MESSAGE,
nothing appended)."""
import io
import os
import random
import socket
import struct
import time
import unittest

from kafka.protocol.admin import (AlterConfigsRequest, ApiVersionRequest, CreatePartitionsRequest,
                                  CreateTopicsRequest, DeleteGroupsRequest,
                                  DeleteTopicsRequest, DescribeConfigsRequest,
                                  DescribeGroupsRequest, ListGroupsRequest)
from kafka.protocol.commit import (GroupCoordinatorRequest, OffsetCommitRequest,
                                   OffsetFetchRequest)
from kafka.protocol.group import (HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
                                  SyncGroupRequest)
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire import Closed, RawClient
from rill import Broker

SEED = int(os.environ.get("RILL_FUZZ_SEED", "20261125"))
FRAMES = int(os.environ.get("RILL_FUZZ_FRAMES", "10000"))
MAX_REQUEST = 1 << 20  # the broker under test runs with socket.request.max.bytes = 1 MiB


def enc(request):
    """kafka-python's encode() holds its object weakly: keep it alive here."""
    return request.encode()


def record_batch(values, codec=0):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    for i, v in enumerate(values):
        b.append(i, timestamp=1700000000000 + i, key=b"k", value=v, headers=[])
    return bytes(b.build())


def produce_request(version, topic, batch, acks=1):
    cls = ProduceRequest[version]
    return cls(required_acks=acks, timeout=5000, topics=[(topic, [(0, batch)])]) \
        if version < 3 else cls(transactional_id=None, required_acks=acks, timeout=5000,
                                topics=[(topic, [(0, batch)])])


def fetch_request(version, topic):
    parts = [(0, 0, 1 << 20)] if version < 5 else [(0, 0, -1, 1 << 20)]
    if version >= 9:
        parts = [(0, -1, 0, -1, 1 << 20)]
    args = dict(replica_id=-1, max_wait_time=10, min_bytes=1, max_bytes=1 << 20,
                isolation_level=0, topics=[(topic, parts)])
    if version >= 7:
        args.update(session_id=0, session_epoch=-1, forgotten_topics_data=[])
    if version >= 11:
        args.update(rack_id="")
    return FetchRequest[version](**args)


def valid_requests(topic):
    """(api_key, version, body) for a valid request of every served API."""
    out = []
    for v in range(3):
        out.append((18, v, enc(ApiVersionRequest[v]())))
    out.append((18, 3, b"\x05rill\x04x.y\x00"))
    for v in range(6):
        topics = [topic] if v else [topic]
        args = {"topics": topics}
        if v >= 4:
            args["allow_auto_topic_creation"] = False
        out.append((3, v, enc(MetadataRequest[v](**args))))
    batch = record_batch([b"fuzz-%d" % i for i in range(3)])
    for v in range(3, 8):
        out.append((0, v, enc(produce_request(v, topic, batch))))
    for v in range(4, 11):
        out.append((1, v, enc(fetch_request(v, topic))))
    # Fetch v12, flexible (kafka-python 2.0.2 has no schema for it): one
    # partition from offset 0 with LastFetchedEpoch, as a follower sends.
    t = topic.encode()
    part = struct.pack(">iiqiqi", 0, -1, 0, -1, -1, 1 << 20) + b"\x00"
    fetch12 = (struct.pack(">iiiibii", -1, 10, 1, 1 << 20, 0, 0, -1) + bytes([2, len(t) + 1]) +
               t + bytes([2]) + part + b"\x00" + bytes([1, 1]) + b"\x00")
    out.append((1, 12, fetch12))
    # OffsetForLeaderEpoch v2-v3 (replica id from v3) and v4 (flexible).
    epoch_part = struct.pack(">iii", 0, -1, 0)
    epoch_topics = struct.pack(">ih", 1, len(t)) + t + struct.pack(">i", 1) + epoch_part
    out.append((23, 2, epoch_topics))
    out.append((23, 3, struct.pack(">i", -1) + epoch_topics))
    out.append((23, 4, struct.pack(">i", -1) + bytes([2, len(t) + 1]) + t + bytes([2]) +
                epoch_part + b"\x00\x00\x00"))
    for v in range(1, 6):
        parts = [(0, -1)] if v < 4 else [(0, -1, -1)]
        args = dict(replica_id=-1, topics=[(topic, parts)])
        if v >= 2:
            args["isolation_level"] = 0
        out.append((2, v, enc(OffsetRequest[v](**args))))
    for v in (2, 3):
        out.append((19, v, enc(CreateTopicsRequest[v](
            create_topic_requests=[("made-by-fuzz", 1, 1, [], [])], timeout=1000,
            validate_only=True))))
    for v in (1, 2):
        out.append((32, v, enc(DescribeConfigsRequest[v](
            resources=[(2, topic, None)], include_synonyms=True))))
    group = "fuzz-group"
    out.append((8, 2, enc(OffsetCommitRequest[2](
        consumer_group=group, consumer_group_generation_id=-1, consumer_id="",
        retention_time=-1, topics=[(topic, [(0, 1, "")])]))))
    for v in (1, 2, 3):
        out.append((9, v, enc(OffsetFetchRequest[v](consumer_group=group,
                                                    topics=[(topic, [0])]))))
    out.append((10, 0, enc(GroupCoordinatorRequest[0](consumer_group=group))))
    out.append((10, 1, enc(GroupCoordinatorRequest[1](coordinator_key=group,
                                                      coordinator_type=0))))
    protocols = [("range", b"\x00\x00\x00\x00\x00\x01\x00\x04fuzz\x00\x00\x00\x00")]
    out.append((11, 0, enc(JoinGroupRequest[0](group=group, session_timeout=6000, member_id="",
                                               protocol_type="consumer",
                                               group_protocols=protocols))))
    for v in (1, 2):
        out.append((11, v, enc(JoinGroupRequest[v](
            group=group, session_timeout=6000, rebalance_timeout=6000, member_id="",
            protocol_type="consumer", group_protocols=protocols))))
    for v in (0, 1):
        out.append((14, v, enc(SyncGroupRequest[v](group=group, generation_id=1,
                                                   member_id="m", group_assignment=[]))))
        out.append((12, v, enc(HeartbeatRequest[v](group=group, generation_id=1,
                                                   member_id="m"))))
        out.append((13, v, enc(LeaveGroupRequest[v](group=group, member_id="m"))))
    for v in range(3):
        out.append((15, v, enc(DescribeGroupsRequest[v](groups=[group]))))
        out.append((16, v, enc(ListGroupsRequest[v]())))
    for v in (1, 2, 3):
        out.append((20, v, enc(DeleteTopicsRequest[v](topics=["fuzz-doomed"], timeout=1000))))
    for v in (0, 1):
        out.append((37, v, enc(CreatePartitionsRequest[v](
            topic_partitions=[(topic, (2, None))], timeout=1000, validate_only=True))))
    for v in (0, 1):
        out.append((42, v, enc(DeleteGroupsRequest[v](groups_names=[group]))))
        # InitProducerId v0/v1 (kafka-python has no class): transactional id
        # null, transaction timeout.
        out.append((22, v, struct.pack(">hi", -1, 60000)))
    for v in (0, 1):
        out.append((33, v, enc(AlterConfigsRequest[v](
            resources=[(2, topic, [("retention.ms", "86400000")])], validate_only=True))))
    # IncrementalAlterConfigs v0 and DescribeCluster v0-2 (no kafka-python
    # classes): one topic resource setting retention.ms, validate only; the
    # flexible DescribeCluster with its empty tag section.
    t = topic.encode()
    key, val = b"retention.ms", b"86400000"
    out.append((44, 0, struct.pack(">ibh", 1, 2, len(t)) + t + struct.pack(">ih", 1, len(key)) +
                key + struct.pack(">bh", 0, len(val)) + val + b"\x01"))
    out.append((60, 0, b"\x00\x00"))
    out.append((60, 1, b"\x00\x01\x00"))
    out.append((60, 2, b"\x00\x01\x01\x00"))
    # DescribeQuorum v0-2 (flexible; no kafka-python class): the metadata
    # quorum's partition, compact encodings, empty tag sections.
    name = b"__cluster_metadata"
    quorum = bytes([2, len(name) + 1]) + name + bytes([2]) + struct.pack(">i", 0) + b"\0\0\0"
    for v in (0, 1, 2):
        out.append((55, v, quorum))
    return out


def header(api_key, version, corr, flexible):
    h = struct.pack(">hhih", api_key, version, corr, 4) + b"fuzz"
    return h + (b"\x00" if flexible else b"")


FLEXIBLE_FROM = {18: 3, 3: 9, 0: 9, 1: 12, 23: 4, 2: 6, 19: 5, 32: 4, 8: 8, 9: 6, 10: 3, 11: 6,
                 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 20: 4, 22: 2, 33: 2, 37: 2, 42: 2, 44: 1,
                 55: 0, 60: 0}


def frame_for(api_key, version, body, corr):
    flexible = version >= FLEXIBLE_FROM.get(api_key, 99)
    payload = header(api_key, version, corr, flexible) + body
    return struct.pack(">i", len(payload)) + payload


class Fuzzer:
    def __init__(self, rng, topic):
        self.rng = rng
        self.valid = valid_requests(topic)
        self.corr = 1000

    def next_corr(self):
        self.corr += 1
        return self.corr

    def mutate(self, data):
        data = bytearray(data)
        kind = self.rng.randrange(4)
        if kind == 0 and data:      # bit flips
            for _ in range(self.rng.randint(1, 8)):
                i = self.rng.randrange(len(data))
                data[i] ^= 1 << self.rng.randrange(8)
        elif kind == 1 and data:    # truncate
            del data[self.rng.randrange(len(data)):]
        elif kind == 2:             # inflate a length-looking field
            if len(data) >= 4:
                i = self.rng.randrange(len(data) - 3)
                data[i:i + 4] = struct.pack(">i", self.rng.choice(
                    [0x7fffffff, -2, 0x10000, -1, 0x7fff, 1 << 20]))
        else:                       # splice in random bytes
            i = self.rng.randrange(len(data) + 1)
            data[i:i] = self.rng.randbytes(self.rng.randint(1, 16))
        return bytes(data)

    def frame(self):
        """Returns (category, bytes to send, expectation): "answer" when a
        reply is required, "any" when a reply or a close are both fine,
        "close" when the broker must close."""
        r = self.rng.random()
        corr = self.next_corr()
        if r < 0.55:
            api_key, version, body = self.rng.choice(self.valid)
            return "mutated", frame_for(api_key, version, self.mutate(body), corr), "any"
        if r < 0.65:
            body = self.rng.randbytes(self.rng.randint(0, 300))
            return "garbage", struct.pack(">i", len(body)) + body, "any"
        if r < 0.72:
            api_key, version, body = self.rng.choice(self.valid)
            payload = frame_for(api_key, version, body, corr)[4:]
            cut = payload[:self.rng.randrange(len(payload))]
            return "truncated", struct.pack(">i", len(cut)) + cut, "any"
        if r < 0.77:
            size = self.rng.choice([MAX_REQUEST + 1, 0x7fffffff, -1, -100000, 0, 3, 7])
            return "bad-size", struct.pack(">i", size) + self.rng.randbytes(16), "close"
        if r < 0.82:
            api_key = self.rng.choice([-1, 4, 5, 6, 7, 99, 1000, 32767, -32768])
            return "unknown-key", frame_for(api_key, 0, b"", corr), "close"
        if r < 0.87:
            api_key, version = self.rng.choice([(3, 99), (0, 50), (1, 3), (1, 99), (2, 0),
                                                (19, 1), (32, 0), (20, 9)])
            return "bad-version", frame_for(api_key, version, self.rng.randbytes(8), corr), "close"
        if r < 0.92:
            name = self.rng.choice(["", ".", "..", "a/b", "x" * 300, "tab\tname", "\u00e9t\u00e9",
                                    "../../etc", "a b", "\x00"])
            api = self.rng.randrange(3)
            if api == 0:
                body = enc(MetadataRequest[1](topics=[name]))
                return "bad-name", frame_for(3, 1, body, corr), "answer"
            if api == 1:
                body = enc(CreateTopicsRequest[2](create_topic_requests=[(name, 1, 1, [], [])],
                                                  timeout=1000, validate_only=False))
                return "bad-name", frame_for(19, 2, body, corr), "answer"
            batch = record_batch([b"x"])
            body = enc(produce_request(3, name, batch))
            return "bad-name", frame_for(0, 3, body, corr), "answer"
        version = self.rng.choice([99, 5, 1000])
        return "api-versions-too-new", frame_for(18, version, b"", corr), "answer"


def health_check(port):
    with RawClient(port, timeout=10) as c:
        resp = c.request(ApiVersionRequest[0]())
        assert resp.error_code == 0
        c.request(MetadataRequest[1](topics=None))


def send_and_observe(port, data, expect, wait_s):
    """Sends data on a fresh connection and returns what happened:
    "answer", "closed" or "silent"."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
    try:
        s.sendall(data)
        deadline = time.monotonic() + wait_s
        buf = b""
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                return "closed"
            if not chunk:
                return "answer" if len(buf) >= 4 else "closed"
            buf += chunk
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
                return "answer"
        return "silent"
    finally:
        s.close()


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--socket.request.max.bytes=%d" % MAX_REQUEST,
                                  "--group.initial.rebalance.delay.ms=0"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def test_10000_random_and_mutated_frames(self):
        port = self.broker.port
        with RawClient(port) as c:
            c.request(produce_request(3, "fuzz", record_batch([b"a", b"b", b"c"])))
        rng = random.Random(SEED)
        fuzzer = Fuzzer(rng, "fuzz")
        seen = {}
        sent = 0
        start = time.monotonic()
        for i in range(FRAMES):
            category, data, expect = fuzzer.frame()
            # A mutated Fetch may long-poll, a JoinGroup wait for its group:
            # give up waiting on those soon.
            outcome = send_and_observe(port, data, expect, 5.0 if expect != "any" else 0.5)
            sent += 1
            seen.setdefault(category, {}).setdefault(outcome, 0)
            seen[category][outcome] += 1
            if expect == "close":
                self.assertEqual(outcome, "closed", "frame %d (%s) was not refused" % (i, category))
            elif expect == "answer":
                self.assertEqual(outcome, "answer", "frame %d (%s) got no answer" % (i, category))
            self.assertTrue(self.broker.alive(), "broker died at frame %d (%s):\n%s"
                            % (i, category, self.broker.log()[-3000:]))
            if i % 500 == 0:
                health_check(port)
        elapsed = time.monotonic() - start
        print("\n  %d frames in %.1fs, seed %d: %s" % (sent, elapsed, SEED, seen))
        self.assertGreaterEqual(sent, 10000 if "RILL_FUZZ_FRAMES" not in os.environ else 1)
        silent = sum(o.get("silent", 0) for o in seen.values())
        self.assertLess(silent, sent // 20, "too many frames got neither answer nor close")
        health_check(port)

        # The data written before the storm is still there, intact (kafka-python
        # checks every CRC as it consumes).
        from kafka import KafkaConsumer, TopicPartition
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap,
                                 consumer_timeout_ms=3000, check_crcs=True)
        tp = TopicPartition("fuzz", 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values = [m.value for m in consumer]
        consumer.close()
        self.assertEqual(values[:3], [b"a", b"b", b"c"])

    def test_every_served_api_is_fuzzed_and_runs_reproduce_from_the_seed(self):
        with RawClient(self.broker.port) as c:
            served = {k[0] for k in c.request(ApiVersionRequest[0]()).api_versions}
        fuzzed = {api_key for api_key, _, _ in valid_requests("fuzz")}
        self.assertEqual(served - fuzzed, set(), "served APIs the fuzzer never sends")
        a = Fuzzer(random.Random(SEED), "fuzz")
        b = Fuzzer(random.Random(SEED), "fuzz")
        self.assertEqual([a.frame() for _ in range(500)], [b.frame() for _ in range(500)])

    def test_wrong_crc_is_refused_and_nothing_appended(self):
        port = self.broker.port
        with RawClient(port) as c:
            good = record_batch([b"one", b"two"])
            resp = c.request(produce_request(3, "crc", good))
            self.assertEqual(resp.topics[0][1][0][1], 0)
            for i in range(50):
                bad = bytearray(record_batch([b"value-%d" % i] * 3))
                bad[-1 - (i % 10)] ^= 0x01          # inside the CRC-covered records
                resp = c.request(produce_request(3 + i % 5, "crc", bytes(bad)))
                err = resp.topics[0][1][0][1]
                self.assertEqual(err, 2, "CORRUPT_MESSAGE expected, got %d" % err)
            # A corrupt CRC field itself.
            bad = bytearray(good)
            bad[17] ^= 0xff
            resp = c.request(produce_request(3, "crc", bytes(bad)))
            self.assertEqual(resp.topics[0][1][0][1], 2)
            # Nothing was appended: the log end is still 2.
            resp = c.request(OffsetRequest[1](replica_id=-1, topics=[("crc", [(0, -1)])]))
            self.assertEqual(resp.topics[0][1][0][3], 2)

    def test_two_batches_in_one_partition_are_invalid(self):
        with RawClient(self.broker.port) as c:
            two = record_batch([b"a"]) + record_batch([b"b"])
            resp = c.request(produce_request(3, "twice", two))
            self.assertEqual(resp.topics[0][1][0][1], 87)  # INVALID_RECORD

    def test_oversized_frame_closes_before_buffering(self):
        with RawClient(self.broker.port) as c:
            c.send_raw(struct.pack(">i", MAX_REQUEST + 1))
            self.assertTrue(c.closed_by_peer())
        health_check(self.broker.port)


if __name__ == "__main__":
    unittest.main()
