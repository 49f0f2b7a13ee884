/* report.json: the whole run in one document a machine can diff. The
 * reports module (src/report/) renders other formats from it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "util/err.h"

/* Reads little-endian doubles back from a samples file; NULL if unreadable. */
static cJSON *read_samples(const char *path) {
    FILE *f = fopen(path, "rbe");
    if (!f) return NULL;
    cJSON *a = cJSON_CreateArray();
    unsigned char b[8];
    while (a && fread(b, 1, 8, f) == 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u |= (uint64_t)b[i] << (8 * i);
        double d;
        memcpy(&d, &u, sizeof d);
        cJSON_AddItemToArray(a, cJSON_CreateNumber(d));
    }
    fclose(f);
    return a;
}

cJSON *bench_report_build(const cJSON *plan_json, const cJSON *records, int interrupted,
                          int keep_samples) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddNumberToObject(r, "schema_version", 1); /* docs/report.schema.json */
    cJSON_AddStringToObject(r, "calma_version", CALMA_VERSION);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(r, "written_at", when);
    /* The machine the run happened on was recorded in the plan when the run
     * started; a report rendered later elsewhere must not describe the
     * machine it is rendered on. */
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(plan_json, "machine");
    if (machine) {
        cJSON_AddItemToObject(r, "machine", cJSON_Duplicate(machine, 1));
    } else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        cJSON *mach = cJSON_AddObjectToObject(r, "machine");
        cJSON_AddStringToObject(mach, "hostname", host);
        cJSON_AddNumberToObject(mach, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
        cJSON_AddNumberToObject(mach, "memory",
                                (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(plan_json, "model");
    if (model) cJSON_AddItemToObject(r, "model", cJSON_Duplicate(model, 1));
    cJSON_AddItemToObject(r, "plan", cJSON_Duplicate(plan_json, 1));
    cJSON_AddBoolToObject(r, "interrupted", interrupted);
    cJSON *trials = cJSON_AddArrayToObject(r, "trials");
    const cJSON *t;
    cJSON_ArrayForEach(t, records) {
        cJSON *c = cJSON_Duplicate(t, 1);
        const cJSON *sf = cJSON_GetObjectItemCaseSensitive(t, "samples_file");
        if (keep_samples && cJSON_IsString(sf)) {
            cJSON *s = read_samples(sf->valuestring);
            if (s) cJSON_AddItemToObject(c, "samples", s);
        }
        cJSON_AddItemToArray(trials, c);
    }
    const cJSON *best = bench_best(records);
    if (best) {
        cJSON *b = cJSON_AddObjectToObject(r, "best");
        const char *keys[] = {"id", "conversion", "batch", "threads"};
        for (int i = 0; i < 4; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(best, keys[i]);
            if (v) cJSON_AddItemToObject(b, keys[i], cJSON_Duplicate(v, 1));
        }
    } else {
        cJSON_AddNullToObject(r, "best");
    }
    return r;
}

int bench_report_write(const cJSON *report, const char *path, calma_error *e) {
    char *text = cJSON_Print(report);
    if (!text) return err_set(e, CALMA_E_NOMEM, "out of memory writing %s", path);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f) {
        free(text);
        return err_set(e, CALMA_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    free(text);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(e, CALMA_E_IO, "cannot write %s", path);
    }
    return CALMA_OK;
}
