#include "bench/combine.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/journal.h"
#include "bench/scenario.h"
#include "bench/stats.h"
#include "bench/warnings.h"

#define COMBINE_MAX_PROCS 1000

/* A number of a record as an int in [lo, hi], dflt when absent or NaN: a
 * journal or report may come from anywhere, and converting a double
 * outside int's range is undefined. */
static int int_in(double v, int lo, int hi, int dflt) {
    if (isnan(v)) return dflt;
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static int repeat_of(const cJSON *r) {
    return int_in(journal_num(r, "repeat"), -1, 1 << 30, 0);
}

const cJSON *combine_find(const cJSON *records, const char *id, int k) {
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        if (!strcmp(journal_str(r, "id"), id) && repeat_of(r) == k) return r;
    }
    return NULL;
}

static int stops(const char *status) {
    return strcmp(status, "ok") && strcmp(status, "mismatch") && strcmp(status, "interrupted");
}

int combine_stopped(const cJSON *records, const char *id) {
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        if (!strcmp(journal_str(r, "id"), id) && stops(journal_str(r, "status"))) return 1;
    }
    return 0;
}

int combine_read_samples(const char *path, double **v, size_t *n, size_t *cap) {
    /* The path comes from a journal: a regular file only, read no further
     * than its size (never a FIFO or /dev/zero). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return -1;
    FILE *f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!f) {
        close(fd);
        return -1;
    }
    unsigned char b[8];
    for (off_t left = st.st_size / 8; left > 0 && fread(b, 1, 8, f) == 8; left--) {
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 4096;
            double *g = realloc(*v, c * sizeof *g);
            if (!g) {
                fclose(f);
                return -1;
            }
            *v = g;
            *cap = c;
        }
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u |= (uint64_t)b[i] << (8 * i);
        memcpy(&(*v)[(*n)++], &u, sizeof u);
    }
    fclose(f);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *x, int n) {
    if (n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static void set_num(cJSON *obj, const char *k, double v) {
    if (!obj) return;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
    if (isfinite(v)) cJSON_AddNumberToObject(obj, k, v);
}

static void set_str(cJSON *obj, const char *k, const char *v) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
    cJSON_AddStringToObject(obj, k, v);
}

/* The processes of one trial, in repeat order. */
typedef struct procs {
    const cJSON *r[COMBINE_MAX_PROCS];
    int n;
    int planned; /* the plan's repeat count */
} procs;

/* What the plan says about judging a trial. */
typedef struct cctx {
    int planned;          /* processes per trial */
    double target;        /* --precision */
    int fixed;            /* --samples: no precision verdict */
    int cores;            /* the machine's CPUs, for the busy warning */
    const char *governor; /* its frequency governor */
} cctx;

/* Each numeric phase figure as its median over the processes that reached
 * it: one slow start (a cold file cache) does not speak for all. The
 * calibration of a model transform is the exception: one process pays for
 * it and the others reuse it, so its cost is the largest. */
static void combine_phases(cJSON *out, const procs *p) {
    cJSON *ph = cJSON_GetObjectItemCaseSensitive(out, "phases");
    if (!ph) return;
    cJSON *f;
    cJSON_ArrayForEach(f, ph) {
        if (!cJSON_IsNumber(f)) continue;
        double v[COMBINE_MAX_PROCS];
        int n = 0;
        for (int i = 0; i < p->n; i++) {
            double x = journal_num(journal_field(p->r[i], "phases"), f->string);
            if (isfinite(x)) v[n++] = x;
        }
        if (!n) continue;
        double m = median_of(v, n);
        if (!strcmp(f->string, "calibration_s"))
            for (int i = 0; i < n; i++) m = fmax(m, v[i]);
        cJSON_SetNumberValue(f, m);
    }
}

/* Pooled samples of the measured processes; NULL when a file is gone. */
static double *pool_samples(const procs *p, size_t *n) {
    double *v = NULL;
    size_t cap = 0;
    *n = 0;
    for (int i = 0; i < p->n; i++) {
        const char *path = journal_str(p->r[i], "samples_file");
        if (!journal_field(p->r[i], "stats")) continue;
        if (!*path || combine_read_samples(path, &v, n, &cap)) {
            free(v);
            *n = 0;
            return NULL;
        }
    }
    return v;
}

/* Summary from the per-process summaries when the raw samples are gone:
 * the median of the medians, weighted means, the extremes. */
static void summary_from_procs(const procs *p, stats_summary *s) {
    memset(s, 0, sizeof *s);
    double med[COMBINE_MAX_PROCS];
    int k = 0;
    double wsum = 0, mean = 0, p90 = 0, p95 = 0, p99 = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
    for (int i = 0; i < p->n; i++) {
        const cJSON *st = journal_field(p->r[i], "stats");
        if (!st) continue;
        double n = journal_num(st, "n");
        med[k++] = journal_num(st, "median");
        wsum += n;
        mean += n * journal_num(st, "mean");
        p90 += n * journal_num(st, "p90");
        p95 += n * journal_num(st, "p95");
        p99 += n * journal_num(st, "p99");
        s->min = fmin(s->min, journal_num(st, "min"));
        s->max = fmax(s->max, journal_num(st, "max"));
        s->ci_lo = i == 0 ? journal_num(st, "ci_lo") : fmin(s->ci_lo, journal_num(st, "ci_lo"));
        s->ci_hi = i == 0 ? journal_num(st, "ci_hi") : fmax(s->ci_hi, journal_num(st, "ci_hi"));
    }
    s->n = wsum > 0 && wsum < 1e15 ? (size_t)wsum : 0;
    s->median = median_of(med, k);
    if (wsum > 0) {
        s->mean = mean / wsum;
        s->p90 = p90 / wsum;
        s->p95 = p95 / wsum;
        s->p99 = p99 / wsum;
    }
    s->stddev = s->cv = s->mad = NAN;
}

static void write_stats(cJSON *st, const stats_summary *s) {
    set_num(st, "n", (double)s->n);
    set_num(st, "min", s->min);
    set_num(st, "max", s->max);
    set_num(st, "mean", s->mean);
    set_num(st, "median", s->median);
    set_num(st, "stddev", s->stddev);
    set_num(st, "cv", s->cv);
    set_num(st, "p90", s->p90);
    set_num(st, "p95", s->p95);
    set_num(st, "p99", s->p99);
    set_num(st, "mad", s->mad);
    set_num(st, "outliers", (double)s->outliers);
}

/* Pooled statistics, the combined interval of the median, and the noise
 * warnings judged over all processes. */
static void combine_stats(cJSON *out, const procs *p, const cctx *x) {
    double med[COMBINE_MAX_PROCS], total_s = 0, per_call_n = 0, load = 0;
    int k = 0;
    for (int i = 0; i < p->n; i++) {
        const cJSON *st = journal_field(p->r[i], "stats");
        load = fmax(load, journal_num(p->r[i], "load_avg"));
        if (!st) continue;
        med[k++] = journal_num(st, "median");
        total_s += journal_num(st, "total_s");
        per_call_n += journal_num(st, "n");
    }
    cJSON *st = cJSON_GetObjectItemCaseSensitive(out, "stats");
    if (!st || k == 0) return;
    set_num(out, "load_avg", load);

    stats_summary s;
    size_t n = 0;
    double *v = pool_samples(p, &n);
    int pooled = v != NULL && n > 0;
    if (pooled)
        stats_summarize_inplace(v, n, &s);
    else
        summary_from_procs(p, &s);
    free(v);
    write_stats(st, &s);
    double lo = s.ci_lo, hi = s.ci_hi;
    const char *method = "order statistics of one process's samples";
    double medians[COMBINE_MAX_PROCS];
    memcpy(medians, med, sizeof(double) * (size_t)k);
    double mid = median_of(medians, k);
    if (k >= 2) {
        double mean, tlo, thi;
        stats_process_interval(med, k, &mean, &tlo, &thi);
        lo = fmin(lo, tlo);
        hi = fmax(hi, thi);
        method = "t interval of the per-process medians, widened to the pooled samples' "
                 "order-statistic interval";
    }
    lo = fmin(lo, s.median);
    hi = fmax(hi, s.median);
    s.ci_lo = lo;
    s.ci_hi = hi;
    s.ci_rel = s.median > 0 ? (hi - lo) / s.median : NAN;
    set_num(st, "ci_lo", lo);
    set_num(st, "ci_hi", hi);
    set_num(st, "ci_rel", s.ci_rel);
    set_num(st, "total_s", total_s);
    set_str(st, "ci_method", method);
    if (!pooled) set_str(st, "pooled", "per-process summaries (samples files missing)");

    cJSON *rep = cJSON_AddObjectToObject(out, "repeats");
    cJSON_AddNumberToObject(rep, "planned", p->planned);
    cJSON_AddNumberToObject(rep, "done", p->n);
    cJSON *ms = cJSON_AddArrayToObject(rep, "medians");
    double mn = INFINITY, mx = -INFINITY, mean = 0;
    for (int i = 0; i < k; i++) {
        cJSON_AddItemToArray(ms, cJSON_CreateNumber(med[i]));
        mn = fmin(mn, med[i]);
        mx = fmax(mx, med[i]);
        mean += med[i] / k;
    }
    double sd = 0;
    for (int i = 0; i < k; i++) sd += (med[i] - mean) * (med[i] - mean);
    sd = k > 1 ? sqrt(sd / (k - 1)) : 0;
    double spread = mid > 0 ? (mx - mn) / mid : 0;
    cJSON_AddNumberToObject(rep, "spread", spread);
    cJSON_AddNumberToObject(rep, "cv", mean > 0 ? sd / mean : 0);

    double batch = journal_num(out, "batch");
    cJSON *tp = cJSON_GetObjectItemCaseSensitive(out, "throughput");
    if (tp && s.median > 0) {
        set_num(tp, "per_s_median", batch / s.median);
        if (total_s > 0) set_num(tp, "per_s_total", batch * per_call_n / total_s);
    }
    cJSON *ef = cJSON_GetObjectItemCaseSensitive(out, "efficiency");
    double flops = journal_num(ef, "flops_per_inference"), fma = journal_num(ef, "fma_peak_gflops"),
           sgemm = journal_num(ef, "sgemm_gflops"), g = 0;
    if (ef && flops > 0 && s.median > 0) {
        g = flops / s.median / 1e9;
        set_num(ef, "gflops", g);
        if (fma > 0) set_num(ef, "share_of_fma_peak", g / fma);
        if (sgemm > 0) set_num(ef, "share_of_sgemm", g / sgemm);
    }

    /* The processes' warnings were about one process each: judged again
     * over all of them. */
    cJSON *w = cJSON_CreateArray();
    char where[64], msg[256];
    snprintf(where, sizeof where, "over %d process%s", k, k == 1 ? "" : "es");
    warn_facts f = {.s = &s,
                    .first_s = journal_num(journal_field(out, "phases"), "first_s"),
                    .load1 = load,
                    .cores = x->cores,
                    .governor = x->governor,
                    .target = x->target,
                    /* a scenario's precision target is its own figure's */
                    .judge_precision = !x->fixed && !journal_field(out, "scenario"),
                    .precision_where = where,
                    .gflops = g,
                    .fma_peak = isfinite(fma) ? fma : 0};
    if (!pooled) s.cv = 0; /* unknown without the samples */
    warn_add_all(w, &f);
    if (k >= 2 && spread > 0.03) {
        snprintf(msg, sizeof msg,
                 "processes differ: their medians span %.1f%% (%d processes); the interval "
                 "includes it",
                 spread * 100, k);
        cJSON_AddItemToArray(w, cJSON_CreateString(msg));
    }
    if (p->n < p->planned) {
        snprintf(msg, sizeof msg, "only %d of %d processes ran (the run was interrupted)", p->n,
                 p->planned);
        cJSON_AddItemToArray(w, cJSON_CreateString(msg));
    }
    int strays = 0;
    for (int i = 0; i < p->n; i++) {
        double s_i = journal_num(p->r[i], "strays_killed");
        if (s_i > 0 && s_i < 1e6) strays += (int)s_i;
    }
    warn_add_strays(w, strays);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "warnings");
    cJSON_AddItemToObject(out, "warnings", w);
}

/* One process's line in the trial's "processes" list. */
static cJSON *process_summary(const cJSON *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "repeat", repeat_of(r));
    cJSON_AddStringToObject(o, "status", journal_str(r, "status"));
    static const char *const keys[][2] = {{"median", "stats"},   {"n", "stats"},
                                          {"load_s", "phases"},  {"convert_s", "phases"},
                                          {"first_s", "phases"}, {"peak", "memory"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double v = journal_num(journal_field(r, keys[i][1]), keys[i][0]);
        if (isfinite(v)) cJSON_AddNumberToObject(o, keys[i][0], v);
    }
    double wall = journal_num(r, "wall_s");
    if (isfinite(wall)) cJSON_AddNumberToObject(o, "wall_s", wall);
    const char *sf = journal_str(r, "samples_file");
    if (*sf) cJSON_AddStringToObject(o, "samples_file", sf);
    return o;
}

static cJSON *combine_one(const procs *p, const cctx *x) {
    /* The first process that failed speaks for the trial; else the first
     * mismatch; else the first. An interrupted process counts only when no
     * other process finished. */
    const cJSON *rep = NULL;
    for (int i = 0; i < p->n && !rep; i++)
        if (stops(journal_str(p->r[i], "status"))) rep = p->r[i];
    for (int i = 0; i < p->n && !rep; i++)
        if (!strcmp(journal_str(p->r[i], "status"), "mismatch")) rep = p->r[i];
    for (int i = 0; i < p->n && !rep; i++)
        if (strcmp(journal_str(p->r[i], "status"), "interrupted")) rep = p->r[i];
    if (!rep) rep = p->r[0];
    procs done = {.n = 0, .planned = p->planned};
    for (int i = 0; i < p->n; i++)
        if (strcmp(journal_str(p->r[i], "status"), "interrupted") || p->r[i] == rep)
            done.r[done.n++] = p->r[i];
    cJSON *out = cJSON_Duplicate(rep, 1);
    if (!out) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(out, "repeat");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "samples_file");
    if (repeat_of(rep) > 0 && stops(journal_str(rep, "status"))) {
        /* Earlier processes ran: the failure comes and goes. */
        char msg[1200];
        snprintf(msg, sizeof msg, "in process %d of %d (the earlier ones ran): %s",
                 repeat_of(rep) + 1, p->planned, journal_str(rep, "message"));
        set_str(out, "message", msg);
    }
    combine_phases(out, &done);
    double peak = 0, wall = 0;
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < done.n; i++) {
        peak = fmax(peak, journal_num(journal_field(done.r[i], "memory"), "peak"));
        double w = journal_num(done.r[i], "wall_s");
        if (isfinite(w)) wall += w;
        cJSON_AddItemToArray(list, process_summary(done.r[i]));
    }
    cJSON_AddItemToObject(out, "processes", list);
    set_num(cJSON_GetObjectItemCaseSensitive(out, "memory"), "peak", peak);
    set_num(out, "wall_s", wall);
    combine_stats(out, &done, x);
    scen_combine(out, done.r, done.n, x->target, x->fixed);
    return out;
}

/* Collects the records of trial id into p (repeat order; the first record
 * of each repeat), in one pass over the records. */
static void collect(const cJSON *records, const char *id, procs *p) {
    const cJSON **slot = calloc(COMBINE_MAX_PROCS, sizeof *slot);
    p->n = 0;
    if (!slot) return;
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        int k = repeat_of(r);
        if (k >= 0 && k < COMBINE_MAX_PROCS && !slot[k] && !strcmp(journal_str(r, "id"), id))
            slot[k] = r;
    }
    for (int k = 0; k < COMBINE_MAX_PROCS; k++)
        if (slot[k]) p->r[p->n++] = slot[k];
    free(slot);
}

static int listed(const cJSON *ids, const char *id) {
    const cJSON *x;
    cJSON_ArrayForEach(x, ids) {
        if (cJSON_IsString(x) && !strcmp(x->valuestring, id)) return 1;
    }
    return 0;
}

static void add_trial(cJSON *out, const cJSON *records, const char *id, const cctx *x) {
    procs *p = malloc(sizeof *p);
    if (!p) return;
    int planned = x->planned;
    p->planned = planned;
    collect(records, id, p);
    if (p->n == 1 && !journal_field(p->r[0], "repeat")) /* a record from before --repeats */
        cJSON_AddItemToArray(out, cJSON_Duplicate(p->r[0], 1));
    else if (p->n == 1 && planned == 1) {
        cJSON *c = cJSON_Duplicate(p->r[0], 1);
        cJSON_DeleteItemFromObjectCaseSensitive(c, "repeat");
        cJSON_AddItemToArray(out, c);
    } else if (p->n > 0) {
        cJSON *c = combine_one(p, x);
        if (c) cJSON_AddItemToArray(out, c);
    }
    free(p);
}

const cJSON *combine_planned(const cJSON *plan_json) {
    const cJSON *share = journal_field(journal_field(plan_json, "shard"), "trials");
    return share ? share : journal_field(plan_json, "trials");
}

int combine_complete(const cJSON *plan_json, const cJSON *records) {
    double rk = journal_num(plan_json, "repeats");
    int planned = int_in(rk, 1, COMBINE_MAX_PROCS, 1), n = 0;
    const cJSON *id;
    cJSON_ArrayForEach(id, combine_planned(plan_json)) {
        if (!cJSON_IsString(id)) continue;
        int done = combine_stopped(records, id->valuestring);
        for (int k = 0; k < planned && !done; k++) {
            const cJSON *r = combine_find(records, id->valuestring, k);
            if (!r || !strcmp(journal_str(r, "status"), "interrupted")) break;
            done = k == planned - 1 || !journal_field(r, "repeat");
        }
        n += done;
    }
    return n;
}

cJSON *combine_trials(const cJSON *plan_json, const cJSON *records) {
    cJSON *out = cJSON_CreateArray();
    if (!out) return NULL;
    const cJSON *ids = combine_planned(plan_json);
    double rk = journal_num(plan_json, "repeats");
    const cJSON *rule = journal_field(plan_json, "rule"),
                *mach = journal_field(plan_json, "machine");
    double target = journal_num(rule, "precision"), cores = journal_num(mach, "cpus");
    cctx x = {.planned = int_in(rk, 1, COMBINE_MAX_PROCS, 1),
              .target = isfinite(target) ? target : 0.01,
              .fixed = journal_num(rule, "samples") > 0,
              .cores = int_in(cores, 0, 1 << 20, 0),
              .governor = journal_str(mach, "governor")};
    const cJSON *id;
    cJSON_ArrayForEach(id, ids) {
        if (cJSON_IsString(id)) add_trial(out, records, id->valuestring, &x);
    }
    /* Records of trials the plan does not list (a hand-edited journal):
     * shown, not dropped. */
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        const char *rid = journal_str(r, "id");
        int seen = listed(ids, rid);
        const cJSON *o;
        cJSON_ArrayForEach(o, out) {
            seen |= !strcmp(journal_str(o, "id"), rid);
        }
        if (!seen) add_trial(out, records, rid, &x);
    }
    return out;
}
