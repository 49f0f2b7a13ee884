/* zoo_: built-in models, built in the IR with seeded random weights.
 *
 * Every model has one runtime input called "input" and one output called
 * "output", both with a symbolic leading batch dimension "N", and imports
 * the default ONNX domain at opset 17. Weights follow PyTorch's default
 * scales (He-uniform convolutions, nn.Linear's uniform, near-identity
 * BatchNorm statistics) so activations stay finite and non-trivial through
 * deep nets. The same name and seed give the same bytes on every machine. */
#ifndef CALMA_ZOO_H
#define CALMA_ZOO_H

#include <stdint.h>

#include "ir/ir.h"

/* Number of built-in models, and model i's name and one-line description. */
int zoo_count(void);
const char *zoo_name(int i);
const char *zoo_description(int i);
/* Index of the model called name, or -1. */
int zoo_find(const char *name);

/* Builds model name (unknown → CALMA_E_USAGE listing the names) into a new
 * sorted graph; *out is NULL on failure. */
int zoo_build(const char *name, uint64_t seed, ir_graph **out, calma_error *e);

/* Trainable parameters, as PyTorch counts them: elements of floating-point
 * initializers of rank >= 1, except BatchNormalization's running mean and
 * variance (inputs 3 and 4). Scalar constants (Clip bounds, GELU's 0.5)
 * and integer shape tensors are not parameters. -1 when out of memory. */
int64_t zoo_trainable_params(const ir_graph *g);

#endif
