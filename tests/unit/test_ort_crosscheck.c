/* Cross-checks the oracle against ONNX Runtime over the whole ONNX test
 * suite: every case the oracle passes must also pass through ORT_CPU, or be
 * unsupported by ORT (it has no kernel), or be listed with a reason in
 * tests/conformance/ort_exclusions.txt. A listed case that no longer fails
 * makes the test fail too, so the list stays honest. Skips when ONNX
 * Runtime is not installed.
 *
 * The same check runs for another conversion with CALMA_CROSSCHECK=NAME,
 * EXCLUSIONS-FILE,MIN-PASSES (tests/CMakeLists.txt: TORCH_EAGER); that one
 * fails rather than skips when its engine cannot be loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/registry.h"
#include "conform/conform.h"

#define MAX_CASES 4096

typedef struct outcome {
    int n;
    char *label[MAX_CASES];
    conform_status status[MAX_CASES];
    char *detail[MAX_CASES];
} outcome;

static void record(void *ctx, const char *label, const conform_result *res) {
    outcome *o = ctx;
    if (o->n >= MAX_CASES) return;
    o->label[o->n] = strdup(label);
    o->status[o->n] = res->status;
    o->detail[o->n] = strdup(res->detail);
    o->n++;
}

static int find(const outcome *o, const char *label) {
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->label[i], label)) return i;
    return -1;
}

static void release(outcome *o) {
    for (int i = 0; i < o->n; i++) {
        free(o->label[i]);
        free(o->detail[i]);
    }
}

typedef struct subject {
    char name[64], exclusions[256];
    int min_pass, must_load;
} subject;

static subject subject_of(void) {
    subject s = {"ORT_CPU", "ort_exclusions.txt", 800, 0};
    const char *env = getenv("CALMA_CROSSCHECK");
    if (env && sscanf(env, "%63[^,],%255[^,],%d", s.name, s.exclusions, &s.min_pass) == 3)
        s.must_load = 1;
    return s;
}

static void test_oracle_against_ort(void **state) {
    (void)state;
    registry *reg;
    calma_error e;
    subject sub = subject_of();
    const char *name = sub.name;
    assert_int_equal(registry_open(&reg, NULL, 0, &e), CALMA_OK);
    const calma_conversion *ort = registry_find(reg, name);
    assert_non_null(ort);
    if (registry_probe(ort, &e) != CALMA_OK) {
        if (sub.must_load) fail_msg("%s is unavailable: %s", name, e.msg);
        fprintf(stderr, "skipped: %s is unavailable here: %s\n", name, e.msg);
        registry_close(reg);
        skip();
    }
    static outcome ref, got;
    conform_options o = {0};
    o.on_case = record;
    o.on_case_ctx = &ref;
    conform_totals t;
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    conform_runner ort_runner;
    conform_backend_runner(ort, &ort_runner);
    o.on_case_ctx = &got;
    assert_int_equal(conform_run(&ort_runner, &o, &t, &e), CALMA_OK);

    char path[4096];
    const char *src = getenv("CALMA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/conformance/%s", src ? src : ".", sub.exclusions);
    conform_exclusion *x;
    int nx;
    assert_int_equal(conform_exclusions_load(path, &x, &nx, &e), CALMA_OK);

    int both = 0, unexplained = 0, ort_unsupported = 0;
    for (int i = 0; i < ref.n; i++) {
        if (ref.status[i] != CONFORM_PASS) continue;
        int k = find(&got, ref.label[i]);
        assert_true(k >= 0);
        if (got.status[k] == CONFORM_PASS) {
            both++;
        } else if (got.status[k] == CONFORM_UNSUPPORTED) {
            ort_unsupported++;
        } else if (!conform_exclusion_find(x, nx, ref.label[i])) {
            fprintf(stderr, "%s: the oracle passes, %s says %s: %s\n", ref.label[i], name,
                    conform_status_name(got.status[k]), got.detail[k]);
            unexplained++;
        }
    }
    for (int j = 0; j < nx; j++) {
        int k = find(&got, x[j].label), r = find(&ref, x[j].label);
        if (k < 0 || r < 0 || got.status[k] != CONFORM_FAIL || ref.status[r] != CONFORM_PASS) {
            fprintf(stderr, "%s is listed in %s but does not fail through %s any more\n",
                    x[j].label, path, name);
            unexplained++;
        }
    }
    fprintf(stderr,
            "oracle passes %d cases; %s passes %d of them, calls %d unsupported, "
            "differs on %d (listed)\n",
            both + ort_unsupported + nx, name, both, ort_unsupported, nx);
    assert_int_equal(unexplained, 0);
    assert_true(both > sub.min_pass); /* the suite really ran through the engine */
    conform_exclusions_free(x, nx);
    release(&ref);
    release(&got);
    registry_close(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_oracle_against_ort)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
