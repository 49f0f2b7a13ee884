#include "report/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/journal.h"
#include "bench/scenario.h"
#include "bench/stats.h"
#include "report/rdoc.h"
#include "util/err.h"
#include "util/fmt.h"
#include "util/text.h"

#define COMPARE_MAX_PROCS 1000

typedef struct verdict {
    const char *id;
    double ratio, lo, hi; /* cur / base medians, conservative interval */
    double p;             /* two-sided p-value, NAN when there are no medians */
    const char *test;     /* how p was computed */
    const char *what;     /* the figure compared (src/bench/scenario.h: scen_figure) */
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

/* The numbers of array path in t, or NULL (count in *n). */
static double *numbers_of(const cJSON *t, const char *path, size_t *n) {
    const cJSON *arr = rd_get(t, path);
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

/* The trial's figure as a cost (lower is better) with its interval: the
 * median per call, or a scenario's figure (src/bench/scenario.h), samples/s
 * and rates inverted so that a ratio above 1 is always slower. */
static stats_summary summary_of(const cJSON *t) {
    scen_fig f;
    scen_figure(t, &f);
    stats_summary s = {0};
    s.median = f.higher_better ? 1 / f.value : f.value;
    s.ci_lo = f.higher_better ? 1 / f.hi : f.lo;
    s.ci_hi = f.higher_better ? 1 / f.lo : f.hi;
    return s;
}

/* A scenario trial's per-process figures as costs, or NULL. */
static double *process_costs(const cJSON *t, size_t *n) {
    double v[COMPARE_MAX_PROCS];
    int k = scen_figure_processes(t, v, COMPARE_MAX_PROCS);
    *n = 0;
    if (k < 2) return NULL;
    double *out = malloc(sizeof *out * (size_t)k);
    if (!out) return NULL;
    scen_fig f;
    scen_figure(t, &f);
    for (int i = 0; i < k; i++) {
        out[i] = f.higher_better ? 1 / v[i] : v[i];
        if (!isfinite(out[i]) || !(out[i] > 0)) { /* a process that met nothing */
            free(out);
            return NULL;
        }
    }
    *n = (size_t)k;
    return out;
}

static int is_failure(const char *status) {
    return strcmp(status, "ok") && strcmp(status, "unavailable") && *status;
}

/* The p-value of "same speed" by the best test both reports allow. A
 * scenario trial's raw samples are per-call times, not its figure: it has
 * the t-test on its per-process figures, else the intervals. */
static double p_value(const cJSON *b, const cJSON *c, const char **test) {
    int scen = rd_get(b, "scenario") || rd_get(c, "scenario");
    size_t nb = 0, nc = 0;
    double p;
    double *xb = scen ? NULL : numbers_of(b, "samples", &nb);
    double *xc = scen ? NULL : numbers_of(c, "samples", &nc);
    if (xb && xc && nb >= 2 && nc >= 2) {
        p = stats_rank_test(xb, nb, xc, nc, NULL);
        *test = "rank test on raw samples";
    } else {
        free(xb);
        free(xc);
        xb = scen ? process_costs(b, &nb) : numbers_of(b, "repeats.medians", &nb);
        xc = scen ? process_costs(c, &nc) : numbers_of(c, "repeats.medians", &nc);
        if (xb && xc && nb >= 2 && nc >= 2) {
            p = stats_welch_test(xb, (int)nb, xc, (int)nc);
            *test = scen ? "t-test on per-process figures" : "t-test on per-process medians";
        } else {
            stats_summary sb = summary_of(b), sc = summary_of(c);
            p = stats_interval_test(sb.median, sb.ci_lo, sb.ci_hi, sc.median, sc.ci_lo, sc.ci_hi);
            *test = scen ? "from the figures' intervals" : "from the medians' intervals";
        }
    }
    free(xb);
    free(xc);
    return p;
}

static void judge(const cJSON *b, const cJSON *c, const compare_opts *o, verdict *v) {
    v->ratio = v->lo = v->hi = v->p = NAN;
    v->speed = "-";
    v->test = "";
    scen_fig f;
    scen_figure(c, &f);
    v->what = f.what;
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
    if (!scen_comparable(b, c)) {
        size_t used = strlen(v->change);
        snprintf(v->change + used, sizeof v->change - used,
                 "%sthe scenario differs: not compared on speed", used ? "; " : "");
        return;
    }
    stats_summary sb_s = summary_of(b), sc_s = summary_of(c);
    if (!(sb_s.median > 0) || !(sc_s.median > 0)) return;
    stats_ratio_interval(&sb_s, &sc_s, &v->ratio, &v->lo, &v->hi);
    v->p = p_value(b, c, &v->test);
    int significant = v->p < o->alpha;
    double up = 1 + o->min_effect;
    if (significant && v->lo > up)
        v->speed = "slower";
    else if (significant && v->hi < 1 / up)
        v->speed = "faster";
    else
        v->speed = "same";
    if (!strcmp(v->speed, "slower") && o->fail_if_slower >= 0 && v->lo > 1 + o->fail_if_slower)
        v->fails = 1;
}

static const char *model_key(const cJSON *doc, const char **what) {
    const char *sha = rd_str(doc, "model.sha256");
    *what = *sha ? "SHA-256" : "name";
    return *sha ? sha : rd_str(doc, "model.name");
}

/* Appends to names the ids of trials in a and not in b. */
static int only_in(const cJSON *a, const cJSON *b, cJSON *names) {
    int n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(a, "trials")) {
        if (find_trial(b, rd_str(t, "id"))) continue;
        cJSON_AddItemToArray(names, cJSON_CreateString(rd_str(t, "id")));
        n++;
    }
    return n;
}

/* A report whose trials each ran in one process: its intervals miss the
 * largest noise on a shared machine. */
static int single_process(const cJSON *doc) {
    double k = rd_num(doc, "plan.repeats");
    return !(k > 1);
}

/* A report's text (a trial id, a status): reports come from anywhere. */
static void put_text(FILE *f, const char *s, int md) {
    if (md)
        rd_md_escape(f, s);
    else
        text_fputs_printable(f, s, 200);
}

static void print_text(FILE *f, const verdict *v, int n, int md) {
    if (md) {
        fputs("| trial | new / base | interval | p | test | verdict | change |\n"
              "|---|---:|---|---:|---|---|---|\n",
              f);
    } else {
        fprintf(f, "%-28s %9s  %-13s %8s  %-7s %s\n", "TRIAL", "NEW/BASE", "INTERVAL", "P",
                "VERDICT", "CHANGE");
    }
    for (int i = 0; i < n; i++) {
        char ratio[32] = "-", iv[48] = "-", p[24] = "-";
        if (isfinite(v[i].ratio)) snprintf(ratio, sizeof ratio, "%.3f", v[i].ratio);
        if (isfinite(v[i].lo)) snprintf(iv, sizeof iv, "%.3f-%.3f", v[i].lo, v[i].hi);
        if (isfinite(v[i].p)) snprintf(p, sizeof p, "%.2g", v[i].p);
        const char *verdict =
            v[i].fails ? (strcmp(v[i].speed, "slower") ? "FAIL" : "SLOWER") : v[i].speed;
        if (md) {
            fputs("| ", f);
            put_text(f, v[i].id, 1);
            fprintf(f, " | %s | %s | %s | %s | %s | ", ratio, iv, p, v[i].test, verdict);
            put_text(f, v[i].change, 1);
            fputs(" |\n", f);
        } else {
            char id[64];
            snprintf(id, sizeof id, "%s", v[i].id);
            text_printable(id);
            fprintf(f, "%-28s %9s  %-13s %8s  %-7s ", id, ratio, iv, p, verdict);
            put_text(f, v[i].change, 0);
            fputc('\n', f);
        }
    }
}

static void print_list(FILE *f, const char *what, const cJSON *names, int md) {
    if (cJSON_GetArraySize(names) == 0) return;
    fprintf(f, md ? "\n**%s:** " : "%s: ", what);
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, names) {
        fputs(i++ ? ", " : "", f);
        put_text(f, x->valuestring, md);
    }
    fputc('\n', f);
}

static void print_json(FILE *f, const verdict *v, int n, int failed, const compare_opts *o,
                       cJSON *added, cJSON *removed, cJSON *notes) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "failed", failed);
    cJSON_AddNumberToObject(root, "alpha", o->alpha);
    cJSON_AddNumberToObject(root, "min_effect", o->min_effect);
    if (o->fail_if_slower >= 0) cJSON_AddNumberToObject(root, "fail_if_slower", o->fail_if_slower);
    cJSON *arr = cJSON_AddArrayToObject(root, "trials");
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", v[i].id);
        if (isfinite(v[i].ratio)) {
            cJSON_AddNumberToObject(t, "ratio", v[i].ratio);
            cJSON_AddNumberToObject(t, "ratio_lo", v[i].lo);
            cJSON_AddNumberToObject(t, "ratio_hi", v[i].hi);
        }
        if (isfinite(v[i].p)) {
            cJSON_AddNumberToObject(t, "p", v[i].p);
            cJSON_AddStringToObject(t, "test", v[i].test);
        }
        cJSON_AddStringToObject(t, "judged_on", v[i].what ? v[i].what : "");
        cJSON_AddStringToObject(t, "speed", v[i].speed);
        cJSON_AddStringToObject(t, "change", v[i].change);
        cJSON_AddBoolToObject(t, "fails", v[i].fails);
        cJSON_AddItemToArray(arr, t);
    }
    cJSON_AddItemToObject(root, "added", cJSON_Duplicate(added, 1));
    cJSON_AddItemToObject(root, "removed", cJSON_Duplicate(removed, 1));
    cJSON_AddItemToObject(root, "notes", cJSON_Duplicate(notes, 1));
    char *text = journal_print(root, 1);
    if (text) fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

/* Reports of several models: each model both have must be the same file
 * (SHA-256), and they must share one. */
static int same_models(const cJSON *base, const cJSON *cur, calma_error *e) {
    int common = 0;
    const cJSON *mb, *mc;
    cJSON_ArrayForEach(mb, rd_get(base, "models")) {
        cJSON_ArrayForEach(mc, rd_get(cur, "models")) {
            if (strcmp(rd_str(mb, "name"), rd_str(mc, "name"))) continue;
            common++;
            if (*rd_str(mb, "sha256") && strcmp(rd_str(mb, "sha256"), rd_str(mc, "sha256")))
                return err_set(e, CALMA_E_USAGE,
                               "model %s differs between the reports: SHA-256 %s vs %s",
                               rd_str(mb, "name"), rd_str(mb, "sha256"), rd_str(mc, "sha256"));
        }
    }
    if (!common) return err_set(e, CALMA_E_USAGE, "the reports have no model in common");
    return CALMA_OK;
}

int compare_reports(const cJSON *base, const cJSON *cur, const compare_opts *o, FILE *f,
                    calma_error *e) {
    if (cJSON_GetArraySize(rd_get(base, "models")) > 1 ||
        cJSON_GetArraySize(rd_get(cur, "models")) > 1) {
        if (same_models(base, cur, e)) return -1;
    } else {
        const char *wb, *wc;
        const char *kb = model_key(base, &wb), *kc = model_key(cur, &wc);
        if (strcmp(wb, wc) == 0 && strcmp(kb, kc) != 0) {
            err_set(e, CALMA_E_USAGE, "the reports are of different models: %s %s (%s) vs %s (%s)",
                    wb, kb, rd_str(base, "model.name"), kc, rd_str(cur, "model.name"));
            return -1;
        }
    }
    int n = cJSON_GetArraySize(rd_get(cur, "trials"));
    verdict *v = calloc((size_t)n + 1, sizeof *v);
    cJSON *added = cJSON_CreateArray(), *removed = cJSON_CreateArray(),
          *notes = cJSON_CreateArray();
    if (!v || !added || !removed || !notes) {
        free(v);
        cJSON_Delete(added);
        cJSON_Delete(removed);
        cJSON_Delete(notes);
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
    only_in(cur, base, added);
    only_in(base, cur, removed);
    const char *which[] = {"BASE", "NEW"};
    const cJSON *docs[] = {base, cur};
    int scen = 0;
    for (int i = 0; i < m; i++) scen |= rd_get(find_trial(cur, v[i].id), "scenario") != NULL;
    if (scen)
        cJSON_AddItemToArray(
            notes, cJSON_CreateString(
                       "scenario trials compare on their figure as a cost, so a ratio above 1 is "
                       "always worse: offline and --rate auto on base samples/s over new, a "
                       "server at a fixed rate on new p99 over base"));
    for (int k = 0; k < 2; k++)
        if (single_process(docs[k])) {
            char note[320];
            snprintf(note, sizeof note,
                     "%s ran each trial in one worker process: its intervals leave out "
                     "process-to-process variation, so noise can look like a change (run calma "
                     "bench with --repeats 3, the default)",
                     which[k]);
            cJSON_AddItemToArray(notes, cJSON_CreateString(note));
        }
    if (o->format == REPORT_JSON) {
        print_json(f, v, m, failed, o, added, removed, notes);
    } else {
        int md = o->format == REPORT_MD;
        print_text(f, v, m, md);
        if (m == 0) fputs("no trial is in both reports\n", f);
        print_list(f, "added (only in NEW)", added, md);
        print_list(f, "removed (only in BASE)", removed, md);
        const cJSON *x;
        cJSON_ArrayForEach(x, notes) {
            fprintf(f, md ? "\n*note:* %s\n" : "note: %s\n", x->valuestring);
        }
        fprintf(f, "%sverdicts: slower/faster need p < %g and the whole interval beyond %.1f%%",
                md ? "\n" : "", o->alpha, o->min_effect * 100);
        if (o->fail_if_slower >= 0)
            fprintf(f, "; FAIL when it lies beyond +%.1f%%", o->fail_if_slower * 100);
        fprintf(f, "\n%s\n", failed ? "result: FAIL" : "result: pass");
    }
    free(v);
    cJSON_Delete(added);
    cJSON_Delete(removed);
    cJSON_Delete(notes);
    return failed ? 1 : 0;
}
