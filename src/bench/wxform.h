/* wxform_: a trial worker's model-transform step (TRANSFORM+CONVERSION).
 *
 * Runs once per trial process, before the conversion loads the model, and is
 * timed as convert time. The transformed model and, for INT8, its
 * calibration are cached in RUN_DIR/transforms/ (RUN_DIR/transforms/MODEL/
 * in a plan of several models: the supervisor names it) (NAME.onnx, NAME.ranges,
 * NAME.json, NAME.key): the first trial of a run pays for the calibration,
 * every later trial of the same transform (other batch sizes, thread counts,
 * conversions) loads the cached model. The cache is used only while NAME.key
 * matches everything that shapes the result (options, calibration count,
 * seed, inputs, model). */
#ifndef CALMA_BENCH_WXFORM_H
#define CALMA_BENCH_WXFORM_H

#include <cjson/cJSON.h>

#include "ir/ir.h"
#include "transform/xform.h"

typedef struct wxform_args {
    const xform_info *x;
    const char *model_path; /* the original .onnx */
    const ir_graph *g;      /* it, parsed, before the batch is fixed */
    const char *run_dir;
    const char *dir;     /* the cache folder; NULL: run_dir/transforms */
    const char *options; /* --options */
    uint64_t seed;
    int calibration;           /* --calibration N */
    const char *const *inputs; /* --input "name=path" */
    int n_inputs;
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} wxform_args;

typedef struct wxform_out {
    char path[4400];      /* the transformed model */
    ir_graph *graph;      /* it, as calma reads it back (caller frees) */
    double calibration_s; /* 0 when the cache served */
    int cached;
    cJSON *info; /* the "transform" object for the trial's record (caller owns) */
} wxform_out;

/* Transforms (or finds in the cache) and re-reads the model. Failures keep
 * the transform's status (CALMA_E_UNSUPPORTED naming the reason, ...). */
int wxform_run(const wxform_args *a, wxform_out *out, calma_error *e);

#endif
