/* The node's log in memory: the snapshot point (index, term), then the
 * entries after it, contiguous, terms never decreasing. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/rill_error.h"
#include "raft/raft_internal.h"

uint64_t raft_last_index(const struct raft *r)
{
    return r->snap.index + r->nlog;
}

uint64_t raft_last_term(const struct raft *r)
{
    return r->nlog > 0 ? r->log[r->nlog - 1].term : r->snap.term;
}

bool raft_term_at(const struct raft *r, uint64_t index, uint64_t *term)
{
    if (index == r->snap.index) {
        *term = r->snap.term;
        return true;
    }
    if (index < r->snap.index || index > raft_last_index(r))
        return false;
    *term = r->log[index - r->snap.index - 1].term;
    return true;
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
    if (index <= r->snap.index || index > raft_last_index(r))
        return NULL;
    return &r->log[index - r->snap.index - 1];
}

int raft_log_append(struct raft *r, const struct raft_entry *e)
{
    ASSERT(e->index == raft_last_index(r) + 1);
    ASSERT(e->term >= raft_last_term(r));
    if (r->nlog == r->caplog) {
        size_t cap = r->caplog ? r->caplog * 2 : 64;
        struct raft_entry *log = realloc(r->log, cap * sizeof(*log));
        if (log == NULL)
            return RILL_ERR_NOMEM;
        r->log = log;
        r->caplog = cap;
    }
    struct raft_entry copy = *e;
    copy.data = NULL;
    if (e->len > 0) {
        copy.data = malloc(e->len);
        if (copy.data == NULL)
            return RILL_ERR_NOMEM;
        memcpy(copy.data, e->data, e->len);
    }
    r->log[r->nlog++] = copy;
    return RILL_OK;
}

void raft_log_truncate(struct raft *r, uint64_t index)
{
    /* Committed entries are in every later leader's log (leader
     * completeness); removing one would lose an acknowledged write. */
    ASSERT(index > r->commit);
    ASSERT(index > r->snap.index);
    while (raft_last_index(r) >= index) {
        r->nlog--;
        free(r->log[r->nlog].data);
    }
    if (index <= r->stable) {
        r->stable = index - 1;
        if (r->truncate_from == 0 || index < r->truncate_from)
            r->truncate_from = index;
    }
}

void raft_log_drop_through(struct raft *r, uint64_t index)
{
    size_t drop = 0;
    while (drop < r->nlog && r->log[drop].index <= index) {
        free(r->log[drop].data);
        drop++;
    }
    memmove(r->log, r->log + drop, (r->nlog - drop) * sizeof(*r->log));
    r->nlog -= drop;
}

void raft_log_free(struct raft *r)
{
    for (size_t i = 0; i < r->nlog; i++)
        free(r->log[i].data);
    free(r->log);
    r->log = NULL;
    r->nlog = r->caplog = 0;
}

bool raft_log_last_with_term_at_most(const struct raft *r, uint64_t term, uint64_t below,
                                     uint64_t *index, uint64_t *found_term)
{
    uint64_t i = below < raft_last_index(r) ? below : raft_last_index(r);
    while (i > r->snap.index) {
        uint64_t t = r->log[i - r->snap.index - 1].term;
        if (t <= term) {
            *index = i;
            *found_term = t;
            return true;
        }
        i--;
    }
    if (r->snap.term <= term) {
        *index = r->snap.index;
        *found_term = r->snap.term;
        return true;
    }
    return false;
}
