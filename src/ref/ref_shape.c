/* Shape and data-movement ops: they copy bytes, so they work on every
 * element type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"
#include "util/mem.h"

/* ---- helpers shared by the ops below ---- */

static int refs_axis(ref_call *c, int64_t axis, int rank, const char *what, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return err_set(c->err, CALMA_E_INVALID, "%s %lld is out of range for rank %d", what,
                       (long long)axis, rank);
    *out = (int)a;
    return CALMA_OK;
}

static int refs_ints(ref_call *c, const ir_tensor *t, const char *what, int64_t *out, int max,
                     int *n) {
    if (t->dtype != CALMA_DT_INT64 && t->dtype != CALMA_DT_INT32)
        return err_set(c->err, CALMA_E_INVALID, "%s must be int64 or int32, not %s", what,
                       ir_dtype_name(t->dtype));
    if (t->rank > 1)
        return err_set(c->err, CALMA_E_INVALID, "%s must be a 1-D tensor, got rank %d", what,
                       t->rank);
    size_t k = ir_tensor_numel(t);
    if (k > (size_t)max)
        return err_set(c->err, CALMA_E_INVALID, "%s has %zu values, at most %d allowed", what, k,
                       max);
    for (size_t i = 0; i < k; i++) out[i] = ir_tensor_get_i64(t, i);
    *n = (int)k;
    return CALMA_OK;
}

static void refs_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

/* dst[o] = src[base + sum(idx[d] * src_strides[d])] over the dims of dst:
 * one walk that serves Transpose, Slice, Expand and Tile's pieces. */
static void refs_affine_copy(void *dst, const void *src, size_t es, int rank, const int64_t *dims,
                             const int64_t *src_strides, int64_t base) {
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    if (!n) return;
    int64_t idx[IR_MAX_RANK] = {0};
    int64_t off = base;
    char *o = dst;
    const char *s = src;
    int64_t inner = rank ? dims[rank - 1] : 1, istride = rank ? src_strides[rank - 1] : 0;
    for (size_t k = 0; k < n; k += (size_t)inner) {
        if (istride == 1) {
            memcpy(o, s + (size_t)off * es, (size_t)inner * es);
            o += (size_t)inner * es;
        } else {
            for (int64_t i = 0; i < inner; i++) {
                memcpy(o, s + (size_t)(off + i * istride) * es, es);
                o += es;
            }
        }
        /* advance the outer indices */
        for (int d = rank - 2; d >= 0; d--) {
            idx[d]++;
            off += src_strides[d];
            if (idx[d] < dims[d]) break;
            off -= src_strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

static int copy_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    if (x->nbytes) memcpy(c->out[0].data, x->data, x->nbytes);
    return CALMA_OK;
}

static int need(ref_call *c, int i) {
    if (!ref_in(c, i)) return err_set(c->err, CALMA_E_INVALID, "input %d is required", i);
    return CALMA_OK;
}

/* ---- Identity, Dropout, Flatten ---- */

static int identity_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int dropout_infer(ref_call *c) {
    int rc = identity_infer(c);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    const ir_tensor *train = ref_in(c, 2);
    if (train && train->data && ir_tensor_numel(train) && ir_tensor_get_i64(train, 0)) {
        const ir_tensor *ratio = ref_in(c, 1);
        double r =
            ratio && ratio->data && ir_tensor_numel(ratio) ? ir_tensor_get_f64(ratio, 0) : 0.5;
        if (r != 0.0)
            return err_set(c->err, CALMA_E_UNSUPPORTED,
                           "training_mode true with ratio %g (random dropout) is not supported", r);
    }
    if (c->n_out > 1) ref_set_type(&c->out[1], CALMA_DT_BOOL, x->rank, x->dims);
    return CALMA_OK;
}

static int dropout_run(ref_call *c) {
    copy_run(c);
    if (c->n_out > 1 && c->out[1].data) memset(c->out[1].data, 1, c->out[1].nbytes);
    return CALMA_OK;
}

static int flatten_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t axis = ir_node_int(c->node, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return err_set(c->err, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                       (long long)ir_node_int(c->node, "axis", 1), x->rank);
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) d[i >= axis] *= x->dims[i];
    ref_set_type(&c->out[0], x->dtype, 2, d);
    return CALMA_OK;
}

/* ---- Reshape ---- */

static int reshape_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t shape[IR_MAX_RANK];
    int n = 0;
    if (c->opset < 5) {
        size_t k;
        const int64_t *s = ir_node_ints(c->node, "shape", &k);
        if (k > IR_MAX_RANK)
            return err_set(c->err, CALMA_E_INVALID, "shape has %zu values, more than %d", k,
                           IR_MAX_RANK);
        for (size_t i = 0; i < k; i++) shape[i] = s[i];
        n = (int)k;
    } else {
        const ir_tensor *st = ref_in(c, 1);
        if (!st) return err_set(c->err, CALMA_E_INVALID, "the shape input is required");
        if (!st->data) return REF_NEED_VALUE;
        rc = refs_ints(c, st, "shape", shape, IR_MAX_RANK, &n);
        if (rc) return rc;
    }
    int allowzero = (int)ir_node_int(c->node, "allowzero", 0);
    int minus = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return err_set(c->err, CALMA_E_INVALID,
                               "shape[%d] is 0 (copy) but the input has rank %d", i, x->rank);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1) {
            if (minus >= 0) return err_set(c->err, CALMA_E_INVALID, "shape has more than one -1");
            minus = i;
            continue;
        }
        if (shape[i] < 0)
            return err_set(c->err, CALMA_E_INVALID, "shape[%d] is %lld", i, (long long)shape[i]);
        if (mem_mul_i64(known, shape[i], &known))
            return err_set(c->err, CALMA_E_INVALID, "shape overflows");
    }
    int64_t total = (int64_t)ir_tensor_numel(x);
    if (minus >= 0) {
        if (known == 0 || total % known)
            return err_set(c->err, CALMA_E_INVALID,
                           "cannot reshape %lld elements with -1 when the other dims give %lld",
                           (long long)total, (long long)known);
        shape[minus] = total / known;
    } else if (known != total) {
        return err_set(c->err, CALMA_E_INVALID,
                       "cannot reshape %lld elements into a shape of %lld elements",
                       (long long)total, (long long)known);
    }
    ref_set_type(&c->out[0], x->dtype, n, shape);
    return CALMA_OK;
}

/* ---- Transpose ---- */

static int transpose_perm(ref_call *c, int rank, int *perm) {
    size_t k;
    const int64_t *p = ir_node_ints(c->node, "perm", &k);
    if (!p) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return CALMA_OK;
    }
    if ((int)k != rank)
        return err_set(c->err, CALMA_E_INVALID, "perm has %zu values for rank %d", k, rank);
    int seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) {
        int a = 0;
        int rc = refs_axis(c, p[i], rank, "perm value", &a);
        if (rc) return rc;
        if (seen[a]++) return err_set(c->err, CALMA_E_INVALID, "perm repeats axis %d", a);
        perm[i] = a;
    }
    return CALMA_OK;
}

static int transpose_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int perm[IR_MAX_RANK];
    int64_t d[IR_MAX_RANK];
    rc = transpose_perm(c, x->rank, perm);
    if (rc) return rc;
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[perm[i]];
    ref_set_type(&c->out[0], x->dtype, x->rank, d);
    return CALMA_OK;
}

static int transpose_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    int perm[IR_MAX_RANK];
    int64_t st[IR_MAX_RANK], ost[IR_MAX_RANK];
    transpose_perm(c, x->rank, perm);
    refs_strides(x->rank, x->dims, st);
    for (int i = 0; i < x->rank; i++) ost[i] = st[perm[i]];
    refs_affine_copy(c->out[0].data, x->data, ir_dtype_size(x->dtype), x->rank, c->out[0].dims, ost,
                     0);
    return CALMA_OK;
}

/* ---- Concat ---- */

static int concat_infer(ref_call *c) {
    const ir_tensor *first = NULL;
    for (int i = 0; i < c->n_in && !first; i++) first = ref_in(c, i);
    if (!first) return err_set(c->err, CALMA_E_INVALID, "needs at least one input");
    if (!ir_node_attr(c->node, "axis") && c->opset >= 4)
        return err_set(c->err, CALMA_E_INVALID, "attribute 'axis' is required");
    int axis = 0;
    int rc = refs_axis(c, ir_node_int(c->node, "axis", 1), first->rank, "axis", &axis);
    if (rc) return rc;
    int64_t d[IR_MAX_RANK];
    memcpy(d, first->dims, sizeof d);
    d[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ir_tensor *t = ref_in(c, i);
        if (!t) continue;
        if (t->dtype != first->dtype || t->rank != first->rank)
            return err_set(
                c->err, CALMA_E_INVALID, "input %d is %s of rank %d, input 0 is %s of rank %d", i,
                ir_dtype_name(t->dtype), t->rank, ir_dtype_name(first->dtype), first->rank);
        for (int k = 0; k < t->rank; k++)
            if (k != axis && t->dims[k] != first->dims[k])
                return err_set(c->err, CALMA_E_INVALID,
                               "input %d has size %lld at dimension %d, input 0 has %lld", i,
                               (long long)t->dims[k], k, (long long)first->dims[k]);
        d[axis] += t->dims[axis];
    }
    ref_set_type(&c->out[0], first->dtype, first->rank, d);
    return CALMA_OK;
}

static int concat_run(ref_call *c) {
    ir_tensor *y = &c->out[0];
    int axis = 0;
    refs_axis(c, ir_node_int(c->node, "axis", 1), y->rank, "axis", &axis);
    size_t es = ir_dtype_size(y->dtype), outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)y->dims[k];
    for (int k = axis + 1; k < y->rank; k++) inner *= (size_t)y->dims[k];
    size_t row = (size_t)y->dims[axis] * inner, at = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ir_tensor *t = ref_in(c, i);
        if (!t) continue;
        size_t chunk = (size_t)t->dims[axis] * inner;
        for (size_t o = 0; o < outer && chunk; o++)
            memcpy((char *)y->data + o * row + at, (const char *)t->data + o * chunk, chunk);
        at += chunk;
    }
    return CALMA_OK;
}

/* ---- Split ---- */

static int split_sizes(ref_call *c, int64_t *sizes, int *axis_out) {
    const ir_tensor *x = ref_in(c, 0);
    int axis = 0;
    int rc = refs_axis(c, ir_node_int(c->node, "axis", 0), x->rank, "axis", &axis);
    if (rc) return rc;
    *axis_out = axis;
    int64_t dim = x->dims[axis];
    int n = c->n_out;
    const ir_tensor *st = c->opset >= 13 ? ref_in(c, 1) : NULL;
    size_t k = 0;
    const int64_t *attr = c->opset < 13 ? ir_node_ints(c->node, "split", &k) : NULL;
    if (st) {
        if (!st->data) return REF_NEED_VALUE;
        if (ir_tensor_numel(st) != (size_t)n)
            return err_set(c->err, CALMA_E_INVALID, "split has %zu values for %d outputs",
                           ir_tensor_numel(st), n);
        for (int i = 0; i < n; i++) sizes[i] = ir_tensor_get_i64(st, (size_t)i);
    } else if (attr) {
        if (k != (size_t)n)
            return err_set(c->err, CALMA_E_INVALID, "split has %zu values for %d outputs", k, n);
        for (int i = 0; i < n; i++) sizes[i] = attr[i];
    } else if (ir_node_attr(c->node, "num_outputs")) {
        int64_t m = ir_node_int(c->node, "num_outputs", n);
        if (m != n || m <= 0)
            return err_set(c->err, CALMA_E_INVALID,
                           "num_outputs is %lld but the node has %d outputs", (long long)m, n);
        int64_t each = (dim + m - 1) / m;
        for (int i = 0; i < n; i++) {
            int64_t left = dim - each * i;
            sizes[i] = left < 0 ? 0 : (left < each ? left : each);
        }
    } else {
        if (n <= 0 || dim % n)
            return err_set(c->err, CALMA_E_INVALID,
                           "dimension %d of size %lld does not split evenly into %d outputs", axis,
                           (long long)dim, n);
        for (int i = 0; i < n; i++) sizes[i] = dim / n;
    }
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0) return err_set(c->err, CALMA_E_INVALID, "split size %d is negative", i);
        sum += sizes[i];
    }
    if (sum != dim)
        return err_set(c->err, CALMA_E_INVALID, "split sizes add up to %lld, dimension %d is %lld",
                       (long long)sum, axis, (long long)dim);
    return CALMA_OK;
}

static int split_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t *sizes = calloc((size_t)c->n_out + 1, sizeof *sizes);
    if (!sizes) return err_set(c->err, CALMA_E_NOMEM, "out of memory");
    int axis = 0;
    rc = split_sizes(c, sizes, &axis);
    for (int i = 0; !rc && i < c->n_out; i++) {
        ref_set_type(&c->out[i], x->dtype, x->rank, x->dims);
        c->out[i].dims[axis] = sizes[i];
    }
    free(sizes);
    return rc;
}

static int split_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    int axis = 0;
    refs_axis(c, ir_node_int(c->node, "axis", 0), x->rank, "axis", &axis);
    size_t es = ir_dtype_size(x->dtype), outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)x->dims[k];
    for (int k = axis + 1; k < x->rank; k++) inner *= (size_t)x->dims[k];
    size_t row = (size_t)x->dims[axis] * inner, at = 0;
    for (int i = 0; i < c->n_out; i++) {
        ir_tensor *y = &c->out[i];
        size_t chunk = (size_t)y->dims[axis] * inner;
        if (y->data)
            for (size_t o = 0; o < outer && chunk; o++)
                memcpy((char *)y->data + o * chunk, (const char *)x->data + o * row + at, chunk);
        at += chunk;
    }
    return CALMA_OK;
}

/* ---- Slice ---- */

typedef struct slice_plan {
    int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK];
} slice_plan;

static int slice_plan_make(ref_call *c, slice_plan *p) {
    const ir_tensor *x = ref_in(c, 0);
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns = 0, ne = 0, na = -1, nst = -1, rc;
    if (c->opset < 10) {
        size_t k1, k2, k3;
        const int64_t *s = ir_node_ints(c->node, "starts", &k1);
        const int64_t *e = ir_node_ints(c->node, "ends", &k2);
        const int64_t *a = ir_node_ints(c->node, "axes", &k3);
        if (k1 > IR_MAX_RANK || k2 > IR_MAX_RANK || k3 > IR_MAX_RANK)
            return err_set(c->err, CALMA_E_INVALID, "too many starts/ends/axes");
        for (size_t i = 0; i < k1; i++) starts[i] = s[i];
        for (size_t i = 0; i < k2; i++) ends[i] = e[i];
        for (size_t i = 0; i < k3; i++) axes[i] = a[i];
        ns = (int)k1;
        ne = (int)k2;
        if (a) na = (int)k3;
    } else {
        for (int i = 1; i < 5; i++) {
            const ir_tensor *t = ref_in(c, i);
            if (i < 3 && !t) return err_set(c->err, CALMA_E_INVALID, "input %d is required", i);
            if (t && !t->data) return REF_NEED_VALUE;
        }
        rc = refs_ints(c, ref_in(c, 1), "starts", starts, IR_MAX_RANK, &ns);
        if (!rc) rc = refs_ints(c, ref_in(c, 2), "ends", ends, IR_MAX_RANK, &ne);
        if (!rc && ref_in(c, 3)) rc = refs_ints(c, ref_in(c, 3), "axes", axes, IR_MAX_RANK, &na);
        if (!rc && ref_in(c, 4)) rc = refs_ints(c, ref_in(c, 4), "steps", steps, IR_MAX_RANK, &nst);
        if (rc) return rc;
    }
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return err_set(c->err, CALMA_E_INVALID, "starts, ends, axes and steps differ in length");
    for (int d = 0; d < x->rank; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->len[d] = x->dims[d];
    }
    int seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < ns; i++) {
        int a = 0;
        rc = refs_axis(c, na >= 0 ? axes[i] : i, x->rank, "axis", &a);
        if (rc) return rc;
        if (seen[a]++) return err_set(c->err, CALMA_E_INVALID, "axis %d is sliced twice", a);
        int64_t dim = x->dims[a], st = nst >= 0 ? steps[i] : 1;
        if (st == 0) return err_set(c->err, CALMA_E_INVALID, "step for axis %d is 0", a);
        if (st == INT64_MIN) st = -INT64_MAX; /* so that -st exists; any |step| >= dim acts alike */
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t len;
        if (st > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            len = e > s ? 1 + (e - s - 1) / st : 0;
        } else {
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            len = s > e ? 1 + (s - e - 1) / (-st) : 0;
        }
        p->start[a] = s;
        p->step[a] = len > 1 ? st : 1; /* a huge step times a stride could overflow */
        p->len[a] = len;
    }
    return CALMA_OK;
}

static int slice_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    slice_plan p;
    rc = slice_plan_make(c, &p);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    ref_set_type(&c->out[0], x->dtype, x->rank, p.len);
    return CALMA_OK;
}

static int slice_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    slice_plan p;
    int rc = slice_plan_make(c, &p);
    if (rc) return rc;
    int64_t st[IR_MAX_RANK], ss[IR_MAX_RANK], base = 0;
    refs_strides(x->rank, x->dims, st);
    for (int d = 0; d < x->rank; d++) {
        ss[d] = st[d] * p.step[d];
        if (p.len[d]) base += st[d] * p.start[d];
    }
    refs_affine_copy(c->out[0].data, x->data, ir_dtype_size(x->dtype), x->rank, p.len, ss, base);
    return CALMA_OK;
}

/* ---- Gather, GatherElements ---- */

static int index_dtype_ok(ref_call *c, const ir_tensor *t) {
    if (t->dtype != CALMA_DT_INT64 && t->dtype != CALMA_DT_INT32)
        return err_set(c->err, CALMA_E_INVALID, "indices must be int32 or int64, not %s",
                       ir_dtype_name(t->dtype));
    return CALMA_OK;
}

static int gather_infer(ref_call *c) {
    int rc = need(c, 0);
    if (!rc) rc = need(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    if ((rc = index_dtype_ok(c, ix))) return rc;
    int axis = 0;
    rc = refs_axis(c, ir_node_int(c->node, "axis", 0), x->rank, "axis", &axis);
    if (rc) return rc;
    int r = x->rank - 1 + ix->rank;
    if (r > IR_MAX_RANK)
        return err_set(c->err, CALMA_E_INVALID, "output rank %d is above %d", r, IR_MAX_RANK);
    int64_t d[IR_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) d[k++] = x->dims[i];
    for (int i = 0; i < ix->rank; i++) d[k++] = ix->dims[i];
    for (int i = axis + 1; i < x->rank; i++) d[k++] = x->dims[i];
    ref_set_type(&c->out[0], x->dtype, r, d);
    return CALMA_OK;
}

static int gather_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    int axis = 0;
    refs_axis(c, ir_node_int(c->node, "axis", 0), x->rank, "axis", &axis);
    size_t es = ir_dtype_size(x->dtype), outer = 1, inner = es, ni = ir_tensor_numel(ix);
    for (int k = 0; k < axis; k++) outer *= (size_t)x->dims[k];
    for (int k = axis + 1; k < x->rank; k++) inner *= (size_t)x->dims[k];
    int64_t dim = x->dims[axis];
    char *y = c->out[0].data;
    for (size_t i = 0; i < ni; i++) {
        int64_t v = ir_tensor_get_i64(ix, i);
        if (v < -dim || v >= dim)
            return err_set(c->err, CALMA_E_INVALID,
                           "index %lld (element %zu) is out of range for axis %d of size %lld",
                           (long long)v, i, axis, (long long)dim);
    }
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < ni; i++) {
            int64_t v = ir_tensor_get_i64(ix, i);
            if (v < 0) v += dim;
            memcpy(y + (o * ni + i) * inner,
                   (const char *)x->data + (o * (size_t)dim + (size_t)v) * inner, inner);
        }
    return CALMA_OK;
}

static int gather_elements_infer(ref_call *c) {
    int rc = need(c, 0);
    if (!rc) rc = need(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    if ((rc = index_dtype_ok(c, ix))) return rc;
    if (ix->rank != x->rank)
        return err_set(c->err, CALMA_E_INVALID, "indices have rank %d, data has rank %d", ix->rank,
                       x->rank);
    int axis = 0;
    rc = refs_axis(c, ir_node_int(c->node, "axis", 0), x->rank, "axis", &axis);
    if (rc) return rc;
    ref_set_type(&c->out[0], x->dtype, ix->rank, ix->dims);
    return CALMA_OK;
}

static int gather_elements_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0), *ix = ref_in(c, 1);
    int axis = 0, r = x->rank;
    refs_axis(c, ir_node_int(c->node, "axis", 0), r, "axis", &axis);
    size_t es = ir_dtype_size(x->dtype), n = ir_tensor_numel(ix);
    int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    refs_strides(r, x->dims, st);
    int64_t dim = x->dims[axis];
    for (size_t i = 0; i < n; i++) {
        int64_t v = ir_tensor_get_i64(ix, i);
        if (v < -dim || v >= dim)
            return err_set(c->err, CALMA_E_INVALID,
                           "index %lld (element %zu) is out of range for axis %d of size %lld",
                           (long long)v, i, axis, (long long)dim);
        if (v < 0) v += dim;
        int64_t off = 0;
        for (int d = 0; d < r; d++) {
            if (d != axis && idx[d] >= x->dims[d])
                return err_set(c->err, CALMA_E_INVALID,
                               "indices are larger than data at dimension %d", d);
            off += (d == axis ? v : idx[d]) * st[d];
        }
        memcpy((char *)c->out[0].data + i * es, (const char *)x->data + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < ix->dims[d]) break;
            idx[d] = 0;
        }
    }
    return CALMA_OK;
}

/* ---- Squeeze, Unsqueeze ---- */

/* Axes from the attribute (opset < 13) or the second input. *n = -1 when
 * none are given. */
static int axes_arg(ref_call *c, int64_t *axes, int *n) {
    *n = -1;
    if (c->opset < 13) {
        size_t k;
        const int64_t *a = ir_node_ints(c->node, "axes", &k);
        if (!a) return CALMA_OK;
        if (k > IR_MAX_RANK) return err_set(c->err, CALMA_E_INVALID, "too many axes");
        for (size_t i = 0; i < k; i++) axes[i] = a[i];
        *n = (int)k;
        return CALMA_OK;
    }
    const ir_tensor *t = ref_in(c, 1);
    if (!t) return CALMA_OK;
    if (!t->data) return REF_NEED_VALUE;
    return refs_ints(c, t, "axes", axes, IR_MAX_RANK, n);
}

static int squeeze_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t axes[IR_MAX_RANK], d[IR_MAX_RANK];
    int n, drop[IR_MAX_RANK] = {0};
    if ((rc = axes_arg(c, axes, &n))) return rc;
    if (n < 0) {
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < n; i++) {
            int a = 0;
            if ((rc = refs_axis(c, axes[i], x->rank, "axis", &a))) return rc;
            if (x->dims[a] != 1)
                return err_set(c->err, CALMA_E_INVALID, "cannot squeeze axis %d of size %lld", a,
                               (long long)x->dims[a]);
            drop[a] = 1;
        }
    }
    int k = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) d[k++] = x->dims[i];
    ref_set_type(&c->out[0], x->dtype, k, d);
    return CALMA_OK;
}

static int unsqueeze_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t axes[IR_MAX_RANK], d[IR_MAX_RANK];
    int n, ins[IR_MAX_RANK] = {0};
    if ((rc = axes_arg(c, axes, &n))) return rc;
    if (n < 0) return err_set(c->err, CALMA_E_INVALID, "axes are required");
    int r = x->rank + n;
    if (r > IR_MAX_RANK)
        return err_set(c->err, CALMA_E_INVALID, "output rank %d is above %d", r, IR_MAX_RANK);
    for (int i = 0; i < n; i++) {
        int a = 0;
        if ((rc = refs_axis(c, axes[i], r, "axis", &a))) return rc;
        if (ins[a]++) return err_set(c->err, CALMA_E_INVALID, "axis %d is given twice", a);
    }
    for (int i = 0, k = 0; i < r; i++) d[i] = ins[i] ? 1 : x->dims[k++];
    ref_set_type(&c->out[0], x->dtype, r, d);
    return CALMA_OK;
}

/* ---- Shape, Size ---- */

static void shape_range(ref_call *c, int rank, int64_t *s, int64_t *e) {
    *s = ir_node_int(c->node, "start", 0);
    *e = ir_node_int(c->node, "end", rank);
    if (*s < 0) *s += rank;
    if (*e < 0) *e += rank;
    *s = *s < 0 ? 0 : (*s > rank ? rank : *s);
    *e = *e < 0 ? 0 : (*e > rank ? rank : *e);
    if (*e < *s) *e = *s;
}

static int shape_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    int64_t s, e;
    shape_range(c, ref_in(c, 0)->rank, &s, &e);
    int64_t d = e - s;
    ref_set_type(&c->out[0], CALMA_DT_INT64, 1, &d);
    return CALMA_OK;
}

/* Reads only the input's dims: the executor folds Shape on types alone. */
static int shape_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    int64_t s, e;
    shape_range(c, x->rank, &s, &e);
    int64_t *y = c->out[0].data;
    for (int64_t i = s; i < e; i++) y[i - s] = x->dims[i];
    return CALMA_OK;
}

static int size_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    ref_set_type(&c->out[0], CALMA_DT_INT64, 0, NULL);
    return CALMA_OK;
}

static int size_run(ref_call *c) {
    *(int64_t *)c->out[0].data = (int64_t)ir_tensor_numel(ref_in(c, 0));
    return CALMA_OK;
}

/* ---- Constant, ConstantOfShape ---- */

static int constant_infer(ref_call *c) {
    const ir_attr *a = ir_node_attr(c->node, "value");
    if (a && a->type == IR_ATTR_TENSOR) {
        ref_set_type(&c->out[0], a->t.dtype, a->t.rank, a->t.dims);
        return CALMA_OK;
    }
    int64_t n;
    if ((a = ir_node_attr(c->node, "value_float"))) {
        ref_set_type(&c->out[0], CALMA_DT_FLOAT, 0, NULL);
    } else if ((a = ir_node_attr(c->node, "value_int"))) {
        ref_set_type(&c->out[0], CALMA_DT_INT64, 0, NULL);
    } else if ((a = ir_node_attr(c->node, "value_floats"))) {
        n = (int64_t)a->n;
        ref_set_type(&c->out[0], CALMA_DT_FLOAT, 1, &n);
    } else if ((a = ir_node_attr(c->node, "value_ints"))) {
        n = (int64_t)a->n;
        ref_set_type(&c->out[0], CALMA_DT_INT64, 1, &n);
    } else if (c->node->n_attr > 0) {
        return err_set(c->err, CALMA_E_UNSUPPORTED, "attribute '%s' is not supported",
                       c->node->attr[0].name);
    } else {
        return err_set(c->err, CALMA_E_INVALID, "has no value attribute");
    }
    return CALMA_OK;
}

static int constant_run(ref_call *c) {
    const ir_attr *a = ir_node_attr(c->node, "value");
    ir_tensor *y = &c->out[0];
    if (a && a->type == IR_ATTR_TENSOR) {
        if (!a->t.data || a->t.nbytes < y->nbytes)
            return err_set(c->err, CALMA_E_INVALID, "the value tensor has no data");
        memcpy(y->data, a->t.data, y->nbytes);
    } else if ((a = ir_node_attr(c->node, "value_float"))) {
        *(float *)y->data = a->f;
    } else if ((a = ir_node_attr(c->node, "value_int"))) {
        *(int64_t *)y->data = a->i;
    } else if ((a = ir_node_attr(c->node, "value_floats"))) {
        if (a->n) memcpy(y->data, a->floats, a->n * sizeof(float));
    } else if ((a = ir_node_attr(c->node, "value_ints"))) {
        if (a->n) memcpy(y->data, a->ints, a->n * sizeof(int64_t));
    }
    return CALMA_OK;
}

static int cos_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    const ir_tensor *s = ref_in(c, 0);
    if (!s->data) return REF_NEED_VALUE;
    int64_t d[IR_MAX_RANK];
    int n;
    if ((rc = refs_ints(c, s, "shape", d, IR_MAX_RANK, &n))) return rc;
    for (int i = 0; i < n; i++)
        if (d[i] < 0)
            return err_set(c->err, CALMA_E_INVALID, "shape[%d] is negative (%lld)", i,
                           (long long)d[i]);
    const ir_attr *a = ir_node_attr(c->node, "value");
    calma_dtype dt = a && a->type == IR_ATTR_TENSOR ? a->t.dtype : CALMA_DT_FLOAT;
    if (a && a->type == IR_ATTR_TENSOR && (ir_tensor_numel(&a->t) != 1 || !a->t.data))
        return err_set(c->err, CALMA_E_INVALID, "value must hold exactly one element");
    ref_set_type(&c->out[0], dt, n, d);
    return CALMA_OK;
}

static int cos_run(ref_call *c) {
    const ir_attr *a = ir_node_attr(c->node, "value");
    ir_tensor *y = &c->out[0];
    if (!a || a->type != IR_ATTR_TENSOR) return CALMA_OK; /* zeros already */
    size_t es = ir_dtype_size(y->dtype), n = ir_tensor_numel(y);
    for (size_t i = 0; i < n; i++) memcpy((char *)y->data + i * es, a->t.data, es);
    return CALMA_OK;
}

/* ---- Pad ---- */

typedef struct pad_plan {
    int64_t before[IR_MAX_RANK], after[IR_MAX_RANK];
    int mode; /* 0 constant, 1 reflect, 2 edge, 3 wrap */
} pad_plan;

static int pad_plan_make(ref_call *c, pad_plan *p) {
    const ir_tensor *x = ref_in(c, 0);
    int r = x->rank, rc;
    const char *mode = ir_node_string(c->node, "mode", "constant");
    if (!strcmp(mode, "constant"))
        p->mode = 0;
    else if (!strcmp(mode, "reflect"))
        p->mode = 1;
    else if (!strcmp(mode, "edge"))
        p->mode = 2;
    else if (!strcmp(mode, "wrap"))
        p->mode = 3;
    else
        return err_set(c->err, CALMA_E_UNSUPPORTED, "mode '%s' is not supported", mode);
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
    int np, na = -1;
    if (c->opset < 11) {
        size_t k;
        const int64_t *a = ir_node_ints(c->node, c->opset < 2 ? "paddings" : "pads", &k);
        if (!a) return err_set(c->err, CALMA_E_INVALID, "attribute 'pads' is required");
        if (k > 2 * IR_MAX_RANK) return err_set(c->err, CALMA_E_INVALID, "too many pads");
        for (size_t i = 0; i < k; i++) pads[i] = a[i];
        np = (int)k;
    } else {
        const ir_tensor *pt = ref_in(c, 1), *at = ref_in(c, 3);
        if (!pt) return err_set(c->err, CALMA_E_INVALID, "the pads input is required");
        if (!pt->data || (at && !at->data)) return REF_NEED_VALUE;
        if ((rc = refs_ints(c, pt, "pads", pads, 2 * IR_MAX_RANK, &np))) return rc;
        if (at && (rc = refs_ints(c, at, "axes", axes, IR_MAX_RANK, &na))) return rc;
    }
    int nax = na >= 0 ? na : r;
    if (np != 2 * nax)
        return err_set(c->err, CALMA_E_INVALID, "pads has %d values, expected %d", np, 2 * nax);
    memset(p->before, 0, sizeof p->before);
    memset(p->after, 0, sizeof p->after);
    for (int i = 0; i < nax; i++) {
        int a = i;
        if (na >= 0 && (rc = refs_axis(c, axes[i], r, "axis", &a))) return rc;
        p->before[a] = pads[i];
        p->after[a] = pads[i + nax];
    }
    for (int d = 0; d < r; d++) {
        int64_t sum;
        if (__builtin_add_overflow(x->dims[d], p->before[d], &sum) ||
            __builtin_add_overflow(sum, p->after[d], &sum) || sum < 0)
            return err_set(c->err, CALMA_E_INVALID, "pads make dimension %d negative or overflow",
                           d);
        if (p->mode && x->dims[d] == 0 && (p->before[d] > 0 || p->after[d] > 0))
            return err_set(c->err, CALMA_E_INVALID, "cannot pad empty dimension %d in mode '%s'", d,
                           mode);
    }
    return CALMA_OK;
}

static int pad_infer(ref_call *c) {
    int rc = need(c, 0);
    if (rc) return rc;
    pad_plan p;
    if ((rc = pad_plan_make(c, &p))) return rc;
    const ir_tensor *x = ref_in(c, 0);
    int64_t d[IR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[i] + p.before[i] + p.after[i];
    ref_set_type(&c->out[0], x->dtype, x->rank, d);
    return CALMA_OK;
}

static int64_t pad_index(int64_t i, int64_t n, int mode) {
    if (i >= 0 && i < n) return i;
    if (mode == 2) return i < 0 ? 0 : n - 1;
    if (mode == 3) return ((i % n) + n) % n;
    if (n == 1) return 0;
    int64_t per = 2 * (n - 1);
    i = ((i % per) + per) % per;
    return i >= n ? per - i : i;
}

static int pad_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    pad_plan p;
    int rc = pad_plan_make(c, &p);
    if (rc) return rc;
    size_t es = ir_dtype_size(x->dtype), n = ir_tensor_numel(y);
    unsigned char fill[16] = {0};
    const ir_tensor *cv = c->opset >= 11 ? ref_in(c, 2) : NULL;
    if (cv && cv->data && ir_tensor_numel(cv)) {
        if (cv->dtype != x->dtype)
            return err_set(c->err, CALMA_E_INVALID, "constant_value is %s, data is %s",
                           ir_dtype_name(cv->dtype), ir_dtype_name(x->dtype));
        memcpy(fill, cv->data, es);
    } else if (c->opset < 11) {
        ir_tensor one = {.dtype = x->dtype, .rank = 0, .data = fill, .nbytes = es};
        ir_tensor_set_f64(&one, 0, ir_node_float(c->node, "value", 0.0f));
    }
    int r = x->rank;
    int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    refs_strides(r, x->dims, st);
    char *dst = y->data;
    for (size_t o = 0; o < n; o++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < r; d++) {
            int64_t i = idx[d] - p.before[d];
            if (i < 0 || i >= x->dims[d]) {
                if (p.mode == 0) {
                    inside = 0;
                    break;
                }
                i = pad_index(i, x->dims[d], p.mode);
            }
            off += i * st[d];
        }
        memcpy(dst + o * es, inside ? (const char *)x->data + (size_t)off * es : (const char *)fill,
               es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return CALMA_OK;
}

/* ---- Expand, Tile ---- */

static int expand_infer(ref_call *c) {
    int rc = need(c, 0);
    if (!rc) rc = need(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *s = ref_in(c, 1);
    if (!s->data) return REF_NEED_VALUE;
    int64_t sh[IR_MAX_RANK], d[IR_MAX_RANK];
    int n;
    if ((rc = refs_ints(c, s, "shape", sh, IR_MAX_RANK, &n))) return rc;
    int r = n > x->rank ? n : x->rank;
    for (int i = 0; i < r; i++) {
        int xi = i - (r - x->rank), si = i - (r - n);
        int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? sh[si] : 1;
        if (a != b && a != 1 && b != 1)
            return err_set(c->err, CALMA_E_INVALID,
                           "cannot broadcast dimension %d of size %lld to %lld", i, (long long)a,
                           (long long)b);
        if (b < 0) return err_set(c->err, CALMA_E_INVALID, "shape[%d] is negative", si);
        d[i] = a == 1 ? b : a;
    }
    ref_set_type(&c->out[0], x->dtype, r, d);
    return CALMA_OK;
}

static int expand_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    int64_t st[IR_MAX_RANK], bs[IR_MAX_RANK];
    refs_strides(x->rank, x->dims, st);
    int off = y->rank - x->rank;
    for (int i = 0; i < y->rank; i++) {
        int xi = i - off;
        bs[i] = xi < 0 || x->dims[xi] == 1 ? 0 : st[xi];
    }
    refs_affine_copy(y->data, x->data, ir_dtype_size(x->dtype), y->rank, y->dims, bs, 0);
    return CALMA_OK;
}

static int tile_infer(ref_call *c) {
    int rc = need(c, 0);
    if (!rc) rc = need(c, 1);
    if (rc) return rc;
    const ir_tensor *x = ref_in(c, 0), *rp = ref_in(c, 1);
    if (!rp->data) return REF_NEED_VALUE;
    int64_t reps[IR_MAX_RANK], d[IR_MAX_RANK];
    int n;
    if ((rc = refs_ints(c, rp, "repeats", reps, IR_MAX_RANK, &n))) return rc;
    if (n != x->rank)
        return err_set(c->err, CALMA_E_INVALID, "repeats has %d values for rank %d", n, x->rank);
    for (int i = 0; i < n; i++) {
        if (reps[i] < 0) return err_set(c->err, CALMA_E_INVALID, "repeats[%d] is negative", i);
        if (mem_mul_i64(x->dims[i], reps[i], &d[i]))
            return err_set(c->err, CALMA_E_INVALID, "output dimension %d overflows", i);
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, d);
    return CALMA_OK;
}

static int tile_run(ref_call *c) {
    const ir_tensor *x = ref_in(c, 0);
    ir_tensor *y = &c->out[0];
    int r = x->rank;
    size_t es = ir_dtype_size(x->dtype), n = ir_tensor_numel(y);
    int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    refs_strides(r, x->dims, st);
    for (size_t o = 0; o < n; o++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += (idx[d] % x->dims[d]) * st[d];
        memcpy((char *)y->data + o * es, (const char *)x->data + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return CALMA_OK;
}

/* ---- Range ---- */

/* More elements than any machine here holds: refuse before allocating. */
#define RANGE_MAX 1099511627776.0

static int range_infer(ref_call *c) {
    for (int i = 0; i < 3; i++) {
        int rc = need(c, i);
        if (rc) return rc;
        const ir_tensor *t = ref_in(c, i);
        if (ir_tensor_numel(t) != 1 || t->rank > 1)
            return err_set(c->err, CALMA_E_INVALID, "input %d must be a scalar", i);
        if (t->dtype != ref_in(c, 0)->dtype)
            return err_set(c->err, CALMA_E_INVALID, "inputs differ in dtype");
    }
    const ir_tensor *s = ref_in(c, 0), *l = ref_in(c, 1), *d = ref_in(c, 2);
    if (!s->data || !l->data || !d->data) return REF_NEED_VALUE;
    int64_t n;
    calma_dtype dt = s->dtype;
    if (dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE) {
        double a = ir_tensor_get_f64(s, 0), b = ir_tensor_get_f64(l, 0),
               dd = ir_tensor_get_f64(d, 0);
        if (dd == 0) return err_set(c->err, CALMA_E_INVALID, "delta is 0");
        double k = ceil((b - a) / dd);
        if (isnan(k) || k > RANGE_MAX)
            return err_set(c->err, CALMA_E_INVALID, "the range has %g elements, too many", k);
        n = k > 0 ? (int64_t)k : 0;
    } else {
        int64_t a = ir_tensor_get_i64(s, 0), b = ir_tensor_get_i64(l, 0),
                dd = ir_tensor_get_i64(d, 0);
        if (dd == 0) return err_set(c->err, CALMA_E_INVALID, "delta is 0");
        double k = ceil(((double)b - (double)a) / (double)dd);
        if (k > RANGE_MAX)
            return err_set(c->err, CALMA_E_INVALID, "the range has %g elements, too many", k);
        n = k > 0 ? (int64_t)k : 0;
    }
    ref_set_type(&c->out[0], dt, 1, &n);
    return CALMA_OK;
}

static int range_run(ref_call *c) {
    const ir_tensor *s = ref_in(c, 0), *d = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    size_t n = ir_tensor_numel(y);
    if (y->dtype == CALMA_DT_FLOAT || y->dtype == CALMA_DT_DOUBLE) {
        /* ONNX's reference accumulates in the input type, so float32 adds delta step by step */
        if (y->dtype == CALMA_DT_FLOAT) {
            float a = (float)ir_tensor_get_f64(s, 0), dd = (float)ir_tensor_get_f64(d, 0);
            for (size_t i = 0; i < n; i++) ((float *)y->data)[i] = a + (float)i * dd;
        } else {
            double a = ir_tensor_get_f64(s, 0), dd = ir_tensor_get_f64(d, 0);
            for (size_t i = 0; i < n; i++) ((double *)y->data)[i] = a + (double)i * dd;
        }
    } else {
        int64_t a = ir_tensor_get_i64(s, 0), dd = ir_tensor_get_i64(d, 0);
        for (size_t i = 0; i < n; i++) {
            int64_t v = a + (int64_t)i * dd;
            if (y->dtype == CALMA_DT_INT64)
                ((int64_t *)y->data)[i] = v;
            else
                ir_tensor_set_f64(y, i, (double)v);
        }
    }
    return CALMA_OK;
}

const ref_op ref_ops_shape[] = {
    {"Identity", identity_infer, copy_run},
    {"Dropout", dropout_infer, dropout_run},
    {"Flatten", flatten_infer, copy_run},
    {"Reshape", reshape_infer, copy_run},
    {"Transpose", transpose_infer, transpose_run},
    {"Concat", concat_infer, concat_run},
    {"Split", split_infer, split_run},
    {"Slice", slice_infer, slice_run},
    {"Gather", gather_infer, gather_run},
    {"GatherElements", gather_elements_infer, gather_elements_run},
    {"Squeeze", squeeze_infer, copy_run},
    {"Unsqueeze", unsqueeze_infer, copy_run},
    {"Shape", shape_infer, shape_run},
    {"Size", size_infer, size_run},
    {"Constant", constant_infer, constant_run},
    {"ConstantOfShape", cos_infer, cos_run},
    {"Pad", pad_infer, pad_run},
    {"Expand", expand_infer, expand_run},
    {"Tile", tile_infer, tile_run},
    {"Range", range_infer, range_run},
    {NULL, NULL, NULL},
};
