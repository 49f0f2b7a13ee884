/* report.json: the whole run in one document a machine can diff. The
 * reports module (src/report/) renders other formats from it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/combine.h"
#include "report/report.h" /* the schema version only: bench does not link report */
#include "bench/journal.h"
#include "util/err.h"

/* The raw samples of a trial: each of its processes' samples file, in
 * repeat order. NULL if one is unreadable. */
static cJSON *read_samples(const cJSON *trial) {
    double *v = NULL;
    size_t n = 0, cap = 0;
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(trial, "processes");
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(trial, "samples_file");
    int bad = 0;
    if (cJSON_IsString(sf)) {
        bad = combine_read_samples(sf->valuestring, &v, &n, &cap);
    } else {
        const cJSON *p;
        cJSON_ArrayForEach(p, procs) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, "samples_file");
            if (cJSON_IsString(f) && !bad) bad = combine_read_samples(f->valuestring, &v, &n, &cap);
        }
    }
    cJSON *a = bad || !n ? NULL : cJSON_CreateDoubleArray(v, (int)n);
    free(v);
    return a;
}

/* A winner as the report names it: which trial, judged on what. */
static void add_winner(cJSON *r, const char *key, const cJSON *t, const char *judged_on,
                       double value) {
    if (!t) {
        cJSON_AddNullToObject(r, key);
        return;
    }
    cJSON *b = cJSON_AddObjectToObject(r, key);
    const char *keys[] = {"id", "conversion", "precision", "batch", "threads"};
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keys[i]);
        if (v) cJSON_AddItemToObject(b, keys[i], cJSON_Duplicate(v, 1));
    }
    cJSON_AddStringToObject(b, "judged_on", judged_on);
    cJSON_AddNumberToObject(b, "value", value);
}

static double field(const cJSON *t, const char *obj, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, obj), k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The baseline and the winners of trials, into o. */
static void add_judgement(cJSON *o, const cJSON *plan_json, const cJSON *trials) {
    const char *base = bench_baseline_name(plan_json, trials);
    if (base)
        cJSON_AddStringToObject(o, "baseline", base);
    else
        cJSON_AddNullToObject(o, "baseline");
    bench_winners w;
    bench_find_winners(trials, &w);
    /* "best" is the latency winner: what most people ask first. */
    add_winner(o, "best", w.latency, "median per call at the smallest batch",
               field(w.latency, "stats", "median"));
    add_winner(o, "best_latency", w.latency, "median per call at the smallest batch",
               field(w.latency, "stats", "median"));
    add_winner(o, "best_throughput", w.throughput,
               cJSON_GetObjectItemCaseSensitive(w.throughput, "scenario")
                   ? "samples per second, any batch (the scenario's figure)"
                   : "samples per second, any batch",
               bench_samples_per_s(w.throughput));
    /* the latency winner among float32 trials, beside a reduced-precision best */
    bench_winners w32;
    bench_find_winners_of(trials, "fp32", &w32);
    add_winner(o, "best_fp32", w32.latency, "median per call at the smallest batch, fp32 trials",
               field(w32.latency, "stats", "median"));
}

cJSON *bench_report_build(const cJSON *plan_json, const cJSON *records, int interrupted,
                          int keep_samples) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddNumberToObject(r, "schema_version",
                            REPORT_SCHEMA_VERSION); /* docs/report.schema.json */
    cJSON_AddStringToObject(r, "calma_version", CALMA_VERSION);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(r, "written_at", when);
    /* The machine the run happened on was recorded in the plan when the run
     * started; a report rendered later elsewhere must not describe the
     * machine it is rendered on. */
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(plan_json, "machine");
    if (machine) {
        cJSON_AddItemToObject(r, "machine", cJSON_Duplicate(machine, 1));
    } else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        cJSON *mach = cJSON_AddObjectToObject(r, "machine");
        cJSON_AddStringToObject(mach, "hostname", host);
        cJSON_AddNumberToObject(mach, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
        cJSON_AddNumberToObject(mach, "memory",
                                (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(plan_json, "model");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(plan_json, "models");
    if (model) cJSON_AddItemToObject(r, "model", cJSON_Duplicate(model, 1));
    if (models) cJSON_AddItemToObject(r, "models", cJSON_Duplicate(models, 1));
    cJSON_AddItemToObject(r, "plan", cJSON_Duplicate(plan_json, 1));
    cJSON_AddBoolToObject(r, "interrupted", interrupted);
    cJSON *trials = combine_trials(plan_json, records);
    if (!trials) {
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddItemToObject(r, "trials", trials);
    /* Planned trials with no record are named, never silently absent. */
    cJSON *missing = cJSON_CreateArray();
    const cJSON *id;
    cJSON_ArrayForEach(id, combine_planned(plan_json)) {
        if (cJSON_IsString(id) && !combine_find(records, id->valuestring, 0))
            cJSON_AddItemToArray(missing, cJSON_CreateString(id->valuestring));
    }
    if (cJSON_GetArraySize(missing))
        cJSON_AddItemToObject(r, "missing_trials", missing);
    else
        cJSON_Delete(missing);
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(plan_json, "warnings");
    if (cJSON_GetArraySize(pw)) cJSON_AddItemToObject(r, "warnings", cJSON_Duplicate(pw, 1));
    cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        cJSON *s = keep_samples ? read_samples(t) : NULL;
        if (s) cJSON_AddItemToObject(t, "samples", s);
    }
    if (cJSON_GetArraySize(models) > 1) {
        /* Several models: each has its own baseline and winners; none is
         * named across models. */
        cJSON *per = cJSON_AddArrayToObject(r, "per_model");
        const cJSON *m;
        cJSON_ArrayForEach(m, models) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
            cJSON *mine = bench_model_trials(trials, cJSON_IsString(name) ? name->valuestring : "");
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "name", cJSON_Duplicate(name, 1));
            add_judgement(o, plan_json, mine);
            cJSON_AddItemToArray(per, o);
            cJSON_Delete(mine);
        }
        cJSON_AddNullToObject(r, "baseline");
        cJSON_AddNullToObject(r, "best");
        cJSON_AddNullToObject(r, "best_latency");
        cJSON_AddNullToObject(r, "best_throughput");
        cJSON_AddNullToObject(r, "best_fp32");
    } else {
        add_judgement(r, plan_json, trials);
    }
    return r;
}

int bench_report_write(const cJSON *report, const char *path, calma_error *e) {
    char *text = journal_print(report, 1);
    if (!text) return err_set(e, CALMA_E_NOMEM, "out of memory writing %s", path);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f) {
        free(text);
        return err_set(e, CALMA_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    free(text);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(e, CALMA_E_IO, "cannot write %s", path);
    }
    return CALMA_OK;
}
