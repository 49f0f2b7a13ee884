/* xform_ internals shared by the passes (not for other modules).
 *
 * xform_fold.c     BatchNormalization folded into the Conv before it
 * xform_float.c    FP16+ / BF16+
 * xform_optable.c  which ops have 16-bit float forms, and why others stay
 * xform_int8.c     INT8+ (QDQ)
 * xform_calib.c    ranges from the oracle, quantization parameters
 * xform.c          names, options, xform_apply */
#ifndef CALMA_TRANSFORM_XFORM_INTERNAL_H
#define CALMA_TRANSFORM_XFORM_INTERNAL_H

#include <stdio.h>

#include "transform/xform.h"
#include "transform/xform_graph.h"

/* Why a float node stays float32 under FP16+/BF16+ (bits). */
#define XFORM_KEEP_NOT_ONNX 1u    /* no 16-bit form of the op at the model's opset */
#define XFORM_KEEP_ACCUMULATES 2u /* sums over an axis: precision lost */
#define XFORM_KEEP_OVERFLOWS 4u   /* results beyond float16's 65504 */
#define XFORM_KEEP_FIXED_FLOAT 8u /* an input ONNX types as float32 whatever T is */
#define XFORM_KEEP_ATTR_TYPE 16u  /* output type set by an attribute */
#define XFORM_KEEP_DOMAIN 32u     /* a custom domain */
#define XFORM_KEEP_UNKNOWN 64u    /* not in the table */

/* 0 when op (of domain, at the model's default-domain opset) may run in
 * dtype to; else the XFORM_KEEP_* reasons. */
unsigned xform_float_keep(const char *op, const char *domain, int64_t opset, calma_dtype to);
/* A sentence for the reasons in why. */
const char *xform_keep_reason(unsigned why, calma_dtype to, int64_t opset, char *buf, size_t n);

/* Counts one kept node of op with its reason in the report. */
void xform_report_keep(xform_report *rep, const char *op, const char *why);

/* The passes. Each reads src and writes a new graph. */
int xform_fold_bn(const ir_graph *src, ir_graph **out, int *folded, calma_error *e);
int xform_to_half(const ir_graph *src, calma_dtype to, ir_graph **out, xform_report *rep,
                  calma_error *e);

/* INT8 in two steps: the activations whose ranges it needs, then the rewrite
 * with those ranges. */
int xform_int8_plan(const ir_graph *src, const xform_opts *o, char ***names, int *n,
                    calma_error *e);
void xform_names_free(char **names, int n);
int xform_int8_apply(const ir_graph *src, const xform_opts *o, const xform_ranges *r,
                     ir_graph **out, xform_report *rep, calma_error *e);

#endif
