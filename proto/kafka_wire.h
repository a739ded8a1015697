/* Kafka's primitive encodings: big-endian integers, zig-zag varints,
 * classic and compact strings, bytes and arrays, tagged-field sections.
 *
 * kafka_reader is a bounds-checked cursor over one frame. Every read checks
 * the remaining length first and never trusts a length prefix: on any
 * violation the reader enters a sticky error state (r->err != 0), further
 * reads return zeros, and the caller checks once at the end (librdkafka's
 * err_parse pattern).
 *
 * kafka_writer appends to a growable buffer. Allocation failure is sticky in
 * the same way (w->err). Records that the caller sends separately (file
 * ranges) are recorded as splices: "insert ext here, at byte at". */
#ifndef RILL_PROTO_KAFKA_WIRE_H
#define RILL_PROTO_KAFKA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka_schema.h"

struct kafka_reader {
    const uint8_t *p;
    const uint8_t *end;
    int err;
};

static inline void kafka_reader_init(struct kafka_reader *r, const void *data, size_t len)
{
    r->p = data;
    r->end = len > 0 ? r->p + len : r->p; /* no arithmetic on a NULL empty view */
    r->err = 0;
}

static inline size_t kafka_reader_left(const struct kafka_reader *r)
{
    return (size_t)(r->end - r->p);
}

int8_t kafka_read_i8(struct kafka_reader *r);
int16_t kafka_read_i16(struct kafka_reader *r);
int32_t kafka_read_i32(struct kafka_reader *r);
int64_t kafka_read_i64(struct kafka_reader *r);
uint32_t kafka_read_u32(struct kafka_reader *r);
double kafka_read_f64(struct kafka_reader *r);
uint32_t kafka_read_uvarint(struct kafka_reader *r);
int32_t kafka_read_varint(struct kafka_reader *r);
int64_t kafka_read_varlong(struct kafka_reader *r);
void kafka_read_uuid(struct kafka_reader *r, struct kafka_uuid *out);
/* Returns a view of n bytes and advances, or NULL (and sets err). */
const uint8_t *kafka_read_raw(struct kafka_reader *r, size_t n);
/* STRING / NULLABLE_STRING (int16 length) or COMPACT forms. */
struct kafka_str kafka_read_str(struct kafka_reader *r, bool compact, bool nullable);
/* BYTES / NULLABLE_BYTES (int32 length) or COMPACT forms. */
struct kafka_bytes kafka_read_bytes(struct kafka_reader *r, bool compact, bool nullable);
/* An array length: int32 (-1 null) or compact uvarint (0 null). Returns -1
 * for null; sets err when negative and not nullable, or when the count
 * exceeds what the remaining bytes could hold at min_elem_bytes each. */
int32_t kafka_read_array_len(struct kafka_reader *r, bool compact, bool nullable,
                             size_t min_elem_bytes);
/* Skips a whole tagged-field section. */
void kafka_skip_tags(struct kafka_reader *r);

static inline void kafka_reader_fail(struct kafka_reader *r)
{
    r->err = 1;
    r->p = r->end;
}

struct kafka_splice {
    size_t at;   /* offset in the writer's buffer where ext's bytes go */
    void *ext;   /* the caller's description of the bytes */
    int32_t len; /* how many bytes */
};

struct kafka_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    struct kafka_splice *splices;
    size_t nsplices;
    size_t splices_cap;
    int err;
};

void kafka_writer_init(struct kafka_writer *w);
void kafka_writer_free(struct kafka_writer *w);
/* Ensures room for n more bytes; returns a pointer to write them at and
 * advances len, or NULL (sticky err) when out of memory. */
uint8_t *kafka_writer_reserve(struct kafka_writer *w, size_t n);

void kafka_write_raw(struct kafka_writer *w, const void *data, size_t n);
void kafka_write_i8(struct kafka_writer *w, int8_t v);
void kafka_write_i16(struct kafka_writer *w, int16_t v);
void kafka_write_i32(struct kafka_writer *w, int32_t v);
void kafka_write_i64(struct kafka_writer *w, int64_t v);
void kafka_write_u32(struct kafka_writer *w, uint32_t v);
void kafka_write_f64(struct kafka_writer *w, double v);
void kafka_write_uvarint(struct kafka_writer *w, uint32_t v);
void kafka_write_varint(struct kafka_writer *w, int32_t v);
void kafka_write_varlong(struct kafka_writer *w, int64_t v);
void kafka_write_uuid(struct kafka_writer *w, const struct kafka_uuid *v);
void kafka_write_str(struct kafka_writer *w, struct kafka_str s, bool compact);
void kafka_write_bytes(struct kafka_writer *w, struct kafka_bytes b, bool compact);
void kafka_write_array_len(struct kafka_writer *w, int32_t count, bool compact);
void kafka_writer_splice(struct kafka_writer *w, void *ext, int32_t len);

/* Overwrites 4 bytes at pos with v (big-endian); pos+4 <= len. */
void kafka_writer_patch_i32(struct kafka_writer *w, size_t pos, int32_t v);

/* Bytes needed to encode v as an unsigned varint (1..5). */
size_t kafka_uvarint_size(uint32_t v);
size_t kafka_varlong_size(int64_t v);

/* Big-endian helpers for fixed layouts (record batch header, index keys). */
static inline uint16_t be16_load(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t be32_load(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64_load(const uint8_t *p)
{
    return (uint64_t)be32_load(p) << 32 | be32_load(p + 4);
}
static inline void be16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void be64_store(uint8_t *p, uint64_t v)
{
    be32_store(p, (uint32_t)(v >> 32));
    be32_store(p + 4, (uint32_t)v);
}

#endif
