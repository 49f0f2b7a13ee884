#include "bench/plan.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

const char *const plan_precisions[PLAN_N_PRECISIONS] = {"fp32", "fp16", "bf16", "int8"};

int plan_precision_index(const char *precision) {
    for (int i = 0; precision && i < PLAN_N_PRECISIONS; i++)
        if (!strcmp(plan_precisions[i], precision)) return i;
    return -1;
}

void plan_init(plan *p) {
    memset(p, 0, sizeof *p);
    p->validation_batches = PLAN_DEFAULT_VALIDATION_BATCHES;
    p->calibration = PLAN_DEFAULT_CALIBRATION;
    for (int i = 0; i < PLAN_N_PRECISIONS; i++)
        p->min_cosine[i] = p->min_top1[i] = p->min_top5[i] = -1;
    p->tier = 1;
    p->n_batch = 1;
    p->batch[0] = 1;
    p->n_threads = 1;
    p->threads[0] = 1;
    p->seed = 42;
    p->precision = 0.01;
    p->max_time = 5.0; /* per trial; tier 1 on the default model stays near 10 s */
    p->min_time = 0.5;
    p->atol = -1;
    p->rtol = -1;
    p->timeout = 300;
    p->load_timeout = 120;
    p->repeats = PLAN_DEFAULT_REPEATS;
    p->n_streams = 1;
    p->streams[0] = 1;
}

void plan_free(plan *p) {
    for (int i = 0; i < p->n_models; i++) {
        free(p->models[i].arg);
        free(p->models[i].name);
        free(p->models[i].path);
        free(p->models[i].torchscript);
    }
    free(p->models_from);
    free(p->share);
    free(p->conversions_csv);
    for (int i = 0; i < p->n_conv; i++) free(p->conv[i]);
    free(p->conv);
    for (int i = 0; i < p->n_plugins; i++) free(p->plugins[i]);
    for (int i = 0; i < p->n_inputs; i++) free(p->input_name[i]), free(p->input_path[i]);
    free(p->options);
    free(p->inputs_dir);
    free(p->torchscript);
    free(p->baseline);
    for (int i = 0; i < p->n_expected; i++) free(p->expected_name[i]), free(p->expected_path[i]);
    free(p->expected_dir);
    free(p->run_dir);
    free(p->output);
    free(p->resume);
    memset(p, 0, sizeof *p);
}

void plan_usage(FILE *f) {
    fprintf(
        f,
        "usage: calma bench [MODEL] [--tier 1|2|3 | --conversions A,B] [--batch 1,8]\n"
        "                   [--threads 1,2] [--samples N | --precision 1%% --max-time 5s\n"
        "                   --min-time 0.5s] [--seed S] [--atol X --rtol Y]\n"
        "                   [--memory-limit 4G] [--max-procs 4096] [--timeout 5m]\n"
        "                   [--load-timeout 2m]\n"
        "                   [--output report.json] [--run-dir DIR] [--resume DIR]\n"
        "                   [--plugin FILE.so]... [--input NAME=FILE.npy]... [--keep-samples]\n"
        "                   [--inputs-dir DIR] [--expected NAME=FILE.npy]... [--expected-dir DIR]\n"
        "                   [--repeats K] [--baseline NAME] [--options KEY=VALUE,...]\n"
        "                   [--validation-batches 8] [--calibration 32]\n"
        "                   [--min-cosine [PREC=]X] [--min-top1 [PREC=]P%%] [--min-top5 "
        "[PREC=]P%%]\n"
        "                   [--torchscript FILE.pt] [--wide] [--strict] [--quiet] [--profile]\n"
        "                   [--verbose]\n"
        "                   [--scenario single|offline|server] [--streams 1,2]\n"
        "                   [--rate R|auto] [--latency-bound 10ms]\n\n"
        "MODEL is an .onnx file or a built-in model (calma zoo list); default 'simple'.\n"
        "Each trial (conversion x batch x threads) runs in --repeats K worker processes\n"
        "(default 3), interleaved across trials (A B C A B C) so drift hits all alike;\n"
        "the median's interval combines the spread inside and between processes.\n"
        "Each process samples until the 95%% interval of its median is narrower than\n"
        "--precision of the median (1%%: within about +-0.5%%), or its share of the\n"
        "trial's --max-time; --samples N takes exactly N samples in each process.\n"
        "--input and --inputs-dir (DIR/input_K.pb for input K, the ONNX test layout)\n"
        "replace generated inputs; a model with one input takes a bare --input FILE.\n"
        "--expected / --expected-dir (output_K.pb) validate every conversion, the\n"
        "oracle included, against outputs you supply instead of the oracle's.\n"
        "--baseline NAME: speed-ups are against it (default TORCH_EAGER when in the\n"
        "plan, else ORT_CPU, else the first ok trial).\n"
        "--scenario offline runs --streams S engine states in one worker, each on its\n"
        "own thread with max(1, threads/S) threads, calls back to back: samples/s\n"
        "with a batch-means interval. --scenario server sends Poisson arrivals at\n"
        "--rate R per second (seeded) to S streams through a FIFO queue: p50/p90/p99\n"
        "latency from arrival (queueing included), achieved rate, and whether the\n"
        "p99 met --latency-bound; --rate auto searches the highest rate that meets\n"
        "it. Each rate step serves --samples N requests (default 1000) or those\n"
        "arriving within the trial's share of --max-time.\n"
        "--memory-limit and --max-procs hold each worker's whole process tree (a\n"
        "cgroup per worker where the machine allows it, else rlimits and sampling).\n"
        "--options passes engine settings to every conversion (spin=1: let\n"
        "ONNX Runtime's threads spin-wait; xform.calibrate=minmax|percentile,\n"
        "xform.percentile=99.99, xform.activations=uint8|int8 for INT8+ conversions).\n"
        "--torchscript gives TORCHSCRIPT and TORCHSCRIPT_FROZEN the model's TorchScript\n"
        "file (default: MODEL.pt beside each MODEL.onnx, when there is one).\n"
        "A conversion may follow a model transform: FP16+ORT_CPU, BF16+ORT_CPU,\n"
        "INT8+ORT_CPU (calibrated on --calibration batches with the oracle).\n"
        "Outputs are compared with the oracle over --validation-batches batches:\n"
        "fp32 trials element-wise (--atol, --rtol), fp16/bf16/int8 trials on cosine\n"
        "similarity and top-1/top-5 agreement (--min-cosine 0.995 for every reduced\n"
        "precision, or per precision: --min-cosine int8=0.98,fp16=0.999).\n"
        "--profile lets an engine time its own parts (XNNPACK: the share of each\n"
        "inference spent outside XNNPACK); --verbose prints what each engine reports\n"
        "about the converted model (XNNPACK: nodes in XNNPACK and outside) under the\n"
        "table.\n"
        "Exit: 0 all ok or unavailable, 1 a trial failed (mismatch, timeout, crashed,\n"
        "oom, error; also unavailable with --strict), 2 bad plan, 130 interrupted.\n");
}

int plan_parse_duration(const char *s, double *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) return -1;
    double mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "ms"))
        mul = 1e-3;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else
        return -1;
    *out = v * mul;
    return 0;
}

int plan_parse_size(const char *s, uint64_t *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) return -1;
    double mul = 1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1024.0;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024.0 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024.0 * 1024 * 1024;
        end++;
        break;
    case 't':
    case 'T':
        mul = 1024.0 * 1024 * 1024 * 1024;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    double b = v * mul;
    if (b >= 1.8e19) return -1;
    *out = (uint64_t)b;
    return 0;
}

int plan_parse_int_list(const char *flag, const char *s, int64_t *vals, int *n, calma_error *e) {
    *n = 0;
    const char *p = s;
    if (!*p) return err_set(e, CALMA_E_USAGE, "%s: empty list (give e.g. %s 1,8)", flag, flag);
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return err_set(e, CALMA_E_USAGE, "%s '%s': an empty or overlong item", flag, s);
        memcpy(item, p, len);
        item[len] = '\0';
        errno = 0;
        char *end;
        long long v = strtoll(item, &end, 10);
        if (errno || *end || end == item || v < 1 || v > INT_MAX)
            return err_set(e, CALMA_E_USAGE, "%s: '%s' is not a valid value (need an integer >= 1)",
                           flag, item);
        if (*n >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_USAGE, "%s: more than %d values", flag, PLAN_MAX_LIST);
        for (int i = 0; i < *n; i++)
            if (vals[i] == v) return err_set(e, CALMA_E_USAGE, "%s: %lld is listed twice", flag, v);
        vals[(*n)++] = v;
        p = comma ? comma + 1 : p + len;
        if (comma && !*p) return err_set(e, CALMA_E_USAGE, "%s '%s': trailing comma", flag, s);
    }
    return CALMA_OK;
}

static int set_str(char **dst, const char *v) {
    free(*dst);
    *dst = mem_strdup(v);
    return *dst ? 0 : -1;
}

void plan_zoo_path(const plan *p, int i, char *buf, size_t n) {
    if (p->n_models > 1)
        snprintf(buf, n, "models/%s.onnx", p->models[i].name ? p->models[i].name : "model");
    else
        snprintf(buf, n, "model.onnx");
}

/* Absolute form of a path that may not exist yet (for plugins: the worker
 * runs with the same cwd, but plan.json may be resumed from elsewhere). */
static char *abs_path(const char *p) {
    char *r = realpath(p, NULL);
    if (r) return r;
    if (p[0] == '/') return mem_strdup(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return mem_strdup(p);
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", cwd, p);
    return s;
}

/* NAME=FILE (or a bare FILE, whose NAME, left NULL, is the model's only
 * input, filled in once the model is known) into the parallel lists. */
static int add_named_file(const char *flag, const char *form, const char *val, char **names,
                          char **paths, int *n, calma_error *e) {
    const char *eqs = strchr(val, '=');
    if (!*val || (eqs && (eqs == val || !eqs[1])))
        return err_set(e, CALMA_E_USAGE, "%s '%s': give %s", flag, val, form);
    if (*n >= PLAN_MAX_LIST)
        return err_set(e, CALMA_E_USAGE, "more than %d %s files", PLAN_MAX_LIST, flag);
    size_t len = eqs ? (size_t)(eqs - val) : 0;
    for (int k = 0; k < *n; k++) {
        if (!eqs && !names[k])
            return err_set(e, CALMA_E_USAGE, "%s: two files without a NAME= (give NAME=FILE)",
                           flag);
        if (eqs && names[k] && strlen(names[k]) == len && !strncmp(names[k], val, len))
            return err_set(e, CALMA_E_USAGE, "%s: '%s' is given twice", flag, names[k]);
    }
    names[*n] = eqs ? mem_strndup(val, len) : NULL;
    paths[*n] = abs_path(eqs ? eqs + 1 : val);
    if ((eqs && !names[*n]) || !paths[*n]) return err_set(e, CALMA_E_NOMEM, "out of memory");
    (*n)++;
    return CALMA_OK;
}

int plan_add_model(plan *p, const char *arg, calma_error *e) {
    if (p->n_models >= PLAN_MAX_MODELS)
        return err_set(e, CALMA_E_USAGE, "more than %d models in one plan", PLAN_MAX_MODELS);
    plan_model *m = &p->models[p->n_models];
    memset(m, 0, sizeof *m);
    if (!(m->arg = mem_strdup(arg))) return err_set(e, CALMA_E_NOMEM, "out of memory");
    p->n_models++;
    return CALMA_OK;
}

int plan_parse_shard(const char *s, int *k, int *n) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || *end != '/') return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (errno || end == q || *end || b < 1 || b > 10000 || a < 1 || a > b) return -1;
    *k = (int)a;
    *n = (int)b;
    return 0;
}

/* One bound: a cosine in [-1, 1], or an agreement share as "98%" or 0.98. */
static int parse_bound(const char *flag, const char *s, int share, double *out, calma_error *e) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (share && !errno && end != s && *end == '%') v /= 100, end++;
    int ok = !errno && end != s && !*end && isfinite(v) &&
             (share ? v >= 0 && v <= 1 : v >= -1 && v <= 1);
    if (!ok)
        return err_set(e, CALMA_E_USAGE, "%s '%s': give %s", flag, s,
                       share ? "a share like 98% or 0.98" : "a cosine from -1 to 1, like 0.995");
    *out = v;
    return CALMA_OK;
}

/* --min-cosine X (every reduced precision) or PREC=X,PREC=Y (fp32 too). */
static int parse_bounds(const char *flag, const char *val, plan *p, calma_error *e) {
    double *dst = !strcmp(flag, "--min-cosine") ? p->min_cosine
                  : !strcmp(flag, "--min-top1") ? p->min_top1
                                                : p->min_top5;
    int share = dst != p->min_cosine;
    if (!strchr(val, '=')) {
        double v;
        int rc = parse_bound(flag, val, share, &v, e);
        if (rc) return rc;
        for (int i = 1; i < PLAN_N_PRECISIONS; i++) dst[i] = v;
        return CALMA_OK;
    }
    const char *q = val;
    while (*q) {
        const char *comma = strchr(q, ',');
        size_t len = comma ? (size_t)(comma - q) : strlen(q);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return err_set(e, CALMA_E_USAGE, "%s '%s': an empty or overlong item", flag, val);
        memcpy(item, q, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) return err_set(e, CALMA_E_USAGE, "%s '%s': give PREC=VALUE items", flag, item);
        *eq = '\0';
        int k = plan_precision_index(item);
        if (k < 0)
            return err_set(e, CALMA_E_USAGE,
                           "%s: unknown precision '%s' (give fp32, fp16, bf16 or int8)", flag,
                           item);
        int rc = parse_bound(flag, eq + 1, share, &dst[k], e);
        if (rc) return rc;
        q = comma ? comma + 1 : q + len;
    }
    return CALMA_OK;
}

int plan_parse_args(plan *p, int argc, char **argv, int *help, calma_error *e) {
    *help = 0;
    int have_tier = 0, have_samples = 0, have_adaptive = 0, have_min = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return CALMA_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            int rc = plan_add_model(p, a, e);
            if (rc) return rc;
            continue;
        }
        char flag[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof flag) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
        }
        /* boolean flags */
        if (!strcmp(flag, "--keep-samples") || !strcmp(flag, "--strict") ||
            !strcmp(flag, "--quiet") || !strcmp(flag, "--wide") || !strcmp(flag, "--profile") ||
            !strcmp(flag, "--verbose")) {
            if (val) return err_set(e, CALMA_E_USAGE, "%s takes no value", flag);
            if (!strcmp(flag, "--wide")) p->wide = 1;
            if (!strcmp(flag, "--keep-samples")) p->keep_samples = 1;
            if (!strcmp(flag, "--strict")) p->strict = 1;
            if (!strcmp(flag, "--quiet")) p->quiet = 1;
            if (!strcmp(flag, "--profile")) p->profile = 1;
            if (!strcmp(flag, "--verbose")) p->verbose = 1;
            continue;
        }
        static const char *const valued[] = {
            "--tier",         "--conversions",   "--batch",
            "--threads",      "--samples",       "--precision",
            "--max-time",     "--min-time",      "--seed",
            "--atol",         "--rtol",          "--memory-limit",
            "--timeout",      "--load-timeout",  "--output",
            "--run-dir",      "--resume",        "--plugin",
            "--input",        "--options",       "--inputs-dir",
            "--repeats",      "--baseline",      "--expected",
            "--expected-dir", "--models-from",   "--shard",
            "--torchscript",  "--scenario",      "--streams",
            "--rate",         "--latency-bound", "--validation-batches",
            "--calibration",  "--min-cosine",    "--min-top1",
            "--min-top5",     "--max-procs",     NULL};
        int known = 0;
        for (int k = 0; valued[k]; k++) known |= !strcmp(flag, valued[k]);
        if (!known)
            return err_set(e, CALMA_E_USAGE, "unknown flag '%s' (calma bench --help)", flag);
        if (!val) {
            if (i + 1 >= argc) return err_set(e, CALMA_E_USAGE, "%s needs a value", flag);
            val = argv[++i];
        }
        char *end;
        int scen_rc;
        if (plan_scenario_flag(p, flag, val, &scen_rc, e)) {
            if (scen_rc) return scen_rc;
        } else if (!strcmp(flag, "--tier")) {
            if (strlen(val) != 1 || val[0] < '1' || val[0] > '3')
                return err_set(e, CALMA_E_USAGE, "--tier '%s': give 1, 2 or 3", val);
            p->tier = val[0] - '0';
            have_tier = 1;
        } else if (!strcmp(flag, "--conversions")) {
            const char *q = val;
            while (*q == ',' || *q == ' ') q++;
            if (!*q)
                return err_set(e, CALMA_E_USAGE,
                               "--conversions: empty conversion list (calma list shows the names)");
            if (set_str(&p->conversions_csv, val))
                return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--batch")) {
            int rc = plan_parse_int_list("--batch", val, p->batch, &p->n_batch, e);
            if (rc) return rc;
        } else if (!strcmp(flag, "--threads")) {
            int64_t t[PLAN_MAX_LIST];
            int rc = plan_parse_int_list("--threads", val, t, &p->n_threads, e);
            if (rc) return rc;
            for (int k = 0; k < p->n_threads; k++) p->threads[k] = (int)t[k];
        } else if (!strcmp(flag, "--samples")) {
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < 1 || v > 100000000)
                return err_set(e, CALMA_E_USAGE, "--samples '%s': need an integer from 1 to 1e8",
                               val);
            p->samples = v;
            have_samples = 1;
        } else if (!strcmp(flag, "--precision")) {
            errno = 0;
            double v = strtod(val, &end);
            if (!errno && end != val && !strcmp(end, "%")) v /= 100, end++;
            if (errno || *end || end == val || !(v > 0 && v < 1))
                return err_set(e, CALMA_E_USAGE,
                               "--precision '%s': give a relative width like 1%% or 0.01", val);
            p->precision = v;
            have_adaptive = 1;
        } else if (!strcmp(flag, "--max-time") || !strcmp(flag, "--min-time") ||
                   !strcmp(flag, "--timeout") || !strcmp(flag, "--load-timeout")) {
            double v;
            if (plan_parse_duration(val, &v) || (v <= 0 && strcmp(flag, "--min-time")))
                return err_set(e, CALMA_E_USAGE, "%s '%s': give a duration like 10s, 500ms or 5m",
                               flag, val);
            if (!strcmp(flag, "--max-time")) p->max_time = v, have_adaptive = 1;
            if (!strcmp(flag, "--min-time")) p->min_time = v, have_adaptive = have_min = 1;
            if (!strcmp(flag, "--timeout")) p->timeout = v;
            if (!strcmp(flag, "--load-timeout")) p->load_timeout = v;
        } else if (!strcmp(flag, "--seed")) {
            errno = 0;
            unsigned long long v = strtoull(val, &end, 10);
            if (errno || *end || end == val || val[0] == '-')
                return err_set(e, CALMA_E_USAGE, "--seed '%s': need a non-negative integer", val);
            p->seed = v;
        } else if (!strcmp(flag, "--atol") || !strcmp(flag, "--rtol")) {
            errno = 0;
            double v = strtod(val, &end);
            if (errno || *end || end == val || !(v >= 0) || !isfinite(v))
                return err_set(e, CALMA_E_USAGE, "%s '%s': need a number >= 0", flag, val);
            if (!strcmp(flag, "--atol"))
                p->atol = v;
            else
                p->rtol = v;
        } else if (!strcmp(flag, "--memory-limit")) {
            if (plan_parse_size(val, &p->memory_limit) || p->memory_limit < (1u << 20))
                return err_set(e, CALMA_E_USAGE,
                               "--memory-limit '%s': give a size of at least 1M, like 4G or 512M",
                               val);
        } else if (!strcmp(flag, "--output")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--output: empty path");
            if (set_str(&p->output, val)) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--run-dir")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--run-dir: empty path");
            if (set_str(&p->run_dir, val)) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--resume")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--resume: empty path");
            if (set_str(&p->resume, val)) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--input")) {
            int rc = add_named_file("--input", "NAME=FILE.npy", val, p->input_name, p->input_path,
                                    &p->n_inputs, e);
            if (rc) return rc;
        } else if (!strcmp(flag, "--expected")) {
            int rc = add_named_file("--expected", "NAME=FILE.npy", val, p->expected_name,
                                    p->expected_path, &p->n_expected, e);
            if (rc) return rc;
        } else if (!strcmp(flag, "--expected-dir")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--expected-dir: empty path");
            free(p->expected_dir);
            p->expected_dir = abs_path(val);
            if (!p->expected_dir) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--max-procs")) {
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < 8 || v > 1000000)
                return err_set(e, CALMA_E_USAGE,
                               "--max-procs '%s': give the processes and threads a worker's tree "
                               "may hold, 8 to 1000000",
                               val);
            p->max_procs = (int)v;
        } else if (!strcmp(flag, "--repeats")) {
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < 1 || v > 1000)
                return err_set(e, CALMA_E_USAGE,
                               "--repeats '%s': give the number of worker processes per trial, "
                               "1 to 1000",
                               val);
            p->repeats = (int)v;
        } else if (!strcmp(flag, "--models-from")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--models-from: empty path");
            free(p->models_from);
            free(p->share);
            p->models_from = abs_path(val);
            if (!p->models_from) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--shard")) {
            if (plan_parse_shard(val, &p->shard_k, &p->shard_n))
                return err_set(e, CALMA_E_USAGE,
                               "--shard '%s': give K/N, the K-th of N shares with 1 <= K <= N "
                               "(e.g. --shard 2/4)",
                               val);
        } else if (!strcmp(flag, "--baseline")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--baseline: give a conversion name");
            if (set_str(&p->baseline, val)) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--torchscript")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--torchscript: empty path");
            free(p->torchscript);
            p->torchscript = abs_path(val);
            if (!p->torchscript) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--inputs-dir")) {
            if (!*val) return err_set(e, CALMA_E_USAGE, "--inputs-dir: empty path");
            free(p->inputs_dir);
            p->inputs_dir = abs_path(val);
            if (!p->inputs_dir) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--options")) {
            /* key=value pairs; each backend reads the keys it knows */
            if (!strchr(val, '='))
                return err_set(e, CALMA_E_USAGE,
                               "--options '%s': give key=value pairs, e.g. spin=1", val);
            free(p->options);
            p->options = mem_strdup(val);
            if (!p->options) return err_set(e, CALMA_E_NOMEM, "out of memory");
        } else if (!strcmp(flag, "--validation-batches") || !strcmp(flag, "--calibration")) {
            int calib = !strcmp(flag, "--calibration");
            long most = calib ? PLAN_MAX_CALIBRATION : PLAN_MAX_VALIDATION_BATCHES;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < 1 || v > most)
                return err_set(e, CALMA_E_USAGE, "%s '%s': need an integer from 1 to %ld", flag,
                               val, most);
            if (calib)
                p->calibration = (int)v;
            else
                p->validation_batches = (int)v;
        } else if (!strcmp(flag, "--min-cosine") || !strcmp(flag, "--min-top1") ||
                   !strcmp(flag, "--min-top5")) {
            int rc = parse_bounds(flag, val, p, e);
            if (rc) return rc;
        } else if (!strcmp(flag, "--plugin")) {
            if (p->n_plugins >= PLAN_MAX_LIST)
                return err_set(e, CALMA_E_USAGE, "more than %d plugins", PLAN_MAX_LIST);
            if (!*val) return err_set(e, CALMA_E_USAGE, "--plugin: empty path");
            p->plugins[p->n_plugins] = abs_path(val);
            if (!p->plugins[p->n_plugins]) return err_set(e, CALMA_E_NOMEM, "out of memory");
            p->n_plugins++;
        }
    }
    if (have_tier && p->conversions_csv)
        return err_set(e, CALMA_E_USAGE, "give --tier or --conversions, not both");
    /* A server step's --samples N requests still arrive within a budget. */
    if (have_samples && have_adaptive && p->scenario != PLAN_SERVER)
        return err_set(e, CALMA_E_USAGE,
                       "--samples fixes the count; it cannot be combined with --precision, "
                       "--max-time or --min-time");
    if (p->min_time > p->max_time && !have_min) p->min_time = p->max_time;
    if (p->min_time > p->max_time)
        return err_set(e, CALMA_E_USAGE, "--min-time %gs is longer than --max-time %gs",
                       p->min_time, p->max_time);
    return plan_scenario_check(p, e);
}

int plan_n_trials(const plan *p) {
    int models = p->n_models > 0 ? p->n_models : 1;
    return models * p->n_conv * p->n_batch * p->n_threads * p->n_streams;
}

/* Streams vary fastest: a plan without them (one stream) numbers its
 * trials as before. */
void plan_trial(const plan *p, int i, const char **conv, int64_t *batch, int *threads) {
    int nt = p->n_threads, nb = p->n_batch;
    i /= p->n_streams;
    *threads = p->threads[i % nt];
    *batch = p->batch[(i / nt) % nb];
    *conv = p->conv[(i / (nt * nb)) % p->n_conv];
}

int plan_n_run(const plan *p) {
    return p->shard_n ? p->n_share : plan_n_trials(p);
}

int plan_run_index(const plan *p, int k) {
    return p->shard_n ? p->share[k] : k;
}

int plan_trial_model(const plan *p, int i) {
    return i / (p->n_streams * p->n_threads * p->n_batch * p->n_conv);
}

int plan_trial_streams(const plan *p, int i) {
    return p->streams[i % p->n_streams];
}

void plan_trial_id(const plan *p, int i, char *buf, size_t n) {
    const char *c;
    int64_t b;
    int t;
    plan_trial(p, i, &c, &b, &t);
    char streams[32] = "";
    if (p->scenario != PLAN_SINGLE)
        snprintf(streams, sizeof streams, "-s%d", plan_trial_streams(p, i));
    if (p->n_models > 1)
        snprintf(buf, n, "%s:%s-b%lld-t%d%s", p->models[plan_trial_model(p, i)].name, c,
                 (long long)b, t, streams);
    else
        snprintf(buf, n, "%s-b%lld-t%d%s", c, (long long)b, t, streams);
}

cJSON *plan_to_json(const plan *p) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "calma_version", CALMA_VERSION);
    /* "model" is the first (for readers of one-model plans), "models" all. */
    cJSON *ms = cJSON_CreateArray();
    for (int i = 0; i < p->n_models; i++) {
        const plan_model *pm = &p->models[i];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "arg", pm->arg ? pm->arg : "");
        cJSON_AddStringToObject(m, "name", pm->name ? pm->name : "");
        /* A zoo model lives in the run folder: store it relative so the
         * folder can be moved and resumed. */
        char rel[512];
        plan_zoo_path(p, i, rel, sizeof rel);
        cJSON_AddStringToObject(m, "path", pm->zoo ? rel : pm->path ? pm->path : "");
        cJSON_AddBoolToObject(m, "zoo", pm->zoo);
        if (pm->torchscript)
            cJSON_AddStringToObject(m, "torchscript", pm->torchscript);
        else
            cJSON_AddNullToObject(m, "torchscript");
        cJSON_AddItemToArray(ms, m);
    }
    cJSON_AddItemToObject(j, "model",
                          p->n_models ? cJSON_Duplicate(cJSON_GetArrayItem(ms, 0), 1)
                                      : cJSON_CreateObject());
    cJSON_AddItemToObject(j, "models", ms);
    cJSON_AddNumberToObject(j, "tier", p->tier);
    if (p->conversions_csv) cJSON_AddStringToObject(j, "conversions_arg", p->conversions_csv);
    cJSON *c = cJSON_AddArrayToObject(j, "conversions");
    for (int i = 0; i < p->n_conv; i++) cJSON_AddItemToArray(c, cJSON_CreateString(p->conv[i]));
    cJSON *b = cJSON_AddArrayToObject(j, "batch");
    for (int i = 0; i < p->n_batch; i++)
        cJSON_AddItemToArray(b, cJSON_CreateNumber((double)p->batch[i]));
    cJSON *t = cJSON_AddArrayToObject(j, "threads");
    for (int i = 0; i < p->n_threads; i++)
        cJSON_AddItemToArray(t, cJSON_CreateNumber(p->threads[i]));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    cJSON_AddStringToObject(j, "seed", seed); /* a string: doubles lose 64-bit seeds */
    cJSON *r = cJSON_AddObjectToObject(j, "rule");
    cJSON_AddNumberToObject(r, "samples", (double)p->samples);
    cJSON_AddNumberToObject(r, "precision", p->precision);
    cJSON_AddNumberToObject(r, "max_time", p->max_time);
    cJSON_AddNumberToObject(r, "min_time", p->min_time);
    cJSON *tol = cJSON_AddObjectToObject(j, "tolerance");
    if (p->atol >= 0)
        cJSON_AddNumberToObject(tol, "atol", p->atol);
    else
        cJSON_AddNullToObject(tol, "atol");
    if (p->rtol >= 0)
        cJSON_AddNumberToObject(tol, "rtol", p->rtol);
    else
        cJSON_AddNullToObject(tol, "rtol");
    static const char *const bound_keys[3] = {"min_cosine", "min_top1", "min_top5"};
    const double *bounds[3] = {p->min_cosine, p->min_top1, p->min_top5};
    for (int b = 0; b < 3; b++) {
        cJSON *o = NULL;
        for (int k = 0; k < PLAN_N_PRECISIONS; k++) {
            if (bounds[b][k] < 0) continue;
            if (!o) o = cJSON_AddObjectToObject(tol, bound_keys[b]);
            cJSON_AddNumberToObject(o, plan_precisions[k], bounds[b][k]);
        }
    }
    cJSON_AddNumberToObject(j, "validation_batches", p->validation_batches);
    cJSON_AddNumberToObject(j, "calibration", p->calibration);
    cJSON_AddNumberToObject(j, "memory_limit", (double)p->memory_limit);
    if (p->max_procs) cJSON_AddNumberToObject(j, "max_procs", p->max_procs);
    cJSON_AddNumberToObject(j, "timeout", p->timeout);
    cJSON_AddNumberToObject(j, "load_timeout", p->load_timeout);
    if (p->options) cJSON_AddStringToObject(j, "options", p->options);
    cJSON *pl = cJSON_AddArrayToObject(j, "plugins");
    for (int i = 0; i < p->n_plugins; i++)
        cJSON_AddItemToArray(pl, cJSON_CreateString(p->plugins[i]));
    cJSON *in = cJSON_AddArrayToObject(j, "inputs");
    for (int i = 0; i < p->n_inputs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", p->input_name[i]);
        cJSON_AddStringToObject(o, "path", p->input_path[i]);
        cJSON_AddItemToArray(in, o);
    }
    cJSON *ex = cJSON_AddArrayToObject(j, "expected");
    for (int i = 0; i < p->n_expected; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", p->expected_name[i]);
        cJSON_AddStringToObject(o, "path", p->expected_path[i]);
        cJSON_AddItemToArray(ex, o);
    }
    cJSON_AddNumberToObject(j, "repeats", p->repeats);
    plan_scenario_to_json(p, j);
    /* "shard" and "plan_hash" are added by plan_seal. */
    if (p->baseline) cJSON_AddStringToObject(j, "baseline", p->baseline);
    cJSON_AddBoolToObject(j, "keep_samples", p->keep_samples);
    cJSON_AddBoolToObject(j, "strict", p->strict);
    cJSON_AddBoolToObject(j, "profile", p->profile);
    cJSON *ids = cJSON_AddArrayToObject(j, "trials");
    for (int i = 0; i < plan_n_trials(p); i++) {
        char id[256];
        plan_trial_id(p, i, id, sizeof id);
        cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    }
    return j;
}

static const cJSON *get(const cJSON *j, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(j, k);
}

static int get_num(const cJSON *j, const char *k, double *out) {
    const cJSON *v = get(j, k);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 0;
}

/* One entry of plan.json's "models" (or its one-model "model"). */
static int model_from_json(plan *p, const cJSON *m, calma_error *e) {
    const cJSON *path = get(m, "path"), *v;
    if (!cJSON_IsString(path) || p->n_models >= PLAN_MAX_MODELS)
        return err_set(e, CALMA_E_PARSE, "plan.json lacks the fields of a calma plan");
    plan_model *pm = &p->models[p->n_models++];
    memset(pm, 0, sizeof *pm);
    if (cJSON_IsString(v = get(m, "arg")) && set_str(&pm->arg, v->valuestring)) goto nomem;
    if (cJSON_IsString(v = get(m, "name")) && set_str(&pm->name, v->valuestring)) goto nomem;
    if (set_str(&pm->path, path->valuestring)) goto nomem;
    pm->zoo = cJSON_IsTrue(get(m, "zoo"));
    if (cJSON_IsString(v = get(m, "torchscript")) && set_str(&pm->torchscript, v->valuestring))
        goto nomem;
    return CALMA_OK;
nomem:
    return err_set(e, CALMA_E_NOMEM, "out of memory reading plan.json");
}

int plan_from_json(plan *p, const cJSON *j, calma_error *e) {
    const cJSON *m = get(j, "model"), *models = get(j, "models");
    const cJSON *conv = get(j, "conversions"), *b = get(j, "batch"), *t = get(j, "threads");
    const cJSON *rule = get(j, "rule"), *seed = get(j, "seed");
    if (!cJSON_IsString(get(j, "calma_version")) || !cJSON_IsObject(m) || !cJSON_IsArray(conv) ||
        !cJSON_IsArray(b) || !cJSON_IsArray(t) || !cJSON_IsObject(rule) || !cJSON_IsString(seed))
        return err_set(e, CALMA_E_PARSE, "plan.json lacks the fields of a calma plan");
    const cJSON *v;
    if (cJSON_GetArraySize(models) > 0) {
        cJSON_ArrayForEach(v, models) {
            int rc = model_from_json(p, v, e);
            if (rc) return rc;
        }
    } else {
        int rc = model_from_json(p, m, e);
        if (rc) return rc;
    }
    p->n_conv = cJSON_GetArraySize(conv);
    if (p->n_conv < 1 || p->n_conv > 4096)
        return err_set(e, CALMA_E_PARSE, "plan.json: no conversions");
    p->conv = calloc((size_t)p->n_conv, sizeof *p->conv);
    if (!p->conv) goto nomem;
    int i = 0;
    cJSON_ArrayForEach(v, conv) {
        if (!cJSON_IsString(v))
            return err_set(e, CALMA_E_PARSE, "plan.json: a conversion is not a name");
        if (!(p->conv[i++] = mem_strdup(v->valuestring))) goto nomem;
    }
    p->n_batch = p->n_threads = 0;
    cJSON_ArrayForEach(v, b) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || p->n_batch >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad batch list");
        p->batch[p->n_batch++] = (int64_t)v->valuedouble;
    }
    cJSON_ArrayForEach(v, t) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || p->n_threads >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad threads list");
        p->threads[p->n_threads++] = (int)v->valuedouble;
    }
    if (!p->n_batch || !p->n_threads)
        return err_set(e, CALMA_E_PARSE, "plan.json: empty batch or threads list");
    p->seed = strtoull(seed->valuestring, NULL, 10);
    double d;
    if (!get_num(rule, "samples", &d)) p->samples = (long)d;
    get_num(rule, "precision", &p->precision);
    get_num(rule, "max_time", &p->max_time);
    get_num(rule, "min_time", &p->min_time);
    const cJSON *tol = get(j, "tolerance");
    if (tol) {
        if (get_num(tol, "atol", &p->atol)) p->atol = -1;
        if (get_num(tol, "rtol", &p->rtol)) p->rtol = -1;
        static const char *const bound_keys[3] = {"min_cosine", "min_top1", "min_top5"};
        double *bounds[3] = {p->min_cosine, p->min_top1, p->min_top5};
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < PLAN_N_PRECISIONS; k++)
                if (get_num(get(tol, bound_keys[b]), plan_precisions[k], &bounds[b][k]))
                    bounds[b][k] = -1;
    }
    if (!get_num(j, "validation_batches", &d) && d >= 1 && d <= PLAN_MAX_VALIDATION_BATCHES)
        p->validation_batches = (int)d;
    if (!get_num(j, "calibration", &d) && d >= 1 && d <= PLAN_MAX_CALIBRATION)
        p->calibration = (int)d;
    if (!get_num(j, "memory_limit", &d)) p->memory_limit = (uint64_t)d;
    if (!get_num(j, "max_procs", &d) && d >= 8 && d <= 1000000) p->max_procs = (int)d;
    get_num(j, "timeout", &p->timeout);
    get_num(j, "load_timeout", &p->load_timeout);
    if (!get_num(j, "tier", &d)) p->tier = (int)d;
    const cJSON *pl = get(j, "plugins");
    cJSON_ArrayForEach(v, pl) {
        if (!cJSON_IsString(v) || p->n_plugins >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad plugin list");
        if (!(p->plugins[p->n_plugins++] = mem_strdup(v->valuestring))) goto nomem;
    }
    cJSON_ArrayForEach(v, get(j, "inputs")) {
        const cJSON *n = get(v, "name"), *f = get(v, "path");
        if (!cJSON_IsString(n) || !cJSON_IsString(f) || p->n_inputs >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad input list");
        p->input_name[p->n_inputs] = mem_strdup(n->valuestring);
        p->input_path[p->n_inputs] = mem_strdup(f->valuestring);
        if (!p->input_name[p->n_inputs] || !p->input_path[p->n_inputs++]) goto nomem;
    }
    cJSON_ArrayForEach(v, get(j, "expected")) {
        const cJSON *n = get(v, "name"), *f = get(v, "path");
        if (!cJSON_IsString(n) || !cJSON_IsString(f) || p->n_expected >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad expected-output list");
        p->expected_name[p->n_expected] = mem_strdup(n->valuestring);
        p->expected_path[p->n_expected] = mem_strdup(f->valuestring);
        if (!p->expected_name[p->n_expected] || !p->expected_path[p->n_expected++]) goto nomem;
    }
    /* Runs from before --repeats had one process per trial. */
    p->repeats = !get_num(j, "repeats", &d) && d >= 1 ? (int)d : 1;
    const cJSON *sh = get(j, "shard");
    if (sh && (get_num(sh, "index", &d) || (p->shard_k = (int)d) < 1 || get_num(sh, "count", &d) ||
               (p->shard_n = (int)d) < p->shard_k))
        return err_set(e, CALMA_E_PARSE, "plan.json: bad shard");
    const cJSON *base = get(j, "baseline");
    if (cJSON_IsString(base) && !(p->baseline = mem_strdup(base->valuestring))) goto nomem;
    const cJSON *opt = get(j, "options");
    if (cJSON_IsString(opt) && !(p->options = mem_strdup(opt->valuestring))) goto nomem;
    p->keep_samples = cJSON_IsTrue(get(j, "keep_samples"));
    p->strict = cJSON_IsTrue(get(j, "strict"));
    p->profile = cJSON_IsTrue(get(j, "profile"));
    return plan_scenario_from_json(p, j, e);
nomem:
    return err_set(e, CALMA_E_NOMEM, "out of memory reading plan.json");
}
