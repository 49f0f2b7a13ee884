/* combine_: the worker processes of each trial (journal records, one per
 * repeat) as one trial record. Samples of all processes are pooled for the
 * median and percentiles; the median's interval is the t interval of the
 * per-process medians widened to the pooled order-statistic interval, so it
 * holds the spread inside and between processes; the status is that of the
 * first process that failed; the noise warnings are judged again over all
 * processes. Records written before --repeats (no "repeat"
 * field) and single-process trials pass through unchanged. */
#ifndef CALMA_BENCH_COMBINE_H
#define CALMA_BENCH_COMBINE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The ids of the trials this run was to do: the shard's share when the
 * plan has one, else every trial of the plan. */
const cJSON *combine_planned(const cJSON *plan_json);

/* How many of them are finished: every process ran, or one failed. */
int combine_complete(const cJSON *plan_json, const cJSON *records);

/* One trial record per planned trial (combine_planned order, then any id
 * the plan does not list), combined from records. A new array. */
cJSON *combine_trials(const cJSON *plan_json, const cJSON *records);

/* The journal record of process k of trial id, or NULL. A record without a
 * "repeat" field is process 0. */
const cJSON *combine_find(const cJSON *records, const char *id, int k);

/* Does a process of trial id end in a status that stops its other
 * processes (anything but ok, mismatch and interrupted)? */
int combine_stopped(const cJSON *records, const char *id);

/* Little-endian doubles of a samples file, appended to *v (grown as
 * needed); -1 when the file cannot be read. */
int combine_read_samples(const char *path, double **v, size_t *n, size_t *cap);

#endif
