/* calma conformance: the ONNX backend test suite through the oracle or
 * another conversion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench/registry.h"
#include "cli/cli.h"
#include "conform/conform.h"

static void conformance_usage(FILE *f) {
    fprintf(f,
            "usage: calma conformance [DIR...] [--conversion NAME] [--filter SUBSTR] [--verbose]\n"
            "\n"
            "Runs ONNX backend test cases (DIR/model.onnx with test_data_set_N/input_K.pb and\n"
            "output_K.pb) and compares the outputs with rtol %g, atol %g.\n"
            "DIR is a folder of cases or one case; by default the four folders of\n"
            "%s/{node,pytorch-converted,pytorch-operator,simple}.\n"
            "\n"
            "  --conversion NAME  the engine to check (default REFERENCE, the oracle)\n"
            "  --filter SUBSTR    only cases whose name (folder/case) contains SUBSTR\n"
            "  --verbose          print each case's run time\n"
            "\n"
            "One line per case: pass, fail (worst element), unsupported (the op), error\n"
            "(the case could not be read). Exit 0 when nothing failed, 1 otherwise.\n",
            CONFORM_RTOL, CONFORM_ATOL, CONFORM_DATA_ROOT);
}

int cli_conformance(int argc, char **argv) {
    conform_options o = {0};
    const char *conversion = NULL;
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    if (!dirs) return CLI_EXIT_USAGE;
    int nd = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            conformance_usage(stdout);
            free(dirs);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o.verbose = 1;
        } else if (!strcmp(a, "--conversion") || !strcmp(a, "--filter")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "calma conformance: %s needs a value\n", a);
                free(dirs);
                return CLI_EXIT_USAGE;
            }
            if (!strcmp(a, "--filter"))
                o.filter = argv[++i];
            else
                conversion = argv[++i];
        } else if (!strncmp(a, "--conversion=", 13)) {
            conversion = a + 13;
        } else if (!strncmp(a, "--filter=", 9)) {
            o.filter = a + 9;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "calma conformance: unknown option '%s'\n\n", a);
            conformance_usage(stderr);
            free(dirs);
            return CLI_EXIT_USAGE;
        } else {
            dirs[nd++] = a;
        }
    }
    o.dirs = dirs;
    o.n_dirs = nd;
    o.out = stdout;

    calma_error e = {0};
    registry *reg = NULL;
    conform_runner backend_runner;
    const conform_runner *runner = conform_reference_runner();
    if (conversion && strcasecmp(conversion, "REFERENCE")) {
        if (registry_open(&reg, NULL, 0, &e)) {
            fprintf(stderr, "calma conformance: %s\n", e.msg);
            free(dirs);
            return CLI_EXIT_USAGE;
        }
        const calma_conversion *c = registry_find(reg, conversion);
        if (!c) {
            char sugg[512];
            int k = registry_suggest(reg, conversion, sugg, sizeof sugg, 3);
            fprintf(stderr, "calma conformance: unknown conversion '%s'%s%s\n", conversion,
                    k ? "; did you mean " : "", k ? sugg : "");
            registry_close(reg);
            free(dirs);
            return CLI_EXIT_USAGE;
        }
        if (registry_probe(c, &e)) {
            fprintf(stderr, "calma conformance: %s is unavailable here: %s\n", c->name, e.msg);
            registry_close(reg);
            free(dirs);
            return CLI_EXIT_USAGE;
        }
        conform_backend_runner(c, &backend_runner);
        runner = &backend_runner;
    }
    conform_totals t;
    int rc = conform_run(runner, &o, &t, &e);
    registry_close(reg);
    free(dirs);
    if (rc) {
        fprintf(stderr, "calma conformance: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    return t.fail || t.error ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
