/* Precision-aware views of trial records, for the table and report.json:
 * a trial's precision, and the accuracy figures a reduced-precision trial is
 * judged on. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

static const cJSON *get(const cJSON *j, const char *k) {
    return j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
}

const char *bench_trial_precision(const cJSON *rec) {
    const cJSON *p = get(rec, "precision");
    return cJSON_IsString(p) && p->valuestring[0] ? p->valuestring : "fp32";
}

const char *bench_accuracy_text(const cJSON *rec, const char *verdict, char *buf, size_t n) {
    const cJSON *v = get(rec, "validation");
    snprintf(buf, n, "%s", verdict);
    if (!get(v, "outputs") || !strcmp(bench_trial_precision(rec), "fp32")) return buf;
    /* the figures a reduced-precision trial is judged on: the worst output */
    double cos = INFINITY, top1 = INFINITY;
    const cJSON *o;
    cJSON_ArrayForEach(o, get(v, "outputs")) {
        const cJSON *c = get(o, "cosine"), *t = get(o, "top1");
        if (cJSON_IsNumber(c) && c->valuedouble < cos) cos = c->valuedouble;
        if (cJSON_IsNumber(t) && t->valuedouble < top1) top1 = t->valuedouble;
    }
    size_t used = strlen(buf);
    if (isfinite(cos) && used < n) used += (size_t)snprintf(buf + used, n - used, " cos %.5f", cos);
    if (isfinite(top1) && used < n) snprintf(buf + used, n - used, " top-1 %.0f%%", 100 * top1);
    return buf;
}
