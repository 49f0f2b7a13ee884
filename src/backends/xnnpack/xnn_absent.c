/* xnnbe_: stands in for the XNNPACK conversion on a machine built without
 * libxnnpack-dev, so the name stays known and reports why it cannot run. */
#include "backends/backends.h"
#include "backends/xnnpack/xnn_names.h"
#include "util/err.h"

#define XNNBE_ABSENT "built without libxnnpack-dev; run scripts/setup.sh"

static const char *xnnbe_version(void) {
    return NULL;
}

static int xnnbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    return err_set(e, CALMA_E_UNAVAILABLE, XNNBE_ABSENT);
}

static int xnnbe_load(const calma_conversion *c, const calma_model *m,
                      const calma_trial_config *cfg, void **state, calma_error *e) {
    (void)c;
    (void)m;
    (void)cfg;
    *state = NULL;
    return err_set(e, CALMA_E_UNAVAILABLE, XNNBE_ABSENT);
}

static int xnnbe_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                     int n_out, calma_error *e) {
    (void)state;
    (void)inputs;
    (void)n_in;
    (void)outputs;
    (void)n_out;
    return err_set(e, CALMA_E_UNAVAILABLE, XNNBE_ABSENT);
}

static void xnnbe_release(void *state) {
    (void)state;
}

static const calma_backend xnnbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "xnnpack",
    .version = xnnbe_version,
    .probe = xnnbe_probe,
    .load = xnnbe_load,
    .convert = NULL,
    .run = xnnbe_run,
    .release = xnnbe_release,
};

const calma_conversion xnnbe_conversions[] = {
    {"XNNPACK", "XNN", 2, "cpu", XNNBE_DESC, &xnnbe_backend, NULL},
    {"XNNPACK_STRICT", "XNN_STRICT", 3, "cpu", XNNBE_STRICT_DESC, &xnnbe_backend, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
