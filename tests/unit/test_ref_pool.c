/* Unit tests of the oracle's pools: MaxPool (with Indices), AveragePool,
 * LpPool, GlobalAveragePool, GlobalMaxPool, on hand-computed cases and bad
 * attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref/ref_op.h"

/* One pool node in its own graph, with its input and outputs. */
typedef struct pcase {
    ir_graph *g;
    ir_node *n;
    ir_tensor x;
    ir_tensor out[2];
    calma_error e;
} pcase;

static pcase *pc_new(const char *op, int n_out, calma_dtype dt, int rank, const int64_t *dims) {
    pcase *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->g = ir_graph_new();
    const char *in[] = {"X"}, *out[] = {"Y", "I"};
    p->n = ir_graph_add_node(p->g, op, "pool0", 1, in, n_out, out);
    assert_non_null(p->n);
    assert_int_equal(ir_tensor_alloc(&p->x, dt, rank, dims, &p->e), CALMA_OK);
    for (size_t i = 0; i < ir_tensor_numel(&p->x); i++) ir_tensor_set_f64(&p->x, i, (double)i);
    return p;
}

static void pc_free(pcase *p) {
    ir_tensor_free(&p->x);
    ir_tensor_free(&p->out[0]);
    ir_tensor_free(&p->out[1]);
    ir_graph_free(p->g);
    free(p);
}

static const ref_op *find_op(const char *name) {
    for (const ref_op *o = ref_ops_pool; o->op_type; o++)
        if (!strcmp(o->op_type, name)) return o;
    return NULL;
}

static int pc_run(pcase *p) {
    const ref_op *op = find_op(p->n->op_type);
    assert_non_null(op);
    const ir_tensor *in[1] = {&p->x};
    ref_call c = {p->n, 17, in, 1, p->out, p->n->n_out, &p->e};
    int st = op->infer(&c);
    if (st) return st;
    for (int j = 0; j < p->n->n_out; j++) {
        st = ir_tensor_alloc(&p->out[j], p->out[j].dtype, p->out[j].rank, p->out[j].dims, &p->e);
        if (st) return st;
    }
    return op->run(&c);
}

static void pc_ok(pcase *p) {
    int st = pc_run(p);
    if (st) fail_msg("pool failed: %s", p->e.msg);
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

/* ---- MaxPool ---- */

static void test_maxpool_basic(void **state) {
    (void)state;
    pcase *p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 4, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2, 2}, 2);
    pc_ok(p);
    expect_dims(&p->out[0], 4, (int64_t[]){1, 1, 2, 2});
    expect(&p->out[0], (double[]){5, 7, 13, 15}, 4);
    pc_free(p);

    /* ceil_mode: the last window hangs over the edge. */
    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 4, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){3, 3}, 2);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_int(p->n, "ceil_mode", 1);
    pc_ok(p);
    expect(&p->out[0], (double[]){10, 11, 14, 15}, 4);
    pc_free(p);

    /* ceil_mode drops a window that would start in the end padding. */
    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 3});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){1}, 1);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2}, 1);
    ir_node_set_ints(p->n, "pads", (int64_t[]){0, 1}, 2);
    ir_node_set_int(p->n, "ceil_mode", 1);
    pc_ok(p);
    expect(&p->out[0], (double[]){0, 2}, 2);
    pc_free(p);

    /* dilations: windows {0,2}, {1,3}, {2,4} */
    p = pc_new("MaxPool", 1, CALMA_DT_DOUBLE, 3, (int64_t[]){1, 1, 5});
    double v[] = {1, 5, 2, 7, 3};
    memcpy(p->x.data, v, sizeof v);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    ir_node_set_ints(p->n, "dilations", (int64_t[]){2}, 1);
    pc_ok(p);
    assert_int_equal(p->out[0].dtype, CALMA_DT_DOUBLE);
    expect(&p->out[0], (double[]){2, 7, 3}, 3);
    pc_free(p);

    /* uint8, SAME_UPPER */
    p = pc_new("MaxPool", 1, CALMA_DT_UINT8, 4, (int64_t[]){1, 1, 3, 3});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_string(p->n, "auto_pad", "SAME_UPPER");
    pc_ok(p);
    assert_int_equal(p->out[0].dtype, CALMA_DT_UINT8);
    expect(&p->out[0], (double[]){4, 5, 5, 7, 8, 8, 7, 8, 8}, 9);
    pc_free(p);
}

/* Indices: flat positions in X, row-major or (storage_order 1) column-major
 * within each plane, plus the plane's offset. */
static void test_maxpool_indices(void **state) {
    (void)state;
    for (int order = 0; order < 2; order++) {
        pcase *p = pc_new("MaxPool", 2, CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, 5, 5});
        ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){3, 3}, 2);
        ir_node_set_ints(p->n, "strides", (int64_t[]){2, 2}, 2);
        ir_node_set_ints(p->n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
        ir_node_set_int(p->n, "storage_order", order);
        pc_ok(p);
        expect_dims(&p->out[0], 4, (int64_t[]){1, 2, 3, 3});
        assert_int_equal(p->out[1].dtype, CALMA_DT_INT64);
        double want[18] = {6, 8, 9, 16, 18, 19, 21, 23, 24};
        for (int i = 0; i < 9; i++) want[9 + i] = want[i] + 25;
        expect(&p->out[0], want, 18);
        const int64_t *ind = p->out[1].data;
        for (int i = 0; i < 18; i++) {
            int64_t plane = i / 9, pos = (int64_t)want[i] - 25 * plane;
            int64_t h = pos / 5, w = pos % 5;
            int64_t expect_ind = plane * 25 + (order ? h + w * 5 : h * 5 + w);
            assert_int_equal(ind[i], expect_ind);
        }
        pc_free(p);
    }
}

/* ---- AveragePool ---- */

static void test_avgpool(void **state) {
    (void)state;
    /* pads 1 on a 3x3 iota, kernel 3, with and without the pads counted */
    for (int cip = 0; cip < 2; cip++) {
        pcase *p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
        ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){3, 3}, 2);
        ir_node_set_ints(p->n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
        ir_node_set_int(p->n, "count_include_pad", cip);
        pc_ok(p);
        double sums[] = {8, 15, 12, 21, 36, 27, 20, 33, 24};
        double cnt[] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
        double want[9];
        for (int i = 0; i < 9; i++) want[i] = sums[i] / (cip ? 9 : cnt[i]);
        expect(&p->out[0], want, 9);
        pc_free(p);
    }
    /* SAME_UPPER / SAME_LOWER, 1-D [0,1,2,3], kernel 2 */
    pcase *p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    ir_node_set_string(p->n, "auto_pad", "SAME_UPPER");
    pc_ok(p);
    expect(&p->out[0], (double[]){0.5, 1.5, 2.5, 3}, 4);
    pc_free(p);
    p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    ir_node_set_string(p->n, "auto_pad", "SAME_LOWER");
    pc_ok(p);
    expect(&p->out[0], (double[]){0, 0.5, 1.5, 2.5}, 4);
    pc_free(p);

    /* 3-D, kernel 2x2x2 stride 2 on a 2x2x4 iota: two windows */
    p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 5, (int64_t[]){1, 1, 2, 2, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2, 2}, 3);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2, 2, 2}, 3);
    pc_ok(p);
    expect_dims(&p->out[0], 5, (int64_t[]){1, 1, 1, 1, 2});
    /* window 1: {0,1,4,5,8,9,12,13} mean 6.5; window 2: +2 */
    expect(&p->out[0], (double[]){6.5, 8.5}, 2);
    pc_free(p);

    /* ceil_mode with count_include_pad: the overhanging window counts
     * only positions inside the padded extent. */
    p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 5});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){3}, 1);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2}, 1);
    ir_node_set_ints(p->n, "pads", (int64_t[]){1, 0}, 2);
    ir_node_set_int(p->n, "ceil_mode", 1);
    ir_node_set_int(p->n, "count_include_pad", 1);
    pc_ok(p);
    /* padded [-1..4]: windows [-1,1] [1,3] [3,5): 1/3, 6/3, 7/2 */
    expect(&p->out[0], (double[]){1.0 / 3, 2, 3.5}, 3);
    pc_free(p);
}

static void test_lppool_and_global(void **state) {
    (void)state;
    pcase *p = pc_new("LpPool", 1, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 4});
    float v[] = {3, -4, 0, 5};
    memcpy(p->x.data, v, sizeof v);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    ir_node_set_ints(p->n, "strides", (int64_t[]){2}, 1);
    pc_ok(p);
    expect(&p->out[0], (double[]){5, 5}, 2);
    pc_free(p);

    p = pc_new("GlobalAveragePool", 1, CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 2, 2});
    pc_ok(p);
    expect_dims(&p->out[0], 4, (int64_t[]){2, 3, 1, 1});
    expect(&p->out[0], (double[]){1.5, 5.5, 9.5, 13.5, 17.5, 21.5}, 6);
    pc_free(p);

    p = pc_new("GlobalMaxPool", 1, CALMA_DT_DOUBLE, 3, (int64_t[]){1, 2, 5});
    pc_ok(p);
    expect_dims(&p->out[0], 3, (int64_t[]){1, 2, 1});
    expect(&p->out[0], (double[]){4, 9}, 2);
    pc_free(p);
}

/* A naive 2-D max/average pool, against the kernel, over random shapes. */
static void test_pool_vs_naive(void **state) {
    (void)state;
    unsigned seed = 5;
    for (int t = 0; t < 40; t++) {
        seed = seed * 1103515245u + 12345u;
        int avg = (seed >> 4) & 1, cip = (seed >> 5) & 1;
        int64_t h = 3 + (seed >> 8) % 9, w = 3 + (seed >> 12) % 9;
        int64_t kh = 1 + (seed >> 16) % 3, kw = 1 + (seed >> 18) % 3;
        int64_t sh = 1 + (seed >> 20) % 3, sw = 1 + (seed >> 22) % 2;
        int64_t ph = (seed >> 24) % 2 ? kh - 1 : 0, pw = (seed >> 25) % 2 ? kw - 1 : 0;
        pcase *p =
            pc_new(avg ? "AveragePool" : "MaxPool", 1, CALMA_DT_FLOAT, 4, (int64_t[]){1, 2, h, w});
        for (size_t i = 0; i < ir_tensor_numel(&p->x); i++) {
            seed = seed * 1103515245u + 12345u;
            ((float *)p->x.data)[i] = (float)((seed >> 8) % 1000) / 100.0f - 5.0f;
        }
        ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){kh, kw}, 2);
        ir_node_set_ints(p->n, "strides", (int64_t[]){sh, sw}, 2);
        ir_node_set_ints(p->n, "pads", (int64_t[]){ph, pw, ph, pw}, 4);
        ir_node_set_int(p->n, "count_include_pad", cip);
        pc_ok(p);
        int64_t oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        expect_dims(&p->out[0], 4, (int64_t[]){1, 2, oh, ow});
        const float *x = p->x.data, *y = p->out[0].data;
        for (int64_t c = 0; c < 2; c++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double best = -INFINITY, sum = 0;
                    int n = 0;
                    for (int64_t a = 0; a < kh; a++)
                        for (int64_t b = 0; b < kw; b++) {
                            int64_t r = i * sh - ph + a, q = j * sw - pw + b;
                            if (r < 0 || r >= h || q < 0 || q >= w) continue;
                            double v = x[(c * h + r) * w + q];
                            best = v > best ? v : best;
                            sum += v;
                            n++;
                        }
                    double want = avg ? sum / (cip ? (double)(kh * kw) : n) : best;
                    double got = y[(c * oh + i) * ow + j];
                    if (fabs(got - want) > 1e-5 * (1 + fabs(want)))
                        fail_msg("case %d (%s) at %lld,%lld: got %g want %g", t,
                                 avg ? "avg" : "max", (long long)i, (long long)j, got, want);
                }
        pc_free(p);
    }
}

/* ---- bad attributes and inputs ---- */

static void expect_fail(pcase *p, int status, const char *needle) {
    int st = pc_run(p);
    if (st != status) fail_msg("status %d, want %d (%s)", st, status, p->e.msg);
    if (!strstr(p->e.msg, needle)) fail_msg("message '%s' lacks '%s'", p->e.msg, needle);
    assert_non_null(strstr(p->e.msg, "pool0"));
    pc_free(p);
}

static void test_pool_errors(void **state) {
    (void)state;
    int64_t d4[] = {1, 1, 4, 4};
    pcase *p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, d4);
    expect_fail(p, CALMA_E_INVALID, "kernel_shape");

    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){5, 2}, 2);
    expect_fail(p, CALMA_E_INVALID, "exceeds padded input");

    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    expect_fail(p, CALMA_E_INVALID, "kernel_shape");

    p = pc_new("AveragePool", 1, CALMA_DT_INT32, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    expect_fail(p, CALMA_E_UNSUPPORTED, "int32");

    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 2, (int64_t[]){4, 4});
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2}, 1);
    expect_fail(p, CALMA_E_INVALID, "rank");

    p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_int(p->n, "ceil_mode", 7);
    expect_fail(p, CALMA_E_INVALID, "ceil_mode");

    p = pc_new("AveragePool", 1, CALMA_DT_FLOAT, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(p->n, "strides", (int64_t[]){-1, 1}, 2);
    expect_fail(p, CALMA_E_INVALID, "strides");

    p = pc_new("MaxPool", 1, CALMA_DT_FLOAT, 4, d4);
    ir_node_set_ints(p->n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ir_node_set_string(p->n, "auto_pad", "FULL");
    expect_fail(p, CALMA_E_INVALID, "auto_pad");

    p = pc_new("GlobalAveragePool", 1, CALMA_DT_BOOL, 4, d4);
    expect_fail(p, CALMA_E_UNSUPPORTED, "bool");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool_basic), cmocka_unit_test(test_maxpool_indices),
        cmocka_unit_test(test_avgpool),       cmocka_unit_test(test_lppool_and_global),
        cmocka_unit_test(test_pool_vs_naive), cmocka_unit_test(test_pool_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
