/* The bench plan (flags, durations, sizes, trial order, plan.json round
 * trip) and the journal (append, reload, a line cut mid-write). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
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
    assert_int_equal(p.n_models, 1);
    assert_string_equal(p.models[0].arg, "net.onnx");
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
        (const char *[]){"--shard", "0/4", NULL},
        (const char *[]){"--shard", "5/4", NULL},
        (const char *[]){"--shard", "2", NULL},
        (const char *[]){"--shard", "1/0", NULL},
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

/* What set-up would resolve: n conversions "A", "B", ... and model m. */
static void conversions_and_model(plan *p, int n) {
    calma_error e = {0};
    p->n_conv = n;
    p->conv = calloc((size_t)n, sizeof *p->conv);
    for (int i = 0; i < n; i++) p->conv[i] = strdup((const char[]){(char)('A' + i), 0});
    assert_int_equal(plan_add_model(p, "m.onnx", &e), CALMA_OK);
    p->models[0].path = strdup("/m.onnx");
    p->models[0].name = strdup("m");
}

static void test_trials_and_json(void **state) {
    (void)state;
    plan p;
    calma_error e = {0};
    assert_int_equal(parse(&p, (const char *[]){"--batch", "1,4", "--threads", "1,2", NULL}, &e),
                     0);
    conversions_and_model(&p, 2);
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
    assert_string_equal(q.models[0].path, "/m.onnx");
    cJSON_Delete(j);
    plan_free(&q);
    plan_free(&p);
}

/* A scenario adds streams as the innermost dimension and "-sS" to ids;
 * plan.json keeps it; the single scenario's ids and plan.json stay as they
 * were. */
static void test_scenario_plan(void **state) {
    (void)state;
    plan p;
    calma_error e = {0};
    assert_int_equal(
        parse(&p,
              (const char *[]){"--scenario", "server", "--streams", "1,2", "--rate", "250/s",
                               "--latency-bound", "12ms", "--threads", "2", NULL},
              &e),
        0);
    assert_int_equal(p.scenario, PLAN_SERVER);
    assert_true(p.rate == 250 && !p.rate_auto);
    assert_true(fabs(p.latency_bound - 0.012) < 1e-12);
    conversions_and_model(&p, 2);
    assert_int_equal(plan_n_trials(&p), 4);
    char id[64];
    const char *conv;
    int64_t batch;
    int threads;
    plan_trial_id(&p, 0, id, sizeof id);
    assert_string_equal(id, "A-b1-t2-s1");
    plan_trial_id(&p, 1, id, sizeof id);
    assert_string_equal(id, "A-b1-t2-s2");
    plan_trial_id(&p, 3, id, sizeof id);
    assert_string_equal(id, "B-b1-t2-s2");
    plan_trial(&p, 3, &conv, &batch, &threads);
    assert_string_equal(conv, "B");
    assert_int_equal(threads, 2);
    assert_int_equal(plan_trial_streams(&p, 3), 2);
    assert_int_equal(plan_trial_model(&p, 3), 0);
    cJSON *j = plan_to_json(&p);
    plan q;
    plan_init(&q);
    assert_int_equal(plan_from_json(&q, j, &e), CALMA_OK);
    assert_int_equal(q.scenario, PLAN_SERVER);
    assert_int_equal(q.n_streams, 2);
    assert_true(q.rate == 250 && q.latency_bound == p.latency_bound);
    plan_trial_id(&q, 1, id, sizeof id);
    assert_string_equal(id, "A-b1-t2-s2");
    cJSON_Delete(j);
    plan_free(&q);
    plan_free(&p);
    /* --rate auto round trip; single has no "scenario" in plan.json */
    assert_int_equal(parse(&p,
                           (const char *[]){"--scenario", "server", "--rate", "auto",
                                            "--latency-bound", "5ms", NULL},
                           &e),
                     0);
    assert_true(p.rate_auto);
    conversions_and_model(&p, 1);
    j = plan_to_json(&p);
    plan_init(&q);
    assert_int_equal(plan_from_json(&q, j, &e), CALMA_OK);
    assert_true(q.rate_auto && q.latency_bound == 0.005);
    cJSON_Delete(j);
    plan_free(&q);
    plan_free(&p);
    assert_int_equal(parse(&p, (const char *[]){"--batch", "2", NULL}, &e), 0);
    j = plan_to_json(&p);
    assert_null(cJSON_GetObjectItem(j, "scenario"));
    cJSON_Delete(j);
    plan_free(&p);
}

/* A plan of several models: model-prefixed ids, models outermost; N shares
 * that hold every trial exactly once, the same every time, of similar
 * expected cost; one hash for every share of a plan, another for another. */
static void test_models_and_shards(void **state) {
    (void)state;
    calma_error e = {0};
    plan base;
    assert_int_equal(parse(&base, (const char *[]){"a", "b", "--batch", "1,8", NULL}, &e), 0);
    base.n_conv = 3;
    base.conv = calloc(3, sizeof *base.conv);
    base.conv[0] = strdup("REFERENCE");
    base.conv[1] = strdup("ORT_CPU");
    base.conv[2] = strdup("XNNPACK");
    for (int m = 0; m < 2; m++) {
        base.models[m].name = strdup(m ? "b" : "a");
        base.models[m].path = strdup(m ? "/b.onnx" : "/a.onnx");
    }
    assert_int_equal(plan_n_trials(&base), 12);
    char id[64];
    plan_trial_id(&base, 0, id, sizeof id);
    assert_string_equal(id, "a:REFERENCE-b1-t1");
    plan_trial_id(&base, 11, id, sizeof id);
    assert_string_equal(id, "b:XNNPACK-b8-t1");
    assert_int_equal(plan_trial_model(&base, 6), 1);
    cJSON *j = plan_to_json(&base);
    cJSON *models = cJSON_GetObjectItem(j, "models");
    cJSON_AddNumberToObject(cJSON_GetArrayItem(models, 0), "flops", 4e9);
    cJSON_AddNumberToObject(cJSON_GetArrayItem(models, 1), "flops", 1e6);
    int seen[12] = {0};
    char hash[3][80];
    for (int k = 1; k <= 3; k++) {
        base.shard_k = k;
        base.shard_n = 3;
        cJSON *jk = cJSON_Duplicate(j, 1);
        assert_int_equal(plan_seal(&base, jk, &e), CALMA_OK);
        snprintf(hash[k - 1], sizeof hash[0], "%s",
                 cJSON_GetObjectItem(jk, "plan_hash")->valuestring);
        assert_true(plan_n_run(&base) >= 1);
        for (int s = 0; s < plan_n_run(&base); s++) {
            seen[plan_run_index(&base, s)]++;
            if (s) assert_true(plan_run_index(&base, s) > plan_run_index(&base, s - 1));
        }
        /* the same share again, from the plan.json it wrote */
        plan again;
        plan_init(&again);
        assert_int_equal(plan_from_json(&again, jk, &e), CALMA_OK);
        assert_int_equal(plan_share_from_json(&again, jk, &e), CALMA_OK);
        assert_int_equal(plan_n_run(&again), plan_n_run(&base));
        for (int s = 0; s < plan_n_run(&base); s++)
            assert_int_equal(plan_run_index(&again, s), plan_run_index(&base, s));
        plan_free(&again);
        cJSON_Delete(jk);
        free(base.share);
        base.share = NULL;
    }
    for (int i = 0; i < 12; i++) assert_int_equal(seen[i], 1);
    assert_string_equal(hash[0], hash[1]);
    assert_string_equal(hash[1], hash[2]);
    /* another seed is another plan */
    cJSON_ReplaceItemInObject(j, "seed", cJSON_CreateString("43"));
    base.shard_n = 0;
    assert_int_equal(plan_seal(&base, j, &e), CALMA_OK);
    assert_string_not_equal(cJSON_GetObjectItem(j, "plan_hash")->valuestring, hash[0]);
    cJSON_Delete(j);
    plan_free(&base);
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
        cmocka_unit_test(test_durations_sizes),   cmocka_unit_test(test_args),
        cmocka_unit_test(test_trials_and_json),   cmocka_unit_test(test_scenario_plan),
        cmocka_unit_test(test_models_and_shards), cmocka_unit_test(test_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
