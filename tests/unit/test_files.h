/* File helpers shared by the tests that run calma and read what it wrote. */
#ifndef CALMA_TEST_FILES_H
#define CALMA_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* The whole file as a NUL-terminated string (malloc'ed), or NULL. */
static inline char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Runs cmd (redirect stderr in it to see both); returns its exit status
 * (-1 when it could not run or was killed) and up to n - 1 bytes of its
 * output in out. */
static inline int run_cmd(const char *cmd, char *out, size_t n) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t used = 0, got;
    while (used + 1 < n && (got = fread(out + used, 1, n - 1 - used, p)) > 0) used += got;
    out[used] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Tests that run `calma bench` keep a copy of each report they make under
 * $CALMA_BUILD_DIR/test-runs/, where test_report_schema validates them all
 * against docs/report.schema.json. */
/* Copies RUN_DIR/report.json to test-runs/NAME.report.json; silent when
 * either is missing (the calling test asserts what it expects itself). */
static inline void keep_report(const char *run_dir, const char *name) {
    const char *build = getenv("CALMA_BUILD_DIR");
    if (!build) return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/test-runs' && { [ ! -f '%s/report.json' ] || "
             "cp '%s/report.json' '%s/test-runs/%s.report.json'; }",
             build, run_dir, run_dir, build, name);
    if (system(cmd) != 0) fprintf(stderr, "keep_report: could not copy %s\n", run_dir);
}

#endif
