/* xform_calib: calibration for static quantization, shared by the INT8+
 * transform and any backend that quantizes on its own (ONEDNN_INT8), so that
 * every int8 path in calma measures its ranges and rounds them the same way.
 *
 * The oracle (src/ref) runs the model on N calibration batches of one sample
 * each (the leading dimension set to 1), generated from the run's seed with
 * io/gen at sample indices XFORM_CALIB_SAMPLE_BASE + k (disjoint from the
 * validation batches, which use 0..V-1), or on the user's own input tensors.
 * The range of every value asked for is observed over all of them. */
#ifndef CALMA_TRANSFORM_XFORM_CALIB_H
#define CALMA_TRANSFORM_XFORM_CALIB_H

#include <stdint.h>

#include "ir/ir.h"

#define XFORM_CALIB_DEFAULT_BATCHES 32
#define XFORM_CALIB_MAX_BATCHES 100000
#define XFORM_CALIB_SAMPLE_BASE 1000000u
#define XFORM_CALIB_DEFAULT_PERCENTILE 99.99

typedef enum xform_calib_method {
    XFORM_CALIB_MINMAX = 0,    /* the smallest and the largest value seen */
    XFORM_CALIB_PERCENTILE = 1 /* the central share of the values seen: rare outliers clipped */
} xform_calib_method;

typedef struct xform_calib_opts {
    int batches;               /* N >= 1; ignored when inputs are given */
    uint64_t seed;             /* the run's seed */
    xform_calib_method method; /* XFORM_CALIB_MINMAX by default */
    double percentile;         /* PERCENTILE: share of values kept, in percent (50, 100] */
    int n_inputs;              /* > 0: calibrate on these tensors (one batch each) */
    const ir_tensor *inputs;   /* n_inputs batches x g->n_inputs tensors, batch-major */
    /* Optional: called after each batch (a worker keeps its supervisor informed). */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} xform_calib_opts;

/* batches 32, min/max, percentile 99.99, generated inputs, seed 42. */
void xform_calib_defaults(xform_calib_opts *o);

typedef struct xform_range {
    char *name;      /* the value's name in the graph */
    double min, max; /* over every element of every calibration batch, after the method */
} xform_range;

typedef struct xform_ranges {
    int n;
    xform_range *v;
    int batches; /* how many batches were observed */
} xform_ranges;

/* Runs the oracle on the calibration batches and fills out with the range of
 * each value named in names (n of them; names NULL and n 0: every float value
 * that is no initializer: runtime inputs and node outputs). g is not changed.
 * Fails with CALMA_E_INVALID when a name is no float activation of g, and
 * with the oracle's error (naming node and op) when it cannot run g. */
int xform_calibrate(const ir_graph *g, const char *const *names, int n, const xform_calib_opts *o,
                    xform_ranges *out, calma_error *e);

/* The range of value name, or NULL. */
const xform_range *xform_ranges_find(const xform_ranges *r, const char *name);
void xform_ranges_free(xform_ranges *r);

/* Ranges as a small text file (one "min max name" line per value, exact
 * decimal), so a run folder can share one calibration between trials. */
int xform_ranges_save(const xform_ranges *r, const char *path, calma_error *e);
int xform_ranges_load(const char *path, xform_ranges *out, calma_error *e);

/* ---- quantization parameters from ranges (one rounding rule everywhere) ---- */

/* uint8, asymmetric: the range widened to hold 0, scale (max - min) / 255,
 * zero point round(-min / scale) in [0, 255]. An empty range gets scale 1. */
void xform_qparams_u8(const xform_range *r, float *scale, uint8_t *zero_point);
/* int8, symmetric: scale max(|min|, |max|) / 127, zero point 0. */
float xform_qparams_s8(const xform_range *r);
/* Per-channel symmetric int8 weight scales: channel c of axis gets
 * max |w| / 127 (1 for an all-zero channel). scales holds dims[axis] floats.
 * w must be float32. */
int xform_weight_scales(const ir_tensor *w, int axis, float *scales, calma_error *e);

#endif
