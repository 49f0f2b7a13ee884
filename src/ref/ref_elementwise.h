/* Private to the oracle's elementwise, reduce and norm kernels
 * (ref_elementwise.c, ref_unary.c, ref_binary.c, ref_cast.c, ref_reduce.c,
 * ref_norm.c): broadcasting, typed dtype conversion and the functions the
 * table in ref_elementwise.c points at. Not for other modules. */
#ifndef CALMA_REF_ELEMENTWISE_H
#define CALMA_REF_ELEMENTWISE_H

#include "ref/ref_op.h"

/* Fills c->err with "node 'n' (Op): <message>" and returns status. */
int ref_ew_fail(ref_call *c, int status, const char *fmt, ...) ERR_PRINTF(3, 4);
/* CALMA_E_UNSUPPORTED naming the op, the input and its dtype. */
int ref_ew_bad_dtype(ref_call *c, int input, calma_dtype dt);
/* Input i, failing with CALMA_E_INVALID naming the op when it is omitted. */
int ref_ew_need(ref_call *c, int i, const ir_tensor **t);

int ref_ew_is_float(calma_dtype dt);    /* float32, float64 */
int ref_ew_is_signed(calma_dtype dt);   /* int8..int64 */
int ref_ew_is_unsigned(calma_dtype dt); /* uint8..uint64 */

/* ---- broadcasting (ref_binary.c) ---- */

#define REF_EW_MAX_BCAST 4

/* numpy's multidirectional broadcast of n shapes (n <= REF_EW_MAX_BCAST);
 * CALMA_E_INVALID naming the op and both shapes when they do not fit. */
int ref_ew_bcast_shape(ref_call *c, int n, const ir_tensor *const *ts, int *rank, int64_t *dims);

/* An iteration over an output shape with n inputs broadcast to it. Adjacent
 * dimensions that every input walks the same way are merged, so a
 * same-shape op is one row and a per-channel op is rows of H*W. */
typedef struct ref_ew_bcast {
    int n, rank;
    int64_t dims[IR_MAX_RANK];
    int64_t st[REF_EW_MAX_BCAST][IR_MAX_RANK]; /* element strides, 0 where broadcast */
} ref_ew_bcast;

void ref_ew_bcast_plan(ref_ew_bcast *p, int out_rank, const int64_t *out_dims, int n,
                       const ir_tensor *const *ts);
/* Calls fn once per innermost row: o is the output element offset, off[k]
 * input k's element offset, len the row length and st[k] input k's stride
 * along the row (0 or more). */
typedef void (*ref_ew_row_fn)(void *ctx, int64_t o, const int64_t *off, int64_t len,
                              const int64_t *st);
void ref_ew_bcast_rows(const ref_ew_bcast *p, ref_ew_row_fn fn, void *ctx);

/* Writes src broadcast to (rank, dims) as doubles into dst. */
void ref_ew_expand_f64(const ir_tensor *src, int rank, const int64_t *dims, double *dst);

/* ---- conversion (ref_cast.c) ---- */

/* Converts n elements with C's rules, float->integer truncating toward zero
 * (clamped, never undefined), anything->bool as != 0. float16/bfloat16
 * storage is understood too. Returns 0, or -1 for a dtype it cannot hold. */
int ref_ew_convert(void *dst, calma_dtype dd, const void *src, calma_dtype sd, size_t n);
/* *out = a malloc'ed double copy of t's data (the caller frees it). */
int ref_ew_to_f64(ref_call *c, const ir_tensor *t, double **out);
/* Stores doubles into t's data, converting to t's dtype. */
int ref_ew_from_f64(ref_call *c, ir_tensor *t, const double *v);

/* ---- table entries ---- */

int ref_ew_unary_infer(ref_call *c);
int ref_ew_unary_run(ref_call *c);
int ref_ew_binary_infer(ref_call *c);
int ref_ew_binary_run(ref_call *c);
int ref_ew_variadic_infer(ref_call *c); /* Sum, Mean, Max, Min */
int ref_ew_variadic_run(ref_call *c);
int ref_ew_cast_infer(ref_call *c); /* Cast, CastLike */
int ref_ew_cast_run(ref_call *c);
/* ref_quant.c: QuantizeLinear, DequantizeLinear; DynamicQuantizeLinear */
int ref_ew_quant_infer(ref_call *c);
int ref_ew_quant_run(ref_call *c);
int ref_ew_dynq_infer(ref_call *c);
int ref_ew_dynq_run(ref_call *c);
/* ref_loss.c: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss */
int ref_ew_loss_infer(ref_call *c);
int ref_ew_loss_run(ref_call *c);

#endif
