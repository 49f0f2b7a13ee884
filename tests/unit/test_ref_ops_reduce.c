/* The oracle's reductions (ref_ops_reduce) against hand-computed values:
 * axes from attributes and inputs, keepdims, noop_with_empty_axes,
 * negative axes, every Reduce* kind, ArgMax/ArgMin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ref_ops_harness.h"

/* x = [[[1,2],[3,4]],[[5,6],[7,8]]] as [2,2,2] */
static const double X8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const int64_t D222[3] = {2, 2, 2};

static ht *reduce_attr(const char *op, const int64_t *axes, size_t n, int keep, int64_t opset) {
    ht *t = ht_new(op, 1, 1, opset);
    if (axes) ir_node_set_ints(t->node, "axes", axes, n);
    ir_node_set_int(t->node, "keepdims", keep);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, D222, X8);
    return t;
}

static void test_reduce_sum_axes(void **state) {
    (void)state;
    ht *t = reduce_attr("ReduceSum", (int64_t[]){1}, 1, 1, 11);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){2, 1, 2});
    ht_expect(t, 0, 4, (double[]){4, 6, 12, 14}, 0);
    ht_free(t);

    t = reduce_attr("ReduceSum", (int64_t[]){-1, 0}, 2, 0, 11);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2});
    ht_expect(t, 0, 2, (double[]){1 + 2 + 5 + 6, 3 + 4 + 7 + 8}, 0);
    ht_free(t);

    t = reduce_attr("ReduceSum", NULL, 0, 0, 11); /* no axes: everything */
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 0, NULL);
    ht_expect(t, 0, 1, (double[]){36}, 0);
    ht_free(t);

    /* opset 13: axes as input 1 */
    t = ht_new("ReduceSum", 2, 1, 13);
    ht_in(t, 0, CALMA_DT_INT64, 3, D222, X8);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT64, 3, (int64_t[]){2, 2, 1});
    ht_expect(t, 0, 4, (double[]){3, 7, 11, 15}, 0);
    ht_free(t);

    /* empty axes input with noop_with_empty_axes: the input unchanged */
    t = ht_new("ReduceSum", 2, 1, 13);
    ir_node_set_int(t->node, "noop_with_empty_axes", 1);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, D222, X8);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){0}, NULL);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 3, D222);
    ht_expect(t, 0, 8, X8, 0);
    ht_free(t);

    /* axes not known yet at inference time: ask for the value */
    t = ht_new("ReduceSum", 2, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, D222, X8);
    t->in[1].dtype = CALMA_DT_INT64;
    t->in[1].rank = 1;
    t->in[1].dims[0] = 1;
    assert_int_equal(ht_run(t), REF_NEED_VALUE);
    ht_free(t);

    t = reduce_attr("ReduceSum", (int64_t[]){3}, 1, 1, 11);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "axis 3"));
    ht_free(t);

    t = reduce_attr("ReduceMean", (int64_t[]){1, -2}, 2, 1, 11);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "twice"));
    ht_free(t);
}

static void test_reduce_kinds(void **state) {
    (void)state;
    const char *ops[] = {"ReduceMean",      "ReduceMax",    "ReduceMin",
                         "ReduceProd",      "ReduceL1",     "ReduceL2",
                         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"};
    /* reduce axis 0 of x: pairs (1,5) (2,6) (3,7) (4,8) */
    double want[9][4];
    for (int i = 0; i < 4; i++) {
        double a = X8[i], b = X8[i + 4];
        want[0][i] = (a + b) / 2;
        want[1][i] = b;
        want[2][i] = a;
        want[3][i] = a * b;
        want[4][i] = a + b;
        want[5][i] = sqrt(a * a + b * b);
        want[6][i] = a * a + b * b;
        want[7][i] = log(a + b);
        want[8][i] = log(exp(a) + exp(b));
    }
    for (int k = 0; k < 9; k++) {
        /* opset 18 moved axes to an input for all of them */
        ht *t = ht_new(ops[k], 2, 1, 18);
        ht_in(t, 0, CALMA_DT_FLOAT, 3, D222, X8);
        ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){0});
        ir_node_set_int(t->node, "keepdims", 0);
        assert_int_equal(ht_run(t), CALMA_OK);
        ht_shape(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2});
        ht_expect(t, 0, 4, want[k], 1e-6);
        ht_free(t);
    }
    /* LogSumExp stays finite where exp overflows */
    ht *t = ht_new("ReduceLogSumExp", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_DOUBLE, 1, (int64_t[]){2}, (double[]){1000, 1000});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){1000 + log(2.0)}, 1e-12);
    ht_free(t);

    /* mean of a float32 row accumulated in double */
    t = ht_new("ReduceMean", 1, 1, 13);
    int64_t n = 100000;
    ht_in(t, 0, CALMA_DT_FLOAT, 1, &n, NULL);
    for (int64_t i = 0; i < n; i++) ((float *)t->in[0].data)[i] = 0.1f;
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){(double)0.1f}, 1e-9);
    ht_free(t);

    /* int64 sums stay exact above 2^53 */
    t = ht_new("ReduceSum", 1, 1, 11);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){2}, NULL);
    ((int64_t *)t->in[0].data)[0] = ((int64_t)1 << 60) + 1;
    ((int64_t *)t->in[0].data)[1] = 1;
    assert_int_equal(ht_run(t), CALMA_OK);
    assert_true(((int64_t *)t->out[0].data)[0] == ((int64_t)1 << 60) + 2);
    ht_free(t);

    t = ht_new("ReduceProd", 1, 1, 11);
    ht_in(t, 0, CALMA_DT_UINT8, 2, (int64_t[]){2, 2}, (double[]){2, 3, 4, 5});
    ir_node_set_ints(t->node, "axes", (int64_t[]){0}, 1);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_UINT8, 2, (int64_t[]){1, 2});
    ht_expect(t, 0, 2, (double[]){8, 15}, 0);
    ht_free(t);

    t = ht_new("ReduceMax", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_INT32, 2, (int64_t[]){2, 3}, (double[]){-5, 9, 2, 4, -8, 1});
    ir_node_set_ints(t->node, "axes", (int64_t[]){1}, 1);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT32, 2, (int64_t[]){2, 1});
    ht_expect(t, 0, 2, (double[]){9, 4}, 0);
    ht_free(t);
}

static void test_argmax(void **state) {
    (void)state;
    double x[6] = {2, 7, 7, 1, 0, 1}; /* [2,3] */
    ht *t = ht_new("ArgMax", 1, 1, 13);
    ir_node_set_int(t->node, "axis", 1);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT64, 2, (int64_t[]){2, 1});
    ht_expect(t, 0, 2, (double[]){1, 0}, 0);
    ht_free(t);

    t = ht_new("ArgMax", 1, 1, 13);
    ir_node_set_int(t->node, "axis", -1);
    ir_node_set_int(t->node, "keepdims", 0);
    ir_node_set_int(t->node, "select_last_index", 1);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT64, 1, (int64_t[]){2});
    ht_expect(t, 0, 2, (double[]){2, 2}, 0);
    ht_free(t);

    t = ht_new("ArgMin", 1, 1, 13); /* default axis 0 */
    ht_in(t, 0, CALMA_DT_INT32, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT64, 2, (int64_t[]){1, 3});
    ht_expect(t, 0, 3, (double[]){1, 1, 1}, 0);
    ht_free(t);

    t = ht_new("ArgMin", 1, 1, 13);
    ir_node_set_int(t->node, "axis", 2);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "ArgMin"));
    ht_free(t);
}

static void test_cumsum(void **state) {
    (void)state;
    ht *t = ht_new("CumSum", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    ht_in(t, 1, CALMA_DT_INT32, 0, NULL, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){1, 3, 6, 4, 9, 15}, 0);
    ht_free(t);

    t = ht_new("CumSum", 2, 1, 14); /* axis 0, exclusive and reversed */
    ir_node_set_int(t->node, "exclusive", 1);
    ir_node_set_int(t->node, "reverse", 1);
    ht_in(t, 0, CALMA_DT_INT64, 2, (int64_t[]){3, 1}, (double[]){1, 2, 3});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){-2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){5, 3, 0}, 0);
    ht_free(t);

    t = ht_new("CumSum", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    ht_in(t, 1, CALMA_DT_INT64, 0, NULL, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "axis 1"));
    ht_free(t);
}

static void test_topk(void **state) {
    (void)state;
    ht *t = ht_new("TopK", 2, 2, 11);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 4}, (double[]){1, 4, 4, 2, 0, -1, 5, 3});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2});
    ht_expect(t, 0, 4, (double[]){4, 4, 5, 3}, 0);
    ht_expect(t, 1, 4, (double[]){1, 2, 2, 3}, 0); /* ties: lower index first */
    ht_free(t);

    t = ht_new("TopK", 2, 2, 11);
    ir_node_set_int(t->node, "largest", 0);
    ir_node_set_int(t->node, "axis", 0);
    ht_in(t, 0, CALMA_DT_INT64, 2, (int64_t[]){3, 1}, (double[]){7, -3, 5});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){-3}, 0);
    ht_expect(t, 1, 1, (double[]){1}, 0);
    ht_free(t);

    t = ht_new("TopK", 2, 2, 11);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){4});
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "K=4"));
    ht_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_sum_axes),
        cmocka_unit_test(test_reduce_kinds),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_cumsum),
        cmocka_unit_test(test_topk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
