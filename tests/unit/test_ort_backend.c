/* The ONNX Runtime backend through include/calma/backend.h: every zoo model
 * against the oracle, ONNX test-suite cases of every dtype, error texts,
 * and "unavailable" when the library is absent. Tests that need the library
 * are skipped when it is not installed (scripts/fetch-ort.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backends.h"
#include "backends/ort/ort_internal.h"
#include "bench/validate.h"
#include "io/gen.h"
#include "ir/ir.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"
#define MAX_T 8

static const calma_conversion *conv(const char *name) {
    for (const calma_conversion *c = ortbe_conversions; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    fail_msg("no conversion %s", name);
    return NULL;
}

static int ort_here(void) {
    calma_error e = {0};
    const calma_conversion *c = conv("ORT_CPU");
    return c->backend->probe(c, &e) == CALMA_OK;
}

#define NEED_ORT()                                                                                 \
    do {                                                                                           \
        if (!ort_here()) skip();                                                                   \
    } while (0)

static calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

/* Runs the model at path through conversion name `runs` times; got[k] is
 * allocated like like[k]. Returns the status of the first failing call. */
static int run_ort(const char *name, const char *path, const ir_graph *g, const char *options,
                   int threads, int n_in, const ir_tensor *in, char **in_names, int n_out,
                   const ir_tensor *like, char **out_names, ir_tensor *got, int runs,
                   calma_error *e) {
    const calma_conversion *c = conv(name);
    calma_tensor ti[MAX_T], to[MAX_T];
    for (int i = 0; i < n_in; i++) ti[i] = view(&in[i], in_names[i]);
    for (int k = 0; k < n_out; k++) {
        assert_int_equal(ir_tensor_alloc(&got[k], like[k].dtype, like[k].rank, like[k].dims, e), 0);
        to[k] = view(&got[k], out_names[k]);
    }
    calma_model m = {.path = path,
                     .graph = g,
                     .n_inputs = n_in,
                     .inputs = ti,
                     .n_outputs = n_out,
                     .outputs = to};
    calma_trial_config cfg = {.batch = 1, .threads = threads, .options = options};
    void *st = NULL;
    int rc = c->backend->probe(c, e);
    if (!rc) rc = c->backend->load(c, &m, &cfg, &st, e);
    if (!rc && c->backend->convert) rc = c->backend->convert(st, e);
    for (int r = 0; !rc && r < runs; r++) rc = c->backend->run(st, ti, n_in, to, n_out, e);
    c->backend->release(st);
    return rc;
}

static void expect_close(const ir_tensor *ref, const ir_tensor *got, const char *what) {
    calma_error e = {0};
    validate_result r;
    validate_tol tol = validate_default_tol(ref->dtype);
    if (ref->dtype == CALMA_DT_FLOAT) tol = (validate_tol){1e-4, 1e-3};
    assert_int_equal(validate_compare(ref, got, tol, &r, &e), CALMA_OK);
    if (!r.pass) fail_msg("%s: %s", what, r.why);
}

/* ---- ONNX test-suite cases: inputs and expected outputs from .pb files ---- */

static void node_case(const char *name, int n_in, int n_out) {
    char path[640], dir[512];
    snprintf(dir, sizeof dir, NODE_DIR "%s", name);
    if (access(dir, R_OK) != 0) skip();
    ir_tensor in[MAX_T] = {0}, want[MAX_T] = {0}, got[MAX_T] = {0};
    char *in_names[MAX_T] = {0}, *out_names[MAX_T] = {0};
    calma_error e = {0};
    for (int i = 0; i < n_in; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
        assert_int_equal(onnx_load_tensor(path, &in[i], &in_names[i], &e), CALMA_OK);
    }
    for (int k = 0; k < n_out; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, k);
        assert_int_equal(onnx_load_tensor(path, &want[k], &out_names[k], &e), CALMA_OK);
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    int rc = run_ort("ORT_CPU", path, NULL, "", 1, n_in, in, in_names, n_out, want, out_names, got,
                     2, &e);
    if (rc) fail_msg("%s: %s", name, e.msg);
    for (int k = 0; k < n_out; k++) expect_close(&want[k], &got[k], name);
    for (int i = 0; i < MAX_T; i++) {
        ir_tensor_free(&in[i]);
        ir_tensor_free(&want[i]);
        ir_tensor_free(&got[i]);
        free(in_names[i]);
        free(out_names[i]);
    }
}

static void test_node_dtypes(void **state) {
    (void)state;
    NEED_ORT();
    node_case("test_add", 2, 1);                         /* float32 */
    node_case("test_add_uint8", 2, 1);                   /* uint8 */
    node_case("test_and2d", 2, 1);                       /* bool */
    node_case("test_equal", 2, 1);                       /* int32 -> bool */
    node_case("test_argmax_default_axis_example", 1, 1); /* int64 out */
    node_case("test_cast_FLOAT_to_FLOAT16", 1, 1);       /* float16 out */
    node_case("test_cast_FLOAT16_to_DOUBLE", 1, 1);      /* float16 in, double out */
    node_case("test_quantizelinear", 3, 1);              /* uint8 out */
    node_case("test_matmulinteger", 4, 1);               /* uint8 in, int32 out */
    node_case("test_mod_mixed_sign_int8", 2, 1);         /* int8 */
    node_case("test_gather_0", 2, 1);                    /* int64 indices */
    node_case("test_split_equal_parts_1d", 1, 3);        /* several outputs */
    node_case("test_where_example", 3, 1);               /* bool, float, float */
}

/* ---- zoo models against the oracle ---- */

/* With by_graph the backend gets no path, only the graph (as for a zoo model
 * the worker built in memory). */
static void zoo_case(const char *model, const char *conversion, const char *options, int threads,
                     int by_graph) {
    calma_error e = {0};
    ir_graph *g = NULL;
    assert_int_equal(zoo_build(model, 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, 1);
    char path[256];
    snprintf(path, sizeof path, "/tmp/calma-test-ort-%d-%s.onnx", (int)getpid(), model);
    if (onnx_save(g, path, &e)) fail_msg("onnx_save %s: %s", model, e.msg);
    assert_true(g->n_inputs <= MAX_T && g->n_outputs <= MAX_T);
    ir_tensor in[MAX_T] = {0}, want[MAX_T] = {0}, got[MAX_T] = {0};
    char *in_names[MAX_T], *out_names[MAX_T];
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        assert_int_equal(ir_tensor_alloc(&in[i], v->dtype, v->rank, v->dims, &e), CALMA_OK);
        gen_fill(&in[i], 42, i, 0);
        in_names[i] = v->name;
    }
    for (int k = 0; k < g->n_outputs; k++) out_names[k] = g->values[g->outputs[k]].name;
    ref_session *rs = NULL;
    if (ref_session_create(g, &rs, &e)) fail_msg("oracle on %s: %s", model, e.msg);
    if (ref_session_run(rs, in, want, &e)) fail_msg("oracle on %s: %s", model, e.msg);
    /* The temporary model file lives in TMPDIR and is gone after the run. */
    char tmpdir[] = "/tmp/calma-test-ort-XXXXXX";
    char *old_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    if (by_graph) {
        assert_non_null(mkdtemp(tmpdir));
        setenv("TMPDIR", tmpdir, 1);
    }
    int rc = run_ort(conversion, by_graph ? NULL : path, g, options, threads, g->n_inputs, in,
                     in_names, g->n_outputs, want, out_names, got, 2, &e);
    if (by_graph) {
        if (old_tmp)
            setenv("TMPDIR", old_tmp, 1);
        else
            unsetenv("TMPDIR");
        assert_int_equal(rmdir(tmpdir), 0); /* fails unless empty */
    }
    free(old_tmp);
    if (rc) fail_msg("%s on %s: %s", conversion, model, e.msg);
    char what[128];
    snprintf(what, sizeof what, "%s on %s", conversion, model);
    for (int k = 0; k < g->n_outputs; k++) expect_close(&want[k], &got[k], what);
    for (int i = 0; i < MAX_T; i++) {
        ir_tensor_free(&in[i]);
        ir_tensor_free(&want[i]);
        ir_tensor_free(&got[i]);
    }
    ref_session_free(rs);
    ir_graph_free(g);
    unlink(path);
}

static void test_zoo_models(void **state) {
    (void)state;
    NEED_ORT();
    for (int i = 0; i < zoo_count(); i++) zoo_case(zoo_name(i), "ORT_CPU", "", 1, 0);
}

static void test_levels_threads_spin(void **state) {
    (void)state;
    NEED_ORT();
    zoo_case("mlp", "ORT_CPU_EXTENDED", "", 2, 0);
    zoo_case("mlp", "ORT_CPU_BASIC", "spin=1", 2, 0);
    zoo_case("mlp", "ORT_CPU_NOOPT", "ort.log=error", 1, 0);
    zoo_case("mlp", "ORT_CPU", "", 1, 1);
}

/* ---- errors carry ORT's own text ---- */

static void test_bad_model(void **state) {
    (void)state;
    NEED_ORT();
    char path[256];
    snprintf(path, sizeof path, "/tmp/calma-test-ort-%d-bad.onnx", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("this is not a protobuf at all \xff\xff\xff\xff", f);
    fclose(f);
    ir_tensor like = {.dtype = CALMA_DT_FLOAT, .rank = 1, .dims = {4}}, got = {0}, in = {0};
    char *names[] = {"x"};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&in, CALMA_DT_FLOAT, 1, like.dims, &e), 0);
    int rc = run_ort("ORT_CPU", path, NULL, "", 1, 1, &in, names, 1, &like, names, &got, 1, &e);
    assert_int_not_equal(rc, CALMA_OK);
    assert_true(rc == CALMA_E_PARSE || rc == CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "ONNX Runtime:"));
    assert_non_null(strstr(e.msg, path));
    ir_tensor_free(&in);
    ir_tensor_free(&got);
    unlink(path);
}

/* An op no ORT kernel implements: "unsupported", naming the op. */
static void test_unknown_op(void **state) {
    (void)state;
    NEED_ORT();
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    int64_t dims[] = {4};
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, dims, NULL), 0);
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, dims, NULL), 0);
    const char *in[] = {"x"}, *out[] = {"y"};
    assert_non_null(ir_graph_add_node(g, "Frobnicate", "frob0", 1, in, 1, out));
    char path[256];
    snprintf(path, sizeof path, "/tmp/calma-test-ort-%d-frob.onnx", (int)getpid());
    assert_int_equal(onnx_save(g, path, &e), CALMA_OK);
    ir_tensor x = {0}, got = {0};
    assert_int_equal(ir_tensor_alloc(&x, CALMA_DT_FLOAT, 1, dims, &e), 0);
    char *in_names[] = {"x"}, *out_names[] = {"y"};
    int rc = run_ort("ORT_CPU", path, NULL, "", 1, 1, &x, in_names, 1, &x, out_names, &got, 1, &e);
    if (rc != CALMA_E_UNSUPPORTED || !strstr(e.msg, "Frobnicate"))
        fail_msg("status %d: %s", rc, e.msg);
    ir_tensor_free(&x);
    ir_tensor_free(&got);
    ir_graph_free(g);
    unlink(path);
}

/* A caller whose buffers move between runs still gets right answers (the
 * binding is remade), and a wrong output shape is ORT's error, not a
 * silent overrun. */
static void test_rebind_and_shape(void **state) {
    (void)state;
    NEED_ORT();
    const calma_conversion *c = conv("ORT_CPU");
    calma_error e = {0};
    int64_t dims[] = {3, 4, 5}, bad[] = {3, 4, 6};
    ir_tensor x = {0}, y = {0}, z1 = {0}, z2 = {0}, zb = {0};
    assert_int_equal(ir_tensor_alloc(&x, CALMA_DT_FLOAT, 3, dims, &e), 0);
    assert_int_equal(ir_tensor_alloc(&y, CALMA_DT_FLOAT, 3, dims, &e), 0);
    assert_int_equal(ir_tensor_alloc(&z1, CALMA_DT_FLOAT, 3, dims, &e), 0);
    assert_int_equal(ir_tensor_alloc(&z2, CALMA_DT_FLOAT, 3, dims, &e), 0);
    assert_int_equal(ir_tensor_alloc(&zb, CALMA_DT_FLOAT, 3, bad, &e), 0);
    for (size_t i = 0; i < 60; i++) ((float *)x.data)[i] = (float)i, ((float *)y.data)[i] = 0.5f;
    calma_tensor ti[2] = {view(&x, "x"), view(&y, "y")}, to[1] = {view(&z1, "sum")};
    calma_model m = {.path = NODE_DIR "test_add/model.onnx",
                     .n_inputs = 2,
                     .inputs = ti,
                     .n_outputs = 1,
                     .outputs = to};
    calma_trial_config cfg = {.batch = 1, .threads = 1, .options = ""};
    void *st = NULL;
    assert_int_equal(c->backend->load(c, &m, &cfg, &st, &e), CALMA_OK);
    assert_int_equal(c->backend->convert(st, &e), CALMA_OK);
    assert_int_equal(c->backend->run(st, ti, 2, to, 1, &e), CALMA_OK);
    assert_true(((float *)z1.data)[59] == 59.5f);
    to[0] = view(&z2, "sum");
    ((float *)y.data)[59] = 2.0f;
    assert_int_equal(c->backend->run(st, ti, 2, to, 1, &e), CALMA_OK);
    assert_true(((float *)z2.data)[59] == 61.0f);
    assert_true(((float *)z1.data)[59] == 59.5f);
    to[0] = view(&zb, "sum");
    assert_int_not_equal(c->backend->run(st, ti, 2, to, 1, &e), CALMA_OK);
    assert_non_null(strstr(e.msg, "ONNX Runtime:"));
    /* A name the model does not have is caught at convert, naming both. */
    c->backend->release(st);
    ti[1].name = "why";
    assert_int_equal(c->backend->load(c, &m, &cfg, &st, &e), CALMA_OK);
    assert_int_equal(c->backend->convert(st, &e), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "'why'"));
    assert_non_null(strstr(e.msg, "'y'"));
    c->backend->release(st);
    ir_tensor_free(&x);
    ir_tensor_free(&y);
    ir_tensor_free(&z1);
    ir_tensor_free(&z2);
    ir_tensor_free(&zb);
}

/* ---- availability ---- */

static void test_version(void **state) {
    (void)state;
    NEED_ORT();
    const char *v = conv("ORT_CPU")->backend->version();
    assert_non_null(v);
    assert_true(v[0] >= '1' && v[0] <= '9' && strchr(v, '.'));
}

static void test_missing_library(void **state) {
    (void)state;
    const char *missing = "/nonexistent/calma/libonnxruntime.so.1";
    char *old = getenv(ORTBE_ENV_LIBRARY) ? strdup(getenv(ORTBE_ENV_LIBRARY)) : NULL;
    setenv(ORTBE_ENV_LIBRARY, missing, 1);
    for (const calma_conversion *c = ortbe_conversions; c->name; c++) {
        calma_error e = {0};
        assert_int_equal(c->backend->probe(c, &e), CALMA_E_UNAVAILABLE);
        assert_int_equal(e.status, CALMA_E_UNAVAILABLE);
        assert_non_null(strstr(e.msg, "scripts/setup.sh"));
        if (!strstr(e.msg, "without the ONNX Runtime headers"))
            assert_non_null(strstr(e.msg, missing));
        calma_model m = {.path = NODE_DIR "test_add/model.onnx"};
        calma_trial_config cfg = {.batch = 1, .threads = 1, .options = ""};
        void *st = (void *)&m;
        assert_int_equal(c->backend->load(c, &m, &cfg, &st, &e), CALMA_E_UNAVAILABLE);
        assert_null(st);
        c->backend->release(st);
    }
    assert_null(conv("ORT_CPU")->backend->version());
    if (old) {
        setenv(ORTBE_ENV_LIBRARY, old, 1);
        free(old);
    } else {
        unsetenv(ORTBE_ENV_LIBRARY);
    }
}

/* A file that is not a library, and a library that is not ONNX Runtime:
 * unavailable with the loader's reason, never a crash. */
static void test_wrong_library(void **state) {
    (void)state;
    static const char *const paths[] = {"/etc/passwd", "libm.so.6"};
    const calma_conversion *c = conv("ORT_CPU");
    char *old = getenv(ORTBE_ENV_LIBRARY) ? strdup(getenv(ORTBE_ENV_LIBRARY)) : NULL;
    for (int i = 0; i < 2; i++) {
        setenv(ORTBE_ENV_LIBRARY, paths[i], 1);
        calma_error e = {0};
        assert_int_equal(c->backend->probe(c, &e), CALMA_E_UNAVAILABLE);
        if (strstr(e.msg, "without the ONNX Runtime headers")) continue;
        if (i == 0)
            assert_non_null(strstr(e.msg, "/etc/passwd"));
        else
            assert_non_null(strstr(e.msg, "OrtGetApiBase"));
        assert_null(c->backend->version());
    }
    if (old) {
        setenv(ORTBE_ENV_LIBRARY, old, 1);
        free(old);
    } else {
        unsetenv(ORTBE_ENV_LIBRARY);
    }
}

static void test_cuda_unavailable_here(void **state) {
    (void)state;
    NEED_ORT();
    char why[256];
    calma_error e = {0};
    const calma_conversion *c = conv("ORT_CUDA");
    int rc = c->backend->probe(c, &e);
    if (rc == CALMA_OK) skip(); /* a GPU build on a GPU machine */
    assert_int_equal(rc, CALMA_E_UNAVAILABLE);
    assert_true(strstr(e.msg, "CUDA") || !ortbe_gpu_present(why, sizeof why));
    assert_true(strlen(e.msg) > 20);
}

static void test_table(void **state) {
    (void)state;
    assert_string_equal(conv("ORT_CPU")->aliases, "ONNX_CPU,ONNX");
    assert_int_equal(conv("ORT_CPU")->tier, 1);
    assert_int_equal(conv("ORT_CPU_NOOPT")->tier, 3);
    assert_string_equal(conv("ORT_CUDA")->device, "cuda");
    int n = 0;
    for (const calma_conversion *c = ortbe_conversions; c->name; c++, n++) {
        assert_non_null(c->data);
        assert_non_null(c->description);
    }
    assert_int_equal(n, 5);
}

static void test_options(void **state) {
    (void)state;
    ortbe_options o;
    calma_error e = {0};
    assert_int_equal(ortbe_parse_options("", &o, &e), CALMA_OK);
    assert_int_equal(o.spin, 0);
    assert_int_equal(o.log_level, 3);
    assert_int_equal(ortbe_parse_options("xnn.foo=3,spin=1,ort.log=warning", &o, &e), CALMA_OK);
    assert_int_equal(o.spin, 1);
    assert_int_equal(o.log_level, 2);
    assert_int_equal(ortbe_parse_options("ort.spin=off", &o, &e), CALMA_OK);
    assert_int_equal(o.spin, 0);
    assert_int_equal(ortbe_parse_options("spin=maybe", &o, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "maybe"));
    assert_int_equal(ortbe_parse_options("ort.turbo=1", &o, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "ort.turbo"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_wrong_library),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_cuda_unavailable_here),
        cmocka_unit_test(test_node_dtypes),
        cmocka_unit_test(test_bad_model),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_rebind_and_shape),
        cmocka_unit_test(test_levels_threads_spin),
        cmocka_unit_test(test_zoo_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
