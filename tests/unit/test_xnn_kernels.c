/* calma's kernels between XNNPACK islands, one by one, against plain
 * double-precision loops: the exp/erf/tanh approximations over their whole
 * range, strided views and the reshapes that need no copy, copies (rows,
 * tiled transposes, negative strides), element-wise broadcasting,
 * reductions, Softmax, LayerNormalization and the batched MatMul, each on
 * one thread and on a pool of two. Skipped where calma was built without
 * XNNPACK (the kernels are part of that backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CALMA_HAVE_XNNPACK
#include "backends/xnnpack/xnn_kernels.h"

static float *seq(size_t n, uint64_t seed) {
    float *p = malloc((n ? n : 1) * sizeof(float) + 16);
    assert_non_null(p);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (float)((double)(s >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
    }
    return p;
}

static void test_approximations(void **st) {
    (void)st;
    double worst_exp = 0, worst_erf = 0, worst_tanh = 0;
    for (int i = -800000; i <= 800000; i++) {
        float x = (float)i * 1e-4f; /* [-80, 80] */
        double e = exp((double)x);
        double re = fabs((double)xnnbe_expf(x) - e) / e;
        if (re > worst_exp) worst_exp = re;
        if (fabsf(x) <= 6) {
            double r = erf((double)x), got = xnnbe_erff(x);
            /* relative near 0, absolute where erf is near 1 */
            double err = fabs(got - r) / (fabs(r) > 1e-3 ? fmin(fabs(r), 1.0) : 1e-3);
            if (err > worst_erf) worst_erf = err;
        }
        if (fabsf(x) <= 10) {
            double r = tanh((double)x), got = xnnbe_tanhf(x);
            double err = fabs(got - r) / (fabs(r) > 1e-3 ? fmin(fabs(r), 1.0) : 1e-3);
            if (err > worst_tanh) worst_tanh = err;
        }
    }
    printf("  worst relative error: exp %.3g, erf %.3g, tanh %.3g\n", worst_exp, worst_erf,
           worst_tanh);
    assert_true(worst_exp < 1e-6);
    assert_true(worst_erf < 1e-6);
    assert_true(worst_tanh < 1e-6);
    assert_true(xnnbe_erff(0.0f) == 0.0f && xnnbe_erff(10.0f) == 1.0f);
    assert_true(xnnbe_tanhf(-30.0f) == -1.0f);
}

static void test_views_and_reshapes(void **st) {
    (void)st;
    /* an NHWC map [1, 6, 2, 3] split into 2 groups of 3 channels: free */
    xnnbe_view x, y, z;
    float buf[64];
    xnnbe_view_packed(&x, buf, 4, (int64_t[]){1, 6, 2, 3}, xnnbe_order_nhwc);
    assert_true(xnnbe_view_is_nhwc(&x) && !xnnbe_view_is_packed(&x, NULL) && xnnbe_view_dense(&x));
    assert_true(xnnbe_view_reshape(&x, 5, (int64_t[]){1, 2, 3, 2, 3}, &y));
    assert_int_equal(y.st[1], 3); /* groups next to each other inside a pixel */
    assert_int_equal(y.st[2], 1);
    assert_int_equal(y.st[3], 18);
    /* swapping the groups and merging them back needs a copy ... */
    xnnbe_view_transpose(&y, (int64_t[]){0, 2, 1, 3, 4}, &z);
    assert_false(xnnbe_view_reshape(&z, 4, (int64_t[]){1, 6, 2, 3}, &y));
    /* ... into an order that keeps the pixels outermost: the shuffle is one
     * pass and the result is NHWC again */
    int order[8];
    xnnbe_reshape_order(&z, 4, (int64_t[]){1, 6, 2, 3}, order);
    xnnbe_view p;
    xnnbe_view_packed(&p, buf, 5, z.dims, order);
    assert_true(xnnbe_view_reshape(&p, 4, (int64_t[]){1, 6, 2, 3}, &y));
    assert_true(xnnbe_view_is_nhwc(&y));
    /* flattening an NHWC map in logical order cannot be a view */
    assert_false(xnnbe_view_reshape(&x, 2, (int64_t[]){1, 36}, &y));
    /* size-1 axes never matter */
    xnnbe_view_packed(&x, buf, 3, (int64_t[]){4, 1, 5}, NULL);
    assert_true(xnnbe_view_reshape(&x, 4, (int64_t[]){1, 4, 5, 1}, &y));
    assert_true(xnnbe_view_is_packed(&y, NULL));
    /* broadcasting */
    assert_true(xnnbe_view_expand(&x, 4, (int64_t[]){2, 4, 3, 5}, &y));
    assert_int_equal(y.st[0], 0);
    assert_int_equal(y.st[2], 0);
    assert_false(xnnbe_view_expand(&x, 3, (int64_t[]){4, 2, 6}, &y));
}

/* dst[i] = src at the same logical index, by plain loops. */
static void naive_copy(const xnnbe_view *s, const xnnbe_view *d) {
    size_t n = xnnbe_view_numel(d);
    for (size_t i = 0; i < n; i++) {
        size_t r = i;
        int64_t so = 0, dof = 0;
        for (int k = d->rank - 1; k >= 0; k--) {
            int64_t idx = (int64_t)(r % (size_t)d->dims[k]);
            r /= (size_t)d->dims[k];
            so += idx * s->st[k];
            dof += idx * d->st[k];
        }
        d->data[dof] = s->data[so];
    }
}

static void check_copy(pthreadpool_t pool, const xnnbe_view *src, const int *dst_order) {
    xnnbe_view a, b;
    size_t n = xnnbe_view_numel(src);
    xnnbe_view_packed(&a, calloc(n + 4, sizeof(float)), src->rank, src->dims, dst_order);
    xnnbe_view_packed(&b, calloc(n + 4, sizeof(float)), src->rank, src->dims, dst_order);
    xnnbe_copy_args args;
    xnnbe_copy_prepare(&args, src, &a);
    xnnbe_k_copy(&args, pool);
    naive_copy(src, &b);
    assert_memory_equal(a.data, b.data, n * sizeof(float));
    free(a.data);
    free(b.data);
}

static void test_copies(void **st) {
    (void)st;
    pthreadpool_t pools[2] = {NULL, pthreadpool_create(2)};
    float *data = seq(200000, 1);
    for (int p = 0; p < 2; p++) {
        xnnbe_view v, t;
        /* NCHW -> NHWC, large enough for the pool and odd-sized tiles */
        xnnbe_view_packed(&v, data, 4, (int64_t[]){2, 37, 41, 43}, NULL);
        check_copy(pools[p], &v, xnnbe_order_nhwc);
        xnnbe_view_packed(&v, data, 4, (int64_t[]){1, 70, 30, 30}, xnnbe_order_nhwc);
        check_copy(pools[p], &v, NULL);
        /* a channel slice of an NHWC map, and one with a negative step */
        xnnbe_view_packed(&v, data, 4, (int64_t[]){1, 116, 28, 28}, xnnbe_order_nhwc);
        t = v;
        t.dims[1] = 58;
        t.data += 58;
        check_copy(pools[p], &t, xnnbe_order_nhwc);
        t = v;
        t.dims[1] = 40;
        t.data += 100;
        t.st[1] = -2;
        check_copy(pools[p], &t, NULL);
        /* a 5-D transpose (the channel shuffle) and a broadcast */
        xnnbe_view_packed(&v, data, 5, (int64_t[]){1, 2, 29, 14, 14}, NULL);
        xnnbe_view_transpose(&v, (int64_t[]){0, 2, 1, 3, 4}, &t);
        check_copy(pools[p], &t, NULL);
        xnnbe_view_packed(&v, data, 2, (int64_t[]){1, 300}, NULL);
        assert_true(xnnbe_view_expand(&v, 3, (int64_t[]){7, 9, 300}, &t));
        check_copy(pools[p], &t, NULL);
        /* a scalar */
        xnnbe_view_packed(&v, data, 0, NULL, NULL);
        check_copy(pools[p], &v, NULL);
    }
    free(data);
    pthreadpool_destroy(pools[1]);
}

static double naive_op(int op, double a, double b) {
    switch (op) {
    case XNNBE_ERF:
        return erf(a);
    case XNNBE_TANH:
        return tanh(a);
    case XNNBE_EXP:
        return exp(a);
    case XNNBE_SIGMOID:
        return 1 / (1 + exp(-a));
    case XNNBE_GELU:
        return 0.5 * a * (1 + erf(a / sqrt(2)));
    case XNNBE_SQUARE:
        return a * a;
    case XNNBE_RSQRT:
        return 1 / sqrt(a);
    case XNNBE_ADD:
        return a + b;
    case XNNBE_SUB:
        return a - b;
    case XNNBE_MUL:
        return a * b;
    case XNNBE_DIV:
        return a / b;
    case XNNBE_POW:
        return pow(a, b);
    case XNNBE_MAX:
        return a > b ? a : b;
    default:
        return a < b ? a : b;
    }
}

/* o = op(a, b) for a [4, 1, 300] and b [5, 300] (or its transpose as a
 * view) broadcast to [4, 5, 300]: rows, scalars and gathered operands. */
static void test_elementwise(void **st) {
    (void)st;
    static const int ops[] = {XNNBE_ERF,    XNNBE_TANH,  XNNBE_EXP, XNNBE_SIGMOID, XNNBE_GELU,
                              XNNBE_SQUARE, XNNBE_RSQRT, XNNBE_ADD, XNNBE_SUB,     XNNBE_MUL,
                              XNNBE_DIV,    XNNBE_POW,   XNNBE_MAX, XNNBE_MIN};
    pthreadpool_t pool = pthreadpool_create(2);
    float *a = seq(1200, 2), *b = seq(1500, 3), *bt = malloc(1500 * sizeof(float));
    for (int i = 0; i < 1200; i++) a[i] = a[i] * 2 + 2.5f; /* positive: pow, rsqrt */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 300; j++) bt[j * 5 + i] = b[i * 300 + j] += 1.5f;
    float *o = malloc(6000 * sizeof(float) + 16);
    int64_t od[3] = {4, 5, 300};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (int mode = 0; mode < 3; mode++) {
            xnnbe_view va, vb, ea, eb, vo;
            xnnbe_view_packed(&va, a, 3, (int64_t[]){4, 1, 300}, NULL);
            if (mode == 2) { /* b transposed: a gathered operand */
                xnnbe_view_packed(&vb, bt, 2, (int64_t[]){300, 5}, NULL);
                xnnbe_view_transpose(&vb, (int64_t[]){1, 0}, &vb);
            } else if (mode == 1) { /* b a scalar */
                xnnbe_view_packed(&vb, b, 0, NULL, NULL);
            } else {
                xnnbe_view_packed(&vb, b, 2, (int64_t[]){5, 300}, NULL);
            }
            assert_true(xnnbe_view_expand(&va, 3, od, &ea));
            assert_true(xnnbe_view_expand(&vb, 3, od, &eb));
            xnnbe_view_packed(&vo, o, 3, od, NULL);
            int unary = ops[k] < XNNBE_FIRST_BINARY;
            xnnbe_elt_args e;
            xnnbe_elt_prepare(&e, ops[k], 0, 0, &ea, unary ? NULL : &eb, &vo);
            xnnbe_k_elt(&e, mode ? pool : NULL);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 5; j++)
                    for (int c = 0; c < 300; c++) {
                        double x = a[i * 300 + c];
                        double y = mode == 1 ? b[0] : b[j * 300 + c];
                        double want = naive_op(ops[k], x, y);
                        double got = o[(i * 5 + j) * 300 + c];
                        if (fabs(got - want) > 1e-6 + 1e-6 * fabs(want))
                            fail_msg("op %d mode %d at (%d,%d,%d): %.9g, want %.9g", ops[k], mode,
                                     i, j, c, got, want);
                    }
        }
    free(a);
    free(b);
    free(bt);
    free(o);
    pthreadpool_destroy(pool);
}

static void test_reductions_softmax_layernorm(void **st) {
    (void)st;
    pthreadpool_t pool = pthreadpool_create(2);
    enum { O = 6, R = 1000, I = 7 };
    float *x = seq(O * R * I, 4), *d = malloc(O * R * I * sizeof(float));
    static const int ops[] = {XNNBE_RSUM, XNNBE_RMEAN, XNNBE_RMAX, XNNBE_RMIN, XNNBE_RL2};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t inner = 1; inner <= I; inner += I - 1) {
            xnnbe_reduce_args a = {ops[k], x, d, O, R, inner};
            xnnbe_k_reduce(&a, k % 2 ? pool : NULL);
            for (size_t o = 0; o < O; o++)
                for (size_t i = 0; i < inner; i++) {
                    double s = 0, m = x[o * R * inner + i], q = 0;
                    for (size_t r = 0; r < R; r++) {
                        double v = x[(o * R + r) * inner + i];
                        s += v;
                        q += v * v;
                        if (ops[k] == XNNBE_RMAX ? v > m : v < m) m = v;
                    }
                    double want = ops[k] == XNNBE_RSUM    ? s
                                  : ops[k] == XNNBE_RMEAN ? s / R
                                  : ops[k] == XNNBE_RL2   ? sqrt(q)
                                                          : m;
                    if (fabs(d[o * inner + i] - want) > 1e-4 * (1 + fabs(want)))
                        fail_msg("reduce %d inner %zu: %g, want %g", ops[k], inner,
                                 d[o * inner + i], want);
                }
        }
    /* Softmax and LogSoftmax over rows of 333 */
    for (int lg = 0; lg < 2; lg++) {
        xnnbe_softmax_args a = {x, d, 20, 333, lg};
        xnnbe_k_softmax(&a, lg ? pool : NULL);
        for (int r = 0; r < 20; r++) {
            double m = -1e30, s = 0;
            for (int i = 0; i < 333; i++) m = fmax(m, x[r * 333 + i]);
            for (int i = 0; i < 333; i++) s += exp(x[r * 333 + i] - m);
            for (int i = 0; i < 333; i++) {
                double want = lg ? x[r * 333 + i] - m - log(s) : exp(x[r * 333 + i] - m) / s;
                assert_true(fabs(d[r * 333 + i] - want) < 1e-6 + 1e-5 * fabs(want));
            }
        }
    }
    /* LayerNormalization over rows of 100 */
    float *g = seq(100, 5), *b = seq(100, 6);
    xnnbe_layernorm_args l = {x, g, b, d, 50, 100, 1e-5f};
    xnnbe_k_layernorm(&l, pool);
    for (int r = 0; r < 50; r++) {
        double mean = 0, var = 0;
        for (int i = 0; i < 100; i++) mean += x[r * 100 + i];
        mean /= 100;
        for (int i = 0; i < 100; i++) var += (x[r * 100 + i] - mean) * (x[r * 100 + i] - mean);
        var /= 100;
        for (int i = 0; i < 100; i++) {
            double want = (x[r * 100 + i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
            assert_true(fabs(d[r * 100 + i] - want) < 1e-5);
        }
    }
    free(g);
    free(b);
    free(x);
    free(d);
    pthreadpool_destroy(pool);
}

/* [3] batches of (M x K) (K x N) with B read transposed and a broadcast A,
 * sizes off the kernel's tile (MR 4, NR 16). */
static void test_matmul(void **st) {
    (void)st;
    pthreadpool_t pool = pthreadpool_create(2);
    const size_t nb = 3, M = 37, K = 29, N = 45;
    float *a = seq(M * K, 7), *b = seq(nb * N * K, 8), *o = malloc(nb * M * N * sizeof(float));
    int64_t aoff[3] = {0, 0, 0}, boff[3] = {0, (int64_t)(N * K), (int64_t)(2 * N * K)};
    size_t np = (N + XNNBE_NR - 1) / XNNBE_NR;
    float *panels = malloc(nb * K * np * XNNBE_NR * sizeof(float));
    for (int p = 0; p < 2; p++) {
        /* b stored [nb][N][K]: read as K x N through strides */
        xnnbe_matmul_args m = {nb,   M,    N,          K, a, b,          o,
                               aoff, boff, (int64_t)K, 1, 1, (int64_t)K, panels};
        xnnbe_k_matmul(&m, p ? pool : NULL);
        for (size_t bi = 0; bi < nb; bi++)
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                    double s = 0;
                    for (size_t k = 0; k < K; k++)
                        s += (double)a[i * K + k] * b[bi * N * K + j * K + k];
                    assert_true(fabs(o[(bi * M + i) * N + j] - s) < 1e-5);
                }
    }
    free(a);
    free(b);
    free(o);
    free(panels);
    pthreadpool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_approximations),
        cmocka_unit_test(test_views_and_reshapes),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_reductions_softmax_layernorm),
        cmocka_unit_test(test_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_built_without_xnnpack(void **st) {
    (void)st;
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_built_without_xnnpack)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
