/* HTML: one self-contained page: chart, table, machine and model facts, and
 * each failure's message. No scripts, no external resources. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "report/rdoc.h"
#include "report/report.h"
#include "util/fmt.h"

static void fact(FILE *f, const char *name, const char *value) {
    if (!value || !*value) return;
    fputs("<tr><th>", f);
    rd_xml_escape(f, name);
    fputs("</th><td>", f);
    rd_xml_escape(f, value);
    fputs("</td></tr>\n", f);
}

static void facts(FILE *f, const cJSON *doc) {
    char buf[256];
    fputs("<table class='facts'>\n", f);
    fact(f, "model", rd_str(doc, "model.name"));
    fact(f, "model file", rd_str(doc, "model.path"));
    fact(f, "SHA-256", rd_str(doc, "model.sha256"));
    double size = rd_num(doc, "model.size");
    if (isfinite(size)) fact(f, "model size", fmt_bytes(size, buf, sizeof buf));
    double flops = rd_num(doc, "model.flops");
    if (isfinite(flops)) {
        snprintf(buf, sizeof buf, "%.3g GFLOP per sample", flops / 1e9);
        fact(f, "work", buf);
    }
    fact(f, "CPU", rd_str(doc, "machine.cpu"));
    double cpus = rd_num(doc, "machine.cpus");
    if (isfinite(cpus)) {
        snprintf(buf, sizeof buf, "%.0f", cpus);
        fact(f, "CPUs", buf);
    }
    double mem = rd_num(doc, "machine.memory");
    if (isfinite(mem)) fact(f, "memory", fmt_bytes(mem, buf, sizeof buf));
    fact(f, "kernel", rd_str(doc, "machine.kernel"));
    fact(f, "governor", rd_str(doc, "machine.governor"));
    fact(f, "calma", rd_str(doc, "calma_version"));
    fact(f, "written", rd_str(doc, "written_at"));
    fputs("</table>\n", f);
}

static void cell(FILE *f, const char *s) {
    fputs("<td>", f);
    rd_xml_escape(f, s);
    fputs("</td>", f);
}

static void cell_time(FILE *f, double v) {
    char a[64];
    cell(f, fmt_time(v, a, sizeof a));
}

static void trials_table(FILE *f, const cJSON *doc) {
    char a[64], b[64], c[160];
    fputs("<table class='trials'>\n<tr><th>conversion</th><th>batch</th><th>threads</th>"
          "<th>status</th><th>median per call</th><th>95% interval</th><th>p90</th><th>p99</th>"
          "<th>samples/s</th><th>speed-up</th><th>between processes</th><th>load</th>"
          "<th>convert</th><th>first run</th><th>peak memory</th><th>validation</th></tr>\n",
          f);
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        fprintf(f, "<tr class='%s'>", rd_ok(t) ? "ok" : "bad");
        if (rd_get(doc, "per_model")) {
            char label[600];
            snprintf(label, sizeof label, "%s / %s", rd_str(t, "model"), rd_str(t, "conversion"));
            cell(f, label);
        } else if (rd_get(t, "streams")) {
            char label[300];
            snprintf(label, sizeof label, "%s (%.0f stream%s)", rd_str(t, "conversion"),
                     rd_num(t, "streams"), rd_num(t, "streams") > 1 ? "s" : "");
            cell(f, label);
        } else {
            cell(f, rd_str(t, "conversion"));
        }
        snprintf(a, sizeof a, "%.0f", rd_num(t, "batch"));
        cell(f, a);
        snprintf(a, sizeof a, "%.0f", rd_num(t, "threads"));
        cell(f, a);
        cell(f, rd_str(t, "status"));
        cell_time(f, rd_num(t, "stats.median"));
        if (isfinite(rd_num(t, "stats.ci_lo"))) {
            snprintf(c, sizeof c, "%s – ", fmt_time(rd_num(t, "stats.ci_lo"), a, sizeof a));
            strncat(c, fmt_time(rd_num(t, "stats.ci_hi"), b, sizeof b), sizeof c - strlen(c) - 1);
            cell(f, c);
        } else {
            cell(f, "-");
        }
        cell_time(f, rd_num(t, "stats.p90"));
        cell_time(f, rd_num(t, "stats.p99"));
        cell(f, fmt_rate(bench_samples_per_s(t), a, sizeof a));
        cell(f, rd_speedup(doc, t, a, sizeof a));
        double spread = rd_num(t, "repeats.spread");
        snprintf(a, sizeof a, isfinite(spread) ? "%.1f%%" : "-", spread * 100);
        cell(f, a);
        cell_time(f, rd_num(t, "phases.load_s"));
        cell_time(f, rd_num(t, "phases.convert_s"));
        cell_time(f, rd_num(t, "phases.first_s"));
        cell(f, fmt_bytes(rd_num(t, "memory.peak"), a, sizeof a));
        cell(f, rd_validation_text(t, c, sizeof c));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* A scenario run's own figures, one table per kind (src/bench/table_serve.c). */
static void serving_cells(void *ctx, bench_serve_event ev, int k, int cols,
                          const char *const *cells, const cJSON *t) {
    FILE *f = ctx;
    if (ev == BENCH_SERVE_CLOSE) {
        fputs("</table>\n", f);
        return;
    }
    if (ev == BENCH_SERVE_OPEN) {
        fputs("<h2>Serving</h2>\n<p>", f);
        rd_xml_escape(f, bench_serving_intro(k));
        fputs(".</p>\n<table class='trials'>\n<tr>", f);
    } else {
        fprintf(f, "<tr class='%s'>", rd_ok(t) ? "ok" : "bad");
    }
    for (int c = 0; c < cols; c++) {
        fputs(ev == BENCH_SERVE_OPEN ? "<th>" : "<td>", f);
        rd_xml_escape(f, cells[c]);
        fputs(ev == BENCH_SERVE_OPEN ? "</th>" : "</td>", f);
    }
    fputs("</tr>\n", f);
}

static void warnings(FILE *f, const cJSON *doc) {
    bench_note *notes;
    int n = bench_collect_notes(rd_get(doc, "trials"), &notes), any = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(notes[i].kind, "warning")) continue;
        if (!any) fputs("<h2>Warnings</h2>\n<ul class='warnings'>\n", f);
        any = 1;
        fputs("<li>", f);
        rd_xml_escape(f, notes[i].text);
        fputs(" (", f);
        rd_xml_escape(f, notes[i].who);
        if (notes[i].n > BENCH_NOTE_NAMED)
            fprintf(f, " and %d more", notes[i].n - BENCH_NOTE_NAMED);
        fputs(")</li>\n", f);
    }
    if (any) fputs("</ul>\n", f);
    free(notes);
}

static void winner(FILE *f, const char *what, const cJSON *t, int latency) {
    char a[64];
    fputs("<p><strong>", f);
    rd_xml_escape(f, what);
    fputs(":</strong> ", f);
    rd_xml_escape(f, rd_str(t, "conversion"));
    fprintf(f, " at batch %.0f, threads %.0f", rd_num(t, "batch"), rd_num(t, "threads"));
    if (rd_get(t, "streams")) fprintf(f, ", %.0f streams", rd_num(t, "streams"));
    fputs(": ", f);
    if (latency)
        fprintf(f, "median %s per call.</p>\n", fmt_time(rd_num(t, "stats.median"), a, sizeof a));
    else
        fprintf(f, "%.4g samples per second.</p>\n", bench_samples_per_s(t));
}

static void failures(FILE *f, const cJSON *doc) {
    int any = 0;
    char label[160];
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (rd_ok(t)) continue;
        if (!any) fputs("<h2>Trials that are not ok</h2>\n", f);
        any = 1;
        fputs("<div class='failure'><h3>", f);
        rd_xml_escape(f, rd_label(t, label, sizeof label));
        fputs(": ", f);
        rd_xml_escape(f, rd_str(t, "status"));
        fputs("</h3>\n<p>", f);
        rd_xml_escape(f, rd_str(t, "message"));
        fputs("</p>\n", f);
        const cJSON *tail = rd_get(t, "stderr_tail");
        if (cJSON_GetArraySize(tail) > 0) {
            fputs("<pre>", f);
            const cJSON *line;
            cJSON_ArrayForEach(line, tail) {
                if (cJSON_IsString(line)) {
                    rd_xml_escape(f, line->valuestring);
                    fputc('\n', f);
                }
            }
            fputs("</pre>\n", f);
        }
        fputs("</div>\n", f);
    }
}

/* The chart as a data: URI image, so the page stays valid HTML and needs no
 * other file. */
static void chart(FILE *f, const cJSON *doc) {
    char *svg = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&svg, &len);
    if (!m) return;
    report_svg(doc, m);
    if (fclose(m) != 0) {
        free(svg);
        return;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputs("<p><img alt='median latency per call and samples per second per conversion' "
          "src='data:image/svg+xml;base64,",
          f);
    const unsigned char *p = (const unsigned char *)svg;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        fputc(b64[(v >> 18) & 63], f);
        fputc(b64[(v >> 12) & 63], f);
        fputc(i + 1 < len ? b64[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < len ? b64[v & 63] : '=', f);
    }
    fputs("'></p>\n", f);
    free(svg);
}

/* The winners scope (the document, or one of its models) names. */
static void html_winners(FILE *f, const cJSON *doc, const cJSON *scope) {
    const cJSON *lat = rd_scoped_trial(doc, scope, "best_latency"),
                *tp = rd_scoped_trial(doc, scope, "best_throughput");
    if (!lat) lat = rd_scoped_trial(doc, scope, "best");
    if (!lat) {
        fputs("<p><strong>No trial both ran and validated.</strong></p>\n", f);
        return;
    }
    winner(f, "Best latency (median per call at the smallest batch)", lat, 1);
    if (tp && tp != lat) winner(f, "Best throughput (samples per second, any batch)", tp, 0);
}

void report_html(const cJSON *doc, FILE *f) {
    fputs("<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>calma: ", f);
    rd_xml_escape(f, rd_str(doc, "model.name"));
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}\n"
          "table.trials td:nth-child(n+2){text-align:right}\n"
          "tr.bad td{background:#fdecea}\n"
          "pre{background:#f6f6f6;padding:8px;overflow:auto}\n"
          "</style>\n</head>\n<body>\n<h1>calma: ",
          f);
    rd_xml_escape(f, rd_str(doc, "model.name"));
    fputs("</h1>\n", f);
    const cJSON *per = rd_get(doc, "per_model"), *pm;
    if (per) {
        cJSON_ArrayForEach(pm, per) {
            fputs("<h3>", f);
            rd_xml_escape(f, rd_str(pm, "name"));
            fputs("</h3>\n", f);
            html_winners(f, doc, pm);
        }
    } else {
        html_winners(f, doc, doc);
    }
    char m[512];
    fputs("<p>", f);
    rd_xml_escape(f, rd_method(doc, m, sizeof m));
    fputs("</p>\n", f);
    if (cJSON_IsTrue(rd_get(doc, "interrupted")))
        fputs("<p><strong>This run was interrupted; the trials below are those that "
              "finished.</strong></p>\n",
              f);
    chart(f, doc);
    trials_table(f, doc);
    bench_serving_visit(rd_get(doc, "trials"), serving_cells, f);
    warnings(f, doc);
    failures(f, doc);
    fputs("<h2>Machine and model</h2>\n", f);
    facts(f, doc);
    fputs("</body>\n</html>\n", f);
}
