/* Unit tests of the IR: tensors, dtypes, graph building and sorting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir/ir.h"

static void test_numel_overflow(void **state) {
    (void)state;
    calma_error e = {0};
    size_t n;
    int64_t ok[] = {2, 3, 4};
    assert_int_equal(ir_shape_numel(3, ok, &n, &e), CALMA_OK);
    assert_int_equal(n, 24);
    int64_t neg[] = {2, -1};
    assert_int_equal(ir_shape_numel(2, neg, &n, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "negative"));
    int64_t big[] = {INT64_MAX, INT64_MAX, 4};
    assert_int_equal(ir_shape_numel(3, big, &n, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "overflow"));
    ir_tensor t = {0};
    int64_t huge[] = {(int64_t)1 << 61, 4};
    assert_int_not_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 2, huge, &e), CALMA_OK);
    assert_null(t.data);
}

static void test_half_roundtrip(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads */
        float f = ir_half_to_float((uint16_t)h);
        assert_int_equal(ir_float_to_half(f), h);
    }
    assert_true(ir_half_to_float(ir_float_to_half(1.0f)) == 1.0f);
    assert_int_equal(ir_float_to_half(65520.0f), 0x7c00); /* rounds to inf */
}

static void test_sort_and_cycle(void **state) {
    (void)state;
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    int64_t dims[] = {-1, 4};
    const char *dp[] = {"N", NULL};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, dims, dp), 0);
    /* added out of order: b uses a's output */
    assert_non_null(
        ir_graph_add_node(g, "Relu", "b", 1, (const char *[]){"t"}, 1, (const char *[]){"y"}));
    assert_non_null(
        ir_graph_add_node(g, "Neg", "a", 1, (const char *[]){"x"}, 1, (const char *[]){"t"}));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dims, dp), 0);
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    assert_string_equal(g->nodes[0].name, "a");
    assert_string_equal(g->nodes[1].name, "b");
    ir_graph_set_batch(g, 8);
    assert_int_equal(g->values[g->inputs[0]].dims[0], 8);
    ir_graph_free(g);

    g = ir_graph_new();
    assert_non_null(ir_graph_add_node(g, "Relu", "p", 1, (const char *[]){"q_out"}, 1,
                                      (const char *[]){"p_out"}));
    assert_non_null(ir_graph_add_node(g, "Relu", "q", 1, (const char *[]){"p_out"}, 1,
                                      (const char *[]){"q_out"}));
    assert_int_equal(ir_graph_sort(g, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "cycle"));
    ir_graph_free(g);

    g = ir_graph_new();
    assert_non_null(ir_graph_add_node(g, "Relu", "r", 1, (const char *[]){"nowhere"}, 1,
                                      (const char *[]){"o"}));
    assert_int_equal(ir_graph_sort(g, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "nowhere"));
    ir_graph_free(g);
}

static void test_many_values(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(ir_graph_value(g, name), i);
    }
    assert_int_equal(ir_graph_find(g, "v4321"), 4321);
    assert_int_equal(ir_graph_find(g, "absent"), -1);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numel_overflow),
        cmocka_unit_test(test_half_roundtrip),
        cmocka_unit_test(test_sort_and_cycle),
        cmocka_unit_test(test_many_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
