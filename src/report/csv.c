/* CSV: one row per trial, plain numbers in SI units (seconds, bytes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/rdoc.h"
#include "report/report.h"
#include "util/text.h"

/* RFC 4180: quoted when the field has a comma, quote or line break. Text
 * that a spreadsheet would take for a formula (a cell beginning with =, +,
 * -, @, a tab or a carriage return; not a lone "-") gets a leading apostrophe and quotes, as
 * OWASP advises against CSV injection: a model or conversion name cannot run
 * anything in the reader's spreadsheet. Numbers are written by csv_num and
 * never pass here. Control characters but the newline (a carriage return
 * too: CSV is also read on a terminal), and bytes that are not UTF-8,
 * become '?'. */
static void csv_field(FILE *f, const char *s) {
    /* A lone "-" (no value) is text to every spreadsheet. */
    int formula = *s && strchr("=+-@\t\r", *s) && (s[1] || *s == '\t' || *s == '\r');
    int quote = formula || strpbrk(s, ",\"\r\n");
    if (quote) fputc('"', f);
    if (formula) fputc('\'', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = text_utf8_len(p);
        if (n == 1 && *p == '"')
            fputs("\"\"", f);
        else if (n == 1 && *p == '\n')
            fputc(*p, f);
        else if (!n || text_is_control(p, n))
            fputc('?', f);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    if (quote) fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputs(",", f);
}

static const char *const num_cols[][2] = {
    {"median_s", "stats.median"},
    {"ci_lo_s", "stats.ci_lo"},
    {"ci_hi_s", "stats.ci_hi"},
    {"precision", "stats.ci_rel"},
    {"mean_s", "stats.mean"},
    {"min_s", "stats.min"},
    {"max_s", "stats.max"},
    {"p90_s", "stats.p90"},
    {"p95_s", "stats.p95"},
    {"p99_s", "stats.p99"},
    {"stddev_s", "stats.stddev"},
    {"cv", "stats.cv"},
    {"samples", "stats.n"},
    {"outliers", "stats.outliers"},
    {"throughput_per_s", "throughput.per_s_median"},
    {"gflops", "efficiency.gflops"},
    {"load_s", "phases.load_s"},
    {"convert_s", "phases.convert_s"},
    {"first_s", "phases.first_s"},
    {"warmup_runs", "phases.warmup_runs"},
    {"peak_rss_bytes", "memory.peak"},
    {"processes", "repeats.done"},
    {"between_process_spread", "repeats.spread"},
};

/* A scenario run's own figures (src/bench/scenario.h), after the others:
 * a run without a scenario keeps the columns it always had. */
static const char *const scen_cols[][2] = {
    {"scenario_samples_per_s", "scenario.samples_per_s"},
    {"scenario_ci_lo", "scenario.ci_lo"},
    {"scenario_ci_hi", "scenario.ci_hi"},
    {"threads_per_stream", "scenario.threads_per_stream"},
    {"rate_per_s", "scenario.rate"},
    {"achieved_rate_per_s", "scenario.achieved_rate"},
    {"latency_p50_s", "scenario.p50"},
    {"latency_p90_s", "scenario.p90"},
    {"latency_p99_s", "scenario.p99"},
    {"latency_p99_lo_s", "scenario.p99_lo"},
    {"latency_p99_hi_s", "scenario.p99_hi"},
    {"latency_mean_s", "scenario.latency_mean"},
    {"wait_mean_s", "scenario.wait_mean"},
    {"utilisation", "scenario.utilisation"},
    {"latency_bound_s", "scenario.latency_bound"},
    {"best_rate_per_s", "scenario.best_rate"},
};

static int has_scenario(const cJSON *doc) {
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (rd_get(t, "scenario") || rd_get(t, "streams")) return 1;
    }
    return 0;
}

/* Largest absolute and relative error and smallest cosine over outputs. */
static void worst_errors(const cJSON *t, double err[3]) {
    err[0] = err[1] = err[2] = NAN;
    const cJSON *o;
    cJSON_ArrayForEach(o, rd_get(t, "validation.outputs")) {
        double v[3] = {rd_num(o, "max_abs"), rd_num(o, "max_rel"), rd_num(o, "cosine")};
        for (int k = 0; k < 3; k++)
            if (isfinite(v[k]) && (!isfinite(err[k]) || (k < 2 ? v[k] > err[k] : v[k] < err[k])))
                err[k] = v[k];
    }
}

/* The trial's warnings in one field, "; "-joined. */
static void csv_warnings(FILE *f, const cJSON *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    const cJSON *w;
    int i = 0;
    cJSON_ArrayForEach(w, rd_get(t, "warnings")) {
        if (cJSON_IsString(w)) fprintf(m, "%s%s", i++ ? "; " : "", w->valuestring);
    }
    if (fclose(m) == 0 && buf) csv_field(f, buf);
    free(buf);
}

void report_csv(const cJSON *doc, FILE *f) {
    fputs("id,model,conversion,batch,threads,status", f);
    for (size_t c = 0; c < sizeof num_cols / sizeof num_cols[0]; c++)
        fprintf(f, ",%s", num_cols[c][0]);
    fputs(",max_abs_error,max_rel_error,min_cosine,validation,message,warnings", f);
    int scen = has_scenario(doc);
    if (scen) {
        fputs(",scenario,streams", f);
        for (size_t c = 0; c < sizeof scen_cols / sizeof scen_cols[0]; c++)
            fprintf(f, ",%s", scen_cols[c][0]);
        fputs(",met", f);
    }
    fputc('\n', f);
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        csv_field(f, rd_str(t, "id"));
        fputc(',', f);
        csv_field(f, *rd_str(t, "model") ? rd_str(t, "model") : rd_str(doc, "model.name"));
        fputc(',', f);
        csv_field(f, rd_str(t, "conversion"));
        fprintf(f, ",%.0f,%.0f,", rd_num(t, "batch"), rd_num(t, "threads"));
        csv_field(f, rd_str(t, "status"));
        for (size_t c = 0; c < sizeof num_cols / sizeof num_cols[0]; c++)
            csv_num(f, rd_num(t, num_cols[c][1]));
        double err[3];
        worst_errors(t, err);
        for (int k = 0; k < 3; k++) csv_num(f, err[k]);
        fputc(',', f);
        csv_field(f, rd_verdict(t));
        fputc(',', f);
        csv_field(f, rd_str(t, "message"));
        fputc(',', f);
        csv_warnings(f, t);
        if (scen) {
            fputc(',', f);
            csv_field(f, rd_str(t, "scenario.kind"));
            csv_num(f, rd_num(t, "streams"));
            for (size_t c = 0; c < sizeof scen_cols / sizeof scen_cols[0]; c++)
                csv_num(f, rd_num(t, scen_cols[c][1]));
            const cJSON *met = rd_get(t, "scenario.met");
            fputs(cJSON_IsBool(met) ? (cJSON_IsTrue(met) ? ",true" : ",false") : ",", f);
        }
        fputc('\n', f);
    }
}
