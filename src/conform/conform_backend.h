/* Output shapes for engines that need them before they run (every calma
 * backend does: run() fills caller-owned buffers). */
#ifndef CALMA_CONFORM_BACKEND_H
#define CALMA_CONFORM_BACKEND_H

#include "ir/ir.h"

/* Fills out_types[k] (dtype, rank, dims; no data) for every output of g run
 * on inputs (which carry data). Static shape inference first; when a shape
 * depends on an input's values (Reshape's shape, Range, Slice's starts fed
 * as graph inputs, ...) the oracle runs on the inputs and its outputs' shapes
 * are used. Fails with the static inference's message when both fail. */
int conform_output_types(const ir_graph *g, const ir_tensor *inputs, ir_tensor *out_types,
                         calma_error *e);

#endif
