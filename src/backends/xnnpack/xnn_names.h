/* What the XNNPACK conversions say about themselves, the same whether the
 * engine was built (xnn_backend.c) or not (xnn_absent.c). */
#ifndef CALMA_XNN_NAMES_H
#define CALMA_XNN_NAMES_H

#define XNNBE_DESC                                                                                 \
    "Google's XNNPACK (the CPU engine behind TensorFlow Lite) on every op it can express, in "     \
    "NHWC islands; calma's own float32 kernels run the ops between them"
#define XNNBE_STRICT_DESC                                                                          \
    "XNNPACK on the whole model as one subgraph, or unsupported naming the op it lacks (as a "     \
    "delegate that must take everything)"

#endif
