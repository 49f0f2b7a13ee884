/* dnnlbe_: the oneDNN conversions. ONEDNN computes in float32; ONEDNN_BF16
 * runs the same primitives on bfloat16 activations and weights (float32 at
 * the edges, biases and normalization parameters in float32) where the CPU
 * has AVX-512 BF16.
 *
 * Ops: Conv (1-3 spatial axes, groups, depthwise, pads, auto_pad, strides,
 * dilations; a following BatchNormalization folded in; activations and a
 * residual Add fused), MaxPool, AveragePool, GlobalAveragePool/MaxPool,
 * Gemm and MatMul (inner product with constant weights, bias and
 * activations fused; matmul with two computed operands, a scalar scale
 * fused), Relu, LeakyRelu, Clip, Sigmoid, Tanh, Exp, Log, Sqrt, Abs,
 * HardSwish, Softplus, Round, Elu, Neg, the erf GELU pattern, Add, Sub,
 * Mul, Div, Max, Min (broadcast), Pow by a scalar, Softmax, LogSoftmax,
 * LayerNormalization, BatchNormalization, Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity, Dropout, Transpose, Concat; constant shape
 * arithmetic (Shape, Gather, Cast, ...) folded. float32 inputs and outputs.
 *
 * Threads: oneDNN here runs on OpenMP; the trial's thread count is set with
 * omp_set_num_threads before descriptors are made (oneDNN sizes its work
 * split from it) and before each run. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "backends/onednn/onednn_internal.h"
#include "onnx/onnx.h"
#include "transform/xform.h"
#include "util/mem.h"

#define DNNLBE_STR2(x) #x
#define DNNLBE_STR(x) DNNLBE_STR2(x)

static const char *dnnlbe_version(void) {
    return "oneDNN " DNNLBE_STR(DNNL_VERSION_MAJOR) "." DNNLBE_STR(
        DNNL_VERSION_MINOR) "." DNNLBE_STR(DNNL_VERSION_PATCH) " (OpenMP)";
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41:
        return "SSE4.1";
    case dnnl_cpu_isa_avx:
        return "AVX";
    case dnnl_cpu_isa_avx2:
        return "AVX2";
    case dnnl_cpu_isa_avx2_vnni:
        return "AVX2 VNNI";
    case dnnl_cpu_isa_avx512_core:
        return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "AVX-512 VNNI";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "AVX-512 BF16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "AVX-512 with AMX";
    default:
        return "an older or unknown ISA";
    }
}

static int has_isa(dnnl_cpu_isa_t have, dnnl_cpu_isa_t want) {
    return ((unsigned)have & (unsigned)want) == (unsigned)want;
}

static dnnlbe_prec prec_of(const calma_conversion *c) {
    const dnnlbe_settings *st = c ? c->data : NULL;
    return st ? st->prec : DNNLBE_FP32;
}

static int dnnlbe_probe(const calma_conversion *c, calma_error *e) {
    if (dnnl_engine_get_count(dnnl_cpu) < 1)
        return err_set(e, CALMA_E_UNAVAILABLE, "oneDNN reports no CPU engine");
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    dnnlbe_prec p = prec_of(c);
    if (p == DNNLBE_BF16 && !has_isa(isa, dnnl_cpu_isa_avx512_core_bf16))
        return err_set(e, CALMA_E_UNAVAILABLE,
                       "this CPU (as oneDNN sees it: %s) lacks AVX-512 BF16, which oneDNN's "
                       "bfloat16 kernels need to be faster than float32",
                       isa_name(isa));
    if (p == DNNLBE_INT8 && !has_isa(isa, dnnl_cpu_isa_avx512_core_vnni) &&
        !has_isa(isa, dnnl_cpu_isa_avx2_vnni))
        return err_set(e, CALMA_E_UNAVAILABLE,
                       "this CPU (as oneDNN sees it: %s) lacks VNNI (AVX-512 or AVX2), which "
                       "oneDNN's int8 kernels need",
                       isa_name(isa));
    return CALMA_OK;
}

/* "key=N" in the trial's options: 1 with *v set, 0 when absent, -1 when
 * the value is not a whole number. */
static int option_u64(const char *opts, const char *key, uint64_t *v) {
    size_t kl = strlen(key);
    for (const char *p = opts; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            char *stop;
            const char *num = p + kl + 1;
            unsigned long long x = strtoull(num, &stop, 10);
            if (stop != p + len || stop == num || *num == '-') return -1;
            *v = x;
            return 1;
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

/* ONEDNN_INT8's ranges: the INT8+ transform's calibration (the oracle on
 * the calibration batches, at batch 1, from the model as the file gives it),
 * with its options (xform.calibrate, xform.percentile) and
 * calibration=N / seed=S from --options. */
static int calibrate(const calma_model *m, const calma_trial_config *cfg, xform_ranges *r,
                     calma_error *e) {
    xform_opts xo;
    int rc = xform_parse_options(cfg->options, &xo, e);
    if (rc) return rc;
    uint64_t v = 0;
    int has = option_u64(cfg->options, "calibration", &v);
    if (has < 0 || (has && (v < 1 || v > XFORM_CALIB_MAX_BATCHES)))
        return err_set(e, CALMA_E_USAGE, "--options calibration=N: give 1 to %d batches",
                       XFORM_CALIB_MAX_BATCHES);
    if (has) xo.calib.batches = (int)v;
    has = option_u64(cfg->options, "seed", &v);
    if (has < 0) return err_set(e, CALMA_E_USAGE, "--options seed=S: S must be a whole number");
    if (has) xo.calib.seed = v;
    ir_graph *own = NULL;
    const ir_graph *g = m->graph;
    if (m->path) {
        /* the batch dimension still symbolic, as INT8+ calibrates */
        rc = onnx_load(m->path, &own, e);
        if (!rc) rc = ir_graph_sort(own, e);
        if (rc) {
            ir_graph_free(own);
            return err_prefix(e, "calibration");
        }
        g = own;
    }
    rc = xform_calibrate(g, NULL, 0, &xo.calib, r, e);
    ir_graph_free(own);
    return rc;
}

static void dnnlbe_release(void *p) {
    dnnlbe_state *s = p;
    if (!s) return;
    dnnlbe_state_clear(s);
    free(s);
}

static int dnnlbe_load(const calma_conversion *c, const calma_model *m,
                       const calma_trial_config *cfg, void **state, calma_error *e) {
    *state = NULL;
    if (!m || !cfg) return err_set(e, CALMA_E_INTERNAL, "oneDNN load without a model or config");
    int rc = dnnlbe_probe(c, e);
    if (rc) return rc;
    dnnlbe_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    s->prec = prec_of(c);
    s->threads = cfg->threads > 0 ? cfg->threads : omp_get_num_procs();
    s->scratch_buf = -1;
    /* oneDNN splits work by the thread count it sees when a descriptor is made. */
    omp_set_num_threads(s->threads);
    dnnl_status_t st = dnnl_engine_create(&s->engine, dnnl_cpu, 0);
    if (st != dnnl_success) {
        s->engine = NULL;
        rc = err_set(e, CALMA_E_UNAVAILABLE, "oneDNN CPU engine: %s", dnnlbe_status_name(st));
    }
    if (!rc && (dnnl_primitive_attr_create(&s->attr) != dnnl_success ||
                dnnl_primitive_attr_set_scratchpad_mode(s->attr, dnnl_scratchpad_mode_user) !=
                    dnnl_success))
        rc = err_set(e, CALMA_E_NOMEM, "oneDNN attributes could not be made");
    xform_ranges ranges = {0};
    if (!rc && s->prec == DNNLBE_INT8) rc = calibrate(m, cfg, &ranges, e);
    if (!rc) rc = dnnlbe_build(s, m, s->prec == DNNLBE_INT8 ? &ranges : NULL, e);
    xform_ranges_free(&ranges);
    if (rc) {
        dnnlbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

static int dnnlbe_convert(void *p, calma_error *e) {
    dnnlbe_state *s = p;
    if (s->converted) return CALMA_OK;
    omp_set_num_threads(s->threads);
    int rc = dnnlbe_materialize(s, e);
    if (!rc) s->converted = 1;
    return rc;
}

/* Points every memory over a user buffer at the caller's data. */
static void point_at(dnnlbe_state *s, int mem, void *data) {
    int b = s->mems[mem].buf;
    if (s->bufs[b].data == data) return;
    s->bufs[b].data = data;
    for (int i = 0; i < s->n_mems; i++)
        if (s->mems[i].buf == b) dnnl_memory_set_data_handle(s->mems[i].mem, data);
}

static int check_tensor(const dnnlbe_io *io, const calma_tensor *t, const char *what,
                        calma_error *e) {
    if (!t->data || t->dtype != CALMA_DT_FLOAT || t->nbytes != io->bytes)
        return err_set(e, CALMA_E_INVALID,
                       "%s '%s': expected %zu bytes of float32, got %zu bytes of %s%s", what,
                       io->name, io->bytes, t->nbytes, ir_dtype_name(t->dtype),
                       t->data ? "" : " (no buffer)");
    return CALMA_OK;
}

static int dnnlbe_run(void *p, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                      int n_out, calma_error *e) {
    dnnlbe_state *s = p;
    if (n_in != s->n_in || n_out != s->n_out)
        return err_set(e, CALMA_E_INTERNAL, "expected %d inputs and %d outputs, got %d and %d",
                       s->n_in, s->n_out, n_in, n_out);
    int rc = s->converted ? CALMA_OK : dnnlbe_convert(s, e);
    if (rc) return rc;
    for (int i = 0; i < n_in; i++) {
        if ((rc = check_tensor(&s->in[i], &inputs[i], "input", e))) return rc;
        point_at(s, s->in[i].mem, inputs[i].data);
    }
    for (int k = 0; k < n_out; k++) {
        if ((rc = check_tensor(&s->out[k], &outputs[k], "output", e))) return rc;
        point_at(s, s->out[k].mem, outputs[k].data);
    }
    omp_set_num_threads(s->threads);
    for (int i = 0; i < s->n_steps; i++) {
        dnnlbe_step *st = &s->steps[i];
        dnnl_status_t r = dnnl_primitive_execute(st->prim, s->stream, st->n_args, st->exec);
        if (r != dnnl_success)
            return err_set(e, CALMA_E_INTERNAL, "oneDNN step %d (node %d) failed: %s", i, st->node,
                           dnnlbe_status_name(r));
    }
    dnnl_status_t r = dnnl_stream_wait(s->stream);
    if (r != dnnl_success)
        return err_set(e, CALMA_E_INTERNAL, "oneDNN stream wait failed: %s", dnnlbe_status_name(r));
    return CALMA_OK;
}

void dnnlbe_state_clear(dnnlbe_state *s) {
    for (int i = 0; i < s->n_steps; i++) {
        if (s->steps[i].prim) dnnl_primitive_destroy(s->steps[i].prim);
        if (s->steps[i].pd) dnnl_primitive_desc_destroy(s->steps[i].pd);
    }
    for (int i = 0; i < s->n_mems; i++)
        if (s->mems[i].mem) dnnl_memory_destroy(s->mems[i].mem);
    for (int i = 0; i < s->n_bufs; i++) {
        if (s->bufs[i].kind == DNNLBE_BUF_OWNED) free(s->bufs[i].data);
        free(s->bufs[i].vals);
    }
    for (int i = 0; i < s->n_slots; i++) free(s->slots[i]);
    for (int i = 0; i < s->n_consts; i++) free(s->consts[i].owned);
    dnnlbe_free_folded(s);
    for (int i = 0; i < s->n_in && s->in; i++) free(s->in[i].name);
    for (int k = 0; k < s->n_out && s->out; k++) free(s->out[k].name);
    free(s->steps);
    free(s->mems);
    free(s->bufs);
    free(s->slots);
    free(s->consts);
    free(s->in);
    free(s->out);
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->attr) dnnl_primitive_attr_destroy(s->attr);
    if (s->engine) dnnl_engine_destroy(s->engine);
    memset(s, 0, sizeof *s);
}

static const calma_backend dnnlbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "onednn",
    .version = dnnlbe_version,
    .probe = dnnlbe_probe,
    .load = dnnlbe_load,
    .convert = dnnlbe_convert,
    .run = dnnlbe_run,
    .release = dnnlbe_release,
};

static const dnnlbe_settings fp32 = {DNNLBE_FP32}, bf16 = {DNNLBE_BF16}, int8 = {DNNLBE_INT8};

const calma_conversion dnnlbe_conversions[] = {
    {"ONEDNN", "DNNL,MKLDNN,ONEDNN_FP32", 2, "cpu",
     "Intel's oneDNN: the graph as oneDNN primitives in float32, blocked layouts chosen by "
     "oneDNN, BatchNormalization folded, activations and residual adds fused",
     &dnnlbe_backend, &fp32},
    {"ONEDNN_BF16", "DNNL_BF16", 2, "cpu",
     "oneDNN with bfloat16 weights and activations (float32 at the edges); needs AVX-512 BF16",
     &dnnlbe_backend, &bf16},
    {"ONEDNN_INT8", "DNNL_INT8", 2, "cpu",
     "oneDNN with int8 convolutions and inner products (uint8/int8 activations, per-channel "
     "int8 weights) calibrated as INT8+ is, float32 elsewhere; needs VNNI",
     &dnnlbe_backend, &int8},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
