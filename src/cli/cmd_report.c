/* calma report RUN_DIR|report.json --format table|json|csv|md|svg|html */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "report/report.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma report RUN_DIR|REPORT.json [--format table|json|csv|md|svg|html]\n"
               "                    [--output FILE] [--wide] [--verbose]\n"
               "Renders a run from its journal (also an interrupted run) or from report.json.\n"
               "The terminal table fits 100 columns; --wide adds every column (p90, between-\n"
               "process spread, GFLOP/s, load, convert, first run, memory, errors, cosine).\n"
               "It is coloured only on a terminal and never when NO_COLOR is set.\n"
               "--verbose adds, under the table, what each engine reported about the\n"
               "converted model (XNNPACK: nodes in XNNPACK and outside, islands).\n");
}

int cli_report(int argc, char **argv) {
    const char *path = NULL, *format = "table", *output = NULL;
    int wide = 0;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--wide")) {
            wide = 1;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            format = argv[++i];
        } else if ((!strcmp(argv[i], "--output") || !strcmp(argv[i], "-o")) && i + 1 < argc) {
            output = argv[++i];
        } else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "calma report: unknown flag '%s'\n", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "calma report: one run at a time ('%s' is extra)\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    int fmt = report_format_parse(format);
    if (fmt < 0) {
        fprintf(stderr, "calma report: unknown format '%s' (table, json, csv, md, svg, html)\n",
                format);
        return CLI_EXIT_USAGE;
    }
    cJSON *doc;
    char note[512];
    calma_error e;
    if (report_open(path, &doc, note, sizeof note, &e)) {
        fprintf(stderr, "calma report: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    if (note[0]) fprintf(stderr, "calma report: %s\n", note);
    FILE *f = output ? fopen(output, "w") : stdout;
    if (!f) {
        fprintf(stderr, "calma report: cannot write %s\n", output);
        cJSON_Delete(doc);
        return CLI_EXIT_USAGE;
    }
    int flags = (!output && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") ? REPORT_COLOR : 0) |
                (wide ? REPORT_WIDE : 0);
    int rc = report_render(doc, (report_format)fmt, flags, f, &e);
    if (!rc && verbose && fmt == REPORT_TABLE)
        bench_engine_info_print(f, cJSON_GetObjectItemCaseSensitive(doc, "trials"));
    if (output && fclose(f) != 0) rc = rc ? rc : CALMA_E_IO;
    cJSON_Delete(doc);
    if (rc) {
        fprintf(stderr, "calma report: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}
