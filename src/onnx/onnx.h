/* onnx_: reading and writing ONNX files (ModelProto and TensorProto).
 *
 * The protobuf code is generated at build time from Debian's onnx.proto;
 * nothing outside src/onnx/ sees a protobuf type. Every failure message
 * begins with the path of the file at fault. */
#ifndef CALMA_ONNX_H
#define CALMA_ONNX_H

#include "calma/calma.h"
#include "ir/ir.h"

/* Default-domain (ai.onnx) opset versions calma accepts. */
#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 21

/* Deepest message nesting accepted (each subgraph adds three levels: node,
 * attribute, graph): protobuf-c recurses once per level, so a hostile file
 * could otherwise exhaust the stack. */
#define ONNX_MAX_NESTING 100

/* Reads a model (and its external data files) into a new, topologically
 * sorted graph. On failure *out is NULL and e says why: CALMA_E_IO (missing,
 * unreadable, a directory), CALMA_E_PARSE (not protobuf, truncated, no
 * graph), CALMA_E_INVALID (shapes, sizes, dangling names, cycles, escaping
 * external paths), CALMA_E_UNSUPPORTED (opset, dtype, rank, sparse data,
 * non-tensor inputs). Op types are not checked here: the oracle and each
 * backend report the ops they cannot run. */
int onnx_load(const char *path, ir_graph **out, calma_error *e);

/* Reads one serialized TensorProto (the ONNX test-data input_0.pb layout)
 * into *out (owned). name may be NULL; otherwise *name is the tensor's name,
 * malloc'ed, or NULL when the file names none. */
int onnx_load_tensor(const char *path, ir_tensor *out, char **name, calma_error *e);

/* Writes g as a ModelProto: ir_version g->ir_version (8 when 0), producer
 * "calma", g's opset imports, nodes with their attributes, initializers as
 * raw_data, typed graph inputs/outputs (symbolic dimensions by name) and
 * value_info for other typed values. Graph-valued attributes, which the IR
 * does not hold, make it fail with CALMA_E_UNSUPPORTED. */
int onnx_save(const ir_graph *g, const char *path, calma_error *e);

/* Writes one tensor as a serialized TensorProto (raw_data); name may be
 * NULL. */
int onnx_save_tensor(const ir_tensor *t, const char *name, const char *path, calma_error *e);

#endif
