/* calma bench --shard K/N and calma merge: the shares of a plan hold every
 * trial once and merge into one report; shards of different plans, a share
 * out of range, given twice or missing, and an output folder that holds a
 * run are refused with exit 2, nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_files.h"
#include "test_identity.h"

#include <cjson/cJSON.h>

#include "ir/ir.h"
#include "onnx/onnx.h"

static char dir[] = "/tmp/calma-merge-XXXXXX";
static char out[8192];

/* Runs `calma ARGS` in dir; its output in out; returns the exit status. */
static int calma(const char *args) {
    char cmd[4096], log[300];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > '%s' 2>&1", dir, getenv("CALMA_BIN"), args,
             log);
    int rc = system(cmd);
    char *text = slurp(log);
    snprintf(out, sizeof out, "%s", text ? text : "");
    free(text);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void shard(const char *name, int k, int n, const char *seed) {
    char args[2048];
    snprintf(args, sizeof args,
             "bench id.onnx --plugin '%s/tests/plugins/fault_plugin.so' --conversions "
             "REFERENCE,FAULT_OK --threads 1,2 --batch 1,2 --repeats 1 --samples 3 --seed %s "
             "--shard %d/%d --quiet --run-dir %s",
             getenv("CALMA_BUILD_DIR"), seed, k, n, name);
    if (calma(args) != 0) fail_msg("bench --shard %d/%d: %s", k, n, out);
}

static cJSON *read_json(const char *rel) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *text = slurp(path);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static int exists(const char *rel) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return access(path, F_OK) == 0;
}

static void expect_refused(const char *args, const char *want, const char *not_made) {
    int rc = calma(args);
    if (rc != 2 || !strstr(out, want)) fprintf(stderr, "%s: exit %d: %s\n", args, rc, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, want));
    if (not_made) assert_false(exists(not_made));
}

static void test_shard_and_merge(void **state) {
    (void)state;
    if (!getenv("CALMA_BIN") || !getenv("CALMA_BUILD_DIR")) fail_msg("run through ctest");
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/id.onnx", dir);
    write_identity_model(path);
    for (int k = 1; k <= 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", k);
        shard(name, k, 3, "42");
    }
    /* every trial in exactly one share */
    cJSON *plan = read_json("s1/plan.json");
    int total = cJSON_GetArraySize(cJSON_GetObjectItem(plan, "trials")), sum = 0;
    assert_int_equal(total, 8);
    const char *hash = cJSON_GetObjectItem(plan, "plan_hash")->valuestring;
    for (int k = 1; k <= 3; k++) {
        char rel[32];
        snprintf(rel, sizeof rel, "s%d/plan.json", k);
        cJSON *p = read_json(rel);
        assert_string_equal(cJSON_GetObjectItem(p, "plan_hash")->valuestring, hash);
        sum += cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "shard"), "trials"));
        cJSON_Delete(p);
        snprintf(rel, sizeof rel, "s%d/report.json", k);
        p = read_json(rel);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(p, "interrupted"))); /* its share is done */
        cJSON_Delete(p);
    }
    assert_int_equal(sum, total);

    assert_int_equal(calma("merge s1 s2 s3 -o merged --quiet"), 0);
    cJSON *rep = read_json("merged/report.json");
    const cJSON *trials = cJSON_GetObjectItem(rep, "trials"), *t, *id;
    assert_int_equal(cJSON_GetArraySize(trials), total);
    cJSON_ArrayForEach(id, cJSON_GetObjectItem(plan, "trials")) {
        int n = 0;
        cJSON_ArrayForEach(t, trials) {
            if (!strcmp(cJSON_GetObjectItem(t, "id")->valuestring, id->valuestring)) {
                n++;
                assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "shard")));
                assert_string_equal(cJSON_GetObjectItem(t, "status")->valuestring, "ok");
            }
        }
        assert_int_equal(n, 1);
    }
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(rep, "interrupted")));
    assert_null(cJSON_GetObjectItem(rep, "missing_trials"));
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "plan"), "merged_from")),
        3);
    cJSON_Delete(rep);
    /* the merged folder is a run folder: calma report reads it */
    assert_int_equal(calma("report merged --format csv"), 0);
    assert_non_null(strstr(out, "FAULT_OK-b2-t2"));

    expect_refused("merge s1 s2 -o m2", "missing shards: 3/3", "m2/plan.json");
    expect_refused("merge s1 s1 s2 s3 -o m3", "shard 1/3 is given twice", "m3/plan.json");
    expect_refused("merge s1 s2 s3 -o merged", "already holds a run", NULL);
    expect_refused("merge s1 /no/such/run -o m4", "/no/such/run", "m4/plan.json");
    shard("other", 3, 3, "7"); /* another seed: another plan */
    expect_refused("merge s1 s2 other -o m5", "different plans", "m5/plan.json");
    /* a share out of range (a hand-edited plan.json) */
    assert_int_equal(calma("bench --shard 4/3"), 2);
    assert_non_null(strstr(out, "--shard '4/3'"));
    cJSON *p3 = read_json("s3/plan.json");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(p3, "shard"), "index", cJSON_CreateNumber(5));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp -r '%s/s3' '%s/s5'", dir, dir);
    assert_int_equal(system(cmd), 0);
    char *text = cJSON_Print(p3);
    snprintf(path, sizeof path, "%s/s5/plan.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(p3);
    expect_refused("merge s1 s2 s5 -o m6", "out of range 1..3", "m6/plan.json");
    /* --partial merges what is there and names what is not */
    assert_int_equal(calma("merge s1 s2 -o partial --partial --quiet"), 0);
    rep = read_json("partial/report.json");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rep, "interrupted")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(rep, "missing_trials")) > 0);
    char *warnings = cJSON_PrintUnformatted(cJSON_GetObjectItem(rep, "warnings"));
    assert_non_null(strstr(warnings, "shard 3/3 is missing"));
    free(warnings);
    cJSON_Delete(rep);
    cJSON_Delete(plan);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shard_and_merge)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
