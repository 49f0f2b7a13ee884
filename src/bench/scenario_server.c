/* The server scenario: Poisson arrivals queued FIFO for S streams, one rate
 * step at a fixed --rate, or the --rate auto search over steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "bench/plan.h"
#include "bench/scenario_internal.h"
#include "bench/stats.h"
#include "bench/warnings.h"

#define SCEN_SEARCH_STEPS 7    /* the low step and up to six bisections */
#define SCEN_SEARCH_LOW 16.0   /* the low step runs at capacity / 16 */
#define SCEN_SEARCH_CLOSE 1.05 /* stop when the bracket is this narrow */
#define SCEN_MIN_STEP_REQUESTS 10
#define SCEN_SPIN_S 50e-6     /* the last stretch before an arrival is spun, not slept */
#define SCEN_SERVICE_CALLS 50 /* --rate auto: single-stream calls that give the service time */
#define SCEN_SERVICE_TIME 0.25

/* ---- arrivals ---- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Arrival times of a unit-rate Poisson process: cumulative sums of
 * exponential gaps from the run's seed. A step at rate R uses cum[i] / R,
 * so every conversion, and every step of a search, sees the same pattern
 * of arrivals, only scaled (common random numbers: steps differ by their
 * rate, not by luck). */
static double *unit_arrivals(uint64_t seed, size_t n) {
    double *cum = malloc(n * sizeof *cum);
    if (!cum) return NULL;
    uint64_t s = seed ^ 0x53455256455231ull; /* "SERVER1": apart from the inputs' streams */
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        /* u in (0, 1]: 53 random bits, never 0 */
        double u = ((double)(splitmix64(&s) >> 11) + 1.0) * 0x1.0p-53;
        t += -log(u);
        cum[i] = t;
    }
    return cum;
}

/* ---- a stream serving ---- */

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Sleeps until within the thread's timer slack (the kernel may wake a
 * sleeper that much late) plus SCEN_SPIN_S of t, then spins: arrivals are
 * issued within a few microseconds unless the machine is busy. */
static void wait_until(double t, double slack) {
    double left = t - scen_now();
    if (left > slack + SCEN_SPIN_S) sleep_s(left - slack - SCEN_SPIN_S);
    while (scen_now() < t) {
    }
}

void scen_serve(scen_stream *s) {
    scen_ctx *x = s->x;
    int ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    double slack = ns > 0 ? ns * 1e-9 : 50e-6;
    while (!atomic_load(&x->stop)) {
        size_t i = atomic_fetch_add(&x->next, 1);
        if (i >= x->n_req) break;
        double now = scen_now();
        if (now > x->t0 + x->cutoff) break; /* overloaded: the rest stay unserved */
        double arrival = x->t0 + x->arrival[i];
        int waited = arrival > now;
        if (waited) wait_until(arrival, slack);
        double took;
        if (scen_call(s, &took)) break;
        double end = scen_now();
        x->start[i] = end - took - x->t0;
        x->done[i] = end - x->t0;
        x->waited[i] = (unsigned char)waited;
        atomic_fetch_add(&x->served, 1);
    }
}

/* ---- one rate step ---- */

typedef struct step {
    double rate;
    size_t n_req, served;
    double *lat; /* sorted; +inf for requests never served */
    double *svc; /* time inside run() of each served request */
    double duration, achieved, p99;
    int met; /* -1 without a bound */
    cJSON *json;
} step;

static void step_free(step *r) {
    free(r->lat);
    free(r->svc);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static int cmp_double(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* The step's figures from the per-request times in x. */
static int summarise(scen_ctx *x, step *r, calma_error *e) {
    size_t n = r->n_req = x->n_req;
    r->lat = malloc(n * sizeof *r->lat);
    r->svc = malloc(n * sizeof *r->svc);
    if (!r->lat || !r->svc) return err_set(e, CALMA_E_NOMEM, "out of memory for %zu requests", n);
    double last = 0, sum_lat = 0, sum_wait = 0, sum_svc = 0, sum_late = 0;
    size_t n_late = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x->done[i])) {
            r->lat[i] = INFINITY;
            continue;
        }
        r->lat[i] = x->done[i] - x->arrival[i];
        r->svc[r->served++] = x->done[i] - x->start[i];
        sum_lat += r->lat[i];
        sum_wait += x->start[i] - x->arrival[i];
        sum_svc += x->done[i] - x->start[i];
        last = fmax(last, x->done[i]);
        if (x->waited[i]) sum_late += x->start[i] - x->arrival[i], n_late++;
    }
    qsort(r->lat, n, sizeof *r->lat, cmp_double);
    size_t m = r->served;
    r->duration = m ? last - x->arrival[0] : 0;
    r->achieved = r->duration > 0 ? (double)m / r->duration : 0;
    r->p99 = scen_percentile(r->lat, n, 99);
    cJSON *o = r->json = cJSON_CreateObject();
    if (!o) return err_set(e, CALMA_E_NOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "rate", r->rate);
    cJSON_AddNumberToObject(o, "requests", (double)n);
    cJSON_AddNumberToObject(o, "served", (double)m);
    cJSON_AddNumberToObject(o, "unserved", (double)(n - m));
    cJSON_AddNumberToObject(o, "duration_s", r->duration);
    cJSON_AddNumberToObject(o, "achieved_rate", r->achieved);
    scen_add_quantile(o, "p50", r->lat, n, 0.50);
    scen_add_quantile(o, "p90", r->lat, n, 0.90);
    scen_add_quantile(o, "p99", r->lat, n, 0.99);
    if (m) {
        cJSON_AddNumberToObject(o, "latency_mean", sum_lat / (double)m);
        cJSON_AddNumberToObject(o, "wait_mean", sum_wait / (double)m);
        cJSON_AddNumberToObject(o, "service_mean", sum_svc / (double)m);
    }
    if (r->duration > 0)
        cJSON_AddNumberToObject(o, "utilisation", sum_svc / ((double)x->S * r->duration));
    if (n_late) cJSON_AddNumberToObject(o, "issue_delay_mean", sum_late / (double)n_late);
    r->met = -1;
    if (x->a->bound > 0) {
        r->met = r->p99 <= x->a->bound;
        cJSON_AddBoolToObject(o, "met", r->met);
    }
    return CALMA_OK;
}

/* Serves the first requests of cum (those arriving within budget at rate,
 * at least SCEN_MIN_STEP_REQUESTS) and summarises them into r. */
static int run_step(scen_ctx *x, const double *cum, size_t N, double rate, double budget, step *r,
                    calma_error *e) {
    memset(r, 0, sizeof *r);
    r->rate = rate;
    size_t n = 0;
    while (n < N && cum[n] / rate <= budget) n++;
    if (n < SCEN_MIN_STEP_REQUESTS) n = N < SCEN_MIN_STEP_REQUESTS ? N : SCEN_MIN_STEP_REQUESTS;
    double *arrival = malloc(n * sizeof *arrival);
    x->start = malloc(n * sizeof *x->start);
    x->done = malloc(n * sizeof *x->done);
    x->waited = calloc(n, 1);
    int rc = CALMA_OK;
    if (!arrival || !x->start || !x->done || !x->waited) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory for %zu requests", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        arrival[i] = cum[i] / rate;
        x->start[i] = x->done[i] = NAN;
    }
    x->arrival = arrival;
    x->n_req = n;
    /* An overloaded step drains for one more budget, then gives up: the
     * requests left count as never served (infinitely late). */
    x->cutoff = arrival[n - 1] + budget;
    atomic_store(&x->next, 0);
    atomic_store(&x->served, 0);
    atomic_store(&x->stop, 0);
    scen_run_job(x, SCEN_JOB_SERVE, "measure", NULL);
    rc = scen_stream_failure(x, e);
    if (!rc) rc = summarise(x, r, e);
out:
    free(arrival);
    free(x->start);
    free(x->done);
    free(x->waited);
    x->arrival = x->start = x->done = NULL;
    x->waited = NULL;
    return rc;
}

/* ---- the scenario ---- */

/* --rate auto: the median of single-stream calls on stream 0, the other
 * streams idle. */
static double service_time(scen_ctx *x, calma_error *e) {
    double v[SCEN_SERVICE_CALLS];
    int n = 0;
    double start = scen_now();
    if (x->rep && x->rep->phase) x->rep->phase(x->rep->ctx, "service");
    while (n < SCEN_SERVICE_CALLS && (n < 5 || scen_now() - start < SCEN_SERVICE_TIME)) {
        if (scen_call(&x->st[0], &v[n])) {
            scen_stream_failure(x, e);
            return NAN;
        }
        n++;
    }
    stats_sort(v, (size_t)n);
    return stats_percentile(v, (size_t)n, 50);
}

/* The reported step's figures at the top of the scenario object, its times
 * into out. */
static void report_step(cJSON *obj, step *r, scen_outcome *out) {
    const cJSON *f;
    cJSON_ArrayForEach(f, r->json) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, f->string);
        cJSON_AddItemToObject(obj, f->string, cJSON_Duplicate(f, 1));
    }
    free(out->service);
    free(out->latency);
    out->service = r->svc;
    out->n_service = r->served;
    out->latency = r->lat;
    out->n_latency = r->n_req;
    out->window_s = r->duration;
    r->svc = r->lat = NULL;
}

static void warn_step(scen_ctx *x, const step *r, size_t N, double budget, double capacity,
                      cJSON *w) {
    char b[64];
    if (r->n_req < N)
        warn_add(w, "at %.4g/s only %zu of %zu requests arrive within the step's %.3g s budget%s",
                 r->rate, r->n_req, N, budget,
                 r->n_req < SCEN_P99_MIN_REQUESTS
                     ? ": the p99's 95% interval needs 368 (raise --max-time)"
                     : "");
    if (r->rate >= capacity || r->served < r->n_req)
        warn_add(w,
                 "the offered %.4g/s is at or above what %d stream%s can serve (about %.4g/s at "
                 "the measured service time): the queue grows without bound, so latency grows "
                 "with the length of the run%s",
                 r->rate, x->S, x->S > 1 ? "s" : "", capacity,
                 r->served < r->n_req ? "; some requests were never served" : "");
    if (r->met == 0) {
        snprintf(b, sizeof b, "%.3g ms", r->p99 * 1e3);
        warn_add(w, "the p99 latency %s is over the bound %.3g ms at %.4g/s",
                 isfinite(r->p99) ? b : "(unbounded: requests never served)", x->a->bound * 1e3,
                 r->rate);
    }
}

static int fixed_rate(scen_ctx *x, cJSON *obj, const double *cum, size_t N, double budget,
                      scen_outcome *out, calma_error *e) {
    double capacity = x->S / scen_warm_median(x);
    cJSON_AddNumberToObject(obj, "capacity", capacity);
    step r;
    int rc = run_step(x, cum, N, x->a->rate, budget, &r, e);
    if (!rc) {
        warn_step(x, &r, N, budget, capacity, out->warnings);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(obj, "steps"), cJSON_Duplicate(r.json, 1));
        report_step(obj, &r, out);
        cJSON_AddNumberToObject(obj, "samples_per_s", (double)x->a->batch * r.achieved);
    }
    step_free(&r);
    return rc;
}

/* Bisection on log rate between capacity / 16 and the capacity S / D: the
 * highest step that met the bound is the answer. */
static int search(scen_ctx *x, cJSON *obj, const double *cum, size_t N, double budget,
                  scen_outcome *out, calma_error *e) {
    double D = service_time(x, e);
    if (!(D > 0)) return e->status ? e->status : err_set(e, CALMA_E_INTERNAL, "no service time");
    double capacity = x->S / D, lo = capacity / SCEN_SEARCH_LOW, hi = capacity;
    cJSON_AddNumberToObject(obj, "service_median", D);
    cJSON_AddNumberToObject(obj, "capacity", capacity);
    cJSON *steps = cJSON_AddArrayToObject(obj, "steps");
    int rc = CALMA_OK, any_met = 0, any_missed = 0, k = 0, short_steps = 0;
    size_t fewest = N;
    step best = {0};
    for (double rate = lo; k < SCEN_SEARCH_STEPS; k++) {
        step r;
        rc = run_step(x, cum, N, rate, budget, &r, e);
        if (rc) {
            step_free(&r);
            break;
        }
        short_steps += r.n_req < N;
        fewest = r.n_req < fewest ? r.n_req : fewest;
        cJSON_AddItemToArray(steps, cJSON_Duplicate(r.json, 1));
        if (r.met == 1) {
            any_met = 1;
            lo = rate;
            step_free(&best);
            best = r;
        } else {
            any_missed = 1;
            hi = rate;
            if (!any_met) { /* even the low rate missed: report it */
                best = r;
                break;
            }
            step_free(&r);
        }
        if (hi / lo <= SCEN_SEARCH_CLOSE) break;
        rate = sqrt(lo * hi);
    }
    if (rc) {
        step_free(&best);
        return rc;
    }
    report_step(obj, &best, out);
    cJSON_AddNumberToObject(obj, "search_steps", cJSON_GetArraySize(steps));
    if (any_met) {
        cJSON_AddNumberToObject(obj, "best_rate", lo);
        cJSON_AddNumberToObject(obj, "samples_per_s", (double)x->a->batch * lo);
    } else {
        cJSON_AddNullToObject(obj, "best_rate");
    }
    cJSON *br = cJSON_AddArrayToObject(obj, "bracket");
    cJSON_AddItemToArray(br, cJSON_CreateNumber(any_met ? lo : 0));
    cJSON_AddItemToArray(br, cJSON_CreateNumber(hi));
    cJSON_AddBoolToObject(obj, "bracket_hi_tried", any_missed);
    if (!any_met)
        warn_add(out->warnings,
                 "no rate met the bound: at %.4g/s (1/%g of the capacity %.4g/s) the p99 was "
                 "%.3g ms, over %.3g ms",
                 best.rate, SCEN_SEARCH_LOW, capacity, best.p99 * 1e3, x->a->bound * 1e3);
    else if (!any_missed)
        warn_add(out->warnings,
                 "every rate tried met the bound, up to %.4g/s; the capacity %.4g/s (%d / the "
                 "median service time) was not tried",
                 lo, capacity, x->S);
    if (short_steps)
        warn_add(out->warnings,
                 "%d of %d rate steps served fewer than %zu requests within their %.3g s "
                 "budget (fewest %zu)%s",
                 short_steps, cJSON_GetArraySize(steps), N, budget, fewest,
                 fewest < SCEN_P99_MIN_REQUESTS
                     ? ": the p99's 95% interval needs 368 (raise --max-time)"
                     : "");
    step_free(&best);
    return CALMA_OK;
}

int scen_server(scen_ctx *x, cJSON *obj, scen_outcome *out, calma_error *e) {
    const scen_args *a = x->a;
    size_t N = a->samples > 0 ? (size_t)a->samples : SCEN_DEFAULT_REQUESTS;
    double budget = a->max_time;
    cJSON_AddStringToObject(obj, "rate_mode", a->rate_auto ? "auto" : "fixed");
    cJSON_AddNumberToObject(obj, "requests_per_step", (double)N);
    cJSON_AddNumberToObject(obj, "step_budget_s", budget);
    if (a->bound > 0) cJSON_AddNumberToObject(obj, "latency_bound", a->bound);
    double *cum = unit_arrivals(a->seed, N);
    if (!cum) return err_set(e, CALMA_E_NOMEM, "out of memory for %zu arrivals", N);
    int rc = a->rate_auto ? search(x, obj, cum, N, budget, out, e)
                          : fixed_rate(x, obj, cum, N, budget, out, e);
    free(cum);
    out->stop = "requests served";
    return rc;
}
