/* bench/noop_plugin.c loads as a plugin and calma measures its NOOP
 * conversion: every sample is kept, the timings are positive, and NOOP's
 * untouched outputs are caught as a mismatch (so NOOP, used only for the
 * harness-overhead figure, can never be named best). The figure itself is
 * printed by bench/bench_measure.sh, never asserted here. About 1 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_non_null(v);
    return v;
}

static void test_noop_plugin_is_measured(void **state) {
    (void)state;
    const char *bin = getenv("CALMA_BIN");
    const char *build = getenv("CALMA_BUILD_DIR");
    assert_non_null(bin);
    assert_non_null(build);
    char dir[1024], cmd[4096], path[1100];
    snprintf(dir, sizeof dir, "%s/test-runs/noop", build);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/test-runs' && rm -rf '%s' && '%s' bench simple --plugin "
             "'%s/bench/noop_plugin.so' "
             "--conversions NOOP --samples 1000 --repeats 1 --quiet --run-dir '%s' > '%s.log' 2>&1",
             build, dir, bin, build, dir, dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    /* 1: a trial failed (the mismatch), not 2 (bad plan: plugin not found). */
    assert_int_equal(WEXITSTATUS(rc), 1);

    snprintf(path, sizeof path, "%s/report.json", dir);
    char *text = read_all(path);
    assert_non_null(text);
    cJSON *r = cJSON_Parse(text);
    free(text);
    assert_non_null(r);
    const cJSON *trials = get(r, "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 1);
    const cJSON *t = cJSON_GetArrayItem(trials, 0);
    assert_string_equal(get(t, "conversion")->valuestring, "NOOP");
    assert_string_equal(get(t, "engine_version")->valuestring, "noop 1.0");
    assert_string_equal(get(t, "status")->valuestring, "mismatch");
    assert_string_equal(get(get(t, "validation"), "verdict")->valuestring, "fail");
    const cJSON *s = get(t, "stats");
    assert_int_equal((int)get(s, "n")->valuedouble, 1000);
    assert_string_equal(get(s, "stop")->valuestring, "fixed count");
    double median = get(s, "median")->valuedouble;
    assert_true(median > 0);
    assert_true(get(s, "min")->valuedouble <= median);
    assert_true(median <= get(s, "max")->valuedouble);
    /* A run() that does nothing costs far less than a millisecond even on a
     * loaded machine; a looser bound than any figure, only to catch a harness
     * that times the wrong thing. */
    assert_true(median < 1e-3);
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(r, "best");
    assert_true(best == NULL || cJSON_IsNull(best));
    cJSON_Delete(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop_plugin_is_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
