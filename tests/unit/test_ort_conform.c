/* ONNX test-suite cases through ORT_CPU with the conformance runner, and
 * the output-shape helper it relies on (conform_output_types): shapes that
 * only the inputs' values decide come from the oracle. ORT cases are
 * skipped when the library is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backends.h"
#include "conform/conform.h"
#include "conform/conform_backend.h"
#include "onnx/onnx.h"
#include "ref/ref.h"

#define NODE_DIR CONFORM_DATA_ROOT "/node/"

static const calma_conversion *ort_cpu(void) {
    for (const calma_conversion *c = ortbe_conversions; c->name; c++)
        if (!strcmp(c->name, "ORT_CPU")) return c;
    return NULL;
}

static void need_dir(const char *dir) {
    if (access(dir, R_OK) != 0) skip();
}

/* Reshape whose target shape is a graph input: static inference cannot
 * know the output's shape, the helper can. */
static void test_shape_from_values(void **state) {
    (void)state;
    const char *dir = NODE_DIR "test_reshape_reordered_all_dims";
    need_dir(dir);
    calma_error e = {0};
    ir_graph *g = NULL;
    ir_tensor in[2] = {0}, out[1] = {0}, want = {0};
    assert_int_equal(onnx_load(NODE_DIR "test_reshape_reordered_all_dims/model.onnx", &g, &e), 0);
    assert_int_equal(g->n_inputs, 2);
    assert_int_equal(onnx_load_tensor(NODE_DIR
                                      "test_reshape_reordered_all_dims/test_data_set_0/input_0.pb",
                                      &in[0], NULL, &e),
                     0);
    assert_int_equal(onnx_load_tensor(NODE_DIR
                                      "test_reshape_reordered_all_dims/test_data_set_0/input_1.pb",
                                      &in[1], NULL, &e),
                     0);
    assert_int_equal(onnx_load_tensor(NODE_DIR
                                      "test_reshape_reordered_all_dims/test_data_set_0/output_0.pb",
                                      &want, NULL, &e),
                     0);
    assert_int_equal(conform_output_types(g, in, out, &e), CALMA_OK);
    assert_int_equal(out[0].dtype, want.dtype);
    assert_int_equal(out[0].rank, want.rank);
    for (int d = 0; d < want.rank; d++) assert_int_equal(out[0].dims[d], want.dims[d]);
    assert_null(out[0].data);
    ir_tensor_free(&in[0]);
    ir_tensor_free(&in[1]);
    ir_tensor_free(&want);
    ir_graph_free(g);
}

/* When neither inference nor the oracle can say, the inference's message
 * is kept (it names the node). */
static void test_shape_failure_keeps_message(void **state) {
    (void)state;
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    int64_t dims[] = {4};
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, dims, NULL), 0);
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, dims, NULL), 0);
    const char *i[] = {"x"}, *o[] = {"y"};
    assert_non_null(ir_graph_add_node(g, "Frobnicate", "frob0", 1, i, 1, o));
    ir_tensor x = {0}, out[1] = {0};
    assert_int_equal(ir_tensor_alloc(&x, CALMA_DT_FLOAT, 1, dims, &e), 0);
    assert_int_not_equal(conform_output_types(g, &x, out, &e), CALMA_OK);
    assert_int_not_equal(e.status, CALMA_OK);
    assert_non_null(strstr(e.msg, "Frobnicate"));
    ir_tensor_free(&x);
    ir_graph_free(g);
}

static void expect_case(const conform_runner *r, const char *name, conform_status want) {
    char dir[512];
    snprintf(dir, sizeof dir, NODE_DIR "%s", name);
    need_dir(dir);
    conform_result res;
    conform_status got = conform_run_case(r, dir, &res);
    if (got != want)
        fail_msg("%s: %s, expected %s: %s", name, conform_status_name(got),
                 conform_status_name(want), res.detail);
}

static void test_ort_cases(void **state) {
    (void)state;
    const calma_conversion *c = ort_cpu();
    assert_non_null(c);
    calma_error e = {0};
    if (c->backend->probe(c, &e) != CALMA_OK) skip();
    conform_runner r;
    conform_backend_runner(c, &r);
    expect_case(&r, "test_reshape_reordered_all_dims", CONFORM_PASS); /* shape from values */
    expect_case(&r, "test_slice_neg_steps", CONFORM_PASS);
    expect_case(&r, "test_conv_with_strides_padding", CONFORM_PASS);
    expect_case(&r, "test_cast_FLOAT_to_FLOAT16", CONFORM_PASS);
    expect_case(&r, "test_split_equal_parts_2d", CONFORM_PASS); /* several outputs */
    /* ORT has no int16 Max kernel: unsupported, with ORT's words. */
    char dir[] = NODE_DIR "test_max_int16";
    need_dir(dir);
    conform_result res;
    assert_int_equal(conform_run_case(&r, dir, &res), CONFORM_UNSUPPORTED);
    assert_non_null(strstr(res.detail, "Could not find an implementation"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_from_values),
        cmocka_unit_test(test_shape_failure_keeps_message),
        cmocka_unit_test(test_ort_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
