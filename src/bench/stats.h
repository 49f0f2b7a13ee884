/* stats_: statistics over latency samples (seconds) and the adaptive
 * stopping rule. Pure functions: no I/O, no clocks. */
#ifndef CALMA_BENCH_STATS_H
#define CALMA_BENCH_STATS_H

#include <stddef.h>

typedef struct stats_summary {
    size_t n;
    double min, max, mean, median, stddev, cv; /* cv = stddev / mean */
    double p90, p95, p99;
    double ci_lo, ci_hi; /* 95% distribution-free interval of the median */
    double ci_rel;       /* (ci_hi - ci_lo) / median: the precision reached */
    double mad;          /* median absolute deviation (raw, unscaled) */
    size_t outliers;     /* farther from the median than 3 scaled MADs and than 1% */
} stats_summary;

/* Summarises n samples (any order; not modified). n == 0 gives all zeros. */
int stats_summarize(const double *samples, size_t n, stats_summary *out);
/* The same without a copy: samples is left sorted by distance from the
 * median (its contents are used up). Allocates nothing. */
int stats_summarize_inplace(double *samples, size_t n, stats_summary *out);
/* Ascending, in place, allocating nothing (heapsort). */
void stats_sort(double *a, size_t n);

/* Percentile p in [0, 100] of sorted data, linear interpolation between
 * closest ranks (numpy's default). */
double stats_percentile(const double *sorted, size_t n, double p);

/* Ranks lo < hi (0-based, into sorted data) bounding a distribution-free
 * confidence interval of the median at level conf (e.g. 0.95), from the
 * binomial(n, 1/2) distribution of order statistics. For n too small to
 * reach conf, returns 0 and n-1. */
void stats_median_ci_ranks(size_t n, double conf, size_t *lo, size_t *hi);

/* Ranks lo <= hi (0-based, into sorted data) bounding a distribution-free
 * confidence interval of the q-quantile (0 < q < 1) at level conf, from the
 * binomial(n, q) distribution of order statistics. Returns 1 when both ends
 * exist; 0 when n is too small for one of them (the p99's 95% interval needs
 * n >= 368), which is then 0 or n-1. */
int stats_quantile_ci_ranks(size_t n, double q, double conf, size_t *lo, size_t *hi);

/* When to stop sampling. */
typedef struct stats_rule {
    size_t fixed;       /* --samples N: exactly N samples, ignore the rest; 0 = adaptive */
    size_t min_samples; /* at least this many */
    double min_time;    /* and at least this long (s) */
    double max_time;    /* stop at this budget (s) whatever the precision */
    size_t max_samples; /* hard bound on the count (0 = none) */
    double precision;   /* target ci_rel, e.g. 0.01 */
} stats_rule;

/* Default rule: 10 samples, 0.5 s, 10 s budget, 1% precision. */
stats_rule stats_default_rule(void);

/* Why sampling stopped (or STATS_GO_ON). */
typedef enum stats_stop {
    STATS_GO_ON = 0,
    STATS_STOP_FIXED,     /* the fixed count is reached */
    STATS_STOP_PRECISION, /* the median's interval is within the target */
    STATS_STOP_TIME,      /* the time budget ran out first */
    STATS_STOP_COUNT      /* max_samples reached first */
} stats_stop;

/* Decides after each sample. elapsed is the time spent sampling so far.
 * Checking the interval selects three order statistics in place, so the
 * samples are REORDERED (keep time order elsewhere if it matters); it is done
 * about eight times per doubling of n, which keeps the average cost per
 * sample constant and well under a microsecond. Allocates nothing. */
stats_stop stats_check(const stats_rule *r, double *samples, size_t n, double elapsed);
const char *stats_stop_name(stats_stop s);

/* Warm-up: has latency stopped drifting? True when the median of the last
 * `window` samples is within `tol` (relative) of the median of the window
 * before it. */
int stats_warm(const double *samples, size_t n, size_t window, double tol);

#endif

/* Mann-Whitney U (Wilcoxon rank-sum) test of "a and b come from the same
 * distribution", normal approximation with tie correction. Returns the
 * two-sided p-value; *auc (may be NULL) receives P(a > b) + P(a = b)/2, the
 * common-language effect size (0.5 = no shift). Returns 1.0 when either side
 * has fewer than 2 samples. */
double stats_rank_test(const double *a, size_t na, const double *b, size_t nb, double *auc);

/* A conservative interval of median(b) / median(a) from the two medians'
 * intervals: [b.ci_lo / a.ci_hi, b.ci_hi / a.ci_lo]. */
void stats_ratio_interval(const stats_summary *a, const stats_summary *b, double *ratio, double *lo,
                          double *hi);

/* The 97.5% quantile of Student's t with df degrees of freedom (df >= 1):
 * the half-width factor of a two-sided 95% interval of a mean. */
double stats_t975(int df);

/* A 95% interval of the typical per-process median from k >= 2 per-process
 * medians: their mean +- t(k-1) * sd / sqrt(k). It holds the spread inside
 * each process (each median has its own sampling error) and between them. */
void stats_process_interval(const double *medians, int k, double *mean, double *lo, double *hi);

/* Welch's two-sided t-test of equal means, for per-process medians of two
 * runs (na, nb >= 2). Returns the p-value (1.0 when it cannot be computed). */
double stats_welch_test(const double *a, int na, const double *b, int nb);

/* Two-sided p-value of "the two medians are equal" from each one's 95%
 * interval alone (normal approximation, half-width / 1.96 as the standard
 * error): the test left when neither raw samples nor process medians are
 * kept. */
double stats_interval_test(double ma, double lo_a, double hi_a, double mb, double lo_b,
                           double hi_b);
