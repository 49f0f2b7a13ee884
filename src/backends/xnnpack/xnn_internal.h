/* xnnbe_: the XNNPACK backend's private parts, shared by its files.
 *
 * load() plans the graph (xnn_part.c): constants are folded with the
 * oracle's shape inference, then the nodes are cut into islands, maximal
 * runs XNNPACK can express, each defined as its own subgraph (xnn_build.c,
 * op families in xnn_ops_*.c), and host nodes, the ops between them, run
 * on calma's own float32 kernels (planned in xnn_host_*.c, kernels in
 * xnn_k*.c). The plan is a list of steps; run() copies the inputs in, runs
 * the steps in order and copies the outputs out.
 *
 * XNNPACK works in NHWC; ONNX in NCHW. Inside an island every value carries
 * its logical (ONNX) shape and a flag saying whether its memory is held as
 * NHWC; axis attributes are read against the logical shape and translated.
 * Outside, a value is a strided view (xnn_view.h) of memory some step
 * wrote, so a Transpose, a Slice or a reshape of the right order costs
 * nothing, and a layout changes only where an island needs another one. */
#ifndef CALMA_XNN_INTERNAL_H
#define CALMA_XNN_INTERNAL_H

#include <pthreadpool.h>
#include <xnnpack.h>

#include "backends/xnnpack/xnn_view.h"
#include "calma/backend.h"
#include "ir/ir.h"
#include "util/err.h"

/* Returned (with the message set) by an island op that needs a value of
 * its own island in a layout the island cannot produce: the node waits for
 * the next island, which imports the value in the layout it needs. In
 * XNNPACK_STRICT the same condition is CALMA_E_UNSUPPORTED. */
#define XNNBE_SPLIT 100

/* ---- the plan run() follows ---- */

typedef void (*xnnbe_kernel_fn)(const void *args, pthreadpool_t pool);

typedef struct xnnbe_island {
    xnn_subgraph_t subgraph;
    xnn_runtime_t runtime;
    uint32_t n_reserved; /* external value ids the subgraph was created with */
    int n_ext, cap_ext;
    struct xnn_external_value *ext;
    int n_nodes; /* ONNX nodes it runs (fused ones included) */
} xnnbe_island;

enum { XNNBE_STEP_ISLAND, XNNBE_STEP_KERNEL };

typedef struct xnnbe_step {
    int kind;
    int island;         /* XNNBE_STEP_ISLAND */
    xnnbe_kernel_fn fn; /* XNNBE_STEP_KERNEL */
    void *args;         /* owned by the state */
    int node;           /* the ONNX node, or -1 for a layout change at an island's edge */
} xnnbe_step;

/* A graph input or output and where run() puts or finds it. */
typedef struct xnnbe_io {
    char *name;
    int rank;
    int64_t dims[IR_MAX_RANK]; /* logical (ONNX) shape */
    size_t numel;
    xnnbe_view view;  /* inputs: the buffer run() fills; outputs: where the value is */
    const float *cst; /* an output that is a constant */
} xnnbe_io;

typedef struct xnnbe_state {
    pthreadpool_t pool; /* NULL with one thread: everything runs on the caller's */
    int threads;
    int initialized; /* xnn_initialize succeeded: pair with xnn_deinitialize */
    int strict;      /* XNNPACK_STRICT: one island or unsupported */
    int converted;   /* runtimes created and set up */
    int profile;
    int n_in, n_out;
    xnnbe_io *in, *out;
    int n_islands, cap_islands;
    xnnbe_island *islands;
    int n_steps, cap_steps;
    xnnbe_step *steps;
    /* Memory the plan points at (weights, constants, host buffers): XNNPACK
     * and the kernels keep the pointers, so they live until release. */
    void **blobs;
    int n_blobs, cap_blobs;
    /* Facts for info(). */
    int n_xnn_nodes, n_host_nodes, n_folded_nodes, n_edge_copies;
    char host_ops[512]; /* "Slice 26, Concat 16, ..." */
    /* --profile: seconds in run() and outside XNNPACK's runtimes. */
    double prof_total, prof_outside;
    long prof_runs;
} xnnbe_state;

/* ---- the build ---- */

/* Per ONNX value. */
typedef struct xnnbe_val {
    int rank;
    int64_t dims[IR_MAX_RANK]; /* logical shape */
    const ir_tensor *cst;      /* constant (initializer or folded), else NULL */
    /* In the island being built (island == ctx.cur): */
    int island;   /* island whose subgraph id and alt_id belong to, -1 none */
    int imported; /* id is an external input of that island (a host view) */
    uint32_t id;
    int nhwc; /* memory order is N,H,W,C of a logical N,C,H,W */
    /* For an NHWC value: a reshaped view in logical order; for a logical
     * one: its NHWC view; for a constant: its static tensor. Made on first
     * use; XNN_INVALID_VALUE_ID until then. */
    uint32_t alt_id;
    /* A 2-D [N, C*H*W] flatten of an NHWC feature map: its bytes are in
     * H,W,C order. Only a fully connected layer takes it, by permuting its
     * weights' rows; chw holds C, H, W. Never leaves its island. */
    int flat_nhwc;
    int64_t chw[3];
    /* Outside islands: the views of it run() has after its producer's step
     * (the first as produced; others in layouts islands asked for). */
    int n_views;
    xnnbe_view views[XNNBE_MAX_VIEWS];
} xnnbe_val;

enum { XNNBE_DEAD, XNNBE_FOLD, XNNBE_XNN, XNNBE_HOST };

/* An external value of the island being built, bound when it closes. */
typedef struct xnnbe_edge {
    int v;
    uint32_t ext;
    int nhwc;
} xnnbe_edge;

typedef struct xnnbe_ctx {
    const ir_graph *g;
    xnnbe_state *s;
    xnnbe_val *vals;
    ir_tensor *inferred;  /* per value: type, shape and folded data (ref_infer_values) */
    int *uses;            /* live consumers per value; a graph output counts as one */
    int *consumer;        /* the node that consumes it, when uses == 1 */
    int *cons_off, *cons; /* live readers of value v: cons[cons_off[v] .. cons_off[v + 1]) */
    int *producer;        /* per value: the node computing it, or -1 */
    int *fused_into;      /* per node: the node it is folded into (BatchNormalization), or -1 */
    int *kind;            /* per node: XNNBE_DEAD, _FOLD, _XNN, _HOST */
    unsigned char *done;  /* node committed, or folded into another */
    int *bn_of_conv;      /* per node: the BatchNormalization folded into it, or -1 */
    int failed;           /* the node whose island op failed last */
    int *excluded;        /* per node: the island it may not join (XNNBE_SPLIT), or -1 */
    unsigned char *cand;  /* per node: may join the island being built */
    int *island_of;       /* per node: the island it runs in, or -1 */
    ir_tensor **folded;   /* constants made during the build (Shape, ...) */
    int n_folded, cap_folded;
    int cur; /* island being built, -1 outside */
    uint32_t next_ext;
    xnnbe_edge *imports, *exports;
    int n_imports, n_exports, cap_imports, cap_exports;
    int64_t opset;
    int strict;
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
/* Host ops (calma's kernels), planned into kernel steps. */
extern const xnnbe_op xnnbe_host_shape[]; /* xnn_host_shape.c: Slice, Concat, Transpose, ... */
extern const xnnbe_op xnnbe_host_math[];  /* xnn_host_math.c: elementwise, reductions, MatMul */

/* ---- xnn_part.c ---- */

/* Plans s from the model's graph: folds, islands and host steps. */
int xnnbe_build(xnnbe_state *s, const calma_model *m, calma_error *e);
/* Frees everything in s except s itself. */
void xnnbe_state_clear(xnnbe_state *s);
/* The island op for op_type, or NULL. */
const xnnbe_op *xnnbe_find_op(const char *op_type);
/* The host op for op_type, or NULL. */
const xnnbe_op *xnnbe_find_host_op(const char *op_type);

/* ---- xnn_build.c: values and messages ---- */

/* Fills the error as "op 'Op' (node 'name'): message" and returns status. */
int xnnbe_fail(xnnbe_ctx *c, int node, int status, const char *fmt, ...) ERR_PRINTF(4, 5);
#define xnnbe_unsupported(c, node, ...) xnnbe_fail(c, node, CALMA_E_UNSUPPORTED, __VA_ARGS__)
#define xnnbe_invalid(c, node, ...) xnnbe_fail(c, node, CALMA_E_INVALID, __VA_ARGS__)
/* A layout the island cannot give: XNNBE_SPLIT, or unsupported when strict. */
#define xnnbe_split(c, node, ...)                                                                  \
    xnnbe_fail(c, node, (c)->strict ? CALMA_E_UNSUPPORTED : XNNBE_SPLIT, __VA_ARGS__)
/* Turns a failed xnn_define_* into an error naming the node. */
int xnnbe_check(xnnbe_ctx *c, int node, enum xnn_status st, const char *what);
/* "node 'name'", or "node #i" for a nameless node. */
const char *xnnbe_node_label(const ir_graph *g, int i, char *buf, size_t size);

/* Owned, zeroed float buffer with XNNPACK's read-ahead slack; NULL on OOM
 * (the error is set). */
float *xnnbe_blob(xnnbe_ctx *c, size_t n_floats);
/* Keeps p until release (freed with free()); -1 on OOM (p is freed). */
int xnnbe_keep(xnnbe_state *s, void *p);

/* Input i of node as a value usable in the island being built: a constant,
 * a value of this island, or a host view imported as an external input.
 * Fails if it is absent or not yet computed. */
int xnnbe_input(xnnbe_ctx *c, int node, int i, xnnbe_val **out);
/* Does op work on NHWC maps in XNNPACK (Conv, pools, Resize, ...)? */
int xnnbe_is_spatial_op(const char *op);
/* Name of a value for messages. */
const char *xnnbe_vname(const xnnbe_ctx *c, const xnnbe_val *v);
/* Is value index v one of the graph's outputs? */
int xnnbe_is_output(const xnnbe_ctx *c, int v);
/* Must value v, computed in the island being built, be handed to run() (a
 * graph output, or read by a node outside this island)? */
int xnnbe_needs_export(const xnnbe_ctx *c, int v);
/* Input i as a constant tensor (any dtype), or NULL (no error set). */
const ir_tensor *xnnbe_const_input(xnnbe_ctx *c, int node, int i);
/* Float data of a float32 constant, or NULL. */
const float *xnnbe_const_f32(const ir_tensor *t);

/* Defines the output value v of a node with its logical shape and layout;
 * a value needed outside the island becomes an external output. *id
 * receives the XNNPACK id. */
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
 * NHWC and that is the same bytes; a second import of a host value; split
 * otherwise). A float constant becomes a static tensor. */
int xnnbe_as_logical(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id);
/* The value's id as an NHWC 4-D tensor (reshaped when its logical order is
 * the same bytes, permuted when it is a constant, imported again when it is
 * a host value; split otherwise). */
int xnnbe_as_nhwc(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id);

/* Follows the node's output through single-use Relu / Clip consumers of
 * this island and folds them into [*lo, *hi]; *out_v becomes the last
 * value of the chain. */
void xnnbe_fuse_clamp(xnnbe_ctx *c, int *out_v, float *lo, float *hi);
/* Reads a Clip or Relu node's bounds; 0 if it has non-constant bounds. */
int xnnbe_clip_bounds(xnnbe_ctx *c, int node, float *lo, float *hi);
/* May node k be fused into a node of the island being built? */
int xnnbe_fusable(const xnnbe_ctx *c, int k);

/* Registers a constant made during the build (takes t's data). */
const ir_tensor *xnnbe_add_folded(xnnbe_ctx *c, ir_tensor *t);

/* Normalises a possibly negative axis against rank; -1 if out of range. */
int xnnbe_axis(int64_t axis, int rank);

/* ---- xnn_layout.c ---- */

/* [N,C,H,W] -> [N,H,W,C] and back; dims are the logical N,C,H,W. */
void xnnbe_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims);
void xnnbe_nhwc_to_nchw(const float *src, float *dst, const int64_t *dims);

/* ---- xnn_host.c: what host ops share ---- */

/* Appends a kernel step (args is kept and freed at release). */
int xnnbe_add_kernel(xnnbe_ctx *c, int node, xnnbe_kernel_fn fn, void *args);
/* Zeroed args of n bytes kept until release; NULL on OOM (error set). */
void *xnnbe_args(xnnbe_ctx *c, size_t n);
/* A new host buffer for a value of this logical shape, packed in memory
 * order `order` (NULL: logical order); *out views it. */
int xnnbe_host_alloc(xnnbe_ctx *c, int rank, const int64_t *dims, const int *order,
                     xnnbe_view *out);
/* Input i of host node k as a view: a host value's first view, or a float
 * constant copied into the plan. Fails when absent or not float32. */
int xnnbe_host_input(xnnbe_ctx *c, int k, int i, xnnbe_view *out);
/* Records view w as output j of node k (its first view). */
void xnnbe_host_output(xnnbe_ctx *c, int k, int j, const xnnbe_view *w);
/* A view of x in order `order` (NULL: logical), packed: x itself when it
 * already is, else a copy step into a new buffer. */
int xnnbe_host_packed(xnnbe_ctx *c, int k, const xnnbe_view *x, const int *order, xnnbe_view *out);
/* Appends a step copying src into dst (same logical shape). node -1 counts
 * it as a layout change at an island's edge. */
int xnnbe_host_copy(xnnbe_ctx *c, int k, const xnnbe_view *src, const xnnbe_view *dst);

#endif
