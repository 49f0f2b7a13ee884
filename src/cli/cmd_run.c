/* calma run: the oracle, once. Inputs come from .npy / TensorProto .pb
 * files or from the seed; outputs go to .npy files and a summary. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/gen.h"
#include "io/npy.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "util/err.h"
#include "zoo/zoo.h"

#define RUN_MAX_FILES 64

typedef struct run_opts {
    const char *model;
    const char *in_arg[RUN_MAX_FILES]; /* NAME=FILE, or FILE for the only input */
    int n_files;
    const char *inputs_dir;
    uint64_t seed;
    int64_t batch;
    int batch_given; /* else taken from the first file with a batch dimension */
    const char *output;
    const char *output_dir;
} run_opts;

static void usage(FILE *f) {
    fprintf(f, "usage: calma run MODEL [--input NAME=FILE]... [--inputs-dir DIR] [--seed S]\n"
               "                 [--batch N] [--output OUT.npy | --output-dir DIR]\n\n"
               "Runs the reference interpreter (the oracle) once and summarises each output.\n"
               "  MODEL           an .onnx file or a built-in model (calma zoo list; its weights\n"
               "                  are those `calma zoo NAME -o` writes with seed 0)\n"
               "  --input N=FILE  input N from FILE: .npy, or an ONNX TensorProto (.pb); with\n"
               "                  one model input, FILE alone is enough. Repeatable.\n"
               "  --inputs-dir D  inputs from D/input_K.pb (ONNX test_data_set layout)\n"
               "  --seed S        seed of generated inputs (default 0): floats uniform in\n"
               "                  [-1, 1), integers in [0, 10), bools 0/1\n"
               "  --batch N       size of the symbolic batch (first) dimension (default 1)\n"
               "  --output F      write the only output to F (.npy)\n"
               "  --output-dir D  write each output to D/<output name>.npy\n");
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, run_opts *o) {
    o->batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (a[0] != '-' || !a[1]) {
            if (o->model) {
                fprintf(stderr, "calma run: unexpected argument '%s' (one MODEL only)\n", a);
                return CLI_EXIT_USAGE;
            }
            o->model = a;
            continue;
        }
        static const char *const with_value[] = {
            "--input", "--inputs-dir", "--seed", "--batch", "--output", "-o", "--output-dir"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            known |= !strcmp(a, with_value[k]);
        if (!known) {
            fprintf(stderr, "calma run: unknown flag '%s'\n\n", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "calma run: %s needs a value\n", a);
            return CLI_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--input")) {
            if (o->n_files == RUN_MAX_FILES) {
                fprintf(stderr, "calma run: more than %d --input flags\n", RUN_MAX_FILES);
                return CLI_EXIT_USAGE;
            }
            o->in_arg[o->n_files++] = v; /* split once the model's input names are known */
        } else if (!strcmp(a, "--inputs-dir")) {
            o->inputs_dir = v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, &o->seed)) {
                fprintf(stderr, "calma run: --seed '%s' is not a non-negative integer\n", v);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--batch")) {
            uint64_t b;
            if (parse_u64(v, &b) || b < 1 || b > (1u << 30)) {
                fprintf(stderr, "calma run: --batch '%s' is not an integer from 1 to 2^30\n", v);
                return CLI_EXIT_USAGE;
            }
            o->batch = (int64_t)b;
            o->batch_given = 1;
        } else if (!strcmp(a, "--output-dir")) {
            o->output_dir = v;
        } else {
            o->output = v;
        }
    }
    if (!o->model) {
        fprintf(stderr, "calma run: which model? (an .onnx file or a built-in name)\n\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (o->output && o->output_dir) {
        fprintf(stderr, "calma run: give --output or --output-dir, not both\n");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static int exit_for(int status) {
    return status == CALMA_E_NOMEM || status == CALMA_E_INTERNAL ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
}

static int fail(const calma_error *e) {
    fprintf(stderr, "calma run: %s\n", e->msg);
    return exit_for(e->status);
}

/* A file wins over a built-in name; a bare word that is neither is most
 * likely a mistyped built-in name, so the message lists them. */
static int load_model(const run_opts *o, ir_graph **g, calma_error *e) {
    struct stat st;
    int exists = stat(o->model, &st) == 0;
    if (!exists && zoo_find(o->model) >= 0) return zoo_build(o->model, 0, g, e);
    if (!exists && !strchr(o->model, '/') && !strchr(o->model, '.')) {
        char names[256] = "";
        for (int i = 0; i < zoo_count(); i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", zoo_name(i));
        }
        return err_set(e, CALMA_E_USAGE,
                       "%s: no such file, and not a built-in model (built-in: %s)", o->model,
                       names);
    }
    return onnx_load(o->model, g, e);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int read_tensor(const char *path, ir_tensor *t, calma_error *e) {
    if (ends_with(path, ".npy")) return npy_read(path, t, e);
    return onnx_load_tensor(path, t, NULL, e);
}

/* The given tensor must match the model's declaration where it declares
 * something: dtype, rank, and every fixed dimension. */
static int check_input(const ir_value *v, const ir_tensor *t, const char *path, calma_error *e) {
    int ok = v->dtype == CALMA_DT_UNDEFINED || v->dtype == t->dtype;
    if (v->rank >= 0) {
        ok = ok && v->rank == t->rank;
        for (int d = 0; ok && d < v->rank; d++) ok = v->dims[d] < 0 || v->dims[d] == t->dims[d];
    }
    if (ok) return CALMA_OK;
    char want[256], got[256];
    return err_set(e, CALMA_E_INVALID,
                   "input '%s' from %s: the model expects %s, the file holds %s", v->name, path,
                   ir_value_desc(v, want, sizeof want), ir_tensor_desc(t, got, sizeof got));
}

static int generate_input(const ir_value *v, int index, uint64_t seed, ir_tensor *t,
                          calma_error *e) {
    char desc[256];
    if (v->rank < 0 || ir_dtype_size(v->dtype) == 0)
        return err_set(e, CALMA_E_USAGE,
                       "input '%s' is declared as %s: cannot generate it; give it as a file "
                       "(--input %s=FILE)",
                       v->name, ir_value_desc(v, desc, sizeof desc), v->name);
    for (int d = 0; d < v->rank; d++)
        if (v->dims[d] < 0)
            return err_set(e, CALMA_E_USAGE,
                           "input '%s' is %s: dimension %d ('%s') is not fixed by --batch; give "
                           "the input as a file (--input %s=FILE)",
                           v->name, ir_value_desc(v, desc, sizeof desc), d,
                           v->dim_param[d] ? v->dim_param[d] : "?", v->name);
    int rc = ir_tensor_alloc(t, v->dtype, v->rank, v->dims, e);
    if (rc) return err_prefix(e, "input '%s'", v->name);
    gen_fill(t, seed, index, 0);
    return CALMA_OK;
}

/* Finds which model input each --input names (NAME=FILE; a bare FILE is
 * the only input's). src[i] is the file for input i, or NULL. */
static int match_files(const run_opts *o, const ir_graph *g, const char **src, char **owned,
                       calma_error *e) {
    for (int f = 0; f < o->n_files; f++) {
        const char *arg = o->in_arg[f];
        int idx = -1;
        const char *path = arg;
        const char *eq = strchr(arg, '=');
        if (eq) {
            for (int i = 0; i < g->n_inputs; i++) {
                const char *name = g->values[g->inputs[i]].name;
                if (strlen(name) == (size_t)(eq - arg) && !strncmp(name, arg, (size_t)(eq - arg)))
                    idx = i;
            }
            if (idx >= 0) path = eq + 1;
        }
        /* With one input, "a=b.npy" may be a file name with '=' in it. */
        if (idx < 0 && eq && g->n_inputs == 1 && access(arg, F_OK) == 0) eq = NULL;
        if (idx < 0 && (eq || g->n_inputs != 1)) {
            char names[512] = "";
            for (int i = 0; i < g->n_inputs; i++) {
                size_t len = strlen(names);
                snprintf(names + len, sizeof names - len, "%s'%s'", i ? ", " : "",
                         g->values[g->inputs[i]].name);
            }
            if (eq)
                return err_set(e, CALMA_E_USAGE,
                               "--input %s: the model has no input '%.*s' (its inputs: %s)", arg,
                               (int)(eq - arg), arg, names);
            return err_set(e, CALMA_E_USAGE,
                           "--input %s: say which input it is (NAME=FILE); the model's inputs: %s",
                           arg, names);
        }
        if (idx < 0) idx = 0;
        if (src[idx])
            return err_set(e, CALMA_E_USAGE, "input '%s' is given twice (%s and %s)",
                           g->values[g->inputs[idx]].name, src[idx], path);
        src[idx] = path;
    }
    if (o->inputs_dir) {
        for (int i = 0; i < g->n_inputs; i++) {
            if (src[i]) continue;
            size_t n = strlen(o->inputs_dir) + 32;
            owned[i] = malloc(n);
            if (!owned[i]) return err_set(e, CALMA_E_NOMEM, "out of memory");
            snprintf(owned[i], n, "%s/input_%d.pb", o->inputs_dir, i);
            src[i] = owned[i];
        }
    }
    return CALMA_OK;
}

/* Reads the files first: without --batch, the batch is the leading size of
 * the first file given for an input whose leading dimension is symbolic. */
static int build_inputs(const run_opts *o, ir_graph *g, ir_tensor *in, calma_error *e) {
    const char **src = calloc((size_t)g->n_inputs + 1, sizeof *src);
    char **owned = calloc((size_t)g->n_inputs + 1, sizeof *owned);
    int rc = src && owned ? match_files(o, g, src, owned, e)
                          : err_set(e, CALMA_E_NOMEM, "out of memory");
    int64_t batch = o->batch;
    int batch_from_file = 0;
    for (int i = 0; !rc && i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (!src[i]) continue;
        rc = read_tensor(src[i], &in[i], e);
        if (rc) {
            rc = err_prefix(e, "input '%s'", v->name);
        } else if (!o->batch_given && !batch_from_file && v->rank > 0 && v->dims[0] < 0 &&
                   in[i].rank > 0 && in[i].dims[0] > 0) {
            batch = in[i].dims[0];
            batch_from_file = 1;
        }
    }
    if (!rc) {
        ir_graph_set_batch(g, batch);
        printf("model   %s: %d nodes, opset %lld, %d input(s), %d output(s), batch %lld%s\n",
               o->model, g->n_nodes, (long long)ir_graph_opset(g, ""), g->n_inputs, g->n_outputs,
               (long long)batch, batch_from_file ? " (from the input file)" : "");
    }
    for (int i = 0; !rc && i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        char desc[256];
        if (src[i]) {
            rc = check_input(v, &in[i], src[i], e);
            if (!rc)
                printf("input   %-16s %-24s from %s\n", v->name,
                       ir_tensor_desc(&in[i], desc, sizeof desc), src[i]);
        } else {
            rc = generate_input(v, i, o->seed, &in[i], e);
            if (!rc)
                printf("input   %-16s %-24s generated (seed %llu)\n", v->name,
                       ir_tensor_desc(&in[i], desc, sizeof desc), (unsigned long long)o->seed);
        }
    }
    if (owned)
        for (int i = 0; i < g->n_inputs; i++) free(owned[i]);
    free(owned);
    free(src);
    return rc;
}

static void summarize(const char *name, const ir_tensor *t) {
    size_t n = ir_tensor_numel(t), nonfinite = 0, finite = 0;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v = ir_tensor_get_f64(t, i);
        if (!isfinite(v)) {
            nonfinite++;
            continue;
        }
        finite++;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    char desc[256];
    printf("output  %-16s %-24s", name, ir_tensor_desc(t, desc, sizeof desc));
    if (finite)
        printf(" min %.6g max %.6g mean %.6g", lo, hi, sum / (double)finite);
    else
        printf(" min - max - mean -");
    printf(" non-finite %zu\n", nonfinite);
}

/* An output name as a file name: '/' and other unsafe bytes become '_'. */
static void safe_name(const char *name, char *buf, size_t n) {
    size_t k = 0;
    for (; name[k] && k + 1 < n; k++) {
        char c = name[k];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        buf[k] = ok && !(k == 0 && c == '.') ? c : '_';
    }
    if (!k) buf[k++] = '_';
    buf[k] = '\0';
}

static int write_outputs(const run_opts *o, const ir_graph *g, const ir_tensor *out,
                         calma_error *e) {
    if (o->output) {
        int rc = npy_write(o->output, &out[0], e);
        if (!rc) printf("wrote   %s\n", o->output);
        return rc;
    }
    if (!o->output_dir) return CALMA_OK;
    if (mkdir(o->output_dir, 0777) && errno != EEXIST)
        return err_set(e, CALMA_E_IO, "%s: cannot create the output folder: %s", o->output_dir,
                       strerror(errno));
    for (int k = 0; k < g->n_outputs; k++) {
        char file[256], path[4096];
        safe_name(g->values[g->outputs[k]].name, file, sizeof file);
        if ((size_t)snprintf(path, sizeof path, "%s/%s.npy", o->output_dir, file) >= sizeof path)
            return err_set(e, CALMA_E_USAGE, "%s: output folder path too long", o->output_dir);
        int rc = npy_write(path, &out[k], e);
        if (rc) return rc;
        printf("wrote   %s\n", path);
    }
    return CALMA_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_model(const run_opts *o, ir_graph *g, calma_error *e) {
    if (o->output && g->n_outputs != 1)
        return err_set(e, CALMA_E_USAGE,
                       "%s has %d outputs: use --output-dir DIR to write them all", o->model,
                       g->n_outputs);
    ref_session *s = NULL;
    int rc = CALMA_OK;
    ir_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
    ir_tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    if (!in || !out) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    if (!rc) rc = build_inputs(o, g, in, e);
    /* after the batch is fixed: the session may plan with the shapes */
    if (!rc && ref_session_create(g, &s, e)) rc = err_prefix(e, "%s", o->model);
    if (!rc) {
        double t0 = now_s();
        rc = ref_session_run(s, in, out, e);
        double dt = now_s() - t0;
        if (rc) {
            err_prefix(e, "%s", o->model);
        } else {
            if (dt < 1e-3)
                printf("ran     the oracle in %.1f us\n", dt * 1e6);
            else
                printf("ran     the oracle in %.1f ms\n", dt * 1e3);
            for (int k = 0; k < g->n_outputs; k++)
                summarize(g->values[g->outputs[k]].name, &out[k]);
            rc = write_outputs(o, g, out, e);
        }
    }
    for (int i = 0; in && i < g->n_inputs; i++) ir_tensor_free(&in[i]);
    for (int k = 0; out && k < g->n_outputs; k++) ir_tensor_free(&out[k]);
    free(in);
    free(out);
    if (s) ref_session_free(s);
    return rc;
}

int cli_run(int argc, char **argv) {
    run_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    calma_error e = {0};
    ir_graph *g = NULL;
    if (load_model(&o, &g, &e)) return fail(&e);
    rc = run_model(&o, g, &e);
    ir_graph_free(g);
    fflush(stdout);
    return rc ? fail(&e) : CLI_EXIT_OK;
}
