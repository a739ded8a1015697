"""Chaos runs against a real three-node cluster: producers (acks=all,
idempotent and not) and a consumer group run while a nemesis, driven by a
seeded random schedule, SIGKILLs partition leaders (and restarts them),
cuts their power (SIGKILL, then the power-loss filesystem under their data
directory drops everything not fsynced, tests/powerloss) and pauses
brokers (SIGSTOP/SIGCONT); then everything heals, is read back and
checked (checker.py): nothing acknowledged lost, no duplicates or
reordering from the idempotent producer, the group saw everything, and the
replicas of every partition hold the same batches below the high
watermark. It prints a summary: records acknowledged, lost, duplicated,
failovers, and the produce stall after each kill (p50, max).

Where the machine lets a test create network namespaces (root, `ip netns`,
veth, tests/lib/netns.py), a run can also partition the network: every
broker then runs in a namespace of its own, the harness and the clients in
a namespace of their own, all joined by a router namespace; the nemesis
cuts one broker off from the other brokers (and sometimes from the
clients too) for a few seconds, then heals the cut ("partition"), or cuts
the link between a leader and one follower and kills the leader before
the ISR can shrink ("bridge"). run_in_namespaces() makes the namespaces and runs this
file inside the hub with --netns.

Usage: RILL_BIN=... /usr/bin/python3 tests/chaos/chaos.py [--nemeses LIST]
[SEED] [SECONDS] (make chaos SEED=... SECONDS=...). The schedule is a
function of the seed. LIST is comma-separated from kill, powercut, pause,
partition and bridge; by default all five when namespaces are available,
the first three otherwise. RILL_CHAOS_BROKER_ARGS adds broker flags (e.g.
--log.level=debug); RILL_CHAOS_KEEP=DIR copies the brokers' logs and the
histories there (and, with RILL_CLIENT_DEBUG=eos,msg, the producers'
librdkafka logs)."""
import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import netns  # noqa: E402
from checker import check  # noqa: E402
from rill import PYTHON, Cluster, powerloss, wait_until  # noqa: E402


TOPIC = "chaos"
PARTITIONS = 3
PRODUCERS = ("confluent-all", "confluent-idempotent")
GROUP = "chaos-group"
RATE = 2000  # records a second per producer: enough to catch every kill mid-flight
# With partitions, the brokers are fenced and followers leave the ISR
# sooner than by default (9 s and 30 s), so that a cut of a few seconds
# moves leaderships and shrinks ISRs, and a short run sees several.
PARTITION_BROKER_ARGS = ["--broker.session.timeout.ms=3000", "--broker.heartbeat.interval.ms=500",
                         "--replica.lag.time.max.ms=3000"]


def read_lines(path, fields):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    parts = line.split()
                    out.append(tuple(t(x) for t, x in zip(fields, parts)))
    except OSError:
        pass
    return out


def segment_batches(path, hw):
    """[(base_offset, leader_epoch, crc)] of the batches below hw in the
    segment files of one partition directory."""
    out = []
    for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base, length, epoch, magic, crc = struct.unpack(">qiibI", data[pos:pos + 21])
            if base >= hw:
                break
            out.append((base, epoch, crc))
            pos += 12 + length
    return out


def producer_epochs(path, hw):
    """{offset: producer epoch} for the records below hw in the segment
    files of one partition directory (from the batch headers)."""
    out = {}
    for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base, length = struct.unpack(">qi", data[pos:pos + 12])
            if base >= hw:
                break
            last_delta, = struct.unpack(">i", data[pos + 23:pos + 27])
            epoch, = struct.unpack(">h", data[pos + 51:pos + 53])
            for o in range(base, base + last_delta + 1):
                out[o] = epoch
            pos += 12 + length
    return out


class Chaos:
    def __init__(self, seed, seconds, nemeses=("kill", "pause"), interval=(3.0, 5.0), hub=None):
        """hub: the hub namespace this process runs in (netns.Hub's name),
        which puts each broker in a namespace of its own; needed for the
        partition nemesis."""
        self.seed = seed
        self.seconds = seconds
        self.nemeses = nemeses
        self.interval = interval
        self.rng = random.Random(seed)
        self.net = netns.Net(hub, 3) if hub else None
        if ("partition" in nemeses or "bridge" in nemeses) and self.net is None:
            raise ValueError("the partition nemesis needs the brokers in network namespaces")
        self.cluster = Cluster(3, net=self.net, args=[
            "--num.partitions=%d" % PARTITIONS, "--default.replication.factor=3",
            "--min.insync.replicas=2", "--group.initial.rebalance.delay.ms=0",
            # Preferred-leader elections under load too: a restarted broker
            # gets its leaderships back within seconds, not 5 minutes.
            "--leader.imbalance.check.interval.seconds=2"] +
            (PARTITION_BROKER_ARGS if "partition" in nemeses or "bridge" in nemeses else []) +
            os.environ.get("RILL_CHAOS_BROKER_ARGS", "").split())
        self.procs = {}
        self.mounts = []
        if "powercut" in nemeses:
            # Every node's data directory on a power-loss filesystem.
            for n, b in self.cluster.nodes.items():
                mnt = os.path.join(self.cluster.workdir, "pl-%d" % n)
                powerloss("mount", os.path.join(self.cluster.workdir, "backing-%d" % n), mnt)
                self.mounts.append(mnt)
                b.data_dir = os.path.join(mnt, "data")
                b.mount = mnt
        self.kills = []      # (time, victim, partitions it led)
        self.cuts = 0
        self.pauses = 0
        self.partitions = 0
        self.log = []
        self.log_wall = []   # the same events with wall-clock times, for RILL_CHAOS_KEEP

    def note(self, msg):
        line = "%7.2f %s" % (time.monotonic() - self.t0, msg)
        self.log_wall.append("%.3f %s" % (time.time(), msg))
        self.log.append(line)
        print("  chaos: " + line, flush=True)

    def admin(self):
        return AdminClient({"bootstrap.servers": self.cluster.bootstrap(),
                            "socket.timeout.ms": 3000})

    def topic_metadata(self, quiet=False):
        """The cluster's Metadata for TOPIC; with quiet, None when no broker
        answers (a nemesis then skips its turn)."""
        try:
            return self.admin().list_topics(TOPIC, timeout=5)
        except Exception:
            if quiet:
                return None
            raise

    def full_isr(self):
        parts = self.topic_metadata().topics[TOPIC].partitions
        return len(parts) == PARTITIONS and all(len(m.isrs) == 3 and m.leader >= 0
                                                for m in parts.values())

    def start(self):
        self.t0 = time.monotonic()
        self.cluster.start()
        wait_until(lambda: len(self.admin().list_topics(timeout=5).brokers) == 3, 30,
                   what="three brokers")
        admin = self.admin()  # kept until the creation is answered
        for f in admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)]).values():
            f.result(20)
        wait_until(self.full_isr, 30, what="the topic's replicas in sync")
        wd = self.cluster.workdir
        for name in PRODUCERS:
            self.procs[name] = subprocess.Popen(
                [PYTHON, os.path.join(HERE, "..", "lib", "acked_producer.py"), name,
                 self.cluster.bootstrap(), TOPIC, os.path.join(wd, "acks-%s.txt" % name),
                 name, str(RATE)],
                stderr=open(os.path.join(wd, "client-%s.log" % name), "w")
                if os.environ.get("RILL_CLIENT_DEBUG") else subprocess.DEVNULL)
        self.procs["consumer"] = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "group_consumer.py"), self.cluster.bootstrap(), TOPIC,
             GROUP, os.path.join(wd, "consumed.txt")], stderr=subprocess.DEVNULL)

    def kill_leader(self, cut_power=False):
        md = self.topic_metadata(quiet=True)
        if md is None:
            return
        leaders = {p: m.leader for p, m in md.topics[TOPIC].partitions.items()}
        live = [p for p, l in leaders.items() if l in self.cluster.nodes]
        if not live:
            return
        victim = leaders[self.rng.choice(sorted(live))]
        led = sorted(p for p, l in leaders.items() if l == victim)
        b = self.cluster.nodes[victim]
        b.kill()
        self.kills.append((time.time(), victim, led))
        if cut_power:
            powerloss("crash", b.mount)  # what was not fsynced is gone
            self.cuts += 1
        self.note("%s broker %d (leader of %s)" % ("power cut of" if cut_power else "SIGKILL",
                                                   victim, led))
        time.sleep(self.rng.uniform(1.0, 2.5))
        self.cluster.start(victim)  # on the same ports, which the clients know
        self.note("restarted broker %d" % victim)

    def pause(self):
        node = self.rng.choice(sorted(self.cluster.nodes))
        b = self.cluster.nodes[node]
        b.signal(signal.SIGSTOP)
        self.pauses += 1
        self.note("SIGSTOP broker %d" % node)
        time.sleep(self.rng.uniform(1.0, 3.0))
        b.signal(signal.SIGCONT)
        self.note("SIGCONT broker %d" % node)

    def partition(self):
        """Cuts one broker off from the other two for 4-8 s, both ways: a
        partition leader, the active controller or any broker; three times
        in ten from the clients as well. Cut off from its peers only, a
        leader still takes produce requests that it can never commit: they
        must fail or be retried elsewhere, and its uncommitted tail must be
        truncated after the heal."""
        md = self.topic_metadata(quiet=True)
        if md is None:
            return
        leaders = sorted(m.leader for m in md.topics[TOPIC].partitions.values() if m.leader > 0)
        kind = self.rng.choice(("leader", "leader", "controller", "any"))
        if kind == "leader" and leaders:
            victim = self.rng.choice(leaders)
        elif kind == "controller" and md.controller_id in self.cluster.nodes:
            victim = md.controller_id
        else:
            victim = self.rng.choice(sorted(self.cluster.nodes))
        from_clients = self.rng.random() < 0.3
        self.net.isolate(victim, from_clients)
        self.partitions += 1
        self.note("partition: broker %d (%s) cut off from the other brokers%s" % (
            victim, kind, " and the clients" if from_clients else ""))
        time.sleep(self.rng.uniform(4.0, 8.0))
        self.net.heal()
        self.note("healed the partition of broker %d" % victim)

    def bridge(self):
        """A partial partition, then a kill: a partition leader loses its
        link to one follower (both still reach the controller, the other
        follower and the clients), and 1-2.5 s later, before the ISR can
        shrink, the leader is SIGKILLed. The cut-off follower is still in
        the ISR and may be elected: everything acknowledged must be on it,
        which a high watermark taken over fewer than all the ISR (a
        majority, say) would break. Healed and restarted afterwards."""
        md = self.topic_metadata(quiet=True)
        if md is None:
            return
        parts = md.topics[TOPIC].partitions
        led = sorted(p for p, m in parts.items() if m.leader in self.cluster.nodes)
        if not led:
            return
        part = self.rng.choice(led)
        leader = parts[part].leader
        followers = sorted(r for r in parts[part].replicas if r != leader)
        if not followers:
            return
        follower = self.rng.choice(followers)
        self.net.cut_link(leader, follower)
        self.partitions += 1
        self.note("partition: link between broker %d (leader of %d) and broker %d cut" % (
            leader, part, follower))
        time.sleep(self.rng.uniform(1.0, 2.5))
        b = self.cluster.nodes[leader]
        b.kill()
        self.kills.append((time.time(), leader, sorted(p for p, m in parts.items()
                                                       if m.leader == leader)))
        self.note("SIGKILL broker %d" % leader)
        time.sleep(self.rng.uniform(0.5, 1.5))
        self.net.heal()
        self.note("healed the link")
        time.sleep(self.rng.uniform(0.5, 1.0))
        self.cluster.start(leader)
        self.note("restarted broker %d" % leader)

    def run_nemesis(self):
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            time.sleep(self.rng.uniform(*self.interval))
            op = self.rng.choice(self.nemeses)
            if op in ("kill", "powercut"):
                self.kill_leader(cut_power=op == "powercut")
            elif op == "partition":
                self.partition()
            elif op == "bridge":
                self.bridge()
            else:
                self.pause()

    def heal_and_check(self):
        wd = self.cluster.workdir
        for name in PRODUCERS:
            self.procs[name].send_signal(signal.SIGTERM)
        for name in PRODUCERS:
            self.procs[name].wait(120)
        self.note("producers stopped")
        wait_until(self.full_isr, 60, what="every replica back in sync")
        acked = {name: read_lines(os.path.join(wd, "acks-%s.txt" % name),
                                  (int, int, str, float)) for name in PRODUCERS}
        all_acked = set((p, o) for a in acked.values() for p, o, _, _ in a)
        consumed_path = os.path.join(wd, "consumed.txt")

        def consumed_all():
            got = {(p, o) for p, o, _ in read_lines(consumed_path, (int, int, str))}
            return all_acked <= got
        try:
            wait_until(consumed_all, 60, interval=0.5, what="the group to consume everything")
        except TimeoutError:
            self.note("the group did not consume everything")  # counted below
        self.procs["consumer"].send_signal(signal.SIGTERM)
        self.procs["consumer"].wait(60)
        consumed = read_lines(consumed_path, (int, int, str))
        stored, hws = self.read_back()
        self.stored = stored
        replicas = {}
        for p in range(PARTITIONS):
            replicas[p] = {n: segment_batches(os.path.join(b.data_dir, "%s-%d" % (TOPIC, p)),
                                              hws[p])
                           for n, b in self.cluster.nodes.items()}
        first = self.cluster.nodes[min(self.cluster.nodes)]  # replicas agree below the HW
        epochs = {(p, o): e for p in range(PARTITIONS) for o, e in producer_epochs(
            os.path.join(first.data_dir, "%s-%d" % (TOPIC, p)), hws[p]).items()}
        report = {"seed": self.seed, "seconds": self.seconds, "failovers": len(self.kills),
                  "power_cuts": self.cuts, "pauses": self.pauses,
                  "partitions": self.partitions, "clients": {},
                  "preferred_elections": sum(b.log().count("preferred-leader election:")
                                             for b in self.cluster.nodes.values())}
        for name in PRODUCERS:
            mine = [(p, o, v) for p, o, v, _ in acked[name]]
            values = {v for _, _, v in mine}
            own = {k: v for k, v in stored.items() if v in values}
            own_consumed = [c for c in consumed if c[2] in values]
            report["clients"][name] = check(mine, own, own_consumed, replicas,
                                            ordered=name == "confluent-idempotent",
                                            producer_epochs=epochs)
        report["stalls"] = self.stalls(acked)
        return report

    def read_back(self):
        c = Consumer({"bootstrap.servers": self.cluster.bootstrap(), "group.id": "chaos-reader",
                      "enable.auto.commit": False, "enable.partition.eof": True})
        got, hws = {}, {}
        try:
            for p in range(PARTITIONS):
                hws[p] = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=20)[1]
            c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
            eof = set()
            deadline = time.monotonic() + 60
            while len(eof) < PARTITIONS and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        eof.add(m.partition())
                    continue
                got[(m.partition(), m.offset())] = m.value().decode()
        finally:
            c.close()
        return got, hws

    def stalls(self, acked):
        """For each kill: seconds from the SIGKILL to the first record acked
        afterwards on a partition the victim led."""
        times = sorted((t, p) for a in acked.values() for p, _, _, t in a)
        out = []
        for when, _, led in self.kills:
            first = next((t for t, p in times if t > when and p in led), None)
            if first is not None:
                out.append(round(first - when, 3))
        return out

    def cleanup(self):
        keep = os.environ.get("RILL_CHAOS_KEEP")
        if keep:  # a directory to copy the brokers' logs and the histories into
            import shutil
            os.makedirs(keep, exist_ok=True)
            for n, b in self.cluster.nodes.items():
                with open(os.path.join(keep, "node-%d.log" % n), "w") as f:
                    f.write(b.log())
            with open(os.path.join(keep, "nemesis.txt"), "w") as f:
                f.write("".join(line + "\n" for line in self.log_wall))
            with open(os.path.join(keep, "stored.txt"), "w") as f:  # the read-back
                f.write("".join("%d %d %s\n" % (p, o, v)
                                for (p, o), v in sorted(getattr(self, "stored", {}).items())))
            for name in os.listdir(self.cluster.workdir):
                if name.endswith(".txt") or name.startswith("client-"):
                    shutil.copy(os.path.join(self.cluster.workdir, name), keep)
        if self.net is not None:
            self.net.heal()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        try:
            for b in self.cluster.nodes.values():
                b.cleanup()  # before the filesystems under them go
        finally:
            for mnt in self.mounts:
                powerloss("umount", mnt, check=False)
            self.cluster.cleanup()


def summary(report):
    stalls = sorted(report["stalls"])
    p50 = stalls[len(stalls) // 2] if stalls else None
    lines = ["chaos seed %d, %ds: %d failovers (%d of them power cuts), %d pauses, "
             "%d network partitions, %d preferred-leader elections" % (
                 report["seed"], report["seconds"], report["failovers"], report["power_cuts"],
                 report["pauses"], report["partitions"], report["preferred_elections"])]
    for name, r in report["clients"].items():
        lines.append("  %-22s acked %6d lost %d duplicated %d (%d more re-sent under a new "
                     "producer epoch) reordered %d divergent %d skipped %d unconsumed %d "
                     "replica faults %s" % (
                         name, r["acked"], r["lost"], r["duplicated"], r["rebumped"],
                         r["reordered"], r["divergent"], r["skipped"], r["unconsumed"],
                         r["replica_faults"]))
    lines.append("  produce stall after a kill: p50 %s s, max %s s (%s)" % (
        p50, stalls[-1] if stalls else None, stalls))
    return "\n".join(lines)


def run(seed, seconds, **kw):
    ch = Chaos(seed, seconds, **kw)
    try:
        ch.start()
        ch.run_nemesis()
        report = ch.heal_and_check()
    finally:
        ch.cleanup()
    print(summary(report), flush=True)
    return report


def run_in_namespaces(seed, seconds, nemeses, interval=(3.0, 5.0), timeout=None):
    """run() with every broker in a network namespace of its own: makes
    the namespaces (netns.Hub), runs this file inside the hub and returns
    its report. The caller checks netns.available() first."""
    timeout = timeout or seconds + 300
    with netns.Hub(3) as hub, tempfile.TemporaryDirectory(prefix="rill-chaos-") as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = hub.command([PYTHON, os.path.abspath(__file__), "--netns", hub.name,
                           "--nemeses", ",".join(nemeses), "--interval",
                           "%g,%g" % interval, "--json", out, str(seed), str(seconds)])
        # Its own session, so that everything it starts can be killed at once.
        proc = subprocess.Popen(cmd, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        if not os.path.exists(out):
            raise AssertionError("the chaos run in the namespaces exited with %d and no report"
                                 % rc)
        with open(out) as f:
            return json.load(f)


def failed(report):
    """Whether a report shows anything the checker counts as wrong."""
    bad = any(r["lost"] or r["divergent"] or r["skipped"] or r["unconsumed"] or
              r["replica_faults"] for r in report["clients"].values())
    r = report["clients"]["confluent-idempotent"]
    return bad or r["duplicated"] or r["reordered"]


def main():
    ap = argparse.ArgumentParser(description="A seeded chaos run against a 3-node cluster.")
    ap.add_argument("seed", nargs="?", type=int, default=int(time.time()) % 100000)
    ap.add_argument("seconds", nargs="?", type=int, default=120)
    ap.add_argument("--nemeses",
                    help="comma-separated: kill, powercut, pause, partition, bridge")
    ap.add_argument("--interval", default="3,5", help="seconds between faults: MIN,MAX")
    ap.add_argument("--netns", help="the hub namespace this runs in (set by run_in_namespaces)")
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args()
    interval = tuple(float(x) for x in a.interval.split(","))
    if a.netns:
        report = run(a.seed, a.seconds, nemeses=tuple(a.nemeses.split(",")),
                     interval=interval, hub=a.netns)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(report, f)
        sys.exit(0)
    ok, why = netns.available()
    nemeses = tuple(a.nemeses.split(",")) if a.nemeses else (
        ("kill", "powercut", "pause") + (("partition", "bridge") if ok else ()))
    if "partition" in nemeses or "bridge" in nemeses:
        if not ok:
            sys.exit("chaos: network partitions need network namespaces, and here: " + why)
        report = run_in_namespaces(a.seed, a.seconds, nemeses, interval)  # prints its summary
    else:
        if not ok:
            print("chaos: NO NETWORK PARTITIONS in this run: network namespaces are "
                  "unavailable (%s)" % why, file=sys.stderr, flush=True)
        report = run(a.seed, a.seconds, nemeses=nemeses, interval=interval)
    sys.exit(1 if failed(report) else 0)


if __name__ == "__main__":
    main()
