/* `calma zoo` end to end through the executable (CALMA_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/npy.h"
#include "onnx/onnx.h"
#include "zoo/zoo.h"

static char out[16384];

/* Runs `$CALMA_BIN args`, stdout and stderr together in out; exit status. */
static int calma(const char *fmt, ...) {
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
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void expect(const char *needle) {
    if (!strstr(out, needle)) fail_msg("expected '%s' in:\n%s", needle, out);
}

static void test_list(void **state) {
    (void)state;
    assert_int_equal(calma("zoo list"), 0);
    for (int i = 0; i < zoo_count(); i++) expect(zoo_name(i));
    expect("11689512");
    expect("11699112"); /* with BatchNorm running statistics */
    expect("3504872");
    expect("float32[N,3,224,224]");
    expect("float32[N,1000]");
    expect("float32[N,32,64]");
    expect("float32[N,784]");
    assert_int_equal(calma("zoo --help"), 0);
    expect("calma zoo list");
}

static void test_bad_usage(void **state) {
    (void)state;
    assert_int_equal(calma("zoo resnet50 -o /tmp/x.onnx"), 2);
    expect("resnet50");
    expect("mobilenet_v2");
    expect("transformer");
    assert_int_equal(calma("zoo"), 2);
    assert_int_equal(calma("zoo mlp"), 2);
    expect("-o");
    assert_int_equal(calma("zoo mlp -o"), 2);
    assert_int_equal(calma("zoo mlp -o /tmp/x.onnx --seed abc"), 2);
    expect("abc");
    assert_int_equal(calma("zoo mlp --frob"), 2);
    assert_int_equal(calma("zoo mlp -o /nonexistent-dir/x.onnx"), 2);
    expect("/nonexistent-dir/x.onnx");
}

/* The file `calma zoo` writes is the built-in model: the same weights
 * (seed 0), so `calma run` gives the same output bytes from either. */
static void test_write_and_run(void **state) {
    (void)state;
    char dir[] = "/tmp/calma_zoocli_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(calma("zoo simple -o %s/simple.onnx", dir), 0);
    expect("simple.onnx");
    assert_int_equal(calma("run %s/simple.onnx -o %s/a.npy --seed 2", dir, dir), 0);
    assert_int_equal(calma("run simple -o %s/b.npy --seed 2", dir), 0);
    char a[128], b[128], m[128];
    snprintf(a, sizeof a, "%s/a.npy", dir);
    snprintf(b, sizeof b, "%s/b.npy", dir);
    calma_error e = {0};
    ir_tensor ta = {0}, tb = {0};
    assert_int_equal(npy_read(a, &ta, &e), CALMA_OK);
    assert_int_equal(npy_read(b, &tb, &e), CALMA_OK);
    assert_int_equal(ta.nbytes, tb.nbytes);
    assert_memory_equal(ta.data, tb.data, ta.nbytes);
    ir_tensor_free(&ta);
    ir_tensor_free(&tb);
    /* the seed changes the weights, and the same seed writes the same bytes */
    assert_int_equal(calma("zoo mlp -o %s/m1.onnx --seed 3", dir), 0);
    assert_int_equal(calma("zoo mlp -o %s/m2.onnx --seed 3", dir), 0);
    assert_int_equal(calma("zoo mlp -o %s/m3.onnx --seed 4", dir), 0);
    snprintf(m, sizeof m, "cmp -s %s/m1.onnx %s/m2.onnx", dir, dir);
    assert_int_equal(system(m), 0);
    snprintf(m, sizeof m, "cmp -s %s/m1.onnx %s/m3.onnx", dir, dir);
    assert_int_not_equal(system(m), 0);
    snprintf(m, sizeof m, "%s/m1.onnx", dir);
    ir_graph *g = NULL;
    assert_int_equal(onnx_load(m, &g, &e), CALMA_OK);
    assert_int_equal(zoo_trainable_params(g), 535818);
    ir_graph_free(g);
    snprintf(m, sizeof m, "rm -rf '%s'", dir);
    assert_int_equal(system(m), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_write_and_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
