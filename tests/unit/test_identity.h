/* The model the tests that run calma bench share: y = Identity(x), x
 * float32[N, 4]. The fault plugin's FAULT_OK (and FAULT_SLEEP) compute it
 * exactly, so their trials validate. Include after <cmocka.h>. */
#ifndef CALMA_TEST_IDENTITY_H
#define CALMA_TEST_IDENTITY_H

#include <stdio.h>

#include "ir/ir.h"
#include "onnx/onnx.h"

static inline void write_identity_model(const char *path) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    calma_error e = {0};
    int64_t dims[] = {-1, 4};
    const char *params[] = {"N", NULL};
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, dims, params), 0);
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dims, params), 0);
    assert_non_null(
        ir_graph_add_node(g, "Identity", "id", 1, (const char *[]){"x"}, 1, (const char *[]){"y"}));
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    if (onnx_save(g, path, &e)) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(e.status, CALMA_OK);
    ir_graph_free(g);
}

#endif
