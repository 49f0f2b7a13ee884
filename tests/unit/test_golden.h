/* Rendering a report document and holding it against a golden file under
 * tests/golden/. CALMA_UPDATE_GOLDEN=1 rewrites the golden file; review the
 * diff before committing it. Include after <cmocka.h>. */
#ifndef CALMA_TEST_GOLDEN_H
#define CALMA_TEST_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "test_files.h"

/* doc rendered in fmt, as a malloc'ed string. Not inlined: gcc 12 then
 * takes the string for a pointer to open_memstream's local (a false
 * -Wdangling-pointer). */
__attribute__((noinline, unused)) static char *report_text(const cJSON *doc, report_format fmt) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    calma_error e;
    assert_int_equal(report_render(doc, fmt, 0, f, &e), CALMA_OK);
    fclose(f);
    return buf;
}

/* Fails the test when got differs from SRC_DIR/tests/golden/NAME. */
__attribute__((unused)) static void golden_check(const char *src_dir, const char *got,
                                                 const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/%s", src_dir, name);
    const char *update = getenv("CALMA_UPDATE_GOLDEN");
    if (update && !strcmp(update, "1")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    char *want = slurp(path);
    if (!want) fail_msg("golden file %s is missing (CALMA_UPDATE_GOLDEN=1 writes it)", path);
    int differs = strcmp(want, got) != 0;
    if (differs) fprintf(stderr, "--- want %s\n%s\n--- got\n%s\n", path, want, got);
    free(want);
    if (differs) fail_msg("%s differs from its golden file", name);
}

#endif
