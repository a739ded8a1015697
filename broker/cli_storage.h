/* The `rill storage` subcommand (broker/cli_storage.c), after Kafka's
 * kafka-storage.sh: `format -t CLUSTER_ID [--ignore-formatted] CONFIG...`
 * formats every log directory for a cluster and node, `random-uuid`
 * prints a new cluster id, `info CONFIG...` shows what each log directory
 * belongs to. CONFIG is the broker's own: a properties file (-c FILE) and
 * --key=value flags. */
#ifndef RILL_BROKER_CLI_STORAGE_H
#define RILL_BROKER_CLI_STORAGE_H

/* argv[0] is "storage". Returns the process exit status. */
int cli_storage_main(int argc, char **argv);

#endif
