/* calma zoo: list the built-in models, or write one as an ONNX file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "onnx/onnx.h"
#include "zoo/zoo.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma zoo list\n"
               "       calma zoo NAME -o FILE.onnx [--seed S]\n\n"
               "Built-in models with seeded random weights and a dynamic batch dimension N.\n"
               "  list          name, parameters, input/output shapes and description of each\n"
               "  -o, --output  where to write model NAME (an ONNX file, opset 17)\n"
               "  --seed S      weight seed (default 0); the same seed writes the same bytes\n");
}

static void print_names(FILE *f) {
    fprintf(f, "built-in models:");
    for (int i = 0; i < zoo_count(); i++) fprintf(f, " %s", zoo_name(i));
    fprintf(f, "\n");
}

static int parse_seed(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int exit_for(int status) {
    return status == CALMA_E_NOMEM || status == CALMA_E_INTERNAL ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
}

static int list_models(void) {
    printf("%-13s %11s %12s  %-22s %-18s %s\n", "name", "parameters", "initializers", "input",
           "output", "description");
    for (int i = 0; i < zoo_count(); i++) {
        calma_error e = {0};
        ir_graph *g = NULL;
        if (zoo_build(zoo_name(i), 0, &g, &e)) {
            fprintf(stderr, "calma zoo: %s\n", e.msg);
            return exit_for(e.status);
        }
        char in[64], out[64];
        printf("%-13s %11lld %12lld  %-22s %-18s %s\n", zoo_name(i),
               (long long)zoo_trainable_params(g), (long long)ir_graph_param_count(g),
               ir_value_desc(&g->values[g->inputs[0]], in, sizeof in),
               ir_value_desc(&g->values[g->outputs[0]], out, sizeof out), zoo_description(i));
        ir_graph_free(g);
    }
    printf("\nparameters: trainable, as PyTorch counts them; initializers: every constant element\n"
           "(parameters plus BatchNorm running statistics, shape tensors and scalars)\n");
    return CLI_EXIT_OK;
}

int cli_zoo(int argc, char **argv) {
    const char *name = NULL, *path = NULL;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--seed")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "calma zoo: %s needs a value\n", a);
                return CLI_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--seed")) {
                if (parse_seed(v, &seed)) {
                    fprintf(stderr, "calma zoo: --seed '%s' is not a non-negative integer\n", v);
                    return CLI_EXIT_USAGE;
                }
            } else {
                path = v;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "calma zoo: unknown flag '%s'\n\n", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "calma zoo: unexpected argument '%s'\n", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(name, "list")) {
        if (path) {
            fprintf(stderr, "calma zoo list: takes no -o\n");
            return CLI_EXIT_USAGE;
        }
        return list_models();
    }
    if (zoo_find(name) < 0) {
        fprintf(stderr, "calma zoo: unknown model '%s'\n", name);
        print_names(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!path) {
        fprintf(stderr, "calma zoo %s: say where to write it with -o FILE.onnx\n", name);
        return CLI_EXIT_USAGE;
    }
    calma_error e = {0};
    ir_graph *g = NULL;
    if (zoo_build(name, seed, &g, &e)) {
        fprintf(stderr, "calma zoo: %s\n", e.msg);
        return exit_for(e.status);
    }
    int64_t params = zoo_trainable_params(g);
    int rc = onnx_save(g, path, &e);
    ir_graph_free(g);
    if (rc) {
        fprintf(stderr, "calma zoo: %s\n", e.msg);
        return exit_for(rc);
    }
    printf("wrote %s: %s, %lld parameters, seed %llu\n", path, name, (long long)params,
           (unsigned long long)seed);
    return CLI_EXIT_OK;
}
