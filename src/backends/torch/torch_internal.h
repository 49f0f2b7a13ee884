/* torchbe_: the PyTorch backend's C side, shared by its files.
 *
 * torch_backend.c    the conversion table, probe, and load/convert/run/release
 * torch_lib.c        finds and dlopens calma_torch.so (the C++ side)
 * torch_lower.c      the ONNX graph as a torchbe_program (torch_abi.h): folding,
 *                    slots, op check
 * torch_lower_ops.c  one function per ONNX op: attributes to step parameters
 * torch_*.cc         the C++ side, built into calma_torch.so only */
#ifndef CALMA_BACKENDS_TORCH_INTERNAL_H
#define CALMA_BACKENDS_TORCH_INTERNAL_H

#include "backends/torch/torch_abi.h"
#include "ir/ir.h"

#define TORCHBE_ENV_LIBRARY "CALMA_TORCH_LIBRARY"
#define TORCHBE_LIB_NAME "calma_torch.so"
#define TORCHBE_INSTALL_HINT                                                                       \
    "apt-get install libtorch-dev (scripts/setup.sh does), then rebuild calma"

/* dlopens calma_torch.so ($CALMA_TORCH_LIBRARY if set, else lib/ beside
 * the executable or one folder up, else the build tree calma was built in)
 * and returns its entry table, or NULL with CALMA_E_UNAVAILABLE naming
 * every path tried, why each failed, and the install command. Never
 * dlclosed: libtorch registers its operators and thread pools once per
 * process; a second dlopen of the same path is a reference count. */
const torchbe_api *torchbe_lib_open(calma_error *e);

/* A graph lowered for TORCH_EAGER. Owns everything its program points to. */
typedef struct torchbe_lowered {
    torchbe_program prog;
    int n_values, n_nodes;
    ir_tensor *vals; /* ref_infer_values: every value's shape, folded constants' data */
    torchbe_step *steps;
    int *const_slot, *input_slot, *output_slot;
    calma_tensor *consts;
} torchbe_lowered;

/* Lowers g (batch fixed; m->inputs give the trial's shapes) to one ATen call
 * per node that depends on the runtime inputs; nodes computed from
 * constants only are folded here once by calma's shape inference. Every
 * node is checked before anything runs: an op with no ATen mapping is
 * CALMA_E_UNSUPPORTED naming each such op and the first node of each. */
int torchbe_lower(const ir_graph *g, const calma_model *m, torchbe_lowered **out, calma_error *e);
void torchbe_lowered_free(torchbe_lowered *l);

/* ---- per-op lowering (torch_lower_ops.c) ---- */

typedef struct torchbe_ctx {
    const ir_graph *g;
    const ir_node *n;
    int64_t opset;
    const ir_tensor *vals; /* by value index */
    const char *used;      /* by value index: read by a node or a graph output */
    torchbe_step *st;      /* in, out, kind and node already set */
    int *in, *out;         /* st->in and st->out, writable */
    const char *label;
    calma_error *e;
} torchbe_ctx;

typedef int (*torchbe_lower_fn)(torchbe_ctx *c);

typedef struct torchbe_op {
    const char *op_type;
    int kind;            /* torchbe_kind */
    torchbe_lower_fn fn; /* NULL: no attributes to read */
} torchbe_op;

/* The ONNX ops TORCH_EAGER runs, or NULL. */
const torchbe_op *torchbe_find_op(const char *op_type);
/* For listings: the count and the op_type of entry i. */
int torchbe_op_count(void);
const char *torchbe_op_name(int i);

/* Can libtorch hold this dtype (torch 1.13 has no uint16/32/64)? */
int torchbe_dtype_ok(calma_dtype dt);

#endif
