#include "broker/cli_storage.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/config.h"
#include "broker/meta_properties.h"
#include "common/rill_error.h"

extern char **environ;

static int cli_storage_usage(void)
{
    fprintf(stderr,
            "usage: rill storage format -t CLUSTER_ID [--ignore-formatted] [-c FILE] "
            "[--key=value...]\n"
            "       rill storage random-uuid\n"
            "       rill storage info [-c FILE] [--key=value...]\n");
    return 2;
}

/* Loads the broker configuration from args (the subcommand's own options
 * already taken out). */
static int cli_storage_config(struct broker_config *cfg, int argc, char **argv)
{
    char err[512] = "";
    bool wants_exit = false;
    if (config_load(cfg, argc, argv, environ, err, sizeof(err), &wants_exit) != 0) {
        fprintf(stderr, "rill storage: configuration error: %s\n", err);
        return -1;
    }
    return wants_exit ? -1 : 0;
}

/* mkdir -p for one log directory. */
static int cli_storage_mkdirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int cli_storage_format(int argc, char **argv)
{
    const char *cluster_id = NULL;
    bool ignore_formatted = false;
    char *rest[256];
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--cluster-id") == 0) &&
            i + 1 < argc)
            cluster_id = argv[++i];
        else if (strncmp(argv[i], "--cluster-id=", 13) == 0)
            cluster_id = argv[i] + 13;
        else if (strcmp(argv[i], "--ignore-formatted") == 0 || strcmp(argv[i], "-g") == 0)
            ignore_formatted = true;
        else if (nrest < (int)(sizeof(rest) / sizeof(rest[0])) - 1)
            rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    if (cluster_id == NULL)
        return cli_storage_usage();
    if (meta_properties_check_cluster_id(cluster_id) != 0) {
        fprintf(stderr, "rill storage: cluster id '%s' is not 1 to 63 characters of "
                        "[A-Za-z0-9_-]\n", cluster_id);
        return 1;
    }
    struct broker_config cfg;
    if (cli_storage_config(&cfg, nrest, rest) != 0) {
        config_free(&cfg);
        return 2;
    }
    if (cfg.cluster_id != NULL && strcmp(cfg.cluster_id, cluster_id) != 0) {
        fprintf(stderr, "rill storage: -t %s contradicts cluster.id %s of the configuration\n",
                cluster_id, cfg.cluster_id);
        config_free(&cfg);
        return 1;
    }
    int status = 0;
    for (size_t d = 0; d < cfg.log_dir_count && status == 0; d++) {
        const char *dir = cfg.log_dir_list[d];
        struct meta_properties mp;
        char err[256] = "";
        int found = meta_properties_read(dir, &mp, err, sizeof(err));
        if (found < 0) {
            fprintf(stderr, "rill storage: %s\n", err);
            status = 1;
        } else if (found && (!ignore_formatted || strcmp(mp.cluster_id, cluster_id) != 0 ||
                             mp.node_id != cfg.node_id)) {
            fprintf(stderr, "rill storage: log directory %s is already formatted (cluster %s, "
                            "node %d)%s\n",
                    dir, mp.cluster_id, mp.node_id,
                    ignore_formatted ? ", for another cluster or node" : "; use "
                                                                         "--ignore-formatted "
                                                                         "to skip it");
            status = 1;
        } else if (found) {
            printf("%s is already formatted for cluster %s, node %d\n", dir, cluster_id,
                   cfg.node_id);
        } else {
            snprintf(mp.cluster_id, sizeof(mp.cluster_id), "%s", cluster_id);
            mp.node_id = cfg.node_id;
            int rc = cli_storage_mkdirs(dir) != 0 ? RILL_ERR_IO : meta_properties_write(dir, &mp);
            if (rc != 0) {
                fprintf(stderr, "rill storage: cannot format %s: %s\n", dir, rill_strerror(rc));
                status = 1;
            } else {
                printf("Formatting %s with cluster.id %s and node.id %d\n", dir, cluster_id,
                       cfg.node_id);
            }
        }
    }
    config_free(&cfg);
    return status;
}

static int cli_storage_info(int argc, char **argv)
{
    struct broker_config cfg;
    if (cli_storage_config(&cfg, argc, argv) != 0) {
        config_free(&cfg);
        return 2;
    }
    int status = 0;
    for (size_t d = 0; d < cfg.log_dir_count; d++) {
        struct meta_properties mp;
        char err[256] = "";
        int found = meta_properties_read(cfg.log_dir_list[d], &mp, err, sizeof(err));
        if (found < 0) {
            printf("%s: %s\n", cfg.log_dir_list[d], err);
            status = 1;
        } else if (found) {
            printf("%s: cluster.id %s, node.id %d\n", cfg.log_dir_list[d], mp.cluster_id,
                   mp.node_id);
        } else {
            printf("%s: not formatted\n", cfg.log_dir_list[d]);
            status = 1;
        }
    }
    config_free(&cfg);
    return status;
}

int cli_storage_main(int argc, char **argv)
{
    if (argc < 2)
        return cli_storage_usage();
    if (strcmp(argv[1], "format") == 0)
        return cli_storage_format(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cli_storage_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "random-uuid") == 0) {
        char id[64];
        if (meta_properties_new_cluster_id(id, sizeof(id)) != 0)
            return 1;
        printf("%s\n", id);
        return 0;
    }
    return cli_storage_usage();
}
