/* MaxPool, AveragePool, LpPool and the global pools for the oracle.
 *
 * Each (image, channel) plane is read into a double buffer, pooled in
 * double and stored back in the input's dtype. Windows are visited tap by
 * tap, skipping taps that fall in the padding; 1-D and 2-D pools run as
 * 3-D ones whose leading spatial dimensions have size 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"

#define SP_MAX 3
/* Bounds that keep the int64 window arithmetic below far from overflow. */
#define SP_ATTR_MAX ((int64_t)1 << 31)
#define SP_DIM_MAX ((int64_t)1 << 40)

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };
enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct pool_geom {
    int nsp;
    int kind;
    int64_t k[SP_MAX], s[SP_MAX], d[SP_MAX], pb[SP_MAX], pe[SP_MAX];
    int64_t in[SP_MAX], out[SP_MAX];
    int count_include_pad;
    int storage_order;
    double p; /* LpPool's exponent */
} pool_geom;

static const char *label(const ref_call *c, char *buf, size_t n) {
    return ir_node_label(c->node, buf, n);
}

/* Dtypes a pool accepts: floats everywhere, 8-bit integers for MaxPool. */
static int check_dtype(ref_call *c, const ir_tensor *x, int kind) {
    char lab[256];
    calma_dtype dt = x->dtype;
    if (dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE) return CALMA_OK;
    if (kind == POOL_MAX && (dt == CALMA_DT_INT8 || dt == CALMA_DT_UINT8)) return CALMA_OK;
    return err_set(c->err, CALMA_E_UNSUPPORTED, "%s: input X has dtype %s, which %s does not run",
                   label(c, lab, sizeof lab), ir_dtype_name(dt), c->node->op_type);
}

static int check_x(ref_call *c, const ir_tensor *x, int kind) {
    char lab[256];
    int st;
    if (!x) return err_set(c->err, CALMA_E_INVALID, "%s: needs input X", label(c, lab, sizeof lab));
    if ((st = check_dtype(c, x, kind))) return st;
    if (x->rank < 3)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: X has rank %d; expected [N, C, spatial...] (rank 3 to 5)",
                       label(c, lab, sizeof lab), x->rank);
    if (x->rank > 2 + SP_MAX)
        return err_set(c->err, CALMA_E_UNSUPPORTED,
                       "%s: X has %d spatial dimensions; the oracle runs 1 to %d",
                       label(c, lab, sizeof lab), x->rank - 2, SP_MAX);
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] > SP_DIM_MAX)
            return err_set(c->err, CALMA_E_INVALID, "%s: dimension %d of X is too large",
                           label(c, lab, sizeof lab), i);
    if (c->n_out < 1)
        return err_set(c->err, CALMA_E_INVALID, "%s: has no output", label(c, lab, sizeof lab));
    return CALMA_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Output size and pads of spatial dimension a (in the padded layout). */
static int pool_dim(ref_call *c, pool_geom *g, int a, int auto_pad, int ceil_mode) {
    char lab[256];
    int64_t in = g->in[a], ek = (g->k[a] - 1) * g->d[a] + 1;
    if (in < 0) {
        g->out[a] = -1;
        return CALMA_OK;
    }
    if (auto_pad == PAD_VALID) g->pb[a] = g->pe[a] = 0;
    if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
        int64_t out = ceil_div(in, g->s[a]);
        int64_t total = (out - 1) * g->s[a] + ek - in;
        if (total < 0) total = 0;
        g->pb[a] = auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        g->pe[a] = total - g->pb[a];
        g->out[a] = out;
        return CALMA_OK;
    }
    int64_t padded = in + g->pb[a] + g->pe[a];
    if (padded < ek)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: kernel extent %lld (kernel %lld, dilation %lld) exceeds padded input "
                       "size %lld in spatial dimension %d",
                       label(c, lab, sizeof lab), (long long)ek, (long long)g->k[a],
                       (long long)g->d[a], (long long)padded, a - (SP_MAX - g->nsp));
    int64_t out = ceil_mode ? ceil_div(padded - ek, g->s[a]) + 1 : (padded - ek) / g->s[a] + 1;
    /* A last window that would start in the end padding is dropped, as in
     * the ONNX reference and PyTorch. */
    if (ceil_mode && out > 1 && (out - 1) * g->s[a] >= in + g->pb[a]) out--;
    g->out[a] = out;
    return CALMA_OK;
}

/* Parses attributes and computes the output's spatial shape. Global pools
 * get a kernel covering the whole input. */
static int pool_setup(ref_call *c, int kind, int global, pool_geom *g) {
    char lab[256];
    const ir_tensor *x = ref_in(c, 0);
    int st;
    if ((st = check_x(c, x, kind))) return st;
    memset(g, 0, sizeof *g);
    int nsp = x->rank - 2, off = SP_MAX - nsp;
    g->nsp = nsp;
    g->kind = kind;
    for (int i = 0; i < SP_MAX; i++) g->k[i] = g->s[i] = g->d[i] = g->in[i] = g->out[i] = 1;
    for (int i = 0; i < nsp; i++) g->in[off + i] = x->dims[2 + i];
    g->p = 2.0;
    if (global) {
        for (int i = off; i < SP_MAX; i++) {
            g->k[i] = g->in[i] < 1 ? 1 : g->in[i];
            g->out[i] = 1;
        }
        g->count_include_pad = 0;
        return CALMA_OK;
    }
    size_t nk;
    if (!ir_node_ints(c->node, "kernel_shape", &nk))
        return err_set(c->err, CALMA_E_INVALID, "%s: attribute kernel_shape is required",
                       label(c, lab, sizeof lab));
    if ((st = ref_attr_ints(c, "kernel_shape", (size_t)nsp, 1, 1, SP_ATTR_MAX, g->k, SP_MAX)))
        return st;
    if ((st = ref_attr_ints(c, "strides", (size_t)nsp, 1, 1, SP_ATTR_MAX, g->s, SP_MAX))) return st;
    if ((st = ref_attr_ints(c, "dilations", (size_t)nsp, 1, 1, SP_ATTR_MAX, g->d, SP_MAX)))
        return st;
    int64_t pads[2 * SP_MAX];
    if ((st = ref_attr_ints(c, "pads", 2 * (size_t)nsp, 0, 0, SP_ATTR_MAX, pads, 2 * (size_t)nsp)))
        return st;
    for (int i = 0; i < nsp; i++) {
        g->pb[off + i] = pads[i];
        g->pe[off + i] = pads[nsp + i];
    }
    const char *ap = ir_node_string(c->node, "auto_pad", "NOTSET");
    int auto_pad;
    if (!strcmp(ap, "NOTSET") || !*ap)
        auto_pad = PAD_NOTSET;
    else if (!strcmp(ap, "VALID"))
        auto_pad = PAD_VALID;
    else if (!strcmp(ap, "SAME_UPPER"))
        auto_pad = PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        auto_pad = PAD_SAME_LOWER;
    else
        return err_set(c->err, CALMA_E_INVALID, "%s: unknown auto_pad '%s'",
                       label(c, lab, sizeof lab), ap);
    int64_t ceil_mode = ir_node_int(c->node, "ceil_mode", 0);
    int64_t cip = ir_node_int(c->node, "count_include_pad", 0);
    int64_t so = ir_node_int(c->node, "storage_order", 0);
    if ((ceil_mode != 0 && ceil_mode != 1) || (cip != 0 && cip != 1) || (so != 0 && so != 1))
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: ceil_mode, count_include_pad and storage_order must be 0 or 1",
                       label(c, lab, sizeof lab));
    g->count_include_pad = (int)cip;
    g->storage_order = (int)so;
    if (kind == POOL_LP) {
        int64_t p = ir_node_int(c->node, "p", 2);
        if (p < 1 || p > 1024)
            return err_set(c->err, CALMA_E_INVALID, "%s: p = %lld must be a positive integer",
                           label(c, lab, sizeof lab), (long long)p);
        g->p = (double)p;
    }
    for (int a = off; a < SP_MAX; a++)
        if ((st = pool_dim(c, g, a, auto_pad, (int)ceil_mode))) return st;
    return CALMA_OK;
}

static int pool_infer_kind(ref_call *c, int kind, int global) {
    pool_geom g;
    int st = pool_setup(c, kind, global, &g);
    if (st) return st;
    const ir_tensor *x = ref_in(c, 0);
    int64_t dims[IR_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[SP_MAX - g.nsp + i];
    ref_set_type(&c->out[0], x->dtype, x->rank, dims);
    if (kind == POOL_MAX && !global && c->n_out >= 2)
        ref_set_type(&c->out[1], CALMA_DT_INT64, x->rank, dims);
    return CALMA_OK;
}

static void read_plane(const ir_tensor *x, size_t off, size_t n, double *dst) {
    switch (x->dtype) {
    case CALMA_DT_FLOAT:
        for (size_t i = 0; i < n; i++) dst[i] = ((const float *)x->data)[off + i];
        break;
    case CALMA_DT_DOUBLE:
        memcpy(dst, (const double *)x->data + off, n * sizeof *dst);
        break;
    default:
        for (size_t i = 0; i < n; i++) dst[i] = ir_tensor_get_f64(x, off + i);
        break;
    }
}

static void write_value(ir_tensor *y, size_t i, double v) {
    if (y->dtype == CALMA_DT_FLOAT)
        ((float *)y->data)[i] = (float)v;
    else if (y->dtype == CALMA_DT_DOUBLE)
        ((double *)y->data)[i] = v;
    else
        ir_tensor_set_f64(y, i, v);
}

/* Flat index of input element (i0, i1, i2) within its plane, row-major or
 * (storage_order 1) column-major over the model's spatial dimensions. */
static int64_t plane_index(const pool_geom *g, const int64_t *i) {
    if (!g->storage_order) return (i[0] * g->in[1] + i[1]) * g->in[2] + i[2];
    int64_t idx = 0, stride = 1;
    for (int a = SP_MAX - g->nsp; a < SP_MAX; a++) {
        idx += i[a] * stride;
        stride *= g->in[a];
    }
    return idx;
}

/* Pools one output pixel o (3 coordinates) of plane xp. */
static double pool_window(const pool_geom *g, const double *xp, const int64_t *o, int64_t *arg) {
    int64_t st[SP_MAX], i[SP_MAX];
    int64_t valid = 0, counted = 1;
    for (int a = 0; a < SP_MAX; a++) {
        st[a] = o[a] * g->s[a] - g->pb[a];
        if (g->count_include_pad) {
            /* Taps inside the padded extent [-pb, in + pe) count. */
            int64_t n = 0;
            for (int64_t k = 0; k < g->k[a]; k++) {
                int64_t p = st[a] + k * g->d[a];
                if (p >= -g->pb[a] && p < g->in[a] + g->pe[a]) n++;
            }
            counted *= n;
        }
    }
    double best = 0.0, sum = 0.0;
    int64_t best_at = -1;
    for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
        i[0] = st[0] + k0 * g->d[0];
        if (i[0] < 0 || i[0] >= g->in[0]) continue;
        for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
            i[1] = st[1] + k1 * g->d[1];
            if (i[1] < 0 || i[1] >= g->in[1]) continue;
            for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                i[2] = st[2] + k2 * g->d[2];
                if (i[2] < 0 || i[2] >= g->in[2]) continue;
                double v = xp[(i[0] * g->in[1] + i[1]) * g->in[2] + i[2]];
                if (g->kind == POOL_MAX) {
                    /* NaN wins, as in a max that propagates NaN. */
                    if (best_at < 0 || v > best || (isnan(v) && !isnan(best))) {
                        best = v;
                        best_at = plane_index(g, i);
                    }
                } else if (g->kind == POOL_AVG) {
                    sum += v;
                } else {
                    sum += pow(fabs(v), g->p);
                }
                valid++;
            }
        }
    }
    if (g->kind == POOL_MAX) {
        *arg = best_at;
        return best_at < 0 ? NAN : best;
    }
    if (g->kind == POOL_LP) return pow(sum, 1.0 / g->p);
    return sum / (double)(g->count_include_pad ? counted : valid);
}

static int pool_run_kind(ref_call *c, int kind, int global) {
    pool_geom g;
    int st = pool_setup(c, kind, global, &g);
    if (st) return st;
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    ir_tensor *ind = NULL;
    if (kind == POOL_MAX && !global && c->n_out >= 2 && c->node->n_out >= 2 &&
        c->node->out[1] >= 0 && c->out[1].data)
        ind = &c->out[1];
    int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
    int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
    int64_t planes = x->dims[0] * x->dims[1];
    if (planes == 0 || out_plane == 0) return CALMA_OK;
    double *xp = malloc((size_t)(in_plane > 0 ? in_plane : 1) * sizeof *xp);
    if (!xp) {
        char lab[256];
        return err_set(c->err, CALMA_E_NOMEM, "%s: out of memory for a plane of X",
                       label(c, lab, sizeof lab));
    }
    for (int64_t pl = 0; pl < planes; pl++) {
        read_plane(x, (size_t)(pl * in_plane), (size_t)in_plane, xp);
        int64_t o[SP_MAX], q = 0;
        for (o[0] = 0; o[0] < g.out[0]; o[0]++)
            for (o[1] = 0; o[1] < g.out[1]; o[1]++)
                for (o[2] = 0; o[2] < g.out[2]; o[2]++, q++) {
                    int64_t arg = -1;
                    double v = pool_window(&g, xp, o, &arg);
                    size_t at = (size_t)(pl * out_plane + q);
                    write_value(y, at, v);
                    if (ind) ((int64_t *)ind->data)[at] = arg < 0 ? -1 : pl * in_plane + arg;
                }
    }
    free(xp);
    return CALMA_OK;
}

static int maxpool_infer(ref_call *c) {
    return pool_infer_kind(c, POOL_MAX, 0);
}
static int maxpool_run(ref_call *c) {
    return pool_run_kind(c, POOL_MAX, 0);
}
static int avgpool_infer(ref_call *c) {
    return pool_infer_kind(c, POOL_AVG, 0);
}
static int avgpool_run(ref_call *c) {
    return pool_run_kind(c, POOL_AVG, 0);
}
static int lppool_infer(ref_call *c) {
    return pool_infer_kind(c, POOL_LP, 0);
}
static int lppool_run(ref_call *c) {
    return pool_run_kind(c, POOL_LP, 0);
}
static int gmaxpool_infer(ref_call *c) {
    return pool_infer_kind(c, POOL_MAX, 1);
}
static int gmaxpool_run(ref_call *c) {
    return pool_run_kind(c, POOL_MAX, 1);
}
static int gavgpool_infer(ref_call *c) {
    return pool_infer_kind(c, POOL_AVG, 1);
}
static int gavgpool_run(ref_call *c) {
    return pool_run_kind(c, POOL_AVG, 1);
}

const ref_op ref_ops_pool[] = {
    {"MaxPool", maxpool_infer, maxpool_run},
    {"AveragePool", avgpool_infer, avgpool_run},
    {"LpPool", lppool_infer, lppool_run},
    {"GlobalMaxPool", gmaxpool_infer, gmaxpool_run},
    {"GlobalAveragePool", gavgpool_infer, gavgpool_run},
    {NULL, NULL, NULL},
};
