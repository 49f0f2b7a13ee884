/* `calma conformance` as a user runs it: output lines, totals, exit codes
 * (0 nothing failed, 1 a case failed, 2 bad usage). */
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

#include "conform/conform.h"

/* Runs `calma conformance ARGS`, capturing stdout and stderr into out. */
static int run_calma(const char *args, char *out, size_t n) {
    const char *bin = getenv("CALMA_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("CALMA_BIN is not set or not executable: skipping\n");
        skip();
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' conformance %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void need_suite(void) {
    struct stat st;
    if (stat(CONFORM_DATA_ROOT "/node/test_abs", &st) != 0) {
        printf("libonnx-testdata is not installed: skipping\n");
        skip();
    }
}

static char out[1 << 16];

static void test_pass_and_totals(void **state) {
    (void)state;
    need_suite();
    int rc = run_calma(CONFORM_DATA_ROOT "/node/test_abs " CONFORM_DATA_ROOT
                                         "/node/test_reshape_negative_dim",
                       out, sizeof out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "pass  node/test_abs\n"));
    assert_non_null(strstr(out, "pass  node/test_reshape_negative_dim\n"));
    assert_non_null(strstr(out, "all "));
    assert_non_null(strstr(out, "2 passed"));
    assert_non_null(strstr(out, "ops the oracle runs: "));
}

static void test_filter_unsupported_and_fail(void **state) {
    (void)state;
    need_suite();
    /* unsupported is not a failure */
    int rc = run_calma("--filter test_loop11 " CONFORM_DATA_ROOT "/node", out, sizeof out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "unsupported  node/test_loop11: op 'Loop'"));
    assert_null(strstr(out, "test_abs"));
    /* an excluded case that fails makes the exit status 1 */
    rc = run_calma(CONFORM_DATA_ROOT "/node/test_cast_FLOAT_to_BFLOAT16", out, sizeof out);
    assert_int_equal(rc, 1);
    assert_non_null(
        strstr(out, "fail  node/test_cast_FLOAT_to_BFLOAT16: output 0 'output' element"));
}

static void test_usage_errors(void **state) {
    (void)state;
    assert_int_equal(run_calma("--frobnicate", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    assert_int_equal(run_calma("/no/such/folder", out, sizeof out), 2);
    assert_non_null(strstr(out, "/no/such/folder"));
    assert_int_equal(run_calma("--conversion NO_SUCH_ENGINE", out, sizeof out), 2);
    assert_non_null(strstr(out, "NO_SUCH_ENGINE"));
    assert_int_equal(run_calma("--filter", out, sizeof out), 2);
    assert_int_equal(run_calma("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: calma conformance"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_and_totals),
        cmocka_unit_test(test_filter_unsupported_and_fail),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
