/* Unit tests of the oracle's Gemm and MatMul: hand-computed products, a
 * naive triple loop over attribute combinations and broadcast batches, and
 * bad shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref/ref_op.h"

typedef struct lcase {
    ir_graph *g;
    ir_node *n;
    ir_tensor in[3];
    int n_in;
    ir_tensor y;
    calma_error e;
} lcase;

static lcase *lc_new(const char *op, int n_in) {
    lcase *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->g = ir_graph_new();
    const char *in[] = {"A", "B", "C"}, *out[] = {"Y"};
    l->n = ir_graph_add_node(l->g, op, "mm0", n_in, in, 1, out);
    assert_non_null(l->n);
    l->n_in = n_in;
    return l;
}

/* Sets input i to the given shape, filled with values (or i + 1 when NULL). */
static void lc_input(lcase *l, int i, calma_dtype dt, int rank, const int64_t *dims,
                     const double *v) {
    assert_int_equal(ir_tensor_alloc(&l->in[i], dt, rank, dims, &l->e), CALMA_OK);
    for (size_t k = 0; k < ir_tensor_numel(&l->in[i]); k++)
        ir_tensor_set_f64(&l->in[i], k, v ? v[k] : (double)(k + 1));
}

static void lc_free(lcase *l) {
    for (int i = 0; i < 3; i++) ir_tensor_free(&l->in[i]);
    ir_tensor_free(&l->y);
    ir_graph_free(l->g);
    free(l);
}

static const ref_op *find_op(const char *name) {
    for (const ref_op *o = ref_ops_linalg; o->op_type; o++)
        if (!strcmp(o->op_type, name)) return o;
    return NULL;
}

static int lc_run(lcase *l) {
    const ref_op *op = find_op(l->n->op_type);
    assert_non_null(op);
    const ir_tensor *in[3];
    for (int i = 0; i < 3; i++) in[i] = l->in[i].data || l->in[i].rank ? &l->in[i] : NULL;
    ref_call c = {l->n, 17, in, l->n_in, &l->y, 1, &l->e};
    int st = op->infer(&c);
    if (st) return st;
    st = ir_tensor_alloc(&l->y, l->y.dtype, l->y.rank, l->y.dims, &l->e);
    if (st) return st;
    return op->run(&c);
}

static void lc_ok(lcase *l) {
    int st = lc_run(l);
    if (st) fail_msg("%s failed: %s", l->n->op_type, l->e.msg);
}

static void expect(const ir_tensor *y, const double *want, size_t n) {
    assert_int_equal(ir_tensor_numel(y), n);
    for (size_t i = 0; i < n; i++) {
        double got = ir_tensor_get_f64(y, i);
        if (fabs(got - want[i]) > 1e-6 * (1 + fabs(want[i])))
            fail_msg("element %zu: got %.9g want %.9g", i, got, want[i]);
    }
}

static void expect_dims(const ir_tensor *y, int rank, const int64_t *dims) {
    assert_int_equal(y->rank, rank);
    for (int i = 0; i < rank; i++) assert_int_equal(y->dims[i], dims[i]);
}

/* ---- Gemm ---- */

static void test_gemm_hand(void **state) {
    (void)state;
    /* [1 2 3; 4 5 6] x [1 2; 3 4; 5 6] = [22 28; 49 64] */
    lcase *l = lc_new("Gemm", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    lc_ok(l);
    expect_dims(&l->y, 2, (int64_t[]){2, 2});
    expect(&l->y, (double[]){22, 28, 49, 64}, 4);
    lc_free(l);

    /* transA, transB, alpha 2, beta 0.5, C a row vector */
    l = lc_new("Gemm", 3);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, (double[]){1, 4, 2, 5, 3, 6});
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){1, 3, 5, 2, 4, 6});
    lc_input(l, 2, CALMA_DT_FLOAT, 1, (int64_t[]){2}, (double[]){10, 20});
    ir_node_set_int(l->n, "transA", 1);
    ir_node_set_int(l->n, "transB", 1);
    ir_node_set_float(l->n, "alpha", 2.0f);
    ir_node_set_float(l->n, "beta", 0.5f);
    lc_ok(l);
    expect(&l->y, (double[]){49, 66, 103, 138}, 4);
    lc_free(l);

    /* C as a column [M, 1] and as a scalar */
    l = lc_new("Gemm", 3);
    lc_input(l, 0, CALMA_DT_DOUBLE, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_DOUBLE, 2, (int64_t[]){3, 2}, NULL);
    lc_input(l, 2, CALMA_DT_DOUBLE, 2, (int64_t[]){2, 1}, (double[]){100, 200});
    lc_ok(l);
    assert_int_equal(l->y.dtype, CALMA_DT_DOUBLE);
    expect(&l->y, (double[]){122, 128, 249, 264}, 4);
    lc_free(l);
    l = lc_new("Gemm", 3);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    lc_input(l, 2, CALMA_DT_FLOAT, 0, NULL, (double[]){-1});
    lc_ok(l);
    expect(&l->y, (double[]){21, 27, 48, 63}, 4);
    lc_free(l);
}

/* Every transA/transB/C-shape combination against a triple loop. */
static void test_gemm_vs_naive(void **state) {
    (void)state;
    int64_t m = 5, k = 7, n = 6;
    unsigned seed = 3;
    for (int combo = 0; combo < 16; combo++) {
        int ta = combo & 1, tb = (combo >> 1) & 1, cshape = combo >> 2; /* 0 none .. 3 full */
        lcase *l = lc_new("Gemm", cshape ? 3 : 2);
        double a[35], b[42], cv[30];
        for (int i = 0; i < 35; i++)
            a[i] = (double)((seed = seed * 1103515245u + 12345u) >> 20) / 4096.0 - 0.5;
        for (int i = 0; i < 42; i++)
            b[i] = (double)((seed = seed * 1103515245u + 12345u) >> 20) / 4096.0 - 0.5;
        for (int i = 0; i < 30; i++)
            cv[i] = (double)((seed = seed * 1103515245u + 12345u) >> 20) / 4096.0;
        lc_input(l, 0, CALMA_DT_FLOAT, 2, ta ? (int64_t[]){k, m} : (int64_t[]){m, k}, a);
        lc_input(l, 1, CALMA_DT_FLOAT, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n}, b);
        if (cshape == 1) lc_input(l, 2, CALMA_DT_FLOAT, 1, (int64_t[]){1}, cv);
        if (cshape == 2) lc_input(l, 2, CALMA_DT_FLOAT, 2, (int64_t[]){m, 1}, cv);
        if (cshape == 3) lc_input(l, 2, CALMA_DT_FLOAT, 2, (int64_t[]){m, n}, cv);
        ir_node_set_int(l->n, "transA", ta);
        ir_node_set_int(l->n, "transB", tb);
        ir_node_set_float(l->n, "alpha", 0.75f);
        ir_node_set_float(l->n, "beta", -1.5f);
        lc_ok(l);
        expect_dims(&l->y, 2, (int64_t[]){m, n});
        const float *af = l->in[0].data, *bf = l->in[1].data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t q = 0; q < k; q++)
                    s += (double)af[ta ? q * m + i : i * k + q] * bf[tb ? j * k + q : q * n + j];
                s *= 0.75;
                if (cshape == 1) s += -1.5 * (float)cv[0];
                if (cshape == 2) s += -1.5 * (float)cv[i];
                if (cshape == 3) s += -1.5 * (float)cv[i * n + j];
                double got = ((float *)l->y.data)[i * n + j];
                if (fabs(got - s) > 1e-5 * (1 + fabs(s)))
                    fail_msg("combo %d at %lld,%lld: got %g want %g", combo, (long long)i,
                             (long long)j, got, s);
            }
        lc_free(l);
    }
}

/* ---- MatMul ---- */

static void test_matmul_shapes(void **state) {
    (void)state;
    /* 1-D x 2-D: [1 2 3] x [1 2; 3 4; 5 6] = [22 28], shape [2] */
    lcase *l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    lc_ok(l);
    expect_dims(&l->y, 1, (int64_t[]){2});
    expect(&l->y, (double[]){22, 28}, 2);
    lc_free(l);

    /* 2-D x 1-D, and 1-D x 1-D (a scalar, rank 0) */
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    lc_ok(l);
    expect_dims(&l->y, 1, (int64_t[]){2});
    expect(&l->y, (double[]){14, 32}, 2);
    lc_free(l);
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_DOUBLE, 1, (int64_t[]){3}, NULL);
    lc_input(l, 1, CALMA_DT_DOUBLE, 1, (int64_t[]){3}, NULL);
    lc_ok(l);
    assert_int_equal(l->y.rank, 0);
    expect(&l->y, (double[]){14}, 1);
    lc_free(l);

    /* batch broadcast: [2,1,3,4] x [5,4,2] -> [2,5,3,2] */
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 4, (int64_t[]){2, 1, 3, 4}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 3, (int64_t[]){5, 4, 2}, NULL);
    lc_ok(l);
    expect_dims(&l->y, 4, (int64_t[]){2, 5, 3, 2});
    const float *a = l->in[0].data, *b = l->in[1].data, *y = l->y.data;
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 5; q++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 2; j++) {
                    double s = 0;
                    for (int k = 0; k < 4; k++)
                        s += (double)a[(p * 3 + i) * 4 + k] * b[(q * 4 + k) * 2 + j];
                    assert_true(fabs(y[((p * 5 + q) * 3 + i) * 2 + j] - s) < 1e-3);
                }
    lc_free(l);

    /* integers: int64 exact beyond float's precision, int32 wraps */
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_INT64, 2, (int64_t[]){1, 2}, (double[]){4294967296.0, 1});
    lc_input(l, 1, CALMA_DT_INT64, 2, (int64_t[]){2, 1}, (double[]){1000003, 7});
    lc_ok(l);
    assert_int_equal(l->y.dtype, CALMA_DT_INT64);
    assert_int_equal(((int64_t *)l->y.data)[0], (int64_t)4294967296 * 1000003 + 7);
    lc_free(l);
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){1, -2, 3, 4});
    lc_input(l, 1, CALMA_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){5, 6, 7, 8});
    lc_ok(l);
    assert_int_equal(((int32_t *)l->y.data)[0], -9);
    assert_int_equal(((int32_t *)l->y.data)[3], 50);
    lc_free(l);

    /* empty K gives zeros */
    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 0}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){0, 3}, NULL);
    lc_ok(l);
    expect(&l->y, (double[]){0, 0, 0, 0, 0, 0}, 6);
    lc_free(l);
}

/* ---- errors ---- */

static void expect_fail(lcase *l, int status, const char *needle) {
    int st = lc_run(l);
    if (st != status) fail_msg("status %d, want %d (%s)", st, status, l->e.msg);
    if (!strstr(l->e.msg, needle)) fail_msg("message '%s' lacks '%s'", l->e.msg, needle);
    assert_non_null(strstr(l->e.msg, "mm0"));
    lc_free(l);
}

static void test_linalg_errors(void **state) {
    (void)state;
    lcase *l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){4, 2}, NULL);
    expect_fail(l, CALMA_E_INVALID, "inner dimensions");

    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 3, (int64_t[]){3, 2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 3, (int64_t[]){4, 3, 2}, NULL);
    expect_fail(l, CALMA_E_INVALID, "broadcast");

    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_DOUBLE, 2, (int64_t[]){3, 2}, NULL);
    expect_fail(l, CALMA_E_INVALID, "float64");

    l = lc_new("MatMul", 2);
    lc_input(l, 0, CALMA_DT_BOOL, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_BOOL, 2, (int64_t[]){3, 2}, NULL);
    expect_fail(l, CALMA_E_UNSUPPORTED, "bool");

    l = lc_new("Gemm", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    expect_fail(l, CALMA_E_INVALID, "2-D");

    l = lc_new("Gemm", 2);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    ir_node_set_int(l->n, "transB", 1);
    expect_fail(l, CALMA_E_INVALID, "inner dimensions");

    l = lc_new("Gemm", 3);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    lc_input(l, 1, CALMA_DT_FLOAT, 2, (int64_t[]){3, 2}, NULL);
    lc_input(l, 2, CALMA_DT_FLOAT, 1, (int64_t[]){3}, NULL);
    expect_fail(l, CALMA_E_INVALID, "broadcast");

    l = lc_new("Gemm", 1);
    lc_input(l, 0, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, NULL);
    expect_fail(l, CALMA_E_INVALID, "needs inputs");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_hand),
        cmocka_unit_test(test_gemm_vs_naive),
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_linalg_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
