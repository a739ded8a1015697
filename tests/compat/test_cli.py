"""The rill command line: configuration errors stop the start with the
key's name, --help and --config-docs answer, the committed configuration
reference is the one the table generates, and `rill storage` formats data
directories as kafka-storage.sh does (a broker then refuses the directory
for another cluster or node)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from rill import RILL_BIN, Broker

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def rill(*args, env=None):
    return subprocess.run([RILL_BIN] + list(args), capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


class Cli(unittest.TestCase):
    def test_invalid_values_stop_the_start_naming_the_key(self):
        for args, env, key in ((["--num.partitions=0"], None, "num.partitions"),
                               (["--log.flush.policy=maybe"], None, "log.flush.policy"),
                               ([], {"KAFKA_SOCKET_REQUEST_MAX_BYTES": "lots"},
                                "socket.request.max.bytes"),
                               (["--listeners=nonsense"], None, "listeners"),
                               (["--no.such.key=1"], None, "no.such.key")):
            r = rill(*args, env=env)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(key, r.stderr)

    def test_help_and_config_docs(self):
        r = rill("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: rill", r.stdout)
        r = rill("--config-docs")
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
            self.assertEqual(r.stdout, f.read(),
                             "docs/configuration.md is stale: run make docs")

    def test_unwritable_log_dir_is_refused(self):
        r = rill("--log.dirs=/proc/rill-cannot-be-here", "--listeners=PLAINTEXT://127.0.0.1:0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/proc/rill-cannot-be-here", r.stderr)

    def test_storage_format_random_uuid_and_info(self):
        r = rill("storage", "random-uuid")
        self.assertEqual(r.returncode, 0)
        cid = r.stdout.strip()
        self.assertRegex(cid, r"^[A-Za-z0-9_-]{22}$")
        work = tempfile.mkdtemp(prefix="rill-storage-")
        try:
            data = os.path.join(work, "a", "b")
            r = rill("storage", "format", "-t", cid, "--log.dirs=" + data, "--node.id=3")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Formatting %s with cluster.id %s and node.id 3" % (data, cid), r.stdout)
            with open(os.path.join(data, "meta.properties")) as f:
                props = f.read()
            self.assertIn("cluster.id=%s\n" % cid, props)
            self.assertIn("node.id=3\n", props)
            # Formatting again is refused, unless told to skip a directory
            # formatted the same way; another cluster id is refused anyway.
            r = rill("storage", "format", "-t", cid, "--log.dirs=" + data, "--node.id=3")
            self.assertEqual(r.returncode, 1)
            self.assertIn("already formatted", r.stderr)
            r = rill("storage", "format", "-t", cid, "--ignore-formatted", "--log.dirs=" + data,
                     "--node.id=3")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = rill("storage", "format", "-t", "other-cluster", "--ignore-formatted",
                     "--log.dirs=" + data, "--node.id=3")
            self.assertEqual(r.returncode, 1)
            r = rill("storage", "format", "-t", "bad id!", "--log.dirs=" + data)
            self.assertEqual(r.returncode, 1)
            r = rill("storage", "info", "--log.dirs=" + data)
            self.assertEqual((r.returncode, r.stdout.strip()),
                             (0, "%s: cluster.id %s, node.id 3" % (data, cid)))
            # A broker started on it takes the cluster id from the directory,
            # and refuses it as another node.
            b = Broker(data_dir=data, workdir=os.path.join(work, "w1"),
                       args=["--node.id=3", "--cluster.id=" + cid])
            os.makedirs(b.workdir)
            b.start()
            self.assertIn("node 3 of cluster %s" % cid, b.log())
            b.cleanup()
            wrong = Broker(data_dir=data, workdir=os.path.join(work, "w2"), args=["--node.id=4"])
            os.makedirs(wrong.workdir)
            with self.assertRaises(RuntimeError) as ctx:
                wrong.start(timeout=10)
            self.assertIn("node.id 4 does not match 3", str(ctx.exception))
            wrong.expected_exit = True
            wrong.cleanup()
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
