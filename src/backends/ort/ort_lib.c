/* Finding and opening libonnxruntime at run time, so calma builds and runs
 * on machines without it. Needs no ORT header: OrtApiBase's layout (two
 * function pointers) is a stable ABI fact. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/dl_lib.h"
#include "backends/ort/ort_internal.h"
#include "util/err.h"

#ifndef CALMA_ORT_DEPS_LIBRARY
#define CALMA_ORT_DEPS_LIBRARY ""
#endif

typedef struct ortbe_api_base {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} ortbe_api_base;
typedef const ortbe_api_base *(*ortbe_get_api_base_fn)(void);

#define ORTBE_DEPS_REL "deps/onnxruntime/lib/" ORTBE_LIB_NAME

void *ortbe_lib_open(calma_error *e) {
    char paths[3][4096] = {CALMA_ORT_DEPS_LIBRARY, "", ""};
    dllib_exe_path("../" ORTBE_DEPS_REL, paths[1], sizeof paths[1]);
    dllib_exe_path("../../" ORTBE_DEPS_REL, paths[2], sizeof paths[2]);
    const char *list[3] = {paths[0], paths[1], paths[2]};
    dllib_tried tried = {"", 0};
    int from_env;
    void *h = dllib_open(ORTBE_ENV_LIBRARY, list, 3, &tried, &from_env);
    if (h) return h;
    if (from_env)
        err_set(e, CALMA_E_UNAVAILABLE,
                "ONNX Runtime library from %s=%s could not be opened: %s; point it at a "
                "libonnxruntime.so or unset it and %s",
                ORTBE_ENV_LIBRARY, getenv(ORTBE_ENV_LIBRARY), tried.text, ORTBE_INSTALL_HINT);
    else
        err_set(e, CALMA_E_UNAVAILABLE, "ONNX Runtime library not found: tried %s; %s (or set %s)",
                tried.used ? tried.text : "no path", ORTBE_INSTALL_HINT, ORTBE_ENV_LIBRARY);
    return NULL;
}

const char *ortbe_lib_version(void *handle) {
    if (!handle) return NULL;
    ortbe_get_api_base_fn get;
    void *sym = dlsym(handle, "OrtGetApiBase");
    if (!sym) return NULL;
    /* POSIX guarantees object and function pointers convert through dlsym. */
    memcpy(&get, &sym, sizeof get);
    const ortbe_api_base *base = get();
    return base && base->GetVersionString ? base->GetVersionString() : NULL;
}

int ortbe_lib_dir(void *handle, char *buf, size_t n) {
    void *sym = handle ? dlsym(handle, "OrtGetApiBase") : NULL;
    Dl_info info;
    if (!sym || !dladdr(sym, &info) || !info.dli_fname) return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    size_t len = slash ? (size_t)(slash - info.dli_fname) : 1;
    if (len + 1 > n) return -1;
    if (slash)
        memcpy(buf, info.dli_fname, len);
    else
        buf[0] = '.';
    buf[len] = '\0';
    return 0;
}

int ortbe_gpu_present(char *why, size_t n) {
    struct stat st;
    if (stat("/dev/nvidia0", &st) == 0 || stat("/proc/driver/nvidia/gpus", &st) == 0) return 1;
    snprintf(why, n, "no NVIDIA GPU here (/dev/nvidia0 is absent)");
    return 0;
}
