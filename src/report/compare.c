#include "report/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"
#include "report/rdoc.h"
#include "util/err.h"
#include "util/fmt.h"

typedef struct verdict {
    const char *id;
    double ratio, lo, hi; /* cur / base medians, conservative interval */
    double p;             /* rank-test p-value, or NAN when decided by intervals */
    const char *speed;    /* "faster", "slower", "same", "-" */
    char change[256];     /* status or validation change, "" if none */
    int fails;            /* this trial makes the comparison fail */
} verdict;

static const cJSON *find_trial(const cJSON *doc, const char *id) {
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (!strcmp(rd_str(t, "id"), id)) return t;
    }
    return NULL;
}

/* Raw samples of a trial, or NULL (count in *n). */
static double *samples_of(const cJSON *t, size_t *n) {
    const cJSON *arr = rd_get(t, "samples");
    int count = cJSON_GetArraySize(arr);
    *n = 0;
    if (count < 2) return NULL;
    double *v = malloc(sizeof(double) * (size_t)count);
    if (!v) return NULL;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        if (cJSON_IsNumber(x)) v[(*n)++] = x->valuedouble;
    }
    return v;
}

static stats_summary summary_of(const cJSON *t) {
    stats_summary s = {0};
    s.median = rd_num(t, "stats.median");
    s.ci_lo = rd_num(t, "stats.ci_lo");
    s.ci_hi = rd_num(t, "stats.ci_hi");
    return s;
}

static int is_failure(const char *status) {
    return strcmp(status, "ok") && strcmp(status, "unavailable") && *status;
}

static void judge(const cJSON *b, const cJSON *c, const compare_opts *o, verdict *v) {
    v->ratio = v->lo = v->hi = v->p = NAN;
    v->speed = "-";
    const char *sb = rd_str(b, "status"), *sc = rd_str(c, "status");
    if (strcmp(sb, sc)) {
        snprintf(v->change, sizeof v->change, "status %s -> %s", sb, sc);
        if (!is_failure(sb) && is_failure(sc)) v->fails = 1;
    }
    const char *vb = rd_verdict(b), *vc = rd_verdict(c);
    if (!strcmp(vb, "pass") && !strcmp(vc, "fail")) {
        size_t used = strlen(v->change);
        snprintf(v->change + used, sizeof v->change - used, "%svalidation newly fails (%s)",
                 used ? "; " : "", vc);
        v->fails = 1;
    }
    stats_summary sb_s = summary_of(b), sc_s = summary_of(c);
    if (!(sb_s.median > 0) || !(sc_s.median > 0)) return;
    stats_ratio_interval(&sb_s, &sc_s, &v->ratio, &v->lo, &v->hi);
    size_t nb, nc;
    double *xb = samples_of(b, &nb), *xc = samples_of(c, &nc);
    int significant;
    if (xb && xc) {
        v->p = stats_rank_test(xb, nb, xc, nc, NULL);
        significant = v->p < o->alpha;
    } else {
        significant = v->lo > 1.0 || v->hi < 1.0;
    }
    free(xb);
    free(xc);
    v->speed = !significant ? "same" : (v->ratio > 1 ? "slower" : "faster");
    if (significant && v->ratio > 1 && o->fail_if_slower >= 0 && v->ratio > 1 + o->fail_if_slower)
        v->fails = 1;
}

static const char *model_key(const cJSON *doc, const char **what) {
    const char *sha = rd_str(doc, "model.sha256");
    *what = *sha ? "SHA-256" : "name";
    return *sha ? sha : rd_str(doc, "model.name");
}

static void print_text(FILE *f, const verdict *v, int n, int md) {
    if (md) {
        fputs("| trial | new / base | interval | p | verdict | change |\n"
              "|---|---:|---|---:|---|---|\n",
              f);
    } else {
        fprintf(f, "%-28s %10s  %-17s %8s  %-7s %s\n", "TRIAL", "NEW/BASE", "INTERVAL", "P",
                "VERDICT", "CHANGE");
    }
    for (int i = 0; i < n; i++) {
        char ratio[32] = "-", iv[48] = "-", p[24] = "-";
        if (isfinite(v[i].ratio)) snprintf(ratio, sizeof ratio, "%.3f", v[i].ratio);
        if (isfinite(v[i].lo)) snprintf(iv, sizeof iv, "%.3f - %.3f", v[i].lo, v[i].hi);
        if (isfinite(v[i].p)) snprintf(p, sizeof p, "%.2g", v[i].p);
        const char *verdict =
            v[i].fails ? (strcmp(v[i].speed, "slower") ? "FAIL" : "SLOWER") : v[i].speed;
        if (md)
            fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", v[i].id, ratio, iv, p, verdict,
                    v[i].change);
        else
            fprintf(f, "%-28s %10s  %-17s %8s  %-7s %s\n", v[i].id, ratio, iv, p, verdict,
                    v[i].change);
    }
}

static void print_json(FILE *f, const verdict *v, int n, int failed) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "failed", failed);
    cJSON *arr = cJSON_AddArrayToObject(root, "trials");
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", v[i].id);
        if (isfinite(v[i].ratio)) {
            cJSON_AddNumberToObject(t, "ratio", v[i].ratio);
            cJSON_AddNumberToObject(t, "ratio_lo", v[i].lo);
            cJSON_AddNumberToObject(t, "ratio_hi", v[i].hi);
        }
        if (isfinite(v[i].p)) cJSON_AddNumberToObject(t, "p", v[i].p);
        cJSON_AddStringToObject(t, "speed", v[i].speed);
        cJSON_AddStringToObject(t, "change", v[i].change);
        cJSON_AddBoolToObject(t, "fails", v[i].fails);
        cJSON_AddItemToArray(arr, t);
    }
    char *text = cJSON_Print(root);
    if (text) fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

int compare_reports(const cJSON *base, const cJSON *cur, const compare_opts *o, FILE *f,
                    calma_error *e) {
    const char *wb, *wc;
    const char *kb = model_key(base, &wb), *kc = model_key(cur, &wc);
    if (strcmp(wb, wc) == 0 && strcmp(kb, kc) != 0) {
        err_set(e, CALMA_E_USAGE, "the reports are of different models: %s %s (%s) vs %s (%s)", wb,
                kb, rd_str(base, "model.name"), kc, rd_str(cur, "model.name"));
        return -1;
    }
    int n = cJSON_GetArraySize(rd_get(cur, "trials"));
    verdict *v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        err_set(e, CALMA_E_NOMEM, "out of memory");
        return -1;
    }
    int m = 0, failed = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, rd_get(cur, "trials")) {
        const char *id = rd_str(c, "id");
        const cJSON *b = find_trial(base, id);
        if (!b) continue;
        v[m].id = id;
        judge(b, c, o, &v[m]);
        failed |= v[m].fails;
        m++;
    }
    if (o->format == REPORT_JSON)
        print_json(f, v, m, failed);
    else {
        print_text(f, v, m, o->format == REPORT_MD);
        if (m == 0) fputs("no trial is in both reports\n", f);
        fprintf(f, "%s\n", failed ? "result: FAIL" : "result: pass");
    }
    free(v);
    return failed ? 1 : 0;
}
