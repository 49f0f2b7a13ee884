/* Opening a report: report.json, or a run folder's journal. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/bench.h"
#include "bench/combine.h"
#include "bench/journal.h"
#include "report/rdoc.h"
#include "report/report.h"
#include "util/err.h"

int report_check_version(const cJSON *doc, const char *what, calma_error *e) {
    const cJSON *v = rd_get(doc, "schema_version");
    if (!cJSON_IsNumber(v))
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s: not a calma report (no schema_version; this calma reads version %d)",
                       what, REPORT_SCHEMA_VERSION);
    /* Versions only add fields: every older one reads as the newest. */
    double ver = v->valuedouble;
    if (ver != floor(ver) || ver < REPORT_SCHEMA_OLDEST || ver > REPORT_SCHEMA_VERSION)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s: report schema version %g, this calma reads versions %d to %d", what,
                       ver, REPORT_SCHEMA_OLDEST, REPORT_SCHEMA_VERSION);
    return CALMA_OK;
}

/* Reads the journal without changing it: complete lines are records, a last
 * line without its newline (cut mid-write) is counted and left out. */
static int read_journal(const char *dir, cJSON **records, int *cut, calma_error *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, JOURNAL_FILE);
    *records = cJSON_CreateArray();
    *cut = 0;
    if (!*records) return err_set(e, CALMA_E_NOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(path, &st) != 0) return CALMA_OK; /* no trial finished yet */
    int rc = journal_read_file(path, &text, &len, e);
    if (rc) return rc;
    char *line = text;
    int lineno = 0;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        lineno++;
        if (!nl) { /* the last write did not finish */
            *cut = 1;
            break;
        }
        *nl = '\0';
        if (*line) {
            cJSON *rec = cJSON_Parse(line);
            if (!rec) {
                free(text);
                return err_set(e, CALMA_E_PARSE, "%s: line %d is not JSON", path, lineno);
            }
            cJSON_AddItemToArray(*records, rec);
        }
        line = nl + 1;
    }
    free(text);
    return CALMA_OK;
}

int report_open(const char *path, cJSON **doc, char *note, size_t note_n, calma_error *e) {
    *doc = NULL;
    if (note_n) note[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0) return err_set(e, CALMA_E_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        cJSON *plan_json = NULL, *records = NULL;
        int rc = journal_open_run(path, &plan_json, e);
        if (rc) return rc;
        int cut = 0;
        rc = read_journal(path, &records, &cut, e);
        if (rc) {
            cJSON_Delete(plan_json);
            cJSON_Delete(records);
            return rc;
        }
        int planned = cJSON_GetArraySize(combine_planned(plan_json));
        int done = combine_complete(plan_json, records);
        *doc = bench_report_build(plan_json, records, done < planned, 0);
        cJSON_Delete(plan_json);
        cJSON_Delete(records);
        if (!*doc) return err_set(e, CALMA_E_NOMEM, "out of memory");
        if (cut)
            snprintf(note, note_n,
                     "%s: the journal's last line was cut mid-write (a trial was in flight when "
                     "the run stopped); showing the %d complete trials of %d planned",
                     path, done, planned);
        else if (done < planned)
            snprintf(note, note_n, "%s: %d of %d planned trials finished", path, done, planned);
        return CALMA_OK;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = journal_read_file(path, &text, &len, e);
    if (rc) return rc;
    *doc = cJSON_Parse(text);
    free(text);
    if (!*doc)
        return err_set(e, CALMA_E_PARSE, "%s: not JSON (a report.json or a run folder?)", path);
    rc = report_check_version(*doc, path, e);
    if (rc) {
        cJSON_Delete(*doc);
        *doc = NULL;
    }
    return rc;
}

int report_format_parse(const char *s) {
    static const char *const names[] = {"table", "json", "csv", "md", "svg", "html"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, names[i])) return i;
    if (!strcmp(s, "markdown")) return REPORT_MD;
    return -1;
}

int report_render(const cJSON *doc, report_format format, int flags, FILE *f, calma_error *e) {
    switch (format) {
    case REPORT_TABLE: {
        table_opts o = {.color = flags & REPORT_COLOR, .wide = flags & REPORT_WIDE};
        bench_table_print(f, doc, &o);
        break;
    }
    case REPORT_JSON: {
        char *text = journal_print(doc, 1);
        if (!text) return err_set(e, CALMA_E_NOMEM, "out of memory");
        fprintf(f, "%s\n", text);
        free(text);
        break;
    }
    case REPORT_CSV:
        report_csv(doc, f);
        break;
    case REPORT_MD:
        report_md(doc, f);
        break;
    case REPORT_SVG:
        report_svg(doc, f);
        break;
    case REPORT_HTML:
        report_html(doc, f);
        break;
    default:
        return err_set(e, CALMA_E_USAGE, "unknown report format %d", (int)format);
    }
    return CALMA_OK;
}
