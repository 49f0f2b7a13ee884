/* Post-op chains: what follows a convolution or product and can run inside
 * it (activations, the erf GELU, a residual Add as a sum, a scalar scale),
 * so the intermediate tensors are never written to memory. */
#include <math.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

static int is_op(const ir_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0;
}

/* A scalar float constant (any rank, one element), or NAN. */
static float scalar_of(const dnnlbe_ctx *c, int v) {
    if (v < 0) return NAN;
    const float *f = dnnlbe_const_f32(c->vals[v].cst);
    return f && ir_tensor_numel(c->vals[v].cst) == 1 ? f[0] : NAN;
}

static int clip_bounds(dnnlbe_ctx *c, int k, float *lo, float *hi) {
    const ir_node *n = &c->g->nodes[k];
    *lo = -INFINITY;
    *hi = INFINITY;
    if (c->opset > 0 && c->opset < 11) {
        *lo = ir_node_float(n, "min", -INFINITY);
        *hi = ir_node_float(n, "max", INFINITY);
        return 1;
    }
    for (int i = 1; i <= 2; i++) {
        int v = dnnlbe_in_v(c, k, i);
        if (v < 0) continue;
        float f = scalar_of(c, v);
        if (isnan(f)) return 0;
        if (i == 1)
            *lo = f;
        else
            *hi = f;
    }
    return *lo <= *hi;
}

int dnnlbe_eltwise_of(dnnlbe_ctx *c, int k, dnnl_alg_kind_t *alg, float *alpha, float *beta) {
    const ir_node *n = &c->g->nodes[k];
    static const struct {
        const char *op;
        dnnl_alg_kind_t alg;
    } plain[] = {
        {"Relu", dnnl_eltwise_relu},
        {"Sigmoid", dnnl_eltwise_logistic},
        {"Tanh", dnnl_eltwise_tanh},
        {"Exp", dnnl_eltwise_exp},
        {"Log", dnnl_eltwise_log},
        {"Sqrt", dnnl_eltwise_sqrt},
        {"Abs", dnnl_eltwise_abs},
        {"HardSwish", dnnl_eltwise_hardswish},
        {"Softplus", dnnl_eltwise_soft_relu},
        {"Round", dnnl_eltwise_round},
    };
    *alpha = *beta = 0.0f;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (is_op(n, plain[i].op)) {
            *alg = plain[i].alg;
            return 1;
        }
    if (is_op(n, "LeakyRelu")) {
        *alg = dnnl_eltwise_relu;
        *alpha = ir_node_float(n, "alpha", 0.01f);
        return 1;
    }
    if (is_op(n, "Elu")) {
        *alg = dnnl_eltwise_elu;
        *alpha = ir_node_float(n, "alpha", 1.0f);
        return 1;
    }
    if (is_op(n, "Neg")) {
        *alg = dnnl_eltwise_linear;
        *alpha = -1.0f;
        return 1;
    }
    if (is_op(n, "Clip")) {
        if (!clip_bounds(c, k, alpha, beta)) return 0;
        *alg = dnnl_eltwise_clip;
        if (*alpha == 0.0f && isinf(*beta)) *alg = dnnl_eltwise_relu, *beta = 0.0f;
        return 1;
    }
    return 0;
}

/* The other input of binary node k, given one of them. */
static int other_in(const dnnlbe_ctx *c, int k, int v) {
    const ir_node *n = &c->g->nodes[k];
    if (n->n_in != 2) return -2;
    return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -2;
}

/* The single reader of v, when v has exactly one and is not an output. */
static int only_reader(const dnnlbe_ctx *c, int v) {
    if (v < 0 || c->uses[v] != 1 || dnnlbe_is_output(c, v)) return -1;
    int k = c->consumer[v];
    return k >= 0 && !c->done[k] && c->g->nodes[k].n_out >= 1 ? k : -1;
}

static int near(float a, float b) {
    return fabsf(a - b) <= 1e-4f * fabsf(b);
}

int dnnlbe_gelu_match(const dnnlbe_ctx *c, int v, int *nodes, int *n_nodes) {
    const ir_graph *g = c->g;
    if (c->uses[v] != 2 || dnnlbe_is_output(c, v)) return 0;
    int rd[2], n = 0;
    for (int i = 0; i < g->n_nodes && n < 2; i++) {
        if (c->done[i]) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                rd[n++] = i;
                break;
            }
    }
    if (n != 2) return 0;
    /* x / sqrt(2) (or x * 1/sqrt(2)), then Erf, then + 1 */
    int d = -1, other = -1;
    for (int i = 0; i < 2; i++) {
        const ir_node *x = &g->nodes[rd[i]];
        if (x->n_in != 2 || x->in[0] != v) continue;
        float s = scalar_of(c, x->in[1]);
        if ((is_op(x, "Div") && near(s, sqrtf(2.0f))) ||
            (is_op(x, "Mul") && near(s, sqrtf(0.5f)))) {
            d = rd[i];
            other = rd[1 - i];
        }
    }
    if (d < 0) return 0;
    int erf = only_reader(c, g->nodes[d].out[0]);
    if (erf < 0 || !is_op(&g->nodes[erf], "Erf")) return 0;
    int add = only_reader(c, g->nodes[erf].out[0]);
    if (add < 0 || !is_op(&g->nodes[add], "Add") ||
        !near(scalar_of(c, other_in(c, add, g->nodes[erf].out[0])), 1.0f))
        return 0;
    int e_out = g->nodes[add].out[0];
    const ir_node *o = &g->nodes[other];
    int last;
    if (is_op(o, "Mul") && other_in(c, other, v) == e_out) {
        /* x * (1 + erf) then * 0.5 */
        last = only_reader(c, o->out[0]);
        if (last < 0 || !is_op(&g->nodes[last], "Mul") ||
            !near(scalar_of(c, other_in(c, last, o->out[0])), 0.5f))
            return 0;
        if (only_reader(c, e_out) != other) return 0;
    } else if (is_op(o, "Mul") && near(scalar_of(c, other_in(c, other, v)), 0.5f)) {
        /* (x * 0.5) * (1 + erf) */
        last = only_reader(c, o->out[0]);
        if (last < 0 || !is_op(&g->nodes[last], "Mul") || other_in(c, last, o->out[0]) != e_out ||
            only_reader(c, e_out) != last)
            return 0;
    } else {
        return 0;
    }
    nodes[0] = d;
    nodes[1] = erf;
    nodes[2] = add;
    nodes[3] = other;
    nodes[4] = last;
    *n_nodes = 5;
    return 1;
}

static int same_dims(const dnnlbe_val *a, const dnnlbe_val *b) {
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Records one post-op; 0 when the chain is full (then it ends there). */
static int append(dnnlbe_chain *ch, int sum, dnnl_alg_kind_t alg, float alpha, float beta) {
    if (ch->n_ops >= DNNLBE_MAX_POST) return 0;
    dnnlbe_post *p = &ch->op[ch->n_ops++];
    p->sum = sum;
    p->alg = alg;
    p->alpha = alpha;
    p->beta = beta;
    return 1;
}

static void take(dnnlbe_ctx *c, dnnlbe_chain *ch, int k) {
    c->done[k] = 1;
    c->s->n_fused++;
    ch->out_v = c->g->nodes[k].out[0];
}

void dnnlbe_follow(dnnlbe_ctx *c, int v, int flags, dnnlbe_chain *ch) {
    memset(ch, 0, sizeof *ch);
    ch->out_v = v;
    ch->sum_v = ch->sum_node = -1;
    for (;;) {
        int cur = ch->out_v, pat[5], np = 0;
        if (dnnlbe_gelu_match(c, cur, pat, &np)) {
            if (!append(ch, 0, dnnl_eltwise_gelu_erf, 0.0f, 0.0f)) return;
            for (int i = 0; i < np; i++) take(c, ch, pat[i]);
            continue;
        }
        int k = only_reader(c, cur);
        if (k < 0) return;
        const ir_node *n = &c->g->nodes[k];
        if (n->out[0] < 0) return;
        dnnl_alg_kind_t alg;
        float a, b;
        if (n->n_in >= 1 && n->in[0] == cur && dnnlbe_eltwise_of(c, k, &alg, &a, &b)) {
            if (!append(ch, 0, alg, a, b)) return;
        } else if ((flags & DNNLBE_FUSE_SUM) && ch->sum_v < 0 && is_op(n, "Add")) {
            int o = other_in(c, k, cur);
            if (o < 0 || o == cur || c->vals[o].cst ||
                (c->vals[o].mem < 0 && c->vals[o].view_of < 0) ||
                !same_dims(&c->vals[o], &c->vals[cur]))
                return;
            if (!append(ch, 1, dnnl_alg_kind_undef, 0, 0)) return;
            ch->sum_v = o;
            ch->sum_node = k;
        } else if ((flags & DNNLBE_FUSE_SCALE) && (is_op(n, "Mul") || is_op(n, "Div"))) {
            int o = other_in(c, k, cur);
            float s = scalar_of(c, o);
            if (isnan(s) || (is_op(n, "Div") && (n->in[1] != o || s == 0.0f))) return;
            if (!append(ch, 0, dnnl_eltwise_linear, is_op(n, "Div") ? 1.0f / s : s, 0.0f)) return;
        } else {
            return;
        }
        take(c, ch, k);
    }
}

/* The post-ops: the chain's, with the residual's scale on the sum and, for
 * an int8 destination, a last linear step into its scale. */
static int build_post_ops(dnnlbe_ctx *c, int node, const dnnlbe_chain *ch, const dnnlbe_qattr *q,
                          dnnl_post_ops_t *out) {
    dnnl_post_ops_t ops = NULL;
    int rc = dnnlbe_check(c, node, dnnl_post_ops_create(&ops), "post-ops");
    for (int i = 0; !rc && i < ch->n_ops; i++) {
        const dnnlbe_post *p = &ch->op[i];
        dnnl_status_t st;
        if (p->sum && q && q->sum_scale > 0)
            st = dnnl_post_ops_append_sum_v2(ops, q->sum_scale, q->sum_dt);
        else if (p->sum)
            st = dnnl_post_ops_append_sum(ops, 1.0f);
        else
            st = dnnl_post_ops_append_eltwise(ops, 1.0f, p->alg, p->alpha, p->beta);
        rc = dnnlbe_check(c, node, st, "post-op");
    }
    if (!rc && q && q->dst_scale > 0)
        rc = dnnlbe_check(
            c, node,
            dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_linear, 1.0f / q->dst_scale, 0.0f),
            "post-op");
    if (rc && ops) dnnl_post_ops_destroy(ops);
    *out = rc ? NULL : ops;
    return rc;
}

int dnnlbe_chain_attr(dnnlbe_ctx *c, int node, const dnnlbe_chain *ch, const dnnlbe_qattr *q,
                      dnnl_primitive_attr_t *attr) {
    *attr = NULL;
    int quant = q && q->scales;
    if (!ch->n_ops && !quant) return CALMA_OK;
    dnnl_post_ops_t ops = NULL;
    int rc = dnnlbe_check(c, node, dnnl_primitive_attr_create(attr), "attributes");
    if (!rc)
        rc = dnnlbe_check(c, node,
                          dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
                          "scratchpad mode");
    if (!rc && quant)
        rc = dnnlbe_check(
            c, node, dnnl_primitive_attr_set_output_scales(*attr, q->n_scales, q->mask, q->scales),
            "output scales");
    if (!rc) rc = build_post_ops(c, node, ch, q, &ops);
    if (!rc) rc = dnnlbe_check(c, node, dnnl_primitive_attr_set_post_ops(*attr, ops), "post-ops");
    if (ops) dnnl_post_ops_destroy(ops);
    if (rc && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return rc;
}

int dnnlbe_sum_dst(dnnlbe_ctx *c, int node, int sum_v, const dnnl_memory_desc_t *md,
                   float dst_scale, int at, int *out, float *sum_scale, dnnl_data_type_t *sum_dt) {
    int m;
    int rc = dnnlbe_value_mem_raw(c, node, sum_v, &m);
    if (rc) return rc;
    const dnnl_memory_desc_t *rmd = &c->s->mems[m].md;
    float rs = c->s->mems[m].scale;
    dnnlbe_sum_kind(c, sum_v, md->data_type, dst_scale, sum_scale, sum_dt);
    int keep = rs > 0 && (md->data_type == dnnl_u8 || md->data_type == dnnl_s8);
    dnnl_memory_desc_t want = *md;
    want.data_type = *sum_dt;
    int src = m, same = rmd->ndims == md->ndims;
    for (int d = 0; same && d < md->ndims; d++)
        if (rmd->dims[d] != md->dims[d]) same = 0;
    if (!same) {
        /* e.g. [B, S, N] added to an inner product's [B*S, N] */
        int64_t dims[DNNL_MAX_NDIMS];
        for (int d = 0; d < md->ndims; d++) dims[d] = md->dims[d];
        rc = rs > 0 ? dnnlbe_fail(c, node, CALMA_E_INTERNAL, "an int8 residual of other dims")
                    : dnnlbe_as_plain(c, node, sum_v, rmd->data_type, &src);
        if (!rc) rc = dnnlbe_view(c, node, src, md->ndims, dims, &src);
        if (rc) return rc;
    }
    int copy;
    if (dnnl_memory_desc_equal(&c->s->mems[src].md, &want) &&
        c->s->mems[src].buf == c->s->mems[m].buf && dnnlbe_can_overwrite(c, sum_v, node, at)) {
        copy = src; /* in place: the primitive adds onto the residual's own memory */
    } else {
        /* A private copy in the primitive's layout (not kept as sum_v's
         * conversion: the primitive overwrites it). */
        rc = dnnlbe_reorder(c, node, src, &want, keep ? rs : dst_scale, &copy);
        if (rc) return rc;
    }
    if (dnnl_memory_desc_equal(&c->s->mems[copy].md, md)) {
        *out = copy;
        return CALMA_OK;
    }
    /* The same bytes written in the destination's int8 type. */
    *out = dnnlbe_new_mem(c, md, c->s->mems[copy].buf);
    return *out < 0 ? c->e->status : CALMA_OK;
}

int dnnlbe_product_step(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, const dnnlbe_chain *ch,
                        float dst_scale, int sm, int wm, int bm) {
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    float ss;
    dnnl_data_type_t sdt;
    int dm, rc = ch->sum_v >= 0 ? dnnlbe_sum_dst(c, node, ch->sum_v, dmd, dst_scale, ch->sum_node,
                                                 &dm, &ss, &sdt)
                                : ((dm = dnnlbe_new_act(c, dmd)) < 0 ? c->e->status : CALMA_OK);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    c->s->mems[dm].scale = dst_scale;
    int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
    int mems[4] = {sm, wm, dm, bm};
    rc = dnnlbe_add_step(c, node, pd, bm >= 0 ? 4 : 3, args, mems);
    return rc ? rc : dnnlbe_bind_view(c, node, ch->out_v, dm);
}
