/* The worker's whole process tree is contained: one `calma bench` runs the
 * containment faults of tests/plugins/fault_plugin.c (a grandchild over the
 * memory cap, grandchildren that outlive the worker, one in a session of
 * its own, 100 MB of stderr, hostile text, SIGSTOP, a stack overflow, a fork
 * bomb) beside a healthy conversion. Each ends in its own status, the
 * healthy one stays ok, every journal line and report.json parse with
 * Python's strict json, the terminal gets no control characters, and `ps`
 * finds nothing of the run once calma has exited. Twice: with the best
 * mechanism this machine allows (a cgroup where it can), and with
 * CALMA_CONTAINMENT=rlimit.
 *
 * About 10 s per run: SIGSTOP has to run into the 3 s silence limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_bench_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONVERSIONS                                                                                \
    "FAULT_OK,FAULT_CHILD_OOM,FAULT_ORPHAN,FAULT_ORPHAN_SETSID,FAULT_STDERR_FLOOD,FAULT_HOSTILE,"  \
    "FAULT_SIGSTOP,FAULT_STACK,FAULT_FORK_BOMB"

static int setup(void **state) {
    return bench_env_setup(state, "contain");
}

static int teardown(void **state) {
    if (getenv("CALMA_KEEP_TEST_DIR")) return 0;
    return bench_env_teardown(state);
}

/* How many processes `ps` lists whose command line names the run folder
 * (every worker and every process it forked has --run-dir RUN in it). */
static int left_running(const char *run) {
    FILE *p = popen("ps -eo pid=,stat=,args=", "r");
    assert_non_null(p);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, run)) {
            fprintf(stderr, "still running: %s", line);
            n++;
        }
    pclose(p);
    return n;
}

/* Python's json, which refuses bytes that are not UTF-8. */
static void strict_json(const char *run) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "[json.loads(l) for l in open(sys.argv[1], encoding=\"utf-8\")]\n"
             "json.load(open(sys.argv[2], encoding=\"utf-8\"))' '%s/journal.jsonl' "
             "'%s/report.json'",
             run, run);
    assert_int_equal(system(cmd), 0);
}

/* No ESC, no carriage return, nothing but text: what reached the terminal. */
static void no_control_bytes(const char *log) {
    char *s = slurp(log);
    assert_non_null(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7F) {
            fprintf(stderr, "control byte 0x%02x at offset %td of %s\n", *p, (const char *)p - s,
                    log);
            fail();
        }
    free(s);
}

static double num_of(const cJSON *r, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void run_contained(env *v, const char *tag, const char *mechanism) {
    write_identity_model(v->model);
    char run[400], log[400];
    snprintf(run, sizeof run, "%s/%s", v->dir, tag);
    snprintf(log, sizeof log, "%s/%s.log", v->dir, tag);
    double t0 = now_s();
    pid_t pid = spawn_calma(
        v,
        (const char *[]){
            v->model, "--conversions",  CONVERSIONS, "--plugin",   v->plugin, "--run-dir",
            run,      "--load-timeout", "3s",        "--timeout",  "6s",      "--memory-limit",
            "300M",   "--max-procs",    "64",        "--max-time", "0.3s",    "--min-time",
            "0.05s",  "--repeats",      "1",         NULL},
        log);
    int code = wait_exit(pid);
    double wall = now_s() - t0;
    keep_report(run, tag);
    if (code != 1) dump(log);
    assert_int_equal(code, 1);
    assert_true(wall < 60.0);
    /* Nothing of the run outlives calma bench. */
    assert_int_equal(left_running(run), 0);
    strict_json(run);
    no_control_bytes(log);

    cJSON *recs = read_journal(run);
    assert_int_equal(cJSON_GetArraySize(recs), 9);
    expect(recs, "FAULT_OK", "ok", NULL);
    expect(recs, "FAULT_CHILD_OOM", "oom", NULL);
    expect(recs, "FAULT_ORPHAN", "ok", NULL);
    expect(recs, "FAULT_ORPHAN_SETSID", "ok", NULL);
    expect(recs, "FAULT_STDERR_FLOOD", "ok", NULL);
    expect(recs, "FAULT_HOSTILE", "error", NULL);
    expect(recs, "FAULT_SIGSTOP", "timeout", "silent");
    expect(recs, "FAULT_STACK", "crashed", NULL);
    expect(recs, "FAULT_FORK_BOMB", "error", "limit of 64");
    const cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        assert_string_equal(field(r, "containment"), mechanism);
    }
    /* The orphans were found and killed, and the record says so. */
    assert_true(num_of(find(recs, "FAULT_ORPHAN"), "strays_killed") >= 1);
    assert_true(num_of(find(recs, "FAULT_ORPHAN_SETSID"), "strays_killed") >= 1);
    char *warn = cJSON_PrintUnformatted(
        cJSON_GetObjectItemCaseSensitive(find(recs, "FAULT_ORPHAN_SETSID"), "warnings"));
    assert_non_null(strstr(warn, "left 1 process running"));
    free(warn);
    /* 100 MB of stderr: only its tail is kept. */
    const cJSON *tail =
        cJSON_GetObjectItemCaseSensitive(find(recs, "FAULT_STDERR_FLOOD"), "stderr_tail");
    assert_true(cJSON_GetArraySize(tail) <= 20);
    /* Hostile text: one printable line of sane length, whatever the engine
     * returned (1.2 MB of quotes, ESC, CR and bytes that are not UTF-8). */
    const cJSON *h = find(recs, "FAULT_HOSTILE");
    const char *msg = field(h, "message"), *ver = field(h, "engine_version");
    assert_true(strlen(msg) > 10);
    assert_true(strlen(ver) > 10 && strlen(ver) < 256);
    for (const char *s = msg; *s; s++) assert_true((unsigned char)*s >= 0x20 && *s != 0x7F);
    for (const char *s = ver; *s; s++) assert_true((unsigned char)*s >= 0x20 && *s != 0x7F);
    cJSON_Delete(recs);
}

static void test_tree_contained(void **state) {
    /* The mechanism this machine gives calma: a cgroup where one can be
     * made (root on a cgroup v2 or v1 machine), else the fallback. */
    env *v = *state;
    char probe[600];
    snprintf(probe, sizeof probe, "%s/probe", v->dir);
    write_identity_model(v->model);
    pid_t pid = spawn_calma(v,
                            (const char *[]){v->model, "--conversions", "FAULT_OK", "--plugin",
                                             v->plugin, "--run-dir", probe, "--max-time", "0.1s",
                                             "--min-time", "0.05s", "--repeats", "1", NULL},
                            "/dev/null");
    assert_int_equal(wait_exit(pid), 0);
    cJSON *recs = read_journal(probe);
    char mech[32];
    snprintf(mech, sizeof mech, "%s", field(find(recs, "FAULT_OK"), "containment"));
    cJSON_Delete(recs);
    fprintf(stderr, "containment here: %s\n", mech);
    assert_true(!strcmp(mech, "cgroup v2") || !strcmp(mech, "cgroup v1") ||
                !strcmp(mech, "rlimit+sampling"));
    run_contained(v, "auto", mech);
}

static void test_tree_contained_rlimit(void **state) {
    setenv("CALMA_CONTAINMENT", "rlimit", 1);
    run_contained(*state, "rlimit", "rlimit+sampling");
    unsetenv("CALMA_CONTAINMENT");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tree_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tree_contained_rlimit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
