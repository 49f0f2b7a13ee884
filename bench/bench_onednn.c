/* bench_onednn [--models resnet18,mobilenet_v2] [--batch 1,8] [--threads 1,2]
 *              [--conversions ONEDNN,ONEDNN_BF16,ONEDNN_INT8] [--options K=V,...]
 *              [--blocks 6] [--runs 5]
 *
 * The oneDNN conversions against ONNX Runtime (ORT_CPU, float32) on the
 * zoo's CNNs, in one process (drive.h): every conversion of one model,
 * batch and thread count is timed in alternating blocks of runs, so each
 * median is relative to ORT_CPU's in the same stretch of time. Prints per
 * conversion the median, GFLOP/s (2 FLOPs per multiply-add of every Conv,
 * Gemm and MatMul), the ratio to ORT_CPU (aims: ONEDNN <= 1.0, a
 * reduced-precision conversion <= 0.5 on resnet18) and its accuracy against
 * calma's oracle on the same inputs: the lowest cosine similarity and the
 * largest absolute error over the outputs. Figures are printed, not * asserted. ONEDNN_VERBOSE=1
 * makes oneDNN name each kernel it runs. OpenMP's threads wait passively (OMP_WAIT_POLICY=PASSIVE,
 * as in calma's workers) unless the environment sets the policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "drive.h"
#include "onnx/onnx.h"
#include "zoo/zoo.h"

#define MAX_SIDES 6

typedef struct opts {
    const char *models, *batches, *threads, *convs, *options;
    int blocks, runs;
} opts;

static void row(const char *model, int64_t batch, int threads, const char *conv,
                const drive_side *a, double base, double flops, const ir_tensor *ref) {
    calma_error e = {0};
    double med = drive_median(a, NULL), cos = 0, err = 0;
    int ok = drive_compare(a, ref, &cos, &err, &e) == CALMA_OK;
    printf("%-13s %5lld %7d  %-12s %9.2f ms %9.1f  %8.3f  ", model, (long long)batch, threads, conv,
           med * 1e3, flops / med * 1e-9, base > 0 ? med / base : 0.0);
    if (ok)
        printf("%.6f  %9.3g\n", cos, err);
    else
        printf("compare failed: %s\n", e.msg);
}

static void bench_one(const char *model, int64_t batch, int threads, const opts *o) {
    calma_error e = {0};
    ir_graph *g = NULL;
    drive_side sides[MAX_SIDES];
    const char *names[MAX_SIDES];
    ir_tensor ref[DRIVE_MAX_IO];
    memset(sides, 0, sizeof sides);
    memset(ref, 0, sizeof ref);
    int n = 0; /* The model as a file too, its batch dimension symbolic, as a worker
                * gives it (ONEDNN_INT8 calibrates from it at batch 1). */
    char path[] = "/tmp/bench_onednn_XXXXXX.onnx";
    int fd = mkstemps(path, 5);
    if (fd < 0 || zoo_build(model, 7, &g, &e) || onnx_save(g, path, &e)) {
        fprintf(stderr, "%s: %s\n", model, fd < 0 ? "cannot make a temporary file" : e.msg);
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        ir_graph_free(g);
        return;
    }
    close(fd);
    ir_graph_set_batch(g, batch);
    double flops = 2.0 * drive_count_macs(g, &e);
    size_t cap = (size_t)o->blocks * (size_t)o->runs;
    drive_cfg dc = {
        .threads = threads, .batch = batch, .options = o->options, .path = path, .cap = cap};
    char list[256];
    snprintf(list, sizeof list, "ORT_CPU,%s", o->convs);
    drive_side *live[MAX_SIDES] = {0};
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c && n < MAX_SIDES;
         c = strtok_r(NULL, ",", &save)) {
        const calma_conversion *cv = drive_find(c);
        names[n] = cv ? cv->name : c;
        if (!cv || drive_open(&sides[n], cv, g, &dc, &e)) {
            printf("%-13s %5lld %7d  %-12s %s\n", model, (long long)batch, threads, names[n],
                   cv ? e.msg : "no such conversion");
            drive_close(&sides[n]);
        } else {
            live[n] = &sides[n];
        }
        n++;
    }
    /* The outputs of each side's first run, against the oracle's. */
    const drive_side *any = NULL;
    for (int i = 0; i < n && !any; i++) any = live[i];
    if (!any) goto out;
    if (drive_oracle(g, any, ref, &e)) {
        printf("%-13s oracle failed: %s\n", model, e.msg);
        goto out;
    }
    if (drive_interleave(live, n, o->blocks, o->runs, &e)) {
        printf("%-13s timing failed: %s\n", model, e.msg);
        goto out;
    }
    double base = live[0] ? drive_median(live[0], NULL) : 0;
    for (int i = 0; i < n; i++)
        if (live[i]) row(model, batch, threads, names[i], live[i], base, flops, ref);
out:
    for (int i = 0; i < n; i++) drive_close(&sides[i]);
    for (int k = 0; k < DRIVE_MAX_IO; k++) ir_tensor_free(&ref[k]);
    ir_graph_free(g);
    unlink(path);
}

static int usage(const char *prog, int rc) {
    printf("usage: %s [--models A,B] [--batch 1,8] [--threads 1,2] [--conversions A,B] "
           "[--options K=V,...] [--blocks N] [--runs N]\n",
           prog);
    return rc;
}

int main(int argc, char **argv) {
    drive_passive_openmp(argv);
    opts o = {"resnet18,mobilenet_v2", "1,8", "1,2", "ONEDNN,ONEDNN_BF16,ONEDNN_INT8", "", 6, 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(argv[0], 0);
        if (!v) return usage(argv[0], 2);
        if (!strcmp(a, "--models"))
            o.models = v;
        else if (!strcmp(a, "--batch"))
            o.batches = v;
        else if (!strcmp(a, "--threads"))
            o.threads = v;
        else if (!strcmp(a, "--conversions"))
            o.convs = v;
        else if (!strcmp(a, "--options"))
            o.options = v;
        else if (!strcmp(a, "--blocks"))
            o.blocks = atoi(v);
        else if (!strcmp(a, "--runs"))
            o.runs = atoi(v);
        else
            return usage(argv[0], 2);
        i++;
    }
    if (o.blocks < 1 || o.runs < 1) {
        fprintf(stderr, "blocks and runs must be positive\n");
        return 2;
    }
    printf("oneDNN vs ORT_CPU (float32), %d blocks x %d runs each, interleaved; ratio = median / "
           "ORT_CPU median; accuracy against calma's oracle\n",
           o.blocks, o.runs);
    printf("%-13s %5s %7s  %-12s %12s %9s  %8s  %-8s  %9s\n", "model", "batch", "threads",
           "conversion", "median", "GFLOP/s", "/ORT_CPU", "cosine", "max |err|");
    char ml[256], bl[64], tl[64];
    snprintf(ml, sizeof ml, "%s", o.models);
    for (char *s1 = NULL, *m = strtok_r(ml, ",", &s1); m; m = strtok_r(NULL, ",", &s1)) {
        snprintf(bl, sizeof bl, "%s", o.batches);
        for (char *s2 = NULL, *b = strtok_r(bl, ",", &s2); b; b = strtok_r(NULL, ",", &s2)) {
            snprintf(tl, sizeof tl, "%s", o.threads);
            for (char *s3 = NULL, *t = strtok_r(tl, ",", &s3); t; t = strtok_r(NULL, ",", &s3)) {
                if (atoll(b) < 1 || atoi(t) < 1) {
                    fprintf(stderr, "batch and threads must be positive\n");
                    return 2;
                }
                bench_one(m, atoll(b), atoi(t), &o);
            }
        }
    }
    return 0;
}
