"""Produces numbered values with acks=all until SIGTERM, recording every
acknowledged record as "partition offset value" in a file (flushed per
line), so a test can check that each one survives broker crashes.

Usage: acked_producer.py BOOTSTRAP TOPIC ACK_FILE
"""
import signal
import sys

from confluent_kafka import Producer

bootstrap, topic, ack_path = sys.argv[1:4]
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
acks = open(ack_path, "w")


def delivered(err, msg):
    if err is None:
        acks.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.value().decode()))
        acks.flush()


p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
              "message.timeout.ms": 120000, "retry.backoff.ms": 50,
              "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200})
seq = 0
while not stop:
    try:
        p.produce(topic, value=b"v-%d" % seq, on_delivery=delivered)
        seq += 1
    except BufferError:
        p.poll(0.05)
        continue
    if seq % 100 == 0:
        p.poll(0.001)
p.flush(60)
acks.close()
