"""scripts/cluster up --nodes 3: three nodes on loopback form one quorum,
the script waits until a controller is elected and every node registered,
and prints the bootstrap list last; kcat sees three brokers through any one
of them; the kafka-python tutorial runs unchanged through the second node
alone (its topic created automatically, by the controller, on that node's
behalf); kill, start and status work per node id."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from rill import PYTHON, RILL_BIN, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "cluster")


def free_block(n):
    """A base port whose n ports are all free on loopback now."""
    for base in range(21000, 60000, 97):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of %d free ports" % n)


class ClusterScript(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rill-script-cluster-")
        self.env = dict(os.environ, RILL_BIN=RILL_BIN)
        self.base = free_block(6)

    def tearDown(self):
        subprocess.run([SCRIPT, "down", "--dir", self.dir], env=self.env, timeout=120)
        for n in (1, 2, 3):  # nothing may outlive the test
            try:
                with open(os.path.join(self.dir, "node-%d" % n, "pid")) as f:
                    os.kill(int(f.read()), 9)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def cluster(self, *args, check=True):
        r = subprocess.run([SCRIPT] + list(args) + ["--dir", self.dir], env=self.env,
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_three_nodes_the_tutorial_through_one_and_a_kill(self):
        r = self.cluster("up", "--nodes", "3", "--port-base", str(self.base))
        lines = r.stdout.strip().splitlines()
        ports = [self.base, self.base + 1, self.base + 2]
        self.assertEqual(lines[-1], ",".join("127.0.0.1:%d" % p for p in ports))
        self.assertIn("node", lines[-2])
        controller = int(lines[-2].split("node ")[-1].split()[0])
        second = "127.0.0.1:%d" % ports[1]
        out = subprocess.run(["kcat", "-b", second, "-L"], capture_output=True, text=True,
                             timeout=30).stdout
        self.assertIn("3 brokers:", out)
        # The tutorial, through the second node only.
        env = dict(os.environ, BOOTSTRAP=second)
        subprocess.run([PYTHON, os.path.join(HERE, "tutorial", "producer.py")], env=env,
                       check=True, timeout=120)
        proc = subprocess.Popen([PYTHON, os.path.join(HERE, "tutorial", "consumer.py")],
                                stdout=subprocess.PIPE, env=env, text=True)
        got = []
        try:
            deadline = time.monotonic() + 60
            while len(got) < 1000 and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                got.append(line.rstrip("\n"))
        finally:
            proc.kill()
            proc.wait()
        self.assertEqual(len(got), 1000)
        self.assertEqual(got[0], "kafka-demo:0:0: key=b'Message' value=b'Hello, World! 0'")
        self.assertEqual(got[-1],
                         "kafka-demo:0:999: key=b'Message' value=b'Hello, World! 999'")
        # Per-node control: kill the controller, see it stopped, start it.
        self.cluster("kill", str(controller))
        status = self.cluster("status").stdout
        self.assertIn("node %d stopped" % controller, status)
        self.assertEqual(status.count(" running "), 2)
        other = [n for n in (1, 2, 3) if n != controller][0]
        wait_until(lambda: subprocess.run(
            [RILL_BIN, "quorum", "status", "--bootstrap-server",
             "127.0.0.1:%d" % ports[other - 1]], capture_output=True).returncode == 0 or
            subprocess.run([RILL_BIN, "quorum", "status", "--bootstrap-server",
                            "127.0.0.1:%d" % ports[[n for n in (1, 2, 3) if n not in
                                                    (controller, other)][0] - 1]],
                           capture_output=True).returncode == 0, 20,
            what="a new controller")
        self.cluster("start", str(controller))
        self.assertEqual(self.cluster("status").stdout.count(" running "), 3)


if __name__ == "__main__":
    unittest.main()
