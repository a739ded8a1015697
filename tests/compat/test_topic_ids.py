"""A topic's partition directories belong to its topic id, not its name:
deleting a topic and creating one of the same name, then restarting (SIGTERM
and SIGKILL), keeps the new topic's records; directories left by a deleted
topic (a crash came before their rename) are deleted at start-up, and
directories no topic owns are renamed aside, never reused.

Regression: the old broker replayed the old topic's removal against the
directory the new topic used, and a restart wiped the new topic."""
import base64
import os
import unittest
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from rill import Broker, wait_until


def topic_id_file(path):
    with open(os.path.join(path, "partition.metadata")) as f:
        fields = dict(line.split(": ", 1) for line in f.read().splitlines())
    return fields


def kafka_id(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TopicIds(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def admin(self):
        # A fresh client each time: the broker restarts between calls.
        self._admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        return self._admin

    def create(self, name, partitions):
        fs = self.admin().create_topics([NewTopic(name, partitions, 1)], operation_timeout=10)
        fs[name].result(20)

    def delete(self, name):
        fs = self.admin().delete_topics([name], operation_timeout=10)
        fs[name].result(20)

    def produce(self, name, values, partition=0):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all"})
        errors = []
        for v in values:
            p.produce(name, v.encode(), partition=partition,
                      on_delivery=lambda err, msg: err and errors.append(err))
        self.assertEqual(p.flush(20), 0)
        self.assertEqual(errors, [])

    def read(self, name, partition=0):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "reader",
                      "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            c.assign([TopicPartition(name, partition, 0)])
            out = []
            while True:
                m = c.poll(10)
                self.assertIsNotNone(m, "no end of partition within 10 s")
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        return out
                    self.fail("consume error: %s" % m.error())
                out.append((m.offset(), m.value().decode()))
        finally:
            c.close()

    def dir_of(self, name, partition):
        return os.path.join(self.broker.data_dir, "%s-%d" % (name, partition))

    def test_delete_recreate_restart_keeps_the_new_topic(self):
        self.create("reborn", 2)
        self.produce("reborn", ["old-%d" % i for i in range(50)])
        self.produce("reborn", ["old-p1-%d" % i for i in range(5)], partition=1)
        old_id = topic_id_file(self.dir_of("reborn", 0))["topic_id"]
        self.delete("reborn")
        wait_until(lambda: not os.path.exists(self.dir_of("reborn", 1)), 10,
                   what="the old directories to go")
        self.create("reborn", 1)
        new = ["new-%d" % i for i in range(30)]
        self.produce("reborn", new)
        new_id = topic_id_file(self.dir_of("reborn", 0))["topic_id"]
        self.assertNotEqual(old_id, new_id)
        self.assertEqual(topic_id_file(self.dir_of("reborn", 0))["version"], "0")
        expected = list(enumerate(new))
        self.assertEqual(self.read("reborn"), expected)
        for hard in (False, True):
            self.broker.restart(hard=hard)
            self.assertEqual(self.read("reborn"), expected, "after restart, hard=%s" % hard)
            self.assertEqual(topic_id_file(self.dir_of("reborn", 0))["topic_id"], new_id)
            self.assertFalse(os.path.exists(self.dir_of("reborn", 1)))
        # And it takes new records at the next offset.
        self.produce("reborn", ["after"])
        self.assertEqual(self.read("reborn")[-1], (30, "after"))

    def test_directories_no_topic_owns_are_set_aside(self):
        self.create("kept", 1)
        self.produce("kept", ["k-%d" % i for i in range(10)])
        self.broker.stop()
        data = self.broker.data_dir
        # A deleted topic's directory that a crash left behind: its id is in
        # no topic of the image, so it is deleted.
        ghost = os.path.join(data, "ghost-0")
        os.mkdir(ghost)
        with open(os.path.join(ghost, "partition.metadata"), "w") as f:
            f.write("version: 0\ntopic_id: %s\n" % kafka_id(uuid.uuid4().bytes))
        # The same for a directory whose name a live topic has, with another id.
        impostor = os.path.join(data, "kept-1")
        os.mkdir(impostor)
        with open(os.path.join(impostor, "partition.metadata"), "w") as f:
            f.write("version: 0\ntopic_id: %s\n" % kafka_id(uuid.uuid4().bytes))
        # A directory with no id that no topic owns: kept aside, not deleted.
        legacy = os.path.join(data, "legacy-0")
        os.mkdir(legacy)
        with open(os.path.join(legacy, "00000000000000000000.log"), "wb") as f:
            f.write(b"\0" * 100)
        # A live topic's directory from before topic ids were kept: adopted.
        os.unlink(os.path.join(self.dir_of("kept", 0), "partition.metadata"))
        self.broker.start()
        stray = os.path.join(data, "legacy-0.noid-stray")
        # One pass sets all three aside, one directory after another (each
        # rename made durable): wait for the last of them, whichever it is.
        wait_until(lambda: not any(os.path.exists(d) for d in (ghost, impostor, legacy))
                   and os.path.exists(stray), 10, what="the strays to be set aside")
        self.assertTrue(os.path.isfile(os.path.join(stray, "00000000000000000000.log")))
        self.assertEqual(sorted(os.listdir(stray)), ["00000000000000000000.log"])
        self.assertEqual(self.read("kept"), [(i, "k-%d" % i) for i in range(10)])
        self.assertIn("topic_id", topic_id_file(self.dir_of("kept", 0)))
        log = self.broker.log()
        self.assertIn("belongs to a deleted topic; deleting it", log)
        self.assertIn("renamed aside with a -stray suffix", log)
        # A new topic named like the stray starts empty, from offset 0.
        self.create("legacy", 1)
        self.produce("legacy", ["fresh"])
        self.assertEqual(self.read("legacy"), [(0, "fresh")])


if __name__ == "__main__":
    unittest.main()
