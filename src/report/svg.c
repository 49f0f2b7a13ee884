/* SVG: median latency per call (one call runs one batch) with the median's
 * 95% interval as whiskers, and throughput in samples per second, both on log scales so a slow
 * oracle and a fast engine fit one chart. Readable without the table. */
#include <math.h>
#include <string.h>

#include "bench/bench.h"
#include "report/rdoc.h"
#include "report/report.h"
#include "report/svg_serve.h"
#include "util/fmt.h"

#define SVG_W 900
#define LABEL_W 230
#define PLOT_W 560
#define ROW_H 22
#define PANEL_HEAD 46

typedef struct scale {
    double lo_dec, hi_dec; /* log10 of the axis ends */
} scale;

static scale make_scale(double lo, double hi) {
    scale s = {0, 1};
    if (!(lo > 0) || !(hi > 0)) return s;
    s.lo_dec = floor(log10(lo));
    s.hi_dec = ceil(log10(hi));
    if (s.hi_dec <= s.lo_dec) s.hi_dec = s.lo_dec + 1;
    return s;
}

static double xpos(const scale *s, double v) {
    double t = (log10(v) - s->lo_dec) / (s->hi_dec - s->lo_dec);
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return LABEL_W + t * PLOT_W;
}

static void axis(FILE *f, const scale *s, double y_top, double y_bottom, int is_time) {
    char buf[32];
    for (double d = s->lo_dec; d <= s->hi_dec + 1e-9; d += 1) {
        double v = pow(10, d), x = xpos(s, v);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n", x, y_top, x,
                y_bottom);
        fprintf(
            f,
            "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle' fill='#555'>%s</text>\n",
            x, y_bottom + 12,
            is_time ? fmt_time(v, buf, sizeof buf) : fmt_rate(v, buf, sizeof buf));
    }
}

/* One panel; returns the y below it. */
static double panel(FILE *f, const cJSON *trials, double y, int is_time) {
    double lo = INFINITY, hi = 0;
    int rows = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, trials) {
        rows++;
        double v = is_time ? rd_num(t, "stats.median") : bench_samples_per_s(t);
        double a = is_time ? rd_num(t, "stats.ci_lo") : v,
               b = is_time ? rd_num(t, "stats.ci_hi") : v;
        if (!(v > 0)) continue;
        if (!(a > 0)) a = v;
        if (!(b > 0)) b = v;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
    }
    scale s = make_scale(lo, hi);
    fprintf(f, "<text x='10' y='%.1f' font-size='14' font-weight='bold'>%s</text>\n", y + 18,
            is_time ? "Median latency per call, one call runs one batch (log scale; whiskers: 95% "
                      "interval of the median)"
                    : "Throughput, samples per second (log scale; higher is better)");
    double top = y + PANEL_HEAD - 14, bottom = y + PANEL_HEAD + rows * ROW_H;
    axis(f, &s, top, bottom, is_time);
    int r = 0;
    char label[160], val[64];
    cJSON_ArrayForEach(t, trials) {
        double cy = y + PANEL_HEAD + r * ROW_H + ROW_H / 2.0;
        r++;
        fprintf(f, "<text x='%d' y='%.1f' font-size='12' text-anchor='end'>", LABEL_W - 8, cy + 4);
        rd_xml_escape(f, rd_label(t, label, sizeof label));
        fputs("</text>\n", f);
        const char *status = rd_str(t, "status");
        double v = is_time ? rd_num(t, "stats.median") : bench_samples_per_s(t);
        if (!(v > 0)) {
            fprintf(f, "<text x='%d' y='%.1f' font-size='12' fill='#a00'>", LABEL_W + 4, cy + 4);
            rd_xml_escape(f, *status ? status : "no result");
            fputs("</text>\n", f);
            continue;
        }
        const char *color = !strcmp(status, "ok") ? "#4477aa" : "#cc3311";
        double x = xpos(&s, v);
        fprintf(f, "<rect x='%d' y='%.1f' width='%.1f' height='%d' fill='%s'/>\n", LABEL_W, cy - 7,
                x - LABEL_W > 1 ? x - LABEL_W : 1, 14, color);
        if (is_time) {
            double a = rd_num(t, "stats.ci_lo"), b = rd_num(t, "stats.ci_hi");
            if (a > 0 && b > 0) {
                double xa = xpos(&s, a), xb = xpos(&s, b);
                fprintf(f,
                        "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#222'/>"
                        "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#222'/>"
                        "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#222'/>\n",
                        xa, cy, xb, cy, xa, cy - 5, xa, cy + 5, xb, cy - 5, xb, cy + 5);
            }
        }
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' fill='#222'>%s",
                (x > LABEL_W + PLOT_W - 90 ? LABEL_W + PLOT_W : x) + 6, cy + 4,
                is_time ? fmt_time(v, val, sizeof val) : fmt_rate(v, val, sizeof val));
        if (strcmp(status, "ok")) {
            fputc(' ', f);
            rd_xml_escape(f, status); /* a report's text: it may come from anywhere */
        }
        fputs("</text>\n", f);
    }
    return bottom + 24;
}

void report_svg(const cJSON *doc, FILE *f) {
    const cJSON *trials = rd_get(doc, "trials");
    int rows = cJSON_GetArraySize(trials);
    double height = 40 + 2 * (PANEL_HEAD + rows * ROW_H + 24) + 10 + report_svg_serving_height(doc);
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%.0f' viewBox='0 0 %d "
            "%.0f' font-family='sans-serif'>\n",
            SVG_W, height, SVG_W, height);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fputs("<text x='10' y='24' font-size='16' font-weight='bold'>calma: ", f);
    rd_xml_escape(f, rd_str(doc, "model.name"));
    fputs("</text>\n", f);
    double y = panel(f, trials, 34, 1);
    y = panel(f, trials, y, 0);
    report_svg_serving(doc, f, y);
    fputs("</svg>\n", f);
}
