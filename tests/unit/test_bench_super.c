/* The supervisor's watch over one worker, with /bin/sh scripts standing in
 * for misbehaving workers: every way a worker can end maps to one status,
 * and every limit fires in about its time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/super.h"

static super_outcome run_sh(const char *script, super_limits lim, int sig_fd) {
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    super_outcome o;
    calma_error e = {0};
    assert_int_equal(super_run("/bin/sh", argv, &lim, sig_fd, NULL, NULL, &o, &e), CALMA_OK);
    return o;
}

static const super_limits quick = {.load_timeout = 5, .timeout = 5, .silence = 5, .mem_limit = 0};

static void test_result_ok(void **state) {
    (void)state;
    super_outcome o =
        run_sh("printf '%s\\n%s\\n' '{\"event\":\"phase\",\"phase\":\"load\"}' "
               "'{\"event\":\"result\",\"status\":\"mismatch\",\"message\":\"m\"}' >&3",
               quick, -1);
    assert_string_equal(o.status, "mismatch");
    assert_string_equal(o.message, "m");
    assert_string_equal(o.phase, "load");
    assert_non_null(o.result);
    assert_int_equal(o.exit_code, 0);
    assert_int_equal(o.signal, 0);
    super_outcome_free(&o);
}

static void test_exit_and_signal(void **state) {
    (void)state;
    super_outcome o = run_sh("exit 3", quick, -1);
    assert_string_equal(o.status, "crashed");
    assert_non_null(strstr(o.message, "code 3"));
    super_outcome_free(&o);
    o = run_sh("kill -SEGV $$", quick, -1);
    assert_string_equal(o.status, "crashed");
    assert_int_equal(o.signal, SIGSEGV);
    assert_non_null(strstr(o.message, "SIGSEGV"));
    super_outcome_free(&o);
    /* A SIGKILL calma did not send: the kernel's OOM killer, most likely. */
    o = run_sh("kill -KILL $$", quick, -1);
    assert_string_equal(o.status, "oom");
    super_outcome_free(&o);
    o = run_sh("exit 0", quick, -1);
    assert_string_equal(o.status, "error");
    assert_non_null(strstr(o.message, "without sending a result"));
    super_outcome_free(&o);
    o = run_sh("echo '{\"event\":\"result\",\"status\":\"ok\"}' >&3; exit 4", quick, -1);
    assert_string_equal(o.status, "crashed");
    assert_non_null(strstr(o.message, "after sending its result"));
    super_outcome_free(&o);
}

static void test_garbage(void **state) {
    (void)state;
    double t0 = super_now();
    super_outcome o = run_sh("echo 'hello there' >&3; sleep 10", quick, -1);
    assert_true(super_now() - t0 < 2.0); /* killed at once, not at the timeout */
    assert_string_equal(o.status, "error");
    assert_non_null(strstr(o.message, "garbage"));
    assert_non_null(strstr(o.message, "hello there"));
    super_outcome_free(&o);
    o = run_sh("echo '{\"event\":\"result\",\"status\":\"banana\"}' >&3", quick, -1);
    assert_string_equal(o.status, "error");
    assert_non_null(strstr(o.message, "banana"));
    super_outcome_free(&o);
    o = run_sh("echo '[1,2]' >&3", quick, -1); /* JSON, but not a protocol line */
    assert_string_equal(o.status, "error");
    super_outcome_free(&o);
    o = run_sh("head -c 1500000 /dev/zero | tr '\\000' a >&3; sleep 10", quick, -1);
    assert_string_equal(o.status, "error");
    assert_non_null(strstr(o.message, "1 MiB"));
    super_outcome_free(&o);
}

static void test_timeouts(void **state) {
    (void)state;
    super_limits lim = {.load_timeout = 0.3, .timeout = 5, .silence = 5};
    double t0 = super_now();
    super_outcome o =
        run_sh("echo '{\"event\":\"phase\",\"phase\":\"load\"}' >&3; sleep 10", lim, -1);
    double dt = super_now() - t0;
    assert_string_equal(o.status, "timeout");
    assert_non_null(strstr(o.message, "load"));
    assert_true(dt >= 0.3 && dt < 1.5);
    super_outcome_free(&o);

    lim = (super_limits){.load_timeout = 5, .timeout = 5, .silence = 0.3};
    o = run_sh("echo '{\"event\":\"phase\",\"phase\":\"measure\"}' >&3; sleep 10", lim, -1);
    assert_string_equal(o.status, "timeout");
    assert_non_null(strstr(o.message, "silent"));
    assert_non_null(strstr(o.message, "measure"));
    super_outcome_free(&o);

    /* A result, then a hang (in release, say): not waited for to the timeout. */
    lim = (super_limits){.load_timeout = 60, .timeout = 60, .silence = 60};
    t0 = super_now();
    o = run_sh("echo '{\"event\":\"result\",\"status\":\"ok\"}' >&3; sleep 30", lim, -1);
    dt = super_now() - t0;
    assert_string_equal(o.status, "timeout");
    assert_non_null(strstr(o.message, "after sending its result"));
    assert_true(dt < 8.0);
    super_outcome_free(&o);

    /* A worker that ignores SIGTERM still goes, by SIGKILL. */
    lim = (super_limits){.load_timeout = 0, .timeout = 0.3, .silence = 0};
    t0 = super_now();
    o = run_sh("trap '' TERM; sleep 10", lim, -1);
    dt = super_now() - t0;
    assert_string_equal(o.status, "timeout");
    assert_non_null(strstr(o.message, "0.3s timeout"));
    assert_true(dt < 2.0);
    super_outcome_free(&o);
}

static void test_memory_cap(void **state) {
    (void)state;
    super_limits lim = {.timeout = 20, .mem_limit = 64u << 20};
    double t0 = super_now();
    super_outcome o = run_sh("exec awk 'BEGIN { s = \"x\"; while (1) s = s s }'", lim, -1);
    assert_string_equal(o.status, "oom");
    assert_non_null(strstr(o.message, "limit"));
    assert_true(o.peak_rss > (64u << 20));
    assert_true(super_now() - t0 < 10);
    super_outcome_free(&o);
}

static void test_stderr_tail(void **state) {
    (void)state;
    super_outcome o = run_sh("i=1; while [ $i -le 30 ]; do echo line$i >&2; i=$((i+1)); done; "
                             "echo stdout-too; exit 5",
                             quick, -1);
    assert_string_equal(o.status, "crashed");
    assert_non_null(o.stderr_tail);
    assert_null(strstr(o.stderr_tail, "line11\n"));
    assert_non_null(strstr(o.stderr_tail, "line12\nline13"));
    assert_non_null(strstr(o.stderr_tail, "line30\nstdout-too"));
    super_outcome_free(&o);
    /* Bytes that are not UTF-8 must not reach the JSON journal. */
    o = run_sh("printf 'ok \\302\\265s bad \\377\\001 end\\n' >&2; exit 1", quick, -1);
    assert_string_equal(o.stderr_tail, "ok \302\265s bad ?? end");
    super_outcome_free(&o);
}

/* Processes whose command line holds marker. */
static int running(const char *marker) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ps -eo args= | grep -F -- '%s' | grep -v grep | wc -l", marker);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* The whole tree, under whichever mechanism mode names ("" the best). */
static void tree_cases(const char *mode) {
    if (*mode) setenv("CALMA_CONTAINMENT", mode, 1);
    /* A grandchild over the cap while the worker itself holds nothing. */
    super_limits lim = {.timeout = 20, .silence = 20, .mem_limit = 64u << 20};
    double t0 = super_now();
    super_outcome o = run_sh("awk 'BEGIN { s = \"x\"; while (1) s = s s }' & sleep 15", lim, -1);
    assert_string_equal(o.status, "oom");
    assert_true(super_now() - t0 < 10);
    super_outcome_free(&o);
    /* An orphan in a session of its own outlives the worker: killed with
     * it, counted, and gone. */
    o = run_sh("setsid sh -c 'exec sleep 31.25' & sleep 0.2; "
               "echo '{\"event\":\"result\",\"status\":\"ok\"}' >&3",
               quick, -1);
    assert_string_equal(o.status, "ok");
    assert_true(o.strays >= 1);
    assert_int_equal(running("sleep 31.25"), 0);
    super_outcome_free(&o);
    /* A stopped worker times out; calma does not hang on it. */
    lim = (super_limits){.timeout = 0.5};
    t0 = super_now();
    o = run_sh("kill -STOP $$", lim, -1);
    assert_string_equal(o.status, "timeout");
    assert_true(super_now() - t0 < 3);
    super_outcome_free(&o);
    /* A tree past the process limit. */
    lim = (super_limits){.timeout = 20, .max_tasks = 16};
    o = run_sh("for i in $(seq 40); do sleep 30.75 & done; sleep 20", lim, -1);
    assert_string_equal(o.status, "error");
    assert_non_null(strstr(o.message, "limit of 16"));
    assert_int_equal(running("sleep 30.75"), 0);
    super_outcome_free(&o);
    unsetenv("CALMA_CONTAINMENT");
}

static void test_tree(void **state) {
    (void)state;
    tree_cases("");
}

static void test_tree_rlimit(void **state) {
    (void)state;
    tree_cases("rlimit");
}

static void test_interrupt(void **state) {
    (void)state;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    assert_true(fd >= 0);
    pid_t me = getpid(), helper = fork();
    if (helper == 0) {
        usleep(300000);
        kill(me, SIGUSR1);
        _exit(0);
    }
    double t0 = super_now();
    super_outcome o = run_sh("sleep 10", quick, fd);
    assert_string_equal(o.status, "interrupted");
    assert_true(super_now() - t0 < 2.0);
    super_outcome_free(&o);
    waitpid(helper, NULL, 0);
    close(fd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_ok),   cmocka_unit_test(test_exit_and_signal),
        cmocka_unit_test(test_garbage),     cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_memory_cap),  cmocka_unit_test(test_stderr_tail),
        cmocka_unit_test(test_interrupt),   cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_rlimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
