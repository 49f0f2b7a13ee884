/* Unit tests of the oracle's Conv and ConvTranspose: hand-computed cases,
 * a naive direct loop over many attribute combinations, and bad models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref/ref_op.h"

/* ---- helpers: build a node, run infer + run like the executor does ---- */

static const ref_op *find_op(const char *name) {
    for (const ref_op *o = ref_ops_conv; o->op_type; o++)
        if (!strcmp(o->op_type, name)) return o;
    return NULL;
}

static ir_node *make_node(ir_graph *g, const char *op, int n_in) {
    const char *in[] = {"X", "W", "B"};
    const char *out[] = {"Y"};
    return ir_graph_add_node(g, op, "n0", n_in, in, 1, out);
}

/* Runs infer, allocates the output, runs. Returns the first failing status. */
static int call(const ir_node *n, const ir_tensor *x, const ir_tensor *w, const ir_tensor *b,
                ir_tensor *y, calma_error *e) {
    const ref_op *op = find_op(n->op_type);
    assert_non_null(op);
    const ir_tensor *in[3] = {x, w, b};
    ref_call c = {n, 17, in, b ? 3 : 2, y, 1, e};
    int st = op->infer(&c);
    if (st) return st;
    assert_null(y->data);
    st = ir_tensor_alloc(y, y->dtype, y->rank, y->dims, e);
    if (st) return st;
    return op->run(&c);
}

static void make_tensor(ir_tensor *t, calma_dtype dt, int rank, const int64_t *dims) {
    calma_error e = {0};
    memset(t, 0, sizeof *t);
    assert_int_equal(ir_tensor_alloc(t, dt, rank, dims, &e), CALMA_OK);
}

static void fill_random(ir_tensor *t, unsigned *seed) {
    size_t n = ir_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        ir_tensor_set_f64(t, i, ((double)((*seed >> 8) & 0xffff) / 32768.0) - 1.0);
    }
}

static void fill_iota(ir_tensor *t) {
    size_t n = ir_tensor_numel(t);
    for (size_t i = 0; i < n; i++) ir_tensor_set_f64(t, i, (double)i);
}

static void fill_const(ir_tensor *t, double v) {
    size_t n = ir_tensor_numel(t);
    for (size_t i = 0; i < n; i++) ir_tensor_set_f64(t, i, v);
}

static void expect_values(const ir_tensor *y, const double *want, size_t n) {
    assert_int_equal(ir_tensor_numel(y), n);
    for (size_t i = 0; i < n; i++) {
        double got = ir_tensor_get_f64(y, i);
        if (fabs(got - want[i]) > 1e-5 * (1 + fabs(want[i])))
            fail_msg("element %zu: got %g, want %g", i, got, want[i]);
    }
}

/* ---- hand-computed cases ---- */

/* The ONNX operator documentation's example: 5x5 input 0..24, 3x3 ones. */
static void test_conv_basic_padding(void **state) {
    (void)state;
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "Conv", 2);
    int64_t pads[] = {1, 1, 1, 1};
    ir_node_set_ints(n, "pads", pads, 4);
    ir_tensor x, w, y = {0};
    make_tensor(&x, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 5, 5});
    make_tensor(&w, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
    fill_iota(&x);
    fill_const(&w, 1.0);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.rank, 4);
    assert_int_equal(y.dims[2], 5);
    assert_int_equal(y.dims[3], 5);
    double want[] = {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                     117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
    expect_values(&y, want, 25);
    ir_tensor_free(&y);

    /* Without padding: the 3x3 centre. */
    ir_graph_free(g);
    g = ir_graph_new();
    n = make_node(g, "Conv", 3);
    ir_tensor b;
    make_tensor(&b, CALMA_DT_FLOAT, 1, (int64_t[]){1});
    fill_const(&b, 0.5);
    assert_int_equal(call(n, &x, &w, &b, &y, &e), CALMA_OK);
    double want2[] = {54.5, 63.5, 72.5, 99.5, 108.5, 117.5, 144.5, 153.5, 162.5};
    expect_values(&y, want2, 9);
    ir_tensor_free(&y);
    ir_tensor_free(&b);
    ir_tensor_free(&x);
    ir_tensor_free(&w);
    ir_graph_free(g);
}

/* Strides 2 with asymmetric pads and SAME_LOWER auto_pad. */
static void test_conv_strides_autopad(void **state) {
    (void)state;
    calma_error e = {0};
    ir_tensor x, w, y = {0};
    make_tensor(&x, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 7, 5});
    make_tensor(&w, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
    fill_iota(&x);
    fill_const(&w, 1.0);

    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "Conv", 2);
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 0, 1, 0}, 4);
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[2], 4);
    assert_int_equal(y.dims[3], 2);
    double want[] = {21, 33, 99, 117, 189, 207, 171, 183}; /* ONNX doc's example */
    expect_values(&y, want, 8);
    ir_tensor_free(&y);
    ir_graph_free(g);

    /* SAME_LOWER on 5x5 (first 5 rows of x), stride 2: out 3x3, pads 1,1. */
    x.dims[2] = 5;
    x.nbytes = 25 * sizeof(float);
    g = ir_graph_new();
    n = make_node(g, "Conv", 2);
    ir_node_set_string(n, "auto_pad", "SAME_LOWER");
    ir_node_set_ints(n, "strides", (int64_t[]){2, 2}, 2);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[2], 3);
    assert_int_equal(y.dims[3], 3);
    double want2[] = {12, 27, 24, 63, 108, 81, 72, 117, 84};
    expect_values(&y, want2, 9);
    ir_tensor_free(&y);
    ir_graph_free(g);
    ir_tensor_free(&x);
    ir_tensor_free(&w);
}

/* ---- naive direct convolution, for comparison ---- */

typedef struct cfg {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    const char *auto_pad;
    int bias;
    calma_dtype dt;
} cfg;

/* Output size for the explicit pads in cfg (auto_pad handled by caller). */
static int64_t out_size(const cfg *f, int i) {
    int64_t ek = (f->k[i] - 1) * f->d[i] + 1;
    return (f->in[i] + f->pb[i] + f->pe[i] - ek) / f->s[i] + 1;
}

static void naive_conv(const cfg *f, const ir_tensor *x, const ir_tensor *w, const ir_tensor *b,
                       double *y, const int64_t *od) {
    int64_t in3[3] = {1, 1, 1}, k3[3] = {1, 1, 1}, s3[3] = {1, 1, 1}, d3[3] = {1, 1, 1},
            p3[3] = {0, 0, 0}, o3[3] = {1, 1, 1};
    int off = 3 - f->nsp;
    for (int i = 0; i < f->nsp; i++) {
        in3[off + i] = f->in[i];
        k3[off + i] = f->k[i];
        s3[off + i] = f->s[i];
        d3[off + i] = f->d[i];
        p3[off + i] = f->pb[i];
        o3[off + i] = od[i];
    }
    int64_t cg = f->c / f->group, mg = f->m / f->group;
    size_t yi = 0;
    for (int64_t n = 0; n < f->n; n++)
        for (int64_t m = 0; m < f->m; m++) {
            int64_t gi = m / mg;
            for (int64_t o0 = 0; o0 < o3[0]; o0++)
                for (int64_t o1 = 0; o1 < o3[1]; o1++)
                    for (int64_t o2 = 0; o2 < o3[2]; o2++) {
                        double sum = b ? ir_tensor_get_f64(b, (size_t)m) : 0.0;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t a = 0; a < k3[0]; a++)
                                for (int64_t bb = 0; bb < k3[1]; bb++)
                                    for (int64_t cc = 0; cc < k3[2]; cc++) {
                                        int64_t i0 = o0 * s3[0] - p3[0] + a * d3[0];
                                        int64_t i1 = o1 * s3[1] - p3[1] + bb * d3[1];
                                        int64_t i2 = o2 * s3[2] - p3[2] + cc * d3[2];
                                        if (i0 < 0 || i0 >= in3[0] || i1 < 0 || i1 >= in3[1] ||
                                            i2 < 0 || i2 >= in3[2])
                                            continue;
                                        int64_t ic = gi * cg + ci;
                                        size_t xi =
                                            (size_t)((((n * f->c + ic) * in3[0] + i0) * in3[1] +
                                                      i1) *
                                                         in3[2] +
                                                     i2);
                                        size_t wi =
                                            (size_t)((((m * cg + ci) * k3[0] + a) * k3[1] + bb) *
                                                         k3[2] +
                                                     cc);
                                        sum += ir_tensor_get_f64(x, xi) * ir_tensor_get_f64(w, wi);
                                    }
                        y[yi++] = sum;
                    }
        }
}

static void run_case(const cfg *f0, unsigned seed) {
    cfg f = *f0;
    calma_error e = {0};
    int64_t xd[5] = {f.n, f.c}, wd[5] = {f.m, f.c / f.group};
    for (int i = 0; i < f.nsp; i++) {
        xd[2 + i] = f.in[i];
        wd[2 + i] = f.k[i];
    }
    ir_tensor x, w, b, y = {0};
    make_tensor(&x, f.dt, 2 + f.nsp, xd);
    make_tensor(&w, f.dt, 2 + f.nsp, wd);
    make_tensor(&b, f.dt, 1, &f.m);
    fill_random(&x, &seed);
    fill_random(&w, &seed);
    fill_random(&b, &seed);
    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "Conv", f.bias ? 3 : 2);
    ir_node_set_int(n, "group", f.group);
    ir_node_set_ints(n, "strides", f.s, (size_t)f.nsp);
    ir_node_set_ints(n, "dilations", f.d, (size_t)f.nsp);
    if (f.auto_pad) {
        ir_node_set_string(n, "auto_pad", f.auto_pad);
        /* Work out the pads the spec implies, for the naive loop. */
        for (int i = 0; i < f.nsp; i++) {
            int64_t ek = (f.k[i] - 1) * f.d[i] + 1;
            if (!strcmp(f.auto_pad, "VALID")) {
                f.pb[i] = f.pe[i] = 0;
                continue;
            }
            int64_t out = (f.in[i] + f.s[i] - 1) / f.s[i];
            int64_t total = (out - 1) * f.s[i] + ek - f.in[i];
            if (total < 0) total = 0;
            f.pb[i] = !strcmp(f.auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
            f.pe[i] = total - f.pb[i];
        }
    } else {
        int64_t pads[6];
        for (int i = 0; i < f.nsp; i++) {
            pads[i] = f.pb[i];
            pads[f.nsp + i] = f.pe[i];
        }
        ir_node_set_ints(n, "pads", pads, 2 * (size_t)f.nsp);
    }
    int st = call(n, &x, &w, f.bias ? &b : NULL, &y, &e);
    if (st) fail_msg("conv failed: %s", e.msg);
    int64_t od[3];
    for (int i = 0; i < f.nsp; i++) {
        od[i] = out_size(&f, i);
        assert_int_equal(y.dims[2 + i], od[i]);
    }
    assert_int_equal(y.dims[0], f.n);
    assert_int_equal(y.dims[1], f.m);
    assert_int_equal(y.dtype, f.dt);
    size_t ny = ir_tensor_numel(&y);
    double *want = malloc(ny * sizeof *want);
    assert_non_null(want);
    naive_conv(&f, &x, &w, f.bias ? &b : NULL, want, od);
    for (size_t i = 0; i < ny; i++) {
        double got = ir_tensor_get_f64(&y, i);
        double tol = f.dt == CALMA_DT_FLOAT ? 1e-5 * (1 + fabs(want[i])) : 1e-12;
        if (fabs(got - want[i]) > tol)
            fail_msg("case nsp=%d group=%lld: element %zu got %.9g want %.9g", f.nsp,
                     (long long)f.group, i, got, want[i]);
    }
    free(want);
    ir_tensor_free(&x);
    ir_tensor_free(&w);
    ir_tensor_free(&b);
    ir_tensor_free(&y);
    ir_graph_free(g);
}

static void test_conv_vs_naive(void **state) {
    (void)state;
    cfg cases[] = {
        /* 2-D, the resnet shapes in miniature: 3x3 pad 1, 1x1 stride 2, 7x7 s2 p3 */
        {2, 1, 8, 12, 1, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, 1, CALMA_DT_FLOAT},
        {2, 2, 8, 6, 1, {9, 8}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, NULL, 0, CALMA_DT_FLOAT},
        {2, 1, 3, 5, 1, {17, 15}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, NULL, 1, CALMA_DT_FLOAT},
        /* groups, depthwise, dilations, asymmetric pads */
        {2, 2, 6, 9, 3, {7, 6}, {3, 2}, {1, 2}, {2, 1}, {2, 0}, {1, 1}, NULL, 1, CALMA_DT_FLOAT},
        {2, 1, 5, 5, 5, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, 1, CALMA_DT_FLOAT},
        {2, 1, 4, 8, 4, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, 0, CALMA_DT_FLOAT},
        /* auto_pad */
        {2, 1, 2, 3, 1, {7, 6}, {3, 4}, {2, 3}, {1, 1}, {0}, {0}, "SAME_UPPER", 1, CALMA_DT_FLOAT},
        {2, 1, 2, 3, 1, {7, 6}, {3, 4}, {2, 3}, {1, 1}, {0}, {0}, "SAME_LOWER", 0, CALMA_DT_FLOAT},
        {2, 1, 2, 3, 1, {7, 9}, {3, 4}, {2, 1}, {1, 2}, {0}, {0}, "VALID", 1, CALMA_DT_FLOAT},
        /* 1-D and 3-D, double */
        {1, 2, 3, 4, 1, {11}, {3}, {2}, {2}, {1}, {2}, NULL, 1, CALMA_DT_FLOAT},
        {1, 1, 4, 6, 2, {10}, {4}, {1}, {1}, {0}, {0}, NULL, 1, CALMA_DT_DOUBLE},
        {3,
         1,
         2,
         5,
         1,
         {4, 5, 6},
         {2, 3, 2},
         {1, 2, 1},
         {1, 1, 2},
         {1, 0, 1},
         {0, 1, 1},
         NULL,
         1,
         CALMA_DT_FLOAT},
        {3,
         2,
         4,
         4,
         2,
         {3, 4, 4},
         {3, 3, 3},
         {1, 1, 1},
         {1, 1, 1},
         {1, 1, 1},
         {1, 1, 1},
         NULL,
         0,
         CALMA_DT_DOUBLE},
        /* packed path with groups (5 output channels per group); direct path
         * (fewer than 4 per group) with strides, dilations and pads in 1-D and 3-D */
        {2, 1, 4, 10, 2, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, 1, CALMA_DT_FLOAT},
        {1, 2, 3, 6, 3, {13}, {3}, {3}, {2}, {2}, {1}, NULL, 1, CALMA_DT_FLOAT},
        {3,
         1,
         2,
         2,
         2,
         {5, 6, 7},
         {3, 2, 3},
         {2, 1, 2},
         {1, 2, 1},
         {1, 1, 2},
         {0, 1, 1},
         NULL,
         1,
         CALMA_DT_DOUBLE},
        /* more output pixels than one packed chunk, channels not a multiple of 4 */
        {2, 1, 3, 7, 1, {40, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, 1, CALMA_DT_FLOAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], 7u + (unsigned)i);
}

/* ---- ConvTranspose ---- */

static void test_convtranspose_hand(void **state) {
    (void)state;
    calma_error e = {0};
    /* 1-D: [0,1,2] with [1,1,1] -> [0,1,3,3,2] */
    ir_tensor x, w, y = {0};
    make_tensor(&x, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 3});
    make_tensor(&w, CALMA_DT_FLOAT, 3, (int64_t[]){1, 2, 3});
    fill_iota(&x);
    fill_const(&w, 1.0);
    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "ConvTranspose", 2);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[1], 2);
    assert_int_equal(y.dims[2], 5);
    double want[] = {0, 1, 3, 3, 2, 0, 1, 3, 3, 2};
    expect_values(&y, want, 10);
    ir_tensor_free(&y);
    ir_graph_free(g);
    ir_tensor_free(&x);
    ir_tensor_free(&w);

    /* 2-D, 3x3 input 0..8, 3x3 ones kernel: the ONNX documentation's result. */
    make_tensor(&x, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
    make_tensor(&w, CALMA_DT_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
    fill_iota(&x);
    fill_const(&w, 1.0);
    g = ir_graph_new();
    n = make_node(g, "ConvTranspose", 2);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    double want2[] = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                      27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
    expect_values(&y, want2, 25);
    ir_tensor_free(&y);
    ir_graph_free(g);

    /* Stride 3x2, output_shape 10x8 (pads from output_shape): y is 10x8. */
    g = ir_graph_new();
    n = make_node(g, "ConvTranspose", 2);
    ir_node_set_ints(n, "strides", (int64_t[]){3, 2}, 2);
    ir_node_set_ints(n, "output_shape", (int64_t[]){10, 8}, 2);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[2], 10);
    assert_int_equal(y.dims[3], 8);
    /* Full result is 9x7; the extra row and column are zero. */
    double first_row[] = {0, 0, 1, 1, 3, 2, 2, 0};
    expect_values(&(ir_tensor){.dtype = CALMA_DT_FLOAT,
                               .rank = 1,
                               .dims = {8},
                               .data = y.data,
                               .nbytes = 8 * sizeof(float)},
                  first_row, 8);
    assert_true(((float *)y.data)[9 * 8 + 3] == 0.0f);
    assert_true(((float *)y.data)[2 * 8 + 7] == 0.0f);
    ir_tensor_free(&y);
    ir_graph_free(g);

    /* pads crop the full result: pads 1,2,1,2 of 5x5 -> 3x1... */
    g = ir_graph_new();
    n = make_node(g, "ConvTranspose", 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 2, 1, 2}, 4);
    assert_int_equal(call(n, &x, &w, NULL, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[2], 3);
    assert_int_equal(y.dims[3], 1);
    double want3[] = {15, 36, 33};
    expect_values(&y, want3, 3);
    ir_tensor_free(&y);
    ir_graph_free(g);
    ir_tensor_free(&x);
    ir_tensor_free(&w);
}

/* 1-D [0,1,2], kernel [1,1,1], stride 2: the full result is
 * [0,0,1,1,3,2,2]; output_padding appends, auto_pad SAME crops to 6. */
static void test_convtranspose_1d_modes(void **state) {
    (void)state;
    struct {
        const char *attr, *auto_pad;
        int64_t n;
        double want[8];
    } cases[] = {
        {"output_padding", NULL, 8, {0, 0, 1, 1, 3, 2, 2, 0}},
        {NULL, "SAME_UPPER", 6, {0, 0, 1, 1, 3, 2}},
        {NULL, "SAME_LOWER", 6, {0, 1, 1, 3, 2, 2}},
        {NULL, "VALID", 7, {0, 0, 1, 1, 3, 2, 2}},
    };
    ir_tensor x, w;
    make_tensor(&x, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 3});
    make_tensor(&w, CALMA_DT_FLOAT, 3, (int64_t[]){1, 1, 3});
    fill_iota(&x);
    fill_const(&w, 1.0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        calma_error e = {0};
        ir_tensor y = {0};
        ir_graph *g = ir_graph_new();
        ir_node *n = make_node(g, "ConvTranspose", 2);
        ir_node_set_ints(n, "strides", (int64_t[]){2}, 1);
        if (cases[i].attr) ir_node_set_ints(n, cases[i].attr, (int64_t[]){1}, 1);
        if (cases[i].auto_pad) ir_node_set_string(n, "auto_pad", cases[i].auto_pad);
        int st = call(n, &x, &w, NULL, &y, &e);
        if (st) fail_msg("case %zu: %s", i, e.msg);
        assert_int_equal(y.dims[2], cases[i].n);
        expect_values(&y, cases[i].want, (size_t)cases[i].n);
        ir_tensor_free(&y);
        ir_graph_free(g);
    }
    ir_tensor_free(&x);
    ir_tensor_free(&w);
}

/* ConvTranspose is the adjoint of Conv: <conv(x), v> == <x, convT(v)>
 * for matching strides, pads, dilations and groups. */
static void test_convtranspose_adjoint(void **state) {
    (void)state;
    calma_error e = {0};
    unsigned seed = 99;
    int64_t grp = 2, c = 4, m = 6;
    ir_tensor x, w, y = {0}, v, xt = {0};
    make_tensor(&x, CALMA_DT_DOUBLE, 4, (int64_t[]){2, c, 9, 8});
    make_tensor(&w, CALMA_DT_DOUBLE, 4, (int64_t[]){m, c / grp, 3, 2});
    fill_random(&x, &seed);
    fill_random(&w, &seed);
    ir_graph *g = ir_graph_new();
    assert_non_null(make_node(g, "Conv", 2));
    assert_non_null(make_node(g, "ConvTranspose", 2));
    ir_node *conv = &g->nodes[0], *convt = &g->nodes[1]; /* stable once both exist */
    for (int i = 0; i < 2; i++) {
        ir_node *nn = i ? convt : conv;
        ir_node_set_ints(nn, "strides", (int64_t[]){2, 3}, 2);
        ir_node_set_ints(nn, "dilations", (int64_t[]){2, 1}, 2);
        ir_node_set_ints(nn, "pads", (int64_t[]){1, 0, 2, 1}, 4);
        ir_node_set_int(nn, "group", grp);
    }
    assert_int_equal(call(conv, &x, &w, NULL, &y, &e), CALMA_OK);
    make_tensor(&v, CALMA_DT_DOUBLE, 4, y.dims);
    fill_random(&v, &seed);
    /* Conv's W [M, C/g, k] is, unchanged, the W [C_in, M_out/g, k] of the
     * transposed op that maps y's M channels back to x's C. Pads then
     * follow from output_shape: 1 before in dimension 0, 0 in dimension 1,
     * as the Conv has. */
    ir_node_set_ints(convt, "output_shape", (int64_t[]){9, 8}, 2);
    assert_int_equal(call(convt, &v, &w, NULL, &xt, &e), CALMA_OK);
    assert_true(ir_tensor_same_shape(&xt, &x));
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < ir_tensor_numel(&y); i++)
        lhs += ((double *)y.data)[i] * ((double *)v.data)[i];
    for (size_t i = 0; i < ir_tensor_numel(&x); i++)
        rhs += ((double *)x.data)[i] * ((double *)xt.data)[i];
    assert_true(fabs(lhs - rhs) < 1e-9 * (1 + fabs(lhs)));
    assert_true(fabs(lhs) > 1e-3); /* not trivially zero */
    ir_tensor_free(&x);
    ir_tensor_free(&w);
    ir_tensor_free(&y);
    ir_tensor_free(&v);
    ir_tensor_free(&xt);
    ir_graph_free(g);
}

/* ---- bad models: clear errors, never a crash ---- */

static void expect_error(ir_node *n, const ir_tensor *x, const ir_tensor *w, const ir_tensor *b,
                         int status, const char *needle) {
    calma_error e = {0};
    ir_tensor y = {0};
    int st = call(n, x, w, b, &y, &e);
    ir_tensor_free(&y);
    if (st != status) fail_msg("status %d, want %d (%s)", st, status, e.msg);
    if (!strstr(e.msg, needle)) fail_msg("message '%s' lacks '%s'", e.msg, needle);
    assert_non_null(strstr(e.msg, "n0")); /* names the node */
}

static void test_conv_errors(void **state) {
    (void)state;
    ir_tensor x, w, wbad, b, xi;
    make_tensor(&x, CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 5, 5});
    make_tensor(&w, CALMA_DT_FLOAT, 4, (int64_t[]){4, 3, 3, 3});
    make_tensor(&wbad, CALMA_DT_FLOAT, 4, (int64_t[]){4, 2, 3, 3});
    make_tensor(&b, CALMA_DT_FLOAT, 1, (int64_t[]){5});
    make_tensor(&xi, CALMA_DT_INT32, 4, (int64_t[]){1, 3, 5, 5});
    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "Conv", 2);
    expect_error(n, &x, &wbad, NULL, CALMA_E_INVALID, "channels");
    expect_error(n, &xi, &w, NULL, CALMA_E_UNSUPPORTED, "int32");
    expect_error(n, &x, &w, &b, CALMA_E_INVALID, "bias");
    expect_error(n, &x, NULL, NULL, CALMA_E_INVALID, "W");

    ir_node *big = make_node(g, "Conv", 2);
    ir_node_set_ints(big, "dilations", (int64_t[]){3, 1}, 2);
    expect_error(big, &x, &w, NULL, CALMA_E_INVALID, "exceeds padded input");

    ir_node *grp = make_node(g, "Conv", 2);
    ir_node_set_int(grp, "group", 3);
    ir_tensor w1;
    make_tensor(&w1, CALMA_DT_FLOAT, 4, (int64_t[]){4, 1, 3, 3});
    expect_error(grp, &x, &w1, NULL, CALMA_E_INVALID, "multiple of group");
    ir_node *grp0 = make_node(g, "Conv", 2);
    ir_node_set_int(grp0, "group", 0);
    expect_error(grp0, &x, &w, NULL, CALMA_E_INVALID, "group");

    ir_node *ks = make_node(g, "Conv", 2);
    ir_node_set_ints(ks, "kernel_shape", (int64_t[]){3, 2}, 2);
    expect_error(ks, &x, &w, NULL, CALMA_E_INVALID, "kernel_shape");
    ir_node *st = make_node(g, "Conv", 2);
    ir_node_set_ints(st, "strides", (int64_t[]){0, 1}, 2);
    expect_error(st, &x, &w, NULL, CALMA_E_INVALID, "strides");
    ir_node *pd = make_node(g, "Conv", 2);
    ir_node_set_ints(pd, "pads", (int64_t[]){1, 1}, 2);
    expect_error(pd, &x, &w, NULL, CALMA_E_INVALID, "pads");
    ir_node *hp = make_node(g, "Conv", 2);
    ir_node_set_ints(hp, "pads", (int64_t[]){INT64_MAX, 0, 0, 0}, 4);
    expect_error(hp, &x, &w, NULL, CALMA_E_INVALID, "pads");
    ir_node *ap = make_node(g, "Conv", 2);
    ir_node_set_string(ap, "auto_pad", "SAME");
    expect_error(ap, &x, &w, NULL, CALMA_E_INVALID, "auto_pad");

    ir_tensor x2;
    make_tensor(&x2, CALMA_DT_FLOAT, 2, (int64_t[]){3, 5});
    /* Adding nodes may move the node array: look the first one up again. */
    expect_error(&g->nodes[0], &x2, &w, NULL, CALMA_E_INVALID, "rank");

    ir_node *t = make_node(g, "ConvTranspose", 2);
    expect_error(t, &x, &wbad, NULL, CALMA_E_INVALID, "channels");
    ir_tensor wt;
    make_tensor(&wt, CALMA_DT_FLOAT, 4, (int64_t[]){3, 4, 3, 3});
    ir_node *op = make_node(g, "ConvTranspose", 2);
    ir_node_set_ints(op, "output_padding", (int64_t[]){1, 1}, 2);
    expect_error(op, &x, &wt, NULL, CALMA_E_INVALID, "output_padding");
    ir_node *crop = make_node(g, "ConvTranspose", 2);
    ir_node_set_ints(crop, "pads", (int64_t[]){4, 0, 4, 0}, 4);
    expect_error(crop, &x, &wt, NULL, CALMA_E_INVALID, "crop");
    ir_tensor_free(&wt);

    ir_tensor_free(&x);
    ir_tensor_free(&x2);
    ir_tensor_free(&xi);
    ir_tensor_free(&w);
    ir_tensor_free(&w1);
    ir_tensor_free(&wbad);
    ir_tensor_free(&b);
    ir_graph_free(g);
}

/* Unknown (symbolic) input sizes give unknown output sizes at infer time. */
static void test_conv_infer_unknown(void **state) {
    (void)state;
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    ir_node *n = make_node(g, "Conv", 2);
    ir_node_set_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    ir_tensor x = {CALMA_DT_FLOAT, 4, {-1, 3, -1, 8}, NULL, 0, 0};
    ir_tensor w = {CALMA_DT_FLOAT, 4, {16, 3, 3, 3}, NULL, 0, 0};
    const ir_tensor *in[2] = {&x, &w};
    ir_tensor y = {0};
    ref_call c = {n, 17, in, 2, &y, 1, &e};
    assert_int_equal(find_op("Conv")->infer(&c), CALMA_OK);
    assert_int_equal(y.rank, 4);
    assert_int_equal(y.dims[0], -1);
    assert_int_equal(y.dims[1], 16);
    assert_int_equal(y.dims[2], -1);
    assert_int_equal(y.dims[3], 8);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_basic_padding),
        cmocka_unit_test(test_conv_strides_autopad),
        cmocka_unit_test(test_conv_vs_naive),
        cmocka_unit_test(test_convtranspose_hand),
        cmocka_unit_test(test_convtranspose_1d_modes),
        cmocka_unit_test(test_convtranspose_adjoint),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_conv_infer_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
