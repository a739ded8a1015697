"""Produces numbered values until SIGTERM and records every acknowledged
one as "partition offset value time" in a file (flushed per line; time is
the wall clock of the acknowledgement), so a test can check that each
survives broker crashes and power cuts, and measure stalls.

Usage: acked_producer.py CLIENT BOOTSTRAP TOPIC ACK_FILE [PREFIX [RATE]]
Values are PREFIX-0, PREFIX-1, ... (PREFIX defaults to "v"); RATE caps the
records sent per second (default: about 10,000). RILL_CLIENT_DEBUG, when
set, is librdkafka's `debug` list (e.g. eos,msg); its log goes to stderr.
CLIENT: confluent-all (librdkafka, acks=all), confluent-idempotent (the
idempotent librdkafka producer), kafka-python-1 (kafka-python, acks=1).
"""
import os
import signal
import sys
import time

client, bootstrap, topic, ack_path = sys.argv[1:5]
prefix = sys.argv[5] if len(sys.argv) > 5 else "v"
rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
acks = open(ack_path, "w")


def record(partition, offset, value):
    acks.write("%d %d %s %.3f\n" % (partition, offset, value, time.time()))
    acks.flush()


def run_confluent(idempotent):
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
            "message.timeout.ms": 120000, "retry.backoff.ms": 50,
            "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200}
    if idempotent:
        conf["enable.idempotence"] = True
    if os.environ.get("RILL_CLIENT_DEBUG"):
        conf["debug"] = os.environ["RILL_CLIENT_DEBUG"]

    def delivered(err, msg):
        if err is None:
            record(msg.partition(), msg.offset(), msg.value().decode())

    p = Producer(conf)
    seq = 0
    start = time.monotonic()
    while not stop:
        try:
            p.produce(topic, value=("%s-%d" % (prefix, seq)).encode(), on_delivery=delivered)
            seq += 1
        except BufferError:
            p.poll(0.05)
            continue
        if seq % 20 == 0:
            p.poll(0.002)  # about 10,000 a second: plenty, and quick to read back
            while rate > 0 and not stop:
                ahead = seq / rate - (time.monotonic() - start)
                if ahead <= 0:
                    break
                p.poll(min(ahead, 0.05))
    p.flush(60)


def run_kafka_python():
    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    p = None
    seq = 0
    while not stop:
        try:
            if p is None:
                p = KafkaProducer(bootstrap_servers=[bootstrap], acks=1, linger_ms=2,
                                  retries=0, request_timeout_ms=5000,
                                  reconnect_backoff_ms=20, reconnect_backoff_max_ms=200)
            value = "%s-%d" % (prefix, seq)
            seq += 1
            meta = p.send(topic, value=value.encode()).get(timeout=10)
            record(meta.partition, meta.offset, value)
        except KafkaError:
            time.sleep(0.05)  # not acknowledged: not recorded
    if p is not None:
        p.close(5)


if client == "confluent-all":
    run_confluent(False)
elif client == "confluent-idempotent":
    run_confluent(True)
elif client == "kafka-python-1":
    run_kafka_python()
else:
    sys.exit("unknown client %s" % client)
acks.close()
