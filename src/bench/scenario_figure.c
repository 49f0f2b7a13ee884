/* The figure each kind of trial is judged on, for tables, winners and
 * compare: one place, so they all rank scenario trials alike. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/scenario.h"
#include "util/fmt.h"

static int kind_of(const cJSON *sc) {
    const char *k = journal_str(sc, "kind");
    return !strcmp(k, "offline") ? PLAN_OFFLINE : !strcmp(k, "server") ? PLAN_SERVER : PLAN_SINGLE;
}

static int is_auto(const cJSON *sc) {
    return !strcmp(journal_str(sc, "rate_mode"), "auto");
}

void scen_figure(const cJSON *t, scen_fig *f) {
    const cJSON *sc = journal_field(t, "scenario"), *st = journal_field(t, "stats");
    memset(f, 0, sizeof *f);
    f->scenario = kind_of(sc);
    f->value = f->lo = f->hi = NAN;
    double batch = journal_num(t, "batch");
    if (!(batch > 0)) batch = 1;
    if (f->scenario == PLAN_OFFLINE) {
        f->value = journal_num(sc, "samples_per_s");
        f->lo = journal_num(sc, "ci_lo");
        f->hi = journal_num(sc, "ci_hi");
        f->higher_better = 1;
        f->what = "samples/s";
    } else if (f->scenario == PLAN_SERVER && is_auto(sc)) {
        const cJSON *br = journal_field(sc, "bracket");
        f->value = batch * journal_num(sc, "best_rate");
        f->lo = batch * journal_num(sc, "best_rate_lo");
        f->hi = batch * journal_num(sc, "best_rate_hi");
        if (!isfinite(f->lo) && cJSON_GetArraySize(br) == 2) {
            /* one process: the answer lies between the last rate met and
             * the first missed */
            f->lo = batch * cJSON_GetArrayItem(br, 0)->valuedouble;
            f->hi = batch * cJSON_GetArrayItem(br, 1)->valuedouble;
        }
        f->higher_better = 1;
        f->what = "highest rate meeting the bound";
    } else if (f->scenario == PLAN_SERVER) {
        f->value = journal_num(sc, "p99");
        f->lo = journal_num(sc, "p99_lo");
        f->hi = journal_num(sc, "p99_hi");
        f->what = "p99 latency";
    } else {
        f->value = journal_num(st, "median");
        f->lo = journal_num(st, "ci_lo");
        f->hi = journal_num(st, "ci_hi");
        f->what = "median per call";
    }
}

int scen_figure_processes(const cJSON *t, double *v, int max) {
    int n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, journal_field(journal_field(t, "scenario"), "processes")) {
        double x = journal_num(p, "figure");
        if (n < max && isfinite(x)) v[n++] = x;
    }
    return n;
}

int scen_comparable(const cJSON *a, const cJSON *b) {
    const cJSON *sa = journal_field(a, "scenario"), *sb = journal_field(b, "scenario");
    if (kind_of(sa) != kind_of(sb) || is_auto(sa) != is_auto(sb)) return 0;
    if (kind_of(sa) != PLAN_SERVER || is_auto(sa)) return 1;
    double x = journal_num(sa, "rate"), y = journal_num(sb, "rate");
    return x == y;
}

double scen_better_ratio(const cJSON *a, const cJSON *b) {
    if (!scen_comparable(a, b)) return NAN;
    scen_fig fa, fb;
    scen_figure(a, &fa);
    scen_figure(b, &fb);
    if (!(fa.value > 0) || !(fb.value > 0)) return NAN;
    return fa.higher_better ? fa.value / fb.value : fb.value / fa.value;
}

int scen_streams(const cJSON *t) {
    double s = journal_num(t, "streams");
    if (!isfinite(s)) s = journal_num(journal_field(t, "scenario"), "streams");
    return isfinite(s) && s >= 1 ? (int)s : 1;
}

int scen_describe(const cJSON *t, char *buf, size_t n) {
    const cJSON *sc = journal_field(t, "scenario");
    scen_fig f;
    scen_figure(t, &f);
    char a[32], b[32], c[32];
    if (f.scenario == PLAN_OFFLINE && isfinite(f.value)) {
        if (isfinite(f.lo))
            snprintf(buf, n, "%.4g samples/s [%.4g, %.4g] on %d stream%s", f.value, f.lo, f.hi,
                     scen_streams(t), scen_streams(t) > 1 ? "s" : "");
        else
            snprintf(buf, n, "%.4g samples/s on %d stream%s", f.value, scen_streams(t),
                     scen_streams(t) > 1 ? "s" : "");
        return 1;
    }
    if (f.scenario != PLAN_SERVER || !sc) return 0;
    double bound = journal_num(sc, "latency_bound");
    const cJSON *met = journal_field(sc, "met");
    if (is_auto(sc)) {
        double best = journal_num(sc, "best_rate");
        if (isfinite(best))
            snprintf(buf, n, "%.4g/s is the highest rate with p99 <= %s (%d steps)", best,
                     fmt_time(bound, a, sizeof a), cJSON_GetArraySize(journal_field(sc, "steps")));
        else
            snprintf(buf, n, "no rate met p99 <= %s (%d steps)", fmt_time(bound, a, sizeof a),
                     cJSON_GetArraySize(journal_field(sc, "steps")));
        return 1;
    }
    snprintf(buf, n, "p99 %s at %.4g/s (achieved %s)%s%s",
             fmt_time(journal_num(sc, "p99"), a, sizeof a), journal_num(sc, "rate"),
             fmt_rate(journal_num(sc, "achieved_rate"), b, sizeof b),
             cJSON_IsBool(met) ? (cJSON_IsTrue(met) ? ", met <= " : ", missed <= ") : "",
             cJSON_IsBool(met) ? fmt_time(bound, c, sizeof c) : "");
    return 1;
}
