/* bside_: one conversion opened on a graph the way calma's worker opens it,
 * for the benchmarks that compare conversions in one process: seeded
 * inputs, output buffers shaped by the oracle's inference, load, convert
 * and the first run timed, then samples with the clock around run() only.
 * Used by bench_xnnpack.c and bench_ort_overhead.c. */
#ifndef CALMA_BENCH_SIDE_H
#define CALMA_BENCH_SIDE_H

#include "calma/backend.h"
#include "ir/ir.h"

#define BSIDE_MAX_IO 8

typedef struct bside {
    const calma_conversion *conv;
    void *state;
    int n_in, n_out;
    ir_tensor in[BSIDE_MAX_IO], out[BSIDE_MAX_IO];
    calma_tensor tin[BSIDE_MAX_IO], tout[BSIDE_MAX_IO];
    double load_s, convert_s, first_s;
} bside;

/* CLOCK_MONOTONIC in seconds. */
double bside_now(void);
/* The conversion called name in a backend's table, or NULL. */
const calma_conversion *bside_find(const calma_conversion *table, const char *name);
/* Probes, loads (path may be NULL: the backend then uses the graph),
 * converts and runs once. cfg_profile sets calma_trial_config.profile. */
int bside_open(bside *a, const calma_conversion *c, const ir_graph *g, const char *path,
               int threads, int64_t batch, int profile, calma_error *e);
/* One sample: the seconds run() took. */
int bside_sample(bside *a, double *dt, calma_error *e);
/* Releases the state and the buffers (a zeroed side is fine). */
void bside_close(bside *a);

#endif
