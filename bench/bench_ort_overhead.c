/* bench_ort_overhead [MODEL] [--threads 1,2] [--blocks N] [--runs R]
 *
 * Does calma's ORT backend add time to an inference? In one process, for
 * each thread count, it opens the model twice: A through calma's ORT_CPU
 * conversion (timing run() alone with CLOCK_MONOTONIC, as the worker does)
 * and B through a hand-written ONNX Runtime loop (ort_plain.c). Then it
 * alternates blocks of R runs, A B B A A B ..., so drift and neighbours'
 * noise fall on both alike, and prints the ratio of the medians (A / B),
 * plus session creation and first-inference times for both. MODEL is an
 * .onnx path or a zoo name (default resnet18, batch 1). Figures are
 * printed, not asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backends.h"
#include "bench/stats.h"
#include "ir/ir.h"
#include "onnx/onnx.h"
#include "ort_plain.h"
#include "drive.h"
#include "zoo/zoo.h"

/* Load, convert and first run of calma's ORT_CPU through the backend
 * interface, each timed (bench/drive.c, as the worker does it). */
static int side_open(drive_side *a, const ir_graph *g, const char *path, int threads,
                     calma_error *e) {
    const calma_conversion *c = drive_find("ORT_CPU");
    if (!c) return fprintf(stderr, "no ORT_CPU conversion\n"), -1;
    drive_cfg dc = {.threads = threads, .batch = 1, .path = path};
    return drive_open(a, c, g, &dc, e) ? -1 : 0;
}

static double median(const double *s, size_t n) {
    stats_summary sum;
    stats_summarize(s, n, &sum);
    return sum.median;
}

static int bench_threads(const ir_graph *g, const char *path, int threads, int blocks, int runs,
                         int plain_first) {
    calma_error e = {0};
    drive_side a = {0};
    ort_plain *b = NULL;
    char err[1024] = "";
    double b_create = 0, b_first = 0;
    int rc = -1;
    size_t cap = (size_t)blocks * (size_t)runs;
    double *sa = calloc(cap, sizeof(double)), *sb = calloc(cap, sizeof(double));
    double *ratios = calloc((size_t)blocks, sizeof(double));
    if (!sa || !sb || !ratios) goto out;
    /* Whoever opens first pays for cold code and ORT's one-time set-up in
     * its session creation: take turns across thread counts. */
    for (int side = 0; side < 2; side++) {
        if ((side == 0) == !plain_first) {
            if (side_open(&a, g, path, threads, &e)) {
                fprintf(stderr, "calma ORT_CPU: %s\n", e.msg);
                goto out;
            }
        } else {
            if (ort_plain_open(path, threads, &b, &b_create, err, sizeof err)) goto out;
            double t0 = ort_plain_now();
            if (ort_plain_run(b, err, sizeof err)) goto out;
            b_first = ort_plain_now() - t0;
        }
    }
    double dummy;
    for (int w = 0; w < 5; w++) /* warm both before the first block */
        if (drive_sample(&a, &dummy, &e) || ort_plain_run(b, err, sizeof err)) goto out;
    size_t na = 0, nb = 0;
    for (int blk = 0; blk < blocks; blk++) {
        for (int half = 0; half < 2; half++) {
            /* A B, B A, A B, ...: each side goes first in half the blocks. */
            int do_a = (half == 0) == (blk % 2 == 0);
            for (int r = 0; r < runs; r++) {
                if (do_a) {
                    if (drive_sample(&a, &sa[na++], &e)) goto out;
                } else {
                    double s0 = ort_plain_now();
                    if (ort_plain_run(b, err, sizeof err)) goto out;
                    sb[nb++] = ort_plain_now() - s0;
                }
            }
        }
        ratios[blk] = median(sa + na - (size_t)runs, (size_t)runs) /
                      median(sb + nb - (size_t)runs, (size_t)runs);
    }
    stats_summary ma, mb;
    stats_summarize(sa, na, &ma);
    stats_summarize(sb, nb, &mb);
    printf("threads %d: calma ORT_CPU median %.3f ms [%.3f, %.3f] (n %zu) | plain ORT median "
           "%.3f ms [%.3f, %.3f] (n %zu) | ratio of medians %.4f (block ratios median %.4f)\n",
           threads, ma.median * 1e3, ma.ci_lo * 1e3, ma.ci_hi * 1e3, na, mb.median * 1e3,
           mb.ci_lo * 1e3, mb.ci_hi * 1e3, nb, ma.median / mb.median,
           median(ratios, (size_t)blocks));
    printf("threads %d: calma load %.1f ms + convert (session creation) %.1f ms, first inference "
           "%.2f ms | plain session creation %.1f ms, first inference %.2f ms (%s opened first)\n",
           threads, a.load_s * 1e3, a.convert_s * 1e3, a.first_s * 1e3, b_create * 1e3,
           b_first * 1e3, plain_first ? "plain" : "calma");
    fflush(stdout);
    rc = 0;
out:
    if (rc && err[0]) fprintf(stderr, "plain ORT: %s\n", err);
    drive_close(&a);
    ort_plain_close(b);
    free(sa);
    free(sb);
    free(ratios);
    return rc;
}

int main(int argc, char **argv) {
    const char *model = "resnet18", *threads_csv = "1,2";
    int blocks = 10, runs = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_csv = argv[++i];
        else if (!strcmp(argv[i], "--blocks") && i + 1 < argc)
            blocks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [MODEL] [--threads 1,2] [--blocks N] [--runs R]\n", argv[0]);
            return 2;
        } else
            model = argv[i];
    }
    if (blocks < 1 || runs < 1) return fprintf(stderr, "bad --blocks or --runs\n"), 2;
    calma_error e = {0};
    ir_graph *g = NULL;
    char path[512];
    int tmp = 0;
    if (zoo_find(model) >= 0) {
        if (zoo_build(model, 1, &g, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        snprintf(path, sizeof path, "/tmp/calma-bench-ort-%d-%s.onnx", (int)getpid(), model);
        if (onnx_save(g, path, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        tmp = 1;
    } else {
        snprintf(path, sizeof path, "%s", model);
        if (onnx_load(path, &g, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    }
    ir_graph_set_batch(g, 1);
    const char *version = ortbe_conversions[0].backend->version();
    printf("model %s, batch 1, ONNX Runtime %s, %d blocks x %d runs per side\n", model,
           version ? version : "(not found)", blocks, runs);
    int rc = 0, nth = 0;
    for (const char *p = threads_csv; *p;) {
        int t = atoi(p);
        if (t < 1) return fprintf(stderr, "bad --threads %s\n", threads_csv), 2;
        if (bench_threads(g, path, t, blocks, runs, nth++ % 2)) rc = 1;
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    if (tmp) unlink(path);
    ir_graph_free(g);
    return rc;
}
