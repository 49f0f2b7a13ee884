#include "zoo/zoo_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define ZB_NAME_MAX 256

uint64_t zb_next(zb *b) {
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float zb_uniform(zb *b, float bound) {
    /* 24 random bits are exactly representable: u is exact, and so is the
     * rest up to IEEE rounding, which every machine does alike. */
    float u = (float)(zb_next(b) >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * bound;
}

void zb_fail(zb *b, int status, const char *what) {
    if (b->rc) return;
    b->rc = err_set(b->e, status, "zoo: cannot build '%s' in graph '%s' (out of memory?)", what,
                    b->g->name ? b->g->name : "?");
}

static const char *add_init(zb *b, const char *name, ir_tensor *t) {
    int v;
    if (ir_graph_add_initializer(b->g, name, t) || (v = ir_graph_find(b->g, name)) < 0) {
        ir_tensor_free(t);
        zb_fail(b, CALMA_E_NOMEM, name);
        return "?";
    }
    return b->g->values[v].name;
}

static int alloc_f(zb *b, ir_tensor *t, const char *name, int rank, const int64_t *dims) {
    if (b->rc) return -1;
    if (ir_tensor_alloc(t, CALMA_DT_FLOAT, rank, dims, b->e)) {
        b->rc = err_prefix(b->e, "zoo: parameter '%s'", name);
        return -1;
    }
    return 0;
}

const char *zb_fill(zb *b, const char *name, int rank, const int64_t *dims, float lo, float hi) {
    ir_tensor t = {0};
    if (alloc_f(b, &t, name, rank, dims)) return "?";
    float *p = t.data;
    float mid = 0.5f * (lo + hi), half = 0.5f * (hi - lo);
    for (size_t i = 0, n = ir_tensor_numel(&t); i < n; i++) p[i] = mid + zb_uniform(b, half);
    return add_init(b, name, &t);
}

const char *zb_weight(zb *b, const char *name, int rank, const int64_t *dims, float bound) {
    return zb_fill(b, name, rank, dims, -bound, bound);
}

const char *zb_const_f(zb *b, const char *name, int rank, const int64_t *dims, const float *v) {
    ir_tensor t = {0};
    if (alloc_f(b, &t, name, rank, dims)) return "?";
    memcpy(t.data, v, t.nbytes);
    return add_init(b, name, &t);
}

const char *zb_const_i64(zb *b, const char *name, int rank, const int64_t *dims, const int64_t *v) {
    ir_tensor t = {0};
    if (b->rc) return "?";
    if (ir_tensor_alloc(&t, CALMA_DT_INT64, rank, dims, b->e)) {
        b->rc = err_prefix(b->e, "zoo: constant '%s'", name);
        return "?";
    }
    memcpy(t.data, v, t.nbytes);
    return add_init(b, name, &t);
}

const char *zb_scalar(zb *b, const char *name, float v) {
    if (b->rc) return "?";
    int idx = ir_graph_find(b->g, name);
    if (idx >= 0 && b->g->values[idx].init) return b->g->values[idx].name;
    return zb_const_f(b, name, 0, NULL, &v);
}

ir_node *zb_node(zb *b, const char *op, const char *name, int n_in, const char *const *in) {
    if (b->rc) return NULL;
    char out[ZB_NAME_MAX];
    snprintf(out, sizeof out, "%s_output_0", name);
    if (b->next_out) snprintf(out, sizeof out, "%s", b->next_out);
    b->next_out = NULL;
    const char *outs[1] = {out};
    ir_node *n = ir_graph_add_node(b->g, op, name, n_in, in, 1, outs);
    if (!n) zb_fail(b, CALMA_E_NOMEM, name);
    return n;
}

const char *zb_out(zb *b, const ir_node *n) {
    if (b->rc || !n) return "?";
    return b->g->values[n->out[0]].name;
}

void zb_int(zb *b, ir_node *n, const char *attr, int64_t v) {
    if (!b->rc && n && ir_node_set_int(n, attr, v)) zb_fail(b, CALMA_E_NOMEM, attr);
}

void zb_float(zb *b, ir_node *n, const char *attr, float v) {
    if (!b->rc && n && ir_node_set_float(n, attr, v)) zb_fail(b, CALMA_E_NOMEM, attr);
}

void zb_ints(zb *b, ir_node *n, const char *attr, const int64_t *v, size_t count) {
    if (!b->rc && n && ir_node_set_ints(n, attr, v, count)) zb_fail(b, CALMA_E_NOMEM, attr);
}

void zb_free(zb *b) {
    for (int i = 0; i < b->n_mom; i++) {
        free(b->mom[i].mean);
        free(b->mom[i].var);
    }
    free(b->mom);
    b->mom = NULL;
    b->n_mom = 0;
}

static zb_moments *mom_of(zb *b, const char *name) {
    int v = ir_graph_find(b->g, name);
    if (b->rc || v < 0 || v >= b->n_mom || !b->mom[v].c) return NULL;
    return &b->mom[v];
}

/* Fresh (uninitialised) moments of c channels for value name. */
static zb_moments *mom_new(zb *b, const char *name, int c) {
    int v = ir_graph_find(b->g, name);
    if (b->rc || v < 0) return NULL;
    if (v >= b->n_mom) {
        int n = b->g->n_values > v ? b->g->n_values : v + 1;
        zb_moments *m = realloc(b->mom, sizeof *m * (size_t)n);
        if (!m) {
            zb_fail(b, CALMA_E_NOMEM, name);
            return NULL;
        }
        memset(m + b->n_mom, 0, sizeof *m * (size_t)(n - b->n_mom));
        b->mom = m;
        b->n_mom = n;
    }
    zb_moments *m = &b->mom[v];
    free(m->mean);
    free(m->var);
    m->mean = malloc(sizeof(double) * (size_t)c);
    m->var = malloc(sizeof(double) * (size_t)c);
    m->c = c;
    if (!m->mean || !m->var) {
        zb_fail(b, CALMA_E_NOMEM, name);
        m->c = 0;
        return NULL;
    }
    return m;
}

void zb_set_moments(zb *b, const char *name, int c, double mean, double var) {
    zb_moments *m = mom_new(b, name, c);
    for (int i = 0; m && i < c; i++) {
        m->mean[i] = mean;
        m->var[i] = var;
    }
}

void zb_copy_moments(zb *b, const char *from, const char *to) {
    zb_moments *f = mom_of(b, from);
    if (!f) return;
    int c = f->c;
    zb_moments *t = mom_new(b, to, c);
    f = mom_of(b, from); /* mom_new may have moved the table */
    for (int i = 0; t && f && i < c; i++) {
        t->mean[i] = f->mean[i];
        t->var[i] = f->var[i];
    }
}

/* Estimates differ in the last bits between libms (erfc, exp): keeping 12
 * significant bits makes the stored statistics the same everywhere. */
static double coarse(double x) {
    int ex;
    double m = frexp(x, &ex);
    return ldexp(round(m * 4096.0) / 4096.0, ex);
}

/* Moments of relu(x) for x ~ N(mean, var), per channel. */
static void relu_moments(zb *b, const char *x, const char *y) {
    zb_moments *in = mom_of(b, x);
    if (!in) return;
    int c = in->c;
    zb_moments *out = mom_new(b, y, c);
    in = mom_of(b, x);
    for (int i = 0; out && in && i < c; i++) {
        double m = in->mean[i], s = sqrt(in->var[i]);
        if (s < 1e-12) {
            out->mean[i] = m > 0 ? m : 0;
            out->var[i] = 0;
            continue;
        }
        double z = m / s, cdf = 0.5 * erfc(-z / sqrt(2.0));
        double pdf = exp(-0.5 * z * z) / sqrt(2.0 * 3.14159265358979323846);
        double e1 = m * cdf + s * pdf, e2 = (m * m + s * s) * cdf + m * s * pdf;
        out->mean[i] = e1;
        out->var[i] = e2 - e1 * e1 > 0 ? e2 - e1 * e1 : 0;
    }
}

static void add_moments(zb *b, const char *x, const char *y, const char *out_name) {
    zb_moments *p = mom_of(b, x), *q = mom_of(b, y);
    if (!p || !q || p->c != q->c) return;
    int c = p->c;
    zb_moments *o = mom_new(b, out_name, c);
    p = mom_of(b, x);
    q = mom_of(b, y);
    for (int i = 0; o && p && q && i < c; i++) {
        o->mean[i] = p->mean[i] + q->mean[i];
        o->var[i] = p->var[i] + q->var[i];
    }
}

/* Conv of channels with the given moments: per output channel, the mean is
 * bias + sum(w * mean_in) and the variance sum(w^2 * var_in) (positions
 * and channels taken as independent; borders ignored). */
static void conv_moments(zb *b, const char *x, const char *w_name, const char *bias_name,
                         const char *y, int cout, int group) {
    zb_moments *in = mom_of(b, x);
    int wv = ir_graph_find(b->g, w_name);
    if (!in || wv < 0 || !b->g->values[wv].init) return;
    const ir_tensor *w = b->g->values[wv].init;
    const float *wd = w->data;
    const float *bias = NULL;
    if (bias_name) {
        int bv = ir_graph_find(b->g, bias_name);
        if (bv >= 0 && b->g->values[bv].init) bias = b->g->values[bv].init->data;
    }
    int cpg = (int)w->dims[1], ksz = (int)(w->dims[2] * w->dims[3]), opg = cout / group;
    zb_moments *out = mom_new(b, y, cout);
    in = mom_of(b, x);
    for (int o = 0; out && in && o < cout; o++) {
        double m = bias ? bias[o] : 0, v = 0;
        int base = (o / opg) * cpg;
        for (int j = 0; j < cpg; j++) {
            double sm = 0, sq = 0;
            for (int k = 0; k < ksz; k++) {
                double wk = wd[((size_t)o * (size_t)cpg + (size_t)j) * (size_t)ksz + (size_t)k];
                sm += wk;
                sq += wk * wk;
            }
            m += sm * in->mean[base + j];
            v += sq * in->var[base + j];
        }
        out->mean[o] = m;
        out->var[o] = v;
    }
}

const char *zb_conv(zb *b, const char *x, const char *prefix, int cin, int cout, int k, int stride,
                    int group, int bias) {
    char wn[ZB_NAME_MAX], bn[ZB_NAME_MAX], nn[ZB_NAME_MAX];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    snprintf(nn, sizeof nn, "/%s/Conv", prefix);
    int64_t wd[4] = {cout, cin / group, k, k};
    int fan_in = cin / group * k * k;
    /* He (Kaiming) uniform for ReLU nets: keeps the activations' second
     * moment steady from layer to layer, so deep nets neither vanish nor
     * explode with identity-like BatchNorm statistics. */
    const char *in[3] = {x, zb_weight(b, wn, 4, wd, sqrtf(6.0f / (float)fan_in)), NULL};
    if (bias) {
        int64_t bd[1] = {cout};
        in[2] = zb_weight(b, bn, 1, bd, 1.0f / sqrtf((float)fan_in));
    }
    ir_node *n = zb_node(b, "Conv", nn, bias ? 3 : 2, in);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
    int64_t dil[2] = {1, 1};
    zb_ints(b, n, "dilations", dil, 2);
    zb_int(b, n, "group", group);
    zb_ints(b, n, "kernel_shape", ks, 2);
    zb_ints(b, n, "pads", pads, 4);
    zb_ints(b, n, "strides", st, 2);
    const char *y = zb_out(b, n);
    conv_moments(b, x, wn, bias ? bn : NULL, y, cout, group);
    return y;
}

const char *zb_bn(zb *b, const char *x, const char *prefix, int c) {
    char names[4][ZB_NAME_MAX], nn[ZB_NAME_MAX];
    snprintf(names[0], ZB_NAME_MAX, "%s.weight", prefix);
    snprintf(names[1], ZB_NAME_MAX, "%s.bias", prefix);
    snprintf(names[2], ZB_NAME_MAX, "%s.running_mean", prefix);
    snprintf(names[3], ZB_NAME_MAX, "%s.running_var", prefix);
    snprintf(nn, sizeof nn, "/%s/BatchNormalization", prefix);
    int64_t d[1] = {c};
    const float eps = 1e-5f;
    const char *in[5] = {x, zb_fill(b, names[0], 1, d, 0.8f, 1.2f),
                         zb_fill(b, names[1], 1, d, -0.1f, 0.1f), NULL, NULL};
    zb_moments *m = mom_of(b, x);
    if (!m || m->c != c) {
        /* Nothing known of the input: near-identity statistics with spread. */
        in[3] = zb_fill(b, names[2], 1, d, -0.1f, 0.1f);
        in[4] = zb_fill(b, names[3], 1, d, 0.8f, 1.2f);
    } else {
        /* Statistics that match the input, as after training, give each
         * channel about mean beta and variance gamma^2: activations stay in
         * range however deep the net is. A +-10% error on the variance
         * keeps it from being an exact identity. */
        float *rm = malloc(sizeof(float) * (size_t)c), *rv = malloc(sizeof(float) * (size_t)c);
        for (int i = 0; rm && rv && i < c; i++) {
            double var = coarse(m->var[i]);
            rm[i] = (float)coarse(m->mean[i]);
            rv[i] = var > 1e-6 ? (float)var * (1.0f + zb_uniform(b, 0.1f)) : 1.0f;
        }
        if (!rm || !rv) zb_fail(b, CALMA_E_NOMEM, prefix);
        in[3] = rm && rv ? zb_const_f(b, names[2], 1, d, rm) : "?";
        in[4] = rm && rv ? zb_const_f(b, names[3], 1, d, rv) : "?";
        free(rm);
        free(rv);
    }
    ir_node *n = zb_node(b, "BatchNormalization", nn, 5, in);
    zb_float(b, n, "epsilon", eps);
    zb_float(b, n, "momentum", 0.9f);
    const char *y = zb_out(b, n);
    zb_moments *im = mom_of(b, x);
    if (im && im->c == c) {
        int vg = ir_graph_find(b->g, in[1]), vb = ir_graph_find(b->g, in[2]);
        int vm = ir_graph_find(b->g, in[3]), vv = ir_graph_find(b->g, in[4]);
        zb_moments *out = mom_new(b, y, c);
        im = mom_of(b, x);
        for (int i = 0; out && im && i < c; i++) {
            double gamma = ((const float *)b->g->values[vg].init->data)[i];
            double beta = ((const float *)b->g->values[vb].init->data)[i];
            double rmean = ((const float *)b->g->values[vm].init->data)[i];
            double rvar = ((const float *)b->g->values[vv].init->data)[i];
            double inv = 1.0 / sqrt(rvar + eps);
            out->mean[i] = beta + gamma * (im->mean[i] - rmean) * inv;
            out->var[i] = gamma * gamma * im->var[i] * inv * inv;
        }
    }
    return y;
}

const char *zb_gemm(zb *b, const char *x, const char *prefix, int in_f, int out_f) {
    char wn[ZB_NAME_MAX], bn[ZB_NAME_MAX], nn[ZB_NAME_MAX];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    snprintf(nn, sizeof nn, "/%s/Gemm", prefix);
    int64_t wd[2] = {out_f, in_f}, bd[1] = {out_f};
    /* PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)) for both. */
    float bound = 1.0f / sqrtf((float)in_f);
    const char *in[3] = {x, zb_weight(b, wn, 2, wd, bound), zb_weight(b, bn, 1, bd, bound)};
    ir_node *n = zb_node(b, "Gemm", nn, 3, in);
    zb_float(b, n, "alpha", 1.0f);
    zb_float(b, n, "beta", 1.0f);
    zb_int(b, n, "transB", 1);
    return zb_out(b, n);
}

const char *zb_unary(zb *b, const char *op, const char *name, const char *x) {
    const char *in[1] = {x};
    const char *y = zb_out(b, zb_node(b, op, name, 1, in));
    if (!strcmp(op, "Relu")) relu_moments(b, x, y);
    return y;
}

const char *zb_binary(zb *b, const char *op, const char *name, const char *x, const char *y) {
    const char *in[2] = {x, y};
    const char *z = zb_out(b, zb_node(b, op, name, 2, in));
    if (!strcmp(op, "Add")) add_moments(b, x, y, z);
    return z;
}

const char *zb_relu6(zb *b, const char *name, const char *x) {
    const char *in[3] = {x, zb_scalar(b, "relu6.min", 0.0f), zb_scalar(b, "relu6.max", 6.0f)};
    const char *y = zb_out(b, zb_node(b, "Clip", name, 3, in));
    /* as ReLU: with unit-scale activations the cap at 6 is rarely reached */
    relu_moments(b, x, y);
    return y;
}
