"""A full disk: appends beyond the space fail with KAFKA_STORAGE_ERROR,
nothing half-written stays in the log, everything acknowledged before is
intact, and writing works again once there is room.

The disk is filled with a file size limit (RLIMIT_FSIZE) on the broker
process: writes past it fail exactly as on a full file system, without
needing privileges to mount a small one."""
import resource
import unittest

from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire import RawClient
from rill import Broker, wait_until

LIMIT = 512 * 1024


def batch(n, size):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 22)
    for i in range(n):
        b.append(i, timestamp=1700000000000 + i, key=None, value=b"%06d" % i + b"x" * size,
                 headers=[])
    return bytes(b.build())


class DiskFull(unittest.TestCase):
    def test_appends_fail_cleanly_and_recover(self):
        broker = Broker(args=["--log.segment.bytes=1073741824"])
        broker.start()
        try:
            with RawClient(broker.port) as c:
                # Create the topic while there is room.
                ok = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1,
                                                 timeout=5000, topics=[("full", [(0, batch(1, 10))])]))
                self.assertEqual(ok.topics[0][1][0][1], 0)
            # Now the "disk" holds only LIMIT bytes per file.
            resource.prlimit(broker.proc.pid, resource.RLIMIT_FSIZE,
                             (LIMIT, resource.RLIM_INFINITY))
            acked = 1
            errors = 0
            with RawClient(broker.port) as c:
                for i in range(40):
                    r = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1,
                                                    timeout=5000,
                                                    topics=[("full", [(0, batch(10, 2000))])]))
                    err = r.topics[0][1][0][1]
                    if err == 0:
                        self.assertEqual(r.topics[0][1][0][2], acked)  # base offset
                        acked += 10
                    else:
                        self.assertEqual(err, 56)  # KAFKA_STORAGE_ERROR
                        errors += 1
            self.assertGreater(errors, 0)
            self.assertTrue(broker.alive())
            # Room again: appends continue right after the last acknowledged one.
            resource.prlimit(broker.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            with RawClient(broker.port) as c:
                r = c.request(ProduceRequest[3](transactional_id=None, required_acks=-1,
                                                timeout=5000, topics=[("full", [(0, batch(5, 10))])]))
                self.assertEqual(r.topics[0][1][0][1], 0)
                self.assertEqual(r.topics[0][1][0][2], acked)
            acked += 5
            # Everything acknowledged is readable, intact, after a restart too.
            broker.restart(hard=True)
            from kafka import KafkaConsumer, TopicPartition
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=3000,
                                     check_crcs=True)
            tp = TopicPartition("full", 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            offsets = [m.offset for m in consumer]
            consumer.close()
            self.assertEqual(offsets, list(range(acked)))
        finally:
            broker.cleanup()


if __name__ == "__main__":
    unittest.main()
