/* The terminal table: columns sized to their content (the default set fits
 * 100 columns, --wide shows them all), then each distinct reason and warning
 * once with the trials it applies to, the baseline and the winners. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/scenario.h"
#include "util/fmt.h"
#include "util/text.h"

#define TABLE_CELL 64
#define TABLE_WIDTH 100 /* the default table and its notes fit this many columns */

static const cJSON *get(const cJSON *j, const char *k) {
    return j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
}

static double num(const cJSON *j, const char *obj, const char *k) {
    const cJSON *v = get(obj ? get(j, obj) : j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *j, const char *k) {
    const cJSON *v = get(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int is_ok(const cJSON *r) {
    return !strcmp(str(r, "status"), "ok");
}

/* "235 [234, 236] us": the median and its interval in one unit, the
 * median to three significant digits. */
static void fmt_median_ci(const cJSON *r, char *buf, size_t n) {
    double m = num(r, "stats", "median"), lo = num(r, "stats", "ci_lo"),
           hi = num(r, "stats", "ci_hi");
    if (!isfinite(m)) {
        snprintf(buf, n, "-");
        return;
    }
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e-9, "ns"}, {1e-6, "us"}, {1e-3, "ms"}, {1, "s"}};
    int u = 0;
    while (u < 3 && m >= units[u + 1].scale * 0.9995) u++;
    double v = m / units[u].scale;
    int d = v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
    if (isfinite(lo) && isfinite(hi))
        snprintf(buf, n, "%.*f [%.*f, %.*f] %s", d, v, d, lo / units[u].scale, d,
                 hi / units[u].scale, units[u].unit);
    else
        snprintf(buf, n, "%.*f %s", d, v, units[u].unit);
}

/* A rate to four significant digits, without an exponent: "47.85", "4255",
 * "14623"; "-" when unknown. */
static const char *fmt_count(double v, char *buf, size_t n) {
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else if (v >= 1e4)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

static const char *short_verdict(const cJSON *r) {
    const char *v = str(get(r, "validation"), "verdict");
    if (!*v) return "-";
    if (!strncmp(v, "no oracle", 9)) return "none";
    return v;
}

/* Worst output of a trial's validation: largest error, smallest cosine. */
static void worst_error(const cJSON *r, double *max_abs, double *cosine) {
    *max_abs = NAN;
    *cosine = NAN;
    const cJSON *o;
    cJSON_ArrayForEach(o, get(get(r, "validation"), "outputs")) {
        double a = num(o, NULL, "max_abs"), c = num(o, NULL, "cosine");
        if (isfinite(a) && (!isfinite(*max_abs) || a > *max_abs)) *max_abs = a;
        if (isfinite(c) && (!isfinite(*cosine) || c < *cosine)) *cosine = c;
    }
}

typedef struct column {
    const char *head;
    int right; /* right-aligned (numbers) */
    int wide;  /* only with --wide */
    int scen;  /* only when the section has scenario trials */
} column;

enum {
    C_CONV,
    C_BATCH,
    C_THR,
    C_STREAMS,
    C_STATUS,
    C_MEDIAN,
    C_P90,
    C_P99,
    C_RATE,
    C_SPEEDUP,
    C_SPREAD,
    C_GFLOPS,
    C_LOAD,
    C_CONVERT,
    C_FIRST,
    C_MEM,
    C_ERR,
    C_COS,
    C_VALID,
    C_N
};

static const column columns[C_N] = {
    [C_CONV] = {"conversion", 0, 0, 0}, [C_BATCH] = {"batch", 1, 0, 0},
    [C_THR] = {"thr", 1, 0, 0},         [C_STREAMS] = {"str", 1, 0, 1},
    [C_STATUS] = {"status", 0, 0, 0},   [C_MEDIAN] = {"median [95% CI]", 0, 0, 0},
    [C_P90] = {"p90", 1, 1, 0},         [C_P99] = {"p99", 1, 0, 0},
    [C_RATE] = {"samples/s", 1, 0, 0},  [C_SPEEDUP] = {"speed-up", 1, 0, 0},
    [C_SPREAD] = {"between", 1, 1, 0},  [C_GFLOPS] = {"GFLOP/s (peak)", 1, 1, 0},
    [C_LOAD] = {"load", 1, 1, 0},       [C_CONVERT] = {"convert", 1, 1, 0},
    [C_FIRST] = {"first run", 1, 1, 0}, [C_MEM] = {"peak mem", 1, 1, 0},
    [C_ERR] = {"max abs err", 1, 1, 0}, [C_COS] = {"cosine", 1, 1, 0},
    [C_VALID] = {"valid", 0, 0, 0},
};

static void cell_time(char *c, double v) {
    fmt_time(v, c, TABLE_CELL);
}

/* Every cell of one trial's row. */
static void row_cells(const cJSON *trials, const cJSON *r, const char *base,
                      char cells[C_N][TABLE_CELL]) {
    snprintf(cells[C_CONV], TABLE_CELL, "%s", str(r, "conversion"));
    snprintf(cells[C_BATCH], TABLE_CELL, "%.0f", num(r, NULL, "batch"));
    snprintf(cells[C_THR], TABLE_CELL, "%.0f", num(r, NULL, "threads"));
    snprintf(cells[C_STREAMS], TABLE_CELL, "%d", scen_streams(r));
    snprintf(cells[C_STATUS], TABLE_CELL, "%s", str(r, "status"));
    fmt_median_ci(r, cells[C_MEDIAN], TABLE_CELL);
    cell_time(cells[C_P90], num(r, "stats", "p90"));
    cell_time(cells[C_P99], num(r, "stats", "p99"));
    fmt_count(bench_samples_per_s(r), cells[C_RATE], TABLE_CELL);
    snprintf(cells[C_SPEEDUP], TABLE_CELL, "-");
    const cJSON *b = bench_baseline_trial(trials, base, r);
    double up = b ? scen_better_ratio(r, b) : NAN;
    if (is_ok(r) && isfinite(up)) snprintf(cells[C_SPEEDUP], TABLE_CELL, "%.2fx", up);
    double spread = num(r, "repeats", "spread");
    snprintf(cells[C_SPREAD], TABLE_CELL, isfinite(spread) ? "%.1f%%" : "-", spread * 100);
    double gflops = num(r, "efficiency", "gflops"),
           share = num(r, "efficiency", "share_of_fma_peak");
    if (isfinite(gflops) && isfinite(share))
        snprintf(cells[C_GFLOPS], TABLE_CELL, "%.3g (%.0f%%)", gflops, 100 * share);
    else
        snprintf(cells[C_GFLOPS], TABLE_CELL, isfinite(gflops) ? "%.3g" : "-", gflops);
    cell_time(cells[C_LOAD], num(r, "phases", "load_s"));
    cell_time(cells[C_CONVERT], num(r, "phases", "convert_s"));
    cell_time(cells[C_FIRST], num(r, "phases", "first_s"));
    fmt_bytes(num(r, "memory", "peak"), cells[C_MEM], TABLE_CELL);
    double err, cos;
    worst_error(r, &err, &cos);
    snprintf(cells[C_ERR], TABLE_CELL, isfinite(err) ? "%.2g" : "-", err);
    snprintf(cells[C_COS], TABLE_CELL, isfinite(cos) ? "%.6f" : "-", cos);
    /* a reduced-precision trial: the cosine and top-1 it was judged on */
    bench_accuracy_text(r, short_verdict(r), cells[C_VALID], TABLE_CELL);
    /* A report may come from anywhere: no cell moves the cursor, changes
     * colours or splits the row. */
    for (int c = 0; c < C_N; c++) text_printable(cells[c]);
}

static const char *status_color(const char *st) {
    if (!strcmp(st, "ok")) return "\033[32m";
    if (!strcmp(st, "unavailable") || !strcmp(st, "unsupported")) return "\033[33m";
    return "\033[31m";
}

static void print_row(FILE *f, char cells[C_N][TABLE_CELL], const int *width, const int *show,
                      int color) {
    int first = 1, last = C_N - 1;
    for (int c = 0; c < C_N; c++) {
        if (!show[c]) continue;
        if (!first) fputs(c == C_MEDIAN ? "  " : " ", f);
        first = 0;
        int colored = color && c == C_STATUS;
        if (colored) fputs(status_color(cells[c]), f);
        if (c == last && !columns[c].right)
            fputs(cells[c], f); /* no trailing blanks */
        else
            fprintf(f, columns[c].right ? "%*s" : "%-*s", width[c], cells[c]);
        if (colored) fputs("\033[0m", f);
    }
    fputc('\n', f);
}

/* Prints text wrapped at word boundaries to TABLE_WIDTH columns, lines
 * after the first indented by four. */
static void print_wrapped(FILE *f, const char *text) {
    int col = 0;
    const char *p = text;
    while (*p) {
        const char *w = p;
        while (*w && *w != ' ') w++;
        int len = (int)(w - p);
        if (col > 4 && col + 1 + len > TABLE_WIDTH) {
            fputs("\n    ", f);
            col = 4;
        } else if (p != text) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, p);
        col += len;
        p = w;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

static void print_notes(FILE *f, const cJSON *trials) {
    bench_note *notes;
    int n = bench_collect_notes(trials, &notes);
    for (int i = 0; i < n; i++) {
        char more[32] = "", line[1200];
        if (notes[i].n > BENCH_NOTE_NAMED)
            snprintf(more, sizeof more, " and %d more", notes[i].n - BENCH_NOTE_NAMED);
        snprintf(line, sizeof line, "%.20s: %.400s (%s%s)", notes[i].kind, notes[i].text,
                 notes[i].who, more);
        text_printable(line);
        print_wrapped(f, line);
    }
    free(notes);
}

static void print_winner(FILE *f, const char *what, const cJSON *t, const cJSON *trials,
                         const char *base, int latency) {
    char med[32], conv[TABLE_CELL];
    fmt_time(num(t, "stats", "median"), med, sizeof med);
    snprintf(conv, sizeof conv, "%s", str(t, "conversion"));
    text_printable(conv);
    fprintf(f, "%s: %s at batch %.0f, threads %.0f: ", what, conv, num(t, NULL, "batch"),
            num(t, NULL, "threads"));
    if (latency)
        fprintf(f, "median %s per call", med);
    else {
        char rate[32];
        fprintf(f, "%s samples/s", fmt_count(bench_samples_per_s(t), rate, sizeof rate));
    }
    if (scen_streams(t) > 1 || get(t, "scenario"))
        fprintf(f, ", %d stream%s", scen_streams(t), scen_streams(t) > 1 ? "s" : "");
    const cJSON *b = bench_baseline_trial(trials, base, t);
    double up = b ? scen_better_ratio(t, b) : NAN;
    if (b == t)
        fprintf(f, " (the baseline)");
    else if (isfinite(up))
        fprintf(f, " (%.2fx %s)", up, base); /* base: printable, the caller made it so */
    fputc('\n', f);
}

/* The table of trials, their notes, the baseline and the winners. */
static void print_section(FILE *f, const cJSON *trials, const char *base, const table_opts *o) {
    if (base && !*base) base = NULL;
    int n = cJSON_GetArraySize(trials);
    char(*cells)[C_N][TABLE_CELL] = calloc((size_t)n + 1, sizeof *cells);
    if (!cells) return;
    int width[C_N], show[C_N], scen = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, trials) {
        scen |= get(r, "scenario") != NULL || get(r, "streams") != NULL;
    }
    for (int c = 0; c < C_N; c++)
        show[c] = (!columns[c].wide || o->wide) && (!columns[c].scen || scen);
    for (int c = 0; c < C_N; c++) {
        snprintf(cells[0][c], TABLE_CELL, "%s", columns[c].head);
        width[c] = (int)strlen(columns[c].head);
    }
    int i = 1;
    cJSON_ArrayForEach(r, trials) {
        row_cells(trials, r, base, cells[i]);
        for (int c = 0; c < C_N; c++) {
            int w = (int)strlen(cells[i][c]);
            if (w > width[c]) width[c] = w;
        }
        i++;
    }
    print_row(f, cells[0], width, show, 0);
    for (i = 1; i <= n; i++) print_row(f, cells[i], width, show, o->color);
    free(cells);
    if (scen) bench_table_serving(f, trials);
    print_notes(f, trials);
    double worst = 0;
    const cJSON *worst_t = NULL;
    cJSON_ArrayForEach(r, trials) {
        double s = num(r, "repeats", "spread");
        if (isfinite(s) && s >= worst) worst = s, worst_t = r;
    }
    if (worst_t) {
        char conv[TABLE_CELL];
        snprintf(conv, sizeof conv, "%s", str(worst_t, "conversion"));
        text_printable(conv);
        fprintf(f,
                "between processes: per-process medians differ by up to %.1f%% (%s b%.0f t%.0f)\n",
                worst * 100, conv, num(worst_t, NULL, "batch"), num(worst_t, NULL, "threads"));
    }
    char base_buf[TABLE_CELL];
    if (base) {
        snprintf(base_buf, sizeof base_buf, "%s", base);
        text_printable(base_buf);
        base = base_buf;
        fprintf(f, "speed-up: against %s at the same batch and threads%s (--baseline to choose)\n",
                base, scen ? " and streams, on each scenario's figure" : "");
    }
    bench_winners w;
    bench_find_winners(trials, &w);
    if (!w.latency) {
        fprintf(f, "best: none (no trial is ok)\n");
        return;
    }
    if (w.latency == w.throughput) {
        print_winner(f, "best", w.latency, trials, base, 1);
        char rate[32];
        fprintf(f, "      lowest latency and most samples per second: %s samples/s\n",
                fmt_count(bench_samples_per_s(w.latency), rate, sizeof rate));
    } else {
        char what[64];
        snprintf(what, sizeof what, "best latency (batch %.0f)", w.latency_batch);
        print_winner(f, what, w.latency, trials, base, 1);
        if (w.throughput) print_winner(f, "best throughput", w.throughput, trials, base, 0);
    }
    /* A reduced-precision winner: name the fastest float32 trial too. */
    bench_winners w32;
    bench_find_winners_of(trials, "fp32", &w32);
    if (w32.latency && w32.latency != w.latency)
        print_winner(f, "best fp32", w32.latency, trials, base, 1);
}

void bench_table_print(FILE *f, const cJSON *doc, const table_opts *o) {
    const cJSON *per = get(doc, "per_model"), *m;
    if (cJSON_GetArraySize(per) > 0) {
        int first = 1;
        cJSON_ArrayForEach(m, per) {
            cJSON *mine = bench_model_trials(get(doc, "trials"), str(m, "name"));
            char name[TABLE_CELL];
            snprintf(name, sizeof name, "%s", str(m, "name"));
            text_printable(name);
            fprintf(f, "%s== model %s: %d trials ==\n", first ? "" : "\n", name,
                    cJSON_GetArraySize(mine));
            print_section(f, mine, str(m, "baseline"), o);
            cJSON_Delete(mine);
            first = 0;
        }
    } else {
        print_section(f, get(doc, "trials"), str(doc, "baseline"), o);
    }
    const cJSON *missing = get(doc, "missing_trials"), *w;
    if (cJSON_GetArraySize(missing)) {
        char line[1200];
        size_t len = (size_t)snprintf(
            line, sizeof line,
            "missing: %d planned trials have no result:", cJSON_GetArraySize(missing));
        int shown = 0;
        cJSON_ArrayForEach(w, missing) {
            if (cJSON_IsString(w) && shown++ < 8 && len < sizeof line - 200)
                len += (size_t)snprintf(line + len, sizeof line - len, " %.150s", w->valuestring);
        }
        if (shown > 8) snprintf(line + len, sizeof line - len, " and %d more", shown - 8);
        text_printable(line);
        print_wrapped(f, line);
    }
    cJSON_ArrayForEach(w, get(doc, "warnings")) {
        if (cJSON_IsString(w)) {
            char line[1200];
            snprintf(line, sizeof line, "warning: %.1100s", w->valuestring);
            text_printable(line);
            print_wrapped(f, line);
        }
    }
}
