"""The compatibility pitfalls of ../shared/reference/kafka-protocol.md §8,
each checked on the wire against a live broker (the client-level ones also
run through real clients in the other test files)."""
import io
import struct
import threading
import time
import unittest

from confluent_kafka import Producer
from kafka.protocol.admin import ApiVersionRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from kwire import RawClient
from rill import Broker

# What the broker must advertise (kafka-protocol.md §1): key -> (min, max).
EXPECTED_APIS = {0: (0, 8), 1: (4, 12), 23: (2, 4), 2: (1, 5), 3: (0, 8), 8: (2, 7), 9: (1, 5),
                 10: (0, 2), 11: (0, 5), 12: (0, 3), 13: (0, 3), 14: (0, 3), 15: (0, 4),
                 16: (0, 2), 18: (0, 4), 19: (2, 4), 20: (1, 3), 22: (0, 1), 32: (1, 3),
                 33: (0, 2), 37: (0, 3), 42: (0, 1), 44: (0, 1), 55: (0, 2), 60: (0, 2)}


def batch(values, ts=1700000000000):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    for i, v in enumerate(values):
        b.append(i, timestamp=ts + i, key=None, value=v, headers=[])
    return bytes(b.build())


def produce(c, topic, values, acks=1, partition=0):
    return c.request(ProduceRequest[3](transactional_id=None, required_acks=acks, timeout=5000,
                                       topics=[(topic, [(partition, batch(values))])]))


def fetch(c, topic, offset, max_wait=0, min_bytes=1, partition_max=1 << 20, partitions=(0,),
          version=4):
    return c.request(FetchRequest[version](
        replica_id=-1, max_wait_time=max_wait, min_bytes=min_bytes, max_bytes=1 << 24,
        isolation_level=0, topics=[(topic, [(p, offset, partition_max) for p in partitions])]))


class Protocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--num.partitions=1"]).start()
        with RawClient(cls.broker.port) as c:
            produce(c, "base", [b"a", b"b", b"c"])

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def client(self):
        return RawClient(self.broker.port)

    def test_advertised_apis_are_exactly_the_served_ones(self):
        with self.client() as c:
            resp = c.request(ApiVersionRequest[0]())
        got = {k: (lo, hi) for k, lo, hi in resp.api_versions}
        self.assertEqual(got, EXPECTED_APIS)
        self.assertEqual(got[0][0], 0)    # Produce from 0: librdkafka keeps compressing
        self.assertEqual(got[10][0], 0)   # FindCoordinator from 0: librdkafka keeps LZ4
        self.assertEqual(got[23], (2, 4))  # OffsetForLeaderEpoch: v3+ for Java's validation

    def test_api_versions_v3_answer_has_a_v0_header(self):
        with self.client() as c:
            corr = c.send(18, 3, b"\x05rill\x06x.y.z\x00", flexible=True)
            got, payload = c.recv()
        self.assertEqual(got, corr)
        # error code right after the correlation id: no tag byte in between
        self.assertEqual(payload[:2], b"\x00\x00")
        count = payload[2] - 1
        self.assertEqual(count, len(EXPECTED_APIS))

    def test_unsupported_api_versions_version_gets_error_35_in_v0_form(self):
        with self.client() as c:
            corr = c.send(18, 9, b"\x00", flexible=True)
            got, payload = c.recv()
            self.assertEqual(got, corr)
            self.assertEqual(payload, struct.pack(">hihhh", 35, 1, 18, 0, 4))
            # and the connection still works for the retry
            self.assertEqual(c.request(ApiVersionRequest[0]()).error_code, 0)

    def test_header_v2_client_id_keeps_int16_length(self):
        # librdkafka's ApiVersions v3 header: client id "rdkafka" as a classic string.
        with RawClient(self.broker.port, client_id=b"rdkafka") as c:
            c.send(18, 3, b"\x0blibrdkafka\x062.0.2\x00", flexible=True)
            _, payload = c.recv()
        self.assertEqual(payload[:2], b"\x00\x00")

    def test_pipelined_api_versions_and_metadata_answered_in_order(self):
        with self.client() as c:
            c.client_id = b"kafka-python-2.0.2"
            body_av = ApiVersionRequest[0]()
            body_md = MetadataRequest[0](topics=[])
            frames = b""
            for corr, req in ((1, body_av), (2, body_md)):
                payload = c.header(req.API_KEY, req.API_VERSION, corr) + req.encode()
                frames += struct.pack(">i", len(payload)) + payload
            c.send_raw(frames)
            first, p1 = c.recv()
            second, p2 = c.recv()
        self.assertEqual((first, second), (1, 2))
        md = MetadataRequest[0].RESPONSE_TYPE.decode(io.BytesIO(p2))
        self.assertIn("base", [t[1] for t in md.topics])  # v0 empty list = all topics

    def test_metadata_topic_selection_and_auto_creation(self):
        with self.client() as c:
            v1_all = c.request(MetadataRequest[1](topics=None))
            names = [t[1] for t in v1_all.topics]
            self.assertIn("base", names)
            v1_none = c.request(MetadataRequest[1](topics=[]))
            self.assertEqual(v1_none.topics, [])
            # All-topics requests never create anything.
            self.assertNotIn("auto-1", names)
            # v1 with a name creates it, with its leader, in the same answer.
            created = c.request(MetadataRequest[1](topics=["auto-1"]))
            t = created.topics[0]
            self.assertEqual((t[0], t[1]), (0, "auto-1"))
            self.assertEqual(t[3][0][2], 1)  # partition 0 led by node 1
            # v4 with allow_auto_topic_creation=false does not.
            no = c.request(MetadataRequest[4](topics=["auto-2"], allow_auto_topic_creation=False))
            self.assertEqual(no.topics[0][0], 3)
            # Bad names are refused with INVALID_TOPIC_EXCEPTION.
            bad = c.request(MetadataRequest[1](topics=["bad/name"]))
            self.assertEqual(bad.topics[0][0], 17)

    def test_internal_topic_cannot_be_created_by_hand(self):
        from kafka.protocol.admin import CreateTopicsRequest
        with self.client() as c:
            resp = c.request(CreateTopicsRequest[2](
                create_topic_requests=[("__consumer_offsets", 1, 1, [], [])], timeout=1000,
                validate_only=False))
            self.assertEqual(resp.topic_errors[0][1], 42)
            # Named in Metadata it is created as the internal topic it is.
            md = c.request(MetadataRequest[1](topics=["__consumer_offsets"]))
            t = md.topics[0]
            self.assertEqual((t[0], t[2]), (0, True))
            self.assertEqual(len(t[3]), 50)

    def test_controller_brokers_cluster_id_and_throttle(self):
        with self.client() as c:
            md = c.request(MetadataRequest[5](topics=None, allow_auto_topic_creation=False))
        self.assertEqual(md.throttle_time_ms, 0)
        brokers = {b[0]: (b[1], b[2]) for b in md.brokers}
        self.assertIn(md.controller_id, brokers)
        self.assertEqual(brokers[md.controller_id], ("127.0.0.1", self.broker.port))
        self.assertTrue(md.cluster_id)
        # The cluster id survives a restart.
        self.broker.restart()
        with self.client() as c:
            md2 = c.request(MetadataRequest[5](topics=None, allow_auto_topic_creation=False))
        self.assertEqual(md2.cluster_id, md.cluster_id)

    def test_fetch_long_poll_waits_then_answers_and_wakes_on_produce(self):
        with self.client() as c:
            produce(c, "poll", [b"x"])
            start = time.monotonic()
            resp = fetch(c, "poll", 1, max_wait=600)
            waited = time.monotonic() - start
            self.assertGreaterEqual(waited, 0.5)
            self.assertLess(waited, 5)
            part = resp.topics[0][1][0]
            self.assertEqual(part[1], 0)       # no error
            self.assertEqual(part[-1], b"")     # records empty, never null

            # A produce wakes a waiting fetch long before max_wait.
            def later():
                time.sleep(0.3)
                with self.client() as p:
                    produce(p, "poll", [b"y"])
            t = threading.Thread(target=later)
            t.start()
            start = time.monotonic()
            resp = fetch(c, "poll", 1, max_wait=20000)
            woke = time.monotonic() - start
            t.join()
            self.assertLess(woke, 10)
            records = MemoryRecords(resp.topics[0][1][0][-1])
            self.assertTrue(records.has_next())

    def test_every_requested_partition_is_answered(self):
        with self.client() as c:
            resp = fetch(c, "base", 0, partitions=(0, 5), version=10 if False else 4)
            parts = resp.topics[0][1]
            self.assertEqual([p[0] for p in parts], [0, 5])
            self.assertEqual(parts[1][1], 3)          # unknown partition: error 3
            self.assertEqual(parts[1][-1], b"")       # still not null
            resp = c.request(FetchRequest[4](
                replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=1 << 20,
                isolation_level=0, topics=[("base", [(0, 0, 1 << 20)]),
                                           ("no-such-topic", [(0, 0, 1 << 20)])]))
            self.assertEqual([t[0] for t in resp.topics], ["base", "no-such-topic"])
            self.assertEqual(resp.topics[1][1][0][1], 3)

    def test_first_batch_is_whole_even_above_the_limits(self):
        with self.client() as c:
            produce(c, "big", [b"z" * 5000])
            resp = fetch(c, "big", 0, partition_max=1)
            data = resp.topics[0][1][0][-1]
            self.assertGreater(len(data), 5000)
            records = MemoryRecords(data)
            b = records.next_batch()
            self.assertEqual([r.value for r in b], [b"z" * 5000])

    def test_offset_out_of_range(self):
        with self.client() as c:
            resp = fetch(c, "base", 99)
            self.assertEqual(resp.topics[0][1][0][1], 1)

    def test_leader_epoch_checks(self):
        with self.client() as c:
            # Metadata v7 (kafka-python 2.0.2 stops at v5): read the partition's
            # leader epoch by hand.
            c.send(3, 7, struct.pack(">ih", 1, 4) + b"base" + b"\x00")
            _, p = c.recv()
            pos = 4
            nb = struct.unpack_from(">i", p, pos)[0]
            pos += 4
            for _ in range(nb):
                pos += 4
                pos += 2 + struct.unpack_from(">h", p, pos)[0]  # host
                pos += 4
                rack = struct.unpack_from(">h", p, pos)[0]
                pos += 2 + max(rack, 0)
            pos += 2 + struct.unpack_from(">h", p, pos)[0]      # cluster id
            pos += 4 + 4 + 2                                     # controller, 1 topic, error
            pos += 2 + struct.unpack_from(">h", p, pos)[0] + 1   # name, is_internal
            pos += 4                                             # 1 partition
            err, index, leader, epoch = struct.unpack_from(">hiii", p, pos)
            # Each restart of the broker re-registers it: fenced, then
            # unfenced, so its partitions change leader (to none and back)
            # and the epoch rises by two.
            self.assertEqual((err, index, leader), (0, 0, 1))
            self.assertEqual(epoch % 2, 0)
            checks = [(epoch, 0), (-1, 0), (epoch + 5, 75)]  # UNKNOWN_LEADER_EPOCH
            if epoch > 0:
                checks.append((epoch - 1, 74))  # FENCED_LEADER_EPOCH
            for current, expected in checks:
                resp = c.request(FetchRequest[9](
                    replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=1 << 20,
                    isolation_level=0, session_id=0, session_epoch=-1,
                    topics=[("base", [(0, current, 0, -1, 1 << 20)])], forgotten_topics_data=[]))
                self.assertEqual(resp.topics[0][1][0][1], expected)

    def test_offset_for_leader_epoch(self):
        """OffsetForLeaderEpoch v3 (by hand: kafka-python 2.0.2 has no
        schema for it): the current epoch ends at the log end, an epoch
        older than any batch ends where the first one began, and the same
        CurrentLeaderEpoch checks as Fetch apply."""
        p = Producer({"bootstrap.servers": self.broker.bootstrap})
        for i in range(5):
            p.produce("epochs", value=b"e%d" % i, partition=0)
        self.assertEqual(p.flush(20), 0)

        def ask(current, epoch):
            body = struct.pack(">ii", -1, 1) + struct.pack(">h", 6) + b"epochs" + \
                struct.pack(">iiii", 1, 0, current, epoch)
            with self.client() as c:
                c.send(23, 3, body)
                _, r = c.recv()
            # throttle, 1 topic, name, 1 partition: error, partition, epoch, end
            pos = 4 + 4 + 2 + 6 + 4
            return struct.unpack_from(">hiiq", r, pos)
        with self.client() as c:
            resp = c.request(OffsetRequest[4](
                replica_id=-1, isolation_level=0, topics=[("epochs", [(0, -1, -1)])]))
        leader_epoch = resp.topics[0][1][0][4]
        self.assertEqual(ask(leader_epoch, leader_epoch), (0, 0, leader_epoch, 5))
        self.assertEqual(ask(-1, leader_epoch), (0, 0, leader_epoch, 5))
        if leader_epoch > 0:
            err, _, epoch, end = ask(leader_epoch, 0)
            self.assertEqual((err, end), (0, 0))
        self.assertEqual(ask(leader_epoch + 3, leader_epoch)[0], 75)  # UNKNOWN_LEADER_EPOCH

    def test_acks_0_gets_no_answer_and_the_next_answer_is_right(self):
        with self.client() as c:
            req = ProduceRequest[3](transactional_id=None, required_acks=0, timeout=5000,
                                    topics=[("acks0", [(0, batch([b"quiet"]))])])
            body = req.encode()
            c.send(0, 3, body)
            corr = c.send_request(ApiVersionRequest[0]())
            got, _ = c.recv()
            self.assertEqual(got, corr)

    def test_acks_0_error_closes_the_connection(self):
        with self.client() as c:
            bad = bytearray(batch([b"bad"]))
            bad[-1] ^= 1
            req = ProduceRequest[3](transactional_id=None, required_acks=0, timeout=5000,
                                    topics=[("acks0", [(0, bytes(bad))])])
            body = req.encode()
            c.send(0, 3, body)
            self.assertTrue(c.closed_by_peer())

    def test_produce_v0_to_v2_refused(self):
        with self.client() as c:
            for v in (0, 1, 2):
                req = ProduceRequest[v](required_acks=1, timeout=1000,
                                        topics=[("old", [(0, batch([b"x"]))])])
                resp = c.request(req)
                self.assertEqual(resp.topics[0][1][0][1], 35)

    def test_zstd_needs_produce_v7(self):
        from kafka.record.util import calc_crc32c
        data = bytearray(batch([b"z"]))
        data[22] = (data[22] & ~7) | 4          # codec bits: zstd
        struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
        with self.client() as c:
            req = ProduceRequest[3](transactional_id=None, required_acks=1, timeout=5000,
                                    topics=[("zstd-old", [(0, bytes(data))])])
            self.assertEqual(c.request(req).topics[0][1][0][1], 76)

    def test_list_offsets_earliest_latest_and_time(self):
        with self.client() as c:
            produce(c, "lo", [b"a", b"b", b"c", b"d"])
            resp = c.request(OffsetRequest[1](replica_id=-1, topics=[("lo", [(0, -2), ])]))
            self.assertEqual(resp.topics[0][1][0][3], 0)
            resp = c.request(OffsetRequest[1](replica_id=-1, topics=[("lo", [(0, -1)])]))
            self.assertEqual(resp.topics[0][1][0][3], 4)
            resp = c.request(OffsetRequest[1](replica_id=-1,
                                              topics=[("lo", [(0, 1700000000002)])]))
            self.assertEqual(resp.topics[0][1][0][3], 2)
            self.assertEqual(resp.topics[0][1][0][2], 1700000000002)
            resp = c.request(OffsetRequest[1](replica_id=-1,
                                              topics=[("lo", [(0, 1800000000000)])]))
            self.assertEqual(resp.topics[0][1][0][3], -1)

    def test_log_append_time_topics(self):
        from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
        from kafka.admin import NewTopic
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            admin.create_topics([NewTopic("lat", 1, 1,
                                          topic_configs={"message.timestamp.type":
                                                         "LogAppendTime"})])
        finally:
            admin.close()
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap)
        before = int(time.time() * 1000)
        p.send("lat", value=b"x", timestamp_ms=1000).get(10)
        p.close()
        c = KafkaConsumer("lat", bootstrap_servers=self.broker.bootstrap,
                          auto_offset_reset="earliest", consumer_timeout_ms=5000,
                          check_crcs=True)
        msgs = list(c)
        c.close()
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0].timestamp_type, 1)  # LogAppendTime
        self.assertGreaterEqual(msgs[0].timestamp, before)


if __name__ == "__main__":
    unittest.main()
