/* The only place Rill reads a clock. Pure modules (raft/, metadata/, the
 * group state machine) take times as arguments instead, so that tests and
 * simulations control time; scripts/check-source fails the build on clock
 * reads anywhere else. */
#ifndef RILL_COMMON_CLOCK_H
#define RILL_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (record timestamps, LogAppendTime). */
int64_t clock_wall_ms(void);

/* Milliseconds on a monotonic clock (timeouts, intervals). */
int64_t clock_mono_ms(void);

/* Nanoseconds on a monotonic clock (benchmarks, latency). */
int64_t clock_mono_ns(void);

#endif
