/* Random bytes from the kernel (getrandom), for ids: member ids, topic ids,
 * cluster ids. No seeded generator here: simulations bring their own. */
#ifndef RILL_COMMON_RANDOM_H
#define RILL_COMMON_RANDOM_H

#include <stddef.h>

/* Fills buf with n random bytes. Returns 0 or RILL_ERR_IO. */
int random_bytes(void *buf, size_t n);

#endif
