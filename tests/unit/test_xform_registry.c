/* TRANSFORM+CONVERSION in the registry: canonical full names, which
 * conversions take transforms (CALMA_BACKEND_READS_ONNX, ABI 2), precisions
 * from transforms and name suffixes, the refusals with their suggestions,
 * tier 3, and `calma list`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/registry.h"
#include "transform/xform.h"

static void test_resolve(void **state) {
    registry *r = *state;
    registry_entry en;
    calma_error e;
    assert_int_equal(registry_resolve(r, "int8+ort-cpu", &en, &e), CALMA_OK);
    assert_string_equal(en.name, "INT8+ORT_CPU");
    assert_string_equal(en.xform->name, "INT8");
    assert_string_equal(en.conv->name, "ORT_CPU");
    assert_string_equal(registry_precision(&en), "int8");
    assert_int_equal(registry_resolve(r, "FP16+ONNX_CPU", &en, &e), CALMA_OK); /* an alias */
    assert_string_equal(en.name, "FP16+ORT_CPU");
    assert_int_equal(registry_resolve(r, "BF16+REFERENCE", &en, &e), CALMA_OK);
    assert_string_equal(registry_precision(&en), "bf16");
    assert_int_equal(registry_resolve(r, "ORT_CPU", &en, &e), CALMA_OK);
    assert_null(en.xform);
    assert_string_equal(en.name, "ORT_CPU");
    assert_string_equal(registry_precision(&en), "fp32");
    assert_string_equal(registry_precision_of(r, "INT8+ORT_CPU_NOOPT"), "int8");
    assert_string_equal(registry_precision_of(r, "NO_SUCH"), "fp32");
}

static void test_refusals(void **state) {
    registry *r = *state;
    registry_entry en;
    calma_error e;
    assert_int_equal(registry_resolve(r, "INT9+ORT_CPU", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "unknown transform 'INT9'"));
    assert_non_null(strstr(e.msg, "did you mean INT8"));
    assert_int_equal(registry_resolve(r, "QUANT+ORT_CPU", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "transforms: FP16, BF16, INT8"));
    assert_int_equal(registry_resolve(r, "FP16+ORT_CPUU", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "did you mean ORT_CPU"));
    /* XNNPACK builds its own graph: it does not declare that it reads ONNX */
    assert_int_equal(registry_resolve(r, "INT8+XNNPACK", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "cannot take a model transform"));
    assert_non_null(strstr(e.msg, "ORT_CPU"));
    assert_non_null(strstr(e.msg, "REFERENCE"));
    assert_int_equal(registry_resolve(r, "FP16+INT8+ORT_CPU", &en, &e), CALMA_E_USAGE);
    assert_int_equal(registry_resolve(r, "FP16", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "FP16+ORT_CPU"));
    assert_int_equal(registry_resolve(r, "INT8+TORCH_SCRIPT", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "PyTorch model"));
    /* in a list, every problem is named and nothing is selected */
    registry_selection s;
    assert_int_equal(registry_select(r, "INT8+ORT_CPU,INT9+ORT_CPU,FP16+XNNPACK", 1, &s, &e),
                     CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "INT9"));
    assert_non_null(strstr(e.msg, "XNNPACK"));
}

static void test_select(void **state) {
    registry *r = *state;
    registry_selection s;
    calma_error e;
    assert_int_equal(registry_select(r, "ORT_CPU,int8+ort_cpu,INT8+ONNX_CPU", 1, &s, &e),
                     CALMA_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.entry[0].name, "ORT_CPU");
    assert_string_equal(s.entry[1].name, "INT8+ORT_CPU");
    assert_ptr_equal(s.conv[1], s.entry[1].conv);
    assert_non_null(strstr(s.warnings, "INT8+ORT_CPU is listed more than once"));
    registry_selection_free(&s);
    /* tier 3 ends with the transformed default engine */
    assert_int_equal(registry_select(r, NULL, 3, &s, &e), CALMA_OK);
    int seen = 0;
    for (int i = 0; i < s.n; i++) seen += s.entry[i].xform != NULL;
    assert_int_equal(seen, xform_count());
    registry_selection_free(&s);
    assert_int_equal(registry_select(r, NULL, 2, &s, &e), CALMA_OK);
    for (int i = 0; i < s.n; i++) assert_null(s.entry[i].xform);
    registry_selection_free(&s);
}

static int noop_load(const calma_conversion *c, const calma_model *m,
                     const calma_trial_config *cfg, void **state, calma_error *e) {
    (void)c, (void)m, (void)cfg, (void)e;
    *state = NULL;
    return CALMA_OK;
}

static int noop_run(void *state, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                    calma_error *e) {
    (void)state, (void)in, (void)n_in, (void)out, (void)n_out, (void)e;
    return CALMA_OK;
}

/* A backend of ABI 1 has no flags field: calma must not read one. */
static void test_flags_and_suffixes(void **state) {
    (void)state;
    calma_backend v2 = {.abi = 2, .load = noop_load, .run = noop_run,
                        .flags = CALMA_BACKEND_READS_ONNX};
    calma_backend v1 = v2;
    v1.abi = 1;
    calma_conversion c = {"MY_ENGINE_BF16", NULL, 2, "cpu", "", &v2, NULL};
    assert_true(registry_reads_onnx(&c));
    c.backend = &v1;
    assert_false(registry_reads_onnx(&c));
    registry_entry en = {.conv = &c};
    assert_string_equal(registry_precision(&en), "bf16");
    c.name = "MY_INT8";
    assert_string_equal(registry_precision(&en), "int8");
    c.name = "INT8"; /* a suffix needs something before it */
    assert_string_equal(registry_precision(&en), "fp32");
}

static void test_list(void **state) {
    registry *r = *state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    registry_print(r, f);
    fclose(f);
    assert_non_null(strstr(buf, "Model transforms, written TRANSFORM+CONVERSION"));
    assert_non_null(strstr(buf, "before REFERENCE, ORT_CPU"));
    assert_non_null(strstr(buf, "FP16   fp16"));
    assert_non_null(strstr(buf, "BF16+ORT_CPU"));
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
        cmocka_unit_test(test_resolve),           cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_select),            cmocka_unit_test(test_flags_and_suffixes),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
