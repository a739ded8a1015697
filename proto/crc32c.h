/* CRC-32C (Castagnoli), the checksum of Kafka record batches (magic 2).
 * Uses the SSE4.2 CRC32 instruction when the CPU has it, a table otherwise;
 * both give the same result (tests compare them). */
#ifndef RILL_PROTO_CRC32C_H
#define RILL_PROTO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over len bytes. crc32c_extend(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);

/* The table implementation, exposed so tests can check it against the
 * hardware path. */
uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t len);

static inline uint32_t crc32c(const void *data, size_t len)
{
    return crc32c_extend(0, data, len);
}

#endif
