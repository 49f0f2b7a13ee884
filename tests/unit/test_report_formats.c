/* Every report format against golden files rendered from a fixed journal
 * (tests/data/run-golden). CALMA_UPDATE_GOLDEN=1 rewrites the golden files;
 * review the diff before committing them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_files.h"
#include "test_golden.h"

#include "report/report.h"

static char src_dir[2048];

static char *render(const cJSON *doc, report_format fmt) {
    return report_text(doc, fmt);
}

static void check_golden(const char *got, const char *name) {
    golden_check(src_dir, got, name);
}

/* xmllint from Debian's libxml2-utils, a real XML parser. */
static void check_xml(const char *text, const char *ext, const char *flags) {
    char path[] = "/tmp/calma-report-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xmllint %s --noout %s 2>&1", flags, path);
    int rc = system(cmd);
    unlink(path);
    if (rc != 0) fail_msg("xmllint rejects the %s output", ext);
}

static void test_formats(void **state) {
    (void)state;
    char run[4096];
    snprintf(run, sizeof run, "%s/tests/data/run-golden", src_dir);
    cJSON *doc;
    char note[512];
    calma_error e;
    assert_int_equal(report_open(run, &doc, note, sizeof note, &e), CALMA_OK);
    assert_string_equal(note, ""); /* a complete journal needs no note */
    static const struct {
        report_format fmt;
        const char *golden;
    } cases[] = {{REPORT_TABLE, "report.table"},
                 {REPORT_CSV, "report.csv"},
                 {REPORT_MD, "report.md"},
                 {REPORT_SVG, "report.svg"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = render(doc, cases[i].fmt);
        check_golden(got, cases[i].golden);
        free(got);
    }
    char *svg = render(doc, REPORT_SVG);
    check_xml(svg, "svg", "");
    free(svg);
    char *html = render(doc, REPORT_HTML);
    check_xml(html, "html", "--html");
    /* the failure's message and its stderr, escaped; the machine facts */
    assert_non_null(strstr(html, "signal 11"));
    assert_non_null(strstr(html, "&lt;b&gt;markup &amp; &quot;quotes&quot;&lt;/b&gt;"));
    assert_non_null(strstr(html, "Test CPU @ 2.0GHz"));
    assert_non_null(strstr(html, "data:image/svg+xml;base64,"));
    assert_null(strstr(html, "<script"));
    free(html);
    char *json = render(doc, REPORT_JSON);
    cJSON *back = cJSON_Parse(json);
    assert_non_null(back);
    assert_int_equal(report_check_version(back, "json", &e), CALMA_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "trials")), 5);
    cJSON_Delete(back);
    free(json);
    cJSON_Delete(doc);
}

/* A run of two processes per trial and two batch sizes: each trial's
 * processes combined (without samples files, from their summaries), the
 * latency and throughput winners named apart, one reason given once for
 * the two trials it applies to; in every human format, the table within
 * 100 columns unless --wide. */
static void test_repeats(void **state) {
    (void)state;
    char run[4096];
    snprintf(run, sizeof run, "%s/tests/data/run-repeats", src_dir);
    cJSON *doc;
    char note[512];
    calma_error e;
    assert_int_equal(report_open(run, &doc, note, sizeof note, &e), CALMA_OK);
    const cJSON *trials = cJSON_GetObjectItem(doc, "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 6);
    const cJSON *ort1 = cJSON_GetArrayItem(trials, 2);
    assert_string_equal(cJSON_GetObjectItem(ort1, "id")->valuestring, "ORT_CPU-b1-t1");
    const cJSON *st = cJSON_GetObjectItem(ort1, "stats");
    /* medians 235 and 239.7 us: the interval holds both */
    assert_true(cJSON_GetObjectItem(st, "ci_lo")->valuedouble <= 0.000235);
    assert_true(cJSON_GetObjectItem(st, "ci_hi")->valuedouble >= 0.0002397);
    assert_int_equal(cJSON_GetObjectItem(st, "n")->valueint, 200);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "best_latency"), "id")->valuestring,
        "ORT_CPU-b1-t1");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "best_throughput"), "id")->valuestring,
        "ORT_CPU-b4-t1");
    assert_string_equal(cJSON_GetObjectItem(doc, "baseline")->valuestring, "ORT_CPU");
    char *table = render(doc, REPORT_TABLE);
    check_golden(table, "repeats.table");
    for (char *line = table; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        assert_true(len <= 100);
        line += len + (nl ? 1 : 0);
    }
    /* the reason once, with both trials */
    const char *why = "no CUDAExecutionProvider";
    char *first = strstr(table, why);
    assert_non_null(first);
    assert_null(strstr(first + 1, why));
    assert_non_null(strstr(table, "ORT_CUDA b1 t1, ORT_CUDA b4 t1"));
    free(table);
    char *md = render(doc, REPORT_MD);
    check_golden(md, "repeats.md");
    assert_non_null(strstr(md, "Best throughput"));
    free(md);
    cJSON_Delete(doc);
}

static void test_cut_journal(void **state) {
    (void)state;
    char run[4096];
    snprintf(run, sizeof run, "%s/tests/data/run-cut", src_dir);
    cJSON *doc;
    char note[512];
    calma_error e;
    assert_int_equal(report_open(run, &doc, note, sizeof note, &e), CALMA_OK);
    assert_non_null(strstr(note, "cut mid-write"));
    assert_non_null(strstr(note, "5 complete trials of 6"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "interrupted")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "trials")), 5);
    cJSON_Delete(doc);
}

static void test_bad_reports(void **state) {
    (void)state;
    char dir[] = "/tmp/calma-badrep-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[4200];
    calma_error e;
    cJSON *doc;
    char note[256];
    snprintf(path, sizeof path, "%s/future.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"schema_version\": 7, \"trials\": []}", f);
    fclose(f);
    assert_int_equal(report_open(path, &doc, note, sizeof note, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "version 7"));
    assert_non_null(strstr(e.msg, "future.json"));
    f = fopen(path, "w");
    fputs("{\"trials\": [", f);
    fclose(f);
    assert_int_equal(report_open(path, &doc, note, sizeof note, &e), CALMA_E_PARSE);
    assert_int_equal(report_open(dir, &doc, note, sizeof note, &e), CALMA_E_USAGE); /* not a run */
    unlink(path);
    rmdir(dir);
    assert_int_equal(report_open("/nonexistent/report.json", &doc, note, sizeof note, &e),
                     CALMA_E_IO);
}

int main(void) {
    const char *s = getenv("CALMA_SOURCE_DIR");
    snprintf(src_dir, sizeof src_dir, "%s", s ? s : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats), cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_cut_journal), cmocka_unit_test(test_bad_reports)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
