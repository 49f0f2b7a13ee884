/* ONEDNN_INT8: the quantization parameters, from the ranges the INT8+
 * transform's calibration measures (transform/xform_calib.h) and with its
 * rounding rules: an activation that is never negative is uint8 (scale
 * max / 255, zero point 0), any other int8 symmetric (max |x| / 127);
 * weights are int8 symmetric per output channel. oneDNN 2.6 expresses them
 * as output scales (the accumulator times scale_src * scale_w[oc] is the
 * real result) and, for an int8 destination, a last linear post-op into
 * its scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"
#include "transform/xform_calib.h"

static const xform_range *range_of(const dnnlbe_ctx *c, int v) {
    return c->ranges ? xform_ranges_find(c->ranges, ir_value_name(c->g, v)) : NULL;
}

int dnnlbe_qtype(const dnnlbe_ctx *c, int v, dnnlbe_qin *q) {
    const xform_range *r = range_of(c, v);
    if (!r) return 0;
    if (r->min >= 0) {
        uint8_t zp; /* 0: the range holds no negative value */
        xform_qparams_u8(r, &q->scale, &zp);
        q->dt = dnnl_u8;
    } else {
        q->scale = xform_qparams_s8(r);
        q->dt = dnnl_s8;
    }
    return 1;
}

int dnnlbe_qsource(dnnlbe_ctx *c, int v, dnnlbe_qin *q) {
    const dnnlbe_val *x = &c->vals[v];
    int m = x->mem >= 0 ? x->mem : x->view_of >= 0 ? c->vals[x->view_of].mem : -1;
    if (m >= 0 && c->s->mems[m].scale > 0) {
        q->dt = c->s->mems[m].md.data_type;
        q->scale = c->s->mems[m].scale;
        return 1;
    }
    return dnnlbe_qtype(c, v, q);
}

/* Readers that take an int8 value as it is (or quantize their input
 * anyway): products, max pooling, views, and the Add a later product
 * absorbs as its residual. Any other reader gets it dequantized. */
static int reads_int8(const ir_node *n) {
    static const char *const ops[] = {"Conv",      "Gemm",     "MatMul",  "MaxPool",
                                      "Add",       "Flatten",  "Reshape", "Squeeze",
                                      "Unsqueeze", "Identity", "Dropout"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(n->op_type, ops[i])) return 1;
    return 0;
}

int dnnlbe_store_int8(const dnnlbe_ctx *c, int v, dnnlbe_qin *q) {
    if (dnnlbe_is_output(c, v) || !dnnlbe_qtype(c, v, q)) return 0;
    const ir_graph *g = c->g;
    for (int j = 0; j < g->n_nodes; j++) {
        if (c->done[j]) continue;
        const ir_node *n = &g->nodes[j];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v && !reads_int8(n)) return 0;
    }
    return 1;
}

int dnnlbe_quant_weights(dnnlbe_ctx *c, int rank, const int64_t *dims, const float *w, int8_t **q,
                         float **scales) {
    ir_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = CALMA_DT_FLOAT;
    t.rank = rank;
    memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
    t.data = (void *)w;
    size_t n = ir_tensor_numel(&t), per = n / (size_t)dims[0];
    *q = malloc(n ? n : 1);
    *scales = malloc((size_t)dims[0] * sizeof(float));
    int rc = *q && *scales ? xform_weight_scales(&t, 0, *scales, c->e)
                           : err_set(c->e, CALMA_E_NOMEM, "out of memory quantizing weights");
    for (size_t i = 0; !rc && i < n; i++) {
        float r = nearbyintf(w[i] / (*scales)[i / per]);
        (*q)[i] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r);
    }
    if (rc) {
        free(*q);
        free(*scales);
        *q = NULL;
        *scales = NULL;
    }
    return rc;
}

float *dnnlbe_quant_bias(dnnlbe_ctx *c, const float *b, int64_t n, float sx, const float *sw) {
    float *out = malloc((size_t)n * sizeof(float));
    if (!out) {
        err_set(c->e, CALMA_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) out[i] = b ? b[i] / (sx * sw[i]) : 0.0f;
    return out;
}

void dnnlbe_sum_kind(const dnnlbe_ctx *c, int sum_v, dnnl_data_type_t ddt, float dst_scale,
                     float *sum_scale, dnnl_data_type_t *sum_dt) {
    const dnnlbe_val *x = &c->vals[sum_v];
    int m = x->mem >= 0 ? x->mem : x->view_of >= 0 ? c->vals[x->view_of].mem : -1;
    float rs = m >= 0 ? c->s->mems[m].scale : 0.0f;
    int dst_int8 = ddt == dnnl_u8 || ddt == dnnl_s8;
    if (rs > 0 && dst_int8) {
        /* the residual stays in its own int8 type and scale: same size */
        *sum_scale = rs;
        *sum_dt = c->s->mems[m].md.data_type;
    } else {
        /* a copy in the destination's type and scale */
        *sum_scale = dst_scale;
        *sum_dt = ddt;
    }
}

void dnnlbe_qplan_free(dnnlbe_qplan *p) {
    free(p->w);
    free(p->wscale);
    free(p->oscale);
    free(p->bias);
    memset(p, 0, sizeof *p);
}

int dnnlbe_qplan_make(dnnlbe_ctx *c, int src_v, int wrank, const int64_t *wdims, const float *w,
                      const float *bias, const dnnlbe_chain *ch, dnnlbe_qplan *p) {
    memset(p, 0, sizeof *p);
    if (c->s->prec != DNNLBE_INT8 || !dnnlbe_qsource(c, src_v, &p->src)) return CALMA_OK;
    int64_t n = wdims[0];
    int rc = dnnlbe_quant_weights(c, wrank, wdims, w, &p->w, &p->wscale);
    if (rc) return rc;
    p->oscale = malloc((size_t)n * sizeof(float));
    if (!p->oscale) {
        dnnlbe_qplan_free(p);
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    }
    for (int64_t o = 0; o < n; o++) p->oscale[o] = p->src.scale * p->wscale[o];
    if (bias && !(p->bias = dnnlbe_quant_bias(c, bias, n, p->src.scale, p->wscale))) {
        dnnlbe_qplan_free(p);
        return c->e->status;
    }
    dnnlbe_qin qy;
    p->ddt = dnnl_f32;
    if (dnnlbe_store_int8(c, ch->out_v, &qy)) {
        p->ddt = qy.dt;
        p->qa.dst_scale = qy.scale;
    }
    p->qa.scales = p->oscale;
    p->qa.n_scales = (int)n;
    p->qa.mask = 1 << 1; /* per output channel: dim 1 of the destination */
    if (ch->sum_v >= 0)
        dnnlbe_sum_kind(c, ch->sum_v, p->ddt, p->qa.dst_scale, &p->qa.sum_scale, &p->qa.sum_dt);
    p->on = 1;
    return CALMA_OK;
}

int dnnlbe_product_consts(dnnlbe_ctx *c, int node, dnnlbe_qplan *qp, dnnl_primitive_desc_t pd,
                          int wrank, const int64_t *wdims, const float *w, float **wown,
                          const float *b, float **bown, int64_t n, int *wm, int *bm) {
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    int rc;
    if (qp->on) {
        rc = dnnlbe_const_mem_dt(c, node, wmd, wrank, wdims, dnnl_s8, qp->w, qp->w, wm);
        qp->w = NULL; /* the state owns it now */
    } else {
        rc = dnnlbe_const_mem(c, node, wmd, wrank, wdims, w, *wown, wm);
        *wown = NULL;
    }
    *bm = -1;
    if (rc || !b) return rc;
    if (qp->on) {
        rc = dnnlbe_const_mem(c, node, bmd, 1, &n, qp->bias, qp->bias, bm);
        qp->bias = NULL;
    } else {
        rc = dnnlbe_const_mem(c, node, bmd, 1, &n, b, *bown, bm);
        *bown = NULL;
    }
    return rc;
}
