#include "common/assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void rill_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "rill: assertion failed: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}
