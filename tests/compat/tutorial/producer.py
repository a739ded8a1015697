# The kafka-python tutorial producer, unchanged but for where the broker
# is (BOOTSTRAP, default localhost:9092).
import os

from kafka import KafkaProducer

bootstrap = os.environ.get("BOOTSTRAP", "localhost:9092")
producer = KafkaProducer(bootstrap_servers=[bootstrap])
for i in range(1000):
    producer.send('kafka-demo', key=b'Message', value=('Hello, World! %d' % i).encode())
producer.flush()
