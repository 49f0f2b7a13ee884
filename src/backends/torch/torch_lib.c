/* Finding and opening calma_torch.so, the C++ side that links libtorch.
 * Only a worker that runs a PyTorch conversion (and `calma list`, which
 * probes) loads it: libtorch takes about 0.6 s and 150 MB to load. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "backends/dl_lib.h"
#include "backends/torch/torch_internal.h"
#include "util/err.h"

#ifndef CALMA_TORCH_BUILD_LIBRARY /* where this build tree put it; "" when not built */
#define CALMA_TORCH_BUILD_LIBRARY ""
#endif

static int torchbe_built(void) {
    return CALMA_TORCH_BUILD_LIBRARY[0] != '\0';
}

static const torchbe_api *entry_of(void *h, const char *path, calma_error *e) {
    torchbe_entry_fn entry;
    void *sym = dlsym(h, TORCHBE_ENTRY);
    if (!sym) {
        err_set(e, CALMA_E_UNAVAILABLE, "%s exports no %s: not calma's libtorch library", path,
                TORCHBE_ENTRY);
        return NULL;
    }
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer, as POSIX allows */
    const torchbe_api *api = entry(TORCHBE_ABI);
    if (!api || api->abi != TORCHBE_ABI)
        err_set(e, CALMA_E_UNAVAILABLE, "%s was built for another calma (ABI %d); rebuild calma",
                path, api ? api->abi : -1);
    return api && api->abi == TORCHBE_ABI ? api : NULL;
}

const torchbe_api *torchbe_lib_open(calma_error *e) {
    char paths[3][4096] = {"", "", CALMA_TORCH_BUILD_LIBRARY};
    dllib_exe_path("lib/" TORCHBE_LIB_NAME, paths[0], sizeof paths[0]);
    dllib_exe_path("../lib/" TORCHBE_LIB_NAME, paths[1], sizeof paths[1]);
    const char *list[3] = {paths[0], paths[1], paths[2]};
    dllib_tried tried = {"", 0};
    int from_env;
    /* libgomp (libtorch's thread pool) reads its wait policy once, when
     * libtorch loads it. Its default spins, and two spinning threads on a
     * busy machine ran mobilenet_v2 100x slower here; calma runs ORT without
     * spinning too. A policy the user exported is kept. */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    /* Without a build of it, the usual places hold nothing worth trying. */
    void *h = dllib_open(TORCHBE_ENV_LIBRARY, list, torchbe_built() ? 3 : 0, &tried, &from_env);
    if (h) {
        return entry_of(h, from_env ? getenv(TORCHBE_ENV_LIBRARY) : TORCHBE_LIB_NAME, e);
    }
    if (from_env)
        err_set(e, CALMA_E_UNAVAILABLE,
                "%s=%s could not be opened: %s; point it at calma's %s or "
                "unset it",
                TORCHBE_ENV_LIBRARY, getenv(TORCHBE_ENV_LIBRARY), tried.text, TORCHBE_LIB_NAME);
    else if (!torchbe_built())
        err_set(e, CALMA_E_UNAVAILABLE,
                "calma was built without libtorch (no torch/script.h or libtorch found): %s",
                TORCHBE_INSTALL_HINT);
    else
        err_set(e, CALMA_E_UNAVAILABLE, "libtorch cannot be loaded: tried %s; %s (or set %s)",
                tried.used ? tried.text : "no path", TORCHBE_INSTALL_HINT, TORCHBE_ENV_LIBRARY);
    return NULL;
}
