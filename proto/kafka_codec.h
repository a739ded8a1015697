/* The one engine that decodes and encodes every Kafka message.
 *
 * It walks a kafka_struct_desc (generated from Kafka's schemas) and moves
 * each field present in the given version between the wire and the C
 * struct: classic encoding below the API's first flexible version, compact
 * strings/arrays and tagged-field sections from it on. Fields absent from a
 * version are set to their schema default on decode and skipped on encode.
 *
 * Decoding never trusts a length: every prefix is checked against the bytes
 * that remain, arrays are bounded by LIMIT_ARRAY_ELEMENTS and by the input
 * left, unknown tags are skipped by size. */
#ifndef RILL_PROTO_KAFKA_CODEC_H
#define RILL_PROTO_KAFKA_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "proto/kafka_messages.h"
#include "proto/kafka_schema.h"
#include "proto/kafka_wire.h"

/* Decodes one struct of the given version from r into out (desc->size
 * bytes, owned by the caller). Arrays are allocated in arena; strings and
 * bytes point into r's buffer. Returns 0, or RILL_ERR_PARSE when the input
 * is malformed or truncated, RILL_ERR_NOMEM when the arena is exhausted. */
int kafka_decode(const struct kafka_struct_desc *desc, int16_t version, bool flexible,
                 struct kafka_reader *r, struct arena *arena, void *out);

/* Encodes in (a desc struct) at the given version, appending to w.
 * Returns 0 or RILL_ERR_NOMEM. */
int kafka_encode(const struct kafka_struct_desc *desc, int16_t version, bool flexible,
                 const void *in, struct kafka_writer *w);

/* The C size of one element of the array field (0 for element types the
 * codec has no arrays of). */
size_t kafka_elem_c_size(const struct kafka_field_desc *array);

/* The fewest bytes one element of the array field can take on the wire in
 * this version (at least 1). Decoding refuses a count that the bytes left
 * could not hold, so what it allocates for an array is at most its
 * element's C size over this, times the frame's length. */
size_t kafka_min_wire_bytes(const struct kafka_field_desc *array, int16_t version, bool flexible);

/* Sets every field of out (desc->size bytes) to its schema default: -1 for
 * fields whose default is -1, null for nullable strings defaulting to null,
 * empty arrays, zero UUIDs. */
void kafka_set_defaults(const struct kafka_struct_desc *desc, void *out);

/* Allocates count elements of child from arena, each set to its defaults.
 * Returns NULL when out of memory (or count is 0: then no allocation). */
void *kafka_alloc_items(struct arena *arena, const struct kafka_struct_desc *child,
                        int32_t count);

/* True when version is a flexible version of msg. */
static inline bool kafka_is_flexible(const struct kafka_message_desc *msg, int16_t version)
{
    return version >= msg->flexible_min;
}

/* ---- headers ---------------------------------------------------------- */

struct kafka_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct kafka_str client_id; /* null is reported as an empty string */
};

/* Header version for a request: 2 from the API's first flexible version,
 * else 1. ApiVersions follows the same rule even for versions above the
 * schema's range (KIP-511), so a v5+ request still has its tag section. */
int kafka_request_header_version(const struct kafka_message_desc *msg, int16_t api_version);

/* Reads api_key, api_version and correlation_id only (the part of a header
 * that is the same in every version). Returns 0 or RILL_ERR_PARSE. */
int kafka_decode_request_header_prefix(struct kafka_reader *r, struct kafka_request_header *h);

/* Reads the rest of a header of the given version (client_id, tags). */
int kafka_decode_request_header_rest(struct kafka_reader *r, int header_version,
                                     struct kafka_request_header *h);

/* Writes a response header. ApiVersions always uses v0 (no tag section),
 * whatever its body version. */
void kafka_encode_response_header(struct kafka_writer *w, const struct kafka_message_desc *msg,
                                  int16_t api_version, int32_t correlation_id);

#endif
