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

#define PLAN_MAX_MODELS 256

/* --scenario: how requests reach the conversion (src/bench/scenario.h). */
typedef enum plan_scenario {
    PLAN_SINGLE = 0,  /* one stream, one call after another: latency per call (the default) */
    PLAN_OFFLINE = 1, /* S streams run calls back to back: samples per second */
    PLAN_SERVER = 2   /* Poisson arrivals served by S streams: latency under load */
} plan_scenario;

typedef struct plan_model {
    char *arg;         /* as the user gave it ("simple", "net.onnx") */
    char *name;        /* short name, unique in the plan: run folder, trial ids, report */
    char *path;        /* the .onnx file workers read (absolute) */
    int zoo;           /* a built-in model, written into the run folder */
    char *torchscript; /* its TorchScript file (--torchscript, or MODEL.pt beside MODEL.onnx),
                          absolute; NULL when there is none */
} plan_model;

/* Precisions a trial can have, in this order in the per-precision arrays. */
#define PLAN_N_PRECISIONS 4
extern const char *const plan_precisions[PLAN_N_PRECISIONS]; /* "fp32", "fp16", "bf16", "int8" */
/* Index of a precision name in plan_precisions, or -1. */
int plan_precision_index(const char *precision);

#define PLAN_DEFAULT_VALIDATION_BATCHES 8
#define PLAN_MAX_VALIDATION_BATCHES 1000
#define PLAN_DEFAULT_CALIBRATION 32
#define PLAN_MAX_CALIBRATION 100000

typedef struct plan {
    int n_models; /* MODEL... and --models-from; none given: "simple" */
    plan_model models[PLAN_MAX_MODELS];
    char *models_from;    /* --models-from FILE: one path or zoo name per line */
    int shard_k, shard_n; /* --shard K/N (1 <= K <= N); 0/0: the whole plan */
    int *share;           /* with a shard: the indices of its trials, in plan order */
    int n_share;
    int tier; /* 1..3 when conversions is NULL */
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
    int max_procs; /* --max-procs: processes and threads of a worker's tree; 0 = the default */
    double timeout, load_timeout;
    int n_inputs; /* --input name=file (.npy or TensorProto .pb) */
    char *input_name[PLAN_MAX_LIST];
    char *input_path[PLAN_MAX_LIST]; /* absolute */
    int n_plugins;
    char *plugins[PLAN_MAX_LIST]; /* absolute paths */
    char *run_dir;
    char *output; /* --output, or NULL */
    int keep_samples, strict, quiet;
    int profile;      /* --profile: backends time their own parts (engine_info) */
    int verbose;      /* --verbose: the table adds what each engine reports */
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
    int scenario;                       /* --scenario: a plan_scenario */
    int n_streams;                      /* --streams 1,2: a plan dimension (offline, server) */
    int streams[PLAN_MAX_LIST];
    double rate;             /* --rate R: requests per second (server); 0 with rate_auto */
    int rate_auto;           /* --rate auto: the highest rate whose p99 meets the bound */
    double latency_bound;    /* --latency-bound: the p99 bound in seconds (server), 0 = none */
    unsigned scenario_given; /* which scenario flags the command line gave (plan_scenario.c) */
    int validation_batches;  /* --validation-batches V: batches compared with the oracle */
    int calibration;         /* --calibration N: INT8+ calibration batches */
    /* --min-cosine, --min-top1, --min-top5 per precision (index as in
     * plan_precisions); < 0: the precision's default (bench/validate.h) */
    double min_cosine[PLAN_N_PRECISIONS], min_top1[PLAN_N_PRECISIONS], min_top5[PLAN_N_PRECISIONS];
    char *torchscript; /* --torchscript FILE.pt (a plan of one model), or NULL */
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

/* Trials are model x conversion x batch x threads x streams, models
 * outermost (streams is 1 in the single scenario). */
int plan_n_trials(const plan *p);
/* Trial i's conversion, batch and threads, and its id: "NAME-b8-t2", or
 * "MODEL:NAME-b8-t2" in a plan of several models; "NAME-b8-t2-s2" with a
 * scenario other than single. */
void plan_trial(const plan *p, int i, const char **conv, int64_t *batch, int *threads);
/* Trial i's stream count (1 in the single scenario). */
int plan_trial_streams(const plan *p, int i);
/* The index into p->models of trial i's model. */
int plan_trial_model(const plan *p, int i);
void plan_trial_id(const plan *p, int i, char *buf, size_t n);

/* Appends a model (a path or a zoo name, resolved later) to the plan. */
int plan_add_model(plan *p, const char *arg, calma_error *e);

/* Where built-in model i is written inside the run folder ("model.onnx",
 * or "models/NAME.onnx" in a plan of several models), relative. */
void plan_zoo_path(const plan *p, int i, char *buf, size_t n);

/* "1,8" -> distinct integers >= 1 (at most PLAN_MAX_LIST); CALMA_E_USAGE
 * naming flag and the item at fault. */
int plan_parse_int_list(const char *flag, const char *s, int64_t *vals, int *n, calma_error *e);

/* "K/N" -> 1 <= K <= N <= 10000. */
int plan_parse_shard(const char *s, int *k, int *n);

struct ir_graph;
/* --input, --inputs-dir, --expected and --expected-dir against the model
 * (src/bench/plan_files.c): names bare files after the model's only input
 * or output, expands the folders into named files, and checks each file's
 * dtype and shape. CALMA_E_USAGE naming the file, the tensor and the
 * dimension at fault. */
int plan_check_files(const struct ir_graph *g, plan *p, calma_error *e);

/* Set-up of a run (src/bench/plan_setup.c). A new run: conversions,
 * models (MODEL..., --models-from), files and folders checked, the run
 * folder made, built-in models written into it, plan.json written; *all_expected
 * when --expected covers every output (the oracle need not run). A resumed
 * run: plan_json read back into p and checked against this calma. */
struct registry;
int plan_setup_new(plan *p, const struct registry *reg, cJSON **plan_json, int *all_expected,
                   calma_error *e);
int plan_setup_resume(plan *p, const struct registry *reg, const cJSON *plan_json,
                      int *all_expected, calma_error *e);
/* A regular file? */
int plan_is_file(const char *path);

/* Seals plan.json j (src/bench/plan_shard.c): its "plan_hash" (the models
 * by SHA-256, the trials and how they are measured: equal hashes, one plan)
 * and, with --shard K/N, p->share and j's "shard" "trials": share K of N,
 * balanced by expected cost (longest first to the least-loaded share). */
int plan_seal(plan *p, cJSON *j, calma_error *e);
/* p->share from plan.json's "shard" "trials" (no shard: left empty). */
int plan_share_from_json(plan *p, const cJSON *j, calma_error *e);
/* The number of trials this run does and the plan index of the k-th. */
int plan_n_run(const plan *p);
int plan_run_index(const plan *p, int k);

/* The scenario flags (src/bench/plan_scenario.c). plan_scenario_flag
 * parses --scenario, --streams, --rate or --latency-bound (returns 1 when
 * flag is one of them, with the outcome in *rc); plan_scenario_check then
 * refuses combinations that mean nothing (a rate or a bound without
 * --scenario server, streams with single, --rate auto without a bound). */
int plan_scenario_flag(plan *p, const char *flag, const char *val, int *rc, calma_error *e);
int plan_scenario_check(const plan *p, calma_error *e);
/* "single", "offline", "server". */
const char *plan_scenario_name(int scenario);
/* plan.json's "scenario" object, written for every scenario but single
 * (whose plans stay as they were) and read back (absent: single). */
void plan_scenario_to_json(const plan *p, cJSON *j);
int plan_scenario_from_json(plan *p, const cJSON *j, calma_error *e);

/* plan.json: everything needed to resume. */
cJSON *plan_to_json(const plan *p);
int plan_from_json(plan *p, const cJSON *j, calma_error *e);

#endif
