/* bench_xnnpack [--models resnet18,mobilenet_v2] [--threads 2] [--batch 1]
 *               [--blocks 8] [--runs 10]
 *
 * The XNNPACK conversion against ONNX Runtime (ORT_CPU) on the zoo's CNNs,
 * in one process: both are loaded through include/calma/backend.h, then
 * timed in alternating blocks (A B B A A B ...) of R runs each, the clock
 * around run() only as calma's worker takes it, so drift and neighbours'
 * noise fall on both alike. Prints each median, their ratio (XNNPACK / ORT;
 * the aim is 1.0 or below) and the GFLOP/s each reaches, counting 2 FLOPs
 * per multiply-add of every Conv, Gemm and MatMul. Without ONNX Runtime it
 * times XNNPACK alone and says so. Figures are printed, not asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drive.h"
#include "zoo/zoo.h"

static void bench_model(const char *name, int64_t batch, int threads, int blocks, int runs) {
    calma_error e = {0};
    ir_graph *g = NULL;
    drive_side x = {0}, o = {0};
    if (zoo_build(name, 7, &g, &e)) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        return;
    }
    ir_graph_set_batch(g, batch);
    double flops = 2.0 * drive_count_macs(g, &e);
    size_t cap = (size_t)blocks * (size_t)runs;
    drive_cfg dc = {.threads = threads, .batch = batch, .cap = cap};
    const calma_conversion *cx = drive_find("XNNPACK");
    const calma_conversion *co = drive_find("ORT_CPU");
    if (!cx || drive_open(&x, cx, g, &dc, &e)) {
        printf("%-13s XNNPACK: %s\n", name, cx ? e.msg : "no XNNPACK conversion");
        goto out;
    }
    int have_ort = co && drive_open(&o, co, g, &dc, &e) == 0;
    if (!have_ort) {
        printf("%-13s ORT_CPU not measured: %s\n", name, co ? e.msg : "no ORT_CPU conversion");
        drive_close(&o);
    }
    drive_side *sides[2] = {&x, have_ort ? &o : NULL};
    if (drive_interleave(sides, 2, blocks, runs, &e)) goto fail;
    double xmin, omin = 0;
    double mx = drive_median(&x, &xmin);
    printf("%-13s %5lld %7d  %10.2f ms  %10.2f GFLOP/s", name, (long long)batch, threads, mx * 1e3,
           flops / mx * 1e-9);
    if (have_ort) {
        double mo = drive_median(&o, &omin);
        printf("  %10.2f ms  %10.2f GFLOP/s  %6.3f", mo * 1e3, flops / mo * 1e-9, mx / mo);
    } else {
        printf("  %10s     %10s          %6s", "-", "-", "-");
    }
    printf(
        "\n%-13s %.2f GFLOP; fastest run XNNPACK %.2f ms, ORT_CPU %.2f ms; XNNPACK load %.0f ms, "
        "convert %.0f ms, first run %.1f ms\n",
        "", flops * 1e-9, xmin * 1e3, omin * 1e3, x.load_s * 1e3, x.convert_s * 1e3,
        x.first_s * 1e3);
    goto out;
fail:
    printf("%-13s failed: %s\n", name, e.msg);
out:
    drive_close(&x);
    drive_close(&o);
    ir_graph_free(g);
}

int main(int argc, char **argv) {
    const char *models = "resnet18,mobilenet_v2";
    int threads = 2, blocks = 8, runs = 10;
    int64_t batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !v) {
            printf("usage: %s [--models A,B] [--threads N] [--batch N] [--blocks N] [--runs N]\n",
                   argv[0]);
            return !strcmp(a, "--help") || !strcmp(a, "-h") ? 0 : 2;
        }
        if (!strcmp(a, "--models"))
            models = v;
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = atoll(v);
        else if (!strcmp(a, "--blocks"))
            blocks = atoi(v);
        else if (!strcmp(a, "--runs"))
            runs = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (threads < 1 || batch < 1 || blocks < 1 || runs < 1) {
        fprintf(stderr, "threads, batch, blocks and runs must be positive\n");
        return 2;
    }
    printf("XNNPACK vs ORT_CPU, %d blocks x %d runs each, interleaved; ratio = XNNPACK / ORT "
           "median (aim <= 1.0)\n",
           blocks, runs);
    printf("%-13s %5s %7s  %13s  %18s  %13s  %18s  %6s\n", "model", "batch", "threads",
           "XNNPACK med", "XNNPACK", "ORT_CPU med", "ORT_CPU", "ratio");
    char list[256];
    snprintf(list, sizeof list, "%s", models);
    for (char *m = strtok(list, ","); m; m = strtok(NULL, ","))
        bench_model(m, batch, threads, blocks, runs);
    return 0;
}
