/* `calma run` end to end: the executable (CALMA_BIN) is run with popen and
 * its exit status, summary and files are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/gen.h"
#include "io/npy.h"
#include "onnx/onnx.h"

typedef struct fixture {
    char dir[64];
    char out[16384];
} fixture;

/* Runs `$CALMA_BIN args` with stdout and stderr together in f->out;
 * returns the exit status. */
static int calma(fixture *f, const char *fmt, ...) {
    const char *bin = getenv("CALMA_BIN");
    if (!bin) fail_msg("CALMA_BIN is not set (run through ctest)");
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(f->out, 1, sizeof f->out - 1, p);
    f->out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st)); /* never a crash */
    return WEXITSTATUS(st);
}

static void expect(const fixture *f, const char *needle) {
    if (!strstr(f->out, needle)) fail_msg("expected '%s' in:\n%s", needle, f->out);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/calma_run_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

static void read_npy(const char *path, ir_tensor *t) {
    calma_error e = {0};
    if (npy_read(path, t, &e)) fail_msg("%s", e.msg);
}

static void test_ok_summary(void **state) {
    fixture *f = *state;
    assert_int_equal(calma(f, "run simple --output-dir %s/outs", f->dir), 0);
    expect(f, "input");
    expect(f, "float32[1,3,224,224]");
    expect(f, "generated (seed 0)");
    expect(f, "ran");
    expect(f, "ran     the oracle in ");
    expect(f, "float32[1,10]");
    expect(f, "min ");
    expect(f, "max ");
    expect(f, "mean ");
    expect(f, "non-finite 0");
    char path[128];
    snprintf(path, sizeof path, "%s/outs/output.npy", f->dir);
    ir_tensor t = {0};
    read_npy(path, &t);
    assert_int_equal(t.dtype, CALMA_DT_FLOAT);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.dims[0], 1);
    assert_int_equal(t.dims[1], 10);
    ir_tensor_free(&t);
}

static void test_batch_and_seed(void **state) {
    fixture *f = *state;
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s/a.npy", f->dir);
    snprintf(b, sizeof b, "%s/b.npy", f->dir);
    snprintf(c, sizeof c, "%s/c.npy", f->dir);
    assert_int_equal(calma(f, "run mlp --batch 3 --seed 4 --output %s", a), 0);
    expect(f, "float32[3,10]");
    assert_int_equal(calma(f, "run mlp --batch 3 --seed 4 -o %s", b), 0);
    assert_int_equal(calma(f, "run mlp --batch 3 --seed 5 -o %s", c), 0);
    ir_tensor ta = {0}, tb = {0}, tc = {0};
    read_npy(a, &ta);
    read_npy(b, &tb);
    read_npy(c, &tc);
    assert_int_equal(ta.dims[0], 3);
    assert_int_equal(ta.nbytes, tb.nbytes);
    assert_memory_equal(ta.data, tb.data, ta.nbytes);
    assert_memory_not_equal(ta.data, tc.data, ta.nbytes);
    ir_tensor_free(&ta);
    ir_tensor_free(&tb);
    ir_tensor_free(&tc);
    assert_int_equal(calma(f, "run mlp --batch 0"), 2);
    assert_int_equal(calma(f, "run mlp --seed -1"), 2);
}

/* The generated input, saved as .npy and as .pb and given back as files,
 * gives the same output as generating it. */
static void test_input_files(void **state) {
    fixture *f = *state;
    calma_error e = {0};
    ir_tensor in = {0};
    int64_t dims[3] = {1, 32, 64};
    assert_int_equal(ir_tensor_alloc(&in, CALMA_DT_FLOAT, 3, dims, &e), CALMA_OK);
    gen_fill(&in, 9, 0, 0);
    char npy[128], pbdir[128], pb[160], o1[128], o2[128], o3[128];
    snprintf(npy, sizeof npy, "%s/x.npy", f->dir);
    snprintf(pbdir, sizeof pbdir, "%s/test_data_set_0", f->dir);
    snprintf(pb, sizeof pb, "%s/input_0.pb", pbdir);
    snprintf(o1, sizeof o1, "%s/o1.npy", f->dir);
    snprintf(o2, sizeof o2, "%s/o2.npy", f->dir);
    snprintf(o3, sizeof o3, "%s/o3.npy", f->dir);
    assert_int_equal(mkdir(pbdir, 0777), 0);
    assert_int_equal(npy_write(npy, &in, &e), CALMA_OK);
    assert_int_equal(onnx_save_tensor(&in, "input", pb, &e), CALMA_OK);
    ir_tensor_free(&in);
    assert_int_equal(calma(f, "run transformer --seed 9 -o %s", o1), 0);
    assert_int_equal(calma(f, "run transformer --input input=%s -o %s", npy, o2), 0);
    expect(f, "from ");
    assert_int_equal(calma(f, "run transformer --inputs-dir %s -o %s", pbdir, o3), 0);
    expect(f, "input_0.pb");
    ir_tensor t1 = {0}, t2 = {0}, t3 = {0};
    read_npy(o1, &t1);
    read_npy(o2, &t2);
    read_npy(o3, &t3);
    assert_int_equal(t1.nbytes, (size_t)32 * 64 * 4);
    assert_memory_equal(t1.data, t2.data, t1.nbytes);
    assert_memory_equal(t1.data, t3.data, t1.nbytes);
    ir_tensor_free(&t1);
    ir_tensor_free(&t2);
    ir_tensor_free(&t3);
    /* a file alone names the only input; without --batch the batch is the file's */
    assert_int_equal(calma(f, "run transformer --input %s", npy), 0);
    expect(f, "batch 1");
}

static void test_wrong_shape(void **state) {
    fixture *f = *state;
    calma_error e = {0};
    ir_tensor in = {0};
    int64_t dims[4] = {1, 3, 32, 32};
    assert_int_equal(ir_tensor_alloc(&in, CALMA_DT_FLOAT, 4, dims, &e), CALMA_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/small.npy", f->dir);
    assert_int_equal(npy_write(path, &in, &e), CALMA_OK);
    ir_tensor_free(&in);
    assert_int_equal(calma(f, "run simple --input input=%s", path), 2);
    expect(f, "input 'input'");
    expect(f, "float32[1,3,224,224]");
    expect(f, "float32[1,3,32,32]");
    expect(f, "small.npy");
    /* the right shape but the wrong dtype */
    int64_t ok[4] = {1, 3, 224, 224};
    assert_int_equal(ir_tensor_alloc(&in, CALMA_DT_DOUBLE, 4, ok, &e), CALMA_OK);
    assert_int_equal(npy_write(path, &in, &e), CALMA_OK);
    ir_tensor_free(&in);
    assert_int_equal(calma(f, "run simple --input input=%s", path), 2);
    expect(f, "float64[1,3,224,224]");
}

static void test_missing_and_unknown(void **state) {
    fixture *f = *state;
    assert_int_equal(calma(f, "run simple --input input=%s/nope.npy", f->dir), 2);
    expect(f, "nope.npy");
    assert_int_equal(calma(f, "run simple --input other=%s/nope.npy", f->dir), 2);
    expect(f, "no input 'other'");
    expect(f, "'input'");
    assert_int_equal(calma(f, "run %s/missing.onnx", f->dir), 2);
    expect(f, "missing.onnx");
    assert_int_equal(calma(f, "run resnet50"), 2);
    expect(f, "resnet50");
    expect(f, "mobilenet_v2");
    assert_int_equal(calma(f, "run simple --inputs-dir %s/nodir", f->dir), 2);
    expect(f, "input_0.pb");
    /* a directory and a file that is not .npy, as input and as model */
    assert_int_equal(calma(f, "run simple --input input=%s", f->dir), 2);
    char junk[128];
    snprintf(junk, sizeof junk, "%s/junk.npy", f->dir);
    FILE *j = fopen(junk, "w");
    assert_non_null(j);
    fputs("not numpy at all", j);
    fclose(j);
    assert_int_equal(calma(f, "run simple --input %s", junk), 2);
    expect(f, "junk.npy");
    assert_int_equal(calma(f, "run %s", junk), 2);
    expect(f, "junk.npy");
    assert_int_equal(calma(f, "run"), 2);
    assert_int_equal(calma(f, "run simple --bogus"), 2);
    expect(f, "--bogus");
    assert_int_equal(calma(f, "run simple --output"), 2);
    assert_int_equal(calma(f, "run --help"), 0);
    expect(f, "--inputs-dir");
}

static void test_unknown_op(void **state) {
    fixture *f = *state;
    ir_graph *g = ir_graph_new();
    int64_t dims[2] = {-1, 4};
    const char *dp[2] = {"N", NULL};
    const char *in[1] = {"x"}, *out[1] = {"y"};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 2, dims, dp), 0);
    assert_non_null(ir_graph_add_node(g, "FrobnicateAll", "frob", 1, in, 1, out));
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_FLOAT, 2, dims, dp), 0);
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    calma_error e = {0};
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/frob.onnx", f->dir);
    if (onnx_save(g, path, &e)) fail_msg("%s", e.msg);
    ir_graph_free(g);
    assert_int_equal(calma(f, "run %s", path), 2);
    expect(f, "FrobnicateAll");
    expect(f, "frob.onnx");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_summary),          cmocka_unit_test(test_batch_and_seed),
        cmocka_unit_test(test_input_files),         cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_missing_and_unknown), cmocka_unit_test(test_unknown_op),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
