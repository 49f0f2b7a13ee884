/* What the tests that run serving scenarios share: a run folder with the
 * identity model, calma bench on FAULT_SLEEP, and readers of the report.
 * Include after <cmocka.h>. */
#ifndef CALMA_TEST_SCENARIO_RUN_H
#define CALMA_TEST_SCENARIO_RUN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "test_files.h"
#include "test_identity.h"

static char dir[64]; /* the run folders of this test */

/* calma bench on FAULT_SLEEP sleeping us per call with the flags in extra;
 * returns report.json (kept for the schema check) and the exit code. */
static inline cJSON *bench(const char *name, int us, const char *extra, int *code) {
    char cmd[4096], run[400];
    snprintf(run, sizeof run, "%s/run-%s", dir, name);
    snprintf(cmd, sizeof cmd,
             "'%s' bench '%s/id.onnx' --plugin '%s/tests/plugins/fault_plugin.so' --conversions "
             "FAULT_SLEEP --options fault.sleep_us=%d --quiet --run-dir '%s' %s > '%s.log' 2>&1",
             getenv("CALMA_BIN"), dir, getenv("CALMA_BUILD_DIR"), us, run, extra, run);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    *code = WEXITSTATUS(rc);
    char path[500], keep[64];
    snprintf(path, sizeof path, "%s/report.json", run);
    snprintf(keep, sizeof keep, "scenario-%s", name);
    keep_report(run, keep);
    char *text = slurp(path);
    if (!text) fail_msg("no report from: %s", cmd);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static inline const cJSON *trial(const cJSON *rep, int i) {
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "trials"), i);
    assert_non_null(t);
    assert_string_equal(cJSON_GetObjectItem(t, "status")->valuestring, "ok");
    return t;
}

static inline double num(const cJSON *j, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItem(j, a);
    if (b) v = cJSON_GetObjectItem(v, b);
    if (!cJSON_IsNumber(v)) fail_msg("%s.%s is not a number", a, b ? b : "");
    return v->valuedouble;
}

static inline int has_warning(const cJSON *t, const char *part) {
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(t, "warnings")) {
        if (cJSON_IsString(w) && strstr(w->valuestring, part)) return 1;
    }
    return 0;
}

/* Makes dir from template (mkdtemp) with id.onnx in it. */
static inline int scenario_setup(const char *template) {
    if (!getenv("CALMA_BIN") || !getenv("CALMA_BUILD_DIR")) return -1;
    snprintf(dir, sizeof dir, "%s", template);
    if (!mkdtemp(dir)) return -1;
    char path[300];
    snprintf(path, sizeof path, "%s/id.onnx", dir);
    write_identity_model(path);
    return 0;
}

static inline int scenario_teardown(void **state) {
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
