/* calma compare BASE NEW [--fail-if-slower 5%] [--format table|md|json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/compare.h"
#include "report/report.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma compare BASE NEW [--fail-if-slower PCT] [--min-effect PCT]\n"
               "                     [--alpha P] [--format table|md|json]\n"
               "BASE and NEW are report.json files or run folders of the same model. For each\n"
               "trial in both: the ratio of medians NEW/BASE with its interval (from the\n"
               "trials' intervals, which hold the spread between worker processes), a p-value\n"
               "(a rank test on the raw samples when both reports kept them, else a t-test on\n"
               "the per-process medians, else the medians' intervals) and a verdict: slower or\n"
               "faster only when p < --alpha (default 0.01) and the whole interval lies beyond\n"
               "--min-effect (default 2%%), else same. Trials in one report only are listed as\n"
               "added or removed. Exits 1 when a slower trial's whole interval lies beyond\n"
               "+PCT, a validation newly fails or an ok trial now fails; 2 on bad input.\n");
}

/* "5%", "5" and "0.05" all mean five percent. */
static int parse_pct(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (*end == '%' && end[1] == '\0')
        v /= 100.0;
    else if (*end != '\0')
        return -1;
    else if (v >= 1.0)
        v /= 100.0;
    *out = v;
    return 0;
}

int cli_compare(int argc, char **argv) {
    const char *paths[2] = {NULL, NULL};
    int n_paths = 0;
    compare_opts o = {-1.0, 0.01, REPORT_TABLE, COMPARE_DEFAULT_MIN_EFFECT};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--fail-if-slower") && i + 1 < argc) {
            if (parse_pct(argv[++i], &o.fail_if_slower)) {
                fprintf(stderr, "calma compare: --fail-if-slower wants a percentage, not '%s'\n",
                        argv[i]);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--min-effect") && i + 1 < argc) {
            if (parse_pct(argv[++i], &o.min_effect)) {
                fprintf(stderr, "calma compare: --min-effect wants a percentage, not '%s'\n",
                        argv[i]);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--alpha") && i + 1 < argc) {
            o.alpha = strtod(argv[++i], NULL);
            if (!(o.alpha > 0 && o.alpha < 1)) {
                fprintf(stderr, "calma compare: --alpha must be between 0 and 1\n");
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            int f = report_format_parse(argv[++i]);
            if (f != REPORT_TABLE && f != REPORT_MD && f != REPORT_JSON) {
                fprintf(stderr, "calma compare: --format is table, md or json\n");
                return CLI_EXIT_USAGE;
            }
            o.format = (report_format)f;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "calma compare: unknown flag '%s'\n", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        } else if (n_paths < 2) {
            paths[n_paths++] = argv[i];
        } else {
            fprintf(stderr, "calma compare: two reports, BASE and NEW ('%s' is extra)\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (n_paths != 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    cJSON *doc[2] = {NULL, NULL};
    char note[512];
    calma_error e;
    for (int k = 0; k < 2; k++) {
        if (report_open(paths[k], &doc[k], note, sizeof note, &e)) {
            fprintf(stderr, "calma compare: %s\n", e.msg);
            cJSON_Delete(doc[0]);
            return CLI_EXIT_USAGE;
        }
        if (note[0]) fprintf(stderr, "calma compare: %s\n", note);
    }
    int rc = compare_reports(doc[0], doc[1], &o, stdout, &e);
    cJSON_Delete(doc[0]);
    cJSON_Delete(doc[1]);
    if (rc < 0) {
        fprintf(stderr, "calma compare: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    return rc;
}
