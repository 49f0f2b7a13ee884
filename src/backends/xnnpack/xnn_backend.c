/* xnnbe_: the XNNPACK conversion. load converts the whole graph into one
 * subgraph (or refuses, naming the op); convert creates the runtime for the
 * trial's batch and threads; run changes layout at the edges and invokes.
 *
 * Ops: Conv (groups, depthwise, pads, auto_pad, strides, dilations; a
 * following BatchNormalization folded in), ConvTranspose, MaxPool,
 * AveragePool, GlobalAveragePool/MaxPool, ReduceMean over H,W, bilinear
 * Resize, Gemm and MatMul with constant weights (a MatMul's bias Add folded
 * in), Add/Sub/Mul/Div/Max/Min/Sum with broadcasting, Relu and Clip (fused
 * into the producer's output clamp), Sigmoid, HardSwish, HardSigmoid,
 * LeakyRelu, Elu, PRelu, Abs, Neg, Floor, Ceil, Sqrt, BatchNormalization,
 * Softmax (last axis; any axis before opset 13), Reshape, Flatten,
 * Squeeze, Unsqueeze, Pad (constant), Concat (as zero pads and adds),
 * Identity, Dropout, and constant folding of Constant, Shape, Gather,
 * Concat and Cast. float32 only.
 *
 * Threads: each XNNPACK operator ends only when every pthreadpool worker
 * has checked in (the caller spin-waits first), so on an oversubscribed
 * machine one descheduled worker stalls every operator and a multi-threaded
 * trial slows far more than ONNX Runtime's; calma's noise warnings say when
 * the machine was busy. */
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "backends/xnnpack/xnn_internal.h"

#ifndef CALMA_XNNPACK_VERSION
#define CALMA_XNNPACK_VERSION "unknown snapshot"
#endif

static const char *xnnbe_version(void) {
    return "XNNPACK " CALMA_XNNPACK_VERSION;
}

static const char *status_text(enum xnn_status st) {
    switch (st) {
    case xnn_status_success:
        return "success";
    case xnn_status_uninitialized:
        return "uninitialized";
    case xnn_status_invalid_parameter:
        return "invalid parameter";
    case xnn_status_invalid_state:
        return "invalid state";
    case xnn_status_unsupported_parameter:
        return "unsupported parameter";
    case xnn_status_unsupported_hardware:
        return "this processor lacks what XNNPACK needs (SSE2 "
               "on x86, NEON on ARM)";
    case xnn_status_out_of_memory:
        return "out of memory";
    default:
        return "unknown status";
    }
}

static int init_engine(calma_error *e) {
    enum xnn_status st = xnn_initialize(NULL);
    if (st != xnn_status_success)
        return err_set(e, CALMA_E_UNAVAILABLE, "xnn_initialize failed: %s (xnn_status %d)",
                       status_text(st), (int)st);
    return CALMA_OK;
}

static int xnnbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    int rc = init_engine(e);
    if (rc) return rc;
    xnn_deinitialize();
    return CALMA_OK;
}

static void xnnbe_release(void *p) {
    xnnbe_state *s = p;
    if (!s) return;
    xnnbe_state_clear(s);
    free(s);
}

static int xnnbe_load(const calma_conversion *c, const calma_model *m,
                      const calma_trial_config *cfg, void **state, calma_error *e) {
    (void)c;
    if (!m || !cfg) return err_set(e, CALMA_E_INTERNAL, "XNNPACK load without a model or config");
    xnnbe_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    int rc = init_engine(e);
    if (rc) {
        free(s);
        return rc;
    }
    s->initialized = 1;
    s->threads = cfg->threads;
    rc = xnnbe_build(s, m, e);
    if (rc) {
        xnnbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

static int setup(xnnbe_state *s, calma_error *e) {
    enum xnn_status st = xnn_setup_runtime(s->runtime, (size_t)(s->n_in + s->n_out), s->ext);
    if (st != xnn_status_success)
        return err_set(e, CALMA_E_INTERNAL, "xnn_setup_runtime failed: %s (xnn_status %d)",
                       status_text(st), (int)st);
    return CALMA_OK;
}

static int xnnbe_convert(void *p, calma_error *e) {
    xnnbe_state *s = p;
    if (s->runtime) return CALMA_OK;
    /* One thread runs on the caller's thread: no pool to wake. threads <= 0
     * lets pthreadpool take one per core. */
    if (s->threads != 1) {
        s->pool = pthreadpool_create(s->threads > 0 ? (size_t)s->threads : 0);
        if (!s->pool) return err_set(e, CALMA_E_NOMEM, "pthreadpool_create(%d) failed", s->threads);
    }
    enum xnn_status st = xnn_create_runtime_v2(s->subgraph, s->pool, 0, &s->runtime);
    if (st != xnn_status_success) {
        s->runtime = NULL;
        return err_set(e, st == xnn_status_out_of_memory ? CALMA_E_NOMEM : CALMA_E_UNSUPPORTED,
                       "xnn_create_runtime_v2 failed: %s (xnn_status %d)", status_text(st),
                       (int)st);
    }
    /* The runtime no longer needs the subgraph: free it now so the
     * trial's memory figure holds only what inference uses. */
    xnn_delete_subgraph(s->subgraph);
    s->subgraph = NULL;
    for (int i = 0; i < s->n_in; i++) {
        s->ext[i].id = s->in[i].id;
        s->ext[i].data = s->in[i].buf;
    }
    for (int k = 0; k < s->n_out; k++) {
        s->ext[s->n_in + k].id = s->out[k].id;
        s->ext[s->n_in + k].data = s->out[k].buf;
    }
    return setup(s, e);
}

static int check_tensor(const xnnbe_io *io, const calma_tensor *t, const char *what,
                        calma_error *e) {
    if (!t->data || t->dtype != CALMA_DT_FLOAT || t->nbytes != io->numel * sizeof(float))
        return err_set(e, CALMA_E_INVALID,
                       "%s '%s': expected %zu bytes of float32, got %zu bytes of %s%s", what,
                       io->name, io->numel * sizeof(float), t->nbytes, ir_dtype_name(t->dtype),
                       t->data ? "" : " (no buffer)");
    return CALMA_OK;
}

static int xnnbe_run(void *p, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                     int n_out, calma_error *e) {
    xnnbe_state *s = p;
    if (n_in != s->n_in || n_out != s->n_out)
        return err_set(e, CALMA_E_INTERNAL, "expected %d inputs and %d outputs, got %d and %d",
                       s->n_in, s->n_out, n_in, n_out);
    int rc = s->runtime ? CALMA_OK : xnnbe_convert(s, e);
    if (rc) return rc;
    for (int i = 0; i < n_in; i++) {
        xnnbe_io *io = &s->in[i];
        if ((rc = check_tensor(io, &inputs[i], "input", e))) return rc;
        /* Always through our buffer: XNNPACK may read XNN_EXTRA_BYTES past
         * an input's end, which the caller's buffer need not have. */
        if (io->nhwc)
            xnnbe_nchw_to_nhwc(inputs[i].data, io->buf, io->dims);
        else
            memcpy(io->buf, inputs[i].data, io->numel * sizeof(float));
    }
    int changed = 0;
    for (int k = 0; k < n_out; k++) {
        xnnbe_io *io = &s->out[k];
        if ((rc = check_tensor(io, &outputs[k], "output", e))) return rc;
        void *want = io->nhwc ? (void *)io->buf : outputs[k].data;
        if (s->ext[s->n_in + k].data != want) {
            s->ext[s->n_in + k].data = want;
            changed = 1;
        }
    }
    if (changed && (rc = setup(s, e))) return rc;
    enum xnn_status st = xnn_invoke_runtime(s->runtime);
    if (st != xnn_status_success)
        return err_set(e, CALMA_E_INTERNAL, "xnn_invoke_runtime failed: %s (xnn_status %d)",
                       status_text(st), (int)st);
    for (int k = 0; k < n_out; k++)
        if (s->out[k].nhwc) xnnbe_nhwc_to_nchw(s->out[k].buf, outputs[k].data, s->out[k].dims);
    return CALMA_OK;
}

static const calma_backend xnnbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "xnnpack",
    .version = xnnbe_version,
    .probe = xnnbe_probe,
    .load = xnnbe_load,
    .convert = xnnbe_convert,
    .run = xnnbe_run,
    .release = xnnbe_release,
};

const calma_conversion xnnbe_conversions[] = {
    {"XNNPACK", "XNN", 2, "cpu",
     "Google's XNNPACK (the CPU engine behind TensorFlow Lite): the whole model as one NHWC "
     "subgraph, BatchNormalization folded, activations fused",
     &xnnbe_backend, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
