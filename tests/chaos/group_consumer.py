"""A consumer-group member that records every delivery as "partition
offset value" in a file (flushed per line) until SIGTERM, committing
automatically, as an application would.

Usage: group_consumer.py BOOTSTRAP TOPIC GROUP OUT_FILE"""
import signal
import sys

from confluent_kafka import Consumer

bootstrap, topic, group, path = sys.argv[1:5]
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
out = open(path, "w")
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
              "auto.offset.reset": "earliest", "enable.auto.commit": True,
              "auto.commit.interval.ms": 500, "session.timeout.ms": 10000,
              "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200})
c.subscribe([topic])
while not stop:
    for m in c.consume(500, 0.2):
        if m.error() is None:
            out.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    out.flush()
c.close()
out.close()
