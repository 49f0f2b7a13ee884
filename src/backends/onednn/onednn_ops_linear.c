/* Gemm and MatMul. With constant weights: an inner product (weights in the
 * layout oneDNN chooses, reordered once in convert), its bias taken from
 * Gemm's C or from the Add after a MatMul, activations and a residual Add
 * fused; a Flatten of a blocked feature map goes in unflattened (the
 * weights are viewed as [N, C, H, W]), so no reorder is needed. With two
 * computed operands: oneDNN's matmul on plain memory, batch dims broadcast,
 * a scalar scale and activations fused. */
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

typedef struct ip_job {
    int src_v;       /* the value read */
    int view2d;      /* read as [M, K] over its plain memory; else as it is (rank >= 3) */
    int64_t m, k, n; /* [M, K] x [K, N] */
    int wrank;
    int64_t wdims[DNNL_MAX_NDIMS];
    const float *w; /* [N, K] (or [N, C, H, W]) */
    float *wown;
    const float *b; /* [N] or NULL */
    float *bown;
    int start_v; /* the value the post-op chain starts from */
} ip_job;

static void job_free(ip_job *j) {
    free(j->wown);
    free(j->bown);
    j->wown = j->bown = NULL;
}

/* The inner product's source memory: [M, K] over plain memory, or the
 * value itself in the layout the primitive chose; int8 when planned so. */
static int ip_src(dnnlbe_ctx *c, int node, const ip_job *j, const dnnlbe_qplan *qp,
                  const dnnl_memory_desc_t *want, int *sm) {
    const dnnlbe_val *xv = &c->vals[j->src_v];
    int64_t d2[2] = {j->m, j->k};
    int rc;
    if (!j->view2d)
        return qp->on ? dnnlbe_as_q(c, node, j->src_v, want, qp->src.scale, sm)
                      : dnnlbe_as(c, node, j->src_v, want, sm);
    if (qp->on) {
        dnnl_memory_desc_t pm;
        rc = dnnlbe_plain_md(c, node, xv->rank, xv->dims, qp->src.dt, &pm);
        if (!rc) rc = dnnlbe_as_q(c, node, j->src_v, &pm, qp->src.scale, sm);
    } else {
        rc = dnnlbe_as_plain(c, node, j->src_v, c->cdt, sm);
    }
    return rc ? rc : dnnlbe_view(c, node, *sm, 2, d2, sm);
}

static int emit_ip(dnnlbe_ctx *c, int node, ip_job *j) {
    dnnlbe_chain ch = {.n_ops = 0};
    dnnlbe_qplan qp = {0};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnlbe_follow(c, j->start_v, DNNLBE_FUSE_SUM, &ch);
    int rc = CALMA_OK;
    if (!rc) rc = dnnlbe_qplan_make(c, j->src_v, j->wrank, j->wdims, j->w, j->b, &ch, &qp);
    if (!rc) rc = dnnlbe_chain_attr(c, node, &ch, qp.on ? &qp.qa : NULL, &attr);
    if (rc) goto out;
    const dnnlbe_val *xv = &c->vals[j->src_v];
    int64_t sdims2[2] = {j->m, j->k}, ddims[2] = {j->m, j->n};
    dnnl_data_type_t ddt = qp.on                                           ? qp.ddt
                           : ch.sum_v < 0 && dnnlbe_is_output(c, ch.out_v) ? dnnl_f32
                                                                           : c->cdt;
    dnnl_data_type_t sdt = qp.on ? qp.src.dt : c->cdt, wdt = qp.on ? dnnl_s8 : c->cdt;
    dnnl_memory_desc_t src, wei, bias, dst;
    rc = j->view2d ? dnnlbe_plain_md(c, node, 2, sdims2, sdt, &src)
                   : dnnlbe_any_md(c, node, xv->rank, xv->dims, sdt, &src);
    if (!rc) rc = dnnlbe_any_md(c, node, j->wrank, j->wdims, wdt, &wei);
    if (!rc) rc = dnnlbe_any_md(c, node, 1, &j->n, dnnl_f32, &bias);
    if (!rc) rc = dnnlbe_plain_md(c, node, 2, ddims, ddt, &dst);
    if (rc) goto out;
    dnnl_inner_product_desc_t d;
    dnnl_status_t st = dnnl_inner_product_forward_desc_init(&d, dnnl_forward_inference, &src, &wei,
                                                            j->b ? &bias : NULL, &dst);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, attr, &pd);
    if ((rc = dnnlbe_check(c, node, st, "inner product"))) goto out;
    int sm, wm, bm = -1;
    rc = ip_src(c, node, j, &qp, dnnlbe_pd_md(pd, dnnl_query_src_md, 0), &sm);
    if (!rc)
        rc = dnnlbe_product_consts(c, node, &qp, pd, j->wrank, j->wdims, j->w, &j->wown, j->b,
                                   &j->bown, j->n, &wm, &bm);
    if (rc) goto out;
    rc = dnnlbe_product_step(c, node, pd, &ch, qp.qa.dst_scale, sm, wm, bm);
    pd = NULL;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnlbe_qplan_free(&qp);
    job_free(j);
    return rc;
}

/* [rows, cols] -> [cols, rows], times scale. */
static float *transposed(const float *src, int64_t rows, int64_t cols, float scale) {
    float *t = malloc((size_t)(rows * cols) * sizeof(float));
    if (!t) return NULL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) t[k * rows + r] = src[r * cols + k] * scale;
    return t;
}

/* The source of an inner product: A itself as [M, K], or the blocked map
 * a Flatten of it views (rank >= 3, flattened from axis 1). */
static int ip_source(dnnlbe_ctx *c, int node, ip_job *j) {
    int a = dnnlbe_in_v(c, node, 0);
    if (a < 0) return dnnlbe_invalid(c, node, "input A is missing");
    const dnnlbe_val *av = &c->vals[a];
    if (av->cst)
        return dnnlbe_unsupported(c, node, "input A ('%s') is a constant", dnnlbe_vname(c, a));
    if (av->mem < 0 && av->view_of >= 0 && av->rank == 2) {
        const dnnlbe_val *u = &c->vals[av->view_of];
        if (u->rank >= 3 && u->rank <= 5 && u->dims[0] == av->dims[0]) {
            j->src_v = av->view_of;
            j->view2d = 0;
            return CALMA_OK;
        }
    }
    int x;
    int rc = dnnlbe_input_raw(c, node, 0, &x, NULL); /* as it is: int8 stays int8 */
    if (rc) return rc;
    j->src_v = x;
    j->view2d = 1;
    return CALMA_OK;
}

/* Weights dims: [N, K], or [N, C, H, W] for a source left unflattened. */
static void ip_wdims(const dnnlbe_ctx *c, ip_job *j) {
    const dnnlbe_val *u = &c->vals[j->src_v];
    j->wdims[0] = j->n;
    if (j->view2d) {
        j->wrank = 2;
        j->wdims[1] = j->k;
        return;
    }
    j->wrank = u->rank;
    for (int d = 1; d < u->rank; d++) j->wdims[d] = u->dims[d];
}

static int op_gemm(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    const ir_tensor *b = dnnlbe_const_input(c, node, 1);
    if (!dnnlbe_const_f32(b) || b->rank != 2)
        return dnnlbe_unsupported(c, node,
                                  "B must be a constant 2-D float32 matrix (oneDNN's inner "
                                  "product); '%s' is not",
                                  dnnlbe_vname(c, dnnlbe_in_v(c, node, 1)));
    if (ir_node_int(n, "transA", 0)) return dnnlbe_unsupported(c, node, "transA 1 on a computed A");
    ip_job j;
    memset(&j, 0, sizeof j);
    int rc = ip_source(c, node, &j);
    if (rc) return rc;
    int a = dnnlbe_in_v(c, node, 0);
    if (c->vals[a].rank != 2)
        return dnnlbe_invalid(c, node, "A has rank %d; Gemm takes 2-D matrices", c->vals[a].rank);
    int tb = (int)ir_node_int(n, "transB", 0);
    float alpha = ir_node_float(n, "alpha", 1.0f), beta = ir_node_float(n, "beta", 1.0f);
    j.m = c->vals[a].dims[0];
    j.k = c->vals[a].dims[1];
    j.n = tb ? b->dims[0] : b->dims[1];
    if ((tb ? b->dims[1] : b->dims[0]) != j.k)
        return dnnlbe_invalid(c, node, "A is [%lld, %lld], B does not have %lld rows",
                              (long long)j.m, (long long)j.k, (long long)j.k);
    /* oneDNN wants [N, K]: B^T as given when transB, else transposed; alpha folded in. */
    j.w = b->data;
    if (!tb || alpha != 1.0f) {
        j.wown =
            tb ? transposed(b->data, 1, j.n * j.k, alpha) : transposed(b->data, j.k, j.n, alpha);
        if (!j.wown) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
        j.w = j.wown;
    }
    int cv = dnnlbe_in_v(c, node, 2);
    if (cv >= 0) {
        const ir_tensor *ct = c->vals[cv].cst;
        size_t cn = ct ? ir_tensor_numel(ct) : 0;
        int last_ok = ct && (ct->rank < 1 || ct->dims[ct->rank - 1] == (int64_t)cn);
        if (!dnnlbe_const_f32(ct) || !last_ok || (cn != 1 && cn != (size_t)j.n)) {
            job_free(&j);
            return dnnlbe_unsupported(c, node,
                                      "C must be a constant bias of %lld values (one per "
                                      "column) or a scalar; '%s' is not",
                                      (long long)j.n, dnnlbe_vname(c, cv));
        }
        j.bown = malloc((size_t)j.n * sizeof(float));
        if (!j.bown) {
            job_free(&j);
            return err_set(c->e, CALMA_E_NOMEM, "out of memory");
        }
        const float *cf = ct->data;
        for (int64_t i = 0; i < j.n; i++) j.bown[i] = beta * cf[cn == 1 ? 0 : i];
        j.b = j.bown;
    }
    ip_wdims(c, &j);
    j.start_v = n->out[0];
    return emit_ip(c, node, &j);
}

/* ---- MatMul ---- */

/* The single Add after v with a constant of N values along the last axis:
 * the bias of nn.Linear as exported. */
static int bias_add(dnnlbe_ctx *c, int v, int64_t n_cols, const float **bias) {
    if (c->uses[v] != 1 || dnnlbe_is_output(c, v)) return -1;
    int k = c->consumer[v];
    if (k < 0 || c->done[k] || strcmp(c->g->nodes[k].op_type, "Add") || c->g->nodes[k].n_in != 2)
        return -1;
    const ir_node *n = &c->g->nodes[k];
    int o = n->in[0] == v ? n->in[1] : n->in[0];
    const ir_tensor *t = o >= 0 ? c->vals[o].cst : NULL;
    if (!dnnlbe_const_f32(t) || (int64_t)ir_tensor_numel(t) != n_cols ||
        t->dims[t->rank - 1] != n_cols || c->vals[n->out[0]].rank != c->vals[v].rank)
        return -1;
    *bias = t->data;
    return k;
}

static int matmul_const(dnnlbe_ctx *c, int node, const ir_tensor *b) {
    const ir_node *n = &c->g->nodes[node];
    ip_job j;
    memset(&j, 0, sizeof j);
    int rc = ip_source(c, node, &j);
    if (rc) return rc;
    const dnnlbe_val *av = &c->vals[dnnlbe_in_v(c, node, 0)];
    if (av->rank < 2 || !j.view2d)
        return dnnlbe_unsupported(c, node, "a %d-D A (oneDNN's product takes [..., M, K])",
                                  av->rank);
    j.k = av->dims[av->rank - 1];
    j.m = 1;
    for (int d = 0; d < av->rank - 1; d++) j.m *= av->dims[d];
    j.n = b->dims[1];
    if (b->dims[0] != j.k)
        return dnnlbe_invalid(c, node, "A has %lld columns, B has %lld rows", (long long)j.k,
                              (long long)b->dims[0]);
    j.wown = transposed(b->data, j.k, j.n, 1.0f);
    if (!j.wown) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    j.w = j.wown;
    j.start_v = n->out[0];
    int k = bias_add(c, n->out[0], j.n, &j.b);
    if (k >= 0) {
        c->done[k] = 1;
        c->s->n_fused++;
        j.start_v = c->g->nodes[k].out[0];
    }
    ip_wdims(c, &j);
    return emit_ip(c, node, &j);
}

/* Plain memory of v viewed with rank raised to `rank` by leading ones. */
static int padded_plain(dnnlbe_ctx *c, int node, int v, int rank, int *out) {
    const dnnlbe_val *x = &c->vals[v];
    int64_t dims[DNNL_MAX_NDIMS];
    int lead = rank - x->rank;
    for (int d = 0; d < rank; d++) dims[d] = d < lead ? 1 : x->dims[d - lead];
    int m;
    int rc = dnnlbe_as_plain(c, node, v, c->cdt, &m);
    if (!rc && lead) rc = dnnlbe_view(c, node, m, rank, dims, &m);
    *out = m;
    return rc;
}

static int matmul_runtime(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int a, b;
    int rc = dnnlbe_input(c, node, 0, &a, NULL);
    if (!rc) rc = dnnlbe_input(c, node, 1, &b, NULL);
    if (rc) return rc;
    const dnnlbe_val *yv = &c->vals[n->out[0]];
    if (c->vals[a].rank < 2 || c->vals[b].rank < 2)
        return dnnlbe_unsupported(c, node, "a 1-D operand (oneDNN's matmul takes matrices)");
    int rank = yv->rank, am, bm;
    dnnlbe_chain ch = {.n_ops = 0};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    rc = padded_plain(c, node, a, rank, &am);
    if (!rc) rc = padded_plain(c, node, b, rank, &bm);
    if (!rc) dnnlbe_follow(c, n->out[0], DNNLBE_FUSE_SCALE, &ch);
    if (!rc) rc = dnnlbe_chain_attr(c, node, &ch, NULL, &attr);
    if (rc) goto out;
    dnnl_data_type_t ddt = dnnlbe_is_output(c, ch.out_v) ? dnnl_f32 : c->cdt;
    dnnl_memory_desc_t dst;
    rc = dnnlbe_plain_md(c, node, rank, yv->dims, ddt, &dst);
    if (rc) goto out;
    dnnl_matmul_desc_t d;
    dnnl_status_t st =
        dnnl_matmul_desc_init(&d, &c->s->mems[am].md, &c->s->mems[bm].md, NULL, &dst);
    if (st == dnnl_success) st = dnnlbe_pd(c, &d, attr, &pd);
    if ((rc = dnnlbe_check(c, node, st, "matmul"))) goto out;
    int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS}, mems[3] = {am, bm};
    rc = dnnlbe_emit(c, node, pd, 2, args, mems, 0.0f, ch.out_v);
    pd = NULL;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

static int op_matmul(dnnlbe_ctx *c, int node) {
    const ir_tensor *b = dnnlbe_const_input(c, node, 1);
    if (b) {
        if (!dnnlbe_const_f32(b) || b->rank != 2)
            return dnnlbe_unsupported(c, node, "a constant B that is not a 2-D float32 matrix");
        return matmul_const(c, node, b);
    }
    if (dnnlbe_const_input(c, node, 0))
        return dnnlbe_unsupported(c, node, "a constant A with a computed B");
    return matmul_runtime(c, node);
}

const dnnlbe_op dnnlbe_ops_linear[] = {
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {NULL, NULL},
};
