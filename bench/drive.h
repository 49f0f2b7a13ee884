/* drive_: driving built-in backends from a bench program, in one process:
 * open a conversion on a zoo graph (seeded inputs, the same in every side,
 * load + convert + a first run timed), time runs with the clock around
 * run() only as calma's worker takes it, interleave several conversions in
 * alternating blocks (A B B A A B ...) so drift and neighbours' noise fall
 * on all alike, and compare a side's outputs with the oracle's. */
#ifndef CALMA_BENCH_DRIVE_H
#define CALMA_BENCH_DRIVE_H

#include <stddef.h>

#include "calma/backend.h"
#include "ir/ir.h"

#define DRIVE_MAX_IO 8

typedef struct drive_side {
    const calma_conversion *conv;
    void *state;
    int n_in, n_out;
    ir_tensor in[DRIVE_MAX_IO], out[DRIVE_MAX_IO];
    calma_tensor tin[DRIVE_MAX_IO], tout[DRIVE_MAX_IO];
    double load_s, convert_s, first_s;
    double *samples;
    size_t n, cap;
} drive_side;

/* Makes OpenMP's threads wait passively, as calma's workers do (see
 * src/bench/super.c): OMP_WAIT_POLICY is read when the OpenMP runtime
 * starts, so without it set the program runs itself again with it. Call
 * first in main; returns only when the policy is in place (or cannot be). */
void drive_passive_openmp(char **argv);

/* A built-in conversion by canonical name, or NULL. */
const calma_conversion *drive_find(const char *name);
/* How a side is opened: the trial's settings. */
typedef struct drive_cfg {
    int threads;
    int64_t batch;
    const char *options; /* engine settings "key=value,..."; NULL for none */
    const char *path;    /* the model's .onnx as calma_model.path gives it; NULL for none */
    size_t cap;          /* samples kept at most */
    int profile;         /* calma_trial_config.profile: the engine times its own parts */
} drive_cfg;

/* Probes, loads, converts and runs c once on g (batch already set). Inputs
 * come from seed 1. Returns CALMA_OK or the failing call's status. */
int drive_open(drive_side *a, const calma_conversion *c, const ir_graph *g, const drive_cfg *cfg,
               calma_error *e);
/* runs inferences; keep: store each one's seconds as a sample. */
int drive_runs(drive_side *a, int runs, int keep, calma_error *e);
/* One inference; *dt: the seconds run() took (not kept). */
int drive_sample(drive_side *a, double *dt, calma_error *e);
/* Releases the state, buffers and samples (a zeroed side is fine). */
void drive_close(drive_side *a);
/* Warms each of the n sides (NULL entries skipped) with 5 runs, then times
 * blocks of runs, alternating the order block by block. */
int drive_interleave(drive_side *const *sides, int n, int blocks, int runs, calma_error *e);
/* Median (and fastest, into *min) of the kept samples. */
double drive_median(const drive_side *a, double *min);
/* Multiply-adds of every Conv, Gemm and MatMul of g at its input shapes;
 * -1 when shape inference fails. */
double drive_count_macs(ir_graph *g, calma_error *e);
/* The oracle's outputs on the side's inputs (into ref, n_out tensors). */
int drive_oracle(const ir_graph *g, const drive_side *a, ir_tensor *ref, calma_error *e);
/* Lowest cosine similarity and largest absolute error of a's outputs against ref. */
int drive_compare(const drive_side *a, const ir_tensor *ref, double *cosine, double *max_abs,
                  calma_error *e);

#endif
