/* xnnbe_: the XNNPACK backend's private parts, shared by its files.
 *
 * load() walks calma's graph once and defines one XNNPACK subgraph
 * (xnn_build.c, with op families in xnn_ops_*.c); convert() creates the
 * runtime; run() changes layout at the graph's edges only (xnn_layout.c).
 *
 * XNNPACK works in NHWC; ONNX in NCHW. Every value carries its logical
 * (ONNX) shape and a flag saying whether its memory is held as NHWC. Axis
 * attributes are read against the logical shape and translated. */
#ifndef CALMA_XNN_INTERNAL_H
#define CALMA_XNN_INTERNAL_H

#include <pthreadpool.h>
#include <xnnpack.h>

#include "calma/backend.h"
#include "ir/ir.h"
#include "util/err.h"

/* One external tensor of the runtime (a graph input or output). */
typedef struct xnnbe_io {
    char *name;
    uint32_t id;
    int nhwc; /* rank 4 held as NHWC: transposed in run() */
    int rank;
    int64_t dims[IR_MAX_RANK]; /* logical (ONNX) shape */
    size_t numel;
    float *buf; /* internal buffer (inputs always; outputs when nhwc) */
} xnnbe_io;

typedef struct xnnbe_state {
    xnn_subgraph_t subgraph;
    xnn_runtime_t runtime;
    pthreadpool_t pool;
    int threads;
    int initialized; /* xnn_initialize succeeded: pair with xnn_deinitialize */
    int n_in, n_out;
    xnnbe_io *in, *out;
    struct xnn_external_value *ext; /* n_in + n_out, as last given to setup */
    /* Static data (weights, constants) the subgraph and runtime point at:
     * XNNPACK keeps the pointers, so they live until release. */
    void **blobs;
    int n_blobs, cap_blobs;
    int n_xnn_nodes; /* nodes defined, for messages and tests */
} xnnbe_state;

/* Per ONNX value, during the build. */
typedef struct xnnbe_val {
    int known; /* defined in the subgraph (id valid) or constant */
    int rank;
    int64_t dims[IR_MAX_RANK]; /* logical shape */
    int nhwc;                  /* memory order is N,H,W,C of a logical N,C,H,W */
    uint32_t id;
    /* For an NHWC value: a reshaped view in logical order; for a logical
     * one: its NHWC view; for a constant: its static tensor. Made on first
     * use; XNN_INVALID_VALUE_ID until then. */
    uint32_t alt_id;
    const ir_tensor *cst; /* constant (initializer, Constant node or folded), else NULL */
    /* A 2-D [N, C*H*W] flatten of an NHWC feature map: its bytes are in
     * H,W,C order. Only a fully connected layer takes it, by permuting its
     * weights' rows; chw holds C, H, W. */
    int flat_nhwc;
    int64_t chw[3];
} xnnbe_val;

typedef struct xnnbe_ctx {
    const ir_graph *g;
    xnnbe_state *s;
    xnnbe_val *vals;
    int *uses;           /* consumers per value; a graph output counts as one */
    int *consumer;       /* the node that consumes it, when uses == 1 */
    unsigned char *done; /* node already folded into another */
    int *bn_of_conv;     /* per node: the BatchNormalization folded into it, or -1 */
    ir_tensor **folded;  /* constants made during the build (Shape, ...) */
    int n_folded, cap_folded;
    int64_t opset;
    calma_error *e;
} xnnbe_ctx;

typedef int (*xnnbe_op_fn)(xnnbe_ctx *c, int node);

typedef struct xnnbe_op {
    const char *op_type;
    xnnbe_op_fn fn;
} xnnbe_op;

/* Op family tables, each ending with op_type NULL. */
extern const xnnbe_op xnnbe_ops_conv[];    /* xnn_ops_conv.c: Conv, pools, Gemm, MatMul */
extern const xnnbe_op xnnbe_ops_eltwise[]; /* xnn_ops_eltwise.c: binary, activations, BN */
extern const xnnbe_op xnnbe_ops_shape[]; /* xnn_ops_shape.c: Reshape, Flatten, Pad, Softmax, ... */
extern const xnnbe_op xnnbe_ops_spatial[]; /* xnn_ops_spatial.c: Resize, ReduceMean */

/* ---- xnn_build.c ---- */

/* Builds s->subgraph and s->in/out from the model's graph. */
int xnnbe_build(xnnbe_state *s, const calma_model *m, calma_error *e);
/* Frees everything in s except s itself. */
void xnnbe_state_clear(xnnbe_state *s);

/* Fills the error as "op 'Op' (node 'name'): message" and returns status. */
int xnnbe_fail(xnnbe_ctx *c, int node, int status, const char *fmt, ...) ERR_PRINTF(4, 5);
#define xnnbe_unsupported(c, node, ...) xnnbe_fail(c, node, CALMA_E_UNSUPPORTED, __VA_ARGS__)
#define xnnbe_invalid(c, node, ...) xnnbe_fail(c, node, CALMA_E_INVALID, __VA_ARGS__)
/* Turns a failed xnn_define_* into an error naming the node. */
int xnnbe_check(xnnbe_ctx *c, int node, enum xnn_status st, const char *what);

/* Owned, zeroed float buffer with XNNPACK's read-ahead slack; NULL on OOM
 * (the error is set). */
float *xnnbe_blob(xnnbe_ctx *c, size_t n_floats);

/* Input i of node as a known value (runtime float or constant); fails if
 * it is absent or a runtime value of another dtype. */
int xnnbe_input(xnnbe_ctx *c, int node, int i, xnnbe_val **out);
/* Name of a value for messages. */
const char *xnnbe_vname(const xnnbe_ctx *c, const xnnbe_val *v);
/* Is value index v one of the graph's outputs? */
int xnnbe_is_output(const xnnbe_ctx *c, int v);
/* Input i as a constant tensor (any dtype), or NULL (no error set). */
const ir_tensor *xnnbe_const_input(xnnbe_ctx *c, int node, int i);
/* Float data of a float32 constant, or NULL. */
const float *xnnbe_const_f32(const ir_tensor *t);

/* Defines the output value v of a node with its logical shape and layout;
 * a graph output becomes an external value. *id receives the XNNPACK id. */
int xnnbe_define_output(xnnbe_ctx *c, int node, int v, int rank, const int64_t *dims, int nhwc,
                        uint32_t *id);
/* An internal (not external) float tensor of the given physical shape. */
int xnnbe_define_internal(xnnbe_ctx *c, int node, int rank, const size_t *pdims, uint32_t *id);
/* A static float tensor over data (which must outlive the runtime). */
int xnnbe_define_static(xnnbe_ctx *c, int node, int rank, const size_t *pdims, const float *data,
                        uint32_t *id);

/* Physical (memory order) dims of a value; returns their count (a scalar
 * is held as [1]). */
int xnnbe_phys_dims(const xnnbe_val *v, size_t *out);
/* NHWC and NCHW orders of this logical rank-4 shape are the same bytes. */
int xnnbe_nhwc_trivial(const int64_t *dims);
/* The value's id with memory in logical order (a reshape when it is held as
 * NHWC and that is the same bytes; unsupported otherwise). A float
 * constant becomes a static tensor. */
int xnnbe_as_logical(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id);
/* The value's id as an NHWC 4-D tensor (reshaped when its logical order is
 * the same bytes, permuted when it is a constant; unsupported otherwise). */
int xnnbe_as_nhwc(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id);

/* Follows the node's output through single-use Relu / Clip consumers and
 * folds them into [*lo, *hi]; *out_v becomes the last value of the chain. */
void xnnbe_fuse_clamp(xnnbe_ctx *c, int *out_v, float *lo, float *hi);
/* Reads a Clip or Relu node's bounds; 0 if it has non-constant bounds. */
int xnnbe_clip_bounds(xnnbe_ctx *c, int node, float *lo, float *hi);

/* Registers a constant made during the build (takes t's data). */
const ir_tensor *xnnbe_add_folded(xnnbe_ctx *c, ir_tensor *t);

/* Normalises a possibly negative axis against rank; -1 if out of range. */
int xnnbe_axis(int64_t axis, int rank);

/* ---- xnn_layout.c ---- */

/* [N,C,H,W] -> [N,H,W,C] and back; dims are the logical N,C,H,W. */
void xnnbe_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims);
void xnnbe_nhwc_to_nchw(const float *src, float *dst, const int64_t *dims);

#endif
