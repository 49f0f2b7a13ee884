/* ortbe_: the ONNX Runtime backend's internals, shared by its files.
 *
 * ort_lib.c      finds and dlopens libonnxruntime (no ORT header needed)
 * ort_options.c  parses the trial's options string
 * ort_session.c  load / convert / run / release (compiled only with the header)
 * ort_backend.c  the conversion table, probe and version */
#ifndef CALMA_BACKENDS_ORT_INTERNAL_H
#define CALMA_BACKENDS_ORT_INTERNAL_H

#include <stddef.h>

#include "calma/backend.h"

#define ORTBE_ENV_LIBRARY "CALMA_ORT_LIBRARY"
#define ORTBE_LIB_NAME "libonnxruntime.so.1"
#define ORTBE_INSTALL_HINT "run scripts/setup.sh (or scripts/fetch-ort.sh) to fetch it"
#define ORTBE_NO_HEADER_MSG "calma was built without the ONNX Runtime headers; run scripts/setup.sh"

/* Graph optimization levels, numbered as ORT's GraphOptimizationLevel. */
typedef enum ortbe_opt_level {
    ORTBE_OPT_NONE = 0,
    ORTBE_OPT_BASIC = 1,
    ORTBE_OPT_EXTENDED = 2,
    ORTBE_OPT_ALL = 99
} ortbe_opt_level;

/* What a conversion's data points to. */
typedef struct ortbe_settings {
    ortbe_opt_level opt;
    int cuda; /* run on the CUDA execution provider */
} ortbe_settings;

/* Settings from the trial's options string. */
typedef struct ortbe_options {
    int spin;      /* allow ORT's thread pools to spin-wait (off by default) */
    int log_level; /* ORT's OrtLoggingLevel: 0 verbose .. 3 error (default) */
} ortbe_options;

/* Parses "key=value,..." keeping the keys this backend knows: spin (or
 * ort.spin) = 0|1, ort.log = verbose|info|warning|error. Other keys belong to
 * other backends and are ignored; an unknown "ort." key or a bad value is
 * CALMA_E_USAGE. */
int ortbe_parse_options(const char *s, ortbe_options *o, calma_error *e);

/* dlopens the library: $CALMA_ORT_LIBRARY if set, else the deps folder calma
 * was built with, else <exe dir>/../deps/... and <exe dir>/../../deps/...
 * Returns the handle, or NULL with CALMA_E_UNAVAILABLE naming every path
 * tried and the command that installs the library. The library is never
 * dlclosed: ORT keeps thread-locals and atexit handlers that unloading
 * breaks; a second dlopen of the same path is a cheap reference count. */
void *ortbe_lib_open(calma_error *e);

/* The OrtApiBase's version string of an opened library ("1.30.0"). */
const char *ortbe_lib_version(void *handle);

/* Is a CUDA device visible to this process (the driver's /dev node or
 * /proc entry)? Fills why when not. */
int ortbe_gpu_present(char *why, size_t n);

/* Directory of the opened library (for finding provider libraries beside
 * it) into buf; 0 or -1. */
int ortbe_lib_dir(void *handle, char *buf, size_t n);

/* The session-level entry points (ort_session.c). */
int ortbe_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
               void **state, calma_error *e);
int ortbe_convert(void *state, calma_error *e);
int ortbe_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
              calma_error *e);
void ortbe_release(void *state);
/* Checks what probe needs beyond the library (the API version it serves and,
 * for CUDA, the provider and a device). */
int ortbe_probe_api(const ortbe_settings *s, void *handle, calma_error *e);

#endif
