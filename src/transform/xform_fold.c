/* BatchNormalization (inference form) folded into the Conv that feeds it:
 * W'[c] = W[c] * g[c] / sqrt(v[c] + eps), B'[c] = (B[c] - m[c]) * that + b[c],
 * computed in double. Engines do this themselves for float32 models, but a
 * quantized or 16-bit convolution can only be folded before it is
 * quantized or rounded, so every transform does it first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transform/xform_internal.h"
#include "util/err.h"

static const ir_tensor *float_init(const ir_graph *g, const ir_node *n, int k) {
    if (k >= n->n_in || n->in[k] < 0) return NULL;
    const ir_tensor *t = g->values[n->in[k]].init;
    return t && t->dtype == CALMA_DT_FLOAT && t->data ? t : NULL;
}

/* The BatchNormalization at node b can fold into its input's producer. */
static int foldable(const ir_graph *g, const ir_node *b, const int *uses, const char *is_out) {
    if (strcmp(b->op_type, "BatchNormalization") || (b->domain && b->domain[0])) return 0;
    if (ir_node_int(b, "training_mode", 0) != 0 || b->n_in < 5 || b->in[0] < 0) return 0;
    for (int o = 1; o < b->n_out; o++)
        if (b->out[o] >= 0 && (uses[b->out[o]] || is_out[b->out[o]])) return 0;
    int x = b->in[0], p = g->values[x].producer;
    if (p < 0 || uses[x] != 1 || is_out[x]) return 0;
    const ir_node *c = &g->nodes[p];
    if (strcmp(c->op_type, "Conv") || (c->domain && c->domain[0]) || c->n_out != 1) return 0;
    const ir_tensor *w = float_init(g, c, 1);
    if (!w || w->rank < 3) return 0;
    int64_t m = w->dims[0];
    if (c->n_in > 2 && c->in[2] >= 0) {
        const ir_tensor *bias = float_init(g, c, 2);
        if (!bias || (int64_t)ir_tensor_numel(bias) != m) return 0;
    }
    for (int k = 1; k < 5; k++) {
        const ir_tensor *t = float_init(g, b, k);
        if (!t || (int64_t)ir_tensor_numel(t) != m) return 0;
    }
    return 1;
}

/* Emits the Conv at node c with the BatchNormalization at node b folded in. */
static void emit_folded(xb *x, const ir_node *c, const ir_node *b) {
    const ir_graph *g = x->src;
    const ir_tensor *w = g->values[c->in[1]].init;
    const ir_tensor *bias = c->n_in > 2 && c->in[2] >= 0 ? g->values[c->in[2]].init : NULL;
    const float *gam = g->values[b->in[1]].init->data, *beta = g->values[b->in[2]].init->data;
    const float *mean = g->values[b->in[3]].init->data, *var = g->values[b->in[4]].init->data;
    double eps = ir_node_float(b, "epsilon", 1e-5f);
    ir_tensor nw = {0}, nb = {0};
    int64_t m = w->dims[0];
    if (ir_tensor_alloc(&nw, CALMA_DT_FLOAT, w->rank, w->dims, x->e) ||
        ir_tensor_alloc(&nb, CALMA_DT_FLOAT, 1, &m, x->e)) {
        ir_tensor_free(&nw);
        x->rc = x->e->status;
        return;
    }
    size_t per = ir_tensor_numel(w) / (size_t)m;
    const float *src = w->data;
    float *dw = nw.data, *db = nb.data;
    for (int64_t ch = 0; ch < m; ch++) {
        double s = (double)gam[ch] / sqrt((double)var[ch] + eps);
        for (size_t i = 0; i < per; i++)
            dw[(size_t)ch * per + i] = (float)((double)src[(size_t)ch * per + i] * s);
        double b0 = bias ? ((const float *)bias->data)[ch] : 0.0;
        db[ch] = (float)((b0 - (double)mean[ch]) * s + (double)beta[ch]);
    }
    const char *wname = ir_value_name(g, c->in[1]);
    const char *in[3] = {xb_use(x, c->in[0]), xb_init(x, wname, "bnfold", &nw),
                         xb_init(x, wname, "bnfold_bias", &nb)};
    const char *out[1] = {xb_use(x, b->out[0])};
    ir_node *n = xb_node(x, "Conv", c->name, 3, in, 1, out);
    if (n) xb_copy_attrs(x, n, c, NULL);
}

int xform_fold_bn(const ir_graph *src, ir_graph **out, int *folded, calma_error *e) {
    *folded = 0;
    int *uses = NULL;
    char *is_out = NULL;
    int rc = xform_consumers(src, &uses, &is_out, e);
    if (rc) return rc;
    int *bn_of = malloc(sizeof(int) * ((size_t)src->n_nodes + 1));
    char *skip = calloc((size_t)src->n_nodes + 1, 1);
    if (!bn_of || !skip) {
        free(bn_of);
        free(skip);
        free(uses);
        free(is_out);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < src->n_nodes; i++) bn_of[i] = -1;
    for (int i = 0; i < src->n_nodes; i++) {
        const ir_node *b = &src->nodes[i];
        if (!foldable(src, b, uses, is_out)) continue;
        bn_of[src->values[b->in[0]].producer] = i;
        skip[i] = 1;
        (*folded)++;
    }
    xb x;
    xb_begin(&x, src, e);
    for (int i = 0; i < src->n_nodes && !x.rc; i++) {
        if (skip[i]) continue;
        if (bn_of[i] >= 0)
            emit_folded(&x, &src->nodes[i], &src->nodes[bn_of[i]]);
        else
            xb_copy_node(&x, &src->nodes[i], NULL, NULL);
    }
    free(bn_of);
    free(skip);
    free(uses);
    free(is_out);
    return xb_end(&x, out);
}
