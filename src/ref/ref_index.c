/* Indexing and rearranging ops beyond the basic shape family: GatherND,
 * ScatterElements/Scatter, ScatterND, DepthToSpace, SpaceToDepth, OneHot,
 * EyeLike, Compress, ReverseSequence, NonZero, Unique, NonMaxSuppression.
 * Data moves by byte copies, so every element type works; reductions go
 * through double. */
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"
#include "util/mem.h"

static int need_in(ref_call *c, int n) {
    for (int i = 0; i < n; i++)
        if (!ref_in(c, i)) return err_set(c->err, CALMA_E_INVALID, "input %d is required", i);
    return CALMA_OK;
}

static int is_index(const ir_tensor *t) {
    return t->dtype == CALMA_DT_INT64 || t->dtype == CALMA_DT_INT32;
}

static int norm_axis(ref_call *c, int64_t axis, int rank, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return err_set(c->err, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                       (long long)axis, rank);
    *out = (int)a;
    return CALMA_OK;
}

static size_t prod(const int64_t *d, int from, int to) {
    size_t p = 1;
    for (int i = from; i < to; i++) p *= (size_t)d[i];
    return p;
}

/* An index value made non-negative, or an error naming it. */
static int fix_index(ref_call *c, int64_t v, int64_t dim, size_t where, int64_t *out) {
    if (v < -dim || v >= dim)
        return err_set(c->err, CALMA_E_INVALID,
                       "index %lld (element %zu) is out of range for a dimension of size %lld",
                       (long long)v, where, (long long)dim);
    *out = v < 0 ? v + dim : v;
    return CALMA_OK;
}

/* ---- GatherND ---- */

static int gather_nd_infer(ref_call *c) {
    int rc = need_in(c, 2);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    int64_t b = ir_node_int(c->node, "batch_dims", 0);
    if (!is_index(ix) || ix->rank < 1)
        return err_set(c->err, CALMA_E_INVALID, "indices must be int64 of rank >= 1");
    int64_t last = ix->dims[ix->rank - 1];
    if (b < 0 || b >= ix->rank || b >= x->rank || last < 1 || b + last > x->rank)
        return err_set(c->err, CALMA_E_INVALID,
                       "batch_dims %lld and an index length of %lld do not fit data of rank %d",
                       (long long)b, (long long)last, x->rank);
    for (int i = 0; i < b; i++)
        if (x->dims[i] != ix->dims[i])
            return err_set(c->err, CALMA_E_INVALID, "batch dimension %d differs", i);
    int64_t d[IR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < ix->rank - 1; i++) d[r++] = ix->dims[i];
    for (int i = (int)(b + last); i < x->rank; i++) {
        if (r >= IR_MAX_RANK) return err_set(c->err, CALMA_E_INVALID, "output rank too high");
        d[r++] = x->dims[i];
    }
    ref_set_type(&c->out[0], x->dtype, r, d);
    return CALMA_OK;
}

static int gather_nd_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    int b = (int)ir_node_int(c->node, "batch_dims", 0);
    int q = ix->rank;
    int last = (int)ix->dims[q - 1];
    size_t es = ir_dtype_size(x->dtype), slice = prod(x->dims, b + last, x->rank) * es;
    size_t per_batch = prod(ix->dims, b, q - 1), n = prod(ix->dims, 0, q - 1);
    size_t data_batch = prod(x->dims, b, x->rank);
    char *y = c->out[0].data;
    for (size_t p = 0; p < n; p++) {
        size_t batch = per_batch ? p / per_batch : 0, off = batch * data_batch;
        for (int k = 0; k < last; k++) {
            int64_t v = 0;
            size_t where = p * (size_t)last + (size_t)k;
            int rc = fix_index(c, ir_tensor_get_i64(ix, where), x->dims[b + k], where, &v);
            if (rc) return rc;
            off += (size_t)v * prod(x->dims, b + k + 1, x->rank);
        }
        memcpy(y + p * slice, (const char *)x->data + off * es, slice);
    }
    return CALMA_OK;
}

/* ---- ScatterElements, Scatter, ScatterND ---- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction(ref_call *c, int *out) {
    const char *r = ir_node_string(c->node, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(r, names[i])) {
            *out = i;
            return CALMA_OK;
        }
    return err_set(c->err, CALMA_E_UNSUPPORTED, "reduction '%s' is not supported", r);
}

static void combine(ir_tensor *y, size_t dst, const ir_tensor *u, size_t src, int red, size_t es) {
    if (red == RED_NONE) {
        memcpy((char *)y->data + dst * es, (const char *)u->data + src * es, es);
        return;
    }
    double a = ir_tensor_get_f64(y, dst), b = ir_tensor_get_f64(u, src), r;
    switch (red) {
    case RED_ADD:
        r = a + b;
        break;
    case RED_MUL:
        r = a * b;
        break;
    case RED_MAX:
        r = a > b ? a : b;
        break;
    default:
        r = a < b ? a : b;
        break;
    }
    ir_tensor_set_f64(y, dst, r);
}

static int scatter_elements_infer(ref_call *c) {
    int rc = need_in(c, 3);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1), *u = ref_in(c, 2);
    int axis = 0, red = 0;
    if ((rc = norm_axis(c, ir_node_int(c->node, "axis", 0), x->rank, &axis))) return rc;
    if ((rc = reduction(c, &red))) return rc;
    if (!is_index(ix)) return err_set(c->err, CALMA_E_INVALID, "indices must be int32 or int64");
    if (u->dtype != x->dtype || ix->rank != x->rank || u->rank != x->rank)
        return err_set(c->err, CALMA_E_INVALID, "data, indices and updates do not match");
    for (int d = 0; d < x->rank; d++)
        if (ix->dims[d] != u->dims[d] || (d != axis && ix->dims[d] > x->dims[d]))
            return err_set(c->err, CALMA_E_INVALID, "indices and updates differ at dimension %d",
                           d);
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int scatter_elements_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1), *u = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int axis = 0, red = 0, r = x->rank;
    norm_axis(c, ir_node_int(c->node, "axis", 0), r, &axis);
    reduction(c, &red);
    memcpy(y->data, x->data, x->nbytes);
    size_t es = ir_dtype_size(x->dtype), n = ir_tensor_numel(ix);
    int64_t idx[IR_MAX_RANK] = {0};
    size_t st[IR_MAX_RANK];
    for (int d = 0; d < r; d++) st[d] = prod(x->dims, d + 1, r);
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        int rc = fix_index(c, ir_tensor_get_i64(ix, i), x->dims[axis], i, &v);
        if (rc) return rc;
        size_t off = 0;
        for (int d = 0; d < r; d++) off += (size_t)(d == axis ? v : idx[d]) * st[d];
        combine(y, off, u, i, red, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < ix->dims[d]) break;
            idx[d] = 0;
        }
    }
    return CALMA_OK;
}

static int scatter_nd_infer(ref_call *c) {
    int rc = need_in(c, 3);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1), *u = ref_in(c, 2);
    int red;
    if ((rc = reduction(c, &red))) return rc;
    if (!is_index(ix) || ix->rank < 1)
        return err_set(c->err, CALMA_E_INVALID, "indices must be int64 of rank >= 1");
    int64_t k = ix->dims[ix->rank - 1];
    if (k < 1 || k > x->rank || u->dtype != x->dtype || u->rank != ix->rank - 1 + x->rank - (int)k)
        return err_set(c->err, CALMA_E_INVALID, "indices and updates do not fit the data");
    for (int i = 0; i < ix->rank - 1; i++)
        if (u->dims[i] != ix->dims[i])
            return err_set(c->err, CALMA_E_INVALID, "updates differ from indices at dimension %d",
                           i);
    for (int i = (int)k; i < x->rank; i++)
        if (u->dims[ix->rank - 1 + i - (int)k] != x->dims[i])
            return err_set(c->err, CALMA_E_INVALID, "updates differ from data at dimension %d", i);
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int scatter_nd_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1), *u = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int red = 0;
    reduction(c, &red);
    memcpy(y->data, x->data, x->nbytes);
    int k = (int)ix->dims[ix->rank - 1];
    size_t es = ir_dtype_size(x->dtype), slice = prod(x->dims, k, x->rank);
    size_t n = prod(ix->dims, 0, ix->rank - 1);
    for (size_t p = 0; p < n; p++) {
        size_t off = 0;
        for (int j = 0; j < k; j++) {
            int64_t v = 0;
            size_t where = p * (size_t)k + (size_t)j;
            int rc = fix_index(c, ir_tensor_get_i64(ix, where), x->dims[j], where, &v);
            if (rc) return rc;
            off += (size_t)v * prod(x->dims, j + 1, x->rank);
        }
        for (size_t e = 0; e < slice; e++) combine(y, off + e, u, p * slice + e, red, es);
    }
    return CALMA_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

static int d2s_infer(ref_call *c) {
    int rc = need_in(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t b = ir_node_int(c->node, "blocksize", 0);
    if (x->rank != 4 || b < 1 || x->dims[1] % (b * b))
        return err_set(c->err, CALMA_E_INVALID,
                       "needs a 4-D input whose channels divide by blocksize^2 (blocksize %lld)",
                       (long long)b);
    const char *mode = ir_node_string(c->node, "mode", "DCR");
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return err_set(c->err, CALMA_E_UNSUPPORTED, "mode '%s' is not supported", mode);
    int64_t d[4] = {x->dims[0], x->dims[1] / (b * b), x->dims[2] * b, x->dims[3] * b};
    ref_set_type(&c->out[0], x->dtype, 4, d);
    return CALMA_OK;
}

static int s2d_infer(ref_call *c) {
    int rc = need_in(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t b = ir_node_int(c->node, "blocksize", 0);
    if (x->rank != 4 || b < 1 || x->dims[2] % b || x->dims[3] % b)
        return err_set(c->err, CALMA_E_INVALID,
                       "needs a 4-D input whose height and width divide by blocksize %lld",
                       (long long)b);
    int64_t d[4] = {x->dims[0], x->dims[1] * b * b, x->dims[2] / b, x->dims[3] / b};
    ref_set_type(&c->out[0], x->dtype, 4, d);
    return CALMA_OK;
}

/* Walks the space-side tensor [N, C, H*b, W*b]; the depth side has
 * channel (i*b + j)*C + c (DCR) or c*b*b + i*b + j (CRD). */
static void d2s_walk(const ir_tensor *space, const ir_tensor *depth, int64_t b, int crd,
                     int to_space) {
    size_t es = ir_dtype_size(space->dtype);
    int64_t N = space->dims[0], C = space->dims[1], H = space->dims[2], W = space->dims[3];
    int64_t DH = depth->dims[2], DW = depth->dims[3], DC = depth->dims[1];
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    int64_t i = h % b, j = w % b;
                    int64_t dc = crd ? ch * b * b + i * b + j : (i * b + j) * C + ch;
                    size_t so = (size_t)(((n * C + ch) * H + h) * W + w);
                    size_t dof = (size_t)(((n * DC + dc) * DH + h / b) * DW + w / b);
                    if (to_space)
                        memcpy((char *)space->data + so * es, (const char *)depth->data + dof * es,
                               es);
                    else
                        memcpy((char *)depth->data + dof * es, (const char *)space->data + so * es,
                               es);
                }
}

static int d2s_run(ref_call *c) {
    int crd = !strcmp(ir_node_string(c->node, "mode", "DCR"), "CRD");
    d2s_walk(&c->out[0], ref_in(c, 0), ir_node_int(c->node, "blocksize", 1), crd, 1);
    return CALMA_OK;
}

static int s2d_run(ref_call *c) {
    d2s_walk(ref_in(c, 0), &c->out[0], ir_node_int(c->node, "blocksize", 1), 0, 0);
    return CALMA_OK;
}

/* ---- OneHot, EyeLike ---- */

static int one_hot_infer(ref_call *c) {
    int rc = need_in(c, 3);
    if (rc) return rc;
    const ir_tensor *ix = ref_in(c, 0), *depth = ref_in(c, 1), *vals = ref_in(c, 2);
    if (!depth->data) return REF_NEED_VALUE;
    if (ir_tensor_numel(depth) != 1 || ir_tensor_numel(vals) != 2)
        return err_set(c->err, CALMA_E_INVALID, "depth must be one value and values two");
    double dv = ir_tensor_get_f64(depth, 0);
    int r = ix->rank + 1, axis = 0;
    if (!(dv >= 1 && dv < 1e12) || r > IR_MAX_RANK)
        return err_set(c->err, CALMA_E_INVALID, "depth %g or rank %d is not usable", dv, r);
    int64_t dep = (int64_t)dv;
    if ((rc = norm_axis(c, ir_node_int(c->node, "axis", -1), r, &axis))) return rc;
    int64_t d[IR_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) d[i] = i == axis ? dep : ix->dims[k++];
    ref_set_type(&c->out[0], vals->dtype, r, d);
    return CALMA_OK;
}

static int one_hot_run(ref_call *c) {
    const ir_tensor *ix = ref_in(c, 0), *vals = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int axis = 0;
    norm_axis(c, ir_node_int(c->node, "axis", -1), y->rank, &axis);
    int64_t dep = y->dims[axis];
    size_t es = ir_dtype_size(y->dtype), inner = prod(y->dims, axis + 1, y->rank);
    size_t outer = prod(y->dims, 0, axis), n = ir_tensor_numel(y);
    for (size_t i = 0; i < n; i++) memcpy((char *)y->data + i * es, vals->data, es);
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < inner; k++) {
            int64_t h = ir_tensor_get_i64(ix, o * inner + k);
            if (h < 0) h += dep;
            if (h < 0 || h >= dep) continue; /* out of range: the row stays off */
            size_t at = (o * (size_t)dep + (size_t)h) * inner + k;
            memcpy((char *)y->data + at * es, (const char *)vals->data + es, es);
        }
    return CALMA_OK;
}

static int eye_like_infer(ref_call *c) {
    int rc = need_in(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    if (x->rank != 2) return err_set(c->err, CALMA_E_INVALID, "needs a 2-D input");
    calma_dtype dt = (calma_dtype)ir_node_int(c->node, "dtype", x->dtype);
    if (!ir_dtype_size(dt))
        return err_set(c->err, CALMA_E_UNSUPPORTED, "dtype %d is not supported", (int)dt);
    ref_set_type(&c->out[0], dt, 2, x->dims);
    return CALMA_OK;
}

static int eye_like_run(ref_call *c) {
    ir_tensor *y = &c->out[0];
    int64_t k = ir_node_int(c->node, "k", 0);
    for (int64_t i = 0; i < y->dims[0]; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < y->dims[1]) ir_tensor_set_f64(y, (size_t)(i * y->dims[1] + j), 1.0);
    }
    return CALMA_OK;
}

/* ---- Compress, NonZero, ReverseSequence ---- */

static int compress_infer(ref_call *c) {
    int rc = need_in(c, 2);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *cond = ref_in(c, 1);
    if (!cond->data) return REF_NEED_VALUE;
    if (cond->rank != 1) return err_set(c->err, CALMA_E_INVALID, "condition must be 1-D");
    const ir_attr *a = ir_node_attr(c->node, "axis");
    int axis = -1;
    if (a && (rc = norm_axis(c, a->i, x->rank, &axis))) return rc;
    int64_t dim = axis < 0 ? (int64_t)ir_tensor_numel(x) : x->dims[axis];
    int64_t len = cond->dims[0] < dim ? cond->dims[0] : dim, kept = 0;
    for (int64_t i = 0; i < len; i++) kept += ir_tensor_get_i64(cond, (size_t)i) != 0;
    if (axis < 0) {
        ref_set_type(&c->out[0], x->dtype, 1, &kept);
    } else {
        ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
        c->out[0].dims[axis] = kept;
    }
    return CALMA_OK;
}

static int compress_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *cond = ref_in(c, 1);
    const ir_attr *a = ir_node_attr(c->node, "axis");
    int axis = -1;
    if (a) norm_axis(c, a->i, x->rank, &axis);
    size_t es = ir_dtype_size(x->dtype);
    size_t outer = axis < 0 ? 1 : prod(x->dims, 0, axis);
    size_t inner = axis < 0 ? es : prod(x->dims, axis + 1, x->rank) * es;
    int64_t dim = axis < 0 ? (int64_t)ir_tensor_numel(x) : x->dims[axis];
    int64_t len = cond->dims[0] < dim ? cond->dims[0] : dim;
    char *y = c->out[0].data;
    for (size_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < len; i++) {
            if (!ir_tensor_get_i64(cond, (size_t)i)) continue;
            memcpy(y, (const char *)x->data + (o * (size_t)dim + (size_t)i) * inner, inner);
            y += inner;
        }
    return CALMA_OK;
}

static int non_zero_infer(ref_call *c) {
    int rc = need_in(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    if (!x->data) return REF_NEED_VALUE;
    size_t n = ir_tensor_numel(x), nz = 0;
    for (size_t i = 0; i < n; i++) nz += ir_tensor_get_f64(x, i) != 0.0;
    int64_t d[2] = {x->rank, (int64_t)nz};
    ref_set_type(&c->out[0], CALMA_DT_INT64, 2, d);
    return CALMA_OK;
}

static int non_zero_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    size_t n = ir_tensor_numel(x), nz = (size_t)y->dims[1], k = 0;
    int64_t *out = y->data;
    for (size_t i = 0; i < n; i++) {
        if (ir_tensor_get_f64(x, i) == 0.0) continue;
        size_t rem = i;
        for (int d = x->rank - 1; d >= 0; d--) {
            out[(size_t)d * nz + k] = (int64_t)(rem % (size_t)x->dims[d]);
            rem /= (size_t)x->dims[d];
        }
        k++;
    }
    return CALMA_OK;
}

static int rev_seq_infer(ref_call *c) {
    int rc = need_in(c, 2);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *lens = ref_in(c, 1);
    int bax = (int)ir_node_int(c->node, "batch_axis", 1),
        tax = (int)ir_node_int(c->node, "time_axis", 0);
    if (x->rank < 2 || (bax != 0 && bax != 1) || (tax != 0 && tax != 1) || bax == tax)
        return err_set(c->err, CALMA_E_INVALID, "batch_axis and time_axis must be 0 and 1");
    if (!is_index(lens) || lens->rank != 1 || lens->dims[0] != x->dims[bax])
        return err_set(c->err, CALMA_E_INVALID, "sequence_lens must be int64[batch]");
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int rev_seq_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *lens = ref_in(c, 1);
    int bax = (int)ir_node_int(c->node, "batch_axis", 1), tax = 1 - bax;
    size_t es = ir_dtype_size(x->dtype), inner = prod(x->dims, 2, x->rank) * es;
    int64_t B = x->dims[bax], T = x->dims[tax];
    for (int64_t b = 0; b < B; b++) {
        int64_t len = ir_tensor_get_i64(lens, (size_t)b);
        if (len < 0 || len > T)
            return err_set(c->err, CALMA_E_INVALID, "sequence length %lld is outside 0..%lld",
                           (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t src = t < len ? len - 1 - t : t;
            size_t o = (size_t)(bax == 0 ? b * T + t : t * B + b);
            size_t i = (size_t)(bax == 0 ? b * T + src : src * B + b);
            memcpy((char *)c->out[0].data + o * inner, (const char *)x->data + i * inner, inner);
        }
    }
    return CALMA_OK;
}

/* ---- Unique ---- */

typedef struct uq_plan {
    const ir_tensor *x;
    int axis;                   /* -1: flattened */
    size_t outer, count, inner; /* slices are x[o, s, k] for s < count */
    size_t *order;              /* slices sorted (stably) by value */
    size_t *group;              /* per slice: its unique's index in output order */
    size_t *first, *n;          /* per unique: first occurrence and count */
    size_t n_unique;
} uq_plan;

static int uq_cmp(const uq_plan *p, size_t a, size_t b) {
    int fl = p->x->dtype == CALMA_DT_FLOAT || p->x->dtype == CALMA_DT_DOUBLE ||
             p->x->dtype == CALMA_DT_FLOAT16 || p->x->dtype == CALMA_DT_BFLOAT16;
    for (size_t o = 0; o < p->outer; o++)
        for (size_t k = 0; k < p->inner; k++) {
            size_t ia = (o * p->count + a) * p->inner + k, ib = (o * p->count + b) * p->inner + k;
            if (fl) {
                double x = ir_tensor_get_f64(p->x, ia), y = ir_tensor_get_f64(p->x, ib);
                if (x != y) return x < y ? -1 : 1;
            } else {
                int64_t x = ir_tensor_get_i64(p->x, ia), y = ir_tensor_get_i64(p->x, ib);
                if (x != y) return x < y ? -1 : 1;
            }
        }
    return 0;
}

/* Bottom-up merge sort: stable, so equal slices keep their order. */
static void uq_sort(const uq_plan *p, size_t *a, size_t *tmp, size_t n) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = uq_cmp(p, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, sizeof *a * n);
    }
}

static void uq_free(uq_plan *p) {
    free(p->order);
    free(p->group);
    free(p->first);
    free(p->n);
}

static int uq_make(ref_call *c, uq_plan *p) {
    memset(p, 0, sizeof *p);
    const ir_tensor *x = p->x = ref_in(c, 0);
    const ir_attr *a = ir_node_attr(c->node, "axis");
    p->axis = -1;
    if (a) {
        int rc = norm_axis(c, a->i, x->rank, &p->axis);
        if (rc) return rc;
        p->outer = prod(x->dims, 0, p->axis);
        p->count = (size_t)x->dims[p->axis];
        p->inner = prod(x->dims, p->axis + 1, x->rank);
    } else {
        p->outer = p->inner = 1;
        p->count = ir_tensor_numel(x);
    }
    size_t n = p->count + 1;
    size_t *tmp = malloc(sizeof(size_t) * n);
    p->order = malloc(sizeof(size_t) * n);
    p->group = malloc(sizeof(size_t) * n);
    p->first = malloc(sizeof(size_t) * n);
    p->n = malloc(sizeof(size_t) * n);
    if (!tmp || !p->order || !p->group || !p->first || !p->n) {
        free(tmp);
        uq_free(p);
        return err_set(c->err, CALMA_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->count; i++) p->order[i] = i;
    uq_sort(p, p->order, tmp, p->count);
    /* groups in sorted order */
    for (size_t i = 0; i < p->count; i++) {
        size_t s = p->order[i];
        if (!i || uq_cmp(p, p->order[i - 1], s)) {
            p->first[p->n_unique] = s;
            p->n[p->n_unique++] = 0;
        }
        p->group[s] = p->n_unique - 1;
        p->n[p->n_unique - 1]++;
    }
    if (!ir_node_int(c->node, "sorted", 1)) {
        /* order the uniques by first occurrence instead */
        size_t *rank = tmp, *first = malloc(sizeof(size_t) * n), *cnt = malloc(sizeof(size_t) * n);
        if (!first || !cnt) {
            free(first);
            free(cnt);
            free(tmp);
            uq_free(p);
            return err_set(c->err, CALMA_E_NOMEM, "out of memory");
        }
        size_t u = 0;
        for (size_t s = 0; s < p->count; s++)
            if (p->first[p->group[s]] == s) {
                rank[p->group[s]] = u;
                first[u] = s;
                cnt[u++] = p->n[p->group[s]];
            }
        for (size_t s = 0; s < p->count; s++) p->group[s] = rank[p->group[s]];
        memcpy(p->first, first, sizeof(size_t) * p->n_unique);
        memcpy(p->n, cnt, sizeof(size_t) * p->n_unique);
        free(first);
        free(cnt);
    }
    free(tmp);
    return CALMA_OK;
}

static int unique_infer(ref_call *c) {
    int rc = need_in(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    if (!x->data) return REF_NEED_VALUE;
    uq_plan p;
    if ((rc = uq_make(c, &p))) return rc;
    int64_t u = (int64_t)p.n_unique, s = (int64_t)p.count;
    if (p.axis < 0) {
        ref_set_type(&c->out[0], x->dtype, 1, &u);
    } else {
        ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
        c->out[0].dims[p.axis] = u;
    }
    if (c->n_out > 1) ref_set_type(&c->out[1], CALMA_DT_INT64, 1, &u);
    if (c->n_out > 2) ref_set_type(&c->out[2], CALMA_DT_INT64, 1, &s);
    if (c->n_out > 3) ref_set_type(&c->out[3], CALMA_DT_INT64, 1, &u);
    uq_free(&p);
    return CALMA_OK;
}

static int unique_run(ref_call *c) {
    uq_plan p;
    int rc = uq_make(c, &p);
    if (rc) return rc;
    size_t es = ir_dtype_size(p.x->dtype), row = p.inner * es;
    for (size_t o = 0; o < p.outer; o++)
        for (size_t u = 0; u < p.n_unique; u++)
            memcpy((char *)c->out[0].data + (o * p.n_unique + u) * row,
                   (const char *)p.x->data + (o * p.count + p.first[u]) * row, row);
    for (size_t u = 0; u < p.n_unique; u++) {
        if (c->n_out > 1 && c->out[1].data) ((int64_t *)c->out[1].data)[u] = (int64_t)p.first[u];
        if (c->n_out > 3 && c->out[3].data) ((int64_t *)c->out[3].data)[u] = (int64_t)p.n[u];
    }
    if (c->n_out > 2 && c->out[2].data)
        for (size_t s = 0; s < p.count; s++) ((int64_t *)c->out[2].data)[s] = (int64_t)p.group[s];
    uq_free(&p);
    return CALMA_OK;
}

/* ---- NonMaxSuppression (opset 10/11), following ONNX Runtime's greedy
 * selection: per batch and class, boxes above score_threshold in
 * descending score (ties: lower index first), dropping any whose IoU with
 * an already selected box exceeds iou_threshold. ---- */

typedef struct nms_box {
    double y1, x1, y2, x2;
} nms_box;

static nms_box nms_corners(const ir_tensor *b, size_t at, int center) {
    double a = ir_tensor_get_f64(b, at), c = ir_tensor_get_f64(b, at + 1);
    double d = ir_tensor_get_f64(b, at + 2), e = ir_tensor_get_f64(b, at + 3);
    nms_box r;
    if (center) { /* x_center, y_center, width, height */
        r.x1 = a - d / 2;
        r.x2 = a + d / 2;
        r.y1 = c - e / 2;
        r.y2 = c + e / 2;
    } else { /* any diagonal: y1, x1, y2, x2 */
        r.y1 = a < d ? a : d;
        r.y2 = a < d ? d : a;
        r.x1 = c < e ? c : e;
        r.x2 = c < e ? e : c;
    }
    return r;
}

static int nms_suppress(const nms_box *p, const nms_box *q, double thr) {
    double ix1 = p->x1 > q->x1 ? p->x1 : q->x1, ix2 = p->x2 < q->x2 ? p->x2 : q->x2;
    double iy1 = p->y1 > q->y1 ? p->y1 : q->y1, iy2 = p->y2 < q->y2 ? p->y2 : q->y2;
    double inter = (ix2 - ix1 > 0 ? ix2 - ix1 : 0) * (iy2 - iy1 > 0 ? iy2 - iy1 : 0);
    if (inter <= 0) return 0;
    double a1 = (p->x2 - p->x1) * (p->y2 - p->y1), a2 = (q->x2 - q->x1) * (q->y2 - q->y1);
    double uni = a1 + a2 - inter;
    if (a1 <= 0 || a2 <= 0 || uni <= 0) return 0;
    return inter / uni > thr;
}

/* Bottom-up merge sort of box indices by score, descending; being stable,
 * equal scores keep the lower index first. tmp is scratch of n. */
static void nms_sort(size_t *a, size_t *tmp, size_t n, const ir_tensor *scores, size_t base) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] =
                    ir_tensor_get_f64(scores, base + a[j]) > ir_tensor_get_f64(scores, base + a[i])
                        ? a[j++]
                        : a[i++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, sizeof *a * n);
    }
}

/* The selected (batch, class, box) triples into *out (malloc'ed), their
 * count in *n. */
static int nms_select(ref_call *c, int64_t **out, size_t *n) {
    const ir_tensor *boxes = ref_in(c, 0), *scores = ref_in(c, 1);
    const ir_tensor *tmax = ref_in(c, 2), *tiou = ref_in(c, 3), *tsc = ref_in(c, 4);
    *out = NULL;
    *n = 0;
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return err_set(c->err, CALMA_E_INVALID,
                       "boxes must be [batches, boxes, 4] and scores [batches, classes, boxes]");
    int64_t maxb = tmax && ir_tensor_numel(tmax) ? ir_tensor_get_i64(tmax, 0) : 0;
    double iou = tiou && ir_tensor_numel(tiou) ? ir_tensor_get_f64(tiou, 0) : 0;
    int has_sc = tsc && ir_tensor_numel(tsc);
    double sthr = has_sc ? ir_tensor_get_f64(tsc, 0) : 0;
    int center = (int)ir_node_int(c->node, "center_point_box", 0);
    size_t B = (size_t)boxes->dims[0], N = (size_t)boxes->dims[1], C = (size_t)scores->dims[1];
    if (maxb <= 0 || !N) return CALMA_OK;
    size_t *cand = malloc(sizeof(size_t) * N), *sel = malloc(sizeof(size_t) * N);
    size_t cap = 0;
    int rc = CALMA_OK;
    if (!cand || !sel) rc = err_set(c->err, CALMA_E_NOMEM, "out of memory");
    for (size_t b = 0; !rc && b < B; b++)
        for (size_t k = 0; !rc && k < C; k++) {
            size_t base = (b * C + k) * N, nc = 0, ns = 0;
            for (size_t i = 0; i < N; i++)
                if (!has_sc || ir_tensor_get_f64(scores, base + i) > sthr) cand[nc++] = i;
            nms_sort(cand, sel, nc, scores, base);
            for (size_t i = 0; i < nc && (int64_t)ns < maxb; i++) {
                nms_box p = nms_corners(boxes, (b * N + cand[i]) * 4, center);
                int drop = 0;
                for (size_t j = 0; j < ns && !drop; j++) {
                    nms_box q = nms_corners(boxes, (b * N + sel[j]) * 4, center);
                    drop = nms_suppress(&p, &q, iou);
                }
                if (drop) continue;
                sel[ns++] = cand[i];
                if (*n >= cap) {
                    cap = cap ? cap * 2 : 16;
                    int64_t *g = realloc(*out, sizeof(int64_t) * 3 * cap);
                    if (!g) {
                        rc = err_set(c->err, CALMA_E_NOMEM, "out of memory");
                        break;
                    }
                    *out = g;
                }
                (*out)[*n * 3] = (int64_t)b;
                (*out)[*n * 3 + 1] = (int64_t)k;
                (*out)[*n * 3 + 2] = (int64_t)cand[i];
                (*n)++;
            }
        }
    free(cand);
    free(sel);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int nms_infer(ref_call *c) {
    int rc = need_in(c, 2);
    if (rc) return rc;
    for (int i = 0; i < 5; i++)
        if (ref_in(c, i) && !ref_in(c, i)->data) return REF_NEED_VALUE;
    int64_t *sel;
    size_t n;
    if ((rc = nms_select(c, &sel, &n))) return rc;
    free(sel);
    int64_t d[2] = {(int64_t)n, 3};
    ref_set_type(&c->out[0], CALMA_DT_INT64, 2, d);
    return CALMA_OK;
}

static int nms_run(ref_call *c) {
    int64_t *sel;
    size_t n;
    int rc = nms_select(c, &sel, &n);
    if (rc) return rc;
    if (n != (size_t)c->out[0].dims[0]) {
        free(sel);
        return err_set(c->err, CALMA_E_INTERNAL, "selection changed between infer and run");
    }
    if (n) memcpy(c->out[0].data, sel, sizeof(int64_t) * 3 * n);
    free(sel);
    return CALMA_OK;
}

const ref_op ref_ops_index[] = {
    {"GatherND", gather_nd_infer, gather_nd_run},
    {"ScatterElements", scatter_elements_infer, scatter_elements_run},
    {"Scatter", scatter_elements_infer, scatter_elements_run},
    {"ScatterND", scatter_nd_infer, scatter_nd_run},
    {"DepthToSpace", d2s_infer, d2s_run},
    {"SpaceToDepth", s2d_infer, s2d_run},
    {"OneHot", one_hot_infer, one_hot_run},
    {"EyeLike", eye_like_infer, eye_like_run},
    {"Compress", compress_infer, compress_run},
    {"NonZero", non_zero_infer, non_zero_run},
    {"ReverseSequence", rev_seq_infer, rev_seq_run},
    {"Unique", unique_infer, unique_run},
    {"NonMaxSuppression", nms_infer, nms_run},
    {NULL, NULL, NULL},
};
