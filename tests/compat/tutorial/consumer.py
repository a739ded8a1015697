# The kafka-python tutorial consumer, unchanged but for where the broker
# is (BOOTSTRAP, default localhost:9092). It runs until interrupted.
import os
import sys

from kafka import KafkaConsumer

bootstrap = os.environ.get("BOOTSTRAP", "localhost:9092")
consumer = KafkaConsumer('kafka-demo', bootstrap_servers=[bootstrap],
                         auto_offset_reset='earliest')
for message in consumer:
    print("%s:%d:%d: key=%s value=%s" % (message.topic, message.partition, message.offset,
                                          message.key, message.value))
    sys.stdout.flush()
