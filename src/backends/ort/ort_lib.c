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

/* <exe dir>/<up>deps/onnxruntime/lib/libonnxruntime.so.1 into buf. */
static int exe_relative(const char *up, char *buf, size_t n) {
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    int w = snprintf(buf, n, "%s/%sdeps/onnxruntime/lib/" ORTBE_LIB_NAME, exe, up);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static void *try_open(const char *path, char *tried, size_t n, size_t *used) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    struct stat st;
    const char *why = stat(path, &st) ? "not found" : dlerror();
    int w = snprintf(tried + *used, n - *used, "%s%s (%s)", *used ? ", " : "", path,
                     why ? why : "cannot be loaded");
    if (w > 0) *used = (size_t)w + *used < n ? *used + (size_t)w : n - 1;
    return NULL;
}

void *ortbe_lib_open(calma_error *e) {
    char tried[768] = "";
    size_t used = 0;
    const char *env = getenv(ORTBE_ENV_LIBRARY);
    if (env && *env) {
        /* An explicit choice never falls back to another library. */
        void *h = try_open(env, tried, sizeof tried, &used);
        if (h) return h;
        err_set(e, CALMA_E_UNAVAILABLE,
                "ONNX Runtime library from %s=%s could not be opened: %s; point it at a "
                "libonnxruntime.so or unset it and %s",
                ORTBE_ENV_LIBRARY, env, tried, ORTBE_INSTALL_HINT);
        return NULL;
    }
    char paths[3][4096];
    int np = 0;
    if (CALMA_ORT_DEPS_LIBRARY[0])
        snprintf(paths[np++], sizeof paths[0], "%s", CALMA_ORT_DEPS_LIBRARY);
    if (exe_relative("../", paths[np], sizeof paths[0]) == 0) np++;
    if (exe_relative("../../", paths[np], sizeof paths[0]) == 0) np++;
    for (int i = 0; i < np; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= !strcmp(paths[i], paths[j]);
        if (dup) continue;
        void *h = try_open(paths[i], tried, sizeof tried, &used);
        if (h) return h;
    }
    err_set(e, CALMA_E_UNAVAILABLE, "ONNX Runtime library not found: tried %s; %s (or set %s)",
            used ? tried : "no path", ORTBE_INSTALL_HINT, ORTBE_ENV_LIBRARY);
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
