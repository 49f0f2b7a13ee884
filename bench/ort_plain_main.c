/* ort_plain MODEL [THREADS [RUNS]]: times an ONNX Runtime session by hand,
 * with no calma code, and prints session creation, first inference and the
 * median of RUNS plain-loop inferences. The baseline of bench_ort_overhead. */
#include <stdio.h>
#include <stdlib.h>

#include "ort_plain.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [THREADS [RUNS]]\n", argv[0]);
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int runs = argc > 3 ? atoi(argv[3]) : 50;
    if (threads < 1 || runs < 1) return fprintf(stderr, "bad THREADS or RUNS\n"), 2;
    char err[1024];
    ort_plain *p = NULL;
    double create = 0;
    if (ort_plain_open(argv[1], threads, &p, &create, err, sizeof err)) {
        fprintf(stderr, "ort_plain: %s\n", err);
        ort_plain_close(p);
        return 1;
    }
    double t0 = ort_plain_now();
    if (ort_plain_run(p, err, sizeof err)) return fprintf(stderr, "ort_plain: %s\n", err), 1;
    double first = ort_plain_now() - t0;
    double *s = malloc(sizeof(double) * (size_t)runs);
    if (!s) return 1;
    for (int i = 0; i < runs; i++) {
        t0 = ort_plain_now();
        if (ort_plain_run(p, err, sizeof err)) return fprintf(stderr, "ort_plain: %s\n", err), 1;
        s[i] = ort_plain_now() - t0;
    }
    qsort(s, (size_t)runs, sizeof *s, cmp);
    printf("session creation %.1f ms, first inference %.2f ms, median of %d runs %.3f ms "
           "(threads %d)\n",
           create * 1e3, first * 1e3, runs, s[runs / 2] * 1e3, threads);
    free(s);
    ort_plain_close(p);
    return 0;
}
