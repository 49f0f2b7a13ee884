/* A healthy `calma bench` end to end on a tiny Identity model: a sweep
 * (batch x threads) in plan order, user inputs from .npy files, a fixed
 * sample count, samples kept in the report and in the samples files, the
 * oracle's outputs per batch, --output, and exit 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_files.h"
#include "test_identity.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/npy.h"
#include "ir/ir.h"
#include "onnx/onnx.h"
#include "test_spawn.h"

static int run_calma(const char *cwd, const char *const *args, const char *log) {
    return calma_wait(calma_bench_start(cwd, args, log, log));
}

static void write_input(const char *path, int64_t batch) {
    ir_tensor t = {0};
    calma_error e = {0};
    int64_t dims[] = {batch, 4};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 2, dims, &e), CALMA_OK);
    float *f = t.data;
    for (int i = 0; i < 4 * batch; i++) f[i] = 100.0f + (float)i;
    assert_int_equal(npy_write(path, &t, &e), CALMA_OK);
    ir_tensor_free(&t);
}

static const char *sfield(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_sweep_with_inputs(void **state) {
    (void)state;
    char dir[] = "/tmp/calma-run-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char model[128], input[128], run[128], out[128], log[128], plugin[600];
    snprintf(model, sizeof model, "%s/id.onnx", dir);
    snprintf(input, sizeof input, "%s/x.npy", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(plugin, sizeof plugin, "%s/tests/plugins/fault_plugin.so", getenv("CALMA_BUILD_DIR"));
    write_identity_model(model);
    write_input(input, 3);
    char inarg[160];
    snprintf(inarg, sizeof inarg, "x=%s", input);
    int code = run_calma(dir,
                         (const char *[]){model, "--conversions", "FAULT_OK,REFERENCE", "--plugin",
                                          plugin, "--batch", "3", "--threads", "1,2", "--input",
                                          inarg, "--samples", "20", "--keep-samples", "--run-dir",
                                          run, "--output", out, NULL},
                         log);
    keep_report(run, "sweep");
    if (code != 0) {
        char *l = slurp(log);
        fprintf(stderr, "%s\n", l);
        free(l);
    }
    assert_int_equal(code, 0);
    char *text = slurp(out);
    assert_non_null(text);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    assert_non_null(rep);
    const cJSON *trials = cJSON_GetObjectItemCaseSensitive(rep, "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 4);
    static const char *const order[] = {"FAULT_OK-b3-t1", "FAULT_OK-b3-t2", "REFERENCE-b3-t1",
                                        "REFERENCE-b3-t2"};
    for (int i = 0; i < 4; i++) {
        const cJSON *t = cJSON_GetArrayItem(trials, i);
        assert_string_equal(sfield(t, "id"), order[i]);
        assert_string_equal(sfield(t, "status"), "ok");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "validation");
        assert_string_equal(sfield(v, "verdict"), "pass");
        /* Three worker processes (the default --repeats) of 20 samples
         * each, pooled. */
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "stats");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(st, "n")->valueint, 60);
        assert_string_equal(sfield(st, "stop"), "fixed count");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "samples")), 60);
        const cJSON *procs = cJSON_GetObjectItemCaseSensitive(t, "processes");
        assert_int_equal(cJSON_GetArraySize(procs), 3);
        const cJSON *p;
        cJSON_ArrayForEach(p, procs) {
            struct stat sb;
            assert_int_equal(stat(sfield(p, "samples_file"), &sb), 0);
            assert_int_equal(sb.st_size, 20 * 8);
        }
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(t, "repeats");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rep, "medians")), 3);
        double lo = cJSON_GetObjectItemCaseSensitive(st, "ci_lo")->valuedouble,
               hi = cJSON_GetObjectItemCaseSensitive(st, "ci_hi")->valuedouble,
               med = cJSON_GetObjectItemCaseSensitive(st, "median")->valuedouble;
        assert_true(lo <= med && med <= hi);
        /* the combined interval holds every process's median */
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(rep, "medians")) {
            assert_true(m->valuedouble >= lo * 0.999 && m->valuedouble <= hi * 1.001);
        }
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(t, "phases");
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ph, "first_s")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ph, "warmup_runs")));
    }
    cJSON_Delete(rep);
    /* The journal holds one line per process, interleaved across trials:
     * process 1 of every trial, then process 2 of every trial, ... */
    char path0[256];
    snprintf(path0, sizeof path0, "%s/journal.jsonl", run);
    char *journal = slurp(path0);
    assert_non_null(journal);
    int line = 0;
    for (char *l = strtok(journal, "\n"); l; l = strtok(NULL, "\n"), line++) {
        cJSON *rec = cJSON_Parse(l);
        assert_non_null(rec);
        assert_string_equal(sfield(rec, "id"), order[line % 4]);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "repeat")->valueint, line / 4);
        cJSON_Delete(rec);
    }
    assert_int_equal(line, 12);
    free(journal);
    /* The oracle ran once for batch 3 on the file's values: Identity gives
     * them back unchanged. */
    char path[256];
    snprintf(path, sizeof path, "%s/oracle/b3/output_0.npy", run);
    ir_tensor y = {0};
    calma_error e = {0};
    assert_int_equal(npy_read(path, &y, &e), CALMA_OK);
    assert_int_equal(y.dims[0], 3);
    assert_true(((float *)y.data)[11] == 111.0f);
    ir_tensor_free(&y);
    /* report.json in the run folder too */
    snprintf(path, sizeof path, "%s/report.json", run);
    assert_int_equal(access(path, R_OK), 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The report.json a run wrote, parsed. */
static cJSON *read_report(const char *path) {
    char *text = slurp(path);
    assert_non_null(text);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    assert_non_null(rep);
    return rep;
}

/* --expected: every conversion, the oracle included, is judged against the
 * user's outputs; wrong ones make every trial a mismatch, and the report
 * says what the reference was. The bare --input names the only input. */
static void test_expected_outputs(void **state) {
    (void)state;
    char dir[] = "/tmp/calma-expected-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char model[128], input[128], good[128], bad[128], run[128], log[128], plugin[600];
    snprintf(model, sizeof model, "%s/id.onnx", dir);
    snprintf(input, sizeof input, "%s/x.npy", dir);
    snprintf(good, sizeof good, "%s/y.npy", dir);
    snprintf(bad, sizeof bad, "%s/wrong.npy", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(plugin, sizeof plugin, "%s/tests/plugins/fault_plugin.so", getenv("CALMA_BUILD_DIR"));
    write_identity_model(model);
    write_input(input, 2);
    write_input(good, 2); /* Identity: the output is the input */
    ir_tensor t = {0};
    calma_error e = {0};
    assert_int_equal(npy_read(good, &t, &e), CALMA_OK);
    ((float *)t.data)[5] += 1.0f;
    assert_int_equal(npy_write(bad, &t, &e), CALMA_OK);
    ir_tensor_free(&t);
    const char *files[] = {good, bad};
    const char *want[] = {"ok", "mismatch"};
    for (int k = 0; k < 2; k++) {
        char exarg[160], out[160];
        snprintf(run, sizeof run, "%s/run%d", dir, k);
        snprintf(out, sizeof out, "%s/out%d.json", dir, k);
        snprintf(exarg, sizeof exarg, "y=%s", files[k]);
        int code = run_calma(dir,
                             (const char *[]){model,
                                              "--conversions",
                                              "REFERENCE,FAULT_OK",
                                              "--plugin",
                                              plugin,
                                              "--batch",
                                              "2",
                                              "--input",
                                              input,
                                              "--expected",
                                              exarg,
                                              "--samples",
                                              "5",
                                              "--repeats",
                                              "1",
                                              "--run-dir",
                                              run,
                                              "--output",
                                              out,
                                              NULL},
                             log);
        assert_int_equal(code, k == 0 ? 0 : 1);
        cJSON *rep = read_report(out);
        const cJSON *tr;
        int n = 0;
        cJSON_ArrayForEach(tr, cJSON_GetObjectItemCaseSensitive(rep, "trials")) {
            n++;
            assert_string_equal(sfield(tr, "status"), want[k]);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(tr, "validation");
            assert_string_equal(sfield(v, "reference"), "expected outputs (--expected)");
            const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(v, "outputs"), 0);
            assert_string_equal(sfield(o, "reference"), files[k]);
        }
        assert_int_equal(n, 2);
        cJSON_Delete(rep);
        /* every output was given: the oracle had nothing to do */
        char path[200];
        snprintf(path, sizeof path, "%s/oracle", run);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* More threads than CPUs: the run goes on, with a warning that says why
 * the figure means little. */
static void test_threads_above_cpus(void **state) {
    (void)state;
    char dir[] = "/tmp/calma-threads-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char model[128], run[128], log[128], threads[32];
    snprintf(model, sizeof model, "%s/id.onnx", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(threads, sizeof threads, "%ld", sysconf(_SC_NPROCESSORS_ONLN) + 1);
    write_identity_model(model);
    int code =
        run_calma(dir,
                  (const char *[]){model, "--conversions", "REFERENCE", "--threads", threads,
                                   "--samples", "3", "--repeats", "1", "--run-dir", run, NULL},
                  log);
    assert_int_equal(code, 0);
    char *out = slurp(log);
    assert_non_null(strstr(out, "is more than the"));
    assert_non_null(strstr(out, "CPUs here"));
    free(out);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_with_inputs),
        cmocka_unit_test(test_expected_outputs),
        cmocka_unit_test(test_threads_above_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
