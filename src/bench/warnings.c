#include "bench/warnings.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

static void vwarn(cJSON *w, const char *fmt, va_list ap) {
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cJSON_AddItemToArray(w, cJSON_CreateString(msg));
}

static void warn(cJSON *w, const char *fmt, ...) ERR_PRINTF(2, 3);
static void warn(cJSON *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(w, fmt, ap);
    va_end(ap);
}

void warn_add(cJSON *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(w, fmt, ap);
    va_end(ap);
}

void warn_add_all(cJSON *w, const warn_facts *f) {
    const stats_summary *s = f->s;
    if (s->cv > 0.10)
        warn(w, "high variation: CV %.0f%% (a busy machine or an unsteady conversion)",
             s->cv * 100);
    if (s->n >= 20 && (double)s->outliers > 0.02 * (double)s->n)
        warn(w, "%zu of %zu samples are outliers (beyond 3 MADs and 1%% of the median)",
             s->outliers, s->n);
    if (isfinite(f->first_s) && s->median > 0 && f->first_s > 10 * s->median)
        warn(w, "slow first run: %.0fx the median (cold caches, lazy initialisation)",
             f->first_s / s->median);
    if (s->median > 0 && s->median < 1e-6)
        warn(w,
             "median %.0f ns is near the timer's resolution and call overhead; give each "
             "sample more work (a larger batch)",
             s->median * 1e9);
    if (f->cores > 0 && f->load1 > 0.75 * f->cores + 1)
        warn(w, "machine busy: load average %.1f on %d CPUs", f->load1, f->cores);
    if (f->governor && f->governor[0] && strcmp(f->governor, "performance"))
        warn(w, "CPU frequency governor is '%s': clock speed may vary between samples",
             f->governor);
    if (f->judge_precision && s->ci_rel > f->target)
        warn(w, "precision not reached: the median's interval is %.1f%% wide %s (target %.1f%%)",
             s->ci_rel * 100, f->precision_where, f->target * 100);
    /* Above the physical limit, the conversion cannot have done the graph's
     * arithmetic: it skipped or simplified work. */
    if (f->fma_peak > 0 && f->gflops > 1.05 * f->fma_peak)
        warn(w,
             "%.3g GFLOP/s is %.0f%% of the measured peak: the conversion does less arithmetic "
             "than the graph describes",
             f->gflops, 100 * f->gflops / f->fma_peak);
}

void warn_add_strays(cJSON *arr, int strays) {
    if (strays <= 0) return;
    char msg[160];
    snprintf(msg, sizeof msg,
             "the worker left %d process%s running; %s killed when it ended (they may have taken "
             "time from the trial)",
             strays, strays == 1 ? "" : "es", strays == 1 ? "it was" : "they were");
    cJSON_AddItemToArray(arr, cJSON_CreateString(msg));
}
