#include "proto/kafka_codec.h"

#include <string.h>

#include "common/limits.h"
#include "common/rill_error.h"

static inline bool codec_in(int16_t version, int16_t lo, int16_t hi)
{
    return lo >= 0 && version >= lo && version <= hi;
}

static inline void *codec_at(void *base, const struct kafka_field_desc *f)
{
    return (char *)base + f->offset;
}

static inline const void *codec_cat(const void *base, const struct kafka_field_desc *f)
{
    return (const char *)base + f->offset;
}

/* ---- defaults --------------------------------------------------------- */

static void codec_set_int(void *p, enum kafka_type type, int64_t v)
{
    switch (type) {
    case KT_BOOL: {
        bool b = v != 0;
        memcpy(p, &b, sizeof(b));
        break;
    }
    case KT_INT8: {
        int8_t x = (int8_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case KT_INT16: {
        int16_t x = (int16_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case KT_UINT16: {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case KT_INT32: {
        int32_t x = (int32_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case KT_UINT32: {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case KT_INT64:
        memcpy(p, &v, sizeof(v));
        break;
    default:
        break;
    }
}

static int64_t codec_get_int(const void *p, enum kafka_type type)
{
    switch (type) {
    case KT_BOOL: {
        bool b;
        memcpy(&b, p, sizeof(b));
        return b;
    }
    case KT_INT8: {
        int8_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case KT_INT16: {
        int16_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case KT_UINT16: {
        uint16_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case KT_INT32: {
        int32_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case KT_UINT32: {
        uint32_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case KT_INT64: {
        int64_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    default:
        return 0;
    }
}

static void codec_field_default(const struct kafka_field_desc *f, void *out)
{
    void *p = codec_at(out, f);
    switch (f->type) {
    case KT_STRING: {
        struct kafka_str s = {"", f->def_null ? -1 : 0};
        if (f->def_null)
            s.ptr = NULL;
        memcpy(p, &s, sizeof(s));
        break;
    }
    case KT_BYTES: {
        struct kafka_bytes b = {NULL, f->def_null ? -1 : 0};
        memcpy(p, &b, sizeof(b));
        break;
    }
    case KT_RECORDS: {
        struct kafka_records rec = {NULL, f->def_null ? -1 : 0, NULL};
        memcpy(p, &rec, sizeof(rec));
        break;
    }
    case KT_ARRAY: {
        struct kafka_array_any a = {f->def_null ? -1 : 0, NULL};
        memcpy(p, &a, sizeof(a));
        break;
    }
    case KT_STRUCT:
        kafka_set_defaults(f->child, p);
        break;
    case KT_UUID:
        memset(p, 0, sizeof(struct kafka_uuid));
        break;
    case KT_FLOAT64: {
        double d = 0;
        memcpy(p, &d, sizeof(d));
        break;
    }
    default:
        codec_set_int(p, f->type, f->def_int);
        break;
    }
}

void kafka_set_defaults(const struct kafka_struct_desc *desc, void *out)
{
    for (uint16_t i = 0; i < desc->nfields; i++)
        codec_field_default(&desc->fields[i], out);
}

void *kafka_alloc_items(struct arena *arena, const struct kafka_struct_desc *child, int32_t count)
{
    if (count <= 0)
        return NULL;
    char *items = arena_alloc(arena, (size_t)count * child->size);
    if (items == NULL)
        return NULL;
    for (int32_t i = 0; i < count; i++)
        kafka_set_defaults(child, items + (size_t)i * child->size);
    return items;
}

/* ---- decoding --------------------------------------------------------- */

static int codec_decode_struct(const struct kafka_struct_desc *desc, int16_t version,
                               bool flexible, struct kafka_reader *r, struct arena *arena,
                               void *out, int depth);

static size_t codec_elem_size(enum kafka_type type, const struct kafka_struct_desc *child)
{
    switch (type) {
    case KT_BOOL:
    case KT_INT8:
        return 1;
    case KT_INT16:
    case KT_UINT16:
        return 2;
    case KT_INT32:
    case KT_UINT32:
        return 4;
    case KT_INT64:
    case KT_FLOAT64:
        return 8;
    case KT_UUID:
        return sizeof(struct kafka_uuid);
    case KT_STRING:
        return sizeof(struct kafka_str);
    case KT_STRUCT:
        return child->size;
    default:
        return 0;
    }
}

static size_t codec_struct_min_wire(const struct kafka_struct_desc *desc, int16_t version,
                                    bool flexible, int depth);

/* The fewest wire bytes a value of this type can take in this version: an
 * array count is checked against it, so that decoding allocates in
 * proportion to the bytes really present. */
static size_t codec_min_wire(enum kafka_type type, const struct kafka_struct_desc *child,
                             int16_t version, bool flexible, int depth)
{
    switch (type) {
    case KT_STRING:
        return flexible ? 1 : 2;
    case KT_BYTES:
    case KT_RECORDS:
    case KT_ARRAY:
        return flexible ? 1 : 4;
    case KT_STRUCT:
        return codec_struct_min_wire(child, version, flexible, depth + 1);
    default:
        return codec_elem_size(type, NULL);
    }
}

static size_t codec_struct_min_wire(const struct kafka_struct_desc *desc, int16_t version,
                                    bool flexible, int depth)
{
    if (depth > LIMIT_SCHEMA_DEPTH)
        return 1;
    size_t n = flexible ? 1 : 0; /* the tag section's count */
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        if (!codec_in(version, f->ver_min, f->ver_max) ||
            (flexible && f->tag >= 0 && codec_in(version, f->tag_min, f->tag_max)))
            continue;
        n += codec_min_wire(f->type, f->child, version, flexible, depth);
    }
    return n;
}

size_t kafka_elem_c_size(const struct kafka_field_desc *array)
{
    return codec_elem_size(array->elem_type, array->child);
}

size_t kafka_min_wire_bytes(const struct kafka_field_desc *array, int16_t version, bool flexible)
{
    size_t n = codec_min_wire(array->elem_type, array->child, version, flexible, 0);
    return n > 0 ? n : 1;
}

static int codec_decode_value(const struct kafka_field_desc *f, enum kafka_type type,
                              int16_t version, bool flexible, bool nullable,
                              struct kafka_reader *r, struct arena *arena, void *p, int depth)
{
    switch (type) {
    case KT_BOOL:
        codec_set_int(p, type, kafka_read_i8(r) != 0);
        break;
    case KT_INT8:
        codec_set_int(p, type, kafka_read_i8(r));
        break;
    case KT_INT16:
        codec_set_int(p, type, kafka_read_i16(r));
        break;
    case KT_UINT16:
        codec_set_int(p, type, (uint16_t)kafka_read_i16(r));
        break;
    case KT_INT32:
        codec_set_int(p, type, kafka_read_i32(r));
        break;
    case KT_UINT32:
        codec_set_int(p, type, kafka_read_u32(r));
        break;
    case KT_INT64:
        codec_set_int(p, type, kafka_read_i64(r));
        break;
    case KT_FLOAT64: {
        double d = kafka_read_f64(r);
        memcpy(p, &d, sizeof(d));
        break;
    }
    case KT_UUID:
        kafka_read_uuid(r, p);
        break;
    case KT_STRING: {
        struct kafka_str s = kafka_read_str(r, flexible, nullable);
        memcpy(p, &s, sizeof(s));
        break;
    }
    case KT_BYTES: {
        struct kafka_bytes b = kafka_read_bytes(r, flexible, nullable);
        memcpy(p, &b, sizeof(b));
        break;
    }
    case KT_RECORDS: {
        struct kafka_bytes b = kafka_read_bytes(r, flexible, nullable);
        struct kafka_records rec = {b.ptr, b.len, NULL};
        memcpy(p, &rec, sizeof(rec));
        break;
    }
    case KT_STRUCT:
        return codec_decode_struct(f->child, version, flexible, r, arena, p, depth + 1);
    case KT_ARRAY: {
        int32_t n = kafka_read_array_len(r, flexible, nullable,
                                         kafka_min_wire_bytes(f, version, flexible));
        if (r->err)
            return RILL_ERR_PARSE;
        struct kafka_array_any a = {n, NULL};
        if (n > 0) {
            size_t esize = codec_elem_size(f->elem_type, f->child);
            a.items = arena_alloc(arena, (size_t)n * esize);
            if (a.items == NULL)
                return RILL_ERR_NOMEM;
            for (int32_t i = 0; i < n; i++) {
                int rc = codec_decode_value(f, f->elem_type, version, flexible, false, r, arena,
                                            (char *)a.items + (size_t)i * esize, depth);
                if (rc != 0)
                    return rc;
            }
        }
        memcpy(p, &a, sizeof(a));
        break;
    }
    default:
        kafka_reader_fail(r);
        break;
    }
    return r->err ? RILL_ERR_PARSE : RILL_OK;
}

static const struct kafka_field_desc *codec_find_tag(const struct kafka_struct_desc *desc,
                                                     int16_t version, uint32_t tag)
{
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        if (f->tag >= 0 && (uint32_t)f->tag == tag && codec_in(version, f->tag_min, f->tag_max))
            return f;
    }
    return NULL;
}

static int codec_decode_struct(const struct kafka_struct_desc *desc, int16_t version,
                               bool flexible, struct kafka_reader *r, struct arena *arena,
                               void *out, int depth)
{
    if (depth > LIMIT_SCHEMA_DEPTH)
        return RILL_ERR_PARSE;
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        bool present = codec_in(version, f->ver_min, f->ver_max);
        bool tagged = flexible && f->tag >= 0 && codec_in(version, f->tag_min, f->tag_max);
        if (!present || tagged) {
            codec_field_default(f, out);
            continue;
        }
        bool nullable = codec_in(version, f->null_min, f->null_max);
        int rc = codec_decode_value(f, f->type, version, flexible, nullable, r, arena,
                                    codec_at(out, f), depth);
        if (rc != 0)
            return rc;
    }
    if (!flexible)
        return RILL_OK;

    uint32_t ntags = kafka_read_uvarint(r);
    int64_t last_tag = -1;
    for (uint32_t t = 0; t < ntags && !r->err; t++) {
        uint32_t tag = kafka_read_uvarint(r);
        uint32_t size = kafka_read_uvarint(r);
        if (r->err)
            break;
        if ((int64_t)tag <= last_tag) /* tags must be strictly ascending */
            return RILL_ERR_PARSE;
        last_tag = tag;
        const uint8_t *body = kafka_read_raw(r, size);
        if (body == NULL)
            break;
        const struct kafka_field_desc *f = codec_find_tag(desc, version, tag);
        if (f == NULL)
            continue; /* unknown tags are skipped */
        struct kafka_reader sub;
        kafka_reader_init(&sub, body, size);
        bool nullable = codec_in(version, f->null_min, f->null_max);
        int rc = codec_decode_value(f, f->type, version, true, nullable, &sub, arena,
                                    codec_at(out, f), depth);
        if (rc != 0)
            return rc;
    }
    return r->err ? RILL_ERR_PARSE : RILL_OK;
}

int kafka_decode(const struct kafka_struct_desc *desc, int16_t version, bool flexible,
                 struct kafka_reader *r, struct arena *arena, void *out)
{
    return codec_decode_struct(desc, version, flexible, r, arena, out, 0);
}

/* ---- encoding --------------------------------------------------------- */

static void codec_encode_struct(const struct kafka_struct_desc *desc, int16_t version,
                                bool flexible, const void *in, struct kafka_writer *w);

static void codec_encode_value(const struct kafka_field_desc *f, enum kafka_type type,
                               int16_t version, bool flexible, bool nullable, const void *p,
                               struct kafka_writer *w)
{
    switch (type) {
    case KT_BOOL:
    case KT_INT8:
        kafka_write_i8(w, (int8_t)codec_get_int(p, type));
        break;
    case KT_INT16:
    case KT_UINT16:
        kafka_write_i16(w, (int16_t)codec_get_int(p, type));
        break;
    case KT_INT32:
    case KT_UINT32:
        kafka_write_i32(w, (int32_t)codec_get_int(p, type));
        break;
    case KT_INT64:
        kafka_write_i64(w, codec_get_int(p, type));
        break;
    case KT_FLOAT64: {
        double d;
        memcpy(&d, p, sizeof(d));
        kafka_write_f64(w, d);
        break;
    }
    case KT_UUID:
        kafka_write_uuid(w, p);
        break;
    case KT_STRING: {
        struct kafka_str s;
        memcpy(&s, p, sizeof(s));
        if (s.len < 0 && !nullable)
            s = (struct kafka_str){"", 0};
        kafka_write_str(w, s, flexible);
        break;
    }
    case KT_BYTES: {
        struct kafka_bytes b;
        memcpy(&b, p, sizeof(b));
        if (b.len < 0 && !nullable)
            b = (struct kafka_bytes){NULL, 0};
        kafka_write_bytes(w, b, flexible);
        break;
    }
    case KT_RECORDS: {
        struct kafka_records rec;
        memcpy(&rec, p, sizeof(rec));
        if (rec.len < 0 && !nullable)
            rec.len = 0;
        if (flexible)
            kafka_write_uvarint(w, rec.len < 0 ? 0 : (uint32_t)rec.len + 1);
        else
            kafka_write_i32(w, rec.len);
        if (rec.len > 0) {
            if (rec.ext != NULL)
                kafka_writer_splice(w, rec.ext, rec.len);
            else
                kafka_write_raw(w, rec.ptr, (size_t)rec.len);
        }
        break;
    }
    case KT_STRUCT:
        codec_encode_struct(f->child, version, flexible, p, w);
        break;
    case KT_ARRAY: {
        struct kafka_array_any a;
        memcpy(&a, p, sizeof(a));
        if (a.count < 0 && !nullable)
            a.count = 0;
        kafka_write_array_len(w, a.count, flexible);
        size_t esize = codec_elem_size(f->elem_type, f->child);
        for (int32_t i = 0; i < a.count; i++)
            codec_encode_value(f, f->elem_type, version, flexible, false,
                               (const char *)a.items + (size_t)i * esize, w);
        break;
    }
    default:
        break;
    }
}

static bool codec_struct_is_default(const struct kafka_struct_desc *desc, const void *in);

static bool codec_field_is_default(const struct kafka_field_desc *f, const void *in)
{
    const void *p = codec_cat(in, f);
    switch (f->type) {
    case KT_STRING: {
        struct kafka_str s;
        memcpy(&s, p, sizeof(s));
        return f->def_null ? s.len < 0 : s.len == 0;
    }
    case KT_BYTES: {
        struct kafka_bytes b;
        memcpy(&b, p, sizeof(b));
        return f->def_null ? b.len < 0 : b.len == 0;
    }
    case KT_RECORDS: {
        struct kafka_records rec;
        memcpy(&rec, p, sizeof(rec));
        return f->def_null ? rec.len < 0 : rec.len == 0;
    }
    case KT_ARRAY: {
        struct kafka_array_any a;
        memcpy(&a, p, sizeof(a));
        return f->def_null ? a.count < 0 : a.count == 0;
    }
    case KT_STRUCT:
        return codec_struct_is_default(f->child, p);
    case KT_UUID: {
        static const struct kafka_uuid zero;
        return memcmp(p, &zero, sizeof(zero)) == 0;
    }
    case KT_FLOAT64: {
        double d;
        memcpy(&d, p, sizeof(d));
        return d == 0;
    }
    default:
        return codec_get_int(p, f->type) == f->def_int;
    }
}

static bool codec_struct_is_default(const struct kafka_struct_desc *desc, const void *in)
{
    for (uint16_t i = 0; i < desc->nfields; i++)
        if (!codec_field_is_default(&desc->fields[i], in))
            return false;
    return true;
}

static void codec_encode_struct(const struct kafka_struct_desc *desc, int16_t version,
                                bool flexible, const void *in, struct kafka_writer *w)
{
    uint32_t ntags = 0;
    for (uint16_t i = 0; i < desc->nfields; i++) {
        const struct kafka_field_desc *f = &desc->fields[i];
        if (!codec_in(version, f->ver_min, f->ver_max))
            continue;
        if (flexible && f->tag >= 0 && codec_in(version, f->tag_min, f->tag_max)) {
            if (!codec_field_is_default(f, in))
                ntags++;
            continue;
        }
        bool nullable = codec_in(version, f->null_min, f->null_max);
        codec_encode_value(f, f->type, version, flexible, nullable, codec_cat(in, f), w);
    }
    if (!flexible)
        return;
    kafka_write_uvarint(w, ntags);
    if (ntags == 0)
        return;
    /* Tagged fields go in ascending tag order, each prefixed by its size. */
    for (int32_t tag = 0; ntags > 0 && tag <= 0x7fff; tag++) {
        const struct kafka_field_desc *f = codec_find_tag(desc, version, (uint32_t)tag);
        if (f == NULL || codec_field_is_default(f, in))
            continue;
        struct kafka_writer tmp;
        kafka_writer_init(&tmp);
        bool nullable = codec_in(version, f->null_min, f->null_max);
        codec_encode_value(f, f->type, version, true, nullable, codec_cat(in, f), &tmp);
        if (tmp.err || tmp.nsplices > 0) /* tagged records are never spliced */
            w->err = 1;
        kafka_write_uvarint(w, (uint32_t)tag);
        kafka_write_uvarint(w, (uint32_t)tmp.len);
        kafka_write_raw(w, tmp.buf, tmp.len);
        kafka_writer_free(&tmp);
        ntags--;
    }
}

int kafka_encode(const struct kafka_struct_desc *desc, int16_t version, bool flexible,
                 const void *in, struct kafka_writer *w)
{
    codec_encode_struct(desc, version, flexible, in, w);
    return w->err ? RILL_ERR_NOMEM : RILL_OK;
}

/* ---- headers ---------------------------------------------------------- */

const struct kafka_message_desc *kafka_message_find(int16_t api_key)
{
    for (size_t i = 0; i < kafka_messages_count; i++)
        if (kafka_messages[i].api_key == api_key)
            return &kafka_messages[i];
    return NULL;
}

int kafka_request_header_version(const struct kafka_message_desc *msg, int16_t api_version)
{
    return api_version >= msg->flexible_min ? 2 : 1;
}

int kafka_decode_request_header_prefix(struct kafka_reader *r, struct kafka_request_header *h)
{
    h->api_key = kafka_read_i16(r);
    h->api_version = kafka_read_i16(r);
    h->correlation_id = kafka_read_i32(r);
    h->client_id = (struct kafka_str){"", 0};
    return r->err ? RILL_ERR_PARSE : RILL_OK;
}

int kafka_decode_request_header_rest(struct kafka_reader *r, int header_version,
                                     struct kafka_request_header *h)
{
    if (header_version >= 1) {
        /* client_id keeps its int16 length even in header v2. */
        h->client_id = kafka_read_str(r, false, true);
        if (h->client_id.len < 0)
            h->client_id = (struct kafka_str){"", 0};
    }
    if (header_version >= 2)
        kafka_skip_tags(r);
    return r->err ? RILL_ERR_PARSE : RILL_OK;
}

void kafka_encode_response_header(struct kafka_writer *w, const struct kafka_message_desc *msg,
                                  int16_t api_version, int32_t correlation_id)
{
    kafka_write_i32(w, correlation_id);
    if (msg->api_key != KAFKA_API_API_VERSIONS && api_version >= msg->flexible_min)
        kafka_write_uvarint(w, 0);
}
