/* Writes the fuzzers' seed corpora and regression inputs with Rill's own
 * encoders: `make fuzz-seeds` runs it, and its output is committed under
 * tests/fuzz/corpus/<harness>/ and tests/fuzz/regressions/<harness>/.
 *
 * Seeds: a request of every API and version (arrays filled with one
 * element, so nested structs are reached), record batches of every codec,
 * each codec's stream, the __consumer_offsets records and a metadata log.
 * Regressions: one input per fault class hostile input once found (the
 * names say which); every later finding is added here too.
 *
 * usage: fuzz-seeds DIR   (writes DIR/corpus/... and DIR/regressions/...) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lz4frame.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_frameHeaderSize */
#include <zstd.h>

#include "broker/group/group_records.h"
#include "broker/quorum/raft_wire.h"
#include "common/arena.h"
#include "proto/compression.h"
#include "proto/crc32c.h"
#include "proto/kafka_codec.h"
#include "proto/metadata.pb-c.h"
#include "proto/record_batch.h"

static const char *seed_root;

static void seed_write(const char *kind, const char *harness, const char *name,
                       const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", seed_root, kind);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", seed_root, kind, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s/%s", seed_root, kind, harness, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz-seeds: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void seed_writer(const char *kind, const char *harness, const char *name,
                        struct kafka_writer *w)
{
    if (w->err) {
        fprintf(stderr, "fuzz-seeds: out of memory building %s\n", name);
        exit(1);
    }
    seed_write(kind, harness, name, w->buf, w->len);
    kafka_writer_free(w);
}

/* ---- record batches ------------------------------------------------------ */

/* n records "key-i" / "value-i", the last one with a header. */
static void seed_records(struct kafka_writer *recs, int n)
{
    for (int i = 0; i < n; i++) {
        char key[16], value[32];
        int kl = snprintf(key, sizeof(key), "key-%d", i);
        int vl = snprintf(value, sizeof(value), "value-%d", i);
        if (i < n - 1) {
            record_write(recs, i, i, (struct kafka_bytes){(const uint8_t *)key, kl},
                         (struct kafka_bytes){(const uint8_t *)value, vl});
            continue;
        }
        struct kafka_writer body;
        kafka_writer_init(&body);
        kafka_write_i8(&body, 0);
        kafka_write_varlong(&body, i);
        kafka_write_varint(&body, i);
        kafka_write_varint(&body, kl);
        kafka_write_raw(&body, key, (size_t)kl);
        kafka_write_varint(&body, vl);
        kafka_write_raw(&body, value, (size_t)vl);
        kafka_write_varint(&body, 1); /* one header h=v */
        kafka_write_varint(&body, 1);
        kafka_write_raw(&body, "h", 1);
        kafka_write_varint(&body, 1);
        kafka_write_raw(&body, "v", 1);
        kafka_write_varint(recs, (int32_t)body.len);
        kafka_write_raw(recs, body.buf, body.len);
        kafka_writer_free(&body);
    }
}

/* A batch around already encoded records, compressed with codec (xerial
 * framing for snappy when asked). */
static void seed_batch_around(struct kafka_writer *w, int codec, int xerial, int32_t count,
                              int64_t base_ts, const struct kafka_writer *recs)
{
    if (codec != COMPRESSION_SNAPPY || !xerial) {
        record_batch_build(w, codec, base_ts, base_ts + count, count, recs->buf, recs->len);
        return;
    }
    struct kafka_writer framed;
    kafka_writer_init(&framed);
    compression_compress(codec, recs->buf, recs->len, &framed, 1);
    size_t start = w->len;
    record_batch_build(w, COMPRESSION_NONE, base_ts, base_ts + count, count, framed.buf,
                       framed.len);
    kafka_writer_free(&framed);
    uint8_t *h = w->buf + start;
    size_t total = w->len - start;
    be16_store(h + RB_ATTRIBUTES, (uint16_t)codec);
    be32_store(h + RB_CRC, crc32c(h + RB_ATTRIBUTES, total - RB_ATTRIBUTES));
}

static void seed_batch(struct kafka_writer *w, int codec, int xerial, int n)
{
    struct kafka_writer recs;
    kafka_writer_init(&recs);
    seed_records(&recs, n);
    seed_batch_around(w, codec, xerial, n, 1700000000000, &recs);
    kafka_writer_free(&recs);
}

/* The harness input: a flags byte, then the batch. */
static void seed_batch_input(const char *kind, const char *name, uint8_t flags,
                             const struct kafka_writer *batch)
{
    struct kafka_writer in;
    kafka_writer_init(&in);
    kafka_write_i8(&in, (int8_t)flags);
    kafka_write_raw(&in, batch->buf, batch->len);
    seed_writer(kind, "record_batch", name, &in);
}

static void seed_record_batches(void)
{
    for (int codec = 0; codec <= 4; codec++) {
        for (int xerial = 0; xerial <= (codec == COMPRESSION_SNAPPY); xerial++) {
            struct kafka_writer w;
            kafka_writer_init(&w);
            seed_batch(&w, codec, xerial, 5);
            char name[64];
            snprintf(name, sizeof(name), "batch-%s%s", compression_name(codec),
                     xerial ? "-xerial" : "");
            seed_batch_input("corpus", name, 0, &w);
            kafka_writer_free(&w);
        }
    }
}

/* ---- requests ------------------------------------------------------------ */

static struct kafka_writer seed_produce_batch;

static void seed_fill(const struct kafka_struct_desc *d, void *out, struct arena *a, int depth);

static void seed_fill_elem(const struct kafka_field_desc *f, void *p, struct arena *a, int depth)
{
    switch (f->elem_type) {
    case KT_STRUCT:
        seed_fill(f->child, p, a, depth + 1);
        break;
    case KT_STRING: {
        struct kafka_str s = {"t", 1};
        memcpy(p, &s, sizeof(s));
        break;
    }
    case KT_INT32: {
        int32_t v = 0;
        memcpy(p, &v, sizeof(v));
        break;
    }
    default:
        break; /* zeroed by the arena */
    }
}

static void seed_fill(const struct kafka_struct_desc *d, void *out, struct arena *a, int depth)
{
    kafka_set_defaults(d, out);
    for (uint16_t i = 0; i < d->nfields; i++) {
        const struct kafka_field_desc *f = &d->fields[i];
        void *p = (char *)out + f->offset;
        switch (f->type) {
        case KT_STRING: {
            struct kafka_str s = {"t", 1};
            memcpy(p, &s, sizeof(s));
            break;
        }
        case KT_RECORDS: {
            struct kafka_records r = {seed_produce_batch.buf, (int32_t)seed_produce_batch.len,
                                      NULL};
            memcpy(p, &r, sizeof(r));
            break;
        }
        case KT_STRUCT:
            seed_fill(f->child, p, a, depth + 1);
            break;
        case KT_ARRAY: {
            size_t esize = kafka_elem_c_size(f);
            if (depth > 4 || esize == 0)
                break;
            struct kafka_array_any arr = {1, arena_alloc(a, esize)};
            seed_fill_elem(f, arr.items, a, depth);
            memcpy(p, &arr, sizeof(arr));
            break;
        }
        default:
            break;
        }
    }
}

static void seed_request_header(struct kafka_writer *w, int16_t api_key, int16_t version,
                                const struct kafka_message_desc *msg)
{
    kafka_write_i16(w, api_key);
    kafka_write_i16(w, version);
    kafka_write_i32(w, 7);
    kafka_write_str(w, kafka_str_from("seed"), false);
    if (kafka_request_header_version(msg, version) >= 2)
        kafka_write_uvarint(w, 0);
}

static void seed_requests(void)
{
    kafka_writer_init(&seed_produce_batch);
    seed_batch(&seed_produce_batch, COMPRESSION_NONE, 0, 2);
    for (size_t i = 0; i < kafka_messages_count; i++) {
        const struct kafka_message_desc *msg = &kafka_messages[i];
        for (int16_t v = msg->valid_min; v <= msg->valid_max; v++) {
            struct arena a;
            arena_init(&a);
            void *body = arena_alloc(&a, msg->request->size);
            seed_fill(msg->request, body, &a, 0);
            struct kafka_writer w;
            kafka_writer_init(&w);
            seed_request_header(&w, msg->api_key, v, msg);
            kafka_encode(msg->request, v, kafka_is_flexible(msg, v), body, &w);
            char name[96];
            snprintf(name, sizeof(name), "%s-v%d", msg->name, v);
            seed_writer("corpus", "request", name, &w);
            arena_free(&a);
        }
    }
}

/* ---- decompressors ------------------------------------------------------- */

static void seed_stream(const char *kind, const char *name, int codec, uint8_t small,
                        const uint8_t *payload, size_t len)
{
    struct kafka_writer in;
    kafka_writer_init(&in);
    kafka_write_i8(&in, (int8_t)codec);
    kafka_write_i8(&in, (int8_t)small);
    kafka_write_i8(&in, 3);
    kafka_write_raw(&in, payload, len);
    seed_writer(kind, "decompress", name, &in);
}

static void seed_decompress(void)
{
    uint8_t sample[3000];
    for (size_t i = 0; i < sizeof(sample); i++)
        sample[i] = (uint8_t)("the quick brown fox jumps over the lazy dog "[i % 44] ^ (i / 700));
    for (int codec = 0; codec <= 4; codec++) {
        for (int xerial = 0; xerial <= (codec == COMPRESSION_SNAPPY); xerial++) {
            struct kafka_writer c;
            kafka_writer_init(&c);
            compression_compress(codec, sample, sizeof(sample), &c, xerial);
            char name[64];
            snprintf(name, sizeof(name), "%s%s", compression_name(codec),
                     xerial ? "-xerial" : "");
            seed_stream("corpus", name, codec, 5, c.buf, c.len);
            kafka_writer_free(&c);
        }
    }
}

/* ---- __consumer_offsets and metadata records ----------------------------- */

static void seed_group_input(const char *name, uint8_t which, struct kafka_writer *rec)
{
    struct kafka_writer in;
    kafka_writer_init(&in);
    kafka_write_i8(&in, (int8_t)which);
    kafka_write_raw(&in, rec->buf, rec->len);
    kafka_writer_free(rec);
    seed_writer("corpus", "group_records", name, &in);
}

static void seed_group_records(void)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    group_record_write_offset_key(&w, kafka_str_from("group"), kafka_str_from("topic"), 3);
    seed_group_input("offset-key", 0, &w);
    kafka_writer_init(&w);
    group_record_write_group_key(&w, kafka_str_from("group"));
    seed_group_input("group-key", 0, &w);
    struct group_offset_value ov = {42, 5, kafka_str_from("meta"), 1700000000000, -1};
    kafka_writer_init(&w);
    group_record_write_offset_value(&w, &ov);
    seed_group_input("offset-value-v3", 1, &w);
    ov.expire_timestamp = 1700000001000;
    kafka_writer_init(&w);
    group_record_write_offset_value(&w, &ov);
    seed_group_input("offset-value-v1", 1, &w);
    struct group_member_value members[2] = {
        {kafka_str_from("m-1"), KAFKA_STR_NULL, kafka_str_from("c"), kafka_str_from("/1.2.3.4"),
         30000, 10000, {(const uint8_t *)"sub", 3}, {(const uint8_t *)"asg", 3}},
        {kafka_str_from("m-2"), kafka_str_from("i-2"), kafka_str_from("c"),
         kafka_str_from("/1.2.3.5"), 30000, 10000, {NULL, -1}, {NULL, -1}},
    };
    struct group_metadata_value gv = {kafka_str_from("consumer"), 7, kafka_str_from("range"),
                                      kafka_str_from("m-1"), 1700000000000, 2, members};
    kafka_writer_init(&w);
    group_record_write_group_value(&w, &gv);
    seed_group_input("group-value", 2, &w);
}

static void seed_metadata_append(struct kafka_writer *w, Rill__Metadata__MetadataRecord *rec)
{
    size_t n = rill__metadata__metadata_record__get_packed_size(rec);
    uint8_t *buf = malloc(n ? n : 1);
    rill__metadata__metadata_record__pack(rec, buf);
    kafka_write_i16(w, (int16_t)n);
    kafka_write_raw(w, buf, n);
    free(buf);
}

/* Brokers registering, a topic of three replicas, a fence that moves the
 * leader, an unfence, and an unregistration. */
static void seed_metadata_brokers(void)
{
    uint8_t id[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    struct kafka_writer w;
    kafka_writer_init(&w);
    Rill__Metadata__MetadataRecord rec;
    for (int32_t b = 1; b <= 3; b++) {
        uint8_t inc[16] = {(uint8_t)b};
        Rill__Metadata__BrokerEndpoint ep = RILL__METADATA__BROKER_ENDPOINT__INIT;
        ep.name = "PLAINTEXT";
        ep.host = "127.0.0.1";
        ep.port = 9091 + b;
        Rill__Metadata__BrokerEndpoint *eps[] = {&ep};
        Rill__Metadata__RegisterBrokerRecord reg = RILL__METADATA__REGISTER_BROKER_RECORD__INIT;
        reg.broker_id = b;
        reg.incarnation_id = (ProtobufCBinaryData){16, inc};
        reg.broker_epoch = b;
        reg.n_endpoints = 1;
        reg.endpoints = eps;
        reg.has_fenced = true;
        reg.fenced = true;
        rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
        rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_REGISTER_BROKER;
        rec.register_broker = &reg;
        seed_metadata_append(&w, &rec);
        Rill__Metadata__UnfenceBrokerRecord un = RILL__METADATA__UNFENCE_BROKER_RECORD__INIT;
        un.broker_id = b;
        un.broker_epoch = b;
        rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
        rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_UNFENCE_BROKER;
        rec.unfence_broker = &un;
        seed_metadata_append(&w, &rec);
    }
    Rill__Metadata__TopicRecord topic = RILL__METADATA__TOPIC_RECORD__INIT;
    topic.name = "replicated";
    topic.topic_id = (ProtobufCBinaryData){16, id};
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
    rec.topic = &topic;
    seed_metadata_append(&w, &rec);
    int32_t replicas[3] = {1, 2, 3};
    Rill__Metadata__PartitionRecord part = RILL__METADATA__PARTITION_RECORD__INIT;
    part.topic_id = (ProtobufCBinaryData){16, id};
    part.n_replicas = 3;
    part.replicas = replicas;
    part.n_isr = 3;
    part.isr = replicas;
    part.leader = 1;
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION;
    rec.partition = &part;
    seed_metadata_append(&w, &rec);
    Rill__Metadata__FenceBrokerRecord fence = RILL__METADATA__FENCE_BROKER_RECORD__INIT;
    fence.broker_id = 1;
    fence.broker_epoch = 1;
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_FENCE_BROKER;
    rec.fence_broker = &fence;
    seed_metadata_append(&w, &rec);
    int32_t isr[2] = {2, 3};
    Rill__Metadata__PartitionChangeRecord change = RILL__METADATA__PARTITION_CHANGE_RECORD__INIT;
    change.topic_id = (ProtobufCBinaryData){16, id};
    change.partition_epoch = 0;
    change.has_leader = true;
    change.leader = 2;
    change.has_isr_changed = true;
    change.isr_changed = true;
    change.n_isr = 2;
    change.isr = isr;
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION_CHANGE;
    rec.partition_change = &change;
    seed_metadata_append(&w, &rec);
    seed_metadata_append(&w, &rec); /* the same change again: stale, a no-op */
    Rill__Metadata__UnregisterBrokerRecord gone = RILL__METADATA__UNREGISTER_BROKER_RECORD__INIT;
    gone.broker_id = 1;
    gone.broker_epoch = 1;
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_UNREGISTER_BROKER;
    rec.unregister_broker = &gone;
    seed_metadata_append(&w, &rec);
    seed_writer("corpus", "metadata_record", "brokers-fence-change", &w);
}

static void seed_metadata(void)
{
    uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct kafka_writer w;
    kafka_writer_init(&w);

    Rill__Metadata__TopicRecord topic = RILL__METADATA__TOPIC_RECORD__INIT;
    topic.name = "orders";
    topic.topic_id = (ProtobufCBinaryData){16, id};
    Rill__Metadata__MetadataRecord rec = RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
    rec.topic = &topic;
    seed_metadata_append(&w, &rec);

    int32_t replicas[1] = {1};
    for (int32_t p = 0; p < 2; p++) {
        Rill__Metadata__PartitionRecord part = RILL__METADATA__PARTITION_RECORD__INIT;
        part.topic_id = (ProtobufCBinaryData){16, id};
        part.partition = p;
        part.n_replicas = 1;
        part.replicas = replicas;
        part.n_isr = 1;
        part.isr = replicas;
        part.leader = 1;
        part.leader_epoch = 0;
        rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
        rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION;
        rec.partition = &part;
        seed_metadata_append(&w, &rec);
    }
    Rill__Metadata__ConfigRecord cfg = RILL__METADATA__CONFIG_RECORD__INIT;
    cfg.resource_type = 2;
    cfg.resource_name = "orders";
    cfg.name = "retention.ms";
    cfg.value = "1000";
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_CONFIG;
    rec.config = &cfg;
    seed_metadata_append(&w, &rec);
    Rill__Metadata__ProducerIdsRecord pids = RILL__METADATA__PRODUCER_IDS_RECORD__INIT;
    pids.broker_id = 1;
    pids.next_producer_id = 1000;
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS;
    rec.producer_ids = &pids;
    seed_metadata_append(&w, &rec);
    Rill__Metadata__RemoveTopicRecord rm = RILL__METADATA__REMOVE_TOPIC_RECORD__INIT;
    rm.topic_id = (ProtobufCBinaryData){16, id};
    rec = (Rill__Metadata__MetadataRecord)RILL__METADATA__METADATA_RECORD__INIT;
    rec.record_case = RILL__METADATA__METADATA_RECORD__RECORD_REMOVE_TOPIC;
    rec.remove_topic = &rm;
    seed_metadata_append(&w, &rec);
    seed_writer("corpus", "metadata_record", "create-config-remove", &w);
    seed_metadata_brokers();
}

/* ---- regressions: the fault classes of issue 6 --------------------------- */

/* A zstd frame that declares one content size and produces another: the
 * streaming decoder did not check it, librdkafka (which sizes its buffer
 * from it) could then never read the batch. */
static void seed_zstd_size_lie(struct kafka_writer *out, const struct kafka_writer *recs)
{
    compression_compress(COMPRESSION_ZSTD, recs->buf, recs->len, out, 0);
    /* Frame header: magic(4) FHD(1) [window] FCS. The encoder writes a
     * single-segment frame with a 1-byte size for small input. */
    uint8_t fhd = out->buf[4];
    int single = (fhd >> 5) & 1;
    size_t fcs_at = 5 + (single ? 0 : 1);
    out->buf[fcs_at] = (uint8_t)(out->buf[fcs_at] - 1);
}

/* A batch of count records whose record bytes are payload, declared as
 * codec (the harness and the wire test fix the CRC: flag 2). */
static void seed_batch_payload(const char *name, int codec, int32_t count, const uint8_t *payload,
                               size_t len)
{
    struct kafka_writer w;
    kafka_writer_init(&w);
    record_batch_build(&w, COMPRESSION_NONE, 1700000000000, 1700000000000 + count - 1, count,
                       payload, len);
    be16_store(w.buf + RB_ATTRIBUTES, (uint16_t)codec);
    seed_batch_input("regressions", name, 2, &w);
    kafka_writer_free(&w);
}

/* Compressed payloads each strict reader refuses, as whole batches. */
static void seed_compressed_regressions(const struct kafka_writer *recs)
{
    /* lz4 with linked blocks: Kafka's Java reader refuses them. The
     * streaming API keeps the mode (LZ4F_compressFrame would switch a
     * one-block frame to independent), and three 40 KB values make it
     * more than one 64 KiB block. */
    struct kafka_writer big;
    kafka_writer_init(&big);
    uint8_t *value = calloc(1, 40000);
    for (int i = 0; i < 3; i++)
        record_write(&big, i, i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){value, 40000});
    free(value);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    LZ4F_cctx *cctx;
    LZ4F_createCompressionContext(&cctx, LZ4F_VERSION);
    size_t bound = LZ4F_compressBound(big.len, &prefs) + LZ4F_HEADER_SIZE_MAX;
    uint8_t *lz = malloc(bound);
    size_t lz_len = LZ4F_compressBegin(cctx, lz, bound, &prefs);
    lz_len += LZ4F_compressUpdate(cctx, lz + lz_len, bound - lz_len, big.buf, big.len, NULL);
    lz_len += LZ4F_compressEnd(cctx, lz + lz_len, bound - lz_len, NULL);
    LZ4F_freeCompressionContext(cctx);
    if (lz[4] & 0x20) { /* FLG bit 5: independent blocks */
        fprintf(stderr, "fuzz-seeds: lz4 frame is not linked\n");
        exit(1);
    }
    seed_batch_payload("lz4-linked-blocks", COMPRESSION_LZ4, 3, lz, lz_len);
    free(lz);
    kafka_writer_free(&big);

    /* Two zstd frames, each half of the records: kafka-python reads one. */
    struct kafka_writer two;
    kafka_writer_init(&two);
    size_t half = recs->len / 2;
    compression_compress(COMPRESSION_ZSTD, recs->buf, half, &two, 0);
    compression_compress(COMPRESSION_ZSTD, recs->buf + half, recs->len - half, &two, 0);
    seed_batch_payload("zstd-two-frames", COMPRESSION_ZSTD, 3, two.buf, two.len);
    kafka_writer_free(&two);

    /* Two gzip members: librdkafka reads only the first. */
    kafka_writer_init(&two);
    compression_compress(COMPRESSION_GZIP, recs->buf, half, &two, 0);
    compression_compress(COMPRESSION_GZIP, recs->buf + half, recs->len - half, &two, 0);
    seed_batch_payload("gzip-two-members", COMPRESSION_GZIP, 3, two.buf, two.len);
    kafka_writer_free(&two);

    /* A zlib stream where gzip is declared: Java and Python refuse it. */
    uLongf zlen = compressBound(recs->len);
    uint8_t *z = malloc(zlen);
    compress(z, &zlen, recs->buf, recs->len);
    seed_batch_payload("gzip-is-zlib", COMPRESSION_GZIP, 3, z, zlen);
    free(z);

    /* A zstd frame without a content size (as zstd-jni streams it) whose
     * records are all there, then an empty compressed block as the last:
     * zstd's streaming decoder took it, its one-shot decoder (librdkafka)
     * refuses it. Found by fuzz_decompress. */
    uint8_t zf[1024];
    ZSTD_CCtx *zc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(zc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_outBuffer zo = {zf, sizeof(zf) - 3, 0};
    ZSTD_inBuffer zi = {recs->buf, recs->len, 0};
    if (ZSTD_compressStream2(zc, &zo, &zi, ZSTD_e_end) != 0) {
        fprintf(stderr, "fuzz-seeds: zstd frame did not fit\n");
        exit(1);
    }
    ZSTD_freeCCtx(zc);
    size_t zpos = ZSTD_frameHeaderSize(zf, zo.pos), zlast = zpos;
    for (;;) {
        uint32_t hd = (uint32_t)zf[zpos] | (uint32_t)zf[zpos + 1] << 8 |
                      (uint32_t)zf[zpos + 2] << 16;
        zlast = zpos;
        zpos += 3 + (((hd >> 1) & 3) == 1 ? 1 : hd >> 3);
        if (hd & 1)
            break;
    }
    zf[zlast] &= (uint8_t)~1; /* no longer the last block */
    zf[zpos] = 0x05;          /* last, compressed, size 0 */
    zf[zpos + 1] = zf[zpos + 2] = 0;
    seed_batch_payload("zstd-empty-compressed-block", COMPRESSION_ZSTD, 3, zf, zpos + 3);

    /* 66 bytes of snappy that declare 2^28. */
    const uint8_t snappy_huge[5] = {0x80, 0x80, 0x80, 0x80, 0x01};
    seed_batch_payload("snappy-declares-256mib", COMPRESSION_SNAPPY, 1, snappy_huge,
                       sizeof(snappy_huge));

    /* A zstd bomb with sound records: one record whose value is 200 MB of
     * zeros, a few KiB compressed. It must cost the broker a window, not
     * 200 MB, and be refused at the decompressed-size cap. */
    size_t value_len = 200u << 20;
    struct kafka_writer bomb;
    kafka_writer_init(&bomb);
    uint8_t *zeros = calloc(1, value_len);
    record_write(&bomb, 0, 0, (struct kafka_bytes){NULL, -1},
                 (struct kafka_bytes){zeros, (int32_t)value_len});
    free(zeros);
    struct kafka_writer packed;
    kafka_writer_init(&packed);
    compression_compress(COMPRESSION_ZSTD, bomb.buf, bomb.len, &packed, 0);
    kafka_writer_free(&bomb);
    seed_batch_payload("zstd-bomb-200mb-value", COMPRESSION_ZSTD, 1, packed.buf, packed.len);
    kafka_writer_free(&packed);
}

static void seed_regressions(void)
{
    struct kafka_writer recs, w, payload;
    kafka_writer_init(&recs);
    seed_records(&recs, 3);

    /* zstd content size lie, as a stream and as a batch. */
    kafka_writer_init(&payload);
    seed_zstd_size_lie(&payload, &recs);
    seed_stream("regressions", "zstd-content-size-lie", COMPRESSION_ZSTD, 1, payload.buf,
                payload.len);
    kafka_writer_init(&w);
    record_batch_build(&w, COMPRESSION_NONE, 1700000000000, 1700000000002, 3, payload.buf,
                       payload.len);
    be16_store(w.buf + RB_ATTRIBUTES, COMPRESSION_ZSTD);
    seed_batch_input("regressions", "zstd-content-size-lie", 2, &w);
    kafka_writer_free(&w);
    kafka_writer_free(&payload);

    /* An empty snappy block, and a xerial header with no blocks. */
    const uint8_t empty_block[1] = {0};
    seed_stream("regressions", "snappy-empty-block", COMPRESSION_SNAPPY, 1, empty_block, 1);
    seed_stream("regressions", "snappy-empty-input", COMPRESSION_SNAPPY, 1, empty_block, 0);
    const uint8_t xerial_only[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    seed_stream("regressions", "snappy-xerial-no-blocks", COMPRESSION_SNAPPY, 1, xerial_only,
                sizeof(xerial_only));
    kafka_writer_init(&w);
    record_batch_build(&w, COMPRESSION_NONE, 0, 0, 1, xerial_only, sizeof(xerial_only));
    be16_store(w.buf + RB_ATTRIBUTES, COMPRESSION_SNAPPY);
    seed_batch_input("regressions", "snappy-xerial-no-blocks", 2, &w);
    kafka_writer_free(&w);
    kafka_writer_init(&w);
    record_batch_build(&w, COMPRESSION_NONE, 0, 0, 1, empty_block, 1);
    be16_store(w.buf + RB_ATTRIBUTES, COMPRESSION_SNAPPY);
    seed_batch_input("regressions", "snappy-empty-block", 2, &w);
    kafka_writer_free(&w);

    /* A 66-byte snappy batch that declares 256 MiB. */
    const uint8_t snappy_huge[5] = {0x80, 0x80, 0x80, 0x80, 0x01};
    seed_stream("regressions", "snappy-declares-256mib", COMPRESSION_SNAPPY, 1, snappy_huge,
                sizeof(snappy_huge));

    /* zstd bomb: a few KiB that inflate to 256 MiB of zeros. */
    size_t bomb_len = 256u << 20;
    uint8_t *zeros = calloc(1, bomb_len);
    kafka_writer_init(&payload);
    compression_compress(COMPRESSION_ZSTD, zeros, bomb_len, &payload, 0);
    free(zeros);
    seed_stream("regressions", "zstd-bomb-256mib", COMPRESSION_ZSTD, 255, payload.buf,
                payload.len);
    kafka_writer_free(&payload);

    /* A record whose timestamp delta takes base + delta past INT64_MAX. */
    struct kafka_writer r1;
    kafka_writer_init(&r1);
    record_write(&r1, INT64_MAX, 0, (struct kafka_bytes){NULL, -1},
                 (struct kafka_bytes){(const uint8_t *)"v", 1});
    kafka_writer_init(&w);
    record_batch_build(&w, COMPRESSION_NONE, 1700000000000, 1700000000000, 1, r1.buf, r1.len);
    seed_batch_input("regressions", "timestamp-overflow", 0, &w);
    kafka_writer_free(&w);
    kafka_writer_free(&r1);

    /* A Produce v3 request whose topic array claims a million elements. */
    kafka_writer_init(&w);
    const struct kafka_message_desc *produce = kafka_message_find(KAFKA_API_PRODUCE);
    seed_request_header(&w, KAFKA_API_PRODUCE, 3, produce);
    kafka_write_i16(&w, -1);   /* TransactionalId null */
    kafka_write_i16(&w, 1);    /* Acks */
    kafka_write_i32(&w, 1000); /* TimeoutMs */
    kafka_write_i32(&w, 1000000);
    for (int i = 0; i < 200; i++)
        kafka_write_i16(&w, 0);
    seed_writer("regressions", "request", "array-claims-a-million", &w);

    /* Bytes after the body of a Metadata v1 request. */
    kafka_writer_init(&w);
    seed_request_header(&w, KAFKA_API_METADATA, 1, kafka_message_find(KAFKA_API_METADATA));
    kafka_write_i32(&w, -1);
    kafka_write_raw(&w, "trailing", 8);
    seed_writer("regressions", "request", "trailing-bytes", &w);

    seed_compressed_regressions(&recs);
    kafka_writer_free(&recs);
}

/* ---- internal RPC frames ------------------------------------------------- */

static void seed_raft_one(const char *name, const struct raft_msg *m)
{
    uint8_t *frame;
    size_t len;
    if (raft_wire_encode("fuzz-cluster", m->from, m, &frame, &len) != 0) {
        fprintf(stderr, "fuzz-seeds: cannot encode %s\n", name);
        exit(1);
    }
    seed_write("corpus", "raft_rpc", name, frame + RAFT_WIRE_PREFIX_BYTES,
               len - RAFT_WIRE_PREFIX_BYTES);
    free(frame);
}

static void seed_raft_rpc(void)
{
    uint8_t data[] = "a metadata batch";
    struct raft_entry ents[] = {{4, 3, RAFT_ENTRY_LEADER_CHANGE, NULL, 0},
                                {5, 3, RAFT_ENTRY_DATA, data, sizeof(data)}};
    struct raft_msg vote = {.type = RAFT_MSG_VOTE_REQ, .from = 2, .to = 1, .term = 3,
                            .leader = RAFT_NONE, .pre_vote = true, .last_index = 3,
                            .last_term = 2};
    seed_raft_one("pre-vote", &vote);
    vote.pre_vote = false;
    seed_raft_one("vote", &vote);
    struct raft_msg granted = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 1, .term = 3,
                               .leader = RAFT_NONE, .granted = true};
    seed_raft_one("vote-granted", &granted);
    struct raft_msg fetch = {.type = RAFT_MSG_FETCH_REQ, .from = 2, .to = 1, .term = 2,
                             .leader = 1, .fetch_index = 3, .fetch_prev_term = 1};
    seed_raft_one("fetch", &fetch);
    struct raft_msg resp = {.type = RAFT_MSG_FETCH_RESP, .from = 2, .to = 1, .term = 3,
                            .leader = 2, .fetch_index = 4, .fetch_prev_term = 2, .commit = 4,
                            .entries = ents, .nentries = 2};
    seed_raft_one("fetch-entries", &resp);
    struct raft_msg div = {.type = RAFT_MSG_FETCH_RESP, .from = 2, .to = 1, .term = 3,
                           .leader = 2, .fetch_index = 4, .fetch_prev_term = 2,
                           .status = RAFT_FETCH_DIVERGING, .diverging_index = 2,
                           .diverging_term = 1};
    seed_raft_one("fetch-diverging", &div);
    uint8_t chunk[] = "snapshot";
    struct raft_msg snap = {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1, .term = 3,
                            .leader = 2, .snap_index = 9, .snap_term = 3, .snap_size = 8,
                            .chunk = chunk, .chunk_len = 8};
    seed_raft_one("snapshot-chunk", &snap);
    struct raft_msg begin = {.type = RAFT_MSG_BEGIN_EPOCH, .from = 3, .to = 1, .term = 4,
                             .leader = 3};
    seed_raft_one("begin-epoch", &begin);
    /* The controller requests that share the envelope. */
    uint8_t *frame;
    size_t len;
    struct raft_wire_heartbeat hb = {.broker_id = 2, .broker_epoch = 7, .metadata_version = 40};
    if (raft_wire_encode_heartbeat("fuzz-cluster", 2, &hb, &frame, &len) == 0) {
        seed_write("corpus", "raft_rpc", "heartbeat", frame + RAFT_WIRE_PREFIX_BYTES,
                   len - RAFT_WIRE_PREFIX_BYTES);
        free(frame);
    }
    struct raft_wire_producer_ids pr = {.broker_id = 2, .broker_epoch = 7};
    if (raft_wire_encode_producer_ids("fuzz-cluster", 2, &pr, &frame, &len) == 0) {
        seed_write("corpus", "raft_rpc", "producer-ids", frame + RAFT_WIRE_PREFIX_BYTES,
                   len - RAFT_WIRE_PREFIX_BYTES);
        free(frame);
    }
    /* A relayed DeleteTopics v1 (header and body) and an answer. */
    static const uint8_t relayed[] = {0, 20, 0, 1, 0, 0, 0, 7, 0, 2, 'c', 'l',
                                      0, 0, 0, 1, 0, 4, 'g', 'o', 'n', 'e', 0, 0, 39, 16};
    struct raft_wire_forwarded fw = {.id = 5, .bytes = relayed, .len = sizeof(relayed)};
    if (raft_wire_encode_forwarded("fuzz-cluster", 2, false, &fw, &frame, &len) == 0) {
        seed_write("corpus", "raft_rpc", "forwarded-request", frame + RAFT_WIRE_PREFIX_BYTES,
                   len - RAFT_WIRE_PREFIX_BYTES);
        free(frame);
    }
    fw.metadata_version = 41;
    if (raft_wire_encode_forwarded("fuzz-cluster", 1, true, &fw, &frame, &len) == 0) {
        seed_write("corpus", "raft_rpc", "forwarded-response", frame + RAFT_WIRE_PREFIX_BYTES,
                   len - RAFT_WIRE_PREFIX_BYTES);
        free(frame);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-seeds DIR\n");
        return 2;
    }
    seed_root = argv[1];
    mkdir(seed_root, 0755);
    seed_requests();
    seed_record_batches();
    seed_decompress();
    seed_group_records();
    seed_metadata();
    seed_raft_rpc();
    seed_regressions();
    kafka_writer_free(&seed_produce_batch);
    return 0;
}
