/* Element-wise ops: binary arithmetic with broadcasting, activations
 * (as clamps where they are one), BatchNormalization not folded into a
 * Conv, and the no-ops Identity and Dropout. */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"

/* The value's id in its own layout (NHWC stays NHWC). */
static int same_layout_id(xnnbe_ctx *c, int k, xnnbe_val *x, uint32_t *id, int *nhwc) {
    *nhwc = x->nhwc;
    if (x->nhwc) {
        *id = x->id;
        return CALMA_OK;
    }
    return xnnbe_as_logical(c, k, x, id);
}

/* One operand of a binary op whose output is NHWC: the logical shape is
 * right-aligned to N,C,H,W and held as N,H,W,C. */
static int operand_nhwc(xnnbe_ctx *c, int k, xnnbe_val *v, uint32_t *id) {
    if (v->rank == 4 && v->nhwc) {
        *id = v->id;
        return CALMA_OK;
    }
    if (v->rank > 4)
        return xnnbe_unsupported(c, k, "'%s' has rank %d against a 4-D NHWC operand",
                                 xnnbe_vname(c, v), v->rank);
    int64_t d4[4] = {1, 1, 1, 1};
    for (int i = 0; i < v->rank; i++) d4[4 - v->rank + i] = v->dims[i];
    size_t pd[4] = {(size_t)d4[0], (size_t)d4[2], (size_t)d4[3], (size_t)d4[1]};
    if (v->cst) {
        const float *f = xnnbe_const_f32(v->cst);
        if (!f)
            return xnnbe_unsupported(c, k, "constant '%s' is %s; XNNPACK computes in float32",
                                     xnnbe_vname(c, v), ir_dtype_name(v->cst->dtype));
        float *data = xnnbe_blob(c, ir_tensor_numel(v->cst));
        if (!data) return c->e ? c->e->status : CALMA_E_NOMEM;
        xnnbe_nchw_to_nhwc(f, data, d4);
        return xnnbe_define_static(c, k, 4, pd, data, id);
    }
    if (!xnnbe_nhwc_trivial(d4))
        return xnnbe_unsupported(c, k,
                                 "'%s' is in NCHW order but meets an NHWC operand; XNNPACK's "
                                 "subgraph has no transpose",
                                 xnnbe_vname(c, v));
    uint32_t src;
    int rc = xnnbe_as_logical(c, k, v, &src);
    if (rc) return rc;
    if ((rc = xnnbe_define_internal(c, k, 4, pd, id))) return rc;
    return xnnbe_check(
        c, k, xnn_define_static_reshape(c->s->islands[c->cur].subgraph, 4, pd, src, *id, 0),
        "xnn_define_static_reshape");
}

static int broadcast(xnnbe_ctx *c, int k, const xnnbe_val *a, const xnnbe_val *b, int *rank,
                     int64_t *dims) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return xnnbe_invalid(
                c, k, "shapes of '%s' and '%s' do not broadcast (dim %d: %lld vs %lld)",
                xnnbe_vname(c, a), xnnbe_vname(c, b), i, (long long)da, (long long)db);
        dims[i] = da == 1 ? db : da;
    }
    *rank = r;
    return CALMA_OK;
}

static int op_binary(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    const char *op = n->op_type;
    if (n->n_in != 2)
        return xnnbe_unsupported(c, k, "%d inputs; XNNPACK's %s takes 2", n->n_in, op);
    xnnbe_val *a, *b;
    int rc = xnnbe_input(c, k, 0, &a);
    if (!rc) rc = xnnbe_input(c, k, 1, &b);
    if (rc) return rc;
    if (a->cst && b->cst)
        return xnnbe_unsupported(c, k, "both inputs are constants (not folded here)");
    int rank = 0;
    int64_t od[IR_MAX_RANK];
    if ((rc = broadcast(c, k, a, b, &rank, od))) return rc;
    int nhwc = (a->rank == 4 && a->nhwc) || (b->rank == 4 && b->nhwc);
    if (nhwc && rank != 4)
        return xnnbe_unsupported(c, k, "a %d-D result from an NHWC operand", rank);
    uint32_t ia, ib, oid;
    if (nhwc) {
        rc = operand_nhwc(c, k, a, &ia);
        if (!rc) rc = operand_nhwc(c, k, b, &ib);
    } else {
        rc = xnnbe_as_logical(c, k, a, &ia);
        if (!rc) rc = xnnbe_as_logical(c, k, b, &ib);
    }
    if (rc) return rc;
    int out_v = n->out[0];
    float lo = -INFINITY, hi = INFINITY;
    int clamps = strcmp(op, "Max") != 0 && strcmp(op, "Min") != 0;
    if (clamps) xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    if ((rc = xnnbe_define_output(c, k, out_v, rank, od, nhwc, &oid))) return rc;
    xnn_subgraph_t sg = c->s->islands[c->cur].subgraph;
    enum xnn_status st;
    if (strcmp(op, "Add") == 0 || strcmp(op, "Sum") == 0)
        st = xnn_define_add2(sg, lo, hi, ia, ib, oid, 0);
    else if (strcmp(op, "Sub") == 0)
        st = xnn_define_subtract(sg, lo, hi, ia, ib, oid, 0);
    else if (strcmp(op, "Mul") == 0)
        st = xnn_define_multiply2(sg, lo, hi, ia, ib, oid, 0);
    else if (strcmp(op, "Div") == 0)
        st = xnn_define_divide(sg, lo, hi, ia, ib, oid, 0);
    else if (strcmp(op, "Max") == 0)
        st = xnn_define_maximum2(sg, ia, ib, oid, 0);
    else
        st = xnn_define_minimum2(sg, ia, ib, oid, 0);
    return xnnbe_check(c, k, st, op);
}

/* ---- unary ---- */

static int unary_begin(xnnbe_ctx *c, int k, xnnbe_val **x, uint32_t *xid, int *nhwc) {
    int rc = xnnbe_input(c, k, 0, x);
    if (rc) return rc;
    return same_layout_id(c, k, *x, xid, nhwc);
}

static int op_clamp(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    float lo, hi;
    if (!xnnbe_clip_bounds(c, k, &lo, &hi))
        return xnnbe_unsupported(c, k, "min and max must be constant scalars");
    xnnbe_val *x;
    uint32_t xid, oid;
    int nhwc;
    int rc = unary_begin(c, k, &x, &xid, &nhwc);
    if (rc) return rc;
    int out_v = n->out[0];
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    if ((rc = xnnbe_define_output(c, k, out_v, x->rank, x->dims, nhwc, &oid))) return rc;
    return xnnbe_check(c, k, xnn_define_clamp(c->s->islands[c->cur].subgraph, lo, hi, xid, oid, 0),
                       "xnn_define_clamp");
}

static int op_unary(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    const char *op = n->op_type;
    xnnbe_val *x;
    uint32_t xid, oid;
    int nhwc;
    int rc = unary_begin(c, k, &x, &xid, &nhwc);
    if (rc) return rc;
    if ((rc = xnnbe_define_output(c, k, n->out[0], x->rank, x->dims, nhwc, &oid))) return rc;
    xnn_subgraph_t sg = c->s->islands[c->cur].subgraph;
    enum xnn_status st;
    if (strcmp(op, "Sigmoid") == 0)
        st = xnn_define_sigmoid(sg, xid, oid, 0);
    else if (strcmp(op, "HardSwish") == 0)
        st = xnn_define_hardswish(sg, xid, oid, 0);
    else if (strcmp(op, "LeakyRelu") == 0)
        st = xnn_define_leaky_relu(sg, ir_node_float(n, "alpha", 0.01f), xid, oid, 0);
    else if (strcmp(op, "Elu") == 0)
        st = xnn_define_elu(sg, ir_node_float(n, "alpha", 1.0f), xid, oid, 0);
    else if (strcmp(op, "Abs") == 0)
        st = xnn_define_abs(sg, xid, oid, 0);
    else if (strcmp(op, "Neg") == 0)
        st = xnn_define_negate(sg, xid, oid, 0);
    else if (strcmp(op, "Floor") == 0)
        st = xnn_define_floor(sg, xid, oid, 0);
    else if (strcmp(op, "Ceil") == 0)
        st = xnn_define_ceiling(sg, xid, oid, 0);
    else
        st = xnn_define_square_root(sg, xid, oid, 0);
    return xnnbe_check(c, k, st, op);
}

/* y = x * a + b per element or channel, then clamped: HardSigmoid and a
 * BatchNormalization that no Conv absorbed. a and b are static tensors of
 * shape pd (rank pr). */
static int scale_shift(xnnbe_ctx *c, int k, xnnbe_val *x, uint32_t xid, int nhwc, int pr,
                       const size_t *pd, const float *a, const float *b, float lo, float hi) {
    const ir_node *n = &c->g->nodes[k];
    uint32_t aid, bid, tid, oid;
    size_t xd[IR_MAX_RANK];
    int xr = xnnbe_phys_dims(x, xd);
    int rc = xnnbe_define_static(c, k, pr, pd, a, &aid);
    if (!rc) rc = xnnbe_define_static(c, k, pr, pd, b, &bid);
    if (!rc) rc = xnnbe_define_internal(c, k, xr, xd, &tid);
    if (rc) return rc;
    rc = xnnbe_check(
        c, k,
        xnn_define_multiply2(c->s->islands[c->cur].subgraph, -INFINITY, INFINITY, xid, aid, tid, 0),
        "xnn_define_multiply2");
    if (rc) return rc;
    int out_v = n->out[0];
    xnnbe_fuse_clamp(c, &out_v, &lo, &hi);
    if ((rc = xnnbe_define_output(c, k, out_v, x->rank, x->dims, nhwc, &oid))) return rc;
    return xnnbe_check(c, k,
                       xnn_define_add2(c->s->islands[c->cur].subgraph, lo, hi, tid, bid, oid, 0),
                       "xnn_define_add2");
}

static int op_hardsigmoid(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    uint32_t xid;
    int nhwc;
    int rc = unary_begin(c, k, &x, &xid, &nhwc);
    if (rc) return rc;
    float *a = xnnbe_blob(c, 1), *b = xnnbe_blob(c, 1);
    if (!a || !b) return c->e ? c->e->status : CALMA_E_NOMEM;
    a[0] = ir_node_float(n, "alpha", 0.2f);
    b[0] = ir_node_float(n, "beta", 0.5f);
    size_t one[1] = {1};
    return scale_shift(c, k, x, xid, nhwc, 1, one, a, b, 0.0f, 1.0f);
}

static int op_batchnorm(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    uint32_t xid;
    int nhwc;
    int rc = unary_begin(c, k, &x, &xid, &nhwc);
    if (rc) return rc;
    if (x->rank < 2) return xnnbe_invalid(c, k, "input has rank %d, needs at least 2", x->rank);
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
            return xnnbe_unsupported(c, k, "training outputs (running mean/var) are not computed");
    int64_t C = x->dims[1];
    const float *p[4];
    for (int j = 0; j < 4; j++) {
        const ir_tensor *t = xnnbe_const_input(c, k, j + 1);
        p[j] = xnnbe_const_f32(t);
        if (!p[j] || (int64_t)ir_tensor_numel(t) != C)
            return xnnbe_unsupported(c, k, "input %d must be a constant float32 [%lld]", j + 1,
                                     (long long)C);
    }
    double eps = ir_node_float(n, "epsilon", 1e-5f);
    float *a = xnnbe_blob(c, (size_t)C), *b = xnnbe_blob(c, (size_t)C);
    if (!a || !b) return c->e ? c->e->status : CALMA_E_NOMEM;
    for (int64_t i = 0; i < C; i++) {
        double sc = p[0][i] / sqrt((double)p[3][i] + eps);
        a[i] = (float)sc;
        b[i] = (float)(p[1][i] - p[2][i] * sc);
    }
    /* Channels are last in NHWC; in logical order they are dim 1, so the
     * constants get trailing ones to broadcast over the spatial dims. */
    size_t pd[IR_MAX_RANK];
    int pr;
    if (nhwc) {
        pr = 1;
        pd[0] = (size_t)C;
    } else {
        pr = x->rank - 1;
        pd[0] = (size_t)C;
        for (int d = 1; d < pr; d++) pd[d] = 1;
    }
    return scale_shift(c, k, x, xid, nhwc, pr, pd, a, b, -INFINITY, INFINITY);
}

static int op_prelu(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    const ir_tensor *st = xnnbe_const_input(c, k, 1);
    const float *slope = xnnbe_const_f32(st);
    if (!slope || x->rank != 4)
        return xnnbe_unsupported(c, k, "needs a 4-D input and a constant float32 slope");
    int64_t C = x->dims[1];
    /* Right-aligned against N,C,H,W, a [C,1,1] slope puts C on channels. */
    int r = st->rank;
    int per_channel =
        (int64_t)ir_tensor_numel(st) == C && (C == 1 || (r >= 3 && st->dims[r - 3] == C));
    if (!per_channel && ir_tensor_numel(st) != 1)
        return xnnbe_unsupported(c, k, "slope must be one value or one per channel ([C,1,1])");
    uint32_t xid, sid, oid;
    if ((rc = xnnbe_as_nhwc(c, k, x, &xid))) return rc;
    float *s = xnnbe_blob(c, (size_t)C);
    if (!s) return c->e ? c->e->status : CALMA_E_NOMEM;
    for (int64_t i = 0; i < C; i++) s[i] = per_channel ? slope[i] : slope[0];
    size_t sd[1] = {(size_t)C};
    if ((rc = xnnbe_define_static(c, k, 1, sd, s, &sid))) return rc;
    if ((rc = xnnbe_define_output(c, k, n->out[0], 4, x->dims, 1, &oid))) return rc;
    return xnnbe_check(c, k, xnn_define_prelu(c->s->islands[c->cur].subgraph, xid, sid, oid, 0),
                       "xnn_define_prelu");
}

/* Identity and Dropout (inference) pass their input on. A graph output
 * needs its own external tensor, so it gets a copy. */
static int op_identity(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_val *x;
    int rc = xnnbe_input(c, k, 0, &x);
    if (rc) return rc;
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
            return xnnbe_unsupported(c, k, "the mask output is not computed");
    int v = n->out[0];
    if (v < 0) return CALMA_OK;
    if (!xnnbe_needs_export(c, v)) {
        c->vals[v] = *x;
        return CALMA_OK;
    }
    uint32_t xid, oid;
    int nhwc;
    if ((rc = same_layout_id(c, k, x, &xid, &nhwc))) return rc;
    if ((rc = xnnbe_define_output(c, k, v, x->rank, x->dims, nhwc, &oid))) return rc;
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(&c->vals[v], pd);
    return xnnbe_check(
        c, k,
        xnn_define_static_reshape(c->s->islands[c->cur].subgraph, (size_t)pr, pd, xid, oid, 0),
        "xnn_define_static_reshape");
}

const xnnbe_op xnnbe_ops_eltwise[] = {
    {"Add", op_binary},
    {"Sum", op_binary},
    {"Sub", op_binary},
    {"Mul", op_binary},
    {"Div", op_binary},
    {"Max", op_binary},
    {"Min", op_binary},
    {"Relu", op_clamp},
    {"Clip", op_clamp},
    {"Sigmoid", op_unary},
    {"HardSwish", op_unary},
    {"LeakyRelu", op_unary},
    {"Elu", op_unary},
    {"Abs", op_unary},
    {"Neg", op_unary},
    {"Floor", op_unary},
    {"Ceil", op_unary},
    {"Sqrt", op_unary},
    {"HardSigmoid", op_hardsigmoid},
    {"BatchNormalization", op_batchnorm},
    {"PRelu", op_prelu},
    {"Identity", op_identity},
    {"Dropout", op_identity},
    {NULL, NULL},
};
