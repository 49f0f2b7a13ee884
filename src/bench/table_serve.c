/* The serving table: a scenario trial's own figures, below the main table
 * (whose per-call columns are the time inside each call). One block per
 * kind of scenario in the section. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/scenario.h"
#include "util/fmt.h"
#include "util/text.h"

#define SERVE_CELL BENCH_SERVE_CELL
#define SERVE_COLS BENCH_SERVE_COLS

enum {
    K_OFFLINE = BENCH_SERVE_OFFLINE,
    K_FIXED = BENCH_SERVE_FIXED,
    K_AUTO = BENCH_SERVE_AUTO,
    K_N = BENCH_SERVE_KINDS
};

int bench_serving_kind(const cJSON *t) {
    const cJSON *sc = journal_field(t, "scenario");
    if (!sc) return -1;
    if (!strcmp(journal_str(sc, "kind"), "offline")) return K_OFFLINE;
    return !strcmp(journal_str(sc, "rate_mode"), "auto") ? K_AUTO : K_FIXED;
}

static const char *const heads[K_N][SERVE_COLS + 1] = {
    [K_OFFLINE] = {"conversion", "batch", "thr", "str", "samples/s [95% CI]", "calls per stream",
                   "stopped by", NULL},
    [K_FIXED] = {"conversion", "batch", "thr", "str", "rate/s", "achieved", "p50", "p99 [95% CI]",
                 "util", "bound"},
    [K_AUTO] = {"conversion", "batch", "thr", "str", "best rate/s [95% CI]", "steps", "p99 there",
                "bound", NULL},
};

static const char *const intro[K_N] = {
    [K_OFFLINE] = ("serving, offline: each stream runs calls back to back; interval from batch "
                   "means"),
    [K_FIXED] = "serving, server: Poisson arrivals; latency from arrival to completion",
    [K_AUTO] = "serving, --rate auto: the highest Poisson rate whose p99 met the bound",
};

/* Four significant digits without an exponent: "47.85", "4255", "14623". */
static const char *count(double v, char *b, size_t n) {
    snprintf(b, n, v >= 1e4 ? "%.0f" : "%.4g", v);
    return b;
}

/* "919 [816, 990]" */
static void rate_ci(char *c, double v, double lo, double hi) {
    char a[24], b[24], d[24];
    if (!isfinite(v))
        snprintf(c, SERVE_CELL, "-");
    else if (isfinite(lo) && isfinite(hi))
        snprintf(c, SERVE_CELL, "%s [%s, %s]", count(v, a, sizeof a), count(lo, b, sizeof b),
                 count(hi, d, sizeof d));
    else
        snprintf(c, SERVE_CELL, "%s", count(v, a, sizeof a));
}

/* "16.0 [13.1, 19.0] ms": a time and its interval in one unit. */
static void time_ci(char *c, double v, double lo, double hi) {
    if (!isfinite(v)) {
        snprintf(c, SERVE_CELL, isinf(v) ? "unbounded" : "-");
        return;
    }
    double scale = v < 1e-3 ? 1e-6 : v < 1 ? 1e-3 : 1;
    const char *unit = v < 1e-3 ? "us" : v < 1 ? "ms" : "s";
    if (isfinite(lo) && isfinite(hi))
        snprintf(c, SERVE_CELL, "%.3g [%.3g, %.3g] %s", v / scale, lo / scale, hi / scale, unit);
    else
        snprintf(c, SERVE_CELL, "%.3g %s", v / scale, unit);
}

static void per_stream(char *c, const cJSON *sc) {
    const cJSON *x;
    size_t len = 0;
    c[0] = '\0';
    cJSON_ArrayForEach(x, journal_field(sc, "per_stream")) {
        if (len + 12 >= SERVE_CELL) {
            snprintf(c + len, SERVE_CELL - len, "...");
            break;
        }
        len +=
            (size_t)snprintf(c + len, SERVE_CELL - len, "%s%.0f", len ? " " : "", x->valuedouble);
    }
    if (!len) snprintf(c, SERVE_CELL, "-");
}

static void bound_cell(char *c, const cJSON *sc) {
    char b[32];
    const cJSON *met = journal_field(sc, "met");
    double bound = journal_num(sc, "latency_bound");
    if (!(bound > 0))
        snprintf(c, SERVE_CELL, "-");
    else if (cJSON_IsBool(met))
        snprintf(c, SERVE_CELL, "%s %s", cJSON_IsTrue(met) ? "met" : "MISSED",
                 fmt_time(bound, b, sizeof b));
    else
        snprintf(c, SERVE_CELL, "%s", fmt_time(bound, b, sizeof b));
}

const char *bench_serving_intro(int kind) {
    return kind >= 0 && kind < K_N ? intro[kind] : "";
}

void bench_serving_row(const cJSON *t, int k, char cells[SERVE_COLS][SERVE_CELL]) {
    const cJSON *sc = journal_field(t, "scenario");
    memset(cells, 0, sizeof(char) * SERVE_COLS * SERVE_CELL);
    snprintf(cells[0], SERVE_CELL, "%s", journal_str(t, "conversion"));
    snprintf(cells[1], SERVE_CELL, "%.0f", journal_num(t, "batch"));
    snprintf(cells[2], SERVE_CELL, "%.0f", journal_num(t, "threads"));
    snprintf(cells[3], SERVE_CELL, "%d", scen_streams(t));
    scen_fig f;
    scen_figure(t, &f);
    if (k == K_OFFLINE) {
        rate_ci(cells[4], f.value, f.lo, f.hi);
        per_stream(cells[5], sc);
        snprintf(cells[6], SERVE_CELL, "%s",
                 *journal_str(sc, "stop") ? journal_str(sc, "stop") : "-");
    } else if (k == K_FIXED) {
        count(journal_num(sc, "rate"), cells[4], SERVE_CELL);
        rate_ci(cells[5], journal_num(sc, "achieved_rate"), NAN, NAN);
        time_ci(cells[6], journal_num(sc, "p50"), NAN, NAN);
        time_ci(cells[7], journal_num(sc, "p99"), journal_num(sc, "p99_lo"),
                journal_num(sc, "p99_hi"));
        double u = journal_num(sc, "utilisation");
        snprintf(cells[8], SERVE_CELL, isfinite(u) ? "%.0f%%" : "-", u * 100);
        bound_cell(cells[9], sc);
    } else {
        double batch = journal_num(t, "batch") > 0 ? journal_num(t, "batch") : 1;
        rate_ci(cells[4], f.value / batch, f.lo / batch, f.hi / batch);
        if (!isfinite(f.value)) snprintf(cells[4], SERVE_CELL, "none met");
        snprintf(cells[5], SERVE_CELL, "%d", cJSON_GetArraySize(journal_field(sc, "steps")));
        time_ci(cells[6], journal_num(sc, "p99"), NAN, NAN);
        bound_cell(cells[7], sc);
    }
    if (!sc) snprintf(cells[4], SERVE_CELL, "%s", journal_str(t, "status"));
    /* A report's text may come from anywhere: no cell reaches a terminal
     * with a control character in it. */
    for (int c = 0; c < SERVE_COLS; c++) text_printable(cells[c]);
}

void bench_serving_visit(const cJSON *trials, bench_serve_fn fn, void *ctx) {
    char cells[SERVE_COLS][SERVE_CELL];
    const char *line[SERVE_COLS];
    for (int c = 0; c < SERVE_COLS; c++) line[c] = cells[c];
    for (int k = 0; k < K_N; k++) {
        int cols = 0, open = 0;
        while (cols < SERVE_COLS && heads[k][cols]) cols++;
        const cJSON *t;
        cJSON_ArrayForEach(t, trials) {
            if (bench_serving_kind(t) != k) continue;
            if (!open) fn(ctx, BENCH_SERVE_OPEN, k, cols, heads[k], NULL);
            open = 1;
            bench_serving_row(t, k, cells);
            fn(ctx, BENCH_SERVE_ROW, k, cols, line, t);
        }
        if (open) fn(ctx, BENCH_SERVE_CLOSE, k, cols, NULL, NULL);
    }
}

/* The terminal: a first pass for the widths, a second that prints. */
typedef struct grid {
    FILE *f;
    int print;
    int width[K_N][SERVE_COLS];
} grid;

static void grid_cells(void *ctx, bench_serve_event ev, int k, int cols, const char *const *cells,
                       const cJSON *t) {
    grid *g = ctx;
    (void)t;
    if (ev == BENCH_SERVE_CLOSE) return;
    if (g->print && ev == BENCH_SERVE_OPEN) fprintf(g->f, "%s\n", intro[k]);
    for (int c = 0; c < cols; c++) {
        int w = (int)strlen(cells[c]);
        if (!g->print) {
            if (w > g->width[k][c]) g->width[k][c] = w;
        } else if (c == cols - 1) { /* left-aligned first, numbers right, no trailing blanks */
            fprintf(g->f, "%s\n", cells[c]);
        } else {
            fprintf(g->f, c ? "%*s " : "%-*s ", g->width[k][c], cells[c]);
        }
    }
}

void bench_table_serving(FILE *f, const cJSON *trials) {
    grid g = {.f = f};
    bench_serving_visit(trials, grid_cells, &g);
    g.print = 1;
    bench_serving_visit(trials, grid_cells, &g);
}
