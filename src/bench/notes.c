/* Each distinct reason (a failed trial's message) and warning of a run,
 * once, with the trials it applies to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/journal.h"

static void add_note(bench_note *notes, int *n, int cap, const char *kind, const char *text,
                     const cJSON *r) {
    int i = 0;
    while (i < *n && (strcmp(notes[i].kind, kind) || strcmp(notes[i].text, text))) i++;
    if (i == *n) {
        if (*n == cap) return;
        memset(&notes[i], 0, sizeof notes[i]);
        notes[i].kind = kind;
        notes[i].text = text;
        (*n)++;
    }
    bench_note *x = &notes[i];
    size_t used = strlen(x->who);
    char streams[24] = "";
    if (journal_field(r, "streams"))
        snprintf(streams, sizeof streams, " s%.0f", journal_num(r, "streams"));
    if (x->n < BENCH_NOTE_NAMED)
        snprintf(x->who + used, sizeof x->who - used, "%s%s b%.0f t%.0f%s", x->n ? ", " : "",
                 journal_str(r, "conversion"), journal_num(r, "batch"), journal_num(r, "threads"),
                 streams);
    x->n++;
}

int bench_collect_notes(const cJSON *trials, bench_note **out) {
    int cap = 0, n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, trials) {
        cap += 1 + cJSON_GetArraySize(journal_field(r, "warnings"));
    }
    *out = calloc((size_t)cap + 1, sizeof **out);
    if (!*out) return 0;
    cJSON_ArrayForEach(r, trials) {
        if (strcmp(journal_str(r, "status"), "ok") && *journal_str(r, "message"))
            add_note(*out, &n, cap, journal_str(r, "status"), journal_str(r, "message"), r);
    }
    cJSON_ArrayForEach(r, trials) {
        const cJSON *w;
        cJSON_ArrayForEach(w, journal_field(r, "warnings")) {
            if (cJSON_IsString(w)) add_note(*out, &n, cap, "warning", w->valuestring, r);
        }
    }
    return n;
}
