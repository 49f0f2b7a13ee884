/* Placeholder until this subcommand is built; replaced by its real file. */
#include <stdio.h>

#include "cli/cli.h"

int cli_worker(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "calma %s: not built yet\n", argv[0]);
    return CLI_EXIT_USAGE;
}
