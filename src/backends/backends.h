/* The built-in backends' conversion tables. Each table ends with an entry
 * whose name is NULL. The registry (src/bench/registry.c) joins them. */
#ifndef CALMA_BACKENDS_H
#define CALMA_BACKENDS_H

#include "calma/backend.h"

extern const calma_conversion refbe_conversions[];   /* backends/ref: REFERENCE, the oracle */
extern const calma_conversion ortbe_conversions[];   /* backends/ort: ORT_CPU and variants */
extern const calma_conversion xnnbe_conversions[];   /* backends/xnnpack: XNNPACK */
extern const calma_conversion dnnlbe_conversions[];  /* backends/onednn: ONEDNN, ONEDNN_BF16 */
extern const calma_conversion torchbe_conversions[]; /* backends/torch: TORCH_EAGER, TORCHSCRIPT */

/* backends/absent.c: a backend whose engine was not built in. Its
 * conversions' data is the reason probe and load report (unavailable). */
const char *absent_version(void);
int absent_probe(const calma_conversion *c, calma_error *e);
int absent_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
                void **state, calma_error *e);
int absent_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
               calma_error *e);
void absent_release(void *state);
#define CALMA_ABSENT_BACKEND(engine)                                                               \
    {                                                                                              \
        .abi = CALMA_BACKEND_ABI, .name = (engine), .version = absent_version,                     \
        .probe = absent_probe, .load = absent_load, .convert = NULL, .run = absent_run,            \
        .release = absent_release                                                                  \
    }

#endif
