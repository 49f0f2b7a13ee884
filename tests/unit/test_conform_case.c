/* Unit tests of the conformance runner's parts: output comparison,
 * exclusion lists, case labels, and single cases written on the fly
 * (pass, fail, unsupported, unreadable) so that no bad case crashes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conform/conform.h"
#include "onnx/onnx.h"

#define S(...) ((const char *const[]){__VA_ARGS__})

static ir_tensor vec_f32(int n, const float *v) {
    ir_tensor t = {0};
    int64_t d = n;
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 1, &d, NULL), CALMA_OK);
    memcpy(t.data, v, sizeof(float) * (size_t)n);
    return t;
}

static void test_compare_floats(void **state) {
    (void)state;
    char msg[256];
    float e[] = {1.0f, 2.0f, NAN, 100.0f};
    float g[] = {1.0f, 2.0015f, NAN, 100.05f}; /* within 1e-7 + 1e-3*|exp| */
    ir_tensor te = vec_f32(4, e), tg = vec_f32(4, g);
    assert_true(conform_compare(&tg, &te, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    ((float *)tg.data)[1] = 2.5f;
    ((float *)tg.data)[3] = 100.2f;
    assert_false(conform_compare(&tg, &te, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    /* the worst element is reported: 0.5 off at 2 beats 0.2 off at 100 */
    assert_non_null(strstr(msg, "element 1: got 2.5 expected 2"));
    assert_non_null(strstr(msg, "2 of 4 differ"));
    ((float *)tg.data)[1] = 2.0f;
    ((float *)tg.data)[3] = 100.0f;
    ((float *)tg.data)[2] = 0.0f; /* NaN expected, number given */
    assert_false(conform_compare(&tg, &te, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    assert_non_null(strstr(msg, "element 2"));
    ((float *)tg.data)[2] = NAN;
    tg.dims[0] = 3; /* shape mismatch */
    assert_false(conform_compare(&tg, &te, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    assert_non_null(strstr(msg, "shape [3], expected [4]"));
    tg.dims[0] = 4;
    tg.dtype = CALMA_DT_INT32;
    assert_false(conform_compare(&tg, &te, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    assert_non_null(strstr(msg, "dtype int32, expected float32"));
    ir_tensor_free(&te);
    ir_tensor_free(&tg);
}

static void test_compare_ints_exact(void **state) {
    (void)state;
    char msg[256];
    ir_tensor a = {0}, b = {0};
    int64_t d = 3;
    assert_int_equal(ir_tensor_alloc(&a, CALMA_DT_INT64, 1, &d, NULL), CALMA_OK);
    assert_int_equal(ir_tensor_alloc(&b, CALMA_DT_INT64, 1, &d, NULL), CALMA_OK);
    int64_t *pa = a.data, *pb = b.data;
    pa[0] = pb[0] = 5;
    pa[1] = pb[1] = -7;
    pa[2] = 1000000000001;
    pb[2] = 1000000000000; /* within rtol, but integers compare exactly */
    assert_false(conform_compare(&a, &b, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    assert_non_null(strstr(msg, "element 2: got 1000000000001 expected 1000000000000"));
    pa[2] = pb[2];
    assert_true(conform_compare(&a, &b, CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg));
    ir_tensor_free(&a);
    ir_tensor_free(&b);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char tmp_root[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/calma_conform_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_exclusions(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/excl.txt", tmp_root);
    write_file(path, "# comment\n\nnode/test_a  # a reason\nnode/test_b\tanother reason\n");
    conform_exclusion *x;
    int n;
    calma_error e = {0};
    assert_int_equal(conform_exclusions_load(path, &x, &n, &e), CALMA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(x[0].label, "node/test_a");
    assert_string_equal(x[0].reason, "a reason");
    assert_string_equal(x[1].label, "node/test_b");
    assert_string_equal(x[1].reason, "another reason");
    assert_non_null(conform_exclusion_find(x, n, "node/test_b"));
    assert_null(conform_exclusion_find(x, n, "node/test_c"));
    conform_exclusions_free(x, n);

    write_file(path, "node/test_a  # ok\nnode/test_no_reason\n");
    assert_int_equal(conform_exclusions_load(path, &x, &n, &e), CALMA_E_PARSE);
    assert_non_null(strstr(e.msg, "excl.txt:2"));
    snprintf(path, sizeof path, "%s/missing.txt", tmp_root);
    assert_int_equal(conform_exclusions_load(path, &x, &n, &e), CALMA_E_IO);
}

static void test_labels(void **state) {
    (void)state;
    char buf[256];
    conform_case_label("/usr/share/libonnx-testdata/data/node/test_abs", buf, sizeof buf);
    assert_string_equal(buf, "node/test_abs");
    conform_case_label("data/simple/test_x/", buf, sizeof buf);
    assert_string_equal(buf, "simple/test_x");
}

/* Writes <root>/<name>/model.onnx (x -> op -> y, float[3]) and one data
 * set with the given expected output. */
static void write_case(const char *name, const char *op, const float *expect, int write_output) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/suite/%s", tmp_root, name);
    snprintf(path, sizeof path, "%s/suite", tmp_root);
    mkdir(path, 0755);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/test_data_set_0", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    ir_graph *g = ir_graph_new();
    int64_t d[] = {3};
    ir_graph_set_opset(g, "", 13);
    ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 1, d, NULL);
    assert_non_null(ir_graph_add_node(g, op, "n0", 1, S("x"), 1, S("y")));
    ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 1, d, NULL);
    calma_error e = {0};
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    assert_int_equal(onnx_save(g, path, &e), CALMA_OK);
    ir_graph_free(g);
    float xv[] = {1, 2, 3};
    ir_tensor x = vec_f32(3, xv), y = vec_f32(3, expect);
    snprintf(path, sizeof path, "%s/test_data_set_0/input_0.pb", dir);
    assert_int_equal(onnx_save_tensor(&x, "x", path, &e), CALMA_OK);
    if (write_output) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
        assert_int_equal(onnx_save_tensor(&y, "y", path, &e), CALMA_OK);
    }
    ir_tensor_free(&x);
    ir_tensor_free(&y);
}

typedef struct seen {
    int n;
    char label[8][64];
    conform_result res[8];
} seen;

static void record(void *ctx, const char *label, const conform_result *res) {
    seen *s = ctx;
    if (s->n >= 8) return;
    snprintf(s->label[s->n], sizeof s->label[0], "%s", label);
    s->res[s->n++] = *res;
}

static void test_cases(void **state) {
    (void)state;
    float same[] = {1, 2, 3}, off[] = {1, 2.5f, 3};
    write_case("test_a_pass", "Identity", same, 1);
    write_case("test_b_fail", "Identity", off, 1);
    write_case("test_c_unsupported", "FancyOp", same, 1);
    write_case("test_d_no_output", "Identity", same, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/suite/test_e_garbage", tmp_root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/suite/test_e_garbage/model.onnx", tmp_root);
    write_file(path, "this is not protobuf at all \xff\xff\xff\xff");

    char suite[512];
    snprintf(suite, sizeof suite, "%s/suite", tmp_root);
    const char *dirs[] = {suite};
    seen s = {0};
    char out[8192] = {0};
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    assert_non_null(f);
    conform_options o = {dirs, 1, NULL, 0, f, record, &s};
    conform_totals t;
    calma_error e = {0};
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    fclose(f);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.label[0], "suite/test_a_pass");
    assert_int_equal(s.res[0].status, CONFORM_PASS);
    assert_int_equal(s.res[1].status, CONFORM_FAIL);
    assert_non_null(strstr(s.res[1].detail, "output 0 'y' element 1: got 2 expected 2.5"));
    assert_int_equal(s.res[2].status, CONFORM_UNSUPPORTED);
    assert_string_equal(s.res[2].detail, "op 'FancyOp'");
    assert_int_equal(s.res[3].status, CONFORM_ERROR);
    assert_non_null(strstr(s.res[3].detail, "output_0.pb"));
    assert_int_equal(s.res[4].status, CONFORM_ERROR);
    assert_int_equal(t.pass, 1);
    assert_int_equal(t.fail, 1);
    assert_int_equal(t.unsupported, 1);
    assert_int_equal(t.error, 2);
    assert_non_null(strstr(out, "pass  suite/test_a_pass\n"));
    assert_non_null(strstr(out, "fail  suite/test_b_fail: output 0 'y' element 1"));
    assert_non_null(strstr(out, "unsupported  suite/test_c_unsupported: op 'FancyOp'\n"));
    assert_non_null(strstr(out, "error  suite/test_e_garbage: "));
    assert_non_null(strstr(out, "ops the oracle runs: "));

    /* a single case as the folder, and the filter */
    s.n = 0;
    snprintf(path, sizeof path, "%s/suite/test_b_fail", tmp_root);
    dirs[0] = path;
    o.out = NULL;
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(t.fail, 1);
    s.n = 0;
    dirs[0] = suite;
    o.filter = "unsupported";
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(t.unsupported, 1);

    snprintf(path, sizeof path, "%s/nope", tmp_root);
    dirs[0] = path;
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "nope"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_floats), cmocka_unit_test(test_compare_ints_exact),
        cmocka_unit_test(test_exclusions),     cmocka_unit_test(test_labels),
        cmocka_unit_test(test_cases),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
