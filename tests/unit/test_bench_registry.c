/* Conversion names: lookup, aliases, suggestions, foreign names, tiers, and
 * TRANSFORM+CONVERSION (full names, CALMA_BACKEND_READS_ONNX, precisions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/registry.h"
#include "transform/xform.h"

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
    /* the names PyTorch users know are the PyTorch conversions */
    const calma_conversion *eager = registry_find(r, "TORCH_EAGER");
    const calma_conversion *script = registry_find(r, "TORCHSCRIPT");
    assert_non_null(eager);
    assert_non_null(script);
    assert_ptr_equal(registry_find(r, "EAGER"), eager);
    assert_ptr_equal(registry_find(r, "libtorch"), eager);
    assert_ptr_equal(registry_find(r, "TORCH"), eager);
    assert_ptr_equal(registry_find(r, "JIT_TRACE"), script);
    assert_ptr_equal(registry_find(r, "TORCH_SCRIPT"), script);
    assert_ptr_equal(registry_find(r, "jit-script"), script);
    assert_non_null(registry_find(r, "TORCHSCRIPT_FROZEN"));
    assert_int_equal(eager->tier, 2);
    assert_int_equal(script->tier, 2);
    assert_null(registry_foreign("TORCH_SCRIPT"));
    assert_null(registry_foreign("EAGER"));
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
    assert_int_equal(registry_select(r, "TFLITE", 1, &s, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "use XNNPACK"));
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
    /* the transforms, and the conversions that take them */
    assert_non_null(strstr(buf, "Model transforms, written TRANSFORM+CONVERSION"));
    assert_non_null(strstr(buf, "before REFERENCE, ORT_CPU"));
    assert_non_null(strstr(buf, "FP16   fp16"));
    assert_non_null(strstr(buf, "BF16+ORT_CPU"));
    free(buf);
}

/* ---- TRANSFORM+CONVERSION ---- */

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

static void test_transform_refusals(void **state) {
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
    /* TorchScript runs the model's own .pt file: an ONNX transform cannot reach it */
    assert_int_equal(registry_resolve(r, "INT8+TORCH_SCRIPT", &en, &e), CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "cannot take a model transform"));
    /* in a list, every problem is named and nothing is selected */
    registry_selection s;
    assert_int_equal(registry_select(r, "INT8+ORT_CPU,INT9+ORT_CPU,FP16+XNNPACK", 1, &s, &e),
                     CALMA_E_USAGE);
    assert_non_null(strstr(e.msg, "INT9"));
    assert_non_null(strstr(e.msg, "XNNPACK"));
}

static void test_select_transforms(void **state) {
    registry *r = *state;
    registry_selection s;
    calma_error e;
    assert_int_equal(registry_select(r, "ORT_CPU,int8+ort_cpu,INT8+ONNX_CPU", 1, &s, &e), CALMA_OK);
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

static int noop_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
                     void **state, calma_error *e) {
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
    calma_backend v2 = {
        .abi = 2, .load = noop_load, .run = noop_run, .flags = CALMA_BACKEND_READS_ONNX};
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
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_transform_refusals),
        cmocka_unit_test(test_select_transforms),
        cmocka_unit_test(test_flags_and_suffixes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
