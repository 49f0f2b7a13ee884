/* Wall time of the whole conformance run (the four folders of the ONNX
 * backend test suite through the oracle), per folder and in total.
 *
 *   bench_conformance [REPEATS]      (default 3; the best and median runs are printed)
 *
 * The aim is 60 s or less for the whole run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conform/conform.h"
#include "ref/ref.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1 || reps > 100) {
        fprintf(stderr, "usage: bench_conformance [REPEATS 1..100]\n");
        return 2;
    }
    double folder_best[4] = {1e30, 1e30, 1e30, 1e30};
    double *total = calloc((size_t)reps, sizeof *total);
    if (!total) return 1;
    conform_totals sum[4];
    for (int r = 0; r < reps; r++) {
        for (int d = 0; d < 4; d++) {
            conform_options o = {0};
            o.dirs = &conform_default_dirs[d];
            o.n_dirs = 1;
            calma_error e = {0};
            double t0 = now_s();
            if (conform_run(conform_reference_runner(), &o, &sum[d], &e)) {
                fprintf(stderr, "bench_conformance: %s\n", e.msg);
                free(total);
                return 2;
            }
            double dt = now_s() - t0;
            total[r] += dt;
            if (dt < folder_best[d]) folder_best[d] = dt;
        }
    }
    printf("conformance through the oracle (%d ops), best of %d runs:\n", ref_op_count(), reps);
    int cases = 0, pass = 0;
    for (int d = 0; d < 4; d++) {
        const char *name = strrchr(conform_default_dirs[d], '/') + 1;
        int n = sum[d].pass + sum[d].fail + sum[d].unsupported + sum[d].error;
        cases += n;
        pass += sum[d].pass;
        printf("  %-18s %5d cases %5d passed %8.3f s\n", name, n, sum[d].pass, folder_best[d]);
    }
    qsort(total, (size_t)reps, sizeof *total, cmp_d);
    printf("  %-18s %5d cases %5d passed %8.3f s (median %.3f s; aim <= 60 s)\n", "all", cases,
           pass, total[0], total[reps / 2]);
    free(total);
    return 0;
}
