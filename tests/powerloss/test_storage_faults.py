"""Storage faults handled as Kafka handles them, through a real broker:

- a failed fsync (EIO from the power-loss filesystem) takes the log
  directory offline: the write it was for and everything after is answered
  KAFKA_STORAGE_ERROR, reads too, no later fsync is trusted, and after a
  power cut exactly what was acknowledged before the failure is there;
- a full disk (ENOSPC from the power-loss filesystem, and a size-limited
  tmpfs the test mounts, where RocksDB runs out of space too) refuses
  appends with KAFKA_STORAGE_ERROR, loses nothing acknowledged, keeps
  serving reads, and appends resume once space returns."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from kafka.protocol.fetch import FetchRequest
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from kwire import RawClient
from rill import Broker, powerloss

STORAGE_ERROR = 56


def batch(values):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 22)
    for i, v in enumerate(values):
        b.append(i, timestamp=int(time.time() * 1000), key=None, value=v, headers=[])
    return bytes(b.build())


def produce(c, topic, values):
    """(error, base offset) of one acks=all batch."""
    resp = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=10000,
                                       topics=[(topic, [(0, batch(values))])]))
    part = resp.topics[0][1][0]
    return part[1], part[2]


def log_end(c, topic):
    resp = c.request(OffsetRequest[1](replica_id=-1, topics=[(topic, [(0, -1)])]))
    return resp.topics[0][1][0][3]


def fetch_values(c, topic, offset=0):
    """(error, values) of one fetch from offset."""
    resp = c.request(FetchRequest[4](replica_id=-1, max_wait_time=0, min_bytes=0,
                                     max_bytes=1 << 26, isolation_level=0,
                                     topics=[(topic, [(0, offset, 1 << 26)])]))
    part = resp.topics[0][1][0]
    values = []
    records = MemoryRecords(part[-1])
    while True:
        b = records.next_batch()
        if b is None:
            break
        values += [r.value for r in b]
    return part[1], values


class PowerLossFaults(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="rill-faults-")
        self.mnt = os.path.join(self.workdir, "mnt")
        r = powerloss("mount", os.path.join(self.workdir, "backing"), self.mnt, check=False)
        if r.returncode != 0:
            raise AssertionError("the power-loss filesystem cannot be mounted: %s"
                                 % r.stderr.strip())
        self.broker = Broker(data_dir=os.path.join(self.mnt, "data"), workdir=self.workdir,
                             args=["--num.partitions=1"])
        self.broker.start()

    def tearDown(self):
        self.broker.cleanup()
        powerloss("umount", self.mnt, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def test_a_failed_fsync_takes_the_log_directory_offline(self):
        with RawClient(self.broker.port) as c:
            acked = [b"before-%d" % i for i in range(10)]
            self.assertEqual(produce(c, "f", acked), (0, 0))
            self.assertEqual(produce(c, "g", [b"other"])[0], 0)
            powerloss("fault", self.mnt, "fsync-eio", "data/f-0/*")
            # The write the failed fsync was for is not acknowledged...
            self.assertEqual(produce(c, "f", [b"lost"])[0], STORAGE_ERROR)
            # ...nor anything after it, in any partition of the directory,
            # and reads are refused too: the directory is offline.
            self.assertEqual(produce(c, "f", [b"after"])[0], STORAGE_ERROR)
            self.assertEqual(produce(c, "g", [b"after"])[0], STORAGE_ERROR)
            self.assertEqual(fetch_values(c, "f")[0], STORAGE_ERROR)
        self.assertIn("is offline: an fsync failed", self.broker.log())
        self.assertIn("faults_hit=1", powerloss("stats", self.mnt).stdout)
        # A power cut, and a broker on a sound disk again: exactly what was
        # acknowledged is there.
        self.broker.kill()
        powerloss("crash", self.mnt)
        self.broker.start()
        with RawClient(self.broker.port) as c:
            self.assertEqual(fetch_values(c, "f"), (0, acked))
            self.assertEqual(fetch_values(c, "g"), (0, [b"other"]))
            self.assertEqual(produce(c, "f", [b"again"]), (0, 10))

    def test_recovery_cuts_a_write_torn_by_the_power_cut(self):
        # Under "never" appends stay unsynced; a clean stop syncs the first
        # one (and the segment's name). The power cut then tears the next
        # writes: only their first 5,500 bytes reach the disk, five whole
        # 1 KB batches and part of the sixth.
        self.broker.stop()
        self.broker.args.append("--log.flush.policy=never")
        self.broker.start()
        with RawClient(self.broker.port) as c:
            self.assertEqual(produce(c, "torn", [b"base"]), (0, 0))
        self.broker.stop()
        self.broker.start()
        with RawClient(self.broker.port) as c:
            for i in range(20):
                self.assertEqual(produce(c, "torn", [b"%04d" % i + b"t" * 1000])[0], 0)
        self.broker.kill()
        powerloss("fault", self.mnt, "torn", "data/torn-0/*.log", "5500")
        powerloss("crash", self.mnt)
        self.broker.start()
        self.assertIn("torn or corrupt tail", self.broker.log())
        with RawClient(self.broker.port) as c:
            err, values = fetch_values(c, "torn")
            self.assertEqual(err, 0)
            kept = len(values) - 1
            self.assertTrue(1 <= kept < 6, "kept %d torn batches" % kept)
            self.assertEqual(values, [b"base"] + [b"%04d" % i + b"t" * 1000
                                                  for i in range(kept)])
            self.assertEqual(log_end(c, "torn"), len(values))
            self.assertEqual(produce(c, "torn", [b"next"]), (0, len(values)))

    def test_index_write_failures_cost_a_rebuild_not_data(self):
        # The RocksDB index is derived from the segments: when it cannot be
        # written, appends and reads of existing partitions go on (lookups
        # scan), and a restart rebuilds it from the segments. A new
        # partition needs an id from it, so creating a topic fails cleanly.
        values = [b"idx-%d" % i for i in range(50)]
        with RawClient(self.broker.port) as c:
            self.assertEqual(produce(c, "idx", values[:1]), (0, 0))
            powerloss("fault", self.mnt, "enospc", "data/rill-index/*")
            for i, v in enumerate(values[1:], 1):
                self.assertEqual(produce(c, "idx", [v]), (0, i))
            self.assertEqual(fetch_values(c, "idx"), (0, values))
            self.assertNotEqual(produce(c, "idx-new", [b"x"])[0], 0)
        self.assertIn("the index is not written again", self.broker.log())
        powerloss("clear", self.mnt)
        self.broker.kill()
        powerloss("crash", self.mnt)
        self.broker.start()
        with RawClient(self.broker.port) as c:
            self.assertEqual(fetch_values(c, "idx"), (0, values))
            self.assertEqual(fetch_values(c, "idx", 25), (0, values[25:]))

    def test_enospc_refuses_appends_and_keeps_serving_reads(self):
        with RawClient(self.broker.port) as c:
            acked = [b"kept-%d" % i for i in range(5)]
            self.assertEqual(produce(c, "s", acked), (0, 0))
            powerloss("fault", self.mnt, "enospc", "data/s-0/*")
            for _ in range(3):
                self.assertEqual(produce(c, "s", [b"refused"])[0], STORAGE_ERROR)
            self.assertEqual(fetch_values(c, "s"), (0, acked))
            self.assertEqual(log_end(c, "s"), 5)
            powerloss("clear", self.mnt)
            self.assertEqual(produce(c, "s", [b"resumed"]), (0, 5))
            self.assertEqual(fetch_values(c, "s"), (0, acked + [b"resumed"]))


class FullTmpfs(unittest.TestCase):
    SIZE_MB = 24

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rill-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % self.SIZE_MB, "tmpfs",
                            self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("cannot mount a tmpfs for the full-disk test: %s"
                                 % r.stderr.strip())
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.cleanup()
        subprocess.run(["umount", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_a_full_disk_refuses_appends_loses_nothing_and_recovers(self):
        filler = os.path.join(self.dir, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (8 << 20))
        self.broker = Broker(data_dir=os.path.join(self.dir, "data"),
                             args=["--num.partitions=1", "--log.segment.bytes=4194304"])
        self.broker.start()
        value = os.urandom(64 << 10)
        acked = []
        with RawClient(self.broker.port, timeout=30) as c:
            for i in range(1000):
                err, base = produce(c, "full", [value + b"%d" % i])
                if err != 0:
                    break
                self.assertEqual(base, len(acked))
                acked.append(i)
            self.assertEqual(err, STORAGE_ERROR, "filling the disk ended with error %d" % err)
            self.assertGreater(len(acked), 10)
            for _ in range(3):
                self.assertEqual(produce(c, "full", [value])[0], STORAGE_ERROR)
            # Reads go on, and every acknowledged record is there.
            err, values = fetch_values(c, "full")
            self.assertEqual(err, 0)
            self.assertEqual(len(values), len(acked))
            self.assertEqual(log_end(c, "full"), len(acked))
            # Space comes back: appends resume where the log ends.
            os.unlink(filler)
            err, base = produce(c, "full", [value + b"resumed"])
            self.assertEqual((err, base), (0, len(acked)))
        self.assertTrue(self.broker.alive())
        # And after a restart everything acknowledged is still there.
        self.broker.restart()
        with RawClient(self.broker.port, timeout=30) as c:
            err, values = fetch_values(c, "full")
            self.assertEqual((err, len(values)), (0, len(acked) + 1))
            self.assertEqual(values[-1], value + b"resumed")


if __name__ == "__main__":
    unittest.main()
