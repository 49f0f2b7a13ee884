/* calma list: conversions, tiers, availability here and why. */
#include <stdio.h>
#include <string.h>

#include "bench/registry.h"
#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma list [--plugin FILE.so]...\n"
               "Prints every conversion calma knows with its tier, device and backend, whether\n"
               "it can run on this machine (and why not), what each tier holds, and the names\n"
               "from other tools that calma recognises but does not offer.\n");
}

int cli_list(int argc, char **argv) {
    const char *plugins[32];
    int n_plugins = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--plugin") && i + 1 < argc && n_plugins < 32) {
            plugins[n_plugins++] = argv[++i];
        } else {
            fprintf(stderr, "calma list: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    registry *r;
    calma_error e;
    if (registry_open(&r, plugins, n_plugins, &e)) {
        fprintf(stderr, "calma list: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    registry_print(r, stdout);
    registry_close(r);
    return CLI_EXIT_OK;
}
