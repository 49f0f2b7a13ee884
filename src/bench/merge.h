/* merge_: the run folders of the shards of one plan (calma bench --shard
 * K/N) joined into one run folder. */
#ifndef CALMA_BENCH_MERGE_H
#define CALMA_BENCH_MERGE_H

#include <cjson/cJSON.h>

#include "calma/calma.h"

/* Checks that dirs are shards of one plan (one plan hash, the same model
 * SHA-256s, one share count, each share once and in range, none missing
 * unless partial) and that out holds no run, then writes out/plan.json (the
 * whole plan, with where each share ran), out/journal.jsonl (every shard's
 * records, tagged with their shard), out/samples/ and out/report.json;
 * *report gets the report. Any fault: CALMA_E_USAGE naming the folders, and
 * nothing of a shard is changed. */
int merge_runs(const char *const *dirs, int n, const char *out, int partial, cJSON **report,
               calma_error *e);

#endif
