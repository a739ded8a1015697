/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c), one per decoder
 * that reads bytes a client or a disk sent: each harness's
 * LLVMFuzzerTestOneInput must never crash, leak or trip a sanitizer, and
 * checks with FUZZ_CHECK what must hold for every input (round trips stay
 * stable, limits are never passed). scripts/fuzz builds and runs them. */
#ifndef RILL_TESTS_FUZZ_H
#define RILL_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that every input must satisfy; aborts (a finding) if not. */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz check failed: %s at %s:%d\n", #cond,        \
                    __FILE__, __LINE__);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
