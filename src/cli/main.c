/* calma's entry point: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"bench", cli_bench, "benchmark and validate every conversion of a model"},
    {"list", cli_list, "conversions, tiers and their availability here"},
    {"run", cli_run, "run the reference interpreter (the oracle) once"},
    {"zoo", cli_zoo, "list or write the built-in models"},
    {"conformance", cli_conformance, "run the ONNX backend test suite"},
    {"report", cli_report, "render a run's report (table, json, csv, md, svg, html)"},
    {"compare", cli_compare, "compare two reports, gate regressions"},
    {"merge", cli_merge, "join the run folders of a plan's shards into one"},
    {"worker", cli_worker, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: calma COMMAND [ARGS]   (calma COMMAND --help for its flags)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].help) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nWith no command, calma runs `calma bench` on the built-in model 'simple'.\n"
               "  --version    calma's and each engine's version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) return cli_bench(1, (char *[]){"bench", NULL});
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        cli_print_versions();
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "calma: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}

const char *cli_self_path(void) {
    static char path[4096]; /* written once, read-only after */
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) return "calma";
        path[n] = '\0';
    }
    return path;
}
