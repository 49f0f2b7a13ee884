/* scen_: serving scenarios (--scenario offline|server), the way MLPerf's
 * LoadGen and OpenVINO's benchmark_app measure a deployment.
 *
 * In the worker (scenario.c, scenario_server.c), instead of the single
 * scenario's one stream of calls: S streams, each its own engine state
 * loaded from the same model (its own session or runtime, its own input and
 * output buffers) with max(1, threads / S) intra-op threads, each driven by
 * its own pthread. Stream 0 is the worker's own state, validated as in the
 * single scenario before any stream starts. Every stream warms up until its
 * latency stops drifting before a measuring window opens.
 *
 * offline: all streams run calls back to back for an adaptive window (at
 *   least --min-time, until the batch-means interval of the throughput is
 *   within --precision or --max-time ends). samples/s = batch x completions
 *   / window; its interval from B equal time slices (B = 20, fewer when a
 *   slice would hold under five completions): mean +- t(B-1) sd / sqrt(B).
 * server: requests arrive as a Poisson process (exponential gaps from the
 *   run's seed: the same arrivals in every conversion) and queue FIFO; a
 *   free stream takes the next request, waits for its arrival if it is in
 *   the future, runs it. Latency = completion - arrival (queueing included).
 *   Each rate step serves --samples N requests (default 1000: the 95%
 *   order-statistic interval of the p99 needs at least 367), or as many as
 *   arrive within the step's budget (the process's share of --max-time).
 *   --rate auto measures the single-stream service time D, then bisects
 *   the rate (geometric midpoints) between capacity/16 and the capacity
 *   S / D, each step a full server run; the answer is the highest rate
 *   whose p99 met --latency-bound.
 *
 * Elsewhere: scen_combine joins a trial's processes (combine.c), scen_figure
 * gives the figure tables, winners and compare judge a scenario trial on. */
#ifndef CALMA_BENCH_SCENARIO_H
#define CALMA_BENCH_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "calma/backend.h"

#define SCEN_DEFAULT_REQUESTS 1000 /* per rate step */
#define SCEN_P99_MIN_REQUESTS 367  /* 0.99^n <= 0.025: the p99's 95% interval exists */
#define SCEN_SLICES 20             /* time slices of the offline batch means */

typedef struct scen_args {
    int kind;    /* PLAN_OFFLINE or PLAN_SERVER */
    int streams; /* S >= 1 */
    int threads; /* the trial's; each stream gets scen_threads_per_stream */
    int64_t batch;
    uint64_t seed;
    double rate;   /* server: offered requests per second (0 with rate_auto) */
    int rate_auto; /* server: search the highest rate meeting bound */
    double bound;  /* server: p99 bound in seconds, 0 = none */
    long samples;  /* --samples: offline completions, server requests per step; 0 = default */
    double precision, min_time, max_time; /* this process's share, as in the single scenario */
} scen_args;

/* max(1, threads / streams): the intra-op threads of each stream. */
int scen_threads_per_stream(int threads, int streams);

/* Stream 0 as the worker made it: loaded, converted, run once, validated.
 * cfg already carries the per-stream thread count. */
typedef struct scen_engine {
    const calma_conversion *c;
    const calma_model *m;
    const calma_trial_config *cfg;
    void *state;
    calma_tensor *in, *out; /* with data */
    int n_in, n_out;
} scen_engine;

/* Phase changes and progress for the supervisor (it kills a silent
 * worker), sent from the worker's main thread only. */
typedef struct scen_report {
    void (*phase)(void *ctx, const char *phase);
    void (*progress)(void *ctx, const char *phase, size_t n, double elapsed);
    void *ctx;
} scen_report;

typedef struct scen_outcome {
    double *service; /* each call's time inside run(): the window (offline) or the reported
                        step (server); malloc'ed */
    size_t n_service;
    double *latency; /* server: each request's latency in the reported step; malloc'ed */
    size_t n_latency;
    double window_s;    /* the offline window or the reported step's span */
    double per_call_s;  /* offline: window / completions (aggregate time per call), else 0 */
    const char *stop;   /* why the window closed */
    double warmup_runs; /* summed over streams */
    double warmup_s;
    cJSON *warnings; /* scenario warnings (array of strings), owned */
} scen_outcome;

/* Runs the scenario and writes the "scenario" object into res (the
 * worker's result). Returns the first failure of any stream. */
int scen_run(const scen_args *a, const scen_engine *eng, cJSON *res, scen_outcome *out,
             const scen_report *rep, calma_error *e);
void scen_outcome_free(scen_outcome *o);

/* The trial's processes' "scenario" objects joined into out's (the trial
 * record combine is building): each process's figures kept under
 * "processes"; the trial's figure is the median over processes, its
 * interval the hull of the t interval of the per-process figures and the
 * pooled interval (all processes' time slices, or all their latencies);
 * scenario warnings of every process kept once, but the precision reached
 * judged again on the combined interval (unless --samples fixed the count)
 * (scenario_combine.c). */
void scen_combine(cJSON *out, const cJSON *const *procs, int n, double precision, int fixed);

/* The one figure a scenario trial is judged on: offline samples/s (higher
 * is better); server at a fixed rate the p99 latency (lower); server with
 * --rate auto the highest rate meeting the bound, in samples/s (higher).
 * For a trial without a scenario: the median per call (lower). value is
 * NAN when unknown; lo/hi its 95% interval (NAN when unknown); per_process
 * the figure of each process (up to max). */
typedef struct scen_fig {
    int scenario; /* a plan_scenario */
    double value, lo, hi;
    int higher_better;
    const char *what; /* "samples/s", "p99 latency", "highest rate meeting the bound" */
} scen_fig;
void scen_figure(const cJSON *trial, scen_fig *f);
/* The per-process figures of a scenario trial into v (at most max); the count. */
int scen_figure_processes(const cJSON *trial, double *v, int max);
/* Are a and b judged on one thing: the same scenario and rate mode (and, for
 * a server at a fixed rate, the same rate)? Two single trials are. */
int scen_comparable(const cJSON *a, const cJSON *b);
/* How much better a is than b on their figure (> 1: better); NAN when either
 * is unknown or they are judged on different things. */
double scen_better_ratio(const cJSON *a, const cJSON *b);
/* The trial's stream count: its "streams" field, else 1. */
int scen_streams(const cJSON *trial);
/* "982 samples/s [975, 990]", "p99 3.1 ms at 250/s (bound met)"; 0 for a
 * trial without a scenario figure. */
int scen_describe(const cJSON *trial, char *buf, size_t n);

#endif
