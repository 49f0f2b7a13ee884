/* transformer: a small post-norm encoder as PyTorch's TransformerEncoderLayer
 * exports it (MatMul+Add projections, heads split by Reshape/Transpose,
 * scaled dot-product Softmax attention, Erf GELU, LayerNormalization).
 * Reshape targets use 0 (copy) so the batch stays dynamic. */
#include <math.h>
#include <stdio.h>

#include "zoo/zoo_models.h"

#define TF_SEQ 32
#define TF_DIM 64
#define TF_HEADS 4
#define TF_HEAD_DIM (TF_DIM / TF_HEADS)
#define TF_FFN 256
#define TF_LAYERS 2

static const char *linear(zb *b, const char *x, const char *p, int in, int out) {
    char n[256];
    int64_t wd[2] = {in, out}, bd[1] = {out};
    float bound = 1.0f / sqrtf((float)in); /* nn.Linear's default */
    snprintf(n, sizeof n, "%s.weight", p);
    const char *w = zb_weight(b, n, 2, wd, bound);
    snprintf(n, sizeof n, "%s.bias", p);
    const char *bias = zb_weight(b, n, 1, bd, bound);
    snprintf(n, sizeof n, "/%s/MatMul", p);
    x = zb_binary(b, "MatMul", n, x, w);
    snprintf(n, sizeof n, "/%s/Add", p);
    return zb_binary(b, "Add", n, x, bias);
}

static const char *layer_norm(zb *b, const char *x, const char *p) {
    char n[256];
    int64_t d[1] = {TF_DIM};
    snprintf(n, sizeof n, "%s.weight", p);
    const char *scale = zb_fill(b, n, 1, d, 0.8f, 1.2f);
    snprintf(n, sizeof n, "%s.bias", p);
    const char *bias = zb_fill(b, n, 1, d, -0.1f, 0.1f);
    snprintf(n, sizeof n, "/%s/LayerNormalization", p);
    const char *in[3] = {x, scale, bias};
    ir_node *node = zb_node(b, "LayerNormalization", n, 3, in);
    zb_int(b, node, "axis", -1);
    zb_float(b, node, "epsilon", 1e-5f);
    return zb_out(b, node);
}

/* [N, S, D] -> [N, H, S, hd] (perm 0,2,1,3), or [N, H, hd, S] for keys. */
static const char *split_heads(zb *b, const char *x, const char *p, int keys) {
    static const int64_t shape[4] = {0, 0, TF_HEADS, TF_HEAD_DIM}, shape_dims[1] = {4};
    int idx = ir_graph_find(b->g, "shape.heads");
    const char *s =
        idx >= 0 ? b->g->values[idx].name : zb_const_i64(b, "shape.heads", 1, shape_dims, shape);
    char n[256];
    snprintf(n, sizeof n, "/%s/Reshape", p);
    x = zb_binary(b, "Reshape", n, x, s);
    snprintf(n, sizeof n, "/%s/Transpose", p);
    ir_node *t = zb_node(b, "Transpose", n, 1, &x);
    static const int64_t perm_q[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
    zb_ints(b, t, "perm", keys ? perm_k : perm_q, 4);
    return zb_out(b, t);
}

static const char *attention(zb *b, const char *x, const char *p) {
    char n[256];
    snprintf(n, sizeof n, "%s.q_proj", p);
    const char *q = split_heads(b, linear(b, x, n, TF_DIM, TF_DIM), n, 0);
    snprintf(n, sizeof n, "%s.k_proj", p);
    const char *k = split_heads(b, linear(b, x, n, TF_DIM, TF_DIM), n, 1);
    snprintf(n, sizeof n, "%s.v_proj", p);
    const char *v = split_heads(b, linear(b, x, n, TF_DIM, TF_DIM), n, 0);
    snprintf(n, sizeof n, "/%s/scores/MatMul", p);
    const char *s = zb_binary(b, "MatMul", n, q, k);
    snprintf(n, sizeof n, "/%s/scale/Div", p);
    s = zb_binary(b, "Div", n, s, zb_scalar(b, "attn.scale", sqrtf((float)TF_HEAD_DIM)));
    snprintf(n, sizeof n, "/%s/Softmax", p);
    ir_node *sm = zb_node(b, "Softmax", n, 1, &s);
    zb_int(b, sm, "axis", -1);
    s = zb_out(b, sm);
    snprintf(n, sizeof n, "/%s/context/MatMul", p);
    const char *c = zb_binary(b, "MatMul", n, s, v);
    snprintf(n, sizeof n, "/%s/merge/Transpose", p);
    ir_node *t = zb_node(b, "Transpose", n, 1, &c);
    static const int64_t perm[4] = {0, 2, 1, 3};
    zb_ints(b, t, "perm", perm, 4);
    c = zb_out(b, t);
    static const int64_t merge[3] = {0, 0, TF_DIM}, merge_dims[1] = {3};
    int idx = ir_graph_find(b->g, "shape.merge");
    const char *ms =
        idx >= 0 ? b->g->values[idx].name : zb_const_i64(b, "shape.merge", 1, merge_dims, merge);
    snprintf(n, sizeof n, "/%s/merge/Reshape", p);
    c = zb_binary(b, "Reshape", n, c, ms);
    snprintf(n, sizeof n, "%s.out_proj", p);
    return linear(b, c, n, TF_DIM, TF_DIM);
}

/* x * 0.5 * (1 + erf(x / sqrt(2))), PyTorch's exact GELU as exported. */
static const char *gelu(zb *b, const char *x, const char *p) {
    char n[256];
    snprintf(n, sizeof n, "/%s/gelu/Div", p);
    const char *y = zb_binary(b, "Div", n, x, zb_scalar(b, "gelu.sqrt2", sqrtf(2.0f)));
    snprintf(n, sizeof n, "/%s/gelu/Erf", p);
    y = zb_unary(b, "Erf", n, y);
    snprintf(n, sizeof n, "/%s/gelu/Add", p);
    y = zb_binary(b, "Add", n, y, zb_scalar(b, "gelu.one", 1.0f));
    snprintf(n, sizeof n, "/%s/gelu/Mul", p);
    y = zb_binary(b, "Mul", n, x, y);
    snprintf(n, sizeof n, "/%s/gelu/Mul_1", p);
    return zb_binary(b, "Mul", n, y, zb_scalar(b, "gelu.half", 0.5f));
}

void zoo_transformer(zb *b) {
    int64_t dims[3] = {-1, TF_SEQ, TF_DIM};
    zoo_add_input(b, 3, dims);
    const char *x = "input";
    for (int l = 0; l < TF_LAYERS; l++) {
        char p[64], n[128];
        snprintf(p, sizeof p, "layers.%d", l);
        snprintf(n, sizeof n, "%s.self_attn", p);
        const char *a = attention(b, x, n);
        snprintf(n, sizeof n, "/%s/attn_residual/Add", p);
        x = zb_binary(b, "Add", n, x, a);
        snprintf(n, sizeof n, "%s.norm1", p);
        x = layer_norm(b, x, n);
        snprintf(n, sizeof n, "%s.linear1", p);
        const char *h = linear(b, x, n, TF_DIM, TF_FFN);
        h = gelu(b, h, p);
        snprintf(n, sizeof n, "%s.linear2", p);
        h = linear(b, h, n, TF_FFN, TF_DIM);
        snprintf(n, sizeof n, "/%s/mlp_residual/Add", p);
        x = zb_binary(b, "Add", n, x, h);
        snprintf(n, sizeof n, "%s.norm2", p);
        if (l == TF_LAYERS - 1) b->next_out = "output";
        x = layer_norm(b, x, n);
    }
    zoo_add_output(b, 3, dims);
}
