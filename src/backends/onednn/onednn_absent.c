/* dnnlbe_: stands in for the oneDNN conversions on a machine built without
 * libdnnl-dev, so the names stay known and report why they cannot run. */
#include "backends/backends.h"

#define DNNLBE_ABSENT                                                                              \
    "built without oneDNN (libdnnl-dev); install it with apt-get install -y libdnnl-dev (or run "  \
    "scripts/setup.sh) and rebuild"

static const calma_backend dnnlbe_absent = CALMA_ABSENT_BACKEND("onednn");

const calma_conversion dnnlbe_conversions[] = {
    {"ONEDNN", "DNNL,MKLDNN,ONEDNN_FP32", 2, "cpu",
     "Intel's oneDNN: the graph as oneDNN primitives in float32 (not built here)", &dnnlbe_absent,
     DNNLBE_ABSENT},
    {"ONEDNN_BF16", "DNNL_BF16", 2, "cpu",
     "oneDNN with bfloat16 weights and activations (not built here)", &dnnlbe_absent,
     DNNLBE_ABSENT},
    {"ONEDNN_INT8", "DNNL_INT8", 2, "cpu",
     "oneDNN with int8 convolutions and inner products (not built here)", &dnnlbe_absent,
     DNNLBE_ABSENT},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
