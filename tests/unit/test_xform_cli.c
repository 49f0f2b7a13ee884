/* TRANSFORM+CONVERSION through `calma bench`: each trial's precision, the
 * transform timed in its own phase and cached in the run folder, validation
 * over several batches judged by precision, the test hook that breaks the
 * quantization caught as a mismatch, and the names and flags refused with
 * exit 2. ORT trials are `unavailable` where ONNX Runtime is absent; the
 * INT8+REFERENCE trials check the same quantized model without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "io/gen.h"
#include "io/npy.h"
#include "test_files.h"

static const char *calma_bin(void) {
    const char *bin = getenv("CALMA_BIN");
    if (!bin || access(bin, X_OK) != 0) skip();
    return bin;
}

static const char *run_dir(const char *name, char *buf, size_t n) {
    const char *build = getenv("CALMA_BUILD_DIR");
    snprintf(buf, n, "%s/test-runs/%s", build ? build : "/tmp", name);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/..' && rm -rf '%s'", buf, buf);
    assert_int_equal(system(cmd), 0);
    return buf;
}

/* calma bench ARGS with the run folder; returns the exit status. */
static int bench(const char *dir, const char *args, char *out, size_t n) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' bench %s --run-dir '%s' 2>&1", calma_bin(), args, dir);
    return run_capture(cmd, out, n);
}

static cJSON *report(const char *dir) {
    char path[4300];
    snprintf(path, sizeof path, "%s/report.json", dir);
    cJSON *j = slurp_json(path);
    assert_non_null(j);
    return j;
}

static const cJSON *trial(const cJSON *rep, const char *id) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(rep, "trials")) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(t, "id");
        if (cJSON_IsString(i) && !strcmp(i->valuestring, id)) return t;
    }
    fail_msg("no trial %s", id);
    return NULL;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = o;
    for (char *k = strtok(buf, "."); k && v; k = strtok(NULL, ".")) {
        if (cJSON_IsArray(v))
            v = cJSON_GetArrayItem(v, atoi(k));
        else
            v = cJSON_GetObjectItemCaseSensitive(v, k);
    }
    return cJSON_IsNumber(v) ? v->valuedouble : -1e300;
}

static int is_true(const cJSON *o, const char *obj, const char *k) {
    return cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, obj), k));
}

static int ort_ok(const cJSON *t) {
    return strcmp(str(t, "status"), "unavailable") != 0;
}

static void test_transforms_run(void **state) {
    (void)state;
    char dir[1024], *out = malloc(1 << 16);
    run_dir("xform", dir, sizeof dir);
    int rc = bench(dir,
                   "simple --conversions FP16+ORT_CPU,INT8+ORT_CPU,INT8+REFERENCE,BF16+ORT_CPU "
                   "--batch 1,2 --samples 5 --calibration 4 --validation-batches 3 --quiet",
                   out, 1 << 16);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    keep_report(dir, "xform");
    cJSON *rep = report(dir);
    /* the oracle made every validation batch, for each batch size */
    char path[4300];
    snprintf(path, sizeof path, "%s/oracle/b2/v2/output_0.npy", dir);
    assert_int_equal(access(path, R_OK), 0);
    const cJSON *ref = trial(rep, "INT8+REFERENCE-b1-t1");
    assert_string_equal(str(ref, "status"), "ok");
    assert_string_equal(str(ref, "precision"), "int8");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ref, "validation");
    assert_int_equal((int)num(v, "batches"), 3);
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(v, "outputs"), 0);
    assert_string_equal(str(o, "judged"), "accuracy");
    assert_true(num(o, "cosine") > 0.999);
    assert_true(num(o, "top1") == 1.0 && num(o, "rows") == 3);
    assert_true(num(o, "min_cosine") == 0.99 && num(o, "min_top1") == 0.98);
    /* the first INT8 trial calibrated; the later ones found the cached model */
    const cJSON *first = trial(rep, "INT8+ORT_CPU-b1-t1");
    const cJSON *later = trial(rep, "INT8+ORT_CPU-b2-t1");
    if (ort_ok(first)) {
        assert_string_equal(str(first, "status"), "ok");
        assert_false(is_true(first, "transform", "cached"));
        assert_true(num(first, "phases.calibration_s") > 0);
        assert_true(num(first, "phases.convert_s") >= num(first, "phases.transform_s"));
        assert_true(num(first, "transform.calibration.batches") == 4);
        assert_string_equal(str(later, "status"), "ok");
        assert_true(is_true(later, "transform", "cached"));
        assert_true(num(later, "phases.calibration_s") == 0);
        assert_true(is_true(ref, "transform", "cached"));
    }
    snprintf(path, sizeof path, "%s/transforms/INT8.ranges", dir);
    assert_int_equal(access(path, R_OK), 0);
    const cJSON *fp16 = trial(rep, "FP16+ORT_CPU-b2-t1");
    assert_string_equal(str(fp16, "precision"), "fp16");
    if (ort_ok(fp16)) {
        assert_string_equal(str(fp16, "status"), "ok");
        assert_true(num(fp16, "validation.outputs.0.cosine") >= 0.999);
    }
    /* ONNX Runtime's CPU provider has no bfloat16 kernels for compute ops */
    const cJSON *bf16 = trial(rep, "BF16+ORT_CPU-b1-t1");
    assert_string_equal(str(bf16, "precision"), "bf16");
    if (ort_ok(bf16)) {
        assert_string_equal(str(bf16, "status"), "unsupported");
        assert_non_null(strstr(str(bf16, "message"), "Could not find an implementation"));
    }
    cJSON_Delete(rep);
    free(out);
}

/* A deliberately wrong quantization (a test-build hook) is a mismatch. */
static void test_broken_quantization_is_mismatch(void **state) {
    (void)state;
    char dir[1024], *out = malloc(1 << 16);
    run_dir("xform-broken", dir, sizeof dir);
    int rc = bench(
        dir,
        "simple --conversions INT8+REFERENCE,INT8+ORT_CPU --options xform.test_break=1 --repeats 1 "
        "--samples 3 --calibration 2 --validation-batches 2 --quiet",
        out, 1 << 16);
    assert_int_equal(rc, 1);
    keep_report(dir, "xform-broken");
    cJSON *rep = report(dir);
    const cJSON *r = trial(rep, "INT8+REFERENCE-b1-t1");
    assert_string_equal(str(r, "status"), "mismatch");
    assert_non_null(strstr(str(r, "message"), "cosine"));
    const cJSON *o = trial(rep, "INT8+ORT_CPU-b1-t1");
    if (ort_ok(o)) assert_string_equal(str(o, "status"), "mismatch");
    /* never best */
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rep, "best")));
    cJSON_Delete(rep);
    free(out);
}

/* The user's bounds replace the precision's defaults. */
static void test_user_bounds(void **state) {
    (void)state;
    char dir[1024], *out = malloc(1 << 16);
    run_dir("xform-bounds", dir, sizeof dir);
    int rc = bench(
        dir,
        "simple --conversions INT8+REFERENCE --min-cosine int8=0.99999999 --samples 3 --repeats 1 "
        "--calibration 2 --validation-batches 1 --quiet",
        out, 1 << 16);
    assert_int_equal(rc, 1);
    cJSON *rep = report(dir);
    const cJSON *t = trial(rep, "INT8+REFERENCE-b1-t1");
    assert_string_equal(str(t, "status"), "mismatch");
    assert_true(num(t, "validation.outputs.0.min_cosine") == 0.99999999);
    cJSON_Delete(rep);
    free(out);
}

/* With every input from a file, calibration and validation use that one batch. */
static void test_user_inputs(void **state) {
    (void)state;
    char dir[1024], npy[1100], args[2400], *out = malloc(1 << 16);
    run_dir("xform-inputs", dir, sizeof dir);
    snprintf(npy, sizeof npy, "%s-input.npy", dir);
    ir_tensor t = {0};
    calma_error e = {0};
    int64_t dims[4] = {1, 3, 224, 224};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 4, dims, &e), CALMA_OK);
    gen_fill(&t, 5, 0, 0);
    assert_int_equal(npy_write(npy, &t, &e), CALMA_OK);
    ir_tensor_free(&t);
    snprintf(args, sizeof args,
             "simple --conversions INT8+REFERENCE --input input=%s --samples 2 --repeats 1 "
             "--calibration 5 "
             "--quiet",
             npy);
    assert_int_equal(bench(dir, args, out, 1 << 16), 0);
    cJSON *rep = report(dir);
    const cJSON *tr = trial(rep, "INT8+REFERENCE-b1-t1");
    assert_string_equal(str(tr, "status"), "ok");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(tr, "transform"), "calibration");
    assert_string_equal(str(c, "inputs"), "user");
    assert_true(num(c, "batches") == 1);
    assert_true(num(tr, "validation.batches") == 1);
    cJSON_Delete(rep);
    free(out);
}

/* Several models in one plan: each its own transformed model and calibration. */
static void test_several_models(void **state) {
    (void)state;
    char dir[1024], path[1200], *out = malloc(1 << 16);
    run_dir("xform-several", dir, sizeof dir);
    int rc = bench(dir,
                   "simple mlp --conversions INT8+REFERENCE --samples 2 --repeats 1 "
                   "--calibration 2 --validation-batches 1 --quiet",
                   out, 1 << 16);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    const char *models[2] = {"simple", "mlp"};
    for (int m = 0; m < 2; m++) {
        snprintf(path, sizeof path, "%s/transforms/%s/INT8.onnx", dir, models[m]);
        assert_int_equal(access(path, R_OK), 0);
    }
    free(out);
}

static void refused(const char *args, const char *want) {
    char dir[1024], *out = malloc(1 << 16);
    run_dir("xform-refused", dir, sizeof dir);
    int rc = bench(dir, args, out, 1 << 16);
    if (rc != 2 || !strstr(out, want)) fprintf(stderr, "%s -> %d: %s\n", args, rc, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, want));
    char path[4300];
    snprintf(path, sizeof path, "%s/journal.jsonl", dir);
    assert_int_not_equal(access(path, F_OK), 0); /* nothing ran */
    free(out);
}

static void test_refused(void **state) {
    (void)state;
    refused("simple --conversions INT9+ORT_CPU", "did you mean INT8");
    refused("simple --conversions FP61+ORT_CPU", "unknown transform 'FP61'");
    refused("simple --conversions INT8+ORT_CPUU", "did you mean ORT_CPU");
    refused("simple --conversions INT8+XNNPACK", "cannot take a model transform");
    refused("simple --conversions INT8+FP16+ORT_CPU", "one transform per conversion");
    refused("simple --conversions INT8", "write it before one, e.g. INT8+ORT_CPU");
    refused("simple --conversions INT8+ORT_CPU --calibration 0", "--calibration '0'");
    refused("simple --conversions INT8+ORT_CPU --calibration many", "need an integer");
    refused("simple --validation-batches 0", "--validation-batches '0'");
    refused("simple --validation-batches 1001", "from 1 to 1000");
    refused("simple --min-cosine 2", "a cosine from -1 to 1");
    refused("simple --min-top1 150%", "a share like 98%");
    refused("simple --min-top1 int9=0.9", "unknown precision 'int9'");
    refused("simple --conversions INT8+ORT_CPU --options xform.calibrate=entropy",
            "minmax or percentile");
}

static void test_list_mentions_transforms(void **state) {
    (void)state;
    char cmd[4200], *out = malloc(1 << 16);
    snprintf(cmd, sizeof cmd, "'%s' list 2>&1", calma_bin());
    assert_int_equal(run_capture(cmd, out, 1 << 16), 0);
    assert_non_null(strstr(out, "Model transforms, written TRANSFORM+CONVERSION"));
    assert_non_null(strstr(out, "INT8   int8"));
    assert_non_null(strstr(out, "INT8+ORT_CPU\n")); /* the end of tier 3 */
    snprintf(cmd, sizeof cmd, "'%s' list --resolve int8+onnx_cpu,ORT_CPU 2>&1", calma_bin());
    assert_int_equal(run_capture(cmd, out, 1 << 16), 0);
    assert_string_equal(out, "INT8+ORT_CPU\nORT_CPU\n");
    snprintf(cmd, sizeof cmd, "'%s' list --json 2>&1", calma_bin());
    assert_int_equal(run_capture(cmd, out, 1 << 16), 0);
    assert_non_null(strstr(out, "\"reads_onnx\":\ttrue"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transforms_run),
        cmocka_unit_test(test_broken_quantization_is_mismatch),
        cmocka_unit_test(test_user_bounds),
        cmocka_unit_test(test_user_inputs),
        cmocka_unit_test(test_several_models),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_list_mentions_transforms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
