"""The metadata quorum across real processes: three rill nodes on loopback
elect one controller (the Raft leader), every node reports the same one,
metadata committed through it reaches every node, a SIGKILLed controller is
replaced (the time is measured and printed), and the killed node catches up
when it comes back. A node of another cluster is refused.

The data plane of a cluster (replica placement, leaders per partition,
brokers in Metadata) comes with the rest of the cluster work; these tests
exercise the quorum underneath it."""
import os
import statistics
import struct
import subprocess
import time
import unittest

from confluent_kafka.admin import AdminClient, NewTopic

from kwire import FlexReader, RawClient
from rill import RILL_BIN, Broker, Cluster, wait_until


def describe_quorum(port, version=1):
    """DescribeQuorum (key 55, flexible) for __cluster_metadata-0, decoded:
    (error, leader, epoch, high watermark, voters, observers), each replica
    as (id, log end offset, last fetch, last caught up)."""
    name = b"__cluster_metadata"
    body = bytes([2, len(name) + 1]) + name + bytes([2]) + struct.pack(">i", 0) + b"\0\0\0"
    with RawClient(port) as c:
        c.send(55, version, body, flexible=True)
        _, payload = c.recv()
    f = FlexReader(payload)
    u, uvarint, cstring = f.fixed, f.uvarint, f.cstring
    uvarint()  # response header tags
    top = u(">h")
    if version >= 2:
        cstring()
    assert uvarint() == 2 and cstring() == name and uvarint() == 2
    u(">i")
    err = u(">h")
    if version >= 2:
        cstring()
    leader, epoch, hw = u(">i"), u(">i"), u(">q")

    def replicas():
        out = []
        for _ in range(uvarint() - 1):
            rid = u(">i")
            if version >= 2:
                f.raw(16)
            leo = u(">q")
            fetch, caught = (u(">q"), u(">q")) if version >= 1 else (-1, -1)
            uvarint()
            out.append((rid, leo, fetch, caught))
        return out
    voters, observers = replicas(), replicas()
    return top, err, leader, epoch, hw, voters, observers


def controller_of(broker):
    """The controller id a broker's Metadata answer names, or None."""
    try:
        md = AdminClient({"bootstrap.servers": broker.bootstrap,
                          "socket.timeout.ms": 2000}).list_topics(timeout=3)
    except Exception:
        return None
    return md.controller_id if md.controller_id >= 0 else None


def topics_of(broker):
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5)
    return set(md.topics)


def agreed_controller(nodes):
    ids = {controller_of(b) for b in nodes}
    if len(ids) == 1:
        (c,) = ids
        return c
    return None


class Quorum(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, args=["--group.initial.rebalance.delay.ms=0"]).start()

    def tearDown(self):
        self.cluster.cleanup()

    def live(self):
        return [b for b in self.cluster.nodes.values() if b.alive()]

    def create_topic(self, controller, name):
        admin = AdminClient({"bootstrap.servers": self.cluster.nodes[controller].bootstrap})
        admin.create_topics([NewTopic(name, 2, 1)], operation_timeout=10)[name].result(20)

    def test_one_controller_metadata_everywhere_and_failover(self):
        c = wait_until(lambda: agreed_controller(self.live()), 20,
                       what="the three nodes to agree on a controller")
        self.assertIn(c, (1, 2, 3))
        self.create_topic(c, "replicated-metadata")
        for b in self.live():
            wait_until(lambda b=b: "replicated-metadata" in topics_of(b), 10,
                       what="node %s to apply the topic" % b.bootstrap)
        times = []
        for round_ in range(5):
            old = c
            killed = self.cluster.nodes[old]
            killed.kill()
            start = time.monotonic()
            rest = self.live()

            def new_controller_creates():
                now = agreed_controller(rest)
                if now is None or now == old:
                    return None
                try:
                    self.create_topic(now, "after-kill-%d" % round_)
                except Exception:
                    return None
                return now
            c = wait_until(new_controller_creates, 20, interval=0.05,
                           what="a new controller that creates topics")
            times.append(time.monotonic() - start)
            # The killed node comes back and catches up.
            self.cluster.start(old)
            wait_until(lambda: "after-kill-%d" % round_ in topics_of(killed), 20,
                       what="the restarted node to catch up")
            wait_until(lambda: agreed_controller(self.live()) == c, 20,
                       what="the restarted node to follow the new controller")
        print("\n  controller failover to a working CreateTopics: %s s, median %.2f s"
              % (", ".join("%.2f" % t for t in times), statistics.median(times)))
        self.assertLess(statistics.median(times), 4.0)

    def test_describe_quorum_shows_leader_voters_and_their_offsets(self):
        c = wait_until(lambda: agreed_controller(self.live()), 20, what="a controller")
        self.create_topic(c, "described")
        leader = self.cluster.nodes[c]

        def settled():
            q = describe_quorum(leader.port)
            _, err, lid, epoch, hw, voters, _ = q
            return q if err == 0 and all(v[1] == hw for v in voters) else None
        top, err, lid, epoch, hw, voters, observers = wait_until(settled, 10,
                                                                  what="voters caught up")
        self.assertEqual((top, err, lid), (0, 0, c))
        self.assertGreaterEqual(epoch, 1)
        self.assertGreater(hw, 0)
        self.assertEqual(sorted(v[0] for v in voters), [1, 2, 3])
        self.assertEqual(observers, [])
        for rid, leo, fetch, caught in voters:
            if rid == c:
                self.assertEqual(fetch, -1)
            else:
                self.assertGreater(fetch, time.time() * 1000 - 5000)
        # Version 2 (Nodes) parses too; a follower relays the request to the
        # leader, as Kafka's brokers do, and gives its answer.
        self.assertEqual(describe_quorum(leader.port, 2)[2], c)
        follower = next(b for n, b in self.cluster.nodes.items() if n != c)
        relayed = describe_quorum(follower.port)
        self.assertEqual(relayed[:3], (0, 0, c))
        self.assertEqual(sorted(v[0] for v in relayed[5]), [1, 2, 3])
        # rill's own status view says the same.
        out = subprocess.run([RILL_BIN, "quorum", "status", "--bootstrap-server",
                              leader.bootstrap], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("leader %d, epoch %d" % (c, epoch), out.stdout)
        self.assertEqual(sum(line.startswith("voter") for line in out.stdout.splitlines()), 3)
        out = subprocess.run([RILL_BIN, "quorum", "status", "--bootstrap-server",
                              follower.bootstrap], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("leader %d, epoch %d" % (c, epoch), out.stdout)

    def test_every_node_lists_every_broker_and_routes_to_the_leader(self):
        from confluent_kafka import Consumer, Producer, TopicPartition
        from kafka.protocol.produce import ProduceRequest
        from kafka.record.default_records import DefaultRecordBatchBuilder
        c = wait_until(lambda: agreed_controller(self.live()), 20, what="a controller")
        # Every node registers itself; every node's Metadata lists all three.
        for b in self.live():
            wait_until(lambda b=b: len(AdminClient({"bootstrap.servers": b.bootstrap})
                                       .list_topics(timeout=5).brokers) == 3, 20,
                       what="node %s to list three brokers" % b.bootstrap)
        follower, other = [b for n, b in sorted(self.cluster.nodes.items()) if n != c]
        out = subprocess.run(["kcat", "-b", follower.bootstrap, "-L"], capture_output=True,
                             text=True, timeout=30).stdout
        self.assertIn("3 brokers:", out)
        self.assertIn("(controller)", out)
        self.create_topic(c, "routed")
        wait_until(lambda: "routed" in topics_of(follower), 10, what="the topic everywhere")
        # A client bootstrapped at a follower is sent to the leader...
        p = Producer({"bootstrap.servers": follower.bootstrap, "acks": "all"})
        for i in range(20):
            p.produce("routed", b"v-%d" % i, partition=0)
        self.assertEqual(p.flush(20), 0)
        cons = Consumer({"bootstrap.servers": other.bootstrap, "group.id": "g",
                         "enable.partition.eof": True})
        cons.assign([TopicPartition("routed", 0, 0)])
        got = []
        while True:
            m = cons.poll(10)
            self.assertIsNotNone(m)
            if m.error():
                break
            got.append(m.value())
        cons.close()
        self.assertEqual(got, [b"v-%d" % i for i in range(20)])
        # ...and a node that does not lead the partition refuses it.
        md = AdminClient({"bootstrap.servers": other.bootstrap}).list_topics("routed", timeout=5)
        lead = md.topics["routed"].partitions[0].leader
        not_leader = next(b for n, b in self.cluster.nodes.items() if n != lead)
        bb = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                       producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                       batch_size=1 << 20)
        bb.append(0, timestamp=int(time.time() * 1000), key=None, value=b"x", headers=[])
        with RawClient(not_leader.port) as raw:
            resp = raw.request(ProduceRequest[3](transactional_id=None, required_acks=-1,
                                                 timeout=5000,
                                                 topics=[("routed", [(0, bytes(bb.build()))])]))
        self.assertEqual(resp.topics[0][1][0][1], 6)  # NOT_LEADER_OR_FOLLOWER

    def test_paused_nodes(self):
        """A paused minority does not stop the quorum and catches up when
        resumed; a controller whose majority is paused cannot change
        metadata, resigns (check-quorum), and the quorum agrees again after
        the resume."""
        import signal
        c = wait_until(lambda: agreed_controller(self.live()), 20, what="a controller")
        followers = [b for n, b in self.cluster.nodes.items() if n != c]
        followers[0].signal(signal.SIGSTOP)
        try:
            self.create_topic(c, "while-one-paused")
        finally:
            followers[0].signal(signal.SIGCONT)
        wait_until(lambda: "while-one-paused" in topics_of(followers[0]), 20,
                   what="the resumed node to catch up")
        # Now the majority: the controller alone cannot commit anything.
        leader = self.cluster.nodes[c]
        for b in followers:
            b.signal(signal.SIGSTOP)
        try:
            admin = AdminClient({"bootstrap.servers": leader.bootstrap})
            f = admin.create_topics([NewTopic("without-a-majority", 1, 1)],
                                    operation_timeout=3, request_timeout=5)
            with self.assertRaises(Exception):
                f["without-a-majority"].result(8)
            self.assertNotIn("without-a-majority", topics_of(leader))
            # Check-quorum: it stops claiming to be the controller.
            wait_until(lambda: controller_of(leader) != c, 10,
                       what="the isolated controller to resign")
        finally:
            for b in followers:
                b.signal(signal.SIGCONT)
        now = wait_until(lambda: agreed_controller(self.live()), 20,
                         what="a controller after the resume")
        self.create_topic(now, "after-the-resume")
        for b in self.live():
            wait_until(lambda b=b: "after-the-resume" in topics_of(b), 20,
                       what="every node to apply the topic")
        self.assertEqual(len({frozenset(topics_of(b)) for b in self.live()}), 1)

    def test_a_controlled_shutdown_hands_the_controller_over(self):
        c = wait_until(lambda: agreed_controller(self.live()), 20, what="a controller")
        old = self.cluster.nodes[c]
        start = time.monotonic()
        old.stop()  # SIGTERM: leadership transfer, then a clean exit (0)
        self.assertIn("handing the controller over before stopping", old.log())
        rest = self.live()
        new = wait_until(lambda: (lambda x: x if x not in (None, c) else None)(
            agreed_controller(rest)), 10, interval=0.02, what="the new controller")
        took = time.monotonic() - start
        print("\n  SIGTERM of the controller: node %d leads %.2f s later" % (new, took))
        # Well under an election timeout (1 s, drawn up to 2 s) after the
        # old one exited: it did not wait for a timeout.
        self.assertLess(took, 1.0)

    def test_a_node_of_another_cluster_is_refused(self):
        c = wait_until(lambda: agreed_controller(self.live()), 20, what="a controller")
        follower = next(n for n in self.cluster.nodes if n != c)
        b = self.cluster.nodes[follower]
        b.stop()
        # The same node id and voters, but a data directory (and cluster id)
        # of another cluster: its messages are refused by the others.
        other = os.path.join(self.cluster.workdir, "other-cluster-data")
        stranger = Broker(data_dir=other, workdir=b.workdir, args=[
            a.replace("rill-test-cluster-0001", "another-cluster-0002") for a in b.args])
        stranger.start_quiet()
        try:
            wait_until(lambda: any("a node of another cluster" in n.log()
                                   for n in self.cluster.nodes.values() if n.alive()),
                       10, what="the other nodes to refuse the stranger")
            self.assertEqual(agreed_controller([n for n in self.live()]), c)
            self.assertIsNone(controller_of(stranger))
        finally:
            stranger.cleanup()
        # And a node pointed at its own data directory with another
        # cluster's id refuses to start, naming both.
        wrong = Broker(data_dir=b.data_dir, workdir=os.path.join(self.cluster.workdir, "wrong"),
                       args=[a.replace("rill-test-cluster-0001", "another-cluster-0002")
                             for a in b.args])
        os.makedirs(wrong.workdir)
        with self.assertRaises(RuntimeError) as ctx:
            wrong.start_quiet(timeout=10)
        self.assertIn("does not match rill-test-cluster-0001", str(ctx.exception))
        self.assertIn("belongs to another cluster", str(ctx.exception))
        wrong.expected_exit = True
        wrong.cleanup()


class Snapshots(unittest.TestCase):
    """Metadata snapshots (KIP-630) across real processes: nodes snapshot
    their image and delete the metadata log segments below it; a follower
    whose data directory was wiped gets the leader's snapshot and then the
    entries after it; a restarted node loads its snapshot instead of the
    whole log. Small thresholds so that a test fills several segments."""

    def setUp(self):
        self.cluster = Cluster(3, args=[
            "--metadata.log.max.record.bytes.between.snapshots=4096",
            "--metadata.log.segment.bytes=16384"]).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_a_wiped_follower_installs_the_snapshot_and_a_restart_loads_it(self):
        import glob
        import shutil
        c = wait_until(lambda: agreed_controller(list(self.cluster.nodes.values())), 20,
                       what="a controller")
        admin = AdminClient({"bootstrap.servers": self.cluster.nodes[c].bootstrap})
        names = ["snapped-%d" % i for i in range(120)]
        for i in range(0, len(names), 20):
            fs = admin.create_topics([NewTopic(n, 1, 1) for n in names[i:i + 20]],
                                     operation_timeout=10)
            for f in fs.values():
                f.result(30)
        leader = self.cluster.nodes[c]
        meta_dir = os.path.join(leader.data_dir, "__cluster_metadata-0")
        wait_until(lambda: os.path.exists(os.path.join(meta_dir, "snapshot.checkpoint")), 20,
                   what="the leader's snapshot")

        def first_segment():
            return min(os.path.basename(f) for f in glob.glob(os.path.join(meta_dir, "*.log")))
        # Segments wholly below a snapshot go.
        wait_until(lambda: first_segment() != "%020d.log" % 0, 20,
                   what="the first metadata segment to be deleted")
        self.assertRegex(leader.log(), r"[1-9]\d* older segment\(s\) deleted")
        # A follower loses its disk: same node id, empty directory.
        n = next(i for i in self.cluster.nodes if i != c)
        follower = self.cluster.nodes[n]
        follower.kill()
        shutil.rmtree(follower.data_dir)
        self.cluster.start(n)
        wait_until(lambda: set(names) <= topics_of(follower), 30,
                   what="the wiped follower to catch up")
        self.assertIn("installing the leader's metadata snapshot", follower.log())
        # More metadata after the snapshot reaches it too.
        admin.create_topics([NewTopic("after-install", 1, 1)])["after-install"].result(20)
        wait_until(lambda: "after-install" in topics_of(follower), 20,
                   what="entries after the snapshot")
        # A restarted node loads its snapshot and replays only what follows.
        leader.stop()
        self.cluster.start(c)
        self.assertIn("loaded the metadata snapshot of entry", leader.log())
        wait_until(lambda: set(names) | {"after-install"} <= topics_of(leader), 20,
                   what="the restarted node's topics")
        views = [frozenset(topics_of(b)) for b in self.cluster.nodes.values()]
        self.assertEqual(len(set(views)), 1)


if __name__ == "__main__":
    unittest.main()
