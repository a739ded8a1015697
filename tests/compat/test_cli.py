"""The rill command line: configuration errors stop the start with the
key's name, --help and --config-docs answer, and the committed
configuration reference is the one the table generates."""
import os
import subprocess
import unittest

from rill import RILL_BIN

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


if __name__ == "__main__":
    unittest.main()
