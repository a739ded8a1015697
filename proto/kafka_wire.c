#include "proto/kafka_wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

/* ---- reading ---------------------------------------------------------- */

static inline const uint8_t *wire_take(struct kafka_reader *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        kafka_reader_fail(r);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

int8_t kafka_read_i8(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t kafka_read_i16(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 2);
    return p ? (int16_t)be16_load(p) : 0;
}

int32_t kafka_read_i32(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 4);
    return p ? (int32_t)be32_load(p) : 0;
}

uint32_t kafka_read_u32(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 4);
    return p ? be32_load(p) : 0;
}

int64_t kafka_read_i64(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 8);
    return p ? (int64_t)be64_load(p) : 0;
}

double kafka_read_f64(struct kafka_reader *r)
{
    const uint8_t *p = wire_take(r, 8);
    if (p == NULL)
        return 0;
    uint64_t bits = be64_load(p);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static uint64_t wire_read_uvarint64(struct kafka_reader *r, unsigned max_bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        const uint8_t *p = wire_take(r, 1);
        if (p == NULL)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
        if ((p[0] & 0x80) == 0)
            return v;
    }
    kafka_reader_fail(r); /* too many continuation bytes */
    return 0;
}

uint32_t kafka_read_uvarint(struct kafka_reader *r)
{
    uint64_t v = wire_read_uvarint64(r, 5);
    if (v > UINT32_MAX) {
        kafka_reader_fail(r);
        return 0;
    }
    return (uint32_t)v;
}

int32_t kafka_read_varint(struct kafka_reader *r)
{
    uint32_t u = kafka_read_uvarint(r);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t kafka_read_varlong(struct kafka_reader *r)
{
    uint64_t u = wire_read_uvarint64(r, 10);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

void kafka_read_uuid(struct kafka_reader *r, struct kafka_uuid *out)
{
    const uint8_t *p = wire_take(r, 16);
    if (p != NULL)
        memcpy(out->bytes, p, 16);
    else
        memset(out->bytes, 0, 16);
}

const uint8_t *kafka_read_raw(struct kafka_reader *r, size_t n)
{
    return wire_take(r, n);
}

/* Reads a length prefix: int16/int32 classic (-1 null) or uvarint N+1
 * compact (0 null). Returns -1 for null, -2 on error. */
static int64_t wire_read_len(struct kafka_reader *r, bool compact, bool wide, bool nullable)
{
    int64_t len;
    if (compact) {
        uint32_t u = kafka_read_uvarint(r);
        len = (int64_t)u - 1;
    } else {
        len = wide ? kafka_read_i32(r) : kafka_read_i16(r);
    }
    if (r->err)
        return -2;
    if (len < -1 || (len == -1 && !nullable)) {
        kafka_reader_fail(r);
        return -2;
    }
    return len;
}

struct kafka_str kafka_read_str(struct kafka_reader *r, bool compact, bool nullable)
{
    struct kafka_str s = {NULL, -1};
    int64_t len = wire_read_len(r, compact, false, nullable);
    if (len < 0)
        return s;
    const uint8_t *p = wire_take(r, (size_t)len);
    if (p == NULL)
        return s;
    s.ptr = (const char *)p;
    s.len = (int32_t)len;
    return s;
}

struct kafka_bytes kafka_read_bytes(struct kafka_reader *r, bool compact, bool nullable)
{
    struct kafka_bytes b = {NULL, -1};
    int64_t len = wire_read_len(r, compact, true, nullable);
    if (len < 0)
        return b;
    const uint8_t *p = wire_take(r, (size_t)len);
    if (p == NULL)
        return b;
    b.ptr = p;
    b.len = (int32_t)len;
    return b;
}

int32_t kafka_read_array_len(struct kafka_reader *r, bool compact, bool nullable,
                             size_t min_elem_bytes)
{
    int64_t n = wire_read_len(r, compact, true, nullable);
    if (n < 0)
        return -1;
    if (n > LIMIT_ARRAY_ELEMENTS ||
        (min_elem_bytes > 0 && (uint64_t)n * min_elem_bytes > kafka_reader_left(r))) {
        kafka_reader_fail(r);
        return -1;
    }
    return (int32_t)n;
}

void kafka_skip_tags(struct kafka_reader *r)
{
    uint32_t count = kafka_read_uvarint(r);
    for (uint32_t i = 0; i < count && !r->err; i++) {
        (void)kafka_read_uvarint(r); /* tag */
        uint32_t size = kafka_read_uvarint(r);
        (void)wire_take(r, size);
    }
}

/* ---- writing ---------------------------------------------------------- */

void kafka_writer_init(struct kafka_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void kafka_writer_free(struct kafka_writer *w)
{
    free(w->buf);
    free(w->splices);
    memset(w, 0, sizeof(*w));
}

uint8_t *kafka_writer_reserve(struct kafka_writer *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->err = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *buf = realloc(w->buf, cap);
        if (buf == NULL) {
            w->err = 1;
            return NULL;
        }
        w->buf = buf;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void kafka_write_raw(struct kafka_writer *w, const void *data, size_t n)
{
    uint8_t *p = kafka_writer_reserve(w, n);
    if (p != NULL && n > 0)
        memcpy(p, data, n);
}

void kafka_write_i8(struct kafka_writer *w, int8_t v)
{
    uint8_t *p = kafka_writer_reserve(w, 1);
    if (p != NULL)
        p[0] = (uint8_t)v;
}

void kafka_write_i16(struct kafka_writer *w, int16_t v)
{
    uint8_t *p = kafka_writer_reserve(w, 2);
    if (p != NULL)
        be16_store(p, (uint16_t)v);
}

void kafka_write_i32(struct kafka_writer *w, int32_t v)
{
    uint8_t *p = kafka_writer_reserve(w, 4);
    if (p != NULL)
        be32_store(p, (uint32_t)v);
}

void kafka_write_u32(struct kafka_writer *w, uint32_t v)
{
    uint8_t *p = kafka_writer_reserve(w, 4);
    if (p != NULL)
        be32_store(p, v);
}

void kafka_write_i64(struct kafka_writer *w, int64_t v)
{
    uint8_t *p = kafka_writer_reserve(w, 8);
    if (p != NULL)
        be64_store(p, (uint64_t)v);
}

void kafka_write_f64(struct kafka_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    kafka_write_i64(w, (int64_t)bits);
}

static void wire_write_uvarint64(struct kafka_writer *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    kafka_write_raw(w, tmp, n);
}

void kafka_write_uvarint(struct kafka_writer *w, uint32_t v)
{
    wire_write_uvarint64(w, v);
}

void kafka_write_varint(struct kafka_writer *w, int32_t v)
{
    wire_write_uvarint64(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void kafka_write_varlong(struct kafka_writer *w, int64_t v)
{
    wire_write_uvarint64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void kafka_write_uuid(struct kafka_writer *w, const struct kafka_uuid *v)
{
    kafka_write_raw(w, v->bytes, 16);
}

void kafka_write_str(struct kafka_writer *w, struct kafka_str s, bool compact)
{
    if (compact) {
        kafka_write_uvarint(w, s.len < 0 ? 0 : (uint32_t)s.len + 1);
    } else {
        kafka_write_i16(w, s.len < 0 ? -1 : (int16_t)s.len);
    }
    if (s.len > 0)
        kafka_write_raw(w, s.ptr, (size_t)s.len);
}

void kafka_write_bytes(struct kafka_writer *w, struct kafka_bytes b, bool compact)
{
    if (compact)
        kafka_write_uvarint(w, b.len < 0 ? 0 : (uint32_t)b.len + 1);
    else
        kafka_write_i32(w, b.len < 0 ? -1 : b.len);
    if (b.len > 0)
        kafka_write_raw(w, b.ptr, (size_t)b.len);
}

void kafka_write_array_len(struct kafka_writer *w, int32_t count, bool compact)
{
    if (compact)
        kafka_write_uvarint(w, count < 0 ? 0 : (uint32_t)count + 1);
    else
        kafka_write_i32(w, count < 0 ? -1 : count);
}

void kafka_writer_splice(struct kafka_writer *w, void *ext, int32_t len)
{
    if (w->err)
        return;
    if (w->nsplices == w->splices_cap) {
        size_t cap = w->splices_cap ? w->splices_cap * 2 : 8;
        struct kafka_splice *s = realloc(w->splices, cap * sizeof(*s));
        if (s == NULL) {
            w->err = 1;
            return;
        }
        w->splices = s;
        w->splices_cap = cap;
    }
    w->splices[w->nsplices++] = (struct kafka_splice){.at = w->len, .ext = ext, .len = len};
}

void kafka_writer_patch_i32(struct kafka_writer *w, size_t pos, int32_t v)
{
    if (w->err || pos + 4 > w->len)
        return;
    be32_store(w->buf + pos, (uint32_t)v);
}

size_t kafka_uvarint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t kafka_varlong_size(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}
