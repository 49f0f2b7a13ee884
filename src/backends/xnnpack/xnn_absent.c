/* xnnbe_: stands in for the XNNPACK conversion on a machine built without
 * libxnnpack-dev, so the name stays known and reports why it cannot run. */
#include "backends/backends.h"
#include "backends/xnnpack/xnn_names.h"

static const calma_backend xnnbe_absent = CALMA_ABSENT_BACKEND("xnnpack");

const calma_conversion xnnbe_conversions[] = {
    {"XNNPACK", "XNN", 2, "cpu", XNNBE_DESC, &xnnbe_absent,
     "built without libxnnpack-dev; run scripts/setup.sh"},
    {"XNNPACK_STRICT", "XNN_STRICT", 3, "cpu", XNNBE_STRICT_DESC, &xnnbe_absent,
     "built without libxnnpack-dev; run scripts/setup.sh"},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
