/* With the ONNX Runtime library absent (CALMA_ORT_LIBRARY at a missing
 * file), `calma list` and `calma bench` say ORT is unavailable and why, and
 * the run still succeeds for the other conversions. Runs the calma
 * executable ($CALMA_BIN); skipped when it was not built. */
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

#include "test_files.h"

#define MISSING "/nonexistent/calma-test/libonnxruntime.so.1"

static const char *calma_bin(void) {
    const char *bin = getenv("CALMA_BIN");
    if (!bin || access(bin, X_OK) != 0) skip();
    return bin;
}

static void test_list_says_unavailable(void **state) {
    (void)state;
    const char *bin = calma_bin();
    char cmd[1024], *out = malloc(1 << 16);
    assert_non_null(out);
    snprintf(cmd, sizeof cmd, "CALMA_ORT_LIBRARY=%s '%s' list 2>&1", MISSING, bin);
    assert_int_equal(run_cmd(cmd, out, 1 << 16), 0);
    const char *line = strstr(out, "\nORT_CPU ");
    assert_non_null(line);
    const char *eol = strchr(line + 1, '\n');
    assert_non_null(eol);
    assert_non_null(strstr(line, "unavailable"));
    assert_true(strstr(line, "unavailable") < eol);
    /* The reason names the path tried and the command that installs it
     * (or, in a build without the headers, says so). */
    assert_true(strstr(out, MISSING) || strstr(out, "without the ONNX Runtime headers"));
    assert_non_null(strstr(out, "scripts/setup.sh"));
    assert_non_null(strstr(out, "REFERENCE"));
    free(out);
}

static void test_bench_goes_on_without_ort(void **state) {
    (void)state;
    const char *bin = calma_bin();
    char dir[] = "/tmp/calma-test-ort-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048], *out = malloc(1 << 16);
    assert_non_null(out);
    snprintf(cmd, sizeof cmd,
             "CALMA_ORT_LIBRARY=%s '%s' bench simple --conversions REFERENCE,ORT_CPU "
             "--samples 3 --run-dir %s/run 2>&1",
             MISSING, bin, dir);
    int rc = run_cmd(cmd, out, 1 << 16);
    if (rc != 0) fail_msg("exit %d:\n%s", rc, out);
    char run_dir[600];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    keep_report(run_dir, "no-ort");
    assert_non_null(strstr(out, "ORT_CPU"));
    assert_non_null(strstr(out, "unavailable"));
    assert_true(strstr(out, MISSING) || strstr(out, "without the ONNX Runtime headers"));
    /* REFERENCE ran and passed. */
    const char *ref = strstr(out, "\nREFERENCE ");
    assert_non_null(ref);
    assert_non_null(strstr(ref, " ok "));
    /* --strict turns an unavailable conversion into a failing exit. */
    snprintf(cmd, sizeof cmd,
             "CALMA_ORT_LIBRARY=%s '%s' bench simple --conversions REFERENCE,ORT_CPU "
             "--samples 3 --strict --run-dir %s/run2 2>&1",
             MISSING, bin, dir);
    assert_int_equal(run_cmd(cmd, out, 1 << 16), 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_says_unavailable),
        cmocka_unit_test(test_bench_goes_on_without_ort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
