"""One member of a consumer group (confluent-kafka) with manual commits.
Each record is committed synchronously, then logged as
"partition offset value" to LOG (flushed): a logged record is a delivered
one. Assignment changes are logged as "assigned p,p,..." lines.
Runs until SIGTERM, then closes cleanly (LeaveGroup).

Usage: group_member.py BOOTSTRAP GROUP TOPIC LOG [session_timeout_ms]
"""
import signal
import sys

from confluent_kafka import Consumer

bootstrap, group, topic, log_path = sys.argv[1:5]
session_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 6000
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
log = open(log_path, "a")


def on_assign(consumer, partitions):
    log.write("assigned %s\n" % ",".join(str(p.partition) for p in partitions))
    log.flush()


def on_revoke(consumer, partitions):
    log.write("revoked %s\n" % ",".join(str(p.partition) for p in partitions))
    log.flush()


c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "session.timeout.ms": session_ms, "heartbeat.interval.ms": 200,
              "partition.assignment.strategy": "range"})
c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
while not stop:
    m = c.poll(0.1)
    if m is None or m.error():
        continue
    try:
        c.commit(message=m, asynchronous=False)
    except Exception as e:  # a commit refused during a rebalance: not delivered
        log.write("commit-failed %d %d %s\n" % (m.partition(), m.offset(), e))
        log.flush()
        continue
    log.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    log.flush()
c.close()
log.write("closed\n")
log.close()
