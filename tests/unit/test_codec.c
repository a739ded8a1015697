/* The schema-driven codec: every message Rill has a schema for, in every
 * version, both directions, round-trips; every strict prefix of an encoded
 * message is refused; known byte layouts from real clients decode and
 * encode exactly. */
#include <stdio.h>
#include <string.h>

#include "common/arena.h"
#include "common/limits.h"
#include "proto/kafka_codec.h"
#include "tests/unit/unit.h"

/* A deterministic generator (xorshift) so failures reproduce. */
struct gen {
    uint64_t state;
    struct arena *arena;
    int16_t version;
    bool flexible;
};

static uint64_t gen_next(struct gen *g)
{
    g->state ^= g->state << 13;
    g->state ^= g->state >> 7;
    g->state ^= g->state << 17;
    return g->state;
}

static bool in_range(int16_t v, int16_t lo, int16_t hi)
{
    return lo >= 0 && v >= lo && v <= hi;
}

static const char *const gen_words[] = {"", "a", "topic-1", "rill", "\xc3\xa9t\xc3\xa9",
                                        "a-much-longer-string-value-for-the-codec"};

static void gen_fill_struct(struct gen *g, const struct kafka_struct_desc *desc, void *out,
                            int depth);

static void gen_fill_value(struct gen *g, const struct kafka_field_desc *f, enum kafka_type type,
                           bool nullable, void *p, int depth)
{
    uint64_t r = gen_next(g);
    switch (type) {
    case KT_BOOL: {
        bool b = r & 1;
        memcpy(p, &b, sizeof(b));
        break;
    }
    case KT_INT8: {
        int8_t v = (int8_t)r;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case KT_INT16:
    case KT_UINT16: {
        int16_t v = (int16_t)r;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case KT_INT32:
    case KT_UINT32: {
        int32_t v = (int32_t)r;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case KT_INT64: {
        int64_t v = (int64_t)r;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case KT_FLOAT64: {
        double d = (double)(int32_t)r / 8.0;
        memcpy(p, &d, sizeof(d));
        break;
    }
    case KT_UUID: {
        struct kafka_uuid u;
        for (int i = 0; i < 16; i++)
            u.bytes[i] = (uint8_t)(gen_next(g) >> 11);
        memcpy(p, &u, sizeof(u));
        break;
    }
    case KT_STRING: {
        struct kafka_str s;
        if (nullable && r % 5 == 0) {
            s = KAFKA_STR_NULL;
        } else {
            const char *w = gen_words[r % (sizeof(gen_words) / sizeof(gen_words[0]))];
            s = kafka_str_from(w);
        }
        memcpy(p, &s, sizeof(s));
        break;
    }
    case KT_BYTES:
    case KT_RECORDS: {
        struct kafka_bytes b = {NULL, -1};
        if (!(nullable && r % 5 == 0)) {
            int32_t n = (int32_t)(r % 40);
            uint8_t *data = arena_alloc(g->arena, (size_t)n + 1);
            for (int32_t i = 0; i < n; i++)
                data[i] = (uint8_t)(gen_next(g) >> 17);
            b = (struct kafka_bytes){data, n};
        }
        if (type == KT_RECORDS) {
            struct kafka_records rec = {b.ptr, b.len, NULL};
            memcpy(p, &rec, sizeof(rec));
        } else {
            memcpy(p, &b, sizeof(b));
        }
        break;
    }
    case KT_STRUCT:
        gen_fill_struct(g, f->child, p, depth + 1);
        break;
    case KT_ARRAY: {
        struct kafka_array_any a = {(int32_t)(r % 3), NULL};
        if (nullable && r % 7 == 0)
            a.count = -1;
        if (depth > 4)
            a.count = 0;
        if (a.count > 0) {
            size_t esize;
            switch (f->elem_type) {
            case KT_INT8:
                esize = 1;
                break;
            case KT_INT16:
                esize = 2;
                break;
            case KT_INT32:
                esize = 4;
                break;
            case KT_INT64:
                esize = 8;
                break;
            case KT_UUID:
                esize = sizeof(struct kafka_uuid);
                break;
            case KT_STRING:
                esize = sizeof(struct kafka_str);
                break;
            default:
                esize = f->child->size;
                break;
            }
            a.items = arena_alloc(g->arena, esize * (size_t)a.count);
            for (int32_t i = 0; i < a.count; i++)
                gen_fill_value(g, f, f->elem_type, false, (char *)a.items + (size_t)i * esize,
                               depth);
        }
        memcpy(p, &a, sizeof(a));
        break;
    }
    default:
        break;
    }
}

static void gen_fill_struct(struct gen *g, const struct kafka_struct_desc *desc, void *out,
                            int depth)
{
    kafka_set_defaults(desc, out);
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        if (!in_range(g->version, f->ver_min, f->ver_max))
            continue;
        bool tagged = f->tag >= 0 && in_range(g->version, f->tag_min, f->tag_max);
        if (tagged && !g->flexible)
            continue;
        /* Leave some tagged fields at their default (then they are omitted). */
        if (tagged && gen_next(g) % 3 == 0)
            continue;
        bool nullable = in_range(g->version, f->null_min, f->null_max);
        gen_fill_value(g, f, f->type, nullable, (char *)out + f->offset, depth);
    }
}

/* Encode, decode, encode again: the two encodings must be identical, the
 * decode must use every byte, and every strict prefix must be refused. */
static void round_trip(const struct kafka_message_desc *m, const struct kafka_struct_desc *desc,
                       int16_t version, uint64_t seed)
{
    struct arena arena;
    arena_init(&arena);
    struct gen g = {.state = seed, .arena = &arena, .version = version,
                    .flexible = version >= m->flexible_min};
    void *in = arena_alloc(&arena, desc->size);
    gen_fill_struct(&g, desc, in, 0);

    struct kafka_writer w1, w2;
    kafka_writer_init(&w1);
    kafka_writer_init(&w2);
    ck_assert_int_eq(kafka_encode(desc, version, g.flexible, in, &w1), 0);

    void *out = arena_alloc(&arena, desc->size);
    struct kafka_reader r;
    kafka_reader_init(&r, w1.buf, w1.len);
    int rc = kafka_decode(desc, version, g.flexible, &r, &arena, out);
    ck_assert_msg(rc == 0, "%s v%d decode failed", desc->name, version);
    ck_assert_msg(kafka_reader_left(&r) == 0, "%s v%d left %zu bytes", desc->name, version,
                  kafka_reader_left(&r));
    ck_assert_int_eq(kafka_encode(desc, version, g.flexible, out, &w2), 0);
    ck_assert_msg(w1.len == w2.len && (w1.len == 0 || memcmp(w1.buf, w2.buf, w1.len) == 0),
                  "%s v%d re-encoding differs", desc->name, version);

    for (size_t cut = 0; cut < w1.len; cut++) {
        struct arena a2;
        arena_init(&a2);
        void *tmp = arena_alloc(&a2, desc->size);
        kafka_reader_init(&r, w1.buf, cut);
        rc = kafka_decode(desc, version, g.flexible, &r, &a2, tmp);
        ck_assert_msg(rc != 0, "%s v%d: a %zu-byte prefix of %zu decoded", desc->name, version,
                      cut, w1.len);
        arena_free(&a2);
    }
    kafka_writer_free(&w1);
    kafka_writer_free(&w2);
    arena_free(&arena);
}

START_TEST(every_message_every_version_round_trips)
{
    int checked = 0;
    for (size_t i = 0; i < kafka_messages_count; i++) {
        const struct kafka_message_desc *m = &kafka_messages[i];
        for (int16_t v = m->valid_min; v <= m->valid_max; v++) {
            for (uint64_t seed = 1; seed <= 6; seed++) {
                round_trip(m, m->request, v, seed * 0x9E3779B97F4A7C15ull + (uint64_t)v);
                round_trip(m, m->response, v, seed * 0xC2B2AE3D27D4EB4Full + (uint64_t)v);
                checked += 2;
            }
        }
    }
    ck_assert_int_gt(checked, 500);
}
END_TEST

/* ---- known byte layouts ------------------------------------------------- */

static void encode_response(const struct kafka_message_desc *m, int16_t version, int32_t corr,
                            const void *resp, struct kafka_writer *w)
{
    kafka_encode_response_header(w, m, version, corr);
    ck_assert_int_eq(kafka_encode(m->response, version, kafka_is_flexible(m, version), resp, w),
                     0);
}

START_TEST(api_versions_v0_response_bytes)
{
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_API_VERSIONS);
    struct kafka_api_versions_response_api_version keys[2] = {{0, 0, 8}, {18, 0, 4}};
    struct kafka_api_versions_response resp;
    kafka_set_defaults(m->response, &resp);
    resp.ApiKeys.count = 2;
    resp.ApiKeys.items = keys;
    struct kafka_writer w;
    kafka_writer_init(&w);
    encode_response(m, 0, 1, &resp, &w);
    const uint8_t want[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 8, 0, 0x12, 0, 0, 0, 4};
    ck_assert_uint_eq(w.len, sizeof(want));
    ck_assert_mem_eq(w.buf, want, sizeof(want));
    kafka_writer_free(&w);
}
END_TEST

START_TEST(api_versions_v3_response_has_v0_header)
{
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_API_VERSIONS);
    struct kafka_api_versions_response_api_version keys[1] = {{18, 0, 4}};
    struct kafka_api_versions_response resp;
    kafka_set_defaults(m->response, &resp);
    resp.ApiKeys.count = 1;
    resp.ApiKeys.items = keys;
    struct kafka_writer w;
    kafka_writer_init(&w);
    encode_response(m, 3, 7, &resp, &w);
    /* corr | error | n+1 | key min max tags | throttle | tags */
    const uint8_t want[] = {0, 0, 0, 7, 0, 0, 0x02, 0, 0x12, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0};
    ck_assert_uint_eq(w.len, sizeof(want));
    ck_assert_mem_eq(w.buf, want, sizeof(want));
    kafka_writer_free(&w);
}
END_TEST

START_TEST(librdkafka_api_versions_v3_request)
{
    /* Header v2 (client id keeps its int16 length), then the flexible body. */
    const uint8_t frame[] = {0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x07, 'r', 'd',
                             'k', 'a', 'f', 'k', 'a', 0x00, 0x0b, 'l', 'i', 'b', 'r', 'd', 'k',
                             'a', 'f', 'k', 'a', 0x06, '2', '.', '0', '.', '2', 0x00};
    struct kafka_reader r;
    kafka_reader_init(&r, frame, sizeof(frame));
    struct kafka_request_header h;
    ck_assert_int_eq(kafka_decode_request_header_prefix(&r, &h), 0);
    ck_assert_int_eq(h.api_key, 18);
    ck_assert_int_eq(h.api_version, 3);
    ck_assert_int_eq(h.correlation_id, 5);
    const struct kafka_message_desc *m = kafka_message_find(h.api_key);
    ck_assert_int_eq(kafka_request_header_version(m, h.api_version), 2);
    ck_assert_int_eq(kafka_decode_request_header_rest(&r, 2, &h), 0);
    ck_assert(kafka_str_eq(h.client_id, "rdkafka"));
    struct arena arena;
    arena_init(&arena);
    struct kafka_api_versions_request body;
    ck_assert_int_eq(kafka_decode(m->request, 3, true, &r, &arena, &body), 0);
    ck_assert(kafka_str_eq(body.ClientSoftwareName, "librdkafka"));
    ck_assert(kafka_str_eq(body.ClientSoftwareVersion, "2.0.2"));
    ck_assert_uint_eq(kafka_reader_left(&r), 0);
    arena_free(&arena);
}
END_TEST

START_TEST(kafka_python_api_versions_v0_request)
{
    const char *client = "kafka-python-2.0.2";
    uint8_t frame[64];
    const uint8_t head[] = {0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12};
    memcpy(frame, head, sizeof(head));
    memcpy(frame + sizeof(head), client, 18);
    struct kafka_reader r;
    kafka_reader_init(&r, frame, sizeof(head) + 18);
    struct kafka_request_header h;
    ck_assert_int_eq(kafka_decode_request_header_prefix(&r, &h), 0);
    const struct kafka_message_desc *m = kafka_message_find(h.api_key);
    ck_assert_int_eq(kafka_request_header_version(m, h.api_version), 1);
    ck_assert_int_eq(kafka_decode_request_header_rest(&r, 1, &h), 0);
    ck_assert(kafka_str_eq(h.client_id, client));
    ck_assert_uint_eq(kafka_reader_left(&r), 0); /* v0 has an empty body */
}
END_TEST

START_TEST(metadata_topics_null_versus_empty)
{
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_METADATA);
    struct arena arena;
    arena_init(&arena);
    struct kafka_metadata_request req;
    /* v1 null array = all topics. */
    const uint8_t v1_null[] = {0xff, 0xff, 0xff, 0xff};
    struct kafka_reader r;
    kafka_reader_init(&r, v1_null, sizeof(v1_null));
    ck_assert_int_eq(kafka_decode(m->request, 1, false, &r, &arena, &req), 0);
    ck_assert_int_eq(req.Topics.count, -1);
    ck_assert(req.AllowAutoTopicCreation); /* the default below v4 */
    /* v0 cannot be null. */
    kafka_reader_init(&r, v1_null, sizeof(v1_null));
    ck_assert_int_ne(kafka_decode(m->request, 0, false, &r, &arena, &req), 0);
    /* v4 carries the flag. */
    const uint8_t v4[] = {0, 0, 0, 1, 0, 1, 'x', 0};
    kafka_reader_init(&r, v4, sizeof(v4));
    ck_assert_int_eq(kafka_decode(m->request, 4, false, &r, &arena, &req), 0);
    ck_assert_int_eq(req.Topics.count, 1);
    ck_assert(kafka_str_eq(req.Topics.items[0].Name, "x"));
    ck_assert(!req.AllowAutoTopicCreation);
    arena_free(&arena);
}
END_TEST

START_TEST(tagged_fields_written_and_skipped)
{
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_FETCH);
    struct arena arena;
    arena_init(&arena);
    struct kafka_fetch_response_partition_data part;
    kafka_set_defaults(&kafka_fetch_response_partition_data_desc, &part);
    part.DivergingEpoch.Epoch = 3;
    part.DivergingEpoch.EndOffset = 99;
    struct kafka_writer w;
    kafka_writer_init(&w);
    ck_assert_int_eq(kafka_encode(&kafka_fetch_response_partition_data_desc, 12, true, &part, &w),
                     0);
    /* The section: one tag (0), size 13 (int32 epoch + int64 offset + tags). */
    ck_assert_uint_ge(w.len, 16);
    const uint8_t tail[] = {0x01, 0x00, 0x0d, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 99, 0x00};
    ck_assert_mem_eq(w.buf + w.len - sizeof(tail), tail, sizeof(tail));
    struct kafka_fetch_response_partition_data back;
    struct kafka_reader r;
    kafka_reader_init(&r, w.buf, w.len);
    ck_assert_int_eq(kafka_decode(&kafka_fetch_response_partition_data_desc, 12, true, &r, &arena,
                                  &back),
                     0);
    ck_assert_int_eq(back.DivergingEpoch.Epoch, 3);
    ck_assert_int_eq(back.CurrentLeader.LeaderId, -1); /* absent tag: default */
    (void)m;
    kafka_writer_free(&w);

    /* An unknown tag (7) in an ApiVersions v3 request body is skipped. */
    const uint8_t body[] = {0x02, 'x', 0x02, 'y', 0x01, 0x07, 0x02, 0xde, 0xad};
    struct kafka_api_versions_request av;
    kafka_reader_init(&r, body, sizeof(body));
    ck_assert_int_eq(kafka_decode(kafka_message_find(KAFKA_API_API_VERSIONS)->request, 3, true,
                                  &r, &arena, &av),
                     0);
    ck_assert(kafka_str_eq(av.ClientSoftwareName, "x"));
    ck_assert_uint_eq(kafka_reader_left(&r), 0);
    /* Tags out of order are malformed. */
    const uint8_t disorder[] = {0x02, 'x', 0x02, 'y', 0x02, 0x07, 0x00, 0x03, 0x00};
    kafka_reader_init(&r, disorder, sizeof(disorder));
    ck_assert_int_ne(kafka_decode(kafka_message_find(KAFKA_API_API_VERSIONS)->request, 3, true,
                                  &r, &arena, &av),
                     0);
    arena_free(&arena);
}
END_TEST

START_TEST(hostile_array_counts_are_refused_before_allocating)
{
    /* Produce v3: transactional id null, acks 1, timeout, then 1e6 topics
     * announced in a few bytes. */
    const uint8_t frame[] = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x75, 0x30,
                             0x00, 0x0f, 0x42, 0x40, 0x00, 0x01, 'a'};
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_PRODUCE);
    struct arena arena;
    arena_init(&arena);
    void *body = arena_alloc(&arena, m->request->size);
    struct kafka_reader r;
    kafka_reader_init(&r, frame, sizeof(frame));
    ck_assert_int_ne(kafka_decode(m->request, 3, false, &r, &arena, body), 0);
    ck_assert_uint_lt(arena.used_bytes, 64 * 1024);
    arena_free(&arena);
}
END_TEST

static void worst_ratio(const struct kafka_struct_desc *d, int16_t v, bool flexible,
                        double *worst)
{
    for (uint16_t i = 0; i < d->nfields; i++) {
        const struct kafka_field_desc *f = &d->fields[i];
        if (v < f->ver_min || v > f->ver_max)
            continue;
        if (f->type == KT_ARRAY) {
            double ratio =
                (double)kafka_elem_c_size(f) / (double)kafka_min_wire_bytes(f, v, flexible);
            if (ratio > *worst)
                *worst = ratio;
        }
        if (f->child != NULL)
            worst_ratio(f->child, v, flexible, worst);
    }
}

START_TEST(decoding_allocates_in_proportion_to_the_frame)
{
    /* Over every request schema and version, an array element's C size
     * over its fewest wire bytes leaves room for 8 bytes of alignment per
     * allocation inside LIMIT_DECODE_BYTES_PER_FRAME_BYTE. */
    double worst = 0;
    for (size_t i = 0; i < kafka_messages_count; i++) {
        const struct kafka_message_desc *m = &kafka_messages[i];
        for (int16_t v = m->valid_min; v <= m->valid_max; v++)
            worst_ratio(m->request, v, kafka_is_flexible(m, v), &worst);
    }
    ck_assert_double_gt(worst, 1);
    ck_assert_double_le(worst + 8, LIMIT_DECODE_BYTES_PER_FRAME_BYTE);

    /* Produce v3 topics take at least 6 bytes each (name, partitions
     * count): 100 of them cannot fit in 150 bytes, though 100 single bytes
     * would. */
    uint8_t frame[12 + 150];
    memset(frame, 0, sizeof(frame));
    const uint8_t head[] = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x00, 100};
    memcpy(frame, head, sizeof(head));
    const struct kafka_message_desc *m = kafka_message_find(KAFKA_API_PRODUCE);
    struct arena arena;
    arena_init(&arena);
    void *body = arena_alloc(&arena, m->request->size);
    size_t before = arena.used_bytes;
    struct kafka_reader r;
    kafka_reader_init(&r, frame, sizeof(frame));
    ck_assert_int_ne(kafka_decode(m->request, 3, false, &r, &arena, body), 0);
    ck_assert_uint_eq(arena.used_bytes, before);
    /* 25 of them fit (all empty names and no partitions). */
    frame[11] = 25;
    kafka_reader_init(&r, frame, 12 + 25 * 6);
    ck_assert_int_eq(kafka_decode(m->request, 3, false, &r, &arena, body), 0);
    ck_assert_uint_le(arena.used_bytes - before,
                      (size_t)LIMIT_DECODE_BYTES_PER_FRAME_BYTE * (12 + 25 * 6));
    arena_free(&arena);
}
END_TEST

Suite *suite_codec(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_message_every_version_round_trips);
    tcase_add_test(tc, api_versions_v0_response_bytes);
    tcase_add_test(tc, api_versions_v3_response_has_v0_header);
    tcase_add_test(tc, librdkafka_api_versions_v3_request);
    tcase_add_test(tc, kafka_python_api_versions_v0_request);
    tcase_add_test(tc, metadata_topics_null_versus_empty);
    tcase_add_test(tc, tagged_fields_written_and_skipped);
    tcase_add_test(tc, hostile_array_counts_are_refused_before_allocating);
    tcase_add_test(tc, decoding_allocates_in_proportion_to_the_frame);
    suite_add_tcase(s, tc);
    return s;
}
