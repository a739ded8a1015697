#include "broker/group_coordinator.h"

#include <stdlib.h>

#include "common/rill_error.h"

struct group_coordinator {
    struct broker *broker;
};

int group_coordinator_create(struct broker *b, struct group_coordinator **out)
{
    struct group_coordinator *gc = calloc(1, sizeof(*gc));
    if (gc == NULL)
        return RILL_ERR_NOMEM;
    gc->broker = b;
    *out = gc;
    return RILL_OK;
}

void group_coordinator_free(struct group_coordinator *gc)
{
    free(gc);
}

void group_coordinator_tick(struct group_coordinator *gc, int64_t now_ms)
{
    (void)gc;
    (void)now_ms;
}
