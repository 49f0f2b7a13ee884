/* Every report the test suite writes validates against
 * docs/report.schema.json (checked with python3-jsonschema, a maintained
 * validator, not one of ours). Tests that run `calma bench` keep their run
 * folders under $CALMA_BUILD_DIR/test-runs; this test runs after them (see
 * CMakeLists.txt) and also writes reports of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) fail_msg("%s is not set (run through ctest)", name);
    return v;
}

static void test_reports_valid(void **state) {
    (void)state;
    const char *bin = env("CALMA_BIN"), *src = env("CALMA_SOURCE_DIR"),
               *build = env("CALMA_BUILD_DIR");
    char cmd[8192];
    /* a quick real run, with raw samples kept */
    snprintf(cmd, sizeof cmd,
             "rm -rf %s/test-runs/schema && %s bench mlp --conversions REFERENCE,ORT_CPU "
             "--samples 5 --keep-samples --quiet --run-dir %s/test-runs/schema > /dev/null 2>&1",
             build, bin, build);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    /* the fixed journal rendered as JSON */
    snprintf(cmd, sizeof cmd,
             "%s report %s/tests/data/run-golden --format json > %s/test-runs/golden.report.json",
             bin, src, build);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/tools/check_schema.py %s/docs/report.schema.json "
             "%s/test-runs",
             src, src, build);
    rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    /* and the validator does reject a bad one */
    snprintf(cmd, sizeof cmd,
             "echo '{\"schema_version\": 1, \"trials\": [{\"id\": 3}]}' > %s/bad.report.json && "
             "/usr/bin/python3 %s/tests/tools/check_schema.py %s/docs/report.schema.json "
             "%s/bad.report.json > /dev/null",
             build, src, src, build);
    rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reports_valid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
