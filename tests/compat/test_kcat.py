"""kcat 1.7 (librdkafka 2.0.2): metadata listing, and produce/consume round
trips that keep keys, headers and binary values byte for byte, with every
compression codec (and proof that the batches were stored compressed)."""
import glob
import os
import struct
import subprocess
import unittest

from rill import Broker

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def kcat(*args, input=None, timeout=60):
    return subprocess.run(["kcat"] + list(args), input=input, capture_output=True,
                          timeout=timeout, check=True).stdout


def parse_consumed(out):
    """Parses records printed with -f '%o|%K|%S|%k%s|%h\\n' (lengths first, so
    binary keys and values are read exactly)."""
    records = []
    pos = 0
    while pos < len(out):
        parts = []
        for _ in range(3):
            bar = out.index(b"|", pos)
            parts.append(out[pos:bar])
            pos = bar + 1
        offset, klen, vlen = int(parts[0]), int(parts[1]), int(parts[2])
        key = None if klen < 0 else out[pos:pos + klen]
        pos += max(klen, 0)
        value = None if vlen < 0 else out[pos:pos + vlen]
        pos += max(vlen, 0)
        assert out[pos:pos + 1] == b"|"
        nl = out.index(b"\n", pos)
        headers = out[pos + 1:nl]
        pos = nl + 1
        records.append((offset, key, value, headers))
    return records


def batch_codecs(data_dir, topic):
    """The codec of every batch stored for topic-0, read from its segments."""
    codecs = []
    for seg in sorted(glob.glob(os.path.join(data_dir, topic + "-0", "*.log"))):
        with open(seg, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
            attributes = struct.unpack(">h", data[pos + 21:pos + 23])[0]
            codecs.append(attributes & 7)
            pos += 12 + length
    return codecs


class Kcat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()
        cls.bs = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def test_metadata_listing(self):
        kcat("-b", self.bs, "-t", "listed", "-P", input=b"x\n")
        out = kcat("-b", self.bs, "-L").decode()
        self.assertIn("1 brokers:", out)
        self.assertIn("broker 1 at 127.0.0.1:%d (controller)" % self.broker.port, out)
        self.assertIn('topic "listed" with 1 partitions:', out)
        self.assertIn("partition 0, leader 1, replicas: 1, isrs: 1", out)

    def round_trip(self, codec):
        topic = "kcat-" + codec
        # Keyed text records with headers, one record per line.
        lines = b"".join(b"key-%d\tvalue-%d\n" % (i, i) for i in range(100))
        kcat("-b", self.bs, "-t", topic, "-P", "-K", "\t", "-z", codec,
             "-H", "trace=abc", "-H", "empty=", input=lines)
        # Binary values (every byte value, NULs and newlines included), one per file.
        blobs = [bytes(range(256)) * (i + 1) for i in range(3)]
        files = []
        for i, blob in enumerate(blobs):
            path = os.path.join(self.broker.workdir, "%s-%d.bin" % (topic, i))
            with open(path, "wb") as f:
                f.write(blob)
            files.append(path)
        kcat("-b", self.bs, "-t", topic, "-P", "-z", codec, *files)
        out = kcat("-b", self.bs, "-t", topic, "-C", "-e", "-o", "beginning",
                   "-f", "%o|%K|%S|%k%s|%h\n")
        recs = parse_consumed(out)
        self.assertEqual(len(recs), 103)
        for i in range(100):
            offset, key, value, headers = recs[i]
            self.assertEqual(offset, i)
            self.assertEqual(key, b"key-%d" % i)
            self.assertEqual(value, b"value-%d" % i)
            self.assertEqual(headers, b"trace=abc,empty=")
        for i, blob in enumerate(blobs):
            offset, key, value, _ = recs[100 + i]
            self.assertEqual(offset, 100 + i)
            self.assertIsNone(key)
            self.assertEqual(value, blob)
        # Each batch is stored as kcat sent it: with the codec, or, where
        # librdkafka found compressing it not beneficial (a small batch, as
        # timing may cut), uncompressed; never another codec.
        stored = batch_codecs(self.broker.data_dir, topic)
        self.assertTrue(stored)
        self.assertIn(CODECS[codec], stored,
                      "no batch was stored with %s: %s" % (codec, sorted(set(stored))))
        self.assertLessEqual(set(stored), {CODECS[codec], 0},
                             "batches were stored with codecs %s" % sorted(set(stored)))

    def test_round_trip_uncompressed(self):
        self.round_trip("none")

    def test_round_trip_gzip(self):
        self.round_trip("gzip")

    def test_round_trip_snappy(self):
        self.round_trip("snappy")

    def test_round_trip_lz4(self):
        self.round_trip("lz4")

    def test_round_trip_zstd(self):
        self.round_trip("zstd")


if __name__ == "__main__":
    unittest.main()
