"""Test helpers: start real rill broker processes on free loopback ports.

Every broker a test starts is registered and killed at interpreter exit,
so a failing test never leaves a process behind. Waits are on conditions
(a log line, a port that answers), each with a deadline.

Every broker is watched: an exit the test did not ask for (a crash, a
signal, a non-zero code, an assertion, a sanitizer abort) fails the test
that was running (tests/run.py asks unexpected_exits() after each test)
and fails cleanup(), in the release build as in the sanitized one.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

RILL_BIN = os.environ.get("RILL_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "bin", "rill")
PYTHON = "/usr/bin/python3"
POWERLOSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                         "powerloss")

_live = []


def _cleanup():
    for b in list(_live):
        b.kill()


def unexpected_exits():
    """Brokers that have exited without being asked to since the last
    call: a list of messages, each with the tail of the broker's log."""
    found = []
    for b in list(_live):
        why = b.exit_problem()
        if why is not None and not b.reported:
            b.reported = True
            found.append(why)
    return found


atexit.register(_cleanup)


def wait_until(cond, timeout=20.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for %s" % what)
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """One rill process. Data lives in data_dir (a fresh temp dir unless
    given); port 0 lets the kernel choose, and the chosen port is kept for
    restarts so clients can reconnect. host is the address it listens on
    (loopback unless the test made a network namespace for it); prefix
    runs it through another command, such as `ip netns exec NS`, that
    execs it in place, so the process is still the broker's."""

    def __init__(self, data_dir=None, port=0, args=(), env=None, workdir=None, host="127.0.0.1",
                 prefix=()):
        self.host = host
        self.prefix = list(prefix)
        self.owns_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="rill-test-")
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        self.port = port
        self.args = list(args)
        self.env = dict(os.environ)
        if env:
            self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(self.workdir, "broker.log")
        self.starts = 0
        self.expected_exit = False
        self.reported = False

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    def start_quiet(self, timeout=30.0):
        """start(), for a listener list the caller put in args."""
        return self.start(timeout, listeners=False)

    def start(self, timeout=30.0, listeners=True):
        self.starts += 1
        log = open(self.log_path, "ab")
        mark = log.tell()
        cmd = self.prefix + [RILL_BIN, "--log.dirs=" + self.data_dir] + (
            ["--listeners=PLAINTEXT://%s:%d" % (self.host, self.port)] if listeners else []
        ) + self.args
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        self.expected_exit = False
        self.reported = False
        _live.append(self)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("rill exited with %s:\n%s" % (self.proc.returncode, self.log()))
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                m = re.search(rb"listening on [^ ]+:(\d+)", f.read())
            return m and int(m.group(1))
        port = wait_until(ready, timeout, what="rill to listen")
        self.port = port
        wait_until(lambda: port_open(port, self.host), timeout, what="port %d" % port)
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_problem(self):
        """A message when the broker has exited without being asked to."""
        if self.proc is None or self.expected_exit:
            return None
        rc = self.proc.poll()
        if rc is None:
            return None
        how = "killed by signal %d" % -rc if rc < 0 else "exited with %d" % rc
        return "rill (%s:%d) %s without being asked to; its log ends:\n%s" % (
            self.host, self.port, how, self.log()[-4000:])

    def signal(self, sig):
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.expected_exit = True
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=60.0):
        """SIGTERM and wait. A clean stop exits 0; anything else (a crash,
        a sanitizer report, a leak) fails the test."""
        if self.proc is None:
            return None
        was_running = self.proc.poll() is None
        self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("rill did not stop on SIGTERM within %ss" % timeout)
        finally:
            if self in _live:
                _live.remove(self)
        self.check_log()
        if was_running and rc != 0:
            raise AssertionError("rill exited with %d on SIGTERM:\n%s" % (rc, self.log()[-4000:]))
        return rc

    def check_log(self):
        """Fails on any sanitizer report in the broker's output."""
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "SUMMARY: UndefinedBehaviorSanitizer"):
            if marker in text:
                raise AssertionError("sanitizer report in the broker log:\n%s"
                                     % text[text.index(marker) - 200:][:6000])

    def kill(self):
        if self.proc is None:
            return
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self in _live:
            _live.remove(self)

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def cleanup(self):
        """Stops the broker cleanly (so leaks and sanitizer reports
        surface), then removes its files."""
        try:
            if self.alive():
                self.stop()
            else:
                why = self.exit_problem()
                self.kill()
                self.check_log()
                if why is not None and not self.reported:
                    self.reported = True
                    raise AssertionError(why)
        finally:
            self.kill()
            if self.owns_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def powerloss(*args, check=True):
    """Runs scripts/powerloss (mount, crash, fault, clear, stats, umount of
    the power-loss filesystem, tests/powerloss/powerloss.c); a failure
    raises unless check is false."""
    r = subprocess.run([PYTHON, POWERLOSS] + list(args), capture_output=True, text=True,
                       timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("scripts/powerloss %s failed (%d): %s"
                             % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def free_ports(n):
    """n loopback ports free right now (for listeners that other nodes must
    know before they start, such as controller.quorum.voters)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Cluster:
    """n rill nodes forming one metadata quorum: node ids 1..n, all voters,
    one cluster id, each with its own data directory. Over loopback on free
    ports by default; with net (tests/lib/netns.py's Net), node k runs in
    its own network namespace at net.host(k), on Kafka's ports 9092
    (clients) and 9093 (controller)."""

    def __init__(self, n, args=(), cluster_id="rill-test-cluster-0001", net=None):
        self.workdir = tempfile.mkdtemp(prefix="rill-cluster-")
        if net is None:
            hosts, prefixes = ["127.0.0.1"] * n, [()] * n
            ports, self.ctl_ports = [0] * n, free_ports(n)
        else:
            hosts = [net.host(i + 1) for i in range(n)]
            prefixes = [net.prefix(i + 1) for i in range(n)]
            ports, self.ctl_ports = [9092] * n, [9093] * n
        voters = ",".join("%d@%s:%d" % (i + 1, hosts[i], p) for i, p in enumerate(self.ctl_ports))
        self.nodes = {}
        for i in range(n):
            node = i + 1
            wd = os.path.join(self.workdir, "node-%d" % node)
            os.makedirs(wd)
            b = Broker(workdir=wd, port=ports[i], host=hosts[i], prefix=prefixes[i], args=[
                "--node.id=%d" % node, "--cluster.id=" + cluster_id,
                "--controller.quorum.voters=" + voters] + list(args))
            b.controller_port = self.ctl_ports[i]
            self.nodes[node] = b

    def _listen_arg(self, b):
        return "--listeners=PLAINTEXT://%s:%d,CONTROLLER://%s:%d" % (
            b.host, b.port, b.host, b.controller_port)

    def start(self, node=None):
        for n, b in self.nodes.items():
            if node is not None and n != node:
                continue
            b.args = [a for a in b.args if not a.startswith("--listeners=")]
            b.args.append(self._listen_arg(b))
            b.start_quiet()
        return self

    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.nodes.values() if b.alive())

    def cleanup(self):
        problems = []
        for b in self.nodes.values():
            try:
                b.cleanup()
            except AssertionError as e:
                problems.append(str(e))
        shutil.rmtree(self.workdir, ignore_errors=True)
        if problems:
            raise AssertionError("\n".join(problems))
