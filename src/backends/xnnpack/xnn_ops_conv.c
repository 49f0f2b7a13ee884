/* Conv (BatchNormalization folded in), pooling, Gemm and MatMul: the ops
 * that carry a CNN's time, mapped onto XNNPACK's NHWC kernels. */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"

/* Spatial geometry of a 2-D window op, in XNNPACK's terms. */
typedef struct window {
    int64_t k[2], s[2], d[2];
    int64_t pb[2], pe[2]; /* pads at the beginning (top, left) and end (bottom, right) */
    int64_t out[2];
} window;

static int read_pair(xnnbe_ctx *c, int node, const char *name, int64_t dflt, int64_t *v) {
    size_t n = 0;
    const int64_t *a = ir_node_ints(&c->g->nodes[node], name, &n);
    if (!a) {
        v[0] = v[1] = dflt;
        return CALMA_OK;
    }
    if (n != 2)
        return xnnbe_unsupported(c, node, "'%s' has %zu values; only 2-D windows are supported",
                                 name, n);
    for (int i = 0; i < 2; i++) {
        if (a[i] < 1 || a[i] > 1 << 16)
            return xnnbe_invalid(c, node, "'%s' value %lld is out of range", name, (long long)a[i]);
        v[i] = a[i];
    }
    return CALMA_OK;
}

/* Reads strides, dilations, pads and auto_pad and computes the output size
 * for input spatial size in[2] (ceil_mode: pools only). */
static int window_geometry(xnnbe_ctx *c, int node, const int64_t *in, window *w, int ceil_mode) {
    const ir_node *n = &c->g->nodes[node];
    int rc = read_pair(c, node, "strides", 1, w->s);
    if (!rc) rc = read_pair(c, node, "dilations", 1, w->d);
    if (rc) return rc;
    const char *ap = ir_node_string(n, "auto_pad", "NOTSET");
    size_t np = 0;
    const int64_t *pads = ir_node_ints(n, "pads", &np);
    for (int i = 0; i < 2; i++) {
        int64_t span = w->d[i] * (w->k[i] - 1) + 1;
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t o = (in[i] + w->s[i] - 1) / w->s[i];
            int64_t total = (o - 1) * w->s[i] + span - in[i];
            if (total < 0) total = 0;
            int64_t small = total / 2;
            w->pb[i] = ap[5] == 'U' ? small : total - small;
            w->pe[i] = total - w->pb[i];
        } else if (strcmp(ap, "VALID") == 0) {
            w->pb[i] = w->pe[i] = 0;
        } else if (strcmp(ap, "NOTSET") == 0) {
            if (pads && np != 4)
                return xnnbe_unsupported(c, node, "'pads' has %zu values; 2-D needs 4", np);
            w->pb[i] = pads ? pads[i] : 0;
            w->pe[i] = pads ? pads[i + 2] : 0;
            if (w->pb[i] < 0 || w->pe[i] < 0) return xnnbe_unsupported(c, node, "negative pads");
        } else {
            return xnnbe_invalid(c, node, "unknown auto_pad '%s'", ap);
        }
        int64_t room = in[i] + w->pb[i] + w->pe[i] - span;
        if (room < 0)
            return xnnbe_invalid(c, node, "window of %lld is larger than the padded input %lld",
                                 (long long)span, (long long)(in[i] + w->pb[i] + w->pe[i]));
        w->out[i] = room / w->s[i] + 1;
        if (ceil_mode && room % w->s[i]) {
            int64_t o = w->out[i] + 1;
            /* The last window must start inside the input or its leading pad. */
            if ((o - 1) * w->s[i] < in[i] + w->pb[i]) {
                w->out[i] = o;
                w->pe[i] += (o - 1) * w->s[i] + span - (in[i] + w->pb[i] + w->pe[i]);
            }
        }
    }
    return CALMA_OK;
}

/* ---- Conv ---- */

typedef struct bn_fold {
    const float *scale, *bias, *mean, *var;
    double eps;
} bn_fold;

static void bn_read(xnnbe_ctx *c, int bn, bn_fold *f) {
    const ir_node *n = &c->g->nodes[bn];
    const float *p[4];
    for (int j = 0; j < 4; j++) p[j] = xnnbe_const_f32(c->vals[n->in[j + 1]].cst);
    f->scale = p[0];
    f->bias = p[1];
    f->mean = p[2];
    f->var = p[3];
    f->eps = ir_node_float(n, "epsilon", 1e-5f);
}

/* This XNNPACK's IGEMM runs each group of 7 output pixels against every
 * output channel of its share, so the whole packed filter streams through
 * the cache once per 7 pixels; past the L2 (2 MiB here) that costs a third
 * or more of its speed (resnet18's 7x7x512 3x3 conv alone: 67 GFLOP/s
 * whole, 116 in 8 slices). Cutting the output channels into slices whose
 * filter stays under SLICE_BYTES keeps each slice in L2; zero pads and adds
 * join them (x + 0 == x), two passes over the output per slice, which only
 * pays where each output value has a long reduction (MIN_SLICE_DEPTH):
 * mobilenet_v2's 1x1 convs (320 or 960 deep) lost 3-5% when sliced. */
#define SLICE_BYTES (640 * 1024)
#define MIN_SLICE_DEPTH 1024

static int conv_slices(int64_t O, size_t per_o) {
    int n = 1;
    while (per_o >= MIN_SLICE_DEPTH &&
           (size_t)O * per_o * sizeof(float) / (size_t)n > SLICE_BYTES && O % (32 * n) == 0 &&
           n < 64)
        n *= 2;
    return n;
}

static int conv_sliced(xnnbe_ctx *c, int k, const window *win, uint32_t xid, const float *f,
                       const float *bias, const int64_t *od, size_t per_o, int slices, int out_v,
                       float lo, float hi) {
    size_t O = (size_t)od[1], os = O / (size_t)slices;
    size_t fd[4] = {os, (size_t)win->k[0], (size_t)win->k[1],
                    per_o / (size_t)(win->k[0] * win->k[1])};
    size_t bd[1] = {os};
    size_t pd[4] = {(size_t)od[0], (size_t)od[2], (size_t)od[3], os};
    size_t full[4] = {(size_t)od[0], (size_t)od[2], (size_t)od[3], O};
    uint32_t acc = XNN_INVALID_VALUE_ID;
    int rc;
    for (int i = 0; i < slices; i++) {
        uint32_t fid, bid, part, padded, sum;
        if ((rc = xnnbe_define_static(c, k, 4, fd, f + (size_t)i * os * per_o, &fid))) return rc;
        if ((rc = xnnbe_define_static(c, k, 1, bd, bias + (size_t)i * os, &bid))) return rc;
        if ((rc = xnnbe_define_internal(c, k, 4, pd, &part))) return rc;
        rc = xnnbe_check(c, k,
                         xnn_define_convolution_2d(
                             c->s->islands[c->cur].subgraph, (uint32_t)win->pb[0],
                             (uint32_t)win->pe[1], (uint32_t)win->pe[0], (uint32_t)win->pb[1],
                             (uint32_t)win->k[0], (uint32_t)win->k[1], (uint32_t)win->s[0],
                             (uint32_t)win->s[1], (uint32_t)win->d[0], (uint32_t)win->d[1], 1,
                             fd[3], os, lo, hi, xid, fid, bid, part, 0),
                         "xnn_define_convolution_2d");
        if (rc) return rc;
        size_t pre[4] = {0, 0, 0, (size_t)i * os}, post[4] = {0, 0, 0, O - (size_t)(i + 1) * os};
        if ((rc = xnnbe_define_internal(c, k, 4, full, &padded))) return rc;
        rc = xnnbe_check(c, k,
                         xnn_define_static_constant_pad(c->s->islands[c->cur].subgraph, pre, post,
                                                        0.0f, part, padded, 0),
                         "xnn_define_static_constant_pad");
        if (rc) return rc;
        if (i == 0) {
            acc = padded;
            continue;
        }
        if (i == slices - 1)
            rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &sum);
        else
            rc = xnnbe_define_internal(c, k, 4, full, &sum);
        if (rc) return rc;
        rc = xnnbe_check(c, k,
                         xnn_define_add2(c->s->islands[c->cur].subgraph, -INFINITY, INFINITY, acc,
                                         padded, sum, 0),
                         "xnn_define_add2");
        if (rc) return rc;
        acc = sum;
    }
    return CALMA_OK;
}

static int op_conv(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    if (x->rank != 4)
        return xnnbe_unsupported(c, k, "only 2-D convolution is supported; '%s' has rank %d",
                                 xnnbe_vname(c, x), x->rank);
    const ir_tensor *wt = xnnbe_const_input(c, k, 1);
    const float *w = xnnbe_const_f32(wt);
    if (!w || wt->rank != 4)
        return xnnbe_unsupported(c, k, "weights must be a constant float32 4-D tensor");
    int64_t O = wt->dims[0], Ig = wt->dims[1], KH = wt->dims[2], KW = wt->dims[3];
    int64_t C = x->dims[1], G = ir_node_int(n, "group", 1);
    if (G < 1 || C % G || Ig * G != C || O % G)
        return xnnbe_invalid(c, k, "group %lld does not fit %lld input and %lld output channels",
                             (long long)G, (long long)C, (long long)O);
    const float *b = NULL;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const ir_tensor *bt = xnnbe_const_input(c, k, 2);
        b = xnnbe_const_f32(bt);
        if (!b) return xnnbe_unsupported(c, k, "bias must be a constant float32 tensor");
        if ((int64_t)ir_tensor_numel(bt) != O)
            return xnnbe_invalid(c, k, "bias has %zu values for %lld output channels",
                                 ir_tensor_numel(bt), (long long)O);
    }
    size_t nk = 0;
    const int64_t *ks = ir_node_ints(n, "kernel_shape", &nk);
    if (ks && (nk != 2 || ks[0] != KH || ks[1] != KW))
        return xnnbe_invalid(c, k, "kernel_shape does not match the weights");
    window win = {.k = {KH, KW}};
    rc = window_geometry(c, k, &x->dims[2], &win, 0);
    if (rc) return rc;

    int bnk = c->bn_of_conv[k];
    bn_fold bn = {0};
    if (bnk >= 0) bn_read(c, bnk, &bn);
    int out_v = bnk >= 0 ? c->g->nodes[bnk].out[0] : n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);

    uint32_t xid, fid, bid, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    int depthwise = G > 1 && G == C && Ig == 1;
    size_t per_o = (size_t)(KH * KW * Ig);
    float *f = xnnbe_blob(c, (size_t)O * per_o);
    float *bias = xnnbe_blob(c, (size_t)O);
    if (!f || !bias) return c->e ? c->e->status : CALMA_E_NOMEM;
    for (int64_t o = 0; o < O; o++) {
        double sc = 1.0, sh = 0.0;
        if (bnk >= 0) {
            sc = bn.scale[o] / sqrt((double)bn.var[o] + bn.eps);
            sh = bn.bias[o] - bn.mean[o] * sc;
        }
        bias[o] = (float)((b ? b[o] : 0.0) * sc + sh);
        for (int64_t i = 0; i < Ig; i++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    float v = (float)(w[((o * Ig + i) * KH + kh) * KW + kw] * sc);
                    if (depthwise)
                        f[(kh * KW + kw) * O + o] = v;
                    else
                        f[((o * KH + kh) * KW + kw) * Ig + i] = v;
                }
    }
    size_t fd[4], bd[1] = {(size_t)O};
    if (depthwise) {
        fd[0] = 1, fd[1] = (size_t)KH, fd[2] = (size_t)KW, fd[3] = (size_t)O;
    } else {
        fd[0] = (size_t)O, fd[1] = (size_t)KH, fd[2] = (size_t)KW, fd[3] = (size_t)Ig;
    }
    int64_t od[4] = {x->dims[0], O, win.out[0], win.out[1]};
    int slices = depthwise || G != 1 ? 1 : conv_slices(O, per_o);
    if (slices > 1) return conv_sliced(c, k, &win, xid, f, bias, od, per_o, slices, out_v, lo, hi);
    if ((rc = xnnbe_define_static(c, k, 4, fd, f, &fid))) return rc;
    if ((rc = xnnbe_define_static(c, k, 1, bd, bias, &bid))) return rc;
    if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    enum xnn_status st;
    if (depthwise)
        st = xnn_define_depthwise_convolution_2d(
            c->s->islands[c->cur].subgraph, (uint32_t)win.pb[0], (uint32_t)win.pe[1],
            (uint32_t)win.pe[0], (uint32_t)win.pb[1], (uint32_t)KH, (uint32_t)KW,
            (uint32_t)win.s[0], (uint32_t)win.s[1], (uint32_t)win.d[0], (uint32_t)win.d[1],
            (uint32_t)(O / C), (size_t)C, lo, hi, xid, fid, bid, oid, 0);
    else
        st = xnn_define_convolution_2d(
            c->s->islands[c->cur].subgraph, (uint32_t)win.pb[0], (uint32_t)win.pe[1],
            (uint32_t)win.pe[0], (uint32_t)win.pb[1], (uint32_t)KH, (uint32_t)KW,
            (uint32_t)win.s[0], (uint32_t)win.s[1], (uint32_t)win.d[0], (uint32_t)win.d[1],
            (uint32_t)G, (size_t)Ig, (size_t)(O / G), lo, hi, xid, fid, bid, oid, 0);
    return xnnbe_check(
        c, k, st, depthwise ? "xnn_define_depthwise_convolution_2d" : "xnn_define_convolution_2d");
}

/* ---- pooling ---- */

static int pool_common(xnnbe_ctx *c, int k, xnnbe_val **x, window *w, uint32_t *xid, int *out_v,
                       float *lo, float *hi) {
    const ir_node *n = &c->g->nodes[k];
    int rc = xnnbe_input(c, k, 0, x);
    if (rc) return rc;
    if ((*x)->rank != 4)
        return xnnbe_unsupported(c, k, "only 2-D pooling is supported; '%s' has rank %d",
                                 xnnbe_vname(c, *x), (*x)->rank);
    rc = read_pair(c, k, "kernel_shape", 0, w->k);
    if (rc) return rc;
    if (!ir_node_attr(n, "kernel_shape")) return xnnbe_invalid(c, k, "no kernel_shape");
    int ceil_mode = (int)ir_node_int(n, "ceil_mode", 0);
    rc = window_geometry(c, k, &(*x)->dims[2], w, ceil_mode);
    if (rc) return rc;
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
            return xnnbe_unsupported(c, k, "output %d (indices) has no XNNPACK equivalent", j);
    *out_v = n->out[0];
    *lo = -INFINITY;
    *hi = INFINITY;
    xnnbe_fuse_clamp(c, out_v, lo, hi);
    return xnnbe_as_nhwc(c, k, *x, xid);
}

static int op_maxpool(xnnbe_ctx *c, int k) {
    xnnbe_val *x;
    window w = {0};
    uint32_t xid, oid;
    int out_v;
    float lo, hi;
    int rc = pool_common(c, k, &x, &w, &xid, &out_v, &lo, &hi);
    if (rc) return rc;
    int64_t od[4] = {x->dims[0], x->dims[1], w.out[0], w.out[1]};
    if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    enum xnn_status st = xnn_define_max_pooling_2d(
        c->s->islands[c->cur].subgraph, (uint32_t)w.pb[0], (uint32_t)w.pe[1], (uint32_t)w.pe[0],
        (uint32_t)w.pb[1], (uint32_t)w.k[0], (uint32_t)w.k[1], (uint32_t)w.s[0], (uint32_t)w.s[1],
        (uint32_t)w.d[0], (uint32_t)w.d[1], lo, hi, xid, oid, 0);
    return xnnbe_check(c, k, st, "xnn_define_max_pooling_2d");
}

static int op_avgpool(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    window w = {0};
    uint32_t xid, oid;
    int out_v;
    float lo, hi;
    int rc = pool_common(c, k, &x, &w, &xid, &out_v, &lo, &hi);
    if (rc) return rc;
    if (w.d[0] != 1 || w.d[1] != 1)
        return xnnbe_unsupported(c, k, "dilated average pooling has no XNNPACK equivalent");
    int padded = w.pb[0] || w.pb[1] || w.pe[0] || w.pe[1];
    if (padded && ir_node_int(n, "count_include_pad", 0)) {
        if (ir_node_int(n, "ceil_mode", 0))
            return xnnbe_unsupported(c, k, "count_include_pad with ceil_mode");
        /* XNNPACK divides by the pixels inside the input; padding first
         * with zeros makes the pads count. */
        size_t pre[4] = {0, (size_t)w.pb[0], (size_t)w.pb[1], 0};
        size_t post[4] = {0, (size_t)w.pe[0], (size_t)w.pe[1], 0};
        size_t pd[4] = {(size_t)x->dims[0], (size_t)(x->dims[2] + w.pb[0] + w.pe[0]),
                        (size_t)(x->dims[3] + w.pb[1] + w.pe[1]), (size_t)x->dims[1]};
        uint32_t pid;
        if ((rc = xnnbe_define_internal(c, k, 4, pd, &pid))) return rc;
        rc = xnnbe_check(c, k,
                         xnn_define_static_constant_pad(c->s->islands[c->cur].subgraph, pre, post,
                                                        0.0f, xid, pid, 0),
                         "xnn_define_static_constant_pad");
        if (rc) return rc;
        xid = pid;
        memset(w.pb, 0, sizeof w.pb);
        memset(w.pe, 0, sizeof w.pe);
    }
    int64_t od[4] = {x->dims[0], x->dims[1], w.out[0], w.out[1]};
    if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    enum xnn_status st = xnn_define_average_pooling_2d(
        c->s->islands[c->cur].subgraph, (uint32_t)w.pb[0], (uint32_t)w.pe[1], (uint32_t)w.pe[0],
        (uint32_t)w.pb[1], (uint32_t)w.k[0], (uint32_t)w.k[1], (uint32_t)w.s[0], (uint32_t)w.s[1],
        lo, hi, xid, oid, 0);
    return xnnbe_check(c, k, st, "xnn_define_average_pooling_2d");
}

static int op_global_pool(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    if (x->rank != 4)
        return xnnbe_unsupported(c, k, "only 2-D pooling is supported; '%s' has rank %d",
                                 xnnbe_vname(c, x), x->rank);
    int out_v = n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    uint32_t xid, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    int64_t od[4] = {x->dims[0], x->dims[1], 1, 1};
    if ((rc = xnnbe_define_output(c, k, out_v, 4, od, 1, &oid))) return rc;
    enum xnn_status st;
    if (strcmp(n->op_type, "GlobalAveragePool") == 0) {
        st = xnn_define_global_average_pooling_2d(c->s->islands[c->cur].subgraph, lo, hi, xid, oid,
                                                  0);
        return xnnbe_check(c, k, st, "xnn_define_global_average_pooling_2d");
    }
    if (x->dims[2] * x->dims[3] == 1) {
        st = xnn_define_clamp(c->s->islands[c->cur].subgraph, lo, hi, xid, oid, 0);
        return xnnbe_check(c, k, st, "xnn_define_clamp");
    }
    st = xnn_define_max_pooling_2d(c->s->islands[c->cur].subgraph, 0, 0, 0, 0, (uint32_t)x->dims[2],
                                   (uint32_t)x->dims[3], 1, 1, 1, 1, lo, hi, xid, oid, 0);
    return xnnbe_check(c, k, st, "xnn_define_max_pooling_2d");
}

/* ---- Gemm, MatMul: fully connected with constant weights ---- */

/* The MatMul's output feeds only an Add of a constant [N] vector (how
 * PyTorch exports nn.Linear): that vector becomes the bias. */
static const float *matmul_bias(xnnbe_ctx *c, int k, int64_t N, int rank, int *out_v) {
    int v = c->g->nodes[k].out[0];
    if (c->uses[v] != 1 || xnnbe_needs_export(c, v) || c->consumer[v] < 0) return NULL;
    int a = c->consumer[v];
    const ir_node *add = &c->g->nodes[a];
    if (!xnnbe_fusable(c, a) || strcmp(add->op_type, "Add") != 0 || add->n_in != 2 ||
        add->n_out < 1)
        return NULL;
    int other = add->in[0] == v ? add->in[1] : add->in[0];
    if (other < 0 || other == v) return NULL;
    const ir_tensor *t = c->vals[other].cst;
    const float *f = xnnbe_const_f32(t);
    if (!f || (int64_t)ir_tensor_numel(t) != N || t->rank < 1 || t->dims[t->rank - 1] != N ||
        t->rank > rank)
        return NULL;
    c->done[a] = 1;
    *out_v = add->out[0];
    return f;
}

/* Input x of a fully connected layer: its id, and for a flattened NHWC
 * map the C, H, W by which the weights' rows are permuted. */
static int fc_input(xnnbe_ctx *c, int k, xnnbe_val *x, uint32_t *id, const int64_t **chw) {
    *chw = NULL;
    if (!x->flat_nhwc) return xnnbe_as_logical(c, k, x, id);
    *id = x->id;
    *chw = x->chw;
    return CALMA_OK;
}

static int define_fc(xnnbe_ctx *c, int k, uint32_t xid, const int64_t *chw, const float *wt,
                     int64_t K, int64_t N, int trans, double alpha, const float *bias, double beta,
                     int out_v, int rank, const int64_t *od, float lo, float hi) {
    float *f = xnnbe_blob(c, (size_t)(K * N));
    if (!f) return c->e ? c->e->status : CALMA_E_NOMEM;
    /* XNNPACK wants [N, K]; ONNX gives [K, N] unless transposed. Input
     * element i (physical, H,W,C order when chw) is logical row li. */
    int64_t hw = chw ? chw[1] * chw[2] : 1;
    for (int64_t i = 0; i < K; i++) {
        int64_t li = chw ? (i % chw[0]) * hw + i / chw[0] : i;
        for (int64_t j = 0; j < N; j++)
            f[j * K + i] = (float)(alpha * (trans ? wt[j * K + li] : wt[li * N + j]));
    }
    uint32_t fid, bid = XNN_INVALID_VALUE_ID, oid;
    size_t fd[2] = {(size_t)N, (size_t)K}, bd[1] = {(size_t)N};
    int rc = xnnbe_define_static(c, k, 2, fd, f, &fid);
    if (rc) return rc;
    if (bias) {
        float *bb = xnnbe_blob(c, (size_t)N);
        if (!bb) return c->e ? c->e->status : CALMA_E_NOMEM;
        for (int64_t j = 0; j < N; j++) bb[j] = (float)(beta * bias[j]);
        if ((rc = xnnbe_define_static(c, k, 1, bd, bb, &bid))) return rc;
    }
    if ((rc = xnnbe_define_output(c, k, out_v, rank, od, 0, &oid))) return rc;
    enum xnn_status st =
        xnn_define_fully_connected(c->s->islands[c->cur].subgraph, lo, hi, xid, fid, bid, oid, 0);
    return xnnbe_check(c, k, st, "xnn_define_fully_connected");
}

static int op_gemm(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *a;
    int rc = xnnbe_input(c, k, 0, &a);
    if (rc) return rc;
    if (a->rank != 2) return xnnbe_invalid(c, k, "A has rank %d, Gemm needs 2", a->rank);
    if (ir_node_int(n, "transA", 0))
        return xnnbe_unsupported(c, k, "transA=1 has no XNNPACK equivalent");
    const ir_tensor *bt = xnnbe_const_input(c, k, 1);
    const float *b = xnnbe_const_f32(bt);
    if (!b || bt->rank != 2)
        return xnnbe_unsupported(c, k, "B must be a constant float32 matrix (fully connected)");
    int trans = (int)ir_node_int(n, "transB", 0);
    int64_t M = a->dims[0], K = a->dims[1];
    int64_t N = trans ? bt->dims[0] : bt->dims[1];
    if ((trans ? bt->dims[1] : bt->dims[0]) != K)
        return xnnbe_invalid(c, k, "A has %lld columns but B has %lld rows", (long long)K,
                             (long long)(trans ? bt->dims[1] : bt->dims[0]));
    double alpha = ir_node_float(n, "alpha", 1.0f), beta = ir_node_float(n, "beta", 1.0f);
    const float *cb = NULL;
    float *expanded = NULL;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const ir_tensor *ct = xnnbe_const_input(c, k, 2);
        cb = xnnbe_const_f32(ct);
        if (!cb) return xnnbe_unsupported(c, k, "C must be a constant float32 tensor");
        size_t cn = ir_tensor_numel(ct);
        int row = (ct->rank == 1 && ct->dims[0] == N) ||
                  (ct->rank == 2 && ct->dims[0] == 1 && ct->dims[1] == N);
        if (cn == 1) {
            if (!(expanded = xnnbe_blob(c, (size_t)N))) return c->e ? c->e->status : CALMA_E_NOMEM;
            for (int64_t j = 0; j < N; j++) expanded[j] = cb[0];
            cb = expanded;
        } else if (!row) {
            return xnnbe_unsupported(c, k, "C must broadcast along rows ([N] or [1,N])");
        }
    }
    int out_v = n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    uint32_t xid;
    const int64_t *chw;
    if ((rc = fc_input(c, k, a, &xid, &chw))) return rc;
    int64_t od[2] = {M, N};
    return define_fc(c, k, xid, chw, b, K, N, trans, alpha, cb, beta, out_v, 2, od, lo, hi);
}

static int op_matmul(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *a;
    int rc = xnnbe_input(c, k, 0, &a);
    if (rc) return rc;
    const ir_tensor *bt = xnnbe_const_input(c, k, 1);
    const float *b = xnnbe_const_f32(bt);
    if (!b || bt->rank != 2)
        return xnnbe_unsupported(c, k,
                                 "the second input must be a constant float32 matrix; XNNPACK's "
                                 "subgraph has only fully connected layers");
    if (a->rank < 1 || a->dims[a->rank - 1] != bt->dims[0])
        return xnnbe_invalid(c, k, "inner dimensions differ");
    int64_t K = bt->dims[0], N = bt->dims[1];
    int out_v = n->out[0];
    const float *bias = matmul_bias(c, k, N, a->rank, &out_v);
    float lo = -INFINITY, hi = INFINITY;
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    uint32_t xid;
    const int64_t *chw;
    if ((rc = fc_input(c, k, a, &xid, &chw))) return rc;
    int64_t od[IR_MAX_RANK];
    memcpy(od, a->dims, sizeof(int64_t) * (size_t)a->rank);
    od[a->rank - 1] = N;
    return define_fc(c, k, xid, chw, b, K, N, 0, 1.0, bias, 1.0, out_v, a->rank, od, lo, hi);
}

const xnnbe_op xnnbe_ops_conv[] = {
    {"Conv", op_conv},
    {"MaxPool", op_maxpool},
    {"AveragePool", op_avgpool},
    {"GlobalAveragePool", op_global_pool},
    {"GlobalMaxPool", op_global_pool},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {NULL, NULL},
};
