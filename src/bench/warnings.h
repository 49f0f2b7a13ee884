/* warn_: noise warnings, as the better benchmark tools give them: each says
 * what makes a trial's figures less trustworthy than they look. One place
 * for the worker (one process) and for combine (a trial's processes). */
#ifndef CALMA_BENCH_WARNINGS_H
#define CALMA_BENCH_WARNINGS_H

#include <cjson/cJSON.h>

#include "bench/stats.h"
#include "util/err.h"

typedef struct warn_facts {
    const stats_summary *s;
    double first_s;              /* the first inference, or NAN */
    double load1;                /* 1-minute load average after sampling */
    int cores;                   /* online CPUs */
    const char *governor;        /* CPU frequency governor, or "" */
    double target;               /* --precision */
    int judge_precision;         /* adaptive sampling: say when the target was missed */
    const char *precision_where; /* "at the 5s budget", "over 3 processes" */
    double gflops, fma_peak;     /* 0 when unknown */
} warn_facts;

/* Appends one warning, formatted as printf does, to arr. */
void warn_add(cJSON *arr, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Appends every warning the facts call for to arr. */
void warn_add_all(cJSON *arr, const warn_facts *f);

/* Appends the warning that the worker left strays processes running (its
 * containment killed them), when strays > 0: time they took from the
 * machine may have slowed the trial. */
void warn_add_strays(cJSON *arr, int strays);

#endif
