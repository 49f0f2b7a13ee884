/* ortbe_: ONNX Runtime conversions. The library is opened with dlopen at run
 * time, so calma builds and runs without it; the ORT conversions are then
 * "unavailable" with the path tried and the command that installs it. */
#include <stddef.h>

#include "backends/backends.h"
#include "backends/ort/ort_internal.h"
#include "util/err.h"

static const char *ortbe_version(void) {
    calma_error e;
    void *lib = ortbe_lib_open(&e);
    return lib ? ortbe_lib_version(lib) : NULL;
}

#ifdef CALMA_HAVE_ORT_HEADERS

static int ortbe_probe(const calma_conversion *c, calma_error *e) {
    void *lib = ortbe_lib_open(e);
    if (!lib) return CALMA_E_UNAVAILABLE;
    return ortbe_probe_api(c->data, lib, e);
}

#else /* built without onnxruntime_c_api.h: every entry says why */

static int ortbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    return err_set(e, CALMA_E_UNAVAILABLE, ORTBE_NO_HEADER_MSG);
}

int ortbe_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
               void **state, calma_error *e) {
    (void)c;
    (void)m;
    (void)cfg;
    *state = NULL;
    return err_set(e, CALMA_E_UNAVAILABLE, ORTBE_NO_HEADER_MSG);
}

int ortbe_convert(void *state, calma_error *e) {
    (void)state;
    return err_set(e, CALMA_E_UNAVAILABLE, ORTBE_NO_HEADER_MSG);
}

int ortbe_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
              calma_error *e) {
    (void)state;
    (void)inputs;
    (void)n_in;
    (void)outputs;
    (void)n_out;
    return err_set(e, CALMA_E_UNAVAILABLE, ORTBE_NO_HEADER_MSG);
}

void ortbe_release(void *state) {
    (void)state;
}

#endif

#ifdef CALMA_SANITIZE
/* ONNX Runtime's pool threads keep per-thread objects it never frees; they
 * are not calma's leaks, and LeakSanitizer's report would turn every ASan
 * worker that ran ORT into a failure. Read by LeakSanitizer at start-up. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libonnxruntime.so\n";
}
#endif

static const calma_backend ortbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "onnxruntime",
    .version = ortbe_version,
    .probe = ortbe_probe,
    .load = ortbe_load,
    .convert = ortbe_convert,
    .run = ortbe_run,
    .release = ortbe_release,
    .flags = CALMA_BACKEND_READS_ONNX,
};

static const ortbe_settings ortbe_all = {ORTBE_OPT_ALL, 0};
static const ortbe_settings ortbe_extended = {ORTBE_OPT_EXTENDED, 0};
static const ortbe_settings ortbe_basic = {ORTBE_OPT_BASIC, 0};
static const ortbe_settings ortbe_noopt = {ORTBE_OPT_NONE, 0};
static const ortbe_settings ortbe_cuda = {ORTBE_OPT_ALL, 1};

const calma_conversion ortbe_conversions[] = {
    {"ORT_CPU", "ONNX_CPU,ONNX", 1, "cpu",
     "ONNX Runtime, CPU execution provider, all graph optimizations", &ortbe_backend, &ortbe_all},
    {"ORT_CUDA", "ONNX_CUDA,ONNX_GPU", 2, "cuda",
     "ONNX Runtime, CUDA execution provider, all graph optimizations", &ortbe_backend, &ortbe_cuda},
    {"ORT_CPU_EXTENDED", NULL, 3, "cpu",
     "ONNX Runtime, CPU execution provider, extended graph optimizations (no layout changes)",
     &ortbe_backend, &ortbe_extended},
    {"ORT_CPU_BASIC", NULL, 3, "cpu",
     "ONNX Runtime, CPU execution provider, basic graph optimizations (constant folding, "
     "redundant nodes)",
     &ortbe_backend, &ortbe_basic},
    {"ORT_CPU_NOOPT", NULL, 3, "cpu",
     "ONNX Runtime, CPU execution provider, graph optimizations off", &ortbe_backend, &ortbe_noopt},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
