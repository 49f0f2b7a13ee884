/* bench_xnnpack [MODEL|FILE.onnx ...] [--threads 1,2] [--batch 1] [--blocks 12] [--runs 10]
 *
 * The XNNPACK conversion against ONNX Runtime (ORT_CPU) on each model
 * (default: every zoo model), in one process. Each conversion is opened at
 * every thread count through include/calma/backend.h, as calma's worker
 * opens it (bench/drive.c), and all of them are timed in blocks of R runs,
 * the order of the sides turning each block (A B C D, B C D A, ...), the
 * clock around run() only, so drift and neighbours' noise fall on all of
 * them alike. For each model and thread count it prints both medians,
 * their ratio (XNNPACK / ORT; the aim is 1.0 or below) with the range of
 * the per-block ratios, the GFLOP/s each reaches (the oracle's FLOP count
 * of the graph), and how XNNPACK split the graph: nodes inside XNNPACK and
 * on calma's kernels, islands, layout changes at island edges, and the
 * share of time outside XNNPACK (from a separate profiled pass, so the
 * timed runs read no extra clocks). Without ONNX Runtime it times XNNPACK
 * alone and says so. Figures are printed, not asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "bench/stats.h"
#include "ir/ir.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "drive.h"
#include "zoo/zoo.h"

#define MAX_THREADS 8

typedef struct timed {
    drive_side side;
    int open;
    double *samples;
    size_t n;
    double *block_med; /* the median of each block */
} timed;

static double median_of(double *s, size_t n) {
    stats_summary sum;
    stats_summarize(s, n, &sum);
    return sum.median;
}

static void timed_close(timed *t) {
    drive_close(&t->side);
    free(t->samples);
    free(t->block_med);
    memset(t, 0, sizeof *t);
}

static int timed_open(timed *t, const calma_conversion *c, const ir_graph *g, int threads,
                      int64_t batch, size_t cap, int blocks, calma_error *e) {
    memset(t, 0, sizeof *t);
    t->samples = calloc(cap, sizeof(double));
    t->block_med = calloc((size_t)blocks, sizeof(double));
    if (!t->samples || !t->block_med) return CALMA_E_NOMEM;
    drive_cfg dc = {.threads = threads, .batch = batch};
    int rc = drive_open(&t->side, c, g, &dc, e);
    t->open = rc == CALMA_OK;
    return rc;
}

static int timed_block(timed *t, int runs, int b, calma_error *e) {
    if (!t->open) return CALMA_OK;
    double dt;
    for (int r = 0; r < runs; r++) {
        int rc = drive_sample(&t->side, &dt, e);
        if (rc) return rc;
        t->samples[t->n++] = dt;
    }
    double *last = t->samples + t->n - (size_t)runs, tmp[1024];
    size_t m = (size_t)runs < 1024 ? (size_t)runs : 1024;
    memcpy(tmp, last, m * sizeof(double));
    t->block_med[b] = median_of(tmp, m);
    return CALMA_OK;
}

/* XNNPACK's split of the graph, and with profile the share of time it
 * spends outside XNNPACK over `runs` runs. */
static void print_split(const calma_conversion *cx, const ir_graph *g, int threads, int64_t batch,
                        int runs) {
    drive_side p;
    calma_error e = {0};
    drive_cfg dc = {.threads = threads, .batch = batch, .profile = 1};
    if (drive_open(&p, cx, g, &dc, &e)) {
        printf("    (profiled pass failed: %s)\n", e.msg);
        drive_close(&p);
        return;
    }
    double dt;
    for (int r = 0; r < runs && !drive_sample(&p, &dt, &e); r++) {
    }
    calma_fact f[CALMA_MAX_FACTS];
    int n = cx->backend->info ? cx->backend->info(p.state, f, CALMA_MAX_FACTS) : 0;
    double in = 0, out = 0, isl = 0, lay = 0, share = -1;
    const char *ops = "";
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i].key, "nodes_in_engine")) in = f[i].number;
        if (!strcmp(f[i].key, "nodes_outside")) out = f[i].number;
        if (!strcmp(f[i].key, "islands")) isl = f[i].number;
        if (!strcmp(f[i].key, "layout_changes")) lay = f[i].number;
        if (!strcmp(f[i].key, "outside_share")) share = f[i].number;
        if (!strcmp(f[i].key, "ops_outside") && f[i].text) ops = f[i].text;
    }
    printf("    split at %d thread%s: %.0f nodes in XNNPACK, %.0f outside%s%s%s, %.0f island%s, "
           "%.0f layout change%s; %.1f%% of the time outside XNNPACK\n",
           threads, threads > 1 ? "s" : "", in, out, *ops ? " (" : "", ops, *ops ? ")" : "", isl,
           isl == 1 ? "" : "s", lay, lay == 1 ? "" : "s", share >= 0 ? 100 * share : 0);
    drive_close(&p);
}

static int load_model(const char *name, int64_t batch, ir_graph **g, calma_error *e) {
    int rc = zoo_find(name) >= 0 ? zoo_build(name, 7, g, e) : onnx_load(name, g, e);
    if (!rc) ir_graph_set_batch(*g, batch);
    return rc;
}

static void bench_model(const char *name, int64_t batch, const int *threads, int nt, int blocks,
                        int runs) {
    calma_error e = {0};
    ir_graph *g = NULL;
    if (load_model(name, batch, &g, &e)) {
        printf("%-13s cannot load: %s\n", name, e.msg);
        return;
    }
    ir_tensor *types = calloc((size_t)g->n_inputs + 1, sizeof *types);
    ir_tensor *outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
    double flops = 0;
    for (int i = 0; types && i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        types[i] = (ir_tensor){.dtype = v->dtype, .rank = v->rank};
        memcpy(types[i].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    }
    if (!types || !outs || ref_infer_outputs_flops(g, types, outs, &flops, &e)) flops = 0;
    free(types);
    free(outs);
    const calma_conversion *cx = drive_find("XNNPACK");
    const calma_conversion *co = drive_find("ORT_CPU");
    size_t cap = (size_t)blocks * (size_t)runs;
    timed sides[2 * MAX_THREADS];
    int ns = 2 * nt, have_ort = 1;
    memset(sides, 0, sizeof sides);
    for (int t = 0; t < nt; t++) {
        if (timed_open(&sides[2 * t], cx, g, threads[t], batch, cap, blocks, &e)) {
            printf("%-13s XNNPACK: %s\n", name, e.msg);
            goto out;
        }
        if (have_ort && timed_open(&sides[2 * t + 1], co, g, threads[t], batch, cap, blocks, &e)) {
            printf("%-13s ORT_CPU not measured: %s\n", name, e.msg);
            have_ort = 0;
        }
    }
    for (int s = 0; s < ns; s++) /* warm every side before the first block */
        for (int w = 0; w < 3; w++)
            if (timed_block(&sides[s], 1, 0, &e)) goto fail;
    for (int s = 0; s < ns; s++) sides[s].n = 0;
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < ns; k++)
            if (timed_block(&sides[(b + k) % ns], runs, b, &e)) goto fail;
    for (int t = 0; t < nt; t++) {
        timed *x = &sides[2 * t], *o = &sides[2 * t + 1];
        double mx = median_of(x->samples, x->n);
        printf("%-13s %5lld %7d  %9.3f ms %7.1f", name, (long long)batch, threads[t], mx * 1e3,
               flops / mx * 1e-9);
        if (o->open) {
            double mo = median_of(o->samples, o->n), lo = 1e30, hi = 0;
            for (int b = 0; b < blocks; b++) {
                double r = x->block_med[b] / o->block_med[b];
                lo = r < lo ? r : lo;
                hi = r > hi ? r : hi;
            }
            printf("  %9.3f ms %7.1f  %6.3f  [%.2f, %.2f]\n", mo * 1e3, flops / mo * 1e-9, mx / mo,
                   lo, hi);
        } else {
            printf("  %12s %7s  %6s\n", "-", "-", "-");
        }
        print_split(cx, g, threads[t], batch, runs * 2);
    }
    printf("    %.3g GFLOP; XNNPACK load %.0f ms, convert %.0f ms, first run %.2f ms\n",
           flops * 1e-9, sides[0].side.load_s * 1e3, sides[0].side.convert_s * 1e3,
           sides[0].side.first_s * 1e3);
    goto out;
fail:
    printf("%-13s failed: %s\n", name, e.msg);
out:
    for (int s = 0; s < ns; s++) timed_close(&sides[s]);
    ir_graph_free(g);
}

int main(int argc, char **argv) {
    const char *models[64];
    int n_models = 0, threads[MAX_THREADS], nt = 0, blocks = 12, runs = 10;
    const char *threads_csv = "1,2";
    int64_t batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s [MODEL|FILE.onnx ...] [--threads 1,2] [--batch N] [--blocks N] "
                   "[--runs N]\n(default: every zoo model)\n",
                   argv[0]);
            return 0;
        }
        if (a[0] != '-') {
            if (n_models < 64) models[n_models++] = a;
            continue;
        }
        if (!v) return fprintf(stderr, "%s needs a value\n", a), 2;
        if (!strcmp(a, "--threads"))
            threads_csv = v;
        else if (!strcmp(a, "--batch"))
            batch = atoll(v);
        else if (!strcmp(a, "--blocks"))
            blocks = atoi(v);
        else if (!strcmp(a, "--runs"))
            runs = atoi(v);
        else
            return fprintf(stderr, "unknown option %s\n", a), 2;
        i++;
    }
    for (const char *p = threads_csv; *p && nt < MAX_THREADS;) {
        threads[nt++] = atoi(p);
        if (threads[nt - 1] < 1) return fprintf(stderr, "bad --threads %s\n", threads_csv), 2;
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    if (nt < 1 || batch < 1 || blocks < 1 || runs < 1 || runs > 1024)
        return fprintf(stderr, "threads, batch, blocks and runs (<= 1024) must be positive\n"), 2;
    if (!n_models)
        for (int i = 0; i < zoo_count() && n_models < 64; i++) models[n_models++] = zoo_name(i);
    printf("XNNPACK vs ORT_CPU, %d blocks x %d runs per side, every side interleaved; ratio = "
           "XNNPACK / ORT median (aim <= 1.0) [range of the block ratios]\n",
           blocks, runs);
    printf("%-13s %5s %7s  %12s %7s  %12s %7s  %6s\n", "model", "batch", "threads", "XNNPACK",
           "GFLOP/s", "ORT_CPU", "GFLOP/s", "ratio");
    for (int m = 0; m < n_models; m++) bench_model(models[m], batch, threads, nt, blocks, runs);
    return 0;
}
