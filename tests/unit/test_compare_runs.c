/* calma compare on real runs: a conversion whose every inference sleeps
 * 2 ms, run three times. The same sleep twice compares `same`; a 20% longer
 * sleep is caught as slower and fails a 5% gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_files.h"
#include "test_identity.h"

#include <cjson/cJSON.h>

#include "ir/ir.h"
#include "onnx/onnx.h"

static char dir[] = "/tmp/calma-cmpruns-XXXXXX";

/* One run of FAULT_SLEEP sleeping us microseconds, report at out. */
static void bench(const char *out, int us) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' bench '%s/id.onnx' --plugin '%s/tests/plugins/fault_plugin.so' --conversions "
             "FAULT_SLEEP --options fault.sleep_us=%d --repeats 3 --max-time 1.5s --quiet "
             "--run-dir '%s/run-%s' --output '%s/%s' > '%s/%s.log' 2>&1",
             getenv("CALMA_BIN"), dir, getenv("CALMA_BUILD_DIR"), us, dir, out, dir, out, dir, out);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}

/* compare BASE NEW --fail-if-slower 5% --format json: exit code and the
 * one trial's verdict. */
static int compare(const char *a, const char *b, char *speed, size_t n) {
    char cmd[2048], json[300];
    snprintf(json, sizeof json, "%s/cmp-%s-%s.json", dir, a, b);
    snprintf(cmd, sizeof cmd,
             "'%s' compare '%s/%s' '%s/%s' --fail-if-slower 5%% --format json > '%s'",
             getenv("CALMA_BIN"), dir, a, dir, b, json);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    char *text = slurp(json);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "trials"), 0);
    assert_non_null(t);
    snprintf(speed, n, "%s", cJSON_GetObjectItem(t, "speed")->valuestring);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "p")));
    cJSON_Delete(j);
    return WEXITSTATUS(rc);
}

static void test_same_and_slower(void **state) {
    (void)state;
    if (!getenv("CALMA_BIN") || !getenv("CALMA_BUILD_DIR")) fail_msg("run through ctest");
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/id.onnx", dir);
    write_identity_model(path);
    bench("a.json", 2000);
    bench("b.json", 2000);
    bench("slow.json", 2400);
    char speed[32];
    int rc = compare("a.json", "b.json", speed, sizeof speed);
    assert_string_equal(speed, "same");
    assert_int_equal(rc, 0);
    rc = compare("a.json", "slow.json", speed, sizeof speed);
    assert_string_equal(speed, "slower");
    assert_int_equal(rc, 1);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_and_slower)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
