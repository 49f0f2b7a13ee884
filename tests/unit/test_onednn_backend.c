/* The oneDNN conversions through include/calma/backend.h: hand-built
 * graphs covering each mapped op and attribute family, the small zoo
 * models, one and two threads, checked against the oracle (ONEDNN within
 * float32 tolerances, ONEDNN_BF16 by cosine similarity >= 0.99); ops oneDNN
 * cannot express are "unsupported" naming op and node. Skipped where calma
 * was built without libdnnl-dev (the probe then says so, which is checked).
 * resnet18 and mobilenet_v2 are in test_onednn_zoo.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_backend_harness.h"

#ifdef CALMA_HAVE_ONEDNN
#include "backends/onednn/onednn_internal.h"
#define HAVE_DNNL_HEADERS 1
#endif

#define BF16_MIN_COS 0.99
#define INT8_MIN_COS 0.99
/* few calibration batches: the oracle runs each */
#define INT8_OPTS "calibration=8"

static const calma_conversion *fp32(void) {
    return bh_conv("ONEDNN");
}

static const calma_conversion *bf16(void) {
    return bh_conv("ONEDNN_BF16");
}

static const calma_conversion *int8(void) {
    return bh_conv("ONEDNN_INT8");
}

/* Every conversion on g: fp32 at one and two threads within float32
 * tolerances, bf16 and int8 by cosine (when this CPU has them). */
static void both(const ir_graph *g, const char *what) {
    bh_run_check(fp32(), g, 1, 2, what, 0);
    bh_run_check(fp32(), g, 2, 1, what, 0);
    if (bh_here(bf16())) bh_run_check(bf16(), g, 2, 1, what, BF16_MIN_COS);
    if (bh_here(int8())) bh_run_check_opts(int8(), g, 1, 1, what, INT8_MIN_COS, INT8_OPTS);
}

/* Steps of an ONEDNN_INT8 load of g whose source is int8, or -1 without
 * the headers. */
static int int8_steps(const ir_graph *g) {
    trial t;
    calma_error e = {0};
    bh_trial_prepare(&t, int8(), g);
    t.options = INT8_OPTS;
    int rc = bh_trial_load(&t, g, 1, &e);
    if (rc) fail_msg("load: %s", e.msg);
    int n = -1;
#ifdef HAVE_DNNL_HEADERS
    const dnnlbe_state *s = t.state;
    n = 0;
    for (int i = 0; i < s->n_steps; i++) {
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(s->steps[i].pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *w =
            dnnl_primitive_desc_query_md(s->steps[i].pd, dnnl_query_weights_md, 0);
        if (md && w && w->ndims && (md->data_type == dnnl_u8 || md->data_type == dnnl_s8)) n++;
    }
#endif
    bh_trial_free(&t);
    return n;
}

/* Nodes folded into another's primitive after load, or -1 without the headers. */
static int fused_count(const ir_graph *g) {
    trial t;
    calma_error e = {0};
    bh_trial_prepare(&t, fp32(), g);
    int rc = bh_trial_load(&t, g, 1, &e);
    if (rc) fail_msg("load: %s", e.msg);
    int n = -1;
#ifdef HAVE_DNNL_HEADERS
    n = ((const dnnlbe_state *)t.state)->n_fused;
#endif
    bh_trial_free(&t);
    return n;
}

static ir_graph *new_graph(int64_t opset) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    ir_graph_set_opset(g, "", opset);
    return g;
}

/* ---- convolutions ---- */

/* Conv with pads, strides and dilation, BatchNormalization folded, Relu
 * fused; depthwise with Clip (ReLU6); grouped with SAME_UPPER; a 1-D conv. */
static ir_graph *conv_graph(int64_t batch) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){batch, 4, 11, 9}, NULL);
    init_f(g, "w1", 4, (int64_t[]){16, 4, 3, 3}, -0.3f, 0.3f, 1);
    init_f(g, "b1", 1, (int64_t[]){16}, -0.1f, 0.1f, 2);
    ir_node *n = add(g, "Conv", "c1", "x,w1,b1", "y1");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 0, 2, 1}, 4);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 1}, 2);
    ir_node_set_ints(n, "dilations", (int64_t[]){1, 2}, 2);
    bn_params(g, "bn1", 16, 10);
    add(g, "BatchNormalization", "bn1", "y1,bn1_s,bn1_b,bn1_m,bn1_v", "y2");
    add(g, "Relu", "r1", "y2", "y3");
    init_f(g, "w2", 4, (int64_t[]){16, 1, 3, 3}, -0.5f, 0.5f, 3);
    n = add(g, "Conv", "dw", "y3,w2", "y4");
    ir_node_set_int(n, "group", 16);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    init_scalar(g, "zero", 0.0f);
    init_scalar(g, "six", 6.0f);
    add(g, "Clip", "clip", "y4,zero,six", "y5");
    init_f(g, "w3", 4, (int64_t[]){8, 4, 1, 1}, -0.5f, 0.5f, 4);
    n = add(g, "Conv", "gc", "y5,w3", "y6");
    ir_node_set_int(n, "group", 4);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_string(n, "auto_pad", "SAME_UPPER");
    ir_graph_add_output(g, "y6", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "y3", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* 1-D: [N, C, L] */
    ir_graph_add_input(g, "s", CALMA_DT_FLOAT, 3, (int64_t[]){batch, 3, 20}, NULL);
    init_f(g, "w4", 3, (int64_t[]){5, 3, 4}, -0.5f, 0.5f, 5);
    n = add(g, "Conv", "c1d", "s,w4", "z");
    ir_node_set_ints(n, "strides", (int64_t[]){3}, 1);
    ir_node_set_ints(n, "pads", (int64_t[]){2, 1}, 2);
    ir_graph_add_output(g, "z", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_conv(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = conv_graph(2);
    both(g, "conv_graph");
    int fused = fused_count(g);
    if (fused >= 0) assert_int_equal(fused, 3); /* bn1, r1, clip */
    ir_graph_free(g);
}

/* Residual blocks: conv -> BN -> Add(x) -> Relu as one primitive (the Add
 * a sum post-op into x's memory), and the same where x is read again after
 * the Add, so the sum must go to a copy. */
static ir_graph *residual_graph(int reuse_after) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 16, 8, 8}, NULL);
    init_f(g, "w0", 4, (int64_t[]){16, 16, 1, 1}, -0.3f, 0.3f, 20);
    add(g, "Conv", "stem", "x,w0", "a");
    add(g, "Relu", "stem_relu", "a", "ar");
    init_f(g, "w1", 4, (int64_t[]){16, 16, 3, 3}, -0.2f, 0.2f, 21);
    ir_node *n = add(g, "Conv", "c1", "ar,w1", "b");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    bn_params(g, "bn", 16, 22);
    add(g, "BatchNormalization", "bn", "b,bn_s,bn_b,bn_m,bn_v", "bb");
    add(g, "Add", "res", "bb,ar", "c");
    add(g, "Relu", "res_relu", "c", "y");
    if (reuse_after) {
        add(g, "Mul", "again", "ar,y", "z");
        ir_graph_add_output(g, "z", CALMA_DT_FLOAT, -1, NULL, NULL);
    } else {
        ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL);
    }
    sort_or_fail(g);
    return g;
}

static void test_small_residual_sum(void **st) {
    (void)st;
    BH_NEED(fp32());
    for (int reuse = 0; reuse < 2; reuse++) {
        ir_graph *g = residual_graph(reuse);
        both(g, reuse ? "residual read again" : "residual in place");
        int fused = fused_count(g);
        if (fused >= 0) assert_int_equal(fused, 4); /* stem_relu, bn, res, res_relu */
        if (bh_here(int8())) {
            int q = int8_steps(g);
            if (q >= 0) assert_int_equal(q, 2); /* both convolutions in int8 */
        }
        ir_graph_free(g);
    }
}

/* ---- pools ---- */

static ir_graph *pool_graph(void) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 16, 9, 10}, NULL);
    init_f(g, "w", 4, (int64_t[]){16, 16, 1, 1}, -0.5f, 0.5f, 30);
    add(g, "Conv", "conv", "x,w", "a"); /* blocked layout from here */
    ir_node *n = add(g, "MaxPool", "mp", "a", "p1");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 0, 0}, 4);
    ir_node_set_int(n, "ceil_mode", 1);
    n = add(g, "AveragePool", "ap_incl", "a", "p2");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    ir_node_set_int(n, "count_include_pad", 1);
    n = add(g, "AveragePool", "ap_excl", "x", "p3");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){2, 3}, 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){0, 1, 1, 1}, 4);
    n = add(g, "AveragePool", "ap_ceil", "a", "p4");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_int(n, "ceil_mode", 1);
    add(g, "GlobalAveragePool", "gap", "a", "g1");
    add(g, "GlobalMaxPool", "gmp", "x", "g2");
    const char *outs[] = {"p1", "p2", "p3", "p4", "g1", "g2"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        ir_graph_add_output(g, outs[i], CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_pools(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = pool_graph();
    both(g, "pool_graph");
    ir_graph_free(g);
}

/* ---- products ---- */

/* Gemm in its forms (transB 0 and 1, alpha, beta, a bias row, a scalar C),
 * Relu fused, and a classifier reading a Flatten of a blocked feature map
 * (the inner product takes the map unflattened). */
static ir_graph *gemm_graph(void) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){3, 16, 3, 3}, NULL);
    init_f(g, "w", 4, (int64_t[]){32, 16, 3, 3}, -0.3f, 0.3f, 40);
    ir_node *n = add(g, "Conv", "conv", "x,w", "a");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    add(g, "Flatten", "flat", "a", "f");
    init_f(g, "fw", 2, (int64_t[]){10, 288}, -0.2f, 0.2f, 41);
    init_f(g, "fb", 1, (int64_t[]){10}, -0.5f, 0.5f, 42);
    n = add(g, "Gemm", "fc", "f,fw,fb", "h");
    ir_node_set_int(n, "transB", 1);
    add(g, "Relu", "fc_relu", "h", "hr");
    init_f(g, "w2", 2, (int64_t[]){10, 7}, -0.5f, 0.5f, 43);
    init_f(g, "b2", 2, (int64_t[]){1, 7}, -0.5f, 0.5f, 44);
    n = add(g, "Gemm", "fc2", "hr,w2,b2", "o1");
    ir_node_set_float(n, "alpha", 0.5f);
    ir_node_set_float(n, "beta", 2.0f);
    init_scalar(g, "c0", 0.25f);
    n = add(g, "Gemm", "fc3", "hr,w2,c0", "o2");
    ir_graph_add_output(g, "o1", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "o2", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* the Flatten is also read by something else: made plain once */
    add(g, "Sigmoid", "flat_sig", "f", "fs");
    ir_graph_add_output(g, "fs", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_gemm(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = gemm_graph();
    both(g, "gemm_graph");
    ir_graph_free(g);
}

/* nn.Linear as exported (MatMul + bias Add) on a 3-D input, with the erf
 * GELU fused after it, a residual Add into the next product, attention's
 * batched MatMul of two computed tensors with broadcasting and a scale. */
static ir_graph *matmul_graph(void) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 3, (int64_t[]){2, 6, 8}, NULL);
    init_f(g, "w1", 2, (int64_t[]){8, 12}, -0.5f, 0.5f, 50);
    init_f(g, "b1", 1, (int64_t[]){12}, -0.5f, 0.5f, 51);
    add(g, "MatMul", "mm1", "x,w1", "h");
    add(g, "Add", "mm1_bias", "h,b1", "hb");
    init_scalar(g, "sqrt2", 1.41421356f);
    init_scalar(g, "one", 1.0f);
    init_scalar(g, "half", 0.5f);
    add(g, "Div", "gelu_div", "hb,sqrt2", "g1");
    add(g, "Erf", "gelu_erf", "g1", "g2");
    add(g, "Add", "gelu_add", "g2,one", "g3");
    add(g, "Mul", "gelu_mul", "hb,g3", "g4");
    add(g, "Mul", "gelu_half", "g4,half", "gl");
    init_f(g, "w2", 2, (int64_t[]){12, 8}, -0.5f, 0.5f, 52);
    add(g, "MatMul", "mm2", "gl,w2", "p");
    add(g, "Add", "resid", "p,x", "r"); /* residual: a sum post-op */
    /* scores = r @ r^T / 4, as attention's Q K^T */
    ir_node *n = add(g, "Transpose", "rt", "r", "rT");
    ir_node_set_ints(n, "perm", (int64_t[]){0, 2, 1}, 3);
    add(g, "MatMul", "scores", "r,rT", "s");
    init_scalar(g, "four", 4.0f);
    add(g, "Div", "scale", "s,four", "ss");
    add(g, "Softmax", "sm", "ss", "prob");
    /* a 2-D operand broadcast against a batch of them */
    ir_graph_add_input(g, "k", CALMA_DT_FLOAT, 2, (int64_t[]){6, 5}, NULL);
    add(g, "MatMul", "ctx", "prob,k", "o");
    ir_graph_add_output(g, "o", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "r", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_matmul_gelu(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = matmul_graph();
    both(g, "matmul_graph");
    int fused = fused_count(g);
    if (fused >= 0) assert_int_equal(fused, 8); /* bias, 5 of the GELU, resid, scale */
    ir_graph_free(g);
}

/* ---- elementwise ---- */

static ir_graph *eltwise_graph(void) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 4, 5}, NULL);
    ir_graph_add_input(g, "y", CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 4, 5}, NULL);
    static const char *unary[] = {"Relu",      "Sigmoid", "Tanh", "Exp",     "Abs",
                                  "HardSwish", "Elu",     "Neg",  "Softplus"};
    char name[32], out[32];
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        snprintf(name, sizeof name, "u_%s", unary[i]);
        snprintf(out, sizeof out, "o_%s", unary[i]);
        add(g, unary[i], name, "x", out);
        ir_graph_add_output(g, out, CALMA_DT_FLOAT, -1, NULL, NULL);
    }
    ir_node *n = add(g, "LeakyRelu", "lrelu", "x", "o_lrelu");
    ir_node_set_float(n, "alpha", 0.2f);
    add(g, "Abs", "abs", "x", "xa");
    add(g, "Sqrt", "sqrt", "xa", "o_sqrt");
    init_scalar(g, "quarter", 0.25f);
    add(g, "Add", "shift", "xa,quarter", "xp");
    add(g, "Log", "log", "xp", "o_log");
    init_scalar(g, "three", 3.0f);
    add(g, "Mul", "triple", "x,three", "x3");
    add(g, "Round", "round", "x3", "o_round");
    /* the erf GELU as (x * 0.5) * (1 + erf(x * 1/sqrt(2))), alone */
    init_scalar(g, "rsqrt2", 0.70710678f);
    init_scalar(g, "one", 1.0f);
    init_scalar(g, "halfc", 0.5f);
    add(g, "Neg", "g_in", "y", "gy"); /* read by the pattern only */
    add(g, "Mul", "g_scale", "gy,rsqrt2", "g1");
    add(g, "Erf", "g_erf", "g1", "g2");
    add(g, "Add", "g_add", "g2,one", "g3");
    add(g, "Mul", "g_half", "gy,halfc", "g4");
    add(g, "Mul", "g_out", "g4,g3", "o_gelu");
    init_scalar(g, "lo", -0.3f);
    init_scalar(g, "hi", 0.4f);
    add(g, "Clip", "clip", "x,lo,hi", "o_clip");
    /* binary: full, per-channel and scalar forms */
    static const char *bin[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
    init_f(g, "pc", 3, (int64_t[]){3, 1, 1}, 0.5f, 1.5f, 60);
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
        snprintf(name, sizeof name, "full_%s", bin[i]);
        snprintf(out, sizeof out, "f_%s", bin[i]);
        add(g, bin[i], name, !strcmp(bin[i], "Div") ? "x,o_Sigmoid" : "x,y", out);
        ir_graph_add_output(g, out, CALMA_DT_FLOAT, -1, NULL, NULL);
        snprintf(name, sizeof name, "chan_%s", bin[i]);
        snprintf(out, sizeof out, "c_%s", bin[i]);
        add(g, bin[i], name, "x,pc", out);
        ir_graph_add_output(g, out, CALMA_DT_FLOAT, -1, NULL, NULL);
        snprintf(name, sizeof name, "lscalar_%s", bin[i]);
        snprintf(out, sizeof out, "l_%s", bin[i]);
        add(g, bin[i], name, !strcmp(bin[i], "Div") ? "hi,o_Sigmoid" : "hi,x", out);
        ir_graph_add_output(g, out, CALMA_DT_FLOAT, -1, NULL, NULL);
        snprintf(name, sizeof name, "rscalar_%s", bin[i]);
        snprintf(out, sizeof out, "r_%s", bin[i]);
        add(g, bin[i], name, "x,hi", out);
        ir_graph_add_output(g, out, CALMA_DT_FLOAT, -1, NULL, NULL);
    } /* a broadcast first operand of a commutative op swaps */
    add(g, "Mul", "swap", "pc,y", "o_swap");
    /* a float constant made by a Constant node (folded at load, read in convert) */
    ir_tensor kt = {0};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&kt, CALMA_DT_FLOAT, 3, (int64_t[]){3, 4, 5}, &e), CALMA_OK);
    gen_fill(&kt, 61, 0, 0);
    ir_node *kn = add(g, "Constant", "const_node", "", "kc");
    ir_node_set_tensor(kn, "value", &kt);
    add(g, "Mul", "mul_folded", "x,kc", "o_kc");
    ir_graph_add_output(g, "o_kc", CALMA_DT_FLOAT, -1, NULL, NULL);
    init_scalar(g, "two", 2.0f);
    add(g, "Pow", "pow", "xa,two", "o_pow");
    const char *more[] = {"o_lrelu", "o_sqrt", "o_clip",  "o_swap",
                          "o_pow",   "o_log",  "o_round", "o_gelu"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        ir_graph_add_output(g, more[i], CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_eltwise_binary(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = eltwise_graph();
    both(g, "eltwise_graph");
    ir_graph_free(g);
}

/* ---- normalization, softmax ---- */

static ir_graph *norm_graph(int64_t opset) {
    ir_graph *g = new_graph(opset);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 3, (int64_t[]){2, 5, 16}, NULL);
    init_f(g, "ls", 1, (int64_t[]){16}, 0.5f, 1.5f, 70);
    init_f(g, "lb", 1, (int64_t[]){16}, -0.5f, 0.5f, 71);
    ir_node *n;
    if (opset >= 17) {
        n = add(g, "LayerNormalization", "ln_last", "x,ls,lb", "ln1");
        ir_node_set_float(n, "epsilon", 1e-3f);
        init_f(g, "ls2", 2, (int64_t[]){5, 16}, 0.5f, 1.5f, 72);
        n = add(g, "LayerNormalization", "ln_two", "x,ls2", "ln2");
        ir_node_set_int(n, "axis", -2);
        ir_graph_add_output(g, "ln1", CALMA_DT_FLOAT, -1, NULL, NULL);
        ir_graph_add_output(g, "ln2", CALMA_DT_FLOAT, -1, NULL, NULL);
    }
    add(g, "Softmax", "sm", "x", "s1");
    n = add(g, "Softmax", "sm_axis1", "x", "s2");
    ir_node_set_int(n, "axis", 1); /* before 13: coerced to 2-D at axis 1 */
    add(g, "LogSoftmax", "lsm", "x", "s3");
    ir_graph_add_output(g, "s1", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "s2", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "s3", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* a BatchNormalization that follows no Conv */
    ir_graph_add_input(g, "m", CALMA_DT_FLOAT, 4, (int64_t[]){2, 6, 3, 3}, NULL);
    bn_params(g, "bn", 6, 73);
    add(g, "BatchNormalization", "bn", "m,bn_s,bn_b,bn_m,bn_v", "bno");
    ir_graph_add_output(g, "bno", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_norms(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = norm_graph(17);
    both(g, "norm_graph opset 17");
    ir_graph_free(g);
    g = norm_graph(11);
    both(g, "norm_graph opset 11");
    ir_graph_free(g);
}

/* ---- shapes ---- */

/* Views of plain and blocked memory, Transpose, Concat of blocked maps and
 * of rows with a constant, Identity and Dropout, and the exporter's
 * constant shape arithmetic (Shape, Gather, Unsqueeze, Concat) folded. */
static ir_graph *shape_graph(void) {
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 16, 4, 6}, NULL);
    init_f(g, "w1", 4, (int64_t[]){16, 16, 1, 1}, -0.5f, 0.5f, 80);
    init_f(g, "w3", 4, (int64_t[]){8, 16, 3, 3}, -0.3f, 0.3f, 81);
    add(g, "Conv", "e1", "x,w1", "a");
    ir_node *n = add(g, "Conv", "e3", "x,w3", "b");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    n = add(g, "Concat", "cat_c", "a,b,a", "cat");
    ir_node_set_int(n, "axis", 1);
    n = add(g, "Concat", "cat_h", "cat,cat", "cat2");
    ir_node_set_int(n, "axis", 2);
    ir_graph_add_output(g, "cat2", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* a blocked map reshaped (one reorder to plain), through the folded chain */
    add(g, "Shape", "shape", "b", "sh");
    init_i64(g, "idx0", 1, (int64_t[]){0});
    g->values[ir_graph_find(g, "idx0")].init->rank = 0;
    add(g, "Gather", "gather", "sh,idx0", "n0");
    init_i64(g, "ax0", 1, (int64_t[]){0});
    add(g, "Unsqueeze", "unsq_n", "n0,ax0", "n1");
    init_i64(g, "rest", 2, (int64_t[]){8, -1});
    n = add(g, "Concat", "cat_shape", "n1,rest", "newshape");
    ir_node_set_int(n, "axis", 0);
    add(g, "Reshape", "reshape", "b,newshape", "rb");
    n = add(g, "Transpose", "tr", "rb", "rbt");
    ir_node_set_ints(n, "perm", (int64_t[]){2, 0, 1}, 3);
    add(g, "Identity", "id", "rbt", "rid");
    add(g, "Dropout", "drop", "rid", "rdo");
    ir_graph_add_output(g, "rdo", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* plain views: Squeeze/Unsqueeze of a plain tensor */
    ir_graph_add_input(g, "v", CALMA_DT_FLOAT, 3, (int64_t[]){2, 1, 7}, NULL);
    init_i64(g, "ax1", 1, (int64_t[]){1});
    add(g, "Squeeze", "sq", "v,ax1", "vs");
    add(g, "Unsqueeze", "usq", "vs,ax0", "vu");
    init_f(g, "extra", 3, (int64_t[]){1, 2, 7}, -1.0f, 1.0f, 82);
    n = add(g, "Concat", "cat_rows", "vu,extra", "rows");
    ir_node_set_int(n, "axis", 1);
    ir_graph_add_output(g, "rows", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_shapes(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = shape_graph();
    both(g, "shape_graph");
    ir_graph_free(g);
}

/* ---- what it cannot do ---- */

static void test_small_unsupported_named(void **st) {
    (void)st;
    BH_NEED(fp32());
    /* ops with no mapping: every one named at once, before any work */
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, 4, 4}, NULL);
    add(g, "Relu", "r", "x", "a");
    add(g, "NonZero", "nz", "a", "b");
    add(g, "Resize", "rs", "a", "c");
    ir_graph_add_output(g, "a", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    calma_error e = {0};
    assert_int_equal(bh_load_only(fp32(), g, &e), CALMA_E_UNSUPPORTED);
    printf("  %s\n", e.msg);
    assert_non_null(strstr(e.msg, "op 'NonZero' (node 'nz') has no oneDNN equivalent"));
    assert_non_null(strstr(e.msg, "Resize"));
    ir_graph_free(g);
    /* Erf that is no GELU */
    g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, (int64_t[]){1, 8}, NULL);
    add(g, "Tanh", "t", "x", "a");
    add(g, "Erf", "lonely_erf", "a", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, (int64_t[]){1, 8}, NULL);
    sort_or_fail(g);
    const char *needles[] = {"op 'Erf' (node 'lonely_erf')", "GELU", NULL};
    bh_expect_unsupported(fp32(), g, needles);
    ir_graph_free(g);
    /* computed weights */
    g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, 4, 4}, NULL);
    ir_graph_add_input(g, "wx", CALMA_DT_FLOAT, 4, (int64_t[]){3, 2, 3, 3}, NULL);
    add(g, "Conv", "conv_wx", "x,wx", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 2, 2}, NULL);
    sort_or_fail(g);
    const char *needles2[] = {"op 'Conv' (node 'conv_wx')", "weights must be a constant", NULL};
    bh_expect_unsupported(fp32(), g, needles2);
    ir_graph_free(g);
    /* a shape op on a computed tensor is only folded */
    g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, (int64_t[]){3, 4}, NULL);
    init_i64(g, "starts", 1, (int64_t[]){1});
    init_i64(g, "ends", 1, (int64_t[]){3});
    add(g, "Slice", "slice", "x,starts,ends", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    const char *needles3[] = {"op 'Slice' (node 'slice')", "folds it only", NULL};
    bh_expect_unsupported(fp32(), g, needles3);
    ir_graph_free(g);
}

static void test_small_bad_input_types(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_INT64, 2, (int64_t[]){1, 4}, NULL);
    add(g, "Relu", "r", "x", "y");
    ir_graph_add_output(g, "y", CALMA_DT_INT64, 2, (int64_t[]){1, 4}, NULL);
    sort_or_fail(g);
    calma_error e = {0};
    assert_int_equal(bh_load_only(fp32(), g, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "int64"));
    ir_graph_free(g);
    /* a group that does not divide the channels */
    g = new_graph(17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 4, 6, 6}, NULL);
    init_f(g, "w", 4, (int64_t[]){4, 4, 3, 3}, -1.0f, 1.0f, 90);
    ir_node *n = add(g, "Conv", "bad", "x,w", "y");
    ir_node_set_int(n, "group", 3);
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 4, (int64_t[]){1, 4, 4, 4}, NULL);
    sort_or_fail(g);
    int rc = bh_load_only(fp32(), g, &e);
    printf("  %s\n", e.msg);
    assert_int_not_equal(rc, CALMA_OK);
    ir_graph_free(g);
}

/* New output buffers between runs; a wrong size is an error, not a crash. */
static void test_small_rebinds_buffers(void **st) {
    (void)st;
    BH_NEED(fp32());
    ir_graph *g = gemm_graph();
    trial t;
    calma_error e = {0};
    bh_trial_prepare(&t, fp32(), g);
    assert_int_equal(bh_trial_load(&t, g, 1, &e), CALMA_OK);
    const calma_backend *be = fp32()->backend;
    assert_int_equal(be->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e), CALMA_OK);
    bh_trial_check(&t, "first buffers", 0);
    for (int k = 0; k < t.n_out; k++) {
        ir_tensor other = {0};
        assert_int_equal(ir_tensor_alloc(&other, t.got[k].dtype, t.got[k].rank, t.got[k].dims, &e),
                         CALMA_OK);
        ir_tensor_free(&t.got[k]);
        t.got[k] = other;
        t.to[k].data = t.got[k].data;
    }
    assert_int_equal(be->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e), CALMA_OK);
    bh_trial_check(&t, "second buffers", 0);
    t.to[0].nbytes -= 4;
    assert_int_equal(be->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "output"));
    bh_trial_free(&t);
    ir_graph_free(g);
}

/* ---- zoo ---- */

static void test_zoo_small_models(void **st) {
    (void)st;
    BH_NEED(fp32());
    bh_zoo_case(fp32(), "simple", 1, 1, 0);
    bh_zoo_case(fp32(), "simple", 3, 2, 0);
    bh_zoo_case(fp32(), "mlp", 4, 1, 0);
    bh_zoo_case(fp32(), "transformer", 2, 2, 0);
    if (bh_here(bf16())) {
        bh_zoo_case(bf16(), "simple", 2, 1, BF16_MIN_COS);
        bh_zoo_case(bf16(), "mlp", 4, 2, BF16_MIN_COS);
        bh_zoo_case(bf16(), "transformer", 2, 1, BF16_MIN_COS);
    }
    if (!bh_here(int8())) return;
    static const char *const models[] = {"simple", "mlp", "transformer"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        ir_graph *g = NULL;
        calma_error e = {0};
        assert_int_equal(zoo_build(models[i], 7, &g, &e), CALMA_OK);
        ir_graph_set_batch(g, 2);
        bh_run_check_opts(int8(), g, 2, 1, models[i], INT8_MIN_COS, INT8_OPTS);
        ir_graph_free(g);
    }
}

/* The calibration settings are checked: a bad count is a usage error. */
static void test_small_int8_options(void **st) {
    (void)st;
    BH_NEED(int8());
    ir_graph *g = residual_graph(0);
    static const char *const bad[] = {"calibration=0", "calibration=many", "seed=-3",
                                      "xform.calibrate=median"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trial t;
        calma_error e = {0};
        bh_trial_prepare(&t, int8(), g);
        t.options = bad[i];
        int rc = bh_trial_load(&t, g, 1, &e);
        printf("  %s: %s\n", bad[i], e.msg);
        assert_int_equal(rc, CALMA_E_USAGE);
        assert_null(t.state);
        bh_trial_free(&t);
    }
    ir_graph_free(g);
}

static void test_small_probe_and_table(void **st) {
    (void)st;
    const calma_conversion *c = fp32();
    assert_int_equal(c->tier, 2);
    assert_string_equal(c->device, "cpu");
    calma_error e = {0};
    int rc = c->backend->probe(c, &e);
    if (rc) {
        /* built without oneDNN: the reason says how to get it */
        assert_int_equal(rc, CALMA_E_UNAVAILABLE);
        assert_non_null(strstr(e.msg, "libdnnl-dev"));
        return;
    }
    assert_non_null(strstr(c->backend->version(), "oneDNN"));
    rc = bf16()->backend->probe(bf16(), &e);
    if (rc) {
        assert_int_equal(rc, CALMA_E_UNAVAILABLE);
        assert_non_null(strstr(e.msg, "BF16"));
    }
    c->backend->release(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_probe_and_table),
        cmocka_unit_test(test_small_conv),
        cmocka_unit_test(test_small_residual_sum),
        cmocka_unit_test(test_small_pools),
        cmocka_unit_test(test_small_gemm),
        cmocka_unit_test(test_small_matmul_gelu),
        cmocka_unit_test(test_small_eltwise_binary),
        cmocka_unit_test(test_small_norms),
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_small_unsupported_named),
        cmocka_unit_test(test_small_bad_input_types),
        cmocka_unit_test(test_small_rebinds_buffers),
        cmocka_unit_test(test_small_int8_options),
        cmocka_unit_test(test_zoo_small_models),
    };
    const char *filter = getenv("CALMA_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
