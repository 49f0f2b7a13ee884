/* Fault containment: one `calma bench` runs every misbehaving conversion of
 * tests/plugins/fault_plugin.c beside REFERENCE and a healthy plugin
 * conversion; each must end in its own status, the run must finish within
 * its timeouts, and the journal must hold every trial. Then a supervisor is
 * killed with SIGKILL mid-run and --resume must finish the run without
 * redoing what was done.
 *
 * Slower than most unit tests (about 20 s): the hangs and the slow
 * conversion have to run into real timeouts (3 s and 4 s here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_bench_util.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ir/ir.h"
#include "onnx/onnx.h"

static int setup(void **state) {
    return bench_env_setup(state, "faults");
}

static int teardown(void **state) {
    return bench_env_teardown(state);
}

/* One process per trial: these tests are about containing each worker. */
#define LIMITS                                                                                     \
    "--load-timeout", "3s", "--timeout", "4s", "--memory-limit", "300M", "--max-time", "0.3s",     \
        "--min-time", "0.05s", "--repeats", "1"

static void test_every_fault_contained(void **state) {
    env *v = *state;
    write_identity_model(v->model);
    assert_int_equal(access(v->plugin, R_OK), 0);
    char run[400], log[400];
    snprintf(run, sizeof run, "%s/run1", v->dir);
    snprintf(log, sizeof log, "%s/run1.log", v->dir);
    const char *convs = "REFERENCE,FAULT_OK,FAULT_HANG_LOAD,FAULT_HANG_RUN,FAULT_SEGV,FAULT_ABORT,"
                        "FAULT_EXIT3,FAULT_OOM,FAULT_NAN,FAULT_JUNK,FAULT_SLOW,FAULT_UNAVAILABLE,"
                        "FAULT_UNSUPPORTED";
    double t0 = now_s();
    pid_t pid = spawn_calma(v,
                            (const char *[]){v->model, "--conversions", convs, "--plugin",
                                             v->plugin, "--run-dir", run, LIMITS, NULL},
                            log);
    int code = wait_exit(pid);
    double wall = now_s() - t0;
    keep_report(run, "faults");
    if (code != 1) dump(log);
    assert_int_equal(code, 1);
    /* Timeouts: hang-load 3 s, hang-run 3 s (silence), slow 4 s; the rest is
     * quick. A generous bound that still fails if any hang went unchecked. */
    assert_true(wall < 30.0);
    cJSON *recs = read_journal(run);
    assert_int_equal(cJSON_GetArraySize(recs), 13);
    expect(recs, "REFERENCE", "ok", NULL);
    expect(recs, "FAULT_OK", "ok", NULL);
    expect(recs, "FAULT_HANG_LOAD", "timeout", "load");
    expect(recs, "FAULT_HANG_RUN", "timeout", NULL);
    expect(recs, "FAULT_SEGV", "crashed", NULL);
    expect(recs, "FAULT_ABORT", "crashed", NULL);
    expect(recs, "FAULT_EXIT3", "crashed", "code 3");
    expect(recs, "FAULT_OOM", "oom", NULL);
    expect(recs, "FAULT_NAN", "mismatch", NULL);
    expect(recs, "FAULT_JUNK", "error", "garbage");
    expect(recs, "FAULT_SLOW", "timeout", "4s");
    expect(recs, "FAULT_UNAVAILABLE", "unavailable", "by design");
    expect(recs, "FAULT_UNSUPPORTED", "unsupported", "Everything");
    /* The healthy ones were measured and validated. */
    const cJSON *ok = find(recs, "FAULT_OK");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(ok, "validation");
    assert_string_equal(field(val, "verdict"), "pass");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(ok, "stats"));
    const cJSON *nan = find(recs, "FAULT_NAN");
    assert_string_equal(field(cJSON_GetObjectItemCaseSensitive(nan, "validation"), "verdict"),
                        "fail");
    /* A mismatch is still timed. */
    assert_non_null(cJSON_GetObjectItemCaseSensitive(nan, "stats"));
    cJSON_Delete(recs);
    /* The report holds every trial and never names a failing one best. */
    char path[500];
    snprintf(path, sizeof path, "%s/report.json", run);
    char *text = slurp(path);
    assert_non_null(text);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    assert_non_null(rep);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rep, "trials")), 13);
    const char *best = field(cJSON_GetObjectItemCaseSensitive(rep, "best"), "conversion");
    assert_true(!strcmp(best, "REFERENCE") || !strcmp(best, "FAULT_OK"));
    cJSON_Delete(rep);
}

static void test_kill_and_resume(void **state) {
    env *v = *state;
    write_identity_model(v->model);
    char run[400], log[400];
    snprintf(run, sizeof run, "%s/run2", v->dir);
    snprintf(log, sizeof log, "%s/run2.log", v->dir);
    const char *convs = "REFERENCE,FAULT_OK,FAULT_SLOW,FAULT_EXIT3";
    pid_t pid = spawn_calma(v,
                            (const char *[]){v->model, "--conversions", convs, "--plugin",
                                             v->plugin, "--run-dir", run, LIMITS, NULL},
                            log);
    /* Kill it while FAULT_SLOW (the third trial) is in flight. */
    cJSON *recs = NULL;
    double t0 = now_s();
    for (;;) {
        cJSON_Delete(recs);
        recs = read_journal(run);
        if (cJSON_GetArraySize(recs) >= 2 || now_s() - t0 > 20) break;
        usleep(20000);
    }
    assert_int_equal(cJSON_GetArraySize(recs), 2);
    usleep(300000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(wait_exit(pid), 128 + SIGKILL);
    char jpath[500];
    snprintf(jpath, sizeof jpath, "%s/journal.jsonl", run);
    char *before = slurp(jpath);
    assert_non_null(before);
    /* A line cut mid-write must be ignored and redone. */
    FILE *f = fopen(jpath, "a");
    assert_non_null(f);
    fputs("{\"id\":\"FAULT_SLOW-b1-t1\",\"stat", f);
    fclose(f);
    cJSON_Delete(recs);

    pid = spawn_calma(v, (const char *[]){"--resume", run, NULL}, log);
    int code = wait_exit(pid);
    if (code != 1) dump(log);
    assert_int_equal(code, 1);
    char *after = slurp(jpath);
    assert_non_null(after);
    /* Finished trials kept byte for byte, not redone. */
    assert_memory_equal(after, before, strlen(before));
    recs = read_journal(run);
    assert_int_equal(cJSON_GetArraySize(recs), 4);
    expect(recs, "REFERENCE", "ok", NULL);
    expect(recs, "FAULT_OK", "ok", NULL);
    expect(recs, "FAULT_SLOW", "timeout", NULL);
    expect(recs, "FAULT_EXIT3", "crashed", "code 3");
    cJSON_Delete(recs);
    free(before);
    free(after);
    char *out = slurp(log);
    assert_non_null(out);
    assert_non_null(strstr(out, "[journal]")); /* said it reused the first two */
    free(out);
}

/* Ctrl-C: the worker is killed, the partial report written, exit 130. */
static void test_interrupt(void **state) {
    env *v = *state;
    write_identity_model(v->model);
    char run[400], log[400];
    snprintf(run, sizeof run, "%s/run3", v->dir);
    snprintf(log, sizeof log, "%s/run3.log", v->dir);
    pid_t pid = spawn_calma(
        v,
        (const char *[]){v->model, "--conversions", "REFERENCE,FAULT_HANG_RUN,FAULT_OK", "--plugin",
                         v->plugin, "--run-dir", run, "--load-timeout", "60s", "--timeout", "60s",
                         "--max-time", "0.2s", "--min-time", "0.05s", NULL},
        log);
    cJSON *recs = NULL;
    double t0 = now_s();
    for (;;) {
        cJSON_Delete(recs);
        recs = read_journal(run);
        if (cJSON_GetArraySize(recs) >= 1 || now_s() - t0 > 20) break;
        usleep(20000);
    }
    assert_int_equal(cJSON_GetArraySize(recs), 1);
    cJSON_Delete(recs);
    usleep(300000); /* FAULT_HANG_RUN is hanging now */
    double t1 = now_s();
    assert_int_equal(kill(pid, SIGINT), 0);
    int code = wait_exit(pid);
    if (code != 130) dump(log);
    assert_int_equal(code, 130);
    assert_true(now_s() - t1 < 5.0);
    keep_report(run, "interrupted");
    char path[500];
    snprintf(path, sizeof path, "%s/report.json", run);
    char *text = slurp(path);
    assert_non_null(text);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "interrupted")));
    const cJSON *trials = cJSON_GetObjectItemCaseSensitive(rep, "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 2);
    assert_string_equal(field(cJSON_GetArrayItem(trials, 0), "status"), "ok");
    assert_string_equal(field(cJSON_GetArrayItem(trials, 1), "status"), "interrupted");
    cJSON_Delete(rep);
    recs = read_journal(run);
    assert_int_equal(cJSON_GetArraySize(recs), 1); /* the trial in flight is not journaled */
    cJSON_Delete(recs);
}

/* With --repeats 3 every trial runs in three processes, interleaved; one
 * that crashes is not started again, and the trial says which process it
 * was. */
static void test_repeats_stop_at_a_failure(void **state) {
    env *v = *state;
    write_identity_model(v->model);
    char run[400], log[400];
    snprintf(run, sizeof run, "%s/run4", v->dir);
    snprintf(log, sizeof log, "%s/run4.log", v->dir);
    pid_t pid =
        spawn_calma(v,
                    (const char *[]){v->model, "--conversions", "FAULT_OK,FAULT_SEGV", "--plugin",
                                     v->plugin, "--run-dir", run, "--repeats", "3", "--max-time",
                                     "0.3s", "--min-time", "0.05s", NULL},
                    log);
    int code = wait_exit(pid);
    if (code != 1) dump(log);
    assert_int_equal(code, 1);
    cJSON *recs = read_journal(run);
    assert_int_equal(cJSON_GetArraySize(recs), 4); /* FAULT_OK x3, FAULT_SEGV x1 */
    static const char *const seq[] = {"FAULT_OK", "FAULT_SEGV", "FAULT_OK", "FAULT_OK"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(field(cJSON_GetArrayItem(recs, i), "conversion"), seq[i]);
    cJSON_Delete(recs);
    char path[500];
    snprintf(path, sizeof path, "%s/report.json", run);
    char *text = slurp(path);
    assert_non_null(text);
    cJSON *rep = cJSON_Parse(text);
    free(text);
    const cJSON *trials = cJSON_GetObjectItemCaseSensitive(rep, "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 2);
    const cJSON *ok = cJSON_GetArrayItem(trials, 0), *segv = cJSON_GetArrayItem(trials, 1);
    assert_string_equal(field(ok, "status"), "ok");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ok, "processes")), 3);
    assert_string_equal(field(segv, "status"), "crashed");
    assert_true(strlen(field(segv, "message")) > 0);          /* signal 11, or ASan's exit code */
    assert_null(strstr(field(segv, "message"), "process 1")); /* the first process: no news */
    cJSON_Delete(rep);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repeats_stop_at_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_fault_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
