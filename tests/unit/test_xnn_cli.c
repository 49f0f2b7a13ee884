/* XNNPACK through the calma executable: the partition's facts reach the
 * trial record (engine_info), --profile adds the share of time outside
 * XNNPACK, --verbose prints them under the table (calma bench and calma
 * report), and XNNPACK_STRICT refuses the zoo transformer naming the op.
 * Runs $CALMA_BIN; skipped when it was not built or lacks XNNPACK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "test_files.h"

static const char *calma_bin(void) {
#ifndef CALMA_HAVE_XNNPACK
    skip();
#endif
    const char *bin = getenv("CALMA_BIN");
    if (!bin || access(bin, X_OK) != 0) skip();
    return bin;
}

static const cJSON *trial_of(const cJSON *report, const char *id) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(report, "trials")) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(t, "id");
        if (cJSON_IsString(i) && !strcmp(i->valuestring, id)) return t;
    }
    fail_msg("no trial %s in the report", id);
    return NULL;
}

/* RUN_DIR/report.json parsed. */
static cJSON *read_report(const char *run_dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/report.json", run_dir);
    char *text = slurp(path);
    if (!text) fail_msg("no %s", path);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    assert_non_null(rep);
    return rep;
}

static double info_num(const cJSON *trial, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(trial, "engine_info"), key);
    if (!cJSON_IsNumber(v)) fail_msg("engine_info has no number %s", key);
    return v->valuedouble;
}

static void test_transformer_facts_profile_verbose(void **state) {
    (void)state;
    const char *bin = calma_bin();
    const char *build = getenv("CALMA_BUILD_DIR");
    char dir[1024], cmd[4096], *out = malloc(1 << 17);
    assert_non_null(out);
    snprintf(dir, sizeof dir, "%s/test-runs/xnn-cli", build ? build : "/tmp");
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && '%s' bench transformer --conversions XNNPACK,XNNPACK_STRICT "
             "--threads 1,2 --samples 30 --profile --verbose --run-dir '%s' 2>&1",
             dir, bin, dir);
    int rc = run_capture(cmd, out, 1 << 17);
    printf("%s", out);
    if (rc != 0) fail_msg("exit %d", rc);
    keep_report(dir, "xnn-partition");
    /* the table: XNNPACK validates, XNNPACK_STRICT names the op */
    assert_non_null(strstr(out, "XNNPACK_STRICT"));
    assert_non_null(strstr(out, "unsupported: op 'LayerNormalization'"));
    assert_non_null(strstr(out, "engine info:\n"));
    assert_non_null(strstr(out, "  XNNPACK-b1-t1: nodes_in_engine="));
    assert_non_null(strstr(out, "  XNNPACK-b1-t2: nodes_in_engine="));
    assert_non_null(strstr(out, "ops_outside=\""));
    assert_non_null(strstr(out, "outside_share="));
    assert_null(strstr(out, "XNNPACK_STRICT-b1-t1: nodes")); /* it never converted */
    /* the record */
    cJSON *rep = read_report(dir);
    const cJSON *t = trial_of(rep, "XNNPACK-b1-t1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(t, "status")->valuestring, "ok");
    assert_true(info_num(t, "nodes_in_engine") > 0);
    assert_true(info_num(t, "nodes_outside") > 0);
    assert_true(info_num(t, "islands") > 1);
    double share = info_num(t, "outside_share");
    assert_true(share > 0 && share < 1);
    assert_true(info_num(t, "profiled_runs") >= 30);
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(t, "engine_info"), "ops_outside");
    assert_true(cJSON_IsString(ops) && strstr(ops->valuestring, "LayerNormalization"));
    assert_null(
        cJSON_GetObjectItemCaseSensitive(trial_of(rep, "XNNPACK_STRICT-b1-t1"), "engine_info"));
    cJSON_Delete(rep);
    /* calma report --verbose says the same from the run folder */
    snprintf(cmd, sizeof cmd, "'%s' report '%s' --verbose 2>&1", bin, dir);
    assert_int_equal(run_capture(cmd, out, 1 << 17), 0);
    assert_non_null(strstr(out, "  XNNPACK-b1-t2: nodes_in_engine="));
    snprintf(cmd, sizeof cmd, "'%s' report '%s' 2>&1", bin, dir);
    assert_int_equal(run_capture(cmd, out, 1 << 17), 0);
    assert_null(strstr(out, "engine info"));
    free(out);
}

/* Without --profile there is no time share, but the split is recorded. */
static void test_facts_without_profile(void **state) {
    (void)state;
    const char *bin = calma_bin();
    char dir[] = "/tmp/calma-test-xnn-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048], *out = malloc(1 << 16);
    assert_non_null(out);
    snprintf(cmd, sizeof cmd,
             "'%s' bench simple --conversions XNNPACK --samples 5 --quiet --run-dir %s/run "
             "2>&1",
             bin, dir);
    assert_int_equal(run_capture(cmd, out, 1 << 16), 0);
    char run_dir[600];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    cJSON *rep = read_report(run_dir);
    const cJSON *t = trial_of(rep, "XNNPACK-b1-t1");
    assert_int_equal((int)info_num(t, "nodes_outside"), 0);
    assert_int_equal((int)info_num(t, "islands"), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "engine_info"),
                                                 "outside_share"));
    cJSON_Delete(rep);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transformer_facts_profile_verbose),
        cmocka_unit_test(test_facts_without_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
