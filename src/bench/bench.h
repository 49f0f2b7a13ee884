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
 * engine_info {key: number or string} (what the backend reports about the
 * converted model, e.g. XNNPACK's nodes_in_engine), samples_file,
 * exit {code, signal}, last_phase, wall_s,
 * stderr_tail[]; in a serving scenario also streams and scenario {...}
 * (src/bench/scenario.h, docs/report.md).
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
    const cJSON *throughput; /* most samples per second (bench_samples_per_s), any batch */
    double latency_batch;    /* the batch size the latency winner was judged at */
} bench_winners;
void bench_find_winners(const cJSON *trials, bench_winners *w);
/* The same among the trials of one precision ("fp32", ...; NULL: all):
 * "best fp32" beside a winner of lower precision. */
void bench_find_winners_of(const cJSON *trials, const char *precision, bench_winners *w);

/* Samples per second a trial is credited with: a scenario's own figure
 * (offline: what S streams completed; server: batch x the achieved rate, or
 * x the highest rate meeting the bound with --rate auto), else batch / the
 * median per call. NAN when unknown. */
double bench_samples_per_s(const cJSON *trial);

/* The conversion speed-ups are measured against: plan_json's "baseline"
 * when set, else TORCH_EAGER when the plan has it, else ORT_CPU, else the
 * conversion of the first ok trial. NULL when there is none. */
const char *bench_baseline_name(const cJSON *plan_json, const cJSON *trials);
/* The ok trial of conversion name at the batch, threads and streams of
 * like, or NULL. */
const cJSON *bench_baseline_trial(const cJSON *trials, const char *name, const cJSON *like);

/* precision.c: a trial's precision ("fp32" for records that name none), and
 * the validation cell's text: verdict, and for a reduced-precision trial the
 * worst cosine and top-1 agreement it was judged on. */
const char *bench_trial_precision(const cJSON *rec);
const char *bench_accuracy_text(const cJSON *rec, const char *verdict, char *buf, size_t n);
/* --verbose: one line per trial that has engine_info (what the backend
 * reported about the converted model), after the table. */
void bench_engine_info_print(FILE *f, const cJSON *trials);

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

/* The serving table of a section's scenario trials (src/bench/table_serve.c):
 * offline samples/s with its interval and per-stream counts; server rate,
 * achieved rate, p50 and p99 latency with its interval, utilisation and the
 * bound; --rate auto the highest rate meeting it. Fits 100 columns. */
void bench_table_serving(FILE *f, const cJSON *trials);
/* The same rows for other renderers (Markdown, HTML): the kind of block a
 * trial belongs in (BENCH_SERVE_OFFLINE, _FIXED, _AUTO; -1 for none), each
 * kind's one-line introduction, and a trial's cells. */
enum { BENCH_SERVE_OFFLINE, BENCH_SERVE_FIXED, BENCH_SERVE_AUTO, BENCH_SERVE_KINDS };
#define BENCH_SERVE_CELL 80
#define BENCH_SERVE_COLS 10
int bench_serving_kind(const cJSON *trial);
const char *bench_serving_intro(int kind);
void bench_serving_row(const cJSON *trial, int kind,
                       char cells[BENCH_SERVE_COLS][BENCH_SERVE_CELL]);
/* Each kind present in trials, in order: OPEN with the column heads as
 * cells, a ROW per trial of that kind, CLOSE (cells NULL). */
typedef enum { BENCH_SERVE_OPEN, BENCH_SERVE_ROW, BENCH_SERVE_CLOSE } bench_serve_event;
typedef void (*bench_serve_fn)(void *ctx, bench_serve_event ev, int kind, int cols,
                               const char *const *cells, const cJSON *trial);
void bench_serving_visit(const cJSON *trials, bench_serve_fn fn, void *ctx);

/* report.json: calma version, model, plan, every trial (the journal's
 * per-process records combined: src/bench/combine.h), baseline, best. With
 * keep_samples the raw samples are embedded from each samples file. */
cJSON *bench_report_build(const cJSON *plan_json, const cJSON *records, int interrupted,
                          int keep_samples);
int bench_report_write(const cJSON *report, const char *path, calma_error *e);

#endif
