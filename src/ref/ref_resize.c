/* Resampling ops: Resize (opsets 10, 11, 13+) and Upsample (7, 9), after
 * the ONNX reference implementation: each output coordinate maps back to a
 * source coordinate per axis, which gives a few weighted source indices
 * (taps): one for nearest, two for linear, four for cubic; the output is
 * the sum over the product of the axes' taps. GridSample and RoiAlign
 * sample at given points instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_NN, CT_CROP };
enum { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct rs_plan {
    int mode, coord, nearest, exclude_outside;
    double cubic_a, extrapolation;
    int rank;
    int64_t out[IR_MAX_RANK];
    double scale[IR_MAX_RANK];
    double roi_start[IR_MAX_RANK], roi_end[IR_MAX_RANK];
} rs_plan;

static int pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* A present, non-empty optional input (ONNX writers pass empty tensors for
 * "not given"). */
static const ir_tensor *given(const ref_call *c, int i) {
    const ir_tensor *t = ref_in(c, i);
    if (!t || (t->rank == 1 && t->dims[0] == 0)) return NULL;
    return t;
}

static int rs_attrs(ref_call *c, rs_plan *p, int legacy) {
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel",           "pytorch_half_pixel",
                                         "align_corners",        "asymmetric",
                                         "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
    const char *m = ir_node_string(c->node, "mode", "nearest");
    p->mode = pick(m, modes, 3);
    if (legacy && !strcmp(m, "bilinear")) p->mode = RS_LINEAR;
    if (p->mode < 0 || (legacy && p->mode == RS_CUBIC))
        return err_set(c->err, CALMA_E_UNSUPPORTED, "mode '%s' is not supported", m);
    if (legacy) {
        /* Upsample and Resize-10 map coordinates asymmetrically and floor */
        p->coord = CT_ASYM;
        p->nearest = NM_FLOOR;
    } else {
        const char *ct = ir_node_string(c->node, "coordinate_transformation_mode", "half_pixel");
        p->coord = pick(ct, coords, 6);
        if (p->coord < 0)
            return err_set(c->err, CALMA_E_UNSUPPORTED,
                           "coordinate_transformation_mode '%s' is not supported", ct);
        const char *nm = ir_node_string(c->node, "nearest_mode", "round_prefer_floor");
        p->nearest = pick(nm, nearest, 4);
        if (p->nearest < 0)
            return err_set(c->err, CALMA_E_UNSUPPORTED, "nearest_mode '%s' is not supported", nm);
    }
    p->cubic_a = ir_node_float(c->node, "cubic_coeff_a", -0.75f);
    p->exclude_outside = (int)ir_node_int(c->node, "exclude_outside", 0);
    p->extrapolation = ir_node_float(c->node, "extrapolation_value", 0.0f);
    if (ir_node_int(c->node, "antialias", 0))
        return err_set(c->err, CALMA_E_UNSUPPORTED, "antialias is not supported");
    const char *kar = ir_node_string(c->node, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kar, "stretch"))
        return err_set(c->err, CALMA_E_UNSUPPORTED,
                       "keep_aspect_ratio_policy '%s' is not supported", kar);
    return CALMA_OK;
}

/* Which input holds roi, scales and sizes in this op version (-1: none). */
static void rs_slots(const ref_call *c, int upsample, int *roi, int *scales, int *sizes) {
    *roi = *scales = *sizes = -1;
    if (upsample) {
        if (c->opset >= 9) *scales = 1;
    } else if (c->opset < 11) {
        *scales = 1;
    } else {
        *roi = 1;
        *scales = 2;
        *sizes = 3;
    }
}

static int rs_plan_make(ref_call *c, rs_plan *p, int upsample) {
    const ir_tensor *x = ref_in(c, 0);
    if (!x) return err_set(c->err, CALMA_E_INVALID, "input 0 is required");
    memset(p, 0, sizeof *p);
    int r = p->rank = x->rank;
    int rc = rs_attrs(c, p, upsample || c->opset < 11);
    if (rc) return rc;
    int iroi, isc, isz;
    rs_slots(c, upsample, &iroi, &isc, &isz);
    const ir_tensor *roi = iroi >= 0 ? given(c, iroi) : NULL;
    const ir_tensor *sc = isc >= 0 ? given(c, isc) : NULL;
    const ir_tensor *sz = isz >= 0 ? given(c, isz) : NULL;
    if ((sc && !sc->data) || (sz && !sz->data) || (roi && !roi->data)) return REF_NEED_VALUE;
    size_t na;
    const int64_t *axes_attr = ir_node_ints(c->node, "axes", &na);
    int axes[IR_MAX_RANK], nax = r;
    for (int d = 0; d < r; d++) axes[d] = d;
    if (axes_attr) {
        if (na > (size_t)r) return err_set(c->err, CALMA_E_INVALID, "too many axes");
        nax = (int)na;
        for (int i = 0; i < nax; i++) {
            int64_t a = axes_attr[i] < 0 ? axes_attr[i] + r : axes_attr[i];
            if (a < 0 || a >= r)
                return err_set(c->err, CALMA_E_INVALID, "axis %lld is out of range",
                               (long long)axes_attr[i]);
            axes[i] = (int)a;
        }
    }
    for (int d = 0; d < r; d++) {
        p->scale[d] = 1.0;
        p->out[d] = x->dims[d];
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
    }
    if (roi && p->coord == CT_CROP) {
        if (ir_tensor_numel(roi) != (size_t)(2 * nax))
            return err_set(c->err, CALMA_E_INVALID, "roi has %zu values, expected %d",
                           ir_tensor_numel(roi), 2 * nax);
        for (int i = 0; i < nax; i++) {
            p->roi_start[axes[i]] = ir_tensor_get_f64(roi, (size_t)i);
            p->roi_end[axes[i]] = ir_tensor_get_f64(roi, (size_t)(i + nax));
        }
    }
    if (sz) {
        if (sc) return err_set(c->err, CALMA_E_INVALID, "scales and sizes are both given");
        if (ir_tensor_numel(sz) != (size_t)nax)
            return err_set(c->err, CALMA_E_INVALID, "sizes has %zu values, expected %d",
                           ir_tensor_numel(sz), nax);
        for (int i = 0; i < nax; i++) {
            int d = axes[i];
            int64_t s = ir_tensor_get_i64(sz, (size_t)i);
            if (s < 0) return err_set(c->err, CALMA_E_INVALID, "sizes[%d] is negative", i);
            p->out[d] = s;
            p->scale[d] = x->dims[d] ? (double)(float)((double)s / (double)x->dims[d]) : 1.0;
        }
        return CALMA_OK;
    }
    size_t ns = 0;
    const float *sattr = NULL;
    if (upsample && c->opset < 9) {
        sattr = ir_node_floats(c->node, "scales", &ns);
        if (!sattr) return err_set(c->err, CALMA_E_INVALID, "attribute 'scales' is required");
    } else if (sc) {
        ns = ir_tensor_numel(sc);
    } else {
        return err_set(c->err, CALMA_E_INVALID, "neither scales nor sizes is given");
    }
    if (ns != (size_t)nax)
        return err_set(c->err, CALMA_E_INVALID, "scales has %zu values, expected %d", ns, nax);
    for (int i = 0; i < nax; i++) {
        int d = axes[i];
        double s = sattr ? sattr[i] : ir_tensor_get_f64(sc, (size_t)i);
        if (!(s > 0) || s > 1e6) return err_set(c->err, CALMA_E_INVALID, "scales[%d] is %g", i, s);
        p->scale[d] = s;
        double o = floor(s * (double)x->dims[d]);
        if (o > 1e12)
            return err_set(c->err, CALMA_E_INVALID, "output dimension %d is too large", d);
        p->out[d] = (int64_t)o;
    }
    return CALMA_OK;
}

/* Source coordinate of output index x along one axis; *outside when a
 * tf_crop_and_resize coordinate falls off the input. */
static double rs_source(const rs_plan *p, int d, int64_t xo, int64_t len_in, int *outside) {
    double scale = p->scale[d], x = (double)xo;
    double len_out = scale * (double)len_in;
    *outside = 0;
    switch (p->coord) {
    case CT_ALIGN:
        return len_out == 1 ? 0.0 : x * (double)(len_in - 1) / (len_out - 1);
    case CT_ASYM:
        return x / scale;
    case CT_TF_NN:
        return (x + 0.5) / scale;
    case CT_PYTORCH:
        return len_out == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case CT_CROP: {
        double s = p->roi_start[d], e = p->roi_end[d], v;
        if (len_out == 1)
            v = (e - s) * (double)(len_in - 1) / 2;
        else
            v = x * (e - s) * (double)(len_in - 1) / (len_out - 1);
        v += s * (double)(len_in - 1);
        if (v < 0 || v > (double)(len_in - 1)) *outside = 1;
        return v;
    }
    default:
        return (x + 0.5) / scale - 0.5;
    }
}

static int64_t clampi(int64_t i, int64_t n) {
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

typedef struct rs_taps {
    int n;
    int64_t idx[4];
    double w[4];
    int outside;
} rs_taps;

static void rs_cubic(double r, double a, double *c) {
    double t = r + 1, u = 1 - r, v = 2 - r;
    c[0] = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
    c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
    c[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

static void rs_make_taps(const rs_plan *p, int d, int64_t xo, int64_t len, rs_taps *t) {
    double x = rs_source(p, d, xo, len, &t->outside);
    double f = floor(x);
    int64_t x0 = (int64_t)f;
    int integral = x == f;
    double r = x - f;
    if (p->mode == RS_NEAREST) {
        int64_t i = x0;
        if (!integral) {
            int up = p->nearest == NM_CEIL || (p->nearest == NM_PREFER_FLOOR && r > 0.5) ||
                     (p->nearest == NM_PREFER_CEIL && r >= 0.5);
            i = up ? x0 + 1 : x0;
        }
        t->n = 1;
        t->idx[0] = clampi(i, len);
        t->w[0] = 1;
    } else if (p->mode == RS_LINEAR) {
        t->n = 2;
        t->idx[0] = clampi(x0, len);
        t->idx[1] = clampi(x0 + 1, len);
        t->w[0] = 1 - r;
        t->w[1] = r;
    } else {
        /* the reference takes ratio 1 at integral points: taps x-2..x+1 */
        if (integral) {
            r = 1;
            x0 -= 1;
        }
        double c[4];
        rs_cubic(r, p->cubic_a, c);
        double sum = 0;
        t->n = 4;
        for (int k = 0; k < 4; k++) {
            int64_t i = x0 - 1 + k;
            if (p->exclude_outside && (i < 0 || i >= len)) c[k] = 0;
            sum += c[k];
            t->idx[k] = clampi(i, len);
            t->w[k] = c[k];
        }
        if (p->exclude_outside && sum != 0)
            for (int k = 0; k < 4; k++) t->w[k] /= sum;
    }
}

static int resize_infer_common(ref_call *c, int upsample) {
    rs_plan p;
    int rc = rs_plan_make(c, &p, upsample);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] == 0 && p.out[d] > 0)
            return err_set(c->err, CALMA_E_INVALID, "cannot resize empty dimension %d", d);
    ref_set_type(&c->out[0], x->dtype, x->rank, p.out);
    return CALMA_OK;
}

static int resize_run_common(ref_call *c, int upsample) {
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    rs_plan p;
    int rc = rs_plan_make(c, &p, upsample);
    if (rc) return rc;
    int r = x->rank;
    size_t es = ir_dtype_size(x->dtype), n = ir_tensor_numel(y);
    if (!n) return CALMA_OK;
    /* taps per axis and output index, computed once */
    rs_taps *taps[IR_MAX_RANK] = {0};
    int64_t st[IR_MAX_RANK];
    int64_t stride = 1;
    for (int d = r - 1; d >= 0; d--) {
        st[d] = stride;
        stride *= x->dims[d];
    }
    for (int d = 0; d < r; d++) {
        taps[d] = malloc(sizeof(rs_taps) * (size_t)y->dims[d]);
        if (!taps[d]) {
            rc = err_set(c->err, CALMA_E_NOMEM, "out of memory");
            goto done;
        }
        for (int64_t o = 0; o < y->dims[d]; o++) rs_make_taps(&p, d, o, x->dims[d], &taps[d][o]);
    }
    int64_t idx[IR_MAX_RANK] = {0};
    int is_float = x->dtype == CALMA_DT_FLOAT || x->dtype == CALMA_DT_DOUBLE;
    for (size_t o = 0; o < n; o++) {
        const rs_taps *t[IR_MAX_RANK];
        int outside = 0;
        for (int d = 0; d < r; d++) {
            t[d] = &taps[d][idx[d]];
            outside |= t[d]->outside;
        }
        if (outside) {
            ir_tensor_set_f64(y, o, p.extrapolation);
        } else if (p.mode == RS_NEAREST) {
            int64_t off = 0;
            for (int d = 0; d < r; d++) off += t[d]->idx[0] * st[d];
            memcpy((char *)y->data + o * es, (const char *)x->data + (size_t)off * es, es);
        } else {
            /* sum over every combination of taps, in the reference's order */
            int k[IR_MAX_RANK] = {0};
            double acc = 0;
            for (;;) {
                int64_t off = 0;
                double w = 1;
                for (int d = 0; d < r; d++) {
                    off += t[d]->idx[k[d]] * st[d];
                    w *= t[d]->w[k[d]];
                }
                if (w != 0) acc += w * ir_tensor_get_f64(x, (size_t)off);
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++k[d] < t[d]->n) break;
                    k[d] = 0;
                }
                if (d < 0) break;
            }
            ir_tensor_set_f64(y, o, is_float ? acc : nearbyint(acc));
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
done:
    for (int d = 0; d < r; d++) free(taps[d]);
    return rc;
}

static int resize_infer(ref_call *c) {
    return resize_infer_common(c, 0);
}
static int resize_run(ref_call *c) {
    return resize_run_common(c, 0);
}
static int upsample_infer(ref_call *c) {
    return resize_infer_common(c, 1);
}
static int upsample_run(ref_call *c) {
    return resize_run_common(c, 1);
}

/* ---- GridSample (opset 16), following PyTorch's grid_sampler_2d, which
 * the ONNX test data was made with ---- */

enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

static double gs_reflect(double x, double twice_low, double twice_high) {
    if (twice_low == twice_high) return 0;
    double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
    x = fabs(x - lo);
    double extra = fmod(x, span);
    double flips = floor(x / span);
    return fmod(flips, 2) == 0 ? extra + lo : span - extra + lo;
}

/* Applies the padding mode to a source coordinate (border and reflection
 * pull it inside; zeros leaves it for the bounds check). */
static double gs_pad(double x, int64_t size, int pad, int align) {
    if (pad == GS_BORDER) {
        x = x < 0 ? 0 : (x > (double)(size - 1) ? (double)(size - 1) : x);
    } else if (pad == GS_REFLECTION) {
        x = align ? gs_reflect(x, 0, 2.0 * (double)(size - 1))
                  : gs_reflect(x, -1, 2.0 * (double)size - 1);
        x = x < 0 ? 0 : (x > (double)(size - 1) ? (double)(size - 1) : x);
    }
    return x;
}

static double gs_unnorm(double g, int64_t size, int align) {
    return align ? (g + 1) / 2 * (double)(size - 1) : ((g + 1) * (double)size - 1) / 2;
}

static double gs_at(const ir_tensor *x, size_t plane, int64_t H, int64_t W, int64_t yy,
                    int64_t xx) {
    if (yy < 0 || yy >= H || xx < 0 || xx >= W) return 0;
    return ir_tensor_get_f64(x, plane + (size_t)(yy * W + xx));
}

typedef struct gs_mode {
    int mode, pad, align;
} gs_mode;

static int gs_attrs(ref_call *c, gs_mode *m) {
    const char *mode = ir_node_string(c->node, "mode", "bilinear");
    const char *pad = ir_node_string(c->node, "padding_mode", "zeros");
    m->align = (int)ir_node_int(c->node, "align_corners", 0);
    if (!strcmp(mode, "bilinear") || !strcmp(mode, "linear"))
        m->mode = RS_LINEAR;
    else if (!strcmp(mode, "nearest"))
        m->mode = RS_NEAREST;
    else if (!strcmp(mode, "bicubic") || !strcmp(mode, "cubic"))
        m->mode = RS_CUBIC;
    else
        return err_set(c->err, CALMA_E_UNSUPPORTED, "mode '%s' is not supported", mode);
    if (!strcmp(pad, "zeros"))
        m->pad = GS_ZEROS;
    else if (!strcmp(pad, "border"))
        m->pad = GS_BORDER;
    else if (!strcmp(pad, "reflection"))
        m->pad = GS_REFLECTION;
    else
        return err_set(c->err, CALMA_E_UNSUPPORTED, "padding_mode '%s' is not supported", pad);
    return CALMA_OK;
}

static int grid_sample_infer(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *grid = ref_in(c, 1);
    if (!x || !grid) return err_set(c->err, CALMA_E_INVALID, "needs X and grid");
    gs_mode m;
    int rc = gs_attrs(c, &m);
    if (rc) return rc;
    if (x->rank != 4 || grid->rank != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
        return err_set(c->err, CALMA_E_UNSUPPORTED,
                       "only 2-D sampling: X [N,C,H,W] and grid [N,Hout,Wout,2]");
    if (x->dtype != CALMA_DT_FLOAT && x->dtype != CALMA_DT_DOUBLE)
        return err_set(c->err, CALMA_E_UNSUPPORTED, "dtype %s is not supported",
                       ir_dtype_name(x->dtype));
    int64_t d[4] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2]};
    ref_set_type(&c->out[0], x->dtype, 4, d);
    return CALMA_OK;
}

static double gs_sample(const ir_tensor *x, size_t plane, int64_t H, int64_t W, double gx,
                        double gy, const gs_mode *m, double a) {
    double ix = gs_unnorm(gx, W, m->align), iy = gs_unnorm(gy, H, m->align);
    if (m->mode == RS_CUBIC) {
        /* taps are padded one by one, from the unpadded coordinate */
        double fx = floor(ix), fy = floor(iy), cx[4], cy[4], acc = 0;
        rs_cubic(ix - fx, a, cx);
        rs_cubic(iy - fy, a, cy);
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 4; i++) {
                double px = gs_pad(fx - 1 + i, W, m->pad, m->align);
                double py = gs_pad(fy - 1 + j, H, m->pad, m->align);
                acc += cx[i] * cy[j] * gs_at(x, plane, H, W, (int64_t)py, (int64_t)px);
            }
        return acc;
    }
    ix = gs_pad(ix, W, m->pad, m->align);
    iy = gs_pad(iy, H, m->pad, m->align);
    if (m->mode == RS_NEAREST)
        return gs_at(x, plane, H, W, (int64_t)nearbyint(iy), (int64_t)nearbyint(ix));
    double fx = floor(ix), fy = floor(iy), rx = ix - fx, ry = iy - fy;
    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
    return gs_at(x, plane, H, W, y0, x0) * (1 - rx) * (1 - ry) +
           gs_at(x, plane, H, W, y0, x0 + 1) * rx * (1 - ry) +
           gs_at(x, plane, H, W, y0 + 1, x0) * (1 - rx) * ry +
           gs_at(x, plane, H, W, y0 + 1, x0 + 1) * rx * ry;
}

static int grid_sample_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *grid = ref_in(c, 1);
    ir_tensor *y = &c->out[0];
    gs_mode m;
    gs_attrs(c, &m);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t HO = y->dims[2], WO = y->dims[3];
    size_t o = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            size_t plane = (size_t)((n * C + ch) * H * W);
            for (int64_t h = 0; h < HO; h++)
                for (int64_t w = 0; w < WO; w++, o++) {
                    size_t g = (size_t)(((n * HO + h) * WO + w) * 2);
                    double gx = ir_tensor_get_f64(grid, g), gy = ir_tensor_get_f64(grid, g + 1);
                    double v = 0;
                    /* a NaN or huge grid value samples nothing rather than overflowing */
                    if (fabs(gx) < 1e6 && fabs(gy) < 1e6)
                        v = gs_sample(x, plane, H, W, gx, gy, &m, -0.75);
                    ir_tensor_set_f64(y, o, v);
                }
        }
    return CALMA_OK;
}

/* ---- RoiAlign (opsets 10, 16), following ONNX Runtime's kernel (which
 * the test data matches): each output bin averages (or takes the max of)
 * bilinear samples on a regular grid inside the bin. ---- */

static int roi_align_infer(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *rois = ref_in(c, 1), *bi = ref_in(c, 2);
    if (!x || !rois || !bi) return err_set(c->err, CALMA_E_INVALID, "needs X, rois, batch_indices");
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 ||
        bi->dims[0] != rois->dims[0])
        return err_set(c->err, CALMA_E_INVALID,
                       "X must be [N,C,H,W], rois [R,4] and batch_indices [R]");
    if (x->dtype != CALMA_DT_FLOAT && x->dtype != CALMA_DT_DOUBLE)
        return err_set(c->err, CALMA_E_UNSUPPORTED, "dtype %s is not supported",
                       ir_dtype_name(x->dtype));
    const char *mode = ir_node_string(c->node, "mode", "avg");
    if (strcmp(mode, "avg") && strcmp(mode, "max"))
        return err_set(c->err, CALMA_E_UNSUPPORTED, "mode '%s' is not supported", mode);
    int64_t oh = ir_node_int(c->node, "output_height", 1),
            ow = ir_node_int(c->node, "output_width", 1);
    if (oh < 1 || ow < 1 || ir_node_int(c->node, "sampling_ratio", 0) < 0)
        return err_set(c->err, CALMA_E_INVALID, "output size and sampling_ratio must be positive");
    int64_t d[4] = {rois->dims[0], x->dims[1], oh, ow};
    ref_set_type(&c->out[0], x->dtype, 4, d);
    return CALMA_OK;
}

/* One bilinear sample at (y, x), or 0 outside [-1, size]. max mode keeps
 * the largest weighted corner, as ONNX Runtime does. */
static double roi_sample(const ir_tensor *x, size_t plane, int64_t H, int64_t W, double y,
                         double xx, int is_max) {
    if (y < -1.0 || y > (double)H || xx < -1.0 || xx > (double)W) return 0;
    if (y <= 0) y = 0;
    if (xx <= 0) xx = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)xx, y1, x1;
    if (y0 >= H - 1) {
        y0 = y1 = H - 1;
        y = (double)y0;
    } else {
        y1 = y0 + 1;
    }
    if (x0 >= W - 1) {
        x0 = x1 = W - 1;
        xx = (double)x0;
    } else {
        x1 = x0 + 1;
    }
    double ly = y - (double)y0, lx = xx - (double)x0, hy = 1 - ly, hx = 1 - lx;
    double v[4] = {hy * hx * ir_tensor_get_f64(x, plane + (size_t)(y0 * W + x0)),
                   hy * lx * ir_tensor_get_f64(x, plane + (size_t)(y0 * W + x1)),
                   ly * hx * ir_tensor_get_f64(x, plane + (size_t)(y1 * W + x0)),
                   ly * lx * ir_tensor_get_f64(x, plane + (size_t)(y1 * W + x1))};
    if (!is_max) return v[0] + v[1] + v[2] + v[3];
    double m = v[0];
    for (int k = 1; k < 4; k++) m = v[k] > m ? v[k] : m;
    return m;
}

static int roi_align_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *rois = ref_in(c, 1), *bi = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int is_max = !strcmp(ir_node_string(c->node, "mode", "avg"), "max");
    /* opset 10 had no attribute and behaved as output_half_pixel */
    const char *ct = ir_node_string(c->node, "coordinate_transformation_mode",
                                    c->opset >= 16 ? "half_pixel" : "output_half_pixel");
    int half = !strcmp(ct, "half_pixel");
    if (!half && strcmp(ct, "output_half_pixel"))
        return err_set(c->err, CALMA_E_UNSUPPORTED,
                       "coordinate_transformation_mode '%s' is not supported", ct);
    double scale = ir_node_float(c->node, "spatial_scale", 1.0f), off = half ? 0.5 : 0.0;
    int64_t sr = ir_node_int(c->node, "sampling_ratio", 0);
    int64_t R = rois->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t PH = y->dims[2], PW = y->dims[3];
    size_t o = 0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = ir_tensor_get_i64(bi, (size_t)r);
        if (b < 0 || b >= x->dims[0])
            return err_set(c->err, CALMA_E_INVALID, "batch index %lld of roi %lld is out of range",
                           (long long)b, (long long)r);
        double sx = ir_tensor_get_f64(rois, (size_t)r * 4) * scale - off;
        double sy = ir_tensor_get_f64(rois, (size_t)r * 4 + 1) * scale - off;
        double ex = ir_tensor_get_f64(rois, (size_t)r * 4 + 2) * scale - off;
        double ey = ir_tensor_get_f64(rois, (size_t)r * 4 + 3) * scale - off;
        double rw = ex - sx, rh = ey - sy;
        if (!half) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        if (!(fabs(rw) < 1e9 && fabs(rh) < 1e9))
            return err_set(c->err, CALMA_E_INVALID, "roi %lld is not finite", (long long)r);
        double bh = rh / (double)PH, bw = rw / (double)PW;
        int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)PH);
        int64_t gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)PW);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;
        for (int64_t ch = 0; ch < C; ch++) {
            size_t plane = (size_t)((b * C + ch) * H * W);
            for (int64_t ph = 0; ph < PH; ph++)
                for (int64_t pw = 0; pw < PW; pw++, o++) {
                    double acc = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = sy + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = sx + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double v = roi_sample(x, plane, H, W, yy, xx, is_max);
                            if (!is_max)
                                acc += v;
                            else if (first || v > acc)
                                acc = v;
                            first = 0;
                        }
                    }
                    ir_tensor_set_f64(y, o, is_max ? acc : acc / count);
                }
        }
    }
    return CALMA_OK;
}

const ref_op ref_ops_resize[] = {
    {"Resize", resize_infer, resize_run},
    {"Upsample", upsample_infer, upsample_run},
    {"GridSample", grid_sample_infer, grid_sample_run},
    {"RoiAlign", roi_align_infer, roi_align_run},
    {NULL, NULL, NULL},
};
