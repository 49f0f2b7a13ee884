/* compare_: two runs of the same model, trial by trial. */
#ifndef CALMA_REPORT_COMPARE_H
#define CALMA_REPORT_COMPARE_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"
#include "report/report.h"

typedef struct compare_opts {
    double fail_if_slower; /* fraction (0.05 for 5%); negative: never fail on speed */
    double alpha;          /* significance level of the rank test, default 0.01 */
    report_format format;  /* REPORT_TABLE, REPORT_MD or REPORT_JSON */
} compare_opts;

/* Compares cur against base and writes the verdicts to f. Returns the exit
 * status: 0, or 1 when a trial is significantly slower by more than
 * fail_if_slower, a validation newly fails, or an ok trial now fails.
 * Refuses (CALMA_E_USAGE through e, returned as -1) two reports of
 * different models, naming the difference. */
int compare_reports(const cJSON *base, const cJSON *cur, const compare_opts *o, FILE *f,
                    calma_error *e);

#endif
