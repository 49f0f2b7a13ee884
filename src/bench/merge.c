/* merge_: run folders of the shards of one plan (`calma bench --shard K/N`)
 * joined into one run folder whose report covers every trial. */
#include "bench/merge.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/combine.h"
#include "bench/journal.h"
#include "util/err.h"

/* The integer at key of j, or dflt. */
static int int_or(const cJSON *j, const char *k, int dflt) {
    double v = journal_num(j, k);
    return isfinite(v) ? (int)v : dflt;
}

typedef struct shard {
    const char *dir;
    cJSON *plan; /* its plan.json */
    int index, count;
} shard;

/* Opens every folder: a run of calma with a plan hash; a run without a
 * shard counts as share 1 of 1. */
static int open_shards(const char *const *dirs, int n, shard *s, calma_error *e) {
    for (int i = 0; i < n; i++) {
        s[i].dir = dirs[i];
        if (journal_open_run(dirs[i], &s[i].plan, e)) return CALMA_E_USAGE;
        if (!*journal_str(s[i].plan, "plan_hash"))
            return err_set(e, CALMA_E_USAGE,
                           "%s: its plan.json has no plan hash (a run of a calma before "
                           "--shard): it cannot be merged",
                           dirs[i]);
        const cJSON *sh = journal_field(s[i].plan, "shard");
        s[i].index = int_or(sh, "index", 1);
        s[i].count = int_or(sh, "count", 1);
    }
    return CALMA_OK;
}

/* One plan (same hash, same models), one share count, each share once. */
static int check_shards(const shard *s, int n, int partial, cJSON *missing, calma_error *e) {
    for (int i = 1; i < n; i++) {
        if (strcmp(journal_str(s[i].plan, "plan_hash"), journal_str(s[0].plan, "plan_hash"))) {
            const cJSON *ma, *mb;
            cJSON_ArrayForEach(ma, journal_field(s[0].plan, "models")) {
                cJSON_ArrayForEach(mb, journal_field(s[i].plan, "models")) {
                    if (!strcmp(journal_str(ma, "name"), journal_str(mb, "name")) &&
                        strcmp(journal_str(ma, "sha256"), journal_str(mb, "sha256")))
                        return err_set(e, CALMA_E_USAGE,
                                       "%s and %s are shards of different plans: model %s has "
                                       "SHA-256 %.16s... in one and %.16s... in the other",
                                       s[0].dir, s[i].dir, journal_str(ma, "name"),
                                       journal_str(ma, "sha256"), journal_str(mb, "sha256"));
                }
            }
            return err_set(e, CALMA_E_USAGE,
                           "%s and %s are shards of different plans (plan hash %.12s... vs "
                           "%.12s...)",
                           s[0].dir, s[i].dir, journal_str(s[0].plan, "plan_hash"),
                           journal_str(s[i].plan, "plan_hash"));
        }
        if (s[i].count != s[0].count)
            return err_set(e, CALMA_E_USAGE, "%s is share %d/%d but %s is share %d/%d", s[0].dir,
                           s[0].index, s[0].count, s[i].dir, s[i].index, s[i].count);
    }
    int count = s[0].count;
    for (int i = 0; i < n; i++) {
        if (s[i].index < 1 || s[i].index > count)
            return err_set(e, CALMA_E_USAGE, "%s: shard index %d is out of range 1..%d", s[i].dir,
                           s[i].index, count);
        for (int j = 0; j < i; j++)
            if (s[j].index == s[i].index)
                return err_set(e, CALMA_E_USAGE, "shard %d/%d is given twice: %s and %s",
                               s[i].index, count, s[j].dir, s[i].dir);
    }
    char list[512] = "";
    size_t len = 0;
    for (int k = 1; k <= count; k++) {
        int have = 0;
        for (int i = 0; i < n; i++) have |= s[i].index == k;
        if (have) continue;
        cJSON_AddItemToArray(missing, cJSON_CreateNumber(k));
        if (len + 16 < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%d/%d", len ? ", " : "", k,
                                    count);
    }
    if (cJSON_GetArraySize(missing) && !partial)
        return err_set(e, CALMA_E_USAGE,
                       "missing shards: %s (their trials would be absent from the report; give "
                       "their run folders, or --partial to merge what is here)",
                       list);
    return CALMA_OK;
}

/* The output folder must not exist, or be empty: nothing is overwritten. */
static int check_out(const char *out, calma_error *e) {
    struct stat st;
    if (stat(out, &st) != 0) return CALMA_OK;
    if (!S_ISDIR(st.st_mode))
        return err_set(e, CALMA_E_USAGE, "-o %s: exists and is not a folder", out);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/%s", out, JOURNAL_PLAN);
    if (access(probe, F_OK) == 0)
        return err_set(e, CALMA_E_USAGE, "-o %s already holds a run; give a new folder", out);
    return CALMA_OK;
}

static int copy_file(const char *from, const char *to, calma_error *e) {
    FILE *in = fopen(from, "rbe");
    if (!in) return err_set(e, CALMA_E_IO, "cannot read %s: %s", from, strerror(errno));
    FILE *o = fopen(to, "wbe");
    if (!o) {
        fclose(in);
        return err_set(e, CALMA_E_IO, "cannot write %s: %s", to, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) bad |= fwrite(buf, 1, n, o) != n;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(o) != 0;
    return bad ? err_set(e, CALMA_E_IO, "cannot copy %s to %s", from, to) : CALMA_OK;
}

/* A samples file of a shard, copied into out/samples/ (shard-prefixed):
 * the merged folder stands on its own. */
static int take_samples(cJSON *rec, int shard_index, const char *out, calma_error *e) {
    const cJSON *sf = journal_field(rec, "samples_file");
    if (!cJSON_IsString(sf)) return CALMA_OK;
    const char *base = strrchr(sf->valuestring, '/');
    base = base ? base + 1 : sf->valuestring;
    char to[4400];
    snprintf(to, sizeof to, "%s/samples/s%d-%s", out, shard_index, base);
    if (access(sf->valuestring, R_OK) != 0) return CALMA_OK; /* gone: the summary stays */
    int rc = copy_file(sf->valuestring, to, e);
    if (!rc) cJSON_ReplaceItemInObjectCaseSensitive(rec, "samples_file", cJSON_CreateString(to));
    return rc;
}

/* Each shard's journal, in shard order, each record tagged with its shard. */
static int gather(const shard *s, int n, const char *out, cJSON *records, calma_error *e) {
    for (int k = 1; k <= s[0].count; k++)
        for (int i = 0; i < n; i++) {
            if (s[i].index != k) continue;
            cJSON *recs = NULL;
            int rc = journal_load(s[i].dir, &recs, e);
            if (rc) return rc;
            cJSON *r;
            while ((r = cJSON_DetachItemFromArray(recs, 0))) {
                cJSON_DeleteItemFromObjectCaseSensitive(r, "shard");
                cJSON_AddNumberToObject(r, "shard", k);
                rc = take_samples(r, k, out, e);
                cJSON_AddItemToArray(records, r);
                if (rc) break;
            }
            cJSON_Delete(recs);
            if (rc) return rc;
        }
    return CALMA_OK;
}

/* The merged plan: the first shard's, without its share, with where each
 * share ran; a warning when they ran on different kinds of machine. */
static cJSON *merged_plan(const shard *s, int n, const cJSON *missing) {
    cJSON *p = cJSON_Duplicate(s[0].plan, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(p, "shard");
    cJSON *from = cJSON_AddArrayToObject(p, "merged_from");
    cJSON *warn = cJSON_AddArrayToObject(p, "warnings");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char *abs = realpath(s[i].dir, NULL);
        cJSON_AddStringToObject(o, "dir", abs ? abs : s[i].dir);
        free(abs);
        cJSON_AddNumberToObject(o, "shard", s[i].index);
        cJSON_AddNumberToObject(o, "count", s[i].count);
        const cJSON *m = journal_field(s[i].plan, "machine");
        if (m) cJSON_AddItemToObject(o, "machine", cJSON_Duplicate(m, 1));
        cJSON_AddItemToArray(from, o);
    }
    for (int i = 1; i < n; i++) {
        const cJSON *a = journal_field(s[0].plan, "machine"),
                    *b = journal_field(s[i].plan, "machine");
        if (strcmp(journal_str(a, "cpu"), journal_str(b, "cpu")) ||
            int_or(a, "cpus", 0) != int_or(b, "cpus", 0) ||
            strcmp(journal_str(a, "vector"), journal_str(b, "vector"))) {
            char msg[1024];
            snprintf(msg, sizeof msg,
                     "shards ran on different kinds of machine: shard %d on '%s' (%d CPUs, %s), "
                     "shard %d on '%s' (%d CPUs, %s); compare trials across shards with care",
                     s[0].index, journal_str(a, "cpu"), int_or(a, "cpus", 0),
                     journal_str(a, "vector"), s[i].index, journal_str(b, "cpu"),
                     int_or(b, "cpus", 0), journal_str(b, "vector"));
            cJSON_AddItemToArray(warn, cJSON_CreateString(msg));
            break;
        }
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, missing) {
        char msg[256];
        snprintf(msg, sizeof msg, "shard %d/%d is missing (--partial): its trials are absent",
                 (int)k->valuedouble, s[0].count);
        cJSON_AddItemToArray(warn, cJSON_CreateString(msg));
    }
    return p;
}

int merge_runs(const char *const *dirs, int n, const char *out, int partial, cJSON **report,
               calma_error *e) {
    *report = NULL;
    if (n < 1) return err_set(e, CALMA_E_USAGE, "give the run folders of the shards to merge");
    shard *s = calloc((size_t)n, sizeof *s);
    cJSON *missing = cJSON_CreateArray(), *records = cJSON_CreateArray(), *plan = NULL;
    int rc = s && missing && records ? CALMA_OK : err_set(e, CALMA_E_NOMEM, "out of memory");
    if (!rc) rc = open_shards(dirs, n, s, e);
    if (!rc) rc = check_shards(s, n, partial, missing, e);
    if (!rc) rc = check_out(out, e);
    char samples[4200];
    snprintf(samples, sizeof samples, "%s/samples", out);
    if (!rc && journal_make_dir(samples, e)) rc = CALMA_E_USAGE;
    if (!rc) rc = gather(s, n, out, records, e);
    if (!rc) plan = merged_plan(s, n, missing);
    char *text = plan ? cJSON_Print(plan) : NULL;
    if (!rc && !text) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    if (!rc) rc = journal_write_file(out, JOURNAL_PLAN, text, e);
    free(text);
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        if (!rc) rc = journal_append(out, r, e);
    }
    if (!rc) {
        int incomplete =
            combine_complete(plan, records) < cJSON_GetArraySize(combine_planned(plan));
        *report = bench_report_build(plan, records, incomplete, 0);
        if (!*report) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    if (!rc) {
        char path[4200];
        snprintf(path, sizeof path, "%s/report.json", out);
        rc = bench_report_write(*report, path, e);
    }
    for (int i = 0; s && i < n; i++) cJSON_Delete(s[i].plan);
    free(s);
    cJSON_Delete(missing);
    cJSON_Delete(records);
    cJSON_Delete(plan);
    if (rc) {
        cJSON_Delete(*report);
        *report = NULL;
    }
    return rc;
}
