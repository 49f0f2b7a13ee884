/* Markdown: a table ready for a pull-request comment. */
#include <math.h>
#include <string.h>

#include "report/rdoc.h"
#include "report/report.h"
#include "util/fmt.h"

/* Table cells cannot hold '|' or line breaks. */
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

void report_md(const cJSON *doc, FILE *f) {
    char a[64], b[64], c[64];
    fprintf(f, "### calma: %s\n\n", rd_str(doc, "model.name"));
    const char *cpu = rd_str(doc, "machine.cpu");
    if (*cpu) fprintf(f, "%s, %.0f CPUs. ", cpu, rd_num(doc, "machine.cpus"));
    fprintf(f, "calma %s.\n\n", rd_str(doc, "calma_version"));
    fputs("| conversion | batch | threads | status | median | 95% interval | throughput | "
          "first run | load | peak memory | validation |\n",
          f);
    fputs("|---|---:|---:|---|---:|---|---:|---:|---:|---:|---|\n", f);
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        fputs("| ", f);
        md_cell(f, rd_str(t, "conversion"));
        fprintf(f, " | %.0f | %.0f | %s | %s | ", rd_num(t, "batch"), rd_num(t, "threads"),
                rd_str(t, "status"), fmt_time(rd_num(t, "stats.median"), a, sizeof a));
        if (isfinite(rd_num(t, "stats.ci_lo")))
            fprintf(f, "%s – %s", fmt_time(rd_num(t, "stats.ci_lo"), b, sizeof b),
                    fmt_time(rd_num(t, "stats.ci_hi"), c, sizeof c));
        else
            fputs("-", f);
        fprintf(f, " | %s", fmt_rate(rd_num(t, "throughput.per_s_median"), a, sizeof a));
        fprintf(f, " | %s", fmt_time(rd_num(t, "phases.first_s"), a, sizeof a));
        fprintf(f, " | %s", fmt_time(rd_num(t, "phases.load_s"), a, sizeof a));
        fprintf(f, " | %s | %s |\n", fmt_bytes(rd_num(t, "memory.peak"), a, sizeof a),
                rd_verdict(t));
    }
    const cJSON *best = rd_best_trial(doc);
    if (best)
        fprintf(f, "\n**Best correct:** %s at batch %.0f, threads %.0f: median %s, %s.\n",
                rd_str(best, "conversion"), rd_num(best, "batch"), rd_num(best, "threads"),
                fmt_time(rd_num(best, "stats.median"), a, sizeof a),
                fmt_rate(rd_num(best, "throughput.per_s_median"), b, sizeof b));
    else
        fputs("\n**Best correct:** none (no trial both ran and validated).\n", f);
    int header = 0;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (rd_ok(t) || !*rd_str(t, "message")) continue;
        if (!header) fputs("\n**Not ok:**\n\n", f);
        header = 1;
        fprintf(f, "- %s: **%s**: ", rd_label(t, a, sizeof a), rd_str(t, "status"));
        md_cell(f, rd_str(t, "message"));
        fputc('\n', f);
    }
}
