/* bench_: one `calma bench` run. Validates the whole plan, runs the oracle
 * and every trial in its own worker under the supervisor, journals each
 * trial the moment it ends, then prints the table and writes report.json.
 *
 * A trial record (one journal line, one element of report.json's "trials")
 * is a JSON object: id, conversion, batch, threads, status, message, phases
 * {parse_s, load_s, convert_s, first_s, warmup_runs, warmup_s}, stats
 * {n, min, max, mean, median, stddev, cv, p90, p95, p99, ci_lo, ci_hi, ci_rel,
 * mad, outliers, total_s, stop}, throughput {per_s_median, per_s_total},
 * validation {verdict, outputs[{name, pass, max_abs, max_rel, cosine,
 * nonfinite, bad, worst_index, worst_ref, worst_got, atol, rtol, why}]},
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
int bench_exit_code(const cJSON *records, int strict);

/* The fastest trial by throughput among those with status ok (never a
 * mismatch), or NULL. */
const cJSON *bench_best(const cJSON *records);

/* The table, then the "best: ..." line. records in plan order. color: ANSI
 * colours on the status column (for a terminal). */
void bench_table_print(FILE *f, const cJSON *records, int color);

/* report.json: calma version, model, plan, every trial, best. With
 * keep_samples the raw samples are embedded from each samples file. */
cJSON *bench_report_build(const cJSON *plan_json, const cJSON *records, int interrupted,
                          int keep_samples);
int bench_report_write(const cJSON *report, const char *path, calma_error *e);

#endif
