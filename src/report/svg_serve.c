/* SVG: the latency-throughput chart of a server run: p99 latency (log
 * scale) against the achieved rate, one line per trial (a conversion at its
 * batch, threads and streams) through the rate steps of every process, the
 * latency bound dashed across. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/rdoc.h"
#include "report/report.h"
#include "report/svg_serve.h"
#include "util/fmt.h"

#define CH_X 90    /* the plot's left edge */
#define CH_W 560   /* its width */
#define CH_H 260   /* its height */
#define CH_HEAD 40 /* title above it */
#define CH_LEGEND_X (CH_X + CH_W + 20)
#define CH_MAX_POINTS 4096

static const char *const palette[] = {"#4477aa", "#ee6677", "#228833", "#ccbb44",
                                      "#66ccee", "#aa3377", "#bbbbbb", "#000000"};

typedef struct point {
    double x, y; /* achieved rate, p99 (+inf: never served) */
    int met;     /* -1 unknown */
} point;

static int by_x(const void *a, const void *b) {
    double x = ((const point *)a)->x, y = ((const point *)b)->x;
    return (x > y) - (x < y);
}

/* Every rate step of trial t (each process's, or the trial's own). */
static int steps_of(const cJSON *t, point *p, int max) {
    int n = 0;
    const cJSON *procs = rd_get(t, "scenario.processes"), *pr, *s;
    const cJSON *one[1] = {rd_get(t, "scenario")};
    int np = cJSON_GetArraySize(procs);
    for (int k = 0; k < (np ? np : 1); k++) {
        pr = np ? cJSON_GetArrayItem(procs, k) : one[0];
        cJSON_ArrayForEach(s, rd_get(pr, "steps")) {
            if (n >= max) break;
            const cJSON *met = rd_get(s, "met");
            p[n++] = (point){rd_num(s, "achieved_rate"), rd_num(s, "p99"),
                             cJSON_IsBool(met) ? cJSON_IsTrue(met) : -1};
        }
    }
    int k = 0; /* a step that served nothing has no rate to plot */
    for (int i = 0; i < n; i++)
        if (isfinite(p[i].x) && p[i].x > 0) p[k++] = p[i];
    qsort(p, (size_t)k, sizeof *p, by_x);
    return k;
}

static int is_server(const cJSON *t) {
    return !strcmp(rd_str(t, "scenario.kind"), "server");
}

double report_svg_serving_height(const cJSON *doc) {
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (is_server(t)) return CH_HEAD + CH_H + 40;
    }
    return 0;
}

typedef struct axes {
    double top, xmax, ylo_dec, yhi_dec;
} axes;

static double px(const axes *a, double x) {
    return CH_X + (a->xmax > 0 ? x / a->xmax : 0) * CH_W;
}

static double py(const axes *a, double y) {
    double t = isfinite(y) && y > 0 ? (log10(y) - a->ylo_dec) / (a->yhi_dec - a->ylo_dec) : 1;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return a->top + (1 - t) * CH_H;
}

static void draw_axes(FILE *f, const axes *a) {
    char buf[32];
    double bottom = a->top + CH_H;
    fprintf(f, "<rect x='%d' y='%.1f' width='%d' height='%d' fill='none' stroke='#999'/>\n", CH_X,
            a->top, CH_W, CH_H);
    for (double d = a->ylo_dec; d <= a->yhi_dec + 1e-9; d += 1) {
        double y = py(a, pow(10, d));
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>\n", CH_X, y,
                CH_X + CH_W, y);
        fprintf(f, "<text x='%d' y='%.1f' font-size='10' text-anchor='end' fill='#555'>%s</text>\n",
                CH_X - 4, y + 3, fmt_time(pow(10, d), buf, sizeof buf));
    }
    for (int i = 0; i <= 5; i++) {
        double v = a->xmax * i / 5, x = px(a, v);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n", x, a->top, x,
                bottom);
        fprintf(
            f,
            "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle' fill='#555'>%.*f</text>\n",
            x, bottom + 12, v >= 100 || v == 0 ? 0 : 2, v);
    }
    fprintf(f,
            "<text x='%d' y='%.1f' font-size='11' text-anchor='middle' fill='#333'>achieved rate, "
            "requests per second</text>\n",
            CH_X + CH_W / 2, bottom + 28);
}

double report_svg_serving(const cJSON *doc, FILE *f, double y) {
    if (!(report_svg_serving_height(doc) > 0)) return y;
    point *p = malloc(sizeof *p * CH_MAX_POINTS);
    if (!p) return y;
    axes a = {.top = y + CH_HEAD, .xmax = 0};
    double lo = INFINITY, hi = 0, bound = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (!is_server(t)) continue;
        int n = steps_of(t, p, CH_MAX_POINTS);
        for (int i = 0; i < n; i++) {
            a.xmax = fmax(a.xmax, p[i].x);
            if (isfinite(p[i].y) && p[i].y > 0) lo = fmin(lo, p[i].y), hi = fmax(hi, p[i].y);
        }
        double b = rd_num(t, "scenario.latency_bound");
        if (b > 0) bound = b, lo = fmin(lo, b), hi = fmax(hi, b);
    }
    if (!(hi > 0)) lo = 1e-3, hi = 1e-2;
    a.xmax = a.xmax > 0 ? a.xmax * 1.05 : 1;
    a.ylo_dec = floor(log10(lo));
    a.yhi_dec = ceil(log10(hi));
    if (a.yhi_dec <= a.ylo_dec) a.yhi_dec = a.ylo_dec + 1;
    fprintf(f,
            "<text x='10' y='%.1f' font-size='14' font-weight='bold'>p99 latency against the "
            "achieved rate, server scenario (log scale; open marks missed the bound)</text>\n",
            y + 18);
    draw_axes(f, &a);
    if (bound > 0)
        fprintf(f,
                "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#a00' stroke-dasharray='6,4'/>"
                "<text x='%d' y='%.1f' font-size='10' fill='#a00'>bound</text>\n",
                CH_X, py(&a, bound), CH_X + CH_W, py(&a, bound), CH_X + CH_W + 4,
                py(&a, bound) + 3);
    int line = 0;
    char label[200];
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (!is_server(t)) continue;
        int n = steps_of(t, p, CH_MAX_POINTS);
        if (!n) continue;
        const char *color = palette[line % (int)(sizeof palette / sizeof palette[0])];
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", color);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(&a, p[i].x), py(&a, p[i].y));
        fputs("'/>\n", f);
        for (int i = 0; i < n; i++)
            fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3.5' stroke='%s' fill='%s'/>\n",
                    px(&a, p[i].x), py(&a, p[i].y), color, p[i].met == 0 ? "white" : color);
        double ly = a.top + 12 + 16 * line;
        fprintf(f, "<rect x='%d' y='%.1f' width='10' height='10' fill='%s'/>", CH_LEGEND_X, ly - 9,
                color);
        fprintf(f, "<text x='%d' y='%.1f' font-size='11'>", CH_LEGEND_X + 14, ly);
        rd_xml_escape(f, rd_label(t, label, sizeof label));
        fputs("</text>\n", f);
        line++;
    }
    free(p);
    return a.top + CH_H + 40;
}
