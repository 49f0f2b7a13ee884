/* A scenario trial's worker processes as one trial (see scenario.h:
 * scen_combine). Each process's scenario figures are kept under
 * "processes"; the trial's figure is the median over processes, with an
 * interval that holds the spread inside and between them, as combine.c
 * does for the median per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/combine.h"
#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/scenario_internal.h"
#include "bench/stats.h"

#define SCEN_MAX_PROCS 1000

static void set_num(cJSON *o, const char *k, double v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void set_item(cJSON *o, const char *k, cJSON *v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddItemToObject(o, k, v);
}

/* The processes' figures of one trial. */
typedef struct procs {
    const cJSON *sc[SCEN_MAX_PROCS]; /* each process's scenario object */
    double fig[SCEN_MAX_PROCS];
    int k;
    int mid; /* the process whose figure is the median (the lower one of two) */
} procs;

static int cmp_double(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

static double median(const double *v, int k) {
    double *s = malloc(sizeof *s * (size_t)k);
    if (!s) return NAN;
    memcpy(s, v, sizeof *s * (size_t)k);
    qsort(s, (size_t)k, sizeof *s, cmp_double);
    double m = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    free(s);
    return m;
}

/* The median of field k over the processes (those that have it). */
static double median_of(const procs *p, const char *key) {
    double v[SCEN_MAX_PROCS];
    int n = 0;
    for (int i = 0; i < p->k; i++) {
        double x = journal_num(p->sc[i], key);
        if (isfinite(x)) v[n++] = x;
    }
    return n ? median(v, n) : NAN;
}

static double sum_of(const procs *p, const char *key) {
    double s = 0;
    for (int i = 0; i < p->k; i++) {
        double x = journal_num(p->sc[i], key);
        if (isfinite(x)) s += x;
    }
    return s;
}

/* The interval of value: the t interval of the k per-process figures,
 * widened to [lo, hi] (NAN: no such interval) and to value itself; written
 * as k_lo and k_hi. */
static void widen(cJSON *sc, double value, double lo, double hi, const char *k_lo, const char *k_hi,
                  const double *figs, int k) {
    double mean, tlo, thi;
    stats_process_interval(figs, k, &mean, &tlo, &thi);
    lo = isfinite(lo) ? fmin(lo, tlo) : tlo;
    hi = isfinite(hi) ? fmax(hi, thi) : thi;
    lo = fmax(lo, 0); /* rates and latencies are never negative */
    set_num(sc, k_lo, fmin(lo, value));
    set_num(sc, k_hi, fmax(hi, value));
}

/* offline: all processes' time slices pooled, and the t interval of the
 * processes' samples/s. */
static void combine_offline(cJSON *sc, const procs *p) {
    double *rates = malloc(sizeof *rates * (size_t)p->k * SCEN_SLICES + 1);
    int n = 0;
    for (int i = 0; rates && i < p->k; i++) {
        const cJSON *x;
        cJSON_ArrayForEach(x, journal_field(p->sc[i], "slice_rates")) {
            if (cJSON_IsNumber(x)) rates[n++] = x->valuedouble;
        }
    }
    double mean = NAN, lo = NAN, hi = NAN, value = median(p->fig, p->k);
    if (n >= 2) stats_process_interval(rates, n, &mean, &lo, &hi);
    free(rates);
    set_num(sc, "samples_per_s", value);
    widen(sc, value, lo, hi, "ci_lo", "ci_hi", p->fig, p->k);
    set_num(sc, "ci_rel",
            value > 0 ? (journal_num(sc, "ci_hi") - journal_num(sc, "ci_lo")) / value : NAN);
    set_item(sc, "ci_method",
             cJSON_CreateString("median of the processes' samples/s; interval: the t interval of "
                                "the per-process figures widened to the batch means of all their "
                                "time slices pooled"));
    set_num(sc, "completions", sum_of(p, "completions"));
    set_num(sc, "window_s", sum_of(p, "window_s"));
    cJSON *per = cJSON_CreateArray();
    for (int s = 0; s < cJSON_GetArraySize(journal_field(p->sc[0], "per_stream")); s++) {
        double c = 0;
        for (int i = 0; i < p->k; i++) {
            const cJSON *x = cJSON_GetArrayItem(journal_field(p->sc[i], "per_stream"), s);
            if (cJSON_IsNumber(x)) c += x->valuedouble;
        }
        cJSON_AddItemToArray(per, cJSON_CreateNumber(c));
    }
    set_item(sc, "per_stream", per);
    cJSON_DeleteItemFromObjectCaseSensitive(sc, "slice_rates");
}

/* An offline trial's GFLOP/s are those of all its streams together (as
 * each process reported them), from the combined samples/s: combine.c
 * recomputed them from the median per call, the rate of one stream. */
static void offline_efficiency(cJSON *out, double samples_per_s) {
    cJSON *ef = cJSON_GetObjectItemCaseSensitive(out, "efficiency");
    double flops = journal_num(ef, "flops_per_inference"), batch = journal_num(out, "batch");
    if (!ef || !(flops > 0) || !(batch > 0) || !(samples_per_s > 0)) return;
    double g = flops * samples_per_s / batch / 1e9, fma = journal_num(ef, "fma_peak_gflops"),
           sgemm = journal_num(ef, "sgemm_gflops");
    set_num(ef, "gflops", g);
    if (fma > 0) set_num(ef, "share_of_fma_peak", g / fma);
    if (sgemm > 0) set_num(ef, "share_of_sgemm", g / sgemm);
}

/* Every process's request latencies (+inf for those never served),
 * sorted; NULL when a file is gone. */
static double *pooled_latencies(const procs *p, size_t *n) {
    double *v = NULL;
    size_t cap = 0;
    *n = 0;
    for (int i = 0; i < p->k; i++) {
        const cJSON *f = journal_field(p->sc[i], "latency_file");
        if (!cJSON_IsString(f) || combine_read_samples(f->valuestring, &v, n, &cap)) {
            free(v);
            *n = 0;
            return NULL;
        }
    }
    if (v) qsort(v, *n, sizeof *v, cmp_double);
    return v;
}

/* A server at a fixed rate: each percentile the median of the processes',
 * its interval widened to the order-statistic interval of all their
 * latencies pooled. */
static void combine_fixed(cJSON *sc, const procs *p, double bound) {
    size_t n;
    double *lat = pooled_latencies(p, &n);
    static const struct {
        const char *key, *lo, *hi;
        double q;
    } qs[] = {{"p50", "p50_lo", "p50_hi", 0.5},
              {"p90", "p90_lo", "p90_hi", 0.9},
              {"p99", "p99_lo", "p99_hi", 0.99}};
    for (int j = 0; j < 3; j++) {
        double figs[SCEN_MAX_PROCS], lo = NAN, hi = NAN;
        int m = 0;
        for (int i = 0; i < p->k; i++) {
            double x = journal_num(p->sc[i], qs[j].key);
            figs[m++] = isfinite(x) ? x : INFINITY; /* unbounded: never served */
        }
        double value = median(figs, m);
        size_t a, b;
        if (lat && stats_quantile_ci_ranks(n, qs[j].q, 0.95, &a, &b)) lo = lat[a], hi = lat[b];
        set_num(sc, qs[j].key, value);
        widen(sc, value, lo, hi, qs[j].lo, qs[j].hi, figs, m);
    }
    free(lat);
    static const char *const med[] = {"achieved_rate",    "duration_s",   "latency_mean",
                                      "wait_mean",        "service_mean", "utilisation",
                                      "issue_delay_mean", "samples_per_s"};
    for (size_t j = 0; j < sizeof med / sizeof med[0]; j++)
        if (journal_field(sc, med[j])) set_num(sc, med[j], median_of(p, med[j]));
    static const char *const sums[] = {"requests", "served", "unserved"};
    for (size_t j = 0; j < sizeof sums / sizeof sums[0]; j++)
        set_num(sc, sums[j], sum_of(p, sums[j]));
    if (bound > 0) set_item(sc, "met", cJSON_CreateBool(journal_num(sc, "p99") <= bound));
    set_item(sc, "pooled",
             cJSON_CreateString(lat ? "medians over processes; intervals widened to all "
                                      "latencies pooled"
                                    : "medians over processes (latency files missing)"));
}

/* --rate auto: the median of the processes' answers (0 where none met),
 * the median process's figures at the top. */
static void combine_auto(cJSON *sc, const procs *p, double batch) {
    const cJSON *mid = p->sc[p->mid];
    static const char *const step_keys[] = {"rate",         "requests",         "served",
                                            "unserved",     "duration_s",       "achieved_rate",
                                            "p50",          "p50_lo",           "p50_hi",
                                            "p90",          "p90_lo",           "p90_hi",
                                            "p99",          "p99_lo",           "p99_hi",
                                            "met",          "latency_mean",     "wait_mean",
                                            "service_mean", "utilisation",      "issue_delay_mean",
                                            "bracket",      "bracket_hi_tried", "service_median",
                                            "capacity"};
    for (size_t j = 0; j < sizeof step_keys / sizeof step_keys[0]; j++) {
        const cJSON *v = journal_field(mid, step_keys[j]);
        if (v)
            set_item(sc, step_keys[j], cJSON_Duplicate(v, 1));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(sc, step_keys[j]);
    }
    double rates[SCEN_MAX_PROCS]; /* the figures are samples/s: batch x rate */
    for (int i = 0; i < p->k; i++) rates[i] = p->fig[i] / batch;
    double value = median(rates, p->k);
    const cJSON *br = journal_field(mid, "bracket");
    double lo = NAN, hi = NAN;
    if (cJSON_GetArraySize(br) == 2) {
        lo = cJSON_GetArrayItem(br, 0)->valuedouble;
        hi = cJSON_GetArrayItem(br, 1)->valuedouble;
    }
    if (value > 0) {
        set_num(sc, "best_rate", value);
        set_num(sc, "samples_per_s", batch * value);
        widen(sc, value, lo, hi, "best_rate_lo", "best_rate_hi", rates, p->k);
    } else {
        set_item(sc, "best_rate", cJSON_CreateNull());
        cJSON_DeleteItemFromObjectCaseSensitive(sc, "samples_per_s");
    }
}

/* Each process's scenario warnings, once; not the precision each reached,
 * which is judged again on the trial's interval. */
static void add_warnings(cJSON *out, const procs *p, double precision, int fixed) {
    cJSON *w = cJSON_GetObjectItemCaseSensitive(out, "warnings");
    if (!w) w = cJSON_AddArrayToObject(out, "warnings");
    for (int i = 0; i < p->k; i++) {
        const cJSON *x;
        cJSON_ArrayForEach(x, journal_field(p->sc[i], "warnings")) {
            int seen = 0;
            const cJSON *y;
            cJSON_ArrayForEach(y, w) {
                seen |= cJSON_IsString(y) && cJSON_IsString(x) &&
                        !strcmp(y->valuestring, x->valuestring);
            }
            if (!seen && cJSON_IsString(x) && strncmp(x->valuestring, "precision not", 13))
                cJSON_AddItemToArray(w, cJSON_Duplicate(x, 1));
        }
    }
    const cJSON *sc = journal_field(out, "scenario");
    double rel = journal_num(sc, "ci_rel");
    if (!fixed && isfinite(rel) && rel > precision) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "precision not reached: the throughput's interval is %.1f%% wide over %d "
                 "process%s (target %.1f%%)",
                 rel * 100, p->k, p->k == 1 ? "" : "es", precision * 100);
        cJSON_AddItemToArray(w, cJSON_CreateString(msg));
    }
}

void scen_combine(cJSON *out, const cJSON *const *recs, int n, double precision, int fixed) {
    cJSON *sc = cJSON_GetObjectItemCaseSensitive(out, "scenario");
    if (!sc) return;
    procs *p = calloc(1, sizeof *p);
    cJSON *list = cJSON_CreateArray();
    if (!p || !list) {
        free(p);
        cJSON_Delete(list);
        return;
    }
    scen_fig f;
    for (int i = 0; i < n && p->k < SCEN_MAX_PROCS; i++) {
        const cJSON *psc = journal_field(recs[i], "scenario");
        if (!psc) continue;
        scen_figure(recs[i], &f);
        double v = isfinite(f.value) ? f.value : f.higher_better ? 0 : INFINITY;
        cJSON *e = cJSON_Duplicate(psc, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(e, "warnings");
        cJSON_AddNumberToObject(e, "repeat", journal_num(recs[i], "repeat"));
        cJSON_AddNumberToObject(e, "figure", v);
        cJSON_AddItemToArray(list, e);
        p->sc[p->k] = psc;
        p->fig[p->k++] = v;
    }
    /* the process with the median figure (a stable choice: the first such) */
    double m = p->k ? median(p->fig, p->k) : NAN;
    for (int i = 0; i < p->k; i++)
        if (fabs(p->fig[i] - m) < fabs(p->fig[p->mid] - m)) p->mid = i;
    set_item(sc, "processes", list);
    scen_figure(out, &f);
    double batch = journal_num(out, "batch") > 0 ? journal_num(out, "batch") : 1;
    if (p->k >= 2 && f.scenario == PLAN_OFFLINE)
        combine_offline(sc, p);
    else if (p->k >= 2 && !strcmp(journal_str(sc, "rate_mode"), "auto"))
        combine_auto(sc, p, batch);
    else if (p->k >= 2)
        combine_fixed(sc, p, journal_num(sc, "latency_bound"));
    if (f.scenario == PLAN_OFFLINE) offline_efficiency(out, journal_num(sc, "samples_per_s"));
    add_warnings(out, p, precision, fixed);
    free(p);
}
