"""Brokers in a three-node cluster: replicas placed across brokers with
leaders spread, and broker liveness. A broker that stops heartbeating
(SIGKILL, SIGSTOP) is fenced after broker.session.timeout.ms: Metadata stops
listing it and its partition leaderships move to other in-sync replicas. A
broker shut down with SIGTERM is fenced before it exits (a controlled
shutdown), and one that comes back is unfenced and listed again.

A killed process is found at once: its connection to the controller
closes and its listener refuses, and a new controller probes every broker
when it takes over; a paused one keeps accepting connections, so only its
session decides. These tests look at placement, leaders, ISRs and epochs,
and that the new leaders serve (tests/chaos checks the data)."""
import signal
import time
import unittest

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from rill import Cluster, wait_until

SESSION_MS = 1500


def metadata(broker):
    """(brokers, controller, {topic: {partition: (leader, replicas, isr)}})."""
    md = AdminClient({"bootstrap.servers": broker.bootstrap,
                      "socket.timeout.ms": 3000}).list_topics(timeout=5)
    topics = {name: {p.id: (p.leader, sorted(p.replicas), sorted(p.isrs))
                     for p in t.partitions.values()}
              for name, t in md.topics.items()}
    return sorted(md.brokers), md.controller_id, topics


def describe_cluster(broker, version=2, endpoint_type=1, include_fenced=True):
    """DescribeCluster by hand (flexible from v0): (error, cluster id,
    controller, [(id, host, port, fenced)])."""
    from kwire import FlexReader, RawClient
    body = b"\x00" + (bytes([endpoint_type]) if version >= 1 else b"") + (
        bytes([include_fenced]) if version >= 2 else b"") + b"\x00"
    with RawClient(broker.port) as c:
        c.send(60, version, body, flexible=True)
        _, p = c.recv()
    f = FlexReader(p)
    f.raw(1)  # header tags
    uvarint = f.uvarint

    def cstr():
        v = f.cstring()
        return v.decode() if v is not None else None
    f.fixed(">i")
    err = f.fixed(">h")
    cstr()
    if version >= 1:
        f.raw(1)
    cluster = cstr()
    controller = f.fixed(">i")
    brokers = []
    for _ in range(uvarint() - 1):
        bid = f.fixed(">i")
        host = cstr()
        port = f.fixed(">i")
        cstr()
        fenced = bool(f.raw(1)[0]) if version >= 2 else False
        uvarint()
        brokers.append((bid, host, port, fenced))
    return err, cluster, controller, brokers


def try_metadata(broker):
    try:
        return metadata(broker)
    except KafkaException:
        return None


class Fencing(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, args=[
            "--broker.session.timeout.ms=%d" % SESSION_MS,
            "--broker.heartbeat.interval.ms=300"]).start()
        # Every broker registered and unfenced, as every node sees it.
        for b in self.cluster.nodes.values():
            wait_until(lambda b=b: (try_metadata(b) or ([],))[0] == [1, 2, 3], 30,
                       what="node %s to list three brokers" % b.bootstrap)

    def tearDown(self):
        self.cluster.cleanup()

    def live(self):
        return [b for b in self.cluster.nodes.values() if b.alive()]

    def create(self, name, partitions, rf):
        b = self.live()[0]
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic(name, partitions, rf)],
                            operation_timeout=10)[name].result(20)
        for n in self.live():
            wait_until(lambda n=n: name in (try_metadata(n) or ([], 0, {}))[2], 10,
                       what="the topic on node %s" % n.bootstrap)

    def test_replicas_are_placed_on_three_brokers_with_leaders_spread(self):
        self.create("spread", 6, 3)
        views = [metadata(b) for b in self.live()]
        self.assertEqual(len({repr(v[2]["spread"]) for v in views}), 1,
                         "every broker returns the same partitions")
        parts = views[0][2]["spread"]
        leads = {1: 0, 2: 0, 3: 0}
        for p, (leader, replicas, isr) in parts.items():
            self.assertEqual(replicas, [1, 2, 3])
            self.assertEqual(isr, [1, 2, 3])
            leads[leader] += 1
        self.assertEqual(leads, {1: 2, 2: 2, 3: 2})
        # More replicas than brokers: INVALID_REPLICATION_FACTOR (38).
        admin = AdminClient({"bootstrap.servers": self.live()[0].bootstrap})
        with self.assertRaises(KafkaException) as ctx:
            admin.create_topics([NewTopic("too-wide", 1, 4)])["too-wide"].result(20)
        self.assertEqual(ctx.exception.args[0].code(), 38)
        self.assertIn("only 3 broker(s)", ctx.exception.args[0].str())

    def test_a_killed_controller_is_fenced_and_its_leaderships_move(self):
        self.create("moving", 6, 3)
        self.create("single", 3, 1)
        _, c, before = metadata(self.live()[0])
        victim = self.cluster.nodes[c]
        victim.kill()
        killed_at = time.monotonic()
        rest = self.live()

        def moved():
            m = try_metadata(rest[0])
            if m is None or c in m[0]:
                return None
            return m
        brokers, new_c, after = wait_until(moved, 30, interval=0.05,
                                           what="the killed broker to be fenced")
        took = time.monotonic() - killed_at
        print("\n  SIGKILL of broker %d (the controller): fenced and its leaderships moved "
              "%.2f s later (election included; the new controller finds the process gone "
              "without waiting for the %.1f s session)" % (c, took, SESSION_MS / 1000))
        self.assertLess(took, 5)
        self.assertEqual(sorted(brokers), sorted(n for n in (1, 2, 3) if n != c))
        self.assertNotEqual(new_c, c)
        for p, (leader, replicas, isr) in after["moving"].items():
            old_leader, _, old_isr = before["moving"][p]
            self.assertNotEqual(leader, c)
            self.assertIn(leader, old_isr, "a new leader comes from the ISR")
            self.assertEqual(isr, [n for n in (1, 2, 3) if n != c])
            self.assertEqual(replicas, [1, 2, 3])
        for p, (leader, replicas, isr) in after["single"].items():
            if replicas == [c]:  # its only replica is gone: no leader, ISR kept
                self.assertEqual((leader, isr), (-1, [c]))
        # Metadata v5+ names the replicas on the fenced broker as offline.
        from kafka.protocol.metadata import MetadataRequest
        from kwire import RawClient
        with RawClient(rest[0].port) as raw:
            md = raw.request(MetadataRequest[5](topics=["moving"], allow_auto_topic_creation=False))
        for part in md.topics[0][3]:
            self.assertEqual(part[5], [c])
        # The new leaders take writes.
        prod = Producer({"bootstrap.servers": rest[0].bootstrap, "acks": "all"})
        for p in after["moving"]:
            prod.produce("moving", b"after-the-kill", partition=p)
        self.assertEqual(prod.flush(20), 0)
        # The broker comes back as a new incarnation: listed again, leading
        # its single-replica partitions again.
        self.cluster.start(c)
        wait_until(lambda: c in (try_metadata(rest[0]) or ([],))[0], 20,
                   what="the restarted broker to be unfenced")
        _, _, back = metadata(rest[0])
        for p, (leader, replicas, isr) in back["single"].items():
            if replicas == [c]:
                self.assertEqual(leader, c)

    def test_a_paused_broker_is_fenced_and_unfenced_on_resume(self):
        self.create("paused", 3, 3)
        _, c, _ = metadata(self.live()[0])
        n = next(i for i in self.cluster.nodes if i != c)
        b = self.cluster.nodes[n]
        b.signal(signal.SIGSTOP)
        try:
            other = next(x for i, x in self.cluster.nodes.items() if i != n)

            def fenced():
                # Fenced, and out of every ISR: a fence's ISR change loses
                # to an ISR change committed first on the same partition
                # epoch, and the controller's reconciliation then removes
                # the fenced broker a decision later.
                m = try_metadata(other)
                if m is None or n in m[0] or "paused" not in m[2]:
                    return None
                if any(n in isr for _, _, isr in m[2]["paused"].values()):
                    return None
                return m
            _, _, parts = wait_until(fenced, 30, interval=0.05,
                                     what="the paused broker to be fenced")
            for p, (leader, _, isr) in parts["paused"].items():
                self.assertNotEqual(leader, n)
                self.assertNotIn(n, isr)
            # DescribeCluster: without it by default, marked fenced on request.
            err, cluster, ctl, brokers = describe_cluster(other)
            self.assertEqual((err, cluster), (0, "rill-test-cluster-0001"))
            self.assertEqual(sorted((b[0], b[3]) for b in brokers),
                             sorted((i, i == n) for i in (1, 2, 3)))
            err, _, _, brokers = describe_cluster(other, version=0)
            self.assertEqual(sorted(b[0] for b in brokers), sorted(i for i in (1, 2, 3)
                                                                   if i != n))
            err, _, _, voters = describe_cluster(other, endpoint_type=2)
            self.assertEqual(sorted(v[0] for v in voters), [1, 2, 3])
            self.assertEqual(sorted(v[2] for v in voters), sorted(self.cluster.ctl_ports))
        finally:
            b.signal(signal.SIGCONT)
        # The same process heartbeats again and is unfenced.
        wait_until(lambda: n in (try_metadata(other) or ([],))[0], 20,
                   what="the resumed broker to be unfenced")

    def test_producer_ids_come_from_the_controller_to_every_broker(self):
        """InitProducerId on any broker: each asks the controller for a block
        of ids, so ids are distinct across brokers; librdkafka's idempotent
        producer works through a broker that is not the controller."""
        import struct
        from kwire import RawClient
        ids = []
        for b in self.live():
            with RawClient(b.port) as c:
                for _ in range(3):
                    c.send(22, 0, struct.pack(">hi", -1, 60000))  # no transactional id
                    _, p = c.recv()
                    _, err, pid, epoch = struct.unpack(">ihqh", p)
                    self.assertEqual((err, epoch), (0, 0))
                    ids.append(pid)
        self.assertEqual(len(set(ids)), 9, ids)
        self.assertEqual(len({pid // 1000 for pid in ids}), 3, "one block per broker")
        self.create("idempotent", 3, 1)
        _, c, _ = metadata(self.live()[0])
        follower = next(b for i, b in self.cluster.nodes.items() if i != c)
        prod = Producer({"bootstrap.servers": follower.bootstrap, "enable.idempotence": True})
        for i in range(300):
            prod.produce("idempotent", b"%d" % i, partition=i % 3)
        self.assertEqual(prod.flush(20), 0)

    def test_admin_requests_through_a_broker_that_is_not_the_controller(self):
        """CreateTopics, CreatePartitions, AlterConfigs and DeleteTopics sent to a broker that is not the
        controller are relayed to it, and answered once the receiving
        broker's own image has the change: Metadata right after the answer,
        on the same broker, already shows it."""
        from kafka.protocol.admin import (AlterConfigsRequest, CreatePartitionsRequest,
                                          CreateTopicsRequest, DeleteTopicsRequest,
                                          DescribeConfigsRequest)
        from kafka.protocol.metadata import MetadataRequest
        from kwire import RawClient
        _, c, _ = metadata(self.live()[0])
        follower = next(b for i, b in self.cluster.nodes.items() if i != c)
        with RawClient(follower.port) as raw:
            resp = raw.request(CreateTopicsRequest[2](
                create_topic_requests=[("relayed", 4, 3, [], []), ("relayed-bad", 1, 5, [], [])],
                timeout=10000, validate_only=False))
            errors = {t[0]: (t[1], t[2]) for t in resp.topic_errors}
            self.assertEqual(errors["relayed"][0], 0)
            self.assertEqual(errors["relayed-bad"][0], 38)  # INVALID_REPLICATION_FACTOR
            md = raw.request(MetadataRequest[1](topics=["relayed"]))
            (err, name, _, parts), = md.topics
            self.assertEqual((err, name, len(parts)), (0, "relayed", 4))
            resp = raw.request(CreatePartitionsRequest[1](
                topic_partitions=[("relayed", (6, None))], timeout=10000, validate_only=False))
            self.assertEqual([(t[0], t[1]) for t in resp.topic_errors], [("relayed", 0)])
            md = raw.request(MetadataRequest[1](topics=["relayed"]))
            (err, name, _, parts), = md.topics
            self.assertEqual(len(parts), 6)
            self.assertTrue(all(sorted(p[3]) == [1, 2, 3] for p in parts))
            resp = raw.request(AlterConfigsRequest[1](
                resources=[(2, "relayed", [("retention.ms", "123456")])], validate_only=False))
            self.assertEqual(resp.resources[0][0], 0)
            resp = raw.request(DescribeConfigsRequest[1](
                resources=[(2, "relayed", ["retention.ms"])], include_synonyms=False))
            self.assertEqual(resp.resources[0][4][0][1], "123456")
            resp = raw.request(DeleteTopicsRequest[1](topics=["relayed"], timeout=10000))
            self.assertEqual(resp.topic_error_codes, [("relayed", 0)])
            md = raw.request(MetadataRequest[4](topics=["relayed"],
                                                allow_auto_topic_creation=False))
            self.assertEqual(md.topics[0][0], 3)  # UNKNOWN_TOPIC_OR_PARTITION

    def test_a_controlled_shutdown_moves_leaderships_before_exit(self):
        self.create("handover", 6, 3)
        _, c, before = metadata(self.live()[0])
        n = next(i for i in self.cluster.nodes if i != c)
        led = [p for p, (leader, _, _) in before["handover"].items() if leader == n]
        self.assertTrue(led)
        b = self.cluster.nodes[n]
        start = time.monotonic()
        b.stop()  # SIGTERM: asks to be fenced, waits for it, exits 0
        took = time.monotonic() - start
        self.assertIn("asking the controller to move this broker's leaderships", b.log())
        # Right at exit, well before a session timeout, nothing is led there.
        brokers, _, after = metadata(self.cluster.nodes[c])
        self.assertNotIn(n, brokers)
        for p in led:
            self.assertNotEqual(after["handover"][p][0], n)
        print("\n  SIGTERM of broker %d: %d leaderships moved, exited after %.2f s"
              % (n, len(led), took))
        self.assertLess(took, SESSION_MS / 1000)


if __name__ == "__main__":
    unittest.main()
