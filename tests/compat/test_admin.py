"""Admin APIs through real admin clients: CreateTopics (configs, errors,
validate_only), DeleteTopics (files go, the name can be used again),
CreatePartitions (new partitions open and take records; errors),
AlterConfigs and IncrementalAlterConfigs (overrides replaced or changed
one by one, in force at once; errors) and DescribeConfigs (values,
sources, synonyms), for topics and the broker."""
import io
import os
import unittest

from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from rill import Broker, wait_until


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=["--log.retention.hours=48"]).start()
        cls.admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap})

    @classmethod
    def tearDownClass(cls):
        del cls.admin
        cls.broker.cleanup()

    def create(self, *topics, validate_only=False):
        fs = self.admin.create_topics(list(topics), validate_only=validate_only,
                                      operation_timeout=10)
        out = {}
        for name, f in fs.items():
            try:
                f.result(20)
                out[name] = None
            except Exception as e:
                out[name] = e.args[0].code()
        return out

    def test_create_topics_and_their_errors(self):
        from confluent_kafka import KafkaError
        res = self.create(NewTopic("made", 4, 1, config={"retention.ms": "3600000"}),
                          NewTopic("zero-parts", 0, 1),
                          NewTopic("rf-three", 1, 3),
                          NewTopic("bad/name", 1, 1),
                          NewTopic("bad-config", 1, 1, config={"retention.ms": "soon"}),
                          NewTopic("unknown-config", 1, 1, config={"no.such.key": "1"}))
        self.assertIsNone(res["made"])
        self.assertEqual(res["zero-parts"], KafkaError.INVALID_PARTITIONS)
        self.assertEqual(res["rf-three"], KafkaError.INVALID_REPLICATION_FACTOR)
        self.assertEqual(res["bad/name"], KafkaError.TOPIC_EXCEPTION)
        self.assertEqual(res["bad-config"], KafkaError.INVALID_CONFIG)
        self.assertEqual(res["unknown-config"], KafkaError.INVALID_CONFIG)
        self.assertEqual(self.create(NewTopic("made", 1, 1))["made"],
                         KafkaError.TOPIC_ALREADY_EXISTS)
        md = self.admin.list_topics(timeout=10)
        self.assertEqual(len(md.topics["made"].partitions), 4)
        # validate_only checks without creating.
        self.assertIsNone(self.create(NewTopic("only-checked", 2, 1), validate_only=True)
                          ["only-checked"])
        self.assertNotIn("only-checked", self.admin.list_topics(timeout=10).topics)

    def test_describe_topic_and_broker_configs(self):
        self.assertIsNone(self.create(NewTopic("described", 1, 1,
                                               config={"retention.ms": "1234"}))["described"])
        res = ConfigResource(ConfigResource.Type.TOPIC, "described")
        configs = self.admin.describe_configs([res])[res].result(20)
        self.assertEqual(configs["retention.ms"].value, "1234")
        self.assertEqual(configs["retention.ms"].source,
                         ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        # Inherited from the broker, which set log.retention.hours on its command line.
        self.assertEqual(configs["segment.bytes"].value, "1073741824")
        self.assertEqual(configs["cleanup.policy"].value, "delete")
        broker = ConfigResource(ConfigResource.Type.BROKER, "1")
        bconf = self.admin.describe_configs([broker])[broker].result(20)
        self.assertEqual(bconf["log.retention.hours"].value, "48")
        self.assertEqual(bconf["log.retention.hours"].source,
                         ConfigSource.STATIC_BROKER_CONFIG.value)
        self.assertEqual(bconf["num.partitions"].source,
                         ConfigSource.DEFAULT_CONFIG.value)
        missing = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")
        with self.assertRaises(Exception):
            self.admin.describe_configs([missing])[missing].result(20)

    def test_delete_topics(self):
        from kafka import KafkaAdminClient, KafkaProducer
        self.assertIsNone(self.create(NewTopic("doomed", 2, 1))["doomed"])
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap)
        p.send("doomed", b"x", partition=1).get(10)
        p.close()
        dirs = [os.path.join(self.broker.data_dir, "doomed-%d" % i) for i in range(2)]
        self.assertTrue(all(os.path.isdir(d) for d in dirs))
        ka = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            ka.delete_topics(["doomed"], timeout_ms=10000)
            with self.assertRaises(Exception):
                ka.delete_topics(["never-was"], timeout_ms=10000)
        finally:
            ka.close()
        self.assertNotIn("doomed", self.admin.list_topics(timeout=10).topics)
        wait_until(lambda: not any(os.path.exists(d) for d in dirs), 10,
                   what="the partition directories to go")
        # The name can be used again, from offset 0.
        self.assertIsNone(self.create(NewTopic("doomed", 1, 1))["doomed"])
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap)
        self.assertEqual(p.send("doomed", b"again").get(10).offset, 0)
        p.close()

    def overrides(self, topic):
        res = ConfigResource("topic", topic)
        entries = self.admin.describe_configs([res])[res].result(20)
        return {k: e.value for k, e in entries.items()
                if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}

    def test_alter_configs(self):
        from kafka import KafkaAdminClient
        from kafka.admin import ConfigResource as KResource, ConfigResourceType
        self.assertIsNone(self.create(NewTopic("tuned", 1, 1, config={
            "retention.ms": "3600000", "segment.bytes": "2097152"}))["tuned"])
        self.assertEqual(self.overrides("tuned"),
                         {"retention.ms": "3600000", "segment.bytes": "2097152"})
        # AlterConfigs replaces the whole set (kafka-python and librdkafka).
        ka = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            resp = ka.alter_configs([KResource(ConfigResourceType.TOPIC, "tuned",
                                               configs={"retention.ms": "7200000"})])
            self.assertEqual([r[0] for r in resp.resources], [0])
            resp = ka.alter_configs([KResource(ConfigResourceType.TOPIC, "tuned",
                                               configs={"retention.ms": "soon"})])
            self.assertEqual([r[0] for r in resp.resources], [40])  # INVALID_CONFIG
            resp = ka.alter_configs([KResource(ConfigResourceType.TOPIC, "never-made",
                                               configs={"retention.ms": "1"})])
            self.assertEqual([r[0] for r in resp.resources], [3])
        finally:
            ka.close()
        self.assertEqual(self.overrides("tuned"), {"retention.ms": "7200000"})
        res = ConfigResource("topic", "tuned", set_config={"max.message.bytes": "2000"})
        self.admin.alter_configs([res])[res].result(20)
        self.assertEqual(self.overrides("tuned"), {"max.message.bytes": "2000"})
        # The partition runs with it at once: a larger batch is refused.
        from confluent_kafka import KafkaError, Producer
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0})
        errors = []
        p.produce("tuned", b"x" * 5000, on_delivery=lambda err, msg: errors.append(err))
        p.flush(20)
        self.assertEqual(errors[0].code(), KafkaError.MSG_SIZE_TOO_LARGE)

    def test_incremental_alter_configs(self):
        """IncrementalAlterConfigs v0 by hand (kafka-configs.sh uses it; the
        Debian clients do not have it): set and delete single keys."""
        import struct
        from kwire import RawClient
        self.assertIsNone(self.create(NewTopic("stepwise", 1, 1, config={
            "retention.ms": "3600000"}))["stepwise"])

        def incremental(resources, validate_only=False):
            body = struct.pack(">i", len(resources))
            for rtype, name, changes in resources:
                n = name.encode()
                body += struct.pack(">bh", rtype, len(n)) + n + struct.pack(">i", len(changes))
                for key, op, value in changes:
                    k = key.encode()
                    body += struct.pack(">h", len(k)) + k + struct.pack(">b", op)
                    if value is None:
                        body += struct.pack(">h", -1)
                    else:
                        v = value.encode()
                        body += struct.pack(">h", len(v)) + v
            body += b"\x01" if validate_only else b"\x00"
            with RawClient(self.broker.port) as c:
                c.send(44, 0, body)
                _, p = c.recv()
            r = io.BytesIO(p)
            r.read(4)
            out = []
            for _ in range(struct.unpack(">i", r.read(4))[0]):
                err, mlen = struct.unpack(">hh", r.read(4))
                msg = r.read(mlen).decode() if mlen >= 0 else None
                rtype, nlen = struct.unpack(">bh", r.read(3))
                out.append((err, msg, r.read(nlen).decode()))
            return out
        res = incremental([(2, "stepwise", [("segment.bytes", 0, "2097152"),
                                            ("retention.ms", 1, None)])])
        self.assertEqual(res, [(0, None, "stepwise")])
        self.assertEqual(self.overrides("stepwise"), {"segment.bytes": "2097152"})
        res = incremental([(2, "stepwise", [("retention.ms", 0, "1")])], validate_only=True)
        self.assertEqual(res[0][0], 0)
        self.assertEqual(self.overrides("stepwise"), {"segment.bytes": "2097152"})
        errs = [r[0] for r in incremental([
            (2, "stepwise", [("cleanup.policy", 2, "compact")]),    # APPEND: not a list
            (2, "stepwise", [("segment.bytes", 0, "tiny")]),        # not a number
            (2, "stepwise", [("retention.ms", 0, "1"), ("retention.ms", 1, None)]),
            (2, "not-there", [("retention.ms", 0, "1")]),
            (4, "1", [("log.retention.ms", 0, "1")])])]             # broker: not dynamic
        self.assertEqual(errs, [40, 40, 42, 3, 42])
        self.assertEqual(self.overrides("stepwise"), {"segment.bytes": "2097152"})

    def test_manual_replica_assignments(self):
        from confluent_kafka import KafkaError
        res = self.create(NewTopic("placed", 3, replica_assignment=[[1], [1], [1]]),
                          NewTopic("misplaced", 2, replica_assignment=[[1], [7]]),
                          NewTopic("twice", 1, replica_assignment=[[1, 1]]))
        self.assertIsNone(res["placed"])
        self.assertEqual(res["misplaced"], KafkaError.INVALID_REPLICA_ASSIGNMENT)
        self.assertEqual(res["twice"], KafkaError.INVALID_REPLICA_ASSIGNMENT)
        md = self.admin.list_topics("placed", timeout=10).topics["placed"]
        self.assertEqual([md.partitions[i].replicas for i in range(3)], [[1], [1], [1]])

    def test_create_partitions(self):
        from confluent_kafka import KafkaError, Producer
        from confluent_kafka.admin import NewPartitions
        self.assertIsNone(self.create(NewTopic("growing", 2, 1))["growing"])
        fs = self.admin.create_partitions([NewPartitions("growing", 5)], operation_timeout=10)
        fs["growing"].result(20)
        md = self.admin.list_topics("growing", timeout=10).topics["growing"]
        self.assertEqual(sorted(md.partitions), [0, 1, 2, 3, 4])
        self.assertTrue(os.path.isdir(os.path.join(self.broker.data_dir, "growing-4")))
        p = Producer({"bootstrap.servers": self.broker.bootstrap})
        p.produce("growing", b"to-the-new-one", partition=4)
        self.assertEqual(p.flush(10), 0)

        def error_of(np, validate_only=False):
            try:
                self.admin.create_partitions([np], validate_only=validate_only)[
                    np.topic].result(20)
                return None
            except Exception as e:
                return e.args[0].code()
        self.assertEqual(error_of(NewPartitions("growing", 5)), KafkaError.INVALID_PARTITIONS)
        self.assertEqual(error_of(NewPartitions("growing", 3)), KafkaError.INVALID_PARTITIONS)
        self.assertEqual(error_of(NewPartitions("not-there", 3)),
                         KafkaError.UNKNOWN_TOPIC_OR_PART)
        self.assertEqual(error_of(NewPartitions("growing", 7, [[1], [9]])),
                         KafkaError.INVALID_REPLICA_ASSIGNMENT)  # broker 9 is unknown
        self.assertIsNone(error_of(NewPartitions("growing", 9), validate_only=True))
        self.assertEqual(len(self.admin.list_topics("growing", timeout=10)
                             .topics["growing"].partitions), 5)
        # kafka-python's admin client too, with an explicit assignment.
        from kafka import KafkaAdminClient
        from kafka.admin import NewPartitions as KNewPartitions
        ka = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            ka.create_partitions({"growing": KNewPartitions(6, [[1]])})
        finally:
            ka.close()
        self.assertEqual(len(self.admin.list_topics("growing", timeout=10)
                             .topics["growing"].partitions), 6)


if __name__ == "__main__":
    unittest.main()
