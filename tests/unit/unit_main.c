#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/unit.h"

char *unit_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/rill-unit-XXXXXX", base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    return strdup(dir);
}

void unit_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *de;
    char child[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            unit_rmtree(child);
        else
            unlink(child);
    }
    closedir(d);
    rmdir(path);
}

int main(void)
{
    log_set_level(LOG_WARN); /* keep recovery chatter out of the test output */
    SRunner *sr = srunner_create(suite_wire());
    srunner_add_suite(sr, suite_crc32c());
    srunner_add_suite(sr, suite_codec());
    srunner_add_suite(sr, suite_record_batch());
    srunner_add_suite(sr, suite_compression());
    srunner_add_suite(sr, suite_storage());
    srunner_add_suite(sr, suite_config());
    srunner_add_suite(sr, suite_metadata());
    srunner_add_suite(sr, suite_producer_state());
    srunner_add_suite(sr, suite_raft());
    srunner_add_suite(sr, suite_quorum());
    srunner_add_suite(sr, suite_controller());
    srunner_add_suite(sr, suite_replica_set());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
