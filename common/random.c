#include "common/random.h"

#include <errno.h>
#include <sys/random.h>

#include "common/rill_error.h"

int random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return RILL_ERR_IO;
        }
        p += got;
        n -= (size_t)got;
    }
    return RILL_OK;
}
