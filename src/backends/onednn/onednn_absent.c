/* dnnlbe_: stands in for the oneDNN conversions on a machine built without
 * libdnnl-dev, so the names stay known and report why they cannot run. */
#include "backends/backends.h"
#include "util/err.h"

#define DNNLBE_ABSENT                                                                              \
    "built without oneDNN (libdnnl-dev); install it with apt-get install -y libdnnl-dev (or run "  \
    "scripts/setup.sh) and rebuild"

static const char *dnnlbe_version(void) {
    return NULL;
}

static int dnnlbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    return err_set(e, CALMA_E_UNAVAILABLE, DNNLBE_ABSENT);
}

static int dnnlbe_load(const calma_conversion *c, const calma_model *m,
                       const calma_trial_config *cfg, void **state, calma_error *e) {
    (void)c;
    (void)m;
    (void)cfg;
    *state = NULL;
    return err_set(e, CALMA_E_UNAVAILABLE, DNNLBE_ABSENT);
}

static int dnnlbe_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                      int n_out, calma_error *e) {
    (void)state;
    (void)inputs;
    (void)n_in;
    (void)outputs;
    (void)n_out;
    return err_set(e, CALMA_E_UNAVAILABLE, DNNLBE_ABSENT);
}

static void dnnlbe_release(void *state) {
    (void)state;
}

static const calma_backend dnnlbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "onednn",
    .version = dnnlbe_version,
    .probe = dnnlbe_probe,
    .load = dnnlbe_load,
    .convert = NULL,
    .run = dnnlbe_run,
    .release = dnnlbe_release,
};

const calma_conversion dnnlbe_conversions[] = {
    {"ONEDNN", "DNNL,MKLDNN,ONEDNN_FP32", 2, "cpu",
     "Intel's oneDNN: the graph as oneDNN primitives in float32 (not built here)", &dnnlbe_backend,
     NULL},
    {"ONEDNN_BF16", "DNNL_BF16", 2, "cpu",
     "oneDNN with bfloat16 weights and activations (not built here)", &dnnlbe_backend, NULL},
    {"ONEDNN_INT8", "DNNL_INT8", 2, "cpu",
     "oneDNN with int8 convolutions and inner products (not built here)", &dnnlbe_backend, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
