/* Shape ops: Reshape, Flatten, Squeeze, Unsqueeze (static reshapes), Pad
 * (static constant pad), Softmax; and the constant folding of the small
 * shape arithmetic exporters emit (Constant, Shape, Gather, Concat, Cast on
 * constants), since XNNPACK's shapes are fixed when the subgraph is made;
 * Concat of computed tensors as zero pads and adds. */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"

/* ---- constants ---- */

/* Makes output v of node k the constant t (taken). */
static int set_const(xnnbe_ctx *c, int k, int v, ir_tensor *t) {
    (void)k;
    const ir_tensor *kept = xnnbe_add_folded(c, t);
    if (!kept) return c->e ? c->e->status : CALMA_E_NOMEM;
    xnnbe_val *x = &c->vals[v];
    x->cst = kept;
    x->nhwc = 0;
    x->island = -1;
    x->imported = 0;
    x->flat_nhwc = 0;
    x->rank = kept->rank;
    memcpy(x->dims, kept->dims, sizeof(int64_t) * (size_t)kept->rank);
    x->id = x->alt_id = XNN_INVALID_VALUE_ID;
    return CALMA_OK;
}

static int const_ints(xnnbe_ctx *c, int k, int input, const char *what, const int64_t **vals,
                      size_t *count, ir_tensor *tmp) {
    const ir_tensor *t = xnnbe_const_input(c, k, input);
    if (!t)
        return xnnbe_unsupported(c, k, "%s must be a constant; XNNPACK's shapes are fixed", what);
    if (t->dtype != CALMA_DT_INT64 && t->dtype != CALMA_DT_INT32)
        return xnnbe_invalid(c, k, "%s is %s, not an integer tensor", what,
                             ir_dtype_name(t->dtype));
    size_t n = ir_tensor_numel(t);
    calma_error e2;
    if (ir_tensor_alloc(tmp, CALMA_DT_INT64, 1, (int64_t[]){(int64_t)n}, &e2))
        return err_set(c->e, e2.status, "%s", e2.msg);
    for (size_t i = 0; i < n; i++) ((int64_t *)tmp->data)[i] = ir_tensor_get_i64(t, i);
    *vals = tmp->data;
    *count = n;
    return CALMA_OK;
}

static int op_constant(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    if (n->n_out < 1 || n->out[0] < 0) return CALMA_OK;
    const ir_attr *a = ir_node_attr(n, "value");
    ir_tensor t = {0};
    calma_error e2;
    int rc = CALMA_OK;
    if (a && a->type == IR_ATTR_TENSOR) {
        rc = ir_tensor_copy(&t, &a->t, &e2);
    } else if ((a = ir_node_attr(n, "value_float"))) {
        rc = ir_tensor_alloc(&t, CALMA_DT_FLOAT, 0, NULL, &e2);
        if (!rc) ((float *)t.data)[0] = a->f;
    } else if ((a = ir_node_attr(n, "value_int"))) {
        rc = ir_tensor_alloc(&t, CALMA_DT_INT64, 0, NULL, &e2);
        if (!rc) ((int64_t *)t.data)[0] = a->i;
    } else if ((a = ir_node_attr(n, "value_floats"))) {
        rc = ir_tensor_alloc(&t, CALMA_DT_FLOAT, 1, (int64_t[]){(int64_t)a->n}, &e2);
        if (!rc && a->n) memcpy(t.data, a->floats, a->n * sizeof(float));
    } else if ((a = ir_node_attr(n, "value_ints"))) {
        rc = ir_tensor_alloc(&t, CALMA_DT_INT64, 1, (int64_t[]){(int64_t)a->n}, &e2);
        if (!rc && a->n) memcpy(t.data, a->ints, a->n * sizeof(int64_t));
    } else {
        return xnnbe_unsupported(c, k, "only value, value_float(s) and value_int(s) are supported");
    }
    if (rc) return err_set(c->e, e2.status, "%s", e2.msg);
    return set_const(c, k, n->out[0], &t);
}

static int op_shape(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    int64_t r = x->rank, start = ir_node_int(n, "start", 0), end = ir_node_int(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    if (start < 0) start = 0;
    if (end > r) end = r;
    if (end < start) end = start;
    ir_tensor t = {0};
    calma_error e2;
    if (ir_tensor_alloc(&t, CALMA_DT_INT64, 1, (int64_t[]){end - start}, &e2))
        return err_set(c->e, e2.status, "%s", e2.msg);
    for (int64_t i = start; i < end; i++) ((int64_t *)t.data)[i - start] = x->dims[i];
    return set_const(c, k, n->out[0], &t);
}

static int op_gather(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    const ir_tensor *d = xnnbe_const_input(c, k, 0), *ix = xnnbe_const_input(c, k, 1);
    if (!d || !ix || d->rank != 1 || ir_node_int(n, "axis", 0) != 0 || ix->rank > 1)
        return xnnbe_unsupported(c, k,
                                 "only constant 1-D shape arithmetic is folded; XNNPACK has no "
                                 "gather");
    ir_tensor t = {0};
    calma_error e2;
    if (ir_tensor_alloc(&t, d->dtype, ix->rank, ix->dims, &e2))
        return err_set(c->e, e2.status, "%s", e2.msg);
    for (size_t i = 0; i < ir_tensor_numel(ix); i++) {
        int64_t j = ir_tensor_get_i64(ix, i);
        if (j < 0) j += d->dims[0];
        if (j < 0 || j >= d->dims[0]) {
            ir_tensor_free(&t);
            return xnnbe_invalid(c, k, "index %lld out of range", (long long)j);
        }
        ir_tensor_set_f64(&t, i, ir_tensor_get_f64(d, (size_t)j));
    }
    return set_const(c, k, n->out[0], &t);
}

/* XNNPACK's subgraph has no concat; zero-padding each input to the full
 * output and adding the pieces gives the same values (x + 0 == x; only a
 * -0.0 turns into +0.0), at the cost of extra passes over the output. */
static int concat_runtime(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x[64];
    if (n->n_in < 1 || n->n_in > 64)
        return xnnbe_unsupported(c, k, "%d inputs (at most 64)", n->n_in);
    int nhwc = 0, rc;
    for (int i = 0; i < n->n_in; i++) {
        if ((rc = xnnbe_input(c, k, i, &x[i]))) return rc;
        if (x[i]->rank != x[0]->rank) return xnnbe_invalid(c, k, "inputs of different ranks");
        if (x[i]->nhwc) nhwc = 1;
    }
    int r = x[0]->rank;
    int axis = xnnbe_axis(ir_node_int(n, "axis", 0), r);
    if (axis < 0) return xnnbe_invalid(c, k, "axis out of range");
    int64_t od[IR_MAX_RANK];
    memcpy(od, x[0]->dims, sizeof(int64_t) * (size_t)r);
    od[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        for (int d = 0; d < r; d++)
            if (d != axis && x[i]->dims[d] != x[0]->dims[d])
                return xnnbe_invalid(c, k, "inputs differ outside the concat axis");
        od[axis] += x[i]->dims[axis];
    }
    static const int to_phys[4] = {0, 3, 1, 2}; /* logical N,C,H,W -> place in N,H,W,C */
    int pax = nhwc ? to_phys[axis] : axis;
    size_t pd[IR_MAX_RANK];
    for (int d = 0; d < r; d++) pd[d] = (size_t)od[d];
    if (nhwc)
        pd[0] = (size_t)od[0], pd[1] = (size_t)od[2], pd[2] = (size_t)od[3], pd[3] = (size_t)od[1];
    uint32_t acc = XNN_INVALID_VALUE_ID, oid = XNN_INVALID_VALUE_ID;
    int64_t at = 0;
    for (int i = 0; i < n->n_in; i++) {
        uint32_t id, padded;
        rc = nhwc ? xnnbe_as_nhwc(c, k, x[i], &id) : xnnbe_as_logical(c, k, x[i], &id);
        if (rc) return rc;
        size_t pre[IR_MAX_RANK] = {0}, post[IR_MAX_RANK] = {0};
        pre[pax] = (size_t)at;
        post[pax] = (size_t)(od[axis] - at - x[i]->dims[axis]);
        at += x[i]->dims[axis];
        int last = i == n->n_in - 1;
        if (last && n->n_in == 1) {
            if ((rc = xnnbe_define_output(c, k, n->out[0], r, od, nhwc, &oid))) return rc;
            return xnnbe_check(c, k,
                               xnn_define_static_reshape(c->s->islands[c->cur].subgraph, (size_t)r,
                                                         pd, id, oid, 0),
                               "xnn_define_static_reshape");
        }
        if ((rc = xnnbe_define_internal(c, k, r, pd, &padded))) return rc;
        rc = xnnbe_check(c, k,
                         xnn_define_static_constant_pad(c->s->islands[c->cur].subgraph, pre, post,
                                                        0.0f, id, padded, 0),
                         "xnn_define_static_constant_pad");
        if (rc) return rc;
        if (i == 0) {
            acc = padded;
            continue;
        }
        uint32_t sum;
        if (last)
            rc = xnnbe_define_output(c, k, n->out[0], r, od, nhwc, &sum);
        else
            rc = xnnbe_define_internal(c, k, r, pd, &sum);
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

static int op_concat(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    int64_t total = 0;
    calma_dtype dt = CALMA_DT_UNDEFINED;
    for (int i = 0; i < n->n_in; i++) {
        const ir_tensor *t = xnnbe_const_input(c, k, i);
        if (!t || t->rank != 1 || (dt && t->dtype != dt)) return concat_runtime(c, k);
        dt = t->dtype;
        total += t->dims[0];
    }
    ir_tensor t = {0};
    calma_error e2;
    if (ir_tensor_alloc(&t, dt ? dt : CALMA_DT_INT64, 1, &total, &e2))
        return err_set(c->e, e2.status, "%s", e2.msg);
    size_t at = 0;
    for (int i = 0; i < n->n_in; i++) {
        const ir_tensor *s = xnnbe_const_input(c, k, i);
        for (size_t j = 0; j < ir_tensor_numel(s); j++)
            ir_tensor_set_f64(&t, at++, ir_tensor_get_f64(s, j));
    }
    return set_const(c, k, n->out[0], &t);
}

static int op_cast(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    calma_dtype to = (calma_dtype)ir_node_int(n, "to", 0);
    if (!x->cst) {
        if (to == CALMA_DT_FLOAT) { /* float to float: a no-op */
            c->vals[n->out[0]] = *x;
            if (!xnnbe_needs_export(c, n->out[0])) return CALMA_OK;
        }
        return xnnbe_unsupported(c, k, "casts of computed values to %s are not supported",
                                 ir_dtype_name(to));
    }
    ir_tensor t = {0};
    calma_error e2;
    if (ir_dtype_size(to) == 0 || ir_tensor_alloc(&t, to, x->cst->rank, x->cst->dims, &e2))
        return xnnbe_unsupported(c, k, "cast to %s", ir_dtype_name(to));
    /* Integers above 2^53 do not round-trip through double; shape values
     * never come near that. */
    for (size_t i = 0; i < ir_tensor_numel(x->cst); i++)
        ir_tensor_set_f64(&t, i, ir_tensor_get_f64(x->cst, i));
    return set_const(c, k, n->out[0], &t);
}

/* ---- reshapes ---- */

/* Every reader of v is a Gemm or MatMul taking it as A with constant
 * weights (which can permute their rows to read H,W,C order). */
static int only_fc_readers(const xnnbe_ctx *c, int v) {
    for (int r = c->cons_off[v]; r < c->cons_off[v + 1]; r++) {
        const ir_node *n = &c->g->nodes[c->cons[r]];
        int fc = !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul");
        if (!fc || n->n_in < 2 || n->in[0] != v || n->in[1] < 0 || !c->vals[n->in[1]].cst) return 0;
    }
    return 1;
}

static int reshape_to(xnnbe_ctx *c, int k, xnnbe_val *x, int rank, const int64_t *dims) {
    const ir_node *n = &c->g->nodes[k];
    size_t a = 1, b = 1;
    for (int d = 0; d < x->rank; d++) a *= (size_t)x->dims[d];
    for (int d = 0; d < rank; d++) b *= (size_t)dims[d];
    if (a != b)
        return xnnbe_invalid(c, k, "cannot reshape %zu elements of '%s' into %zu", a,
                             xnnbe_vname(c, x), b);
    if (x->cst) {
        ir_tensor t = {0};
        calma_error e2;
        if (ir_tensor_copy(&t, x->cst, &e2)) return err_set(c->e, e2.status, "%s", e2.msg);
        t.rank = rank;
        memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
        return set_const(c, k, n->out[0], &t);
    }
    if (x->flat_nhwc)
        return xnnbe_split(c, k,
                           "'%s' flattens an NHWC feature map; only Gemm or MatMul can "
                           "take it (XNNPACK's subgraph has no transpose)",
                           xnnbe_vname(c, x));
    /* Flattening a feature map for a classifier: the bytes stay in H,W,C
     * order and the Gemm that reads them permutes its weights instead. */
    int flat = x->nhwc && !xnnbe_nhwc_trivial(x->dims);
    uint32_t src = x->id, oid;
    int rc;
    if (flat && (rank != 2 || dims[0] != x->dims[0] || xnnbe_needs_export(c, n->out[0]) ||
                 (!c->strict && !only_fc_readers(c, n->out[0])))) {
        /* a host value can come in again in NCHW order; one made here cannot */
        if (!x->imported)
            return xnnbe_split(c, k,
                               "'%s' is held as NHWC and this reshape needs NCHW order; "
                               "XNNPACK's subgraph has no transpose",
                               xnnbe_vname(c, x));
        if ((rc = xnnbe_as_logical(c, k, x, &src))) return rc;
        flat = 0;
    }
    /* A trivial NHWC value is already in logical byte order. */
    rc = xnnbe_define_output(c, k, n->out[0], rank, dims, 0, &oid);
    if (rc) return rc;
    if (flat) {
        xnnbe_val *o = &c->vals[n->out[0]];
        o->flat_nhwc = 1;
        o->chw[0] = x->dims[1];
        o->chw[1] = x->dims[2];
        o->chw[2] = x->dims[3];
    }
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(&c->vals[n->out[0]], pd);
    return xnnbe_check(
        c, k,
        xnn_define_static_reshape(c->s->islands[c->cur].subgraph, (size_t)pr, pd, src, oid, 0),
        "xnn_define_static_reshape");
}

static int op_reshape(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const int64_t *s;
    size_t ns;
    ir_tensor tmp = {0};
    if ((rc = const_ints(c, k, 1, "the shape", &s, &ns, &tmp))) return rc;
    int64_t dims[IR_MAX_RANK];
    int allowzero = (int)ir_node_int(n, "allowzero", 0), infer = -1;
    size_t known = 1, total = 1;
    for (int d = 0; d < x->rank; d++) total *= (size_t)x->dims[d];
    if (ns > IR_MAX_RANK) rc = xnnbe_unsupported(c, k, "rank %zu", ns);
    for (size_t i = 0; !rc && i < ns; i++) {
        dims[i] = s[i];
        if (s[i] == 0 && !allowzero) {
            if ((int)i >= x->rank)
                rc = xnnbe_invalid(c, k, "0 in shape beyond the input's rank");
            else
                dims[i] = x->dims[i];
        } else if (s[i] == -1) {
            if (infer >= 0) rc = xnnbe_invalid(c, k, "two -1 in shape");
            infer = (int)i;
            continue;
        } else if (s[i] < 0) {
            rc = xnnbe_invalid(c, k, "negative dimension %lld in shape", (long long)s[i]);
        }
        if (!rc) known *= (size_t)dims[i];
    }
    ir_tensor_free(&tmp);
    if (rc) return rc;
    if (infer >= 0) {
        if (known == 0 || total % known)
            return xnnbe_invalid(c, k, "cannot infer -1: %zu elements into %zu", total, known);
        dims[infer] = (int64_t)(total / known);
    }
    return reshape_to(c, k, x, (int)ns, dims);
}

static int op_flatten(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    int64_t axis = ir_node_int(n, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank) return xnnbe_invalid(c, k, "axis out of range");
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d < axis ? 0 : 1] *= x->dims[d];
    return reshape_to(c, k, x, 2, dims);
}

static int squeeze_axes(xnnbe_ctx *c, int k, const int64_t **axes, size_t *n, ir_tensor *tmp) {
    const ir_node *node = &c->g->nodes[k];
    if (c->opset > 0 && c->opset < 13) {
        *axes = ir_node_ints(node, "axes", n);
        return CALMA_OK;
    }
    if (node->n_in < 2 || node->in[1] < 0) {
        *axes = NULL;
        *n = 0;
        return CALMA_OK;
    }
    return const_ints(c, k, 1, "axes", axes, n, tmp);
}

static int op_squeeze(xnnbe_ctx *c, int k) {
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const int64_t *axes;
    size_t na;
    ir_tensor tmp = {0};
    if ((rc = squeeze_axes(c, k, &axes, &na, &tmp))) return rc;
    int drop[IR_MAX_RANK] = {0};
    for (size_t i = 0; i < na && !rc; i++) {
        int a = xnnbe_axis(axes[i], x->rank);
        if (a < 0 || x->dims[a] != 1)
            rc = xnnbe_invalid(c, k, "cannot squeeze axis %lld", (long long)axes[i]);
        else
            drop[a] = 1;
    }
    ir_tensor_free(&tmp);
    if (rc) return rc;
    int64_t dims[IR_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!(na ? drop[d] : x->dims[d] == 1)) dims[r++] = x->dims[d];
    return reshape_to(c, k, x, r, dims);
}

static int op_unsqueeze(xnnbe_ctx *c, int k) {
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const int64_t *axes;
    size_t na;
    ir_tensor tmp = {0};
    if ((rc = squeeze_axes(c, k, &axes, &na, &tmp))) return rc;
    int r = x->rank + (int)na;
    int add[IR_MAX_RANK] = {0};
    if (!axes || r > IR_MAX_RANK) rc = xnnbe_invalid(c, k, "bad axes");
    for (size_t i = 0; i < na && !rc; i++) {
        int a = xnnbe_axis(axes[i], r);
        if (a < 0 || add[a])
            rc = xnnbe_invalid(c, k, "bad axis %lld", (long long)axes[i]);
        else
            add[a] = 1;
    }
    ir_tensor_free(&tmp);
    if (rc) return rc;
    int64_t dims[IR_MAX_RANK];
    for (int d = 0, j = 0; d < r; d++) dims[d] = add[d] ? 1 : x->dims[j++];
    return reshape_to(c, k, x, r, dims);
}

/* ---- Pad, Softmax ---- */

static int op_pad(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const char *mode = ir_node_string(n, "mode", "constant");
    if (strcmp(mode, "constant") != 0)
        return xnnbe_unsupported(c, k, "mode '%s' has no XNNPACK equivalent (only constant)", mode);
    const int64_t *pads;
    size_t np;
    float value = 0.0f;
    ir_tensor tmp = {0};
    if (c->opset > 0 && c->opset < 11) {
        pads = ir_node_ints(n, "pads", &np);
        value = ir_node_float(n, "value", 0.0f);
        if (!pads) return xnnbe_invalid(c, k, "no pads");
    } else {
        if ((rc = const_ints(c, k, 1, "pads", &pads, &np, &tmp))) return rc;
        if (n->n_in > 2 && n->in[2] >= 0) {
            const ir_tensor *vt = xnnbe_const_input(c, k, 2);
            const float *f = xnnbe_const_f32(vt);
            if (!f || ir_tensor_numel(vt) != 1)
                rc = xnnbe_unsupported(c, k, "constant_value must be a constant float32 scalar");
            else
                value = f[0];
        }
        if (n->n_in > 3 && n->in[3] >= 0) rc = xnnbe_unsupported(c, k, "the axes input");
    }
    int64_t pre[IR_MAX_RANK], post[IR_MAX_RANK];
    if (!rc && np != (size_t)(2 * x->rank))
        rc = xnnbe_invalid(c, k, "%zu pads for rank %d", np, x->rank);
    for (int d = 0; !rc && d < x->rank; d++) {
        pre[d] = pads[d];
        post[d] = pads[d + x->rank];
        if (pre[d] < 0 || post[d] < 0) rc = xnnbe_unsupported(c, k, "negative pads (cropping)");
    }
    ir_tensor_free(&tmp);
    if (rc) return rc;
    uint32_t xid, oid;
    int nhwc = x->nhwc;
    if (nhwc)
        xid = x->id;
    else if ((rc = xnnbe_as_logical(c, k, x, &xid)))
        return rc;
    int64_t od[IR_MAX_RANK];
    for (int d = 0; d < x->rank; d++) od[d] = x->dims[d] + pre[d] + post[d];
    if ((rc = xnnbe_define_output(c, k, n->out[0], x->rank, od, nhwc, &oid))) return rc;
    size_t ppre[IR_MAX_RANK] = {0}, ppost[IR_MAX_RANK] = {0};
    static const int to_nhwc[4] = {0, 2, 3, 1};
    for (int d = 0; d < x->rank; d++) {
        int l = nhwc ? to_nhwc[d] : d;
        ppre[d] = (size_t)pre[l];
        ppost[d] = (size_t)post[l];
    }
    return xnnbe_check(c, k,
                       xnn_define_static_constant_pad(c->s->islands[c->cur].subgraph, ppre, ppost,
                                                      value, xid, oid, 0),
                       "xnn_define_static_constant_pad");
}

static int op_softmax(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    int old = c->opset > 0 && c->opset < 13;
    int axis = xnnbe_axis(ir_node_int(n, "axis", old ? 1 : -1), x->rank);
    if (axis < 0) return xnnbe_invalid(c, k, "axis out of range");
    uint32_t xid, oid;
    if ((rc = xnnbe_as_logical(c, k, x, &xid))) return rc;
    if (axis == x->rank - 1) {
        if ((rc = xnnbe_define_output(c, k, n->out[0], x->rank, x->dims, 0, &oid))) return rc;
        return xnnbe_check(c, k, xnn_define_softmax(c->s->islands[c->cur].subgraph, xid, oid, 0),
                           "xnn_define_softmax");
    }
    if (!old)
        return xnnbe_unsupported(c, k, "axis %d of %d; XNNPACK's softmax runs over the last axis",
                                 axis, x->rank);
    /* Before opset 13 Softmax works on the input flattened to 2-D at axis:
     * a reshape, a last-axis softmax and a reshape back. */
    size_t d2[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) d2[d < axis ? 0 : 1] *= (size_t)x->dims[d];
    uint32_t a, b;
    if ((rc = xnnbe_define_internal(c, k, 2, d2, &a))) return rc;
    if ((rc = xnnbe_define_internal(c, k, 2, d2, &b))) return rc;
    if ((rc = xnnbe_check(
             c, k, xnn_define_static_reshape(c->s->islands[c->cur].subgraph, 2, d2, xid, a, 0),
             "xnn_define_static_reshape")))
        return rc;
    if ((rc = xnnbe_check(c, k, xnn_define_softmax(c->s->islands[c->cur].subgraph, a, b, 0),
                          "xnn_define_softmax")))
        return rc;
    if ((rc = xnnbe_define_output(c, k, n->out[0], x->rank, x->dims, 0, &oid))) return rc;
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(&c->vals[n->out[0]], pd);
    return xnnbe_check(
        c, k, xnn_define_static_reshape(c->s->islands[c->cur].subgraph, (size_t)pr, pd, b, oid, 0),
        "xnn_define_static_reshape");
}

/* ---- Transpose: only the ones that are a change of label ---- */

static int transpose_const(xnnbe_ctx *c, int k, const xnnbe_val *x, const int64_t *perm) {
    const ir_tensor *src = x->cst;
    int r = src->rank;
    int64_t od[IR_MAX_RANK], istride[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    for (int d = 0; d < r; d++) od[d] = src->dims[perm[d]];
    int64_t st = 1;
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = st;
        st *= src->dims[d];
    }
    ir_tensor t = {0};
    calma_error e2;
    if (ir_tensor_alloc(&t, src->dtype, r, od, &e2)) return err_set(c->e, e2.status, "%s", e2.msg);
    size_t es = ir_dtype_size(src->dtype), n = ir_tensor_numel(&t);
    for (size_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += idx[d] * istride[perm[d]];
        memcpy((char *)t.data + i * es, (const char *)src->data + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < od[d]) break;
            idx[d] = 0;
        }
    }
    return set_const(c, k, c->g->nodes[k].out[0], &t);
}

/* The output is x's bytes under a new logical shape and layout flag: an
 * alias, or a copy when it is a graph output (its own external tensor). */
static int relabel(xnnbe_ctx *c, int k, xnnbe_val *x, const int64_t *dims, int nhwc) {
    int v = c->g->nodes[k].out[0];
    xnnbe_val want = *x;
    memcpy(want.dims, dims, sizeof(int64_t) * (size_t)x->rank);
    want.nhwc = nhwc;
    size_t pd[IR_MAX_RANK], pw[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(x, pd), pwr = xnnbe_phys_dims(&want, pw);
    /* the same physical shape: an alias, unless run() needs it apart */
    if (pr == pwr && !memcmp(pd, pw, sizeof(size_t) * (size_t)pr) && !xnnbe_needs_export(c, v)) {
        xnnbe_val *o = &c->vals[v];
        *o = want;
        o->alt_id = XNN_INVALID_VALUE_ID;
        return CALMA_OK;
    }
    uint32_t oid;
    int rc = xnnbe_define_output(c, k, v, x->rank, dims, nhwc, &oid);
    if (rc) return rc;
    return xnnbe_check(
        c, k,
        xnn_define_static_reshape(c->s->islands[c->cur].subgraph, (size_t)pwr, pw, x->id, oid, 0),
        "xnn_define_static_reshape");
}

static int op_transpose(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    int r = x->rank;
    size_t np = 0;
    const int64_t *pa = ir_node_ints(n, "perm", &np);
    int64_t perm[IR_MAX_RANK];
    int seen[IR_MAX_RANK] = {0};
    if (pa && np != (size_t)r) return xnnbe_invalid(c, k, "perm has %zu values for rank %d", np, r);
    for (int d = 0; d < r; d++) {
        perm[d] = pa ? pa[d] : r - 1 - d;
        if (perm[d] < 0 || perm[d] >= r || seen[perm[d]]++)
            return xnnbe_invalid(c, k, "perm is not a permutation of %d axes", r);
    }
    if (x->cst) return transpose_const(c, k, x, perm);
    if (x->flat_nhwc)
        return xnnbe_unsupported(c, k, "'%s' flattens an NHWC feature map", xnnbe_vname(c, x));
    int64_t od[IR_MAX_RANK];
    for (int d = 0; d < r; d++) od[d] = x->dims[perm[d]];
    static const int64_t to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    /* NHWC bytes read as NCHW, or back: the layout flag flips. */
    if (r == 4 && !x->nhwc && !memcmp(perm, to_nchw, sizeof to_nchw))
        return relabel(c, k, x, od, 1);
    if (r == 4 && x->nhwc && !memcmp(perm, to_nhwc, sizeof to_nhwc)) return relabel(c, k, x, od, 0);
    /* Moving only size-1 axes keeps the bytes in order. */
    int last = -1, same_order = 1;
    for (int d = 0; d < r; d++) {
        if (x->dims[perm[d]] == 1) continue;
        if (perm[d] < last) same_order = 0;
        last = (int)perm[d];
    }
    if (same_order && !x->nhwc) return relabel(c, k, x, od, 0);
    return xnnbe_unsupported(c, k,
                             "perm moves data; XNNPACK's subgraph has no transpose (only the "
                             "NCHW/NHWC relabelling at a layout boundary is free)");
}

const xnnbe_op xnnbe_ops_shape[] = {
    {"Reshape", op_reshape},
    {"Flatten", op_flatten},
    {"Squeeze", op_squeeze},
    {"Unsqueeze", op_unsqueeze},
    {"Pad", op_pad},
    {"Softmax", op_softmax},
    {"Constant", op_constant},
    {"Shape", op_shape},
    {"Gather", op_gather},
    {"Concat", op_concat},
    {"Cast", op_cast},
    {"Transpose", op_transpose},
    {NULL, NULL},
};
