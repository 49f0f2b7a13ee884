/* ref_: the oracle. A plain interpreter over the IR, written for exactness
 * (convolutions, matmuls and reductions accumulate in double), not speed. */
#ifndef CALMA_REF_H
#define CALMA_REF_H

#include "ir/ir.h"

typedef struct ref_session ref_session;

/* Checks every node's op is one the oracle runs (CALMA_E_UNSUPPORTED naming
 * the op and node otherwise) and that the graph's default-domain opset is
 * one it knows. The session keeps a pointer to g, which must outlive it. */
int ref_session_create(const ir_graph *g, ref_session **out, calma_error *e);
void ref_session_free(ref_session *s);

/* Runs the graph once. inputs[i] feeds g->inputs[i] (dtype and shape are
 * checked against the declared type; symbolic dims accept any size).
 * outputs[k] receives g->outputs[k] as a new owned tensor (any data it held
 * is freed first). Errors name the node and op. */
int ref_session_run(ref_session *s, const ir_tensor *inputs, ir_tensor *outputs, calma_error *e);

/* Bytes held by intermediate values (node outputs) at the high-water mark
 * of the last run: the executor frees each value after its last reader, so
 * this stays near the largest live set rather than the sum of all. */
size_t ref_session_peak_bytes(const ref_session *s);

/* Static shape inference: given the types and shapes of the runtime inputs
 * (data may be NULL), fills out_types[k] (dtype, rank, dims; no data) for
 * every graph output. Small integer computations on constants (shape
 * arithmetic) are folded by running them. Fails with the node at fault when
 * a shape cannot be determined without the inputs' values. */
int ref_infer_outputs(const ir_graph *g, const ir_tensor *input_types, ir_tensor *out_types,
                      calma_error *e);

/* The same, also counting the floating-point operations of one run of the
 * graph at these input shapes into *flops (may be NULL); see ref_flops.h. */
int ref_infer_outputs_flops(const ir_graph *g, const ir_tensor *input_types, ir_tensor *out_types,
                            double *flops, calma_error *e);

/* The same for every value of the graph: vals (g->n_values entries) gets
 * each value's dtype, rank and dims (dtype UNDEFINED where inference did not
 * reach), and for a node output folded from constants its data, owned by the
 * caller (free each with ir_tensor_free). Initializers keep their data in the
 * graph: their entries carry the type only. */
int ref_infer_values(const ir_graph *g, const ir_tensor *input_types, ir_tensor *vals,
                     calma_error *e);

/* Is op_type (default domain) one the oracle runs? */
int ref_op_supported(const char *op_type);
/* Number of ops the oracle runs and the name of op i (for listings). */
int ref_op_count(void);
const char *ref_op_name(int i);

#endif
