/* rill: the broker process. Loads the configuration (file, environment,
 * flags), starts the broker and runs its loop until SIGTERM or SIGINT.
 * `rill quorum status` asks a running node about the metadata quorum;
 * `rill storage` formats data directories (broker/cli_storage.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "broker/broker.h"
#include "broker/cli_quorum.h"
#include "broker/cli_storage.h"
#include "broker/config.h"
#include "common/log.h"

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "quorum") == 0)
        return cli_quorum_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "storage") == 0)
        return cli_storage_main(argc - 1, argv + 1);
    struct broker_config cfg;
    char err[512] = "";
    bool wants_exit = false;
    if (config_load(&cfg, argc, argv, environ, err, sizeof(err), &wants_exit) != 0) {
        fprintf(stderr, "rill: configuration error: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (wants_exit) {
        config_free(&cfg);
        return 0;
    }
    static struct broker broker; /* the one top-level context */
    int rc = broker_start(&broker, &cfg);
    if (rc == 0)
        rc = broker_run(&broker);
    else
        log_error("broker", "start failed");
    int status = rc == 0 ? broker.exit_status : 1;
    broker_free(&broker);
    config_free(&cfg);
    return status;
}
