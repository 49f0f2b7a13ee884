/* Unit tests of the oracle's executor (src/ref/ref.c): sessions, input
 * checks, freeing intermediates, static shape inference and constant
 * folding. Uses only the shape ops (ref_shape.c) so it does not depend on
 * the arithmetic kernels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/ir.h"
#include "ref/ref.h"

#define S(...) ((const char *const[]){__VA_ARGS__})

static ir_graph *new_graph(void) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    return g;
}

static void add_i64_init(ir_graph *g, const char *name, int n, const int64_t *v, int rank) {
    ir_tensor t = {0};
    int64_t d = n;
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_INT64, rank, &d, NULL), CALMA_OK);
    memcpy(t.data, v, sizeof(int64_t) * (size_t)n);
    assert_int_equal(ir_graph_add_initializer(g, name, &t), 0);
}

static void sorted(ir_graph *g) {
    calma_error e = {0};
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
}

static void test_op_table(void **state) {
    (void)state;
    assert_true(ref_op_supported("Reshape"));
    assert_true(ref_op_supported("Resize"));
    assert_false(ref_op_supported("NoSuchOp"));
    assert_false(ref_op_supported(NULL));
    int n = ref_op_count();
    assert_true(n >= 22);
    for (int i = 0; i < n; i++) {
        assert_non_null(ref_op_name(i));
        assert_true(ref_op_supported(ref_op_name(i)));
        for (int j = 0; j < i; j++) assert_string_not_equal(ref_op_name(i), ref_op_name(j));
    }
    assert_null(ref_op_name(n));
    assert_null(ref_op_name(-1));
}

static void test_unknown_op(void **state) {
    (void)state;
    ir_graph *g = new_graph();
    int64_t d[] = {2};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, d, NULL), 0);
    assert_non_null(ir_graph_add_node(g, "Identity", "first", 1, S("x"), 1, S("t")));
    assert_non_null(ir_graph_add_node(g, "FancyOp", "fancy_1", 1, S("t"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, d, NULL), 0);
    sorted(g);
    ref_session *s = (ref_session *)1;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_E_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(e.msg, "unsupported op 'FancyOp' (node 'fancy_1')"));

    /* another domain is unsupported too, even for a known op name */
    free(g->nodes[0].domain);
    g->nodes[0].domain = strdup("com.microsoft");
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "unsupported op 'Identity' (node 'first')"));
    assert_non_null(strstr(e.msg, "com.microsoft"));
    ir_graph_free(g);
}

static void test_opset_checked(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new();
    int64_t d[] = {2};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, d, NULL), 0);
    assert_non_null(ir_graph_add_node(g, "Identity", "n", 1, S("x"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, d, NULL), 0);
    sorted(g);
    ref_session *s;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "opset"));
    ir_graph_set_opset(g, "", 99);
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "99"));
    ir_graph_set_opset(g, "", 13);
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    ref_session_free(s);
    ir_graph_free(g);
}

/* x[N,3] -> Transpose -> y[3,N] */
static ir_graph *transpose_graph(void) {
    ir_graph *g = new_graph();
    int64_t din[] = {-1, 3}, dout[] = {3, -1};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, din, S("N", NULL)), 0);
    assert_non_null(ir_graph_add_node(g, "Transpose", "tr", 1, S("x"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dout, S(NULL, "N")), 0);
    sorted(g);
    return g;
}

static void test_wrong_input(void **state) {
    (void)state;
    ir_graph *g = transpose_graph();
    ref_session *s;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    float buf[12] = {0};
    ir_tensor in = {.dtype = CALMA_DT_FLOAT, .rank = 2, .dims = {3, 4}, .data = buf, .nbytes = 48};
    ir_tensor out = {0};
    assert_int_equal(ref_session_run(s, &in, &out, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "input 'x'"));
    assert_non_null(strstr(e.msg, "float32[N,3]"));
    assert_non_null(strstr(e.msg, "float32[3,4]"));
    assert_null(out.data);

    in.dtype = CALMA_DT_INT32;
    in.dims[0] = 4;
    in.dims[1] = 3;
    assert_int_equal(ref_session_run(s, &in, &out, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "int32[4,3]"));

    in.dtype = CALMA_DT_FLOAT;
    in.nbytes = 20; /* too little data for 4x3 */
    assert_int_equal(ref_session_run(s, &in, &out, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "bytes"));

    /* the symbolic batch accepts any size */
    for (int i = 0; i < 12; i++) buf[i] = (float)i;
    in.nbytes = 48;
    assert_int_equal(ref_session_run(s, &in, &out, &e), CALMA_OK);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.dims[0], 3);
    assert_int_equal(out.dims[1], 4);
    const float *y = out.data;
    assert_true(y[1] == 3.0f && y[4] == 1.0f && y[11] == 11.0f);
    in.dims[0] = 2;
    in.nbytes = 24;
    assert_int_equal(ref_session_run(s, &in, &out, &e), CALMA_OK); /* out is freed first */
    assert_int_equal(out.dims[1], 2);
    ir_tensor_free(&out);
    ref_session_free(s);
    ir_graph_free(g);
}

static void test_infer_symbolic_batch(void **state) {
    (void)state;
    ir_graph *g = transpose_graph();
    calma_error e = {0};
    ir_tensor in = {.dtype = CALMA_DT_FLOAT, .rank = 2, .dims = {7, 3}};
    ir_tensor out;
    assert_int_equal(ref_infer_outputs(g, &in, &out, &e), CALMA_OK);
    assert_int_equal(out.dtype, CALMA_DT_FLOAT);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.dims[0], 3);
    assert_int_equal(out.dims[1], 7);
    assert_null(out.data);
    in.dims[0] = -1; /* unresolved */
    assert_int_not_equal(ref_infer_outputs(g, &in, &out, &e), CALMA_OK);
    assert_non_null(strstr(e.msg, "input 'x'"));
    ir_graph_free(g);
}

/* The PyTorch export of x.view(x.size(0), -1):
 * Shape -> Gather(0) -> Unsqueeze -> Concat([.., -1]) -> Reshape. */
static ir_graph *flatten_export_graph(void) {
    ir_graph *g = new_graph();
    int64_t din[] = {-1, 3, 4, 4}, dout[] = {-1, 48};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, din, S("batch", 0, 0, 0)), 0);
    int64_t zero = 0, minus1 = -1;
    ir_tensor idx = {0};
    assert_int_equal(ir_tensor_alloc(&idx, CALMA_DT_INT64, 0, NULL, NULL), CALMA_OK);
    *(int64_t *)idx.data = zero;
    assert_int_equal(ir_graph_add_initializer(g, "zero", &idx), 0);
    add_i64_init(g, "axes0", 1, &zero, 1);
    assert_non_null(ir_graph_add_node(g, "Shape", "Shape_0", 1, S("x"), 1, S("shape")));
    ir_node *ga = ir_graph_add_node(g, "Gather", "Gather_1", 2, S("shape", "zero"), 1, S("n"));
    assert_non_null(ga);
    ir_node_set_int(ga, "axis", 0);
    assert_non_null(
        ir_graph_add_node(g, "Unsqueeze", "Unsqueeze_2", 2, S("n", "axes0"), 1, S("n1")));
    ir_node *k = ir_graph_add_node(g, "Constant", "Constant_3", 0, NULL, 1, S("m1"));
    assert_non_null(k);
    ir_node_set_ints(k, "value_ints", &minus1, 1);
    ir_node *cat = ir_graph_add_node(g, "Concat", "Concat_4", 2, S("n1", "m1"), 1, S("newshape"));
    ir_node_set_int(cat, "axis", 0);
    assert_non_null(ir_graph_add_node(g, "Reshape", "Reshape_5", 2, S("x", "newshape"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dout, S("batch", 0)), 0);
    sorted(g);
    return g;
}

static void test_fold_pytorch_reshape(void **state) {
    (void)state;
    ir_graph *g = flatten_export_graph();
    calma_error e = {0};
    ir_tensor in = {.dtype = CALMA_DT_FLOAT, .rank = 4, .dims = {5, 3, 4, 4}};
    ir_tensor out;
    assert_int_equal(ref_infer_outputs(g, &in, &out, &e), CALMA_OK);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.dims[0], 5);
    assert_int_equal(out.dims[1], 48);

    /* and it runs, keeping the values in order */
    ref_session *s;
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    float x[2 * 48];
    for (int i = 0; i < 96; i++) x[i] = (float)i * 0.5f;
    ir_tensor xin = {
        .dtype = CALMA_DT_FLOAT, .rank = 4, .dims = {2, 3, 4, 4}, .data = x, .nbytes = sizeof x};
    ir_tensor y = {0};
    assert_int_equal(ref_session_run(s, &xin, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[0], 2);
    assert_int_equal(y.dims[1], 48);
    assert_memory_equal(y.data, x, sizeof x);
    ir_tensor_free(&y);
    ref_session_free(s);
    ir_graph_free(g);
}

static void test_infer_needs_value(void **state) {
    (void)state;
    ir_graph *g = new_graph();
    int64_t d[] = {6}, two[] = {2};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, d, NULL), 0);
    assert_int_equal(ir_graph_add_input(g, "shape", CALMA_DT_INT64, 1, two, NULL), 0);
    assert_non_null(ir_graph_add_node(g, "Reshape", "dyn_reshape", 2, S("x", "shape"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, -1, NULL, NULL), 0);
    sorted(g);
    calma_error e = {0};
    ir_tensor in[2] = {{.dtype = CALMA_DT_FLOAT, .rank = 1, .dims = {6}},
                       {.dtype = CALMA_DT_INT64, .rank = 1, .dims = {2}}};
    ir_tensor out;
    assert_int_not_equal(ref_infer_outputs(g, in, &out, &e), CALMA_OK);
    assert_non_null(strstr(e.msg, "node 'dyn_reshape' (Reshape)"));
    ir_graph_free(g);
}

/* A chain of 24 Transposes of a 1 MiB tensor: with each intermediate freed
 * after its reader, at most two are alive at once. */
static void test_frees_intermediates(void **state) {
    (void)state;
    ir_graph *g = new_graph();
    int64_t d[] = {512, 512};
    assert_int_equal(ir_graph_add_input(g, "v0", CALMA_DT_FLOAT, 2, d, NULL), 0);
    char a[16], b[16], n[16];
    for (int i = 0; i < 24; i++) {
        snprintf(a, sizeof a, "v%d", i);
        snprintf(b, sizeof b, "v%d", i + 1);
        snprintf(n, sizeof n, "t%d", i);
        assert_non_null(ir_graph_add_node(g, "Transpose", n, 1, S(a), 1, S(b)));
    }
    assert_int_equal(ir_graph_add_output(g, "v24", CALMA_DT_FLOAT, 2, d, NULL), 0);
    sorted(g);
    ref_session *s;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    ir_tensor x = {0}, y = {0};
    assert_int_equal(ir_tensor_alloc(&x, CALMA_DT_FLOAT, 2, d, &e), CALMA_OK);
    float *xv = x.data;
    for (int i = 0; i < 512 * 512; i++) xv[i] = (float)i;
    assert_int_equal(ref_session_run(s, &x, &y, &e), CALMA_OK);
    size_t one = 512 * 512 * sizeof(float);
    assert_true(ref_session_peak_bytes(s) >= one);
    assert_true(ref_session_peak_bytes(s) <= 2 * one);
    assert_memory_equal(y.data, x.data, one); /* an even number of transposes */
    ir_tensor_free(&x);
    ir_tensor_free(&y);
    ref_session_free(s);
    ir_graph_free(g);
}

static void test_kernel_error_named(void **state) {
    (void)state;
    ir_graph *g = new_graph();
    int64_t d[] = {4}, k[] = {2};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, d, NULL), 0);
    assert_int_equal(ir_graph_add_input(g, "i", CALMA_DT_INT64, 1, k, NULL), 0);
    assert_non_null(ir_graph_add_node(g, "Gather", "pick", 2, S("x", "i"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, k, NULL), 0);
    sorted(g);
    ref_session *s;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    float xv[4] = {1, 2, 3, 4};
    int64_t iv[2] = {-1, 9};
    ir_tensor in[2] = {{.dtype = CALMA_DT_FLOAT, .rank = 1, .dims = {4}, .data = xv, .nbytes = 16},
                       {.dtype = CALMA_DT_INT64, .rank = 1, .dims = {2}, .data = iv, .nbytes = 16}};
    ir_tensor y = {0};
    assert_int_equal(ref_session_run(s, in, &y, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "node 'pick' (Gather)"));
    assert_non_null(strstr(e.msg, "index 9"));
    assert_null(y.data);
    iv[1] = 0;
    assert_int_equal(ref_session_run(s, in, &y, &e), CALMA_OK);
    assert_true(((float *)y.data)[0] == 4.0f && ((float *)y.data)[1] == 1.0f);
    ir_tensor_free(&y);
    ref_session_free(s);
    ir_graph_free(g);
}

/* float16 in, float16 out, through the oracle's float32 interior. */
static void test_half_io(void **state) {
    (void)state;
    ir_graph *g = new_graph();
    int64_t d[] = {3};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT16, 1, d, NULL), 0);
    assert_non_null(ir_graph_add_node(g, "Identity", "id", 1, S("x"), 1, S("y")));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT16, 1, d, NULL), 0);
    sorted(g);
    ref_session *s;
    calma_error e = {0};
    assert_int_equal(ref_session_create(g, &s, &e), CALMA_OK);
    uint16_t xv[3] = {ir_float_to_half(1.5f), ir_float_to_half(-2.0f), 0x7c00};
    ir_tensor in = {.dtype = CALMA_DT_FLOAT16, .rank = 1, .dims = {3}, .data = xv, .nbytes = 6};
    ir_tensor y = {0};
    assert_int_equal(ref_session_run(s, &in, &y, &e), CALMA_OK);
    assert_int_equal(y.dtype, CALMA_DT_FLOAT16);
    assert_memory_equal(y.data, xv, sizeof xv);
    ir_tensor_free(&y);
    ir_tensor t;
    assert_int_equal(ref_infer_outputs(g, &in, &t, &e), CALMA_OK);
    assert_int_equal(t.dtype, CALMA_DT_FLOAT16);
    ref_session_free(s);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_opset_checked),
        cmocka_unit_test(test_wrong_input),
        cmocka_unit_test(test_infer_symbolic_batch),
        cmocka_unit_test(test_fold_pytorch_reshape),
        cmocka_unit_test(test_infer_needs_value),
        cmocka_unit_test(test_frees_intermediates),
        cmocka_unit_test(test_kernel_error_named),
        cmocka_unit_test(test_half_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
