/* Conv (groups, depthwise, pads, auto_pad, strides, dilations; a following
 * BatchNormalization folded into the weights and bias; activations and a
 * residual Add fused as post-ops) and the pools (max, average, global). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

/* The window of a convolution or pool, in oneDNN's terms (dilation 0 is
 * dense; padding_r may grow to cover ceil_mode). */
typedef struct geom {
    int sp;
    dnnl_dims_t kernel, strides, dil, pl, pr;
    int grew; /* padding_r was grown for ceil_mode */
} geom;

static int read_ints(dnnlbe_ctx *c, int node, const char *name, int want, int64_t dflt, int64_t lo,
                     int64_t *out) {
    size_t n = 0;
    const int64_t *v = ir_node_ints(&c->g->nodes[node], name, &n);
    for (int i = 0; i < want; i++) out[i] = dflt;
    if (!v) return CALMA_OK;
    if ((int)n != want)
        return dnnlbe_invalid(c, node, "attribute '%s' has %zu values, expected %d", name, n, want);
    for (int i = 0; i < want; i++) {
        if (v[i] < lo)
            return dnnlbe_invalid(c, node, "attribute '%s'[%d] is %lld", name, i, (long long)v[i]);
        out[i] = v[i];
    }
    return CALMA_OK;
}

/* Reads strides, dilations, pads and auto_pad against the known input and
 * output sizes (from inference) and the kernel. */
static int read_geom(dnnlbe_ctx *c, int node, int sp, const int64_t *in, const int64_t *out,
                     const int64_t *kernel, int ceil, geom *g) {
    int64_t st[3], dl[3], pads[6];
    int rc = read_ints(c, node, "strides", sp, 1, 1, st);
    if (!rc) rc = read_ints(c, node, "dilations", sp, 1, 1, dl);
    if (!rc) rc = read_ints(c, node, "pads", 2 * sp, 0, 0, pads);
    if (rc) return rc;
    const char *ap = ir_node_string(&c->g->nodes[node], "auto_pad", "NOTSET");
    int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
    if (!same_upper && !same_lower && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return dnnlbe_invalid(c, node, "auto_pad '%s'", ap);
    memset(g, 0, sizeof *g);
    g->sp = sp;
    for (int i = 0; i < sp; i++) {
        int64_t range = (kernel[i] - 1) * dl[i] + 1;
        int64_t l = pads[i], r = pads[sp + i];
        if (!strcmp(ap, "VALID")) l = r = 0;
        if (same_upper || same_lower) {
            int64_t total = (out[i] - 1) * st[i] + range - in[i];
            if (total < 0) total = 0;
            l = same_upper ? total / 2 : total - total / 2;
            r = total - l;
        }
        /* oneDNN's output size is floor((in + l + r - range) / s) + 1:
         * ceil_mode's extra window is more padding on the right. */
        int64_t need = (out[i] - 1) * st[i] + range - in[i] - l;
        if (ceil && need > r) {
            r = need;
            g->grew = 1;
        }
        g->kernel[i] = kernel[i];
        g->strides[i] = st[i];
        g->dil[i] = dl[i] - 1;
        g->pl[i] = l;
        g->pr[i] = r;
        if ((in[i] + l + r - range) / st[i] + 1 != out[i])
            return dnnlbe_invalid(c, node,
                                  "spatial axis %d: input %lld, kernel %lld, stride %lld, pads "
                                  "%lld/%lld do not give the inferred output %lld",
                                  i, (long long)in[i], (long long)kernel[i], (long long)st[i],
                                  (long long)l, (long long)r, (long long)out[i]);
    }
    return CALMA_OK;
}

/* Weights and bias with a BatchNormalization folded in: w' = w * s,
 * b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps). */
static int fold_bn(dnnlbe_ctx *c, int node, int bn, const ir_tensor *w, const float *bias,
                   float **w_out, float **b_out) {
    int64_t o_n = w->dims[0];
    size_t per = ir_tensor_numel(w) / (size_t)o_n;
    float *nw = malloc(ir_tensor_numel(w) * sizeof(float));
    float *nb = malloc((size_t)o_n * sizeof(float));
    if (!nw || !nb) {
        free(nw);
        free(nb);
        return err_set(c->e, CALMA_E_NOMEM, "out of memory folding BatchNormalization");
    }
    const float *gamma = dnnlbe_const_f32(dnnlbe_const_input(c, bn, 1));
    const float *beta = dnnlbe_const_f32(dnnlbe_const_input(c, bn, 2));
    const float *mean = dnnlbe_const_f32(dnnlbe_const_input(c, bn, 3));
    const float *var = dnnlbe_const_f32(dnnlbe_const_input(c, bn, 4));
    double eps = ir_node_float(&c->g->nodes[bn], "epsilon", 1e-5f);
    const float *wf = w->data;
    for (int64_t o = 0; o < o_n; o++) {
        double s = gamma[o] / sqrt((double)var[o] + eps);
        for (size_t i = 0; i < per; i++)
            nw[(size_t)o * per + i] = (float)(wf[(size_t)o * per + i] * s);
        nb[o] = (float)(((bias ? bias[o] : 0.0) - mean[o]) * s + beta[o]);
    }
    (void)node;
    *w_out = nw;
    *b_out = nb;
    return CALMA_OK;
}

typedef struct conv_in {
    int x, xm;          /* input value, memory */
    const ir_tensor *w; /* weights as given */
    const float *wdata; /* weights to use (folded or given) */
    const float *bdata; /* bias to use, or NULL */
    float *wown, *bown; /* folded copies */
    int64_t groups;
} conv_in;

static int conv_inputs(dnnlbe_ctx *c, int node, conv_in *ci) {
    memset(ci, 0, sizeof *ci);
    int rc = dnnlbe_input_raw(c, node, 0, &ci->x, &ci->xm);
    if (rc) return rc;
    const ir_tensor *w = dnnlbe_const_input(c, node, 1);
    if (dnnlbe_in_v(c, node, 1) < 0) return dnnlbe_invalid(c, node, "no weights (input 1)");
    if (!dnnlbe_const_f32(w))
        return dnnlbe_unsupported(c, node, "weights must be a constant float32 tensor; '%s' is %s",
                                  dnnlbe_vname(c, dnnlbe_in_v(c, node, 1)),
                                  w ? ir_dtype_name(w->dtype) : "computed at run time");
    const dnnlbe_val *xv = &c->vals[ci->x];
    if (w->rank < 3 || w->rank > 5 || xv->rank != w->rank)
        return dnnlbe_unsupported(c, node, "a %d-D convolution of a rank %d input", w->rank - 2,
                                  xv->rank);
    ci->groups = ir_node_int(&c->g->nodes[node], "group", 1);
    if (ci->groups < 1 || xv->dims[1] != w->dims[1] * ci->groups || w->dims[0] % ci->groups)
        return dnnlbe_invalid(c, node,
                              "group %lld with %lld input channels and weights [%lld, %lld, ...]",
                              (long long)ci->groups, (long long)xv->dims[1], (long long)w->dims[0],
                              (long long)w->dims[1]);
    size_t nk = 0;
    const int64_t *ks = ir_node_ints(&c->g->nodes[node], "kernel_shape", &nk);
    for (size_t i = 0; ks && i < nk; i++)
        if (nk != (size_t)w->rank - 2 || ks[i] != w->dims[2 + i])
            return dnnlbe_invalid(c, node, "kernel_shape does not match the weights");
    const ir_tensor *b = dnnlbe_const_input(c, node, 2);
    if (dnnlbe_in_v(c, node, 2) >= 0 &&
        (!dnnlbe_const_f32(b) || (int64_t)ir_tensor_numel(b) != w->dims[0]))
        return dnnlbe_unsupported(c, node, "bias must be a constant float32 tensor of %lld values",
                                  (long long)w->dims[0]);
    ci->w = w;
    ci->wdata = w->data;
    ci->bdata = b ? b->data : NULL;
    int bn = c->bn_of_conv[node];
    if (bn >= 0) {
        rc = fold_bn(c, node, bn, w, ci->bdata, &ci->wown, &ci->bown);
        if (rc) return rc;
        ci->wdata = ci->wown;
        ci->bdata = ci->bown;
    }
    return CALMA_OK;
}

/* Weights dims as oneDNN wants them: [G, O/G, I/G, k...] when grouped (the
 * same bytes as ONNX's [O, I/G, k...]). */
static int weight_dims(const conv_in *ci, int64_t *wd) {
    const ir_tensor *w = ci->w;
    if (ci->groups == 1) {
        memcpy(wd, w->dims, sizeof(int64_t) * (size_t)w->rank);
        return w->rank;
    }
    wd[0] = ci->groups;
    wd[1] = w->dims[0] / ci->groups;
    for (int d = 1; d < w->rank; d++) wd[d + 1] = w->dims[d];
    return w->rank + 1;
}

static int conv_pd(dnnlbe_ctx *c, int node, const conv_in *ci, const geom *gm, dnnl_data_type_t sdt,
                   dnnl_data_type_t wdt, const dnnl_memory_desc_t *dst, dnnl_primitive_attr_t attr,
                   dnnl_primitive_desc_t *pd) {
    const dnnlbe_val *xv = &c->vals[ci->x];
    int64_t wd[6];
    int wr = weight_dims(ci, wd);
    dnnl_memory_desc_t src, wei, bias;
    int rc = dnnlbe_any_md(c, node, xv->rank, xv->dims, sdt, &src);
    if (!rc) rc = dnnlbe_any_md(c, node, wr, wd, wdt, &wei);
    if (!rc) rc = dnnlbe_any_md(c, node, 1, ci->w->dims, dnnl_f32, &bias);
    if (rc) return rc;
    dnnl_convolution_desc_t d;
    dnnl_status_t st = dnnl_dilated_convolution_forward_desc_init(
        &d, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, ci->bdata ? &bias : NULL,
        dst, gm->strides, gm->dil, gm->pl, gm->pr);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, attr, pd);
    return st == dnnl_success ? CALMA_OK : dnnlbe_check(c, node, st, "convolution");
}

static int op_conv(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    conv_in ci;
    dnnlbe_chain ch = {.n_ops = 0};
    dnnlbe_qplan qp = {0};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = conv_inputs(c, node, &ci);
    if (rc) goto out;
    const dnnlbe_val *xv = &c->vals[ci.x], *yv = &c->vals[n->out[0]];
    int sp = ci.w->rank - 2;
    geom gm;
    rc = read_geom(c, node, sp, xv->dims + 2, yv->dims + 2, ci.w->dims + 2, 0, &gm);
    /* A folded BatchNormalization's output is where the chain starts. */
    int bn = c->bn_of_conv[node];
    int start = bn >= 0 ? c->g->nodes[bn].out[0] : n->out[0];
    if (!rc) dnnlbe_follow(c, start, DNNLBE_FUSE_SUM, &ch);
    if (!rc) rc = dnnlbe_qplan_make(c, ci.x, ci.w->rank, ci.w->dims, ci.wdata, ci.bdata, &ch, &qp);
    if (!rc) rc = dnnlbe_chain_attr(c, node, &ch, qp.on ? &qp.qa : NULL, &attr);
    if (rc) goto out;
    /* A graph output leaves in float32 straight from the convolution. */
    dnnl_data_type_t ddt = qp.on                                           ? qp.ddt
                           : ch.sum_v < 0 && dnnlbe_is_output(c, ch.out_v) ? dnnl_f32
                                                                           : c->cdt;
    dnnl_data_type_t sdt = qp.on ? qp.src.dt : c->cdt, wdt = qp.on ? dnnl_s8 : c->cdt;
    dnnl_memory_desc_t dst;
    rc = dnnlbe_any_md(c, node, yv->rank, yv->dims, ddt, &dst);
    if (rc) goto out;
    if (ch.sum_v >= 0) {
        /* Adding onto the residual in place needs the residual's layout. */
        int rm;
        rc = dnnlbe_value_mem_raw(c, node, ch.sum_v, &rm);
        if (rc) goto out;
        dnnl_memory_desc_t want = c->s->mems[rm].md;
        want.data_type = ddt;
        if (conv_pd(c, node, &ci, &gm, sdt, wdt, &want, attr, &pd) == CALMA_OK) dst = want;
    }
    if (!pd && (rc = conv_pd(c, node, &ci, &gm, sdt, wdt, &dst, attr, &pd))) goto out;
    int sm, wm, bm = -1;
    const dnnl_memory_desc_t *smd = dnnlbe_pd_md(pd, dnnl_query_src_md, 0);
    rc = qp.on ? dnnlbe_as_q(c, node, ci.x, smd, qp.src.scale, &sm)
               : dnnlbe_as(c, node, ci.x, smd, &sm);
    int64_t wd[6];
    int wr = weight_dims(&ci, wd);
    if (!rc)
        rc = dnnlbe_product_consts(c, node, &qp, pd, wr, wd, ci.wdata, &ci.wown, ci.bdata, &ci.bown,
                                   ci.w->dims[0], &wm, &bm);
    if (rc) goto out;
    rc = dnnlbe_product_step(c, node, pd, &ch, qp.qa.dst_scale, sm, wm, bm);
    pd = NULL;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnlbe_qplan_free(&qp);
    free(ci.wown);
    free(ci.bown);
    return rc;
}

/* ---- pools ---- */

static int op_pool(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int is_max = strstr(n->op_type, "MaxPool") != NULL;
    int x, xm;
    /* the maximum of int8 values is the int8 of the maximum: kept as it is */
    int rc = is_max ? dnnlbe_input_raw(c, node, 0, &x, &xm) : dnnlbe_input(c, node, 0, &x, &xm);
    if (rc) return rc;
    const dnnlbe_val *xv = &c->vals[x], *yv = &c->vals[n->out[0]];
    int sp = xv->rank - 2;
    if (sp < 1 || sp > 3)
        return dnnlbe_unsupported(
            c, node, "pooling a rank %d input (oneDNN pools 1 to 3 spatial axes)", xv->rank);
    int global = !strncmp(n->op_type, "Global", 6);
    int64_t kernel[3];
    geom gm;
    if (global) {
        memset(&gm, 0, sizeof gm);
        gm.sp = sp;
        for (int i = 0; i < sp; i++) gm.kernel[i] = gm.strides[i] = xv->dims[2 + i];
    } else {
        size_t nk = 0;
        const int64_t *ks = ir_node_ints(n, "kernel_shape", &nk);
        if (!ks || nk != (size_t)sp)
            return dnnlbe_invalid(c, node, "kernel_shape must have %d values", sp);
        for (int i = 0; i < sp; i++) kernel[i] = ks[i];
        if (is_max && ir_node_int(n, "storage_order", 0) != 0)
            return dnnlbe_unsupported(c, node,
                                      "storage_order 1 (only the indices depend on it, "
                                      "and oneDNN gives none)");
        rc = read_geom(c, node, sp, xv->dims + 2, yv->dims + 2, kernel,
                       (int)ir_node_int(n, "ceil_mode", 0), &gm);
        if (rc) return rc;
    }
    dnnl_alg_kind_t alg = dnnl_pooling_max;
    if (!is_max) {
        int incl = (int)ir_node_int(n, "count_include_pad", 0);
        if (incl && gm.grew)
            return dnnlbe_unsupported(c, node,
                                      "ceil_mode with count_include_pad: oneDNN would count the "
                                      "extra window as padding");
        alg = incl ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    }
    const dnnl_memory_desc_t *src = &c->s->mems[xm].md;
    dnnl_memory_desc_t dst;
    rc = dnnlbe_any_md(c, node, yv->rank, yv->dims, src->data_type, &dst);
    if (rc) return rc;
    dnnl_pooling_v2_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_pooling_v2_forward_desc_init(
        &d, dnnl_forward_inference, alg, src, &dst, gm.strides, gm.kernel, gm.dil, gm.pl, gm.pr);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, NULL, &pd);
    if ((rc = dnnlbe_check(c, node, st, "pooling"))) return rc;
    int args[2] = {DNNL_ARG_SRC}, mems[2] = {xm};
    return dnnlbe_emit(c, node, pd, 1, args, mems, c->s->mems[xm].scale, n->out[0]);
}

const dnnlbe_op dnnlbe_ops_conv[] = {
    {"Conv", op_conv},          {"MaxPool", op_pool},
    {"AveragePool", op_pool},   {"GlobalAveragePool", op_pool},
    {"GlobalMaxPool", op_pool}, {NULL, NULL},
};
