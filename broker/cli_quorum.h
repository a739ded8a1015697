/* The `rill quorum` subcommand (broker/cli_quorum.c). */
#ifndef RILL_BROKER_CLI_QUORUM_H
#define RILL_BROKER_CLI_QUORUM_H

/* argv[0] is "quorum". Returns the process exit status. */
int cli_quorum_main(int argc, char **argv);

#endif
