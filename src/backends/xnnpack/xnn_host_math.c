/* Host ops that compute: element-wise, Where, reductions, Softmax,
 * LayerNormalization, MatMul and Gemm of computed tensors. Outputs keep
 * the memory order of their main input where the kernel allows (an NHWC
 * map stays NHWC), so no layout changes between islands unless an op
 * needs one (a reduction over axes that are not innermost, a Softmax over
 * an axis that is not). */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "backends/xnnpack/xnn_kernels.h"

static const xnnbe_val *out_val(xnnbe_ctx *c, int k) {
    return &c->vals[c->g->nodes[k].out[0]];
}

static int no_extra_outputs(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
            return xnnbe_unsupported(c, k, "output %d is not computed", j);
    return CALMA_OK;
}

/* A packed output shaped like value o in x's memory order when x has o's
 * shape and no gaps, else in logical order. */
static int alloc_like(xnnbe_ctx *c, const xnnbe_val *o, const xnnbe_view *x, xnnbe_view *y) {
    int order[IR_MAX_RANK], same = x && x->rank == o->rank && xnnbe_view_dense(x);
    for (int d = 0; same && d < o->rank; d++) same = x->dims[d] == o->dims[d];
    if (same) xnnbe_view_order(x, order);
    return xnnbe_host_alloc(c, o->rank, o->dims, same ? order : NULL, y);
}

static int elt_step(xnnbe_ctx *c, int k, int op, float p0, float p1, const xnnbe_view *a,
                    const xnnbe_view *b, const xnnbe_view *y) {
    xnnbe_elt_args *e = xnnbe_args(c, sizeof *e);
    if (!e) return c->e->status;
    xnnbe_elt_prepare(e, op, p0, p1, a, b, y);
    return xnnbe_add_kernel(c, k, xnnbe_k_elt, e);
}

/* ---- element-wise ---- */

static const struct {
    const char *name;
    int op;
} unary_ops[] = {
    {"Erf", XNNBE_ERF},           {"Sqrt", XNNBE_SQRT},
    {"Reciprocal", XNNBE_RECIP},  {"Exp", XNNBE_EXP},
    {"Log", XNNBE_LOG},           {"Tanh", XNNBE_TANH},
    {"Sigmoid", XNNBE_SIGMOID},   {"Relu", XNNBE_RELU},
    {"Neg", XNNBE_NEG},           {"Abs", XNNBE_ABS},
    {"Floor", XNNBE_FLOOR},       {"Ceil", XNNBE_CEIL},
    {"Softplus", XNNBE_SOFTPLUS}, {"LeakyRelu", XNNBE_LEAKY},
    {"Elu", XNNBE_ELU},           {"HardSigmoid", XNNBE_HSIGMOID},
    {"HardSwish", XNNBE_HSWISH},  {"Clip", XNNBE_CLIP},
    {"Gelu", XNNBE_GELU},
};

static int clip_bounds(xnnbe_ctx *c, int k, float *lo, float *hi) {
    const ir_node *n = &c->g->nodes[k];
    *lo = -INFINITY;
    *hi = INFINITY;
    if (c->opset > 0 && c->opset < 11) {
        *lo = ir_node_float(n, "min", -INFINITY);
        *hi = ir_node_float(n, "max", INFINITY);
        return CALMA_OK;
    }
    for (int i = 1; i <= 2 && i < n->n_in; i++) {
        if (n->in[i] < 0) continue;
        const ir_tensor *t = c->vals[n->in[i]].cst;
        const float *f = xnnbe_const_f32(t);
        if (!f || ir_tensor_numel(t) != 1)
            return xnnbe_unsupported(c, k, "min and max must be constant float32 scalars");
        *(i == 1 ? lo : hi) = f[0];
    }
    return CALMA_OK;
}

static int op_unary(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    int op = -1;
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (!strcmp(n->op_type, unary_ops[i].name)) op = unary_ops[i].op;
    float p0 = 0, p1 = 0;
    int rc = CALMA_OK;
    if (op == XNNBE_LEAKY) p0 = ir_node_float(n, "alpha", 0.01f);
    if (op == XNNBE_ELU) p0 = ir_node_float(n, "alpha", 1.0f);
    if (op == XNNBE_HSIGMOID) {
        p0 = ir_node_float(n, "alpha", 0.2f);
        p1 = ir_node_float(n, "beta", 0.5f);
    }
    if (op == XNNBE_GELU && strcmp(ir_node_string(n, "approximate", "none"), "none"))
        return xnnbe_unsupported(c, k, "approximate='%s' (only 'none')",
                                 ir_node_string(n, "approximate", ""));
    if (op == XNNBE_CLIP) rc = clip_bounds(c, k, &p0, &p1);
    xnnbe_view x, y;
    if (!rc) rc = xnnbe_host_input(c, k, 0, &x);
    if (!rc) rc = alloc_like(c, out_val(c, k), &x, &y);
    if (!rc) rc = elt_step(c, k, op, p0, p1, &x, NULL, &y);
    if (!rc) xnnbe_host_output(c, k, 0, &y);
    return rc;
}

/* x^p for a constant scalar p: the common exponents without powf. */
static int pow_const(const float *p, int *op) {
    if (!p) return 0;
    if (p[0] == 2.0f)
        *op = XNNBE_SQUARE;
    else if (p[0] == 3.0f)
        *op = XNNBE_CUBE;
    else if (p[0] == 0.5f)
        *op = XNNBE_SQRT;
    else if (p[0] == -0.5f)
        *op = XNNBE_RSQRT;
    else if (p[0] == -1.0f)
        *op = XNNBE_RECIP;
    else if (p[0] == 1.0f)
        *op = XNNBE_COPY;
    else
        *op = XNNBE_POWC;
    return 1;
}

static int op_binary(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    static const struct {
        const char *name;
        int op;
    } ops[] = {{"Add", XNNBE_ADD}, {"Sum", XNNBE_ADD}, {"Sub", XNNBE_SUB}, {"Mul", XNNBE_MUL},
               {"Div", XNNBE_DIV}, {"Pow", XNNBE_POW}, {"Max", XNNBE_MAX}, {"Min", XNNBE_MIN}};
    int op = XNNBE_ADD;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(n->op_type, ops[i].name)) op = ops[i].op;
    const xnnbe_val *o = out_val(c, k);
    xnnbe_view a, b, y, ea, eb;
    int rc;
    if (n->n_in == 1) { /* Sum, Max, Min of one input */
        if ((rc = xnnbe_host_input(c, k, 0, &a))) return rc;
        xnnbe_host_output(c, k, 0, &a);
        return CALMA_OK;
    }
    if (n->n_in != 2) return xnnbe_unsupported(c, k, "%d inputs (calma's kernel takes 2)", n->n_in);
    if ((rc = xnnbe_host_input(c, k, 0, &a))) return rc;
    const ir_tensor *pt = n->in[1] >= 0 ? c->vals[n->in[1]].cst : NULL;
    int uop;
    if (op == XNNBE_POW && pt && ir_tensor_numel(pt) == 1 && pow_const(xnnbe_const_f32(pt), &uop)) {
        if ((rc = xnnbe_view_expand(&a, o->rank, o->dims, &ea) ? CALMA_OK
                                                               : xnnbe_invalid(c, k, "bad shapes")))
            return rc;
        if ((rc = alloc_like(c, o, &a, &y))) return rc;
        if ((rc = elt_step(c, k, uop, xnnbe_const_f32(pt)[0], 0, &ea, NULL, &y))) return rc;
        xnnbe_host_output(c, k, 0, &y);
        return CALMA_OK;
    }
    if ((rc = xnnbe_host_input(c, k, 1, &b))) return rc;
    if (!xnnbe_view_expand(&a, o->rank, o->dims, &ea) ||
        !xnnbe_view_expand(&b, o->rank, o->dims, &eb))
        return xnnbe_invalid(c, k, "the inputs do not broadcast to the output");
    /* the output follows the full-sized computed operand's layout */
    const xnnbe_view *like = c->vals[n->in[0]].cst ? &b : &a;
    if (like->rank != o->rank) like = like == &a ? &b : &a;
    if ((rc = alloc_like(c, o, like, &y))) return rc;
    if ((rc = elt_step(c, k, op, 0, 0, &ea, &eb, &y))) return rc;
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

/* Where(cond, x, y) with a constant condition. */
static int op_where(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    const ir_tensor *cond = n->n_in > 0 && n->in[0] >= 0 ? c->vals[n->in[0]].cst : NULL;
    if (!cond || n->n_in != 3)
        return xnnbe_unsupported(c, k,
                                 "the condition must be a constant (computed masks are not "
                                 "supported)");
    const xnnbe_val *o = out_val(c, k);
    size_t m = ir_tensor_numel(cond);
    unsigned char *mask = xnnbe_args(c, m ? m : 1);
    if (!mask) return c->e->status;
    for (size_t i = 0; i < m; i++) mask[i] = ir_tensor_get_f64(cond, i) != 0;
    /* the mask as a view of floats would lie about its type: its strides
     * come from a float view of the same shape */
    xnnbe_view cv, ecv, x, y, ex, ey, out;
    xnnbe_view_packed(&cv, NULL, cond->rank, cond->dims, NULL);
    int rc = xnnbe_host_input(c, k, 1, &x);
    if (!rc) rc = xnnbe_host_input(c, k, 2, &y);
    if (rc) return rc;
    if (!xnnbe_view_expand(&cv, o->rank, o->dims, &ecv) ||
        !xnnbe_view_expand(&x, o->rank, o->dims, &ex) ||
        !xnnbe_view_expand(&y, o->rank, o->dims, &ey))
        return xnnbe_invalid(c, k, "the inputs do not broadcast to the output");
    if ((rc = xnnbe_host_alloc(c, o->rank, o->dims, NULL, &out))) return rc;
    xnnbe_where_args *w = xnnbe_args(c, sizeof *w);
    if (!w) return c->e->status;
    w->cond = mask;
    w->x = x.data;
    w->y = y.data;
    w->o = out.data;
    w->rank = o->rank > 0 ? o->rank : 1;
    for (int d = 0; d < w->rank; d++) {
        int real = o->rank > 0;
        w->dims[d] = real ? o->dims[d] : 1;
        w->sc[d] = real ? ecv.st[d] : 0;
        w->sx[d] = real ? ex.st[d] : 0;
        w->sy[d] = real ? ey.st[d] : 0;
        w->so[d] = real ? out.st[d] : 0;
    }
    if ((rc = xnnbe_add_kernel(c, k, xnnbe_k_where, w))) return rc;
    xnnbe_host_output(c, k, 0, &out);
    return CALMA_OK;
}

/* ---- reductions ---- */

static int reduce_axes(xnnbe_ctx *c, int k, int rank, int *red) {
    const ir_node *n = &c->g->nodes[k];
    size_t na = 0;
    const int64_t *axes = ir_node_ints(n, "axes", &na);
    const ir_tensor *at = NULL;
    if (n->n_in > 1 && n->in[1] >= 0) {
        at = c->vals[n->in[1]].cst;
        if (!at) return xnnbe_unsupported(c, k, "axes must be a constant");
        na = ir_tensor_numel(at);
    }
    memset(red, 0, sizeof(int) * IR_MAX_RANK);
    if (!na) {
        if (ir_node_int(n, "noop_with_empty_axes", 0))
            return xnnbe_unsupported(c, k, "noop_with_empty_axes");
        for (int d = 0; d < rank; d++) red[d] = 1;
        return CALMA_OK;
    }
    for (size_t i = 0; i < na; i++) {
        int a = xnnbe_axis(at ? ir_tensor_get_i64(at, i) : axes[i], rank);
        if (a < 0) return xnnbe_invalid(c, k, "axis out of range");
        red[a] = 1;
    }
    return CALMA_OK;
}

static int op_reduce(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    static const struct {
        const char *name;
        int op;
    } ops[] = {{"ReduceMean", XNNBE_RMEAN},       {"ReduceSum", XNNBE_RSUM},
               {"ReduceMax", XNNBE_RMAX},         {"ReduceMin", XNNBE_RMIN},
               {"ReduceSumSquare", XNNBE_RSUMSQ}, {"ReduceL2", XNNBE_RL2}};
    int op = XNNBE_RSUM;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(n->op_type, ops[i].name)) op = ops[i].op;
    xnnbe_view x;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    int red[IR_MAX_RANK], mem[IR_MAX_RANK];
    if ((rc = reduce_axes(c, k, x.rank, red))) return rc;
    /* In x's memory order the reduced axes must form one block: then it is
     * [outer][red][inner] as it lies. Otherwise x is copied with the kept
     * axes first. */
    xnnbe_view_order(&x, mem);
    int first = -1, last = -1, block = 1;
    for (int i = 0; i < x.rank; i++) {
        int a = mem[i];
        if (!red[a] || x.dims[a] == 1) continue;
        if (first < 0)
            first = i;
        else if (last != i - 1)
            block = 0;
        last = i;
    }
    if (!block || !xnnbe_view_dense(&x)) {
        int order[IR_MAX_RANK], r = 0;
        for (int i = 0; i < x.rank; i++)
            if (!red[mem[i]]) order[r++] = mem[i];
        for (int i = 0; i < x.rank; i++)
            if (red[mem[i]]) order[r++] = mem[i];
        xnnbe_view p;
        if ((rc = xnnbe_host_packed(c, k, &x, order, &p))) return rc;
        x = p;
        memcpy(mem, order, sizeof order);
        first = -1;
        for (int i = 0; i < x.rank; i++)
            if (red[mem[i]] && x.dims[mem[i]] != 1 && first < 0) first = i;
        last = x.rank - 1;
    }
    size_t outer = 1, nred = 1, inner = 1;
    for (int i = 0; i < x.rank; i++) {
        size_t d = (size_t)x.dims[mem[i]];
        if (red[mem[i]])
            nred *= d;
        else if (first >= 0 && i > last)
            inner *= d;
        else
            outer *= d;
    }
    /* The output: the kept axes packed in x's memory order. */
    const xnnbe_val *o = out_val(c, k);
    int keep = (int)ir_node_int(n, "keepdims", 1);
    int64_t kd[IR_MAX_RANK];
    int korder[IR_MAX_RANK], nk = 0, pos[IR_MAX_RANK];
    for (int d = 0, r = 0; d < x.rank; d++) {
        if (red[d] && !keep) {
            pos[d] = -1;
            continue;
        }
        kd[r] = red[d] ? 1 : x.dims[d];
        pos[d] = r++;
    }
    for (int i = 0; i < x.rank; i++)
        if (pos[mem[i]] >= 0) korder[nk++] = pos[mem[i]];
    if (nk != o->rank) return xnnbe_fail(c, k, CALMA_E_INTERNAL, "reduced rank differs");
    xnnbe_view y;
    if ((rc = xnnbe_host_alloc(c, nk, kd, korder, &y))) return rc;
    xnnbe_reduce_args *a = xnnbe_args(c, sizeof *a);
    if (!a) return c->e->status;
    *a = (xnnbe_reduce_args){op, x.data, y.data, outer, nred, inner};
    if ((rc = xnnbe_add_kernel(c, k, xnnbe_k_reduce, a))) return rc;
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

/* x packed with axes [from, rank) innermost and contiguous in logical
 * order, the others in x's memory order before them; *rows, *len its
 * shape as rows. */
static int rows_of(xnnbe_ctx *c, int k, const xnnbe_view *x, int from, xnnbe_view *p, size_t *rows,
                   size_t *len) {
    int mem[IR_MAX_RANK], order[IR_MAX_RANK], r = 0;
    xnnbe_view_order(x, mem);
    for (int i = 0; i < x->rank; i++)
        if (mem[i] < from) order[r++] = mem[i];
    for (int d = from; d < x->rank; d++) order[r++] = d;
    int rc = xnnbe_host_packed(c, k, x, order, p);
    if (rc) return rc;
    *rows = *len = 1;
    for (int d = 0; d < x->rank; d++) *(d < from ? rows : len) *= (size_t)x->dims[d];
    return CALMA_OK;
}

/* Softmax rows of p (packed, rows innermost) into a new buffer in p's order. */
static int softmax_rows(xnnbe_ctx *c, int k, const xnnbe_view *p, size_t rows, size_t len,
                        xnnbe_view *y) {
    int order[IR_MAX_RANK];
    xnnbe_view_order(p, order);
    int rc = xnnbe_host_alloc(c, p->rank, p->dims, order, y);
    if (rc) return rc;
    xnnbe_softmax_args *s = xnnbe_args(c, sizeof *s);
    if (!s) return c->e->status;
    *s = (xnnbe_softmax_args){p->data, y->data, rows, len,
                              !strcmp(c->g->nodes[k].op_type, "LogSoftmax")};
    return xnnbe_add_kernel(c, k, xnnbe_k_softmax, s);
}

static int op_softmax(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x, p, y;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    int old = c->opset > 0 && c->opset < 13;
    int a = xnnbe_axis(ir_node_int(n, "axis", old ? 1 : -1), x.rank);
    if (a < 0) return xnnbe_invalid(c, k, "axis out of range");
    /* one axis (opset 13): moved last as a view, normalised, moved back */
    int64_t perm[IR_MAX_RANK], inv[IR_MAX_RANK];
    for (int d = 0, r = 0; d < x.rank; d++)
        if (old || d != a) perm[r++] = d;
    if (!old) perm[x.rank - 1] = a;
    for (int d = 0; d < x.rank; d++) inv[perm[d]] = d;
    xnnbe_view t, back;
    xnnbe_view_transpose(&x, perm, &t);
    size_t rows, len;
    if ((rc = rows_of(c, k, &t, old ? a : t.rank - 1, &p, &rows, &len))) return rc;
    if ((rc = softmax_rows(c, k, &p, rows, len, &y))) return rc;
    xnnbe_view_transpose(&y, inv, &back);
    xnnbe_host_output(c, k, 0, &back);
    return CALMA_OK;
}

/* A constant broadcast to dims[from:] as n floats (scale and bias). */
static int const_row(xnnbe_ctx *c, int k, int i, const xnnbe_view *x, int from, float fill,
                     const float **out) {
    const ir_node *n = &c->g->nodes[k];
    int64_t d[IR_MAX_RANK];
    int r = x->rank - from;
    for (int j = 0; j < r; j++) d[j] = x->dims[from + j];
    xnnbe_view row;
    int rc = xnnbe_host_alloc(c, r, d, NULL, &row);
    if (rc) return rc;
    *out = row.data;
    if (i >= n->n_in || n->in[i] < 0) {
        for (size_t j = 0; j < xnnbe_view_numel(&row); j++) row.data[j] = fill;
        return CALMA_OK;
    }
    if (!c->vals[n->in[i]].cst)
        return xnnbe_unsupported(c, k, "input %d (scale or bias) must be a constant", i);
    xnnbe_view src, e;
    if ((rc = xnnbe_host_input(c, k, i, &src))) return rc;
    if (!xnnbe_view_expand(&src, r, d, &e))
        return xnnbe_invalid(c, k, "input %d does not broadcast to the normalised shape", i);
    xnnbe_copy_args a;
    xnnbe_copy_prepare(&a, &e, &row);
    xnnbe_k_copy(&a, NULL); /* once, now */
    return CALMA_OK;
}

static int op_layernorm(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x, p, y;
    int rc = no_extra_outputs(c, k);
    if (!rc) rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    int a = xnnbe_axis(ir_node_int(n, "axis", -1), x.rank);
    if (a < 0) return xnnbe_invalid(c, k, "axis out of range");
    const float *gamma, *beta = NULL;
    if ((rc = const_row(c, k, 1, &x, a, 1.0f, &gamma))) return rc;
    if (n->n_in > 2 && n->in[2] >= 0 && (rc = const_row(c, k, 2, &x, a, 0.0f, &beta))) return rc;
    size_t rows, len;
    if ((rc = rows_of(c, k, &x, a, &p, &rows, &len))) return rc;
    int order[IR_MAX_RANK];
    xnnbe_view_order(&p, order);
    if ((rc = xnnbe_host_alloc(c, p.rank, p.dims, order, &y))) return rc;
    xnnbe_layernorm_args *l = xnnbe_args(c, sizeof *l);
    if (!l) return c->e->status;
    *l = (xnnbe_layernorm_args){
        p.data, gamma, beta, y.data, rows, len, ir_node_float(n, "epsilon", 1e-5f)};
    if ((rc = xnnbe_add_kernel(c, k, xnnbe_k_layernorm, l))) return rc;
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

/* ---- MatMul ---- */

/* o = a b with numpy's batch broadcasting; a [..., M, K], b [..., K, N]
 * (a 1-D operand is a row or column, dropped from the output). */
static int matmul(xnnbe_ctx *c, int k, const xnnbe_view *a0, const xnnbe_view *b0,
                  xnnbe_view *out) {
    xnnbe_view a = *a0, b = *b0;
    if (a.rank < 1 || b.rank < 1) return xnnbe_invalid(c, k, "MatMul of a scalar");
    if (a.rank == 1) { /* [K] -> [1, K] */
        a.dims[1] = a.dims[0], a.st[1] = a.st[0], a.dims[0] = 1, a.st[0] = 0, a.rank = 2;
    }
    if (b.rank == 1) { /* [K] -> [K, 1] */
        b.dims[1] = 1, b.st[1] = 0, b.rank = 2;
    }
    int64_t M = a.dims[a.rank - 2], K = a.dims[a.rank - 1], N = b.dims[b.rank - 1];
    if (b.dims[b.rank - 2] != K) return xnnbe_invalid(c, k, "inner dimensions differ");
    int br = (a.rank > b.rank ? a.rank : b.rank) - 2;
    int64_t bd[IR_MAX_RANK];
    xnnbe_view ab = {.rank = a.rank - 2}, bb = {.rank = b.rank - 2}, eab, ebb;
    memcpy(ab.dims, a.dims, sizeof(int64_t) * (size_t)ab.rank);
    memcpy(ab.st, a.st, sizeof(int64_t) * (size_t)ab.rank);
    memcpy(bb.dims, b.dims, sizeof(int64_t) * (size_t)bb.rank);
    memcpy(bb.st, b.st, sizeof(int64_t) * (size_t)bb.rank);
    for (int d = 0; d < br; d++) {
        int ia = d - (br - ab.rank), ib = d - (br - bb.rank);
        int64_t da = ia >= 0 ? ab.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return xnnbe_invalid(c, k, "batch dims differ");
        bd[d] = da > db ? da : db;
    }
    if (!xnnbe_view_expand(&ab, br, bd, &eab) || !xnnbe_view_expand(&bb, br, bd, &ebb))
        return xnnbe_invalid(c, k, "batch dims do not broadcast");
    size_t nb = 1;
    for (int d = 0; d < br; d++) nb *= (size_t)bd[d];
    xnnbe_matmul_args *m = xnnbe_args(c, sizeof *m);
    int64_t *aoff = xnnbe_args(c, sizeof(int64_t) * nb),
            *boff = xnnbe_args(c, sizeof(int64_t) * nb);
    if (!m || !aoff || !boff) return c->e->status;
    for (size_t i = 0; i < nb; i++) {
        size_t r = i;
        aoff[i] = boff[i] = 0;
        for (int d = br - 1; d >= 0; d--) {
            int64_t idx = (int64_t)(r % (size_t)bd[d]);
            r /= (size_t)bd[d];
            aoff[i] += idx * eab.st[d];
            boff[i] += idx * ebb.st[d];
        }
    }
    size_t np = ((size_t)N + XNNBE_NR - 1) / XNNBE_NR;
    m->panels = xnnbe_blob(c, nb * (size_t)K * np * XNNBE_NR);
    if (!m->panels) return c->e->status;
    const xnnbe_val *o = out_val(c, k);
    int rc = xnnbe_host_alloc(c, o->rank, o->dims, NULL, out);
    if (rc) return rc;
    m->nb = nb;
    m->M = (size_t)M;
    m->N = (size_t)N;
    m->K = (size_t)K;
    m->a = a.data;
    m->b = b.data;
    m->o = out->data;
    m->a_off = aoff;
    m->b_off = boff;
    m->sam = a.st[a.rank - 2];
    m->sak = a.st[a.rank - 1];
    m->sbk = b.st[b.rank - 2];
    m->sbn = b.st[b.rank - 1];
    return xnnbe_add_kernel(c, k, xnnbe_k_matmul, m);
}

static int op_matmul(xnnbe_ctx *c, int k) {
    xnnbe_view a, b, y;
    int rc = xnnbe_host_input(c, k, 0, &a);
    if (!rc) rc = xnnbe_host_input(c, k, 1, &b);
    if (!rc) rc = matmul(c, k, &a, &b, &y);
    if (!rc) xnnbe_host_output(c, k, 0, &y);
    return rc;
}

/* Gemm whose B is computed (a constant B runs in XNNPACK): alpha A' B' +
 * beta C, the transposes as views. */
static int op_gemm(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view a, b, y;
    int rc = xnnbe_host_input(c, k, 0, &a);
    if (!rc) rc = xnnbe_host_input(c, k, 1, &b);
    if (rc) return rc;
    if (a.rank != 2 || b.rank != 2) return xnnbe_invalid(c, k, "A and B must be matrices");
    static const int64_t swap[2] = {1, 0};
    if (ir_node_int(n, "transA", 0)) xnnbe_view_transpose(&a, swap, &a);
    if (ir_node_int(n, "transB", 0)) xnnbe_view_transpose(&b, swap, &b);
    if ((rc = matmul(c, k, &a, &b, &y))) return rc;
    float alpha = ir_node_float(n, "alpha", 1.0f), beta = ir_node_float(n, "beta", 1.0f);
    if (alpha != 1.0f) {
        xnnbe_view s;
        if ((rc = xnnbe_host_alloc(c, 0, NULL, NULL, &s))) return rc;
        s.data[0] = alpha;
        xnnbe_view es;
        xnnbe_view_expand(&s, y.rank, y.dims, &es);
        xnnbe_view y2;
        if ((rc = xnnbe_host_alloc(c, y.rank, y.dims, NULL, &y2))) return rc;
        if ((rc = elt_step(c, k, XNNBE_MUL, 0, 0, &y, &es, &y2))) return rc;
        y = y2;
    }
    if (n->n_in > 2 && n->in[2] >= 0 && beta != 0.0f) {
        xnnbe_view cv, ec, y2;
        if ((rc = xnnbe_host_input(c, k, 2, &cv))) return rc;
        if (!xnnbe_view_expand(&cv, y.rank, y.dims, &ec))
            return xnnbe_invalid(c, k, "C does not broadcast to the output");
        if (beta != 1.0f) {
            if (!c->vals[n->in[2]].cst) return xnnbe_unsupported(c, k, "beta with a computed C");
            for (size_t i = 0; i < xnnbe_view_numel(&cv); i++) cv.data[i] *= beta;
        }
        if ((rc = xnnbe_host_alloc(c, y.rank, y.dims, NULL, &y2))) return rc;
        if ((rc = elt_step(c, k, XNNBE_ADD, 0, 0, &y, &ec, &y2))) return rc;
        y = y2;
    }
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

const xnnbe_op xnnbe_host_math[] = {
    {"Erf", op_unary},
    {"Sqrt", op_unary},
    {"Reciprocal", op_unary},
    {"Exp", op_unary},
    {"Log", op_unary},
    {"Tanh", op_unary},
    {"Sigmoid", op_unary},
    {"Relu", op_unary},
    {"Neg", op_unary},
    {"Abs", op_unary},
    {"Floor", op_unary},
    {"Ceil", op_unary},
    {"Softplus", op_unary},
    {"LeakyRelu", op_unary},
    {"Elu", op_unary},
    {"HardSigmoid", op_unary},
    {"HardSwish", op_unary},
    {"Clip", op_unary},
    {"Gelu", op_unary},
    {"Add", op_binary},
    {"Sum", op_binary},
    {"Sub", op_binary},
    {"Mul", op_binary},
    {"Div", op_binary},
    {"Pow", op_binary},
    {"Max", op_binary},
    {"Min", op_binary},
    {"Where", op_where},
    {"ReduceMean", op_reduce},
    {"ReduceSum", op_reduce},
    {"ReduceMax", op_reduce},
    {"ReduceMin", op_reduce},
    {"ReduceSumSquare", op_reduce},
    {"ReduceL2", op_reduce},
    {"Softmax", op_softmax},
    {"LogSoftmax", op_softmax},
    {"LayerNormalization", op_layernorm},
    {"MatMul", op_matmul},
    {"Gemm", op_gemm},
    {NULL, NULL},
};
