/* xform_: ONNX-to-ONNX model transforms, written before a conversion's name
 * (`FP16+ORT_CPU`, `INT8+ORT_CPU`). A transform takes calma's graph of a
 * float32 model and returns a new graph with the same float32 inputs and
 * outputs, which calma saves as ONNX for the conversion to load.
 *
 *   FP16  weights and activations in float16; Casts at the graph's inputs and
 *         outputs; ops whose float16 form is not valid ONNX or is numerically
 *         unsafe stay float32 with Casts around them (xform_float_keep).
 *   BF16  the same in bfloat16 (fewer ONNX ops have bfloat16 forms: Conv has
 *         none before opset 22).
 *   INT8  static quantization in QDQ form: per-channel symmetric int8 weights
 *         for Conv, Gemm and MatMul (int32 biases), per-tensor activations
 *         (uint8 asymmetric by default), ranges calibrated with the oracle
 *         (xform_calib.h). Ops it does not quantize stay float32.
 * Every transform first folds BatchNormalization into the convolution before
 * it (in double precision), as engines do for float32 models. */
#ifndef CALMA_TRANSFORM_XFORM_H
#define CALMA_TRANSFORM_XFORM_H

#include <stddef.h>

#include "ir/ir.h"
#include "transform/xform_calib.h"

typedef enum xform_kind { XFORM_FP16, XFORM_BF16, XFORM_INT8 } xform_kind;

typedef struct xform_info {
    const char *name; /* "FP16" */
    xform_kind kind;
    const char *precision;   /* "fp16", "bf16", "int8" */
    const char *description; /* one line for `calma list` */
} xform_info;

int xform_count(void);
const xform_info *xform_at(int i);
/* By name; case does not matter and '-' equals '_'. NULL when unknown. */
const xform_info *xform_find(const char *name);

/* Settings from the trial's --options string (keys starting "xform."), and
 * the calibration the run asked for. */
typedef struct xform_opts {
    xform_calib_opts calib;
    calma_dtype act; /* INT8 activations: CALMA_DT_UINT8 (default) or CALMA_DT_INT8 */
    int test_break;  /* test builds only: quantize the first op's weights wrongly */
} xform_opts;

/* Defaults, then the "xform." keys of options (NULL or "" for none):
 *   xform.calibrate=minmax|percentile   how ranges are taken (default minmax)
 *   xform.percentile=P                  share kept by percentile, 50 < P <= 100 (99.99)
 *   xform.activations=uint8|int8        INT8 activation type (uint8)
 *   xform.test_break=1                  only when built with CALMA_TEST_HOOKS
 * Other keys belong to other modules and are ignored; an unknown "xform."
 * key or a bad value is CALMA_E_USAGE. */
int xform_parse_options(const char *options, xform_opts *o, calma_error *e);
/* A one-line description of everything that shapes a transform's result
 * (for a cache key and the report). */
void xform_opts_describe(const xform_info *x, const xform_opts *o, char *buf, size_t n);

/* What a transform did. */
#define XFORM_REPORT_MAX_KEPT 24
typedef struct xform_kept {
    char op[64];
    int count;
    char why[160];
} xform_kept;

typedef struct xform_report {
    int nodes;      /* nodes of the transformed graph */
    int converted;  /* source nodes now in the lower precision */
    int kept;       /* float nodes left in float32 */
    int folded_bn;  /* BatchNormalizations folded into convolutions */
    int absorbed;   /* Relu/Clip made redundant by a quantization range */
    int n_kept_ops; /* the kept ops by op type, with the reason */
    xform_kept kept_ops[XFORM_REPORT_MAX_KEPT];
    int calib_batches; /* INT8: batches the ranges were measured on */
    double calib_s;    /* INT8: seconds the calibration took */
} xform_report;

/* Applies x to g (not changed) into a new graph *out. INT8 calibrates with
 * o->calib unless ranges is given (then those are used, e.g. a cached
 * calibration); the ranges used are returned in *ranges_out when it is not
 * NULL (caller frees). Fails with CALMA_E_UNSUPPORTED when the model cannot
 * take the transform (a float16 model already, an opset too old, nothing to
 * convert), naming the reason. */
int xform_apply(const xform_info *x, const ir_graph *g, const xform_opts *o,
                const xform_ranges *ranges, ir_graph **out, xform_ranges *ranges_out,
                xform_report *rep, calma_error *e);

#endif
