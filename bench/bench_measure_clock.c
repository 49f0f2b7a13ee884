/* The cost of reading the clock, for reference beside calma's per-sample
 * overhead on the NOOP conversion (bench/bench_measure.sh): a sample is two
 * reads of super_now() around run(), so back-to-back reads give the floor
 * under any latency calma can report.
 * usage: bench_measure_clock [CALLS]   (default 10,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/super.h"

#define PAIRS 100000

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 10000000L;
    if (calls < 1) {
        fprintf(stderr, "usage: %s [CALLS]   (CALLS >= 1)\n", argv[0]);
        return 2;
    }
    struct timespec res, ts;
    clock_getres(CLOCK_MONOTONIC, &res);

    /* Sums tv_nsec so the compiler cannot drop the calls. */
    volatile long sink = 0;
    double t0 = super_now();
    for (long i = 0; i < calls; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    double per_call = (super_now() - t0) / (double)calls;

    double *d = malloc(PAIRS * sizeof *d);
    if (!d) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < PAIRS; i++) {
        double a = super_now();
        d[i] = super_now() - a;
    }
    qsort(d, PAIRS, sizeof *d, cmp_double);

    printf("clock_getres(CLOCK_MONOTONIC):            %ld ns\n", res.tv_nsec);
    printf("clock_gettime(CLOCK_MONOTONIC), per call: %.1f ns (mean of %ld calls)\n",
           per_call * 1e9, calls);
    printf("back-to-back super_now() difference:      median %.1f ns, p99 %.1f ns (%d pairs)\n",
           d[PAIRS / 2] * 1e9, d[PAIRS * 99 / 100] * 1e9, PAIRS);
    free(d);
    return 0;
}
