/* torchbe_: the PyTorch conversions on libtorch. TORCH_EAGER runs calma's
 * parsed ONNX graph one ATen call per node; TORCHSCRIPT and
 * TORCHSCRIPT_FROZEN run the model's own TorchScript file (MODEL.pt beside
 * MODEL.onnx, or calma bench --torchscript FILE.pt) with torch::jit. The
 * libtorch code lives in calma_torch.so, opened at probe and load time, so
 * calma builds and runs without libtorch and these conversions are then
 * "unavailable" with the install command. */
#include <stdlib.h>
#include <unistd.h>

#include "backends/backends.h"
#include "backends/torch/torch_internal.h"
#include "util/err.h"

typedef enum torchbe_mode { TORCHBE_EAGER, TORCHBE_SCRIPT, TORCHBE_FROZEN } torchbe_mode;

typedef struct torchbe_settings {
    torchbe_mode mode;
} torchbe_settings;

typedef struct torchbe_state {
    const torchbe_api *api;
    torchbe_mode mode;
    torchbe_lowered *low; /* TORCH_EAGER: the program the C++ side runs */
    void *h;              /* the C++ side's handle */
} torchbe_state;

#define TORCHBE_NO_SCRIPT                                                                          \
    "no TorchScript file for this model: give calma bench --torchscript FILE.pt, or put MODEL.pt " \
    "beside MODEL.onnx. Make one from the PyTorch model in Python: "                               \
    "torch.jit.trace(model.eval(), example_input).save(\"MODEL.pt\")"

static const char *torchbe_version(void) {
    calma_error e;
    const torchbe_api *api = torchbe_lib_open(&e);
    return api ? api->version() : NULL;
}

static int torchbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    return torchbe_lib_open(e) ? CALMA_OK : CALMA_E_UNAVAILABLE;
}

static void torchbe_release(void *p) {
    torchbe_state *s = p;
    if (!s) return;
    if (s->h) {
        if (s->mode == TORCHBE_EAGER)
            s->api->eager_free(s->h);
        else
            s->api->script_free(s->h);
    }
    torchbe_lowered_free(s->low);
    free(s);
}

static int load_script(torchbe_state *s, const calma_model *m, const calma_trial_config *cfg,
                       calma_error *e) {
    if (!m->torchscript || !m->torchscript[0])
        return err_set(e, CALMA_E_UNAVAILABLE, TORCHBE_NO_SCRIPT);
    if (access(m->torchscript, R_OK) != 0)
        return err_set(e, CALMA_E_IO, "TorchScript file %s cannot be read", m->torchscript);
    return s->api->script_load(m->torchscript, m, cfg->threads, &s->h, e);
}

static int torchbe_load(const calma_conversion *c, const calma_model *m,
                        const calma_trial_config *cfg, void **state, calma_error *e) {
    *state = NULL;
    const torchbe_api *api = torchbe_lib_open(e);
    if (!api) return CALMA_E_UNAVAILABLE;
    torchbe_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    s->api = api;
    s->mode = ((const torchbe_settings *)c->data)->mode;
    int rc;
    if (s->mode == TORCHBE_EAGER) {
        rc = torchbe_lower(m->graph, m, &s->low, e);
        if (!rc) rc = api->eager_create(&s->low->prog, cfg->threads, &s->h, e);
    } else {
        rc = load_script(s, m, cfg, e);
    }
    if (rc) {
        torchbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

static int torchbe_convert(void *p, calma_error *e) {
    torchbe_state *s = p;
    switch (s->mode) {
    case TORCHBE_EAGER:
        return s->api->eager_convert(s->h, e);
    case TORCHBE_FROZEN:
        return s->api->script_freeze(s->h, e);
    default:
        return CALMA_OK; /* TorchScript as saved: the profiling executor optimises as it runs */
    }
}

static int torchbe_run(void *p, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                       calma_error *e) {
    torchbe_state *s = p;
    if (s->mode == TORCHBE_EAGER) return s->api->eager_run(s->h, in, n_in, out, n_out, e);
    return s->api->script_run(s->h, in, n_in, out, n_out, e);
}

/* What calma --verbose shows under the table: for TORCH_EAGER how many
 * nodes became ATen calls and how many were folded at load. */
static int torchbe_info(void *p, calma_fact *f, int max) {
    torchbe_state *s = p;
    int n = 0;
    if (s->low && n + 2 <= max) {
        const torchbe_lowered *l = s->low;
        f[n++] = (calma_fact){.key = "aten_steps", .number = l->prog.n_steps};
        f[n++] = (calma_fact){.key = "nodes_folded", .number = l->n_nodes - l->prog.n_steps};
    }
    if (s->mode != TORCHBE_EAGER && n < max)
        f[n++] = (calma_fact){.key = "frozen", .number = s->mode == TORCHBE_FROZEN};
    return n;
}

#ifdef CALMA_SANITIZE
/* LeakSanitizer's stop-the-world pass reads the dynamic TLS that ASan
 * records from __tls_get_addr; with libtorch's thread-locals in an OpenMP
 * worker thread (any trial on two threads) GCC 12's runtime records a bogus
 * range there and the leak check dies with "Tracer caught signal 11",
 * turning every such worker into a crash. Not recording dynamic TLS avoids
 * it: calma itself keeps nothing in thread-locals, and with it off
 * libtorch's workers report no leaks. Read by ASan at start-up; ASAN_OPTIONS
 * still overrides it. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "intercept_tls_get_addr=0";
}
#endif

static const calma_backend torchbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "libtorch",
    .version = torchbe_version,
    .probe = torchbe_probe,
    .load = torchbe_load,
    .convert = torchbe_convert,
    .run = torchbe_run,
    .release = torchbe_release,
    .info = torchbe_info,
};

static const torchbe_settings torchbe_eager = {TORCHBE_EAGER};
static const torchbe_settings torchbe_script = {TORCHBE_SCRIPT};
static const torchbe_settings torchbe_frozen = {TORCHBE_FROZEN};

const calma_conversion torchbe_conversions[] = {
    {"TORCH_EAGER", "EAGER,LIBTORCH,TORCH", 2, "cpu",
     "PyTorch eager on libtorch: the ONNX graph one ATen call per node (NCHW, PyTorch's kernels "
     "and threads)",
     &torchbe_backend, &torchbe_eager},
    {"TORCHSCRIPT", "JIT_TRACE,TORCH_SCRIPT,JIT_SCRIPT", 2, "cpu",
     "the model's TorchScript file (MODEL.pt or --torchscript) on torch::jit, inference mode",
     &torchbe_backend, &torchbe_script},
    {"TORCHSCRIPT_FROZEN", NULL, 2, "cpu",
     "the TorchScript file after torch::jit::freeze and optimize_for_inference (conv-bn "
     "folding, oneDNN layouts)",
     &torchbe_backend, &torchbe_frozen},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
