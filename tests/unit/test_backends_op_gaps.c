/* opgap_find: the ops a backend cannot run, gathered into one message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backends/op_gaps.h"

/* Every op whose name is not "Relu" is lacking. */
static int not_relu(const ir_graph *g, int i, void *arg) {
    (void)arg;
    return strcmp(g->nodes[i].op_type, "Relu") != 0;
}

static ir_graph *chain(const char *const *ops, int n) {
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    char in[16], out[16];
    for (int i = 0; i < n; i++) {
        snprintf(in, sizeof in, "v%d", i);
        snprintf(out, sizeof out, "v%d", i + 1);
        const char *ins[] = {in}, *outs[] = {out};
        assert_non_null(ir_graph_add_node(g, ops[i], out, 1, ins, 1, outs));
    }
    return g;
}

static void test_each_op_once_first_named_alone(void **st) {
    (void)st;
    /* MatMul then Mul: a name inside another is still its own op. */
    const char *ops[] = {"Relu", "Slice", "MatMul", "Relu", "Slice", "Mul", "MatMul", "Erf"};
    ir_graph *g = chain(ops, 8);
    char others[64];
    assert_int_equal(opgap_find(g, not_relu, NULL, others, sizeof others), 1);
    assert_string_equal(others, "MatMul, Mul, Erf");
    ir_graph_free(g);
}

static void test_none_lacking(void **st) {
    (void)st;
    const char *ops[] = {"Relu", "Relu"};
    ir_graph *g = chain(ops, 2);
    char others[8] = "junk";
    assert_int_equal(opgap_find(g, not_relu, NULL, others, sizeof others), -1);
    assert_string_equal(others, "");
    ir_graph_free(g);
}

static void test_list_stops_where_it_would_not_fit(void **st) {
    (void)st;
    const char *ops[] = {"Slice", "MatMul", "Erf", "Where"};
    ir_graph *g = chain(ops, 4);
    char others[13];
    assert_int_equal(opgap_find(g, not_relu, NULL, others, sizeof others), 0);
    assert_string_equal(others, "MatMul, Erf");
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_op_once_first_named_alone),
        cmocka_unit_test(test_none_lacking),
        cmocka_unit_test(test_list_stops_where_it_would_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
