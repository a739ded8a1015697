"""kafka-python 2.0.2 (Debian python3-kafka): the tutorial scenario exactly,
and its survival across broker restarts."""
import os
import re
import subprocess
import sys
import time
import unittest

from rill import PYTHON, Broker

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^kafka-demo:(\d+):(\d+): key=b'Message' value=b'Hello, World! (\d+)'$")


def run_consumer(bootstrap, expect=1000, timeout=60):
    """Runs the tutorial consumer until it printed `expect` lines."""
    env = dict(os.environ, BOOTSTRAP=bootstrap)
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "tutorial", "consumer.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    lines = []
    deadline = time.monotonic() + timeout
    try:
        while len(lines) < expect and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
    finally:
        proc.kill()
        proc.wait()
    return lines


class KafkaPythonTutorial(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def produce(self):
        env = dict(os.environ, BOOTSTRAP=self.broker.bootstrap)
        subprocess.run([PYTHON, os.path.join(HERE, "tutorial", "producer.py")], env=env,
                       check=True, timeout=120)

    def check(self, lines):
        self.assertEqual(len(lines), 1000, "consumer printed %d lines" % len(lines))
        for i, line in enumerate(lines):
            m = LINE.match(line)
            self.assertIsNotNone(m, "unexpected line %r" % line)
            self.assertEqual(int(m.group(1)), 0)          # one partition
            self.assertEqual(int(m.group(2)), i)          # offsets 0..999 in order
            self.assertEqual(int(m.group(3)), i)          # the values in send order

    def test_tutorial_producer_then_consumer(self):
        self.produce()
        self.check(run_consumer(self.broker.bootstrap))

    def test_survives_sigterm_restart(self):
        self.produce()
        self.broker.restart()
        self.check(run_consumer(self.broker.bootstrap))

    def test_survives_sigkill_restart(self):
        self.produce()
        self.broker.restart(hard=True)
        self.check(run_consumer(self.broker.bootstrap))

    def test_broker_version_inferred_modern(self):
        """kafka-python 2.0.2 guesses the broker version from ApiVersions; a
        guess below (2, 1) would make it fall back to old message formats."""
        from kafka import KafkaClient
        client = KafkaClient(bootstrap_servers=self.broker.bootstrap)
        try:
            version = client.check_version(timeout=10)
        finally:
            client.close()
        self.assertGreaterEqual(version, (2, 1))


if __name__ == "__main__":
    unittest.main()
