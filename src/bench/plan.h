/* plan_: what one `calma bench` run will do, parsed from the command line or
 * read back from a run folder's plan.json. Trials are conversion x batch x
 * threads, in the order given. */
#ifndef CALMA_BENCH_PLAN_H
#define CALMA_BENCH_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"

#define PLAN_MAX_LIST 64

typedef struct plan {
    char *model_arg;  /* as the user gave it ("simple", "net.onnx") */
    char *model_name; /* short name for the run folder and the report */
    char *model_path; /* the .onnx file workers read (absolute) */
    int model_zoo;    /* a built-in model, written into the run folder */
    int tier;         /* 1..3 when conversions is NULL */
    char *conversions_csv;
    int n_conv;
    char **conv; /* canonical names, resolved by the registry */
    int n_batch;
    int64_t batch[PLAN_MAX_LIST];
    int n_threads;
    int threads[PLAN_MAX_LIST];
    uint64_t seed;
    long samples; /* --samples N; 0 = adaptive */
    double precision, max_time, min_time;
    double atol, rtol; /* < 0: the dtype's default */
    uint64_t memory_limit;
    double timeout, load_timeout;
    int n_inputs; /* --input name=file (.npy or TensorProto .pb) */
    char *input_name[PLAN_MAX_LIST];
    char *input_path[PLAN_MAX_LIST]; /* absolute */
    int n_plugins;
    char *plugins[PLAN_MAX_LIST]; /* absolute paths */
    char *run_dir;
    char *output; /* --output, or NULL */
    int keep_samples, strict, quiet;
    char *resume;     /* --resume DIR, or NULL */
    char *options;    /* --options "key=value,...": engine settings, or NULL */
    char *inputs_dir; /* --inputs-dir: input_K.pb per model input (ONNX test layout) */
    int repeats;      /* --repeats K: worker processes per trial, interleaved across trials;
                         the time budget of a trial is shared between them */
    char *baseline;   /* --baseline NAME (canonical), or NULL for the default rule */
    int n_expected;   /* --expected NAME=FILE: reference outputs the user supplies */
    char *expected_name[PLAN_MAX_LIST];
    char *expected_path[PLAN_MAX_LIST]; /* absolute */
    char *expected_dir;                 /* --expected-dir: output_K.pb (or .npy) per model output */
    int wide;                           /* --wide: every column in the printed table */
} plan;

#define PLAN_DEFAULT_REPEATS 3

/* Defaults (tier 1, batch 1, threads 1, 1% precision, 3 repeats, ...). */
void plan_init(plan *p);
void plan_free(plan *p);

/* Parses `calma bench` arguments (argv[0] is "bench"). CALMA_E_USAGE with
 * the flag at fault. *help is set for --help. */
int plan_parse_args(plan *p, int argc, char **argv, int *help, calma_error *e);
void plan_usage(FILE *f);

/* "5m", "90s", "500ms", "1.5" (seconds) -> seconds. */
int plan_parse_duration(const char *s, double *out);
/* "4G", "512M", "100k", "1000" (bytes) -> bytes. */
int plan_parse_size(const char *s, uint64_t *out);

int plan_n_trials(const plan *p);
/* Trial i's conversion, batch and threads, and its id "NAME-b8-t2". */
void plan_trial(const plan *p, int i, const char **conv, int64_t *batch, int *threads);
void plan_trial_id(const plan *p, int i, char *buf, size_t n);

struct ir_graph;
/* --input, --inputs-dir, --expected and --expected-dir against the model
 * (src/bench/plan_files.c): names bare files after the model's only input
 * or output, expands the folders into named files, and checks each file's
 * dtype and shape. CALMA_E_USAGE naming the file, the tensor and the
 * dimension at fault. */
int plan_check_files(const struct ir_graph *g, plan *p, calma_error *e);

/* plan.json: everything needed to resume. */
cJSON *plan_to_json(const plan *p);
int plan_from_json(plan *p, const cJSON *j, calma_error *e);

#endif
