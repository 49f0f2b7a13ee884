/* The oracle runs every built-in model at batch 1 on generated inputs and
 * gives finite, non-trivial outputs; small models also give the same rows
 * at batch 2. resnet18 and mobilenet_v2 take a few seconds each in the
 * oracle (longer under sanitizers): this file is kept apart so CTest runs
 * it alongside the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "io/gen.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs model name at the given batch; every sample of the batch is the
 * batch-1 input of seed 3 (so rows must agree). Returns seconds taken. */
static double run(const char *name, int64_t batch, ir_tensor *out) {
    calma_error e = {0};
    ir_graph *g = NULL;
    if (zoo_build(name, 0, &g, &e)) fail_msg("%s: %s", name, e.msg);
    ir_graph_set_batch(g, batch);
    const ir_value *v = &g->values[g->inputs[0]];
    ir_tensor one = {0}, in = {0};
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, v->dims, sizeof dims);
    dims[0] = 1;
    assert_int_equal(ir_tensor_alloc(&one, v->dtype, v->rank, dims, &e), CALMA_OK);
    gen_fill(&one, 3, 0, 0);
    assert_int_equal(ir_tensor_alloc(&in, v->dtype, v->rank, v->dims, &e), CALMA_OK);
    for (int64_t b = 0; b < batch; b++)
        memcpy((char *)in.data + (size_t)b * one.nbytes, one.data, one.nbytes);
    ref_session *s = NULL;
    if (ref_session_create(g, &s, &e)) fail_msg("%s: %s", name, e.msg);
    double t0 = now_s();
    if (ref_session_run(s, &in, out, &e)) fail_msg("%s: %s", name, e.msg);
    double dt = now_s() - t0;
    ref_session_free(s);
    ir_tensor_free(&one);
    ir_tensor_free(&in);
    ir_graph_free(g);
    return dt;
}

static void check_output(const char *name, const ir_tensor *t, int64_t batch, int64_t row) {
    assert_int_equal(t->dtype, CALMA_DT_FLOAT);
    assert_int_equal(t->dims[0], batch);
    assert_int_equal((int64_t)ir_tensor_numel(t), batch * row);
    const float *p = t->data;
    double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
    size_t n = ir_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i])) fail_msg("%s: output element %zu is %g", name, i, p[i]);
        sum += p[i];
        sq += (double)p[i] * p[i];
        lo = fmin(lo, p[i]);
        hi = fmax(hi, p[i]);
    }
    double mean = sum / (double)n, sd = sqrt(fmax(sq / (double)n - mean * mean, 0));
    printf("  %-13s batch %lld: min %.4g max %.4g mean %.4g sd %.4g\n", name, (long long)batch, lo,
           hi, mean, sd);
    /* not all zero, not constant, and not exploded */
    assert_true(sd > 1e-3);
    assert_true(hi - lo > 1e-3);
    assert_true(fabs(lo) < 1e4 && fabs(hi) < 1e4);
}

static void run_model(const char *name, int64_t row, int check_batch) {
    ir_tensor out = {0};
    double dt = run(name, 1, &out);
    printf("  %-13s oracle batch 1: %.1f ms\n", name, dt * 1e3);
    check_output(name, &out, 1, row);
    if (check_batch) {
        ir_tensor out2 = {0};
        run(name, 2, &out2);
        check_output(name, &out2, 2, row);
        const float *a = out.data, *b = out2.data;
        for (int64_t r = 0; r < 2; r++)
            for (int64_t i = 0; i < row; i++)
                assert_float_equal(b[r * row + i], a[i], 1e-4 * (1 + fabsf(a[i])));
        ir_tensor_free(&out2);
    }
    ir_tensor_free(&out);
}

static void test_simple(void **state) {
    (void)state;
    run_model("simple", 10, 1);
}

static void test_mlp(void **state) {
    (void)state;
    run_model("mlp", 10, 1);
}

static void test_transformer(void **state) {
    (void)state;
    run_model("transformer", 32 * 64, 1);
}

static void test_resnet18(void **state) {
    (void)state;
    run_model("resnet18", 1000, 0);
}

static void test_mobilenet_v2(void **state) {
    (void)state;
    run_model("mobilenet_v2", 1000, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),       cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_transformer),  cmocka_unit_test(test_resnet18),
        cmocka_unit_test(test_mobilenet_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
