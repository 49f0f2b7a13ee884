/* Spatial ops beyond convolution: ConvTranspose, bilinear Resize, and
 * ReduceMean over the spatial axes (how exporters often write a global
 * average pool). */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"

static int resize_out_size(xnnbe_ctx *c, int k, const xnnbe_val *x, int64_t *oh, int64_t *ow) {
    const ir_node *n = &c->g->nodes[k];
    /* Resize-10: (X, scales); Resize-11+: (X, roi, scales, sizes). */
    int si = c->opset > 0 && c->opset < 11 ? 1 : 2, zi = si == 1 ? -1 : 3;
    const ir_tensor *sizes = zi >= 0 ? xnnbe_const_input(c, k, zi) : NULL;
    const ir_tensor *scales = xnnbe_const_input(c, k, si);
    if (sizes && ir_tensor_numel(sizes) == 4) {
        if (ir_tensor_get_i64(sizes, 0) != x->dims[0] || ir_tensor_get_i64(sizes, 1) != x->dims[1])
            return xnnbe_unsupported(c, k, "resizing the batch or channel axes");
        *oh = ir_tensor_get_i64(sizes, 2);
        *ow = ir_tensor_get_i64(sizes, 3);
        return CALMA_OK;
    }
    const float *f = xnnbe_const_f32(scales);
    if (!f || ir_tensor_numel(scales) != 4) {
        int given = (zi >= 0 && zi < n->n_in && n->in[zi] >= 0) || (si < n->n_in && n->in[si] >= 0);
        return xnnbe_unsupported(c, k,
                                 given ? "scales and sizes must be constants with 4 values"
                                       : "neither scales nor sizes is given");
    }
    if (f[0] != 1.0f || f[1] != 1.0f)
        return xnnbe_unsupported(c, k, "resizing the batch or channel axes");
    /* ONNX maps coordinates with the scale given, XNNPACK with the ratio
     * of sizes: the same only when the scale gives a whole size. */
    double h = (double)x->dims[2] * f[2], w = (double)x->dims[3] * f[3];
    if (h != floor(h) || w != floor(w))
        return xnnbe_unsupported(c, k,
                                 "scales %g x %g give fractional sizes (%g x %g); XNNPACK "
                                 "resizes by the ratio of whole sizes",
                                 (double)f[2], (double)f[3], h, w);
    *oh = (int64_t)h;
    *ow = (int64_t)w;
    return CALMA_OK;
}

static int op_resize(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const char *mode = ir_node_string(n, "mode", "nearest");
    if (strcmp(mode, "linear") != 0 && strcmp(mode, "bilinear") != 0)
        return xnnbe_unsupported(c, k, "mode '%s'; XNNPACK's subgraph resizes bilinearly only",
                                 mode);
    if (x->rank != 4)
        return xnnbe_unsupported(c, k, "only 2-D (4-D NCHW) resizing; '%s' has rank %d",
                                 xnnbe_vname(c, x), x->rank);
    if (ir_node_int(n, "antialias", 0) || ir_node_attr(n, "axes"))
        return xnnbe_unsupported(c, k, "the antialias and axes attributes");
    const char *ct = c->opset > 0 && c->opset < 11
                         ? "asymmetric"
                         : ir_node_string(n, "coordinate_transformation_mode", "half_pixel");
    int64_t oh = 0, ow = 0;
    if ((rc = resize_out_size(c, k, x, &oh, &ow))) return rc;
    if (oh < 1 || ow < 1) return xnnbe_invalid(c, k, "empty output");
    uint32_t flags;
    if (!strcmp(ct, "half_pixel") || (!strcmp(ct, "pytorch_half_pixel") && oh > 1 && ow > 1))
        flags = 0;
    else if (!strcmp(ct, "align_corners"))
        flags = XNN_FLAG_ALIGN_CORNERS;
    else if (!strcmp(ct, "asymmetric"))
        flags = XNN_FLAG_TENSORFLOW_LEGACY_MODE;
    else
        return xnnbe_unsupported(c, k, "coordinate_transformation_mode '%s' with this output", ct);
    uint32_t xid, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    int64_t od[4] = {x->dims[0], x->dims[1], oh, ow};
    if ((rc = xnnbe_define_output(c, k, n->out[0], 4, od, 1, &oid))) return rc;
    return xnnbe_check(c, k,
                       xnn_define_static_resize_bilinear_2d(
                           c->s->islands[c->cur].subgraph, (size_t)oh, (size_t)ow, xid, oid, flags),
                       "xnn_define_static_resize_bilinear_2d");
}

/* ReduceMean over axes {2, 3} of a 4-D map is a global average pool. */
static int op_reduce_mean(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    size_t na = 0;
    const int64_t *axes = ir_node_ints(n, "axes", &na);
    const ir_tensor *at = NULL;
    if (c->opset >= 18 && n->n_in > 1 && n->in[1] >= 0) {
        at = xnnbe_const_input(c, k, 1);
        if (!at) return xnnbe_unsupported(c, k, "axes must be a constant");
        na = ir_tensor_numel(at);
    }
    int spatial = x->rank == 4 && na == 2;
    for (size_t i = 0; spatial && i < na; i++) {
        int a = xnnbe_axis(at ? ir_tensor_get_i64(at, i) : axes[i], 4);
        if (a != 2 && a != 3) spatial = 0;
    }
    if (spatial && at) {
        int a0 = xnnbe_axis(ir_tensor_get_i64(at, 0), 4),
            a1 = xnnbe_axis(ir_tensor_get_i64(at, 1), 4);
        spatial = a0 != a1;
    } else if (spatial) {
        spatial = xnnbe_axis(axes[0], 4) != xnnbe_axis(axes[1], 4);
    }
    if (!spatial)
        return xnnbe_unsupported(c, k,
                                 "only a mean over the two spatial axes of a 4-D map (a global "
                                 "average pool) has an XNNPACK equivalent");
    int keep = (int)ir_node_int(n, "keepdims", 1);
    int out_v = n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    if (keep) xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    uint32_t xid, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    int64_t od[4] = {x->dims[0], x->dims[1], 1, 1};
    if (keep) {
        if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    } else {
        size_t pd[4] = {(size_t)od[0], 1, 1, (size_t)od[1]};
        if ((rc = xnnbe_define_internal(c, k, 4, pd, &oid))) return rc;
    }
    rc = xnnbe_check(
        c, k,
        xnn_define_global_average_pooling_2d(c->s->islands[c->cur].subgraph, lo, hi, xid, oid, 0),
        "xnn_define_global_average_pooling_2d");
    if (rc || keep) return rc;
    /* [N,1,1,C] and [N,C] are the same bytes */
    uint32_t fid;
    int64_t fd[2] = {od[0], od[1]};
    if ((rc = xnnbe_define_output(c, k, out_v, 2, fd, 0, &fid))) return rc;
    size_t pd2[2] = {(size_t)od[0], (size_t)od[1]};
    return xnnbe_check(
        c, k, xnn_define_static_reshape(c->s->islands[c->cur].subgraph, 2, pd2, oid, fid, 0),
        "xnn_define_static_reshape");
}

static int read_pair2(xnnbe_ctx *c, int k, const char *name, int64_t dflt, int64_t lo, int64_t *v) {
    size_t n = 0;
    const int64_t *a = ir_node_ints(&c->g->nodes[k], name, &n);
    v[0] = v[1] = dflt;
    if (!a) return CALMA_OK;
    if (n != 2)
        return xnnbe_unsupported(c, k, "'%s' has %zu values; only 2-D is supported", name, n);
    for (int i = 0; i < 2; i++) {
        if (a[i] < lo || a[i] > 1 << 16)
            return xnnbe_invalid(c, k, "'%s' value %lld is out of range", name, (long long)a[i]);
        v[i] = a[i];
    }
    return CALMA_OK;
}

/* ConvTranspose as XNNPACK's deconvolution; weights [C, O/G, KH, KW]
 * become [O, KH, KW, C/G]. */
static int op_conv_transpose(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const ir_tensor *wt = xnnbe_const_input(c, k, 1);
    const float *w = xnnbe_const_f32(wt);
    if (x->rank != 4 || !w || wt->rank != 4)
        return xnnbe_unsupported(c, k, "needs a 4-D input and constant float32 4-D weights");
    int64_t C = x->dims[1], G = ir_node_int(n, "group", 1);
    int64_t Og = wt->dims[1], KH = wt->dims[2], KW = wt->dims[3];
    if (G < 1 || wt->dims[0] != C || C % G)
        return xnnbe_invalid(c, k, "weights [%lld,...] and group %lld do not fit %lld channels",
                             (long long)wt->dims[0], (long long)G, (long long)C);
    int64_t Ig = C / G, O = Og * G;
    const float *b = NULL;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const ir_tensor *bt = xnnbe_const_input(c, k, 2);
        b = xnnbe_const_f32(bt);
        if (!b || (int64_t)ir_tensor_numel(bt) != O)
            return xnnbe_unsupported(c, k, "bias must be a constant float32 [%lld]", (long long)O);
    }
    const char *ap = ir_node_string(n, "auto_pad", "NOTSET");
    if (ir_node_attr(n, "output_shape") || (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")))
        return xnnbe_unsupported(c, k, "output_shape and SAME auto_pad (give pads instead)");
    int64_t s[2], d[2], adj[2];
    if ((rc = read_pair2(c, k, "strides", 1, 1, s))) return rc;
    if ((rc = read_pair2(c, k, "dilations", 1, 1, d))) return rc;
    if ((rc = read_pair2(c, k, "output_padding", 0, 0, adj))) return rc;
    size_t np = 0;
    const int64_t *pads = strcmp(ap, "VALID") ? ir_node_ints(n, "pads", &np) : NULL;
    if (pads && np != 4) return xnnbe_invalid(c, k, "'pads' has %zu values; 2-D needs 4", np);
    int64_t pb[2] = {pads ? pads[0] : 0, pads ? pads[1] : 0};
    int64_t pe[2] = {pads ? pads[2] : 0, pads ? pads[3] : 0};
    int64_t kk[2] = {KH, KW}, od[4] = {x->dims[0], O, 0, 0};
    for (int i = 0; i < 2; i++) {
        if (pb[i] < 0 || pe[i] < 0) return xnnbe_unsupported(c, k, "negative pads");
        if (adj[i] >= s[i] && adj[i] >= d[i])
            return xnnbe_invalid(c, k, "output_padding must be below stride or dilation");
        od[2 + i] = s[i] * (x->dims[2 + i] - 1) + adj[i] + (kk[i] - 1) * d[i] + 1 - pb[i] - pe[i];
    }
    int out_v = n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    uint32_t xid, fid, bid = XNN_INVALID_VALUE_ID, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    float *f = xnnbe_blob(c, (size_t)(O * KH * KW * Ig));
    if (!f) return c->e ? c->e->status : CALMA_E_NOMEM;
    for (int64_t g = 0; g < G; g++)
        for (int64_t i = 0; i < Ig; i++)
            for (int64_t o = 0; o < Og; o++)
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++)
                        f[(((g * Og + o) * KH + kh) * KW + kw) * Ig + i] =
                            w[(((g * Ig + i) * Og + o) * KH + kh) * KW + kw];
    size_t fd[4] = {(size_t)O, (size_t)KH, (size_t)KW, (size_t)Ig}, bd[1] = {(size_t)O};
    if ((rc = xnnbe_define_static(c, k, 4, fd, f, &fid))) return rc;
    if (b) {
        float *bb = xnnbe_blob(c, (size_t)O);
        if (!bb) return c->e ? c->e->status : CALMA_E_NOMEM;
        memcpy(bb, b, sizeof(float) * (size_t)O);
        if ((rc = xnnbe_define_static(c, k, 1, bd, bb, &bid))) return rc;
    }
    if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    enum xnn_status st = xnn_define_deconvolution_2d(
        c->s->islands[c->cur].subgraph, (uint32_t)pb[0], (uint32_t)pe[1], (uint32_t)pe[0],
        (uint32_t)pb[1], (uint32_t)adj[0], (uint32_t)adj[1], (uint32_t)KH, (uint32_t)KW,
        (uint32_t)s[0], (uint32_t)s[1], (uint32_t)d[0], (uint32_t)d[1], (uint32_t)G, (size_t)Ig,
        (size_t)Og, lo, hi, xid, fid, bid, oid, 0);
    return xnnbe_check(c, k, st, "xnn_define_deconvolution_2d");
}

const xnnbe_op xnnbe_ops_spatial[] = {
    {"Resize", op_resize},
    {"ConvTranspose", op_conv_transpose},
    {"ReduceMean", op_reduce_mean},
    {NULL, NULL},
};
