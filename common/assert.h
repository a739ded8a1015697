/* Always-on assertions for what the design forbids.
 *
 * ASSERT is for programmer errors only: an offset that goes backwards on
 * append, a high watermark above the log end, a batch whose CRC fails after
 * the broker itself stamped it. It stays on in release builds (TigerBeetle,
 * SQLite): a broker that continues past a broken invariant corrupts logs
 * that other nodes will copy. Operating errors (bad input, full disk, a
 * peer gone) are return codes, never assertions. */
#ifndef RILL_COMMON_ASSERT_H
#define RILL_COMMON_ASSERT_H

/* Prints "assertion failed: <expr> at <file>:<line>" to stderr and aborts. */
_Noreturn void rill_assert_fail(const char *expr, const char *file, int line);

#define ASSERT(cond)                                                 \
    do {                                                             \
        if (__builtin_expect(!(cond), 0))                            \
            rill_assert_fail(#cond, __FILE__, __LINE__);             \
    } while (0)

#endif
