/* The model transforms (src/transform) on calma's graph: what FP16, BF16 and
 * INT8 make of the built-in models, that the results are models calma saves,
 * re-reads and runs close to the float32 original, what they keep in float32
 * and why, calibration ranges and quantization parameters, and the models
 * each refuses. Writes the transformed models and the op table under
 * $CALMA_BUILD_DIR/test-runs/xform-models/ for test_xform_onnx_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/gen.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "transform/xform.h"
#include "transform/xform_internal.h"
#include "zoo/zoo.h"

static ir_graph *zoo(const char *name) {
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build(name, 7, &g, &e), CALMA_OK);
    return g;
}

static xform_opts opts(const char *s, int batches) {
    xform_opts o;
    calma_error e = {0};
    assert_int_equal(xform_parse_options(s, &o, &e), CALMA_OK);
    o.calib.batches = batches;
    return o;
}

static ir_graph *apply(const char *x, const ir_graph *g, const xform_opts *o, xform_report *rep) {
    ir_graph *out = NULL;
    calma_error e = {0};
    int rc = xform_apply(xform_find(x), g, o, NULL, &out, NULL, rep, &e);
    if (rc) fprintf(stderr, "%s: %s\n", x, e.msg);
    assert_int_equal(rc, CALMA_OK);
    return out;
}

/* Saves g, reads it back (the file is what engines get), and keeps it for
 * the ONNX checker test. */
static ir_graph *roundtrip(const ir_graph *g, const char *name) {
    const char *build = getenv("CALMA_BUILD_DIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/test-runs/xform-models", build ? build : ".");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    calma_error e = {0};
    assert_int_equal(onnx_save(g, path, &e), CALMA_OK);
    ir_graph *back = NULL;
    assert_int_equal(onnx_load(path, &back, &e), CALMA_OK);
    return back;
}

/* Cosine of the first outputs of a and b on a few generated batches. */
static double worst_cosine(const ir_graph *a, const ir_graph *b, int batches) {
    ref_session *sa, *sb;
    calma_error e = {0};
    assert_int_equal(ref_session_create(a, &sa, &e), CALMA_OK);
    int rc = ref_session_create(b, &sb, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, CALMA_OK);
    double worst = 1;
    for (int k = 0; k < batches; k++) {
        ir_tensor in[4] = {{0}};
        assert_true(a->n_inputs <= 4);
        for (int i = 0; i < a->n_inputs; i++) {
            const ir_value *v = &a->values[a->inputs[i]];
            int64_t dims[IR_MAX_RANK];
            for (int d = 0; d < v->rank; d++) dims[d] = v->dims[d] < 0 ? 2 : v->dims[d];
            assert_int_equal(ir_tensor_alloc(&in[i], v->dtype, v->rank, dims, &e), CALMA_OK);
            gen_fill(&in[i], 99, i, (uint64_t)k);
        }
        ir_tensor oa[4] = {{0}}, ob[4] = {{0}};
        assert_true(a->n_outputs <= 4 && b->n_outputs == a->n_outputs);
        assert_int_equal(ref_session_run(sa, in, oa, &e), CALMA_OK);
        assert_int_equal(ref_session_run(sb, in, ob, &e), CALMA_OK);
        assert_int_equal(ob[0].dtype, CALMA_DT_FLOAT); /* the interface stays float32 */
        assert_true(ir_tensor_same_shape(&oa[0], &ob[0]));
        double dot = 0, na = 0, nb = 0;
        for (size_t j = 0; j < ir_tensor_numel(&oa[0]); j++) {
            double x = ir_tensor_get_f64(&oa[0], j), y = ir_tensor_get_f64(&ob[0], j);
            dot += x * y, na += x * x, nb += y * y;
        }
        double c = dot / sqrt(na * nb);
        if (c < worst) worst = c;
        for (int i = 0; i < 4; i++) {
            ir_tensor_free(&in[i]);
            ir_tensor_free(&oa[i]);
            ir_tensor_free(&ob[i]);
        }
    }
    ref_session_free(sa);
    ref_session_free(sb);
    return worst;
}

static int count_op(const ir_graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i].op_type, op);
    return n;
}

static const ir_node *producer(const ir_graph *g, int v) {
    return v >= 0 && g->values[v].producer >= 0 ? &g->nodes[g->values[v].producer] : NULL;
}

static const xform_kept *kept(const xform_report *rep, const char *op) {
    for (int k = 0; k < rep->n_kept_ops; k++)
        if (!strcmp(rep->kept_ops[k].op, op)) return &rep->kept_ops[k];
    return NULL;
}

static void test_names(void **state) {
    (void)state;
    assert_int_equal(xform_count(), 3);
    assert_string_equal(xform_find("fp16")->name, "FP16");
    assert_string_equal(xform_find("Int8")->precision, "int8");
    assert_null(xform_find("INT4"));
    assert_null(xform_find(""));
}

static void test_fp16_simple(void **state) {
    (void)state;
    ir_graph *g = zoo("simple");
    xform_opts o = opts(NULL, 1);
    xform_report rep;
    ir_graph *x = apply("FP16", g, &o, &rep);
    assert_int_equal(rep.folded_bn, 3);
    assert_int_equal(rep.kept, 0);
    assert_true(rep.converted >= 9);
    ir_graph *back = roundtrip(x, "simple-FP16");
    /* float32 at the edges: one Cast in, one Cast out, float16 weights */
    assert_int_equal(count_op(back, "Cast"), 2);
    assert_int_equal(count_op(back, "BatchNormalization"), 0);
    assert_int_equal(back->values[back->inputs[0]].dtype, CALMA_DT_FLOAT);
    assert_int_equal(back->values[back->outputs[0]].dtype, CALMA_DT_FLOAT);
    for (int v = 0; v < back->n_values; v++)
        if (back->values[v].init && back->values[v].init->rank > 1)
            assert_int_equal(back->values[v].init->dtype, CALMA_DT_FLOAT16);
    assert_true(worst_cosine(g, back, 2) > 0.9999);
    ir_graph_free(back);
    ir_graph_free(x);
    ir_graph_free(g);
}

/* Softmax and LayerNormalization stay float32, between Casts. */
static void test_fp16_keeps_unsafe_ops(void **state) {
    (void)state;
    ir_graph *g = zoo("transformer");
    xform_opts o = opts(NULL, 1);
    xform_report rep;
    ir_graph *x = apply("FP16", g, &o, &rep);
    const xform_kept *sm = kept(&rep, "Softmax"), *ln = kept(&rep, "LayerNormalization");
    assert_non_null(sm);
    assert_non_null(strstr(sm->why, "sums over a whole axis"));
    assert_non_null(ln);
    assert_true(rep.converted > 20);
    ir_graph *back = roundtrip(x, "transformer-FP16");
    for (int i = 0; i < back->n_nodes; i++) {
        const ir_node *n = &back->nodes[i];
        if (strcmp(n->op_type, "Softmax")) continue;
        const ir_node *p = producer(back, n->in[0]);
        assert_non_null(p);
        assert_string_equal(p->op_type, "Cast");
        assert_int_equal(ir_node_int(p, "to", 0), CALMA_DT_FLOAT);
    }
    assert_true(worst_cosine(g, back, 2) > 0.9999);
    ir_graph_free(back);
    ir_graph_free(x);
    ir_graph_free(g);
}

/* ONNX has no bfloat16 Conv before opset 22: convolutions stay float32. */
static void test_bf16_keeps_conv(void **state) {
    (void)state;
    ir_graph *g = zoo("simple");
    xform_opts o = opts(NULL, 1);
    xform_report rep;
    ir_graph *x = apply("BF16", g, &o, &rep);
    const xform_kept *conv = kept(&rep, "Conv");
    assert_non_null(conv);
    assert_int_equal(conv->count, 3);
    assert_non_null(strstr(conv->why, "no bfloat16 form"));
    ir_graph *back = roundtrip(x, "simple-BF16");
    int bf16_cast = 0;
    for (int i = 0; i < back->n_nodes; i++)
        bf16_cast += !strcmp(back->nodes[i].op_type, "Cast") &&
                     ir_node_int(&back->nodes[i], "to", 0) == CALMA_DT_BFLOAT16;
    assert_true(bf16_cast >= 3);
    assert_true(worst_cosine(g, back, 2) > 0.999);
    ir_graph_free(back);
    ir_graph_free(x);
    ir_graph_free(g);
}

static const ir_tensor *init_of(const ir_graph *g, int v) {
    return v >= 0 ? g->values[v].init : NULL;
}

/* Each Conv reads DequantizeLinear outputs: activations per tensor (uint8),
 * weights per output channel (int8, axis 0), biases int32 at sx * sw. */
static void check_qdq_conv(const ir_graph *g, const ir_node *c) {
    const ir_node *dx = producer(g, c->in[0]), *dw = producer(g, c->in[1]),
                  *db = producer(g, c->in[2]);
    assert_non_null(dx);
    assert_non_null(dw);
    assert_non_null(db);
    assert_string_equal(dx->op_type, "DequantizeLinear");
    assert_string_equal(dw->op_type, "DequantizeLinear");
    assert_string_equal(db->op_type, "DequantizeLinear");
    const ir_node *q = producer(g, dx->in[0]);
    assert_non_null(q);
    assert_string_equal(q->op_type, "QuantizeLinear");
    assert_int_equal(init_of(g, q->in[2])->dtype, CALMA_DT_UINT8);
    const ir_tensor *w = init_of(g, dw->in[0]), *ws = init_of(g, dw->in[1]);
    assert_int_equal(w->dtype, CALMA_DT_INT8);
    assert_int_equal(ir_node_int(dw, "axis", -1), 0);
    assert_int_equal(ws->dims[0], w->dims[0]);
    const ir_tensor *b = init_of(g, db->in[0]), *bs = init_of(g, db->in[1]);
    assert_int_equal(b->dtype, CALMA_DT_INT32);
    float sx = *(const float *)init_of(g, dx->in[1])->data;
    for (int64_t ch = 0; ch < w->dims[0]; ch++)
        assert_true(((const float *)bs->data)[ch] == sx * ((const float *)ws->data)[ch]);
    /* one reader per DequantizeLinear, as engines fuse them */
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) readers += g->nodes[i].in[k] == dx->out[0];
    assert_int_equal(readers, 1);
}

static void test_int8_simple(void **state) {
    (void)state;
    ir_graph *g = zoo("simple");
    xform_opts o = opts(NULL, 4);
    xform_report rep;
    ir_graph *x = NULL;
    xform_ranges r;
    calma_error e = {0};
    assert_int_equal(xform_apply(xform_find("INT8"), g, &o, NULL, &x, &r, &rep, &e), CALMA_OK);
    assert_int_equal(rep.calib_batches, 4);
    assert_int_equal(rep.absorbed, 3); /* the Relus after each Conv */
    assert_true(r.n >= 4);
    ir_graph *back = roundtrip(x, "simple-INT8");
    assert_int_equal(count_op(back, "Conv"), 3);
    assert_int_equal(count_op(back, "Relu"), 0);
    assert_int_equal(count_op(back, "BatchNormalization"), 0);
    for (int i = 0; i < back->n_nodes; i++)
        if (!strcmp(back->nodes[i].op_type, "Conv")) check_qdq_conv(back, &back->nodes[i]);
    double c = worst_cosine(g, back, 3);
    assert_true(c > 0.999);
    /* The same ranges give the same model (what the run folder's cache relies on). */
    ir_graph *again = NULL;
    assert_int_equal(xform_apply(xform_find("INT8"), g, &o, &r, &again, NULL, &rep, &e), CALMA_OK);
    assert_int_equal(again->n_nodes, x->n_nodes);
    assert_true(worst_cosine(back, again, 1) > 0.999999);
    ir_graph_free(again);
    xform_ranges_free(&r);
    ir_graph_free(back);
    ir_graph_free(x);
    ir_graph_free(g);
}

static void test_int8_mlp_and_activations(void **state) {
    (void)state;
    ir_graph *g = zoo("mlp");
    xform_opts o = opts(NULL, 4);
    xform_report rep;
    ir_graph *x = apply("INT8", g, &o, &rep);
    assert_int_equal(rep.absorbed, 2);
    ir_graph *back = roundtrip(x, "mlp-INT8");
    assert_int_equal(count_op(back, "Gemm"), 3);
    assert_true(worst_cosine(g, back, 2) > 0.999);
    ir_graph_free(back);
    ir_graph_free(x);
    /* int8 activations: symmetric, and a Relu is then no longer redundant */
    xform_opts s8 = opts("xform.activations=int8", 4);
    x = apply("INT8", g, &s8, &rep);
    assert_int_equal(rep.absorbed, 0);
    assert_int_equal(count_op(x, "Relu"), 2);
    assert_true(worst_cosine(g, x, 2) > 0.999);
    ir_graph_free(x);
    ir_graph_free(g);
}

/* The test hook negates the first quantized weights: a wrong model. */
static void test_int8_test_break(void **state) {
    (void)state;
    ir_graph *g = zoo("simple");
    xform_opts o = opts("xform.test_break=1", 2);
    assert_int_equal(o.test_break, 1);
    xform_report rep;
    ir_graph *x = apply("INT8", g, &o, &rep);
    assert_true(worst_cosine(g, x, 2) < 0.9);
    ir_graph_free(x);
    ir_graph_free(g);
}

/* x[N, 64] -> Relu -> y: the ranges are the generated values' own. */
static ir_graph *relu_graph(void) {
    ir_graph *g = ir_graph_new();
    calma_error e = {0};
    int64_t dims[2] = {-1, 64};
    const char *params[2] = {"N", NULL};
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, dims, params), 0);
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dims, params), 0);
    assert_non_null(
        ir_graph_add_node(g, "Relu", "r", 1, (const char *[]){"x"}, 1, (const char *[]){"y"}));
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    return g;
}

static void test_calibration_ranges(void **state) {
    (void)state;
    ir_graph *g = relu_graph();
    xform_calib_opts o;
    xform_calib_defaults(&o);
    o.batches = 5;
    o.seed = 3;
    xform_ranges r;
    calma_error e = {0};
    assert_int_equal(xform_calibrate(g, (const char *const[]){"x", "y"}, 2, &o, &r, &e), CALMA_OK);
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 5; k++) {
        ir_tensor t = {0};
        int64_t dims[2] = {1, 64};
        assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 2, dims, &e), CALMA_OK);
        gen_fill(&t, 3, 0, XFORM_CALIB_SAMPLE_BASE + (uint64_t)k);
        for (int i = 0; i < 64; i++) {
            double v = ((float *)t.data)[i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        ir_tensor_free(&t);
    }
    assert_int_equal(r.batches, 5);
    assert_true(xform_ranges_find(&r, "x")->min == lo && xform_ranges_find(&r, "x")->max == hi);
    assert_true(xform_ranges_find(&r, "y")->min == 0 && xform_ranges_find(&r, "y")->max == hi);
    /* the file keeps every digit */
    const char *build = getenv("CALMA_BUILD_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/test-runs/xform-ranges.txt", build ? build : ".");
    mkdir(build ? build : ".", 0755);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/test-runs", build ? build : ".");
    mkdir(dir, 0755);
    assert_int_equal(xform_ranges_save(&r, path, &e), CALMA_OK);
    xform_ranges back;
    assert_int_equal(xform_ranges_load(path, &back, &e), CALMA_OK);
    assert_int_equal(back.n, 2);
    assert_true(xform_ranges_find(&back, "x")->min == lo);
    xform_ranges_free(&back);
    /* percentile ranges lie inside min/max */
    o.method = XFORM_CALIB_PERCENTILE;
    o.percentile = 90;
    xform_ranges p;
    assert_int_equal(xform_calibrate(g, NULL, 0, &o, &p, &e), CALMA_OK);
    assert_int_equal(p.n, 2); /* every float activation */
    assert_true(xform_ranges_find(&p, "x")->max < hi && xform_ranges_find(&p, "x")->min > lo);
    assert_true(xform_ranges_find(&p, "x")->max > 0.8 * hi);
    xform_ranges_free(&p);
    xform_ranges_free(&r);
    /* bad requests */
    assert_int_equal(xform_calibrate(g, (const char *const[]){"nope"}, 1, &o, &r, &e),
                     CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "nope"));
    o.batches = 0;
    assert_int_equal(xform_calibrate(g, NULL, 0, &o, &r, &e), CALMA_E_USAGE);
    ir_graph_free(g);
}

static void test_qparams(void **state) {
    (void)state;
    float s;
    uint8_t z;
    xform_range r = {"v", -1.0, 3.0};
    xform_qparams_u8(&r, &s, &z);
    assert_true(fabsf(s - 4.0f / 255) < 1e-9f);
    assert_int_equal(z, 64);
    xform_range pos = {"v", 0.5, 2.0}; /* widened to hold 0 */
    xform_qparams_u8(&pos, &s, &z);
    assert_int_equal(z, 0);
    assert_true(fabsf(s - 2.0f / 255) < 1e-9f);
    xform_range zero = {"v", 0, 0};
    xform_qparams_u8(&zero, &s, &z);
    assert_true(s == 1.0f && z == 0);
    xform_range sym = {"v", -2.0, 1.0};
    assert_true(fabsf(xform_qparams_s8(&sym) - 2.0f / 127) < 1e-9f);
    ir_tensor w = {0};
    calma_error e = {0};
    int64_t dims[2] = {2, 3};
    assert_int_equal(ir_tensor_alloc(&w, CALMA_DT_FLOAT, 2, dims, &e), CALMA_OK);
    float *p = w.data;
    p[0] = 0.5f, p[1] = -2.54f, p[2] = 1; /* channel 0: max 2.54 */
    float sc[3];
    assert_int_equal(xform_weight_scales(&w, 0, sc, &e), CALMA_OK);
    assert_true(fabsf(sc[0] - 2.54f / 127) < 1e-7f);
    assert_true(sc[1] == 1.0f); /* all zero */
    assert_int_equal(xform_weight_scales(&w, 1, sc, &e), CALMA_OK);
    assert_true(fabsf(sc[1] - 2.54f / 127) < 1e-7f);
    assert_int_equal(xform_weight_scales(&w, 2, sc, &e), CALMA_E_INVALID);
    ir_tensor_free(&w);
}

static void test_refusals(void **state) {
    (void)state;
    xform_opts o = opts(NULL, 1);
    xform_report rep;
    ir_graph *out = NULL;
    calma_error e = {0};
    /* nothing to convert */
    ir_graph *g = ir_graph_new();
    int64_t dims[2] = {1, 4};
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, dims, NULL);
    ir_graph_add_output(g, "y", CALMA_DT_INT64, 1, (int64_t[]){2}, NULL);
    ir_graph_add_node(g, "Shape", "s", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    assert_int_equal(xform_apply(xform_find("INT8"), g, &o, NULL, &out, NULL, &rep, &e),
                     CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "to quantize"));
    ir_graph_free(g);
    /* INT8 needs per-channel DequantizeLinear (opset 13) */
    g = zoo("simple");
    ir_graph_set_opset(g, "", 11);
    assert_int_equal(xform_apply(xform_find("INT8"), g, &o, NULL, &out, NULL, &rep, &e),
                     CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "opset 11"));
    ir_graph_free(g);
    /* a float16 model already */
    g = zoo("simple");
    ir_graph *half = apply("FP16", g, &o, &rep);
    assert_int_equal(xform_apply(xform_find("FP16"), half, &o, NULL, &out, NULL, &rep, &e),
                     CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "float32 models"));
    assert_null(out);
    ir_graph_free(half);
    ir_graph_free(g);
}

static void test_options(void **state) {
    (void)state;
    xform_opts o;
    calma_error e = {0};
    assert_int_equal(
        xform_parse_options("spin=1,xform.calibrate=percentile,xform.percentile=99.9", &o, &e),
        CALMA_OK);
    assert_int_equal(o.calib.method, XFORM_CALIB_PERCENTILE);
    assert_true(o.calib.percentile == 99.9);
    assert_int_equal(o.act, CALMA_DT_UINT8);
    assert_int_equal(xform_parse_options("xform.calibrate=entropy", &o, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "minmax or percentile"));
    assert_int_equal(xform_parse_options("xform.percentile=40", &o, &e), CALMA_E_USAGE);
    assert_int_equal(xform_parse_options("xform.activations=int4", &o, &e), CALMA_E_USAGE);
    assert_int_equal(xform_parse_options("xform.bogus=1", &o, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "xform.bogus"));
    char d[512];
    xform_parse_options("xform.activations=int8", &o, &e);
    xform_opts_describe(xform_find("INT8"), &o, d, sizeof d);
    assert_non_null(strstr(d, "activations=int8"));
}

/* The op table, written for tests/tools/onnx_check to hold against the
 * installed ONNX's schemas. */
static void test_write_optable(void **state) {
    (void)state;
    const char *build = getenv("CALMA_BUILD_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/test-runs/xform-models/optable.txt", build ? build : ".");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < xform_optable_count(); i++) {
        int a, b;
        const char *op = xform_optable_at(i, &a, &b);
        fprintf(f, "%s %d %d\n", op, a, b);
    }
    fclose(f);
    assert_true(xform_optable_count() > 100);
    /* and a model the checker must refuse (a bfloat16 Conv at opset 17), so
     * that its passing the others means something */
    ir_graph *g = ir_graph_new();
    calma_error e = {0};
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1};
    ir_graph_set_opset(g, "", 17);
    ir_graph_add_input(g, "x", CALMA_DT_BFLOAT16, 4, xd, NULL);
    ir_graph_add_output(g, "y", CALMA_DT_BFLOAT16, 4, xd, NULL);
    ir_tensor w = {0};
    assert_int_equal(ir_tensor_alloc(&w, CALMA_DT_BFLOAT16, 4, wd, &e), CALMA_OK);
    ir_graph_add_initializer(g, "w", &w);
    ir_graph_add_node(g, "Conv", "c", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    snprintf(path, sizeof path, "%s/test-runs/xform-invalid", build ? build : ".");
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/test-runs/xform-invalid/conv-bf16.onnx", build ? build : ".");
    assert_int_equal(onnx_save(g, path, &e), CALMA_OK);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fp16_simple),
        cmocka_unit_test(test_fp16_keeps_unsafe_ops),
        cmocka_unit_test(test_bf16_keeps_conv),
        cmocka_unit_test(test_int8_simple),
        cmocka_unit_test(test_int8_mlp_and_activations),
        cmocka_unit_test(test_int8_test_break),
        cmocka_unit_test(test_calibration_ranges),
        cmocka_unit_test(test_qparams),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_write_optable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
