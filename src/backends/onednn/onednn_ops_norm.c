/* Softmax and LogSoftmax (oneDNN softmax_v2), LayerNormalization (oneDNN
 * layer normalization over the trailing axes, viewed as 2-D), and a
 * BatchNormalization that could not be folded into a Conv (oneDNN batch
 * normalization with global statistics). */
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

/* The graph output leaves in float32 straight from the primitive. */
static dnnl_data_type_t out_type(const dnnlbe_ctx *c, int v, dnnl_data_type_t dt) {
    return dnnlbe_is_output(c, v) ? dnnl_f32 : dt;
}

/* x's plain memory viewed as [outer, inner] split before axis. */
static int as_2d(dnnlbe_ctx *c, int node, int x, int axis, dnnl_data_type_t dt, int *out) {
    const dnnlbe_val *xv = &c->vals[x];
    int64_t d2[2] = {1, 1};
    for (int d = 0; d < xv->rank; d++) d2[d < axis ? 0 : 1] *= xv->dims[d];
    int m;
    int rc = dnnlbe_as_plain(c, node, x, dt, &m);
    if (!rc) rc = dnnlbe_view(c, node, m, 2, d2, &m);
    *out = m;
    return rc;
}

static int op_softmax(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x, xm;
    int rc = dnnlbe_input(c, node, 0, &x, &xm);
    if (rc) return rc;
    int rank = c->vals[x].rank;
    int old = c->opset > 0 && c->opset < 13;
    int axis = dnnlbe_axis(ir_node_int(n, "axis", old ? 1 : -1), rank);
    if (axis < 0) return dnnlbe_invalid(c, node, "axis out of range for rank %d", rank);
    dnnl_data_type_t dt = c->s->mems[xm].md.data_type;
    int sm;
    if (old && axis != rank - 1) {
        /* before opset 13: the input is coerced to 2-D at axis */
        rc = as_2d(c, node, x, axis, dt, &sm);
        axis = 1;
    } else {
        rc = dnnlbe_as_plain(c, node, x, dt, &sm);
    }
    if (rc) return rc;
    dnnl_memory_desc_t src = c->s->mems[sm].md, dst = src;
    dst.data_type = out_type(c, n->out[0], dt);
    dnnl_alg_kind_t alg =
        strcmp(n->op_type, "LogSoftmax") ? dnnl_softmax_accurate : dnnl_softmax_log;
    dnnl_softmax_v2_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st =
        dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_inference, alg, &src, &dst, axis);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, NULL, &pd);
    if ((rc = dnnlbe_check(c, node, st, "softmax"))) return rc;
    int args[3] = {DNNL_ARG_SRC}, mems[3] = {sm};
    return dnnlbe_emit(c, node, pd, 1, args, mems, 0.0f, n->out[0]);
}

/* A per-channel constant of exactly count floats, or NULL. */
static const float *channel_const(const dnnlbe_ctx *c, int node, int i, int64_t count) {
    const ir_tensor *t = dnnlbe_const_input(c, node, i);
    const float *f = dnnlbe_const_f32(t);
    return f && (int64_t)ir_tensor_numel(t) == count ? f : NULL;
}

/* Statistics oneDNN may want as outputs even in inference: scratch space. */
static int stats_args(dnnlbe_ctx *c, dnnl_primitive_desc_t pd, int *n, int *args, int *mems) {
    const int want[2] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    for (int i = 0; i < 2; i++) {
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, want[i]);
        if (!md || dnnl_memory_desc_get_size(md) == 0) continue;
        int m = dnnlbe_new_act(c, md);
        if (m < 0) return c->e->status;
        args[*n] = want[i];
        mems[(*n)++] = m;
    }
    return CALMA_OK;
}

static int op_layernorm(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x, xm;
    int rc = dnnlbe_input(c, node, 0, &x, &xm);
    if (rc) return rc;
    const dnnlbe_val *xv = &c->vals[x];
    int axis = dnnlbe_axis(ir_node_int(n, "axis", -1), xv->rank);
    if (axis < 0) return dnnlbe_invalid(c, node, "axis out of range for rank %d", xv->rank);
    int64_t inner = 1;
    for (int d = axis; d < xv->rank; d++) inner *= xv->dims[d];
    const float *scale = channel_const(c, node, 1, inner);
    const float *bias = dnnlbe_in_v(c, node, 2) >= 0 ? channel_const(c, node, 2, inner) : NULL;
    if (!scale || (dnnlbe_in_v(c, node, 2) >= 0 && !bias))
        return dnnlbe_unsupported(c, node,
                                  "scale and bias must be constant float32 tensors of %lld values",
                                  (long long)inner);
    float *zeros = NULL;
    if (!bias && !(zeros = calloc((size_t)inner, sizeof(float))))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    dnnl_data_type_t dt = c->s->mems[xm].md.data_type;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_unimplemented;
    int sm = -1;
    /* In its own type first; float32 when oneDNN has no kernel for that. */
    for (int pass = 0; pass < 2 && st != dnnl_success; pass++) {
        if (pass && dt == dnnl_f32) break;
        if ((rc = as_2d(c, node, x, axis, pass ? dnnl_f32 : dt, &sm))) goto fail;
        dnnl_memory_desc_t src = c->s->mems[sm].md;
        dnnl_layer_normalization_desc_t d;
        st = dnnl_layer_normalization_forward_desc_init(&d, dnnl_forward_inference, &src, NULL,
                                                        ir_node_float(n, "epsilon", 1e-5f),
                                                        dnnl_use_scale | dnnl_use_shift);
        if (st == dnnl_success) st = dnnlbe_pd(c, &d, NULL, &pd);
    }
    if ((rc = dnnlbe_check(c, node, st, "layer normalization"))) goto fail;
    int args[8] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT}, mems[8] = {sm};
    dnnl_memory_desc_t cmd;
    rc = dnnlbe_plain_md(c, node, 1, &inner, dnnl_f32, &cmd);
    if (!rc) rc = dnnlbe_const_mem(c, node, &cmd, 1, &inner, scale, NULL, &mems[1]);
    if (!rc) rc = dnnlbe_const_mem(c, node, &cmd, 1, &inner, bias ? bias : zeros, zeros, &mems[2]);
    zeros = NULL;
    int na = 3;
    if (!rc) rc = stats_args(c, pd, &na, args, mems);
    if (rc) goto fail;
    return dnnlbe_emit(c, node, pd, na, args, mems, 0.0f, n->out[0]);
fail:
    free(zeros);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int op_batchnorm(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x, xm;
    int rc = dnnlbe_input(c, node, 0, &x, &xm);
    if (rc) return rc;
    const dnnlbe_val *xv = &c->vals[x];
    if (ir_node_int(n, "training_mode", 0))
        return dnnlbe_unsupported(c, node, "training_mode 1 (calma runs inference)");
    if (xv->rank < 2) return dnnlbe_invalid(c, node, "input of rank %d", xv->rank);
    int64_t ch = xv->dims[1];
    const float *p[4];
    for (int i = 0; i < 4; i++)
        if (!(p[i] = channel_const(c, node, i + 1, ch)))
            return dnnlbe_unsupported(c, node,
                                      "scale, B, mean and var must be constant float32 tensors of "
                                      "%lld values",
                                      (long long)ch);
    dnnl_memory_desc_t src = c->s->mems[xm].md;
    dnnl_batch_normalization_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_batch_normalization_forward_desc_init(
        &d, dnnl_forward_inference, &src, ir_node_float(n, "epsilon", 1e-5f),
        dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, NULL, &pd);
    if ((rc = dnnlbe_check(c, node, st, "batch normalization"))) return rc;
    int args[8] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    int mems[8] = {xm};
    dnnl_memory_desc_t cmd;
    rc = dnnlbe_plain_md(c, node, 1, &ch, dnnl_f32, &cmd);
    for (int i = 0; i < 4 && !rc; i++)
        rc = dnnlbe_const_mem(c, node, &cmd, 1, &ch, p[i], NULL, &mems[i + 1]);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    return dnnlbe_emit(c, node, pd, 5, args, mems, 0.0f, n->out[0]);
}

const dnnlbe_op dnnlbe_ops_norm[] = {
    {"Softmax", op_softmax},
    {"LogSoftmax", op_softmax},
    {"LayerNormalization", op_layernorm},
    {"BatchNormalization", op_batchnorm},
    {NULL, NULL},
};
