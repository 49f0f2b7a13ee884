/* Activations (oneDNN eltwise), the exported erf GELU (as gelu_erf), and
 * the binary ops: Add, Sub, Mul, Div, Max, Min with broadcasting (oneDNN's
 * binary), or one eltwise when the other operand is a scalar constant;
 * Pow by a scalar constant. Following activations are fused as post-ops. */
#include <math.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

/* One eltwise primitive over x's memory, in its layout and type; the result
 * is bound to value y. */
static int emit_eltwise(dnnlbe_ctx *c, int node, int x, dnnl_alg_kind_t alg, float alpha,
                        float beta, int y) {
    int xm;
    int rc = dnnlbe_value_mem(c, node, x, &xm);
    if (rc) return rc;
    dnnl_eltwise_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t src = c->s->mems[xm].md;
    dnnl_status_t st =
        dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, alg, &src, alpha, beta);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, NULL, &pd);
    if ((rc = dnnlbe_check(c, node, st, "eltwise"))) return rc;
    int args[2] = {DNNL_ARG_SRC}, mems[2] = {xm};
    return dnnlbe_emit(c, node, pd, 1, args, mems, 0.0f, y);
}

static int op_unary(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    dnnl_alg_kind_t alg;
    float a, b;
    if (!dnnlbe_eltwise_of(c, node, &alg, &a, &b))
        return dnnlbe_unsupported(c, node, "bounds that are not constant scalars");
    int x;
    int rc = dnnlbe_input(c, node, 0, &x, NULL);
    return rc ? rc : emit_eltwise(c, node, x, alg, a, b, n->out[0]);
}

/* Erf alone has no oneDNN equivalent; as the GELU pattern it is gelu_erf,
 * caught at the pattern's first node (the Div), so reaching an Erf means
 * it is something else. */
static int op_erf(dnnlbe_ctx *c, int node) {
    return dnnlbe_unsupported(c, node,
                              "oneDNN has no erf; only the GELU pattern x * 0.5 * (1 + "
                              "erf(x / sqrt(2))) maps (to gelu_erf)");
}

static int is_op(const ir_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0;
}

/* x op s for a scalar constant s, as one eltwise (alg, alpha, beta);
 * x_first: x is the first operand. 0 when no eltwise computes it. */
static int scalar_form(const ir_node *n, float s, int x_first, dnnl_alg_kind_t *alg, float *a,
                       float *b) {
    *alg = dnnl_eltwise_linear;
    *b = 0.0f;
    if (is_op(n, "Add")) {
        *a = 1.0f;
        *b = s;
    } else if (is_op(n, "Sub")) {
        *a = x_first ? 1.0f : -1.0f;
        *b = x_first ? -s : s;
    } else if (is_op(n, "Mul")) {
        *a = s;
    } else if (is_op(n, "Div")) {
        if (x_first) {
            if (s == 0.0f) return 0;
            *a = 1.0f / s;
        } else { /* s / x = s * x^-1 */
            *alg = dnnl_eltwise_pow;
            *a = s;
            *b = -1.0f;
        }
    } else if (is_op(n, "Pow")) {
        if (!x_first) return 0;
        *alg = dnnl_eltwise_pow;
        *a = 1.0f;
        *b = s;
    } else if (is_op(n, "Max") || is_op(n, "Min")) {
        *alg = dnnl_eltwise_clip;
        *a = is_op(n, "Max") ? s : -INFINITY;
        *b = is_op(n, "Max") ? INFINITY : s;
    } else {
        return 0;
    }
    return 1;
}

static dnnl_alg_kind_t binary_alg(const ir_node *n) {
    static const struct {
        const char *op;
        dnnl_alg_kind_t alg;
    } t[] = {{"Add", dnnl_binary_add}, {"Sub", dnnl_binary_sub}, {"Mul", dnnl_binary_mul},
             {"Div", dnnl_binary_div}, {"Max", dnnl_binary_max}, {"Min", dnnl_binary_min}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (is_op(n, t[i].op)) return t[i].alg;
    return dnnl_alg_kind_undef;
}

static int same_dims(const dnnlbe_val *a, const dnnlbe_val *b) {
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* src1 of a binary: a broadcast operand as plain memory with the output's
 * rank (leading ones), a full-size one in src0's layout and type. */
static int binary_src1(dnnlbe_ctx *c, int node, int v, int rank, const dnnl_memory_desc_t *src0,
                       int *out) {
    const dnnlbe_val *x = &c->vals[v];
    int64_t dims[DNNL_MAX_NDIMS];
    int lead = rank - x->rank;
    for (int d = 0; d < rank; d++) dims[d] = d < lead ? 1 : x->dims[d - lead];
    if (x->cst) {
        if (!dnnlbe_const_f32(x->cst))
            return dnnlbe_unsupported(c, node, "constant '%s' is %s; oneDNN computes in float",
                                      dnnlbe_vname(c, v), ir_dtype_name(x->cst->dtype));
        dnnl_memory_desc_t md;
        int rc = dnnlbe_plain_md(c, node, rank, dims, dnnl_f32, &md);
        return rc ? rc
                  : dnnlbe_const_mem(c, node, &md, rank, dims, dnnlbe_const_f32(x->cst), NULL, out);
    }
    int full = src0->ndims == rank;
    for (int d = 0; full && d < rank; d++)
        if (src0->dims[d] != dims[d]) full = 0;
    if (full) return dnnlbe_as(c, node, v, src0, out);
    int m;
    int rc = dnnlbe_as_plain(c, node, v, src0->data_type, &m);
    if (!rc && lead) rc = dnnlbe_view(c, node, m, rank, dims, &m);
    *out = m;
    return rc;
}

static int emit_binary(dnnlbe_ctx *c, int node, int a, int b) {
    const ir_node *n = &c->g->nodes[node];
    const dnnlbe_val *yv = &c->vals[n->out[0]];
    int comm = !is_op(n, "Sub") && !is_op(n, "Div");
    if (!same_dims(&c->vals[a], yv) || c->vals[a].cst) {
        if (!comm || !same_dims(&c->vals[b], yv) || c->vals[b].cst)
            return dnnlbe_unsupported(c, node,
                                      "the first operand '%s' is broadcast; oneDNN's binary "
                                      "broadcasts only the second",
                                      dnnlbe_vname(c, a));
        int t = a;
        a = b;
        b = t;
    }
    int am, bm;
    dnnlbe_chain ch = {.n_ops = 0};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = dnnlbe_value_mem(c, node, a, &am);
    dnnl_memory_desc_t src0 = c->s->mems[am].md;
    if (!rc) rc = binary_src1(c, node, b, yv->rank, &src0, &bm);
    if (!rc) dnnlbe_follow(c, n->out[0], 0, &ch);
    if (!rc) rc = dnnlbe_chain_attr(c, node, &ch, NULL, &attr);
    if (rc) goto out;
    dnnl_memory_desc_t src1 = c->s->mems[bm].md;
    dnnl_binary_desc_t d;
    dnnl_status_t st = dnnl_binary_desc_init(&d, binary_alg(n), &src0, &src1, &src0);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, attr, &pd);
    if (st == dnnl_unimplemented && src1.data_type != src0.data_type && !c->vals[b].cst) {
        /* mixed types: the second operand in the first's */
        rc = binary_src1(c, node, b, yv->rank, &src0, &bm);
        if (rc) goto out;
        src1 = c->s->mems[bm].md;
        st = dnnl_binary_desc_init(&d, binary_alg(n), &src0, &src1, &src0);
        if (st == dnnl_success) st = dnnlbe_pd(c, &d, attr, &pd);
    }
    if ((rc = dnnlbe_check(c, node, st, "binary primitive"))) goto out;
    int args[3] = {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1}, mems[3] = {am, bm};
    rc = dnnlbe_emit(c, node, pd, 2, args, mems, 0.0f, ch.out_v);
    pd = NULL;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

static float scalar_of(const dnnlbe_ctx *c, int v) {
    const float *f = v >= 0 ? dnnlbe_const_f32(c->vals[v].cst) : NULL;
    return f && ir_tensor_numel(c->vals[v].cst) == 1 ? f[0] : NAN;
}

static int op_binary(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    if (n->n_in != 2)
        return dnnlbe_unsupported(c, node, "%d inputs; oneDNN's binary takes 2", n->n_in);
    int a = n->in[0], b = n->in[1];
    if (a < 0 || b < 0) return dnnlbe_invalid(c, node, "an input is missing");
    int pat[5], np = 0;
    if (!c->vals[a].cst && dnnlbe_gelu_match(c, a, pat, &np) && pat[0] == node) {
        for (int i = 0; i < np; i++) c->done[pat[i]] = 1;
        c->s->n_fused += np - 1;
        return emit_eltwise(c, node, a, dnnl_eltwise_gelu_erf, 0, 0, c->g->nodes[pat[4]].out[0]);
    }
    for (int first = 1; first >= 0; first--) {
        int x = first ? a : b, k = first ? b : a;
        float s = scalar_of(c, k);
        dnnl_alg_kind_t alg;
        float al, be;
        if (!c->vals[x].cst && !isnan(s) && c->vals[x].rank == c->vals[n->out[0]].rank &&
            scalar_form(n, s, first, &alg, &al, &be)) {
            int xv;
            int rc = dnnlbe_input(c, node, first ? 0 : 1, &xv, NULL);
            return rc ? rc : emit_eltwise(c, node, xv, alg, al, be, n->out[0]);
        }
    }
    if (is_op(n, "Pow"))
        return dnnlbe_unsupported(c, node, "an exponent that is not a scalar constant");
    if (c->vals[a].mem < 0 && !c->vals[a].cst) {
        int rc = dnnlbe_input(c, node, 0, &a, NULL);
        if (rc) return rc;
    }
    if (c->vals[b].mem < 0 && !c->vals[b].cst) {
        int rc = dnnlbe_input(c, node, 1, &b, NULL);
        if (rc) return rc;
    }
    return emit_binary(c, node, a, b);
}

const dnnlbe_op dnnlbe_ops_eltwise[] = {
    {"Relu", op_unary}, {"LeakyRelu", op_unary}, {"Clip", op_unary},     {"Sigmoid", op_unary},
    {"Tanh", op_unary}, {"Exp", op_unary},       {"Log", op_unary},      {"Sqrt", op_unary},
    {"Abs", op_unary},  {"HardSwish", op_unary}, {"Softplus", op_unary}, {"Round", op_unary},
    {"Elu", op_unary},  {"Neg", op_unary},       {"Erf", op_erf},        {"Add", op_binary},
    {"Sub", op_binary}, {"Mul", op_binary},      {"Div", op_binary},     {"Max", op_binary},
    {"Min", op_binary}, {"Pow", op_binary},      {NULL, NULL},
};
