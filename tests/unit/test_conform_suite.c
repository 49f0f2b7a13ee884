/* The whole ONNX backend test suite through the oracle: every case whose
 * ops are all supported must pass, except those in
 * tests/conformance/exclusions.txt, and every exclusion must still name a
 * case of the suite. Skipped when libonnx-testdata is not installed. The
 * full run takes well under a second here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conform/conform.h"

typedef struct suite_state {
    conform_exclusion *excl;
    int n_excl;
    char *seen;     /* per exclusion: its case ran */
    int unexpected; /* failed or errored, not excluded */
    int fixed;      /* excluded but passing now */
    int pass, unsupported;
} suite_state;

static void on_case(void *ctx, const char *label, const conform_result *res) {
    suite_state *s = ctx;
    const conform_exclusion *x = conform_exclusion_find(s->excl, s->n_excl, label);
    if (x) s->seen[x - s->excl] = 1;
    switch (res->status) {
    case CONFORM_PASS:
        s->pass++;
        if (x) {
            s->fixed++;
            printf("note: excluded case %s passes now; remove it from exclusions.txt\n", label);
        }
        break;
    case CONFORM_UNSUPPORTED:
        s->unsupported++;
        break;
    default:
        if (!x) {
            s->unexpected++;
            printf("UNEXPECTED %s  %s: %s\n", conform_status_name(res->status), label, res->detail);
        }
    }
}

static void test_suite(void **state) {
    (void)state;
    struct stat st;
    if (stat(CONFORM_DATA_ROOT "/node", &st) != 0) {
        printf("libonnx-testdata is not installed: skipping\n");
        skip();
    }
    const char *src = getenv("CALMA_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/conformance/exclusions.txt", src ? src : ".");
    suite_state s = {0};
    calma_error e = {0};
    assert_int_equal(conform_exclusions_load(path, &s.excl, &s.n_excl, &e), CALMA_OK);
    s.seen = calloc((size_t)s.n_excl + 1, 1);
    assert_non_null(s.seen);

    conform_options o = {0};
    o.on_case = on_case;
    o.on_case_ctx = &s;
    conform_totals t;
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    printf("%d passed, %d unsupported, %d unexpected failures, %d exclusions\n", s.pass,
           s.unsupported, s.unexpected, s.n_excl);

    int stale = 0;
    for (int i = 0; i < s.n_excl; i++) {
        if (s.seen[i]) continue;
        stale++;
        printf("STALE exclusion %s: no such case in the suite\n", s.excl[i].label);
    }
    free(s.seen);
    conform_exclusions_free(s.excl, s.n_excl);
    assert_int_equal(s.unexpected, 0);
    assert_int_equal(stale, 0);
    /* the suite really ran: the oracle passes most of it */
    assert_true(s.pass > 700);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
