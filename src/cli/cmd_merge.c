/* calma merge RUN_DIR... -o DIR [--partial] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/merge.h"
#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma merge RUN_DIR... -o DIR [--partial] [--quiet]\n"
               "Joins the run folders of the shards of one plan (calma bench --shard K/N) into\n"
               "the run folder DIR, whose report covers every trial. The shards must come from\n"
               "one plan (same plan hash and model SHA-256s); a share given twice, out of\n"
               "range or missing is an error (--partial merges without the missing ones and\n"
               "says which). DIR must be new or empty: nothing is overwritten.\n");
}

int cli_merge(int argc, char **argv) {
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    if (!dirs) return CLI_EXIT_FAIL;
    const char *out = NULL;
    int n = 0, partial = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(dirs);
            return CLI_EXIT_OK;
        } else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--partial")) {
            partial = 1;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "calma merge: unknown flag '%s'\n", argv[i]);
            usage(stderr);
            free(dirs);
            return CLI_EXIT_USAGE;
        } else {
            dirs[n++] = argv[i];
        }
    }
    if (!out || !n) {
        fprintf(stderr, "calma merge: give the shards' run folders and -o DIR\n");
        usage(stderr);
        free(dirs);
        return CLI_EXIT_USAGE;
    }
    cJSON *report = NULL;
    calma_error e = {0};
    int rc = merge_runs(dirs, n, out, partial, &report, &e);
    free(dirs);
    if (rc) {
        fprintf(stderr, "calma merge: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    if (!quiet) {
        table_opts o = {.color = isatty(1) && !getenv("NO_COLOR"), .wide = 0};
        bench_table_print(stdout, report, &o);
    }
    printf("merged %d run folder%s into %s (report: %s/report.json)\n", n, n == 1 ? "" : "s", out,
           out);
    int code = bench_exit_code(cJSON_GetObjectItemCaseSensitive(report, "trials"), 0);
    cJSON_Delete(report);
    return code ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
