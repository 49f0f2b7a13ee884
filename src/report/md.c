/* Markdown: a table ready for a pull-request comment, then the winners,
 * each reason and warning once with the trials it applies to. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "report/rdoc.h"
#include "report/report.h"
#include "util/fmt.h"

static void md_cell(FILE *f, const char *s) {
    rd_md_escape(f, s);
}

static void md_time(FILE *f, double v) {
    char a[64];
    fprintf(f, " | %s", fmt_time(v, a, sizeof a));
}

static void md_row(FILE *f, const cJSON *doc, const cJSON *t) {
    char a[64], b[64], c[160];
    fputs("| ", f);
    if (rd_get(doc, "per_model")) {
        md_cell(f, rd_str(t, "model"));
        fputs(" / ", f);
    }
    md_cell(f, rd_str(t, "conversion"));
    if (rd_get(t, "streams"))
        fprintf(f, " (%.0f stream%s)", rd_num(t, "streams"), rd_num(t, "streams") > 1 ? "s" : "");
    fprintf(f, " | %.0f | %.0f | ", rd_num(t, "batch"), rd_num(t, "threads"));
    md_cell(f, rd_str(t, "status"));
    fprintf(f, " | %s | ", fmt_time(rd_num(t, "stats.median"), a, sizeof a));
    if (isfinite(rd_num(t, "stats.ci_lo")))
        fprintf(f, "%s – %s", fmt_time(rd_num(t, "stats.ci_lo"), a, sizeof a),
                fmt_time(rd_num(t, "stats.ci_hi"), b, sizeof b));
    else
        fputs("-", f);
    md_time(f, rd_num(t, "stats.p90"));
    md_time(f, rd_num(t, "stats.p99"));
    fprintf(f, " | %s", fmt_rate(bench_samples_per_s(t), a, sizeof a));
    fprintf(f, " | %s", rd_speedup(doc, t, a, sizeof a));
    double spread = rd_num(t, "repeats.spread");
    if (isfinite(spread))
        fprintf(f, " | %.1f%%", spread * 100);
    else
        fputs(" | -", f);
    md_time(f, rd_num(t, "phases.load_s"));
    md_time(f, rd_num(t, "phases.convert_s"));
    md_time(f, rd_num(t, "phases.first_s"));
    fprintf(f, " | %s | ", fmt_bytes(rd_num(t, "memory.peak"), a, sizeof a));
    md_cell(f, rd_validation_text(t, c, sizeof c));
    fputs(" |\n", f);
}

static void md_winner(FILE *f, const char *what, const cJSON *t, int latency) {
    char a[64];
    if (!t) return;
    fprintf(f, "**%s:** ", what);
    md_cell(f, rd_str(t, "conversion"));
    fprintf(f, " at batch %.0f, threads %.0f", rd_num(t, "batch"), rd_num(t, "threads"));
    if (rd_get(t, "streams")) fprintf(f, ", %.0f streams", rd_num(t, "streams"));
    fputs(": ", f);
    if (latency)
        fprintf(f, "median %s per call.\n", fmt_time(rd_num(t, "stats.median"), a, sizeof a));
    else
        fprintf(f, "%.4g samples per second.\n", bench_samples_per_s(t));
}

/* The winners scope (the document, or one of its models) names. */
static void md_winners(FILE *f, const cJSON *doc, const cJSON *scope) {
    const cJSON *lat = rd_scoped_trial(doc, scope, "best_latency"),
                *tp = rd_scoped_trial(doc, scope, "best_throughput");
    if (!lat) lat = rd_scoped_trial(doc, scope, "best");
    if (!lat) {
        fputs("**Best correct:** none (no trial both ran and validated).\n", f);
        return;
    }
    md_winner(f, "Best latency (median per call at the smallest batch)", lat, 1);
    if (tp && tp != lat) {
        fputc('\n', f);
        md_winner(f, "Best throughput (samples per second, any batch)", tp, 0);
    }
}

/* A scenario run's own figures, one table per kind (src/bench/table_serve.c). */
static void md_serving_cells(void *ctx, bench_serve_event ev, int k, int cols,
                             const char *const *cells, const cJSON *t) {
    FILE *f = ctx;
    (void)t;
    if (ev == BENCH_SERVE_CLOSE) {
        fputc('\n', f);
        return;
    }
    if (ev == BENCH_SERVE_OPEN) {
        fputs("**", f);
        md_cell(f, bench_serving_intro(k));
        fputs(".**\n\n", f);
    }
    fputc('|', f);
    for (int c = 0; c < cols; c++) {
        fputc(' ', f);
        md_cell(f, cells[c]);
        fputs(" |", f);
    }
    fputc('\n', f);
    if (ev == BENCH_SERVE_OPEN) {
        fputc('|', f);
        for (int c = 0; c < cols; c++) fputs(c ? "---:|" : "---|", f);
        fputc('\n', f);
    }
}

void report_md(const cJSON *doc, FILE *f) {
    char a[512];
    fputs("### calma: ", f);
    md_cell(f, rd_str(doc, "model.name"));
    fputs("\n\n", f);
    const char *cpu = rd_str(doc, "machine.cpu");
    if (*cpu) {
        md_cell(f, cpu);
        fprintf(f, ", %.0f CPUs. ", rd_num(doc, "machine.cpus"));
    }
    fputs("calma ", f);
    md_cell(f, rd_str(doc, "calma_version"));
    fputs(". ", f);
    md_cell(f, rd_method(doc, a, sizeof a));
    fputs("\n\n", f);
    fputs("| conversion | batch | threads | status | median per call | 95% interval | p90 | p99 | "
          "samples/s | speed-up | between processes | load | convert | first run | "
          "peak memory | validation |\n",
          f);
    fputs("|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n", f);
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        md_row(f, doc, t);
    }
    fputc('\n', f);
    bench_serving_visit(rd_get(doc, "trials"), md_serving_cells, f);
    const cJSON *per = rd_get(doc, "per_model"), *m;
    if (per) {
        cJSON_ArrayForEach(m, per) {
            fputs("#### ", f);
            md_cell(f, rd_str(m, "name"));
            fputs("\n\n", f);
            md_winners(f, doc, m);
            fputc('\n', f);
        }
    } else {
        md_winners(f, doc, doc);
    }
    bench_note *notes;
    int n = bench_collect_notes(rd_get(doc, "trials"), &notes);
    for (int pass = 0; pass < 2; pass++) {
        int header = 0;
        for (int i = 0; i < n; i++) {
            int warning = !strcmp(notes[i].kind, "warning");
            if (warning != pass) continue;
            if (!header) fputs(pass ? "\n**Warnings:**\n\n" : "\n**Not ok:**\n\n", f);
            header = 1;
            fputs("- ", f);
            if (!warning) {
                fputs("**", f);
                md_cell(f, notes[i].kind);
                fputs("**: ", f);
            }
            md_cell(f, notes[i].text);
            fputs(" (", f);
            md_cell(f, notes[i].who);
            if (notes[i].n > BENCH_NOTE_NAMED)
                fprintf(f, " and %d more", notes[i].n - BENCH_NOTE_NAMED);
            fputs(")\n", f);
        }
    }
    free(notes);
}
