/* xform_ graph helpers shared by the passes: a deep copy, the element type of
 * every value, consumer counts, and xb, the builder each pass writes its new
 * graph with.
 *
 * A pass never edits its source graph: it walks the source nodes in
 * topological order and emits zero or more nodes per source node into a new
 * graph. Values are created in the new graph only when an emitted node uses
 * them, so initializers a pass replaced (fp32 weights after quantization)
 * disappear by themselves. */
#ifndef CALMA_TRANSFORM_XFORM_GRAPH_H
#define CALMA_TRANSFORM_XFORM_GRAPH_H

#include "ir/ir.h"

/* Deep copy: same values in the same order (so value indices agree), the
 * same nodes and attributes, copies of every initializer. */
int xform_clone(const ir_graph *src, ir_graph **out, calma_error *e);

/* The element type of every value of g, by value index: declared types and
 * initializers first, the rest inferred by the oracle's shape inference at
 * batch 1. UNDEFINED where neither tells. *out is malloc'ed. */
int xform_value_dtypes(const ir_graph *g, calma_dtype **out, calma_error *e);

/* Per value: how many node inputs read it (a node reading it twice counts
 * twice), and whether it is a graph output. Both malloc'ed. */
int xform_consumers(const ir_graph *g, int **count, char **is_output, calma_error *e);

/* Does g hold float16 or bfloat16 values already (initializers, inputs,
 * outputs or casts to them)? The transforms start from float32 models. */
int xform_has_half(const ir_graph *g);

/* The node that reads value v, when exactly one does (-1 otherwise). */
int xform_sole_consumer(const ir_graph *g, int v);

typedef struct xb {
    const ir_graph *src;
    ir_graph *g; /* the graph being built */
    int rc;      /* first failure; CALMA_OK until then */
    calma_error *e;
    unsigned long fresh; /* counter for new names */
} xb;

/* Starts a new graph with src's name, versions, opsets, and typed runtime
 * inputs and outputs. */
int xb_begin(xb *b, const ir_graph *src, calma_error *e);
/* Sorts the new graph and hands it over (*out), or frees it after a
 * failure and returns the failure. */
int xb_end(xb *b, ir_graph **out);
/* Records an out-of-memory failure (the first failure is kept). */
void xb_nomem(xb *b, const char *what);

/* The name of source value v in the new graph, creating it there (with a
 * copy of its initializer) the first time. */
const char *xb_use(xb *b, int v);
/* A name used by neither graph: "<base>_<tag>", with a counter if needed.
 * The value is created (untyped) in the new graph. */
const char *xb_fresh(xb *b, const char *base, const char *tag);
/* A new initializer called xb_fresh(base, tag); takes ownership of *t. */
const char *xb_init(xb *b, const char *base, const char *tag, ir_tensor *t);
/* A scalar or 1-D initializer of count elements of dtype from doubles. */
const char *xb_const(xb *b, const char *base, const char *tag, calma_dtype dt, int rank,
                     size_t count, const double *v);
/* Appends a node; NULL after a failure. Valid until the next node is added. */
ir_node *xb_node(xb *b, const char *op, const char *name, int n_in, const char *const *in,
                 int n_out, const char *const *out);
/* Copies src node n with its attributes and domain, reading in[] and writing
 * out[] (NULL: the source names through xb_use). */
ir_node *xb_copy_node(xb *b, const ir_node *n, const char *const *in, const char *const *out);
/* Copies every attribute of from onto to, except the one called skip (may be
 * NULL). */
void xb_copy_attrs(xb *b, ir_node *to, const ir_node *from, const char *skip);
/* A unique node name "<prefix>/<value>" for a node writing value. */
const char *xb_node_name(xb *b, const char *prefix, const char *value, char *buf, size_t n);

#endif
