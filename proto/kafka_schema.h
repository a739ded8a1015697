/* The data that describes Kafka messages, and the C types decoded values
 * take. scripts/gen-kafka-messages writes one kafka_struct_desc per schema
 * struct (proto/kafka_messages.c); proto/kafka_codec.c is the one engine that
 * reads and writes every version of every message from these tables.
 *
 * Decoded strings and byte fields are borrowed views into the request frame:
 * they live as long as the frame. Arrays are allocated from the request's
 * arena. */
#ifndef RILL_PROTO_KAFKA_SCHEMA_H
#define RILL_PROTO_KAFKA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string view; len == -1 means null. Not NUL-terminated. */
struct kafka_str {
    const char *ptr;
    int32_t len;
};

/* A byte view; len == -1 means null. */
struct kafka_bytes {
    const uint8_t *ptr;
    int32_t len;
};

/* Record data. Decoded: a view into the frame (len -1 = null). Encoded:
 * either the bytes at ptr, or, when ext is set, len bytes that the caller
 * splices into the output itself (file ranges sent with sendfile); the codec
 * only writes the length and records where the splice goes. */
struct kafka_records {
    const uint8_t *ptr;
    int32_t len;
    void *ext;
};

struct kafka_uuid {
    uint8_t bytes[16];
};

#define KAFKA_ARRAY(type)  \
    struct {               \
        int32_t count;     \
        type *items;       \
    }

struct kafka_array_i8 { int32_t count; int8_t *items; };
struct kafka_array_i16 { int32_t count; int16_t *items; };
struct kafka_array_i32 { int32_t count; int32_t *items; };
struct kafka_array_i64 { int32_t count; int64_t *items; };
struct kafka_array_uuid { int32_t count; struct kafka_uuid *items; };
struct kafka_array_str { int32_t count; struct kafka_str *items; };

/* Every array type above shares this layout; the codec reaches count and
 * items through it. count == -1 means a null array. */
struct kafka_array_any {
    int32_t count;
    void *items;
};

enum kafka_type {
    KT_NONE,
    KT_BOOL,
    KT_INT8,
    KT_INT16,
    KT_UINT16,
    KT_INT32,
    KT_UINT32,
    KT_INT64,
    KT_FLOAT64,
    KT_UUID,
    KT_STRING,
    KT_BYTES,
    KT_RECORDS,
    KT_STRUCT,
    KT_ARRAY,
};

#define KAFKA_VERSION_MAX 0x7FFF

struct kafka_struct_desc;

struct kafka_field_desc {
    const char *name;
    enum kafka_type type;
    enum kafka_type elem_type; /* for KT_ARRAY */
    uint16_t offset;           /* of the field in its C struct */
    int16_t ver_min, ver_max;  /* versions the field is present in */
    int16_t null_min, null_max;/* versions it may be null in (-1: never) */
    int16_t tag;               /* tagged-field tag, or -1 */
    int16_t tag_min, tag_max;  /* versions in which it is tagged */
    const struct kafka_struct_desc *child; /* struct or array-of-struct */
    int64_t def_int;           /* default of integer and bool fields */
    bool def_null;             /* default of strings, bytes, arrays */
};

struct kafka_struct_desc {
    const char *name;
    uint16_t size;
    uint16_t nfields;
    const struct kafka_field_desc *fields;
};

struct kafka_message_desc {
    int16_t api_key;
    const char *name;
    int16_t valid_min, valid_max; /* versions the schema describes */
    int16_t flexible_min;         /* first flexible version */
    const struct kafka_struct_desc *request;
    const struct kafka_struct_desc *response;
};

extern const struct kafka_message_desc kafka_messages[];
extern const size_t kafka_messages_count;

/* The descriptor for api_key, or NULL if Rill has no schema for it. */
const struct kafka_message_desc *kafka_message_find(int16_t api_key);

static inline bool kafka_str_eq(struct kafka_str s, const char *cstr)
{
    size_t n = 0;
    if (s.len < 0)
        return false;
    while (cstr[n] != '\0')
        n++;
    if ((size_t)s.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s.ptr[i] != cstr[i])
            return false;
    return true;
}

static inline struct kafka_str kafka_str_from(const char *cstr)
{
    struct kafka_str s = {cstr, 0};
    if (cstr == NULL) {
        s.len = -1;
        return s;
    }
    while (cstr[s.len] != '\0')
        s.len++;
    return s;
}

#define KAFKA_STR_NULL ((struct kafka_str){NULL, -1})

#endif
