/* --verbose: what each engine reported about the model it converted
 * (a trial's engine_info), one line per trial under the table:
 *   XNNPACK-b1-t1: nodes_in_engine=44  nodes_outside=22  ops_outside="Erf 2"
 * A number whose key ends in _share is shown as a percentage. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "util/text.h"

void bench_engine_info_print(FILE *f, const cJSON *records) {
    const cJSON *r;
    int header = 0;
    cJSON_ArrayForEach(r, records) {
        const cJSON *info = cJSON_GetObjectItemCaseSensitive(r, "engine_info");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (!cJSON_IsObject(info) || !info->child || !cJSON_IsString(id)) continue;
        if (!header) fprintf(f, "engine info:\n");
        header = 1;
        /* An engine's (or a report's) own text: printed printable. */
        fputs("  ", f);
        text_fputs_printable(f, id->valuestring, 200);
        fputc(':', f);
        const cJSON *kv;
        int first = 1;
        cJSON_ArrayForEach(kv, info) {
            const char *k = kv->string ? kv->string : "?";
            size_t n = strlen(k);
            int share = n > 6 && !strcmp(k + n - 6, "_share");
            fputs(first ? " " : "  ", f);
            text_fputs_printable(f, k, 100);
            fputc('=', f);
            if (cJSON_IsString(kv)) {
                fputc('"', f);
                text_fputs_printable(f, kv->valuestring, 300);
                fputc('"', f);
            } else if (cJSON_IsNumber(kv) && share && isfinite(kv->valuedouble)) {
                fprintf(f, "%.1f%%", 100 * kv->valuedouble);
            } else if (cJSON_IsNumber(kv)) {
                fprintf(f, "%.6g", kv->valuedouble);
            } else {
                fprintf(f, "-");
            }
            first = 0;
        }
        fprintf(f, "\n");
    }
}
