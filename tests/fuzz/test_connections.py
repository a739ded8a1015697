"""Connection and request limits as Kafka has them: max.connections.per.ip
(and its overrides) closes a connection past the limit at once,
max.connections makes new connections wait in the backlog until one
closes, connections.max.idle.ms closes idle ones, queued.max.requests caps
unanswered requests without counting long-polls parked on other clients,
a half-sent frame ties up its own connection and nothing else, and an
answer larger than the socket can take at once (a slow reader, a far
follower) goes out whole as the reader drains it."""
import socket
import struct
import threading
import time
import unittest

from kafka.protocol.admin import ApiVersionRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire import Closed, RawClient
from rill import Broker, wait_until


def api_versions_ok(port, timeout=5.0):
    with RawClient(port, timeout=timeout) as c:
        return c.request(ApiVersionRequest[0]()).error_code == 0


def accepted_again(port):
    """For wait_until: a new connection is served (False while the broker
    has not yet seen the close that frees a slot)."""
    try:
        return api_versions_ok(port)
    except (Closed, OSError):
        return False


def batch(value):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, timestamp=int(time.time() * 1000), key=None, value=value, headers=[])
    return bytes(b.build())


def produce(topic, value, acks=-1):
    return ProduceRequest[3](transactional_id=None, required_acks=acks, timeout=10000,
                             topics=[(topic, [(0, batch(value))])])


def held_client(port):
    """A connection that has been answered once. The broker may still count
    the helper's start-up probe for a moment, so a close is retried."""
    deadline = time.monotonic() + 5
    while True:
        c = RawClient(port)
        try:
            c.request(ApiVersionRequest[0]())
            return c
        except (Closed, OSError):  # closed, or reset while we were sending
            c.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Connections(unittest.TestCase):
    def test_max_connections_per_ip_closes_the_one_past_the_limit(self):
        with Broker(args=["--max.connections.per.ip=3"]) as b:
            held = [held_client(b.port) for _ in range(3)]
            extra = RawClient(b.port)
            self.assertTrue(extra.closed_by_peer(), "a 4th connection from 127.0.0.1 was kept")
            extra.close()
            wait_until(lambda: "Rejected connection from 127.0.0.1, address already has the "
                       "configured maximum of 3 connections." in b.log(), 5, what="the log line")
            held.pop().close()
            wait_until(lambda: accepted_again(b.port), 5, what="a slot to free up")
            for c in held:
                c.close()

    def test_per_ip_overrides_win(self):
        with Broker(args=["--max.connections.per.ip=1",
                          "--max.connections.per.ip.overrides=127.0.0.1:4"]) as b:
            held = [held_client(b.port) for _ in range(4)]
            extra = RawClient(b.port)
            self.assertTrue(extra.closed_by_peer())
            for c in held + [extra]:
                c.close()

    def test_max_connections_makes_new_ones_wait_in_the_backlog(self):
        with Broker(args=["--max.connections=3"]) as b:
            held = [held_client(b.port) for _ in range(3)]
            waiting = RawClient(b.port, timeout=1.0)  # the kernel's backlog takes it
            waiting.send_request(ApiVersionRequest[0]())
            with self.assertRaises(socket.timeout):
                waiting.recv()
            held.pop().close()
            waiting.sock.settimeout(10)
            corr, _ = waiting.recv()
            self.assertEqual(corr, waiting.corr)
            for c in held + [waiting]:
                c.close()

    def test_idle_connections_are_closed(self):
        with Broker(args=["--connections.max.idle.ms=300"]) as b:
            c = RawClient(b.port)
            c.request(ApiVersionRequest[0]())
            t0 = time.monotonic()
            self.assertTrue(c.closed_by_peer(timeout=5))
            self.assertGreater(time.monotonic() - t0, 0.25)
            c.close()

    def test_queued_max_requests_does_not_count_parked_long_polls(self):
        with Broker(args=["--queued.max.requests=2", "--num.partitions=1"]) as b:
            with RawClient(b.port) as c:
                self.assertEqual(c.request(produce("lp", b"first")).topics[0][1][0][1], 0)
            # Five consumers long-poll the end of the partition.
            pollers = []
            for _ in range(5):
                p = RawClient(b.port, timeout=20)
                p.send_request(FetchRequest[4](
                    replica_id=-1, max_wait_time=8000, min_bytes=1, max_bytes=1 << 20,
                    isolation_level=0, topics=[("lp", [(0, 1, 1 << 20)])]))
                pollers.append(p)
            time.sleep(0.3)  # let them park (nothing to wait for otherwise)
            # With two request slots, a producer is still served at once,
            # and its record wakes every poller.
            t0 = time.monotonic()
            with RawClient(b.port) as c:
                self.assertEqual(c.request(produce("lp", b"second")).topics[0][1][0][1], 0)
            for p in pollers:
                p.recv()
                p.close()
            self.assertLess(time.monotonic() - t0, 5.0)

    def test_pipelined_requests_past_queued_max_requests_are_all_answered(self):
        with Broker(args=["--queued.max.requests=1", "--num.partitions=1"]) as b:
            with RawClient(b.port) as c:
                sent = [c.send_request(produce("pipe", b"v%d" % i)) for i in range(50)]
                got = [c.recv()[0] for _ in sent]
                self.assertEqual(got, sent)

    def test_a_half_sent_frame_ties_up_only_its_own_connection(self):
        with Broker() as b:
            stuck = socket.create_connection(("127.0.0.1", b.port))
            stuck.sendall(struct.pack(">i", 1000) + b"\0\x12")  # 1000 announced, 2 sent
            done = threading.Event()

            def trickle():
                while not done.wait(0.2):
                    try:
                        stuck.sendall(b"\0")
                    except OSError:
                        return
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            for _ in range(20):
                self.assertTrue(api_versions_ok(b.port, timeout=2.0))
            done.set()
            t.join()
            stuck.close()

    def test_a_slow_reader_gets_a_large_fetch_answer_whole(self):
        # 16 MB of records, read from the segment with sendfile, towards a
        # client with an 8 KB receive buffer: the socket fills and
        # sendfile would block many times before the answer is out (an
        # answer that libevent reports as 0 bytes written; that is not
        # the end of a truncated file).
        value = b"x" * ((1 << 20) - 4096)
        with Broker() as b:
            with RawClient(b.port) as c:
                for _ in range(16):
                    r = c.request(produce("big", value, acks=1))
                    self.assertEqual(r.topics[0][1][0][1], 0, r)
            with RawClient(b.port, rcvbuf=4096, timeout=30) as c:
                r = c.request(FetchRequest[4](
                    replica_id=-1, max_wait_time=0, min_bytes=1, max_bytes=64 << 20,
                    isolation_level=0, topics=[("big", [(0, 0, 64 << 20)])]))
            part = r.topics[0][1][0]
            self.assertEqual((part[1], part[2]), (0, 16), part[:3])  # no error, HW 16
            self.assertGreater(len(part[-1]), 16 * len(value), len(part[-1]))
            self.assertTrue(api_versions_ok(b.port))


if __name__ == "__main__":
    unittest.main()
