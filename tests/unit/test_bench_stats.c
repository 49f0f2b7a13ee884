/* Statistics and validation against known values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/stats.h"
#include "bench/validate.h"

static void test_percentiles(void **state) {
    (void)state;
    double s[10];
    for (int i = 0; i < 10; i++) s[i] = i + 1;
    assert_true(fabs(stats_percentile(s, 10, 50) - 5.5) < 1e-12);
    assert_true(fabs(stats_percentile(s, 10, 90) - 9.1) < 1e-12);
    assert_true(fabs(stats_percentile(s, 10, 0) - 1) < 1e-12);
    assert_true(fabs(stats_percentile(s, 10, 100) - 10) < 1e-12);
    stats_summary m;
    double shuffled[] = {7, 3, 10, 1, 5, 9, 2, 8, 4, 6};
    assert_int_equal(stats_summarize(shuffled, 10, &m), 0);
    assert_true(m.min == 1 && m.max == 10);
    assert_true(fabs(m.mean - 5.5) < 1e-12);
    assert_true(fabs(m.median - 5.5) < 1e-12);
    assert_true(fabs(m.stddev - sqrt(55.0 / 6.0)) < 1e-12); /* sample stddev of 1..10 */
    assert_true(fabs(m.p99 - 9.91) < 1e-12);
}

static void test_median_interval_ranks(void **state) {
    (void)state;
    size_t lo, hi;
    /* binomial tables: n=10 -> 2nd and 9th; n=100 -> 40th and 61st (1-based) */
    stats_median_ci_ranks(10, 0.95, &lo, &hi);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 8);
    stats_median_ci_ranks(100, 0.95, &lo, &hi);
    assert_int_equal(lo, 39);
    assert_int_equal(hi, 60);
    stats_median_ci_ranks(5, 0.95, &lo, &hi); /* cannot reach 95%: whole range */
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 4);
    /* the large-n approximation agrees with the exact sum where both apply */
    stats_median_ci_ranks(100000, 0.95, &lo, &hi);
    assert_true(lo > 49600 && lo < 49700);
    assert_int_equal(hi, 100000 - 1 - lo);
}

/* Order-statistic intervals of a quantile, from binomial(n, q) (the values
 * checked against exact rational arithmetic), the same as the median's for
 * q = 1/2, and absent for the p99 below 368 samples. */
static void test_quantile_interval_ranks(void **state) {
    (void)state;
    size_t lo, hi;
    assert_int_equal(stats_quantile_ci_ranks(1000, 0.99, 0.95, &lo, &hi), 1);
    assert_int_equal(lo, 982);
    assert_int_equal(hi, 996);
    assert_int_equal(stats_quantile_ci_ranks(368, 0.99, 0.95, &lo, &hi), 1);
    assert_int_equal(lo, 359);
    assert_int_equal(hi, 367);
    assert_int_equal(stats_quantile_ci_ranks(367, 0.99, 0.95, &lo, &hi), 0);
    assert_int_equal(lo, 358);
    assert_int_equal(hi, 366); /* the top sample: no upper bound */
    assert_int_equal(stats_quantile_ci_ranks(100, 0.9, 0.95, &lo, &hi), 1);
    assert_int_equal(lo, 83);
    assert_int_equal(hi, 95);
    for (size_t n = 6; n < 400; n++) {
        size_t ml, mh;
        stats_median_ci_ranks(n, 0.95, &ml, &mh);
        stats_quantile_ci_ranks(n, 0.5, 0.95, &lo, &hi);
        assert_int_equal(lo, ml);
        assert_int_equal(hi, mh);
    }
    /* the normal approximation above 100000 lands within a rank or two */
    assert_int_equal(stats_quantile_ci_ranks(200000, 0.99, 0.95, &lo, &hi), 1);
    assert_true(lo >= 197900 && lo <= 197920 && hi >= 198080 && hi <= 198100);
}

static void test_mad_outliers(void **state) {
    (void)state;
    double s[20];
    for (int i = 0; i < 20; i++) s[i] = 1.0 + 0.01 * (i % 5);
    s[7] = 5.0; /* two clear outliers */
    s[13] = 9.0;
    stats_summary m;
    stats_summarize(s, 20, &m);
    assert_int_equal(m.outliers, 2);
    assert_true(m.mad > 0 && m.mad < 0.03);
}

/* xorshift for reproducible synthetic latency streams */
static double uniform(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (double)(*x >> 11) / 9007199254740992.0;
}

static size_t run_rule(const stats_rule *r, double (*draw)(uint64_t *), double per_sample,
                       stats_stop *why, double *median) {
    static double s[200000];
    uint64_t x = 88172645463325252ull;
    double elapsed = 0;
    size_t n = 0;
    *why = STATS_GO_ON;
    while (n < 200000) {
        s[n++] = draw(&x);
        elapsed += per_sample;
        *why = stats_check(r, s, n, elapsed);
        if (*why != STATS_GO_ON) break;
    }
    stats_summary m;
    stats_summarize(s, n, &m);
    *median = m.median;
    return n;
}

static double quiet(uint64_t *x) {
    return 1e-3 * (1.0 + 0.002 * uniform(x));
}
static double heavy(uint64_t *x) { /* Pareto tail: mean barely exists, median 1e-3 * 2^(1/1.5) */
    return 1e-3 * pow(1.0 - uniform(x), -1.0 / 1.5);
}
static double wild(uint64_t *x) {
    return 1e-3 * (1.0 + 10.0 * uniform(x));
}

static void test_stopping_rule(void **state) {
    (void)state;
    stats_rule r = stats_default_rule();
    r.min_time = 0.01;
    r.max_time = 1.0;
    stats_stop why;
    double med;
    size_t n = run_rule(&r, quiet, 1e-3, &why, &med);
    assert_int_equal(why, STATS_STOP_PRECISION);
    assert_true(n >= r.min_samples && n < 200);

    /* heavy tail: the mean is useless but the median is still pinned down;
     * 5% needs about 2,700 samples here (1.96 / (sqrt(n) f(m) m) <= 0.05) */
    stats_rule h = r;
    h.precision = 0.05;
    h.max_time = 100.0;
    n = run_rule(&h, heavy, 1e-3, &why, &med);
    assert_int_equal(why, STATS_STOP_PRECISION);
    assert_true(n > 1000 && n < 10000);
    assert_true(fabs(med / (1e-3 * pow(2.0, 1.0 / 1.5)) - 1.0) < 0.02);

    r.max_time = 0.05; /* wide noise cannot reach 1% in 50 samples: stops on time */
    n = run_rule(&r, wild, 1e-3, &why, &med);
    assert_int_equal(why, STATS_STOP_TIME);
    assert_int_equal(n, 50);

    stats_rule fixed = {0};
    fixed.fixed = 37;
    n = run_rule(&fixed, wild, 1e-3, &why, &med);
    assert_int_equal(why, STATS_STOP_FIXED);
    assert_int_equal(n, 37);
}

static void test_warm(void **state) {
    (void)state;
    double s[40];
    for (int i = 0; i < 40; i++) s[i] = i < 20 ? 2.0 - i * 0.05 : 1.0;
    assert_false(stats_warm(s, 20, 5, 0.02));
    assert_true(stats_warm(s, 40, 5, 0.02));
    assert_false(stats_warm(s, 9, 5, 0.02)); /* not enough samples for two windows */
}

static void make(ir_tensor *t, const float *v, int n) {
    int64_t d[1] = {n};
    calma_error e;
    assert_int_equal(ir_tensor_alloc(t, CALMA_DT_FLOAT, 1, d, &e), CALMA_OK);
    memcpy(t->data, v, sizeof(float) * (size_t)n);
}

static void test_validate(void **state) {
    (void)state;
    float ref[] = {1.0f, -2.0f, 0.5f, 100.0f};
    float nan[] = {1.0f, NAN, 0.5f, 100.0f};
    float bumped[] = {1.0f, -2.0f, 0.5f, 100.5f}; /* 0.5% off at index 3 */
    ir_tensor a = {0}, b = {0}, c = {0};
    make(&a, ref, 4);
    make(&b, nan, 4);
    make(&c, bumped, 4);
    validate_result r;
    calma_error e;
    validate_tol tol = validate_default_tol(CALMA_DT_FLOAT);
    assert_int_equal(validate_compare(&a, &a, tol, &r, &e), CALMA_OK);
    assert_true(r.pass);
    assert_true(fabs(r.cosine - 1.0) < 1e-12);
    validate_compare(&a, &b, tol, &r, &e);
    assert_false(r.pass);
    assert_int_equal(r.nonfinite, 1);
    assert_int_equal(r.worst_index, 1);
    validate_compare(&a, &c, tol, &r, &e);
    assert_false(r.pass);
    assert_int_equal(r.worst_index, 3);
    assert_true(fabs(r.max_abs - 0.5) < 1e-6);
    assert_non_null(strstr(r.why, "index 3"));
    validate_tol loose = {1e-3, 1e-2};
    validate_compare(&a, &c, loose, &r, &e);
    assert_true(r.pass);
    int64_t d2[2] = {2, 2};
    ir_tensor_alloc(&c, CALMA_DT_FLOAT, 2, d2, &e);
    validate_compare(&a, &c, loose, &r, &e);
    assert_false(r.pass);
    assert_non_null(strstr(r.why, "float32[2,2]"));
    ir_tensor_free(&a);
    ir_tensor_free(&b);
    ir_tensor_free(&c);
}

static void test_rank_test(void **state) {
    (void)state;
    double a[200], b[200], c[200];
    uint64_t x = 12345;
    for (int i = 0; i < 200; i++) {
        a[i] = 1.0 + 0.1 * uniform(&x);
        b[i] = 1.0 + 0.1 * uniform(&x);  /* same distribution */
        c[i] = 1.05 + 0.1 * uniform(&x); /* shifted by half the spread */
    }
    double auc;
    double p_same = stats_rank_test(a, 200, b, 200, &auc);
    assert_true(p_same > 0.01);
    assert_true(fabs(auc - 0.5) < 0.1);
    double p_shift = stats_rank_test(a, 200, c, 200, &auc);
    assert_true(p_shift < 1e-6);
    assert_true(auc < 0.3); /* a is mostly smaller than c */
    /* all ties: no evidence either way */
    double t1[5] = {1, 1, 1, 1, 1}, t2[5] = {1, 1, 1, 1, 1};
    assert_true(stats_rank_test(t1, 5, t2, 5, NULL) > 0.99);
    assert_true(stats_rank_test(t1, 1, t2, 5, NULL) == 1.0);
    stats_summary sa = {0}, sb = {0};
    sa.median = 2;
    sa.ci_lo = 1.9;
    sa.ci_hi = 2.1;
    sb.median = 3;
    sb.ci_lo = 2.9;
    sb.ci_hi = 3.1;
    double ratio, lo, hi;
    stats_ratio_interval(&sa, &sb, &ratio, &lo, &hi);
    assert_true(fabs(ratio - 1.5) < 1e-12);
    assert_true(fabs(lo - 2.9 / 2.1) < 1e-12 && fabs(hi - 3.1 / 1.9) < 1e-12);
}

static void test_inplace_and_sort(void **state) {
    (void)state;
    enum { N = 5001 };
    static double a[N], b[N];
    uint64_t x = 99;
    for (int i = 0; i < N; i++) a[i] = b[i] = uniform(&x) * (i % 7 == 0 ? 10.0 : 1.0);
    stats_summary copy, inplace;
    stats_summarize(a, N, &copy);
    stats_summarize_inplace(b, N, &inplace);
    assert_memory_equal(&copy, &inplace, sizeof copy);
    for (int i = 0; i < N; i++) b[i] = a[i];
    stats_sort(b, N);
    for (int i = 1; i < N; i++) assert_true(b[i - 1] <= b[i]);
    /* the stopping rule may reorder, but keeps the multiset */
    stats_rule r = stats_default_rule();
    r.min_time = 0;
    for (int i = 0; i < N; i++) b[i] = a[i];
    stats_check(&r, b, N, 1.0);
    stats_sort(b, N);
    double *c = a; /* sorted copy of a for comparison */
    static double sorted[N];
    for (int i = 0; i < N; i++) sorted[i] = c[i];
    stats_sort(sorted, N);
    assert_memory_equal(b, sorted, sizeof sorted);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_median_interval_ranks),
        cmocka_unit_test(test_mad_outliers),
        cmocka_unit_test(test_stopping_rule),
        cmocka_unit_test(test_warm),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_rank_test),
        cmocka_unit_test(test_inplace_and_sort),
        cmocka_unit_test(test_quantile_interval_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
