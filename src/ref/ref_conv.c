/* Conv and ConvTranspose for the oracle.
 *
 * Every product is formed and summed in double, so results do not depend on
 * the summation order beyond double rounding. Speed comes from the loop
 * structure only: Conv packs the input patches of a block of output pixels
 * (im2col) and the weights into contiguous double panels and runs a small
 * register-blocked matrix product over them, which GCC vectorises at -O2.
 *
 * 1-D and 2-D convolutions are computed as 3-D ones whose leading spatial
 * dimensions have size 1. */
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"

#define SP_MAX 3
/* Bounds on attribute values and spatial sizes, so that the int64 arithmetic
 * below (sums and products of a few of them) cannot overflow. */
#define SP_ATTR_MAX ((int64_t)1 << 30)
#define SP_DIM_MAX ((int64_t)1 << 31)

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };

/* Spatial attributes common to Conv and ConvTranspose, padded to SP_MAX
 * dimensions: unused leading dimensions have kernel 1, stride 1, no pad. */
typedef struct conv_geom {
    int nsp; /* spatial dimensions in the model (1..3) */
    int auto_pad;
    int64_t k[SP_MAX], s[SP_MAX], d[SP_MAX], pb[SP_MAX], pe[SP_MAX];
    int64_t in[SP_MAX], out[SP_MAX];
    int64_t opad[SP_MAX]; /* ConvTranspose output_padding */
} conv_geom;

static const char *label(const ref_call *c, char *buf, size_t n) {
    return ir_node_label(c->node, buf, n);
}

static int fail(ref_call *c, int status, const char *what) {
    char lab[256];
    return err_set(c->err, status, "%s: %s", label(c, lab, sizeof lab), what);
}

static int is_float_dtype(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE;
}

static int check_dtype(ref_call *c, const ir_tensor *t, const char *name) {
    char lab[256];
    if (is_float_dtype(t->dtype)) return CALMA_OK;
    return err_set(c->err, CALMA_E_UNSUPPORTED,
                   "%s: input %s has dtype %s; %s runs float32/float64", label(c, lab, sizeof lab),
                   name, ir_dtype_name(t->dtype), c->node->op_type);
}

/* Parses the attributes shared by both ops. wk holds the kernel's spatial
 * dims as given by W; kernel_shape, when present, must agree with it. */
static int parse_geom(ref_call *c, int nsp, const int64_t *wk, conv_geom *g) {
    char lab[256];
    int st;
    memset(g, 0, sizeof *g);
    g->nsp = nsp;
    for (int i = 0; i < SP_MAX; i++) {
        g->k[i] = g->s[i] = g->d[i] = 1;
        g->in[i] = g->out[i] = 1;
    }
    int off = SP_MAX - nsp;
    size_t nk;
    const int64_t *ks = ir_node_ints(c->node, "kernel_shape", &nk);
    if (ks && nk != (size_t)nsp)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: kernel_shape has %zu values for %d spatial dimensions",
                       label(c, lab, sizeof lab), nk, nsp);
    for (int i = 0; i < nsp; i++) {
        if (ks && wk[i] >= 0 && ks[i] != wk[i])
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: kernel_shape[%d] = %lld but W's spatial dimension is %lld",
                           label(c, lab, sizeof lab), i, (long long)ks[i], (long long)wk[i]);
        g->k[off + i] = wk[i] >= 0 ? wk[i] : ks ? ks[i] : -1;
    }
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
    if (!strcmp(ap, "NOTSET") || !*ap)
        g->auto_pad = PAD_NOTSET;
    else if (!strcmp(ap, "VALID"))
        g->auto_pad = PAD_VALID;
    else if (!strcmp(ap, "SAME_UPPER"))
        g->auto_pad = PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        g->auto_pad = PAD_SAME_LOWER;
    else
        return err_set(c->err, CALMA_E_INVALID, "%s: unknown auto_pad '%s'",
                       label(c, lab, sizeof lab), ap);
    return CALMA_OK;
}

/* Common checks of X and W: ranks, dtypes, sizes. */
static int check_xw(ref_call *c, const ir_tensor *x, const ir_tensor *w) {
    char lab[256];
    int st;
    if (!x || !w) return fail(c, CALMA_E_INVALID, "needs inputs X and W");
    if ((st = check_dtype(c, x, "X")) || (st = check_dtype(c, w, "W"))) return st;
    if (x->dtype != w->dtype)
        return err_set(c->err, CALMA_E_INVALID, "%s: X is %s but W is %s",
                       label(c, lab, sizeof lab), ir_dtype_name(x->dtype), ir_dtype_name(w->dtype));
    if (x->rank < 3)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: X has rank %d; expected [N, C, spatial...] (rank 3 to 5)",
                       label(c, lab, sizeof lab), x->rank);
    if (x->rank > 2 + SP_MAX)
        return err_set(c->err, CALMA_E_UNSUPPORTED,
                       "%s: X has %d spatial dimensions; the oracle runs 1 to %d",
                       label(c, lab, sizeof lab), x->rank - 2, SP_MAX);
    if (w->rank != x->rank)
        return err_set(c->err, CALMA_E_INVALID, "%s: W has rank %d but X has rank %d",
                       label(c, lab, sizeof lab), w->rank, x->rank);
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] > SP_DIM_MAX || w->dims[i] > SP_DIM_MAX)
            return fail(c, CALMA_E_INVALID, "a dimension of X or W is too large");
    return CALMA_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* ---- Conv ---- */

/* Fills g->pb/pe (for auto_pad) and g->out from g->in. A negative input
 * size (unknown) gives an unknown output size. */
static int conv_out_shape(ref_call *c, conv_geom *g) {
    char lab[256];
    for (int i = SP_MAX - g->nsp; i < SP_MAX; i++) {
        int64_t in = g->in[i], ek = (g->k[i] - 1) * g->d[i] + 1;
        if (in < 0 || g->k[i] < 0) {
            g->out[i] = -1;
            continue;
        }
        if (g->auto_pad == PAD_VALID) g->pb[i] = g->pe[i] = 0;
        if (g->auto_pad == PAD_SAME_UPPER || g->auto_pad == PAD_SAME_LOWER) {
            int64_t out = ceil_div(in, g->s[i]);
            int64_t total = (out - 1) * g->s[i] + ek - in;
            if (total < 0) total = 0;
            g->pb[i] = g->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
        }
        int64_t padded = in + g->pb[i] + g->pe[i];
        if (padded < ek)
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: kernel extent %lld (kernel %lld, dilation %lld) exceeds padded "
                           "input size %lld in spatial dimension %d",
                           label(c, lab, sizeof lab), (long long)ek, (long long)g->k[i],
                           (long long)g->d[i], (long long)padded, i - (SP_MAX - g->nsp));
        g->out[i] = (padded - ek) / g->s[i] + 1;
    }
    return CALMA_OK;
}

/* Validates the call and computes the geometry and output shape. */
static int conv_setup(ref_call *c, conv_geom *g, int64_t *group, int64_t *ydims) {
    char lab[256];
    const ir_tensor *x = ref_in(c, 0), *w = ref_in(c, 1), *b = ref_in(c, 2);
    int st;
    if ((st = check_xw(c, x, w))) return st;
    int nsp = x->rank - 2;
    if ((st = parse_geom(c, nsp, w->dims + 2, g))) return st;
    for (int i = 0; i < nsp; i++) {
        if (w->dims[2 + i] == 0) return fail(c, CALMA_E_INVALID, "W has an empty kernel dimension");
        g->in[SP_MAX - nsp + i] = x->dims[2 + i];
    }
    int64_t grp = ir_node_int(c->node, "group", 1);
    if (grp < 1 || grp > SP_ATTR_MAX)
        return err_set(c->err, CALMA_E_INVALID, "%s: group = %lld must be positive",
                       label(c, lab, sizeof lab), (long long)grp);
    int64_t cin = x->dims[1], m = w->dims[0];
    if (cin >= 0 && w->dims[1] >= 0 && cin != w->dims[1] * grp)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: X has %lld channels but W expects %lld (W.shape[1] %lld x group %lld)",
                       label(c, lab, sizeof lab), (long long)cin, (long long)(w->dims[1] * grp),
                       (long long)w->dims[1], (long long)grp);
    if (m >= 0 && m % grp)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: W has %lld output channels, not a multiple of group %lld",
                       label(c, lab, sizeof lab), (long long)m, (long long)grp);
    if (b) {
        if ((st = check_dtype(c, b, "B"))) return st;
        if (b->dtype != x->dtype || b->rank != 1 || (m >= 0 && b->dims[0] >= 0 && b->dims[0] != m))
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: bias B must be a 1-D %s tensor of %lld values",
                           label(c, lab, sizeof lab), ir_dtype_name(x->dtype), (long long)m);
    }
    if ((st = conv_out_shape(c, g))) return st;
    ydims[0] = x->dims[0];
    ydims[1] = m;
    for (int i = 0; i < nsp; i++) ydims[2 + i] = g->out[SP_MAX - nsp + i];
    *group = grp;
    return CALMA_OK;
}

static int conv_infer(ref_call *c) {
    conv_geom g;
    int64_t grp, ydims[IR_MAX_RANK];
    int st = conv_setup(c, &g, &grp, ydims);
    if (st) return st;
    if (c->n_out < 1) return fail(c, CALMA_E_INVALID, "has no output");
    ref_set_type(&c->out[0], ref_in(c, 0)->dtype, ref_in(c, 0)->rank, ydims);
    return CALMA_OK;
}

/* Copies n elements of a float or double buffer into a double buffer. */
static void to_double(const void *src, calma_dtype dt, size_t off, size_t n, double *dst) {
    if (dt == CALMA_DT_FLOAT) {
        const float *s = (const float *)src + off;
        for (size_t i = 0; i < n; i++) dst[i] = s[i];
    } else {
        memcpy(dst, (const double *)src + off, n * sizeof *dst);
    }
}

static void store(void *dst, calma_dtype dt, size_t i, double v) {
    if (dt == CALMA_DT_FLOAT)
        ((float *)dst)[i] = (float)v;
    else
        ((double *)dst)[i] = v;
}

static double load(const void *src, calma_dtype dt, size_t i) {
    return dt == CALMA_DT_FLOAT ? ((const float *)src)[i] : ((const double *)src)[i];
}

/* Register tile of the packed product: MR output channels x NR pixels. */
#define MR 4
#define NR 4

/* c[r*NR + j] = sum_k a[k*MR + r] * b[k*NR + j]. Written out by hand so the
 * sixteen sums live in registers; GCC pairs them into vector operations. */
static void micro_tile(int64_t kn, const double *restrict a, const double *restrict b,
                       double *restrict c) {
    double c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    double c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    for (int64_t k = 0; k < kn; k++) {
        double b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
        double a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
        c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
        c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
        c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
        a += MR;
        b += NR;
    }
    c[0] = c00, c[1] = c01, c[2] = c02, c[3] = c03;
    c[4] = c10, c[5] = c11, c[6] = c12, c[7] = c13;
    c[8] = c20, c[9] = c21, c[10] = c22, c[11] = c23;
    c[12] = c30, c[13] = c31, c[14] = c32, c[15] = c33;
}

/* Buffers and sizes of one Conv run. */
typedef struct conv_job {
    const conv_geom *g;
    int64_t cg, mg;   /* input / output channels per group */
    int64_t kn;       /* cg * kernel volume: the product's inner dimension */
    int64_t npix;     /* output pixels per channel */
    int64_t in_plane; /* input pixels per channel */
    int64_t chunk;    /* output pixels packed at once, a multiple of NR */
    double *xd;       /* one image, all channels, in double */
    double *ap;       /* packed weights of one group: [mg/MR][kn][MR] */
    double *bp;       /* packed patches: [chunk/NR][kn][NR] */
    int64_t *base;    /* per pixel of the chunk: first input coordinate x3 */
} conv_job;

/* Packs the weights of group gi (rows beyond mg are zero). */
static void pack_weights(const conv_job *j, const ir_tensor *w, int64_t gi) {
    int64_t mblocks = ceil_div(j->mg, MR);
    for (int64_t mb = 0; mb < mblocks; mb++) {
        double *dst = j->ap + mb * j->kn * MR;
        for (int r = 0; r < MR; r++) {
            int64_t m = mb * MR + r;
            for (int64_t k = 0; k < j->kn; k++)
                dst[k * MR + r] =
                    m < j->mg ? load(w->data, w->dtype, (size_t)((gi * j->mg + m) * j->kn + k))
                              : 0.0;
        }
    }
}

/* Packs the input patches of output pixels [p0, p0 + np) of group gi:
 * bp[pb][k][jj] is the input value that kernel tap k sees for pixel
 * p0 + pb*NR + jj, zero in the padding and for pixels past np. */
static void pack_patches(const conv_job *j, int64_t gi, int64_t p0, int64_t np) {
    const conv_geom *g = j->g;
    int64_t nb = ceil_div(np, NR);
    for (int64_t q = 0; q < nb * NR; q++) {
        int64_t p = p0 + q, o2 = p % g->out[2], o1 = (p / g->out[2]) % g->out[1],
                o0 = p / (g->out[2] * g->out[1]);
        j->base[3 * q] = o0 * g->s[0] - g->pb[0];
        j->base[3 * q + 1] = o1 * g->s[1] - g->pb[1];
        j->base[3 * q + 2] = o2 * g->s[2] - g->pb[2];
    }
    int64_t k = 0;
    for (int64_t ci = 0; ci < j->cg; ci++) {
        const double *xc = j->xd + (gi * j->cg + ci) * j->in_plane;
        for (int64_t k0 = 0; k0 < g->k[0]; k0++)
            for (int64_t k1 = 0; k1 < g->k[1]; k1++)
                for (int64_t k2 = 0; k2 < g->k[2]; k2++, k++) {
                    int64_t d0 = k0 * g->d[0], d1 = k1 * g->d[1], d2 = k2 * g->d[2];
                    for (int64_t q = 0; q < nb * NR; q++) {
                        int64_t i0 = j->base[3 * q] + d0, i1 = j->base[3 * q + 1] + d1,
                                i2 = j->base[3 * q + 2] + d2;
                        double v = 0.0;
                        if (q < np && i0 >= 0 && i0 < g->in[0] && i1 >= 0 && i1 < g->in[1] &&
                            i2 >= 0 && i2 < g->in[2])
                            v = xc[(i0 * g->in[1] + i1) * g->in[2] + i2];
                        j->bp[(q / NR) * j->kn * NR + k * NR + q % NR] = v;
                    }
                }
    }
}

/* Computes output channels of group gi for one image into y (image base). */
static void conv_group(const conv_job *j, int64_t gi, const ir_tensor *bias, void *y,
                       calma_dtype ydt) {
    int64_t mblocks = ceil_div(j->mg, MR);
    double tile[MR * NR];
    for (int64_t p0 = 0; p0 < j->npix; p0 += j->chunk) {
        int64_t np = j->npix - p0 < j->chunk ? j->npix - p0 : j->chunk;
        int64_t nb = ceil_div(np, NR);
        pack_patches(j, gi, p0, np);
        for (int64_t mb = 0; mb < mblocks; mb++) {
            const double *a = j->ap + mb * j->kn * MR;
            for (int64_t b = 0; b < nb; b++) {
                micro_tile(j->kn, a, j->bp + b * j->kn * NR, tile);
                for (int r = 0; r < MR; r++) {
                    int64_t m = mb * MR + r;
                    if (m >= j->mg) break;
                    int64_t oc = gi * j->mg + m;
                    double bv = bias ? load(bias->data, bias->dtype, (size_t)oc) : 0.0;
                    for (int jj = 0; jj < NR; jj++) {
                        int64_t q = b * NR + jj;
                        if (q >= np) break;
                        store(y, ydt, (size_t)(oc * j->npix + p0 + q), tile[r * NR + jj] + bv);
                    }
                }
            }
        }
    }
}

/* First index o in [0, n) with 0 <= o*s + c < in, and one past the last:
 * the output positions whose input tap lies inside the input. */
static void tap_range(int64_t c, int64_t s, int64_t in, int64_t n, int64_t *lo, int64_t *hi) {
    int64_t a = c >= 0 ? 0 : (-c + s - 1) / s;
    int64_t b = in - 1 - c >= 0 ? (in - 1 - c) / s + 1 : 0;
    if (b > n) b = n;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Group gi computed tap by tap into a double plane per output channel: for
 * groups with fewer output channels than a register tile (depthwise), where
 * packing would mostly multiply padding. The innermost loop runs along an
 * output row, contiguous in the input when the stride is 1. */
static void conv_direct_group(const conv_job *j, const ir_tensor *w, int64_t gi,
                              const ir_tensor *bias, void *y, calma_dtype ydt) {
    const conv_geom *g = j->g;
    double *acc = j->bp; /* at least npix doubles: see conv_run */
    for (int64_t m = 0; m < j->mg; m++) {
        int64_t oc = gi * j->mg + m;
        double bv = bias ? load(bias->data, bias->dtype, (size_t)oc) : 0.0;
        for (int64_t p = 0; p < j->npix; p++) acc[p] = bv;
        int64_t k = 0;
        for (int64_t ci = 0; ci < j->cg; ci++) {
            const double *xc = j->xd + (gi * j->cg + ci) * j->in_plane;
            for (int64_t k0 = 0; k0 < g->k[0]; k0++)
                for (int64_t k1 = 0; k1 < g->k[1]; k1++)
                    for (int64_t k2 = 0; k2 < g->k[2]; k2++, k++) {
                        double wv = load(w->data, w->dtype, (size_t)(oc * j->kn + k));
                        int64_t lo0, hi0, lo1, hi1, lo2, hi2;
                        int64_t c0 = k0 * g->d[0] - g->pb[0], c1 = k1 * g->d[1] - g->pb[1],
                                c2 = k2 * g->d[2] - g->pb[2];
                        tap_range(c0, g->s[0], g->in[0], g->out[0], &lo0, &hi0);
                        tap_range(c1, g->s[1], g->in[1], g->out[1], &lo1, &hi1);
                        tap_range(c2, g->s[2], g->in[2], g->out[2], &lo2, &hi2);
                        for (int64_t o0 = lo0; o0 < hi0; o0++)
                            for (int64_t o1 = lo1; o1 < hi1; o1++) {
                                const double *xrow =
                                    xc +
                                    ((o0 * g->s[0] + c0) * g->in[1] + o1 * g->s[1] + c1) * g->in[2];
                                double *restrict ar = acc + (o0 * g->out[1] + o1) * g->out[2];
                                int64_t s2 = g->s[2];
                                for (int64_t o2 = lo2; o2 < hi2; o2++)
                                    ar[o2] += wv * xrow[o2 * s2 + c2];
                            }
                    }
        }
        for (int64_t p = 0; p < j->npix; p++) store(y, ydt, (size_t)(oc * j->npix + p), acc[p]);
    }
}

static int conv_run(ref_call *c) {
    conv_geom g;
    int64_t grp, ydims[IR_MAX_RANK];
    int st = conv_setup(c, &g, &grp, ydims);
    if (st) return st;
    const ir_tensor *x = ref_in(c, 0), *w = ref_in(c, 1), *b = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    conv_job j = {0};
    j.g = &g;
    j.cg = x->dims[1] / grp;
    j.mg = w->dims[0] / grp;
    j.kn = j.cg * g.k[0] * g.k[1] * g.k[2];
    j.npix = g.out[0] * g.out[1] * g.out[2];
    j.in_plane = g.in[0] * g.in[1] * g.in[2];
    /* Keep a chunk's packed patches near 256 KiB so they stay in L2 while
     * every block of weights passes over them. */
    j.chunk = (32768 / (j.kn > 0 ? j.kn : 1)) / NR * NR;
    if (j.chunk < NR) j.chunk = NR;
    if (j.chunk > 256) j.chunk = 256;
    size_t ximg = (size_t)(x->dims[1] * j.in_plane);
    size_t ysz = (size_t)(w->dims[0] * j.npix);
    if (ysz == 0 || x->dims[0] == 0) return CALMA_OK;
    j.xd = malloc((ximg ? ximg : 1) * sizeof(double));
    j.ap = malloc((size_t)(ceil_div(j.mg, MR) * MR * (j.kn ? j.kn : 1)) * sizeof(double));
    /* bp doubles as the direct path's accumulator plane. */
    size_t bp_n = (size_t)(j.chunk * (j.kn ? j.kn : 1));
    if (j.mg < MR && bp_n < (size_t)j.npix) bp_n = (size_t)j.npix;
    j.bp = malloc(bp_n * sizeof(double));
    j.base = malloc((size_t)j.chunk * 3 * sizeof(int64_t));
    if (!j.xd || !j.ap || !j.bp || !j.base) {
        st = fail(c, CALMA_E_NOMEM, "out of memory for the convolution's work buffers");
        goto done;
    }
    for (int64_t n = 0; n < x->dims[0]; n++) {
        if (ximg) to_double(x->data, x->dtype, (size_t)n * ximg, ximg, j.xd);
        void *yimg = (char *)y->data + (size_t)n * ysz * ir_dtype_size(y->dtype);
        for (int64_t gi = 0; gi < grp; gi++) {
            if (j.mg < MR) {
                conv_direct_group(&j, w, gi, b, yimg, y->dtype);
                continue;
            }
            /* Packing per image costs 1/npix of the product. */
            pack_weights(&j, w, gi);
            conv_group(&j, gi, b, yimg, y->dtype);
        }
    }
done:
    free(j.xd);
    free(j.ap);
    free(j.bp);
    free(j.base);
    return st;
}

/* ---- ConvTranspose ---- */

static int convt_setup(ref_call *c, conv_geom *g, int64_t *group, int64_t *ydims) {
    char lab[256];
    const ir_tensor *x = ref_in(c, 0), *w = ref_in(c, 1), *b = ref_in(c, 2);
    int st;
    if ((st = check_xw(c, x, w))) return st;
    int nsp = x->rank - 2, off = SP_MAX - nsp;
    if ((st = parse_geom(c, nsp, w->dims + 2, g))) return st;
    if ((st = ref_attr_ints(c, "output_padding", (size_t)nsp, 0, 0, SP_ATTR_MAX, g->opad, SP_MAX)))
        return st;
    int64_t grp = ir_node_int(c->node, "group", 1);
    if (grp < 1 || grp > SP_ATTR_MAX)
        return err_set(c->err, CALMA_E_INVALID, "%s: group = %lld must be positive",
                       label(c, lab, sizeof lab), (long long)grp);
    int64_t cin = x->dims[1];
    if (cin >= 0 && w->dims[0] >= 0 && cin != w->dims[0])
        return err_set(c->err, CALMA_E_INVALID, "%s: X has %lld channels but W.shape[0] is %lld",
                       label(c, lab, sizeof lab), (long long)cin, (long long)w->dims[0]);
    if (cin >= 0 && cin % grp)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: X has %lld channels, not a multiple of group %lld",
                       label(c, lab, sizeof lab), (long long)cin, (long long)grp);
    int64_t m = w->dims[1] * grp;
    if (b) {
        if ((st = check_dtype(c, b, "B"))) return st;
        if (b->dtype != x->dtype || b->rank != 1 || (w->dims[1] >= 0 && b->dims[0] != m))
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: bias B must be a 1-D %s tensor of %lld values",
                           label(c, lab, sizeof lab), ir_dtype_name(x->dtype), (long long)m);
    }
    size_t nos;
    const int64_t *os = ir_node_ints(c->node, "output_shape", &nos);
    if (os && nos != (size_t)nsp && nos != (size_t)nsp + 2)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: output_shape has %zu values for %d spatial dimensions",
                       label(c, lab, sizeof lab), nos, nsp);
    if (os) os += nos - (size_t)nsp;
    for (int i = 0; i < nsp; i++) {
        int a = off + i;
        if (w->dims[2 + i] == 0) return fail(c, CALMA_E_INVALID, "W has an empty kernel dimension");
        g->in[a] = x->dims[2 + i];
        if (g->opad[a] >= g->s[a] && g->opad[a] >= g->d[a])
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: output_padding[%d] = %lld must be less than stride or dilation",
                           label(c, lab, sizeof lab), i, (long long)g->opad[a]);
        if (g->in[a] < 0 || g->k[a] < 0) {
            g->out[a] = -1;
            continue;
        }
        int64_t ek = (g->k[a] - 1) * g->d[a] + 1;
        int64_t full = g->s[a] * (g->in[a] - 1) + g->opad[a] + ek; /* before cropping */
        if (g->in[a] == 0) full = 0;
        int64_t out;
        if (os) {
            if (os[i] < 0 || os[i] > SP_DIM_MAX)
                return err_set(c->err, CALMA_E_INVALID, "%s: output_shape[%d] = %lld is invalid",
                               label(c, lab, sizeof lab), i, (long long)os[i]);
            out = os[i];
        } else if (g->auto_pad == PAD_SAME_UPPER || g->auto_pad == PAD_SAME_LOWER) {
            out = g->in[a] * g->s[a];
        } else {
            if (g->auto_pad == PAD_VALID) g->pb[a] = g->pe[a] = 0;
            out = g->in[a] == 0 ? 0 : full - g->pb[a] - g->pe[a];
        }
        if (os || g->auto_pad == PAD_SAME_UPPER || g->auto_pad == PAD_SAME_LOWER) {
            int64_t total = full - out;
            if (total < 0) total = 0; /* extra outputs past the full result get only the bias */
            if (g->auto_pad == PAD_SAME_UPPER) {
                g->pb[a] = total / 2;
                g->pe[a] = total - total / 2;
            } else {
                g->pb[a] = total - total / 2;
                g->pe[a] = total / 2;
            }
        }
        if (out < 0)
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: pads crop more than the whole output in spatial dimension %d",
                           label(c, lab, sizeof lab), i);
        g->out[a] = out;
    }
    ydims[0] = x->dims[0];
    ydims[1] = m;
    for (int i = 0; i < nsp; i++) ydims[2 + i] = g->out[off + i];
    *group = grp;
    return CALMA_OK;
}

static int convt_infer(ref_call *c) {
    conv_geom g;
    int64_t grp, ydims[IR_MAX_RANK];
    int st = convt_setup(c, &g, &grp, ydims);
    if (st) return st;
    if (c->n_out < 1) return fail(c, CALMA_E_INVALID, "has no output");
    ref_set_type(&c->out[0], ref_in(c, 0)->dtype, ref_in(c, 0)->rank, ydims);
    return CALMA_OK;
}

/* Scatters every input value times every kernel tap into a double plane
 * per output channel: y[o] += x[i] * w[k] where o = i*s - pb + k*d. */
static int convt_run(ref_call *c) {
    conv_geom g;
    int64_t grp, ydims[IR_MAX_RANK];
    int st = convt_setup(c, &g, &grp, ydims);
    if (st) return st;
    const ir_tensor *x = ref_in(c, 0), *w = ref_in(c, 1), *b = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int64_t cg = x->dims[1] / grp, mg = w->dims[1], m = mg * grp;
    int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
    int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
    int64_t kvol = g.k[0] * g.k[1] * g.k[2];
    size_t ysz = (size_t)(m * out_plane);
    if (ysz == 0 || x->dims[0] == 0) return CALMA_OK;
    double *acc = malloc(ysz * sizeof *acc);
    if (!acc) return fail(c, CALMA_E_NOMEM, "out of memory for the output accumulator");
    for (int64_t n = 0; n < x->dims[0]; n++) {
        for (int64_t oc = 0; oc < m; oc++) {
            double bv = b ? load(b->data, b->dtype, (size_t)oc) : 0.0;
            for (int64_t p = 0; p < out_plane; p++) acc[oc * out_plane + p] = bv;
        }
        for (int64_t gi = 0; gi < grp; gi++)
            for (int64_t ci = 0; ci < cg; ci++) {
                int64_t ic = gi * cg + ci;
                size_t xbase = (size_t)((n * x->dims[1] + ic) * in_plane);
                for (int64_t mi = 0; mi < mg; mi++) {
                    double *yc = acc + (gi * mg + mi) * out_plane;
                    size_t wbase = (size_t)((ic * mg + mi) * kvol);
                    int64_t kk = 0;
                    for (int64_t k0 = 0; k0 < g.k[0]; k0++)
                        for (int64_t k1 = 0; k1 < g.k[1]; k1++)
                            for (int64_t k2 = 0; k2 < g.k[2]; k2++, kk++) {
                                double wv = load(w->data, w->dtype, wbase + (size_t)kk);
                                for (int64_t i0 = 0; i0 < g.in[0]; i0++) {
                                    int64_t o0 = i0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                                    if (o0 < 0 || o0 >= g.out[0]) continue;
                                    for (int64_t i1 = 0; i1 < g.in[1]; i1++) {
                                        int64_t o1 = i1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                                        if (o1 < 0 || o1 >= g.out[1]) continue;
                                        size_t xrow =
                                            xbase + (size_t)((i0 * g.in[1] + i1) * g.in[2]);
                                        double *yrow = yc + (o0 * g.out[1] + o1) * g.out[2];
                                        for (int64_t i2 = 0; i2 < g.in[2]; i2++) {
                                            int64_t o2 = i2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                            if (o2 < 0 || o2 >= g.out[2]) continue;
                                            yrow[o2] +=
                                                wv * load(x->data, x->dtype, xrow + (size_t)i2);
                                        }
                                    }
                                }
                            }
                }
            }
        for (size_t i = 0; i < ysz; i++) store(y->data, y->dtype, (size_t)n * ysz + i, acc[i]);
    }
    free(acc);
    return CALMA_OK;
}

const ref_op ref_ops_conv[] = {
    {"Conv", conv_infer, conv_run},
    {"ConvTranspose", convt_infer, convt_run},
    {NULL, NULL, NULL},
};
