/* Normalisations and the softmax family, computed in double and rounded
 * once into the output type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

static int need_float(ref_call *c, int i, const ir_tensor **t) {
    int rc = ref_ew_need(c, i, t);
    if (rc) return rc;
    if (!ref_ew_is_float((*t)->dtype)) return ref_ew_bad_dtype(c, i, (*t)->dtype);
    return CALMA_OK;
}

/* Axis attribute normalised into 0..rank-1. */
static int get_axis(ref_call *c, int rank, int64_t dflt, int *axis) {
    int64_t a = ir_node_int(c->node, "axis", dflt);
    if (rank == 0 ? a != 0 && a != -1 : a < -rank || a >= rank) /* a scalar is one row */
        return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                           (long long)a, rank);
    *axis = rank == 0 ? 0 : (int)(a < 0 ? a + rank : a);
    return CALMA_OK;
}

/* Frees up to three double buffers and passes rc through. */
static int done(int rc, double *a, double *b, double *d) {
    free(a);
    free(b);
    free(d);
    return rc;
}

static double *alloc_f64(ref_call *c, size_t n) {
    double *p = malloc(sizeof(double) * (n ? n : 1));
    if (!p) ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu doubles", n);
    return p;
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

static int softmax_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = need_float(c, 0, &x), axis = 0;
    if (rc) return rc;
    if ((rc = get_axis(c, x->rank, c->opset < 13 ? 1 : -1, &axis))) return rc;
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int softmax_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int axis = 0, rc = get_axis(c, x->rank, c->opset < 13 ? 1 : -1, &axis);
    if (rc) return rc;
    /* before opset 13 the input is seen as 2-D [before axis, from axis on] */
    size_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        size_t v = (size_t)x->dims[d];
        if (d < axis)
            outer *= v;
        else if (d == axis || c->opset < 13)
            len *= v;
        else
            inner *= v;
    }
    double *v;
    if ((rc = ref_ew_to_f64(c, x, &v))) return rc;
    const char *op = c->node->op_type;
    int kind = !strcmp(op, "Softmax") ? 0 : !strcmp(op, "LogSoftmax") ? 1 : 2; /* 2: Hardmax */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            double *p = v + o * len * inner + i;
            if (len == 0) continue;
            size_t arg = 0;
            double m = p[0], s = 0;
            for (size_t k = 1; k < len; k++)
                if (p[k * inner] > m) m = p[k * inner], arg = k;
            if (kind == 2) {
                for (size_t k = 0; k < len; k++) p[k * inner] = k == arg;
                continue;
            }
            for (size_t k = 0; k < len; k++) s += exp(p[k * inner] - m);
            double ls = log(s);
            for (size_t k = 0; k < len; k++)
                p[k * inner] = kind ? p[k * inner] - m - ls : exp(p[k * inner] - m) / s;
        }
    }
    rc = ref_ew_from_f64(c, &c->out[0], v);
    return done(rc, v, NULL, NULL);
}

/* ---- LpNormalization ---- */

static int lpnorm_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = need_float(c, 0, &x), axis = 0;
    if (rc || (rc = get_axis(c, x->rank, -1, &axis))) return rc;
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int lpnorm_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int axis = 0, rc = get_axis(c, x->rank, -1, &axis);
    int64_t p = ir_node_int(c->node, "p", 2);
    if (rc) return rc;
    if (p != 1 && p != 2)
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "p=%lld (1 or 2)", (long long)p);
    size_t outer = 1, len = x->rank ? (size_t)x->dims[axis] : 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    double *v;
    if ((rc = ref_ew_to_f64(c, x, &v))) return rc;
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            double *q = v + o * len * inner + i, s = 0;
            for (size_t k = 0; k < len; k++)
                s += p == 1 ? fabs(q[k * inner]) : q[k * inner] * q[k * inner];
            if (p == 2) s = sqrt(s);
            for (size_t k = 0; k < len; k++) q[k * inner] = s == 0 ? 0 : q[k * inner] / s;
        }
    }
    rc = ref_ew_from_f64(c, &c->out[0], v);
    return done(rc, v, NULL, NULL);
}

/* ---- BatchNormalization ---- */

static int bn_training(ref_call *c) {
    return c->opset >= 14 && ir_node_int(c->node, "training_mode", 0) != 0;
}

static int bn_infer(ref_call *c) {
    const ir_tensor *x, *p[4];
    int rc = need_float(c, 0, &x);
    if (rc) return rc;
    if (x->rank < 2) {
        char buf[96];
        return ref_ew_fail(c, CALMA_E_INVALID, "X must be at least 2-D [N, C, ...], not %s",
                           ir_tensor_desc(x, buf, sizeof buf));
    }
    size_t chan = (size_t)x->dims[1], inner = 1;
    for (int d = 2; d < x->rank; d++) inner *= (size_t)x->dims[d];
    static const char *names[4] = {"scale", "B", "mean", "var"};
    for (int k = 0; k < 4; k++) {
        if ((rc = need_float(c, k + 1, &p[k]))) return rc;
        size_t n = ir_tensor_numel(p[k]);
        if (n != chan && !(n == chan * inner && !bn_training(c))) {
            char buf[96];
            return ref_ew_fail(c, CALMA_E_INVALID, "%s is %s but X has %zu channels", names[k],
                               ir_tensor_desc(p[k], buf, sizeof buf), chan);
        }
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    for (int j = 1; j < c->n_out && j < 5; j++)
        ref_set_type(&c->out[j], p[2]->dtype, p[2]->rank, p[2]->dims);
    return CALMA_OK;
}

static int bn_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    size_t n = (size_t)x->dims[0], chan = (size_t)x->dims[1], inner = 1;
    for (int d = 2; d < x->rank; d++) inner *= (size_t)x->dims[d];
    double eps = ir_node_float(c->node, "epsilon", 1e-5f);
    double mom = ir_node_float(c->node, "momentum", 0.9f);
    double *v = NULL, *p[4] = {NULL, NULL, NULL, NULL};
    int rc = ref_ew_to_f64(c, x, &v);
    for (int k = 0; k < 4 && !rc; k++) rc = ref_ew_to_f64(c, c->in[k + 1], &p[k]);
    size_t pn = rc ? 0 : ir_tensor_numel(c->in[1]);
    double *mean = p[2], *var = p[3], *bmean = NULL, *bvar = NULL;
    if (!rc && bn_training(c)) { /* statistics of this batch, population variance */
        bmean = alloc_f64(c, chan);
        bvar = alloc_f64(c, chan);
        if (!bmean || !bvar) rc = CALMA_E_NOMEM;
        for (size_t ch = 0; ch < chan && !rc; ch++) {
            double s = 0, q = 0, cnt = (double)(n * inner);
            for (size_t b = 0; b < n; b++)
                for (size_t i = 0; i < inner; i++) s += v[(b * chan + ch) * inner + i];
            s = cnt ? s / cnt : 0;
            for (size_t b = 0; b < n; b++)
                for (size_t i = 0; i < inner; i++) {
                    double dlt = v[(b * chan + ch) * inner + i] - s;
                    q += dlt * dlt;
                }
            bmean[ch] = s;
            bvar[ch] = cnt ? q / cnt : 0;
        }
        mean = bmean;
        var = bvar;
    }
    /* parameters per channel, or per activation (spatial=0 before opset 9) */
    int per_act = pn != chan;
    for (size_t b = 0; b < n && !rc; b++) {
        for (size_t ch = 0; ch < chan; ch++) {
            double *q = v + (b * chan + ch) * inner;
            if (per_act) {
                for (size_t i = 0, k = ch * inner; i < inner; i++, k++)
                    q[i] = (q[i] - mean[k]) / sqrt(var[k] + eps) * p[0][k] + p[1][k];
            } else {
                double m = mean[ch], sd = sqrt(var[ch] + eps), s = p[0][ch], o = p[1][ch];
                for (size_t i = 0; i < inner; i++) q[i] = (q[i] - m) / sd * s + o;
            }
        }
    }
    if (!rc) rc = ref_ew_from_f64(c, &c->out[0], v);
    /* optional outputs: running statistics (training), else the inputs' own */
    for (int j = 1; j < c->n_out && j < 5 && !rc; j++) {
        ir_tensor *o = &c->out[j];
        if (!o->data) continue;
        double *src = j % 2 ? p[2] : p[3];
        if (bmean) {
            double *cur = j % 2 ? bmean : bvar;
            if (j <= 2)
                for (size_t k = 0; k < chan; k++) cur[k] = src[k] * mom + cur[k] * (1 - mom);
            src = cur;
        }
        rc = ref_ew_from_f64(c, o, src);
    }
    for (int k = 0; k < 4; k++) free(p[k]);
    return done(rc, v, bmean, bvar);
}

/* ---- InstanceNormalization ---- */

static int in_infer(ref_call *c) {
    const ir_tensor *x, *s, *b;
    int rc;
    if ((rc = need_float(c, 0, &x)) || (rc = need_float(c, 1, &s)) || (rc = need_float(c, 2, &b)))
        return rc;
    if (x->rank < 2 || ir_tensor_numel(s) != (size_t)x->dims[1] ||
        ir_tensor_numel(b) != (size_t)x->dims[1]) {
        char bx[96], bs[96];
        return ref_ew_fail(c, CALMA_E_INVALID, "scale %s and B do not match X %s channels",
                           ir_tensor_desc(s, bs, sizeof bs), ir_tensor_desc(x, bx, sizeof bx));
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int in_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    size_t chan = (size_t)x->dims[1], inner = 1, groups = ir_tensor_numel(x);
    for (int d = 2; d < x->rank; d++) inner *= (size_t)x->dims[d];
    groups = inner ? groups / inner : 0;
    double eps = ir_node_float(c->node, "epsilon", 1e-5f);
    double *v = NULL, *s = NULL, *b = NULL;
    int rc = ref_ew_to_f64(c, x, &v);
    if (!rc) rc = ref_ew_to_f64(c, c->in[1], &s);
    if (!rc) rc = ref_ew_to_f64(c, c->in[2], &b);
    for (size_t g = 0; g < groups && !rc; g++) {
        double *p = v + g * inner, m = 0, q = 0;
        for (size_t i = 0; i < inner; i++) m += p[i];
        m /= (double)inner;
        for (size_t i = 0; i < inner; i++) q += (p[i] - m) * (p[i] - m);
        double inv = 1.0 / sqrt(q / (double)inner + eps);
        for (size_t i = 0; i < inner; i++) p[i] = (p[i] - m) * inv * s[g % chan] + b[g % chan];
    }
    if (!rc) rc = ref_ew_from_f64(c, &c->out[0], v);
    return done(rc, v, s, b);
}

/* ---- LayerNormalization ---- */

static calma_dtype ln_stash(ref_call *c, const ir_tensor *x) {
    int64_t st = ir_node_int(c->node, "stash_type", 1);
    return st == CALMA_DT_DOUBLE || st == CALMA_DT_FLOAT ? (calma_dtype)st : x->dtype;
}

static int ln_infer(ref_call *c) {
    const ir_tensor *x, *s, *b = ref_in(c, 2);
    int rc = need_float(c, 0, &x), axis = 0;
    if (rc || (rc = need_float(c, 1, &s))) return rc;
    if ((rc = get_axis(c, x->rank, -1, &axis))) return rc;
    /* scale and B broadcast to the normalised shape x.dims[axis:] */
    ir_tensor norm = {0};
    ref_set_type(&norm, x->dtype, x->rank - axis, x->dims + axis);
    for (int k = 1; k < 3; k++) {
        const ir_tensor *t = k == 1 ? s : b, *pair[2] = {&norm, t};
        int rank;
        int64_t dims[IR_MAX_RANK];
        if (!t) continue;
        if (!ref_ew_is_float(t->dtype)) return ref_ew_bad_dtype(c, k, t->dtype);
        if ((rc = ref_ew_bcast_shape(c, 2, pair, &rank, dims))) return rc;
        if (rank != norm.rank || (rank && memcmp(dims, norm.dims, sizeof(int64_t) * (size_t)rank)))
            return ref_ew_fail(c, CALMA_E_INVALID,
                               "input %d does not broadcast to X's dims from "
                               "axis %d",
                               k, axis);
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    int64_t sd[IR_MAX_RANK];
    for (int d = 0; d < x->rank; d++) sd[d] = d < axis ? x->dims[d] : 1;
    for (int j = 1; j < c->n_out && j < 3; j++)
        ref_set_type(&c->out[j], ln_stash(c, x), x->rank, sd);
    return CALMA_OK;
}

static int ln_run(ref_call *c) {
    const ir_tensor *x = c->in[0], *b = ref_in(c, 2);
    int axis = 0, rc = get_axis(c, x->rank, -1, &axis);
    if (rc) return rc;
    size_t rows = 1, len = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            rows *= (size_t)x->dims[d];
        else
            len *= (size_t)x->dims[d];
    }
    double eps = ir_node_float(c->node, "epsilon", 1e-5f);
    double *v = NULL, *sb = alloc_f64(c, 2 * len), *stat = alloc_f64(c, 2 * rows);
    if (!sb || !stat) return done(CALMA_E_NOMEM, sb, stat, NULL);
    rc = ref_ew_to_f64(c, x, &v);
    if (rc) return done(rc, sb, stat, NULL);
    ref_ew_expand_f64(c->in[1], x->rank - axis, x->dims + axis, sb);
    if (b)
        ref_ew_expand_f64(b, x->rank - axis, x->dims + axis, sb + len);
    else
        memset(sb + len, 0, sizeof(double) * len);
    for (size_t r = 0; r < rows; r++) {
        double *p = v + r * len, m = 0, q = 0;
        for (size_t i = 0; i < len; i++) m += p[i];
        m = len ? m / (double)len : 0;
        for (size_t i = 0; i < len; i++) q += (p[i] - m) * (p[i] - m);
        double inv = 1.0 / sqrt((len ? q / (double)len : 0) + eps);
        for (size_t i = 0; i < len; i++) p[i] = (p[i] - m) * inv * sb[i] + sb[len + i];
        stat[r] = m;
        stat[rows + r] = inv;
    }
    rc = ref_ew_from_f64(c, &c->out[0], v);
    for (int j = 1; j < c->n_out && j < 3 && !rc; j++)
        if (c->out[j].data) rc = ref_ew_from_f64(c, &c->out[j], stat + (j - 1) * rows);
    free(v);
    return done(rc, sb, stat, NULL);
}

/* ---- MeanVarianceNormalization ---- */

static int mvn_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = need_float(c, 0, &x);
    if (rc) return rc;
    size_t n;
    const int64_t *ax = ir_node_ints(c->node, "axes", &n);
    for (size_t i = 0; i < n; i++)
        if (ax[i] < -x->rank || ax[i] >= x->rank)
            return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                               (long long)ax[i], x->rank);
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

/* Calls STMT for each element with o the element's group (the reduced
 * axes collapse to one group per kept index). */
#define GROUP_LOOP(STMT)                                                                           \
    do {                                                                                           \
        int64_t idx[IR_MAX_RANK] = {0};                                                            \
        size_t o = 0;                                                                              \
        for (size_t i = 0; i < total; i++) {                                                       \
            STMT;                                                                                  \
            for (int d = r - 1; d >= 0; d--) {                                                     \
                o += (size_t)ost[d];                                                               \
                if (++idx[d] < x->dims[d]) break;                                                  \
                o -= (size_t)(ost[d] * x->dims[d]);                                                \
                idx[d] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static int mvn_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int r = x->rank, red[IR_MAX_RANK] = {0};
    size_t n;
    const int64_t *ax = ir_node_ints(c->node, "axes", &n);
    static const int64_t dflt[3] = {0, 2, 3};
    if (!ax) ax = dflt, n = 3;
    for (size_t i = 0; i < n; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r)
            return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                               (long long)ax[i], r);
        red[a] = 1;
    }
    int64_t ost[IR_MAX_RANK], s = 1, cnt = 1;
    for (int d = r - 1; d >= 0; d--) {
        ost[d] = red[d] ? 0 : s;
        if (red[d])
            cnt *= x->dims[d];
        else
            s *= x->dims[d];
    }
    size_t total = ir_tensor_numel(x), groups = (size_t)s;
    double *v = NULL, *m = alloc_f64(c, groups), *q = alloc_f64(c, groups);
    if (!m || !q) return done(CALMA_E_NOMEM, m, q, NULL);
    int rc = ref_ew_to_f64(c, x, &v);
    if (rc) return done(rc, m, q, NULL);
    memset(m, 0, sizeof(double) * groups);
    memset(q, 0, sizeof(double) * groups);
    GROUP_LOOP(m[o] += v[i]);
    for (size_t g = 0; g < groups; g++) m[g] /= (double)cnt;
    GROUP_LOOP(q[o] += (v[i] - m[o]) * (v[i] - m[o]));
    for (size_t g = 0; g < groups; g++) q[g] = sqrt(q[g] / (double)cnt) + 1e-9;
    GROUP_LOOP(v[i] = (v[i] - m[o]) / q[o]);
    rc = ref_ew_from_f64(c, &c->out[0], v);
    free(v);
    return done(rc, m, q, NULL);
}

/* ---- LRN ---- */

static int lrn_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = need_float(c, 0, &x);
    if (rc) return rc;
    if (x->rank < 3)
        return ref_ew_fail(c, CALMA_E_INVALID, "X must be [N, C, D1, ...], not rank %d", x->rank);
    if (ir_node_int(c->node, "size", 0) < 1)
        return ref_ew_fail(c, CALMA_E_INVALID, "attribute 'size' is missing or below 1");
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

/* y = x / (bias + alpha / size * sum of x^2 over the nearby channels)^beta */
static int lrn_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    double alpha = ir_node_float(c->node, "alpha", 1e-4f);
    double beta = ir_node_float(c->node, "beta", 0.75f);
    double bias = ir_node_float(c->node, "bias", 1.0f);
    int64_t size = ir_node_int(c->node, "size", 1);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* floor and ceil of (size-1)/2 */
    size_t n = (size_t)x->dims[0], chan = (size_t)x->dims[1], inner = 1;
    for (int d = 2; d < x->rank; d++) inner *= (size_t)x->dims[d];
    double *v, *y;
    int rc = ref_ew_to_f64(c, x, &v);
    if (rc) return rc;
    if (!(y = alloc_f64(c, ir_tensor_numel(x)))) return done(CALMA_E_NOMEM, v, NULL, NULL);
    for (size_t b = 0; b < n; b++)
        for (size_t ch = 0; ch < chan; ch++)
            for (size_t i = 0; i < inner; i++) {
                double s = 0;
                int64_t from = (int64_t)ch - lo < 0 ? 0 : (int64_t)ch - lo;
                int64_t to =
                    (int64_t)ch + hi >= (int64_t)chan ? (int64_t)chan - 1 : (int64_t)ch + hi;
                for (int64_t k = from; k <= to; k++) {
                    double q = v[(b * chan + (size_t)k) * inner + i];
                    s += q * q;
                }
                size_t at = (b * chan + ch) * inner + i;
                y[at] = v[at] / pow(bias + alpha / (double)size * s, beta);
            }
    rc = ref_ew_from_f64(c, &c->out[0], y);
    return done(rc, v, y, NULL);
}

const ref_op ref_ops_norm[] = {
    {"BatchNormalization", bn_infer, bn_run},
    {"LayerNormalization", ln_infer, ln_run},
    {"InstanceNormalization", in_infer, in_run},
    {"Softmax", softmax_infer, softmax_run},
    {"LogSoftmax", softmax_infer, softmax_run},
    {"Hardmax", softmax_infer, softmax_run},
    {"LpNormalization", lpnorm_infer, lpnorm_run},
    {"MeanVarianceNormalization", mvn_infer, mvn_run},
    {"LRN", lrn_infer, lrn_run},
    {"NegativeLogLikelihoodLoss", ref_ew_loss_infer, ref_ew_loss_run},
    {"SoftmaxCrossEntropyLoss", ref_ew_loss_infer, ref_ew_loss_run},
    {NULL, NULL, NULL},
};
