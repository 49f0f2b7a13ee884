/* The bench plan (flags, durations, sizes, trial order, plan.json round
 * trip) and the journal (append, reload, a line cut mid-write). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/journal.h"
#include "bench/plan.h"

static void test_durations_sizes(void **state) {
    (void)state;
    double d;
    assert_int_equal(plan_parse_duration("5m", &d), 0);
    assert_true(d == 300);
    assert_int_equal(plan_parse_duration("500ms", &d), 0);
    assert_true(d > 0.4999 && d < 0.5001);
    assert_int_equal(plan_parse_duration("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(plan_parse_duration("2s", &d), 0);
    assert_true(d == 2);
    assert_int_equal(plan_parse_duration("-1s", &d), -1);
    assert_int_equal(plan_parse_duration("soon", &d), -1);
    assert_int_equal(plan_parse_duration("5x", &d), -1);
    assert_int_equal(plan_parse_duration("", &d), -1);
    assert_int_equal(plan_parse_duration("nan", &d), -1);
    uint64_t b;
    assert_int_equal(plan_parse_size("4G", &b), 0);
    assert_true(b == 4ull << 30);
    assert_int_equal(plan_parse_size("512M", &b), 0);
    assert_true(b == 512ull << 20);
    assert_int_equal(plan_parse_size("300MiB", &b), 0);
    assert_true(b == 300ull << 20);
    assert_int_equal(plan_parse_size("1000", &b), 0);
    assert_true(b == 1000);
    assert_int_equal(plan_parse_size("lots", &b), -1);
    assert_int_equal(plan_parse_size("4Q", &b), -1);
    assert_int_equal(plan_parse_size("-4G", &b), -1);
}

static int parse(plan *p, const char *const *args, calma_error *e) {
    char *argv[32];
    int n = 0;
    argv[n++] = "bench";
    for (int i = 0; args[i]; i++) argv[n++] = (char *)args[i];
    int help;
    plan_init(p);
    return plan_parse_args(p, n, argv, &help, e);
}

static void test_args(void **state) {
    (void)state;
    plan p;
    calma_error e = {0};
    assert_int_equal(parse(&p,
                           (const char *[]){"net.onnx", "--batch", "1,8", "--threads=1,2",
                                            "--precision", "2%", "--max-time", "3s", "--seed", "7",
                                            "--memory-limit", "1G", "--strict", NULL},
                           &e),
                     CALMA_OK);
    assert_string_equal(p.model_arg, "net.onnx");
    assert_int_equal(p.n_batch, 2);
    assert_int_equal(p.batch[1], 8);
    assert_int_equal(p.n_threads, 2);
    assert_true(p.precision > 0.0199 && p.precision < 0.0201);
    assert_true(p.max_time == 3);
    assert_true(p.seed == 7);
    assert_true(p.memory_limit == 1ull << 30);
    assert_true(p.strict);
    plan_free(&p);
    const char *const *bad[] = {
        (const char *[]){"--batch", "0", NULL},
        (const char *[]){"--batch", "2,,3", NULL},
        (const char *[]){"--threads", "-1", NULL},
        (const char *[]){"--samples", "10", "--precision", "1%", NULL},
        (const char *[]){"--tier", "2", "--conversions", "REFERENCE", NULL},
        (const char *[]){"--conversions", " , ", NULL},
        (const char *[]){"a.onnx", "b.onnx", NULL},
        (const char *[]){"--min-time", "5s", "--max-time", "1s", NULL},
        (const char *[]){"--keep-samples=yes", NULL},
        (const char *[]){"--precision", "150%", NULL},
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        e.status = 0;
        e.msg[0] = '\0';
        assert_int_equal(parse(&p, bad[i], &e), CALMA_E_USAGE);
        assert_true(strlen(e.msg) > 0);
        plan_free(&p);
    }
}

static void test_trials_and_json(void **state) {
    (void)state;
    plan p;
    calma_error e = {0};
    assert_int_equal(parse(&p, (const char *[]){"--batch", "1,4", "--threads", "1,2", NULL}, &e),
                     0);
    p.n_conv = 2;
    p.conv = calloc(2, sizeof *p.conv);
    p.conv[0] = strdup("A");
    p.conv[1] = strdup("B");
    p.model_path = strdup("/m.onnx");
    p.model_name = strdup("m");
    assert_int_equal(plan_n_trials(&p), 8);
    char id[64];
    plan_trial_id(&p, 0, id, sizeof id);
    assert_string_equal(id, "A-b1-t1");
    plan_trial_id(&p, 1, id, sizeof id);
    assert_string_equal(id, "A-b1-t2");
    plan_trial_id(&p, 2, id, sizeof id);
    assert_string_equal(id, "A-b4-t1");
    plan_trial_id(&p, 7, id, sizeof id);
    assert_string_equal(id, "B-b4-t2");
    p.seed = 18446744073709551615ull; /* survives JSON, which holds doubles */
    cJSON *j = plan_to_json(&p);
    plan q;
    plan_init(&q);
    assert_int_equal(plan_from_json(&q, j, &e), CALMA_OK);
    assert_true(q.seed == p.seed);
    assert_int_equal(q.n_conv, 2);
    assert_string_equal(q.conv[1], "B");
    assert_int_equal(plan_n_trials(&q), 8);
    assert_string_equal(q.model_path, "/m.onnx");
    cJSON_Delete(j);
    plan_free(&q);
    plan_free(&p);
}

static void test_journal(void **state) {
    (void)state;
    char dir[] = "/tmp/calma-journal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    calma_error e = {0};
    assert_int_equal(journal_make_dir(sub, &e), CALMA_OK);
    cJSON *recs;
    assert_int_equal(journal_load(sub, &recs, &e), CALMA_OK);
    assert_int_equal(cJSON_GetArraySize(recs), 0);
    cJSON_Delete(recs);
    for (int i = 0; i < 3; i++) {
        cJSON *r = cJSON_CreateObject();
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        cJSON_AddStringToObject(r, "id", id);
        assert_int_equal(journal_append(sub, r, &e), CALMA_OK);
        cJSON_Delete(r);
    }
    char path[200];
    snprintf(path, sizeof path, "%s/journal.jsonl", sub);
    FILE *f = fopen(path, "a");
    fputs("{\"id\":\"t3\",\"sta", f); /* a kill mid-write */
    fclose(f);
    assert_int_equal(journal_load(sub, &recs, &e), CALMA_OK);
    assert_int_equal(cJSON_GetArraySize(recs), 3);
    assert_non_null(journal_find(recs, "t2"));
    assert_null(journal_find(recs, "t3"));
    cJSON_Delete(recs);
    /* The cut line is gone, so the next append starts a line of its own. */
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", "t3");
    assert_int_equal(journal_append(sub, r, &e), CALMA_OK);
    cJSON_Delete(r);
    assert_int_equal(journal_load(sub, &recs, &e), CALMA_OK);
    assert_int_equal(cJSON_GetArraySize(recs), 4);
    assert_non_null(journal_find(recs, "t3"));
    cJSON_Delete(recs);
    /* A folder without plan.json is not a run; one with a calma plan is. */
    cJSON *pj;
    assert_int_equal(journal_open_run(sub, &pj, &e), CALMA_E_USAGE);
    assert_int_equal(journal_write_file(sub, "plan.json", "{\"calma_version\":\"0\"}", &e), 0);
    assert_int_equal(journal_open_run(sub, &pj, &e), CALMA_OK);
    cJSON_Delete(pj);
    assert_int_equal(journal_make_dir("/proc/calma-nope", &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "/proc/calma-nope"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations_sizes),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_trials_and_json),
        cmocka_unit_test(test_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
