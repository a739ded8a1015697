// The Apache Kafka Java client (4.x) against Rill, with its defaults: an
// idempotent acks=all producer, a classic-protocol group consumer, and the
// Admin client. Prints "PASS java".
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class RillCompat {
    static final int COUNT = 300;

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2];
        Properties base = new Properties();
        base.put("bootstrap.servers", bootstrap);

        try (Admin admin = Admin.create(base)) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
        }

        Properties pp = (Properties) base.clone();
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            for (int i = 0; i < COUNT; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k-" + i, "v-" + i);
                r.headers().add("h", String.valueOf(i).getBytes(StandardCharsets.UTF_8));
                producer.send(r);
            }
            producer.flush();
        }

        Properties cp = (Properties) base.clone();
        cp.put("group.id", group);
        cp.put("auto.offset.reset", "earliest");
        cp.put("enable.auto.commit", "false");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        Map<String, String> seen = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60000;
            while (seen.size() < COUNT && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    String h = new String(r.headers().lastHeader("h").value(), StandardCharsets.UTF_8);
                    seen.put(r.key(), r.value() + "/" + h);
                }
            }
            consumer.commitSync();
        }
        for (int i = 0; i < COUNT; i++) {
            String got = seen.get("k-" + i);
            if (!("v-" + i + "/" + i).equals(got))
                throw new IllegalStateException("record " + i + " wrong: " + got);
        }
        try (Admin admin = Admin.create(base)) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long total = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            if (total != COUNT)
                throw new IllegalStateException("committed offsets sum to " + total);
        }
        System.out.println("PASS java");
    }
}
