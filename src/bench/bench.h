/* bench_: one `calma bench` run. Validates the whole plan, runs the oracle
 * and every trial in its own worker under the supervisor, journals each
 * trial the moment it ends, then prints the table and writes report.json.
 *
 * A trial record (one journal line, one element of report.json's "trials")
 * is a JSON object: id, conversion, precision (fp32, fp16, bf16, int8),
 * batch, threads, status, message, phases {parse_s, transform_s,
 * calibration_s, load_s, convert_s (includes transform_s), first_s,
 * warmup_runs, warmup_s}, transform {name, precision, nodes, converted, kept,
 * kept_ops[], cached, model, ...} for TRANSFORM+CONVERSION, stats
 * {n, min, max, mean, median, stddev, cv, p90, p95, p99, ci_lo, ci_hi, ci_rel,
 * mad, outliers, total_s, stop}, throughput {per_s_median, per_s_total},
 * validation {verdict, precision, batches, outputs[{name, pass, max_abs,
 * max_rel, cosine, nonfinite, bad, worst_index, worst_ref, worst_got, atol,
 * rtol, batches, rows, top1, top5, judged, min_cosine, min_top1, min_top5,
 * why}]},
 * memory {rss_before_load, rss_after_load, rss_after_convert, added_by_model,
 * model_file, peak} (bytes), load_avg (1-minute load average after sampling),
 * warnings[] (noise: high CV, outliers, slow first run, timer resolution,
 * busy machine, governor, precision not reached), engine_version,
 * samples_file, exit {code, signal}, last_phase, wall_s,
 * stderr_tail[].
 * Fields a trial never reached are absent. Times are seconds. */
#ifndef CALMA_BENCH_BENCH_H
#define CALMA_BENCH_BENCH_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"

/* `calma bench` (argv[0] is "bench"); returns the exit status. */
int bench_main(int argc, char **argv);

/* 0 when every trial is ok, unavailable or unsupported (with strict, only
 * ok), else 1. */
int bench_exit_code(const cJSON *trials, int strict);

/* The winners of a run, each judged on one thing and saying so. Only ok
 * trials compete (never a mismatch). */
typedef struct bench_winners {
    const cJSON *latency;    /* lowest median per call at the smallest batch size run */
    const cJSON *throughput; /* most samples per second, over every batch size */
    double latency_batch;    /* the batch size the latency winner was judged at */
} bench_winners;
void bench_find_winners(const cJSON *trials, bench_winners *w);
/* The same among the trials of one precision ("fp32", ...; NULL: all):
 * "best fp32" beside a winner of lower precision. */
void bench_find_winners_of(const cJSON *trials, const char *precision, bench_winners *w);

/* The conversion speed-ups are measured against: plan_json's "baseline"
 * when set, else TORCH_EAGER when the plan has it, else ORT_CPU, else the
 * conversion of the first ok trial. NULL when there is none. */
const char *bench_baseline_name(const cJSON *plan_json, const cJSON *trials);
/* The ok trial of conversion name at the batch and threads of like, or NULL. */
const cJSON *bench_baseline_trial(const cJSON *trials, const char *name, const cJSON *like);

/* precision.c: a trial's precision ("fp32" for records that name none), and
 * the validation cell's text: verdict, and for a reduced-precision trial the
 * worst cosine and top-1 agreement it was judged on. */
const char *bench_trial_precision(const cJSON *rec);
const char *bench_accuracy_text(const cJSON *rec, const char *verdict, char *buf, size_t n);

/* A reason (a failed trial's message, kind = its status) or a warning
 * (kind "warning"), with the trials it applies to: the first
 * BENCH_NOTE_NAMED by label in who, all of them counted in n. */
#define BENCH_NOTE_NAMED 6
typedef struct bench_note {
    const char *kind, *text; /* point into the trials */
    char who[512];           /* "ORT_CUDA b1 t1, ORT_CUDA b8 t1" */
    int n;
} bench_note;
/* Every distinct note of trials, in trial order (reasons first); *out is
 * to be freed. Returns the count. */
int bench_collect_notes(const cJSON *trials, bench_note **out);

/* References to the trials of one model ("model" field; trials without
 * one belong to every model): an array to cJSON_Delete. */
cJSON *bench_model_trials(const cJSON *trials, const char *model);

typedef struct table_opts {
    int color; /* ANSI colours on the status column (for a terminal) */
    int wide;  /* every column; else the table fits 100 columns */
} table_opts;

/* The table of a report document (bench_report_build's), then the notes
 * (each distinct reason once, with the trials it applies to) and the
 * winners. */
void bench_table_print(FILE *f, const cJSON *doc, const table_opts *o);

/* report.json: calma version, model, plan, every trial (the journal's
 * per-process records combined: src/bench/combine.h), baseline, best. With
 * keep_samples the raw samples are embedded from each samples file. */
cJSON *bench_report_build(const cJSON *plan_json, const cJSON *records, int interrupted,
                          int keep_samples);
int bench_report_write(const cJSON *report, const char *path, calma_error *e);

#endif
