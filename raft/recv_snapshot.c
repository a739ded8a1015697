/* Snapshot transfer (KIP-630's FetchSnapshot): a follower whose next entry
 * the leader has compacted away downloads the leader's snapshot in chunks,
 * installs it in place of its whole log, and fetches on from there. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "raft/raft_internal.h"

void raft_recv_snapshot_req(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {.type = RAFT_MSG_SNAPSHOT_RESP, .to = m->from, .term = r->term,
                            .leader = r->leader, .snap_index = r->snap.index,
                            .snap_term = r->snap.term, .snap_offset = m->snap_offset};
    if (r->role != RAFT_LEADER) {
        raft_reply_not_leader(r, m);
        return;
    }
    struct raft_progress *p = raft_progress_find(r, m->from, true);
    if (p != NULL) {
        p->last_fetch_tick = r->ticks;
        p->fetched = true;
    }
    resp.leader = r->cfg.id;
    /* Another snapshot than the one asked for (size 0 says so): the
     * follower starts over from a fetch. */
    if (m->snap_index == r->snap.index && m->snap_term == r->snap.term && r->snap.index > 0 &&
        m->snap_offset <= r->snap.len) {
        size_t left = r->snap.len - (size_t)m->snap_offset;
        resp.snap_size = r->snap.len;
        resp.chunk_len = left < r->cfg.max_snapshot_chunk_bytes ? left
                                                                : r->cfg.max_snapshot_chunk_bytes;
        resp.chunk = r->snap.data + m->snap_offset;
    }
    (void)raft_send(r, &resp);
}

static void snapshot_install(struct raft *r)
{
    if (r->dl.index <= r->commit) {
        /* A late fetch answer brought the entries meanwhile: not needed. */
        raft_abort_download(r);
        return;
    }
    raft_log_free(r);
    free(r->snap.data);
    r->snap = (struct raft_snapshot){.index = r->dl.index, .term = r->dl.term,
                                     .data = r->dl.buf, .len = (size_t)r->dl.size};
    r->dl.buf = NULL;
    r->snap_new = true;
    r->commit = r->snap.index;
    r->stable = r->snap.index;
    r->truncate_from = 0; /* the snapshot replaces the driver's whole log */
    memset(&r->dl, 0, sizeof(r->dl));
    r->fetch_inflight = false;
}

void raft_recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER || !r->dl.active)
        return;
    if (r->leader == RAFT_NONE && m->leader == m->from && raft_is_voter(r, m->from))
        r->leader = m->from; /* only the leader serves its snapshot */
    if (m->from != r->leader)
        return;
    raft_heard_from_leader(r);
    if (m->snap_offset != r->dl.offset)
        return; /* a duplicate or an answer to an older request */
    r->dl.inflight = false;
    if (m->snap_index != r->dl.index || m->snap_term != r->dl.term || m->snap_size == 0 ||
        (r->dl.size != 0 && m->snap_size != r->dl.size) || m->snap_size > SIZE_MAX ||
        m->chunk_len > m->snap_size - m->snap_offset || (m->chunk_len == 0 &&
                                                          m->snap_offset < m->snap_size)) {
        /* The leader moved on to a newer snapshot: fetch to learn it. */
        raft_abort_download(r);
        return;
    }
    if (r->dl.buf == NULL) {
        r->dl.size = m->snap_size;
        r->dl.buf = malloc((size_t)m->snap_size);
        if (r->dl.buf == NULL) {
            raft_abort_download(r);
            return;
        }
    }
    memcpy(r->dl.buf + r->dl.offset, m->chunk, m->chunk_len);
    r->dl.offset += m->chunk_len;
    if (r->dl.offset == r->dl.size)
        snapshot_install(r);
}
