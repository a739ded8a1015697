"""The newest kafka-python (2.2.x, ApiVersions v4 and flexible versions)
and confluent-kafka (librdkafka 2.x) from PyPI against Rill: produce,
consume in a group, commit, read the commits back.
Prints "PASS kafka-python" and "PASS confluent-kafka"."""
import sys
import time

bootstrap, topic, group = sys.argv[1:4]
COUNT = 300


def check(seen):
    for i in range(COUNT):
        got = seen.get(b"k-%d" % i)
        assert got == (b"v-%d" % i, str(i).encode()), "record %d wrong: %r" % (i, got)


def kafka_python():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic + "-kp", 3, 1)])
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(COUNT):
        p.send(topic + "-kp", key=b"k-%d" % i, value=b"v-%d" % i,
               headers=[("h", str(i).encode())])
    p.flush()
    p.close()
    c = KafkaConsumer(topic + "-kp", bootstrap_servers=bootstrap, group_id=group + "-kp",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=20000)
    seen = {}
    for m in c:
        seen[m.key] = (m.value, dict(m.headers)["h"])
        if len(seen) == COUNT:
            break
    c.commit()
    c.close()
    check(seen)
    offsets = admin.list_consumer_group_offsets(group + "-kp")
    admin.close()
    assert sum(v.offset for v in offsets.values()) == COUNT, offsets
    print("PASS kafka-python")


def confluent():
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic + "-ck", 3, 1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(COUNT):
        p.produce(topic + "-ck", key=b"k-%d" % i, value=b"v-%d" % i,
                  headers=[("h", str(i).encode())])
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group + "-ck",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic + "-ck"])
    seen = {}
    deadline = time.monotonic() + 60
    while len(seen) < COUNT and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        seen[m.key()] = (m.value(), dict(m.headers())["h"])
    c.commit(asynchronous=False)
    c.close()
    check(seen)
    print("PASS confluent-kafka")


kafka_python()
confluent()
