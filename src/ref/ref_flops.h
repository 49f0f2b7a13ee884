/* ref_flops_: how much arithmetic a node does, from its tensors' shapes.
 * A multiply-add counts as two floating-point operations, as in GFLOP/s
 * figures elsewhere; data movement (Reshape, Transpose, Concat, ...) counts
 * zero. */
#ifndef CALMA_REF_FLOPS_H
#define CALMA_REF_FLOPS_H

#include "ir/ir.h"

/* in[i] may be NULL for an omitted optional input; only shapes are read. */
double ref_flops_node(const ir_node *n, const ir_tensor *const *in, int n_in, const ir_tensor *out,
                      int n_out);

#endif
