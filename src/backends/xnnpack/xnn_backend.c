/* xnnbe_: the XNNPACK conversions. load plans the graph into XNNPACK
 * islands and host steps (xnn_part.c); convert creates each island's
 * runtime for the trial's threads; run copies the inputs in (changing
 * layout where the first island wants NHWC), runs the steps in order and
 * copies the outputs out.
 *
 * XNNPACK takes every island op it can express: Conv (groups, depthwise,
 * pads, auto_pad, strides, dilations; a following BatchNormalization
 * folded in), ConvTranspose, MaxPool, AveragePool, GlobalAveragePool /
 * MaxPool, ReduceMean over H,W, bilinear Resize, Gemm and MatMul with
 * constant weights (a MatMul's bias Add folded in), Add/Sub/Mul/Div/Max/
 * Min/Sum with broadcasting, Relu and Clip (fused into the producer's
 * output clamp), Sigmoid, HardSwish, HardSigmoid, LeakyRelu, Elu, PRelu,
 * Abs, Neg, Floor, Ceil, Sqrt, BatchNormalization, Softmax (last axis),
 * Reshape, Flatten, Squeeze, Unsqueeze, Pad (constant), Identity, Dropout,
 * and (XNNPACK_STRICT only: calma's kernel does it in one pass) Concat as
 * zero pads and adds.
 * calma's kernels take the rest (xnn_host_*.c). Constants, and values
 * computed from constants only, are folded at load. float32 only.
 *
 * Threads: each XNNPACK operator ends only when every pthreadpool worker
 * has checked in (the caller spin-waits first), so on an oversubscribed
 * machine one descheduled worker stalls every operator and a multi-threaded
 * trial slows far more than ONNX Runtime's; calma's noise warnings say when
 * the machine was busy. calma's kernels use the same pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backends.h"
#include "backends/xnnpack/xnn_names.h"
#include "backends/xnnpack/xnn_internal.h"
#include "backends/xnnpack/xnn_kernels.h"

#ifndef CALMA_XNNPACK_VERSION
#define CALMA_XNNPACK_VERSION "unknown snapshot"
#endif

/* The data of XNNPACK_STRICT's table entry: its address is the flag. */
static const int xnnbe_strict_flag = 1;

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
    s->strict = c && c->data == &xnnbe_strict_flag;
    s->profile = cfg->profile;
    rc = xnnbe_build(s, m, e);
    if (rc) {
        xnnbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

static int xnnbe_convert(void *p, calma_error *e) {
    xnnbe_state *s = p;
    if (s->converted) return CALMA_OK;
    /* One thread runs on the caller's thread: no pool to wake. threads <= 0
     * lets pthreadpool take one per core. */
    if (s->threads != 1 && !s->pool) {
        s->pool = pthreadpool_create(s->threads > 0 ? (size_t)s->threads : 0);
        if (!s->pool) return err_set(e, CALMA_E_NOMEM, "pthreadpool_create(%d) failed", s->threads);
    }
    for (int i = 0; i < s->n_islands; i++) {
        xnnbe_island *is = &s->islands[i];
        enum xnn_status st = xnn_create_runtime_v2(is->subgraph, s->pool, 0, &is->runtime);
        if (st != xnn_status_success) {
            is->runtime = NULL;
            return err_set(e, st == xnn_status_out_of_memory ? CALMA_E_NOMEM : CALMA_E_UNSUPPORTED,
                           "xnn_create_runtime_v2 failed for island %d: %s (xnn_status %d)", i,
                           status_text(st), (int)st);
        }
        /* The runtime no longer needs the subgraph: free it now so the
         * trial's memory figure holds only what inference uses. */
        xnn_delete_subgraph(is->subgraph);
        is->subgraph = NULL;
        st = xnn_setup_runtime(is->runtime, (size_t)is->n_ext, is->ext);
        if (st != xnn_status_success)
            return err_set(e, CALMA_E_INTERNAL,
                           "xnn_setup_runtime failed for island %d: %s (xnn_status %d)", i,
                           status_text(st), (int)st);
    }
    s->converted = 1;
    return CALMA_OK;
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The caller's logical tensor into the input's buffer (NHWC when an
 * island wants it), and a value out into the caller's logical buffer. */
static void copy_view(const xnnbe_view *src, const xnnbe_view *dst, size_t numel) {
    if (xnnbe_view_is_packed(src, NULL) && xnnbe_view_is_packed(dst, NULL)) {
        memcpy(dst->data, src->data, numel * sizeof(float));
    } else if (src->rank == 4 && xnnbe_view_is_packed(src, NULL) && xnnbe_view_is_nhwc(dst)) {
        xnnbe_nchw_to_nhwc(src->data, dst->data, src->dims);
    } else if (dst->rank == 4 && xnnbe_view_is_nhwc(src) && xnnbe_view_is_packed(dst, NULL)) {
        xnnbe_nhwc_to_nchw(src->data, dst->data, src->dims);
    } else {
        xnnbe_copy_args a;
        xnnbe_copy_prepare(&a, src, dst);
        xnnbe_k_copy(&a, NULL);
    }
}

static int run_steps(xnnbe_state *s, calma_error *e) {
    for (int i = 0; i < s->n_steps; i++) {
        const xnnbe_step *st = &s->steps[i];
        double t0 = s->profile ? now_s() : 0;
        if (st->kind == XNNBE_STEP_KERNEL) {
            st->fn(st->args, s->pool);
            if (s->profile) s->prof_outside += now_s() - t0;
            continue;
        }
        enum xnn_status x = xnn_invoke_runtime(s->islands[st->island].runtime);
        if (x != xnn_status_success)
            return err_set(e, CALMA_E_INTERNAL,
                           "xnn_invoke_runtime failed for island %d: %s (xnn_status %d)",
                           st->island, status_text(x), (int)x);
    }
    return CALMA_OK;
}

static int xnnbe_run(void *p, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                     int n_out, calma_error *e) {
    xnnbe_state *s = p;
    if (n_in != s->n_in || n_out != s->n_out)
        return err_set(e, CALMA_E_INTERNAL, "expected %d inputs and %d outputs, got %d and %d",
                       s->n_in, s->n_out, n_in, n_out);
    int rc = s->converted ? CALMA_OK : xnnbe_convert(s, e);
    if (rc) return rc;
    for (int i = 0; i < n_in; i++)
        if ((rc = check_tensor(&s->in[i], &inputs[i], "input", e))) return rc;
    for (int k = 0; k < n_out; k++)
        if ((rc = check_tensor(&s->out[k], &outputs[k], "output", e))) return rc;
    double t0 = s->profile ? now_s() : 0;
    for (int i = 0; i < n_in; i++) {
        /* Always through our buffer: XNNPACK may read XNN_EXTRA_BYTES past
         * an input's end, which the caller's buffer need not have. */
        xnnbe_view src;
        xnnbe_view_packed(&src, inputs[i].data, s->in[i].rank, s->in[i].dims, NULL);
        copy_view(&src, &s->in[i].view, s->in[i].numel);
    }
    double t1 = s->profile ? now_s() : 0;
    if ((rc = run_steps(s, e))) return rc;
    double t2 = s->profile ? now_s() : 0;
    for (int k = 0; k < n_out; k++) {
        xnnbe_io *io = &s->out[k];
        if (io->cst) {
            memcpy(outputs[k].data, io->cst, io->numel * sizeof(float));
            continue;
        }
        xnnbe_view dst;
        xnnbe_view_packed(&dst, outputs[k].data, io->rank, io->dims, NULL);
        copy_view(&io->view, &dst, io->numel);
    }
    if (s->profile) {
        double t3 = now_s();
        s->prof_total += t3 - t0;
        s->prof_outside += (t1 - t0) + (t3 - t2);
        s->prof_runs++;
    }
    return CALMA_OK;
}

/* What the partition made of the model, for the trial record. */
static int xnnbe_info(void *p, calma_fact *f, int max) {
    xnnbe_state *s = p;
    int n = 0;
#define FACT_NUM(k, v)                                                                             \
    do {                                                                                           \
        if (n < max) f[n++] = (calma_fact){.key = (k), .number = (double)(v)};                     \
    } while (0)
    FACT_NUM("nodes_in_engine", s->n_xnn_nodes);
    FACT_NUM("nodes_outside", s->n_host_nodes);
    FACT_NUM("nodes_folded", s->n_folded_nodes);
    FACT_NUM("islands", s->n_islands);
    FACT_NUM("layout_changes", s->n_edge_copies);
    if (s->host_ops[0] && n < max) f[n++] = (calma_fact){.key = "ops_outside", .text = s->host_ops};
    if (s->profile && s->prof_runs > 0 && s->prof_total > 0) {
        FACT_NUM("profiled_runs", s->prof_runs);
        FACT_NUM("outside_share", s->prof_outside / s->prof_total);
        FACT_NUM("outside_s_per_run", s->prof_outside / (double)s->prof_runs);
    }
#undef FACT_NUM
    return n;
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
    .info = xnnbe_info,
};

const calma_conversion xnnbe_conversions[] = {
    {"XNNPACK", "XNN", 2, "cpu", XNNBE_DESC, &xnnbe_backend, NULL},
    {"XNNPACK_STRICT", "XNN_STRICT", 3, "cpu", XNNBE_STRICT_DESC, &xnnbe_backend,
     &xnnbe_strict_flag},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
