/* The oracle's elementwise kernels (ref_ops_elementwise) against
 * hand-computed values: broadcasting, integer semantics, comparisons,
 * logic, unary math, Clip, Where, Cast, error messages, and speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "test_ref_ops_harness.h"

static void test_add_broadcast(void **state) {
    (void)state;
    /* [2,1,3] + [4,1] -> [2,4,3] */
    ht *t = ht_new("Add", 2, 1, 17);
    double a[6] = {1, 2, 3, 10, 20, 30}, b[4] = {100, 200, 300, 400};
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){2, 1, 3}, a);
    ht_in(t, 1, CALMA_DT_FLOAT, 2, (int64_t[]){4, 1}, b);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){2, 4, 3});
    double want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) want[(i * 4 + j) * 3 + k] = a[i * 3 + k] + b[j];
    ht_expect(t, 0, 24, want, 0);
    ht_free(t);

    /* scalar (rank 0) on the left, per-channel [1,2,1,1] on the right */
    t = ht_new("Sub", 2, 1, 17);
    ht_in(t, 0, CALMA_DT_DOUBLE, 0, NULL, (double[]){10});
    ht_in(t, 1, CALMA_DT_DOUBLE, 4, (int64_t[]){1, 2, 1, 2}, (double[]){1, 2, 3, 4});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_DOUBLE, 4, (int64_t[]){1, 2, 1, 2});
    ht_expect(t, 0, 4, (double[]){9, 8, 7, 6}, 0);
    ht_free(t);

    /* per-channel over rows: [2,3,2] * [3,1] */
    t = ht_new("Mul", 2, 1, 17);
    ht_in(t, 0, CALMA_DT_INT64, 3, (int64_t[]){2, 3, 2},
          (double[]){1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2});
    ht_in(t, 1, CALMA_DT_INT64, 2, (int64_t[]){3, 1}, (double[]){1, 10, 100});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 12, (double[]){1, 1, 10, 10, 100, 100, 2, 2, 20, 20, 200, 200}, 0);
    ht_free(t);

    /* empty broadcast dimension */
    t = ht_new("Add", 2, 1, 17);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){0, 3}, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){0, 3});
    ht_free(t);
}

/* The merged-dimension iteration against a naive per-element index walk,
 * over random shape pairs of rank 0..5 with dims 1..3 (fixed seed). */
static void test_broadcast_random(void **state) {
    (void)state;
    unsigned seed = 12345;
    for (int iter = 0; iter < 300; iter++) {
        int64_t da[5], db[5], dout[5];
        int ra = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 6;
        int rb = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 6;
        int r = ra > rb ? ra : rb;
        for (int d = 0; d < r; d++) {
            int64_t v = 1 + (int64_t)(((seed = seed * 1103515245u + 12345u) >> 16) % 3);
            dout[d] = v;
            int ia = d - (r - ra), ib = d - (r - rb);
            unsigned coin = (seed = seed * 1103515245u + 12345u) >> 16;
            if (ia >= 0) da[ia] = coin & 1 ? v : 1;
            if (ib >= 0) db[ib] = coin & 2 ? v : 1;
            dout[d] = (ia >= 0 && da[ia] > 1) || (ib >= 0 && db[ib] > 1) ? v : 1;
        }
        ht *t = ht_new("Sub", 2, 1, 14);
        ht_in(t, 0, CALMA_DT_INT32, ra, da, NULL);
        ht_in(t, 1, CALMA_DT_INT32, rb, db, NULL);
        for (size_t k = 0; k < ir_tensor_numel(&t->in[0]); k++)
            ((int32_t *)t->in[0].data)[k] = (int32_t)(k * 1000);
        for (size_t k = 0; k < ir_tensor_numel(&t->in[1]); k++)
            ((int32_t *)t->in[1].data)[k] = (int32_t)k;
        assert_int_equal(ht_run(t), CALMA_OK);
        ht_shape(t, 0, CALMA_DT_INT32, r, dout);
        size_t n = ir_tensor_numel(&t->out[0]);
        for (size_t o = 0; o < n; o++) {
            /* unravel o, then ravel into each input with size-1 dims pinned */
            size_t rem = o, ia = 0, ib = 0, sa = 1, sb = 1;
            for (int d = r - 1; d >= 0; d--) {
                size_t i = rem % (size_t)dout[d];
                rem /= (size_t)dout[d];
                int xa = d - (r - ra), xb = d - (r - rb);
                if (xa >= 0) {
                    ia += (da[xa] == 1 ? 0 : i) * sa;
                    sa *= (size_t)da[xa];
                }
                if (xb >= 0) {
                    ib += (db[xb] == 1 ? 0 : i) * sb;
                    sb *= (size_t)db[xb];
                }
            }
            int32_t want = (int32_t)(ia * 1000) - (int32_t)ib;
            if (((int32_t *)t->out[0].data)[o] != want) {
                char a[96], b[96];
                print_error("%s - %s element %zu: got %d want %d\n",
                            ir_tensor_desc(&t->in[0], a, sizeof a),
                            ir_tensor_desc(&t->in[1], b, sizeof b), o,
                            ((int32_t *)t->out[0].data)[o], want);
                fail();
            }
        }
        ht_free(t);
    }
}

static void test_integer_division_and_mod(void **state) {
    (void)state;
    double a[6] = {-7, 7, -7, 7, 5, INT32_MIN}, b[6] = {2, -2, 3, 3, 0, -1};
    ht *t = ht_new("Div", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_INT32, 1, (int64_t[]){6}, a);
    ht_in(t, 1, CALMA_DT_INT32, 1, (int64_t[]){6}, b);
    assert_int_equal(ht_run(t), CALMA_OK);
    /* C truncation; x/0 gives 0 instead of a trap; INT_MIN/-1 wraps */
    ht_expect(t, 0, 6, (double[]){-3, -3, -2, 2, 0, INT32_MIN}, 0);
    ht_free(t);

    t = ht_new("Mod", 2, 1, 13);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){6}, a);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){6}, b);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){1, -1, 2, 1, 0, 0}, 0); /* sign of the divisor */
    ht_free(t);

    t = ht_new("Mod", 2, 1, 13);
    ir_node_set_int(t->node, "fmod", 1);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){6}, a);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){6}, b);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){-1, 1, -1, 1, 0, 0}, 0); /* sign of the dividend */
    ht_free(t);

    t = ht_new("Mod", 2, 1, 13);
    ir_node_set_int(t->node, "fmod", 1);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){-4.5, 5.5});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){2, -2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 2, (double[]){-0.5, 1.5}, 0);
    ht_free(t);

    t = ht_new("Div", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_UINT8, 1, (int64_t[]){3}, (double[]){255, 7, 9});
    ht_in(t, 1, CALMA_DT_UINT8, 1, (int64_t[]){3}, (double[]){2, 0, 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){127, 0, 3}, 0);
    ht_free(t);

    /* signed overflow wraps rather than being undefined (UBSan would stop) */
    t = ht_new("Add", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_INT32, 1, (int64_t[]){1}, (double[]){INT32_MAX});
    ht_in(t, 1, CALMA_DT_INT32, 1, (int64_t[]){1}, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){INT32_MIN}, 0);
    ht_free(t);
}

static void test_pow(void **state) {
    (void)state;
    ht *t = ht_new("Pow", 2, 1, 15);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){2, 4, -2});
    ht_in(t, 1, CALMA_DT_FLOAT, 0, NULL, (double[]){0.5});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){sqrt(2.0), 2, NAN}, 1e-7);
    ht_free(t);

    t = ht_new("Pow", 2, 1, 15); /* float base, int64 exponent */
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1.5, 2, -3});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){2, -1, 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3});
    ht_expect(t, 0, 3, (double[]){2.25, 0.5, -27}, 0);
    ht_free(t);

    t = ht_new("Pow", 2, 1, 15); /* int base, float exponent: result is int */
    ht_in(t, 0, CALMA_DT_INT32, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT32, 1, (int64_t[]){3});
    ht_expect(t, 0, 3, (double[]){1, 4, 27}, 0);
    ht_free(t);

    t = ht_new("Pow", 2, 1, 15);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){3, -2, 5});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){3, 3, 0});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){27, -8, 1}, 0);
    ht_free(t);
}

static void test_compare_and_logic(void **state) {
    (void)state;
    const char *ops[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
    double want[5][3] = {{0, 1, 0}, {1, 0, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}};
    for (int k = 0; k < 5; k++) {
        ht *t = ht_new(ops[k], 2, 1, 16);
        ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
        ht_in(t, 1, CALMA_DT_INT64, 0, NULL, (double[]){2});
        assert_int_equal(ht_run(t), CALMA_OK);
        ht_shape(t, 0, CALMA_DT_BOOL, 1, (int64_t[]){3});
        ht_expect(t, 0, 3, want[k], 0);
        ht_free(t);
    }
    const char *lops[] = {"And", "Or", "Xor"};
    double lwant[3][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
    for (int k = 0; k < 3; k++) {
        ht *t = ht_new(lops[k], 2, 1, 7);
        ht_in(t, 0, CALMA_DT_BOOL, 2, (int64_t[]){2, 2}, (double[]){0, 0, 1, 1});
        ht_in(t, 1, CALMA_DT_BOOL, 2, (int64_t[]){2, 2}, (double[]){0, 1, 0, 1});
        assert_int_equal(ht_run(t), CALMA_OK);
        ht_expect(t, 0, 4, lwant[k], 0);
        ht_free(t);
    }
    ht *t = ht_new("Not", 1, 1, 1);
    ht_in(t, 0, CALMA_DT_BOOL, 1, (int64_t[]){2}, (double[]){0, 1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 2, (double[]){1, 0}, 0);
    ht_free(t);

    t = ht_new("And", 2, 1, 7); /* logic ops take only bool */
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){1}, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){1}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(t->err.msg, "And"));
    assert_non_null(strstr(t->err.msg, "float32"));
    ht_free(t);

    t = ht_new("BitShift", 2, 1, 11);
    ir_node_set_string(t->node, "direction", "RIGHT");
    ht_in(t, 0, CALMA_DT_UINT8, 1, (int64_t[]){3}, (double[]){16, 4, 1});
    ht_in(t, 1, CALMA_DT_UINT8, 1, (int64_t[]){3}, (double[]){1, 2, 9});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){8, 1, 0}, 0);
    ht_free(t);
}

static void test_variadic(void **state) {
    (void)state;
    const char *ops[] = {"Sum", "Mean", "Max", "Min"};
    double want[4][4] = {
        {111, 101, 16, 4}, {37, 101.0 / 3, 16.0 / 3, 4.0 / 3}, {100, 100, 10, 3}, {1, -1, 3, -1}};
    for (int k = 0; k < 4; k++) {
        ht *t = ht_new(ops[k], 3, 1, 13);
        ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 2});
        ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){10, -1});
        ht_in(t, 2, CALMA_DT_FLOAT, 2, (int64_t[]){2, 1}, (double[]){100, 3}); /* rows */
        assert_int_equal(ht_run(t), CALMA_OK);
        ht_shape(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2});
        ht_expect(t, 0, 4, want[k], 1e-6);
        ht_free(t);
    }
    ht *t = ht_new("Max", 1, 1, 13);
    ht_in(t, 0, CALMA_DT_INT32, 1, (int64_t[]){2}, (double[]){-5, 7});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 2, (double[]){-5, 7}, 0);
    ht_free(t);
}

static void test_where_and_prelu(void **state) {
    (void)state;
    ht *t = ht_new("Where", 3, 1, 16);
    ht_in(t, 0, CALMA_DT_BOOL, 2, (int64_t[]){2, 1}, (double[]){1, 0});
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    ht_in(t, 2, CALMA_DT_INT64, 0, NULL, (double[]){-9});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT64, 2, (int64_t[]){2, 3});
    ht_expect(t, 0, 6, (double[]){1, 2, 3, -9, -9, -9}, 0);
    ht_free(t);

    t = ht_new("PRelu", 2, 1, 16);
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){2, 1, 2}, (double[]){-1, 1, -2, 2});
    ht_in(t, 1, CALMA_DT_FLOAT, 3, (int64_t[]){2, 1, 1}, (double[]){0.5, 0.25});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-0.5, 1, -0.5, 2}, 0);
    ht_free(t);

    t = ht_new("PRelu", 2, 1, 6); /* opset 6: a [C] slope runs along channels */
    ht_in(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 3}, (double[]){-1, -1, -1, -1, -1, 1});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0.5, 0.25});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 3});
    ht_expect(t, 0, 6, (double[]){-0.5, -0.5, -0.5, -0.25, -0.25, 1}, 0);
    ht_free(t);

    t = ht_new("PRelu", 2, 1, 16); /* the slope may not grow X */
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    ht_free(t);
}

static void unary(const char *op, calma_dtype dt, int n, const double *x, const double *want,
                  double tol) {
    ht *t = ht_new(op, 1, 1, 18);
    ht_in(t, 0, dt, 1, (int64_t[]){n}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, (size_t)n, want, tol);
    ht_free(t);
}

static void test_unary(void **state) {
    (void)state;
    double x[5] = {-2, -0.5, 0, 0.5, 3};
    double w[5];
    unary("Relu", CALMA_DT_FLOAT, 5, x, (double[]){0, 0, 0, 0.5, 3}, 0);
    for (int i = 0; i < 5; i++) w[i] = 1 / (1 + exp(-x[i]));
    unary("Sigmoid", CALMA_DT_FLOAT, 5, x, w, 1e-7);
    for (int i = 0; i < 5; i++) w[i] = erf(x[i]);
    unary("Erf", CALMA_DT_DOUBLE, 5, x, w, 1e-15);
    for (int i = 0; i < 5; i++) w[i] = tanh(x[i]);
    unary("Tanh", CALMA_DT_FLOAT, 5, x, w, 1e-7);
    unary("Round", CALMA_DT_FLOAT, 5, (double[]){0.5, 1.5, 2.5, -0.5, -1.5},
          (double[]){0, 2, 2, -0.0, -2}, 0);
    unary("Sign", CALMA_DT_FLOAT, 3, (double[]){-3, 0, 2}, (double[]){-1, 0, 1}, 0);
    unary("Abs", CALMA_DT_INT8, 3, (double[]){-128, -3, 4}, (double[]){-128, 3, 4}, 0);
    unary("Neg", CALMA_DT_INT64, 2, (double[]){5, -7}, (double[]){-5, 7}, 0);
    unary("Sign", CALMA_DT_INT32, 3, (double[]){-9, 0, 9}, (double[]){-1, 0, 1}, 0);
    unary("HardSwish", CALMA_DT_FLOAT, 4, (double[]){-4, -1, 1, 4},
          (double[]){0, -1.0 / 3, 2.0 / 3, 4}, 1e-7);
    unary("Softplus", CALMA_DT_FLOAT, 3, (double[]){-1000, 0, 1000}, (double[]){0, log(2.0), 1000},
          1e-7);
    unary("Softsign", CALMA_DT_FLOAT, 2, (double[]){-1, 3}, (double[]){-0.5, 0.75}, 1e-7);
    unary("Reciprocal", CALMA_DT_FLOAT, 2, (double[]){4, -0.5}, (double[]){0.25, -2}, 0);
    unary("Floor", CALMA_DT_FLOAT, 2, (double[]){-1.5, 1.5}, (double[]){-2, 1}, 0);
    unary("Ceil", CALMA_DT_FLOAT, 2, (double[]){-1.5, 1.5}, (double[]){-1, 2}, 0);
    unary("IsNaN", CALMA_DT_FLOAT, 3, (double[]){NAN, 1, INFINITY}, (double[]){1, 0, 0}, 0);
    unary("IsInf", CALMA_DT_FLOAT, 3, (double[]){NAN, -INFINITY, INFINITY}, (double[]){0, 1, 1}, 0);
    unary("Gelu", CALMA_DT_FLOAT, 2, (double[]){0, 1}, (double[]){0, 0.8413447460685429}, 1e-7);

    ht *t = ht_new("LeakyRelu", 1, 1, 16);
    ir_node_set_float(t->node, "alpha", 0.1f);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){-10, 10});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 2, (double[]){-1, 10}, 1e-7);
    ht_free(t);

    t = ht_new("HardSigmoid", 1, 1, 6);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){-5, 0, 1}); /* defaults .2, .5 */
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){0, 0.5, 0.7}, 1e-7);
    ht_free(t);

    t = ht_new("Elu", 1, 1, 6);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){-1, 2});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 2, (double[]){exp(-1.0) - 1, 2}, 1e-7);
    ht_free(t);

    t = ht_new("Sqrt", 1, 1, 13); /* float-only op on an integer tensor */
    ht_in(t, 0, CALMA_DT_INT32, 1, (int64_t[]){1}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(t->err.msg, "Sqrt"));
    assert_non_null(strstr(t->err.msg, "int32"));
    ht_free(t);
}

static void test_clip(void **state) {
    (void)state;
    double x[4] = {-5, -1, 1, 5};
    ht *t = ht_new("Clip", 1, 1, 6); /* bounds as attributes */
    ir_node_set_float(t->node, "min", -2);
    ir_node_set_float(t->node, "max", 2);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){4}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-2, -1, 1, 2}, 0);
    ht_free(t);

    t = ht_new("Clip", 3, 1, 13); /* bounds as inputs, min omitted */
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){4}, x);
    ht_omit(t, 1);
    ht_in(t, 2, CALMA_DT_FLOAT, 0, NULL, (double[]){0});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-5, -1, 0, 0}, 0);
    ht_free(t);

    t = ht_new("Clip", 3, 1, 13); /* int8, min > max gives max */
    ht_in(t, 0, CALMA_DT_INT8, 1, (int64_t[]){4}, x);
    ht_in(t, 1, CALMA_DT_INT8, 0, NULL, (double[]){3});
    ht_in(t, 2, CALMA_DT_INT8, 0, NULL, (double[]){-3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 4, (double[]){-3, -3, -3, -3}, 0);
    ht_free(t);

    t = ht_new("Clip", 2, 1, 13); /* a bound that is not a scalar */
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){4}, x);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "scalar"));
    ht_free(t);
}

static void test_cast(void **state) {
    (void)state;
    ht *t = ht_new("Cast", 1, 1, 13);
    ir_node_set_int(t->node, "to", CALMA_DT_INT32);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){4}, (double[]){-1.7, 2.9, 1e20, NAN});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT32, 1, (int64_t[]){4});
    assert_int_equal(((int32_t *)t->out[0].data)[0], -1);
    assert_int_equal(((int32_t *)t->out[0].data)[1], 2);
    ht_free(t);

    t = ht_new("Cast", 1, 1, 13);
    ir_node_set_int(t->node, "to", CALMA_DT_BOOL);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){3}, (double[]){0, 256, -1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 3, (double[]){0, 1, 1}, 0);
    ht_free(t);

    t = ht_new("Cast", 1, 1, 13); /* int64 -> int32 stays exact for large values */
    ir_node_set_int(t->node, "to", CALMA_DT_INT64);
    ht_in(t, 0, CALMA_DT_INT64, 1, (int64_t[]){1}, NULL);
    ((int64_t *)t->in[0].data)[0] = ((int64_t)1 << 60) + 1;
    assert_int_equal(ht_run(t), CALMA_OK);
    assert_true(((int64_t *)t->out[0].data)[0] == ((int64_t)1 << 60) + 1);
    ht_free(t);

    /* to float16: held as float32 but rounded to half precision */
    t = ht_new("Cast", 1, 1, 13);
    ir_node_set_int(t->node, "to", CALMA_DT_FLOAT16);
    ht_in(t, 0, CALMA_DT_DOUBLE, 1, (int64_t[]){3}, (double[]){0.1, 65536, 1.0 / 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3});
    ht_expect(t, 0, 3, (double[]){0.0999755859375, INFINITY, 0.333251953125}, 0);
    ht_free(t);

    t = ht_new("Cast", 1, 1, 13);
    ir_node_set_int(t->node, "to", CALMA_DT_BFLOAT16);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){1}, (double[]){1.0 / 3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 1, (double[]){0.333984375}, 0);
    ht_free(t);

    t = ht_new("CastLike", 2, 1, 15);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){3.5, -2.5});
    ht_in(t, 1, CALMA_DT_UINT8, 1, (int64_t[]){1}, NULL);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_UINT8, 1, (int64_t[]){2});
    assert_int_equal(((uint8_t *)t->out[0].data)[0], 3);
    ht_free(t);

    t = ht_new("Cast", 1, 1, 13);
    ir_node_set_int(t->node, "to", CALMA_DT_STRING);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){1}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(t->err.msg, "string"));
    assert_non_null(strstr(t->err.msg, "Cast"));
    ht_free(t);
}

static void test_quantize(void **state) {
    (void)state;
    /* half to even, then saturation */
    ht *t = ht_new("QuantizeLinear", 3, 1, 13);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){5}, (double[]){1, 3, -2, 1000, -1000});
    ht_in(t, 1, CALMA_DT_FLOAT, 0, NULL, (double[]){2});
    ht_in(t, 2, CALMA_DT_INT8, 0, NULL, (double[]){1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_INT8, 1, (int64_t[]){5});
    ht_expect(t, 0, 5, (double[]){1, 3, 0, 127, -128}, 0);
    ht_free(t);

    /* per-axis dequantisation along axis 1 */
    t = ht_new("DequantizeLinear", 3, 1, 13);
    ht_in(t, 0, CALMA_DT_UINT8, 2, (int64_t[]){2, 2}, (double[]){10, 10, 20, 20});
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){0.5, 2});
    ht_in(t, 2, CALMA_DT_UINT8, 1, (int64_t[]){2}, (double[]){0, 10});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 2});
    ht_expect(t, 0, 4, (double[]){5, 0, 10, 20}, 0);
    ht_free(t);

    t = ht_new("DynamicQuantizeLinear", 1, 3, 11);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, (double[]){0, 2, -0.55});
    assert_int_equal(ht_run(t), CALMA_OK);
    float scale = 2.55f / 255.0f;
    ht_expect(t, 1, 1, (double[]){scale}, 1e-7);
    ht_expect(t, 2, 1, (double[]){55}, 0);
    ht_expect(t, 0, 3, (double[]){55, 255, 0}, 0);
    ht_free(t);
}

static void test_trilu(void **state) {
    (void)state;
    double x[6] = {1, 2, 3, 4, 5, 6}; /* [2,3] */
    ht *t = ht_new("Trilu", 1, 1, 14);
    ht_in(t, 0, CALMA_DT_INT64, 2, (int64_t[]){2, 3}, x);
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){1, 2, 3, 0, 5, 6}, 0);
    ht_free(t);

    t = ht_new("Trilu", 2, 1, 14);
    ir_node_set_int(t->node, "upper", 0);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, x);
    ht_in(t, 1, CALMA_DT_INT64, 0, NULL, (double[]){-1});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_expect(t, 0, 6, (double[]){0, 0, 0, 4, 0, 0}, 0);
    ht_free(t);
}

static void test_windows(void **state) {
    (void)state;
    ht *t = ht_new("HannWindow", 1, 1, 17); /* periodic: N = size */
    ht_in(t, 0, CALMA_DT_INT64, 0, NULL, (double[]){4});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){4});
    ht_expect(t, 0, 4, (double[]){0, 0.5, 1, 0.5}, 1e-7);
    ht_free(t);

    t = ht_new("BlackmanWindow", 1, 1, 17); /* symmetric: N = size - 1 */
    ir_node_set_int(t->node, "periodic", 0);
    ir_node_set_int(t->node, "output_datatype", CALMA_DT_DOUBLE);
    ht_in(t, 0, CALMA_DT_INT32, 0, NULL, (double[]){3});
    assert_int_equal(ht_run(t), CALMA_OK);
    ht_shape(t, 0, CALMA_DT_DOUBLE, 1, (int64_t[]){3});
    ht_expect(t, 0, 3, (double[]){0, 1, 0}, 1e-12);
    ht_free(t);
}

static void test_errors(void **state) {
    (void)state;
    ht *t = ht_new("Add", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 1, (int64_t[]){2}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "broadcast"));
    assert_non_null(strstr(t->err.msg, "float32[2,3]"));
    assert_non_null(strstr(t->err.msg, "'n'"));
    ht_free(t);

    t = ht_new("Mul", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, NULL);
    ht_in(t, 1, CALMA_DT_INT64, 1, (int64_t[]){2}, NULL);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "int64"));
    ht_free(t);

    t = ht_new("Add", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 1, (int64_t[]){2}, NULL);
    ht_omit(t, 1);
    assert_int_equal(ht_run(t), CALMA_E_INVALID);
    assert_non_null(strstr(t->err.msg, "missing"));
    ht_free(t);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A CNN-sized tensor must take milliseconds (the bound is loose for
 * sanitizer builds and a busy machine). */
static void test_speed(void **state) {
    (void)state;
    int64_t dims[4] = {1, 64, 112, 112};
    ht *t = ht_new("Add", 2, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 4, dims, NULL);
    ht_in(t, 1, CALMA_DT_FLOAT, 4, (int64_t[]){1, 64, 1, 1}, NULL);
    for (int c = 0; c < 64; c++) ((float *)t->in[1].data)[c] = (float)c;
    double t0 = now_s();
    assert_int_equal(ht_run(t), CALMA_OK);
    double add_ms = (now_s() - t0) * 1e3;
    assert_true(((float *)t->out[0].data)[5 * 112 * 112 + 7] == 5.0f);
    ht_free(t);

    t = ht_new("Sigmoid", 1, 1, 14);
    ht_in(t, 0, CALMA_DT_FLOAT, 4, dims, NULL);
    t0 = now_s();
    assert_int_equal(ht_run(t), CALMA_OK);
    double sig_ms = (now_s() - t0) * 1e3;
    ht_free(t);
    printf("# 1x64x112x112 float32: Add per-channel %.2f ms, Sigmoid %.2f ms\n", add_ms, sig_ms);
    assert_true(add_ms < 500 && sig_ms < 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_broadcast),
        cmocka_unit_test(test_broadcast_random),
        cmocka_unit_test(test_integer_division_and_mod),
        cmocka_unit_test(test_pow),
        cmocka_unit_test(test_compare_and_logic),
        cmocka_unit_test(test_variadic),
        cmocka_unit_test(test_where_and_prelu),
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_trilu),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
