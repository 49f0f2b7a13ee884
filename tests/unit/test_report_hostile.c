/* Hostile names and messages in every report format. A run folder whose
 * model, conversions, trial ids, messages, warnings and stderr hold markup
 * (<script>), quotes, commas, line breaks, formulas (= + - @), Markdown,
 * ESC sequences, carriage returns and bytes that are not UTF-8 (as a
 * downloaded report or a hostile plugin could) renders safely: golden files
 * for each format, and tests/tools/check_report_text.py's checks (strict
 * JSON, formula-safe CSV, no raw tag in Markdown or HTML, XML, a terminal
 * free of control characters). Then the same end to end: `calma bench` on
 * a model whose file name is hostile with the fault plugin's hostile
 * conversion, rendered by `calma report` in every format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_bench_util.h"
#include "test_golden.h"

#include "report/report.h"

static char src_dir[2048];

#define HOSTILE_MODEL "<script>alert(1)</script>,\"=cmd|' /C calc'!A0\"\n\x1b[2J\r\xff"
#define CONV_A "=HYPERLINK(\"http://x\",\"<b>click</b>\")"
#define CONV_B "+SUM(1,2)\x1b]0;title\x07*bold*"
#define CONV_C "@cmd\nnext line, with | pipe"
#define MESSAGE                                                                                    \
    "-2+3 <img src=x onerror=alert(1)> | *bold* _u_ `code` [link](javascript:alert(1))\r\x1b[31m"  \
    "red\xc3\x28 \xe2\x82 end"

/* A JSON string literal of s: quotes and backslashes escaped, every other
 * byte as it is (cJSON reads raw control and non-UTF-8 bytes in strings,
 * as a hand-edited or hostile file would hold them). */
static void put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void write_run(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("{\"calma_version\":\"0.1.0\",\"model\":{\"name\":", f);
    put_str(f, HOSTILE_MODEL);
    fputs(",\"path\":", f);
    put_str(f, "/tmp/" HOSTILE_MODEL ".onnx");
    fputs("},\"machine\":{\"cpu\":", f);
    put_str(f, "CPU \x1b[5m<blink>\xfe");
    fputs(",\"cpus\":2},\"repeats\":1,\"baseline\":", f);
    put_str(f, CONV_A);
    fputs(",\"trials\":[", f);
    const char *ids[] = {CONV_A "-b1-t1", CONV_B "-b1-t1", CONV_C "-b1-t1"};
    for (int i = 0; i < 3; i++) {
        if (i) fputc(',', f);
        put_str(f, ids[i]);
    }
    fputs("]}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/journal.jsonl", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("{\"id\":", f);
    put_str(f, ids[0]);
    fputs(",\"conversion\":", f);
    put_str(f, CONV_A);
    fputs(",\"batch\":1,\"threads\":1,\"status\":\"ok\",\"message\":\"\",\"stats\":{\"n\":100,"
          "\"median\":0.001,\"ci_lo\":0.00099,\"ci_hi\":0.00101,\"p90\":0.0011,\"p99\":0.0012},"
          "\"throughput\":{\"per_s_median\":1000},\"validation\":{\"verdict\":\"pass\"},"
          "\"warnings\":[",
          f);
    put_str(f, "warning " MESSAGE);
    fputs("],\"engine_version\":", f);
    put_str(f, "v1\x1b[2J\xff\n2");
    fputs(",\"memory\":{\"peak\":1000000}}\n", f);
    fputs("{\"id\":", f);
    put_str(f, ids[1]);
    fputs(",\"conversion\":", f);
    put_str(f, CONV_B);
    fputs(",\"batch\":1,\"threads\":1,\"status\":\"error\",\"message\":", f);
    put_str(f, MESSAGE);
    fputs(",\"stderr_tail\":[", f);
    put_str(f, "\x1b[31mERR\x1b[0m <script>x</script> \xff\xfe");
    fputs(",", f);
    put_str(f, "=2+2,\"quoted\"\r");
    fputs("]}\n", f);
    fputs("{\"id\":", f);
    put_str(f, ids[2]);
    fputs(",\"conversion\":", f);
    put_str(f, CONV_C);
    fputs(",\"batch\":1,\"threads\":1,\"status\":", f);
    put_str(f, "crashed<i>\x1b[1m");
    fputs(",\"message\":", f);
    put_str(f, "@SUM(A1:A9)\n<svg onload=alert(1)>");
    fputs("}\n", f);
    fclose(f);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *const formats[] = {"table", "json", "csv", "md", "svg", "html"};

/* check_report_text.py on every file, xmllint on the markup. */
static void check_files(char files[6][700]) {
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "python3 '%s/tests/tools/check_report_text.py'", src_dir);
    for (int i = 0; i < 6; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s '%s'", formats[i], files[i]);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s' && xmllint --html --noout '%s'", files[4],
             files[5]);
    assert_int_equal(system(cmd), 0);
}

static void test_golden(void **state) {
    env *v = *state;
    write_run(v->dir);
    cJSON *doc;
    char note[512];
    calma_error e;
    assert_int_equal(report_open(v->dir, &doc, note, sizeof note, &e), CALMA_OK);
    cJSON_DeleteItemFromObject(doc, "written_at"); /* the one field that changes */
    char files[6][700];
    for (int i = 0; i < 6; i++) {
        char *got = report_text(doc, (report_format)report_format_parse(formats[i]));
        char name[64];
        snprintf(name, sizeof name, "hostile.%s", formats[i]);
        golden_check(src_dir, got, name);
        snprintf(files[i], sizeof files[i], "%s/out.%s", v->dir, formats[i]);
        write_text(files[i], got);
        free(got);
    }
    check_files(files);
    cJSON_Delete(doc);
}

/* The model's name comes from its file name, conversion text from a
 * plugin: both hostile, end to end through `calma bench` and `calma
 * report`. */
static void test_end_to_end(void **state) {
    env *v = *state;
    write_identity_model(v->model);
    char model[700], run[400], log[400];
    snprintf(model, sizeof model, "%s/%s.onnx", v->dir,
             "<script>alert(1)<\\script>,\"=1+2\"\n\x1b[2J\r\xff '-x'");
    assert_int_equal(rename(v->model, model), 0);
    snprintf(run, sizeof run, "%s/run", v->dir);
    snprintf(log, sizeof log, "%s/bench.log", v->dir);
    pid_t pid = spawn_calma(v,
                            (const char *[]){model, "--conversions", "FAULT_OK,FAULT_HOSTILE",
                                             "--plugin", v->plugin, "--run-dir", run, "--max-time",
                                             "0.2s", "--min-time", "0.05s", "--repeats", "1", NULL},
                            log);
    int code = wait_exit(pid);
    if (code != 1) dump(log);
    assert_int_equal(code, 1);
    keep_report(run, "hostile");
    char files[6][700];
    const char *bin = getenv("CALMA_BIN");
    for (int i = 0; i < 6; i++) {
        snprintf(files[i], sizeof files[i], "%s/report.%s", v->dir, formats[i]);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "NO_COLOR=1 '%s' report '%s' --format %s > '%s'", bin, run,
                 formats[i], files[i]);
        assert_int_equal(system(cmd), 0);
    }
    check_files(files);
    /* What calma bench itself printed. */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 '%s/tests/tools/check_report_text.py' table '%s'", src_dir,
             log);
    assert_int_equal(system(cmd), 0);
    /* The name, made of the file name's letters, digits, '.', '-' and '_'
     * (it names folders and trial ids), is shown, not dropped; the file's
     * own path keeps every byte and is escaped where it appears. */
    char *md = slurp(files[3]);
    assert_non_null(strstr(md, "script_alert_1"));
    free(md);
    char *html = slurp(files[5]);
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;\\script&gt;,&quot;=1+2&quot;"));
    free(html);
    /* `calma list` prints the plugin's hostile description and device
     * without their control characters. */
    snprintf(cmd, sizeof cmd, "'%s' list --plugin '%s' > '%s/list.txt'", bin, v->plugin, v->dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "python3 '%s/tests/tools/check_report_text.py' table '%s/list.txt'",
             src_dir, v->dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
    const char *s = getenv("CALMA_SOURCE_DIR");
    if (!s) return -1;
    snprintf(src_dir, sizeof src_dir, "%s", s);
    return bench_env_setup(state, "hostile");
}

static int teardown(void **state) {
    if (getenv("CALMA_KEEP_TEST_DIR")) return 0; /* to look at what the test wrote */
    return bench_env_teardown(state);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_to_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
