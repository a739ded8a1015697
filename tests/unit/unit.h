/* The unit test suites (Check), one per module; unit_main.c runs them all. */
#ifndef RILL_TESTS_UNIT_H
#define RILL_TESTS_UNIT_H

#include <check.h>

Suite *suite_wire(void);
Suite *suite_crc32c(void);
Suite *suite_codec(void);
Suite *suite_record_batch(void);
Suite *suite_compression(void);
Suite *suite_storage(void);
Suite *suite_config(void);
Suite *suite_metadata(void);
Suite *suite_producer_state(void);
Suite *suite_raft(void);
Suite *suite_quorum(void);
Suite *suite_controller(void);
Suite *suite_replica_set(void);

/* A fresh empty directory under $TMPDIR for one test; removed by the
 * caller with unit_rmtree. Returns a malloc'd path. */
char *unit_tempdir(void);
void unit_rmtree(const char *path);

#endif
