/* The contract between the interpreter (ref.c) and the op kernels
 * (ref_<family>.c). Each family file exports a table of ref_op. */
#ifndef CALMA_REF_OP_H
#define CALMA_REF_OP_H

#include "ir/ir.h"
#include "util/err.h"

/* One call of an op: the node, the model's default-domain opset, inputs and
 * outputs. in[i] is NULL for an omitted optional input, and i >= n_in also
 * means omitted. */
typedef struct ref_call {
    const ir_node *node;
    int64_t opset;
    const ir_tensor *const *in;
    int n_in;
    ir_tensor *out;
    int n_out;
    calma_error *err;
} ref_call;

/* Returned by an infer function that needs the value (data) of an input
 * that is not known yet; the caller then waits for run time. */
#define REF_NEED_VALUE 100

typedef struct ref_op {
    const char *op_type;
    /* Sets out[j].dtype, rank and dims from the inputs' types (and from their
     * data where given and needed: Reshape's shape, Slice's starts, ...).
     * Must not allocate out[j].data. Returns CALMA_OK, REF_NEED_VALUE, or an
     * error status with c->err filled (CALMA_E_INVALID for a bad shape or
     * attribute, CALMA_E_UNSUPPORTED for a mode or dtype not implemented). */
    int (*infer)(ref_call *c);
    /* Computes the outputs. out[j] is already allocated with the inferred
     * dtype and shape; every input's data is present. */
    int (*run)(ref_call *c);
} ref_op;

/* Input i, or NULL when omitted. */
static inline const ir_tensor *ref_in(const ref_call *c, int i) {
    return i < c->n_in ? c->in[i] : NULL;
}

/* Sets an output's type without data. */
static inline void ref_set_type(ir_tensor *t, calma_dtype dt, int rank, const int64_t *dims) {
    t->dtype = dt;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
}

/* Reads the ints attribute `name` of exactly `want` entries, each within
 * [lo, hi], into the last `want` slots of dst (dst_n long); absent, every
 * slot gets dflt. A wrong count or value is CALMA_E_INVALID naming the node
 * and attribute. (ref_attr.c) */
int ref_attr_ints(ref_call *c, const char *name, size_t want, int64_t dflt, int64_t lo, int64_t hi,
                  int64_t *dst, size_t dst_n);

/* Family tables, each terminated by an entry with op_type NULL. */
extern const ref_op
    ref_ops_elementwise[]; /* ref_elementwise.c: unary, binary, compare, Where, Clip, Cast, ... */
extern const ref_op ref_ops_conv[];   /* ref_conv.c: Conv, ConvTranspose */
extern const ref_op ref_ops_pool[];   /* ref_pool.c: MaxPool, AveragePool, Global* */
extern const ref_op ref_ops_linalg[]; /* ref_linalg.c: Gemm, MatMul */
extern const ref_op
    ref_ops_norm[]; /* ref_norm.c: BatchNorm, LayerNorm, InstanceNorm, Softmax, LogSoftmax */
extern const ref_op
    ref_ops_shape[]; /* ref_shape.c: Reshape, Transpose, Concat, Split, Slice, Gather, ... */
extern const ref_op ref_ops_reduce[]; /* ref_reduce.c: ReduceMean, ReduceSum, ReduceMax, ... */
extern const ref_op ref_ops_resize[]; /* ref_resize.c: Resize */
extern const ref_op
    ref_ops_index[]; /* ref_index.c: GatherND, Scatter*, DepthToSpace, OneHot, ... */

#endif
