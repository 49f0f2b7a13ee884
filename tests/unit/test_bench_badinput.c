/* `calma bench` refuses a bad plan with a clear message and exit 2, before
 * any worker starts (nothing is written: no run folder, no journal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/npy.h"
#include "test_spawn.h"

typedef struct env {
    char dir[256]; /* the cwd of every calma run: must stay empty */
    char err[8192];
} env;

/* Runs calma with args in e->dir; stderr goes into e->err. */
static int run_calma(env *e, const char *const *args) {
    char errpath[300];
    snprintf(errpath, sizeof errpath, "%s.err", e->dir);
    int code = calma_wait(calma_bench_start(e->dir, args, NULL, errpath));
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t got = fread(e->err, 1, sizeof e->err - 1, f);
    e->err[got] = '\0';
    fclose(f);
    unlink(errpath);
    assert_true(code < 128); /* exited, not killed */
    return code;
}

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

/* Exit 2, a message holding want, and nothing written. */
static void expect_refused(env *e, const char *want, const char *const *args) {
    int code = run_calma(e, args);
    if (code != 2 || !strstr(e->err, want))
        fprintf(stderr, "args[0]=%s: exit %d, stderr: %s\n", args[0], code, e->err);
    assert_int_equal(code, 2);
    assert_non_null(strstr(e->err, want));
    assert_non_null(strstr(e->err, "calma bench: "));
    assert_true(dir_is_empty(e->dir));
}

static int setup(void **state) {
    env *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/calma-badinput-XXXXXX");
    if (!mkdtemp(e->dir)) return -1;
    *state = e;
    return 0;
}

static int teardown(void **state) {
    env *e = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0) return -1;
    free(e);
    return 0;
}

static void test_unknown_conversion(void **state) {
    env *e = *state;
    expect_refused(e, "REFERENCE", (const char *[]){"--conversions", "REFERENCEE", NULL});
    expect_refused(e, "NO_SUCH_ENGINE",
                   (const char *[]){"--conversions", "REFERENCE,NO_SUCH_ENGINE", NULL});
}

static void test_empty_list(void **state) {
    env *e = *state;
    expect_refused(e, "empty", (const char *[]){"--conversions", "", NULL});
    expect_refused(e, "empty", (const char *[]){"--conversions=,,", NULL});
}

static void test_bad_batch_threads(void **state) {
    env *e = *state;
    expect_refused(e, "--batch", (const char *[]){"--batch", "0", NULL});
    expect_refused(e, "no input_0.pb (or .npy) for input",
                   (const char *[]){"--inputs-dir", "/nonexistent-calma-dir", NULL});
    expect_refused(e, "--batch", (const char *[]){"--batch", "-4", NULL});
    expect_refused(e, "--batch", (const char *[]){"--batch", "1,x", NULL});
    expect_refused(e, "--batch", (const char *[]){"--batch", "1,1", NULL});
    expect_refused(e, "--threads", (const char *[]){"--threads", "0", NULL});
    expect_refused(e, "--threads", (const char *[]){"--threads", "", NULL});
}

static void test_missing_model(void **state) {
    env *e = *state;
    expect_refused(e, "/no/such/model.onnx", (const char *[]){"/no/such/model.onnx", NULL});
    expect_refused(e, "not a built-in model", (const char *[]){"no_such_zoo_model", NULL});
}

static void test_bad_plugin(void **state) {
    env *e = *state;
    char path[300];
    snprintf(path, sizeof path, "%s.notplugin.so", e->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    expect_refused(e, path, (const char *[]){"--plugin", path, NULL});
    unlink(path);
    /* A real shared object that is not a calma plugin. */
    const char *libs[] = {"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                          NULL};
    for (int i = 0; libs[i]; i++) {
        if (access(libs[i], R_OK) != 0) continue;
        expect_refused(e, libs[i], (const char *[]){"--plugin", libs[i], NULL});
        break;
    }
    expect_refused(e, "/no/such/plugin.so",
                   (const char *[]){"--plugin", "/no/such/plugin.so", NULL});
}

/* Writes a zero tensor of dtype and shape to path (.npy). */
static void write_npy(const char *path, calma_dtype dt, int rank, const int64_t *dims) {
    ir_tensor t = {0};
    calma_error err = {0};
    assert_int_equal(ir_tensor_alloc(&t, dt, rank, dims, &err), CALMA_OK);
    assert_int_equal(npy_write(path, &t, &err), CALMA_OK);
    ir_tensor_free(&t);
}

/* Each fault of an --input file is named: the shapes with the batch
 * symbol, the dimension, the dtype, the flag to add. The built-in model
 * 'simple' takes input float32[N,3,224,224]. */
static void test_bad_inputs(void **state) {
    env *e = *state;
    char path[300], arg[400];
    snprintf(path, sizeof path, "%s.x.npy", e->dir);
    write_npy(path, CALMA_DT_FLOAT, 2, (int64_t[]){1, 4});
    snprintf(arg, sizeof arg, "input=%s", path);
    expect_refused(e, "holds float32[1,4]; input 'input' is float32[N,3,224,224]",
                   (const char *[]){"--input", arg, NULL});
    snprintf(arg, sizeof arg, "nosuch=%s", path);
    expect_refused(e, "no input called 'nosuch'", (const char *[]){"--input", arg, NULL});
    write_npy(path, CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 224, 112});
    expect_refused(e, "dimension 3 is 112, 224 wanted", (const char *[]){"--input", path, NULL});
    write_npy(path, CALMA_DT_FLOAT, 3, (int64_t[]){3, 224, 224});
    expect_refused(e, "is the batch dimension missing?", (const char *[]){"--input", path, NULL});
    write_npy(path, CALMA_DT_DOUBLE, 4, (int64_t[]){1, 3, 224, 224});
    expect_refused(e, "the dtype differs (float64 in the file, float32 wanted)",
                   (const char *[]){"--input", path, NULL});
    write_npy(path, CALMA_DT_FLOAT, 4, (int64_t[]){2, 3, 224, 224});
    expect_refused(e, "add --batch 2", (const char *[]){"--input", path, NULL});
    expect_refused(e, "use --batch 2", (const char *[]){"--input", path, "--batch", "1,2", NULL});
    /* --expected outputs need the inputs that made them */
    char out[300];
    snprintf(out, sizeof out, "%s.y.npy", e->dir);
    write_npy(out, CALMA_DT_FLOAT, 2, (int64_t[]){1, 10});
    expect_refused(e, "give every input", (const char *[]){"--expected", out, NULL});
    write_npy(out, CALMA_DT_INT64, 2, (int64_t[]){1, 10});
    write_npy(path, CALMA_DT_FLOAT, 4, (int64_t[]){1, 3, 224, 224});
    expect_refused(e, "the dtype differs (int64 in the file, float32 wanted)",
                   (const char *[]){"--expected", out, "--input", path, NULL});
    unlink(out);
    unlink(path);
    expect_refused(e, "no such file", (const char *[]){"--input", "input=/no/such.npy", NULL});
    expect_refused(e, "no such file", (const char *[]){"--input", "justafile.npy", NULL});
    expect_refused(e, "NAME=FILE", (const char *[]){"--input", "input=", NULL});
}

static void test_unwritable_run_dir(void **state) {
    env *e = *state;
    /* /proc refuses new folders even to root. */
    expect_refused(e, "/proc/calma-run", (const char *[]){"--run-dir", "/proc/calma-run", NULL});
}

static void test_resume_not_a_run(void **state) {
    env *e = *state;
    char other[300];
    snprintf(other, sizeof other, "%s.other", e->dir);
    assert_int_equal(mkdir(other, 0755), 0);
    expect_refused(e, "not a calma run", (const char *[]){"--resume", other, NULL});
    char plan[400];
    snprintf(plan, sizeof plan, "%s/plan.json", other);
    FILE *f = fopen(plan, "w");
    assert_non_null(f);
    fputs("{\"hello\": 1}", f);
    fclose(f);
    expect_refused(e, "not a calma plan", (const char *[]){"--resume", other, NULL});
    unlink(plan);
    rmdir(other);
    expect_refused(e, "no such folder", (const char *[]){"--resume", "/no/such/run", NULL});
}

static void test_bad_flags(void **state) {
    env *e = *state;
    expect_refused(e, "--frobnicate", (const char *[]){"--frobnicate", NULL});
    expect_refused(e, "--tier", (const char *[]){"--tier", "4", NULL});
    expect_refused(e, "not both",
                   (const char *[]){"--tier", "1", "--conversions", "REFERENCE", NULL});
    expect_refused(e, "--samples", (const char *[]){"--samples", "0", NULL});
    expect_refused(e, "--timeout", (const char *[]){"--timeout", "soon", NULL});
    expect_refused(e, "--memory-limit", (const char *[]){"--memory-limit", "lots", NULL});
    expect_refused(e, "needs a value", (const char *[]){"--batch", NULL});
    expect_refused(e, "/no/such/dir", (const char *[]){"--output", "/no/such/dir/r.json", NULL});
    expect_refused(e, "--repeats", (const char *[]){"--repeats", "0", NULL});
    expect_refused(e, "--repeats", (const char *[]){"--repeats", "x", NULL});
    expect_refused(e, "did you mean ORT_CPU",
                   (const char *[]){"--baseline", "ORT_CPUU", "--conversions", "REFERENCE", NULL});
    expect_refused(e, "not among this run's conversions (REFERENCE)",
                   (const char *[]){"--baseline", "ORT_CPU", "--conversions", "REFERENCE", NULL});
    expect_refused(e, "is a directory, not an .onnx file", (const char *[]){"/tmp", NULL});
}

/* The serving-scenario flags: each bad value or combination is named. */
static void test_bad_scenario(void **state) {
    env *e = *state;
    expect_refused(e, "--scenario 'bogus'", (const char *[]){"--scenario", "bogus", NULL});
    expect_refused(e, "--streams",
                   (const char *[]){"--scenario", "offline", "--streams", "0", NULL});
    expect_refused(e, "--streams",
                   (const char *[]){"--scenario", "offline", "--streams", "1,1", NULL});
    expect_refused(e, "--streams",
                   (const char *[]){"--scenario", "offline", "--streams", "100000", NULL});
    expect_refused(e, "--streams runs parallel streams", (const char *[]){"--streams", "2", NULL});
    expect_refused(e, "--rate '0'", (const char *[]){"--scenario", "server", "--rate", "0", NULL});
    expect_refused(e, "--rate '-5'",
                   (const char *[]){"--scenario", "server", "--rate", "-5", NULL});
    expect_refused(e, "--rate 'fast'",
                   (const char *[]){"--scenario", "server", "--rate", "fast", NULL});
    expect_refused(e, "--rate sets the arrival rate", (const char *[]){"--rate", "100", NULL});
    expect_refused(e, "--rate sets the arrival rate",
                   (const char *[]){"--scenario", "offline", "--rate", "100", NULL});
    expect_refused(e, "--latency-bound judges", (const char *[]){"--latency-bound", "10ms", NULL});
    expect_refused(e, "--latency-bound judges",
                   (const char *[]){"--scenario", "offline", "--latency-bound", "10ms", NULL});
    expect_refused(
        e, "--latency-bound '0'",
        (const char *[]){"--scenario", "server", "--rate", "10", "--latency-bound", "0", NULL});
    expect_refused(
        e, "--latency-bound 'soon'",
        (const char *[]){"--scenario", "server", "--rate", "10", "--latency-bound", "soon", NULL});
    expect_refused(e, "needs --rate", (const char *[]){"--scenario", "server", NULL});
    expect_refused(e, "give --latency-bound",
                   (const char *[]){"--scenario", "server", "--rate", "auto", NULL});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_scenario, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_conversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_batch_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_run_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_not_a_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_flags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
