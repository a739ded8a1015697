/* rill-loadgen: a Kafka load generator built on librdkafka, usable against
 * any Kafka-compatible bootstrap address, plus the raw-disk baseline.
 *
 *   rill-loadgen produce BOOTSTRAP TOPIC RECORDS SIZE ACKS PARTITIONS [RF [MIN_ISR]]
 *   rill-loadgen rate    BOOTSTRAP TOPIC SECONDS RATE SIZE ACKS PARTITIONS [RF [MIN_ISR]]
 *   rill-loadgen consume BOOTSTRAP TOPIC RECORDS PARTITIONS
 *   rill-loadgen disk    FILE BYTES
 *
 * Each prints one line: "<mode> records=N bytes=B seconds=S records_per_s=R mb_per_s=M";
 * produce and rate add the acknowledgement latency (p50_ms, p99_ms: from
 * produce() to the delivery report, librdkafka's own measure). produce
 * sends as fast as it can, so at saturation its latency includes the
 * client's own queue; rate sends RATE records a second for SECONDS,
 * spread evenly, so below saturation it measures the broker. Both create
 * the topic first (with PARTITIONS partitions, RF replicas, default 1,
 * and min.insync.replicas MIN_ISR, default the broker's). consume reads
 * with librdkafka's batch API (up to 10,000 messages a call), so that it
 * measures the broker rather than the client's per-message queue lock. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *mode, long long records, long long bytes, double secs)
{
    printf("%s records=%lld bytes=%lld seconds=%.3f records_per_s=%.0f mb_per_s=%.1f\n", mode,
           records, bytes, secs, (double)records / secs, (double)bytes / secs / 1e6);
    fflush(stdout);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "loadgen: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static long long delivered, failed;
/* Acknowledgement latencies in microseconds, a histogram of 1 us .. 10 s
 * buckets (1 ms resolution above 10 ms). */
enum { LAT_FINE = 10000, LAT_COARSE = 10000 };
static long long lat_fine[LAT_FINE], lat_coarse[LAT_COARSE];

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
        return;
    }
    delivered++;
    int64_t us = rd_kafka_message_latency(m);
    if (us < 0)
        return;
    if (us < LAT_FINE)
        lat_fine[us]++;
    else if (us / 1000 < LAT_COARSE)
        lat_coarse[us / 1000]++;
    else
        lat_coarse[LAT_COARSE - 1]++;
}

/* The latency (ms) below which fraction q of the deliveries came. */
static double latency_quantile(double q)
{
    long long total = 0;
    for (int i = 0; i < LAT_FINE; i++)
        total += lat_fine[i];
    for (int i = 0; i < LAT_COARSE; i++)
        total += lat_coarse[i];
    long long want = (long long)(q * (double)total), seen = 0;
    for (int i = 0; i < LAT_FINE; i++)
        if ((seen += lat_fine[i]) > want)
            return i / 1000.0;
    for (int i = 0; i < LAT_COARSE; i++)
        if ((seen += lat_coarse[i]) > want)
            return (double)i;
    return -1;
}

static void create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                         const char *min_isr)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, rf, err, sizeof(err));
    if (min_isr != NULL)
        rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", min_isr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev != NULL) {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        if (n == 1 && rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            fprintf(stderr, "loadgen: create %s: %s\n", topic,
                    rd_kafka_topic_result_error_string(tr[0]));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

/* rate > 0: RATE records a second for `records` seconds; else `records`
 * records as fast as they go. */
static int produce(const char *bootstrap, const char *topic, long long records, int size,
                   const char *acks, int partitions, int rf, const char *min_isr, double rate)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "acks", acks);
    set(conf, "linger.ms", "5");
    set(conf, "batch.size", "1000000");
    set(conf, "queue.buffering.max.messages", "2000000");
    set(conf, "queue.buffering.max.kbytes", "2097151");
    set(conf, "compression.type", "none");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 1;
    }
    create_topic(rk, topic, partitions, rf, min_isr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *payload = malloc((size_t)size);
    memset(payload, 'r', (size_t)size);
    /* Warm up: metadata and connections before the clock starts. */
    rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload, (size_t)size, NULL, 0, NULL);
    rd_kafka_flush(rk, 30000);
    delivered = failed = 0;
    memset(lat_fine, 0, sizeof(lat_fine));
    memset(lat_coarse, 0, sizeof(lat_coarse));
    double t0 = now_s();
    long long total = rate > 0 ? (long long)(rate * (double)records) : records;
    for (long long i = 0; i < total;) {
        if (rate > 0) {
            double due = t0 + (double)i / rate; /* record i's send time */
            double wait = due - now_s();
            if (wait > 0) {
                rd_kafka_poll(rk, 1); /* up to 1 ms: sends go out each millisecond */
                continue;
            }
        }
        int32_t part = partitions > 1 ? (int32_t)(i % partitions) : 0;
        if (rd_kafka_produce(rkt, part, 0, payload, (size_t)size, NULL, 0, NULL) == 0) {
            i++;
            continue;
        }
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "loadgen: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
        rd_kafka_poll(rk, 1);
    }
    rd_kafka_flush(rk, 120000);
    double secs = now_s() - t0;
    char mode[128];
    char paced[32] = "";
    if (rate > 0)
        snprintf(paced, sizeof(paced), " rate=%.0f", rate);
    snprintf(mode, sizeof(mode), "%s acks=%s partitions=%d rf=%d%s p50_ms=%.2f p99_ms=%.2f",
             rate > 0 ? "rate" : "produce", acks, partitions, rf, paced, latency_quantile(0.5),
             latency_quantile(0.99));
    report(mode, delivered, delivered * (long long)size, secs);
    if (failed)
        fprintf(stderr, "loadgen: %lld deliveries failed\n", failed);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    return failed ? 1 : 0;
}

static int consume(const char *bootstrap, const char *topic, long long records, int partitions)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", "rill-loadgen");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.max.bytes", "52428800");
    set(conf, "max.partition.fetch.bytes", "10485760");
    set(conf, "queued.max.messages.kbytes", "1048576");
    set(conf, "fetch.wait.max.ms", "100");
    set(conf, "queued.min.messages", "10000000");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    enum { BATCH = 10000 };
    rd_kafka_message_t **batch = malloc(BATCH * sizeof(*batch));
    long long got = 0, bytes = 0;
    double t0 = 0, deadline = now_s() + 300;
    while (queue != NULL && batch != NULL && got < records && now_s() < deadline) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, BATCH);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (!m->err) {
                if (got == 0)
                    t0 = now_s(); /* from the first record: no connection set-up */
                got++;
                bytes += (long long)m->len;
            }
            rd_kafka_message_destroy(m);
        }
    }
    free(batch);
    if (queue != NULL)
        rd_kafka_queue_destroy(queue);
    double secs = now_s() - t0;
    char mode[64];
    snprintf(mode, sizeof(mode), "consume partitions=%d", partitions);
    report(mode, got, bytes, secs);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got >= records ? 0 : 1;
}

/* The disk's own sequential write speed for the same bytes: 1 MiB writes,
 * then one fdatasync, as a log with group commit would end up doing. */
static int disk(const char *path, long long bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    memset(buf, 'd', chunk);
    double t0 = now_s();
    long long done = 0;
    while (done < bytes) {
        size_t n = bytes - done < (long long)chunk ? (size_t)(bytes - done) : chunk;
        ssize_t w = write(fd, buf, n);
        if (w <= 0) {
            fprintf(stderr, "loadgen: write: %s\n", strerror(errno));
            return 1;
        }
        done += w;
    }
    fdatasync(fd);
    double secs = now_s() - t0;
    close(fd);
    unlink(path);
    free(buf);
    report("disk", 0, done, secs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 8 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), argv[6], atoi(argv[7]),
                       argc >= 9 ? atoi(argv[8]) : 1, argc >= 10 ? argv[9] : NULL, 0);
    if (argc >= 9 && strcmp(argv[1], "rate") == 0 && atof(argv[5]) > 0)
        return produce(argv[2], argv[3], atoll(argv[4]), atoi(argv[6]), argv[7], atoi(argv[8]),
                       argc >= 10 ? atoi(argv[9]) : 1, argc >= 11 ? argv[10] : NULL,
                       atof(argv[5]));
    if (argc >= 6 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]));
    if (argc >= 4 && strcmp(argv[1], "disk") == 0)
        return disk(argv[2], atoll(argv[3]));
    fprintf(stderr, "usage: rill-loadgen produce BOOTSTRAP TOPIC RECORDS SIZE ACKS PARTITIONS "
                    "[RF [MIN_ISR]]\n"
                    "       rill-loadgen rate BOOTSTRAP TOPIC SECONDS RATE SIZE ACKS PARTITIONS "
                    "[RF [MIN_ISR]]\n"
                    "       rill-loadgen consume BOOTSTRAP TOPIC RECORDS PARTITIONS\n"
                    "       rill-loadgen disk FILE BYTES\n");
    return 2;
}
