/* zb_: the small graph-building kit the zoo models are written with.
 *
 * The first failure is kept in the builder and every later call does
 * nothing, so a model reads as a straight list of layers and is checked
 * once at the end. Value names returned are owned by the graph. */
#ifndef CALMA_ZOO_BUILDER_H
#define CALMA_ZOO_BUILDER_H

#include <stdint.h>

#include "ir/ir.h"

/* Expected per-channel mean and variance of an activation (dim 1), over
 * random inputs: what a calibration pass would measure, estimated while
 * the graph is built, so BatchNorm running statistics can match their
 * input the way a trained network's do. */
typedef struct zb_moments {
    int c; /* channels; 0 when not tracked */
    double *mean, *var;
} zb_moments;

typedef struct zb {
    ir_graph *g;
    uint64_t rng; /* splitmix64 state: weights are a pure function of the seed */
    int rc;       /* first failure, CALMA_OK until then */
    calma_error *e;
    const char *next_out; /* name for the next node's output, else derived */
    zb_moments *mom;      /* by value index */
    int n_mom;
} zb;

void zb_free(zb *b);

/* Declares value name's moments: every channel mean m, variance v. */
void zb_set_moments(zb *b, const char *name, int c, double m, double v);
/* Copies the moments of from to to (for ops that roughly keep them:
 * pooling). */
void zb_copy_moments(zb *b, const char *from, const char *to);

/* The builder's weight generator: the same seed gives the same bits on
 * every machine (integer arithmetic, then exact conversions). */
uint64_t zb_next(zb *b);
/* Uniform in [-bound, bound). */
float zb_uniform(zb *b, float bound);

/* Records an out-of-memory (or other) failure for the value or node called
 * what, unless an earlier failure is already recorded. */
void zb_fail(zb *b, int status, const char *what);

/* Initializers. The name is the returned value name. */
const char *zb_weight(zb *b, const char *name, int rank, const int64_t *dims, float bound);
const char *zb_fill(zb *b, const char *name, int rank, const int64_t *dims, float lo, float hi);
const char *zb_const_f(zb *b, const char *name, int rank, const int64_t *dims, const float *v);
const char *zb_const_i64(zb *b, const char *name, int rank, const int64_t *dims, const int64_t *v);
/* A float scalar (rank 0), shared: made once per name. */
const char *zb_scalar(zb *b, const char *name, float v);

/* A node with one output called "<name>_output_0" (or b->next_out, which is
 * then cleared: how a model names its graph output); NULL after a failure.
 * The pointer is valid only until the next node is added. */
ir_node *zb_node(zb *b, const char *op, const char *name, int n_in, const char *const *in);
/* The node's first output name (a placeholder after a failure). */
const char *zb_out(zb *b, const ir_node *n);
void zb_int(zb *b, ir_node *n, const char *attr, int64_t v);
void zb_float(zb *b, ir_node *n, const char *attr, float v);
void zb_ints(zb *b, ir_node *n, const char *attr, const int64_t *v, size_t count);

/* Layers. prefix names the layer's node(s) and parameters
 * (prefix.weight, prefix.bias, ... as torchvision names them). */
/* zb_conv, zb_bn, Relu (zb_unary), zb_relu6 and Add (zb_binary) carry the
 * moments forward; zb_bn sets its running statistics from them. */
const char *zb_conv(zb *b, const char *x, const char *prefix, int cin, int cout, int k, int stride,
                    int group, int bias);
const char *zb_bn(zb *b, const char *x, const char *prefix, int c);
const char *zb_gemm(zb *b, const char *x, const char *prefix, int in, int out);
const char *zb_unary(zb *b, const char *op, const char *name, const char *x);
const char *zb_binary(zb *b, const char *op, const char *name, const char *x, const char *y);
/* ReLU6 as Clip(x, 0, 6), the form PyTorch exports. */
const char *zb_relu6(zb *b, const char *name, const char *x);

#endif
