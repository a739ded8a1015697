"""Durability: a producer with acks=all runs while the broker is stopped
with SIGTERM or killed with SIGKILL and restarted; every record that was
acknowledged must afterwards be readable at exactly the acknowledged
partition and offset."""
import os
import signal
import subprocess
import time
import unittest

from confluent_kafka import Consumer, TopicPartition

from rill import PYTHON, Broker, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
PARTITIONS = 3


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.endswith("\n"))
    except OSError:
        return 0


def read_all(bootstrap, topic, ends):
    """Every record of every partition, as {partition: {offset: value}}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False})
    got = {p: {} for p in range(PARTITIONS)}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(len(got[p]) < ends[p] for p in got):
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got[m.partition()][m.offset()] = m.value().decode()
    finally:
        c.close()
    return got


class Persistence(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(args=["--num.partitions=%d" % PARTITIONS]).start()

    def tearDown(self):
        if getattr(self, "producer", None) and self.producer.poll() is None:
            self.producer.kill()
            self.producer.wait()
        self.broker.cleanup()

    def crash_loop(self, hard, cycles=3):
        ack_file = os.path.join(self.broker.workdir, "acks.txt")
        self.producer = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "..", "lib", "acked_producer.py"), "confluent-all",
             self.broker.bootstrap, "durable",
             ack_file], stderr=subprocess.DEVNULL)
        target = 0
        for _ in range(cycles):
            target += 2000
            wait_until(lambda: count_lines(ack_file) >= target, 90, what="%d acks" % target)
            self.broker.restart(hard=hard)
        target += 2000
        wait_until(lambda: count_lines(ack_file) >= target, 90, what="%d acks" % target)
        self.producer.send_signal(signal.SIGTERM)
        self.producer.wait(90)

        acked = []
        with open(ack_file) as f:
            for line in f:
                p, o, v = line.split()[:3]
                acked.append((int(p), int(o), v))
        self.assertGreaterEqual(len(acked), target)
        ends = {p: 0 for p in range(PARTITIONS)}
        for p, o, _ in acked:
            ends[p] = max(ends[p], o + 1)
        # Check after one more restart too: nothing acknowledged may vanish.
        self.broker.restart(hard=hard)
        log = read_all(self.broker.bootstrap, "durable", ends)
        missing = [(p, o, v) for p, o, v in acked if log[p].get(o) != v]
        self.assertEqual(missing[:10], [], "%d of %d acknowledged records lost or moved"
                         % (len(missing), len(acked)))

    def test_sigkill_during_acks_all_production(self):
        self.crash_loop(hard=True)

    def test_sigterm_during_acks_all_production(self):
        self.crash_loop(hard=False)


if __name__ == "__main__":
    unittest.main()
