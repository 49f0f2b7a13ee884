/* The XNNPACK conversions through include/calma/backend.h: zoo models and
 * hand-built graphs covering each op and attribute family, checked against
 * the oracle (atol 1e-4, rtol 1e-3). XNNPACK runs what XNNPACK lacks on
 * calma's kernels (test_xnn_partition.c covers the partition itself);
 * XNNPACK_STRICT says "unsupported" with the op named. Skipped where calma
 * was built without libxnnpack-dev (the probe then says so, which is also
 * checked).
 *
 * resnet18 and mobilenet_v2 are in test_xnn_zoo.c (the oracle takes a few
 * seconds on them). CALMA_TEST_FILTER (a cmocka glob, e.g. "*small*") runs
 * a subset: the valgrind check in the report runs the small tests only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_xnn_harness.h"

static void test_zoo_simple_small(void **st) {
    (void)st;
    zoo_case("simple", 1, 1);
}
static void test_zoo_simple_batch3_threads2(void **st) {
    (void)st;
    zoo_case("simple", 3, 2);
}
static void test_zoo_mlp_small(void **st) {
    (void)st;
    zoo_case("mlp", 4, 1);
}

/* ---- hand-built graphs ---- */

/* Convolutions of every kind, folded and unfolded BatchNormalization,
 * pools with ceil_mode and count_include_pad, Pad, activations, broadcast
 * arithmetic, GlobalAveragePool, Flatten, Gemm and Softmax; one output is
 * NHWC inside (transposed back in run). */
static ir_graph *conv_graph(int64_t batch) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    ir_graph_set_opset(g, "", 17);
    int64_t xd[4] = {batch, 4, 9, 9};
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, xd, NULL);
    init_f(g, "w1", 4, (int64_t[]){8, 4, 3, 3}, -0.3f, 0.3f, 1);
    init_f(g, "b1", 1, (int64_t[]){8}, -0.1f, 0.1f, 2);
    ir_node *n = add(g, "Conv", "c1", "x,w1,b1", "y1");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 0, 2, 1}, 4);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 1}, 2);
    ir_node_set_ints(n, "dilations", (int64_t[]){1, 2}, 2);
    bn_params(g, "bn1", 8, 10);
    add(g, "BatchNormalization", "bn1", "y1,bn1_s,bn1_b,bn1_m,bn1_v", "y2");
    add(g, "Relu", "r1", "y2", "y3");
    init_f(g, "w2", 4, (int64_t[]){16, 1, 3, 3}, -0.5f, 0.5f, 3);
    n = add(g, "Conv", "dw", "y3,w2", "y4");
    ir_node_set_int(n, "group", 8);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    init_scalar(g, "zero", 0.0f);
    init_scalar(g, "six", 6.0f);
    add(g, "Clip", "clip", "y4,zero,six", "y5");
    init_f(g, "w3", 4, (int64_t[]){8, 4, 1, 1}, -0.5f, 0.5f, 4);
    n = add(g, "Conv", "gc", "y5,w3", "y6");
    ir_node_set_int(n, "group", 4);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_string(n, "auto_pad", "SAME_UPPER");
    init_f(g, "cb", 3, (int64_t[]){8, 1, 1}, -0.5f, 0.5f, 5);
    add(g, "Add", "addc", "y6,cb", "y7");
    bn_params(g, "bn2", 8, 20);
    add(g, "BatchNormalization", "bn2", "y7,bn2_s,bn2_b,bn2_m,bn2_v", "y8");
    n = add(g, "MaxPool", "mp", "y8", "y9");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_int(n, "ceil_mode", 1);
    n = add(g, "AveragePool", "ap1", "y8", "y10");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    ir_node_set_int(n, "count_include_pad", 1);
    n = add(g, "AveragePool", "ap2", "y10", "y11");
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){0, 0, 1, 1}, 4);
    init_i64(g, "pads", 8, (int64_t[]){0, 0, 1, 0, 0, 0, 0, 2});
    init_scalar(g, "half", 0.5f);
    add(g, "Pad", "pad", "y11,pads,half", "y12");
    add(g, "Sigmoid", "sig", "y12", "y13");
    n = add(g, "LeakyRelu", "lrelu", "y12", "y14");
    ir_node_set_float(n, "alpha", 0.1f);
    add(g, "HardSwish", "hswish", "y14", "y15");
    add(g, "HardSigmoid", "hsig", "y15", "y16");
    add(g, "Mul", "mul", "y13,y16", "y17");
    init_f(g, "divisor", 4, (int64_t[]){1, 8, 1, 1}, 0.5f, 2.0f, 6);
    add(g, "Div", "div", "y17,divisor", "y18");
    add(g, "Sub", "sub", "y18,half", "y19");
    add(g, "GlobalAveragePool", "gap", "y19", "y20");
    add(g, "Flatten", "flat", "y20", "y21");
    init_f(g, "fcw", 2, (int64_t[]){8, 5}, -1.0f, 1.0f, 7);
    init_f(g, "fcb", 1, (int64_t[]){5}, -1.0f, 1.0f, 8);
    n = add(g, "Gemm", "fc", "y21,fcw,fcb", "y22");
    ir_node_set_float(n, "alpha", 0.5f);
    ir_node_set_float(n, "beta", 2.0f);
    add(g, "Softmax", "sm", "y22", "probs");
    ir_graph_add_output(g, "probs", CALMA_DT_FLOAT, 2, (int64_t[]){batch, 5}, NULL);
    ir_graph_add_output(g, "y12", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "y9", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_conv_ops(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = conv_graph(2);
    run_and_check(g, 1, 2, "conv_graph");
    run_and_check(g, 2, 1, "conv_graph threads 2");
    ir_graph_free(g);
}

/* MatMul + Add (nn.Linear as PyTorch exports it) on a 3-D input, then the
 * exporter's flatten: Shape, Gather, Unsqueeze, Concat, Reshape. */
static ir_graph *linear_graph(void) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 3, (int64_t[]){2, 3, 5}, NULL);
    init_f(g, "w", 2, (int64_t[]){5, 6}, -1.0f, 1.0f, 30);
    init_f(g, "b", 1, (int64_t[]){6}, -1.0f, 1.0f, 31);
    add(g, "MatMul", "mm", "x,w", "h");
    add(g, "Add", "bias", "h,b", "h2");
    add(g, "Relu", "relu", "h2", "h3");
    add(g, "Shape", "shape", "h3", "s");
    init_i64(g, "zero_i", 1, (int64_t[]){0});
    g->values[ir_graph_find(g, "zero_i")].init->rank = 0; /* a scalar index */
    add(g, "Gather", "gather", "s,zero_i", "s0");
    init_i64(g, "ax0", 1, (int64_t[]){0});
    add(g, "Unsqueeze", "unsq", "s0,ax0", "s1");
    init_i64(g, "minus1", 1, (int64_t[]){-1});
    add(g, "Concat", "cat", "s1,minus1", "newshape");
    ir_node_set_int(&g->nodes[g->n_nodes - 1], "axis", 0);
    add(g, "Reshape", "reshape", "h3,newshape", "flat");
    init_f(g, "w2", 2, (int64_t[]){4, 18}, -0.5f, 0.5f, 32);
    ir_node *n = add(g, "Gemm", "fc", "flat,w2", "z");
    ir_node_set_int(n, "transB", 1);
    add(g, "Softmax", "sm", "z", "out");
    ir_graph_add_output(g, "out", CALMA_DT_FLOAT, 2, (int64_t[]){2, 4}, NULL);
    ir_graph_add_output(g, "h3", CALMA_DT_FLOAT, 3, (int64_t[]){2, 3, 6}, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_linear_ops(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = linear_graph();
    run_and_check(g, 1, 2, "linear_graph");
    ir_graph_free(g);
}

/* New output buffers between runs: the runtime is set up again. */
static void test_small_rebinds_outputs(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = linear_graph();
    trial t;
    calma_error e = {0};
    trial_prepare(&t, g);
    assert_int_equal(trial_load(&t, g, 1, &e), CALMA_OK);
    assert_int_equal(xnn()->backend->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e), CALMA_OK);
    trial_check(&t, "first buffers");
    ir_tensor other[MAX_T] = {0};
    for (int k = 0; k < t.n_out; k++) {
        assert_int_equal(
            ir_tensor_alloc(&other[k], t.got[k].dtype, t.got[k].rank, t.got[k].dims, &e), CALMA_OK);
        ir_tensor_free(&t.got[k]);
        t.got[k] = other[k];
        memset(&other[k], 0, sizeof other[k]);
        t.to[k].data = t.got[k].data;
    }
    assert_int_equal(xnn()->backend->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e), CALMA_OK);
    trial_check(&t, "second buffers");
    /* a wrong buffer size is an error, not a crash */
    t.to[0].nbytes -= 4;
    assert_int_equal(xnn()->backend->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e),
                     CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "out"));
    trial_free(&t);
    ir_graph_free(g);
}

/* XNNPACK_STRICT refuses g with every needle in the message. */
static void expect_unsupported(const ir_graph *g, const char *const *needles) {
    trial t;
    calma_error e = {0};
    trial_prepare(&t, g);
    t.conv = xnn_strict();
    int rc = trial_load(&t, g, 1, &e);
    printf("  message: %s\n", e.msg);
    assert_int_equal(rc, CALMA_E_UNSUPPORTED);
    assert_null(t.state);
    for (; *needles; needles++)
        if (!strstr(e.msg, *needles)) fail_msg("'%s' not in '%s'", *needles, e.msg);
    trial_free(&t);
}

/* Erf and Tanh have no XNNPACK op: XNNPACK runs all four nodes on calma's
 * kernels (an island of one Relu between them would cost more than it
 * saves); XNNPACK_STRICT names both ops. */
static void test_small_erf_on_calma_kernels(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, (int64_t[]){1, 8}, NULL);
    add(g, "Relu", "r", "x", "a");
    add(g, "Erf", "gelu_erf", "a", "b");
    add(g, "Tanh", "t", "b", "c");
    add(g, "Erf", "erf2", "c", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, (int64_t[]){1, 8}, NULL);
    sort_or_fail(g);
    facts f;
    run_and_check_facts(g, 1, 2, "erf graph", &f);
    assert_int_equal((int)f.outside, 4);
    assert_int_equal((int)f.islands, 0);
    assert_non_null(strstr(f.ops_outside, "Erf 2"));
    const char *needles[] = {"op 'Erf' (node 'gelu_erf') has no XNNPACK equivalent", "Tanh", NULL};
    expect_unsupported(g, needles);
    ir_graph_free(g);
}

/* Flattening a real NHWC feature map needs a transpose XNNPACK lacks:
 * XNNPACK_STRICT refuses the model; XNNPACK flattens on calma's side. */
static void test_small_flatten_of_nhwc(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, 3, 3}, NULL);
    init_f(g, "w", 4, (int64_t[]){4, 2, 1, 1}, -1.0f, 1.0f, 40);
    add(g, "Conv", "conv", "x,w", "a");
    add(g, "Flatten", "flatten", "a", "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, (int64_t[]){1, 36}, NULL);
    sort_or_fail(g);
    facts f;
    run_and_check_facts(g, 1, 1, "conv then flatten", &f);
    assert_int_equal((int)f.in_engine, 1);
    assert_int_equal((int)f.outside, 1);
    const char *needles[] = {"op 'Flatten' (node 'flatten')", "transpose", NULL};
    expect_unsupported(g, needles);
    ir_graph_free(g);
}

/* A classifier reading a flattened 3x3 feature map (VGG's pattern): the
 * bytes stay NHWC and the Gemm's weights are permuted instead. */
static ir_graph *flatten_graph(int relu_after_flatten) {
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 5, 5}, NULL);
    init_f(g, "w", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f, 50);
    ir_node *n = add(g, "Conv", "conv", "x,w", "a");
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    add(g, "Flatten", "flatten", "a", "f");
    const char *fc_in = "f";
    if (relu_after_flatten) {
        add(g, "Relu", "relu_flat", "f", "fr");
        fc_in = "fr";
    }
    init_f(g, "fw", 2, (int64_t[]){7, 36}, -0.5f, 0.5f, 51);
    char ins[32];
    snprintf(ins, sizeof ins, "%s,fw", fc_in);
    n = add(g, "Gemm", "fc", ins, "y");
    ir_node_set_int(n, "transB", 1);
    init_f(g, "mw", 2, (int64_t[]){36, 3}, -0.5f, 0.5f, 52);
    snprintf(ins, sizeof ins, "%s,mw", fc_in);
    add(g, "MatMul", "mm", ins, "z");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, (int64_t[]){2, 7}, NULL);
    ir_graph_add_output(g, "z", CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_flatten_nhwc_into_gemm(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = flatten_graph(0);
    facts f;
    run_and_check_facts(g, 1, 1, "flatten_graph", &f);
    assert_int_equal((int)f.outside, 0); /* the weights' rows are permuted instead */
    ir_graph_free(g);
    g = flatten_graph(1);
    run_and_check(g, 1, 1, "flatten_graph with a Relu");
    const char *needles[] = {"op 'Relu' (node 'relu_flat')", "flattens an NHWC feature map", NULL};
    expect_unsupported(g, needles);
    ir_graph_free(g);
}

/* Bilinear Resize in its three coordinate modes, ReduceMean as a global
 * pool (keepdims 1 and 0), Sum, ConvTranspose (groups, pads, output
 * padding, dilation). */
static ir_graph *spatial_graph(void) {
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 5, 6}, NULL);
    init_f(g, "w", 4, (int64_t[]){4, 3, 1, 1}, -1.0f, 1.0f, 60);
    add(g, "Conv", "conv", "x,w", "a");
    ir_tensor t = {0};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 1, (int64_t[]){4}, &e), CALMA_OK);
    memcpy(t.data, (float[]){1, 1, 2, 2}, 4 * sizeof(float));
    ir_graph_add_initializer(g, "x2", &t);
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 1, (int64_t[]){4}, &e), CALMA_OK);
    memcpy(t.data, (float[]){1, 1, 2, 1.5f}, 4 * sizeof(float));
    ir_graph_add_initializer(g, "x15", &t);
    init_i64(g, "sz", 4, (int64_t[]){2, 4, 7, 9});
    ir_node *n = add(g, "Resize", "up_half", "a,,x2", "r1");
    ir_node_set_string(n, "mode", "linear");
    n = add(g, "Resize", "up_corners", "a,,,sz", "r2");
    ir_node_set_string(n, "mode", "linear");
    ir_node_set_string(n, "coordinate_transformation_mode", "align_corners");
    n = add(g, "Resize", "up_asym", "a,,x15", "r3");
    ir_node_set_string(n, "mode", "linear");
    ir_node_set_string(n, "coordinate_transformation_mode", "asymmetric");
    n = add(g, "ReduceMean", "mean_keep", "r1", "m1");
    ir_node_set_ints(n, "axes", (int64_t[]){2, 3}, 2);
    n = add(g, "ReduceMean", "mean_flat", "r3", "m2");
    ir_node_set_ints(n, "axes", (int64_t[]){-1, -2}, 2);
    ir_node_set_int(n, "keepdims", 0);
    add(g, "Sum", "sum", "m1,m1", "s");
    init_f(g, "tw", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f, 61);
    init_f(g, "tb", 1, (int64_t[]){6}, -0.5f, 0.5f, 62);
    n = add(g, "ConvTranspose", "deconv", "a,tw,tb", "d1");
    ir_node_set_int(n, "group", 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 0, 1, 1}, 4);
    ir_node_set_ints(n, "output_padding", (int64_t[]){1, 0}, 2);
    add(g, "Relu", "deconv_relu", "d1", "d2");
    init_f(g, "tw2", 4, (int64_t[]){4, 2, 2, 2}, -0.5f, 0.5f, 63);
    n = add(g, "ConvTranspose", "deconv2", "a,tw2", "d3");
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "dilations", (int64_t[]){1, 2}, 2);
    ir_graph_add_output(g, "r1", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "r2", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "r3", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "s", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "m2", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "d2", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "d3", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_resize_and_mean(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = spatial_graph();
    run_and_check(g, 1, 1, "spatial_graph");
    ir_graph_free(g);
}

/* Concat of computed tensors: a Fire module (channels of NHWC maps), a
 * concat along H, and one of 2-D rows with a constant. */
static ir_graph *concat_graph(void) {
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 6, 5, 5}, NULL);
    init_f(g, "ws", 4, (int64_t[]){3, 6, 1, 1}, -0.5f, 0.5f, 80);
    init_f(g, "we1", 4, (int64_t[]){4, 3, 1, 1}, -0.5f, 0.5f, 81);
    init_f(g, "we3", 4, (int64_t[]){5, 3, 3, 3}, -0.5f, 0.5f, 82);
    add(g, "Conv", "squeeze", "x,ws", "s");
    add(g, "Relu", "squeeze_relu", "s", "sr");
    add(g, "Conv", "expand1", "sr,we1", "e1");
    ir_node *n = add(g, "Conv", "expand3", "sr,we3", "e3");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    n = add(g, "Concat", "fire_cat", "e1,e3,e1", "cat");
    ir_node_set_int(n, "axis", 1);
    add(g, "Relu", "cat_relu", "cat", "catr");
    n = add(g, "Concat", "h_cat", "catr,cat", "hc");
    ir_node_set_int(n, "axis", 2);
    ir_graph_add_output(g, "catr", CALMA_DT_FLOAT, -1, NULL, NULL);
    /* rows: [2,6] from the pooled map, then a constant [2,3] */
    add(g, "GlobalAveragePool", "gap", "x", "p");
    add(g, "Flatten", "flat", "p", "pf");
    init_f(g, "extra", 2, (int64_t[]){2, 3}, -1.0f, 1.0f, 83);
    n = add(g, "Concat", "row_cat", "pf,extra", "rows");
    ir_node_set_int(n, "axis", -1);
    ir_graph_add_output(g, "hc", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "rows", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_concat(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = concat_graph();
    run_and_check(g, 1, 1, "concat_graph");
    run_and_check(g, 2, 1, "concat_graph threads 2");
    ir_graph_free(g);
}

/* tf2onnx's pattern: an NHWC input turned NCHW by Transpose, convs, and
 * back; all free relabellings. Also a constant transposed for a MatMul and
 * a Transpose that only moves a size-1 axis. */
static ir_graph *transpose_graph(int bad) {
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, (int64_t[]){2, 5, 6, 3}, NULL);
    ir_node *n = add(g, "Transpose", "to_nchw", "x", "xt");
    ir_node_set_ints(n, "perm", (int64_t[]){0, 3, 1, 2}, 4);
    init_f(g, "w", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f, 90);
    n = add(g, "Conv", "conv", "xt,w", "a");
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    add(g, "Relu", "relu", "a", "ar");
    n = add(g, "Transpose", "to_nhwc", "ar", "y");
    ir_node_set_ints(n, "perm", bad ? (int64_t[]){0, 1, 3, 2} : (int64_t[]){0, 2, 3, 1}, 4);
    init_f(g, "wt", 2, (int64_t[]){7, bad ? 5 : 4}, -0.5f, 0.5f, 91);
    n = add(g, "Transpose", "wt_t", "wt", "wtt");
    add(g, "MatMul", "mm", "y,wtt", "z");
    n = add(g, "Transpose", "unit_axis", "z", "zt");
    ir_node_set_ints(n, "perm", (int64_t[]){0, 1, 2, 3}, 4);
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL);
    ir_graph_add_output(g, "zt", CALMA_DT_FLOAT, -1, NULL, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_transpose_relabels(void **st) {
    (void)st;
    NEED_XNN();
    ir_graph *g = transpose_graph(0);
    run_and_check(g, 1, 1, "transpose_graph");
    ir_graph_free(g);
    g = transpose_graph(1);
    run_and_check(g, 1, 1, "transpose_graph that moves data");
    const char *needles[] = {"op 'Transpose' (node 'to_nhwc')", "no transpose", NULL};
    expect_unsupported(g, needles);
    ir_graph_free(g);
}

static ir_graph *one_node(const char *op, const char *ins, calma_dtype dt) {
    ir_graph *g = ir_graph_new();
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", dt, 4, (int64_t[]){1, 4, 6, 6}, NULL);
    ir_graph_add_input(g, "wx", CALMA_DT_FLOAT, 4, (int64_t[]){4, 4, 3, 3}, NULL);
    init_f(g, "w", 4, (int64_t[]){4, 4, 3, 3}, -1.0f, 1.0f, 70);
    init_f(g, "w2", 2, (int64_t[]){6, 6}, -1.0f, 1.0f, 71);
    init_i64(g, "shape", 2, (int64_t[]){5, -1});
    init_i64(g, "pads", 8, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1});
    add(g, op, "bad", ins, "y");
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 4, (int64_t[]){1, 4, 6, 6}, NULL);
    sort_or_fail(g);
    return g;
}

static void test_small_bad_graphs_fail_cleanly(void **st) {
    (void)st;
    NEED_XNN();
    struct {
        const char *op, *ins, *attr;
        int64_t attr_v;
        calma_dtype dt;
        int status;
        const char *needle;
    } cases[] = {
        {"Conv", "x,wx", NULL, 0, CALMA_DT_FLOAT, CALMA_E_UNSUPPORTED,
         "weights must be a constant"},
        {"Conv", "x,w", "group", 3, CALMA_DT_FLOAT, CALMA_E_INVALID, "group 3"},
        {"Conv", "x", NULL, 0, CALMA_DT_FLOAT, CALMA_E_INVALID, "needs inputs X and W"},
        {"MatMul", "x,wx", NULL, 0, CALMA_DT_FLOAT, CALMA_E_INVALID, "inner dimensions differ"},
        {"MaxPool", "x", NULL, 0, CALMA_DT_FLOAT, CALMA_E_INVALID, "kernel_shape"},
        {"Reshape", "x,shape", NULL, 0, CALMA_DT_FLOAT, CALMA_E_INVALID, "cannot reshape 144"},
        {"Relu", "x", NULL, 0, CALMA_DT_INT64, CALMA_E_UNSUPPORTED, "int64"},
        {"Softmax", "x", "axis", 1, CALMA_DT_FLOAT, CALMA_E_UNSUPPORTED, "last axis"}, /* strict */
        {"Gemm", "x,w2", NULL, 0, CALMA_DT_FLOAT, CALMA_E_INVALID, "ranks 4 and 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ir_graph *g = one_node(cases[i].op, cases[i].ins, cases[i].dt);
        if (cases[i].attr) ir_node_set_int(&g->nodes[0], cases[i].attr, cases[i].attr_v);
        calma_error e = {0};
        /* XNNPACK runs a Softmax over another axis on calma's kernel */
        int strict = !strcmp(cases[i].op, "Softmax");
        int rc = bh_load_only(strict ? xnn_strict() : xnn(), g, &e);
        printf("  %s: %s\n", cases[i].op, e.msg);
        assert_int_equal(rc, cases[i].status);
        if (!strstr(e.msg, cases[i].needle)) fail_msg("'%s' not in '%s'", cases[i].needle, e.msg);
        ir_graph_free(g);
    }
    /* mode reflect */
    ir_graph *g = one_node("Pad", "x,pads", CALMA_DT_FLOAT);
    ir_node_set_string(&g->nodes[0], "mode", "reflect");
    calma_error e = {0};
    assert_int_equal(bh_load_only(xnn(), g, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "op 'Pad' (node 'bad'): mode 'reflect'"));
    ir_graph_free(g);
    /* an op neither XNNPACK nor calma's kernels run */
    g = one_node("LpNormalization", "x", CALMA_DT_FLOAT);
    assert_int_equal(bh_load_only(xnn(), g, &e), CALMA_E_UNSUPPORTED);
    printf("  LpNormalization: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "op 'LpNormalization' (node 'bad') has no XNNPACK equivalent "
                                  "and no calma kernel"));
    ir_graph_free(g);
}

/* The zoo transformer: LayerNormalization, Erf, the attention's MatMuls
 * of two computed tensors and its Transposes run on calma's kernels, the
 * projections in XNNPACK; XNNPACK_STRICT refuses it naming the op. */
static void test_zoo_transformer(void **st) {
    (void)st;
    NEED_XNN();
    facts f;
    zoo_case_facts("transformer", 1, 1, &f);
    assert_true(f.in_engine > 0 && f.outside > 0 && f.islands > 1);
    assert_non_null(strstr(f.ops_outside, "LayerNormalization"));
    assert_non_null(strstr(f.ops_outside, "Erf"));
    assert_true(f.outside_share > 0 && f.outside_share < 1);
    zoo_case_facts("transformer", 2, 2, &f);
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build("transformer", 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, 1);
    const char *needles[] = {"op 'LayerNormalization'", "has no XNNPACK equivalent", "Erf", NULL};
    expect_unsupported(g, needles);
    ir_graph_free(g);
}

static void test_small_probe_and_table(void **st) {
    (void)st;
    const calma_conversion *c = xnn();
    assert_int_equal(c->tier, 2);
    assert_string_equal(c->device, "cpu");
    assert_int_equal(xnn_strict()->tier, 3);
    assert_ptr_equal(xnn_strict()->backend, c->backend);
    calma_error e = {0};
    int rc = c->backend->probe(c, &e);
    if (rc) {
        /* built without XNNPACK: the reason says how to get it */
        assert_int_equal(rc, CALMA_E_UNAVAILABLE);
        assert_non_null(strstr(e.msg, "libxnnpack-dev"));
        return;
    }
    assert_non_null(c->backend->version());
    assert_non_null(strstr(c->backend->version(), "XNNPACK"));
    c->backend->release(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_probe_and_table),
        cmocka_unit_test(test_small_conv_ops),
        cmocka_unit_test(test_small_linear_ops),
        cmocka_unit_test(test_small_rebinds_outputs),
        cmocka_unit_test(test_small_erf_on_calma_kernels),
        cmocka_unit_test(test_small_flatten_of_nhwc),
        cmocka_unit_test(test_small_flatten_nhwc_into_gemm),
        cmocka_unit_test(test_small_resize_and_mean),
        cmocka_unit_test(test_small_concat),
        cmocka_unit_test(test_small_transpose_relabels),
        cmocka_unit_test(test_small_bad_graphs_fail_cleanly),
        cmocka_unit_test(test_zoo_simple_small),
        cmocka_unit_test(test_zoo_simple_batch3_threads2),
        cmocka_unit_test(test_zoo_mlp_small),
        cmocka_unit_test(test_zoo_transformer),
    };
    const char *filter = getenv("CALMA_TEST_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
