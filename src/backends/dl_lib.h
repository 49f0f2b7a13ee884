/* dllib_: opening an engine's shared library at run time, for the backends
 * that dlopen theirs (ONNX Runtime, libtorch) so that calma builds and runs
 * without them. The paths tried and why each failed are collected for the
 * "unavailable" message. */
#ifndef CALMA_BACKENDS_DL_LIB_H
#define CALMA_BACKENDS_DL_LIB_H

#include <stddef.h>

typedef struct dllib_tried {
    char text[768]; /* "path (why), path (why)" */
    size_t used;
} dllib_tried;

/* "<folder of the running executable>/<rel>" into buf; 0, or -1 when it
 * cannot be found or does not fit. */
int dllib_exe_path(const char *rel, char *buf, size_t n);

/* dlopen(path, RTLD_NOW | RTLD_LOCAL); on failure NULL, with "path (why)"
 * appended to t (why: "not found" or the loader's message). */
void *dllib_try(const char *path, dllib_tried *t);

/* The library named by environment variable env when that is set (an
 * explicit choice never falls back to another), else the first of paths
 * that opens (each tried once). NULL when none opens; *from_env says which
 * of the two failed, for the message. */
void *dllib_open(const char *env, const char *const *paths, int n, dllib_tried *t, int *from_env);

#endif
