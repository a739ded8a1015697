"""Bounded memory under a flood: many connections send maximal frames as
fast as they can while others trickle a frame one byte at a time. The
broker's peak RSS must stay within queued.max.request.bytes plus the
stated allowance, a well-behaved client must still be served throughout,
and once the flood stops everything works as before.

The allowance (what the pool does not count): one frame past the cap (the
overdraft that lets a partly received frame finish), and the broker's own
working set beside the pool: libevent's buffer chunks around the counted
bytes, the arena and answer of each request, the validation window, malloc
slack. It is measured from the broker's own baseline RSS in the same run."""
import os
import socket
import struct
import threading
import time
import unittest

from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire import RawClient
from rill import Broker

MIB = 1 << 20
POOL = 32 * MIB          # queued.max.request.bytes
FRAME = 4 * MIB          # socket.request.max.bytes: the maximal frame
ALLOWANCE = 16 * MIB     # beside the pool and the one overdraft frame
FAST = int(os.environ.get("RILL_FLOOD_CONNECTIONS", "24"))
SLOW = 16
FLOOD_S = 8.0


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s" % field)


def small_batch(value):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, timestamp=int(time.time() * 1000), key=None, value=value, headers=[])
    return bytes(b.build())


def maximal_produce_frame(corr):
    """A Produce v3 frame of exactly FRAME bytes: one partition whose
    records field fills it (refused for max.message.bytes once read)."""
    head = struct.pack(">hhih", 0, 3, corr, 5) + b"flood"
    head += struct.pack(">hhi", -1, 1, 5000)            # transactional id, acks, timeout
    head += struct.pack(">ih", 1, 5) + b"flood"          # one topic
    head += struct.pack(">ii", 1, 0)                     # one partition: 0
    records = FRAME - len(head) - 4
    payload = head + struct.pack(">i", records) + b"\0" * records
    assert len(payload) == FRAME
    return struct.pack(">i", len(payload)) + payload


class Flood:
    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.answers = 0
        self.errors = []
        self.threads = []
        self.lock = threading.Lock()

    def fast(self):
        frame = maximal_produce_frame(1)
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            while not self.stop.is_set():
                s.sendall(frame)
                size = struct.unpack(">i", self._recv(s, 4))[0]
                self._recv(s, size)
                with self.lock:
                    self.answers += 1
            s.close()
        except OSError as e:
            if not self.stop.is_set():
                self.errors.append("fast: %r" % e)

    def slow(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.sendall(maximal_produce_frame(2)[:64])
            while not self.stop.wait(0.25):
                s.sendall(b"\0")
            s.close()
        except OSError as e:
            self.errors.append("slow: %r" % e)

    @staticmethod
    def _recv(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def start(self):
        for target, n in ((self.slow, SLOW), (self.fast, FAST)):
            for _ in range(n):
                t = threading.Thread(target=target, daemon=True)
                t.start()
                self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        return not any(t.is_alive() for t in self.threads)


class MemoryBound(unittest.TestCase):
    def test_peak_rss_stays_within_the_pool_under_a_flood_of_maximal_frames(self):
        if os.environ.get("RILL_SANITIZED"):
            self.skipTest("under AddressSanitizer RSS measures its shadow memory and "
                          "quarantine, not the broker's (the release pass runs this test)")
        broker = Broker(args=["--queued.max.request.bytes=%d" % POOL,
                              "--socket.request.max.bytes=%d" % FRAME,
                              "--num.partitions=1"]).start()
        try:
            self._flood(broker)
        finally:
            broker.cleanup()

    def _flood(self, broker):
        pid = broker.proc.pid
        good = RawClient(broker.port, timeout=20)
        served = [0]

        def serve_once(i):
            resp = good.request(ProduceRequest[3](
                transactional_id=None, required_acks=-1, timeout=10000,
                topics=[("calm", [(0, small_batch(b"calm-%d" % i))])]))
            self.assertEqual(resp.topics[0][1][0][1], 0)
            served[0] += 1

        for i in range(5):
            serve_once(i)
        time.sleep(0.5)  # let start-up allocations settle before the baseline
        baseline = vm_kib(pid, "VmRSS")
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")  # resets VmHWM to the current RSS

        flood = Flood(broker.port)
        flood.start()
        latencies = []
        deadline = time.monotonic() + FLOOD_S
        i = 5
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            serve_once(i)
            latencies.append(time.monotonic() - t0)
            i += 1
            time.sleep(0.1)
        peak = vm_kib(pid, "VmHWM")
        self.assertTrue(broker.alive(), broker.log()[-3000:])
        self.assertTrue(flood.finish(), "flood threads did not stop")
        self.assertEqual(flood.errors, [])

        grown = (peak - baseline) * 1024
        limit = POOL + FRAME + ALLOWANCE
        print("\n  flood: %d fast + %d slow connections, %d maximal frames answered; peak RSS "
              "%.1f MiB over a %.1f MiB baseline (limit %.0f MiB); well-behaved client: %d "
              "requests, slowest %.2fs" % (FAST, SLOW, flood.answers, grown / MIB,
                                            baseline / 1024, limit / MIB, len(latencies),
                                            max(latencies)))
        self.assertGreater(flood.answers, FAST, "the flood itself was not served")
        self.assertGreater(grown, POOL / 2, "the flood did not load the pool: the test is void")
        self.assertLessEqual(grown, limit)
        self.assertLess(max(latencies), 5.0, "the well-behaved client waited too long")

        # When the flood stops, the broker serves as before and holds nothing.
        t0 = time.monotonic()
        for j in range(20):
            serve_once(i + j)
        self.assertLess(time.monotonic() - t0, 5.0)
        resp = good.request(OffsetRequest[1](replica_id=-1, topics=[("calm", [(0, -1)])]))
        self.assertEqual(resp.topics[0][1][0][3], served[0])
        good.close()
        self.assertNotIn("ERROR", broker.log())


if __name__ == "__main__":
    unittest.main()
