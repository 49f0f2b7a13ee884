#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double stats_percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return 0.0;
    if (p <= 0) return sorted[0];
    if (p >= 100) return sorted[n - 1];
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

/* z with P(|Z| > z) = 1 - conf for a standard normal Z. */
static double upper_z(double conf) {
    if (conf == 0.95) return 1.959963984540054;
    double alpha = (1.0 - conf) / 2.0;
    double a = 0, b = 10; /* inverse of the normal tail by bisection */
    for (int it = 0; it < 100; it++) {
        double m = (a + b) / 2;
        if (0.5 * erfc(m / sqrt(2.0)) > alpha)
            a = m;
        else
            b = m;
    }
    return (a + b) / 2;
}

/* log of the binomial(n, 1/2) probability mass at k. */
static double log_binom_half(size_t n, size_t k) {
    return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) -
           (double)n * log(2.0);
}

void stats_median_ci_ranks(size_t n, double conf, size_t *lo, size_t *hi) {
    *lo = 0;
    *hi = n ? n - 1 : 0;
    if (n < 2) return;
    double alpha = (1.0 - conf) / 2.0;
    /* Largest k with P(B <= k - 1) <= alpha; the interval is the k-th and
     * (n-k+1)-th order statistics (1-based). */
    size_t k = 0;
    if (n <= 5000) {
        double cdf = 0.0;
        for (size_t j = 0; j <= n / 2; j++) {
            cdf += exp(log_binom_half(n, j));
            if (cdf > alpha) break;
            k = j + 1;
        }
    } else { /* normal approximation, accurate to a rank at this size */
        double z = upper_z(conf);
        double kk = floor((double)n / 2.0 - z * sqrt((double)n) / 2.0);
        k = kk < 0 ? 0 : (size_t)kk;
    }
    if (k == 0) return; /* too few samples to reach conf */
    *lo = k - 1;
    *hi = n - k;
}

/* log of the binomial(n, q) probability mass at k. */
static double log_binom(size_t n, size_t k, double q) {
    return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
           (double)k * log(q) + (double)(n - k) * log1p(-q);
}

int stats_quantile_ci_ranks(size_t n, double q, double conf, size_t *lo, size_t *hi) {
    *lo = 0;
    *hi = n ? n - 1 : 0;
    if (n < 2 || !(q > 0 && q < 1)) return 0;
    double alpha = (1.0 - conf) / 2.0;
    /* 1-based: l is the largest rank with P(B < l) <= alpha, u the smallest
     * with P(B < u) >= 1 - alpha, B ~ binomial(n, q) the count of samples
     * below the quantile; then P(X(l) <= x_q < X(u)) >= conf. */
    size_t l = 0, u = n + 1;
    if (n <= 100000) {
        double cdf = 0.0; /* P(B <= j) */
        for (size_t j = 0; j < n && u == n + 1; j++) {
            cdf += exp(log_binom(n, j, q));
            if (cdf <= alpha) l = j + 1;
            if (cdf >= 1 - alpha) u = j + 1;
        }
    } else { /* normal approximation, accurate to a rank at this size */
        double z = upper_z(conf), m = (double)n * q, sd = sqrt((double)n * q * (1 - q));
        double a = floor(m - z * sd), b = ceil(m + z * sd) + 1;
        l = a < 0 ? 0 : (size_t)a;
        u = b > (double)n ? n + 1 : (size_t)b;
    }
    int both = l >= 1 && u <= n;
    if (l >= 1) *lo = l - 1;
    if (u <= n) *hi = u - 1;
    return both;
}

/* Heapsort: in place and without the scratch buffer glibc's qsort (a merge
 * sort) allocates, which would add 8 bytes per sample to the worker's peak
 * memory just to summarise. */
static void sift_down(double *a, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1] > a[child]) child++;
        if (a[root] >= a[child]) return;
        double t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

void stats_sort(double *a, size_t n) {
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        double t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

int stats_summarize_inplace(double *s, size_t n, stats_summary *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    stats_sort(s, n);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += s[i];
    out->mean = sum / (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    out->cv = out->mean > 0 ? out->stddev / out->mean : 0.0;
    out->median = stats_percentile(s, n, 50);
    out->p90 = stats_percentile(s, n, 90);
    out->p95 = stats_percentile(s, n, 95);
    out->p99 = stats_percentile(s, n, 99);
    size_t lo, hi;
    stats_median_ci_ranks(n, 0.95, &lo, &hi);
    out->ci_lo = s[lo];
    out->ci_hi = s[hi];
    out->ci_rel = out->median > 0 ? (out->ci_hi - out->ci_lo) / out->median : 0.0;
    for (size_t i = 0; i < n; i++) s[i] = fabs(s[i] - out->median);
    stats_sort(s, n);
    out->mad = stats_percentile(s, n, 50);
    /* 1.4826 * MAD estimates the standard deviation of normal data. A very
     * steady conversion has a MAD of a few nanoseconds, and then samples 0.2%
     * from the median would count as outliers: no one reads that as noise,
     * so a sample must also be more than 1% from the median. */
    double limit = 3.0 * 1.4826 * out->mad;
    if (limit < 0.01 * out->median) limit = 0.01 * out->median;
    if (out->mad > 0)
        for (size_t i = 0; i < n; i++) out->outliers += s[i] > limit;
    return 0;
}

int stats_summarize(const double *samples, size_t n, stats_summary *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    double *s = malloc(sizeof(double) * n);
    if (!s) return -1;
    memcpy(s, samples, sizeof(double) * n);
    stats_summarize_inplace(s, n, out);
    free(s);
    return 0;
}

stats_rule stats_default_rule(void) {
    stats_rule r = {0};
    r.min_samples = 10;
    r.min_time = 0.5;
    r.max_time = 10.0;
    r.max_samples = 0;
    r.precision = 0.01;
    return r;
}

/* Hoare's selection: the k-th smallest of a[0..n) (a is reordered). */
static double select_kth(double *a, size_t n, size_t k) {
    size_t l = 0, r = n - 1;
    while (l < r) {
        double pivot = a[l + (r - l) / 2];
        size_t i = l, j = r;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j)
            r = j;
        else if (k >= i)
            l = i;
        else
            return a[k];
    }
    return a[k];
}

/* The interval is recomputed about eight times per doubling of n, so its
 * O(n) cost amortises to a constant per sample. */
static int due(size_t n) {
    size_t step = 1;
    while ((step << 4) <= n) step <<= 1;
    return n % step == 0;
}

stats_stop stats_check(const stats_rule *r, double *samples, size_t n, double elapsed) {
    if (r->fixed) return n >= r->fixed ? STATS_STOP_FIXED : STATS_GO_ON;
    if (r->max_samples && n >= r->max_samples) return STATS_STOP_COUNT;
    if (r->max_time > 0 && elapsed >= r->max_time && n >= 1) return STATS_STOP_TIME;
    if (n < r->min_samples || elapsed < r->min_time || n < 2 || !due(n)) return STATS_GO_ON;
    size_t lo, hi;
    stats_median_ci_ranks(n, 0.95, &lo, &hi);
    if (lo == 0 && hi == n - 1 && n < 6) return STATS_GO_ON;
    /* Selection reorders the samples in place: no copy, no allocation. */
    double vlo = select_kth(samples, n, lo);
    double vhi = select_kth(samples, n, hi);
    double med = select_kth(samples, n, n / 2);
    if (med > 0 && (vhi - vlo) / med <= r->precision) return STATS_STOP_PRECISION;
    return STATS_GO_ON;
}

const char *stats_stop_name(stats_stop s) {
    switch (s) {
    case STATS_STOP_FIXED:
        return "fixed count";
    case STATS_STOP_PRECISION:
        return "precision reached";
    case STATS_STOP_TIME:
        return "time budget";
    case STATS_STOP_COUNT:
        return "sample bound";
    default:
        return "running";
    }
}

static double median_of(const double *x, size_t n) {
    double *t = malloc(sizeof(double) * n);
    if (!t) return 0;
    memcpy(t, x, sizeof(double) * n);
    double m = select_kth(t, n, n / 2);
    free(t);
    return m;
}

int stats_warm(const double *samples, size_t n, size_t window, double tol) {
    if (window == 0 || n < 2 * window) return 0;
    double recent = median_of(samples + n - window, window);
    double before = median_of(samples + n - 2 * window, window);
    if (before <= 0) return recent <= 0;
    return fabs(recent - before) / before <= tol;
}

typedef struct ranked {
    double v;
    int from_a;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
    double a = ((const ranked *)x)->v, b = ((const ranked *)y)->v;
    return (a > b) - (a < b);
}

double stats_rank_test(const double *a, size_t na, const double *b, size_t nb, double *auc) {
    if (auc) *auc = 0.5;
    if (na < 2 || nb < 2) return 1.0;
    size_t n = na + nb;
    ranked *r = malloc(sizeof(ranked) * n);
    if (!r) return 1.0;
    for (size_t i = 0; i < na; i++) r[i] = (ranked){a[i], 1};
    for (size_t i = 0; i < nb; i++) r[na + i] = (ranked){b[i], 0};
    qsort(r, n, sizeof(ranked), cmp_ranked);
    double rank_sum_a = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v) j++;
        double avg = ((double)i + (double)j) / 2.0 + 1.0; /* mid-rank, 1-based */
        double t = (double)(j - i + 1);
        tie_term += t * t * t - t;
        for (size_t k = i; k <= j; k++)
            if (r[k].from_a) rank_sum_a += avg;
        i = j + 1;
    }
    free(r);
    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    double u = rank_sum_a - dna * (dna + 1) / 2.0;
    if (auc) *auc = u / (dna * dnb);
    double mean = dna * dnb / 2.0;
    double var = dna * dnb / 12.0 * ((dn + 1) - tie_term / (dn * (dn - 1)));
    if (var <= 0) return 1.0;
    double z = (fabs(u - mean) - 0.5) / sqrt(var); /* continuity correction */
    if (z < 0) z = 0;
    return erfc(z / sqrt(2.0));
}

void stats_ratio_interval(const stats_summary *a, const stats_summary *b, double *ratio, double *lo,
                          double *hi) {
    *ratio = a->median > 0 ? b->median / a->median : 0;
    *lo = a->ci_hi > 0 ? b->ci_lo / a->ci_hi : 0;
    *hi = a->ci_lo > 0 ? b->ci_hi / a->ci_lo : 0;
}

double stats_t975(int df) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                               2.306, 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                               2.120, 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                               2.064, 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    if (df < 1) return INFINITY;
    if (df <= 30) return t[df];
    /* Cornish-Fisher expansion around the normal quantile: within 1e-3 above 30. */
    double z = 1.959963984540054, d = (double)df;
    return z + (z * z * z + z) / (4 * d) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d);
}

static void mean_var(const double *x, int n, double *mean, double *var) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? v / (n - 1) : 0;
}

void stats_process_interval(const double *medians, int k, double *mean, double *lo, double *hi) {
    double m, v;
    mean_var(medians, k, &m, &v);
    double half = k >= 2 ? stats_t975(k - 1) * sqrt(v / k) : 0;
    *mean = m;
    *lo = m - half;
    *hi = m + half;
}

/* Regularised incomplete beta I_x(a, b) by its continued fraction
 * (Lentz's method), for the t distribution's tail. */
static double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
    double lbeta = lgamma(a + b) - lgamma(a) - lgamma(b);
    double front = exp(log(x) * a + log(1 - x) * b + lbeta) / a;
    double f = 1, c = 1, d = 0;
    for (int i = 0; i <= 400; i++) {
        int m = i / 2;
        double num;
        if (i == 0)
            num = 1;
        else if (i % 2 == 0)
            num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
        else
            num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
        d = 1 + num * d;
        if (fabs(d) < 1e-30) d = 1e-30;
        d = 1 / d;
        c = 1 + num / c;
        if (fabs(c) < 1e-30) c = 1e-30;
        double cd = c * d;
        f *= cd;
        if (fabs(1 - cd) < 1e-12) break;
    }
    return front * (f - 1);
}

double stats_welch_test(const double *a, int na, const double *b, int nb) {
    if (na < 2 || nb < 2) return 1.0;
    double ma, va, mb, vb;
    mean_var(a, na, &ma, &va);
    mean_var(b, nb, &mb, &vb);
    double sa = va / na, sb = vb / nb, se2 = sa + sb;
    if (!(se2 > 0)) return ma == mb ? 1.0 : 0.0;
    double t = fabs(ma - mb) / sqrt(se2);
    double df = se2 * se2 / (sa * sa / (na - 1) + sb * sb / (nb - 1));
    /* Two-sided tail of t(df): I_{df/(df+t^2)}(df/2, 1/2). */
    return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

double stats_interval_test(double ma, double lo_a, double hi_a, double mb, double lo_b,
                           double hi_b) {
    double sa = (hi_a - lo_a) / (2 * 1.959963984540054);
    double sb = (hi_b - lo_b) / (2 * 1.959963984540054);
    double se = sqrt(sa * sa + sb * sb);
    if (!(se > 0)) return ma == mb ? 1.0 : 0.0;
    return erfc(fabs(ma - mb) / se / sqrt(2.0));
}
