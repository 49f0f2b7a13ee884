/* The report loader of calma report and calma compare, and every renderer
 * on what it loads. The first byte chooses the form: even, a report.json
 * (the rest of the input); odd, a run folder whose plan.json is the input up
 * to its first NUL byte and whose journal.jsonl is what follows (its trial
 * records combined by combine_trials). A document that opens is rendered in
 * every format and compared with itself. */
#include "fuzz_util.h"

#include <sys/stat.h>

#include "bench/bench.h"
#include "report/compare.h"
#include "report/report.h"

static void render_all(const cJSON *doc) {
    static const report_format formats[] = {REPORT_TABLE, REPORT_JSON, REPORT_CSV,
                                            REPORT_MD,    REPORT_SVG,  REPORT_HTML};
    calma_error e;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        report_render(doc, formats[i], REPORT_WIDE, fuzz_sink(), &e);
    compare_opts o = {0.05, 0.01, REPORT_TABLE, COMPARE_DEFAULT_MIN_EFFECT};
    compare_reports(doc, doc, &o, fuzz_sink(), &e);
    o.format = REPORT_MD;
    compare_reports(doc, doc, &o, fuzz_sink(), &e);
    bench_engine_info_print(fuzz_sink(), cJSON_GetObjectItemCaseSensitive(doc, "trials"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *path;
    if (data[0] % 2 == 0) {
        path = fuzz_file("report.json", data + 1, size - 1);
    } else {
        const uint8_t *nul = memchr(data + 1, 0, size - 1);
        size_t plan_n = nul ? (size_t)(nul - data - 1) : size - 1;
        char run[300];
        snprintf(run, sizeof run, "%s/run", fuzz_dir());
        mkdir(run, 0755);
        fuzz_file("run/plan.json", data + 1, plan_n);
        if (nul)
            fuzz_file("run/journal.jsonl", nul + 1, size - 1 - plan_n - 1);
        else
            fuzz_file("run/journal.jsonl", NULL, 0);
        static char run_path[300];
        snprintf(run_path, sizeof run_path, "%s", run);
        path = run_path;
    }
    cJSON *doc = NULL;
    char note[512];
    calma_error e = {0};
    if (report_open(path, &doc, note, sizeof note, &e) != CALMA_OK) {
        if (!e.msg[0]) abort();
        return 0;
    }
    render_all(doc);
    cJSON_Delete(doc);
    return 0;
}
