/* The oracle's normalisations and softmax family (ref_ops_norm) against
 * hand-computed values, including the opset-dependent axis rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ref_ops_harness.h"

static void test_softmax_axes(void **state) {
    (void)state;
    double x[6] = {1, 2, 3, 0, 0, 1000}; /* [2,3] */
    ht *t = ht_new("Softmax", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    double s = exp(1.0) + exp(2.0) + exp(3.0);
    ht_expect(t, 0, 6, (double[]){exp(1.0) / s, exp(2.0) / s, exp(3.0) / s, 0, 0, 1}, 1e-7);
    ht_free(t);

    t = ht_new("LogSoftmax", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){1 - log(s), 2 - log(s), 3 - log(s), -1000, -1000, 0}, 1e-6);
    ht_free(t);

    /* [2,2] along axis 0 (opset 13: that axis alone) */
    t = ht_new("Softmax", 1, 1, 13);
    ir_node_set_int(t->node, "axis", 0);
    ht_in(t, 0, CALMA_DT_DOUBLE, 2, (int64_t[]){2, 2}, (double[]){0, 1, 0, 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    double a = 1 / (1 + exp(2.0));
    ht_expect(t, 0, 4, (double[]){0.5, a, 0.5, 1 - a}, 1e-12);
    ht_free(t);

    /* opset 11, [1,2,2], default axis 1: the 2x2 is one row of four */
    t = ht_new("Softmax", 1, 1, 11);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 2}, (double[]){0, 0, 0, 0});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){0.25, 0.25, 0.25, 0.25}, 1e-7);
    ht_free(t);

    t = ht_new("Hardmax", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){3, 1, 3, 0, 5, 2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){1, 0, 0, 0, 1, 0}, 0);
    ht_free(t);

    t = ht_new("Softmax", 1, 1, 13);
    ir_node_set_int(t->node, "axis", 2);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "axis 2"));
    ht_free(t);

    t = ht_new("Softmax", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_INT32, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_E_UNSUPPORTED);
    ht_free(t);
}

static void test_batchnorm(void **state) {
    (void)state;
    /* X [1,2,2]: channel 0 = {1,3}, channel 1 = {2,6} */
    double x[4] = {1, 3, 2, 6};
    ht *t = ht_new("BatchNormalization", 5, 1, 15);
    ir_node_set_float(t->node, "epsilon", 0);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 2}, x);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1, 2});  /* scale */
    ht_in(t, 2, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0, 10}); /* B */
    ht_in(t, 3, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1, 4});  /* mean */
    ht_in(t, 4, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){4, 16}); /* var */
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){0, 1, 10 - 1, 10 + 1}, 1e-7);
    ht_free(t);

    /* training mode: batch statistics and updated running ones */
    t = ht_new("BatchNormalization", 5, 3, 15);
    ir_node_set_int(t->node, "training_mode", 1);
    ir_node_set_float(t->node, "epsilon", 0);
    ir_node_set_float(t->node, "momentum", 0.5f);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 2}, x);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1, 1});
    ht_in(t, 2, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0, 0});
    ht_in(t, 3, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0, 0});
    ht_in(t, 4, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1, 1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-1, 1, -1, 1}, 1e-7);
    ht_expect(t, 1, 2, (double[]){1, 2}, 1e-7);   /* 0*.5 + mean*.5 */
    ht_expect(t, 2, 2, (double[]){1, 2.5}, 1e-7); /* 1*.5 + var*.5 */
    ht_free(t);

    t = ht_new("BatchNormalization", 5, 1, 15);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 2}, x);
    for (int k = 1; k < 5; k++) ht_in(t, k, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "2 channels"));
    ht_free(t);
}

static void test_layernorm(void **state) {
    (void)state;
    ht *t = ht_new("LayerNormalization", 3, 3, 17);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){1, 3, 10, 10});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){2, 3});
    ht_in(t, 2, CALMA_DT_FLOAT, 0, NULL, (double[]){0.5}); /* B broadcast */
    ir_node_set_float(t->node, "epsilon", 1e-5f);
    assert_int_equal(ht_run(t), CALMA_OK);
    double inv = 1 / sqrt(1 + (double)1e-5f);
    ht_expect(t, 0, 4, (double[]){-2 * inv + 0.5, 3 * inv + 0.5, 0.5, 0.5}, 1e-6);
    ht_shape(t, 1, CALMA_DT_FLOAT, 2, (int64_t[]){2, 1});
    ht_expect(t, 1, 2, (double[]){2, 10}, 0);
    ht_expect(t, 2, 2, (double[]){inv, 1 / sqrt((double)1e-5f)}, 1e-5);
    ht_free(t);

    t = ht_new("LayerNormalization", 2, 1, 17);
    ir_node_set_int(t->node, "axis", 0);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2}, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    ht_free(t);
}

static void test_instance_lp_mvn(void **state) {
    (void)state;
    ht *t = ht_new("InstanceNormalization", 3, 1, 6); /* default epsilon 1e-5 */
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 2}, (double[]){1, 3, 5, 5});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){2, 2});
    ht_in(t, 2, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0, 7});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-2, 2, 7, 7}, 1e-5);
    ht_free(t);

    t = ht_new("LpNormalization", 1, 1, 1);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){3, 4, 0, 0});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){0.6, 0.8, 0, 0}, 1e-7);
    ht_free(t);

    t = ht_new("MeanVarianceNormalization", 1, 1, 13);
    ir_node_set_ints(t->node, "axes", (int64_t[]){1}, 1);
    ht_in(t, 0, CALMA_DT_DOUBLE, 2, (int64_t[]){2, 2}, (double[]){1, 3, 2, 2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-1 / (1 + 1e-9), 1 / (1 + 1e-9), 0, 0}, 1e-12);
    ht_free(t);
}

static void test_lrn(void **state) {
    (void)state;
    /* size 3 over 2 channels at one pixel: both windows hold both channels */
    ht *t = ht_new("LRN", 1, 1, 13);
    ir_node_set_int(t->node, "size", 3);
    ir_node_set_float(t->node, "alpha", 0.3f);
    ht_in(t, 0, CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, 1, 1}, (double[]){1, 2});
    assert_int_equal(ht_run(t), CALMA_OK);
    double den = pow(1 + (double)0.3f / 3 * 5, 0.75);
    ht_expect(t, 0, 2, (double[]){1 / den, 2 / den}, 1e-6);
    ht_free(t);
}

static void test_losses(void **state) {
    (void)state;
    /* scores [2,3] (already log-probabilities for NLL), targets {2, 0} */
    double x[6] = {-1, -2, -3, -4, -5, -6};
    ht *t = ht_new("NegativeLogLikelihoodLoss", 2, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){2}, (double[]){2, 0});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 0, NULL);
    ht_expect(t, 0, 1, (double[]){(3 + 4) / 2.0}, 1e-7);
    ht_free(t);

    /* weights and an ignored target: mean over the weights that count */
    t = ht_new("NegativeLogLikelihoodLoss", 3, 1, 13);
    ir_node_set_int(t->node, "ignore_index", 0);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    ht_in(t, 1, CALMA_DT_INT32, 1, (int64_t[]){2}, (double[]){2, 0});
    ht_in(t, 2, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, 1, 0.5});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){3 * 0.5 / 0.5}, 1e-7);
    ht_free(t);

    t = ht_new("NegativeLogLikelihoodLoss", 2, 1, 13);
    ir_node_set_string(t->node, "reduction", "none");
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){2}, (double[]){1, 7}); /* 7: no such class */
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "target 7"));
    ht_free(t);

    /* softmax cross entropy with the log_prob output */
    t = ht_new("SoftmaxCrossEntropyLoss", 2, 2, 13);
    ir_node_set_string(t->node, "reduction", "sum");
    ht_in(t, 0, CALMA_DT_DOUBLE, 2, (int64_t[]){1, 2}, (double[]){0, 0});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){1}, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){log(2.0)}, 1e-12);
    ht_expect(t, 1, 2, (double[]){-log(2.0), -log(2.0)}, 1e-12);
    ht_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_axes), cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_layernorm),    cmocka_unit_test(test_instance_lp_mvn),
        cmocka_unit_test(test_lrn),          cmocka_unit_test(test_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
