/* The built-in backends' conversion tables. Each table ends with an entry
 * whose name is NULL. The registry (src/bench/registry.c) joins them. */
#ifndef CALMA_BACKENDS_H
#define CALMA_BACKENDS_H

#include "calma/backend.h"

extern const calma_conversion refbe_conversions[];   /* backends/ref: REFERENCE, the oracle */
extern const calma_conversion ortbe_conversions[];   /* backends/ort: ORT_CPU and variants */
extern const calma_conversion xnnbe_conversions[];   /* backends/xnnpack: XNNPACK */
extern const calma_conversion torchbe_conversions[]; /* backends/torch: TORCH_EAGER, TORCHSCRIPT */

#endif
