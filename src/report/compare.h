/* compare_: two runs of the same model, trial by trial. */
#ifndef CALMA_REPORT_COMPARE_H
#define CALMA_REPORT_COMPARE_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"
#include "report/report.h"

typedef struct compare_opts {
    double fail_if_slower; /* fraction (0.05 for 5%); negative: never fail on speed */
    double alpha;          /* significance level of the test, default 0.01 */
    report_format format;  /* REPORT_TABLE, REPORT_MD or REPORT_JSON */
    double min_effect;     /* smallest change called faster/slower, default 0.02 */
} compare_opts;

#define COMPARE_DEFAULT_MIN_EFFECT 0.02

/* Compares cur against base and writes the verdicts to f. A trial is
 * "slower" (or "faster") only when the change is significant (p < alpha) and
 * the whole interval of the ratio of medians lies beyond 1 + min_effect (or
 * below 1 / (1 + min_effect)); otherwise "same". The p-value comes from a
 * Mann-Whitney rank test on the raw samples when both kept them, else a Welch
 * t-test on the per-process medians when both ran several processes, else
 * the two medians' intervals. Trials in only one report are listed as added
 * or removed. Returns the exit status: 0, or 1 when a slower trial's whole
 * interval lies beyond 1 + fail_if_slower, a validation newly fails, or an ok
 * trial now fails.
 * Refuses (CALMA_E_USAGE through e, returned as -1) two reports of
 * different models, naming the difference. */
int compare_reports(const cJSON *base, const cJSON *cur, const compare_opts *o, FILE *f,
                    calma_error *e);

#endif
