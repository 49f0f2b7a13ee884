/* The XNNPACK conversion's partition: graphs XNNPACK cannot take whole
 * run as XNNPACK islands plus calma's kernels, validated against the oracle
 * (atol 1e-4, rtol 1e-3) at one and two threads, with the split the backend
 * reports checked: a shufflenet-like graph (channel shuffle as Reshape,
 * Transpose, Reshape; Split and Slice; Concat), an encoder-like graph as
 * PyTorch exports nn.TransformerEncoder (Slice of a packed projection,
 * MatMul of computed tensors with batch dims, LayerNormalization written
 * out with Pow and ReduceMean, Erf GELU), an island boundary inside a
 * residual block, and a value read on both sides of a boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "test_xnn_harness.h"

/* ---- shufflenet-like ---- */

static void conv(ir_graph *g, const char *name, const char *in, const char *out, int64_t o,
                 int64_t i, int64_t k, int group, int stride, int relu, uint64_t seed) {
    char w[64], b[64], ins[200], mid[96];
    snprintf(w, sizeof w, "%s_w", name);
    snprintf(b, sizeof b, "%s_b", name);
    init_f(g, w, 4, (int64_t[]){o, i / group, k, k}, -0.4f, 0.4f, seed);
    init_f(g, b, 1, (int64_t[]){o}, -0.1f, 0.1f, seed + 1);
    snprintf(ins, sizeof ins, "%s,%s,%s", in, w, b);
    snprintf(mid, sizeof mid, "%s_pre", name);
    ir_node *n = add(g, "Conv", name, ins, relu ? mid : out);
    int64_t p = k / 2;
    ir_node_set_ints(n, "pads", (int64_t[]){p, p, p, p}, 4);
    ir_node_set_ints(n, "strides", (int64_t[]){stride, stride}, 2);
    if (group > 1) ir_node_set_int(n, "group", group);
    if (relu) {
        char rn[96];
        snprintf(rn, sizeof rn, "%s_relu", name);
        add(g, "Relu", rn, mid, out);
    }
}

/* Reshape [N, C, H, W] -> [N, 2, C/2, H, W], swap the groups, back. */
static void shuffle(ir_graph *g, const char *p, const char *in, const char *out, int64_t c,
                    int64_t hw) {
    char s1[64], s2[64], a[64], b[64], ins[160], nm[64];
    snprintf(s1, sizeof s1, "%s_s5", p);
    snprintf(s2, sizeof s2, "%s_s4", p);
    init_i64(g, s1, 5, (int64_t[]){1, 2, c / 2, hw, hw});
    init_i64(g, s2, 4, (int64_t[]){1, c, hw, hw});
    snprintf(a, sizeof a, "%s_r5", p);
    snprintf(b, sizeof b, "%s_t5", p);
    snprintf(ins, sizeof ins, "%s,%s", in, s1);
    snprintf(nm, sizeof nm, "%s_reshape", p);
    add(g, "Reshape", nm, ins, a);
    snprintf(nm, sizeof nm, "%s_transpose", p);
    ir_node *t = add(g, "Transpose", nm, a, b);
    ir_node_set_ints(t, "perm", (int64_t[]){0, 2, 1, 3, 4}, 5);
    snprintf(ins, sizeof ins, "%s,%s", b, s2);
    snprintf(nm, sizeof nm, "%s_reshape_back", p);
    add(g, "Reshape", nm, ins, out);
}

/* Stem, a down-sampling unit (two branches), a unit split with Split and
 * one split with Slice, then pool and classifier. C = 16 channels, 8x8. */
static ir_graph *shufflenet_graph(void) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    ir_graph_set_opset(g, "", 13);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 16, 16}, NULL);
    conv(g, "stem", "x", "s0", 8, 3, 3, 1, 2, 1, 100);
    /* unit 1: both branches read the stem */
    conv(g, "u1_b1_dw", "s0", "u1a", 8, 8, 3, 8, 1, 0, 110);
    conv(g, "u1_b1_pw", "u1a", "u1b", 8, 8, 1, 1, 1, 1, 112);
    conv(g, "u1_b2_pw", "s0", "u1c", 8, 8, 1, 1, 1, 1, 114);
    conv(g, "u1_b2_dw", "u1c", "u1d", 8, 8, 3, 8, 1, 0, 116);
    conv(g, "u1_b2_pw2", "u1d", "u1e", 8, 8, 1, 1, 1, 1, 118);
    ir_node *n = add(g, "Concat", "u1_cat", "u1b,u1e", "u1f");
    ir_node_set_int(n, "axis", 1);
    shuffle(g, "u1", "u1f", "u1o", 16, 8);
    /* unit 2: Split in halves, the second through a branch */
    init_i64(g, "halves", 2, (int64_t[]){8, 8});
    n = add(g, "Split", "u2_split", "u1o,halves", "u2x1,u2x2");
    ir_node_set_int(n, "axis", 1);
    conv(g, "u2_pw", "u2x2", "u2a", 8, 8, 1, 1, 1, 1, 120);
    conv(g, "u2_dw", "u2a", "u2b", 8, 8, 3, 8, 1, 0, 122);
    conv(g, "u2_pw2", "u2b", "u2c", 8, 8, 1, 1, 1, 1, 124);
    n = add(g, "Concat", "u2_cat", "u2x1,u2c", "u2d");
    ir_node_set_int(n, "axis", 1);
    shuffle(g, "u2", "u2d", "u2o", 16, 8);
    /* unit 3: Slice in halves, as torchvision's export writes it */
    init_i64(g, "zero", 1, (int64_t[]){0});
    init_i64(g, "eight", 1, (int64_t[]){8});
    init_i64(g, "sixteen", 1, (int64_t[]){16});
    init_i64(g, "axis1", 1, (int64_t[]){1});
    add(g, "Slice", "u3_slice1", "u2o,zero,eight,axis1", "u3x1");
    add(g, "Slice", "u3_slice2", "u2o,eight,sixteen,axis1", "u3x2");
    conv(g, "u3_pw", "u3x2", "u3a", 8, 8, 1, 1, 1, 1, 130);
    conv(g, "u3_dw", "u3a", "u3b", 8, 8, 3, 8, 1, 0, 132);
    conv(g, "u3_pw2", "u3b", "u3c", 8, 8, 1, 1, 1, 1, 134);
    n = add(g, "Concat", "u3_cat", "u3x1,u3c", "u3d");
    ir_node_set_int(n, "axis", 1);
    shuffle(g, "u3", "u3d", "u3o", 16, 8);
    add(g, "GlobalAveragePool", "gap", "u3o", "p");
    add(g, "Flatten", "flat", "p", "pf");
    init_f(g, "fc_w", 2, (int64_t[]){16, 5}, -0.5f, 0.5f, 140);
    add(g, "Gemm", "fc", "pf,fc_w", "logits");
    ir_graph_add_output(g, "logits", CALMA_DT_FLOAT, 2, (int64_t[]){1, 5}, NULL);
    /* a feature map as an output too: read out of its layout */
    ir_graph_add_output(g, "u2o", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_shufflenet_like(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = shufflenet_graph();
    facts f;
    run_and_check_facts(g, 1, 2, "shufflenet-like", &f);
    /* Concat, Split, Slice and the shuffles run on calma's kernels; every
     * convolution in XNNPACK */
    assert_true(f.in_engine >= 16);
    assert_non_null(strstr(f.ops_outside, "Concat 3"));
    assert_non_null(strstr(f.ops_outside, "Transpose 3"));
    assert_non_null(strstr(f.ops_outside, "Slice 2"));
    assert_non_null(strstr(f.ops_outside, "Split 1"));
    assert_true(f.islands >= 3 && f.islands <= 5);
    /* The maps stay NHWC across the shuffles: only the channel halves a
     * branch convolves are packed for XNNPACK (one per split unit). */
    assert_true(f.layout_changes <= 2);
    run_and_check_facts(g, 2, 2, "shufflenet-like, 2 threads", &f);
    ir_graph_free(g);
}

/* ---- encoder-like ---- */

/* y = x W + b for a [*, K] input: MatMul then Add, as PyTorch exports
 * nn.Linear. */
static void linear(ir_graph *g, const char *name, const char *x, const char *y, int64_t k,
                   int64_t n, uint64_t seed) {
    char w[64], b[64], ins[160], mid[96];
    snprintf(w, sizeof w, "%s_w", name);
    snprintf(b, sizeof b, "%s_b", name);
    snprintf(mid, sizeof mid, "%s_mm", name);
    init_f(g, w, 2, (int64_t[]){k, n}, -0.3f, 0.3f, seed);
    init_f(g, b, 1, (int64_t[]){n}, -0.1f, 0.1f, seed + 1);
    snprintf(ins, sizeof ins, "%s,%s", x, w);
    add(g, "MatMul", mid, ins, mid);
    snprintf(ins, sizeof ins, "%s,%s", b, mid);
    char an[96];
    snprintf(an, sizeof an, "%s_add", name);
    add(g, "Add", an, ins, y);
}

/* LayerNormalization over the last axis written out as the exporter does
 * before opset 17. */
static void layernorm_decomposed(ir_graph *g, const char *p, const char *x, const char *y,
                                 int64_t e, uint64_t seed) {
    char nm[64], a[64], b[64], c[64], d[64], f[64], h[64], w[64], bias[64], ins[200];
#define N(s) (snprintf(nm, sizeof nm, "%s_%s", p, s), nm)
    snprintf(a, sizeof a, "%s_mean", p);
    snprintf(b, sizeof b, "%s_centred", p);
    snprintf(c, sizeof c, "%s_sq", p);
    snprintf(d, sizeof d, "%s_var", p);
    snprintf(f, sizeof f, "%s_std", p);
    snprintf(h, sizeof h, "%s_norm", p);
    snprintf(w, sizeof w, "%s_gamma", p);
    snprintf(bias, sizeof bias, "%s_beta", p);
    ir_node *n = add(g, "ReduceMean", N("rm1"), x, a);
    ir_node_set_ints(n, "axes", (int64_t[]){-1}, 1);
    snprintf(ins, sizeof ins, "%s,%s", x, a);
    add(g, "Sub", N("sub"), ins, b);
    snprintf(ins, sizeof ins, "%s,two", b);
    add(g, "Pow", N("pow"), ins, c);
    n = add(g, "ReduceMean", N("rm2"), c, d);
    ir_node_set_ints(n, "axes", (int64_t[]){-1}, 1);
    snprintf(ins, sizeof ins, "%s,eps", d);
    char de[64];
    snprintf(de, sizeof de, "%s_var_eps", p);
    add(g, "Add", N("add_eps"), ins, de);
    add(g, "Sqrt", N("sqrt"), de, f);
    snprintf(ins, sizeof ins, "%s,%s", b, f);
    add(g, "Div", N("div"), ins, h);
    init_f(g, w, 1, (int64_t[]){e}, 0.5f, 1.5f, seed);
    init_f(g, bias, 1, (int64_t[]){e}, -0.2f, 0.2f, seed + 1);
    char hm[64];
    snprintf(hm, sizeof hm, "%s_scaled", p);
    snprintf(ins, sizeof ins, "%s,%s", h, w);
    add(g, "Mul", N("mul"), ins, hm);
    snprintf(ins, sizeof ins, "%s,%s", hm, bias);
    add(g, "Add", N("add"), ins, y);
#undef N
}

/* One encoder layer, L = 8 tokens of E = 16, 2 heads of 8, batch 1: a
 * packed QKV projection sliced in three, attention with MatMuls of
 * computed tensors over [1, 2] batch dims, decomposed LayerNorm, Erf GELU
 * MLP, a final LayerNormalization node. */
static ir_graph *encoder_graph(void) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    ir_graph_set_opset(g, "", 17);
    const int64_t L = 8, E = 16, H = 2, D = 8;
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 3, (int64_t[]){1, L, E}, NULL);
    init_scalar(g, "two", 2.0f);
    init_scalar(g, "eps", 1e-5f);
    init_scalar(g, "sqrt_d", sqrtf((float)D));
    init_scalar(g, "sqrt2", sqrtf(2.0f));
    init_scalar(g, "one", 1.0f);
    init_scalar(g, "half", 0.5f);
    linear(g, "qkv", "x", "qkv", E, 3 * E, 200);
    init_i64(g, "ax_last", 1, (int64_t[]){-1});
    const char *names[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        char st_n[16], en_n[16], ins[96], sl[16], rs[16], tr[16], nm[32];
        snprintf(st_n, sizeof st_n, "start_%s", names[i]);
        snprintf(en_n, sizeof en_n, "end_%s", names[i]);
        init_i64(g, st_n, 1, (int64_t[]){i * E});
        init_i64(g, en_n, 1, (int64_t[]){(i + 1) * E});
        snprintf(sl, sizeof sl, "%s_sl", names[i]);
        snprintf(rs, sizeof rs, "%s_rs", names[i]);
        snprintf(tr, sizeof tr, "%s_h", names[i]);
        snprintf(ins, sizeof ins, "qkv,%s,%s,ax_last", st_n, en_n);
        snprintf(nm, sizeof nm, "slice_%s", names[i]);
        add(g, "Slice", nm, ins, sl);
        snprintf(nm, sizeof nm, "heads_shape_%s", names[i]);
        init_i64(g, nm, 4, (int64_t[]){1, L, H, D});
        char rin[64];
        snprintf(rin, sizeof rin, "%s,%s", sl, nm);
        snprintf(nm, sizeof nm, "reshape_%s", names[i]);
        add(g, "Reshape", nm, rin, rs);
        snprintf(nm, sizeof nm, "transpose_%s", names[i]);
        ir_node *t = add(g, "Transpose", nm, rs, tr);
        /* k goes to [1, H, D, L] for the scores */
        if (i == 1)
            ir_node_set_ints(t, "perm", (int64_t[]){0, 2, 3, 1}, 4);
        else
            ir_node_set_ints(t, "perm", (int64_t[]){0, 2, 1, 3}, 4);
    }
    add(g, "MatMul", "scores", "q_h,k_h", "s");
    add(g, "Div", "scale", "s,sqrt_d", "s2");
    ir_node *sm = add(g, "Softmax", "softmax", "s2", "p");
    ir_node_set_int(sm, "axis", -1);
    add(g, "MatMul", "context", "p,v_h", "ctx");
    ir_node *t = add(g, "Transpose", "merge_t", "ctx", "ctx_t");
    ir_node_set_ints(t, "perm", (int64_t[]){0, 2, 1, 3}, 4);
    init_i64(g, "merge_shape", 3, (int64_t[]){1, L, E});
    add(g, "Reshape", "merge", "ctx_t,merge_shape", "ctx_m");
    linear(g, "out_proj", "ctx_m", "attn", E, E, 210);
    add(g, "Add", "residual1", "x,attn", "r1");
    layernorm_decomposed(g, "ln1", "r1", "h1", E, 220);
    linear(g, "fc1", "h1", "f1", E, 2 * E, 230);
    add(g, "Div", "gelu_div", "f1,sqrt2", "g1");
    add(g, "Erf", "gelu_erf", "g1", "g2");
    add(g, "Add", "gelu_add", "g2,one", "g3");
    add(g, "Mul", "gelu_mul", "f1,g3", "g4");
    add(g, "Mul", "gelu_half", "g4,half", "g5");
    linear(g, "fc2", "g5", "f2", 2 * E, E, 240);
    add(g, "Add", "residual2", "h1,f2", "r2");
    init_f(g, "ln2_gamma", 1, (int64_t[]){E}, 0.5f, 1.5f, 250);
    init_f(g, "ln2_beta", 1, (int64_t[]){E}, -0.2f, 0.2f, 251);
    ir_node *ln = add(g, "LayerNormalization", "ln2", "r2,ln2_gamma,ln2_beta", "y");
    ir_node_set_int(ln, "axis", -1);
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 3, (int64_t[]){1, L, E}, NULL);
    sort_or_fail(g);
    return g;
}

static void test_encoder_like(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = encoder_graph();
    facts f;
    run_and_check_facts(g, 1, 2, "encoder-like", &f);
    /* the four projections (with their bias Adds) run in XNNPACK */
    assert_true(f.in_engine >= 8);
    assert_non_null(strstr(f.ops_outside, "MatMul 2"));
    assert_non_null(strstr(f.ops_outside, "Slice 3"));
    assert_non_null(strstr(f.ops_outside, "Pow 1"));
    assert_non_null(strstr(f.ops_outside, "Erf 1"));
    assert_non_null(strstr(f.ops_outside, "LayerNormalization 1"));
    assert_true(f.outside_share > 0 && f.outside_share < 1);
    run_and_check_facts(g, 2, 2, "encoder-like, 2 threads", &f);
    ir_graph *s = encoder_graph();
    trial t;
    calma_error e = {0};
    trial_prepare(&t, s);
    t.conv = xnn_strict();
    assert_int_equal(trial_load(&t, s, 1, &e), CALMA_E_UNSUPPORTED);
    printf("  strict: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "op 'Slice' (node 'slice_q') has no XNNPACK equivalent"));
    trial_free(&t);
    ir_graph_free(s);
    ir_graph_free(g);
}

/* ---- boundaries ---- */

/* x -> Conv -> Erf -> Conv -> Add(x) -> Relu: the Erf cuts the residual
 * block in two islands; the second reads the block's input again. */
static void test_boundary_inside_residual_block(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 4, 6, 6}, NULL);
    conv(g, "pre", "x", "x0", 4, 4, 1, 1, 1, 1, 300);
    conv(g, "a", "x0", "a1", 4, 4, 3, 1, 1, 0, 302);
    add(g, "Erf", "erf", "a1", "a2");
    conv(g, "b", "a2", "b1", 4, 4, 3, 1, 1, 0, 304);
    add(g, "Add", "residual", "x0,b1", "r");
    add(g, "Relu", "out_relu", "r", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    facts f;
    run_and_check_facts(g, 1, 2, "residual block", &f);
    assert_int_equal((int)f.islands, 2);
    assert_int_equal((int)f.outside, 1);
    assert_int_equal((int)f.in_engine, 6); /* 3 Convs, 2 Relus, the Add */
    /* x0 and a1 leave the first island as NHWC, Erf keeps that layout,
     * and the second island takes both as they are */
    assert_int_equal((int)f.layout_changes, 0);
    run_and_check_facts(g, 2, 1, "residual block, 2 threads", &f);
    ir_graph_free(g);
}

/* t is read by an island node (Conv), by a host node (Erf) and is a graph
 * output; the Add joining both sides runs on calma's side. */
static void test_value_read_on_both_sides(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 5, 7}, NULL);
    conv(g, "c1", "x", "t", 6, 3, 3, 1, 1, 1, 400);
    add(g, "Erf", "erf", "t", "e");
    conv(g, "c2", "t", "u", 6, 6, 1, 1, 1, 0, 402);
    add(g, "Add", "join", "e,u", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "t", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    facts f;
    run_and_check_facts(g, 1, 2, "both sides", &f);
    assert_int_equal((int)f.islands, 1);
    assert_int_equal((int)f.in_engine, 3); /* the two Convs and c1's Relu */
    assert_int_equal((int)f.outside, 2);
    run_and_check_facts(g, 2, 1, "both sides, 2 threads", &f);
    ir_graph_free(g);
}

/* Host kernels on the layouts they meet: a Softmax over the channels of an
 * NHWC map, reductions over its H and W (a middle block) and over C, a
 * Slice, an Expand (a broadcast view), Gather with several indices, Where
 * with a constant mask, and MatMuls of computed tensors with a transposed
 * operand, a broadcast batch dim and 1-D operands. */
static void test_host_kernel_shapes(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 5, 4, 6}, NULL);
    conv(g, "c", "x", "m", 5, 5, 3, 1, 1, 1, 500);
    ir_node *n = add(g, "Softmax", "sm_channels", "m", "sm");
    ir_node_set_int(n, "axis", 1);
    init_i64(g, "hw", 2, (int64_t[]){2, 3});
    add(g, "ReduceSum", "rsum", "m,hw", "rs");
    n = add(g, "ReduceMax", "rmax", "m", "rm");
    ir_node_set_ints(n, "axes", (int64_t[]){1}, 1);
    ir_node_set_int(n, "keepdims", 0);
    init_i64(g, "zero", 1, (int64_t[]){0});
    init_i64(g, "one", 1, (int64_t[]){1});
    init_i64(g, "three", 1, (int64_t[]){3});
    init_i64(g, "axis2", 1, (int64_t[]){2});
    init_i64(g, "axis0", 1, (int64_t[]){0});
    add(g, "Slice", "crop", "m,zero,three,axis2", "mc");
    init_i64(g, "big", 4, (int64_t[]){2, 5, 3, 6});
    add(g, "Expand", "expand", "rs,big", "ex");
    add(g, "Add", "ex_add", "ex,mc", "exa");
    init_i64(g, "idx", 3, (int64_t[]){4, 0, -3});
    n = add(g, "Gather", "gather", "exa,idx", "ga");
    ir_node_set_int(n, "axis", 1);
    ir_tensor mask = {0};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&mask, CALMA_DT_BOOL, 1, (int64_t[]){6}, &e), CALMA_OK);
    for (int i = 0; i < 6; i++) ((unsigned char *)mask.data)[i] = (unsigned char)(i % 2);
    assert_int_equal(ir_graph_add_initializer(g, "mask", &mask), CALMA_OK);
    init_f(g, "other", 1, (int64_t[]){6}, -1.0f, 1.0f, 501);
    add(g, "Where", "where", "mask,ga,other", "wh");
    n = add(g, "Transpose", "tr", "wh", "wt");
    ir_node_set_ints(n, "perm", (int64_t[]){0, 1, 3, 2}, 4);
    add(g, "MatMul", "mm", "wh,wt", "mmo");
    n = add(g, "ReduceMean", "rmean", "x", "r1");
    ir_node_set_ints(n, "axes", (int64_t[]){0, 1, 2}, 3);
    ir_node_set_int(n, "keepdims", 0);
    add(g, "MatMul", "mat_vec", "wh,r1", "mv");
    add(g, "MatMul", "vec_mat", "r1,wt", "vm");
    add(g, "Slice", "first", "wt,zero,one,axis0", "wt0");
    add(g, "MatMul", "bcast", "wh,wt0", "mb");
    ir_graph_add_output(g, "sm", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "rm", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "mmo", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "mv", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "vm", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "mb", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    facts f;
    run_and_check_facts(g, 1, 2, "host kernels", &f);
    assert_int_equal((int)f.islands, 1);
    assert_int_equal((int)f.in_engine, 2);
    run_and_check_facts(g, 2, 1, "host kernels, 2 threads", &f);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shufflenet_like),
        cmocka_unit_test(test_encoder_like),
        cmocka_unit_test(test_boundary_inside_residual_block),
        cmocka_unit_test(test_value_read_on_both_sides),
        cmocka_unit_test(test_host_kernel_shapes),
    };
    const char *filter = getenv("CALMA_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
