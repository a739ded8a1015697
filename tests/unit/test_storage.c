/* Partition logs on real files and a real RocksDB index: append, read,
 * roll, truncate, retention, time lookup, and recovery after clean stops,
 * kills, torn tails, corruption and a lost index. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rill_error.h"
#include "proto/record_batch.h"
#include "storage/log.h"
#include "storage/partition_meta.h"
#include "storage/store.h"
#include "tests/unit/unit.h"

struct fixture {
    char *dir;
    struct storage_store *store;
    struct storage_log *log;
    struct storage_log_config cfg;
};

static void fx_open_store(struct fixture *fx)
{
    char err[256];
    const char *dirs[] = {fx->dir};
    ck_assert_int_eq(storage_store_open(dirs, 1, &fx->store, err, sizeof(err)), 0);
}

static void fx_open_log(struct fixture *fx)
{
    ck_assert_int_eq(storage_log_open(fx->store, fx->dir, "t-0", NULL, &fx->cfg,
                                       NULL, NULL, &fx->log),
                     0);
}

static void fx_init(struct fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = unit_tempdir();
    fx->cfg = (struct storage_log_config){
        .segment_bytes = 1 << 20, .segment_ms = 0, .retention_ms = -1, .retention_bytes = -1,
        .index_interval_bytes = 512, .flush_policy = FLUSH_ALWAYS,
        .flush_messages = INT64_MAX, .flush_ms = INT64_MAX};
    fx_open_store(fx);
    fx_open_log(fx);
}

static void fx_close(struct fixture *fx)
{
    storage_log_close(fx->log);
    fx->log = NULL;
    storage_store_close(fx->store);
    fx->store = NULL;
}

static void fx_reopen(struct fixture *fx)
{
    fx_close(fx);
    fx_open_store(fx);
    fx_open_log(fx);
}

static void fx_done(struct fixture *fx)
{
    fx_close(fx);
    unit_rmtree(fx->dir);
    free(fx->dir);
}

/* Appends one batch of n records with timestamps ts, ts+1, ...; returns its base. */
static int64_t append(struct fixture *fx, int n, int64_t ts, int value_bytes)
{
    struct kafka_writer recs, batch;
    kafka_writer_init(&recs);
    kafka_writer_init(&batch);
    uint8_t value[4096];
    memset(value, 'x', sizeof(value));
    for (int i = 0; i < n; i++)
        record_write(&recs, i, i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){value, value_bytes});
    ck_assert_int_eq(record_batch_build(&batch, 0, ts, ts + n - 1, n, recs.buf, recs.len), 0);
    struct record_batch_info info;
    ck_assert_int_eq(record_batch_validate(batch.buf, batch.len, &info), RB_OK);
    int64_t base;
    ck_assert_int_eq(storage_log_append(fx->log, batch.buf, batch.len, 0, &info, ts, &base), 0);
    kafka_writer_free(&recs);
    kafka_writer_free(&batch);
    return base;
}

/* Reads at offset and checks the returned bytes are whole, valid batches
 * starting with the one that holds offset. Returns the next offset. */
static int64_t read_check(struct fixture *fx, int64_t offset, size_t max_bytes)
{
    struct storage_read rd;
    ck_assert_int_eq(storage_log_read(fx->log, offset, storage_log_end_offset(fx->log), max_bytes,
                                      &rd),
                     0);
    if (rd.fd < 0)
        return offset;
    uint8_t *buf = malloc((size_t)rd.length);
    ck_assert_int_eq(pread(rd.fd, buf, (size_t)rd.length, rd.position), rd.length);
    close(rd.fd);
    ck_assert_int_le(rd.first_offset, offset);
    int64_t pos = 0, expect = rd.first_offset;
    while (pos < rd.length) {
        int64_t size = record_batch_total_size(buf + pos, (size_t)(rd.length - pos));
        ck_assert_int_gt(size, 0);
        ck_assert_int_le(pos + size, rd.length);
        ck_assert_int_eq(record_batch_check_crc(buf + pos, (size_t)size), RB_OK);
        struct record_batch_header h;
        record_batch_header_read(buf + pos, &h);
        ck_assert_int_eq(h.base_offset, expect);
        expect = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    ck_assert_int_eq(expect, rd.next_offset);
    ck_assert(expect > offset);
    free(buf);
    return expect;
}

/* One batch of n records as a leader would have written it: base offset
 * and leader epoch stamped. Appended to out. */
static void leader_batch(struct kafka_writer *out, int64_t base, int32_t epoch, int n)
{
    struct kafka_writer recs, batch;
    kafka_writer_init(&recs);
    kafka_writer_init(&batch);
    for (int i = 0; i < n; i++)
        record_write(&recs, i, i, (struct kafka_bytes){NULL, -1},
                     (struct kafka_bytes){(const uint8_t *)"replicated", 10});
    ck_assert_int_eq(record_batch_build(&batch, 0, 5000, 5000 + n - 1, n, recs.buf, recs.len), 0);
    record_batch_stamp(batch.buf, base, epoch);
    kafka_write_raw(out, batch.buf, batch.len);
    kafka_writer_free(&recs);
    kafka_writer_free(&batch);
}

START_TEST(follower_append_keeps_offsets_and_epochs)
{
    struct fixture fx;
    fx_init(&fx);
    struct kafka_writer w;
    kafka_writer_init(&w);
    leader_batch(&w, 0, 3, 5);
    leader_batch(&w, 5, 3, 5);
    leader_batch(&w, 10, 4, 2);
    size_t whole = w.len;
    leader_batch(&w, 12, 4, 3);
    /* The fetch's byte limit cut the last batch: it is left out. */
    size_t appended;
    ck_assert_int_eq(storage_log_append_replica(fx.log, w.buf, w.len - 7, 5000, &appended), 0);
    ck_assert_uint_eq(appended, whole);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 12);
    /* The stored batches are the leader's, epochs included. */
    struct storage_read rd;
    ck_assert_int_eq(storage_log_read(fx.log, 0, 12, 1 << 20, &rd), 0);
    uint8_t *buf = malloc((size_t)rd.length);
    ck_assert_int_eq(pread(rd.fd, buf, (size_t)rd.length, rd.position), rd.length);
    close(rd.fd);
    ck_assert_int_eq(rd.length, (int64_t)whole);
    ck_assert_int_eq(memcmp(buf, w.buf, whole), 0);
    free(buf);
    /* A batch that does not start at the log end, or fails its CRC, is
     * refused and nothing of it is appended. */
    struct kafka_writer gap;
    kafka_writer_init(&gap);
    leader_batch(&gap, 13, 4, 1);
    ck_assert_int_eq(storage_log_append_replica(fx.log, gap.buf, gap.len, 5000, &appended),
                     RILL_ERR_INVALID);
    ck_assert_uint_eq(appended, 0);
    gap.len = 0;
    leader_batch(&gap, 12, 4, 3);
    gap.buf[gap.len - 1] ^= 1;
    ck_assert_int_eq(storage_log_append_replica(fx.log, gap.buf, gap.len, 5000, &appended),
                     RILL_ERR_CORRUPT);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 12);
    /* The rest comes with the next fetch, and all of it survives a restart. */
    ck_assert_int_eq(storage_log_append_replica(fx.log, w.buf + whole, w.len - whole, 5000,
                                                &appended),
                     0);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 15);
    fx_reopen(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 15);
    kafka_writer_free(&gap);
    kafka_writer_free(&w);
    fx_done(&fx);
}
END_TEST

/* Appends leader batches of 2 records each, one per epoch in epochs[]. */
static void replicate_epochs(struct fixture *fx, const int32_t *epochs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct kafka_writer w;
        kafka_writer_init(&w);
        leader_batch(&w, storage_log_end_offset(fx->log), epochs[i], 2);
        size_t appended;
        ck_assert_int_eq(storage_log_append_replica(fx->log, w.buf, w.len, 5000, &appended), 0);
        kafka_writer_free(&w);
    }
}

static void check_epoch_end(struct fixture *fx, int32_t epoch, int32_t want_epoch,
                            int64_t want_end)
{
    int32_t e;
    int64_t end;
    storage_log_end_for_epoch(fx->log, epoch, &e, &end);
    ck_assert_int_eq(e, want_epoch);
    ck_assert_int_eq(end, want_end);
}

START_TEST(leader_epoch_history_answers_end_offsets)
{
    struct fixture fx;
    fx_init(&fx);
    /* Epochs 1 (offsets 0-3), 3 (4-7), 4 (8-9). */
    const int32_t epochs[] = {1, 1, 3, 3, 4};
    replicate_epochs(&fx, epochs, 5);
    ck_assert_int_eq(storage_log_latest_epoch(fx.log), 4);
    ck_assert_int_eq(storage_log_epoch_start(fx.log, 3), 4);
    check_epoch_end(&fx, 4, 4, 10);  /* the newest ends at the log end */
    check_epoch_end(&fx, 3, 3, 8);
    check_epoch_end(&fx, 2, 1, 4);   /* unknown here: the last one before it */
    check_epoch_end(&fx, 0, 0, 0);   /* older than anything: where the first began */
    check_epoch_end(&fx, 7, -1, -1); /* newer than anything */
    /* A batch of an older epoch than the last is refused. */
    struct kafka_writer w;
    kafka_writer_init(&w);
    leader_batch(&w, 10, 3, 1);
    size_t appended;
    ck_assert_int_eq(storage_log_append_replica(fx.log, w.buf, w.len, 5000, &appended),
                     RILL_ERR_INVALID);
    kafka_writer_free(&w);
    /* The history survives a restart, and a kill (re-derived from the
     * batches after the recovery checkpoint). */
    fx_reopen(&fx);
    check_epoch_end(&fx, 3, 3, 8);
    check_epoch_end(&fx, 4, 4, 10);
    /* Truncation cuts it at the same place as the log. */
    ck_assert_int_eq(storage_log_truncate(fx.log, 6), 0);
    check_epoch_end(&fx, 3, 3, 6);
    ck_assert_int_eq(storage_log_latest_epoch(fx.log), 3);
    ck_assert_int_eq(storage_log_truncate(fx.log, 4), 0);
    ck_assert_int_eq(storage_log_latest_epoch(fx.log), 1);
    const int32_t later[] = {6};
    replicate_epochs(&fx, later, 1);
    fx_reopen(&fx);
    check_epoch_end(&fx, 1, 1, 4);
    check_epoch_end(&fx, 5, 1, 4);
    check_epoch_end(&fx, 6, 6, 6);
    /* A reset forgets it. */
    ck_assert_int_eq(storage_log_reset(fx.log, 100), 0);
    ck_assert_int_eq(storage_log_latest_epoch(fx.log), -1);
    fx_done(&fx);
}
END_TEST

START_TEST(append_and_read)
{
    struct fixture fx;
    fx_init(&fx);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(append(&fx, 5, 1000 + i * 10, 100), i * 5);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 1000);
    /* Every offset can be read, landing in the batch that holds it. */
    for (int64_t off = 0; off < 1000; off += 7)
        read_check(&fx, off, 1);
    /* Reading everything in pieces visits every batch once. */
    int64_t off = 0;
    while (off < 1000)
        off = read_check(&fx, off, 3000);
    ck_assert_int_eq(off, 1000);
    /* At the end: empty; past the end or before the start: out of range. */
    struct storage_read rd;
    ck_assert_int_eq(storage_log_read(fx.log, 1000, 1000, 100, &rd), 0);
    ck_assert_int_eq(rd.fd, -1);
    ck_assert_int_eq(storage_log_read(fx.log, 1001, 2000, 100, &rd), RILL_ERR_RANGE);
    ck_assert_int_eq(storage_log_read(fx.log, -1, 2000, 100, &rd), RILL_ERR_RANGE);
    /* The max offset (high watermark) bounds what is returned. */
    ck_assert_int_eq(storage_log_read(fx.log, 0, 12, 1 << 20, &rd), 0);
    ck_assert_int_eq(rd.next_offset, 15);
    close(rd.fd);
    fx_done(&fx);
}
END_TEST

START_TEST(segments_roll_by_size_and_reads_cross_them)
{
    struct fixture fx;
    fx_init(&fx);
    storage_log_close(fx.log);
    fx.cfg.segment_bytes = 8192;
    fx_open_log(&fx);
    for (int i = 0; i < 100; i++)
        append(&fx, 4, 1000 + i, 200);
    ck_assert_uint_gt(storage_log_segment_count(fx.log), 5);
    int64_t off = 0;
    while (off < 400)
        off = read_check(&fx, off, 100000);
    ck_assert_int_eq(off, 400);
    /* Reopen: the same segments and offsets. */
    size_t segs = storage_log_segment_count(fx.log);
    fx_reopen(&fx);
    ck_assert_uint_eq(storage_log_segment_count(fx.log), segs);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 400);
    for (int64_t o = 0; o < 400; o += 13)
        read_check(&fx, o, 1);
    ck_assert_int_eq(append(&fx, 1, 5000, 10), 400);
    fx_done(&fx);
}
END_TEST

START_TEST(truncate_to_offset)
{
    struct fixture fx;
    fx_init(&fx);
    storage_log_close(fx.log);
    fx.cfg.segment_bytes = 4096;
    fx_open_log(&fx);
    for (int i = 0; i < 60; i++)
        append(&fx, 10, 1000 + i, 50);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 600);
    /* Inside a batch: the whole batch goes. */
    ck_assert_int_eq(storage_log_truncate(fx.log, 255), 0);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 250);
    read_check(&fx, 249, 1);
    struct storage_read rd;
    ck_assert_int_eq(storage_log_read(fx.log, 251, 1000, 100, &rd), RILL_ERR_RANGE);
    ck_assert_int_eq(append(&fx, 3, 9000, 10), 250);
    storage_store_drain(fx.store);
    fx_reopen(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 253);
    read_check(&fx, 250, 1);
    /* To zero: empty, and appends start over at 0. */
    ck_assert_int_eq(storage_log_truncate(fx.log, 0), 0);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 0);
    ck_assert_int_eq(append(&fx, 1, 1, 1), 0);
    fx_done(&fx);
}
END_TEST

START_TEST(retention_by_bytes_and_time)
{
    struct fixture fx;
    fx_init(&fx);
    storage_log_close(fx.log);
    fx.cfg.segment_bytes = 4096;
    fx.cfg.retention_bytes = 20000;
    fx_open_log(&fx);
    for (int i = 0; i < 100; i++)
        append(&fx, 5, 1000 + i, 100);
    storage_store_drain(fx.store); /* retention never passes what is durable */
    int64_t before = storage_log_size_bytes(fx.log);
    int deleted = storage_log_apply_retention(fx.log, 2000);
    ck_assert_int_gt(deleted, 0);
    ck_assert_int_lt(storage_log_size_bytes(fx.log), before);
    ck_assert_int_ge(storage_log_size_bytes(fx.log), 20000 - 4096);
    int64_t start = storage_log_start_offset(fx.log);
    ck_assert_int_gt(start, 0);
    struct storage_read rd;
    ck_assert_int_eq(storage_log_read(fx.log, start - 1, 1000, 100, &rd), RILL_ERR_RANGE);
    read_check(&fx, start, 1);
    /* The start survives a restart. */
    storage_store_drain(fx.store);
    fx_reopen(&fx);
    ck_assert_int_eq(storage_log_start_offset(fx.log), start);

    /* Time: everything but the active segment is older than 1 ms at t=1e9. */
    storage_log_close(fx.log);
    fx.cfg.retention_bytes = -1;
    fx.cfg.retention_ms = 1;
    fx_open_log(&fx);
    ck_assert_int_gt(storage_log_apply_retention(fx.log, 1000000000), 0);
    ck_assert_uint_eq(storage_log_segment_count(fx.log), 1);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 500);
    fx_done(&fx);
}
END_TEST

START_TEST(offset_for_timestamp)
{
    struct fixture fx;
    fx_init(&fx);
    for (int i = 0; i < 100; i++)
        append(&fx, 10, 10000 + i * 100, 50); /* record j of batch i: 10000+100i+j */
    int64_t off, ts;
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 0, &off, &ts), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 10000 + 4200 + 3, &off, &ts), 0);
    ck_assert_int_eq(off, 423);
    ck_assert_int_eq(ts, 14203);
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 10000 + 4200 + 50, &off, &ts), 0);
    ck_assert_int_eq(off, 430);
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 99999999, &off, &ts),
                     RILL_ERR_NOT_FOUND);
    fx_done(&fx);
}
END_TEST

START_TEST(flush_makes_appends_durable)
{
    struct fixture fx;
    fx_init(&fx);
    append(&fx, 3, 1, 10);
    ck_assert(storage_log_dirty(fx.log));
    ck_assert_int_eq(storage_log_durable_offset(fx.log), 0);
    storage_log_maybe_flush(fx.log, 0);
    storage_store_drain(fx.store);
    ck_assert_int_eq(storage_log_durable_offset(fx.log), 3);
    ck_assert(!storage_log_dirty(fx.log));
    fx_done(&fx);
}
END_TEST

static char *segment_path(struct fixture *fx, int64_t base)
{
    char *p = malloc(4200);
    snprintf(p, 4200, "%s/t-0/%020lld.log", fx->dir, (long long)base);
    return p;
}

/* A child appends without any flush or close and dies as kill -9 would. */
static void killed_writer(struct fixture *fx, int batches, int64_t ts)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct fixture child = *fx;
        child.store = NULL;
        child.log = NULL;
        child.cfg.flush_policy = FLUSH_NEVER;
        fx_open_store(&child);
        fx_open_log(&child);
        for (int i = 0; i < batches; i++)
            append(&child, 5, ts + i, 100);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(recovery_after_kill_keeps_everything_written)
{
    struct fixture fx;
    fx_init(&fx);
    for (int i = 0; i < 10; i++)
        append(&fx, 5, 100 + i, 100);
    fx_close(&fx);
    killed_writer(&fx, 20, 500);
    fx_open_store(&fx);
    fx_open_log(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 150);
    int64_t off = 0;
    while (off < 150)
        off = read_check(&fx, off, 1000);
    int64_t o, ts;
    /* Batch k of the killed writer holds timestamps 500+k .. 504+k. */
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 510, &o, &ts), 0);
    ck_assert_int_eq(o, 84);
    ck_assert_int_eq(ts, 510);
    fx_done(&fx);
}
END_TEST

START_TEST(recovery_cuts_a_torn_tail)
{
    struct fixture fx;
    fx_init(&fx);
    for (int i = 0; i < 10; i++)
        append(&fx, 5, 100 + i, 100);
    fx_close(&fx);
    killed_writer(&fx, 10, 500);
    /* Tear the last batch: drop its final 30 bytes. */
    char *seg = segment_path(&fx, 0);
    struct stat st;
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_eq(truncate(seg, st.st_size - 30), 0);
    fx_open_store(&fx);
    fx_open_log(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 95);
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_eq(st.st_size, storage_log_size_bytes(fx.log));
    read_check(&fx, 94, 1);
    ck_assert_int_eq(append(&fx, 1, 9, 1), 95);
    free(seg);
    fx_done(&fx);
}
END_TEST

START_TEST(recovery_cuts_at_a_corrupt_batch)
{
    struct fixture fx;
    fx_init(&fx);
    for (int i = 0; i < 5; i++)
        append(&fx, 5, 100 + i, 100);
    fx_close(&fx);
    killed_writer(&fx, 10, 500);
    /* Flip a byte inside the records of the 8th batch (offsets 35..39). */
    char *seg = segment_path(&fx, 0);
    int fd = open(seg, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t head[RB_HEADER_BYTES];
    off_t pos = 0;
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(pread(fd, head, sizeof(head), pos), sizeof(head));
        pos += record_batch_total_size(head, sizeof(head));
    }
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, pos + 80), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, pos + 80), 1);
    close(fd);
    fx_open_store(&fx);
    fx_open_log(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 35);
    struct stat st;
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_eq(st.st_size, pos);
    free(seg);
    fx_done(&fx);
}
END_TEST

START_TEST(recovery_rebuilds_a_lost_index)
{
    struct fixture fx;
    fx_init(&fx);
    storage_log_close(fx.log);
    fx.cfg.segment_bytes = 8192;
    fx_open_log(&fx);
    for (int i = 0; i < 80; i++)
        append(&fx, 5, 1000 + i * 10, 100);
    fx_close(&fx);
    char idx[4200];
    snprintf(idx, sizeof(idx), "%s/rill-index", fx.dir);
    unit_rmtree(idx);
    fx_open_store(&fx);
    fx_open_log(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 400);
    for (int64_t o = 0; o < 400; o += 11)
        read_check(&fx, o, 1);
    int64_t off, ts;
    ck_assert_int_eq(storage_log_offset_for_time(fx.log, 1000 + 500 + 2, &off, &ts), 0);
    ck_assert_int_eq(off, 252);
    fx_done(&fx);
}
END_TEST

START_TEST(destroy_removes_files_and_index)
{
    struct fixture fx;
    fx_init(&fx);
    append(&fx, 5, 1, 10);
    ck_assert_int_eq(storage_log_destroy(fx.log), 0);
    fx.log = NULL;
    storage_store_drain(fx.store);
    char path[4200];
    snprintf(path, sizeof(path), "%s/t-0", fx.dir);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
    /* A new log of the same name starts empty. */
    fx_open_log(&fx);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 0);
    fx_done(&fx);
}
END_TEST

START_TEST(topic_id_guards_the_directory)
{
    struct fixture fx;
    fx_init(&fx);
    storage_log_close(fx.log);
    const uint8_t id_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const uint8_t id_b[16] = {0xff, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    /* An existing directory without partition.metadata is adopted. */
    ck_assert_int_eq(storage_log_open(fx.store, fx.dir, "t-0", id_a, &fx.cfg, NULL, NULL,
                                      &fx.log),
                     0);
    append(&fx, 5, 1, 10);
    storage_log_close(fx.log);
    fx.log = NULL;
    /* Another topic of the same name is refused, and nothing is touched. */
    struct storage_log *other = NULL;
    ck_assert_int_eq(storage_log_open(fx.store, fx.dir, "t-0", id_b, &fx.cfg, NULL, NULL,
                                      &other),
                     RILL_ERR_MISMATCH);
    ck_assert_ptr_null(other);
    ck_assert_int_eq(storage_log_open(fx.store, fx.dir, "t-0", id_a, &fx.cfg, NULL, NULL,
                                      &fx.log),
                     0);
    ck_assert_int_eq(storage_log_end_offset(fx.log), 5);
    char path[4200];
    snprintf(path, sizeof(path), "%s/t-0", fx.dir);
    uint8_t got[16];
    ck_assert_int_eq(storage_partition_meta_read(path, got), 0);
    ck_assert_mem_eq(got, id_a, 16);
    fx_done(&fx);
}
END_TEST

START_TEST(topic_id_text_form)
{
    /* Kafka prints ids in URL-safe base64 without padding. */
    uint8_t id[16];
    memset(id, 0xfb, sizeof(id));
    char text[23];
    storage_topic_id_format(id, text);
    ck_assert_str_eq(text, "-_v7-_v7-_v7-_v7-_v7-w");
    uint8_t back[16];
    ck_assert_int_eq(storage_topic_id_parse(text, strlen(text), back), 0);
    ck_assert_mem_eq(back, id, 16);
    /* Non-zero padding bits, a wrong length and a foreign character fail. */
    ck_assert_int_eq(storage_topic_id_parse("-_v7-_v7-_v7-_v7-_v7-x", 22, back), RILL_ERR_PARSE);
    ck_assert_int_eq(storage_topic_id_parse("-_v7-_v7-_v7-_v7-_v7-", 21, back), RILL_ERR_PARSE);
    ck_assert_int_eq(storage_topic_id_parse("-_v7-_v7-_v7-_v7-_v7+w", 22, back), RILL_ERR_PARSE);
}
END_TEST

Suite *suite_storage(void)
{
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("storage");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, append_and_read);
    tcase_add_test(tc, follower_append_keeps_offsets_and_epochs);
    tcase_add_test(tc, leader_epoch_history_answers_end_offsets);
    tcase_add_test(tc, segments_roll_by_size_and_reads_cross_them);
    tcase_add_test(tc, truncate_to_offset);
    tcase_add_test(tc, retention_by_bytes_and_time);
    tcase_add_test(tc, offset_for_timestamp);
    tcase_add_test(tc, flush_makes_appends_durable);
    tcase_add_test(tc, recovery_after_kill_keeps_everything_written);
    tcase_add_test(tc, recovery_cuts_a_torn_tail);
    tcase_add_test(tc, recovery_cuts_at_a_corrupt_batch);
    tcase_add_test(tc, recovery_rebuilds_a_lost_index);
    tcase_add_test(tc, destroy_removes_files_and_index);
    tcase_add_test(tc, topic_id_guards_the_directory);
    tcase_add_test(tc, topic_id_text_form);
    suite_add_tcase(s, tc);
    return s;
}
