/* Conversion names: lookup, aliases, suggestions, foreign names, tiers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/registry.h"

static void test_find_and_aliases(void **state) {
    registry *r = *state;
    const calma_conversion *ref = registry_find(r, "REFERENCE");
    assert_non_null(ref);
    assert_ptr_equal(registry_find(r, "reference"), ref);
    assert_ptr_equal(registry_find(r, "ORACLE"), ref);
    const calma_conversion *ort = registry_find(r, "ORT_CPU");
    assert_non_null(ort);
    assert_ptr_equal(registry_find(r, "ONNX_CPU"), ort);
    assert_ptr_equal(registry_find(r, "ort-cpu"), ort);
    assert_null(registry_find(r, "NOPE"));
    assert_non_null(registry_find(r, "XNNPACK"));
}

static void test_select_errors(void **state) {
    registry *r = *state;
    registry_selection s;
    calma_error e;
    assert_int_equal(registry_select(r, "ORT_CPUU", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "unknown conversion 'ORT_CPUU'"));
    assert_non_null(strstr(e.msg, "did you mean ORT_CPU"));
    assert_int_equal(registry_select(r, "REFERNCE", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "REFERENCE"));
    assert_int_equal(registry_select(r, "NOOPT", 1, &s, &e), CALMA_E_USAGE); /* substring */
    assert_non_null(strstr(e.msg, "ORT_CPU_NOOPT"));
    assert_int_equal(registry_select(r, "XNNPAK", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "XNNPACK"));
    assert_int_equal(registry_select(r, "COMPILE_TENSORRT", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "TensorRT"));
    assert_non_null(strstr(e.msg, "ORT_CUDA"));
    assert_int_equal(registry_select(r, "TORCH_SCRIPT", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "PyTorch model"));
    assert_int_equal(registry_select(r, " , ,", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "empty"));
    assert_int_equal(registry_select(r, NULL, 4, &s, &e), CALMA_E_USAGE);
    /* several problems are all named at once */
    assert_int_equal(registry_select(r, "FOO_BAR,COMPILE_OPENVINO", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "FOO_BAR"));
    assert_non_null(strstr(e.msg, "OpenVINO"));
}

static void test_select_order_and_duplicates(void **state) {
    registry *r = *state;
    registry_selection s;
    calma_error e;
    assert_int_equal(registry_select(r, "XNNPACK, REFERENCE,ONNX_CPU,ORT_CPU", 1, &s, &e),
                     CALMA_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.conv[0]->name, "XNNPACK");
    assert_string_equal(s.conv[1]->name, "REFERENCE");
    assert_string_equal(s.conv[2]->name, "ORT_CPU");
    assert_non_null(strstr(s.warnings, "ORT_CPU is listed more than once"));
    registry_selection_free(&s);
}

static void test_tiers(void **state) {
    registry *r = *state;
    registry_selection s1, s2, s3;
    calma_error e;
    assert_int_equal(registry_select(r, NULL, 1, &s1, &e), CALMA_OK);
    assert_int_equal(registry_select(r, NULL, 2, &s2, &e), CALMA_OK);
    assert_int_equal(registry_select(r, NULL, 3, &s3, &e), CALMA_OK);
    assert_true(s1.n >= 2 && s1.n <= s2.n && s2.n <= s3.n);
    int has_ref = 0, has_ort = 0;
    for (int i = 0; i < s1.n; i++) {
        has_ref |= !strcmp(s1.conv[i]->name, "REFERENCE");
        has_ort |= !strcmp(s1.conv[i]->name, "ORT_CPU");
        assert_int_equal(s1.conv[i]->tier, 1);
    }
    assert_true(has_ref && has_ort);
    /* tier 3: every conversion, then each transform before ORT_CPU */
    assert_int_equal(s3.n, registry_count(r) + 3);
    assert_string_equal(s3.entry[s3.n - 1].name, "INT8+ORT_CPU");
    registry_selection_free(&s1);
    registry_selection_free(&s2);
    registry_selection_free(&s3);
}

static void test_bad_plugin(void **state) {
    (void)state;
    registry *r;
    calma_error e;
    const char *missing[] = {"/nonexistent/plugin.so"};
    assert_int_equal(registry_open(&r, missing, 1, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "/nonexistent/plugin.so"));
    /* a real shared object that is not a calma plugin */
    const char *libm[] = {"libm.so.6"};
    assert_int_equal(registry_open(&r, libm, 1, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "not a calma plugin"));
}

static void test_print(void **state) {
    registry *r = *state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    registry_print(r, f);
    fclose(f);
    assert_non_null(strstr(buf, "REFERENCE"));
    assert_non_null(strstr(buf, "Tiers"));
    assert_non_null(strstr(buf, "COMPILE_INDUCTOR_DEFAULT"));
    free(buf);
}

static int setup(void **state) {
    registry *r;
    calma_error e;
    if (registry_open(&r, NULL, 0, &e)) return -1;
    *state = r;
    return 0;
}

static int teardown(void **state) {
    registry_close(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_aliases),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_select_order_and_duplicates),
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_bad_plugin),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
