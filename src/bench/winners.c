/* Which trials win, and which conversion speed-ups are measured against. */
#include <math.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/journal.h"
#include "bench/scenario.h"

static int is_ok(const cJSON *t) {
    return !strcmp(journal_str(t, "status"), "ok");
}

double bench_samples_per_s(const cJSON *t) {
    return journal_field(t, "scenario") ? journal_num(t, "scenario.samples_per_s")
                                        : journal_num(t, "throughput.per_s_median");
}

void bench_find_winners(const cJSON *trials, bench_winners *w) {
    bench_find_winners_of(trials, NULL, w);
}

void bench_find_winners_of(const cJSON *trials, const char *precision, bench_winners *w) {
    memset(w, 0, sizeof *w);
    w->latency_batch = NAN;
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        double b = journal_num(t, "batch");
        if (is_ok(t) && (!precision || !strcmp(bench_trial_precision(t), precision)) &&
            isfinite(journal_num(t, "stats.median")) &&
            (!isfinite(w->latency_batch) || b < w->latency_batch))
            w->latency_batch = b;
    }
    double best_m = INFINITY, best_tp = 0;
    cJSON_ArrayForEach(t, trials) {
        if (!is_ok(t) || (precision && strcmp(bench_trial_precision(t), precision))) continue;
        double m = journal_num(t, "stats.median"), tp = bench_samples_per_s(t);
        if (journal_num(t, "batch") == w->latency_batch && m < best_m) best_m = m, w->latency = t;
        if (isfinite(tp) && tp > best_tp) best_tp = tp, w->throughput = t;
    }
}

static int has_ok(const cJSON *trials, const char *conv) {
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        if (is_ok(t) && !strcmp(journal_str(t, "conversion"), conv)) return 1;
    }
    return 0;
}

const char *bench_baseline_name(const cJSON *plan_json, const cJSON *trials) {
    const char *chosen = journal_str(plan_json, "baseline");
    if (*chosen) return chosen;
    static const char *const preferred[] = {"TORCH_EAGER", "ORT_CPU"};
    for (int i = 0; i < 2; i++)
        if (has_ok(trials, preferred[i])) return preferred[i];
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        if (is_ok(t)) return journal_str(t, "conversion");
    }
    return NULL;
}

const cJSON *bench_baseline_trial(const cJSON *trials, const char *name, const cJSON *like) {
    if (!name) return NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        if (is_ok(t) && !strcmp(journal_str(t, "conversion"), name) &&
            journal_num(t, "batch") == journal_num(like, "batch") &&
            journal_num(t, "threads") == journal_num(like, "threads") &&
            scen_streams(t) == scen_streams(like))
            return t;
    }
    return NULL;
}

int bench_exit_code(const cJSON *trials, int strict) {
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        const char *s = journal_str(t, "status");
        if (!strcmp(s, "ok")) continue;
        if (!strcmp(s, "unavailable") || !strcmp(s, "unsupported")) {
            if (strict) return 1;
            continue;
        }
        return 1;
    }
    return 0;
}

cJSON *bench_model_trials(const cJSON *trials, const char *model) {
    cJSON *a = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        const char *m = journal_str(t, "model");
        if (!*m || !strcmp(m, model)) cJSON_AddItemReferenceToArray(a, (cJSON *)t);
    }
    return a;
}
