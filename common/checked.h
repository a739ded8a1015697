/* Arithmetic on numbers a client sent: every sum, difference and product
 * that could leave its type's range goes through these helpers, which
 * return false instead of overflowing (signed overflow is undefined in C,
 * and a wrapped timestamp or offset would be stored as if it were real).
 *
 *   int64_t ts;
 *   if (!checked_add_i64(base_timestamp, delta, &ts))
 *       return RB_FAULT_INVALID;
 */
#ifndef RILL_COMMON_CHECKED_H
#define RILL_COMMON_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool checked_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_sub_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

static inline bool checked_add_i32(int32_t a, int32_t b, int32_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
