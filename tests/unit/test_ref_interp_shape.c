/* Edge cases of the shape and resize ops (ref_shape.c, ref_resize.c) that
 * the ONNX suite does not reach: old opset forms, extreme values, bad
 * attributes that must fail cleanly rather than crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir/ir.h"
#include "ref/ref.h"

/* One node whose inputs are all constants "i0", "i1", ...; output "y". */
typedef struct one {
    ir_graph *g;
    ir_node *n;
    int n_in;
} one;

static one one_new(const char *op, int64_t opset, int n_in, int n_out) {
    one o = {ir_graph_new(), NULL, n_in};
    assert_non_null(o.g);
    ir_graph_set_opset(o.g, "", opset);
    const char *in[8], *out[8];
    static const char *const in_names[] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};
    static const char *const out_names[] = {"y", "y1", "y2", "y3", "y4", "y5", "y6", "y7"};
    for (int i = 0; i < n_in; i++) in[i] = in_names[i];
    for (int i = 0; i < n_out; i++) out[i] = out_names[i];
    o.n = ir_graph_add_node(o.g, op, "node0", n_in, in, n_out, out);
    assert_non_null(o.n);
    for (int i = 0; i < n_out; i++)
        assert_int_equal(ir_graph_add_output(o.g, out_names[i], 0, -1, NULL, NULL), 0);
    return o;
}

static void one_input(one *o, int i, calma_dtype dt, int rank, const int64_t *dims,
                      const void *data) {
    static const char *const names[] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};
    ir_tensor t = {0};
    assert_int_equal(ir_tensor_alloc(&t, dt, rank, dims, NULL), CALMA_OK);
    if (data) memcpy(t.data, data, t.nbytes);
    assert_int_equal(ir_graph_add_initializer(o->g, names[i], &t), 0);
}

static void one_i64(one *o, int i, int n, const int64_t *v) {
    int64_t d = n;
    one_input(o, i, CALMA_DT_INT64, 1, &d, v);
}

/* Runs the node; returns the status, output k in *y (owned). */
static int one_run(one *o, ir_tensor *y, int n_out, calma_error *e) {
    assert_int_equal(ir_graph_sort(o->g, e), CALMA_OK);
    ref_session *s;
    int rc = ref_session_create(o->g, &s, e);
    if (rc) return rc;
    memset(y, 0, sizeof *y * (size_t)n_out);
    rc = ref_session_run(s, NULL, y, e);
    ref_session_free(s);
    return rc;
}

static void one_free(one *o) {
    ir_graph_free(o->g);
}

static const float iota12[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static void test_slice_extremes(void **state) {
    (void)state;
    int64_t d[] = {3, 4};
    one o = one_new("Slice", 13, 5, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
    int64_t starts[] = {INT64_MAX, -1}, ends[] = {INT64_MIN, INT64_MIN}, axes[] = {0, -1},
            steps[] = {-2, INT64_MIN};
    one_i64(&o, 1, 2, starts);
    one_i64(&o, 2, 2, ends);
    one_i64(&o, 3, 2, axes);
    one_i64(&o, 4, 2, steps);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    /* rows 2, 0; one element from the last column */
    assert_int_equal(y.rank, 2);
    assert_int_equal(y.dims[0], 2);
    assert_int_equal(y.dims[1], 1);
    assert_true(((float *)y.data)[0] == 11.0f && ((float *)y.data)[1] == 3.0f);
    ir_tensor_free(&y);
    one_free(&o);

    o = one_new("Slice", 13, 5, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
    int64_t zero_step[] = {0};
    one_i64(&o, 1, 1, starts);
    one_i64(&o, 2, 1, ends);
    one_i64(&o, 3, 1, axes);
    one_i64(&o, 4, 1, zero_step);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "node 'node0' (Slice)"));
    assert_non_null(strstr(e.msg, "step"));
    one_free(&o);
}

static void test_slice_opset1(void **state) {
    (void)state;
    int64_t d[] = {3, 4};
    one o = one_new("Slice", 9, 1, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
    int64_t s[] = {1}, en[] = {100}, ax[] = {1};
    ir_node_set_ints(o.n, "starts", s, 1);
    ir_node_set_ints(o.n, "ends", en, 1);
    ir_node_set_ints(o.n, "axes", ax, 1);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    assert_int_equal(y.dims[0], 3);
    assert_int_equal(y.dims[1], 3);
    assert_true(((float *)y.data)[3] == 5.0f);
    ir_tensor_free(&y);
    one_free(&o);
}

static void test_reshape_errors(void **state) {
    (void)state;
    int64_t d[] = {3, 4};
    struct {
        int n;
        int64_t shape[3];
        int allowzero;
        const char *msg;
    } cases[] = {
        {2, {-1, -1}, 0, "more than one -1"}, {2, {5, -1}, 0, "cannot reshape 12"},
        {2, {INT64_MAX, 4}, 0, "overflow"},   {2, {0, 0}, 1, "cannot reshape 12"},
        {3, {0, 0, 0}, 0, "rank 2"},          {2, {-2, 6}, 0, "shape[0] is -2"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        one o = one_new("Reshape", 14, 2, 1);
        one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
        one_i64(&o, 1, cases[k].n, cases[k].shape);
        ir_node_set_int(o.n, "allowzero", cases[k].allowzero);
        ir_tensor y;
        calma_error e = {0};
        assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
        if (!strstr(e.msg, cases[k].msg)) fail_msg("case %zu: %s", k, e.msg);
        one_free(&o);
    }
}

static void test_pad_modes(void **state) {
    (void)state;
    int64_t d[] = {1, 3};
    float x[] = {1, 2, 3};
    struct {
        const char *mode;
        float want[7];
    } cases[] = {
        {"constant", {9, 9, 1, 2, 3, 9, 9}},
        {"reflect", {3, 2, 1, 2, 3, 2, 1}},
        {"edge", {1, 1, 1, 2, 3, 3, 3}},
    };
    for (size_t k = 0; k < 3; k++) {
        one o = one_new("Pad", 13, 3, 1);
        one_input(&o, 0, CALMA_DT_FLOAT, 2, d, x);
        int64_t pads[] = {0, 2, 0, 2};
        one_i64(&o, 1, 4, pads);
        float nine = 9;
        one_input(&o, 2, CALMA_DT_FLOAT, 0, NULL, &nine);
        ir_node_set_string(o.n, "mode", cases[k].mode);
        ir_tensor y;
        calma_error e = {0};
        assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
        assert_int_equal(y.dims[1], 7);
        assert_memory_equal(y.data, cases[k].want, sizeof cases[k].want);
        ir_tensor_free(&y);
        one_free(&o);
    }
    /* opset 2 attribute form with negative (cropping) pads */
    one o = one_new("Pad", 2, 1, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, x);
    int64_t pads[] = {0, -1, 0, 1};
    ir_node_set_ints(o.n, "pads", pads, 4);
    ir_node_set_float(o.n, "value", 7.0f);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    float want[] = {2, 3, 7};
    assert_memory_equal(y.data, want, sizeof want);
    ir_tensor_free(&y);
    one_free(&o);
}

static void test_split_num_outputs(void **state) {
    (void)state;
    int64_t d[] = {7};
    one o = one_new("Split", 18, 1, 3);
    one_input(&o, 0, CALMA_DT_FLOAT, 1, d, iota12);
    ir_node_set_int(o.n, "num_outputs", 3);
    ir_tensor y[3];
    calma_error e = {0};
    assert_int_equal(one_run(&o, y, 3, &e), CALMA_OK);
    assert_int_equal(y[0].dims[0], 3);
    assert_int_equal(y[1].dims[0], 3);
    assert_int_equal(y[2].dims[0], 1);
    assert_true(((float *)y[2].data)[0] == 6.0f);
    for (int i = 0; i < 3; i++) ir_tensor_free(&y[i]);
    one_free(&o);
}

static void test_squeeze_forms(void **state) {
    (void)state;
    int64_t d[] = {1, 3, 1};
    one o = one_new("Squeeze", 11, 1, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 3, d, iota12);
    int64_t ax[] = {-1};
    ir_node_set_ints(o.n, "axes", ax, 1);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    assert_int_equal(y.rank, 2);
    assert_int_equal(y.dims[0], 1);
    ir_tensor_free(&y);
    one_free(&o);

    o = one_new("Squeeze", 13, 2, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 3, d, iota12);
    int64_t bad[] = {1};
    one_i64(&o, 1, 1, bad);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "size 3"));
    one_free(&o);

    o = one_new("Unsqueeze", 13, 2, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 3, d, iota12);
    int64_t ua[] = {0, 4};
    one_i64(&o, 1, 2, ua);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    assert_int_equal(y.rank, 5);
    assert_int_equal(y.dims[0], 1);
    assert_int_equal(y.dims[2], 3);
    assert_int_equal(y.dims[4], 1);
    ir_tensor_free(&y);
    one_free(&o);
}

static void test_shape_start_end(void **state) {
    (void)state;
    int64_t d[] = {2, 3, 4, 5};
    one o = one_new("Shape", 15, 1, 1);
    one_input(&o, 0, CALMA_DT_UINT8, 4, d, NULL);
    ir_node_set_int(o.n, "start", -3);
    ir_node_set_int(o.n, "end", 100);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    int64_t want[] = {3, 4, 5};
    assert_int_equal(y.dims[0], 3);
    assert_memory_equal(y.data, want, sizeof want);
    ir_tensor_free(&y);
    one_free(&o);
}

static void test_resize_nearest_and_errors(void **state) {
    (void)state;
    int64_t d[] = {1, 1, 2, 2};
    float x[] = {1, 2, 3, 4};
    one o = one_new("Resize", 13, 3, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 4, d, x);
    one_input(&o, 1, CALMA_DT_FLOAT, 1, (int64_t[]){0}, NULL);
    float sc[] = {1, 1, 2, 1.5f};
    one_input(&o, 2, CALMA_DT_FLOAT, 1, (int64_t[]){4}, sc);
    ir_node_set_string(o.n, "coordinate_transformation_mode", "asymmetric");
    ir_node_set_string(o.n, "nearest_mode", "floor");
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    assert_int_equal(y.dims[2], 4);
    assert_int_equal(y.dims[3], 3);
    float want[] = {1, 1, 2, 1, 1, 2, 3, 3, 4, 3, 3, 4};
    assert_memory_equal(y.data, want, sizeof want);
    ir_tensor_free(&y);
    one_free(&o);

    o = one_new("Resize", 13, 3, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 4, d, x);
    one_input(&o, 1, CALMA_DT_FLOAT, 1, (int64_t[]){0}, NULL);
    one_input(&o, 2, CALMA_DT_FLOAT, 1, (int64_t[]){4}, sc);
    ir_node_set_string(o.n, "mode", "lanczos");
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "lanczos"));
    one_free(&o);

    o = one_new("Resize", 13, 3, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 4, d, x);
    one_input(&o, 1, CALMA_DT_FLOAT, 1, (int64_t[]){0}, NULL);
    float neg[] = {1, 1, -2, 1};
    one_input(&o, 2, CALMA_DT_FLOAT, 1, (int64_t[]){4}, neg);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "scales[2]"));
    one_free(&o);
}

static void test_tile_expand_range(void **state) {
    (void)state;
    int64_t d[] = {2, 1};
    float x[] = {1, 2};
    one o = one_new("Expand", 13, 2, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, x);
    int64_t shp[] = {2, 1, 3};
    one_i64(&o, 1, 3, shp);
    ir_tensor y;
    calma_error e = {0};
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    assert_int_equal(y.rank, 3);
    float want[] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2};
    assert_memory_equal(y.data, want, sizeof want);
    ir_tensor_free(&y);
    one_free(&o);

    o = one_new("Tile", 13, 2, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, x);
    int64_t reps[] = {INT64_MAX, 2};
    one_i64(&o, 1, 2, reps);
    assert_int_not_equal(one_run(&o, &y, 1, &e), CALMA_OK);
    one_free(&o);

    o = one_new("Range", 13, 3, 1);
    int64_t a = 10, b = -INT64_MAX, step = -1;
    one_input(&o, 0, CALMA_DT_INT64, 0, NULL, &a);
    one_input(&o, 1, CALMA_DT_INT64, 0, NULL, &b);
    one_input(&o, 2, CALMA_DT_INT64, 0, NULL, &step);
    assert_int_not_equal(one_run(&o, &y, 1, &e), CALMA_OK); /* far too large: a clean error */
    one_free(&o);
}

static void test_index_ops_reject_bad_input(void **state) {
    (void)state;
    int64_t d[] = {3, 4};
    ir_tensor y;
    calma_error e = {0};
    /* GatherND with an index past the end */
    one o = one_new("GatherND", 13, 2, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
    int64_t id2[] = {2, 1};
    int64_t bad[] = {1, 7, 0, 0};
    one_input(&o, 1, CALMA_DT_INT64, 2, id2, bad);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "node 'node0' (GatherND)"));
    one_free(&o);
    /* ScatterElements with a negative index too far */
    o = one_new("ScatterElements", 16, 3, 1);
    one_input(&o, 0, CALMA_DT_FLOAT, 2, d, iota12);
    int64_t id11[] = {1, 1}, neg[] = {-9};
    one_input(&o, 1, CALMA_DT_INT64, 2, id11, neg);
    one_input(&o, 2, CALMA_DT_FLOAT, 2, id11, iota12);
    ir_node_set_string(o.n, "reduction", "add");
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "index -9"));
    one_free(&o);
    /* OneHot with an absurd depth */
    o = one_new("OneHot", 11, 3, 1);
    int64_t iv[] = {0, 1};
    one_i64(&o, 0, 2, iv);
    float depth = 1e30f, vals[] = {0, 1};
    one_input(&o, 1, CALMA_DT_FLOAT, 0, NULL, &depth);
    one_input(&o, 2, CALMA_DT_FLOAT, 1, (int64_t[]){2}, vals);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "depth"));
    one_free(&o);
    /* DepthToSpace whose channels do not divide */
    o = one_new("DepthToSpace", 13, 1, 1);
    int64_t d4[] = {1, 3, 2, 2};
    one_input(&o, 0, CALMA_DT_FLOAT, 4, d4, iota12);
    ir_node_set_int(o.n, "blocksize", 2);
    assert_int_equal(one_run(&o, &y, 1, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "blocksize"));
    one_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_extremes),    cmocka_unit_test(test_slice_opset1),
        cmocka_unit_test(test_reshape_errors),    cmocka_unit_test(test_pad_modes),
        cmocka_unit_test(test_split_num_outputs), cmocka_unit_test(test_squeeze_forms),
        cmocka_unit_test(test_shape_start_end),   cmocka_unit_test(test_resize_nearest_and_errors),
        cmocka_unit_test(test_tile_expand_range), cmocka_unit_test(test_index_ops_reject_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
