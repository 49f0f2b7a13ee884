/* dnnlbe_: the oneDNN backend's private parts, shared by its files.
 *
 * load() runs calma's static shape inference (which also folds constant
 * shape arithmetic), then walks the graph once and turns each node, or a
 * chain of nodes fused into one (Conv + folded BatchNormalization + Relu /
 * Clip + residual Add), into a oneDNN primitive descriptor: a *step*. Every
 * op oneDNN cannot express is refused here, naming the op and node, before
 * any memory is allocated or kernel compiled. convert() plans one arena for
 * the activations (buffers whose lifetimes do not overlap share memory),
 * creates the memory objects and primitives (oneDNN compiles its kernels
 * here), and reorders every constant once into the layout its primitive
 * chose. run() points the edge memories at the caller's buffers and
 * executes the step list on one stream.
 *
 * Layouts: a value's memory descriptor has the ONNX value's logical dims in
 * ONNX order (N, C, H, W ...); convolutions and inner products take
 * format_tag any, so blocked layouts (nChw16c, ...) flow between them and a
 * reorder appears only at the edges or where a consumer needs another
 * layout (a Reshape of a blocked map, a Transpose).
 *
 * The graph passed to load must outlive convert: unmodified constants are
 * read from its initializers there (the worker and the tests keep it until
 * release). */
#ifndef CALMA_ONEDNN_INTERNAL_H
#define CALMA_ONEDNN_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>

#include "calma/backend.h"
#include "ir/ir.h"
#include "util/err.h"

struct xform_ranges;

/* What a conversion computes in (calma_conversion.data points at one). */
typedef enum dnnlbe_prec { DNNLBE_FP32 = 0, DNNLBE_BF16 = 1, DNNLBE_INT8 = 2 } dnnlbe_prec;

typedef struct dnnlbe_settings {
    dnnlbe_prec prec;
} dnnlbe_settings;

typedef enum dnnlbe_buf_kind {
    DNNLBE_BUF_ARENA = 0, /* an activation: placed in the arena by lifetime */
    DNNLBE_BUF_USER = 1,  /* the caller's input or output, pointed at in run() */
    DNNLBE_BUF_OWNED = 2  /* a constant or the shared scratchpad: its own allocation */
} dnnlbe_buf_kind;

typedef struct dnnlbe_buf {
    dnnlbe_buf_kind kind;
    size_t bytes;
    int first, last; /* first and last step that touch it; -1 before any */
    void *data;      /* set in convert (arena, owned) or run (user) */
    /* Values bound to this buffer (a value and its reshaped views), so an
     * in-place write can check nobody reads it later. */
    int *vals, n_vals, cap_vals;
} dnnlbe_buf;

/* One oneDNN memory object: a descriptor over (the start of) a buffer. */
typedef struct dnnlbe_mem {
    dnnl_memory_desc_t md;
    int buf;
    float scale;       /* int8 contents: real value = scale * stored; 0 for real values */
    dnnl_memory_t mem; /* convert */
} dnnlbe_mem;

#define DNNLBE_MAX_ARGS 12

typedef struct dnnlbe_step {
    int node; /* the graph node it computes (the head of a fused chain), -1 at the edges */
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim; /* convert */
    int n_args;
    int arg[DNNLBE_MAX_ARGS]; /* DNNL_ARG_* */
    int mem[DNNLBE_MAX_ARGS]; /* index into state mems */
    dnnl_exec_arg_t exec[DNNLBE_MAX_ARGS];
} dnnlbe_step;

/* A constant put into its memory once, in convert: src (plain layout, src_md)
 * reordered into mems[mem] (the layout its primitive chose). */
typedef struct dnnlbe_const {
    int mem;
    dnnl_memory_desc_t src_md;
    const void *src;
    void *owned; /* src when the backend made it (folded, transposed); freed after convert */
} dnnlbe_const;

/* A graph input or output: the caller's buffer, in plain float32. */
typedef struct dnnlbe_io {
    char *name;
    int mem; /* the user memory (plain float32 over a USER buffer) */
    size_t bytes;
} dnnlbe_io;

typedef struct dnnlbe_state {
    dnnlbe_prec prec;
    int threads;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* scratchpad mode user: one shared scratchpad */
    int scratch_buf;
    dnnlbe_buf *bufs;
    int n_bufs, cap_bufs;
    dnnlbe_mem *mems;
    int n_mems, cap_mems;
    dnnlbe_step *steps;
    int n_steps, cap_steps;
    dnnlbe_const *consts;
    int n_consts, cap_consts;
    void **slots; /* the arena's allocations */
    int n_slots;
    int n_in, n_out;
    dnnlbe_io *in, *out;
    int converted;
    int n_fused; /* nodes folded into another node's primitive, for tests */
    /* Per value of the graph: inference's types and the constants it folded
     * (the constant memories read them in convert; freed then). */
    ir_tensor *folded;
    int n_folded;
} dnnlbe_state;

/* Per ONNX value, during the build. */
typedef struct dnnlbe_val {
    int mem;              /* a runtime value's memory, -1 when none (yet) */
    int alt_mem;          /* its last conversion to another layout or type, -1 */
    int q_mem;            /* its last quantized copy, -1 */
    const ir_tensor *cst; /* constant: initializer or folded, else NULL */
    int view_of;          /* a Flatten/Reshape of a blocked value kept lazy: that value, -1 */
    int rank;             /* logical shape from inference */
    int64_t dims[IR_MAX_RANK];
} dnnlbe_val;

typedef struct dnnlbe_ctx {
    const ir_graph *g;
    dnnlbe_state *s;
    dnnlbe_val *vals;
    ir_tensor *inferred; /* per value: type from inference, data when folded */
    int *uses;           /* readers per value; a graph output counts as one */
    int *consumer;       /* the reader, when uses == 1 */
    unsigned char *done; /* node folded into another, or constant */
    int *bn_of_conv;     /* per node: the BatchNormalization folded into it, or -1 */
    int64_t opset;
    dnnl_data_type_t cdt;              /* compute type of convolutions and products: f32 or bf16 */
    const struct xform_ranges *ranges; /* ONEDNN_INT8: calibrated ranges by value name */
    calma_error *e;
} dnnlbe_ctx;

typedef int (*dnnlbe_op_fn)(dnnlbe_ctx *c, int node);

typedef struct dnnlbe_op {
    const char *op_type;
    dnnlbe_op_fn fn; /* NULL: only folded, when every input is constant */
} dnnlbe_op;

/* Op family tables, each ending with op_type NULL. */
extern const dnnlbe_op dnnlbe_ops_conv[];    /* onednn_ops_conv.c: Conv, pools */
extern const dnnlbe_op dnnlbe_ops_linear[];  /* onednn_ops_linear.c: Gemm, MatMul */
extern const dnnlbe_op dnnlbe_ops_eltwise[]; /* onednn_ops_eltwise.c: activations, binary */
extern const dnnlbe_op dnnlbe_ops_norm[];    /* onednn_ops_norm.c: Softmax, norms */
extern const dnnlbe_op dnnlbe_ops_shape[];   /* onednn_ops_shape.c: views, Transpose, Concat */

/* ---- onednn_build.c: the walk ---- */

/* ranges: ONEDNN_INT8's calibration (NULL for the float conversions). */
int dnnlbe_build(dnnlbe_state *s, const calma_model *m, const struct xform_ranges *ranges,
                 calma_error *e);
/* Frees everything in s except s itself. */
void dnnlbe_state_clear(dnnlbe_state *s);
/* Name of a oneDNN status. */
const char *dnnlbe_status_name(dnnl_status_t st);

/* "op 'Op' (node 'name'): message" with the status. */
int dnnlbe_fail(dnnlbe_ctx *c, int node, int status, const char *fmt, ...) ERR_PRINTF(4, 5);
#define dnnlbe_unsupported(c, node, ...) dnnlbe_fail(c, node, CALMA_E_UNSUPPORTED, __VA_ARGS__)
#define dnnlbe_invalid(c, node, ...) dnnlbe_fail(c, node, CALMA_E_INVALID, __VA_ARGS__)
/* A failed oneDNN call: out of memory, or unsupported naming what was asked. */
int dnnlbe_check(dnnlbe_ctx *c, int node, dnnl_status_t st, const char *what);

int dnnlbe_is_output(const dnnlbe_ctx *c, int v);
int dnnlbe_axis(int64_t axis, int rank);
const char *dnnlbe_vname(const dnnlbe_ctx *c, int v);
/* Value index of input i of node, or -1 when absent. */
int dnnlbe_in_v(const dnnlbe_ctx *c, int node, int i);
/* Input i as a constant tensor, or NULL (no error set). */
const ir_tensor *dnnlbe_const_input(const dnnlbe_ctx *c, int node, int i);
/* float32 data of a constant, or NULL. */
const float *dnnlbe_const_f32(const ir_tensor *t);
/* Value v's memory holding real values (a lazy view is made real first; an
 * int8 value is dequantized, once, into float32 of the same layout). */
int dnnlbe_value_mem(dnnlbe_ctx *c, int node, int v, int *mem);
/* Value v's memory as it is: int8 with its scale for a quantized value. For
 * ops that keep the quantization (views, max pooling, int8 products). */
int dnnlbe_value_mem_raw(dnnlbe_ctx *c, int node, int v, int *mem);
/* Input i as a runtime value in its current memory (a lazy view is made
 * real); fails naming the input when it is absent or a constant. */
int dnnlbe_input(dnnlbe_ctx *c, int node, int i, int *v, int *mem);
/* The same with the memory as it is (int8 kept). */
int dnnlbe_input_raw(dnnlbe_ctx *c, int node, int i, int *v, int *mem);

/* ---- onednn_mem.c: descriptors, memories, steps ---- */

/* Dense row-major descriptor of dims (a scalar is held as [1]). */
int dnnlbe_plain_md(dnnlbe_ctx *c, int node, int rank, const int64_t *dims, dnnl_data_type_t dt,
                    dnnl_memory_desc_t *md);
/* A descriptor with the same dims and type but format any. */
int dnnlbe_any_md(dnnlbe_ctx *c, int node, int rank, const int64_t *dims, dnnl_data_type_t dt,
                  dnnl_memory_desc_t *md);
/* Is md the dense row-major layout of its dims? */
int dnnlbe_md_is_plain(const dnnl_memory_desc_t *md);
int dnnlbe_new_buf(dnnlbe_ctx *c, dnnlbe_buf_kind kind, size_t bytes);
int dnnlbe_new_mem(dnnlbe_ctx *c, const dnnl_memory_desc_t *md, int buf);
/* A new activation: a fresh arena buffer sized for md, and its memory. */
int dnnlbe_new_act(dnnlbe_ctx *c, const dnnl_memory_desc_t *md);
/* Binds value v to memory mem (and mem's buffer to v). */
int dnnlbe_bind(dnnlbe_ctx *c, int v, int mem);
/* Creates a primitive descriptor for op_desc with attr (NULL: the state's
 * scratchpad attr). Returns the oneDNN status; the pd is NULL on failure. */
dnnl_status_t dnnlbe_pd(dnnlbe_ctx *c, const void *op_desc, dnnl_primitive_attr_t attr,
                        dnnl_primitive_desc_t *pd);
/* A primitive descriptor's memory descriptor for a query (src, weights, ...). */
const dnnl_memory_desc_t *dnnlbe_pd_md(dnnl_primitive_desc_t pd, dnnl_query_t what, int index);
/* Appends a step (takes pd); args and mems are n pairs; the scratchpad is added. */
int dnnlbe_add_step(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, int n, const int *args,
                    const int *mems);
/* Binds value y to mem, viewed with y's dims when they differ (a product
 * on a 2-D view of a 3-D value). */
int dnnlbe_bind_view(dnnlbe_ctx *c, int node, int y, int mem);
/* Appends pd (taken) as a step with args/mems (n pairs, room for one
 * more) writing a new activation of pd's destination layout, holding values
 * of scale (0: real), bound to value y as dnnlbe_bind_view does. */
int dnnlbe_emit(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, int n, int *args, int *mems,
                float scale, int y);
/* A reorder of src into a new activation of dst_md holding values of scale
 * dst_scale (0: real values; quantizing, dequantizing or requantizing as
 * the two scales say); *out its memory. */
int dnnlbe_reorder(dnnlbe_ctx *c, int node, int src, const dnnl_memory_desc_t *dst_md,
                   float dst_scale, int *out);
/* Value v's memory in exactly md want (reordered when needed; the result is
 * kept so another consumer asking the same gets it). */
int dnnlbe_as(dnnlbe_ctx *c, int node, int v, const dnnl_memory_desc_t *want, int *out);
/* Value v quantized with scale into md want (an int8 type); kept like as(). */
int dnnlbe_as_q(dnnlbe_ctx *c, int node, int v, const dnnl_memory_desc_t *want, float scale,
                int *out);
/* Value v's memory in the dense row-major layout of its dims, type dt. */
int dnnlbe_as_plain(dnnlbe_ctx *c, int node, int v, dnnl_data_type_t dt, int *out);
/* A view of memory src (plain) with other dims, over the same buffer. */
int dnnlbe_view(dnnlbe_ctx *c, int node, int src, int rank, const int64_t *dims, int *out);
/* A constant of logical dims (plain float32 data) to be reordered into md
 * want in convert. owned: the data was made for this and is freed then. */
int dnnlbe_const_mem(dnnlbe_ctx *c, int node, const dnnl_memory_desc_t *want, int rank,
                     const int64_t *dims, const float *data, void *owned, int *out);
/* The same for data of type dt (int8 weights quantized by the backend). */
int dnnlbe_const_mem_dt(dnnlbe_ctx *c, int node, const dnnl_memory_desc_t *want, int rank,
                        const int64_t *dims, dnnl_data_type_t dt, const void *data, void *owned,
                        int *out);
/* Can a primitive write into v's buffer before node `at` (the Add it
 * absorbs) without anyone reading the old contents afterwards? from: the
 * node whose step would write. */
int dnnlbe_can_overwrite(const dnnlbe_ctx *c, int v, int from, int at);

/* ---- onednn_fuse.c: post-op chains ---- */

#define DNNLBE_MAX_POST 16

/* One fused op after the primitive: an eltwise (alg, alpha, beta in real
 * units) or the sum of a residual. */
typedef struct dnnlbe_post {
    int sum;
    dnnl_alg_kind_t alg;
    float alpha, beta;
} dnnlbe_post;

typedef struct dnnlbe_chain {
    dnnlbe_post op[DNNLBE_MAX_POST];
    int n_ops;
    int out_v;    /* the value the fused chain produces */
    int sum_v;    /* value added by a sum post-op, or -1 */
    int sum_node; /* the Add that became the sum */
} dnnlbe_chain;

/* How an int8 primitive's result is scaled (all 0 / NULL for a float one):
 * the accumulator times scales[oc] is the real result; the residual in the
 * destination holds values of sum_scale in sum_dt; the result is stored
 * divided by dst_scale (0: stored real). */
typedef struct dnnlbe_qattr {
    const float *scales;
    int n_scales;
    int mask;
    float sum_scale;
    dnnl_data_type_t sum_dt;
    float dst_scale;
} dnnlbe_qattr;

/* Flags for dnnlbe_follow. */
#define DNNLBE_FUSE_SUM 1   /* a residual Add may become a sum post-op */
#define DNNLBE_FUSE_SCALE 2 /* Mul/Div by a scalar constant becomes a linear post-op */

/* Follows node's output through single-use activations (and what flags
 * allow), recording post-ops; marks those nodes done. */
void dnnlbe_follow(dnnlbe_ctx *c, int v, int flags, dnnlbe_chain *ch);
/* An attr with the chain's post-ops, q's scales (may be NULL) and the
 * scratchpad mode; NULL when there is nothing to say (use the state's).
 * Caller destroys a non-NULL result. */
int dnnlbe_chain_attr(dnnlbe_ctx *c, int node, const dnnlbe_chain *ch, const dnnlbe_qattr *q,
                      dnnl_primitive_attr_t *attr);
/* Node k's eltwise equivalent (Relu, Clip with constant bounds, ...); 0 if none. */
int dnnlbe_eltwise_of(dnnlbe_ctx *c, int k, dnnl_alg_kind_t *alg, float *alpha, float *beta);
/* Is v's use the exported erf GELU x*0.5*(1+erf(x/sqrt(2)))? Then nodes[]
 * (n_nodes) are the pattern's nodes, the last one producing its result. */
int dnnlbe_gelu_match(const dnnlbe_ctx *c, int v, int *nodes, int *n_nodes);
/* The destination memory (md, stored at dst_scale) of a primitive with a
 * sum post-op over sum_v: sum_v's buffer itself when it can be overwritten
 * and has that layout, else a copy of it there. *sum_scale and *sum_dt say
 * how the residual is held in it. */
int dnnlbe_sum_dst(dnnlbe_ctx *c, int node, int sum_v, const dnnl_memory_desc_t *md,
                   float dst_scale, int at, int *out, float *sum_scale, dnnl_data_type_t *sum_dt);

/* The rest of a convolution or inner product pd (taken): its destination
 * (the residual's memory when the chain has a sum), holding values of
 * dst_scale; the step reading sm, wm and bm (-1: no bias); the chain's
 * result bound to it. */
int dnnlbe_product_step(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, const dnnlbe_chain *ch,
                        float dst_scale, int sm, int wm, int bm);

/* ---- onednn_quant.c: ONEDNN_INT8 ---- */

typedef struct dnnlbe_qin {
    dnnl_data_type_t dt; /* u8 or s8 */
    float scale;
} dnnlbe_qin;

/* The calibrated int8 form of value v (u8 when never negative, else s8
 * symmetric), from its range; 0 when v has no range (then not quantized). */
int dnnlbe_qtype(const dnnlbe_ctx *c, int v, dnnlbe_qin *q);
/* The int8 form v is read in: its own when already int8, else qtype's. */
int dnnlbe_qsource(dnnlbe_ctx *c, int v, dnnlbe_qin *q);
/* Should the int8 product producing v store it in int8? (every reader
 * takes int8, and v has a range) */
int dnnlbe_store_int8(const dnnlbe_ctx *c, int v, dnnlbe_qin *q);
/* Per-channel symmetric int8 weights (axis 0 of rank dims) from float w:
 * *q (owned s8 data) and *scales (owned, dims[0] floats). */
int dnnlbe_quant_weights(dnnlbe_ctx *c, int rank, const int64_t *dims, const float *w, int8_t **q,
                         float **scales);
/* oneDNN 2.x adds the bias before the output scale: bias / (sx * sw[oc]). */
float *dnnlbe_quant_bias(dnnlbe_ctx *c, const float *b, int64_t n, float sx, const float *sw);
/* How a residual of sum_v is held in a destination of type ddt stored at
 * dst_scale: kept in its own int8 type and scale when both are int8, else
 * copied in the destination's. */
void dnnlbe_sum_kind(const dnnlbe_ctx *c, int sum_v, dnnl_data_type_t ddt, float dst_scale,
                     float *sum_scale, dnnl_data_type_t *sum_dt);

/* An int8 product (convolution or inner product) from float weights
 * ([N, ...], per-row scales), planned from the source's and the chain
 * result's quantization; on is 0 when it stays float (not INT8, or the
 * source has no range). */
typedef struct dnnlbe_qplan {
    int on;
    dnnlbe_qin src;
    int8_t *w;     /* quantized weights, owned until handed over */
    float *wscale; /* per row */
    float *oscale; /* per row: source scale * weight scale */
    float *bias;   /* the bias in accumulator units, or NULL */
    dnnl_data_type_t ddt;
    dnnlbe_qattr qa;
} dnnlbe_qplan;

int dnnlbe_qplan_make(dnnlbe_ctx *c, int src_v, int wrank, const int64_t *wdims, const float *w,
                      const float *bias, const dnnlbe_chain *ch, dnnlbe_qplan *p);
void dnnlbe_qplan_free(dnnlbe_qplan *p);
/* A product's weights ([wrank] wdims) and bias (n, or b NULL) into the
 * memories pd chose: int8 from the plan when it is on, else float32 w and
 * b. *wown, *bown: the backend's own float copies, taken (set NULL). */
int dnnlbe_product_consts(dnnlbe_ctx *c, int node, dnnlbe_qplan *qp, dnnl_primitive_desc_t pd,
                          int wrank, const int64_t *wdims, const float *w, float **wown,
                          const float *b, float **bown, int64_t n, int *wm, int *bm);

/* ---- onednn_plan.c: convert ---- */

/* Plans the arena, allocates, creates memories, primitives and constants. */
int dnnlbe_materialize(dnnlbe_state *s, calma_error *e);
/* Frees the constants inference folded (after convert, or at release). */
void dnnlbe_free_folded(dnnlbe_state *s);

#endif
