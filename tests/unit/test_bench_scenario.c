/* The serving scenarios end to end on FAULT_SLEEP (a healthy conversion
 * whose every call sleeps --options fault.sleep_us=N: a known service time
 * that uses no CPU), with checks that hold on a loaded machine and under
 * AddressSanitizer: streams never idle complete S / (mean call time) a
 * second (Little's law); at rho = 1.5 the bound is missed and the queue said
 * to grow; --rate auto keeps the bisection's invariant and every step in the
 * record; compare judges scenario trials on their figure; version 1 reports
 * still read; the chart is valid XML. About 15 s. The comparisons with
 * queueing theory are in test_bench_queueing.c (label timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_scenario_run.h"

static void test_offline(void **state) {
    (void)state;
    int code;
    cJSON *r = bench("offline", 2000,
                     "--scenario offline --streams 1,2 --repeats 1 --max-time 1.2s --min-time 0.8s "
                     "--precision 3%",
                     &code);
    assert_int_equal(code, 0);
    const cJSON *one = trial(r, 0), *two = trial(r, 1);
    assert_string_equal(cJSON_GetObjectItem(one, "id")->valuestring, "FAULT_SLEEP-b1-t1-s1");
    assert_string_equal(cJSON_GetObjectItem(two, "id")->valuestring, "FAULT_SLEEP-b1-t1-s2");
    const cJSON *s1 = cJSON_GetObjectItem(one, "scenario"),
                *s2 = cJSON_GetObjectItem(two, "scenario");
    assert_string_equal(cJSON_GetObjectItem(s1, "kind")->valuestring, "offline");
    double tp1 = num(s1, "samples_per_s", NULL), tp2 = num(s2, "samples_per_s", NULL);
    double mean1 = num(one, "stats", "mean"), mean2 = num(two, "stats", "mean");
    printf("offline: 1 stream %.1f/s (1/mean call %.1f/s), 2 streams %.1f/s (2/mean call %.1f/s)\n",
           tp1, 1 / mean1, tp2, 2 / mean2);
    /* a stream is never idle: S streams complete S over the mean call time */
    assert_true(fabs(tp1 * mean1 - 1) < 0.1);
    assert_true(fabs(tp2 * mean2 / 2 - 1) < 0.1);
    assert_true(tp1 < 1.02 / 2e-3); /* no call is shorter than its sleep */
    assert_true(num(s1, "ci_lo", NULL) <= tp1 && tp1 <= num(s1, "ci_hi", NULL));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s2, "per_stream")), 2);
    assert_int_equal((int)num(s2, "threads_per_stream", NULL), 1);
    assert_int_equal((int)num(two, "streams", NULL), 2);
    /* the throughput winner is the two-stream trial, on its own figure */
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r, "best_throughput"), "id")->valuestring,
        "FAULT_SLEEP-b1-t1-s2");
    cJSON_Delete(r);
}

/* rho = 1.5: arrivals outrun the stream; the bound is missed and the
 * report says the queue grows. */
static void test_server_overload(void **state) {
    (void)state;
    int code;
    cJSON *r = bench("server-over", 1000,
                     "--scenario server --rate 1500 --latency-bound 20ms --repeats 1 "
                     "--max-time 0.5s",
                     &code);
    assert_int_equal(code, 0);
    const cJSON *t = trial(r, 0), *sc = cJSON_GetObjectItem(t, "scenario");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(sc, "met")));
    assert_true(has_warning(t, "the queue grows"));
    assert_true(has_warning(t, "over the bound"));
    assert_true(num(sc, "achieved_rate", NULL) < 1100);
    cJSON_Delete(r);
}

/* The search's record: every step with its requests and verdict, the
 * answer the highest rate met, every rate tried above it missed. */
static void test_rate_auto(void **state) {
    (void)state;
    int code;
    cJSON *r = bench("server-auto", 2000,
                     "--scenario server --rate auto --latency-bound 20ms --repeats 1 "
                     "--max-time 0.8s",
                     &code);
    assert_int_equal(code, 0);
    const cJSON *t = trial(r, 0), *sc = cJSON_GetObjectItem(t, "scenario"), *s;
    int steps = cJSON_GetArraySize(cJSON_GetObjectItem(sc, "steps"));
    assert_true(steps >= 1 && steps <= 7);
    assert_true(num(sc, "service_median", NULL) >= 2e-3);
    double top_met = 0, low_missed = INFINITY;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(sc, "steps")) {
        assert_true(num(s, "requests", NULL) >= 10);
        double rate = num(s, "rate", NULL);
        if (cJSON_IsTrue(cJSON_GetObjectItem(s, "met")))
            top_met = fmax(top_met, rate);
        else
            low_missed = fmin(low_missed, rate);
    }
    const cJSON *best = cJSON_GetObjectItem(sc, "best_rate");
    if (cJSON_IsNull(best)) { /* a stall at the low step: said so, nothing else tried */
        assert_int_equal(steps, 1);
        assert_true(has_warning(t, "no rate met the bound"));
    } else {
        assert_true(steps >= 3);
        assert_true(top_met == best->valuedouble && low_missed > best->valuedouble);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sc, "met")));
        assert_true(num(sc, "samples_per_s", NULL) == best->valuedouble);
    }
    cJSON_Delete(r);
}

/* compare on scenario trials, and version 1 reports read as version 2. */
static void test_compare_and_versions(void **state) {
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' compare run-offline/report.json run-offline/report.json --format "
             "json > cmp.json && grep -q '\"judged_on\":\\s*\"samples/s\"' cmp.json && "
             "grep -q '\"speed\":\\s*\"same\"' cmp.json && "
             "'%s' compare run-offline/report.json run-server-over/report.json > cmp2.txt; "
             "grep -q 'scenario differs' cmp2.txt",
             dir, getenv("CALMA_BIN"), getenv("CALMA_BIN"));
    assert_int_equal(system(cmd), 0);
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && sed 's/\"schema_version\":[[:space:]]*2/\"schema_version\": 1/' "
        "run-offline/report.json > v1.json && grep -q '\"schema_version\":[[:space:]]*1' v1.json "
        "&& "
        "'%s' report v1.json > v1.txt && grep -q 'samples/s' v1.txt && "
        "'%s' compare v1.json run-offline/report.json > /dev/null && "
        "sed 's/\"schema_version\":[[:space:]]*2/\"schema_version\": 3/' run-offline/report.json > "
        "v3.json && ! '%s' report v3.json 2> v3.err && grep -q 'versions 1 to 2' v3.err",
        dir, getenv("CALMA_BIN"), getenv("CALMA_BIN"), getenv("CALMA_BIN"));
    assert_int_equal(system(cmd), 0);
    /* the latency-throughput chart, valid XML in SVG and HTML */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' report run-server-auto --format svg > chart.svg && grep -q 'p99 "
             "latency against the achieved rate' chart.svg && grep -q polyline chart.svg && "
             "xmllint --noout chart.svg && '%s' report run-server-auto --format html > chart.html "
             "&& grep -q Serving chart.html && xmllint --html --noout chart.html && '%s' report "
             "run-server-auto --format md | grep -q 'best rate/s' && '%s' report "
             "run-server-auto --format csv | head -1 | grep -q best_rate_per_s",
             dir, getenv("CALMA_BIN"), getenv("CALMA_BIN"), getenv("CALMA_BIN"),
             getenv("CALMA_BIN"));
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
    (void)state;
    return scenario_setup("/tmp/calma-scenario-XXXXXX");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline), cmocka_unit_test(test_server_overload),
        cmocka_unit_test(test_rate_auto), cmocka_unit_test(test_compare_and_versions)};
    return cmocka_run_group_tests(tests, setup, scenario_teardown);
}
