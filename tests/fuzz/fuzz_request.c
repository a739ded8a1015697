/* Request frames: the header, then the body of every API and version Rill
 * has a schema for, exactly as the connection decodes them. An input is a
 * frame without its size prefix. When the body decodes, it must have cost
 * at most LIMIT_DECODE_BYTES_PER_FRAME_BYTE arena bytes per frame byte, and
 * encoding it again must give bytes that decode and encode to themselves
 * (the round trip is stable). */
#include <string.h>

#include "common/arena.h"
#include "common/limits.h"
#include "proto/kafka_codec.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_round_trip(const struct kafka_message_desc *msg, int16_t version, bool flexible,
                            const void *body)
{
    struct kafka_writer w1, w2;
    kafka_writer_init(&w1);
    kafka_writer_init(&w2);
    struct arena arena;
    arena_init(&arena);
    FUZZ_CHECK(kafka_encode(msg->request, version, flexible, body, &w1) == 0);
    void *again = arena_alloc(&arena, msg->request->size);
    FUZZ_CHECK(again != NULL);
    struct kafka_reader r;
    kafka_reader_init(&r, w1.buf, w1.len);
    FUZZ_CHECK(kafka_decode(msg->request, version, flexible, &r, &arena, again) == 0);
    FUZZ_CHECK(kafka_reader_left(&r) == 0);
    FUZZ_CHECK(kafka_encode(msg->request, version, flexible, again, &w2) == 0);
    FUZZ_CHECK(w1.len == w2.len && (w1.len == 0 || memcmp(w1.buf, w2.buf, w1.len) == 0));
    arena_free(&arena);
    kafka_writer_free(&w1);
    kafka_writer_free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kafka_reader r;
    kafka_reader_init(&r, data, size);
    struct kafka_request_header h;
    if (kafka_decode_request_header_prefix(&r, &h) != 0)
        return 0;
    const struct kafka_message_desc *msg = kafka_message_find(h.api_key);
    if (msg == NULL || h.api_version < msg->valid_min || h.api_version > msg->valid_max)
        return 0;
    if (kafka_decode_request_header_rest(&r, kafka_request_header_version(msg, h.api_version),
                                         &h) != 0)
        return 0;
    FUZZ_CHECK(h.client_id.len >= 0 && (size_t)h.client_id.len <= size);
    bool flexible = kafka_is_flexible(msg, h.api_version);
    struct arena arena;
    arena_init(&arena);
    void *body = arena_alloc(&arena, msg->request->size);
    FUZZ_CHECK(body != NULL);
    size_t before = arena.used_bytes;
    if (kafka_decode(msg->request, h.api_version, flexible, &r, &arena, body) == 0) {
        FUZZ_CHECK(arena.used_bytes - before <= (size_t)LIMIT_DECODE_BYTES_PER_FRAME_BYTE * size);
        fuzz_round_trip(msg, h.api_version, flexible, body);
    }
    arena_free(&arena);
    return 0;
}
