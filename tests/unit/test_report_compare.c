/* calma compare on synthetic reports: faster, slower, same within noise, a
 * status change, a newly failing validation, different models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "report/compare.h"

static double uniform(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (double)(*x >> 11) / 9007199254740992.0;
}

/* A trial whose samples are median * (1 + 2% noise), with summary stats. */
static cJSON *trial(const char *conv, const char *status, const char *verdict, double median,
                    uint64_t seed, int with_samples) {
    cJSON *t = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "%s-b1-t1", conv);
    cJSON_AddStringToObject(t, "id", id);
    cJSON_AddStringToObject(t, "conversion", conv);
    cJSON_AddNumberToObject(t, "batch", 1);
    cJSON_AddNumberToObject(t, "threads", 1);
    cJSON_AddStringToObject(t, "status", status);
    cJSON_AddStringToObject(t, "message", "");
    cJSON *v = cJSON_AddObjectToObject(t, "validation");
    cJSON_AddStringToObject(v, "verdict", verdict);
    if (median > 0) {
        cJSON *s = cJSON_AddObjectToObject(t, "stats");
        cJSON_AddNumberToObject(s, "median", median);
        cJSON_AddNumberToObject(s, "ci_lo", median * 0.995);
        cJSON_AddNumberToObject(s, "ci_hi", median * 1.005);
        if (with_samples) {
            cJSON *arr = cJSON_AddArrayToObject(t, "samples");
            uint64_t x = seed;
            for (int i = 0; i < 300; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateNumber(median * (0.99 + 0.02 * uniform(&x))));
        }
    }
    return t;
}

static cJSON *report(const char *model, cJSON **trials, int n) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON *m = cJSON_AddObjectToObject(r, "model");
    cJSON_AddStringToObject(m, "name", model);
    cJSON *arr = cJSON_AddArrayToObject(r, "trials");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, trials[i]);
    return r;
}

/* Runs compare with JSON output and returns the parsed verdicts. */
static cJSON *run(const cJSON *a, const cJSON *b, double fail_if_slower, int *rc) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    compare_opts o = {fail_if_slower, 0.01, REPORT_JSON, COMPARE_DEFAULT_MIN_EFFECT};
    calma_error e;
    *rc = compare_reports(a, b, &o, f, &e);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static const char *speed_of(const cJSON *j, const char *id) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "trials")) {
        if (!strcmp(cJSON_GetObjectItem(t, "id")->valuestring, id))
            return cJSON_GetObjectItem(t, "speed")->valuestring;
    }
    return "absent";
}

static void test_speed_verdicts(void **state) {
    (void)state;
    cJSON *b[] = {trial("SAME", "ok", "pass", 1e-3, 1, 1), trial("FAST", "ok", "pass", 1e-3, 2, 1),
                  trial("SLOW", "ok", "pass", 1e-3, 3, 1),
                  trial("SLIGHT", "ok", "pass", 1e-3, 4, 0)};
    cJSON *c[] = {
        trial("SAME", "ok", "pass", 1e-3, 11, 1), trial("FAST", "ok", "pass", 0.8e-3, 12, 1),
        trial("SLOW", "ok", "pass", 1.2e-3, 13, 1), trial("SLIGHT", "ok", "pass", 1.003e-3, 14, 0)};
    cJSON *base = report("m", b, 4), *cur = report("m", c, 4);
    int rc;
    cJSON *j = run(base, cur, -1, &rc);
    assert_string_equal(speed_of(j, "SAME-b1-t1"), "same");
    assert_string_equal(speed_of(j, "FAST-b1-t1"), "faster");
    assert_string_equal(speed_of(j, "SLOW-b1-t1"), "slower");
    assert_string_equal(speed_of(j, "SLIGHT-b1-t1"), "same"); /* intervals overlap */
    assert_int_equal(rc, 0);                                  /* no gate asked for */
    cJSON_Delete(j);
    j = run(base, cur, 0.05, &rc);
    assert_int_equal(rc, 1); /* 20% slower > 5% */
    cJSON_Delete(j);
    j = run(base, cur, 0.25, &rc);
    assert_int_equal(rc, 0); /* 20% slower is within 25% */
    cJSON_Delete(j);
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

/* A 1% change is below the 2% minimum effect: same, however significant;
 * every verdict with medians has a p-value and says which test gave it. */
static void test_small_change_is_same(void **state) {
    (void)state;
    cJSON *b[] = {trial("TINY", "ok", "pass", 1e-3, 1, 1),
                  trial("NOSAMP", "ok", "pass", 1e-3, 2, 0)};
    cJSON *c[] = {trial("TINY", "ok", "pass", 0.99e-3, 3, 1),
                  trial("NOSAMP", "ok", "pass", 0.7e-3, 4, 0)};
    cJSON *base = report("m", b, 2), *cur = report("m", c, 2);
    int rc;
    cJSON *j = run(base, cur, 0.05, &rc);
    assert_string_equal(speed_of(j, "TINY-b1-t1"), "same");
    assert_string_equal(speed_of(j, "NOSAMP-b1-t1"), "faster");
    const cJSON *t;
    int with_p = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "trials")) {
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "p")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "test")));
        with_p++;
    }
    assert_int_equal(with_p, 2);
    assert_int_equal(rc, 0);
    cJSON_Delete(j);
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

/* Per-process medians that wander by 4% between processes: a 3% shift of
 * the typical median is not called a change; a 20% one is, and fails. */
static void add_process_medians(cJSON *t, const double *m, int k) {
    cJSON *rep = cJSON_AddObjectToObject(t, "repeats");
    cJSON_AddItemToObject(rep, "medians", cJSON_CreateDoubleArray(m, k));
    cJSON *s = cJSON_GetObjectItem(t, "stats");
    double lo = m[0], hi = m[0];
    for (int i = 1; i < k; i++) lo = fmin(lo, m[i]), hi = fmax(hi, m[i]);
    cJSON_ReplaceItemInObject(s, "ci_lo", cJSON_CreateNumber(lo));
    cJSON_ReplaceItemInObject(s, "ci_hi", cJSON_CreateNumber(hi));
}

static void test_process_medians(void **state) {
    (void)state;
    double mb[] = {1.00e-3, 1.04e-3, 0.98e-3}, mc[] = {1.03e-3, 1.07e-3, 1.01e-3},
           ms[] = {1.20e-3, 1.23e-3, 1.19e-3};
    cJSON *b[] = {trial("A", "ok", "pass", 1.00e-3, 1, 0), trial("S", "ok", "pass", 1.00e-3, 2, 0)};
    cJSON *c[] = {trial("A", "ok", "pass", 1.03e-3, 3, 0), trial("S", "ok", "pass", 1.20e-3, 4, 0)};
    add_process_medians(b[0], mb, 3);
    add_process_medians(b[1], mb, 3);
    add_process_medians(c[0], mc, 3);
    add_process_medians(c[1], ms, 3);
    cJSON *base = report("m", b, 2), *cur = report("m", c, 2);
    int rc;
    cJSON *j = run(base, cur, 0.05, &rc);
    assert_string_equal(speed_of(j, "A-b1-t1"), "same");
    assert_string_equal(speed_of(j, "S-b1-t1"), "slower");
    assert_int_equal(rc, 1);
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "trials"), 0);
    assert_string_equal(cJSON_GetObjectItem(t, "test")->valuestring,
                        "t-test on per-process medians");
    cJSON_Delete(j);
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

/* Trials in one report only are named, never dropped. */
static void test_added_removed(void **state) {
    (void)state;
    cJSON *b[] = {trial("KEPT", "ok", "pass", 1e-3, 1, 0), trial("GONE", "ok", "pass", 1e-3, 2, 0)};
    cJSON *c[] = {trial("KEPT", "ok", "pass", 1e-3, 3, 0), trial("NEW", "ok", "pass", 1e-3, 4, 0)};
    cJSON *base = report("m", b, 2), *cur = report("m", c, 2);
    int rc;
    cJSON *j = run(base, cur, -1, &rc);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "added"), 0)->valuestring,
                        "NEW-b1-t1");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "removed"), 0)->valuestring,
                        "GONE-b1-t1");
    cJSON_Delete(j);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    compare_opts o = {-1, 0.01, REPORT_TABLE, COMPARE_DEFAULT_MIN_EFFECT};
    calma_error e;
    compare_reports(base, cur, &o, f, &e);
    fclose(f);
    assert_non_null(strstr(buf, "added (only in NEW): NEW-b1-t1"));
    assert_non_null(strstr(buf, "removed (only in BASE): GONE-b1-t1"));
    assert_non_null(strstr(buf, "one worker process")); /* the reports have no repeats */
    free(buf);
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

static void test_status_and_validation(void **state) {
    (void)state;
    cJSON *b[] = {trial("A", "ok", "pass", 1e-3, 1, 1), trial("B", "ok", "pass", 1e-3, 2, 1)};
    cJSON *c[] = {trial("A", "crashed", "-", 0, 0, 0), trial("B", "mismatch", "fail", 1e-3, 3, 1)};
    cJSON *base = report("m", b, 2), *cur = report("m", c, 2);
    int rc;
    cJSON *j = run(base, cur, -1, &rc);
    assert_int_equal(rc, 1); /* a newly failing validation always fails */
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "status ok -> crashed"));
    assert_non_null(strstr(text, "validation newly fails"));
    free(text);
    cJSON_Delete(j);
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

static void test_different_models(void **state) {
    (void)state;
    cJSON *b[] = {trial("A", "ok", "pass", 1e-3, 1, 0)};
    cJSON *c[] = {trial("A", "ok", "pass", 1e-3, 1, 0)};
    cJSON *base = report("resnet18", b, 1), *cur = report("mobilenet_v2", c, 1);
    compare_opts o = {-1, 0.01, REPORT_TABLE, COMPARE_DEFAULT_MIN_EFFECT};
    calma_error e;
    FILE *f = fopen("/dev/null", "w");
    assert_int_equal(compare_reports(base, cur, &o, f, &e), -1);
    fclose(f);
    assert_non_null(strstr(e.msg, "different models"));
    assert_non_null(strstr(e.msg, "resnet18"));
    assert_non_null(strstr(e.msg, "mobilenet_v2"));
    cJSON_Delete(base);
    cJSON_Delete(cur);
}

/* The command line: exit 1 on a gated slowdown, 2 on different models. */
static void test_cli_exit_codes(void **state) {
    (void)state;
    const char *bin = getenv("CALMA_BIN");
    if (!bin) skip();
    char dir[] = "/tmp/calma-compare-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cJSON *b[] = {trial("SLOW", "ok", "pass", 1e-3, 3, 1)};
    cJSON *c[] = {trial("SLOW", "ok", "pass", 1.2e-3, 13, 1)};
    cJSON *d[] = {trial("SLOW", "ok", "pass", 1.2e-3, 13, 1)};
    cJSON *docs[] = {report("m", b, 1), report("m", c, 1), report("other", d, 1)};
    const char *names[] = {"base", "new", "other"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        FILE *f = fopen(path, "w");
        char *text = cJSON_Print(docs[i]);
        fputs(text, f);
        fclose(f);
        free(text);
        cJSON_Delete(docs[i]);
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' compare %s/base.json %s/new.json --fail-if-slower 5%% >/dev/null", bin, dir,
             dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(cmd, sizeof cmd,
             "'%s' compare %s/base.json %s/new.json --fail-if-slower 50%% >/dev/null", bin, dir,
             dir);
    rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    snprintf(cmd, sizeof cmd, "'%s' compare %s/base.json %s/other.json 2>/dev/null", bin, dir, dir);
    rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speed_verdicts),        cmocka_unit_test(test_small_change_is_same),
        cmocka_unit_test(test_process_medians),       cmocka_unit_test(test_added_removed),
        cmocka_unit_test(test_status_and_validation), cmocka_unit_test(test_different_models),
        cmocka_unit_test(test_cli_exit_codes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
